# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (overlap-tile)=
# # Fig. 2: overlap-tile strategy and mirror extrapolation
#
# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/02_overlap_tile.ipynb)
#
# **Claim (Sec. 2, Fig. 2 of {cite}`ronneberger2015unet`).** "The segmentation map only contains the
# pixels, for which the full context is available in the input image. This strategy allows the seamless
# segmentation of arbitrarily large images by an overlap-tile strategy (see Figure 2). To predict the
# pixels in the border region of the image, the missing context is extrapolated by mirroring the input
# image. This tiling strategy is important to apply the network to large images, since otherwise the
# resolution would be limited by the GPU memory." Fig. 2: "Overlap-tile strategy for seamless
# segmentation of arbitrary large images (here segmentation of neuronal structures in EM stacks).
# Prediction of the segmentation in the yellow area, requires image data within the blue area as input.
# Missing input data is extrapolated by mirroring."
#
# We draw the paper's Fig. 2 on a real ISBI 2012 slice ({numref}`fig-overlap-tile`) and then check the word
# *seamless*: the tiled prediction of an (untrained, He-initialised) network must equal one forward pass
# over the whole mirror-padded image. It does, to float precision, but only when the tiles sit on the
# network's pooling grid; a network with zero-padded ("same") convolutions shows seams unless its tiles
# get more context than 92 px.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": base_channels=4, 316 px tiles; "cpu": 32 channels, 252 px tiles; "full": the paper's 64
DEVICE = "auto"
SEED = 0
DATA_DIR = None  # None -> unet_core.data.paths.default_data_dir() ($UNET_DATA_DIR or ./data)

# %% tags=["colab", "remove-cell"]
# Colab only (skipped elsewhere): clone the repository, install it with the `colab` extra (the package,
# data_scripts and what this chapter imports), download and verify the data the chapter needs, and
# choose the scale: COLAB_SCALE = "auto" runs `cpu` (minutes, on the GPU if any); "full" (hours) only when set.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    REPO, BRANCH = "https://github.com/unet-reproduced/unet-reproduced", "main"  # _config.yml (build.py --sync)
    COLAB_SCALE, DATASETS = "auto", ["isbi2012"]  # = book/manifest.py
    CLONE = "/content/" + REPO.rstrip("/").rsplit("/", 1)[-1]
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", BRANCH, REPO, CLONE], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{CLONE}[colab]"], check=True)
    os.chdir(f"{CLONE}/book")
    from data_scripts.colab import setup

    SCALE, DEVICE = setup(COLAB_SCALE, DATASETS, data_dir=f"{CLONE}/data")

# %%
import inspect
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.colors import LogNorm
from matplotlib.patches import Rectangle

import unet_core as uc
from unet_core.book import figures, viz
from unet_core.book.samples import em_slice
from unet_core.inference.tiling import tta_probs
from unet_core.utils import check_cap

T0 = time.perf_counter()  # the budget recorded with the results: wall time of the whole chapter
WIDTH = {"smoke": 4, "cpu": 32, "full": 64}[SCALE]  # base_channels; 64 is the paper's network
SAME_OUT = {"smoke": 256, "cpu": 128, "full": 128}[SCALE]  # kept side of the "same" network's overlap-tiles
SMALL_TILE = {"smoke": 316, "cpu": 252, "full": 252}[SCALE]  # input side of the "many small tiles" run
PAPER_TILE = 572  # Fig. 1/2: 572 x 572 input tile, 388 x 388 output
device = viz.resolve_device(DEVICE)
data_dir = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
NET = f"untrained UNet(base_channels={WIDTH}) on {viz.device_name(DEVICE)}"  # what produced the numbers below
print(f"scale={SCALE}: base_channels={WIDTH}, small tiles {SMALL_TILE} px, device={viz.device_name(DEVICE)}")
viz.check_cap_notice()  # only under $UNET_CHECK_CAP: says that this run is a capped check, not a result

# %% [markdown]
# ## The data
#
# Slice 0 of the ISBI 2012 training stack {cite}`arganda2015crowdsourcing` (512 x 512 px, serial-section
# EM of the *Drosophila* ventral nerve cord, the data of the paper's Fig. 2), standardised with `uc.normalize_image`
# as for training. Without the converted data the smoke run uses `uc.synthetic_em`, and every figure says
# **SYNTHETIC**.

# %%
raw, source = em_slice(data_dir, allow_synthetic=SCALE == "smoke", seed=SEED)  # ISBI 2012 training slice 0
synthetic = source.startswith("SYNTHETIC")
tag = " - SYNTHETIC" if synthetic else ""
image = check_cap.capped_image(uc.normalize_image(raw))  # (512, 512) float32, zero mean, unit std ($UNET_CHECK_CAP: a crop)
H, W = image.shape
print(f"{source}: {image.shape}")

# %% [markdown]
# ## Method
#
# The valid network maps an input tile of side $t$ to an output of side $t - 2b$ with the border
# $b = 92$ ({ref}`the architecture chapter <architecture>`: $572 - 2\cdot 92 = 388$). To predict every
# pixel of an $H \times W$ image, the image is extended by $b$ pixels on each side by mirroring,
# $\tilde I(y, x) = I(r_H(y), r_W(x))$ with
#
# $$ r_n(i) = \begin{cases} -i & i < 0 \\ i & 0 \le i < n \\ 2(n-1) - i & i \ge n \end{cases} $$
#
# (the edge pixel is not repeated; `uc.mirror_pad`, valid for $-n < i < 2n - 1$; wider pads reflect again),
# and output tiles of side $o = t - 2b$ are predicted from input tiles of side $t$ that overlap by $2b$.
# Unlike the sliding-window network of {cite}`ciresan2012deep`, which classifies each pixel from its own
# patch in a separate pass, one pass predicts a whole output tile.
#
# *Seamless* is a precise statement: every output pixel depends only on input pixels near it (about
# $b$ px on each side; the exact extent depends on its position relative to the pooling windows), **and
# on where the 2x2 max-poolings put their window boundaries**. After four
# poolings the network is equivariant only to shifts by multiples of its stride $s = 2^4 = 16$. A tile
# whose origin (in the coordinates of the padded image) is a multiple of 16 sees exactly the pooling grid
# of one pass over the whole padded image, so its output equals that pass; a tile shifted by, say, 4 px
# pools different pixel quadruples and computes a different function. `uc.predict_tiled` therefore
# places output tiles at multiples of 16 with step $16\lfloor o/16 \rfloor$ (384 for the paper's 388)
# and lets them overlap a little ({numref}`fig-overlap-tile`). The paper states the condition on the tile's
# *size* (end of Sec. 2): "To allow a seamless tiling of the output segmentation map (see Figure 2), it is
# important to select the input tile size such that all 2x2 max-pooling operations are applied to a layer
# with an even x- and y-size." Below, that condition turns out necessary but not sufficient: the tile's
# *position* matters too.

# %%
border = uc.UNet().border  # 92
padded = uc.mirror_pad(image, border)  # (H + 184, W + 184)
out_paper = PAPER_TILE - 2 * border  # 388
origins = uc.tile_origins(H, out_paper, 16)  # the paper's tiles on the stride-16 grid of predict_tiled
out_small = SMALL_TILE - 2 * border
small_origins = uc.tile_origins(H, out_small, 16)
print(f"border b = {border} px; {PAPER_TILE} tiles: output origins {origins}; "
      f"{SMALL_TILE} tiles: {len(small_origins)}^2 with output origins {small_origins}")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The paper's Fig. 2 on an ISBI 2012 slice: the image mirror-extended by the 92 px border (left, red: the image), the paper's 572 px input tiles (blue) with their 388 px outputs (yellow) placed on the stride-16 grid of `uc.predict_tiled` (middle), and the many small tiles of the proof below (right, one input tile in blue).", "name": "fig-overlap-tile"}, "image": {"alt": "Three gray EM images. Left: the slice surrounded by a mirrored frame, the original outlined in red. Middle: four overlapping blue input squares, each with a smaller yellow output square inside, the first drawn solid. Right: a grid of small yellow output squares covering the slice, one blue input square around one of them."}}
fig, axes = plt.subplots(1, 3, figsize=(7.5, 3.1))
ax = axes[0]
ax.imshow(padded, cmap="gray")
ax.add_patch(Rectangle((border - 0.5, border - 0.5), W, H, fill=False, ec="red", lw=1.5))
ax.set_title(f"mirror-extended by {border} px\n(red: the image)", fontsize=8)

ax = axes[1]
ax.imshow(uc.mirror_pad(image, ((border, origins[-1] + PAPER_TILE - border - H),
                                (border, origins[-1] + PAPER_TILE - border - W))), cmap="gray")
ax.add_patch(Rectangle((border - 0.5, border - 0.5), W, H, fill=False, ec="red", lw=1, ls=":"))
for i, y in enumerate(origins):
    for j, x in enumerate(origins):
        first = i == j == 0
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), PAPER_TILE, PAPER_TILE, fill=False, ec="tab:blue",
                               lw=2.0 if first else 0.8, ls="-" if first else "--"))
        ax.add_patch(Rectangle((x + border - 0.5, y + border - 0.5), out_paper, out_paper, fill=False,
                               ec="gold", lw=2.0 if first else 0.8, ls="-" if first else "--"))
ax.set_title(f"{len(origins)**2} tiles: {PAPER_TILE} in, {out_paper} out\n"
             f"output origins {origins}", fontsize=8)

ax = axes[2]
ax.imshow(padded, cmap="gray")
for y in small_origins:
    for x in small_origins:
        ax.add_patch(Rectangle((x + border - 0.5, y + border - 0.5), out_small, out_small, fill=False,
                               ec="gold", lw=0.8))
y0 = x0 = small_origins[1]
ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), SMALL_TILE, SMALL_TILE, fill=False, ec="tab:blue", lw=2))
ax.add_patch(Rectangle((x0 + border - 0.5, y0 + border - 0.5), out_small, out_small, fc="gold", alpha=0.5))
ax.set_title(f"{len(small_origins)**2} small tiles:\n{SMALL_TILE} in, {out_small} out", fontsize=8)
for ax in axes:
    ax.axis("off")
fig.suptitle(f"{source}{tag}", fontsize=9)
fig.tight_layout(rect=(0, 0, 1, 0.95))
plt.show()

# %% [markdown]
# ## Proof: tiled = one pass over the whole image
#
# The reference is a single forward pass over the whole mirror-padded image. A valid input side must be
# $16k + 12$ ({ref}`architecture`); the smallest one $\ge 512 + 184 = 696$ is 700, so we pad 92 px before
# and 96 px after each axis and keep the first $512$ output rows and columns. The tiled prediction is
# `uc.predict_tiled` with small tiles (many of them). We compare the two-class logit margin
# $z_1 - z_0 = \log p_1 - \log p_0$ (the quantity the argmax thresholds at 0) in logits. The network is
# untrained (He initialisation {cite}`he2015delving`, see {ref}`initialisation`): the identity is a
# property of the architecture, not of the weights.

# %%
def margin(z):
    """(2, H, W) logits, or log-probabilities -> (H, W) logit margin z1 - z0 (the argmax thresholds it at 0)."""
    return z[1] - z[0]


def whole_image_logits(net, img, pad_before):
    """One forward pass over img mirror-padded to the smallest valid size; (2, H, W) logits of img."""
    h, w = img.shape
    side = [net.input_size_for_output(n + 2 * pad_before - 2 * net.border) if net.border else
            -(-(n + 2 * pad_before) // net.stride) * net.stride for n in (h, w)]
    big = uc.mirror_pad(img, ((pad_before, side[0] - h - pad_before), (pad_before, side[1] - w - pad_before)))
    with torch.inference_mode():
        z = net.eval()(torch.from_numpy(np.ascontiguousarray(big))[None, None].to(device))[0]  # (2, sh', sw')
    off = pad_before - net.border  # 0 for the valid net, pad_before for "same"
    return z[:, off:off + h, off:off + w].float().cpu().numpy()


torch.manual_seed(SEED)
valid_net = uc.UNet(base_channels=WIDTH).to(device).eval()  # He initialisation (Sec. 3), untrained
start = time.perf_counter()
whole = margin(whole_image_logits(valid_net, image, border))
t_whole = time.perf_counter() - start
start = time.perf_counter()
tiled_probs = uc.predict_tiled(valid_net, image, tile_size=SMALL_TILE, device=device)  # (2, H, W)
t_tiled = time.perf_counter() - start
tiled = margin(np.log(tiled_probs))
diff_aligned = np.abs(tiled - whole)
print(f"{NET}, scale={SCALE}, {source}:")
print(f"  logit margin range {whole.min():.2f} .. {whole.max():.2f}")
print(f"  whole image (one {image.shape[0] + 188}^2 pass): {t_whole:.2f} s; "
      f"tiled ({len(small_origins)**2} tiles of {SMALL_TILE}^2): {t_tiled:.2f} s")
print(f"  max |tiled - whole| = {diff_aligned.max():.2e} logits; "
      f"max |probability difference| = {np.abs(tiled_probs[1] - 1 / (1 + np.exp(-whole))).max():.2e}")
assert diff_aligned.max() < 1e-3, "tiles on the stride grid must reproduce the whole-image pass"

# %% [markdown]
# **Slide the grid.** The same tiles against one pass whose pooling grid is shifted by $d$ px (the image
# mirror-padded by $92 + d$ px before it): only shifts by a multiple of 16 leave the prediction unchanged.

# %% tags=["hide-input"]
shifted = {d: np.abs(tiled - margin(whole_image_logits(valid_net, image, border + d))) for d in (0, 4, 8, 12, 16)}


def render_shift(d):
    fig, ax = plt.subplots(figsize=(3.4, 3.5))
    ax.imshow(shifted[d] + 1e-7, cmap="magma", norm=LogNorm(vmin=1e-6, vmax=30))
    ax.set_title(f"grid shifted by {d} px:\nmax |tiled - one pass| = {shifted[d].max():.1e} logits", fontsize=8)
    ax.axis("off")
    return fig


viz.parameter_slider(render_shift, {"d": list(shifted)}, title=f"Tiles against a pass on a shifted grid{tag}")

# %% [markdown]
# ## Counter-example: tiles every 388 px
#
# Now the naive tiling: output tiles that abut at multiples of the output side $o$ (388 = 24 x 16 + 4 for the
# paper's 572 tile: the tile at 388 is 4 px off the pooling grid, one at 776 8 px). `predict_tiled` does not
# offer this placement, so plain forward passes on mirror-extended crops do it here (demonstration code);
# the same helper with the origins of `uc.tile_origins` reproduces the proof above, a check on the helper.

# %%
def tiled_logits_at(net, img, tile, origins):
    """Logits of output tiles at the given origins (both axes), later tiles overwriting earlier ones."""
    out = tile - 2 * net.border
    end = max(origins) + out
    h, w = img.shape
    big = uc.mirror_pad(img, ((net.border, net.border + end - h), (net.border, net.border + end - w)))
    z = np.zeros((net.num_classes, end, end), np.float32)
    with torch.inference_mode():
        for y in origins:
            for x in origins:
                crop = torch.from_numpy(np.ascontiguousarray(big[y:y + tile, x:x + tile]))[None, None].to(device)
                z[:, y:y + out, x:x + out] = net(crop)[0].float().cpu().numpy()  # (2, out, out)
    return z[:, :img.shape[0], :img.shape[1]]


naive = {}
print(f"{NET}, scale={SCALE}:")
for tile in dict.fromkeys([PAPER_TILE, SMALL_TILE]):
    out = tile - 2 * border
    steps = list(range(0, H, out))  # multiples of the output side
    naive[tile] = (steps, margin(tiled_logits_at(valid_net, image, tile, steps)))
    print(f"  tiles of {tile} at multiples of {out}: origins {steps}, "
          f"max |naive - whole| = {np.abs(naive[tile][1] - whole).max():.2f} logits")
check = margin(tiled_logits_at(valid_net, image, PAPER_TILE, origins))
print(f"  the same helper on the stride grid {origins}: max |difference| = {np.abs(check - whole).max():.2e} logits")
diff_naive = np.abs(naive[PAPER_TILE][1] - whole)
diff_naive_small = np.abs(naive[SMALL_TILE][1] - whole)

# %% [markdown]
# ## The padded network: seams at the tile edges
#
# Many re-implementations use zero-padded 3x3 convolutions (`UNet(padding="same")`: output side = input
# side). Every convolution then sees zeros beyond the tile edge, so the prediction near a tile edge
# depends on where the tile is cut. We compare the whole-image pass with (a) tiles of 128 px without
# overlap, each zero-padded at its edges (`predict_tiled(..., margin=0)`), and (b) overlap-tiles whose
# outer `margin` pixels of (mirrored) context are cropped away, against one pass over the image
# mirror-padded by the same margin: 92 px (the valid network's border) and 100 px (`predict_tiled`'s
# default for a "same" network: the valid border plus half the stride).

# %%
def same_tile_for(m, out=SAME_OUT):
    """Smallest input side (a multiple of 16) with at least `out` px left after cropping `m` px per side."""
    return -(-(out + 2 * m) // 16) * 16


torch.manual_seed(SEED)
same_net = uc.UNet(base_channels=WIDTH, padding="same").to(device).eval()
same_whole = margin(whole_image_logits(same_net, image, 0))  # zero padding at the image edge
same_nomargin = margin(np.log(uc.predict_tiled(same_net, image, tile_size=128, margin=0, device=device)))
diff_same_nomargin = np.abs(same_nomargin - same_whole)
print(f"untrained UNet(base_channels={WIDTH}, padding='same') on {viz.device_name(DEVICE)}, scale={SCALE}:")
print(f"  tiles of 128, no overlap (zero-padded tile edges):   "
      f"max {diff_same_nomargin.max():6.2f}, mean {diff_same_nomargin.mean():.3f} logits")
diff_same = {}
for m in (92, 100):
    ref = margin(whole_image_logits(same_net, image, m))
    tiled_m = margin(np.log(uc.predict_tiled(same_net, image, tile_size=same_tile_for(m), margin=m, device=device)))
    diff_same[m] = np.abs(tiled_m - ref)
    if m == 92:
        same_whole_mirror = ref
    print(f"  overlap-tiles of {same_tile_for(m)}, {m} px context cropped: "
          f"max {diff_same[m].max():9.2e}, mean {diff_same[m].mean():.1e} logits")
diff_same_overlap = diff_same[92]
same_tile = same_tile_for(92)
diff_same_edge = np.abs(same_whole - same_whole_mirror)  # zero vs mirror padding of the whole image
print(f"  whole image, zero vs 92 px mirror padding:          "
      f"max {diff_same_edge.max():6.2f}, mean {diff_same_edge.mean():.3f} logits")

# %% [markdown]
# ## Result: the difference maps
#
# {numref}`fig-tiled-diff` shows where tiled and whole-image predictions differ, on one logarithmic
# colour scale (float rounding near $10^{-6}$ and seams of several logits side by side).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Absolute difference between tiled and whole-image prediction (logit margin, logarithmic colour scale) of an untrained network on the ISBI slice. Top: the valid network with `predict_tiled`'s tiles on the 16 px pooling grid (float rounding only), with the paper's 572 px tiles abutting every 388 px, and with small tiles abutting every output side. Bottom: the zero-padded ('same') network without overlap, and with overlap-tiles that crop 92 px or 100 px of mirrored context. Each panel's title gives its maximum.", "name": "fig-tiled-diff"}, "image": {"alt": "Six difference maps in two rows. The first map is uniformly dark (differences near 1e-6). The two off-grid valid-network maps are bright in every tile except the ones whose origin lies on the 16 px grid. The 'same' network without overlap is bright everywhere, brightest along the tile edges; with 92 px of context only thin lines along the seams remain; with 100 px the map is dark."}}
panels = [
    (diff_aligned, f"valid, predict_tiled:\n{len(small_origins)**2} tiles of {SMALL_TILE}, 16-grid"),
    (diff_naive, f"valid, tiles of {PAPER_TILE}\nevery {out_paper} px"),
    (diff_naive_small, f"valid, tiles of {SMALL_TILE}\nevery {out_small} px"),
    (diff_same_nomargin, "'same', tiles of 128\nno overlap"),
    (diff_same_overlap, f"'same', tiles of {same_tile}\n92 px context cropped"),
    (diff_same[100], f"'same', tiles of {same_tile_for(100)}\n100 px context cropped"),
]
vmax = max(float(d.max()) for d, _ in panels)
norm = LogNorm(vmin=1e-6, vmax=vmax)  # logarithmic: float rounding (1e-5) and seams (logits) in one scale
fig, axes = plt.subplots(2, 3, figsize=(7.5, 5.6))
for ax, (d, title) in zip(axes.flat, panels):
    im = ax.imshow(np.maximum(d, 1e-6), cmap="magma", norm=norm)
    ax.set_title(f"{title}\nmax {d.max():.2g} logits", fontsize=7.5)
    ax.axis("off")
fig.colorbar(im, ax=axes, shrink=0.8, label="|tiled - whole image|, logit margin")
fig.suptitle(f"Untrained U-Net, base_channels={WIDTH}, {source}{tag}", fontsize=9)
plt.show()

# %% [markdown]
# {numref}`fig-same-seams` shows the padded network on a linear scale (top-left quarter, the
# whole-image prediction for scale): without overlap the error is largest along the tile edges but
# present everywhere, since the deepest layers of a 128 px tile (8 x 8 px at the bottleneck) are all near
# a zero-padded edge; with mirrored context what is left sits on the seams between the overlap-tiles.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The zero-padded ('same') network, top-left quarter of the slice, linear colour scales: its whole-image logit margin (left), and the absolute difference of the tiled prediction without overlap (middle) and with overlap-tiles that crop 92 px of mirrored context (right).", "name": "fig-same-seams"}, "image": {"alt": "Three square maps. Left: a red and blue map of the network's logit margin. Middle: a speckled difference map, brighter along the 128 px tile edges. Right: an almost black difference map, with at most faint lines where the overlap-tiles meet."}}
q = slice(0, H // 2), slice(0, W // 2)
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
lim = float(np.abs(same_whole_mirror).max())
axes[0].imshow(same_whole_mirror[q], cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[0].set_title(f"whole image: z1 - z0\n(range +-{lim:.0f} logits)", fontsize=8)
for ax, d, title in ((axes[1], diff_same_nomargin, "tiles of 128,\nno overlap"),
                     (axes[2], diff_same_overlap, f"overlap-tiles of {same_tile},\nmirrored context")):
    im = ax.imshow(d[q], cmap="magma", vmin=0, vmax=float(d.max()))
    ax.set_title(f"|difference|, {title}\n(0 .. {d.max():.2g} logits)", fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.75)
for ax in axes:
    ax.axis("off")
fig.suptitle(f"'same' network, base_channels={WIDTH}, {source}{tag}", fontsize=9)
fig.tight_layout(rect=(0, 0, 1, 0.93))
plt.show()

# %% [markdown]
# ## Result beside the paper
#
# The paper's claim is one word, *seamless*: the first row. The other rows are our counter-examples.
# The comparison shows a `cpu` or `full` run (this one, or at smoke scale the recorded one, named in the
# line under the table); a smoke run's own numbers follow under their label.

# %%
result = {
    "max |tiled - whole|, stride-16 tiles [logits]": float(diff_aligned.max()),
    f"max |tiled - whole|, {PAPER_TILE} tiles every {out_paper} px [logits]": float(diff_naive.max()),
    "max |tiled - whole|, small tiles every output side (off-grid) [logits]": float(diff_naive_small.max()),
    "small tile side (input px)": SMALL_TILE,
    "'same' net, no-overlap 128 tiles: max |diff| [logits]": float(diff_same_nomargin.max()),
    "'same' net, overlap-tiles, 92 px margin: max |diff| [logits]": float(diff_same[92].max()),
    "'same' net, overlap-tiles, 100 px margin: max |diff| [logits]": float(diff_same[100].max()),
    "range of the logit margin": [float(whole.min()), float(whole.max())],
    "tiles (stride-16 run)": len(small_origins) ** 2,
    "network": f"UNet(base_channels={WIDTH}), He init, untrained",
    "input": source,
}
published = {"max |tiled - whole|, stride-16 tiles [logits]": "0 (\"seamless\")"}
recorded = viz.record_results("02_overlap_tile", result, scale=SCALE, device=DEVICE, published=published,
                              notes=f"untrained He-initialised network, base_channels={WIDTH}; input: {source}",
                              budget=f"{time.perf_counter() - T0:.0f} s wall time (forward passes only, no training)")
this_run = viz.load_results(recorded.parent)["02_overlap_tile"]["runs"][SCALE]


for block in figures.paper_comparison("02_overlap_tile", published, scale=SCALE, this_run=this_run, result=result,
                                      paper="Fig. 2"):
    display(Markdown(block))

# %% [markdown]
# ## Test-time augmentation
#
# For Table 1 the paper's prediction was "averaged over 7 rotated versions of the input data" (Sec. 4).
# `uc.predict_tiled(..., tta=True)` averages each tile's softmax over the 8 symmetries of the square
# (4 rotations, each with and without a mirror), every output turned back before it is added:

# %%
print(inspect.getsource(tta_probs).split('"""')[-1].strip("\n"))

# %% [markdown]
# This is valid because neither an EM slice nor a cell culture has a preferred orientation, and training
# already shows the network every tile in these 8 poses (flips and 90-degree rotations are part of the
# augmentation). Averaging removes what a single pose gets wrong by chance, at 8 times the cost of a pass;
# {ref}`the ISBI 2012 chapter <isbi2012>` measures the gain seed by seed (the same networks with and without).
#
# ## What differs, and why
#
# * **Seamless, exactly**: tiles whose output origins are multiples of 16 in the padded image reproduce
#   one pass over the whole mirror-padded image to float rounding (the first row of the table), with any
#   number of tiles. This is what makes the overlap-tile strategy an exact method rather than an
#   approximation, and it is why `uc.predict_tiled` steps by 384, not 388, for the paper's tile.
# * **The paper's rule is necessary, not sufficient.** Every tile here has a size the paper's rule allows
#   (572 px, and the smaller valid sizes of the other scales: even before every pooling), yet tiles that abut every 388 px (or every output side $o$
#   that is not a multiple of 16) pool different pixel quadruples than their neighbours. For an
#   untrained network the logits then change by several units inside every off-grid tile (rows 2 and 3 of
#   the table, and {numref}`fig-tiled-diff`: the tiles whose origin happens to be a multiple of 16, such as
#   the first one, agree; all the others do not; with the 68 px steps of the cpu scale the one at
#   272 = 17 x 16 agrees too). A trained network may differ less (not measured here), but its prediction
#   still depends on the tiling, and the argmax can flip near the decision boundary.
# * **Zero padding needs a wider margin**: with "same" convolutions every tile edge is an artificial
#   image border. Without overlap the seams are plain, and since the deepest layers of a small tile are
#   all close to an edge the error is everywhere. Cropping 92 px of context leaves a small residual on the
#   seams (the 92 px row of the table, {numref}`fig-same-seams`): the padded network's output depends on
#   a few pixels more than 92 on one side (its receptive field sits differently on the pooling grid than
#   the valid network's, whose 92 px are exact by construction). With a 100 px margin (`predict_tiled`'s
#   default for "same" models) the tiles are again exact to float rounding.
#   The padded network thus tiles seamlessly too, but only by computing, and then discarding, a border
#   at least as wide as the one the valid network never computes; the valid network makes the context
#   explicit, which is the paper's point.
# * **Untrained network**: the identities above are properties of the architecture, so an untrained
#   (He-initialised) network shows them; the smoke run uses a narrow one (4 channels on the first level),
#   `SCALE="cpu"` 32 and `SCALE="full"` the paper's 64. The trained networks of the {ref}`ISBI 2012 <isbi2012>` and
#   {ref}`cell-tracking <cell-tracking>` chapters predict with `uc.predict_tiled` in the same way.

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
# (elastic)=
# # Sec. 3.1: elastic deformation and data augmentation
#
# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/04_elastic.ipynb)
#
# **Claim (Sec. 3.1 of {cite}`ronneberger2015unet`).** "Data augmentation is essential to teach the
# network the desired invariance and robustness properties, when only few training samples are available.
# In case of microscopical images we primarily need shift and rotation invariance as well as robustness to
# deformations and gray value variations. Especially random elastic deformations of the training samples
# seem to be the key concept to train a segmentation network with very few annotated images. We generate
# smooth deformations using random displacement vectors on a coarse 3 by 3 grid. The displacements are
# sampled from a Gaussian distribution with 10 pixels standard deviation. Per-pixel displacements are then
# computed using bicubic interpolation. Drop-out layers at the end of the contracting path perform further
# implicit data augmentation."
#
# Below: the coarse grid and the per-pixel field it defines ({numref}`fig-elastic-field`), an ISBI 2012
# slice deformed together with its labels and weight map (one field for all three,
# {numref}`fig-elastic-one-field`), the strength and grid size explored with a slider, and the other
# augmentations of `unet_core.augment.tiles` ({numref}`fig-augmentations`).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": alignment checked on 1 slice; "cpu"/"full": on the 25 slices of the ISBI training split
DEVICE = "auto"  # unused: the numpy back-end is shown (unet_core.augment.elastic_torch is the batched GPU one)
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
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from skimage.segmentation import find_boundaries

import unet_core as uc
from unet_core.book import figures, viz
from unet_core.utils import check_cap

T0 = time.perf_counter()  # the budget recorded with the results: wall time of the whole chapter
GRID, STD = 3, 10.0  # the paper's constants (also unet_core's defaults)
CPU = viz.device_name("cpu")  # the numpy back-end runs on the CPU: the timings below are of this CPU
data_dir = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
rng = np.random.default_rng(SEED)
print(f"scale={SCALE}, deformations on {CPU}, data from {data_dir.resolve()}")
viz.check_cap_notice()  # only under $UNET_CHECK_CAP: says that this run is a capped check, not a result

# %% [markdown]
# ## The data
#
# An ISBI 2012 training slice {cite}`arganda2015crowdsourcing` (serial-section EM of the *Drosophila*
# ventral nerve cord, 512 x 512) with its labels (1 = cell, 0 = membrane). If the converted data is
# missing, the smoke run uses `uc.synthetic_em` instead and every figure says **SYNTHETIC**.

# %%
try:
    isbi = uc.load_isbi2012(data_dir)
    stack_images, stack_labels = isbi.subset("train")  # (25, 512, 512) uint8 each
    source = "ISBI 2012 training slice 0"
except FileNotFoundError as err:
    if SCALE != "smoke":
        raise
    print(f"real data unavailable ({err.__class__.__name__}); using a SYNTHETIC EM-like image")
    img, lbl, _ = uc.synthetic_em((256, 256), seed=SEED)
    stack_images, stack_labels = (img * 255).astype(np.uint8)[None], lbl[None]
    source = "SYNTHETIC EM-like image (unet_core.synthetic_em)"
synthetic = source.startswith("SYNTHETIC")
tag = " (SYNTHETIC)" if synthetic else ""
image, labels = stack_images[0], stack_labels[0]  # (H, W) uint8, (H, W) uint8 1 = cell
shape = image.shape
instances = uc.instances_from_labels(labels)  # (H, W) int32 cells 1..N
weights = uc.weight_map(instances)  # (H, W) float32, Eq. 2
print(f"{source}: {shape}, {int(instances.max())} cells, {1 - labels.mean():.1%} membrane pixels")

# %% [markdown]
# ## Method
#
# Smooth random elastic deformations go back to {cite}`simard2003best` (there: a random field smoothed
# with a Gaussian); the paper draws the field on a coarse grid instead:
#
# 1. Draw $\mathbf D \in \mathbb R^{2 \times g \times g}$, $D_{kij} \sim \mathcal N(0, \text{std}^2)$: a row and
#    a column displacement at each point of a $g \times g$ grid ($g = 3$, std = 10 px) whose first and last
#    points lie on the image corners.
# 2. Interpolate to every pixel with an interpolating cubic spline along each axis,
#    $\mathbf d_k = M_H \mathbf D_k M_W^\top$ ($M_n$: the $n \times g$ matrix of cubic-spline cardinal
#    functions): the field passes exactly through the grid values and is smooth ("bicubic").
# 3. Resample by backward mapping: the output pixel $\mathbf p$ takes the input value at
#    $\mathbf p + \mathbf d(\mathbf p)$; the image with cubic interpolation, the labels with nearest neighbour
#    (no new label values), the weight map ({ref}`weight-map`) bilinearly; outside the image the input is
#    mirrored (as in {ref}`the overlap-tile strategy <overlap-tile>`).
#
# `uc.random_elastic_field` does steps 1-2; below we draw the coarse grid ourselves with the same generator
# calls, to show it ({numref}`fig-elastic-field`), and check that both give the same field.

# %%
coarse = np.random.default_rng(SEED).standard_normal((2, GRID, GRID)) * STD  # (2, g, g) row, col px
field = uc.upsample_grid_displacements(coarse, shape)  # (2, H, W)
assert np.array_equal(field, uc.random_elastic_field(shape, grid=GRID, std=STD, rng=SEED))
gy = np.linspace(0, shape[0] - 1, GRID)  # grid point rows (255.5 is between two pixels for H = 512)
gx = np.linspace(0, shape[1] - 1, GRID)
# on a (2^k + 1)-sided image every grid point is a pixel centre: there the field equals the coarse values
odd = 2 ** int(np.ceil(np.log2(max(shape) - 1))) + 1
on_grid = np.linspace(0, odd - 1, GRID).astype(int)
grid_err = float(np.abs(uc.upsample_grid_displacements(coarse, (odd, odd))[:, on_grid][:, :, on_grid] - coarse).max())
print(f"coarse displacements drawn with seed {SEED} (rows, then cols) [px]:\n{coarse.round(1)}")
print(f"field at the grid points minus the coarse values ({odd} x {odd} image): max {grid_err:.1e} px")
assert grid_err < 1e-4
print(f"per-pixel field on {shape[0]} x {shape[1]}: |d| mean {np.hypot(*field).mean():.1f} px, "
      f"max {np.hypot(*field).max():.1f} px")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "A random elastic displacement field of Sec. 3.1 on the ISBI slice: the coarse 3 x 3 grid of Gaussian displacement vectors (std 10 px, red) and the per-pixel field interpolated from them with a cubic spline (yellow, every 32 px). Arrows are drawn 3 times longer than the displacements.", "name": "fig-elastic-field"}, "image": {"alt": "A gray EM slice with nine red dots at the corners, edge midpoints and centre, each with a red arrow, and a regular array of smaller yellow arrows whose directions and lengths vary smoothly between the red ones."}}
step = max(shape[0] // 16, 8)
yy, xx = np.mgrid[step // 2:shape[0]:step, step // 2:shape[1]:step]
fig, ax = plt.subplots(figsize=(5.6, 5.6))
ax.imshow(image, cmap="gray")
MAG = 3  # arrows drawn 3x longer than the displacement, to be visible at this size
ax.quiver(xx, yy, field[1, yy, xx], field[0, yy, xx], color="yellow", angles="xy", scale_units="xy",
          scale=1 / MAG, width=0.003, label=f"per-pixel field (every {step} px)")
GX, GY = np.meshgrid(gx, gy)
ax.plot(GX, GY, "o", color="red", ms=5, clip_on=False)
ax.quiver(GX, GY, coarse[1], coarse[0], color="red", angles="xy", scale_units="xy", scale=1 / MAG,
          width=0.007, label=f"coarse {GRID} x {GRID} grid vectors", zorder=3)
ax.set_xlim(-80, shape[1] + 80)
ax.set_ylim(shape[0] + 80, -80)
ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
ax.set_title(f"{source}: grid {GRID}x{GRID}, std {STD:g} px, arrows x{MAG}{tag}", fontsize=9)
plt.show()

# %% [markdown]
# An arrow from $\mathbf p$ points towards where pixel $\mathbf p$ of the output reads the input. The
# field is smooth between the nine red grid points and equals their vectors there.
#
# ## One field for image, labels and weights
#
# The same field deforms the slice (cubic), its labels (nearest) and its Eq. 2 weight map (bilinear). In
# {numref}`fig-elastic-one-field` the label boundaries of the *deformed labels* are drawn on the
# *deformed image*: they follow the deformed membranes.

# %%
warped_image = uc.apply_elastic_field(image, field, order=3)
warped_labels = uc.apply_elastic_field(labels, field, order=0)
warped_weights = uc.apply_elastic_field(weights, field, order=1)
assert set(np.unique(warped_labels)) <= set(np.unique(labels))  # nearest: no new label values
assert warped_image.dtype == image.dtype and warped_labels.dtype == labels.dtype


def overlay(img, lbl):
    """RGB of a gray image with the boundaries of the label's cell regions in cyan."""
    rgb = np.repeat((img.astype(np.float32) / 255.0)[..., None], 3, axis=2)
    rgb[find_boundaries(lbl, mode="inner") & (lbl == 1)] = (0.0, 1.0, 1.0)
    return rgb


z = np.s_[: min(256, shape[0]), : min(256, shape[1])]  # zoom: top-left quarter

# %% tags=["hide-input"] mystnb={"figure": {"caption": "One field deforms the image, its labels and its weight map alike (top-left 256 x 256 of the ISBI slice, the field of {numref}`fig-elastic-field`): the original with its label boundaries in cyan, the deformed image with the boundaries of the deformed labels, the deformed labels (nearest-neighbour) and the deformed Eq. 2 weight map (bilinear).", "name": "fig-elastic-one-field"}, "image": {"alt": "Four panels in a 2 by 2 grid. Top: the EM crop with cyan cell outlines on the membranes, before and after deformation; after deformation the outlines still lie on the dark membranes. Bottom: the deformed black and white label image, and the deformed weight map in jet colours with high weights along the thin membranes."}}
fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.6))
for ax, (pic, t) in zip(axes.flat, [(overlay(image, labels)[z], "original + label boundaries"),
                                    (overlay(warped_image, warped_labels)[z], "deformed image + deformed labels"),
                                    (warped_labels[z], "deformed labels (nearest)"),
                                    (warped_weights[z], "deformed weight map (bilinear)")]):
    ax.imshow(pic, cmap="gray" if pic.ndim == 2 and "labels" in t else "jet", interpolation="nearest")
    ax.set_title(t, fontsize=9)
    ax.axis("off")
fig.suptitle(f"{source}, top-left 256 x 256, grid {GRID}, std {STD:g} px{tag}", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Alignment, measured.** Membranes are dark. If the deformed labels sit on the deformed image, the mean
# gray value under the deformed membrane label stays as dark as it was before; with labels deformed by a
# *different* random field, the contrast collapses. The smoke scale measures one slice, `cpu`/`full`
# average over all slices of the training split, each with its own random field.

# %%
def membrane_contrast(img, lbl):
    """Mean gray value on cells minus mean gray value on membranes."""
    img = img.astype(np.float64)
    return float(img[lbl == 1].mean() - img[lbl == 0].mean())


n_check = check_cap.capped_count(len(stack_images)) if SCALE != "smoke" else 1
before, after, mismatched = [], [], []
for i in range(n_check):
    f = uc.random_elastic_field(shape, rng=rng)
    other = uc.random_elastic_field(shape, rng=rng)
    img_i, lbl_i = stack_images[i], stack_labels[i]
    w_img = uc.apply_elastic_field(img_i, f, order=3)
    before.append(membrane_contrast(img_i, lbl_i))
    after.append(membrane_contrast(w_img, uc.apply_elastic_field(lbl_i, f, order=0)))
    mismatched.append(membrane_contrast(w_img, uc.apply_elastic_field(lbl_i, other, order=0)))
contrast = {k: float(np.mean(v)) for k, v in
            [("original", before), ("same field", after), ("different field", mismatched)]}
print(f"scale={SCALE}, cell-minus-membrane gray value over {n_check} slice(s) of the ISBI training split"
      f"{tag}: " + ", ".join(f"{k} {v:.1f}" for k, v in contrast.items()))
assert contrast["same field"] > 0.9 * contrast["original"] > contrast["different field"]

# %% [markdown]
# ## Strength and grid size
#
# The slider below shows the slice deformed by fields of several standard deviations and grid sizes, with
# a regular line grid (every 64 px) deformed by the same field so the deformation is visible. All fields
# are drawn from the same seed, so for one grid size the slider scales a single random pattern.
# `std = 0` is the identity; a 5 x 5 grid gives more local, wrinkled deformations at the same std.

# %%
STDS, GRIDS = [0.0, 5.0, 10.0, 20.0], [3, 5]
lines = np.zeros(shape, np.float32)  # (H, W) 3-px lines every 64 px, deformed like the image
on_line = lambda n: (np.arange(n) + 1) % 64 < 3  # noqa: E731
lines[on_line(shape[0]), :] = 1.0
lines[:, on_line(shape[1])] = 1.0


def render(std, grid):
    f = uc.random_elastic_field(shape, grid=grid, std=std, rng=SEED)
    warped = uc.apply_elastic_field(image, f, order=3).astype(np.float32) / 255.0
    grid_lines = uc.apply_elastic_field(lines, f, order=1)
    rgb = np.repeat(warped[..., None], 3, axis=2)
    rgb = rgb * (1 - grid_lines[..., None]) + grid_lines[..., None] * np.array([1.0, 0.15, 0.1])
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.imshow(np.clip(rgb, 0, 1))
    ax.set_title(f"std={std:g} px, grid={grid}x{grid}{tag}", fontsize=9)
    ax.axis("off")
    return fig


viz.parameter_slider(render, {"std": STDS, "grid": GRIDS}, initial={"std": STD, "grid": GRID},
                     title=f"Elastic deformation of {source}")

# %% [markdown]
# **Identity.** With `std = 0` the field is zero and the deformation returns the input *exactly* (no
# interpolation is applied), for the image, the labels and the weights alike:

# %%
zero = uc.random_elastic_field(shape, std=0.0, rng=SEED)
identity_exact = (not zero.any() and np.array_equal(uc.apply_elastic_field(image, zero), image)
                  and np.array_equal(uc.apply_elastic_field(labels, zero, order=0), labels)
                  and np.array_equal(uc.apply_elastic_field(weights, zero, order=1), weights))
off = uc.draw_augmentation(SEED, shape, uc.AugmentConfig.off())
aug_img, aug_lbl, aug_w = uc.apply_augmentation(off, image, labels, weights)
identity_exact &= (np.array_equal(aug_img, image.astype(np.float32)) and np.array_equal(aug_lbl, labels)
                   and np.array_equal(aug_w, weights))
assert identity_exact
print(f"std = 0 and AugmentConfig.off() return image, labels and weights bit-exactly ({source}): True")

# %% [markdown]
# ## The other augmentations
#
# "Shift and rotation invariance [...] robustness to deformations and gray value variations":
# `unet_core.augment.tiles` composes flips, a rotation, a shift and the elastic field into **one** coordinate map
# (`uc.augmentation_coordinates`), so each array is resampled once, and changes gray values (gamma, contrast,
# brightness) of the image only. Each panel of {numref}`fig-augmentations` applies one kind to the same
# 256 x 256 region (cyan: the label boundaries, transformed with it); the last panel is a random draw of
# the default `AugmentConfig`, as used in training. The paper names these kinds but not their ranges:
# ours are in `AugmentConfig`.

# %%
tile_img, tile_lbl, tile_w = image[z], labels[z], weights[z]
tshape = tile_img.shape
params = {
    "none": uc.AugmentParams(tshape),
    "flip (columns)": uc.AugmentParams(tshape, flip_cols=True),
    "rotation 30 deg": uc.AugmentParams(tshape, angle_deg=30.0),
    "shift (20, -15) px": uc.AugmentParams(tshape, shift=(20.0, -15.0)),
    "elastic (3x3, 10 px)": uc.AugmentParams(tshape, coarse=coarse),
    "gamma 0.7, contrast 1.3": uc.AugmentParams(tshape, gamma=0.7, contrast=1.3, brightness=0.05),
    "random (default config)": uc.draw_augmentation(rng, tshape, uc.AugmentConfig(max_shift=10.0)),
}
p = params["random (default config)"]
print(f"random draw (default AugmentConfig, max_shift=10): flips (rows, cols) ({p.flip_rows}, {p.flip_cols}), "
      f"rotation {p.angle_deg:.1f} deg, shift ({p.shift[0]:.1f}, {p.shift[1]:.1f}) px, "
      f"elastic {'on' if p.coarse is not None else 'off'}, gamma {p.gamma:.2f}, contrast {p.contrast:.2f}, "
      f"brightness {p.brightness:+.3f}")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The augmentations of `unet_core.augment.tiles`, each applied to the same 256 x 256 region of the ISBI slice with its label boundaries (cyan) transformed alike: none, a flip, a 30 degree rotation, a shift, the elastic field of {numref}`fig-elastic-field`, a gray-value change, and one random draw of the default `AugmentConfig` as used in training.", "name": "fig-augmentations"}, "image": {"alt": "Seven small EM crops in two rows with cyan outlines on the membranes: the original, mirrored left to right, rotated by 30 degrees with mirrored corners, shifted, smoothly warped, with brighter contrast, and a random combination; in every panel the outlines stay on the membranes."}}
fig, axes = plt.subplots(2, 4, figsize=(7.5, 4.3))
lo, hi = float(tile_img.min()), float(tile_img.max())
for ax, (name, p) in zip(axes.flat, params.items()):
    a_img, a_lbl, _ = uc.apply_augmentation(p, tile_img, tile_lbl, tile_w)
    ax.imshow(overlay(np.clip((a_img - lo) / (hi - lo) * 255, 0, 255), a_lbl), interpolation="nearest")
    ax.set_title(name, fontsize=7.5)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle(f"{source}, top-left 256 x 256{tag}", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# In training, `uc.sample_training_tile` cuts a random 572 x 572 input tile (mirrored beyond the image, as
# in {ref}`the overlap-tile strategy <overlap-tile>`), applies one random augmentation to the whole tile
# and returns the 388 x 388 centre of the labels and weights that the valid-convolution network of
# {ref}`the architecture chapter <architecture>` predicts ({numref}`fig-training-tile`);
# {ref}`the ISBI 2012 chapter <isbi2012>` trains on such tiles, and its "no elastic deformation"
# ablation row measures what the deformation is worth there.

# %%
start = time.perf_counter()
x_tile, y_tile, w_tile = uc.sample_training_tile(image, labels.astype(np.int64), weights, rng=SEED)
tile_s = time.perf_counter() - start
print(f"input tile {x_tile.shape}, labels {y_tile.shape}, weights {w_tile.shape} in {tile_s * 1e3:.0f} ms "
      f"on {CPU} (this run)")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "One random training sample from the ISBI slice as `uc.sample_training_tile` returns it: the augmented 572 x 572 input tile (left, yellow: the region the network predicts), the 388 x 388 label tile (middle) and the 388 x 388 weight tile (right).", "name": "fig-training-tile"}, "image": {"alt": "Three panels: a gray, deformed EM tile with a yellow square marking its centre, the matching black and white label tile showing membranes in black, and a jet-coloured weight tile that is highest along the membranes."}}
pad = (x_tile.shape[-1] - y_tile.shape[-1]) // 2
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
axes[0].imshow(x_tile[0], cmap="gray")
axes[0].add_patch(plt.Rectangle((pad - 0.5, pad - 0.5), y_tile.shape[1], y_tile.shape[0], fill=False,
                                ec="yellow", lw=1.5))
axes[0].set_title("input tile 572 x 572", fontsize=8)
axes[1].imshow(y_tile, cmap="gray", interpolation="nearest")
axes[1].set_title("label tile 388 x 388", fontsize=8)
im = axes[2].imshow(w_tile, cmap="jet")
fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
axes[2].set_title("weight tile 388 x 388", fontsize=8)
for ax in axes:
    ax.axis("off")
fig.suptitle(f"{source}{tag}", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Speed
#
# Timed here once (this notebook, the machine named), and from the benchmark `benchmarks/bench_elastic.py`
# (its own run, named under the table), which compares with the `elasticdeform` package on 572 x 572
# tiles:

# %%
start = time.perf_counter()
for _ in range(3):
    uc.apply_elastic_field(image, uc.random_elastic_field(shape, rng=rng), order=3)
deform_ms = (time.perf_counter() - start) / 3 * 1e3
print(f"this run (scale={SCALE}, {CPU}): draw + cubic deformation of a {shape[0]} x {shape[1]} slice: "
      f"{deform_ms:.0f} ms")

bench = next((p for p in (Path("../benchmarks/results/elastic.json"), Path("benchmarks/results/elastic.json"))
              if p.exists()), None)
bench_ms = None
if bench is None:
    print("benchmarks/results/elastic.json is not in this checkout (run benchmarks/bench_elastic.py)")
else:
    doc = json.loads(bench.read_text())
    m, r = doc["machine"], doc["results"]
    rows = [[name, viz.fmt_like(float(ms)), viz.fmt_like(r["speedup_vs_elasticdeform"].get(name))]
            for name, ms in r["per_sample_ms"].items()]
    display(Markdown(
        viz.md_table(["method", "ms / sample", "speed-up vs elasticdeform"], rows)
        + f"\n\nBenchmark run of {m['date'][:10]}: {m['cpu']}, {m['cpu_count']} cores, {r['torch_threads']} "
        f"torch thread, GPU: {m['gpu'] or 'none'}; {r['size']} x {r['size']} tile, grid {r['grid']}, "
        f"std {r['std']:g} px, {r['repeat']} repeats (`{bench.name}`)."))
    bench_ms = r["per_sample_ms"]

# %% [markdown]
# ## Result beside the paper
#
# The comparison shows a `cpu` or `full` run (this one, or at smoke scale the recorded one, named in the
# line under the table); a smoke run's own numbers follow under their label.

# %%
result = {
    "data": source,
    "grid points per side": GRID,
    "displacement std [px]": STD,
    "interpolation": "cubic spline (interpolating), numpy back-end",
    "field at grid points = coarse vectors (max error px)": grid_err,
    "std = 0 / AugmentConfig.off() is the identity (bit-exact)": bool(identity_exact),
    "slices checked for label alignment": n_check,
    "cell-minus-membrane gray value: original / same field / other field":
        [round(contrast[k], 2) for k in ("original", "same field", "different field")],
    "draw + cubic deformation of one 512^2 slice [ms]": round(deform_ms, 1),
}
if bench_ms is not None:
    result["benchmark ms/sample 572^2 (numpy, torch b1, elasticdeform)"] = [
        bench_ms.get("ours_numpy"), bench_ms.get("ours_torch_b1"), bench_ms.get("elasticdeform")]
published = {"grid points per side": 3, "displacement std [px]": 10, "interpolation": "bicubic"}
recorded = viz.record_results("04_elastic", result, scale=SCALE, device="cpu", published=published,
                              notes=("SYNTHETIC EM image (data missing); " if synthetic else "")
                              + "ranges of flip/rotation/shift/gray augmentation are ours (the paper gives none)",
                              budget=f"{n_check} slice(s) deformed for the alignment check, "
                                     f"{time.perf_counter() - T0:.0f} s wall time")
this_run = viz.load_results(recorded.parent)["04_elastic"]["runs"][SCALE]


for block in figures.paper_comparison("04_elastic", published, scale=SCALE, this_run=this_run, result=result,
                                      paper="Sec. 3.1"):
    display(Markdown(block))

# %% [markdown]
# ## What differs, and why
#
# * **The elastic constants are the paper's**: a 3 x 3 grid, Gaussian displacements with 10 px standard
#   deviation, smooth cubic interpolation. "Bicubic" is read as an *interpolating* cubic spline (the field
#   passes through the grid vectors, as checked above), the reading of the widely used `elasticdeform`
#   package; where exactly the grid points sit (here: on the image corners) is not stated in the paper.
# * **The grid covers the tile being deformed.** In training (`sample_training_tile`) the field is drawn for
#   the 572 x 572 input tile, not for the whole 512 x 512 slice; the paper does not say which.
# * **Boundaries are mirrored**, as in {ref}`the overlap-tile strategy <overlap-tile>`; the paper does not
#   say how samples from outside the image are filled.
# * **Flip, rotation, shift and gray-value ranges are ours** (`AugmentConfig`); the paper only names the
#   invariances. Dropout, the "implicit data augmentation", is part of the network (`UNet(dropout=0.5)`,
#   after the last two contracting levels, {ref}`architecture`), not of this module.
# * **Labels are resampled with nearest neighbour**, so no new label values appear; the weight map is
#   recomputed or resampled bilinearly - the paper pre-computes weight maps and does not say how they are
#   deformed.

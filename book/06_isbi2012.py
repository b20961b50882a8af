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
# # Table 1: the ISBI 2012 EM segmentation challenge
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/06_isbi2012.ipynb)
#
# **Claim (Sec. 4, Table 1).** "The first task is the segmentation of neuronal structures in electron
# microscopic recordings. [...] The training data is a set of 30 images (512x512 pixels) from serial section
# transmission electron microscopy of the Drosophila first instar larva ventral nerve cord (VNC). Each image
# comes with a corresponding fully annotated ground truth segmentation map for cells (white) and membranes
# (black). The test set is publicly available, but its segmentation maps are kept secret. [...] The u-net
# (averaged over 7 rotated versions of the input data) achieves without any further pre- or postprocessing
# a warping error of 0.0003529 (the new best score, see Table 1) and a rand-error of 0.0382."
#
# Table 1, "Ranking on the EM segmentation challenge (march 6th, 2015), sorted by warping error":
#
# | Rank | Group name | Warping Error | Rand Error | Pixel Error |
# | --- | --- | --- | --- | --- |
# | | \*\* human values \*\* | 0.000005 | 0.0021 | 0.0010 |
# | 1. | u-net | 0.000353 | 0.0382 | 0.0611 |
# | 2. | DIVE-SCI | 0.000355 | 0.0305 | 0.0584 |
# | 3. | IDSIA [1] | 0.000420 | 0.0504 | 0.0613 |
# | 4. | DIVE | 0.000430 | 0.0545 | 0.0582 |
# | ... | | | | |
# | 10. | IDSIA-SCI | 0.000653 | 0.0189 | 0.1027 |
#
# We train the U-Net on 25 of the 30 training slices and score it on the other 5 with the challenge's
# three measures. The challenge's test labels are secret, so our numbers are **not** test-set numbers:
# see "What differs" at the end.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": tiny net, 40 steps (seconds); "cpu": 16-channel net (~10 min); "full": the paper's net (GPU)
DEVICE = "auto"
SEED = 0
DATA_DIR = None  # None -> unet_core.data.default_data_dir() ($UNET_DATA_DIR or ./data)

# %%
import sys

if "google.colab" in sys.modules:  # Colab only: install the package from the repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "unet-core @ git+https://github.com/unet-reproduced/unet-reproduced@main"], check=True)

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import unet_core as uc
from unet_core import viz

# Everything that changes with the scale. The paper: 64 channels, depth 5, 572 x 572 tiles, one tile per
# SGD step, momentum 0.99, "10 hours on a NVidia Titan GPU"; it gives neither the learning rate nor the
# number of iterations. Learning rate: 0.01 (TrainConfig's default when this chapter was first run; it is 0.001
# now) made the cpu-scale run diverge (NaN loss at step 63 of 500, after the loss had fallen from 9.1 to about
# 1.2), so every scale uses 0.003 (see "What differs").
SETTINGS = {
    "smoke": dict(base_channels=8, depth=4, tile=188, iterations=40, learning_rate=0.003, tta=False,
                  checkpoint_every=0, num_workers=0, eval_crop=256),
    "cpu": dict(base_channels=16, depth=5, tile=572, iterations=1000, learning_rate=0.003, tta=True,
                checkpoint_every=25, num_workers=0, eval_crop=None),
    "full": dict(base_channels=64, depth=5, tile=572, iterations=20000, learning_rate=0.003, tta=True,
                 checkpoint_every=1000, num_workers=min(8, os.cpu_count() or 1), eval_crop=None),
}
S = SETTINGS[SCALE]
device = viz.resolve_device(DEVICE)
torch.manual_seed(SEED)
data_dir = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
print(f"scale={SCALE}, device={viz.device_name(DEVICE)}, settings={S}")

# %% [markdown]
# ## The data and the split
#
# The converted challenge data (`data_scripts/fetch.py isbi2012`) are three stacks of 30 slices of
# 512 x 512 pixels; the labels are 1 = cell, 0 = membrane. `load_isbi2012` carries a fixed split: slices
# 0-24 train, 25-29 validation. The network never sees slices 25-29; they stand in for the secret test set.
# Without the real data (e.g. in CI), the smoke run uses synthetic EM-like images (`uc.synthetic_em`),
# and every output says **SYNTHETIC**.

# %%
def load_data():
    """(train images, train labels, held-out images, held-out labels, description, synthetic?)."""
    try:
        isbi = uc.load_isbi2012(data_dir)
    except FileNotFoundError as err:
        if SCALE != "smoke":
            raise FileNotFoundError(f"SCALE={SCALE!r} needs the real ISBI 2012 data: {err}") from None
        pairs = [uc.synthetic_em((256, 256), seed=SEED + k)[:2] for k in range(7)]  # (image, labels)
        images, labels = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]).astype(np.uint8)
        return images[:5], labels[:5], images[5:], labels[5:], "SYNTHETIC EM-like images (5 train, 2 held out)", True
    train_x, train_y = isbi.subset("train")
    val_x, val_y = isbi.subset("val")
    if S["eval_crop"]:  # smoke: score the central crop of each held-out slice only (faster)
        c0 = (val_x.shape[-1] - S["eval_crop"]) // 2
        val_x, val_y = (a[:, c0:c0 + S["eval_crop"], c0:c0 + S["eval_crop"]] for a in (val_x, val_y))
    return (train_x, train_y, val_x, val_y,
            f"ISBI 2012 training slices {isbi.split['train'][0]}-{isbi.split['train'][-1]} (train), "
            f"{isbi.split['val'][0]}-{isbi.split['val'][-1]} (held out"
            + (f", central {S['eval_crop']} x {S['eval_crop']} px)" if S["eval_crop"] else ")"), False)


train_x, train_y, val_x, val_y, source, synthetic = load_data()
TAG = " (SYNTHETIC)" if synthetic else ""
print(f"{source}: train {train_x.shape}, held out {val_x.shape}, "
      f"membrane fraction {1 - train_y.mean():.3f}{TAG}")

# %% [markdown]
# ## Method
#
# **Training** (Sec. 3) minimises the pixel-wise weighted cross-entropy of Eq. 1,
#
# $$ E = \sum_{x \in \Omega} w(x) \log p_{\ell(x)}(x), \qquad
#    w(x) = w_c(x) + w_0 \exp\!\left(-\frac{(d_1(x) + d_2(x))^2}{2\sigma^2}\right) \quad \text{(Eq. 2)}, $$
#
# with $w_0 = 10$, $\sigma = 5$ px; the cells are the 4-connected components of the cell class, so the
# thin membranes between two cells get high weights. Each SGD step sees **one** randomly placed tile
# (momentum 0.99), augmented by a random flip and rotation, gray-value changes and the paper's elastic
# deformation (3 x 3 grid of displacements, 10 px standard deviation): `uc.TrainingTiles` and `uc.train`.
#
# **Prediction** (Fig. 2): `uc.predict_tiled` mirrors the image borders and segments it tile by tile
# ("overlap-tile"). At cpu and full scale it averages the softmax over the 8 flips/90-degree rotations of
# each tile (the paper averaged "over 7 rotated versions of the input data").
#
# **Scoring** (Arganda-Carreras et al. 2015), on the probability of *cell* $p$, thresholded as $p > t$ for
# $t = 0, 0.1, \dots, 0.9$, best threshold per measure, the 5 held-out slices pooled as one stack:
#
# * **pixel error** $= 1 - \max_t F$, $F = 2TP / (2TP + FP + FN)$ with cell as the positive class;
# * **Rand error** $= 1 - \max_t V_\text{rand}$, the foreground-restricted Rand F-score of the 4-connected
#   cell segments, $V_\text{rand} = 2 / (1/V_\text{split} + 1/V_\text{merge})$,
#   $V_\text{split} = \sum p_{ij}^2 / \sum t_i^2$, $V_\text{merge} = \sum p_{ij}^2 / \sum s_j^2$;
# * **warping error**: warp the truth towards the thresholded map by flipping only *simple* pixels
#   (no change of topology, Jain et al. 2010); the pixels that would still have to flip and that split or
#   merge cells, divided by the number of pixels;
# * $V_\text{info}$, the information-theoretic analogue of $V_\text{rand}$ (reported for completeness).

# %%
model = uc.UNet(base_channels=S["base_channels"], depth=S["depth"])
out_size = model.output_size(S["tile"])
tiles = uc.TrainingTiles(train_x, train_y, in_size=S["tile"], out_size=out_size, seed=SEED,
                         length=max(S["iterations"], len(train_x)), semantic=True)
x0, y0, w0 = tiles[0]
print(f"U-Net: {uc.count_parameters(model):,} parameters, {S['tile']} -> {out_size} px tiles; "
      f"tile 0 weights: min {w0.min():.2f}, max {w0.max():.2f}{TAG}")

run_name = (f"{SCALE}-{'synthetic' if synthetic else 'isbi'}-c{S['base_channels']}-d{S['depth']}"
            f"-t{S['tile']}-lr{S['learning_rate']}-s{SEED}.pt")
checkpoint = Path(os.environ.get("UNET_RUNS_DIR") or "runs") / "06_isbi2012" / run_name  # *.pt: never committed
on_gpu = device.type == "cuda"  # bf16 autocast (TrainConfig amp="auto") and channels-last on a GPU only
config = uc.TrainConfig(learning_rate=S["learning_rate"], iterations=S["iterations"], seed=SEED,
                        device=str(device), checkpoint_every=S["checkpoint_every"], num_workers=S["num_workers"],
                        channels_last=on_gpu)
start = time.perf_counter()
# cpu/full continue an interrupted run from its checkpoint (and reuse a finished one); smoke always retrains
result = uc.train(model, tiles, config, checkpoint_path=checkpoint, resume=SCALE != "smoke", progress=False)
train_seconds = time.perf_counter() - start
losses = np.array(result.losses)
print(f"{result.step} steps in {train_seconds:.0f} s this session; checkpoint {checkpoint}")
print(f"loss: first 10 steps {losses[:10].mean():.3f}, last 10 steps {losses[-10:].mean():.3f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.semilogy(losses, lw=0.6, alpha=0.4, label="per step (one tile)")
k = max(1, min(25, len(losses) // 5))
ax.plot(np.arange(k - 1, len(losses)), np.convolve(losses, np.ones(k) / k, mode="valid"), lw=1.6,
        label=f"running mean of {k}")
ax.set_xlabel("SGD step")
ax.set_ylabel("weighted cross-entropy (Eq. 1)")
ax.set_title(f"Training loss, {SCALE} scale{TAG}")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Segmenting the held-out slices

# %%
start = time.perf_counter()
prob = np.stack([uc.predict_tiled(model, uc.normalize_image(img), device=device, tta=S["tta"],
                                  dtype=torch.bfloat16 if on_gpu else None, channels_last=on_gpu)[1]
                 for img in val_x])  # (N, H, W): probability of cell
predict_seconds = time.perf_counter() - start
truth = val_y > 0  # (N, H, W), True = cell

start = time.perf_counter()
pix = uc.pixel_error(prob, truth)
rand = uc.rand_scores(prob, truth)
warp, warp_detail = uc.warping_error(prob, truth, return_details=True)
score_seconds = time.perf_counter() - start
ours = {"warping": warp, "rand": 1 - rand["v_rand"], "pixel": pix}
print(f"prediction {predict_seconds:.1f} s ({len(val_x)} slices, TTA={S['tta']}), scoring {score_seconds:.1f} s")
print(f"warping error {warp:.6f} (threshold {warp_detail['threshold']}, {warp_detail['split']} split + "
      f"{warp_detail['merge']} merge pixels), Rand error {1 - rand['v_rand']:.4f} (threshold "
      f"{rand['threshold_rand']}), pixel error {pix:.4f}, V_rand {rand['v_rand']:.4f}, V_info {rand['v_info']:.4f}")

# %% [markdown]
# ## Result beside Table 1

# %%
PUBLISHED = [("", "** human values **", 0.000005, 0.0021, 0.0010),
             ("1.", "u-net", 0.000353, 0.0382, 0.0611),
             ("2.", "DIVE-SCI", 0.000355, 0.0305, 0.0584),
             ("3.", "IDSIA [1]", 0.000420, 0.0504, 0.0613),
             ("4.", "DIVE", 0.000430, 0.0545, 0.0582),
             ("10.", "IDSIA-SCI", 0.000653, 0.0189, 0.1027)]
where = ("SYNTHETIC held-out images" if synthetic else f"{len(val_x)} held-out training slices"
         + (f" (central {S['eval_crop']} px)" if S["eval_crop"] else ""))
rows = [f"| **this run** | u-net, {SCALE} scale ({S['base_channels']} channels, {result.step} steps, "
        f"{viz.device_name(DEVICE)}), {where} | **{ours['warping']:.6f}** | **{ours['rand']:.4f}** | "
        f"**{ours['pixel']:.4f}** |"]
rows += [f"| {r} | {name} (published, test set) | {we:.6f} | {re:.4f} | {pe:.4f} |"
         for r, name, we, re, pe in PUBLISHED]
display(Markdown("| Rank | Group name | Warping Error | Rand Error | Pixel Error |\n| --- | --- | --- | --- | --- |\n"
                 + "\n".join(rows)))

# %%
def error_rgb(binary: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(H, W, 3): cells white, membranes black; false membrane red, missed membrane blue."""
    rgb = np.repeat(np.where(truth, 1.0, 0.0)[..., None], 3, axis=2)  # (H, W, 3)
    rgb[~binary & truth] = (0.9, 0.1, 0.1)  # predicted membrane inside a cell
    rgb[binary & ~truth] = (0.2, 0.4, 1.0)  # truth membrane predicted as cell
    return rgb


i = 0
threshold = rand["threshold_rand"]
binary = prob[i] > threshold
warped = uc.warp_labels(truth[i], prob[i] > warp_detail["threshold"])
topo = warped != (prob[i] > warp_detail["threshold"])  # pixels still disagreeing after warping
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
axes[0].imshow(val_x[i], cmap="gray")
axes[0].set_title(f"input{TAG or ' (held-out slice)'}", fontsize=9)
axes[1].imshow(prob[i], cmap="gray", vmin=0, vmax=1)
axes[1].set_title("P(cell)" + (" (8-fold TTA)" if S["tta"] else ""), fontsize=9)
axes[2].imshow(error_rgb(binary, truth[i]))
axes[2].set_title(f"p > {threshold} vs truth: red false membrane,\nblue missed membrane", fontsize=9)
overlay = np.repeat(np.where(truth[i], 1.0, 0.0)[..., None], 3, axis=2)  # (H, W, 3) truth in black/white
overlay[topo] = (0.9, 0.1, 0.1)
axes[3].imshow(overlay)
axes[3].set_title(f"truth; red: the {topo.sum()} pixels still wrong after\nwarping (topological errors, p > "
                  f"{warp_detail['threshold']})", fontsize=9)
for ax in axes:
    ax.axis("off")
fig.suptitle(f"Held-out slice {i}, {SCALE} scale{TAG}", fontsize=10)
fig.tight_layout(rect=(0, 0, 1, 0.95))
plt.show()

# %% [markdown]
# **Reading the figure.** Red in the third panel: pixels the network calls membrane inside a truth cell;
# blue: truth membrane that it calls cell. The fourth panel marks what the warping cannot remove without
# changing the topology: holes in cells, missing or extra objects, and the split and merge pixels that the
# warping error counts. In the recorded cpu run (see the table above and the results page) the network has
# found the membranes but still calls some dark organelles (mitochondria, vesicles) membrane and leaves
# gaps in faint membranes. The challenge's Rand error counts every truth-cell pixel predicted as membrane
# as a one-pixel segment, so such spurious blobs cost much more Rand error than pixel error, and the gaps
# merge cells (the merge pixels dominate the warping error). That is the regime of a short training run; the paper's numbers need the full
# network trained far longer (`SCALE = "full"`).

# %%
values = {
    "warping error": ours["warping"], "Rand error": ours["rand"], "pixel error": ours["pixel"],
    "V_rand": rand["v_rand"], "V_info": rand["v_info"],
    "warping split / merge pixels": [warp_detail["split"], warp_detail["merge"]],
    "thresholds (warping, Rand)": [warp_detail["threshold"], rand["threshold_rand"]],
    "evaluated on": where + ("" if synthetic else " (25-29), not the secret test set"),
    "network": f"base_channels={S['base_channels']}, depth={S['depth']}, tile {S['tile']} -> {out_size}",
    "SGD steps": result.step, "learning rate": S["learning_rate"], "test-time augmentation (8 flips/rotations)": S["tta"],
    "loss, first / last 25 steps": [float(losses[:25].mean()), float(losses[-25:].mean())],
    "training seconds (this session)": round(train_seconds, 1), "prediction seconds": round(predict_seconds, 1),
}
recorded = viz.record_results(
    "06_isbi2012", values, scale=SCALE, device=DEVICE,
    published={"warping error": 0.000353, "Rand error": 0.0382, "pixel error": 0.0611},
    notes=f"{source}; held-out training slices, not the challenge test set; own metric code, not Fiji",
)
print(f"recorded in {recorded}")

# %% [markdown]
# ## What differs, and why
#
# * **Held-out training slices, not the test set.** The challenge's 30 test labels are secret and the
#   leaderboard no longer scores the 2015 way, so we score 5 of the 30 *training* slices (25-29) that the
#   network never saw during training, and train on 25 slices instead of 30. The slices come from the same
#   volume, so the two sets are alike, but 5 slices are a small sample: the measures, especially the
#   warping error (a few hundred pixels per slice), vary from slice to slice.
# * **Smaller and shorter training at the cheaper scales.** The settings dict above is the whole story:
#   smoke uses an 8-channel, depth-4 network and 40 steps (it only checks that the pipeline runs: its
#   numbers mean nothing); cpu a 16-channel depth-5 network (1/16 of the paper's computation per tile)
#   and 1000 steps on 572 x 572 tiles (about 2 s per step on an unloaded 2-core CPU; the recorded cpu run
#   shared its 2 cores with other jobs, and was resumed from its 250-step checkpoint: `uc.train` resumes
#   exactly; the paper's network trained for hours on a GPU, so more steps would help); full the paper's 64-channel
#   network and 572 x 572 tiles for 20 000 steps. The paper trained for "10 hours on a NVidia Titan GPU".
# * **Learning rate.** The paper gives none (nor the iteration count). A learning rate of 0.01 (unet_core's
#   `TrainConfig` default at the time; the default is now 0.001 for this reason), with the loss averaged over pixels and momentum 0.99 (an effective step of 0.01 / (1 - 0.99) = 1),
#   made the cpu-scale run diverge: the loss fell from 9.1 to about 1.2 in 50 steps, then became NaN at
#   step 63. A single large tile per step makes the gradient noisy, and momentum 0.99 accumulates about
#   100 of them; the high Eq. 2 weights on the thin ISBI membranes add to it. We use 0.003 at every
#   scale. If the full-scale run stops with a `FloatingPointError`, lower it again: `uc.train` resumes from
#   the last checkpoint (every 1000 steps) with the new learning rate.
# * **Scoring code.** The 2015 leaderboard ran Fiji scripts on the 30-slice test stack; we use
#   `unet_core.metrics` / `unet_core.warping`, written from the challenge's definitions. The warping-error
#   flip order and split/merge test are not Fiji's, so pixel counts may differ by a few pixels, and the
#   leaderboard's border thinning before the Rand error is not reproduced (see the module docstrings).
# * **Test-time augmentation.** The paper averaged over 7 rotated versions of the input; we average the
#   8 flips/rotations by multiples of 90 degrees (exact, no interpolation). Smoke scale does not average.
# * **Augmentation details.** The paper names shift, rotation, gray-value variations and elastic
#   deformation and fixes only the elastic constants; the ranges of the others are unet_core's choices
#   (`AugmentConfig`). Dropout follows the authors' released network (two layers at the end of the
#   contracting path).
# * **No post-processing**, as in the paper: the thresholds $0, 0.1, \dots, 0.9$ of the challenge are the
#   only tuning, each measure taking its best threshold.

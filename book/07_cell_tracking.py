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
# # Table 2 and Fig. 4: the ISBI cell tracking challenge 2015
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/07_cell_tracking.ipynb)
#
# **Claim (Sec. 4).** "We also applied the u-net to a cell segmentation task in light microscopic
# images. This segmenation task is part of the ISBI cell tracking challenge 2014 and 2015. The first
# data set "PhC-U373" contains Glioblastoma-astrocytoma U373 cells on a polyacrylimide substrate
# recorded by phase contrast microscopy (see Figure 4a,b and Supp. Material). It contains 35 partially
# annotated training images. Here we achieve an average IOU ("intersection over union") of 92%, which is
# significantly better than the second best algorithm with 83% (see Table 2). The second data set
# "DIC-HeLa" are HeLa cells on a flat glass recorded by differential interference contrast (DIC)
# microscopy (see Figure 3, Figure 4c,d and Supp. Material). It contains 20 partially annotated
# training images. Here we achieve an average IOU of 77.5% which is significantly better than the
# second best algorithm with 46%."
#
# **Table 2** (as published). Segmentation results (IOU) on the ISBI cell tracking challenge 2015.
#
# | Name | PhC-U373 | DIC-HeLa |
# | --- | --- | --- |
# | IMCB-SG (2014) | 0.2669 | 0.2935 |
# | KTH-SE (2014) | 0.7953 | 0.4607 |
# | HOUS-US (2014) | 0.5323 | - |
# | second-best 2015 | 0.83 | 0.46 |
# | u-net (2015) | **0.9203** | **0.7756** |
#
# **Fig. 4** shows (a) part of a PhC-U373 input image, (b) the segmentation result (cyan mask) with the
# manual ground truth (yellow border), (c) a DIC-HeLa input image, (d) the segmentation result
# (randomly coloured masks) with the manual ground truth (yellow border).
#
# Here we train a U-Net per dataset on the public training sequences, segment held-out frames and
# score them with the challenge's SEG measure (the paper's "IOU"), next to Table 2. Every run is a
# named recipe (`unet_core.recipes`): `phc-u373-cpu` and `dic-hela-cpu` converge on a 2-core CPU in
# under 30 minutes each; `phc-u373-paper` and `dic-hela-paper` are the paper's optimiser and loss at
# the same budget.
#
# ```{warning}
# **Our DIC-HeLa numbers are against SILVER truth, not gold truth.** The copy of DIC-C2DH-HeLa in this
# project has the raw images and the challenge's *silver-truth* masks (computer-generated consensus of
# earlier challenge entries) only; the manual gold-truth SEG masks are missing. We therefore train on
# silver-truth sequence 01 and score on silver-truth sequence 02. The paper's 0.7756 is the SEG
# against the manual gold truth of the challenge's secret *test* sequences: the two numbers are
# not the same measurement. PhC-U373 is scored against gold truth, but only sequence 02 has images
# here, so training and validation frames come from the same sequence.
# ```

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": tiny recipes, 30 steps on crops (CI); "cpu": the *-cpu recipes; "full": *-full (GPU)
DEVICE = "auto"  # "auto" picks cuda, then mps, then cpu
SEED = 0
DATA_DIR = None  # None -> unet_core.data.default_data_dir() ($UNET_DATA_DIR or ./data)
PRETRAINED = True  # cpu/full: score the published, sha256-verified networks instead of training them (~25 min each)

# %%
import sys

if "google.colab" in sys.modules:  # Colab only: install the package from the repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "unet-core @ git+https://github.com/unet-reproduced/unet-reproduced@main"], check=True)

# %%
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from scipy import ndimage
from skimage.segmentation import find_boundaries

import unet_core as uc
from unet_core import reproduce, viz
from unet_core.recipes import ablations, get_recipe

device = viz.resolve_device(DEVICE)
root = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
cwd = Path.cwd()
runs = (Path(os.environ.get("UNET_RUNS_DIR") or (cwd.parent if cwd.name == "book" else cwd) / "runs")
        if SCALE != "smoke" else Path(tempfile.mkdtemp()))  # checkpoints are never committed
recorded = viz.recorded_run  # recorded runs of the recipes (book/scripts/run_recipes.py); None if absent
DATASETS = {"phc-u373": dict(title="PhC-U373", modality="phase"), "dic-hela": dict(title="DIC-HeLa", modality="dic")}
recipes = {name: get_recipe(f"{name}-{SCALE}") for name in DATASETS}
print(f"scale={SCALE}, device={viz.device_name(DEVICE)}, recipes={[r.name for r in recipes.values()]}, "
      f"pretrained={PRETRAINED}")

# %% [markdown]
# ## The recipes
#
# Both `cpu` recipes train a 16-channel U-Net for 4500 steps on 412 px tiles with Adam (learning rate
# $10^{-3}$, 20 warm-up steps, cosine decay, gradient norm clipped to 1) and the Eq. 2 border term without
# the class-balance term $w_c$. DIC-HeLa cells touch along long borders, so `dic-hela-cpu` also widens the
# separation between touching cells in the training labels (`separation_gap = 2`: every cell loses the
# pixels within 2 px of another cell, and predicted cells are grown back by 2 px) and cuts instances
# with a seeded watershed. The threshold on $p(\text{cell})$ is chosen on the *training* frames, never
# on the held-out ones.

# %%
fields = ["base_channels", "depth", "tile", "optimizer", "learning_rate", "schedule", "grad_clip", "iterations",
          "w0", "sigma", "class_weights", "separation_gap", "augment", "tta", "instances", "threshold"]
table = {n: get_recipe(n) for n in ("phc-u373-paper", "phc-u373-cpu", "dic-hela-cpu")}
display(Markdown("| field | " + " | ".join(f"`{n}`" for n in table) + " |\n|" + " --- |" * (len(table) + 1) + "\n"
                 + "\n".join(f"| {f} | " + " | ".join(str(getattr(r, f)) for r in table.values()) + " |"
                             for f in fields)))

# %% [markdown]
# ## Data
#
# `unet_core.data.load_ctc` reads the converted Cell Tracking Challenge training sequences with their
# fixed split (stored in the dataset's `meta.json`):
#
# * **PhC-U373** (phase contrast, 520 x 696 px), gold truth. Only sequence 02 has images here; its
#   19 annotated frames are split by time: the first 14 train, the last 5 are held out.
# * **DIC-HeLa** (DIC, 512 x 512 px), *silver truth*: all 84 frames of sequence 01 train, the 84 frames
#   of sequence 02 are held out.
#
# At smoke scale only 3 training frames and 2 cropped held-out frames are used; without the data, smoke
# falls back to `unet_core.synthetic_cells` and every output says SYNTHETIC.

# %%
def crop(image, instances, size=(192, 256)):
    """Cut (image, instances) to ``size`` around the largest cell (smoke scale only)."""
    largest = np.bincount(instances.ravel())[1:].argmax() + 1 if instances.any() else None
    cy, cx = ndimage.center_of_mass(instances == largest) if largest else np.array(image.shape) / 2
    y = int(np.clip(cy - size[0] / 2, 0, image.shape[0] - size[0]))
    x = int(np.clip(cx - size[1] / 2, 0, image.shape[1] - size[1]))
    return image[y:y + size[0], x:x + size[1]], instances[y:y + size[0], x:x + size[1]]


def load(name):
    try:
        d = reproduce.recipe_data(recipes[name], root)
    except FileNotFoundError:
        if SCALE != "smoke":
            raise
        make = [uc.synthetic_cells((192, 256), seed=SEED + k, modality=DATASETS[name]["modality"]) for k in range(5)]
        d = dict(train_x=[m[0] for m in make[:3]], train_y=[m[1] for m in make[:3]], val_x=[m[0] for m in make[3:]],
                 val_y=[m[1] for m in make[3:]], semantic=False, truth="synthetic",
                 source=f"SYNTHETIC stand-in for {DATASETS[name]['title']} (unet_core.synthetic_cells)")
    if SCALE == "smoke":
        keep = np.linspace(0, len(d["train_x"]) - 1, 3).round().astype(int)
        d["train_x"], d["train_y"] = [d["train_x"][i] for i in keep], [d["train_y"][i] for i in keep]
        pairs = [crop(x, y) for x, y in zip(d["val_x"][:2], d["val_y"][:2])]
        d["val_x"], d["val_y"] = [p[0] for p in pairs], [p[1] for p in pairs]
    return d


data = {name: load(name) for name in DATASETS}
for name, d in data.items():
    print(f"{d['source']}: {len(d['train_x'])} training frames, {len(d['val_x'])} held-out frames")

# %% [markdown]
# ## Method
#
# **Loss.** The pixel-wise softmax cross-entropy weighted by the map of Eq. 2, computed from the instance
# masks:
#
# $$ E = \sum_{x} w(x) \log p_{\ell(x)}(x), $$
#
# $$ w(x) = w_c(x) + w_0 \exp\!\Big(-\frac{(d_1(x) + d_2(x))^2}{2\sigma^2}\Big), \quad w_0 = 10,\ \sigma = 5, $$
#
# where $d_1, d_2$ are the distances to the nearest and second-nearest cell and $w_c$ balances the
# class frequencies (off in the `cpu` recipes). The target $\ell$ is "cell" on the instance masks except
# on the *separation borders*: the background pixels between touching cells (Fig. 3c), so that the
# network learns to draw a gap between touching cells (`unet_core.foreground_with_borders`).
#
# **Training** (Sec. 3): `unet_core.TrainingTiles` draws random tiles with flips, rotations, gray-value
# changes and the elastic deformation of Sec. 3.1 (3 x 3 grid, 10 px std), one tile per step
# (`reproduce.train_recipe`).
#
# **Segmentation.** `unet_core.predict_tiled` segments each whole frame with the overlap-tile strategy
# (Fig. 2), averaging the 8 flips/rotations. Instances are the 4-connected components of
# $p(\text{cell}) > t$ (PhC-U373) or a watershed of $-p$ inside $p > t$ seeded by the components of
# $p > 0.9$, grown back by the separation gap (DIC-HeLa); $t \in \{0.3, \dots, 0.8\}$ is the best on
# up to 24 evenly spaced *training* frames (`reproduce.cut_instances`, `reproduce.score_recipe`).
#
# **Score.** The challenge's SEG measure (`unet_core.seg_score`): for every reference cell $R$, the
# Jaccard index $|R \cap S| / |R \cup S|$ with the predicted cell $S$ that covers more than half of
# $R$ (0 if there is none), averaged over all reference cells of all scored frames: the "IOU" of Table 2.

# %% [markdown]
# ## Training (or loading the published networks)

# %%
models, histories, how = {}, {}, {}
for name, recipe in recipes.items():
    start = time.perf_counter()
    if SCALE != "smoke" and PRETRAINED:
        from unet_core.pretrained import load_pretrained, pretrained_path

        models[name], recipes[name] = load_pretrained(recipe.name)
        ckpt = uc.load_checkpoint(pretrained_path(recipe.name))
        histories[name], rec = np.array(ckpt["history"]["losses"]), ckpt["history"]["scores"]
        how[name] = (f"published network ({ckpt['step']} steps, trained in {rec['train seconds']:.0f} s on "
                     f"{rec['device']}, {rec['date']})")
    else:
        models[name], result, seconds = reproduce.train_recipe(recipe, data=data[name], device=str(device),
                                                               runs_dir=runs)
        histories[name] = np.array(result.losses)
        how[name] = f"trained in this run: {result.step} steps, {seconds:.0f} s on {viz.device_name(DEVICE)}"
    print(f"{DATASETS[name]['title']}: {how[name]}; loss {histories[name][:100].mean():.3f} (first 100) -> "
          f"{histories[name][-100:].mean():.3f} (last 100)")

# %%
fig, ax = plt.subplots(figsize=(6, 2.8))
for name, losses in histories.items():
    k = max(1, min(100, len(losses) // 5))
    ax.plot(np.arange(k - 1, len(losses)), np.convolve(losses, np.ones(k) / k, mode="valid"),
            label=f"{recipes[name].name}: {data[name]['source'][:40]}")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("weighted loss (running mean)")
ax.set_title(f"Training, scale={SCALE}", fontsize=9)
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Result: SEG on the held-out frames, beside Table 2

# %%
results = {}
for name, recipe in recipes.items():
    d = data[name]
    start = time.perf_counter()
    prob = reproduce.predict_recipe(models[name], recipe, d["val_x"], str(device))  # (N, H, W) p(cell)
    seconds = (time.perf_counter() - start) / len(prob)
    train_prob = train_truth = None
    if recipe.threshold == "train":  # the threshold is chosen on (up to 24 evenly spaced) training frames
        idx = np.unique(np.linspace(0, len(d["train_x"]) - 1, min(24, len(d["train_x"]))).astype(int))
        train_prob = reproduce.predict_recipe(models[name], recipe, [d["train_x"][i] for i in idx], str(device))
        train_truth = [d["train_y"][i] for i in idx]
    scores = reproduce.score_recipe(recipe, prob, d["val_y"], train_prob, train_truth)
    preds = [reproduce.cut_instances(p, scores["threshold"], recipe.instances, recipe.seed_threshold,
                                     recipe.separation_gap) for p in prob]
    results[name] = dict(scores=scores, prob=prob, preds=preds, seconds=seconds)
    print(f"{d['source']}: SEG = {scores['SEG']:.4f} at threshold {scores['threshold']} "
          f"({scores['threshold chosen on']}); {seconds:.2f} s per frame")

# %%
synthetic = any("SYNTHETIC" in d["source"] for d in data.values())
kind = {n: ("" if data[n]["truth"] == "gt" else " (vs SILVER truth)" if data[n]["truth"] == "st" else " (SYNTHETIC)")
        for n in DATASETS}
where = f"{'SMOKE (pipeline check, not a reproduction), ' if SCALE == 'smoke' else ''}{viz.device_name(DEVICE)}"
rows = [("IMCB-SG (2014)", "published", "0.2669", "0.2935"), ("KTH-SE (2014)", "published", "0.7953", "0.4607"),
        ("HOUS-US (2014)", "published", "0.5323", "-"), ("second-best 2015", "published", "0.83", "0.46"),
        ("u-net (2015), paper", "published, test sequences, gold truth", "0.9203", "0.7756"),
        (f"**this run** ({', '.join(r.name for r in recipes.values())})", where,
         f"{results['phc-u373']['scores']['SEG']:.4f}{kind['phc-u373']}",
         f"{results['dic-hela']['scores']['SEG']:.4f}{kind['dic-hela']}")]
for suffix in ("cpu", "paper"):
    recs = {n: recorded(f"{n}-{suffix}") for n in DATASETS}
    if all(recs.values()) and not (SCALE == "cpu" and suffix == "cpu"):
        r0 = recs["phc-u373"]
        rows.append((f"recorded `*-{suffix}`", f"{r0['device']}, {r0['steps']} steps, {r0['date']}",
                     f"{recs['phc-u373']['values']['SEG']:.4f}", f"{recs['dic-hela']['values']['SEG']:.4f} (vs SILVER truth)"))
display(Markdown("| Name | run | PhC-U373 | DIC-HeLa |\n| --- | --- | --- | --- |\n"
                 + "\n".join(f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows)))

# %% [markdown]
# How much the threshold matters (diagnostic only: the number above uses the threshold chosen on the
# training frames):

# %%
fig, ax = plt.subplots(figsize=(4.5, 2.6))
for name, r in results.items():
    curve = r["scores"]["SEG on held-out frames by threshold (not used to choose)"]
    ax.plot([float(t) for t in curve], list(curve.values()), marker="o", ms=3, label=f"{DATASETS[name]['title']}{kind[name]}")
    ax.axvline(r["scores"]["threshold"], lw=0.8, ls="--", color=ax.lines[-1].get_color())
ax.set_xlabel("threshold on p(cell)")
ax.set_ylabel("held-out SEG")
ax.set_title(f"SEG vs threshold (scale={SCALE}); dashed: chosen on training frames", fontsize=8)
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What matters: one change at a time (PhC-U373)
#
# Real runs at one shorter budget (300 steps, about 2 minutes each on 2 cores), each changing one thing
# against `phc-u373-cpu` (`book/scripts/run_recipes.py --ablations phc-u373-cpu --steps 300`; recorded,
# not rerun by the chapter). "paper recipe" is the paper's own recipe at this budget (SGD with momentum
# 0.99 and the class balance $w_c$); "paper SGD" changes only the optimiser. Five held-out frames (24
# gold-truth cells) and one seed per row: a difference of a few hundredths is within the noise.

# %%
ABLATION_STEPS = 300
rows = []
for label in ablations("phc-u373-cpu", iterations=ABLATION_STEPS):
    rec = recorded(f"ablation-phc-u373-cpu@{ABLATION_STEPS}-{label.replace(' ', '_').replace('=', '')}")
    rows.append(f"| {label} | not recorded yet | | |" if rec is None else
                f"| {label} | {rec['values']['SEG']:.4f} | {rec['values']['threshold']} | {rec['device']}, {rec['date']} |")
display(Markdown(f"| change ({ABLATION_STEPS} steps) | SEG (gold truth) | threshold (training frames) | run |\n"
                 "| --- | --- | --- | --- |\n" + "\n".join(rows)))

# %% [markdown]
# ### DIC-HeLa: what the instance cutting contributes
#
# The same published `dic-hela-cpu` probabilities cut four ways (recorded by a one-off analysis of the
# saved probability maps, `book/results/recipes/dic-hela-cpu-postprocessing.json`); for each way the
# threshold is the best on 24 training frames. Connected components merge touching cells; the seeded
# watershed splits them. By the training-frame criterion the watershed *without* growing the cells back
# would have been chosen (it also scores higher on the held-out frames); the recipe fixed `grow = gap`
# before any of this was measured and is reported as it is.

# %%
post = recorded("dic-hela-cpu-postprocessing")
if post is None:
    print("not recorded (book/results/recipes/dic-hela-cpu-postprocessing.json is absent)")
else:
    display(Markdown("| instances | grown back by | threshold (training frames) | SEG training frames | "
                     "SEG held-out (SILVER truth) |\n| --- | --- | --- | --- | --- |\n" + "\n".join(
                         f"| {r['method']} | {r['grow']} px | {r['threshold']} | {r['seg_training_frames']:.4f} | "
                         f"{r['seg_held_out']:.4f} |" for r in post["chosen on training frames"])
                     + f"\n\n({post['device']}, {post['date']})"))

# %% [markdown]
# ## Fig. 4: segmentations
#
# As in the paper: PhC-U373 with the predicted cells as a cyan mask, DIC-HeLa with randomly coloured
# predicted cells; the yellow borders are the reference masks (gold truth for PhC-U373, silver truth for
# DIC-HeLa). One held-out frame each.

# %%
def show_gray(ax, image):
    lo, hi = np.percentile(image, [0.5, 99.5])
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)


fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
rng = np.random.default_rng(SEED)
for (name, r), (ax_in, ax_seg), letters in zip(results.items(), (axes[:2], axes[2:]), ("ab", "cd")):
    k = int(np.argmax([len(np.unique(y)) for y in data[name]["val_y"]]))  # the frame with the most cells
    image, truth, pred = data[name]["val_x"][k], data[name]["val_y"][k], r["preds"][k]
    show_gray(ax_in, image)
    show_gray(ax_seg, image)
    overlay = np.zeros(image.shape + (4,))  # (H, W, RGBA)
    if name == "phc-u373":
        overlay[pred > 0] = (0.0, 1.0, 1.0, 0.45)  # cyan mask
    else:
        colours = np.concatenate([rng.uniform(0.2, 1.0, (pred.max() + 1, 3)), np.full((pred.max() + 1, 1), 0.5)], 1)
        overlay[pred > 0] = colours[pred[pred > 0]]  # random colour per predicted cell
    overlay[find_boundaries(truth, mode="thick")] = (1.0, 1.0, 0.0, 1.0)  # yellow reference border
    ax_seg.imshow(overlay)
    ax_in.set_title(f"({letters[0]}) {DATASETS[name]['title']}{kind[name]}", fontsize=8)
    ax_seg.set_title(f"({letters[1]}) prediction, yellow: reference\nSEG of this frame {uc.seg_score(pred, truth):.3f}",
                     fontsize=8)
    for ax in (ax_in, ax_seg):
        ax.axis("off")
fig.suptitle(f"Fig. 4 reproduced (scale={SCALE})" + (" - SYNTHETIC DATA" if synthetic else ""), fontsize=10)
fig.tight_layout(rect=(0, 0, 1, 0.92))
plt.show()

# %%
published = {"SEG PhC-U373": 0.9203, "SEG DIC-HeLa": 0.7756,
             "reference (PhC-U373, DIC-HeLa)": "gold truth of the challenge test set"}
values = {
    "SEG PhC-U373": results["phc-u373"]["scores"]["SEG"],
    "SEG DIC-HeLa": results["dic-hela"]["scores"]["SEG"],
    "reference (PhC-U373, DIC-HeLa)": [data[n]["source"] for n in DATASETS],
    "recipes": [r.name for r in recipes.values()],
    "thresholds (chosen on training frames)": [results[n]["scores"]["threshold"] for n in DATASETS],
    "trained": [how[n] for n in DATASETS],
    "segmentation time s per frame (PhC-U373, DIC-HeLa)": [round(results[n]["seconds"], 3) for n in DATASETS],
}
notes = ("held-out frames of the public training sequences (PhC-U373 seq 02 last 5 annotated frames, gold truth; "
         "DIC-HeLa seq 02 vs SILVER truth, trained on seq 01 silver truth), not the challenge test set"
         + ("; SYNTHETIC data" if synthetic else ""))
for key, value in values.items():
    print(f"{key:<52} {value}")
print(f"recorded in {viz.record_results('07_cell_tracking', values, scale=SCALE, device=DEVICE, published=published, notes=notes)}")

# %% [markdown]
# ## What differs, and why
#
# * **Test data.** The paper's numbers are the challenge organisers' evaluation on the secret test
#   sequences. We score held-out frames of the public training sequences: for PhC-U373 the last 5 of the
#   19 gold-annotated frames of sequence 02 (the training frames come from the same sequence, earlier in
#   time, which is easier than a new sequence); for DIC-HeLa all of sequence 02 against **silver truth**.
#   Silver truth is itself a segmentation by earlier algorithms: a network trained on it learns to
#   imitate it, and agreement with it is not accuracy against manual annotation. The paper's gold-truth
#   DIC-HeLa training set (20 partially annotated frames) is not available here.
# * **Partial annotation.** The paper trained on "partially annotated" frames (35 and 20); the gold
#   truth here (PhC-U373, 14 frames) treats every unannotated pixel as background, as our loss has no
#   "ignore" label. The silver-truth masks are complete.
# * **Network, optimiser, budget.** 16 instead of 64 channels, 412 instead of 572 px tiles, 4500 Adam
#   steps (23-27 minutes on 2 CPU threads) instead of ten GPU hours of SGD. In the ablation table the
#   paper's recipe learns far more slowly ("paper recipe"), and SGD without the class balance collapses
#   to predicting no cell at all ("paper SGD"): with one tile per step and momentum 0.99 a stable
#   learning rate is too small for a few thousand steps, and only the class-balancing term $w_c$ (a cell
#   pixel of PhC-U373 weighs about 25 background pixels) keeps the rare cells in the gradient. With Adam
#   the class balance makes little difference, but shifts the best threshold up (over-confident cells).
# * **Separation of touching DIC-HeLa cells.** Beyond the paper, `dic-hela-cpu` widens the gap between
#   touching cells in the labels and cuts instances with a seeded watershed; the paper's own
#   post-processing for the challenge is not described.
# * **Measure.** `seg_score` is the challenge's SEG (checked in `tests/test_metrics.py` against a brute
#   force reference); the challenge averages it over the cells of all test frames, as we do.

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
# (optimiser)=
# # Sec. 3, Eq. 1: the loss, batch 1 and momentum 0.99
#
# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/11_optimiser.ipynb)
#
# **Claim (Sec. 3 of {cite}`ronneberger2015unet`).** "The input images and their corresponding segmentation
# maps are used to train the network with the stochastic gradient descent implementation of Caffe. [...]
# To minimize the overhead and make maximum use of the GPU memory, we favor large input tiles over a large
# batch size and hence reduce the batch to a single image. Accordingly we use a high momentum (0.99) such
# that a large number of the previously seen training samples determine the update in the current
# optimization step. The energy function is computed by a pixel-wise soft-max over the final feature map
# combined with the cross entropy loss function", Eq. 1:
#
# $$ E = \sum_{\mathbf x \in \Omega} w(\mathbf x) \log\left(p_{\ell(\mathbf x)}(\mathbf x)\right). $$
#
# The paper gives no learning rate and no schedule. This chapter writes Eq. 1 with its sign, puts numbers on
# "a large number of the previously seen training samples", measures on ISBI 2012 how much one tile's
# gradient says, and trains the paper's optimiser at the full `cpu` budget over a small learning-rate sweep,
# beside the `cpu` recipe's Adam.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": 16 tiles, no 300-step network; "cpu"/"full": 64 tiles and the 300-step network
DEVICE = "auto"  # where the per-tile gradients are computed
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
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import unet_core as uc
from unet_core.book import seeds, viz
from unet_core.book.comparisons import ablation_key
from unet_core.book.gradients import average_agreement, momentum_share, momentum_window, tile_gradients
from unet_core.book.networks import data_or_synthetic, obtain_network, runs_folder
from unet_core.book.seed_plots import draw_seed_panel
from unet_core.recipes import learning_rates
from unet_core.recipes.pretrained import load_pretrained
from unet_core.recipes.run import recipe_tiles

BASE, PAPER, RATES, STEPS = "isbi2012-cpu", "isbi2012-paper", (3e-4, 1e-3, 3e-3), 4500  # the experiment
MID_STEPS = 300  # the network in the middle of learning (cpu and full scale only)
N_TILES = 16 if SCALE == "smoke" else 64
device = viz.resolve_device(DEVICE)
data_dir = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
print(f"scale={SCALE}; device {viz.device_name(device)}; {N_TILES} tiles for the gradient measurement")
viz.check_cap_notice()  # only under $UNET_CHECK_CAP: says that this run is a capped check, not a result

# %% [markdown]
# ## Eq. 1 with its sign
#
# As printed, $E$ is a sum of logarithms of probabilities, each $\le 0$: minimising it would drive every
# $p_{\ell(\mathbf x)}$ to 0, the opposite of training. The paper's "cross entropy loss function" is
# $-E$; Caffe's `SoftmaxWithLoss` layer, which the paper used, computes it with the minus sign and averages
# over the pixels. `uc.weighted_cross_entropy` does the same (the mean over pixels, which rescales the
# gradient by one constant; the sum would multiply it by the 51,984 output pixels of a 228 px tile):

# %%
source = textwrap.dedent(inspect.getsource(uc.weighted_cross_entropy).split('"""')[-1]).strip().splitlines()
wanted = ("log_p =", "ce = -", "if weight", "    ce = ce * weight", "    return ce.sum() / max(")
print("\n".join(line for line in source if line.startswith(wanted)))  # the lines of Eq. 1, without checks
logits = torch.tensor([[[[2.0]], [[0.0]]]])  # (1, 2, 1, 1): p(class 0) = 0.88 at one pixel
for label in (0, 1):
    loss = uc.weighted_cross_entropy(logits, torch.tensor([[[label]]]))
    print(f"true class {label}: p = {torch.softmax(logits, 1)[0, label, 0, 0]:.2f}, loss = {loss.item():.3f}")

# %% [markdown]
# The loss is small where the network gives the true class a high probability, large where it does not:
# the sign the paper leaves out.
#
# ## Batch 1, momentum 0.99: how many tiles make one step
#
# SGD with momentum keeps a velocity $v_t = \mu v_{t-1} + g_t$ and steps by $-\eta v_t$: the gradient of
# $k$ steps ago enters with weight $\mu^k$. With one tile per step, each step is driven by the tiles of the
# recent past:

# %%
for mu in (0.9, 0.99):
    print(f"momentum {mu}: total weight 1/(1-mu) = {1 / (1 - mu):.0f} tiles; half of each step comes from the "
          f"last {momentum_window(mu):.0f} tiles, 90 % from the last {momentum_window(mu, 0.9):.0f}; "
          f"the last 10 tiles carry {momentum_share(mu, 10):.0%}")

# %% [markdown]
# So 0.99 makes every step an average over about a hundred tiles, at the price of a step about 100 times
# the learning rate (the paper's batch of one on a GPU of 2015, where one 572 px tile of the 64-channel net
# already filled the memory). Adam, the `cpu` recipes' optimiser, keeps a running mean of the gradient too
# ($\beta_1 = 0.9$: about 10 tiles), and divides each parameter's step by a running estimate of its size.
#
# ## Measured: what one tile's gradient says
#
# How noisy is a single tile's gradient on the real data? Below, the gradient of Eq. 1 for each of
# 64 training tiles of ISBI 2012 (the recipe's own tiles, with their augmentation) is computed for three
# networks: the initial weights, a network trained here for 300 steps (at `cpu` and `full` scale only) and
# the published `isbi2012-cpu` network (4500 steps). For groups of $k$
# tiles, the cosine between the mean gradient of one group and that of $k$ other tiles says how well a step
# built from $k$ tiles agrees with another one: 1, the same direction; 0, unrelated.

# %%
recipe = uc.get_recipe(BASE)
data, synthetic = data_or_synthetic(recipe, data_dir, synthetic=SCALE == "smoke", seed=SEED)
tiles = recipe_tiles(recipe, data, length=N_TILES)
torch.manual_seed(SEED)
nets = {"initial weights": recipe.build_model()}
if SCALE != "smoke":  # a network in the middle of learning: 300 steps, trained here (about 75 s on 2 CPU cores)
    short = uc.get_recipe(BASE, iterations=MID_STEPS)
    nets[f"{MID_STEPS} steps (trained here)"] = obtain_network(short, data, runs_dir=runs_folder(SCALE), device=device).model
nets["published, 4500 steps"] = load_pretrained(BASE)[0]
sizes = [k for k in (1, 2, 4, 8, 16, 32) if 2 * k <= N_TILES]
agreement, t0 = {}, time.perf_counter()
for name, net in nets.items():
    grads = tile_gradients(net.to(device), tiles, N_TILES, device)  # (N_TILES, P) float32
    agreement[name] = average_agreement(grads, sizes, rng=np.random.default_rng(SEED))
    del grads
print(f"{N_TILES} tiles x {len(nets)} networks in {time.perf_counter() - t0:.0f} s"
      + (" on SYNTHETIC EM-like images" if synthetic else f" ({data['source']})"))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "How well the mean gradient of k ISBI 2012 training tiles agrees with that of k other tiles (cosine, mean and sd over 20 random pairs of groups), for the initial weights, a network after 300 steps (cpu and full scale) and the published isbi2012-cpu network. One tile is a batch of one; about 100 tiles is what momentum 0.99 averages.", "name": "fig-gradient-agreement"}, "image": {"alt": "A line chart with the number of tiles per group on a logarithmic horizontal axis and the cosine between two groups' mean gradients on the vertical axis, one line per network with error bars: the initial network's line stays near 1; the network after 300 steps starts near 0 for one tile and rises with the group size; the published network's line stays near 0 with wide error bars."}}
fig, ax = plt.subplots(figsize=(5.6, 3.0))
for name, by_k in agreement.items():
    ax.errorbar(sizes, [by_k[k][0] for k in sizes], [by_k[k][1] for k in sizes], marker="o", capsize=3, label=name)
ax.axhline(0, color="0.5", lw=0.6)
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.minorticks_off()
ax.set_xlabel("tiles per group (k)")
ax.set_ylabel("cosine of two groups'\nmean gradients")
ax.set_title(f"ISBI 2012, {N_TILES} training tiles" + (" (SYNTHETIC)" if synthetic else ""), fontsize=9)
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# Measured on the real slices (64 tiles, 2-core AMD EPYC, 2026-12-07): at the start every tile pushes the
# same way (towards the class frequencies; cosine 0.92 for single tiles), so one tile is as good as many.
# After 300 steps single tiles disagree (cosine -0.09 $\pm$ 0.53), and only averages of many tiles point
# a common way (0.51 $\pm$ 0.28 at 32 tiles): that is the regime where a batch of one needs momentum 0.99
# to average over about a hundred of them. At the end of training (the published network) even 32-tile
# averages disagree (-0.17 $\pm$ 0.22): what is left of the gradient is tile-specific, and steps there
# mostly jitter, which a decaying learning rate, or the small constant one of SGD, keeps small. The
# figure above is this run's measurement; at `smoke` scale it is synthetic and says nothing of the paper.
#
# ## The paper's optimiser at the full `cpu` budget
#
# `book/scripts/run_recipes.py --learning-rates isbi2012-paper --rates 3e-4 1e-3 3e-3 --steps 4500` trains the
# paper's recipe at the `cpu` network size (SGD, momentum 0.99, batch 1, constant learning rate, balanced
# $w_c$) at three learning rates; the `cpu` recipe (Adam 1e-3 with warm-up and cosine decay, gradient
# clipping, $w_c = 1$) is the reference. Each row: mean $\pm$ sd over the recorded seeds, scored on the 5
# held-out slices as in {ref}`the ISBI 2012 chapter <isbi2012>`.

# %% tags=["hide-input"]
MEASURES, PUBLISHED = ["Rand error", "warping error", "pixel error"], {"Rand error": "0.0382",
                                                                       "warping error": "0.000353", "pixel error": "0.0611"}
rows = {"Adam 1e-3, cosine (cpu recipe)": viz.recorded_seeds(BASE)}
rows.update({f"SGD 0.99, lr {rate:g} (paper)": viz.recorded_seeds(r.name)
             for rate, r in learning_rates(PAPER, RATES, STEPS).items()})
display(Markdown(seeds.seed_table(rows, MEASURES, PUBLISHED, baseline="Adam 1e-3, cosine (cpu recipe)")))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: the training loss (weighted cross-entropy, mean per 100 steps) of every recorded run, Adam and SGD 0.99 at each learning rate. Right: held-out Rand error per seed (dots) with mean and sd. The paper recipe's loss includes its balanced class weights, so its level is not comparable with Adam's; its slope is.", "name": "fig-optimiser-runs"}, "image": {"alt": "Two panels. Left: training-loss curves on a logarithmic axis against steps, one colour per optimiser setting. Right: a horizontal dot plot of held-out Rand error for each optimiser setting."}}
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.5, 3.0), gridspec_kw={"width_ratios": [3, 2]})
for i, (label, runs) in enumerate(rows.items()):
    for seed, run in runs.items():
        curve = run.get("loss per 100 steps") or []
        ax.plot(np.arange(len(curve)) * 100 + 50, curve, color=f"C{i}", lw=1,
                label=label if seed == min(runs) else None)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("training loss (mean per 100 steps)")
ax.legend(fontsize=6)
stats = draw_seed_panel(ax2, rows, "Rand error", {"Rand error": 0.0382}, row_colours=True,
                        tick_labels=[label.split(" (")[0] for label in rows])  # dotted: the paper's 0.0382
fig.tight_layout()
plt.show()

# %% [markdown]
# Recorded so far (seed 0 at each rate; 1073 and 1126 s of training for 3e-3 and 3e-4 on a quiet 2-core AMD EPYC,
# 2026-12-07; 1e-3 took 2396 s on a shared one): the rate matters as much as the optimiser. At 3e-3 the paper's
# optimiser hardly learns (its loss stops falling after about 300 steps; pixel error 0.110, where calling every
# pixel a cell gives 0.22). At 1e-3 it reaches Rand 0.113, at 3e-4 0.152: over a tenfold range of rates none
# reaches the Adam recipe's 0.082 $\pm$ 0.020 in 4500 steps, though the gap at 1e-3 (0.031) is 1.5 standard
# deviations of Adam's five seeds (which range from 0.064 to 0.108); the one at 3e-4 (0.070) is 3.5. The warping error
# reads otherwise: at 3e-4 it is 0.00158, as low as the best of the Adam runs (0.00158, 0.00163, 0.00172, 0.00184, 0.00187). So "SGD
# 0.99 learns more slowly here" holds for the Rand error over the rates tried, on one seed per rate, and only at
# this budget (below).
#
# The same change at the short budget of the ablation table (500 steps; "paper SGD" changes only the
# optimiser, "paper recipe" also turns on the class balance):

# %% tags=["hide-input"]
short = {row: viz.recorded_seeds(ablation_key(BASE, 500, row)) for row in ("recipe", "paper SGD", "paper recipe")}
display(Markdown(seeds.seed_table(short, MEASURES, PUBLISHED, baseline="recipe")))
values = {f"gradient cosine, 1 tile, {name}": by_k[1][0] for name, by_k in agreement.items()}
values.update({f"Rand error, {label} (mean over seeds)": s.mean for label, s in stats.items()})
viz.record_results("11_optimiser", values, scale=SCALE, device=DEVICE, published={"Rand error": 0.0382},
                   notes=f"{N_TILES} tiles; {'SYNTHETIC' if synthetic else 'ISBI 2012'}; recorded runs of run_recipes.py")

# %% [markdown]
# ## What differs, and why
#
# * **No learning rate in the paper.** The sweep brackets 1e-3 by a factor of 3 each way; with momentum
#   0.99 the effective step is about 100 times the rate. A constant rate, as in Caffe's default, is what
#   the paper's recipe here uses; the `cpu` recipe decays Adam's with a cosine.
# * **The same tiles, not the same work.** Both optimisers see one tile per step and the same number of
#   steps; 4500 steps are about 1/9 of what the paper's ten GPU hours allowed. A slow optimiser is
#   penalised more by a short budget than by a long one, so this tests "at the `cpu` budget", not "ever".
# * **The gradient measurement is a snapshot** of two networks, not of the whole training; it shows why
#   averaging is needed late in training, not how much a given momentum helps.

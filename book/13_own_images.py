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
# (own-images)=
# # Your own images: train, fine-tune, predict and evaluate on a folder
#
# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/13_own_images.ipynb)
#
# The paper's promise is practical: "a network and training strategy that relies on the strong use of data
# augmentation to use the available annotated samples more efficiently" ({cite}`ronneberger2015unet`,
# abstract). The tool biologists use for this, the Fiji U-Net plugin {cite}`falk2019unet`, is built around
# one path: take a trained network, fine-tune it on a few annotated images of your own, segment the rest.
# This page runs that path on a folder of images and a folder of labels, as you would on yours.
#
# **The images.** One 512 x 512 fluorescence image of cell nuclei with its 125 annotated nuclei, from the
# 2018 Data Science Bowl {cite}`caicedo2019nucleus` (released CC0), as the StarDist package ships it.
# `python data_scripts/fetch.py nuclei` fetches the package's wheel with pip (nothing is installed), reads
# the two TIFF files out of it, checks their sha256 and cuts the image into four 256 x 256 quadrants:
# `data/nuclei/images/top-left.tif ...` and `data/nuclei/labels/top-left.tif ...`. No other page uses
# them, and they differ from everything the published networks saw: bright nuclei on black, not cells in
# phase contrast.
#
# **From the command line**, on any such pair of folders (TIFF or PNG, 8/16-bit or float images; instance
# labels, or binary masks with `--semantic`; `--ignore-value V` for unannotated pixels):
#
# ```bash
# python data_scripts/fetch.py nuclei --dest data
# python -m unet_core train --images data/nuclei/images --labels data/nuclei/labels --checkpoint nuclei.pt
# python -m unet_core train --images data/nuclei/images --labels data/nuclei/labels \
#     --init phc-u373-cpu --iterations 300 --checkpoint nuclei-ft.pt   # fine-tune a published network
# python -m unet_core evaluate --images data/nuclei/images --labels data/nuclei/labels --checkpoint nuclei.pt
# python -m unet_core predict data/nuclei/images --checkpoint nuclei.pt --cells -o predictions
# ```
#
# `train` holds out a fifth of the images (at least one; `--held-out`), says which, and records them in the
# checkpoint; `evaluate` then scores only images the network never trained on. Below, the same path from
# Python, executed.

# %% tags=["parameters"]
SCALE = "smoke"  # smoke: 20 + 10 steps (a pipeline check); cpu: 1000 + 300 steps, about 6 minutes on 2 cores
DEVICE = "auto"
SEED = 0  # the split, the initial weights and the tiles
DATA_DIR = None  # holds nuclei/ (python data_scripts/fetch.py nuclei); None -> $UNET_DATA_DIR or ./data

# %% tags=["colab", "remove-cell"]
# Colab only (skipped elsewhere): clone the repository, install it with the `colab` extra (the package,
# data_scripts and what this chapter imports), download and verify the data the chapter needs, and
# choose the scale: COLAB_SCALE = "auto" runs `cpu` (minutes, on the GPU if any); "full" (hours) only when set.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    REPO, BRANCH = "https://github.com/unet-reproduced/unet-reproduced", "main"  # _config.yml (build.py --sync)
    COLAB_SCALE, DATASETS = "auto", ["nuclei"]  # = book/manifest.py
    CLONE = "/content/" + REPO.rstrip("/").rsplit("/", 1)[-1]
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", BRANCH, REPO, CLONE], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{CLONE}[colab]"], check=True)
    os.chdir(f"{CLONE}/book")
    from data_scripts.colab import setup

    SCALE, DEVICE = setup(COLAB_SCALE, DATASETS, data_dir=f"{CLONE}/data")

# %%
import inspect
import tempfile

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from unet_core.book import viz
from unet_core.book.own_images import arm_values, arms_table, draw_arms, example_folder, train_arms
from unet_core.book.recording import record_chapter_run
from unet_core.data.folders import load_pairs
from unet_core.recipes.folder import train_folder
from unet_core.utils import check_cap

STEPS, FINE_STEPS = {"smoke": (20, 10), "cpu": (1000, 300), "full": (1000, 300)}[SCALE]
work = tempfile.TemporaryDirectory()  # checkpoints of this run (an existing one would be resumed)
viz.check_cap_notice()  # only under $UNET_CHECK_CAP: a capped check of the code path, not a result
stand_in = SCALE == "smoke" or check_cap.cap() is not None  # a labelled synthetic folder where the nuclei are absent
folder, synthetic = example_folder(DATA_DIR, synthetic=stand_in, seed=SEED, workdir=work.name)
data = load_pairs(folder / "images", folder / "labels")  # pairs by file name; checks shapes and integer labels
print(f"scale={SCALE}; {len(data.names)} image/label pairs in {folder.name}/: {', '.join(data.names)}"
      + ("  [SYNTHETIC stand-in: the nuclei are not fetched]" if synthetic else ""))

# %% [markdown]
# ## What `train` does with a folder
#
# The whole of it: hold out a share of the images, draw training tiles from the rest with the paper's
# augmentation (elastic deformation, flips, rotations, gray values; Sec. 3.1) and the weights of Eq. 2
# (w0 = 10, sigma = 5 px: the border term between touching nuclei), and train a 16-channel U-Net with Adam
# on 412 px tiles, the `cpu` recipes' network. `init` starts from a published network or a checkpoint
# instead of random weights, the fine-tuning of the Fiji plugin.

# %%
source = inspect.getsource(train_folder)
print(source[source.index("    if not isinstance"):].replace("  # fmt: skip", ""))  # the body, no docstring

# %% [markdown]
# ## Three networks on the held-out image
#
# One split for all three (the parameters cell's seed): trained from scratch at the folder defaults (1000 steps at
# `cpu`); the published `phc-u373-cpu` network (trained on phase-contrast U373 cells, {ref}`cell-tracking`)
# used as it is; and the same network fine-tuned for 300 steps. Scored on the held-out quadrant by SEG,
# the Cell Tracking Challenge's measure ({ref}`cell-tracking`), with cells cut from p(cell) > 0.5.

# %%
ARMS = {"scratch": {"init": None, "iterations": STEPS},  # random initial weights (He et al., Sec. 3)
        "published": {"init": "phc-u373-cpu", "iterations": 0},  # the published network as it is
        "fine-tuned": {"init": "phc-u373-cpu", "iterations": FINE_STEPS}}  # fmt: skip
results = train_arms(data, ARMS, work.name, seed=SEED, device=DEVICE)

# %% tags=["hide-input"]
held, values = results["scratch"]["held_out"], arm_values(results)
values["held-out images"] = ", ".join(held)
record_chapter_run("13_own_images", values, scale=SCALE, device=DEVICE, notes=(
    "SYNTHETIC stand-in folder" if synthetic else "nuclei (data_scripts/fetch.py nuclei)") + f", seed {SEED}",
    budget=f"{STEPS} + {FINE_STEPS} steps of 412 px tiles")  # fmt: skip
label = f"*{viz.SMOKE_LABEL}.* " if SCALE == "smoke" else ""
display(Markdown(f"{label}This run ({SCALE} scale): held out **{', '.join(held)}** (never trained on); trained on "
                 f"{', '.join(results['scratch']['train'])}.\n\n" + arms_table(values, ARMS)))  # fmt: skip
recorded = viz.load_results(viz.results_dir("cpu")).get("13_own_images", {}).get("runs", {}).get("cpu")
if SCALE != "cpu" and recorded:
    display(Markdown(f"The recorded `cpu` run ({viz.provenance(recorded, 'cpu')}), held out "
                     f"**{recorded['values'].get('held-out images')}**:\n\n" + arms_table(recorded["values"], ARMS)))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The held-out quadrant (nuclei of the 2018 Data Science Bowl) and its truth; per network (trained from scratch, the published phc-u373-cpu network as it is, and that network fine-tuned), p(cell) (top) and the nuclei cut at p > 0.5 (yellow outlines) over the image, truth nuclei merged with a neighbour in red and missed ones in blue.", "name": "fig-own-images"}, "image": {"alt": "A grid of square panels: a dark fluorescence image with bright round nuclei and its black and white truth; then for each of three networks a probability map with bright nuclei, and the image with yellow outlines around the nuclei found, some tinted red or blue."}}
fig = draw_arms(data, results, held[0], f"held-out {held[0]}, {SCALE} scale, seed {SEED}")
plt.show()
work.cleanup()

# %% [markdown]
# ## What the numbers say, and what they do not
#
# One held-out quadrant holds about 30 nuclei, so one nucleus more or less found moves SEG by about 0.03: a
# difference between the rows above that size is not a finding. In the recorded `cpu` run (2-core AMD EPYC)
# the published network, which learnt phase-contrast cells, finds no nucleus at all as it is (SEG 0): the
# fluorescence images look nothing like its training data. 300 steps of fine-tuning (74 s) bring it to SEG
# 0.743, within about one nucleus of 1000 steps from random weights (0.768, 248 s), in under a third of the
# time. Whether fine-tuning also beats random weights at the same 300 steps is exercise 5 of the
# {ref}`instructor page <instructor>`. On your own images, hold out more than one image where you
# can (`--held-out`), and compare the networks on the same held-out images, as here.

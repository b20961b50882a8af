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
# (architecture)=
# # Fig. 1: the network
#
# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/01_architecture.ipynb)
#
# **Claim (Sec. 2, Fig. 1 of {cite}`ronneberger2015unet`).** "The contracting path follows the typical
# architecture of a convolutional network. It consists of the repeated application of two 3x3
# convolutions (unpadded convolutions), each followed by a rectified linear unit (ReLU) and a 2x2 max
# pooling operation with stride 2 for downsampling. At each downsampling step we double the number of
# feature channels. Every step in the expansive path consists of an upsampling of the feature map
# followed by a 2x2 convolution ('up-convolution') that halves the number of feature channels, a
# concatenation with the correspondingly cropped feature map from the contracting path, and two 3x3
# convolutions, each followed by a ReLU. [...] At the final layer a 1x1 convolution is used to map each
# 64-component feature vector to the desired number of classes. In total the network has 23
# convolutional layers." Fig. 1 draws the sizes for a 572 x 572 input tile: a 388 x 388 output map. The
# network is a fully convolutional one in the sense of {cite}`long2015fully`, with an expansive path as
# wide as the contracting one.
#
# Here the table of sizes, the 23 layers and the drawing of the U ({numref}`fig-unet`) are all
# *computed from the PyTorch module* `unet_core.UNet`, not copied. They are exact facts of the
# architecture: every scale computes the same numbers, on any device.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke" | "cpu" | "full": this chapter does the same work at every scale
DEVICE = "auto"  # "auto" picks cuda, then mps, then cpu
SEED = 0
DATA_DIR = None  # an ISBI 2012 slice for the receptive-field figure if there (None -> $UNET_DATA_DIR or ./data)

# %% tags=["colab", "remove-cell"]
# Colab only (skipped elsewhere): clone the repository, install it with the `colab` extra (the package,
# data_scripts and what this chapter imports), download and verify the data the chapter needs, and
# choose the scale: COLAB_SCALE = "auto" runs `cpu` (minutes, on the GPU if any); "full" (hours) only when set.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    REPO, BRANCH = "https://github.com/unet-reproduced/unet-reproduced", "main"  # _config.yml (build.py --sync)
    COLAB_SCALE, DATASETS = "auto", []  # = book/manifest.py
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

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.patches import Rectangle

import unet_core as uc
from unet_core.book import viz
from unet_core.book.samples import em_slice

torch.manual_seed(SEED)
device = viz.resolve_device(DEVICE)
print(f"scale={SCALE}, device={viz.device_name(DEVICE)}, unet_core {uc.__version__}, torch {torch.__version__}")
viz.check_cap_notice()  # only under $UNET_CHECK_CAP: says that this run is a capped check, not a result

# %% [markdown]
# ## Method
#
# With unpadded ("valid") 3x3 convolutions every convolution removes one pixel on each side, so a
# level of the contracting path maps a side $n$ to $(n - 4)/2$ and a level of the expansive path maps
# $n$ to $2n - 4$. With five levels (four poolings) the side $a(n)$ at the bottom of the U and the
# output side $o(n)$ of an input side $n$ are
#
# $$
# \begin{aligned}
# a(n) &= \Bigl(\bigl(\bigl((n-4)/2-4\bigr)/2-4\bigr)/2-4\Bigr)/2-4 = \frac{n}{16} - 7.75, \\
# o(n) &= 16\,a(n) - 4\,(8+4+2+1) = n - 184;
# \end{aligned}
# $$
#
# this holds for *valid* $n$, meaning that every pooling sees an even side. $a(572) = 28$ and
# $o(572) = 388$. The network is built with the paper's defaults: one input channel, two classes, 64
# channels on the first level doubling to 1024.

# %%
net = uc.UNet()  # in_channels=1, num_classes=2, base_channels=64, depth=5, padding="valid"
table = uc.layer_table(net, input_size=572)
n_conv = uc.count_conv_layers(net)
n_params = uc.count_parameters(net)
display(Markdown(
    "Feature-map sizes of `uc.UNet()` (the paper's configuration) for a 572 x 572 input, from "
    "`uc.layer_table` (exact size arithmetic; the same at every scale and on every device):\n\n"
    + viz.md_table(["stage", "channels in -> out", "side in", "side out"],
                   [[row["stage"], f"{row['channels_in']} -> {row['channels_out']}", row["size_in"][0],
                     row["size_out"][0]] for row in table])))
print(f"convolution layers of uc.UNet() (3x3, 2x2 up-conv and 1x1): {n_conv}")
print(f"parameters of uc.UNet(): {viz.fmt_like(n_params)}")

# %% [markdown]
# The table comes from the size arithmetic; a real forward pass through the module confirms it (the
# time is this run's, on the device printed; {ref}`the speed chapter <speed>` measures it properly).

# %%
x = torch.zeros(1, 1, 572, 572, device=device)
net = net.to(device).eval()
start = time.perf_counter()
with torch.no_grad():
    y = net(x)
forward_s = time.perf_counter() - start
assert tuple(y.shape) == (1, 2, 388, 388)
print(f"uc.UNet(), input {tuple(x.shape)} -> output {tuple(y.shape)}: one forward pass in "
      f"{viz.fmt_like(forward_s)} s on {viz.device_name(DEVICE)} (this run, scale={SCALE})")

# %% [markdown]
# ## The U, drawn from the module
#
# {numref}`fig-unet` has one box per multi-channel feature map (channels above, side below) and the
# arrows of the paper's Fig. 1; {ref}`the overlap-tile chapter <overlap-tile>` uses the sizes to tile large images.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The U of the paper's Fig. 1, drawn from `uc.layer_table(uc.UNet(), input_size=572)`: one box per feature map after each convolution (channels above, side below), blue arrows for 3x3 convolutions with ReLU, red for 2x2 max pooling, green for 2x2 up-convolutions, gray for copy and crop, teal for the final 1x1 convolution.", "name": "fig-unet"}, "image": {"alt": "Diagram of the U-shaped network: boxes on five levels descend from a 572 by 572 input with 1 channel to 28 by 28 with 1024 channels at the bottom, then rise back to a 388 by 388 output with 2 channels; arrows mark the convolutions, poolings, up-convolutions and the copy-and-crop connections between the two halves."}}
fig, ax = plt.subplots(figsize=(7.5, 4.0))
viz.draw_unet(table, ax=ax)
plt.show()

# %% [markdown]
# ## The forward pass as code
#
# The U in a dozen lines of `uc.UNet.forward` (after its input checks): the contracting path keeps each
# level's output as a skip before pooling; the expansive path up-convolves, crops the skip to the same side
# (the "copy and crop" arrows: valid convolutions make the skip larger) and concatenates it before two
# convolutions.

# %%
forward = textwrap.dedent(inspect.getsource(uc.UNet.forward)).splitlines()
print("\n".join(forward[next(i for i, line in enumerate(forward) if "skips = []" in line):]))
crop = textwrap.dedent(inspect.getsource(uc.center_crop)).splitlines()
print("\n".join(["def center_crop(x, size):  # after its checks", *crop[-2:]]))

# %% [markdown]
# ## Why a U: context and localisation in one pass
#
# Sec. 1 explains the design against the sliding-window network of {cite}`ciresan2012deep`, which
# classified each pixel from a patch around it: "First, it is quite slow because the network must be run
# separately for each patch, and there is a lot of redundancy due to overlapping patches. Secondly, there is
# a trade-off between localization accuracy and the use of context. Larger patches require more max-pooling
# layers that reduce the localization accuracy, while small patches allow the network to see only little
# context." The U resolves both: one pass predicts a whole 388 px tile, and every output pixel combines the
# coarse, wide-context features of the bottom of the U with the full-resolution features of the skip at its
# own level. How much input one output pixel sees can be measured: the gradient of that pixel's logit with
# respect to the input is non-zero exactly on its context (a narrow 4-channel network has the same context
# as the 64-channel one: it depends only on the kernels and poolings).

# %%
raw, source = em_slice(DATA_DIR, allow_synthetic=True, seed=SEED)  # the context does not depend on the content
image = uc.mirror_pad(uc.normalize_image(raw), 30)[:572, :572]  # (572, 572) float32: one input tile
torch.manual_seed(SEED)
narrow = uc.UNet(base_channels=4).eval()  # same kernels and poolings as uc.UNet(), 1/16 of the channels
x = torch.from_numpy(image)[None, None].requires_grad_(True)  # (1, 1, 572, 572)
centre = 388 // 2
narrow(x)[0, 1, centre, centre].backward()  # one output pixel, the middle of the 388 x 388 map
support = x.grad[0, 0].abs().numpy()  # (572, 572): non-zero on the pixel's context
rows, cols = np.nonzero(support)
extent = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
print(f"{source}: output pixel ({centre}, {centre}) depends on an input window of {extent[0]} x {extent[1]} px "
      f"(the network's border is {uc.UNet().border} px on each side of the output map)")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The context of one output pixel, measured: a 572 x 572 input tile of an EM slice (left) with the 388 x 388 area that the network segments (yellow) and, in red, the input window on which the logit of the centre output pixel depends (its gradient is non-zero there); right, the magnitude of that gradient on a log scale. Sizes are the same for the paper's 64-channel network.", "name": "fig-receptive-field"}, "image": {"alt": "Left: a gray electron micrograph tile with a large yellow square marking the segmented area and a smaller red square around its centre marking the context of one pixel. Right: a dark image with a bright, roughly square blob of gradient magnitude in the middle, brightest at the centre."}}
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.5, 3.6))
ax.imshow(image, cmap="gray")
b = uc.UNet().border
ax.add_patch(Rectangle((b, b), 388, 388, fill=False, ec="yellow", lw=1.2))
ax.add_patch(Rectangle((cols.min(), rows.min()), extent[1], extent[0], fill=False, ec="red", lw=1.2))
ax.set_title(f"{source}: 572 px input, 388 px output", fontsize=8)
ax2.imshow(np.log10(support + support.max() * 1e-6), cmap="magma")
ax2.set_title(f"|d logit / d input|: {extent[0]} x {extent[1]} px", fontsize=8)
for a in (ax, ax2):
    a.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# A sliding-window network with the same context would classify each of the 388 x 388 = 150,544 output pixels
# from its own patch of this size, recomputing features its neighbours' patches share; the U computes each
# feature once per tile, and the tiles of {ref}`the overlap-tile chapter <overlap-tile>` overlap only by the
# border. The window is a few pixels wider than $2 \cdot 92 + 1$ because the poolings' window boundaries make
# the context depend on the pixel's position modulo 16 (the same chapter measures what this does to tiling).
#
# ## Result beside the paper
#
# All rows are exact properties of `uc.UNet()` computed by this run (they do not depend on the scale
# or the device); the provenance line below the table says which run.

# %%
by_stage = {row["stage"]: row for row in table}
valid = uc.valid_input_sizes(600, min_size=400)
result = {
    "input tile side": table[0]["size_in"][0],
    "output map side": table[-1]["size_out"][0],
    "bottleneck side (after 2 convs)": by_stage[f"enc{net.depth}"]["size_out"][0],
    "bottleneck channels": by_stage[f"enc{net.depth}"]["channels_out"],
    "convolution layers": n_conv,
    "parameters": n_params,
    "valid input sides in [400, 600]": valid,
    "o(n) = n - 184 for every valid n <= 1000": all(uc.unet_output_size(n) == n - 184
                                                  for n in uc.valid_input_sizes(1000)),
}
published = {
    "input tile side": 572,
    "output map side": 388,
    "bottleneck side (after 2 convs)": 28,
    "bottleneck channels": 1024,
    "convolution layers": 23,
    "o(n) = n - 184 for every valid n <= 1000": True,
}
assert all(result[k] == v for k, v in published.items())
recorded = viz.record_results("01_architecture", {**result, "forward 572x572 [s]": round(forward_s, 3)}, scale=SCALE,
                              device=DEVICE, published=published,
                              budget=f"one 572 x 572 forward pass, {forward_s:.1f} s",
                              notes="sizes and counts are exact; the forward time depends on the machine")
this_run = viz.load_results(recorded.parent)["01_architecture"]["runs"][SCALE]
display(Markdown(
    viz.md_table(["quantity (uc.UNet(), 572 x 572 input)", "paper (Fig. 1, Sec. 2)", "this run"],
                 [[key, viz.fmt_like(published.get(key)), viz.fmt_like(value, published.get(key))]
                  for key, value in result.items()])
    + f"\n\nThis run: {viz.provenance(this_run, SCALE)}. The paper states no parameter count and no list of "
    "valid sides (-)."))

# %% [markdown]
# ## What differs, and why
#
# * **Nothing in the sizes**: every feature-map side of the paper's Fig. 1 (572, 570, 568, 284, ..., 28, 56, ...,
#   392, 390, 388) and the 23 convolution layers are reproduced exactly.
# * **The parameter count, 31,030,658**, is not stated in the paper; it follows from the paper's Fig. 1 when each
#   up-convolution halves the channels and every convolution has a bias. The authors' released Caffe
#   model differs in small details the paper does not describe (see the `UNet` docstring), so its count
#   differs slightly.
# * **Valid tile sizes**: only input sides for which every pooling sees an even side work
#   (`uc.valid_input_sizes`); between 400 and 600 these are listed above. Other sides raise a
#   `ValueError` naming the nearest valid ones; {ref}`the overlap-tile chapter <overlap-tile>` relies on
#   this.
# * **Initialisation** of the weights (He et al. {cite}`he2015delving`, as the paper prescribes) is the
#   subject of {ref}`the initialisation chapter <initialisation>`.

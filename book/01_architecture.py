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
# # The network (Fig. 1)
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/01_architecture.ipynb)
#
# **Claim (Sec. 2, Fig. 1).** "The contracting path follows the typical architecture of a convolutional
# network. It consists of the repeated application of two 3x3 convolutions (unpadded convolutions), each
# followed by a rectified linear unit (ReLU) and a 2x2 max pooling operation with stride 2 for
# downsampling. At each downsampling step we double the number of feature channels. Every step in the
# expansive path consists of an upsampling of the feature map followed by a 2x2 convolution
# ('up-convolution') that halves the number of feature channels, a concatenation with the correspondingly
# cropped feature map from the contracting path, and two 3x3 convolutions, each followed by a ReLU. [...]
# At the final layer a 1x1 convolution is used to map each 64-component feature vector to the desired
# number of classes. In total the network has 23 convolutional layers." Fig. 1 draws the sizes for a
# 572 x 572 input tile: a 388 x 388 output map.
#
# Here the table of sizes, the 23 layers and the drawing of the U are all *computed from the PyTorch
# module* `unet_core.UNet`, not copied.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke" | "cpu" | "full": this chapter does the same work at every scale
DEVICE = "auto"  # "auto" picks cuda, then mps, then cpu
SEED = 0
DATA_DIR = None  # unused here: the network needs no data

# %%
import sys

if "google.colab" in sys.modules:  # Colab only: install the package from the repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "unet-core @ git+https://github.com/unet-reproduced/unet-reproduced@main"], check=True)

# %%
import time

import matplotlib.pyplot as plt
import torch

import unet_core as uc
from unet_core import viz

torch.manual_seed(SEED)
device = viz.resolve_device(DEVICE)
print(f"scale={SCALE}, device={viz.device_name(DEVICE)}, unet_core {uc.__version__}, torch {torch.__version__}")

# %% [markdown]
# ## Method
#
# With unpadded ("valid") 3x3 convolutions every convolution removes one pixel on each side, so a
# level of the contracting path maps a side $n$ to $(n - 4)/2$ and a level of the expansive path maps
# $n$ to $2n - 4$. With five levels (four poolings) the output side of an input side $n$ is
#
# $$ a(n) = \Bigl(\bigl(\bigl((n-4)/2-4\bigr)/2-4\bigr)/2-4\Bigr)/2-4 = \frac{n}{16} - 7.75, \qquad
#    o(n) = 16\,a(n) - 4\,(8+4+2+1) = n - 184, $$
#
# where $a(n)$ is the side at the bottom of the U; this holds for *valid* $n$, meaning that every
# pooling sees an even side. $a(572) = 28$ and $o(572) = 388$. The network is built with the
# paper's defaults: one input channel, two classes, 64 channels on the first level doubling to 1024.

# %%
net = uc.UNet()  # in_channels=1, num_classes=2, base_channels=64, depth=5, padding="valid"
table = uc.layer_table(net, input_size=572)
n_conv = uc.count_conv_layers(net)
n_params = uc.count_parameters(net)
print(f"{'stage':<7} {'channels':>12} {'size in':>10} {'size out':>10}")
for row in table:
    chans = f"{row['channels_in']} -> {row['channels_out']}"
    print(f"{row['stage']:<7} {chans:>12} {row['size_in'][0]:>10} {row['size_out'][0]:>10}")
print(f"\nconvolution layers (3x3, 2x2 up-conv and 1x1): {n_conv}")
print(f"parameters: {n_params:,}")

# %% [markdown]
# The table comes from the size arithmetic; a real forward pass through the module confirms it.

# %%
x = torch.zeros(1, 1, 572, 572, device=device)
net = net.to(device).eval()
start = time.perf_counter()
with torch.no_grad():
    y = net(x)
forward_s = time.perf_counter() - start
print(f"input {tuple(x.shape)} -> output {tuple(y.shape)} in {forward_s:.2f} s on {device}")
assert tuple(y.shape) == (1, 2, 388, 388)

# %% [markdown]
# ## The U, drawn from the module
#
# One box per multi-channel feature map (channels above, side below), arrows as in Fig. 1.

# %%
fig = viz.draw_unet(table, title="U-Net for a 572 x 572 input tile (drawn from unet_core.layer_table)")
plt.show()

# %% [markdown]
# ## Result beside the paper

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
print(f"{'quantity':<34} {'paper':>10} {'here':>12}")
for key, value in result.items():
    print(f"{key:<34} {str(published.get(key, '-')):>10} {str(value):>12}")
assert all(result[k] == v for k, v in published.items())
recorded = viz.record_results("01_architecture", {**result, "forward 572x572 [s]": round(forward_s, 3)}, scale=SCALE,
                              device=DEVICE, published=published,
                              notes="sizes and counts are exact; the forward time depends on the machine")
print(f"recorded in {recorded}")

# %% [markdown]
# ## What differs, and why
#
# * **Nothing in the sizes**: every feature-map side of Fig. 1 (572, 570, 568, 284, ..., 28, 56, ...,
#   392, 390, 388) and the 23 convolution layers are reproduced exactly.
# * **The parameter count, 31,030,658**, is not stated in the paper; it follows from Fig. 1 when each
#   up-convolution halves the channels and every convolution has a bias. The authors' released Caffe
#   model differs in small details the paper does not describe (see the `UNet` docstring), so its count
#   differs slightly.
# * **Valid tile sizes**: only input sides for which every pooling sees an even side work
#   (`uc.valid_input_sizes`); between 400 and 600 these are listed above. Other sides raise a
#   `ValueError` naming the nearest valid ones; the overlap-tile chapter relies on this.

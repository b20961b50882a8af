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
# # Initialisation (Sec. 3)
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/05_initialisation.ipynb)
#
# **Claim (Sec. 3).** "In deep networks with many convolutional layers and different paths through the
# network, a good initialization of the weights is extremely important. Otherwise, parts of the network
# might give excessive activations, while other parts never contribute. Ideally the initial weights
# should be adapted such that each feature map in the network has approximately unit variance. For a
# network with our architecture (alternating convolution and ReLU layers) this can be achieved by drawing
# the initial weights from a Gaussian distribution with a standard deviation of $\sqrt{2/N}$, where $N$
# denotes the number of incoming nodes of one neuron [He et al. 2015]. E.g. for a 3x3 convolution and 64
# feature channels in the previous layer $N = 9 \cdot 64 = 576$."
#
# We measure the variance of every feature map of the untrained network, layer by layer, for the
# paper's initialisation and for two common alternatives.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": 1 network per init, 252 x 252 input; "cpu": 3 nets, 572 x 572; "full": 10 nets, 572
DEVICE = "auto"
SEED = 0
DATA_DIR = None  # None -> $UNET_DATA_DIR or ./data; an ISBI 2012 slice is used when present (cpu/full)

# %%
import sys

if "google.colab" in sys.modules:  # Colab only: install the package from the repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "unet-core @ git+https://github.com/unet-reproduced/unet-reproduced@main"], check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import unet_core as uc
from unet_core import viz

N_NETS = {"smoke": 1, "cpu": 3, "full": 10}[SCALE]
TILE = {"smoke": 252, "cpu": 572, "full": 572}[SCALE]  # valid input sides; the widths (and N) are the paper's
device = viz.resolve_device(DEVICE)
print(f"scale={SCALE}: {N_NETS} network(s) per initialisation, {TILE} x {TILE} input, "
      f"device={viz.device_name(DEVICE)}")

# %% [markdown]
# ## Method
#
# For a convolution with $N = k^2 C_\text{in}$ inputs per output, weights $w \sim \mathcal N(0, s^2)$ and
# ReLU inputs $x$, the response $y = \sum_{i=1}^{N} w_i x_i$ has
#
# $$ \operatorname{Var}[y_l] = N_l\, s_l^2\, \mathbb E[x_l^2], \qquad
#    \mathbb E[x_l^2] = \tfrac12 \operatorname{Var}[y_{l-1}] \quad (x_l = \max(0, y_{l-1})), $$
#
# so $\operatorname{Var}[y_l] = \tfrac12 N_l s_l^2 \operatorname{Var}[y_{l-1}]$ and the variance is
# preserved layer after layer exactly when $s_l = \sqrt{2/N_l}$ (He et al. 2015). We compare
#
# * **He** (the paper): $s = \sqrt{2/N}$, `UNet(init="he")`;
# * **naive**: a fixed $s = 0.01$ (a common default of early Caffe models), `UNet(init="naive")`;
# * **Xavier/Glorot** (normal): $s = \sqrt{2/(N_\text{in} + N_\text{out})}$, designed for linear or tanh
#   units: it ignores the ReLU's halving, so the variance halves per layer.
#
# Biases are zero. The input is one tile (572 x 572 as in Fig. 1; 252 x 252 at smoke scale) normalised to zero mean and unit variance; the
# network is in evaluation mode (no dropout). For every convolution we record the variance of each output
# channel (after the ReLU where one follows), averaged over the channels.

# %%
def input_tile(data_dir) -> tuple[np.ndarray, str]:
    """A TILE x TILE tile: ISBI 2012 training slice 0 (mirror-padded to 572) if converted, else synthetic."""
    if TILE == 572:
        try:
            slice0 = uc.load_isbi2012(data_dir).train_images[0].astype(np.float32)  # (512, 512)
            return np.pad(slice0, 30, mode="reflect"), "ISBI 2012 training slice 0 (mirror-padded to 572)"
        except FileNotFoundError as err:
            print(f"ISBI 2012 not found ({err.__class__.__name__}); using a synthetic image")
    image, _, _ = uc.synthetic_em((TILE, TILE), seed=SEED)
    return image, "SYNTHETIC EM-like image (unet_core.synthetic_em), not real data"


image, source = input_tile(DATA_DIR)
x = torch.from_numpy((image - image.mean()) / image.std()).float()[None, None].to(device)  # (1, 1, TILE, TILE)
print(f"input: {source}; mean {x.mean():.3f}, variance {x.var():.3f}")


def xavier_init_(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def feature_map_variances(net: nn.Module, x: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """Per convolution (call order): mean over channels of the per-channel variance of its feature maps."""
    names, values = [], []

    def hook(module, _inputs, out, name):
        # (B, C, H, W); statistics taken here because the following ReLU works in place
        fmap = torch.relu(out) if module.kernel_size == (3, 3) else out
        names.append(name)
        values.append(fmap.double().var(dim=(0, 2, 3)).mean().item())

    handles = [m.register_forward_hook(lambda mod, i, o, n=name: hook(mod, i, o, n))
               for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.no_grad():
            net.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return names, np.array(values)


# %%
inits = {"He (paper)": lambda: uc.UNet(init="he"), "naive, std 0.01": lambda: uc.UNet(init="naive"),
         "Xavier (normal)": lambda: xavier_init_(uc.UNet())}
curves = {}
for label, make in inits.items():
    runs = []
    for k in range(N_NETS):
        torch.manual_seed(SEED + k)
        names, v = feature_map_variances(make().to(device), x)
        runs.append(v)
    curves[label] = np.stack(runs)  # (N_NETS, 23)
    print(f"{label:<17} layer 1: {curves[label][:, 0].mean():.3g}   layer 22: {curves[label][:, -2].mean():.3g}"
          f"   output: {curves[label][:, -1].mean():.3g}")
short = [n.replace("encoders.", "e").replace("decoders.", "d").replace("upconvs.", "up").replace("head", "1x1")
         for n in names]

# %% [markdown]
# ## Result

# %%
fig, ax = plt.subplots(figsize=(10, 4.2))
for label, c in curves.items():
    mid = np.median(c, axis=0)
    ax.semilogy(range(1, len(mid) + 1), mid, marker="o", ms=3, label=label)
    if N_NETS > 1:
        ax.fill_between(range(1, len(mid) + 1), c.min(axis=0), c.max(axis=0), alpha=0.2)
ax.axhline(1.0, color="k", lw=0.8, ls="--")
ax.set_xticks(range(1, len(short) + 1), short, rotation=90, fontsize=7)
ax.set_ylabel("feature-map variance")
ax.set_title(f"Untrained U-Net, variance per layer ({N_NETS} net(s) per init); input: {TILE}x{TILE} "
             + ("SYNTHETIC" if source.startswith("SYNTHETIC") else "ISBI 2012"))
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
he = curves["He (paper)"]
hidden = he[:, :-1]  # every feature map except the final 1x1 logits
result = {
    "He: median feature-map variance": float(np.median(hidden)),
    "He: min / max layer variance": [float(hidden.mean(0).min()), float(hidden.mean(0).max())],
    "naive 0.01: min / max layer variance": [float(curves["naive, std 0.01"][:, :-1].mean(0).min()),
                                             float(curves["naive, std 0.01"][:, :-1].mean(0).max())],
    "naive 0.01: variance at the last hidden layer": float(curves["naive, std 0.01"][:, -2].mean()),
    "Xavier: variance at the last hidden layer": float(curves["Xavier (normal)"][:, -2].mean()),
    "input": ("synthetic" if source.startswith("SYNTHETIC") else "ISBI 2012 slice 0") + f", {TILE} x {TILE}",
}
for key, value in result.items():
    print(f"{key:<48} {value}")
recorded = viz.record_results("05_initialisation", result, scale=SCALE, device=DEVICE,
                              published={"He: median feature-map variance": "approximately 1"},
                              notes=f"{N_NETS} untrained network(s) per initialisation; input: {source}")
print(f"recorded in {recorded}")

# %% [markdown]
# ## What differs, and why
#
# * **He initialisation keeps every feature map at a variance of order one** through all 23 layers
#   (between the min and max printed above, against a factor of about $10^{-9}$ lost with the naive
#   init), including the up-convolutions and the concatenations, as the paper says. It is not exactly
#   1, for reasons the He analysis leaves out: it assumes alternating convolution and ReLU only. In the
#   U-Net, **max-pooling** keeps the largest of four ReLU outputs, which raises the second moment of
#   the next level's input by roughly 1.5x per level, and the **up-convolutions are linear** (no ReLU
#   follows), so their $\sqrt{2/N}$ weights double rather than preserve the variance: the highest
#   points of the He curve are the four up-convolutions. The per-channel variance also excludes each
#   channel's mean over the image, which grows along the contracting path.
# * **A fixed std of 0.01 collapses the signal**: each 3x3 layer multiplies the variance by about
#   $\tfrac12 N \cdot 10^{-4}$, i.e. by 0.03 at $N = 576$, so after a few layers the activations (and
#   the gradients) are vanishingly small: "parts of the network never contribute". The skip
#   connections pass the larger early activations to the decoder, which is why the naive curve rises
#   again after each concatenation.
# * **Xavier** loses about a factor two per layer because it ignores the ReLU.
# * We measure the untrained network only; the paper makes no quantitative statement about training
#   speed with other initialisations, so none is reproduced here.

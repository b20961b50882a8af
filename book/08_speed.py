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
# # Speed: "less than a second" (Sec. 1)
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/08_speed.ipynb)
#
# **Claim (Sec. 1).** "Moreover, the network is fast. Segmentation of a 512x512 image takes less than a
# second on a recent GPU." The GPU of the paper is "a NVidia Titan GPU (6 GB)" (Sec. 3), i.e. a 2013/14
# GTX Titan or Titan Black (Kepler, 4.5 to 5.1 TFLOP/s fp32 peak).
#
# We time the segmentation of a 512 x 512 image, end to end (mirror padding, forward pass, softmax,
# argmax), with `uc.predict_tiled` on the machine that runs this notebook: on its CPU always, and on its
# GPU when there is one, in fp32 and in the fast mode `predict_tiled` offers (bf16 autocast with the
# channels-last memory format).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": CPU runs use base_channels=8, 1 repetition; "cpu"/"full": the paper's network
DEVICE = "auto"  # the GPU (if any) runs the paper's network at every scale
SEED = 0
DATA_DIR = None  # None -> unet_core.data.default_data_dir() ($UNET_DATA_DIR or ./data)

# %%
import sys

if "google.colab" in sys.modules:  # Colab only: install the package from the repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "unet-core @ git+https://github.com/unet-reproduced/unet-reproduced@main"], check=True)

# %%
import copy
import json
import platform
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import unet_core as uc
from unet_core import viz

CPU_REPEAT = {"smoke": 1, "cpu": 3, "full": 2}[SCALE]  # timed repetitions (minimum reported) ...
GPU_REPEAT = {"smoke": 3, "cpu": 5, "full": 10}[SCALE]  # ... the GPU ones take milliseconds
CPU_WIDTH = {"smoke": 8, "cpu": 64, "full": 64}[SCALE]  # base_channels of the CPU runs; 64 = the paper's
device = viz.resolve_device(DEVICE)
devices = [torch.device("cpu")] + ([device] if device.type != "cpu" else [])
data_dir = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
print(f"scale={SCALE}, {CPU_REPEAT} (CPU) / {GPU_REPEAT} (GPU) timed repetition(s) after one warm-up")
print(f"python {platform.python_version()}, torch {torch.__version__}, unet_core {uc.__version__}, "
      f"numpy {np.__version__}")
for dev in devices:
    print(f"{viz.device_name(dev)}" + (f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
                                         if dev.type == "cuda" else ""))

# %% [markdown]
# ## Method
#
# The paper's network has a border of 92 px: to predict all 512 x 512 pixels it needs a
# $512 + 2\cdot 92 = 696$ px input, rounded up to the valid size 700. Two ways to run it:
#
# * **one pass**: a single 700 x 700 tile (what `predict_tiled` chooses by itself when the tile fits its
#   memory budget; the output is 516 x 516, of which 512 x 512 are kept);
# * **four tiles of 572 x 572** (Fig. 1's tile, 388 x 388 output each, at output origins 0 and 128 on
#   both axes), as one would run it on a GPU with less memory.
#
# The work is $F(700) = 493$ GFLOP for one pass and $4 F(572) = 1203$ GFLOP for the four tiles
# (`uc.unet_flops`, multiply-adds counted twice): the **overlap-tile overhead** of the 572 tiling is the
# ratio, 2.4x: 512 px need only a little more than one 388 px output tile, so the four input tiles
# (origins 0 and 128 on each axis) overlap by 444 px and cover a 700 x 700 area 2.7 times. A Titan at its fp32
# peak would need 0.1 s (one pass) and 0.27 s (four tiles) for this arithmetic; at a realistic 30 to 50 %
# of peak (cuDNN of 2015) 0.2 to 0.9 s: "less than a second" is what the FLOPs predict.

# %%
def load_image():
    """(image, source): a 512 x 512 ISBI 2012 test slice, or a synthetic EM-like image."""
    try:
        return uc.load_isbi2012(data_dir).test_images[0], "ISBI 2012 test slice 0"
    except (FileNotFoundError, ValueError) as err:
        print(f"real data unavailable ({err.__class__.__name__}); timing a SYNTHETIC EM-like image "
              "(the time does not depend on the content)")
        return uc.synthetic_em((512, 512), seed=SEED)[0], "SYNTHETIC EM-like image (unet_core.synthetic_em)"


raw, source = load_image()
print(f"{source}: {raw.shape} {raw.dtype}")

PAPER_FLOPS = {"one pass (700)": uc.unet_flops(700), "four tiles (572)": 4 * uc.unet_flops(572)}
for label, flops in PAPER_FLOPS.items():
    print(f"paper's network, {label}: {flops / 1e9:.0f} GFLOP")

# %% [markdown]
# ## Timing
#
# Each configuration is timed end to end: `normalize_image`, `predict_tiled` (mirror padding, tiles,
# forward, softmax, copy back to host memory) and the argmax, i.e. the segmentation a user gets. One
# untimed warm-up run precedes the timed ones (it loads kernels and, on a GPU, selects the convolution
# algorithms). The fast mode gets its own copy of the network, because `channels_last=True` converts the
# module in place. The network is untrained (He initialisation): speed does not depend on the weights.

# %%
MODES = {"fp32": {}, "bf16 + channels_last": {"dtype": torch.bfloat16, "channels_last": True}}
TILINGS = {"one pass (700)": None, "four tiles (572)": 572}


def segment(net, image, dev, tile_size, **mode):
    probs = uc.predict_tiled(net, uc.normalize_image(image), tile_size=tile_size, device=dev, **mode)
    return probs.argmax(0), probs  # (512, 512) labels, (2, 512, 512) probabilities


rows, outputs = [], {}
for dev in devices:
    width = 64 if dev.type != "cpu" else CPU_WIDTH
    torch.manual_seed(SEED)
    base_net = uc.UNet(base_channels=width)
    for mode_name, mode in MODES.items():
        net = copy.deepcopy(base_net)
        for tiling, tile_size in TILINGS.items():
            segment(net, raw, dev, tile_size, **mode)  # warm-up
            times = []
            for _ in range(CPU_REPEAT if dev.type == "cpu" else GPU_REPEAT):
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                start = time.perf_counter()
                labels, probs = segment(net, raw, dev, tile_size, **mode)
                times.append(time.perf_counter() - start)  # predict_tiled returns host arrays: synchronised
            outputs[dev.type, mode_name, tiling] = (labels, probs)
            n_tiles, side = (1, 700) if tile_size is None else (4, tile_size)
            flops = n_tiles * uc.unet_flops(side, base_channels=width)
            rows.append({"device": viz.device_name(dev), "base_channels": width, "mode": mode_name,
                         "tiling": tiling, "seconds": min(times), "GFLOP/s": flops / min(times) / 1e9})
            print(f"{rows[-1]['device']:<38} width {width:>2}  {mode_name:<21} {tiling:<17} "
                  f"{min(times):8.3f} s  ({rows[-1]['GFLOP/s']:.0f} GFLOP/s)")
    del base_net, net

# %% [markdown]
# ## Does the fast mode segment the same?
#
# bf16 keeps 8 bits of mantissa, so the logits change slightly. We count the pixels whose argmax (the
# segmentation) differs from fp32, and the largest change of a class probability. (An untrained network
# has large logit margins almost everywhere, so this is an optimistic check; the training chapter's
# network is the realistic one.)

# %%
agreement = {}
for dev in devices:
    for tiling in TILINGS:
        ref_labels, ref_probs = outputs[dev.type, "fp32", tiling]
        labels, probs = outputs[dev.type, "bf16 + channels_last", tiling]
        agreement[dev.type, tiling] = (float((labels == ref_labels).mean()), float(np.abs(probs - ref_probs).max()))
        print(f"{dev.type}, {tiling:<17}: argmax agreement {agreement[dev.type, tiling][0]:.5%}, "
              f"max |probability difference| {agreement[dev.type, tiling][1]:.3g}")
for dev in devices:
    one, four = outputs[dev.type, "fp32", "one pass (700)"][1], outputs[dev.type, "fp32", "four tiles (572)"][1]
    print(f"{dev.type}, fp32: one pass vs four 572 tiles, max |probability difference| "
          f"{np.abs(one - four).max():.2g} (the tiles sit on the stride-16 grid, see the overlap-tile chapter)")

# %% [markdown]
# ## Result beside the paper

# %%
def seconds(dev_type, mode, tiling):
    return next(r["seconds"] for r in rows if r["device"].startswith(dev_type) and r["mode"] == mode
                and r["tiling"] == tiling)


print(f"{'device':<38} {'width':>5} {'mode':<21} {'tiling':<17} {'seconds':>8}   paper (Titan, 2015)")
for r in rows:
    if r["base_channels"] != 64:
        paper = "- (narrow network: not comparable)"
    else:
        paper = "< 1 s" if r["device"].startswith("cuda") else "- (the claim is for a GPU)"
    print(f"{r['device']:<38} {r['base_channels']:>5} {r['mode']:<21} {r['tiling']:<17} {r['seconds']:8.3f}   {paper}")
overhead = {dev.type: seconds(dev.type, "fp32", "four tiles (572)") / seconds(dev.type, "fp32", "one pass (700)")
            for dev in devices}
for dev_type, ratio in overhead.items():
    print(f"{dev_type}: four 572 tiles take {ratio:.2f}x the time of one 700 pass "
          f"(FLOP ratio {PAPER_FLOPS['four tiles (572)'] / PAPER_FLOPS['one pass (700)']:.2f})")

fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
labels_bar = [f"{r['device'].split(':')[0]}, width {r['base_channels']}, {r['mode']}, {r['tiling']}" for r in rows]
ax.barh(range(len(rows)), [r["seconds"] for r in rows], color=["tab:blue" if "fp32" in r["mode"] else "tab:orange"
                                                             for r in rows])
ax.axvline(1.0, color="k", ls="--", lw=1)
ax.text(1.0, len(rows) - 0.6, " paper: < 1 s on a Titan (width 64)", va="bottom", fontsize=8)
ax.set_yticks(range(len(rows)), labels_bar, fontsize=8)
ax.set_xlabel("seconds to segment a 512 x 512 image")
ax.set_title(f"End-to-end predict_tiled + argmax, this machine ({SCALE} scale, untrained network)", fontsize=9)
ax.invert_yaxis()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The committed benchmarks
#
# `benchmarks/bench_tiling.py` times more ways to run `predict_tiled` on a 512 x 512 image (bf16 model
# casts, `torch.jit.freeze`, `torch.compile`), the tiling overhead against bare forward passes and the
# memory of an 8192 x 8192 memory-mapped image; `benchmarks/bench_network.py` times the network alone
# (forward and training step). Their JSON files record the machine they ran on. They are part of the
# repository, not of the installed package, so a Colab run may not have them.

# %%
def show_benchmark(name, max_rows=24):
    for root in (Path.cwd().parent, Path.cwd()):
        path = root / "benchmarks" / "results" / f"{name}.json"
        if path.is_file():
            break
    else:
        print(f"{name}.json: not found (run `python benchmarks/bench_{name}.py` in the repository)")
        return None
    doc = json.loads(path.read_text())
    m = doc.get("machine", {})
    print(f"{name}.json, measured {m.get('date')} on {m.get('cpu')} ({m.get('cpu_count')} cores, "
          f"{m.get('torch_threads')} torch threads), GPU {m.get('gpu')}, torch {m.get('torch')}")

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                yield f"{prefix}{k}", v

    items = list(flat(doc.get("results", {}))) if max_rows else []
    for key, value in items[:max_rows]:
        print(f"  {key:<60} {value:.4g}")
    if len(items) > max_rows:
        print(f"  ... {len(items) - max_rows} more numbers in {path.name}")
    return doc


tiling_bench = show_benchmark("tiling", max_rows=0)
if tiling_bench is not None:  # its 512 x 512 speed table: predict_tiled modes of the paper's network
    speed = tiling_bench.get("results", {}).get("speed_512", {})
    print(f"  {speed.get('image', '')}; {speed.get('network', '')}; {speed.get('torch_threads', '?')} threads")
    print(f"  {'mode':<58} {'min s':>8} {'argmax = fp32':>14}")
    for mode_name, row in speed.get("modes", {}).items():
        if "min_s" in row:
            agree = row.get("argmax_agreement_vs_fp32")
            print(f"  {mode_name:<58} {row['min_s']:8.2f} {'' if agree is None else f'{agree:.4%}':>14}")
        else:
            print(f"  {mode_name:<58} {row.get('error', 'not measured')[:60]}")
    for part in ("overhead", "memory_8192"):
        if part in tiling_bench.get("results", {}):
            numbers = {k: v for k, v in tiling_bench["results"][part].items() if not isinstance(v, dict)}
            print(f"  {part}: {numbers}")
network_bench = show_benchmark("network")

# %% [markdown]
# Reading `network.json`: it times one forward pass of the paper's network over a 572 x 572 tile, in fp32
# and in bf16 with channels-last. Scaled by the FLOPs, that predicts the time of the two tilings of a
# 512 x 512 image on the benchmark's machine (forward passes only), to set beside the end-to-end times
# measured above (same machine only if the device names agree).

# %%
if network_bench is not None:
    modes = network_bench["results"]["modes"]
    for mode_key, fwd in ((k, v["forward"]) for k, v in modes.items()):
        per_572 = fwd["min_s"]
        print(f"network.json, {mode_key}: {per_572:.2f} s per 572 tile -> predicted "
              f"{per_572 * PAPER_FLOPS['one pass (700)'] / uc.unet_flops(572):.1f} s for one 700 pass, "
              f"{4 * per_572:.1f} s for four 572 tiles (paper's network)")

# %%
result = {}
for dev in devices:
    for r in rows:
        if r["device"] == viz.device_name(dev):
            result[f"{dev.type}, {r['mode']}, {r['tiling']} [s]"] = round(r["seconds"], 4)
    result[f"{dev.type}: four 572 tiles / one 700 pass (time)"] = round(overhead[dev.type], 3)
    for tiling in TILINGS:
        result[f"{dev.type}, {tiling}: bf16 argmax agreement with fp32"] = agreement[dev.type, tiling][0]
flop_ratio = PAPER_FLOPS["four tiles (572)"] / PAPER_FLOPS["one pass (700)"]
result["FLOP ratio four 572 tiles / one 700 pass"] = round(flop_ratio, 3)
result["devices"] = [viz.device_name(dev) for dev in devices]
result["base_channels of the CPU runs (GPU: 64)"] = CPU_WIDTH
published = {f"cuda, fp32, {tiling} [s]": "< 1 (NVidia Titan, 2015; tiling not stated)" for tiling in TILINGS}
for key, value in result.items():
    print(f"{key:<62} {value}")
recorded = viz.record_results("08_speed", result, scale=SCALE, device=DEVICE, published=published,
                              notes=f"untrained network; CPU runs with base_channels={CPU_WIDTH}; "
                                    f"{CPU_REPEAT}/{GPU_REPEAT} repetition(s) (CPU/GPU), minimum reported; "
                                    f"input: {source}")
print(f"recorded in {recorded}")

# %% [markdown]
# ## What differs, and why
#
# * **On a GPU the claim is arithmetic**: 0.5 to 1.2 TFLOP per 512 x 512 image (depending on the tiling)
#   is a fraction of a second of a 2015 GPU at a realistic fraction of its peak, and a few hundredths of
#   a second of a current one, where bf16 helps further. Run this notebook on a GPU (e.g. Colab) to get
#   the GPU rows of the table; the results page says on which devices the recorded runs were made (the
#   machine that built this book has no GPU, so its numbers are CPU numbers).
# * **On a CPU it is seconds, not less than one**: on the 2-core AMD EPYC (AVX-512 BF16) that recorded
#   the `cpu`-scale run, the paper's network did about 23 GFLOP/s in fp32, i.e. 22 s for one 700 pass and
#   48 s for four 572 tiles, and 8 s and 21 s with bf16 autocast, about 60 GFLOP/s (a shared, loaded
#   machine: an earlier run gave 25, 55, 6 and 26 s; ratios within one run are more reliable than the
#   absolute times). bf16 helps on CPUs with bf16 units (AVX-512 BF16,
#   AMX) and does nothing useful elsewhere. The smoke run times a network with 8 instead of 64 channels
#   on the first level, 64x less arithmetic, so its times are not comparable to the claim.
# * **Tiling costs time**: overlapping tiles recompute the context; four 572 tiles do 2.4x the arithmetic
#   of one 700 pass. `predict_tiled` therefore picks the largest tile that fits its memory budget
#   (`memory_budget_mb`, 1 GiB by default: 700 x 700 for a 512 x 512 image).
# * **The fast mode segments almost the same**: bf16 changes the class probabilities by up to about 0.07,
#   and the argmax flips on a small fraction of the pixels, those whose logit margin is near zero
#   (printed above: about 0.2 % of the pixels at smoke and at cpu scale, measured with an untrained
#   network, whose output is noisier than a trained one's).
# * **What we do not time**: the paper's number presumably counts only the network (Caffe) on one tile;
#   ours includes padding, transfers, softmax and argmax, and excludes reading the file and starting
#   Python. The paper does not say whether its "less than a second" uses test-time augmentation (their
#   ISBI submission averages 7 rotated versions, i.e. several times the work).

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
# (speed)=
# # Abstract: speed, "less than a second"
#
# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/unet-reproduced/unet-reproduced/blob/main/book/08_speed.ipynb)
#
# **Claim (abstract).** "Moreover, the network is fast. Segmentation of a 512x512 image takes less than a
# second on a recent GPU." {cite}`ronneberger2015unet` It does not say which GPU; the one it names trained the net
# ("10 hours on a NVidia Titan GPU (6 GB)", Sec. 5): a GTX Titan or Titan Black (Kepler, 4.5-5.1 TFLOP/s fp32), our guess.
#
# We time the segmentation of a 512 x 512 image with the network of {ref}`architecture`, end to end
# (mirror padding, forward pass, softmax, argmax), with `uc.predict_tiled` (the overlap-tile strategy of
# {ref}`overlap-tile`) on the machine that runs this notebook: on its CPU always, and on its GPU when
# there is one, in fp32 and in the fast mode `predict_tiled` offers (bf16 autocast with the
# channels-last memory format). Which devices the numbers on this page were measured on is read from
# the recorded runs, and said beside each number.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": CPU runs use base_channels=8, 1 repetition; "cpu"/"full": the paper's network
DEVICE = "auto"  # the GPU (if any) runs the paper's network at every scale
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
import copy
import platform
import re
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import unet_core as uc
from unet_core.book import figures, viz
from unet_core.book.samples import em_slice
from unet_core.utils import check_cap

CHAPTER = "08_speed"
CPU_REPEAT = check_cap.capped_repeat({"smoke": 1, "cpu": 3, "full": 2}[SCALE])  # timed repetitions (minimum reported) ...
GPU_REPEAT = check_cap.capped_repeat({"smoke": 3, "cpu": 5, "full": 10}[SCALE])  # ... the GPU ones take milliseconds
CPU_WIDTH = {"smoke": 8, "cpu": 64, "full": 64}[SCALE]  # base_channels of the CPU runs; 64 = the paper's
device = viz.resolve_device(DEVICE)
devices = [torch.device("cpu")] + ([device] if device.type != "cpu" else [])
data_dir = Path(DATA_DIR) if DATA_DIR is not None else uc.default_data_dir()
WARMUP = "no warm-up (capped check run)" if check_cap.cap() is not None else "one warm-up"
print(f"scale={SCALE}, {CPU_REPEAT} (CPU) / {GPU_REPEAT} (GPU) timed repetition(s) after {WARMUP}")
viz.check_cap_notice()  # only under $UNET_CHECK_CAP: says that this run is a capped check, not a result
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
# The work is $F(700)$ for one pass and $4 F(572)$ for the four tiles, with $F$ the floating-point
# operations of one forward pass (`uc.unet_flops`, multiply-adds counted twice). Their ratio is the
# **overlap-tile overhead** of the 572 tiling: 512 px need only a little more than one 388 px output
# tile, so the four input tiles overlap by 444 px and cover the 700 x 700 area about 2.7 times. Dividing
# by a Titan's peak (and by a realistic 30 to 50 % of it, cuDNN of 2015) gives the time a GPU of the
# paper's kind needs for this arithmetic:

# %%
raw, source = em_slice(data_dir, allow_synthetic=True, seed=SEED, test=True)  # the time does not depend on the content
raw = check_cap.capped_image(raw)  # $UNET_CHECK_CAP: a central crop
print(f"{source}: {raw.shape} {raw.dtype}")

PAPER_FLOPS = {"one pass (700)": uc.unet_flops(700), "four tiles (572)": 4 * uc.unet_flops(572)}
FLOP_RATIO = PAPER_FLOPS["four tiles (572)"] / PAPER_FLOPS["one pass (700)"]
TITAN_PEAK = (4.5e12, 5.1e12)  # fp32 FLOP/s, GTX Titan / Titan Black
display(Markdown(viz.md_table(
    ["tiling", "GFLOP (paper's network)", "Titan at peak [s]", "Titan at 30-50 % of peak [s]"],
    [[label, f"{flops / 1e9:.0f}", f"{flops / TITAN_PEAK[1]:.2f} to {flops / TITAN_PEAK[0]:.2f}",
      f"{flops / (0.5 * TITAN_PEAK[1]):.2f} to {flops / (0.3 * TITAN_PEAK[0]):.2f}"]
     for label, flops in PAPER_FLOPS.items()])
    + f"\n\nFLOP ratio four 572 tiles / one 700 pass: {FLOP_RATIO:.2f} (computed by `uc.unet_flops`). "
    "\"Less than a second\" is what the FLOPs predict for the paper's GPU."))

# %% [markdown]
# ## Timing
#
# Each configuration is timed end to end: `normalize_image`, `predict_tiled` (mirror padding, tiles,
# forward, softmax, copy back to host memory) and the argmax, i.e. the segmentation a user gets. One
# untimed warm-up run precedes the timed ones (it loads kernels and, on a GPU, selects the convolution
# algorithms). Each mode gets its own copy of the network (`precision=` names the numerics:
# `"bf16+channels_last"` is bf16 autocast on NHWC tensors). The network is untrained (He initialisation): speed does not depend on the weights.

# %%
MODES = {"fp32": {}, "bf16 + channels_last": {"precision": "bf16+channels_last"}}
TILINGS = {"one pass (700)": None, "four tiles (572)": 572}


def segment(net, image, dev, tile_size, **mode):
    probs = uc.predict_tiled(net, uc.normalize_image(image), tile_size=tile_size, device=dev, **mode)
    return probs.argmax(0), probs  # (512, 512) labels, (2, 512, 512) probabilities


if SCALE == "smoke":
    print(viz.SMOKE_LABEL)
rows, outputs = [], {}
t_start = time.perf_counter()
for dev in devices:
    width = 64 if dev.type != "cpu" else CPU_WIDTH
    torch.manual_seed(SEED)
    base_net = uc.UNet(base_channels=width)
    for mode_name, mode in MODES.items():
        net = copy.deepcopy(base_net)
        for tiling, tile_size in TILINGS.items():
            if check_cap.cap() is None:  # $UNET_CHECK_CAP: the timed run only
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
                  f"{viz.fmt_like(min(times)):>8} s  ({rows[-1]['GFLOP/s']:.0f} GFLOP/s)")
    del base_net, net
total_seconds = time.perf_counter() - t_start

# %% [markdown]
# ## Does the fast mode segment the same?
#
# bf16 keeps 8 bits of mantissa, so the logits change slightly. We count the pixels whose argmax (the
# segmentation) differs from fp32, and the largest change of a class probability. (An untrained network
# has large logit margins almost everywhere, so this is an optimistic check; the training chapter's
# network is the realistic one.)

# %%
if SCALE == "smoke":
    print(viz.SMOKE_LABEL)
agreement = {}
for dev in devices:
    for tiling in TILINGS:
        ref_labels, ref_probs = outputs[dev.type, "fp32", tiling]
        labels, probs = outputs[dev.type, "bf16 + channels_last", tiling]
        agreement[dev.type, tiling] = (float((labels == ref_labels).mean()), float(np.abs(probs - ref_probs).max()))
        print(f"{dev.type}, {tiling:<17}: argmax agreement {agreement[dev.type, tiling][0]:.3%}, "
              f"max |probability difference| {viz.fmt_like(agreement[dev.type, tiling][1])}")
for dev in devices:
    one, four = outputs[dev.type, "fp32", "one pass (700)"][1], outputs[dev.type, "fp32", "four tiles (572)"][1]
    print(f"{dev.type}, fp32: one pass vs four 572 tiles, max |probability difference| "
          f"{viz.fmt_like(float(np.abs(one - four).max()))} (the tiles sit on the stride-16 grid, see the "
          "overlap-tile chapter)")

# %%
def seconds(dev_type, mode, tiling):
    return next(r["seconds"] for r in rows if r["device"].startswith(dev_type) and r["mode"] == mode
                and r["tiling"] == tiling)


overhead = {dev.type: seconds(dev.type, "fp32", "four tiles (572)") / seconds(dev.type, "fp32", "one pass (700)")
            for dev in devices}
result = {}
for dev in devices:
    for r in rows:
        if r["device"] == viz.device_name(dev):
            result[f"{dev.type}, {r['mode']}, {r['tiling']} [s]"] = round(r["seconds"], 4)
    result[f"{dev.type}: four 572 tiles / one 700 pass (time)"] = round(overhead[dev.type], 3)
    for tiling in TILINGS:
        result[f"{dev.type}, {tiling}: bf16 argmax agreement with fp32"] = round(agreement[dev.type, tiling][0], 6)
        result[f"{dev.type}, {tiling}: bf16 max probability difference"] = round(agreement[dev.type, tiling][1], 4)
result["FLOP ratio four 572 tiles / one 700 pass"] = round(FLOP_RATIO, 3)
result["devices"] = [viz.device_name(dev) for dev in devices]
result["base_channels of the CPU runs (GPU: 64)"] = CPU_WIDTH
result["timed repetitions (CPU, GPU)"] = [CPU_REPEAT, GPU_REPEAT]
PUBLISHED = {f"cuda, fp32, {tiling} [s]": "< 1 (a recent GPU of 2015, not named; tiling not stated)" for tiling in TILINGS}
recorded = viz.record_results(
    CHAPTER, result, scale=SCALE, device=DEVICE, published=PUBLISHED,
    notes=f"untrained network; CPU runs with base_channels={CPU_WIDTH}; {CPU_REPEAT}/{GPU_REPEAT} repetition(s) "
          f"(CPU/GPU), minimum reported; input: {source}",
    budget=f"{len(MODES) * len(TILINGS)} configurations per device, each 1 warm-up + {CPU_REPEAT} (CPU) / "
           f"{GPU_REPEAT} (GPU) timed runs; {total_seconds:.0f} s in all")
print(f"recorded in results/{recorded.name}")

# %% [markdown]
# ## Result beside the paper
#
# The table holds only the paper's network (64 channels) at `cpu` or `full` scale: this run when it was
# one and every such run in `book/results/08_speed.json`, one row per device, precision mode and tiling,
# each with where, when and how it was measured (a `smoke` run is printed above and never appears here).

# %% tags=["remove-input"]
def recorded_rows():
    """(rows, runs): the timing rows of every recorded cpu/full run, and those runs (scale, run)."""
    doc = viz.load_results(recorded.parent if SCALE != "smoke" else None).get(CHAPTER) or {}
    runs = [(s, doc["runs"][s]) for s in ("cpu", "full") if s in doc.get("runs", {})]
    out = []
    for scale, run in runs:
        vals = run["values"]
        reps = vals.get("timed repetitions (CPU, GPU)")
        if reps is None:  # runs recorded before the repetitions were a value: read them from the notes
            m = re.search(r"(\d+)/(\d+) repetition", run.get("notes", ""))
            reps = [int(m[1]), int(m[2])] if m else [None, None]
        for name in vals.get("devices", []):
            dev_type = name.split(":")[0]
            width = vals.get("base_channels of the CPU runs (GPU: 64)", 64) if dev_type == "cpu" else 64
            rep = reps[0] if dev_type == "cpu" else reps[1]
            for mode in MODES:
                for tiling in TILINGS:
                    secs = vals.get(f"{dev_type}, {mode}, {tiling} [s]")
                    if secs is None:
                        continue
                    n_tiles, side = (1, 700) if tiling.startswith("one") else (4, 572)
                    out.append({"scale": scale, "date": run["date"][:10], "device": name, "dev_type": dev_type,
                                "width": width, "mode": mode, "tiling": tiling, "seconds": secs, "repeat": rep,
                                "GFLOP/s": n_tiles * uc.unet_flops(side, base_channels=width) / secs / 1e9,
                                "agreement": vals.get(f"{dev_type}, {tiling}: bf16 argmax agreement with fp32"),
                                "max_diff": vals.get(f"{dev_type}, {tiling}: bf16 max probability difference")})
    return out, runs


table_rows, runs = recorded_rows()
paper_row = ["a recent GPU (not named), Caffe", "64", "fp32 (Caffe)", "not stated", "< 1", "-", "< 1", "the paper, abstract and Sec. 5 (2015)"]
lines = [[r["device"], str(r["width"]), r["mode"], r["tiling"], viz.fmt_like(r["seconds"]),
          f"{r['GFLOP/s']:.0f}",
          ("< 1 (a 2015 GPU)" if r["dev_type"] == "cuda" else "- (the claim is for a GPU)") if r["width"] == 64
          else "- (narrow network)",
          f"{r['scale']} scale, {r['date']}; min of {r['repeat']} timed run(s) after 1 warm-up"]
         for r in table_rows]
if lines:
    display(Markdown(
        viz.md_table(["measured on", "base channels", "mode", "tiling", "seconds", "GFLOP/s", "paper [s]", "run"],
                     [paper_row] + lines)
        + "\n\n" + "\n".join(f"* **{s} run**: {viz.provenance(run, s)}; {run.get('notes', '')}." for s, run in runs)))
else:
    display(Markdown("*No `cpu` or `full` run of this chapter is recorded: run it with `SCALE = \"cpu\"` (CPU) "
                     "or `\"full\"` (on a GPU) to fill this table.*"))

# %% tags=["remove-input"]
def spoken(name):
    """'cpu: AMD EPYC, 2 threads' -> 'the CPU AMD EPYC, 2 threads'; 'cuda: NVIDIA H100' -> 'the GPU NVIDIA H100'."""
    kind, _, model = name.partition(": ")
    return f"the {'GPU' if kind == 'cuda' else kind.upper()} {model}" if model else name


def devices_sentence(table_rows, runs):
    """Which devices the numbers above were measured on, and what that means for the claim: from the data."""
    if not table_rows:
        return "No reproduction is recorded, so this page measures no device beyond the smoke run above."
    measured = {}
    for r in table_rows:
        measured.setdefault((r["dev_type"], r["device"]), set()).add(f"{r['scale']} scale, {r['date']}")
    parts = [f"{spoken(name)} ({'; '.join(sorted(when))})" for (_, name), when in measured.items()]
    text = "The rows above were measured on " + " and ".join(parts) + ". "
    gpu = [r for r in table_rows if r["dev_type"] == "cuda" and r["mode"] == "fp32"]
    if gpu:
        best = {r["tiling"]: r["seconds"] for r in gpu}
        verdict = "below" if max(best.values()) < 1 else "not all below"
        text += ("On the GPU the paper's network in fp32 segments the 512 x 512 image in "
                 + " and ".join(f"{viz.fmt_like(s)} s ({t})" for t, s in best.items())
                 + f": {verdict} the paper's one second, on a GPU about ten years newer than those of 2015.")
    else:
        text += ("No GPU run is recorded, so the claim itself, which is about a GPU, is not reproduced on this "
                 "page; the CPU rows show what the same network costs without one. Run this chapter on a GPU "
                 "(`SCALE = \"full\"`, e.g. on Colab) to add the GPU rows.")
    return text


display(Markdown(devices_sentence(table_rows, runs)))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Seconds to segment a 512 x 512 image end to end (predict_tiled + argmax) with the paper's network, one bar per measured device, precision mode and tiling of the table above (blue: fp32, orange: bf16 + channels_last); the dashed line is the paper's \"less than a second\" on an NVidia Titan. Bars come from the recorded cpu/full runs (device, scale and date in the labels); without one, from this build's smoke run, as its title says.", "name": "fig-speed"}, "image": {"alt": "Horizontal bar chart of segmentation time in seconds, one bar per device, mode and tiling, labelled with device, scale and date; a dashed vertical line at 1 second marks the paper's claim for a GPU, and the fp32 bars are longer than the bf16 ones."}}
if table_rows:
    bars = [(f"{r['device']}, {r['scale']} scale, {r['date']}\n{r['mode']}, {r['tiling']}", r["seconds"], r["mode"])
            for r in table_rows]
    title = "Recorded runs of the paper's network (64 channels), untrained"
else:  # nothing recorded (e.g. a copy without book/results): this run, labelled as the smoke check it is
    bars = [(f"{r['device']}, width {r['base_channels']}\n{r['mode']}, {r['tiling']}", r["seconds"], r["mode"])
            for r in rows]
    title = f"This run, {SCALE} scale" + (" (pipeline check, narrow CPU network: not comparable)" if SCALE == "smoke" else "")
figures.draw_speed_bars(bars, title)
plt.show()

# %% [markdown]
# {numref}`fig-speed` draws the rows of the table.
#
# ## The committed benchmarks
#
# `benchmarks/bench_tiling.py` times more ways to run `predict_tiled` on a 512 x 512 image (bf16 model
# casts, `torch.jit.freeze`, `torch.compile`), the tiling overhead against bare forward passes and the
# memory of an 8192 x 8192 memory-mapped image; `benchmarks/bench_network.py` times the network alone
# (forward and training step). Their JSON files record the machine they ran on, printed with their
# numbers. They are part of the repository, not of the installed package, so a Colab run may not have them.

# %%
def load_benchmark(name):
    doc, where = figures.load_benchmark(name)
    if doc is None:
        print(f"{name}.json: not found (run `python benchmarks/bench_{name}.py` in the repository)")
    return doc, where


tiling_bench, where = load_benchmark("tiling")
if tiling_bench is not None:  # its 512 x 512 speed table: predict_tiled modes of the paper's network
    res = tiling_bench.get("results", {})
    speed = res.get("speed_512", {})
    table = [[mode_name, viz.fmt_like(row["min_s"]), "-" if row.get("argmax_agreement_vs_fp32") is None
              else f"{row['argmax_agreement_vs_fp32']:.3%}"] if "min_s" in row
             else [mode_name, row.get("error", "not measured")[:60], "-"]
             for mode_name, row in speed.get("modes", {}).items()]
    extra = []
    for part in ("overhead", "memory_8192"):
        if part in res:
            numbers = ", ".join(f"{k} {viz.fmt_like(v)}" for k, v in res[part].items()
                                if not isinstance(v, (dict, list)) and k != "note")
            extra.append(f"* **{part}**: {numbers}")
    display(Markdown(f"{where}; {speed.get('image', '')}; {speed.get('network', '')}.\n\n"
                     + viz.md_table(["predict_tiled mode (512 x 512)", "min s", "argmax = fp32"], table)
                     + "\n\n" + "\n".join(extra)))
network_bench, network_where = load_benchmark("network")

# %% [markdown]
# Reading `network.json`: it times one forward pass of the paper's network over a 572 x 572 tile, in fp32
# and in bf16 with channels-last. Scaled by the FLOPs, that predicts the time of the two tilings of a
# 512 x 512 image on the benchmark's machine (forward passes only), to set beside the end-to-end times
# measured above (same machine only if the device names agree).

# %%
if network_bench is not None:
    predicted = []
    for mode_key, fwd in ((k, v["forward"]) for k, v in network_bench["results"]["modes"].items()):
        per_572 = fwd["min_s"]
        predicted.append([mode_key, viz.fmt_like(per_572),
                          viz.fmt_like(per_572 * PAPER_FLOPS["one pass (700)"] / uc.unet_flops(572)),
                          viz.fmt_like(4 * per_572)])
    display(Markdown(f"{network_where}.\n\n" + viz.md_table(
        ["mode", "s per 572 tile (measured)", "one 700 pass [s] (predicted)", "four 572 tiles [s] (predicted)"],
        predicted)))

# %% [markdown]
# ## What differs, and why

# %% tags=["remove-input"]
TILING_WORDS = {"one pass (700)": "one 700 pass", "four tiles (572)": "four 572 tiles"}


def differs(table_rows):
    """The bullets that quote measured numbers, written from the recorded rows above."""
    out = []
    cpu = {(r["mode"], r["tiling"]): r for r in table_rows if r["dev_type"] == "cpu" and r["width"] == 64}
    gpu = {(r["mode"], r["tiling"]): r for r in table_rows if r["dev_type"] == "cuda"}
    if gpu:
        g = next(iter(gpu.values()))
        out.append(f"**On a GPU the claim holds**: on {spoken(g['device'])} ({g['scale']} scale, {g['date']}) the "
                   "paper's network segments the image in " + ", ".join(
                       f"{viz.fmt_like(r['seconds'])} s ({m}, {t})" for (m, t), r in gpu.items()) + ".")
    else:
        out.append("**On a GPU the claim is arithmetic**: 0.5 to 1.2 TFLOP per 512 x 512 image (depending on the "
                   "tiling) is a fraction of a second of a 2015 GPU at a realistic fraction of its peak (the "
                   "table under *Method*). No GPU run is recorded (see the table above), so this page does not "
                   "measure it: run the chapter on a GPU to add those rows.")
    if cpu:
        f1, f4 = cpu.get(("fp32", "one pass (700)")), cpu.get(("fp32", "four tiles (572)"))
        b1, b4 = cpu.get(("bf16 + channels_last", "one pass (700)")), cpu.get(("bf16 + channels_last", "four tiles (572)"))
        if f1 and f4 and b1 and b4:
            out.append(f"**On a CPU it is seconds, not less than one**: on {spoken(f1['device'])} ({f1['scale']} scale, "
                       f"{f1['date']}) the paper's network took {viz.fmt_like(f1['seconds'])} s for one 700 pass and "
                       f"{viz.fmt_like(f4['seconds'])} s for four 572 tiles in fp32 ({f1['GFLOP/s']:.0f} GFLOP/s), "
                       f"and {viz.fmt_like(b1['seconds'])} s and {viz.fmt_like(b4['seconds'])} s with bf16 autocast "
                       f"and channels-last ({b1['GFLOP/s']:.0f} GFLOP/s). bf16 helps on CPUs with bf16 units "
                       "(AVX-512 BF16, AMX) and does nothing useful elsewhere. Absolute times on a shared machine "
                       "vary from run to run; ratios within one run are more reliable.")
            out.append(f"**Tiling costs time**: overlapping tiles recompute the context; four 572 tiles do "
                       f"{FLOP_RATIO:.2f}x the arithmetic of one 700 pass and took "
                       f"{f4['seconds'] / f1['seconds']:.2f}x its time in that run. `predict_tiled` therefore "
                       "picks the largest tile that fits its memory budget (`memory_budget_mb`, 1 GiB by "
                       "default: 700 x 700 for a 512 x 512 image).")
        agree = [r for r in cpu.values() if r["agreement"] is not None]
        if agree:
            diffs = [r["max_diff"] for r in agree if r["max_diff"] is not None]
            out.append("**The fast mode segments almost the same**: in that run bf16 kept the fp32 argmax on "
                       + " and ".join(f"{r['agreement']:.2%} of the pixels with {TILING_WORDS[r['tiling']]}"
                                      for r in agree if r["mode"] == "fp32")
                       + (f", changing a class probability by at most {viz.fmt_like(max(diffs))}" if diffs else "")
                       + "; the flipped pixels are those whose logit margin is near zero, measured with an "
                       "untrained network, whose output is noisier than a trained one's.")
    return "\n".join(f"* {b}" for b in out)


display(Markdown(differs(table_rows)))

# %% [markdown]
# * **Smoke runs are not comparable**: at `smoke` scale the CPU times a network with 8 instead of 64
#   channels on the first level, 64x less arithmetic; its numbers are printed under their label only.
# * **What we do not time**: the paper's number presumably counts only the network (Caffe) on one tile;
#   ours includes padding, transfers, softmax and argmax, and excludes reading the file and starting
#   Python. The paper does not say whether its "less than a second" uses test-time augmentation (their
#   ISBI submission averages 7 rotated versions, i.e. several times the work, see {ref}`isbi2012`).

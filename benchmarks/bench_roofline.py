"""Roofline of the CPU training step: memory bandwidth, matmul peak and a per-layer profile.

    python benchmarks/bench_roofline.py [--quick] [--recipe isbi2012-cpu] [--out PATH]

Measures on this CPU, in one run:

* the memory bandwidth (GB/s, median of repeats) of a large tensor copy and add (bytes read +
  written), out of DRAM (256 MiB arrays) and at the size of one 16-channel activation of the
  recipe's tile (which may stay in the last-level cache);
* the fp32 matmul peak (2048^3 ``torch.mm``, best of repeats, as ``bench_train.py --throughput``);
* the training step of the recipe's network (forward, Eq. 1 loss, backward, Adam; cached tensors),
  interleaved with the matmul, so that their ratio is read within each round (median and spread);
  its forward / loss / backward / optimiser split; the top aten ops of one step under
  ``torch.profiler``;
* each layer in isolation (every Conv2d, ConvTranspose2d, ReLU, MaxPool2d, Dropout, the decoder's
  crop + concatenation, the loss and the Adam update), forward and backward, with its FLOPs and the
  bytes it must move at least (fp32 inputs + outputs + weights, read or written once), hence its
  arithmetic intensity (FLOP/byte), its achieved GFLOP/s and its roofline bound
  ``min(peak, bandwidth x intensity)``; a layer is memory-bound where its intensity is below the
  ridge point ``peak / bandwidth``. The summary adds the per-layer times at their bounds (the step's
  attainable time under the roofline) and compares it with the measured step.

Both memory layouts are profiled (NCHW and channels_last). Writes
``benchmarks/results/train_roofline.json`` (or ``--out``) with the machine (CPU model, cores, the
avx512f / avx512_bf16 / amx flags, torch version), the date and the load average before and after.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, machine_info, matmul_peak  # noqa: E402

from unet_core.recipes.registry import get_recipe  # noqa: E402
from unet_core.training.loss import weighted_cross_entropy  # noqa: E402

FP32 = 4  # bytes per element
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def cpu_facts(path: str = "/proc/cpuinfo") -> dict:
    """CPU model, logical cores and the SIMD flags that decide the matmul peak and bf16.

    Parameters
    ----------
    path : str
        The cpuinfo file.

    Returns
    -------
    dict
        ``model``, ``logical_cores``, ``flags`` (name -> bool for :data:`CPU_FLAGS`).
    """
    model, flags = None, set()
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("model name") and model is None:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"model": model, "logical_cores": os.cpu_count(), "flags": {f: f in flags for f in CPU_FLAGS}}


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where /proc/loadavg is missing)."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _median_time(fn, repeat: int, warmup: int = 1) -> list[float]:
    """Seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def bandwidth(nbytes: int, repeat: int) -> dict:
    """Memory bandwidth of a copy and an add of fp32 arrays of ``nbytes`` each.

    Parameters
    ----------
    nbytes : int
        Size of each array.
    repeat : int
        Timed repeats; the median is reported.

    Returns
    -------
    dict
        ``array_mib``, ``copy_gbs`` (2 x nbytes per copy: read + write), ``add_gbs`` (3 x nbytes).
    """
    n = nbytes // FP32
    a, b, c = torch.rand(n), torch.rand(n), torch.empty(n)
    copy_s = statistics.median(_median_time(lambda: c.copy_(a), repeat))
    add_s = statistics.median(_median_time(lambda: torch.add(a, b, out=c), repeat))
    return {
        "array_mib": round(nbytes / 2**20, 1),
        "copy_gbs": round(2 * nbytes / copy_s / 1e9, 2),
        "add_gbs": round(3 * nbytes / add_s / 1e9, 2),
    }


class _Step:
    """One training step of ``net`` (forward, weighted cross-entropy, backward, Adam) on cached tensors."""

    def __init__(self, net: nn.Module, tile: int, batch: int, channels_last: bool):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.to(memory_format=fmt).train()
        out = net.output_size(tile)
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(batch, net.in_channels, tile, tile, generator=gen).contiguous(memory_format=fmt)
        self.y = torch.randint(0, 2, (batch, out, out), generator=gen)
        self.w = torch.ones(batch, out, out)
        self.opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def __call__(self) -> dict:
        """Run one step; return the seconds of its phases (forward, loss, backward, optimiser)."""
        t0 = time.perf_counter()
        logits = self.net(self.x)
        t1 = time.perf_counter()
        loss = weighted_cross_entropy(logits, self.y, self.w)
        t2 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        self.opt.step()
        t4 = time.perf_counter()
        return {"forward": t1 - t0, "loss": t2 - t1, "backward": t3 - t2, "optimizer": t4 - t3, "step": t4 - t0}


def interleaved(step: _Step, step_flop: int, n: int, rounds: int) -> dict:
    """Step and ``n``^3 matmul measured back to back, ``rounds`` times; the ratio is read per round.

    Returns
    -------
    dict
        Medians of the step phases (s), the matmul and step GFLOP/s, and ``ratio_to_matmul``
        (median, min, max over the rounds) of the step's GFLOP/s over the matmul's.
    """
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b), step(), step()  # warm-up (oneDNN primitives, Adam state)
    phases, mm, ratios = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        torch.mm(a, b)
        mm_gflops = 2 * n**3 / (time.perf_counter() - t0) / 1e9
        phases.append(step())
        mm.append(mm_gflops)
        ratios.append(step_flop / phases[-1]["step"] / 1e9 / mm_gflops)
    med = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    return {
        "rounds": rounds,
        "phases_s": {k: round(v, 5) for k, v in med.items()},
        "backward_over_forward": round(med["backward"] / med["forward"], 2),
        "matmul_gflops_median": round(statistics.median(mm), 1),
        "step_gflops_median": round(step_flop / med["step"] / 1e9, 1),
        "ratio_to_matmul": {
            "median": round(statistics.median(ratios), 3),
            "min": round(min(ratios), 3),
            "max": round(max(ratios), 3),
        },
    }


def top_ops(step: _Step, k: int = 12) -> list[dict]:
    """The ``k`` aten ops with the most self CPU time in one step under ``torch.profiler`` (in situ)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    rows = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: e.self_cpu_time_total, reverse=True)
    return [
        {
            "op": e.key,
            "input_shapes": str(e.input_shapes)[:120],
            "calls": e.count,
            "self_ms": round(e.self_cpu_time_total / 1e3, 2),
        }
        for e in rows[:k]
    ]


def inventory(net: nn.Module, x: torch.Tensor) -> list[dict]:
    """The layers of one forward pass of ``net`` in execution order, with their shapes.

    Leaf modules (convolutions, ReLU, pooling, dropout) are recorded by forward hooks; the crop +
    concatenation before each decoder by a pre-hook on the decoder.
    """
    layers, handles = [], []

    def leaf(name):
        return lambda m, inp, out: layers.append(
            {
                "name": name,
                "module": m,
                "kind": type(m).__name__,
                "in_shape": tuple(inp[0].shape),
                "out_shape": tuple(out.shape),
            }
        )

    def cat(name):
        return lambda m, inp: layers.append(
            {
                "name": name,
                "module": None,
                "kind": "crop+cat",
                "in_shape": tuple(inp[0].shape),
                "out_shape": tuple(inp[0].shape),
            }
        )

    for name, m in net.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.ReLU, nn.MaxPool2d, nn.Dropout)):
            handles.append(m.register_forward_hook(leaf(name)))
    for i, dec in enumerate(getattr(net, "decoders", [])):
        handles.append(dec.register_forward_pre_hook(cat(f"decoders.{i}.cat")))
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    for i, layer in enumerate(layers):
        layer["first"] = i == 0
    return layers


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def cost(layer: dict) -> dict:
    """FLOPs and the least bytes moved (fp32) of ``layer``'s forward and backward.

    Convolutions: 2 x MACs forward; backward the input gradient (not for the first layer, whose
    input needs none) and the weight gradient, each as many FLOPs as the forward. Bytes: input +
    output + weights forward; output gradient + input + weights + input gradient + weight gradient
    backward. ReLU / pooling / dropout / crop+cat: one pass over their tensors (pooling keeps int64
    indices, dropout a bool mask).
    """
    kind, m = layer["kind"], layer["module"]
    i, o = _numel(layer["in_shape"]), _numel(layer["out_shape"])
    if kind in ("Conv2d", "ConvTranspose2d"):
        w = m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
        k = m.weight.shape[2] * m.weight.shape[3]
        cin = m.in_channels
        macs = (o * cin * k if kind == "Conv2d" else i * m.out_channels * k) // m.groups
        gin = 0 if layer["first"] else 1
        return {
            "fwd_flop": 2 * macs,
            "bwd_flop": 2 * macs * (1 + gin),
            "fwd_bytes": FP32 * (i + o + w),
            "bwd_bytes": FP32 * (o + i + 2 * w + gin * i),
        }
    if kind == "ReLU":
        return {"fwd_flop": o, "bwd_flop": o, "fwd_bytes": FP32 * 2 * o, "bwd_bytes": FP32 * 3 * o}
    if kind == "MaxPool2d":
        return {"fwd_flop": i, "bwd_flop": o, "fwd_bytes": FP32 * (i + o) + 8 * o, "bwd_bytes": FP32 * (o + i) + 8 * o}
    if kind == "Dropout":
        return {"fwd_flop": 2 * o, "bwd_flop": o, "fwd_bytes": FP32 * 2 * o + o, "bwd_bytes": FP32 * 2 * o + o}
    return {"fwd_flop": 0, "bwd_flop": 0, "fwd_bytes": FP32 * 2 * o, "bwd_bytes": FP32 * 2 * o}  # crop+cat


def _operands(layer: dict, channels_last: bool):
    """A stand-alone ``forward()`` of ``layer`` and the tensors its backward differentiates."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    gen = torch.Generator().manual_seed(1)
    kind, shape = layer["kind"], layer["in_shape"]
    if kind == "crop+cat":
        half = (shape[0], shape[1] // 2, shape[2], shape[3])
        up = torch.randn(half, generator=gen).contiguous(memory_format=fmt).requires_grad_()
        skip = torch.randn(half[:2] + (shape[2] + 8, shape[3] + 8), generator=gen)
        skip = skip.contiguous(memory_format=fmt).requires_grad_()
        return (lambda: torch.cat([up, skip[..., 4:-4, 4:-4]], 1)), [up, skip]
    x = torch.randn(shape, generator=gen).contiguous(memory_format=fmt).requires_grad_(not layer["first"])
    if kind in ("Conv2d", "ConvTranspose2d"):
        m = copy.deepcopy(layer["module"]).to(memory_format=fmt)
        return (lambda: m(x)), ([x] if x.requires_grad else []) + list(m.parameters())
    if kind == "ReLU":
        return (lambda: F.relu(x)), [x]  # the network's ReLU is in place: the same bytes
    if kind == "Dropout":
        p = layer["module"].p
        return (lambda: F.dropout(x, p, training=True)), [x]
    m = layer["module"]
    return (lambda: m(x)), [x]


def time_layer(layer: dict, channels_last: bool, repeat: int) -> dict:
    """Median seconds of ``layer``'s forward and backward, measured alone."""
    forward, wrt = _operands(layer, channels_last)
    fwd = statistics.median(_median_time(forward, repeat))
    out = forward()
    grad = torch.randn_like(out)
    bwd = statistics.median(_median_time(lambda: torch.autograd.grad(out, wrt, grad, retain_graph=True), repeat))
    return {"fwd_s": fwd, "bwd_s": bwd}


def roofline(flop: int, nbytes: int, seconds: float, peak: float, bw: float) -> dict:
    """Intensity, achieved and bound GFLOP/s, and the time at the bound, of one kernel.

    Parameters
    ----------
    flop, nbytes : int
        Its FLOPs and least bytes moved.
    seconds : float
        Its measured time.
    peak, bw : float
        Matmul peak (FLOP/s) and memory bandwidth (B/s).

    Returns
    -------
    dict
        ``intensity`` (FLOP/byte), ``gflops`` achieved, ``bound_gflops`` = min(peak, bw x intensity),
        ``bound_s`` = max(flop / peak, bytes / bw) and ``memory_bound`` (intensity < peak / bw).
    """
    intensity = flop / nbytes
    return {
        "intensity": round(intensity, 3),
        "gflops": round(flop / seconds / 1e9, 2),
        "bound_gflops": round(min(peak, bw * intensity) / 1e9, 2),
        "bound_s": max(flop / peak, nbytes / bw),
        "memory_bound": intensity < peak / bw,
    }


def _extra_layers(step: _Step) -> list[dict]:
    """The loss and the Adam update as pseudo-layers (their own timers: run in situ, not hooked)."""
    logits = step.net(step.x).detach().requires_grad_()
    n_par = sum(p.numel() for p in step.net.parameters())
    o = logits.numel()
    rows = [
        {
            "name": "loss",
            "kind": "weighted_cross_entropy",
            "fwd_flop": 8 * o,
            "bwd_flop": 4 * o,
            "fwd_bytes": FP32 * (o + 3 * o // 2),
            "bwd_bytes": FP32 * 2 * o,
            "forward": lambda: weighted_cross_entropy(logits, step.y, step.w),
            "wrt": [logits],
        },
        {
            "name": "adam",
            "kind": "Adam",
            "fwd_flop": 12 * n_par,
            "bwd_flop": 0,
            "fwd_bytes": FP32 * 7 * n_par,
            "bwd_bytes": 0,
            "forward": None,
            "wrt": None,
        },
    ]
    return rows


def _time_extra(row: dict, step: _Step, repeat: int) -> dict:
    if row["forward"] is None:  # Adam: gradients in place, time the update alone
        step()
        return {"fwd_s": statistics.median(_median_time(step.opt.step, repeat)), "bwd_s": 0.0}
    fwd = statistics.median(_median_time(row["forward"], repeat))
    out = row["forward"]()
    bwd = statistics.median(_median_time(lambda: torch.autograd.grad(out, row["wrt"], retain_graph=True), repeat))
    return {"fwd_s": fwd, "bwd_s": bwd}


def _row(name: str, kind: str, shape, c: dict, t: dict, peak: float, bw: float) -> dict:
    row = {"name": name, "kind": kind, "out_shape": list(shape) if shape else None}
    for d in ("fwd", "bwd"):
        row[d] = {"flop": c[f"{d}_flop"], "bytes": c[f"{d}_bytes"], "s": round(t[f"{d}_s"], 6)}
        if c[f"{d}_bytes"]:
            row[d].update(roofline(c[f"{d}_flop"], c[f"{d}_bytes"], t[f"{d}_s"], peak, bw))
            row[d]["bound_s"] = round(row[d]["bound_s"], 6)
    return row


def layer_profile(step: _Step, channels_last: bool, peak: float, bw: float, repeat: int) -> list[dict]:
    """One row per layer (and loss, Adam): forward / backward FLOPs, bytes, times and roofline."""
    rows = []
    for layer in inventory(step.net, step.x):
        c, t = cost(layer), time_layer(layer, channels_last, repeat)
        rows.append(_row(layer["name"], layer["kind"], layer["out_shape"], c, t, peak, bw))
    for extra in _extra_layers(step):
        rows.append(_row(extra["name"], extra["kind"], None, extra, _time_extra(extra, step, repeat), peak, bw))
    return rows


def attainable_s(rows: list[dict], peak: float, bw: float) -> float:
    """The step's time with every layer at its roofline bound ``max(flop / peak, bytes / bw)``.

    Parameters
    ----------
    rows : list of dict
        :func:`layer_profile`'s rows (only their FLOPs and bytes are used, not their times).
    peak, bw : float
        FLOP/s and bytes/s of the machine assumed.
    """
    return sum(max(p["flop"] / peak, p["bytes"] / bw) for r in rows for p in (r["fwd"], r["bwd"]) if p["bytes"])


def summarize(
    rows: list[dict], measured_step_s: float, step_flop: int, matmul_gflops: float, ridge: float, top: int = 5
) -> dict:
    """The step under the roofline: attainable vs measured time, memory-bound share, top layers.

    Parameters
    ----------
    rows : list of dict
        :func:`layer_profile`'s rows.
    measured_step_s : float
        The in-situ step (median).
    step_flop : int
        The step's useful FLOPs (3 x the forward convolution FLOPs, as ``bench_train.py``).
    matmul_gflops : float
        The matmul rate the ratios refer to.
    ridge : float
        ``peak / bandwidth`` (FLOP/byte).
    top : int
        How many layers to list by time.
    """
    parts = [(r, d) for r in rows for d in ("fwd", "bwd") if "bound_s" in r[d]]
    total = sum(r[d]["s"] for r, d in parts)
    mem = sum(r[d]["s"] for r, d in parts if r[d]["memory_bound"])
    bound = sum(r[d]["bound_s"] for r, d in parts)
    conv16 = [
        r[d]["intensity"]
        for r, d in parts
        if r["kind"].startswith("Conv")
        and r["out_shape"]
        and r["out_shape"][1] == min(q["out_shape"][1] for q in rows if q["kind"] == "Conv2d" and q["out_shape"][1] > 2)
    ]
    by_time = sorted(rows, key=lambda r: r["fwd"]["s"] + r["bwd"]["s"], reverse=True)[:top]
    return {
        "ridge_flop_per_byte": round(ridge, 2),
        "sum_of_layers_s": round(total, 5),
        "measured_step_s": round(measured_step_s, 5),
        "layers_cover_of_step": round(total / measured_step_s, 3),
        "forward_s": round(sum(r["fwd"]["s"] for r in rows), 5),
        "backward_s": round(sum(r["bwd"]["s"] for r in rows), 5),
        "memory_bound_share_of_time": round(mem / total, 3),
        "attainable_step_s": round(bound, 5),
        "attainable_gflops": round(step_flop / bound / 1e9, 1),
        "attainable_ratio_to_matmul": round(step_flop / bound / 1e9 / matmul_gflops, 3),
        "measured_over_attainable_time": round(measured_step_s / bound, 2),
        "conv_intensity_at_base_channels": {"min": min(conv16, default=None), "max": max(conv16, default=None)},
        "top_layers_by_time": [
            {
                "name": r["name"],
                "kind": r["kind"],
                "fwd_s": r["fwd"]["s"],
                "bwd_s": r["bwd"]["s"],
                "fwd_intensity": r["fwd"].get("intensity"),
                "fwd_gflops": r["fwd"].get("gflops"),
                "bwd_gflops": r["bwd"].get("gflops"),
            }
            for r in by_time
        ],
    }


def _flop(recipe) -> int:
    from unet_core.models.unet_sizes import unet_flops

    return 3 * recipe.batch_size * unet_flops(recipe.tile, base_channels=recipe.base_channels, depth=recipe.depth)


def run(recipe_name: str, quick: bool, what_if_peak: float = 260.0) -> dict:
    """All measurements of the module docstring; the JSON's ``results``.

    ``what_if``: the step's roofline (FLOPs and bytes of the layers, no times) for a CPU of matmul
    peak ``what_if_peak`` GFLOP/s with this machine's bandwidth (260: the 2-core AVX-512 Xeon the
    issue reported, not measured here).
    """
    recipe = get_recipe(recipe_name)
    if quick:
        recipe = get_recipe(recipe_name, tile=188 if recipe.depth == 5 else recipe.tile)
    repeat, rounds, n = (2, 2, 512) if quick else (7, 9, 2048)
    act = FP32 * recipe.base_channels * recipe.tile**2 * recipe.batch_size
    bw = {"dram": bandwidth((32 if quick else 256) * 2**20, repeat), "activation_size": bandwidth(act, repeat)}
    peak = matmul_peak("cpu", torch.float32, n=n, repeat=repeat)
    bw_bytes = bw["dram"]["copy_gbs"] * 1e9
    flop = _flop(recipe)
    out = {
        "recipe": recipe.name,
        "tile": recipe.tile,
        "batch": recipe.batch_size,
        "base_channels": recipe.base_channels,
        "depth": recipe.depth,
        "threads": torch.get_num_threads(),
        "quick": quick,
        "bandwidth": bw,
        "roofline_bandwidth_gbs": bw["dram"]["copy_gbs"],
        "matmul_fp32_peak_gflops": round(peak / 1e9, 2),
        "matmul_n": n,
        "train_flop_per_step": flop,
        "layouts": {},
    }
    for layout in ("nchw", "channels_last"):
        torch.manual_seed(0)
        step = _Step(recipe.build_model(), recipe.tile, recipe.batch_size, layout == "channels_last")
        situ = interleaved(step, flop, n, rounds)
        rows = layer_profile(step, layout == "channels_last", peak, bw_bytes, repeat)
        out["layouts"][layout] = {
            "step": situ,
            "profiler_top_ops": top_ops(step),
            "summary": summarize(rows, situ["phases_s"]["step"], flop, situ["matmul_gflops_median"], peak / bw_bytes),
            "layers": rows,
        }
        print(layout, situ, flush=True)
    what_if = what_if_peak * 1e9
    out["what_if"] = {
        "peak_gflops": what_if_peak,
        "bandwidth_gbs": bw["dram"]["copy_gbs"],
        "ridge_flop_per_byte": round(what_if / bw_bytes, 2),
        "attainable_gflops": round(flop / attainable_s(rows, what_if, bw_bytes) / 1e9, 1),
        "attainable_ratio_to_peak": round(flop / attainable_s(rows, what_if, bw_bytes) / what_if, 3),
    }
    return out


def write_json(path: Path, payload: dict) -> Path:
    """Write ``payload`` to ``path`` atomically (a temporary file, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> Path:
    """Command line: measure and write the JSON; return its path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small tile, arrays and repeats (a few seconds)")
    parser.add_argument("--recipe", default="isbi2012-cpu", help="recipe whose network is profiled")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "train_roofline.json")
    parser.add_argument(
        "--what-if-peak",
        type=float,
        default=260.0,
        help="matmul GFLOP/s of another CPU to evaluate the roofline for (no timing)",
    )
    args = parser.parse_args(argv)
    before = loadavg()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    results = run(args.recipe, args.quick, args.what_if_peak)
    machine = {**machine_info(), "cpu_facts": cpu_facts(), "date": started}
    payload = {
        "benchmark": "train_roofline",
        "machine": machine,
        "loadavg": {"before": before, "after": loadavg()},
        "results": results,
    }
    path = write_json(args.out, payload)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()

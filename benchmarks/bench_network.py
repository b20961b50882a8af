"""Benchmark of both networks, U-Net (572 tile) and FusionNet (640 tile): FLOPs, forward and training step.

Measures, in one run, for the paper's U-Net (23 conv layers, 31.0 M parameters, one 572 x 572
tile -> 388 x 388) and the paper's FusionNet (78.5 M parameters, one 640 x 640 tile = a 512
slice plus 64 px of mirror padding per side -> 640 x 640):

* the analytic FLOP count of a forward pass (``unet_flops`` / ``fusionnet_flops``), and the
  FLOPs per 512 x 512 slice (the U-Net's one 700 px pass, FusionNet's 640 tile);
* forward throughput (tiles/s, eval mode, no grad) and training-step throughput
  (forward + backward + SGD momentum step, batch 1, plain cross-entropy on the output),
  in fp32, fp32 with channels_last, and bf16 autocast with channels_last; the fastest of them
  is named per network (``fastest``);
* the matmul peak of this machine (``torch.mm``, fp32 and bf16; best of samples taken before and
  after each mode, the machine being shared) and the achieved FLOP/s as a fraction of it
  (training step counted as 3 x forward FLOPs).

On a GPU (``--device cuda``) two more modes run: the bf16 + channels_last network under
``torch.compile`` (``max-autotune-no-cudagraphs``) and under ``mode="reduce-overhead"`` (inductor
with CUDA graphs: one graph launch per step instead of a kernel launch per layer), and every mode is
timed again at the ``--batch-sizes`` beyond 1 (default 8 on a GPU: a 572 training tile of the
64-channel U-Net is ~1 TFLOP, too little to fill an H100 alone). Times are CUDA events
(``_common.timeit``), after warm-up. The training step is also given as a fraction of the GPU's
data-sheet dense bf16 peak (``_common.DENSE_BF16_TFLOPS``) beside the measured 8192^3 bf16 matmul.

Usage: ``python benchmarks/bench_network.py [--quick] [--device cpu|cuda] [--networks unet fusionnet]
[--base-channels N] [--batch-sizes 1 8] [--compile]`` (``--compile`` adds the compiled modes on a CPU). ``--quick`` is a smoke run: one warm-up and one timed repeat (three on a
GPU), a 1024^3 matmul peak, and 16 instead of 64 channels unless ``--base-channels`` is given.
Results go to ``benchmarks/results/network.json`` (``network_cuda.json`` for ``--device cuda``);
a ``--quick`` run writes ``network_quick.json`` instead, so that it never replaces a full run.
The U-Net's numbers also stay at the top level of ``results`` (``modes``, ``parameters``, ...),
where book chapter 08 reads them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dense_bf16_peak, matmul_peak, timeit, write_result  # noqa: E402

from unet_core.models import FusionNet, fusionnet_flops, fusionnet_receptive_field  # noqa: E402
from unet_core.models.fusionnet import PAPER_TILE  # noqa: E402
from unet_core.models.unet import UNet, count_conv_layers, count_parameters  # noqa: E402
from unet_core.models.unet_sizes import (
    input_size_for_output,  # noqa: E402
    unet_flops,
)

NETWORKS = {  # name: (class, paper tile, FLOPs(tile, base_channels), FLOPs of one 512 x 512 slice)
    "unet": (
        UNet,
        572,
        lambda n, c: unet_flops(n, base_channels=c),
        lambda c: unet_flops(input_size_for_output(512), base_channels=c),
    ),
    "fusionnet": (
        FusionNet,
        PAPER_TILE,
        lambda n, c: fusionnet_flops(n, base_channels=c),
        lambda c: fusionnet_flops(PAPER_TILE, base_channels=c),
    ),
}
MODES = {"fp32": (False, False), "fp32_channels_last": (False, True), "bf16_autocast_channels_last": (True, True)}
COMPILED = {
    "bf16_autocast_channels_last_compiled": "max-autotune-no-cudagraphs",  # name: torch.compile mode
    "bf16_autocast_channels_last_cudagraphs": "reduce-overhead",
}


def bench_mode(
    name: str,
    base_channels: int,
    device: torch.device,
    bf16: bool,
    channels_last: bool,
    repeat: int,
    warmup: int,
    flops: int,
    batch: int = 1,
    compile_mode: str | None = None,
) -> dict:
    """Forward and train-step timings of one network in one precision / memory-format mode.

    ``flops`` is the forward FLOPs of one tile; ``batch`` tiles go through each pass. With
    ``compile_mode`` the network runs under ``torch.compile(mode=compile_mode)`` (two warm-up passes).
    """
    cls, tile = NETWORKS[name][:2]
    torch.manual_seed(0)
    module = cls(base_channels=base_channels).to(device)
    x = torch.randn(batch, 1, tile, tile, device=device)  # (B, 1, tile, tile)
    out = module.output_size(tile)
    target = torch.randint(0, 2, (batch, out, out), device=device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    opt = torch.optim.SGD(module.parameters(), lr=1e-4, momentum=0.99)
    net = torch.compile(module, mode=compile_mode) if compile_mode else module
    warmup = max(warmup, 2) if compile_mode else warmup  # compilation; CUDA graphs are recorded on the 2nd call

    def forward():
        with torch.no_grad(), autocast():
            return net(x)

    def train_step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(net(x).float(), target)
        loss.backward()
        opt.step()

    module.eval()
    fwd = timeit(forward, repeat=repeat, warmup=warmup, device=device)
    module.train()
    trn = timeit(train_step, repeat=repeat, warmup=warmup, device=device)
    return {
        "batch": batch,
        "compile_mode": compile_mode,
        "forward": {
            **fwd,
            "tiles_per_s": batch / fwd["median_s"],
            "achieved_flops_per_s": batch * flops / fwd["median_s"],
        },
        "train_step": {
            **trn,
            "tiles_per_s": batch / trn["median_s"],
            "achieved_flops_per_s": 3 * batch * flops / trn["median_s"],
        },
    }


def describe(name: str, base_channels: int) -> dict:
    """Size facts of one network (no timing): tile, output, parameters, FLOPs, receptive field."""
    cls, tile, flops_of, slice_flops = NETWORKS[name]
    net = cls(base_channels=base_channels)
    flops = flops_of(tile, base_channels)
    info = {
        "config": net.config,
        "tile": tile,
        "output": net.output_size(tile),
        "conv_layers": count_conv_layers(net),
        "parameters": count_parameters(net),
        "forward_flops": flops,
        "forward_gflops": round(flops / 1e9, 3),
        "flops_per_512_slice": slice_flops(base_channels),
        "train_step_flops_assumed": 3 * flops,
    }
    if name == "fusionnet":
        rf = fusionnet_receptive_field(net.depth, net.down, net.head_kernel)
        info["receptive_field"] = {"size": rf.size, "margin": rf.margin}
    else:
        info["receptive_field"] = {"size": 2 * net.border + 1, "margin": net.border}
    return info


def auto_choice(name: str, base: int, device, tile: int) -> dict:
    """What ``precision="auto"`` picks for this network's inference and training step (its own check)."""
    from unet_core.inference.precision import choose_precision
    from unet_core.models.registry import build_model

    torch.manual_seed(0)
    net = build_model(name, base_channels=base).to(device)
    out = {}
    for kind, train in (("forward", False), ("train_step", True)):
        c = choose_precision(net, device, tile, train=train, repeats=1)
        out[kind] = {"chosen": c.precision.name, "seconds": c.seconds, "agreement": c.agreement}
        print(f"{name} {kind}: {c}", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one repeat, 16 channels, own JSON file")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    parser.add_argument(
        "--base-channels", type=int, default=None, help="channels of the first level (default 64; 16 with --quick)"
    )
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=None,
        help="tiles per pass; the modes are timed at each (default: 1 on a CPU, 1 8 on a GPU)",
    )
    parser.add_argument("--compile", action="store_true", help="also the torch.compile modes on a CPU (GPU: always)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested but CUDA is not available here; use --device cpu")
    if args.base_channels is not None and args.base_channels < 1:
        parser.error(f"--base-channels must be >= 1, got {args.base_channels}")
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    base = args.base_channels or (16 if args.quick else 64)
    repeat = (3 if args.quick else 10) if gpu else (1 if args.quick else 3)
    warmup = 1
    n = (4096 if args.quick else 8192) if gpu else (1024 if args.quick else 2048)
    batches = args.batch_sizes or ([1, 8] if gpu and not args.quick else [1])
    if min(batches) < 1 or 1 not in batches:
        parser.error(f"--batch-sizes must be ints >= 1 and include 1 (the paper's batch), got {batches}")
    modes = {m: (bf16, cl, None) for m, (bf16, cl) in MODES.items()}
    if gpu or args.compile:
        modes.update({m: (True, True, c) for m, c in COMPILED.items() if gpu or c != "reduce-overhead"})
    results: dict = {
        "device": device.type,
        "quick": args.quick,
        "base_channels": base,
        "networks": {},
        "batch_sizes": batches,
        "gpu": torch.cuda.get_device_name(device) if gpu else None,
        "dense_bf16_peak_flops_per_s": dense_bf16_peak(torch.cuda.get_device_name(device)) if gpu else None,
        "cpu_bf16_supported": bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())
        if not gpu
        else None,
    }
    # The machine is shared: the peak is measured before and after every mode and the best
    # value seen is kept, so that a busy moment does not inflate the fractions.
    samples: dict[str, list[float]] = {"fp32": [], "bf16": []}

    def sample_peaks() -> None:
        for key, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            samples[key].append(matmul_peak(device, dtype, n, repeat=max(repeat, 3)))

    sample_peaks()
    for name in args.networks:
        entry = describe(name, base)
        entry["modes"], entry["batched"] = {}, {}
        for mode, (bf16, channels_last, compile_mode) in modes.items():
            for b in batches:
                try:
                    res = bench_mode(
                        name,
                        base,
                        device,
                        bf16,
                        channels_last,
                        repeat,
                        warmup,
                        entry["forward_flops"],
                        batch=b,
                        compile_mode=compile_mode,
                    )
                except Exception as exc:  # e.g. torch.compile without a working compiler: reported, not fatal
                    print(f"{name} {mode} batch {b} failed: {exc}", flush=True)
                    (entry["modes"] if b == 1 else entry["batched"])[mode if b == 1 else f"{mode}, batch {b}"] = {
                        "error": f"{type(exc).__name__}: {str(exc)[:300]}"
                    }
                    continue
                (entry["modes"] if b == 1 else entry["batched"])[mode if b == 1 else f"{mode}, batch {b}"] = res
            sample_peaks()
        results["networks"][name] = entry
    peaks = results["matmul_peak_flops_per_s"] = {k: max(v) for k, v in samples.items()}
    results["matmul_peak_samples_flops_per_s"] = samples
    results["matmul_peak_n"] = n
    sheet = results["dense_bf16_peak_flops_per_s"]
    for name, entry in results["networks"].items():
        for mode, res in [*entry["modes"].items(), *entry["batched"].items()]:
            if "error" in res:
                continue
            for kind in ("forward", "train_step"):
                res[kind]["fraction_of_matmul_peak"] = (
                    res[kind]["achieved_flops_per_s"] / peaks["bf16" if "bf16" in mode else "fp32"]
                )
                if sheet and "bf16" in mode:
                    res[kind]["fraction_of_dense_bf16_peak"] = res[kind]["achieved_flops_per_s"] / sheet
                print(
                    f"{name} {mode} {kind}: {res[kind]['median_s'] * 1e3:.2f} ms per pass of {res['batch']}, "
                    f"{res[kind]['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s "
                    f"({100 * res[kind]['fraction_of_matmul_peak']:.0f}% of best matmul peak"
                    + (
                        f", {100 * res[kind]['fraction_of_dense_bf16_peak']:.0f}% of the data sheet's dense bf16"
                        if "fraction_of_dense_bf16_peak" in res[kind]
                        else ""
                    )
                    + ")",
                    flush=True,
                )
        fp32 = entry["modes"]["fp32"]
        timed = {m: r for m, r in entry["modes"].items() if "error" not in r}
        entry["fastest"] = {k: min(timed, key=lambda m: timed[m][k]["median_s"]) for k in ("forward", "train_step")}
        every = {m: r for m, r in [*entry["modes"].items(), *entry["batched"].items()] if "error" not in r}
        entry["best_train_step_throughput"] = max(
            (
                {
                    "mode": m,
                    "tiles_per_s": r["train_step"]["tiles_per_s"],
                    "achieved_flops_per_s": r["train_step"]["achieved_flops_per_s"],
                    "fraction_of_dense_bf16_peak": r["train_step"].get("fraction_of_dense_bf16_peak"),
                }
                for m, r in every.items()
            ),
            key=lambda d: d["tiles_per_s"],
        )
        entry["fastest_speedup_over_fp32"] = {
            k: fp32[k]["median_s"] / entry["modes"][m][k]["median_s"] for k, m in entry["fastest"].items()
        }
        entry["train_over_forward_time"] = fp32["train_step"]["median_s"] / fp32["forward"]["median_s"]
        entry["auto"] = auto_choice(name, base, device, entry["tile"])
        print(
            f"{name}: {entry['parameters']:,} parameters, {entry['forward_gflops']} GFLOP per {entry['tile']} tile, "
            f"fastest {entry['fastest']}",
            flush=True,
        )
    print("matmul peak samples (GFLOP/s):", {k: [round(x / 1e9, 1) for x in v] for k, v in samples.items()})
    if {"unet", "fusionnet"} <= set(results["networks"]):
        u, f = results["networks"]["unet"], results["networks"]["fusionnet"]
        results["fusionnet_over_unet"] = {
            "parameters": f["parameters"] / u["parameters"],
            "flops_per_512_slice": f["flops_per_512_slice"] / u["flops_per_512_slice"],
            **{
                f"{k} time, fastest": f["modes"][f["fastest"][k]][k]["median_s"]
                / u["modes"][u["fastest"][k]][k]["median_s"]
                for k in ("forward", "train_step")
            },
        }
    if "unet" in results["networks"]:  # the layout book chapter 08 reads (the U-Net at the top level)
        u = results["networks"]["unet"]
        results.update(
            {
                k: u[k]
                for k in (
                    "tile",
                    "output",
                    "conv_layers",
                    "parameters",
                    "forward_flops",
                    "forward_gflops",
                    "train_step_flops_assumed",
                    "modes",
                )
            }
        )
        results["bf16_speedup"] = {
            k: u["modes"]["fp32"][k]["median_s"] / u["modes"]["bf16_autocast_channels_last"][k]["median_s"]
            for k in ("forward", "train_step")
        }
        results["train_over_forward_time"] = u["train_over_forward_time"]
    write_result("network_quick" if args.quick else "network", results)
    return results


if __name__ == "__main__":
    main()

"""Benchmark of the paper's U-Net (572 x 572 tile): FLOPs, forward and training-step throughput.

Measures, for the default network (23 conv layers, 31.0 M parameters) on one 572 x 572 tile:

* the analytic FLOP count of a forward pass (``unet_flops``);
* forward throughput (tiles/s, eval mode, no grad) and training-step throughput
  (forward + backward + SGD momentum step, batch 1, plain cross-entropy on the 388 x 388 output),
  in fp32 and in bf16 autocast with channels_last memory format;
* the matmul peak of this machine (2048^3 ``torch.mm``, fp32 and bf16; best of samples taken
  before and after each mode, the machine being shared) and the achieved FLOP/s of
  the network as a fraction of it (training step counted as 3 x forward FLOPs).

Usage: ``python benchmarks/bench_network.py [--quick] [--device cpu|cuda]``.
Results go to ``benchmarks/results/network.json`` (``network_cuda.json`` for ``--device cuda``).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import timeit, write_result  # noqa: E402

from unet_core.network import UNet, count_conv_layers, count_parameters, unet_flops, unet_output_size  # noqa: E402

TILE = 572


def _sync(device: torch.device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, repeat: int) -> float:
    """FLOP/s of an n x n x n ``torch.mm`` (2 n^3 FLOP), best of ``repeat``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t = timeit(lambda: torch.mm(a, b), repeat=repeat, warmup=1, sync=_sync(device))
    return 2 * n**3 / t["min_s"]


def bench_mode(device: torch.device, bf16: bool, repeat: int, flops: int) -> dict:
    """Forward and train-step timings for one precision mode."""
    torch.manual_seed(0)
    net = UNet().to(device)
    x = torch.randn(1, 1, TILE, TILE, device=device)
    out = unet_output_size(TILE)
    target = torch.randint(0, 2, (1, out, out), device=device)
    if bf16:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.99)

    def forward():
        with torch.no_grad(), autocast():
            return net(x)

    def train_step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(net(x).float(), target)
        loss.backward()
        opt.step()

    net.eval()
    fwd = timeit(forward, repeat=repeat, warmup=1, sync=_sync(device))
    net.train()
    trn = timeit(train_step, repeat=repeat, warmup=1, sync=_sync(device))
    return {
        "forward": {**fwd, "tiles_per_s": 1 / fwd["median_s"], "achieved_flops_per_s": flops / fwd["median_s"]},
        "train_step": {**trn, "tiles_per_s": 1 / trn["median_s"], "achieved_flops_per_s": 3 * flops / trn["median_s"]},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested but CUDA is not available here; use --device cpu")
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    repeat = (3 if args.quick else 10) if gpu else (2 if args.quick else 3)
    flops = unet_flops(TILE)
    net = UNet()
    results = {
        "device": device.type,
        "quick": args.quick,
        "tile": TILE,
        "output": unet_output_size(TILE),
        "conv_layers": count_conv_layers(net),
        "parameters": count_parameters(net),
        "forward_flops": flops,
        "forward_gflops": round(flops / 1e9, 3),
        "train_step_flops_assumed": 3 * flops,
        "modes": {},
    }
    del net
    n = 8192 if gpu else 2048
    # The machine is shared: the peak is measured before and after every mode and the best
    # value seen is kept, so that a busy moment does not inflate the fractions.
    samples: dict[str, list[float]] = {"fp32": [], "bf16": []}

    def sample_peaks() -> None:
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            samples[name].append(matmul_peak(device, dtype, n, repeat=max(repeat, 3)))

    sample_peaks()
    for name, bf16 in (("fp32", False), ("bf16_autocast_channels_last", True)):
        results["modes"][name] = bench_mode(device, bf16, repeat, flops)
        sample_peaks()
    results["matmul_peak_flops_per_s"] = {k: max(v) for k, v in samples.items()}
    results["matmul_peak_samples_flops_per_s"] = samples
    for name, res in results["modes"].items():
        peak = results["matmul_peak_flops_per_s"]["bf16" if "bf16" in name else "fp32"]
        for kind in ("forward", "train_step"):
            res[kind]["fraction_of_matmul_peak"] = res[kind]["achieved_flops_per_s"] / peak
            print(f"{name} {kind}: {res[kind]['median_s']:.2f} s/tile, "
                  f"{res[kind]['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s "
                  f"({100 * res[kind]['fraction_of_matmul_peak']:.0f}% of best matmul peak)", flush=True)
    print("matmul peak samples (GFLOP/s):", {k: [round(x / 1e9, 1) for x in v] for k, v in samples.items()})
    fp32, bf16 = results["modes"]["fp32"], results["modes"]["bf16_autocast_channels_last"]
    results["bf16_speedup"] = {k: fp32[k]["median_s"] / bf16[k]["median_s"] for k in ("forward", "train_step")}
    results["train_over_forward_time"] = fp32["train_step"]["median_s"] / fp32["forward"]["median_s"]
    results["matmul_peak_n"] = n
    write_result("network", results)
    return results


if __name__ == "__main__":
    main()

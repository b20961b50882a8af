"""Activation memory per tile: each network's estimate against the peak measured on this CPU.

    python benchmarks/bench_memory.py [--quick] [--threads N]

For the U-Net and FusionNet, training (one step: forward, Eq. 1 loss, backward, Adam) and
inference (one forward pass, eval mode, ``torch.inference_mode``): the estimate of
:func:`unet_core.models.memory.estimate_memory` (from the architecture, no network built) beside the peak
that :func:`unet_core.training.peak_memory.measure_peak_memory` measures in a fresh process (peak resident
memory over the second pass minus the resident memory before it, peak reset via
``/proc/self/clear_refs``, ``MALLOC_MMAP_THRESHOLD_=65536``; Linux only), and their ratio (target:
0.75 to 1.25). Full: the cpu recipes' width (16 channels, depth 5) at two tiles per network
(U-Net 412 and 572 px, FusionNet 256 and 384 px) and the paper's width (64 channels) at 412 px
and 256 px; ``--quick``: 16 channels on small tiles (U-Net 188 and 252 px, FusionNet 128 px), the
cases of tests/test_memory.py. The training rows also give what the command line's check used
before, the U-Net formula ``3 (6 c0 + 32) A`` bytes x 4 for every network.
Writes benchmarks/results/memory.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from unet_core.models.memory import estimate_memory  # noqa: E402
from unet_core.training.peak_memory import measure_peak_memory

MiB = 2**20
QUICK = [("unet", 16, 188), ("unet", 16, 252), ("fusionnet", 16, 128)]
FULL = [
    ("unet", 16, 412),
    ("unet", 16, 572),
    ("fusionnet", 16, 256),
    ("fusionnet", 16, 384),
    ("unet", 64, 412),
    ("fusionnet", 64, 256),
]


def old_cli_estimate(base_channels: int, tile: int) -> float:
    """MiB the command line's training check charged before: 3 x the U-Net inference formula, any network."""
    return 3 * (6 * base_channels + 32) * tile * tile * 4 / MiB


def rows(cases, threads: int) -> list[dict]:
    out = []
    for name, channels, tile in cases:
        for train in (True, False):
            t0 = time.perf_counter()
            measured = measure_peak_memory(name, tile, train=train, threads=threads, base_channels=channels, depth=5)
            estimate = estimate_memory(name, tile, train=train, base_channels=channels, depth=5)
            row = {
                "network": name,
                "channels": channels,
                "depth": 5,
                "tile": tile,
                "mode": "train" if train else "infer",
                "estimate_mib": round(estimate / MiB, 1),
                "measured_mib": round(measured / MiB, 1),
                "ratio": round(estimate / measured, 3),
            }
            if train:
                row["old_cli_estimate_mib"] = round(old_cli_estimate(channels, tile), 1)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            out.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 channels on small tiles only (the test's cases)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each measuring process (default 1)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    table = rows(QUICK if args.quick else FULL, args.threads)
    ratios = [r["ratio"] for r in table]
    results = {
        "quick": args.quick,
        "device": "cpu",
        "threads": args.threads,
        "dtype": "float32",
        "command": " ".join(sys.argv[1:]),
        "measured_by": "peak resident memory (VmHWM) over the second pass or training step minus the resident "
        "memory before it, peak reset via /proc/self/clear_refs, fresh process per row, glibc "
        "MALLOC_MMAP_THRESHOLD_=65536 (unet_core.training.peak_memory.measure_peak_memory)",
        "target": "estimate / measured in [0.75, 1.25]",
        "rows": table,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "all_within_target": all(0.75 <= r <= 1.25 for r in ratios),
        "benchmark_seconds": round(time.perf_counter() - t0),
    }
    write_result("memory", results)


if __name__ == "__main__":
    main()

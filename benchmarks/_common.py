"""Helpers shared by the benchmark scripts: machine facts, timing, JSON output.

Every benchmark writes ``benchmarks/results/<name>.json`` holding the numbers,
the machine (CPU model, cores, GPU if any) and the versions of Python, torch,
numpy and scipy, so a figure quoted in the book or an issue can be traced.
Ratios are meant to be read within one file: the machines are shared and noisy.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """CPU model, core count, memory, GPU name and library versions."""
    import numpy
    import scipy
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info: dict[str, Any] = {
        "hostname_hash": hash(platform.node()) & 0xFFFF,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return info


def timeit(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1, sync: Callable[[], None] | None = None) -> dict[str, float]:
    """Run ``fn`` ``warmup`` + ``repeat`` times; return min/median/mean seconds."""
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return {"min_s": min(times), "median_s": statistics.median(times), "mean_s": statistics.fmean(times), "repeat": repeat}


def write_result(name: str, results: dict[str, Any]) -> Path:
    """Write ``results`` plus machine info to ``benchmarks/results/<name>.json`` (atomically)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    device = "cuda" if results.get("device") == "cuda" else "cpu"
    path = RESULTS_DIR / f"{name}.json" if device == "cpu" else RESULTS_DIR / f"{name}_{device}.json"
    payload = {"benchmark": name, "machine": machine_info(), "results": results}
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return path


def device_sync(device) -> Callable[[], None] | None:
    """What :func:`timeit` must call after each run so that GPU work is finished (None on the CPU)."""
    import torch

    device = torch.device(device)
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None


def matmul_peak(device, dtype, n: int = 2048, repeat: int = 3) -> float:
    """FLOP/s of an n x n x n ``torch.mm`` (2 n^3 FLOP) in ``dtype`` on ``device``, best of ``repeat``:
    the reference 'peak' the benchmarks compare achieved FLOP/s with."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t = timeit(lambda: torch.mm(a, b), repeat=repeat, warmup=1, sync=device_sync(device))
    return 2 * n**3 / t["min_s"]

"""Helpers shared by the benchmark scripts: machine facts, timing, JSON output.

Every benchmark writes ``benchmarks/results/<name>.json`` holding the numbers,
the machine (CPU model, cores, GPU if any) and the versions of Python, torch,
numpy and scipy, so a figure quoted in the book or an issue can be traced.
Ratios are meant to be read within one file: the machines are shared and noisy.
``$UNET_BENCH_RESULTS_DIR`` writes them elsewhere (the tests do).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(os.environ.get("UNET_BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")


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


def timeit(
    fn: Callable[[], Any], repeat: int = 5, warmup: int = 1, sync: Callable[[], None] | None = None, device: Any = None
) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` + ``repeat`` times; return min/median/mean seconds of the timed runs.

    On a CUDA ``device`` each run is timed with CUDA events recorded on the current stream around it
    (the GPU's own clock, so the host's launch jitter does not count; ``torch.cuda.synchronize``
    after each run, and after the warm-up, which also absorbs compilation and cuDNN autotuning).
    Elsewhere ``time.perf_counter`` around ``fn`` and ``sync``. ``timer`` says which was used.
    """
    import torch

    cuda = device is not None and torch.device(device).type == "cuda"
    if cuda:
        sync = lambda: torch.cuda.synchronize(device)  # noqa: E731
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
            continue
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return {
        "min_s": min(times),
        "median_s": statistics.median(times),
        "mean_s": statistics.fmean(times),
        "repeat": repeat,
        "timer": "cuda events" if cuda else "perf_counter",
    }


# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s, matched against
# torch.cuda.get_device_name(); the benchmarks also measure a large bf16 matmul in the same run.
DENSE_BF16_TFLOPS = {
    "H200": 989.4,
    "H100 SXM": 989.4,
    "H100 80GB HBM3": 989.4,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "A100": 312.0,
    "L40S": 362.1,
    "L4": 121.0,
    "A10": 125.0,
}


def dense_bf16_peak(device_name: str | None) -> float | None:
    """Data-sheet dense bf16 FLOP/s of a GPU named ``device_name`` (None when not in the table).

    >>> dense_bf16_peak("NVIDIA H100 80GB HBM3") / 1e12, dense_bf16_peak("NVIDIA H100 PCIe") / 1e12
    (989.4, 756.0)
    >>> dense_bf16_peak("NVIDIA GeForce GTX 1080") is None
    True
    """
    if not device_name:
        return None
    for key in sorted(DENSE_BF16_TFLOPS, key=len, reverse=True):  # the most specific name first
        if key in device_name:
            return DENSE_BF16_TFLOPS[key] * 1e12
    return None


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


def matmul_peak(device, dtype, n: int | None = None, repeat: int = 3) -> float:
    """FLOP/s of an n x n x n ``torch.mm`` (2 n^3 FLOP) in ``dtype`` on ``device``, best of ``repeat``:
    the reference 'peak' the benchmarks compare achieved FLOP/s with (n: 2048 on a CPU, 8192 on a
    GPU, which a smaller product does not fill)."""
    import torch

    dev = torch.device(device)
    n = n or (8192 if dev.type == "cuda" else 2048)
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    t = timeit(lambda: torch.mm(a, b), repeat=repeat, warmup=1, device=dev)
    return 2 * n**3 / t["min_s"]

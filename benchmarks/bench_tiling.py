"""Overlap-tile prediction (paper Fig. 2): overhead, 512 x 512 speed modes, peak memory.

    python benchmarks/bench_tiling.py [--quick] [--repeat N] [--checkpoint PATH] [--no-compile] [--device cuda]

1. **Overhead**: ``predict_tiled`` on a 2048 x 2048 image (1024 with ``--quick``) with
   the paper's 572 tiles, divided by the bare forward passes of exactly the same tiles
   in the same batches (no mirror padding, tile reading, softmax or writing). Target
   <= 1.10. Narrow network (``base_channels=16``) to keep the run short on a 2-core
   CPU; the overhead per pixel does not depend on the width, the forward time grows
   with its square, so the ratio for the 64-channel network is smaller still.
2. **512 x 512, the paper's network** (64 channels, depth 5), end to end through
   ``predict_tiled``: four 572 tiles vs one padded 700 pass, fp32 vs bf16 (autocast or
   the model cast to bf16), channels_last, ``torch.jit.freeze`` (oneDNN conv+ReLU
   fusion) and ``torch.compile`` (inductor C++ backend, freezing). Each mode reports
   the argmax agreement with fp32 on the same image. Target: < 0.5 s with agreement
   > 99.9 %. The default network is He-initialised and untrained: its logits have
   many near-ties, the worst case for agreement; pass ``--checkpoint`` for a trained one.
3. **Peak memory** of an 8192 x 8192 (4096 with ``--quick``) memmap image, measured in a
   subprocess (VmHWM, and resident anonymous memory sampled every 20 ms) beyond the
   model and the output array, with ``memory_budget_mb=256``; ``base_channels=4`` (the
   peak is set by the budget, which picks the tile, not by the width).

``--device cuda`` (results in ``tiling_cuda.json``): parts 1 and 2 on the GPU, end to end (host
tile reading, pinned transfer, softmax and copy back included), with GPU modes instead of the
oneDNN ones: bf16 + channels_last autocast and model cast, the four 572 tiles in one batch
(``batch_size=4``), ``torch.compile`` (``max-autotune-no-cudagraphs``) and ``mode="reduce-overhead"``
(CUDA graphs). Target: <= 5 ms per 512 x 512 slice on an H100-class GPU. Part 3 is CPU only.

Wall times on a shared machine are noisy: the per-measurement minimum is reported,
with the process CPU time beside it; compare ratios within one JSON file.
Images are synthetic (``synthetic_em``) unless the ISBI 2012 data are found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, device_sync, write_result  # noqa: E402

from unet_core.data.synthetic import synthetic_em  # noqa: E402
from unet_core.data.tiles import normalize_image  # noqa: E402
from unet_core.inference.mirror import mirror_pad, tile_origins  # noqa: E402
from unet_core.inference.tiling import predict_tiled
from unet_core.models.unet import UNet  # noqa: E402
from unet_core.models.unet_sizes import unet_flops  # noqa: E402

CL = torch.channels_last


def clock(fn, repeat: int, warmup: int = 1) -> dict:
    """Minimum and median wall seconds and the CPU seconds of the fastest run."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - w0, time.process_time() - c0))
    best = min(runs)
    return {
        "min_s": round(best[0], 4),
        "median_s": round(float(np.median([r[0] for r in runs])), 4),
        "cpu_s_of_min": round(best[1], 4),
        "repeat": repeat,
    }


def test_image(size: int) -> tuple[np.ndarray, str]:
    """A real ISBI 2012 test slice when available, else a synthetic EM-like image (normalised)."""
    for root in (Path("data"), Path(__file__).resolve().parents[2] / "shared" / "datasets"):
        for path in (root / "isbi2012" / "slices" / "test" / "0.png",):
            if path.is_file() and size <= 512:
                from PIL import Image

                return normalize_image(
                    np.asarray(Image.open(path))[:size, :size]
                ), f"ISBI 2012 test slice 0 ({path.name})"
    return normalize_image(synthetic_em((size, size), seed=0)[0]), "synthetic_em (synthetic)"


def overhead(quick: bool, repeat: int, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    width, size, tile, batch = (16, 1024, 572, 2) if quick else (16, 2048, 572, 2)
    net = UNet(base_channels=width).eval().to(device)
    image, source = test_image(size)
    out_tile = net.output_size(tile)
    origins = [
        (y, x) for y in tile_origins(size, out_tile, net.stride) for x in tile_origins(size, out_tile, net.stride)
    ]
    end = max(o for o, _ in origins) + tile
    padded = mirror_pad(image, ((net.border, end - size - net.border),) * 2)  # (end, end)
    tiles = torch.from_numpy(np.stack([padded[y : y + tile, x : x + tile] for y, x in origins]))[
        :, None
    ]  # (N, 1, t, t)
    batches = [b.contiguous().to(device) for b in torch.split(tiles, batch)]  # (batch, 1, t, t) each
    sync = device_sync(device) or (lambda: None)

    def bare():
        with torch.inference_mode():
            for b in batches:
                net(b)
        sync()

    t_bare = clock(bare, repeat=repeat)  # its warm-up warms the network for both
    t_tiled = clock(
        lambda: predict_tiled(net, image, tile_size=tile, batch_size=batch, device=device), repeat=repeat, warmup=0
    )
    return {
        "image": f"{size}x{size} {source}",
        "base_channels": width,
        "tile_size": tile,
        "batch_size": batch,
        "n_tiles": len(origins),
        "bare_forward": t_bare,
        "predict_tiled": t_tiled,
        "overhead_ratio": round(t_tiled["min_s"] / t_bare["min_s"], 3),
        "overhead_ratio_cpu_time": round(t_tiled["cpu_s_of_min"] / t_bare["cpu_s_of_min"], 3),
        "target": "<= 1.10",
    }


class Wrapped:
    """A callable with the attributes ``predict_tiled`` needs, around another forward function."""

    def __init__(self, net: UNet, fn):
        self.fn, self.in_channels, self.num_classes = fn, net.in_channels, net.num_classes
        self.border, self.stride = net.border, net.stride
        self.output_size, self.input_size_for_output = net.output_size, net.input_size_for_output

    def __call__(self, x):
        return self.fn(x)


def _copy(net: UNet, **to) -> UNet:
    twin = UNet(**net.config).eval()
    twin.load_state_dict(net.state_dict())
    return twin.to(next(net.parameters()).device).to(**to)


def speed_modes(quick: bool, repeat: int, checkpoint: str | None, compile_: bool, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    if checkpoint:
        from unet_core.training.checkpoint import model_from_checkpoint

        net = model_from_checkpoint(checkpoint).eval()
    else:
        net = UNet().eval()
    image, source = test_image(512)
    tile = net.input_size_for_output(512)  # 700: one pass
    bf16, example = torch.bfloat16, torch.zeros(1, 1, tile, tile)
    gpu = device.startswith("cuda")
    net = net.to(device)

    def cast_cl():
        twin = _copy(net, dtype=bf16, memory_format=CL)
        return Wrapped(net, lambda x: twin(x.to(bf16).contiguous(memory_format=CL)))

    def frozen(dtype):
        twin = _copy(net, dtype=dtype, memory_format=CL)
        with torch.no_grad():
            traced = torch.jit.freeze(torch.jit.trace(twin, example.to(dtype).contiguous(memory_format=CL)))
        return Wrapped(net, lambda x: traced(x.to(dtype).contiguous(memory_format=CL)))

    def compiled(mode: str | None = None):
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
        twin = torch.compile(_copy(net, dtype=bf16, memory_format=CL), mode=mode)
        return Wrapped(net, lambda x: twin(x.to(bf16).contiguous(memory_format=CL)))

    modes = {  # name: (model factory, predict_tiled keyword arguments)
        "fp32, one 700 pass": (lambda: net, {}),  # the reference: first
        "fp32, four 572 tiles": (lambda: net, {"tile_size": 572}),
        "precision='auto' (measured choice, unet_core.inference.precision)": (
            lambda: _copy(net),
            {"precision": "auto"},
        ),
        "fp32 + channels_last": (lambda: _copy(net), {"precision": "fp32+channels_last"}),
        "bf16 autocast": (lambda: net, {"precision": "bf16"}),
        "bf16 autocast + channels_last": (lambda: _copy(net), {"precision": "bf16+channels_last"}),
        "bf16 autocast + channels_last, four 572 tiles": (
            lambda: _copy(net),
            {"precision": "bf16+channels_last", "tile_size": 572},
        ),
        "bf16 model cast + channels_last": (cast_cl, {}),
        "fp32 + channels_last + jit.freeze": (lambda: frozen(torch.float32), {}),
        "bf16 model cast + channels_last + jit.freeze": (lambda: frozen(bf16), {}),
    }
    if gpu:  # oneDNN's jit.freeze fusions are a CPU path; batching and CUDA graphs are the GPU's
        for name in [m for m in modes if "jit.freeze" in m]:
            del modes[name]
        modes["bf16 autocast + channels_last, four 572 tiles in one batch"] = (
            lambda: _copy(net),
            {"precision": "bf16+channels_last", "tile_size": 572, "batch_size": 4},
        )
    if compile_ and not quick:
        modes["bf16 + channels_last + torch.compile (inductor, freezing)"] = (
            lambda: compiled("max-autotune-no-cudagraphs" if gpu else None),
            {},
        )
        if gpu:
            modes["bf16 + channels_last + torch.compile reduce-overhead (CUDA graphs)"] = (
                lambda: compiled("reduce-overhead"),
                {},
            )
    rows, reference = {}, None
    for name, (factory, kwargs) in modes.items():
        try:
            t0 = time.perf_counter()
            model = factory()
            probs = predict_tiled(model, image, device=device, **kwargs)  # also the warm-up / compilation
            if "CUDA graphs" in name:
                probs = predict_tiled(model, image, device=device, **kwargs)  # the graph is recorded on call 2
            first = time.perf_counter() - t0
            timing = clock(lambda: predict_tiled(model, image, device=device, **kwargs), repeat=repeat, warmup=0)
        except Exception as exc:  # a mode that does not work on this machine is reported, not fatal
            rows[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
            print(f"{name:55s} failed: {exc}", flush=True)
            continue
        reference = probs if reference is None else reference
        row = {**timing, "first_call_s": round(first, 2)}
        if reference is not None:
            row["argmax_agreement_vs_fp32"] = round(float((probs.argmax(0) == reference.argmax(0)).mean()), 6)
            row["max_abs_prob_diff"] = round(float(np.abs(probs - reference).max()), 4)
        rows[name] = row
        print(f"{name:55s} {row}", flush=True)
    ok = {k: v for k, v in rows.items() if v.get("argmax_agreement_vs_fp32", 1.0) > 0.999 and "min_s" in v}
    fastest = min(ok, key=lambda k: ok[k]["min_s"])
    fastest_any = min((k for k in rows if "min_s" in rows[k]), key=lambda k: rows[k]["min_s"])
    by_cpu = min((k for k in rows if "min_s" in rows[k]), key=lambda k: rows[k]["cpu_s_of_min"])
    return {
        "image": f"512x512 {source}",
        "network": "UNet() 64 channels, depth 5, valid, "
        + (f"checkpoint {checkpoint}" if checkpoint else "He init, untrained"),
        "torch_threads": torch.get_num_threads(),
        "modes": rows,
        "fastest_with_agreement_above_99.9%": {"mode": fastest, "seconds": ok[fastest]["min_s"]},
        "fastest_overall": {
            "mode": fastest_any,
            "seconds": rows[fastest_any]["min_s"],
            "agreement": rows[fastest_any].get("argmax_agreement_vs_fp32"),
        },
        "fastest_by_cpu_time": {
            "mode": by_cpu,
            "cpu_seconds": rows[by_cpu]["cpu_s_of_min"],
            "fp32_cpu_seconds": rows["fp32, one 700 pass"]["cpu_s_of_min"],
        },
        "gflop_per_700_pass": round(unet_flops(tile) / 1e9, 1),
        "fp32_seconds": rows["fp32, one 700 pass"]["min_s"],
        "device": device,
        "target": "<= 5 ms per slice (H100-class GPU)" if gpu else "< 0.5 s with agreement > 99.9 %",
    }


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # MiB
    return float("nan")


def memory_child(size: int, width: int, budget: float) -> None:
    """Run in a subprocess: predict a memmap image, print peak memory beyond model + output."""
    torch.manual_seed(0)
    net = UNet(base_channels=width).eval()
    with tempfile.TemporaryDirectory() as tmp:
        image = np.lib.format.open_memmap(Path(tmp) / "image.npy", mode="w+", dtype=np.float32, shape=(size, size))
        for r in range(0, size, 512):  # fill in slabs: never the whole image in anonymous memory
            image[r : r + 512] = np.random.default_rng(r).standard_normal((min(512, size - r), size), np.float32)
        image.flush()
        del image
        image = np.load(Path(tmp) / "image.npy", mmap_mode="r")
        out = np.zeros((2, size, size), np.float32)
        out[:] = 0.5  # resident now, so it is part of the baseline
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        base_hwm, base_anon, peak = _status("VmRSS"), _status("RssAnon"), [0.0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], _status("RssAnon"))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        predict_tiled(net, image, batch_size=1, device="cpu", memory_budget_mb=budget, out=out)
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
        print(
            json.dumps(
                {
                    "image": f"{size}x{size} float32 np.memmap (random)",
                    "base_channels": width,
                    "memory_budget_mb": budget,
                    "output_mb": round(out.nbytes / 2**20),
                    "image_file_mb": round(size * size * 4 / 2**20),
                    "seconds": round(seconds, 1),
                    "peak_rss_growth_mb": round(_status("VmHWM") - base_hwm),
                    "peak_anon_growth_mb": round(max(peak[0], _status("RssAnon")) - base_anon),
                    "note": "peak_rss includes file-backed (reclaimable) pages of the memmap input; "
                    "peak_anon excludes them; both exclude the model and the output",
                }
            )
        )


def memory(quick: bool) -> dict:
    size, width = (4096, 4) if quick else (8192, 4)
    cmd = [sys.executable, __file__, "--memory-child", str(size), str(width), "256"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller images and networks, fewer repeats")
    parser.add_argument("--repeat", type=int, help="timed runs per measurement (default 3, 2 with --quick)")
    parser.add_argument("--checkpoint", help="trained UNet checkpoint for the 512 x 512 agreement figures")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile)")
    parser.add_argument(
        "--only",
        choices=["speed_512", "overhead", "memory_8192"],
        help="re-run one part and merge it into the existing JSON",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested but CUDA is not available here; use --device cpu")
    if args.memory_child:
        memory_child(int(args.memory_child[0]), int(args.memory_child[1]), float(args.memory_child[2]))
        return
    repeat = args.repeat or (2 if args.quick else 3)
    gpu = args.device == "cuda"
    results = {"quick": args.quick, "device": args.device, "repeat": repeat, "command": " ".join(sys.argv[1:])}
    parts = (
        ("speed_512", lambda: speed_modes(args.quick, repeat, args.checkpoint, not args.no_compile, args.device)),
        ("overhead", lambda: overhead(args.quick, repeat, args.device)),
        ("memory_8192", lambda: memory(args.quick)),
    )
    parts = tuple(p for p in parts if not (gpu and p[0] == "memory_8192"))  # host memory: a CPU measurement
    if args.only:
        previous = RESULTS_DIR / ("tiling_cuda.json" if gpu else "tiling.json")
        if previous.is_file():
            results = {**json.loads(previous.read_text())["results"], **{k: results[k] for k in ("quick", "device")}}
        parts = tuple(p for p in parts if p[0] == args.only)
    for _done, (name, part) in enumerate(parts, 1):
        t0 = time.perf_counter()
        results[name] = part()
        results[name]["benchmark_seconds"] = round(time.perf_counter() - t0)
        results["complete"] = all(k in results for k in ("speed_512", "overhead") + (() if gpu else ("memory_8192",)))
        write_result("tiling", results)  # after each part, so an interrupted run keeps what it measured


if __name__ == "__main__":
    main()

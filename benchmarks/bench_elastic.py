"""Benchmark: elastic deformation of a 572 x 572 image + label map (paper Sec. 3.1).

Per-sample time for one random 3 x 3 / 10 px deformation applied to a float32
image (cubic) and an int64 label map (nearest):

* ``ours_numpy``: :func:`random_elastic_field` + two :func:`apply_elastic_field`;
* ``ours_torch_b1`` / ``ours_torch_b16``: :func:`random_elastic_field_torch` +
  :func:`apply_elastic_field_torch` (bicubic + nearest), batch 1 and 16, on ``--device``;
* ``elasticdeform``: ``deform_random_grid([img, lbl], sigma=10, points=3, order=[3, 0])``
  (its default border mode 'constant'; ours mirrors, same amount of work);
* ``scipy_plain``: coarse grid -> ``ndimage.zoom(order=3)`` field -> two ``map_coordinates``;
* ``augment_tile``: a full :func:`sample_training_tile` (flip, rotation, elastic,
  gray values, 572 input / 388 output) from a 512 x 512 image, for reference.

Targets: ours_numpy at least as fast as elasticdeform on the CPU; on a GPU the
torch batch-16 path at least 20x faster per sample than elasticdeform.

Everything runs single-threaded by default (``--threads`` for torch): on a
shared, oversubscribed machine torch's intra-op threads otherwise spin and
the torch CPU path looks ~10x slower than it is.

Usage: ``python benchmarks/bench_elastic.py [--quick] [--device cpu|cuda] [--threads N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import timeit, write_result  # noqa: E402

from unet_core.augment.elastic import apply_elastic_field, random_elastic_field  # noqa: E402
from unet_core.augment.elastic_torch import apply_elastic_field_torch, random_elastic_field_torch  # noqa: E402
from unet_core.augment.tiles import sample_training_tile  # noqa: E402

SIZE = 572


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    img = ndi.gaussian_filter(rng.random((SIZE, SIZE)), 2).astype(np.float32)  # synthetic image
    lbl = (ndi.label(img > img.mean())[0]).astype(np.int64)  # synthetic instance map
    return img, lbl


def _scipy_plain(img, lbl, rng):
    coarse = rng.standard_normal((2, 3, 3)) * 10.0
    field = np.stack([ndi.zoom(c, (SIZE / 3, SIZE / 3), order=3, mode="mirror", grid_mode=False) for c in coarse])
    coords = np.indices(img.shape, dtype=np.float64) + field
    return ndi.map_coordinates(img, coords, order=3, mode="mirror"), ndi.map_coordinates(
        lbl, coords, order=0, mode="mirror"
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--device", default="cpu", help="device of the torch path: cpu or cuda")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: scipy and elasticdeform are single-threaded too)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeat = 3 if args.quick else 10
    device = torch.device(args.device)
    img, lbl = _inputs()
    rng = np.random.default_rng(1)
    results: dict = {
        "device": device.type,
        "torch_threads": args.threads,
        "size": SIZE,
        "grid": 3,
        "std": 10.0,
        "repeat": repeat,
        "per_sample_ms": {},
    }
    ms = results["per_sample_ms"]

    def ours_numpy():
        field = random_elastic_field(img.shape, rng=rng)
        return apply_elastic_field(img, field, order=3), apply_elastic_field(lbl, field, order=0)

    ms["ours_numpy"] = 1e3 * timeit(ours_numpy, repeat=repeat)["median_s"]
    ms["scipy_plain"] = 1e3 * timeit(lambda: _scipy_plain(img, lbl, rng), repeat=repeat)["median_s"]
    try:
        import elasticdeform

        ms["elasticdeform"] = (
            1e3
            * timeit(
                lambda: elasticdeform.deform_random_grid([img, lbl], sigma=10, points=3, order=[3, 0]), repeat=repeat
            )["median_s"]
        )
        results["elasticdeform"] = getattr(elasticdeform, "__version__", "0.5.1 (built from source for NumPy 2)")
    except ImportError as exc:  # reported, not fatal
        results["elasticdeform"] = f"not installed: {exc}"

    sync = torch.cuda.synchronize if device.type == "cuda" else None
    gen = torch.Generator().manual_seed(0)
    for b in (1, 16):
        x = torch.from_numpy(img)[None, None].repeat(b, 1, 1, 1).to(device)  # (B, 1, H, W)
        y = torch.from_numpy(lbl)[None, None].repeat(b, 1, 1, 1).to(device)  # (B, 1, H, W)

        def ours_torch(x=x, y=y, b=b):
            f = random_elastic_field_torch(b, (SIZE, SIZE), generator=gen, device=device)
            return apply_elastic_field_torch(x, f, mode="bicubic"), apply_elastic_field_torch(y, f, mode="nearest")

        ms[f"ours_torch_b{b}"] = 1e3 * timeit(ours_torch, repeat=repeat, sync=sync)["median_s"] / b
    img512, lbl512 = img[:512, :512], lbl[:512, :512]
    ms["augment_tile"] = (
        1e3 * timeit(lambda: sample_training_tile(img512, lbl512, None, rng), repeat=repeat)["median_s"]
    )

    if "elasticdeform" in ms:
        ed = ms["elasticdeform"]
        results["speedup_vs_elasticdeform"] = {k: round(ed / v, 2) for k, v in ms.items() if k != "elasticdeform"}
        results["target_cpu_met"] = bool(ms["ours_numpy"] <= ed)
        if device.type == "cuda":
            results["target_gpu_20x_met"] = bool(ed / ms["ours_torch_b16"] >= 20)
    results["per_sample_ms"] = {k: round(v, 2) for k, v in ms.items()}
    print(results)
    write_result("elastic", results)
    return results


if __name__ == "__main__":
    main()

"""Benchmark: synthetic stand-ins and the TrainingTiles dataset (unet_core.data.synthetic, unet_core.data).

Usage: python benchmarks/bench_data.py [--quick]

Targets: ``synthetic_em`` and ``synthetic_cells`` at 512 x 512 well under 0.5 s; one training
item (572 -> 388 tile, paper augmentation) fast next to a CPU training step, with the Eq. 2
weight map computed once per image (first item) and then served from the cache. Images are
synthetic stand-ins (ISBI-like 512 x 512 EM, ~160 cells), so no data download is needed.
If UNET_DATA_DIR holds the converted data, the readers' load times are also recorded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import timeit, write_result  # noqa: E402

from unet_core.data.ctc import load_ctc
from unet_core.data.isbi2012 import load_isbi2012
from unet_core.data.synthetic import synthetic_cells, synthetic_em  # noqa: E402
from unet_core.data.tiles import TrainingTiles  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    results: dict = {"data": "synthetic stand-ins (unet_core.data.synthetic)", "repeat": repeat}
    results["synthetic_em_512_s"] = timeit(lambda: synthetic_em((512, 512), seed=1), repeat=repeat)
    results["synthetic_cells_512_s"] = timeit(lambda: synthetic_cells((512, 512), seed=1), repeat=repeat)

    image, labels, _ = synthetic_em((512, 512), seed=2)
    n_items = 4 if args.quick else 10
    ds = TrainingTiles(image[None], labels[None], semantic=True, length=n_items + 1)
    t0 = time.perf_counter()
    ds[0]  # computes and caches the weight map of the one image
    results["first_item_with_weight_map_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, n_items + 1):
        ds[i]
    results["cached_item_572_388_augmented_s"] = (time.perf_counter() - t0) / n_items
    plain = TrainingTiles(image[None], labels[None], semantic=True, augment=False, length=n_items + 1)
    plain[0]
    t0 = time.perf_counter()
    for i in range(1, n_items + 1):
        plain[i]
    results["cached_item_572_388_no_augmentation_s"] = (time.perf_counter() - t0) / n_items
    with tempfile.TemporaryDirectory() as cache:
        TrainingTiles(image[None], labels[None], semantic=True, cache_dir=cache).label_and_weights(0)
        t0 = time.perf_counter()
        TrainingTiles(image[None], labels[None], semantic=True, cache_dir=cache).label_and_weights(0)
        results["weight_map_from_disk_cache_s"] = time.perf_counter() - t0

    root = os.environ.get("UNET_DATA_DIR")
    if root and (Path(root) / "isbi2012" / "meta.json").is_file():
        results["load_isbi2012_s"] = timeit(lambda: load_isbi2012(root), repeat=3, warmup=0)
        results["load_ctc_phc_gt_s"] = timeit(lambda: load_ctc("phc-u373", root), repeat=3, warmup=0)
    else:
        results["real_data"] = "not found (set UNET_DATA_DIR to the converted data to time the readers)"
    for key, value in results.items():
        print(f"{key}: {value}")
    write_result("data", results)


if __name__ == "__main__":
    main()

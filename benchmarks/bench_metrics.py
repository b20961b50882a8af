"""Benchmark: evaluation measures of Tables 1 and 2 on ISBI 2012 labels (512 x 512 slices).

Truth: the real ISBI 2012 training labels (``/work/shared/datasets/isbi2012`` or
``$UNET_DATA_DIR/**/train-labels.tif``, ``> 0`` = cell); without them, a synthetic
stand-in from :func:`unet_core.data.synthetic.synthetic_em` (the JSON says which).
Predictions scored against it:

* ``identical``: the truth itself (every error must be 0);
* ``dilated``: the membrane dilated by one pixel (3 x 3), a binary map;
* ``prob``: a SYNTHETIC probability map made from the truth (Gaussian blur
  sigma 1.5 plus smooth noise), scored over the 10 ISBI thresholds.

Reported: the values (pixel, Rand with each boundary treatment, V_rand, V_info,
warping error with split/merge/other pixel counts, SEG of the 4-connected
components at 0.5) and the time of each measure on one slice and on the stack.
Target: every measure well under a second per slice, warping error included.

Usage: ``python benchmarks/bench_metrics.py [--quick]`` (quick: 5 slices, 1 repeat).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import timeit, write_result  # noqa: E402

from unet_core.metrics.isbi import BOUNDARY_MODES, pixel_error, rand_error, rand_scores  # noqa: E402
from unet_core.metrics.seg import seg_score
from unet_core.metrics.warping import warping_error  # noqa: E402

FOUR = ndimage.generate_binary_structure(2, 1)


def load_truth(n: int) -> tuple[np.ndarray, str]:
    roots = [Path("/work/shared/datasets/isbi2012")]
    if os.environ.get("UNET_DATA_DIR"):
        roots.insert(0, Path(os.environ["UNET_DATA_DIR"]))
    for root in roots:
        found = sorted(root.glob("**/train-labels.tif")) if root.is_dir() else []
        if found:
            import tifffile

            return tifffile.imread(found[0])[:n] > 0, f"real ISBI 2012 train-labels ({found[0].name})"
    from unet_core.data.synthetic import synthetic_em

    return np.stack([synthetic_em(seed=k)[1] > 0 for k in range(n)]), "synthetic (synthetic_em), no ISBI labels found"


def predictions(truth: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    dilated = ~ndimage.binary_dilation(~truth, structure=np.ones((1, 3, 3), bool))
    noise = ndimage.gaussian_filter(rng.standard_normal(truth.shape), (0, 2, 2)) * 2.0
    prob = np.clip(ndimage.gaussian_filter(truth.astype(float), (0, 1.5, 1.5)) + 0.3 * noise, 0, 1)
    return {"identical": truth.astype(float), "dilated": dilated.astype(float), "prob": prob}


def instances(mask: np.ndarray) -> np.ndarray:
    return np.stack([ndimage.label(m, FOUR)[0] for m in mask])


def measures(pred: np.ndarray, truth: np.ndarray) -> dict:
    scores = rand_scores(pred, truth)
    warp, details = warping_error(pred, truth, return_details=True)
    return {
        "pixel_error": pixel_error(pred, truth),
        "pixel_error_fraction": pixel_error(pred, truth, definition="fraction"),
        **{f"rand_error_{b}": rand_error(pred, truth, boundary=b) for b in BOUNDARY_MODES},
        "v_rand": scores["v_rand"],
        "v_info": scores["v_info"],
        "warping_error": warp,
        "warping_error_all": details["mismatch"] / truth.size,
        "warping_pixels": details,
        "seg": seg_score(instances(pred > 0.5), instances(truth)),
    }


def timings(pred: np.ndarray, truth: np.ndarray, repeat: int) -> dict:
    inst_p, inst_t = instances(pred > 0.5), instances(truth)
    fns = {
        "pixel_error": lambda: pixel_error(pred, truth),
        "rand_error": lambda: rand_error(pred, truth),
        "rand_scores": lambda: rand_scores(pred, truth),
        "warping_error": lambda: warping_error(pred, truth),
        "seg_score": lambda: seg_score(inst_p, inst_t),
    }
    return {name: timeit(fn, repeat=repeat, warmup=1 if repeat > 1 else 0) for name, fn in fns.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 slices, 1 repeat")
    args = ap.parse_args(argv)
    n, repeat = (5, 1) if args.quick else (30, 3)
    truth, source = load_truth(n)
    preds = predictions(truth)
    results: dict = {
        "truth": source,
        "n_slices": int(truth.shape[0]),
        "slice_shape": list(truth.shape[1:]),
        "prob_map": "synthetic: gaussian blur 1.5 of the truth + 0.3 x smooth noise, clipped",
    }
    results["slice0"] = {k: measures(p[:1], truth[:1]) for k, p in preds.items()}
    results["stack"] = {k: measures(p, truth) for k, p in preds.items()}
    results["time_slice0"] = {k: timings(p[:1], truth[:1], repeat) for k, p in preds.items() if k != "identical"}
    results["time_stack"] = {k: timings(p, truth, 1) for k, p in preds.items() if k != "identical"}
    for scope in ("slice0", "stack"):
        for k, v in results[scope].items():
            print(scope, k, {m: (round(x, 5) if isinstance(x, float) else x) for m, x in v.items()})
    for scope in ("time_slice0", "time_stack"):
        for k, v in results[scope].items():
            print(scope, k, {m: round(t["median_s"], 3) for m, t in v.items()})
    write_result("metrics", results)
    return results


if __name__ == "__main__":
    main()

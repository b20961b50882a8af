"""How the DIC-HeLa cells are cut from p(cell): the watershed's seeds, chosen on training frames, scored held out.

A diagnosis, not a recipe change: for one recorded ``dic-hela-cpu`` run whose probabilities were saved
(``<checkpoint>.train_prob.npy``: 24 evenly spaced training frames of sequence 01; ``.val_prob.npy``: the
84 held-out frames of sequence 02, both with the recipe's test-time augmentation), it cuts the cells

* with the recipe's seeded watershed on ``-p`` at several seed thresholds, and
* with a watershed on the distance transform of ``p > t`` seeded at its h-maxima (a common alternative),

chooses the threshold ``t`` of each on the training frames, and reports SEG and the merged and missed cells
of SEG's matching on both. It writes ``book/results/recipes/dic-hela-cpu-seeding.json``.

    python book/scripts/dic_seeding.py runs/dic-hela/dic-hela-cpu-<key>.pt
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

import unet_core as uc
from unet_core.book import viz
from unet_core.data.labels import cut_instances
from unet_core.metrics.seg import seg_score, segmentation_errors
from unet_core.recipes.data import recipe_data
from unet_core.utils.files import atomic_write

ROOT = Path(__file__).resolve().parents[2]
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)


def distance_cut(p: np.ndarray, t: float, h: float) -> np.ndarray:
    """Cells of ``p > t`` split by a watershed on their distance transform, seeded at its h-maxima."""
    mask = p > t
    dist = ndi.distance_transform_edt(mask)
    return watershed(-dist, ndi.label(h_maxima(dist, h))[0], mask=mask)


def evaluate(cut, train_prob, train_truth, val_prob, val_truth) -> dict:
    """The threshold best on the training frames, and SEG and the error counts at it on both sets."""
    on_train = {t: seg_score(np.stack([cut(p, t) for p in train_prob]), train_truth) for t in THRESHOLDS}
    t = max(on_train, key=on_train.get)
    held = np.stack([cut(p, t) for p in val_prob])
    return {
        "threshold": t,
        "SEG training frames": round(on_train[t], 4),
        "SEG held-out": round(seg_score(held, val_truth), 4),
        **segmentation_errors(held, val_truth),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, help="a dic-hela-cpu checkpoint with its saved .train_prob/.val_prob")
    args = ap.parse_args(argv)
    recipe = uc.get_recipe("dic-hela-cpu")
    data = recipe_data(recipe, None)
    train_prob = np.load(args.checkpoint.with_suffix(".train_prob.npy"))  # (24, H, W)
    val_prob = np.load(args.checkpoint.with_suffix(".val_prob.npy"))  # (84, H, W)
    idx = np.unique(np.linspace(0, len(data["train_x"]) - 1, len(train_prob)).astype(int))
    train_truth, val_truth = np.stack([data["train_y"][i] for i in idx]), np.stack(data["groups"][0]["y"])
    rows = []
    for st in (0.7, 0.8, 0.9, 0.95):
        cut = lambda p, t, st=st: cut_instances(p, t, "watershed", max(st, t), recipe.grow_px)  # noqa: E731
        rows.append({"method": f"watershed on -p, seeds p > {st}", **evaluate(cut, train_prob, train_truth, val_prob,
                                                                             val_truth)})  # fmt: skip
        print(rows[-1], flush=True)
    for h in (2, 4, 8):
        cut = lambda p, t, h=h: distance_cut(p, t, h)  # noqa: E731
        rows.append({"method": f"watershed on the distance transform, h-maxima h = {h} px",
                     **evaluate(cut, train_prob, train_truth, val_prob, val_truth)})  # fmt: skip
        print(rows[-1], flush=True)
    out = {
        "key": "dic-hela-cpu-seeding",
        "what": "cutting the probabilities of one dic-hela-cpu run (TTA) into cells: per method the threshold best "
        "on 24 training frames of sequence 01; SEG against SILVER truth on them and on the 84 held-out frames of "
        "sequence 02, with SEG's merged and missed cells",
        "network": str(args.checkpoint.resolve().relative_to(ROOT))
        if args.checkpoint.resolve().is_relative_to(ROOT)
        else args.checkpoint.name,
        "rows": rows,
        "device": viz.device_name("cpu"),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    dest = ROOT / "book" / "results" / "recipes" / "dic-hela-cpu-seeding.json"
    atomic_write(dest, lambda tmp: tmp.write_text(json.dumps(out, indent=1) + "\n"))
    print(f"wrote {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

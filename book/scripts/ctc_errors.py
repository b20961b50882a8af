"""Where a cell recipe's network loses SEG: merged, missed and poorly outlined cells, on training and held-out frames.

A diagnosis, not a recipe change. For a cell-tracking recipe's network (its published one unless
``--checkpoint``), it predicts the training frames and every held-out group as the recipe does (tiling, TTA),
chooses the threshold on the training frames as the recipe does, and reports per part
:func:`unet_core.book.cell_errors.cell_errors`: SEG, merged and missed cells, each reference cell's Jaccard
index, and, against the other truth of the same frames (silver beside gold), the cells the reference leaves
unannotated and the reference cells merged with one of them. It writes
``book/results/recipes/<recipe>-errors.json``.

    UNET_DATA_DIR=DIR python book/scripts/ctc_errors.py phc-u373-cpu
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

import unet_core as uc
from unet_core.book import viz
from unet_core.book.cell_errors import cell_errors
from unet_core.data.labels import cut_instances
from unet_core.recipes.data import recipe_data
from unet_core.recipes.held_out import check_held_out, frame_span
from unet_core.recipes.pretrained import load_pretrained, pretrained_path
from unet_core.recipes.run import predict_recipe, score_recipe
from unet_core.training import load_checkpoint, model_from_checkpoint
from unet_core.utils.files import atomic_write

ROOT = Path(__file__).resolve().parents[2]


def _other_truth(recipe, part_truth: str, ids: list[str], data_dir) -> tuple[str | None, np.ndarray | None]:
    """The other truth kind of the dataset and its masks of ``ids``, or (None, None) where it lacks one."""
    spec = uc.dataset_spec(recipe.dataset)
    have = uc.annotated_frames(spec.name, data_dir)
    for kind in spec.truth_kinds:
        if kind != part_truth and set(ids) <= set(have.get(kind, [])):
            return kind, np.stack([f.target for f in uc.load_frames(spec.name, ids, kind, data_dir)])
    return None, None


def _part(recipe, prob, name, truth, ids, y, threshold, data_dir) -> dict:
    """One part's errors at ``threshold``, from its probabilities ``prob`` (N, H, W)."""
    inst = np.stack(
        [cut_instances(p, threshold, recipe.instances, recipe.seed_threshold, recipe.grow_px) for p in prob]
    )
    other_kind, other = _other_truth(recipe, truth, ids, data_dir)
    row = {"part": name, "truth": truth, "frames": frame_span(ids),
           "other truth": other_kind, **cell_errors(inst, np.stack(y), other)}  # fmt: skip
    print({k: v for k, v in row.items() if k != "Jaccard per cell"}, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recipe", help="a cell-tracking recipe, e.g. phc-u373-cpu")
    ap.add_argument("--checkpoint", type=Path, help="the network (default: the recipe's published one)")
    ap.add_argument("--data-dir", type=Path, help="converted data (default: $UNET_DATA_DIR)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    if args.checkpoint is None:
        model, recipe = load_pretrained(args.recipe)
        path, network = pretrained_path(args.recipe), f"published network {args.recipe}"
    else:
        model, recipe = model_from_checkpoint(args.checkpoint), uc.get_recipe(args.recipe)
        path = network = args.checkpoint
    data = recipe_data(recipe, args.data_dir)
    if data["semantic"]:
        ap.error(f"recipe {recipe.name!r} is not a cell-tracking recipe (its truth is class labels, not cells)")
    held_out = [i for g in data["groups"] for i in g["ids"]]
    check_held_out(load_checkpoint(path).get("training_data"), recipe.dataset, held_out, str(network))
    train_prob = predict_recipe(model, recipe, data["train_x"], device="cpu")
    probs = [predict_recipe(model, recipe, g["x"], device="cpu") for g in data["groups"]]
    t = float(score_recipe(recipe, probs[0], data["groups"][0]["y"], train_prob, data["train_y"])["threshold"])
    parts = [(train_prob, "training frames", data["train_truth"], data["train_ids"], data["train_y"])]
    parts += [(p, g["name"], g["truth"], g["ids"], g["y"]) for p, g in zip(probs, data["groups"])]
    rows = [_part(recipe, *p, t, args.data_dir) for p in parts]
    out = {
        "key": f"{recipe.name}-errors",
        "what": "where SEG is lost: per part (training frames, held-out groups) SEG at the threshold chosen on the "
        "training frames, SEG's merged and missed cells, each reference cell's Jaccard index, and against the "
        "other truth of the same frames the cells the reference lacks and the reference cells merged with one",
        "network": str(network) if args.checkpoint is None else Path(network).name,
        "threshold": t,
        "rows": rows,
        "seconds": round(time.perf_counter() - start, 1),
        "device": viz.device_name("cpu"),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    dest = ROOT / "book" / "results" / "recipes" / f"{recipe.name}-errors.json"
    atomic_write(dest, lambda tmp: tmp.write_text(json.dumps(out, indent=1) + "\n"))
    print(f"wrote {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

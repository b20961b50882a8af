"""Store the two cpu networks' probability maps of held-out ISBI 2012 slice 25 for the FusionNet appendix's figure.

    python book/scripts/save_slice_probs.py [--data-dir DIR] [--runs-dir runs] [--out PATH]

Writes ``book/results/recipes/isbi2012-slice25-prob.npz`` (committed, about 0.3 MB): ``unet`` and
``fusionnet``, the probability of cell of slice 25 as uint8 ``round(255 p)`` (512 x 512 each), ``slice``
(25) and ``meta`` (JSON text: which network and checkpoint each map comes from, how it was predicted,
the date). No image or label data is stored (the datasets are never committed).

Each map is read from the held-out probabilities that ``reproduce.run_recipe`` saved beside the
recipe's checkpoint (``<runs>/isbi2012/<recipe>-<hash>.val_prob.npy``, slices 25-29, so index 0) when
that file exists, else predicted here with the recipe's 8-fold test-time augmentation: the U-Net with
the published network of ``isbi2012-cpu`` (``unet_core/recipes/weights``), FusionNet from its finished
checkpoint of ``isbi2012-fusionnet-cpu`` under ``runs/``. The static book (smoke build) shows these
maps, so that its figure is that of the recorded cpu networks without running them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "book" / "results" / "recipes" / "isbi2012-slice25-prob.npz"
SLICE = 25  # the first held-out slice of load_isbi2012's split (25-29)


def _map(name: str, recipe_name: str, runs_dir: Path, isbi, device: str) -> tuple[np.ndarray, dict]:
    """(512 x 512 float32 p(cell) of slice 25, its provenance); ``isbi``: ``uc.load_isbi2012()``."""
    import unet_core as uc
    from unet_core import reproduce
    from unet_core.recipes.pretrained import load_pretrained, pretrained_path, pretrained_registry
    from unet_core.recipes.registry import get_recipe

    recipe = get_recipe(recipe_name)
    ckpt_path = reproduce.recipe_checkpoint_path(recipe, runs_dir)
    saved = ckpt_path.with_suffix(".val_prob.npy")
    if saved.is_file():
        stack = np.load(saved)
        if stack.shape != (5, 512, 512):
            raise ValueError(f"{saved} has shape {stack.shape}, expected the 5 held-out slices (5, 512, 512)")
        step = uc.load_checkpoint(ckpt_path)["step"] if ckpt_path.is_file() else None
        return stack[list(isbi.split["val"]).index(SLICE)], {
            "recipe": recipe.name,
            "checkpoint": ckpt_path.name,
            "steps": step,
            "tta": recipe.tta,
            "source": f"{recipe.name} checkpoint {ckpt_path.name} ({step:,} steps), held-out map saved by "
            f"reproduce.run_recipe ({saved.name}), 8-fold TTA"
            if step
            else f"{recipe.name}, held-out map {saved.name} saved by reproduce.run_recipe, 8-fold TTA",
        }
    if name == "U-Net":
        model, recipe = load_pretrained(recipe.name)
        sha = pretrained_registry()[recipe.name][0]
        ckpt = uc.load_checkpoint(pretrained_path(recipe.name))
        info = {
            "recipe": recipe.name,
            "checkpoint": f"unet_core/recipes/weights/{recipe.name}.pt (sha256 {sha[:16]}...)",
            "steps": ckpt["step"],
            "tta": recipe.tta,
            "source": f"published network {recipe.name} ({ckpt['step']:,} steps), predicted by "
            "save_slice_probs.py, 8-fold TTA",
        }
    else:
        if not ckpt_path.is_file():
            raise FileNotFoundError(
                f"{ckpt_path} is missing: train it first (python book/scripts/run_recipes.py {recipe.name})"
            )
        model = recipe.build_model()
        ckpt = uc.load_checkpoint(ckpt_path, model)
        if ckpt["step"] < recipe.iterations:
            raise ValueError(f"{ckpt_path} has {ckpt['step']} of {recipe.iterations} steps: let the training finish")
        model.eval()
        info = {
            "recipe": recipe.name,
            "checkpoint": ckpt_path.name,
            "steps": ckpt["step"],
            "tta": recipe.tta,
            "source": f"{recipe.name} checkpoint {ckpt_path.name} ({ckpt['step']:,} steps), predicted by "
            "save_slice_probs.py, 8-fold TTA",
        }
    image = isbi.train_images[SLICE]
    return reproduce.predict_recipe(model, recipe, [image], device)[0], info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None, help="converted data (default $UNET_DATA_DIR or ./data)")
    ap.add_argument("--runs-dir", default=str(ROOT / "runs"), help="checkpoints of the recipes (default <repo>/runs)")
    ap.add_argument("--out", default=str(OUT), help=f"output file (default {OUT.relative_to(ROOT)})")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    import unet_core as uc
    from unet_core.utils.check_cap import ENV, cap

    if cap() is not None:  # it writes a committed file of recorded maps; a capped check run records nothing
        raise SystemExit(
            f"save_slice_probs: {ENV} is set; this script writes the committed {OUT.name}, which a "
            f"capped check run never does; unset {ENV} (`unset {ENV}`) and run it again"
        )
    isbi = uc.load_isbi2012(args.data_dir)
    if SLICE not in isbi.split.get("val", []):
        raise ValueError(f"slice {SLICE} is not held out in this split: {isbi.split}")
    maps, meta = {}, {}
    for name, key, recipe in (("U-Net", "unet", "isbi2012-cpu"), ("FusionNet", "fusionnet", "isbi2012-fusionnet-cpu")):
        p, meta[name] = _map(name, recipe, Path(args.runs_dir), isbi, args.device)
        if p.shape != (512, 512) or not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
            raise ValueError(f"{name}: expected a 512 x 512 probability map, got {p.shape} in [{p.min()}, {p.max()}]")
        maps[key] = np.round(p * 255).astype(np.uint8)
        print(f"{name}: {meta[name]['source']}; mean p(cell) {p.mean():.4f}")
    meta["note"] = (
        f"p(cell) of ISBI 2012 training slice {SLICE} (held out), uint8 = round(255 p); "
        f"written {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(
        tmp, unet=maps["unet"], fusionnet=maps["fusionnet"], slice=np.int64(SLICE), meta=np.array(json.dumps(meta))
    )
    tmp.replace(out)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the named recipes and the ablation tables of chapters 06 and 07; publish the trained networks.

    python book/scripts/run_recipes.py isbi2012-cpu phc-u373-cpu dic-hela-cpu   # the converged recipes
    python book/scripts/run_recipes.py --ablations isbi2012-cpu phc-u373-cpu      # one change per row
    python book/scripts/run_recipes.py isbi2012-cpu --seeds 1 2                   # the same recipe, seeds 1 and 2
    python book/scripts/run_recipes.py --ablations isbi2012-cpu --steps 4500 --rows "w0 = 0" --seeds 0 1 2
    python book/scripts/run_recipes.py --few-images phc-u373-cpu --sizes 1 2 4 8 14 --steps 1000 --seeds 0 1 2
    python book/scripts/run_recipes.py --learning-rates isbi2012-paper --rates 3e-4 1e-3 3e-3 --steps 4500
    python book/scripts/run_recipes.py --rescore dic-hela-cpu --seeds 0 1 2             # new evaluation fields
    python book/scripts/run_recipes.py --publish isbi2012-cpu                    # checkpoint -> unet_core/recipes/weights

Each run writes ``book/results/recipes/<key>.json`` (scores, steps, seconds per step, training and
wall time, device, date, versions) and ``book/results/snapshots/<key>.npz`` (one held-out frame's
prediction at steps 0, 100, 300, 1000 and the last, ``unet_core.recipes.snapshots``; recipes and
full-budget ablation rows only, to keep the repository small) as soon as it ends; a key whose JSON
exists is skipped (``--rescore`` scores its network again), and an interrupted training resumes from
its checkpoint under ``runs/`` (``$UNET_RUNS_DIR``), bit-identically.
The chapters read these files; they never train the ablations themselves (hours on a CPU). An
ablation table runs at the steps of the chapter that shows it (its ``ablations`` in
``book/manifest.py``), so that its keys are those the chapter reads, unless ``--steps`` says otherwise
(500 for a base recipe that no chapter shows).
``--publish`` strips the optimizer state, stores the recipe and its recorded scores in the checkpoint,
copies it to ``unet_core/recipes/weights/<name>.pt`` and rewrites the registry line (``name sha256 url``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "book" / "results" / "recipes"
SNAPSHOTS = ROOT / "book" / "results" / "snapshots"  # unet_core.recipes.snapshots files of the recorded runs
DEFAULT_ABLATION_STEPS = 500  # for a base recipe whose ablation table no chapter shows
if str(ROOT / "book") not in sys.path:
    sys.path.append(str(ROOT / "book"))
import manifest  # noqa: E402  (book/manifest.py: the steps of the ablation tables the chapters show)


def repo_relative(path) -> str:
    """``path`` relative to the repository when it lies inside it, else its file name: committed results
    name no folder of the machine that wrote them."""
    p = Path(path).resolve()
    return p.relative_to(ROOT).as_posix() if p.is_relative_to(ROOT) else p.name


REPO_URL = "https://github.com/unet-reproduced/unet-reproduced"


def published_network(recipe, runs_dir):
    """The published network that ``recipe`` would train, when its own checkpoint is not in ``runs_dir``.

    A row that changes only the evaluation (``no TTA``) trains the network of its base recipe (the same
    training key); when that run's checkpoint is gone but the network is published, the row scores the
    published file instead of training it again. None otherwise.
    """
    from unet_core.recipes.key import recipe_checkpoint_path, training_key
    from unet_core.recipes.pretrained import pretrained_path, pretrained_registry
    from unet_core.recipes.registry import get_recipe

    if recipe_checkpoint_path(recipe, runs_dir).is_file():
        return None
    for base in pretrained_registry():
        if training_key(get_recipe(base)) == training_key(recipe):
            return pretrained_path(base)
    return None


def run_one(key: str, recipe, runs_dir, device: str, snapshots: bool = True) -> dict | None:
    from unet_core.book import viz
    from unet_core.recipes.run import evaluate_recipe, run_recipe

    dest = RESULTS / f"{key}.json"
    if dest.exists():
        print(f"{key}: {dest} exists, skipped")
        return json.loads(dest.read_text())
    t0 = time.time()
    print(time.strftime("%H:%M:%S"), "start", key, flush=True)
    try:
        published = published_network(recipe, runs_dir)
        if published is not None:
            print(f"{key}: scoring the published network {published.name} (the same training key)", flush=True)
            out = evaluate_recipe(recipe, published, device=device)
            out["network"] = repo_relative(published)
            out["note"] = f"the published network {published.name} (its training: the base recipe's record)"
        else:
            out = run_recipe(recipe, runs_dir=runs_dir, device=device, snapshots=snapshots)
    except Exception:  # keep going with the other runs; the traceback is in the log
        traceback.print_exc()
        return None
    out["checkpoint"] = repo_relative(out["checkpoint"])
    if out.get("snapshots"):  # a few small 8-bit crops of one held-out frame's prediction: committed
        snap = SNAPSHOTS / f"{key}.npz"
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out["snapshots"], snap)
        out["snapshots"] = repo_relative(snap)
    out.update(
        {
            "key": key,
            "seed": int(recipe.train_options.get("seed", 0)),  # initial weights, tiles, dropout
            "wall seconds": round(time.time() - t0, 1),
            "device": viz.device_name(device),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": viz._versions(),
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    from unet_core.utils.files import atomic_write

    atomic_write(dest, lambda tmp: tmp.write_text(json.dumps(out, indent=1, default=str) + "\n"))
    print(time.strftime("%H:%M:%S"), "done", key, json.dumps(out["values"], default=str)[:300], flush=True)
    return out


def rescore(key: str, recipe, runs_dir, device: str) -> dict | None:
    """Score a recorded run's network again with the recipe as registered now (its evaluation fields).

    The training record (steps, times, device, date of the training) stays; the scores, the held-out
    groups and ``rescored`` (date, device, the recipe's evaluation fields) are replaced. The network is
    the run's checkpoint under ``runs_dir``, else the published network of the same training key.
    """
    from unet_core.book import viz
    from unet_core.recipes.key import recipe_checkpoint_path
    from unet_core.recipes.run import evaluate_recipe
    from unet_core.utils.files import atomic_write

    dest = RESULTS / f"{key}.json"
    if not dest.exists():
        print(f"{key}: not recorded, nothing to re-score (run it first)")
        return None
    old = json.loads(dest.read_text())
    network = recipe_checkpoint_path(recipe, runs_dir)
    if not network.is_file():
        network = published_network(recipe, runs_dir)
    if network is None:
        print(f"{key}: neither its checkpoint under {runs_dir} nor a published network of its training is here")
        return None
    print(time.strftime("%H:%M:%S"), "re-score", key, "with", network.name, flush=True)
    out = evaluate_recipe(recipe, network, device=device)
    fields = ("tta", "threshold", "instances", "seed_threshold", "grow")
    new = {
        **old,
        **{k: out[k] for k in ("values", "held-out groups", "truth", "predict seconds")},
        "recipe": out["recipe"],
        "rescored": {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": viz.device_name(device),
            "evaluation": {k: out["recipe"].get(k) for k in fields},
            "values before": old.get("values"),
        },
    }
    atomic_write(dest, lambda tmp: tmp.write_text(json.dumps(new, indent=1, default=str) + "\n"))
    print(time.strftime("%H:%M:%S"), "re-scored", key, json.dumps(new["values"], default=str)[:300], flush=True)
    return new


def publish(name: str) -> None:
    from unet_core.recipes.pretrained import PRETRAINED_DIR, publish_checkpoint
    from unet_core.recipes.registry import get_recipe

    recorded = json.loads((RESULTS / f"{name}.json").read_text())
    recipe = get_recipe(name)
    scores = {k: v for k, v in recorded["values"].items() if not isinstance(v, dict)}
    info = {
        "train seconds": recorded["train seconds (this call)"],
        "seconds per step": recorded["seconds per step"],
        "device": recorded["device"],
        "date": recorded["date"],
        "steps": recorded["steps"],
    }
    path, sha = publish_checkpoint(ROOT / recorded["checkpoint"], recipe, scores={**scores, **info})
    registry = PRETRAINED_DIR / "registry.txt"
    lines = [
        ln
        for ln in (registry.read_text().splitlines() if registry.exists() else [])
        if ln.strip() and not ln.startswith(f"{name}.pt ")
    ]
    if not lines or not lines[0].startswith("#"):
        lines.insert(0, "# published checkpoints of the cpu recipes (pooch format: name sha256 url)")
    lines.append(f"{name}.pt {sha} {REPO_URL}/raw/main/unet_core/recipes/weights/{name}.pt")
    registry.write_text("\n".join(lines) + "\n")
    print(f"published {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {sha[:16]}...)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipes", nargs="*", help="recipe names to run")
    parser.add_argument("--ablations", nargs="*", default=[], help="recipes whose ablation table to run")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="the budget in steps: of the ablation tables (default: the steps of the chapter that shows the "
        f"table, in book/manifest.py, else {DEFAULT_ABLATION_STEPS}), of --few-images and --learning-rates "
        "(default: the recipe's)",
    )
    parser.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=[0],
        help="the seeds to run, of the recipes and of the ablation rows (0: the recipe itself, whose network is "
        "published; k: the recipe <name>@seed<k>, unet_core.recipes.seeded, key suffix @seed<k>); default 0",
    )
    parser.add_argument(
        "--rows",
        nargs="*",
        default=None,
        help='with --ablations: only these rows (e.g. "w0 = 0" recipe); default all',
    )
    parser.add_argument(
        "--few-images",
        nargs="*",
        default=[],
        help="recipes to train on few of their frames (--sizes), with and without elastic deformation, at "
        "--steps, for each of --seeds (unet_core.recipes.experiments.few_images)",
    )
    parser.add_argument("--sizes", nargs="*", type=int, default=[1, 2, 4, 8], help="with --few-images")
    parser.add_argument(
        "--learning-rates",
        nargs="*",
        default=[],
        help="recipes to train at each of --rates, at --steps, for each of --seeds",
    )
    parser.add_argument("--rates", nargs="*", type=float, default=[1e-3], help="with --learning-rates")
    parser.add_argument(
        "--rescore",
        nargs="*",
        default=[],
        help="recipes whose recorded runs (of --seeds) to score again with the recipe's evaluation fields as "
        "registered now (threshold, instance cutting, TTA); the training record stays",
    )
    parser.add_argument("--publish", nargs="*", default=[], help="recipes whose finished run to publish")
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    from unet_core.utils.check_cap import ENV, cap

    if cap() is not None:  # its records and published networks are results; a capped check run is not
        raise SystemExit(
            f"run_recipes: {ENV} is set; this script records results and publishes networks, which a "
            f"capped check run never does; unset {ENV} (`unset {ENV}`) and run it again"
        )
    from unet_core.book.comparisons import ablation_key
    from unet_core.recipes.experiments import few_images, learning_rates
    from unet_core.recipes.registry import ablations, get_recipe, seeded

    for name in args.recipes:
        for seed in args.seeds:
            recipe = seeded(name, seed)
            run_one(recipe.name, recipe, args.runs_dir, args.device)
    for base in args.ablations:
        steps = args.steps or manifest.ablation_steps(base) or DEFAULT_ABLATION_STEPS
        table = ablations(base, iterations=steps)
        unknown = set(args.rows or ()) - set(table)
        if unknown:
            raise SystemExit(
                f"run_recipes: --rows {sorted(unknown)} are not rows of {base}'s table; rows: {list(table)}"
            )
        full = steps == get_recipe(base).iterations  # snapshots of the full-budget rows only
        for row, recipe in table.items():
            if args.rows and row not in args.rows:
                continue
            for seed in args.seeds:
                suffix = f"@seed{seed}" if seed else ""
                key = ablation_key(base, steps, row) + suffix
                run_one(key, seeded(recipe, seed), args.runs_dir, args.device, snapshots=full)
    for base in args.few_images:
        for seed in args.seeds:  # seed by seed, so that a partial sweep has whole curves
            for n in args.sizes:
                for elastic in (True, False):
                    recipe = few_images(base, n, seed, iterations=args.steps, elastic=elastic)
                    run_one(recipe.name, recipe, args.runs_dir, args.device, snapshots=False)
    for base in args.learning_rates:
        for recipe in learning_rates(base, args.rates, iterations=args.steps).values():
            for seed in args.seeds:
                run_one(seeded(recipe, seed).name, seeded(recipe, seed), args.runs_dir, args.device, snapshots=False)
    for name in args.rescore:
        for seed in args.seeds:
            recipe = seeded(name, seed)
            rescore(recipe.name, recipe, args.runs_dir, args.device)
    for name in args.publish:
        publish(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

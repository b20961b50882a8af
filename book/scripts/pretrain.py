"""Train a chapter's recipes before the chapter runs, over every GPU of the machine (torchrun + DDP).

    python book/scripts/pretrain.py 06_isbi2012 [--scale full] [--device cuda] [--nproc N] [--dry-run]

The ``book-full`` workflow calls this before it executes a chapter: for each recipe that the chapter
trains at ``--scale`` it runs

    python -m torch.distributed.run --standalone --nproc_per_node=N -m unet_core train -q --recipe NAME ...

which trains the recipe with DistributedDataParallel (the recipe's global batch split over the N
processes; NCCL on GPUs), writes the checkpoint where the chapter looks for it
(``$UNET_RUNS_DIR/<dataset>/<name>-<hash>.pt``, by rank 0, atomically) and the held-out scores to
``<same>.pretrain.json``. The chapter then finds the finished checkpoint, loads it instead of
training, and says so ("trained before this run"). Nothing is done at smoke scale (the chapters train
their smoke recipes in a throw-away folder) or for a recipe with a published network, which the
chapters load instead (``PRETRAINED = True``).

Which recipes a chapter trains is its entry in ``book/manifest.py`` (its recipes per scale;
``tests/test_book.py`` checks them against the chapter's ``RECIPE``/``RECIPES`` dicts). ``N`` is the
number of GPUs (``--nproc``), lowered to the largest number that divides the recipe's global batch.

Under ``UNET_CHECK_CAP=N`` (:mod:`unet_core.utils.check_cap`) it trains the capped recipes: ``N`` steps of a
small batch on small tiles, a check of the path (CI runs it on the CPU with ``--device cpu --nproc 2``).
Their steps and tile are part of the training hash, so their checkpoints (and ``.pretrain.json``) have
other names than the real ones: an uncapped chapter never finds them, and they never count as finished
for it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
if str(ROOT / "book") not in sys.path:
    sys.path.append(str(ROOT / "book"))

import manifest  # noqa: E402  (book/manifest.py: each chapter's recipes per scale)

from unet_core.recipes.key import recipe_checkpoint_path  # noqa: E402
from unet_core.recipes.pretrained import pretrained_registry  # noqa: E402
from unet_core.recipes.registry import get_recipe  # noqa: E402
from unet_core.utils import check_cap  # noqa: E402

SCALES = manifest.SCALES


def chapter_recipes(chapter: str, scale: str) -> list[str]:
    """Names of the registered recipes that ``chapter`` runs at ``scale`` (its ``book/manifest.py`` entry).

    Parameters
    ----------
    chapter : str
        File stem of the chapter, e.g. ``"06_isbi2012"``.
    scale : str
        One of :data:`SCALES`.

    Returns
    -------
    list of str
        In the order of the chapter's code; empty for a chapter that runs no recipe.

    Raises
    ------
    SystemExit
        When ``chapter`` is not in the manifest (the message lists the chapters).
    ValueError
        When ``scale`` is not one of :data:`SCALES`.
    """
    if chapter not in manifest.stems():
        raise SystemExit(f"pretrain: no chapter {chapter!r}; chapters: {', '.join(manifest.stems())}")
    return manifest.recipes(chapter, scale)


def processes(batch_size: int, gpus: int) -> int:
    """The largest number of processes <= ``gpus`` that divides ``batch_size`` (at least 1).

    >>> processes(8, 8), processes(8, 3), processes(1, 4), processes(8, 0)
    (8, 2, 1, 1)
    """
    return max(n for n in range(1, max(gpus, 1) + 1) if batch_size % n == 0)


def runs_dir() -> Path:
    """Where the chapters keep their checkpoints: ``$UNET_RUNS_DIR``, else ``<repo>/runs``."""
    return Path(os.environ.get("UNET_RUNS_DIR") or ROOT / "runs").resolve()


def plan(chapter: str, scale: str, device: str, gpus: int, iterations: int | None = None) -> list[dict]:
    """One entry per recipe to train: its name, the number of processes, the command and ``check_cap`` (the cap
    of ``$UNET_CHECK_CAP``, or None)."""
    names = chapter_recipes(chapter, scale)
    if scale == "smoke":
        return []
    published = pretrained_registry()
    steps = [] if iterations is None else ["--iterations", str(iterations)]
    out = []
    for name in names:
        if name in published:
            continue
        recipe = get_recipe(name, **({"iterations": iterations} if iterations else {}))
        n = processes(recipe.batch_size, gpus)
        ckpt = recipe_checkpoint_path(recipe, runs_dir())
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={n}",
            "-m",
            "unet_core",
            "train",
            "-q",
            "--recipe",
            name,
            "--device",
            device,
            *steps,
            "--json",
            str(ckpt.with_suffix(".pretrain.json")),
        ]
        out.append(
            {
                "recipe": name,
                "processes": n,
                "batch_size": check_cap.capped_batch(recipe.batch_size, n),
                "checkpoint": str(ckpt),
                "command": cmd,
                "check_cap": check_cap.cap(),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", help="chapter name, e.g. 06_isbi2012")
    parser.add_argument("--scale", default="full", choices=SCALES)
    parser.add_argument("--device", default="cuda", help="cuda (NCCL) or cpu (gloo)")
    parser.add_argument("--nproc", type=int, help="processes at most (default: the number of GPUs, 1 on the CPU)")
    parser.add_argument("--iterations", type=int, help="override the recipes' steps (a quick check)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan as JSON, run nothing")
    args = parser.parse_args(argv)
    try:
        check_cap.cap()  # a malformed $UNET_CHECK_CAP: one line naming it, before anything runs
    except ValueError as err:
        raise SystemExit(f"pretrain: {err}") from None
    if args.nproc is None:
        import torch

        args.nproc = torch.cuda.device_count() if args.device.startswith("cuda") else 1
    todo = plan(args.chapter, args.scale, args.device, args.nproc, args.iterations)
    if args.dry_run:
        print(json.dumps(todo, indent=1))
        return 0
    if todo and check_cap.label() is not None:
        print(f"pretrain: {check_cap.label()}; checkpoints under {runs_dir()} named by the capped recipes", flush=True)
    if not todo:
        print(f"pretrain: {args.chapter} trains nothing at scale={args.scale} that is not published; nothing to do")
    for job in todo:
        print(
            f"pretrain: {job['recipe']} on {job['processes']} process(es), global batch {job['batch_size']}: "
            f"{' '.join(job['command'][1:])}",
            flush=True,
        )
        Path(job["checkpoint"]).parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(job["command"], cwd=ROOT, env=dict(os.environ, UNET_RUNS_DIR=str(runs_dir())))
        if done.returncode:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())

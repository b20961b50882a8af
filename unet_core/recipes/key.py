"""Where a recipe's checkpoint lives, named by a hash of the fields that change the trained network."""
from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

from ..utils.validation import check_path
from .capped import _recipe
from .registry import Recipe

__all__ = ['recipe_checkpoint_path']


def _training_key(recipe: Recipe) -> str:
    """Hash of the fields that change the trained network (not the evaluation-only ones)."""
    d = recipe.to_dict()
    for k in ("name", "notes", "tta", "instances", "threshold", "seed_threshold"):
        d.pop(k)
    for k, default in (("separation_gap", 0), ("model", "unet"), ("batch_size", 1), ("train_frames", ()),
                       ("truth", "best")):  # fields added later: defaults keep older hashes
        if d[k] == default:
            d.pop(k)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def recipe_checkpoint_path(recipe: Recipe, runs_dir=None) -> Path:
    """Where :func:`train_recipe` keeps the checkpoint: ``<runs>/<dataset>/<name>-<training hash>.pt``.

    Two recipes that train the same network (e.g. an ablation that only drops TTA) share it.

    Raises
    ------
    TypeError, ValueError
        If ``recipe`` is not a Recipe or known name, or ``runs_dir`` not a path or None.
    NotADirectoryError
        If ``runs_dir`` (or ``$UNET_RUNS_DIR``) is an existing file.
    """
    recipe = _recipe(recipe)
    runs = check_path(runs_dir, "runs_dir") or Path(os.environ.get("UNET_RUNS_DIR") or "runs")
    if runs.exists() and not runs.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"runs_dir={str(runs)!r} is a file, not a folder; pass a folder "
                                                "for the checkpoints (it is created if missing) or set $UNET_RUNS_DIR")
    slug = recipe.name.split("@")[0].replace("/", "_")
    return runs / recipe.dataset / f"{slug}-{_training_key(recipe)}.pt"

"""Where a recipe's checkpoint lives, named by a hash of the fields that change the trained network."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

from ..data.paths import default_runs_dir
from ..utils.validation import check_path, fmt
from .capped import resolve_recipe
from .registry import Recipe

__all__ = ['recipe_checkpoint_path']


# The checkpoint key (version 1): a hash of the Recipe fields that change the trained network. Every field of
# Recipe is in exactly one of KEY_FIELDS, LATER_KEY_FIELDS and NOT_KEY_FIELDS (tests/test_recipes.py fails on
# a new field that is in none), so that a new field is a decision, not an accident.
KEY_VERSION = 1
# Hashed always: the fields of the first recipes. ("scale" changes no network, but it was hashed from the start.)
KEY_FIELDS = (
    "dataset",
    "scale",
    "base_channels",
    "depth",
    "tile",
    "downsample",
    "dropout",
    "optimizer",
    "learning_rate",
    "momentum",
    "schedule",
    "warmup_steps",
    "grad_clip",
    "iterations",
    "w0",
    "sigma",
    "class_weights",
    "augment",
)
# Added later: hashed only where the value differs from the one given here (the value that trains the network
# the recipes trained before the field existed), so the keys of the recipes that leave it there do not move.
LATER_KEY_FIELDS = {
    "separation_gap": 0,
    "model": "unet",
    "batch_size": 1,
    "train_frames": [],
    "truth": "best",
    "model_options": {},
    "train_options": {},
}
# Evaluation only: the same network, so the same checkpoint.
NOT_KEY_FIELDS = ("name", "notes", "tta", "instances", "threshold", "seed_threshold", "grow")
# TrainConfig fields of Recipe.train_options that do not change the network (progress bar, validation calls).
NOT_KEY_TRAIN_OPTIONS = ("log_every", "val_every")


def training_key(recipe: Recipe) -> str:
    """Hash of the fields that change the trained network: ``KEY_FIELDS`` and ``LATER_KEY_FIELDS``.

    A field of ``LATER_KEY_FIELDS`` at its listed value is left out of the hash, and so are the
    ``NOT_KEY_TRAIN_OPTIONS`` of ``train_options``: a recipe that uses none of them has the key it had
    before they existed. ``KEY_VERSION`` enters the hash from version 2 on (a change of these lists that
    moves existing keys must raise it).

    Parameters
    ----------
    recipe : Recipe

    Returns
    -------
    str
        12 hexadecimal digits (of a SHA-256).

    Raises
    ------
    TypeError
        If ``recipe`` is not a Recipe.

    Examples
    --------
    >>> from unet_core.recipes.registry import get_recipe
    >>> training_key(get_recipe("isbi2012-cpu"))
    '6d73e7f011ac'
    >>> training_key(get_recipe("isbi2012-cpu", tta=False)) == training_key(get_recipe("isbi2012-cpu"))
    True
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {fmt(recipe)}; pass get_recipe(name)")
    d = json.loads(json.dumps(recipe.to_dict()))  # plain JSON values: tuples become lists
    d["train_options"] = {k: v for k, v in d["train_options"].items() if k not in NOT_KEY_TRAIN_OPTIONS}
    key = {k: d[k] for k in KEY_FIELDS}
    key.update({k: d[k] for k, unchanged in LATER_KEY_FIELDS.items() if d[k] != unchanged})
    if KEY_VERSION != 1:
        key["key_version"] = KEY_VERSION
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


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
    recipe = resolve_recipe(recipe)
    runs = check_path(runs_dir, "runs_dir") or default_runs_dir()
    if runs.exists() and not runs.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"runs_dir={str(runs)!r} is a file, not a folder; pass a folder "
            "for the checkpoints (it is created if missing) or set $UNET_RUNS_DIR",
        )
    slug = recipe.name.split("@")[0].replace("/", "_")
    return runs / recipe.dataset / f"{slug}-{training_key(recipe)}.pt"

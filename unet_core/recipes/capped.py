"""A recipe under the check cap (``$UNET_CHECK_CAP``): fewer steps, a small tile, a few cropped frames."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from ..models.registry import build_model
from ..utils.check_cap import CAP_CROP, CAP_FRAMES, CAP_OUTPUT, ENV, cap, crop_window
from ..utils.validation import fmt
from .registry import Recipe, get_recipe

__all__ = ['capped_tile', 'capped_recipe', 'capped_data']


@functools.cache
def _smallest_tile(model: str, depth: int) -> int:
    """The smallest valid training tile of a network with an output of at least :data:`~unet_core.utils.check_cap.CAP_OUTPUT` px."""

    net = build_model(model, base_channels=1, depth=depth)  # the sizes do not depend on the width
    for tile in range(8, 4096):
        try:
            if net.output_size(tile) >= CAP_OUTPUT:
                return tile
        except ValueError:  # not a valid input size of this network
            continue
    raise ValueError(f"no valid tile of {model} (depth {depth}) has an output of {CAP_OUTPUT} px")


def capped_tile(model: str, depth: int, tile: int, value: int | None = None) -> int:
    """A training tile of network ``model`` (depth ``depth``), capped to the smallest valid one whose output is at
    least :data:`~unet_core.utils.check_cap.CAP_OUTPUT` px (U-Net of depth 5: 252 -> 68; FusionNet: 64).

    Parameters
    ----------
    model : str
        A name of :func:`unet_core.models.build_model` ("unet", "fusionnet").
    depth : int
    tile : int
        The training tile asked for (returned as it is when it is smaller, or without the cap).
    value : int or None
        As for :func:`~unet_core.utils.check_cap.cap`.

    Returns
    -------
    int

    Examples
    --------
    >>> capped_tile("unet", 5, 572, value=1), capped_tile("fusionnet", 5, 640, value=1), capped_tile("unet", 5, 572, value=0)
    (252, 64, 572)
    """
    if cap(value) is None:
        return tile
    return min(tile, _smallest_tile(model, depth))


def capped_recipe(recipe: Any, value: int | None = None) -> Any:
    """A :class:`~unet_core.recipes.registry.Recipe` under the cap: at most ``N`` steps, the capped tile
    (:func:`capped_tile`), no test-time augmentation; its other fields (network, width, optimiser,
    batch, loss, data) are kept. Anything but a Recipe is returned unchanged.

    The tile and the steps enter the recipe's training hash
    (:func:`unet_core.recipes.key.recipe_checkpoint_path`), so the checkpoint of a capped recipe is
    never the one of the recipe itself.

    Parameters
    ----------
    recipe : Recipe or anything
    value : int or None
        As for :func:`~unet_core.utils.check_cap.cap`.

    Returns
    -------
    Recipe or the argument unchanged

    Examples
    --------
    >>> from unet_core.recipes.registry import get_recipe
    >>> r = capped_recipe(get_recipe("isbi2012-full"), value=1)
    >>> r.name, r.base_channels, r.tile, r.iterations, r.batch_size, r.tta
    ('isbi2012-full', 64, 252, 1, 8, False)
    """

    n = cap(value)
    if n is None or not isinstance(recipe, Recipe):
        return recipe
    return dataclasses.replace(
        recipe,
        iterations=min(recipe.iterations, n),
        tta=False,
        tile=capped_tile(recipe.model, recipe.depth, recipe.tile, n),
    )


def _spread(n: int, k: int) -> list[int]:
    """``min(n, k)`` evenly spaced indices of ``range(n)``, first and last included."""
    return sorted(set(np.linspace(0, n - 1, min(n, k)).round().astype(int).tolist())) if n else []


def _crop_pair(image, truth, semantic: bool):
    """``(image, truth)`` cropped to :data:`~unet_core.utils.check_cap.CAP_CROP` px: centred on the image, or on the largest cell of an
    instance map (so that the crop holds a reference cell to score)."""
    truth_arr = np.asarray(truth)
    centre = None
    if not semantic and truth_arr.ndim == 2 and truth_arr.any():
        sizes = np.bincount(truth_arr.ravel().astype(np.int64))
        sizes[0] = 0
        ys, xs = np.nonzero(truth_arr == sizes.argmax())
        centre = (float(ys.mean()), float(xs.mean()))
    rows, cols = crop_window(truth_arr.shape[-2:], CAP_CROP, centre)
    return image[..., rows, cols], truth[..., rows, cols]


def capped_data(data: dict, value: int | None = None) -> dict:
    """A recipe's data (:func:`unet_core.recipes.data.recipe_data`) under the cap.

    Keeps :data:`~unet_core.utils.check_cap.CAP_FRAMES` evenly spaced training frames (``train_x``, ``train_y``, ``train_ids``
    and the ``training_data`` record that a checkpoint keeps) and the first :data:`~unet_core.utils.check_cap.CAP_FRAMES` frames
    of every held-out group (``groups`` and ``val_x``, ``val_y``, ``val_ids``), every frame cropped to
    :data:`~unet_core.utils.check_cap.CAP_CROP` px (around the largest cell of instance masks, so that a crop holds a cell to
    train on or to score); says so in ``source`` and adds ``check_cap``. Returns ``data`` itself when
    there is no cap.

    Parameters
    ----------
    data : dict
        As :func:`unet_core.recipes.data.recipe_data` returns it (missing keys are left out).
    value : int or None
        As for :func:`~unet_core.utils.check_cap.cap`.

    Returns
    -------
    dict
        A new dict; the arrays are views of the given ones.

    Examples
    --------
    >>> d = {"train_x": [np.zeros((512, 512))] * 25, "train_y": [np.zeros((512, 512))] * 25,
    ...      "val_x": [np.zeros((512, 512))] * 5, "val_y": [np.zeros((512, 512))] * 5, "semantic": True, "source": "x"}
    >>> c = capped_data(d, value=1)
    >>> len(c["train_x"]), c["train_x"][0].shape, len(c["val_x"]), c["val_x"][0].shape, c["check_cap"]
    (2, (128, 128), 2, (128, 128), 1)
    """
    n = cap(value)
    if n is None or not isinstance(data, dict):
        return data
    d = dict(data)
    semantic = bool(d.get("semantic", True))
    keep = _spread(len(d.get("train_x", [])), CAP_FRAMES)
    for key in ("train_x", "train_y", "train_ids"):
        if key in d:
            d[key] = [d[key][i] for i in keep]
    if isinstance(d.get("training_data"), dict) and "train_ids" in d:
        d["training_data"] = {**d["training_data"], "train_frames": list(d["train_ids"])}

    def held_out(xs, ys):
        pairs = [_crop_pair(x, y, semantic) for x, y in zip(list(xs)[:CAP_FRAMES], list(ys)[:CAP_FRAMES])]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    if "train_x" in d and "train_y" in d:
        d["train_x"], d["train_y"] = held_out(d["train_x"], d["train_y"])  # the kept frames, cropped

    if "groups" in d:
        groups = []
        for g in d["groups"]:
            xs, ys = held_out(g["x"], g["y"])
            groups.append({**g, "x": xs, "y": ys, "ids": list(g["ids"])[:CAP_FRAMES]})
        d["groups"] = groups
    if "val_x" in d and "val_y" in d:
        if d.get("groups"):
            d["val_x"], d["val_y"] = d["groups"][0]["x"], d["groups"][0]["y"]
        else:
            d["val_x"], d["val_y"] = held_out(d["val_x"], d["val_y"])
    if "val_ids" in d:
        d["val_ids"] = list(d["val_ids"])[:CAP_FRAMES]
    d["source"] = (
        f"{d.get('source', '')}; {ENV}={n}: {len(keep)} training frame(s) and at most {CAP_FRAMES} "
        f"held-out frame(s) per group, cropped to {CAP_CROP} px"
    )
    d["check_cap"] = n
    return d


def resolve_recipe(recipe) -> Recipe:
    """A Recipe, or a registered recipe name looked up with ``get_recipe`` (ValueError if unknown)."""
    if not isinstance(recipe, (Recipe, str)):
        raise TypeError(
            f"recipe must be a Recipe or a recipe name such as 'isbi2012-cpu', got {fmt(recipe)}; "
            "unet_core.recipe_names() lists them"
        )
    return capped_recipe(get_recipe(recipe))  # $UNET_CHECK_CAP: fewer steps, a small tile

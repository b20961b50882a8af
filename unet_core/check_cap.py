"""A check cap: run the book's ``full`` (GPU) path on a CPU in seconds, as a check that never counts as a result.

``UNET_CHECK_CAP=N`` (a whole number of training steps) keeps every part of a run, the paper's
64-channel networks included, and shrinks only the work:

* every training stops after at most ``N`` steps, with a global batch of at most
  :data:`CAP_BATCH` tiles (or one tile per process when there are more processes)
  (:func:`apply_check_cap`, called by :func:`unet_core.train.train`);
* a recipe (:func:`capped_recipe`, applied wherever :mod:`unet_core.reproduce` looks one up) trains
  on the smallest valid tile of its network with an output of at least :data:`CAP_OUTPUT` px,
  predicts without test-time augmentation and stops after ``N`` steps; since the tile and the
  steps are part of the recipe's training hash, its checkpoint has another name than the
  uncapped recipe's and can never be taken for it;
* the data of a recipe (:func:`capped_data`, applied by :func:`unet_core.reproduce.recipe_data`)
  keep :data:`CAP_FRAMES` training frames and :data:`CAP_FRAMES` held-out frames per group, all cropped
  to :data:`CAP_CROP` px (training tiles mirror the crop where they reach beyond it);
* the chapters of the book time and repeat once (:func:`capped_repeat`), loop over at most
  :data:`CAP_FRAMES` items (:func:`capped_count`) and crop their images (:func:`capped_image`).

Nothing a capped run measures is a result: :func:`unet_core.viz.record_results` writes it into a
throw-away folder (:func:`results_dir`) with the cap in the record, and every line that cites such a
run says so (:func:`label`). Unset, empty or ``0``: no cap, and every function here returns its
input unchanged.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ENV", "CAP_BATCH", "CAP_CROP", "CAP_FRAMES", "CAP_OUTPUT", "cap", "label", "results_dir",
           "capped_steps", "capped_batch", "capped_repeat", "capped_count", "capped_image", "capped_tile",
           "capped_recipe", "capped_data", "apply_check_cap"]

ENV = "UNET_CHECK_CAP"
CAP_BATCH = 2  # tiles per training step at most (one per process when there are more processes)
CAP_CROP = 128  # side of the held-out images and of the chapters' cropped images
CAP_FRAMES = 2  # training frames, held-out frames per group, items of a chapter's loop
CAP_OUTPUT = 64  # a capped training tile is the smallest valid one with at least this output side


def cap(value: int | None = None) -> int | None:
    """The number of training steps ``$UNET_CHECK_CAP`` allows, or None when there is no cap.

    Parameters
    ----------
    value : int or None
        Use this cap instead of reading the environment (None: read ``$UNET_CHECK_CAP``).

    Returns
    -------
    int or None
        ``N >= 1``; None when the variable is unset, empty or ``0``.

    Raises
    ------
    ValueError
        If the variable (or ``value``) is not a whole number >= 0 (the message names the variable,
        its value and the fix).

    Examples
    --------
    >>> cap(2), cap(0)
    (2, None)
    """
    if value is None:
        text = os.environ.get(ENV, "").strip()
        if not text:
            return None
        if not text.isdigit():
            raise ValueError(f"{ENV}={os.environ[ENV]!r} must be a whole number of training steps >= 0 (e.g. "
                             f"{ENV}=1 for a capped check run of the full path; 0 or unset: no cap); set it to a "
                             f"number such as 1, or unset it with `unset {ENV}`")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"the check cap must be a whole number of training steps >= 0 (as {ENV}), got {value!r}")
    return int(value) or None


def label(value: int | None = None) -> str | None:
    """The words every output of a capped run carries, or None when there is no cap.

    Parameters
    ----------
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    str or None

    Examples
    --------
    >>> label(1)
    'CAPPED CHECK RUN (UNET_CHECK_CAP=1: at most 1 training step(s), cropped images, one repetition): a check of the code path, not a result'
    >>> label(0) is None
    True
    """
    n = cap(value)
    if n is None:
        return None
    return (f"CAPPED CHECK RUN ({ENV}={n}: at most {n} training step(s), cropped images, one repetition): "
            "a check of the code path, not a result")


def results_dir() -> Path:
    """The throw-away folder of a capped run's records: ``<tempdir>/unet_core-check-results``.

    Used whatever ``$UNET_RESULTS_DIR`` says, so that a capped build never writes ``book/results``.

    Returns
    -------
    pathlib.Path
    """
    return Path(tempfile.gettempdir()) / "unet_core-check-results"


def capped_steps(n: int, value: int | None = None) -> int:
    """``n`` training steps, at most the cap.

    Parameters
    ----------
    n : int
        The steps asked for.
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    int

    Examples
    --------
    >>> capped_steps(5000, value=2), capped_steps(5000, value=0)
    (2, 5000)
    """
    c = cap(value)
    return n if c is None else min(n, c)


def capped_batch(batch: int, world: int = 1, value: int | None = None) -> int:
    """A global batch of ``batch`` tiles over ``world`` processes, capped: at most :data:`CAP_BATCH` tiles, or one
    tile per process when there are more processes than that.

    The capped batch does not depend on the number of processes up to :data:`CAP_BATCH` of them, so a
    checkpoint trained by two processes is the one a single process would have trained.

    Parameters
    ----------
    batch : int
        The global batch asked for.
    world : int
        The number of processes.
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    int

    Examples
    --------
    >>> capped_batch(8, 1, value=1), capped_batch(8, 2, value=1), capped_batch(8, 4, value=1), capped_batch(1, value=1)
    (2, 2, 4, 1)
    >>> capped_batch(8, 4, value=0)
    8
    """
    if cap(value) is None:
        return batch
    return min(batch, max(CAP_BATCH, world))


def capped_repeat(n: int, value: int | None = None) -> int:
    """``n`` repetitions (timed runs, networks averaged over), capped to one.

    Parameters
    ----------
    n : int
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    int

    Examples
    --------
    >>> capped_repeat(10, value=1), capped_repeat(10, value=0)
    (1, 10)
    """
    return n if cap(value) is None else min(n, 1)


def capped_count(n: int, value: int | None = None) -> int:
    """``n`` items of a loop (frames checked, slices deformed), capped to :data:`CAP_FRAMES`.

    Parameters
    ----------
    n : int
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    int

    Examples
    --------
    >>> capped_count(25, value=1), capped_count(25, value=0)
    (2, 25)
    """
    return n if cap(value) is None else min(n, CAP_FRAMES)


def _window(shape: tuple[int, int], size: int, centre: tuple[float, float] | None = None) -> tuple[slice, slice]:
    """A ``size`` x ``size`` window (clipped to the image) centred on ``centre`` (default: the image centre)."""
    out = []
    for n, c in zip(shape, centre if centre is not None else (shape[0] / 2, shape[1] / 2)):
        s = min(size, n)
        start = int(np.clip(round(c - s / 2), 0, n - s))
        out.append(slice(start, start + s))
    return out[0], out[1]


def capped_image(image, size: int = CAP_CROP, value: int | None = None):
    """The central ``size`` x ``size`` crop of an image (its last two axes) under the cap; the image otherwise.

    Parameters
    ----------
    image : array
        (..., H, W); a view of it is returned.
    size : int
        Side of the crop (at most the image's).
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    array

    Examples
    --------
    >>> capped_image(np.zeros((3, 512, 300)), value=1).shape, capped_image(np.zeros((512, 512)), value=0).shape
    ((3, 128, 128), (512, 512))
    """
    if cap(value) is None:
        return image
    rows, cols = _window(np.shape(image)[-2:], size)
    return image[..., rows, cols]


@functools.lru_cache(maxsize=None)
def _smallest_tile(model: str, depth: int) -> int:
    """The smallest valid training tile of a network with an output of at least :data:`CAP_OUTPUT` px."""
    from .models.registry import build_model

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
    least :data:`CAP_OUTPUT` px (U-Net of depth 5: 252 -> 68; FusionNet: 64).

    Parameters
    ----------
    model : str
        A name of :func:`unet_core.models.build_model` ("unet", "fusionnet").
    depth : int
    tile : int
        The training tile asked for (returned as it is when it is smaller, or without the cap).
    value : int or None
        As for :func:`cap`.

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
    """A :class:`~unet_core.recipes.Recipe` under the cap: at most ``N`` steps, the capped tile
    (:func:`capped_tile`), no test-time augmentation; its other fields (network, width, optimiser,
    batch, loss, data) are kept. Anything but a Recipe is returned unchanged.

    The tile and the steps enter the recipe's training hash
    (:func:`unet_core.reproduce.recipe_checkpoint_path`), so the checkpoint of a capped recipe is
    never the one of the recipe itself.

    Parameters
    ----------
    recipe : Recipe or anything
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    Recipe or the argument unchanged

    Examples
    --------
    >>> from unet_core.recipes import get_recipe
    >>> r = capped_recipe(get_recipe("isbi2012-full"), value=1)
    >>> r.name, r.base_channels, r.tile, r.iterations, r.batch_size, r.tta
    ('isbi2012-full', 64, 252, 1, 8, False)
    """
    from .recipes import Recipe

    n = cap(value)
    if n is None or not isinstance(recipe, Recipe):
        return recipe
    return dataclasses.replace(recipe, iterations=min(recipe.iterations, n), tta=False,
                               tile=capped_tile(recipe.model, recipe.depth, recipe.tile, n))


def _spread(n: int, k: int) -> list[int]:
    """``min(n, k)`` evenly spaced indices of ``range(n)``, first and last included."""
    return sorted(set(np.linspace(0, n - 1, min(n, k)).round().astype(int).tolist())) if n else []


def _crop_pair(image, truth, semantic: bool):
    """``(image, truth)`` cropped to :data:`CAP_CROP` px: centred on the image, or on the largest cell of an
    instance map (so that the crop holds a reference cell to score)."""
    truth_arr = np.asarray(truth)
    centre = None
    if not semantic and truth_arr.ndim == 2 and truth_arr.any():
        sizes = np.bincount(truth_arr.ravel().astype(np.int64))
        sizes[0] = 0
        ys, xs = np.nonzero(truth_arr == sizes.argmax())
        centre = (float(ys.mean()), float(xs.mean()))
    rows, cols = _window(truth_arr.shape[-2:], CAP_CROP, centre)
    return image[..., rows, cols], truth[..., rows, cols]


def capped_data(data: dict, value: int | None = None) -> dict:
    """A recipe's data (:func:`unet_core.reproduce.recipe_data`) under the cap.

    Keeps :data:`CAP_FRAMES` evenly spaced training frames (``train_x``, ``train_y``, ``train_ids``
    and the ``training_data`` record that a checkpoint keeps) and the first :data:`CAP_FRAMES` frames
    of every held-out group (``groups`` and ``val_x``, ``val_y``, ``val_ids``), every frame cropped to
    :data:`CAP_CROP` px (around the largest cell of instance masks, so that a crop holds a cell to
    train on or to score); says so in ``source`` and adds ``check_cap``. Returns ``data`` itself when
    there is no cap.

    Parameters
    ----------
    data : dict
        As :func:`unet_core.reproduce.recipe_data` returns it (missing keys are left out).
    value : int or None
        As for :func:`cap`.

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
    d["source"] = (f"{d.get('source', '')}; {ENV}={n}: {len(keep)} training frame(s) and at most {CAP_FRAMES} "
                   f"held-out frame(s) per group, cropped to {CAP_CROP} px")
    d["check_cap"] = n
    return d


def apply_check_cap(config: Any, value: int | None = None) -> Any:
    """A :class:`~unet_core.train.TrainConfig` under the cap: at most ``N`` iterations and a global batch of
    :func:`capped_batch` tiles (the processes are read from ``$WORLD_SIZE``, which torchrun sets).

    Anything but a TrainConfig is returned unchanged (``train`` then refuses it with its own message).
    The capped ``iterations`` are stored in the checkpoint's ``train_config``, so an uncapped run
    resumes such a checkpoint as unfinished instead of taking it for a finished one.

    Parameters
    ----------
    config : TrainConfig or anything
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    TrainConfig or the argument unchanged

    Examples
    --------
    >>> from unet_core.train import TrainConfig
    >>> c = apply_check_cap(TrainConfig(iterations=5000, batch_size=8), value=1)
    >>> c.iterations, c.batch_size
    (1, 2)
    """
    from .train import TrainConfig

    n = cap(value)
    if n is None or not isinstance(config, TrainConfig):
        return config
    try:
        world = max(1, int(os.environ.get("WORLD_SIZE") or 1))
    except ValueError:
        world = 1  # unet_core.distributed reports a malformed $WORLD_SIZE
    return dataclasses.replace(config, iterations=min(config.iterations, n),
                               batch_size=capped_batch(config.batch_size, world, n))

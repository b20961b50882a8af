"""Train, fine-tune and score a U-Net on your own annotated images (a folder of images and one of labels).

:func:`train_folder` holds out a seeded share of the images (never trained on, recorded in the
checkpoint), trains a U-Net on the rest with the paper's augmentation and the weights of Eq. 2 (border
term; unannotated pixels weigh 0), from scratch or from a published network or a checkpoint, on defaults
that train in minutes on 2 CPU cores (the ``cpu`` recipes' optimiser and network at 1000 steps).
:func:`score_folder` scores a network on named images with the measures that fit the labels: SEG for
cells (instance labels), pixel, Rand and warping error for class masks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..augment.ops import AugmentConfig
from ..data.folders import FolderData, split_names
from ..data.labels import cut_instances
from ..data.tiles import TrainingTiles, normalize_image
from ..inference.tiling import predict_tiled
from ..metrics.isbi import pixel_error, rand_error
from ..metrics.seg import seg_score, segmentation_errors
from ..metrics.warping import warping_error
from ..models.unet import UNet
from ..training.checkpoint import model_from_checkpoint
from ..training.config import TrainConfig
from ..training.loop import train
from ..utils.validation import check_int, fmt
from .pretrained import load_pretrained
from .registry import RECIPES

__all__ = ["FOLDER_DEFAULTS", "initial_network", "train_folder", "folder_probs", "score_folder", "trained_names"]

FOLDER_DEFAULTS = dict(base_channels=16, tile=412, iterations=1000, learning_rate=1e-3, warmup_steps=20, held_out=0.2)
"""The defaults of :func:`train_folder`: the ``cpu`` recipes' network and Adam, at 1000 steps (about 4
minutes of training on 2 CPU cores for 412 px tiles)."""


def initial_network(init: str | os.PathLike | None, base_channels: int, seed: int) -> torch.nn.Module:
    """A fresh U-Net (``init`` None), a recipe's published network (a recipe name) or a checkpoint's network.

    Raises
    ------
    ValueError
        If ``init`` names no recipe and no file, or its network does not map one gray channel to two
        classes (cell, background) as the folder's labels need.
    """
    if init is None:
        torch.manual_seed(seed)
        return UNet(base_channels=check_int(base_channels, "base_channels", low=1, fix="e.g. 16"))
    if isinstance(init, str) and init in RECIPES:
        model = load_pretrained(init)[0]
    elif Path(init).is_file():
        model = model_from_checkpoint(init)
    else:
        raise ValueError(f"init={init!r} is neither a recipe with a published network (e.g. 'phc-u373-cpu') nor a "
                         "checkpoint file; give one of them, or None to train from scratch")  # fmt: skip
    if getattr(model, "in_channels", None) != 1 or getattr(model, "num_classes", None) != 2:
        raise ValueError(f"init={str(init)!r} holds a network with {getattr(model, 'in_channels', '?')} input "
                         f"channel(s) and {getattr(model, 'num_classes', '?')} classes; fine-tuning on gray images "
                         "with cell/background labels needs 1 and 2")  # fmt: skip
    return model


def train_folder(
    data: FolderData,
    checkpoint_path: str | os.PathLike,
    *,
    held_out: float = FOLDER_DEFAULTS["held_out"],
    seed: int = 0,
    init: str | os.PathLike | None = None,
    iterations: int = FOLDER_DEFAULTS["iterations"],
    base_channels: int = FOLDER_DEFAULTS["base_channels"],
    tile: int = FOLDER_DEFAULTS["tile"],
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """Train (or fine-tune) on the folder's images but a held-out share; the checkpoint records the split.

    Parameters
    ----------
    data : FolderData
        :func:`unet_core.data.folders.load_pairs`.
    checkpoint_path : path
        Written every 100 steps and at the end (an existing one is resumed).
    held_out : float
        Share of the images held out (:func:`unet_core.data.folders.split_names`).
    seed : int
        The split, the initial weights and the tiles.
    init : str, path or None
        A recipe whose published network to start from, a checkpoint, or None (from scratch).
    iterations, base_channels, tile : int
        Steps (one tile each), channels of a fresh network, input tile side.
    device : str
    progress : bool

    Returns
    -------
    dict
        ``model``, ``result`` (:class:`~unet_core.training.loop.TrainResult`), ``train`` and ``held_out``
        (image names).
    """
    if not isinstance(data, FolderData):
        raise TypeError(f"data must be the FolderData of unet_core.data.folders.load_pairs, got {fmt(data)}")
    train_names, held = split_names(data.names, held_out, seed)
    model = initial_network(init, base_channels, seed)
    index = {n: i for i, n in enumerate(data.names)}
    pick = [index[n] for n in train_names]
    tiles = TrainingTiles(
        [data.images[i] for i in pick], [data.labels[i] for i in pick], in_size=tile, out_size=model.output_size(tile),
        seed=seed, length=check_int(iterations, "iterations", low=1, fix="e.g. 1000"), class_weights=None,
        augment=AugmentConfig(), ignore=[data.ignore[i] for i in pick],
    )  # fmt: skip
    config = TrainConfig(optimizer="adam", learning_rate=FOLDER_DEFAULTS["learning_rate"], schedule="cosine",
                         warmup_steps=min(FOLDER_DEFAULTS["warmup_steps"], iterations - 1), grad_clip=1.0,
                         iterations=iterations, seed=seed, device=device, checkpoint_every=100)  # fmt: skip
    folder = data.pairs[0].image.parent if data.pairs and data.pairs[0].image is not None else None
    record = {"dataset": "folder", "truth": "labels", "train_frames": train_names, "held_out": held,
              "images_dir": None if folder is None else str(folder.resolve()),
              "init": None if init is None else str(init)}  # fmt: skip
    result = train(model, tiles, config, checkpoint_path=checkpoint_path, progress=progress, training_data=record)
    return {"model": model, "result": result, "train": train_names, "held_out": held}


def score_folder(model, data: FolderData, names, *, semantic: bool = False, threshold: float = 0.5,
                 device: str = "auto", trained_on=(), probs: dict | None = None) -> dict:  # fmt: skip
    """Scores of ``model`` on the named images: per image and over all of them.

    Instances (``semantic=False``): SEG, merged and missed cells of the cells cut at ``threshold``
    (4-connected components). Class masks: pixel, Rand and warping error (ISBI 2012's definitions).
    ``probs``: ``{name: (H, W) p(cell)}`` of the named images already predicted by ``model``
    (:func:`folder_probs`); None predicts them here.

    Raises
    ------
    ValueError
        If a name is not in ``data``, or is one of ``trained_on`` (the network never scores its training
        images).
    """
    names = list(names)
    unknown = [n for n in names if n not in data.names]
    if unknown:
        raise ValueError(f"names {unknown} are not images of this folder; its images are {data.names}")
    seen = sorted(set(names) & set(trained_on))
    if seen:
        raise ValueError(f"the network was trained on {', '.join(seen)}; score it on images it never saw")
    index = {n: i for i, n in enumerate(data.names)}
    probs = folder_probs(model, data, names, device) if probs is None else probs
    truths = {}
    for n in names:
        labels = data.labels[index[n]]
        truths[n] = labels if data.ignore[index[n]] is None else np.where(data.ignore[index[n]], 0, labels)
    per_image = {n: _scores(probs[n], truths[n], semantic, threshold) for n in names}
    return {
        "per image": per_image,
        "all": _pooled(per_image, semantic),
        "threshold": threshold,
        "measures": "pixel, Rand and warping error" if semantic else "SEG (cells cut at the threshold)",
    }


def folder_probs(model, data: FolderData, names, device: str = "auto") -> dict:
    """``{name: (H, W) float32 p(cell)}`` of the named images of ``data``: overlap-tile prediction, normalised."""
    index = {n: i for i, n in enumerate(data.names)}
    return {n: predict_tiled(model, normalize_image(data.images[index[n]]), device=device, progress=False)[1]
            for n in names}  # fmt: skip


def _scores(prob: np.ndarray, truth: np.ndarray, semantic: bool, threshold: float) -> dict:
    if semantic:
        cells = (truth > 0).astype(np.uint8)
        return {"pixel error": pixel_error(prob, cells), "Rand error": rand_error(prob, cells),
                "warping error": warping_error(prob, cells)}  # fmt: skip
    pred = cut_instances(prob, threshold)
    return {"SEG": seg_score(pred, truth), **segmentation_errors(pred, truth)}


def _pooled(per_image: dict, semantic: bool) -> dict:
    if semantic:
        return {k: float(np.mean([s[k] for s in per_image.values()])) for k in ("pixel error", "Rand error",
                                                                                 "warping error")}  # fmt: skip
    counts = {k: sum(s[k] for s in per_image.values()) for k in ("truth cells", "merged cells", "missed cells")}
    cells = max(counts["truth cells"], 1)
    return {"SEG": sum(s["SEG"] * s["truth cells"] for s in per_image.values()) / cells, **counts}


def trained_names(training_data: dict | None, data: FolderData) -> list[str]:
    """The images of ``data`` that a checkpoint's ``training_data`` says it was trained on (none from another folder).

    Examples
    --------
    >>> from unet_core.data.folders import FolderData, ImagePair
    >>> d = FolderData(["a", "b"], [], [], [], [ImagePair("a", Path("/x/a.tif"), None), ImagePair("b", None, None)])
    >>> trained_names({"dataset": "folder", "train_frames": ["a"], "images_dir": "/x"}, d)
    ['a']
    >>> trained_names({"dataset": "folder", "train_frames": ["a"], "images_dir": "/elsewhere"}, d)
    []
    """
    if not training_data or training_data.get("dataset") != "folder":
        return []
    first = data.pairs[0].image if data.pairs else None
    same = first is None or training_data.get("images_dir") in (None, str(first.parent.resolve()))
    return [n for n in data.names if n in set(training_data.get("train_frames", []))] if same else []

"""The chapters' plumbing around a recipe's network: its data (or a synthetic stand-in), the network
itself (published, else a finished checkpoint, else trained), and what one training step costs.

Used by the training chapters of the book (ISBI 2012, cell tracking, FusionNet); each function is
tested in ``tests/test_book_helpers.py`` on tiny recipes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from ..data.paths import default_runs_dir
from ..data.synthetic import synthetic_cells, synthetic_em
from ..recipes.data import recipe_data
from ..recipes.key import recipe_checkpoint_path, training_key
from ..recipes.pretrained import load_pretrained, pretrained_path, pretrained_registry
from ..recipes.registry import Recipe
from ..recipes.run import train_recipe
from ..training.checkpoint import load_checkpoint
from ..utils.system import resolve_device
from ..utils.validation import fmt
from .report import training_note
from .viz import checkpoint_steps, device_name

__all__ = [
    'Network',
    'runs_folder',
    'obtain_network',
    'data_or_synthetic',
    'SOURCES',
    'crop_around_largest',
    'most_cells',
    'cell_tracking_data',
]

SOURCES = ("published", "checkpoint", "trained")
"""Where :func:`obtain_network` took the network from, in the order it looks."""

_CELL_MODALITY = {"phc-u373": "phase", "dic-hela": "dic"}  # synthetic_cells' look of each light-microscopy dataset


def runs_folder(scale: str) -> Path:
    """Where a chapter keeps its training checkpoints (never committed).

    Parameters
    ----------
    scale : {"smoke", "cpu", "full"}
        ``smoke``: a new temporary folder (a smoke run never reuses a checkpoint); else
        ``$UNET_RUNS_DIR``, or ``runs/`` of the repository when run from ``book/``, else ``./runs``.

    Raises
    ------
    ValueError
        If ``scale`` is not one of the three.
    """
    if scale not in ("smoke", "cpu", "full"):
        raise ValueError(f"scale must be 'smoke', 'cpu' or 'full' (the chapter's SCALE), got {fmt(scale)}")
    if scale == "smoke":
        return Path(tempfile.mkdtemp())
    cwd = Path.cwd()
    return default_runs_dir(cwd.parent if cwd.name == "book" else cwd)


@dataclass
class Network:
    """A recipe's network and where it came from (:func:`obtain_network`).

    Attributes
    ----------
    model : torch.nn.Module
        The network (eval mode when loaded; as training left it when trained).
    recipe : Recipe
        The recipe; for a published network the one stored in its checkpoint.
    source : {"published", "checkpoint", "trained"}
        Where it came from.
    steps : int
        Training steps it has had.
    seconds : float or None
        Seconds of training (None: not recorded in its checkpoint).
    losses : numpy.ndarray
        (steps,) training loss per step.
    training_data : dict
        The frames it was trained on (``check_held_out`` never scores it on them).
    how : str
        One line for the page: where it came from, its steps, training time, device and date.
    scores : dict or None
        What its training run measured (published networks only: the checkpoint's ``history["scores"]``).
    path : pathlib.Path or None
        Its checkpoint file.
    """

    model: torch.nn.Module
    recipe: Recipe
    source: str
    steps: int
    seconds: float | None
    losses: np.ndarray
    training_data: dict
    how: str
    scores: dict | None = None
    path: Path | None = None


def obtain_network(
    recipe: Recipe, data: dict | None = None, *, runs_dir=None, device: Any = "cpu", pretrained: bool = True
) -> Network:
    """The recipe's published network, else its finished checkpoint under ``runs_dir``, else train it.

    Parameters
    ----------
    recipe : Recipe
        The recipe (``unet_core.recipes.registry.get_recipe``).
    data : dict or None
        ``recipe_data(recipe)`` or a stand-in of the same keys (:func:`data_or_synthetic`), used only
        to train; None reads the recipe's data when it must train.
    runs_dir : path or None
        Folder of the training checkpoints (None: ``$UNET_RUNS_DIR`` or ``./runs``).
    device : str or torch.device
        Where to train.
    pretrained : bool
        Look for a published network (``unet_core/recipes/weights``) of the same training (a variant
        of the recipe with other training fields, e.g. ``get_recipe(name, iterations=300)``, is never
        given the published network) and then for a checkpoint under ``runs_dir`` that has all
        ``recipe.iterations`` steps. False: always train (resuming an unfinished checkpoint).

    Returns
    -------
    Network
        ``source`` is "published", "checkpoint" or "trained" (a finished checkpoint met while
        training is reported by ``how`` as trained before this run). A published network comes with
        ``recipe`` itself when its training key is the stored recipe's (so the evaluation fields, e.g.
        the threshold or the instance cutting, are the recipe's as registered now), else with the stored one.

    Raises
    ------
    TypeError
        If ``recipe`` is not a Recipe, ``data`` not a dict or None, or ``pretrained`` not a bool.
    FileNotFoundError, OSError, ValueError
        As :func:`unet_core.recipes.run.train_recipe` when it must train (no data, bad device).

    Examples
    --------
    >>> net = obtain_network(get_recipe("isbi2012-cpu"))  # doctest: +SKIP
    >>> net.source, net.steps  # doctest: +SKIP
    ('published', 4500)
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe (unet_core.recipes.registry.get_recipe(name)), got {fmt(recipe)}")
    if data is not None and not isinstance(data, dict):
        raise TypeError(f"data must be None or the dict of recipe_data(recipe), got {fmt(data)}")
    if not isinstance(pretrained, bool):
        raise TypeError(f"pretrained must be True or False, got {fmt(pretrained)}")
    stored = load_pretrained(recipe.name) if pretrained and recipe.name in pretrained_registry() else None
    if stored is not None and training_key(recipe) == training_key(stored[1]):  # not a variant's training
        path = pretrained_path(recipe.name)
        model = stored[0]
        ckpt = load_checkpoint(path)
        scores = ckpt["history"]["scores"]  # what the training run measured, with its device, date and time
        return Network(
            model,
            recipe,  # the same training; its evaluation fields as registered now (TTA, threshold, cutting)
            "published",
            int(ckpt["step"]),
            scores["train seconds"],
            np.array(ckpt["history"]["losses"]),
            ckpt["training_data"],
            f"published network {path.name} ({ckpt['step']:,} steps, trained in "
            f"{scores['train seconds']:,.0f} s on {scores['device']}, {scores['date']})",
            scores,
            path,
        )
    path = recipe_checkpoint_path(recipe, runs_dir)
    if pretrained and path.is_file() and checkpoint_steps(recipe, runs_dir) >= recipe.iterations:
        model = recipe.build_model()
        ckpt = load_checkpoint(path, model)
        model.eval()
        seconds = float(ckpt["history"].get("seconds", 0.0)) or None
        return Network(
            model,
            recipe,
            "checkpoint",
            int(ckpt["step"]),
            seconds,
            np.array(ckpt["history"]["losses"]),
            ckpt.get("training_data") or {},
            training_note(int(ckpt["step"]), seconds or 0.0, 0.0, device_name(device), steps_before=int(ckpt["step"])),
            None,
            path,
        )
    before = checkpoint_steps(recipe, runs_dir)  # finished before this run (book-full: pretrain.py)?
    model, result, wall = train_recipe(recipe, data=data, device=str(resolve_device(device)), runs_dir=runs_dir)
    training_data = (data or {}).get("training_data") or {"dataset": "synthetic"}
    return Network(
        model,
        recipe,
        "trained",
        int(result.step),
        result.seconds or wall,
        np.array(result.losses),
        training_data,
        training_note(result.step, result.seconds, wall, device_name(device), steps_before=before),
        None,
        path,
    )


def data_or_synthetic(recipe: Recipe, data_dir=None, *, synthetic: bool = False, seed: int = 0) -> tuple[dict, bool]:
    """The recipe's data (``recipe_data``), or, where it is missing and ``synthetic`` allows, a labelled stand-in.

    Parameters
    ----------
    recipe : Recipe
        Its ``dataset`` picks the stand-in: ISBI 2012 -> 7 EM-like 256 x 256 images
        (``synthetic_em``: 5 train, 2 held out, semantic labels); PhC-U373 / DIC-HeLa -> 5
        192 x 256 light-microscopy images (``synthetic_cells`` of that modality: 3 train, 2 held
        out, instance labels).
    data_dir : path or None
        As for :func:`unet_core.recipes.data.recipe_data`.
    synthetic : bool
        Allow the stand-in (the chapters allow it at smoke scale only).
    seed : int
        Seed of the first stand-in image (the others follow).

    Returns
    -------
    data : dict
        The keys of ``recipe_data``: ``train_x``, ``train_y``, ``val_x``, ``val_y`` (lists of (H, W)
        arrays), ``semantic``, ``truth``, ``source``, ``training_data``; the stand-in's ``truth`` is
        "labels" (EM) or "synthetic" (cells) and its ``source`` says SYNTHETIC.
    is_synthetic : bool
        Whether ``data`` is the stand-in.

    Raises
    ------
    FileNotFoundError
        If the data is missing and ``synthetic`` is False (the message names the recipe and the fix).
    ValueError
        If the data is missing and the recipe's dataset has no stand-in.
    """
    try:
        return recipe_data(recipe, data_dir), False
    except FileNotFoundError as err:
        if not synthetic:
            raise FileNotFoundError(
                f"recipe {recipe.name!r} needs the real {recipe.dataset} data: {err} "
                "(synthetic=True, the smoke scale, uses a synthetic stand-in)"
            ) from None
    if recipe.dataset == "isbi2012":
        pairs = [synthetic_em((256, 256), seed=seed + k)[:2] for k in range(7)]  # (image, labels)
        return dict(
            train_x=[p[0] for p in pairs[:5]],
            train_y=[p[1].astype(np.uint8) for p in pairs[:5]],
            val_x=[p[0] for p in pairs[5:]],
            val_y=[p[1].astype(np.uint8) for p in pairs[5:]],
            semantic=True,
            truth="labels",
            training_data={"dataset": "synthetic"},
            source="SYNTHETIC EM-like images (5 train, 2 held out)",
        ), True
    if recipe.dataset in _CELL_MODALITY:
        made = [synthetic_cells((192, 256), seed=seed + k, modality=_CELL_MODALITY[recipe.dataset]) for k in range(5)]
        title = {"phc-u373": "PhC-U373", "dic-hela": "DIC-HeLa"}[recipe.dataset]
        return dict(
            train_x=[m[0] for m in made[:3]],
            train_y=[m[1] for m in made[:3]],
            val_x=[m[0] for m in made[3:]],
            val_y=[m[1] for m in made[3:]],
            semantic=False,
            truth="synthetic",
            groups=[],
            training_data={"dataset": "synthetic"},
            source=f"SYNTHETIC stand-in for {title} (unet_core.synthetic_cells)",
        ), True
    raise ValueError(
        f"recipe.dataset {recipe.dataset!r} has no synthetic stand-in (isbi2012, phc-u373, dic-hela "
        "have one); fetch its data with data_scripts/fetch.py"
    )


_VMHWM_HOW = (
    "peak resident memory (VmHWM) after the step - resident memory before it, peak reset via /proc/self/clear_refs"
)


def crop_around_largest(image: np.ndarray, instances: np.ndarray, size: tuple[int, int] = (192, 256)):
    """Cut ``(image, instances)``, both (H, W), to ``size`` around the largest cell's centre of mass."""
    largest = np.bincount(instances.ravel())[1:].argmax() + 1 if instances.any() else None
    cy, cx = ndimage.center_of_mass(instances == largest) if largest else np.array(image.shape) / 2
    y = int(np.clip(cy - size[0] / 2, 0, image.shape[0] - size[0]))
    x = int(np.clip(cx - size[1] / 2, 0, image.shape[1] - size[1]))
    return image[y : y + size[0], x : x + size[1]], instances[y : y + size[0], x : x + size[1]]


def most_cells(frames) -> int:
    """Index of the frame (a sequence of (H, W) instance masks) with the most reference cells."""
    return int(np.argmax([len(np.unique(y)) for y in frames]))


def cell_tracking_data(recipe: Recipe, data_dir=None, *, smoke: bool = False, seed: int = 0) -> dict:
    """A cell tracking recipe's data (:func:`data_or_synthetic`) with the frame Fig. 4 shows.

    ``d["figure frame"]`` is the whole held-out ``(image, instances)`` with the most cells. With ``smoke``
    (a synthetic stand-in if the data is missing) only 3 evenly spaced training frames are kept and the
    first 2 held-out frames are cropped to 192 x 256 px around their largest cell.
    """
    d, _ = data_or_synthetic(recipe, data_dir, synthetic=smoke, seed=seed)
    k = most_cells(d["val_y"])
    d["figure frame"] = d["val_x"][k], d["val_y"][k]
    if smoke:
        keep = np.linspace(0, len(d["train_x"]) - 1, 3).round().astype(int)
        d["train_x"], d["train_y"] = [d["train_x"][i] for i in keep], [d["train_y"][i] for i in keep]
        pairs = [crop_around_largest(x, y) for x, y in zip(d["val_x"][:2], d["val_y"][:2])]
        d["val_x"], d["val_y"] = [p[0] for p in pairs], [p[1] for p in pairs]
    return d

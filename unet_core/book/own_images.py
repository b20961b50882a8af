"""The "your own images" page: the folder it trains on, its arms, and what it draws.

A reader's folder of image/label pairs is stood in for by the nuclei image set of
``data_scripts/fetch.py nuclei`` (2018 Data Science Bowl, CC0); where that is absent a ``smoke`` run writes
a labelled synthetic folder instead, so that the page runs the same path (files on disk, paired by name).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..data.folders import split_names
from ..data.labels import cut_instances
from ..data.paths import default_data_dir
from ..data.synthetic import synthetic_cells
from ..metrics.seg import segmentation_error_masks, segmentation_errors
from ..recipes.folder import FOLDER_DEFAULTS, folder_probs, initial_network, score_folder, train_folder
from .touching import draw_touching

__all__ = ["NUCLEI", "COLUMNS", "example_folder", "train_arms", "arm_values", "arms_table", "draw_arms"]

NUCLEI = "nuclei"
"""The folder that ``python data_scripts/fetch.py nuclei --dest DIR`` writes under ``DIR``."""


def example_folder(data_dir=None, *, synthetic: bool = False, seed: int = 0, workdir=None) -> tuple[Path, bool]:
    """The nuclei folder (``images/`` and ``labels/``), or a synthetic stand-in folder where allowed.

    Parameters
    ----------
    data_dir : path or None
        Holds ``nuclei/`` (default :func:`unet_core.data.paths.default_data_dir`).
    synthetic : bool
        Where the nuclei are absent, write four 256 x 256 synthetic phase-contrast images with instance
        labels (``synthetic_cells``) into ``workdir`` instead of raising.
    seed : int
        Seed of the first stand-in image.
    workdir : path
        Where the stand-in goes (required when it is written).

    Returns
    -------
    folder : Path
        With ``images/`` and ``labels/`` of the same file names.
    is_synthetic : bool

    Raises
    ------
    FileNotFoundError
        If the nuclei are absent and ``synthetic`` is False; the message gives the command that fetches them.
    """
    folder = Path(data_dir if data_dir is not None else default_data_dir()) / NUCLEI
    if (folder / "images").is_dir() and (folder / "labels").is_dir():
        return folder, False
    if not synthetic or workdir is None:
        raise FileNotFoundError(f"no {folder}/images and labels: run `python data_scripts/fetch.py nuclei --dest "
                                f"{folder.parent}` (about 3 MB), or pass data_dir")  # fmt: skip
    folder = Path(workdir) / "synthetic-folder"
    for sub in ("images", "labels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(4):
        image, cells = synthetic_cells((256, 256), seed=seed + i, modality="phase")
        tifffile.imwrite(folder / "images" / f"synthetic-{i}.tif", image)  # float32 in [0, 1]
        tifffile.imwrite(folder / "labels" / f"synthetic-{i}.tif", cells.astype(np.uint16))
    return folder, True


def train_arms(data, arms: dict[str, dict], workdir, *, seed: int = 0, device: str = "auto",
               threshold: float = 0.5) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Train each arm on the folder's training split and score it on the held-out images.

    Parameters
    ----------
    data : FolderData
    arms : dict
        ``{label: {"init": None | recipe | checkpoint, "iterations": int}}``; ``iterations`` 0 scores the
        initial network untrained (a published network as it is).
    workdir : path
        Where the checkpoints go (a fresh folder: an existing checkpoint would be resumed).
    seed : int
        One split, initial weights and tile sequence for every arm.
    device : str
    threshold : float
        On ``p(cell)``, to cut cells.

    Returns
    -------
    dict
        Per arm: ``scores`` (:func:`unet_core.recipes.folder.score_folder`), ``model``, ``train`` and
        ``held_out`` (names), ``steps``, ``train seconds``, ``score seconds``, and ``probs``: the (H, W)
        ``p(cell)`` of each held-out image.
    """
    out = {}
    for i, (label, arm) in enumerate(arms.items()):
        t0 = time.perf_counter()
        if arm["iterations"]:
            run = train_folder(data, Path(workdir) / f"arm{i}.pt", seed=seed, init=arm.get("init"),
                               iterations=arm["iterations"], device=device, progress=False)  # fmt: skip
        else:
            train, held = split_names(data.names, FOLDER_DEFAULTS["held_out"], seed)  # train_folder's split
            model = initial_network(arm.get("init"), FOLDER_DEFAULTS["base_channels"], seed)
            run = {"model": model, "train": train, "held_out": held}
        t1 = time.perf_counter()
        probs = folder_probs(run["model"], data, run["held_out"], device)  # scored and kept for the figure
        scores = score_folder(run["model"], data, run["held_out"], device=device, threshold=threshold,
                              trained_on=run["train"], probs=probs)  # fmt: skip
        seconds = time.perf_counter() - t1
        out[label] = {**run, "scores": scores, "steps": arm["iterations"], "train seconds": t1 - t0,
                      "score seconds": seconds, "probs": probs}  # fmt: skip
    return out


COLUMNS = ("steps", "training seconds", "SEG", "merged nuclei", "missed nuclei", "held-out nuclei")
"""What :func:`arm_values` records per arm (as ``"<column>, <arm>"``) and :func:`arms_table` shows."""


def arm_values(results: dict[str, dict]) -> dict[str, Any]:
    """The numbers of :func:`train_arms` as flat ``{"<column>, <arm>": value}`` (what a results record holds).

    Examples
    --------
    >>> r = {"scratch": {"steps": 5, "train seconds": 2.0, "scores": {"all": {"SEG": 0.5, "merged cells": 1,
    ...      "missed cells": 2, "truth cells": 9}}}}
    >>> arm_values(r)["SEG, scratch"], arm_values(r)["held-out nuclei, scratch"]
    (0.5, 9)
    """
    out = {}
    for label, r in results.items():
        s = r["scores"]["all"]
        numbers = (r["steps"], r["train seconds"], s["SEG"], s["merged cells"], s["missed cells"], s["truth cells"])
        out.update({f"{column}, {label}": value for column, value in zip(COLUMNS, numbers)})
    return out


def arms_table(values: dict[str, Any], arms: dict[str, dict]) -> str:
    """A markdown table of :func:`arm_values` (this run's or a recorded run's), one row per arm of ``arms``.

    Arms the values do not hold are left out (a record from before an arm was added).
    """
    rows = ["| network | starts from | steps | training (s) | SEG | merged nuclei | missed nuclei |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for label, arm in arms.items():
        if f"SEG, {label}" not in values:
            continue
        v = {c: values.get(f"{c}, {label}") for c in COLUMNS}
        rows.append(f"| {label} | {arm.get('init') or 'random weights'} | {v['steps']:,} | {v['training seconds']:,.0f} "
                    f"| {v['SEG']:.3f} | {v['merged nuclei']} of {v['held-out nuclei']} | {v['missed nuclei']} |")  # fmt: skip
    return "\n".join(rows)


def _view(image: np.ndarray, prob: np.ndarray, truth: np.ndarray, threshold: float, step: int, name: str):
    """``(snapshots, cells)`` in the form :func:`unet_core.book.touching.draw_touching` draws."""
    pred = cut_instances(prob, threshold)
    merged, missed = segmentation_error_masks(pred, truth)
    snaps = {"image": image, "frame": name, "probs": {step: prob}}
    cells = {"pred": pred, "truth": truth, "merged": merged, "missed": missed, "step": step,
             "counts": segmentation_errors(pred, truth)}  # fmt: skip
    return snaps, cells


def draw_arms(data, results: dict[str, dict], name: str, title: str, threshold: float = 0.5):
    """The held-out image ``name`` and its truth, then per arm ``p(cell)`` and its cells (merged red, missed blue).

    ``results``: :func:`train_arms`. Returns the :class:`matplotlib.figure.Figure` of
    :func:`unet_core.book.touching.draw_touching`.
    """
    i = data.names.index(name)
    views = {label: _view(data.images[i], r["probs"][name], data.labels[i], threshold, r["steps"], name)
             for label, r in results.items()}  # fmt: skip
    return draw_touching(views, title)

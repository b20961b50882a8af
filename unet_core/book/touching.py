"""Touching cells in a recorded snapshot: cut into instances, and the cells that SEG's matching merges.

A recipe run keeps a 256 px crop of one held-out frame and its prediction at a few steps
(:mod:`unet_core.recipes.snapshots`). These helpers cut the last snapshot into instances the way the
recipe does (:func:`unet_core.data.labels.cut_instances` at the recorded threshold) and mark the truth
cells that one predicted cell spans (*merged*, :func:`unet_core.metrics.seg.segmentation_error_masks`),
so that a chapter can show what the border term of Eq. 2 changes, without a network or the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from skimage.segmentation import find_boundaries

from ..data.labels import cut_instances, instances_from_labels
from ..metrics.seg import segmentation_error_masks, segmentation_errors
from ..recipes.registry import Recipe
from .widgets import parameter_slider

__all__ = ["snapshot_cells", "draw_touching", "threshold_cells_slider"]

MERGED_RGB = (0.95, 0.15, 0.1)  # red: a truth cell that shares its predicted cell with another
MISSED_RGB = (0.2, 0.45, 1.0)  # blue: a truth cell that no predicted cell covers by more than half


def snapshot_cells(snaps: Mapping[str, Any], recipe: Recipe, threshold: float, step: int | None = None) -> dict:
    """Instances of one snapshot, the truth's, and the truth cells merged and missed in the crop.

    Parameters
    ----------
    snaps : dict
        :func:`unet_core.recipes.snapshots.load_snapshots` of a recorded run.
    recipe : Recipe
        The run's recipe: its ``instances`` method, ``seed_threshold`` and ``grow_px``.
    threshold : float
        The threshold on ``p(cell)`` the run chose (its record's ``values["threshold"]``).
    step : int or None
        A snapshot step; None: the last.

    Returns
    -------
    dict
        ``pred``, ``truth`` (H, W) int instance labels; ``merged``, ``missed`` (H, W) bool masks of truth
        cells; ``counts`` (:func:`~unet_core.metrics.seg.segmentation_errors` in the crop); ``step``.

    Raises
    ------
    KeyError
        If ``step`` is not one of the snapshot's steps.

    Notes
    -----
    The snapshot is predicted without test-time augmentation and cut on a crop: the counts are those of
    the picture, not the run's score (which is over every held-out frame, with its augmentation).
    """
    steps = list(snaps["steps"])
    step = steps[-1] if step is None else step
    if step not in snaps["probs"]:
        raise KeyError(f"step must be one of the snapshot's steps {steps}, got {step!r}")
    prob = np.asarray(snaps["probs"][step], np.float32)  # (H, W) in [0, 1]
    pred = cut_instances(prob, threshold, recipe.instances, recipe.seed_threshold, recipe.grow_px)
    truth = instances_from_labels(np.asarray(snaps["truth"]) > 0)  # touching cells are kept apart in the file
    merged, missed = segmentation_error_masks(pred, truth)
    return {
        "pred": pred,
        "truth": truth,
        "merged": merged,
        "missed": missed,
        "step": step,
        "counts": segmentation_errors(pred, truth),
    }


def _overlay(image: np.ndarray, cells: Mapping[str, np.ndarray]) -> np.ndarray:
    """(H, W, 3) gray image with the predicted cells' outlines in white and merged/missed truth cells tinted."""
    gray = image.astype(np.float32) / max(float(image.max()), 1.0)
    rgb = np.repeat(gray[..., None], 3, axis=2) * 0.8  # (H, W, 3)
    for mask, colour in ((cells["merged"], MERGED_RGB), (cells["missed"], MISSED_RGB)):
        rgb[mask] = 0.5 * rgb[mask] + 0.5 * np.asarray(colour)
    rgb[find_boundaries(cells["pred"], mode="inner")] = (1.0, 1.0, 0.3)
    return rgb


def draw_touching(runs: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]], title: str):
    """The crop and its truth, then per run ``p(cell)`` and its instances with merged/missed truth cells.

    Parameters
    ----------
    runs : dict
        ``{label: (snapshots, snapshot_cells(...))}``, one or more runs on the same crop.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Two rows: ``p(cell)`` at the last snapshot, and the cut instances (yellow outlines) over the
        image with the merged truth cells in red and the missed in blue.
    """
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("runs must hold at least one (snapshots, cells) pair, got none")
    first_snaps, first_cells = next(iter(runs.values()))
    fig, axes = plt.subplots(2, len(runs) + 1, figsize=(7.5, 4.8), squeeze=False)
    axes[0, 0].imshow(first_snaps["image"], cmap="gray")
    axes[0, 0].set_title(f"held-out crop {first_snaps['frame']}", fontsize=7)
    axes[1, 0].imshow(first_cells["truth"] > 0, cmap="gray")
    axes[1, 0].set_title(f"truth: {first_cells['counts']['truth cells']} cells", fontsize=7)
    for col, (label, (snaps, cells)) in enumerate(runs.items(), start=1):
        axes[0, col].imshow(snaps["probs"][cells["step"]], cmap="magma", vmin=0, vmax=1)
        axes[0, col].set_title(f"{label}: p(cell), step {cells['step']:,}", fontsize=7)
        axes[1, col].imshow(_overlay(snaps["image"], cells))
        c = cells["counts"]
        axes[1, col].set_title(f"{label}: {c['merged cells']} merged, {c['missed cells']} missed", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def threshold_cells_slider(snaps: Mapping[str, Any], recipe: Recipe, thresholds, title: str):
    """A static slider over the threshold on ``p(cell)``: the cells cut from a snapshot at each ``t``.

    Parameters
    ----------
    snaps : dict
        :func:`unet_core.recipes.snapshots.load_snapshots` of a recorded run (its last step is cut).
    recipe : Recipe
        The run's recipe (how it cuts cells).
    thresholds : sequence of float
        The slider's positions, in (0, 1).
    title : str

    Returns
    -------
    unet_core.book.widgets.ParameterSlider
        Each position: the cells (yellow outlines) over the image, truth cells merged in red and missed in
        blue, and the counts in the title.
    """
    import matplotlib.pyplot as plt

    def render(t):
        cells = snapshot_cells(snaps, recipe, t)
        c = cells["counts"]
        fig, ax = plt.subplots(figsize=(3.4, 3.5))
        ax.imshow(_overlay(snaps["image"], cells))
        ax.set_title(f"p > {t:g}: {int(cells['pred'].max())} cells cut, {c['truth cells']} true;\n"
                     f"{c['merged cells']} merged (red), {c['missed cells']} missed (blue)", fontsize=8)  # fmt: skip
        ax.axis("off")
        return fig

    thresholds = list(thresholds)
    return parameter_slider(render, {"t": thresholds}, initial={"t": thresholds[len(thresholds) // 2]}, title=title,
                            label=lambda t: f"{t:g}")  # fmt: skip

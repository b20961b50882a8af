"""A network learning, visible: one held-out frame's prediction at a few steps of a recipe's training.

:class:`SnapshotRecorder` is the ``validate`` callback of :func:`unet_core.training.loop.train` that a
recipe run passes (:func:`unet_core.recipes.run.run_recipe`): at the steps of :func:`snapshot_steps`
(by default 0, 100, 300, 1000 and the last) it predicts one held-out frame without test-time
augmentation and keeps a centred crop of ``p(cell)`` as 8-bit values, beside a crop of the image and
of the truth, in one small ``.npz`` file (about 0.3 MB). The file is rewritten atomically after each
snapshot, so an interrupted run resumed from its checkpoint keeps the snapshots it had; steps that a
resumed run has already passed are missing from the file, never invented.

Prediction runs in eval mode without gradients (no dropout, no use of the training's random
numbers), so a run with snapshots trains the same weights as one without.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import reduce
from pathlib import Path

import numpy as np
import torch
from skimage.segmentation import find_boundaries

from ..utils.files import atomic_write
from ..utils.validation import check_int, fmt

__all__ = ["SNAPSHOT_STEPS", "SNAPSHOT_CROP", "snapshot_steps", "snapshot_window", "SnapshotRecorder", "load_snapshots"]

SNAPSHOT_STEPS = (0, 100, 300, 1000)  # and the last step of the run
SNAPSHOT_CROP = 256  # px, side of the centred crop kept (the whole frame when it is smaller)


def snapshot_steps(iterations: int, steps=SNAPSHOT_STEPS) -> tuple[int, ...]:
    """The steps of a run of ``iterations`` steps at which a snapshot is taken: ``steps`` below it, and the last.

    Examples
    --------
    >>> snapshot_steps(4500)
    (0, 100, 300, 1000, 4500)
    >>> snapshot_steps(200)
    (0, 100, 200)
    """
    iterations = check_int(iterations, "iterations", 1)
    chosen = {
        check_int(s, "snapshot step", 0, fix="steps are counts of training steps, e.g. (0, 100, 300)") for s in steps
    }
    return tuple(sorted({s for s in chosen if s < iterations} | {iterations}))


def snapshot_window(shape, crop: int = SNAPSHOT_CROP) -> tuple[slice, slice]:
    """The centred ``crop x crop`` window of an image of ``shape`` (H, W), clipped to the image.

    Examples
    --------
    >>> snapshot_window((512, 512))
    (slice(128, 384, None), slice(128, 384, None))
    >>> snapshot_window((100, 300), crop=256)
    (slice(0, 100, None), slice(22, 278, None))
    """
    crop = check_int(crop, "crop", 1)
    return tuple(slice(max(0, (n - crop) // 2), max(0, (n - crop) // 2) + min(n, crop)) for n in shape[:2])


def _to_uint8(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.round(np.clip((np.asarray(a, np.float64) - lo) / max(hi - lo, 1e-12), 0, 1) * 255).astype(np.uint8)


def _cell_mask(truth: np.ndarray) -> np.ndarray:
    """``truth > 0`` as 0/1, with the borders between touching instances set to 0 (instance labels only)."""
    mask = truth > 0
    if len(np.unique(truth)) > 2:  # instance labels: keep touching cells apart
        mask &= ~find_boundaries(truth, mode="inner")
    return mask.astype(np.uint8)


class SnapshotRecorder:
    """``validate(model, step)`` callback that keeps a crop of one frame's prediction at chosen steps.

    Parameters
    ----------
    predict : callable
        ``predict(model, image) -> (H, W)`` probability of cell in [0, 1] for an (H, W) image.
    image : ndarray (H, W)
        The held-out frame.
    truth : ndarray (H, W)
        Its truth: semantic labels (cell = 1) or instance labels; kept as the mask ``truth > 0``, in which
        the inner border pixels of touching instances are 0.
    frame : str
        The frame's id, stored with the snapshots.
    path : path
        The ``.npz`` file (rewritten atomically after each snapshot; an existing one is continued).
    steps : sequence of int
        The steps to keep (:func:`snapshot_steps`).
    crop : int
        Side of the centred crop kept (:func:`snapshot_window`).

    Attributes
    ----------
    every : int
        The greatest common divisor of the positive steps: ``TrainConfig.val_every`` for the run.

    Raises
    ------
    TypeError, ValueError
        If ``predict`` is not callable, ``image`` and ``truth`` are not 2-D arrays of one shape, or
        ``steps`` is empty.
    """

    def __init__(self, predict: Callable, image, truth, frame: str, path, steps, crop: int = SNAPSHOT_CROP) -> None:
        if not callable(predict):
            raise TypeError(f"predict must be callable(model, image) -> (H, W) probability, got {fmt(predict)}")
        image, truth = np.asarray(image), np.asarray(truth)
        if image.ndim != 2 or truth.shape != image.shape:
            raise ValueError(
                f"image and truth must be (H, W) arrays of one shape, got {image.shape} and {truth.shape}; "
                "pass one frame, not a stack"
            )
        self.steps = tuple(sorted({check_int(s, "snapshot step", 0) for s in steps}))
        if not self.steps:
            raise ValueError("steps must name at least one step, e.g. snapshot_steps(iterations)")
        positive = [s for s in self.steps if s > 0]
        self.every = reduce(math.gcd, positive) if positive else 0
        self.predict, self.frame, self.path = predict, str(frame), Path(path)
        self.frame_image, self.window = image, snapshot_window(image.shape, crop)
        crop_img = image[self.window].astype(np.float64)
        self.image = _to_uint8(crop_img, *np.percentile(crop_img, (0.5, 99.5)))
        self.truth = _cell_mask(truth[self.window])
        self.probs: dict[int, np.ndarray] = {}
        if self.path.is_file():
            self.probs = _read(self.path)["probs"]

    def __call__(self, model: torch.nn.Module, step: int) -> dict:
        """Take the snapshot of ``step`` when it is one of :attr:`steps` and not yet taken; return ``{}``."""
        if step in self.steps and step not in self.probs:
            was_training = model.training
            model.eval()
            with torch.no_grad():
                prob = np.asarray(self.predict(model, self.frame_image), np.float64)
            model.train(was_training)
            self.probs[step] = _to_uint8(prob[self.window], 0.0, 1.0)
            self.save()
        return {}

    def reset(self) -> None:
        """Forget the snapshots taken so far (a run that starts from scratch); the file is rewritten at the next."""
        self.probs = {}

    def save(self) -> None:
        """Write the snapshots taken so far (atomic)."""
        steps = sorted(self.probs)
        arrays = {
            "steps": np.asarray(steps, np.int64),
            "prob": np.stack([self.probs[s] for s in steps]) if steps else np.zeros((0, 1, 1), np.uint8),
            "image": self.image,
            "truth": self.truth,
            "frame": np.asarray(self.frame),
            "window": np.asarray([[w.start, w.stop] for w in self.window], np.int64),
        }

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, write)


def load_snapshots(path: str | os.PathLike) -> dict:
    """Read a snapshot file: ``{"steps", "probs": {step: (h, w) float p(cell)}, "image", "truth", "frame", "window"}``.

    ``probs`` holds the stored 8-bit values scaled back to [0, 1] (steps of 1/255).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    out = _read(path)
    out["probs"] = {s: p.astype(np.float32) / 255 for s, p in out["probs"].items()}
    return out


def _read(path) -> dict:
    with np.load(Path(path), allow_pickle=False) as z:
        steps = [int(s) for s in z["steps"]]
        return {
            "steps": steps,
            "probs": {s: z["prob"][i] for i, s in enumerate(steps)},
            "image": z["image"],
            "truth": z["truth"],
            "frame": str(z["frame"]),
            "window": z["window"],
        }

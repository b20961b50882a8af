"""A check cap: run the book's ``full`` (GPU) path on a CPU in seconds, as a check that never counts as a result.

``UNET_CHECK_CAP=N`` (a whole number of training steps) keeps every part of a run, the paper's
64-channel networks included, and shrinks only the work:

* every training stops after at most ``N`` steps, with a global batch of at most
  :data:`CAP_BATCH` tiles (or one tile per process when there are more processes)
  (:func:`apply_check_cap`, called by :func:`unet_core.training.loop.train`);
* a recipe (:func:`capped_recipe`, applied wherever :mod:`unet_core.recipes` looks one up) trains
  on the smallest valid tile of its network with an output of at least :data:`CAP_OUTPUT` px,
  predicts without test-time augmentation and stops after ``N`` steps; since the tile and the
  steps are part of the recipe's training hash, its checkpoint has another name than the
  uncapped recipe's and can never be taken for it;
* the data of a recipe (:func:`capped_data`, applied by :func:`unet_core.recipes.data.recipe_data`)
  keep :data:`CAP_FRAMES` training frames and :data:`CAP_FRAMES` held-out frames per group, all cropped
  to :data:`CAP_CROP` px (training tiles mirror the crop where they reach beyond it);
* the chapters of the book time and repeat once (:func:`capped_repeat`), loop over at most
  :data:`CAP_FRAMES` items (:func:`capped_count`) and crop their images (:func:`capped_image`).

Nothing a capped run measures is a result: :func:`unet_core.book.viz.record_results` writes it into a
throw-away folder (:func:`results_dir`) with the cap in the record, and every line that cites such a
run says so (:func:`label`). Unset, empty or ``0``: no cap, and every function here returns its
input unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    'ENV',
    'CAP_BATCH',
    'CAP_CROP',
    'CAP_FRAMES',
    'CAP_OUTPUT',
    'cap',
    'label',
    'results_dir',
    'capped_steps',
    'capped_batch',
    'capped_repeat',
    'capped_count',
    'capped_image',
]


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
            raise ValueError(
                f"{ENV}={os.environ[ENV]!r} must be a whole number of training steps >= 0 (e.g. "
                f"{ENV}=1 for a capped check run of the full path; 0 or unset: no cap); set it to a "
                f"number such as 1, or unset it with `unset {ENV}`"
            )
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
    return (
        f"CAPPED CHECK RUN ({ENV}={n}: at most {n} training step(s), cropped images, one repetition): "
        "a check of the code path, not a result"
    )


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


def crop_window(shape: tuple[int, int], size: int, centre: tuple[float, float] | None = None) -> tuple[slice, slice]:
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
    rows, cols = crop_window(np.shape(image)[-2:], size)
    return image[..., rows, cols]

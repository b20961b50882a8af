"""Data augmentation and random training tiles (paper Sec. 3.1).

    "Especially random elastic deformations of the training samples seem to be
    the key concept to train a segmentation network with very few annotated
    images."

The augmentations themselves (config, drawing, one composed resampling) live in
:mod:`unet_core.augment.ops` and are re-exported here; this module adds
:func:`sample_training_tile`, the random-tile sampler used for training: the
input tile with its context border, and the centre labels and weights of the
same augmented sample.
"""

from __future__ import annotations

import numpy as np

from ..utils.system import check_memory
from ..utils.validation import check_finite_image, check_rng, fmt, is_int
from .ops import (
    AugmentConfig,
    augment_arrays,
    augmentation_coordinates,
    check_image_pair,
    draw_augmentation,
)

__all__ = ['sample_training_tile']


def check_tile_sizes(in_size, out_size) -> None:
    """in_size and out_size: ints, out_size >= 1, in_size - out_size even and >= 0."""
    if not (is_int(in_size) and is_int(out_size)):
        raise TypeError(f"in_size and out_size must be ints, got {fmt(in_size)} and {fmt(out_size)}")
    if out_size < 1:
        raise ValueError(f"in_size and out_size must be positive ints, got {fmt(in_size)} and {fmt(out_size)}")
    if in_size < out_size or (in_size - out_size) % 2:
        raise ValueError(
            f"in_size - out_size must be even and >= 0 (context border per side), got "
            f"in_size={in_size}, out_size={out_size}; the paper uses 572 and 388"
        )


def sample_training_tile(
    image: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None,
    rng: np.random.Generator | int | None,
    in_size: int = 572,
    out_size: int = 388,
    config: AugmentConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut one randomly placed, augmented training tile (input with context, centre labels).

    Parameters
    ----------
    image : (H, W) or (C, H, W) ndarray
        Full training image; may be smaller than the tile.
    labels : (H, W) integer ndarray
        Class (or instance) labels of the image.
    weights : (H, W) ndarray or None
        Per-pixel loss weights (Eq. 2); None gives all ones.
    rng : numpy Generator, int seed or None
        Draws, in order, the tile position and then :func:`draw_augmentation`.
        The result is a deterministic function of the generator state.
    in_size, out_size : int, default 572 and 388 (Fig. 1)
        Input tile side and output (label) tile side; ``in_size - out_size``
        must be even and >= 0 (the context border is half of it per side).
    config : AugmentConfig or None
        None means ``AugmentConfig()`` (paper elastic constants).

    Returns
    -------
    image_tile : (C, in_size, in_size) float32 ndarray
    label_tile : (out_size, out_size) int64 ndarray
    weight_tile : (out_size, out_size) float32 ndarray

    Raises
    ------
    ValueError
        On mismatched shapes, bad sizes, or non-finite/empty inputs.
    TypeError
        On non-integer sizes or labels, or an ``rng`` that is neither a seed nor a Generator.
    MemoryError
        (``MemoryBudgetError``) if the tile's coordinate maps would not fit into memory.

    Notes
    -----
    The label tile's top-left corner is uniform in ``[min(0, H - out), max(0, H - out)]``
    (inside the image whenever it fits). The whole input tile is augmented
    (rotated about its centre, deformed) before the centre is cut for the labels,
    so no corner is empty: samples outside the image are mirrored (Fig. 2).
    ``AugmentConfig.off()`` gives exactly the mirror-padded crop.

    Examples
    --------
    >>> img = np.random.default_rng(0).random((100, 90)); lbl = (img > 0.5).astype(int)
    >>> x, y, w = sample_training_tile(img, lbl, None, rng=0, in_size=92, out_size=4)
    >>> x.shape, y.shape, w.shape
    ((1, 92, 92), (4, 4), (4, 4))
    """
    check_finite_image(image, "image")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (C, H, W), got {fmt(image)}")
    if labels is None:
        raise ValueError("labels must be an (H, W) integer array; a training tile needs its labels")
    check_image_pair(image, labels, "labels")
    check_image_pair(image, weights, "weights")
    check_tile_sizes(in_size, out_size)
    channels = image.shape[0] if image.ndim == 3 else 1
    check_memory(
        int(in_size) ** 2 * (48 + 8 * channels),
        f"a training tile of in_size={in_size}",
        "use a smaller in_size (the paper: 572)",
    )
    rng = check_rng(rng)
    h, w = image.shape[-2:]
    top = int(rng.integers(min(0, h - out_size), max(0, h - out_size) + 1))
    left = int(rng.integers(min(0, w - out_size), max(0, w - out_size) + 1))
    params = draw_augmentation(rng, (in_size, in_size), config)
    pad = (in_size - out_size) // 2
    coords = augmentation_coordinates(params)  # (2, in, in) in tile frame
    coords += np.array([top - pad, left - pad], dtype=np.float64)[:, None, None]  # -> image frame
    img, lbl, wt = augment_arrays(params, image, labels, weights, coords, pad)
    wt = np.ones((out_size, out_size), np.float32) if wt is None else wt
    return img.reshape(-1, in_size, in_size), lbl.astype(np.int64), wt.astype(np.float32, copy=False)

"""Drawing and applying the augmentations of Sec. 3.1 (re-exported by :mod:`unet_core.augment.tiles`).

    "we primarily need shift and rotation invariance as well as robustness to
    deformations and gray value variations."

*Draw* the parameters once (:func:`draw_augmentation`), *apply* them to image,
labels and weights alike (:func:`apply_augmentation`). Flip, rotation, shift and
the elastic field form ONE coordinate map (:func:`augmentation_coordinates`), so
each array is resampled once: image cubic, labels nearest (no new label values),
weights bilinear; outside the image samples are mirrored (numpy ``reflect``, as in
Fig. 2). Gray values touch the image only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage as ndi

from ..utils.validation import check_bool, check_finite_image, check_pair, check_rng, fmt, is_int, is_real
from .elastic import ELASTIC_GRID, ELASTIC_STD, check_shape, nearest_exact, needs_exact, upsample_grid_displacements

__all__ = ['AugmentConfig', 'AugmentParams', 'draw_augmentation', 'augmentation_coordinates', 'apply_augmentation']


_ROTATIONS = ("none", "rot90", "any")


@dataclass(frozen=True)
class AugmentConfig:
    """What to randomise; the paper fixes only the elastic constants (grid 3, std 10).

    ``AugmentConfig.off()`` disables everything (identity).

    Raises
    ------
    TypeError
        If a field has the wrong type (``flip`` must be a bool, the ranges numbers).
    ValueError
        If a range is negative or not finite, a probability is outside [0, 1], ``contrast >= 1``,
        ``image_order`` is not 1 or 3, ``elastic_grid < 2`` or ``rotation`` is unknown.
    """

    flip: bool = True  # mirror rows and columns, each with probability 1/2
    rotation: str = "any"  # "none" | "rot90" (k * 90 deg, exact) | "any" (uniform angle in [0, 360))
    max_shift: float = 0.0  # shift per axis ~ U(-max_shift, max_shift) px; random tile placement already shifts
    p_elastic: float = 1.0  # probability of an elastic deformation
    elastic_grid: int = ELASTIC_GRID  # paper: coarse 3 x 3 grid
    elastic_std: float = ELASTIC_STD  # paper: 10 px standard deviation
    brightness: float = 0.1  # additive offset ~ U(-b, b) x image range
    contrast: float = 0.2  # factor ~ U(1 - c, 1 + c) about the image mean
    gamma: float = 0.2  # gamma = exp(U(-g, g)) on the range-normalised image
    image_order: int = 3  # spline order for the image: 3 (cubic) or 1 (linear)

    def __post_init__(self):
        check_bool(self.flip, "flip")
        for name in ("max_shift", "elastic_std", "brightness", "contrast", "gamma", "p_elastic"):
            if not is_real(getattr(self, name)):
                raise TypeError(f"{name} must be a real number, got {fmt(getattr(self, name))}")
        if not is_int(self.image_order):
            raise TypeError(f"image_order must be 1 or 3, got {fmt(self.image_order)}")
        for name in ("max_shift", "elastic_std", "brightness", "contrast", "gamma"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(
                    f"{name} must be a finite number >= 0, got {fmt(getattr(self, name))}; use 0 to disable it"
                )
        grid = self.elastic_grid
        for bad, rule in [
            (self.rotation not in _ROTATIONS, f"rotation must be one of {_ROTATIONS}"),
            (not 0.0 <= self.p_elastic <= 1.0, "p_elastic must be a probability in [0, 1]"),
            (self.contrast >= 1, "contrast must be < 1 (factor drawn from [1 - c, 1 + c])"),
            (self.image_order not in (1, 3), "image_order must be 1 or 3"),
            (type(grid) is not int or grid < 2, "elastic_grid must be an int >= 2 (paper: 3)"),
        ]:
            if bad:
                raise ValueError(f"{rule}, got {fmt(getattr(self, rule.split()[0]))}")

    @classmethod
    def off(cls) -> AugmentConfig:
        """A config that changes nothing (every draw is the identity)."""
        return cls(flip=False, rotation="none", max_shift=0.0, p_elastic=0.0, brightness=0.0, contrast=0.0, gamma=0.0)


@dataclass(frozen=True)
class AugmentParams:
    """One drawn augmentation for an output region of ``shape`` (see :func:`augmentation_coordinates`).

    Raises
    ------
    TypeError
        If a field has the wrong type (flips must be bools, angles and gray values numbers).
    ValueError
        If ``shape`` is not a pair of positive ints, a number is NaN/inf, ``gamma <= 0``,
        ``shift`` is not a pair, ``image_order`` is not 1 or 3 or ``coarse`` is not a finite
        (2, g, g) array.
    """

    shape: tuple[int, int]  # (H, W) of the augmented output
    flip_rows: bool = False
    flip_cols: bool = False
    angle_deg: float = 0.0  # counter-clockwise; multiples of 90 are exact (np.rot90)
    shift: tuple[float, float] = (0.0, 0.0)  # (rows, cols) pixels; content moves by -shift
    coarse: np.ndarray | None = field(default=None, repr=False)  # (2, g, g) elastic grid displacements or None
    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    image_order: int = 3

    def __post_init__(self):
        object.__setattr__(self, "shape", check_pair(self.shape, "shape"))
        for name in ("flip_rows", "flip_cols"):
            check_bool(getattr(self, name), name)
        for name in ("angle_deg", "brightness", "contrast", "gamma"):
            value = getattr(self, name)
            if not is_real(value):
                raise TypeError(f"{name} must be a real number, got {fmt(value)}")
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {fmt(value)}")
        if self.gamma <= 0:
            raise ValueError(f"gamma must be > 0 (1 leaves the gray values alone), got {fmt(self.gamma)}")
        shift = self.shift
        if (
            not isinstance(shift, (tuple, list, np.ndarray))
            or len(shift) != 2
            or not all(is_real(v) for v in shift)
            or not np.isfinite(np.asarray(shift, dtype=float)).all()
        ):
            raise ValueError(f"shift must be a pair (rows, cols) of finite numbers, got {fmt(shift)}")
        if not is_int(self.image_order) or self.image_order not in (1, 3):
            raise ValueError(f"image_order must be 1 or 3, got {fmt(self.image_order)}")
        coarse = self.coarse
        if coarse is not None and (
            not isinstance(coarse, np.ndarray)
            or coarse.ndim != 3
            or coarse.shape[0] != 2
            or min(coarse.shape[1:]) < 2
            or coarse.dtype.kind not in "iuf"
            or not np.isfinite(coarse).all()
        ):
            raise ValueError(
                f"coarse must be None or a finite (2, g, g) array of grid displacements, got {fmt(coarse)}"
            )


def draw_augmentation(
    rng: np.random.Generator | int | None, shape: tuple[int, int], config: AugmentConfig | None = None
) -> AugmentParams:
    """Draw the random parameters of one augmentation.

    Parameters
    ----------
    rng : numpy Generator, int seed or None
        Randomness, drawn in a fixed order (flips, rotation, shift, elastic, gray
        values), also when disabled: the same seed gives the same parameters.
    shape : (H, W) tuple of int
        Size of the region to augment.
    config : AugmentConfig or None
        Ranges and probabilities; None means ``AugmentConfig()``.

    Returns
    -------
    params : AugmentParams

    Raises
    ------
    TypeError
        If ``config`` is not an AugmentConfig, ``shape`` not a pair of ints or ``rng`` not a
        seed or Generator.
    ValueError
        If ``shape`` is not a pair of positive ints or ``rng`` is a negative seed.

    Notes
    -----
    Elastic: ``coarse ~ N(0, std^2)`` on a ``grid x grid`` lattice (Sec. 3.1).

    Examples
    --------
    >>> draw_augmentation(0, (64, 64), AugmentConfig.off()).angle_deg
    0.0
    """
    cfg = AugmentConfig() if config is None else config
    if not isinstance(cfg, AugmentConfig):
        raise TypeError(f"config must be an AugmentConfig or None, got {type(config).__name__}")
    h, w = check_shape(shape)
    rng = check_rng(rng)
    flips = rng.random(2) < 0.5
    k, u = int(rng.integers(4)), float(rng.random())
    angle = {"none": 0.0, "rot90": 90.0 * k, "any": 360.0 * u}[cfg.rotation]
    shift = rng.uniform(-1.0, 1.0, 2) * cfg.max_shift
    coarse = rng.standard_normal((2, cfg.elastic_grid, cfg.elastic_grid)) * cfg.elastic_std  # (2, g, g)
    use_elastic = rng.random() < cfg.p_elastic and cfg.elastic_std > 0
    b, c, g = rng.uniform(-1.0, 1.0, 3)
    return AugmentParams(
        shape=(h, w),
        flip_rows=bool(flips[0] and cfg.flip),
        flip_cols=bool(flips[1] and cfg.flip),
        angle_deg=angle,
        shift=(float(shift[0]), float(shift[1])),
        coarse=coarse if use_elastic else None,
        brightness=float(b * cfg.brightness),
        contrast=float(1.0 + c * cfg.contrast),
        gamma=float(np.exp(g * cfg.gamma)),
        image_order=cfg.image_order,
    )


def _rotation(angle_deg: float) -> np.ndarray:
    """(2, 2) matrix acting on (row, col) offsets; exact for multiples of 90 degrees."""
    if angle_deg % 90 == 0:
        c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][int(angle_deg // 90) % 4]
    else:
        t = np.deg2rad(angle_deg)
        c, s = np.cos(t), np.sin(t)
    return np.array([[c, s], [-s, c]], dtype=np.float64)


def _check_params(params) -> None:
    if not isinstance(params, AugmentParams):
        raise TypeError(f"params must be an AugmentParams (from draw_augmentation), got {fmt(params)}")


def augmentation_coordinates(params: AugmentParams) -> np.ndarray:
    """Source coordinates of every output pixel: the whole geometric transform as one map.

    Parameters
    ----------
    params : AugmentParams

    Returns
    -------
    coords : (2, H, W) float64 ndarray
        ``coords[:, r, c]`` = (row, col) in the input read by output pixel ``(r, c)``;
        ``np.indices(shape)`` when nothing geometric is drawn.

    Raises
    ------
    TypeError
        If ``params`` is not an AugmentParams.

    Notes
    -----
    With ``p = (r, c)``, centre ``m = ((H-1)/2, (W-1)/2)``, elastic field ``d``,
    flip ``F = diag(+-1, +-1)`` and rotation ``R``:
    ``source = m + F R (p + d(p) - m) + shift``. On square images flips then
    ``angle_deg = 90 k`` reproduce ``np.rot90(np.flip(x), k)`` exactly.

    Examples
    --------
    >>> c = augmentation_coordinates(AugmentParams((2, 3), flip_cols=True))
    >>> c[1, 0].tolist()
    [2.0, 1.0, 0.0]
    """
    _check_params(params)
    h, w = params.shape
    p = np.indices((h, w), dtype=np.float64)  # (2, H, W)
    if params.coarse is not None:
        p += upsample_grid_displacements(params.coarse, (h, w))
    m = np.array([(h - 1) / 2.0, (w - 1) / 2.0])[:, None, None]  # (2, 1, 1)
    flip = np.diag([-1.0 if params.flip_rows else 1.0, -1.0 if params.flip_cols else 1.0])
    a = flip @ _rotation(params.angle_deg)  # content: flipped first, then rotated
    p -= m
    src = np.empty_like(p)  # (2, H, W)
    for i in range(2):
        src[i] = a[i, 0] * p[0]
        src[i] += a[i, 1] * p[1]
        src[i] += m[i] + params.shift[i]
    return src


def _resample(array: np.ndarray, coords: np.ndarray, order: int, exact: bool) -> np.ndarray:
    """Read ``array`` ((H, W) or (C, H, W)) at ``coords`` (2, h, w) with mirror extrapolation."""
    if array.dtype == bool:
        return _resample(array.view(np.uint8), coords, 0, True).view(bool)
    planes = array.reshape(-1, *array.shape[-2:])  # (C, H, W)
    order = 0 if exact else order  # integer coordinates: plain (mirrored) indexing, bit-exact
    if order == 0 and needs_exact(planes):  # ids beyond float64's integers: index instead of interpolating
        out = np.stack([nearest_exact(pl, coords) for pl in planes])
    else:
        out = np.stack([ndi.map_coordinates(pl, coords, order=order, mode="mirror") for pl in planes])  # (C, h, w)
    return out.reshape(*array.shape[:-2], *coords.shape[1:])


def _gray(image: np.ndarray, params: AugmentParams, lo: float, hi: float) -> np.ndarray:
    """Gamma on the [lo, hi]-normalised image, then contrast about the mean, then brightness."""
    out = image.astype(np.float32, copy=False)
    span = hi - lo
    if span <= 0 or (params.gamma == 1.0 and params.contrast == 1.0 and params.brightness == 0.0):
        return out
    if params.gamma != 1.0:
        out = lo + span * np.clip((out - lo) / span, 0.0, 1.0) ** params.gamma
    if params.contrast != 1.0:
        mean = out.mean()
        out = mean + params.contrast * (out - mean)
    return (out + params.brightness * span).astype(np.float32, copy=False)


def check_image_pair(image: np.ndarray, other: np.ndarray | None, name: str) -> None:
    if other is not None and not isinstance(other, np.ndarray):
        raise TypeError(f"{name} must be an (H, W) numpy array matching image's {image.shape[-2:]}, got {fmt(other)}")
    if other is not None and other.shape != image.shape[-2:]:
        raise ValueError(f"{name} must be an (H, W) array matching image's {image.shape[-2:]}, got {fmt(other)}")
    if other is not None and name == "labels" and not (np.issubdtype(other.dtype, np.integer) or other.dtype == bool):
        raise TypeError(f"labels must have an integer dtype, got {other.dtype}; use labels.astype(np.int64)")
    if other is not None and name == "weights":
        check_finite_image(other, "weights")


def apply_augmentation(
    params: AugmentParams, image: np.ndarray, labels: np.ndarray | None = None, weights: np.ndarray | None = None
) -> tuple:
    """Apply one drawn augmentation consistently to an image, its labels and its weights.

    Parameters
    ----------
    params : AugmentParams
        From :func:`draw_augmentation` with ``shape`` = the image's ``(H, W)``.
    image : (H, W) or (C, H, W) ndarray
        Resampled with ``params.image_order``, then gray-value changed.
    labels : (H, W) integer ndarray, optional
        Nearest-neighbour resampled; dtype kept, label set never grows.
    weights : (H, W) ndarray, optional
        Bilinearly resampled (e.g. the Eq. 2 weight map).

    Returns
    -------
    image, labels, weights : tuple
        float32 image of the input's shape, labels (dtype kept) and float32
        weights, or None where not given.

    Raises
    ------
    ValueError
        If the shapes disagree with each other or with ``params.shape``, or the image or the
        weights hold NaN/inf.
    TypeError
        If ``params`` is not an AugmentParams, ``image`` not a numeric numpy array or the labels
        not an integer array.

    Notes
    -----
    One resampling per array through :func:`augmentation_coordinates`. When the
    map is integer-valued (flips, 90-degree rotations, integer shifts, no elastic)
    every array is indexed exactly, so e.g. a flip equals ``np.flip`` bitwise.

    Examples
    --------
    >>> img = np.arange(6.0).reshape(2, 3)
    >>> apply_augmentation(AugmentParams((2, 3), flip_rows=True), img)[0].tolist()
    [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]]
    """
    _check_params(params)
    check_finite_image(image, "image")
    if image.ndim not in (2, 3) or tuple(image.shape[-2:]) != tuple(params.shape):
        raise ValueError(
            f"image must be (H, W) or (C, H, W) with (H, W) = params.shape {params.shape}, got {fmt(image)}"
        )
    check_image_pair(image, labels, "labels")
    check_image_pair(image, weights, "weights")
    return augment_arrays(params, image, labels, weights, augmentation_coordinates(params), 0)


def augment_arrays(params, image, labels, weights, coords, pad):
    """Resample all arrays through ``coords``; labels/weights only in the centre (crop ``pad``)."""
    maybe = params.coarse is None and params.angle_deg % 90 == 0  # otherwise certainly not integer
    exact = maybe and bool(np.array_equal(coords, np.rint(coords)))
    img = _resample(image.astype(np.float32, copy=False), coords, params.image_order, exact)  # float: no rounding
    img = _gray(img, params, float(image.min()), float(image.max()))
    inner = coords[:, pad : coords.shape[1] - pad, pad : coords.shape[2] - pad]  # (2, out, out)
    lbl = None if labels is None else _resample(labels, inner, 0, True)
    wts = None if weights is None else _resample(weights.astype(np.float32, copy=False), inner, 1, exact)
    return img, lbl, wts

"""Your own annotated images: a folder of images and a folder of labels, paired by file name.

The images are 2-D gray-value TIFF or PNG files (8 or 16 bit, or float); the labels are integer images of
the same size: instance labels (0 = background, one value per cell), or with ``semantic=True`` binary
masks (0/1 or 0/255) whose 4-connected components become the cells. A label value given as
``ignore_value`` marks pixels that are not annotated (the paper's cell images were "partially annotated"):
they become background in the instances and are returned as a separate mask for the loss to leave out.
A label file pairs with the image of the same stem, or of the same stem with a suffix ``_label``,
``_labels``, ``_mask`` or ``_masks`` (``cell01.tif`` and ``cell01_mask.png``).

Every error names the file, the rule it breaks and the fix; nothing is read half: the folders are
checked completely before a pair is returned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..utils.validation import fmt
from .labels import instances_from_labels
from .readers import DataFileError, imread

__all__ = ["IMAGE_SUFFIXES", "LABEL_TAGS", "ImagePair", "FolderData", "pair_files", "read_image_file",
           "read_label_file", "load_pairs", "split_names"]  # fmt: skip

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")
LABEL_TAGS = ("_labels", "_label", "_masks", "_mask")  # a label file's stem may end in one of these


@dataclass(frozen=True)
class ImagePair:
    """One annotated image: its ``name`` (the image file's stem) and the two files."""

    name: str
    image: Path
    labels: Path


@dataclass(frozen=True)
class FolderData:
    """Annotated images read from folders (:func:`load_pairs`), in the order of their names.

    ``images``: (H, W) float32 each; ``labels``: (H, W) int32 instance labels (0 = background and, where
    ``ignore`` is set, not annotated); ``ignore``: (H, W) bool masks of the pixels the loss leaves out, or
    None where every pixel is annotated.
    """

    names: list[str]
    images: list[np.ndarray]
    labels: list[np.ndarray]
    ignore: list[np.ndarray | None]
    pairs: list[ImagePair]


def _folder(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{what} must be a folder path, got {fmt(path)}")
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(
            f"{what} {str(p)!r} is not a folder; give the folder that holds the {what.split('_')[0]}"
        )
    return p


def _files(folder: Path, what: str) -> dict[str, Path]:
    """``{stem: file}`` of the image files in ``folder``; refuses an empty folder and two files of one stem."""
    files: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."):
            if f.stem in files:
                raise ValueError(f"{what} {str(folder)!r} holds two files named {f.stem!r} ({files[f.stem].name} and "
                                 f"{f.name}); keep one of them")  # fmt: skip
            files[f.stem] = f
    if not files:
        raise ValueError(f"{what} {str(folder)!r} holds no image file ({', '.join(IMAGE_SUFFIXES)}); "
                         "put the images there as TIFF or PNG")  # fmt: skip
    return files


def _image_stem(label_stem: str, image_stems) -> str | None:
    if label_stem in image_stems:
        return label_stem
    for tag in LABEL_TAGS:
        if label_stem.endswith(tag) and label_stem[: -len(tag)] in image_stems:
            return label_stem[: -len(tag)]
    return None


def pair_files(images_dir, labels_dir) -> list[ImagePair]:
    """Pair every image with its label file by name.

    Parameters
    ----------
    images_dir, labels_dir : path
        Folders of TIFF/PNG files.

    Returns
    -------
    list of ImagePair
        Sorted by name.

    Raises
    ------
    TypeError, FileNotFoundError
        If a folder is not given or does not exist.
    ValueError
        If a folder holds no image, two files of one name, or a file that does not pair (the message
        lists every unpaired file).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for sub, name in [("img", "a.png"), ("img", "b.tif"), ("lab", "a_mask.png"), ("lab", "b.tif")]:
    ...     (d / sub).mkdir(exist_ok=True); (d / sub / name).touch()
    >>> [(p.name, p.labels.name) for p in pair_files(d / "img", d / "lab")]
    [('a', 'a_mask.png'), ('b', 'b.tif')]
    """
    images = _files(_folder(images_dir, "images_dir"), "images_dir")
    labels = _files(_folder(labels_dir, "labels_dir"), "labels_dir")
    by_image: dict[str, Path] = {}
    stray = []
    for stem, f in labels.items():
        image = _image_stem(stem, images)
        if image is None:
            stray.append(f.name)
        elif image in by_image:
            raise ValueError(f"labels_dir holds two label files for image {images[image].name}: "
                             f"{by_image[image].name} and {f.name}; keep one of them")  # fmt: skip
        else:
            by_image[image] = f
    unlabelled = [images[s].name for s in images if s not in by_image]
    if stray or unlabelled:
        raise ValueError(
            "images and labels must pair by file name (a label file is named like its image, optionally with "
            f"{'/'.join(LABEL_TAGS)} before the suffix); "
            + "; ".join(
                x
                for x in (
                    f"images without a label file in {str(labels_dir)!r}: {', '.join(unlabelled)}"
                    if unlabelled
                    else "",
                    f"label files without an image in {str(images_dir)!r}: {', '.join(stray)}" if stray else "",
                )
                if x
            )  # fmt: skip
        )
    return [ImagePair(s, images[s], by_image[s]) for s in sorted(images)]


def _decode(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        return np.asarray(imread(path, "check the file, or export it again as TIFF or PNG"))
    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path} is not an image Pillow can read ({exc}); export it again as TIFF or PNG") from None


def read_image_file(path) -> np.ndarray:
    """One 2-D gray-value image as (H, W) float32 (8-bit, 16-bit or float files).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    OSError
        (``DataFileError``) if it cannot be decoded.
    ValueError
        If it is a colour image, a stack, or holds NaN or infinite values; the message names the file.
    """
    path = Path(path)
    image = _decode(path)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        raise ValueError(f"{path} is a colour image of shape {image.shape}; the U-Net here reads gray-value "
                         "images: convert it to gray (e.g. save it as an 8-bit gray PNG)")  # fmt: skip
    if image.ndim != 2:
        raise ValueError(f"{path} has shape {image.shape}; one 2-D image per file is needed: save each slice as a file")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating) or image.dtype == bool):
        raise ValueError(f"{path} has pixel type {image.dtype}; use 8- or 16-bit integers or floats")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError(f"{path} holds NaN or infinite values; replace them (e.g. by 0) before training")
    return image


def read_label_file(path, *, semantic: bool = False, ignore_value: int | None = None):
    """``(instances (H, W) int32, ignore (H, W) bool or None)`` of one label file.

    Parameters
    ----------
    path : path
    semantic : bool
        The file is a binary mask (0/1 or 0/255); its 4-connected components are the cells.
    ignore_value : int or None
        A label value that marks pixels without annotation (they become background, and ``ignore``).

    Raises
    ------
    ValueError
        If the labels are not integers, are colour or a stack, are negative, or (``semantic``) hold other
        values than 0 and 1 or 0 and 255 besides ``ignore_value``; the message names the file.
    """
    path = Path(path)
    labels = _decode(path)
    if labels.ndim != 2:
        raise ValueError(f"{path} has shape {labels.shape}; a label file is one 2-D integer image")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"{path} holds {labels.dtype} values; labels must be integers (0 = background, one value "
                         "per cell): save the label image with an integer pixel type")  # fmt: skip
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(
            f"{path} holds negative labels (min {labels.min()}); use 0 for background, 1, 2, ... for cells"
        )
    ignore = None
    if ignore_value is not None:
        ignore = labels == int(ignore_value)
        labels = np.where(ignore, 0, labels)
        ignore = ignore if ignore.any() else None
    if semantic:
        values = set(np.unique(labels).tolist())
        if not values <= {0, 1} and not values <= {0, 255}:
            raise ValueError(f"{path} holds the values {sorted(values)[:8]}; with semantic=True a label file is a "
                             "binary mask (0/1 or 0/255); for instance labels leave semantic off")  # fmt: skip
        labels = instances_from_labels((labels > 0).astype(np.uint8))
    return labels.astype(np.int32), ignore


def load_pairs(images_dir, labels_dir, *, semantic: bool = False, ignore_value: int | None = None) -> FolderData:
    """Read every pair of :func:`pair_files` (see :func:`read_image_file`, :func:`read_label_file`).

    Raises
    ------
    ValueError
        Also if an image and its labels differ in size (the message names both files).
    """
    pairs = pair_files(images_dir, labels_dir)
    images, labels, ignore = [], [], []
    for p in pairs:
        image = read_image_file(p.image)
        lab, ign = read_label_file(p.labels, semantic=semantic, ignore_value=ignore_value)
        if lab.shape != image.shape:
            raise ValueError(f"{p.labels} has shape {lab.shape} but its image {p.image} has {image.shape}; a label "
                             "image must have the size of its image")  # fmt: skip
        images.append(image)
        labels.append(lab)
        ignore.append(ign)
    return FolderData([p.name for p in pairs], images, labels, ignore, pairs)


def split_names(names, held_out: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(training names, held-out names)``: a seeded draw of ``held_out`` of the images (at least one each).

    Parameters
    ----------
    names : sequence of str
        At least 2 names.
    held_out : float
        The share held out, in (0, 1); rounded, at least 1 and at most ``len(names) - 1``.
    seed : int

    Raises
    ------
    ValueError
        For fewer than 2 names or a share outside (0, 1).

    Examples
    --------
    >>> split_names(["a", "b", "c", "d", "e"], 0.2, seed=0)
    (['a', 'b', 'd', 'e'], ['c'])
    """
    names = list(names)
    if len(names) < 2:
        raise ValueError(f"at least 2 annotated images are needed to hold one out, got {len(names)}; "
                         "annotate another image, or score on a separate folder")  # fmt: skip
    if not 0 < float(held_out) < 1:
        raise ValueError(f"held_out must be a share in (0, 1), e.g. 0.2, got {held_out!r}")
    k = min(max(1, round(held_out * len(names))), len(names) - 1)
    rng = np.random.default_rng(seed)
    held = sorted(names[i] for i in rng.permutation(len(names))[:k])
    return [n for n in names if n not in held], held

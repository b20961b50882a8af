"""Checks and readers of the command line (``unet_core.cli.commands``), kept apart from the commands.

Every check here runs before any work (training, prediction, writing) and raises
:class:`UserError` with a message that names the flag, the rule, the value and the fix;
``main`` prints it as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.readers import DataFileError, imread
from ..models.memory import estimate_memory
from ..models.registry import model_spec
from ..utils.system import check_memory, resolve_device
from ..utils.validation import check_finite_image

__all__: list[str] = []


class UserError(ValueError):
    """A problem with the command line or its inputs (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message; see 'prog --help'`` and exit status 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


# --------------------------------------------------------------------------- argparse types
def int_at_least(low: int, high: int | None = None):
    """argparse type: an integer in [low, high]; the error names the rule and the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            rule = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be an integer {rule}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


# --------------------------------------------------------------------------- checks before any work
def check_device(device: str, flag: str = "--device") -> None:
    """Resolve ``device`` now, so that a typo fails before training or loading anything.

    Raises
    ------
    UserError
        If the device does not exist or is not available here.
    """

    try:
        resolve_device(device)
    except ValueError as exc:
        text = str(exc).replace(f"device={device!r} ", "").replace("device=", f"{flag} ")
        raise UserError(f"{flag} {device} {text}") from None


def check_writable(path: Path, flag: str) -> None:
    """Refuse an output path that is a folder, lies under a file or in a folder that cannot be written.

    Raises
    ------
    UserError
        Naming ``flag``, the path and why it cannot be written.
    """
    if path.is_dir():
        raise UserError(f"{flag} {str(path)!r} is a folder; give a file name inside it")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {str(path)!r} cannot be written: {str(parent)!r} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UserError(
            f"{flag} {str(path)!r} cannot be written ({exc.strerror or exc}); choose a writable folder"
        ) from None


def check_training_size(args) -> None:
    """--tile-size valid for --model and --depth, and network plus one training tile within the memory available.

    Raises
    ------
    UserError
        If the tile size is not valid (naming the nearest valid sizes) or the network or one
        training step would need more memory than is available (naming both amounts).

    Notes
    -----
    One training step of ``--batch-size`` tiles needs the weights, their gradients and the
    optimiser's state (``16 * parameters`` bytes) plus the activations of the step that the
    network's own arithmetic gives (:func:`unet_core.models.memory.estimate_memory` with ``train=True``),
    without building the network.
    """

    spec = model_spec(getattr(args, "model", "unet"), "--model")
    n_params = spec.parameter_count(1, 2, args.base_channels, args.depth)
    fix = f"use a smaller --base-channels, --depth or --tile-size (the paper: 64, 5 and {spec.default_tile})"
    try:  # weights, gradients and SGD momentum
        check_memory(
            16 * n_params,
            f"--base-channels {args.base_channels} --depth {args.depth} ({n_params:,} "
            "parameters with gradients and momentum)",
            fix,
        )
    except MemoryError as exc:
        raise UserError(str(exc)) from None
    below, above = spec.nearest_valid(args.tile_size, args.depth)
    if below != args.tile_size:
        near = f"nearest valid sizes are {below} and {above}" if below else f"the smallest valid size is {above}"
        raise UserError(
            f"--tile-size {args.tile_size} is not a valid input size for --model {spec.name} --depth "
            f"{args.depth}; {near}"
        ) from None
    batch = getattr(args, "batch_size", None) or 1
    try:  # the activations kept for the backward pass, the gradients' peak and the optimiser's step
        step = estimate_memory(
            spec.name, args.tile_size, batch_size=batch, train=True, base_channels=args.base_channels, depth=args.depth
        )
        check_memory(
            step + 16 * n_params,
            f"training {spec.name} on --tile-size {args.tile_size}"
            + (f" with --batch-size {batch}" if batch > 1 else "")
            + f" ({step / 2**20:,.0f} MiB of "
            "activations per step)",
            fix + ("" if batch == 1 else " or --batch-size"),
        )
    except MemoryError as exc:
        raise UserError(str(exc)) from None


def as_flag_error(exc: Exception, names: dict[str, str]) -> UserError:
    """Re-word an API error for the command line: ``tile_size=45`` -> ``--tile-size 45``."""
    text = str(exc)
    for name, flag in names.items():
        text = text.replace(f"{name}=", f"{flag} ")
    return UserError(text)


# --------------------------------------------------------------------------- image input
def read_image(path: Path) -> np.ndarray:
    """One 2-D gray-value image from a TIFF or a Pillow-readable file, verified.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If ``path`` does not exist or is a folder.
    OSError
        (``DataFileError``) if the file cannot be decoded (corrupt, truncated, not an image).
    UserError
        If it is not one 2-D image (a colour image or a stack) or is empty, complex or non-finite.
    """

    name = f"IMAGE {str(path)!r}"
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{name} is a folder, not an image file")
    if not path.is_file():
        raise FileNotFoundError(f"{name} does not exist")
    if path.suffix.lower() in (".tif", ".tiff"):
        image = np.asarray(imread(path, "check the file, or export the image again as TIFF or PNG"))
    else:
        try:
            with Image.open(path) as img:
                image = np.asarray(img.convert("L") if img.mode not in ("L", "I", "I;16", "F") else img)
        except (OSError, ValueError) as exc:
            raise DataFileError(f"{name} is not an image Pillow can read ({exc}); use a TIFF or PNG file") from None
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        raise UserError(
            f"{name} is a colour image of shape {image.shape}; predict needs one 2-D gray-value image: "
            "convert it to gray first (e.g. save it as a gray PNG)"
        )
    if image.ndim != 2:
        raise UserError(f"{name} has shape {image.shape}; predict needs one 2-D gray-value image: save one slice")
    try:
        check_finite_image(image, "image")
    except (TypeError, ValueError) as exc:
        raise UserError(f"{name}: {exc}") from None
    return image


def debug_wanted(argv: list[str] | None) -> bool:
    """``--debug`` anywhere on the command line, or ``UNET_DEBUG=1``."""
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or os.environ.get("UNET_DEBUG") == "1"

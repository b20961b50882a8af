"""Published trained networks of the ``cpu`` recipes, verified by sha256 before use.

The registry ``unet_core/recipes/weights/registry.txt`` has pooch's format, one line per checkpoint::

    <file name> <sha256> <url>

Checkpoints of at most 10 MB are committed next to it (and installed with the package), so
:func:`pretrained_path` never needs the network: it finds the file, checks its hash and returns its
path. A file that is missing or altered is refused with the fix (re-install, download the
registry's URL into ``$UNET_PRETRAINED_DIR``, or retrain with ``python -m unet_core train --recipe
NAME``). Each checkpoint stores the recipe it was trained with (``train_config["recipe"]``) and no
optimizer state.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from pathlib import Path

import torch

from ..models.unet import UNet
from ..training.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from ..utils.validation import check_path, fmt
from .capped import resolve_recipe
from .registry import Recipe

__all__ = ['PRETRAINED_DIR', 'pretrained_registry', 'pretrained_path', 'load_pretrained', 'publish_checkpoint']


PRETRAINED_DIR = Path(__file__).with_name("weights")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pretrained_registry(registry: str | os.PathLike | None = None) -> dict[str, tuple[str, str]]:
    """``{recipe name: (sha256, url)}`` from the registry file (``<name>.pt <sha256> <url>`` lines).

    Parameters
    ----------
    registry : path or None
        The registry file (default: the package's ``recipes/weights/registry.txt``). Blank lines and
        lines starting with ``#`` are skipped.

    Raises
    ------
    TypeError
        If ``registry`` is not a path or None.
    FileNotFoundError, IsADirectoryError
        If the file does not exist or is a folder.
    ValueError
        If it is not a registry: not text, or a line that is not ``<name>.pt <sha256> <url>``.
    """
    path = check_path(registry, "registry") or PRETRAINED_DIR / "registry.txt"
    fix = "pass the registry file, e.g. unet_core/recipes/weights/registry.txt (reinstall unet-core if it is missing)"
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"registry={str(path)!r} is a folder, not a registry file; {fix}")
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, f"registry file {str(path)!r} does not exist; {fix}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"registry file {str(path)!r} is not a text file (not a registry); {fix}") from None
    out = {}
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if len(parts) != 3 or not parts[0].endswith(".pt") or not re.fullmatch(r"[0-9a-f]{64}", parts[1]):
            raise ValueError(
                f"registry file {str(path)!r}, line {number}: expected '<name>.pt <sha256 (64 hex "
                f"digits)> <url>', got {fmt(line)}; {fix}"
            )
        out[parts[0].removesuffix(".pt")] = (parts[1], parts[2])
    return out


def _check_name(name) -> str:
    """A recipe name (non-empty str) for the published-checkpoint functions."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a recipe name (str) such as 'isbi2012-cpu', got {fmt(name)}")
    if not name:
        raise ValueError(
            "name must not be empty; give a recipe name such as 'isbi2012-cpu' "
            "(unet_core.pretrained_registry() lists the published ones)"
        )
    return name


def pretrained_path(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Path of the verified published checkpoint of recipe ``name``.

    Parameters
    ----------
    name : str
        A recipe name with a published checkpoint, e.g. ``"isbi2012-cpu"``.
    folder : path or None
        Where to look (default: the package's ``recipes/weights/`` folder, then ``$UNET_PRETRAINED_DIR``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    TypeError
        If ``name`` is not a str or ``folder`` not a path.
    ValueError
        If ``name`` is empty or no checkpoint is registered for it (the message lists those that are).
    FileNotFoundError
        If the file is not there (the message says how to get it).
    OSError
        If its sha256 differs from the registry's (a truncated or altered file).
    """
    name, folder = _check_name(name), check_path(folder, "folder")
    reg = pretrained_registry()
    if name not in reg:
        raise ValueError(f"recipe={name!r} has no published checkpoint; published: {', '.join(sorted(reg)) or 'none'}")
    sha, url = reg[name]
    folders = (
        [folder]
        if folder is not None
        else [PRETRAINED_DIR]
        + ([Path(os.environ["UNET_PRETRAINED_DIR"])] if os.environ.get("UNET_PRETRAINED_DIR") else [])
    )
    for f in folders:
        path = f / f"{name}.pt"
        if path.is_file():
            got = _sha256(path)
            if got != sha:
                raise OSError(
                    f"{path} has sha256 {got[:16]}..., the registry expects {sha[:16]}...; the file is "
                    f"truncated or altered: re-fetch it ({url}) or retrain with "
                    f"`python -m unet_core train --recipe {name}`"
                )
            return path
    raise FileNotFoundError(
        f"the published checkpoint {name}.pt is not in {', '.join(map(str, folders))}; it ships "
        f"with the package (reinstall unet-core), or download {url} into a folder named by "
        f"$UNET_PRETRAINED_DIR, or retrain it with `python -m unet_core train --recipe {name}`"
    )


def load_pretrained(name: str, map_location: str = "cpu"):
    """``(UNet in eval mode, Recipe)`` of the published checkpoint of recipe ``name`` (verified).

    Raises
    ------
    TypeError, ValueError, FileNotFoundError, OSError
        As :func:`pretrained_path` for ``name``; ValueError also for a ``map_location`` that is not a device.

    Examples
    --------
    >>> model, recipe = load_pretrained("isbi2012-cpu")  # doctest: +SKIP
    """

    path = pretrained_path(name)
    model = model_from_checkpoint(path, map_location=map_location)
    recipe = Recipe(**load_checkpoint(path)["train_config"]["recipe"])
    return model, recipe


def publish_checkpoint(
    source: str | os.PathLike, recipe, dest_folder: str | os.PathLike | None = None, scores: dict | None = None
) -> tuple[Path, str]:
    """Write a training checkpoint as a published one (weights, recipe, losses; no optimizer state).

    Parameters
    ----------
    source : path
        A checkpoint written by :func:`~unet_core.training.loop.train`.
    recipe : Recipe or str
        The recipe it was trained with (or its name); the file is called ``<recipe.name>.pt``.
    dest_folder : path or None
        Where to write it (default: the package's ``recipes/weights/`` folder).
    scores : dict or None
        Recorded scores stored in the history.

    Returns
    -------
    (pathlib.Path, str)
        The written file and its sha256; the caller adds the registry line.

    Raises
    ------
    TypeError
        If ``source`` or ``dest_folder`` is not a path, or ``recipe`` not a Recipe or recipe name.
    ValueError
        For an unknown recipe name, a file that is not a unet_core checkpoint, or one that does not
        record its training frames (``training_data``).
    FileNotFoundError
        If ``source`` does not exist.
    OSError
        If ``dest_folder`` is a file (NotADirectoryError) or cannot be written.
    """

    source, folder = check_path(source, "source", none_ok=False), check_path(dest_folder, "dest_folder")
    recipe = resolve_recipe(recipe)
    ckpt = load_checkpoint(source)
    if not isinstance(ckpt.get("training_data"), dict):
        raise ValueError(
            f"source={str(source)!r} does not record the frames it was trained on (training_data); "
            "a published network must, so that it is never scored on them: retrain it with "
            "unet_core.train_recipe"
        )
    model = UNet(**ckpt["model_config"])
    model.load_state_dict(ckpt["model_state"])
    folder = folder if folder is not None else PRETRAINED_DIR
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"dest_folder={str(folder)!r} is a file, not a folder; pass the folder "
            "to write the published checkpoint into (it is created if missing)",
        )
    path = folder / f"{recipe.name}.pt"
    config = {**ckpt["train_config"], "recipe": recipe.to_dict()}
    history = {"losses": [float(x) for x in ckpt["history"]["losses"]], "validation": [], "scores": dict(scores or {})}
    torch.manual_seed(0)
    save_checkpoint(
        path,
        model,
        None,
        ckpt["step"],
        config,
        history,
        ckpt.get("scheduler_state"),
        training_data=ckpt["training_data"],
    )
    return path, _sha256(path)

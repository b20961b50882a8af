"""Published trained networks of the ``cpu`` recipes, verified by sha256 before use.

The registry ``unet_core/pretrained/registry.txt`` has pooch's format, one line per checkpoint::

    <file name> <sha256> <url>

Checkpoints of at most 10 MB are committed next to it (and installed with the package), so
:func:`pretrained_path` never needs the network: it finds the file, checks its hash and returns its
path. A file that is missing or altered is refused with the fix (re-install, download the
registry's URL into ``$UNET_PRETRAINED_DIR``, or retrain with ``python -m unet_core train --recipe
NAME``). Each checkpoint stores the recipe it was trained with (``train_config["recipe"]``) and no
optimizer state.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["PRETRAINED_DIR", "pretrained_registry", "pretrained_path", "load_pretrained", "publish_checkpoint"]

PRETRAINED_DIR = Path(__file__).with_name("pretrained")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pretrained_registry(registry: str | os.PathLike | None = None) -> dict[str, tuple[str, str]]:
    """``{recipe name: (sha256, url)}`` from the registry file (``<name>.pt <sha256> <url>`` lines)."""
    path = Path(registry) if registry is not None else PRETRAINED_DIR / "registry.txt"
    out = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and not line.startswith("#"):
                out[parts[0].removesuffix(".pt")] = (parts[1], parts[2])
    return out


def pretrained_path(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Path of the verified published checkpoint of recipe ``name``.

    Parameters
    ----------
    name : str
        A recipe name with a published checkpoint, e.g. ``"isbi2012-cpu"``.
    folder : path or None
        Where to look (default: the package's ``pretrained/`` folder, then ``$UNET_PRETRAINED_DIR``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If no checkpoint is registered for ``name`` (the message lists those that are).
    FileNotFoundError
        If the file is not there (the message says how to get it).
    OSError
        If its sha256 differs from the registry's (a truncated or altered file).
    """
    reg = pretrained_registry()
    if name not in reg:
        raise ValueError(f"recipe={name!r} has no published checkpoint; published: {', '.join(sorted(reg)) or 'none'}")
    sha, url = reg[name]
    folders = [Path(folder)] if folder is not None else [PRETRAINED_DIR] + (
        [Path(os.environ["UNET_PRETRAINED_DIR"])] if os.environ.get("UNET_PRETRAINED_DIR") else [])
    for f in folders:
        path = f / f"{name}.pt"
        if path.is_file():
            got = _sha256(path)
            if got != sha:
                raise OSError(f"{path} has sha256 {got[:16]}..., the registry expects {sha[:16]}...; the file is "
                              f"truncated or altered: re-fetch it ({url}) or retrain with "
                              f"`python -m unet_core train --recipe {name}`")
            return path
    raise FileNotFoundError(f"the published checkpoint {name}.pt is not in {', '.join(map(str, folders))}; it ships "
                            f"with the package (reinstall unet-core), or download {url} into a folder named by "
                            f"$UNET_PRETRAINED_DIR, or retrain it with `python -m unet_core train --recipe {name}`")


def load_pretrained(name: str, map_location: str = "cpu"):
    """``(UNet in eval mode, Recipe)`` of the published checkpoint of recipe ``name`` (verified).

    Examples
    --------
    >>> model, recipe = load_pretrained("isbi2012-cpu")  # doctest: +SKIP
    """
    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .recipes import Recipe

    path = pretrained_path(name)
    model = model_from_checkpoint(path, map_location=map_location)
    recipe = Recipe(**load_checkpoint(path)["train_config"]["recipe"])
    return model, recipe


def publish_checkpoint(source: str | os.PathLike, recipe, dest_folder: str | os.PathLike | None = None,
                       scores: dict | None = None) -> tuple[Path, str]:
    """Write a training checkpoint as a published one (weights, recipe, losses; no optimizer state).

    Returns ``(path, sha256)``; the caller adds the registry line.
    """
    import torch

    from .checkpoint import load_checkpoint, save_checkpoint
    from .network import UNet

    ckpt = load_checkpoint(source)
    model = UNet(**ckpt["model_config"])
    model.load_state_dict(ckpt["model_state"])
    folder = Path(dest_folder) if dest_folder is not None else PRETRAINED_DIR
    path = folder / f"{recipe.name}.pt"
    config = {**ckpt["train_config"], "recipe": recipe.to_dict()}
    history = {"losses": [float(x) for x in ckpt["history"]["losses"]], "validation": [],
               "scores": dict(scores or {})}
    torch.manual_seed(0)
    save_checkpoint(path, model, None, ckpt["step"], config, history, ckpt.get("scheduler_state"))
    return path, _sha256(path)

"""Where things live: the one home of the defaults of the data folder and of the runs folder."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ['default_data_dir', 'default_runs_dir']


def default_data_dir() -> Path:
    """Root of the converted data: ``$UNET_DATA_DIR`` if set, else ``./data``.

    Returns
    -------
    root : pathlib.Path
        Not checked for existence; the loaders say how to fetch missing data.

    Examples
    --------
    >>> isinstance(default_data_dir(), Path)
    True
    """
    return Path(os.environ.get("UNET_DATA_DIR") or "data")


def default_runs_dir(base: str | os.PathLike | None = None) -> Path:
    """Folder of the training checkpoints and cached weight maps: ``$UNET_RUNS_DIR`` if set, else
    ``<base>/runs`` (``base`` None: the current folder, i.e. ``./runs``).

    Parameters
    ----------
    base : path or None
        Where ``runs/`` goes without ``$UNET_RUNS_DIR`` (the book's chapters pass the repository).

    Returns
    -------
    runs : pathlib.Path
        Not created and not checked here (:func:`unet_core.recipe_checkpoint_path` refuses a file).

    Examples
    --------
    >>> default_runs_dir("/tmp/repo").name == "runs" or "UNET_RUNS_DIR" in os.environ
    True
    """
    return Path(os.environ.get("UNET_RUNS_DIR") or Path(base or ".") / "runs")

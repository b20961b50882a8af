"""Where the converted datasets live: the one home of the data folder's default."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ['default_data_dir']


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

"""One ISBI 2012 slice for a chapter's figures, or a labelled synthetic stand-in where the data are missing.

Chapters that illustrate a mechanism on an electron micrograph (the U's context, overlap-tiles, speed)
need one 512 x 512 slice. :func:`em_slice` reads it from the converted ISBI 2012 data and, only where a
chapter allows it (its smoke scale, or a figure whose content does not matter), falls back to
:func:`unet_core.synthetic_em`, saying so in the returned source, which every figure shows.
"""

from __future__ import annotations

import numpy as np

from ..data.isbi2012 import load_isbi2012
from ..data.paths import default_data_dir
from ..data.synthetic import synthetic_em

__all__ = ["SYNTHETIC_EM", "em_slice"]

SYNTHETIC_EM = "SYNTHETIC EM-like image (unet_core.synthetic_em)"


def em_slice(data_dir=None, *, allow_synthetic: bool, seed: int = 0, test: bool = False) -> tuple[np.ndarray, str]:
    """``(image (512, 512) uint8, source)``: ISBI 2012 training slice 0 (or test slice 0), else a stand-in.

    Parameters
    ----------
    data_dir : path or None
        The converted data (None: :func:`unet_core.default_data_dir`).
    allow_synthetic : bool
        Whether a missing dataset may be replaced by :func:`unet_core.synthetic_em` (the source then
        starts with "SYNTHETIC"); if not, the error of the loader is raised.
    seed : int
        Seed of the stand-in.
    test : bool
        The first test slice instead of the first training slice.

    Raises
    ------
    FileNotFoundError, ValueError
        If the data are missing or malformed and ``allow_synthetic`` is False.
    """
    try:
        data = load_isbi2012(default_data_dir() if data_dir is None else data_dir)
        return (data.test_images[0], "ISBI 2012 test slice 0") if test else \
            (data.train_images[0], "ISBI 2012 training slice 0")  # fmt: skip
    except (FileNotFoundError, ValueError) as err:
        if not allow_synthetic:
            raise
        print(f"real data unavailable ({err.__class__.__name__}); using a SYNTHETIC EM-like image")
        return synthetic_em((512, 512), seed=seed)[0], SYNTHETIC_EM

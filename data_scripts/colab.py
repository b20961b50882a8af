"""What a chapter's Colab cell does after installing the package: choose the scale, fetch the data.

Every chapter of the book starts with the same Colab cell (written by ``book/build.py --sync``): on
Colab only, it clones the repository, installs it with the ``colab`` extra (the package, these data
scripts and what the chapters import), changes into ``book/`` and calls :func:`setup`, which

* picks the scale: ``colab_scale="auto"`` runs ``cpu`` (the budgeted recipes: minutes on a Colab GPU,
  which the chapter's ``DEVICE = "auto"`` uses, and on a CPU); ``"full"`` (the paper's network, hours of
  training) runs only when asked (any of ``"smoke"``, ``"cpu"``, ``"full"`` overrides ``"auto"``);
* downloads, verifies and converts the datasets the chapter needs (``fetch.py NAME --dest DIR``, the
  official sources, sha256-checked), unless a ``smoke`` run was asked for, which needs none;
* points ``$UNET_DATA_DIR`` at them, so the chapter's ``DATA_DIR = None`` finds them.

It lives here, not in ``unet_core``, because it touches the network; ``unet_core`` never does.
"""

from __future__ import annotations

import os
from pathlib import Path

SCALES = ("smoke", "cpu", "full")


def choose_scale(colab_scale: str = "auto", cuda: bool | None = None) -> str:
    """The chapter's ``SCALE`` on Colab.

    Parameters
    ----------
    colab_scale : {"auto", "smoke", "cpu", "full"}
        ``"auto"``: ``"cpu"`` with or without a GPU (never hours of training unasked); anything else is
        taken as is.
    cuda : bool, optional
        Whether a GPU is there (kept for the device :func:`setup` reports; the scale does not depend on it).

    Returns
    -------
    str
        One of ``"smoke"``, ``"cpu"``, ``"full"``.

    Raises
    ------
    ValueError
        If ``colab_scale`` is not ``"auto"`` or a scale.

    Examples
    --------
    >>> choose_scale("auto", cuda=True), choose_scale("auto", cuda=False), choose_scale("full", cuda=False)
    ('cpu', 'cpu', 'full')
    """
    if colab_scale not in ("auto", *SCALES):
        raise ValueError(
            f"COLAB_SCALE={colab_scale!r} must be 'auto' (cpu: minutes, on the GPU if any) or one of {SCALES}"
        )
    return "cpu" if colab_scale == "auto" else colab_scale


def setup(
    colab_scale: str = "auto",
    datasets: list[str] | tuple[str, ...] = (),
    *,
    data_dir: str | os.PathLike = "data",
    cuda: bool | None = None,
    fetch=None,
) -> tuple[str, str]:
    """Choose the scale and device, and fetch the chapter's datasets (see the module docstring).

    Parameters
    ----------
    colab_scale : str
        See :func:`choose_scale`.
    datasets : sequence of str
        Dataset names of ``fetch.py`` (``"isbi2012"``, ``"phc-u373"``, ``"dic-hela"``, and ``"nuclei"``: the
        folder of the "your own images" page).
    data_dir : path
        Where the converted data go (default ``./data``); ``$UNET_DATA_DIR`` is set to it.
    cuda : bool, optional
        Override GPU detection (tests).
    fetch : callable, optional
        ``fetch(argv) -> int`` (default :func:`data_scripts.fetch.main`), for tests.

    Returns
    -------
    (scale, device) : (str, str)
        ``device`` is ``"cuda"`` or ``"cpu"``.

    Raises
    ------
    ValueError
        If a dataset name is unknown.
    RuntimeError
        If a download or its verification fails.
    """
    from .fetch import DATASETS, main

    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    scale = choose_scale(colab_scale, cuda)
    fetch = main if fetch is None else fetch
    data_dir = Path(data_dir).resolve()
    for name in datasets:
        if name not in (*DATASETS, "nuclei"):
            raise ValueError(f"datasets contains {name!r}; known datasets are {(*DATASETS, 'nuclei')}")
        if scale == "smoke":
            continue  # smoke runs fall back to labelled synthetic data when the real data are absent
        status = fetch([name, "--dest", str(data_dir)])
        if status:
            raise RuntimeError(
                f"fetching {name!r} into {data_dir} failed (exit status {status}); see the message "
                "above, then rerun this cell or set COLAB_SCALE = 'smoke'"
            )
    os.environ["UNET_DATA_DIR"] = str(data_dir)
    device = "cuda" if cuda else "cpu"
    print(f"Colab: SCALE={scale!r}, DEVICE={device!r}, data in {data_dir} ({', '.join(datasets) or 'none needed'})")
    return scale, device

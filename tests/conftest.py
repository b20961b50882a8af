"""Shared pytest configuration: marker-based skipping and common fixtures."""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from unet_core.inference.precision import cpu_has_bf16


def _data_dir() -> Path | None:
    value = os.environ.get("UNET_DATA_DIR")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


def pytest_collection_modifyitems(config, items):
    has_cuda = torch.cuda.is_available()
    allow_network = os.environ.get("UNET_ALLOW_NETWORK") == "1"
    data_dir = _data_dir()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    skip_net = pytest.mark.skip(reason="needs network access; set UNET_ALLOW_NETWORK=1")
    skip_data = pytest.mark.skip(
        reason="needs the converted real datasets; run data_scripts/fetch.py and set UNET_DATA_DIR"
    )
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
        if "network" in item.keywords and not allow_network:
            item.add_marker(skip_net)
        if "realdata" in item.keywords and data_dir is None:
            item.add_marker(skip_data)


@pytest.fixture
def data_dir() -> Path:
    """Root of the converted datasets (``UNET_DATA_DIR``); tests using it must be marked realdata."""
    path = _data_dir()
    if path is None:
        pytest.skip("UNET_DATA_DIR is not set")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@contextlib.contextmanager
def _no_bf16_warning():
    with warnings.catch_warnings():  # only the emulated-bf16 warning becomes an error; others keep their filters
        warnings.filterwarnings("error", message=r".*bf16 is emulated", category=RuntimeWarning)
        yield


@pytest.fixture
def bf16_warning():
    """``with bf16_warning(): ...`` around code that asks for bf16 on the CPU, on either kind of CPU.

    Where ``unet_core.inference.precision.cpu_has_bf16()`` is False (no bf16 units, or ``UNET_CPU_BF16=0``) the
    block must warn that bf16 is emulated; where it is True (``UNET_CPU_BF16=1``, or a CPU with
    AVX-512 BF16 / AMX) it must not. The branch is read when the block is entered, so a test may set
    ``UNET_CPU_BF16`` with monkeypatch first.
    """
    return lambda: _no_bf16_warning() if cpu_has_bf16() else pytest.warns(RuntimeWarning, match=r"bf16 is emulated")

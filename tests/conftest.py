"""Shared pytest configuration: marker-based skipping and common fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch


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

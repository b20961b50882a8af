"""pytest configuration for the notebooks under book/ (collected by nbmake: `pytest --nbmake book/`).

Executed chapters record their numbers with ``viz.record_results``; under pytest they write into a
throw-away folder (``$UNET_RESULTS_DIR``) so that a test run never rewrites the committed
``book/results/*.json`` (only ``python book/build.py`` does). The kernels nbmake starts inherit the
environment, hence an environment variable rather than a fixture.
"""
from __future__ import annotations

import os
import shutil
import tempfile

_created: list[str] = []


def pytest_configure(config):
    if not os.environ.get("UNET_RESULTS_DIR"):
        path = tempfile.mkdtemp(prefix="unet-results-")
        os.environ["UNET_RESULTS_DIR"] = path
        _created.append(path)


def pytest_unconfigure(config):
    for path in _created:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get("UNET_RESULTS_DIR") == path:
            del os.environ["UNET_RESULTS_DIR"]

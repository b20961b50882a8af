"""pytest configuration for book/, which the test suite does not collect (testpaths = ["tests"]).

The chapters run once per test run, in tests/test_book_pages.py: ``book/build.py --scale smoke
--out <tmp>`` executes them with papermill and points ``$UNET_RESULTS_DIR`` at its own throw-away
folder. This file only matters when someone collects book/ by hand, e.g. one chapter through a
notebook plugin (``pytest -p nbmake --nbmake book/NN_name.ipynb``): executed chapters record their
numbers with ``viz.record_results``, and here they write into a throw-away folder
(``$UNET_RESULTS_DIR``) so that such a run never rewrites the committed ``book/results/*.json``
(only ``python book/build.py`` at cpu/full scale does). Kernels inherit the environment, hence an
environment variable rather than a fixture.
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

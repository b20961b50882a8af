"""The Examples sections of unet_core's docstrings run and print what they show (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import unet_core

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(unet_core.__path__, "unet_core.") if m.name != "unet_core.__main__"
)


def test_every_module_is_collected():
    assert {
        "unet_core.inference.tiling",
        "unet_core.recipes",
        "unet_core.models.fusionnet",
        "unet_core.inference.precision",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True, verbose=False
    )
    assert failed == 0, f"{failed} of {attempted} docstring examples of {name} fail (doctest output above)"

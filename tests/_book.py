"""Shared by the book tests: ``book/build.py`` and the book's scripts, loaded as modules."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def load_script(path: Path, name: str):
    """Import the file ``path`` (not on sys.path) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_build():
    """``book/build.py`` as a module (one instance shared by the test files)."""
    return load_script(BOOK / "build.py", "book_build")

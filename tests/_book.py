"""Shared by the book tests: ``book/build.py`` and the book's scripts, loaded as modules."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
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


def git_status() -> str | None:
    """``git status --porcelain`` of the checkout, untracked files included; None outside a git checkout."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return None
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout

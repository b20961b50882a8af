"""data_scripts.colab and the chapters' Colab cell: scale choice, data fetching, and what the cell installs.

That each Colab cell's ``DATASETS`` is its chapter's entry in ``book/manifest.py`` (which
``book/scripts/colab_check.py`` and the ``book-full`` workflow fetch) is checked in ``tests/test_book.py``.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import sys
from pathlib import Path

import pytest
from _book import load_build  # noqa: E402  (tests/ is on sys.path)
from packaging.requirements import Requirement

from data_scripts.colab import choose_scale, setup

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = load_build().chapter_sources()


@pytest.mark.parametrize(
    "asked, cuda, scale",
    [
        ("auto", True, "cpu"),  # never hours of training unasked
        ("auto", False, "cpu"),
        ("smoke", True, "smoke"),
        ("cpu", True, "cpu"),
        ("full", False, "full"),
    ],
)
def test_choose_scale(asked, cuda, scale):
    assert choose_scale(asked, cuda=cuda) == scale


def test_choose_scale_rejects_unknown_names():
    with pytest.raises(
        ValueError,
        match=r"COLAB_SCALE='gpu' must be 'auto' \(cpu: minutes, on the GPU if any\) or one "
        r"of \('smoke', 'cpu', 'full'\)",
    ):
        choose_scale("gpu", cuda=True)


def test_setup_fetches_each_dataset_and_points_the_chapter_at_it(tmp_path, monkeypatch):
    monkeypatch.delenv("UNET_DATA_DIR", raising=False)
    calls = []
    scale, device = setup(
        "auto", ["phc-u373", "dic-hela"], data_dir=tmp_path, cuda=False, fetch=lambda argv: calls.append(argv) or 0
    )
    assert (scale, device) == ("cpu", "cpu")
    assert calls == [["phc-u373", "--dest", str(tmp_path)], ["dic-hela", "--dest", str(tmp_path)]]
    assert os.environ["UNET_DATA_DIR"] == str(tmp_path)
    calls.clear()
    assert setup("smoke", ["isbi2012"], data_dir=tmp_path, cuda=True, fetch=lambda a: calls.append(a) or 0) == (
        "smoke",
        "cuda",
    )
    assert calls == []  # smoke runs need no download


def test_setup_errors_name_the_dataset_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("UNET_DATA_DIR", raising=False)  # setup sets it: restored after the test
    with pytest.raises(
        ValueError,
        match=r"datasets contains 'isbi'; known datasets are \('isbi2012', 'phc-u373', "
        r"'dic-hela', 'nuclei'\)",
    ):
        setup("cpu", ["isbi"], data_dir=tmp_path, cuda=False, fetch=lambda a: 0)
    calls = []
    setup("cpu", ["nuclei"], data_dir=tmp_path, cuda=False, fetch=lambda a: calls.append(a) or 0)
    assert calls == [["nuclei", "--dest", str(tmp_path.resolve())]]  # fetch.py dispatches it to nuclei.py
    with pytest.raises(
        RuntimeError,
        match=r"fetching 'isbi2012' into .* failed \(exit status 1\).*COLAB_SCALE = "
        r"'smoke'",
    ):
        setup("cpu", ["isbi2012"], data_dir=tmp_path, cuda=False, fetch=lambda a: 1)


def _imports(py: Path) -> set[str]:
    """Top-level modules a chapter imports (code cells only; the percent script is valid Python)."""
    names = set()
    for node in ast.walk(ast.parse(py.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"google"}  # google.colab: only on Colab


def _closure(dist: str, extras: set[str]) -> set[str]:
    """Normalised names of ``dist`` and everything it requires with ``extras``, recursively (installed metadata)."""
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
    seen, todo = set(), [(dist, frozenset(extras))]
    while todo:
        name, ex = todo.pop()
        if norm(name) in seen:
            continue
        seen.add(norm(name))
        for text in md.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (ex or {""})):
                todo.append((req.name, frozenset(req.extras)))
    return seen


def test_colab_extra_covers_every_chapter_import():
    provided = _closure("unet-core", {"colab"})
    mapping = md.packages_distributions()
    own = {"unet_core", "data_scripts", "manifest"}  # the package itself (data_scripts is installed with it);
    # manifest: book/manifest.py of the clone, which the results page reads (no chapter imports it)
    for py in CHAPTERS:
        text = py.read_text()
        if 'f"{CLONE}[colab]"' not in text and py.stem != "results":
            pytest.fail(f"{py.name}: its Colab cell must install the repository with the `colab` extra")
        for module in sorted(_imports(py) - own):
            dists = {re.sub(r"[-_.]+", "-", d).lower() for d in mapping.get(module, [])}
            assert dists, f"{py.name} imports {module!r}, which no installed distribution provides"
            assert dists & provided, (
                f"{py.name} imports {module!r} (from {sorted(dists)}), which "
                f"`pip install unet-core[colab]` does not install: add it to the colab extra"
            )


def test_colab_check_takes_the_chapters_of_the_manifest_only(tmp_path):
    import subprocess

    done = subprocess.run(
        [sys.executable, str(ROOT / "book" / "scripts" / "colab_check.py"), "06_isbi", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and not any(tmp_path.iterdir())  # refused before copying or installing anything
    assert "chapter='06_isbi' is not a chapter of book/manifest.py; chapters: 01_architecture" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="copies the checkout with git ls-files")
def test_a_chapter_runs_at_cpu_scale_with_only_what_its_colab_cell_installs(tmp_path):
    """A fresh venv + `pip install <repo>[colab]` (what the Colab cell runs), then chapter 01 at cpu scale."""
    import json
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "book" / "scripts" / "colab_check.py"),
            "01_architecture",
            "--scale",
            "cpu",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0 and report["scale"] == "cpu"
    assert "31,030,658" in done.stdout  # the chapter computed the paper's parameter count in the fresh venv
    site = list((tmp_path / "venv").glob("lib/*/site-packages"))
    assert len(site) == 1 and (site[0] / "data_scripts" / "registry.txt").is_file()  # installed with the package
    assert not list(site[0].glob("jupyter_book*")) and not list(site[0].glob("papermill*"))  # only the colab extra

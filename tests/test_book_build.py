"""book/build.py: what a build shows and where it writes (parameters, repository URL, results, clean tree)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _book import git_status, load_build, load_script  # noqa: E402  (tests/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


build = load_build()


def test_merge_parameters_writes_the_values_used_into_the_visible_cell():
    defaults = 'SCALE = "smoke"  # "smoke" | "cpu" | "full"\nDEVICE = "auto"\nSEED = 0\n# a comment\nDATA_DIR = None'
    injected = '# Parameters\nSCALE = "cpu"\nDEVICE = "auto"\nPRETRAINED = False\n'
    assert build.merge_parameters(defaults, injected).splitlines() == [
        'SCALE = "cpu"  # this run (default: "smoke"); "smoke" | "cpu" | "full"',
        'DEVICE = "auto"',  # injected with its default value: unchanged
        "SEED = 0",
        "# a comment",
        "DATA_DIR = None",
        "PRETRAINED = False  # this run",  # injected but not in the cell: appended
    ]
    assert build.merge_parameters(defaults, "") == defaults


def test_apply_repository_rewrites_badge_and_colab_cell_only():
    text = (
        '# [![Open in Colab](_static/colab-badge.svg)](https://colab.research.google.com/github/a/b/blob/main/'
        'book/01_x.ipynb)\n    REPO, BRANCH = "https://github.com/a/b", "main"  # _config.yml\n'
        '# see https://github.com/a/b for more\n'
    )
    out = build.apply_repository(text, "https://github.com/me/unet", "dev")
    assert "colab.research.google.com/github/me/unet/blob/dev/book/01_x.ipynb" in out
    assert 'REPO, BRANCH = "https://github.com/me/unet", "dev"  # _config.yml' in out
    assert "# see https://github.com/a/b for more" in out  # prose is not touched
    with pytest.raises(
        ValueError,
        match=r"repository.url='git@github.com:me/unet' in _config.yml must be a "
        r"https://github.com/OWNER/NAME URL",
    ):
        build.apply_repository(text, "git@github.com:me/unet", "main")


def test_every_chapter_uses_the_repository_of_config(tmp_path):
    url, branch = build.repository()
    for py in build.chapter_sources():
        text = py.read_text()
        assert build.apply_repository(text, url, branch) == text, f"{py.name}: run `python book/build.py --sync`"
    # changing _config.yml and syncing updates every chapter (on a copy of the book)
    shutil.copytree(BOOK, tmp_path / "book", ignore=shutil.ignore_patterns("_static", "results", "node_modules"))
    config = (ROOT / "_config.yml").read_text().replace(url, "https://github.com/someone/fork")
    (tmp_path / "_config.yml").write_text(config)
    build.sync(tmp_path / "book")
    for py in (tmp_path / "book").glob("0*.py"):
        assert "github.com/someone/fork" in py.read_text() and url not in py.read_text()
        assert "colab.research.google.com/github/someone/fork/blob/" in py.with_suffix(".ipynb").read_text()


def test_smoke_builds_record_outside_the_tree_and_cpu_builds_into_book_results(tmp_path):
    assert build.results_folder("cpu", tmp_path) == BOOK / "results" == build.results_folder("full", tmp_path)
    smoke = build.results_folder("smoke", tmp_path)
    assert smoke == tmp_path / "_build" / "results"
    assert sorted(p.name for p in smoke.glob("*.json")) == sorted(p.name for p in (BOOK / "results").glob("*.json"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.parametrize("cwd", ["root", "book", "elsewhere"])
def test_papermill_run_from_any_directory_leaves_the_tree_clean(cwd, tmp_path):
    before, start = git_status(), time.time() - 1
    where = {"root": ROOT, "book": BOOK, "elsewhere": tmp_path}[cwd]
    env = {k: v for k, v in os.environ.items() if k != "UNET_RESULTS_DIR"}  # the default a user gets
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    out = tmp_path / "out.ipynb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(BOOK / "01_architecture.ipynb"),
            str(out),
            "-k",
            "python3",
            "--no-progress-bar",
            "-r",
            "SCALE",
            "smoke",
        ],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert git_status() == before, "a smoke papermill run wrote into the repository"
    smoke = Path(tempfile.gettempdir()) / "unet_core-results" / "01_architecture.json"
    assert smoke.stat().st_mtime >= start, "the chapter's smoke numbers belong in the throw-away results folder"


def test_merge_results_replaces_the_scales_of_the_artifact_and_never_merges_smoke(tmp_path):
    merge = load_script(BOOK / "scripts" / "merge_results.py", "merge_results")
    into, art = tmp_path / "results", tmp_path / "artifacts" / "results-06" / "book" / "results"
    into.mkdir()
    art.mkdir(parents=True)
    committed = {
        "chapter": "06_x",
        "published": {"a": 1},
        "runs": {"cpu": {"values": {"a": 2}, "device": "cpu", "date": "d1"}},
    }
    (into / "06_x.json").write_text(json.dumps(committed))
    new = {
        "chapter": "06_x",
        "published": {"b": 3},
        "runs": {
            "full": {"values": {"a": 1.1}, "device": "cuda: H100", "date": "d2"},
            "smoke": {"values": {"a": 9}, "device": "cuda: H100", "date": "d2"},
        },
    }
    (art / "06_x.json").write_text(json.dumps(new))
    (art / "bench.json").write_text(json.dumps({"machine": "x"}))  # not a chapter file: ignored
    assert merge.main([str(tmp_path / "artifacts"), "--into", str(into)]) == 0
    doc = json.loads((into / "06_x.json").read_text())
    assert doc["published"] == {"a": 1, "b": 3}
    assert set(doc["runs"]) == {"cpu", "full"} and doc["runs"]["full"]["values"] == {"a": 1.1}
    assert not (into / "bench.json").exists()

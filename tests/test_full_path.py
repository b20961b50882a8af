"""The GPU runners' path, ``SCALE="full"``, run on the CPU under the check cap (``UNET_CHECK_CAP=1``).

The ``book-full`` workflow runs every chapter at ``full`` on a GPU runner, after
``book/scripts/pretrain.py`` has trained the chapter's recipes with torchrun. No GPU is at hand, so
this runs that path with :mod:`unet_core.utils.check_cap`: the same networks (64 channels), recipes, data
and code, one training step of at most two small tiles, cropped images, one repetition of every
timing. A module fixture, once:

1. ``book/scripts/pretrain.py 06_isbi2012 --device cpu --nproc 2``: torchrun with two gloo processes
   trains the capped ``isbi2012-full`` into a temporary runs folder, as the workflow would;
2. every chapter ``book/NN_*.py``, its notebook built from the source with jupytext (so the current
   ``.py`` is what runs), executed by ``book/build.py``'s papermill command at ``SCALE="full"``,
   ``DEVICE="cpu"``, in a temporary folder outside the repository, two chapters at a time (a cell that
   runs over ten minutes fails its chapter instead of stalling the suite).

Then: every chapter ran and says that it is a capped check; its numbers went to the throw-away
folder with the cap recorded, never to ``book/results``; chapter 06 found the pretrained
checkpoint ("trained before this run"); the capped checkpoint is not the uncapped recipe's; and
``git status`` is what it was. Chapters that need the real data are skipped without
``UNET_DATA_DIR``; the others fall back to synthetic input. Seconds per chapter are printed (``-s``).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
import torch
from _book import BOOK, git_status, load_build, load_script  # noqa: E402  (tests/ is on sys.path)

from unet_core.book import viz
from unet_core.recipes.capped import capped_data, capped_recipe
from unet_core.recipes.key import recipe_checkpoint_path
from unet_core.recipes.registry import get_recipe
from unet_core.training.config import apply_check_cap
from unet_core.utils import check_cap

build = load_build()
CAP = "1"
CHAPTERS = sorted(p.stem for p in BOOK.glob("[0-9][0-9]_*.py"))
# chapters that run at full scale without the converted data (synthetic or no input); all others need it
WITHOUT_DATA = {"01_architecture", "05_initialisation", "08_speed"}
PRETRAIN = "06_isbi2012"  # a chapter that trains at full scale: its recipe is pretrained with torchrun
LABEL = "CAPPED CHECK RUN (UNET_CHECK_CAP=1"
CELL_SECONDS = 600  # a cell that runs longer fails the chapter (papermill's --execution-timeout), never hangs the suite


def _data_dir() -> Path | None:
    value = os.environ.get("UNET_DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


def _needs_data(name: str) -> bool:
    return name not in WITHOUT_DATA


def _committed_outputs() -> dict[str, int]:
    """Every file under book/results and the repository's runs/ (the places a real run writes), with its mtime."""
    folders = (BOOK / "results", BOOK.parent / "runs")
    return {str(p): p.stat().st_mtime_ns for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file()}


class FullRun:
    """What the capped full-scale runs produced (one per module)."""

    def __init__(self, root: Path):
        self.root, self.runs, self.tmp, self.work = root, root / "runs", root / "tmp", root / "work"
        self.results, self.out, self.logs = root / "results", root / "out", root / "logs"
        for folder in (self.runs, self.tmp, self.work, self.results, self.out, self.logs):
            folder.mkdir(parents=True)
        self.status: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.pretrain: subprocess.CompletedProcess | None = None
        self.pretrained_mtime: int | None = None

    def env(self) -> dict:
        return {"UNET_CHECK_CAP": CAP, "UNET_RUNS_DIR": str(self.runs), "TMPDIR": str(self.tmp)}

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def outputs(self, name: str) -> str:
        """Every text output of the executed chapter, joined."""
        nb = nbformat.read(self.out / f"{name}.ipynb", as_version=4)
        texts = []
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                texts.append(out.get("text", ""))
                data = out.get("data", {})
                texts += [data.get("text/markdown", ""), data.get("text/plain", "")]
        return "\n".join(str(t) for t in texts)


def _run_chapter(run: FullRun, name: str) -> tuple[str, int, float]:
    """Execute a chapter as ``book/build.py`` does (its papermill command and environment), with a time limit."""
    src = run.root / "src" / f"{name}.ipynb"
    src.parent.mkdir(exist_ok=True)
    jupytext.write(build.paired_notebook(BOOK / f"{name}.py"), src)  # the current source, not the synced .ipynb
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(src),
        str(run.out / f"{name}.ipynb"),
        "-k",
        "python3",
        "--cwd",
        str(run.work),
        "--no-progress-bar",
        "--execution-timeout",
        str(CELL_SECONDS),
        "-r",
        "SCALE",
        "full",
        "-r",
        "DEVICE",
        "cpu",
    ]
    env = dict(os.environ, UNET_RESULTS_DIR=str(run.results), PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    with open(run.logs / f"{name}.log", "w") as log:
        try:
            status = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=run.work, timeout=3 * CELL_SECONDS
            ).returncode
        except subprocess.TimeoutExpired:
            status = -1
    return name, status, time.perf_counter() - start


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> FullRun:
    run = FullRun(tmp_path_factory.mktemp("full-path"))
    before, outputs_before = git_status(), _committed_outputs()
    have_data = _data_dir() is not None
    chapters = [c for c in CHAPTERS if have_data or not _needs_data(c)]
    with pytest.MonkeyPatch.context() as mp:
        for key, value in run.env().items():
            mp.setenv(key, value)
        mp.setenv("OMP_NUM_THREADS", "1")  # two chapters (or two torchrun processes) share the two cores
        if have_data:
            start = time.perf_counter()
            run.pretrain = subprocess.run(
                [sys.executable, str(BOOK / "scripts" / "pretrain.py"), PRETRAIN, "--device", "cpu", "--nproc", "2"],
                cwd=run.work,
                capture_output=True,
                text=True,
                timeout=900,
            )
            run.seconds["pretrain " + PRETRAIN] = time.perf_counter() - start
            written = sorted(run.runs.glob("isbi2012/*.pt"))
            run.pretrained_mtime = written[0].stat().st_mtime_ns if len(written) == 1 else None
        # the slowest chapter first, beside the one that finds the pretrained checkpoint, two at a time
        order = sorted(chapters, key=lambda c: (c != "12_fusionnet", c != PRETRAIN, c != "02_overlap_tile", c))
        with cf.ThreadPoolExecutor(2) as pool:
            for name, status, seconds in pool.map(lambda c: _run_chapter(run, c), order):
                run.status[name], run.seconds[name] = status, seconds
    run.git_before, run.git_after = before, git_status()
    run.outputs_before, run.outputs_after = outputs_before, _committed_outputs()
    print(
        "\nSCALE=full under UNET_CHECK_CAP=1, seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in run.seconds.items()),
        flush=True,
    )
    return run


def _skip_without_data(name: str) -> None:
    if _needs_data(name) and _data_dir() is None:
        pytest.skip(f"{name} needs the converted real data at full scale; set UNET_DATA_DIR (data_scripts/fetch.py)")


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_at_full_scale_under_the_cap_and_records_nothing_real(full_run, name):
    _skip_without_data(name)
    tail = "\n".join(full_run.log(name).splitlines()[-60:])
    assert full_run.status[name] == 0, f"{name} failed at SCALE='full' under UNET_CHECK_CAP={CAP}:\n{tail}"
    assert LABEL in full_run.outputs(name), f"{name} does not say that it is a capped check run"
    assert not list(full_run.results.glob("*.json")), "a capped run wrote into $UNET_RESULTS_DIR"
    record = json.loads((full_run.tmp / "unet_core-check-results" / f"{name}.json").read_text())
    assert set(record["runs"]) == {"full"} and record["runs"]["full"]["check_cap"] == int(CAP)
    assert record["runs"]["full"]["notes"].startswith(LABEL)


@pytest.mark.slow
def test_pretrain_trains_the_capped_recipe_with_two_torchrun_processes(full_run):
    _skip_without_data(PRETRAIN)
    done = full_run.pretrain
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "isbi2012-full on 2 process(es), global batch 2" in done.stdout
    pretrain = load_script(BOOK / "scripts" / "pretrain.py", "book_pretrain_full")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNET_RUNS_DIR", str(full_run.runs))
        mp.setenv("UNET_CHECK_CAP", CAP)
        capped = pretrain.plan(PRETRAIN, "full", "cpu", 2)
        mp.delenv("UNET_CHECK_CAP")
        uncapped = pretrain.plan(PRETRAIN, "full", "cpu", 2)
    ckpt = torch.load(capped[0]["checkpoint"], map_location="cpu", weights_only=True)
    assert ckpt["step"] == 1 and ckpt["world_size"] == 2
    assert ckpt["train_config"]["iterations"] == 1 and ckpt["train_config"]["batch_size"] == 2
    assert ckpt["model_config"]["base_channels"] == 64  # the full recipe's network, not a smaller one
    assert json.loads(Path(capped[0]["checkpoint"]).with_suffix(".pretrain.json").read_text())["steps"] == 1
    # an uncapped run looks for another checkpoint: the capped one is never taken for a finished full run
    assert uncapped[0]["checkpoint"] != capped[0]["checkpoint"]
    assert not Path(uncapped[0]["checkpoint"]).exists()
    # nothing the capped runs wrote is an uncapped checkpoint, and chapter 06 only loaded the pretrained one
    for path in full_run.runs.glob("*/*.pt"):
        assert torch.load(path, map_location="cpu", weights_only=True, mmap=True)["train_config"]["iterations"] == 1
    assert full_run.pretrained_mtime == Path(capped[0]["checkpoint"]).stat().st_mtime_ns


@pytest.mark.slow
def test_the_training_chapter_loads_the_pretrained_checkpoint(full_run):
    _skip_without_data(PRETRAIN)
    assert full_run.status[PRETRAIN] == 0
    assert "trained before this run" in full_run.outputs(PRETRAIN)


@pytest.mark.slow
def test_the_capped_runs_write_neither_book_results_nor_the_repositorys_runs(full_run):
    assert full_run.outputs_after == full_run.outputs_before


@pytest.mark.slow
@pytest.mark.skipif(git_status() is None, reason="needs a git checkout")
def test_the_capped_runs_leave_the_tree_clean(full_run):
    assert full_run.git_after == full_run.git_before, "a capped full-scale run wrote into the repository"


# --- the cap itself (fast) ----------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("", None), ("0", None), (" 3 ", 3), ("1", 1)])
def test_cap_reads_the_variable(monkeypatch, value, expected):
    monkeypatch.setenv("UNET_CHECK_CAP", value)
    assert check_cap.cap() == expected
    monkeypatch.delenv("UNET_CHECK_CAP")
    assert check_cap.cap() is None and check_cap.label() is None and check_cap.capped_steps(5000) == 5000


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "yes", "2 steps"])
def test_a_malformed_cap_is_refused_naming_the_variable_the_rule_and_the_fix(monkeypatch, value):
    monkeypatch.setenv("UNET_CHECK_CAP", value)
    with pytest.raises(
        ValueError,
        match=rf"UNET_CHECK_CAP={value!r} must be a whole number of training steps >= 0 "
        r"\(e\.g\. UNET_CHECK_CAP=1 .*unset it with `unset UNET_CHECK_CAP`",
    ):
        capped_recipe(get_recipe("isbi2012-full"))


def test_capped_recipe_keeps_the_network_and_never_shares_the_checkpoint(tmp_path, monkeypatch):
    full = get_recipe("isbi2012-full")
    capped = capped_recipe(full, value=1)
    assert (capped.base_channels, capped.depth, capped.optimizer, capped.batch_size) == (64, 5, "adam", 8)
    assert (capped.tile, capped.iterations, capped.tta) == (252, 1, False)
    assert capped_recipe(capped, value=1) == capped  # idempotent
    fusion = capped_recipe(get_recipe("isbi2012-fusionnet-full"), value=2)
    assert (fusion.tile, fusion.iterations, fusion.base_channels) == (64, 2, 64)
    uncapped_path = recipe_checkpoint_path(full, tmp_path)
    monkeypatch.setenv("UNET_CHECK_CAP", "1")
    assert recipe_checkpoint_path(full, tmp_path) != uncapped_path  # reproduce looks recipes up capped
    assert recipe_checkpoint_path(full, tmp_path).parent == uncapped_path.parent


def test_apply_check_cap_caps_steps_and_the_global_batch_per_process(monkeypatch):
    from unet_core.training.loop import TrainConfig

    config = TrainConfig(iterations=5000, batch_size=8, learning_rate=1e-4)
    monkeypatch.setenv("WORLD_SIZE", "4")
    capped = apply_check_cap(config, value=3)
    assert (capped.iterations, capped.batch_size, capped.learning_rate) == (3, 4, 1e-4)
    monkeypatch.delenv("WORLD_SIZE")
    assert apply_check_cap(config, value=3).batch_size == 2
    assert apply_check_cap(config) is config and apply_check_cap("no config", value=1) == "no config"


def test_train_under_the_cap_stops_after_its_steps_and_records_them(tmp_path, monkeypatch):
    import unet_core as uc

    data = [(torch.randn(1, 8, 8), torch.zeros(8, 8, dtype=torch.int64), torch.ones(8, 8))] * 4
    monkeypatch.setenv("UNET_CHECK_CAP", "2")
    result = uc.train(
        torch.nn.Conv2d(1, 2, 1),
        data,
        uc.TrainConfig(iterations=50, batch_size=4, device="cpu"),
        checkpoint_path=tmp_path / "c.pt",
        progress=False,
    )
    saved = torch.load(tmp_path / "c.pt", weights_only=True)["train_config"]
    assert result.step == 2 and (saved["iterations"], saved["batch_size"]) == (2, 2)


def test_capped_data_keeps_two_frames_crops_the_held_out_groups_and_records_what_trained():
    frames = [np.full((512, 520), k, np.float32) for k in range(6)]
    cells = np.zeros((512, 520), np.int32)
    cells[400:440, 20:60] = 3  # the largest cell, near the corner: the crop keeps it
    cells[100:110, 300:310] = 1
    d = {
        "train_x": frames,
        "train_y": [cells] * 6,
        "train_ids": [f"01/{k:03d}" for k in range(6)],
        "training_data": {"dataset": "phc-u373", "truth": "gt", "train_frames": [f"01/{k:03d}" for k in range(6)]},
        "groups": [{"name": "02", "x": frames[:3], "y": [cells] * 3, "ids": ["02/000", "02/001", "02/002"]}],
        "val_x": frames[:3],
        "val_y": [cells] * 3,
        "val_ids": ["02/000", "02/001", "02/002"],
        "semantic": False,
        "source": "phc-u373",
    }
    c = capped_data(d, value=1)
    assert c["train_ids"] == ["01/000", "01/005"] and [x[0, 0] for x in c["train_x"]] == [0, 5]
    assert [x.shape for x in c["train_x"]] == [y.shape for y in c["train_y"]] == [(128, 128)] * 2
    assert (
        c["training_data"]["train_frames"] == ["01/000", "01/005"] and d["training_data"]["train_frames"][1] == "01/001"
    )
    assert c["val_ids"] == c["groups"][0]["ids"] == ["02/000", "02/001"]
    assert [y.shape for y in c["val_y"]] == [(128, 128)] * 2 and (c["val_y"][0] == 3).sum() == 40 * 40
    assert c["val_x"] is c["groups"][0]["x"] and "UNET_CHECK_CAP=1" in c["source"] and c["check_cap"] == 1
    assert capped_data(d, value=0) is d


def test_a_capped_record_goes_to_the_throw_away_folder_and_says_so(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("UNET_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("UNET_CHECK_CAP", "1")
    path = viz.record_results(
        "06_isbi2012", {"pixel error": 0.5}, scale="full", device="cpu", notes="n", directory=tmp_path / "asked"
    )
    assert (
        path == tmp_path / "tmp" / "unet_core-check-results" / "06_isbi2012.json" == check_cap.results_dir() / path.name
    )
    assert viz.results_dir("full") == tmp_path / "results"  # reading the recorded runs is unchanged
    assert not (tmp_path / "results").exists() and not (tmp_path / "asked").exists()
    run = viz.load_results(path.parent)["06_isbi2012"]["runs"]["full"]
    assert run["check_cap"] == 1 and run["notes"] == check_cap.label(1) + "; n"
    assert viz.provenance(run, "full").startswith("CAPPED CHECK RUN (UNET_CHECK_CAP=1")
    assert viz.reproduction(viz.load_results(path.parent)["06_isbi2012"]) is None  # never a reproduction
    assert "not a result" in viz.check_cap_text() and viz.check_cap_notice() is None
    monkeypatch.delenv("UNET_CHECK_CAP")
    assert viz.check_cap_text() is None

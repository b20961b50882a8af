"""book/scripts/pretrain.py: the torchrun training that the book-full workflow runs before a chapter."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _book import BOOK, load_script

import unet_core.recipes.run as recipes_run
from unet_core.recipes import get_recipe, seeded

pretrain = load_script(BOOK / "scripts" / "pretrain.py", "book_pretrain")
ROOT = BOOK.parent


@pytest.mark.parametrize(
    "chapter, full",
    [
        ("01_architecture", []),
        ("05_initialisation", []),
        ("08_speed", []),
        ("06_isbi2012", ["isbi2012-full"]),
        ("07_cell_tracking", ["phc-u373-full", "dic-hela-full"]),
        ("12_fusionnet", []),  # shows recorded runs, trains nothing
    ],
)
def test_chapter_recipes_are_the_manifests(chapter, full):
    """What book/manifest.py declares (tests/test_book.py checks that the chapters' scale dicts say the same)."""
    assert pretrain.chapter_recipes(chapter, "full") == full
    assert pretrain.chapter_recipes(chapter, "cpu") == [n.replace("-full", "-cpu") for n in full]
    with pytest.raises(ValueError, match="scale='gpu' must be one of"):
        pretrain.chapter_recipes(chapter, "gpu")
    with pytest.raises(SystemExit, match="pretrain: no chapter '06_isbi'; chapters: 01_architecture"):
        pretrain.chapter_recipes("06_isbi", "full")


def test_processes_divide_the_global_batch():
    assert [pretrain.processes(8, g) for g in (0, 1, 2, 3, 4, 5, 7, 8, 16)] == [1, 1, 2, 2, 4, 4, 4, 8, 8]
    assert pretrain.processes(1, 8) == 1


def test_plan_runs_torchrun_per_unpublished_recipe_into_the_chapters_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("UNET_RUNS_DIR", str(tmp_path))
    jobs = pretrain.plan("07_cell_tracking", "full", "cuda", gpus=4)
    assert [j["recipe"] for j in jobs] == ["phc-u373-full", "dic-hela-full"]
    for job in jobs:
        cmd = job["command"]
        assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m"]
        assert cmd[6:8] == ["unet_core", "train"] and cmd[cmd.index("--recipe") + 1] == job["recipe"]
        assert Path(job["checkpoint"]).parent.parent == tmp_path and Path(job["checkpoint"]).name.startswith(
            job["recipe"]
        )
        assert cmd[-1] == job["checkpoint"][:-3] + ".pretrain.json"
    # cpu: a published network is loaded, an unpublished one trained; batch 1 -> one process
    monkeypatch.setattr(pretrain, "pretrained_registry", lambda: {"phc-u373-cpu": "published"})
    assert [(j["recipe"], j["processes"]) for j in pretrain.plan("07_cell_tracking", "cpu", "cpu", 8)] == [
        ("dic-hela-cpu", 1)
    ]
    monkeypatch.undo()
    assert pretrain.plan("06_isbi2012", "smoke", "cpu", 1) == []
    assert pretrain.plan("06_isbi2012", "cpu", "cpu", 1) == []  # published: nothing to train


def test_cli_dry_run_and_unknown_chapter():
    ok = subprocess.run(
        [
            sys.executable,
            str(BOOK / "scripts" / "pretrain.py"),
            "07_cell_tracking",
            "--device",
            "cpu",
            "--nproc",
            "2",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert [(j["recipe"], j["processes"]) for j in json.loads(ok.stdout)] == [
        ("phc-u373-full", 2),
        ("dic-hela-full", 2),
    ]
    bad = subprocess.run(
        [sys.executable, str(BOOK / "scripts" / "pretrain.py"), "06_isbi", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "pretrain: no chapter '06_isbi'; chapters: 01_architecture" in bad.stderr


def test_book_full_workflow_pretrains_with_torchrun_before_executing_the_chapter():
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "book-full.yml").read_text())["jobs"]["chapter"]["steps"]
    runs = [s.get("run", "") for s in steps]
    pre = next(i for i, r in enumerate(runs) if "book/scripts/pretrain.py ${{ matrix.chapter }}" in r)
    execute = next(i for i, r in enumerate(runs) if "book/build.py" in r)
    assert pre < execute and "--device cuda" in runs[pre] and 'UNET_RUNS_DIR=$PWD/runs' in runs[pre]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "runs/*/*.pretrain.json" in upload["with"]["path"]


def test_book_full_workflow_reads_the_chapters_and_their_datasets_from_the_manifest():
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "book-full.yml").read_text())["jobs"]
    plan = " ".join(s.get("run", "") for s in jobs["plan"]["steps"])
    assert "python3 book/manifest.py chapters --json" in plan
    fetch = next(s["run"] for s in jobs["chapter"]["steps"] if "data_scripts/fetch.py" in s.get("run", ""))
    assert "book/manifest.py datasets ${{ matrix.chapter }}" in fetch
    # what those commands print, with the runner's Python (-S: the standard library only, no installed package)
    out = subprocess.run(
        [sys.executable, "-I", "-S", str(BOOK / "manifest.py"), "chapters", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(out) == pretrain.manifest.stems() and json.loads(out)[0] == "01_architecture"
    out = subprocess.run(
        [sys.executable, "-I", "-S", str(BOOK / "manifest.py"), "datasets", "07_cell_tracking"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.split() == ["phc-u373", "dic-hela"]
    bad = subprocess.run(
        [sys.executable, "-I", "-S", str(BOOK / "manifest.py"), "datasets", "07_cells"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "chapter='07_cells' is not in book/manifest.py" in bad.stderr


def test_plan_under_the_check_cap_trains_other_checkpoints_with_a_small_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("UNET_RUNS_DIR", str(tmp_path))
    real = pretrain.plan("07_cell_tracking", "full", "cuda", gpus=8)
    monkeypatch.setenv("UNET_CHECK_CAP", "1")
    capped = pretrain.plan("07_cell_tracking", "full", "cuda", gpus=8)
    assert [j["recipe"] for j in capped] == [j["recipe"] for j in real] == ["phc-u373-full", "dic-hela-full"]
    for c, r in zip(capped, real):  # the capped recipe's hash names another file: never taken for the real run
        assert c["checkpoint"] != r["checkpoint"] and Path(c["checkpoint"]).parent == Path(r["checkpoint"]).parent
        assert (c["check_cap"], r["check_cap"], c["command"][:-1]) == (1, None, r["command"][:-1])
    assert [(j["processes"], j["batch_size"]) for j in capped] == [(8, 8), (8, 8)]  # one tile per process
    assert [(j["processes"], j["batch_size"]) for j in pretrain.plan("06_isbi2012", "full", "cpu", 2)] == [(2, 2)]
    assert [(j["processes"], j["batch_size"]) for j in pretrain.plan("06_isbi2012", "full", "cpu", 1)] == [(1, 2)]


def test_cli_refuses_a_malformed_check_cap_in_one_line():
    env = dict(os.environ, UNET_CHECK_CAP="two")
    bad = subprocess.run(
        [sys.executable, str(BOOK / "scripts" / "pretrain.py"), "06_isbi2012", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("pretrain: UNET_CHECK_CAP='two' must be a whole number of training steps >= 0")


@pytest.mark.parametrize("script, args", [("run_recipes.py", ["isbi2012-cpu"]), ("save_slice_probs.py", [])])
def test_scripts_that_write_results_refuse_a_capped_check_run(script, args):
    """They record results or publish networks; a capped run must never do either."""
    env = dict(os.environ, UNET_CHECK_CAP="1")
    run = subprocess.run(
        [sys.executable, str(ROOT / "book" / "scripts" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "UNET_CHECK_CAP is set" in run.stderr and "unset UNET_CHECK_CAP" in run.stderr


def test_run_recipes_records_checkpoints_relative_to_the_repository(tmp_path):
    rr = load_script(ROOT / "book" / "scripts" / "run_recipes.py", "run_recipes_rel")
    assert rr.repo_relative(ROOT / "runs" / "isbi2012" / "x.pt") == "runs/isbi2012/x.pt"
    assert rr.repo_relative(tmp_path / "elsewhere.pt") == "elsewhere.pt"
    recorded = [
        json.loads(p.read_text()).get("checkpoint", "") for p in (ROOT / "book" / "results" / "recipes").glob("*.json")
    ]
    assert recorded and not any(c.startswith("/") for c in recorded)


def test_run_recipes_runs_each_ablation_table_at_the_steps_of_the_chapter_that_shows_it():
    """book/manifest.py's ablations: the recorded tables the chapters read, at their steps, are committed."""
    tables = {base: steps for c in pretrain.manifest.CHAPTERS for base, steps in c.ablations.items()}
    assert tables == {"isbi2012-cpu": 500, "phc-u373-cpu": 300}
    for base, steps in tables.items():
        assert pretrain.manifest.ablation_steps(base) == steps
        assert sorted((ROOT / "book" / "results" / "recipes").glob(f"ablation-{base}@{steps}-*.json")), (
            f"no recorded ablation table of {base} at {steps} steps: python book/scripts/run_recipes.py --ablations {base}"
        )
    assert pretrain.manifest.ablation_steps("dic-hela-cpu") is None  # run_recipes.py: its default steps


def test_run_recipes_runs_chosen_ablation_rows_with_seeds_under_their_own_keys(monkeypatch):
    rr = load_script(ROOT / "book" / "scripts" / "run_recipes.py", "run_recipes_rows")
    ran = []
    monkeypatch.setattr(
        rr, "run_one", lambda key, recipe, runs_dir, device, snapshots=True: ran.append((key, recipe, snapshots))
    )
    monkeypatch.delenv("UNET_CHECK_CAP", raising=False)
    assert rr.main(["--ablations", "isbi2012-cpu", "--steps", "4500", "--rows", "w0 = 0", "--seeds", "0", "2"]) == 0
    assert [s for _, _, s in ran] == [True, True]  # full-budget rows keep snapshots
    ran[:] = [(k, r) for k, r, _ in ran]
    assert [k for k, _ in ran] == ["ablation-isbi2012-cpu@4500-w0__0", "ablation-isbi2012-cpu@4500-w0__0@seed2"]
    assert [(r.w0, r.iterations, r.train_config().seed) for _, r in ran] == [(0.0, 4500, 0), (0.0, 4500, 2)]
    with pytest.raises(SystemExit, match="not rows of isbi2012-cpu"):
        rr.main(["--ablations", "isbi2012-cpu", "--rows", "w0=0"])


def test_an_evaluation_only_row_scores_the_published_network_when_its_run_is_gone(tmp_path):
    rr = load_script(ROOT / "book" / "scripts" / "run_recipes.py", "run_recipes_published")
    no_tta = dataclasses.replace(get_recipe("isbi2012-cpu", tta=False), name="isbi2012-cpu@4500")
    assert rr.published_network(no_tta, tmp_path).name == "isbi2012-cpu.pt"  # same training key, no run here
    assert rr.published_network(get_recipe("isbi2012-cpu", w0=0.0), tmp_path) is None  # another network
    assert rr.published_network(seeded(no_tta, 1), tmp_path) is None  # another seed: never published


def test_run_recipes_runs_few_image_and_learning_rate_sweeps_seed_by_seed(monkeypatch):
    rr = load_script(ROOT / "book" / "scripts" / "run_recipes.py", "run_recipes_sweeps")
    ran = []
    monkeypatch.setattr(
        rr, "run_one", lambda key, recipe, runs_dir, device, snapshots=True: ran.append((key, recipe, snapshots))
    )
    monkeypatch.delenv("UNET_CHECK_CAP", raising=False)
    args = ["--few-images", "phc-u373-cpu", "--sizes", "1", "14", "--steps", "1000", "--seeds", "0", "1"]
    assert rr.main(args) == 0
    assert not any(s for _, _, s in ran)  # no snapshots of the sweeps
    ran[:] = [(k, r) for k, r, _ in ran]
    assert [k for k, _ in ran] == [
        "phc-u373-cpu@1000-n1",
        "phc-u373-cpu@1000-n1-no_elastic",
        "phc-u373-cpu@1000-n14",
        "phc-u373-cpu@1000-n14-no_elastic",
        "phc-u373-cpu@1000-n1@seed1",
        "phc-u373-cpu@1000-n1-no_elastic@seed1",
        "phc-u373-cpu@1000-n14@seed1",
        "phc-u373-cpu@1000-n14-no_elastic@seed1",
    ]
    assert all(k == r.name and r.iterations == 1000 for k, r in ran)
    ran.clear()
    assert rr.main(["--learning-rates", "isbi2012-paper", "--rates", "0.001", "0.003", "--seeds", "0", "2"]) == 0
    assert [(k, r.learning_rate) for k, r, _ in ran] == [
        ("isbi2012-paper@4500-lr0.001", 0.001),
        ("isbi2012-paper@4500-lr0.001@seed2", 0.001),
        ("isbi2012-paper@4500-lr0.003", 0.003),
        ("isbi2012-paper@4500-lr0.003@seed2", 0.003),
    ]


def test_rescore_replaces_the_scores_and_keeps_the_training_record(tmp_path, monkeypatch):
    rr = load_script(ROOT / "book" / "scripts" / "run_recipes.py", "run_recipes_rescore")
    monkeypatch.setattr(rr, "RESULTS", tmp_path)
    recipe = get_recipe("dic-hela-cpu")
    before = {"values": {"SEG": 0.75}, "train seconds (this call)": 1404.2, "date": "2026-12-02 00:18 UTC"}
    (tmp_path / "dic-hela-cpu.json").write_text(json.dumps(before))
    seen = []

    def evaluate(r, network, device="auto"):
        seen.append((r.grow_px, network.name))
        return {
            "values": {"SEG": 0.77},
            "held-out groups": [],
            "truth": "silver truth",
            "predict seconds": 1.0,
            "recipe": r.to_dict(),
        }

    monkeypatch.setattr(recipes_run, "evaluate_recipe", evaluate)
    after = rr.rescore("dic-hela-cpu", recipe, tmp_path / "runs", "cpu")
    assert seen == [(0, "dic-hela-cpu.pt")]  # no run here: the published network of the same training
    stored = json.loads((tmp_path / "dic-hela-cpu.json").read_text())
    assert stored["values"] == after["values"] == {"SEG": 0.77} and stored["train seconds (this call)"] == 1404.2
    assert stored["rescored"]["values before"] == {"SEG": 0.75} and stored["rescored"]["evaluation"]["grow"] == 0
    assert rr.rescore("dic-hela-cpu@seed9", seeded(recipe, 9), tmp_path / "runs", "cpu") is None  # not recorded


def test_a_recorded_run_names_its_seed(tmp_path, monkeypatch):
    rr = load_script(ROOT / "book" / "scripts" / "run_recipes.py", "run_recipes_seed")
    monkeypatch.setattr(rr, "RESULTS", tmp_path)
    monkeypatch.setattr(rr, "published_network", lambda recipe, runs_dir: None)
    monkeypatch.setattr(
        recipes_run, "run_recipe", lambda r, runs_dir, device, snapshots: {"values": {}, "checkpoint": "x.pt"}
    )
    out = rr.run_one("isbi2012-cpu@seed2", seeded("isbi2012-cpu", 2), tmp_path, "cpu", snapshots=False)
    assert out["seed"] == 2 and json.loads((tmp_path / "isbi2012-cpu@seed2.json").read_text())["seed"] == 2

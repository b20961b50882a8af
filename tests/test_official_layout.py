"""The official archives' layout, as Colab and the GPU runners download it (both sequences with images,
gold truth for both CTC datasets), built here as a small synthetic fixture (labelled as such: the
images are synthetic cells, the frame numbers are the CTC's).

Checked: the import names what it could not verify; the split is the recipe's whatever else the
folder holds; gold truth is used where it exists; a network is never scored on its training frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

import unet_core as uc
from unet_core.cli.commands import main
from unet_core.data.datasets import PHC_TRAIN, dataset_spec, resolve_split
from unet_core.recipes.data import recipe_data
from unet_core.recipes.held_out import TrainedOnHeldOutError, check_held_out
from unet_core.recipes.run import evaluate_recipe
from unet_core.recipes.snapshots import SnapshotRecorder, load_snapshots

ROOT = Path(__file__).resolve().parents[1]
FETCH = ROOT / "data_scripts" / "fetch.py"
SHAPE = (48, 64)
# gold-truth frames of the current CTC training releases (shared/datasets/SOURCES.md)
PHC_GT = {
    "01": (1, 5, 6, 7, 21, 49, 59, 67, 72, 75, 92, 96, 100, 102, 112),
    "02": (10, 17, 19, 20, 22, 26, 35, 36, 41, 49, 51, 52, 59, 74, 77, 85, 92, 106, 112),
}
HELA_GT = {"01": (2, 5, 21, 31, 33, 34, 39, 54), "02": (6, 7, 14, 27, 34, 38, 42, 61, 67)}
ST_FRAMES = (0, 1, 2, 3)  # a few silver-truth frames per sequence (the archives have one per frame)


def _write_ctc(folder: Path, gold: dict, seed: int) -> None:
    """A CTC training folder: images of every annotated frame, gold and silver SEG masks."""
    for s, (seq, frames) in enumerate(gold.items()):
        for f in sorted(set(frames) | set(ST_FRAMES)):
            image, instances = uc.synthetic_cells(SHAPE, seed=seed + 100 * s + f)
            (folder / seq).mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(folder / seq / f"t{f:03d}.tif", np.clip(image * 255, 0, 255).astype(np.uint8))
            for kind, wanted in (("GT", frames), ("ST", ST_FRAMES)):
                if f in wanted:
                    (folder / f"{seq}_{kind}" / "SEG").mkdir(parents=True, exist_ok=True)
                    tifffile.imwrite(
                        folder / f"{seq}_{kind}" / "SEG" / f"man_seg{f:03d}.tif", instances.astype(np.uint16)
                    )


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """``(source folder, converted data folder)`` of the synthetic official-layout fixture."""
    base = tmp_path_factory.mktemp("official")
    src = base / "src"
    _write_ctc(src / "PhC-C2DH-U373", PHC_GT, seed=1)
    _write_ctc(src / "DIC-C2DH-HeLa", HELA_GT, seed=2)
    for name in ("phc-u373", "dic-hela"):
        run = subprocess.run(
            [
                sys.executable,
                str(FETCH),
                name,
                "--source",
                str(src),
                "--dest",
                str(base / "data"),
                "--no-verify",
                "--quiet",
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
    return src, base / "data"


def _tiny_checkpoint(path: Path, training_data) -> Path:
    torch.manual_seed(0)
    model = uc.get_recipe("phc-u373-smoke").build_model()
    uc.save_checkpoint(path, model, step=1, training_data=training_data)
    return path


# ----------------------------------------------------------------------------- verification
def test_an_import_that_could_not_verify_stops_and_names_the_groups(official, tmp_path):
    src, _ = official
    run = subprocess.run(
        [sys.executable, str(FETCH), "phc-u373", "--source", str(src), "--dest", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1  # synthetic pixels: registered groups differ, sequence 01's images are unknown
    assert "PhC-C2DH-U373/01 cannot be verified (not in the registry)" in run.stderr
    assert not (tmp_path / "phc-u373").exists(), "nothing is left half-written"


def test_no_verify_says_not_verified_and_names_every_unverified_group(official):
    _, data = official
    v = json.loads((data / "phc-u373" / "meta.json").read_text())["verification"]
    assert v["verified"] is False and v["method"].startswith("NOT verified")
    assert set(v["unverified"]) == {
        f"PhC-C2DH-U373/{g}" for g in ("01", "02", "01_GT/SEG", "02_GT/SEG", "01_ST/SEG", "02_ST/SEG")
    }
    assert all(g in v["method"] for g in v["unverified"])


def test_verified_only_when_every_converted_group_is(official, tmp_path, monkeypatch):
    """Some groups in the pixel registry, one not: not "verified", and without --no-verify it stops."""
    sys.path.insert(0, str(FETCH.parent))
    import fetch

    src, data = official
    hashes = json.loads((data / "phc-u373" / "meta.json").read_text())["verification"]["content_sha256"]
    known = {g: (h, "") for g, h in hashes.items() if g != "PhC-C2DH-U373/01"}
    monkeypatch.setattr(fetch, "CONTENT_REGISTRY", known)
    with pytest.raises(fetch.FetchError, match="PhC-C2DH-U373/01 matches no official file hash"):
        fetch.fetch("phc-u373", tmp_path / "a", src, quiet=True)
    fetch.fetch("phc-u373", tmp_path / "b", src, verify=False, quiet=True)
    v = json.loads((tmp_path / "b" / "phc-u373" / "meta.json").read_text())["verification"]
    assert v["verified"] is False and v["unverified"] == ["PhC-C2DH-U373/01"]
    assert "NOT verified (--no-verify): PhC-C2DH-U373/01" in v["method"]
    monkeypatch.setattr(fetch, "CONTENT_REGISTRY", {g: (h, "") for g, h in hashes.items()})
    fetch.fetch("phc-u373", tmp_path / "c", src, quiet=True)
    v = json.loads((tmp_path / "c" / "phc-u373" / "meta.json").read_text())["verification"]
    assert v["verified"] is True and v["method"] == "sha256 of the decoded pixels (content_registry.txt)"


# ----------------------------------------------------------------------------- split and truth
def test_phc_split_is_the_recipes_and_sequence_01_is_a_held_out_group(official):
    _, data = official
    d = recipe_data("phc-u373-cpu", data)
    assert d["train_ids"] == list(PHC_TRAIN) and d["train_truth"] == "gt"
    assert [(g["name"], g["truth"], g["ids"]) for g in d["groups"]] == [
        ("sequence 02, later frames", "gt", ["02/077", "02/085", "02/092", "02/106", "02/112"]),
        ("sequence 01 (never seen)", "gt", [f"01/{f:03d}" for f in PHC_GT["01"]]),
    ]
    assert d["training_data"] == {"dataset": "phc-u373", "truth": "gt", "train_frames": list(PHC_TRAIN)}


def test_dic_hela_uses_gold_truth_where_it_exists(official):
    _, data = official
    d = recipe_data("dic-hela-cpu", data)
    assert d["train_truth"] == "gt" and d["train_ids"] == [f"01/{f:03d}" for f in HELA_GT["01"]]
    (group,) = d["groups"]
    assert group["truth"] == "gt" and group["ids"] == [f"02/{f:03d}" for f in HELA_GT["02"]]
    assert "gold truth" in d["source"] and "SILVER" not in d["source"]


def test_silver_truth_only_where_a_part_has_no_gold():
    spec = dataset_spec("dic-hela")
    plan = resolve_split(spec, {"gt": ["02/006"], "st": ["01/000", "01/001", "02/000"]})
    assert plan.train == ("st", ["01/000", "01/001"])
    assert plan.groups["sequence 02 (never seen)"] == ("gt", ["02/006"])
    with pytest.raises(ValueError, match="no gt frame of dic-hela matches"):
        resolve_split(spec, {"gt": ["02/006"], "st": ["01/000"]}, truth="gt")


def test_a_training_run_records_its_frames(official, tmp_path):
    _, data = official
    recipe = uc.get_recipe("phc-u373-smoke", iterations=2)
    _, result, _ = uc.train_recipe(recipe, data, checkpoint_path=tmp_path / "run.pt", device="cpu")
    assert result.step == 2
    assert uc.load_checkpoint(tmp_path / "run.pt")["training_data"]["train_frames"] == list(PHC_TRAIN)


def test_a_recipe_run_keeps_snapshots_of_a_held_out_frame_without_changing_the_weights(official, tmp_path):
    _, data = official
    recipe = uc.get_recipe("phc-u373-smoke", iterations=3)
    on = uc.run_recipe(recipe, data, runs_dir=tmp_path / "on", device="cpu")
    off = uc.run_recipe(recipe, data, runs_dir=tmp_path / "off", device="cpu", snapshots=False)
    assert off["snapshots"] is None
    losses = uc.load_checkpoint(on["checkpoint"])["history"]["losses"]
    assert on["loss per 100 steps"] == [pytest.approx(float(np.mean(losses)), abs=1e-5)]  # 3 steps: one window
    snaps = load_snapshots(on["snapshots"])
    assert snaps["steps"] == [0, 3] and snaps["frame"] == on["held-out groups"][0]["frames"][0]
    assert snaps["image"].shape == snaps["truth"].shape == SHAPE  # frames smaller than the crop are kept whole
    a, b = (uc.load_checkpoint(r["checkpoint"])["model_state"] for r in (on, off))
    assert all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- the refusal
def test_evaluate_refuses_a_network_trained_on_a_held_out_frame(official, tmp_path):
    _, data = official
    ckpt = _tiny_checkpoint(
        tmp_path / "seen.pt", {"dataset": "phc-u373", "truth": "gt", "train_frames": [*PHC_TRAIN, "02/077", "01/049"]}
    )
    with pytest.raises(TrainedOnHeldOutError, match="01/049, 02/077"):
        evaluate_recipe("phc-u373-smoke", ckpt, data, device="cpu")


def test_the_cli_refuses_with_one_line_naming_the_frames(official, tmp_path, capsys):
    _, data = official
    ckpt = _tiny_checkpoint(tmp_path / "seen.pt", {"dataset": "phc-u373", "truth": "gt", "train_frames": ["02/085"]})
    assert (
        main(
            [
                "evaluate",
                "--recipe",
                "phc-u373-smoke",
                "--checkpoint",
                str(ckpt),
                "--data-dir",
                str(data),
                "--device",
                "cpu",
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "trained on phc-u373 frame(s) 02/085" in err and len(err.strip().splitlines()) == 1


def test_an_unrecorded_checkpoint_is_refused_unless_trusted(official, tmp_path):
    _, data = official
    ckpt = _tiny_checkpoint(tmp_path / "old.pt", None)
    with pytest.raises(TrainedOnHeldOutError, match="does not record the frames"):
        evaluate_recipe("phc-u373-smoke", ckpt, data, device="cpu")
    out = evaluate_recipe("phc-u373-smoke", ckpt, data, device="cpu", trust_unrecorded=True)
    assert out["trained on"] is None and len(out["held-out groups"]) == 2


def test_evaluate_scores_every_held_out_group_with_its_truth(official, tmp_path):
    _, data = official
    ckpt = _tiny_checkpoint(tmp_path / "ok.pt", {"dataset": "phc-u373", "truth": "gt", "train_frames": list(PHC_TRAIN)})
    out_json = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--recipe",
                "phc-u373-smoke",
                "--checkpoint",
                str(ckpt),
                "--data-dir",
                str(data),
                "--device",
                "cpu",
                "-q",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    out = json.loads(out_json.read_text())
    assert [(g["name"], g["truth"], len(g["frames"])) for g in out["held-out groups"]] == [
        ("sequence 02, later frames", "gold truth", 5),
        ("sequence 01 (never seen)", "gold truth", 15),
    ]
    assert all(0 <= g["values"]["SEG"] <= 1 for g in out["held-out groups"])
    assert out["values"] == out["held-out groups"][0]["values"]


def test_published_networks_record_their_training_frames():
    expected = {
        "isbi2012-cpu": ("labels", 25, "train-volume/00"),
        "phc-u373-cpu": ("gt", 14, "02/010"),
        "dic-hela-cpu": ("st", 84, "01/000"),
    }
    for name, (truth, n, first) in expected.items():
        record = uc.load_checkpoint(uc.pretrained_path(name))["training_data"]
        assert (record["truth"], len(record["train_frames"]), record["train_frames"][0]) == (truth, n, first)
        assert record["dataset"] == uc.get_recipe(name).dataset


def test_check_held_out_ignores_frames_of_another_dataset():
    check_held_out({"dataset": "dic-hela", "train_frames": ["01/002"]}, "phc-u373", ["01/002"])
    with pytest.raises(TrainedOnHeldOutError):
        check_held_out({"dataset": "DIC-C2DH-HeLa", "train_frames": ["01/002"]}, "dic-hela", ["01/002"])


def test_a_run_from_scratch_replaces_the_snapshots_of_an_earlier_run(official, tmp_path):
    _, data = official
    recipe = uc.get_recipe("phc-u373-smoke", iterations=2)
    image, truth = np.zeros(SHAPE, np.float32), np.ones(SHAPE, np.int32)
    path = tmp_path / "run.snapshots.npz"
    calls = []

    def predict(model, x):
        calls.append(1)
        return np.full(x.shape, 0.5)

    SnapshotRecorder(predict, image, truth, "f", path, (0, 1, 2))(torch.nn.Conv2d(1, 1, 1), 1)  # an earlier run's
    rec = SnapshotRecorder(predict, image, truth, "f", path, (0, 1, 2))
    assert sorted(rec.probs) == [1]
    uc.train_recipe(recipe, data, checkpoint_path=tmp_path / "run.pt", device="cpu", resume=False, snapshots=rec)
    assert sorted(rec.probs) == [0, 1, 2] and len(calls) == 4  # step 1 retaken by this run

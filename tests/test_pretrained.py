"""Tests of the published checkpoints (unet_core.recipes.pretrained)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import unet_core.recipes.pretrained as pt
from unet_core.models.unet import UNet
from unet_core.recipes.registry import get_recipe
from unet_core.training.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_registry(tmp_path, monkeypatch):
    """A registry with one small published checkpoint in tmp_path."""
    recipe = get_recipe("isbi2012-smoke")
    torch.manual_seed(0)
    model = UNet(**recipe.model_kwargs())
    record = {"dataset": "isbi2012", "truth": "labels", "train_frames": ["train-volume/00", "train-volume/01"]}
    src = save_checkpoint(
        tmp_path / "train.pt",
        model,
        torch.optim.Adam(model.parameters()),
        30,
        recipe.train_config(),
        {"losses": [1.0, 0.5], "validation": []},
        training_data=record,
    )
    unrecorded = save_checkpoint(tmp_path / "old.pt", model, None, 30, recipe.train_config())
    with pytest.raises(ValueError, match="does not record the frames it was trained on"):
        pt.publish_checkpoint(unrecorded, recipe, tmp_path / "refused")
    path, sha = pt.publish_checkpoint(src, recipe, tmp_path, scores={"pixel error": 0.1})
    assert load_checkpoint(path)["training_data"] == record
    (tmp_path / "registry.txt").write_text(f"# comment\n{recipe.name}.pt {sha} https://example.org/{recipe.name}.pt\n")
    monkeypatch.setattr(pt, "PRETRAINED_DIR", tmp_path)
    return recipe, model, path, sha


def test_publish_round_trip_without_optimizer_state(fake_registry):
    recipe, model, path, sha = fake_registry
    ckpt = load_checkpoint(path)
    assert ckpt["optimizer_state"] is None and ckpt["step"] == 30
    assert ckpt["history"]["scores"] == {"pixel error": 0.1} and ckpt["train_config"]["recipe"]["name"] == recipe.name
    loaded, rec = pt.load_pretrained(recipe.name)
    assert rec == recipe and not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert pt.pretrained_registry()[recipe.name] == (sha, f"https://example.org/{recipe.name}.pt")


def test_altered_missing_and_unknown_checkpoints_are_refused(fake_registry):
    recipe, _, path, sha = fake_registry
    with pytest.raises(ValueError, match=r"recipe='nope' has no published checkpoint; published: isbi2012-smoke"):
        pt.pretrained_path("nope")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match=r"has sha256 .* the registry expects .*truncated or altered: re-fetch it"):
        pt.pretrained_path(recipe.name)
    path.unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"isbi2012-smoke.pt is not in .*python -m unet_core train --recipe "
        r"isbi2012-smoke",
    ):
        pt.pretrained_path(recipe.name)


def test_committed_checkpoints_are_registered_small_and_verified():
    reg = pt.pretrained_registry()
    files = sorted(p.stem for p in pt.PRETRAINED_DIR.glob("*.pt"))
    assert sorted(reg) == files
    for name in files:
        path = pt.pretrained_path(name)  # sha256 checked
        assert path.stat().st_size <= 10_000_000
        assert load_checkpoint(path)["train_config"]["recipe"]["name"] == name


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(pt.pretrained_registry()))
def test_published_checkpoints_reproduce_their_recorded_scores(name, data_dir):
    from unet_core.recipes.run import run_recipe

    recorded = json.loads((ROOT / "book" / "results" / "recipes" / f"{name}.json").read_text())
    out = run_recipe(name, data_dir, checkpoint_path=pt.pretrained_path(name), train=False, save_prob=False)
    for key, value in recorded["values"].items():
        if isinstance(value, float):
            assert out["values"][key] == pytest.approx(value, abs=1e-9), key

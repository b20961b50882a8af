"""Snapshots of a network learning (unet_core.recipes.snapshots): the steps, the crop, the file, resumption,
and that taking them leaves the trained weights unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unet_core.recipes.snapshots import SnapshotRecorder, load_snapshots, snapshot_steps, snapshot_window
from unet_core.training.config import TrainConfig
from unet_core.training.loop import train


def test_snapshot_steps_keep_those_below_the_budget_and_add_the_last():
    assert snapshot_steps(4500) == (0, 100, 300, 1000, 4500)
    assert snapshot_steps(300) == (0, 100, 300)
    assert snapshot_steps(50, steps=(0, 10, 10, 70)) == (0, 10, 50)
    with pytest.raises(ValueError, match="iterations"):
        snapshot_steps(0)
    with pytest.raises(ValueError, match="snapshot step"):
        snapshot_steps(100, steps=(-1,))


def test_snapshot_window_is_centred_and_clipped():
    assert snapshot_window((512, 696)) == (slice(128, 384), slice(220, 476))
    assert snapshot_window((40, 300), crop=64) == (slice(0, 40), slice(118, 182))


def _recorder(tmp_path, steps=(0, 2, 4), calls=None):
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    truth = np.zeros((20, 30), np.int32)
    truth[5:10, 5:15], truth[5:10, 15:25] = 3, 4  # two touching instances: kept apart in the mask

    def predict(model, x):
        if calls is not None:
            calls.append(model.training)
        return np.full(x.shape, float(model.weight.detach().abs().sum() % 1))

    return SnapshotRecorder(predict, image, truth, "02/077", tmp_path / "s.npz", steps, crop=16)


def test_the_recorder_keeps_its_steps_only_in_eval_mode_and_restores_the_mode(tmp_path):
    calls = []
    rec = _recorder(tmp_path, calls=calls)
    net = torch.nn.Conv2d(1, 2, 1)
    net.train()
    for step in range(6):
        assert rec(net, step) == {}
    assert sorted(rec.probs) == [0, 2, 4] and calls == [False] * 3 and net.training
    assert rec.every == 2
    s = load_snapshots(tmp_path / "s.npz")
    assert s["steps"] == [0, 2, 4] and s["frame"] == "02/077"
    assert s["image"].shape == s["truth"].shape == s["probs"][0].shape == (16, 16)
    assert s["image"].dtype == np.uint8 and s["image"].min() == 0 and s["image"].max() == 255
    assert set(np.unique(s["truth"])) == {0, 1} and s["truth"][0, 0] == 0  # rows 2-18, cols 7-23 of the frame
    assert s["truth"][5, 4] == 1 and s["truth"][5, 7] == 0 and s["truth"][5, 8] == 0  # frame cols 14, 15: the border
    assert s["window"].tolist() == [[2, 18], [7, 23]]
    p = float(net.weight.detach().abs().sum() % 1)
    assert abs(float(s["probs"][4][0, 0]) - p) <= 0.5 / 255 + 1e-6


def test_a_resumed_recorder_continues_the_file_without_retaking_steps(tmp_path):
    net = torch.nn.Conv2d(1, 2, 1)
    first = _recorder(tmp_path)
    first(net, 0)
    calls = []
    again = _recorder(tmp_path, calls=calls)
    assert sorted(again.probs) == [0]
    again(net, 0)
    assert calls == []  # step 0 is in the file already
    again(net, 2)
    assert load_snapshots(tmp_path / "s.npz")["steps"] == [0, 2]


def test_bad_recorder_arguments_name_the_fix(tmp_path):
    with pytest.raises(TypeError, match="predict must be callable"):
        SnapshotRecorder(None, np.zeros((4, 4)), np.zeros((4, 4)), "f", tmp_path / "s.npz", (0,))
    with pytest.raises(ValueError, match="one frame, not a stack"):
        SnapshotRecorder(lambda m, x: x, np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), "f", tmp_path / "s.npz", (0,))
    with pytest.raises(ValueError, match="at least one step"):
        SnapshotRecorder(lambda m, x: x, np.zeros((4, 4)), np.zeros((4, 4)), "f", tmp_path / "s.npz", ())


def test_training_with_snapshots_gives_the_same_weights(tmp_path):
    gen = torch.Generator().manual_seed(0)
    data = [
        (torch.randn(1, 8, 8, generator=gen), torch.randint(0, 2, (8, 8), generator=gen), torch.ones(8, 8))
        for _ in range(4)
    ]

    def run(validate):
        torch.manual_seed(1)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Dropout(0.5), torch.nn.Conv2d(4, 2, 1))
        every = validate.every if validate is not None else 0
        cfg = TrainConfig(iterations=6, device="cpu", optimizer="adam", learning_rate=0.01, val_every=every)
        train(net, data, cfg, validate=validate, progress=False)
        return net.state_dict()

    def predict(model, x):  # a forward pass with the dropout layer: in train mode it would draw random numbers
        return torch.softmax(model(torch.as_tensor(x, dtype=torch.float32)[None, None]), 1)[0, 1].numpy()

    rec = SnapshotRecorder(
        predict, np.random.default_rng(0).random((8, 8)), np.ones((8, 8)), "x", tmp_path / "s.npz", (2, 4, 6)
    )
    plain, recorded = run(None), run(rec)
    assert sorted(rec.probs) == [2, 4, 6]
    assert all(torch.equal(plain[k], recorded[k]) for k in plain)
    assert not np.array_equal(rec.probs[2], rec.probs[6])  # the network changed between the snapshots


def test_recorded_snapshots_are_read_from_the_results_folder(tmp_path):
    from unet_core.book import viz

    rec = _recorder(tmp_path)
    rec(torch.nn.Conv2d(1, 2, 1), 2)
    (tmp_path / "s.npz").rename(tmp_path / "isbi2012-cpu.npz")
    assert viz.recorded_snapshots("isbi2012-cpu", tmp_path)["steps"] == [2]
    assert viz.recorded_snapshots("missing", tmp_path) is None

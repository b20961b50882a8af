"""unet_core.training.distributed: torchrun / DistributedDataParallel training on the CPU with gloo (2 processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from unet_core.training.distributed import dropout_seed, rank_items, step_loss, world

SCRIPT = textwrap.dedent('''
    import json, sys
    import torch
    import unet_core as uc
    from unet_core.training.distributed import world

    out, steps, ckpt, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    dropout = float(sys.argv[5])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = uc.UNet(base_channels=2, depth=2, dropout=dropout)  # dropout masks are per rank
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(1, 44, 44, generator=g), torch.randint(0, 2, (28, 28), generator=g),
             torch.rand(28, 28, generator=g) + 0.5) for _ in range(8)]
    config = uc.TrainConfig(iterations=steps, batch_size=2, optimizer="adam", learning_rate=1e-2, device="cpu",
                            checkpoint_every=2, grad_clip=1.0)  # constant lr: stopping at 4 of 6 is a cut
    result = uc.train(model, data, config, checkpoint_path=ckpt, resume=resume, progress=False)
    rank, size = world()
    if rank == 0:
        state = {k: v.tolist() for k, v in model.state_dict().items()}
        json.dump({"losses": result.losses, "world": size, "state": state}, open(out, "w"))
''')


def _run(tmp: Path, name: str, steps: int, nproc: int, ckpt: Path, resume: bool = False, dropout: float = 0.0) -> dict:
    script = tmp / "run.py"
    script.write_text(SCRIPT)
    out = tmp / f"{name}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    args = [str(script), str(out), str(steps), str(ckpt), "1" if resume else "0", str(dropout)]
    cmd = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
        if nproc > 1
        else [sys.executable, *args]
    )
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(out.read_text())


def test_rank_items_split_the_global_batch_and_cover_it_exactly():
    for step in range(3):
        whole = rank_items(step, 4, 0, 1, 10)
        assert sum((rank_items(step, 4, r, 2, 10) for r in range(2)), []) == whole
        assert sum((rank_items(step, 4, r, 4, 10) for r in range(4)), []) == whole
    assert rank_items(2, 4, 0, 1, 10) == [8, 9, 0, 1]  # wraps around the dataset
    with pytest.raises(
        ValueError,
        match=r"TrainConfig.batch_size=3 \(the global batch\) must be divisible by the "
        r"number of processes, 2; use batch_size=2",
    ):
        rank_items(0, 3, 0, 2, 10)
    assert world() == (0, 1)


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_gloo_processes_follow_the_single_process_loss_curve_and_resume_bit_identically(tmp_path):
    single = _run(tmp_path, "single", 6, 1, tmp_path / "single.pt")
    ddp = _run(tmp_path, "ddp", 6, 2, tmp_path / "ddp.pt")
    assert single["world"] == 1 and ddp["world"] == 2
    assert len(ddp["losses"]) == 6
    assert torch.allclose(torch.tensor(ddp["losses"]), torch.tensor(single["losses"]), rtol=1e-4, atol=1e-6), (
        single["losses"],
        ddp["losses"],
    )
    ckpt = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and ckpt["step"] == 6
    # with dropout (masks per rank): stopped after 4 steps, resumed to 6 with the same world size,
    # bit-identical to the uninterrupted run
    dropped = _run(tmp_path, "dropped", 6, 2, tmp_path / "dropped.pt", dropout=0.5)
    assert dropped["losses"][1:] != ddp["losses"][1:]  # dropout is on
    _run(tmp_path, "first", 4, 2, tmp_path / "resumed.pt", dropout=0.5)
    resumed = _run(tmp_path, "resumed", 6, 2, tmp_path / "resumed.pt", resume=True, dropout=0.5)
    assert resumed["losses"] == dropped["losses"]
    assert resumed["state"] == dropped["state"]


PROBE = textwrap.dedent('''
    import datetime, json, sys
    import torch
    import torch.distributed as dist
    import unet_core as uc

    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=20))  # a rank left waiting fails soon
    rank = dist.get_rank()


    class Probe(torch.nn.Module):
        """Dropout, then a 1x1 convolution; keeps the mask that dropout draws first at every training step."""

        def __init__(self):
            super().__init__()
            self.drop, self.conv, self.masks = torch.nn.Dropout(0.5), torch.nn.Conv2d(1, 2, 1), []

        def forward(self, x):
            if self.training:
                self.masks.append(self.drop(torch.ones(32)).tolist())
            return self.conv(self.drop(x))


    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(1, 8, 8, generator=g), torch.randint(0, 2, (8, 8), generator=g)) for _ in range(8)]
    data[5] = (data[5][0] * float("nan"), data[5][1])  # step 2 reads items 4 (rank 0) and 5 (rank 1)
    model, error = Probe(), None
    try:
        uc.train(model, data, uc.TrainConfig(iterations=4, batch_size=2, device="cpu"), progress=False)
    except FloatingPointError as exc:
        error = str(exc)
    json.dump({"error": error, "masks": model.masks}, open(f"{sys.argv[1]}.{rank}.json", "w"))
    dist.destroy_process_group()
''')


@pytest.fixture(scope="module")
def nan_on_rank_1(tmp_path_factory):
    """Two gloo ranks training a dropout probe; rank 1's tile of step 2 is NaN. Per rank: its error and masks."""
    tmp = tmp_path_factory.mktemp("probe")
    (tmp / "probe.py").write_text(PROBE)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(tmp / "probe.py"),
        str(tmp / "out"),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    ranks = [tmp / f"out.{r}.json" for r in range(2)]
    return [
        json.loads(p.read_text()) if p.exists() else {"error": "no result: " + done.stderr[-3000:], "masks": []}
        for p in ranks
    ]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_a_nan_loss_on_one_rank_stops_every_rank_at_that_step(nan_on_rank_1):
    for rank, got in enumerate(nan_on_rank_1):
        assert got["error"] is not None and got["error"].startswith(
            f"the loss became non-finite at step 2 on rank 1 of 2 processes (this is rank {rank}, its loss "
        ), got
        assert "lower learning_rate" in got["error"]
        assert len(got["masks"]) == 4  # all 4 steps ran: the losses are read (and checked) at the end, naming step 2


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_each_rank_draws_its_own_dropout_masks_and_rank_0_those_of_one_process(nan_on_rank_1):
    first, second = (got["masks"] for got in nan_on_rank_1)
    assert len(first) == len(second) == 4
    for step in range(3):
        assert first[step] != second[step]
        for rank, masks in enumerate((first, second)):
            torch.manual_seed(dropout_seed(0, step, rank))
            assert masks[step] == torch.nn.functional.dropout(torch.ones(32), 0.5, True).tolist()
    assert dropout_seed(0, 2, 0) == 2  # rank 0: seed + step, as a single process


def test_dropout_seeds_of_ranks_never_meet_and_step_loss_flags_a_single_process():
    low = {dropout_seed(7, step, rank) % 2**32 for step in range(1000) for rank in range(8)}
    assert len(low) == 8000 and dropout_seed(7, 5) == 12  # the CPU generator takes the low 32 bits only
    assert dropout_seed(2**64 - 1, 1, 0) == 0  # wraps into torch.manual_seed's range
    assert step_loss(torch.tensor(0.25)) == (0.25, [])
    mean, bad = step_loss(torch.tensor(float("inf")))
    assert mean == float("inf") and bad == [0]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_torchrun_cli_trains_with_two_processes_and_rank_0_writes_the_checkpoint(tmp_path):
    ckpt = tmp_path / "ddp.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "unet_core",
        "train",
        "--data",
        "synthetic",
        "--iterations",
        "3",
        "--base-channels",
        "2",
        "--depth",
        "2",
        "--tile-size",
        "44",
        "--batch-size",
        "2",
        "--checkpoint",
        str(ckpt),
        "--quiet",
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("train: 2 processes (DistributedDataParallel), global batch 2") == 1  # rank 0 only
    saved = torch.load(ckpt, weights_only=True)
    assert saved["world_size"] == 2 and saved["step"] == 3 and saved["train_config"]["batch_size"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.pt"]  # no stray temporary files


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_torchrun_recipe_trains_on_two_ranks_and_rank_0_alone_scores(data_dir, tmp_path):
    """What the book-full workflow runs before a chapter: ``torchrun ... train --recipe NAME``."""
    from unet_core.recipes.key import recipe_checkpoint_path
    from unet_core.recipes.registry import get_recipe

    env = dict(os.environ, OMP_NUM_THREADS="1", UNET_RUNS_DIR=str(tmp_path / "runs"))
    scores = tmp_path / "scores.json"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "unet_core",
        "train",
        "-q",
        "--recipe",
        "isbi2012-smoke",
        "--iterations",
        "3",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--data-dir",
        str(data_dir),
        "--json",
        str(scores),
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.count("held-out scores") == 1  # rank 0 predicts, scores and reports
    rec = json.loads(scores.read_text())
    assert rec["steps"] == 3 and rec["recipe"]["batch_size"] == 2 and "pixel error" in rec["values"]
    path = recipe_checkpoint_path(get_recipe("isbi2012-smoke", iterations=3, batch_size=2), tmp_path / "runs")
    assert rec["checkpoint"] == str(path)
    saved = torch.load(path, weights_only=True)
    assert saved["world_size"] == 2 and saved["step"] == 3 and saved["train_config"]["batch_size"] == 2
    assert not list(path.parent.glob("*.part")) and not list(path.parent.glob("*.tmp*"))


def test_loading_a_finished_run_does_not_warn_about_its_world_size(tmp_path, recwarn):
    import unet_core as uc

    torch.manual_seed(0)
    data = [(torch.randn(1, 44, 44), torch.randint(0, 2, (28, 28)))]
    config = uc.TrainConfig(iterations=2, device="cpu")
    ckpt = tmp_path / "m.pt"
    uc.train(uc.UNet(base_channels=2, depth=2), data, config, checkpoint_path=ckpt, progress=False)
    saved = torch.load(ckpt, weights_only=True)
    saved["world_size"] = 4  # as written by four torchrun ranks
    torch.save(saved, ckpt)
    uc.train(uc.UNet(base_channels=2, depth=2), data, config, checkpoint_path=ckpt, progress=False)
    assert not [w for w in recwarn if "world_size" in str(w.message)]
    with pytest.warns(UserWarning, match="was written with world_size=4, this run has world_size=1"):
        uc.train(
            uc.UNet(base_channels=2, depth=2),
            data,
            uc.TrainConfig(iterations=3, device="cpu"),
            checkpoint_path=ckpt,
            progress=False,
        )

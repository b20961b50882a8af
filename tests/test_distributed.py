"""unet_core.distributed: torchrun / DistributedDataParallel training on the CPU with gloo (2 processes)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from unet_core.distributed import rank_items, world

SCRIPT = textwrap.dedent('''
    import json, sys
    import torch
    import unet_core as uc
    from unet_core.distributed import world

    out, steps, ckpt, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = uc.UNet(base_channels=2, depth=2, dropout=0.0)  # dropout masks are per rank: none here
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


def _run(tmp: Path, name: str, steps: int, nproc: int, ckpt: Path, resume: bool = False) -> dict:
    script = tmp / "run.py"
    script.write_text(SCRIPT)
    out = tmp / f"{name}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    args = [str(script), str(out), str(steps), str(ckpt), "1" if resume else "0"]
    cmd = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
           if nproc > 1 else [sys.executable, *args])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(out.read_text())


def test_rank_items_split_the_global_batch_and_cover_it_exactly():
    for step in range(3):
        whole = rank_items(step, 4, 0, 1, 10)
        assert sum((rank_items(step, 4, r, 2, 10) for r in range(2)), []) == whole
        assert sum((rank_items(step, 4, r, 4, 10) for r in range(4)), []) == whole
    assert rank_items(2, 4, 0, 1, 10) == [8, 9, 0, 1]  # wraps around the dataset
    with pytest.raises(ValueError, match=r"TrainConfig.batch_size=3 \(the global batch\) must be divisible by the "
                                         r"number of processes, 2; use batch_size=2"):
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
        single["losses"], ddp["losses"])
    ckpt = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and ckpt["step"] == 6
    # stopped after 4 steps, resumed to 6 with the same world size: bit-identical to the uninterrupted run
    _run(tmp_path, "first", 4, 2, tmp_path / "resumed.pt")
    resumed = _run(tmp_path, "resumed", 6, 2, tmp_path / "resumed.pt", resume=True)
    assert resumed["losses"] == ddp["losses"]
    assert resumed["state"] == ddp["state"]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_torchrun_cli_trains_with_two_processes_and_rank_0_writes_the_checkpoint(tmp_path):
    ckpt = tmp_path / "ddp.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "unet_core",
           "train", "--data", "synthetic", "--iterations", "3", "--base-channels", "2", "--depth", "2",
           "--tile-size", "44", "--batch-size", "2", "--checkpoint", str(ckpt), "--quiet"]
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
    from unet_core.recipes import get_recipe
    from unet_core.reproduce import recipe_checkpoint_path

    env = dict(os.environ, OMP_NUM_THREADS="1", UNET_RUNS_DIR=str(tmp_path / "runs"))
    scores = tmp_path / "scores.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "unet_core",
           "train", "-q", "--recipe", "isbi2012-smoke", "--iterations", "3", "--batch-size", "2", "--device", "cpu",
           "--data-dir", str(data_dir), "--json", str(scores)]
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
        uc.train(uc.UNet(base_channels=2, depth=2), data, uc.TrainConfig(iterations=3, device="cpu"),
                 checkpoint_path=ckpt, progress=False)

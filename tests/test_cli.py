"""Tests of the command line (unet_core.cli.commands), run in-process through main(argv)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from unet_core.cli import commands
from unet_core.cli.commands import main
from unet_core.data.tiles import normalize_image
from unet_core.inference.tiling import predict_tiled
from unet_core.models import FusionNet
from unet_core.models.unet import UNet
from unet_core.training.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from unet_core.training.loop import TrainConfig


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, UNet(base_channels=2, depth=2), step=0)
    return path


@pytest.fixture
def gray_image(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, size=(37, 50)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    tifffile.imwrite(tmp_path / "in.tif", image)
    return image


def _expected_probs(checkpoint, image):
    return predict_tiled(model_from_checkpoint(checkpoint), normalize_image(image), device="cpu")


def test_predict_round_trip_npy_png_tiff(tmp_path, tiny_checkpoint, gray_image, capsys):
    expected = _expected_probs(tiny_checkpoint, gray_image)
    for source in ("in.png", "in.tif"):
        for out in ("p.npy", "p.png", "p.tiff"):
            argv = [
                "predict",
                "-q",
                str(tmp_path / source),
                "-o",
                str(tmp_path / out),
                "--checkpoint",
                str(tiny_checkpoint),
                "--device",
                "cpu",
            ]
            assert main(argv) == 0
        probs = np.load(tmp_path / "p.npy")
        assert probs.dtype == np.float32 and probs.shape == (2, 37, 50)
        np.testing.assert_allclose(probs, expected, atol=1e-5)
        labels = tifffile.imread(tmp_path / "p.tiff")
        assert labels.dtype == np.uint8 and np.array_equal(labels, probs.argmax(0))
        png = np.asarray(Image.open(tmp_path / "p.png"))
        assert png.dtype == np.uint8 and np.array_equal(png, labels * 255)
    assert "predict:" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.part"))


def test_predict_unknown_suffix_fails_before_any_work(tmp_path, capsys):
    argv = [
        "predict",
        str(tmp_path / "missing.png"),
        "-o",
        str(tmp_path / "out.jpg"),
        "--checkpoint",
        str(tmp_path / "missing.pt"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unknown suffix '.jpg'; use one of .npy, .png, .tif, .tiff" in err
    assert not (tmp_path / "out.jpg").exists()


def test_predict_missing_files(tmp_path, tiny_checkpoint, gray_image, capsys):
    assert (
        main(
            ["predict", str(tmp_path / "nope.tif"), "-o", str(tmp_path / "o.npy"), "--checkpoint", str(tiny_checkpoint)]
        )
        == 2
    )
    assert "IMAGE" in capsys.readouterr().err and not (tmp_path / "o.npy").exists()
    assert (
        main(
            [
                "predict",
                str(tmp_path / "in.png"),
                "-o",
                str(tmp_path / "o.npy"),
                "--checkpoint",
                str(tmp_path / "nope.pt"),
            ]
        )
        == 2
    )
    assert "checkpoint" in capsys.readouterr().err and not (tmp_path / "o.npy").exists()


def test_bad_arguments_exit_2():
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", "mnist"])
    assert info.value.code == 2


def test_train_then_resume(tmp_path, capsys):
    ckpt = tmp_path / "s.pt"
    base = [
        "train",
        "-q",
        "--data",
        "synthetic",
        "--base-channels",
        "2",
        "--depth",
        "2",
        "--tile-size",
        "44",
        "--device",
        "cpu",
        "--checkpoint",
        str(ckpt),
    ]
    assert main([*base, "--iterations", "2"]) == 0
    assert load_checkpoint(ckpt)["step"] == 2
    assert main([*base, "--iterations", "3"]) == 2
    assert "exists; pass --resume" in capsys.readouterr().err
    assert main([*base, "--iterations", "3", "--resume"]) == 0
    ckpt_data = load_checkpoint(ckpt)
    assert ckpt_data["step"] == 3 and ckpt_data["model_config"]["base_channels"] == 2
    assert "train: synthetic, 3 steps" in capsys.readouterr().out


def test_train_invalid_tile_size_is_one_line(tmp_path, capsys):
    argv = [
        "train",
        "-q",
        "--base-channels",
        "2",
        "--depth",
        "2",
        "--tile-size",
        "45",
        "--iterations",
        "1",
        "--device",
        "cpu",
        "--checkpoint",
        str(tmp_path / "x.pt"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("unet-core train: error:") and err.count("\n") == 1 and "45" in err


def test_demo_writes_labelled_png(tmp_path, capsys):
    out = tmp_path / "demo" / "demo.png"
    assert main(["demo", "-q", "-o", str(out), "--iterations", "2", "--device", "cpu"]) == 0
    png = Image.open(out)
    assert png.size == (3 * 768 + 2 * 8, 768 + 20)
    text = capsys.readouterr().out
    assert "pixel error" in text and str(out) in text


def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "unet_core", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "{demo,train,predict,evaluate}" in done.stdout


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["isbi2012", "phc-u373", "dic-hela"])
def test_train_one_step_on_real_data(name, data_dir, tmp_path, capsys):
    ckpt = tmp_path / f"{name}.pt"
    argv = [
        "train",
        "-q",
        "--data",
        name,
        "--data-dir",
        str(data_dir),
        "--iterations",
        "1",
        "--base-channels",
        "2",
        "--depth",
        "2",
        "--tile-size",
        "44",
        "--device",
        "cpu",
        "--checkpoint",
        str(ckpt),
    ]
    assert main(argv) == 0
    assert load_checkpoint(ckpt)["step"] == 1 and f"train: {name}, 1 steps" in capsys.readouterr().out


# --------------------------------------------------------------------------- recipes (issue 10)
@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "-q", "--recipe", "nope"], "recipe='nope' is unknown; known recipes:"),
        (["train", "-q", "--recipe", "isbi2012-smoke", "--depth", "3"], "drop --depth"),
        (["train", "-q", "--recipe", "isbi2012-smoke", "--data", "isbi2012", "--lr", "0.1"], "drop --data, --lr"),
    ],
)
def test_train_recipe_refuses_conflicting_flags(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_predict_needs_exactly_one_network(tmp_path, gray_image, tiny_checkpoint, capsys):
    assert main(["predict", "-q", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.npy")]) == 2
    assert "give exactly one of --checkpoint PATH or --recipe NAME" in capsys.readouterr().err
    argv = ["predict", "-q", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.npy"), "--recipe", "nope"]
    assert main(argv) == 2 and "recipe='nope' has no published checkpoint" in capsys.readouterr().err


@pytest.mark.realdata
@pytest.mark.slow
def test_train_recipe_writes_scores(data_dir, tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("UNET_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "scores.json"
    argv = [
        "train",
        "-q",
        "--recipe",
        "isbi2012-smoke",
        "--iterations",
        "5",
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    rec = json.loads(out.read_text())
    assert rec["steps"] == 5 and rec["recipe"]["iterations"] == 5 and "pixel error" in rec["values"]
    assert "held-out scores" in capsys.readouterr().out


# --------------------------------------------------------------------------- --model fusionnet
_FUSION = ["train", "-q", "--model", "fusionnet", "--base-channels", "2", "--depth", "2", "--device", "cpu"]


def test_train_fusionnet_then_predict_rebuilds_it(tmp_path, gray_image, capsys):
    ckpt = tmp_path / "f.pt"
    assert main([*_FUSION, "--tile-size", "32", "--iterations", "2", "--checkpoint", str(ckpt)]) == 0
    assert "train: synthetic, 2 steps" in capsys.readouterr().out
    saved = load_checkpoint(ckpt)
    assert saved["model"] == "fusionnet" and saved["step"] == 2
    assert saved["model_config"] == FusionNet(base_channels=2, depth=2).config  # the paper's options otherwise
    assert type(model_from_checkpoint(ckpt)) is FusionNet
    expected = _expected_probs(ckpt, gray_image)
    out = tmp_path / "p.npy"
    assert (
        main(["predict", "-q", str(tmp_path / "in.png"), "-o", str(out), "--checkpoint", str(ckpt), "--device", "cpu"])
        == 0
    )
    probs = np.load(out)
    assert probs.shape == (2, 37, 50)
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_train_fusionnet_tile_size_and_default():
    from unet_core.cli.commands import _parser
    from unet_core.models.registry import model_spec

    args = _parser().parse_args(["train", "--model", "fusionnet"])
    assert args.tile_size is None and model_spec(args.model).default_tile == 640  # filled in by train: the paper's
    assert _parser().parse_args(["train"]).model == "unet" and model_spec("unet").default_tile == 572


def test_train_fusionnet_invalid_tile_size_names_the_model(tmp_path, capsys):
    assert main([*_FUSION, "--tile-size", "45", "--iterations", "1", "--checkpoint", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and (
            "--tile-size 45 is not a valid input size for --model fusionnet --depth 2; "
            "nearest valid sizes are 44 and 46"
        )
        in err
    )
    assert not (tmp_path / "x.pt").exists()


def test_train_unknown_model_and_recipe_conflict(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "resnet"])
    assert info.value.code == 2 and "invalid choice: 'resnet'" in capsys.readouterr().err
    assert main(["train", "-q", "--recipe", "isbi2012-smoke", "--model", "fusionnet"]) == 2
    assert "drop --model" in capsys.readouterr().err


def test_resume_with_another_model_is_refused(tmp_path, capsys):
    ckpt = tmp_path / "u.pt"
    base = [
        "--base-channels",
        "2",
        "--depth",
        "2",
        "--tile-size",
        "44",
        "--iterations",
        "1",
        "--device",
        "cpu",
        "--checkpoint",
        str(ckpt),
    ]
    assert main(["train", "-q", *base]) == 0
    assert main(["train", "-q", "--model", "fusionnet", *base, "--iterations", "2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "holds a UNet, not a FusionNet" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- numerics: --precision only
class _Stop(Exception):
    """Raised by the stand-in for train() once it has seen the TrainConfig."""


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], {}),  # no flag: TrainConfig's own default
        (["--precision", "fp32"], {"precision": "fp32"}),
        (["--precision", "bf16+channels_last"], {"precision": "bf16+channels_last"}),
        (["--precision", "auto"], {"precision": "auto"}),
    ],
)
def test_train_precision_flag_is_the_train_config_precision(tmp_path, monkeypatch, flags, expected):
    seen = []

    def fake_train(model, tiles, config, **kwargs):
        seen.append(config)
        raise _Stop

    monkeypatch.setattr(commands, "train", fake_train)
    argv = [
        "train",
        "-q",
        "--base-channels",
        "2",
        "--depth",
        "2",
        "--tile-size",
        "44",
        "--iterations",
        "1",
        "--device",
        "cpu",
        "--checkpoint",
        str(tmp_path / "p.pt"),
        *flags,
    ]
    with pytest.raises(_Stop):
        main(argv)
    reference = TrainConfig(
        learning_rate=seen[0].learning_rate,
        iterations=1,
        seed=0,
        device="cpu",
        checkpoint_every=100,
        batch_size=1,
        **expected,
    )
    assert seen[0] == reference


def test_train_has_no_amp_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--amp", "on"])
    assert info.value.code == 2 and "unrecognized arguments: --amp" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--amp" not in capsys.readouterr().out

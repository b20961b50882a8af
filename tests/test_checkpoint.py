"""unet_core.training.checkpoint: what a checkpoint stores loads back (numpy scalars of every kind, training data)."""

from __future__ import annotations

import enum

import numpy as np
import pytest
import torch

from unet_core.training.checkpoint import load_checkpoint, save_checkpoint
from unet_core.utils.files import plain_value

SCALAR_TYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.longdouble,
    np.complex64,
    np.complex128,
    np.clongdouble,
]
PYTHON_TYPE = {"b": bool, "i": int, "u": int, "f": float, "c": complex}


def _value(kind: type):
    return kind(1 + 2j) if np.dtype(kind).kind == "c" else kind(1)


@pytest.mark.parametrize("kind", SCALAR_TYPES, ids=lambda k: k.__name__)
def test_numpy_scalars_and_0d_arrays_of_every_kind_round_trip(tmp_path, kind):
    scalar, zero_d = _value(kind), np.array(_value(kind))
    expected_type = PYTHON_TYPE[np.dtype(kind).kind]
    path = save_checkpoint(
        tmp_path / "n.pt",
        torch.nn.Conv2d(1, 2, 1),
        history={"losses": [scalar, zero_d], "validation": [{"score": scalar}]},
        config={"lr": scalar},
        scheduler={"step": zero_d},
    )
    ckpt = load_checkpoint(path)  # weights_only=True: refused before for np.float64 and np.str_
    stored = [
        *ckpt["history"]["losses"],
        ckpt["history"]["validation"][0]["score"],
        ckpt["train_config"]["lr"],
        ckpt["scheduler_state"]["step"],
    ]
    assert all(type(v) is expected_type and v == scalar for v in stored), stored
    save_checkpoint(path, torch.nn.Conv2d(1, 2, 1), training_data={"n": scalar, "a": [zero_d]})
    assert load_checkpoint(path)["training_data"] == {"n": scalar, "a": [scalar]}


def test_numpy_strings_bytes_arrays_and_keys_round_trip(tmp_path):
    class Colour(str, enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 2

    history = {
        "losses": np.array([0.5, 0.25], np.float64),
        "validation": [],
        np.str_("name"): np.str_("run"),
        np.int64(3): np.bytes_(b"x"),
        "colour": Colour.RED,
        "level": Level.HIGH,
        0.5: "half",
    }
    path = save_checkpoint(tmp_path / "s.pt", torch.nn.Conv2d(1, 2, 1), history=history)
    stored = load_checkpoint(path)["history"]
    assert stored == {
        "losses": [0.5, 0.25],
        "validation": [],
        "name": "run",
        3: b"x",
        "colour": "red",
        "level": 2,
        "0.5": "half",
    }
    assert [type(k) for k in stored] == [str, str, str, int, str, str, str]
    assert type(stored["colour"]) is str and type(stored["level"]) is int


def test_what_a_checkpoint_cannot_store_is_refused_when_saving(tmp_path):
    with pytest.raises(
        TypeError,
        match=r"history\['when'\] holds (np|numpy)\.datetime64\('2020-01-01'\) "
        r"\(datetime64\), which a checkpoint cannot store",
    ):
        save_checkpoint(tmp_path / "d.pt", torch.nn.Conv2d(1, 2, 1), history={"when": np.datetime64("2020-01-01")})
    with pytest.raises(TypeError, match=r"training_data must be a dict \(or None\), got \['phc-u373'\]"):
        save_checkpoint(tmp_path / "d.pt", torch.nn.Conv2d(1, 2, 1), training_data=["phc-u373"])
    assert not (tmp_path / "d.pt").exists()


def test_plain_value_keeps_tuples_lists_and_tensors():
    assert plain_value((np.int8(1), [np.float32(0.5)]), "x") == (1, [0.5])
    assert type(plain_value((1,), "x")) is tuple and type(plain_value([1], "x")) is list
    tensor = torch.ones(2, requires_grad=True)
    out = plain_value({"t": tensor}, "x")["t"]
    assert torch.equal(out, tensor) and not out.requires_grad
    with pytest.raises(TypeError, match=r"x\[1\] holds <object object at .*>, which a checkpoint cannot store"):
        plain_value([1, object()], "x")

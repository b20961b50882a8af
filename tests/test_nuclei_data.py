"""Tests of data_scripts/nuclei.py: the "your own images" set read out of a wheel, verified, cut, atomic."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from unet_core.data.folders import load_pairs

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("unet_fetch_n", REPO / "data_scripts" / "fetch.py")
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)
nuclei = fetch.sys.modules["nuclei"]
FetchError = fetch.sys.modules["_archive"].FetchError


def _tif(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, array)
    return buf.getvalue()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A constructed 64 x 64 image with 5 labelled squares (one across the quadrant borders), as a wheel."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, (64, 64)).astype(np.uint16)
    labels = np.zeros((64, 64), np.uint16)
    for k, (y, x) in enumerate([(4, 4), (4, 40), (40, 4), (40, 40)], start=3):
        labels[y : y + 10, x : x + 10] = 10 * k  # ids 30..60: not consecutive
    labels[28:36, 28:36] = 99  # cut by both borders: a part in every quadrant
    blobs = {"image": _tif(image), "labels": _tif(labels)}
    for key, member in nuclei.MEMBERS.items():
        monkeypatch.setitem(nuclei.REGISTRY, f"nuclei/{Path(member).name}", (hashlib.sha256(blobs[key]).hexdigest(),))
    wheel = tmp_path / nuclei.WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("stardist/__init__.py", "")
        for key, member in nuclei.MEMBERS.items():
            zf.writestr(member, blobs[key])
    return wheel, image, labels, blobs


def test_wheel_is_converted_into_a_folder_of_pairs(fake, tmp_path):
    wheel, image, labels, _ = fake
    assert fetch.main(["nuclei", "--source", str(wheel), "--dest", str(tmp_path / "data"), "--quiet"]) == 0
    out = tmp_path / "data" / "nuclei"
    data = load_pairs(out / "images", out / "labels")
    assert sorted(data.names) == sorted(nuclei.QUADRANTS)
    i = data.names.index("bottom-right")
    np.testing.assert_array_equal(data.images[i], image[32:, 32:])
    assert sorted(np.unique(data.labels[i]).tolist()) == [0, 1, 2]  # the corner of 99 and the square of 60
    assert (data.labels[i] > 0).sum() == (labels[32:, 32:] > 0).sum()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["verified"] is True and meta["nuclei"] == 5 and "CC0" in meta["licence"]
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["nuclei"]  # no temporary folder left


def test_a_folder_with_the_two_files_is_accepted(fake, tmp_path):
    _, image, _, blobs = fake
    src = tmp_path / "src" / "deep"
    src.mkdir(parents=True)
    (src / "img2d.tif").write_bytes(blobs["image"])
    (src / "mask2d.tif").write_bytes(blobs["labels"])
    out = nuclei.fetch_nuclei(tmp_path / "d", tmp_path / "src", quiet=True)
    np.testing.assert_array_equal(tifffile.imread(out / "images" / "top-left.tif"), image[:32, :32])


def test_an_altered_file_is_refused_and_nothing_is_written(fake, tmp_path, monkeypatch, capsys):
    wheel, *_ = fake
    monkeypatch.setitem(nuclei.REGISTRY, "nuclei/mask2d.tif", ("0" * 64,))
    dest = tmp_path / "data"
    assert nuclei.main(["--source", str(wheel), "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "mask2d.tif" in err and "0" * 64 in err and "nothing was written" in err
    assert list(dest.iterdir()) == []


def test_a_zip_without_the_members_is_named(tmp_path):
    bad = tmp_path / "other.whl"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("x.txt", "x")
    with pytest.raises(FetchError, match="stardist/data/images/img2d.tif"):
        nuclei.read_members(bad)
    with pytest.raises(FetchError, match="neither"):
        nuclei.read_members(tmp_path / "x.txt")


def test_a_failed_pip_download_says_how_to_import_by_hand(tmp_path, monkeypatch):
    monkeypatch.setattr(nuclei.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "offline"))
    with pytest.raises(FetchError, match="--source"):
        nuclei.fetch_nuclei(tmp_path / "d", quiet=True)
    assert list((tmp_path / "d").iterdir()) == []


def test_existing_data_are_kept_unless_forced(fake, tmp_path):
    wheel, *_ = fake
    out = nuclei.fetch_nuclei(tmp_path, wheel, quiet=True)
    (out / "images" / "top-left.tif").unlink()
    assert nuclei.fetch_nuclei(tmp_path, wheel, quiet=True) == out  # meta.json present: left as it is
    assert not (out / "images" / "top-left.tif").exists()
    nuclei.fetch_nuclei(tmp_path, wheel, force=True, quiet=True)
    assert (out / "images" / "top-left.tif").is_file()
    (out / "meta.json").unlink()
    with pytest.raises(FetchError, match="--force"):
        nuclei.fetch_nuclei(tmp_path, wheel, quiet=True)

"""Tests of data_scripts/fetch.py: safe extraction, verification, import layouts, idempotence."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from unet_core.data.datasets import dataset_spec
from unet_core.data.synthetic import synthetic_cells, synthetic_em

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("unet_fetch", REPO / "data_scripts" / "fetch.py")
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)
archive = fetch.sys.modules["_archive"]
FetchError = archive.FetchError


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- safe extraction
def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    "members, symlink, match",
    [
        ({"ok.txt": b"1", "/abs/evil.txt": b"x"}, None, "has an absolute path"),
        ({"ok.txt": b"1", "a/../../evil.txt": b"x"}, None, r"points outside the target \('..'\)"),
        ({"ok.txt": b"1"}, "link", "is a symbolic or hard link"),
    ],
)
def test_zip_unsafe_members_rejected(tmp_path, members, symlink, match):
    zpath = _zip(tmp_path / "bad.zip", members, symlink)
    with pytest.raises(FetchError, match=match):
        archive.safe_extract(zpath, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []  # nothing partial left behind
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "dotdot"])
def test_tar_unsafe_members_rejected(tmp_path, kind):
    tpath = tmp_path / "bad.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        data = b"hello"
        info = tarfile.TarInfo("ok.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        bad = tarfile.TarInfo("../evil.txt" if kind == "dotdot" else "link")
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            bad.type, bad.linkname = tarfile.LNKTYPE, "ok.txt"
        tf.addfile(bad, io.BytesIO(b"") if kind != "dotdot" else io.BytesIO(b""))
    match = "points outside" if kind == "dotdot" else "is a symbolic or hard link"
    with pytest.raises(FetchError, match=match):
        archive.safe_extract(tpath, tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_safe_extract_ok_and_not_an_archive(tmp_path):
    zpath = _zip(tmp_path / "good.zip", {"top/a.txt": b"a", "top/sub/b.txt": b"bb"})
    out = archive.safe_extract(zpath, tmp_path / "out")
    assert (out / "top" / "sub" / "b.txt").read_bytes() == b"bb"
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not an archive")
    with pytest.raises(FetchError, match="is not a zip or tar archive"):
        archive.safe_extract(junk, tmp_path / "out2")


# --------------------------------------------------------------------------- download
def test_download_hash_mismatch_deletes_and_explains(tmp_path):
    src = tmp_path / "remote.bin"
    src.write_bytes(b"truncated content")
    target = tmp_path / "dl" / "file.zip"
    with pytest.raises(FetchError, match=r"corrupt or truncated.*deleted; run the same command again to retry"):
        archive.download(src.as_uri(), target, "0" * 64, quiet=True)
    assert not target.exists() and _leftovers(target.parent) == []


def test_download_ok_with_md5(tmp_path):
    src = tmp_path / "remote.bin"
    src.write_bytes(b"payload")
    md5 = "md5:" + archive.file_hash(src, "md5")
    out = archive.download(src.as_uri(), tmp_path / "dl" / "file.bin", md5, quiet=True)
    assert out.read_bytes() == b"payload"


def test_offline_message_names_source_and_sites(tmp_path, monkeypatch, capsys):
    dead = "http://127.0.0.1:9/PhC-C2DH-U373.zip"  # discard port: connection refused at once
    monkeypatch.setitem(fetch.REGISTRY, "PhC-C2DH-U373.zip", ("0" * 64, dead))
    rc = fetch.main(["phc-u373", "--dest", str(tmp_path / "data"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "cannot reach http://127.0.0.1:9" in err and "offline" in err
    assert "celltrackingchallenge.net" in err and "fetch.py phc-u373 --source DIR_OR_ARCHIVE" in err
    assert not (tmp_path / "data" / "phc-u373").exists()


def test_download_verifies_bytes_and_reuses_cache(tmp_path, monkeypatch):
    _ctc_folder(tmp_path / "src")
    zpath = Path(shutil.make_archive(str(tmp_path / "PhC-C2DH-U373"), "zip", tmp_path / "src"))
    sha = archive.file_hash(zpath)
    monkeypatch.setitem(fetch.REGISTRY, "PhC-C2DH-U373.zip", (sha, zpath.as_uri()))
    out = fetch.fetch("phc-u373", tmp_path / "data", quiet=True)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["source_kind"] == "download"
    assert meta["verification"]["method"] == "byte hash of the official file(s) (registry.txt)"
    assert meta["verification"]["byte_hashes_matched"] == {"PhC-C2DH-U373.zip": sha}
    assert (tmp_path / "data" / ".downloads" / "PhC-C2DH-U373.zip").is_file()
    # the verified archive is kept: re-converting needs no network
    monkeypatch.setitem(fetch.REGISTRY, "PhC-C2DH-U373.zip", (sha, "http://127.0.0.1:9/PhC-C2DH-U373.zip"))
    fetch.fetch("phc-u373", tmp_path / "data", force=True, quiet=True)
    assert _leftovers(tmp_path / "data") == [".downloads"]


def test_isbi_download_falls_back_to_mirror(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    remote.mkdir()
    stacks = [synthetic_em((32, 32), n_cells=2, seed=i) for i in range(2)]
    arrays = {
        "train-volume": np.stack([(a[0] * 255).astype(np.uint8) for a in stacks]),
        "train-labels": np.stack([a[1] * 255 for a in stacks]),
        "test-volume": np.zeros((2, 32, 32), np.uint8),
    }
    for name, a in arrays.items():
        tifffile.imwrite(remote / f"{name}.tif", a, photometric="minisblack")
        md5 = "md5:" + archive.file_hash(remote / f"{name}.tif", "md5")
        monkeypatch.setitem(fetch.REGISTRY, f"isbi2012/{name}.tif", (md5, "http://127.0.0.1:9/" + name))
        monkeypatch.setitem(fetch.REGISTRY, f"isbi2012-mirror/{name}.tif", (md5, (remote / f"{name}.tif").as_uri()))
    out = fetch.fetch("isbi2012", tmp_path / "data", quiet=True)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["verification"]["method"] == "byte hash of the official file(s) (registry.txt)"
    assert len(meta["verification"]["byte_hashes_matched"]) == 3
    np.testing.assert_array_equal(tifffile.imread(out / "train-labels.tif"), arrays["train-labels"] // 255)


# --------------------------------------------------------------------------- import from --source
def _ctc_folder(root: Path) -> Path:
    """A tiny synthetic stand-in of a CTC training folder: 2 sequences, GT on some frames, ST on all."""
    ds = root / "PhC-C2DH-U373"
    for s, seq in enumerate(("01", "02")):
        for t in range(3):
            image, inst = synthetic_cells((48, 64), n_cells=3, seed=10 * s + t)
            (ds / seq).mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 255).astype(np.uint8)).save(ds / seq / f"t{t:03d}.tif")
            for kind in ("ST",) + (("GT",) if t != 1 else ()):
                (ds / f"{seq}_{kind}" / "SEG").mkdir(parents=True, exist_ok=True)
                tifffile.imwrite(ds / f"{seq}_{kind}" / "SEG" / f"man_seg{t:03d}.tif", inst.astype(np.uint16))
    (ds / "01_GT" / "SEG" / "man_seg007.tif").write_bytes(
        (ds / "01_GT" / "SEG" / "man_seg000.tif").read_bytes()
    )  # a mask without image
    return ds


def _check_ctc_output(out: Path):
    meta = json.loads((out / "meta.json").read_text())
    assert meta["layout_version"] == 1 and meta["dataset"] == "phc-u373"
    assert meta["sequences"]["01"]["gt_frames"] == [0, 2]
    assert meta["sequences"]["01"]["gt_masks_without_images"] == [7]
    # the split is the dataset's declared rule (unet_core.data.datasets), not "whatever sequences are there": these
    # synthetic frame numbers are not the 14 PhC-U373 training frames, and the record says so
    assert meta["split"]["rule"] == dataset_spec("phc-u373").split.rule
    assert "no gt frame of phc-u373 matches the training frames" in meta["split"]["note"]
    assert sorted(p.name for p in (out / "02" / "images").iterdir()) == ["t000.tif", "t001.tif", "t002.tif"]
    assert sorted(p.name for p in (out / "01" / "gt_seg").iterdir()) == ["man_seg000.tif", "man_seg002.tif"]
    mask = tifffile.imread(out / "02" / "st_seg" / "man_seg001.tif")
    assert mask.dtype == np.uint16 and mask.shape == (48, 64) and mask.max() >= 1
    return meta


def test_source_folder_and_zip_agree(tmp_path):
    ds = _ctc_folder(tmp_path / "src")
    out = fetch.fetch("phc-u373", tmp_path / "a", ds, verify=False, quiet=True)
    meta_a = _check_ctc_output(out)
    assert meta_a["verification"]["method"].startswith("NOT verified (--no-verify): PhC-C2DH-U373/01, ")
    zpath = shutil.make_archive(str(tmp_path / "PhC-C2DH-U373"), "zip", tmp_path / "src")
    out_b = fetch.fetch("phc-u373", tmp_path / "b", Path(zpath), verify=False, quiet=True)
    meta_b = _check_ctc_output(out_b)
    assert meta_b["source_kind"] == "archive"
    assert meta_a["verification"]["content_sha256"] == meta_b["verification"]["content_sha256"]
    assert _leftovers(tmp_path / "b") == []


def test_source_for_all_finds_dataset_folder(tmp_path):
    _ctc_folder(tmp_path / "src")
    out = fetch.fetch("phc-u373", tmp_path / "data", tmp_path / "src", single=False, verify=False, quiet=True)
    _check_ctc_output(out)
    with pytest.raises(FetchError, match="has no folder or archive for dic-hela"):
        fetch.fetch("dic-hela", tmp_path / "data", tmp_path / "src", single=False, quiet=True)


def test_unverifiable_and_differing_content_refused(tmp_path, monkeypatch):
    ds = _ctc_folder(tmp_path / "src")
    # the synthetic frames are not the registered PhC-U373 pixels
    with pytest.raises(FetchError, match=r"differ from the registered copy in PhC-C2DH-U373/01_GT/SEG, .*--no-verify"):
        fetch.fetch("phc-u373", tmp_path / "data", ds, quiet=True)
    monkeypatch.setattr(fetch, "CONTENT_REGISTRY", {})
    with pytest.raises(
        FetchError, match="could not be verified: PhC-C2DH-U373/01, .* match no official file hash.*--no-verify"
    ):
        fetch.fetch("phc-u373", tmp_path / "data", ds, quiet=True)
    assert not (tmp_path / "data" / "phc-u373").exists() and _leftovers(tmp_path / "data") == []


def test_content_verification_accepts_registered_pixels(tmp_path, monkeypatch):
    ds = _ctc_folder(tmp_path / "src")
    meta = json.loads((fetch.fetch("phc-u373", tmp_path / "a", ds, verify=False, quiet=True) / "meta.json").read_text())
    for group, h in meta["verification"]["content_sha256"].items():
        monkeypatch.setitem(fetch.CONTENT_REGISTRY, group, (h,))
    # re-encode the images (LZW-free zlib TIFF): bytes change, pixels do not
    for p in (ds / "02").iterdir():
        tifffile.imwrite(p, np.asarray(Image.open(p)), compression="zlib")
    meta2 = json.loads((fetch.fetch("phc-u373", tmp_path / "b", ds, quiet=True) / "meta.json").read_text())
    assert meta2["verification"]["method"] == "sha256 of the decoded pixels (content_registry.txt)"
    assert meta2["verification"]["content_differs"] == []


def test_isbi_slices_layout_and_label_conversion(tmp_path):
    root = tmp_path / "membrane"
    for sub in ("train/image", "train/label", "test"):
        (root / sub).mkdir(parents=True)
    for i in range(3):
        image, labels, _ = synthetic_em((32, 32), n_cells=2, seed=i)
        Image.fromarray((image * 255).astype(np.uint8)).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray(labels * 255).save(root / "train" / "label" / f"{i}.png")
        Image.fromarray((image * 255).astype(np.uint8)).save(root / "test" / f"{i}.png")
    (root / "test" / "0_predict.png").write_bytes(b"ignored: not a slice name")
    out = fetch.fetch("isbi2012", tmp_path / "data", root, verify=False, quiet=True)
    labels = tifffile.imread(out / "train-labels.tif")
    assert labels.shape == (3, 32, 32) and labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 1}
    expected = np.asarray(Image.open(root / "train" / "label" / "2.png")) == 255
    np.testing.assert_array_equal(labels[2], expected)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["split"]["train"] == [0, 1, 2] and meta["split"]["val"] == []


def test_wrong_archive_is_explained(tmp_path):
    zpath = _zip(tmp_path / "other.zip", {"photos/cat.jpg": b"meow"})
    with pytest.raises(FetchError, match="does not look like the PhC-C2DH-U373 training data"):
        fetch.fetch("phc-u373", tmp_path / "data", zpath, quiet=True)
    with pytest.raises(FetchError, match="does not contain the ISBI 2012 data"):
        fetch.fetch("isbi2012", tmp_path / "data", zpath, quiet=True)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(FetchError, match="is neither a folder nor a zip/tar archive"):
        fetch.fetch("isbi2012", tmp_path / "data", text, quiet=True)
    assert _leftovers(tmp_path / "data") == []


def test_idempotent_interrupted_and_force(tmp_path, capsys):
    ds = _ctc_folder(tmp_path / "src")
    dest = tmp_path / "data"
    argv = ["phc-u373", "--source", str(ds), "--dest", str(dest), "--no-verify"]
    assert fetch.main(argv + ["--quiet"]) == 0
    stamp = (dest / "phc-u373" / "meta.json").stat().st_mtime_ns
    assert fetch.main(argv) == 0
    assert "already converted" in capsys.readouterr().out
    assert (dest / "phc-u373" / "meta.json").stat().st_mtime_ns == stamp
    assert fetch.main(argv + ["--force", "--quiet"]) == 0
    assert (dest / "phc-u373" / "meta.json").stat().st_mtime_ns != stamp
    meta = json.loads((dest / "phc-u373" / "meta.json").read_text())
    (dest / "phc-u373" / "meta.json").write_text(json.dumps({**meta, "layout_version": 0}))
    assert fetch.main(argv) == 0  # an older layout is converted again
    assert "has layout_version 0, this script writes 1: re-converting" in capsys.readouterr().out
    assert json.loads((dest / "phc-u373" / "meta.json").read_text())["layout_version"] == 1
    (dest / "phc-u373" / "meta.json").unlink()  # as after an interrupted import
    assert fetch.main(argv + ["--quiet"]) == 1
    assert "exists but has no meta.json" in capsys.readouterr().err


def test_registry_files_parse():
    assert fetch.REGISTRY["isbi2012/train-volume.tif"][0] == "md5:465461edbe0254630c4ec5577f1e7764"
    assert fetch.REGISTRY["PhC-C2DH-U373.zip"][1].endswith("/training-datasets/PhC-C2DH-U373.zip")
    assert all(len(v[0]) == 64 for v in fetch.CONTENT_REGISTRY.values())
    assert len(fetch.CONTENT_REGISTRY) == 12


@pytest.mark.realdata
@pytest.mark.slow
def test_fetch_all_from_workplace_copy(tmp_path):
    src = Path(os.environ.get("UNET_SOURCE_DIR", REPO.parent / "shared" / "datasets"))
    if not (src / "isbi2012").is_dir():
        pytest.skip(f"no workplace copy of the datasets at {src} (set UNET_SOURCE_DIR)")
    assert fetch.main(["all", "--source", str(src), "--dest", str(tmp_path), "--quiet"]) == 0
    for key in ("isbi2012", "phc-u373", "dic-hela"):
        meta = json.loads((tmp_path / key / "meta.json").read_text())
        assert meta["verification"]["method"] == "sha256 of the decoded pixels (content_registry.txt)"
        assert meta["verification"]["content_differs"] == []
    phc = json.loads((tmp_path / "phc-u373" / "meta.json").read_text())
    assert len(phc["sequences"]["02"]["gt_frames"]) == 19
    assert len(phc["sequences"]["01"]["gt_masks_without_images"]) == 15
    assert tifffile.imread(tmp_path / "isbi2012" / "train-volume.tif").shape == (30, 512, 512)

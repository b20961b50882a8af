"""Tests of unet_core.data: readers of the converted layout and the TrainingTiles dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from test_fetch import _ctc_folder, fetch  # the synthetic CTC source folder and the fetch.py module

import unet_core.data as data
import unet_core.data.tiles as data_tiles
from unet_core.augment.ops import AugmentConfig
from unet_core.data.ctc import load_ctc
from unet_core.data.frames import annotated_frames, load_frames
from unet_core.data.isbi2012 import load_isbi2012
from unet_core.data.labels import instances_from_labels
from unet_core.data.loss_weights import foreground_with_borders, weight_map
from unet_core.data.paths import default_data_dir
from unet_core.data.synthetic import synthetic_cells, synthetic_em
from unet_core.data.tiles import TrainingTiles, normalize_image


# --------------------------------------------------------------------------- small helpers
def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("UNET_DATA_DIR")
    assert default_data_dir() == Path("data")


def test_normalize_image():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (2, 16, 24)).astype(np.uint8)
    out = normalize_image(img)
    assert out.dtype == np.float32 and out.shape == (2, 16, 24)
    assert abs(float(out.mean())) < 1e-6 and abs(float(out.std()) - 1) < 1e-5
    # invariant to gray-value offset and gain
    np.testing.assert_allclose(normalize_image(3.0 * img + 7), out, atol=1e-5)
    np.testing.assert_array_equal(normalize_image(np.full((4, 4), 9)), np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="must be finite"):
        normalize_image(np.array([[np.nan, 1.0]]))


def test_instances_from_labels_four_connected():
    labels = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], np.uint8)
    inst = instances_from_labels(labels)
    assert inst.dtype == np.int32
    assert inst.max() == 3  # the diagonal touches do not connect
    _, em_labels, em_instances = synthetic_em((96, 96), n_cells=8, seed=2)
    inst = instances_from_labels(em_labels)
    pairs = set(zip(inst[em_labels == 1].tolist(), em_instances[em_labels == 1].tolist()))
    assert len(pairs) == inst.max() == em_instances.max()  # the same partition, up to numbering


# --------------------------------------------------------------------------- readers on a converted tiny layout
@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """Converted layout written by fetch.py from synthetic stand-ins (2 CTC sequences of 3 frames, 3 ISBI slices)."""
    src = tmp_path_factory.mktemp("src")
    _ctc_folder(src)
    isbi = src / "isbi2012"
    isbi.mkdir()
    stacks = [synthetic_em((48, 48), n_cells=3, seed=i) for i in range(3)]
    tifffile.imwrite(
        isbi / "train-volume.tif", np.stack([(a[0] * 255).astype(np.uint8) for a in stacks]), photometric="minisblack"
    )
    tifffile.imwrite(isbi / "train-labels.tif", np.stack([a[1] * 255 for a in stacks]), photometric="minisblack")
    tifffile.imwrite(isbi / "test-volume.tif", np.zeros((2, 48, 48), np.uint8), photometric="minisblack")
    dest = tmp_path_factory.mktemp("data")
    fetch.fetch("phc-u373", dest, src, single=False, verify=False, quiet=True)
    fetch.fetch("isbi2012", dest, src, single=False, verify=False, quiet=True)
    return dest


def test_load_isbi_tiny(tiny_root):
    d = load_isbi2012(tiny_root)
    assert d.train_images.shape == d.train_labels.shape == (3, 48, 48) and d.test_images.shape == (2, 48, 48)
    assert d.train_labels.dtype == np.uint8 and set(np.unique(d.train_labels)) == {0, 1}
    assert d.split == {"train": [0, 1, 2], "val": []}
    images, labels = d.subset("train")
    np.testing.assert_array_equal(labels[1], synthetic_em((48, 48), n_cells=3, seed=1)[1])
    with pytest.raises(ValueError, match="name must be 'train' or 'val'"):
        d.subset("test")


def test_load_ctc_tiny(tiny_root, monkeypatch):
    gt = load_ctc("phc-u373", tiny_root)
    assert [s.frame_id for s in gt] == ["01/000", "01/002", "02/000", "02/002"]
    image, instances, frame_id, truth = gt[3]
    assert truth == "gt" and image.dtype == np.uint8 and instances.dtype == np.int32
    np.testing.assert_array_equal(instances, synthetic_cells((48, 64), n_cells=3, seed=12)[1])
    st = load_ctc("phc-u373", tiny_root, truth="st", sequences=["02"])
    assert len(st) == 3 and {s.truth for s in st} == {"st"}
    monkeypatch.setenv("UNET_DATA_DIR", str(tiny_root))
    # the split is PhC-U373's declared one (14 named frames of sequence 02), whatever else the folder holds:
    # these synthetic frame numbers are not among them
    with pytest.raises(ValueError, match="no gt frame of phc-u373 matches the training frames 02/010"):
        load_ctc("PhC-C2DH-U373", split="val")
    assert annotated_frames("phc-u373") == {
        "gt": ["01/000", "01/002", "02/000", "02/002"],
        "st": ["01/000", "01/001", "01/002", "02/000", "02/001", "02/002"],
    }
    frames = load_frames("phc-u373", ["02/002", "01/000"], "gt")
    assert [(f.frame_id, f.truth) for f in frames] == [("02/002", "gt"), ("01/000", "gt")]
    np.testing.assert_array_equal(frames[0].target, instances)
    with pytest.raises(ValueError, match="no st mask for frame"):
        load_frames("phc-u373", ["01/007"], "st")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"name": "hela"}, ValueError, "name must be one of"),
        ({"truth": "silver"}, ValueError, r"truth must be 'gt' \(gold, manual\) or 'st'"),
        ({"split": "test"}, ValueError, "split must be None, 'train' or 'val'"),
        ({"sequences": ["03"]}, ValueError, r"no frames with truth='gt'.*available: gt, st"),
        ({"name": "dic-hela"}, FileNotFoundError, r"fetch.py dic-hela --source DIR"),
    ],
)
def test_load_ctc_errors(tiny_root, kwargs, error, match):
    kwargs = {"name": "phc-u373", "root": tiny_root, **kwargs}
    with pytest.raises(error, match=match):
        load_ctc(**kwargs)


def test_missing_isbi_message(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"run `python data_scripts/fetch.py isbi2012 --source DIR`"):
        load_isbi2012(tmp_path)


# --------------------------------------------------------------------------- TrainingTiles
@pytest.fixture(scope="module")
def cells():
    return [synthetic_cells((48, 48), n_cells=4, seed=s) for s in range(2)]


def _tiles(cells, **kw):
    kw = {"in_size": 44, "out_size": 20, **kw}
    return TrainingTiles([c[0] for c in cells], [c[1] for c in cells], **kw)


def test_tiles_shapes_and_determinism(cells):
    ds = _tiles(cells, length=5, seed=3)
    assert len(ds) == 5
    x, y, w = ds[4]
    assert (tuple(x.shape), tuple(y.shape), tuple(w.shape)) == ((1, 44, 44), (20, 20), (20, 20))
    assert (x.dtype, y.dtype, w.dtype) == (torch.float32, torch.int64, torch.float32)
    assert set(torch.unique(y).tolist()) <= {0, 1} and float(w.min()) >= 1.0
    again = _tiles(cells, length=5, seed=3)[4]  # a fresh dataset, same (seed, i)
    for a, b in zip(ds[4], again):
        assert torch.equal(a, b)
    assert not torch.equal(ds[4][0], ds[2][0]) and not torch.equal(ds[4][0], _tiles(cells, length=5, seed=4)[4][0])
    with pytest.raises(IndexError, match="index 5 is out of range for 5 items"):
        ds[5]


def test_tiles_without_augmentation_are_crops(cells):
    ds = _tiles(cells, augment=False, length=4)
    label, weights = ds.label_and_weights(1)
    np.testing.assert_array_equal(label, foreground_with_borders(cells[1][1]))
    np.testing.assert_array_equal(weights, weight_map(cells[1][1], 10.0, 5.0, "balanced"))
    x, y, w = ds[3]  # image 3 % 2 = 1
    hits = [
        (t, l)
        for t in range(29)
        for l in range(29)
        if np.array_equal(label[t : t + 20, l : l + 20], y.numpy())
        and np.array_equal(weights[t : t + 20, l : l + 20], w.numpy())
    ]
    assert hits
    t, l = hits[0]
    norm = normalize_image(cells[1][0])
    np.testing.assert_allclose(x[0, 12:32, 12:32].numpy(), norm[t : t + 20, l : l + 20], atol=1e-5)


def test_tiles_semantic_isbi_style():
    image, labels, _ = synthetic_em((48, 48), n_cells=4, seed=1)
    ds = TrainingTiles(image[None], labels[None], in_size=44, out_size=20, augment=AugmentConfig.off(), semantic=True)
    label, weights = ds.label_and_weights(0)
    np.testing.assert_array_equal(label, labels)
    np.testing.assert_array_equal(weights, weight_map(instances_from_labels(labels), 10.0, 5.0, "balanced"))
    assert weights[labels == 0].max() > 5  # membranes between cells get the Eq. 2 border weight


def test_weight_maps_cached_in_memory_and_on_disk(cells, tmp_path, monkeypatch):
    calls = []

    def counting(instances, w0, sigma, class_weights):
        calls.append(w0)
        return weight_map(instances, w0, sigma, class_weights)

    monkeypatch.setattr(data_tiles, "weight_map", counting)
    ds = _tiles(cells, length=6, cache_dir=tmp_path)
    for i in range(6):
        ds[i]
    assert len(calls) == 2 and len(list(tmp_path.glob("weights-*.npy"))) == 2
    assert not list(tmp_path.glob(".*"))  # no temporary files left

    def failing(*args):
        raise AssertionError("should have been read from the disk cache")

    monkeypatch.setattr(data_tiles, "weight_map", failing)
    fresh = _tiles(cells, length=6, cache_dir=tmp_path)
    np.testing.assert_array_equal(fresh.label_and_weights(0)[1], ds.label_and_weights(0)[1])
    monkeypatch.setattr(data_tiles, "weight_map", counting)
    _tiles(cells, cache_dir=tmp_path, w0=5.0).label_and_weights(0)  # other parameters: other key
    assert calls[-1] == 5.0 and len(list(tmp_path.glob("weights-*.npy"))) == 3


def test_tiles_dataloader_batches(cells):
    loader = torch.utils.data.DataLoader(_tiles(cells, length=4), batch_size=2)
    x, y, w = next(iter(loader))
    assert tuple(x.shape) == (2, 1, 44, 44) and tuple(y.shape) == (2, 20, 20) and tuple(w.shape) == (2, 20, 20)


@pytest.mark.parametrize(
    "images, targets, kw, match",
    [
        ([np.zeros((8, 8))], [], {}, "images and targets must be non-empty and of equal length"),
        ([np.zeros((8, 8))], [np.zeros((8, 9), int)], {}, r"targets\[0\] must be an integer \(H, W\) array"),
        ([np.zeros((8, 8))], [np.zeros((8, 8))], {}, r"targets\[0\] must be an integer"),
        ([np.zeros((8, 8))], [np.zeros((8, 8), int)], {"length": 0}, "length must be a positive int"),
    ],
)
def test_tiles_errors(images, targets, kw, match):
    float_targets = targets and np.asarray(targets[0]).dtype.kind == "f"
    with pytest.raises(TypeError if float_targets else ValueError, match=match):
        TrainingTiles(images, targets, **kw)


# --------------------------------------------------------------------------- real data (converted layout)
@pytest.mark.realdata
def test_real_isbi(data_dir):
    d = load_isbi2012(data_dir)
    assert d.train_images.shape == d.train_labels.shape == d.test_images.shape == (30, 512, 512)
    assert d.train_images.dtype == d.train_labels.dtype == np.uint8
    assert set(np.unique(d.train_labels)) == {0, 1}
    assert 0.7 < d.train_labels.mean() < 0.85  # SOURCES.md: 78.0 % of pixels are cell
    assert d.split == {"train": list(range(25)), "val": list(range(25, 30))}
    assert len(np.unique(instances_from_labels(d.train_labels[0]))) - 1 >= 80
    x, y, w = TrainingTiles(d.train_images[:1], d.train_labels[:1], in_size=188, out_size=4, semantic=True)[0]
    assert tuple(x.shape) == (1, 188, 188) and tuple(y.shape) == (4, 4)


@pytest.mark.realdata
def test_real_phc_u373(data_dir):
    gt = load_ctc("phc-u373", data_dir)
    assert len(gt) == 19 and {s.frame_id[:2] for s in gt} == {"02"} and {s.truth for s in gt} == {"gt"}
    assert gt[0].frame_id == "02/010" and gt[0].image.shape == gt[0].instances.shape == (520, 696)
    assert gt[0].image.dtype == np.uint8 and gt[0].instances.dtype == np.int32
    assert len(np.unique(gt[0].instances)) - 1 == 5  # SOURCES.md: frame 010 has 5 instances
    assert len(load_ctc("phc-u373", data_dir, split="train")) == 14
    assert len(load_ctc("phc-u373", data_dir, split="val")) == 5
    meta = data.readers.read_meta(data_dir / "phc-u373", "phc-u373")
    assert len(meta["sequences"]["01"]["gt_masks_without_images"]) == 15


@pytest.mark.realdata
def test_real_dic_hela_is_silver_truth_only(data_dir):
    with pytest.raises(ValueError, match="truth kinds available: st"):
        load_ctc("dic-hela", data_dir, truth="gt")
    st = load_ctc("dic-hela", data_dir, truth="st", sequences=["02"], split="val")
    assert len(st) == 84 and st[0].image.shape == (512, 512) and st[0].truth == "st"
    assert 9 <= len(np.unique(st[0].instances)) - 1 <= 17


def test_training_tiles_class_weights_option():
    from unet_core.data.loss_weights import weight_map
    from unet_core.data.synthetic import synthetic_cells

    image, inst = synthetic_cells((64, 64), seed=3)
    plain = TrainingTiles([image], [inst], in_size=60, out_size=20, augment=False, class_weights=None)
    balanced = TrainingTiles([image], [inst], in_size=60, out_size=20, augment=False)
    _, w_plain = plain.label_and_weights(0)
    _, w_bal = balanced.label_and_weights(0)
    np.testing.assert_array_equal(w_plain, weight_map(inst, 10.0, 5.0, None))
    np.testing.assert_array_equal(w_bal, weight_map(inst, 10.0, 5.0, "balanced"))
    assert not np.array_equal(w_plain, w_bal)
    pair = TrainingTiles([image], [inst], in_size=60, out_size=20, augment=False, class_weights=[1, 2])
    np.testing.assert_array_equal(pair.label_and_weights(0)[1], weight_map(inst, 10.0, 5.0, (1.0, 2.0)))
    with pytest.raises(ValueError, match="class_weights='bogus' is not valid"):
        TrainingTiles([image], [inst], in_size=60, out_size=20, class_weights="bogus")

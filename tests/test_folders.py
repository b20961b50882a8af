"""Your own images (unet_core.data.folders): pairing by name, reading, checks that name the file, the split."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from unet_core.data.folders import load_pairs, pair_files, read_image_file, read_label_file, split_names


def _cells(h=24, w=32):
    lab = np.zeros((h, w), np.uint16)
    lab[2:10, 2:12], lab[12:20, 14:28] = 1, 7
    return lab


def _folder(tmp_path, names=("a", "b", "c"), label_tag="", fmt="tif"):
    img, lab = tmp_path / "images", tmp_path / "labels"
    img.mkdir(), lab.mkdir()
    rng = np.random.default_rng(0)
    for i, n in enumerate(names):
        image = (rng.random((24, 32)) * (255 if i % 2 else 4000)).astype(np.uint8 if i % 2 else np.uint16)
        if fmt == "png":
            Image.fromarray(image).save(img / f"{n}.png")
        else:
            tifffile.imwrite(img / f"{n}.tif", image)
        tifffile.imwrite(lab / f"{n}{label_tag}.tif", _cells())
    return img, lab


@pytest.mark.parametrize("tag", ["", "_mask", "_labels"])
def test_images_and_labels_pair_by_name_with_or_without_a_label_tag(tmp_path, tag):
    img, lab = _folder(tmp_path, label_tag=tag, fmt="png")
    pairs = pair_files(img, lab)
    assert [p.name for p in pairs] == ["a", "b", "c"] and pairs[0].labels.name == f"a{tag}.tif"
    data = load_pairs(img, lab)
    assert data.names == ["a", "b", "c"] and data.images[0].dtype == np.float32
    assert set(np.unique(data.labels[0])) == {0, 1, 7} and data.ignore == [None, None, None]


def test_names_that_do_not_pair_are_all_listed(tmp_path):
    img, lab = _folder(tmp_path)
    (img / "d.tif").write_bytes((img / "a.tif").read_bytes())
    tifffile.imwrite(lab / "zz.tif", _cells())
    with pytest.raises(ValueError, match=r"without a label file .*d\.tif.*label files without an image .*zz\.tif"):
        pair_files(img, lab)


def test_empty_missing_and_duplicate_folders_are_refused_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    img, lab = _folder(tmp_path)
    with pytest.raises(ValueError, match="holds no image file"):
        pair_files(tmp_path / "empty", lab)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        pair_files(tmp_path / "nope", lab)
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(img / "a.png")
    with pytest.raises(ValueError, match=r"two files named 'a' \(a\.png and a\.tif\)"):
        pair_files(img, lab)


def test_labels_must_be_integers_of_the_images_size(tmp_path):
    img, lab = _folder(tmp_path)
    tifffile.imwrite(lab / "b.tif", _cells().astype(np.float32))
    with pytest.raises(ValueError, match=r"b\.tif holds float32 values; labels must be integers"):
        load_pairs(img, lab)
    tifffile.imwrite(lab / "b.tif", _cells(20, 32))
    with pytest.raises(ValueError, match=r"b\.tif has shape \(20, 32\) but its image .*b\.tif has \(24, 32\)"):
        load_pairs(img, lab)


def test_colour_images_are_refused_and_float_images_read(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"rgb\.png is a colour image"):
        read_image_file(tmp_path / "rgb.png")
    tifffile.imwrite(tmp_path / "f.tif", np.full((8, 8), 0.5, np.float32))
    assert read_image_file(tmp_path / "f.tif").mean() == pytest.approx(0.5)


def test_semantic_masks_become_cells_and_an_ignore_value_becomes_a_mask(tmp_path):
    mask = (_cells() > 0).astype(np.uint8) * 255
    mask[0, :] = 9  # not annotated
    tifffile.imwrite(tmp_path / "m.tif", mask)
    cells, ignore = read_label_file(tmp_path / "m.tif", semantic=True, ignore_value=9)
    assert cells.max() == 2 and ignore.sum() == 32 and not cells[0].any()
    with pytest.raises(ValueError, match=r"m\.tif holds the values \[0, 9, 255\]"):
        read_label_file(tmp_path / "m.tif", semantic=True)


def test_the_split_holds_out_a_seeded_share_and_never_everything():
    names = [f"n{i}" for i in range(10)]
    train, held = split_names(names, 0.2, seed=3)
    assert len(held) == 2 and sorted(train + held) == sorted(names) and not set(train) & set(held)
    assert split_names(names, 0.2, seed=3) == (train, held) and split_names(names, 0.2, seed=4) != (train, held)
    assert len(split_names(["a", "b"], 0.9)[0]) == 1
    with pytest.raises(ValueError, match="at least 2 annotated images"):
        split_names(["a"])


def test_training_tiles_give_unannotated_pixels_weight_zero():
    from unet_core.data.tiles import TrainingTiles

    image = np.random.default_rng(0).random((60, 60)).astype(np.float32)
    cells = np.zeros((60, 60), np.int32)
    cells[10:30, 10:30], cells[32:50, 32:50] = 1, 2
    ignore = np.zeros((60, 60), bool)
    ignore[:, :30] = True
    kw = dict(in_size=60, out_size=20, augment=False, class_weights=None)
    _, _, w_all = TrainingTiles([image], [cells], **kw)[0]
    _, _, w_part = TrainingTiles([image], [cells], ignore=[ignore], **kw)[0]
    assert (w_all > 0).all() and (w_part == 0).any() and (w_part > 0).any()
    tiles = TrainingTiles([image], [cells], ignore=[ignore], **kw)
    full = tiles.label_and_weights(0)[1]
    assert (full[ignore] == 0).all() and np.array_equal(full[~ignore], TrainingTiles([image], [cells], **kw)
                                                         .label_and_weights(0)[1][~ignore])  # fmt: skip
    with pytest.raises(ValueError, match=r"ignore\[0\] must be a bool mask"):
        TrainingTiles([image], [cells], ignore=[ignore[:5]], **kw)


def _synthetic_folder(n=4):
    from unet_core.data.folders import FolderData, ImagePair
    from unet_core.data.synthetic import synthetic_cells

    images, labels = zip(*(synthetic_cells((64, 64), n_cells=4, seed=s) for s in range(n)))
    names = [f"img{i}" for i in range(n)]
    return FolderData(names, [np.asarray(x, np.float32) for x in images], [np.asarray(y, np.int32) for y in labels],
                      [None] * n, [ImagePair(m, None, None) for m in names])  # fmt: skip


def test_train_folder_holds_out_images_records_the_split_and_scores_only_unseen_ones(tmp_path):
    import unet_core as uc
    from unet_core.recipes.folder import score_folder, train_folder

    data = _synthetic_folder()
    out = train_folder(data, tmp_path / "run.pt", held_out=0.25, iterations=3, base_channels=2, tile=204,
                       device="cpu", progress=False)  # fmt: skip
    assert len(out["held_out"]) == 1 and sorted(out["train"] + out["held_out"]) == data.names
    record = uc.load_checkpoint(tmp_path / "run.pt")["training_data"]
    assert record["train_frames"] == out["train"] and record["held_out"] == out["held_out"] and out["result"].step == 3
    scores = score_folder(out["model"], data, out["held_out"], device="cpu", trained_on=out["train"])
    assert set(scores["per image"]) == set(out["held_out"]) and 0 <= scores["all"]["SEG"] <= 1
    assert scores["all"]["truth cells"] == sum(s["truth cells"] for s in scores["per image"].values())
    with pytest.raises(ValueError, match="was trained on img"):
        score_folder(out["model"], data, out["train"][:1], device="cpu", trained_on=out["train"])
    semantic = score_folder(out["model"], data, out["held_out"], semantic=True, device="cpu")
    assert set(semantic["all"]) == {"pixel error", "Rand error", "warping error"}


def test_fine_tuning_starts_from_a_published_network_and_refuses_one_that_does_not_fit(tmp_path):
    import torch

    import unet_core as uc
    from unet_core.recipes.folder import initial_network, train_folder

    published, _ = uc.load_pretrained("phc-u373-cpu")
    start = initial_network("phc-u373-cpu", 2, 0)
    assert all(torch.equal(a, b) for a, b in zip(start.state_dict().values(), published.state_dict().values()))
    out = train_folder(_synthetic_folder(3), tmp_path / "ft.pt", init="phc-u373-cpu", iterations=1, device="cpu",
                       progress=False)  # fmt: skip
    assert uc.load_checkpoint(tmp_path / "ft.pt")["training_data"]["init"] == "phc-u373-cpu"
    assert out["model"].base_channels == published.base_channels
    uc.save_checkpoint(tmp_path / "three.pt", uc.UNet(base_channels=2, num_classes=3))
    with pytest.raises(ValueError, match=r"three\.pt' holds a network with 1 input channel\(s\) and 3 classes"):
        initial_network(tmp_path / "three.pt", 2, 0)
    with pytest.raises(ValueError, match="neither a recipe"):
        initial_network("no-such-thing", 2, 0)


def _cell_files(tmp_path, tag=""):
    """Four synthetic 64 x 64 cell images as 8-bit TIFFs and their instance labels (``<name><tag>.tif``)."""
    from unet_core.data.synthetic import synthetic_cells

    img, lab = tmp_path / "images", tmp_path / "labels"
    img.mkdir(), lab.mkdir()
    for s in range(4):
        image, cells = synthetic_cells((64, 64), n_cells=4, seed=s)
        tifffile.imwrite(img / f"f{s}.tif", (np.asarray(image) * 200).astype(np.uint8))
        tifffile.imwrite(lab / f"f{s}{tag}.tif", np.asarray(cells, np.uint16))
    return img, lab


def test_the_cli_trains_on_a_folder_and_scores_the_held_out_images(tmp_path, capsys):
    import json

    from unet_core.cli.commands import main

    img, lab = _cell_files(tmp_path, "_mask")
    args = ["train", "--images", str(img), "--labels", str(lab), "--iterations", "2", "--base-channels", "2",
            "--tile-size", "204", "--checkpoint", str(tmp_path / "f.pt"), "--json", str(tmp_path / "f.json"),
            "--device", "cpu", "-q"]  # fmt: skip
    assert main(args) == 0
    report = json.loads((tmp_path / "f.json").read_text())
    assert report["steps"] == 2 and len(report["held out"]) == 1 and "SEG" in report["scores"]["all"]
    assert "held out" in capsys.readouterr().out
    assert main(args) == 2  # the checkpoint exists: refused (a usage error), nothing overwritten
    assert "exists; pass --resume" in capsys.readouterr().err
    assert main(["train", "--images", str(img), "--device", "cpu"]) == 2
    assert "give both --images DIR and --labels DIR" in capsys.readouterr().err


def test_the_cli_evaluates_a_folder_skipping_the_images_the_network_trained_on(tmp_path, capsys):
    import json

    from unet_core.cli.commands import main

    img, lab = _cell_files(tmp_path)
    common = ["--images", str(img), "--labels", str(lab), "--device", "cpu", "-q"]
    assert main(["train", *common, "--iterations", "1", "--base-channels", "2", "--tile-size", "204",
                 "--checkpoint", str(tmp_path / "f.pt")]) == 0  # fmt: skip
    assert main(["evaluate", *common, "--checkpoint", str(tmp_path / "f.pt"), "--json", str(tmp_path / "e.json")]) == 0
    report = json.loads((tmp_path / "e.json").read_text())
    assert len(report["skipped (trained on)"]) == 3 and list(report["per image"]) == [
        n for n in ["f0", "f1", "f2", "f3"] if n not in report["skipped (trained on)"]
    ]
    assert main(["evaluate", *common]) == 2
    assert "--checkpoint PATH" in capsys.readouterr().err


def test_predict_writes_every_image_of_a_folder_or_stack_with_its_cells(tmp_path, capsys):
    import unet_core as uc
    from unet_core.cli.commands import main

    uc.save_checkpoint(tmp_path / "net.pt", uc.UNet(base_channels=2, depth=3))
    folder = tmp_path / "in"
    folder.mkdir()
    stack = np.random.default_rng(0).integers(0, 255, (3, 40, 40), dtype=np.uint8)
    for i in range(2):
        tifffile.imwrite(folder / f"im{i}.tif", stack[i])
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    args = ["--checkpoint", str(tmp_path / "net.pt"), "--device", "cpu", "-q", "--cells"]
    assert main(["predict", str(folder), "-o", str(tmp_path / "out"), *args]) == 0
    probs = np.load(tmp_path / "out" / "im0.npy")
    assert probs.shape == (2, 40, 40) and np.allclose(probs.sum(0), 1, atol=1e-5)
    assert tifffile.imread(tmp_path / "out" / "im1_cells.tif").dtype == np.uint16
    assert main(["predict", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "s"), *args]) == 0
    assert sorted(p.name for p in (tmp_path / "s").glob("*.npy")) == ["stack_000.npy", "stack_001.npy", "stack_002.npy"]
    assert main(["predict", str(folder), "-o", str(tmp_path / "x.npy"), *args]) == 2
    assert "must be an output folder" in capsys.readouterr().err

"""unet_core.book.viz / unet_core.book.widgets: results records, PNG encoding, the slider's static twin, Fig. 1 drawing."""

from __future__ import annotations

import base64
import io
import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from unet_core.book import viz
from unet_core.models.unet import UNet, layer_table  # noqa: E402


def _render(a, b):
    """Distinct image per (a, b): a in the red, b in the green channel."""
    img = np.zeros((6, 5, 3), np.uint8)
    img[..., 0], img[..., 1] = 40 * a, 60 * b
    return img


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


# --- to_png -----------------------------------------------------------------------------------------


def test_to_png_roundtrips_uint8_and_float_arrays():
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(_decode(viz.to_png(arr)), arr)
    np.testing.assert_array_equal(_decode(viz.to_png(np.array([[0.0, 1.0]]))), [[0, 255]])


def test_to_png_saves_and_closes_a_figure():
    fig, ax = plt.subplots(figsize=(1, 1))
    png = viz.to_png(fig, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ("x", TypeError, "image must be a matplotlib Figure or a numpy array, got str"),
        (np.zeros((2, 2, 2)), ValueError, r"image must have shape \(H, W\) or \(H, W, 3\|4\)"),
        (np.full((2, 2), 1.5), ValueError, r"float image values must lie in \[0, 1\], got range \[1.5, 1.5\]"),
    ],
)
def test_to_png_rejects_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        viz.to_png(bad)


# --- parameter_slider ---------------------------------------------------------------------------------


def test_parameter_slider_renders_every_combination_once():
    calls = []

    def render(a, b):
        calls.append((a, b))
        return _render(a, b)

    s = viz.parameter_slider(render, {"a": [1, 2, 3], "b": [0, 1]}, initial={"a": 2})
    assert sorted(calls) == [(a, b) for a in (1, 2, 3) for b in (0, 1)]
    assert s.initial == (1, 0) and len(s.images) == 6
    assert _decode(s.images[(2, 1)])[0, 0, :2].tolist() == [120, 60]
    assert repr(s) == "ParameterSlider(a[3] x b[2], 6 images)"


@pytest.mark.parametrize(
    "params, kwargs, match",
    [
        ({}, {}, "params must be a non-empty dict"),
        ({"a": []}, {}, r"params\['a'\] must list at least one value"),
        ({"a": range(5), "b": range(5)}, {"max_images": 20}, "params give 25 images, more than max_images=20"),
        ({"a": [1], "b": [0]}, {"initial": {"a": 7}}, r"initial\['a'\]=7 is not among the grid values \[1\]"),
        ({"a": [1], "b": [0]}, {"initial": {"c": 1}}, r"initial names \['c'\] are not parameters"),
    ],
)
def test_parameter_slider_rejects_bad_grids(params, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.parameter_slider(_render, params, **kwargs)


def _static_state(s):
    html = s.to_html()
    state = json.loads(re.search(r'widget-state\+json">(.*?)</script>', html, re.S).group(1))["state"]
    view = json.loads(re.search(r'widget-view\+json">(.*?)</script>', html, re.S).group(1))
    return state, view


def _ref(value: str) -> str:
    assert value.startswith("IPY_MODEL_")
    return value[len("IPY_MODEL_") :]


def test_static_twin_links_each_slider_to_the_right_images():
    """Follow the embedded state like the browser would: slider index -> jslink -> Stack -> PNG."""
    s = viz.parameter_slider(_render, {"a": [1, 2, 3], "b": [0, 1]}, initial={"a": 3, "b": 1}, title="t")
    state, view = _static_state(s)
    root = state[view["model_id"]]
    assert root["model_name"] == "VBoxModel"
    kids = [_ref(c) for c in root["state"]["children"]]
    sliders = [k for k in kids if state[k]["model_name"] == "SelectionSliderModel"]
    assert len(sliders) == 2 and state[kids[-1]]["model_name"] == "StackModel"
    links = [m["state"] for m in state.values() if m["model_name"] == "LinkModel"]
    assert len(links) == 1 + 3  # slider a -> the outer stack; slider b -> each of the 3 inner stacks
    target_of = {}
    for link in links:
        (src, src_attr), (dst, dst_attr) = link["source"], link["target"]
        assert (src_attr, dst_attr) == ("index", "selected_index")
        target_of[_ref(dst)] = sliders.index(_ref(src))
    outer = kids[-1]
    assert target_of[outer] == 0 and state[outer]["state"]["selected_index"] == 2
    for i, inner in enumerate(_ref(c) for c in state[outer]["state"]["children"]):
        assert target_of[inner] == 1 and state[inner]["state"]["selected_index"] == 1
        for j, img in enumerate(_ref(c) for c in state[inner]["state"]["children"]):
            model = state[img]
            assert model["model_name"] == "ImageModel"
            (buf,) = model["buffers"]
            assert buf["path"] == ["value"] and base64.b64decode(buf["data"]) == s.images[(i, j)]
    labels = [state[k]["state"]["_options_labels"] for k in sliders]
    assert labels == [["1", "2", "3"], ["0", "1"]]


def test_mimebundle_has_live_view_and_static_html():
    s = viz.parameter_slider(_render, {"a": [1, 2], "b": [0]})
    bundle = s._repr_mimebundle_()
    live = s.widget()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == live.model_id
    assert bundle["text/html"].count("application/vnd.jupyter.widget-state+json") == 1
    assert "<noscript><img" in bundle["text/html"]
    slider_a, image = live.children[0], live.children[-1]
    assert image.value == s.images[(0, 0)]
    slider_a.value = 1  # what the kernel-backed slider does when moved
    assert image.value == s.images[(1, 0)]


# --- results records --------------------------------------------------------------------------------


def test_record_results_merges_scales_and_keeps_published(tmp_path):
    viz.record_results(
        "05_init",
        {"var": np.float32(0.5), "n": np.int64(3)},
        scale="smoke",
        device="cpu",
        published={"var": "about 1"},
        directory=tmp_path,
    )
    path = viz.record_results(
        "05_init", {"var": 0.75, "sizes": (1, 2)}, scale="cpu", device="cpu", notes="synthetic", directory=tmp_path
    )
    doc = viz.load_results(tmp_path)["05_init"]
    assert path == tmp_path / "05_init.json"
    assert doc["published"] == {"var": "about 1"}
    assert doc["runs"]["smoke"]["values"] == {"var": 0.5, "n": 3}
    assert doc["runs"]["cpu"]["values"] == {"var": 0.75, "sizes": [1, 2]}
    assert doc["runs"]["cpu"]["notes"] == "synthetic" and doc["runs"]["cpu"]["device"].startswith("cpu: ")
    assert set(doc["runs"]["cpu"]["versions"]) == {"unet_core", "python", "torch", "numpy"}
    assert list(tmp_path.iterdir()) == [path]  # nothing half-written left behind


def test_results_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UNET_RESULTS_DIR", str(tmp_path))
    assert viz.results_dir() == tmp_path
    viz.record_results("x", {"a": 1}, scale="full", device="cpu")
    assert (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"chapter": "../evil"}, ValueError, r"chapter='../evil' must be the chapter's file stem"),
        ({"scale": "huge"}, ValueError, r"scale='huge' must be one of \('smoke', 'cpu', 'full'\)"),
        ({"values": {"a": object()}}, TypeError, r"values\['a'\] must be a number, string, bool or list"),
    ],
)
def test_record_results_rejects_bad_input(tmp_path, kwargs, exc, match):
    args = {"chapter": "c", "values": {"a": 1}, "scale": "smoke", **kwargs}
    with pytest.raises(exc, match=match):
        viz.record_results(args.pop("chapter"), args.pop("values"), device="cpu", directory=tmp_path, **args)
    assert not list(tmp_path.iterdir())


# --- Fig. 1 drawing ---------------------------------------------------------------------------------------


def test_draw_unet_has_one_box_per_feature_map_with_fig1_labels():
    from matplotlib.patches import Rectangle

    fig = viz.draw_unet(layer_table(UNet(base_channels=4), 572))
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 3 * 5 + 3 * 4 + 1  # 3 maps per level down and up, plus the output map
    texts = {t.get_text() for t in ax.texts}
    assert {"572²", "570²", "568²", "28²", "388²", "2"} <= texts
    plt.close(fig)

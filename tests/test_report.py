"""unet_core.book.report: numbers at the paper's precision and the provenance line of every recorded run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unet_core.book import viz
from unet_core.book.report import SMOKE_LABEL, decimals_of, fmt_like, md_table, provenance, reproduction


@pytest.mark.parametrize(
    "published, decimals",
    [
        (0.000353, 6),
        (0.0382, 4),
        (0.0611, 4),
        (0.9203, 4),
        (0.7756, 4),
        (5e-06, 6),
        (1.5e-05, 6),
        ("0.0010", 4),
        ("0.000005", 6),
        (23, 0),
        (572, 0),
        ("approximately 5", None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_decimals_of_reads_the_published_precision(published, decimals):
    assert decimals_of(published) == decimals


@pytest.mark.parametrize(
    "value, published, text",
    [
        (0.001580810546875, 0.000353, "0.001581"),
        (0.10811774956978693, 0.0382, "0.1081"),
        (0.048433527426113065, "0.0611", "0.0484"),
        (0.8772, 0.9203, "0.8772"),
        (0.0, 0.000353, "0.000000"),
        (0.048433527426113065, None, "0.0484"),
        (15.94, None, "15.9"),
        (2.7e-07, None, "2.70e-07"),
        (31030658, None, "31,030,658"),
        (572, 572, "572"),
        (1234.56, None, "1,235"),
        (None, None, "-"),
        (float("nan"), 0.1, "-"),
        ([1198, 874], None, "1198, 874"),
        ("bicubic", None, "bicubic"),
        (True, None, "True"),
    ],
)
def test_fmt_like(value, published, text):
    assert fmt_like(value, published) == text


def test_no_float_prints_with_16_digits():
    assert [fmt_like(v) for v in (0.1 + 0.2, 1 / 3, 2 / 3 * 1e-3, 123.456789)] == ["0.3", "0.333", "0.000667", "123"]


def test_provenance_of_a_chapter_run_and_of_a_recipe_record():
    run = {"device": "cpu: X, 2 threads", "date": "2026-12-01 23:21 UTC", "budget": "40 steps, 12 s"}
    assert provenance(run, "cpu") == "cpu scale; cpu: X, 2 threads; 40 steps, 12 s; 2026-12-01"
    record = {
        "recipe": {"scale": "cpu"},
        "device": "cpu: X",
        "date": "2026-12-01 23:21 UTC",
        "steps": 4500,
        "train seconds (this call)": 1821.6,
    }
    assert provenance(record) == "cpu scale; cpu: X; 4,500 steps, 1,822 s training; 2026-12-01"
    with pytest.raises(TypeError, match="run must be a recorded run"):
        provenance([1, 2])


def test_reproduction_is_full_else_cpu_never_smoke():
    doc = {"runs": {"smoke": {"values": {}}}}
    assert reproduction(doc) is None and reproduction(None) is None
    doc["runs"]["cpu"] = {"values": {"a": 1}}
    assert reproduction(doc)[0] == "cpu"
    doc["runs"]["full"] = {"values": {"a": 2}}
    assert reproduction(doc) == ("full", {"values": {"a": 2}})
    assert "not a reproduction" in SMOKE_LABEL


def test_md_table_escapes_pipes_and_checks_row_length():
    assert md_table(["a|b", "c"], [[0.123456, "x|y"]]).splitlines() == [
        "| a\\|b | c |",
        "| --- | --- |",
        "| 0.123 | x\\|y |",
    ]
    with pytest.raises(ValueError, match="rows must have 2 cells like the header, got 1"):
        md_table(["a", "b"], [[1]])


def test_smoke_results_never_go_into_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("UNET_RESULTS_DIR", raising=False)
    repo_results = Path(viz.__file__).resolve().parents[2] / "book" / "results"
    assert viz.results_dir("cpu") == repo_results and viz.results_dir("full") == repo_results
    smoke = viz.results_dir("smoke")
    assert repo_results not in (smoke, *smoke.parents) and Path.cwd() not in (smoke, *smoke.parents)
    path = viz.record_results("00_test", {"x": 1.0}, scale="smoke", device="cpu", budget="1 s")
    try:
        assert path.parent == smoke and json.loads(path.read_text())["runs"]["smoke"]["budget"] == "1 s"
    finally:
        path.unlink()
    monkeypatch.setenv("UNET_RESULTS_DIR", str(tmp_path))
    assert viz.results_dir("smoke") == tmp_path == viz.results_dir("cpu")

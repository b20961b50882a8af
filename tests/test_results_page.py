"""The results page's tables (unet_core.book.results_page): runs numbered once and cited as [k]."""

from __future__ import annotations

from unet_core.book.results_page import chapter_blocks, published_rows, run_index, runs_table

RUN = {"device": "cpu: X, 2 threads", "date": "2026-12-01 10:00 UTC", "budget": "5 s", "versions": {"torch": "2"}}
RESULTS = {
    "01_a": {"published": {"side": 572}, "runs": {"smoke": {**RUN, "values": {"side": 1}}}},
    "02_b": {
        "published": {"side": 388, "Rand error": "0.0382"},
        "runs": {"cpu": {**RUN, "values": {"side": 388, "Rand error": 0.08, "extra": 3}, "notes": "n"},
                 "full": {**RUN, "values": {"side": 388}}},
    },
}  # fmt: skip


def test_runs_are_numbered_once_and_smoke_runs_are_not_cited():
    assert run_index(RESULTS) == {("02_b", "cpu"): 1, ("02_b", "full"): 2}
    table = runs_table(RESULTS)
    assert table.count("\n") == 3 and "[1]" in table and "[2]" in table and "cpu: X, 2 threads" in table
    assert runs_table({"01_a": RESULTS["01_a"]}) == ""


def test_published_rows_cite_the_reproduction_run_and_skip_what_another_table_shows():
    rows = published_rows(RESULTS, skip=lambda chapter, key: key == "Rand error")
    assert rows == [["side", "572", "not reproduced yet", "-", "01_a"], ["side", "388", "388", "[2]", "02_b"]]
    assert any(r[0] == "Rand error" and r[3] == "[2]" and r[2] == "-" for r in published_rows(RESULTS))


def test_chapter_blocks_show_every_recorded_number_with_the_run_in_the_header():
    (block,) = chapter_blocks(RESULTS, link=lambda c: f"<{c}>")
    assert block.startswith("**<02_b>**") and "cpu run [1]" in block and "full run [2]" in block
    assert "| extra | - | 3 | - |" in block and "[1] n" in block

"""The claims table of the results page (unet_core.book.claims): the effect, its spread and the reading."""

from __future__ import annotations

import dataclasses
import json

from unet_core.book.claims import CLAIMS, Claim, claim_reading, claim_rows


def _write(folder, key, seed, **values):
    name = key if seed == 0 else f"{key}@seed{seed}"
    (folder / f"{name}.json").write_text(json.dumps({"values": values}))


PAIRED = Claim("q", "Sec. 1", "09_few_images", "t", "with", "without", "SEG", True, "higher", "0.001")
UNPAIRED = Claim("q", "Sec. 1", "10_border_term", "t", "w10", "w0", "merged cells", False, "lower", "1.0")


def test_a_paired_claim_reads_the_per_seed_difference(tmp_path):
    assert claim_reading(PAIRED, tmp_path) == ("-", "not recorded yet")
    _write(tmp_path, "with", 0, SEG=0.80)
    _write(tmp_path, "without", 0, SEG=0.70)
    assert claim_reading(PAIRED, tmp_path)[1] == "one seed: no spread yet"
    _write(tmp_path, "with", 1, SEG=0.60)  # seed 1: the arms far apart in level, the same gain
    _write(tmp_path, "without", 1, SEG=0.49)
    effect, reading = claim_reading(PAIRED, tmp_path)
    assert reading == "supports the claim" and effect.startswith("0.105 ± 0.007 (2 seeds)")
    _write(tmp_path, "with", 2, SEG=0.50)  # seed 2: elastic loses by much
    _write(tmp_path, "without", 2, SEG=0.70)
    assert claim_reading(PAIRED, tmp_path)[1] == "within the spread"


def test_an_unpaired_claim_needs_disjoint_intervals_and_its_sign_says_which_way(tmp_path):
    for seed, (a, b) in enumerate([(8, 20), (10, 24), (12, 22)]):
        _write(tmp_path, "w10", seed, **{"merged cells": a})
        _write(tmp_path, "w0", seed, **{"merged cells": b})
    effect, reading = claim_reading(UNPAIRED, tmp_path)
    assert reading == "supports the claim" and effect.startswith("-12.0")
    worse = dataclasses.replace(UNPAIRED, a="w0", b="w10")
    assert claim_reading(worse, tmp_path)[1] == "against the claim"


def test_every_registered_claim_names_a_chapter_and_gives_a_row(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
    import manifest

    rows = claim_rows(link={"09_few_images": "LINK"}, directory=tmp_path)
    assert len(rows) == len(CLAIMS) and all(c.chapter in manifest.stems() for c in CLAIMS)
    assert all(row[3] == "not recorded yet" for row in rows) and rows[0][4] == "LINK"

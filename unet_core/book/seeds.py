"""Results over seeds: the recorded runs of one recipe (or ablation row) trained from several seeds.

``book/scripts/run_recipes.py --seeds 0 1 2`` records seed 0 under the recipe's key and seed ``k`` under
``<key>@seed<k>`` (:func:`unet_core.recipes.registry.seeded`); :func:`unet_core.book.viz.recorded_seeds`
reads them back. The chapters and the results page show a
result as the mean +- the standard deviation over the recorded seeds, with every seed's value, and read a
difference between two rows as a finding only when their mean +- sd intervals do not overlap
(:func:`separated`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .report import fmt_like, md_table

__all__ = ["MAX_SEED", "SeedStats", "seed_stats", "fmt_spread", "separated", "seed_table"]

MAX_SEED = 20  # viz.recorded_seeds looks for seeds 0 .. MAX_SEED


@dataclass(frozen=True)
class SeedStats:
    """One measure over seeds: ``values`` per seed, their mean and sample standard deviation (ddof 1; 0 for one)."""

    values: dict[int, float]
    mean: float
    sd: float

    @property
    def n(self) -> int:
        return len(self.values)


def seed_stats(runs: Mapping[int, Mapping[str, Any]], measure: str) -> SeedStats | None:
    """Mean and standard deviation of ``run["values"][measure]`` over the runs that have it; None if none has.

    Examples
    --------
    >>> s = seed_stats({0: {"values": {"SEG": 0.8}}, 1: {"values": {"SEG": 0.9}}, 2: {"values": {}}}, "SEG")
    >>> s.n, round(s.mean, 3), round(s.sd, 4)
    (2, 0.85, 0.0707)
    """
    values = {
        int(k): float(r["values"][measure])
        for k, r in sorted(runs.items())
        if isinstance(r.get("values", {}).get(measure), (int, float))
    }
    if not values:
        return None
    mean = sum(values.values()) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values.values()) / (len(values) - 1)) if len(values) > 1 else 0.0
    return SeedStats(values, mean, sd)


def fmt_spread(stats: SeedStats | None, published: Any = None, seeds: bool = True) -> str:
    """``"0.0862 ± 0.0222 (3 seeds: 0.1081, 0.0642, 0.0863)"`` at the published precision; ``"-"`` for None.

    Examples
    --------
    >>> fmt_spread(SeedStats({0: 0.8, 1: 0.9}, 0.85, 0.0707), "0.9203")
    '0.8500 ± 0.0707 (2 seeds: 0.8000, 0.9000)'
    >>> fmt_spread(SeedStats({0: 0.8}, 0.8, 0.0), "0.92", seeds=False)
    '0.80 (1 seed)'
    """
    if stats is None:
        return "-"
    if stats.n == 1:
        return f"{fmt_like(stats.mean, published)} (1 seed)"
    text = f"{fmt_like(stats.mean, published)} ± {fmt_like(stats.sd, published)}"
    if seeds:
        return f"{text} ({stats.n} seeds: {', '.join(fmt_like(v, published) for v in stats.values.values())})"
    return f"{text} ({stats.n} seeds)"


def separated(a: SeedStats | None, b: SeedStats | None) -> bool:
    """Whether two results differ beyond their spread: both over >= 2 seeds and their mean +- sd intervals disjoint.

    Examples
    --------
    >>> separated(SeedStats({0: 1, 1: 3}, 2.0, 1.0), SeedStats({0: 5, 1: 7}, 6.0, 1.0))
    True
    >>> separated(SeedStats({0: 1, 1: 3}, 2.0, 1.0), SeedStats({0: 3, 1: 4}, 3.5, 0.7))
    False
    """
    if a is None or b is None or a.n < 2 or b.n < 2:
        return False
    return abs(a.mean - b.mean) > a.sd + b.sd


def seed_table(
    rows: Mapping[str, Mapping[int, Mapping[str, Any]]],
    measures: Sequence[str],
    published: Mapping[str, Any] | None = None,
    baseline: str | None = None,
) -> str:
    """A markdown table: one row per entry of ``rows`` (``{label: recorded_seeds(...)}``), mean +- sd per measure.

    With ``baseline`` (a label of ``rows``), a last column names the measures in which the row differs
    from the baseline beyond the spread (:func:`separated`), or says "within the spread".
    """
    published = published or {}
    header = ["", *measures, "seeds"] + (["differs from " + baseline] if baseline else [])
    base = {m: seed_stats(rows[baseline], m) for m in measures} if baseline in rows else {}
    body = []
    for label, runs in rows.items():
        stats = {m: seed_stats(runs, m) for m in measures}
        cells = [label, *[fmt_spread(stats[m], published.get(m), seeds=False) for m in measures]]
        cells.append(", ".join(str(k) for k in sorted(runs)) or "-")
        if baseline:
            if label == baseline:
                cells.append("")
            else:
                diff = [m for m in measures if separated(stats[m], base.get(m))]
                cells.append(", ".join(diff) if diff else "within the spread")
        body.append(cells)
    return md_table(header, body)

"""Results over seeds: the recorded runs of one recipe (or ablation row) trained from several seeds.

``book/scripts/run_recipes.py --seeds 0 1 2`` records seed 0 under the recipe's key and seed ``k`` under
``<key>@seed<k>`` (:func:`unet_core.recipes.registry.seeded`); :func:`unet_core.book.viz.recorded_seeds`
reads them back. The chapters and the results page show a
result as the mean +- the standard deviation over the recorded seeds, with every seed's value, and read a
difference between two rows as a finding only when their mean +- sd intervals do not overlap
(:func:`separated`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .report import fmt_like, md_table

__all__ = [
    "MAX_SEED",
    "SeedStats",
    "seed_stats",
    "fmt_spread",
    "separated",
    "paired_difference",
    "beyond_spread",
    "seed_table",
    "spread_rows",
]

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
    >>> seed_stats({k: {"values": {"t": 0.8}} for k in range(3)}, "t")
    SeedStats(values={0: 0.8, 1: 0.8, 2: 0.8}, mean=0.8, sd=0.0)
    """
    values = {
        int(k): float(r["values"][measure])
        for k, r in sorted(runs.items())
        if isinstance(r.get("values", {}).get(measure), (int, float))
    }
    if not values:
        return None
    # statistics sums exactly: equal values give their own value and sd 0.0, not 1e-16
    sd = statistics.stdev(values.values()) if len(values) > 1 else 0.0
    return SeedStats(values, statistics.mean(values.values()), sd)


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


def paired_difference(
    a: Mapping[int, Mapping[str, Any]], b: Mapping[int, Mapping[str, Any]], measure: str
) -> SeedStats | None:
    """``a - b`` in ``measure`` seed by seed, over the seeds both record (e.g. one network scored two ways).

    Where two rows share their networks (with and without test-time augmentation) the per-seed
    difference removes the seed-to-seed spread of the networks themselves.

    Examples
    --------
    >>> a = {0: {"values": {"e": 0.30}}, 1: {"values": {"e": 0.20}}, 2: {"values": {"e": 0.5}}}
    >>> b = {0: {"values": {"e": 0.25}}, 1: {"values": {"e": 0.17}}}
    >>> d = paired_difference(a, b, "e")
    >>> d.n, round(d.mean, 3), round(d.sd, 4)
    (2, 0.04, 0.0141)
    """
    sa, sb = seed_stats(a, measure), seed_stats(b, measure)
    if sa is None or sb is None:
        return None
    common = {k: sa.values[k] - sb.values[k] for k in sa.values if k in sb.values}
    return seed_stats({k: {"values": {measure: v}} for k, v in common.items()}, measure) if common else None


def beyond_spread(difference: SeedStats | None) -> bool:
    """Whether a per-seed difference (:func:`paired_difference`) exceeds its spread: >= 2 seeds, |mean| > sd.

    Examples
    --------
    >>> beyond_spread(SeedStats({0: 0.03, 1: 0.05}, 0.04, 0.014)), beyond_spread(SeedStats({0: 0.04}, 0.04, 0.0))
    (True, False)
    """
    return difference is not None and difference.n >= 2 and abs(difference.mean) > difference.sd


def seed_table(
    rows: Mapping[str, Mapping[int, Mapping[str, Any]]],
    measures: Sequence[str],
    published: Mapping[str, Any] | None = None,
    baseline: str | None = None,
) -> str:
    """A markdown table: one row per entry of ``rows`` (``{label: recorded_seeds(...)}``), mean +- sd per measure.

    With ``baseline`` (a label of ``rows``), a last column names the measures in which the row differs
    from the baseline beyond the spread (:func:`separated`), or says "within the spread" (or "one seed:
    no spread yet" where a row or the baseline has fewer than 2 seeds).
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
                few = any(s is not None and s.n < 2 for s in [*stats.values(), *base.values()])
                cells.append(", ".join(diff) if diff else "one seed: no spread yet" if few else "within the spread")
        body.append(cells)
    return md_table(header, body)


LOWER_IS_BETTER = ("error",)  # a measure whose name contains one of these: lower is better (else higher)


def verdict(stats: SeedStats, published: Any, measure: str) -> str:
    """Where the paper's value lies against ours: "reached" (within mean +- sd, or ours better) or "not reached".

    Examples
    --------
    >>> verdict(SeedStats({0: 0.08, 1: 0.06}, 0.07, 0.014), 0.0382, "Rand error")
    'not reached (ours higher)'
    >>> verdict(SeedStats({0: 0.048, 1: 0.047}, 0.0475, 0.0007), 0.0611, "pixel error")
    'reached (ours lower)'
    >>> verdict(SeedStats({0: 0.91, 1: 0.93}, 0.92, 0.014), 0.9203, "SEG")
    'reached (within the spread)'
    """
    if published is None or not isinstance(published, (int, float)):
        return "-"
    lower = any(word in measure for word in LOWER_IS_BETTER)
    if abs(stats.mean - published) <= stats.sd:
        return "reached (within the spread)"
    better = stats.mean < published if lower else stats.mean > published
    side = "lower" if stats.mean < published else "higher"
    return f"{'reached' if better else 'not reached'} (ours {side})"


def spread_rows(
    entries: Sequence[tuple[str, Mapping[int, Mapping[str, Any]], str, Any]],
) -> list[list[str]]:
    """Rows ``[run, measure, paper, mean +- sd (every seed), paper's value, published network]``.

    For :func:`report.md_table`. ``entries`` holds ``(recipe, recorded_seeds(recipe), measure, published
    value or None)``; the fifth cell is :func:`verdict` and the last names the seed whose network is
    published (seed 0, the recipe's own run) and its value.

    Examples
    --------
    >>> runs = {0: {"values": {"SEG": 0.877}}, 1: {"values": {"SEG": 0.874}}}
    >>> spread_rows([("phc-u373-cpu", runs, "SEG", 0.9203)])[0][3]
    '0.8755 ± 0.0021 (2 seeds: 0.8770, 0.8740)'
    """
    rows = []
    for recipe, runs, measure, published in entries:
        stats = seed_stats(runs, measure)
        if stats is None:
            continue
        seed0 = stats.values.get(0)
        rows.append(
            [
                f"`{recipe}`",
                measure,
                fmt_like(published, published) if published is not None else "-",
                fmt_spread(stats, published),
                verdict(stats, published, measure),
                f"seed 0: {fmt_like(seed0, published)}" if seed0 is not None else "-",
            ]
        )
    return rows

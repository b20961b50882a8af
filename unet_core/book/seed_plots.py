"""Charts of results over seeds: one dot per seed, the mean with a bar of +- one standard deviation.

The chapters compare rows of an experiment (a recipe and its ablations, the arms of a claim) by the
rule of :mod:`unet_core.book.seeds`: a difference is a finding only when the mean +- sd intervals are
disjoint. :func:`draw_seed_rows` draws exactly that, so that a reader sees the spread the text reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .seeds import seed_stats

__all__ = ["seed_rows_stats", "draw_seed_panel", "draw_seed_rows"]


def seed_rows_stats(rows: Mapping[str, Mapping[int, Mapping[str, Any]]], measure: str) -> dict:
    """``{row: SeedStats}`` of ``measure`` for the rows that record it (rows without it are left out).

    Parameters
    ----------
    rows : dict
        ``{label: {seed: recorded run}}``, e.g. :func:`unet_core.book.viz.recorded_seeds` per row.
    measure : str
        A key of the runs' ``"values"``.

    Examples
    --------
    >>> rows = {"a": {0: {"values": {"SEG": 0.8}}, 1: {"values": {"SEG": 0.9}}}, "b": {}}
    >>> {k: round(s.mean, 2) for k, s in seed_rows_stats(rows, "SEG").items()}
    {'a': 0.85}
    """
    out = {}
    for label, runs in rows.items():
        stats = seed_stats(runs, measure)
        if stats is not None:
            out[label] = stats
    return out


def draw_seed_panel(ax, rows: Mapping[str, Mapping[int, Mapping[str, Any]]], measure: str,
                    published: Mapping[str, float] | None = None, *, tick_labels: Sequence[str] | None = None,
                    row_colours: bool = False) -> dict:  # fmt: skip
    """One measure on one axis: a line per row, every seed a gray dot, the mean a diamond with +- sd.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    rows : dict
        ``{label: {seed: recorded run}}``; the first row is drawn at the top.
    measure : str
        A key of the runs' ``"values"``.
    published : dict or None
        ``{measure: value}``: a dotted vertical line (the paper's number) where it names ``measure``.
    tick_labels : sequence of str or None
        The rows' tick labels (default: the row labels; ``[""] * n`` for none).
    row_colours : bool
        Colour row ``i``'s mean ``C<i>`` (to match another panel's lines) instead of all ``C0``.

    Returns
    -------
    dict
        :func:`seed_rows_stats` of ``measure``; a panel without any recorded value says so instead.
    """
    labels = list(rows)
    stats = seed_rows_stats(rows, measure)
    for y, label in enumerate(labels):
        s = stats.get(label)
        if s is not None:
            ax.plot(list(s.values.values()), [y] * s.n, "o", color="0.55", ms=3.5, zorder=2)
            ax.errorbar([s.mean], [y], xerr=[s.sd] if s.n > 1 else None, fmt="D", ms=5,
                        color=f"C{y}" if row_colours else "C0", capsize=4, zorder=3)  # fmt: skip
    if published and measure in published:
        ax.axvline(float(published[measure]), ls=":", color="0.3", lw=1, label="paper")
        ax.legend(fontsize=7, loc="best")
    if not stats:
        ax.text(0.5, 0.5, "not recorded yet", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    ax.set_yticks(range(len(labels)), labels if tick_labels is None else list(tick_labels), fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(measure, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", lw=0.3)
    return stats


def draw_seed_rows(
    rows: Mapping[str, Mapping[int, Mapping[str, Any]]],
    measures: Sequence[str],
    title: str,
    published: Mapping[str, float] | None = None,
    width: float = 7.5,
):
    """One panel per measure (:func:`draw_seed_panel`), one line per row: every seed a dot, the mean +- sd.

    Parameters
    ----------
    rows : dict
        ``{label: {seed: recorded run}}``; the first row is drawn at the top.
    measures : sequence of str
        Keys of the runs' ``"values"``, one panel each.
    title : str
    published : dict or None
        ``{measure: value}`` drawn as a dotted vertical line (the paper's number).
    width : float
        Figure width in inches (7.5 fits the book's text column).

    Returns
    -------
    matplotlib.figure.Figure
        A panel without any recorded value says so instead of drawing.

    Raises
    ------
    ValueError
        If ``measures`` is empty.
    """
    import matplotlib.pyplot as plt

    if not measures:
        raise ValueError("measures must name at least one recorded measure, got none; e.g. ['SEG']")
    fig, axes = plt.subplots(1, len(measures), figsize=(width, 0.45 * len(rows) + 1.1), squeeze=False)
    for i, (ax, measure) in enumerate(zip(axes[0], measures)):
        draw_seed_panel(ax, rows, measure, published, tick_labels=None if i == 0 else [""] * len(rows))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig

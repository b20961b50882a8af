"""The tables of the results page: each published number beside ours, each run's provenance given once.

A chapter records its runs with :func:`unet_core.book.viz.record_results`; the results page reads
them all (:func:`unet_core.book.viz.load_results`). Every run a table cites gets a number in one run
table (:func:`run_index`), and the tables cite it as ``[k]`` instead of repeating its device, cost and
date in every row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .report import fmt_like, md_table, provenance, reproduction

__all__ = ["run_index", "runs_table", "published_rows", "chapter_blocks"]


def run_index(results: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    """``{(chapter, scale): k}``, k = 1, 2, ... for every ``cpu`` or ``full`` run recorded, in chapter order.

    Examples
    --------
    >>> results = {"01_a": {"runs": {"smoke": {}, "cpu": {}}}, "02_b": {"runs": {"cpu": {}, "full": {}}}}
    >>> run_index(results)
    {('01_a', 'cpu'): 1, ('02_b', 'cpu'): 2, ('02_b', 'full'): 3}
    """
    index: dict[tuple[str, str], int] = {}
    for chapter, doc in results.items():
        for scale in ("cpu", "full"):
            if scale in doc.get("runs", {}):
                index[(chapter, scale)] = len(index) + 1
    return index


def runs_table(results: Mapping[str, Mapping[str, Any]], link: Callable[[str], str] = str) -> str:
    """The run table: ``[k] | chapter | scale, device, cost, date | versions``, one row per run of :func:`run_index`."""
    rows = []
    for (chapter, scale), k in run_index(results).items():
        run = results[chapter]["runs"][scale]
        v = run.get("versions", {})
        rows.append([f"[{k}]", link(chapter), provenance(run, scale),
                     f"unet_core {v.get('unet_core', '?')}, torch {v.get('torch', '?')}"])  # fmt: skip
    return md_table(["run", "chapter", "scale; device; cost; date", "versions"], rows) if rows else ""


def published_rows(
    results: Mapping[str, Mapping[str, Any]],
    link: Callable[[str], str] = str,
    skip: Callable[[str, str], bool] | None = None,
) -> list[list[str]]:
    """``[quantity, paper, ours, run, chapter]`` for every published number of every chapter.

    ``ours`` is the chapter's reproduction run (``full``, else ``cpu``: :func:`~unet_core.book.report.reproduction`),
    ``run`` its ``[k]`` of :func:`run_index`; "not reproduced yet" where no such run is recorded.
    ``skip(chapter, quantity)`` leaves a quantity out (e.g. the scores that a table over seeds shows).
    """
    index, rows = run_index(results), []
    for chapter, doc in results.items():
        best = reproduction(doc)
        for key, paper in doc.get("published", {}).items():
            if skip is not None and skip(chapter, key):
                continue
            if best is None:
                rows.append([key, fmt_like(paper, paper), "not reproduced yet", "-", link(chapter)])
                continue
            scale, run = best
            value = run["values"].get(key)
            ours = fmt_like(value, paper) if value is not None else "-"
            rows.append([key, fmt_like(paper, paper), ours, f"[{index[(chapter, scale)]}]", link(chapter)])
    return rows


def chapter_blocks(results: Mapping[str, Mapping[str, Any]], link: Callable[[str], str] = str) -> list[str]:
    """Per chapter with a ``cpu`` or ``full`` run: every recorded number beside the paper's, runs cited as ``[k]``."""
    index, blocks = run_index(results), []
    for chapter, doc in results.items():
        runs = [(s, doc["runs"][s]) for s in ("cpu", "full") if s in doc.get("runs", {})]
        if not runs:
            continue
        keys = list(dict.fromkeys(k for _, run in runs for k in run["values"]))
        published = doc.get("published", {})
        table = md_table(
            ["quantity", "paper", *[f"{s} run [{index[(chapter, s)]}]" for s, _ in runs]],
            [[k, fmt_like(published.get(k), published.get(k)),
              *[fmt_like(run["values"].get(k), published.get(k)) for _, run in runs]] for k in keys],
        )  # fmt: skip
        notes = [f"[{index[(chapter, s)]}] {run['notes']}" for s, run in runs if run.get("notes")]
        blocks.append("\n".join([f"**{link(chapter)}**", "", table, "", *notes]))
    return blocks

"""One call per chapter to record its run: the numbers, what they cost, and where they came from.

A chapter computes its values; :func:`record_chapter_run` writes them with
:func:`unet_core.book.viz.record_results`, reads the run back and says on the page where it went and what
it cost. :func:`networks_budget` says what the chapter's networks cost (published, found or trained).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .report import provenance
from .viz import load_results, record_results

__all__ = ["networks_budget", "record_chapter_run"]


def networks_budget(nets: Mapping[str, Any], extra: str = "") -> str:
    """``"published network isbi2012-cpu: 4,500 steps, 1,822 s training; <extra>"``, one part per network.

    Parameters
    ----------
    nets : dict
        ``{name: Network}`` (:func:`unet_core.book.networks.obtain_network`: ``source``, ``steps``,
        ``seconds``).
    extra : str
        Appended after a "; " (e.g. the scoring time).

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> networks_budget({"a": N(source="published", steps=4500, seconds=1822.4), "b": N(source="trained",
    ...                  steps=30, seconds=None)}, "scored in 3 s")
    'published network a: 4,500 steps, 1,822 s training; b: 30 steps; scored in 3 s'
    """
    parts = []
    for name, net in nets.items():
        what = "published network " if net.source == "published" else ""
        seconds = f", {net.seconds:,.0f} s training" if net.seconds else ""
        parts.append(f"{what}{name}: {net.steps:,} steps{seconds}")
    return "; ".join(parts + ([extra] if extra else []))


def record_chapter_run(
    chapter: str,
    values: Mapping[str, Any],
    *,
    scale: str,
    device: Any,
    published: Mapping[str, Any] | None = None,
    notes: str = "",
    budget: str = "",
) -> dict:
    """Record ``values`` for ``chapter`` at ``scale``, print where and at what cost, return the recorded run.

    Parameters and Raises: those of :func:`unet_core.book.viz.record_results`.

    Returns
    -------
    dict
        The run as the results page reads it (``values``, ``device``, ``date``, ``budget``, ...).
    """
    path = record_results(chapter, values, scale=scale, device=device, published=published or {}, notes=notes,
                          budget=budget)  # fmt: skip
    run = load_results(path.parent)[chapter]["runs"][scale]
    print(f"recorded in results/{path.name}: {provenance(run, scale)}")
    return run

"""Book helpers: numbers at the paper's precision, and where each number came from.

Re-exported by :mod:`unet_core.book.viz` (``viz.fmt_like``, ``viz.provenance``, ``viz.reproduction``,
``viz.md_table``). The rules every page follows:

* a value printed beside a published one has the published number of decimals (the paper writes
  ``0.000353`` and ``0.0382``, so ours read ``0.001581`` and ``0.1081``); other floats get 3
  significant digits;
* a reproduced number stands beside a published one only when it comes from a ``cpu`` or ``full``
  run, and the row says which: scale, device, steps or wall time, date (:func:`provenance`);
  ``smoke`` runs are pipeline checks, shown only under a label that says so (:data:`SMOKE_LABEL`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..utils.check_cap import label

__all__ = ['decimals_of', 'fmt_like', 'provenance', 'reproduction', 'md_table', 'training_note', 'SMOKE_LABEL']


SMOKE_LABEL = "smoke (pipeline check on reduced data or a tiny network; not a reproduction)"


def decimals_of(published: Any) -> int | None:
    """Number of decimals the paper wrote ``published`` with (``0.000353`` -> 6, ``0.92`` -> 2, ``23`` -> 0).

    Parameters
    ----------
    published : float, int or str
        A published value as recorded (strings such as ``"0.0382"`` keep trailing zeros).

    Returns
    -------
    int or None
        None for values that are not numbers (text such as ``"10 h"``).

    Examples
    --------
    >>> decimals_of(0.000353), decimals_of("0.9203"), decimals_of(23), decimals_of("fast")
    (6, 4, 0, None)
    """
    if isinstance(published, bool):
        return None
    if isinstance(published, int):
        return 0
    if isinstance(published, float):
        if not math.isfinite(published):
            return None
        text = repr(published)
        if "e" in text:  # e.g. 5e-06
            mantissa, exp = text.split("e")
            return max(0, len(mantissa.partition(".")[2].rstrip("0")) - int(exp))
        return len(text.partition(".")[2].rstrip("0"))
    if isinstance(published, str):
        try:
            float(published)
        except ValueError:
            return None
        mantissa = published.strip().lower().split("e")[0]
        return len(mantissa.partition(".")[2])
    return None


def fmt_like(value: Any, published: Any = None, sig: int = 3) -> str:
    """``value`` as text: at the decimals of ``published`` when given, else ``sig`` significant digits.

    Parameters
    ----------
    value : number, str, bool, list or None
        None and NaN print as ``"-"``; lists as comma-separated items; ints >= 10,000 with separators.
    published : number or str, optional
        The paper's value for the same quantity (see :func:`decimals_of`).
    sig : int
        Significant digits of floats without a published counterpart.

    Returns
    -------
    str

    Examples
    --------
    >>> fmt_like(0.00158081, 0.000353), fmt_like(0.10811, "0.0382"), fmt_like(0.048433), fmt_like(31030658)
    ('0.001581', '0.1081', '0.0484', '31,030,658')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_like(v, None, sig) for v in value)
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        digits = decimals_of(published) if published is not None else None
        if digits is not None:
            return f"{value:.{digits}f}"
        if value == 0 or not math.isfinite(value):
            return f"{value:g}"
        if abs(value) >= 10**sig:
            return f"{value:,.0f}"
        return f"{value:.{sig}g}" if abs(value) >= 1e-4 else f"{value:.{sig - 1}e}"
    return str(value)


def provenance(run: Mapping[str, Any], scale: str | None = None) -> str:
    """One line saying where a recorded run's numbers came from: scale, device, budget, date.

    Parameters
    ----------
    run : dict
        A run entry of :func:`unet_core.book.viz.record_results` (``device``, ``date``, optional ``budget``)
        or a recipe record of ``book/scripts/run_recipes.py`` (``device``, ``date``, ``steps``,
        ``train seconds (this call)``, ``recipe.scale``).
    scale : str, optional
        The run's scale, when ``run`` does not carry it.

    Returns
    -------
    str
        e.g. ``"cpu scale; cpu: Intel(R) Xeon(R), 2 threads; 4,500 steps, 1,822 s training; 2026-12-01"``;
        a capped check run (``check_cap`` in ``run``) starts with :func:`unet_core.utils.check_cap.label`.

    Examples
    --------
    >>> provenance({"device": "cpu: X, 2 threads", "date": "2026-12-01 23:21 UTC", "budget": "12 s"}, "cpu")
    'cpu scale; cpu: X, 2 threads; 12 s; 2026-12-01'
    """
    if not isinstance(run, Mapping):
        raise TypeError(f"run must be a recorded run (dict with 'device' and 'date'), got {type(run).__name__}")
    scale = scale or run.get("scale") or (run.get("recipe") or {}).get("scale")
    parts = [f"{scale} scale" if scale else None, run.get("device")]
    if run.get("check_cap"):  # a capped check run ($UNET_CHECK_CAP) says so wherever it is cited
        parts.insert(0, label(run["check_cap"]))
    budget = run.get("budget")
    if not budget and run.get("steps") is not None:
        secs = run.get("train seconds (this call)")
        budget = f"{run['steps']:,} steps" + (f", {secs:,.0f} s training" if secs else "")
    parts.append(budget)
    parts.append(str(run.get("date", ""))[:10] or None)
    return "; ".join(p for p in parts if p)


def reproduction(doc: Mapping[str, Any] | None) -> tuple[str, dict] | None:
    """The run of a chapter's results file that counts as its reproduction: ``full``, else ``cpu``.

    Parameters
    ----------
    doc : dict or None
        A chapter's results (``viz.load_results()[chapter]``), or None.

    Returns
    -------
    (scale, run) or None
        None when only a ``smoke`` run (a pipeline check), a capped check run (``check_cap``,
        :mod:`unet_core.utils.check_cap`) or nothing is recorded.
    """
    if not doc:
        return None
    for scale in ("full", "cpu"):
        if scale in doc.get("runs", {}) and not doc["runs"][scale].get("check_cap"):
            return scale, doc["runs"][scale]
    return None


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; cells are formatted with :func:`fmt_like` unless they are already text.

    Examples
    --------
    >>> print(md_table(["a", "b"], [[1, 0.5]]))
    | a | b |
    | --- | --- |
    | 1 | 0.5 |
    """

    def cell(v):
        return (v if isinstance(v, str) else fmt_like(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"rows must have {len(header)} cells like the header, got {len(row)}: {list(row)!r}")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def training_note(steps: int, seconds: float, wall_seconds: float, device: str, steps_before: int | None = None) -> str:
    """How a chapter's network was trained, from what :func:`unet_core.train` returned.

    Parameters
    ----------
    steps : int
        ``result.step``.
    seconds : float
        ``result.seconds``: the time of all its training steps, kept in the checkpoint (0 if it predates that).
    wall_seconds : float
        How long this call took.
    device : str
        Where this call ran.
    steps_before : int or None
        The steps its checkpoint held before the call (:func:`unet_core.book.viz.checkpoint_steps`). When
        given, it decides: all ``steps`` -> trained before this run. None: judged by the times (a
        call much shorter than the training it reports did not train), which a training of a few
        steps (``$UNET_CHECK_CAP``) can fool.

    Returns
    -------
    str
        "trained in this run: ..." or, when the checkpoint was finished before the call (say by
        ``torchrun ... train --recipe`` in the book-full workflow), "trained before this run: ...".

    Examples
    --------
    >>> training_note(4500, 1530.2, 1531.0, "cpu")
    'trained in this run: 4,500 steps, 1,530 s on cpu'
    >>> training_note(5000, 3600.0, 2.0, "cuda")
    'trained before this run (its checkpoint under runs/): 5,000 steps, 3,600 s of training steps'
    >>> training_note(1, 6.0, 5.0, "cpu", steps_before=1)
    'trained before this run (its checkpoint under runs/): 1 steps, 6 s of training steps'
    """
    before = seconds and wall_seconds < 0.5 * seconds if steps_before is None else steps_before >= steps
    if before:
        return (
            f"trained before this run (its checkpoint under runs/): {steps:,} steps, {seconds:,.0f} s of training steps"
        )
    return f"trained in this run: {steps:,} steps, {seconds or wall_seconds:,.0f} s on {device}"

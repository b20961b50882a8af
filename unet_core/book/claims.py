"""The paper's claims, each with the test a chapter puts it to and what the recorded runs say.

One row per claim for the results page: the claim, the comparison (two arms of recorded runs over
seeds), the difference with its spread, and a reading by the book's rule (:mod:`unet_core.book.seeds`):
a difference counts only when it exceeds its spread. Paired arms (the same seeds, the same frames and
initial weights, one change) are compared seed by seed (:func:`~unet_core.book.seeds.paired_difference`);
others by their mean +- sd intervals (:func:`~unet_core.book.seeds.separated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..recipes.experiments import few_images, learning_rates
from .comparisons import ablation_key
from .report import fmt_like
from .seeds import SeedStats, beyond_spread, fmt_spread, paired_difference, seed_stats, separated
from .viz import recorded_seeds

__all__ = ["Claim", "CLAIMS", "claim_reading", "claim_rows"]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and one test of it: ``effect`` = arm ``a`` minus arm ``b`` in ``measure``.

    ``a`` and ``b`` are recorded keys (:func:`~unet_core.book.viz.recorded_seeds`); ``paired``: the arms
    share seeds, frames and initial weights; ``better``: "higher" or "lower" (which sign of the effect
    supports the claim); ``digits``: a number with the precision to show.
    """

    quote: str
    where: str
    chapter: str
    test: str
    a: str
    b: str
    measure: str
    paired: bool
    better: str
    digits: str


def _claims() -> tuple[Claim, ...]:
    few = [
        Claim(
            "random elastic deformations ... seem to be the key concept to train a segmentation network with "
            "very few annotated images",
            "Sec. 3.1",
            "09_few_images",
            f"PhC-U373, {n} training frame{'s' if n > 1 else ''}, 1000 steps: SEG with minus without elastic "
            "deformation",
            few_images("phc-u373-cpu", n, 0, 1000, True).name,
            few_images("phc-u373-cpu", n, 0, 1000, False).name,
            "SEG",
            True,
            "higher",
            "0.001",
        )
        for n in (1, 2)
    ]
    sgd = learning_rates("isbi2012-paper", [1e-3], 4500)[1e-3].name
    return (
        *few,
        Claim(
            "[the weight map forces] the network to learn the small separation borders that we introduce "
            "between touching cells",
            "Sec. 3",
            "10_border_term",
            "DIC-HeLa, 4500 steps: merged cells with w0 = 10 minus with w0 = 0",
            "dic-hela-cpu",
            ablation_key("dic-hela-cpu", 4500, "w0 = 0"),
            "merged cells",
            True,  # an ablation row of seed k starts from the recipe's seed-k weights and draws its tiles
            "lower",
            "1.0",
        ),
        Claim(
            "averaged over 7 rotated versions of the input data",
            "Sec. 4",
            "06_isbi2012",
            "ISBI 2012, 4500 steps: warping error with minus without test-time augmentation (same networks)",
            "isbi2012-cpu",
            ablation_key("isbi2012-cpu", 4500, "no TTA"),
            "warping error",
            True,
            "lower",
            "0.000001",
        ),
        Claim(
            "a high momentum (0.99) such that a large number of the previously seen training samples "
            "determine the update",
            "Sec. 3",
            "11_optimiser",
            "ISBI 2012, 4500 steps: Rand error of the paper's SGD (momentum 0.99, batch 1, lr 1e-3) minus the "
            "cpu recipe's Adam (negative: batch 1 with momentum trains better)",
            sgd,
            "isbi2012-cpu",
            "Rand error",
            False,
            "lower",
            "0.0001",
        ),
    )


CLAIMS = _claims()


def _effect(claim: Claim, directory=None) -> tuple[SeedStats | None, bool, int]:
    """(the effect a - b over seeds, whether it exceeds its spread, the fewest seeds of an arm)."""
    a, b = recorded_seeds(claim.a, directory), recorded_seeds(claim.b, directory)
    sa, sb = seed_stats(a, claim.measure), seed_stats(b, claim.measure)
    if sa is None or sb is None:
        return None, False, 0
    if claim.paired:
        d = paired_difference(a, b, claim.measure)
        return d, beyond_spread(d), 0 if d is None else d.n
    diff = SeedStats({}, sa.mean - sb.mean, (sa.sd**2 + sb.sd**2) ** 0.5)
    return diff, separated(sa, sb), min(sa.n, sb.n)


def claim_reading(claim: Claim, directory=None) -> tuple[str, str]:
    """``(effect text, reading)`` of one claim from the recorded runs.

    The reading is "supports the claim" or "against the claim" when the effect exceeds its spread
    (its sign decides which), "within the spread", "one seed: no spread yet" or "not recorded yet".
    """
    effect, beyond, n = _effect(claim, directory)
    if effect is None:
        return "-", "not recorded yet"
    text = (
        fmt_spread(effect, claim.digits, seeds=False)
        if claim.paired
        else f"{fmt_like(effect.mean, claim.digits)} (arms {n}+ seeds each; sd of the difference "
        f"{fmt_like(effect.sd, claim.digits)})"
    )
    if n < 2:
        return text, "one seed: no spread yet"
    if not beyond:
        return text, "within the spread"
    good = effect.mean > 0 if claim.better == "higher" else effect.mean < 0
    return text, "supports the claim" if good else "against the claim"


def claim_rows(claims=CLAIMS, link: Mapping[str, str] | None = None, directory=None) -> list[list[Any]]:
    """Rows ``[claim, test, effect, reading, chapter]`` for :func:`~unet_core.book.report.md_table`.

    ``link`` maps a chapter stem to the text that links it (e.g. a MyST ``{ref}``); by default the stem.
    """
    rows = []
    for claim in claims:
        effect, reading = claim_reading(claim, directory)
        chapter = (link or {}).get(claim.chapter, claim.chapter)
        rows.append([f'"{claim.quote}" ({claim.where})', claim.test, effect, reading, chapter])
    return rows

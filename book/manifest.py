"""The chapters of the book, each declared once: its file, label, datasets and recipes per scale.

    python book/manifest.py chapters [--json]        # the chapters' stems, in book order
    python book/manifest.py datasets 06_isbi2012     # the datasets it needs (one per line)
    python book/manifest.py recipes 06_isbi2012 --scale full

Who reads it: ``book/build.py`` (which ``book/*.py`` files are chapters), ``book/scripts/pretrain.py``
(which recipes a chapter trains at a scale), ``book/scripts/colab_check.py`` and the ``book-full``
workflow (which datasets to fetch, which chapters to run), ``book/scripts/run_recipes.py`` (the steps
of the ablation tables the chapters show) and the results page ``book/results.py`` (each chapter's
label). The chapters keep their own readable declarations (the Colab cell's ``DATASETS``, the
``RECIPE``/``RECIPES`` dicts keyed by scale, ``ABLATION_STEPS``, the ``(label)=`` above the title);
``tests/test_book.py`` checks that every chapter says what its entry here says, and that ``_toc.yml``
lists exactly these chapters, in this order.

Standard library only, so that the build and CI read it without installing the package (the
workflow's plan job runs it with the runner's Python). To add a chapter: one :class:`Chapter` in
:data:`CHAPTERS` (see ``book/CONTRIBUTING.md``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field

__all__ = ["SCALES", "Chapter", "CHAPTERS", "stems", "chapter", "datasets", "recipes", "label", "ablation_steps"]

SCALES = ("smoke", "cpu", "full")
_STEM = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")
_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book.

    Parameters
    ----------
    stem : str
        File stem: the chapter is ``book/<stem>.py`` (and its paired ``.ipynb``), listed in
        ``_toc.yml`` as ``book/<stem>``, and records ``book/results/<stem>.json``.
    label : str
        The MyST target above the chapter's title (``(<label>)=``), which the results page and the
        other chapters link to.
    datasets : tuple of str
        Datasets (``data_scripts.fetch`` names) the chapter reads at ``cpu`` and ``full`` scale: what
        its Colab cell fetches (``DATASETS``) and what the ``book-full`` workflow fetches before it.
    recipes : dict of str to tuple of str
        Per scale (all of :data:`SCALES`, or empty for a chapter that runs no recipe), the registered
        recipes (``unet_core.recipes.registry``) the chapter trains or loads at that scale, in the
        order of its code. ``book/scripts/pretrain.py`` trains those at ``cpu``/``full`` that are not
        published.
    ablations : dict of str to int
        Per base recipe, the steps of the recorded ablation table the chapter shows
        (``book/scripts/run_recipes.py --ablations BASE --steps N`` writes it).
    """

    stem: str
    label: str
    datasets: tuple[str, ...] = ()
    recipes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ablations: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if not _STEM.match(self.stem):
            raise ValueError(
                f"Chapter.stem={self.stem!r} must be NN_name (two digits, an underscore, lower-case "
                "letters, digits or underscores): the file book/<stem>.py, e.g. '06_isbi2012'"
            )
        if not _LABEL.match(self.label):
            raise ValueError(
                f"Chapter({self.stem!r}).label={self.label!r} must be the chapter's MyST target "
                "(lower-case letters, digits and hyphens), e.g. 'cell-tracking' for '(cell-tracking)='"
            )
        if not isinstance(self.datasets, tuple) or not all(isinstance(d, str) for d in self.datasets):
            raise TypeError(
                f"Chapter({self.stem!r}).datasets={self.datasets!r} must be a tuple of dataset names, "
                "e.g. ('isbi2012',)"
            )
        if self.recipes and set(self.recipes) != set(SCALES):
            raise ValueError(
                f"Chapter({self.stem!r}).recipes has the scales {sorted(self.recipes)}; it must name "
                f"the recipes of every scale {SCALES} (or be empty for a chapter that runs none)"
            )
        for scale, names in self.recipes.items():
            if not isinstance(names, tuple) or not names or not all(isinstance(n, str) for n in names):
                raise TypeError(
                    f"Chapter({self.stem!r}).recipes[{scale!r}]={names!r} must be a non-empty tuple "
                    "of recipe names, e.g. ('isbi2012-cpu',)"
                )
        for base, steps in self.ablations.items():
            if not isinstance(steps, int) or steps < 1:
                raise ValueError(
                    f"Chapter({self.stem!r}).ablations[{base!r}]={steps!r} must be a whole number "
                    "of training steps >= 1 (the chapter's ABLATION_STEPS)"
                )


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_architecture", "architecture"),
    Chapter("02_overlap_tile", "overlap-tile", datasets=("isbi2012",)),
    Chapter("03_weight_map", "weight-map", datasets=("phc-u373", "dic-hela")),
    Chapter("04_elastic", "elastic", datasets=("isbi2012",)),
    Chapter("05_initialisation", "initialisation", datasets=("isbi2012",)),
    Chapter(
        "06_isbi2012",
        "isbi2012",
        datasets=("isbi2012",),
        recipes={"smoke": ("isbi2012-smoke",), "cpu": ("isbi2012-cpu",), "full": ("isbi2012-full",)},
        ablations={"isbi2012-cpu": 500},
    ),
    Chapter(
        "07_cell_tracking",
        "cell-tracking",
        datasets=("phc-u373", "dic-hela"),
        recipes={
            "smoke": ("phc-u373-smoke", "dic-hela-smoke"),
            "cpu": ("phc-u373-cpu", "dic-hela-cpu"),
            "full": ("phc-u373-full", "dic-hela-full"),
        },
        ablations={"phc-u373-cpu": 300},
    ),
    Chapter("08_speed", "speed", datasets=("isbi2012",)),
    Chapter("09_few_images", "few-images", datasets=("phc-u373",)),
    Chapter("10_border_term", "border-term"),
    Chapter("11_optimiser", "optimiser", datasets=("isbi2012",)),
    # an appendix: FusionNet (Quan et al. 2016) beside the U-Net, reproducing no claim of the paper; it shows
    # the recorded runs of isbi2012-cpu and isbi2012-fusionnet-cpu and trains nothing
    Chapter("12_fusionnet", "fusionnet", datasets=("isbi2012",)),
    # using it: a folder of your own images (the nuclei of data_scripts/fetch.py nuclei stand in for them)
    Chapter("13_own_images", "own-images", datasets=("nuclei",)),
)


def stems() -> list[str]:
    """The chapters' file stems, in book order (``_toc.yml`` lists them in the same order)."""
    return [c.stem for c in CHAPTERS]


def chapter(stem: str) -> Chapter:
    """The entry of chapter ``stem``; a ``KeyError`` that lists the chapters when there is none."""
    for entry in CHAPTERS:
        if entry.stem == stem:
            return entry
    raise KeyError(
        f"chapter={stem!r} is not in book/manifest.py; chapters: {', '.join(stems())} "
        "(a new chapter needs its entry in CHAPTERS)"
    )


def datasets(stem: str) -> list[str]:
    """The datasets chapter ``stem`` reads at ``cpu`` and ``full`` scale (its Colab cell's ``DATASETS``)."""
    return list(chapter(stem).datasets)


def recipes(stem: str, scale: str) -> list[str]:
    """The recipes chapter ``stem`` trains or loads at ``scale``, in the order of its code (empty: none)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} must be one of {SCALES}")
    return list(chapter(stem).recipes.get(scale, ()))


def label(stem: str) -> str | None:
    """The MyST label of chapter ``stem`` (what ``{ref}`` links to); None for a page that is no chapter."""
    try:
        return chapter(stem).label
    except KeyError:
        return None


def ablation_steps(base: str) -> int | None:
    """The steps of the ablation table of recipe ``base`` that a chapter shows; None when no chapter shows one."""
    found = {c.ablations[base] for c in CHAPTERS if base in c.ablations}
    if len(found) > 1:
        raise ValueError(
            f"the chapters show ablation tables of {base!r} at different steps {sorted(found)}; "
            "book/manifest.py must give one per base recipe"
        )
    return found.pop() if found else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    listing = sub.add_parser("chapters", help="the chapters' stems, in book order")
    listing.add_argument("--json", action="store_true", help="one JSON list instead of one stem per line")
    sub.add_parser("datasets", help="the datasets a chapter needs").add_argument("chapter")
    rec = sub.add_parser("recipes", help="the recipes a chapter runs at a scale")
    rec.add_argument("chapter")
    rec.add_argument("--scale", default="full", choices=SCALES)
    args = ap.parse_args(argv)
    if args.what == "chapters":
        print(json.dumps(stems()) if args.json else "\n".join(stems()))
        return 0
    try:
        out = datasets(args.chapter) if args.what == "datasets" else recipes(args.chapter, args.scale)
    except KeyError as err:
        print(f"manifest: {err.args[0]}", file=sys.stderr)
        return 1
    if out:
        print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The paper's datasets, each declared once: what every layer needs to know of it.

A :class:`DatasetSpec` says what a dataset is (title, citation, terms of use, where to get it),
how it is laid out (its sequences and truth kinds), which frames train a network and which are
held out (:class:`Split`), how its predictions are scored (``measures``), and the small tile of
its smoke recipe. Every layer reads it: the loaders (:mod:`unet_core.data`), the recipes, the
reproduction and evaluation (:mod:`unet_core.recipes`), the command line, and
``data_scripts/fetch.py`` (download, verification, conversion) and ``data_scripts/colab.py``.
Nothing here reads a file or touches the network.

Frame ids name an annotated image, whatever its truth kind: ``"train-volume/07"`` is slice 7 of
the ISBI 2012 training stack, ``"02/077"`` frame 77 of sequence 02 of a Cell Tracking Challenge
(CTC) dataset. A split is a rule over frame ids, so it yields the same training frames whatever
else a user's data folder holds (the workplace's partial copy or the official archives): frames
that a rule's patterns do not name are never trained on.

Truth kinds: ``"labels"`` (ISBI: the challenge's membrane labels), ``"gt"`` (CTC gold truth:
manual) and ``"st"`` (CTC silver truth: computer-generated). With ``truth="best"`` each part of a
split (the training frames, each held-out group) uses gold truth when the data have gold masks for
that part, and silver truth only where they have none.

To add a dataset: one :class:`DatasetSpec` in :data:`DATASETS`, its converter in
``data_scripts/fetch.py`` (chosen by ``layout``) and its lines in ``data_scripts/registry.txt`` /
``content_registry.txt``; see ``CONTRIBUTING.md``.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ..utils.validation import fmt

__all__ = ['Split', 'HeldOutGroup', 'DatasetSpec', 'DATASETS', 'dataset_spec', 'dataset_names', 'MEASURES', 'TRUTH_LABELS', 'resolve_split', 'SplitPlan']


MEASURES = {
    "membranes": "ISBI 2012 challenge: pixel error, Rand error (1 - V_rand), warping error, V_rand split/merge, V_info",
    "instances": "Cell Tracking Challenge SEG (mean Jaccard index of matched reference instances)",
}


TRUTH_LABELS = {  # the label every score carries: which truth it is measured against
    "labels": "challenge labels",  # ISBI 2012: the challenge's manual membrane labels
    "gt": "gold truth",  # CTC GT SEG: manual annotation
    "st": "SILVER truth (computer-generated)",  # CTC ST SEG: consensus of earlier entries, not manual labels
}


def truth_label(truth: str) -> str:
    """The label of a truth kind on a score (:data:`TRUTH_LABELS`); other values are returned as they are.

    Examples
    --------
    >>> truth_label("gt"), truth_label("st")
    ('gold truth', 'SILVER truth (computer-generated)')
    """
    return TRUTH_LABELS.get(truth, truth)


@dataclass(frozen=True)
class HeldOutGroup:
    """A named set of held-out frames, scored on its own.

    ``patterns`` are frame ids or shell patterns (``"01/*"``: all of sequence 01); frames that the
    training patterns also match are left out, so a group never holds a training frame.
    """

    name: str
    patterns: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Split:
    """Which annotated frames train the network (``train`` patterns) and how the rest is grouped.

    The first held-out group is the primary one (the number a chapter sets beside the paper's);
    the others are scored and labelled separately.
    """

    train: tuple[str, ...]
    held_out: tuple[HeldOutGroup, ...]
    rule: str


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: layout, truth kinds, split, measures, provenance (see the module docstring)."""

    name: str  # the package's key, e.g. "phc-u373"
    title: str
    layout: str  # converter/reader: "isbi-stacks" or "ctc"
    target: str  # "semantic" (class labels 1 = cell, 0 = membrane) or "instances" (one id per cell)
    measures: str  # a key of MEASURES
    truth_kinds: tuple[str, ...]  # in order of preference
    split: Split
    smoke_tile: int  # input tile of the "<name>-smoke" recipe
    citation: str
    terms: str
    where: str  # how to get it (human-readable)
    source_folders: tuple[str, ...] = ()  # names fetch.py looks for under --source
    ctc_name: str | None = None  # the CTC's name of the dataset (archive and folder names)
    aliases: tuple[str, ...] = ()

    def matches(self, frame_id: str, patterns) -> bool:
        """Whether ``frame_id`` is named by one of ``patterns``."""
        return any(fnmatch.fnmatchcase(frame_id, p) for p in patterns)


def _isbi_ids(slices) -> tuple[str, ...]:
    return tuple(f"train-volume/{i:02d}" for i in slices)


CTC_TERMS = (
    "Cell Tracking Challenge terms (celltrackingchallenge.net/datasets): cite the CTC paper and acknowledge the "
    "CTC as the data source; public non-CTC scientific use needs permission from the data providers named in the "
    "dataset description; commercial use needs explicit permission from the organizers and the providers.")


CTC_CITATION = (
    "Maska M. et al. (2023) The Cell Tracking Challenge: 10 years of objective benchmarking. Nature Methods "
    "20:1010-1020; Ulman V. et al. (2017) An objective comparison of cell-tracking algorithms. Nature Methods "
    "14:1141-1152, doi:10.1038/nmeth.4473")


def _ctc(name: str, ctc: str, title: str, split: Split, smoke_tile: int) -> DatasetSpec:
    url = f"https://data.celltrackingchallenge.net/training-datasets/{ctc}.zip"
    return DatasetSpec(
        name=name, title=f"Cell Tracking Challenge {ctc} ({title}), training set", layout="ctc", target="instances",
        measures="instances", truth_kinds=("gt", "st"), split=split, smoke_tile=smoke_tile, citation=CTC_CITATION,
        terms=CTC_TERMS, where=f"https://celltrackingchallenge.net/2d-datasets/ (training zip {url})",
        source_folders=(ctc, name, f"{ctc}.zip"), ctc_name=ctc, aliases=(ctc,))


# PhC-U373: the published phc-u373-cpu network was trained on the first 14 gold frames of sequence 02
# (the workplace copy has images for sequence 02 only). Those ids are the split, whatever the folder
# holds; the official archive adds sequence 01 (15 gold frames), a sequence the network never saw.
PHC_TRAIN = tuple(f"02/{f:03d}" for f in (10, 17, 19, 20, 22, 26, 35, 36, 41, 49, 51, 52, 59, 74))


DATASETS: dict[str, DatasetSpec] = {
    "isbi2012": DatasetSpec(
        name="isbi2012", title="ISBI 2012 EM segmentation challenge (Drosophila first-instar larva VNC, ssTEM)",
        layout="isbi-stacks", target="semantic", measures="membranes", truth_kinds=("labels",),
        split=Split(train=_isbi_ids(range(25)),
                    held_out=(HeldOutGroup("held-out slices 25-29", _isbi_ids(range(25, 30)),
                                           "the last 5 of the 30 labelled training slices (the test labels are secret)"),),
                    rule="training slices 0-24 train, 25-29 held out"),
        smoke_tile=124,
        citation="Cardona A. et al. (2010) An Integrated Micro- and Macroarchitectural Analysis of the Drosophila "
                 "Brain by Computer-Assisted Serial Section Electron Microscopy. PLoS Biol 8(10): e1000502, "
                 "doi:10.1371/journal.pbio.1000502; and TrakEM2. Challenge: Arganda-Carreras I. et al. (2015) "
                 "Front. Neuroanat. 9:142, doi:10.3389/fnana.2015.00142",
        terms="\"You are free to use this data set for the purpose of generating or testing non-commercial image "
              "segmentation software. If any scientific publications derive from the usage of this data set, you "
              "must cite TrakEM2 and the following publication: Cardona A. et al. 2010 (above).\"",
        where="http://brainiac2.mit.edu/isbi_challenge/ (free registration; train-volume.tif, train-labels.tif, "
              "test-volume.tif), or the copies in GitHub zhixuhao/unet (data/membrane/: the stacks or the "
              "per-slice PNGs train/image, train/label, test)",
        source_folders=("isbi2012", "ISBI2012", "isbi-2012", "isbi_2012", "membrane")),
    "phc-u373": _ctc(
        "phc-u373", "PhC-C2DH-U373", "glioblastoma-astrocytoma U373 on polyacrylamide, phase contrast; data "
        "provider Dr. S. Kumar, UC Berkeley",
        Split(train=PHC_TRAIN,
              held_out=(HeldOutGroup("sequence 02, later frames", ("02/*",),
                                     "time split: the annotated frames of sequence 02 after the training frames"),
                        HeldOutGroup("sequence 01 (never seen)", ("01/*",),
                                     "a whole sequence the network never saw (official archive only)")),
              rule="14 gold frames of sequence 02 (02/010..02/074) train; the later frames of sequence 02 and all "
                   "of sequence 01 are held out"),
        smoke_tile=108),
    "dic-hela": _ctc(
        "dic-hela", "DIC-C2DH-HeLa", "HeLa on flat glass, DIC; data provider Dr. G. van Cappellen, Erasmus MC "
        "Rotterdam",
        Split(train=("01/*",),
              held_out=(HeldOutGroup("sequence 02 (never seen)", ("02/*",), "a whole sequence the network never saw"),),
              rule="sequence 01 trains, sequence 02 is held out"),
        smoke_tile=108),
}


def dataset_names() -> tuple[str, ...]:
    """The declared datasets' keys, e.g. ``("isbi2012", "phc-u373", "dic-hela")``."""
    return tuple(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (a key or a CTC name such as ``"PhC-C2DH-U373"``).

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> dataset_spec("PhC-C2DH-U373").name, dataset_spec("isbi2012").measures
    ('phc-u373', 'membranes')
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset must be a dataset name such as 'isbi2012', got {fmt(name)}")
    for spec in DATASETS.values():
        if name == spec.name or name in spec.aliases:
            return spec
    known = sorted([*DATASETS, *(a for s in DATASETS.values() for a in s.aliases)])
    raise ValueError(f"dataset={name!r} is unknown; known datasets: {', '.join(known)}")


@dataclass(frozen=True)
class SplitPlan:
    """A split resolved against the frames a data folder holds.

    ``train`` and each held-out group are ``(truth kind, [frame ids])``; ``groups`` maps a group's name
    to that pair and keeps the declaration's order (the first is the primary group). A group without
    frames in this folder has an empty list.
    """

    dataset: str
    train: tuple[str, list]
    groups: dict
    rule: str

    def training_data(self) -> dict:
        """The record a checkpoint keeps of the frames it was trained on."""
        truth, ids = self.train
        return {"dataset": self.dataset, "truth": truth, "train_frames": list(ids)}


def _pick_truth(available: dict, ids_by_truth: dict, truth: str) -> str:
    if truth != "best":
        return truth
    for kind in available:
        if ids_by_truth.get(kind):
            return kind
    return next(iter(available))


def resolve_split(spec: DatasetSpec, available: dict, truth: str = "best", train=None) -> SplitPlan:
    """Resolve ``spec.split`` (or the ``train`` patterns) against the annotated frames ``available``.

    Parameters
    ----------
    spec : DatasetSpec
    available : dict
        ``{truth kind: [frame ids with an image and a mask of that kind]}`` in ``spec.truth_kinds`` order.
    truth : str
        A truth kind of the dataset, or ``"best"`` (gold truth per part where it exists, see the module
        docstring).
    train : sequence of str or None
        Training patterns instead of the declared ones.

    Returns
    -------
    SplitPlan

    Raises
    ------
    TypeError
        If ``spec`` is not a DatasetSpec, ``available`` not a dict or ``train`` a string.
    ValueError
        For a truth kind the dataset does not have, or when no frame of the folder matches the training
        patterns (the message names the patterns and the frames found).

    Examples
    --------
    >>> spec = dataset_spec("dic-hela")
    >>> plan = resolve_split(spec, {"gt": ["01/002", "02/006"], "st": ["01/000", "01/002", "02/000"]})
    >>> plan.train, plan.groups["sequence 02 (never seen)"]
    (('gt', ['01/002']), ('gt', ['02/006']))
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"spec must be a DatasetSpec (unet_core.dataset_spec(name)), got {fmt(spec)}")
    if not isinstance(available, dict):
        raise TypeError("available must be a dict {truth kind: [frame ids]} (unet_core.annotated_frames(name)), got "
                        f"{fmt(available)}")
    if train is not None and (isinstance(train, (str, bytes)) or not hasattr(train, "__iter__")):
        raise TypeError(f"train must be None or a list of frame-id patterns such as ['01/*'], got {fmt(train)}")
    if truth != "best" and truth not in spec.truth_kinds:
        raise ValueError(f"truth={truth!r} is not a truth kind of {spec.name}; use 'best' or one of "
                         f"{', '.join(spec.truth_kinds)}")
    patterns = tuple(train) if train is not None else spec.split.train
    avail = {k: sorted(available.get(k, [])) for k in spec.truth_kinds}
    by_truth = {k: [f for f in ids if spec.matches(f, patterns)] for k, ids in avail.items()}
    kind = _pick_truth(avail, by_truth, truth)
    if not by_truth[kind]:
        found = {k: len(v) for k, v in avail.items()}
        raise ValueError(f"no {kind} frame of {spec.name} matches the training frames {', '.join(patterns)} "
                         f"(annotated frames in this data folder: {found}); the data are incomplete or another "
                         "release: import them again with data_scripts/fetch.py")
    everything_trained = {f for ids in avail.values() for f in ids if spec.matches(f, patterns)}
    groups = {}
    for group in spec.split.held_out:
        ids = {k: [f for f in v if spec.matches(f, group.patterns) and f not in everything_trained]
               for k, v in avail.items()}
        chosen = _pick_truth(avail, ids, truth)
        groups[group.name] = (chosen, ids[chosen])
    return SplitPlan(spec.name, (kind, by_truth[kind]), groups, spec.split.rule)

"""Book helpers: recording each chapter's numbers, and the figures drawn from the module.

Not re-exported by ``unet_core`` (it needs matplotlib); chapters do
``from unet_core import viz``. The slider widget lives in :mod:`unet_core.book.widgets`
and is re-exported here (``viz.parameter_slider``).

Results: every chapter ends with ``viz.record_results("03_weight_map", {...},
scale=SCALE, device=DEVICE, published={...})``, which merges one entry per
scale into ``<results dir>/<chapter>.json``; the results page reads them back
with :func:`load_results`. The results dir is ``$UNET_RESULTS_DIR`` or
``./results`` (the chapter's folder, ``book/results``, when run from ``book/``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy
import torch

from .. import __version__
from ..recipes.key import recipe_checkpoint_path
from ..recipes.snapshots import load_snapshots
from ..utils import check_cap
from ..utils.files import atomic_write
from ..utils.system import resolve_device
from ..utils.validation import fmt
from .report import SMOKE_LABEL, decimals_of, fmt_like, md_table, provenance, reproduction, training_note
from .seeds import (
    MAX_SEED,
    SeedStats,
    beyond_spread,
    fmt_spread,
    paired_difference,
    seed_stats,
    seed_table,
    separated,
    spread_rows,
)
from .widgets import ParameterSlider, parameter_slider, to_png

__all__ = [
    'ParameterSlider',
    'parameter_slider',
    'to_png',
    'SCALES',
    'resolve_device',
    'results_dir',
    'device_name',
    'record_results',
    'load_results',
    'draw_unet',
    'recorded_run',
    'recorded_snapshots',
    'SMOKE_LABEL',
    'decimals_of',
    'fmt_like',
    'md_table',
    'provenance',
    'reproduction',
    'training_note',
    'check_cap_notice',
    'check_cap_text',
    'checkpoint_steps',
    'SeedStats',
    'recorded_seeds',
    'seed_stats',
    'fmt_spread',
    'beyond_spread',
    'separated',
    'seed_table',
    'spread_rows',
    'paired_difference',
]


SCALES = ("smoke", "cpu", "full")


_CHAPTER = re.compile(r"^[0-9A-Za-z_][0-9A-Za-z_.-]*$")


def _repository_results() -> Path:
    """``book/results`` of the repository this package sits in (it need not exist: installed packages)."""
    return Path(__file__).resolve().parents[2] / "book" / "results"


def results_dir(scale: str | None = None) -> Path:
    """Where :func:`record_results` writes and :func:`load_results` reads.

    ``$UNET_RESULTS_DIR`` when set (``book/build.py`` and the test suite set it). Otherwise a ``smoke``
    run writes into a throw-away folder (``<tempdir>/unet_core-results``: smoke numbers are pipeline
    checks and never enter the committed results), and every other scale into the repository's
    ``book/results`` (found next to the package, whatever the working directory), or ``./results`` when
    the package is installed without the repository (e.g. on Colab). A capped check run
    (``$UNET_CHECK_CAP``, :mod:`unet_core.utils.check_cap`) reads here too, but :func:`record_results` writes
    its numbers into the throw-away :func:`unet_core.utils.check_cap.results_dir` instead.
    """
    env = os.environ.get("UNET_RESULTS_DIR")
    if env:
        return Path(env)
    if scale == "smoke":
        return Path(tempfile.gettempdir()) / "unet_core-results"
    committed = _repository_results()
    return committed if committed.is_dir() else Path("results")


def recorded_run(key: str, directory: str | os.PathLike | None = None) -> dict | None:
    """A recorded recipe run (``book/results/recipes/<key>.json`` of ``book/scripts/run_recipes.py``), or None.

    Looks in ``directory``, else in the repository's ``book/results/recipes`` (next to the package),
    ``./results/recipes`` or ``./book/results/recipes``. None when it is not there (e.g. on Colab,
    without the repository).
    """
    folders = (
        [Path(directory)]
        if directory is not None
        else [
            _repository_results() / "recipes",  # the repository's, from any cwd
            Path("results/recipes"),
            Path("book/results/recipes"),
        ]
    )
    for folder in folders:
        path = folder / f"{key}.json"
        if path.is_file():
            return json.loads(path.read_text())
    return None


def recorded_snapshots(key: str, directory: str | os.PathLike | None = None) -> dict | None:
    """The snapshots of a recorded run (``book/results/snapshots/<key>.npz``), or None when absent.

    Looks in ``directory``, else beside the recorded runs (:func:`recorded_run`'s folders with
    ``snapshots`` for ``recipes``); returns :func:`unet_core.recipes.snapshots.load_snapshots`.
    """
    folders = (
        [Path(directory)]
        if directory is not None
        else [_repository_results() / "snapshots", Path("results/snapshots"), Path("book/results/snapshots")]
    )
    for folder in folders:
        path = folder / f"{key}.npz"
        if path.is_file():
            return load_snapshots(path)
    return None


def recorded_seeds(key: str, directory: str | os.PathLike | None = None) -> dict[int, dict]:
    """The recorded runs of ``key`` by seed: ``{0: <key>.json, k: <key>@seed<k>.json, ...}``, those that exist.

    Seeds 0 to :data:`unet_core.book.seeds.MAX_SEED`; ``directory`` as :func:`recorded_run`.
    """
    runs = {}
    for seed in range(MAX_SEED + 1):
        run = recorded_run(key if seed == 0 else f"{key}@seed{seed}", directory)
        if run is not None:
            runs[seed] = run
    return runs


def device_name(device: Any = "auto") -> str:
    """Human-readable device, e.g. ``"cuda: NVIDIA H100 80GB HBM3"`` or ``"cpu: AMD EPYC 9R14, 2 threads"``."""

    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    n = torch.get_num_threads()
    return f"{dev.type}: {_cpu_model()}, {n} thread{'s' if n != 1 else ''}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict:

    return {
        "unet_core": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


def _jsonable(value: Any, name: str) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        value = value.item()
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, name) for v in value]
    raise TypeError(f"{name} must be a number, string, bool or list of them, got {fmt(value)}")


def record_results(
    chapter: str,
    values: Mapping[str, Any],
    *,
    scale: str,
    device: Any = "auto",
    published: Mapping[str, Any] | None = None,
    notes: str = "",
    budget: str = "",
    directory: str | os.PathLike | None = None,
) -> Path:
    """Store a chapter's numbers for one run scale in ``<directory>/<chapter>.json``.

    Parameters
    ----------
    chapter : str
        File stem of the chapter, e.g. ``"01_architecture"``.
    values : dict of str -> number, str, bool or list
        The reproduced quantities, keyed by a short readable name (the row label on the results page).
    scale : {"smoke", "cpu", "full"}
        The chapter's ``SCALE`` parameter; entries of other scales in the file are kept.
    device : str or torch.device
        The chapter's ``DEVICE`` (``"auto"`` is resolved and named, e.g. the GPU model).
    published : dict, optional
        The paper's value for some of the keys (number or text such as ``"0.000353"``).
    notes : str
        One line on what differs from the paper in this run (e.g. "synthetic data").
    budget : str
        What the numbers cost: steps and/or wall time (e.g. ``"4,500 steps, 1,822 s training"``,
        ``"38 s"``); shown by :func:`provenance` beside every number of the run.
    directory : path, optional
        Default :func:`results_dir` of ``scale`` (smoke runs never write into the repository). Ignored
        under ``$UNET_CHECK_CAP``: a capped check run writes the throw-away
        :func:`unet_core.utils.check_cap.results_dir`, and its entry records the cap (``check_cap``) and says so
        in its notes.

    Returns
    -------
    Path
        The JSON file written (atomically).

    Raises
    ------
    ValueError
        If ``chapter`` is not a plain file stem or ``scale`` is not one of :data:`SCALES`.
    TypeError
        If a value is not JSON-representable.

    Examples
    --------
    >>> import tempfile
    >>> p = record_results("01_architecture", {"conv layers": 23}, scale="smoke", device="cpu",
    ...                    published={"conv layers": 23}, directory=tempfile.mkdtemp())
    >>> load_results(p.parent)["01_architecture"]["runs"]["smoke"]["values"]
    {'conv layers': 23}
    """
    if not isinstance(chapter, str) or not _CHAPTER.match(chapter):
        raise ValueError(f"chapter={fmt(chapter)} must be the chapter's file stem, e.g. '01_architecture'")
    if scale not in SCALES:
        raise ValueError(f"scale={fmt(scale)} must be one of {SCALES}")
    vals = {str(k): _jsonable(v, f"values[{k!r}]") for k, v in values.items()}
    capped = check_cap.cap()
    if capped is not None:  # a capped check run is never a result: never book/results
        path = check_cap.results_dir()
    else:
        path = Path(directory) if directory is not None else results_dir(scale)
    path = path / f"{chapter}.json"
    doc = json.loads(path.read_text()) if path.exists() else {"chapter": chapter, "published": {}, "runs": {}}
    if published:
        doc["published"].update({str(k): _jsonable(v, f"published[{k!r}]") for k, v in published.items()})
    doc["runs"][scale] = {
        "values": vals,
        "device": device_name(device),
        "notes": notes,
        "budget": str(budget),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": _versions(),
    }
    if capped is not None:
        label = check_cap.label(capped)
        doc["runs"][scale].update(check_cap=capped, notes=f"{label}; {notes}" if notes else label)
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def load_results(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """All ``<chapter>.json`` files of ``directory`` (default :func:`results_dir`), by chapter, sorted."""
    path = Path(directory) if directory is not None else results_dir()
    return {p.stem: json.loads(p.read_text()) for p in sorted(path.glob("*.json"))}


def checkpoint_steps(recipe, runs_dir=None) -> int:
    """The steps that the checkpoint of ``recipe`` under ``runs_dir`` holds now (0 if there is none).

    Read before training, it tells :func:`training_note` (``steps_before``) whether the call trained.
    Only the step is read (the file is memory-mapped, not loaded).

    Parameters
    ----------
    recipe : Recipe or str
        As for :func:`unet_core.recipes.key.recipe_checkpoint_path` (which names the file).
    runs_dir : path or None
        The chapter's runs folder (None: ``$UNET_RUNS_DIR`` or ``./runs``).

    Returns
    -------
    int
    """

    path = recipe_checkpoint_path(recipe, runs_dir)
    if not path.is_file():
        return 0
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["step"])


def check_cap_text() -> str | None:
    """The notice that a run under ``$UNET_CHECK_CAP`` is a capped check, not a result (Markdown); None without it.

    Returns
    -------
    str or None
    """
    text = check_cap.label()
    if text is None:
        return None
    return (
        f"**{text}.** Every training of this page stopped after at most {check_cap.cap()} step(s) of at most "
        f"{check_cap.CAP_BATCH} tiles, images are cropped to {check_cap.CAP_CROP} px and timings ran once; "
        f"its numbers are recorded in the throw-away `{check_cap.results_dir()}`, never in `book/results`, "
        f"and its checkpoints are never those of an uncapped run. Unset `{check_cap.ENV}` for a real run."
    )


def check_cap_notice() -> None:
    """Under ``$UNET_CHECK_CAP``, display :func:`check_cap_text` (Markdown); without the cap, nothing.

    Chapters call it once, after their imports. It returns None, so that the last line of a cell
    shows nothing more.
    """
    text = check_cap_text()
    if text is not None:
        from IPython.display import Markdown, display

        display(Markdown(text))


_COLORS = {"conv": "#1f4e79", "pool": "#c00000", "up": "#2e7d32", "copy": "#7f7f7f", "final": "#00897b"}


def draw_unet(table: list[dict], ax=None, title: str | None = None):
    """Draw the U of Fig. 1 from :func:`unet_core.models.unet.layer_table` rows (not a copied picture).

    Parameters
    ----------
    table : list of dict
        Rows with ``stage, channels_in, channels_out, size_in, size_out``.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Figure

    Notes
    -----
    One box per feature map after each double convolution (width ~ log2 channels,
    height ~ spatial size, labelled ``channels`` above and ``H x W`` beside), blue
    arrows for the 3x3 convolutions, red for 2x2 max-pooling, green for 2x2
    up-convolution, gray for copy-and-crop, teal for the final 1x1 convolution.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 6))
    fig = ax.figure
    enc = [r for r in table if r["stage"].startswith("enc")]
    dec = [r for r in table if r["stage"].startswith("dec")]
    depth, full = len(enc), float(enc[0]["size_in"][0])
    height = lambda n: 0.4 + 1.6 * n / full  # noqa: E731  (box height ~ spatial side)
    width = lambda c: 0.06 * (2 + c.bit_length())  # noqa: E731  (box width ~ log2 channels)
    gap, ys = 0.3, [-2.8 * level for level in range(depth)]
    boxes = {}

    def box(x, level, c, size, label):
        y, h, w = ys[level], height(size[0]), width(c)
        ax.add_patch(Rectangle((x, y - h / 2), w, h, fc="#9ecae1", ec="k", lw=0.8, zorder=2))
        style = {"fontsize": 6.5, "ha": "center", "zorder": 3, "bbox": {"fc": "white", "ec": "none", "pad": 0.4}}
        ax.text(x + w / 2, y + h / 2 + 0.08, str(c), va="bottom", **style)
        ax.text(
            x + w / 2,
            y - h / 2 - 0.08,
            f"{size[0]}²" if size[0] == size[1] else f"{size[0]}x{size[1]}",
            va="top",
            **{**style, "fontsize": 5.5},
        )
        boxes[label] = (x, y, w, h)
        return x + w

    def arrow(p, q, kind):
        ax.add_patch(
            FancyArrowPatch(
                p, q, arrowstyle="-|>", mutation_scale=7, color=_COLORS[kind], lw=1.1, shrinkA=0, shrinkB=0, zorder=1
            )
        )

    def triple(x, level, c_first, size_first, row, first, last):
        """Three boxes joined by two conv arrows; returns the right edge."""
        right = box(x, level, c_first, size_first, first)
        for _k, (c, size, name) in enumerate(
            [(row["channels_out"], _mid(row), None), (row["channels_out"], row["size_out"], last)]
        ):
            arrow((right, ys[level]), (right + gap, ys[level]), "conv")
            right = box(right + gap, level, c, size, name or f"{last}_mid")
        return right

    x = 0.0
    for level, row in enumerate(enc):
        if level:
            px, py, pw, ph = boxes[f"enc{level}"]
            x = px
            top = ys[level] + height(row["size_in"][0]) / 2  # arrow between the size and channel labels
            arrow((px + pw / 2, py - ph / 2 - 0.3), (px + pw / 2, top + 0.32), "pool")
        right = triple(x, level, row["channels_in"], row["size_in"], row, f"in{level}", f"enc{level + 1}")
    for i, row in enumerate(dec):
        level = depth - 2 - i
        bx, by, bw, bh = boxes[f"enc{level + 2}" if i == 0 else f"dec{level + 2}"]
        x = bx + bw + 0.6
        arrow((bx + bw, by + bh / 2), (x - 0.02, ys[level] - height(row["size_in"][0]) / 2 + 0.05), "up")
        sx, sy, sw, sh = boxes[f"enc{level + 1}"]
        arrow((sx + sw, sy), (x, ys[level]), "copy")
        right = triple(x, level, row["channels_in"], row["size_in"], row, f"u{level}", f"dec{level + 1}")
    arrow((right, ys[0]), (right + gap, ys[0]), "final")
    right = box(right + gap, 0, table[-1]["channels_out"], table[-1]["size_out"], "output")
    labels = {
        "conv": "conv 3x3, ReLU",
        "pool": "max pool 2x2",
        "up": "up-conv 2x2",
        "copy": "copy and crop",
        "final": "conv 1x1",
    }
    for kind, text in labels.items():
        ax.plot([], [], color=_COLORS[kind], lw=2, label=text)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.3, right + 0.3)
    ax.set_ylim(ys[-1] - 1.2, 1.6)
    ax.set_aspect("auto")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


def _mid(row: dict) -> tuple[int, int]:
    """Spatial size after the first of the two 3x3 convolutions of a stage."""
    h, w = row["size_in"]
    shrink = (row["size_in"][0] - row["size_out"][0]) // 2
    return (h - shrink, w - shrink)

"""Figure and table pieces that several chapters of the book draw the same way.

Arrays only, except the ``draw_*`` functions, which take matplotlib axes (the caller imports
matplotlib; this module does not need it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from skimage.segmentation import find_boundaries

from ..metrics.warping import warp_labels, warping_error
from ..recipes.experiments import few_images
from .report import SMOKE_LABEL, fmt_like, md_table, provenance, reproduction
from .seeds import seed_stats
from .viz import load_results, recorded_seeds, results_dir
from .widgets import parameter_slider

__all__ = [
    'paper_comparison',
    'error_rgb',
    'topological_errors',
    'draw_segmentation_errors',
    'running_mean',
    'draw_loss',
    'instance_overlay',
    'SLICE25_PROBS',
    'stored_slice_probs',
    'draw_two_segmentations',
    'draw_loss_curves',
    'draw_threshold_curves',
    'draw_fig4',
    'draw_speed_bars',
    'load_benchmark',
    'draw_snapshots',
    'few_images_stats',
    'draw_few_images',
    'threshold_slider',
]

FALSE_MEMBRANE = (0.9, 0.1, 0.1)  # red: membrane drawn inside a truth cell
MISSED_MEMBRANE = (0.2, 0.4, 1.0)  # blue: a truth membrane called cell


def paper_comparison(
    chapter: str,
    published: Mapping[str, Any],
    *,
    scale: str,
    this_run: Mapping[str, Any],
    result: Mapping[str, Any],
    paper: str,
) -> list[str]:
    """Markdown for a chapter's "result beside the paper" cell: the reproduction's values beside the paper's.

    Parameters
    ----------
    chapter : str
        The chapter's results name, e.g. ``"02_overlap_tile"`` (``book/results/<chapter>.json``).
    published : mapping
        Quantity -> the paper's value as printed (its decimals set those of ours).
    scale : {"smoke", "cpu", "full"}
        This run's scale. At ``cpu``/``full`` this run is the reproduction; at ``smoke`` the recorded
        one is shown (if any) and this run's values follow in a second table under the smoke label.
    this_run : mapping
        This run's entry of the results file (``load_results()[chapter]["runs"][scale]``).
    result : mapping
        This run's values, quantity -> value (the smoke table).
    paper : str
        Where in the paper the published values are, e.g. ``"Fig. 2"`` (the column title).

    Returns
    -------
    list of str
        One or two Markdown blocks, to ``display(Markdown(...))`` each.

    Examples
    --------
    >>> run = {"values": {"border": 92}, "device": "cpu", "date": "2026-01-01"}
    >>> paper_comparison("x", {"border": "92"}, scale="cpu", this_run=run, result={}, paper="Fig. 2")[0][:30]
    '| quantity | paper (Fig. 2) | '
    """
    shown = (scale, this_run) if scale != "smoke" else reproduction(load_results().get(chapter))
    if shown is None:
        blocks = [
            f"No `cpu` or `full` run of this chapter is recorded (looked in `{results_dir()}`); "
            "run it with `SCALE = \"cpu\"` for the comparison."
        ]
    else:
        rows = [[k, fmt_like(published.get(k)), fmt_like(v, published.get(k))] for k, v in shown[1]["values"].items()]
        blocks = [
            md_table(["quantity", f"paper ({paper})", "reproduction"], rows)
            + f"\n\nReproduction: {provenance(shown[1], shown[0])}."
        ]
    if scale == "smoke":
        blocks.append(
            f"**This run, {SMOKE_LABEL}**: {provenance(this_run, scale)}.\n\n"
            + md_table(["quantity", "this run"], [[k, v] for k, v in result.items()])
        )
    return blocks


def error_rgb(binary: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Colour a thresholded map against the truth: cells white, membranes black, errors in colour.

    Parameters
    ----------
    binary : numpy.ndarray
        (H, W) bool, True where the network says cell.
    truth : numpy.ndarray
        (H, W) bool, True on truth cells.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float RGB in [0, 1]: red where the network draws membrane inside a truth cell,
        blue where it calls a truth membrane cell.

    Raises
    ------
    ValueError
        If the two shapes differ.
    """
    binary, truth = np.asarray(binary, bool), np.asarray(truth, bool)
    if binary.shape != truth.shape or binary.ndim != 2:
        raise ValueError(f"binary and truth must be (H, W) maps of one shape, got {binary.shape} and {truth.shape}")
    rgb = np.repeat(np.where(truth, 1.0, 0.0)[..., None], 3, axis=2)  # (H, W, 3)
    rgb[~binary & truth] = FALSE_MEMBRANE
    rgb[binary & ~truth] = MISSED_MEMBRANE
    return rgb


def topological_errors(prob: np.ndarray, truth: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) bool: the pixels that still disagree after warping the truth towards ``prob > threshold``.

    ``uc.warp_labels`` flips only simple pixels (no change of topology); what stays wrong are holes,
    extra or missing objects and the split and merge pixels the warping error counts.

    Parameters
    ----------
    prob : numpy.ndarray
        (H, W) probability of cell.
    truth : numpy.ndarray
        (H, W), nonzero on truth cells.
    threshold : float
        Threshold on ``prob``.
    """
    binary = np.asarray(prob) > threshold
    return warp_labels(np.asarray(truth) > 0, binary) != binary


def draw_segmentation_errors(
    axes: Sequence[Any],
    prob: np.ndarray,
    truth: np.ndarray,
    t_rand: float,
    t_warp: float,
    *,
    letters: str = "abc",
    name: str = "",
    note: str = "",
) -> int:
    """Draw three panels of one segmentation: p(cell), its errors (:func:`error_rgb`) and its topological errors.

    Parameters
    ----------
    axes : sequence of 3 matplotlib axes
    prob : numpy.ndarray
        (H, W) probability of cell.
    truth : numpy.ndarray
        (H, W), nonzero on truth cells.
    t_rand, t_warp : float
        Thresholds of the Rand and the warping error.
    letters : str
        Three panel letters.
    name : str
        Prefix of the first title (the network's name).
    note : str
        Appended to the third title (e.g. the split and merge counts).

    Returns
    -------
    int
        Number of pixels still wrong after warping.
    """
    truth = np.asarray(truth) > 0
    topo = topological_errors(prob, truth, t_warp)
    overlay = np.repeat(np.where(truth, 1.0, 0.0)[..., None], 3, axis=2)  # (H, W, 3)
    overlay[topo] = FALSE_MEMBRANE
    a, b, c = letters
    axes[0].imshow(prob, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"({a}) {name + ': ' if name else ''}p(cell)", fontsize=8)
    axes[1].imshow(error_rgb(np.asarray(prob) > t_rand, truth))
    axes[1].set_title(f"({b}) p > {t_rand}: red false membrane,\nblue missed membrane", fontsize=8)
    axes[2].imshow(overlay)
    axes[2].set_title(f"({c}) {int(topo.sum())} px still wrong after\nwarping (p > {t_warp}){note}", fontsize=8)
    return int(topo.sum())


SLICE25_PROBS = "isbi2012-slice25-prob.npz"
"""The committed p(cell) maps of ISBI 2012 slice 25 by the recorded cpu U-Net and FusionNet
(``book/results/recipes/``, written by ``book/scripts/save_slice_probs.py``: quantised to 8 bits, with the
recipes' 8-fold test-time augmentation)."""


def stored_slice_probs(name: str = SLICE25_PROBS) -> tuple[dict[str, np.ndarray], dict] | None:
    """Load the stored probability maps of slice 25, or None when the file is not found.

    Looks in the repository's ``book/results/recipes`` (from any working directory), then in
    ``results/recipes`` and ``book/results/recipes`` under the working directory.

    Returns
    -------
    (probs, meta) or None
        ``probs``: ``{"U-Net": (H, W), "FusionNet": (H, W)}`` float32 p(cell) in [0, 1]; ``meta``: the
        file's JSON metadata (``note``, and per network its ``source``), with ``meta["file"]`` its path.
    """
    for folder in (
        Path(__file__).resolve().parents[2] / "book" / "results" / "recipes",
        Path("results/recipes"),
        Path("book/results/recipes"),
    ):
        if (folder / name).is_file():
            with np.load(folder / name, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                probs = {
                    net: npz[key].astype(np.float32) / 255
                    for net, key in (("U-Net", "unet"), ("FusionNet", "fusionnet"))
                }
            meta["file"] = str(folder / name)
            return probs, meta
    return None


def draw_two_segmentations(
    image: np.ndarray,
    truth: np.ndarray,
    probs: Mapping[str, np.ndarray],
    thresholds: Mapping[str, tuple[float, float]],
    titles: Mapping[str, str],
    tag: str = "",
):
    """A 3 x 3 figure: input, truth and the difference of two networks' maps; then one row per network
    (:func:`draw_segmentation_errors`, with the challenge's split and merge counts of the warping error).

    Parameters
    ----------
    image, truth : numpy.ndarray
        (H, W) input and truth (nonzero on cells).
    probs : mapping
        ``{"U-Net": (H, W), "FusionNet": (H, W)}`` p(cell), in that row order.
    thresholds : mapping
        Network -> ``(Rand threshold, warping threshold)``.
    titles : mapping
        Network -> the row's label.
    tag : str
        Appended to the input's title (e.g. ``" (SYNTHETIC)"``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    truth = np.asarray(truth) > 0  # (H, W), True = cell
    names = list(probs)
    fig, axes = plt.subplots(3, 3, figsize=(7.2, 7.9))
    axes[0, 0].imshow(image, cmap="gray")
    axes[0, 0].set_title(f"input{tag}", fontsize=8)
    axes[0, 1].imshow(truth, cmap="gray")
    axes[0, 1].set_title("truth: cell white, membrane black", fontsize=8)
    diff = probs[names[1]] - probs[names[0]]
    axes[0, 2].imshow(diff, cmap="bwr", vmin=-1, vmax=1)
    axes[0, 2].set_title(f"{names[1]} - {names[0]} p(cell)\nmean |difference| {np.abs(diff).mean():.3f}", fontsize=8)
    for row, name in enumerate(names, start=1):
        p, (t_rand, t_warp) = probs[name], thresholds[name]
        _, detail = warping_error(p, truth, thresholds=(t_warp,), return_details=True)  # the challenge's count
        draw_segmentation_errors(
            axes[row], p, truth, t_rand, t_warp, name=name, note=f"; {detail['split']} split, {detail['merge']} merge"
        )
        axes[row, 0].set_ylabel(titles[name], fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def running_mean(losses: Sequence[float], fraction: int = 5) -> tuple[np.ndarray, np.ndarray, int]:
    """(steps, running mean, window) of a loss curve; the window is ``len // fraction``, clipped to 1..100.

    Returns
    -------
    steps : numpy.ndarray
        (S - k + 1,) step of the last value of each window.
    mean : numpy.ndarray
        (S - k + 1,) running mean.
    k : int
        The window.
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1 or not len(losses):
        raise ValueError(f"losses must be a non-empty 1-D sequence of per-step losses, got shape {losses.shape}")
    k = max(1, min(100, len(losses) // fraction))
    return np.arange(k - 1, len(losses)), np.convolve(losses, np.ones(k) / k, mode="valid"), k


def draw_loss(ax, losses: Sequence[float], label: str = "", *, per_step: bool = False) -> None:
    """Draw a training loss on a log axis: its running mean (:func:`running_mean`) and optionally every step."""
    if per_step:
        ax.plot(np.asarray(losses), lw=0.5, alpha=0.35, label="per step (one tile)")
    steps, mean, k = running_mean(losses)
    ax.plot(steps, mean, lw=1.6 if per_step else 1.5, label=f"{label}{', ' if label else ''}running mean of {k}")
    ax.set_yscale("log")
    ax.set_xlabel("step")


def instance_overlay(pred: np.ndarray, truth_border: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """(H, W, 4) RGBA overlay of predicted instances with the reference borders in yellow.

    Parameters
    ----------
    pred : numpy.ndarray
        (H, W) int instance labels, 0 = background.
    truth_border : numpy.ndarray
        (H, W) bool, the reference cells' borders.
    rng : numpy.random.Generator or None
        None: every predicted cell in translucent cyan (a mask); else one random colour per cell.
    """
    pred = np.asarray(pred)
    overlay = np.zeros(pred.shape + (4,))  # (H, W, RGBA)
    if rng is None:
        overlay[pred > 0] = (0.0, 1.0, 1.0, 0.45)
    else:
        n = int(pred.max()) + 1
        colours = np.concatenate([rng.uniform(0.2, 1.0, (n, 3)), np.full((n, 1), 0.5)], 1)
        overlay[pred > 0] = colours[pred[pred > 0]]
    overlay[np.asarray(truth_border, bool)] = (1.0, 1.0, 0.0, 1.0)
    return overlay


def draw_loss_curves(curves: Mapping[str, Sequence[float]], labels: Mapping[str, str], title: str):
    """One figure of running-mean training losses (:func:`draw_loss`), one curve per key of ``curves``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    for name, losses in curves.items():
        draw_loss(ax, losses, labels[name])
    ax.set_ylabel("weighted loss\n(running mean)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def draw_threshold_curves(curves: Mapping[str, tuple[Mapping, Mapping, Any, str]], title: str):
    """SEG against the threshold: held-out (solid), training frames (dotted), chosen threshold (dashed).

    Parameters
    ----------
    curves : mapping
        Name -> ``(training-frame curve, held-out curve, chosen threshold, label)``; a curve maps a
        threshold (str or float) to SEG; the training-frame curve may be empty.
    title : str
        Says which runs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    for train_curve, held, chosen, label in curves.values():
        (line,) = ax.plot([float(t) for t in held], list(held.values()), marker="o", ms=3, label=f"{label}, held-out")
        if train_curve:
            ax.plot(
                [float(t) for t in train_curve],
                list(train_curve.values()),
                ls=":",
                marker=".",
                ms=3,
                color=line.get_color(),
                label=f"{label}, training frames",
            )
        ax.axvline(float(chosen), lw=0.8, ls="--", color=line.get_color())
    ax.set_xlabel("threshold on p(cell)")
    ax.set_ylabel("SEG")
    ax.set_title(f"SEG vs threshold: {title}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def draw_fig4(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, str, str]],
    *,
    random_colours: Sequence[str] = ("dic-hela",),
    seed: int = 0,
    suptitle: str = "Fig. 4 reproduced",
):
    """The paper's Fig. 4: per dataset a row of (input, prediction over it with the reference borders).

    Parameters
    ----------
    panels : mapping
        Name -> ``(image (H, W), reference instances (H, W) int, predicted instances (H, W) int,
        input title, prediction title)``.
    random_colours : sequence of str
        Names whose prediction is drawn with a random colour per cell (else a cyan mask).
    seed : int
        Seed of those colours.
    suptitle : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    def show_gray(ax, image):
        lo, hi = np.percentile(image, [0.5, 99.5])
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)

    fig, axes = plt.subplots(len(panels), 2, figsize=(7.4, 3.3 * len(panels)), squeeze=False)
    rng = np.random.default_rng(seed)
    for (name, (image, truth, pred, in_title, seg_title)), (ax_in, ax_seg) in zip(panels.items(), axes):
        show_gray(ax_in, image)
        show_gray(ax_seg, image)
        ax_seg.imshow(
            instance_overlay(pred, find_boundaries(truth, mode="thick"), rng if name in random_colours else None)
        )
        ax_in.set_title(in_title, fontsize=7)
        ax_seg.set_title(seg_title, fontsize=7)
        for ax in (ax_in, ax_seg):
            ax.axis("off")
    fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96), h_pad=1.5)
    return fig


def draw_speed_bars(bars: Sequence[tuple[str, float, str]], title: str):
    """Horizontal bars of seconds per 512 x 512 image (blue fp32, orange otherwise), the paper's 1 s dashed.

    Parameters
    ----------
    bars : sequence of (label, seconds, mode)
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(bars) + 1.2))
    ax.barh(
        range(len(bars)), [b[1] for b in bars], color=["tab:blue" if b[2] == "fp32" else "tab:orange" for b in bars]
    )
    ax.axvline(1.0, color="k", ls="--", lw=1, label="paper: < 1 s on a Titan")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    ax.set_xlabel("seconds to segment a 512 x 512 image")
    ax.set_title(title, fontsize=9)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def load_benchmark(name: str, roots: Sequence[Path] | None = None) -> tuple[dict | None, str | None]:
    """A committed benchmark result ``benchmarks/results/<name>.json`` and a sentence on where it ran.

    Looks under the repository next to this package, then the working directory's parent and itself.

    Returns
    -------
    (doc, where) or (None, None)
        The JSON document, and the file, date, CPU, cores, threads, GPU, torch and device it records.
    """
    roots = roots or (Path(__file__).resolve().parents[2], Path.cwd().parent, Path.cwd())
    for root in roots:
        path = Path(root) / "benchmarks" / "results" / f"{name}.json"
        if path.is_file():
            doc = json.loads(path.read_text())
            m = doc.get("machine", {})
            where = (
                f"`benchmarks/results/{name}.json`, measured {str(m.get('date', '?'))[:10]} on {m.get('cpu')} "
                f"({m.get('cpu_count')} cores, {m.get('torch_threads')} torch threads), "
                f"{'GPU ' + str(m['gpu']) if m.get('gpu') else 'no GPU'}, torch {m.get('torch')}, "
                f"device {doc.get('results', {}).get('device', '?')}"
            )
            return doc, where
    return None, None


def draw_snapshots(snaps: Mapping[str, Any], title: str):
    """One row of panels: the held-out crop, ``p(cell)`` at each snapshot step, and the truth.

    Parameters
    ----------
    snaps : dict
        :func:`unet_core.recipes.snapshots.load_snapshots` of a recorded run.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    steps = snaps["steps"]
    fig, axes = plt.subplots(1, len(steps) + 2, figsize=(7.5, 2.0))  # within the book's 660 px text column
    axes[0].imshow(snaps["image"], cmap="gray")
    axes[0].set_title(f"input {snaps['frame']}", fontsize=7)
    for ax, step in zip(axes[1:], steps):
        ax.imshow(snaps["probs"][step], cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"step {step:,}", fontsize=7)
    axes[-1].imshow(snaps["truth"], cmap="gray", vmin=0, vmax=1)
    axes[-1].set_title("truth (cell)", fontsize=7)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def few_images_stats(base: str, steps: int, sizes: Sequence[int], measure: str = "SEG", directory=None) -> dict:
    """``{elastic: {n: SeedStats}}`` of the recorded few-image runs (:func:`unet_core.recipes.few_images`).

    Sizes without a recorded run are left out; the seeds are those recorded (``<name>``, ``<name>@seed<k>``).
    """
    out: dict[bool, dict] = {True: {}, False: {}}
    for elastic in (True, False):
        for n in sizes:
            stats = seed_stats(recorded_seeds(few_images(base, n, 0, steps, elastic).name, directory), measure)
            if stats is not None:
                out[elastic][n] = stats
    return out


def draw_few_images(stats: Mapping[bool, Mapping[int, Any]], measure: str, title: str, published: float | None = None):
    """The held-out ``measure`` against the number of training images, with and without elastic deformation.

    Each point is the mean over seeds with a bar of +- one standard deviation; every seed's value is drawn
    as a small dot. ``stats`` is :func:`few_images_stats`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    for elastic, marker, shift in ((True, "o", -0.03), (False, "s", 0.03)):
        points = stats.get(elastic, {})
        if not points:
            continue
        ns = sorted(points)
        x = np.array(ns, float) * (1 + shift)
        label = "with elastic deformation" if elastic else "without (flips, rotations, gray values only)"
        ax.errorbar(x, [points[n].mean for n in ns], [points[n].sd for n in ns], marker=marker, capsize=3, label=label)
        for xi, n in zip(x, ns):
            ax.plot([xi] * points[n].n, list(points[n].values.values()), ".", color="0.5", ms=3)
    if published is not None:
        ax.axhline(published, ls=":", color="0.3", lw=1, label=f"paper ({published})")
    ax.set_xscale("log", base=2)
    sizes = sorted({n for points in stats.values() for n in points})
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images")
    ax.set_ylabel(f"held-out {measure}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def threshold_slider(prob: np.ndarray, truth: np.ndarray, thresholds: Sequence[float], title: str, crop: int = 256):
    """A static slider over the threshold: the map ``p > t`` against the truth (:func:`error_rgb`), per ``t``.

    Parameters
    ----------
    prob : numpy.ndarray
        (H, W) probability of cell.
    truth : numpy.ndarray
        (H, W), nonzero on truth cells.
    thresholds : sequence of float
        The slider's positions.
    title : str
    crop : int
        Side of the centred crop shown (the whole map is scored).

    Returns
    -------
    unet_core.book.widgets.ParameterSlider
        Each position titled with the pixel error of the whole map at that threshold.
    """
    prob, truth = np.asarray(prob, np.float32), np.asarray(truth) > 0
    if prob.shape != truth.shape:
        raise ValueError(f"prob and truth must have one shape, got {prob.shape} and {truth.shape}")
    h, w = prob.shape
    window = np.s_[max(0, (h - crop) // 2) : (h + crop) // 2, max(0, (w - crop) // 2) : (w + crop) // 2]

    def render(t):
        import matplotlib.pyplot as plt

        errors = float(((prob > t) != truth).mean())
        fig, ax = plt.subplots(figsize=(3.4, 3.5))
        ax.imshow(error_rgb(prob[window] > t, truth[window]))
        ax.set_title(f"p > {t:g}: {errors:.1%} of the pixels wrong\nred: false membrane, blue: missed", fontsize=8)
        ax.axis("off")
        return fig

    return parameter_slider(render, {"t": list(thresholds)}, initial={"t": thresholds[len(thresholds) // 2]},
                            title=title, label=lambda t: f"{t:g}")  # fmt: skip

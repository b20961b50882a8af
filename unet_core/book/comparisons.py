"""Tables of the FusionNet chapter that set the two networks' measured numbers side by side:
the cost on this machine, the scores beside the published ones, and a one-paragraph summary.

The published numbers themselves (Table 1 of {cite}`ronneberger2015unet`, the challenge's
leaderboard entries) stay on the chapter's page and are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..models import (
    PAPER_TILE,
    FusionNet,
    UNet,
    count_conv_layers,
    count_parameters,
    fusionnet_flops,
    fusionnet_parameter_count,
    fusionnet_receptive_field,
    input_size_for_output,
    unet_flops,
    unet_output_size,
)
from ..models.unet import unet_parameter_count
from ..recipes.registry import ablations, get_recipe
from .report import fmt_like, md_table, provenance, reproduction
from .seeds import paired_difference, seed_table
from .viz import load_results, recorded_run, recorded_seeds

__all__ = [
    'NETS',
    'linearised_support',
    'architecture',
    'architecture_table',
    'cost_table',
    'TABLE2_PUBLISHED',
    'table2_seg',
    'table2',
    'ablation_key',
    'ablation_runs',
    'ablation_table',
    'tta_gain',
]

NETS = ("U-Net", "FusionNet")
"""The two networks, in the order of every table."""


def linearised_support(net: torch.nn.Module, side: int, border: int) -> tuple[int, int, int]:
    """Receptive field of ``net`` along one axis, by the gradient support of a linearised copy.

    Activations and dropout become the identity and max pooling becomes 2x2 average pooling (``net`` is
    modified in place), so that every input pixel the architecture connects to an output pixel has a
    non-zero gradient. One output pixel in the middle is taken for every phase on the pooling grid.

    Parameters
    ----------
    net : torch.nn.Module
        A U-Net or FusionNet with ``output_size(side)`` and ``stride``; input ``(1, 1, side, side)``.
    side : int
        Input side in px.
    border : int
        Offset of output pixel 0 in the input (92 for the valid U-Net, 0 for padded networks).

    Returns
    -------
    tuple of int
        ``(widest window, farthest reach past the output pixel's input position, narrowest window)`` in px.
    """
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.Dropout)):
                setattr(module, name, torch.nn.Identity())
            elif isinstance(child, torch.nn.MaxPool2d):
                setattr(module, name, torch.nn.AvgPool2d(2))
    net.eval()
    widest = reach = 0
    narrowest = side
    out = net.output_size(side)
    for phase in range(net.stride):
        o = out // 2 // net.stride * net.stride + phase  # an output pixel in the middle, at this phase
        x = torch.randn(1, 1, side, side, requires_grad=True)
        net(x)[0, 1, o, o].backward()
        cols = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten()
        lo, hi = int(cols[0]) - (o + border), int(cols[-1]) - (o + border)
        widest, reach, narrowest = max(widest, hi - lo + 1), max(reach, -lo, hi), min(narrowest, hi - lo + 1)
    return widest, reach, narrowest


def architecture(name: str, base_channels: int, tile: int, unet_rf: tuple[int, ...]) -> dict:
    """Exact sizes of one network (depth 5) at ``base_channels``, from closed forms.

    Parameters
    ----------
    name : {"U-Net", "FusionNet"}
    base_channels : int
        Channels of the first level (64 in the papers).
    tile : int
        The network's training tile side in px.
    unet_rf : tuple of int
        The U-Net's ``(widest window, reach)`` from :func:`linearised_support` (FusionNet's is closed form).

    Returns
    -------
    dict
        ``conv`` (layers), ``params``, ``built`` (parameters of the built module, None above 16 channels),
        ``built_for`` (closed form at ``min(base_channels, 16)``), ``side`` (input px for one 512 slice),
        ``flops`` (that pass), ``paper_flops`` (FusionNet's 640 px input, else None), ``tile_flops``,
        ``receptive`` ``(size, reach)``, ``context`` (px per side for seamless tiles) and
        ``tile`` ``(input, output)`` px.
    """
    if name == "U-Net":
        side = input_size_for_output(512)  # 700
        net = UNet(base_channels=min(base_channels, 16))  # the counts below do not depend on the width
        return dict(
            conv=count_conv_layers(net),
            params=unet_parameter_count(1, 2, base_channels, 5),
            built=count_parameters(net) if base_channels <= 16 else None,
            built_for=unet_parameter_count(1, 2, min(base_channels, 16), 5),
            side=side,
            flops=unet_flops(side, base_channels=base_channels),
            paper_flops=None,
            tile_flops=unet_flops(tile, base_channels=base_channels),
            receptive=tuple(unet_rf[:2]),
            context=net.border,
            tile=(tile, unet_output_size(tile)),
        )
    rf = fusionnet_receptive_field()
    net = FusionNet(base_channels=min(base_channels, 16))
    side = net.input_size_for_output(512 + 2 * rf.margin)  # 1040
    return dict(
        conv=count_conv_layers(net),
        params=fusionnet_parameter_count(base_channels=base_channels),
        built=count_parameters(net) if base_channels <= 16 else None,
        built_for=fusionnet_parameter_count(base_channels=min(base_channels, 16)),
        side=side,
        flops=fusionnet_flops(side, base_channels=base_channels),
        paper_flops=fusionnet_flops(PAPER_TILE, base_channels=base_channels),
        tile_flops=fusionnet_flops(tile, base_channels=base_channels),
        receptive=(rf.size, rf.margin),
        context=net.tile_margin,
        tile=(tile, tile),
    )


ARCH_ROWS = {
    "conv layers": lambda a: a["conv"],
    "parameters": lambda a: fmt_like(a["params"]),
    "input for one 512 slice (one pass)": lambda a: f"{a['side']} px",
    "GFLOP per 512 slice, one pass": lambda a: f"{a['flops'] / 1e9:,.1f}",
    "GFLOP per 512 slice, the paper's 640 px input": lambda a: (
        f"{a['paper_flops'] / 1e9:,.1f}" if a["paper_flops"] else "-"
    ),
    "receptive field (widest window)": lambda a: f"{a['receptive'][0]} px",
    "reach past the output pixel": lambda a: f"{a['receptive'][1]} px",
    "context per side for seamless tiles": lambda a: f"{a['context']} px",
    "training tile (input -> output)": lambda a: f"{a['tile'][0]} -> {a['tile'][1]} px",
    "supervised pixels per tile": lambda a: fmt_like(a["tile"][1] ** 2),
    "GFLOP per training tile, forward": lambda a: f"{a['tile_flops'] / 1e9:,.1f}",
}
"""Rows of :func:`architecture_table`: label -> cell of one :func:`architecture` dict."""


def architecture_table(
    arch: Mapping[tuple[str, str], dict], widths: Mapping[str, int], unet_rf: tuple[int, int, int]
) -> str:
    """Markdown: the :func:`architecture` sizes of both networks at the paper's and the cpu width, and a note.

    Parameters
    ----------
    arch : mapping
        ``(network, "paper" | "cpu")`` -> :func:`architecture` dict.
    widths : mapping
        ``"paper"`` / ``"cpu"`` -> base channels.
    unet_rf : tuple of int
        The U-Net's :func:`linearised_support` (widest, reach, narrowest).
    """
    columns = [(name, label) for label in ("paper", "cpu") for name in NETS]
    header = [""] + [
        f"{name}, {'paper' if label == 'paper' else 'cpu recipe'} ({widths[label]} ch.)" for name, label in columns
    ]
    rows = [[what] + [str(cell(arch[key])) for key in columns] for what, cell in ARCH_ROWS.items()]
    ratio = arch["FusionNet", "paper"]["flops"] / arch["U-Net", "paper"]["flops"]
    paper_ratio = arch["FusionNet", "paper"]["paper_flops"] / arch["U-Net", "paper"]["flops"]
    return (
        md_table(header, rows)
        + f"\n\nExact at every scale (closed forms, checked against the built modules). FusionNet costs "
        f"{ratio:.1f} times the U-Net's arithmetic per slice at the same width (seamless one-pass prediction; "
        f"{paper_ratio:.1f} times with the paper's 640 px input); 8-fold test-time augmentation multiplies "
        f"both by 8. The U-Net's window is {unet_rf[2]} to {unet_rf[0]} px wide depending on the pixel's "
        "place on the pooling grid; its tiles need only its 92 px border of context because the valid tiles "
        "sit on that grid ({ref}`the overlap-tile chapter <overlap-tile>`)."
    )


def cost_table(shown: Mapping[str, Any], scale: str, where: str, cpu_keys: Mapping[str, str]) -> str:
    """Markdown: the measured cost of the two networks (recorded keys ``"<net> <quantity>"``) and their ratios.

    Parameters
    ----------
    shown : mapping
        Recorded values of one run of the chapter (its results record's ``values``).
    scale : str
        That run's scale (``full`` compares the paper-width arithmetic, else the cpu width).
    where : str
        That run's provenance.
    cpu_keys : mapping
        Network -> the key of its recorded cpu training run (its seconds per step).
    """
    width = "paper" if scale == "full" else "cpu"
    flops_key = f"GFLOP per 512 slice (one pass, {width} width)"

    def cells(name: str) -> list[str]:
        rec = recorded_run(cpu_keys[name])
        tta = [k for k in shown if k.startswith(f"{name} per held-out image")]
        return [
            f"`{shown.get(f'{name} recipe')}`",
            fmt_like(shown.get(f"{name} parameters")),
            fmt_like(shown.get(f"{name} {flops_key}")),
            fmt_like(shown.get(f"{name} peak training memory per tile [MiB]")),
            fmt_like(shown.get(f"{name} first training step, memory [MiB]")),
            fmt_like(shown.get(f"{name} training step [s]")),
            fmt_like(shown.get(tta[0])) if tta else "-",
            fmt_like(shown.get(f"{name} per 512 slice, one pass [s]")),
            f"{fmt_like(rec.get('seconds per step'))} ({provenance(rec)})" if rec else "not recorded",
        ]

    def ratio(key: str) -> str:
        u, f = shown.get(f"U-Net {key}"), shown.get(f"FusionNet {key}")
        return f"{f / u:.1f}" if u and f else "-"

    labels = [
        "recipe",
        "parameters",
        "GFLOP per 512 slice, one pass",
        "peak training memory per tile [MiB]",
        "first training step, incl. Adam's state [MiB]",
        "training step, one tile [s]",
        "per 512 slice, 8-fold TTA [s]",
        "per 512 slice, one pass [s]",
        "recorded training run: s per step (data pipeline included)",
    ]
    by_net = {name: cells(name) for name in NETS}
    rows = [[label] + [by_net[name][i] for name in NETS] for i, label in enumerate(labels)]
    tta_key = next((k[len("U-Net ") :] for k in shown if k.startswith("U-Net per held-out image")), "")
    return (
        md_table(["", *NETS], rows) + f"\n\nMeasured: {where}. Memory: {shown.get('memory measured by')}.\n\n"
        f"**FusionNet / U-Net**: {ratio('training step [s]')} times the time per training step "
        f"({ratio('peak training memory per tile [MiB]')} times the memory per tile), "
        f"{ratio('per 512 slice, one pass [s]')} times the time per slice in one pass "
        f"({ratio(tta_key)} times with 8-fold TTA), for {ratio(flops_key)} times the arithmetic per slice."
    )


TABLE2_PUBLISHED = [
    ["IMCB-SG (2014)", "0.2669", "0.2935"],
    ["KTH-SE (2014)", "0.7953", "0.4607"],
    ["HOUS-US (2014)", "0.5323", "-"],
    ["second-best 2015", "0.83", "0.46"],
]
"""Table 2 of {cite}`ronneberger2015unet` (SEG on the challenge's test sequences): other entries'
``[name, PhC-U373, DIC-HeLa]``; the u-net row is added by :func:`table2` from ``datasets``."""


def table2_seg(value: Any, published: str, silver: bool = False) -> str:
    """A SEG value at the decimals of Table 2's ``published`` string, marked when measured against silver truth."""
    return fmt_like(value, published) + (" (vs SILVER truth)" if silver else "")


def table2(
    chapter: str,
    scale: str,
    datasets: Mapping[str, Mapping[str, str]],
    *,
    recipe_names: list[str],
    this_run: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    kind: Mapping[str, str] | None = None,
    published_nets: Mapping[str, str],
) -> str:
    """Markdown: Table 2's rows with ours beside them, each of ours with where its numbers come from.

    Parameters
    ----------
    chapter : str
        Results name of the chapter (its recorded reproduction is shown on a ``smoke`` run).
    scale : str
        This run's scale: at ``cpu``/``full`` this run's ``values`` (``"SEG PhC-U373"``, ``"SEG DIC-HeLa"``).
    datasets : mapping
        ``"phc-u373"``, ``"dic-hela"`` -> ``{"published": Table 2's u-net SEG as a string, ...}``.
    recipe_names : list of str
        This run's recipes, in the order of ``datasets``.
    this_run, values, kind : mapping, optional
        This run's record, values and per dataset a label suffix (e.g. silver truth), for ``cpu``/``full``.
    published_nets : mapping
        Dataset -> its published network (the recorded training runs are named in a note).
    """
    names = list(datasets)

    def seg(value, name, silver=False):
        return table2_seg(value, datasets[name]["published"], silver)

    pub = "published (Table 2), challenge test sequences"
    rows = [[r[0], pub, *r[1:]] for r in TABLE2_PUBLISHED]
    rows.append(
        [
            "u-net (2015), paper",
            "published, challenge test sequences, gold truth",
            *[f"**{datasets[n]['published']}**" for n in names],
        ]
    )
    shown, own_rows = set(), set()  # recipes whose scores are in the table; those with a training-run row
    if scale != "smoke":
        rows.append(
            [
                f"**this run**: {', '.join(f'`{r}`' for r in recipe_names)}",
                provenance(this_run, scale),
                f"{seg(values['SEG PhC-U373'], names[0])}{kind[names[0]]}",
                f"{seg(values['SEG DIC-HeLa'], names[1])}{kind[names[1]]}",
            ]
        )
        shown.update(recipe_names)
    else:
        rep = reproduction(load_results().get(chapter))
        if rep is not None:
            rscale, run = rep
            v = run["values"]
            rnames = v.get("recipes", [f"{n}-{rscale}" for n in names])
            silver = "SILVER" in str(v.get("reference (PhC-U373, DIC-HeLa)", ["", "SILVER"])[-1])
            rows.append(
                [
                    f"ours: {', '.join(f'`{n}`' for n in rnames)}, recorded",
                    provenance(run, rscale),
                    seg(v["SEG PhC-U373"], names[0]),
                    seg(v["SEG DIC-HeLa"], names[1], silver),
                ]
            )
            shown.update(rnames)
    for suffix in ("cpu", "paper", "full"):  # training runs of book/scripts/run_recipes.py
        for i, name in enumerate(names):
            rec = recorded_run(f"{name}-{suffix}")
            if rec is not None and rec["key"] not in shown:
                value = seg(rec["values"]["SEG"], name, "SILVER" in rec.get("source", ""))
                rows.append(
                    [f"ours: `{rec['key']}`, recorded training run", provenance(rec)]
                    + ([value, "-"] if i == 0 else ["-", value])
                )
                shown.add(rec["key"])
                own_rows.add(rec["key"])
    note = ""
    if not shown:
        note = (
            "\n\n*No `cpu` or `full` run is recorded here: run the chapter with `SCALE = \"cpu\"` (a few "
            "minutes with the published networks) to put our numbers beside Table 2.*"
        )
    trained = [
        f"`{net}`: {provenance(recorded_run(net))}"
        for net in published_nets.values()
        if net in shown - own_rows and recorded_run(net) is not None
    ]
    if trained:
        note += (
            "\n\nThe published networks are each recipe's seed-0 run (the spread over seeds is on the results "
            "page), trained by `book/scripts/run_recipes.py`: " + "; ".join(trained) + "."
        )
    return md_table(["Name", "where the numbers come from", "PhC-U373", "DIC-HeLa"], rows) + note


def ablation_key(base: str, steps: int, row: str) -> str:
    """The recorded key of one ablation row (``book/scripts/run_recipes.py --ablations``), seed 0.

    Examples
    --------
    >>> ablation_key("isbi2012-cpu", 500, "w0 = 0")
    'ablation-isbi2012-cpu@500-w0__0'
    """
    return f"ablation-{base}@{steps}-{row.replace(' ', '_').replace('=', '').replace('/', '_')}"


def ablation_runs(base: str, steps: int, row: str, directory=None) -> dict[int, dict]:
    """The recorded runs of one ablation row by seed; at the recipe's own budget "recipe" is the recipe's runs.

    Parameters
    ----------
    base : str
        The recipe whose ablation table it is (``"isbi2012-cpu"``).
    steps : int
        The table's budget in steps.
    row : str
        A row of :func:`~unet_core.recipes.registry.ablations` (``"w0 = 0"``).
    directory : path, optional
        Where the runs are recorded (default ``book/results/recipes``).

    Returns
    -------
    dict
        ``{seed: recorded run}``, empty where none is recorded.

    Examples
    --------
    >>> ablation_runs("isbi2012-cpu", 500, "no such row")
    {}
    """
    own = steps == get_recipe(base).iterations and row == "recipe"
    return recorded_seeds(base if own else ablation_key(base, steps, row), directory)


def tta_gain(base: str, steps: int, measure: str, lower_is_better: bool = False, directory=None):
    """What test-time augmentation gains in ``measure`` at ``steps``, seed by seed; None until both rows exist.

    The "no TTA" row scores the "recipe" row's networks without TTA, so the per-seed difference
    (:func:`~unet_core.book.seeds.paired_difference`) holds the networks fixed. Positive means TTA
    helps: with minus without for a score, without minus with for an error (``lower_is_better``).

    Parameters
    ----------
    base, steps, directory
        As for :func:`ablation_runs`.
    measure : str
        A key of the runs' ``values`` (``"SEG"``, ``"Rand error"``).
    lower_is_better : bool
        Whether ``measure`` is an error.

    Returns
    -------
    SeedStats or None
        The per-seed gains over the seeds both rows record.

    References
    ----------
    .. [1] Ronneberger, Fischer, Brox (2015), Sec. 4: the ISBI entry averaged 7 rotated predictions.
    """
    with_tta = ablation_runs(base, steps, "recipe", directory)
    without = ablation_runs(base, steps, "no TTA", directory)
    pair = (without, with_tta) if lower_is_better else (with_tta, without)
    return paired_difference(*pair, measure)


def ablation_table(
    base: str,
    steps: int,
    measures: list[str],
    published: Mapping[str, Any] | None = None,
    directory=None,
) -> str:
    """The ablation table of ``base`` at ``steps`` over the recorded seeds, and where its runs came from.

    One row per :func:`~unet_core.recipes.registry.ablations` row: mean +- sd over its recorded seeds
    (``<key>``, ``<key>@seed<k>``) per measure, and whether it differs from the "recipe" row beyond the
    spread (:func:`~unet_core.book.seeds.separated`); below it, the rows not recorded yet, the device(s),
    the training time per run and the dates of the recorded runs. At the recipe's own budget the
    "recipe" row is the recipe's recorded runs (``<base>``, ``<base>@seed<k>``).
    """
    rows = {row: ablation_runs(base, steps, row, directory) for row in ablations(base, steps)}
    missing = [row for row, seeds in rows.items() if not seeds]
    rows = {row: seeds for row, seeds in rows.items() if seeds}
    runs = [r for seeds in rows.values() for r in seeds.values()]
    if not runs:
        return f"*No run of the {steps:,}-step table of {base} is recorded yet.*"
    table = seed_table(rows, measures, published, baseline="recipe" if "recipe" in rows else None)
    if missing:
        table += f"\n\nNot recorded yet: {', '.join(missing)}."
    train = [r["train seconds (this call)"] for r in runs if r.get("steps trained in this call")]
    devices = sorted({str(r.get("device", "?")) for r in runs})
    dates = sorted(str(r.get("date", "?"))[:10] for r in runs)
    cost = f"{min(train):,.0f} to {max(train):,.0f} s of training each" if train else "scoring only"
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    return (
        f"{table}\n\n{len(runs)} recorded runs at {steps:,} steps ({cost}; {'; '.join(devices)}; {when}). "
        "A row differs from the recipe only where the mean +- sd intervals over the seeds are disjoint."
    )

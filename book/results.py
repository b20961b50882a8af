# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (results)=
# # Results: every published number beside ours
#
# The one table to read: each number the paper publishes (Table 1, Table 2, the network's sizes, the
# speed) beside the value this companion measured, with the run it comes from (scale, device, what the
# run cost, date) and a link to the chapter that explains the difference. Only `cpu` and `full` runs
# count as reproductions: `cpu` runs are the budgeted recipes that fit a 2-core CPU, `full` runs the
# paper's network on a GPU with Adam (the `book-full` workflow; only the `paper` recipe has the paper's SGD). `smoke` runs are pipeline checks on reduced
# data or tiny networks and appear nowhere on this page.

# %% tags=["parameters", "remove-cell"]
SCALE = "smoke"  # unused: this page only reads what the chapters recorded
DEVICE = "auto"
SEED = 0
DATA_DIR = None

# %% tags=["remove-input"]
import sys
from pathlib import Path

from IPython.display import Markdown, display

from unet_core.book import viz
from unet_core.book.claims import claim_rows

sys.path.append(str(Path(viz.__file__).resolve().parents[2] / "book"))  # the book beside the package
import manifest  # noqa: E402  (book/manifest.py: each chapter's label)

results = viz.load_results()  # book/results (cpu/full builds) or the build's copy of it (smoke builds)


def chapter_link(chapter: str) -> str:
    label = manifest.label(chapter)
    return f"{{ref}}`{chapter[:2]} <{label}>`" if label else chapter


rows, missing = [], []
for chapter, doc in results.items():
    best = viz.reproduction(doc)
    for key, published in doc.get("published", {}).items():
        if best is None:
            missing.append(chapter)
            rows.append([key, viz.fmt_like(published, published), "not reproduced yet", "-", chapter_link(chapter)])
            continue
        scale, run = best
        value = run["values"].get(key)
        rows.append([key, viz.fmt_like(published, published),
                     viz.fmt_like(value, published) if value is not None else "-",
                     viz.provenance(run, scale), chapter_link(chapter)])
if rows:
    display(Markdown(viz.md_table(["quantity", "paper", "ours", "our run (scale; device; cost; date)", "chapter"],
                                  rows)))
else:
    display(Markdown("*No chapter has recorded a `cpu` or `full` run yet: run `python book/build.py --scale cpu`.*"))
full = [c for c, d in results.items() if "full" in d.get("runs", {})]
display(Markdown(
    f"Full-scale (GPU) runs are recorded for: {', '.join(chapter_link(c) for c in full)}." if full else
    "**No full-scale run is recorded yet.** Every number above comes from a `cpu` run (the budgeted recipes "
    "on a 2-core CPU, named per row); the paper's accuracy figures need the `full` scale on a GPU "
    "(`python book/build.py --scale full`, or the `book-full` workflow, then commit its `book/results`)."))

# %% [markdown]
# ## The `cpu` recipes over seeds
#
# One training run is one draw: the initial weights, the tiles and the dropout masks come from a seed,
# and on five held-out slices or frames the scores move with it. Each `cpu` recipe is trained from
# several seeds (`book/scripts/run_recipes.py NAME --seeds 0 1 2`); the table gives the mean and the
# standard deviation over the recorded seeds and every seed's value. The published network of each
# recipe is its seed-0 run (the last column); the chapters score that one. "Reached" means the paper's value
# lies within our mean ± sd or beyond it on the better side. DIC-HeLa is scored against the
# silver truth here (the gold truth of its held-out frames is not in this data copy), the paper against
# the gold truth of the challenge's test set.

# %% tags=["remove-input"]
SPREAD = [  # (recipe, its measure, the chapter and the published value it stands beside)
    *[("isbi2012-cpu", m, "06_isbi2012", m) for m in ("warping error", "Rand error", "pixel error")],
    ("phc-u373-cpu", "SEG", "07_cell_tracking", "SEG PhC-U373"),
    ("dic-hela-cpu", "SEG", "07_cell_tracking", "SEG DIC-HeLa"),
]
spread = viz.spread_rows([(r, viz.recorded_seeds(r), m, results.get(c, {}).get("published", {}).get(p))
                          for r, m, c, p in SPREAD])
display(Markdown(viz.md_table(["recipe", "measure", "paper", "ours: mean ± sd over seeds", "the paper's value",
                               "published network"],
                              spread) if spread else "*No recorded recipe run yet.*"))

# %% [markdown]
# ## The paper's claims, tested
#
# The paper states more than it measures. Each claim below is put to one test in its chapter: two arms of
# recorded runs that differ in one respect, over seeds. The effect is arm minus arm (seed by seed where the
# arms share their seeds, frames and initial weights); it supports or contradicts the claim only where it
# exceeds its spread.

# %% tags=["remove-input"]
claims = claim_rows(link={c: chapter_link(c) for c in manifest.stems()})
display(Markdown(viz.md_table(["claim", "test", "effect: mean ± sd", "reading", "chapter"], claims)))

# %% [markdown]
# ## Every recorded number, per chapter
#
# Beyond the published ones: everything each chapter recorded, with the run it comes from.

# %% tags=["remove-input"]
blocks = []
for chapter, doc in results.items():
    runs = [(s, doc["runs"][s]) for s in ("cpu", "full") if s in doc.get("runs", {})]
    if not runs:
        continue
    keys = list(dict.fromkeys(k for _, run in runs for k in run["values"]))
    table = viz.md_table(["quantity", "paper", *[f"{s} run" for s, _ in runs]],
                         [[k, viz.fmt_like(doc["published"].get(k), doc["published"].get(k)),
                           *[viz.fmt_like(run["values"].get(k), doc["published"].get(k)) for _, run in runs]]
                          for k in keys])
    lines = [f"**{chapter_link(chapter)}**", "", table, ""]
    for s, run in runs:
        v = run.get("versions", {})
        lines.append(f"* **{s}**: {viz.provenance(run, s)}; unet_core {v.get('unet_core', '?')}, torch "
                     f"{v.get('torch', '?')}" + (f". {run['notes']}" if run.get("notes") else ""))
    blocks.append("\n".join(lines))
display(Markdown("\n\n".join(blocks) or "*Nothing recorded yet.*"))

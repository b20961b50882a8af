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
# # Results: every number, and the run it comes from
#
# Each chapter records its numbers with `viz.record_results` into `book/results/<chapter>.json`, one
# entry per run scale (`smoke`: seconds on a laptop CPU, the default; `cpu`: minutes on a CPU;
# `full`: the paper's settings, which need a GPU). This page gathers them: for each quantity the
# paper's value (where the paper states one) and the value of every recorded run, followed by the
# machine, date and versions of each run.

# %% tags=["parameters", "remove-cell"]
SCALE = "smoke"  # unused: this page only reads what the chapters recorded
DEVICE = "auto"
SEED = 0
DATA_DIR = None

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from unet_core import viz

results = viz.load_results()
scales = [s for s in viz.SCALES if any(s in doc["runs"] for doc in results.values())]


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    return str(value).replace("|", "\\|")


lines = []
if not results:
    lines.append("*No chapter has recorded results yet: run `python book/build.py`.*")
for chapter, doc in results.items():
    keys = list(dict.fromkeys(k for s in scales if s in doc["runs"] for k in doc["runs"][s]["values"]))
    lines += [f"**{chapter}**", "", "| quantity | paper | " + " | ".join(f"{s} run" for s in scales) + " |",
              "|---|---|" + "---|" * len(scales)]
    for key in keys:
        runs = [cell(doc["runs"].get(s, {}).get("values", {}).get(key)) for s in scales]
        lines.append(f"| {cell(key)} | {cell(doc['published'].get(key))} | " + " | ".join(runs) + " |")
    lines.append("")
    for s in scales:
        if s in doc["runs"]:
            run = doc["runs"][s]
            v = run["versions"]
            lines.append(f"* **{s}**: {run['device']}, {run['date']}; unet_core {v['unet_core']}, torch {v['torch']}"
                         + (f". {run['notes']}" if run.get("notes") else ""))
    lines.append("")
if results and "full" not in scales:
    lines.append("**No full-scale run is recorded yet.** The `full` column appears once "
                 "`python book/build.py --scale full` has run on a GPU (e.g. by the `book-full` workflow) and "
                 "its `book/results/*.json` are committed. Until then the numbers above come from the "
                 "reduced `smoke`/`cpu` runs listed under each table, and do not reproduce the paper's "
                 "accuracy figures.")
display(Markdown("\n".join(lines)))

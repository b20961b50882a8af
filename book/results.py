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
# First the numbers a reader comes for, the paper's Tables 1 and 2 beside this companion's, as mean ± sd
# over training seeds; then the paper's claims, each put to one test; then every other number the paper
# publishes (the network's sizes, the speed). Only `cpu` and `full` runs count: `cpu` runs are the budgeted
# recipes that fit a 2-core CPU, `full` runs the paper's network on a GPU with Adam (the `book-full` workflow;
# only the `paper` recipe has the paper's SGD). `smoke` runs are pipeline checks and appear nowhere on this
# page. Each run is cited as [k] and described once, in the run table at the end.

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
from unet_core.book.results_page import chapter_blocks, published_rows, runs_table

sys.path.append(str(Path(viz.__file__).resolve().parents[2] / "book"))  # the book beside the package
import manifest  # noqa: E402  (book/manifest.py: each chapter's label)

results = viz.load_results()  # book/results (cpu/full builds) or the build's copy of it (smoke builds)


def chapter_link(chapter: str) -> str:
    label = manifest.label(chapter)
    return f"{{ref}}`{chapter[:2]} <{label}>`" if label else chapter


# %% [markdown]
# ## Tables 1 and 2, over seeds
#
# Each `cpu` recipe is trained from several seeds (`book/scripts/run_recipes.py NAME --seeds 0 1 2`: the
# initial weights, the tiles and the dropout masks); on five held-out slices or frames the scores move with
# the seed. "Reached" means the paper's value lies within our mean ± sd or beyond it on the better side. The
# published network of each recipe is its seed-0 run (the last column); the chapters score that one. DIC-HeLa
# is scored against the silver truth here (the gold truth of its held-out frames is not in this data copy),
# the paper against the gold truth of the challenge's test set. The devices and times of these runs are in
# {ref}`the chapters <isbi2012>` and the records under `book/results/recipes/`.

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
# ## The other published numbers
#
# The network's sizes, the weight map's constants, the speed and the rest, beside the chapter's
# reproduction run (`full` where recorded, else `cpu`); Table 1 and 2's scores are above.

# %% tags=["remove-input"]
TABLE_SCORES = {(c, p) for _, _, c, p in SPREAD}
rows = published_rows(results, chapter_link, skip=lambda chapter, key: (chapter, key) in TABLE_SCORES)
display(Markdown(viz.md_table(["quantity", "paper", "ours", "run", "chapter"], rows) if rows else
                 "*No chapter has recorded a `cpu` or `full` run yet: run `python book/build.py --scale cpu`.*"))
full = [c for c, d in results.items() if "full" in d.get("runs", {})]
display(Markdown(
    f"Full-scale (GPU) runs are recorded for: {', '.join(chapter_link(c) for c in full)}." if full else
    "**No full-scale run is recorded yet.** Every number above comes from a `cpu` run (the budgeted recipes "
    "on a 2-core CPU); the paper's accuracy figures need the `full` scale on a GPU "
    "(`python book/build.py --scale full`, or the `book-full` workflow, then commit its `book/results`)."))

# %% [markdown]
# ## Limitations
#
# **Of the paper.** It reports no ablation: none of its design choices (the border term, the elastic
# deformation, momentum 0.99, the overlap-tile strategy) is measured against its absence, which is why the
# chapters test them. It is 2D, slice by slice, on stacks that are 3D. Its segmentation for the cell
# challenges cut probabilities into cells in a way it does not describe, and its ISBI 2012 entry averaged
# 7 rotated predictions (test-time augmentation) that the architecture itself does not include. It gives
# no learning rate, schedule or number of steps, and no code in the paper (the authors released a Caffe
# model separately).
#
# **Of this companion.** No `full` (GPU) run is recorded yet, so every score above comes from 16-channel
# networks trained for 25 minutes on 2 CPU cores, not the 64-channel network trained for ten GPU hours. The
# held-out ISBI 2012 slices are 5 of the 30 annotated training slices (the challenge's test labels are not
# public), not the challenge's test set. DIC-HeLa is scored against silver (computer-generated) truth, and
# PhC-U373 on 5 gold frames of one sequence. Five held-out slices or frames make the spread between seeds
# large; the tables show it rather than hide it.
#
# **Where the `cpu` recipes stop short, and why.** ISBI 2012: the errors are splits ($V_\text{split}$ below
# $V_\text{merge}$), and no change tried one at a time (the border term, the class balance, no elastic
# deformation, the paper's optimiser at three learning rates, FusionNet's larger field on one seed) moves the Rand
# error beyond the spread between seeds, which is as large as the distance to the target ({ref}`isbi2012`,
# {ref}`optimiser`, {ref}`fusionnet`). PhC-U373: no held-out cell is merged or missed; four of the 24 score
# 0.69-0.76, where the network takes in protrusions the gold outline leaves out, and the other 20 are outlined as
# well as the training frames' cells ({ref}`cell-tracking`, `book/scripts/ctc_errors.py`). DIC-HeLa: the seeds
# end 4500 steps at different training losses (0.24 to 0.33) and their held-out SEG follows (0.77 to 0.58): the
# budget is short of convergence for some seeds.

# %% [markdown]
# ## Every recorded number, per chapter
#
# Beyond the published ones: everything each chapter recorded.

# %% tags=["remove-input"]
display(Markdown("\n\n".join(chapter_blocks(results, chapter_link)) or "*Nothing recorded yet.*"))

# %% [markdown]
# ## The runs
#
# Every run cited above as [k], with its scale, device, what it cost and when, once.

# %% tags=["remove-input"]
display(Markdown(runs_table(results, chapter_link) or "*No `cpu` or `full` run recorded yet.*"))

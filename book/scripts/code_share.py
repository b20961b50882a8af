"""How much of each chapter's visible code teaches: a count, per chapter, of the code a reader sees.

A chapter's *visible* code is every line of its code cells that the static book shows (not tagged
``hide-input``, ``remove-input``, ``remove-cell`` or ``parameters``; blank and comment-only lines left
out). A visible line is counted as *plumbing* when it calls one of the book's helpers that record,
provide or lay out results (``viz.``, ``comparisons.``, ``figures.``, ``seeds.``, ``networks.`` and the
other modules of ``unet_core.book``), is an import, draws with matplotlib or lays out a table, or deals
with scales, data locations and synthetic fallbacks; every other visible line (the package's mechanisms,
``uc.*``, torch and numpy on the page, the paper's arithmetic, printed results) counts as *teaching*. It is a rule of
thumb, not a judgement of each line, and is stated with the numbers it gives.

    python book/scripts/code_share.py [--rev GIT_REVISION] [--json]

``--rev`` reads the chapters as they were at a revision (e.g. to compare before and after a change).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = ("hide-input", "remove-input", "remove-cell", "parameters")
PLUMBING = re.compile(
    r"\b(viz|comparisons|figures|seeds|networks|report|widgets|claims|results_page|seed_plots|touching)\."
    r"|^\s*(import|from)\s|record_results|provenance|check_cap"  # the book's helpers, imports
    r"|\b(plt|fig|axes|ax|ax2)\b\s*[.,\[=]|\bdisplay\(|\bMarkdown\(|md_table"  # figures and tables
    r"|^\s*(try:|except\b)|\bSCALE\b|synthetic|DATA_DIR|data_dir|runs_folder|PRETRAINED"  # fallbacks, scales
)
CELL = re.compile(r"^# %%(.*)$")


def cells(text: str) -> list[tuple[str, list[str]]]:
    """``[(header, lines)]`` of a jupytext percent script's code cells (markdown cells left out)."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = CELL.match(line)
        if m:
            out.append((m.group(1), []))
        elif out:
            out[-1][1].append(line)
    return [(h, body) for h, body in out if "[markdown]" not in h]


def share(text: str) -> dict[str, int]:
    """``{"visible": n, "plumbing": p, "teaching": n - p}`` lines of one chapter's source."""
    visible = plumbing = 0
    for header, body in cells(text):
        if any(tag in header for tag in HIDDEN) or 'tags=["colab"' in header:
            continue
        for line in body:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            visible += 1
            plumbing += bool(PLUMBING.search(line))
    return {"visible": visible, "plumbing": plumbing, "teaching": visible - plumbing}


def chapter_texts(rev: str | None) -> dict[str, str]:
    """``{stem: source}`` of the numbered chapters, from the working tree or from git revision ``rev``."""
    if rev is None:
        return {p.stem: p.read_text() for p in sorted((ROOT / "book").glob("[0-9][0-9]_*.py"))}
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "book/"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    stems = sorted(n for n in names if re.fullmatch(r"book/\d\d_\w+\.py", n))
    return {Path(n).stem: subprocess.run(["git", "show", f"{rev}:{n}"], cwd=ROOT, capture_output=True,
                                         text=True, check=True).stdout for n in stems}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", default=None, help="a git revision (default: the working tree)")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = ap.parse_args(argv)
    rows = {stem: share(text) for stem, text in chapter_texts(args.rev).items()}
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'chapter':<20} {'visible':>7} {'teaching':>8} {'share':>6}")
    for stem, r in rows.items():
        print(f"{stem:<20} {r['visible']:>7} {r['teaching']:>8} {r['teaching'] / max(r['visible'], 1):>6.0%}")
    total = {k: sum(r[k] for r in rows.values()) for k in ("visible", "teaching")}
    print(
        f"{'all':<20} {total['visible']:>7} {total['teaching']:>8} {total['teaching'] / max(total['visible'], 1):>6.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Merge the results of book-full (or any) runs into the committed ``book/results``.

    python book/scripts/merge_results.py ARTIFACT_DIR [ARTIFACT_DIR ...] [--into book/results] [--dry-run]

Each ARTIFACT_DIR is an unpacked ``book-full`` artefact (or any folder) holding ``<chapter>.json``
results files (at any depth; ``recipes/*.json`` recipe records are copied as they are). For every
chapter, the runs of each scale in the artefact replace the committed run of that scale; the other
scales and the published values are kept. ``smoke`` runs are never merged (pipeline checks). Prints
what changed; review with ``git diff book/results`` and commit, naming the device in the message.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def merge_doc(committed: dict | None, new: dict) -> tuple[dict, list[str]]:
    """``committed`` with the non-smoke runs and published values of ``new``; and the scales replaced."""
    doc = json.loads(json.dumps(committed)) if committed else {"chapter": new["chapter"], "published": {}, "runs": {}}
    doc["published"].update(new.get("published", {}))
    scales = []
    for scale, run in new.get("runs", {}).items():
        if scale == "smoke":
            continue
        doc["runs"][scale] = run
        scales.append(scale)
    return doc, scales


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", nargs="+", type=Path)
    ap.add_argument("--into", type=Path, default=ROOT / "book" / "results")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    changed = 0
    for folder in args.artifacts:
        if not folder.is_dir():
            ap.error(f"artifact folder {folder} does not exist (unpack the downloaded artefact first)")
        for path in sorted(folder.rglob("*.json")):
            if path.parent.name == "recipes":
                print(f"recipe record {path.name}")
                if not args.dry_run:
                    (args.into / "recipes").mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, args.into / "recipes" / path.name)
                changed += 1
                continue
            new = json.loads(path.read_text())
            if not isinstance(new, dict) or "runs" not in new or new.get("chapter") != path.stem:
                continue  # not a chapter's results file (e.g. a benchmark JSON)
            target = args.into / path.name
            doc, scales = merge_doc(json.loads(target.read_text()) if target.exists() else None, new)
            if scales:
                runs = [f"{s} ({new['runs'][s].get('device')}, {new['runs'][s].get('date')})" for s in scales]
                print(f"{path.stem}: {', '.join(runs)}")
                if not args.dry_run:
                    tmp = target.with_suffix(".json.tmp")
                    tmp.write_text(json.dumps(doc, indent=2) + "\n")
                    tmp.replace(target)
                changed += 1
    print(f"{changed} file(s) {'would be ' if args.dry_run else ''}merged into {args.into}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

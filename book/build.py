"""Regenerate the whole book with one command.

    python book/build.py [--scale smoke|cpu|full] [--jobs N] [--only 01_architecture ...]
    python book/build.py --sync [--only NAME ...]   # only rewrite book/*.ipynb from book/*.py
    python book/build.py --html-only     # re-stage config/markdown/static, re-run jupyter-book only

Steps: (1) jupytext: every chapter ``book/<name>.py`` (percent format, the source
of truth) -> its paired, output-free ``book/<name>.ipynb`` (the Colab copy);
(2) papermill: execute each chapter listed in ``_toc.yml`` with the parameters
``SCALE`` (and ``DEVICE``, ``SEED``, ``DATA_DIR`` when given) into
``_build/staging/book/`` (cwd ``book/``; numbers are recorded by
``viz.record_results`` into ``book/results/``; ``$UNET_DATA_DIR`` defaults to
``<repo>/data`` when that exists), the results page last, after
all chapters; (3) ``jupyter-book build _build/staging -W`` with execution off
-> ``_build/html``. Exit status is non-zero when any step fails.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
STAGING = ROOT / "_build" / "staging"
LAST = ("results",)  # pages that gather the others' numbers: executed after them


def toc_files(root: Path = ROOT) -> list[str]:
    """Paths (relative to the repo root, no suffix) of every page in ``_toc.yml``, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    out = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", [{"chapters": toc.get("chapters")}]):
        walk(part.get("chapters"))
    return out


def chapter_sources(book: Path = BOOK) -> list[Path]:
    """Every jupytext chapter source: ``book/<name>.py`` except this script and conftest."""
    return sorted(p for p in book.glob("*.py") if p.name not in {"build.py", "conftest.py"})


def paired_notebook(py: Path) -> nbformat.NotebookNode:
    """The output-free notebook of a percent-format chapter (what ``book/<name>.ipynb`` must hold)."""
    nb = jupytext.read(py)
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells):  # deterministic ids, so re-syncing an unchanged chapter is a no-op
        cell.id = f"c{i:02d}-{hashlib.sha1(cell.source.encode()).hexdigest()[:8]}"
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb


def sync(book: Path = BOOK, only: list[str] | None = None) -> list[Path]:
    """Write ``book/<name>.ipynb`` for every chapter (or those in ``only``) whose notebook differs; return them."""
    written = []
    for py in chapter_sources(book):
        if only and py.stem not in only:
            continue
        text = jupytext.writes(paired_notebook(py), fmt="ipynb")
        target = py.with_suffix(".ipynb")
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            written.append(target)
    return written


def run_notebook(src: Path, dst: Path, params: dict, log: Path, cwd: Path = BOOK,
                 results_dir: Path = BOOK / "results") -> int:
    """Execute ``src`` with papermill (kernel python3) into ``dst``, then :func:`postprocess` it; return the status."""
    cmd = [sys.executable, "-m", "papermill", str(src), str(dst), "-k", "python3", "--cwd", str(cwd),
           "--no-progress-bar"]
    for key, value in params.items():
        cmd += ["-p", key, str(value)] if not isinstance(value, str) else ["-r", key, value]
    env = dict(os.environ, UNET_RESULTS_DIR=str(results_dir), PYTHONWARNINGS="ignore")
    if not env.get("UNET_DATA_DIR") and (ROOT / "data").is_dir():
        env["UNET_DATA_DIR"] = str(ROOT / "data")  # chapters run in book/, where ./data would not be found
    with open(log, "w") as out:
        status = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    if status == 0:
        postprocess(dst)
    return status


def execute(name: str, params: dict, log_dir: Path) -> tuple[str, int, float]:
    """Run ``book/<name>.ipynb`` into the staging folder; return (name, status, seconds)."""
    start = time.perf_counter()
    status = run_notebook(BOOK / f"{name}.ipynb", STAGING / "book" / f"{name}.ipynb", params, log_dir / f"{name}.log")
    return name, status, time.perf_counter() - start


def postprocess(path: Path) -> None:
    """Prepare an executed notebook for the static site.

    * Drop ``metadata.widgets``: nbclient (papermill) saves the state of every widget the kernel
      created; myst-nb would embed it in the page head, and the html manager would then render the
      static sliders (which carry their own state in their ``text/html`` output) a second time, and
      the kernel-backed live twins as dead widgets.
    * Tag papermill's "injected-parameters" cell ``remove-cell``: the page shows the parameters cell.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def stage_static(pages: list[str]) -> None:
    """Copy the config, the markdown pages and the static files into the staging folder."""
    (STAGING / "book").mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, STAGING / name)
    for page in pages:
        md = ROOT / f"{page}.md"
        if md.exists():
            shutil.copy2(md, STAGING / md.relative_to(ROOT))
    shutil.copytree(BOOK / "_static", STAGING / "book" / "_static", dirs_exist_ok=True)


def build_html(staging: Path = STAGING, output: Path = ROOT, quiet: bool = False) -> int:
    """``jupyter-book build`` an executed staging folder, warnings as errors; HTML in ``<output>/_build/html``."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(staging), "-W", "-n", "--keep-going",
           "--path-output", str(output)]
    if quiet:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(done.stdout[-5000:], done.stderr[-5000:], file=sys.stderr)
        return done.returncode
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=["smoke", "cpu", "full"], default="smoke")
    ap.add_argument("--jobs", type=int, default=1, help="chapters executed in parallel")
    ap.add_argument("--device", default=None, help="DEVICE parameter (default: the chapters' 'auto')")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--data-dir", default=None, help="DATA_DIR parameter (default: $UNET_DATA_DIR, else <repo>/data if present)")
    ap.add_argument("--only", nargs="*", help="sync/execute only these chapters (others: staged by earlier runs)")
    ap.add_argument("--sync", action="store_true", help="only write the paired notebooks")
    ap.add_argument("--html-only", action="store_true", help="only run jupyter-book on the existing staging")
    args = ap.parse_args(argv)

    written = sync(only=args.only)
    for path in written:
        print(f"synced {path.relative_to(ROOT)}")
    if args.sync:
        return 0
    pages = toc_files()
    t0 = time.perf_counter()
    stage_static(pages)  # config, toc, markdown pages and static files are always re-copied
    if not args.html_only:
        log_dir = ROOT / "_build" / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        params = {"SCALE": args.scale}
        for key, value in (("DEVICE", args.device), ("SEED", args.seed), ("DATA_DIR", args.data_dir)):
            if value is not None:
                params[key] = value
        notebooks = [Path(p).name for p in pages if (ROOT / f"{p}.ipynb").exists()]
        if args.only:
            notebooks = [n for n in notebooks if n in args.only or n in LAST]
        first = [n for n in notebooks if n not in LAST]
        failed = []
        for batch in (first, [n for n in notebooks if n in LAST]):
            with cf.ThreadPoolExecutor(max(1, args.jobs)) as pool:
                for name, status, secs in pool.map(lambda n: execute(n, params, log_dir), batch):
                    print(f"{'ok  ' if status == 0 else 'FAIL'} {name:<24} {secs:7.1f} s  (log: _build/logs/{name}.log)")
                    if status:
                        failed.append(name)
        missing = [Path(p).name for p in pages if not (ROOT / f"{p}.md").exists()
                   and not (STAGING / f"{p}.ipynb").exists()]
        if failed or missing:
            print(f"execution failed: {failed}; not staged: {missing}", file=sys.stderr)
            return 1
    status = build_html()
    print(f"{'built' if status == 0 else 'BUILD FAILED'}: {ROOT / '_build' / 'html' / 'index.html'} "
          f"({time.perf_counter() - t0:.0f} s, scale={args.scale})")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate the whole book with one command.

    python book/build.py [--scale smoke|cpu|full] [--jobs N] [--only 01_architecture ...]
    python book/build.py --sync [--only NAME ...]   # only rewrite book/*.ipynb from book/*.py
    python book/build.py --html-only     # re-stage config/markdown/static, re-run jupyter-book only

Steps: (1) jupytext: every chapter ``book/<name>.py`` of ``book/manifest.py`` and the
results page (percent format, the source of truth) -> its paired, output-free
``book/<name>.ipynb`` (the Colab copy);
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
import re
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
SCRIPTS = {"build.py", "conftest.py", "manifest.py"}  # the .py files of book/ that are no page

if str(BOOK) not in sys.path:
    sys.path.append(str(BOOK))
import manifest  # noqa: E402  (book/manifest.py: the chapters, each declared once)


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
    """The jupytext page sources: ``book/<stem>.py`` of every chapter in ``book/manifest.py``, then the pages
    in :data:`LAST` (the results page).

    Raises
    ------
    ValueError
        When ``book`` holds a ``.py`` page that is neither (a chapter without its manifest entry would
        otherwise never be synced): the message names the file and the entry to add.
    """
    names = [*manifest.stems(), *LAST]
    stray = sorted(p.name for p in book.glob("*.py") if p.name not in SCRIPTS and p.stem not in names)
    if stray:
        raise ValueError(
            f"book/{stray[0]} is not a chapter of book/manifest.py (chapters: {', '.join(names)}); "
            f"add Chapter({Path(stray[0]).stem!r}, label=..., datasets=..., recipes=...) to its "
            "CHAPTERS (see book/CONTRIBUTING.md), or move the file out of book/"
        )
    return [book / f"{name}.py" for name in names if (book / f"{name}.py").is_file()]


def paired_notebook(py: Path) -> nbformat.NotebookNode:
    """The output-free notebook of a percent-format chapter (what ``book/<name>.ipynb`` must hold)."""
    nb = jupytext.read(py)
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells):  # deterministic ids, so re-syncing an unchanged chapter is a no-op
        cell.id = f"c{i:02d}-{hashlib.sha1(cell.source.encode()).hexdigest()[:8]}"
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``(url, branch)`` of the repository: ``_config.yml``'s ``repository``, the one place that names it."""
    repo = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


_REPO_LINE = re.compile(r'(REPO, BRANCH = )"[^"]*", "[^"]*"')
_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/")


def apply_repository(text: str, url: str, branch: str) -> str:
    """Write ``url``/``branch`` into a chapter's Colab badge link and Colab cell (``REPO, BRANCH = ...``)."""
    if not url.startswith("https://github.com/"):
        raise ValueError(
            f"repository.url={url!r} in _config.yml must be a https://github.com/OWNER/NAME URL "
            "(the Colab badge opens the notebook from GitHub)"
        )
    text = _REPO_LINE.sub(lambda m: f'{m.group(1)}"{url}", "{branch}"', text)
    slug = url.removeprefix("https://github.com/")
    return _BADGE.sub(f"https://colab.research.google.com/github/{slug}/blob/{branch}/", text)


def sync(book: Path = BOOK, only: list[str] | None = None) -> list[Path]:
    """Write ``book/<name>.ipynb`` for every chapter (or those in ``only``) whose notebook differs; return them.

    First writes the repository URL and branch of ``_config.yml`` into each chapter source
    (:func:`apply_repository`), so that changing them there and syncing updates every badge and Colab cell.
    """
    written = []
    url, branch = repository(book.parent if (book.parent / "_config.yml").is_file() else ROOT)
    for py in chapter_sources(book):
        if only and py.stem not in only:
            continue
        source = py.read_text()
        if (updated := apply_repository(source, url, branch)) != source:
            py.write_text(updated)
            written.append(py)
        text = jupytext.writes(paired_notebook(py), fmt="ipynb")
        target = py.with_suffix(".ipynb")
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            written.append(target)
    return written


def run_notebook(
    src: Path, dst: Path, params: dict, log: Path, cwd: Path = BOOK, results_dir: Path = BOOK / "results"
) -> int:
    """Execute ``src`` with papermill (kernel python3) into ``dst``, then :func:`postprocess` it; return the status."""
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(src),
        str(dst),
        "-k",
        "python3",
        "--cwd",
        str(cwd),
        "--no-progress-bar",
    ]
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


def execute(
    name: str, params: dict, log_dir: Path, staging: Path = STAGING, results_dir: Path = BOOK / "results"
) -> tuple[str, int, float]:
    """Run ``book/<name>.ipynb`` into the staging folder; return (name, status, seconds)."""
    start = time.perf_counter()
    status = run_notebook(
        BOOK / f"{name}.ipynb",
        staging / "book" / f"{name}.ipynb",
        params,
        log_dir / f"{name}.log",
        results_dir=results_dir,
    )
    return name, status, time.perf_counter() - start


def results_folder(scale: str, out: Path) -> Path:
    """Where the chapters of a build record their numbers.

    ``cpu`` and ``full`` builds write the committed ``book/results`` (they are the reproductions that
    the results page shows; commit them). A ``smoke`` build is a pipeline check: it writes into
    ``<out>/_build/results``, a fresh copy of ``book/results`` (so that pages reading the recorded runs
    still find them), and leaves the tree untouched.
    """
    if scale != "smoke":
        return BOOK / "results"
    folder = out / "_build" / "results"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(BOOK / "results", folder)
    return folder


def postprocess(path: Path) -> None:
    """Prepare an executed notebook for the static site.

    * Drop ``metadata.widgets``: nbclient (papermill) saves the state of every widget the kernel
      created; myst-nb would embed it in the page head, and the html manager would then render the
      static sliders (which carry their own state in their ``text/html`` output) a second time, and
      the kernel-backed live twins as dead widgets.
    * Show the parameters that were used: papermill's "injected-parameters" cell (which overrides the
      chapter's defaults) is tagged ``remove-cell``, and the visible ``parameters`` cell gets the
      injected values written into it (:func:`merge_parameters`), so the page never shows a
      default (``SCALE = "smoke"``) that the run did not use.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        elif "parameters" in tags and injected:
            cell.source = merge_parameters(cell.source, injected[0].source)
    nbformat.write(nb, path)


_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) = (.*)$")


def merge_parameters(defaults: str, injected: str) -> str:
    """The parameters cell ``defaults`` with the values of papermill's ``injected`` cell written in.

    A line ``NAME = default  # comment`` whose NAME was injected becomes
    ``NAME = value  # this run (default: default); comment``; injected names that the cell lacks are
    appended. Lines and comments of parameters that were not injected are kept as they are.
    """
    values = {m.group(1): m.group(2).strip() for line in injected.splitlines() if (m := _ASSIGN.match(line))}
    out = []
    for line in defaults.splitlines():
        m = _ASSIGN.match(line)
        if m and m.group(1) in values:
            code, _, comment = m.group(2).partition("  # ")
            value = values.pop(m.group(1))
            if value != code.strip():
                line = f"{m.group(1)} = {value}  # this run (default: {code.strip()})" + (
                    f"; {comment}" if comment else ""
                )
        out.append(line)
    out += [f"{name} = {value}  # this run" for name, value in values.items()]
    return "\n".join(out)


def stage_static(pages: list[str], staging: Path = STAGING) -> None:
    """Copy the config, the markdown pages, the bibliography and the static files into the staging folder."""
    (staging / "book").mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, staging / name)
    for page in pages:
        md = ROOT / f"{page}.md"
        if md.exists():
            shutil.copy2(md, staging / md.relative_to(ROOT))
    for bib in BOOK.glob("*.bib"):
        shutil.copy2(bib, staging / "book" / bib.name)
    shutil.copytree(BOOK / "_static", staging / "book" / "_static", dirs_exist_ok=True)


def build_html(staging: Path = STAGING, output: Path = ROOT, quiet: bool = False, everything: bool = False) -> int:
    """``jupyter-book build`` an executed staging folder, warnings as errors; HTML in ``<output>/_build/html``."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(exe) if exe.exists() else "jupyter-book",
        "build",
        str(staging),
        "-W",
        "-n",
        "--keep-going",
        "--path-output",
        str(output),
    ] + (["--all"] if everything else [])  # --all: re-copy static files too
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
    ap.add_argument(
        "--data-dir", default=None, help="DATA_DIR parameter (default: $UNET_DATA_DIR, else <repo>/data if present)"
    )
    ap.add_argument("--only", nargs="*", help="sync/execute only these chapters (others: staged by earlier runs)")
    ap.add_argument("--sync", action="store_true", help="only write the paired notebooks")
    ap.add_argument("--html-only", action="store_true", help="only run jupyter-book on the existing staging")
    ap.add_argument(
        "--no-html",
        action="store_true",
        help="only execute the chapters (one job of the book-full matrix); no jupyter-book build",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT,
        help="build root: staging, logs, smoke results and html go to <out>/_build (default the repo)",
    )
    args = ap.parse_args(argv)
    known = [*manifest.stems(), *LAST]
    for name in args.only or []:
        if name not in known:
            ap.error(
                f"--only {name!r} is not a page of the book; --only takes the chapters of book/manifest.py "
                f"or {', '.join(LAST)}: {', '.join(known)}"
            )
    out = args.out.resolve()
    staging = out / "_build" / "staging"

    written = sync(only=args.only)
    for path in written:
        print(f"synced {path.relative_to(ROOT)}")
    if args.sync:
        return 0
    pages = toc_files()
    t0 = time.perf_counter()
    stage_static(pages, staging)  # config, toc, markdown pages and static files are always re-copied
    if not args.html_only:
        log_dir = out / "_build" / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        params = {"SCALE": args.scale}
        for key, value in (("DEVICE", args.device), ("SEED", args.seed), ("DATA_DIR", args.data_dir)):
            if value is not None:
                params[key] = value
        notebooks = [Path(p).name for p in pages if (ROOT / f"{p}.ipynb").exists()]
        if args.only:
            notebooks = [n for n in notebooks if n in args.only or (n in LAST and not args.no_html)]
        first = [n for n in notebooks if n not in LAST]
        failed = []
        results = results_folder(args.scale, out)
        for batch in (first, [n for n in notebooks if n in LAST]):
            with cf.ThreadPoolExecutor(max(1, args.jobs)) as pool:
                for name, status, secs in pool.map(lambda n: execute(n, params, log_dir, staging, results), batch):
                    print(f"{'ok  ' if status == 0 else 'FAIL'} {name:<24} {secs:7.1f} s  (log: {log_dir / name}.log)")
                    if status:
                        failed.append(name)
        missing = [
            Path(p).name for p in pages if not (ROOT / f"{p}.md").exists() and not (staging / f"{p}.ipynb").exists()
        ]
        if args.no_html:
            return 1 if failed else 0
        if failed or missing:
            print(f"execution failed: {failed}; not staged: {missing}", file=sys.stderr)
            return 1
    status = build_html(staging, out, everything=args.html_only)
    print(
        f"{'built' if status == 0 else 'BUILD FAILED'}: {out / '_build' / 'html' / 'index.html'} "
        f"({time.perf_counter() - t0:.0f} s, scale={args.scale})"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())

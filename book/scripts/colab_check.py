"""Run a chapter with only what its Colab cell installs, in a fresh virtual environment.

    python book/scripts/colab_check.py 01_architecture [--scale cpu] [--source ../shared/datasets]

What the Colab cell does on Colab, done here without Colab or the internet: copy the repository (its
tracked and untracked, not ignored files: what a clone holds), create a fresh venv, install
``<copy>[colab]`` (the cell's command; ``requirements/constraints.txt`` pins the versions, as Colab's
preinstalled torch would), fetch the chapter's datasets (its entry in ``book/manifest.py``, which
``tests/test_book.py`` checks against the cell's ``DATASETS``) with the *installed* ``data_scripts``
(``--source DIR`` imports a local copy exactly as the official download would be used), then run
the chapter's code (its jupytext script is plain Python) at ``--scale`` from ``<copy>/book``, as the
cell leaves Colab. Exit status 0 when the chapter ran; prints one JSON line with the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "book") not in sys.path:
    sys.path.append(str(ROOT / "book"))
import manifest  # noqa: E402  (book/manifest.py: each chapter's datasets)


def with_scale(source: str, scale: str) -> str:
    """The chapter's code with ``SCALE = "<scale>"`` in its parameters cell (what papermill would inject)."""
    out, n = re.subn(r'^SCALE = "smoke"', f'SCALE = "{scale}"', source, count=1, flags=re.M)
    if n != 1:
        raise ValueError('the chapter has no `SCALE = "smoke"` line in its parameters cell')
    return out


def copy_repository(dest: Path) -> None:
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chapter", help="file stem, e.g. 01_architecture")
    ap.add_argument("--scale", default="cpu", choices=["smoke", "cpu", "full"])
    ap.add_argument("--source", type=Path, help="local copy of the datasets for data_scripts (--source of fetch.py)")
    ap.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary folder, removed)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds for the chapter run")
    args = ap.parse_args(argv)
    chapter = ROOT / "book" / f"{args.chapter}.py"
    if args.chapter not in manifest.stems():
        ap.error(
            f"chapter={args.chapter!r} is not a chapter of book/manifest.py; chapters: {', '.join(manifest.stems())}"
        )
    if not chapter.is_file():
        ap.error(f"chapter={args.chapter!r}: no book/{args.chapter}.py")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="colab-check-"))
    times, repo, venv = {}, work / "repo", work / "venv"
    try:
        t = time.perf_counter()
        shutil.rmtree(repo, ignore_errors=True)
        copy_repository(repo)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = venv / "bin" / "python"
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(ROOT / "requirements" / "constraints.txt"),
                f"{repo}[colab]",
            ],
            check=True,
        )
        times["install s"] = round(time.perf_counter() - t, 1)
        source = chapter.read_text()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UNET_", "PYTHON", "VIRTUAL_ENV"))}
        env["MPLBACKEND"] = "Agg"
        datasets = manifest.datasets(args.chapter)
        if args.scale != "smoke" and datasets:
            t = time.perf_counter()
            for name in datasets:
                cmd = [str(py), "-m", "data_scripts.fetch", name, "--dest", str(work / "data"), "--quiet"]
                subprocess.run(
                    cmd + (["--source", str(args.source.resolve())] if args.source else []),
                    check=True,
                    cwd=work,
                    env=env,
                )
            times["data s"] = round(time.perf_counter() - t, 1)
        env["UNET_DATA_DIR"] = str(work / "data")
        script = repo / "book" / f"_colab_check_{args.chapter}.py"
        script.write_text(with_scale(source, args.scale))
        t = time.perf_counter()
        done = subprocess.run(
            [str(py), script.name], cwd=repo / "book", env=env, timeout=args.timeout, capture_output=True, text=True
        )
        times["chapter s"] = round(time.perf_counter() - t, 1)
        print(done.stdout[-4000:])
        if done.returncode:
            print(done.stderr[-6000:], file=sys.stderr)
        print(
            json.dumps(
                {"chapter": args.chapter, "scale": args.scale, "status": done.returncode, "datasets": datasets, **times}
            )
        )
        return done.returncode
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

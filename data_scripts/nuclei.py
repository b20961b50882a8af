#!/usr/bin/env python
"""Fetch, verify and convert an openly licensed annotated image set for "your own images".

    python data_scripts/fetch.py nuclei [--source WHEEL_OR_DIR] [--dest DIR]
    python data_scripts/nuclei.py [--source WHEEL_OR_DIR] [--dest DIR]

The images: one 512 x 512 fluorescence image of cell nuclei with its instance labels (125 nuclei), from
the 2018 Data Science Bowl (Caicedo et al. 2019, stage-1 training images, released CC0), as the StarDist
package ships it (``stardist/data/images/img2d.tif`` and ``mask2d.tif``, BSD-3-Clause package).
No chapter of the paper's reproduction uses them, so they stand in for a reader's own folder.

Without ``--source`` the package's wheel is fetched from the package index that pip is configured
with (``pip download``, one fixed wheel: the same file on every machine); nothing is installed. With
``--source``: that wheel, or a folder holding it or the two TIFF files. Either way the two files are
read out of the wheel by name (nothing else is extracted) and checked against their sha256 in
``registry.txt`` before anything is written.

Conversion: the image is cut into its four 256 x 256 quadrants, each written with its labels
renumbered 1..n (nuclei cut by a quadrant border become partial nuclei of both), as a folder of
image/label pairs that ``python -m unet_core train --images DIR --labels DIR`` reads::

    DEST/nuclei/images/{top-left,top-right,bottom-left,bottom-right}.tif   uint16 (256, 256)
    DEST/nuclei/labels/{...}.tif                                          uint16 (256, 256)
    DEST/nuclei/meta.json                                                 source, hashes, licence

The folder appears only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import tifffile

try:  # installed with the package: python -m data_scripts.nuclei
    from ._archive import FetchError, UsageError, read_registry
except ImportError:  # run as a script from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _archive import FetchError, UsageError, read_registry  # noqa: E402

HERE = Path(__file__).resolve().parent
REGISTRY = read_registry(HERE / "registry.txt")
PACKAGE = "stardist==0.9.2"
WHEEL = "stardist-0.9.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
MEMBERS = {"image": "stardist/data/images/img2d.tif", "labels": "stardist/data/images/mask2d.tif"}
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")
LICENCE = ("images: 2018 Data Science Bowl stage-1 training set (Caicedo et al., Nature Methods 16, 1247-1253, "
           "2019; Broad Bioimage Benchmark Collection BBBC038, CC0); as shipped by StarDist 0.9.2 "
           "(BSD-3-Clause)")  # fmt: skip

__all__ = ["fetch_nuclei", "read_members", "quadrants", "main"]


def _expected(member: str) -> str:
    return REGISTRY[f"nuclei/{Path(member).name}"][0]


def read_members(source: Path) -> dict[str, bytes]:
    """The two TIFF files' bytes from a wheel, or a folder holding the wheel or the two files, verified.

    Raises
    ------
    FetchError
        If a file is missing, or its sha256 differs from ``registry.txt`` (the message names both hashes).
    """
    source = Path(source)
    if source.is_dir():
        wheels = sorted(source.glob("stardist-*.whl"))
        found = {k: next(iter(sorted(source.rglob(Path(m).name))), None) for k, m in MEMBERS.items()}
        if all(found.values()):
            blobs = {k: p.read_bytes() for k, p in found.items()}
        elif wheels:
            return read_members(wheels[0])
        else:
            raise FetchError(f"--source {source} holds neither {WHEEL} nor img2d.tif and mask2d.tif; "
                             "pass the wheel (pip download --no-deps stardist==0.9.2) or the folder with the two files")  # fmt: skip
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            names = set(zf.namelist())
            missing = [m for m in MEMBERS.values() if m not in names]
            if missing:
                raise FetchError(f"{source.name} has no {', '.join(missing)}: is it the wheel of {PACKAGE}?")
            blobs = {k: zf.read(m) for k, m in MEMBERS.items()}
    else:
        raise FetchError(f"--source {source} is neither a folder nor a wheel (zip) file")
    for key, blob in blobs.items():
        got, want = hashlib.sha256(blob).hexdigest(), _expected(MEMBERS[key])
        if got != want:
            raise FetchError(f"{Path(MEMBERS[key]).name} from {source}: sha256 {got}, expected {want} "
                             "(registry.txt); nothing was written")  # fmt: skip
    return blobs


def quadrants(image: np.ndarray, labels: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Cut an (H, W) image and its instance labels into four (H/2, W/2) quadrants, labels renumbered 1..n.

    Examples
    --------
    >>> lab = np.zeros((4, 4), np.uint16); lab[0, 0] = 7; lab[0:2, 1:3] = 9
    >>> q = quadrants(np.arange(16).reshape(4, 4), lab)
    >>> q["top-left"][1].tolist(), q["top-right"][1].tolist()
    ([[1, 2], [0, 2]], [[1, 0], [1, 0]])
    """
    h, w = image.shape[0] // 2, image.shape[1] // 2
    out = {}
    for i, name in enumerate(QUADRANTS):
        y, x = (i // 2) * h, (i % 2) * w
        lab = labels[y : y + h, x : x + w]
        ids, inverse = np.unique(lab, return_inverse=True)
        renumbered = inverse.reshape(lab.shape) + (1 if ids[0] != 0 else 0)
        out[name] = (image[y : y + h, x : x + w].copy(), renumbered.astype(np.uint16))
    return out


def _pip_download(work: Path, quiet: bool) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
           "--implementation", "cp", "--abi", "cp311", "--platform", "manylinux_2_28_x86_64", PACKAGE,
           "-d", str(work)] + (["-q"] if quiet else [])  # fmt: skip
    done = subprocess.run(cmd, capture_output=quiet, text=True)
    wheel = work / WHEEL
    if done.returncode or not wheel.is_file():
        raise FetchError(f"pip download of {PACKAGE} failed (exit status {done.returncode}); check that pip can "
                         f"reach its package index, or download {WHEEL} elsewhere and pass it with --source")  # fmt: skip
    return wheel


def fetch_nuclei(dest: Path, source: Path | None = None, *, force: bool = False, quiet: bool = False) -> Path:
    """Fetch (or import), verify and convert the nuclei image set into ``dest/nuclei``; return that folder.

    Raises
    ------
    FetchError
        On a failed download, a missing or altered file, or an existing folder without ``force``.
    """
    dest = Path(dest)
    out = dest / "nuclei"
    if out.exists() and not force:
        if (out / "meta.json").is_file():
            return out
        raise UsageError(f"{out} exists but has no meta.json; remove it or pass --force")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".nuclei.", dir=dest))
    try:
        where = Path(source) if source is not None else _pip_download(tmp, quiet)
        blobs = read_members(where)
        image, labels = (tifffile.imread(io.BytesIO(blobs[k])) for k in ("image", "labels"))
        for sub in ("images", "labels"):
            (tmp / "out" / sub).mkdir(parents=True)
        for name, (img, lab) in quadrants(image, labels).items():
            tifffile.imwrite(tmp / "out" / "images" / f"{name}.tif", img)
            tifffile.imwrite(tmp / "out" / "labels" / f"{name}.tif", lab)
        meta = {"dataset": "nuclei", "source": "--source " + str(where) if source is not None else f"pip download {PACKAGE}",
                "members": MEMBERS, "sha256": {k: _expected(m) for k, m in MEMBERS.items()}, "verified": True,
                "licence": LICENCE, "images": list(QUADRANTS), "nuclei": int(len(np.unique(labels)) - 1),
                "converted": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
        (tmp / "out" / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        (tmp / "out").rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"nuclei: {meta['nuclei']} nuclei in 4 images of 256 x 256, verified, in {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: ``nuclei.py [--source PATH] [--dest DIR] [--force] [--quiet]``; exit status 0 or 1."""
    parser = argparse.ArgumentParser(prog="fetch.py nuclei", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help=f"{WHEEL}, or a folder with it or img2d.tif and mask2d.tif")
    parser.add_argument("--dest", type=Path, default=Path("data"), help="output folder (default ./data)")
    parser.add_argument("--force", action="store_true", help="convert again")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        fetch_nuclei(args.dest, args.source, force=args.force, quiet=args.quiet)
    except FetchError as e:
        print(f"error: nuclei: {e}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

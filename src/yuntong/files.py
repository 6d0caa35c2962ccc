"""Owner-only files and folders for Yuntong's data (the database, secrets, recordings).

Created private rather than relying on the umask (022 on most systems leaves files readable by
every local user), and tightened when an earlier version left them readable.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

GROUP_AND_OTHERS = 0o077


def private_dir(path: Path) -> Path:
    """Create the folder ``path`` (0700), or take group and other access away from it.

    A folder shared on purpose (sticky, like ``/tmp``) or owned by someone else is left alone.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.geteuid() and not info.st_mode & stat.S_ISVTX:
        _tighten(path, info.st_mode)
    return path


def private_file(path: Path) -> None:
    """Take group and other access away from the file ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        info = path.stat()
        if info.st_uid == os.geteuid():
            _tighten(path, info.st_mode)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; then make sure it is private."""
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # no folder: the caller says
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    private_file(path)


def _tighten(path: Path, st_mode: int) -> None:
    current = stat.S_IMODE(st_mode)
    if current & GROUP_AND_OTHERS:
        os.chmod(path, current & ~GROUP_AND_OTHERS)

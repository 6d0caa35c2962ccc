"""The data folders in a backup (recordings, porting documents, imported holiday schedules) and
the secrets archive: tar streams into sealed files, every file's SHA-256 kept for the manifest,
and extracted back into owner-only folders."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from yuntong.backup.sealed import CHUNK, SealedReader, SealedWriter
from yuntong.config import Settings
from yuntong.core.errors import YuntongError
from yuntong.files import private_dir

OnFile = Callable[[int], None]


def data_folders(settings: Settings) -> dict[str, Path]:
    """Where each kind of data file lives (the name is its folder in the archive)."""
    return {
        "recordings": settings.var_dir / "recordings",
        "porting": settings.var_dir / "porting",
        "holidays": settings.holidays_path,
    }


class _Hashing:
    """A file read through, hashed on the way (what the archive holds is what is hashed)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def count_files(folders: dict[str, Path]) -> int:
    return sum(len(_files(root)) for root in folders.values())


def pack_folders(folders: dict[str, Path], out: SealedWriter, on_file: OnFile) -> dict[str, str]:
    """Archive every regular file of the folders; returns archive path → SHA-256. A file still
    being written (a recording) is taken as long as it was when its turn came."""
    members: dict[str, str] = {}
    with tarfile.open(fileobj=out, mode="w|") as tar:  # type: ignore[call-overload]
        for name, root in folders.items():
            for path in _files(root):
                with path.open("rb") as fh:
                    info = os.fstat(fh.fileno())
                    arcname = f"{name}/{path.relative_to(root).as_posix()}"
                    entry = tarfile.TarInfo(arcname)
                    entry.size, entry.mtime = info.st_size, int(info.st_mtime)
                    entry.mode = stat.S_IMODE(info.st_mode) & 0o700
                    hashing = _Hashing(fh)
                    tar.addfile(entry, hashing)
                    members[arcname] = hashing.digest.hexdigest()
                on_file(len(members))
    return members


def pack_bytes(entries: dict[str, bytes], out: SealedWriter) -> dict[str, str]:
    """Archive in-memory files (the secrets); returns name → SHA-256."""
    members: dict[str, str] = {}
    with tarfile.open(fileobj=out, mode="w|") as tar:  # type: ignore[call-overload]
        for name, data in entries.items():
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode = len(data), 0o600
            tar.addfile(entry, _BytesReader(data))
            members[name] = hashlib.sha256(data).hexdigest()
    return members


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.at + size
        chunk, self.at = self.data[self.at : end], min(end, len(self.data))
        return chunk


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
        raise YuntongError("backup_tampered", file=name)
    return path


def read_members(
    reader: SealedReader, write_to: Callable[[str], Path | None] | None = None
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Read an archive through: each member's SHA-256 and, when ``write_to`` gives a path for
    it, the member written there (owner-only); members ``write_to`` gives None for are kept in
    memory (the secrets)."""
    sums: dict[str, str] = {}
    kept: dict[str, bytes] = {}
    with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            if not member.isfile():
                raise YuntongError("backup_tampered", file=member.name)
            source = tar.extractfile(member)
            assert source is not None
            target = write_to(member.name) if write_to is not None else None
            digest = hashlib.sha256()
            if target is None:
                data = source.read()
                digest.update(data)
                kept[member.name] = data
            else:
                private_dir(target.parent)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    while block := source.read(CHUNK):
                        digest.update(block)
                        fh.write(block)
            sums[member.name] = digest.hexdigest()
    reader.drain()
    return sums, kept


def restore_path(folders: dict[str, Path]) -> Callable[[str], Path]:
    """Where an archived data file goes back to."""

    def where(name: str) -> Path:
        path = _safe(name)
        root = folders.get(path.parts[0])
        if root is None:
            raise YuntongError("backup_tampered", file=name)
        return root.joinpath(*path.parts[1:])

    return where

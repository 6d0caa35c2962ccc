"""A backup's manifest: what it holds (version, schema revision, when, row counts per table,
checksums of every file and archive), MAC'd with the backup key; and the folder it lies in.

A backup is a folder ``yuntong-YYYYmmddTHHMMSSZ`` in the backup folder holding
``manifest.json``, ``database.ytb``, ``files.ytb``, ``secrets.ytb`` (the secrets apart from
the data) and, once verified, ``verify.json``. It is written as ``….partial`` and renamed when
complete, so a backup cut short is never listed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yuntong.backup.sealed import BackupKey
from yuntong.core.errors import YuntongError

FORMAT = 1
MANIFEST = "manifest.json"
VERIFIED = "verify.json"
PREFIX = "yuntong-"
PARTIAL = ".partial"


@dataclass
class Part:
    """One sealed file of a backup: its checksum and size (as stored), the plain stream's (as
    sealed: compressed, if it is), and what it holds: the files in it (path → SHA-256) or the
    tables' row counts."""

    file: str
    sha256: str = ""
    sealed_bytes: int = 0
    plain_sha256: str = ""
    plain_bytes: int = 0
    members: dict[str, str] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    compression: str = ""  # "zlib": the plain stream is compressed (the SQLite snapshot)


@dataclass
class Manifest:
    created_at: datetime
    yuntong_version: str
    backend: str  # sqlite | postgresql
    schema_revision: str
    key_id: str
    database: Part
    files: Part
    secrets: Part
    tool: str = ""  # pg_dump's version (PostgreSQL), sqlite's library version
    seconds: float = 0.0
    format: int = FORMAT

    @property
    def rows(self) -> int:
        return sum(self.database.tables.values())

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    def to_json(self, key: BackupKey) -> str:
        body = self.body()
        body["mac"] = key.mac(_canonical(body))
        return json.dumps(body, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        values = {k: v for k, v in data.items() if k != "mac"}
        values["created_at"] = datetime.fromisoformat(values["created_at"]).astimezone(UTC)
        for name in ("database", "files", "secrets"):
            values[name] = Part(**values[name])
        return cls(**values)


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest as stored (unchecked: for listing)."""
    try:
        data: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        raise YuntongError("backup_not_found", name=folder.name) from None
    return data


def load_manifest(folder: Path, key: BackupKey) -> Manifest:
    """The manifest, checked: written under this key (``backup_wrong_key``) and unchanged since
    (``backup_tampered``)."""
    data = read_manifest(folder)
    if data.get("key_id") != key.id_hex:
        raise YuntongError("backup_wrong_key")
    body = {k: v for k, v in data.items() if k != "mac"}
    if not key.check_mac(_canonical(body), str(data.get("mac", ""))):
        raise YuntongError("backup_tampered", file=MANIFEST)
    if data.get("format") != FORMAT:
        raise YuntongError("backup_tampered", file=MANIFEST)
    return Manifest.from_dict(data)


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def folder_name(at: datetime) -> str:
    return f"{PREFIX}{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"

"""The sealed file: what goes in comes out with the right key only, and any change, cut or
reordering of its chunks is found."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from yuntong.backup.sealed import CHUNK, BackupKey, SealedWriter, open_sealed
from yuntong.core.errors import YuntongError


def _key() -> BackupKey:
    return BackupKey(os.urandom(32))


def _seal(path: Path, key: BackupKey, data: bytes) -> SealedWriter:
    writer = SealedWriter(path, key)
    for at in range(0, len(data), 70_000):
        writer.write(data[at : at + 70_000])
    writer.close()
    return writer


def _code(path: Path, key: BackupKey) -> str:
    with pytest.raises(YuntongError) as raised:
        b"".join(open_sealed(path, key))
    return raised.value.code


def test_round_trip_over_several_chunks(tmp_path: Path) -> None:
    key, data = _key(), os.urandom(CHUNK * 2 + 123)
    writer = _seal(tmp_path / "f", key, data)
    assert b"".join(open_sealed(tmp_path / "f", key)) == data
    assert writer.plain_bytes == len(data) and (tmp_path / "f").stat().st_mode & 0o777 == 0o600
    assert data[:1000] not in (tmp_path / "f").read_bytes()


def test_an_empty_stream_round_trips(tmp_path: Path) -> None:
    key = _key()
    _seal(tmp_path / "f", key, b"")
    assert b"".join(open_sealed(tmp_path / "f", key)) == b""


def test_a_wrong_key_is_told_apart_from_damage(tmp_path: Path) -> None:
    _seal(tmp_path / "f", _key(), b"secret")
    assert _code(tmp_path / "f", _key()) == "backup_wrong_key"


def test_a_changed_byte_a_cut_and_a_dropped_chunk_are_found(tmp_path: Path) -> None:
    key, data = _key(), os.urandom(CHUNK * 3)
    _seal(tmp_path / "f", key, data)
    sealed = (tmp_path / "f").read_bytes()

    changed = bytearray(sealed)
    changed[CHUNK + 50] ^= 1
    (tmp_path / "changed").write_bytes(bytes(changed))
    assert _code(tmp_path / "changed", key) == "backup_tampered"

    (tmp_path / "cut").write_bytes(sealed[: 20 + 2 * (CHUNK + 20)])  # two whole chunks only
    assert _code(tmp_path / "cut", key) == "backup_tampered"

    first = 20 + 4 + CHUNK + 16  # header, then the first chunk with its length and tag
    (tmp_path / "dropped").write_bytes(sealed[:20] + sealed[first:])
    assert _code(tmp_path / "dropped", key) == "backup_tampered"


def test_the_key_must_be_32_bytes() -> None:
    with pytest.raises(YuntongError) as raised:
        BackupKey(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"short")))
    assert raised.value.code == "backup_key_invalid"

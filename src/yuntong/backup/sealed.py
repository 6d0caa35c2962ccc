"""The sealed file: a stream encrypted with AES-256-GCM in 1 MiB chunks under the backup key.

Layout: ``YTB1``, the key's id (8 bytes), a random nonce prefix (8 bytes), then chunks, each a
4-byte big-endian length (top bit: the last chunk) and its ciphertext with tag. A chunk's nonce
is the prefix and its number; its additional data the header, its number and the last-chunk
flag, so chunks cannot be reordered, dropped, cut short or moved between files unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from yuntong.config import Settings
from yuntong.core.errors import YuntongError

MAGIC = b"YTB1"
CHUNK = 1 << 20
_LAST = 1 << 31
_ID_BYTES = 8
_HEADER = len(MAGIC) + _ID_BYTES + 8


def _derive(raw: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)


def new_key() -> str:
    """A new backup key: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class BackupKey:
    """The backup key (``backup_key``), and what is derived from it: the encryption key, the
    manifest's MAC key and the id written into every sealed file (never the key itself)."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise YuntongError("backup_key_invalid")
        self._aead = AESGCM(_derive(raw, b"yuntong backup: encryption"))
        self._mac = _derive(raw, b"yuntong backup: manifest")
        self.id = _derive(raw, b"yuntong backup: key id")[:_ID_BYTES]

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupKey:
        """The configured key; ``backup_key_missing`` when none is set (there is no default)."""
        text = settings.backup_key.get_secret_value().strip()
        if not text:
            raise YuntongError("backup_key_missing")
        try:
            raw = base64.urlsafe_b64decode(text.encode())
        except (binascii.Error, ValueError):
            raise YuntongError("backup_key_invalid") from None
        return cls(raw)

    @property
    def id_hex(self) -> str:
        return self.id.hex()

    def mac(self, data: bytes) -> str:
        return hmac.new(self._mac, data, hashlib.sha256).hexdigest()

    def check_mac(self, data: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.mac(data), mac)


class SealedWriter:
    """Writes what it is given, encrypted, into a new owner-only file; keeps the SHA-256 and
    size of both the plain stream and the file (for the manifest)."""

    def __init__(self, path: Path, key: BackupKey) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._key = key
        self._prefix = secrets.token_bytes(8)
        self._header = MAGIC + key.id + self._prefix
        self._buffer = bytearray()
        self._counter = 0
        self.plain = hashlib.sha256()
        self.sealed = hashlib.sha256()
        self.plain_bytes = 0
        self.sealed_bytes = 0
        self._put(self._header)

    def _put(self, data: bytes) -> None:
        self._file.write(data)
        self.sealed.update(data)
        self.sealed_bytes += len(data)

    def _seal(self, data: bytes, last: bool) -> None:
        counter = self._counter.to_bytes(4, "big")
        nonce = self._prefix + counter
        aad = self._header + counter + (b"\x01" if last else b"\x00")
        sealed = self._key._aead.encrypt(nonce, data, aad)
        self._put((len(sealed) | (_LAST if last else 0)).to_bytes(4, "big") + sealed)
        self._counter += 1

    def write(self, data: bytes) -> int:
        self.plain.update(data)
        self.plain_bytes += len(data)
        self._buffer += data
        while len(self._buffer) >= CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_sealed(path: Path, key: BackupKey, sha256: str) -> None:
    """The file is the one the manifest names (its checksum) and sealed with this key."""
    if not path.is_file():
        raise YuntongError("backup_incomplete", file=path.name)
    with path.open("rb") as fh:
        header = fh.read(_HEADER)
    if len(header) < _HEADER or not header.startswith(MAGIC):
        raise YuntongError("backup_tampered", file=path.name)
    if header[len(MAGIC) : len(MAGIC) + _ID_BYTES] != key.id:
        raise YuntongError("backup_wrong_key")
    if file_sha256(path) != sha256:
        raise YuntongError("backup_tampered", file=path.name)


def _read_exactly(fh: BinaryIO, size: int) -> bytes:
    data = fh.read(size)
    return data if len(data) == size else b""


def open_sealed(path: Path, key: BackupKey) -> Iterator[bytes]:
    """The plain stream of a sealed file, chunk by chunk; ``backup_wrong_key`` or
    ``backup_tampered`` (a chunk altered, missing or added) as soon as it is found."""
    with path.open("rb") as fh:
        header = _read_exactly(fh, _HEADER)
        if not header.startswith(MAGIC):
            raise YuntongError("backup_tampered", file=path.name)
        if header[len(MAGIC) : len(MAGIC) + _ID_BYTES] != key.id:
            raise YuntongError("backup_wrong_key")
        prefix = header[len(MAGIC) + _ID_BYTES :]
        counter = 0
        while True:
            length = _read_exactly(fh, 4)
            if not length:
                raise YuntongError("backup_tampered", file=path.name)  # cut short
            word = int.from_bytes(length, "big")
            last = bool(word & _LAST)
            sealed = _read_exactly(fh, word & ~_LAST)
            number = counter.to_bytes(4, "big")
            aad = header + number + (b"\x01" if last else b"\x00")
            try:
                yield key._aead.decrypt(prefix + number, sealed, aad)
            except InvalidTag:
                raise YuntongError("backup_tampered", file=path.name) from None
            counter += 1
            if last:
                if fh.read(1):
                    raise YuntongError("backup_tampered", file=path.name)
                return


class SealedReader:
    """A sealed file's plain stream as a file object with ``read`` (for tarfile's streams)."""

    def __init__(self, path: Path, key: BackupKey) -> None:
        self._chunks = open_sealed(path, key)
        self._buffer = b""
        self._at = 0
        self._done = False
        self.plain = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) - self._at < size):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self.plain.update(chunk)
                self._buffer = self._buffer[self._at :] + chunk
                self._at = 0
        end = len(self._buffer) if size < 0 else min(len(self._buffer), self._at + size)
        data = self._buffer[self._at : end]
        self._at = end
        return data

    def drain(self) -> None:
        """Read to the end (so a stream stopped early is still checked whole)."""
        while self.read(CHUNK):
            pass

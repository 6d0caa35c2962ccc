"""Port-in authorisation documents (携号转网授权书): checked by their content, kept encrypted at
rest in owner-only files under ``var/porting/``, read back only by staff.

The type is read from the file's first bytes, not from what the uploader claims: PDF, JPEG or
PNG, at most ``numbers_porting_document_max_bytes``. The file holds the PII cipher's
ciphertext (AES-256-GCM, key ring rotation as for identity data) of the document, bound to the
request's reference, so a file moved to another request does not decrypt.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.files import create_private_file, private_dir

# leading bytes -> media type
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@dataclass(frozen=True)
class PortDocument:
    name: str
    media_type: str
    size: int
    sha256: str


def check_document(name: str, data: bytes, max_bytes: int) -> PortDocument:
    """The document ``data`` is: ``port_document_invalid`` unless a PDF, JPEG or PNG of at most
    ``max_bytes`` (and not empty)."""
    if not data or len(data) > max_bytes:
        raise YuntongError("port_document_invalid", max_mb=max(1, max_bytes // 1_000_000))
    media = next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)
    if media is None:
        raise YuntongError("port_document_invalid", max_mb=max(1, max_bytes // 1_000_000))
    clean = "".join(c for c in Path(name or "document").name if c.isprintable())[:80]
    return PortDocument(clean or "document", media, len(data), hashlib.sha256(data).hexdigest())


def _path(ctx: Context, ref: str) -> Path:
    return private_dir(ctx.settings.var_dir / "porting") / f"{ref}.sealed"


def _context(ref: str) -> str:
    return f"port_document:{ref}"


async def store_document(ctx: Context, ref: str, data: bytes) -> None:
    """Write the document of request ``ref``, encrypted, to its owner-only file."""
    sealed = ctx.cipher.encrypt(base64.b64encode(data).decode(), context=_context(ref))
    path = _path(ctx, ref)

    def write() -> None:
        create_private_file(path)
        path.write_text(sealed, encoding="ascii")

    await asyncio.to_thread(write)


async def read_document(ctx: Context, ref: str) -> bytes:
    """The document of request ``ref``, decrypted; ``not_found`` if its file is gone."""
    path = _path(ctx, ref)
    try:
        sealed = await asyncio.to_thread(path.read_text, encoding="ascii")
    except FileNotFoundError as exc:
        raise YuntongError("not_found") from exc
    return base64.b64decode(ctx.cipher.decrypt(sealed, context=_context(ref)))


async def delete_document(ctx: Context, ref: str) -> None:
    """Remove the document of a request that was not filed after all."""
    await asyncio.to_thread(_path(ctx, ref).unlink, missing_ok=True)

"""Identifiers and tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    """A random, sortable-enough public identifier (UUID4 hex)."""
    return uuid.uuid4().hex


def new_token() -> str:
    """An opaque bearer/session token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()

"""Personal data at rest: AES-256-GCM with a key ring, plus a keyed blind index for look-ups.

Ciphertext format: ``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. Rotation adds a key
and makes it active; old ciphertexts stay readable until re-encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from yuntong.config import Settings

PREFIX = "v1"


def normalise_email(address: str) -> str:
    """The one form of an e-mail address that is stored and indexed: stripped, lower-cased."""
    return address.strip().lower()


class PiiCipher:
    def __init__(self, keys: dict[str, bytes], active: str, index_key: bytes) -> None:
        if active not in keys:
            raise ValueError("active PII key id is not in the key ring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"PII key {kid} must be 32 bytes")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active
        self._index_key = index_key

    @classmethod
    def from_b64(cls, keys: dict[str, str], active: str, secret: str) -> PiiCipher:
        raw = {kid: base64.urlsafe_b64decode(k) for kid, k in keys.items()}
        index_key = hashlib.sha256(b"yuntong-blind-index:" + secret.encode()).digest()
        return cls(raw, active, index_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiCipher:
        """The key ring of these settings (``pii_keys``, ``pii_active_key``, ``secret_key``)."""
        return cls.from_b64(
            {kid: key.get_secret_value() for kid, key in settings.pii_keys.items()},
            settings.pii_active_key,
            settings.secret_key.get_secret_value(),
        )

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        ct = self._keys[self.active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.active}:{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        prefix, kid, body = token.split(":", 2)
        if prefix != PREFIX or kid not in self._keys:
            raise ValueError("unknown ciphertext version or key id")
        raw = base64.urlsafe_b64decode(body)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def key_id(self, token: str) -> str:
        return token.split(":", 2)[1]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id(token) != self.active

    def blind_index(self, value: str) -> str:
        """Deterministic keyed hash so encrypted values (phone numbers) can be looked up."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()

    def email_index(self, address: str) -> str:
        """Blind index of an e-mail address, normalised first: ``A@B.cn `` finds ``a@b.cn``."""
        return self.blind_index(f"email:{normalise_email(address)}")

    def reseal(self, row: Any, columns: Mapping[str, str]) -> int:
        """Re-encrypt under the active key each of ``row``'s ``{column: context}`` that is not.

        Returns how many values were re-encrypted (None values and current ones are left).
        """
        changed = 0
        for column, context in columns.items():
            token = getattr(row, column)
            if token is not None and self.needs_rotation(token):
                plain = self.decrypt(token, context=context)
                setattr(row, column, self.encrypt(plain, context=context))
                changed += 1
        return changed


def mask(value: str, *, keep_start: int = 6, keep_end: int = 4) -> str:
    """``110105199001011234`` → ``110105********1234``; short values are fully masked."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    tail = value[len(value) - keep_end :]
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + tail

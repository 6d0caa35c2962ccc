"""Personal data at rest: AES-256-GCM with a key ring, plus a keyed blind index for look-ups.

Ciphertext format: ``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. Rotation adds a key
and makes it active; old ciphertexts stay readable until re-encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1"


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


def mask(value: str, *, keep_start: int = 6, keep_end: int = 4) -> str:
    """``110105199001011234`` → ``110105********1234``; short values are fully masked."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    tail = value[len(value) - keep_end :]
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + tail

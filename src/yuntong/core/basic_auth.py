"""HTTP Basic credentials of the programs Yuntong runs beside it (Janus's event handler, the
SIP edge) checked against the passwords they may hold, in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable


def check_basic(header: str | None, user: str, passwords: Iterable[str]) -> bool:
    """Whether an ``Authorization`` header carries ``user`` and one of ``passwords``."""
    if not header or not header.startswith("Basic "):
        return False
    try:
        given, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    ok = False
    for expected in passwords:  # compare with all: no timing hint of which matched
        ok |= hmac.compare_digest(password.encode(), expected.encode())
    return ok and given == user

"""The platform's identity signature as the desk checks it: HMAC-SHA256 over the visitor id,
the attributes as canonical JSON and a timestamp, under the inbox's secret; a tampered value
or another secret is invalid, an old (or far future) timestamp expired."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from yuntong.core.errors import YuntongError
from yuntong.support.identity import canonical, check_signature, signature_of

SECRET = "s3cret-of-the-inbox"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
ATTRS = {"name": "王小明", "role": "student", "grade": 5, "course": "数学"}


def platform_signs(secret: str, visitor_id: str, attributes: dict, timestamp: int) -> str:
    """What docs/support.md tells a platform to do, written out independently."""
    body = json.dumps(attributes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = f"{visitor_id}\n{body}\n{timestamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check(signature: str, *, attributes: dict = ATTRS, ts: int = TS, vid: str = "s-42") -> None:
    check_signature(SECRET, vid, attributes, ts, signature, NOW, 300)


def test_a_platforms_signature_is_accepted_in_any_key_order_and_case() -> None:
    signature = platform_signs(SECRET, "s-42", dict(reversed(ATTRS.items())), TS)
    assert signature == signature_of(SECRET, "s-42", ATTRS, TS)
    check(signature)
    check(signature.upper())
    assert canonical(ATTRS).startswith('{"course":"数学"')


@pytest.mark.parametrize(
    "tampered",
    [
        {"vid": "s-43"},
        {"attributes": {**ATTRS, "role": "teacher"}},
        {"attributes": {**ATTRS, "extra": 1}},
        {"ts": TS - 1},
    ],
)
def test_a_tampered_identity_is_invalid(tampered: dict) -> None:
    with pytest.raises(YuntongError) as err:
        check(platform_signs(SECRET, "s-42", ATTRS, TS), **tampered)
    assert err.value.code == "support_identity_invalid"


def test_another_secrets_signature_is_invalid() -> None:
    with pytest.raises(YuntongError) as err:
        check(platform_signs("other", "s-42", ATTRS, TS))
    assert err.value.code == "support_identity_invalid"


@pytest.mark.parametrize(
    ("age_s", "ok"), [(0, True), (300, True), (301, False), (-60, True), (-61, False)]
)
def test_a_signature_is_taken_within_its_window_only(age_s: int, ok: bool) -> None:
    ts = TS - age_s
    signature = platform_signs(SECRET, "s-42", ATTRS, ts)
    if ok:
        check(signature, ts=ts)
        return
    with pytest.raises(YuntongError) as err:
        check(signature, ts=ts)
    assert err.value.code == "support_identity_expired"

"""Who a widget visitor is: the platform's signed identity, anonymous visitors, and the visitor
token the API issues for the widget's requests and socket (docs/support.md, "Signing").

The platform signs ``visitor id`` + ``\\n`` + the attributes as canonical JSON (keys sorted, no
spaces, UTF-8) + ``\\n`` + a Unix timestamp with HMAC-SHA256 under the inbox's secret. A
signature is taken within ``support_identity_max_age_s`` of its timestamp (a copied one is
useless later: ``support_identity_expired``) and only once (``support_identity_replayed``:
the digests used are kept until they would have expired anyway), so an unverified visitor
cannot post as a verified one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.support.inboxes import secret_of
from yuntong.support.models import Inbox, UsedSignature, Visitor

ATTRIBUTES_CONTEXT = "support_visitors.attributes"
MAX_ATTRIBUTES_BYTES = 4096
FUTURE_SKEW_S = 60  # a platform clock this far ahead is still believed


def canonical(attributes: dict[str, Any]) -> str:
    """The attributes as the platform signs them: JSON, keys sorted, no spaces, UTF-8."""
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signature_of(secret: str, visitor_id: str, attributes: dict[str, Any], timestamp: int) -> str:
    """The hex HMAC-SHA256 a platform sends with a visitor (the same code as docs/support.md)."""
    message = f"{visitor_id}\n{canonical(attributes)}\n{timestamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_signature(
    secret: str,
    visitor_id: str,
    attributes: dict[str, Any],
    timestamp: int,
    signature: str,
    now: datetime,
    max_age_s: int,
) -> None:
    """``support_identity_invalid`` unless ``signature`` is the platform's over exactly these
    values; ``support_identity_expired`` when its timestamp is out of the window."""
    expected = signature_of(secret, visitor_id, attributes, timestamp)
    if not hmac.compare_digest(expected, signature.lower()):
        raise YuntongError("support_identity_invalid")
    age = now.timestamp() - timestamp
    if age > max_age_s or age < -FUTURE_SKEW_S:
        raise YuntongError("support_identity_expired", minutes=max(1, max_age_s // 60))


def digest_of(signature: str) -> str:
    return hashlib.sha256(signature.lower().encode()).hexdigest()


@dataclass(frozen=True)
class SignedIdentity:
    visitor_id: str
    attributes: dict[str, Any]
    timestamp: int
    signature: str


@dataclass(frozen=True)
class VisitorToken:
    visitor_id: int
    inbox_id: int
    expires: int


def attributes_of(ctx: Context, visitor: Visitor) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        ctx.cipher.decrypt(visitor.attributes_enc, context=ATTRIBUTES_CONTEXT)
    )
    return found


def check_attributes(attributes: dict[str, Any]) -> None:
    if len(canonical(attributes).encode()) > MAX_ATTRIBUTES_BYTES:
        raise YuntongError("validation_failed", fields={"attributes": "too_long"})


async def do_identify(
    ctx: Context, inbox: Inbox, signed: SignedIdentity | None, prechat: dict[str, Any]
) -> Visitor:
    """The visitor a widget session is for: the platform's signed visitor (made on first sight,
    its attributes renewed), or a new anonymous one where the inbox allows it. The signature is
    spent here: the same one is refused next time."""
    now = ctx.clock.now()
    if signed is None:
        if not inbox.allow_anonymous:
            raise YuntongError("support_identity_required")
        check_attributes(prechat)
        return await _new_visitor(ctx, inbox, None, prechat, now)
    check_attributes(signed.attributes)
    check_signature(
        secret_of(ctx, inbox),
        signed.visitor_id,
        signed.attributes,
        signed.timestamp,
        signed.signature,
        now,
        ctx.settings.support_identity_max_age_s,
    )
    await _spend(ctx, inbox, signed, now)
    attributes = {**prechat, **signed.attributes}  # what the platform vouches for wins
    async with ctx.db.session() as s:
        visitor = (
            await s.execute(
                select(Visitor).where(
                    Visitor.inbox_id == inbox.id, Visitor.external_id == signed.visitor_id
                )
            )
        ).scalar_one_or_none()
        if visitor is not None:
            visitor.attributes_enc = _sealed(ctx, attributes)
            visitor.last_seen_at = now
            return visitor
    try:
        return await _new_visitor(ctx, inbox, signed.visitor_id, attributes, now)
    except IntegrityError:  # the same visitor's first visit in two tabs at once
        async with ctx.db.session() as s:
            return (
                await s.execute(
                    select(Visitor).where(
                        Visitor.inbox_id == inbox.id, Visitor.external_id == signed.visitor_id
                    )
                )
            ).scalar_one()


async def _spend(ctx: Context, inbox: Inbox, signed: SignedIdentity, now: datetime) -> None:
    """Note the signature as used (``support_identity_replayed`` if it was), and forget those
    past their window."""
    window = ctx.settings.support_identity_max_age_s + FUTURE_SKEW_S
    expires = datetime.fromtimestamp(signed.timestamp, now.tzinfo) + timedelta(seconds=window)
    try:
        async with ctx.db.session() as s:
            await s.execute(delete(UsedSignature).where(UsedSignature.expires_at < now))
            s.add(
                UsedSignature(
                    digest=digest_of(signed.signature), inbox_id=inbox.id, expires_at=expires
                )
            )
    except IntegrityError as exc:
        raise YuntongError("support_identity_replayed") from exc


def _sealed(ctx: Context, attributes: dict[str, Any]) -> str:
    return ctx.cipher.encrypt(canonical(attributes), context=ATTRIBUTES_CONTEXT)


async def _new_visitor(
    ctx: Context, inbox: Inbox, external_id: str | None, attributes: dict[str, Any], now: datetime
) -> Visitor:
    async with ctx.db.session() as s:
        visitor = Visitor(
            inbox_id=inbox.id,
            external_id=external_id,
            attributes_enc=_sealed(ctx, attributes),
            created_at=now,
            last_seen_at=now,
        )
        s.add(visitor)
        await s.flush()
        return visitor


# --- the visitor token (what the widget sends with every request and its socket) -------------


def _sign(ctx: Context, payload: bytes) -> str:
    key = ctx.settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, b"support-visitor:" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue_token(ctx: Context, visitor: Visitor) -> str:
    expires = int(ctx.clock.now().timestamp()) + ctx.settings.support_visitor_token_hours * 3600
    body = {"v": visitor.id, "i": visitor.inbox_id, "e": expires}
    payload = json.dumps(body, separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{encoded}.{_sign(ctx, payload)}"


def check_token(ctx: Context, text: str) -> VisitorToken:
    """The token if Yuntong issued it and it has not expired, else ``support_visitor_invalid``."""
    try:
        encoded, signature = text.split(".", 1)
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if not hmac.compare_digest(signature, _sign(ctx, payload)):
            raise ValueError("signature")
        body = json.loads(payload)
        token = VisitorToken(int(body["v"]), int(body["i"]), int(body["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise YuntongError("support_visitor_invalid") from exc
    if token.expires < ctx.clock.now().timestamp():
        raise YuntongError("support_visitor_invalid")
    return token


def check_token_for(ctx: Context, text: str, inbox: Inbox) -> VisitorToken:
    """:func:`check_token`, and a token of this inbox's visitor."""
    token = check_token(ctx, text)
    if token.inbox_id != inbox.id:
        raise YuntongError("support_visitor_invalid")
    return token

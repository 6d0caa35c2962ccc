"""E-mail subscriptions to the status page: double opt-in (the confirmation link's token kept
as a SHA-256 hash only, valid 48 hours), throttled per client and per address, and an
unsubscribe link in every e-mail (an HMAC of the subscriber's id: nothing to store, one-click,
RFC 8058).

Announcements go through an outbox (:class:`StatusMail`): posting an update writes one row per
confirmed subscriber in the update's own transaction (unique per subscriber and key); a sender
claims a row with a conditional ``UPDATE`` before sending it and marks it sent after, so with
several nodes (each worker's pass under the job lease ``status.mail``, or a person running it by
hand) a subscriber gets one e-mail per announcement. A failed send is retried with the notices'
back-off (5 min doubling, at most 6 h); a node that dies mid-send leaves its claim to expire.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts.validation import is_email
from yuntong.cluster.jobs import singleton
from yuntong.core.context import Context
from yuntong.core.crypto import normalise_email
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import LOCALES, translate
from yuntong.core.logging import get_logger
from yuntong.core.mail import Mailer, MailError, build_message
from yuntong.core.throttle import Limit, throttle
from yuntong.notifications.notices import failure_code, retry_after
from yuntong.sla.models import (
    Incident,
    IncidentUpdate,
    Maintenance,
    StatusComponent,
    StatusMail,
    StatusSubscriber,
)

log = get_logger(__name__)
CONFIRM_HOURS = 48
CLAIM = timedelta(minutes=5)  # a sender's hold on a row while it sends it
MAIL_JOB = "status.mail"
SUBSCRIBE_PER_CLIENT = Limit(5, window_s=3600)
SUBSCRIBE_PER_ADDRESS = Limit(3, window_s=3600)
CONFIRM_PER_CLIENT = Limit.locking(20, 3600)
EMAIL_CONTEXT = "status_subscriber.email"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(ctx: Context, subscriber_id: int) -> str:
    key = ctx.settings.secret_key.get_secret_value().encode()
    message = f"status-unsubscribe:{subscriber_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def unsubscribe_token(ctx: Context, subscriber_id: int) -> str:
    return f"{subscriber_id}.{_mac(ctx, subscriber_id)}"


def base_url(ctx: Context) -> str:
    return (ctx.settings.public_url or f"http://{ctx.settings.host}:{ctx.settings.port}").rstrip(
        "/"
    )


def confirm_link(ctx: Context, token: str) -> str:
    return f"{base_url(ctx)}/status/confirm?token={token}"


def unsubscribe_link(ctx: Context, subscriber_id: int) -> str:
    return f"{base_url(ctx)}/status/unsubscribe?token={unsubscribe_token(ctx, subscriber_id)}"


# -- subscribing -------------------------------------------------------------------------------


async def do_subscribe(ctx: Context, email: str, locale: str, client: str) -> None:
    """Send a confirmation link to ``email`` (nothing is sent to an address already confirmed;
    the answer is the same either way, so the form tells no one who is subscribed)."""
    address = normalise_email(email)
    if not is_email(address):
        raise YuntongError("validation_failed", fields={"email": "invalid_email"})
    if locale not in LOCALES:
        raise YuntongError("validation_failed", fields={"locale": "invalid"})
    by_client = throttle(ctx, "status.subscribe", SUBSCRIBE_PER_CLIENT)
    by_address = throttle(ctx, "status.subscribe_address", SUBSCRIBE_PER_ADDRESS)
    index = ctx.cipher.email_index(address)
    await by_client.check(client)
    await by_address.check(index)
    await by_client.hit(client)
    await by_address.hit(index)
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        found = await s.execute(
            select(StatusSubscriber).where(StatusSubscriber.email_index == index)
        )
        sub = found.scalar_one_or_none()
        if sub is not None and sub.confirmed_at is not None and sub.unsubscribed_at is None:
            return
        if sub is None:
            sub = StatusSubscriber(email_index=index, created_at=now)
            s.add(sub)
        sub.email_enc = ctx.cipher.encrypt(address, context=EMAIL_CONTEXT)
        sub.locale = locale
        sub.confirm_hash = token_hash(token)
        sub.confirm_expires_at = now + timedelta(hours=CONFIRM_HOURS)
    message = build_message(
        to=[address],
        subject=translate("status.mail.confirm.subject", locale),
        text=translate(
            "status.mail.confirm.body", locale, hours=CONFIRM_HOURS, link=confirm_link(ctx, token)
        ),
    )
    try:
        await Mailer.from_settings(ctx.settings).send(message)
    except MailError as exc:
        raise YuntongError("mail_failed", reason=exc.reason) from exc


async def do_confirm(ctx: Context, token: str, client: str) -> None:
    """The link in the confirmation e-mail: the address receives announcements from now on."""
    guard = throttle(ctx, "status.confirm", CONFIRM_PER_CLIENT)
    await guard.check(client)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        found = await s.execute(
            select(StatusSubscriber).where(StatusSubscriber.confirm_hash == token_hash(token))
        )
        sub = found.scalar_one_or_none()
        if sub is None or sub.confirm_expires_at is None or sub.confirm_expires_at <= now:
            await guard.hit(client)
            raise YuntongError("status_token_invalid")
        sub.confirmed_at = now
        sub.unsubscribed_at = None
        sub.confirm_hash = None
        sub.confirm_expires_at = None


async def do_unsubscribe(ctx: Context, token: str) -> None:
    """The link in every e-mail; idempotent."""
    raw_id, _, mac = token.partition(".")
    if not raw_id.isdigit() or len(raw_id) > 12:
        raise YuntongError("status_token_invalid")
    if not hmac.compare_digest(mac, _mac(ctx, int(raw_id))):
        raise YuntongError("status_token_invalid")
    async with ctx.db.session() as s:
        await s.execute(
            update(StatusSubscriber)
            .where(StatusSubscriber.id == int(raw_id), StatusSubscriber.unsubscribed_at.is_(None))
            .values(unsubscribed_at=ctx.clock.now())
        )


async def count_subscribers(ctx: Context) -> int:
    async with ctx.db.session() as s:
        return len(list((await s.execute(_active())).scalars()))


def _active() -> Select[Any]:
    return select(StatusSubscriber.id).where(
        StatusSubscriber.confirmed_at.is_not(None), StatusSubscriber.unsubscribed_at.is_(None)
    )


# -- the outbox --------------------------------------------------------------------------------


async def enqueue(s: AsyncSession, ctx: Context, key: str) -> None:
    """One e-mail per confirmed subscriber for this announcement, in the caller's transaction."""
    ids = list((await s.execute(_active())).scalars())
    if ids:
        now = ctx.clock.now()
        rows = [{"subscriber_id": i, "key": key, "created_at": now, "attempts": 0} for i in ids]
        await s.execute(insert_ignoring_duplicates(s, StatusMail), rows)


async def do_send_pending(ctx: Context, limit: int = 200) -> int:
    """Send what the outbox holds; returns how many e-mails went out. Safe on several nodes
    at once: each row is claimed before it is sent."""
    now = ctx.clock.now()
    query = (
        select(StatusMail.id)
        .join(StatusSubscriber, StatusSubscriber.id == StatusMail.subscriber_id)
        .where(
            StatusMail.sent_at.is_(None),
            StatusSubscriber.unsubscribed_at.is_(None),
            or_(StatusMail.claimed_until.is_(None), StatusMail.claimed_until <= now),
        )
        .order_by(StatusMail.id)
        .limit(limit)
    )
    async with ctx.db.session() as s:
        ids = list((await s.execute(query)).scalars())
    mailer = Mailer.from_settings(ctx.settings)
    sent = 0
    for mail_id in ids:
        row = await _claim(ctx, mail_id)
        if row is None:
            continue  # another node has it
        try:
            delivered = await mailer.send(await render(ctx, row))
        except Exception as exc:  # one e-mail never stops the others
            await _failed(ctx, row, exc)
            continue
        async with ctx.db.session() as s:
            await s.execute(
                update(StatusMail)
                .where(StatusMail.id == mail_id)
                .values(sent_at=ctx.clock.now(), error=None if delivered else "mail_off")
            )
        sent += 1 if delivered else 0
    return sent


async def _claim(ctx: Context, mail_id: int) -> StatusMail | None:
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        claimed = await s.execute(
            update(StatusMail)
            .where(
                StatusMail.id == mail_id,
                StatusMail.sent_at.is_(None),
                or_(StatusMail.claimed_until.is_(None), StatusMail.claimed_until <= now),
            )
            .values(claimed_until=now + CLAIM, attempts=StatusMail.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        return await s.get(StatusMail, mail_id)


async def _failed(ctx: Context, row: StatusMail, exc: Exception) -> None:
    code = failure_code(exc)
    log.warning("status_mail_failed", mail_id=row.id, attempts=row.attempts, error=code)
    async with ctx.db.session() as s:
        await s.execute(
            update(StatusMail)
            .where(StatusMail.id == row.id)
            .values(error=code, claimed_until=ctx.clock.now() + retry_after(row.attempts))
        )


async def do_send_on_pass(ctx: Context) -> None:
    """The billing worker's pass (``run_on_each_pass``): the outbox, under its job lease —
    taken only when something waits (most passes stop at this read)."""
    async with ctx.db.session() as s:
        waiting = await s.execute(
            select(StatusMail.id).where(StatusMail.sent_at.is_(None)).limit(1)
        )
        if waiting.first() is None:
            return
    async with singleton(ctx, MAIL_JOB) as lease:
        if lease is not None:
            await do_send_pending(ctx)


# -- the e-mails -------------------------------------------------------------------------------


def _when(ctx: Context, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(ctx.settings.business_timezone)).strftime("%Y-%m-%d %H:%M")


async def _names(s: AsyncSession, ids: list[int], locale: str) -> str:
    query = select(StatusComponent).where(StatusComponent.id.in_(ids))
    found = (await s.execute(query.order_by(StatusComponent.position))).scalars()
    return ", ".join(c.name_zh if locale == "zh-CN" else c.name_en for c in found)


async def render(ctx: Context, row: StatusMail) -> EmailMessage:
    """The e-mail of one outbox row, in its subscriber's language, with the unsubscribe link
    in the body and the List-Unsubscribe headers (RFC 2369, RFC 8058 one-click)."""
    kind, _, rest = row.key.partition(":")
    async with ctx.db.session() as s:
        sub = await s.get(StatusSubscriber, row.subscriber_id)
        assert sub is not None
        zh = sub.locale == "zh-CN"
        if kind == "update":
            u = await s.get(IncidentUpdate, int(rest))
            assert u is not None
            incident = await s.get(Incident, u.incident_id)
            assert incident is not None
            title = incident.title if zh else incident.title_en or incident.title
            status = translate(f"status.status.{u.status}", sub.locale)
            subject = translate(
                "status.mail.update.subject", sub.locale, status=status, title=title
            )
            affects = await _names(s, [int(c) for c in u.impacts], sub.locale)
            lines = [
                title,
                f"{status} · {_when(ctx, u.created_at)}",
                "",
                u.message_zh if zh else u.message_en,
            ]
        else:
            raw_id, _, what = rest.partition(":")
            m = await s.get(Maintenance, int(raw_id))
            assert m is not None
            title = m.title_zh if zh else m.title_en
            subject = translate(f"status.mail.maintenance.{what}.subject", sub.locale, title=title)
            affects = await _names(s, m.component_ids, sub.locale)
            window = translate(
                "status.window",
                sub.locale,
                start=_when(ctx, m.starts_at),
                end=_when(ctx, m.ends_at),
                tz=ctx.settings.business_timezone,
            )
            lines = [title, window, "", m.description_zh if zh else m.description_en]
    if affects:
        lines.append(translate("status.affects", sub.locale, components=affects))
    unsubscribe = unsubscribe_link(ctx, sub.id)
    footer = translate(
        "status.mail.footer", sub.locale, page=f"{base_url(ctx)}/status", unsubscribe=unsubscribe
    )
    address = ctx.cipher.decrypt(sub.email_enc, context=EMAIL_CONTEXT)
    message = build_message(to=[address], subject=subject, text="\n".join([*lines, "", footer]))
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message

"""Customer notices: written once per event (idempotency key), shown in the app, e-mailed once.

The kinds today are billing's; who receives an account's notices (:data:`RECIPIENTS`), what a
kind attaches (:data:`ATTACHERS`) and what its sending records (:data:`DELIVERED`) are handed
over by billing, which this package does not import.

Each notice's e-mail is attempted on its own: one that fails (an SMTP refusal, a document that
cannot be made) is recorded on the notice, retried with a growing delay (5 min doubling, at
most 6 h) and counted in every delivery pass until sent; the others go out regardless.

Kinds: statement issued, due soon, overdue, suspension soon, suspended, termination soon,
terminated, credit 80 % / 100 %, price change, payment received, dispute update.
"""

from __future__ import annotations

import smtplib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.core.context import Context, Piece, Slot
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.i18n import translate
from yuntong.core.logging import get_logger
from yuntong.core.mail import Mailer, MailError, build_message
from yuntong.notifications.models import Notice
from yuntong.notifications.strings import NOTICE_TEXTS

log = get_logger(__name__)


# notice kind -> what to attach to its e-mail: [(filename, mime type, bytes)]
Attachments = Callable[[Context, Notice, str], Awaitable[list[tuple[str, str, bytes]]]]
ATTACHERS: dict[str, Attachments] = {}
# notice kind -> what else its e-mail being sent records (in the same transaction)
Delivered = Callable[[AsyncSession, Notice, datetime], Awaitable[None]]
DELIVERED: dict[str, Delivered] = {}


@dataclass(frozen=True)
class Recipient:
    """Where an account's notices are e-mailed, and in which language."""

    addresses: list[str]
    locale: str


Recipients = Callable[[Context, int], Awaitable[Recipient]]
RECIPIENTS = Piece(
    "notifications.recipients",
    "node-owned live state",
    lambda ctx: Slot[Recipients](),
    "who receives an account's notices: billing hands its look-up over when the context is "
    "built (notifications do not import billing)",
)


def send_to(ctx: Context, recipients: Recipients) -> None:
    """Hand over the look-up of an account's recipients (``yuntong.services``)."""
    ctx.services.get(RECIPIENTS).value = recipients


# params stored as codes and shown in the reader's language: kind -> {param: i18n key pattern}
CODED_PARAMS: dict[str, dict[str, str]] = {"dispute_update": {"state": "dispute.state.{}"}}


def notice_text(notice: Notice, locale: str) -> tuple[str, str]:
    params = dict(notice.params)
    for name, pattern in CODED_PARAMS.get(notice.kind, {}).items():
        if name in params:
            params[name] = translate(pattern.format(params[name]), locale)
    return (
        translate(f"notice.{notice.kind}.subject", locale, **params),
        translate(f"notice.{notice.kind}.body", locale, **params),
    )


async def do_notify(ctx: Context, account_id: int, kind: str, key: str, **params: Any) -> bool:
    """Record a notice once (a second call with the same key does nothing); True if new."""
    if kind not in NOTICE_TEXTS:
        raise ValueError(f"unknown notice kind {kind}")
    row = {
        "account_id": account_id,
        "kind": kind,
        "params": params,
        "created_at": ctx.clock.now(),
        "idempotency_key": f"{kind}:{key}",
    }
    async with ctx.db.session() as s:
        before = await s.execute(
            select(Notice.id).where(Notice.idempotency_key == row["idempotency_key"])
        )
        if before.first() is not None:
            return False
        await s.execute(insert_ignoring_duplicates(s, Notice), [row])
    return True


async def add_notices(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record many notices in the caller's transaction; those whose key exists are skipped."""
    await s.execute(insert_ignoring_duplicates(s, Notice), list(rows))


async def list_notices(ctx: Context, account_id: int, limit: int = 100) -> list[Notice]:
    query = (
        select(Notice)
        .where(Notice.account_id == account_id)
        .order_by(Notice.id.desc())
        .limit(limit)
    )
    async with ctx.db.session() as s:
        return list((await s.execute(query)).scalars())


async def do_mark_read(ctx: Context, account_id: int) -> None:
    async with ctx.db.session() as s:
        await s.execute(
            update(Notice)
            .where(Notice.account_id == account_id, Notice.read_at.is_(None))
            .values(read_at=ctx.clock.now())
        )


RETRY_FIRST = timedelta(minutes=5)  # after a failed e-mail; doubles with each attempt
RETRY_MOST = timedelta(hours=6)


def retry_after(attempts: int) -> timedelta:
    """How long after its last failed attempt a notice's e-mail is tried again."""
    if attempts <= 0:
        return timedelta(0)
    delay: timedelta = RETRY_FIRST * (2 ** min(attempts - 1, 16))
    return min(delay, RETRY_MOST)


def failure_code(exc: BaseException) -> str:
    """A short code for a failed e-mail, kept on the notice: the SMTP reply code (never the
    reply text, which may echo the address), the kind of network error, or render_failed."""
    if not isinstance(exc, MailError):
        return "render_failed"
    cause = exc.__cause__
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _text in cause.recipients.values()})
        return "smtp_" + "_".join(str(c) for c in codes)
    if isinstance(cause, smtplib.SMTPResponseException):
        return f"smtp_{cause.smtp_code}"
    return (type(cause).__name__ if cause is not None else "mail_failed")[:64]


@dataclass
class Delivery:
    """One delivery pass: e-mails sent, notices whose e-mail failed in this pass, and every
    notice still waiting for a retry after a failure (this pass's included)."""

    sent: int = 0
    failed: int = 0
    failing: int = 0


async def do_deliver_pending(ctx: Context, limit: int = 200) -> int:
    """E-mail every notice not e-mailed yet; returns how many were sent (see deliver_pending)."""
    return (await deliver_pending(ctx, limit)).sent


async def deliver_pending(ctx: Context, limit: int = 200) -> Delivery:
    """E-mail every notice not e-mailed yet, each on its own: a notice that cannot be rendered
    or sent is recorded (attempts, time, code), logged, retried after ``retry_after`` and
    never stops the others. Notices never tried go first."""
    mailer: Mailer = Mailer.from_settings(ctx.settings)
    now = ctx.clock.now()
    query = (
        select(Notice)
        .where(Notice.emailed_at.is_(None))
        .order_by(Notice.email_attempts, Notice.id)
        .limit(limit)
    )
    async with ctx.db.session() as s:
        pending = [
            n
            for n in (await s.execute(query)).scalars()
            if n.email_failed_at is None or now >= n.email_failed_at + retry_after(n.email_attempts)
        ]
    recipients = ctx.services.get(RECIPIENTS).value
    assert recipients is not None, "notifications.send_to was not called"
    result = Delivery()
    for notice in pending:
        try:
            sent = await _deliver_one(ctx, mailer, notice, recipients)
        except Exception as exc:  # one notice never stops the others
            await _record_failure(ctx, notice, exc)
            result.failed += 1
            continue
        result.sent += sent
        async with ctx.db.session() as s:
            await s.execute(
                update(Notice)
                .where(Notice.id == notice.id)
                .values(emailed_at=ctx.clock.now(), email_error=None)
            )
            delivered = DELIVERED.get(notice.kind)
            if sent and delivered is not None:
                await delivered(s, notice, ctx.clock.now())
    result.failing = await count_failing(ctx)
    if result.failed or result.failing:
        log.warning("notice_mail_backlog", failed=result.failed, failing=result.failing)
    return result


async def _deliver_one(ctx: Context, mailer: Mailer, notice: Notice, recipients: Recipients) -> int:
    """E-mail one notice; 1 when sent, 0 when it has nowhere to go (no address, mail off)."""
    to = await recipients(ctx, notice.account_id)
    if not to.addresses or not ctx.settings.smtp_host:
        return 0
    subject, body = notice_text(notice, to.locale)
    attacher = ATTACHERS.get(notice.kind)
    files = await attacher(ctx, notice, to.locale) if attacher else []
    message = build_message(to=to.addresses, subject=subject, text=body, attachments=files)
    return 1 if await mailer.send(message) else 0


async def _record_failure(ctx: Context, notice: Notice, exc: Exception) -> None:
    code = failure_code(exc)
    attempts = notice.email_attempts + 1
    fields = {"notice_id": notice.id, "kind": notice.kind, "attempts": attempts, "error": code}
    if isinstance(exc, MailError):
        log.warning("notice_mail_failed", **fields)
    else:  # a fault of ours (the document could not be made): with the traceback
        log.exception("notice_mail_failed", **fields)
    async with ctx.db.session() as s:
        await s.execute(
            update(Notice)
            .where(Notice.id == notice.id)
            .values(
                email_attempts=Notice.email_attempts + 1,
                email_failed_at=ctx.clock.now(),
                email_error=code,
            )
        )


async def count_failing(ctx: Context) -> int:
    """Notices whose e-mail failed and is not sent yet (staff see this after each run)."""
    query = (
        select(func.count())
        .select_from(Notice)
        .where(Notice.emailed_at.is_(None), Notice.email_attempts > 0)
    )
    async with ctx.db.session() as s:
        return int((await s.execute(query)).scalar_one())

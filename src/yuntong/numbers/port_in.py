"""Port-in (携号转网 into Yuntong): a customer brings a number it holds at another carrier
(CP 1.1, 2.4), as the MIIT rules describe.

::

    submitted ─check→ checking ─approve (porting date)→ approved ─complete→ completed
        └──────────────┴──────────── reject (reason) ─────────┴──→ rejected

A request names the number, the losing carrier and carries the customer's authorisation
document. Yuntong checks what it knows itself (a mobile number of the local network it serves,
not already in its inventory, no other open request), then asks the losing carrier
(:mod:`yuntong.numbers.carrier`), whose signed answer arrives by callback: the number must be
registered to the same real-name identity, in service at least
``numbers_porting_min_service_days`` days, with no arrears. A failed check rejects the request
with that check's code; passed checks let staff approve with a porting date, and complete it
on or after that date: the number enters the inventory assigned to the requester, rented as
any assigned number, flagged ``ported`` (its attribution stays, its carrier becomes the
operator's). Every change is one conditional ``UPDATE`` with its ``port_request_events`` row.
"""

from __future__ import annotations

import contextlib
import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import directory, roles
from yuntong.accounts.identity import decrypt_identity
from yuntong.accounts.models import Role, User
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog.catalog import local_day
from yuntong.config import Settings
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.assignment import (
    after_rent,
    holder_values,
    rent_detail,
    rent_order_txn,
    tenancy_of,
)
from yuntong.numbers.carrier import (
    CarrierAnswer,
    Holder,
    LosingCarrier,
    SandboxLosingCarrier,
    check_signed,
)
from yuntong.numbers.inventory import (
    CheckedNumber,
    attribution_of,
    check_number,
    original_carrier,
)
from yuntong.numbers.machine import event_row
from yuntong.numbers.models import (
    NumberBlock,
    NumberKind,
    NumberState,
    PhoneNumber,
    PortRequest,
    PortRequestEvent,
    PortState,
)
from yuntong.numbers.patterns import pattern_class
from yuntong.numbers.port_documents import (
    PortDocument,
    check_document,
    delete_document,
    read_document,
    store_document,
)
from yuntong.numbers.selection import customer_of

P = PortState


class PortAction(enum.StrEnum):
    CHECK = "check"  # the losing carrier is asked
    APPROVE = "approve"
    COMPLETE = "complete"
    REJECT = "reject"


TRANSITIONS: Final[dict[tuple[PortState, PortAction], PortState]] = {
    (P.SUBMITTED, PortAction.CHECK): P.CHECKING,
    (P.CHECKING, PortAction.APPROVE): P.APPROVED,
    (P.APPROVED, PortAction.COMPLETE): P.COMPLETED,
    (P.SUBMITTED, PortAction.REJECT): P.REJECTED,
    (P.CHECKING, PortAction.REJECT): P.REJECTED,
    (P.APPROVED, PortAction.REJECT): P.REJECTED,
}
OPEN: Final = frozenset({P.SUBMITTED, P.CHECKING, P.APPROVED})


def check_port_transition(state: str, action: PortAction) -> PortState:
    """The state ``action`` leads to from ``state``; ``port_transition_refused`` if none."""
    target = TRANSITIONS.get((PortState(state), action))
    if target is None:
        raise YuntongError("port_transition_refused", state=state, action=action.value)
    return target


# -- the checks ------------------------------------------------------------------------------


def check_port_number(text: str, settings: Settings) -> CheckedNumber:
    """A valid Chinese mobile number (only mobile numbers port between carriers)."""
    checked = check_number(text, settings.model_copy(update={"numbers_kinds": ["mobile"]}))
    if isinstance(checked, str) or checked.kind != NumberKind.MOBILE:
        raise YuntongError("port_in_not_mobile")
    return checked


def check_same_network(province: str | None, settings: Settings) -> None:
    """The number belongs to the local network the operator serves (its province)."""
    served = settings.numbers_porting_province
    if served is None:
        raise YuntongError("port_in_unavailable")
    if province is None or not province.startswith(served.rstrip("省市")):
        raise YuntongError("port_in_other_network", province=served)


def check_known(answer: CarrierAnswer) -> None:
    if not answer.known:
        raise YuntongError("port_in_number_unknown")


def check_same_holder(answer: CarrierAnswer) -> None:
    """Registered to the same real-name person or organisation at the losing carrier."""
    if not answer.same_holder:
        raise YuntongError("port_in_holder_mismatch")


def check_in_service(answer: CarrierAnswer, today: date, min_days: int) -> None:
    """In service for at least ``min_days`` days (120 by the MIIT rules)."""
    since = answer.in_service_since
    if since is None or (today - since).days < min_days:
        raise YuntongError("port_in_too_new", days=min_days)


def check_arrears_settled(answer: CarrierAnswer) -> None:
    if answer.arrears_fen > 0:
        raise YuntongError("port_in_arrears")


def check_answer(answer: CarrierAnswer, today: date, min_days: int) -> None:
    """Every check on the losing carrier's answer, in order; the first failing one raises."""
    check_known(answer)
    check_same_holder(answer)
    check_in_service(answer, today, min_days)
    check_arrears_settled(answer)


# -- views and access ------------------------------------------------------------------------


@dataclass(frozen=True)
class PortRequestView:
    id: int
    ref: str
    e164: str
    losing_carrier: str
    state: str
    customer_id: int
    organisation_id: int | None
    filed_by: int | None
    document_name: str
    document_type: str
    checks_passed: bool
    porting_date: date | None
    reason: str | None
    reason_text: str | None
    created_at: datetime
    updated_at: datetime
    customer_username: str | None = None  # in staff's queue


def view_of(row: PortRequest, customer_username: str | None = None) -> PortRequestView:
    names = [k for k in PortRequestView.__dataclass_fields__ if k != "customer_username"]
    return PortRequestView(
        **{k: getattr(row, k) for k in names}, customer_username=customer_username
    )


def reason_message(view: PortRequestView, locale: str, settings: Settings) -> str | None:
    """Why a request was rejected, in ``locale``: staff's words, or the failed check's message."""
    if view.reason is None or view.reason == "staff":
        return view.reason_text
    days = settings.numbers_porting_min_service_days
    return YuntongError(view.reason, days=days).message(locale)


def _sees(actor: Actor, row: PortRequest) -> bool:
    if roles.is_staff(actor) or row.customer_id == actor.user_id:
        return True
    return (
        row.organisation_id is not None
        and actor.role == Role.ORG_ADMIN
        and actor.organisation_id == row.organisation_id
    )


async def _request(ctx: Context, actor: Actor, request_id: int) -> PortRequest:
    """The request ``actor`` may see; another customer's is not found (cannot be probed)."""
    async with ctx.db.session() as s:
        row = await s.get(PortRequest, request_id)
    if row is None or not _sees(actor, row):
        raise YuntongError("port_request_not_found")
    return row


async def get_request(ctx: Context, actor: Actor, request_id: int) -> PortRequestView:
    return view_of(await _request(ctx, actor, request_id))


async def list_requests(
    ctx: Context, actor: Actor, states: Sequence[str] | None = None, limit: int = 200
) -> list[PortRequestView]:
    """Staff: every request (the queue); a customer: its own (its organisation's, for an
    administrator). Oldest open first for staff, newest first for customers."""
    query = select(PortRequest)
    if states:
        query = query.where(PortRequest.state.in_(list(states)))
    if roles.is_staff(actor):
        query = query.order_by(PortRequest.id)
    else:
        mine = [PortRequest.customer_id == actor.user_id]
        if actor.role == Role.ORG_ADMIN and actor.organisation_id is not None:
            mine.append(PortRequest.organisation_id == actor.organisation_id)
        query = query.where(or_(*mine)).order_by(PortRequest.id.desc())
    async with ctx.db.session() as s:
        rows = list((await s.execute(query.limit(limit))).scalars())
    if not roles.is_staff(actor):
        return [view_of(r) for r in rows]
    users = await directory.get_users(ctx, {r.customer_id for r in rows})
    names = {user_id: user.username for user_id, user in users.items()}
    return [view_of(r, names.get(r.customer_id)) for r in rows]


async def events_of(ctx: Context, actor: Actor, request_id: int) -> list[PortRequestEvent]:
    """A request's trail, oldest first (for whoever may see the request)."""
    await _request(ctx, actor, request_id)
    async with ctx.db.session() as s:
        query = select(PortRequestEvent).where(PortRequestEvent.request_id == request_id)
        return list((await s.execute(query.order_by(PortRequestEvent.id))).scalars())


async def document_of(ctx: Context, actor: Actor, request_id: int) -> tuple[PortRequest, bytes]:
    """Staff: a request's authorisation document, decrypted."""
    roles.check_staff(actor)
    row = await _request(ctx, actor, request_id)
    return row, await read_document(ctx, row.ref)


# -- moves -----------------------------------------------------------------------------------


async def _move_txn(
    s: AsyncSession,
    row: PortRequest,
    action: PortAction,
    actor_id: int | None,
    now: datetime,
    values: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Move ``row`` (as read) by ``action`` if it is still in that state, with its event;
    ``port_transition_refused`` when someone moved it first."""
    target = check_port_transition(row.state, action)
    changes: dict[str, Any] = {"state": target.value, "updated_at": now, **(values or {})}
    if target not in OPEN:
        changes["open_e164"] = None
    result = await s.execute(
        update(PortRequest)
        .where(PortRequest.id == row.id, PortRequest.state == row.state)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise YuntongError("port_transition_refused", state=row.state, action=action.value)
    s.add(
        PortRequestEvent(
            request_id=row.id,
            at=now,
            actor_id=actor_id,
            action=action.value,
            from_state=row.state,
            to_state=target.value,
            detail=detail or {},
        )
    )


def losing_carrier(ctx: Context) -> LosingCarrier:
    """The losing carrier's interface; the sandbox until a real carrier is connected. Its answer
    comes back through :func:`do_carrier_answer`, as a real carrier's callback would."""

    async def deliver(raw: bytes, signature: str) -> PortRequestView:
        return await do_carrier_answer(ctx, signature, raw)

    return SandboxLosingCarrier(ctx.settings, ctx.clock.now, deliver)


async def _holder_of(ctx: Context, customer: User) -> Holder:
    """The real-name identity the number must be registered to at the losing carrier."""
    org = None
    if customer.organisation_id is not None:
        org = await directory.get_organisation(ctx, customer.organisation_id)
    identity = decrypt_identity(ctx, customer, org)
    if identity.organisation is not None:
        return Holder("uscc", identity.organisation.uscc)
    if not identity.id_number:
        raise YuntongError("port_in_identity_missing")
    return Holder(identity.id_type or "resident_id", identity.id_number)


@dataclass(frozen=True)
class PortInForm:
    number: str
    losing_carrier: str
    document_name: str
    document: bytes
    for_user_id: int | None = None


async def do_submit(ctx: Context, actor: Actor, form: PortInForm) -> PortRequestView:
    """File a port-in request (the customer, or staff on its behalf), then ask the losing
    carrier; the request is ``checking`` until its answer arrives (the sandbox's at once)."""
    customer = await customer_of(ctx, actor, form.for_user_id)
    carrier = form.losing_carrier.strip()
    if not carrier or len(carrier) > 60:
        raise YuntongError("validation_failed", fields={"losing_carrier": "required"})
    checked = check_port_number(form.number, ctx.settings)
    check_same_network(attribution_of(checked.e164).province, ctx.settings)
    document = check_document(
        form.document_name, form.document, ctx.settings.numbers_porting_document_max_bytes
    )
    holder = await _holder_of(ctx, customer)
    await _check_not_ours(ctx, checked.e164)
    await _check_no_open_request(ctx, checked.e164)
    ref = "PI" + secrets.token_hex(8).upper()
    await store_document(ctx, ref, form.document)
    now = ctx.clock.now()
    try:
        row = await _filed(ctx, actor, customer, ref, checked.e164, carrier, document, now)
    except IntegrityError:  # another request for the number was filed at the same moment
        await delete_document(ctx, ref)
        raise YuntongError("port_in_open_request") from None
    async with ctx.db.session() as s:
        await _move_txn(s, row, PortAction.CHECK, actor.user_id, now)
    await losing_carrier(ctx).ask_checks(ref, checked.national, holder)
    return await get_request(ctx, actor, row.id)


async def _check_no_open_request(ctx: Context, e164: str) -> None:
    async with ctx.db.session() as s:
        found = await s.execute(select(PortRequest.id).where(PortRequest.open_e164 == e164))
        if found.first() is not None:
            raise YuntongError("port_in_open_request")


async def _filed(
    ctx: Context,
    actor: Actor,
    customer: User,
    ref: str,
    e164: str,
    carrier: str,
    document: PortDocument,
    now: datetime,
) -> PortRequest:
    """The new request's row and its first event (one transaction)."""
    async with ctx.db.session() as s:
        row = PortRequest(
            ref=ref,
            e164=e164,
            open_e164=e164,
            losing_carrier=carrier,
            state=P.SUBMITTED.value,
            customer_id=customer.id,
            organisation_id=customer.organisation_id,
            filed_by=actor.user_id,
            document_name=document.name,
            document_type=document.media_type,
            document_bytes=document.size,
            document_sha256=document.sha256,
            checks_passed=False,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        await s.flush()
        s.add(
            PortRequestEvent(
                request_id=row.id,
                at=now,
                actor_id=actor.user_id,
                action="submit",
                from_state=None,
                to_state=P.SUBMITTED.value,
                detail={"document_sha256": document.sha256, "losing_carrier": carrier},
            )
        )
    return row


async def _check_not_ours(ctx: Context, e164: str) -> None:
    async with ctx.db.session() as s:
        held = await s.execute(select(PhoneNumber.id).where(PhoneNumber.e164 == e164))
        if held.first() is not None:
            raise YuntongError("port_in_number_ours")


async def do_carrier_answer(ctx: Context, signature: str | None, raw: bytes) -> PortRequestView:
    """The losing carrier's signed answer: run the checks on it; a failed one rejects the
    request with its code. Delivered again (the same answer or a later one), it changes
    nothing: the first answer a request got stands."""
    now = ctx.clock.now()
    answer = CarrierAnswer.of(check_signed(ctx.settings, signature, raw, now))
    async with ctx.db.session() as s:
        query = select(PortRequest).where(PortRequest.ref == answer.ref)
        row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise YuntongError("port_request_not_found")
    if row.carrier_answer_id is not None or row.state != P.CHECKING:
        return view_of(row)  # a retry, or an answer to a request already decided
    failed: YuntongError | None = None
    try:
        check_answer(answer, local_day(ctx, now), ctx.settings.numbers_porting_min_service_days)
    except YuntongError as exc:
        failed = exc
    recorded = {"carrier_answer_id": answer.answer_id, "carrier_answer": answer.as_body()}
    async with ctx.db.session() as s:
        if failed is None:
            result = await s.execute(
                update(PortRequest)
                .where(PortRequest.id == row.id, PortRequest.carrier_answer_id.is_(None))
                .values(checks_passed=True, updated_at=now, **recorded)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                s.add(
                    PortRequestEvent(
                        request_id=row.id,
                        at=now,
                        actor_id=None,
                        action="checks_passed",
                        from_state=row.state,
                        to_state=row.state,
                        detail={"answer_id": answer.answer_id},
                    )
                )
        else:
            values = {**recorded, "reason": failed.code, "reason_text": None}
            with contextlib.suppress(YuntongError):  # decided meanwhile: the first one stands
                await _move_txn(
                    s,
                    row,
                    PortAction.REJECT,
                    None,
                    now,
                    values=values,
                    detail={"reason": failed.code, "answer_id": answer.answer_id},
                )
    async with ctx.db.session() as s:
        fresh = await s.get(PortRequest, row.id)
        assert fresh is not None
        return view_of(fresh)


async def do_approve(
    ctx: Context, actor: Actor, request_id: int, porting_date: date
) -> PortRequestView:
    """Staff approve a request whose checks passed, with the porting date (today or later)."""
    roles.check_staff(actor)
    row = await _request(ctx, actor, request_id)
    check_port_transition(row.state, PortAction.APPROVE)
    if not row.checks_passed:
        raise YuntongError("port_request_checks_pending")
    now = ctx.clock.now()
    if porting_date < local_day(ctx, now):
        raise YuntongError("validation_failed", fields={"porting_date": "past"})
    async with ctx.db.session() as s:
        await _move_txn(
            s,
            row,
            PortAction.APPROVE,
            actor.user_id,
            now,
            values={"porting_date": porting_date},
            detail={"porting_date": porting_date.isoformat()},
        )
    return await get_request(ctx, actor, request_id)


async def do_reject(ctx: Context, actor: Actor, request_id: int, reason: str) -> PortRequestView:
    """Staff reject an open request, saying why."""
    roles.check_staff(actor)
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise YuntongError("validation_failed", fields={"reason": "required"})
    row = await _request(ctx, actor, request_id)
    async with ctx.db.session() as s:
        await _move_txn(
            s,
            row,
            PortAction.REJECT,
            actor.user_id,
            ctx.clock.now(),
            values={"reason": "staff", "reason_text": reason},
            detail={"reason": reason},
        )
    return await get_request(ctx, actor, request_id)


async def do_complete(ctx: Context, actor: Actor, request_id: int) -> PortRequestView:
    """Staff complete an approved request on or after its porting date: the number enters the
    inventory, assigned to the requester and rented as any assigned number."""
    roles.check_staff(actor)
    row = await _request(ctx, actor, request_id)
    check_port_transition(row.state, PortAction.COMPLETE)
    now = ctx.clock.now()
    if row.porting_date is None or local_day(ctx, now) < row.porting_date:
        raise YuntongError("port_request_too_early", date=str(row.porting_date))
    await _check_not_ours(ctx, row.e164)
    customer = await directory.get_user(ctx, row.customer_id)
    checked = check_port_number(row.e164, ctx.settings)
    tenancy = await tenancy_of(ctx, customer, pattern_class(checked.national))
    place = attribution_of(row.e164)
    async with ctx.db.session() as s:
        block = NumberBlock(
            carrier=row.losing_carrier,
            source_ref=f"携号转网 {row.ref}",
            note="port-in",
            province=None,
            city=None,
            imported=1,
            created_by=actor.user_id,
            created_at=now,
        )
        s.add(block)
        await s.flush()
        rent = await rent_order_txn(ctx, s, actor, tenancy, row.e164)
        number = PhoneNumber(
            e164=row.e164,
            national=checked.national,
            national_reversed=checked.national[::-1],
            kind=checked.kind.value,
            block_id=block.id,
            province=place.province,
            city=place.city,
            province_en=place.province_en,
            city_en=place.city_en,
            carrier=original_carrier(row.e164, row.losing_carrier),
            current_carrier=ctx.settings.numbers_porting_carrier_name,
            ported=True,
            pattern=pattern_class(checked.national),
            state=NumberState.ASSIGNED.value,
            state_changed_at=now,
            created_at=now,
            **holder_values(tenancy, rent, now),
        )
        s.add(number)
        await s.flush()
        detail = {**rent_detail(tenancy, rent), "port_request": row.ref, "from": row.losing_carrier}
        s.add(
            event_row(number.id, "port_in", None, NumberState.ASSIGNED, actor.user_id, now, detail)
        )
        await _move_txn(
            s,
            row,
            PortAction.COMPLETE,
            actor.user_id,
            now,
            values={"number_id": number.id},
            detail={"number_id": number.id, "order_id": rent.order.id},
        )
    await after_rent(ctx, tenancy, rent)
    return await get_request(ctx, actor, request_id)

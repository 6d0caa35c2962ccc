"""Porting (携号转网): a customer brings its number from another carrier — each check refusing,
the request's states, completion renting the number and making it ring the requester — and
takes one away with an authorisation code (valid, expired, wrong, throttled)."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.accounts.conftest import (
    active_user,
    bearer,
    error_code,
    individual,
    organisation,
    register_org,
    run_cli,
    web_login,
)
from tests.integration.numbers.conftest import STANDARD_FEN, fresh_range, import_range
from yuntong.accounts import status
from yuntong.accounts.auth import Principal, principal_for
from yuntong.billing.catalog.catalog import local_day
from yuntong.billing.models import LedgerEntry, Subscription
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers import assignment, port_in, port_out, selection
from yuntong.numbers.carrier import CarrierAnswer, Holder, signed
from yuntong.numbers.directory import user_for_number
from yuntong.numbers.models import (
    NumberEvent,
    NumberState,
    PhoneNumber,
    PortOutCode,
    PortRequestEvent,
)
from yuntong.numbers.patterns import pattern_class
from yuntong.numbers.port_in import PortInForm

pytestmark = pytest.mark.usefixtures("tiers")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
# Beijing mobile numbers (150 1000 xxxx): no other test imports the 150 segment
_numbers = itertools.count(random.randrange(0, 9000))
_people = itertools.count(random.randrange(10_001, 14_000))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_close_day": 1, "numbers_porting_province": "北京市"}


def beijing_number() -> str:
    """A plain number (a pattern class such as ABBA is in no price tier of these tests)."""
    while True:
        national = f"1501000{next(_numbers) % 10_000:04d}"
        if pattern_class(national) in ("", "AAA"):
            return national


async def subscriber(ctx: Context, staff: Principal) -> tuple[Principal, str]:
    """An individual subscriber in good standing and its resident ID number."""
    n = next(_people)
    user = await active_user(ctx, staff, n, username=f"port{n}")
    return principal_for(user, "", "cli"), individual(n)["id_number"]


def on_register(
    ctx: Context, national: str, holder_id: str, days: int = 200, arrears_fen: int = 0
) -> None:
    """The sandbox losing carrier has ``national`` in service for ``holder_id``."""
    since = local_day(ctx, ctx.clock.now()) - timedelta(days=days)
    ctx.settings.numbers_porting_sandbox[national] = {
        "holder_id": holder_id,
        "in_service_since": since.isoformat(),
        "arrears_fen": arrears_fen,
    }


async def file(ctx: Context, actor: Principal, national: str, **kw: Any) -> port_in.PortRequestView:
    form = PortInForm(
        national, kw.pop("carrier", "中国移动"), "授权书.pdf", kw.pop("doc", PDF), **kw
    )
    return await port_in.do_submit(ctx, actor, form)


async def _code(coro: object) -> str:
    with pytest.raises(YuntongError) as caught:
        await coro  # type: ignore[misc]
    return caught.value.code


def _advance(ctx: Context, **delta: float) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(**delta)


def _signed(signature: str) -> dict[str, str]:
    return {"X-Carrier-Signature": signature, "Content-Type": "application/json"}


class SilentCarrier:
    """A losing carrier that answers later (the test sends its signed callback)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, Holder]] = []

    async def ask_checks(self, ref: str, national: str, holder: Holder) -> None:
        self.asked.append((ref, national, holder))


async def test_a_completed_port_in_rents_the_number_and_it_rings_the_requester(
    ctx: Context, staff: Principal
) -> None:
    customer, id_number = await subscriber(ctx, staff)
    national = beijing_number()
    on_register(ctx, national, id_number)
    filed = await file(ctx, customer, national)
    assert filed.state == "checking" and filed.checks_passed
    today = local_day(ctx, ctx.clock.now())
    approved = await port_in.do_approve(ctx, staff, filed.id, today + timedelta(days=1))
    assert approved.state == "approved"
    assert await _code(port_in.do_complete(ctx, staff, filed.id)) == "port_request_too_early"
    _advance(ctx, days=1)
    done = await port_in.do_complete(ctx, staff, filed.id)
    assert done.state == "completed"

    e164 = f"+86{national}"
    assert await user_for_number(ctx, staff.user_id, e164) == customer.user_id
    [mine] = await assignment.my_numbers(ctx, customer)
    assert mine.e164 == e164 and mine.state == NumberState.ASSIGNED
    assert mine.monthly_rent_fen == STANDARD_FEN and mine.carrier == "云通"
    async with ctx.db.session() as s:
        row = (await s.execute(select(PhoneNumber).where(PhoneNumber.e164 == e164))).scalar_one()
        rents = (await s.execute(select(LedgerEntry).where(LedgerEntry.kind == "rent"))).scalars()
        ours = [e for e in rents if e.account_id == row.account_id]
        events = (
            await s.execute(select(NumberEvent.action).where(NumberEvent.number_id == row.id))
        ).all()
    assert row.ported and row.carrier == "中国移动" and row.province == "北京市"
    assert len(ours) == 1 and 0 < ours[0].amount_fen <= STANDARD_FEN
    assert [a for (a,) in events] == ["port_in"]
    trail = await port_in.events_of(ctx, customer, filed.id)
    assert [(e.action, e.to_state) for e in trail] == [
        ("submit", "submitted"),
        ("check", "checking"),
        ("checks_passed", "checking"),
        ("approve", "approved"),
        ("complete", "completed"),
    ]
    # the document: readable by staff, encrypted on disk
    row_, data = await port_in.document_of(ctx, staff, filed.id)
    assert data == PDF and row_.document_type == "application/pdf"
    sealed = (ctx.settings.var_dir / "porting" / f"{filed.ref}.sealed").read_bytes()
    assert b"%PDF" not in sealed
    assert await _code(port_in.document_of(ctx, customer, filed.id)) == "forbidden"


@pytest.mark.parametrize(
    ("register", "code"),
    [
        (None, "port_in_number_unknown"),
        ({"holder_id": "11010519800101999X"}, "port_in_holder_mismatch"),
        ({"days": 119}, "port_in_too_new"),
        ({"arrears_fen": 1}, "port_in_arrears"),
    ],
)
async def test_each_carrier_check_rejects_the_request_with_its_reason(
    ctx: Context, staff: Principal, register: dict[str, Any] | None, code: str
) -> None:
    customer, id_number = await subscriber(ctx, staff)
    national = beijing_number()
    if register is not None:
        on_register(ctx, national, **{"holder_id": id_number, **register})
    filed = await file(ctx, customer, national)
    assert (filed.state, filed.reason) == ("rejected", code)
    message = port_in.reason_message(filed, "en", ctx.settings)
    assert message == YuntongError(code, days=120).message("en")
    assert await _code(port_in.do_approve(ctx, staff, filed.id, local_day(ctx, ctx.clock.now())))
    async with ctx.db.session() as s:
        held = await s.execute(select(PhoneNumber).where(PhoneNumber.e164 == f"+86{national}"))
        assert held.first() is None
    on_register(ctx, national, id_number)  # put right at the carrier: asked again, it passes
    again = await file(ctx, customer, national)
    assert again.state == "checking" and again.checks_passed


async def test_what_yuntong_knows_itself_refuses_before_the_carrier_is_asked(
    ctx: Context, staff: Principal
) -> None:
    customer, id_number = await subscriber(ctx, staff)
    assert await _code(file(ctx, customer, "13800200000")) == "port_in_other_network"
    assert await _code(file(ctx, customer, "01065529988")) == "port_in_not_mobile"
    national = beijing_number()
    bad = {"doc": b"MZ\x90\x00 an executable"}
    assert await _code(file(ctx, customer, national, **bad)) == "port_document_invalid"
    big = {"doc": PDF + b"0" * ctx.settings.numbers_porting_document_max_bytes}
    assert await _code(file(ctx, customer, national, **big)) == "port_document_invalid"
    on_register(ctx, national, id_number)
    await file(ctx, customer, national)
    assert await _code(file(ctx, customer, national)) == "port_in_open_request"
    ours = beijing_number()
    await import_range(ctx, staff, ours, ours)
    assert await _code(file(ctx, customer, ours)) == "port_in_number_ours"
    assert await _code(file(ctx, staff, national)) == "validation_failed"  # staff: for whom?


async def test_only_the_table_moves_a_request(ctx: Context, staff: Principal) -> None:
    customer, id_number = await subscriber(ctx, staff)
    national = beijing_number()
    on_register(ctx, national, id_number)
    filed = await file(ctx, customer, national)
    today = local_day(ctx, ctx.clock.now())
    assert await _code(port_in.do_complete(ctx, staff, filed.id)) == "port_transition_refused"
    past = today - timedelta(days=1)
    assert await _code(port_in.do_approve(ctx, staff, filed.id, past)) == "validation_failed"
    assert await _code(port_in.do_approve(ctx, customer, filed.id, today)) == "forbidden"
    await port_in.do_approve(ctx, staff, filed.id, today)
    assert await _code(port_in.do_approve(ctx, staff, filed.id, today)) == (
        "port_transition_refused"
    )
    rejected = await port_in.do_reject(ctx, staff, filed.id, "客户撤回")
    assert (rejected.state, rejected.reason_text) == ("rejected", "客户撤回")
    for attempt in (
        port_in.do_complete(ctx, staff, filed.id),
        port_in.do_reject(ctx, staff, filed.id, "again"),
    ):
        assert await _code(attempt) == "port_transition_refused"
    async with ctx.db.session() as s:
        query = select(PortRequestEvent.action).where(PortRequestEvent.request_id == filed.id)
        actions = [a for (a,) in (await s.execute(query.order_by(PortRequestEvent.id))).all()]
    assert actions == ["submit", "check", "checks_passed", "approve", "reject"]


async def test_the_carriers_callback_is_signed_and_taken_once(
    ctx: Context, staff: Principal, app_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    carrier = SilentCarrier()
    monkeypatch.setattr(port_in, "losing_carrier", lambda _ctx: carrier)
    customer, id_number = await subscriber(ctx, staff)
    national = beijing_number()
    as_customer = await bearer(app_client, customer.username)
    as_staff = await bearer(app_client, staff.username)
    resp = await app_client.post(
        "/api/v1/numbers/port-ins",
        data={"number": national, "losing_carrier": "中国移动"},
        files={"document": ("授权书.pdf", PDF, "application/pdf")},
        headers=as_customer,
    )
    assert resp.status_code == 201, resp.text
    filed = resp.json()
    assert filed["state"] == "checking" and not filed["checks_passed"]
    [(ref, asked_number, holder)] = carrier.asked
    assert asked_number == national and holder.id_number == id_number
    approve = f"/api/v1/admin/numbers/port-ins/{filed['id']}/approve"
    today = local_day(ctx, ctx.clock.now()).isoformat()
    pending = await app_client.post(approve, json={"porting_date": today}, headers=as_staff)
    assert pending.status_code == 409 and error_code(pending) == "port_request_checks_pending"

    since = local_day(ctx, ctx.clock.now()) - timedelta(days=365)
    answer = CarrierAnswer("ans-1", ref, True, True, since, 0).as_body()
    raw, signature = signed(ctx.settings, answer, ctx.clock.now())
    url = "/api/v1/porting/carrier/answers"
    forged = await app_client.post(
        url, content=raw.replace(b"true", b"false"), headers=_signed(signature)
    )
    assert forged.status_code == 401 and error_code(forged) == "bad_signature"
    for _ in range(2):  # delivered twice: taken once
        taken = await app_client.post(url, content=raw, headers=_signed(signature))
        assert taken.status_code == 200 and taken.json() == {"ref": ref, "state": "checking"}
    late = CarrierAnswer("ans-2", ref, True, False, since, 500).as_body()
    raw2, signature2 = signed(ctx.settings, late, ctx.clock.now())
    after = await app_client.post(url, content=raw2, headers=_signed(signature2))
    assert after.json()["state"] == "checking"  # the first answer stands
    events = await app_client.get(
        f"/api/v1/numbers/port-ins/{filed['id']}/events", headers=as_customer
    )
    assert [e["action"] for e in events.json()].count("checks_passed") == 1
    ok = await app_client.post(approve, json={"porting_date": today}, headers=as_staff)
    assert ok.status_code == 200 and ok.json()["porting_date"] == today


async def test_customers_see_only_their_own_requests(
    ctx: Context, staff: Principal, app_client: Any
) -> None:
    customer, id_number = await subscriber(ctx, staff)
    other, _ = await subscriber(ctx, staff)
    national = beijing_number()
    on_register(ctx, national, id_number)
    filed = await file(ctx, staff, national, for_user_id=customer.user_id)  # at the counter
    assert filed.filed_by == staff.user_id and filed.customer_id == customer.user_id
    as_customer = await bearer(app_client, customer.username)
    as_other = await bearer(app_client, other.username)
    path = f"/api/v1/numbers/port-ins/{filed.id}"
    assert (await app_client.get(path, headers=as_customer)).status_code == 200
    hidden = await app_client.get(path, headers=as_other)
    assert hidden.status_code == 404 and error_code(hidden) == "port_request_not_found"
    listed = await app_client.get("/api/v1/numbers/port-ins", headers=as_other)
    assert filed.id not in [r["id"] for r in listed.json()]
    queue = await app_client.get("/api/v1/admin/numbers/port-ins", headers=as_customer)
    assert queue.status_code == 403
    doc = await app_client.get(
        f"/api/v1/admin/numbers/port-ins/{filed.id}/document",
        headers=await bearer(app_client, staff.username),
    )
    assert doc.status_code == 200 and doc.content == PDF

    # an organisation's number: registered to its USCC, filed by its administrator
    n = random.randrange(20_000, 30_000)
    admin_user, org = await register_org(ctx, n)
    admin = principal_for(await status.do_approve(ctx, staff, admin_user.id), "", "cli")
    org_number = beijing_number()
    on_register(ctx, org_number, organisation(n)["uscc"])
    org_filed = await file(ctx, admin, org_number)
    assert org_filed.checks_passed and org_filed.organisation_id == org.id
    assert await _code(port_in.get_request(ctx, customer, org_filed.id)) == (
        "port_request_not_found"
    )


async def _assigned(ctx: Context, staff: Principal, customer: Principal) -> str:
    number = fresh_range(1)[0][:-1] + "1"
    await import_range(ctx, staff, number, number)
    await selection.do_reserve(ctx, customer, number)
    await assignment.do_assign(ctx, customer, number)
    return number


async def test_a_port_out_code_is_valid_once_expires_and_is_throttled(
    ctx: Context, staff: Principal, customer: Principal, other: Principal
) -> None:
    number = await _assigned(ctx, staff, customer)
    async with ctx.db.session() as s:
        query = select(PhoneNumber.subscription_id).where(PhoneNumber.e164 == f"+86{number}")
        rent_id = (await s.execute(query)).scalar_one()
    assert await _code(port_out.do_issue_code(ctx, other, number)) == "number_not_found"
    first = await port_out.do_issue_code(ctx, customer, number)
    assert len(first.code) == 8 and first.code.isdigit()
    _advance(ctx, hours=ctx.settings.numbers_port_out_code_hours, seconds=1)
    expired = port_out.sandbox_present(ctx, number, first.code)
    assert await _code(expired) == "port_out_code_invalid"
    second = await port_out.do_issue_code(ctx, customer, number)
    await port_out.do_issue_code(ctx, customer, number)
    last = await port_out.do_issue_code(ctx, customer, number)
    assert await _code(port_out.do_issue_code(ctx, customer, number)) == ("port_out_code_throttled")
    replaced = port_out.sandbox_present(ctx, number, second.code)  # a new code replaces it
    assert await _code(replaced) == "port_out_code_invalid"
    wrong = "0" * 8 if last.code != "0" * 8 else "1" * 8
    for _ in range(port_out.PRESENT_MAX_FAILURES - 2):
        assert await _code(port_out.sandbox_present(ctx, number, wrong)) == (
            "port_out_code_invalid"
        )
    locked = port_out.sandbox_present(ctx, number, last.code)
    assert await _code(locked) == "port_out_code_locked"  # even the right one

    _advance(ctx, seconds=port_out.PRESENT_LOCKOUT_S + 1)
    done = await port_out.sandbox_present(ctx, number, last.code, "中国联通", "pres-1")
    assert done.state == "ported_out" and done.gaining_carrier == "中国联通"
    again = await port_out.sandbox_present(ctx, number, last.code, "中国联通", "pres-1")
    assert again.state == "ported_out"  # presented again: answered the same
    assert await _code(user_for_number(ctx, other.user_id, f"+86{number}")) == (
        "number_unallocated"
    )
    async with ctx.db.session() as s:
        row = (
            await s.execute(select(PhoneNumber).where(PhoneNumber.e164 == f"+86{number}"))
        ).scalar_one()
        sub = await s.get(Subscription, rent_id)
        stored = (
            await s.execute(select(PortOutCode.code_hash).where(PortOutCode.number_id == row.id))
        ).all()
    assert row.state == "ported_out" and row.current_carrier == "中国联通"
    assert row.holder_user_id is None and row.ported
    assert sub is not None and sub.ends_at is not None  # the rent ends with the cycle
    assert all(last.code not in h for (h,) in stored)
    assert await _code(assignment.do_release(ctx, customer, number)) == "number_not_found"


async def test_porting_from_the_terminal(ctx: Context, staff: Principal, tmp_path: Any) -> None:
    customer, id_number = await subscriber(ctx, staff)
    national = beijing_number()
    on_register(ctx, national, id_number)
    doc = tmp_path / "auth.pdf"
    doc.write_bytes(PDF)
    env = {
        "YUNTONG_NUMBERS_PORTING_PROVINCE": "北京市",
        "YUNTONG_NUMBERS_PORTING_SANDBOX": json.dumps(ctx.settings.numbers_porting_sandbox),
        "YUNTONG_BILLING_CLOSE_DAY": "1",
    }
    filed = await run_cli(
        ctx,
        "numbers",
        "port-in",
        national,
        "--for",
        customer.username,
        "--losing-carrier",
        "中国移动",
        "--document",
        str(doc),
        env=env,
    )
    assert filed.exit_code == 0, filed.output
    assert "checking" in filed.output
    [request] = [r for r in await port_in.list_requests(ctx, staff) if r.e164 == f"+86{national}"]
    listed = await run_cli(ctx, "numbers", "port-requests", "--state", "checking", env=env)
    assert national in listed.output
    today = local_day(ctx, datetime.now(UTC)).isoformat()  # the CLI's clock is the real one
    approved = await run_cli(ctx, "numbers", "approve", str(request.id), "--date", today, env=env)
    assert approved.exit_code == 0 and "approved" in approved.output, approved.output
    completed = await run_cli(ctx, "numbers", "complete", str(request.id), env=env)
    assert completed.exit_code == 0 and "completed" in completed.output, completed.output
    assert await user_for_number(ctx, staff.user_id, f"+86{national}") == customer.user_id
    code = await run_cli(ctx, "numbers", "port-out-code", national, env=env)
    assert code.exit_code == 0 and "authorisation code" in code.output, code.output


async def test_the_pages_and_the_openapi_document_show_porting(
    app_client: Any, staff: Principal, customer: Principal
) -> None:
    await web_login(app_client, customer.username)
    page = await app_client.get("/numbers")
    assert 'id="port-in-form"' in page.text and "携号转入" in page.text
    english = await app_client.get("/numbers", headers={"Accept-Language": "en"})
    assert "Port a number in" in english.text
    await web_login(app_client, staff.username)
    desk = await app_client.get("/operator/numbers")
    assert 'id="port-queue"' in desk.text
    spec = (await app_client.get("/openapi.json")).json()
    for path in (
        "/api/v1/numbers/port-ins",
        "/api/v1/numbers/port-ins/{request_id}",
        "/api/v1/numbers/port-ins/{request_id}/events",
        "/api/v1/numbers/{number}/port-out-code",
        "/api/v1/admin/numbers/port-ins",
        "/api/v1/admin/numbers/port-ins/{request_id}/approve",
        "/api/v1/admin/numbers/port-ins/{request_id}/reject",
        "/api/v1/admin/numbers/port-ins/{request_id}/complete",
        "/api/v1/admin/numbers/port-ins/{request_id}/document",
        "/api/v1/porting/carrier/answers",
        "/api/v1/porting/carrier/port-out",
    ):
        assert path in spec["paths"], path
    answers = spec["paths"]["/api/v1/porting/carrier/answers"]["post"]
    assert "requestBody" in answers and "X-Carrier-Signature" in answers["description"]

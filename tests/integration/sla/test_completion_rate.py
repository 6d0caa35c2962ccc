"""The completion rate (CP 2.1): ASR (E.411) and NER (E.425) per business day, per customer and
per calling number, from the call records; the operator's alert when a day's NER is below the
contracted 98 %, raised once; a customer sees its own figures only (SQLite and PostgreSQL).

Figures worked by hand: 100 attempts, 90 answered, 4 busy, 3 no answer, 3 network failures →
ASR 90/100 = 90.00 %, NER (90 + 4 + 3)/100 = 97.00 % < 98 %: an alert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.conftest import unique
from tests.integration.accounts.conftest import register_org, run_cli
from tests.integration.billing.conftest import PASSWORD, beijing, move_to, person
from yuntong.accounts import status
from yuntong.accounts.auth import Principal, principal_for
from yuntong.accounts.models import AuditEvent, User
from yuntong.billing.collections.dunning import do_daily_run
from yuntong.billing.ledger.accounts import account_for_user
from yuntong.calls import causes
from yuntong.calls.causes import CAUSES
from yuntong.calls.models import CallOutcome, CallRecord
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.sla import completion
from yuntong.sla.completion import Kind, Tally, classify, percent
from yuntong.sla.models import CompletionAlert, CompletionCount


@dataclass(frozen=True)
class Ending:
    """An attempt's ending as the engine records it."""

    outcome: CallOutcome
    reason: str | None = None

    @property
    def answered(self) -> bool:
        return self.outcome in (CallOutcome.ANSWERED, CallOutcome.FAILED) or (
            self.outcome == CallOutcome.INTERRUPTED and self.reason == "after_answer"
        )


ANSWERED = Ending(CallOutcome.ANSWERED)
BUSY = Ending(CallOutcome.BUSY)
NO_ANSWER = Ending(CallOutcome.NO_ANSWER)
REJECTED = Ending(CallOutcome.REJECTED)
GAVE_UP = Ending(CallOutcome.CANCELED)
OFFLINE = Ending(CallOutcome.UNREACHABLE)
MEDIA_FAILED = Ending(CallOutcome.FAILED)  # answered, media never connected
CALLER_LOST = Ending(CallOutcome.CANCELED, "connection_lost")  # lost while it rang


async def calls(
    ctx: Context,
    caller: Principal,
    callee: Principal,
    at: datetime,
    ending: Ending,
    count: int = 1,
    number: str | None = None,
) -> None:
    """``count`` ended attempts written as the call engine writes them."""
    start = at.astimezone(UTC)
    answered_at = start + timedelta(seconds=5) if ending.answered else None
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4().hex,
            "caller_id": caller.user_id,
            "callee_id": callee.user_id,
            "media": "audio",
            "state": "ended",
            "outcome": ending.outcome.value,
            "end_reason": ending.reason,
            "created_at": start,
            "answered_at": answered_at,
            "ended_at": start + timedelta(seconds=30),
            "calling_number": number,
            "called_number": None if number is None else "+8613900000000",
            "cause": causes.cause_for(ending.outcome.value, ending.reason),
        }
        for _ in range(count)
    ]
    async with ctx.db.session() as s:
        s.add_all(CallRecord(**row) for row in rows)


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    return await person(ctx, "operator_admin")


@pytest.fixture
async def callee(ctx: Context) -> Principal:
    return await person(ctx)


async def the_worked_day(ctx: Context, caller: Principal, callee: Principal, day: date) -> None:
    """100 attempts at noon: 90 answered, 4 busy, 3 no answer, 3 network failures."""
    noon = beijing(day.year, day.month, day.day, 12)
    await calls(ctx, caller, callee, noon, ANSWERED, 90)
    await calls(ctx, caller, callee, noon, BUSY, 4)
    await calls(ctx, caller, callee, noon, NO_ANSWER, 3)
    await calls(ctx, caller, callee, noon, MEDIA_FAILED, 2)
    await calls(ctx, caller, callee, noon, CALLER_LOST, 1)


# -- what counts as what -----------------------------------------------------------------------


def test_every_cause_the_engine_gives_is_classified() -> None:
    effective = {causes.NORMAL_CLEARING, causes.USER_BUSY, causes.NO_ANSWER}
    effective |= {causes.SUBSCRIBER_ABSENT, causes.CALL_REJECTED}
    # the parties' own barring, anonymous call rejection and forwarding settings
    effective |= {causes.OUTGOING_CALL_BARRED, causes.INCOMING_CALL_BARRED}
    effective |= {causes.REJECTED_BY_FEATURE, causes.EXCHANGE_ROUTING_ERROR}
    for (outcome, _), cause in CAUSES.items():
        assert cause in completion.USER_CAUSES or cause in completion.NETWORK_CAUSES
        answered = outcome in (CallOutcome.ANSWERED, CallOutcome.FAILED)
        kind = classify(cause, answered)
        if cause == causes.TEMPORARY_FAILURE:
            assert kind == Kind.NETWORK, (outcome, cause)
        elif answered:
            assert kind == Kind.ANSWERED, (outcome, cause)
        else:
            assert kind == (Kind.USER if cause in effective else Kind.NETWORK), (outcome, cause)
    assert classify(99, False) == Kind.NETWORK  # an unknown cause never raises the NER


def test_ratios_to_a_hundredth_of_a_percent_and_none_without_attempts() -> None:
    assert percent(97, 100) == "97.00"
    assert percent(2, 3) == "66.67"
    assert percent(1, 3) == "33.33"
    assert percent(0, 0) is None
    tally = Tally()
    tally.add(causes.NORMAL_CLEARING, True, 19_599)
    tally.add(causes.TEMPORARY_FAILURE, False, 401)
    assert tally.ner == "98.00"  # 97.995 % rounds to 98.00 %, yet is below the contract
    assert tally.below(9800)
    assert not Tally().below(9800)


# -- the figures -------------------------------------------------------------------------------


async def test_the_worked_day_gives_asr_90_and_ner_97_with_each_failure_reason(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    caller = await person(ctx)
    day = date(2026, 3, 10)
    await the_worked_day(ctx, caller, callee, day)
    move_to(ctx, beijing(2026, 3, 11, 9))
    account = await account_for_user(ctx, caller.user_id)
    report = await completion.report_for(ctx, staff, account.id, None, day, day)
    (only_day, tally) = report.days[0]
    assert only_day == day and len(report.days) == 1
    assert (tally.attempts, tally.answered, tally.effective) == (100, 90, 97)
    assert (tally.asr, tally.ner) == ("90.00", "97.00")
    assert tally.user == {causes.USER_BUSY: 4, causes.NO_ANSWER: 3}
    assert tally.failures == {causes.TEMPORARY_FAILURE: 2, causes.NORMAL_UNSPECIFIED: 1}
    assert tally.below(ctx.settings.completion_ner_contracted_bp)


async def test_customers_and_numbers_each_have_their_own_figures(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    first, second = await person(ctx), await person(ctx)
    at = beijing(2026, 3, 12, 15)
    one, two = "+8613912340001", "+8613912340002"
    # the first customer: 10 answered from one number; from the other 1 answered, 1 rejected,
    # 1 gave up while it rang, 1 callee offline, 2 media failures; 3 calls by username, answered
    await calls(ctx, first, callee, at, ANSWERED, 10, number=one)
    for ending in (ANSWERED, REJECTED, GAVE_UP, OFFLINE, MEDIA_FAILED, MEDIA_FAILED):
        await calls(ctx, first, callee, at, ending, number=two)
    await calls(ctx, first, callee, at, ANSWERED, 3)
    # the second customer: 2 busy, 2 network failures
    await calls(ctx, second, callee, at, BUSY, 2)
    await calls(ctx, second, callee, at, CALLER_LOST, 2)
    move_to(ctx, beijing(2026, 3, 13, 9))
    day = date(2026, 3, 12)
    mine = await account_for_user(ctx, first.user_id)
    theirs = await account_for_user(ctx, second.user_id)

    report = await completion.report_for(ctx, staff, mine.id, None, day, day)
    # 19 attempts: 14 answered, 3 user outcomes, 2 failures: ASR 14/19, NER 17/19
    assert (report.total.attempts, report.total.answered, report.total.effective) == (19, 14, 17)
    assert (report.total.asr, report.total.ner) == ("73.68", "89.47")
    by_number = dict(report.numbers)
    assert set(by_number) == {one, two}  # calls by username have no number
    assert (by_number[one].asr, by_number[one].ner) == ("100.00", "100.00")
    assert (by_number[two].attempts, by_number[two].asr, by_number[two].ner) == (
        6,
        "16.67",
        "66.67",
    )
    assert report.numbers[0][0] == two  # worst NER first
    assert report.customers == []  # one customer asked for

    everyone = await completion.report_for(ctx, staff, None, None, day, day)
    by_customer = dict(everyone.customers)
    assert everyone.names[theirs.id] == f"{second.display_name} (@{second.username})"
    assert by_customer[mine.id].ner == "89.47"
    assert (by_customer[theirs.id].attempts, by_customer[theirs.id].ner) == (4, "50.00")

    number_only = await completion.report_for(ctx, staff, None, "139 1234 0002", day, day)
    assert number_only.scope.number == two
    assert number_only.total.attempts == 6


async def test_days_are_business_days_in_shanghai_and_an_empty_day_has_no_ratio(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    caller = await person(ctx)
    await calls(ctx, caller, callee, beijing(2026, 3, 20, 23, 59), ANSWERED)  # 15:59 UTC
    await calls(ctx, caller, callee, beijing(2026, 3, 21, 0, 0), MEDIA_FAILED)  # 16:00 UTC
    await calls(ctx, caller, callee, beijing(2026, 3, 21, 7, 59), ANSWERED)  # 23:59 UTC 20th
    move_to(ctx, beijing(2026, 3, 23, 9))
    account = await account_for_user(ctx, caller.user_id)
    report = await completion.report_for(
        ctx, staff, account.id, None, date(2026, 3, 20), date(2026, 3, 22)
    )
    figures = {day: (t.attempts, t.asr, t.ner) for day, t in report.days}
    assert figures == {
        date(2026, 3, 20): (1, "100.00", "100.00"),
        date(2026, 3, 21): (2, "50.00", "50.00"),
        date(2026, 3, 22): (0, None, None),
    }
    assert not report.days[2][1].below(9800)


async def test_the_range_is_checked(ctx: Context, staff: Principal) -> None:
    move_to(ctx, beijing(2026, 3, 23, 9))
    report = await completion.report_for(ctx, staff)
    assert (report.first, report.last) == (date(2026, 2, 22), date(2026, 3, 23))
    with pytest.raises(YuntongError) as reversed_range:
        await completion.report_for(ctx, staff, None, None, date(2026, 3, 2), date(2026, 3, 1))
    assert reversed_range.value.code == "validation_failed"
    with pytest.raises(YuntongError):
        await completion.report_for(ctx, staff, None, None, date(2025, 1, 1), date(2026, 3, 1))
    for first, last in ((None, date.min), (date.max, None), (date(1, 1, 1), date(1, 1, 2))):
        with pytest.raises(YuntongError) as out_of_range:
            await completion.report_for(ctx, staff, None, None, first, last)
        assert out_of_range.value.code == "validation_failed"


# -- who sees what -----------------------------------------------------------------------------


async def test_a_customer_sees_its_own_figures_and_never_another_customers(
    ctx: Context, callee: Principal
) -> None:
    mine, theirs = await person(ctx), await person(ctx)
    at = beijing(2026, 3, 14, 10)
    await calls(ctx, mine, callee, at, ANSWERED, 3, number="+8613912340011")
    await calls(ctx, theirs, callee, at, MEDIA_FAILED, 5, number="+8613912340012")
    move_to(ctx, beijing(2026, 3, 15, 9))
    day = date(2026, 3, 14)
    own = await completion.report_for(ctx, mine, None, None, day, day)
    assert (own.total.attempts, own.total.ner) == (3, "100.00")
    assert [n for n, _ in own.numbers] == ["+8613912340011"]
    assert own.customers == []
    # another customer's number shows none of their calls
    probe = await completion.report_for(ctx, mine, None, "+8613912340012", day, day)
    assert probe.total.attempts == 0
    other = await account_for_user(ctx, theirs.user_id)
    with pytest.raises(YuntongError) as refused:
        await completion.report_for(ctx, mine, other.id, None, day, day)
    assert refused.value.code == "billing_account_not_found"
    with pytest.raises(YuntongError) as alerts:
        await completion.list_alerts(ctx, mine)
    assert alerts.value.code == "forbidden"


async def test_an_organisation_is_one_customer_its_administrator_sees_and_a_member_does_not(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    n = int(uuid.uuid4().int % 9_000) + 100
    admin_user, org = await register_org(ctx, n, username=unique("orgadm"))
    admin = principal_for(await status.do_approve(ctx, staff, admin_user.id), "", "cli")
    member = await person(ctx)
    async with ctx.db.session() as s:
        await s.execute(
            update(User).where(User.id == member.user_id).values(organisation_id=org.id)
        )
    member = replace(member, organisation_id=org.id)
    at = beijing(2026, 3, 16, 10)
    await calls(ctx, admin, callee, at, ANSWERED, 2)
    await calls(ctx, member, callee, at, BUSY)
    await calls(ctx, member, callee, at, MEDIA_FAILED)
    move_to(ctx, beijing(2026, 3, 17, 9))
    day = date(2026, 3, 16)
    account = await account_for_user(ctx, admin.user_id)
    assert account.organisation_id == org.id
    own = await completion.report_for(ctx, admin, None, None, day, day)
    assert (own.total.attempts, own.total.asr, own.total.ner) == (4, "50.00", "75.00")
    everyone = await completion.report_for(ctx, staff, None, None, day, day)
    assert dict(everyone.customers)[account.id].attempts == 4  # the members' calls are its
    assert everyone.names[account.id] == org.legal_name
    with pytest.raises(YuntongError) as refused:
        await completion.report_for(ctx, member, None, None, day, day)
    assert refused.value.code == "billing_account_not_found"


def figures(report: completion.Report) -> list[Any]:
    """What a report shows, to compare two readings."""
    parts: list[Any] = [(d, t.attempts, t.asr, t.ner, t.user, t.failures) for d, t in report.days]
    for rows in (report.customers, report.numbers):
        parts += [(key, t.attempts, t.asr, t.ner, t.failures) for key, t in rows]
    return parts


async def count_rows(ctx: Context, day: date) -> int:
    async with ctx.db.session() as s:
        query = select(func.count()).select_from(CompletionCount).where(CompletionCount.day == day)
        return int((await s.execute(query)).scalar_one())


async def test_a_counted_day_reads_as_its_records_did_and_counting_again_changes_nothing(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    first, second = await person(ctx), await person(ctx)
    theirs = await account_for_user(ctx, second.user_id)
    await account_for_user(ctx, first.user_id)
    day, today = date(2026, 7, 8), date(2026, 7, 9)
    await the_worked_day(ctx, first, callee, day)
    await calls(ctx, second, callee, beijing(2026, 7, 8, 23, 59), BUSY, 2, number="+8613912340031")
    await calls(ctx, second, callee, beijing(2026, 7, 9, 0, 0), ANSWERED, number="+8613912340031")
    move_to(ctx, beijing(2026, 7, 9, 1, 30))
    before = await completion.report_for(ctx, staff, None, None, date(2026, 7, 7), today)
    assert await completion.do_count_day(ctx, day) == 102
    rows = await count_rows(ctx, day)
    after = await completion.report_for(ctx, staff, None, None, date(2026, 7, 7), today)
    assert figures(after) == figures(before)  # the counted day, and today from the records
    assert after.days[1][1].ner == "97.06" and after.days[2][1].attempts == 1
    # the counts are what is read: records of a counted day added later are not, until counted
    await calls(ctx, second, callee, beijing(2026, 7, 8, 12), MEDIA_FAILED, 3)
    stale = await completion.report_for(ctx, staff, None, None, day, day)
    assert stale.total.attempts == 102
    assert await completion.do_count_day(ctx, day) == 105
    assert await count_rows(ctx, day) == rows + 1  # the second customer's unnamed failures
    assert await completion.do_count_day(ctx, day) == 105  # again: the same
    assert await count_rows(ctx, day) == rows + 1
    recounted = await completion.report_for(ctx, staff, None, None, day, day)
    assert (recounted.total.attempts, recounted.total.effective) == (105, 99)
    own = await completion.report_for(ctx, second, None, "+8613912340031", day, day)
    assert own.total.attempts == 2 and own.scope.account is not None
    assert own.scope.account.id == theirs.id


# -- the alert ---------------------------------------------------------------------------------


async def alerts_for(ctx: Context, day: date) -> int:
    async with ctx.db.session() as s:
        query = select(func.count()).select_from(CompletionAlert).where(CompletionAlert.day == day)
        return int((await s.execute(query)).scalar_one())


async def test_a_day_below_the_contract_raises_one_alert_however_often_checked(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    caller = await person(ctx)
    day = date(2026, 4, 7)
    await the_worked_day(ctx, caller, callee, day)
    move_to(ctx, beijing(2026, 4, 8, 1, 30))
    alert = await completion.do_check_day(ctx, day)
    assert alert is not None
    assert (alert.attempts, alert.effective, alert.contracted_bp) == (100, 97, 9800)
    assert await completion.do_check_day(ctx, day) is None  # checked again: no second alert
    result = await do_daily_run(ctx)  # the daily run checks the last 7 days too
    assert result.alerts == 0
    assert await alerts_for(ctx, day) == 1
    listed = await completion.list_alerts(ctx, staff)
    assert [a.day for a in listed if a.day == day] == [day]
    async with ctx.db.session() as s:
        audited = select(AuditEvent).where(AuditEvent.action == "completion.alert")
        assert len((await s.execute(audited)).scalars().all()) == 1


async def test_the_daily_run_raises_the_alert_of_a_bad_day_and_none_for_a_good_one(
    ctx: Context, callee: Principal
) -> None:
    caller = await person(ctx)
    bad, good = date(2026, 4, 14), date(2026, 4, 15)
    await the_worked_day(ctx, caller, callee, bad)
    noon = beijing(2026, 4, 15, 12)
    await calls(ctx, caller, callee, noon, ANSWERED, 98)
    await calls(ctx, caller, callee, noon, MEDIA_FAILED, 2)  # 98.00 %: the contract is met
    move_to(ctx, beijing(2026, 4, 16, 1, 30))
    assert (await do_daily_run(ctx)).alerts == 1
    assert (await alerts_for(ctx, bad), await alerts_for(ctx, good)) == (1, 0)
    assert (await do_daily_run(ctx)).alerts == 0  # run again: nothing new


# -- the REST API ------------------------------------------------------------------------------


async def bearer(client: httpx.AsyncClient, who: Principal) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login",
        json={"username": who.username, "password": PASSWORD, "kind": "api"},
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def test_the_api_gives_the_operator_everything_and_a_customer_its_own(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal, callee: Principal
) -> None:
    mine, theirs = await person(ctx), await person(ctx)
    day = date(2026, 5, 6)
    await the_worked_day(ctx, mine, callee, day)
    await calls(ctx, theirs, callee, beijing(2026, 5, 6, 9), ANSWERED, 2, number="+8613912340021")
    move_to(ctx, beijing(2026, 5, 7, 9))
    await completion.do_check_day(ctx, day)
    my_account = await account_for_user(ctx, mine.user_id)
    their_account = await account_for_user(ctx, theirs.user_id)
    span = {"from": "2026-05-05", "to": "2026-05-06"}

    operator = await bearer(app_client, staff)
    resp = await app_client.get("/api/v1/completion", params=span, headers=operator)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["contracted_ner_pct"] == "98.00" and body["timezone"] == "Asia/Shanghai"
    assert [d["day"] for d in body["days"]] == ["2026-05-05", "2026-05-06"]
    assert body["days"][0]["ner_pct"] is None
    worked = {c["account_id"]: c for c in body["customers"]}[my_account.id]
    assert (worked["asr_pct"], worked["ner_pct"], worked["below_contract"]) == (
        "90.00",
        "97.00",
        True,
    )
    assert {f["name"]: f["count"] for f in worked["failures"]} == {
        "normal_unspecified": 1,
        "temporary_failure": 2,
    }
    alerts = await app_client.get("/api/v1/completion/alerts", headers=operator)
    # the day's alert is every customer's: (97 + 2) / 102 = 97.06 %
    assert [a["ner_pct"] for a in alerts.json() if a["day"] == "2026-05-06"] == ["97.06"]

    customer = await bearer(app_client, theirs)
    own = await app_client.get("/api/v1/completion", params=span, headers=customer)
    assert own.status_code == 200, own.text
    assert own.json()["account_id"] == their_account.id
    assert (own.json()["total"]["attempts"], own.json()["customers"]) == (2, [])
    assert [n["number"] for n in own.json()["numbers"]] == ["+8613912340021"]
    probe = {**span, "customer": my_account.id}
    refused = await app_client.get("/api/v1/completion", params=probe, headers=customer)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "billing_account_not_found"
    no_alerts = await app_client.get("/api/v1/completion/alerts", headers=customer)
    assert no_alerts.status_code == 403


# -- the CLI -----------------------------------------------------------------------------------


async def test_the_cli_prints_the_days_and_the_failure_reasons(
    ctx: Context, staff: Principal, callee: Principal
) -> None:
    caller = await person(ctx)
    await the_worked_day(ctx, caller, callee, date(2026, 6, 2))
    account = await account_for_user(ctx, caller.user_id)
    args = ["completion", "--from", "2026-06-01", "--to", "2026-06-02"]
    result = await run_cli(ctx, *args, "--customer", str(account.id), "--as", staff.username)
    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [c.strip() for c in line.split("│")[1:-1]] for line in result.output.splitlines()
        )
        if cells
    }
    assert rows["2026-06-02"][:6] == ["100", "90", "97", "3", "90.00", "97.00"]
    assert rows["2026-06-02"][6] == "31 normal_unspecified 1, 41 temporary_failure 2"
    assert rows["2026-06-01"][:6] == ["0", "0", "0", "0", "—", "—"]  # no attempts, no ratio
    assert "days below it: 1" in result.output
    bad = await run_cli(ctx, "completion", "--from", "2026-06-03", "--to", "2026-06-01")
    assert bad.exit_code == 1 and "validation_failed" in bad.output


# -- the pages ---------------------------------------------------------------------------------


async def signed_in_page(client: httpx.AsyncClient, who: Principal, path: str) -> httpx.Response:
    login = {"username": who.username, "password": PASSWORD, "kind": "web"}
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200
    return await client.get(path, follow_redirects=True)


async def test_the_operator_dashboard_and_the_customer_page_in_both_languages(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    app_client.cookies.set("yt_locale", "en")
    page = await signed_in_page(app_client, staff, "/completion")  # staff go to the dashboard
    assert page.status_code == 200 and page.url.path == "/operator/completion"
    assert 'id="completion-chart"' in page.text and 'id="customer-rows"' in page.text
    assert 'id="alert-rows"' in page.text and "Completion rate" in page.text
    app_client.cookies.clear()
    app_client.cookies.set("yt_locale", "zh-CN")
    customer = await person(ctx)
    page = await signed_in_page(app_client, customer, "/completion")
    assert page.status_code == 200 and page.url.path == "/completion"
    assert "接通率" in page.text and 'id="number-rows"' in page.text
    assert 'id="customer-rows"' not in page.text and 'id="alert-rows"' not in page.text
    refused = await app_client.get("/operator/completion", follow_redirects=False)
    assert refused.status_code == 303

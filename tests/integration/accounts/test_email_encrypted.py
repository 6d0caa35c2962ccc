"""E-mail addresses are personal data: encrypted at rest, found through a blind index.

Users' addresses and the addresses of meeting invitees are read here straight from the
database with SQL: no address may be there in clear. Log-in, look-up and uniqueness still
work through the index, whatever the case and surrounding spaces of what is typed.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.integration.accounts.conftest import (
    PASSWORD,
    active_user,
    error_code,
    register,
    register_org,
    run_cli,
)
from tests.integration.meetings.test_meeting_service import user as meeting_user
from yuntong.accounts import directory, identity, registration
from yuntong.accounts.auth import Principal
from yuntong.accounts.models import User
from yuntong.config import load_settings
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import service as meetings
from yuntong.meetings.service import MeetingInput
from yuntong.services import build_context

INVITEE = "meeting_invitation:email"  # the associated data invitees' addresses are bound to


async def raw_rows(ctx: Context, table: str) -> list[dict[str, object]]:
    async with ctx.db.session() as s:
        result = await s.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        return [dict(row._mapping) for row in result]


def flat(rows: list[dict[str, object]]) -> str:
    return " ".join(str(v) for row in rows for v in row.values()).lower()


async def test_user_e_mail_addresses_are_not_stored_in_clear(ctx: Context) -> None:
    person = await register(ctx, 7, email=" Zhang.San@Example.COM ")
    admin, _ = await register_org(ctx, 3)

    rows = await raw_rows(ctx, "users")
    assert "zhang.san@example.com" not in flat(rows)
    assert "admin@org3.example" not in flat(rows)
    assert "example" not in flat(rows)  # not even the domain
    by_id = {row["id"]: row for row in rows}
    for user_id, address in (
        (person.id, "zhang.san@example.com"),
        (admin.id, "admin@org3.example"),
    ):
        row = by_id[user_id]
        assert str(row["email_enc"]).startswith(f"v1:{ctx.cipher.active}:")
        assert row["email_index"] == ctx.cipher.email_index(address)
    # the index is of the normalised address
    assert ctx.cipher.email_index("  ZHANG.SAN@example.com") == ctx.cipher.email_index(
        "zhang.san@example.com"
    )


async def test_the_owner_and_other_domains_still_read_the_address(
    ctx: Context, staff: Principal
) -> None:
    person = await active_user(ctx, staff, 7)
    assert identity.user_email(ctx, person) == "person7@example.com"
    view = await identity.get_identity(ctx, staff, person.id)
    assert view.email == "person7@example.com"
    created = await registration.do_create_admin(ctx, "noemail", PASSWORD, "subscriber")
    assert identity.user_email(ctx, created) is None


async def test_login_and_lookup_by_e_mail_ignore_case_and_spaces(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    person = await active_user(ctx, staff, 4)
    for typed in ("person4@example.com", "  PERSON4@Example.COM "):
        resp = await app_client.post(
            "/api/v1/auth/login", json={"username": typed, "password": PASSWORD, "kind": "api"}
        )
        assert resp.status_code == 200, typed
        assert resp.json()["user"]["id"] == person.id
        found = await directory.lookup_active_user(ctx, typed)
        assert found is not None and found.id == person.id, typed
    assert await directory.lookup_active_user(ctx, "person5@example.com") is None


async def test_an_e_mail_address_is_registered_once_whatever_its_case(ctx: Context) -> None:
    await register(ctx, 1)
    with pytest.raises(YuntongError) as taken:
        await register(ctx, 2, email=" PERSON1@Example.com")
    assert taken.value.code == "email_taken"
    assert taken.value.fields == {"email": "taken"}
    with pytest.raises(YuntongError) as org_taken:
        await register_org(ctx, 2, email="Person1@example.COM")
    assert org_taken.value.code == "email_taken"


async def test_the_database_refuses_a_second_row_with_the_same_e_mail_index(
    ctx: Context,
) -> None:
    first = await register(ctx, 1)
    second = await register(ctx, 2)
    with pytest.raises(IntegrityError):
        async with ctx.db.session() as s:
            row = await s.get(User, second.id)
            assert row is not None
            row.email_index = first.email_index


async def test_meeting_invitees_addresses_are_not_stored_in_clear(ctx: Context) -> None:
    host = await meeting_user(ctx)
    meeting = await meetings.do_create(ctx, host, MeetingInput(title="季度评审"))
    await meetings.do_invite(ctx, host, meeting, [], ["Li.Si@Example.org", "wang@example.net"])
    await meetings.do_invite(ctx, host, meeting, [], ["li.si@example.org "])  # known already

    rows = await raw_rows(ctx, "meeting_invitations")
    assert len(rows) == 2
    assert "li.si" not in flat(rows) and "wang@" not in flat(rows)
    assert sorted(str(r["email_index"]) for r in rows) == sorted(
        ctx.cipher.email_index(a) for a in ("li.si@example.org", "wang@example.net")
    )
    opened = [ctx.cipher.decrypt(str(r["email_enc"]), context=INVITEE) for r in rows]
    assert sorted(opened) == ["li.si@example.org", "wang@example.net"]


async def test_keys_rotate_re_encrypts_e_mail_addresses_too(ctx: Context, staff: Principal) -> None:
    person = await register(ctx, 1)
    host = await meeting_user(ctx)
    meeting = await meetings.do_create(ctx, host, MeetingInput(title="季度评审"))
    await meetings.do_invite(ctx, host, meeting, [], ["guest@example.org"])
    old_key = ctx.cipher.active

    result = await run_cli(ctx, "keys", "rotate")
    assert result.exit_code == 0, result.output

    settings = load_settings(var_dir=ctx.settings.var_dir, database_url=ctx.settings.database_url)
    new_key = settings.pii_active_key
    assert new_key != old_key
    [user_row] = [r for r in await raw_rows(ctx, "users") if r["id"] == person.id]
    [invitation] = await raw_rows(ctx, "meeting_invitations")
    assert str(user_row["email_enc"]).startswith(f"v1:{new_key}:")
    assert str(invitation["email_enc"]).startswith(f"v1:{new_key}:")
    rotated = build_context(settings)
    try:
        assert user_row["email_index"] == rotated.cipher.email_index("person1@example.com")
        fresh = await directory.get_user(rotated, person.id)
        assert identity.user_email(rotated, fresh) == "person1@example.com"
        opened = rotated.cipher.decrypt(str(invitation["email_enc"]), context=INVITEE)
        assert opened == "guest@example.org"
        assert await identity.do_reencrypt_pii(rotated) == 0
        assert await meetings.do_reencrypt_invitations(rotated) == 0
    finally:
        await rotated.db.dispose()


async def test_registering_with_a_taken_address_over_http_is_409(
    app_client: httpx.AsyncClient, ctx: Context
) -> None:
    from tests.integration.accounts.conftest import individual

    await app_client.post("/api/v1/accounts/register/individual", json=individual(1))
    resp = await app_client.post(
        "/api/v1/accounts/register/individual", json=individual(2, email="PERSON1@EXAMPLE.COM")
    )
    assert resp.status_code == 409
    assert error_code(resp) == "email_taken"

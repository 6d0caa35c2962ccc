"""REST routes of SIP phones: a number's credentials (issued, rotated, revoked; the password
shown once), the phones registered with them, and the calls made through the SIP edge
(docs/sip.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.context import Context, get_context
from yuntong.core.errors import YuntongError
from yuntong.sip import credentials, edge, records
from yuntong.sip.models import SipCall

router = APIRouter(prefix="/api/v1", tags=["sip"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
NumberPath = Annotated[str, Path(description="The number, E.164 or national")]


class SipCredentialsOut(BaseModel):
    """A number's SIP account; ``password`` is only given when it was just made."""

    number: str = Field(description="The number, E.164")
    username: str = Field(description="Digest user name (the number without '+')")
    password: str | None = Field(None, description="The new password: shown this once, never again")
    domain: str = Field(description="SIP domain and digest realm")
    registrar: str = Field(description="host:port the phone registers with")
    transports: list[str] = Field(description="udp, tcp and, when enabled, tls")
    rotated_at: datetime | None = Field(None, description="When the password was last made")
    registered: list[str] | None = Field(
        None, description="Contacts of the phones registered now (null: the edge did not say)"
    )


class SipCallOut(BaseModel):
    """A call through the SIP edge."""

    id: str = Field(description="Yuntong's id of the call")
    direction: str = Field(description="internal, outbound (to the public network) or inbound")
    calling_number: str | None = Field(
        description="Caller's number, E.164 (null: unknown, or withheld from the callee)"
    )
    called_number: str | None = Field(description="Dialled number, E.164")
    withheld: bool = Field(description="The caller's identity was withheld (CLIR)")
    outcome: str | None = Field(description="answered, busy, no_answer, rejected, …")
    final_code: int | None = Field(description="The final SIP response (200 when answered)")
    cause: int | None = Field(description="Q.850 cause of its ending")
    pdd_ms: int | None = Field(description="Post-dial delay, ms (RFC 6076)")
    created_at: datetime = Field(description="When the INVITE arrived")
    answered_at: datetime | None = Field(description="When it was answered")
    ended_at: datetime | None = Field(description="When it ended")
    billable_seconds: int = Field(description="Seconds from answer to end, rounded up")


def _out(ctx: Context, issued: credentials.IssuedCredential) -> SipCredentialsOut:
    return SipCredentialsOut(
        number=issued.number,
        username=issued.username,
        password=issued.password,
        domain=issued.domain,
        registrar=issued.registrar,
        transports=list(issued.transports),
        rotated_at=ctx.clock.now(),
    )


@router.post("/numbers/{number}/sip-credentials", response_model=SipCredentialsOut, status_code=201)
async def issue_credentials(ctx: Ctx, user: User, number: NumberPath) -> SipCredentialsOut:
    """Make the SIP password of a number (again: the old one stops working at once)."""
    return _out(ctx, await credentials.do_issue(ctx, user, number))


@router.get("/numbers/{number}/sip-credentials", response_model=SipCredentialsOut)
async def get_credentials(ctx: Ctx, user: User, number: NumberPath) -> SipCredentialsOut:
    """A number's SIP account and the phones registered with it now (no password)."""
    found = await credentials.credential_of(ctx, user, number)
    if found is None:
        raise YuntongError("sip_credentials_not_found")
    domain = credentials.sip_domain(ctx)
    contacts = await edge.contacts_of(ctx, found.username)
    settings = ctx.settings
    return SipCredentialsOut(
        number="+" + found.username,
        username=found.username,
        domain=domain,
        registrar=f"{settings.sip_public_host or domain}:{settings.sip_port}",
        transports=["udp", "tcp"] + (["tls"] if settings.sip_tls_port else []),
        rotated_at=found.rotated_at,
        registered=contacts,
    )


@router.delete("/numbers/{number}/sip-credentials", status_code=204)
async def revoke_credentials(ctx: Ctx, user: User, number: NumberPath) -> Response:
    """Remove a number's SIP account: its phones can no longer register or call."""
    await credentials.do_revoke(ctx, user, number)
    return Response(status_code=204)


@router.get("/sip/calls", response_model=list[SipCallOut])
async def my_sip_calls(
    ctx: Ctx,
    user: User,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many, newest first")] = 50,
) -> list[SipCallOut]:
    """Calls the user's SIP phones made or received, newest first."""
    rows = await records.calls_of(ctx, user.user_id, limit)
    return [_call_out(row, user.user_id) for row in rows]


def _call_out(row: SipCall, viewer: int) -> SipCallOut:
    out = SipCallOut.model_validate(row, from_attributes=True)
    if row.withheld and row.caller_user_id != viewer:
        out.calling_number = None  # CLIR: the callee is not told the number
    return out

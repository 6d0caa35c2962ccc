"""REST routes for registration, login, the signed-in user, operator review and org admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts import audit, directory, identity, registration, sessions
from yuntong.accounts import status as accounts_status
from yuntong.accounts.auth import (
    SESSION_COOKIE,
    CurrentUser,
    Principal,
    csrf_token_for,
    require_role,
)
from yuntong.accounts.models import (
    AccountStatus,
    AuditEvent,
    LoginSession,
    Organisation,
    Role,
    User,
)
from yuntong.accounts.validation import (
    IndividualRegistration,
    Name,
    OrganisationRegistration,
    Reason,
)
from yuntong.core.api_types import INT32_MAX, DbId
from yuntong.core.context import Context, get_context
from yuntong.core.i18n import request_locale
from yuntong.core.throttle import client_of

router = APIRouter(prefix="/api/v1")
Ctx = Annotated[Context, Depends(get_context)]
Staff = Annotated[Principal, Depends(require_role(Role.OPERATOR_ADMIN, Role.SUPPORT_AGENT))]
OrgAdmin = Annotated[Principal, Depends(require_role(Role.ORG_ADMIN))]
UserId = Annotated[DbId, Path(description="The user's id")]


# --- response and request shapes -----------------------------------------------------------


class UserOut(BaseModel):
    """A user account as its owner, its organisation's admin and operator staff see it."""

    id: int = Field(description="The user's id")
    username: str = Field(description="Login name (lowercase; unique)")
    display_name: str = Field(description="The name shown to others")
    role: str = Field(
        description="subscriber, org_admin, support_agent or operator_admin (docs/architecture.md)"
    )
    status: str = Field(
        description="Account state: pending, rejected, active, warned, limited, suspended or "
        "terminated"
    )
    status_reason: str | None = Field(
        description="Why the account is in its state (a rejection or suspension), if given"
    )
    organisation_id: int | None = Field(
        description="The organisation the user belongs to; null for an individual"
    )
    locale: str = Field(description="Preferred language of messages: zh-CN or en")
    created_at: datetime = Field(description="When the account was registered")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            status=user.status,
            status_reason=user.status_reason,
            organisation_id=user.organisation_id,
            locale=user.locale,
            created_at=user.created_at,
        )


class OrganisationIdentityOut(BaseModel):
    """An organisation's registered identity."""

    id: int = Field(description="The organisation's id")
    legal_name: str = Field(description="Registered legal name")
    uscc: str = Field(description="Unified social credit code (统一社会信用代码)")
    legal_representative: str = Field(description="Legal representative (法定代表人)")
    contact_name: str = Field(description="Contact person")
    contact_phone: str = Field(description="Contact person's phone number")
    address: str = Field(description="Registered address")


class IdentityOut(BaseModel):
    """Identity data; ``masked`` tells whether personal fields are partly hidden."""

    user_id: int = Field(description="Whose identity this is")
    masked: bool = Field(
        description="Whether personal fields are partly hidden (staff without the right to see "
        "them in full)"
    )
    full_name: str = Field(description="Legal name")
    email: str | None = Field(description="E-mail address")
    birth_date: str | None = Field(description="Date of birth (YYYY-MM-DD)")
    address: str | None = Field(description="Postal address")
    id_type: str | None = Field(description="Identity document: resident_id, passport or other")
    id_number: str | None = Field(description="Identity document number")
    employer: str | None = Field(description="Employer, if given")
    phone: str | None = Field(description="Mobile phone number")
    organisation: OrganisationIdentityOut | None = Field(
        description="The organisation's identity, for an organisation's member"
    )

    @classmethod
    def of(cls, view: identity.IdentityView) -> IdentityOut:
        org = view.organisation
        return cls(
            user_id=view.user_id,
            masked=view.masked,
            full_name=view.full_name,
            email=view.email,
            birth_date=view.birth_date,
            address=view.address,
            id_type=view.id_type,
            id_number=view.id_number,
            employer=view.employer,
            phone=view.phone,
            organisation=None if org is None else OrganisationIdentityOut(**vars(org)),
        )


class OrganisationOut(BaseModel):
    """An organisation, by id and name."""

    id: int = Field(description="The organisation's id")
    legal_name: str = Field(description="Registered legal name")


class RegistrationOut(BaseModel):
    """A registration received: the account waits for the operator's review (pending)."""

    user: UserOut = Field(description="The new account (status pending)")
    organisation: OrganisationOut | None = Field(
        None, description="The new organisation, for an organisation's registration"
    )


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=254, description="username or e-mail")
    password: str = Field(min_length=1, max_length=1024, description="The account's password")
    kind: Literal["web", "api"] = Field(
        "web",
        description="web: a session cookie and a CSRF token (browsers); api: a bearer token "
        "(programs)",
    )


class LoginOut(BaseModel):
    user: UserOut = Field(description="The signed-in user")
    expires_at: datetime = Field(description="When the session ends unless renewed by use")
    csrf_token: str | None = Field(None, description="web logins: send as X-CSRF-Token")
    token: str | None = Field(None, description="api logins: send as Authorization: Bearer")


class MeOut(BaseModel):
    user: UserOut = Field(description="The signed-in user")
    csrf_token: str | None = Field(None, description="present for cookie sessions")


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Name | None = Field(None, description="New display name (omit: unchanged)")
    locale: Literal["zh-CN", "en"] | None = Field(
        None, description="New preferred language (omit: unchanged)"
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(
        min_length=1, max_length=1024, description="The password in use now"
    )
    new_password: str = Field(
        min_length=1,
        max_length=1024,
        description="At least 10 characters, not the username (field error weak_password)",
    )


class PasswordChanged(BaseModel):
    sessions_revoked: int = Field(
        description="How many other sessions of the account were ended (this one stays)"
    )


class SessionOut(BaseModel):
    """One signed-in session of the user (a browser or a program)."""

    id: str = Field(description="The session's id (to end it: DELETE /api/v1/me/sessions/{id})")
    kind: str = Field(description="web (cookie) or api (bearer token)")
    user_agent: str = Field(description="The User-Agent that logged in")
    created_at: datetime = Field(description="When it logged in")
    last_seen_at: datetime = Field(description="When it was last used")
    expires_at: datetime = Field(description="When it ends unless used again")
    current: bool = Field(description="Whether it is the session making this request")

    @classmethod
    def of(cls, session: LoginSession, current_id: str) -> SessionOut:
        return cls(
            id=session.id,
            kind=session.kind,
            user_agent=session.user_agent,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
            current=session.id == current_id,
        )


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = Field(description="Why, shown to the applicant")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal[
        AccountStatus.ACTIVE,
        AccountStatus.WARNED,
        AccountStatus.LIMITED,
        AccountStatus.SUSPENDED,
        AccountStatus.TERMINATED,
    ] = Field(description="The new status (one of the user's status_moves)")
    reason: Reason = Field(description="Why, kept in the audit log and shown to the user")


class StaffUserOut(UserOut):
    """A user in the operator's list, with what the staff member asking may do to it now
    (the checks of the approve, reject and status routes; the console derives nothing)."""

    status_moves: list[str] = Field(
        description="The statuses POST .../status accepts now, in the ladder's order"
    )
    suggested_status: str | None = Field(description="The one of status_moves offered first")
    can_approve: bool = Field(description="Whether the asking staff member may approve it now")
    can_reject: bool = Field(description="Whether the asking staff member may reject it now")

    @classmethod
    def seen_by(cls, actor: Principal, user: User) -> StaffUserOut:
        return cls(
            **UserOut.of(user).model_dump(),
            status_moves=accounts_status.status_moves(actor, user),
            suggested_status=accounts_status.suggested_move(actor, user),
            can_approve=accounts_status.may_review(actor, user, AccountStatus.ACTIVE),
            can_reject=accounts_status.may_review(actor, user, AccountStatus.REJECTED),
        )


class AdminUserOut(BaseModel):
    user: UserOut = Field(description="The account")
    identity: IdentityOut = Field(description="Its identity data (masked per the staff role)")


class MemberOut(BaseModel):
    user: UserOut = Field(description="The member's account")
    identity: IdentityOut = Field(description="The member's identity data")


class AuditOut(BaseModel):
    """One entry of the audit log."""

    id: int = Field(description="The entry's id")
    at: datetime = Field(description="When it happened")
    actor_id: int | None = Field(description="Who did it (null: the system)")
    action: str = Field(
        description="What was done (e.g. account.approve, account.reject, account.status)"
    )
    target_user_id: int | None = Field(description="The user it was done to")
    detail: dict[str, Any] = Field(description="The action's particulars (e.g. reason)")

    @classmethod
    def of(cls, event: AuditEvent) -> AuditOut:
        return cls(
            id=event.id,
            at=event.at,
            actor_id=event.actor_id,
            action=event.action,
            target_user_id=event.target_user_id,
            detail=event.detail,
        )


def _locale(request: Request) -> str:
    return request_locale(request)


def _registration_out(user: User, organisation: Organisation | None = None) -> RegistrationOut:
    org = (
        None
        if organisation is None
        else OrganisationOut(id=organisation.id, legal_name=organisation.legal_name)
    )
    return RegistrationOut(user=UserOut.of(user), organisation=org)


# --- registration and login ----------------------------------------------------------------


@router.post(
    "/accounts/register/individual",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationOut,
    tags=["accounts"],
)
async def register_individual(
    form: IndividualRegistration, request: Request, ctx: Ctx
) -> RegistrationOut:
    """Sign up as an individual (real-name registration); the account is pending until the
    operator reviews it."""
    async with registration.registration_guard(ctx, client_of(request)):
        user = await registration.do_register_individual(ctx, form, locale=_locale(request))
    return _registration_out(user)


@router.post(
    "/accounts/register/organisation",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationOut,
    tags=["accounts"],
)
async def register_organisation(
    form: OrganisationRegistration, request: Request, ctx: Ctx
) -> RegistrationOut:
    """Sign up an organisation and its first administrator (org_admin); both are pending
    until the operator reviews them."""
    async with registration.registration_guard(ctx, client_of(request)):
        user, organisation = await registration.do_register_organisation(
            ctx, form, locale=_locale(request)
        )
    return _registration_out(user, organisation)


@router.post(
    "/auth/login", response_model=LoginOut, response_model_exclude_none=True, tags=["auth"]
)
async def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> LoginOut:
    """Log in with a username (or e-mail) and password. ``kind`` ``api`` answers a bearer
    ``token``; ``web`` sets the session cookie and answers the ``csrf_token`` to send with
    writes. Wrong passwords are throttled per client and account (429, then 423)."""
    result = await sessions.do_login(
        ctx,
        body.username,
        body.password,
        body.kind,
        user_agent=request.headers.get("user-agent", ""),
        ip=request.client.host if request.client else None,
    )
    out = LoginOut(user=UserOut.of(result.user), expires_at=result.session.expires_at)
    if body.kind == "api":
        out.token = result.token
        return out
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=ctx.settings.session_ttl_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure,
    )
    out.csrf_token = csrf_token_for(ctx, result.session.id)
    return out


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
async def logout(principal: CurrentUser, response: Response, ctx: Ctx) -> None:
    """End this session (and clear the session cookie)."""
    await sessions.do_logout(ctx, principal.user_id, principal.session_id)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=ctx.settings.cookie_secure
    )


# --- the signed-in user --------------------------------------------------------------------


def _me(ctx: Context, principal: Principal, user: User) -> MeOut:
    csrf = csrf_token_for(ctx, principal.session_id) if principal.via == "cookie" else None
    return MeOut(user=UserOut.of(user), csrf_token=csrf)


@router.get("/me", response_model=MeOut, tags=["me"])
async def get_me(principal: CurrentUser, ctx: Ctx) -> MeOut:
    """The signed-in user (and, for a cookie session, its CSRF token)."""
    return _me(ctx, principal, await directory.get_user(ctx, principal.user_id))


@router.patch("/me", response_model=MeOut, tags=["me"])
async def patch_me(body: MePatch, principal: CurrentUser, ctx: Ctx) -> MeOut:
    """Change the signed-in user's display name or language."""
    user = await directory.do_update_profile(
        ctx, principal.user_id, display_name=body.display_name, locale=body.locale
    )
    return _me(ctx, principal, user)


@router.get("/me/identity", response_model=IdentityOut, tags=["me"])
async def get_my_identity(principal: CurrentUser, ctx: Ctx) -> IdentityOut:
    """The identity data the user registered with (as held, decrypted for its owner)."""
    return IdentityOut.of(await identity.get_identity(ctx, principal, principal.user_id))


@router.post("/me/password", response_model=PasswordChanged, tags=["me"])
async def change_password(
    body: PasswordChange, principal: CurrentUser, ctx: Ctx
) -> PasswordChanged:
    """Change the password; every other session of the account ends."""
    revoked = await sessions.do_change_password(
        ctx, principal.user_id, principal.session_id, body.current_password, body.new_password
    )
    return PasswordChanged(sessions_revoked=revoked)


@router.get("/me/sessions", response_model=list[SessionOut], tags=["me"])
async def my_sessions(principal: CurrentUser, ctx: Ctx) -> list[SessionOut]:
    """The user's live sessions (browsers and programs signed in)."""
    live = await sessions.list_sessions(ctx, principal.user_id)
    return [SessionOut.of(s, principal.session_id) for s in live]


@router.delete("/me/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["me"])
async def revoke_my_session(
    session_id: Annotated[str, Path(description="The session's id (from GET /me/sessions)")],
    principal: CurrentUser,
    ctx: Ctx,
) -> None:
    """End one of the user's sessions (sign out a browser or program)."""
    await sessions.do_revoke_session(ctx, principal.user_id, session_id)


# --- operator staff ------------------------------------------------------------------------


@router.get("/admin/users", response_model=list[StaffUserOut], tags=["admin"])
async def admin_list_users(
    principal: Staff,
    ctx: Ctx,
    status_: Annotated[
        AccountStatus | None, Query(alias="status", description="Only accounts in this status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many")] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX, description="Skip this many first")] = 0,
) -> list[StaffUserOut]:
    """Operator staff: the user accounts, newest first, with what the caller may do to each."""
    users = await directory.list_users(ctx, principal, status=status_, limit=limit, offset=offset)
    return [StaffUserOut.seen_by(principal, u) for u in users]


@router.get("/admin/users/{user_id}", response_model=AdminUserOut, tags=["admin"])
async def admin_get_user(user_id: UserId, principal: Staff, ctx: Ctx) -> AdminUserOut:
    """Operator staff: one account and its identity data (masked unless the role may see it in
    full; every look is audited)."""
    view = await identity.get_identity(ctx, principal, user_id)
    user = await directory.get_user(ctx, user_id)
    return AdminUserOut(user=UserOut.of(user), identity=IdentityOut.of(view))


@router.get("/admin/users/{user_id}/audit", response_model=list[AuditOut], tags=["admin"])
async def admin_user_audit(user_id: UserId, principal: Staff, ctx: Ctx) -> list[AuditOut]:
    """Operator staff: the audit log of what was done to an account."""
    return [AuditOut.of(e) for e in await audit.list_events(ctx, principal, user_id)]


@router.post("/admin/users/{user_id}/approve", response_model=UserOut, tags=["admin"])
async def admin_approve(user_id: UserId, principal: Staff, ctx: Ctx) -> UserOut:
    """Operator staff: approve a pending registration (the account becomes active)."""
    return UserOut.of(await accounts_status.do_approve(ctx, principal, user_id))


@router.post("/admin/users/{user_id}/reject", response_model=UserOut, tags=["admin"])
async def admin_reject(user_id: UserId, body: RejectIn, principal: Staff, ctx: Ctx) -> UserOut:
    """Operator staff: reject a pending registration, with the reason the applicant sees."""
    return UserOut.of(await accounts_status.do_reject(ctx, principal, user_id, body.reason))


@router.post("/admin/users/{user_id}/status", response_model=UserOut, tags=["admin"])
async def admin_set_status(user_id: UserId, body: StatusIn, principal: Staff, ctx: Ctx) -> UserOut:
    """Operator staff: move an account along the status ladder (warn, limit, suspend,
    reactivate, terminate), with a reason."""
    user = await accounts_status.do_set_status(ctx, principal, user_id, body.status, body.reason)
    return UserOut.of(user)


# --- organisation admins -------------------------------------------------------------------


@router.get("/org/members", response_model=list[MemberOut], tags=["org"])
async def org_members(principal: OrgAdmin, ctx: Ctx) -> list[MemberOut]:
    """Organisation admins: the organisation's members and their identity data."""
    members = await identity.list_org_members(ctx, principal)
    return [MemberOut(user=UserOut.of(u), identity=IdentityOut.of(i)) for u, i in members]

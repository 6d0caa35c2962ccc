"""REST routes for registration, login, the signed-in user, operator review and org admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
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


# --- response and request shapes -----------------------------------------------------------


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    status: str
    status_reason: str | None
    organisation_id: int | None
    locale: str
    created_at: datetime

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
    id: int
    legal_name: str
    uscc: str
    legal_representative: str
    contact_name: str
    contact_phone: str
    address: str


class IdentityOut(BaseModel):
    """Identity data; ``masked`` tells whether personal fields are partly hidden."""

    user_id: int
    masked: bool
    full_name: str
    email: str | None
    birth_date: str | None
    address: str | None
    id_type: str | None
    id_number: str | None
    employer: str | None
    phone: str | None
    organisation: OrganisationIdentityOut | None

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
    id: int
    legal_name: str


class RegistrationOut(BaseModel):
    user: UserOut
    organisation: OrganisationOut | None = None


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=254, description="username or e-mail")
    password: str = Field(min_length=1, max_length=1024)
    kind: Literal["web", "api"] = "web"


class LoginOut(BaseModel):
    user: UserOut
    expires_at: datetime
    csrf_token: str | None = Field(None, description="web logins: send as X-CSRF-Token")
    token: str | None = Field(None, description="api logins: send as Authorization: Bearer")


class MeOut(BaseModel):
    user: UserOut
    csrf_token: str | None = Field(None, description="present for cookie sessions")


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Name | None = None
    locale: Literal["zh-CN", "en"] | None = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordChanged(BaseModel):
    sessions_revoked: int


class SessionOut(BaseModel):
    id: str
    kind: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool

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
    reason: Reason


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal[
        AccountStatus.ACTIVE,
        AccountStatus.WARNED,
        AccountStatus.LIMITED,
        AccountStatus.SUSPENDED,
        AccountStatus.TERMINATED,
    ]
    reason: Reason


class StaffUserOut(UserOut):
    """A user in the operator's list, with what the staff member asking may do to it now
    (the checks of the approve, reject and status routes; the console derives nothing)."""

    status_moves: list[str]  # the statuses POST .../status accepts now, in the ladder's order
    suggested_status: str | None  # the one of status_moves offered first
    can_approve: bool
    can_reject: bool

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
    user: UserOut
    identity: IdentityOut


class MemberOut(BaseModel):
    user: UserOut
    identity: IdentityOut


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    action: str
    target_user_id: int | None
    detail: dict[str, Any]

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
    async with registration.registration_guard(ctx, client_of(request)):
        user, organisation = await registration.do_register_organisation(
            ctx, form, locale=_locale(request)
        )
    return _registration_out(user, organisation)


@router.post(
    "/auth/login", response_model=LoginOut, response_model_exclude_none=True, tags=["auth"]
)
async def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> LoginOut:
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
    return _me(ctx, principal, await directory.get_user(ctx, principal.user_id))


@router.patch("/me", response_model=MeOut, tags=["me"])
async def patch_me(body: MePatch, principal: CurrentUser, ctx: Ctx) -> MeOut:
    user = await directory.do_update_profile(
        ctx, principal.user_id, display_name=body.display_name, locale=body.locale
    )
    return _me(ctx, principal, user)


@router.get("/me/identity", response_model=IdentityOut, tags=["me"])
async def get_my_identity(principal: CurrentUser, ctx: Ctx) -> IdentityOut:
    return IdentityOut.of(await identity.get_identity(ctx, principal, principal.user_id))


@router.post("/me/password", response_model=PasswordChanged, tags=["me"])
async def change_password(
    body: PasswordChange, principal: CurrentUser, ctx: Ctx
) -> PasswordChanged:
    revoked = await sessions.do_change_password(
        ctx, principal.user_id, principal.session_id, body.current_password, body.new_password
    )
    return PasswordChanged(sessions_revoked=revoked)


@router.get("/me/sessions", response_model=list[SessionOut], tags=["me"])
async def my_sessions(principal: CurrentUser, ctx: Ctx) -> list[SessionOut]:
    live = await sessions.list_sessions(ctx, principal.user_id)
    return [SessionOut.of(s, principal.session_id) for s in live]


@router.delete("/me/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["me"])
async def revoke_my_session(session_id: str, principal: CurrentUser, ctx: Ctx) -> None:
    await sessions.do_revoke_session(ctx, principal.user_id, session_id)


# --- operator staff ------------------------------------------------------------------------


@router.get("/admin/users", response_model=list[StaffUserOut], tags=["admin"])
async def admin_list_users(
    principal: Staff,
    ctx: Ctx,
    status_: Annotated[AccountStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> list[StaffUserOut]:
    users = await directory.list_users(ctx, principal, status=status_, limit=limit, offset=offset)
    return [StaffUserOut.seen_by(principal, u) for u in users]


@router.get("/admin/users/{user_id}", response_model=AdminUserOut, tags=["admin"])
async def admin_get_user(user_id: DbId, principal: Staff, ctx: Ctx) -> AdminUserOut:
    view = await identity.get_identity(ctx, principal, user_id)
    user = await directory.get_user(ctx, user_id)
    return AdminUserOut(user=UserOut.of(user), identity=IdentityOut.of(view))


@router.get("/admin/users/{user_id}/audit", response_model=list[AuditOut], tags=["admin"])
async def admin_user_audit(user_id: DbId, principal: Staff, ctx: Ctx) -> list[AuditOut]:
    return [AuditOut.of(e) for e in await audit.list_events(ctx, principal, user_id)]


@router.post("/admin/users/{user_id}/approve", response_model=UserOut, tags=["admin"])
async def admin_approve(user_id: DbId, principal: Staff, ctx: Ctx) -> UserOut:
    return UserOut.of(await accounts_status.do_approve(ctx, principal, user_id))


@router.post("/admin/users/{user_id}/reject", response_model=UserOut, tags=["admin"])
async def admin_reject(user_id: DbId, body: RejectIn, principal: Staff, ctx: Ctx) -> UserOut:
    return UserOut.of(await accounts_status.do_reject(ctx, principal, user_id, body.reason))


@router.post("/admin/users/{user_id}/status", response_model=UserOut, tags=["admin"])
async def admin_set_status(user_id: DbId, body: StatusIn, principal: Staff, ctx: Ctx) -> UserOut:
    user = await accounts_status.do_set_status(ctx, principal, user_id, body.status, body.reason)
    return UserOut.of(user)


# --- organisation admins -------------------------------------------------------------------


@router.get("/org/members", response_model=list[MemberOut], tags=["org"])
async def org_members(principal: OrgAdmin, ctx: Ctx) -> list[MemberOut]:
    members = await identity.list_org_members(ctx, principal)
    return [MemberOut(user=UserOut.of(u), identity=IdentityOut.of(i)) for u, i in members]

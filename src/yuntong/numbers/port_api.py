"""REST routes for porting (携号转网): customers request port-ins and port-out codes, staff
work the queue, the other carriers call back signed (docs/numbers.md, "Porting")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_role, require_user
from yuntong.accounts.models import Role
from yuntong.config import Settings
from yuntong.core.api_types import INT32_MAX, DbId, NonNegativeFen
from yuntong.core.context import Context, get_context
from yuntong.numbers import port_in, port_out
from yuntong.numbers.carrier import SIGNATURE_HEADER
from yuntong.numbers.models import PortState
from yuntong.numbers.port_in import PortInForm, PortRequestView

router = APIRouter(tags=["numbers"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
Staff = Annotated[Principal, Depends(require_role(Role.OPERATOR_ADMIN, Role.SUPPORT_AGENT))]
Signature = Annotated[
    str | None,
    Header(alias=SIGNATURE_HEADER, description="t=<unix>,v1=<hex HMAC-SHA256> (see above)"),
]
RequestId = Annotated[DbId, Path(description="The port-in request's id")]
SIGNED = (
    f"Header `{SIGNATURE_HEADER}: t=<unix>,v1=<hex>`, the HMAC-SHA256 of `<t>.` + body under "
    "the carriers' shared secret (the payment webhook's scheme)."
)


class PortRequestOut(BaseModel):
    """A request to bring a number from another carrier (port-in, 携号转网)."""

    id: int = Field(description="the request's id")
    ref: str = Field(description="the reference the losing carrier knows the request by")
    e164: str = Field(description="the number, E.164")
    losing_carrier: str = Field(description="the carrier the number leaves")
    state: PortState = Field(description="where the request is (docs/numbers.md, Porting)")
    customer_id: int = Field(description="the user the number is for")
    organisation_id: int | None = Field(description="the organisation it is for, if any")
    filed_by: int | None = Field(description="who filed it (staff, on the customer's behalf)")
    document_name: str = Field(description="the authorisation document's file name")
    document_type: str = Field(description="its type: application/pdf, image/jpeg or image/png")
    checks_passed: bool = Field(description="the losing carrier's answer passed every check")
    porting_date: date | None = Field(description="the day the number ports, once approved")
    reason: str | None = Field(description="rejected: a failed check's error code, or 'staff'")
    reason_text: str | None = Field(description="rejected: the reason in the viewer's language")
    created_at: datetime = Field(description="when it was filed")
    updated_at: datetime = Field(description="when it last changed")
    customer_username: str | None = Field(description="in staff's queue only")

    @classmethod
    def of(cls, view: PortRequestView, who: Principal, settings: Settings) -> PortRequestOut:
        text = port_in.reason_message(view, who.locale, settings)
        return cls(**{**view.__dict__, "reason_text": text})


class PortEventOut(BaseModel):
    """One change of a port-in request."""

    at: datetime = Field(description="when")
    actor_id: int | None = Field(description="who (null: a carrier or the system)")
    action: str = Field(description="what was done (submit, checks_passed, approve…)")
    from_state: str | None = Field(description="the state before (null: filed)")
    to_state: str = Field(description="the state after")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    porting_date: date = Field(description="the day the number ports (today or later)")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="shown to the customer")


class PortOutCodeOut(BaseModel):
    number: str = Field(description="the number, E.164")
    code: str = Field(description="shown this once; give it to the gaining carrier")
    expires_at: datetime = Field(description="when the code stops working")


class CarrierAnswerIn(BaseModel):
    """The losing carrier's answer to a port-in's checks."""

    answer_id: str = Field(min_length=1, max_length=64, description="its id of the answer")
    ref: str = Field(min_length=1, max_length=24, description="the request's reference")
    known: bool = Field(description="the number is in service with the carrier")
    same_holder: bool = Field(description="registered to the identity Yuntong sent")
    in_service_since: date | None = Field(description="since when the number is in service")
    arrears_fen: NonNegativeFen = Field(description="what the holder owes the carrier, fen")


class CodePresentedIn(BaseModel):
    """The gaining carrier presents a port-out code."""

    presentation_id: str = Field(
        min_length=1, max_length=64, description="its id: presented again, answered the same"
    )
    number: str = Field(max_length=20, description="the number leaving")
    code: str = Field(max_length=20, description="the authorisation code its holder gave")
    gaining_carrier: str = Field(min_length=1, max_length=60, description="the carrier presenting")


class AnsweredOut(BaseModel):
    ref: str = Field(description="the request's reference")
    state: PortState = Field(description="its state after the answer")


class PortOutOut(BaseModel):
    number: str = Field(description="the number")
    state: str = Field(description="its state after the presentation (ported_out)")
    gaining_carrier: str = Field(description="the carrier it went to")


# --- customers -----------------------------------------------------------------------------


@router.post("/numbers/port-ins", response_model=PortRequestOut, status_code=201)
async def request_port_in(
    ctx: Ctx,
    user: User,
    number: Annotated[
        str, Form(max_length=20, description="the number to bring (E.164 or national)")
    ],
    losing_carrier: Annotated[
        str, Form(min_length=1, max_length=60, description="the carrier the number is with")
    ],
    document: Annotated[UploadFile, File(description="authorisation document: PDF, JPEG, PNG")],
    for_user_id: Annotated[
        int | None, Form(ge=1, le=INT32_MAX, description="staff only: the customer")
    ] = None,
) -> PortRequestOut:
    """Ask to bring a number held at another carrier; the losing carrier's checks follow."""
    limit = ctx.settings.numbers_porting_document_max_bytes
    data = await document.read(limit + 1)
    form = PortInForm(number, losing_carrier, document.filename or "", data, for_user_id)
    return PortRequestOut.of(await port_in.do_submit(ctx, user, form), user, ctx.settings)


@router.get("/numbers/port-ins", response_model=list[PortRequestOut])
async def my_port_ins(ctx: Ctx, user: User) -> list[PortRequestOut]:
    """The caller's port-in requests (its organisation's, for an administrator), newest first."""
    return [
        PortRequestOut.of(v, user, ctx.settings) for v in await port_in.list_requests(ctx, user)
    ]


@router.get("/numbers/port-ins/{request_id}", response_model=PortRequestOut)
async def port_in_request(ctx: Ctx, user: User, request_id: RequestId) -> PortRequestOut:
    """One of the caller's port-in requests and its state."""
    return PortRequestOut.of(await port_in.get_request(ctx, user, request_id), user, ctx.settings)


@router.get("/numbers/port-ins/{request_id}/events", response_model=list[PortEventOut])
async def port_in_events(ctx: Ctx, user: User, request_id: RequestId) -> list[PortEventOut]:
    """The request's trail: every change, who made it, when."""
    events = await port_in.events_of(ctx, user, request_id)
    return [PortEventOut.model_validate(e, from_attributes=True) for e in events]


@router.post("/numbers/{number}/port-out-code", response_model=PortOutCodeOut, status_code=201)
async def port_out_code(
    ctx: Ctx, user: User, number: Annotated[str, Path(description="The number, E.164 or national")]
) -> PortOutCodeOut:
    """A port-out authorisation code (授权码) for one's assigned number: shown once, expiring;
    a new one replaces the earlier."""
    issued = await port_out.do_issue_code(ctx, user, number)
    return PortOutCodeOut(number=issued.number, code=issued.code, expires_at=issued.expires_at)


# --- staff ---------------------------------------------------------------------------------


@router.get("/admin/numbers/port-ins", response_model=list[PortRequestOut], tags=["admin"])
async def port_in_queue(
    ctx: Ctx,
    staff: Staff,
    state: Annotated[
        list[PortState] | None, Query(description="Only these states (repeat; default: all)")
    ] = None,
) -> list[PortRequestOut]:
    """The port-in requests, oldest first; by state."""
    states = [s.value for s in state] if state else None
    views = await port_in.list_requests(ctx, staff, states)
    return [PortRequestOut.of(v, staff, ctx.settings) for v in views]


@router.post(
    "/admin/numbers/port-ins/{request_id}/approve", response_model=PortRequestOut, tags=["admin"]
)
async def approve_port_in(
    ctx: Ctx, staff: Staff, request_id: RequestId, body: ApproveIn
) -> PortRequestOut:
    """Approve a request whose checks passed, with its porting date."""
    view = await port_in.do_approve(ctx, staff, request_id, body.porting_date)
    return PortRequestOut.of(view, staff, ctx.settings)


@router.post(
    "/admin/numbers/port-ins/{request_id}/reject", response_model=PortRequestOut, tags=["admin"]
)
async def reject_port_in(
    ctx: Ctx, staff: Staff, request_id: RequestId, body: RejectIn
) -> PortRequestOut:
    """Reject a request, with the reason the customer is shown."""
    view = await port_in.do_reject(ctx, staff, request_id, body.reason)
    return PortRequestOut.of(view, staff, ctx.settings)


@router.post(
    "/admin/numbers/port-ins/{request_id}/complete", response_model=PortRequestOut, tags=["admin"]
)
async def complete_port_in(ctx: Ctx, staff: Staff, request_id: RequestId) -> PortRequestOut:
    """On or after the porting date: the number becomes the requester's, rented."""
    return PortRequestOut.of(await port_in.do_complete(ctx, staff, request_id), staff, ctx.settings)


@router.get(
    "/admin/numbers/port-ins/{request_id}/document",
    tags=["admin"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
async def port_in_document(ctx: Ctx, staff: Staff, request_id: RequestId) -> Response:
    """The authorisation document, decrypted."""
    row, data = await port_in.document_of(ctx, staff, request_id)
    return Response(
        data,
        media_type=row.document_type,
        headers={"Content-Disposition": f'attachment; filename="{row.ref}"'},
    )


# --- the other carriers --------------------------------------------------------------------


@router.post(
    "/porting/carrier/answers",
    response_model=AnsweredOut,
    tags=["porting"],
    summary="The losing carrier's answer to a port-in's checks (signed, idempotent)",
    description=SIGNED,
)
async def carrier_answer(
    ctx: Ctx, request: Request, body: CarrierAnswerIn, signature: Signature = None
) -> AnsweredOut:
    # the body is validated as documented, and its signature checked on the bytes received
    view = await port_in.do_carrier_answer(ctx, signature, await request.body())
    return AnsweredOut(ref=view.ref, state=view.state)


@router.post(
    "/porting/carrier/port-out",
    response_model=PortOutOut,
    tags=["porting"],
    summary="The gaining carrier presents a port-out authorisation code (signed, idempotent)",
    description=SIGNED,
)
async def code_presented(
    ctx: Ctx, request: Request, body: CodePresentedIn, signature: Signature = None
) -> PortOutOut:
    result = await port_out.do_code_presented(ctx, signature, await request.body())
    return PortOutOut(**result.__dict__)

"""REST routes for billing disputes (VP 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yuntong.accounts import roles
from yuntong.accounts.auth import Principal, require_user
from yuntong.billing.disputes import disputes
from yuntong.billing.disputes.disputes import DisputeView
from yuntong.billing.models import DisputeState
from yuntong.core.api_types import BigDbId, DbId, Fen
from yuntong.core.context import Context, get_context

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
DisputeId = Annotated[DbId, Path(description="The dispute's id")]


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: BigDbId = Field(description="the statement line (ledger entry) disputed")
    reason: str = Field(min_length=1, max_length=2000, description="why the customer disputes it")
    amount_fen: Fen | None = Field(
        default=None, description="the amount disputed, fen; default: the whole line"
    )


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000, description="staff's note")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Literal["credit", "explanation"] = Field(
        description="credit: give amount_fen back; explanation: the charge stands, explained"
    )
    amount_fen: Fen | None = Field(default=None, description="the credit, for by=credit")
    note: str = Field(
        max_length=2000,
        description="the explanation shown to the customer (VP 6): required and not blank, "
        "else 422 explanation_required",
    )

    @model_validator(mode="after")
    def _amount_only_for_credit(self) -> ResolveIn:
        if (self.by == "credit") != (self.amount_fen is not None):
            raise ValueError("amount_fen is required for a credit and only for a credit")
        return self


class DisputeEventOut(BaseModel):
    """One step in a dispute's history."""

    at: datetime = Field(description="when it happened")
    action: str = Field(description="opened, investigating, credited or explained")
    by: str = Field(description="customer or operator")
    actor_id: int | None = Field(description="who acted: shown to operator staff only")
    note: str = Field(description="the note given with the step")


class DisputeOut(BaseModel):
    """A customer's dispute of a statement line (VP 6)."""

    id: int = Field(description="the dispute's id")
    account_id: int = Field(description="the billing account")
    statement_id: int = Field(description="the statement the line is on")
    statement_number: str = Field(description="that statement's number")
    entry_id: int = Field(description="the statement line (ledger entry) disputed")
    amount_fen: int = Field(description="the amount disputed, fen")
    reason: str = Field(description="why the customer disputes it")
    state: str = Field(description="open, investigating, credited or explained")
    opened_by: int = Field(description="the user who opened it")
    opened_at: datetime = Field(description="when it was opened")
    resolved_at: datetime | None = Field(description="when it was resolved; null while open")
    credit_entry_id: int | None = Field(
        description="the ledger entry of the credit given, for a credit"
    )
    credited_fen: int = Field(description="the amount credited back, fen (0: none)")
    explanation: str | None = Field(
        description="the operator's explanation of the resolution; null while still open"
    )
    events: list[DisputeEventOut] = Field(description="its history, oldest first")
    actions: list[Literal["investigate", "resolve_credit", "resolve_explanation"]] = Field(
        description="the steps the caller may take on this dispute now (staff only; those its "
        "state allows): investigate (POST …/investigate), resolve_credit and "
        "resolve_explanation (POST …/resolve by credit or explanation)"
    )


def _dispute_out(view: DisputeView, viewer: Principal) -> DisputeOut:
    staff = roles.is_staff(viewer)
    d = view.dispute
    return DisputeOut(
        id=d.id,
        account_id=d.account_id,
        statement_id=d.statement_id,
        statement_number=view.statement_number,
        entry_id=d.entry_id,
        amount_fen=d.amount_fen,
        reason=d.reason,
        state=d.state,
        opened_by=d.opened_by,
        opened_at=d.opened_at,
        resolved_at=d.resolved_at,
        credit_entry_id=d.credit_entry_id,
        credited_fen=view.credited_fen,
        explanation=view.explanation,
        events=[
            DisputeEventOut(
                at=e.at,
                action=e.action,
                by="customer" if e.action == "opened" else "operator",
                actor_id=e.actor_id if staff else None,  # staff identities stay in-house
                note=e.note,
            )
            for e in view.events
        ],
        actions=disputes.dispute_actions(viewer, d),
    )


@router.get("/disputes", response_model=list[DisputeOut])
async def list_disputes(
    ctx: Ctx,
    user: User,
    account_id: Annotated[
        DbId | None, Query(description="the billing account (staff; customers: their own)")
    ] = None,
    state: Annotated[DisputeState | None, Query(description="only disputes in this state")] = None,
) -> list[DisputeOut]:
    """The account's disputes (its own for a customer; every account's for staff without one)."""
    views = await disputes.list_disputes(ctx, user, account_id, state)
    return [_dispute_out(v, user) for v in views]


@router.post("/disputes", response_model=DisputeOut, status_code=201)
async def open_dispute(ctx: Ctx, user: User, body: DisputeIn) -> DisputeOut:
    """A customer disputes a line of one of their statements (all or part of its amount)."""
    view = await disputes.do_open_dispute(ctx, user, body.entry_id, body.reason, body.amount_fen)
    return _dispute_out(view, user)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut)
async def get_dispute(ctx: Ctx, user: User, dispute_id: DisputeId) -> DisputeOut:
    """One dispute with its history (the customer's own; staff: any)."""
    return _dispute_out(await disputes.get_dispute(ctx, user, dispute_id), user)


@router.post("/disputes/{dispute_id}/investigate", response_model=DisputeOut)
async def investigate(ctx: Ctx, user: User, dispute_id: DisputeId, body: NoteIn) -> DisputeOut:
    """Staff take an open dispute up (state investigating)."""
    return _dispute_out(await disputes.do_investigate(ctx, user, dispute_id, body.note), user)


@router.post("/disputes/{dispute_id}/resolve", response_model=DisputeOut)
async def resolve(ctx: Ctx, user: User, dispute_id: DisputeId, body: ResolveIn) -> DisputeOut:
    """Staff resolve a dispute: by a credit of ``amount_fen``, or by an explanation; the
    customer is told either way."""
    if body.by == "credit":
        assert body.amount_fen is not None  # the model requires it for a credit
        view = await disputes.do_resolve_by_credit(
            ctx, user, dispute_id, body.amount_fen, body.note
        )
    else:
        view = await disputes.do_resolve_by_explanation(ctx, user, dispute_id, body.note)
    return _dispute_out(view, user)

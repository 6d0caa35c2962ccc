"""REST routes for billing: price list, account and credit limit, orders, statements (JSON,
PDF, CSV), payments and the provider webhook, notices, and the operator's billing desk."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts import roles
from yuntong.accounts.auth import Principal, require_user
from yuntong.billing import worker
from yuntong.billing.catalog import catalog
from yuntong.billing.catalog.tariff import USAGE_TYPES
from yuntong.billing.collections import dunning, lifecycle
from yuntong.billing.disputes import disputes
from yuntong.billing.ledger import accounts as billing_accounts
from yuntong.billing.ledger import credit, rating
from yuntong.billing.models import Statement
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import statements
from yuntong.billing.statements import view as views
from yuntong.billing.statements.documents import (
    ReceiptView,
    receipt_pdf,
    statement_csv,
    statement_pdf,
)
from yuntong.core.api_types import DbId, NonNegativeFen, Seconds
from yuntong.core.context import Context, get_context
from yuntong.core.errors import YuntongError, allows
from yuntong.core.i18n import request_locale, translate
from yuntong.core.money import parse_yuan
from yuntong.notifications import notices

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
AccountQuery = Annotated[DbId | None, Query(description="staff: the account to act on")]
AccountId = Annotated[DbId, Path(description="The billing account's id")]
StatementId = Annotated[DbId, Path(description="The statement's id")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- price list and catalog ---------------------------------------------------------------------


@router.get("/price-list", summary="The published price list (no login needed)")
async def get_price_list(ctx: Ctx) -> list[dict[str, Any]]:
    """Every product on sale (packages and value-added services), each with its price in force
    today and any scheduled next price (monthly fee, allowances, per-minute rates)."""
    return await catalog.price_list(ctx)


@router.get("/catalog", summary="Staff: every product with its current and next price")
async def get_catalog(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """The price list's shape, with products no longer on sale too."""
    roles.check_staff(user)
    return await catalog.price_list(ctx, include_inactive=True)


@router.get("/usage-types", summary="What can be rated: codes and names (zh-CN, en)")
async def get_usage_types() -> list[dict[str, str]]:
    """Each usage type as ``{code, name_zh, name_en}`` (the keys of allowances and rates)."""
    return [
        {"code": u.code, "name_zh": u.name_zh, "name_en": u.name_en} for u in USAGE_TYPES.values()
    ]


class ProductIn(Strict):
    code: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{1,39}$", description="Stable code customers order by"
    )
    kind: Literal["package", "addon"] = Field(
        description="package (one per account) or addon (a value-added service)"
    )
    name_zh: str = Field(min_length=1, max_length=100, description="Name in Chinese")
    name_en: str = Field(min_length=1, max_length=100, description="Name in English")
    description_zh: str = Field(default="", max_length=2000, description="Description, Chinese")
    description_en: str = Field(default="", max_length=2000, description="Description, English")
    is_default: bool = Field(default=False, description="The package new accounts start on")


class PriceIn(Strict):
    effective_on: date = Field(description="The day this price takes effect (not in the past)")
    monthly_fee_fen: NonNegativeFen = Field(description="Monthly fee, fen")
    allowances: dict[str, Seconds] = Field(default_factory=dict, description="usage type → seconds")
    rates: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='usage type → {"per_minute_fen": "15", "increment": "6/6", '
        '"connect_fee_fen": 0}',
    )
    note: str = Field(default="", max_length=500, description="Staff's note on the change")


class CorrectionIn(Strict):
    rates: dict[str, dict[str, Any]] = Field(description="The corrected rates, as in PriceIn.rates")
    allowances: dict[str, Seconds] | None = Field(
        default=None, description="Corrected allowances (omit: unchanged)"
    )
    note: str = Field(min_length=1, max_length=500, description="What was wrong")


@router.post("/products", status_code=201)
async def create_product(ctx: Ctx, user: User, body: ProductIn) -> dict[str, Any]:
    """Staff: add a product to the catalog (priced next, by POST …/prices); answers
    ``{id, code}``."""
    product = await catalog.do_create_product(ctx, user, **body.model_dump())
    return {"id": product.id, "code": product.code}


@router.post("/products/{product_id}/prices", status_code=201)
async def set_price(
    ctx: Ctx,
    user: User,
    product_id: Annotated[DbId, Path(description="The product's id")],
    body: PriceIn,
) -> dict[str, Any]:
    """Staff: schedule a new price version of a product from ``effective_on``."""
    price = await catalog.do_set_price(ctx, user, product_id, **body.model_dump())
    return catalog.price_summary(price) or {}


@router.post("/prices/{price_id}/corrections", status_code=201)
async def correct_price(
    ctx: Ctx,
    user: User,
    price_id: Annotated[DbId, Path(description="The price version's id")],
    body: CorrectionIn,
) -> dict[str, Any]:
    """Correct a tariff error in a price already in force; its usage is re-rated."""
    fixed, adjustments = await rating.do_correct_price(ctx, user, price_id, **body.model_dump())
    return {"price": catalog.price_summary(fixed), "adjustments": adjustments}


# -- the account ---------------------------------------------------------------------------------


class BillingAccountOut(BaseModel):
    """A billing account as the caller sees it, with what the caller may do to it now (the
    checks the routes run; the pages show these and derive nothing)."""

    id: int = Field(description="The billing account's id")
    organisation_id: int | None = Field(description="The organisation it bills, if any")
    user_id: int | None = Field(description="The individual it bills, if any")
    kind: str = Field(description="postpaid or prepaid")
    credit_limit_fen: int = Field(description="Credit limit, fen (postpaid)")
    state: str = Field(description="active, suspended, held, terminating or terminated")
    state_reason: str | None = Field(description="Why it is in its state, if given")
    in_collections: bool = Field(description="Overdue amounts are being collected")
    close_day: int = Field(description="Day of the month the billing cycle closes")
    balance_fen: int = Field(description="Owed, fen (negative: in credit)")
    available_fen: int = Field(description="What may still be spent, fen")
    credit_used_percent: int = Field(description="Share of the credit limit used, percent")
    credit_limit_min_fen: int = Field(description="The lowest credit limit allowed, fen")
    credit_limit_max_fen: int = Field(description="The highest credit limit allowed, fen")
    credit_exhausted: bool = Field(description="Chargeable services pause: the credit is used up")
    # what the customer must be told about the account's standing (credit_exhausted, or the
    # state when not active); None: all is well
    attention: str | None = Field(
        description="What the customer must be told about the account's standing "
        "(credit_exhausted, or the state when not active); null: all is well"
    )
    actions: list[str] = Field(
        description="the desk's steps the caller may take now (staff: hold, release, suspend)"
    )
    can_terminate: bool = Field(description="POST /billing/terminate would start termination")
    can_change_credit_limit: bool = Field(description="PUT /billing/account/credit-limit")


async def _account_out(ctx: Context, actor: Principal, account_id: int) -> BillingAccountOut:
    account = await billing_accounts.get_account(ctx, account_id)
    st = await credit.standing(ctx, account_id)
    return BillingAccountOut(
        **billing_accounts.account_summary(account),
        balance_fen=st.balance_fen,
        available_fen=st.available_fen,
        credit_used_percent=credit.limit_used_percent(st.kind, st.credit_limit_fen, st.balance_fen),
        credit_limit_min_fen=ctx.settings.billing_credit_limit_min_fen,
        credit_limit_max_fen=ctx.settings.billing_credit_limit_max_fen,
        credit_exhausted=credit.credit_exhausted(st),
        attention=credit.attention(st),
        actions=lifecycle.account_actions(actor, account.state),
        can_terminate=allows(lambda: lifecycle.check_may_request_termination(account.state)),
        can_change_credit_limit=allows(
            lambda: billing_accounts.check_may_change_credit_limit(account)
        ),
    )


@router.get(
    "/account",
    response_model=BillingAccountOut,
    summary="Your billing account: balance, credit limit, state",
)
async def get_account(ctx: Ctx, user: User, account_id: AccountQuery = None) -> BillingAccountOut:
    """The caller's billing account (staff: the one named) with what the caller may do to it."""
    account = await billing_accounts.account_for_actor(ctx, user, account_id)
    return await _account_out(ctx, user, account.id)


class CreditLimitIn(Strict):
    credit_limit_fen: NonNegativeFen = Field(
        description="New credit limit, fen (within the account's min and max)"
    )


@router.put("/account/credit-limit", response_model=BillingAccountOut)
async def put_credit_limit(
    ctx: Ctx, user: User, body: CreditLimitIn, account_id: AccountQuery = None
) -> BillingAccountOut:
    """Change a postpaid account's credit limit."""
    account = await billing_accounts.do_set_credit_limit(
        ctx, user, account_id, body.credit_limit_fen
    )
    return await _account_out(ctx, user, account.id)


# -- orders and subscriptions -------------------------------------------------------------------


class OrderIn(Strict):
    product_codes: list[str] = Field(
        min_length=1, max_length=20, description="Codes of the products ordered (price list)"
    )
    idempotency_key: str | None = Field(
        default=None,
        max_length=80,
        description="A key of the client's: the same order sent again with it is placed once",
    )


class CancelIn(Strict):
    product_code: str = Field(max_length=40, description="The subscribed product's code")


def _order_out(order: Any) -> dict[str, Any]:
    return {
        "id": order.id,
        "kind": order.kind,
        "placed_at": order.placed_at.isoformat(),
        "document": order.document,
    }


@router.post("/orders", status_code=201, summary="Order a package and/or value-added services")
async def place_order(
    ctx: Ctx, user: User, body: OrderIn, account_id: AccountQuery = None
) -> dict[str, Any]:
    """Subscribe to a package and/or value-added services from the price list; answers the
    order ``{id, kind, placed_at, document}`` (the order document with its terms)."""
    order = await orders.do_place_order(
        ctx, user, account_id, body.product_codes, body.idempotency_key
    )
    return _order_out(order)


@router.get("/orders")
async def list_orders(
    ctx: Ctx, user: User, account_id: AccountQuery = None
) -> list[dict[str, Any]]:
    """The account's orders, newest first: ``{id, kind, placed_at, document}``."""
    return [_order_out(o) for o in await orders.list_orders(ctx, user, account_id)]


@router.post("/subscriptions/cancel", summary="End a subscription at the end of this cycle")
async def cancel_subscription(
    ctx: Ctx, user: User, body: CancelIn, account_id: AccountQuery = None
) -> dict[str, Any]:
    """Cancel a subscription: it runs to the end of the current cycle; answers the
    cancellation order."""
    return _order_out(await orders.do_cancel_product(ctx, user, account_id, body.product_code))


@router.get("/subscriptions")
async def list_subscriptions(
    ctx: Ctx, user: User, account_id: AccountQuery = None
) -> list[dict[str, Any]]:
    """The account's subscriptions: ``{id, product_code, kind, name_zh, name_en, starts_at,
    ends_at, live, can_cancel}`` (``ends_at`` null: until cancelled)."""
    return [
        {
            "id": sub.id,
            "product_code": product.code,
            "kind": product.kind,
            "name_zh": product.name_zh,
            "name_en": product.name_en,
            "starts_at": sub.starts_at.isoformat(),
            "ends_at": sub.ends_at.isoformat() if sub.ends_at else None,
            **orders.subscription_flags(sub, ctx.clock.now()),
        }
        for sub, product in await orders.list_subscriptions(ctx, user, account_id)
    ]


# -- statements ---------------------------------------------------------------------------------


def _statement_out(st: Statement) -> dict[str, Any]:
    return {
        "id": st.id,
        "number": st.number,
        "kind": st.kind,
        "cycle": st.cycle,
        "period_start": st.period_start.isoformat(),
        "period_end": st.period_end.isoformat(),
        "issued_at": st.issued_at.isoformat(),
        "due_on": st.due_on.isoformat(),
        "previous_balance_fen": st.previous_balance_fen,
        "payments_fen": st.payments_fen,
        "charges_fen": st.charges_fen,
        "total_due_fen": st.total_due_fen,
    }


def _view_out(view: Any) -> dict[str, Any]:
    return {
        "number": view.number,
        "customer_name": view.customer_name,
        # the days covered, both included (a cycle's period_end is the next one's first moment)
        "period_first_day": view.period_first_day.isoformat(),
        "period_last_day": view.period_last_day.isoformat(),
        "total_due_fen": view.total_due_fen,
        "previous_balance_fen": view.previous_balance_fen,
        "payments_fen": view.payments_fen,
        "charges_fen": view.charges_fen,
        "lines": [
            {
                "occurred_at": line.occurred_at.isoformat(),
                "kind": line.kind,
                "description": line.description,
                "other_party": line.other_party,
                "duration_s": line.duration_s,
                "rate": line.rate,
                "amount_fen": line.amount_fen,
                "entry_id": line.entry_id,
            }
            for line in view.lines
        ],
    }


@router.get("/statements")
async def list_statements(
    ctx: Ctx, user: User, account_id: AccountQuery = None
) -> list[dict[str, Any]]:
    """The account's statements, newest first: number, cycle, period, issue and due dates,
    previous balance, payments, charges and total due (fen)."""
    return [_statement_out(st) for st in await views.list_statements(ctx, user, account_id)]


async def _view(ctx: Context, user: Principal, statement_id: int, request: Request) -> Any:
    st = await views.get_statement(ctx, user, statement_id)
    account = await billing_accounts.get_account(ctx, st.account_id)
    return st, await views.statement_view(ctx, account, st, request_locale(request))


@router.get("/statements/{statement_id}", summary="A statement with every line")
async def get_statement(
    ctx: Ctx, user: User, statement_id: StatementId, request: Request
) -> dict[str, Any]:
    """The statement's totals and every line (time, kind, description, other party, duration,
    rate, amount), each with how much of it may still be disputed."""
    st, view = await _view(ctx, user, statement_id, request)
    out = {**_statement_out(st), **_view_out(view)}
    disputable = await disputes.disputable_lines(ctx, st.id)
    for line in out["lines"]:
        line["disputable_fen"] = disputable.get(line["entry_id"], 0)
        line["can_dispute"] = line["disputable_fen"] > 0
    return out


@router.get("/statements/{statement_id}/pdf", response_class=Response)
async def get_statement_pdf(
    ctx: Ctx, user: User, statement_id: StatementId, request: Request
) -> Response:
    """The statement as a PDF document, in the request's language."""
    st, view = await _view(ctx, user, statement_id, request)
    return _download(statement_pdf(view), "application/pdf", f"{st.number}.pdf")


@router.get("/statements/{statement_id}/csv", response_class=Response)
async def get_statement_csv(
    ctx: Ctx, user: User, statement_id: StatementId, request: Request
) -> Response:
    """The statement's lines as a CSV file."""
    st, view = await _view(ctx, user, statement_id, request)
    return _download(statement_csv(view), "text/csv; charset=utf-8", f"{st.number}.csv")


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/bill-to-date",
    summary="The itemised bill of the current cycle so far",
    description="Calls appear once rated, within seconds of their end.",
)
async def bill_to_date(
    ctx: Ctx, user: User, request: Request, account_id: AccountQuery = None
) -> dict[str, Any]:
    account = await billing_accounts.account_for_actor(ctx, user, account_id)
    view = await views.statement_view(ctx, account, None, request_locale(request))
    return _view_out(view)


# -- payments -------------------------------------------------------------------------------


class PaymentIn(Strict):
    account_id: DbId = Field(description="The billing account paid to")
    amount: str = Field(description='yuan, e.g. "120.50"', max_length=20)
    currency: str = Field(default="CNY", max_length=8, description="Only CNY is accepted")
    method: Literal["bank_transfer", "cash", "card"] = Field(description="How it was paid")
    statement_id: DbId | None = Field(
        default=None, description="The statement it pays (default: the oldest amounts owed)"
    )
    received_at: datetime | None = Field(default=None, description="When received (default: now)")
    idempotency_key: str = Field(
        min_length=1, max_length=80, description="The same payment sent again is recorded once"
    )


def _payment_out(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "receipt_number": p.receipt_number,
        "account_id": p.account_id,
        "amount_fen": p.amount_fen,
        "method": p.method,
        "statement_id": p.statement_id,
        "received_at": p.received_at.isoformat(),
    }


@router.post("/payments", status_code=201, summary="Staff: record a payment")
async def record_payment(ctx: Ctx, user: User, body: PaymentIn) -> dict[str, Any]:
    """Record a payment received at the desk; answers ``{id, receipt_number, account_id,
    amount_fen, method, statement_id, received_at}``."""
    try:
        amount = parse_yuan(body.amount)
    except ValueError as exc:
        raise YuntongError("invalid_amount", reason=str(exc)) from exc
    payment = await payments.do_record_payment(
        ctx,
        user,
        payments.PaymentIn(
            account_id=body.account_id,
            amount_fen=amount,
            method=body.method,
            key=f"staff:{body.idempotency_key}",
            currency=body.currency,
            statement_id=body.statement_id,
            received_at=body.received_at,
        ),
    )
    return _payment_out(payment)


@router.get("/payments")
async def list_payments(
    ctx: Ctx, user: User, account_id: AccountQuery = None
) -> list[dict[str, Any]]:
    """The account's payments: ``{id, receipt_number, account_id, amount_fen, method,
    statement_id, received_at}``."""
    account = await billing_accounts.account_for_actor(ctx, user, account_id)
    return [_payment_out(p) for p in await payments.list_payments(ctx, account.id)]


@router.get("/payments/{payment_id}/receipt", response_class=Response)
async def get_receipt(
    ctx: Ctx,
    user: User,
    payment_id: Annotated[DbId, Path(description="The payment's id")],
    request: Request,
) -> Response:
    """The payment's receipt as a PDF document."""
    payment = await payments.get_payment(ctx, payment_id)
    account = await billing_accounts.account_for_actor(ctx, user, payment.account_id)
    locale = request_locale(request)
    view = ReceiptView(
        receipt_number=payment.receipt_number,
        locale=locale,
        timezone=ctx.settings.business_timezone,
        operator_name=translate("operator.name", locale),
        customer_name=await billing_accounts.holder_name(ctx, account),
        account_id=account.id,
        received_at=payment.received_at,
        amount_fen=payment.amount_fen,
        method=translate(f"payment.method.{payment.method}", locale),
        reference=payment.provider_ref or "",
    )
    return _download(receipt_pdf(view), "application/pdf", f"{payment.receipt_number}.pdf")


@router.post(
    "/webhooks/payments/{provider}",
    summary="Payment provider webhook (HMAC-SHA256 signed, idempotent)",
    description='Header `X-Yuntong-Signature: t=<unix>,v1=<hex>`, the HMAC-SHA256 of "<t>." + '
    'body with the shared secret. Body: {"payment_id", "account_id", "amount": "12.34", '
    '"currency": "CNY", "statement_id"?, "paid_at"?}.',
)
async def payment_webhook(
    ctx: Ctx,
    provider: Annotated[str, Path(description="The payment provider's name (configured)")],
    request: Request,
    signature: Annotated[
        str | None,
        Header(alias=payments.SIGNATURE_HEADER, description="t=<unix>,v1=<hex HMAC-SHA256>"),
    ] = None,
) -> dict[str, Any]:
    if len(provider) > 32 or not provider.isidentifier():
        raise YuntongError("not_found")
    raw = await request.body()
    payment = await payments.do_receive_webhook(ctx, provider, signature, raw)
    return {"receipt_number": payment.receipt_number, "amount_fen": payment.amount_fen}


# -- notices and the account's life -----------------------------------------------------------


@router.get("/notices")
async def list_notices(
    ctx: Ctx, user: User, request: Request, account_id: AccountQuery = None
) -> list[dict[str, Any]]:
    """The account's notices (reminders, suspension warnings…): ``{id, kind, subject, body,
    created_at, read}``, in the request's language."""
    account = await billing_accounts.account_for_actor(ctx, user, account_id)
    locale = request_locale(request)
    out = []
    for notice in await notices.list_notices(ctx, account.id):
        subject, body = notices.notice_text(notice, locale)
        out.append(
            {
                "id": notice.id,
                "kind": notice.kind,
                "subject": subject,
                "body": body,
                "created_at": notice.created_at.isoformat(),
                "read": notice.read_at is not None,
            }
        )
    return out


@router.post("/notices/read", status_code=204)
async def read_notices(ctx: Ctx, user: User, account_id: AccountQuery = None) -> Response:
    """Mark every notice of the account read."""
    account = await billing_accounts.account_for_actor(ctx, user, account_id)
    await notices.do_mark_read(ctx, account.id)
    return Response(status_code=204)


class TerminationOut(BaseModel):
    account: BillingAccountOut = Field(description="The account, now terminating")
    final_statement: dict[str, Any] = Field(
        description="The final statement (as in GET /billing/statements): once it is paid the "
        "account is terminated"
    )


@router.post(
    "/terminate",
    response_model=TerminationOut,
    summary="Ask to terminate: final statement; completes once paid",
)
async def request_termination(
    ctx: Ctx, user: User, account_id: AccountQuery = None
) -> TerminationOut:
    """Ask to terminate the account: a final statement is issued now, and the account is
    terminated once it is paid."""
    account, final = await lifecycle.do_request_termination(ctx, user, account_id)
    return TerminationOut(
        account=await _account_out(ctx, user, account.id),
        final_statement=_statement_out(final),
    )


# -- the operator's billing desk ----------------------------------------------------------------


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the history)")


class KindIn(Strict):
    kind: Literal["postpaid", "prepaid"] = Field(description="The account's new kind")


@router.post("/accounts/{account_id}/kind", response_model=BillingAccountOut)
async def set_kind(ctx: Ctx, user: User, account_id: AccountId, body: KindIn) -> BillingAccountOut:
    """Staff: make an account postpaid or prepaid."""
    await billing_accounts.do_set_kind(ctx, user, account_id, body.kind)
    return await _account_out(ctx, user, account_id)


@router.post(
    "/accounts/{account_id}/hold",
    response_model=BillingAccountOut,
    summary="Staff: lawful suspension (rent continues)",
)
async def hold(ctx: Ctx, user: User, account_id: AccountId, body: ReasonIn) -> BillingAccountOut:
    """Staff: hold the account's services on a lawful request; the monthly fee continues."""
    await lifecycle.do_hold(ctx, user, account_id, body.reason)
    return await _account_out(ctx, user, account_id)


@router.post("/accounts/{account_id}/release", response_model=BillingAccountOut)
async def release(ctx: Ctx, user: User, account_id: AccountId, body: ReasonIn) -> BillingAccountOut:
    """Staff: end a hold; the account is active again."""
    await lifecycle.do_release(ctx, user, account_id, body.reason)
    return await _account_out(ctx, user, account_id)


@router.post(
    "/accounts/{account_id}/suspend",
    response_model=BillingAccountOut,
    summary="Staff: confirm a suspension for arrears",
)
async def confirm_suspension(ctx: Ctx, user: User, account_id: AccountId) -> BillingAccountOut:
    """Staff: suspend an account whose arrears have passed the suspension date."""
    await lifecycle.do_confirm_suspension(ctx, user, account_id)
    return await _account_out(ctx, user, account_id)


@router.post("/cycles/{label}/close", summary="Staff: close a billing cycle (idempotent)")
async def close_cycle(
    ctx: Ctx,
    user: User,
    label: Annotated[str, Path(description="The cycle, e.g. 2026-01")],
) -> dict[str, Any]:
    """Issue the statements of a cycle now (the billing worker does it by itself); answers
    ``{cycle, issued, already, empty, not_due}`` counts of accounts."""
    roles.check_staff(user)
    result = await statements.do_close_cycle(ctx, label)
    return result.__dict__


@router.post("/daily-run", summary="Staff: run late fees, reminders and suspensions now")
async def daily_run(ctx: Ctx, user: User) -> dict[str, Any]:
    """Run the daily collections pass now (normally the billing worker's): answers what it
    did, counted."""
    roles.check_staff(user)
    result = await worker.do_daily_run_now(ctx)
    return {k: str(v) if isinstance(v, date) else v for k, v in result.__dict__.items()}


@router.get("/dunning", summary="Staff: accounts with overdue amounts")
async def dunning_view(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Every account with overdue amounts, oldest first: account_id, state, overdue_fen,
    disputed_fen, oldest_due, days_overdue, the suspension and termination dates, and the
    desk's steps the caller may take (actions)."""
    roles.check_staff(user)
    rows = await dunning.dunning_list(ctx)
    return [{**row, "actions": lifecycle.account_actions(user, row["state"])} for row in rows]

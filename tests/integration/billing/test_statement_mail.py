"""Statements reach the customer by e-mail (a real SMTP server), once, with PDF and CSV."""

from __future__ import annotations

import csv
import io
from email.message import EmailMessage
from typing import Any

import pytest

from tests.integration.accounts.conftest import active_user
from tests.integration.billing.conftest import beijing, move_to, product
from tests.support import smtp
from tests.support.smtp import SmtpSink
from yuntong.accounts import identity
from yuntong.accounts.auth import Principal, principal_for
from yuntong.billing.orders import orders
from yuntong.core.context import Context
from yuntong.notifications import notices

smtp_sink = smtp.smtp_sink  # the fixture, under its own name


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    return {"billing_close_day": 1, "smtp_host": "127.0.0.1", "smtp_port": smtp_sink.port}


def attachments(message: EmailMessage) -> dict[str, bytes]:
    found = {}
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        name = part.get_filename()
        assert name is not None
        payload = part.get_content()
        found[name] = payload if isinstance(payload, bytes) else payload.encode("utf-8-sig")
    return found


async def test_the_first_statement_is_mailed_once_with_pdf_and_csv(
    ctx: Context, staff: Principal, smtp_sink: SmtpSink
) -> None:
    user = await active_user(ctx, staff, 71)
    customer = principal_for(user, "", "cli")
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=5800)
    await orders.do_place_order(ctx, customer, None, [package.code])

    assert await notices.do_deliver_pending(ctx) == 1
    assert await notices.do_deliver_pending(ctx) == 0  # delivering again sends nothing
    [message] = await smtp_sink.wait_for(1)
    assert message["To"] == identity.user_email(ctx, user) == "person71@example.com"
    assert "58.00" in str(message["Subject"])
    files = attachments(message)
    pdf = next(v for k, v in files.items() if k.endswith(".pdf"))
    assert pdf.startswith(b"%PDF")
    table = next(v for k, v in files.items() if k.endswith(".csv")).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[-1][-1] == "58.00"

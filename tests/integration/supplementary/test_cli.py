"""``yuntong services``: show and change a user's services from the command line, under the
same rules as the API, and add the services to the catalogue (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.integration.accounts.conftest import run_cli
from tests.integration.supplementary.conftest import Make
from tests.support.inprocess import InProcessServer
from yuntong.billing.ledger.accounts import account_for_user
from yuntong.billing.models import Subscription


async def test_services_show_set_and_products(server: InProcessServer, subscriber: Make) -> None:
    ctx = server.app_context
    bob = await subscriber("forwarding", "clip")
    carol = await subscriber()
    # the CLI runs on the wall clock, the shared server on a fake one other tests moved ahead:
    # the orders are live for both
    account = await account_for_user(ctx, bob.user_id)
    async with (await server.context()).db.session() as s:
        await s.execute(
            update(Subscription)
            .where(Subscription.account_id == account.id)
            .values(starts_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    done = await run_cli(ctx, "services", "set", bob.username, f"cfu={carol.number}", "clip=on")
    assert done.exit_code == 0, done.output
    assert f"cfu={carol.e164}" in done.output and "clip=True" in done.output
    shown = await run_cli(ctx, "services", "show", bob.username)
    assert shown.exit_code == 0, shown.output
    assert carol.e164 in shown.output
    assert "ordered: clip, forwarding" in shown.output
    refused = await run_cli(ctx, "services", "set", carol.username, "bar_outgoing=on")
    assert refused.exit_code == 1
    assert "service_not_ordered" in refused.output
    again = await run_cli(ctx, "services", "products")
    assert again.exit_code == 0, again.output
    assert "all services are in the catalogue" in again.output

import asyncio
from tests.integration.billing.test_disputes import customer, statement_with, credit_entries, person
from yuntong.billing.disputes import do_open_dispute, do_resolve_by_credit
from yuntong.billing.incidents import do_apply_incident_credits


async def test_concurrent(ctx):
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line] = await statement_with(ctx, account, 3000)
    results = await asyncio.gather(*(do_open_dispute(ctx, me, line.id, "x") for _ in range(3)), return_exceptions=True)
    print([type(r).__name__ + str(getattr(r, 'code', r)) for r in results])
    d = next(r for r in results if not isinstance(r, Exception))
    results = await asyncio.gather(*(do_resolve_by_credit(ctx, staff, d.dispute.id, 3000, "") for _ in range(3)), return_exceptions=True)
    print([type(r).__name__ + str(getattr(r, 'code', '')) for r in results])
    assert len(await credit_entries(ctx, account.id)) == 1

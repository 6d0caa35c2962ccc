"""``yuntong numbers``: an operator imports a block from the terminal, finds a number, and
assigns it to a customer, who is billed its rent."""

from __future__ import annotations

import pytest

from tests.integration.accounts.conftest import run_cli
from tests.integration.numbers.conftest import fresh_range
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.numbers.directory import user_for_number

pytestmark = pytest.mark.usefixtures("tiers")


async def test_an_operator_imports_searches_and_assigns_from_the_terminal(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    start, end = fresh_range(20)
    args = ["numbers", "import", "--carrier", "中国移动", "--source-ref", "批文 11"]
    imported = await run_cli(ctx, *args, "--start", start, "--end", end, "--as", staff.username)
    assert imported.exit_code == 0, imported.output
    assert "20 imported, 0 already in the inventory, 0 invalid" in imported.output
    again = await run_cli(ctx, *args, "--start", start, "--end", end)
    assert "0 imported, 20 already in the inventory" in again.output

    found = await run_cli(ctx, "numbers", "search", "--prefix", start[:7], "--pattern", "AABB")
    assert found.exit_code == 0, found.output
    assert f"{start[:-4]}0011" in found.output and "gold" in found.output
    plain = f"{start[:-1]}3"
    done = await run_cli(ctx, "numbers", "assign", plain, "--for", customer.username)
    assert done.exit_code == 0, done.output
    assert "tier standard" in done.output
    assert await user_for_number(ctx, staff.user_id, f"+86{plain}") == customer.user_id

    listed = await run_cli(ctx, "numbers", "list", "--state", "assigned", "--prefix", start[:7])
    assert plain in listed.output and "1 numbers" in listed.output
    refused = await run_cli(ctx, "numbers", "block", plain, "--reason", "x")
    assert refused.exit_code == 1 and "number_transition_refused" in refused.output

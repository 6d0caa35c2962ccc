"""``yuntong tariffs``: an operator imports the tables from files, looks up a number and reads
the margins; a faulty file is refused with its lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.integration.accounts.conftest import run_cli
from tests.integration.tariffs.conftest import COSTS, PRICES, charge
from yuntong.accounts.auth import Principal
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.tariffs.margins import today


async def test_an_operator_imports_quotes_and_reads_margins(
    ctx: Context, staff: Principal, customer: Principal, tmp_path: Path
) -> None:
    prices, costs, bad = tmp_path / "prices.csv", tmp_path / "costs.csv", tmp_path / "bad.csv"
    prices.write_text(PRICES, encoding="utf-8")
    costs.write_text(COSTS, encoding="utf-8")
    bad.write_text(PRICES + "8612,mobile,手机,M,12,9999\n", encoding="utf-8")
    refused = await run_cli(ctx, "tariffs", "import", "prices", str(bad))
    assert refused.exit_code == 1
    assert "line 8: increment" in refused.output and "tariff_table_invalid" in refused.output
    done = await run_cli(ctx, "tariffs", "import", "prices", str(prices), "--as", staff.username)
    assert done.exit_code == 0, done.output
    assert "Price table: version" in done.output and "6 rows" in done.output
    done = await run_cli(ctx, "tariffs", "import", "costs", "ct-bj", str(costs))
    assert done.exit_code == 0 and "Cost table of ct-bj" in done.output, done.output

    quoted = await run_cli(ctx, "tariffs", "quote", "+1 415 555 0100", "--trunk", "ct-bj")
    assert quoted.exit_code == 0, quoted.output
    assert "USA and Canada" in quoted.output and "price 0.80 a minute, billed per 6 s" in (
        quoted.output
    )
    assert "cost on ct-bj: 0.40 a minute" in quoted.output
    unknown = await run_cli(ctx, "tariffs", "quote", "+49 30 1234567")
    assert unknown.exit_code == 1 and "tariff_no_rate" in unknown.output

    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.set(datetime.now(UTC))  # the CLI imported on the wall clock: in force from now
    answered = ctx.clock.now()
    await charge(ctx, customer, "cli-1", "+8613912345678", 200, answered=answered)
    out = tmp_path / "margins.csv"
    day = today(ctx).isoformat()
    report = await run_cli(ctx, "tariffs", "margins", "--from", day, "--to", day, "--csv", str(out))
    assert report.exit_code == 0, report.output
    # 200 s → 4 minutes: 48 fen, cost 20, margin 28
    assert "ct-bj" in report.output and "0.48" in report.output and "0.28" in report.output
    assert out.read_text().splitlines()[1] == "ct-bj,mobile,1,200,4,48,20,28,0"

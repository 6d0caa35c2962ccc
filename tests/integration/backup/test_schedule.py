"""The daily backup: made and verified once per business day from backup_hour by the billing
worker's pass, under the job's lease; retention keeps what the settings say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.backup.conftest import KEY
from tests.integration.billing.conftest import beijing, move_to
from yuntong.backup import schedule, service
from yuntong.billing import worker
from yuntong.core.context import Context


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {
        "backup_key": KEY,
        "backup_dir": tmp_path / "backups",
        "backup_hour": 3,
        "backup_keep_daily": 1,
        "backup_keep_monthly": 0,
    }


async def _pass(ctx: Context) -> None:
    """One pass of the billing worker, and the backup it started (if any) to its end."""
    slot = ctx.services.get(schedule.RUNNING)
    before = slot.value
    await worker.do_pass(ctx, 1)
    if slot.value is not None and slot.value is not before:
        await slot.value


async def test_one_verified_backup_a_day_from_the_hour_set_and_retention(ctx: Context) -> None:
    move_to(ctx, beijing(2026, 12, 2, 2, 30))
    await _pass(ctx)
    assert service.list_backups(ctx.settings) == []  # before backup_hour

    move_to(ctx, beijing(2026, 12, 2, 3, 10))
    await _pass(ctx)
    (first,) = service.list_backups(ctx.settings)
    assert first.verified_ok is True
    move_to(ctx, beijing(2026, 12, 2, 9))
    await _pass(ctx)
    assert [b.name for b in service.list_backups(ctx.settings)] == [first.name]  # once a day

    move_to(ctx, beijing(2026, 12, 3, 3, 5))
    await _pass(ctx)
    (second,) = service.list_backups(ctx.settings)  # keep 1 day, 0 months: the newest only
    assert second.name != first.name and second.verified_ok is True


async def test_no_backup_folder_no_scheduled_backup(ctx: Context) -> None:
    ctx.settings.backup_dir = None
    move_to(ctx, beijing(2026, 12, 2, 4))
    await _pass(ctx)
    assert ctx.services.get(schedule.RUNNING).value is None

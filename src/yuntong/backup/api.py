"""REST: the recent backups and their verification, read-only, for operator staff (backups are
made and restored with ``yuntong backup``; docs/backup.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.backup import service
from yuntong.core.context import Context, get_context

router = APIRouter(prefix="/api/v1/admin/backups", tags=["ops"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class BackupOut(BaseModel):
    name: str = Field(description="the backup's folder name (yuntong-YYYYmmddTHHMMSSZ)")
    created_at: datetime = Field(description="when the backup was taken (UTC)")
    backend: str = Field(description="the database backed up: sqlite or postgresql")
    schema_revision: str = Field(description="the database's schema (Alembic) revision")
    tables: int = Field(description="tables in the backup")
    rows: int = Field(description="rows in all tables, as counted when the backup was taken")
    files: int = Field(description="data files (recordings, porting documents, schedules)")
    size_bytes: int = Field(description="the backup's size on disk, encrypted")
    verified_at: datetime | None = Field(description="the last verification; null: never")
    verified_ok: bool | None = Field(
        description="whether the last verification found every row and file; null: never"
    )
    problem: str = Field(description="what the last failed verification found (error code)")


@router.get(
    "",
    response_model=list[BackupOut],
    summary="Recent backups",
    description="The newest backups in the backup folder (YUNTONG_BACKUP_DIR), newest first, "
    "with their last verification; empty when no backup folder is set. Operator staff only.",
)
async def list_backups(ctx: Ctx, user: User) -> list[BackupOut]:
    return [
        BackupOut(
            name=v.name,
            created_at=v.created_at,
            backend=v.backend,
            schema_revision=v.schema_revision,
            tables=v.tables,
            rows=v.rows,
            files=v.files,
            size_bytes=v.size_bytes,
            verified_at=v.verified_at,
            verified_ok=v.verified_ok,
            problem=v.problem,
        )
        for v in await service.recent_backups(ctx, user)
    ]

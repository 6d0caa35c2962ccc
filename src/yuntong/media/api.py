"""REST routes of media: the ICE servers a browser or ``yuntong call`` uses for WebRTC."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.context import Context, get_context
from yuntong.media import turn

router = APIRouter(prefix="/api/v1", tags=["media"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class IceServer(BaseModel):
    urls: list[str] | str
    username: str | None = None
    credential: str | None = None


class IceServers(BaseModel):
    ice_servers: list[IceServer]
    ttl_s: int


@router.get("/ice-servers", response_model=IceServers)
async def ice_servers(ctx: Ctx, user: User) -> dict[str, Any]:
    """STUN and time-limited TURN credentials (TURN REST API scheme) for this user."""
    servers = turn.ice_servers_for(ctx, user.user_id)
    return {"ice_servers": servers, "ttl_s": ctx.settings.turn_credential_ttl_s}

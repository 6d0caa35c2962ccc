"""REST routes of media: the ICE servers a browser or ``yuntong call`` uses for WebRTC."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.context import Context, get_context
from yuntong.media import turn

router = APIRouter(prefix="/api/v1", tags=["media"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class IceServer(BaseModel):
    """One entry of WebRTC's ``iceServers`` (RTCIceServer)."""

    urls: list[str] | str = Field(description="stun: or turn:/turns: URLs")
    username: str | None = Field(
        None, description="TURN user name (expiry timestamp:user id); absent for STUN"
    )
    credential: str | None = Field(
        None, description="TURN password (HMAC of the user name); absent for STUN"
    )


class IceServers(BaseModel):
    ice_servers: list[IceServer] = Field(description="Pass as RTCPeerConnection's iceServers")
    ttl_s: int = Field(description="Seconds the TURN credentials stay valid; ask again before")


@router.get("/ice-servers", response_model=IceServers)
async def ice_servers(ctx: Ctx, user: User) -> dict[str, Any]:
    """STUN and time-limited TURN credentials (TURN REST API scheme) for this user."""
    servers = turn.ice_servers_for(ctx, user.user_id)
    return {"ice_servers": servers, "ttl_s": ctx.settings.turn_credential_ttl_s}

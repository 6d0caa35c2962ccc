"""The customer-service desk for tests: an organisation with its administrator and members, an
inbox made through the REST API, identities signed as a platform signs them, and a widget
visitor (REST session and /ws/support socket) on a page of the inbox's origin."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from sqlalchemy import update

from tests.conftest import unique
from tests.support.server import ServerUsers
from tests.support.wsclient import WsClient
from yuntong.accounts.models import Organisation, User

SITE = "https://school.example"


def platform_signs(secret: str, visitor_id: str, attributes: dict[str, Any], ts: int) -> str:
    """docs/support.md's recipe: HMAC-SHA256(secret, id \\n canonical JSON \\n timestamp)."""
    body = json.dumps(attributes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(
        secret.encode(), f"{visitor_id}\n{body}\n{ts}".encode(), hashlib.sha256
    ).hexdigest()


async def organisation(server: ServerUsers, *members: str) -> tuple[int, str, dict[str, int]]:
    """An organisation, its administrator's username, and members (username → user id)."""
    ctx = await server.context()
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        org = Organisation(
            legal_name="云通测试学校",
            uscc_index=secrets.token_hex(16),
            uscc_enc=ctx.cipher.encrypt("x"),
            legal_representative_enc=ctx.cipher.encrypt("x"),
            contact_name_enc=ctx.cipher.encrypt("x"),
            contact_phone_enc=ctx.cipher.encrypt("x"),
            address_enc=ctx.cipher.encrypt("x"),
            created_at=now,
        )
        s.add(org)
    admin = unique("orgadm")
    ids = {admin: await server.create_user(admin, role="org_admin")}
    for name in members:
        ids[name] = await server.create_user(name)
    async with ctx.db.session() as s:
        await s.execute(
            update(User).where(User.id.in_(ids.values())).values(organisation_id=org.id)
        )
    return org.id, admin, {m: ids[m] for m in members}


async def call(
    server: ServerUsers,
    token: str | None,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Accept-Language": "en", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.request(method, path, json=body, headers=sent)


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@dataclass
class Desk:
    """An inbox of an organisation, its secret, and who may manage it."""

    server: ServerUsers
    inbox: dict[str, Any]
    secret: str
    admin_token: str
    members: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(self.inbox["key"])

    async def add_agent(self, username: str, capacity: int = 2) -> None:
        path = f"/api/v1/support/inboxes/{self.inbox['id']}/agents/{username}"
        ok(await call(self.server, self.admin_token, "PUT", path, {"capacity": capacity}))

    async def session(self, body: dict[str, Any], origin: str = SITE) -> httpx.Response:
        return await call(
            self.server,
            None,
            "POST",
            f"/api/v1/support/widget/{self.key}/session",
            body,
            {"Origin": origin},
        )

    async def signed(self, visitor_id: str, attributes: dict[str, Any], ts: int) -> dict[str, Any]:
        signature = platform_signs(self.secret, visitor_id, attributes, ts)
        identity = {
            "visitor_id": visitor_id,
            "attributes": attributes,
            "timestamp": ts,
            "signature": signature,
        }
        return {"identity": identity}


async def make_desk(server: ServerUsers, *members: str, **inbox: Any) -> Desk:
    """An inbox (origins: :data:`SITE`) made by a new organisation's administrator."""
    _org, admin, ids = await organisation(server, *members)
    token = await server.login(admin)
    body = {"name": "数学课程客服", "origins": [SITE], **inbox}
    created = ok(await call(server, token, "POST", "/api/v1/support/inboxes", body))
    return Desk(server, created, created["secret"], token, ids)


class VisitorSocket(WsClient):
    """The widget's socket, ``/ws/support?ticket=<visitor token>``, from a page of ``origin``."""

    def __init__(self, base_ws: str, token: str, origin: str = SITE) -> None:
        super().__init__(base_ws.removesuffix("/ws") + "/ws/support", token)
        self.origin = origin

    async def connect(self, resume: bool = False) -> VisitorSocket:
        self.ws = await websockets.connect(
            f"{self.ws_url}?ticket={self.token}&locale=en",
            additional_headers={"Origin": self.origin},
        )
        first = json.loads(await self.ws.recv())
        self.hello = first["data"]
        if first["type"] == "hello":
            self._reader = asyncio.create_task(self._read())
        return self

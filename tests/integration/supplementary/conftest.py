"""Subscribers with numbers, connected sockets and ordered services, on a server in the test's
loop (a clock the test moves), on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import unique
from tests.support.inprocess import InProcessServer
from tests.support.numbers import number_for
from tests.support.wsclient import WsClient
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.orders.orders import do_place_order
from yuntong.calls.models import CallRecord
from yuntong.supplementary import products


@dataclass
class Subscriber:
    client: WsClient
    user_id: int
    number: str  # national form
    token: str
    username: str

    @property
    def e164(self) -> str:
        return f"+86{self.number}"


Make = Callable[..., Awaitable[Subscriber]]


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


@pytest.fixture
async def subscriber(server: InProcessServer) -> AsyncIterator[Make]:
    """subscriber(*services, online=True) → a user with a number, on a socket (unless not
    ``online``), who ordered ``services``."""
    ctx = server.app_context
    staff_id = await server.create_user(unique("staff"), role="operator_admin")
    staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
    await products.do_add_products(ctx, staff)
    clients: list[WsClient] = []

    async def make(*services: str, online: bool = True) -> Subscriber:
        username = unique("vas")
        user_id = await server.create_user(username)
        number = await number_for(server, user_id)
        token = await server.login(username)
        client = WsClient(server.ws_url, token, "dev1")
        if online:
            await client.connect()
            clients.append(client)
        if services:
            user = principal_for(await directory.get_user(ctx, user_id), "", "web")
            codes = [products.BY_SERVICE[s].code for s in services]
            await do_place_order(ctx, user, None, codes)
        return Subscriber(client, user_id, number, token, username)

    yield make
    for client in clients:
        await client.close()


async def api(
    server: InProcessServer, who: Subscriber, method: str, path: str, body: Any = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.request(
            method,
            f"/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {who.token}", "Accept-Language": "en"},
        )


async def set_services(server: InProcessServer, who: Subscriber, **changes: Any) -> dict[str, Any]:
    resp = await api(server, who, "PUT", "/services", changes)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def records_of(server: InProcessServer, call_id: str) -> list[CallRecord]:
    """A call's record and the records of its forwarded legs, in order."""
    found: list[CallRecord] = []
    parent = call_id
    async with (await server.context()).db.session() as s:
        first = await s.get(CallRecord, call_id)
        assert first is not None
        found.append(first)
        while True:
            query = select(CallRecord).where(CallRecord.parent_call_id == parent)
            leg = (await s.execute(query)).scalar_one_or_none()
            if leg is None:
                return found
            found.append(leg)
            parent = leg.id

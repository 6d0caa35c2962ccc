"""An in-process app with HTTP clients that come from chosen addresses (for throttle tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from yuntong.core.context import Context

ClientFrom = Callable[[str], httpx.AsyncClient]


@asynccontextmanager
async def clients_by_address(ctx: Context) -> AsyncIterator[ClientFrom]:
    """``client_from(ip)``: a client of one app on ``ctx``'s database and clock, seen as ``ip``."""
    from yuntong.app import create_app

    app = create_app(ctx.settings, clock=ctx.clock)
    opened: dict[str, httpx.AsyncClient] = {}

    def client_from(ip: str) -> httpx.AsyncClient:
        if ip not in opened:
            transport = httpx.ASGITransport(app=app, client=(ip, 40_000))
            opened[ip] = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return opened[ip]

    async with app.router.lifespan_context(app):
        try:
            yield client_from
        finally:
            for client in opened.values():
                await client.aclose()

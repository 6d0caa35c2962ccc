"""The REST calls the headless client needs: API login (bearer token) and ICE servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class ApiError(Exception):
    """A Yuntong API error: stable ``code`` and the server's message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApiSession:
    token: str
    user: dict[str, Any]


class ApiClient:
    """``async with ApiClient(server) as api: session = await api.login(...)``."""

    def __init__(self, server: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.server = server.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.server, transport=transport, timeout=15)
        self.token: str | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def login(self, username: str, password: str) -> ApiSession:
        body = {"username": username, "password": password, "kind": "api"}
        data = await self._json("POST", "/api/v1/auth/login", json=body)
        self.token = str(data["token"])
        return ApiSession(self.token, dict(data.get("user") or {}))

    async def ice_servers(self) -> list[dict[str, Any]]:
        """RTCIceServer-shaped dicts: ``{urls, username?, credential?}``."""
        data = await self._json("GET", "/api/v1/ice-servers")
        if isinstance(data, dict):
            data = data.get("ice_servers", data.get("iceServers", []))
        if not isinstance(data, list):
            raise ApiError(200, "malformed_response", "ice-servers is not a list")
        return [dict(server) for server in data]

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        resp = await self._http.request(method, path, headers=headers, **kwargs)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.is_error:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(
                resp.status_code,
                str(error.get("code", "http_error")),
                str(error.get("message", resp.reason_phrase)),
            )
        return body

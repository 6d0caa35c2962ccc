"""Every integer the API takes has a range (issue 14, item 4).

Integers beyond 64 bits gave HTTP 500 on 42 operation/parameter pairs (and ids beyond 32 bits
did on PostgreSQL, whose id columns are ``INTEGER``). For every integer path and query
parameter and request-body field in the OpenAPI document, a signed-in member of staff (who
passes every permission check, so the value reaches validation) sends values at and beyond
32 and 64 bits: never a 5xx, and beyond 64 bits a 422 that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx

from tests.conftest import unique
from tests.support.server import ServerProcess

HUGE = [2**64, -(2**64), 2**100]
LARGE = [2**31, -(2**31) - 1, 2**63, -(2**63) - 1]
METHODS = {"get", "post", "put", "patch", "delete"}


def _is_integer(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    schema = _deref(schema, components)
    if schema.get("type") == "integer":
        return True
    return any(_is_integer(s, components) for s in schema.get("anyOf", []))


def _deref(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _integer_inputs(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
    """(method, path, where, field, how to place a value) for every integer input."""
    components = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method not in METHODS:
                continue
            for param in op.get("parameters", []):
                if param["in"] in ("path", "query") and _is_integer(param["schema"], components):
                    yield method, path, param["in"], param["name"], None
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if not content:
                continue
            body = _deref(content["schema"], components)
            for name, prop in body.get("properties", {}).items():
                prop = _deref(prop, components)
                branches = [prop, *prop.get("anyOf", [])]
                for branch in (_deref(b, components) for b in branches):
                    if branch.get("type") == "integer":
                        yield method, path, "body", name, "value"
                    elif branch.get("type") == "array" and _is_integer(
                        branch.get("items", {}), components
                    ):
                        yield method, path, "body", name, "list"
                    elif branch.get("type") == "object" and _is_integer(
                        branch.get("additionalProperties") or {}, components
                    ):
                        yield method, path, "body", name, "map"


def _request(
    method: str, path: str, where: str, name: str, shape: Any, value: int
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    body: dict[str, Any] | None = None
    if where == "path":
        path = path.replace("{" + name + "}", str(value))
    elif where == "query":
        params[name] = str(value)
    else:
        body = {name: {"value": value, "list": [value], "map": {"audio": value}}[shape]}
    path = re.sub(r"\{[^}]+\}", "1", path)  # the other path parameters
    request: dict[str, Any] = {"method": method.upper(), "url": path, "params": params}
    if body is not None:
        request["json"] = body
    return request


async def test_every_integer_input_is_bounded(live_server_any: ServerProcess) -> None:
    server = live_server_any
    staff = unique("bounds")
    await server.create_user(staff, role="operator_admin")
    token = await server.login(staff)
    problems: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        spec = (await client.get("/openapi.json")).json()
        inputs = list(_integer_inputs(spec))
        assert len(inputs) > 40  # every id, account, page and amount of the API
        for method, path, where, name, shape in inputs:
            for value in HUGE + LARGE:
                what = f"{method.upper()} {path} {where}:{name}={value}"
                try:
                    resp = await client.request(**_request(method, path, where, name, shape, value))
                except httpx.TransportError as exc:  # the connection reset after a 500
                    problems.append(f"{what}: {exc!r}")
                    continue
                if resp.status_code >= 500:
                    problems.append(f"{what}: {resp.status_code} {resp.text[:120]}")
                elif value in HUGE:
                    fields = resp.json().get("error", {}).get("fields", {})
                    if resp.status_code != 422 or not any(
                        f == name or f.startswith(name + ".") for f in fields
                    ):
                        problems.append(f"{what}: {resp.status_code} {resp.text[:160]}")
    assert not problems, f"{len(problems)} unbounded integers:\n" + "\n".join(problems[:40])

"""The OpenAPI document is complete and tells the truth (issue 15).

Every operation has a summary and a description, every parameter and every property of every
schema a description; the two ways to send a session are declared, and every operation that
needs one says so — checked by calling each without one. Every error response documents the one
envelope ``{"error": {"code", "message", "fields"?, "retry_after"?}}``, and real error bodies
(401, 403, 404, 422) are valid against it and among the codes their operation lists. The
examples of the main requests are valid against their schemas, and the login one logs in.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import SESSION_COOKIE
from yuntong.core.context import Context
from yuntong.core.errors import ERRORS
from yuntong.core.openapi import BEARER, COOKIE

PASSWORD = "correct horse battery"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def doc(app_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await app_client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        *_, kind, name = node["$ref"].split("/")
        node = doc["components"][kind][name]
    return node


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema validator of ``schema``, its ``#/components/...`` references resolved
    in ``doc``."""
    return jsonschema_rs.validator_for({**schema, "components": doc["components"]})


def undescribed(schema: Any, where: str) -> list[str]:
    """Properties (at any depth of ``schema``) that have no description."""
    found: list[str] = []
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if not (isinstance(prop, dict) and str(prop.get("description", "")).strip()):
                found.append(f"{where}.{name}")
            found += undescribed(prop, f"{where}.{name}")
        for key, value in schema.items():
            if key != "properties" and isinstance(value, dict | list):
                found += undescribed(value, where)
    elif isinstance(schema, list):
        for item in schema:
            found += undescribed(item, where)
    return found


async def test_every_operation_parameter_and_field_is_described(doc: dict[str, Any]) -> None:
    missing: list[str] = []
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        if not str(op.get("summary", "")).strip():
            missing.append(f"{where}: summary")
        if not str(op.get("description", "")).strip():
            missing.append(f"{where}: description")
        for param in op.get("parameters", []):
            if not str(param.get("description", "")).strip():
                missing.append(f"{where}: parameter {param['name']}")
        missing += undescribed(op.get("requestBody", {}), f"{where} body")
        missing += undescribed(op.get("responses", {}), f"{where} responses")
    for name, schema in doc["components"]["schemas"].items():
        missing += undescribed(schema, name)
    assert not missing, "\n".join(missing)
    assert len(operations(doc)) > 100  # the whole API, not an empty document


async def test_the_two_ways_to_send_a_session_are_declared(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes[BEARER]["type"] == "http"
    assert schemes[BEARER]["scheme"] == "bearer"
    assert schemes[COOKIE] == {**schemes[COOKIE], "type": "apiKey", "in": "cookie"}
    assert schemes[COOKIE]["name"] == SESSION_COOKIE
    assert "X-CSRF-Token" in schemes[COOKIE]["description"]
    both = [{BEARER: []}, {COOKIE: []}]
    assert doc["paths"]["/api/v1/me"]["get"]["security"] == both
    assert "security" not in doc["paths"]["/api/v1/auth/login"]["post"]
    ticket = doc["paths"]["/api/v1/meetings/by-number/{number}/tickets"]["post"]
    assert ticket["security"] == [*both, {}]  # signed in, or a guest


async def test_what_says_it_needs_a_session_refuses_a_visitor_and_the_rest_does_not(
    doc: dict[str, Any], app_client: httpx.AsyncClient
) -> None:
    """Each operation called without a session: 401 ``unauthenticated`` exactly where the
    document asks for a session (path parameters filled with 1)."""
    wrong: list[str] = []
    for method, path, op in operations(doc):
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = await app_client.request(method.upper(), url, headers={"accept": "*/*"})
        refused = response.status_code == 401 and response.json()["error"]["code"] == (
            "unauthenticated"
        )
        needs = op.get("security")
        required = bool(needs) and {} not in needs
        if refused != required:
            wrong.append(f"{method.upper()} {path}: {response.status_code}, security {needs}")
        if required:
            assert "401" in op["responses"], path
    assert not wrong, "\n".join(wrong)


async def test_documented_errors_have_the_envelope_and_real_codes(doc: dict[str, Any]) -> None:
    error = validator(doc, {"$ref": "#/components/schemas/Error"})
    for method, path, op in operations(doc):
        assert "HTTPValidationError" not in str(op), path  # FastAPI's 422, never sent
        statuses = [s for s in op["responses"] if s[0] in "45"]
        assert {"500", "503"} <= set(statuses), path
        for status in statuses:
            response = resolve(doc, op["responses"][status])
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": "#/components/schemas/Error"}
            assert media["examples"], f"{method} {path} {status}"
            for code, example in media["examples"].items():
                assert ERRORS[code][0] == int(status), f"{path} {status}: {code}"
                error.validate(example["value"])
                assert example["value"]["error"]["code"] == code
                assert f"`{code}`" in response["description"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def documented_codes(doc: dict[str, Any], method: str, path: str, status: int) -> set[str]:
    response = resolve(doc, doc["paths"][path][method]["responses"][str(status)])
    return set(response["content"]["application/json"]["examples"])


async def test_real_error_bodies_are_the_documented_ones(
    doc: dict[str, Any], app_client: httpx.AsyncClient, ctx: Context
) -> None:
    error = validator(doc, {"$ref": "#/components/schemas/Error"})
    name = unique("oa")
    await registration.do_create_admin(ctx, name, PASSWORD, "subscriber")
    en = {"accept-language": "en"}
    seen = [  # (method, path as documented, the real response)
        ("get", "/api/v1/me", await app_client.get("/api/v1/me", headers=en)),
        (
            "post",
            "/api/v1/auth/login",
            await app_client.post("/api/v1/auth/login", json={"password": 1}, headers=en),
        ),
        (
            "post",
            "/api/v1/auth/login",
            await app_client.post(
                "/api/v1/auth/login",
                json={"username": name, "password": "a wrong password"},
                headers=en,
            ),
        ),
    ]
    web = await app_client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "kind": "web"}
    )
    assert web.status_code == 200  # the client keeps the session cookie from here on
    seen.append(  # a cookie session writing without its CSRF token
        ("patch", "/api/v1/me", await app_client.patch("/api/v1/me", json={"display_name": "x"}))
    )
    api = await app_client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "kind": "api"}
    )
    bearer = {"Authorization": f"Bearer {api.json()['token']}", **en}
    for method, path, url, body in (
        ("get", "/api/v1/calls/{call_id}", "/api/v1/calls/no-such-call", None),
        ("get", "/api/v1/meetings/{meeting_id}", "/api/v1/meetings/no-such-meeting", None),
        ("post", "/api/v1/meetings", "/api/v1/meetings", {"title": ""}),
    ):
        response = await app_client.request(method, url, json=body, headers=bearer)
        seen.append((method, path, response))
    codes = []
    for method, path, response in seen:
        body = response.json()
        error.validate(body)  # raises, naming the difference
        code = body["error"]["code"]
        codes.append((response.status_code, code))
        assert code in documented_codes(doc, method, path, response.status_code), (path, code)
    assert codes == [
        (401, "unauthenticated"),
        (422, "validation_failed"),
        (401, "invalid_credentials"),
        (403, "csrf_failed"),
        (404, "call_not_found"),
        (404, "meeting_not_found"),
        (422, "validation_failed"),
    ]
    fields = seen[1][2].json()["error"]["fields"]
    assert fields["username"] == {"code": "required", "message": "Required"}
    assert fields["password"]["code"] == "invalid"


async def test_the_request_examples_are_valid_and_the_login_one_logs_in(
    doc: dict[str, Any], app_client: httpx.AsyncClient, ctx: Context
) -> None:
    count = 0
    for method, path, op in operations(doc):
        media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        for name, example in media.get("examples", {}).items():
            errors = [str(e) for e in validator(doc, media["schema"]).iter_errors(example["value"])]
            assert not errors, f"{method} {path} example {name}: {errors}"
            assert example["summary"]
            count += 1
    assert count >= 10
    for path in ("/api/v1/auth/login", "/api/v1/meetings", "/api/v1/billing/orders"):
        assert doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
    login = doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    example = login["application/json"]["examples"]["api"]["value"]
    await registration.do_create_admin(ctx, example["username"], example["password"], "subscriber")
    answer = await app_client.post("/api/v1/auth/login", json=example)
    assert answer.status_code == 200
    assert answer.json()["token"]

"""An address nobody serves gets a page in the visitor's language (and the JSON error envelope
under ``/api/``), never Starlette's raw ``{"detail": "Not Found"}``; a method an address does
not take is a 405 the same way; ``HEAD`` works wherever ``GET`` does (issue 15)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.accounts.conftest import run_cli
from yuntong import __version__
from yuntong.core.context import Context


@pytest.mark.parametrize(
    ("language", "heading"),
    [("zh-CN,zh;q=0.9", "页面不存在"), ("en-GB,en;q=0.8", "Page not found")],
)
async def test_an_unknown_page_is_a_page_in_the_visitors_language(
    app_client: httpx.AsyncClient, language: str, heading: str
) -> None:
    found = await app_client.get("/no/such/page", headers={"accept-language": language})
    assert found.status_code == 404
    assert found.headers["content-type"].startswith("text/html")
    assert heading in found.text and 'href="/"' in found.text
    assert 'Not Found"' not in found.text


async def test_an_unknown_api_address_is_the_json_error_envelope(
    app_client: httpx.AsyncClient,
) -> None:
    found = await app_client.get("/api/v1/no-such-thing", headers={"accept-language": "en"})
    assert found.status_code == 404
    assert found.json() == {"error": {"code": "not_found", "message": "Not found"}}
    wrong = await app_client.delete("/api/v1/auth/login", headers={"accept-language": "zh-CN"})
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.json()["error"]["message"] == "该地址不支持此请求方法"
    assert "GET" in wrong.headers.get("allow", "") or "POST" in wrong.headers.get("allow", "")


async def test_a_page_method_it_does_not_take_is_a_page_too(app_client: httpx.AsyncClient) -> None:
    wrong = await app_client.put("/login", headers={"accept-language": "en"})
    assert wrong.status_code == 405
    assert "This page cannot be used that way" in wrong.text


async def test_head_answers_as_get_without_the_body(app_client: httpx.AsyncClient) -> None:
    for path in ("/login", "/prices", "/healthz", "/static/css/app.css"):
        got = await app_client.get(path)
        head = await app_client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
    missing = await app_client.head("/no/such/page")
    assert missing.status_code == 404 and missing.content == b""


async def test_the_cli_says_its_version(ctx: Context) -> None:
    shown = await run_cli(ctx, "--version")
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == f"yuntong {__version__}"

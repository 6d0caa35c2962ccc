"""Schemathesis on the live OpenAPI document: no request gets a 5xx (issue 14).

A real server on each database (a fresh one, so that the staff fuzzer cannot disturb other
tests), fuzzed three times: without credentials, as a subscriber and as operator staff. Every
operation gets the examples, coverage (boundary values: the 2**64 that gave 500 on 42
operation/parameter pairs) and fuzzing phases, positive and negative data, with a bounded
number of cases so the whole module takes a couple of minutes on two cores.

``YUNTONG_FUZZ_EXAMPLES`` (default 5) and ``YUNTONG_FUZZ_SEED`` explore further.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis.engine import Status, events, from_schema

from tests.conftest import own_database
from tests.support.server import ServerProcess

EXAMPLES = int(os.environ.get("YUNTONG_FUZZ_EXAMPLES", "5"))
SEED = os.environ.get("YUNTONG_FUZZ_SEED")
# What would end the fuzzing user's own session half-way (the rest of the run would then
# test only 401s); they are fuzzed without credentials.
SELF_ENDING = ["/api/v1/auth/logout", "/api/v1/me/sessions/{session_id}"]


@dataclass
class Target:
    server: ServerProcess
    tokens: dict[str, str] = field(default_factory=dict)
    own_ids: set[int] = field(default_factory=set)
    bystander_id: int = 0

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def fuzz_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    """A started server on a database of its own, with a subscriber and a staff member."""
    folder = tmp_path_factory.mktemp("fuzz")
    async with own_database(request.param, folder) as url:
        server = ServerProcess(folder / "var", url)
        try:
            server.start()
            target = Target(server)
            for who, role in (("subscriber", "subscriber"), ("staff", "operator_admin")):
                target.own_ids.add(await server.create_user(f"fuzz_{who}", role=role))
                target.tokens[who] = await server.login(f"fuzz_{who}")
            target.bystander_id = await server.create_user("fuzz_bystander")
            yield target
        finally:
            server.stop()
            await server.aclose()


def _run(target: Target, who: str | None) -> list[str]:
    """One schemathesis run (examples, coverage, fuzzing) as ``who``; the problems found."""
    config: dict[str, Any] = {
        "workers": 2,
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            "no-shrink": True,
            "database": "none",
            "deterministic": SEED is None,
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
        "suppress-health-check": ["all"],
        "request-timeout": 30,
    }
    if SEED is not None:
        config["seed"] = int(SEED)
    if who is not None:
        config["headers"] = target.headers(who)
        config["operations"] = [{"include-path": path, "enabled": False} for path in SELF_ENDING]
    schema = schemathesis.openapi.from_url(
        target.server.url + "/openapi.json", config=schemathesis.Config.from_dict(config)
    )
    if who is not None:
        _spare_own_accounts(schema, target)
    problems: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status == Status.FAILURE:
            problems.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            what = f"{event.label}: {type(event.value).__name__}: {event.value}"
            if isinstance(event.value, requests.RequestException):  # e.g. a reset connection
                problems.append(what)
            else:  # the generator's own trouble, not the server's
                print(f"schemathesis could not test {what}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return problems


def _failures(event: Any) -> list[str]:
    found = []
    for case_id, checks in event.recorder.checks.items():
        for check in checks:
            if check.status == Status.FAILURE:
                case = event.recorder.cases[case_id].value
                found.append(f"{check.name}: {case.as_curl_command()}")
    return found


def _spare_own_accounts(schema: Any, target: Target) -> None:
    """Staff must not suspend or reject themselves or the subscriber half-way through."""

    @schema.hook
    def map_path_parameters(_context: Any, path_parameters: Any) -> Any:
        if isinstance(path_parameters, dict) and path_parameters.get("user_id") in target.own_ids:
            path_parameters["user_id"] = target.bystander_id
        return path_parameters


@pytest.mark.parametrize("who", [None, "subscriber", "staff"])
def test_no_request_gets_a_server_error(fuzz_target: Target, who: str | None) -> None:
    problems = _run(fuzz_target, who)
    assert not problems, f"{len(problems)} server errors as {who or 'anonymous'}:\n" + "\n".join(
        problems[:40]
    )


async def test_the_fuzzing_users_were_signed_in_throughout(fuzz_target: Target) -> None:
    """Otherwise the runs above tested little more than 401s."""
    async with httpx.AsyncClient(base_url=fuzz_target.server.url) as client:
        for who in fuzz_target.tokens:
            resp = await client.get("/api/v1/me", headers=fuzz_target.headers(who))
            assert resp.status_code == 200, (who, resp.text)

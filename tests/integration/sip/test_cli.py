"""``yuntong sip`` on the machine that runs the SIP edge (same var dir): an operator makes a
number's password (shown once), sees the phone that registered with it, rotates it (the old
one refused at once: the CLI told Kamailio over its FIFO), lists the SIP calls and removes the
account; elsewhere the command says no edge runs there. And the SIP calls of the API (the web
page's list) keep a withheld caller's number from the callee."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result

from tests.integration.accounts.conftest import run_cli
from tests.integration.sip.conftest import DOMAIN, Make, Phone, SipWorld, sip_account
from tests.integration.sip.test_edge_calls import call, last_call, register
from tests.integration.supplementary.conftest import api, set_services
from tests.support.sipp import register_scenario, run

pytestmark = pytest.mark.parametrize("sip_world", ["sqlite"], indirect=True)


async def sip_cli(world: SipWorld, *args: str, var_dir: Path | None = None) -> Result:
    ctx = await world.server.context()
    env = {"YUNTONG_SIP_DOMAIN": DOMAIN, "YUNTONG_SIP_PORT": str(world.edge.port)}
    if var_dir is not None:
        env["YUNTONG_VAR_DIR"] = str(var_dir)
    return await run_cli(ctx, "sip", *args, env=env)


def password_in(output: str) -> str:
    found = re.search(r"^password\s+(\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


async def test_an_operator_manages_a_numbers_sip_account_from_the_terminal(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    who = await subscriber(online=False)
    callee = await subscriber(online=False)
    username = who.e164.lstrip("+")

    running = await sip_cli(sip_world, "status")
    assert running.exit_code == 0, running.output
    assert "Kamailio (the SIP edge) is running: pid" in running.output

    made = await sip_cli(sip_world, "credentials", who.number)
    assert made.exit_code == 0, made.output
    assert "shown only this once" in made.output
    assert re.search(rf"^username\s+{username}$", made.output, re.MULTILINE), made.output
    assert re.search(rf"^domain\s+{DOMAIN}$", made.output, re.MULTILINE), made.output
    first = Phone(who, username, password_in(made.output))
    port = await register(sip_world, first, tmp_path / "first")

    seen = await sip_cli(sip_world, "status", who.number)
    assert seen.exit_code == 0, seen.output
    assert "phones registered now: 1" in seen.output
    assert f"sip:{username}@127.0.0.1:{port}" in seen.output

    again = await sip_cli(sip_world, "credentials", who.number)
    assert again.exit_code == 1
    assert "has a SIP account" in again.output and "--rotate" in again.output
    rotated = await sip_cli(sip_world, "credentials", who.number, "--rotate")
    assert rotated.exit_code == 0, rotated.output
    second = Phone(who, username, password_in(rotated.output))
    assert second.password != first.password
    # the old password is refused at once: the command made Kamailio forget its cached HA1
    old = await run(
        sip_world.edge,
        register_scenario(expect=403),
        tmp_path / "old",
        service=username,
        user=username,
        password=first.password,
    )
    assert old.code == 0, old.output

    await call(sip_world, second, callee.e164.lstrip("+"), tmp_path / "call", 480)
    await last_call(sip_world.server, who.e164)
    listed = await sip_cli(sip_world, "calls", "--for", who.username, "--limit", "5")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.output.splitlines() if who.e164 in line]
    assert callee.e164 in row and "unreachable" in row and "480" in row
    assert "1 calls" in listed.output

    removed = await sip_cli(sip_world, "revoke", who.number)
    assert removed.exit_code == 0, removed.output
    assert "SIP account removed" in removed.output
    gone = await sip_cli(sip_world, "status", who.number)
    assert f"{who.number}: no SIP account." in gone.output
    refused = await sip_cli(sip_world, "revoke", who.number)
    assert refused.exit_code == 1 and "sip_credentials_not_found" in refused.output


async def test_sip_status_says_no_edge_runs_on_a_machine_without_it(
    sip_world: SipWorld, tmp_path: Path
) -> None:
    elsewhere = await sip_cli(sip_world, "status", var_dir=tmp_path / "var")
    assert elsewhere.exit_code == 1
    assert "is not running on this machine" in elsewhere.output


async def test_the_sip_calls_api_keeps_a_withheld_number_from_the_callee(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber("clir", online=False))
    await set_services(server, alice.who, clir_mode="temporary")
    bob = await subscriber(online=False)
    await call(sip_world, alice, "%2331%23" + bob.e164.lstrip("+"), tmp_path / "withheld", 480)
    await last_call(server, alice.who.e164)
    [seen_by_bob] = (await api(server, bob, "GET", "/sip/calls")).json()
    assert seen_by_bob["withheld"] is True and seen_by_bob["calling_number"] is None
    assert seen_by_bob["called_number"] == bob.e164
    [seen_by_alice] = (await api(server, alice.who, "GET", "/sip/calls?limit=1")).json()
    assert seen_by_alice["calling_number"] == alice.who.e164

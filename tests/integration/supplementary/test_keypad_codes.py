"""Keypad codes dialled on the dial pad are done by the server: forwarding on, asked about and
off, the no-reply timer, barring with its PIN, the PIN changed (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.integration.supplementary.conftest import Make, Subscriber, api
from tests.support.inprocess import InProcessServer


async def dial(server: InProcessServer, who: Subscriber, code: str) -> tuple[int, dict[str, Any]]:
    resp = await api(server, who, "POST", "/services/mmi", {"code": code})
    body: dict[str, Any] = resp.json()
    return resp.status_code, body


async def test_forwarding_by_keypad_codes(server: InProcessServer, subscriber: Make) -> None:
    bob = await subscriber("forwarding")
    carol = await subscriber()
    status, done = await dial(server, bob, f"*21*{carol.number}#")
    assert status == 200, done
    assert (done["service"], done["active"]) == ("cfu", True)
    assert done["profile"]["cfu"] == carol.e164
    assert (await dial(server, bob, "*#21#"))[1]["active"] is True
    assert (await dial(server, bob, "#21#"))[1]["profile"]["cfu"] is None
    assert (await dial(server, bob, "*#21#"))[1]["active"] is False
    done = (await dial(server, bob, f"*61*{carol.number}*25#"))[1]
    assert (done["profile"]["cfnry"], done["profile"]["cfnry_timer_s"]) == (carol.e164, 25)
    await dial(server, bob, f"*67*{carol.number}#")
    await dial(server, bob, f"*62*{carol.number}#")
    done = (await dial(server, bob, "##002#"))[1]
    assert [done["profile"][k] for k in ("cfu", "cfb", "cfnry", "cfnrc")] == [None] * 4


async def test_keypad_codes_refuse_what_is_not_ordered_or_not_a_code(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    carol = await subscriber()
    status, body = await dial(server, alice, f"*21*{carol.number}#")
    assert (status, body["error"]["code"]) == (403, "service_not_ordered")
    status, body = await dial(server, alice, "*99#")
    assert (status, body["error"]["code"]) == (400, "mmi_unknown")


async def test_barring_by_keypad_codes_with_the_pin(
    server: InProcessServer, subscriber: Make
) -> None:
    bob = await subscriber("barring")
    assert (await dial(server, bob, "**03*330**2468*2468#"))[0] == 200  # the first PIN
    status, body = await dial(server, bob, "*33*1111#")
    assert (status, body["error"]["code"]) == (403, "barring_pin_wrong")
    done = (await dial(server, bob, "*33*2468#"))[1]
    assert (done["service"], done["active"], done["profile"]["bar_outgoing"]) == (
        "bar_outgoing",
        True,
        True,
    )
    assert (await dial(server, bob, "*#33#"))[1]["active"] is True
    assert (await dial(server, bob, "**03*330*2468*1357*1357#"))[0] == 200
    assert (await dial(server, bob, "#330*1357#"))[1]["profile"]["bar_outgoing"] is False

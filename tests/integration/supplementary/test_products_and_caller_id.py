"""Each service is an ordered product, and caller-ID: CLIP shows the calling number and its
attribution, CLIR withholds it (always, per call, ``#31#``), anonymous callers are shown as
such (issue 16, TS 22.081; SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from tests.integration.supplementary.conftest import Make, api, set_services
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.billing.catalog.catalog import price_list
from yuntong.numbers.models import PhoneNumber
from yuntong.supplementary.products import PRODUCTS


async def call(caller: WsClient, to: str, **extra: object) -> dict:
    ack: dict = await caller.request(
        "call.invite", {"to": to, "media": "audio", "sdp": FAKE_SDP, **extra}
    )
    return ack


async def test_every_service_is_a_product_with_a_monthly_fee(
    server: InProcessServer, subscriber: Make
) -> None:
    await subscriber()
    listed = {p["code"]: p for p in await price_list(server.app_context)}
    for product in PRODUCTS:
        assert listed[product.code]["kind"] == "addon"
        assert listed[product.code]["current"]["monthly_fee_fen"] == product.monthly_fee_fen


async def test_a_service_not_ordered_cannot_be_activated(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber("clip")
    for change in ({"clir_mode": "always"}, {"cfu": "13900000000"}, {"bar_outgoing": True}):
        for language, text in (("en", "You have not ordered"), ("zh-CN", "您尚未订购")):
            async with httpx.AsyncClient(base_url=server.url) as http:
                resp = await http.put(
                    "/api/v1/services",
                    json=change,
                    headers={"Authorization": f"Bearer {alice.token}", "Accept-Language": language},
                )
            assert resp.status_code == 403, resp.text
            assert resp.json()["error"]["code"] == "service_not_ordered"
            assert text in resp.json()["error"]["message"]
    view = await set_services(server, alice, clip=True)
    assert view["services"]["clip"] is True
    assert view["ordered"] == ["clip"]
    # switching off needs no order; the view says what is on
    assert (await set_services(server, alice, clip=False))["services"]["clip"] is False


async def test_clip_shows_the_calling_number_and_its_attribution(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("clip")
    async with (await server.context()).db.session() as s:
        await s.execute(
            update(PhoneNumber)
            .where(PhoneNumber.e164 == alice.e164)
            .values(province="广东", city="深圳", province_en="Guangdong", city_en="Shenzhen")
        )
    # without CLIP the callee sees who calls, but no number
    ack = await call(alice.client, bob.number)
    incoming = await bob.client.expect("call.incoming", call_id=ack["call_id"])
    assert "from_number" not in incoming
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    await set_services(server, bob, clip=True)
    ack = await call(alice.client, bob.number)
    incoming = await bob.client.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["from_number"]["number"] == alice.e164
    assert (incoming["from_number"]["province"], incoming["from_number"]["city"]) == (
        "广东",
        "深圳",
    )
    assert incoming["from_number"]["city_en"] == "Shenzhen"
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_clir_withholds_the_caller_always_or_per_call(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber("clir")
    bob = await subscriber("clip")
    await set_services(server, bob, clip=True)
    # per call needs CLIR activated
    with pytest.raises(WsError) as refused:
        await call(alice.client, bob.number, clir=True)
    assert refused.value.code == "service_not_ordered"
    await set_services(server, alice, clir_mode="temporary")
    for to, how in ((bob.number, {"clir": True}), (f"#31#{bob.number}", {})):
        ack = await call(alice.client, to, **how)
        incoming = await bob.client.expect("call.incoming", call_id=ack["call_id"])
        assert incoming["from"]["anonymous"] is True
        assert incoming["from"]["username"] is None
        assert "from_number" not in incoming
        await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    ack = await call(alice.client, bob.number)  # temporary mode: shown by default
    incoming = await bob.client.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["from_number"]["number"] == alice.e164
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    await set_services(server, alice, clir_mode="always")
    ack = await call(alice.client, bob.number)
    assert (await bob.client.expect("call.incoming", call_id=ack["call_id"]))["from"]["anonymous"]
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    ack = await call(alice.client, f"*31#{bob.number}")  # shown for this call
    incoming = await bob.client.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["from_number"]["number"] == alice.e164
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_services_view_is_the_users_own(server: InProcessServer, subscriber: Make) -> None:
    alice = await subscriber()
    resp = await api(server, alice, "GET", "/services")
    assert resp.status_code == 200
    body = resp.json()
    assert body["services"]["cfnry_timer_s"] == 20
    assert body["ordered"] == [] and body["pin_set"] is False

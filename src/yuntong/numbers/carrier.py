"""The other carrier in a port (携号转网): the losing carrier answers a port-in's checks, the
gaining carrier presents a port-out authorisation code (CP 1.1).

A carrier talks to Yuntong the way a payment provider does: JSON bodies signed with
HMAC-SHA256 under a shared secret (``numbers_porting_carrier_secret``; the signature header
is the payments' ``t=<unix>,v1=<hex>``). A port-in asks the losing carrier
(:class:`LosingCarrier`); its answer comes back later as a signed callback
(``POST /api/v1/porting/carrier/answers``), once or several times.

:class:`SandboxLosingCarrier` stands for a real carrier in development and tests: it answers
from the register in ``numbers_porting_sandbox`` and delivers its answer through the same
signed callback handler a real carrier's HTTP call reaches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from yuntong.billing.payments.payments import check_signature, sign
from yuntong.config import Settings
from yuntong.core.errors import YuntongError

SIGNATURE_HEADER = "X-Carrier-Signature"


def carrier_secret(settings: Settings) -> str:
    """The secret both carriers sign with; derived from ``secret_key`` when none is set."""
    given = settings.numbers_porting_carrier_secret.get_secret_value()
    if given:
        return given
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"yuntong-porting-carrier", hashlib.sha256).hexdigest()


def signed(settings: Settings, body: dict[str, Any], now: datetime) -> tuple[bytes, str]:
    """``body`` as the bytes a carrier sends and their signature header."""
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    return raw, sign(carrier_secret(settings), int(now.timestamp()), raw)


def check_signed(
    settings: Settings, header: str | None, raw: bytes, now: datetime
) -> dict[str, Any]:
    """The JSON object a carrier sent, once its signature holds (``bad_signature``)."""
    check_signature(carrier_secret(settings), header, raw, now)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise YuntongError("malformed_message") from exc
    if not isinstance(body, dict):
        raise YuntongError("malformed_message")
    return body


@dataclass(frozen=True)
class Holder:
    """The real-name identity a number must be registered to: an ID document or a USCC."""

    id_type: str  # resident_id, passport, ... or "uscc" for an organisation
    id_number: str


@dataclass(frozen=True)
class CarrierAnswer:
    """What the losing carrier says about a number for a port-in."""

    answer_id: str
    ref: str  # the request's reference
    known: bool  # the number is in service with the carrier
    same_holder: bool
    in_service_since: date | None
    arrears_fen: int

    @classmethod
    def of(cls, body: dict[str, Any]) -> CarrierAnswer:
        try:
            since = body.get("in_service_since")
            return cls(
                answer_id=str(body["answer_id"])[:64],
                ref=str(body["ref"])[:24],
                known=bool(body["known"]),
                same_holder=bool(body.get("same_holder", False)),
                in_service_since=date.fromisoformat(since) if since else None,
                arrears_fen=int(body.get("arrears_fen", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise YuntongError("malformed_message") from exc

    def as_body(self) -> dict[str, Any]:
        return {
            "answer_id": self.answer_id,
            "ref": self.ref,
            "known": self.known,
            "same_holder": self.same_holder,
            "in_service_since": self.in_service_since.isoformat()
            if self.in_service_since
            else None,
            "arrears_fen": self.arrears_fen,
        }


class LosingCarrier(Protocol):
    """The carrier a number leaves for Yuntong; it answers by the signed callback."""

    async def ask_checks(self, ref: str, national: str, holder: Holder) -> None:
        """Ask whether ``national`` may port to Yuntong for ``holder``; the answer comes later."""


Deliver = Callable[[bytes, str], Awaitable[object]]


class SandboxLosingCarrier:
    """A losing carrier for development and tests: its register is a setting, and its answer
    reaches Yuntong signed, through the callback handler (``deliver``), as a real one would."""

    def __init__(self, settings: Settings, now: Callable[[], datetime], deliver: Deliver) -> None:
        self.settings = settings
        self.now = now
        self.deliver = deliver

    def answer(self, ref: str, national: str, holder: Holder) -> CarrierAnswer:
        record = self.settings.numbers_porting_sandbox.get(national)
        if record is None:
            return CarrierAnswer(secrets.token_hex(8), ref, False, False, None, 0)
        since = record.get("in_service_since")
        return CarrierAnswer(
            answer_id=secrets.token_hex(8),
            ref=ref,
            known=True,
            same_holder=str(record.get("holder_id", "")).upper() == holder.id_number.upper(),
            in_service_since=date.fromisoformat(str(since)) if since else None,
            arrears_fen=int(record.get("arrears_fen", 0)),
        )

    async def ask_checks(self, ref: str, national: str, holder: Holder) -> None:
        raw, signature = signed(
            self.settings, self.answer(ref, national, holder).as_body(), self.now()
        )
        await self.deliver(raw, signature)

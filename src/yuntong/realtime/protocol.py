"""Versioned JSON envelopes of the realtime protocol (docs/protocol.md) and their validation."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from yuntong.core.errors import YuntongError

VERSION = 1


class Envelope(BaseModel):
    """Client → server message."""

    model_config = ConfigDict(extra="forbid")

    v: int
    type: str = Field(min_length=1, max_length=64)
    id: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


def parse_envelope(raw: str | bytes, max_bytes: int) -> Envelope:
    """Parse and check one client message; raises YuntongError with a stable code.

    The one parser of both sockets (``/ws`` and ``/ws/meeting``): whatever cannot be parsed,
    including JSON nested too deeply for the parser (RecursionError), is ``malformed_message``.
    """
    if len(raw) > max_bytes:
        raise YuntongError("message_too_large")
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise YuntongError("malformed_message") from exc
    if not isinstance(obj, dict):
        raise YuntongError("malformed_message")
    if obj.get("v") != VERSION:
        raise YuntongError("unsupported_version")
    try:
        return Envelope.model_validate(obj)
    except ValidationError as exc:
        raise YuntongError("malformed_message") from exc


def encode(msg: dict[str, Any]) -> str:
    """The wire form of a server message (compact, UTF-8 text as is)."""
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)


def event(type_: str, data: dict[str, Any], seq: int | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"v": VERSION, "type": type_, "data": data}
    if seq is not None:
        msg["seq"] = seq
    return msg


def reply(type_: str, re: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "type": type_, "re": re, "data": data}


def invalid_data(exc: ValidationError) -> YuntongError:
    """Map a pydantic error on a message's data to our error with per-field codes."""
    fields = {".".join(str(p) for p in e["loc"]) or "data": "invalid" for e in exc.errors()}
    return YuntongError("malformed_message", fields=fields)

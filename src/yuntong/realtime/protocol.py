"""Versioned JSON envelopes of the realtime protocol (docs/protocol.md) and their validation."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from yuntong.core.errors import YuntongError

VERSION = 1
ID_MAX_LENGTH = 64
MAX_SDP_BYTES = 60_000
"""The one limit on an SDP offer or answer (calls and meetings alike), in characters."""


class Envelope(BaseModel):
    """Client → server message."""

    model_config = ConfigDict(extra="forbid")

    v: int
    type: str = Field(min_length=1, max_length=64)
    id: str | None = Field(default=None, max_length=ID_MAX_LENGTH)
    data: dict[str, Any] = Field(default_factory=dict)


class IceCandidate(BaseModel):
    """The one ICE-candidate model of both sockets (``call.ice``, ``meeting.ice``): the browser's
    ``RTCIceCandidateInit``, relayed as the client sent it (fields left out stay out)."""

    model_config = ConfigDict(extra="forbid")

    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class EnvelopeError(YuntongError):
    """A client message refused before it reached a handler; ``re`` is the id it carried, when
    that could be read, so that the error reply names the message it answers."""

    def __init__(self, code: str, re: str | None = None) -> None:
        super().__init__(code)
        self.re = re


def parse_envelope(raw: str | bytes, max_bytes: int) -> Envelope:
    """Parse and check one client message; raises :class:`EnvelopeError` with a stable code.

    The one parser of both sockets (``/ws`` and ``/ws/meeting``): whatever cannot be parsed,
    including JSON nested too deeply for the parser (RecursionError), is ``malformed_message``.
    A message over ``max_bytes`` (UTF-8 bytes) is ``message_too_large``; it is still parsed for
    its id, which costs little as the transport refuses anything over twice the limit.
    """
    too_large = _size(raw) > max_bytes
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise EnvelopeError("message_too_large" if too_large else "malformed_message") from exc
    re = _readable_id(obj)
    if too_large:
        raise EnvelopeError("message_too_large", re)
    if not isinstance(obj, dict):
        raise EnvelopeError("malformed_message")
    if obj.get("v") != VERSION:
        raise EnvelopeError("unsupported_version", re)
    try:
        return Envelope.model_validate(obj)
    except ValidationError as exc:
        raise EnvelopeError("malformed_message", re) from exc


def _size(raw: str | bytes) -> int:
    if isinstance(raw, bytes) or raw.isascii():
        return len(raw)
    return len(raw.encode("utf-8", "surrogatepass"))


def _readable_id(obj: Any) -> str | None:
    """The message's ``id`` if it is one a reply may carry (a string of at most 64)."""
    if not isinstance(obj, dict):
        return None
    id_ = obj.get("id")
    return id_ if isinstance(id_, str) and len(id_) <= ID_MAX_LENGTH else None


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

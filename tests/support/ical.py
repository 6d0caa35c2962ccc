"""A small RFC 5545 reader, written apart from the code under test, and the parts of an
invitation e-mail (iMIP, RFC 6047) as calendar clients look for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Prop:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class Component:
    name: str
    props: list[Prop] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def all(self, name: str) -> list[Prop]:
        return [p for p in self.props if p.name == name]

    def one(self, name: str) -> Prop:
        [prop] = self.all(name)
        return prop

    def child(self, name: str) -> Component:
        [found] = [c for c in self.children if c.name == name]
        return found


def physical_lines(ics: bytes) -> list[bytes]:
    """The lines as sent: CRLF-terminated, at most 75 octets, each valid UTF-8 on its own."""
    assert ics.endswith(b"\r\n")
    lines = ics[:-2].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, line
        assert len(line) <= 75, line
        line.decode("utf-8")  # a multi-byte character split by folding would not decode
    return lines


def unfold(lines: list[bytes]) -> list[str]:
    logical: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return [line.decode("utf-8") for line in logical]


def split_outside_quotes(text: str, separator: str, once: bool = False) -> list[str]:
    parts: list[str] = []
    current, quoted = "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == separator and not quoted and not (once and parts):
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def parse_line(line: str) -> Prop:
    head, value = split_outside_quotes(line, ":", once=True)
    name, *params = split_outside_quotes(head, ";")
    return Prop(name, dict(p.split("=", 1) for p in params), value)


def parse(ics: bytes) -> Component:
    stack = [Component("ROOT")]
    for line in unfold(physical_lines(ics)):
        prop = parse_line(line)
        if prop.name == "BEGIN":
            stack.append(Component(prop.value))
        elif prop.name == "END":
            done = stack.pop()
            assert done.name == prop.value
            stack[-1].children.append(done)
        else:
            stack[-1].props.append(prop)
    [root] = stack
    return root.child("VCALENDAR")


def unescape(value: str) -> str:
    """A TEXT value; a bare ',' or ';' would make it a list, so it fails here."""
    out, chars = [], iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars)
            out.append({"n": "\n", "N": "\n", "\\": "\\", ";": ";", ",": ","}[nxt])
        else:
            assert ch not in ",;", value
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class InvitationParts:
    """multipart/mixed [multipart/alternative [text/plain, text/calendar], the .ics file]."""

    text: EmailMessage
    inline_calendar: EmailMessage
    attachment: EmailMessage


def invitation_parts(message: EmailMessage) -> InvitationParts:
    """The three parts, asserting that the message has exactly that shape."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert isinstance(alternative, EmailMessage) and isinstance(attachment, EmailMessage)
    assert alternative.get_content_type() == "multipart/alternative"
    text, inline_calendar = alternative.iter_parts()
    assert isinstance(text, EmailMessage) and isinstance(inline_calendar, EmailMessage)
    assert text.get_content_type() == "text/plain"
    assert inline_calendar.get_content_type() == "text/calendar"
    assert inline_calendar.get_content_disposition() in (None, "inline")
    assert attachment.get_content_disposition() == "attachment"
    return InvitationParts(text, inline_calendar, attachment)


def payload(part: EmailMessage) -> bytes:
    """The part's bytes as sent, transfer encoding undone."""
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return content

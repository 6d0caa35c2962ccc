"""zh-CN and en strings for everything a user reads; one catalogue, looked up by key.

Strings are declared in one form only: a domain's :class:`Strings`, made with
:func:`strings` in a module of its own (``<domain>/strings.py``; errors in
:mod:`yuntong.core.errors`), pure data with no effect when imported. ``yuntong/strings.py``
lists every domain's catalogue and :func:`install` puts them into :data:`MESSAGES`, checking
that no key is declared twice; ``yuntong.services.build_context`` does it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from starlette.requests import HTTPConnection

LOCALES: Final = ("zh-CN", "en")
DEFAULT_LOCALE: Final = "zh-CN"

# key -> (zh-CN, en): what install() put in
MESSAGES: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class Strings:
    """One domain's user-facing strings: key -> (zh-CN, en), every key under ``prefixes``."""

    prefixes: tuple[str, ...]
    entries: Mapping[str, tuple[str, str]]


def strings(prefix: str | tuple[str, ...], entries: Mapping[str, tuple[str, str]]) -> Strings:
    """Declare a domain's strings; each key starts with ``prefix`` (or one of them) and a dot."""
    prefixes = (prefix,) if isinstance(prefix, str) else prefix
    for key, pair in entries.items():
        if not key.startswith(tuple(f"{p}." for p in prefixes)):
            raise ValueError(f"i18n key {key} is not under {', '.join(prefixes)}")
        if len(pair) != len(LOCALES) or not all(isinstance(text, str) for text in pair):
            raise ValueError(f"i18n key {key} needs one string per locale")
    return Strings(prefixes, dict(entries))


def install(catalogues: Iterable[Strings]) -> None:
    """Make ``catalogues`` the strings :func:`translate` reads; a key declared twice raises."""
    merged: dict[str, tuple[str, str]] = {}
    for catalogue in catalogues:
        for key, pair in catalogue.entries.items():
            if key in merged:
                raise ValueError(f"i18n key declared twice: {key}")
            merged[key] = pair
    MESSAGES.clear()
    MESSAGES.update(merged)


def catalog(locale: str, prefix: str) -> dict[str, str]:
    """The strings whose keys start with ``prefix``, in one locale (for the browser)."""
    index = 0 if locale == "zh-CN" else 1
    return {key: pair[index] for key, pair in MESSAGES.items() if key.startswith(prefix)}


def pick_locale(value: str | None) -> str:
    """Choose a supported locale from a tag or an Accept-Language header."""
    if not value:
        return DEFAULT_LOCALE
    for part in value.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def translate(key: str, locale: str, **params: object) -> str:
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    text = pair[0] if locale == "zh-CN" else pair[1]
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text


def request_locale(connection: HTTPConnection) -> str:
    """The ``yt_locale`` cookie when set, else the client's Accept-Language."""
    return pick_locale(
        connection.cookies.get("yt_locale") or connection.headers.get("accept-language")
    )

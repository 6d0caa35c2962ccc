"""zh-CN and en strings for everything a user reads; one catalog, looked up by key."""

from __future__ import annotations

from typing import Final

from starlette.requests import HTTPConnection

LOCALES: Final = ("zh-CN", "en")
DEFAULT_LOCALE: Final = "zh-CN"

# key -> (zh-CN, en)
MESSAGES: dict[str, tuple[str, str]] = {}


def register(entries: dict[str, tuple[str, str]]) -> None:
    """Domains add their strings at import time; a key may be defined only once."""
    for key, pair in entries.items():
        if key in MESSAGES and MESSAGES[key] != pair:
            raise ValueError(f"i18n key defined twice: {key}")
        MESSAGES[key] = pair


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

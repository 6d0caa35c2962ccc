"""One way to declare strings: each domain's catalogue, listed in yuntong/strings.py and
installed together; a key declared twice, or outside its prefix, is refused."""

from __future__ import annotations

import pytest

from yuntong import strings
from yuntong.core import i18n
from yuntong.core.i18n import MESSAGES, install


def test_every_key_is_declared_once_with_both_locales() -> None:
    declared = [key for catalogue in strings.CATALOGUES for key in catalogue.entries]
    assert len(declared) == len(set(declared))
    strings.install()
    assert set(MESSAGES) == set(declared)
    assert [k for k, pair in MESSAGES.items() if not all(text.strip() for text in pair)] == []


def test_a_key_declared_twice_is_refused() -> None:
    one = i18n.strings("x", {"x.a": ("甲", "A")})
    other = i18n.strings("x", {"x.a": ("甲", "A")})
    try:
        with pytest.raises(ValueError, match=r"declared twice: x\.a"):
            install([one, other])
    finally:
        strings.install()


def test_a_key_outside_its_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="not under"):
        i18n.strings("billing", {"ui.oops": ("甲", "A")})
    with pytest.raises(ValueError, match="one string per locale"):
        i18n.strings("x", {"x.a": ("甲",)})  # type: ignore[dict-item]

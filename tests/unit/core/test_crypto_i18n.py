"""PII encryption with key rotation, masking, and the error catalogue in both languages."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag

from yuntong.core.crypto import PiiCipher, mask
from yuntong.core.errors import ERRORS, YuntongError
from yuntong.core.i18n import pick_locale


def key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_ciphertext_hides_the_value_and_round_trips() -> None:
    cipher = PiiCipher.from_b64({"k1": key()}, "k1", "secret")
    token = cipher.encrypt("110105194912310021", context="user:id_number")
    assert "110105" not in token
    assert cipher.decrypt(token, context="user:id_number") == "110105194912310021"
    assert cipher.encrypt("x") != cipher.encrypt("x")  # fresh nonce every time


def test_ciphertext_moved_to_another_field_does_not_decrypt() -> None:
    cipher = PiiCipher.from_b64({"k1": key()}, "k1", "secret")
    token = cipher.encrypt("Zhang San", context="user:full_name")
    with pytest.raises(InvalidTag):
        cipher.decrypt(token, context="user:address")


def test_rotation_keeps_old_ciphertexts_readable_and_marks_them() -> None:
    k1, k2 = key(), key()
    old = PiiCipher.from_b64({"k1": k1}, "k1", "s")
    token = old.encrypt("13800138000")
    new = PiiCipher.from_b64({"k1": k1, "k2": k2}, "k2", "s")
    assert new.decrypt(token) == "13800138000"
    assert new.needs_rotation(token)
    assert not new.needs_rotation(new.encrypt("13800138000"))


def test_blind_index_is_stable_and_keyed() -> None:
    a = PiiCipher.from_b64({"k1": key()}, "k1", "one")
    b = PiiCipher.from_b64({"k1": key()}, "k1", "two")
    assert a.blind_index("+8613800138000") == a.blind_index("+8613800138000")
    assert a.blind_index("+8613800138000") != b.blind_index("+8613800138000")


def test_mask_keeps_only_the_ends() -> None:
    assert mask("110105194912310021") == "110105********0021"
    assert mask("13800138000", keep_start=3, keep_end=4) == "138****8000"
    assert mask("abc") == "***"
    assert mask("110105194912310021", keep_end=0) == "110105" + "*" * 12


def test_every_error_code_has_both_languages() -> None:
    for code in ERRORS:
        err = YuntongError(code, state="x", minutes=1, reason="r", what="w", type="t")
        zh, en = err.message("zh-CN"), err.message("en")
        assert zh and en and zh != en, code


@pytest.mark.parametrize(
    ("header", "locale"),
    [(None, "zh-CN"), ("en-US,en;q=0.9", "en"), ("zh-TW", "zh-CN"), ("fr", "zh-CN")],
)
def test_locale_choice(header: str | None, locale: str) -> None:
    assert pick_locale(header) == locale

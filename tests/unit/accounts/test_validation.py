"""Identity rules: resident ID (GB 11643), credit code (GB 32100), phone, username, password."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from yuntong.accounts.validation import (
    IndividualRegistration,
    OrganisationRegistration,
    check_email,
    check_password,
    check_resident_id,
    check_uscc,
    check_username,
    normalise_phone,
    resident_id_birth_date,
    resident_id_check_digit,
    uscc_check_character,
)
from yuntong.core.i18n import MESSAGES


def code_of(check: Any, *args: Any) -> str:
    with pytest.raises(PydanticCustomError) as info:
        check(*args)
    return info.value.type


# --- resident ID -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the standard's own example, check character X
        "11010519491231002x",  # lower-case x accepted and normalised
        "440524188001010014",
        "110101199003077678",
    ],
)
def test_valid_resident_ids_are_accepted(number: str) -> None:
    assert check_resident_id(number) == number.upper()


def test_check_digit_is_iso_7064_mod_11_2() -> None:
    assert resident_id_check_digit("11010519491231002") == "X"
    assert resident_id_check_digit("44052418800101001") == "4"


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "1101051949123100AX",  # letter inside the digits
        "110105194902300027",  # 30 February: checksum right, date impossible
        "",
    ],
)
def test_invalid_resident_ids_are_refused_with_their_code(number: str) -> None:
    assert code_of(check_resident_id, number) == "invalid_id_number"


def test_impossible_date_is_refused_even_with_a_correct_check_digit() -> None:
    body = "11010519490230002"
    number = body + resident_id_check_digit(body)
    assert code_of(check_resident_id, number) == "invalid_id_number"


def test_birth_date_is_read_from_the_number() -> None:
    assert resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)


# --- unified social credit code ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110108MA01B2C3D4"[:17]])
def test_valid_credit_codes_are_accepted(code: str) -> None:
    if len(code) == 17:
        code += uscc_check_character(code)
    assert check_uscc(code.lower()) == code


def test_credit_code_check_character_follows_gb_32100() -> None:
    assert uscc_check_character("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100M000I00Y43",  # I is not in the alphabet
        "91350100M000O00Y43",  # nor is O
        "9135010-M000100Y43",
    ],
)
def test_invalid_credit_codes_are_refused_with_their_code(code: str) -> None:
    assert code_of(check_uscc, code) == "invalid_uscc"


# --- phone, username, password, e-mail --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("010 8888 6666", "+861088886666"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_phone_numbers_default_to_china_and_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "1381234567", "not a number", "+86 000 0000 0000"])
def test_invalid_phone_numbers_are_refused(raw: str) -> None:
    assert code_of(normalise_phone, raw) == "invalid_phone"


@pytest.mark.parametrize("name", ["abc", "zhang.san", "li_si-2", "a" * 32, " Wang.Wu "])
def test_usernames_of_3_to_32_allowed_characters_pass(name: str) -> None:
    assert check_username(name) == name.strip().lower()


@pytest.mark.parametrize("name", ["ab", "a" * 33, "zhang san", "张三", "a/b", "x@y", ""])
def test_other_usernames_are_refused(name: str) -> None:
    assert code_of(check_username, name) == "invalid_username"


def test_password_needs_ten_characters_and_must_differ_from_the_username() -> None:
    assert check_password("correct horse", "zhang.san") == "correct horse"
    assert code_of(check_password, "short", "zhang.san") == "weak_password"
    assert code_of(check_password, "zhang.san.1", "zhang.san.1") == "weak_password"


def test_email_is_lower_cased_and_checked() -> None:
    assert check_email("Zhang.San@Example.COM") == "zhang.san@example.com"
    assert code_of(check_email, "zhang.san@") == "invalid_email"
    assert code_of(check_email, "no spaces@example.com") == "invalid_email"
    assert code_of(check_email, "ctl\x07@example.com") == "invalid_email"
    assert code_of(check_email, "a<b>@example.com") == "invalid_email"


def test_every_validation_code_has_a_message_in_both_languages() -> None:
    for code in [
        "invalid_id_number",
        "invalid_uscc",
        "invalid_phone",
        "invalid_email",
        "birth_mismatch",
        "weak_password",
        "invalid_username",
    ]:
        zh, en = MESSAGES[f"field.{code}"]
        assert zh and en


# --- request models -----------------------------------------------------------------------------


def individual(**overrides: Any) -> dict[str, Any]:
    return {
        "username": "zhang.san",
        "password": "correct horse battery",
        "display_name": "张三",
        "full_name": "张三",
        "birth_date": "1949-12-31",
        "address": "北京市朝阳区建国路 1 号",
        "id_type": "resident_id",
        "id_number": "11010519491231002X",
        "employer": "云通科技",
        "phone": "138 1234 5678",
        **overrides,
    }


def error_codes(model: Any, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): e["type"] for e in info.value.errors()}


def test_individual_registration_normalises_its_fields() -> None:
    form = IndividualRegistration.model_validate(individual(email="Zhang@Example.com"))
    assert form.phone == "+8613812345678"
    assert form.email == "zhang@example.com"
    assert form.birth_date == date(1949, 12, 31)


def test_birth_date_must_match_the_resident_id() -> None:
    assert error_codes(IndividualRegistration, individual(birth_date="1950-01-01")) == {
        "birth_date": "birth_mismatch"
    }


def test_passport_holders_are_not_held_to_the_resident_id_rules() -> None:
    form = IndividualRegistration.model_validate(
        individual(id_type="passport", id_number="e12345678", birth_date="1980-05-05")
    )
    assert form.id_number == "E12345678"


def test_each_invalid_field_reports_its_own_code() -> None:
    codes = error_codes(
        IndividualRegistration,
        individual(
            username="Zhang San",
            password="short",
            id_number="110105194912310021",
            phone="12345",
            email="nobody@",
        ),
    )
    assert codes == {
        "username": "invalid_username",
        "password": "weak_password",
        "id_number": "invalid_id_number",
        "phone": "invalid_phone",
        "email": "invalid_email",
    }


def test_validation_errors_carry_their_code_in_the_context_too() -> None:
    with pytest.raises(ValidationError) as info:
        IndividualRegistration.model_validate(individual(phone="1"))
    (error,) = info.value.errors()
    assert error["ctx"] == {"code": "invalid_phone"}


def test_organisation_registration_checks_the_credit_code_and_contact_phone() -> None:
    data = {
        "username": "yuntong-tech",
        "password": "correct horse battery",
        "display_name": "云通科技",
        "email": "admin@yuntong.example",
        "legal_name": "北京云通科技有限公司",
        "uscc": "91350100M000100Y44",
        "legal_representative": "李四",
        "contact_name": "王五",
        "contact_phone": "1381234",
        "address": "北京市海淀区",
    }
    assert error_codes(OrganisationRegistration, data) == {
        "uscc": "invalid_uscc",
        "contact_phone": "invalid_phone",
    }
    data.update(uscc="91350100M000100Y43", contact_phone="13912345678")
    assert OrganisationRegistration.model_validate(data).contact_phone == "+8613912345678"


def test_unknown_fields_are_refused() -> None:
    assert error_codes(IndividualRegistration, individual(role="operator_admin")) == {
        "role": "extra_forbidden"
    }

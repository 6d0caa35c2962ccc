"""Identity and credential rules: resident ID, credit code, phone, username, password.

The ``check_*`` functions return the normalised value or raise a
:class:`~pydantic_core.PydanticCustomError` whose type is a ``field.*`` code from
:mod:`yuntong.core.errors`, so request validation reports one stable code per field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from yuntong.core.crypto import normalise_email
from yuntong.core.errors import YuntongError

USERNAME_RE = re.compile(r"^[a-z0-9._-]{3,32}$")
# local part: no control characters and none of RFC 5322's specials (which would need quoting)
EMAIL_RE = re.compile(
    r"^[^@\s\x00-\x1f\x7f\"(),:;<>\[\\\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
OTHER_ID_RE = re.compile(r"^[A-Z0-9-]{4,32}$")
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
DEFAULT_PHONE_REGION = "CN"

# GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# GB 32100-2015: 31 characters (no I, O, S, V, Z), check character = 31 - (Σ mod 31).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

IdType = Literal["resident_id", "passport", "other"]


def field_error(code: str, message: str) -> PydanticCustomError:
    """A validation error whose type (and ``ctx.code``) is the ``field.<code>`` i18n key."""
    return PydanticCustomError(code, message, {"code": code})


def resident_id_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def check_resident_id(value: str) -> str:
    """Validate an 18-character mainland resident ID number; returns it upper-cased."""
    number = value.strip().upper()
    if (
        len(number) != 18
        or not number[:17].isdigit()
        or not (number[17].isdigit() or number[17] == "X")
    ):
        raise field_error(
            "invalid_id_number", "resident ID number must be 17 digits and a check character"
        )
    if resident_id_check_digit(number[:17]) != number[17]:
        raise field_error("invalid_id_number", "resident ID check digit does not match")
    if resident_id_birth_date(number) is None:
        raise field_error("invalid_id_number", "resident ID number holds no valid date of birth")
    return number


def resident_id_birth_date(number: str) -> date | None:
    """The date of birth encoded in positions 7–14, or None when it is not a real date."""
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    return born if born.year >= 1800 else None


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    """Validate an 18-character unified social credit code; returns it upper-cased."""
    code = value.strip().upper()
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        raise field_error(
            "invalid_uscc", "credit code must be 18 characters of 0-9 and A-Y (no I O S V Z)"
        )
    if uscc_check_character(code[:17]) != code[17]:
        raise field_error("invalid_uscc", "credit code check character does not match")
    return code


def normalise_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """Parse a phone number (national numbers default to China) and return it in E.164."""
    try:
        parsed = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        raise field_error("invalid_phone", "not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise field_error("invalid_phone", "not a valid phone number")
    e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164


def check_username(value: str) -> str:
    username = value.strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise field_error("invalid_username", "username must be 3-32 of a-z 0-9 . _ -")
    return username


def check_password(password: str, username: str | None) -> str:
    if len(password) < PASSWORD_MIN_LENGTH or len(password) > PASSWORD_MAX_LENGTH:
        raise field_error("weak_password", "password must be 10-256 characters")
    if username is not None and password.strip().lower() == username.strip().lower():
        raise field_error("weak_password", "password must differ from the username")
    return password


def is_email(email: str) -> bool:
    return len(email) <= 254 and EMAIL_RE.fullmatch(email) is not None


def check_email(value: str) -> str:
    """The address in its one stored form (stripped, lower-cased), or ``invalid_email``."""
    email = normalise_email(value)
    if not is_email(email):
        raise field_error("invalid_email", "not an e-mail address")
    return email


def check_id_number(id_type: str | None, value: str) -> str:
    if id_type == "resident_id":
        return check_resident_id(value)
    number = value.strip().upper()
    if not OTHER_ID_RE.fullmatch(number):
        raise field_error("invalid_id_number", "document number must be 4-32 of A-Z 0-9 -")
    return number


def check_birth_matches(id_type: str | None, id_number: str | None, birth_date: date) -> date:
    if id_type == "resident_id" and id_number is not None:
        encoded = resident_id_birth_date(id_number)
        if encoded is not None and encoded != birth_date:
            raise field_error(
                "birth_mismatch", "date of birth differs from the one in the ID number"
            )
    return birth_date


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        examples=["zhang.san"],
        description="3–32 lowercase letters, digits, dot, underscore or hyphen; unique",
    )
    password: str = Field(
        examples=["correct horse battery"],
        description="At least 10 characters, not the username",
    )
    display_name: Name = Field(description="The name shown to others")

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return check_username(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str, info: ValidationInfo) -> str:
        return check_password(value, info.data.get("username"))


class IndividualRegistration(_Registration):
    """A person registering with their true identity (UA 篇2 五.1, VP 1)."""

    email: str | None = Field(None, description="E-mail address (optional); unique")
    full_name: Name = Field(examples=["张三"], description="Legal name, as on the ID")
    id_type: IdType = Field(
        "resident_id", description="Identity document: resident_id, passport or other"
    )
    id_number: str = Field(
        examples=["11010519491231002X"],
        description="Document number; a resident ID's check digit is verified",
    )
    # after id_number so that the check against the ID can see the validated number
    birth_date: date = Field(
        examples=["1949-12-31"], description="Date of birth; must match a resident ID"
    )
    address: LongText = Field(description="Postal address")
    employer: LongText = Field(description="Employer")
    phone: str = Field(examples=["13812345678"], description="Mobile phone number; unique")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value) if value else None

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str, info: ValidationInfo) -> str:
        return check_id_number(info.data.get("id_type"), value)

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date, info: ValidationInfo) -> date:
        return check_birth_matches(info.data.get("id_type"), info.data.get("id_number"), value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


class OrganisationRegistration(_Registration):
    """An organisation registering under its full legal name; its contact becomes its admin."""

    email: str = Field(description="The administrator's e-mail address; unique")
    legal_name: LongText = Field(
        examples=["北京云通科技有限公司"], description="Full registered legal name"
    )
    uscc: str = Field(
        examples=["91350100M000100Y43"],
        description="Unified social credit code (统一社会信用代码), check character verified",
    )
    legal_representative: Name = Field(description="Legal representative (法定代表人)")
    contact_name: Name = Field(description="Contact person")
    contact_phone: str = Field(description="Contact person's phone number")
    address: LongText = Field(description="Registered address")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str) -> str:
        return check_uscc(value)

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


def validated(name: str, check: Callable[[], str]) -> str:
    """Run ``check`` on one field; a failure is ``validation_failed`` naming that field."""
    try:
        return check()
    except PydanticCustomError as exc:
        raise YuntongError("validation_failed", fields={name: exc.type}) from None

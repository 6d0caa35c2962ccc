"""The account state machines, who may place which calls, and how identity data is masked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from yuntong.accounts.auth import Principal, csrf_token_for
from yuntong.accounts.identity import (
    IdentityView,
    OrganisationIdentity,
    mask_email,
    mask_leading,
    mask_phone,
    masked_identity,
    may_view_identity,
    sees_unmasked,
)
from yuntong.accounts.models import AccountStatus, Role, User
from yuntong.accounts.status import (
    ENFORCEMENT_TRANSITIONS,
    REVIEW_TRANSITIONS,
    check_status_allows_calls,
    check_transition,
)
from yuntong.core.errors import YuntongError

S = AccountStatus


def code_of(fn: object, *args: object) -> str:
    with pytest.raises(YuntongError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.code


# --- transitions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.ACTIVE, S.WARNED),
        (S.WARNED, S.LIMITED),
        (S.LIMITED, S.SUSPENDED),
        (S.SUSPENDED, S.TERMINATED),
        (S.ACTIVE, S.SUSPENDED),  # serious breaches skip rungs
        (S.SUSPENDED, S.ACTIVE),  # sanctions can be lifted
        (S.LIMITED, S.WARNED),
    ],
)
def test_enforcement_ladder_allows_escalation_and_lifting(current: str, target: str) -> None:
    check_transition(ENFORCEMENT_TRANSITIONS, current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.TERMINATED, S.ACTIVE),  # termination is final
        (S.TERMINATED, S.SUSPENDED),
        (S.PENDING, S.ACTIVE),  # approval is a review, not enforcement
        (S.PENDING, S.SUSPENDED),
        (S.REJECTED, S.WARNED),
        (S.ACTIVE, S.ACTIVE),
        (S.WARNED, S.WARNED),
    ],
)
def test_illegal_enforcement_moves_are_refused(current: str, target: str) -> None:
    with pytest.raises(YuntongError) as info:
        check_transition(ENFORCEMENT_TRANSITIONS, current, target)
    assert info.value.code == "invalid_transition"
    assert info.value.params == {"state": current}


def test_review_moves_a_pending_registration_to_active_or_rejected_only() -> None:
    check_transition(REVIEW_TRANSITIONS, S.PENDING, S.ACTIVE)
    check_transition(REVIEW_TRANSITIONS, S.PENDING, S.REJECTED)
    check_transition(REVIEW_TRANSITIONS, S.REJECTED, S.ACTIVE)
    for current in (S.ACTIVE, S.SUSPENDED, S.TERMINATED):
        assert code_of(check_transition, REVIEW_TRANSITIONS, current, S.ACTIVE) == (
            "invalid_transition"
        )


def test_every_status_is_in_exactly_one_state_machine() -> None:
    assert set(REVIEW_TRANSITIONS) | set(ENFORCEMENT_TRANSITIONS) == set(AccountStatus)
    assert not set(REVIEW_TRANSITIONS) & set(ENFORCEMENT_TRANSITIONS)


# --- calls by status --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.ACTIVE, S.WARNED])
def test_active_and_warned_accounts_may_place_any_call(status: str) -> None:
    check_status_allows_calls(status, None, "video")
    check_status_allows_calls(status, None, "audio")


def test_limited_accounts_may_place_audio_but_not_video_calls() -> None:
    check_status_allows_calls(S.LIMITED, None, "audio")
    with pytest.raises(YuntongError) as info:
        check_status_allows_calls(S.LIMITED, None, "video")
    assert info.value.code == "account_limited"
    assert "视频" in info.value.message("zh-CN")  # the user is told what is refused, in words
    assert "video calls" in info.value.message("en")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (S.PENDING, "account_pending"),
        (S.REJECTED, "account_rejected"),
        (S.SUSPENDED, "account_suspended"),
        (S.TERMINATED, "account_terminated"),
    ],
)
def test_other_accounts_may_place_no_calls(status: str, code: str) -> None:
    assert code_of(check_status_allows_calls, status, "reason", "audio") == code


# --- masking ----------------------------------------------------------------------------------


def test_masks_keep_only_the_agreed_parts() -> None:
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("+447911123456") == "+44791***3456"
    assert mask_leading("张三丰", 1) == "张**"
    assert mask_leading("张", 1) == "*"
    assert mask_email("zhang.san@example.com") == "z***@example.com"


def full_identity() -> IdentityView:
    return IdentityView(
        user_id=7,
        masked=False,
        full_name="张三丰",
        email="zhang@example.com",
        birth_date="1949-12-31",
        address="北京市朝阳区建国路 1 号",
        id_type="resident_id",
        id_number="11010519491231002X",
        employer="云通科技有限公司",
        phone="+8613812345678",
        organisation=OrganisationIdentity(
            id=3,
            legal_name="北京云通科技有限公司",
            uscc="91350100M000100Y43",
            legal_representative="李四",
            contact_name="王五",
            contact_phone="+8613912345678",
            address="北京市海淀区中关村大街 27 号",
        ),
    )


def test_masked_identity_hides_every_personal_field() -> None:
    masked = masked_identity(full_identity())
    assert masked.masked
    assert masked.id_number == "110105********002X"
    assert masked.phone == "+86138****5678"
    assert masked.full_name == "张**"
    assert masked.birth_date == "1949-**-**"
    assert masked.address == "北京市朝阳区" + "*" * 7
    assert masked.employer == "云通******"
    assert masked.email == "z***@example.com"
    assert masked.organisation is not None
    assert masked.organisation.uscc == "913501********0Y43"
    assert masked.organisation.legal_name == "北京云通科技有限公司"  # public record
    assert masked.organisation.contact_phone == "+86139****5678"


def principal(user_id: int, role: str, organisation_id: int | None = None) -> Principal:
    return Principal(
        user_id=user_id,
        username=f"u{user_id}",
        display_name="",
        role=role,
        status="active",
        organisation_id=organisation_id,
        session_id="s",
        locale="zh-CN",
        via="bearer",
    )


def member(user_id: int = 7, organisation_id: int | None = 3) -> User:
    return User(id=user_id, organisation_id=organisation_id, role=Role.SUBSCRIBER)


@pytest.mark.parametrize(
    ("viewer", "unmasked", "allowed"),
    [
        (principal(7, Role.SUBSCRIBER, 3), True, True),  # the owner
        (principal(1, Role.OPERATOR_ADMIN), True, True),
        (principal(2, Role.SUPPORT_AGENT), True, True),
        (principal(9, Role.ORG_ADMIN, 3), False, True),  # own organisation: masked
        (principal(9, Role.ORG_ADMIN, 4), False, False),  # another organisation: nothing
        (principal(9, Role.SUBSCRIBER, 3), False, False),  # a colleague: nothing
    ],
)
def test_who_sees_identity_data_and_how(viewer: Principal, unmasked: bool, allowed: bool) -> None:
    assert sees_unmasked(viewer, member()) is unmasked
    assert may_view_identity(viewer, member()) is allowed


def test_csrf_token_is_bound_to_the_session_and_the_secret() -> None:
    def ctx(secret: str) -> Any:
        return SimpleNamespace(settings=SimpleNamespace(secret_key=SecretStr(secret)))

    token = csrf_token_for(ctx("k"), "session-a")
    assert len(token) == 64
    assert token == csrf_token_for(ctx("k"), "session-a")
    assert token != csrf_token_for(ctx("k"), "session-b")
    assert token != csrf_token_for(ctx("other"), "session-a")

"""Who acts: the operator's staff roles and the checks other domains call.

The one definition of staff (registration review, billing desk, history of all, the web
shell): :data:`STAFF_ROLES` and :func:`is_staff`.
"""

from __future__ import annotations

from typing import Protocol

from yuntong.accounts.models import Role
from yuntong.core.errors import YuntongError

STAFF_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.SUPPORT_AGENT})


class HasRole(Protocol):
    @property
    def role(self) -> str: ...


class Actor(Protocol):
    """Who is acting: an authenticated :class:`~yuntong.accounts.auth.Principal`."""

    @property
    def user_id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def organisation_id(self) -> int | None: ...


def is_staff(who: HasRole) -> bool:
    """Operator staff (an actor, a principal, a user row: anything with a ``role``)."""
    return who.role in STAFF_ROLES


def check_staff(actor: HasRole) -> None:
    if not is_staff(actor):
        raise YuntongError("forbidden")

"""Pattern classes of "beautiful numbers" (靓号), read from a number's last digits: what a
customer searches for and what the operator's price tiers are made of (docs/numbers.md).

The strongest class wins: a tail ``88888`` is ``AAAAA``, not ``AAAA``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Final


def _same(tail: str) -> bool:
    return len(set(tail)) == 1


def _steps(tail: str, step: int) -> bool:
    return all(int(b) - int(a) == step for a, b in itertools.pairwise(tail))


def _aabb(tail: str) -> bool:
    return tail[0] == tail[1] and tail[2] == tail[3] and tail[0] != tail[2]


def _abab(tail: str) -> bool:
    return tail[0] == tail[2] and tail[1] == tail[3] and tail[0] != tail[1]


def _abba(tail: str) -> bool:
    return tail[0] == tail[3] and tail[1] == tail[2] and tail[0] != tail[1]


# (class, digits of the tail read, test), strongest first
CLASSES: Final[tuple[tuple[str, int, Callable[[str], bool]], ...]] = (
    ("AAAAA", 5, _same),
    ("AAAA", 4, _same),
    ("ABCDE", 5, lambda t: _steps(t, 1)),
    ("EDCBA", 5, lambda t: _steps(t, -1)),
    ("ABCD", 4, lambda t: _steps(t, 1)),
    ("DCBA", 4, lambda t: _steps(t, -1)),
    ("AABB", 4, _aabb),
    ("ABAB", 4, _abab),
    ("ABBA", 4, _abba),
    ("AAA", 3, _same),
)
PATTERNS: Final[tuple[str, ...]] = tuple(name for name, _, _ in CLASSES)
PLAIN: Final = ""  # a number of no class


def pattern_class(national: str) -> str:
    """The strongest pattern class of ``national``'s tail, or :data:`PLAIN`."""
    for name, digits, test in CLASSES:
        tail = national[-digits:]
        if len(tail) == digits and tail.isdigit() and test(tail):
            return name
    return PLAIN

"""The throttle behind every guessable thing: sliding window, lock-out, bounded memory."""

from __future__ import annotations

import pytest

from yuntong.core.clock import FrozenClock
from yuntong.core.errors import YuntongError
from yuntong.core.throttle import Limit, Throttle, client_key


def test_a_sliding_window_waits_until_the_oldest_event_leaves_it() -> None:
    clock = FrozenClock()
    t = Throttle(clock, Limit(3, window_s=60))
    assert [t.hit("k") for _ in range(2)] == [0, 0]
    clock.advance(seconds=20)
    assert t.hit("k") == 40  # three in the window: the first leaves it in 40 s
    assert t.wait("other") == 0
    with pytest.raises(YuntongError) as held:
        t.take("k")
    assert (held.value.code, held.value.status, held.value.retry_after) == ("rate_limited", 429, 40)
    clock.advance(seconds=40)
    assert t.wait("k") == 0
    t.take("k")  # allowed again, and counted: events at 20 and 60 s
    assert t.hit("k") == 20  # three again: the one at 20 s leaves at 80 s


def test_a_lockout_holds_the_key_from_the_event_that_reached_the_limit() -> None:
    clock = FrozenClock()
    t = Throttle(clock, Limit(2, window_s=60, lockout_s=900))
    t.hit("k")
    clock.advance(seconds=59)
    assert t.hit("k") == 900
    clock.advance(seconds=899.5)
    assert t.wait("k") == 1  # rounded up: never 0 while held
    t.clear("k")  # a success does not lift a lock-out in force
    assert t.wait("k") == 1
    clock.advance(seconds=1)
    assert t.wait("k") == 0
    assert t.hit("k") == 0  # counting starts afresh


def test_events_older_than_the_window_do_not_count() -> None:
    clock = FrozenClock()
    t = Throttle(clock, Limit(2, window_s=60, lockout_s=900))
    t.hit("k")
    clock.advance(seconds=60)
    assert t.hit("k") == 0


def test_a_spray_of_keys_is_bounded_and_keeps_held_keys() -> None:
    clock = FrozenClock()
    t = Throttle(clock, Limit(2, window_s=60, lockout_s=900), max_keys=100)
    t.hit("victim")
    t.hit("victim")
    for n in range(1_000):
        t.hit(f"spray{n}")
    assert len(t._events) <= 100
    assert t.wait("victim") == 900


def test_check_fills_minutes_for_messages_that_have_them() -> None:
    clock = FrozenClock()
    t = Throttle(clock, Limit(1, window_s=60, lockout_s=600))
    t.hit("m")
    with pytest.raises(YuntongError) as locked:
        t.check("m", "meeting_passcode_locked")
    assert locked.value.retry_after == 600
    assert locked.value.message("en").endswith("paused for 10 minutes")
    assert locked.value.headers == {"Retry-After": "600"}
    assert locked.value.to_dict("en")["retry_after"] == 600


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_client_keys(address: str | None, key: str) -> None:
    assert client_key(address) == key

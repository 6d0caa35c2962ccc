"""The Q.850 cause of every call ending (ITU-T Q.850, as ISDN and SIP networks report them).

A call record keeps its outcome (what the user saw), its ``end_reason`` (why, in Yuntong's
words) and the cause a telephone network would give for that ending, so that records of calls
by number read like a carrier's CDRs and the SIP edge can hand the same causes to the public
network (RFC 3398 maps them to SIP responses). One table, :data:`CAUSES`, decides it; a pair it
does not list gets the outcome's cause, and an outcome it does not know 31 (normal,
unspecified).
"""

from __future__ import annotations

from yuntong.calls.models import CallOutcome as O

NORMAL_CLEARING = 16
USER_BUSY = 17
NO_ANSWER = 19  # the user was alerted
SUBSCRIBER_ABSENT = 20
CALL_REJECTED = 21
# anonymous call rejection: "call rejected due to feature at the destination"
REJECTED_BY_FEATURE = 24
EXCHANGE_ROUTING_ERROR = 25  # a forwarding loop or too many hops (SIP 483)
NORMAL_UNSPECIFIED = 31
TEMPORARY_FAILURE = 41
# call barring (TS 22.088; the ISUP causes 52/54, as GSM networks give them)
OUTGOING_CALL_BARRED = 52
INCOMING_CALL_BARRED = 54

# (outcome, end_reason) -> cause; (outcome, None) is the outcome's cause for other reasons
CAUSES: dict[tuple[O, str | None], int] = {
    (O.ANSWERED, None): NORMAL_CLEARING,
    (O.ANSWERED, "media_lost"): NORMAL_UNSPECIFIED,
    (O.ANSWERED, "connection_lost"): NORMAL_UNSPECIFIED,
    (O.REJECTED, None): CALL_REJECTED,
    (O.REJECTED, "barred_outgoing"): OUTGOING_CALL_BARRED,
    (O.REJECTED, "barred_international"): OUTGOING_CALL_BARRED,
    (O.REJECTED, "barred_incoming"): INCOMING_CALL_BARRED,
    (O.REJECTED, "anonymous_rejected"): REJECTED_BY_FEATURE,
    (O.UNREACHABLE, "forwarding_loop"): EXCHANGE_ROUTING_ERROR,
    (O.BUSY, None): USER_BUSY,  # in another call, or do-not-disturb
    (O.NO_ANSWER, None): NO_ANSWER,
    (O.CANCELED, None): NORMAL_CLEARING,  # the caller gave up
    (O.CANCELED, "connection_lost"): NORMAL_UNSPECIFIED,
    # offline, and blocked (which must look exactly like offline), and a callee whose account
    # takes no calls: the callee cannot be reached
    (O.UNREACHABLE, None): SUBSCRIBER_ABSENT,
    (O.FAILED, None): TEMPORARY_FAILURE,  # media never connected, a device lost
    (O.INTERRUPTED, None): TEMPORARY_FAILURE,  # the node running it stopped
}


def cause_for(outcome: str, reason: str | None) -> int:
    """The Q.850 cause of a call that ended with ``outcome`` for ``reason``."""
    try:
        key = O(outcome)
    except ValueError:
        return NORMAL_UNSPECIFIED
    return CAUSES.get((key, reason), CAUSES.get((key, None), NORMAL_UNSPECIFIED))

"""Call barring (3GPP TS 22.088) as call set-up applies it: all outgoing, outgoing
international, all incoming, incoming from a list (blacklist) or all but a list (whitelist),
and anonymous calls (anonymous call rejection). A barred call ends at once with the reason
below as its ``end_reason`` (and its cause, :mod:`yuntong.calls.causes`).
"""

from __future__ import annotations

from yuntong.supplementary.profile import Profile

HOME_PREFIX = "+86"
# end reasons of barred calls
OUTGOING = "barred_outgoing"
INTERNATIONAL = "barred_international"
INCOMING = "barred_incoming"
ANONYMOUS = "anonymous_rejected"
REASONS = (OUTGOING, INTERNATIONAL, INCOMING, ANONYMOUS)


def outgoing_barred(caller: Profile, called_number: str | None) -> str | None:
    """Why the caller's own barring stops a call to ``called_number``; None when it does not."""
    if caller.bar_outgoing:
        return OUTGOING
    if caller.bar_international and called_number and not called_number.startswith(HOME_PREFIX):
        return INTERNATIONAL
    return None


def incoming_barred(callee: Profile, calling_number: str | None, withheld: bool) -> str | None:
    """Why the callee's barring refuses a call from ``calling_number`` (None when withheld or a
    call by username); None when it takes it."""
    if callee.bar_incoming:
        return INCOMING
    anonymous = withheld or calling_number is None
    if callee.bar_anonymous and anonymous:
        return ANONYMOUS
    listed = calling_number is not None and calling_number in callee.incoming_list
    if callee.incoming_list_mode == "blacklist" and listed:
        return INCOMING
    if callee.incoming_list_mode == "whitelist" and not listed:
        return INCOMING
    return None

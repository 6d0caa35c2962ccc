"""Every piece of a node's state, declared once and built with the context.

A piece is declared next to the code that owns it (a :class:`~yuntong.core.context.Piece`:
name, kind, how it is built, what it holds) and listed here; :func:`build_context` builds them
all when a context is made — for ``yuntong serve`` in ``create_app``, for the CLI and the
billing worker process in their commands — so nothing is created lazily on first use, and
``ctx.services.get(PIECE)`` has the piece's type. Pieces filled only when something is started
(the media children, the Janus pool, the billing worker process) are a
:class:`~yuntong.core.context.Slot` that says None until then.

The kinds:

- **per-node cache** — a copy of what the database holds, dropped through the bus and the
  durable change feed; may be dropped at any time.
- **node-owned live state** — what this node runs: sockets, live calls, live meetings,
  supervised children, the rater's cursor, its link to Redis. Lost with the node; issue 13
  gives each an owner lease so another node takes over.
- **shared state** — truth every node sees at once: busy marks, do-not-disturb, throttles.
  In Redis when ``YUNTONG_REDIS_URL`` is set (each with a local fallback while Redis is
  unreachable), in this process on the embedded single node; which one is chosen when the
  piece is built.
"""

from __future__ import annotations

from typing import Any

from yuntong import strings
from yuntong.accounts import audit_chain
from yuntong.accounts.parties import PARTIES
from yuntong.accounts.sessions import DUMMY_HASH
from yuntong.backup import schedule as backup_schedule
from yuntong.billing import worker
from yuntong.billing.catalog.catalog import CATALOG
from yuntong.billing.collections import dunning
from yuntong.billing.collections.dunning import DAILY_CHECK
from yuntong.billing.ledger import credit, usage
from yuntong.billing.ledger.accounts import notice_recipient
from yuntong.billing.ledger.credit import STANDINGS
from yuntong.billing.ledger.rating import RATER
from yuntong.billing.ledger.usage import CALL_SOURCE, WATERMARK
from yuntong.billing.statements import view as views
from yuntong.billing.statements.view import INCIDENT_TITLES
from yuntong.billing.worker import PASS_JOBS, WORKER
from yuntong.calls import store as calls_store
from yuntong.calls.engine import ENGINE
from yuntong.calls.gate import CREDIT_GATE, gate_calls_with
from yuntong.cluster.forward import FORWARDING
from yuntong.cluster.nodes import NODE
from yuntong.conferences.bridge import BRIDGES
from yuntong.conferences.dialin import ConferenceDialIn
from yuntong.config import Settings
from yuntong.contacts.service import BLOCKS, PRESENCE
from yuntong.core import changes
from yuntong.core.changes import FEED
from yuntong.core.clock import Clock
from yuntong.core.context import Context, Piece, new_context
from yuntong.core.shared import REDIS_LINK
from yuntong.core.throttle import THROTTLES
from yuntong.media.pool import POOL
from yuntong.media.supervisor import CHILDREN, LOCAL_JANUS
from yuntong.meetings.live.relay import RELAYS
from yuntong.meetings.live.rooms import ROOMS
from yuntong.meetings.recordings import TASKS as RECORDING_TASKS
from yuntong.notifications import notices
from yuntong.notifications.notices import RECIPIENTS
from yuntong.numbers.directory import NUMBERS
from yuntong.presence.busy import BUSY
from yuntong.presence.dnd import CALENDAR as DND_CALENDAR
from yuntong.presence.dnd import DND
from yuntong.presence.service import WATCHERS
from yuntong.realtime.connection import HUB
from yuntong.sip.edge import LOCAL_EDGE
from yuntong.sip.gateway import GATEWAY as SIP_GATEWAY
from yuntong.sip.routing import ANSWERING, answer_with
from yuntong.sla import completion
from yuntong.sla.incidents import incident_titles
from yuntong.sla.subscriptions import do_send_on_pass as send_status_mail
from yuntong.supplementary.profile import PROFILES
from yuntong.support.delivery import VISITOR_SOCKETS
from yuntong.tariffs.tables import TABLES

PIECES: tuple[Piece[Any], ...] = (
    NODE,
    FORWARDING,
    FEED,
    REDIS_LINK,  # before the shared pieces, which are built on it
    THROTTLES,
    HUB,
    PARTIES,
    NUMBERS,
    DUMMY_HASH,
    BLOCKS,
    PRESENCE,
    DND,
    WATCHERS,
    BUSY,
    ENGINE,
    CHILDREN,
    LOCAL_JANUS,
    LOCAL_EDGE,
    POOL,
    ROOMS,
    RELAYS,
    RECORDING_TASKS,
    CATALOG,
    STANDINGS,
    RATER,
    WATERMARK,
    WORKER,
    RECIPIENTS,
    INCIDENT_TITLES,
    CREDIT_GATE,
    CALL_SOURCE,
    DAILY_CHECK,
    PROFILES,
    DND_CALENDAR,
    PASS_JOBS,
    backup_schedule.RUNNING,
    VISITOR_SOCKETS,
    TABLES,
    SIP_GATEWAY,
    ANSWERING,
    BRIDGES,
)


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    """A context with every piece of node state built, its bus writing durable messages to
    the change feed (so that other processes see them), and the functions domains hand each
    other where one may not import the other: billing's credit gate to calls, the finished
    calls' query to billing's usage collection, billing's recipient look-up to notifications,
    sla's incident titles to statements, sla's completion check to the daily run."""
    strings.install()
    ctx = new_context(settings, clock)
    ctx.services.build(ctx, PIECES)
    gate_calls_with(ctx, credit)
    usage.collect_calls_from(ctx, calls_store.finished_calls)
    notices.send_to(ctx, notice_recipient)
    views.name_incidents_with(ctx, incident_titles)
    dunning.check_daily_with(ctx, completion.do_daily_check)
    worker.run_on_each_pass(ctx, backup_schedule.do_backup_if_due)  # the daily backup
    worker.run_on_each_pass(ctx, audit_chain.do_seal_on_pass)  # the audit trail's chain
    worker.run_on_each_pass(ctx, send_status_mail)  # the status page's e-mail outbox
    answer_with(ctx, ConferenceDialIn())  # conference dial-in through the SIP edge
    changes.attach(ctx)
    return ctx

"""Every domain's user-facing strings, listed in one place (as ``services.py`` lists the
pieces of node state): :func:`install` puts them into the one catalogue
(:mod:`yuntong.core.i18n`), refusing a key declared twice. ``services.build_context`` calls it,
so every server, worker and CLI context has them; nothing registers strings when imported."""

from __future__ import annotations

from typing import Final

from yuntong.billing import strings as billing
from yuntong.core import errors, i18n, workdays
from yuntong.core.i18n import Strings
from yuntong.meetings import strings as meetings
from yuntong.notifications import strings as notifications
from yuntong.ops import strings as ops
from yuntong.sla import strings as sla_status
from yuntong.support import strings as support
from yuntong.tariffs import strings as tariffs
from yuntong.terminals import strings as terminals
from yuntong.web.strings import account, calls, operator_billing, shell
from yuntong.web.strings import backups as web_backups
from yuntong.web.strings import billing as web_billing
from yuntong.web.strings import completion as web_completion
from yuntong.web.strings import conferences as web_conferences
from yuntong.web.strings import dnd as web_dnd
from yuntong.web.strings import meetings as web_meetings
from yuntong.web.strings import numbers as web_numbers
from yuntong.web.strings import services as web_services
from yuntong.web.strings import sip as web_sip
from yuntong.web.strings import status as web_status
from yuntong.web.strings import support as web_support
from yuntong.web.strings import tariffs as web_tariffs

CATALOGUES: Final[tuple[Strings, ...]] = (
    errors.STRINGS,
    errors.FIELDS,
    workdays.STRINGS,
    *billing.STRINGS,
    meetings.STRINGS,
    notifications.STRINGS,
    terminals.STRINGS,
    # the web pages and their scripts (ui.*)
    shell.STRINGS,
    calls.STRINGS,
    account.STRINGS,
    web_billing.STRINGS,
    operator_billing.STRINGS,
    web_meetings.STRINGS,
    web_numbers.STRINGS,
    web_completion.STRINGS,
    web_services.STRINGS,
    web_dnd.STRINGS,
    ops.SECURITY,
    web_backups.STRINGS,
    support.STRINGS,
    web_support.STRINGS,
    sla_status.STRINGS,
    web_status.STRINGS,
    web_sip.STRINGS,
    tariffs.STRINGS,
    web_tariffs.STRINGS,
    web_conferences.STRINGS,
)


def install() -> None:
    i18n.install(CATALOGUES)

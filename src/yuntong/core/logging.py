"""Structured logs (structlog). Personal data never goes in: known PII keys are dropped."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PII_KEYS = frozenset(
    {
        "password",
        "full_name",
        "birth_date",
        "address",
        "id_number",
        "employer",
        "phone",
        "contact_phone",
        "legal_representative",
        "token",
        "email",
    }
)


def _drop_pii(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in PII_KEYS.intersection(event):
        event[key] = "[redacted]"
    return event


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written, not when a logger was first used:
    loggers are cached on first use, and the stream may be replaced afterwards (a test
    runner's capture, a daemon redirecting its output) and the old one closed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR: Any = _Stderr()


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_pii,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(_STDERR),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    # these log query parameters (e-mail addresses, blind indexes) at DEBUG: never let them
    for noisy in ("aiosqlite", "sqlalchemy.engine", "asyncpg"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

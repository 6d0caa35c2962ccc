"""What every ``yuntong`` command module shares (cli.py and the cli_*.py beside it): the
settings a command runs with, one async action on a fresh context, and a refusal printed as its
stable code and message (with the fields it names), exit status 1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from yuntong.config import Settings, load_settings
from yuntong.core.context import Context, close_context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import configure_logging
from yuntong.services import build_context

T = TypeVar("T")
errors = Console(stderr=True)


def command_settings() -> Settings:
    """The settings of a command, its log quiet but for warnings."""
    settings = load_settings()
    configure_logging("WARNING", settings.log_json)
    return settings


def fail(exc: YuntongError, settings: Settings, locale: str = "") -> typer.Exit:
    """Print a refusal (code, message in ``locale`` or the default one, fields); raise what this
    returns."""
    errors.print(f"[red]{exc.code}[/red]: {exc.message(locale or settings.default_locale)}")
    for name, code in exc.fields.items():
        errors.print(f"  {name}: {code}")
    return typer.Exit(1)


def run_action(
    settings: Settings, action: Callable[[Context], Awaitable[T]], locale: str = ""
) -> T:
    """Run one async action on a fresh context; a YuntongError becomes a message and exit 1."""

    async def main() -> T:
        ctx = build_context(settings)
        try:
            return await action(ctx)
        finally:
            await close_context(ctx)

    try:
        return asyncio.run(main())
    except YuntongError as exc:
        raise fail(exc, settings, locale) from None

"""``yuntong security check``: the configuration audited, the audit trail's chain verified, and
the installed packages checked for known vulnerabilities (docs/security.md). Beside cli.py: it
builds contexts (services)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yuntong.config import load_settings
from yuntong.core.context import close_context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import translate
from yuntong.core.logging import configure_logging
from yuntong.ops import security
from yuntong.services import build_context

security_app = typer.Typer(help="Security checks (docs/security.md).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)
STYLE = {security.ERROR: "red", security.WARNING: "yellow", security.OK: "green"}


@security_app.command("check")
def check(
    packages: Annotated[
        bool,
        typer.Option(
            "--packages/--no-packages",
            help="Run pip-audit on the installed packages (it needs the network).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    locale: Annotated[str, typer.Option(help="zh-CN or en (default: the setting).")] = "",
) -> None:
    """Audit the configuration (weak or default secrets, file modes of the data and secret
    folders, cookies without HTTPS, TURN relay ranges, servers beyond loopback), verify the
    audit trail's hash chain (sealing new events first), and run pip-audit when installed.
    Exits 1 when anything is a problem."""
    settings = load_settings()
    configure_logging("WARNING", settings.log_json)
    language = locale or settings.default_locale

    async def main() -> list[security.Finding]:
        ctx = build_context(settings)
        try:
            return await security.do_security_check(ctx, packages=packages)
        finally:
            await close_context(ctx)

    try:
        findings = asyncio.run(main())
    except YuntongError as exc:
        errors.print(f"[red]{exc.code}[/red]: {exc.message(language)}")
        raise typer.Exit(1) from None
    if as_json:
        rows = [
            {
                "level": f.level,
                "code": f.code,
                "params": f.params,
                "message": translate(f"security.{f.code}", language, **f.params),
            }
            for f in findings
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        _print(findings, language)
    if any(f.level == security.ERROR for f in findings):
        raise typer.Exit(1)


def _print(findings: list[security.Finding], language: str) -> None:
    table = Table("", translate("security.heading", language))
    for f in findings:
        level = translate(f"security.level.{f.level}", language)
        table.add_row(
            f"[{STYLE[f.level]}]{level}[/{STYLE[f.level]}]",
            translate(f"security.{f.code}", language, **f.params),
        )
    console.print(table)
    problems = sum(f.level == security.ERROR for f in findings)
    warnings = sum(f.level == security.WARNING for f in findings)
    console.print(translate("security.summary", language, problems=problems, warnings=warnings))

"""``yuntong call``: place or answer one call from a terminal and report the media measured.

Exit status: 0 when the call was answered and media flowed both ways, 1 when it was not
answered or media failed, 2 when signing in failed.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from yuntong.client.api import ApiError
from yuntong.client.call import run_call
from yuntong.client.quality import CallResult
from yuntong.config import Settings

console = Console(highlight=False)


SERVER_HELP = (
    "Yuntong base URL (default: YUNTONG_PUBLIC_URL if set, else http://YUNTONG_HOST:YUNTONG_PORT)."
)


def default_server(settings: Settings | None = None) -> str:
    """The server's URL as its settings give it (environment and ``YUNTONG_CONFIG``):
    ``public_url`` if set, else ``http://host:port`` (a wildcard host: loopback)."""
    settings = settings or Settings()
    if settings.public_url:
        return settings.public_url.rstrip("/")
    wildcard = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 (we connect)
    host = wildcard.get(settings.host, settings.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


class MediaChoice(enum.StrEnum):
    audio = "audio"
    video = "video"


def call_main(
    username: Annotated[str, typer.Option("--username", "-u", help="Your Yuntong username.")],
    password: Annotated[
        str,
        typer.Option(
            "--password",
            envvar="YUNTONG_PASSWORD",
            prompt=True,
            hide_input=True,
            help="Your password (or set YUNTONG_PASSWORD).",
        ),
    ],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Place a call to this username, user id or number (+86…, 138…)."),
    ] = None,
    from_number: Annotated[
        str | None,
        typer.Option("--from", help="Call by number from this one of your numbers."),
    ] = None,
    answer: Annotated[
        bool, typer.Option("--answer", help="Wait for an incoming call and answer it.")
    ] = False,
    server: Annotated[str | None, typer.Option("--server", help=SERVER_HELP)] = None,
    media: Annotated[MediaChoice, typer.Option("--media", help="Call type.")] = MediaChoice.audio,
    duration: Annotated[
        float, typer.Option("--duration", min=0, help="Hang up this many seconds after answer.")
    ] = 10.0,
    device: Annotated[
        str | None, typer.Option("--device", help="Device id (default: a new random one).")
    ] = None,
    relay_only: Annotated[
        bool,
        typer.Option("--relay-only", help="Use only TURN relay candidates (tests TURN)."),
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=1, help="Seconds to wait for an answer or an incoming call."),
    ] = 60.0,
) -> None:
    """Place a call (--to USER) or answer one (--answer) with synthetic audio/video."""
    if (to is None) == (not answer):
        raise typer.BadParameter("give exactly one of --to USER or --answer")
    server = server or default_server()
    started = time.monotonic()

    def progress(line: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.2f}s[/dim] {line}")

    try:
        result = asyncio.run(
            run_call(
                server,
                username,
                password,
                to=to,
                answer=answer,
                media=media.value,
                from_number=from_number,
                duration=duration,
                device=device,
                relay_only=relay_only,
                wait_s=wait,
                progress=progress,
            )
        )
    except ApiError as exc:
        console.print(f"[red]sign-in failed[/red]: {exc.code}: {exc.message}")
        raise typer.Exit(2) from None
    except (OSError, httpx.HTTPError) as exc:
        console.print(f"[red]cannot reach {server}[/red]: {exc}")
        raise typer.Exit(2) from None
    console.print(result_table(result))
    raise typer.Exit(0 if result.media_both_ways else 1)


def result_table(result: CallResult) -> Table:
    table = Table(title=f"Call {result.call_id or '-'}: {result.outcome}", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("media", result.media),
        ("answered / media connected", f"{_yes(result.answered)} / {_yes(result.connected)}"),
        ("billable seconds", _maybe(result.billable_seconds)),
        ("video frames decoded", str(result.frames_decoded)),
        ("audio energy received (RMS)", _dbfs(result.audio_rms_dbfs)),
        ("audio samples received", str(result.audio_samples)),
        ("packets received / lost", f"{result.packets_received} / {result.packets_lost}"),
        ("packets sent", str(result.packets_sent)),
        ("packets the peer acknowledged", _by_kind(result.remote_received)),
        ("round-trip time", _ms(result.rtt_ms)),
        ("jitter", _ms(result.jitter_ms)),
        ("local candidates", ", ".join(result.local_candidate_types) or "-"),
        ("media both ways", _yes(result.media_both_ways)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _yes(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]no[/red]"


def _maybe(value: object) -> str:
    return "-" if value is None else str(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _dbfs(value: float) -> str:
    return "silence" if math.isinf(value) else f"{value:.1f} dBFS"


def _by_kind(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"


_app = typer.Typer(add_completion=False)
_app.command()(call_main)


def run_typer(app: typer.Typer, args: list[str], prog_name: str) -> int:
    """Run a Typer app with these arguments; returns the exit status."""
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return 1
    return 0


def call_command(args: list[str]) -> int:
    """Run ``yuntong call`` with these arguments; returns the exit status."""
    return run_typer(_app, args, "yuntong call")

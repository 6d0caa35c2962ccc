"""``yuntong meeting``: create a meeting, or join one with synthetic media and report what arrived.

``join`` reports every other participant it saw — those who left before it did too, with when
they left — and what arrived on each of their streams. Exit status of ``join``: 0 when media
(video or audio) arrived on every stream it subscribed to, 1 when a stream delivered nothing,
nobody published anything, or the meeting refused us, 2 when signing in or reaching the server
failed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from yuntong.client.api import ApiClient, ApiError
from yuntong.client.cli import SERVER_HELP, default_server, run_typer
from yuntong.client.meeting import MeetingClient, MeetingError, MeetingFeed, get_ticket

console = Console(highlight=False)
_app = typer.Typer(add_completion=False, help="Video meetings from the terminal.")
Server = Annotated[str | None, typer.Option("--server", help=SERVER_HELP)]
Username = Annotated[str | None, typer.Option("--username", "-u", help="Sign in as this user.")]
Password = Annotated[
    str | None,
    typer.Option("--password", envvar="YUNTONG_PASSWORD", help="Password (or YUNTONG_PASSWORD)."),
]


async def _token(server: str, username: str | None, password: str | None) -> str | None:
    if username is None:
        return None
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    async with ApiClient(server) as api:
        return (await api.login(username, password)).token


@_app.command("create")
def create(
    title: Annotated[str, typer.Argument(help="The meeting's title.")],
    username: Username = None,
    password: Password = None,
    server: Server = None,
    waiting_room: Annotated[bool, typer.Option(help="Hold people in a lobby.")] = False,
) -> None:
    """Create an instant meeting and print its number, passcode and link."""
    if username is None:
        raise typer.BadParameter("--username is required to create a meeting")
    base = server or default_server()

    async def run() -> dict[str, Any]:
        token = await _token(base, username, password)
        async with ApiClient(base) as api:
            api.token = token
            body = {"title": title, "settings": {"waiting_room": waiting_room}}
            created: dict[str, Any] = await api._json("POST", "/api/v1/meetings", json=body)
            return created

    try:
        meeting = asyncio.run(run())
    except ApiError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(2) from None
    except (OSError, httpx.HTTPError) as exc:
        console.print(f"[red]cannot reach {base}[/red]: {exc}")
        raise typer.Exit(2) from None
    console.print(f"number   {meeting['number']}")
    console.print(f"passcode {meeting['passcode'] or '-'}")
    console.print(f"link     {meeting['join_url']}")


@_app.command("join")
def join(
    number: Annotated[str, typer.Argument(help="The meeting number.")],
    passcode: Annotated[str | None, typer.Option("--passcode", help="Meeting passcode.")] = None,
    username: Username = None,
    password: Password = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name (guests).")] = None,
    server: Server = None,
    duration: Annotated[float, typer.Option("--duration", min=1, help="Stay this long.")] = 10.0,
    screen: Annotated[
        bool, typer.Option("--screen", help="Also share a (synthetic) screen.")
    ] = False,
    wait: Annotated[float, typer.Option("--wait", min=1, help="Lobby wait limit (s).")] = 120.0,
) -> None:
    """Join with a synthetic camera and microphone; print what arrived from each participant."""
    server = server or default_server()
    started = time.monotonic()

    def progress(line: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.2f}s[/dim] {line}")

    try:
        report = asyncio.run(
            run_meeting(
                server, number, passcode, username, password, name, duration, screen, wait, progress
            )
        )
    except ApiError as exc:
        console.print(f"[red]sign-in failed[/red]: {exc.code}: {exc.message}")
        raise typer.Exit(2) from None
    except (OSError, httpx.HTTPError) as exc:
        console.print(f"[red]cannot reach {server}[/red]: {exc}")
        raise typer.Exit(2) from None
    except MeetingError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    console.print(report_table(number, report, started))
    raise typer.Exit(0 if media_received(report) else 1)


@dataclass(frozen=True)
class ReportRow:
    """One stream of one participant seen in the meeting (stream None: published nothing)."""

    participant_id: str
    name: str
    stream: str | None
    video_frames: int = 0
    audio_frames: int = 0
    audio_rms: float = 0.0
    left_at: float | None = None  # time.monotonic() when they left; None: still there
    left_reason: str | None = None


def media_received(report: list[ReportRow]) -> bool:
    """Media (video or audio) arrived on every stream, and there was at least one."""
    streams = [row for row in report if row.stream is not None]
    return bool(streams) and all(row.video_frames + row.audio_frames > 0 for row in streams)


def report_table(number: str, report: list[ReportRow], started: float) -> Table:
    table = Table(title=f"Meeting {number}")
    columns = ("participant", "stream", "video frames", "audio frames", "audio RMS", "left")
    for column in columns:
        table.add_column(column, justify="left" if column in ("participant", "stream") else "right")
    for row in report:
        left = "-" if row.left_at is None else f"{row.left_at - started:.2f}s ({row.left_reason})"
        if row.stream is None:
            table.add_row(row.name, "-", "-", "-", "-", left)
            continue
        table.add_row(
            row.name,
            row.stream,
            str(row.video_frames),
            str(row.audio_frames),
            f"{row.audio_rms:.3f}",
            left,
        )
    return table


def _report(client: MeetingClient) -> list[ReportRow]:
    """Everyone seen but us, in the order first seen; a stream's feeds (a new one after each
    media reset) summed."""
    names: dict[str, str] = {}
    for person in client.room.get("participants", []):
        names[str(person["id"])] = str(person["name"])
    for event in client.events:
        if event.type == "meeting.participant":
            person = event.data["participant"]
            names[str(person["id"])] = str(person["name"])
    streams: dict[tuple[str, str], list[MeetingFeed]] = {}
    for feed in [*client.gone_feeds, *client.feeds.values()]:
        names.setdefault(feed.participant_id, feed.participant_id)
        streams.setdefault((feed.participant_id, feed.kind), []).append(feed)
    names.pop(client.participant_id, None)
    rows: list[ReportRow] = []
    for pid, name in names.items():
        left_at, reason = client.left.get(pid, (None, None))
        kinds = [kind for (owner, kind) in streams if owner == pid]
        if not kinds:
            rows.append(ReportRow(pid, name, None, left_at=left_at, left_reason=reason))
        for kind in kinds:
            stats = [feed.stats for feed in streams[pid, kind]]
            samples = sum(s.audio_samples for s in stats)
            energy = sum(s.audio_rms**2 * s.audio_samples for s in stats)
            rows.append(
                ReportRow(
                    pid,
                    name,
                    kind,
                    video_frames=sum(s.video_frames for s in stats),
                    audio_frames=sum(s.audio_frames for s in stats),
                    audio_rms=math.sqrt(energy / samples) if samples else 0.0,
                    left_at=left_at,
                    left_reason=reason,
                )
            )
    return rows


async def run_meeting(
    server: str,
    number: str,
    passcode: str | None,
    username: str | None,
    password: str | None,
    name: str | None,
    duration: float,
    screen: bool,
    wait: float,
    progress: Callable[[str], None],
) -> list[ReportRow]:
    token = await _token(server, username, password)
    ticket = await get_ticket(server, number, token=token, passcode=passcode, display_name=name)
    client = MeetingClient(server, ticket["ticket"])
    await client.connect()
    try:
        progress(f"connected as {ticket['role']} to {ticket['meeting']['title']}")
        joined = await client.join()
        if joined["state"] == "waiting":
            progress("in the waiting room: the host has to admit you")
            await client.join_when_admitted(wait)
        progress("joined; publishing camera and microphone")
        if screen:
            await client.share_screen()
        await asyncio.sleep(duration)
        return _report(client)
    finally:
        await client.leave()
        progress("left the meeting")


def meeting_command(args: list[str]) -> int:
    """Run ``yuntong meeting …`` with these arguments; returns the exit status."""
    return run_typer(_app, args, "yuntong meeting")

"""`yuntong call` and `yuntong meeting` without --server reach the server their settings name."""

from __future__ import annotations

import asyncio
import sys

from tests.conftest import unique
from tests.support.server import ServerProcess
from yuntong.client.cli import default_server
from yuntong.config import Settings

PASSWORD = "correct horse battery"


async def run_cli(module: str, function: str, args: list[str], **env: str) -> tuple[int, str]:
    """Run a client command in a child with only these settings in its environment."""
    code = f"from {module} import {function}; raise SystemExit({function}({args!r}))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env={"COLUMNS": "140", "PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_meeting_create_uses_yuntong_host_and_port(live_server: ServerProcess) -> None:
    name = unique("cli")
    await live_server.create_user(name, PASSWORD)
    code, text = await run_cli(
        "yuntong.client.meeting_cli",
        "meeting_command",
        ["create", "周会", "--username", name],
        YUNTONG_HOST="127.0.0.1",
        YUNTONG_PORT=str(live_server.port),
        YUNTONG_PASSWORD=PASSWORD,
    )
    assert code == 0, text
    assert "number" in text and "/m/" in text


async def test_meeting_join_and_call_use_yuntong_public_url(live_server: ServerProcess) -> None:
    settings = {"YUNTONG_PUBLIC_URL": live_server.url + "/", "YUNTONG_PORT": "1"}  # port unused
    code, text = await run_cli(
        "yuntong.client.meeting_cli",
        "meeting_command",
        ["join", "100000001", "--name", "Robot", "--duration", "1"],
        **settings,
    )
    assert code == 1, text
    assert "meeting_not_found" in text  # the server answered: no such meeting

    name = unique("cli")
    await live_server.create_user(name, PASSWORD)
    code, text = await run_cli(
        "yuntong.client.cli",
        "call_command",
        ["--username", name, "--password", "wrong password", "--to", "nobody"],
        **settings,
    )
    assert code == 2, text
    assert "sign-in failed" in text and "invalid_credentials" in text


def test_default_server_from_settings() -> None:
    assert (
        default_server(Settings(host="10.0.0.5", port=9000, public_url=""))
        == "http://10.0.0.5:9000"
    )
    assert (
        default_server(Settings(host="0.0.0.0", port=8001, public_url=""))
        == "http://127.0.0.1:8001"
    )
    assert default_server(Settings(host="::", port=8001, public_url="")) == "http://[::1]:8001"
    public = Settings(host="0.0.0.0", port=8001, public_url="https://rtc.example.cn/yt/")
    assert default_server(public) == "https://rtc.example.cn/yt"

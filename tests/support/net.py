"""Waiting for a child server's TCP port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_listening(
    port: int, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Poll 127.0.0.1:``port`` until it accepts; False when ``timeout`` passes or the server
    is no longer ``alive`` first."""
    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False

"""The page's realtime client, shed by a busy node (``node_busy``, then a 1013 close), comes back
after the ``retry_after`` it was told, not after its own shorter back-off (issue 13: a storm of
reconnects after a node died must not be made worse by the pages)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import log_in
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

# the first /ws socket of a page is answered as a busy node answers it; the others are real
SHED_FIRST_SOCKET = """
(() => {
  const Real = window.WebSocket;
  window.__wsOpened = [];
  let shed = false;
  function Patched(url, protocols) {
    window.__wsOpened.push(performance.now());
    if (!shed && String(url).includes('/ws?')) {
      shed = true;
      const fake = { readyState: 1, send() {}, close() {} };
      setTimeout(() => {
        fake.onmessage?.({ data: JSON.stringify({ v: 1, type: 'error', re: null, data: {
          code: 'node_busy', message: 'busy', retry_after: 2 } }) });
        fake.readyState = 3;
        fake.onclose?.({ code: 1013 });
      }, 50);
      return fake;
    }
    return new Real(url, protocols);
  }
  Object.assign(Patched, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  Patched.prototype = Real.prototype;
  window.WebSocket = Patched;
})();
"""


async def test_a_shed_page_comes_back_after_the_retry_after_it_was_told(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    person = await new_person()
    await e2e_server.create_user(person.username, person.password)
    await person.context.add_init_script(SHED_FIRST_SOCKET)
    await log_in(person)  # waits until the realtime connection is up
    opened = await person.page.evaluate("window.__wsOpened")
    assert len(opened) == 2, opened  # the shed socket, then the one that got in
    gap_ms = opened[1] - opened[0]
    # 50 ms to be shed, then 2 s as told (the page's own first back-off is 250-500 ms)
    assert gap_ms >= 2000, gap_ms

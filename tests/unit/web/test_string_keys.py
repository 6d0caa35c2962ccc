"""Every string key the pages and their scripts use exists, in zh-CN and in en."""

from __future__ import annotations

import re
from pathlib import Path

import yuntong.app  # every domain's strings
from yuntong.core.i18n import MESSAGES

WEB = Path(yuntong.app.__file__).parent / "web"
# a whole key in quotes (a prefix completed at run time ends with "." and is not matched)
KEY = re.compile(r"""['"]((?:ui|error|meeting|billing|usage)\.[A-Za-z0-9_.]*[A-Za-z0-9_])['"]""")
T_CALL = re.compile(r"""\bt\(\s*['"]([^'"]+)['"]""")


def used_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*WEB.glob("templates/**/*.html"), *WEB.glob("static/js/**/*.js")]:
        text = path.read_text(encoding="utf-8")
        keys = {k for k in T_CALL.findall(text) if not k.endswith(".")}  # not a prefix
        if path.suffix == ".js":
            keys |= {k for k in KEY.findall(text) if k.startswith("ui.")}
        for key in keys:
            found.setdefault(key, set()).add(str(path.relative_to(WEB)))
    return found


def test_every_key_used_by_a_page_or_script_exists_in_both_locales() -> None:
    used = used_keys()
    assert len(used) > 300  # the scan finds the pages' keys
    missing = {k: sorted(where) for k, where in used.items() if k not in MESSAGES}
    assert missing == {}
    empty = [k for k in used if k in MESSAGES and not all(MESSAGES[k])]
    assert empty == []

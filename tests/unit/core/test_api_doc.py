"""docs/api.md lists every error code with its HTTP status (the OpenAPI document points to it)."""

from __future__ import annotations

import re
from pathlib import Path

from yuntong.core.errors import ERRORS

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_every_error_code_is_in_the_api_doc_with_its_status() -> None:
    listed = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\d{3}) \|", API_DOC.read_text(), re.M))
    wrong = [
        f"| `{code}` | {status} | {en} |"
        for code, (status, _zh, en) in sorted(ERRORS.items())
        if listed.get(code) != str(status)
    ]
    assert not wrong, "add (or correct) these rows in docs/api.md, 'Every code':\n" + "\n".join(
        wrong
    )
    assert set(listed) <= set(ERRORS), "docs/api.md lists codes that do not exist"

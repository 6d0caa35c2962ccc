"""One benchmark's section of ``bench/RESULTS.md``, replaced between its two markers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

FINDINGS = "### Findings"


def write_section(path: Path, start: str, end: str, section: str) -> None:
    """Replace the text between ``start`` and ``end`` (appended when missing); keep the rest.

    Hand-written findings of the previous run are kept, marked as such, unless ``section``
    brings its own."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    if start not in old or end not in old:
        path.write_text(old.rstrip("\n") + "\n\n" + section)
        return
    head, rest = old.split(start, 1)
    previous, tail = rest.split(end, 1)
    if FINDINGS in previous and FINDINGS not in section:
        kept = previous.split(FINDINGS, 1)[1].rstrip()
        section = section.replace(
            end,
            f"{FINDINGS} (written for the run of the previous results; check them){kept}\n\n{end}",
        )
    path.write_text(head + section.rstrip("\n") + tail)


def report(
    args: Any,
    measure: Callable[[], dict[str, Any]],
    render: Callable[[dict[str, Any]], str],
    start: str,
    end: str,
) -> None:
    """A benchmark's end: its results measured (or read from ``--from-json``), with
    ``--findings``, dumped to ``--json``, printed, and written into ``--out`` between the
    markers ``start`` and ``end``."""
    run = json.loads(Path(args.from_json).read_text()) if args.from_json else measure()
    if args.findings:
        run["findings"] = Path(args.findings).read_text()
    if args.json:
        Path(args.json).write_text(json.dumps(run, indent=1, default=str))
    section = render(run)
    print(section)
    if args.out:
        write_section(Path(args.out), start, end, section)
        print(f"results written to {args.out}")

"""One benchmark's section of ``bench/RESULTS.md``, replaced between its two markers."""

from __future__ import annotations

from pathlib import Path

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

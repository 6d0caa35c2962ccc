"""Text for cells of the CSV files people open in a spreadsheet."""

from __future__ import annotations

from typing import Final

# a spreadsheet evaluates a cell that starts like a formula, so such text gets a leading apostrophe
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it as text, never as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value

"""Whole numbers as people and clients send them: ASCII digits only ("²".isdigit() and
"١٢٣".isdigit() are true, and int() reads the latter), within what the database holds."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the largest value a database id column holds
PORTS = range(0, 65536)


def whole_number(text: str, highest: int | None = None, lowest: int = 0) -> int | None:
    """`text` as a whole number from `lowest` to `highest` (no bound: None), else None."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if lowest <= value and (highest is None or value <= highest) else None

"""Text bound for a spreadsheet cell (CSV or Excel) from outside data: labels, routes,
tenant names, blocklist reasons. A cell starting with = + - @ (or tab / carriage return,
which some spreadsheets skip before looking) would run as a formula — e.g. a route label
``=HYPERLINK(...)`` — so such text gets a leading apostrophe and stays text."""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value

"""How a number reads on the console and in reports: one formatter for every table and log line."""

from __future__ import annotations

import math


def number(value: float | None, digits: int = 1, missing: str = "n/a", width: int = 0,
           thousands: bool = False) -> str:
    """``value`` with ``digits`` decimals, right-aligned to ``width``; ``missing`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{missing:>{width}}"
    return f"{value:>{width}{',' if thousands else ''}.{digits}f}"

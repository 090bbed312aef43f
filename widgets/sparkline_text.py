"""A sparkline as text (``▁▂▄▇``), so it can sit in any label, be copied, and be snapshot-tested."""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """One character per value (the last ``width`` values); a gap (space) where a value is NaN.

    The scale runs from the smallest to the largest value shown; a flat series is a flat line.
    """
    shown = list(values[-width:] if width else values)
    known = [v for v in shown if not math.isnan(v)]
    if not known:
        return " " * len(shown)
    low, high = min(known), max(known)
    span = high - low
    chars = []
    for value in shown:
        if math.isnan(value):
            chars.append(" ")
        elif span <= 0:
            chars.append(BARS[len(BARS) // 2])
        else:
            chars.append(BARS[min(len(BARS) - 1, int((value - low) / span * (len(BARS) - 1) + 0.5))])
    return "".join(chars)

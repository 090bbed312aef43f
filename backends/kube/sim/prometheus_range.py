"""``/api/v1/query_range`` for the fake Prometheus: a service's request rate, error rate and p95
latency over time, as a status page asks for them.

Which series a query means is read from its text, not evaluated: ``histogram_quantile`` or
``duration`` → p95 latency in seconds; ``code=~"5..`` → the error ratio; anything else → requests
per second. ``service="…"`` is required (``track``/``namespace`` optional, as for instant queries).
The values are a deterministic function of the service and the timestamp (a daily wave plus a
little noise), so two reads of the same window agree; the error ratio is the rate set with
``set_error_rate`` (stable track unless the query names one), or no data when none is set.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from .prometheus import FakePrometheus, parse_matchers

MAX_POINTS = 11_000  # Prometheus refuses a range with more points than this


class RangeError(ValueError):
    """A bad ``start``/``end``/``step``: Prometheus answers 400 bad_data with this text."""


def _seconds(raw: str | None, what: str) -> float:
    if raw in (None, ""):
        raise RangeError(f'invalid parameter "{what}": missing')
    text = str(raw)
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    for unit in ("ms", "s", "m", "h", "d"):
        if what == "step" and text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * units[unit]
    try:
        value = float(text)
    except ValueError:
        raise RangeError(f'invalid parameter "{what}": cannot parse {text!r} to a valid timestamp') from None
    if not math.isfinite(value):
        raise RangeError(f'invalid parameter "{what}": not a finite number')
    return value


def _noise(service: str, bucket: int) -> float:
    """A stable pseudo-random number in [0, 1) per service and time bucket."""
    digest = hashlib.sha256(f"{service}/{bucket}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _base(service: str) -> float:
    return 20.0 + 180.0 * _noise(service, -1)


def request_rate(service: str, at: float) -> float:
    """Requests per second: a daily wave around the service's own level, ±10 % noise."""
    wave = 1.0 + 0.3 * math.sin(2 * math.pi * (at % 86400) / 86400)
    return round(_base(service) * wave * (0.9 + 0.2 * _noise(service, int(at // 60))), 3)


def latency_p95(service: str, at: float) -> float:
    """Seconds: 60–250 ms per service, with a little noise per minute."""
    level = 0.06 + 0.19 * _noise(service, -2)
    return round(level * (0.85 + 0.3 * _noise(service + "/p95", int(at // 60))), 4)


def series_kind(query: str) -> str:
    """``latency`` | ``errors`` | ``requests`` — what a query asks for (see the module docstring)."""
    text = query.replace(" ", "")
    if "histogram_quantile" in text or "duration" in text:
        return "latency"
    if 'code=~"5' in text or "code=~'5" in text:
        return "errors"
    return "requests"


def query_range(prometheus: FakePrometheus, params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a successful range query (a ``matrix``); raises `RangeError` on bad input."""
    query = str(params.get("query") or "")
    if not query:
        raise RangeError('invalid parameter "query": query is empty')
    start, end = _seconds(params.get("start"), "start"), _seconds(params.get("end"), "end")
    step = _seconds(params.get("step"), "step")
    if step <= 0:
        raise RangeError("zero or negative query resolution step widths are not accepted")
    if end < start:
        raise RangeError('invalid parameter "end": end timestamp must not be before start time')
    if (end - start) / step > MAX_POINTS:
        raise RangeError("exceeded maximum resolution of 11,000 points per timeseries")
    labels = parse_matchers(query)
    service = labels.get("service")
    result: list[dict[str, Any]] = []
    if service:
        kind = series_kind(query)
        ratio = prometheus.error_rate(service, labels.get("track", "stable"), labels.get("namespace"))
        if kind != "errors" or ratio is not None:
            values = []
            count = int((end - start) / step) + 1
            for index in range(count):
                at = start + index * step
                if kind == "latency":
                    value = latency_p95(service, at)
                elif kind == "errors":
                    value = ratio or 0.0
                else:
                    value = request_rate(service, at)
                values.append([round(at, 3), repr(float(value))])
            metric = {k: v for k, v in labels.items() if k in ("service", "track", "namespace")}
            result.append({"metric": metric, "values": values})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}

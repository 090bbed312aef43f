"""The one retry helper: which exceptions are retried, how often, and what each retry reports."""

from __future__ import annotations

import time

import pytest

from backends.retry import exponential, retry


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return calls, call


def test_retries_listed_exceptions_and_reports_each_retry() -> None:
    calls, call = failing(2, OSError("refused"))
    seen: list[tuple[int, str]] = []
    result = retry(call, attempts=3, on=(OSError,), on_retry=lambda n, e, _w: seen.append((n, str(e))))  # type: ignore[arg-type]
    assert result == "done" and len(calls) == 3
    assert seen == [(1, "refused"), (2, "refused")]


def test_out_of_attempts_raises_the_last_error() -> None:
    calls, call = failing(5, OSError("refused"))
    with pytest.raises(OSError, match="refused"):
        retry(call, attempts=2, on=(OSError,))  # type: ignore[arg-type]
    assert len(calls) == 2


def test_other_exceptions_are_not_retried() -> None:
    calls, call = failing(5, KeyError("x"))
    with pytest.raises(KeyError):
        retry(call, attempts=5, on=(OSError,))  # type: ignore[arg-type]
    assert len(calls) == 1


def test_no_retry_starts_past_the_deadline() -> None:
    calls, call = failing(5, OSError("refused"))
    slept: list[float] = []
    with pytest.raises(OSError):
        retry(
            call,
            attempts=5,
            on=(OSError,),
            delay=lambda _n: 60.0,
            deadline=time.monotonic() + 1,
            sleep=slept.append,
        )  # type: ignore[arg-type]
    assert len(calls) == 1 and slept == []


def test_exponential_backoff_is_capped_and_jittered() -> None:
    delay = exponential(0.1, 1.0)
    assert all(0.05 <= delay(1) <= 0.1 for _ in range(50))
    assert all(0.5 <= delay(10) <= 1.0 for _ in range(50))
    assert exponential(0.1, 1.0, jitter=False)(3) == pytest.approx(0.4)

"""One way to retry a call: how many attempts, on which exceptions, how long to wait between them.

Callers keep their own meaning of failure: :func:`retry` re-raises the last exception once the attempts
(or the deadline) run out, and each caller turns it into its own typed error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# attempt (1-based, the one that just failed) → seconds to wait before the next one
Delay = Callable[[int], float]
# attempt that just failed, its exception, seconds about to be waited
OnRetry = Callable[[int, BaseException, float], None]


def exponential(base: float, cap: float, *, jitter: bool = True) -> Delay:
    """Capped doubling delays; with jitter each is scaled into [50 %, 100 %] so clients that failed
    together do not retry in lockstep."""

    def delay(attempt: int) -> float:
        raw = min(cap, base * (2.0 ** (attempt - 1)))  # int ** int is typed Any (a negative power is a float)
        return raw * (0.5 + random.random() / 2) if jitter else raw

    return delay


def linear(step: float) -> Delay:
    """``step``, ``2 × step``, ``3 × step`` …: a gentle backoff for a few attempts at most."""
    return lambda attempt: step * attempt


def no_delay(attempt: int) -> float:
    """Retry at once: for conflicts, where the fix is re-reading, not waiting."""
    return 0.0


def retry(
    call: Callable[[], T],
    *,
    attempts: int,
    on: tuple[type[BaseException], ...],
    delay: Delay = no_delay,
    deadline: float | None = None,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()`` until it returns, at most ``attempts`` times, retrying only the exceptions in ``on``
    (anything else propagates at once). ``deadline`` is a ``time.monotonic()`` instant: no retry is
    started whose wait would end after it. Out of attempts or time: the last exception is raised."""
    attempt = 1
    while True:
        try:
            return call()
        except on as error:
            wait = delay(attempt)
            if attempt >= attempts or (deadline is not None and time.monotonic() + wait > deadline):
                raise
            if on_retry is not None:
                on_retry(attempt, error, wait)
            if wait > 0:
                sleep(wait)
            attempt += 1

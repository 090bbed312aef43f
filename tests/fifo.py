"""FIFOs for tests that must fail, not hang, when a reader opens one.

A FIFO read the old way blocks until a writer comes. So that a regression fails instead of hanging
the suite, ``unblocked`` keeps opening each FIFO for writing: a reader stuck in ``open`` gets an
empty file (and the test's assertions fail), a reader that never opens it is never disturbed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@contextlib.contextmanager
def unblocked(*fifos: Path) -> Iterator[None]:
    """While inside, a reader stuck opening one of ``fifos`` gets an empty file instead of hanging."""
    stop = threading.Event()

    def writer() -> None:
        while not stop.wait(0.05):
            for fifo in fifos:
                with contextlib.suppress(OSError):  # no reader waiting: nothing to unblock
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()

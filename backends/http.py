"""One TLS context per process for every HTTP client the console opens.

httpx builds a fresh context for each client, and for each module-level ``httpx.get``, that is not
given one: loading the CA bundle costs ~20 ms of CPU every time. The deploy analysis asks
Prometheus every few seconds, the simulated cluster is probed many times a second, and the registry
check opens a client per image: they share this one instead. It is built exactly as httpx builds
its default (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured, else certifi's bundle), so verification
is unchanged.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's verifying TLS context (built on first use)."""
    import httpx  # imported here: the console's first paint does not need httpx

    return httpx.create_ssl_context()

"""HTTP entry point: ``GET /healthz`` for the probes, ``GET /`` for a friendly hello.

Only the standard library, so the service and its tests run anywhere Python does.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app import SERVICE_NAME, VERSION

DATABASE_ENV = {"postgres": "DATABASE_URL", "mongodb": "MONGODB_URI"}.get("${{ values.database }}")


def health() -> dict[str, str]:
    """What /healthz reports; the database is only checked for configuration, not reachability."""
    status = {"status": "ok", "service": SERVICE_NAME}
    if DATABASE_ENV:
        status["database"] = "configured" if os.environ.get(DATABASE_ENV) else "not configured"
    return status


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/healthz":
            self._send(200, health())
        elif self.path == "/":
            self._send(200, {"service": SERVICE_NAME, "version": VERSION})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, code: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if os.environ.get("ACCESS_LOG"):
            super().log_message(format, *args)


def make_server(port: int | None = None, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """A server bound to ``port`` (default: $PORT or ${{ values.port }}); port 0 picks a free one."""
    if port is None:
        port = int(os.environ.get("PORT", "${{ values.port }}"))
    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    server = make_server()
    print(f"{SERVICE_NAME} listening on :{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

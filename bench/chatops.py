"""ChatOps figures (prints them; never asserted in a test).

    uv run python bench/chatops.py [--concurrency 20] [--rounds 10] [--parses 20000]

1. slash command → acknowledgement: ``--concurrency`` signed ``/platform status …`` requests sent at
   once to ``serve-chatops`` on a loopback port (the demo workspace, its simulated cluster in this
   process), each timed from sending to the HTTP answer; ``--rounds`` times (goal p95 ≤ 300 ms). The
   work each request starts (a status read from the cluster, a post to a loopback response_url)
   runs meanwhile, as it would in production, and competes for the same cores;
2. grammar parse: the issue's five lines and ``help``, each parsed ``--parses`` times (goal ≤ 1 ms).

Loading the catalog and starting the simulated cluster are not counted.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "bench-signing-secret"
LINES = [
    "create-service --name order-service --language go --owner team-orders",
    "scale payment-service --replicas 5 --env staging",
    "rollback payment-service --env production",
    "status payment-service --env production",
    "deploy payment-service --env production --version v2.3.1",
    "help deploy",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def receiver() -> tuple[ThreadingHTTPServer, str]:
    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    return http, f"http://127.0.0.1:{http.server_address[1]}/response"


def signed_request(url: str, text: str, response_url: str, n: int) -> urllib.request.Request:
    body = urlencode(
        {
            "user_id": "U0BENCH",
            "user_name": "bench",
            "channel_id": "C0BENCH",
            "command": "/platform",
            "text": text,
            "response_url": response_url,
            "trigger_id": str(n),  # every request its own body: none is taken for a retry
        }
    )
    timestamp = str(int(time.time()))
    signature = (
        "v0=" + hmac.new(SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    )
    return urllib.request.Request(
        url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
        method="POST",
    )


def acknowledgements(concurrency: int, rounds: int) -> list[float]:
    from backends.workspace import load_demo_workspace
    from console.commands.chatops import build_server

    server = build_server(load_demo_workspace(), SECRET)
    host, port = server.listen("127.0.0.1", 0)
    sink, response_url = receiver()
    url = f"http://{host}:{port}/slack/commands"
    times: list[float] = []
    counter = iter(range(10**9))

    def one(_: int) -> float:
        request = signed_request(url, "status payment-service --env staging", response_url, next(counter))
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            assert response.status == 200, response.status
        return time.perf_counter() - started

    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, range(concurrency)))  # warm-up: first cluster connection, imports
            server.wait_idle(120)
            for _ in range(rounds):
                times += pool.map(one, range(concurrency))
                server.wait_idle(120)
    finally:
        server.close()
        server.session.close()
        sink.shutdown()
    return times


def parse_times(parses: int) -> dict[str, float]:
    from backends.commands.grammar import parse

    result = {}
    for line in LINES:
        started = time.perf_counter()
        for _ in range(parses):
            parse(line)
        result[line] = (time.perf_counter() - started) / parses
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--parses", type=int, default=20000)
    args = parser.parse_args()
    os.environ.setdefault("IDP_CONSOLE_HOME", tempfile.mkdtemp(prefix="idp-chatops-bench-"))
    os.environ.setdefault("IDP_CONSOLE_SIMULATION", "in-process")

    per_line = parse_times(args.parses)
    print(f"grammar parse (mean of {args.parses} each; goal ≤ 1 ms):")
    for line, seconds in per_line.items():
        print(f"  {seconds * 1e6:7.1f} µs  {line}")

    times = acknowledgements(args.concurrency, args.rounds)
    ms = [t * 1000 for t in times]
    print(
        f"slash command → acknowledgement, {args.concurrency} concurrent × {args.rounds} rounds "
        f"({len(ms)} requests; goal p95 ≤ 300 ms): p50 {statistics.median(ms):.1f} ms, "
        f"p95 {pct(ms, 0.95):.1f} ms, max {max(ms):.1f} ms"
    )


if __name__ == "__main__":
    main()

"""Re-record the fidelity corpus from a real Backstage backend (needs node; not run by the tests).

    uv run python tests/scaffolder/fidelity/record.py --oracle /path/to/oracle-install [CASE ...]

``--oracle`` is a directory prepared with ``shared/oracles/backstage-backend/setup.sh DIR``. The
script starts that backend on a free port, sends every case (``cases/<name>/template.yaml``, its
``values.json`` and the files beside the template) to Backstage's own dry-run endpoint, and writes
what Backstage answered under ``cases/<name>/recorded/``: ``result.json`` (status, step inputs as
Backstage logged them, ``spec.output``, the list of files, or the error) and ``files/`` (every
produced file, byte for byte). ``test_fidelity.py`` replays the recordings without node.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

CASES = Path(__file__).resolve().parent / "cases"
TOKEN = "backstage-oracle-token"
SECRETS = {"token": "s3cr3t-value"}  # the same request secrets the replay passes
# Backstage prefixes action log lines with a coloured level ("\x1b[32minfo\x1b[39m: ").
_INPUTS = re.compile(
    r"^(?:\x1b\[\d+m\w+\x1b\[\d+m: )?Running (\S+) in dry-run mode with inputs \(secrets redacted\): (.*)$",
    re.DOTALL,
)
NOT_UPLOADED = {"values.json", "recorded"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(base: str, path: str, body: Any | None = None, timeout: float = 120) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"error": {"name": "HTTPError", "message": text[:2000]}}


def _start(oracle: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = open(oracle / "record-backend.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen([str(oracle / "start.sh"), str(port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the oracle backend exited early; see {oracle / 'record-backend.log'}")
        try:
            if _request(base, "/api/scaffolder/v2/actions", timeout=5)[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.5)
    process.terminate()
    sys.exit("the oracle backend did not answer within 120 s")


def _uploads(case: Path) -> list[dict[str, str]]:
    uploads = []
    for path in sorted(case.rglob("*")):
        relative = path.relative_to(case)
        if relative.parts[0] in NOT_UPLOADED or not path.is_file():
            continue
        uploads.append(
            {"path": relative.as_posix(), "base64Content": base64.b64encode(path.read_bytes()).decode()}
        )
    return uploads


def record(case: Path, base: str) -> str:
    """Run one case on Backstage and write its recording; returns a one-word summary."""
    body = {
        "template": yaml.safe_load((case / "template.yaml").read_text(encoding="utf-8")),
        "values": json.loads((case / "values.json").read_text(encoding="utf-8")),
        "secrets": SECRETS,
        "directoryContents": _uploads(case),
    }
    status, answer = _request(base, "/api/scaffolder/v2/dry-run", body)
    out = case / "recorded"
    shutil.rmtree(out, ignore_errors=True)
    (out / "files").mkdir(parents=True)
    result: dict[str, Any] = {"http": status}
    if status != 200:
        result["error"] = answer.get("error", answer)
        result["error"].pop("stack", None)
    else:
        inputs: dict[str, list[Any]] = {}
        for line in answer.get("log", []):
            message = line.get("body", {}).get("message", "")
            match = _INPUTS.match(message)
            if match:
                inputs.setdefault(line["body"].get("stepId", "?"), []).append(json.loads(match.group(2)))
        result["inputs"] = inputs
        result["output"] = answer.get("output")
        result["files"] = []
        for item in answer.get("directoryContents", []):
            target = out / "files" / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(item["base64Content"]))
            result["files"].append({"path": item["path"], "executable": bool(item.get("executable"))})
        result["files"].sort(key=lambda f: f["path"])
        result["log"] = [
            {k: v for k, v in line.get("body", {}).items() if k in ("message", "stepId", "status")}
            for line in answer.get("log", [])
        ]
    (out / "result.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return "ok" if status == 200 else f"error {status}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--oracle", required=True, type=Path, help="directory set up by the oracle's setup.sh"
    )
    parser.add_argument("--base", help="use an already running backend at this URL instead of starting one")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    names = args.cases or sorted(p.name for p in CASES.iterdir() if (p / "template.yaml").exists())
    process = None
    base = args.base
    if base is None:
        process, base = _start(args.oracle.resolve())
    try:
        for name in names:
            print(f"{name}: {record(CASES / name, base)}", flush=True)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(f"recorded {len(names)} cases", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    main()

"""The backends stay usable from a plain script: importing them pulls in no UI and no cluster client.

A CLI command such as ``idp-console catalog list`` imports these modules; if one of them dragged in
Textual or the kubernetes client, every command would pay for it at start-up (and a bastion without a
terminal would load a UI stack for nothing). The layer rules themselves are checked by ``lint-imports``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("textual", "rich", "kubernetes", "kmock", "screens", "widgets", "console")


@pytest.mark.parametrize(
    "module",
    ["backends.workspace", "backends.config", "backends.catalog", "backends.docs", "backends.search"],
)
def test_backend_import_loads_no_ui_and_no_cluster_client(module: str) -> None:
    probe = (
        f"import json, sys, {module}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_console_on_the_shared_demo_cluster_loads_no_emulator(tmp_path: Path) -> None:
    """The demo's simulation runs in a process of its own; a console (a TUI session over SSH, a CLI)
    that reaches it over HTTP must not import what runs it — kmock, aiohttp, the controller —
    which would cost each session ~18 MiB for nothing."""
    probe = (
        "import json, sys\n"
        "from backends.deploy.session import open_deploy\n"
        "from backends.kube.sim.cluster import Endpoint\n"
        "from backends.workspace import load_demo_workspace\n"
        "with open_deploy(load_demo_workspace(), time_scale=0.02) as session:\n"
        "    sim = session.simulation()\n"
        "    pid = Endpoint.read(sim.state_file).pid\n"
        "    session.engine.context.cluster_for(session.engine.context.environment('staging'))"
        ".get('deployments', 'staging', 'payment-service')\n"
        "    heavy = {'kmock', 'aiohttp', 'backends.kube.sim.emulator', 'backends.kube.sim.controller'}\n"
        "    loaded = sorted(heavy & set(sys.modules))\n"
        "    print(json.dumps({'pid': pid, 'attached': sim.attached, 'loaded': loaded}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "IDP_CONSOLE_SIMULATION"}  # the demo's own path
    env.update(IDP_CONSOLE_HOME=str(tmp_path / "home"), IDP_CONSOLE_SIM_IDLE_EXIT="1")
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    with contextlib.suppress(ProcessLookupError):  # the shared server exits when idle; don't wait
        os.kill(found["pid"], signal.SIGKILL)
    assert found["attached"] and found["loaded"] == []


def test_a_workspace_loads_without_the_clients_its_config_does_not_use(tmp_path: Path) -> None:
    """Every start reads the workspace config before the first paint: a section it does not have
    (``infra:``) must not import that section's HTTP client (httpx) or gitpython, and a valid file
    must not import PyYAML (only an error's line needs it)."""
    (tmp_path / "catalog").mkdir()
    (tmp_path / "idp-console.yaml").write_text(
        "catalog:\n  sources:\n    - type: dir\n      path: catalog\n", encoding="utf-8"
    )
    probe = (
        "import json, sys\n"
        "from backends.workspace import load_workspace\n"
        "import console.app\n"
        f"load_workspace({str(tmp_path)!r})\n"
        "print(json.dumps(sorted({'httpx', 'git', 'yaml', 'secrets'} & set(sys.modules))))\n"
    )
    env = {**os.environ, "IDP_CONSOLE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []

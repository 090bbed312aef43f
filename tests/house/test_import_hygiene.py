"""The backends stay usable from a plain script: importing them pulls in no UI and no cluster client.

A CLI command such as ``idp-console catalog list`` imports these modules; if one of them dragged in
Textual or the kubernetes client, every command would pay for it at start-up (and a bastion without a
terminal would load a UI stack for nothing). The layer rules themselves are checked by ``lint-imports``.
"""

from __future__ import annotations

import json
import subprocess
import sys

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

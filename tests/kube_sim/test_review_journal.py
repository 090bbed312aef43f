"""Review of the simulated cluster's journal: acknowledged writes survive the failures it claims to handle."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from backends.kube.sim import start_simulated_cluster
from backends.kube.sim.journal import recover, segment_paths, write_snapshot
from backends.kube.sim.resources import BY_KEY

from .conftest import FAST, wait_for

REPO = Path(__file__).resolve().parents[2]
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"

# A journal whose second sync is cut short by the file size limit (a real short write, then
# EFBIG: the disk-full case), and whose third sync — the disk has room again — succeeds.
_SHORT_WRITE = """
import resource, signal, sys
from pathlib import Path
from backends.kube.sim.journal import Journal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG as an error, not a fatal signal
state = Path(sys.argv[1])
journal = Journal(state, last_seq=0, segment=0)


def configmap(name, rv):
    meta = {"name": name, "namespace": "default", "uid": name, "resourceVersion": str(rv)}
    return lambda: {"put": "v1/configmaps", "object": {"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": meta, "data": {"v": name}}}


journal.append(configmap("first", 2))
journal.sync()
_soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (journal.path(0).stat().st_size + 20, hard))
journal.append(configmap("second", 3))
try:
    journal.sync()
except OSError:
    print("second: not acknowledged")
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
journal.append(configmap("third", 4))
journal.sync()  # both records on disk now: "second" (written again) and "third" are acknowledged
print("third: acknowledged")
"""


def test_a_write_cut_short_by_a_full_disk_loses_no_record_acknowledged_after_it(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    run = subprocess.run(
        [sys.executable, "-c", _SHORT_WRITE, str(state)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout.split("\n")[:2] == ["second: not acknowledged", "third: acknowledged"]
    with start_simulated_cluster(state, time_scale=FAST, attach=False) as again:
        assert again.store is not None
        found, _rv = again.store.list_objects(BY_KEY["v1/configmaps"], "default")
    assert sorted(cm["metadata"]["name"] for cm in found) == ["first", "second", "third"]


def _versions(state: dict[str, Any]) -> dict[tuple[str, str | None, str], int]:
    return {
        (e["resource"], e["object"]["metadata"].get("namespace"), e["object"]["metadata"]["name"]): int(
            e["object"]["metadata"]["resourceVersion"]
        )
        for e in state["objects"]
    }


def test_what_the_controller_writes_as_the_cluster_starts_survives_a_kill_9(tmp_path: Path) -> None:
    """A restart with work to do (a Deployment without its ReplicaSet): the controller's first pass
    writes at once; an API write acknowledged after it makes it durable, as any earlier change."""
    state = tmp_path / "cluster.json"
    labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "web-uid",
            "resourceVersion": "5",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },  # fmt: skip
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }
    objects = [{"resource": "apps/v1/deployments", "object": deployment}]
    write_snapshot(state, {"resourceVersion": 5, "journalSeq": 0, "objects": objects, "errorRates": []})
    with start_simulated_cluster(state, time_scale=FAST, attach=False) as sim:
        assert sim.store is not None
        store = sim.store

        def ready_pods() -> bool:
            pods, _rv = store.list_objects(BY_KEY["v1/pods"], "default")
            ready = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
            return len(ready) == 2

        wait_for(ready_pods)
        with httpx.Client(base_url=sim.api_url, timeout=30) as api:
            answer = api.post(CONFIGMAPS, json={"metadata": {"name": "after"}, "data": {"v": "1"}})
        assert answer.status_code == 201
        acknowledged = int(answer.json()["metadata"]["resourceVersion"])
        with store.paused_writes():  # what the store holds and what is on disk, at one instant
            seen = store.snapshot()
            killed = _copy_as_killed(state, tmp_path / "killed")
    recovered = recover(killed)
    assert recovered is not None
    # Everything committed before the acknowledged write, as it was then (later writes may be lost).
    before = {key: rv for key, rv in _versions(seen).items() if rv <= acknowledged}
    after = _versions(recovered)
    assert {key: after.get(key) for key in before} == before
    assert recovered["resourceVersion"] >= acknowledged


def _copy_as_killed(state: Path, into: Path) -> Path:
    """The files as a kill -9 at this instant leaves them (every byte written is in the page cache)."""
    into.mkdir()
    for path in [state, *(p for _n, p in segment_paths(state))]:
        if path.exists():
            shutil.copy2(path, into / path.name)
    return into / state.name


PODS = "/api/v1/namespaces/default/pods"
_OWNER = (
    "import json, sys, threading; from pathlib import Path\n"
    "from backends.kube.sim import start_simulated_cluster\n"
    f"sim = start_simulated_cluster(Path(sys.argv[1]), time_scale={FAST}, attach=False)\n"
    "print(json.dumps({'api_url': sim.api_url}), flush=True)\n"
    "threading.Event().wait()\n"
)


def _resume(api: httpx.Client, resource_version: int) -> int:
    """The status a watch resumed from ``resource_version`` gets (an ERROR event's code counts)."""
    params = {"watch": "true", "resourceVersion": str(resource_version), "timeoutSeconds": "1"}
    answer = api.get(PODS, params=params)
    if answer.status_code == 200 and '"code":410' in answer.text.replace(" ", ""):
        return 410
    return answer.status_code


def test_a_watch_resumed_after_a_kill_9_lists_again_instead_of_missing_what_the_restart_lost(
    tmp_path: Path,
) -> None:
    """The controller's writes reach watchers a moment before they are journaled: a kill -9 in that
    moment loses them, and their resourceVersions would be handed out again after the restart. A
    client resuming from one must be told to list again (410), or it never learns of the loss."""
    state = tmp_path / "state" / "cluster.json"
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(state)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        api_url = json.loads(owner.stdout.readline())["api_url"]
        with httpx.Client(base_url=api_url, timeout=30) as api:
            pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "web:1"}]}}
            created = api.post(PODS, json=pod)
            assert created.status_code == 201
            written = int(created.json()["metadata"]["resourceVersion"])

            def status_written() -> int | None:  # by the controller, as a watcher sees it
                rv = int(api.get(f"{PODS}/p").json()["metadata"]["resourceVersion"])
                return rv if rv > written else None

            seen = wait_for(status_written)
        os.kill(owner.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            owner.kill()
        owner.wait(10)
    again = start_simulated_cluster(state, time_scale=FAST, attach=False)
    with again, httpx.Client(base_url=again.api_url, timeout=30) as api:
        assert _resume(api, seen) == 410
        # and the sequence goes on above anything handed out before
        pod = {"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c", "image": "web:1"}]}}
        after = api.post(PODS, json=pod)
        assert int(after.json()["metadata"]["resourceVersion"]) > seen

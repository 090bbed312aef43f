"""Every write the simulated API acknowledges survives a kill -9 of the simulation — mid-burst,
and at every step of the compaction that folds the journal into the state file — while a write
itself only appends to the journal (the whole state file is not rewritten per write)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends.kube.sim import start_simulated_cluster
from backends.kube.sim.journal import recover, segment_paths, write_snapshot
from backends.kube.sim.resources import BY_KEY

from .conftest import FAST, wait_for

REPO = Path(__file__).resolve().parents[2]
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _configmaps(state: Path) -> dict[str, dict[str, str]]:
    """name → data of the ConfigMaps a restart from ``state`` has (a real restart, in this process)."""
    with start_simulated_cluster(state, time_scale=FAST, attach=False) as again:
        assert again.store is not None
        found, _rv = again.store.list_objects(BY_KEY["v1/configmaps"], "default")
        return {cm["metadata"]["name"]: cm.get("data") or {} for cm in found}


def _writer(
    api_url: str, worker: int, numbers: range, acknowledged: dict[str, dict[str, str] | None]
) -> None:
    """Create, patch and delete ConfigMaps of its own; record each acknowledged outcome."""
    with httpx.Client(base_url=api_url, timeout=30) as api:
        for n in numbers:
            name = f"w{worker}-{n}"
            body = {"metadata": {"name": name}, "data": {"v": "0", "pad": "x" * 200}}
            assert api.post(CONFIGMAPS, json=body).status_code == 201
            acknowledged[name] = body["data"]
            patch = {"data": {"v": "1"}}
            assert api.patch(f"{CONFIGMAPS}/{name}", json=patch, headers=MERGE).status_code == 200
            acknowledged[name] = {**body["data"], "v": "1"}
            if n % 3 == 0:
                assert api.delete(f"{CONFIGMAPS}/{name}").status_code == 200
                acknowledged[name] = None


@pytest.fixture
def owner_process(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str], str]]:
    """A simulation served by a process of its own that compacts at every chance (any journal
    bytes at all), so compactions run all through a burst of writes."""
    state = tmp_path / "state" / "cluster.json"
    script = (
        "import json, sys, threading; from pathlib import Path\n"
        "from backends.kube.sim import start_simulated_cluster\n"
        f"sim = start_simulated_cluster(Path(sys.argv[1]), time_scale={FAST}, attach=False)\n"
        "sim.compact_min_bytes = 1\n"
        "print(json.dumps({'api_url': sim.api_url}), flush=True)\n"
        "threading.Event().wait()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(state)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        api_url = json.loads(process.stdout.readline())["api_url"]
        yield state, process, api_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)


def test_kill_9_right_after_a_burst_of_writes_keeps_every_acknowledged_write(
    owner_process: tuple[Path, subprocess.Popen[str], str],
) -> None:
    state, process, api_url = owner_process
    acknowledged: dict[str, dict[str, str] | None] = {}

    def burst(numbers: range) -> None:
        writers = [
            threading.Thread(target=_writer, args=(api_url, worker, numbers, acknowledged))
            for worker in range(4)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(120)

    burst(range(15))
    wait_for(state.exists)  # a compaction has folded the first half into the state file
    burst(range(15, 30))  # more compactions run through this half (the server compacts at every chance)
    os.kill(process.pid, signal.SIGKILL)  # at once: no chance to save anything more
    process.wait(10)

    assert len(acknowledged) == 120
    survived = _configmaps(state)
    assert {name: survived.get(name) for name in acknowledged} == acknowledged


def _copy_as_killed(state: Path, into: Path) -> Path:
    """The state file and journal as a kill -9 at this instant leaves them (every byte written so
    far is in the page cache; files only ever grow, or are replaced atomically)."""
    into.mkdir()
    for path in [state, *(p for _n, p in segment_paths(state))]:
        if path.exists():
            shutil.copy2(path, into / path.name)
    return into / state.name


def test_a_kill_at_any_step_of_a_compaction_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    expected: dict[str, dict[str, str]] = {}
    crashes: list[tuple[str, Path, dict[str, dict[str, str]]]] = []

    def write(api: httpx.Client, name: str, value: str) -> None:
        body = {"metadata": {"name": name}, "data": {"v": value}}
        assert api.post(CONFIGMAPS, json=body).status_code == 201
        expected[name] = body["data"]

    def crash(step: str) -> None:
        crashes.append((step, _copy_as_killed(state, tmp_path / f"killed-{len(crashes)}"), dict(expected)))

    with start_simulated_cluster(state, time_scale=FAST, attach=False) as sim:
        sim.compact_min_bytes = 1 << 40  # this test runs the compaction's steps itself
        journal = sim.journal
        assert journal is not None
        with httpx.Client(base_url=sim.api_url, timeout=30) as api:
            for n in range(5):
                write(api, f"before-{n}", "1")
            crash("journal only")
            with sim._save_lock:  # what `save` does, one step at a time
                journal.sync()
                segment, snapshot = sim._capture()
                crash("a new segment started, the snapshot not written")
                write(api, "between", "2")  # lands in the new segment
                crash("a write after the rotation")
                write_snapshot(state, snapshot)
                crash("the snapshot written, the old segments still there")
                journal.drop_through(segment)
                crash("the old segments deleted")
            write(api, "after", "3")
            crash("a write after the compaction")

    for step, killed, wanted in crashes:
        survived = _configmaps(killed)
        assert {name: survived.get(name) for name in wanted} == wanted, step


def test_an_api_write_appends_to_the_journal_without_rewriting_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with (
        start_simulated_cluster(state, time_scale=FAST, attach=False) as sim,
        httpx.Client(base_url=sim.api_url, timeout=30) as api,
    ):
        sim.compact_min_bytes = 1 << 40  # no compaction but the one this test asks for
        body = {"metadata": {"name": "big"}, "data": {"pad": "x" * 100_000}}
        assert api.post(CONFIGMAPS, json=body).status_code == 201
        sim.save()  # the state file now holds "big"
        before = state.stat()
        patch = {"data": {"v": "1"}}
        assert api.patch(f"{CONFIGMAPS}/big", json=patch, headers=MERGE).status_code == 200
        recovered = recover(state)  # straight after the answer: on disk already
        assert recovered is not None
        big = next(e["object"] for e in recovered["objects"] if e["object"]["metadata"]["name"] == "big")
        assert big["data"]["v"] == "1"
        after = state.stat()
        assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
            before.st_ino,
            before.st_size,
            before.st_mtime_ns,
        )


def test_a_torn_last_journal_line_is_ignored_and_the_journal_is_folded_in_at_start(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with start_simulated_cluster(state, time_scale=FAST, attach=False) as sim:
        assert sim.journal is not None
        with httpx.Client(base_url=sim.api_url, timeout=30) as api:
            body = {"metadata": {"name": "kept"}, "data": {"v": "1"}}
            assert api.post(CONFIGMAPS, json=body).status_code == 201
        killed = _copy_as_killed(state, tmp_path / "killed")
    segments = segment_paths(killed)
    assert segments, "the write was journaled"
    with segments[-1][1].open("ab") as handle:
        handle.write(b'{"seq":999999,"put":"v1/configmaps","object":{"metadata":{"na')  # killed mid-append
    assert _configmaps(killed) == {"kept": {"v": "1"}}
    # The start folded the journal into the state file: nothing left to replay next time.
    assert segment_paths(killed) == []


def test_a_watch_streams_every_event_of_a_burst_across_compactions(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with start_simulated_cluster(state, time_scale=FAST, attach=False) as sim:
        sim.compact_min_bytes = 1
        seen: list[str] = []

        def watch() -> None:
            params = {"watch": "true", "resourceVersion": "1", "timeoutSeconds": "60"}
            with httpx.stream("GET", f"{sim.api_url}{CONFIGMAPS}", params=params, timeout=60) as stream:
                for line in stream.iter_lines():
                    event = json.loads(line)
                    if event["type"] == "ADDED":
                        seen.append(event["object"]["metadata"]["name"])
                    if len(seen) == 60:
                        return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        acknowledged: dict[str, dict[str, str] | None] = {}
        _writer(sim.api_url, 0, range(30), acknowledged)
        wait_for(lambda: sim.compactions >= 1)
        _writer(sim.api_url, 0, range(30, 60), acknowledged)
        watcher.join(60)
        assert seen == [f"w0-{n}" for n in range(60)]

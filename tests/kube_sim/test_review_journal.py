"""Review of the simulated cluster's journal: acknowledged writes survive the failures it claims to handle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from backends.kube.sim import start_simulated_cluster
from backends.kube.sim.resources import BY_KEY

from .conftest import FAST

REPO = Path(__file__).resolve().parents[2]

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

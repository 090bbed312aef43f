"""Wire the deploy area to a workspace: catalog, environments, history and (for the demo) the
simulated cluster, which is attached to — and started first, if no idp-console runs it yet — only
when an environment that uses it is first touched.

The simulated cluster is one background process per state dir, shared by every CLI and TUI
(``python -m backends.kube.sim``, see `backends.kube.sim.cluster`): a deploy killed with -9 never
takes the cluster, or its last acknowledged writes, with it. It exits by itself after
``IDP_CONSOLE_SIM_IDLE_EXIT`` seconds (default 600) without a client.
``IDP_CONSOLE_SIMULATION=in-process`` serves it inside this process instead (the test suite
uses that: one process per test would be slow; the shared path has tests of its own).

```python
with open_deploy(workspace) as session:
    run = session.engine.deploy("payment-service", "production", "v2.3.1")
    for event in run.events(): ...
```
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends import paths
from backends.deploy.engine import DeployContext, DeployEngine
from backends.deploy.history import DeployHistory, open_history
from backends.deploy.prechecks import CatalogLike

if TYPE_CHECKING:
    from backends.kube.sim.cluster import SimulatedCluster
    from backends.workspace import Workspace

SIMULATED_BANNER = "SIMULATED CLUSTER — nothing is really deployed"
SIM_STATE_FILE = "simulated-cluster.json"
SIM_KUBECONFIG = "simulated-kubeconfig.yaml"
SIM_CONTEXT = "simulated"
SIM_MODE_ENV = "IDP_CONSOLE_SIMULATION"  # "shared" (default) or "in-process"
SIM_IDLE_EXIT_ENV = "IDP_CONSOLE_SIM_IDLE_EXIT"
DEFAULT_SIM_IDLE_EXIT = 600.0


def _sim_idle_exit() -> float:
    raw = os.environ.get(SIM_IDLE_EXIT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_SIM_IDLE_EXIT
    except ValueError:
        value = DEFAULT_SIM_IDLE_EXIT
    return value if value > 0 else DEFAULT_SIM_IDLE_EXIT


class DeploySession:
    """The engine for one workspace plus whatever it started; close it (or use ``with``)."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        catalog: CatalogLike | None = None,
        history: DeployHistory | None = None,
        time_scale: float | None = None,
    ) -> None:
        self.workspace = workspace
        self._catalog = catalog
        self._time_scale = time_scale
        self.simulated: SimulatedCluster | None = None
        self._owns_history = history is None
        self._sim_lock = threading.Lock()
        self.context = DeployContext(
            catalog=self,  # the catalog is loaded on first use: status/scale may not need it twice
            environments=workspace.section("environments"),
            deploy=workspace.section("deploy"),
            history=history or open_history(workspace),
            user=workspace.identity,
            simulated_kubeconfig=self._simulated_kubeconfig,
            simulated_prometheus=self._simulated_prometheus,
        )
        from backends.registry import registry_for

        self.context.registry = registry_for(workspace)
        self.engine = DeployEngine(self.context)

    @property
    def uses_simulation(self) -> bool:
        """Whether any environment of this workspace is the simulated cluster (show the banner)."""
        return any(
            isinstance(env, dict) and env.get("cluster") == "simulated"
            for env in self.workspace.section("environments").values()
        )

    # -- catalog (lazy) ---------------------------------------------------------------------------
    def get(self, ref: str, default_kind: str | None = None) -> Any:
        if self._catalog is None:
            from backends.catalog import load_catalog

            self._catalog = load_catalog(self.workspace)
        return self._catalog.get(ref, default_kind=default_kind)

    # -- simulated cluster ------------------------------------------------------------------------
    def simulation(self) -> SimulatedCluster:
        """Start or attach to the simulated cluster (kept in the state dir between runs)."""
        with self._sim_lock:
            if self.simulated is None:
                from backends.kube.cluster import ClusterUnreachable
                from backends.kube.sim.cluster import (
                    DEFAULT_TIME_SCALE,
                    SimulationUnavailable,
                    start_simulated_cluster,
                )
                from backends.kube.sim.seed import DEMO_SERVICES

                # The simulated API server logs every watch a client closes mid-write as an error;
                # on a CLI's stderr that is noise about the simulation, not about the deploy.
                logging.getLogger("aiohttp.server").addHandler(logging.NullHandler())
                logging.getLogger("aiohttp.server").propagate = False
                state = paths.state_dir() / SIM_STATE_FILE
                try:
                    self.simulated = start_simulated_cluster(
                        state,
                        time_scale=self._time_scale or DEFAULT_TIME_SCALE,
                        seed_objects=DEMO_SERVICES if self.workspace.is_demo else None,
                        detached=os.environ.get(SIM_MODE_ENV, "shared") != "in-process",
                        idle_exit=_sim_idle_exit(),
                    )
                except SimulationUnavailable as error:
                    raise ClusterUnreachable(str(error)) from error
                except OSError as error:  # the state dir cannot hold the state file, lock or log
                    raise ClusterUnreachable(f"cannot start the simulated cluster: {error}") from error
                # No error rates to seed: the simulated Prometheus derives every workload's series
                # from what runs and the version's image tag (backends.kube.sim.workloads).
            return self.simulated

    def _simulated_kubeconfig(self) -> tuple[str, str | None]:
        path = self.simulation().kubeconfig(Path(paths.state_dir() / SIM_KUBECONFIG), context=SIM_CONTEXT)
        return str(path), SIM_CONTEXT

    def _simulated_prometheus(self) -> str:
        return self.simulation().prometheus_url

    def close(self) -> None:
        if self._owns_history:
            # One last try to write what an outage left waiting; the rest stays spooled on disk for
            # the next process that opens this history.
            self.context.history.close()
        if self.simulated is not None:
            self.simulated.stop()
            self.simulated = None

    def __enter__(self) -> DeploySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_deploy(workspace: Workspace, **kwargs: Any) -> DeploySession:
    """A :class:`DeploySession` for ``workspace`` (see the module docstring)."""
    return DeploySession(workspace, **kwargs)

"""``--abort``: an interrupted run rolled back — stable restored to its old version and size, canary removed.

All of it is the core's way back (:meth:`DeployRun._roll_back`); an interrupted rollback or scale
is put back to the version or size it was leaving. Always possible, whatever the catalog says now.
"""

from __future__ import annotations

from backends.deploy.events import Outcome
from backends.deploy.reducer import RunKind
from backends.deploy.run_core import DeployRun
from backends.deploy.run_state import Steps, _Stop


class Abort(DeployRun):
    """The abort of an interrupted deploy, rollback or scale."""

    kind = RunKind.ABORT
    checks_permissions = False
    owns_canary = True

    def _steps(self) -> Steps:
        raise _Stop(f"interrupted deploy {self.deploy_id} aborted", Outcome.ABORTED)

"""A scaffolder run that registers a new component records it in the deploy history, so the
scorecard's time-to-first-deploy starts from it; a dry run records nothing."""

from __future__ import annotations

from pathlib import Path

from backends.catalog import Catalog
from backends.deploy.history import open_history
from backends.scaffolder import Services, TaskRunner
from backends.scaffolder.events import TaskFinished
from backends.workspace import load_demo_workspace
from tests.scaffolder.helpers import write_template


def _template(tmp_path: Path):  # noqa: ANN202
    return write_template(
        tmp_path / "t",
        [
            {
                "id": "write",
                "action": "catalog:write",
                "input": {
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {"name": "orders-api"},
                        "spec": {"type": "service", "lifecycle": "experimental", "owner": "team-a"},
                    }
                },
            },
            {
                "id": "register",
                "action": "catalog:register",
                "input": {"catalogInfoUrl": "catalog-info.yaml"},
            },
        ],
        name="new-service",
    )


def _run(tmp_path: Path, *, dry_run: bool) -> TaskFinished:
    workspace = load_demo_workspace()
    catalog = Catalog()
    services = Services.from_workspace(workspace, catalog=catalog)
    task = TaskRunner(services=services).create_task(
        _template(tmp_path),
        {},
        user="jane.doe",
        dry_run=dry_run,
        keep_dir=tmp_path / ("dry" if dry_run else "run"),
    )
    events = list(task.run())
    assert isinstance(events[-1], TaskFinished)
    return events[-1]


def test_a_completed_run_records_the_new_component(tmp_path: Path) -> None:
    assert _run(tmp_path, dry_run=False).status == "completed"
    rows = open_history(load_demo_workspace()).query('SELECT entity_ref, template, "user" FROM scaffolds')
    assert rows == [("component:default/orders-api", "template:default/new-service", "jane.doe")]


def test_a_dry_run_records_nothing(tmp_path: Path) -> None:
    assert _run(tmp_path, dry_run=True).status == "completed"
    assert open_history(load_demo_workspace()).query("SELECT COUNT(*) FROM scaffolds") == [(0,)]

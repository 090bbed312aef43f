"""Helpers for scaffolder tests: templates in tmp_path, bare remotes, a small catalog."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from backends.catalog.model import Entity, SourcePosition
from backends.git.publish import GitSettings
from backends.scaffolder import Services, TaskRunner, Template, load_template_file
from backends.scaffolder.events import TaskEvent, TaskFinished


def write_template(
    directory: Path,
    steps: list[dict[str, Any]],
    *,
    parameters: Any = None,
    output: dict[str, Any] | None = None,
    files: dict[str, str | bytes] | None = None,
    name: str = "test-template",
) -> Template:
    """Write template.yaml (+ files relative to it) and load it back."""
    directory.mkdir(parents=True, exist_ok=True)
    for relative, content in (files or {}).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    document = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": name},
        "spec": {"type": "service", "owner": "team-a", "parameters": parameters or [], "steps": steps},
    }
    if output is not None:
        document["spec"]["output"] = output
    (directory / "template.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return load_template_file(directory / "template.yaml")


def run(
    template: Template,
    parameters: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    *,
    services: Services | None = None,
    **options: Any,
) -> list[TaskEvent]:
    """Run to the end and return every event."""
    return list(TaskRunner(services=services).run(template, parameters or {}, secrets, **options))


def finished(events: list[TaskEvent]) -> TaskFinished:
    last = events[-1]
    assert isinstance(last, TaskFinished)
    return last


def step_status(events: list[TaskEvent]) -> dict[str, str]:
    return {e.step_id: e.status for e in events if type(e).__name__ == "StepFinished"}


def log_text(events: list[TaskEvent]) -> str:
    return "\n".join(e.message for e in events if type(e).__name__ == "StepLog")


def entity(kind: str, name: str, **spec: Any) -> Entity:
    metadata = {"name": name}
    for key in ("title", "tags", "description"):
        if key in spec:
            metadata[key] = spec.pop(key)
    return Entity(
        raw={"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec},
        position=SourcePosition("test.yaml"),
    )


class FakeCatalog:
    """Entities plus a register() that reads the file — what the workspace Catalog offers."""

    def __init__(self, entities: list[Entity]) -> None:
        self.entities = list(entities)
        self.registered: list[str] = []

    def register(self, path: str) -> list[Entity]:
        self.registered.append(path)
        added = []
        for document in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")):
            added.append(Entity(raw=document, position=SourcePosition(path)))
        self.entities.extend(added)
        return added


def sample_catalog() -> FakeCatalog:
    return FakeCatalog(
        [
            entity("Group", "team-a", type="team", title="Team A", members=["jane"]),
            entity("Group", "team-b", type="team", title="Team B"),
            entity("User", "jane", memberOf=["team-a"]),
            entity("System", "billing", owner="team-a", tags=["money"]),
            entity("Component", "payments", type="service", owner="team-a", tags=["python", "money"]),
            entity("Component", "ledger", type="service", owner="team-b", tags=["go"]),
            entity("Component", "web", type="website", owner="team-b", tags=["typescript"]),
        ]
    )


def bare_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def git_services(base: Path, **extra: Any) -> Services:
    return Services(git=GitSettings(remote_base=str(base)), **extra)


def git_show(repo: Path, spec: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), "show", spec], check=True, capture_output=True, text=True
    ).stdout

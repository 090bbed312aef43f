"""Typed events of a template run; the CLI prints them, the wizard turns them into messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

StepStatus = Literal["done", "skipped", "failed"]
TaskStatus = Literal["completed", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class StepInfo:
    id: str
    name: str
    action: str


@dataclass(frozen=True, slots=True)
class TaskStarted:
    task_id: str
    template: str  # template ref
    steps: list[StepInfo]
    dry_run: bool
    workspace_path: str


@dataclass(frozen=True, slots=True)
class StepStarted:
    step_id: str
    name: str
    action: str
    index: int


@dataclass(frozen=True, slots=True)
class StepLog:
    """One log line; ``step_id`` is None for task-level lines. Secrets are already redacted."""

    step_id: str | None
    message: str
    level: Literal["info", "warning", "error"] = "info"


@dataclass(frozen=True, slots=True)
class StepFinished:
    step_id: str
    status: StepStatus
    duration: float  # seconds
    error: str | None = None
    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskFinished:
    """The end of a run. ``outputs`` holds the rendered ``spec.output`` (``links``, ``text``, …).

    ``workspace_path`` is where the rendered files are (None once a successful real run cleaned
    its temporary workspace up); ``failed_step`` names the step to show and maybe retry from.
    """

    status: TaskStatus
    outputs: dict[str, Any]
    workspace_path: str | None
    error: str | None = None
    failed_step: str | None = None
    dry_run: bool = False
    duration: float = 0.0


TaskEvent = TaskStarted | StepStarted | StepLog | StepFinished | TaskFinished


def event_to_dict(event: TaskEvent) -> dict[str, Any]:
    """A JSON-ready dict with a ``type`` field (``task-started``, ``step-log`` …)."""
    name = type(event).__name__
    kind = "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")
    return {"type": kind, **dataclasses.asdict(event)}

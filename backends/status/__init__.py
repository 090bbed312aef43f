"""Status: what runs where and how healthy — one cell per service × environment, live from watches
(`controller`), and what a service's page shows besides (`page`: Events, logs, links, traffic)."""

from __future__ import annotations

from backends.status.controller import StatusController, StatusTarget, status_services, targets_for
from backends.status.model import Health, PodRow, StatusCell, verdict

__all__ = [
    "Health",
    "PodRow",
    "StatusCell",
    "StatusController",
    "StatusTarget",
    "status_services",
    "targets_for",
    "verdict",
]

"""What the scorecard shows: figures with their target, band, universe, trend and drill-down."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ScopeKind = Literal["org", "team", "service"]
WINDOWS = (7, 30, 90)  # the windows the screen cycles through; the CLI takes any 1..365 days


class MetricsError(Exception):
    """Bad input for the scorecard (unknown team or service, a window that is not a duration)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose figures: the whole organisation, one team (owner group) or one service.

    ``services`` is None for the organisation (every deploy counts), else the services in scope;
    ``teams`` the Groups of type team the adoption figure is about; ``users`` whose feedback
    counts (None: everyone's).
    """

    kind: ScopeKind
    name: str = ""
    services: tuple[str, ...] | None = None
    teams: tuple[str, ...] = ()
    users: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return "organisation" if self.kind == "org" else f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure.

    ``numerator`` of ``denominator`` is its universe in numbers ("3 of 57 production deploys
    failed"), ``universe`` the same in words. ``trend`` is oldest → newest, one value per
    ``trend_unit`` (None where there was nothing to measure). ``ids`` are the deploy ids behind the
    figure (newest first, at most ``DRILL_LIMIT``); ``details`` extra lines for non-deploy figures.
    """

    key: str
    title: str
    group: str  # DORA | Adoption | Quality | Satisfaction
    value: float | None
    unit: str
    display: str
    numerator: int
    denominator: int
    universe: str
    target: str
    target_met: bool | None
    band: str | None = None  # elite | high | medium | low (DORA figures only)
    trend: list[float | None] = field(default_factory=list)
    trend_unit: str = "week"
    ids: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Scorecard:
    scope: Scope
    window_days: int
    now: float
    figures: list[Figure]
    demo: bool = False  # the numbers come from the demo's generated history

    def figure(self, key: str) -> Figure:
        for figure in self.figures:
            if figure.key == key:
                return figure
        raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every figure with its numerator and denominator."""
        return {
            "scope": {"kind": self.scope.kind, "name": self.scope.name},
            "window_days": self.window_days,
            "now": self.now,
            "demo_history": self.demo,
            "figures": [asdict(figure) for figure in self.figures],
        }


@dataclass(frozen=True, slots=True)
class DeployRow:
    """One deploy in a drill-down list."""

    id: str
    kind: str
    service: str
    environment: str
    user: str
    from_version: str
    to_version: str
    started_at: float
    finished_at: float | None
    outcome: str | None


def parse_window(text: str | int) -> int:
    """``30d`` / ``4w`` / ``30`` → days (1 to 365); MetricsError otherwise."""
    raw = str(text).strip().lower()
    factor = 7 if raw.endswith("w") else 1
    number = raw[:-1] if raw[-1:] in ("d", "w") else raw
    if not number.isdigit():
        raise MetricsError(f"--window {text!r}: expected days like 7d, 30d or 90d (or weeks like 4w)")
    days = int(number) * factor
    if not 1 <= days <= 365:
        raise MetricsError(f"--window {text!r}: between 1 and 365 days")
    return days


SPARK_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """One bar per value, from 0 (or the series' minimum when negative) to its maximum; a space
    where nothing was measured."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(0.0, *known), max(known)
    span = (high - low) or 1.0
    top = len(SPARK_BARS) - 1
    return "".join(" " if v is None else SPARK_BARS[round((v - low) / span * top)] for v in values)

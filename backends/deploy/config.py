"""The ``deploy:`` section of ``idp-console.yaml``: canary steps, bake times, analysis.

```yaml
deploy:
  bake: 2m                  # default bake time of every step (how long the canary is watched)
  progress_deadline: 10m    # how long new pods may take to become ready before the step fails
  max_surge: 1              # extra pods allowed while splitting (Argo's rule may use one)
  steps:                    # canary weights in percent; analysis after each step below 100
    - {weight: 5, bake: 2m}
    - {weight: 25}
    - {weight: 50}
    - {weight: 100}
  analysis:
    prometheus: http://prometheus.monitoring:9090   # or "simulated" in the demo
    query: >-
      sum(rate(http_requests_total{service="{{service}}",track="canary",code=~"5.."}[1m]))
      / sum(rate(http_requests_total{service="{{service}}",track="canary"}[1m]))
    threshold: 0.01         # highest acceptable error rate (a fraction)
    timeout: 5s
  services:                 # per-service overrides of any key above
    payment-service:
      analysis: {threshold: 0.005}
```

Query placeholders: ``{{service}}``, ``{{namespace}}``, ``{{environment}}``, ``{{deployment}}``,
``{{canary}}`` (the canary Deployment's name), ``{{version}}``, ``{{track}}`` (always ``canary``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_WEIGHTS = (5, 25, 50, 100)
DEFAULT_QUERY = (
    'sum(rate(http_requests_total{service="{{service}}",namespace="{{namespace}}",track="canary",code=~"5.."}[1m]))'
    ' / sum(rate(http_requests_total{service="{{service}}",namespace="{{namespace}}",track="canary"}[1m]))'
)


class DeployConfigError(Exception):
    """A malformed ``deploy:`` section (message names the key)."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: Any, key: str = "duration") -> float:
    """``90``, ``"90s"``, ``"2m"``, ``"1.5h"``, ``"500ms"`` → seconds."""
    if isinstance(value, bool):
        raise DeployConfigError(f"{key}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise DeployConfigError(f"{key}: expected a duration like 30s or 2m, got {value!r}")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def format_duration(seconds: float) -> str:
    """``120`` → ``2 min``, ``3`` → ``3 s``: how the CLI speaks about bake times."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:g} s"


@dataclass(frozen=True, slots=True)
class CanaryStep:
    weight: int  # percent of pods on the new version
    bake: float  # seconds the canary is watched at this weight
    analysis: bool = True  # run the analysis after the bake (never for 100)


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    prometheus: str | None = None  # base URL, "simulated", or None (no metric: analysis pauses)
    query: str = DEFAULT_QUERY
    threshold: float = 0.01
    timeout: float = 5.0

    def render(self, values: dict[str, str]) -> str:
        """The query with its ``{{placeholders}}`` filled in."""
        query = self.query
        for key, value in values.items():
            query = query.replace("{{" + key + "}}", value)
        return query


@dataclass(frozen=True, slots=True)
class DeploySettings:
    steps: tuple[CanaryStep, ...] = field(
        default_factory=lambda: tuple(CanaryStep(w, 120.0) for w in DEFAULT_WEIGHTS)
    )
    progress_deadline: float = 600.0
    max_surge: int = 1
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    lease_seconds: int = 60  # a killed process's lease expires after this

    @property
    def weights(self) -> tuple[int, ...]:
        return tuple(step.weight for step in self.steps)


def parse_deploy_settings(section: dict[str, Any], service: str | None = None) -> DeploySettings:
    """Settings for one service: the section's defaults with ``services.<name>`` merged on top."""
    merged = dict(section)
    overrides = (section.get("services") or {}).get(service or "", {}) if service else {}
    if overrides:
        merged = _deep_merge(merged, overrides)
    try:
        return _parse(merged)
    except (TypeError, ValueError) as error:
        raise DeployConfigError(f"deploy: {error}") from error


def _parse(data: dict[str, Any]) -> DeploySettings:
    default_bake = parse_duration(data.get("bake", 120), "deploy.bake")
    raw_steps = data.get("steps")
    if raw_steps is None:
        steps = tuple(CanaryStep(w, default_bake) for w in DEFAULT_WEIGHTS)
    else:
        if not isinstance(raw_steps, list) or not raw_steps:
            raise DeployConfigError("deploy.steps: expected a non-empty list")
        parsed = []
        for index, raw in enumerate(raw_steps):
            item = raw if isinstance(raw, dict) else {"weight": raw}
            weight = int(item.get("weight", item.get("setWeight", -1)))
            if not 0 < weight <= 100:
                raise DeployConfigError(f"deploy.steps[{index}].weight: expected 1..100, got {weight}")
            if parsed and weight <= parsed[-1].weight:
                raise DeployConfigError(f"deploy.steps[{index}].weight: weights must increase")
            bake = parse_duration(item.get("bake", default_bake), f"deploy.steps[{index}].bake")
            parsed.append(CanaryStep(weight, bake, bool(item.get("analysis", True)) and weight < 100))
        if parsed[-1].weight != 100:
            parsed.append(CanaryStep(100, default_bake, False))
        steps = tuple(parsed)
    steps = tuple(replace(s, analysis=False) if s.weight == 100 else s for s in steps)
    analysis_raw = data.get("analysis") or {}
    analysis = AnalysisConfig(
        prometheus=str(analysis_raw["prometheus"]) if analysis_raw.get("prometheus") else None,
        query=str(analysis_raw.get("query") or DEFAULT_QUERY),
        threshold=float(analysis_raw.get("threshold", 0.01)),
        timeout=parse_duration(analysis_raw.get("timeout", 5), "deploy.analysis.timeout"),
    )
    return DeploySettings(
        steps=steps,
        progress_deadline=parse_duration(data.get("progress_deadline", 600), "deploy.progress_deadline"),
        max_surge=int(data.get("max_surge", 1)),
        analysis=analysis,
        lease_seconds=int(parse_duration(data.get("lease", 60), "deploy.lease")),
    )


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result

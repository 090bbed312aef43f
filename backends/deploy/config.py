"""The ``deploy:`` section of ``idp-console.yaml``: canary steps, bake times, analysis.

```yaml
deploy:
  bake: 2m                  # default bake time of every step (how long the canary is watched)
  progress_deadline: 10m    # how long new pods may take to become ready before the step fails
  max_surge: 1              # extra pods allowed while splitting (Argo's rule may use one)
  max_replicas: 50          # `scale` above this asks for a confirmation (or --yes)
  lease: 60s                # a killed deploy's lock expires after this
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

Rules, checked when the file is loaded (an error names the file, line and key): weights are whole
numbers 1..100, strictly increasing (a last step at 100 is added when missing); ``threshold`` is a
finite number in 0..1; durations are positive (``500ms``, ``30s``, ``2m``, ``1.5h`` or seconds);
``max_surge`` is 0 or more; ``max_replicas`` at least 1; unknown keys are refused.

Query placeholders: ``{{service}}``, ``{{namespace}}``, ``{{environment}}``, ``{{deployment}}``,
``{{canary}}`` (the canary Deployment's name), ``{{version}}``, ``{{track}}`` (always ``canary``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from backends.config_checks import ConfigError, ConfigPath, flag, fraction, integer, mapping, shown, text

DEFAULT_WEIGHTS = (5, 25, 50, 100)
DEFAULT_QUERY = (
    'sum(rate(http_requests_total{service="{{service}}",namespace="{{namespace}}",track="canary",code=~"5.."}[1m]))'
    ' / sum(rate(http_requests_total{service="{{service}}",namespace="{{namespace}}",track="canary"}[1m]))'
)
DEFAULT_MAX_REPLICAS = 50
# Kubernetes stores replicas as int32: anything above cannot be asked of an API server.
REPLICAS_LIMIT = 2**31 - 1

# Keys of the section; ``services.<name>`` may override any of them but ``services``.
SETTING_KEYS = frozenset(
    {"bake", "progress_deadline", "max_surge", "max_replicas", "steps", "analysis", "lease"}
)
DEPLOY_KEYS = SETTING_KEYS | {"services"}
ANALYSIS_KEYS = frozenset({"prometheus", "query", "threshold", "timeout"})
STEP_KEYS = frozenset({"weight", "setWeight", "bake", "analysis"})  # setWeight: Argo Rollouts' name


class DeployConfigError(ConfigError):
    """A malformed ``deploy:`` section; ``path`` names the key (``deploy.steps[0].weight``)."""


_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")  # sign: to say "positive"
DURATION_FORMS = "a number of seconds or 500ms, 30s, 2m, 1.5h"


def parse_duration(value: Any, path: ConfigPath = ("duration",)) -> float:
    """``90``, ``"90s"``, ``"2m"``, ``"1.5h"``, ``"500ms"`` → seconds, always more than zero."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DeployConfigError(path, f"expected a duration ({DURATION_FORMS}), got {shown(value)}")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise DeployConfigError(path, f"expected a duration ({DURATION_FORMS}), got {shown(value)}")
        unit = match.group(2) or "s"
        seconds = float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise DeployConfigError(path, f"expected a positive duration ({DURATION_FORMS}), got {shown(value)}")
    return seconds


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
    max_replicas: int = DEFAULT_MAX_REPLICAS  # scaling above this needs a confirmation

    @property
    def weights(self) -> tuple[int, ...]:
        return tuple(step.weight for step in self.steps)


def validate_deploy_section(section: Any) -> None:
    """Check the whole ``deploy:`` section, every service override included.

    Raises :class:`DeployConfigError` naming the first offending key; the workspace loader calls
    this when it reads ``idp-console.yaml``, so a bad value is reported before anything runs.
    """
    try:
        data = mapping(section, ("deploy",), DEPLOY_KEYS)
        _parse(data, ("deploy",))
        services = data.get("services")
        if services is None:
            return
        for name, override in mapping(services, ("deploy", "services")).items():
            path = ("deploy", "services", str(name))
            _parse(mapping(override, path, SETTING_KEYS), path)
    except DeployConfigError:
        raise
    except ConfigError as error:  # the shared checks raise the plain kind: name the area
        raise DeployConfigError(error.path, error.detail) from None


def parse_deploy_settings(section: dict[str, Any], service: str | None = None) -> DeploySettings:
    """Settings for one service: the section's defaults with ``services.<name>`` merged on top."""
    validate_deploy_section(section)
    merged = dict(section)
    overrides = (section.get("services") or {}).get(service or "", {}) if service else {}
    if overrides:
        merged = _deep_merge(merged, overrides)
    try:
        return _parse(merged, ("deploy",))
    except DeployConfigError:
        raise
    except ConfigError as error:  # unreachable after the validation above, kept for the type
        raise DeployConfigError(error.path, error.detail) from None


def _parse(data: Any, path: ConfigPath) -> DeploySettings:
    """One level of settings (the section, or one service's override) read and range-checked."""
    default_bake = _optional(data, "bake", path, parse_duration, 120.0)
    steps = _steps(data.get("steps"), (*path, "steps"), default_bake)
    analysis_raw = data.get("analysis")
    analysis_path = (*path, "analysis")
    analysis_data = {} if analysis_raw is None else mapping(analysis_raw, analysis_path, ANALYSIS_KEYS)
    analysis = AnalysisConfig(
        prometheus=_prometheus(analysis_data.get("prometheus"), (*analysis_path, "prometheus")),
        query=_optional(analysis_data, "query", analysis_path, text, DEFAULT_QUERY),
        threshold=_optional(analysis_data, "threshold", analysis_path, fraction, 0.01),
        timeout=_optional(analysis_data, "timeout", analysis_path, parse_duration, 5.0),
    )
    lease = _optional(data, "lease", path, parse_duration, 60.0)
    if lease < 1:
        raise DeployConfigError((*path, "lease"), f"expected at least 1s, got {shown(data.get('lease'))}")
    return DeploySettings(
        steps=steps,
        progress_deadline=_optional(data, "progress_deadline", path, parse_duration, 600.0),
        max_surge=_optional(data, "max_surge", path, lambda v, p: integer(v, p, 0), 1),
        analysis=analysis,
        lease_seconds=math.ceil(lease),
        max_replicas=_optional(
            data, "max_replicas", path, lambda v, p: integer(v, p, 1, REPLICAS_LIMIT), DEFAULT_MAX_REPLICAS
        ),
    )


def _optional(data: Any, key: str, path: ConfigPath, check: Any, default: Any) -> Any:
    """``check(value, path)`` for a key that is set; ``default`` when absent or empty (``key:``)."""
    value = data.get(key)
    return default if value is None else check(value, (*path, key))


def _steps(raw: Any, path: ConfigPath, default_bake: float) -> tuple[CanaryStep, ...]:
    """Weights 1..100, strictly increasing; a final step at 100 is added when the list stops short."""
    if raw is None:
        return tuple(CanaryStep(w, default_bake, w < 100) for w in DEFAULT_WEIGHTS)
    if not isinstance(raw, list) or not raw:
        raise DeployConfigError(path, f"expected a non-empty list of weights, got {shown(raw)}")
    steps: list[CanaryStep] = []
    for index, item in enumerate(raw):
        step_path = (*path, index)
        if isinstance(item, dict):
            mapping(item, step_path, STEP_KEYS)
            key = "weight" if "weight" in item else "setWeight"
            if key not in item:
                raise DeployConfigError(step_path, "a step needs a weight")
            weight = integer(item[key], (*step_path, key), 1, 100)
            bake = _optional(item, "bake", step_path, parse_duration, default_bake)
            analyse = _optional(item, "analysis", step_path, flag, True)
        else:
            weight = integer(item, (*step_path, "weight"), 1, 100)
            bake, analyse = default_bake, True
        if steps and weight <= steps[-1].weight:
            raise DeployConfigError(
                (*step_path, "weight"),
                f"weights must strictly increase up to 100, got {weight} after {steps[-1].weight}",
            )
        # The full rollout (100 %) is the end, not a canary: nothing is analysed there.
        steps.append(CanaryStep(weight, bake, analyse and weight < 100))
    if steps[-1].weight != 100:
        steps.append(CanaryStep(100, default_bake, False))
    return tuple(replace(s, analysis=False) if s.weight == 100 else s for s in steps)


def _prometheus(value: Any, path: ConfigPath) -> str | None:
    """``simulated``, an http(s) URL, or nothing (no metric: every analysis pauses and asks)."""
    if value is None or value == "":
        return None
    url = text(value, path)
    if url != "simulated" and not re.match(r"^https?://[^\s/]+", url):
        raise DeployConfigError(path, f"expected an http(s) URL or 'simulated', got {shown(value)}")
    return url


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result

"""Environments from ``idp-console.yaml`` and where a catalog service's workloads live in them.

```yaml
environments:
  production:
    context: prod-eu          # kube context (kubectl --context); default: the current context
    kubeconfig: ~/.kube/prod  # optional; default: $KUBECONFIG, then ~/.kube/config
    namespace: payments       # default: the service's backstage.io/kubernetes-namespace, else "default"
    lifecycles: [production]  # catalog lifecycles that may deploy here (default: any)
    production: true          # typed confirmation + owning-group check
  staging:
    cluster: simulated        # the demo's in-process simulated cluster instead of a kubeconfig
    namespace: staging
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backends.catalog.model import Entity

SIMULATED = "simulated"
ANNOTATION_ID = "backstage.io/kubernetes-id"
ANNOTATION_SELECTOR = "backstage.io/kubernetes-label-selector"
ANNOTATION_NAMESPACE = "backstage.io/kubernetes-namespace"


class EnvironmentConfigError(Exception):
    """An environment that is unknown or misconfigured (message names it)."""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    lifecycles: tuple[str, ...] = ()  # empty: every lifecycle may deploy
    production: bool = False
    simulated: bool = False

    def allows(self, lifecycle: str) -> bool:
        """Whether a component with this catalog lifecycle may be deployed here."""
        return not self.lifecycles or lifecycle in self.lifecycles

    @property
    def where(self) -> str:
        """Human description of the target, for messages."""
        cluster = "simulated cluster" if self.simulated else f"context {self.context or '(current)'}"
        return f"{cluster}, namespace {self.namespace or '(per service)'}"


def parse_environments(section: dict[str, Any]) -> dict[str, Environment]:
    """The ``environments:`` section as Environment objects, in file order."""
    environments: dict[str, Environment] = {}
    for name, raw in section.items():
        if not isinstance(raw, dict):
            raise EnvironmentConfigError(f"environments.{name}: expected a mapping")
        lifecycles = raw.get("lifecycles") or ()
        if isinstance(lifecycles, str):
            lifecycles = (lifecycles,)
        cluster = str(raw.get("cluster") or "")
        if cluster and cluster != SIMULATED:
            raise EnvironmentConfigError(
                f"environments.{name}.cluster: only '{SIMULATED}' is known, got {cluster!r}"
            )
        environments[str(name)] = Environment(
            name=str(name),
            context=str(raw["context"]) if raw.get("context") else None,
            kubeconfig=str(raw["kubeconfig"]) if raw.get("kubeconfig") else None,
            namespace=str(raw["namespace"]) if raw.get("namespace") else None,
            lifecycles=tuple(str(x) for x in lifecycles),
            production=bool(raw.get("production", False)),
            simulated=cluster == SIMULATED,
        )
    return environments


def get_environment(section: dict[str, Any], name: str) -> Environment:
    """One environment by name; the error lists the known ones."""
    environments = parse_environments(section)
    if name not in environments:
        known = ", ".join(environments) or "none configured"
        raise EnvironmentConfigError(f"unknown environment {name!r} (known: {known})")
    return environments[name]


@dataclass(frozen=True, slots=True)
class WorkloadRef:
    """Where a service's Deployment is: namespace, a label selector, and the name to fall back to."""

    namespace: str
    name: str  # the stable Deployment's name when no selector finds one
    label_selector: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # labels every pod of the service carries


def workload_for(entity: Entity, environment: Environment) -> WorkloadRef:
    """Find the service's workload by Backstage's kubernetes annotations, falling back to its name.

    The environment's namespace wins over ``backstage.io/kubernetes-namespace``: environments are
    exactly the place where one service lives in different namespaces.
    """
    annotations = {str(k): str(v) for k, v in entity.annotations.items()}
    namespace = environment.namespace or annotations.get(ANNOTATION_NAMESPACE) or "default"
    kube_id = annotations.get(ANNOTATION_ID)
    selector = annotations.get(ANNOTATION_SELECTOR)
    if selector:
        labels = _selector_labels(selector)
        return WorkloadRef(namespace, kube_id or entity.name, selector, labels)
    if kube_id:
        return WorkloadRef(namespace, kube_id, f"{ANNOTATION_ID}={kube_id}", {ANNOTATION_ID: kube_id})
    return WorkloadRef(namespace, entity.name, None, {})


def _selector_labels(selector: str) -> dict[str, str]:
    """The equality terms of a selector (``a=b,c==d``); set-based terms are not labels to copy."""
    labels: dict[str, str] = {}
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term or " in " in term or " notin " in term or "=" not in term:
            continue
        key, _, value = term.replace("==", "=").partition("=")
        labels[key.strip()] = value.strip()
    return labels

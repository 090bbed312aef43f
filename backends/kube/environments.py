"""Environments from ``idp-console.yaml`` and where a catalog service's workloads live in them.

```yaml
environments:
  production:
    context: prod-eu          # kube context (kubectl --context); default: the current context
    kubeconfig: ~/.kube/prod  # optional; default: $KUBECONFIG, then ~/.kube/config
    namespace: payments       # default: the service's backstage.io/kubernetes-namespace, else "default"
    lifecycles: [production]  # catalog lifecycles that may deploy here (default: any)
    production: true          # typed confirmation + owning-group check
    traffic: {httproute: "{service}"}  # canary weights on this Gateway API HTTPRoute ({service}:
                              # the service's name); without it traffic follows the pod share
    image: registry.acme.example/payments/{service}  # the image repository deploys check and pin
                              # (default: the service's idp-console.dev/image annotation)
  staging:
    cluster: simulated        # the demo's in-process simulated cluster instead of a kubeconfig
    namespace: staging
```
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from backends.catalog.model import Entity
from backends.config_checks import ConfigError, flag, mapping, shown, text

SIMULATED = "simulated"
ANNOTATION_ID = "backstage.io/kubernetes-id"
ANNOTATION_SELECTOR = "backstage.io/kubernetes-label-selector"
ANNOTATION_NAMESPACE = "backstage.io/kubernetes-namespace"
ENVIRONMENT_KEYS = frozenset(
    {
        "context",
        "kubeconfig",
        "namespace",
        "lifecycles",
        "production",
        "cluster",
        "on_orphan",
        "traffic",
        "lifecycle_change",
        "image",
    }
)
TRAFFIC_KEYS = frozenset({"httproute"})
# A Kubernetes object name (RFC 1123 subdomain), where "{service}" stands for the service's name.
_ROUTE_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
# An image repository: an optional registry host[:port], then a lowercase path (the OCI name grammar).
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_PATH_PART}(?:/{_PATH_PART})*")
ON_ORPHAN_POLICIES = ("rollback", "resume", "pause")
LIFECYCLE_CHANGES = ("commit", "change-request")


class EnvironmentConfigError(ConfigError):
    """An environment that is unknown or misconfigured (``path`` names the key)."""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    lifecycles: tuple[str, ...] = ()  # empty: every lifecycle may deploy
    production: bool = False
    simulated: bool = False
    # What an adopter does with a deploy whose runner died (see backends.deploy.adopt):
    # rollback | resume | pause; default rollback in production, pause elsewhere.
    on_orphan: str = ""
    # How a service's lifecycle is promoted so that it may deploy here (backends.catalog.lifecycle):
    # a commit to its catalog-info.yaml, or a change request (a branch) for review.
    lifecycle_change: str = "commit"
    # The HTTPRoute that carries the service's traffic ("{service}" replaced), "" for none: then a
    # canary's share is the share of its pods.
    httproute: str = ""
    # The image repository deploys here check (and pin by digest); "{service}" is the service's name.
    image: str = ""

    def route_for(self, service: str) -> str:
        """The HTTPRoute name for ``service``, or "" when the environment routes by pods."""
        return self.httproute.replace("{service}", service)

    def allows(self, lifecycle: str) -> bool:
        """Whether a component with this catalog lifecycle may be deployed here."""
        return not self.lifecycles or lifecycle in self.lifecycles

    @property
    def where(self) -> str:
        """Human description of the target, for messages."""
        cluster = "simulated cluster" if self.simulated else f"context {self.context or '(current)'}"
        return f"{cluster}, namespace {self.namespace or '(per service)'}"


def parse_environments(section: Any) -> dict[str, Environment]:
    """The ``environments:`` section as Environment objects, in file order; unknown keys, wrong
    types and unknown clusters raise :class:`EnvironmentConfigError` naming the key."""
    try:
        return {
            str(name): _environment(str(name), raw)
            for name, raw in mapping(section, ("environments",)).items()
        }
    except EnvironmentConfigError:
        raise
    except ConfigError as error:  # the shared checks raise the plain kind: name the area
        raise EnvironmentConfigError(error.path, error.detail) from None


def _environment(name: str, raw: Any) -> Environment:
    path = ("environments", name)
    data = mapping(raw, path, ENVIRONMENT_KEYS)

    def optional_text(key: str) -> str | None:
        value = data.get(key)
        return None if value is None or value == "" else text(value, (*path, key))

    lifecycles = data.get("lifecycles") or ()
    if isinstance(lifecycles, str):
        lifecycles = (lifecycles,)
    if not isinstance(lifecycles, list | tuple):
        raise EnvironmentConfigError(
            (*path, "lifecycles"), f"expected a list of lifecycles, got {shown(lifecycles)}"
        )
    cluster = optional_text("cluster") or ""
    if cluster and cluster != SIMULATED:
        raise EnvironmentConfigError((*path, "cluster"), f"only '{SIMULATED}' is known, got {cluster!r}")
    production = data.get("production")
    on_orphan = optional_text("on_orphan") or ""
    if on_orphan and on_orphan not in ON_ORPHAN_POLICIES:
        raise EnvironmentConfigError(
            (*path, "on_orphan"), f"expected one of {', '.join(ON_ORPHAN_POLICIES)}, got {on_orphan!r}"
        )
    lifecycle_change = optional_text("lifecycle_change") or "commit"
    if lifecycle_change not in LIFECYCLE_CHANGES:
        raise EnvironmentConfigError(
            (*path, "lifecycle_change"),
            f"expected one of {', '.join(LIFECYCLE_CHANGES)}, got {lifecycle_change!r}",
        )
    return Environment(
        lifecycle_change=lifecycle_change,
        httproute=_httproute(data.get("traffic"), (*path, "traffic")),
        name=name,
        context=optional_text("context"),
        kubeconfig=optional_text("kubeconfig"),
        namespace=optional_text("namespace"),
        lifecycles=tuple(text(x, (*path, "lifecycles", i)) for i, x in enumerate(lifecycles)),
        production=False if production is None else flag(production, (*path, "production")),
        simulated=cluster == SIMULATED,
        on_orphan=on_orphan,
        image=_image(optional_text("image"), (*path, "image")),
    )


def _image(value: str | None, path: tuple[str, ...]) -> str:
    """``image: [host/]path/name`` ("" when absent): a repository, no tag or digest ({service} ok)."""
    if value is None:
        return ""
    probe = value.replace("{service}", "x")
    if _IMAGE.fullmatch(probe) and len(probe) <= 255:
        return value
    raise EnvironmentConfigError(
        path,
        "expected an image repository such as registry.acme.example/payments/{service} (lowercase path, "
        f"no :tag or @digest — the deploy's version is the tag), got {shown(value)}",
    )


def _httproute(raw: Any, path: tuple[str, ...]) -> str:
    """``traffic: {httproute: NAME}`` → NAME ("" when absent), a valid object name with {service}."""
    if raw is None:
        return ""
    data = mapping(raw, path, TRAFFIC_KEYS)
    if "httproute" not in data:
        return ""
    name = text(data["httproute"], (*path, "httproute"))
    if not _ROUTE_NAME.fullmatch(name.replace("{service}", "x")) or len(name) > 253:
        raise EnvironmentConfigError(
            (*path, "httproute"),
            f"expected an HTTPRoute name (lowercase letters, digits, '-', '.'; {{service}} for the "
            f"service's name), got {shown(name)}",
        )
    return name


def get_environment(section: dict[str, Any], name: str) -> Environment:
    """One environment by name; the error lists the known ones."""
    environments = parse_environments(section)
    if name not in environments:
        known = ", ".join(environments) or "none configured"
        raise EnvironmentConfigError((), f"unknown environment {name!r} (known: {known})")
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


def with_cluster_override(
    section: dict[str, Any], name: str, *, context: str | None = None, kubeconfig: str | None = None
) -> dict[str, Any]:
    """The ``environments:`` section with ``name`` pointed at another context / kubeconfig, as
    kubectl's ``--context`` / ``--kubeconfig`` do (an explicit context means a real cluster)."""
    environments = copy.deepcopy(section)
    environment = environments.get(name)
    if isinstance(environment, dict) and (context or kubeconfig):
        environment.pop("cluster", None)
        if context:
            environment["context"] = context
        if kubeconfig:
            environment["kubeconfig"] = kubeconfig
    return environments

"""First deploy to an environment: create the service's workloads from its own repository.

A service scaffolded from the golden path carries its manifests in ``deploy/`` (a kustomize base and
one overlay per environment). When a deploy finds no Deployment for the service in an environment,
:func:`provision_workload` reads the repository at the deployed version (a git tag, or ``--commit``),
renders ``deploy/overlays/<environment>`` (else ``deploy/base``, else the YAML files in ``deploy/``)
with the environment's namespace and the version's image, fills in the generated database password,
and applies every object server-side (``application/apply-patch+yaml``, field manager
``idp-console``), as ``kubectl apply --server-side -k deploy/overlays/<environment>`` would.

The renderer understands the kustomization fields the golden path uses — ``resources`` (files and
directories), ``namespace``, ``replicas`` and ``images`` — and refuses any other with its name, so a
repository never deploys differently from what it says.

:func:`check_image` is the registry pre-check: a service whose environment names an image repository
(``environments.<env>.image``) or that declares one (``idp-console.dev/image``) deploys only versions
that exist there as tags, and its Deployment is pinned to the digest the tag resolved to.
"""

from __future__ import annotations

import copy
import os
import re
import secrets as random_secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backends.catalog.model import Entity
from backends.kube.environments import Environment, WorkloadRef
from backends.registry import (
    IMAGE_ANNOTATION,
    ImageNotFound,
    Registry,
    RegistryError,
    ResolvedImage,
    resolve_image,
    service_image,
    split_image,
)

FIELD_MANAGER = "idp-console"
MANIFEST_DIR = "deploy"
PASSWORD_ANNOTATION = "idp-console.dev/generated-password"
PASSWORD_PLACEHOLDER = "$(DB_PASSWORD)"
SOURCE_LOCATION = "backstage.io/source-location"
# Kinds the platform creates for a service, and the API resources they live in.
KINDS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "Service": "services",
    "Secret": "secrets",
}
WORKLOAD_KINDS = frozenset({"deployments", "statefulsets"})  # what runs pods, and so must get ready
KUSTOMIZATION_FIELDS = frozenset({"apiVersion", "kind", "resources", "namespace", "replicas", "images"})
_KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class ProvisionError(Exception):
    """The workload cannot be created; the message says why and what to do."""


@dataclass
class Provisioned:
    """What a first deploy created: the service's Deployment as the cluster stored it, and one line
    per object (``deployment/orders-api created in staging``)."""

    deployment: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    # Every workload it applied besides the service's own Deployment (its database …), as
    # (resource, name): a first deploy succeeds only once they are ready too.
    workloads: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""  # "<repository>@<version> (<commit>)/deploy/overlays/<env>"


# -- where the manifests come from ------------------------------------------------------------------
def service_repository(entity: Entity) -> str:
    """The git repository of ``entity``: its ``backstage.io/source-location`` (``url:…``), else the
    ``origin`` of the git working copy its catalog file was read from (the scaffolder's registration)."""
    location = entity.annotations.get(SOURCE_LOCATION, "")
    if location.startswith("url:"):
        url = location[len("url:") :].rstrip("/")
        return re.split(r"/(?:tree|blob)/", url, maxsplit=1)[0]
    file = entity.position.file if entity.position else ""
    if file and os.path.isfile(file):
        origin = _git(Path(file).parent, "config", "--get", "remote.origin.url")
        if origin:
            return origin
    raise ProvisionError(
        f"{entity.name} has no repository to read its manifests from: give it a "
        f"{SOURCE_LOCATION}: url:<git repository> annotation"
    )


def _git(directory: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def checkout_version(url: str, version: str, commit: str | None = None) -> Any:
    """The repository's files at ``version`` (a tag), else at ``commit``; a GitCheckout."""
    from backends.git.checkout import GitSourceError, sync_repository

    try:
        return sync_repository(url, f"refs/tags/{version}")
    except GitSourceError as tag_error:
        if commit:
            try:
                return sync_repository(url, commit)
            except GitSourceError as error:
                raise ProvisionError(str(error)) from error
        raise ProvisionError(
            f"{url} has no tag {version}, so its manifests at that version are unknown: tag the commit "
            f"{version} was built from (git tag {version} && git push --tags) or pass --commit SHA"
        ) from tag_error


# -- rendering --------------------------------------------------------------------------------------
def manifest_directory(root: Path, environment: str) -> Path:
    """``deploy/overlays/<environment>``, else ``deploy/base``, else ``deploy``."""
    for candidate in (root / MANIFEST_DIR / "overlays" / environment, root / MANIFEST_DIR / "base"):
        if candidate.is_dir():
            return candidate
    if (root / MANIFEST_DIR).is_dir():
        return root / MANIFEST_DIR
    raise ProvisionError(
        f"the repository has no {MANIFEST_DIR}/ directory with the service's Kubernetes manifests "
        f"({MANIFEST_DIR}/base plus {MANIFEST_DIR}/overlays/<environment>)"
    )


def render(
    root: Path, environment: str, *, namespace: str, image_repo: str | None, version: str
) -> list[dict[str, Any]]:
    """The objects of ``environment``: its overlay rendered, every object in ``namespace``, the
    service's image (``image_repo``, or the first container of each Deployment) at ``version``."""
    directory = manifest_directory(root, environment)
    objects = _kustomize(directory, root.resolve(), set())
    for obj in objects:
        obj.setdefault("metadata", {})["namespace"] = namespace
        if obj.get("kind") == "Deployment":
            _set_version(obj, image_repo, version)
    return objects


def _kustomize(directory: Path, root: Path, seen: set[Path]) -> list[dict[str, Any]]:
    """A kustomization directory's objects (or, without one, its YAML files')."""
    if directory in seen:
        raise ProvisionError(f"{_relative(directory, root)}: kustomization resources form a cycle")
    seen = seen | {directory}
    file = next((directory / n for n in _KUSTOMIZATION_FILES if (directory / n).is_file()), None)
    if file is None:
        paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        return [obj for path in paths for obj in _documents(path, root)]
    data = _load(file, root)
    if not isinstance(data, dict):
        raise ProvisionError(f"{_relative(file, root)}: expected a mapping")
    unknown = sorted(set(data) - KUSTOMIZATION_FIELDS)
    if unknown:
        raise ProvisionError(
            f"{_relative(file, root)}: {', '.join(unknown)} not supported (idp-console renders "
            "resources, namespace, replicas and images)"
        )
    objects: list[dict[str, Any]] = []
    for entry in data.get("resources") or []:
        target = (directory / str(entry)).resolve()
        if not target.is_relative_to(root):
            raise ProvisionError(f"{_relative(file, root)}: resource {entry} leaves the repository")
        if target.is_dir():
            objects.extend(_kustomize(target, root, seen))
        elif target.is_file():
            objects.extend(_documents(target, root))
        else:
            raise ProvisionError(f"{_relative(file, root)}: resource {entry} does not exist")
    if data.get("namespace"):
        for obj in objects:
            obj.setdefault("metadata", {})["namespace"] = str(data["namespace"])
    for item in data.get("replicas") or []:
        for obj in objects:
            if obj.get("kind") == "Deployment" and obj["metadata"].get("name") == item.get("name"):
                obj.setdefault("spec", {})["replicas"] = int(item.get("count", 1))
    for item in data.get("images") or []:
        for obj in objects:
            for container in _containers(obj):
                repo, tag = split_image(str(container.get("image", "")))
                if repo == item.get("name"):
                    name = str(item.get("newName") or repo)
                    container["image"] = f"{name}:{item.get('newTag') or tag or 'latest'}"
    return objects


def _load(path: Path, root: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ProvisionError(f"{_relative(path, root)}: cannot read: {error}") from error


def _documents(path: Path, root: Path) -> list[dict[str, Any]]:
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ProvisionError(f"{_relative(path, root)}: cannot read: {error}") from error
    found = [d for d in documents if isinstance(d, dict)]
    for document in found:
        if document.get("kind") not in KINDS or not (document.get("metadata") or {}).get("name"):
            raise ProvisionError(
                f"{_relative(path, root)}: a {document.get('kind') or 'document without kind'} cannot be "
                f"provisioned (named objects of kind {', '.join(KINDS)})"
            )
    return found


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict)]


def _set_version(deployment: dict[str, Any], image_repo: str | None, version: str) -> None:
    """The service's own containers (those of its image repository) run ``version``."""
    for container in _containers(deployment):
        repo = split_image(str(container.get("image", "")))[0]
        if image_repo and repo == image_repo:
            container["image"] = f"{repo}:{version}"


def fill_passwords(
    objects: list[dict[str, Any]], environment: str, store: Any, log: Callable[[str], None]
) -> None:
    """Put each annotated Secret's generated password in place of ``$(DB_PASSWORD)``.

    The password was generated when the service was scaffolded; an environment added later gets
    one generated now. It is never logged.
    """
    for obj in objects:
        key = ((obj.get("metadata") or {}).get("annotations") or {}).get(PASSWORD_ANNOTATION)
        if obj.get("kind") != "Secret" or not key:
            continue
        name = f"{key}/{environment}"
        password = store.get(name)
        if not password:
            password = random_secrets.token_urlsafe(24)
            store.set(name, password)
            log(f"generated the database password for {environment} (stored as {name}, never shown)")
        data = obj.get("stringData") or {}
        obj["stringData"] = {k: str(v).replace(PASSWORD_PLACEHOLDER, password) for k, v in data.items()}


# -- the first deploy -------------------------------------------------------------------------------
def provision_workload(
    cluster: Any,
    entity: Entity,
    environment: Environment,
    workload: WorkloadRef,
    version: str,
    *,
    commit: str | None = None,
    secret_store: Any = None,
    log: Callable[[str], None] = lambda _line: None,
    image: ResolvedImage | None = None,
) -> Provisioned:
    """Create ``entity``'s workloads in ``environment`` at ``version`` from its repository's manifests,
    server-side applied; the stable Deployment as stored. With the registry check's ``image``, the
    service's container runs exactly that digest. Raises :class:`ProvisionError`."""
    from backends.kube.cluster import ClusterError

    url = service_repository(entity)
    checkout = checkout_version(url, version, commit)
    image_repo = entity.annotations.get(IMAGE_ANNOTATION) or None
    root = Path(checkout.path)
    directory = manifest_directory(root, environment.name)
    objects = render(
        root, environment.name, namespace=workload.namespace, image_repo=image_repo, version=version
    )
    deployment = _workload_deployment(objects, workload)
    if deployment is None:
        raise ProvisionError(
            f"{_relative(directory, root.resolve())} in {url}@{version} has no Deployment {workload.name} "
            f"(the catalog's backstage.io/kubernetes-id for {entity.name})"
        )
    if not image_repo:
        for container in _containers(deployment)[:1]:
            container["image"] = f"{split_image(str(container.get('image', '')))[0]}:{version}"
    if image is not None:
        _pin(deployment, {image_repo or "", image.repository}, image.reference)
        for obj in objects:  # a worker, a migration: the same image at this version, the same digest
            _pin_others(obj, {image_repo or "", image.repository}, version, image.reference)
    if secret_store is None:
        from backends.secrets import platform_secret_store

        secret_store = platform_secret_store()
    fill_passwords(objects, environment.name, secret_store, log)
    source = f"{url}@{version} ({checkout.commit[:12]}) {_relative(directory, root.resolve())}"
    result = Provisioned(deployment={}, source=source)
    for obj in objects:
        kind = KINDS[obj["kind"]]
        name = obj["metadata"]["name"]
        try:
            existed = cluster.find(kind, workload.namespace, name) is not None
            stored = cluster.apply(kind, workload.namespace, _clean(obj), field_manager=FIELD_MANAGER)
        except ClusterError as error:
            raise ProvisionError(
                f"cannot create {obj['kind'].lower()}/{name} in {workload.namespace}: {error}"
            ) from error
        result.lines.append(
            f"{obj['kind'].lower()}/{name} {'configured' if existed else 'created'} in {workload.namespace}"
        )
        if obj is deployment:
            result.deployment = stored
        elif kind in WORKLOAD_KINDS:
            result.workloads.append((kind, name))
    return result


def _pin(deployment: dict[str, Any], repositories: set[str], reference: str) -> None:
    """The service's own containers (those of the checked repository, else the first) run
    ``reference`` (``repo:tag@sha256:…``): what was checked is what runs."""
    items = _containers(deployment)
    own = [c for c in items if split_image(str(c.get("image", "")))[0] in repositories] or items[:1]
    for container in own:
        container["image"] = reference


def _pin_others(obj: dict[str, Any], repositories: set[str], version: str, reference: str) -> None:
    """Every other container and init container of a workload in ``obj`` that runs the checked
    repository at ``version`` by tag runs ``reference`` instead: the tag may move, the digest not."""
    if KINDS.get(str(obj.get("kind"))) not in WORKLOAD_KINDS:
        return
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        if not isinstance(container, dict) or "@" in str(container.get("image", "")):
            continue  # already pinned (by us above, or by the repository itself)
        repository, tag = split_image(str(container.get("image", "")))
        if repository in repositories and tag == version:
            container["image"] = reference


def _workload_deployment(objects: list[dict[str, Any]], workload: WorkloadRef) -> dict[str, Any] | None:
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    named = [d for d in deployments if d["metadata"].get("name") == workload.name]
    if named:
        return named[0]
    if workload.labels:
        labelled = [
            d
            for d in deployments
            if all((d["metadata"].get("labels") or {}).get(k) == v for k, v in workload.labels.items())
        ]
        if len(labelled) == 1:
            return labelled[0]
    return None


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as an apply body: no status or server-owned metadata."""
    body = copy.deepcopy(obj)
    body.pop("status", None)
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        body.get("metadata", {}).pop(key, None)
    return body


# -- the registry pre-check -------------------------------------------------------------------------
def check_image(
    entity: Entity, environment: Environment, version: str, registry: Registry | None
) -> ResolvedImage | None:
    """The registry pre-check: ``version`` resolved to its digest in the image repository the
    environment (or the service) names; ``ProvisionError`` when the tag is missing, the registry
    cannot be reached or refuses us; None when there is no image to check."""
    image = service_image(entity, environment)
    if not image:
        return None
    if registry is None:
        raise ProvisionError(
            f"{entity.name}'s image {image} cannot be checked: the workspace names no registry "
            "(registry: url in idp-console.yaml); deploy anyway with --skip-image-check"
        )
    try:
        return resolve_image(registry, image, version)
    except ImageNotFound as error:
        raise ProvisionError(f"image check: {error}") from error
    except RegistryError as error:  # the registry could not say: the way past it is explicit
        raise ProvisionError(
            f"image check: {error} — nothing was changed (in an emergency: --skip-image-check)"
        ) from error


# -- the run's stage --------------------------------------------------------------------------------
def first_rollout(run: Any) -> Any:
    """The deploy stage of a first deploy (``DeployRun`` calls it when its pre-checks provisioned):
    the workload was just created at this version, so there is no stable to compare a canary with —
    wait until all its pods are ready within the progress deadline, then the deploy succeeded."""
    from backends.deploy.events import LogLine, Outcome, Stage, StageFinished, StageStarted
    from backends.deploy.run import _Stop
    from backends.kube.cluster import ClusterError

    target = run.target
    assert target is not None and target.provisioned is not None
    began = time.monotonic()
    provisioned: Provisioned = target.provisioned
    detail = f"first deploy from {provisioned.source}"
    yield run._emit(StageStarted(run.deploy_id, stage=Stage.UPDATE, detail=detail))
    for line in provisioned.lines:
        yield run._emit(LogLine(run.deploy_id, message=line))
    try:
        yield from run._wait_for_stable(run.total, run.version, f"{run.total} ready pods of {run.version}")
        yield from _wait_for_workloads(run, provisioned.workloads, began)
    except (_Stop, ClusterError) as error:
        # Never a rollback: there is no earlier version to return to. What was created stays, to
        # look at; the next deploy of a fixed version replaces it.
        reason = error.reason if isinstance(error, _Stop) else f"cluster error: {error}"
        yield run._emit(StageFinished(run.deploy_id, stage=Stage.UPDATE, ok=False, detail=reason))
        yield run._finish(Outcome.FAILED, reason, run.version)
        return
    done = f"{target.stable_name} created: {run.total} pods of {run.version} ready"
    if provisioned.workloads:
        done += f", and {', '.join(_label(kind, name) for kind, name in provisioned.workloads)}"
    yield run._stage_done(Stage.UPDATE, began, done)
    yield run._finish(Outcome.SUCCEEDED, "", run.version)


def _wait_for_workloads(run: Any, workloads: list[tuple[str, str]], began: float) -> Any:
    """The other workloads the first deploy created (its database …) ready too, within the same
    progress deadline, counted from the start of the stage; on timeout, name the ones that are not."""
    from backends.deploy.config import format_duration
    from backends.deploy.run import _Stop

    if not workloads:
        return
    target = run.target
    deadline = target.settings.progress_deadline
    not_ready: list[str] = []

    def all_ready() -> bool:
        not_ready[:] = [
            _label(kind, name)
            for kind, name in workloads
            if not workload_ready(target.cluster.find(kind, target.namespace, name))
        ]
        return not not_ready

    what = "the service's other workloads ready"
    try:
        yield from run._wait(
            all_ready,
            timeout=max(0.0, deadline - (time.monotonic() - began)),
            what=what,
            watch_canary=False,
        )
    except _Stop as error:
        if not_ready and error.reason.startswith(what):  # the deadline, not an abort
            raise _Stop(
                f"{', '.join(not_ready)} not ready within the progress deadline "
                f"({format_duration(round(deadline, 1))})",
                error.outcome,
            ) from error
        raise


def _label(kind: str, name: str) -> str:
    return f"{kind.removesuffix('s')}/{name}"


def workload_ready(obj: dict[str, Any] | None) -> bool:
    """A Deployment or StatefulSet whose controller saw its latest spec and has every replica ready."""
    if obj is None:
        return False
    metadata, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    desired = int(spec["replicas"]) if spec.get("replicas") is not None else 1
    observed = int(status.get("observedGeneration") or 0) >= int(metadata.get("generation") or 0)
    return observed and int(status.get("readyReplicas") or 0) >= desired

"""The first deploy of a golden-path service creates it in each environment from its own repository.

A service is rendered and published by the real golden path (a bare git remote and a file registry in
tmp_path); the deploy engine runs against the simulated cluster over HTTP. Each environment gets the
objects of ``deploy/overlays/<env>`` at the deployed version: its namespace, its replica count, the
image CI pushed — applied server-side by ``idp-console`` — and, with a database, the database and the
Secret the service's Deployment reads, holding the password generated at scaffold time.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployFinished
from backends.git.publish import GitSettings
from backends.kube.sim.cluster import SimulatedCluster
from backends.registry import FileRegistry, RegistrySettings
from backends.scaffolder import Services, TaskRunner
from backends.scaffolder.template import load_template_file
from backends.secrets import platform_secret_store
from tests.deploy.conftest import FakeCatalog, collect, demo_catalog, entity, make_context
from tests.scaffolder.helpers import finished, log_text

GOLDEN = Path(__file__).resolve().parents[2] / "golden_paths" / "microservice-golden-path"
HOST = "registry.acme.example"
REPLICAS = {"staging": 2, "production": 3}  # the golden path's overlays


def scaffold(tmp_path: Path, name: str, language: str, database: str) -> tuple[Any, FileRegistry, Path]:
    """Render and publish ``name`` with the golden path; the catalog entity, registry and remote."""
    registry = FileRegistry(tmp_path / "registry", host=HOST)
    services = Services(
        git=GitSettings(remote_base=str(tmp_path / "git")),
        environments=["staging", "production"],
        registry_settings=RegistrySettings(host=HOST, url=str(tmp_path / "registry")),
        registry=registry,
    )
    parameters = {"name": name, "owner": "group:default/team-payments", "language": language}
    parameters |= {"database": database, "port": 8080}
    out = tmp_path / "out"
    template = load_template_file(GOLDEN)
    events = list(TaskRunner(services=services).run(template, parameters, keep_dir=out))
    assert finished(events).status == "completed", log_text(events)
    remote = tmp_path / f"git/team-payments/{name}.git"
    raw = yaml.safe_load((out / "catalog-info.yaml").read_text())
    annotations = {**raw["metadata"]["annotations"], "backstage.io/source-location": f"url:{remote}"}
    # Lifecycle promotion has its own tests: here the service may go everywhere.
    spec = {**raw["spec"], "lifecycle": "production"}
    return entity("Component", name, spec, annotations), registry, remote


@pytest.fixture
def engine_for(sim: SimulatedCluster, tmp_path: Path):  # noqa: ANN201 - a factory
    def make(service: Any, registry: FileRegistry, **deploy: Any) -> DeployEngine:
        catalog = FakeCatalog(service, *demo_catalog().entities)
        context, _ = make_context(sim, tmp_path, catalog=catalog, deploy=deploy or None)
        context.registry = registry
        return DeployEngine(context)

    return make


def outcome(events: list[Any]) -> DeployFinished:
    final = events[-1]
    assert isinstance(final, DeployFinished)
    return final


@pytest.mark.parametrize(
    ("language", "database"), [("python", "postgres"), ("go", "mongodb"), ("python", "none"), ("go", "none")]
)
def test_first_deploy_creates_the_workload_in_each_environment(
    engine_for: Any, tmp_path: Path, language: str, database: str
) -> None:
    name = f"svc-{language}-{database}"
    service, registry, _ = scaffold(tmp_path, name, language, database)
    engine = engine_for(service, registry)
    cluster = engine.context.cluster_for(engine.context.environment("staging"))
    for env in ("staging", "production"):
        assert cluster.find("deployments", env, name) is None
        events = collect(engine.deploy(name, env, "v0.1.0"))
        assert outcome(events).outcome == "succeeded", outcome(events).reason

        deployment = cluster.get("deployments", env, name)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        # pinned to the digest the registry check resolved (issue 15): what was checked is what runs
        pinned = registry.digest(f"{HOST}/team-payments/{name}", "v0.1.0")
        assert container["image"] == f"{HOST}/team-payments/{name}:v0.1.0@{pinned}"
        assert deployment["spec"]["replicas"] == REPLICAS[env]
        assert deployment["status"].get("readyReplicas") == REPLICAS[env]
        managers = {f["manager"] for f in deployment["metadata"]["managedFields"]}
        assert "idp-console" in managers  # server-side applied
        assert cluster.find("services", env, name) is not None

        secret = cluster.find("secrets", env, f"{name}-db")
        if database == "none":
            assert secret is None and cluster.find("deployments", env, f"{name}-db") is None
            continue
        password = platform_secret_store().get(f"database/{name}/{env}")
        assert password and len(password) >= 24
        values = _secret_values(secret)
        assert values["password"] == password
        key = "url" if database == "postgres" else "uri"
        assert password in values[key] and "$(DB_PASSWORD)" not in values[key]
        refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
        assert refs == [{"name": f"{name}-db", "key": key}]  # the Secret the service reads
        # Succeeded means the database runs too: the deploy waited for it.
        assert cluster.get("deployments", env, f"{name}-db")["status"].get("readyReplicas") == 1
        assert cluster.find("services", env, f"{name}-db") is not None
        assert password not in repr(events)  # never in a log line or event


def _secret_values(secret: dict[str, Any]) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return values | dict(secret.get("stringData") or {})


def test_a_version_the_registry_or_the_repository_lacks_is_refused(engine_for: Any, tmp_path: Path) -> None:
    name = "orders-api"
    service, registry, remote = scaffold(tmp_path, name, "python", "none")
    engine = engine_for(service, registry)
    events = collect(engine.deploy(name, "staging", "v0.2.0"))
    final = outcome(events)
    assert final.outcome == "failed"
    assert final.reason.startswith(f"image check: v0.2.0 is not in registry {HOST}/team-payments/{name}")
    assert "nearest tags: v0.1.0" in final.reason
    cluster = engine.context.cluster_for(engine.context.environment("staging"))
    assert cluster.find("deployments", "staging", name) is None

    registry.push(f"{HOST}/team-payments/{name}", "v0.2.0")  # CI pushed it, but nobody tagged the repo
    final = outcome(collect(engine.deploy(name, "staging", "v0.2.0")))
    assert final.outcome == "failed" and "has no tag v0.2.0" in final.reason
    assert cluster.find("deployments", "staging", name) is None
    # The commit it was built from says which manifests go with it.
    commit = git.Repo(remote).commit("main").hexsha
    final = outcome(collect(engine.deploy(name, "staging", "v0.2.0", commit_sha=commit)))
    assert final.outcome == "succeeded", final.reason
    image = cluster.get("deployments", "staging", name)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (
        image
        == f"{HOST}/team-payments/{name}:v0.2.0@{registry.digest(f'{HOST}/team-payments/{name}', 'v0.2.0')}"
    )


def test_the_second_deploy_is_a_canary_of_the_created_workload(engine_for: Any, tmp_path: Path) -> None:
    name = "orders-api"
    service, registry, remote = scaffold(tmp_path, name, "python", "none")
    engine = engine_for(service, registry)
    assert outcome(collect(engine.deploy(name, "staging", "v0.1.0"))).outcome == "succeeded"
    registry.push(f"{HOST}/team-payments/{name}", "v0.1.1")
    final = outcome(collect(engine.deploy(name, "staging", "v0.1.1")))
    assert final.outcome == "succeeded", final.reason
    record = engine.context.history.records(name, "staging", limit=1)[0]
    assert (record.from_version, record.to_version) == ("v0.1.0", "v0.1.1")


def test_a_first_deploy_whose_pods_never_get_ready_fails_and_leaves_its_image(
    engine_for: Any, tmp_path: Path
) -> None:
    name = "orders-api"
    service, registry, remote = scaffold(tmp_path, name, "python", "none")
    engine = engine_for(service, registry, progress_deadline="2s")
    version = "v0.1.1-crashloop"  # the simulated kubelet crash-loops this tag
    registry.push(f"{HOST}/team-payments/{name}", version)
    repo = git.Repo(remote)
    repo.create_tag(version, ref=repo.commit("main"))
    final = outcome(collect(engine.deploy(name, "staging", version)))
    assert final.outcome == "failed"
    cluster = engine.context.cluster_for(engine.context.environment("staging"))
    deployment = cluster.get("deployments", "staging", name)  # kept, to look at
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (
        image.split("@")[0] == f"{HOST}/team-payments/{name}:{version}"
    )  # never "rolled back" to no version


def test_an_interrupted_first_deploy_can_be_aborted_without_breaking_the_workload(
    engine_for: Any, tmp_path: Path
) -> None:
    from backends.deploy.events import Stage, StageStarted

    name = "orders-api"
    service, registry, _ = scaffold(tmp_path, name, "python", "none")
    engine = engine_for(service, registry)
    events = engine.deploy(name, "staging", "v0.1.0").events()
    for event in events:
        if isinstance(event, StageStarted) and event.stage is Stage.UPDATE:
            break
    events.close()  # as if its process were killed while the pods start
    [interrupted] = engine.find_interrupted(name, "staging")
    final = outcome(collect(engine.abort(interrupted.record.id)))
    assert final.outcome == "aborted", final.reason
    cluster = engine.context.cluster_for(engine.context.environment("staging"))
    image = cluster.get("deployments", "staging", name)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.split("@")[0] == f"{HOST}/team-payments/{name}:v0.1.0"  # nothing earlier: left as it is


def test_a_first_deploy_waits_for_its_database_and_names_it_when_it_never_gets_ready(
    engine_for: Any, sim: SimulatedCluster, tmp_path: Path
) -> None:
    from backends.kube.sim import PodFault

    name = "orders-api"
    service, registry, _ = scaffold(tmp_path, name, "python", "postgres")
    engine = engine_for(service, registry, progress_deadline="3s")
    sim.controller.set_fault(f"{name}-db", PodFault(crash_loop=True))  # the service is fine, its db not
    final = outcome(collect(engine.deploy(name, "staging", "v0.1.0")))
    assert final.outcome == "failed"
    assert final.reason == "deployment/orders-api-db not ready within the progress deadline (3 s)"
    cluster = engine.context.cluster_for(engine.context.environment("staging"))
    assert cluster.get("deployments", "staging", name)["status"].get("readyReplicas") == 2  # it was
    assert cluster.find("deployments", "staging", f"{name}-db") is not None  # kept, to look at


def test_a_first_deploy_succeeds_once_a_statefulset_database_is_ready(
    engine_for: Any, tmp_path: Path
) -> None:
    from backends.deploy.events import Stage, StageFinished

    name = "orders-api"
    service, registry, remote = scaffold(tmp_path, name, "go", "postgres")
    # The team keeps its database as a StatefulSet: a version whose manifests say so.
    work = git.Repo.clone_from(str(remote), tmp_path / "work")
    database = next((tmp_path / "work").rglob("database.yaml"))
    text = database.read_text().replace("kind: Deployment", "kind: StatefulSet")
    database.write_text(
        text.replace("spec:\n  replicas: 1", f"spec:\n  serviceName: {name}-db\n  replicas: 1", 1)
    )
    work.index.add([str(database)])
    work.index.commit("database: a StatefulSet")
    work.create_tag("v0.1.1")
    work.remotes.origin.push("main", tags=True)
    registry.push(f"{HOST}/team-payments/{name}", "v0.1.1")

    engine = engine_for(service, registry)
    events = collect(engine.deploy(name, "staging", "v0.1.1"))
    assert outcome(events).outcome == "succeeded", outcome(events).reason
    cluster = engine.context.cluster_for(engine.context.environment("staging"))
    # Succeeded means everything it created runs: no waiting for the database afterwards.
    assert cluster.get("statefulsets", "staging", f"{name}-db")["status"].get("readyReplicas") == 1
    done = [e for e in events if isinstance(e, StageFinished) and e.stage is Stage.UPDATE][-1]
    assert done.ok and done.detail.endswith("ready, and statefulset/orders-api-db")

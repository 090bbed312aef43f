"""Every version a deploy, a rollback or a resumed run puts on the cluster is the digest the registry
check resolved (``repo:tag@sha256:…``), never a plain tag nobody verified — unless someone said
``--skip-image-check``, which the history records.

The registry is the demo's directory registry (a real :class:`FileRegistry` in ``tmp_path``, the
same check path as an OCI registry: ``tests/registry`` runs that against a real server).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployFinished, LogLine, Outcome, Stage, StageStarted
from backends.kube.sim.cluster import SimulatedCluster
from backends.registry import FileRegistry
from console.cli import main
from tests.infra.conftest import Infra, infra  # noqa: F401 - a fixture, used by name

from .conftest import SERVICE, FakeCatalog, collect, demo_catalog, entity, make_context
from .test_deploy_cli import _workspace

HOST = "registry.acme.example"
REPO = f"{HOST}/payments/{SERVICE}"
OLD, NEW, NEVER = "v2.3.0", "v2.3.1", "v2.2.9"


def _registry(tmp_path: Path, *tags: str) -> FileRegistry:
    registry = FileRegistry(tmp_path / "registry", host=HOST)
    for tag in tags:
        registry.push(REPO, tag)
    return registry


def _engine(sim: SimulatedCluster, tmp_path: Path, registry: Any) -> DeployEngine:
    context, _ = make_context(sim, tmp_path)
    for env in context.environments_section.values():
        env["image"] = "payments/{service}"  # the environment's repository, no host: the registry's
    context.registry = registry
    return DeployEngine(context)


def _end(events: list) -> DeployFinished:
    assert isinstance(events[-1], DeployFinished), events[-1]
    return events[-1]


def _image(engine: DeployEngine, name: str = SERVICE) -> str:
    cluster = engine.context.cluster_for(engine.context.environment("production"))
    deployment = cluster.find("deployments", "production", name)
    assert deployment is not None, name
    return str(cn.containers(deployment)[0]["image"])


def _pinned(registry: FileRegistry, tag: str) -> str:
    return f"{REPO}:{tag}@{registry.digest(REPO, tag)}"


# -- rollback --to an older version ------------------------------------------------------------------
@pytest.mark.parametrize("to", [OLD, None], ids=["to-older", "last-good"])
def test_a_rollback_runs_the_older_version_pinned_to_its_checked_digest(
    sim: SimulatedCluster, tmp_path: Path, to: str | None
) -> None:
    registry = _registry(tmp_path, OLD, NEW)
    engine = _engine(sim, tmp_path, registry)
    assert _end(collect(engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    assert _image(engine) == _pinned(registry, NEW)

    run = engine.rollback(SERVICE, "production", to)
    events = collect(run)
    assert _end(events).outcome is Outcome.SUCCEEDED, _end(events).reason
    assert _image(engine) == _pinned(registry, OLD)
    lines = [e.message for e in engine.context.history.events(run.deploy_id) if isinstance(e, LogLine)]
    assert f"Image {OLD} found: {registry.digest(REPO, OLD)} ({REPO}); pinned to it" in lines


def test_a_rollback_to_a_tag_the_registry_lacks_is_refused_before_the_cluster_is_asked(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    engine = _engine(sim, tmp_path, _registry(tmp_path, OLD, NEW))
    sim.faults.fail_next(10_000, path="")  # any request to the API server from now on is recorded
    end = _end(collect(engine.rollback(SERVICE, "production", NEVER, force=True)))
    assert end.outcome is Outcome.FAILED
    assert end.reason.startswith(
        f"image check: {NEVER} is not in registry {REPO}; nearest tags: v2.3.1, v2.3.0"
    )
    assert "\n" not in end.reason
    assert sim.faults.hits == []
    assert engine.context.history.records(SERVICE, "production") == []  # a refusal is not a rollback


def test_a_rollback_with_skip_image_check_runs_by_tag_and_is_recorded(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    engine = _engine(sim, tmp_path, _registry(tmp_path, OLD))
    run = engine.rollback(SERVICE, "production", NEVER, force=True, skip_image_check=True)
    assert _end(collect(run)).outcome is Outcome.SUCCEEDED
    assert _image(engine) == f"{HOST}/{SERVICE}:{NEVER}"  # the seed's image, by tag: nothing to pin
    recorded = [e for e in engine.context.history.events(run.deploy_id) if isinstance(e, LogLine)]
    skipped = [e for e in recorded if "image check skipped (--skip-image-check)" in e.message]
    assert skipped and skipped[0].level == "warning" and "by jane.doe" in skipped[0].message


def test_cli_rollback_refuses_a_missing_tag_in_one_line_and_skips_on_request(
    sim: SimulatedCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = _workspace(tmp_path / "ws", sim.kubeconfig(tmp_path / "kubeconfig"), sim.prometheus_url)
    config = workspace / "idp-console.yaml"
    config.write_text(
        config.read_text().replace(
            "    production: true\n", "    production: true\n    image: payments/{service}\n"
        )
        + f"registry: {{host: {HOST}, url: '{tmp_path / 'registry'}'}}\n"
    )
    _registry(tmp_path, OLD)
    rollback = ["--workspace", str(workspace), "rollback", SERVICE, "--env", "production", "--to", NEVER]
    assert main([*rollback, "--force", "--yes", "--foreground"]) == 2
    out, err = capsys.readouterr()
    refusal = [line for line in (out + err).splitlines() if f"{NEVER} is not in registry" in line]
    assert len(refusal) == 1 and "nearest tags: v2.3.0" in refusal[0], out + err
    assert "Traceback" not in out + err
    code = main([*rollback, "--force", "--skip-image-check", "--yes", "--foreground"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "image check skipped (--skip-image-check)" in out + err


# -- a deploy resumed before its canary existed ------------------------------------------------------
def _killed_before_the_canary(engine: DeployEngine, version: str, **kwargs: Any) -> str:
    """Start a deploy and stop it (as a killed runner stops) just before it creates its canary."""
    run = engine.deploy(SERVICE, "production", version, **kwargs)
    events = run.events()
    for event in events:
        if isinstance(event, StageStarted) and event.stage is Stage.UPDATE:
            break
    events.close()
    cluster = engine.context.cluster_for(engine.context.environment("production"))
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None
    return run.deploy_id


def test_a_deploy_resumed_before_its_canary_existed_runs_the_digest_recorded_at_start(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = _registry(tmp_path, NEW)
    engine = _engine(sim, tmp_path, registry)
    deploy_id = _killed_before_the_canary(engine, NEW)
    # The tag moved since (someone pushed over it): the resume runs what was checked at the start.
    checked = _pinned(registry, NEW)
    engine.context.registry = FileRegistry(tmp_path / "elsewhere", host=HOST)  # and knows nothing now
    canary_images: list[str] = []

    def look(event: Any) -> None:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and not canary_images:
            canary_images.append(_image(engine, f"{SERVICE}-canary"))

    end = _end(collect(engine.resume(deploy_id), look))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    assert canary_images == [checked]
    assert _image(engine) == checked


def test_a_resume_with_no_recorded_check_asks_the_registry_again(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = _registry(tmp_path, NEW)
    engine = _engine(sim, tmp_path, registry)
    for env in engine.context.environments_section.values():
        del env["image"]  # started when the environment named no image: nothing was checked
    deploy_id = _killed_before_the_canary(engine, NEW)
    for env in engine.context.environments_section.values():
        env["image"] = "payments/{service}"
    end = _end(collect(engine.resume(deploy_id)))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    assert _image(engine) == _pinned(registry, NEW)


def test_a_skipped_check_stays_skipped_and_recorded_when_resumed(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    engine = _engine(sim, tmp_path, _registry(tmp_path))  # the registry has nothing: the emergency
    deploy_id = _killed_before_the_canary(engine, NEW, skip_image_check=True)
    end = _end(collect(engine.resume(deploy_id)))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    assert _image(engine) == f"{HOST}/{SERVICE}:{NEW}"
    lines = [e for e in engine.context.history.events(deploy_id) if isinstance(e, LogLine)]
    assert sum("image check skipped" in e.message for e in lines) == 2  # the start's, the resume's


# -- the way back after the stable already switched ---------------------------------------------------
NEWER = "v2.3.2"


def _killed_once(engine: DeployEngine, run: Any, stage: Stage, image: str) -> str:
    """Run ``run`` and stop it (as a killed runner stops) once its ``stage`` has begun and the
    stable Deployment runs ``image``: the stable has switched, nothing after that happened."""
    events = run.events()
    begun = False
    for event in events:
        begun = begun or (isinstance(event, StageStarted) and event.stage is stage)
        if begun and _image(engine) == image:
            break
    else:
        raise AssertionError(f"{run.deploy_id} ended before the stable ran {image}")
    events.close()
    return str(run.deploy_id)


def test_aborting_a_rollback_killed_after_the_stable_switched_restores_the_pinned_digest(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = _registry(tmp_path, OLD, NEW)
    engine = _engine(sim, tmp_path, registry)
    assert _end(collect(engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    rollback = engine.rollback(SERVICE, "production", OLD)
    deploy_id = _killed_once(engine, rollback, Stage.ROLLBACK, _pinned(registry, OLD))
    assert rollback.outcome is None  # killed: the abort is all that is left
    end = _end(collect(engine.abort(deploy_id)))
    assert end.outcome is Outcome.ABORTED, end.reason
    assert end.version == NEW
    # The digest NEW ran before the rollback, as before it: never the bare tag.
    assert _image(engine) == _pinned(registry, NEW)


def test_aborting_a_deploy_killed_mid_promote_restores_the_pinned_digest(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = _registry(tmp_path, NEW, NEWER)
    engine = _engine(sim, tmp_path, registry)
    assert _end(collect(engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    deploy = engine.deploy(SERVICE, "production", NEWER)
    deploy_id = _killed_once(engine, deploy, Stage.PROMOTE, _pinned(registry, NEWER))
    end = _end(collect(engine.abort(deploy_id)))
    assert end.outcome is Outcome.ABORTED, end.reason
    assert _image(engine) == _pinned(registry, NEW)


def test_aborting_a_deploy_killed_mid_promote_restores_the_image_that_ran_before(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    # The stable ran OLD from another repository, by tag (before the environment named its image):
    # the way back is that image, never OLD's tag in the new repository, which nobody checked.
    registry = _registry(tmp_path, NEW)
    engine = _engine(sim, tmp_path, registry)
    before = _image(engine)
    assert before == f"{HOST}/{SERVICE}:{OLD}"
    deploy_id = _killed_once(
        engine, engine.deploy(SERVICE, "production", NEW), Stage.PROMOTE, _pinned(registry, NEW)
    )
    end = _end(collect(engine.abort(deploy_id)))
    assert end.outcome is Outcome.ABORTED, end.reason
    assert _image(engine) == before


def test_a_resumed_rollback_that_fails_its_check_rolls_forward_to_the_pinned_digest(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = _registry(tmp_path, OLD, NEW)
    engine = _engine(sim, tmp_path, registry)
    assert _end(collect(engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    rollback = engine.rollback(SERVICE, "production", OLD)
    deploy_id = _killed_once(engine, rollback, Stage.ROLLBACK, _pinned(registry, OLD))
    sim.set_error_rate(SERVICE, "stable", 0.5)  # OLD turns out unhealthy: the resume leaves it again
    end = _end(collect(engine.resume(deploy_id)))
    assert end.outcome is Outcome.FAILED and "rolled forward" in end.reason, end.reason
    assert _image(engine) == _pinned(registry, NEW)


# -- infra's compute patch of the service's Deployment -------------------------------------------------
def test_an_infra_apply_resizing_the_service_keeps_its_pinned_image(infra: Infra) -> None:  # noqa: F811
    pinned = f"{REPO}:{OLD}@sha256:{'ab' * 32}"  # what a deploy pinned the stable to

    def pin(deployment: dict[str, Any]) -> None:
        cn.containers(deployment)[0]["image"] = pinned

    infra.cluster.update("deployments", "production", SERVICE, pin)
    infra.edit(
        f"infrastructure/{SERVICE}/resources.yaml", lambda d: d["spec"]["compute"].update(memory="640Mi")
    )
    code, out, err = infra.cli("infra", "apply")
    assert code == 0, err
    assert f"deployments/{SERVICE}" in out, out
    deployment = infra.cluster.get("deployments", "production", SERVICE)
    containers = cn.containers(deployment)
    assert [c["resources"]["limits"]["memory"] for c in containers] == ["640Mi"]  # resized, no second one
    assert [c["image"] for c in containers] == [pinned]  # compute never touches the image


# -- a first deploy: every workload of the service's image runs the checked digest ---------------------
FIRST = "orders-api"


def _service_repository(root: Path, image: str) -> Path:
    """A service repository whose deploy/ runs its image twice more besides the service's own
    container: a migration init container and a worker Deployment; tagged v0.1.0."""
    deploy = root / "deploy"
    deploy.mkdir(parents=True)
    spec = {"containers": [{"name": FIRST, "image": f"{image}:v0.1.0"}]}

    def deployment(name: str, pod: dict[str, Any]) -> dict[str, Any]:
        labels = {"app": name}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod}},
        }  # fmt: skip

    service = deployment(FIRST, {**spec, "initContainers": [{"name": "migrate", "image": f"{image}:v0.1.0"}]})
    worker = deployment(f"{FIRST}-worker", spec)
    (deploy / "workloads.yaml").write_text(yaml.safe_dump_all([service, worker], sort_keys=False))
    git = ["git", "-C", str(root), "-c", "user.name=dev", "-c", "user.email=dev@acme.example"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "first"], ["tag", "v0.1.0"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return root


def test_a_first_deploy_pins_every_workload_that_runs_the_checked_image(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    image = f"{HOST}/payments/{FIRST}"
    repository = _service_repository(tmp_path / "orders-api", image)
    registry = FileRegistry(tmp_path / "registry", host=HOST)
    registry.push(image, "v0.1.0")
    service = entity(
        "Component",
        FIRST,
        {"type": "service", "lifecycle": "production", "owner": "team-payments"},
        {
            "backstage.io/kubernetes-id": FIRST,
            "backstage.io/source-location": f"url:{repository}",
            "idp-console.dev/image": image,
        },
    )
    context, _ = make_context(sim, tmp_path, catalog=FakeCatalog(service, *demo_catalog().entities))
    context.registry = registry
    engine = DeployEngine(context)
    end = _end(collect(engine.deploy(FIRST, "staging", "v0.1.0")))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    cluster = context.cluster_for(context.environment("staging"))
    pinned = f"{image}:v0.1.0@{registry.digest(image, 'v0.1.0')}"
    images = {
        f"{name}/{container['name']}": container["image"]
        for name in (FIRST, f"{FIRST}-worker")
        for pod in [cluster.get("deployments", "staging", name)["spec"]["template"]["spec"]]
        for container in [*pod.get("initContainers", []), *pod["containers"]]
    }
    assert images == {
        f"{FIRST}/migrate": pinned,
        f"{FIRST}/{FIRST}": pinned,
        f"{FIRST}-worker/{FIRST}": pinned,
    }

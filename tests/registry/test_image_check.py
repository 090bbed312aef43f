"""Issue 15, item 4: a real registry behind every deploy.

The pre-checks resolve the version's tag to a digest through the OCI distribution API of a real
CNCF Distribution server (``conftest.real_registry``: images pushed by these tests), refuse a
missing tag before the cluster is asked anything — naming the nearest tags —, stop when the
registry is unreachable or refuses us, and pin the canary and the stable Deployment to the digest
(``repo:tag@sha256:…``) on the simulated cluster, with promote, resume and rollback intact.
``--skip-image-check`` deploys anyway and is recorded.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployFinished, LogLine, Outcome, Stage, StageFinished, StageStarted
from backends.kube.environments import EnvironmentConfigError, parse_environments
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.kube.sim.cluster import SimulatedCluster
from backends.registry import (
    FileRegistry,
    ImageNotFound,
    OciRegistry,
    RegistryError,
    RegistryUnauthorized,
    resolve_image,
)
from tests.deploy.conftest import IMAGE, SERVICE, TIME_SCALE, collect, make_context

from .conftest import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, PASSWORD, USER, RealRegistry

OLD, NEW = "v2.3.0", "v2.3.1"
CREDENTIALS = f"{USER}:{PASSWORD}"


@pytest.fixture
def sim() -> Iterator[SimulatedCluster]:
    seed = [SeedService(SERVICE, ("staging", "production"), IMAGE, 4)]
    with start_simulated_cluster(None, time_scale=TIME_SCALE, attach=False, seed_objects=seed) as cluster:
        cluster.set_error_rate(SERVICE, "canary", 0.002)
        cluster.set_error_rate(SERVICE, "stable", 0.002)
        yield cluster


def _repo(real_registry: RealRegistry, name: str) -> str:
    return f"{real_registry.host}/{name}"


def _engine(
    sim: SimulatedCluster, tmp_path: Path, registry: Any, image: str = "payments/{service}"
) -> DeployEngine:
    context, _ = make_context(sim, tmp_path)
    for env in context.environments_section.values():
        env["image"] = image
    context.registry = registry
    return DeployEngine(context)


def _end(events: list) -> DeployFinished:
    assert isinstance(events[-1], DeployFinished), events[-1]
    return events[-1]


def _service_image(deployment: dict | None) -> str:
    assert deployment is not None
    return str(cn.containers(deployment)[0]["image"])


def _arm_every_request(sim: SimulatedCluster) -> None:
    """Any request to the API server from now on is answered 500 and recorded in faults.hits."""
    sim.faults.fail_next(10_000, path="")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the registry client against the real server ----------------------------------------------------
@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST])
def test_a_tag_resolves_to_the_digest_of_its_manifest(real_registry: RealRegistry, media_type: str) -> None:
    kind = media_type.rsplit(".", 2)[-2].replace("+json", "")
    pushed = real_registry.push(f"digests/{kind}", "v1.0.0", media_type=media_type)
    registry = OciRegistry(real_registry.url, host=real_registry.host, token=CREDENTIALS)
    found = resolve_image(registry, f"digests/{kind}", "v1.0.0")
    assert found.digest == pushed
    assert found.reference == f"{real_registry.host}/digests/{kind}:v1.0.0@{pushed}"


def test_a_missing_tag_names_the_nearest_tags(real_registry: RealRegistry) -> None:
    for tag in ("v1.0.0", "v2.3.0", "v2.3.1", "v2.4.0", "latest"):
        real_registry.push("payments/nearest", tag)
    registry = OciRegistry(real_registry.url, host=real_registry.host, token=CREDENTIALS)
    with pytest.raises(ImageNotFound) as refused:
        resolve_image(registry, "payments/nearest", "v2.3.9")
    assert str(refused.value).startswith(
        f"v2.3.9 is not in registry {real_registry.host}/payments/nearest; "
        "nearest tags: v2.3.1, v2.3.0, v2.4.0"
    )


def test_no_or_wrong_credentials_are_refused_without_showing_them(real_registry: RealRegistry) -> None:
    real_registry.push("payments/locked", "v1.0.0")
    for token in (None, f"{USER}:wrong-secret-9"):
        registry = OciRegistry(real_registry.url, host=real_registry.host, token=token)
        with pytest.raises(
            RegistryUnauthorized, match=r"refused to show payments/locked \(HTTP 401\)"
        ) as refused:
            resolve_image(registry, "payments/locked", "v1.0.0")
        assert "wrong-secret-9" not in str(refused.value)


def test_an_image_on_another_host_is_refused(real_registry: RealRegistry) -> None:
    registry = OciRegistry(real_registry.url, host=real_registry.host, token=CREDENTIALS)
    with pytest.raises(RegistryError, match="is on ghcr.io, but the workspace registry is"):
        resolve_image(registry, "ghcr.io/acme/app", "v1")


def test_environment_image_is_validated_with_its_key() -> None:
    assert (
        parse_environments({"prod": {"image": "registry.acme.example:5000/payments/{service}"}})["prod"].image
        == "registry.acme.example:5000/payments/{service}"
    )
    for bad in ("payments/app:v1", "Payments/App", "payments/app@sha256:00"):
        with pytest.raises(EnvironmentConfigError, match="environments.prod.image") as refused:
            parse_environments({"prod": {"image": bad}})
        assert "expected an image repository" in str(refused.value)


# -- deploys on the simulated cluster ---------------------------------------------------------------
def test_the_deploy_pins_canary_and_stable_to_the_checked_digest(
    real_registry: RealRegistry, sim: SimulatedCluster, tmp_path: Path
) -> None:
    digest = real_registry.push(f"payments/{SERVICE}", NEW)
    real_registry.push(f"payments/{SERVICE}", OLD)
    reference = f"{real_registry.host}/payments/{SERVICE}:{NEW}@{digest}"
    engine = _engine(
        sim, tmp_path, OciRegistry(real_registry.url, host=real_registry.host, token=CREDENTIALS)
    )
    context = engine.context
    cluster = context.cluster_for(context.environment("production"))
    canary_images: list[str] = []

    def look(event: Any) -> None:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and not canary_images:
            canary_images.append(
                _service_image(cluster.find("deployments", "production", f"{SERVICE}-canary"))
            )

    run = engine.deploy(SERVICE, "production", NEW)
    events = collect(run, look)
    assert _end(events).outcome is Outcome.SUCCEEDED, _end(events).reason
    lines = [e.message for e in events if isinstance(e, LogLine)]
    assert f"Image {NEW} found: {digest} ({real_registry.host}/payments/{SERVICE}); pinned to it" in lines
    assert canary_images == [reference]
    stable = cluster.find("deployments", "production", SERVICE)
    assert _service_image(stable) == reference
    assert cn.deployed_version(stable) == NEW  # the version is still read from the running image
    pods, _ = cluster.list("pods", "production")
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert {i for i in images if cn.image_tag(i) == NEW} == {reference}  # (old pods may still be going)
    status = engine.status(SERVICE, "production")
    assert status.stable is not None and status.stable.version == NEW
    versions = {p.version for p in status.pods}
    assert NEW in versions and "" not in versions  # a pod's version is read from its pinned image
    # the way back: the rollback finds the version from before and verifies it
    back = collect(engine.rollback(SERVICE, "production"))
    assert _end(back).outcome is Outcome.SUCCEEDED, _end(back).reason
    assert cn.deployed_version(cluster.find("deployments", "production", SERVICE)) == OLD


def test_a_resumed_deploy_promotes_the_digest_its_canary_ran(
    real_registry: RealRegistry, sim: SimulatedCluster, tmp_path: Path
) -> None:
    digest = real_registry.push(f"payments/{SERVICE}", "v2.5.0")
    engine = _engine(
        sim, tmp_path, OciRegistry(real_registry.url, host=real_registry.host, token=CREDENTIALS)
    )
    run = engine.deploy(SERVICE, "production", "v2.5.0")
    events = run.events()
    for event in events:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            break
    events.close()  # the runner died mid-canary
    # the registry is gone by now: the resume needs nothing from it, the canary says what ran
    engine.context.registry = OciRegistry(f"http://127.0.0.1:{_closed_port()}", host=real_registry.host)
    end = _end(collect(engine.resume(run.deploy_id)))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    cluster = engine.context.cluster_for(engine.context.environment("production"))
    stable = cluster.find("deployments", "production", SERVICE)
    assert _service_image(stable) == f"{real_registry.host}/payments/{SERVICE}:v2.5.0@{digest}"


def test_a_missing_tag_is_refused_before_the_cluster_is_asked_anything(
    real_registry: RealRegistry, sim: SimulatedCluster, tmp_path: Path
) -> None:
    for tag in ("v2.3.0", "v2.3.1"):
        real_registry.push(f"payments/{SERVICE}", tag)
    engine = _engine(
        sim, tmp_path, OciRegistry(real_registry.url, host=real_registry.host, token=CREDENTIALS)
    )
    _arm_every_request(sim)
    events = collect(engine.deploy(SERVICE, "production", "v2.3.9"))
    end = _end(events)
    assert end.outcome is Outcome.FAILED
    assert end.reason.startswith(
        f"image check: v2.3.9 is not in registry {real_registry.host}/payments/{SERVICE}; "
        "nearest tags: v2.3.1, v2.3.0"
    )
    assert sim.faults.hits == []  # not one request reached the API server
    assert engine.context.history.records(SERVICE, "production") == []  # a refusal is not a deploy


@pytest.mark.parametrize("fault", ["unauthorised", "unreachable"])
def test_a_registry_that_cannot_say_stops_the_deploy_at_the_prechecks(
    real_registry: RealRegistry, sim: SimulatedCluster, tmp_path: Path, fault: str
) -> None:
    real_registry.push(f"payments/{SERVICE}", NEW)
    if fault == "unauthorised":
        registry = OciRegistry(real_registry.url, host=real_registry.host, token=f"{USER}:not-it")
        expected = f"registry {real_registry.host} refused to show payments/{SERVICE} (HTTP 401)"
    else:
        registry = OciRegistry(f"http://127.0.0.1:{_closed_port()}", host=real_registry.host, timeout=2)
        expected = "cannot reach the registry http://127.0.0.1:"
    engine = _engine(sim, tmp_path, registry)
    _arm_every_request(sim)
    events = collect(engine.deploy(SERVICE, "production", NEW))
    end = _end(events)
    assert end.outcome is Outcome.FAILED
    assert expected in end.reason and "(in an emergency: --skip-image-check)" in end.reason
    failed = [e for e in events if isinstance(e, StageFinished) and e.stage is Stage.PRECHECKS]
    assert failed and not failed[0].ok
    assert sim.faults.hits == []


def test_skip_image_check_deploys_by_tag_and_is_recorded(
    real_registry: RealRegistry, sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = OciRegistry(f"http://127.0.0.1:{_closed_port()}", host=real_registry.host, timeout=2)
    engine = _engine(sim, tmp_path, registry)
    run = engine.deploy(SERVICE, "production", NEW, skip_image_check=True)
    end = _end(collect(run))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    recorded = [e for e in engine.context.history.events(run.deploy_id) if isinstance(e, LogLine)]
    skipped = [e for e in recorded if "image check skipped (--skip-image-check)" in e.message]
    assert skipped and skipped[0].level == "warning" and "by jane.doe" in skipped[0].message
    cluster = engine.context.cluster_for(engine.context.environment("production"))
    image = _service_image(cluster.find("deployments", "production", SERVICE))
    assert image.endswith(f":{NEW}") and "@" not in image  # by tag: nothing was resolved to pin


def test_the_demo_registry_pins_a_stable_digest_through_the_same_path(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    registry = FileRegistry(tmp_path / "registry", host="registry.acme.example")
    registry.push(f"registry.acme.example/team-payments/{SERVICE}", NEW)
    first = registry.digest(f"registry.acme.example/team-payments/{SERVICE}", NEW)
    assert first == registry.digest(f"team-payments/{SERVICE}", NEW)  # the same tag, the same digest
    expected = (
        "sha256:"
        + hashlib.sha256(f"registry.acme.example/team-payments/{SERVICE}:{NEW}".encode()).hexdigest()
    )
    assert first == expected
    engine = _engine(sim, tmp_path, registry, image="registry.acme.example/team-payments/{service}")
    missing = _end(collect(engine.deploy(SERVICE, "production", "v2.3.2")))
    assert (
        "v2.3.2 is not in registry registry.acme.example/team-payments/payment-service; nearest tags: v2.3.1"
        in (missing.reason)
    )
    end = _end(collect(engine.deploy(SERVICE, "production", NEW)))
    assert end.outcome is Outcome.SUCCEEDED, end.reason
    cluster = engine.context.cluster_for(engine.context.environment("production"))
    stable = cluster.find("deployments", "production", SERVICE)
    assert _service_image(stable) == f"registry.acme.example/team-payments/{SERVICE}:{NEW}@{first}"


# -- the command line -------------------------------------------------------------------------------
def _cli_workspace(root: Path, sim: SimulatedCluster, real_registry: RealRegistry) -> Path:
    from tests.deploy.test_deploy_cli import _workspace

    workspace = _workspace(root, sim.kubeconfig(root.parent / "kubeconfig"), sim.prometheus_url)
    config = workspace / "idp-console.yaml"
    text = config.read_text().replace(
        "    production: true\n", "    production: true\n    image: payments/{service}\n"
    )
    # That file's long bake is for its kill tests; any length of it (it has changed) is a plain step here.
    text = re.sub(r"\{weight: 25, bake: \d+s\}", "25", text)
    assert "bake: 0.3s" in text and "weight: 25" not in text, "test_deploy_cli's workspace changed shape"
    text += (
        f"registry: {{host: '{real_registry.host}', url: '{real_registry.url}', "
        "tokenSecret: test-registry}\n"
    )
    config.write_text(text)
    return workspace


def test_cli_checks_with_the_secret_refuses_without_it_and_skips_on_request(
    real_registry: RealRegistry,
    sim: SimulatedCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from backends.secrets import EnvironmentSecretStore, env_name
    from console.cli import main

    digest = real_registry.push(f"payments/{SERVICE}", NEW)
    workspace = _cli_workspace(tmp_path / "ws", sim, real_registry)
    deploy = [
        "--workspace",
        str(workspace),
        "deploy",
        SERVICE,
        "--env",
        "production",
        "--yes",
        "--foreground",
    ]
    # No credentials anywhere (the keyring asked too, so make sure it has none): refused, one line.
    monkeypatch.delenv(env_name("test-registry"), raising=False)
    monkeypatch.setattr("backends.secrets.default_secret_store", lambda: EnvironmentSecretStore())
    assert main([*deploy, "--version", NEW]) == 2
    out, err = capsys.readouterr()
    assert "refused to show" in out + err and env_name("test-registry") in out + err
    assert "Traceback" not in out + err
    # The emergency way past it: deployed by tag, and said so.
    assert main([*deploy, "--version", "v2.3.2", "--skip-image-check", "--output", "json"]) == 0
    out, err = capsys.readouterr()
    assert "image check skipped (--skip-image-check)" in out + err
    # With the secret: checked and pinned.
    monkeypatch.setenv(env_name("test-registry"), CREDENTIALS)
    assert main([*deploy, "--version", NEW, "--output", "json"]) == 0
    out, err = capsys.readouterr()
    assert f"Image {NEW} found: {digest}" in out + err
    assert CREDENTIALS not in out + err and PASSWORD not in out + err
    context, _ = make_context(sim, tmp_path / "look")
    stable = context.cluster_for(context.environment("production")).find("deployments", "production", SERVICE)
    assert _service_image(stable) == f"{real_registry.host}/payments/{SERVICE}:{NEW}@{digest}"


def test_bearer_token_exchange_with_a_token_service(token_registry: RealRegistry) -> None:
    """The registry sends us to its token service (WWW-Authenticate: Bearer realm=…, scope=…); with
    user:password we get a token there and the digest with it; without, a refusal."""
    pushed = token_registry.push("payments/tokened", "v1.0.0")
    registry = OciRegistry(token_registry.url, host=token_registry.host, token=CREDENTIALS)
    assert resolve_image(registry, "payments/tokened", "v1.0.0").digest == pushed
    with pytest.raises(ImageNotFound, match="nearest tags: v1.0.0"):  # the tag list, with a token too
        resolve_image(registry, "payments/tokened", "v1.0.1")
    anonymous = OciRegistry(token_registry.url, host=token_registry.host)
    with pytest.raises(RegistryUnauthorized, match=r"refused to show payments/tokened \(HTTP 401\)"):
        resolve_image(anonymous, "payments/tokened", "v1.0.0")

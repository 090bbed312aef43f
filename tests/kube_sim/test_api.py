"""The emulator's Kubernetes semantics, checked through the official client over real HTTP.

Each test names the kmock 0.8 gap it covers (see shared/reference/kubernetes.md).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from backends.kube.sim import SimulatedCluster, start_simulated_cluster

from .conftest import deployment, wait_for


def _configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


# ---------------------------------------------------------------- gap 1: selectors


def test_label_selectors_filter_lists(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("a", {"track": "stable", "app": "pay"}))
    core.create_namespaced_config_map("default", _configmap("b", {"track": "canary", "app": "pay"}))
    core.create_namespaced_config_map("default", _configmap("c", {"app": "cart"}))

    def names(selector: str) -> list[str]:
        return sorted(
            cm.metadata.name
            for cm in core.list_namespaced_config_map("default", label_selector=selector).items
        )

    assert names("track=canary") == ["b"]
    assert names("app==pay,track!=canary") == ["a"]
    assert names("track!=canary") == ["a", "c"]  # != also matches objects without the label
    assert names("track in (stable,canary)") == ["a", "b"]
    assert names("track notin (stable)") == ["b", "c"]
    assert names("track") == ["a", "b"]
    assert names("!track") == ["c"]


def test_field_selector_by_name_and_namespace(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("a"))
    core.create_namespaced_config_map("other", _configmap("a"))
    core.create_namespaced_config_map("default", _configmap("b"))
    found = core.list_config_map_for_all_namespaces(field_selector="metadata.name=a").items
    assert sorted(cm.metadata.namespace for cm in found) == ["default", "other"]
    found = core.list_config_map_for_all_namespaces(field_selector="metadata.name=a,metadata.namespace=other")
    assert [cm.metadata.namespace for cm in found.items] == ["other"]
    assert [
        cm.metadata.name
        for cm in core.list_namespaced_config_map("default", field_selector="metadata.name!=a").items
    ] == ["b"]


def test_watch_honours_selectors_and_reports_objects_leaving_them(core: client.CoreV1Api) -> None:
    listed = core.list_namespaced_config_map("default")
    core.create_namespaced_config_map("default", _configmap("a", {"track": "canary"}))
    core.create_namespaced_config_map("default", _configmap("b", {"track": "stable"}))
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"track": "stable"}}})
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="track=canary",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "a"), ("DELETED", "a")]


# ---------------------------------------------------------------- gap 2: server-owned metadata


def test_server_sets_uid_resource_version_generation_and_timestamp(apps: client.AppsV1Api) -> None:
    created = apps.create_namespaced_deployment("default", deployment("web", "nginx:1"))
    meta = created.metadata
    assert meta.uid and meta.creation_timestamp is not None
    assert meta.generation == 1
    rv1 = int(meta.resource_version)

    labelled = apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"team": "a"}}})
    assert labelled.metadata.generation == 1, "metadata changes do not bump generation"
    assert int(labelled.metadata.resource_version) > rv1
    assert labelled.metadata.uid == meta.uid

    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 5}})
    assert scaled.metadata.generation == 2
    listing = apps.list_namespaced_deployment("default")
    assert int(listing.metadata.resource_version) >= int(scaled.metadata.resource_version)


def test_resource_version_is_cluster_wide_and_monotonic(core: client.CoreV1Api) -> None:
    versions = []
    for index in range(3):
        versions.append(
            int(
                core.create_namespaced_config_map(
                    "default", _configmap(f"c{index}")
                ).metadata.resource_version
            )
        )
        versions.append(
            int(
                core.create_namespaced_service(
                    "default", {"metadata": {"name": f"s{index}"}, "spec": {"ports": [{"port": 80}]}}
                ).metadata.resource_version
            )
        )
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_noop_patch_keeps_resource_version(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", _configmap("a", x="1"))
    same = core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version


# ---------------------------------------------------------------- gap 3: strategic merge patch


def test_strategic_merge_patch_keeps_container_ports(apps: client.AppsV1Api) -> None:
    manifest = deployment("web", "nginx:1")
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    apps.create_namespaced_deployment("default", manifest)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    patched = apps.patch_namespaced_deployment("web", "default", patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["web"].image == "nginx:2"
    assert containers["web"].ports[0].container_port == 8080
    assert containers["sidecar"].image == "envoy:1"
    assert patched.metadata.generation == 2


def test_json_merge_patch_and_json_patch(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1"))
    merged = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"metadata": {"annotations": {"a": "1"}}},
        _content_type="application/merge-patch+json",
    )
    assert merged.metadata.annotations == {"a": "1"}
    ops = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:3"},
        {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
    ]
    patched = apps.patch_namespaced_deployment("web", "default", ops)
    assert patched.spec.template.spec.containers[0].image == "nginx:3"
    assert patched.spec.template.spec.containers[0].ports[0].container_port == 8080
    assert patched.metadata.labels["tier"] == "web"
    with pytest.raises(ApiException) as failed:
        apps.patch_namespaced_deployment(
            "web", "default", [{"op": "test", "path": "/spec/replicas", "value": 99}]
        )
    assert failed.value.status == 422


# ---------------------------------------------------------------- gap 4: PUT and server-side apply


def test_server_side_apply_creates_then_updates(apps: client.AppsV1Api) -> None:
    manifest = deployment("applied", "nginx:1")
    created = apps.patch_namespaced_deployment(
        "applied",
        "default",
        manifest,
        field_manager="idp-console",
        _content_type="application/apply-patch+yaml",
    )
    assert created.metadata.uid and created.metadata.generation == 1
    manifest["spec"]["replicas"] = 7
    updated = apps.patch_namespaced_deployment(
        "applied",
        "default",
        manifest,
        field_manager="idp-console",
        _content_type="application/apply-patch+yaml",
    )
    assert updated.spec.replicas == 7 and updated.metadata.uid == created.metadata.uid


def test_put_replaces_existing_and_is_404_for_missing(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as missing:
        core.replace_namespaced_config_map("nope", "default", _configmap("nope"))
    assert missing.value.status == 404
    created = core.create_namespaced_config_map("default", _configmap("a", x="1", y="2"))
    replaced = core.replace_namespaced_config_map(
        "a", "default", {"metadata": {"name": "a"}, "data": {"x": "9"}}
    )
    assert replaced.data == {"x": "9"}
    assert replaced.metadata.uid == created.metadata.uid


# ---------------------------------------------------------------- gap 5: /status subresource


def test_status_subresource_is_separate_from_spec(apps: client.AppsV1Api, sim: SimulatedCluster) -> None:
    sim.controller.stop()  # this test writes status itself
    time.sleep(0.05)
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1"))
    # A status patch that also tries to change the spec: only the status changes.
    result = apps.patch_namespaced_deployment_status(
        "web", "default", {"spec": {"replicas": 9}, "status": {"observedGeneration": 1, "replicas": 3}}
    )
    assert result.spec.replicas == 3 and result.status.replicas == 3
    assert result.metadata.generation == 1
    # A main-resource patch that tries to change status: only the spec changes.
    result = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"replicas": 4}, "status": {"replicas": 0}}
    )
    assert result.spec.replicas == 4 and result.status.replicas == 3
    assert result.metadata.generation == 2


# ---------------------------------------------------------------- gap 6: watch timeout, resume, 410


def test_watch_timeout_seconds_ends_the_stream(core: client.CoreV1Api) -> None:
    started = time.monotonic()
    events = list(watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1))
    assert events == []
    assert 0.9 <= time.monotonic() - started < 3


def test_watch_resumes_from_resource_version_without_missing_events(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("a"))
    bookmark = core.list_namespaced_config_map("default").metadata.resource_version
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    core.create_namespaced_config_map("default", _configmap("b"))
    core.delete_namespaced_config_map("a", "default")
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=bookmark, timeout_seconds=1
        )
    ]
    assert events == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_watch_without_version_starts_with_current_objects_then_live_events(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("a"))
    seen: list[tuple[str, str]] = []
    stream = watch.Watch()

    def consume() -> None:
        for event in stream.stream(core.list_namespaced_config_map, "default", timeout_seconds=2):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                stream.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.3)
    core.create_namespaced_config_map("default", _configmap("b"))
    thread.join(5)
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_too_old_resource_version_is_410_gone() -> None:
    with start_simulated_cluster(None, time_scale=0.01, history_limit=3) as sim:
        api = client.ApiClient(client.Configuration(host=sim.api_url))
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map("default", _configmap("a"))
        old = core.list_namespaced_config_map("default").metadata.resource_version
        for value in range(5):
            core.patch_namespaced_config_map("a", "default", {"data": {"x": str(value)}})
        # The raw stream: one ERROR event carrying a 410 Status.
        response = httpx.get(
            f"{sim.api_url}/api/v1/namespaces/default/configmaps",
            params={"watch": "true", "resourceVersion": old, "timeoutSeconds": "1"},
        )
        lines = [line for line in response.text.splitlines() if line]
        assert len(lines) == 1 and '"type": "ERROR"' in lines[0] and '"code": 410' in lines[0]
        # The official client raises ApiException(410) when a resumed watch is gone.
        with pytest.raises(ApiException) as gone:
            list(
                watch.Watch().stream(
                    core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=1
                )
            )
        assert gone.value.status == 410
        api.close()


# ---------------------------------------------------------------- gap 7 and 9: content type, discovery


def test_watch_is_served_as_json(sim: SimulatedCluster) -> None:
    response = httpx.get(
        f"{sim.api_url}/api/v1/namespaces/default/pods", params={"watch": "true", "timeoutSeconds": "1"}
    )
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "path", ["/version", "/version/", "/apis", "/apis/", "/api", "/api/", "/api/v1/", "/apis/apps/v1/"]
)
def test_discovery_with_and_without_trailing_slash(sim: SimulatedCluster, path: str) -> None:
    assert httpx.get(sim.api_url + path).status_code == 200


def test_discovery_lists_the_served_resources(api: client.ApiClient) -> None:
    apps_resources = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
    assert {"deployments", "deployments/status", "deployments/scale", "replicasets"} <= apps_resources
    core_resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "services", "events", "configmaps", "namespaces"} <= set(core_resources)
    assert core_resources["pods"].namespaced and not core_resources["namespaces"].namespaced
    leases = {r.name for r in client.CoordinationV1Api(api).get_api_resources().resources}
    assert "leases" in leases
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "coordination.k8s.io"} <= groups
    assert client.VersionApi(api).get_code().major == "1"


# ---------------------------------------------------------------- conflicts, scale, deletion


def test_stale_resource_version_is_409_conflict(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", _configmap("a", x="1"))
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}})
    stale = client.ApiClient().sanitize_for_serialization(created) | {"data": {"x": "3"}}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("a", "default", stale)
    assert conflict.value.status == 409
    with pytest.raises(ApiException) as conflict:
        core.patch_namespaced_config_map(
            "a",
            "default",
            {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"x": "4"}},
        )
    assert conflict.value.status == 409
    with pytest.raises(ApiException) as duplicate:
        core.create_namespaced_config_map("default", _configmap("a"))
    assert duplicate.value.status == 409
    assert core.read_namespaced_config_map("a", "default").data == {"x": "2"}


def test_scale_subresource(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=2))
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 2 and scale.kind == "Scale"
    scaled = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 6}})
    assert scaled.spec.replicas == 6
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 6


def test_delete_garbage_collects_owned_objects(apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod("default", label_selector="app=web").items) == 2)
    apps.delete_namespaced_deployment("web", "default")
    wait_for(lambda: not apps.list_namespaced_replica_set("default").items)
    assert core.list_namespaced_pod("default", label_selector="app=web").items == []
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("web", "default")
    assert missing.value.status == 404


def test_leases_for_deploy_locks(api: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api)
    body = {
        "metadata": {"name": "deploy-payment-service"},
        "spec": {"holderIdentity": "jane.doe", "leaseDurationSeconds": 60},
    }
    created = leases.create_namespaced_lease("production", body)
    assert created.spec.holder_identity == "jane.doe"
    with pytest.raises(ApiException) as taken:
        leases.create_namespaced_lease("production", body)
    assert taken.value.status == 409


def test_idle_watch_with_bookmarks_gets_a_fresh_resource_version(
    core: client.CoreV1Api, sim: SimulatedCluster
) -> None:
    assert sim.api_server is not None
    sim.api_server.bookmark_interval = 0.2
    start = core.list_namespaced_config_map("default").metadata.resource_version
    events: list[dict] = []

    def consume() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=start,
            allow_watch_bookmarks=True,
            timeout_seconds=2,
            deserialize=False,
        ):
            events.append(event)

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.2)
    other = core.create_namespaced_service(
        "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    thread.join(5)
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks and not [e for e in events if e["type"] != "BOOKMARK"]
    assert bookmarks[-1]["object"]["metadata"]["resourceVersion"] == other.metadata.resource_version


def test_table_printing_for_kubectl(sim: SimulatedCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = httpx.get(f"{sim.api_url}/api/v1/namespaces/default/services", headers={"Accept": accept}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Cluster-IP", "Port(s)", "Age"]
    (row,) = table["rows"]
    assert row["cells"][:2] == ["web", "ClusterIP"] and row["cells"][2].startswith("10.96.")
    assert row["object"]["metadata"]["name"] == "web"
    # Without the Accept header, the plain list (what the Python client asks for).
    assert httpx.get(f"{sim.api_url}/api/v1/namespaces/default/services").json()["kind"] == "ServiceList"


def test_malformed_requests_get_kubernetes_errors(sim: SimulatedCluster) -> None:
    url = f"{sim.api_url}/api/v1/namespaces/default/configmaps"
    assert (
        httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    )
    assert httpx.get(f"{sim.api_url}/apis/apps/v1/namespaces/default/widgets").status_code == 404
    assert httpx.get(f"{url}/x/nonsense").status_code == 404
    httpx.post(url, json={"metadata": {"name": "a"}}).raise_for_status()
    patch = httpx.patch(f"{url}/a", json=[1, 2], headers={"Content-Type": "application/merge-patch+json"})
    assert patch.status_code in (400, 422, 500) and patch.json()["kind"] == "Status"
    bad = httpx.patch(f"{url}/a", json={"x": 1}, headers={"Content-Type": "text/plain"})
    assert bad.status_code == 415


def test_delete_collection_by_label(core: client.CoreV1Api) -> None:
    for name, track in (("a", "canary"), ("b", "canary"), ("c", "stable")):
        core.create_namespaced_config_map("default", _configmap(name, {"track": track}))
    core.delete_collection_namespaced_config_map("default", label_selector="track=canary")
    assert [cm.metadata.name for cm in core.list_namespaced_config_map("default").items] == ["c"]


def test_dry_run_changes_nothing(apps: client.AppsV1Api) -> None:
    preview = apps.create_namespaced_deployment("default", deployment("web", "nginx:1"), dry_run="All")
    assert preview.metadata.name == "web"
    assert apps.list_namespaced_deployment("default").items == []
    created = apps.create_namespaced_deployment("default", deployment("web", "nginx:1"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    preview = apps.patch_namespaced_deployment("web", "default", patch, dry_run="All")
    assert preview.spec.template.spec.containers[0].image == "nginx:2"
    current = apps.read_namespaced_deployment("web", "default")
    assert current.spec.template.spec.containers[0].image == "nginx:1"
    assert current.metadata.generation == created.metadata.generation
    apps.delete_namespaced_deployment("web", "default", dry_run="All")
    assert apps.read_namespaced_deployment("web", "default").metadata.uid == created.metadata.uid

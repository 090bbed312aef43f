"""Pure pieces of the simulation: selectors, patches, rolling-update arithmetic, pod statuses, URLs."""

from __future__ import annotations

import pytest

from backends.kube.sim.errors import ApiError
from backends.kube.sim.kubelet import PodFault, PodTimings, pod_status
from backends.kube.sim.patching import json_merge_patch, json_patch, strategic_merge_patch
from backends.kube.sim.routes import ApiPath, parse_api_path
from backends.kube.sim.selectors import (
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_from_match_labels,
)
from backends.kube.sim.workloads import (
    ReplicaCounts,
    resolve_int_or_percent,
    rolling_update_targets,
    template_hash,
)

# ---------------------------------------------------------------- selectors


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a=1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a in (1, 2),b", {"a": "2", "b": "x"}, True),
        ("a notin (1,2)", {"a": "2"}, False),
        ("!a", {"b": "1"}, True),
        ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert labels_match(parse_label_selector(selector), labels) is expected


def test_bad_label_selector_is_400() -> None:
    with pytest.raises(ApiError) as bad:
        parse_label_selector("a in b")
    assert bad.value.status == 400


def test_match_labels_and_expressions() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "track", "operator": "In", "values": ["canary"]}],
    }
    requirements = selector_from_match_labels(selector)
    assert labels_match(requirements, {"app": "web", "track": "canary"})
    assert not labels_match(requirements, {"app": "web", "track": "stable"})


def test_field_selectors_on_nested_fields() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {"phase": "Running"},
        "spec": {"hostNetwork": True},
    }
    assert fields_match(parse_field_selector("metadata.name=p,status.phase=Running"), pod)
    assert fields_match(parse_field_selector("status.phase!=Pending"), pod)
    assert fields_match(parse_field_selector("spec.hostNetwork=true"), pod)
    assert not fields_match(parse_field_selector("spec.nodeName=n1"), pod)


# ---------------------------------------------------------------- patches


def test_strategic_merge_merges_containers_env_and_ports_by_key() -> None:
    target = {
        "containers": [
            {
                "name": "app",
                "image": "a:1",
                "ports": [{"containerPort": 80}],
                "env": [{"name": "X", "value": "1"}],
            },
            {"name": "side", "image": "s:1"},
        ]
    }
    patch = {
        "containers": [
            {"name": "app", "env": [{"name": "Y", "value": "2"}], "ports": [{"containerPort": 81}]}
        ]
    }
    result = strategic_merge_patch(target, patch)
    app = result["containers"][0]
    assert app["image"] == "a:1"
    assert [p["containerPort"] for p in app["ports"]] == [80, 81]
    assert [e["name"] for e in app["env"]] == ["X", "Y"]
    assert result["containers"][1] == {"name": "side", "image": "s:1"}
    assert target["containers"][0]["env"] == [{"name": "X", "value": "1"}], "the input is not modified"


def test_strategic_merge_directives() -> None:
    target = {"containers": [{"name": "a"}, {"name": "b"}], "metadata": {"finalizers": ["x"]}, "m": {"k": 1}}
    result = strategic_merge_patch(
        target,
        {
            "containers": [{"name": "b", "$patch": "delete"}],
            "metadata": {"finalizers": ["y"]},
            "m": {"$patch": "replace", "z": 2},
            "$setElementOrder/containers": [{"name": "a"}],
        },
    )
    assert result == {"containers": [{"name": "a"}], "metadata": {"finalizers": ["x", "y"]}, "m": {"z": 2}}
    assert strategic_merge_patch({"args": ["a", "b"]}, {"args": ["c"]}) == {
        "args": ["c"]
    }  # no merge key: replace


def test_service_ports_merge_by_port() -> None:
    target = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    result = strategic_merge_patch(target, {"spec": {"ports": [{"port": 80, "name": "http"}]}})
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "name": "http"}]


def test_json_merge_patch() -> None:
    assert json_merge_patch({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None}, "l": [2]}) == {
        "a": {"c": 2},
        "l": [2],
    }


def test_json_patch_operations() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    result = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "remove", "path": "/a/0"},
            {"op": "copy", "from": "/b/c", "path": "/d"},
            {"op": "move", "from": "/b", "path": "/e"},
            {"op": "test", "path": "/d", "value": 1},
            {"op": "add", "path": "/f~1g", "value": True},
        ],
    )
    assert result == {"a": [2, 3], "d": 1, "e": {"c": 1}, "f/g": True}
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])


def test_json_patch_refuses_what_rfc_6902_refuses() -> None:
    doc = {"a": [1, 2]}
    # An index past the end is an error (not an append), and a failed patch changes nothing.
    with pytest.raises(ApiError) as past_the_end:
        json_patch(doc, [{"op": "add", "path": "/b", "value": 1}, {"op": "add", "path": "/a/5", "value": 3}])
    assert past_the_end.value.status == 422 and doc == {"a": [1, 2]}
    with pytest.raises(ApiError) as not_a_patch:
        json_patch(doc, [{"op": "frobnicate", "path": "/a"}])
    assert not_a_patch.value.status == 400


# ---------------------------------------------------------------- rolling updates


def test_int_or_percent() -> None:
    assert resolve_int_or_percent("25%", 10, default="25%", round_up=True) == 3
    assert resolve_int_or_percent("25%", 10, default="25%", round_up=False) == 2
    assert resolve_int_or_percent(None, 4, default="25%", round_up=False) == 1
    assert resolve_int_or_percent(2, 4, default="25%", round_up=False) == 2


def test_rolling_update_surges_first_then_scales_old_down() -> None:
    # 4 replicas, surge 1, unavailable 0: one new pod first, old untouched until it is available.
    new, old = rolling_update_targets(4, 1, 0, ReplicaCounts(0, 0), [ReplicaCounts(4, 4)])
    assert (new, old) == (1, [4])
    new, old = rolling_update_targets(4, 1, 0, ReplicaCounts(1, 1), [ReplicaCounts(4, 4)])
    assert (new, old) == (1, [3])
    new, old = rolling_update_targets(4, 1, 0, ReplicaCounts(4, 4), [ReplicaCounts(1, 1)])
    assert (new, old) == (4, [0])


def test_rolling_update_removes_unavailable_old_pods_first() -> None:
    new, old = rolling_update_targets(
        4, 1, 1, ReplicaCounts(0, 0), [ReplicaCounts(2, 0), ReplicaCounts(3, 3)]
    )
    # Already at replicas + surge, so no new pod yet; the 2 unavailable old pods go first.
    assert (new, old) == (0, [0, 3])


def test_rolling_update_never_stalls_with_zero_surge_and_unavailability() -> None:
    new, old = rolling_update_targets(2, 0, 0, ReplicaCounts(0, 0), [ReplicaCounts(2, 2)])
    assert (new, old) == (0, [1])


def test_template_hash_is_stable_and_sensitive() -> None:
    template = {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}
    assert template_hash(template) == template_hash({"spec": {"containers": [{"image": "x:1", "name": "a"}]}})
    assert template_hash(template) != template_hash({"spec": {"containers": [{"name": "a", "image": "x:2"}]}})
    assert len(template_hash(template)) == 10


# ---------------------------------------------------------------- kubelet

POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
TIMINGS = PodTimings(pull=1, ready=2, crash_after=1, backoff_base=10, backoff_max=40)


def _container(fault: PodFault | None, age: float) -> dict:
    status, _next = pod_status(POD, [fault], age, TIMINGS, 0.0, 1.0)
    return status["containerStatuses"][0]


def test_healthy_pod_lifecycle() -> None:
    status, next_change = pod_status(POD, [None], 0.5, TIMINGS, 0.0, 1.0)
    assert status["phase"] == "Pending" and next_change == 1
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    status, next_change = pod_status(POD, [None], 2, TIMINGS, 0.0, 1.0)
    assert status["phase"] == "Running" and not status["containerStatuses"][0]["ready"] and next_change == 3
    status, next_change = pod_status(POD, [None], 3, TIMINGS, 0.0, 1.0)
    assert status["containerStatuses"][0]["ready"] and next_change is None
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert pod_status(POD, [None], 3, TIMINGS, 0.0, 1.0) == pod_status(POD, [None], 99, TIMINGS, 0.0, 1.0)


def test_crash_loop_counts_restarts_with_growing_backoff() -> None:
    crash = PodFault(crash_loop=True)
    assert _container(crash, 1.5)["state"]["running"]
    first_backoff = _container(crash, 2.5)
    assert (
        first_backoff["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        and first_backoff["restartCount"] == 1
    )
    assert first_backoff["lastState"]["terminated"]["exitCode"] == 1
    # runs 12–13, backs off 20 s until 33, runs until 34, backs off 40 s (the cap)…
    assert _container(crash, 12.5)["state"]["running"] and _container(crash, 12.5)["restartCount"] == 1
    assert _container(crash, 20)["restartCount"] == 2
    assert "back-off 40s" in _container(crash, 60)["state"]["waiting"]["message"]


def test_image_pull_error_then_backoff() -> None:
    pull = PodFault(image_pull_error=True)
    assert _container(pull, 2)["state"]["waiting"]["reason"] == "ErrImagePull"
    assert _container(pull, 20)["state"]["waiting"]["reason"] == "ImagePullBackOff"
    status, _ = pod_status(POD, [pull], 20, TIMINGS, 0.0, 1.0)
    assert status["phase"] == "Pending"


def test_slow_readiness() -> None:
    slow = PodFault(ready_after=30)
    assert not _container(slow, 20)["ready"]
    assert _container(slow, 31)["ready"]


# ---------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces", ApiPath("", "v1", "namespaces")),
        ("/api/v1/namespaces/prod", ApiPath("", "v1", "namespaces", None, "prod")),
        ("/api/v1/namespaces/prod/status", ApiPath("", "v1", "namespaces", None, "prod", "status")),
        ("/api/v1/namespaces/prod/pods", ApiPath("", "v1", "pods", "prod")),
        (
            "/apis/apps/v1/namespaces/prod/deployments/web/scale",
            ApiPath("apps", "v1", "deployments", "prod", "web", "scale"),
        ),
        ("/apis/apps/v1/deployments", ApiPath("apps", "v1", "deployments")),
        ("/apis/apps/v1/", ApiPath("apps", "v1")),
        ("/apis/apps", ApiPath("apps", None)),
        ("/api", ApiPath("", None)),
        ("/version", None),
    ],
)
def test_api_paths(path: str, expected: ApiPath | None) -> None:
    assert parse_api_path(path) == expected

"""The canary on plain Deployments: naming, labels, images and the annotations other tools read.

The stable Deployment ``NAME`` and the canary ``NAME-canary`` run the same pod template except the
image; both carry the Service's selector labels, so the Service spreads traffic over both in
proportion to their pod counts. Each Deployment's own selector adds ``track: stable|canary`` so the
two never claim each other's pods.
"""

# No ``from __future__ import annotations`` here: the name is taken by annotations() below.
import copy
from typing import Any

TRACK = "track"
PREFIX = "idp-console.io/"
A_VERSION = PREFIX + "version"
A_DEPLOY_ID = PREFIX + "deploy-id"
A_DEPLOYED_BY = PREFIX + "deployed-by"
A_DEPLOYED_AT = PREFIX + "deployed-at"
A_PREVIOUS = PREFIX + "previous-version"  # on the stable: what ran healthy before (success only)
A_PREVIOUS_OF = PREFIX + "previous-version-of"  # the version A_PREVIOUS was the predecessor of
A_OUTCOME = PREFIX + "outcome"
A_COMMIT = PREFIX + "commit-sha"
A_STEP = PREFIX + "step"  # on the canary: index of the step it last reached
A_PASSED_STEP = PREFIX + "passed-step"  # on the canary: index of the last step whose check passed
A_STABLE_REPLICAS = PREFIX + "stable-replicas"  # on the canary: stable's size before the deploy


def canary_name(stable_name: str) -> str:
    return f"{stable_name}-canary"


def image_tag(image: str) -> str:
    """The tag of ``registry:5000/acme/app:v1`` (``v1``), also when pinned (``…/app:v1@sha256:…``,
    how deploys pin what the registry check resolved); "" when untagged or a bare digest."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def with_tag(image: str, tag: str, digest: str = "") -> str:
    """``image`` with its tag replaced by ``tag`` (and pinned to ``digest`` if given; an old digest
    never survives a new tag: it names the old image)."""
    base = image.split("@", 1)[0]
    head, _, last = base.rpartition("/")
    name = last.split(":", 1)[0]
    tagged = f"{head}/{name}:{tag}" if head else f"{name}:{tag}"
    return f"{tagged}@{digest}" if digest else tagged


def image_digest(image: str) -> str:
    """The digest an image is pinned to (``sha256:…``), "" when it is not pinned."""
    return image.partition("@")[2]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    template = (deployment.get("spec") or {}).get("template") or {}
    return list((template.get("spec") or {}).get("containers") or [])


def deployed_version(deployment: dict[str, Any]) -> str:
    """The version a Deployment runs: its image tag (the truth), else our annotation."""
    for container in containers(deployment):
        tag = image_tag(str(container.get("image", "")))
        if tag:
            return tag
    return str(((deployment.get("metadata") or {}).get("annotations") or {}).get(A_VERSION, ""))


def set_version(
    deployment: dict[str, Any], old_version: str, new_version: str, image: str | None = None
) -> None:
    """Point the service's containers at ``new_version`` (in place).

    Containers tagged with the old version are the service's own (sidecars keep their images); if
    none is, the first container is the service. ``image`` is the full reference to run (``repo:
    new_version@sha256:…``, as the registry check resolved it). Without one, a container already on
    ``new_version`` keeps its image as it is — its pin included.
    """
    items = containers(deployment)
    own = [c for c in items if image_tag(str(c.get("image", ""))) == old_version] or items[:1]
    for container in own:
        current = str(container.get("image", ""))
        if image is not None:
            container["image"] = image
        elif image_tag(current) != new_version:
            container["image"] = with_tag(current, new_version)


def service_image(deployment: dict[str, Any], version: str) -> str | None:
    """The image of the service's container when it runs ``version`` pinned to a digest, else None
    (what a promote, rollback or roll-forward puts back to keep the pin)."""
    for container in containers(deployment):
        image = str(container.get("image", ""))
        if image_tag(image) == version and image_digest(image):
            return image
    return None


def canary_manifest(
    stable: dict[str, Any],
    *,
    version: str,
    replicas: int,
    deploy_id: str,
    stable_replicas: int,
    image: str | None = None,
) -> dict[str, Any]:
    """The canary Deployment for ``stable`` running ``version`` (the pinned ``image`` when the
    registry check resolved one) with ``replicas`` pods."""
    meta = stable.get("metadata") or {}
    spec = copy.deepcopy(stable.get("spec") or {})
    old_version = deployed_version(stable)
    selector = dict((spec.get("selector") or {}).get("matchLabels") or {})
    selector[TRACK] = "canary"
    spec["selector"] = {"matchLabels": selector}
    template = spec.setdefault("template", {})
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), TRACK: "canary"}
    spec["replicas"] = replicas
    spec.pop("paused", None)
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}, "spec": spec}
    set_version(body, old_version, version, image)
    body["metadata"] = {
        "name": canary_name(str(meta.get("name", ""))),
        "namespace": meta.get("namespace"),
        "labels": {**(meta.get("labels") or {}), TRACK: "canary"},
        "annotations": {
            A_VERSION: version,
            A_DEPLOY_ID: deploy_id,
            A_PREVIOUS: old_version,
            A_STEP: "-1",
            A_STABLE_REPLICAS: str(stable_replicas),
        },
    }
    return body


def desired_replicas(deployment: dict[str, Any]) -> int:
    value = (deployment.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def ready_replicas(deployment: dict[str, Any]) -> int:
    return int((deployment.get("status") or {}).get("readyReplicas") or 0)


def annotations(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(((deployment.get("metadata") or {}).get("annotations")) or {})


def healthy_previous(deployment: dict[str, Any]) -> str:
    """The version that ran healthy before the one this Deployment runs, as its annotations say.

    Only a successful deploy or rollback writes the pair (previous, previous-of); a failed one never
    touches it. So the pair is believed only while "previous-of" is the version running now — an
    annotation left by an older idp-console after a rollback, or an image changed by hand, is not.
    """
    notes = annotations(deployment)
    previous = notes.get(A_PREVIOUS, "")
    if previous and notes.get(A_PREVIOUS_OF) == deployed_version(deployment) != previous:
        return previous
    return ""

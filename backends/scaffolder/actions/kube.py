"""``kube:apply``: apply manifests from the workspace to an environment through a ManifestApplier."""

from __future__ import annotations

from typing import Any

import yaml

from backends.scaffolder.actions.base import Action, ActionContext, StepSkipped
from backends.scaffolder.errors import ActionFailed
from backends.scaffolder.files import GlobSet
from backends.scaffolder.kube import ApplyRefused


class KubeApply(Action):
    id = "kube:apply"
    description = "Apply Kubernetes manifests from the workspace (or inline) to an environment."
    supports_dry_run = False
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "manifestPath": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "manifest": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
            "environment": {"type": "string"},
            "optional": {"type": "boolean"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {"environment": {"type": "string"}, "applied": {"type": "array"}},
    }

    def run(self, ctx: ActionContext) -> None:
        manifests = self._manifests(ctx)
        if not manifests:
            raise ActionFailed("kube:apply: no manifests found (manifestPath / manifest)")
        applier = ctx.services.applier
        environment = ctx.input.get("environment") or next(iter(ctx.services.environments or []), None)
        if applier is None:
            raise StepSkipped(
                f"no Kubernetes backend is configured for this run; {len(manifests)} objects not applied"
            )
        if not environment:
            raise StepSkipped("no environment to apply to: add an 'environments' section to idp-console.yaml")
        ctx.log(f"Applying {len(manifests)} objects to {environment}")
        try:
            lines = applier.apply(str(environment), manifests)
        except ApplyRefused as refusal:  # a guardrail, not a failure: never optional, said as it is
            raise ActionFailed(str(refusal)) from refusal
        except Exception as error:  # noqa: BLE001 - the cluster's own error is the useful message
            if ctx.input.get("optional"):
                ctx.log(f"kube:apply failed (optional): {error}")
                return
            raise ActionFailed(f"kube:apply to {environment} failed: {error}") from error
        for line in lines:
            ctx.log(line)
        ctx.output("environment", str(environment))
        ctx.output("applied", list(lines))

    def _manifests(self, ctx: ActionContext) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        inline = ctx.input.get("manifest")
        if isinstance(inline, dict):
            found.append(inline)
        elif isinstance(inline, list):
            found.extend(inline)
        patterns = ctx.input.get("manifestPath") or []
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        if patterns:
            globs = GlobSet(patterns, dot=True)
            for path in ctx.files.walk():
                if path.is_file() and globs.matches(ctx.files.relative(path)):
                    try:
                        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
                    except yaml.YAMLError as error:
                        raise ActionFailed(f"{ctx.files.relative(path)}: invalid YAML: {error}") from error
                    found.extend(d for d in documents if isinstance(d, dict))
        return found

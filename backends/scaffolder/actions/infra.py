"""``infra:request``: a new service's ``resources.yaml`` proposed to the workspace's infra repository.

The golden path's database choice becomes ``spec.database`` and the compute defaults its
``spec.compute``; the file goes through the same change request as ``idp-console infra request``
(a branch and ``refs/pull/<n>/head``, or a GitHub / GitLab request with ``infra.forge``), with its
plan — cost and policy verdicts — as the description. A workspace without ``infra:`` skips the step
and says so. The plan is made without reading the cluster: a service that is only being created has
nothing there yet, and the step must not depend on a cluster being reachable.
"""

from __future__ import annotations

from typing import Any

import yaml

from backends.scaffolder.actions.base import Action, ActionContext, StepSkipped
from backends.scaffolder.errors import ActionFailed

DATABASE_TYPES = ("postgres", "mysql")  # what backends/infra provisions (resources.DATABASE_TYPES)


def resources_yaml(name: str, owner: str, *, database: str, replicas: int, cpu: str, memory: str) -> str:
    """The ``ServiceResources`` file, in the flow style the README shows."""
    spec = [f'  compute:  {{replicas: {replicas}, cpu: "{cpu}", memory: "{memory}"}}']
    if database in DATABASE_TYPES:
        spec.append(f"  database: {{type: {database}, size: small}}")
    header = yaml.safe_dump(
        {"apiVersion": "platform.internal/v1", "kind": "ServiceResources",
         "metadata": {"name": name, "owner": owner}},
        sort_keys=False,
    )  # fmt: skip
    return header + "spec:\n" + "\n".join(spec) + "\n"


class InfraRequest(Action):
    id = "infra:request"
    description = "Propose the service's resources.yaml to the infra repository (a change request)."
    supports_dry_run = False
    # A retry opens another request (the next number): the first one may already be under review.
    idempotent = False
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "owner"],
        "properties": {
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "database": {"type": "string"},
            "replicas": {"type": "integer", "minimum": 1},
            "cpu": {"type": "string"},
            "memory": {"type": "string"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "number": {"type": "number", "examples": [0]},
            "branch": {"type": "string", "examples": ["infra/<example>-1"]},
            "ref": {"type": "string", "examples": ["refs/pull/0/head"]},
            "url": {"type": "string", "examples": ["<example>"]},
        },
    }

    def run(self, ctx: ActionContext) -> None:
        from backends.infra.apply import InfraError, open_infra
        from backends.infra.repo import InfraRepoError
        from backends.infra.resources import InfraInputError

        workspace = ctx.services.workspace
        if workspace is None or workspace.typed.infra is None:
            raise StepSkipped(
                "No infra: section in idp-console.yaml: no resources.yaml is requested "
                "(the service's infrastructure is not managed by pull request here)"
            )
        name, owner = str(ctx.input["name"]), str(ctx.input["owner"])
        database = str(ctx.input.get("database") or "none")
        if database not in (*DATABASE_TYPES, "none"):
            ctx.log(
                f"Database {database}: the infra repository provisions {', '.join(DATABASE_TYPES)} only; "
                "no spec.database requested"
            )
        text = resources_yaml(
            name, owner, database=database, replicas=int(ctx.input.get("replicas") or 2),
            cpu=str(ctx.input.get("cpu") or "100m"), memory=str(ctx.input.get("memory") or "256Mi"),
        )  # fmt: skip
        try:
            with open_infra(workspace) as session:
                file = f"{session.settings.path.strip('/')}/{name}/resources.yaml".lstrip("/")
                ctx.log(f"Proposing {file} to {session.settings.repo}")
                request = session.request(name, text, live=False)
        except (InfraError, InfraRepoError, InfraInputError) as error:
            raise ActionFailed(str(error)) from None
        where = request.url or f"branch {request.branch} ({request.ref})"
        ctx.log(f"Change request #{request.number}: {where}")
        self._report(ctx, request.plan)
        ctx.output("number", request.number)
        ctx.output("branch", request.branch)
        ctx.output("ref", request.ref)
        ctx.output("url", request.url)

    def _report(self, ctx: ActionContext, plan: Any) -> None:
        for service in plan.services:
            ctx.log(f"Cost: {service.cost_before:,.2f} → {service.cost_after:,.2f} /month")
        denied = [v for v in plan.verdicts if v.outcome == "deny"]
        for verdict in plan.verdicts:
            if verdict.outcome != "pass":
                ctx.log(f"Policy {verdict.policy} ({verdict.outcome}): {verdict.message}")
        if denied:
            ctx.log("Its plan is denied: fix resources.yaml on the request's branch before it is merged")
        else:
            ctx.log(f"Plan clean: {len(plan.verdicts)} policy verdict(s), none denies; merge applies it")

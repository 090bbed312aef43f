"""The golden path's platform steps: the image's name, database passwords, the first CI run.

``registry:image`` names the service's image in the workspace's registry (``registry.host``);
``database:credentials`` generates one database password per environment into the platform's
secret store (never shown; the first deploy to an environment puts it in the database Secret);
``ci:first-build`` tags the first version in the service's repository and — in the demo, where
there is no CI — records its image in the demo registry, saying that the CI run was simulated.
"""

from __future__ import annotations

import secrets as random_secrets
from typing import Any

import git

from backends.registry import FileRegistry, RegistryError, RegistrySettings
from backends.scaffolder.actions.base import Action, ActionContext, StepSkipped
from backends.scaffolder.errors import ActionFailed

FALLBACK_REGISTRY = "registry.local"


def database_secret_name(service: str, environment: str) -> str:
    """The platform secret holding ``service``'s database password in ``environment``."""
    return f"database/{service}/{environment}"


class RegistryImage(Action):
    id = "registry:image"
    description = "Name the service's image in the workspace's registry: <registry>/<owner>/<name>."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"owner": {"type": "string"}, "name": {"type": "string"}},
    }
    output_schema = {"type": "object", "properties": {"image": {"type": "string"}}}

    def run(self, ctx: ActionContext) -> None:
        settings = ctx.services.registry_settings
        if settings is None:
            settings = RegistrySettings(host=FALLBACK_REGISTRY, url="")
            ctx.log(
                f"No registry in idp-console.yaml (registry.host): images are named {FALLBACK_REGISTRY}/…"
            )
        image = settings.image_repository(str(ctx.input.get("owner") or ""), str(ctx.input["name"]))
        ctx.log(f"Images of this service: {image}:<version>")
        ctx.output("image", image)


class DatabaseCredentials(Action):
    id = "database:credentials"
    description = "Generate a database password per environment into the platform's secret store."
    supports_dry_run = False
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    }
    output_schema = {"type": "object", "properties": {"secrets": {"type": "array"}}}

    def run(self, ctx: ActionContext) -> None:
        from backends.secrets import SecretStoreError, platform_secret_store

        environments = ctx.services.environments
        if not environments:
            raise StepSkipped("no environments in idp-console.yaml: no database to prepare")
        store = platform_secret_store()
        names = []
        for environment in environments:
            name = database_secret_name(str(ctx.input["name"]), environment)
            existing = store.get(name)
            if existing:  # a retried run keeps the password a database may already use
                ctx.add_secret(existing)
                ctx.log(f"{environment}: keeping the database password stored as {name}")
            else:
                password = random_secrets.token_urlsafe(24)
                ctx.add_secret(password)  # whatever prints it from now on shows it withheld
                try:
                    store.set(name, password)
                except SecretStoreError as error:
                    raise ActionFailed(f"cannot store the database password: {error}") from error
                ctx.log(f"{environment}: generated the database password, stored as {name} (never shown)")
            names.append(name)
        ctx.output("secrets", names)


class FirstBuild(Action):
    id = "ci:first-build"
    description = "Tag the first version; in the demo, simulate the CI run that pushes its image."
    supports_dry_run = False
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["remoteUrl", "commit", "image", "version"],
        "properties": {
            "remoteUrl": {"type": "string"},
            "commit": {"type": "string"},
            "image": {"type": "string"},
            "version": {"type": "string"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "version": {"type": "string"},
            "imageRef": {"type": "string"},
            "firstEnvironment": {"type": "string"},
            "lastEnvironment": {"type": "string"},
        },
    }

    def run(self, ctx: ActionContext) -> None:
        version, image = str(ctx.input["version"]), str(ctx.input["image"])
        self._tag(ctx, version)
        registry = ctx.services.registry
        if isinstance(registry, FileRegistry):
            try:
                registry.push(image, version)
            except RegistryError as error:
                raise ActionFailed(str(error)) from error
            ctx.log(
                f"Simulated CI run (the demo has no CI): built and pushed {image}:{version} to the demo "
                "registry — a real workspace's CI does this when the tag is pushed"
            )
        elif registry is not None:
            ctx.log(f"CI builds and pushes {image}:{version} now that the tag is pushed")
        environments = ctx.services.environments or ["ENV"]
        ctx.output("version", version)
        ctx.output("imageRef", f"{image}:{version}")
        ctx.output("firstEnvironment", environments[0])
        ctx.output("lastEnvironment", environments[-1])

    def _tag(self, ctx: ActionContext, version: str) -> None:
        """Push the tag ``version`` at the published commit (what a release does; CI builds tags)."""
        from backends.git.publish import _GIT, sandboxed_environment

        published: dict[str, dict[str, Any]] = ctx.task_state.get("published", {})
        remote = str(ctx.input["remoteUrl"])
        token = next((r.get("token") for r in published.values() if r.get("remote") == remote), None)
        source = ctx.files.root
        env = sandboxed_environment(str(token) if token else None)
        try:
            runner = git.Git(str(source))
            runner.execute(
                [*_GIT, "push", "-q", remote, f"{ctx.input['commit']}:refs/tags/{version}"], env=env
            )
        except (git.GitCommandError, git.NoSuchPathError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            raise ActionFailed(f"cannot tag {version} in {remote}: {str(detail).strip()}") from error
        ctx.log(f"Tagged {str(ctx.input['commit'])[:12]} as {version} in {remote}")

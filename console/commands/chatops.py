"""``idp-console serve-chatops``: the platform verbs as Slack slash commands.

The protocol, identity, guardrails and audit are :mod:`backends.chatops`; this module gives the
server what the verbs do — the deploy engine (the same check-mark lines as the CLI, through its
TextPrinter) and the scaffolder's default golden path — and reads the secrets: the signing secret
``SLACK_SIGNING_SECRET`` and, optionally, the bot token ``SLACK_BOT_TOKEN`` (email lookup), from the
keyring or ``IDP_CONSOLE_SECRET_<NAME>``.

A change asked for in chat runs in a detached runner, as the CLI's and the TUI's do, so stopping or
losing this server never interrupts it; its progress comes from attaching to the runner. The runner
acts in the name of the catalog User the Slack account maps to (so the deploy history and the
production rules see that person, not the bastion account the server runs as), through an identity
session only this account can open (see backends.deploy.runner._act_for).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from console.commands import CommandError, mutating, workspace_from_args

SIGNING_SECRET = "SLACK_SIGNING_SECRET"
BOT_TOKEN = "SLACK_BOT_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve-chatops",
        help="serve Slack slash commands (/platform deploy …) with Slack's signing-secret check",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="default 127.0.0.1:8080"
    )
    parser.set_defaults(handler=_serve)
    mutating(parser)


class _Lines:
    """A file for the CLI's TextPrinter that hands each finished line to the chat reply."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if line.strip():
                self.reply.line(line)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class PlatformActions:
    """What each verb does when chat asks (the server's ``execute``)."""

    def __init__(self, workspace: Any, session: Any, catalog: Any) -> None:
        self.workspace = workspace
        self.session = session
        self.catalog = catalog
        self._scaffold_lock = threading.Lock()

    def __call__(self, command: Any, user: str | None, reply: Any) -> str:
        from backends.commands.grammar import CreateService, Deploy, Rollback, Scale, Status

        if isinstance(command, Status):
            return self._status(command, reply)
        assert user is not None  # the guard let no unknown user through to a change
        if isinstance(command, CreateService):
            return self._create_service(command, user, reply)
        if isinstance(command, Deploy | Rollback | Scale):
            return self._change(command, user, reply)
        raise ValueError(f"not a runnable command: {command.verb}")

    # -- deploy / rollback / scale ---------------------------------------------------------------
    def _change(self, command: Any, user: str, reply: Any) -> str:
        from backends.deploy.attach import RunnerError
        from backends.deploy.prechecks import DeployRefused
        from backends.identity import close_session, open_session

        # The runner acts for ``user`` through an identity session only this account can open.
        token = open_session(user)
        try:
            try:
                run = self._start(command, token)
            except (DeployRefused, RunnerError) as error:
                reply.line(f"✗ {error}")
                return f"refused: {error}"
            try:
                return self._follow(command, run, reply)
            finally:
                reply.server.controls.drop_run(run)
        finally:
            # The runner read who it acts for when it started; a server killed before this line
            # leaves the file in its private directory, which nobody else can use.
            close_session(token)

    def _start(self, command: Any, session: str) -> Any:
        """Start ``command`` in a detached runner (like the CLI and the TUI): stopping or losing this
        server never interrupts a canary; the runner records ``session``'s user as who changed it."""
        from backends.commands.grammar import Deploy, Rollback
        from backends.deploy.attach import DetachedEngine
        from backends.deploy.prechecks import check_version

        workspace = None if self.workspace.is_demo else str(self.workspace.root)
        engine = DetachedEngine(
            self.session.engine, workspace, deploy=self.workspace.section("deploy"), session=session
        )
        if isinstance(command, Deploy):
            check_version(command.version)
            return engine.deploy(command.service, command.env, command.version)
        if isinstance(command, Rollback):
            if command.to:
                check_version(command.to)
            return engine.rollback(command.service, command.env, command.to)
        self._check_ceiling(command)
        return engine.scale(command.service, command.env, command.replicas)

    def _follow(self, command: Any, run: Any, reply: Any) -> str:
        """The runner's events as the CLI's lines in the reply (attached to its socket)."""
        from backends.deploy.attach import RunnerError
        from backends.deploy.events import DeployFinished, Paused
        from console.commands.deploy import TextPrinter

        printer = TextPrinter(command.service, _Lines(reply))  # type: ignore[arg-type]
        outcome = "interrupted"
        try:
            for event in run.events():
                printer(event)
                if isinstance(event, Paused) and event.needs_decision:
                    reply.paused(run, event.reason)
                if isinstance(event, DeployFinished):
                    outcome = str(event.outcome)
        except RunnerError as error:
            reply.line(f"✗ {error}")
            return f"interrupted: {error}"
        return outcome

    def _check_ceiling(self, command: Any) -> None:
        from backends.deploy.config import DeployConfigError, parse_deploy_settings
        from backends.deploy.prechecks import DeployRefused, above_ceiling, check_replicas

        check_replicas(command.replicas)
        try:
            settings = parse_deploy_settings(self.workspace.section("deploy"), command.service)
        except DeployConfigError as error:
            raise DeployRefused(f"idp-console.yaml: {error}") from error
        reason = above_ceiling(command.replicas, settings)
        if reason:
            raise DeployRefused(f"{reason}: chat cannot confirm that; use the CLI or the TUI")

    # -- status ----------------------------------------------------------------------------------
    def _status(self, command: Any, reply: Any) -> str:
        from backends.deploy.prechecks import DeployRefused
        from backends.kube.cluster import ClusterError

        environments = [command.env] if command.env else list(self.workspace.section("environments"))
        failed = False
        for env in environments:
            try:
                status = self.session.engine.status(command.service, env)
            except (DeployRefused, ClusterError) as error:
                reply.line(f"✗ {command.service} in {env}: {error}")
                failed = True
                continue
            for line in status_lines(status):
                reply.line(line)
        return "failed" if failed else "answered"

    # -- create-service --------------------------------------------------------------------------
    def _create_service(self, command: Any, user: str, reply: Any) -> str:
        from backends.scaffolder.actions import Services
        from backends.scaffolder.backstage_runner import task_runner
        from backends.scaffolder.errors import PrecheckError, ScaffolderError, TemplateError
        from backends.scaffolder.events import StepFinished, TaskFinished, TaskStarted
        from backends.scaffolder.form import FormModel
        from backends.scaffolder.template import TemplateLibrary
        from backends.secrets import default_secret_store
        from console.commands.platform import default_golden_path
        from console.commands.scaffold import STATUS_MARK, _applier

        with self._scaffold_lock:  # the catalog registration of one run at a time
            try:
                template = TemplateLibrary.discover(self.workspace, self.catalog).find(
                    default_golden_path(self.workspace)
                )
            except TemplateError as error:
                reply.line(f"✗ {error}")
                return f"refused: {error}"
            form = FormModel(template, catalog=self.catalog, user=user)
            for key in ("name", "language", "owner"):
                form.set_text(key, getattr(command, key))
            problems = [f"{f.name}: missing" for f in form.missing_required()]
            problems += [f"{name}: {why}" for name, why in form.errors().items()]
            if problems:
                reply.line("✗ invalid values: " + "; ".join(problems))
                return "refused: invalid values"
            services = Services.from_workspace(
                self.workspace,
                catalog=self.catalog,
                applier=_applier(self.workspace),
                secret_store=default_secret_store(),
            )
            try:
                task = task_runner(self.workspace, services).create_task(
                    template, form.parameters(), form.secrets(), user=user
                )
            except (PrecheckError, ScaffolderError) as error:
                reply.line(f"✗ {error}")
                return f"refused: {error}"
            names: dict[str, str] = {}
            status = "failed"
            for event in task.run():
                if isinstance(event, TaskStarted):
                    names = {step.id: step.name for step in event.steps}
                elif isinstance(event, StepFinished):
                    mark = STATUS_MARK.get(event.status, "?")
                    why = f": {event.error}" if event.error else ""
                    reply.line(f"{mark} {names.get(event.step_id, event.step_id)}{why}")
                elif isinstance(event, TaskFinished):
                    status = str(event.status)
                    reply.line(f"✓ {command.name} created" if status == "completed" else f"✗ Task {status}")
            return status


def status_lines(status: Any) -> list[str]:
    """A service in one environment, in a few lines (the CLI's status, shortened for chat)."""
    lines = [f"{status.service} in {status.environment}:"]
    for track, workload in (("stable", status.stable), ("canary", status.canary)):
        if workload is None:
            if track == "stable":
                lines.append("  stable — no Deployment")
            continue
        icon = "✓" if workload.rollout_done else "✗" if workload.rollout_failed else "…"
        lines.append(f"  {icon} {track} {workload.version} {workload.ready}/{workload.desired} ready")
    if status.rollback_to:
        lines.append(f"  rollback available to {status.rollback_to}")
    return lines


def build_server(workspace: Any, signing_secret: str, *, bot_token: str | None = None) -> Any:
    """The chat server for ``workspace``, not yet listening (tests and the bench call this too)."""
    from backends.catalog import load_catalog
    from backends.chatops.audit import ChatAudit
    from backends.chatops.identity import SlackDirectory, slack_email_lookup
    from backends.chatops.server import ChatOpsServer
    from backends.chatops.slack import make_verifier
    from backends.deploy.session import open_deploy

    catalog = load_catalog(workspace)
    session = open_deploy(workspace, catalog=catalog)
    directory = SlackDirectory(
        catalog.entities, email_of=slack_email_lookup(bot_token) if bot_token else None
    )
    server = ChatOpsServer(
        make_verifier(signing_secret),
        directory,
        catalog,
        workspace.section("environments"),
        PlatformActions(workspace, session, catalog),
        ChatAudit(session.context.history.store),
    )
    server.session = session  # type: ignore[attr-defined]
    return server


def _serve(args: argparse.Namespace) -> int:
    from backends.secrets import default_secret_store
    from console.commands.serve_ssh import parse_listen

    host, port = parse_listen(args.listen)
    store = default_secret_store()
    secret = store.get(SIGNING_SECRET)
    if not secret:
        raise CommandError(
            f"no Slack signing secret: set {SIGNING_SECRET} in the keyring or "
            f"IDP_CONSOLE_SECRET_{SIGNING_SECRET}"
        )
    workspace = workspace_from_args(args)
    server = build_server(workspace, secret, bot_token=store.get(BOT_TOKEN))
    try:
        bound = server.listen(host, port)
    except OSError as error:
        raise CommandError(f"cannot listen on {args.listen}: {error}") from error
    print(f"idp-console serve-chatops: listening on {bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        server.session.close()
    return 0

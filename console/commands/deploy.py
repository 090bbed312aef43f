"""``idp-console deploy | rollback | scale | status``: the deploy engine from the command line.

Text output prints one line per stage as it really completes (``✓``, or ``✗`` with the reason and
the rollback that followed), the run's log lines under them (the digest a version is pinned to, the
objects a first deploy created; dimmed on a terminal) and its warnings (``warning: …``);
``--output json`` prints every engine event as one JSON object per line. Production needs a typed
confirmation (the service name) unless ``--yes``; without a terminal and without ``--yes`` it is
refused; so is scaling above ``deploy.max_replicas``. Bad input (a version that is not an image
tag, an impossible replica count, a malformed config) is refused with one line before any API call.
Exit codes: 0 done, 1 deploy failed/rolled back, 2 refused (pre-checks: nothing was changed,
nothing recorded) or usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Generator, Iterator
from typing import IO, Any

from backends.kube.age import kubectl_age
from console.commands import CommandError, mutating, workspace_from_args

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_DETACHED = 130  # ctrl+c while watching a detached run: the shell's code for SIGINT; the run goes on


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``deploy``, ``rollback``, ``scale`` and ``status``."""
    deploy = subparsers.add_parser(
        "deploy",
        help="canary-deploy a service version to an environment",
        description="Canary deploy: 5% → analysis → 25% → 50% → 100% (steps from the deploy: config), "
        "rolled back automatically when the canary fails.",
    )
    deploy.add_argument("service", help="catalog Component name or ref")
    _common(deploy)
    deploy.add_argument("--version", help="the version (image tag) to deploy")
    deploy.add_argument("--commit", metavar="SHA", help="commit SHA of the version, kept in the history")
    deploy.add_argument("--commit-time", metavar="ISO8601", help="when that commit was made (for lead time)")
    deploy.add_argument(
        "--skip-image-check",
        action="store_true",
        help="emergencies only: deploy without asking the registry for the tag (by tag, not pinned to a "
        "digest); recorded in the deploy's history",
    )
    recovery = deploy.add_mutually_exclusive_group()
    recovery.add_argument("--resume", action="store_true", help="resume this service's interrupted deploy")
    recovery.add_argument(
        "--abort", action="store_true", help="roll back this service's running or interrupted deploy"
    )
    recovery.add_argument(
        "--attach", action="store_true", help="watch (and steer) this service's running deploy"
    )
    deploy.add_argument(
        "--on-inconclusive",
        choices=("ask", "promote", "abort"),
        default="ask",
        help="when the analysis has no data: ask on the terminal (default; abort without one), or decide now",
    )
    deploy.set_defaults(handler=_deploy)
    mutating(deploy)

    rollback = subparsers.add_parser("rollback", help="return a service to an earlier version")
    rollback.add_argument("service")
    _common(rollback)
    rollback.add_argument(
        "--to", metavar="VERSION", help="default: the last version that finished healthy within 72 h"
    )
    rollback.add_argument(
        "--force", action="store_true", help="roll back to --to even though that version failed here"
    )
    rollback.add_argument(
        "--skip-image-check",
        action="store_true",
        help="emergencies only: roll back without asking the registry for the tag (by tag, not pinned)",
    )
    rollback.set_defaults(handler=_rollback)
    mutating(rollback)

    scale = subparsers.add_parser("scale", help="set how many pods a service runs")
    scale.add_argument("service")
    _common(scale)
    scale.add_argument("--replicas", type=int, required=True, metavar="N")
    scale.set_defaults(handler=_scale)
    mutating(scale)

    status = subparsers.add_parser(
        "status", help="what runs where: every service × environment, or one service in one environment"
    )
    status.add_argument("service", nargs="?", help="one service (default: every service)")
    status.add_argument("--env", metavar="ENV", help="one environment from idp-console.yaml (default: all)")
    status.add_argument("--context", help="kube context to use instead of the environment's")
    status.add_argument("--kubeconfig", help="kubeconfig instead of $KUBECONFIG / ~/.kube/config")
    status.add_argument("--output", choices=("text", "json"), default="text")
    status.set_defaults(handler=_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, metavar="ENV", help="environment from idp-console.yaml")
    parser.add_argument("--yes", action="store_true", help="skip the typed confirmation production asks for")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="json: one event per line")
    parser.add_argument("--context", help="kube context to use instead of the environment's (as kubectl)")
    parser.add_argument("--kubeconfig", help="kubeconfig instead of $KUBECONFIG / ~/.kube/config")
    parser.add_argument(
        "--foreground",
        action="store_true",
        help="run in this process instead of a detached runner (closing the terminal then interrupts it)",
    )


# -- session --------------------------------------------------------------------------------------


def _session(args: argparse.Namespace, workspace: Any = None) -> Any:
    from backends.deploy.session import SIMULATED_BANNER, open_deploy
    from backends.kube.environments import with_cluster_override

    workspace = workspace or workspace_from_args(args)
    environments = with_cluster_override(
        workspace.section("environments"), args.env, context=args.context, kubeconfig=args.kubeconfig
    )
    env = environments.get(args.env)
    workspace.raw = {**workspace.raw, "environments": environments}
    session = open_deploy(workspace)
    if isinstance(env, dict) and env.get("cluster") == "simulated":
        print(SIMULATED_BANNER, file=sys.stderr, flush=True)
    return session


def _engine(session: Any, args: argparse.Namespace) -> Any:
    """The engine that performs changes: a detached runner per run (it outlives this process, the
    terminal and the SSH connection), or this process with ``--foreground``."""
    if args.foreground:
        return session.engine
    from backends.deploy.attach import DetachedEngine

    workspace = os.path.abspath(args.workspace) if args.workspace else None
    return DetachedEngine(session.engine, workspace, context=args.context, kubeconfig=args.kubeconfig)


def _started(start: Any) -> Any:
    """``start()`` a run; a runner that cannot start or refuses is one line, exit 2."""
    from backends.deploy.attach import RunnerError
    from backends.deploy.prechecks import DeployRefused

    try:
        return start()
    except (DeployRefused, RunnerError) as error:
        raise CommandError(str(error), EXIT_USAGE) from error


def _environment(session: Any, name: str) -> Any:
    from backends.deploy.prechecks import DeployRefused

    try:
        return session.context.environment(name)
    except DeployRefused as error:
        raise CommandError(str(error), EXIT_USAGE) from error


def _confirm(args: argparse.Namespace, environment: Any, action: str) -> None:
    """Production: the user types the service name, unless --yes; no terminal and no --yes → refuse."""
    if not environment.production or args.yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(
            f"{environment.name} is production: confirm by typing the service name in a terminal, "
            "or pass --yes",
            EXIT_USAGE,
        )
    print(f"This will {action} in {environment.name.upper()}.", file=sys.stderr)
    answer = input(f"Type the service name ({args.service}) to confirm: ").strip()
    if answer != args.service:
        raise CommandError("confirmation did not match; nothing was changed", EXIT_USAGE)


def _check_version(version: str | None) -> None:
    """An image tag or nothing: refused here, before a session starts or a cluster is asked."""
    from backends.deploy.prechecks import DeployRefused, check_version

    if version is None:
        return
    try:
        check_version(version)
    except DeployRefused as error:
        raise CommandError(str(error), EXIT_USAGE) from error


def _confirm_replicas(args: argparse.Namespace, workspace: Any) -> None:
    """An impossible count is refused; one above ``deploy.max_replicas`` needs typing it (or --yes)."""
    from backends.catalog.refs import EntityRefError, parse_entity_ref
    from backends.deploy.config import DeployConfigError, parse_deploy_settings
    from backends.deploy.prechecks import DeployRefused, above_ceiling, check_replicas

    try:
        check_replicas(args.replicas)
    except DeployRefused as error:
        raise CommandError(f"--{error}", EXIT_USAGE) from error
    try:
        name = parse_entity_ref(args.service, default_kind="Component").name
    except EntityRefError:
        name = args.service  # the pre-checks refuse it with their own words
    try:
        reason = above_ceiling(args.replicas, parse_deploy_settings(workspace.section("deploy"), name))
    except DeployConfigError as error:
        raise CommandError(f"idp-console.yaml: {error}", EXIT_USAGE) from error
    if reason is None or args.yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(f"{reason}: confirm by typing the number in a terminal, or pass --yes", EXIT_USAGE)
    print(f"{args.service}: {reason}.", file=sys.stderr)
    answer = input(f"Type the number of pods ({args.replicas}) to confirm: ").strip()
    if answer != str(args.replicas):
        raise CommandError("confirmation did not match; nothing was changed", EXIT_USAGE)


# -- printing -------------------------------------------------------------------------------------


class TextPrinter:
    """Turns engine events into the human lines of the issue, one per completed stage.

    The events are folded by the deploy stream's one reducer (:class:`RunModel`, which the TUI's
    watch view reads too); this class only decides which of them deserve a line, and its words.
    """

    def __init__(self, service: str, out: IO[str], *, log_lines: bool = False) -> None:
        from backends.deploy.reducer import RunModel

        self.service = service
        self.out = out
        self.tty = out.isatty()
        # The run's info lines (the digest a version is pinned to, the objects a first deploy
        # created): the terminal shows them; a chat reply keeps to the stage lines.
        self.log_lines = log_lines
        self.dim = self.tty and not os.environ.get("NO_COLOR")
        self.model = RunModel(service, "")
        self.routed: list[int] = []  # weights routed after the first step: one progress line
        self.failure_shown = False

    # What the printed lines need, read from the shared model.
    @property
    def version(self) -> str:
        return self.model.to_version

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def steps(self) -> tuple[int, ...]:
        return self.model.weights

    @property
    def bakes(self) -> tuple[float, ...]:
        return self.model.bakes

    @property
    def from_version(self) -> str:
        return self.model.from_version

    @property
    def environment(self) -> str:
        return self.model.environment

    def line(self, text: str) -> None:
        if self.tty and self.routed and not text.startswith("… "):
            self.out.write("\r\x1b[K")  # replace the in-progress rollout line
        print(text, file=self.out, flush=True)

    def __call__(self, event: Any) -> None:
        from backends.deploy.config import format_duration
        from backends.deploy.events import (
            AnalysisResult,
            DeployFinished,
            LogLine,
            Outcome,
            Stage,
            StageFinished,
            StageStarted,
            Verdict,
        )

        self.model.apply(event)
        if isinstance(event, StageFinished):
            if event.stage is Stage.PRECHECKS:
                if event.ok:
                    self.line("✓ Running pre-deployment checks...")
                else:
                    self.line(f"✗ Pre-deployment checks failed: {event.detail}")
                    self.failure_shown = True
            elif event.stage is Stage.UPDATE and event.ok:
                self.line("✓ Updating Kubernetes deployment...")
            elif event.stage is Stage.CANARY and event.ok and event.step is not None:
                weight = self.steps[event.step] if event.step < len(self.steps) else 0
                if event.step == 0 and "requested" in event.detail:
                    # The pods cannot carry the share asked for: the real one ("1 of 5 pods (20%)").
                    self.line(f"✓ Canary: {event.detail}")
                elif event.step == 0:
                    self.line(f"✓ Canary: {weight}% traffic routed to {self.version}")
                else:
                    self.routed.append(weight)
                    if self.tty and weight < 100:
                        progress = " → ".join(f"{w}%" for w in self.routed)
                        self.out.write(f"\r\x1b[K… Progressive rollout: {progress}")
                        self.out.flush()
            elif event.stage is Stage.ANALYSIS and not event.ok:
                self.line(f"✗ Canary: {event.detail}")
                self.failure_shown = True
            elif event.stage is Stage.PROMOTE and event.ok and self.routed:
                self.line("✓ Progressive rollout: " + " → ".join(f"{w}%" for w in self.routed))
            elif event.stage is Stage.ROLLBACK:
                if not event.ok:
                    self.line(f"✗ Rollback failed: {event.detail}")
                elif self.kind == "rollback":
                    self.line(
                        f"✓ Rolled back {self.service}: {self.from_version} → {self.version} ({event.detail})"
                    )
                else:
                    self.line(f"↩ Rolled back: {event.detail}")
            elif event.stage is Stage.SCALE:
                self.line(
                    f"{'✓' if event.ok else '✗'} Scaled {self.service} in {self.environment}: {event.detail}"
                )
        elif isinstance(event, AnalysisResult) and event.step == 0:
            if event.check == "pods-ready" and event.verdict is Verdict.PASSED:
                bake = format_duration(self.bakes[0]) if self.bakes else "?"
                self.line(f"✓ Canary: Health checks passing ({bake})")
            elif event.check == "error-rate" and event.verdict is Verdict.PASSED:
                self.line("✓ Canary: Error rate within threshold")
        elif isinstance(event, AnalysisResult) and event.verdict is Verdict.INCONCLUSIVE:
            self.line(f"? Canary: {event.check} inconclusive: {event.detail}")
        elif isinstance(event, StageStarted) and event.stage is Stage.ROLLBACK and self.kind != "rollback":
            if not self.failure_shown:
                self.line(f"✗ {event.detail}")
                self.failure_shown = True
        elif isinstance(event, LogLine):
            self._log(event.message, event.level)
        elif isinstance(event, DeployFinished):
            self._finished(event, Outcome)

    def _log(self, message: str, level: str) -> None:
        """A log line of the run: a warning or error always, marked as such; info when asked for,
        indented under the stage lines and dimmed on a terminal."""
        if level != "info":
            self.line(f"{level}: {message}")
        elif self.log_lines:
            self.line(f"\x1b[2m  {message}\x1b[22m" if self.dim else f"  {message}")

    def _finished(self, event: Any, outcome: Any) -> None:
        if event.outcome is outcome.SUCCEEDED:
            if self.kind == "deploy":
                self.line(f"✓ Deployment complete. Rollback available for {event.rollback_hours}h.")
            elif self.kind == "rollback":
                self.line("✓ Rollback complete.")
        elif event.outcome is outcome.ROLLED_BACK:
            self.line(f"✗ Deployment failed: {event.reason}. {self.service} is back on {event.version}.")
        elif event.outcome is outcome.ABORTED:
            self.line(f"✗ Deployment aborted: {event.reason}. {self.service} is back on {event.version}.")
        elif event.outcome is outcome.INTERRUPTED or not self.failure_shown:
            self.line(f"✗ {event.reason}")


class JsonPrinter:
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: Any) -> None:
        from backends.deploy.events import event_to_dict

        data = {key: _finite(value) for key, value in event_to_dict(event).items()}
        print(json.dumps(data, default=str, ensure_ascii=False), file=self.out, flush=True)


def _finite(value: Any) -> Any:
    """NaN and infinities as null: ``NaN`` is not JSON, and a script reading it would choke."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _drive(run: Any, printer: Any, args: argparse.Namespace, decision: str = "ask") -> int:
    """Iterate the run, printing events; answer pauses; the exit code from its outcome."""
    from backends.deploy.events import DeployFinished, Outcome, Paused, Stage, StageFinished

    outcome = None
    refused = False
    events: Generator[Any, None, None] = run.events()
    try:
        for event in _until_runner_dies(events, args):
            printer(event)
            if getattr(run, "refusal", None):  # its runner refused what this command asked for
                events.close()
                raise CommandError(f"{run.refusal}; the deploy goes on", EXIT_USAGE)
            if isinstance(event, Paused) and event.needs_decision:
                _decide(run, event, decision)
            if isinstance(event, StageFinished) and event.stage is Stage.PRECHECKS and not event.ok:
                refused = True  # nothing was changed: a refusal, not a failed deploy
            if isinstance(event, DeployFinished):
                outcome = event.outcome
    except KeyboardInterrupt:
        events.close()
        if _is_detached(run):  # the run goes on in its runner: this only stops watching
            print(
                f"idp-console: detached; {run.deploy_id} goes on in its runner. Watch it with "
                f"`idp-console deploy {args.service} --env {args.env} --attach`, stop it with `--abort`",
                file=sys.stderr,
            )
            return EXIT_DETACHED
        # in this process (--foreground): the deploy is left interrupted, canary and history as they are
        if run.kind == "deploy":
            print(
                "idp-console: interrupted; continue with "
                f"`idp-console deploy {args.service} --env {args.env} --resume` or roll back with `--abort`",
                file=sys.stderr,
            )
        raise
    if refused:
        return EXIT_USAGE
    return EXIT_OK if outcome is Outcome.SUCCEEDED else EXIT_FAILED


def _is_detached(run: Any) -> bool:
    from backends.deploy.attach import RemoteRun

    return isinstance(run, RemoteRun)


def _until_runner_dies(events: Iterator[Any], args: argparse.Namespace) -> Iterator[Any]:
    """The run's events; a runner that died mid-run is one line (the deploy is interrupted)."""
    from backends.deploy.attach import RunnerError

    try:
        yield from events
    except RunnerError as error:
        raise CommandError(
            f"{error}; it is interrupted: `idp-console deploy {args.service} --env {args.env} --resume` "
            "or `--abort` (an `idp-console agent` adopts it by policy)",
            EXIT_FAILED,
        ) from error


def _decide(run: Any, event: Any, decision: str) -> None:
    """Inconclusive analysis: ask a person; never pass silently."""
    if decision == "ask" and sys.stdin.isatty():
        while True:
            answer = input(f"? {event.reason} — [p]romote or [a]bort? ").strip().lower()
            if answer in ("p", "promote"):
                run.promote()
                return
            if answer in ("a", "abort"):
                run.abort("aborted after an inconclusive analysis")
                return
    if decision == "promote":
        run.promote()
        return
    why = "--on-inconclusive abort" if decision == "abort" else "no terminal to ask"
    run.abort(f"analysis inconclusive ({why})")


def _printer(args: argparse.Namespace) -> Any:
    if args.output == "json":
        return JsonPrinter(sys.stdout)
    return TextPrinter(args.service, sys.stdout, log_lines=True)


# -- handlers -------------------------------------------------------------------------------------


def _deploy(args: argparse.Namespace) -> int:
    from backends.deploy.prechecks import DeployRefused

    if not (args.version or args.resume or args.abort or args.attach):
        raise CommandError("deploy needs --version (or --resume / --abort / --attach)", EXIT_USAGE)
    _check_version(args.version)
    session = _session(args)
    try:
        environment = _environment(session, args.env)
        engine = _engine(session, args)
        live = engine.running(args.service, args.env) if hasattr(engine, "running") else None
        if args.attach:
            if live is None:
                raise CommandError(f"no deploy of {args.service} is running in {args.env}", EXIT_USAGE)
            return _drive(live, _printer(args), args, args.on_inconclusive)
        if args.abort and live is not None:
            _confirm(args, environment, f"abort running deploy {live.deploy_id} of {args.service}")
            live.abort("aborted from the command line")
            return _drive(live, _printer(args), args, args.on_inconclusive)
        if args.resume or args.abort:
            try:
                # By name or entity ref, any case: the history records the catalog's name.
                mine = engine.find_interrupted(args.service, args.env)
            except DeployRefused as error:
                raise CommandError(str(error), EXIT_USAGE) from error
            if not mine:
                raise CommandError(f"no interrupted deploy of {args.service} in {args.env}", EXIT_USAGE)
            record = mine[0].record
            action = "resume" if args.resume else "abort"
            _confirm(args, environment, f"{action} {_interrupted_what(mine[0])}")
            skip = args.skip_image_check
            run = _started(
                lambda: (
                    engine.resume(record.id, skip_image_check=skip)
                    if args.resume
                    else engine.abort(record.id)
                )
            )
        else:
            _confirm(args, environment, f"deploy {args.service} {args.version}")
            commit_time = _epoch(args.commit_time)
            run = _started(
                lambda: engine.deploy(
                    args.service,
                    args.env,
                    args.version,
                    commit_sha=args.commit,
                    commit_time=commit_time,
                    skip_image_check=args.skip_image_check,
                )
            )
        return _drive(run, _printer(args), args, args.on_inconclusive)
    finally:
        session.close()


def _interrupted_what(item: Any) -> str:
    """``deploy ID of SERVICE VERSION``, ``rollback ID of SERVICE to VERSION``, ``scale ID of …``."""
    record = item.record
    if record.kind == "scale":
        size = f" to {item.replicas} pods" if item.replicas is not None else ""
        return f"scale {record.id} of {record.service}{size}"
    if record.kind == "rollback":
        return f"rollback {record.id} of {record.service} to {record.to_version}"
    return f"deploy {record.id} of {record.service} {record.to_version}"


def _epoch(value: str | None) -> float | None:
    import datetime as dt

    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise CommandError(f"--commit-time: not an ISO 8601 time: {value!r}", EXIT_USAGE) from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _rollback(args: argparse.Namespace) -> int:
    _check_version(args.to)
    session = _session(args)
    try:
        environment = _environment(session, args.env)
        target = f" to {args.to}" if args.to else " to its last good version"
        _confirm(args, environment, f"roll {args.service} back{target}")
        engine = _engine(session, args)
        run = _started(
            lambda: engine.rollback(
                args.service, args.env, args.to, force=args.force, skip_image_check=args.skip_image_check
            )
        )
        return _drive(run, _printer(args), args)
    finally:
        session.close()


def _scale(args: argparse.Namespace) -> int:
    workspace = workspace_from_args(args)
    _confirm_replicas(args, workspace)
    session = _session(args, workspace)
    try:
        environment = _environment(session, args.env)
        _confirm(args, environment, f"scale {args.service} to {args.replicas} pods")
        engine = _engine(session, args)
        return _drive(
            _started(lambda: engine.scale(args.service, args.env, args.replicas)), _printer(args), args
        )
    finally:
        session.close()


def _status(args: argparse.Namespace) -> int:
    from backends.deploy.prechecks import DeployRefused
    from backends.kube.cluster import ClusterError

    session = _session(args)
    try:
        if not (args.service and args.env):  # every service and/or every environment
            from console.commands.status import overview

            return overview(args, session)
        _environment(session, args.env)
        try:
            status = session.engine.status(args.service, args.env)
            interrupted = [
                i
                for i in session.engine.find_interrupted(None, args.env)
                if i.record.service == status.service
            ]
        except (DeployRefused, ClusterError) as error:
            raise CommandError(str(error), EXIT_USAGE) from error
        if args.output == "json":
            data = status.as_dict()
            data["interrupted"] = [
                {
                    "deploy_id": i.record.id,
                    "kind": i.record.kind,
                    "to_version": i.record.to_version,
                    "replicas": i.replicas,
                    "last_step": i.last_step,
                    "rolling_back": i.rollback_outcome or None,
                }
                for i in interrupted
            ]
            print(json.dumps(data, default=str, ensure_ascii=False))
        else:
            _print_status(status, interrupted)
        return EXIT_OK
    finally:
        session.close()


def _holder_exited(holder: dict[str, Any]) -> bool:
    """The lease names a process on this host that is gone: its deploy is interrupted (listed with
    --resume / --abort below), not in progress, although the lease has not expired yet."""
    import socket

    from backends.deploy.prechecks import process_alive

    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not process_alive(pid)


def _print_status(status: Any, interrupted: list[Any]) -> None:
    import datetime as dt

    print(f"{status.service} in {status.environment} (namespace {status.namespace})")
    for track, workload in (("stable", status.stable), ("canary", status.canary)):
        if workload is None:
            if track == "stable":
                print("  stable  — no Deployment")
            continue
        icon = "✔" if workload.rollout_done else "✖" if workload.rollout_failed else "◌"
        print(
            f"  {icon} {track:<6} {workload.name}  {workload.version}  "
            f"{workload.ready}/{workload.desired} ready  — {workload.rollout}"
        )
    for pod in status.pods:
        icon = (
            "✔"
            if pod.ready
            else "✖"
            if pod.reason in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
            else "◌"
        )
        state = "ready" if pod.ready else (pod.reason or pod.phase)
        print(
            f"      {icon} {pod.name:<44} {pod.track:<6} {pod.version:<10} {state:<18} "
            f"restarts:{pod.restarts}  age:{kubectl_age(pod.age_seconds)}"
        )
    if status.last_deploy is not None:
        record = status.last_deploy
        when = dt.datetime.fromtimestamp(record.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        outcome = record.outcome or "in progress"
        print(
            f"  last {record.kind}: {record.from_version} → {record.to_version} "
            f"by {record.user}, {when}: {outcome}"
        )
    if status.rollback_to:
        print(f"  rollback available to {status.rollback_to}")
    if status.lease_holder and not _holder_exited(status.lease_holder):
        holder = status.lease_holder
        print(f"  deploy in progress: {holder.get('user', '?')} (deploy {holder.get('deploy', '?')})")
    for item in interrupted:
        record = item.record
        command = f"`idp-console deploy {record.service} --env {record.environment} --resume`"
        if record.kind in ("rollback", "scale"):
            print(_interrupted_change(item, command))
            continue
        if item.rollback_outcome:
            print(
                f"  ⚠ interrupted while rolling back deploy {record.id} ({record.from_version} → "
                f"{record.to_version}): {item.rollback_reason}; {command} finishes the rollback"
            )
            continue
        routed = (
            f"; {item.route_weight}% of the HTTPRoute's requests still go to its canary"
            if getattr(item, "route_weight", None)
            else ""
        )
        print(
            f"  ⚠ interrupted deploy {record.id} ({record.from_version} → {record.to_version}) after step "
            f"{item.last_step + 1}{routed}: {command} or `--abort`"
        )


def _interrupted_change(item: Any, resume: str) -> str:
    """A killed ``rollback`` or ``scale``: what it was changing and the commands that finish or undo it."""
    record = item.record
    abort = resume.replace("--resume`", "--abort`")
    if item.rollback_outcome:  # an --abort of it had begun: only finishing that abort is offered
        return f"  ⚠ interrupted while aborting {_interrupted_what(item)}: {resume} finishes the abort"
    if record.kind == "rollback":
        return (
            f"  ⚠ interrupted rollback {record.id} ({record.from_version} → {record.to_version}): "
            f"{resume} rolls out {record.to_version} again, {abort} puts back {record.from_version}"
        )
    before = f"{item.stable_replicas} pods" if item.stable_replicas is not None else "the earlier size"
    target = f"{item.replicas} pods" if item.replicas is not None else "its size"
    return (
        f"  ⚠ interrupted scale {record.id} ({before} → {target}): {resume} sets {target} again, "
        f"{abort} puts back {before}"
    )

"""Time to first production deploy, by keyboard: the real app on the demo workspace, driven by Pilot.

launch → scaffold a new golden-path service → "deploy to staging" (one key) → the watch view's
"promote to production" (one key) → production → "Deployment complete". Counts every key pressed
besides the service name's characters (typed in the form and in production's typed confirmation)
and the wall time from the first key to the production deploy's success; prints both, and what it
waited for. The demo's own bake times (no speed-up); a throwaway state dir, the simulated cluster
inside this process. Goal (issue 10): ≤ 25 keys, ≤ 60 s.

    uv run python bench/first_deploy.py [--name orders-api] [--size 120x40] [--cli]

``--cli`` also times the same journey by CLI: the scaffolder's "Next steps" commands, run as printed
(through ``console.cli.main``, each deploy in its detached runner), on a copy of the demo workspace.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["IDP_CONSOLE_HOME"] = tempfile.mkdtemp(prefix="idp-bench-first-deploy-")
os.environ.setdefault("IDP_CONSOLE_USER", "jane.doe")  # the demo's member of team-payments
os.environ.setdefault("IDP_CONSOLE_SIMULATION", "in-process")
os.environ.pop("IDP_CONSOLE_WORKSPACE", None)

from textual.pilot import Pilot  # noqa: E402

from backends.workspace import load_demo_workspace  # noqa: E402
from console.app import IdpConsoleApp  # noqa: E402

GOAL_KEYS = 25
GOAL_SECONDS = 60.0


class Keys:
    """Presses keys and counts them; the service name's characters are free (issue 10's rule)."""

    def __init__(self, pilot: Pilot) -> None:
        self.pilot = pilot
        self.counted = 0
        self.free = 0
        self.log: list[str] = []

    async def press(self, *keys: str) -> None:
        self.counted += len(keys)
        self.log.extend(keys)
        await self.pilot.press(*keys)

    async def name(self, name: str) -> None:
        self.free += len(name)
        self.log.append(f"«{name}»")
        await self.pilot.press(*name)


async def wait(pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            screen = "\n".join(strip.text.rstrip() for strip in pilot.app.screen._compositor.render_strips())
            raise TimeoutError(f"timed out waiting for {what}; the screen shows:\n{screen}")
        await pilot.pause(0.02)
    await pilot.pause()


def owner_suggested(screen: object, ref: str) -> bool:
    from widgets.picker_input import PickerInput

    focused = getattr(screen, "focused", None)
    picker = focused.parent if focused is not None else None
    return isinstance(picker, PickerInput) and bool(picker.suggestions) and picker.suggestions[0].value == ref


async def journey(name: str, size: tuple[int, int]) -> tuple[Keys, float, dict[str, float]]:
    from screens.catalog import CatalogScreen
    from screens.deploy import DeployScreen
    from screens.deploy_confirm import ConfirmDeploy
    from screens.scaffold import ScaffoldScreen

    app = IdpConsoleApp(load_demo_workspace())
    laps: dict[str, float] = {}
    async with app.run_test(size=size) as pilot:
        await wait(pilot, lambda: app.catalog is not None and isinstance(app.screen, CatalogScreen), "launch")
        keys = Keys(pilot)
        start = time.monotonic()
        await keys.press("2")
        scaffold = app.screen
        assert isinstance(scaffold, ScaffoldScreen)
        await wait(pilot, lambda: scaffold.templates, "the templates")
        await keys.press("down", "enter")  # the golden path, second in the list
        await wait(pilot, lambda: scaffold.stage == "form", "the golden path's form")
        await keys.name(name)
        await keys.press("enter", "enter")  # name → description → owner
        await keys.press(*"pay")
        await wait(
            pilot, lambda: owner_suggested(scaffold, "group:default/team-payments"), "the owner suggestion"
        )
        await keys.press("enter", "ctrl+n")  # the owner; page 2 (python, no database: the defaults)
        await wait(pilot, lambda: scaffold.page_index == 1, "page 2")
        await keys.press("ctrl+n")
        await wait(pilot, lambda: scaffold.stage == "review", "the review")
        await keys.press("enter")  # run
        await wait(
            pilot, lambda: scaffold.deploy_offer() is not None, "the scaffold run and its deploy offer"
        )
        laps["scaffolded"] = time.monotonic() - start

        await keys.press("d")  # deploy to staging: the form is filled in
        deploy = app.screen
        assert isinstance(deploy, DeployScreen)
        await wait(
            pilot, lambda: deploy.form.service == name and deploy.form.versions, "the registry's versions"
        )
        await keys.press("enter")  # submit the form
        await wait(pilot, lambda: isinstance(app.screen, ConfirmDeploy), "the confirmation")
        await keys.press("enter")
        await wait(pilot, lambda: deploy.promotion() is not None, "staging healthy", timeout=180)
        laps["staging"] = time.monotonic() - start

        await keys.press("p")  # promote to production: the form is filled in
        await wait(pilot, lambda: deploy.view == "form", "the production form")
        await keys.press("enter")
        await wait(pilot, lambda: isinstance(app.screen, ConfirmDeploy), "a confirmation")
        modal = app.screen
        assert isinstance(modal, ConfirmDeploy)
        if modal.type_to_confirm is None:  # production refused the lifecycle: the fix is offered
            await keys.press("enter")
            await wait(pilot, lambda: app.screen is not modal, "the lifecycle fix", timeout=60)
            await wait(pilot, lambda: isinstance(app.screen, ConfirmDeploy), "the production confirmation")
            laps["lifecycle fixed"] = time.monotonic() - start
        await keys.name(name)
        await keys.press("enter")
        state = lambda: deploy.state  # noqa: E731
        await wait(pilot, lambda: state() is not None and state().finished, "production", timeout=180)
        outcome = state()
        assert outcome is not None
        if outcome.outcome != "succeeded" or outcome.environment != "production":
            raise RuntimeError(f"production deploy ended {outcome.outcome}: {outcome.reason}")
        laps["production"] = time.monotonic() - start
        return keys, laps["production"], laps


def cli_journey(name: str) -> tuple[int, float]:
    """The CLI path: scaffold, then each command the next steps print; (commands, seconds)."""
    import contextlib
    import io
    import re
    import shutil

    from backends.workspace import DEMO_WORKSPACE_DIR
    from console.cli import main as cli

    workspace = Path(tempfile.mkdtemp(prefix="idp-bench-cli-")) / "acme"
    shutil.copytree(DEMO_WORKSPACE_DIR, workspace)
    ws = ["--workspace", str(workspace)]

    def run(*args: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli([*ws, *args])
        if code != 0:
            raise RuntimeError(f"idp-console {' '.join(args)} → exit {code}\n{out.getvalue()}")
        return out.getvalue()

    start = time.monotonic()
    owner = "owner=group:default/team-payments"
    out = run("scaffold", "microservice-golden-path", "--set", f"name={name}", "--set", owner)
    commands = re.findall(r"^idp-console (.+)$", out, flags=re.MULTILINE)
    for command in commands:
        out = run(*command.split(), *(["--yes"] if "--env production" in command else []))
    if "Deployment complete" not in out:
        raise RuntimeError(f"the last command did not complete a deploy:\n{out}")
    return 1 + len(commands), time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="orders-api")
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--cli", action="store_true", help="also time the same journey by CLI")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    keys, seconds, laps = asyncio.run(journey(args.name, (width, height)))
    typed = keys.free // len(args.name)
    print(f"keys besides the service name: {keys.counted} (goal ≤ {GOAL_KEYS}); the name typed {typed}×")
    print(f"wall time, first key → production complete: {seconds:.1f} s (goal ≤ {GOAL_SECONDS:.0f} s)")
    print("laps: " + ", ".join(f"{what} {at:.1f} s" for what, at in laps.items()))
    print("keys: " + " ".join(keys.log))
    if args.cli:
        commands, cli_seconds = cli_journey(f"{args.name}-cli")
        print(
            f"CLI: {commands} commands (goal ≤ 4), {cli_seconds:.1f} s from the first to production complete"
        )


if __name__ == "__main__":
    main()

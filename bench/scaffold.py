"""Scaffolder benchmarks; prints figures, asserts nothing.

1. The microservice golden path (python, postgres): render → publish:git to a local bare repo →
   catalog:register into the demo catalog. Goal ≤ 1 s.
2. A synthetic template with 1,000 templated skeleton files: render (and, separately, render +
   publish). Goal ≤ 2 s.

Run: ``uv run python bench/scaffold.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.catalog import load_catalog  # noqa: E402
from backends.git.publish import GitSettings  # noqa: E402
from backends.scaffolder import Services, TaskRunner, load_template_file  # noqa: E402
from backends.scaffolder.events import StepFinished, TaskFinished  # noqa: E402
from backends.scaffolder.form import FormModel  # noqa: E402
from backends.workspace import load_demo_workspace  # noqa: E402


def golden_path(work: Path, run: int) -> tuple[float, dict[str, float]]:
    catalog = load_catalog(load_demo_workspace())
    services = Services(
        catalog=catalog, register=catalog.register, git=GitSettings(remote_base=str(work / "git"))
    )
    template = load_template_file(ROOT / "golden_paths/microservice-golden-path")
    answers = {"name": f"bench-svc-{run}", "owner": "group:default/team-payments", "database": "postgres"}
    started = time.perf_counter()
    form = FormModel(template, catalog=catalog, answers=answers)  # defaults applied, as the CLI does
    assert form.valid, form.errors()
    parameters = form.parameters()
    steps: dict[str, float] = {}
    for event in TaskRunner(services=services).run(template, parameters):
        if isinstance(event, StepFinished):
            steps[event.step_id] = event.duration
        if isinstance(event, TaskFinished) and event.status != "completed":
            raise SystemExit(f"golden path failed: {event.error}")
    elapsed = time.perf_counter() - started
    assert catalog.get(f"component:default/bench-svc-{run}") is not None, "not registered"
    return elapsed, steps


def synthetic_template(work: Path, files: int) -> Path:
    root = work / "synthetic"
    skeleton = root / "skeleton"
    for index in range(files):
        directory = skeleton / f"pkg{index // 50}"
        directory.mkdir(parents=True, exist_ok=True)
        name = f"${{{{ values.name }}}}_{index}.py" if index % 10 == 0 else f"module_{index}.py"
        (directory / name).write_text(
            f'"""Module {index} of ${{{{ values.name }}}}."""\n\n'
            f'OWNER = "${{{{ values.owner }}}}"\n'
            "{% if values.debug %}DEBUG = True\n{% endif %}"
            f"VALUE = {index}\n" + "# padding line\n" * 20
        )
    (root / "template.yaml").write_text(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: synthetic}\n"
        "spec:\n  type: service\n  steps:\n"
        "    - {id: fetch, action: fetch:template, input: {url: ./skeleton, values: "
        "{name: '${{ parameters.name }}', owner: team-a, debug: true}}}\n"
        "    - {id: publish, action: publish:git, if: '${{ parameters.publish }}', "
        "input: {repoUrl: '?owner=bench&repo=${{ parameters.name }}'}}\n"
    )
    return root


def synthetic(work: Path, template_dir: Path, run: int, publish: bool) -> tuple[float, dict[str, float]]:
    template = load_template_file(template_dir)
    services = Services(git=GitSettings(remote_base=str(work / "git")))
    started = time.perf_counter()
    steps: dict[str, float] = {}
    for event in TaskRunner(services=services).run(template, {"name": f"synth{run}", "publish": publish}):
        if isinstance(event, StepFinished):
            steps[event.step_id] = event.duration
        if isinstance(event, TaskFinished) and event.status != "completed":
            raise SystemExit(f"synthetic template failed: {event.error}")
    return time.perf_counter() - started, steps


def report(label: str, goal: float, samples: list[tuple[float, dict[str, float]]]) -> None:
    times = [t for t, _ in samples]
    best = min(range(len(times)), key=times.__getitem__)
    steps = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in samples[best][1].items())
    verdict = "ok" if statistics.median(times) <= goal else "OVER GOAL"
    print(
        f"{label}: median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms over {len(times)} runs (goal ≤ {goal:g} s: {verdict})"
    )
    print(f"    fastest run: {steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        work = Path(tmp)
        os.environ["IDP_CONSOLE_HOME"] = str(work / "home")  # never touch the user's data dir
        golden_path(work, 999)  # warm-up: imports, jinja compile caches
        report(
            "golden path (python, postgres) → bare repo → registered",
            1.0,
            [golden_path(work, run) for run in range(args.repeat)],
        )
        template_dir = synthetic_template(work, args.files)
        synthetic(work, template_dir, 999, publish=False)
        report(
            f"synthetic template, {args.files} skeleton files, render only",
            2.0,
            [synthetic(work, template_dir, run, publish=False) for run in range(args.repeat)],
        )
        report(
            f"synthetic template, {args.files} skeleton files, render + publish:git",
            2.0,
            [synthetic(work, template_dir, 100 + run, publish=True) for run in range(args.repeat)],
        )


if __name__ == "__main__":
    main()

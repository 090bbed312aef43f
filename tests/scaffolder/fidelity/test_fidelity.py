"""Differential corpus: every case renders here exactly as it rendered on a real Backstage.

Each ``cases/<name>/`` holds a template, its ``values.json`` and what Backstage 4.3.0's dry-run
produced for it (``recorded/``, written by ``record.py``; see the README beside this file). The
replay runs the same template through our engine, without node, and requires:

- success on both sides: byte-identical files (same paths, same bytes), the same rendered step
  inputs (Backstage logs them as JSON; compared as JSON values) and the same rendered
  ``spec.output``;
- failure on Backstage: our run fails too, and our error says the same thing (see ``_GISTS``).

What a dry run on Backstage cannot show is left out of the comparison, no more: file modes (the
dry-run upload carries none), the inputs of an ``each`` step (Backstage logs them once, rendered
without ``each``; the files show what each item did) and the template's ref, which a dry run
calls ``template:default/dry-run``. ``DEVIATIONS`` lists the cases where idp-console differs on
purpose, each with its reason; they must still differ (a fix there updates the list).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from backends.scaffolder import TaskRunner, load_template_file
from backends.scaffolder.errors import PrecheckError
from backends.scaffolder.events import StepLog, TaskFinished
from backends.scaffolder.taint import WITHHELD

CASES = Path(__file__).resolve().parent / "cases"
SECRETS = {"token": "s3cr3t-value"}  # what record.py sent
_INPUTS = re.compile(r"^Running (\S+) in dry-run mode with inputs \(secrets redacted\): (.*)$", re.DOTALL)
BACKSTAGE_REDACTED = "***"

# How a Backstage error and ours are "the same failure": the error's gist, not its wording. Each
# entry: a pattern on Backstage's ``name: message``, and patterns our error must match; ``\1``…
# in ours stand for what Backstage's pattern captured (the filter, file or ref at fault).
_GISTS: list[tuple[str, list[str]]] = [
    (r'Unknown template filter "(\w+)"', [r"filter", r"\1"]),
    (r'Template filter "(\w+)" failed: Entity reference "([^"]+)"', [r"\1", r"\2"]),
    (r'[Ff]ilter "(\w+)" failed for undefined input', [r"\1", r"undefined"]),
    (r'Template filter "(\w+)" failed', [r"\1"]),
    (r'Template value "(?:[\w.]*\.)?(\w+)" resolved to undefined and cannot be called', [r"\1"]),
    (r"Template expression resolved to undefined and cannot be called", [r"has no attribute|undefined"]),
    (r'Unknown template tag "(\w+)"', [r"syntax error", r"\1"]),
    (r"TemplateRenderError: Template error at line \d+, column \d+: ", [r"syntax error"]),
    (r"Invalid value on action [\w:]+\.each parameter", [r"each must render to an array or an object"]),
    (
        r'Invalid input passed to action ([\w:]+), .*additional property "(\w+)"',
        [r"\1", r"unknown input '\2'"],
    ),
    (
        r'Invalid input passed to action ([\w:]+), instance requires property "(\w+)"',
        [r"missing required input '\2'"],
    ),
    (r"Template action with ID '([^']+)' is not registered", [r"unknown action '\1'"]),
    (
        r"NotAllowedError: Relative path is not allowed to refer to a directory outside",
        [r"outside the task workspace"],
    ),
    (
        r"Fetch action input extension incompatible with copyWithoutTemplating",
        [r"templateFileExtension cannot"],
    ),
    (r"Error: dest already exists", [r"exists \(set overwrite: true\)"]),
    (
        r"ENOENT: no such file or directory, lstat '[^']*/dry-run-content-[^/]+/([^']+)'",
        [r"\1", r"no directory"],
    ),
    (r"ENOENT: no such file or directory, lstat '[^']*/dry-run-[^/]+/([^']+)'", [r"'\1' does not exist"]),
]

# Cases where idp-console differs from Backstage on purpose (case -> why).
DEVIATIONS = {
    "native-syntax-error-in-input": "a step input that does not compile stops the run before it starts "
    "(precheck); Backstage passes the text on as written",
    "backstage-parse-repo-url-unknown-host": "parseRepoUrl accepts any host: idp-console publishes to "
    "the workspace's git server, not to a configured Backstage integration",
    # Kept on purpose (safety over byte fidelity): Backstage's JSON parser has already rounded the
    # answer to a double before the template sees it, so an 18-19 digit ID (Snowflake, Slack, Discord
    # style) is written as another number without any error. Matching that is fidelity to silent data
    # loss; a run on Backstage (runOn: backstage) warns that it will round such a value.
    "native-big-number": "an integer beyond 2**53 keeps its digits (JavaScript rounds it to a double)",
}
DRY_RUN_TEMPLATE = b"template:default/dry-run"


def _case_names() -> list[str]:
    return sorted(p.parent.parent.name for p in CASES.glob("*/recorded/result.json"))


def _workspace_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _recorded_files(case: Path, result: dict[str, Any]) -> dict[str, bytes]:
    ref = f"template:default/{case.name}".encode()
    return {
        f["path"]: (case / "recorded" / "files" / f["path"]).read_bytes().replace(DRY_RUN_TEMPLATE, ref)
        for f in result["files"]
    }


def _unredact(value: Any) -> Any:
    """Our withheld marker and Backstage's ``***`` mean the same thing."""
    if value == WITHHELD:
        return BACKSTAGE_REDACTED
    if isinstance(value, dict):
        return {k: _unredact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unredact(v) for v in value]
    return value


def _run(case: Path, workspace: Path) -> tuple[TaskFinished | None, dict[str, list[Any]], str | None]:
    template = load_template_file(case / "template.yaml")
    parameters = json.loads((case / "values.json").read_text(encoding="utf-8"))
    try:
        task = TaskRunner().create_task(template, parameters, SECRETS, dry_run=True, keep_dir=workspace)
    except PrecheckError as error:
        return None, {}, str(error)
    inputs: dict[str, list[Any]] = {}
    finished = None
    for event in task.run():
        if isinstance(event, StepLog) and event.step_id and (match := _INPUTS.match(event.message)):
            inputs.setdefault(event.step_id, []).append(_unredact(json.loads(match.group(2))))
        if isinstance(event, TaskFinished):
            finished = event
    assert finished is not None
    return finished, inputs, finished.error if finished.status == "failed" else None


def _failure_difference(backstage: dict[str, Any], ours: str) -> str | None:
    """None when our error has the gist of Backstage's (the first ``_GISTS`` entry that applies)."""
    said = f"{backstage.get('name')}: {backstage.get('message')}"
    for pattern, wanted in _GISTS:
        match = re.search(pattern, said, re.DOTALL)
        if match is None:
            continue
        for expected in wanted:
            expanded = match.expand(expected) if match.groups() else expected
            if not re.search(expanded, ours, re.IGNORECASE | re.DOTALL):
                return f"Backstage failed with {said!r}; ours with {ours!r}, which lacks {expanded!r}"
        return None
    return f"no gist defined for Backstage's error {said!r} (ours: {ours!r})"


def _differences(name: str, workspace: Path) -> list[str]:
    """How our run of case ``name`` differs from Backstage's recording (empty: it does not)."""
    case = CASES / name
    recorded = json.loads((case / "recorded" / "result.json").read_text(encoding="utf-8"))
    finished, inputs, error = _run(case, workspace)
    if recorded["http"] != 200:
        if error is None:
            return [f"Backstage failed with {recorded['error']}; ours succeeded"]
        problem = _failure_difference(recorded["error"], error)
        return [problem] if problem else []
    if error is not None:
        return [f"Backstage succeeded; ours failed: {error}"]
    assert finished is not None
    problems = []
    each_steps = {step["id"] for step in _steps(case) if "each" in step}
    ours_in = {k: v for k, v in inputs.items() if k not in each_steps}
    theirs_in = {k: v for k, v in recorded["inputs"].items() if k not in each_steps}
    if ours_in != theirs_in:
        problems.append(f"rendered step inputs differ: Backstage {theirs_in}, ours {ours_in}")
    if _unredact(finished.outputs) != recorded["output"]:
        problems.append(f"spec.output differs: Backstage {recorded['output']}, ours {finished.outputs}")
    ours, theirs = _workspace_files(workspace), _recorded_files(case, recorded)
    if sorted(ours) != sorted(theirs):
        problems.append(f"files differ: Backstage {sorted(theirs)}, ours {sorted(ours)}")
    for path, data in theirs.items():
        if path in ours and ours[path] != data:
            problems.append(f"{path}: Backstage {data[:300]!r}, ours {ours[path][:300]!r}")
    return problems


def _steps(case: Path) -> list[dict[str, Any]]:
    import yaml

    document = yaml.safe_load((case / "template.yaml").read_text(encoding="utf-8"))
    return list(document["spec"]["steps"])


@pytest.mark.parametrize("name", _case_names())
def test_case_renders_as_backstage_does(name: str, tmp_path: Path) -> None:
    problems = _differences(name, tmp_path / "workspace")
    if name in DEVIATIONS:
        assert problems, f"{name} now matches Backstage: remove it from DEVIATIONS"
        return
    assert problems == []


def test_the_corpus_is_large_enough() -> None:
    assert len(_case_names()) >= 100

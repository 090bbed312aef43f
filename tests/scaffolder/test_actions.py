"""Every built-in action, run through the TaskRunner as a template would run it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.scaffolder import Services, TaskRunner, default_registry
from tests.scaffolder.helpers import FakeCatalog, finished, log_text, run, step_status, write_template


def keep(tmp_path: Path) -> Path:
    return tmp_path / "out"


# -- fetch:template -----------------------------------------------------------------------------


def test_fetch_template_renders_names_contents_and_skips_empty_names(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00${{ values.name }}"
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "fetch",
                "action": "fetch:template",
                "input": {
                    "url": "./skeleton",
                    "targetPath": "./app",
                    "values": {"name": "${{ parameters.name }}", "ci": False},
                },
            }
        ],
        files={
            "skeleton/README.md": "# ${{ values.name }}\nparams: [${{ parameters.name }}]\n",
            "skeleton/${{ values.name }}-dir/conf.txt": "name=${{ values.name }}",
            "skeleton/${{ 'ci.yml' if values.ci else '' }}": "should not exist",
            "skeleton/${{ 'extra' if values.ci else '' }}/x.txt": "nor this",
            "skeleton/logo.png": png,
            "skeleton/.hidden": "dot ${{ values.name }}",
        },
    )
    (tmp_path / "t/skeleton/run.sh").write_text("#!/bin/sh\necho ${{ values.name }}\n")
    os.chmod(tmp_path / "t/skeleton/run.sh", 0o755)
    events = run(template, {"name": "svc"}, keep_dir=keep(tmp_path))
    assert finished(events).status == "completed"
    out = keep(tmp_path) / "app"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        ".hidden",
        "README.md",
        "logo.png",
        "run.sh",
        "svc-dir",
        "svc-dir/conf.txt",
    ]
    # Only ``values`` is in scope inside a skeleton: ``parameters`` renders empty.
    assert (out / "README.md").read_text() == "# svc\nparams: []\n"
    assert (out / "svc-dir/conf.txt").read_text() == "name=svc"
    assert (out / "logo.png").read_bytes() == png  # binary: verbatim
    assert os.stat(out / "run.sh").st_mode & 0o777 == 0o755
    assert (out / ".hidden").read_text() == "dot svc"


def test_fetch_template_copy_without_templating_and_replace(tmp_path: Path) -> None:
    files = {
        "skeleton/.github/workflows/ci.yaml": "runs-on: ${{ matrix.os }}\n",
        "skeleton/${{ values.name }}.md": "${{ values.name }}",
    }
    steps: list[dict[str, Any]] = [
        {
            "id": "first",
            "action": "fetch:template",
            "input": {
                "url": "./skeleton",
                "values": {"name": "a"},
                "copyWithoutTemplating": [".github/workflows/*"],
            },
        },
        {
            "id": "again",
            "action": "fetch:template:file",
            "input": {
                "url": "./skeleton/${{ '${{' }} values.name }}.md",
                "targetPath": "a.md",
                "values": {"name": "b"},
            },
        },
        {
            "id": "replace",
            "action": "fetch:template:file",
            "input": {
                "url": "./other.md",
                "targetPath": "replaced.md",
                "values": {"name": "c"},
            },
        },
    ]
    files["other.md"] = "${{ values.name }}"
    template = write_template(tmp_path / "t", steps, files=files)
    events = run(template, keep_dir=keep(tmp_path))
    assert finished(events).status == "completed", log_text(events)
    out = keep(tmp_path)
    assert (out / ".github/workflows/ci.yaml").read_text() == "runs-on: ${{ matrix.os }}\n"
    assert (out / "a.md").read_text() == "a"  # existing file kept: no replace
    assert "Skipping a.md: it exists" in log_text(events)
    assert (out / "replaced.md").read_text() == "c"


def test_fetch_template_file_extension_mode(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "action": "fetch:template",
                "input": {
                    "url": "./s",
                    "values": {"n": "x"},
                    "templateFileExtension": True,
                    "lstripBlocks": True,
                },
            }
        ],
        files={"s/${{ values.n }}.md.njk": "rendered ${{ values.n }}", "s/raw.md": "raw ${{ values.n }}"},
    )
    run(template, keep_dir=keep(tmp_path))
    assert (keep(tmp_path) / "x.md").read_text() == "rendered x"
    assert (keep(tmp_path) / "raw.md").read_text() == "raw ${{ values.n }}"


def test_template_file_extension_conflict_is_refused_before_running(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "action": "fetch:template",
                "input": {"url": "./s", "templateFileExtension": True, "copyWithoutTemplating": ["*"]},
            }
        ],
        files={"s/a": "a"},
    )
    problems = TaskRunner().precheck(template)
    assert any("templateFileExtension cannot be combined" in p for p in problems)


def test_trim_blocks(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"action": "fetch:template", "input": {"url": "./s", "values": {"on": True}, "trimBlocks": True}}],
        files={"s/f.txt": "a\n{% if values.on %}\nb\n{% endif %}\nc\n"},
    )
    run(template, keep_dir=keep(tmp_path))
    assert (keep(tmp_path) / "f.txt").read_text() == "a\nb\nc\n"


# -- fetch:plain --------------------------------------------------------------------------------


def test_fetch_plain_and_plain_file(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {"action": "fetch:plain", "input": {"url": "./plain", "targetPath": "vendor"}},
            {"action": "fetch:plain:file", "input": {"url": "./plain/a/b.txt", "targetPath": "copy/b.txt"}},
        ],
        files={"plain/a/b.txt": "${{ untouched }}", "plain/c.txt": "c"},
    )
    events = run(template, keep_dir=keep(tmp_path))
    assert step_status(events) == {"step-1": "done", "step-2": "done"}
    assert (keep(tmp_path) / "vendor/a/b.txt").read_text() == "${{ untouched }}"
    assert (keep(tmp_path) / "vendor/c.txt").read_text() == "c"
    assert (keep(tmp_path) / "copy/b.txt").read_text() == "${{ untouched }}"


# -- fs:* ---------------------------------------------------------------------------------------


def fs_template(tmp_path: Path, steps: list[dict[str, Any]]) -> Any:
    files = {"s/a.txt": "a", "s/dir/b.txt": "b", "s/dir/c.log": "c", "s/keep.log": "k"}
    fetch = {"id": "fetch", "action": "fetch:plain", "input": {"url": "./s"}}
    return write_template(tmp_path / "t", [fetch, *steps], files=files)


def test_fs_rename(tmp_path: Path) -> None:
    template = fs_template(
        tmp_path,
        [
            {"id": "mv", "action": "fs:rename", "input": {"files": [{"from": "a.txt", "to": "moved/a.txt"}]}},
            {
                "id": "clash",
                "action": "fs:rename",
                "input": {"files": [{"from": "keep.log", "to": "moved/a.txt"}]},
            },
        ],
    )
    events = run(template, keep_dir=keep(tmp_path))
    assert step_status(events)["mv"] == "done"
    assert (keep(tmp_path) / "moved/a.txt").read_text() == "a"
    assert step_status(events)["clash"] == "failed"
    assert "exists (set overwrite: true)" in finished(events).error


def test_fs_rename_overwrite(tmp_path: Path) -> None:
    template = fs_template(
        tmp_path,
        [
            {
                "action": "fs:rename",
                "input": {"files": [{"from": "keep.log", "to": "a.txt", "overwrite": True}]},
            }
        ],
    )
    assert finished(run(template, keep_dir=keep(tmp_path))).status == "completed"
    assert (keep(tmp_path) / "a.txt").read_text() == "k"


def test_fs_delete_globs(tmp_path: Path) -> None:
    template = fs_template(tmp_path, [{"action": "fs:delete", "input": {"files": ["dir/*.log", "a.txt"]}}])
    run(template, keep_dir=keep(tmp_path))
    remaining = sorted(p.relative_to(keep(tmp_path)).as_posix() for p in keep(tmp_path).rglob("*"))
    assert remaining == ["dir", "dir/b.txt", "keep.log"]


def test_fs_readdir_outputs(tmp_path: Path) -> None:
    template = fs_template(
        tmp_path,
        [
            {"id": "ls", "action": "fs:readdir", "input": {"paths": ["."], "recursive": False}},
            {"id": "deep", "action": "fs:readdir", "input": {"paths": ["dir"], "recursive": True}},
            {
                "id": "show",
                "action": "debug:log",
                "input": {"message": "${{ steps.ls.output.files | length }} files"},
            },
        ],
    )
    events = run(template, keep_dir=keep(tmp_path))
    outputs = {e.step_id: e.output for e in events if type(e).__name__ == "StepFinished"}
    assert [f["name"] for f in outputs["ls"]["files"]] == ["a.txt", "keep.log"]
    assert [f["name"] for f in outputs["ls"]["folders"]] == ["dir"]
    assert [f["path"] for f in outputs["deep"]["files"]] == ["dir/b.txt", "dir/c.log"]
    assert outputs["deep"]["files"][0]["fullPath"] == str(keep(tmp_path).resolve() / "dir/b.txt")
    assert "2 files" in log_text(events)


# -- debug:* ------------------------------------------------------------------------------------


def test_debug_log_lists_workspace(tmp_path: Path) -> None:
    template = fs_template(
        tmp_path, [{"action": "debug:log", "input": {"message": "hello", "listWorkspace": "with-contents"}}]
    )
    text = log_text(run(template, keep_dir=keep(tmp_path)))
    assert "hello" in text and "dir/b.txt" in text and "\nb" in text


def test_debug_wait_and_cancel(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {"id": "short", "action": "debug:wait", "input": {"milliseconds": 50}},
            {"id": "long", "action": "debug:wait", "input": {"minutes": 5}},
        ],
    )
    task = TaskRunner().create_task(template, {})
    seen = []
    started = time.monotonic()
    for event in task.run():
        seen.append(event)
        if type(event).__name__ == "StepStarted" and event.step_id == "long":
            threading.Timer(0.1, task.cancel).start()
    assert time.monotonic() - started < 5
    assert step_status(seen) == {"short": "done", "long": "failed"}
    assert finished(seen).status == "cancelled"


def test_debug_wait_maximum(tmp_path: Path) -> None:
    template = write_template(tmp_path / "t", [{"action": "debug:wait", "input": {"minutes": 11}}])
    events = run(template)
    assert "maximum of 10 minutes" in finished(events).error


# -- catalog:* ----------------------------------------------------------------------------------


def test_catalog_write_adds_source_template(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "action": "catalog:write",
                "input": {
                    "filePath": "meta/catalog-info.yaml",
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {"name": "${{ parameters.name }}"},
                        "spec": {"type": "service", "owner": "team-a", "lifecycle": "experimental"},
                    },
                },
            }
        ],
        parameters={"properties": {"name": {"type": "string"}}},
    )
    run(template, {"name": "svc"}, keep_dir=keep(tmp_path))
    written = yaml.safe_load((keep(tmp_path) / "meta/catalog-info.yaml").read_text())
    assert written["metadata"]["name"] == "svc"
    assert (
        written["metadata"]["annotations"]["backstage.io/source-template"] == "template:default/test-template"
    )


def test_catalog_register_calls_the_workspace_catalog(tmp_path: Path, catalog: FakeCatalog) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "write",
                "action": "catalog:write",
                "input": {
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {"name": "new-svc"},
                        "spec": {"type": "service"},
                    }
                },
            },
            {
                "id": "register",
                "action": "catalog:register",
                "input": {"catalogInfoUrl": "catalog-info.yaml"},
            },
        ],
        output={"links": [{"title": "Catalog", "entityRef": "${{ steps.register.output.entityRef }}"}]},
    )
    events = run(
        template, services=Services(catalog=catalog, register=catalog.register), keep_dir=keep(tmp_path)
    )
    assert finished(events).outputs["links"] == [
        {"title": "Catalog", "entityRef": "component:default/new-svc"}
    ]
    assert [e.name for e in catalog.entities][-1] == "new-svc"


def test_catalog_register_optional_and_without_catalog(tmp_path: Path) -> None:
    def broken(path: str) -> list[Any]:
        raise RuntimeError("catalog is down")

    entity_file = tmp_path / "x.yaml"
    entity_file.write_text("kind: Component\n")
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "opt",
                "action": "catalog:register",
                "input": {"catalogInfoUrl": str(entity_file), "optional": True},
            },
            {"id": "req", "action": "catalog:register", "input": {"catalogInfoUrl": entity_file.as_uri()}},
        ],
    )
    events = run(template, services=Services(register=broken), keep_dir=keep(tmp_path))
    assert step_status(events) == {"opt": "done", "req": "failed"}
    assert "catalog is down" in finished(events).error
    skipped = run(template, keep_dir=tmp_path / "again")
    assert step_status(skipped) == {"opt": "skipped", "req": "skipped"}
    assert "no catalog is attached" in log_text(skipped)


def test_catalog_fetch(tmp_path: Path, catalog: FakeCatalog) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "one",
                "action": "catalog:fetch",
                "input": {"entityRef": "payments", "defaultKind": "Component"},
            },
            {
                "id": "many",
                "action": "catalog:fetch",
                "input": {"entityRefs": ["group:team-a", "group:nope"], "optional": True},
            },
            {"id": "missing", "action": "catalog:fetch", "input": {"entityRef": "component:nope"}},
            {
                "id": "use",
                "action": "debug:log",
                "if": "${{ always() }}",
                "input": {"message": "owner=${{ steps.one.output.entity.spec.owner }}"},
            },
        ],
    )
    events = run(template, services=Services(catalog=catalog))
    outputs = {e.step_id: e.output for e in events if type(e).__name__ == "StepFinished"}
    assert outputs["one"]["entity"]["metadata"]["name"] == "payments"
    assert outputs["many"]["entities"][0]["metadata"]["name"] == "team-a"
    assert outputs["many"]["entities"][1] is None
    assert step_status(events)["missing"] == "failed"
    assert "owner=team-a" in log_text(events)


# -- kube:apply ---------------------------------------------------------------------------------


class RecordingApplier:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def apply(self, env: str, manifests: list[dict[str, Any]]) -> list[str]:
        self.calls.append((env, manifests))
        return [f"{m['kind'].lower()}/{m['metadata']['name']} configured" for m in manifests]


def kube_template(tmp_path: Path) -> Any:
    manifests = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: svc}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\n"
    )
    return write_template(
        tmp_path / "t",
        [
            {"action": "fetch:plain", "input": {"url": "./s"}},
            {"id": "apply", "action": "kube:apply", "input": {"manifestPath": "k8s/*.yaml"}},
        ],
        files={"s/k8s/app.yaml": manifests, "s/README.md": "x"},
    )


def test_kube_apply_uses_the_applier_and_first_environment(tmp_path: Path) -> None:
    applier = RecordingApplier()
    events = run(
        kube_template(tmp_path), services=Services(applier=applier, environments=["staging", "prod"])
    )
    assert [(env, [m["kind"] for m in ms]) for env, ms in applier.calls] == [
        ("staging", ["Deployment", "Service"])
    ]
    assert "deployment/svc configured" in log_text(events)
    assert step_status(events)["apply"] == "done"


def test_kube_apply_skips_without_applier_and_in_dry_run(tmp_path: Path) -> None:
    events = run(kube_template(tmp_path))
    assert step_status(events)["apply"] == "skipped"
    assert "no Kubernetes backend is configured" in log_text(events)
    applier = RecordingApplier()
    dry = run(kube_template(tmp_path), services=Services(applier=applier, environments=["dev"]), dry_run=True)
    assert step_status(dry)["apply"] == "skipped" and applier.calls == []


# -- registry and input validation --------------------------------------------------------------


def test_registry_has_every_action_from_the_issue() -> None:
    assert set(default_registry().ids()) == {
        "fetch:template",
        "fetch:template:file",
        "fetch:plain",
        "fetch:plain:file",
        "fs:rename",
        "fs:delete",
        "fs:readdir",
        "debug:log",
        "debug:wait",
        "catalog:write",
        "catalog:register",
        "catalog:fetch",
        "kube:apply",
        "publish:git",
        "publish:github",
        "publish:gitlab",
        "publish:github:pull-request",
        "publish:gitlab:merge-request",
        # the golden path's platform steps (issue 10)
        "registry:image",
        "database:credentials",
        "ci:first-build",
        # the golden path's infrastructure change request (issue 16)
        "infra:request",
    }


def test_rendered_input_is_validated(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "bad", "action": "fs:readdir", "input": {"paths": "${{ parameters.p }}"}}],
        parameters={"properties": {"p": {"type": "string"}}},
    )
    events = run(template, {"p": "not-a-list"})
    assert step_status(events) == {"bad": "failed"}
    assert "invalid input for fs:readdir" in finished(events).error


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"id": "x", "action": "nope:nope"}, "unknown action 'nope:nope'"),
        ({"id": "x", "action": "debug:log", "input": {"mesage": "typo"}}, "unknown input 'mesage'"),
        ({"id": "x", "action": "fs:rename", "input": {}}, "missing required input 'files'"),
        ({"id": "x", "action": "debug:wait", "input": {"seconds": "ten"}}, "input 'seconds'"),
        ({"id": "x", "action": "fetch:template", "input": {"url": "./missing"}}, "no directory"),
        ({"id": "x", "action": "debug:log", "input": {"message": "${{ oops ) }}"}}, "syntax error"),
    ],
)
def test_precheck_refuses_before_anything_is_written(
    tmp_path: Path, step: dict[str, Any], message: str
) -> None:
    from backends.scaffolder.errors import PrecheckError

    template = write_template(
        tmp_path / "t",
        [{"id": "first", "action": "fetch:plain", "input": {"url": "./s"}}, step],
        files={"s/a": "a"},
    )
    with pytest.raises(PrecheckError) as raised:
        TaskRunner().create_task(template, {}, keep_dir=keep(tmp_path))
    assert any(message in p and "step 'x'" in p for p in raised.value.problems), raised.value.problems
    assert not keep(tmp_path).exists()


def test_fetch_from_a_repository_url(tmp_path: Path) -> None:
    import subprocess

    source = tmp_path / "shared"
    (source / "skeletons/web").mkdir(parents=True)
    (source / "skeletons/web/index.html").write_text("<h1>${{ values.name }}</h1>\n")
    (source / "LICENSE").write_text("MIT\n")
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "skeletons"],
    ):
        subprocess.run(["git", "-C", str(source), *command], check=True)
    base = source.as_uri()
    template = write_template(
        tmp_path / "t",
        [
            {
                "action": "fetch:template",
                "input": {"url": f"{base}/tree/main/skeletons/web", "values": {"name": "x"}},
            },
            {
                "action": "fetch:plain:file",
                "input": {"url": f"{base}/blob/main/LICENSE", "targetPath": "LICENSE"},
            },
        ],
    )
    from backends.scaffolder.sandbox import Sandbox

    # The repository is a configured template source: fetch:* may read it (and nothing else).
    services = Services(sandbox=Sandbox(repositories=(base,)))
    events = run(template, services=services, keep_dir=keep(tmp_path))
    assert finished(events).status == "completed", log_text(events)
    assert (keep(tmp_path) / "index.html").read_text() == "<h1>x</h1>\n"
    assert (keep(tmp_path) / "LICENSE").read_text() == "MIT\n"
    bad = write_template(
        tmp_path / "bad", [{"action": "fetch:plain", "input": {"url": f"{base}/tree/main/../../.."}}]
    )
    assert "leaves the repository" in (finished(run(bad, services=services)).error or "")

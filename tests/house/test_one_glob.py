"""One glob engine (backends/globs.py): template sources expand globs exactly as catalog sources do
({a,b} braces too), and each caller says how dot names are matched, as the Backstage part it mirrors
does: the catalog's file reader (node glob) skips them unless asked by name, the scaffolder (globby
with ``dot: true``) matches them."""

from __future__ import annotations

from pathlib import Path

from backends.catalog.catalog import catalog_from_files
from backends.scaffolder.template import TemplateLibrary
from backends.workspace import load_workspace
from tests.catalog.conftest import component
from tests.catalog.test_locations import location
from tests.scaffolder.helpers import finished, log_text, run, write_template

GOLDEN = Path(__file__).resolve().parents[2] / "golden_paths" / "docs-site" / "template.yaml"


def test_a_brace_glob_finds_templates_like_it_finds_catalog_files(tmp_path: Path) -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("  name:"))
    for folder in ("orders", "billing", "ignored"):
        target = tmp_path / "templates" / folder / "template.yaml"
        target.parent.mkdir(parents=True)
        target.write_text(text.replace(f"name: {name}", f"name: {folder}-site", 1), encoding="utf-8")
    (tmp_path / "idp-console.yaml").write_text(
        "templates:\n  sources:\n    - path: 'templates/{orders,billing}/template.yaml'\n", encoding="utf-8"
    )

    library = TemplateLibrary.discover(load_workspace(tmp_path))

    assert {"orders-site", "billing-site"} <= set(library.templates)
    assert "ignored-site" not in library.templates
    assert not library.problems


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")


def test_a_catalog_location_skips_dot_names_unless_its_pattern_names_them(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "root.yaml": location("root", "./teams/*.yaml", "./**/svc.yaml", "./teams/.*.yaml"),
            "teams/a.yaml": component("a"),
            "teams/.draft.yaml": component("draft"),
            "deep/x/svc.yaml": component("deep"),
            ".config/svc.yaml": component("dotted-dir"),
        },
    )
    catalog = catalog_from_files([tmp_path / "root.yaml"], root=tmp_path)
    # `*` and `**` never reach a dot name (node glob's default, as Backstage reads Location
    # targets); `.*` asks for one by name. A real Backstage backend given this tree lists the same.
    assert sorted(e.name for e in catalog.entities) == ["a", "deep", "draft", "root"]


def test_copy_without_templating_matches_dot_names_and_globs_inside_braces(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "fetch",
                "action": "fetch:template",
                "input": {
                    "url": "./skeleton",
                    "values": {"name": "svc"},
                    "copyWithoutTemplating": ["*env", "**/*.yaml", "{docs/*.md,*.txt}"],
                },
            }
        ],
        files={
            "skeleton/.env": "NAME=${{ values.name }}",
            "skeleton/.config/app.yaml": "name: ${{ values.name }}",
            "skeleton/docs/a.md": "${{ values.name }}",
            "skeleton/notes.txt": "${{ values.name }}",
            "skeleton/README.md": "${{ values.name }}",
        },
    )
    out = tmp_path / "out"
    events = run(template, keep_dir=out)
    assert finished(events).status == "completed", log_text(events)
    # globby with `dot: true`, as Backstage's fetch:template calls it: `*` and `**` match dot names;
    # a brace's options are globs of their own.
    copied = {
        name: (out / name).read_text() for name in (".env", ".config/app.yaml", "docs/a.md", "notes.txt")
    }
    assert all("${{ values.name }}" in text for text in copied.values()), copied
    assert (out / "README.md").read_text() == "svc"

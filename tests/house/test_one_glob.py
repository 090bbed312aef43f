"""One glob engine: template sources expand globs exactly as catalog sources do ({a,b} braces too)."""

from __future__ import annotations

from pathlib import Path

from backends.scaffolder.template import TemplateLibrary
from backends.workspace import load_workspace

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

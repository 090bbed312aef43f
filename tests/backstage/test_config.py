"""The workspace keys of the Backstage backend: refused with file, line and key when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.workspace import WorkspaceError, load_workspace


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "idp-console.yaml").write_text(text)
    return tmp_path


def test_a_backstage_source_and_run_on_are_read(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        "name: x\ncatalog:\n  sources:\n    - type: backstage\n      url: https://backstage.example.com/\n"
        "      tokenSecret: bs-token\nscaffolder:\n  runOn: backstage\n",
    )
    workspace = load_workspace(root)
    [source] = workspace.catalog_sources
    assert (source.type, source.url, source.token_secret) == (
        "backstage",
        "https://backstage.example.com",
        "bs-token",
    )
    assert workspace.typed.scaffolder.run_on == "backstage"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\ncatalog:\n  sources:\n    - type: backstage\n      url: backstage.local\n",
            "idp-console.yaml:5: catalog.sources[0].url: a backstage source needs an http(s) 'url', got",
        ),
        (
            "name: x\nscaffolder:\n  runOn: elsewhere\n",
            "idp-console.yaml:3: scaffolder.runOn: expected one of local, backstage, got",
        ),
    ],
)
def test_a_wrong_backstage_key_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WorkspaceError) as error:
        load_workspace(write(tmp_path, text))
    assert message in str(error.value)
    assert "\n" not in str(error.value)

"""`idp-console catalog unregister REF`: undo a scaffolder registration, with a confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.catalog import load_catalog
from backends.workspace import load_workspace
from console.cli import main

SERVICE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: experimental
  owner: team-a
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "a.yaml").write_text(SERVICE.format(name="existing"), encoding="utf-8")
    (root / "idp-console.yaml").write_text("catalog:\n  sources:\n    - type: dir\n      path: catalog\n")
    created = tmp_path / "repos" / "orders" / "catalog-info.yaml"
    created.parent.mkdir(parents=True)
    created.write_text(SERVICE.format(name="orders"), encoding="utf-8")
    load_catalog(load_workspace(root)).register(created)  # what the scaffolder's catalog:register does
    return root


def names(root: Path) -> list[str]:
    return sorted(e.name for e in load_catalog(load_workspace(root)).entities)


def test_unregister_forgets_the_registration_and_keeps_the_file(workspace: Path, capsys) -> None:  # noqa: ANN001
    assert names(workspace) == ["existing", "orders"]
    code = main(["catalog", "unregister", "orders", "--workspace", str(workspace), "--yes"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.strip() == "unregistered component:default/orders"
    assert names(workspace) == ["existing"]
    assert (workspace.parent / "repos" / "orders" / "catalog-info.yaml").is_file()


def test_configured_entities_and_unknown_refs_are_one_line_errors(workspace: Path, capsys) -> None:  # noqa: ANN001
    code = main(["catalog", "unregister", "existing", "--workspace", str(workspace), "--yes"])
    err = capsys.readouterr().err
    assert code == 1
    assert "was not registered through the scaffolder" in err and "Traceback" not in err
    code = main(["catalog", "unregister", "nosuch", "--workspace", str(workspace), "--yes"])
    assert code == 2
    assert "nosuch: not in the catalog" in capsys.readouterr().err
    assert names(workspace) == ["existing", "orders"]


def test_without_yes_and_without_a_terminal_nothing_is_unregistered(workspace: Path, capsys) -> None:  # noqa: ANN001
    code = main(["catalog", "unregister", "orders", "--workspace", str(workspace)])
    assert code == 2
    assert "--yes" in capsys.readouterr().err
    assert names(workspace) == ["existing", "orders"]

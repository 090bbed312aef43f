"""``idp-console docs``: list pages, print a page (rendered or raw), start at an anchor, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from tests.docs.helpers import SITE, write_files

ENTITY = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  title: {title}
  description: {description}
  tags: [python]
{annotations}spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def make_workspace(root: Path) -> Path:
    entities = [
        ENTITY.format(
            name="payment-service",
            title="Payment Service",
            description="Moves money.",
            annotations="  annotations:\n    backstage.io/techdocs-ref: dir:./payment-docs\n",
        ),
        ENTITY.format(name="no-docs", title="No docs", description="Nothing to read.", annotations=""),
        ENTITY.format(
            name="broken-docs",
            title="Broken docs",
            description="Points nowhere.",
            annotations="  annotations:\n    backstage.io/techdocs-ref: dir:./missing\n",
        ),
    ]
    write_files(
        root,
        {
            "idp-console.yaml": "name: Test\ncatalog:\n  sources:\n    - type: dir\n      path: catalog\n",
            "catalog/entities.yaml": "---\n".join(entities),
            **{f"catalog/payment-docs/{k}": v for k, v in SITE.items()},
        },
    )
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def test_list_pages(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--workspace", str(workspace), "docs", "payment-service", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Payment Service")
    assert "  - Home  index.md" in out
    assert "  + Guides" in out
    assert "    - Setup  guides/setup.md" in out
    assert "  ↗ Status page  https://status.example.com" in out
    assert "Other pages (not in the nav)" in out
    assert "    - FAQ  extra/faq.md" in out


def test_print_page_rendered(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "payment-service", "runbook", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "Payment Service › Runbook" in out
    assert "Rollback" in out
    assert "Undo." in out
    assert "##" not in out  # rendered, not raw


def test_page_by_nav_title_from_an_anchor_raw(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "payment-service", "SETUP#install", "--raw", "--workspace", str(workspace)]) == 0
    assert capsys.readouterr().out == "## Install\n\nRun it. Back [home](../index.md).\n"


def test_home_page_by_default(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "component:payment-service", "--raw", "--workspace", str(workspace)]) == 0
    assert capsys.readouterr().out.startswith("# Payment Service")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["docs", "nobody"], "no entity 'nobody'"),
        (["docs", "payment-service", "nope"], "no page 'nope'"),
        (["docs", "payment-service", "runbook#nowhere"], "no heading #nowhere"),
        (["docs", "no-docs"], "has no readable docs"),
        (["docs", "broken-docs"], "has no readable docs"),
    ],
)
def test_errors(workspace: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main([*argv, "--workspace", str(workspace)]) == 1
    assert message in capsys.readouterr().err


def test_notices_go_to_stderr(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "broken-docs", "--workspace", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert "dir:./missing" in err and "does not exist" in err

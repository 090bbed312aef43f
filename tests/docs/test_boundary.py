"""Docs are read only inside the entity's source root: the workspace directory or the git checkout.

A ``dir:`` path that climbs out, an absolute or climbing ``docs_dir``, a symlinked docs folder or
page that leads elsewhere: a warning on that entity, nothing read, nothing indexed by search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.catalog.model import Entity
from backends.docs import load_page, load_site
from backends.docs.model import DocSite
from backends.search.sources import docs_documents
from tests.docs.helpers import make_entity, write_files
from tests.fifo import make_fifo, unblocked

SECRET = "# Secret\n\nhunter2 lives here\n"
PAGE = "# Runbook\n\nRestart the service.\n"


@dataclass
class FakeCheckout:
    path: Path
    commit: str = ""
    warning: str | None = None


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(workspace, a directory beside it holding Markdown nobody should see)."""
    secret = write_files(tmp_path / "private", {"index.md": SECRET, "docs/index.md": SECRET})
    workspace = write_files(tmp_path / "ws", {"catalog/docs/index.md": PAGE})
    return workspace, secret


def _assert_nothing_read(entity: Entity, workspace: Path) -> DocSite:
    """The site is empty with the boundary error, and search indexes nothing of it."""
    site = load_site(entity, root=workspace)
    assert site.root is None and site.pages == []
    assert "outside the entity's source root" in (site.error or "")
    assert not list(docs_documents([entity], root=workspace))
    return site


def _entity(techdocs_ref: str | None, file: str = "catalog/catalog-info.yaml") -> Entity:
    return make_entity(file, Path(file).parent.name, techdocs_ref=techdocs_ref)


def test_dir_ref_climbing_out_of_the_workspace_is_refused(layout: tuple[Path, Path]) -> None:
    workspace, secret = layout
    site = _assert_nothing_read(_entity("dir:../../private"), workspace)
    assert site.error == (
        f"backstage.io/techdocs-ref 'dir:../../private': {secret} is outside the entity's source root "
        f"{workspace}; not read"
    )


def test_dir_ref_through_a_symlink_to_outside_is_refused(layout: tuple[Path, Path]) -> None:
    workspace, secret = layout
    (workspace / "catalog" / "handbook").symlink_to(secret)
    _assert_nothing_read(_entity("dir:./handbook"), workspace)


@pytest.mark.parametrize("docs_dir", ["absolute", "../../private"])
def test_mkdocs_docs_dir_outside_is_refused(layout: tuple[Path, Path], docs_dir: str) -> None:
    workspace, secret = layout
    value = str(secret) if docs_dir == "absolute" else docs_dir
    (workspace / "catalog" / "mkdocs.yml").write_text(f"site_name: Svc\ndocs_dir: {value}\n")
    site = _assert_nothing_read(_entity("dir:."), workspace)
    assert site.error == (
        f"mkdocs.yml: docs_dir '{value}': {secret} is outside the entity's source root {workspace}; not read"
    )


def test_mkdocs_yml_linking_outside_is_not_read(layout: tuple[Path, Path]) -> None:
    workspace, secret = layout
    (secret / "mkdocs.yml").write_text("site_name: Stolen\ndocs_dir: docs\n")
    (workspace / "catalog" / "mkdocs.yml").symlink_to(secret / "mkdocs.yml")
    site = _assert_nothing_read(_entity("dir:."), workspace)
    assert site.title != "Stolen"


def test_fallback_docs_folder_linking_outside_is_refused(layout: tuple[Path, Path]) -> None:
    workspace, secret = layout
    write_files(workspace, {"other/catalog-info.yaml": ""})
    (workspace / "other" / "docs").symlink_to(secret / "docs")
    _assert_nothing_read(_entity(None, "other/catalog-info.yaml"), workspace)


def test_one_page_linking_outside_is_skipped_with_a_notice(layout: tuple[Path, Path]) -> None:
    workspace, secret = layout
    (workspace / "catalog" / "docs" / "leak.md").symlink_to(secret / "index.md")
    entity = _entity("dir:.")
    site = load_site(entity, root=workspace)
    assert site.error is None
    assert [p.path for p in site.pages] == ["index.md"]
    assert (
        f"leak.md: {secret / 'index.md'} is outside the entity's source root {workspace}; not read"
        in site.notices
    )
    assert load_page(site, "leak.md").error == "page 'leak.md' is not part of these docs"
    indexed = list(docs_documents([entity], root=workspace))
    assert [d.target.page for d in indexed] == ["index.md"]
    assert not any("hunter2" in d.fields["body"] for d in indexed)


def test_readme_linking_outside_is_refused(layout: tuple[Path, Path]) -> None:
    workspace, secret = layout
    write_files(workspace, {"lone/catalog-info.yaml": ""})
    (workspace / "lone" / "README.md").symlink_to(secret / "index.md")
    _assert_nothing_read(_entity(None, "lone/catalog-info.yaml"), workspace)


def test_url_ref_climbing_out_of_the_checkout_is_refused(tmp_path: Path) -> None:
    checkout_dir = write_files(tmp_path / "cache" / "checkout", {"docs/index.md": PAGE})
    write_files(tmp_path / "cache", {"other-repo/index.md": SECRET})
    entity = make_entity(
        tmp_path / "c.yaml", techdocs_ref="url:https://github.com/acme/pay/tree/main/../other-repo"
    )
    site = load_site(entity, checkout=lambda url, ref: FakeCheckout(checkout_dir))
    assert site.root is None and site.pages == []
    assert f"is outside the entity's source root {checkout_dir.resolve()}; not read" in (site.error or "")


def test_a_fifo_page_is_not_listed_and_never_hangs(layout: tuple[Path, Path]) -> None:
    workspace, _ = layout
    fifo = make_fifo(workspace / "catalog" / "docs" / "pipe.md")
    entity = _entity("dir:.")
    with unblocked(fifo):
        site = load_site(entity, root=workspace)
        indexed = list(docs_documents([entity], root=workspace))
    assert [p.path for p in site.pages] == ["index.md"]
    assert [d.target.page for d in indexed] == ["index.md"]


def test_dir_ref_inside_the_workspace_still_works(layout: tuple[Path, Path]) -> None:
    workspace, _ = layout
    write_files(workspace, {"shared/runbooks/docs/index.md": PAGE})
    site = load_site(_entity("dir:../shared/runbooks"), root=workspace)
    assert site.error is None and [p.path for p in site.pages] == ["index.md"]

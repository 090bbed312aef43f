"""Finding an entity's docs: dir: and url: techdocs-refs, git sources, fallbacks, failures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from backends.docs import load_page, load_site, locate_docs
from backends.docs.location import parse_git_position, parse_repository_url
from tests.docs.helpers import SITE, make_entity, write_files


@dataclass
class FakeCheckout:
    path: Path
    commit: str = ""
    warning: str | None = None


def clone_checkout(cache: Path):
    """A stand-in for the git backend's sync_repository: a real clone with gitpython."""
    calls: list[tuple[str, str]] = []

    def checkout(url: str, ref: str) -> FakeCheckout:
        calls.append((url, ref))
        target = cache / f"clone-{len(calls)}"
        repo = git.Repo.clone_from(url, target)
        if ref != "HEAD":
            repo.git.checkout(ref)
        return FakeCheckout(target, repo.head.commit.hexsha)

    checkout.calls = calls  # type: ignore[attr-defined]
    return checkout


def make_repo(path: Path, files: dict[str, str | bytes], branch: str = "main") -> git.Repo:
    write_files(path, files)
    repo = git.Repo.init(path, initial_branch=branch)
    repo.git.add(A=True)
    repo.index.commit(
        "docs", author=git.Actor("t", "t@example.com"), committer=git.Actor("t", "t@example.com")
    )
    return repo


def test_dir_ref_is_relative_to_the_entity_file(tmp_path: Path) -> None:
    write_files(tmp_path / "services" / "payments", SITE)
    entity = make_entity(tmp_path / "services" / "catalog-info.yaml", techdocs_ref="dir:./payments")
    location = locate_docs(entity)
    assert location.error is None
    assert location.directory == (tmp_path / "services" / "payments").resolve()
    site = load_site(entity)
    assert site.title == "Payment Service"
    assert site.root == (tmp_path / "services" / "payments" / "docs").resolve()
    assert site.error is None


def test_dir_ref_to_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    entity = make_entity(tmp_path / "catalog-info.yaml", techdocs_ref="dir:./nowhere")
    site = load_site(entity)
    assert site.root is None
    assert site.pages == []
    assert "does not exist" in (site.error or "")
    assert "dir:./nowhere" in (site.error or "")
    assert load_page(site, "index.md").error


def test_unsupported_ref_kind(tmp_path: Path) -> None:
    site = load_site(make_entity(tmp_path / "c.yaml", techdocs_ref="s3:bucket/key"))
    assert "not supported" in (site.error or "")


def test_fallback_to_docs_folder_says_so(tmp_path: Path) -> None:
    write_files(tmp_path, {"docs/index.md": "# Hello\n", "docs/more.md": "# More\n"})
    site = load_site(make_entity(tmp_path / "catalog-info.yaml"))
    assert site.error is None
    assert [p.path for p in site.pages] == ["index.md", "more.md"]
    assert any("no backstage.io/techdocs-ref annotation" in n for n in site.notices)


def test_fallback_to_readme(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": "# My service\n\nHello.\n"})
    site = load_site(make_entity(tmp_path / "catalog-info.yaml"))
    assert [p.path for p in site.pages] == ["README.md"]
    assert site.pages[0].title == "My service"
    assert any("README.md" in n for n in site.notices)
    assert "Hello." in load_page(site, "README.md").markdown


def test_no_docs_at_all(tmp_path: Path) -> None:
    site = load_site(make_entity(tmp_path / "catalog-info.yaml"))
    assert site.root is None
    assert "no docs" in (site.error or "")


def test_url_ref_fetches_a_git_repository(tmp_path: Path) -> None:
    make_repo(tmp_path / "remote", SITE)
    checkout = clone_checkout(tmp_path / "cache")
    entity = make_entity(tmp_path / "c.yaml", techdocs_ref=f"url:{tmp_path / 'remote'}")
    site = load_site(entity, checkout=checkout)
    assert site.error is None, site.notices
    assert checkout.calls == [(str(tmp_path / "remote"), "HEAD")]
    assert {p.path for p in site.pages} >= {"index.md", "runbook.md"}
    assert "Undo." in load_page(site, "runbook.md").markdown


def test_url_ref_with_tree_ref_and_subdirectory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "remote", {f"site/{k}": v for k, v in SITE.items()})
    repo.git.checkout("-b", "docs-branch")
    write_files(tmp_path / "remote", {"site/docs/runbook.md": "# Runbook\n\nOn the branch.\n"})
    repo.git.add(A=True)
    repo.index.commit("branch change")
    repo.git.checkout("main")
    checkout = clone_checkout(tmp_path / "cache")
    ref = f"url:file://{tmp_path / 'remote'}/tree/docs-branch/site"
    site = load_site(make_entity(tmp_path / "c.yaml", techdocs_ref=ref), checkout=checkout)
    assert site.error is None, site.notices
    assert checkout.calls == [(f"file://{tmp_path / 'remote'}", "docs-branch")]
    assert "On the branch." in load_page(site, "runbook.md").markdown


def test_unreachable_repository_is_an_error_not_an_exception(tmp_path: Path) -> None:
    checkout = clone_checkout(tmp_path / "cache")
    entity = make_entity(tmp_path / "c.yaml", techdocs_ref=f"url:file://{tmp_path}/no-such-repo")
    site = load_site(entity, checkout=checkout)
    assert site.root is None
    assert "cannot fetch" in (site.error or "")


def test_dir_ref_inside_a_git_catalog_source(tmp_path: Path) -> None:
    make_repo(
        tmp_path / "remote",
        {"catalog/catalog-info.yaml": "kind: Component\n", **{f"catalog/{k}": v for k, v in SITE.items()}},
    )
    checkout = clone_checkout(tmp_path / "cache")
    url = str(tmp_path / "remote")
    entity = make_entity(f"git:{url}@main:catalog/catalog-info.yaml", techdocs_ref="dir:.")
    site = load_site(entity, checkout=checkout)
    assert site.error is None, site.notices
    assert checkout.calls == [(url, "main")]
    assert site.title == "Payment Service"
    assert str(site.root).startswith(str(tmp_path / "cache"))


def test_git_backend_checkout_when_available(tmp_path: Path) -> None:
    checkout_module = pytest.importorskip("backends.git.checkout")
    make_repo(tmp_path / "remote", SITE)
    entity = make_entity(tmp_path / "c.yaml", techdocs_ref=f"url:{tmp_path / 'remote'}")
    site = load_site(entity)  # the default checkout: the git backend's sync_repository
    assert checkout_module is not None
    assert site.error is None, site.notices
    assert "Undo." in load_page(site, "runbook.md").markdown


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (
            "git:https://github.com/acme/pay@main:catalog-info.yaml",
            ("https://github.com/acme/pay", "main", "catalog-info.yaml"),
        ),
        (
            "git:git@github.com:acme/pay.git@v1.2:a/b.yaml",
            ("git@github.com:acme/pay.git", "v1.2", "a/b.yaml"),
        ),
        ("/abs/catalog-info.yaml", None),
    ],
)
def test_parse_git_position(position: str, expected: tuple[str, str, str] | None) -> None:
    assert parse_git_position(position) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/pay", ("https://github.com/acme/pay", "HEAD", "")),
        (
            "https://github.com/acme/pay/tree/main/docs-site",
            ("https://github.com/acme/pay", "main", "docs-site"),
        ),
        ("https://gitlab.com/acme/pay/-/blob/dev/x/", ("https://gitlab.com/acme/pay", "dev", "x")),
    ],
)
def test_parse_repository_url(url: str, expected: tuple[str, str, str]) -> None:
    assert parse_repository_url(url) == expected


def test_real_catalog_dir_and_git_sources(tmp_path: Path) -> None:
    """End to end with the catalog loader: positions are labels relative to the workspace root."""
    from backends.catalog import load_catalog
    from backends.workspace import load_workspace

    entity_yaml = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
        "  annotations:\n    backstage.io/techdocs-ref: dir:./site\nspec:\n"
        "  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
    make_repo(
        tmp_path / "remote",
        {
            "catalog-info.yaml": entity_yaml.format(name="remote-svc"),
            **{f"site/{k}": v for k, v in SITE.items()},
        },
    )
    write_files(
        tmp_path / "ws",
        {
            "idp-console.yaml": (
                "catalog:\n  sources:\n    - type: dir\n      path: catalog\n"
                f"    - type: git\n      url: {tmp_path / 'remote'}\n      ref: main\n"
            ),
            "catalog/local.yaml": entity_yaml.format(name="local-svc"),
            **{f"catalog/site/{k}": v for k, v in SITE.items()},
        },
    )
    workspace = load_workspace(tmp_path / "ws")
    catalog = load_catalog(workspace)
    for name in ("local-svc", "remote-svc"):
        entity = catalog.get(name)
        assert entity is not None, catalog.problems
        site = load_site(entity, root=workspace.root)
        assert site.error is None, (entity.position, site.notices)
        assert "Undo." in load_page(site, "runbook.md").markdown

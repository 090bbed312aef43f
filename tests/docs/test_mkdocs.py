"""mkdocs.yml: site_name, docs_dir, nested nav, pages outside the nav, broken entries."""

from __future__ import annotations

from pathlib import Path

from backends.docs import load_site_from_dir, unlisted_pages
from tests.docs.helpers import SITE, write_files


def test_nested_nav_with_titles_and_pages(tmp_path: Path) -> None:
    site = load_site_from_dir(write_files(tmp_path, SITE), entity_ref="component:default/payment-service")
    assert site.title == "Payment Service"
    shape = [
        (item.title, item.page, item.url, [(c.title, c.page) for c in item.children]) for item in site.nav
    ]
    assert shape == [
        ("Home", "index.md", None, []),
        ("Guides", None, None, [("Setup", "guides/setup.md"), ("Deploying", "guides/deploy.md")]),
        ("Runbook", "runbook.md", None, []),
        ("Status page", None, "https://status.example.com", []),
    ]
    assert site.nav[1].is_section
    assert site.notices == []


def test_pages_not_in_nav_are_listed_after_the_nav(tmp_path: Path) -> None:
    site = load_site_from_dir(write_files(tmp_path, SITE))
    assert [p.path for p in site.pages] == [
        "index.md",
        "guides/setup.md",
        "guides/deploy.md",
        "runbook.md",
        "extra/faq.md",
    ]
    assert [(p.path, p.title) for p in unlisted_pages(site)] == [("extra/faq.md", "FAQ")]
    assert site.find_page("extra/faq") == "extra/faq.md"


def test_broken_nav_entries_are_reported_and_the_rest_still_works(tmp_path: Path) -> None:
    files = dict(SITE)
    files["mkdocs.yml"] = """\
site_name: Broken
nav:
  - Home: index.md
  - Gone: missing.md
  - Escape: ../../etc/passwd
  - {Two: a.md, Keys: b.md}
  - 42
  - Weird: {nested: mapping}
  - Runbook: runbook.md
"""
    site = load_site_from_dir(write_files(tmp_path, files))
    titles = [(item.title, item.page, bool(item.error)) for item in site.nav]
    assert titles[0] == ("Home", "index.md", False)
    assert titles[-1] == ("Runbook", "runbook.md", False)
    assert [t for t in titles if t[2]] == [
        ("Gone", None, True),
        ("Escape", None, True),
        ("{'Two': 'a.md', 'Keys': 'b.md'}", None, True),
        ("42", None, True),
        ("Weird", None, True),
    ]
    assert any("missing.md" in n and "does not exist" in n for n in site.notices)
    assert any("outside the docs directory" in n for n in site.notices)
    assert len(site.notices) == 5


def test_custom_docs_dir(tmp_path: Path) -> None:
    write_files(tmp_path, {"mkdocs.yml": "site_name: X\ndocs_dir: content\n", "content/index.md": "# X\n"})
    site = load_site_from_dir(tmp_path)
    assert site.root == (tmp_path / "content").resolve()
    assert [p.path for p in site.pages] == ["index.md"]


def test_missing_docs_dir_is_an_error(tmp_path: Path) -> None:
    write_files(tmp_path, {"mkdocs.yml": "site_name: X\n"})
    site = load_site_from_dir(tmp_path)
    assert site.root is None
    assert "docs_dir 'docs'" in (site.error or "")


def test_invalid_yaml_falls_back_to_listing_files(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"mkdocs.yml": "site_name: [unclosed\n", "docs/index.md": "# Home\n", "docs/b.md": "# B\n"}
    )
    site = load_site_from_dir(tmp_path, title="Fallback title")
    assert site.title == "Fallback title"
    assert [p.path for p in site.pages] == ["index.md", "b.md"]
    assert any("invalid YAML" in n for n in site.notices)


def test_no_mkdocs_yml_lists_markdown_files_with_titles(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docs/zeta.md": "# Zeta page\n",
            "docs/index.md": "Intro\n=====\n",
            "docs/sub/getting-started.md": "no heading here\n",
            "docs/notes.txt": "ignored",
            "docs/.hidden/secret.md": "# hidden\n",
        },
    )
    site = load_site_from_dir(tmp_path)
    assert [(p.path, p.title) for p in site.pages] == [
        ("index.md", "Intro"),
        ("zeta.md", "Zeta page"),
        ("sub/getting-started.md", "Getting started"),
    ]
    assert [item.page for item in site.nav] == ["index.md", "zeta.md", "sub/getting-started.md"]
    assert any("no mkdocs.yml" in n for n in site.notices)
    assert site.home == "index.md"


def test_nav_must_be_a_list(tmp_path: Path) -> None:
    write_files(tmp_path, {"mkdocs.yml": "nav: index.md\n", "docs/index.md": "# Home\n"})
    site = load_site_from_dir(tmp_path)
    assert any("nav must be a list" in n for n in site.notices)
    assert [p.path for p in site.pages] == ["index.md"]

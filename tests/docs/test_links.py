"""Link resolution inside a docs site."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.docs import LinkKind, entity_docs_href, load_site_from_dir, resolve_link
from tests.docs.helpers import SITE, write_files


@pytest.fixture
def site(tmp_path: Path):
    return load_site_from_dir(write_files(tmp_path, SITE), entity_ref="component:default/payment-service")


@pytest.mark.parametrize(
    ("from_page", "href", "kind", "page", "anchor"),
    [
        ("index.md", "runbook.md#rollback", LinkKind.PAGE, "runbook.md", "rollback"),
        ("index.md", "#top", LinkKind.PAGE, "index.md", "top"),
        ("guides/setup.md", "../index.md", LinkKind.PAGE, "index.md", None),
        ("guides/setup.md", "deploy.md", LinkKind.PAGE, "guides/deploy.md", None),
        ("guides/setup.md", "./deploy/", LinkKind.PAGE, "guides/deploy.md", None),
        ("index.md", "runbook/", LinkKind.PAGE, "runbook.md", None),
        ("index.md", "extra/faq.md", LinkKind.PAGE, "extra/faq.md", None),
        ("index.md", "guides/setup.md?x=1#install", LinkKind.PAGE, "guides/setup.md", "install"),
        (
            "index.md",
            "/docs/default/component/payment-service/runbook/#rollback",
            LinkKind.PAGE,
            "runbook.md",
            "rollback",
        ),
    ],
)
def test_internal_links(site, from_page, href, kind, page, anchor) -> None:
    target = resolve_link(site, from_page, href)
    assert (target.kind, target.page, target.anchor) == (kind, page, anchor)


def test_link_to_another_entitys_docs(site) -> None:
    target = resolve_link(site, "index.md", "/docs/default/Component/ledger-service/runbook/#replay")
    assert target.kind is LinkKind.ENTITY_DOCS
    assert (target.entity_ref, target.page, target.anchor) == (
        "component:default/ledger-service",
        "runbook",
        "replay",
    )


@pytest.mark.parametrize(
    "href", ["https://example.com/x", "mailto:oncall@example.com", "//cdn.example.com/a"]
)
def test_external_links(site, href) -> None:
    target = resolve_link(site, "index.md", href)
    assert target.kind is LinkKind.EXTERNAL
    assert target.url and target.url.endswith(href.lstrip("/").split("//")[-1])


def test_file_link(site) -> None:
    target = resolve_link(site, "guides/setup.md", "../img/arch.png")
    assert target.kind is LinkKind.FILE
    assert target.url and target.url.endswith("img/arch.png")


@pytest.mark.parametrize(
    ("href", "message"),
    [
        ("../../../etc/passwd", "leaves the docs directory"),
        ("missing.md", "does not exist"),
        ("/absolute/path", "site-absolute"),
        ("/docs/default/component/payment-service/nope/", "does not exist"),
        ("", "empty link"),
    ],
)
def test_broken_links(site, href, message) -> None:
    target = resolve_link(site, "index.md", href)
    assert target.kind is LinkKind.ERROR
    assert message in (target.message or "")


def test_entity_docs_href() -> None:
    assert entity_docs_href("component:default/payment-service") == "/docs/default/component/payment-service/"
    assert (
        entity_docs_href("component:default/payment-service", "guides/index.md", "x")
        == "/docs/default/component/payment-service/guides/#x"
    )
    assert entity_docs_href("api:ops/x", "runbook.md") == "/docs/ops/api/x/runbook/"

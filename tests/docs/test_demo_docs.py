"""The demo workspace's docs: every site loads cleanly and every link lands on a page and anchor."""

from __future__ import annotations

import re

import pytest

from backends.docs import LinkKind, load_page, load_site_from_dir, resolve_link
from backends.workspace import DEMO_WORKSPACE_DIR

CATALOG = DEMO_WORKSPACE_DIR / "catalog"
SITES = {
    "component:default/payment-service": CATALOG / "payment-service",
    "component:default/ledger-service": CATALOG / "ledger-service",
    "component:default/auth-service": CATALOG / "auth-service",
    "component:default/idp-console": CATALOG / "idp-console",
}
_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)")


def _site(ref: str):
    return load_site_from_dir(SITES[ref], entity_ref=ref)


@pytest.mark.parametrize("ref", sorted(SITES))
def test_demo_site_links_resolve(ref: str) -> None:
    site = _site(ref)
    assert site.error is None
    assert [n for n in site.notices if "no mkdocs.yml" not in n] == []
    checked = 0
    for info in site.pages:
        page = load_page(site, info.path)
        assert page.error is None and page.notices == []
        for text, href in _LINK.findall(page.markdown):
            if text.startswith("image:"):
                continue  # images are shown as alt text + path; the demo ships no pixels
            target = resolve_link(site, info.path, href)
            assert target.kind is not LinkKind.ERROR, (info.path, href, target.message)
            if target.kind is LinkKind.PAGE and target.anchor:
                assert load_page(site, target.page).anchor_line(target.anchor), (info.path, href)
            if target.kind is LinkKind.ENTITY_DOCS:
                other = _site(target.entity_ref)
                page_path = other.find_page(target.page or "")
                assert page_path, (info.path, href)
                if target.anchor:
                    assert load_page(other, page_path).anchor_line(target.anchor), (info.path, href)
            checked += 1
    assert checked or ref == "component:default/auth-service" or site.pages


def test_payment_runbook_has_the_promised_parts() -> None:
    site = _site("component:default/payment-service")
    assert [item.title for item in site.nav] == [
        "Overview",
        "Architecture",
        "Runbook",
        "API",
        "Decisions",
        "Dashboards",
    ]
    runbook = load_page(site, "runbook.md")
    assert "> **Warning: Money is involved**" in runbook.markdown
    assert "> **Note: What a rollback does**" in runbook.markdown
    assert "| Alert | Severity | First step |" in runbook.markdown
    assert "```bash" in runbook.markdown
    assert {h.anchor for h in runbook.headings} >= {"acquirer-outage", "rollback", "who-to-call"}


def test_fallback_docs_next_to_pipelines() -> None:
    from backends.catalog.model import Entity, SourcePosition
    from backends.docs import load_site

    entity = Entity(
        {"kind": "Component", "metadata": {"name": "warehouse-loader"}},
        SourcePosition("catalog/data-platform/pipelines.yaml"),
    )
    site = load_site(entity, root=DEMO_WORKSPACE_DIR)
    assert site.error is None
    assert [p.title for p in site.pages] == ["Data platform handbook"]
    assert any("no backstage.io/techdocs-ref annotation" in n for n in site.notices)


def test_demo_catalog_entities_have_their_docs() -> None:
    from backends.catalog import load_catalog
    from backends.docs import load_site
    from backends.workspace import load_demo_workspace

    workspace = load_demo_workspace()
    catalog = load_catalog(workspace)
    for name, title in (
        ("payment-service", "Payment Service"),
        ("ledger-service", "Ledger Service"),
        ("auth-service", "Auth Service"),
        ("idp-console", "idp-console handbook"),
    ):
        entity = catalog.get(name)
        assert entity is not None
        site = load_site(entity, root=workspace.root)
        assert site.error is None, (name, site.notices)
        assert site.title == title

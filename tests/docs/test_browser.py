"""The docs reader's rules without a terminal: navigation, stale answers, history, links, copied links."""

from __future__ import annotations

from pathlib import Path

import backends.docs.browser as docs
from backends.catalog import catalog_from_files
from tests.docs.helpers import SITE, write_files

ENTITY = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment-service
  annotations: {backstage.io/techdocs-ref: "dir:."}
spec: {type: service, lifecycle: production, owner: team-a}
"""
REF = "component:default/payment-service"


def open_at(browser: docs.DocsBrowser, tmp_path: Path, location: docs.DocLocation) -> docs.PageLoaded:
    """Navigate as the screen does, running the worker's load inline."""
    catalog = catalog_from_files([tmp_path / "catalog-info.yaml"], root=tmp_path)
    step = browser.navigate(location)
    assert step.kind is docs.StepKind.LOAD
    site, page = docs.DocsBrowser.load(step.request, location, catalog, tmp_path)
    assert isinstance(site, docs.SiteLoaded) and isinstance(page, docs.PageLoaded)
    assert browser.site_loaded(site) is site.site and browser.after_site() is None
    assert browser.page_loaded(page)
    return page


def test_reading_following_links_and_going_back(tmp_path: Path) -> None:
    write_files(tmp_path, {**SITE, "catalog-info.yaml": ENTITY})
    browser = docs.DocsBrowser()

    home = open_at(browser, tmp_path, docs.DocLocation("payment-service"))  # as typed on the : line

    assert home.page.path == "index.md" and browser.current == docs.DocLocation(REF, "index.md")
    assert browser.crumb == "docs › payment-service › index.md"
    follow = browser.follow("runbook.md#rollback")
    assert follow.action is docs.LinkAction.NAVIGATE and follow.location == docs.DocLocation(
        REF, "runbook.md", "rollback"
    )
    step = browser.navigate(follow.location, scroll_y=12.0)  # the site is loaded: no second load
    assert step.kind is docs.StepKind.SHOW_SITE
    assert browser.open_page(follow.location) == docs.DocLocation(REF, "runbook.md", "rollback")
    assert browser.page_loaded(docs.DocsBrowser.load_page(step.request, browser.site, follow.location))
    assert browser.link("rollback", "https://docs.example.com") == (
        "https://docs.example.com/docs/default/component/payment-service/runbook/#rollback"
    )
    back = browser.step_history(-1, scroll_y=3.0)
    assert back == docs.DocLocation(REF, "index.md", None, 12.0)  # where the page was left
    assert browser.step_history(-1, scroll_y=0.0) is None  # nothing further back
    assert browser.follow("https://status.example.com").action is docs.LinkAction.EXTERNAL
    assert browser.follow("nowhere.md").action is docs.LinkAction.BROKEN


def test_a_stale_answer_is_dropped_and_a_missing_page_says_why(tmp_path: Path) -> None:
    write_files(tmp_path, {**SITE, "catalog-info.yaml": ENTITY})
    browser = docs.DocsBrowser()
    open_at(browser, tmp_path, docs.DocLocation(REF))
    old = browser.request
    browser.navigate(docs.DocLocation("component:default/elsewhere"))  # a newer navigation started

    assert browser.site_loaded(docs.SiteLoaded(old, REF, browser.site)) is None
    problem = browser.site_loaded(
        docs.SiteLoaded(browser.request, "component:default/elsewhere", None, "not here")
    )
    assert problem == docs.Problem("No docs", "not here")
    browser.navigate(docs.DocLocation(REF, "missing.md"))
    missing = browser.open_page(docs.DocLocation(REF, "missing.md"))
    assert isinstance(missing, docs.Problem) and missing.title == "Page not found"

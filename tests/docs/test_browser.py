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


def test_nav_entries_and_headings_lead_where_they_say(tmp_path: Path) -> None:
    write_files(tmp_path, {**SITE, "catalog-info.yaml": ENTITY})
    browser = docs.DocsBrowser()
    assert browser.heading_location("rollback") is None  # no page yet
    assert browser.choose_nav("runbook.md", None, None).action is docs.LinkAction.NOTHING
    open_at(browser, tmp_path, docs.DocLocation(REF))

    assert browser.choose_nav("runbook.md", None, None) == docs.LinkOutcome(
        docs.LinkAction.NAVIGATE, docs.DocLocation(REF, "runbook.md")
    )
    assert browser.choose_nav(None, "https://status.example.com", None) == docs.LinkOutcome(
        docs.LinkAction.EXTERNAL, url="https://status.example.com"
    )
    assert browser.choose_nav("gone.md", None, "gone.md is not a page") == docs.LinkOutcome(
        docs.LinkAction.BROKEN, message="gone.md is not a page"
    )
    assert browser.heading_location("setup") == docs.DocLocation(REF, "index.md", "setup")


def test_a_problem_page_says_why_and_the_ways_on() -> None:
    page = docs.Problem("Page not found", "'x.md' is not a page of Payments.").markdown
    assert page.startswith("# Page not found\n\n'x.md' is not a page of Payments.\n\n")
    assert "**o** to see every entity that has docs, **backspace** to go back" in page


def test_escape_closes_find_then_leaves_the_filter_then_goes_back() -> None:
    def leave(**state: bool) -> docs.Leave:
        where = {"finding": False, "on_sites": False, "in_filter": False, "stacked": False, "has_page": True}
        return docs.leave(**{**where, **state})

    assert leave(finding=True, on_sites=True, in_filter=True, stacked=True) is docs.Leave.CLOSE_FIND
    assert leave(on_sites=True, in_filter=True, stacked=True) is docs.Leave.FILTER_TO_LIST
    assert leave(stacked=True) is docs.Leave.POP  # opened with d on an entity: back to it
    assert leave() is docs.Leave.SITES  # from a page, the list of every site
    assert leave(on_sites=True) is docs.Leave.PAGE  # and from the list back to the page
    assert leave(on_sites=True, has_page=False) is docs.Leave.STAY  # the docs mode's root

"""The docs screen driven by keyboard: anchors, links (page, other entity, web), history, find, copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from screens.docs import DocsScreen
from tests.docs.helpers import SITE, write_files
from tests.screens.helpers import screen_text, until, wait_for_catalog, workspace_app, write_workspace
from widgets.doc_nav import DocNav, DocToc
from widgets.doc_view import DocView

ENTITY = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  title: {title}
  annotations:
    backstage.io/techdocs-ref: {ref}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""

PAYMENTS = dict(SITE)
PAYMENTS["docs/index.md"] = (
    "# Payment Service\n\n"
    "See the [runbook](runbook.md#rollback), "
    "the [ledger docs](/docs/default/component/ledger/replay/#replay-a-day), "
    "the [status page](https://status.example.com) and a [broken link](nowhere.md).\n\n"
    '!!! warning "Careful"\n    Money moves here.\n'
)
PAYMENTS["docs/runbook.md"] = (
    "# Runbook\n\n## Alerts\n\n"
    + "".join(f"Alert line {i} about the queue.\n\n" for i in range(40))
    + "## Rollback\n\nUndo the deploy. Undo is safe.\n\n"
    + "".join(f"Filler {i}.\n\n" for i in range(40))
)
LEDGER = {
    "mkdocs.yml": "site_name: Ledger\nnav:\n  - index.md\n  - replay.md\n",
    "docs/index.md": "# Ledger\n\nPostings.\n",
    "docs/replay.md": "# Replaying\n\n"
    + "".join(f"Para {i}.\n\n" for i in range(40))
    + "## Replay a day\n\nRun it.\n\n"
    + "".join(f"More {i}.\n\n" for i in range(40)),
}


def make_workspace(root: Path) -> Path:
    files = {
        "entities.yaml": "---\n".join(
            [
                ENTITY.format(name="payment-service", title="Payment Service", ref="dir:./payments"),
                ENTITY.format(name="ledger", title="Ledger", ref="dir:./ledger"),
                ENTITY.format(name="broken", title="Broken", ref="dir:./missing"),
            ]
        )
    }
    write_workspace(root, files)
    write_files(root / "catalog" / "payments", PAYMENTS)
    write_files(root / "catalog" / "ledger", LEDGER)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


async def open_docs(pilot: Pilot, *args: str | None) -> DocsScreen:
    await wait_for_catalog(pilot)
    screen = DocsScreen(*args)
    pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.browser.page is not None and screen.query_one(DocView).complete)
    return screen


def page_of(screen: DocsScreen) -> tuple[str | None, str | None]:
    location = screen.browser.history.current
    assert location is not None
    return location.entity_ref, screen.browser.page.path if screen.browser.page else None


def top_line(screen: DocsScreen) -> str:
    view = screen.query_one(DocView)
    return view.text_lines()[round(view.scroll_y)].strip()


async def test_opens_page_at_anchor_with_nav_and_contents(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service", "runbook.md", "rollback")
        assert page_of(screen) == ("component:default/payment-service", "runbook.md")
        assert top_line(screen) == "Rollback"
        nav = screen.query_one(DocNav)
        assert [str(node.label) for node in nav.root.children] == [
            "Home",
            "Guides",
            "Runbook",
            "Status page ↗",
            "Other pages",
        ]
        toc = screen.query_one(DocToc)
        assert [toc.get_option_at_index(i).id for i in range(toc.option_count)] == ["alerts", "rollback"]
        assert "docs › payment-service › runbook.md" in screen_text(app)


async def test_links_history_and_other_entities(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service")
        assert page_of(screen) == ("component:default/payment-service", "index.md")
        view = screen.query_one(DocView)
        assert [link.href for link in view.links][:2] == [
            "runbook.md#rollback",
            "/docs/default/component/ledger/replay/#replay-a-day",
        ]

        await pilot.press("right_square_bracket", "enter")  # first link: runbook#rollback
        await until(pilot, lambda: page_of(screen)[1] == "runbook.md" and view.complete)
        assert top_line(screen) == "Rollback"

        await pilot.press("backspace")
        await until(pilot, lambda: page_of(screen)[1] == "index.md" and view.complete)
        await pilot.press("alt+right")
        await until(pilot, lambda: page_of(screen)[1] == "runbook.md" and view.complete)
        await pilot.press("backspace")
        await until(pilot, lambda: page_of(screen)[1] == "index.md" and view.complete)

        await pilot.press("right_square_bracket", "right_square_bracket", "enter")  # the ledger's docs
        await until(
            pilot, lambda: page_of(screen) == ("component:default/ledger", "replay.md") and view.complete
        )
        assert top_line(screen) == "Replay a day"
        assert str(screen.query_one("#site-title", Static).render()) == "Ledger"

        await pilot.press("backspace")
        await until(
            pilot, lambda: page_of(screen)[0] == "component:default/payment-service" and view.complete
        )


async def test_web_links_are_copied_never_opened(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = workspace_app(workspace)
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service")
        await pilot.press(*["right_square_bracket"] * 3, "enter")
        await pilot.pause()
        assert app.clipboard == "https://status.example.com"
        assert opened == []
        assert page_of(screen)[1] == "index.md"
        # the web link is a terminal hyperlink (OSC 8) in the rendered page; relative links are not
        view = screen.query_one(DocView)
        styles = [
            seg.style
            for strip in view._rendered.lines
            for seg in strip
            if seg.style and seg.style.meta.get("href")
        ]
        assert {s.link for s in styles if s.link} == {"https://status.example.com"}


async def test_broken_link_and_missing_docs_are_messages(workspace: Path) -> None:
    app = workspace_app(workspace)
    messages: list[str] = []
    async with app.run_test(
        size=(120, 36), message_hook=lambda m: messages.append(type(m).__name__)
    ) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service")
        await pilot.press(*["right_square_bracket"] * 4, "enter")
        await pilot.pause()
        assert "LinkActivated" in messages
        assert any("nowhere.md" in str(n.message) for n in app._notifications)
        assert page_of(screen)[1] == "index.md"

        broken = DocsScreen("component:default/broken")
        app.push_screen(broken)
        await until(pilot, lambda: broken.browser.site is not None and broken.query_one(DocView).complete)
        text = screen_text(app)
        assert "No docs for this entity" in text
        assert "does not exist" in text


async def test_find_in_page(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service", "runbook.md")
        await pilot.press("slash", *"undo")
        assert screen.query_one("#find", Input).has_focus
        status = screen.query_one("#find-status", Static)
        await until(pilot, lambda: "1/2" in str(status.render()))
        assert top_line(screen) != "Runbook"  # scrolled to the match
        await pilot.press("enter")
        await until(pilot, lambda: "2/2" in str(status.render()))
        await pilot.press("escape")  # closes the find bar, back in the page
        assert screen.query_one(DocView).has_focus
        await pilot.press("N")  # no find active any more: nothing happens, no crash
        await pilot.press("slash", *"zzz")
        await until(pilot, lambda: "no match" in str(status.render()))


async def test_copy_page_link_at_current_heading(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_docs(pilot, "component:default/payment-service", "runbook.md", "rollback")
        await pilot.press("y")
        assert app.clipboard == "/docs/default/component/payment-service/runbook/#rollback"


async def test_toc_and_nav_selection(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service", "runbook.md")
        await pilot.press("t", "down", "down", "enter")  # second heading: Rollback
        await until(pilot, lambda: top_line(screen) == "Rollback")
        nav = screen.query_one(DocNav)
        nav.focus()
        nav.move_cursor(nav.root.children[1].children[0])  # Guides › Setup
        await pilot.press("enter")
        await until(pilot, lambda: page_of(screen)[1] == "guides/setup.md")


async def test_site_picker_lists_docs_and_opens_one(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_catalog(pilot)
        screen = DocsScreen()
        await app.push_screen(screen)
        sites = screen.query_one("#sites", OptionList)
        await until(pilot, lambda: sites.option_count == 3 and sites.get_option_at_index(0).id is not None)
        ids = [sites.get_option_at_index(i).id for i in range(sites.option_count)]
        assert ids == [
            "component:default/broken",
            "component:default/ledger",
            "component:default/payment-service",
        ]
        await pilot.press("slash", *"pay", "enter", "enter")
        await until(pilot, lambda: screen.browser.page is not None)
        assert page_of(screen) == ("component:default/payment-service", "index.md")
        await pilot.press("o")
        assert screen.query_one("#sites", OptionList).has_focus


async def test_huge_page_first_paint_then_complete(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    body = "# Big\n\n" + "".join(f"## Part {i}\n\n" + "words " * 300 + "\n\n" for i in range(120))
    (root / "catalog" / "payments" / "docs" / "big.md").write_text(body)
    app = workspace_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service", "big.md", "part-100")
        view = screen.query_one(DocView)
        assert view.line_count > 1000
        assert top_line(screen) == "Part 100"  # the anchor waited for the rest of the page


# -- snapshots (fixed size; look at the SVGs under __snapshots__ before accepting changes) -------------
SNAPSHOT_SIZE = (110, 30)


def test_snapshot_runbook_at_anchor(workspace: Path, snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await open_docs(pilot, "component:default/payment-service", "runbook.md", "rollback")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(workspace_app(workspace), terminal_size=SNAPSHOT_SIZE, run_before=run_before)


def test_snapshot_home_with_callout_link_cursor_and_find(workspace: Path, snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        screen = await open_docs(pilot, "component:default/payment-service")
        await pilot.press("right_square_bracket", "right_square_bracket", "slash", *"money")
        screen.query_one("#find", Input).cursor_blink = False
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(workspace_app(workspace), terminal_size=SNAPSHOT_SIZE, run_before=run_before)


# -- the page view's rendering, without an app ------------------------------------------------------
def test_sections_chunks_and_anchor_lines() -> None:
    from backends.docs.markdown import prepare
    from widgets.doc_view import chunk_sections, render_sections, split_sections

    long_title = "A heading long enough to wrap over two lines at this width " * 2
    source = (
        "Intro text.\n\n# Title\n\nBody.\n\n"
        f"## {long_title}\n\nMore [next](next.md) and [web](https://example.com).\n\n## Last\n\nEnd.\n"
    )
    page = prepare(source)
    sections = split_sections(page.markdown, [(h.anchor, h.line) for h in page.headings])
    assert [s.anchor for s in sections] == ["", "title", page.headings[1].anchor, "last"]
    assert "\n".join(s.markdown for s in sections) == page.markdown
    assert [len(c) for c in chunk_sections(sections, 10, 10_000)] == [1, 3]

    whole = render_sections(sections, 40, code_theme="monokai")
    lines = [strip.text.strip() for strip in whole.lines]
    for anchor, expected in (("title", "Title"), ("last", "Last")):
        assert lines[whole.anchors[anchor]] == expected
    assert lines[whole.anchors[page.headings[1].anchor]].startswith("A heading long enough")
    # rendering in chunks gives the same lines and anchors as one pass
    first, second = chunk_sections(sections, 10, 10_000)
    part1 = render_sections(first, 40, code_theme="monokai")
    part2 = render_sections(second, 40, code_theme="monokai", first_line=len(part1.lines))
    assert part2.anchors["last"] == len(part1.lines) + [s.text.strip() for s in part2.lines].index("Last")
    hrefs = {link.href: link for link in whole.links}
    assert set(hrefs) == {"next.md", "https://example.com"}
    styles = {
        seg.style.meta["href"]: seg.style.link
        for strip in whole.lines
        for seg in strip
        if seg.style and seg.style.meta.get("href")
    }
    assert styles == {"next.md": None, "https://example.com": "https://example.com"}


def test_unlisted_heading_inside_a_quote_does_not_shift_anchors() -> None:
    from backends.docs.markdown import prepare
    from widgets.doc_view import render_sections, split_sections

    page = prepare("# Top\n\n> ## Quoted heading\n>\n> text\n\n## Real\n\nBody.\n")
    assert [h.anchor for h in page.headings] == ["top", "real"]  # the quoted one is not listed
    sections = split_sections(page.markdown, [(h.anchor, h.line, h.text) for h in page.headings])
    rendered = render_sections(sections, 50, code_theme="monokai")
    lines = [strip.text.strip() for strip in rendered.lines]
    assert lines[rendered.anchors["real"]] == "Real"


async def test_clicking_a_link_follows_it(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "component:default/payment-service")
        view = screen.query_one(DocView)
        link = view.links[0]
        assert link.href == "runbook.md#rollback"
        # +1: the view's left padding; y is relative to the top of the (unscrolled) view
        await pilot.click(DocView, offset=(link.start + 2, link.line))
        await until(pilot, lambda: page_of(screen)[1] == "runbook.md" and view.complete)
        assert top_line(screen) == "Rollback"


async def test_entity_by_plain_name_becomes_its_canonical_ref(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_docs(pilot, "payment-service", "runbook")
        assert page_of(screen) == ("component:default/payment-service", "runbook.md")
        await pilot.press("y")
        assert app.clipboard == "/docs/default/component/payment-service/runbook/"

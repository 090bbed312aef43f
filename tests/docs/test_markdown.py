"""Preparing mkdocs Markdown for a terminal: callouts, images, heading anchors, plain text."""

from __future__ import annotations

from backends.docs.markdown import callout_kind, plain_text, prepare, slugify


def test_admonition_becomes_a_titled_blockquote() -> None:
    source = '!!! warning "Do not restart"\n    The queue drains first.\n\n    Really.\n\nAfter.\n'
    prepared = prepare(source)
    assert prepared.markdown == (
        "> **Warning: Do not restart**\n>\n> The queue drains first.\n>\n> Really.\n\nAfter.\n"
    )
    assert callout_kind(prepared.markdown.splitlines()[0]) == "warning"


def test_admonition_without_title_and_with_empty_title() -> None:
    assert prepare("!!! tip\n    Use the cache.\n").markdown == "> **Tip**\n>\n> Use the cache.\n"
    assert prepare('!!! note ""\n    Bare.\n').markdown == "> Bare.\n"


def test_collapsible_nested_and_code_inside() -> None:
    source = (
        '??? danger "Outer"\n'
        "    Text.\n\n"
        "    !!! info\n"
        "        Inner.\n\n"
        "    ```bash\n"
        "    kubectl get pods\n"
        "    ```\n"
    )
    lines = prepare(source).markdown.splitlines()
    assert lines[0] == "> **Danger: Outer**"
    assert "> > **Info**" in lines
    assert "> > Inner." in lines
    assert "> kubectl get pods" in lines


def test_admonition_syntax_inside_code_is_left_alone() -> None:
    source = "```\n!!! note\n    not an admonition\n```\n"
    assert prepare(source).markdown == source


def test_images_become_alt_text_links() -> None:
    prepared = prepare('Look: ![Architecture diagram](img/arch.png "title") and `![not](code.png)`\n')
    assert prepared.markdown == (
        "Look: [image: Architecture diagram (img/arch.png)](img/arch.png) and `![not](code.png)`\n"
    )
    assert [(i.alt, i.src) for i in prepared.images] == [("Architecture diagram", "img/arch.png")]


def test_heading_anchors_follow_mkdocs() -> None:
    source = (
        "# Payment Service\n\n"
        "## Data flow & retries\n\n"
        "## Data flow & retries\n\n"
        "```python\n# not a heading\n```\n\n"
        "### Custom {#my-id}\n\n"
        "Setext title\n------------\n\n"
        "## `kubectl` **commands** ##\n"
    )
    headings = prepare(source).headings
    assert [(h.level, h.text, h.anchor) for h in headings] == [
        (1, "Payment Service", "payment-service"),
        (2, "Data flow & retries", "data-flow-retries"),
        (2, "Data flow & retries", "data-flow-retries_1"),
        (3, "Custom", "my-id"),
        (2, "Setext title", "setext-title"),
        (2, "kubectl commands", "kubectl-commands"),
    ]
    assert headings[0].line == 1
    assert headings[4].line == 13


def test_slugify_unicode() -> None:
    assert slugify("Über Café – déploiement") == "uber-cafe-deploiement"


def test_plain_text_keeps_words_and_line_count() -> None:
    markdown = "# Title\n\nSee [the runbook](runbook.md) and **bold**.\n\n| a | b |\n|---|---|\n"
    text = plain_text(markdown)
    assert "the runbook" in text
    assert "runbook.md" not in text
    assert "**" not in text
    assert text.count("\n") == markdown.count("\n")

"""Bad pages: binary, not UTF-8, huge, missing — each a message, the site still browsable."""

from __future__ import annotations

from pathlib import Path

from backends.docs import load_page, load_site_from_dir
from tests.docs.helpers import write_files


def _site(tmp_path: Path, files: dict[str, str | bytes], **kwargs):
    return load_site_from_dir(write_files(tmp_path, files), **kwargs)


def test_binary_file_named_md(tmp_path: Path) -> None:
    site = _site(tmp_path, {"docs/index.md": "# Home\n", "docs/blob.md": b"\x00\x01\x02binary"})
    page = load_page(site, "blob.md")
    assert page.error and "binary" in page.error
    assert load_page(site, "index.md").error is None


def test_non_utf8_page_is_shown_with_a_notice(tmp_path: Path) -> None:
    site = _site(tmp_path, {"docs/latin.md": "# Caf\xe9\n\nna\xefve\n".encode("latin-1")})
    page = load_page(site, "latin.md")
    assert page.error is None
    assert "\N{REPLACEMENT CHARACTER}" in page.markdown
    assert any("not valid UTF-8" in n for n in page.notices)


def test_huge_page_is_truncated_with_a_message(tmp_path: Path) -> None:
    body = "# Big\n\n" + "\n".join(f"line {i} " + "x" * 80 for i in range(20_000))
    site = _site(tmp_path, {"docs/big.md": body})
    site.max_page_bytes = 64 * 1024
    page = load_page(site, "big.md")
    assert page.error is None
    assert len(page.markdown.encode()) <= 64 * 1024
    assert page.markdown.endswith("x")  # cut at a line boundary
    assert any("only the first 64 KB" in n for n in page.notices)
    assert page.size > 1_000_000


def test_unknown_page(tmp_path: Path) -> None:
    site = _site(tmp_path, {"docs/index.md": "# Home\n"})
    assert "not part of these docs" in (load_page(site, "../../etc/passwd").error or "")
    assert load_page(site, "nope.md").error


def test_page_deleted_after_listing(tmp_path: Path) -> None:
    site = _site(tmp_path, {"docs/index.md": "# Home\n", "docs/gone.md": "# Gone\n"})
    (tmp_path / "docs" / "gone.md").unlink()
    assert "cannot read" in (load_page(site, "gone.md").error or "")


def test_page_title_prefers_nav_then_h1(tmp_path: Path) -> None:
    files = {
        "mkdocs.yml": "nav:\n  - Start here: index.md\n  - other.md\n",
        "docs/index.md": "# Welcome\n",
        "docs/other.md": "# Other page\n",
    }
    site = _site(tmp_path, files)
    assert load_page(site, "index.md").title == "Start here"
    assert load_page(site, "other.md").title == "Other page"

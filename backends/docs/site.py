"""Building a ``DocSite`` from a docs location and loading its pages.

Sites are cheap to build (a directory walk plus the first few KB of each page for its title);
pages are read on demand, capped in size, and every problem becomes a notice on the site or the
page so a viewer can always show *something*.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from backends.docs import markdown as md
from backends.docs.location import Checkout, DocsLocation, inside, locate_docs, outside
from backends.docs.mkdocs import find_config, parse_nav, read_config
from backends.docs.model import DocPage, DocSite, NavItem, PageInfo

MARKDOWN_SUFFIXES = (".md", ".markdown")
MAX_PAGE_BYTES = 512 * 1024  # big enough for a 200 KB generated reference, small enough to stay snappy
MAX_PAGES = 5000  # a docs dir with more Markdown files than this is almost certainly a mistake
_TITLE_PROBE_BYTES = 8192
_FIRST_H1 = re.compile(r"^ {0,3}# +(.+?)[ #]*$", re.MULTILINE)


def load_site(
    entity: Any,
    *,
    root: Path | None = None,
    checkout: Checkout | None = None,
    max_page_bytes: int = MAX_PAGE_BYTES,
    probe_titles: bool = True,
) -> DocSite:
    """The docs site of a catalog entity (resolving its techdocs-ref), never raising.

    ``root``: the workspace directory, which local entity positions are relative to.
    ``probe_titles=False`` skips reading each page's head for its ``# Title`` (pages outside the
    nav are then titled by file name) — for callers that read every page anyway, like search.
    """
    location = locate_docs(entity, root=root, checkout=checkout)
    title = getattr(entity, "title", "") or getattr(entity, "name", "") or location.entity_ref
    return site_from_location(location, title=title, max_page_bytes=max_page_bytes, probe_titles=probe_titles)


def site_from_location(
    location: DocsLocation,
    *,
    title: str = "",
    max_page_bytes: int = MAX_PAGE_BYTES,
    probe_titles: bool = True,
) -> DocSite:
    """Build the site for an already-resolved location."""
    site = DocSite(
        entity_ref=location.entity_ref,
        title=title or location.entity_ref,
        root=None,
        notices=list(location.notices),
        source=location.source,
        max_page_bytes=max_page_bytes,
    )
    if location.error:
        site.error = location.error
        site.notices.append(location.error)
        return site
    if location.readme is not None:
        site.root = location.readme.parent
        page_title = _probe_title(location.readme) or "README"
        site.pages = [PageInfo(location.readme.name, page_title, in_nav=True)]
        site.nav = [NavItem(title=page_title, page=location.readme.name)]
        return site
    assert location.directory is not None
    return load_site_from_dir(
        location.directory,
        entity_ref=location.entity_ref,
        site=site,
        probe_titles=probe_titles,
        boundary=location.boundary,
    )


def load_site_from_dir(
    directory: Path,
    *,
    entity_ref: str = "",
    title: str = "",
    site: DocSite | None = None,
    probe_titles: bool = True,
    boundary: Path | None = None,
) -> DocSite:
    """Build a site from a directory with an ``mkdocs.yml`` (or just Markdown files).

    ``boundary`` is the real path of the entity's source root: an ``mkdocs.yml``, ``docs_dir`` or
    page that resolves outside it is not read (an error, or a notice for one page).
    """
    site = site or DocSite(entity_ref=entity_ref, title=title or entity_ref, root=None)
    config_file = find_config(directory)
    raw_nav = None
    if config_file is not None and not inside(config_file, boundary):
        return _refuse(site, f"{config_file.name}: {outside(config_file, boundary)}")
    if config_file is not None:
        config = read_config(config_file)
        site.notices.extend(config.problems)
        if config.site_name:
            site.title = config.site_name
        docs_dir = (directory / config.docs_dir).resolve()
        raw_nav = config.nav
        if not inside(docs_dir, boundary):
            return _refuse(
                site, f"{config_file.name}: docs_dir '{config.docs_dir}': {outside(docs_dir, boundary)}"
            )
        if not docs_dir.is_dir():
            site.error = f"{config_file.name}: docs_dir '{config.docs_dir}' ({docs_dir}) does not exist"
            site.notices.append(site.error)
            return site
    else:
        nested = directory / "docs"
        docs_dir = nested.resolve() if nested.is_dir() else directory.resolve()
        if not inside(docs_dir, boundary):
            return _refuse(site, f"{docs_dir.name}/: {outside(docs_dir, boundary)}")
        site.notices.append(
            f"no mkdocs.yml in {directory.name or directory}: listing the Markdown files of "
            f"{docs_dir.name}/ in alphabetical order"
        )
    site.root = docs_dir
    paths = _markdown_files(docs_dir, site.notices, boundary)
    if not paths:
        site.notices.append(f"{docs_dir.name}/ has no Markdown pages")
    path_set = set(paths)
    nav_titles: dict[str, str] = {}
    if raw_nav is not None:
        site.nav, problems = parse_nav(raw_nav, path_set)
        site.notices.extend(problems)
        for root_item in site.nav:
            for item in root_item.walk():
                if item.page and item.page not in nav_titles:
                    nav_titles[item.page] = item.title
    infos: dict[str, PageInfo] = {}
    for path in paths:
        in_nav = path in nav_titles if raw_nav is not None else True
        probed = _probe_title(docs_dir / path) if probe_titles and not nav_titles.get(path) else ""
        page_title = nav_titles.get(path) or probed or _title_from_path(path)
        infos[path] = PageInfo(path, page_title, in_nav)
    # Nav leaves without a title take the page's own title, as mkdocs does.
    for root_item in site.nav:
        for item in root_item.walk():
            if item.page and not item.title:
                item.title = infos[item.page].title
    if raw_nav is None:
        site.nav = [NavItem(title=infos[p].title, page=p) for p in _home_first(paths)]
        site.pages = [infos[p] for p in _home_first(paths)]
    else:
        ordered = list(dict.fromkeys(p for p in nav_titles if p in infos))
        ordered += [p for p in paths if p not in nav_titles]
        site.pages = [infos[p] for p in ordered]
    return site


def load_page(site: DocSite, path: str) -> DocPage:
    """Read one page of ``site``, prepared for display; problems land in ``error``/``notices``."""
    info = site.page_info(path)
    title = info.title if info else _title_from_path(path)
    if site.root is None:
        return DocPage(path, title, "", error=site.error or "this entity has no docs")
    if info is None:
        return DocPage(path, title, "", error=f"page '{path}' is not part of these docs")
    return read_page(
        site.root / path, path=path, title=title, max_bytes=site.max_page_bytes or MAX_PAGE_BYTES
    )


def read_page(file: Path, *, path: str, title: str = "", max_bytes: int = MAX_PAGE_BYTES) -> DocPage:
    """Read and prepare a Markdown file: size cap, binary and encoding checks, callouts, headings."""
    title = title or _title_from_path(path)
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the reader for good
            return DocPage(path, title, "", error=f"cannot read {path}: not a regular file")
        size = info.st_size
        with _open_regular(file) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        return DocPage(path, title, "", error=f"cannot read {path}: {error.strerror or error}")
    notices: list[str] = []
    if b"\x00" in data[:8192]:
        return DocPage(path, title, "", error=f"{path} is a binary file, not Markdown", size=size)
    if len(data) > max_bytes:
        data = data[:max_bytes]
        cut = data.rfind(b"\n")
        if cut > 0:
            data = data[:cut]
        notices.append(
            f"{path} is {_kib(size)}; only the first {_kib(max_bytes)} are shown "
            "(the rest is in the file on disk)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        text = data.decode("utf-8", errors="replace")
        notices.append(
            f"{path} is not valid UTF-8 (first bad byte at offset {error.start}); "
            "undecodable bytes are shown as \N{REPLACEMENT CHARACTER}"
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    prepared = md.prepare(text)
    if not title or title == _title_from_path(path):
        first_h1 = next((h.text for h in prepared.headings if h.level == 1), None)
        title = first_h1 or title
    return DocPage(
        path=path,
        title=title,
        markdown=prepared.markdown,
        headings=prepared.headings,
        images=prepared.images,
        notices=notices,
        size=size,
    )


def unlisted_pages(site: DocSite) -> list[PageInfo]:
    """Pages that exist but are not in the nav (shown in an "Other pages" group by viewers)."""
    return [page for page in site.pages if not page.in_nav]


def _markdown_files(root: Path, notices: list[str], boundary: Path | None = None) -> list[str]:
    """The Markdown pages under ``root``, depth-first in name order, as POSIX paths relative to it.

    Like ``os.walk``: symlinked folders are not descended. Only regular files are pages (a FIFO
    would hang the reader); a symlinked page that resolves outside ``boundary`` is skipped with a
    notice. The listing's file types come with the directory entries: no extra syscall per page.
    """
    found: list[str] = []
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith("_"):
                    subdirs.append(Path(entry.path))
                continue
            if not entry.name.lower().endswith(MARKDOWN_SUFFIXES) or not _is_regular(entry):
                continue
            relative = Path(entry.path).relative_to(root).as_posix()
            if entry.is_symlink() and not inside(Path(entry.path), boundary):
                notices.append(f"{relative}: {outside(Path(entry.path), boundary)}")
                continue
            found.append(relative)
            if len(found) >= MAX_PAGES:
                notices.append(f"more than {MAX_PAGES} Markdown files: only the first {MAX_PAGES} are listed")
                return found
        stack.extend(reversed(subdirs))
    return found


def _is_regular(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False  # a symlink loop


def _open_regular(file: Path) -> Any:
    """``file`` opened for reading without blocking, should it have become a FIFO since its stat."""
    return os.fdopen(
        os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)), "rb"
    )


def _refuse(site: DocSite, message: str) -> DocSite:
    """The site without pages: its docs would be read from outside the entity's source root."""
    site.error = message
    site.notices.append(message)
    return site


def _home_first(paths: list[str]) -> list[str]:
    return sorted(paths, key=lambda p: (p.count("/"), p.lower() not in ("index.md", "readme.md"), p))


def _probe_title(file: Path) -> str:
    """The first ``# Title`` of a file, reading only its head (used to list pages quickly)."""
    try:
        with _open_regular(file) as handle:
            head = handle.read(_TITLE_PROBE_BYTES)
    except OSError:
        return ""
    if b"\x00" in head:
        return ""
    text = head.decode("utf-8", errors="replace")
    match = _FIRST_H1.search(text)
    if match and "```" not in text[: match.start()] and "~~~" not in text[: match.start()]:
        return md.inline_text(match.group(1).strip())
    for heading in md.extract_headings(text):  # setext titles, or an H1 after a code block
        if heading.level == 1:
            return heading.text
    return ""


def _title_from_path(path: str) -> str:
    stem = Path(path).stem
    if stem.lower() in ("index", "readme"):
        parent = Path(path).parent.name
        return _words(parent) if parent else "Home"
    return _words(stem)


def _words(name: str) -> str:
    text = name.replace("-", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _kib(size: int) -> str:
    return f"{size / 1024:.0f} KB"

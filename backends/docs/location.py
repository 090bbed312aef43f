"""Where an entity's docs live: the ``backstage.io/techdocs-ref`` annotation, or a fallback.

* ``dir:<path>`` — relative to the file the entity was read from. For an entity read from a git
  catalog source (position ``<url>@<ref>:<path>``, optionally prefixed ``git:``) that is a path
  inside the same checkout. Local positions are labels relative to the catalog source's root
  (the workspace directory), so callers pass that ``root``.
* ``url:<repository>[/tree/<ref>[/<subdir>]]`` — a git repository fetched like a git catalog
  source (GitHub/GitLab style ``/tree/`` or ``/blob/`` URLs name a ref and a sub-directory).
* no annotation — an ``mkdocs.yml`` or ``docs/`` folder next to the entity file, else its README,
  with a notice saying it was a fallback.

Fetching a repository is injected (``Checkout``) so tests and the CLI can run without the git
backend; failures become an ``error`` on the location, never an exception.

Nothing is read outside the entity's source root (``boundary``): the workspace directory (or,
for a file outside it, the file's own directory) or the git checkout. A ``dir:`` path, a
``url:`` sub-directory or a README that resolves (``..``, absolute paths, symlinks) outside it is
an error on the entity; the site builder applies the same boundary to ``docs_dir`` and pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

TECHDOCS_REF = "backstage.io/techdocs-ref"
README_NAMES = ("README.md", "readme.md", "README.markdown", "README")


class CheckoutResult(Protocol):
    """What a git checkout gives back (``backends.git.checkout.GitCheckout`` has these fields)."""

    # Read-only properties, so a frozen dataclass satisfies the protocol.
    @property
    def path(self) -> Path: ...

    @property
    def warning(self) -> str | None: ...


Checkout = Callable[[str, str], CheckoutResult]


@dataclass(slots=True)
class DocsLocation:
    """The directory holding an entity's docs site (mkdocs.yml and/or the Markdown files).

    ``readme`` is set instead of a site directory for the README fallback. ``error`` says why no
    docs could be found; ``notices`` carry fallbacks and fetch warnings.
    """

    entity_ref: str
    directory: Path | None = None
    readme: Path | None = None
    source: str = ""
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    boundary: Path | None = None  # real path nothing may be read outside of (None: anywhere)


def default_checkout(url: str, ref: str) -> CheckoutResult:
    """Fetch ``url`` at ``ref`` into the cache with the git backend (imported lazily)."""
    from backends.git.checkout import sync_repository

    return sync_repository(url, ref)


def locate_docs(entity: Any, *, root: Path | None = None, checkout: Checkout | None = None) -> DocsLocation:
    """Resolve where ``entity``'s docs are; see the module docstring for the rules.

    ``root`` is what relative entity positions are relative to (the workspace directory);
    without it they are taken relative to the current directory.
    """
    checkout = checkout or default_checkout
    ref = str(entity.ref)
    location = DocsLocation(entity_ref=ref)
    annotation = entity.annotations.get(TECHDOCS_REF)
    base, base_error = _entity_directory(str(entity.position.file), root, checkout, location)
    if annotation is None:
        if base is None:
            location.error = base_error or "no docs: the entity has no backstage.io/techdocs-ref annotation"
            return location
        return _fallback(base, entity.position.file, location)
    annotation = str(annotation).strip()
    kind, _, target = annotation.partition(":")
    target = target.strip()
    if kind == "dir" and target:
        if base is None:
            location.error = f"{TECHDOCS_REF} '{annotation}': {base_error}"
            return location
        directory = (base / target).resolve()
        location.source = f"{annotation} (relative to {Path(str(entity.position.file)).name})"
        if not inside(directory, location.boundary):
            location.error = f"{TECHDOCS_REF} '{annotation}': {outside(directory, location.boundary)}"
            return location
        if not directory.is_dir():
            location.error = f"{TECHDOCS_REF} '{annotation}': directory {directory} does not exist"
            return location
        location.directory = directory
        return location
    if kind == "url" and target:
        return _from_url(target, checkout, location, annotation)
    location.error = (
        f"{TECHDOCS_REF} '{annotation}' is not supported (expected dir:<path> or url:<git repository>)"
    )
    return location


def parse_git_position(file: str) -> tuple[str, str, str] | None:
    """Split a git source position ``[git:]<url>@<ref>:<path>`` into (url, ref, path).

    The ref cannot contain ':' (git forbids it) and the url's own '@' (``git@host:…``) comes
    before the last '@', so splitting on the last '@' before the final ':' is unambiguous.
    Local labels (``catalog/payments.yaml``) have no ``@…:`` part and give None.
    """
    rest = file[len("git:") :] if file.startswith("git:") else file
    at = rest.rfind("@")
    if at == -1:
        return None
    url, ref_and_path = rest[:at], rest[at + 1 :]
    ref, colon, path = ref_and_path.partition(":")
    if not colon or not url or not ref or not path:
        return None
    return url, ref, path


def parse_repository_url(url: str) -> tuple[str, str, str]:
    """Split a techdocs ``url:`` target into (repository url, ref, sub-directory).

    ``https://github.com/acme/pay/tree/main/docs-site`` → (``https://github.com/acme/pay``, ``main``,
    ``docs-site``); GitLab's ``/-/tree/`` and ``/blob/`` work the same. Anything else is a whole
    repository at HEAD.
    """
    for marker in ("/-/tree/", "/-/blob/", "/tree/", "/blob/"):
        if marker in url:
            repo, _, rest = url.partition(marker)
            ref, _, sub = rest.partition("/")
            return repo, ref or "HEAD", sub.strip("/")
    return url.rstrip("/"), "HEAD", ""


def _entity_directory(
    file: str, root: Path | None, checkout: Checkout, location: DocsLocation
) -> tuple[Path | None, str | None]:
    """The directory of the entity's file on disk (checking out its git source when needed)."""
    if not file:
        return None, "the entity was not read from a file"
    local = Path(file)
    if not local.is_absolute() and root is not None:
        local = root / file
    git = parse_git_position(file)
    if git is None and not local.parent.is_dir():
        # e.g. a file Backstage read on its own host (a ``type: backstage`` source): nothing here.
        return None, f"the entity's file {file} is not on this machine, so its docs cannot be read here"
    if local.exists() or git is None:
        directory = local.resolve().parent
        workspace = root.resolve() if root is not None else None
        location.boundary = workspace if workspace and inside(directory, workspace) else directory
        return directory, None
    url, ref, path = git
    try:
        result = checkout(url, ref)
    except Exception as error:  # noqa: BLE001 - any fetch failure becomes a message
        return None, f"cannot fetch the entity's repository {url}@{ref}: {_one_line(error)}"
    if getattr(result, "warning", None):
        location.notices.append(str(result.warning))
    location.boundary = Path(result.path).resolve()
    return (Path(result.path) / path).parent, None


def _from_url(target: str, checkout: Checkout, location: DocsLocation, annotation: str) -> DocsLocation:
    repo, ref, sub = parse_repository_url(target)
    try:
        result = checkout(repo, ref)
    except Exception as error:  # noqa: BLE001 - unreachable repository, auth, bad ref …
        location.error = f"{TECHDOCS_REF} '{annotation}': cannot fetch {repo}@{ref}: {_one_line(error)}"
        return location
    if getattr(result, "warning", None):
        location.notices.append(str(result.warning))
    root = Path(result.path)
    location.boundary = root.resolve()
    directory = (root / sub).resolve() if sub else root
    location.source = f"{annotation} (git checkout {root})"
    if not inside(directory, location.boundary):
        location.error = f"{TECHDOCS_REF} '{annotation}': {outside(directory, location.boundary)}"
        return location
    if not directory.is_dir():
        location.error = f"{TECHDOCS_REF} '{annotation}': '{sub}' does not exist in {repo}@{ref}"
        return location
    location.directory = directory
    return location


def _fallback(base: Path, file: Any, location: DocsLocation) -> DocsLocation:
    name = Path(str(file)).name
    if (base / "mkdocs.yml").is_file() or (base / "mkdocs.yaml").is_file() or (base / "docs").is_dir():
        location.directory = base
        location.source = f"mkdocs.yml/docs next to {name}"
        location.notices.append(
            f"no {TECHDOCS_REF} annotation: showing the docs found next to {name} "
            f"(add '{TECHDOCS_REF}: dir:.' to make this explicit)"
        )
        return location
    for readme in README_NAMES:
        if (base / readme).is_file():
            if not inside(base / readme, location.boundary):
                location.error = f"{readme} next to {name}: {outside(base / readme, location.boundary)}"
                return location
            location.readme = base / readme
            location.source = f"{readme} next to {name}"
            location.notices.append(
                f"no {TECHDOCS_REF} annotation and no docs/ folder: showing {readme} next to {name}"
            )
            return location
    location.error = (
        f"no docs: the entity has no {TECHDOCS_REF} annotation and there is no docs/ folder or "
        f"README next to {name}"
    )
    return location


def inside(path: Path, boundary: Path | None) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``boundary`` (already a real path)."""
    if boundary is None:
        return True
    real = path.resolve()
    return real == boundary or boundary in real.parents


def outside(path: Path, boundary: Path | None) -> str:
    """The warning for a path that leads out of the entity's source root."""
    return f"{path.resolve()} is outside the entity's source root {boundary}; not read"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__

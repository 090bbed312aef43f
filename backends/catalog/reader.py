"""Reading catalog files into per-document verdicts, following Location entities.

This is the one pipeline behind both ``idp-console catalog validate`` and the workspace catalog:
read (size cap, binary and encoding checks) -> split into documents -> parse -> placeholders ->
validate -> relations, and for a valid ``kind: Location`` (when following) its targets, resolved the
way Backstage resolves them for a file location: a target starting with ``.`` is relative to the
Location's file, any other relative target is relative to ``plain_base`` (Backstage uses its process
cwd; the workspace uses the source root so results do not depend on where the console was started).

Files are visited depth-first in the oracle's order (a file's documents, then each target's matches
sorted), each file once; a Location that leads back to a file on its own chain is reported as a
cycle instead of being followed.

As in Backstage, a Location whose target is missing (or refused) is itself a valid entity: each
target problem is a separate result (``index`` None, ``target`` set) carrying the Location's file,
line and ref, right after the Location's own verdict. ``flag_duplicates`` marks a ref defined
twice (Backstage compares refs case-insensitively), naming both places.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from backends.catalog.loader import CatalogFileError, parse_documents, read_catalog_file
from backends.catalog.placeholders import PlaceholderContext, PlaceholderError, resolve_placeholders
from backends.catalog.validation import EntityInvalid, check_envelope, entity_ref_of, validate_entity
from backends.globs import glob_files, has_magic


@dataclass(slots=True)
class DocumentResult:
    """The verdict on one YAML document (or on a whole file that could not be read: ``index`` None).

    ``valid`` is None for an empty document (Backstage skips those). ``data`` is the document after
    placeholder resolution, and ``relations`` its forward relations, when valid.
    """

    file: str  # label shown to people: a path, or ``<url>@<ref>:path`` for git
    path: str  # the file on disk
    line: int
    index: int | None
    ref: str | None
    valid: bool | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] | None = None
    relations: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None  # the document's YAML when ``data`` is exactly what it parses to
    # Not read: ``ReadOptions.unchanged`` said the file's earlier verdicts still hold (warm start).
    reused: bool = False
    # Set on the separate result for a problem with one target of the Location at file:line.
    target: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: ``{"file","line","index","ref","valid","errors"}`` (+ warnings)."""
        result: dict[str, Any] = {
            "file": self.file,
            "line": self.line,
            "index": self.index,
            "ref": self.ref,
            "valid": self.valid,
            "errors": list(self.errors),
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        if self.target is not None:
            result["target"] = self.target
        return result


@dataclass(slots=True)
class ReadOptions:
    """How to read: follow Locations or not, and the boundaries of the source."""

    follow: bool = True
    root: str | None = None  # Locations and placeholders must stay inside (None: anywhere)
    plain_base: str = "."  # what a relative Location target not starting with "." is relative to
    label: Callable[[str], str] = os.path.normpath  # file path -> label shown in results
    # A warm start's revalidation: a file for which this says True is not read again; one
    # ``reused`` result stands for its documents, which the caller already has.
    unchanged: Callable[[str], bool] | None = None


@dataclass(slots=True)
class _Pending:
    path: str  # as given or joined (what labels are computed from)
    chain: tuple[str, ...]  # real paths of the files that led here, this one included


def read_documents(paths: list[str], options: ReadOptions) -> Iterator[DocumentResult]:
    """Results for every document of ``paths`` (and, when following, of the files Locations name)."""
    visited: set[str] = set()
    real_path = _RealPaths()
    stack = [_Pending(p, (real_path(p),)) for p in reversed(paths)]
    # A file listed inside the root may be a symlink: it must not lead out of it. (A file named
    # outside the root, e.g. by a script, is read as asked.)
    inside = _Boundary(options.root)
    while stack:
        pending = stack.pop()
        real = pending.chain[-1]
        if real in visited:
            continue
        visited.add(real)
        if not inside(real) and inside(os.path.abspath(pending.path)):
            reason = f"resolves to {real}, outside the source root {options.root}; not read"
            yield DocumentResult(options.label(pending.path), pending.path, 1, None, None, False, [reason])
            continue
        if options.unchanged is not None and options.unchanged(pending.path):
            yield DocumentResult(options.label(pending.path), pending.path, 1, None, None, None, reused=True)
            continue
        children: list[_Pending] = []
        yield from _read_file(pending, options, children)
        stack.extend(reversed(children))


def _read_file(pending: _Pending, options: ReadOptions, children: list[_Pending]) -> Iterator[DocumentResult]:
    path = pending.path
    label = options.label(path)
    try:
        text = read_catalog_file(path)
    except CatalogFileError as error:
        yield DocumentResult(label, path, 1, None, None, False, [str(error)])
        return
    base_dir = os.path.dirname(os.path.abspath(path))
    for document in parse_documents(text):
        result = DocumentResult(label, path, document.line, document.index, None, None)
        if document.error is not None:
            result.valid = False
            result.errors.append(document.error)
            yield result
            continue
        data = document.data
        if data is None:
            yield result  # an empty document: skipped, like Backstage
            continue
        result.ref = entity_ref_of(data)
        if document.has_dollar and isinstance(data, dict):
            # Backstage checks the envelope before it resolves placeholders, so a placeholder can
            # never stand in for a kind or name.
            try:
                check_envelope(data)
            except EntityInvalid as error:
                result.valid = False
                result.errors.append(str(error))
                yield result
                continue
            context = PlaceholderContext(base_dir, options.root)
            try:
                data = resolve_placeholders(data, context)
            except PlaceholderError as error:
                result.valid = False
                result.errors.append(str(error))
                yield result
                continue
            result.warnings.extend(context.warnings)
        verdict = validate_entity(data, result.ref)
        result.ref = verdict.ref
        if verdict.error is not None:
            result.valid = False
            result.errors.append(verdict.error)
            yield result
            continue
        result.valid = True
        result.data = data
        result.relations = verdict.relations
        if data is document.data:  # no placeholder changed it: the text alone can rebuild it
            result.text = document.text
        problems: list[tuple[str, str]] = []
        if options.follow and data["kind"] == "Location":
            problems = _follow(result, data, pending, options, children)
        yield result
        for target, problem in problems:
            yield DocumentResult(label, path, result.line, None, result.ref, False, [problem], target=target)


def _follow(
    result: DocumentResult,
    data: dict[str, Any],
    pending: _Pending,
    options: ReadOptions,
    children: list[_Pending],
) -> list[tuple[str, str]]:
    """Resolve a Location's targets; returns (target, problem) for each one that is not followed.

    The Location itself stays valid, as in Backstage: a missing target is the target's problem.
    """
    problems: list[tuple[str, str]] = []
    spec = data.get("spec") or {}
    location_type = spec.get("type") or "file"
    presence = spec.get("presence") or "required"
    targets: list[str] = []
    if spec.get("target"):
        targets.append(spec["target"])
    targets.extend(spec.get("targets") or [])
    for target in targets:
        if location_type != "file":
            result.warnings.append(
                f"{location_type} location {target} is not followed (only file locations are)"
            )
            continue
        if target.endswith(("/", os.sep)):
            problems.append((target, f"a file location target cannot end with a path separator: {target}"))
            continue
        if target.startswith("."):
            joined = os.path.join(os.path.dirname(pending.path), target)
        else:
            joined = os.path.join(options.plain_base, target)
        joined = os.path.normpath(joined)
        if options.root is not None and not _inside(joined, options.root):
            problems.append(
                (target, f"target {target} points outside the source root {options.root}; refused")
            )
            continue
        if has_magic(joined):
            matches = glob_files(joined, dot=False)  # Backstage's reader: node glob's defaults
        else:
            matches = [joined] if os.path.exists(joined) else []
        if not matches:
            if presence != "optional":
                problems.append((target, f"file {target} does not exist (resolved to {joined})"))
            continue
        for match in matches:
            real = os.path.realpath(match)  # Location targets are few: the full resolution
            if options.root is not None and not _inside(real, options.root):
                problems.append(
                    (target, f"target {match} resolves outside the source root {options.root}; refused")
                )
                continue
            if real in pending.chain:
                loop = " -> ".join(options.label(p) for p in (*pending.chain, real))
                problems.append((target, f"Location cycle: {loop}; not followed again"))
                continue
            children.append(_Pending(match, (*pending.chain, real)))
    return problems


class _RealPaths:
    """``os.path.realpath`` for many files in few folders: resolve each folder once.

    ``realpath`` stats every component of the path; for 10k files in a hundred folders that is most
    of the cost of starting a load. A file that is itself a symlink still gets the full resolution.
    """

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        folder, name = os.path.split(os.path.abspath(path))
        real_folder = self._folders.get(folder)
        if real_folder is None:
            real_folder = self._folders[folder] = os.path.realpath(folder)
        if os.path.islink(path):
            return os.path.realpath(path)
        return os.path.join(real_folder, name)


class _Boundary:
    """Whether a path lies inside ``root``, as named or resolved; no root means anywhere."""

    def __init__(self, root: str | None) -> None:
        self._roots: tuple[str, ...] = ()
        if root is not None:
            self._roots = tuple({os.path.realpath(root), os.path.abspath(root)})
        self._prefixes = tuple(r.rstrip(os.sep) + os.sep for r in self._roots)

    def __call__(self, path: str) -> bool:
        return not self._roots or path in self._roots or path.startswith(self._prefixes)


def _inside(path: str, root: str) -> bool:
    real = os.path.realpath(path) if os.path.exists(path) else os.path.abspath(path)
    root = os.path.realpath(root)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def flag_duplicates(results: list[DocumentResult]) -> None:
    """Warn on every valid document whose ref an earlier one already has, naming both places.

    Refs are canonical (lower-case), so ``Component:Default/X`` and ``component:default/x`` are the
    same entity, as in Backstage. Which definition Backstage keeps depends on where the other is:
    in the same file the last document wins; across locations the first one does.
    """
    first: dict[str, DocumentResult] = {}
    for result in results:
        if result.valid is not True or result.ref is None or result.target is not None:
            continue
        earlier = first.setdefault(result.ref, result)
        if earlier is result:
            continue
        kept = "the last one" if earlier.path == result.path else f"the one in {earlier.file}"
        result.warnings.append(
            f"duplicate entity {result.ref}: also defined at {earlier.file}:{earlier.line} "
            f"(Backstage keeps {kept})"
        )

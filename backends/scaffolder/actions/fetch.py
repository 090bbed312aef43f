"""``fetch:template``, ``fetch:template:file``, ``fetch:plain``, ``fetch:plain:file``.

Skeleton rendering follows Backstage (see the reference): every relative path — directories
included — is rendered; an entry whose rendered path is empty, absolute or contains ``//`` is
skipped (the conditional-file trick); only ``values`` is in scope; binaries and symlinks are copied
verbatim; an existing file is kept unless ``replace``. On top of Backstage: rendered paths and
skeleton symlinks that would leave the workspace or name VCS metadata are refused, ``url`` must
be inside the sandbox (``backends.scaffolder.sandbox``), and output is capped. ``values`` computed
from a secret taint every name and file rendered from them (``taint.py``): such names and
contents never appear in a log line, listing or error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.scaffolder.actions.base import Action, ActionContext
from backends.scaffolder.errors import (
    ActionFailed,
    ExpressionError,
    InputError,
    PathEscapeError,
    ScaffolderError,
)
from backends.scaffolder.expressions import TemplateEngine
from backends.scaffolder.files import GlobSet, TaskFiles, is_binary
from backends.scaffolder.taint import WITHHELD, TaintTracker, TrackedMapping
from backends.scaffolder.template import Template

_RENDER_OPTIONS = {
    "values": {"type": "object"},
    "cookiecutterCompat": {"type": "boolean"},
    "replace": {"type": "boolean"},
    "trimBlocks": {"type": "boolean"},
    "lstripBlocks": {"type": "boolean"},
    "token": {"type": "string"},
}


class _Skeleton:
    """Renders skeleton names and contents, telling which renderings read a secret-derived value.

    ``values`` computed from a secret (``values: {token: ${{ secrets.token }}}``) are handed to the
    engine through the same read-tracking view as step inputs, so a skeleton that transforms one
    (``${{ values.token | reverse }}``) yields a tainted result however unrecognisable it is.
    """

    def __init__(self, ctx: ActionContext) -> None:
        step_input = ctx.input
        compat = bool(step_input.get("cookiecutterCompat"))
        self.engine = TemplateEngine(
            trim_blocks=bool(step_input.get("trimBlocks")),
            lstrip_blocks=bool(step_input.get("lstripBlocks")),
            cookiecutter_compat=compat,
            time_limit=ctx.services.sandbox.expression_seconds,
        )
        values = dict(step_input.get("values") or {})
        self.count = len(values)
        self.tracker = TaintTracker()
        sensitive = _secret_value_keys(ctx, values)
        view: Mapping[str, Any] = values
        if sensitive is None or sensitive:
            view = TrackedMapping(values, self.tracker, sensitive)
        self.context: dict[str, Any] = {"cookiecutter" if compat else "values": view}

    def render(self, text: str, where: str) -> tuple[str, bool]:
        """(rendered text, whether it read a secret); a failure after such a read never quotes it."""
        before = self.tracker.reads
        try:
            result = self.engine.render_string(text, self.context)
        except ScaffolderError:
            if self.tracker.reads != before:
                raise ExpressionError(
                    f"{where}: cannot render a value computed from a secret: {WITHHELD}"
                ) from None
            raise
        return result, self.tracker.reads != before


def _secret_value_keys(ctx: ActionContext, values: Mapping[str, Any]) -> set[str] | None:
    """Keys of ``values`` computed from a secret (None: all of them; empty: none)."""
    if "values" not in ctx.withheld:
        return set()
    shown = (ctx.shown_input or {}).get("values")
    if not isinstance(shown, Mapping):
        return None  # the whole mapping came from one expression that read a secret
    return {key for key in values if shown.get(key) != values.get(key)}


def _note_tainted_name(ctx: ActionContext, dest: Path, raw: str, rendered: str) -> None:
    """Hide a file name computed from a secret in every later listing, log and output."""
    ctx.files.mark_tainted(dest, name=True)
    if ctx.add_tainted is None:
        return
    ctx.add_tainted(rendered)
    raw_parts, parts = raw.split("/"), rendered.split("/")
    if len(raw_parts) == len(parts):
        for before, after in zip(raw_parts, parts, strict=True):
            if before != after:
                ctx.add_tainted(after)


def _check_symlink(link: Path, skeleton_root: Path) -> str:
    """The link's target text, if it stays inside the skeleton; PathEscapeError otherwise."""
    target = os.readlink(link)
    resolved = (link.parent / target).resolve()
    if os.path.isabs(target) or not resolved.is_relative_to(skeleton_root):
        raise PathEscapeError(f"symlink {link} in the skeleton points outside it ({target})")
    return target


def _place_symlink(files: TaskFiles, dest: Path, target: str) -> None:
    resolved = (dest.parent / target).resolve()
    if not resolved.is_relative_to(files.root):
        raise PathEscapeError(f"symlink {files.relative(dest)} would point outside the workspace")
    files.refuse_vcs(dest, what="symlink")
    files.refuse_vcs(resolved, what=f"symlink {files.relative(dest)} points to")
    files.count_copy(0, dest)
    files.note_symlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    os.symlink(target, dest)


def _refuse_vcs(files: TaskFiles, dest: Path, what: str) -> None:
    """Refuse a destination that is (or, through a workspace symlink, lands in) VCS metadata."""
    files.refuse_vcs(dest, what=what)
    if files.has_links:
        files.refuse_vcs(dest.resolve(), what=what)


def _allowed_source(ctx: ActionContext, url: str) -> Path:
    """``url`` as a local path, once the sandbox allows reading it (checked before any git fetch)."""
    problem = ctx.services.sandbox.url_problem(url, ctx.template.base_dir)
    if problem is not None:
        raise PathEscapeError(problem)
    return ctx.source_path(url)


def _existing_dir(ctx: ActionContext, url: str) -> Path:
    source = _allowed_source(ctx, url)
    if not source.is_dir():
        raise ActionFailed(f"url {url!r}: {source} is not a directory")
    return source.resolve()


def _existing_file(ctx: ActionContext, url: str) -> Path:
    source = _allowed_source(ctx, url)
    if not source.is_file():
        raise ActionFailed(f"url {url!r}: {source} is not a file")
    return source


def _check_url(step_input: Mapping[str, Any], template: Template, want_dir: bool) -> list[str]:
    url = step_input.get("url")
    if not isinstance(url, str) or "${{" in url or "://" in url:
        return []
    path = Path(url) if os.path.isabs(url) else template.base_dir / url
    if want_dir and not path.is_dir():
        return [f"url {url!r}: no directory {path}"]
    if not want_dir and not path.is_file():
        return [f"url {url!r}: no file {path}"]
    return []


class FetchTemplate(Action):
    id = "fetch:template"
    description = "Render a skeleton directory (names and contents) into the workspace."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string"},
            "targetPath": {"type": "string"},
            "copyWithoutTemplating": {"type": "array", "items": {"type": "string"}},
            "copyWithoutRender": {"type": "array", "items": {"type": "string"}},  # accepted, ignored (lint)
            "templateFileExtension": {"type": ["boolean", "string"]},
            **_RENDER_OPTIONS,
        },
    }

    def check(self, step_input: Mapping[str, Any], template: Template) -> list[str]:
        problems = _check_url(step_input, template, want_dir=True)
        if step_input.get("templateFileExtension") and (
            step_input.get("copyWithoutTemplating") or step_input.get("cookiecutterCompat")
        ):
            problems.append(
                "templateFileExtension cannot be combined with copyWithoutTemplating or cookiecutterCompat"
            )
        return problems

    def run(self, ctx: ActionContext) -> None:
        step_input = ctx.input
        if step_input.get("templateFileExtension") and (
            step_input.get("copyWithoutTemplating") or step_input.get("cookiecutterCompat")
        ):
            raise InputError(
                "templateFileExtension cannot be combined with copyWithoutTemplating or cookiecutterCompat"
            )
        source = _existing_dir(ctx, step_input["url"])
        target = ctx.files.resolve(step_input.get("targetPath") or "./", what="targetPath")
        if target.is_relative_to(source):
            raise InputError("targetPath must not be inside the template directory")
        extension = step_input.get("templateFileExtension")
        if extension is True:
            extension = ".njk"
        elif isinstance(extension, str) and extension and not extension.startswith("."):
            extension = "." + extension
        raw_globs = GlobSet(step_input.get("copyWithoutTemplating") or [], dot=True)  # globby, dot: true
        replace = bool(step_input.get("replace"))
        skeleton = _Skeleton(ctx)
        ctx.log(f"Processing {skeleton.count} values; rendering {source} into {ctx.files.relative(target)}")
        written = skipped = 0
        for entry in ctx.files.walk(source):
            if ctx.cancelled.is_set():
                raise ActionFailed("cancelled")
            rel = entry.relative_to(source).as_posix()
            rendered, name_tainted = skeleton.render(rel, f"skeleton entry {rel!r}")
            render_contents = not raw_globs.matches(rel)
            if extension:
                render_contents = entry.is_file() and rendered.endswith(extension)
                if render_contents:
                    rendered = rendered[: -len(extension)]
            if not rendered or rendered.startswith("/") or "//" in rendered:
                continue  # Backstage's conditional-file trick: an empty name means "leave it out"
            dest = target / rendered
            shown = WITHHELD if name_tainted else repr(rendered)
            if name_tainted:
                _note_tainted_name(ctx, dest, rel, rendered)
            if not ctx.files.inside(dest):
                raise PathEscapeError(f"skeleton entry {rel!r} renders to {shown}, outside the workspace")
            try:
                _refuse_vcs(ctx.files, dest, f"skeleton entry {rel!r} renders to")
            except PathEscapeError:
                if not name_tainted:
                    raise
                raise PathEscapeError(
                    f"skeleton entry {rel!r} renders to {shown}: version-control metadata — "
                    "a template may not create or write .git, .hg or .svn entries"
                ) from None
            if entry.is_symlink():
                _place_symlink(ctx.files, dest, _check_symlink(entry, source))
                written += 1
                continue
            if entry.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            if dest.exists() and not replace:
                skipped += 1
                name = WITHHELD if name_tainted else ctx.files.relative(dest)
                ctx.log(f"Skipping {name}: it exists (set replace: true to overwrite)")
                continue
            data = entry.read_bytes()
            if render_contents and not is_binary(data):
                text, contents_tainted = skeleton.render(
                    data.decode("utf-8", errors="replace"), f"skeleton file {rel!r}"
                )
                data = text.encode("utf-8")
                if contents_tainted:
                    ctx.files.mark_tainted(dest, contents=True)
            ctx.files.write_bytes(dest, data, entry.stat().st_mode)
            written += 1
        ctx.log(f"Template result written to {ctx.files.relative(target)} ({written} files, {skipped} kept)")


class FetchTemplateFile(Action):
    id = "fetch:template:file"
    description = "Render one file into the workspace."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "targetPath"],
        "properties": {"url": {"type": "string"}, "targetPath": {"type": "string"}, **_RENDER_OPTIONS},
    }

    def check(self, step_input: Mapping[str, Any], template: Template) -> list[str]:
        return _check_url(step_input, template, want_dir=False)

    def run(self, ctx: ActionContext) -> None:
        source = _existing_file(ctx, ctx.input["url"])
        dest = ctx.files.resolve(ctx.input["targetPath"], what="targetPath")
        if dest.exists() and not ctx.input.get("replace"):
            ctx.log(f"Skipping {ctx.files.relative(dest)}: it exists (set replace: true to overwrite)")
            return
        skeleton = _Skeleton(ctx)
        data = source.read_bytes()
        if not is_binary(data):
            text, contents_tainted = skeleton.render(
                data.decode("utf-8", errors="replace"), f"file {source.name!r}"
            )
            data = text.encode("utf-8")
            if contents_tainted:
                ctx.files.mark_tainted(dest, contents=True)
        ctx.files.write_bytes(dest, data, source.stat().st_mode)
        ctx.log(f"Rendered {source.name} to {ctx.files.relative(dest)}")


class FetchPlain(Action):
    id = "fetch:plain"
    description = "Copy a directory into the workspace as it is."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string"},
            "targetPath": {"type": "string"},
            "token": {"type": "string"},
        },
    }

    def check(self, step_input: Mapping[str, Any], template: Template) -> list[str]:
        return _check_url(step_input, template, want_dir=True)

    def run(self, ctx: ActionContext) -> None:
        source = _existing_dir(ctx, ctx.input["url"])
        target = ctx.files.resolve(ctx.input.get("targetPath") or "./", what="targetPath")
        count = 0
        for entry in ctx.files.walk(source):
            dest = target / entry.relative_to(source)
            _refuse_vcs(ctx.files, dest, "fetch:plain would write")
            if entry.is_symlink():
                _place_symlink(ctx.files, dest, _check_symlink(entry, source))
            elif entry.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                ctx.files.count_copy(entry.stat().st_size, dest)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(entry, dest)
                count += 1
        ctx.log(f"Copied {count} files from {source} to {ctx.files.relative(target)}")


class FetchPlainFile(Action):
    id = "fetch:plain:file"
    description = "Copy one file into the workspace as it is."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "targetPath"],
        "properties": {
            "url": {"type": "string"},
            "targetPath": {"type": "string"},
            "token": {"type": "string"},
        },
    }

    def check(self, step_input: Mapping[str, Any], template: Template) -> list[str]:
        return _check_url(step_input, template, want_dir=False)

    def run(self, ctx: ActionContext) -> None:
        source = _existing_file(ctx, ctx.input["url"])
        dest = ctx.files.resolve(ctx.input["targetPath"], what="targetPath")
        ctx.files.write_bytes(dest, source.read_bytes(), source.stat().st_mode)
        ctx.log(f"Copied {source.name} to {ctx.files.relative(dest)}")

"""``fs:rename``, ``fs:delete``, ``fs:readdir`` and ``debug:log`` / ``debug:wait``."""

from __future__ import annotations

import shutil
import time

from backends.scaffolder.actions.base import Action, ActionContext
from backends.scaffolder.errors import ActionFailed
from backends.scaffolder.files import GlobSet
from backends.scaffolder.taint import WITHHELD

MAX_WAIT_SECONDS = 600


class FsRename(Action):
    id = "fs:rename"
    description = "Rename files or directories in the workspace."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["files"],
        "properties": {
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["from", "to"],
                    "additionalProperties": False,
                    "properties": {
                        "from": {"type": "string"},
                        "to": {"type": "string"},
                        "overwrite": {"type": "boolean"},
                    },
                },
            }
        },
    }

    def run(self, ctx: ActionContext) -> None:
        for item in ctx.input["files"]:
            source = ctx.files.resolve(item["from"], what="from")
            dest = ctx.files.resolve(item["to"], what="to")
            if not source.exists() and not source.is_symlink():
                raise ActionFailed(f"fs:rename: {item['from']!r} does not exist")
            if dest.exists():
                if not item.get("overwrite"):
                    raise ActionFailed(f"fs:rename: {item['to']!r} exists (set overwrite: true)")
                shutil.rmtree(dest) if dest.is_dir() and not dest.is_symlink() else dest.unlink()
            dest.parent.mkdir(parents=True, exist_ok=True)
            source.rename(dest)
            ctx.log(f"Renamed {item['from']} to {item['to']}")


class FsDelete(Action):
    id = "fs:delete"
    description = "Delete files or directories matching globs in the workspace."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string"}}},
    }

    def run(self, ctx: ActionContext) -> None:
        for pattern in ctx.input["files"]:
            if pattern.startswith("!"):
                continue  # an exclusion alone deletes nothing
            ctx.files.resolve(pattern.split("*")[0] or ".", what="files")  # a literal prefix must stay inside
            regex = GlobSet([pattern], dot=True).include[0]  # globby, dot: true
            matched = [p for p in ctx.files.walk() if regex.match(ctx.files.relative(p))]
            # Parents before children: deleting a directory also deletes what it holds.
            for path in sorted(matched, key=lambda p: len(p.parts)):
                if not path.exists() and not path.is_symlink():
                    continue
                relative = WITHHELD if ctx.files.name_tainted(path) else ctx.files.relative(path)
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                ctx.log(f"Deleted {relative}")


class FsReaddir(Action):
    id = "fs:readdir"
    description = "List files and folders of workspace directories."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["paths"],
        "properties": {
            "paths": {"type": "array", "items": {"type": "string"}},
            "recursive": {"type": "boolean"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {"files": {"type": "array"}, "folders": {"type": "array"}},
    }

    def run(self, ctx: ActionContext) -> None:
        files: list[dict[str, str]] = []
        folders: list[dict[str, str]] = []
        for relative in ctx.input["paths"]:
            base = ctx.files.resolve(relative, what="paths")
            if not base.is_dir():
                raise ActionFailed(f"fs:readdir: {relative!r} is not a directory")
            entries = ctx.files.walk(base) if ctx.input.get("recursive") else sorted(base.iterdir())
            for entry in entries:
                item = {"name": entry.name, "path": ctx.files.relative(entry), "fullPath": str(entry)}
                (folders if entry.is_dir() and not entry.is_symlink() else files).append(item)
        ctx.output("files", files)
        ctx.output("folders", folders)


class DebugLog(Action):
    id = "debug:log"
    description = "Write a message (and optionally the workspace listing) to the log."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string"},
            "listWorkspace": {"oneOf": [{"type": "boolean"}, {"enum": ["with-filenames", "with-contents"]}]},
        },
    }

    def run(self, ctx: ActionContext) -> None:
        if ctx.input.get("message"):
            # A message computed from a secret is withheld whole: a short one escapes value matching.
            ctx.log(WITHHELD if "message" in ctx.withheld else str(ctx.input["message"]))
        listing = ctx.input.get("listWorkspace")
        if not listing:
            return
        for path in ctx.files.walk():
            if path.is_dir():
                continue
            # A name or contents a template computed from a secret is withheld whole (taint).
            ctx.log(f"  {WITHHELD if ctx.files.name_tainted(path) else ctx.files.relative(path)}")
            if listing == "with-contents":
                tainted = ctx.files.contents_tainted(path)
                ctx.log(WITHHELD if tainted else path.read_text(encoding="utf-8", errors="replace"))


class DebugWait(Action):
    id = "debug:wait"
    description = "Wait for a while (at most 10 minutes)."
    supports_dry_run = False
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "minutes": {"type": "number", "minimum": 0},
            "seconds": {"type": "number", "minimum": 0},
            "milliseconds": {"type": "number", "minimum": 0},
        },
    }

    def run(self, ctx: ActionContext) -> None:
        total = (
            float(ctx.input.get("minutes") or 0) * 60
            + float(ctx.input.get("seconds") or 0)
            + float(ctx.input.get("milliseconds") or 0) / 1000
        )
        if total > MAX_WAIT_SECONDS:
            raise ActionFailed(f"debug:wait: {total:g} s is more than the maximum of 10 minutes")
        ctx.log(f"Waiting {total:g} s")
        started = time.monotonic()
        if ctx.cancelled.wait(total):
            raise ActionFailed(f"cancelled after {time.monotonic() - started:.1f} s")

"""The ``:`` command history, kept in the state dir across sessions (last 500 lines)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from backends import paths
from backends.atomic import write_text_atomic

MAX_ENTRIES = 500


class CommandHistory:
    def __init__(self, file: Path) -> None:
        self.file = file
        try:
            self.entries = file.read_text(encoding="utf-8").splitlines()[-MAX_ENTRIES:]
        except (OSError, UnicodeDecodeError):
            self.entries = []  # a missing or damaged history is not worth an error

    @classmethod
    def for_state_dir(cls) -> CommandHistory:
        return cls(paths.state_dir() / "command-history")

    def append(self, command: str) -> None:
        command = command.strip()
        if not command or (self.entries and self.entries[-1] == command):
            return
        self.entries = [*self.entries, command][-MAX_ENTRIES:]
        # History is a convenience: a read-only state dir must not break the app.
        with contextlib.suppress(OSError):
            write_text_atomic(self.file, "\n".join(self.entries) + "\n")

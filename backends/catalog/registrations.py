"""Catalog files registered after loading (``catalog:register``), remembered per workspace.

Backstage keeps a registered Location until someone unregisters it; so do we. A service created by
``idp-console scaffold`` in one process is in the catalog of every later process (the TUI included),
not only in the memory of the process that registered it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from backends import paths
from backends.atomic import write_text_atomic


@dataclass(frozen=True, slots=True)
class RegisteredFile:
    path: str  # absolute path of the catalog file
    root: str  # the boundary its Locations and placeholders may not leave


class NotRegisteredError(ValueError):
    """The entity comes from a configured source, not from a registration: nothing to unregister."""


class RegistrationStore:
    def __init__(self, file: Path) -> None:
        self.file = file

    @classmethod
    def for_workspace(cls, workspace_root: Path) -> RegistrationStore:
        """One file per workspace, keyed by the workspace directory."""
        key = hashlib.sha256(os.fspath(workspace_root).encode("utf-8")).hexdigest()[:16]
        return cls(paths.state_dir() / "registrations" / f"{key}.json")

    def files(self) -> list[RegisteredFile]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            return []  # a damaged store loses registrations, never the catalog
        if not isinstance(data, list):
            return []
        return [
            RegisteredFile(str(item["path"]), str(item.get("root") or os.path.dirname(item["path"])))
            for item in data
            if isinstance(item, dict) and isinstance(item.get("path"), str)
        ]

    def find(self, entity_file: str) -> RegisteredFile | None:
        """The registration an entity was read from, given its file (as in ``entity.position.file``)."""
        target = os.path.abspath(entity_file)
        return next((f for f in self.files() if os.path.abspath(f.path) == target), None)

    def forget(self, path: str) -> bool:
        """Unregister a file: later loads no longer read it (the file itself stays). False if unknown."""
        files = self.files()
        kept = [f for f in files if os.path.abspath(f.path) != os.path.abspath(path)]
        if len(kept) == len(files):
            return False
        write_text_atomic(self.file, json.dumps([{"path": f.path, "root": f.root} for f in kept], indent=2))
        return True

    def remember(self, path: str, root: str) -> None:
        files = [f for f in self.files() if f.path != path]
        files.append(RegisteredFile(path, root))
        write_text_atomic(self.file, json.dumps([{"path": f.path, "root": f.root} for f in files], indent=2))


def registration_of(store: RegistrationStore, ref: str, entity_file: str) -> RegisteredFile:
    """The registration to forget to unregister ``ref``, or ``NotRegisteredError`` saying why not."""
    registered = store.find(entity_file)
    if registered is None:
        raise NotRegisteredError(
            f"{ref} was not registered through the scaffolder: it comes from {entity_file}, "
            "a source in the workspace configuration — remove it there"
        )
    return registered

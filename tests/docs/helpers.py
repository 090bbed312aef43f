"""Builders for docs tests: entities read "from" a file, and docs sites written to disk."""

from __future__ import annotations

from pathlib import Path

from backends.catalog.model import Entity, SourcePosition


def make_entity(
    file: Path | str,
    name: str = "payment-service",
    *,
    kind: str = "Component",
    techdocs_ref: str | None = None,
    title: str = "",
) -> Entity:
    metadata: dict = {"name": name}
    if title:
        metadata["title"] = title
    if techdocs_ref is not None:
        metadata["annotations"] = {"backstage.io/techdocs-ref": techdocs_ref}
    raw = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": {}}
    return Entity(raw, SourcePosition(str(file), 1))


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


SITE = {
    "mkdocs.yml": """\
site_name: Payment Service
nav:
  - Home: index.md
  - Guides:
      - Setup: guides/setup.md
      - guides/deploy.md
  - Runbook: runbook.md
  - Status page: https://status.example.com
markdown_extensions:
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
""",
    "docs/index.md": "# Payment Service\n\nSee the [runbook](runbook.md#rollback).\n",
    "docs/guides/setup.md": "# Setting up\n\n## Install\n\nRun it. Back [home](../index.md).\n",
    "docs/guides/deploy.md": "# Deploying\n\nShip it.\n",
    "docs/runbook.md": "# Runbook\n\n## Rollback\n\nUndo.\n",
    "docs/extra/faq.md": "# FAQ\n\nNot in the nav.\n",
    "docs/img/arch.png": b"\x89PNG\r\n\x1a\n\x00\x00",
}

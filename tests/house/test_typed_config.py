"""idp-console.yaml is parsed once, at load, into typed objects; a bad value names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.config import DeployConfig, DocsConfig, GitConfig, IdentityConfig
from backends.workspace import WorkspaceError, load_workspace

CONFIG = """\
name: Acme
identity:
  accounts: {ops1: jane.doe}
  readonly: [auditor]
keymap: {app.quit: ctrl+x}
git:
  remoteBase: file:///srv/git
  author: {name: Bot, email: bot@example.com}
  createMissing: true
docs:
  base_url: https://docs.example.com/
templates:
  allowedHosts: [github.com]
  expressionTimeLimit: 2
environments:
  prod:
    context: prod-cluster
    namespace: shop
    production: true
deploy:
  bake: 30s
  services:
    payments: {bake: 2m}
catalog:
  sources:
    - path: catalog
"""


def write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "idp-console.yaml").write_text(text, encoding="utf-8")
    return root


def test_every_section_is_read_into_typed_objects(tmp_path: Path) -> None:
    config = load_workspace(write(tmp_path / "ws", CONFIG)).config

    assert config is not None
    assert config.name == "Acme"
    assert config.identity == IdentityConfig(None, {"ops1": "jane.doe"}, ("auditor",))
    assert dict(config.keymap) == {"app.quit": "ctrl+x"}
    assert config.git == GitConfig(
        remote_base="file:///srv/git", author_name="Bot", author_email="bot@example.com", create_missing=True
    )
    assert config.docs == DocsConfig("https://docs.example.com")
    assert config.templates.allowed_hosts == ("github.com",) and config.templates.expression_time_limit == 2.0
    prod = config.environments["prod"]
    assert (prod.context, prod.namespace, prod.production) == ("prod-cluster", "shop", True)
    assert isinstance(config.deploy, DeployConfig)
    assert {s.bake for s in config.deploy.for_service().steps} == {30.0}
    assert {s.bake for s in config.deploy.for_service("payments").steps} == {120.0}
    assert [s.path for s in config.catalog] == [str((tmp_path / "ws").resolve() / "catalog")]
    with pytest.raises(AttributeError):
        config.docs.base_url = "elsewhere"  # type: ignore[misc]  # frozen: read, never changed


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("  bake: 30s", "  bake: 2x", "deploy.bake: expected a duration"),
        (
            "    production: true",
            "    production: yes please",
            "environments.prod.production: expected true or false",
        ),
        (
            "  base_url: https://docs.example.com/",
            "  base_url: [a, b]",
            "docs.base_url: expected a string",
        ),
        ("  createMissing: true", "  createMisssing: true", "git.createMisssing: unknown key"),
        ("  readonly: [auditor]", "  readonly: auditor", "identity.readonly: expected a list of accounts"),
        ("name: Acme", "nmae: Acme", "unknown key 'nmae' (did you mean 'name'?"),
    ],
)
def test_a_bad_value_is_one_line_with_file_line_and_key(
    tmp_path: Path, replace: str, by: str, message: str
) -> None:
    text = CONFIG.replace(replace, by)
    line = text.splitlines().index(by) + 1
    root = write(tmp_path / "ws", text)
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root)
    error = str(caught.value)
    assert error.startswith(f"{root / 'idp-console.yaml'}:{line}: "), error
    assert message in error and "\n" not in error

"""Identity comes from the operating system: the environment cannot borrow someone else's."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from backends.identity import account_name, close_session, open_session
from backends.workspace import load_workspace

ME = pwd.getpwuid(os.geteuid()).pw_name


def _config(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "idp-console.yaml").write_text("name: acme\n" + extra)
    return root


def test_environment_variables_do_not_change_who_you_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "jane.doe")
    monkeypatch.setenv("IDP_CONSOLE_USER", "jane.doe")
    monkeypatch.setenv("LOGNAME", "jane.doe")
    assert load_workspace(str(_config(tmp_path / "ws"))).identity == ME == account_name()


def test_accounts_map_an_os_account_to_a_catalog_user(tmp_path: Path) -> None:
    root = _config(tmp_path / "ws", f"identity:\n  accounts:\n    {ME}: jane.doe\n    other: bob\n")
    assert load_workspace(str(root)).identity == "jane.doe"


def test_identity_user_counts_only_in_a_config_you_own(tmp_path: Path) -> None:
    root = _config(tmp_path / "ws", "identity: {user: jane.doe}\n")
    assert load_workspace(str(root)).identity == "jane.doe"  # a personal workspace
    nobody = pwd.getpwnam("nobody")
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(root / "idp-console.yaml", nobody.pw_uid, nobody.pw_gid)
    assert load_workspace(str(root)).identity == ME  # a shared config cannot name you


def test_the_ssh_servers_session_names_the_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = open_session("sam.lee")
    try:
        monkeypatch.setenv("IDP_CONSOLE_SESSION", token)
        assert load_workspace(str(_config(tmp_path / "ws"))).identity == "sam.lee"
        monkeypatch.setenv("IDP_CONSOLE_SESSION", "x" * 20)  # a made-up session names nobody
        assert load_workspace(str(_config(tmp_path / "ws"))).identity == ME
    finally:
        close_session(token)


def test_the_demo_still_lets_you_pick_a_persona(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_CONSOLE_USER", "omar.haddad")
    assert load_workspace(None).identity == "omar.haddad"
    monkeypatch.delenv("IDP_CONSOLE_USER")
    assert load_workspace(None).identity == "jane.doe"


def test_a_session_in_a_shared_config_counts_only_for_a_door_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any process of an account can write a session file naming someone else: in the bastion's
    # shared config (owned by the platform team) that must not make a user someone else…
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    nobody = pwd.getpwnam("nobody")
    shared = _config(tmp_path / "shared")
    os.chown(shared / "idp-console.yaml", nobody.pw_uid, nobody.pw_gid)
    token = open_session("sam.lee")
    try:
        monkeypatch.setenv("IDP_CONSOLE_SESSION", token)
        assert load_workspace(str(shared)).identity == ME
        # …unless the config names this account as one that serves others (serve-ssh, serve-chatops).
        door = _config(tmp_path / "door", f"identity:\n  doors: [{ME}]\n")
        os.chown(door / "idp-console.yaml", nobody.pw_uid, nobody.pw_gid)
        assert load_workspace(str(door)).identity == "sam.lee"
    finally:
        close_session(token)

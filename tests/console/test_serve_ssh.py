"""``idp-console serve-ssh`` driven by the real OpenSSH client on a pty, as an engineer would use it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends.identity import resolve_identity
from backends.sshkeys import KeyTable, catalog_keys, parse_authorized_keys
from backends.sshserver import child_environment
from tests.sshkit import ServeSsh, alive, environ_of, keygen, ssh_client, wait_until

BANNER = "SIMULATED CLUSTER"
APP_START = 90  # seconds: a cold TUI start on a loaded 2-core CI machine


def _key(tmp_path: Path, name: str, comment: str) -> tuple[Path, str]:
    private = keygen(tmp_path / name, comment)
    return private, private.with_suffix(".pub").read_text().strip()


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Keys of sam.lee (named by the IDP_USER option), ann and bob (by comment), and a stranger."""
    sam, sam_pub = _key(tmp_path, "sam", "laptop key")
    ann, ann_pub = _key(tmp_path, "ann", "ann@host")
    bob, bob_pub = _key(tmp_path, "bob", "bob@host")
    stranger, _ = _key(tmp_path, "stranger", "stranger@elsewhere")
    (tmp_path / "authorized_keys").write_text(
        f'environment="IDP_USER=sam.lee",no-port-forwarding {sam_pub}\n{ann_pub}\n{bob_pub}\n'
    )
    return {"sam.lee": sam, "ann": ann, "bob": bob, "stranger": stranger}


def test_a_session_paints_answers_keys_follows_resizes_and_is_the_keys_user(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    with ServeSsh(tmp_path / "server", "--authorized-keys", str(tmp_path / "authorized_keys")) as server:
        with ssh_client(server.port, keys["sam.lee"], "root", "-o", "SetEnv=COLORTERM=truecolor") as client:
            assert client.expect(BANNER, APP_START), client.text()[-800:]
            (app,) = server.apps()
            environ = environ_of(app)
            # Who the app is: the key's user, from the server's session record (not the login name).
            assert resolve_identity(environ=environ) == "sam.lee"
            assert environ["TERM"] == "xterm-256color" and environ["COLORTERM"] == "truecolor"
            assert "COLUMNS" not in environ and "LINES" not in environ

            mark = client.mark()
            client.send(b"2")  # the scaffold mode
            assert client.expect("filter templates", 30, mark), client.text(mark)[-800:]

            mark = client.mark()
            client.resize(70, 20)
            assert client.expect("terminal too small (needs 80x24): 70x20", 30, mark), client.text(mark)[
                -800:
            ]

        # The client is gone: its app is ended and its session no longer names anyone.
        assert wait_until(lambda: not alive(app), 15), "the app outlived its client"
        # (The server forgets the session once it has reaped the app: a moment after it died.)
        assert wait_until(lambda: resolve_identity(environ=environ) != "sam.lee", 15)
        assert wait_until(lambda: "serve-ssh session user=sam.lee" in _audit(), 10)
        line = next(line for line in _audit().splitlines() if "serve-ssh session user=sam.lee" in line)
        assert "login=root from=127.0.0.1:" in line and "ended=client" in line and "duration=" in line


def test_an_unknown_key_or_no_terminal_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    with ServeSsh(tmp_path / "server", "--authorized-keys", str(tmp_path / "authorized_keys")) as server:
        with ssh_client(server.port, keys["stranger"], "ann") as client:
            assert client.wait(30) == 255
            assert "Permission denied (publickey)" in client.text()
        with ssh_client(server.port, keys["ann"], "ann", "-T") as client:  # -T: no pty, no TUI
            assert client.wait(30) == 1
            assert "connect with `ssh -t`" in client.text()
        assert server.apps() == []
    assert 'reason="no authorized key"' in _audit()


def test_limits_refuse_the_extra_connection_with_a_reason(tmp_path: Path, keys: dict[str, Path]) -> None:
    limits = ("--max-per-user", "1", "--max-sessions", "2")
    with (
        ServeSsh(
            tmp_path / "server", "--authorized-keys", str(tmp_path / "authorized_keys"), *limits
        ) as server,
        ssh_client(server.port, keys["ann"], "ann") as first,
    ):
        assert wait_until(lambda: len(server.apps()) == 1, 30), first.text()
        ann_apps = server.apps()
        with ssh_client(server.port, keys["ann"], "ann") as second:
            assert second.wait(30) == 1
            assert "ann already has 1 sessions (limit 1); close one and retry" in second.text()
        with ssh_client(server.port, keys["bob"], "bob") as other:
            assert wait_until(lambda: len(server.apps()) == 2, 30), other.text()
            bob_apps = sorted(set(server.apps()) - set(ann_apps))
            with ssh_client(server.port, keys["sam.lee"], "sam") as third:
                assert third.wait(30) == 1
                assert "the server is full (2 sessions)" in third.text()
        # bob's ssh was killed without a word: the server ends bob's app.
        assert wait_until(lambda: not any(alive(pid) for pid in bob_apps), 15), "app outlived its client"
        assert wait_until(lambda: "session user=bob" in _audit(), 10)
        assert "ended=client" in next(line for line in _audit().splitlines() if "session user=bob" in line)
        server.stop()  # stopping the server ends every app it still runs
        assert wait_until(lambda: not any(alive(pid) for pid in ann_apps), 15)


def test_authorized_keys_name_users_by_option_or_comment(tmp_path: Path) -> None:
    _, one = _key(tmp_path, "one", "ann@laptop")
    _, two = _key(tmp_path, "two", "no user here!")
    text = f'# team keys\n{one}\nenvironment="IDP_USER=bob" {two}\nssh-ed25519 AAAAnot-base64 x@y\n{two}\n'
    found, problems = parse_authorized_keys(text, "ak")
    assert [(key.user, key.origin) for key in found] == [("ann", "ak:2"), ("bob", "ak:3")]
    assert problems[0].startswith("ak:4: ") and problems[1].startswith("ak:5: no user named")


def test_a_key_claimed_by_two_users_lets_nobody_in(tmp_path: Path) -> None:
    _, one = _key(tmp_path, "one", "ann@laptop")
    (tmp_path / "ak").write_text(one + "\n")
    from_catalog, problems = catalog_keys([("bob", "user:default/bob", one.rsplit(" ", 1)[0] + "\n")])
    assert not problems and [key.user for key in from_catalog] == ["bob"]
    table = KeyTable(tmp_path / "ak", fixed=from_catalog)
    table.load()
    assert len(table) == 0
    assert any("is also listed for bob (user:default/bob)" in problem for problem in table.problems)


def test_the_child_environment_never_pins_the_size_and_negotiates_truecolor() -> None:
    base = {"COLUMNS": "80", "LINES": "24", "PATH": "/bin", "SSH_AUTH_SOCK": "/x", "IDP_CONSOLE_USER": "x"}
    env = child_environment(
        base, term="xterm-kitty", client_env={"LD_PRELOAD": "evil.so"}, session_token="t", connection="c"
    )
    assert env["TERM"] == "xterm-kitty" and env["COLORTERM"] == "truecolor" and env["PATH"] == "/bin"
    assert not {"COLUMNS", "LINES", "SSH_AUTH_SOCK", "IDP_CONSOLE_USER", "LD_PRELOAD"} & set(env)
    plain = child_environment(base, term="xterm-256color", client_env={}, session_token="t", connection="c")
    assert "COLORTERM" not in plain


def _audit() -> str:
    path = Path(os.environ["IDP_CONSOLE_HOME"]) / "state" / "serve-ssh.log"
    return path.read_text() if path.exists() else ""


def test_catalog_keys_let_their_user_in_when_asked_for(tmp_path: Path) -> None:
    key, public = _key(tmp_path, "ravi", "whatever@laptop")
    other, _ = _key(tmp_path, "other", "other@laptop")
    workspace = tmp_path / "ws"
    (workspace / "catalog").mkdir(parents=True)
    (workspace / "idp-console.yaml").write_text("name: Keys\ncatalog:\n  sources:\n    - path: catalog\n")
    (workspace / "catalog" / "users.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ravi\n  annotations:\n"
        f"    idp-console.io/ssh-public-keys: |\n      {public}\nspec:\n  memberOf: []\n"
    )
    with ServeSsh(tmp_path / "server", "--catalog-keys", workspace=workspace) as server:
        # -T: authenticated, then told this door needs a terminal (no app is started for the check).
        with ssh_client(server.port, key, "anyone", "-T") as client:
            assert client.wait(30) == 1 and "connect with `ssh -t`" in client.text()
        with ssh_client(server.port, other, "ravi", "-T") as client:
            assert client.wait(30) == 255 and "Permission denied" in client.text()
    assert "refused user=ravi" in _audit()


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def test_preloaded_sessions_are_forked_from_one_process_and_are_still_their_own(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    args = ("--authorized-keys", str(tmp_path / "authorized_keys"), "--preload")
    with ServeSsh(tmp_path / "server", *args) as server:
        zygote = server.zygote()
        assert zygote is not None
        with ssh_client(server.port, keys["sam.lee"], "root", "-o", "SetEnv=COLORTERM=truecolor") as client:
            assert client.expect(BANNER, APP_START), client.text()[-800:]
            (app,) = server.apps()
            assert _parent(app) == zygote  # forked, not started afresh: it shares the zygote's pages
            # Its own session all the same: who it is (the key's user), its colours, its keys, its size.
            assert client.expect("sam.lee", 30), client.text()[-800:]
            assert b"\x1b[38;2;" in client.output  # 24-bit colour: the session's COLORTERM reached it
            mark = client.mark()
            client.send(b"2")
            assert client.expect("filter templates", 30, mark), client.text(mark)[-800:]
            mark = client.mark()
            client.resize(70, 20)
            assert client.expect("terminal too small (needs 80x24): 70x20", 30, mark), client.text(mark)[
                -800:
            ]
        assert wait_until(lambda: not alive(app), 15), "the app outlived its client"
        assert wait_until(lambda: "serve-ssh session user=sam.lee" in _audit(), 10)
        line = next(line for line in _audit().splitlines() if "serve-ssh session user=sam.lee" in line)
        assert "ended=client" in line and "exit=" in line
        assert alive(zygote)  # ready for the next session
    assert wait_until(lambda: not alive(zygote), 15), "the zygote outlived its server"

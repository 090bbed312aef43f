"""idp-console behind the distribution's OpenSSH server (``ForceCommand``), driven by the real client.

The sshd is the test's own: a temp dir with its config, host key and authorized_keys, on a free
loopback port, ended (with every session process it forked) when the test ends.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshkit import ROOT, alive, environ_of, keygen, ssh_client, wait_until

SSHD = "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(
    not os.path.exists(SSHD), reason="needs OpenSSH's server (apt-get install openssh-server)"
)
APP_START = 90


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as handle:
                    kids = [int(child) for child in handle.read().split()]
                    found += kids
                    queue += kids
    return found


@contextlib.contextmanager
def openssh_server(tmp_path: Path, home: Path) -> Iterator[int]:
    """sshd -D on a free port whose only command is the idp-console TUI; yields the port."""
    host_key = keygen(tmp_path / "ssh_host_ed25519_key", "host")
    client_key = keygen(tmp_path / "client_key", "engineer")
    (tmp_path / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    app = f"cd {shlex.quote(str(ROOT))} && exec env IDP_CONSOLE_HOME={shlex.quote(str(home))} "
    app += f"IDP_CONSOLE_SIMULATION=in-process {shlex.quote(sys.executable)} -m console.cli"
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {tmp_path / 'sshd.pid'}",
                f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}",
                "StrictModes no",  # the temp dir is not the user's home
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "AcceptEnv COLORTERM",
                f"ForceCommand {app}",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    log = (tmp_path / "sshd.log").open("wb")
    sshd = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    try:
        assert wait_until(lambda: _accepts(port) or sshd.poll() is not None, 20)
        assert sshd.poll() is None, (tmp_path / "sshd.log").read_text()
        yield port
    finally:
        forked = _descendants(sshd.pid)
        sshd.terminate()
        sshd.wait(10)
        for pid in forked:  # per-connection sshd processes left behind by a failed test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _apps_of(home: Path) -> list[int]:
    """The idp-console processes this test's sshd started (they carry the test's own home)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if environ_of(int(entry)).get("IDP_CONSOLE_HOME") == str(home) and alive(int(entry)):
                    found.append(int(entry))
    return found


def test_killing_the_ssh_client_ends_the_app_behind_sshd(tmp_path: Path) -> None:
    home = tmp_path / "app-home"
    with openssh_server(tmp_path, home) as port:
        key, login, extra = tmp_path / "client_key", getpass.getuser(), ("-o", "SendEnv=COLORTERM")
        with ssh_client(port, key, login, *extra, colorterm="truecolor") as client:
            assert client.expect("SIMULATED CLUSTER", APP_START), client.text()[-800:]
            (app,) = _apps_of(home)
            # AcceptEnv COLORTERM (the README's snippet) is what gives truecolor terminals 24-bit colour.
            assert environ_of(app).get("COLORTERM") == "truecolor"
            client.process.send_signal(signal.SIGKILL)  # the laptop's lid closes mid-session
            assert wait_until(lambda: not alive(app), 10), "idp-console outlived its ssh connection"

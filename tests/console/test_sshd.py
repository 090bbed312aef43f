"""idp-console behind the distribution's OpenSSH server (``ForceCommand``), driven by the real client.

The sshd is the test's own: a temp dir with its config, host key and authorized_keys, on a free
loopback port, ended (with every session process it forked) when the test ends.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
from pathlib import Path

import pytest

from tests.sshkit import SSHD, OpenSshServer, alive, environ_of, ssh_client, tui_command, wait_until

pytestmark = pytest.mark.skipif(
    not os.path.exists(SSHD), reason="needs OpenSSH's server (apt-get install openssh-server)"
)
APP_START = 90


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
    with OpenSshServer(tmp_path, tui_command(home)) as sshd:
        login, extra = getpass.getuser(), ("-o", "SendEnv=COLORTERM")
        with ssh_client(sshd.port, sshd.client_key, login, *extra, colorterm="truecolor") as client:
            assert client.expect("SIMULATED CLUSTER", APP_START), client.text()[-800:]
            (app,) = _apps_of(home)
            # AcceptEnv COLORTERM (the README's snippet) is what gives truecolor terminals 24-bit colour.
            assert environ_of(app).get("COLORTERM") == "truecolor"
            client.process.send_signal(signal.SIGKILL)  # the laptop's lid closes mid-session
            assert wait_until(lambda: not alive(app), 10), "idp-console outlived its ssh connection"

"""Who is using idp-console — from the operating system, never from the environment.

On a shared bastion every production guardrail (only the owning team deploys to production, every
change records who made it) rests on this answer, so it must not be borrowable: ``USER=jane.doe
idp-console …`` must not make anyone jane.doe. The answer, in order:

1. a session of the built-in SSH server (``idp-console serve-ssh``): the server authenticated a key
   and wrote the session's user into a file in *its own* private directory; the child it started
   names that session in ``IDP_CONSOLE_SESSION``. Only processes of the server's account can read the
   file, so another account naming the session gets nothing from it. Any process of that account
   could write such a file too, so the workspace honours sessions only for accounts listed in
   ``identity.doors`` (the accounts the servers run as, which nobody logs in to), in a personal
   workspace (config owned by the account) and in the demo;
2. the account the process runs as (``getpwuid(geteuid())``), mapped through ``identity.accounts``
   in idp-console.yaml (default: the same name);
3. the built-in demo only: ``IDP_CONSOLE_USER`` (the demo has no accounts of its own; everyone is a
   guest in someone else's example organisation).
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Mapping
from pathlib import Path

SESSION_VARIABLE = "IDP_CONSOLE_SESSION"
DEMO_USER_VARIABLE = "IDP_CONSOLE_USER"
DEMO_DEFAULT_USER = "jane.doe"
_SESSION_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def account_name() -> str:
    """The login name of the account this process runs as (the kernel's answer, not $USER)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid-{os.geteuid()}"


def sessions_dir() -> Path:
    """Where the SSH server of this account records its sessions (0700, this account only)."""
    from backends import paths

    path = paths.state_dir() / "ssh-sessions"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def open_session(user: str) -> str:
    """Record a session for ``user`` (the SSH server, after authenticating a key); returns its token."""
    import secrets  # only the SSH server opens sessions: not worth every start's import

    token = secrets.token_urlsafe(24)
    path = sessions_dir() / token
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(user)
    return token


def close_session(token: str) -> None:
    if _SESSION_TOKEN.match(token):
        (sessions_dir() / token).unlink(missing_ok=True)


def session_user(environ: Mapping[str, str]) -> str | None:
    """The user of the SSH session named in the environment, if this account's server recorded it."""
    token = environ.get(SESSION_VARIABLE, "")
    if not _SESSION_TOKEN.match(token):
        return None
    try:
        path = sessions_dir() / token
        if path.stat().st_uid != os.geteuid():
            return None
        user = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return user or None


def resolve_identity(
    accounts: Mapping[str, str] | None = None,
    *,
    is_demo: bool = False,
    environ: Mapping[str, str] | None = None,
    sessions: bool = True,
) -> str:
    """The catalog User name of whoever runs this process (see the module docstring).

    ``sessions=False`` ignores any session: the caller decided this account may not be spoken for.
    """
    environ = os.environ if environ is None else environ
    from_session = session_user(environ) if sessions else None
    if from_session:
        return from_session
    if is_demo:
        return environ.get(DEMO_USER_VARIABLE) or DEMO_DEFAULT_USER
    account = account_name()
    return str((accounts or {}).get(account) or account)

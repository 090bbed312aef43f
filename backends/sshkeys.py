"""Which public key belongs to which catalog user, for the built-in SSH server.

Two sources, both optional:

- an OpenSSH ``authorized_keys`` file. The user is named by an ``environment="IDP_USER=name"``
  option when the line has one, else by the key's comment up to any ``@`` (``ssh-keygen``'s default
  comment is ``name@host``). The file is read again whenever it changes, as sshd does;
- the annotation ``idp-console.io/ssh-public-keys`` on catalog User entities: one OpenSSH public key
  per line, for that User. Whoever can edit the catalog can then let keys in, so this source is
  only used when asked for (``serve-ssh --catalog-keys``).

A key named for two different users is ambiguous and refused (and reported when loaded): which of
them a session would be must never depend on reading order.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

ANNOTATION = "idp-console.io/ssh-public-keys"
USER_OPTION = "IDP_USER"
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_KEY_TYPE = re.compile(r"^(ssh-|ecdsa-|sk-)")
_ENVIRONMENT_OPTION = re.compile(r'(?:^|,)environment="' + USER_OPTION + r'=([^"]*)"')


@dataclass(frozen=True, slots=True)
class KeyLine:
    """One authorized key: its public data (what a client proves), the user, and where it was read."""

    public_data: bytes
    user: str
    origin: str  # file:line or user:default/name


def split_authorized_line(line: str) -> tuple[str, str, str, str] | None:
    """``(options, type, base64, comment)`` of one authorized_keys line; None for blanks/comments."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    options = ""
    if not _KEY_TYPE.match(line):
        quoted, end = False, len(line)
        for index, char in enumerate(line):
            if char == '"' and (index == 0 or line[index - 1] != "\\"):
                quoted = not quoted
            elif char in " \t" and not quoted:
                end = index
                break
        options, line = line[:end], line[end:].strip()
    fields = line.split(None, 2)
    if len(fields) < 2:
        return None
    return options, fields[0], fields[1], fields[2] if len(fields) > 2 else ""


def parse_authorized_keys(text: str, origin: str) -> tuple[list[KeyLine], list[str]]:
    """The keys of an authorized_keys text and one problem line per line that cannot be used."""
    keys: list[KeyLine] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{origin}:{number}"
        parts = split_authorized_line(line)
        if parts is None:
            if line.strip() and not line.strip().startswith("#"):
                problems.append(f"{where}: not a public key line")
            continue
        options, key_type, data, comment = parts
        named = _ENVIRONMENT_OPTION.search(options)
        user = named.group(1) if named else comment.split("@", 1)[0].strip()
        if not _USER_NAME.match(user):
            problems.append(
                f'{where}: no user named (add environment="{USER_OPTION}=name" or a comment name@host)'
            )
            continue
        try:
            key = asyncssh.import_public_key(f"{key_type} {data}")
        except (asyncssh.KeyImportError, ValueError) as error:
            problems.append(f"{where}: {error}")
            continue
        keys.append(KeyLine(key.public_data, user, where))
    return keys, problems


def catalog_keys(users: Iterable[tuple[str, str, str]]) -> tuple[list[KeyLine], list[str]]:
    """Keys from ``(user name, entity ref, annotation value)`` of catalog Users."""
    keys: list[KeyLine] = []
    problems: list[str] = []
    for name, ref, value in users:
        found, bad = parse_authorized_keys(
            "\n".join(f"{line} {name}" for line in value.splitlines() if line.strip()), ref
        )
        # The comment was replaced by the entity's name: the User, not the key, says who it is.
        keys += [KeyLine(key.public_data, name, ref) for key in found]
        problems += [f"{ref}: {ANNOTATION}: {problem.split(': ', 1)[1]}" for problem in bad]
    return keys, problems


@dataclass(slots=True)
class KeyTable:
    """Public key → catalog user, from a file (re-read when it changes) and fixed catalog keys."""

    authorized_keys: Path | None = None
    fixed: list[KeyLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _by_key: dict[bytes, str | None] = field(default_factory=dict)
    _stamp: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> None:
        """(Re)build the table; problems (bad lines, ambiguous keys) are kept in ``problems``."""
        keys, problems = list(self.fixed), []
        if self.authorized_keys is not None:
            try:
                text = self.authorized_keys.read_text(encoding="utf-8")
                self._stamp = _stamp(self.authorized_keys)
            except (OSError, UnicodeDecodeError) as error:
                text, self._stamp = "", None
                problems.append(f"{self.authorized_keys}: cannot read ({error})")
            found, bad = parse_authorized_keys(text, str(self.authorized_keys))
            keys += found
            problems += bad
        by_key: dict[bytes, str | None] = {}
        origins: dict[bytes, str] = {}
        for key in keys:
            known = by_key.get(key.public_data, key.user)
            if known != key.user:
                problems.append(
                    f"{key.origin}: this key is also listed for {origins[key.public_data]}: refused for both"
                )
                by_key[key.public_data] = None  # ambiguous: nobody logs in with it
            elif key.public_data not in by_key:
                by_key[key.public_data] = key.user
                origins[key.public_data] = f"{key.user} ({key.origin})"
        with self._lock:
            self._by_key = by_key
            self.problems = problems

    def __len__(self) -> int:
        return sum(1 for user in self._by_key.values() if user)

    def user_for(self, key: asyncssh.SSHKey) -> str | None:
        """The catalog user this public key belongs to, or None (unknown or ambiguous)."""
        if self.authorized_keys is not None and _stamp(self.authorized_keys) != self._stamp:
            self.load()
        with self._lock:
            return self._by_key.get(key.public_data)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size

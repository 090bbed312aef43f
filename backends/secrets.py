"""Secret storage: the OS keyring for people, the environment for CI.

A secret is addressed by a short name (``GIT_TOKEN``, ``github.com``). Values never go to logs or
history; callers that read one register it with the scaffolder's redactor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

KEYRING_SERVICE = "idp-console"
ENV_PREFIX = "IDP_CONSOLE_SECRET_"


class SecretStoreError(Exception):
    """The store cannot be used (no keyring backend, read-only store)."""


@runtime_checkable
class SecretStore(Protocol):
    """Get and set named secrets."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...


def env_name(name: str) -> str:
    """The environment variable for a secret: ``IDP_CONSOLE_SECRET_`` + name, upper-cased, [A-Z0-9_]."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


class EnvironmentSecretStore:
    """Secrets from ``IDP_CONSOLE_SECRET_<NAME>`` variables (read-only; for CI)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ

    def get(self, name: str) -> str | None:
        value = self._environ.get(env_name(name))
        return value or None

    def set(self, name: str, value: str) -> None:
        raise SecretStoreError(f"the environment secret store is read-only: export {env_name(name)} instead")


class KeyringSecretStore:
    """Secrets in the OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service

    def get(self, name: str) -> str | None:
        import keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(self.service, name)
        except (KeyringError, RuntimeError):
            return None  # no usable backend (headless box): behave like an empty store

    def set(self, name: str, value: str) -> None:
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(self.service, name, value)
        except (KeyringError, RuntimeError) as error:
            raise SecretStoreError(f"cannot store {name!r} in the keyring: {error}") from error


class ChainedSecretStore:
    """Ask stores in order (environment first, so CI overrides the keyring); set in the first writable."""

    def __init__(self, stores: Sequence[SecretStore]) -> None:
        self.stores = list(stores)

    def get(self, name: str) -> str | None:
        for store in self.stores:
            value = store.get(name)
            if value:
                return value
        return None

    def set(self, name: str, value: str) -> None:
        errors = []
        for store in self.stores:
            try:
                store.set(name, value)
                return
            except SecretStoreError as error:
                errors.append(str(error))
        raise SecretStoreError("; ".join(errors) or "no secret store configured")


def default_secret_store() -> SecretStore:
    """Environment variables first, then the OS keyring."""
    return ChainedSecretStore([EnvironmentSecretStore(), KeyringSecretStore()])


class FileSecretStore:
    """Secrets in one JSON file readable only by this account (0600): what the platform generates
    itself (database passwords) and must read back from processes without a desktop session — a
    detached deploy runner, an SSH session — where the OS keyring is not available."""

    def __init__(self, file: os.PathLike[str] | str) -> None:
        from pathlib import Path

        self.file = Path(file)

    def _read(self) -> dict[str, str]:
        import json

        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise SecretStoreError(f"{self.file}: unreadable secret file: {error}") from error
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, name: str) -> str | None:
        return self._read().get(name) or None

    def set(self, name: str, value: str) -> None:
        import json

        data = {**self._read(), name: value}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.file.with_name(f".{self.file.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(temporary, self.file)


def platform_secret_store() -> SecretStore:
    """Where the platform keeps secrets it generates: the environment first (CI), then a 0600 file
    in the state dir."""
    from backends import paths

    return ChainedSecretStore([EnvironmentSecretStore(), FileSecretStore(paths.state_dir() / "secrets.json")])

"""Secret stores: environment (CI), keyring, and the chain of both."""

from __future__ import annotations

import pytest

from backends.secrets import (
    ChainedSecretStore,
    EnvironmentSecretStore,
    KeyringSecretStore,
    SecretStore,
    SecretStoreError,
    env_name,
)


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value


def test_environment_store_reads_prefixed_variables() -> None:
    store = EnvironmentSecretStore(
        {"IDP_CONSOLE_SECRET_GIT_TOKEN": "t1", "IDP_CONSOLE_SECRET_GITHUB_COM": "t2"}
    )
    assert store.get("GIT_TOKEN") == "t1"
    assert store.get("github.com") == "t2"
    assert store.get("missing") is None
    assert env_name("git-token") == "IDP_CONSOLE_SECRET_GIT_TOKEN"
    with pytest.raises(SecretStoreError, match="read-only"):
        store.set("x", "y")
    assert isinstance(store, SecretStore)


def test_chain_prefers_environment_and_writes_to_first_writable() -> None:
    memory = MemoryStore()
    memory.values["A"] = "from-keyring"
    chain = ChainedSecretStore([EnvironmentSecretStore({"IDP_CONSOLE_SECRET_A": "from-env"}), memory])
    assert chain.get("A") == "from-env"
    chain.set("B", "b")
    assert memory.values["B"] == "b"
    assert ChainedSecretStore([EnvironmentSecretStore({}), memory]).get("A") == "from-keyring"


def test_keyring_store_uses_the_keyring_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]
        data: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.data.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.data[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.data.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        store = KeyringSecretStore()
        store.set("GIT_TOKEN", "secret")
        assert store.get("GIT_TOKEN") == "secret"
        assert Memory.data[("idp-console", "GIT_TOKEN")] == "secret"
    finally:
        keyring.set_keyring(previous)


def test_keyring_store_without_backend_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        store = KeyringSecretStore()
        assert store.get("anything") is None
        with pytest.raises(SecretStoreError):
            store.set("x", "y")
    finally:
        keyring.set_keyring(previous)

"""A real container registry for the tests: Debian's ``docker-registry`` (CNCF Distribution 2.8).

One server per pytest process (each xdist worker), on a free loopback port, filesystem storage in a
temp dir, basic auth from a bcrypt htpasswd file. Images are pushed by the tests themselves over the
OCI distribution API (a blob, a config and a manifest), so every digest a test expects is one it
computed. Without the binary the tests skip, saying why — unless ``CI`` is set: CI installs the
``docker-registry`` package (``.ci/run``), so a missing server there is a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest

BINARY = "/usr/bin/docker-registry"
USER = "ci-pusher"
PASSWORD = "push-it-4Kq"  # a test credential of this throwaway server only

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_CONFIG_TYPES = {
    OCI_MANIFEST: "application/vnd.oci.image.config.v1+json",
    DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
}
_LAYER_TYPES = {
    OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip",
    DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


def _binary() -> str:
    found = shutil.which("docker-registry") or (BINARY if os.path.exists(BINARY) else None)
    if found:
        return found
    message = f"no CNCF Distribution server ({BINARY}: apt-get install docker-registry)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the registry tests (.ci/run installs docker-registry)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealRegistry:
    """A running registry: where it listens and how to push to it."""

    url: str
    host: str  # 127.0.0.1:PORT — what image names start with
    root: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(USER, PASSWORD), timeout=10)

    def push(self, repository: str, tag: str, *, media_type: str = OCI_MANIFEST, payload: str = "") -> str:
        """Push a small image ``repository:tag`` (a layer, a config, a manifest of ``media_type``;
        for an index or a manifest list, one platform image inside it); its manifest digest."""
        with self.client() as client:
            if media_type in (OCI_INDEX, DOCKER_LIST):
                single = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
                inner, size = self._push_manifest(client, repository, None, single, payload or tag)
                body = {
                    "schemaVersion": 2,
                    "mediaType": media_type,
                    "manifests": [
                        {
                            "mediaType": single,
                            "digest": inner,
                            "size": size,
                            "platform": {"architecture": "amd64", "os": "linux"},
                        }
                    ],
                }
                return self._put_manifest(client, repository, tag, media_type, body)[0]
            return self._push_manifest(client, repository, tag, media_type, payload or tag)[0]

    def _push_manifest(
        self, client: httpx.Client, repository: str, tag: str | None, media_type: str, payload: str
    ) -> tuple[str, int]:
        layer = self._push_blob(client, repository, f"layer of {repository} {payload}".encode())
        config_bytes = json.dumps(
            {"architecture": "amd64", "os": "linux", "config": {"Labels": {"payload": payload}}}
        ).encode()
        config = self._push_blob(client, repository, config_bytes)
        body = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": _CONFIG_TYPES[media_type], "digest": config[0], "size": config[1]},
            "layers": [{"mediaType": _LAYER_TYPES[media_type], "digest": layer[0], "size": layer[1]}],
        }
        return self._put_manifest(client, repository, tag, media_type, body)

    @staticmethod
    def _push_blob(client: httpx.Client, repository: str, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        # The Location carries the upload's state in its query: add the digest, keep the rest.
        location = httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest})
        done = client.put(
            location,
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest, len(data)

    @staticmethod
    def _put_manifest(
        client: httpx.Client, repository: str, tag: str | None, media_type: str, body: dict
    ) -> tuple[str, int]:
        data = json.dumps(body).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        answer = client.put(
            f"/v2/{repository}/manifests/{tag or digest}", content=data, headers={"Content-Type": media_type}
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers.get("Docker-Content-Digest") == digest
        return digest, len(data)


def _write_config(root: Path, port: int) -> Path:
    htpasswd = root / "htpasswd"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"{USER}:{hashed}\n", encoding="utf-8")
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        f"auth: {{htpasswd: {{realm: idp-console-tests, path: {htpasswd}}}}}\n",
        encoding="utf-8",
    )
    return config


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/v2/", timeout=1).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not answer at {url} within 30 s")


@pytest.fixture(scope="session")
def real_registry() -> Iterator[RealRegistry]:
    binary = _binary()
    root = Path(tempfile.mkdtemp(prefix="idp-registry-"))
    port = _free_port()
    config = _write_config(root, port)
    log = root / "registry.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        _wait_until_up(url, process, log)
        yield RealRegistry(url=url, host=f"127.0.0.1:{port}", root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)

"""A real container registry for the tests: Debian's ``docker-registry`` (CNCF Distribution 2.8).

One server per pytest process (each xdist worker), on a free loopback port, filesystem storage in a
temp dir, basic auth from a bcrypt htpasswd file. Images are pushed by the tests themselves over the
OCI distribution API (a blob, a config and a manifest), so every digest a test expects is one it
computed. Without the binary the tests skip, saying why — unless ``CI`` is set: CI installs the
``docker-registry`` package (``.ci/run``), so a missing server there is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
    auth: Any = (USER, PASSWORD)  # how the tests push (a token registry: a token minted directly)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=10)

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


def _htpasswd_auth(root: Path) -> str:
    htpasswd = root / "htpasswd"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"{USER}:{hashed}\n", encoding="utf-8")
    return f"{{htpasswd: {{realm: idp-console-tests, path: {htpasswd}}}}}"


def _write_config(root: Path, port: int, auth: str) -> Path:
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        f"auth: {auth}\n",
        encoding="utf-8",
    )
    return config


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """A Docker token service on loopback: ``GET /token?service=…&scope=…`` with basic auth
    (``USER``/``PASSWORD``) answers ``{"token": JWT}``, an ES256 JWT whose x5c certificate the
    registry trusts (its ``rootcertbundle``). Wrong or missing credentials: 401."""

    SERVICE = "idp-console-test-registry"
    ISSUER = "idp-console-test-issuer"

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp-console test token service")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.url = ""
        self.issued = 0

    def mint(self, scopes: list[str]) -> str:
        """A token granting each ``repository:NAME:ACTIONS`` scope."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.der).decode()]}
        claims = {
            "iss": self.ISSUER,
            "sub": USER,
            "aud": self.SERVICE,
            "exp": now + 300,
            "nbf": now - 60,
            "iat": now,
            "jti": f"t{now}-{self.issued}",
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        self.issued += 1
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def registry_auth(self, root: Path) -> str:
        bundle = root / "token-root.pem"
        bundle.write_bytes(self.pem)
        return (
            f"{{token: {{realm: '{self.url}/token', service: {self.SERVICE}, issuer: {self.ISSUER}, "
            f"rootcertbundle: {bundle}}}}}"
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        service = self
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                from urllib.parse import parse_qs, urlparse

                query = parse_qs(urlparse(self.path).query)
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": service.mint(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()


class _MintedToken(httpx.Auth):
    """How the tests push to the token registry: a token minted directly for the repository."""

    def __init__(self, service: TokenService) -> None:
        self.service = service

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        parts = request.url.path.split("/")[2:]
        marker = next(i for i, p in enumerate(parts) if p in ("blobs", "manifests", "tags"))
        name = "/".join(parts[:marker])
        token = self.service.mint([f"repository:{name}:pull,push"])
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


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


@contextlib.contextmanager
def _serve(auth: Callable[[Path], str]) -> Iterator[RealRegistry]:
    binary = _binary()
    root = Path(tempfile.mkdtemp(prefix="idp-registry-"))
    port = _free_port()
    config = _write_config(root, port, auth(root))
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


@pytest.fixture(scope="session")
def real_registry() -> Iterator[RealRegistry]:
    """The registry with basic auth (htpasswd)."""
    with _serve(_htpasswd_auth) as registry:
        yield registry


@pytest.fixture(scope="session")
def token_registry() -> Iterator[RealRegistry]:
    """The registry with token auth: it answers ``401 WWW-Authenticate: Bearer realm=…`` and trusts
    tokens signed by :class:`TokenService` (a loopback token service, as Docker Hub's or Harbor's)."""
    service = TokenService()
    with service.running(), _serve(service.registry_auth) as registry:
        registry.auth = _MintedToken(service)
        yield registry

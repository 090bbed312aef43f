"""A Kubernetes cluster reached over HTTP with the official client, as plain dicts.

Objects are returned as the JSON the API server sent (``dict``), not the client's models: the
engine only reads a few fields, and dicts survive servers that omit fields the models require.

Resilience lives here, once, so no caller has to think about it:
- 5xx, 429, timeouts and dropped connections are retried with capped exponential backoff;
- :meth:`Cluster.update` is a read-modify-write that re-reads and re-applies on 409 Conflict;
- a cluster that cannot be reached at all raises :class:`ClusterUnreachable` (never a fallback).
"""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from backends.retry import exponential, retry

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class ClusterError(Exception):
    """An API call that failed for good (after retries), with what was being done."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ClusterUnreachable(ClusterError):
    """The API server could not be reached (connection refused, DNS, timeouts after retries)."""


class NotFound(ClusterError):
    pass


class Conflict(ClusterError):
    """409: the object changed since it was read, or already exists (on create)."""


class Gone(ClusterError):
    """410: a watch's resourceVersion is too old; the caller must list again."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1-based), with jitter so clients don't march."""
        return exponential(self.base_delay, self.max_delay)(attempt)


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class _Resource:
    prefix: str  # the API group's path
    plural: str

    def path(self, namespace: str, name: str | None = None, *, watch: bool = False) -> str:
        base = f"{self.prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{quote(name, safe='')}" if name else base


# Plain paths through ApiClient rather than the generated AppsV1Api/CoreV1Api: those import every
# pydantic model of their group on first use (~3 s of CPU each here), for objects we read as dicts.
RESOURCES: dict[str, _Resource] = {
    "deployments": _Resource("/apis/apps/v1", "deployments"),
    "replicasets": _Resource("/apis/apps/v1", "replicasets"),
    "pods": _Resource("/api/v1", "pods"),
    "services": _Resource("/api/v1", "services"),
    "secrets": _Resource("/api/v1", "secrets"),
    "leases": _Resource("/apis/coordination.k8s.io/v1", "leases"),
    "httproutes": _Resource("/apis/gateway.networking.k8s.io/v1", "httproutes"),
    "events": _Resource("/api/v1", "events"),
    # What infra apply renders (backends/infra): databases and caches, or their Crossplane-style claims.
    "statefulsets": _Resource("/apis/apps/v1", "statefulsets"),
    "databaseinstances": _Resource("/apis/platform.internal/v1alpha1", "databaseinstances"),
    "cacheinstances": _Resource("/apis/platform.internal/v1alpha1", "cacheinstances"),
}


def default_kubeconfig() -> str:
    """``$KUBECONFIG`` (read now, not at import, and possibly a path list) else ``~/.kube/config``."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


class Cluster:
    """Typed access to one cluster (one kubeconfig context). Thread-safe: share one per context."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        name: str = "",
        retry: RetryPolicy | None = None,
        request_timeout: tuple[float, float] = (3.0, 15.0),
    ) -> None:
        self.api_client = api_client
        self.name = name or api_client.configuration.host
        self.retry = retry or RetryPolicy()
        self.request_timeout = request_timeout
        self.stats = {"calls": 0, "retries": 0, "conflicts": 0}

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | None = None,
        context: str | None = None,
        **kwargs: Any,
    ) -> Cluster:
        """Load a kubeconfig as kubectl does: ``kubeconfig`` or ``$KUBECONFIG`` or ~/.kube/config,
        and ``context`` (kubectl's ``--context``) or the file's current-context."""
        path = os.path.expanduser(kubeconfig) if kubeconfig else default_kubeconfig()
        # Like kubectl, a $KUBECONFIG list may name files that do not exist; all missing is an error.
        existing = [p for p in path.split(os.pathsep) if p and os.path.exists(os.path.expanduser(p))]
        if not existing:
            raise ClusterError(f"kubeconfig {path} does not exist")
        path = os.pathsep.join(existing)
        _check_kubeconfig(existing, context)
        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
        except ConfigException as error:
            raise ClusterError(f"kubeconfig {path}: {error}") from error
        except (TypeError, KeyError, AttributeError, ValueError, yaml.YAMLError) as error:
            # A well-formed file of the wrong shape (a cluster entry that is a string, …): the
            # client's own loader has no clear error for those.
            raise ClusterError(f"kubeconfig {path}: not a valid kubeconfig ({error})") from error
        # Retries are ours (with backoff and logging); urllib3's would multiply timeouts silently.
        configuration.retries = urllib3.Retry(total=0, redirect=False, raise_on_status=False)
        name = context or _current_context(path) or configuration.host
        return cls(client.ApiClient(configuration), name=name, **kwargs)

    # -- the one place HTTP happens ----------------------------------------------------------------
    def _request(self, what: str, call: Callable[[], Any]) -> Any:
        """Run ``call`` (returns a raw urllib3 response) with retries; the JSON body as a dict."""

        def once() -> Any:
            self.stats["calls"] += 1
            try:
                response = call()
                try:
                    body = response.data
                finally:
                    response.release_conn()
                return json.loads(body) if body else {}
            except ApiException as error:
                status = error.status or 0
                if status == 404:
                    raise NotFound(f"{what}: not found", 404) from error
                if status == 409:
                    raise Conflict(f"{what}: conflict: {_reason(error)}", 409) from error
                if status == 410:
                    raise Gone(f"{what}: gone: {_reason(error)}", 410) from error
                if status not in RETRYABLE_STATUS:
                    raise ClusterError(f"{what}: HTTP {status}: {_reason(error)}", status) from error
                raise  # retryable: 429 and 5xx

        def on_retry(attempt: int, error: BaseException, _wait: float) -> None:
            self.stats["retries"] += 1
            log.info("retrying %s after %s (attempt %d)", what, error, attempt)

        try:
            return retry(
                once,
                attempts=self.retry.attempts,
                on=(ApiException, urllib3.exceptions.HTTPError, OSError),
                delay=self.retry.delay,
                on_retry=on_retry,
            )
        except ApiException as last:
            raise ClusterError(
                f"{what}: HTTP {last.status} after {self.retry.attempts} attempts", last.status
            ) from last
        except (urllib3.exceptions.HTTPError, OSError) as last:
            raise ClusterUnreachable(
                f"cannot reach the cluster {self.name} ({self.api_client.configuration.host}): "
                f"{what}: {_short(last)}"
            ) from last

    def _http(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        """One request through the official client (auth, TLS, proxy from the kubeconfig); the raw
        urllib3 response, unread, so watches can stream it. Non-2xx raises ApiException."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method_, url, headers_, body_, _ = self.api_client.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(
            method_, url, header_params=headers_, body=body_, _request_timeout=timeout or self.request_timeout
        )
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    # -- verbs ------------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        """The server's /version; the cheapest proof the cluster is reachable."""
        return self._request("get /version", lambda: self._http("GET", "/version"))

    def server_time(self) -> dt.datetime | None:
        """The API server's clock (the ``Date`` of its answer, to the second); None if unknown."""
        try:
            response = self._http("GET", "/version")
            try:
                response.data  # noqa: B018 - read the body so the connection can be reused
                date = response.headers.get("Date")
            finally:
                response.release_conn()
            return email.utils.parsedate_to_datetime(date) if date else None
        except (ApiException, urllib3.exceptions.HTTPError, OSError, TypeError, ValueError):
            return None

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        path = RESOURCES[kind].path(namespace, name)
        return self._request(f"get {kind}/{name} in {namespace}", lambda: self._http("GET", path))

    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """:meth:`get`, but None when the object does not exist."""
        try:
            return self.get(kind, namespace, name)
        except NotFound:
            return None

    def list(self, kind: str, namespace: str, label_selector: str | None = None) -> tuple[list[dict], str]:
        """Items and the list's resourceVersion (where a watch continues from)."""
        path = RESOURCES[kind].path(namespace)
        query = [("labelSelector", label_selector)] if label_selector else []
        data = self._request(f"list {kind} in {namespace}", lambda: self._http("GET", path, query=query))
        return list(data.get("items") or []), str((data.get("metadata") or {}).get("resourceVersion") or "")

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        path = RESOURCES[kind].path(namespace)
        name = (body.get("metadata") or {}).get("name", "?")
        return self._request(
            f"create {kind}/{name} in {namespace}", lambda: self._http("POST", path, body=body)
        )

    def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386). Include metadata.resourceVersion to make it conditional."""
        path = RESOURCES[kind].path(namespace, name)
        return self._request(
            f"patch {kind}/{name} in {namespace}",
            lambda: self._http("PATCH", path, body=patch, content_type=MERGE_PATCH),
        )

    def apply(self, kind: str, namespace: str, body: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
        """Server-side apply (``kubectl apply --server-side``): create or update ``body`` as
        ``field_manager``, taking over fields another manager set (``force``), as a platform must."""
        name = (body.get("metadata") or {}).get("name", "?")
        path = RESOURCES[kind].path(namespace, name)
        query = [("fieldManager", field_manager), ("force", "true")]
        return self._request(
            f"apply {kind}/{name} in {namespace}",
            lambda: self._http("PATCH", path, query=query, body=body, content_type=APPLY_PATCH),
        )

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        missing_ok: bool = True,
        preconditions: dict[str, Any] | None = None,
    ) -> None:
        """Delete; with ``preconditions`` (``resourceVersion``, ``uid``) only the object as it was
        read — a changed one answers 409 (:class:`Conflict`)."""
        path = RESOURCES[kind].path(namespace, name)
        body = None
        if preconditions:
            wanted = {k: v for k, v in preconditions.items() if v}
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": wanted}
        try:
            self._request(
                f"delete {kind}/{name} in {namespace}", lambda: self._http("DELETE", path, body=body)
            )
        except NotFound:
            if not missing_ok:
                raise

    def update(
        self,
        kind: str,
        namespace: str,
        name: str,
        mutate: Callable[[dict[str, Any]], None],
        *,
        attempts: int = 8,
    ) -> dict[str, Any]:
        """Read, let ``mutate`` change the object in place, patch the difference conditionally on the
        resourceVersion read; on 409 read again and re-apply ``mutate`` to the fresh object."""

        def once() -> dict[str, Any]:
            current = self.get(kind, namespace, name)
            desired = copy.deepcopy(current)
            mutate(desired)
            patch = merge_patch(current, desired)
            if not patch:
                return current
            version = (current.get("metadata") or {}).get("resourceVersion")
            if version:
                patch.setdefault("metadata", {})["resourceVersion"] = version
            return self.patch(kind, namespace, name, patch)

        def on_conflict(_attempt: int, _error: BaseException, _wait: float) -> None:
            self.stats["conflicts"] += 1
            log.info("conflict patching %s/%s, re-reading", kind, name)

        try:
            return retry(once, attempts=attempts, on=(Conflict,), on_retry=on_conflict)
        except Conflict as error:
            on_conflict(attempts, error, 0.0)
            raise Conflict(
                f"patch {kind}/{name} in {namespace}: still conflicting after {attempts} attempts", 409
            ) from error

    def pod_log(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        follow: bool = False,
        on_open: Callable[[Any], None] | None = None,
    ) -> Iterator[str]:
        """A container's output, line by line (``kubectl logs``); with ``follow`` the stream stays
        open until the container stops, the pod goes away or ``on_open``'s response is shut."""
        query: list[tuple[str, Any]] = []
        if container:
            query.append(("container", container))
        if tail_lines is not None:
            query.append(("tailLines", tail_lines))
        if follow:
            query.append(("follow", "true"))
        path = RESOURCES["pods"].path(namespace, pod) + "/log"
        # A followed log may stay silent for long: only the connect is timed.
        timeout = (self.request_timeout[0], None) if follow else self.request_timeout
        try:
            response = self._http("GET", path, query=query, timeout=timeout)  # type: ignore[arg-type]
        except ApiException as error:
            if error.status == 404:
                raise NotFound(f"log of pod {pod} in {namespace}: not found", 404) from error
            raise ClusterError(f"log of pod {pod}: {_reason(error)}", error.status) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ClusterUnreachable(f"cannot reach the cluster {self.name}: {_short(error)}") from error
        if on_open is not None:
            on_open(response)
        try:
            buffer = b""
            for chunk in response.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    yield line.decode("utf-8", "replace")
            if buffer:
                yield buffer.decode("utf-8", "replace")
        finally:
            response.release_conn()

    def watch_stream(
        self,
        kind: str,
        namespace: str,
        resource_version: str,
        *,
        label_selector: str | None = None,
        timeout_seconds: int = 60,
        on_open: Callable[[Any], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """One watch request: yields ``{"type", "object"}`` events until the server ends the stream.

        A 410 (as status or as an ERROR event) raises :class:`Gone`; any transport error propagates
        (the caller, :class:`~backends.kube.watch.ResourceWatch`, resumes from the last version).
        ``on_open`` receives the raw response so another thread can close it to stop the watch.
        """
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        # The read timeout outlives the server's own timeout, so a silent dead stream is noticed.
        timeout = (self.request_timeout[0], timeout_seconds + 10)
        try:
            response = self._http("GET", RESOURCES[kind].path(namespace), query=query, timeout=timeout)
        except ApiException as error:
            if error.status == 410:
                raise Gone(f"watch {kind}: {_reason(error)}", 410) from error
            raise ClusterError(
                f"watch {kind} in {namespace}: HTTP {error.status}: {_reason(error)}", error.status
            ) from error
        if on_open is not None:
            on_open(response)
        try:
            buffer = b""
            for chunk in response.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield _watch_event(kind, line)
            if buffer.strip():
                yield _watch_event(kind, buffer)
        finally:
            response.release_conn()


def _watch_event(kind: str, line: bytes) -> dict[str, Any]:
    event = json.loads(line)
    if event.get("type") == "ERROR":
        obj = event.get("object") or {}
        if obj.get("code") == 410:
            raise Gone(f"watch {kind}: {obj.get('message', 'resourceVersion too old')}", 410)
        raise ClusterError(f"watch {kind}: {obj.get('message', obj)}", obj.get("code"))
    return event


def merge_patch(before: Any, after: Any) -> dict[str, Any]:
    """The RFC 7386 merge patch turning ``before`` into ``after`` (lists are replaced whole)."""
    patch: dict[str, Any] = {}
    for key in before.keys() | after.keys():
        if key not in after:
            patch[key] = None
        elif key not in before:
            patch[key] = after[key]
        elif isinstance(before[key], dict) and isinstance(after[key], dict):
            nested = merge_patch(before[key], after[key])
            if nested:
                patch[key] = nested
        elif before[key] != after[key]:
            patch[key] = after[key]
    return patch


def _reason(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "{}")
        return str(body.get("message") or error.reason)
    except (ValueError, TypeError):
        return str(error.reason)


def _short(error: Exception | None) -> str:
    text = str(error) if error else "unknown error"
    reason = getattr(error, "reason", None)
    if reason is not None:
        text = str(reason)
    return text[:200]


_MAX_KUBECONFIG_BYTES = 10 * 1024 * 1024  # a kubeconfig is a few kB; more is the wrong file


def _check_kubeconfig(files: list[str], context: str | None) -> None:
    """One clear ``ClusterError`` naming the file for what the client would crash on or hang at.

    Binary or non-UTF-8 content, invalid YAML, a document that is not a mapping, a FIFO, and a
    context that no file defines. Files are merged as kubectl merges them: the first
    ``current-context`` wins, contexts from all files count.
    """
    names: list[str] = []
    current: str | None = None
    for file in files:
        document = _kubeconfig_document(os.path.expanduser(file))
        current = current or (str(document["current-context"]) if document.get("current-context") else None)
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") is not None:
                names.append(str(entry["name"]))
    wanted = context or current
    if wanted and wanted not in names:
        known = ", ".join(names) or "none"
        source = "--context" if context else "its current-context"
        raise ClusterError(
            f"kubeconfig {os.pathsep.join(files)}: no context {wanted!r} ({source}); it defines: {known}"
        )


def _kubeconfig_document(path: str) -> dict[str, Any]:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ClusterError(f"kubeconfig {path}: not a regular file")
        if info.st_size > _MAX_KUBECONFIG_BYTES:
            raise ClusterError(
                f"kubeconfig {path}: {info.st_size // 1024 // 1024} MB is too large for a kubeconfig"
            )
        with open(path, "rb") as handle:
            data = handle.read(_MAX_KUBECONFIG_BYTES + 1)
    except OSError as error:
        raise ClusterError(f"kubeconfig {path}: cannot read it: {error.strerror or error}") from error
    if b"\x00" in data:
        raise ClusterError(f"kubeconfig {path}: a binary file, not YAML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ClusterError(
            f"kubeconfig {path}: not UTF-8 text (invalid byte at offset {error.start})"
        ) from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ClusterError(f"kubeconfig {path}: not valid YAML{where}: {problem}") from error
    if document is None:
        raise ClusterError(f"kubeconfig {path}: the file is empty")
    if not isinstance(document, dict):
        raise ClusterError(f"kubeconfig {path}: expected a mapping (apiVersion, clusters, contexts, users)")
    for section in ("clusters", "contexts", "users"):
        if document.get(section) is not None and not isinstance(document[section], list):
            raise ClusterError(f"kubeconfig {path}: {section} must be a list")
    return document


def _current_context(path: str) -> str | None:
    try:
        _, current = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError):
        return None
    return str(current.get("name")) if current else None

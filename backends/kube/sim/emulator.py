"""The simulated Kubernetes API server: kmock's emulator with its known gaps closed.

kmock 0.8's ``KubernetesEmulator`` provides the aiohttp plumbing, request parsing, discovery and
``Status`` error rendering. Its object model (a plain dict per object, merged on every write,
no versions) cannot give resourceVersion-based watch resumption, generation, ``/status``
isolation or strategic merge, so every request for a served resource is answered here from an
`ObjectStore`, and everything else (discovery, the kmock DSL) still goes through kmock.

Also fixed on the way: trailing-slash discovery paths (``/version/``, ``/apis/``), watch streams
served as ``application/json`` (client-go and kubectl need it), ``timeoutSeconds``, PUT, server-side
apply creating missing objects, the ``scale`` subresource returning a ``Scale``, label and field
selectors, and an unbounded request log (kmock keeps every request; a long demo would leak).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp.test_utils
import aiohttp.web
import attrs
import kmock
import yaml
from kmock import KubernetesEmulator
from typing_extensions import override

from . import errors, logs, openapi
from .errors import ApiError
from .faults import ApiFaults
from .patching import json_merge_patch, json_patch, strategic_merge_patch
from .resources import BY_GVR, PODS, RESOURCES, ResourceType
from .routes import ApiPath, parse_api_path
from .selectors import FieldRequirement, parse_field_selector, parse_label_selector
from .store import PROGRESS, Obj, ObjectStore, Watcher
from .tables import to_table, wants_table

log = logging.getLogger(__name__)

# kube-apiserver closes watches after a random 30–60 minutes when the client names no timeout.
DEFAULT_WATCH_TIMEOUT = 1800.0
# How often an idle watch checks whether its client went away (aiohttp does not cancel handlers).
_IDLE_CHECK = 0.5
_KEEP_REQUESTS = 200


@dataclass(frozen=True)
class ApiCall:
    """One HTTP request to the API, read in full (kmock's parsed Request cannot represent all paths)."""

    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    raw: aiohttp.web.BaseRequest

    @property
    def dry_run(self) -> bool:
        """``?dryRun=All``: validate and answer, change nothing."""
        return self.params.get("dryRun") == "All"

    @property
    def is_watch(self) -> bool:
        """``GET …?watch=true``."""
        return self.method == "GET" and self.params.get("watch") in ("true", "1")


@attrs.define(kw_only=True)
class SimulatedApiServer(KubernetesEmulator):
    """A Kubernetes API server good enough for the official client, kubectl and the deploy engine.

    Serve it with ``kmock.Server(server)`` inside ``async with server:``. ``store`` holds the
    objects (shared with the simulated controller), ``faults`` the fault-injection hooks.
    """

    store: ObjectStore = attrs.field(factory=ObjectStore)
    faults: ApiFaults = attrs.field(factory=ApiFaults)
    # Seconds of silence before a watch that allows bookmarks gets one (kube-apiserver: ~1 min).
    bookmark_interval: float = 5.0
    # Called (awaited) after every accepted write and before its answer: the owner makes the write
    # durable there, so an acknowledged write survives a kill -9 of any process.
    persist: Callable[[], Awaitable[None]] | None = None
    # Real seconds between two lines a simulated container writes (see `logs`).
    log_interval: float = 1.0
    _last_activity: float = attrs.field(factory=time.monotonic, init=False)
    # Every HTTP request received (a watch counts once, when it opens): for "idle → no requests".
    request_count: int = attrs.field(default=0, init=False)
    # Writes clients made through the API (not the controller's own): "an unchanged apply writes nothing".
    write_count: int = attrs.field(default=0, init=False)
    _following: int = attrs.field(default=0, init=False)  # open ``follow=true`` log streams
    _open_watches: dict[Watcher, tuple[str, aiohttp.web.BaseRequest | None]] = attrs.field(
        factory=dict, init=False
    )

    @override
    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for resource in RESOURCES:
            self.resources[f"{resource.api_version}/{resource.plural}"] = kmock.ResourceInfo(
                kind=resource.kind,
                namespaced=resource.namespaced,
                singular=resource.kind.lower(),
                verbs=set(resource.verbs),
                shortnames=set(resource.short_names),
                subresources=set(resource.subresources),
            )
        self.faults._drop_watches = self._drop_watches

    # ------------------------------------------------------------------ dispatch

    @property
    @override
    def objects(self) -> Any:
        """Not used here: kmock's own object array stays empty, the objects live in ``store``."""
        raise AttributeError(
            "SimulatedApiServer keeps its objects in .store (an ObjectStore), not in .objects"
        )

    def idle_for(self) -> float:
        """Seconds since the last request ended, or 0 while a watch is open (a client is there)."""
        if self._open_watches or self._following:
            return 0.0
        return time.monotonic() - self._last_activity

    @override
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self._last_activity = time.monotonic()
        self.request_count += 1
        call = ApiCall(
            method=raw_request.method.upper(),
            path=raw_request.path,
            params=dict(raw_request.query),
            headers=raw_request.headers,
            body=await raw_request.read(),
            raw=raw_request,
        )
        route = parse_api_path(call.path)
        try:
            rule = self.faults.take(call.method, call.path, call.is_watch)
            if rule is not None:
                if rule.kind == "hang":
                    await asyncio.sleep(rule.seconds)
                    raise ApiError(504, "Timeout", f"injected fault: {call.method} {call.path} hung")
                if rule.kind == "stall":
                    await asyncio.sleep(max(0.0, rule.until - time.monotonic()))
                    raise ApiError(504, "Timeout", f"injected fault: {call.method} {call.path} stalled")
                raise ApiError(rule.status, "InternalError", f"injected fault: {call.method} {call.path}")
            if route is not None and route.plural is not None:
                response = await self._serve_resource(call, route)
                if call.method != "GET" and not call.dry_run:
                    self.write_count += 1
                if self.persist is not None and call.method != "GET" and not call.dry_run:
                    await self._persist()
                return response
            payload = await self._discovery(call, route)
            if payload is not None:
                return aiohttp.web.json_response(payload)
        except ApiError as exc:
            return aiohttp.web.json_response(exc.to_status(), status=exc.status)
        except (ConnectionError, asyncio.CancelledError):
            raise  # the client went away
        except Exception as exc:
            # A bug in the simulation: answer like a failing apiserver instead of dropping the
            # connection, and keep the traceback out of the CLI/TUI output (debug log only).
            log.debug("simulated API server failed on %s %s", call.method, call.path, exc_info=True)
            failure = ApiError(500, "InternalError", f"simulated API server error: {exc!r}")
            return aiohttp.web.json_response(failure.to_status(), status=500)
        # Not an API path we serve: kmock's DSL reactions, then its 404 fallback.
        try:
            return await super().__call__(raw_request)
        finally:
            # kmock records every request and error for assertions; keep only the recent ones.
            if len(self._requests) > 2 * _KEEP_REQUESTS:
                del self._requests[:-_KEEP_REQUESTS]
            for accumulated in self._errors:
                del accumulated[:-_KEEP_REQUESTS]

    async def _persist(self) -> None:
        assert self.persist is not None
        try:
            await self.persist()
        except OSError as exc:
            # Kept in memory but not on disk: say so rather than acknowledge a write a crash loses.
            log.error("could not save the simulated cluster: %s", exc)
            raise ApiError(
                500, "InternalError", f"the simulated cluster could not save the change: {exc}"
            ) from exc

    async def _discovery(self, call: ApiCall, route: ApiPath | None) -> Any:
        """Discovery documents, with or without a trailing slash (client 37 adds one)."""
        if call.method != "GET":
            return None
        path = call.path.rstrip("/") or "/"
        resource = None if route is None else kmock.resource(group=route.group, version=route.version)
        request = kmock.Request(method=call.method, url=call.raw.url, resource=resource)
        if path == "/":
            return await self._serve_root(request)
        if path == "/version":
            return await self._serve_server_version(request)
        if path == "/api":
            return await self._serve_api(request)
        if path == "/apis":
            return await self._serve_apis(request)
        if route is not None and route.version is None:
            return await self._serve_group(request)  # /apis/apps
        if route is not None:
            return await self._serve_version(request)  # /api/v1, /apis/apps/v1
        return openapi.serve(path)  # /openapi/v3: what kubectl validates against

    @override
    async def _serve_version(self, request: kmock.Request) -> Any:
        # kmock's version lists "/v1" as the core groupVersion (kubectl then finds no pods) and
        # copies short names onto subresources (kubectl warns about ambiguous short names).
        assert request.resource is not None
        group, version = request.resource.group or "", request.resource.version
        served = [r for r in RESOURCES if r.group == group and r.version == version]
        if not served:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        entries: list[dict[str, Any]] = []
        for resource in served:
            entries.append(
                {
                    "name": resource.plural,
                    "singularName": resource.kind.lower(),
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": list(resource.verbs),
                    "shortNames": list(resource.short_names),
                }
            )
            for sub in resource.subresources:
                kind = "Scale" if sub == "scale" else resource.kind
                entries.append(
                    {
                        "name": f"{resource.plural}/{sub}",
                        "singularName": "",
                        "namespaced": resource.namespaced,
                        "kind": kind,
                        "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
                        **({"group": "autoscaling", "version": "v1"} if sub == "scale" else {}),
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": entries,
        }

    async def _serve_resource(self, call: ApiCall, route: ApiPath) -> aiohttp.web.StreamResponse:
        resource = BY_GVR.get((route.group, route.version or "", route.plural or ""))
        if resource is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = call.method
        namespace = route.namespace if resource.namespaced else None
        name, sub = route.name, route.subresource
        if sub is not None and sub not in resource.subresources:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({sub})")
        if sub == "log":
            if method != "GET" or name is None:
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {call.path}")
            return await self._serve_log(call, namespace, name)
        if method == "GET" and call.is_watch:
            return await self._serve_watch_stream(call, resource, namespace, name)
        warnings: list[str] = []
        if method in ("POST", "PUT", "PATCH") and sub in (None, "status"):
            warnings = _check_fields(call, resource, namespace, name)  # refuses or warns, as kubectl expects
        response = await self._serve_verb(call, route, resource, namespace)
        for warning in warnings:
            response.headers.add("Warning", warning)
        return response

    async def _serve_verb(
        self, call: ApiCall, route: ApiPath, resource: ResourceType, namespace: str | None
    ) -> aiohttp.web.StreamResponse:
        method, params = call.method, call.params
        name, sub = route.name, route.subresource
        table = wants_table(call.headers.get("Accept", ""))
        if method == "GET" and name is None:
            listing = self._list(resource, namespace, params)
            if table:
                listing = to_table(resource, listing["items"], listing["metadata"]["resourceVersion"])
            return aiohttp.web.json_response(listing)
        if method == "GET" and name is not None:
            obj = self.store.get(resource, namespace, name, copy_=False)
            if obj is None:
                raise errors.not_found(resource.kind, name)
            if sub == "scale":
                obj = _scale_view(resource, obj)
            elif table and sub is None:
                obj = to_table(resource, [obj], obj["metadata"]["resourceVersion"])
            return aiohttp.web.json_response(obj)
        if method == "POST" and name is None:
            new = self.store.create(resource, namespace, _body(call), dry_run=call.dry_run)
            return aiohttp.web.json_response(new, status=201)
        if method == "PUT" and name is not None:
            return aiohttp.web.json_response(self._replace(call, resource, namespace, name, sub))
        if method == "PATCH" and name is not None:
            patched, created = self._patch(call, resource, namespace, name, sub)
            return aiohttp.web.json_response(patched, status=201 if created else 200)
        if method == "DELETE" and name is not None:
            deleted = self.store.delete(
                resource, namespace, name, dry_run=call.dry_run, preconditions=_preconditions(call)
            )
            return aiohttp.web.json_response(_success_status(resource, deleted))
        if method == "DELETE" and name is None:
            return aiohttp.web.json_response(self._delete_collection(resource, namespace, params))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {call.path}")

    # ------------------------------------------------------------------ verbs

    def _list(self, resource: ResourceType, namespace: str | None, params: Any) -> Obj:
        labels = parse_label_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"))
        items, rv = self.store.list_objects(resource, namespace, labels, fields, copy_=False)
        return {
            "apiVersion": resource.api_version,
            "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    def _replace(
        self,
        call: ApiCall,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        sub: str | None,
    ) -> Obj:
        body = _body(call)
        if sub == "scale":
            return self._write_scale(resource, namespace, name, lambda _scale: body)
        # PUT is an update: a missing object is 404, as for kube-apiserver's update verb.
        return self.store.update(
            resource, namespace, name, lambda _current: body, subresource=sub, dry_run=call.dry_run
        )

    def _patch(
        self,
        call: ApiCall,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        sub: str | None,
    ) -> tuple[Obj, bool]:
        content_type = call.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = _body(call)
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise errors.bad_request("a JSON patch must be a list of operations")
            apply = lambda current: json_patch(current, body)  # noqa: E731
        elif content_type == "application/merge-patch+json":
            apply = lambda current: json_merge_patch(current, body)  # noqa: E731
        elif content_type in ("application/strategic-merge-patch+json", "application/apply-patch+yaml", ""):
            # Server-side apply is approximated by a strategic merge (no field ownership).
            apply = lambda current: strategic_merge_patch(current, body)  # noqa: E731
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        if content_type == "application/apply-patch+yaml":
            apply = _server_side_apply(call, body, apply)
        if sub == "scale":
            return self._write_scale(resource, namespace, name, apply), False
        if (
            content_type == "application/apply-patch+yaml"
            and sub is None
            and self.store.get(resource, namespace, name) is None
        ):
            if not isinstance(body, dict):
                raise errors.bad_request("an apply patch must be an object")
            meta = body.setdefault("metadata", {})
            if meta.get("name") not in (None, name):
                raise errors.bad_request("the name of the object does not match the request")
            meta["name"] = name
            try:
                created = self.store.create(resource, namespace, body, dry_run=call.dry_run)
                if call.dry_run:
                    return created, True
                # The store drops managedFields on create (clients may not set them): record the
                # applier as the API server does, in a second write.
                return self.store.update(resource, namespace, name, apply), True
            except ApiError as exc:
                if exc.status != 409:
                    raise  # lost a race with another create: fall through to a normal apply
        return self.store.update(
            resource, namespace, name, apply, subresource=sub, dry_run=call.dry_run
        ), False

    def _write_scale(self, resource: ResourceType, namespace: str | None, name: str, apply: Any) -> Obj:
        def mutate(current: Obj) -> Obj:
            scale = apply(_scale_view(resource, current))
            replicas = (scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale", name, "spec.replicas must be a non-negative integer")
            current.setdefault("spec", {})["replicas"] = replicas
            sent_rv = (scale.get("metadata") or {}).get("resourceVersion")
            current["metadata"]["resourceVersion"] = sent_rv or current["metadata"]["resourceVersion"]
            return current

        return _scale_view(resource, self.store.update(resource, namespace, name, mutate))

    def _delete_collection(self, resource: ResourceType, namespace: str | None, params: Any) -> Obj:
        labels = parse_label_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"))
        items, _rv = self.store.list_objects(resource, namespace, labels, fields)
        deleted = []
        for item in items:
            meta = item["metadata"]
            # An item may already be gone, garbage-collected with an owner deleted just before.
            with contextlib.suppress(ApiError):
                deleted.append(self.store.delete(resource, meta.get("namespace"), meta["name"]))
        return {
            "apiVersion": resource.api_version,
            "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": deleted,
        }

    # ------------------------------------------------------------------ logs

    async def _serve_log(self, call: ApiCall, namespace: str | None, name: str) -> aiohttp.web.StreamResponse:
        """``pods/{name}/log``: plain text; with ``follow=true`` a stream until the run ends or the
        pod is deleted (or the client leaves)."""
        request = logs.LogRequest.parse(call.params)
        pod = self.store.get(PODS, namespace, name, copy_=False)
        if pod is None:
            raise errors.not_found("Pod", name)
        container = call.params.get("container") or None
        view = logs.LogView(logs.container_run(pod, container), self.log_interval)
        now = time.time()
        count = view.count_at(now)
        first = view.first_index(request, count, now)
        if not request.follow:
            body = b"".join(view.render(i, request) for i in range(first, count))
            return aiohttp.web.Response(body=body, content_type="text/plain")
        raw = call.raw
        response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(raw)
        uid = pod["metadata"].get("uid")
        self._following += 1  # a client is there: the server is not idle
        try:
            index = first
            while True:
                count = view.count_at(time.time())
                if index < count:
                    await response.write(b"".join(view.render(i, request) for i in range(index, count)))
                    index = count
                current = self.store.get(PODS, namespace, name, copy_=False)
                if current is None or current["metadata"].get("uid") != uid:
                    break  # the pod is gone: kubectl logs -f ends
                if view.run.finished is not None and index >= view.count_at(float("inf")):
                    break  # the run ended (crashed): its log is complete
                if raw.transport is None or raw.transport.is_closing():
                    return response
                due = view.run.started + index * view.interval
                await asyncio.sleep(min(max(due - time.time(), 0.01), _IDLE_CHECK))
        except (ConnectionResetError, ConnectionError):
            return response
        finally:
            self._following -= 1
            self._last_activity = time.monotonic()
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    # ------------------------------------------------------------------ watch

    async def _serve_watch_stream(
        self, call: ApiCall, resource: ResourceType, namespace: str | None, name: str | None
    ) -> aiohttp.web.StreamResponse:
        params = call.params
        labels = parse_label_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"))
        if name is not None:  # the old per-object watch URL
            fields.append(FieldRequirement(("metadata", "name"), False, name))
        timeout = float(params.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        raw = call.raw
        response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(raw)
        try:
            watcher = self.store.watch(
                resource,
                namespace,
                resource_version=params.get("resourceVersion"),
                labels=labels,
                fields=fields,
                bookmarks=params.get("allowWatchBookmarks") in ("true", "1"),
            )
        except ApiError as exc:
            # Like kube-apiserver: a too-old version is a 200 stream with one ERROR event.
            with contextlib.suppress(ConnectionError):
                await response.write(_line({"type": "ERROR", "object": exc.to_status()}))
                await response.write_eof()
            return response
        self._open_watches[watcher] = (call.path, raw)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        progress, announced, last_write = watcher.progress, watcher.progress, loop.time()
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), min(remaining, _IDLE_CHECK))
                except TimeoutError:
                    if raw.transport is None or raw.transport.is_closing():
                        return response  # the client went away
                    quiet = loop.time() - last_write >= self.bookmark_interval
                    if watcher.bookmarks and quiet and progress > announced:
                        # Tell an idle watcher how far it is, so its resume version stays fresh.
                        bookmark = {
                            "kind": resource.kind,
                            "apiVersion": resource.api_version,
                            "metadata": {"resourceVersion": str(progress)},
                        }
                        await response.write(_line({"type": "BOOKMARK", "object": bookmark}))
                        announced, last_write = progress, loop.time()
                    continue
                if item is None:  # dropped by fault injection
                    if watcher.abrupt and raw.transport is not None:
                        raw.transport.abort()
                        return response
                    break
                event_type, obj = item
                progress = max(progress, int(obj["metadata"]["resourceVersion"]))
                if event_type == PROGRESS:
                    continue
                await response.write(_line({"type": event_type, "object": obj}))
                announced, last_write = progress, loop.time()
        except (ConnectionResetError, ConnectionError):
            return response
        finally:
            self.store.unwatch(watcher)
            self._open_watches.pop(watcher, None)
            self._last_activity = time.monotonic()
        with contextlib.suppress(ConnectionError):  # the client left just as the stream ended
            await response.write_eof()
        return response

    def _drop_watches(self, path: re.Pattern[str] | None, abrupt: bool) -> int:
        def chosen(watcher: Watcher) -> bool:
            entry = self._open_watches.get(watcher)
            if entry is None:
                return False
            watcher.abrupt = abrupt
            return path is None or path.search(entry[0]) is not None

        return self.store.close_watches(chosen)


class QuietTestServer(aiohttp.test_utils.RawTestServer):
    """kmock's aiohttp server without an access log line per request and without debug mode:
    a CLI or TUI hosting the simulation must not print the simulation's traffic."""

    async def _make_runner(self, debug: bool = True, **kwargs: Any) -> aiohttp.web.ServerRunner:
        return await super()._make_runner(debug=False, access_log=None, **kwargs)


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"


def _check_fields(
    call: ApiCall, resource: ResourceType, namespace: str | None, name: str | None
) -> list[str]:
    """The unknown-field check of a write (see `openapi.check_fields`); a JSON patch (a list of
    operations) names no fields to check."""
    content_type = call.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/json-patch+json" or not call.body:
        return []
    return openapi.check_fields(
        resource,
        _body(call),
        validation=call.params.get("fieldValidation", "Warn"),
        apply=content_type == "application/apply-patch+yaml",
        namespace=namespace,
        name=name,
    )


def _body(call: ApiCall) -> Any:
    content_type = call.headers.get("Content-Type", "").lower()
    if not call.body:
        raise errors.bad_request("the request has no body")
    try:
        return json.loads(call.body)
    except ValueError:
        if "yaml" in content_type:
            try:
                return yaml.safe_load(call.body)
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"invalid YAML: {exc}") from exc
        raise errors.bad_request("the body is not valid JSON") from None


def _server_side_apply(call: ApiCall, body: Any, merge: Callable[[Obj], Obj]) -> Callable[[Obj], Obj]:
    """Server-side apply as far as clients can tell: ``fieldManager`` is required (as the API server
    requires it), and the manager is recorded in ``managedFields``. Field ownership is approximated
    by a strategic merge, so a conflict with another manager is never reported (as with force=true)."""
    manager = call.params.get("fieldManager")
    if not manager:
        raise errors.bad_request(
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
            "is required for apply patch"
        )

    def apply(current: Obj) -> Obj:
        result = merge(current)
        entries = [
            e
            for e in (current.get("metadata") or {}).get("managedFields") or []
            if not (e.get("manager") == manager and e.get("operation") == "Apply")
        ]
        result.setdefault("metadata", {})["managedFields"] = [*entries, _managed_entry(body, manager)]
        return result

    return apply


def _managed_entry(body: Any, manager: str) -> dict[str, Any]:
    api_version = body.get("apiVersion", "") if isinstance(body, dict) else ""
    return {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fieldsType": "FieldsV1",
    }


def _preconditions(call: ApiCall) -> dict[str, str]:
    """``DeleteOptions.preconditions`` (uid, resourceVersion) from a DELETE body, if any."""
    if not call.body:
        return {}
    try:
        options = json.loads(call.body)
    except ValueError:
        raise errors.bad_request("the body is not valid JSON") from None
    wanted = (options or {}).get("preconditions") if isinstance(options, dict) else None
    if not isinstance(wanted, dict):
        return {}
    return {k: str(wanted[k]) for k in ("uid", "resourceVersion") if wanted.get(k)}


def _scale_view(resource: ResourceType, obj: Obj) -> Obj:
    """The ``autoscaling/v1`` Scale of a Deployment or ReplicaSet."""
    meta = obj["metadata"]
    match_labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in match_labels.items()),
        },
    }


def _success_status(resource: ResourceType, deleted: Obj) -> Obj:
    meta = deleted["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta["name"],
            "group": resource.group,
            "kind": resource.plural,
            "uid": meta.get("uid"),
        },
    }

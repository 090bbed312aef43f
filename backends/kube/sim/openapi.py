"""The OpenAPI v3 documents of the simulated API server, and the unknown-field check they allow.

kubectl validates what it applies by default (``--validate=strict``): it reads ``/openapi/v3``, and
when a kind's PATCH operation takes the ``fieldValidation`` query parameter it leaves the check to
the server and sends ``fieldValidation=Strict``. Without these documents kubectl stopped with
"failed to download openapi" unless given ``--validate=false``.

The schemas come from the official Python client's models (``openapi_types`` and
``attribute_map`` mirror the API's own OpenAPI), so the built-in kinds know every field a real
server knows; the custom resources (HTTPRoute, the platform claims) keep their ``spec`` and
``status`` open (``x-kubernetes-preserve-unknown-fields``), as a CRD without a structural schema
would. Only field *names* are checked, never types or values.

The server then answers as kube-apiserver does: an apply patch with an unknown field is refused
whatever ``fieldValidation`` says; a create, update or patch is refused with ``Strict``, warned
about (``Warning:`` header) with ``Warn`` (the default), accepted silently with ``Ignore``. Unlike a
real server the simulation keeps the unknown fields it accepted rather than dropping them.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from typing import Any

import kubernetes.client

from .errors import ApiError
from .resources import RESOURCES, ResourceType

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
_REF = "#/components/schemas/"
# Kinds whose client model is not "V1" + kind.
_MODELS = {"Event": "CoreV1Event"}
_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_PRIMITIVES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "double"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "bytes": {"type": "string", "format": "byte"},
    "object": {"x-kubernetes-preserve-unknown-fields": True},  # int-or-string, raw JSON
}


# -- schemas ----------------------------------------------------------------------------------------
def _model(resource: ResourceType) -> str | None:
    """The client model of a built-in kind (``V1Deployment``), None for a custom resource."""
    name = _MODELS.get(resource.kind, f"V1{resource.kind}")
    model = getattr(kubernetes.client, name, None)
    return name if model is not None and resource.group in ("", "apps", "coordination.k8s.io") else None


def _type_schema(text: str, components: dict[str, Any]) -> dict[str, Any]:
    """The schema of one ``openapi_types`` entry (``List[V1Container]``, ``Dict[str, str]`` …)."""
    text = text.strip()
    if match := re.fullmatch(r"(?:List|list)\[(.+)\]", text):
        return {"type": "array", "items": _type_schema(match[1], components)}
    if match := re.fullmatch(r"(?:Dict|dict)[\[(]\s*str\s*,\s*(.+)[\])]", text):
        return {"type": "object", "additionalProperties": _type_schema(match[1], components)}
    if text in _PRIMITIVES:
        return dict(_PRIMITIVES[text])
    _add_model(text, components)
    return {"$ref": _REF + text}


def _add_model(name: str, components: dict[str, Any]) -> None:
    if name in components:
        return
    model = getattr(kubernetes.client, name)
    components[name] = {}  # recursive models (JSONSchemaProps) refer to themselves
    properties = {
        model.attribute_map[attr]: _type_schema(kind, components)
        for attr, kind in model.openapi_types.items()
    }
    components[name] = {"type": "object", "properties": properties}


def _kind_schema(resource: ResourceType, components: dict[str, Any]) -> str:
    """Add ``resource``'s schema (and everything it refers to) to ``components``; its name."""
    gvk = [{"group": resource.group, "version": resource.version, "kind": resource.kind}]
    model = _model(resource)
    if model is not None:
        _add_model(model, components)
        components[model] = {**components[model], "x-kubernetes-group-version-kind": gvk}
        return model
    name = f"{resource.group}.{resource.version}.{resource.kind}"
    _add_model("V1ObjectMeta", components)
    components[name] = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": _REF + "V1ObjectMeta"},
            "spec": dict(_OPEN),
            "status": dict(_OPEN),
        },
        "x-kubernetes-group-version-kind": gvk,
    }
    return name


# -- documents --------------------------------------------------------------------------------------
def _group_version_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/apps/v1``: a key of the ``/openapi/v3`` index."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _parameter(name: str, where: str = "query", required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _operation(resource: ResourceType, verb: str, schema: str, *, write: bool) -> dict[str, Any]:
    """One operation with the GVK extension kubectl matches on and, for writes, the parameters that
    tell it the server validates fields (``fieldValidation``)."""
    ref = {"$ref": _REF + schema}
    body_types = ["application/json"]
    if verb == "patch":
        body_types = [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ]
    operation: dict[str, Any] = {
        "operationId": f"{verb}{resource.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
    }
    if write:
        names = ["dryRun", "fieldManager", "fieldValidation"] + (["force"] if verb == "patch" else [])
        operation["parameters"] = [_parameter(name) for name in names]
        schema_of_body = {"type": "object"} if verb == "patch" else ref
        operation["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": schema_of_body} for kind in body_types},
        }
    return operation


def _paths(resource: ResourceType, schema: str) -> dict[str, Any]:
    base = "/" + _group_version_path(resource.group, resource.version)
    scope = f"{base}/namespaces/{{namespace}}" if resource.namespaced else base
    collection, item = f"{scope}/{resource.plural}", f"{scope}/{resource.plural}/{{name}}"
    path_parameters = [_parameter("namespace", "path", True)] if resource.namespaced else []
    return {
        collection: {
            "parameters": path_parameters,
            "get": _operation(resource, "list", schema, write=False),
            "post": _operation(resource, "post", schema, write=True),
        },
        item: {
            "parameters": [_parameter("name", "path", True), *path_parameters],
            "get": _operation(resource, "get", schema, write=False),
            "put": _operation(resource, "put", schema, write=True),
            "patch": _operation(resource, "patch", schema, write=True),
            "delete": _operation(resource, "delete", schema, write=False),
        },
    }


@cache
def _documents() -> dict[str, bytes]:
    """Every group version's document, serialized once (the served resources never change)."""
    by_group_version: dict[str, list[ResourceType]] = {}
    for resource in RESOURCES:
        by_group_version.setdefault(_group_version_path(resource.group, resource.version), []).append(
            resource
        )
    documents = {}
    for path, resources in by_group_version.items():
        components: dict[str, Any] = {}
        paths: dict[str, Any] = {}
        for resource in resources:
            paths.update(_paths(resource, _kind_schema(resource, components)))
        document = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes (simulated)", "version": "v1.32.0"},
            "paths": paths,
            "components": {"schemas": components},
        }
        documents[path] = json.dumps(document, sort_keys=True).encode()
    return documents


@cache
def _schemas() -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
    """(api version, kind) → (that document's components, the kind's schema name)."""
    found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for raw in _documents().values():
        components = json.loads(raw)["components"]["schemas"]
        for name, schema in components.items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                found[(api_version, gvk["kind"])] = (components, name)
    return found


def serve(path: str) -> Any:
    """The answer to ``GET /openapi/v3`` or ``/openapi/v3/<group version>``; None for other paths."""
    if path == "/openapi/v3":
        return {
            "paths": {
                key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(raw)}"}
                for key, raw in _documents().items()
            }
        }
    if path.startswith("/openapi/v3/"):
        raw = _documents().get(path.removeprefix("/openapi/v3/"))
        if raw is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return json.loads(raw)
    return None


def _hash(raw: bytes) -> str:
    return hashlib.sha512(raw).hexdigest().upper()


# -- the unknown-field check ------------------------------------------------------------------------
def unknown_fields(resource: ResourceType, obj: Any) -> list[str]:
    """The fields of ``obj`` its kind's schema does not declare, as kube-apiserver names them
    (``spec.replicass``, ``spec.template.spec.containers[0].imagee``)."""
    entry = _schemas().get((resource.api_version, resource.kind))
    if entry is None or not isinstance(obj, dict):
        return []
    components, name = entry
    found: list[str] = []
    _walk(components, components[name], obj, "", found)
    return found


def _walk(
    components: dict[str, Any], schema: dict[str, Any], value: Any, path: str, found: list[str]
) -> None:
    while "$ref" in schema:
        schema = components[schema["$ref"].removeprefix(_REF)]
    if schema.get("x-kubernetes-preserve-unknown-fields") or value is None:
        return
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _walk(components, schema["items"], item, f"{path}[{index}]", found)
    elif isinstance(value, dict) and "additionalProperties" in schema:
        for key, item in value.items():
            _walk(components, schema["additionalProperties"], item, f"{path}.{key}" if path else key, found)
    elif isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in properties:
                _walk(components, properties[key], item, where, found)
            else:
                found.append(where)


def check_fields(
    resource: ResourceType,
    body: Any,
    *,
    validation: str,
    apply: bool,
    namespace: str | None,
    name: str | None,
) -> list[str]:
    """Refuse or report the unknown fields of a write's ``body``; the ``Warning`` header values.

    ``ApiError`` 400 as kube-apiserver words it: an apply patch always (its typed patch cannot hold
    an undeclared field), any other write when ``validation`` is ``Strict``.
    """
    if validation not in FIELD_VALIDATION:
        raise ApiError(
            400, "BadRequest", f'fieldValidation: Unsupported value: "{validation}": supported values: '
            '"Ignore", "Strict", "Warn"'
        )  # fmt: skip
    unknown = unknown_fields(resource, body)
    if not unknown:
        return []
    if apply:
        where = f"{namespace or ''}/{name or ''}; {resource.api_version}, Kind={resource.kind}"
        raise ApiError(
            400,
            "BadRequest",
            f"failed to create typed patch object ({where}): .{unknown[0]}: field not declared in schema",
        )
    if validation == "Strict":
        listed = ", ".join(f'unknown field "{field}"' for field in unknown)
        version = resource.version
        raise ApiError(
            400,
            "BadRequest",
            f'{resource.kind} in version "{version}" cannot be handled as a {resource.kind}: '
            f"strict decoding error: {listed}",
        )
    if validation == "Warn":
        return [f'299 - "unknown field \\"{field}\\""' for field in unknown]
    return []

"""Backstage's entity validation, by hand: same verdicts, a fraction of the cost.

Backstage runs, in order (``DefaultCatalogProcessingOrchestrator``): the envelope schema; the policies
``SchemaValid`` (Entity + EntityMeta schemas), ``DefaultNamespace``, ``NoForeignRootFields`` and
``FieldFormat``; the kind validators of ``BuiltinKindsEntityProcessor`` (and the scaffolder's
Template validator); then relation emission, where a bad ref fails the entity. Each stage stops at its
first error, so we do too and report that one error. The JSON schemas are small and fixed, so they are
written out as plain checks here rather than run through jsonschema once per entity (ingest speed is
measured; a jsonschema pass costs more than parsing the YAML).

Placeholders (``$text`` ...) are resolved by the caller before ``validate_entity`` runs, as Backstage
resolves them in its preprocessing step, before the policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from backends.catalog.refs import DEFAULT_NAMESPACE
from backends.catalog.relations import RelationError, forward_relations
from backends.catalog.urls import is_valid_url

# -- field formats (KubernetesValidatorFunctions, makeValidator) --------------------------------
_OBJECT_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]").fullmatch
_DNS_LABEL = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*").fullmatch
_TAG = re.compile(r"[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*").fullmatch
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*").fullmatch
_API_VERSION_SUFFIX = re.compile(r"[a-z0-9A-Z]+").fullmatch
_RELATION_TYPE = re.compile(r"[A-Za-z0-9_]+").fullmatch

_NAME_EXPECT = (
    "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
)
_PREFIX_EXPECT = "a valid prefix and/or suffix"
_NAMESPACE_EXPECT = "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total"
_TAG_EXPECT = "a string that is sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total"
_KIND_EXPECT = "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total"

BUILTIN_API_VERSIONS = frozenset({"backstage.io/v1alpha1", "backstage.io/v1beta1"})
TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
KNOWN_ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec")


_CACHES: list[dict[str, bool]] = []


def clear_caches() -> None:
    """Forget memoized checks (call after a load, so they do not keep strings alive)."""
    for cache in _CACHES:
        cache.clear()


def _memoized(check: Callable[[object], bool]) -> Callable[[object], bool]:
    """Cache a string check: annotation keys, tags and apiVersions repeat across thousands of entities."""
    cache: dict[str, bool] = {}
    _CACHES.append(cache)

    def cached(value: object) -> bool:
        if type(value) is not str:
            return check(value)
        known = cache.get(value)
        if known is None:
            if len(cache) > 200_000:  # bounded: a corpus of unique values must not grow it forever
                cache.clear()
            known = cache[value] = check(value)
        return known

    cached.__name__ = check.__name__
    cached.__doc__ = check.__doc__
    return cached


def is_valid_object_name(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _OBJECT_NAME(value) is not None


@_memoized
def is_valid_dns_label(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _DNS_LABEL(value) is not None


def is_valid_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(is_valid_dns_label(part) for part in value.split("."))


@_memoized
def is_valid_api_version(value: object) -> bool:
    return _prefix_and_or_suffix(value, lambda s: 1 <= len(s) <= 63 and _API_VERSION_SUFFIX(s) is not None)


@_memoized
def is_valid_kind(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _KIND(value) is not None


@_memoized
def is_valid_key(value: object) -> bool:
    """Label and annotation keys: ``[dns-subdomain/]name``."""
    return _prefix_and_or_suffix(value, is_valid_object_name)


@_memoized
def is_valid_label_value(value: object) -> bool:
    return value == "" or is_valid_object_name(value)


@_memoized
def is_valid_tag(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _TAG(value) is not None


def _prefix_and_or_suffix(value: object, suffix_ok: Callable[[str], bool]) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return suffix_ok(parts[0])
    if len(parts) == 2:
        return is_valid_dns_subdomain(parts[0]) and suffix_ok(parts[1])
    return False


_is_valid_url = is_valid_url  # not memoized: URLs are nearly all distinct


def js_key(key: object) -> str:
    """The string a JavaScript object key would be, for keys YAML parsed as numbers or booleans."""
    if isinstance(key, str):
        return key
    if key is None:
        return ""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def _js_type(value: object) -> str:
    """``typeof`` as JavaScript would say it, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class EntityInvalid(Exception):
    """The first rule an entity breaks; ``str()`` is the message shown to the user."""


@dataclass(slots=True)
class Validation:
    """The verdict on one document: its ref (when it has one), the error, its forward relations."""

    ref: str | None
    error: str | None = None
    relations: list[tuple[str, str]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.error is None


# -- schema helpers (JSON Schema semantics: bool is not a number, list is not an object) ------------
def _is_str(value: object, min_length: int = 0) -> bool:
    return isinstance(value, str) and len(value) >= min_length


def _need_str(value: object, path: str, min_length: int = 1) -> None:
    if type(value) is str and len(value) >= min_length:
        return
    if not isinstance(value, str):
        raise EntityInvalid(f"{path} must be string")
    if len(value) < min_length:
        raise EntityInvalid(f"{path} must NOT have fewer than {min_length} characters")


def _need_object(value: object, path: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise EntityInvalid(f"{path} must be object")
    return value


def _need_array(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise EntityInvalid(f"{path} must be array")
    return value


def _need_str_list(value: object, path: str, min_length: int = 1) -> None:
    for i, item in enumerate(_need_array(value, path)):
        if type(item) is not str or len(item) < min_length:
            _need_str(item, f"{path}/{i}", min_length)


def entity_ref_of(data: object) -> str | None:
    """The canonical ref of a raw document, when it has a string kind and name (else None)."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    metadata = data.get("metadata")
    if not isinstance(kind, str) or not isinstance(metadata, dict):
        return None
    name = metadata.get("name")
    if not isinstance(name, str):
        return None
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = DEFAULT_NAMESPACE
    return f"{kind}:{namespace}/{name}".lower()


# -- stage 1: envelope ------------------------------------------------------------------------------
def check_envelope(data: object) -> None:
    """``entityEnvelopeSchemaValidator``: apiVersion, kind, metadata.name are non-empty strings."""
    if not isinstance(data, dict):
        raise EntityInvalid(f"Expected object at root, got {_js_type(data)}")
    for key in ("apiVersion", "kind", "metadata"):
        if key not in data:
            raise EntityInvalid(f"<root> must have required property '{key}'")
    _need_str(data["apiVersion"], "/apiVersion")
    _need_str(data["kind"], "/kind")
    metadata = _need_object(data["metadata"], "/metadata")
    if "name" not in metadata:
        raise EntityInvalid("/metadata must have required property 'name'")
    _need_str(metadata["name"], "/metadata/name")
    if "namespace" in metadata:
        _need_str(metadata["namespace"], "/metadata/namespace")
    annotations = metadata.get("annotations")
    if annotations and not isinstance(annotations, dict):
        raise EntityInvalid("metadata.annotations must be a valid object")


# -- stage 2: policies ------------------------------------------------------------------------------
def check_entity_schema(data: dict[str, Any]) -> None:
    """``SchemaValidEntityPolicy``: the Entity and EntityMeta JSON schemas."""
    for key in data:
        if key not in ("apiVersion", "kind", "metadata", "spec", "relations", "status"):
            raise EntityInvalid(
                f"Malformed envelope, <root> must NOT have additional properties ({js_key(key)})"
            )
    metadata: dict[Any, Any] = data["metadata"]
    for key in ("uid", "etag", "name", "namespace", "title"):
        value = metadata.get(key, "-")
        if type(value) is not str or not value:
            _need_str(value, f"Malformed envelope, /metadata/{key}")
    if "description" in metadata:
        _need_str(metadata["description"], "Malformed envelope, /metadata/description", 0)
    for section in ("labels", "annotations"):
        if section in metadata:
            values = _need_object(metadata[section], f"Malformed envelope, /metadata/{section}")
            for key, value in values.items():
                name = js_key(key)
                if name and "\n" not in name and not isinstance(value, str):
                    raise EntityInvalid(f"Malformed envelope, /metadata/{section}/{name} must be string")
    if "tags" in metadata:
        _need_str_list(metadata["tags"], "Malformed envelope, /metadata/tags")
    if "links" in metadata:
        for i, link in enumerate(_need_array(metadata["links"], "Malformed envelope, /metadata/links")):
            path = "Malformed envelope, /metadata/links/" + str(i)
            _need_object(link, path)
            if "url" not in link:
                raise EntityInvalid(f"{path} must have required property 'url'")
            for key in ("url", "title", "icon", "type"):
                value = link.get(key, "-")
                if type(value) is not str or not value:
                    _need_str(value, f"{path}/{key}")
    if "spec" in data:
        _need_object(data["spec"], "Malformed envelope, /spec")
    if "relations" in data:
        for i, relation in enumerate(_need_array(data["relations"], "Malformed envelope, /relations")):
            path = f"Malformed envelope, /relations/{i}"
            _need_object(relation, path)
            for key in ("type", "targetRef"):
                if key not in relation:
                    raise EntityInvalid(f"{path} must have required property '{key}'")
            if not _is_str(relation["type"], 1) or not _RELATION_TYPE(relation["type"]):
                raise EntityInvalid(f"{path}/type must be a word")
            _need_str(relation["targetRef"], f"{path}/targetRef")
    if "status" in data:
        _need_object(data["status"], "Malformed envelope, /status")


def check_foreign_root_fields(data: dict[str, Any]) -> None:
    """``NoForeignRootFieldsEntityPolicy``: ``relations`` and ``status`` are output only."""
    for key in data:
        if key not in KNOWN_ROOT_FIELDS:
            raise EntityInvalid(f"Unknown field {js_key(key)}")


def _not_valid(field_name: str, expectation: str, value: object) -> EntityInvalid:
    return EntityInvalid(f'"{field_name}" is not valid; expected {expectation} but found "{_js_str(value)}".')


def _js_str(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(_js_str(v) for v in value)
    return str(value)


def check_field_formats(data: dict[str, Any]) -> None:
    """``FieldFormatEntityPolicy(makeValidator())``."""
    if not is_valid_api_version(data["apiVersion"]):
        raise _not_valid("apiVersion", _PREFIX_EXPECT, data["apiVersion"])
    if not is_valid_kind(data["kind"]):
        raise _not_valid("kind", _KIND_EXPECT, data["kind"])
    metadata: dict[Any, Any] = data["metadata"]
    if not is_valid_object_name(metadata["name"]):
        raise _not_valid("metadata.name", _NAME_EXPECT, metadata["name"])
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    if not is_valid_dns_label(namespace):
        raise _not_valid("metadata.namespace", _NAMESPACE_EXPECT, namespace)
    labels = metadata.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            name = js_key(key)
            if not is_valid_key(name):
                raise _not_valid(f"labels.{name}", _PREFIX_EXPECT, name)
            if value is None:
                raise EntityInvalid(f"labels.{name} must have a value")
            if not is_valid_label_value(value):
                raise _not_valid(f"labels.{name}", _NAME_EXPECT, value)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        for key, value in annotations.items():
            name = js_key(key)
            if not is_valid_key(name):
                raise _not_valid(f"annotations.{name}", _PREFIX_EXPECT, name)
            if value is None:
                raise EntityInvalid(f"annotations.{name} must have a value")
            if not isinstance(value, str):
                raise _not_valid(f"annotations.{name}", "a string", value)
    tags = metadata.get("tags")
    if isinstance(tags, list):
        for i, tag in enumerate(tags):
            if tag is None:
                raise EntityInvalid(f"tags.{i} must have a value")
            if not is_valid_tag(tag):
                raise _not_valid(f"tags.{i}", _TAG_EXPECT, tag)
    links = metadata.get("links")
    if isinstance(links, list):
        for i, link in enumerate(links):
            link = link if isinstance(link, dict) else {}
            url = link.get("url")
            if url is None:
                raise EntityInvalid(f"links.{i}.url must have a value")
            if not _is_valid_url(url):
                raise _not_valid(f"links.{i}.url", "a string that is a valid url", url)
            for key in ("title", "icon"):
                if key in link and not (isinstance(link[key], str) and link[key].strip()):
                    if link[key] is None:
                        raise EntityInvalid(f"links.{i}.{key} must have a value")
                    raise _not_valid(f"links.{i}.{key}", "a non empty string", link[key])


# -- stage 3: kinds ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _SpecSchema:
    required: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()  # string, minLength 1
    string_lists: tuple[str, ...] = ()  # array of string, minLength 1
    has_profile: bool = False


_PROFILE_FIELDS = ("displayName", "email", "picture")
KIND_SCHEMAS: dict[str, _SpecSchema] = {
    "Component": _SpecSchema(
        ("type", "lifecycle", "owner"),
        ("type", "lifecycle", "owner", "system", "subcomponentOf"),
        ("providesApis", "consumesApis", "dependsOn"),
    ),
    "API": _SpecSchema(
        ("type", "lifecycle", "owner", "definition"), ("type", "lifecycle", "owner", "system", "definition")
    ),
    "Resource": _SpecSchema(("type", "owner"), ("type", "owner", "system"), ("dependsOn",)),
    "System": _SpecSchema(("owner",), ("owner", "domain", "type")),
    "Domain": _SpecSchema(("owner",), ("owner", "subdomainOf", "type")),
    "Group": _SpecSchema(("type", "children"), ("type", "parent"), ("children", "members"), has_profile=True),
    "User": _SpecSchema(("memberOf",), (), ("memberOf",), has_profile=True),
    "Location": _SpecSchema((), ("type", "target"), ("targets",)),
}


def check_kind(data: dict[str, Any], ref: str) -> None:
    """The kind validators: some processor must recognise (kind, apiVersion); its schema must hold."""
    kind, api_version = data["kind"], data["apiVersion"]
    if kind == "Template" and api_version == TEMPLATE_API_VERSION:
        _check_template_spec(data.get("spec"))
        return
    schema = KIND_SCHEMAS.get(kind)
    if schema is None or api_version not in BUILTIN_API_VERSIONS:
        raise EntityInvalid(_unrecognized(kind, api_version, ref))
    if "spec" not in data:
        raise EntityInvalid("<root> must have required property 'spec'")
    spec = _need_object(data["spec"], "/spec")
    for key in schema.required:
        if key not in spec:
            raise EntityInvalid(f"/spec must have required property '{key}'")
    for key in schema.strings:
        value = spec.get(key, "-")
        if type(value) is not str or not value:
            _need_str(value, f"/spec/{key}")
    for key in schema.string_lists:
        if key in spec:
            _need_str_list(spec[key], f"/spec/{key}")
    if schema.has_profile and "profile" in spec:
        profile = _need_object(spec["profile"], "/spec/profile")
        for key in _PROFILE_FIELDS:
            if key in profile:
                _need_str(profile[key], f"/spec/profile/{key}")
    if kind == "Location" and "presence" in spec:
        presence = spec["presence"]
        if not isinstance(presence, str):
            raise EntityInvalid("/spec/presence must be string")
        if presence not in ("required", "optional"):
            raise EntityInvalid(
                "/spec/presence must be equal to one of the allowed values (required, optional)"
            )


def _unrecognized(kind: str, api_version: str, ref: str) -> str:
    message = (
        f"No processor recognized the entity {ref} as valid, possibly caused by a foreign kind or apiVersion"
    )
    hint = ""
    for known in (*KIND_SCHEMAS, "Template"):
        if known.lower() == kind.lower() and known != kind:
            hint = f" (kinds are case-sensitive: write {known!r}, not {kind!r})"
            break
    else:
        if kind == "Template":
            hint = f" (a Template needs apiVersion {TEMPLATE_API_VERSION})"
        elif kind in KIND_SCHEMAS:
            hint = f" ({kind} needs apiVersion backstage.io/v1alpha1 or backstage.io/v1beta1)"
    return message + hint


def _check_permissions(value: object, path: str) -> None:
    permissions = _need_object(value, path)
    if "tags" in permissions:
        _need_str_list(permissions["tags"], f"{path}/tags", 0)


def _check_when(value: object, path: str) -> None:
    if not isinstance(value, str | bool):
        raise EntityInvalid(f"{path} must be string,boolean")


def _check_template_spec(spec: object) -> None:
    """``templateEntityV1beta3Validator`` (plugin-scaffolder-common's Template.v1beta3 schema)."""
    if spec is None:
        raise EntityInvalid("<root> must have required property 'spec'")
    spec = _need_object(spec, "/spec")
    for key in ("type", "steps"):
        if key not in spec:
            raise EntityInvalid(f"/spec must have required property '{key}'")
    for key in ("type", "owner", "lifecycle"):
        if key in spec:
            _need_str(spec[key], f"/spec/{key}")
    if "parameters" in spec:
        parameters = spec["parameters"]
        if isinstance(parameters, dict):
            if "backstage:permissions" in parameters:
                _check_permissions(
                    parameters["backstage:permissions"], "/spec/parameters/backstage:permissions"
                )
        elif isinstance(parameters, list):
            for i, page in enumerate(parameters):
                path = f"/spec/parameters/{i}"
                _need_object(page, path)
                if "when" in page:
                    _check_when(page["when"], f"{path}/when")
                if "backstage:permissions" in page:
                    _check_permissions(page["backstage:permissions"], f"{path}/backstage:permissions")
        else:
            raise EntityInvalid("/spec/parameters must match exactly one schema in oneOf")
    if "secrets" in spec:
        secrets = _need_object(spec["secrets"], "/spec/secrets")
        if "schema" in secrets:
            _need_object(secrets["schema"], "/spec/secrets/schema")
    if "presentation" in spec:
        presentation = _need_object(spec["presentation"], "/spec/presentation")
        if "buttonLabels" in presentation:
            labels = _need_object(presentation["buttonLabels"], "/spec/presentation/buttonLabels")
            for key in ("backButtonText", "createButtonText", "reviewButtonText"):
                if key in labels:
                    _need_str(labels[key], f"/spec/presentation/buttonLabels/{key}", 0)
    if "EXPERIMENTAL_recovery" in spec:
        recovery = _need_object(spec["EXPERIMENTAL_recovery"], "/spec/EXPERIMENTAL_recovery")
        if "EXPERIMENTAL_strategy" in recovery:
            _need_str(
                recovery["EXPERIMENTAL_strategy"], "/spec/EXPERIMENTAL_recovery/EXPERIMENTAL_strategy", 0
            )
    for key in ("formDecorators", "EXPERIMENTAL_formDecorators"):
        if key in spec:
            for i, decorator in enumerate(_need_array(spec[key], f"/spec/{key}")):
                path = f"/spec/{key}/{i}"
                _need_object(decorator, path)
                if "id" in decorator:
                    _need_str(decorator["id"], f"{path}/id", 0)
                if "input" in decorator:
                    _need_object(decorator["input"], f"{path}/input")
    for i, step in enumerate(_need_array(spec["steps"], "/spec/steps")):
        path = f"/spec/steps/{i}"
        _need_object(step, path)
        if "action" not in step:
            raise EntityInvalid(f"{path} must have required property 'action'")
        for key in ("id", "name", "action"):
            if key in step:
                _need_str(step[key], f"{path}/{key}", 0)
        if "input" in step:
            _need_object(step["input"], f"{path}/input")
        if "if" in step:
            _check_when(step["if"], f"{path}/if")
        if "backstage:permissions" in step:
            _check_permissions(step["backstage:permissions"], f"{path}/backstage:permissions")
    if "output" in spec:
        _check_template_output(spec["output"])


def _check_template_output(value: object) -> None:
    output = _need_object(value, "/spec/output")
    for key, item in output.items():
        name = js_key(key)
        path = f"/spec/output/{name}"
        if name in ("links", "text"):
            for i, entry in enumerate(_need_array(item, path)):
                entry_path = f"{path}/{i}"
                _need_object(entry, entry_path)
                if "if" in entry:
                    _check_when(entry["if"], f"{entry_path}/if")
                strings = ("url", "entityRef", "title", "icon") if name == "links" else ("title", "icon")
                for field_name in strings:
                    if field_name in entry:
                        _need_str(entry[field_name], f"{entry_path}/{field_name}")
                if name == "text" and "content" in entry:
                    _need_str(entry["content"], f"{entry_path}/content", 0)
        else:
            _need_str(item, path, 0)


# -- the common case, fast ------------------------------------------------------------------------
_ROOT_FIELDS = frozenset(KNOWN_ROOT_FIELDS)


def _metadata_is_clean(metadata: dict[Any, Any]) -> bool:
    """Every metadata rule at once, for the common case; False means "ask the staged checks"."""
    name = metadata.get("name")
    if type(name) is not str or not is_valid_object_name(name):
        return False
    for key, value in metadata.items():
        if key == "name":
            continue
        if key == "namespace":
            if type(value) is not str or not is_valid_dns_label(value):
                return False
        elif key == "annotations":
            if type(value) is not dict:
                return False
            for k, v in value.items():
                if type(k) is not str or type(v) is not str or not is_valid_key(k):
                    return False
        elif key == "tags":
            if type(value) is not list:
                return False
            for tag in value:
                if type(tag) is not str or not is_valid_tag(tag):
                    return False
        elif key in ("title", "uid", "etag"):
            if type(value) is not str or not value:
                return False
        elif key == "description":
            if type(value) is not str:
                return False
        elif key == "labels":
            if type(value) is not dict:
                return False
            for k, v in value.items():
                if (
                    type(k) is not str
                    or type(v) is not str
                    or not is_valid_key(k)
                    or not is_valid_label_value(v)
                ):
                    return False
        elif key == "links":
            if type(value) is not list:
                return False
            for link in value:
                if type(link) is not dict or not _link_is_clean(link):
                    return False
    return True


def _link_is_clean(link: dict[Any, Any]) -> bool:
    url = link.get("url")
    if type(url) is not str or not url or not _is_valid_url(url):
        return False
    for key in ("title", "icon"):
        if key in link:
            value = link[key]
            if type(value) is not str or not value.strip():
                return False
    kind = link.get("type", "-")
    return type(kind) is str and bool(kind)


def _spec_is_clean(kind: str, spec: object) -> bool:
    schema = KIND_SCHEMAS[kind]
    if type(spec) is not dict:
        return False
    for key in schema.required:
        if key not in spec:
            return False
    for key in schema.strings:
        value = spec.get(key, "-")
        if type(value) is not str or not value:
            return False
    for key in schema.string_lists:
        if key in spec:
            values = spec[key]
            if type(values) is not list:
                return False
            for item in values:
                if type(item) is not str or not item:
                    return False
    if schema.has_profile and "profile" in spec:
        profile = spec["profile"]
        if type(profile) is not dict:
            return False
        for key in _PROFILE_FIELDS:
            value = profile.get(key, "-")
            if type(value) is not str or not value:
                return False
    return kind != "Location" or spec.get("presence", "required") in ("required", "optional")


def _is_clean(data: object) -> TypeGuard[dict[str, Any]]:
    """True only when every stage would pass (a conservative shortcut for valid built-in kinds).

    Most entities are valid; checking them in one pass, with the string checks memoized, is about
    twice as fast as the staged checks. Anything unusual returns False, and the staged checks then
    find the exact first error Backstage would report.
    """
    if type(data) is not dict:
        return False
    for key in data:
        if key not in _ROOT_FIELDS:
            return False
    kind = data.get("kind")
    api_version = data.get("apiVersion")
    if type(kind) is not str or type(api_version) is not str:
        return False
    if api_version not in BUILTIN_API_VERSIONS or kind not in KIND_SCHEMAS:
        return False
    metadata = data.get("metadata")
    if type(metadata) is not dict or not _metadata_is_clean(metadata):
        return False
    return _spec_is_clean(kind, data.get("spec"))


# -- all stages ----------------------------------------------------------------------------------
def validate_entity(data: object, ref: str | None = None) -> Validation:
    """Run every Backstage check on one parsed document (placeholders already resolved).

    Returns the canonical ref (when the document has a kind and name), the first error if any, and
    the forward relations the entity declares (``[(type, canonical target)]``).
    """
    if ref is None:
        ref = entity_ref_of(data)
    if _is_clean(data):
        try:
            return Validation(ref, None, forward_relations(data))
        except RelationError as error:
            return Validation(ref, f"bad entity reference: {error}")
    try:
        check_envelope(data)
        assert isinstance(data, dict)
        check_entity_schema(data)
        check_foreign_root_fields(data)
        check_field_formats(data)
        assert ref is not None
        check_kind(data, ref)
        relations = forward_relations(data)
    except EntityInvalid as error:
        return Validation(ref, str(error))
    except RelationError as error:
        return Validation(ref, f"bad entity reference: {error}")
    return Validation(ref, None, relations)

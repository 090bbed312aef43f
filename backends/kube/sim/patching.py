"""The three PATCH flavours kube-apiserver accepts, applied to plain JSON-like dicts.

* JSON merge patch (RFC 7386): dicts merge, ``null`` deletes, lists are replaced.
* JSON patch (RFC 6902): a list of ``add/remove/replace/move/copy/test`` operations.
* Strategic merge patch: a merge patch where some lists are merged element by element using a
  *merge key* (``containers`` by ``name``, container ``ports`` by ``containerPort`` …). The real
  server reads merge keys from the Go types; here a small table covers the workload kinds the
  simulation serves, which is what keeps a container's ``ports`` when only its image is patched.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from .errors import ApiError, bad_request

# Field name → merge key for lists of objects that the API merges element-wise (from the Go
# `patchMergeKey` tags). ``ports`` depends on where it sits, see `_merge_key`.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
}
# Lists of scalars that the API merges as sets (``patchStrategy:"merge"`` on []string).
_SET_LISTS = frozenset({"finalizers"})


def _merge_key(path: tuple[str, ...]) -> str | None:
    field = path[-1] if path else ""
    if field == "ports":
        # Container ports merge by containerPort; Service ports by port.
        in_container = any(part in ("containers", "initContainers", "ephemeralContainers") for part in path)
        return "containerPort" if in_container else "port"
    return _MERGE_KEYS.get(field)


def json_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch; returns a new value, ``target`` is left untouched."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Apply a strategic merge patch (the kubernetes client's default for dict bodies)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in (value or [])]
            continue
        if key.startswith("$"):
            continue  # $setElementOrder, $retainKeys: ordering hints we do not need
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, (*path, key))
        else:
            result[key] = strategic_merge_patch(result.get(key), value, (*path, key))
    return result


def _merge_list(current: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    current_list = current if isinstance(current, list) else []
    field = path[-1]
    if field in _SET_LISTS and all(not isinstance(item, dict) for item in patch):
        merged = list(current_list)
        merged.extend(item for item in patch if item not in merged)
        return copy.deepcopy(merged)
    key = _merge_key(path)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return copy.deepcopy(patch)
    if any(item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
    merged = [copy.deepcopy(item) for item in current_list]
    for item in patch:
        if key not in item:
            raise bad_request(f"map in list {'.'.join(path)} lacks its merge key {key!r}")
        index = next(
            (
                i
                for i, existing in enumerate(merged)
                if isinstance(existing, dict) and existing.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            merged[index] = strategic_merge_patch(merged[index], item, path)
    return merged


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """Apply an RFC 6902 JSON patch (the ``jsonpatch`` library); any failing operation rejects the
    whole patch: 422 as kube-apiserver answers, 400 for a patch that is not one."""
    try:
        patch = jsonpatch.JsonPatch(operations)
        return patch.apply(copy.deepcopy(target))
    except jsonpatch.JsonPatchTestFailed as exc:
        raise ApiError(422, "Invalid", f"JSON patch test failed: {exc}") from exc
    except jsonpatch.InvalidJsonPatch as exc:
        raise bad_request(f"invalid JSON patch: {exc}") from exc
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
        raise ApiError(422, "Invalid", f"JSON patch failed: {exc}") from exc

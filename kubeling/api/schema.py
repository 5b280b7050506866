"""The one schema per kind: upstream v1.32 OpenAPI definitions.

The definitions come from the `kubernetes-validate` package, which ships the upstream
OpenAPI definitions of each Kubernetes release (field names, types, descriptions, list
types, patch merge keys, group-version-kinds). Everything schema-driven in kubeling —
unknown-field validation, strategic merge patch, server-side apply, the OpenAPI v3
documents kubectl downloads, `kubectl explain` — reads it from here, so nothing is typed twice.

Internally a schema node is a dict with plain OpenAPI keys; a reference is
``{"$ref": "<definition name>"}`` (bare name, no JSON pointer).
"""
from __future__ import annotations

import functools
import os
from typing import Any

import orjson

KUBE_VERSION = "v1.32.0"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _definitions_path() -> str:
    # Locate the package without importing it: its __init__ pulls in jsonschema, a tenth of a second of
    # startup for nothing (only its data file is read).
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.origin:
        raise ModuleNotFoundError("kubernetes_validate")
    base = os.path.dirname(spec.origin)
    return os.path.join(base, "kubernetes-json-schema", f"{KUBE_VERSION}-local", "_definitions.json")


def _normalize(node: Any) -> Any:
    """Turn the JSON-Schema flavour of the package back into OpenAPI-style nodes."""
    if isinstance(node, list):
        return [_normalize(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            out[k] = v.rsplit("/", 1)[-1]
        elif k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            out[k] = types[0] if len(types) == 1 else types
        elif k == "enum" and isinstance(v, list):
            vals = [x for x in v if x is not None]
            if vals:
                out[k] = vals
        else:
            out[k] = _normalize(v)
    return out


@functools.lru_cache(maxsize=1)
def definitions() -> dict[str, dict[str, Any]]:
    with open(_definitions_path(), "rb") as f:
        raw = orjson.loads(f.read())["$defs"]
    defs = {name: _normalize(node) for name, node in raw.items()}
    defs[INT_OR_STRING] = {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
        "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for "
        "example, a JSON field that can accept a name or number.",
        "type": "string",
        "format": "int-or-string",
    }
    defs[QUANTITY] = {
        "description": raw[QUANTITY].get("description", "Quantity is a fixed-point representation of a number."),
        "type": "string",
    }
    for _name, node in defs.items():
        props = node.get("properties")
        if props:
            # The package renders apiVersion/kind of top-level kinds as enums; upstream has plain strings.
            for key in ("apiVersion", "kind"):
                if key in props and "enum" in props[key] and node.get("x-kubernetes-group-version-kind"):
                    props[key] = {k: v for k, v in props[key].items() if k != "enum"}
    return defs


@functools.cache
def def_for_gvk(group: str, version: str, kind: str) -> str | None:
    for name, node in definitions().items():
        for gvk in node.get("x-kubernetes-group-version-kind", ()):
            if gvk.get("group", "") == group and gvk["version"] == version and gvk["kind"] == kind:
                return name
    return None


def resolve(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow a reference (possibly wrapped in allOf) to the definition it names."""
    if node is None:
        return None
    ref = node.get("$ref")
    if ref is None and "allOf" in node and len(node["allOf"]) == 1:
        ref = node["allOf"][0].get("$ref")
    if ref is not None:
        return definitions().get(ref)
    return node


def ref_name(node: dict[str, Any] | None) -> str | None:
    if node is None:
        return None
    ref = node.get("$ref")
    if ref is None and "allOf" in node and len(node["allOf"]) == 1:
        ref = node["allOf"][0].get("$ref")
    return ref


def child(node: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """Schema of field `key` of an object node, or of map values; None when unknown."""
    node = resolve(node)
    if node is None:
        return None
    props = node.get("properties")
    if props is not None and key in props:
        return props[key]
    ap = node.get("additionalProperties")
    if isinstance(ap, dict):
        return ap
    return None


def items(node: dict[str, Any] | None) -> dict[str, Any] | None:
    node = resolve(node)
    if node is None:
        return None
    return node.get("items")


def kind_node(def_name: str) -> dict[str, Any]:
    return {"$ref": def_name}


def list_info(node: dict[str, Any] | None) -> dict[str, Any]:
    """The list semantics a field declares: patch strategy/merge key and SSA list type/keys."""
    if node is None:
        return {}
    out = {}
    for k in ("x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-list-type",
              "x-kubernetes-list-map-keys", "x-kubernetes-map-type"):
        if k in node:
            out[k] = node[k]
    return out


def is_free_form(node: dict[str, Any] | None) -> bool:
    """True for nodes that accept any content (RawExtension, JSON, untyped objects)."""
    node = resolve(node)
    if node is None:
        return True
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return True
    return node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node

"""OpenAPI v3 documents, generated from the one schema (api.schema) and the resource registry.

kubectl fetches /openapi/v3 for the index and one document per group-version; it uses
them for `kubectl explain`, for strategic-merge-patch computation in `apply`, and to
decide (from the PATCH operations' parameters) that the server validates fields itself.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson

from ..api import schema
from ..api.resources import ResourceType, all_resources, custom_generation, groups

_PREFIX = "#/components/schemas/"


def _to_openapi(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_openapi(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            continue
        out[k] = _to_openapi(v)
    ref = node.get("$ref")
    if isinstance(ref, str):
        if len(out) == 0:
            return {"$ref": _PREFIX + ref}
        # OpenAPI 3.0 ignores siblings of $ref; upstream wraps the reference in allOf.
        out["allOf"] = [{"$ref": _PREFIX + ref}]
    return out


def _closure(names: list[str]) -> list[str]:
    defs = schema.definitions()
    seen: set[str] = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n in seen or n not in defs:
            continue
        seen.add(n)
        _refs(defs[n], stack)
    return sorted(seen)


def _refs(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str):
            out.append(r)
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


_COMMON_QUERY = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
                       "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, "
                       "Strict.",
}


def _param(name: str, desc: str, typ: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": desc, "schema": {"type": typ, "uniqueItems": True}}


def _ref_content(def_name: str, types: tuple[str, ...] = ("application/json", "application/yaml")) -> dict:
    return {t: {"schema": {"$ref": _PREFIX + def_name}} for t in types}


def _ops(rt: ResourceType, gv_def: str, sub: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    obj_def = gv_def
    if sub == "scale":
        obj_def = "io.k8s.api.autoscaling.v1.Scale"
        gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    write_params = [_param(k, v) for k, v in _COMMON_QUERY.items()]
    item_ops: dict[str, Any] = {}
    base = {"x-kubernetes-group-version-kind": gvk}
    ok = {"200": {"description": "OK", "content": _ref_content(obj_def)}}
    item_ops["get"] = {**base, "x-kubernetes-action": "get", "responses": ok,
                       "operationId": f"read{rt.kind}"}
    item_ops["put"] = {**base, "x-kubernetes-action": "put", "parameters": write_params,
                       "requestBody": {"content": {"*/*": {"schema": {"$ref": _PREFIX + obj_def}}}, "required": True},
                       "responses": ok, "operationId": f"replace{rt.kind}"}
    item_ops["patch"] = {
        **base, "x-kubernetes-action": "patch",
        "parameters": write_params + [_param("force", "Force is going to \"force\" Apply requests.", "boolean")],
        "requestBody": {"content": {t: {"schema": {"$ref": _PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
                                    for t in ("application/apply-patch+yaml", "application/json-patch+json",
                                              "application/merge-patch+json",
                                              "application/strategic-merge-patch+json")},
                        "required": True},
        "responses": ok, "operationId": f"patch{rt.kind}"}
    if sub is None:
        item_ops["delete"] = {**base, "x-kubernetes-action": "delete", "responses": ok,
                              "operationId": f"delete{rt.kind}",
                              "parameters": [_param("dryRun", _COMMON_QUERY["dryRun"]),
                                             _param("gracePeriodSeconds", "duration", "integer"),
                                             _param("propagationPolicy", "deletion policy")]}
    coll_ops: dict[str, Any] = {}
    if sub is None:
        coll_ops["get"] = {**base, "x-kubernetes-action": "list", "operationId": f"list{rt.kind}",
                           "parameters": [_param(p, p) for p in ("labelSelector", "fieldSelector", "continue",
                                                                   "resourceVersion")]
                           + [_param("limit", "limit", "integer"), _param("watch", "watch", "boolean")],
                           "responses": {"200": {"description": "OK", "content": _ref_content(gv_def + "List")}}}
        coll_ops["post"] = {**base, "x-kubernetes-action": "post", "parameters": write_params,
                            "operationId": f"create{rt.kind}",
                            "requestBody": {"content": {"*/*": {"schema": {"$ref": _PREFIX + gv_def}}},
                                            "required": True},
                            "responses": {"200": ok["200"], "201": {"description": "Created",
                                                                    "content": _ref_content(gv_def)}}}
    return item_ops, coll_ops


def _paths(rts: list[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rt in rts:
        root = f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1"
        coll = f"{root}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{root}/{rt.plural}"
        if not rt.def_name or rt.plural == "bindings":
            continue
        item_ops, coll_ops = _ops(rt, rt.def_name, None)
        if "get" not in rt.verbs:  # create-only kinds (reviews): a POST on the collection, as upstream
            paths[coll] = {"post": coll_ops["post"]}
            continue
        paths[coll] = coll_ops
        paths[coll + "/{name}"] = item_ops
        for sub in rt.subresources:
            if sub in ("status", "scale"):
                paths[coll + "/{name}/" + sub] = _ops(rt, rt.def_name, sub)[0]
    return paths


def gv_document(group: str, version: str) -> bytes:
    """The document of one group-version; rebuilt when the custom resources served change."""
    return _gv_document(group, version, custom_generation() if _is_custom(group) else 0)


def _is_custom(group: str) -> bool:
    return any(r.custom is not None for r in groups().get(group, ()))


@functools.lru_cache(maxsize=256)
def _gv_document(group: str, version: str, _generation: int) -> bytes:
    rts = [r for r in groups().get(group, []) if r.version == version]
    roots = [r.def_name for r in rts if r.def_name] + [r.def_name + "List" for r in rts if r.def_name]
    roots += ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
              "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"]
    if any("scale" in r.subresources for r in rts):
        roots.append("io.k8s.api.autoscaling.v1.Scale")
    defs = schema.definitions()
    comps = {n: _to_openapi(defs[n]) for n in _closure(roots)}
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": schema.KUBE_VERSION},
           "paths": _paths(rts), "components": {"schemas": comps}}
    return orjson.dumps(doc)


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def gv_hash(group: str, version: str) -> str:
    return _gv_hash(group, version, custom_generation() if _is_custom(group) else 0)


@functools.lru_cache(maxsize=256)
def _gv_hash(group: str, version: str, _generation: int) -> str:
    return hashlib.sha512(gv_document(group, version)).hexdigest()[:128].upper()


def index() -> bytes:
    gvs = sorted({(r.group, r.version) for r in all_resources()})
    paths = {_gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={gv_hash(g, v)}"}
             for g, v in gvs}
    return orjson.dumps({"paths": paths})


def lookup_path(path: str) -> tuple[str, str] | None:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        g, v = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        g, v = parts[1], parts[2]
    else:
        return None
    if not any(r.group == g and r.version == v for r in all_resources()):
        return None
    return g, v

"""autoscaling/v1 HorizontalPodAutoscaler served from the v2 storage version.

Every request on the v1 path runs against the v2 resource; bodies and responses go through
api.hpa_conversion, as upstream's codec converts between the served and the storage version. Patches
are applied to the v1 form of the current object (that is what the client patched), then stored as v2.
Watches and deletecollection answer with the stored v2 objects (a simplification).
"""
from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..api import errors, hpa_conversion, patch
from ..api.registry import APPLY_PATCH, CONFLICT_MSG, JSON_PATCH, MERGE_PATCH, PATCH_TYPES, _parse_patch_body
from ..api.resources import ResourceType, by_qualified
from ..storage.base import KV

QUALIFIED = "horizontalpodautoscalers.autoscaling"
_V1_DEF = "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"


def is_v1_hpa(rt: ResourceType) -> bool:
    return rt.qualified == QUALIFIED and rt.version == "v1"


def _obj(res: Any) -> dict[str, Any]:
    return res.obj if isinstance(res, KV) else res


def _resp(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def _v2_body(body: Any, rt1: ResourceType) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {rt1.kind})")
    av, kind = body.get("apiVersion"), body.get("kind")
    if av is not None and av != rt1.group_version:
        raise errors.bad_request(f"the API version in the data ({av}) does not match the expected API version "
                                 f"({rt1.group_version})")
    if kind is not None and kind != rt1.kind:
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt1.kind})")
    return hpa_conversion.to_v2(body)


async def serve(server: Any, request: web.Request, rt1: ResourceType, ns: str | None, name: str | None,
                sub: str | None) -> web.StreamResponse:
    """One request on /apis/autoscaling/v1/.../horizontalpodautoscalers[/name[/status]]."""
    rt = by_qualified(QUALIFIED)
    reg = server.registry
    method = request.method
    table = "as=Table" in request.headers.get("Accept", "")
    if name is None:
        if method == "GET":
            if request.query.get("watch") in ("1", "true", "True", "t"):
                return await server._watch(request, rt, ns)
            q = request.query
            limit = int(q["limit"]) if q.get("limit", "").isdigit() else None
            items, rev, token, remaining = await reg.list_request(
                rt, ns, label_selector=q.get("labelSelector"), field_selector=q.get("fieldSelector"),
                limit=limit or None, continue_token=q.get("continue"), resource_version=q.get("resourceVersion"),
                resource_version_match=q.get("resourceVersionMatch"))
            if table:
                return _resp(server._table(request, rt, items, str(rev), token, remaining))
            md: dict[str, Any] = {"resourceVersion": str(rev)}
            if token:
                md["continue"] = token
                if remaining is not None:
                    md["remainingItemCount"] = remaining
            return _resp({"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v1", "metadata": md,
                          "items": [hpa_conversion.to_v1(kv.obj) for kv in items]})
        if method == "POST":
            req = server._request(request)
            body = _v2_body(server._decode(await server._body(request), request.content_type), rt1)
            res = await reg.create(rt, ns, body, req)
            return _resp(hpa_conversion.to_v1(_obj(res)), 201, server._warn_headers(req))
        if method == "DELETE":
            return await server._delete_collection(request, rt, ns)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    if method == "GET":
        kv = reg.get(rt, ns, name)
        if table:
            return _resp(server._table(request, rt, [kv], str(kv.mod_rev), None))
        return _resp(hpa_conversion.to_v1(kv.obj))
    if method == "PUT":
        req = server._request(request)
        body = _v2_body(server._decode(await server._body(request), request.content_type), rt1)
        existed = reg.store.get(rt.key(ns, name)) is not None
        res = await reg.update(rt, ns, name, body, req, subresource=sub)
        return _resp(hpa_conversion.to_v1(_obj(res)), 200 if existed else 201, server._warn_headers(req))
    if method == "PATCH":
        req = server._request(request)
        ct = request.headers.get("Content-Type", "").split(";")[0].strip()
        if ct not in PATCH_TYPES:
            raise errors.ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                  f"accepted media types include: {', '.join(PATCH_TYPES)}")
        if ct == APPLY_PATCH:  # a documented gap: apply through autoscaling/v2
            raise errors.bad_request("server-side apply is served for autoscaling/v2 HorizontalPodAutoscalers only")
        data = _parse_patch_body(ct, await server._body(request))
        for _attempt in range(5):
            cur = reg.get(rt, ns, name)
            base = hpa_conversion.to_v1(cur.copy())
            if ct == JSON_PATCH:
                new = patch.json_patch(base, data)
            elif ct == MERGE_PATCH:
                new = patch.merge_patch(base, data)
            else:
                new = patch.strategic_merge_patch(base, data, _V1_DEF)
            if not isinstance(new, dict):
                raise errors.bad_request("patch produced a non-object")
            body = _v2_body(new, rt1)
            md = body.setdefault("metadata", {})
            if not md.get("resourceVersion") or md["resourceVersion"] == base["metadata"].get("resourceVersion"):
                md["resourceVersion"] = cur.obj["metadata"]["resourceVersion"]
                explicit = False
            else:
                explicit = True
            try:
                res = await reg.update(rt, ns, name, body, req, subresource=sub)
            except errors.ApiError as e:
                if e.code == 409 and not explicit:
                    continue
                raise
            return _resp(hpa_conversion.to_v1(_obj(res)), 200, server._warn_headers(req))
        raise errors.conflict(rt.plural, rt.group, name, CONFLICT_MSG)
    if method == "DELETE" and sub is None:
        return await server._delete(request, rt, ns, name)
    raise errors.method_not_allowed("the server does not allow this method on the requested resource")

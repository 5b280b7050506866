"""v1 ComponentStatus (deprecated in v1.19+), computed on request as upstream's componentstatus registry.

Upstream probes the scheduler's and controller-manager's /healthz and every etcd server. kubeling's
components answer for themselves in `kubeling up` (one process), so the scheduler and controller-manager
report Healthy "ok"; etcd-0 reports the message upstream's etcd prober gives for a healthy server.
Read-only get and list; every response carries the deprecation Warning.
"""
from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..api import errors, printers
from ..api.resources import ResourceType

QUALIFIED = "componentstatuses"
WARNING = "v1 ComponentStatus is deprecated in v1.19+"
# (name, message) in the order upstream's registry lists them
_COMPONENTS = (("controller-manager", "ok"), ("scheduler", "ok"), ("etcd-0", '{"health":"true","reason":""}'))


def component_statuses() -> list[dict[str, Any]]:
    """Every component's ComponentStatus (all Healthy: they run in this process or answered)."""
    return [{"kind": "ComponentStatus", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": None},
             "conditions": [{"type": "Healthy", "status": "True", "message": msg}]} for name, msg in _COMPONENTS]


def _respond(data: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _table(server: Any, rt: ResourceType, items: list[dict[str, Any]], include: str) -> dict[str, Any]:
    """The Table kubectl asks for, rows built by the server's generic row builder."""
    rows = [server._row(rt, it, 0.0, include) for it in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": printers.column_definitions(QUALIFIED), "rows": rows}


async def serve(server: Any, request: web.Request, rt: ResourceType, name: str | None) -> web.Response:
    """GET one or all ComponentStatuses; other verbs are not served (405)."""
    request["deprecation"] = WARNING
    if request.method != "GET" or request.query.get("watch") in ("1", "true", "True"):
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    items = component_statuses()
    if name is not None:
        items = [it for it in items if it["metadata"]["name"] == name]
        if not items:
            raise errors.not_found(rt.plural, rt.group, name)
    if "as=Table" in request.headers.get("Accept", ""):
        return _respond(_table(server, rt, items, request.query.get("includeObject", "Metadata")))
    if name is not None:
        return _respond(items[0])
    return _respond({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items})


def install(server: Any) -> None:
    """Route componentstatuses of `server` (an ApiServer) here."""
    async def handler(request: web.Request, rt: ResourceType, ns: str | None, name: str | None) -> web.Response:
        return await serve(server, request, rt, name)

    server.virtual[QUALIFIED] = handler

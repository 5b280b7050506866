"""metrics.k8s.io/v1beta1 served by the API server itself, in place of metrics-server.

Upstream aggregates metrics-server behind an APIService; kubeling computes NodeMetrics and PodMetrics on
request from the Nodes and Pods in the store (usage simulated by kubeling.api.metrics), so `kubectl top`
and the HPA controller work without a scraper. Read-only get/list with label selectors (and the field
selectors the pods/nodes lists take), as metrics-server serves them; no watch.
"""
from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..api import errors, metrics
from ..api.meta import now_rfc3339
from ..api.resources import ResourceType, by_qualified

_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "description": "Name of the resource", "priority": 0},
    {"name": "CPU", "type": "string", "format": "", "description": "CPU usage", "priority": 0},
    {"name": "Memory", "type": "string", "format": "", "description": "Memory usage", "priority": 0},
    {"name": "Window", "type": "string", "format": "", "description": "Interval over which metrics are calculated",
     "priority": 0},
]


def _respond(data: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _table(items: list[dict[str, Any]], include: str) -> dict[str, Any]:
    rows = []
    for it in items:
        usage = it.get("usage")
        if usage is None:  # pod: containers summed
            cpu = sum((metrics.parse_quantity(c["usage"]["cpu"])[0] for c in it["containers"]), start=0)
            mem = sum((metrics.parse_quantity(c["usage"]["memory"])[0] for c in it["containers"]), start=0)
            usage = metrics.usage_list({"cpu": cpu, "memory": mem})
        row: dict[str, Any] = {"cells": [it["metadata"]["name"], usage["cpu"], usage["memory"], it["window"]]}
        if include == "Object":
            row["object"] = it
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": it["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": _COLUMNS,
            "rows": rows}


class MetricsApi:
    """Handlers for nodes.metrics.k8s.io and pods.metrics.k8s.io (ApiServer.virtual)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def install(self) -> None:
        self.server.virtual.update({"nodes.metrics.k8s.io": self.nodes, "pods.metrics.k8s.io": self.pods})

    @staticmethod
    def _check(request: web.Request) -> None:
        if request.method != "GET" or request.query.get("watch") in ("1", "true", "True"):
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    def _out(self, request: web.Request, kind: str, items: list[dict[str, Any]]) -> web.Response:
        if "as=Table" in request.headers.get("Accept", ""):
            return _respond(_table(items, request.query.get("includeObject", "Metadata")))
        return _respond({"kind": kind, "apiVersion": metrics.GROUP_VERSION, "metadata": {}, "items": items})

    async def nodes(self, request: web.Request, rt: ResourceType, ns: str | None, name: str | None) -> web.Response:
        self._check(request)
        reg = self.server.registry
        now = now_rfc3339()
        q = request.query
        nodes_rt = by_qualified("nodes")
        if name is not None:
            try:
                nodes = [reg.get(nodes_rt, None, name).obj]
            except errors.ApiError as e:
                if e.code == 404:
                    raise errors.not_found("nodemetrics", "metrics.k8s.io", name) from None
                raise
        else:
            nodes = [kv.obj for kv in reg.list(nodes_rt, None, label_selector=q.get("labelSelector"),
                                               field_selector=q.get("fieldSelector"))[0]]
        by_node: dict[str, list[dict[str, Any]]] = {}
        for kv in reg.list(by_qualified("pods"), None)[0]:
            node = (kv.obj.get("spec") or {}).get("nodeName")
            if node:
                by_node.setdefault(node, []).append(kv.obj)
        items = [metrics.node_metrics(n, by_node.get(n["metadata"]["name"], []), now) for n in nodes]
        if name is not None:
            if "as=Table" in request.headers.get("Accept", ""):
                return _respond(_table(items, q.get("includeObject", "Metadata")))
            return _respond(items[0])
        return self._out(request, "NodeMetricsList", items)

    async def pods(self, request: web.Request, rt: ResourceType, ns: str | None, name: str | None) -> web.Response:
        self._check(request)
        reg = self.server.registry
        now = now_rfc3339()
        q = request.query
        pods_rt = by_qualified("pods")
        if name is not None:
            try:
                pm = metrics.pod_metrics(reg.get(pods_rt, ns, name).obj, now)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
                pm = None
            if pm is None:
                raise errors.not_found("podmetrics", "metrics.k8s.io", f"{ns}/{name}")
            if "as=Table" in request.headers.get("Accept", ""):
                return _respond(_table([pm], q.get("includeObject", "Metadata")))
            return _respond(pm)
        items = []
        for kv in reg.list(pods_rt, ns, label_selector=q.get("labelSelector"),
                           field_selector=q.get("fieldSelector"))[0]:
            pm = metrics.pod_metrics(kv.obj, now)
            if pm is not None:
                items.append(pm)
        return self._out(request, "PodMetricsList", items)


def install(server: Any) -> None:
    """Route the metrics.k8s.io kinds of `server` (an ApiServer) here."""
    MetricsApi(server).install()

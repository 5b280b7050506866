"""The HTTP front end: REST paths, discovery, OpenAPI, Table output, watch streams, Status errors.

One catch-all aiohttp handler parses Kubernetes paths itself (cheaper and more exact than
a route table of every kind) and hands requests to the generic registry.
"""
from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import Counter
from typing import Any

import orjson
import yaml
from aiohttp import web

from ..api import customresource, errors, printers
from ..api.errors import ApiError
from ..api.eviction import Evictor
from ..api.registry import APPLY_PATCH, Registry, Request
from ..api.resources import ResourceType, lookup
from ..api.safety import safe_yaml
from ..api.strategy import RETURN_DELETED_OBJECT
from ..storage.base import KV
from . import autoscaling_v1, componentstatus, discovery, metrics_api, openapi, pod_connect, protobuf

log = logging.getLogger("kubeling.apiserver")

MAX_BODY = 3 * 1024 * 1024
VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-kubeling",
    "gitCommit": "kubeling",
    "gitTreeState": "clean",
    "buildDate": "2026-11-27T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}
PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version", "/healthz/", "/livez/", "/readyz/"}
DISCO_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
DISCO_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
JSON = "application/json"


def _json(data: Any, status: int = 200, content_type: str = JSON, headers: dict | None = None) -> web.Response:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    h = dict(headers or {})
    h["Content-Type"] = content_type
    return web.Response(body=body, status=status, headers=h)


def error_response(e: ApiError) -> web.Response:
    headers = {"Retry-After": str(e.retry_after)} if e.retry_after is not None else None
    return web.Response(body=orjson.dumps(e.status()), status=e.code, content_type=JSON, headers=headers)


def _decode_protobuf(raw: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body (kubectl's typed clients send them) as the dict its JSON form gives."""
    try:
        return protobuf.decode(raw)
    except protobuf.UnknownProtobufType:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                       "accepted media types include: application/json, application/yaml") from None
    except protobuf.ProtobufError as e:
        raise errors.bad_request(f"the object provided is unrecognized: {e}") from None


def _accepts(accept: str, marker: str) -> bool:
    return marker in accept.replace(" ", "")


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


_TRUE = frozenset(("1", "t", "T", "true", "TRUE", "True"))
_FALSE = frozenset(("0", "f", "F", "false", "FALSE", "False"))


def _qbool(v: str | None) -> bool | None:
    """A query boolean as Go's strconv.ParseBool reads it (the Python client sends "True")."""
    return True if v in _TRUE else (False if v in _FALSE else None)


def field_manager_from(request: web.Request) -> str | None:
    fm = request.query.get("fieldManager")
    if fm:
        return fm
    ua = request.headers.get("User-Agent", "")
    return ua.split("/", 1)[0] if ua else None


class ApiServer:
    def __init__(self, registry: Registry, tokens: dict[str, tuple[str, list[str]]],
                 ready_check: Any = None) -> None:
        self.registry = registry
        self.tokens = tokens
        self.ready_check = ready_check
        self.metrics: Counter = Counter()
        self.started = time.time()
        self.app = web.Application(client_max_size=MAX_BODY + 1024, middlewares=[self._middleware])
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.app.on_response_prepare.append(_deprecation_header)
        self._watch_tasks: set[asyncio.Task] = set()
        # Identity and access (apiserver.auth.FrontDoor.install sets these): authentication, limits,
        # authorization and audit around every request; handlers of the computed (never stored) kinds.
        self.front: Any = None
        self.virtual: dict[str, Any] = {}
        metrics_api.install(self)  # metrics.k8s.io (in place of metrics-server)
        componentstatus.install(self)  # v1 ComponentStatus, computed on request

    # ---- plumbing ----------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        front = self.front
        if front is None and path not in PUBLIC_PATHS:
            user = self._authenticate(request)
            if user is None:
                self.metrics[(request.method, "unauthorized", 401)] += 1
                return error_response(errors.unauthorized())
            request["user"] = user
        resp = None
        try:
            if front is not None:
                await front.admit(request)  # 401 / 429 / 403 as ApiError
            resp = await handler(request)
        except ApiError as e:
            resp = error_response(e)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never leak a traceback to clients; log it
            log.exception("internal error serving %s %s", request.method, request.path_qs)
            resp = error_response(errors.internal(str(e)))
        finally:
            if front is not None:
                front.done(request, resp)  # release the client's slot, audit
        self.metrics[(request.method, path.split("/")[1] if "/" in path else path, resp.status)] += 1
        return resp

    def _authenticate(self, request: web.Request) -> tuple[str, list[str]] | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:].strip())
        return None

    async def _body(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise errors.too_large()
        raw = await request.read()
        if len(raw) > MAX_BODY:
            raise errors.too_large()
        return raw

    def _decode(self, raw: bytes, content_type: str) -> Any:
        if not raw:
            raise errors.bad_request("request body must not be empty")
        if content_type == protobuf.CONTENT_TYPE:
            return _decode_protobuf(raw)
        if "yaml" in content_type:
            try:
                return safe_yaml(raw)
            except yaml.YAMLError as e:
                raise errors.bad_request(f"error converting YAML to JSON: {e}") from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            # kubectl sends JSON; accept YAML sent as JSON content-type only if it parses as YAML mapping.
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    def _request(self, request: web.Request) -> Request:
        q = request.query
        fv = q.get("fieldValidation") or "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation must be one of Ignore, Warn, Strict, got {fv}")
        dry = q.getall("dryRun", [])
        for d in dry:
            if d != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{d}": supported values: "All"')
        user = request.get("user", ("anonymous", []))
        return Request(dry_run=bool(dry), field_manager=field_manager_from(request), field_validation=fv,
                       force=_qbool(q.get("force")) is True, user=user[0],
                       user_info=user if self.front is not None else None)

    @staticmethod
    def _warn_headers(req: Request) -> dict[str, str] | None:
        if not req.warnings:
            return None
        # Control characters (from hostile field names) are escaped: a header may not carry them.
        return {"Warning": ", ".join('299 - "{}"'.format(
            "".join(c if " " <= c != "\x7f" else f"\\x{ord(c):02x}" for c in w.replace('"', '\\"')))
            for w in req.warnings)}

    # ---- dispatch ----------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        segs = [s for s in path.split("/") if s]
        if not segs:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz",
                                    "/version", "/metrics"] + sorted({f"/apis/{g}" for g in discovery.groups() if g})})
        head = segs[0]
        if head in ("healthz", "livez", "readyz"):
            return await self._health(head)
        if head == "version":
            return _json(VERSION_INFO)
        if head == "metrics":
            return self._metrics()
        if head == "openapi":
            return self._openapi(request, segs)
        if head == "api":
            if len(segs) == 1:
                return self._discovery(request, core=True)
            if len(segs) == 2:
                rl = discovery.resource_list("", segs[1])
                if rl is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return _json(rl)
            return await self._resource(request, "", segs[1], segs[2:])
        if head == "apis":
            if len(segs) == 1:
                return self._discovery(request, core=False)
            if len(segs) == 2:
                g = discovery.api_group(segs[1])
                if g is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return _json(g)
            if len(segs) == 3:
                rl = discovery.resource_list(segs[1], segs[2])
                if rl is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return _json(rl)
            return await self._resource(request, segs[1], segs[2], segs[3:])
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    async def _health(self, which: str) -> web.Response:
        if which == "readyz" and self.ready_check is not None and not self.ready_check():
            return web.Response(text="[-]ready failed\nreadyz check failed", status=500)
        return web.Response(text="ok", content_type="text/plain")

    def _metrics(self) -> web.Response:
        lines = ["# HELP apiserver_request_total Counter of apiserver requests.",
                 "# TYPE apiserver_request_total counter"]
        for (verb, res, code), n in sorted(self.metrics.items(), key=lambda x: str(x[0])):
            lines.append(f'apiserver_request_total{{verb="{verb}",resource="{res}",code="{code}"}} {n}')
        lines.append("# TYPE kubeling_storage_revision gauge")
        lines.append(f"kubeling_storage_revision {self.registry.store.revision}")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    def _discovery(self, request: web.Request, core: bool) -> web.Response:
        accept = request.headers.get("Accept", "")
        for ver, ct in (("v2", DISCO_V2), ("v2beta1", DISCO_V2BETA1)):
            if _accepts(accept, f"v={ver};as=APIGroupDiscoveryList") or (
                    "as=APIGroupDiscoveryList" in accept and f"v={ver}" in accept):
                return _json(discovery.aggregated(core, ver), content_type=ct,
                             headers={"Vary": "Accept"})
        return _json(discovery.api_versions() if core else discovery.api_group_list(), headers={"Vary": "Accept"})

    def _openapi(self, request: web.Request, segs: list[str]) -> web.Response:
        if len(segs) == 2 and segs[1] == "v2":
            # kubectl fetches /openapi/v2 (gnostic protobuf) only to validate a `kind: List` client-side. A
            # document without definitions makes it skip that and leave validation to the server
            # (each item is sent with fieldValidation=Strict).
            if "protobuf" in request.headers.get("Accept", ""):
                return web.Response(body=b"\x0a\x032.0", headers={
                    "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"})
            return _json({"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
                          "paths": {}, "definitions": {}})
        if len(segs) >= 2 and segs[1] == "v3":
            if len(segs) == 2:
                return web.Response(body=openapi.index(), content_type="text/plain", charset="utf-8")
            gv = openapi.lookup_path("/".join(segs[2:]))
            if gv is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            h = openapi.gv_hash(*gv)
            headers = {"Etag": f'"{h}"', "Vary": "Accept"}
            if request.query.get("hash") == h:
                headers["Cache-Control"] = "public, immutable"
                headers["Expires"] = "Fri, 01 Jan 2100 00:00:00 GMT"
            return web.Response(body=openapi.gv_document(*gv), content_type=JSON, headers=headers)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    # ---- resources ---------------------------------------------------------
    async def _resource(self, request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
        if request.method == "GET":
            wait_durable = getattr(self.registry.store, "wait_durable", None)
            if wait_durable is not None:
                await wait_durable()  # never serve a write that is not yet committed
        sync = getattr(self.registry.store, "sync", None)
        if sync is not None and "synced" not in request:
            # API servers sharing etcd: a read without resourceVersion sees every write acknowledged before it;
            # a write that failed on state this server had not caught up with yet is retried once fresh.
            request["synced"] = True
            if request.method == "GET":
                if not request.query.get("resourceVersion"):
                    await sync()
            elif rest[-1] == "eviction":
                await sync()  # it spends budget before it deletes: read fresh state first, never run it twice
            else:
                try:
                    return await self._resource(request, group, version, rest)
                except ApiError as e:
                    if e.code not in (404, 409):
                        raise
                await sync()
                return await self._resource(request, group, version, rest)
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns = rest[1]
            rest = rest[2:]
        plural = rest[0]
        rt = lookup(group, version, plural)
        if rt is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.custom is not None and rt.custom.warning:
            request["deprecation"] = rt.custom.warning  # a deprecated CRD version: added by _deprecation_header
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if pod_connect.is_connect(rt, sub, len(rest) - 3, (ns is not None) == rt.namespaced):
            return await pod_connect.serve(self, request, rt, ns, rest[1], sub)  # log, exec, proxy, ...
        if len(rest) > 3 or (sub is not None and sub not in rt.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rt.namespaced and ns is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = request.method
        virtual = self.virtual.get(rt.qualified if sub is None else f"{rt.qualified}/{sub}")
        if virtual is None and autoscaling_v1.is_v1_hpa(rt):  # served converted from the v2 storage version
            return await autoscaling_v1.serve(self, request, rt, ns, name, sub)
        if virtual is not None:  # computed kinds: TokenRequest, TokenReview, the access reviews
            return await virtual(request, rt, ns, name)
        if rt.plural == "bindings":
            if method != "POST" or ns is None:
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            body = self._decode(await self._body(request), request.content_type)
            md = body.get("metadata") if isinstance(body, dict) else None
            pod_name = md.get("name") if isinstance(md, dict) else None
            await self.registry.bind(ns, pod_name or "", body, self._request(request))
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         status=201)
        if name is None:
            if method == "GET":
                if _qbool(request.query.get("watch")):
                    return await self._watch(request, rt, ns)
                return await self._list(request, rt, ns)
            if method == "POST":
                return await self._create(request, rt, ns)
            if method == "DELETE":
                return await self._delete_collection(request, rt, ns)
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if sub == "scale":
            return await self._scale(request, rt, ns, name)
        if sub == "binding":
            if method != "POST":
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            body = self._decode(await self._body(request), request.content_type)
            await self.registry.bind(ns, name, body, self._request(request))
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         status=201)
        if sub == "eviction":
            if method != "POST":
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            body = self._decode(await self._body(request), request.content_type)
            st, code = await Evictor(self.registry).evict(ns or "", name, body, self._request(request))
            return _json(st, status=code)
        if method == "GET":
            kv = self.registry.get(rt, ns, name)
            if _wants_table(request):
                return _json(self._table(request, rt, [kv], str(kv.mod_rev), None))
            if sub in (None, "status", "approval"):
                return web.Response(body=kv.raw, content_type=JSON)
        if method == "PUT":
            return await self._update(request, rt, ns, name, sub)
        if method == "PATCH":
            return await self._patch(request, rt, ns, name, sub)
        if method == "DELETE" and sub is None:
            return await self._delete(request, rt, ns, name)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    def _respond_obj(self, obj: KV | dict, status: int, req: Request | None = None) -> web.Response:
        body = obj.raw if isinstance(obj, KV) else orjson.dumps(obj)
        return web.Response(body=body, status=status, content_type=JSON,
                            headers=self._warn_headers(req) if req else None)

    async def _create(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        req = self._request(request)
        body = self._decode(await self._body(request), request.content_type)
        res = await self.registry.create(rt, ns, body, req)
        return self._respond_obj(res, 201, req)

    async def _update(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                      sub: str | None) -> web.Response:
        req = self._request(request)
        body = self._decode(await self._body(request), request.content_type)
        existed = self.registry.store.get(rt.key(ns, name)) is not None
        res = await self.registry.update(rt, ns, name, body, req, subresource=sub)
        return self._respond_obj(res, 200 if existed else 201, req)

    async def _patch(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                     sub: str | None) -> web.Response:
        req = self._request(request)
        ct = request.headers.get("Content-Type", "").split(";")[0].strip()
        raw = await self._body(request)
        res, created = await self.registry.patch(rt, ns, name, ct, raw, req, subresource=sub)
        if ct == APPLY_PATCH and created:
            return self._respond_obj(res, 201, req)
        return self._respond_obj(res, 200, req)

    def _delete_options(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if raw and request.content_type == protobuf.CONTENT_TYPE:
            opts = _decode_protobuf(raw)
        elif raw:
            try:
                opts = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise errors.bad_request(f"error decoding DeleteOptions: {e}") from None
            if not isinstance(opts, dict):
                raise errors.bad_request("DeleteOptions must be an object")
        q = request.query
        if "gracePeriodSeconds" in q:
            try:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            except ValueError:
                raise errors.bad_request("gracePeriodSeconds must be an integer") from None
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "orphanDependents" in q:
            opts["orphanDependents"] = _qbool(q["orphanDependents"]) is True
        if opts.get("dryRun"):
            for d in opts["dryRun"]:
                if d != "All":
                    raise errors.bad_request(f'dryRun: Unsupported value: "{d}": supported values: "All"')
        return opts

    async def _delete(self, request: web.Request, rt: ResourceType, ns: str | None, name: str) -> web.Response:
        req = self._request(request)
        opts = self._delete_options(request, await self._body(request))
        if opts.get("dryRun"):
            req.dry_run = True
        res, deleted = await self.registry.delete(rt, ns, name, opts, req)
        if deleted and rt.qualified not in RETURN_DELETED_OBJECT and rt.custom is None:
            obj = res.obj if isinstance(res, KV) else res
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                          "details": {"name": name, "group": rt.group, "kind": rt.plural,
                                      "uid": obj["metadata"].get("uid")}})
        return self._respond_obj(res, 200, req)

    async def _delete_collection(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        req = self._request(request)
        opts = self._delete_options(request, await self._body(request))
        if opts.get("dryRun"):
            req.dry_run = True
        q = request.query
        items = await self.registry.delete_collection(rt, ns, opts, req, q.get("labelSelector"),
                                                      q.get("fieldSelector"))
        objs = [i.obj if isinstance(i, KV) else i for i in items]
        return _json({"kind": _list_kind(rt), "apiVersion": rt.group_version,
                      "metadata": {"resourceVersion": str(self.registry.store.revision)}, "items": objs})

    async def _scale(self, request: web.Request, rt: ResourceType, ns: str | None, name: str) -> web.Response:
        if request.method == "GET":
            return _json(self.registry.get_scale(rt, ns, name))
        req = self._request(request)
        raw = await self._body(request)
        if request.method == "PUT":
            return _json(await self.registry.update_scale(rt, ns, name, self._decode(raw, request.content_type), req))
        if request.method == "PATCH":
            ct = request.headers.get("Content-Type", "").split(";")[0].strip()
            res, _ = await self.registry.patch(rt, ns, name, ct, raw, req, subresource="scale")
            return _json(res)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    # ---- list / table ------------------------------------------------------
    async def _list(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        q = request.query
        limit = None
        if q.get("limit"):
            try:
                limit = int(q["limit"])
            except ValueError:
                raise errors.bad_request("limit must be an integer") from None
        items, rev, token, remaining = await self.registry.list_request(
            rt, ns, label_selector=q.get("labelSelector"), field_selector=q.get("fieldSelector"),
            limit=limit if limit and limit > 0 else None, continue_token=q.get("continue"),
            resource_version=q.get("resourceVersion"), resource_version_match=q.get("resourceVersionMatch"),
            send_initial_events=q.get("sendInitialEvents") or None)
        if _wants_table(request):
            return _json(self._table(request, rt, items, str(rev), token, remaining))
        md: dict[str, Any] = {"resourceVersion": str(rev)}
        if token:
            md["continue"] = token
            if remaining is not None:
                md["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": _list_kind(rt), "apiVersion": rt.group_version, "metadata": md})
        # Splice the stored bytes of each item into the list: no re-serialization per request.
        body = b"".join((head[:-1], b',"items":[', b",".join(kv.raw for kv in items), b"]}"))
        return web.Response(body=body, content_type=JSON)

    def _table(self, request: web.Request, rt: ResourceType, items: list[KV], rev: str, token: str | None,
               remaining: int | None = None, with_columns: bool = True) -> dict[str, Any]:
        now = time.time()
        include = request.query.get("includeObject", "Metadata")
        rows = []
        for kv in items:
            rows.append(self._row(rt, kv.obj, now, include))
        md: dict[str, Any] = {"resourceVersion": rev}
        if token:
            md["continue"] = token
            if remaining is not None:
                md["remainingItemCount"] = remaining
        t: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md}
        if with_columns:
            t["columnDefinitions"] = _column_definitions(rt)
        t["rows"] = rows
        return t

    @staticmethod
    def _row(rt: ResourceType, obj: dict[str, Any], now: float, include: str) -> dict[str, Any]:
        cells = (customresource.row_cells(rt, obj, now) if rt.custom is not None
                 else printers.row_cells(rt.qualified, obj, now))
        row: dict[str, Any] = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            md = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
        return row

    # ---- watch -------------------------------------------------------------
    async def _watch(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.StreamResponse:
        q = request.query
        table = _wants_table(request)
        bookmarks = _qbool(q.get("allowWatchBookmarks")) is True
        timeout = None
        if q.get("timeoutSeconds"):
            try:
                timeout = max(int(q["timeoutSeconds"]), 0)
            except ValueError:
                raise errors.bad_request("timeoutSeconds must be an integer") from None
        else:
            timeout = int(1800 * (1 + random.random()))
        sie = q.get("sendInitialEvents")
        send_initial = _qbool(sie)
        gen = self.registry.watch(rt, ns, resource_version=q.get("resourceVersion"),
                                  label_selector=q.get("labelSelector"), field_selector=q.get("fieldSelector"),
                                  send_initial_events=send_initial)
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        # An expired resourceVersion is reported inside the stream as an ERROR event, as upstream does.
        await resp.prepare(request)
        deadline = time.monotonic() + timeout
        cols_sent = False
        now = time.time
        kind_stub = {"kind": rt.kind, "apiVersion": rt.group_version}
        queue: asyncio.Queue = asyncio.Queue()

        async def pump() -> None:
            try:
                async for item in gen:
                    queue.put_nowait(item)
            except ApiError as e:
                queue.put_nowait(("ERROR", e))
            finally:
                queue.put_nowait(None)

        task = asyncio.get_running_loop().create_task(pump())
        try:
            bookmark_every = 60.0
            next_bookmark = time.monotonic() + bookmark_every
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(remaining, max(next_bookmark - time.monotonic(), 0.01)) if bookmarks else remaining
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    if bookmarks and time.monotonic() >= next_bookmark:
                        bm = {"type": "BOOKMARK", "object": {**kind_stub, "metadata": {
                            "resourceVersion": str(self.registry.store.revision)}}}
                        await resp.write(orjson.dumps(bm) + b"\n")
                        next_bookmark = time.monotonic() + bookmark_every
                    continue
                if item is None:
                    break
                typ, val = item
                if typ == "ERROR":
                    await resp.write(orjson.dumps({"type": "ERROR", "object": val.status()}) + b"\n")
                    break
                if typ == "BOOKMARK_INITIAL":
                    if bookmarks:
                        bm = {"type": "BOOKMARK", "object": {**kind_stub, "metadata": {
                            "resourceVersion": str(val.mod_rev),
                            "annotations": {"k8s.io/initial-events-end": "true"}}}}
                        await resp.write(orjson.dumps(bm) + b"\n")
                    continue
                kv: KV = val
                if table:
                    t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                         "metadata": {"resourceVersion": kv.obj["metadata"]["resourceVersion"]}}
                    if not cols_sent:
                        t["columnDefinitions"] = _column_definitions(rt)
                        cols_sent = True
                    t["rows"] = [self._row(rt, kv.obj, now(), q.get("includeObject", "Metadata"))]
                    line = orjson.dumps({"type": typ, "object": t})
                else:
                    line = b"".join((b'{"type":"', typ.encode(), b'","object":', kv.raw, b"}"))
                await resp.write(line + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            task.cancel()
            try:
                await gen.aclose()
            except Exception:
                pass
        try:
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        return resp


def _column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """Table columns: the kind's printer, or a custom resource's additionalPrinterColumns."""
    if rt.custom is not None:
        return customresource.column_definitions(rt)
    return printers.column_definitions(rt.qualified)


def ssl_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """TLS 1.2+; with client_ca, optional client certificates signed by it (apiserver.limits)."""
    from .limits import ssl_context as _ssl_context

    return _ssl_context(cert, key, client_ca)


async def _deprecation_header(request: web.Request, response: web.StreamResponse) -> None:
    """Every response of a deprecated custom resource version carries its Warning, as upstream's handler adds it."""
    w = request.get("deprecation")
    if w:
        response.headers.add("Warning", '299 - "{}"'.format(w.replace('"', '\\"')))


def _list_kind(rt: ResourceType) -> str:
    """A list's kind: `<Kind>List`, or for a custom resource its CRD's names.listKind."""
    if rt.custom is not None and rt.custom.list_kind:
        return rt.custom.list_kind
    return f"{rt.kind}List"

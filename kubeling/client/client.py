"""The one client every component uses, over an in-process transport or HTTPS.

Both transports have the same semantics and raise the same `ApiError`s. Objects handed
out by `get`/`create`/`update`/`patch` are private copies the caller may modify; objects
from `list`/`watch` (and informer caches) are shared and must be treated as read-only —
copy with `deepcopy()` before changing one.
"""
from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import orjson

from ..api.errors import ApiError
from ..api.registry import Registry, Request
from ..api.resources import ResourceType, by_qualified

T = TypeVar("T")


def deepcopy(obj: T) -> T:
    """A private copy of a JSON value (an object, or any part of one)."""
    return orjson.loads(orjson.dumps(obj))


def _rt(resource: str | ResourceType) -> ResourceType:
    return resource if isinstance(resource, ResourceType) else by_qualified(resource)


class Client:
    """Interface. `resource` is a qualified plural ("pods", "statefulsets.apps") or a ResourceType."""

    field_manager = "kubeling"

    async def get(self, resource: str | ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        raise NotImplementedError

    async def list(self, resource: str | ResourceType, namespace: str | None = None, *,
                   label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        raise NotImplementedError

    async def create(self, resource: str | ResourceType, namespace: str | None, obj: dict[str, Any]) -> dict:
        raise NotImplementedError

    async def update(self, resource: str | ResourceType, obj: dict[str, Any], subresource: str | None = None) -> dict:
        raise NotImplementedError

    async def update_status(self, resource: str | ResourceType, obj: dict[str, Any]) -> dict:
        return await self.update(resource, obj, "status")

    async def patch(self, resource: str | ResourceType, namespace: str | None, name: str, body: Any,
                    patch_type: str = "application/merge-patch+json", subresource: str | None = None) -> dict:
        raise NotImplementedError

    async def delete(self, resource: str | ResourceType, namespace: str | None, name: str,
                     options: dict[str, Any] | None = None) -> dict | None:
        raise NotImplementedError

    async def bind(self, namespace: str, name: str, node: str) -> None:
        raise NotImplementedError

    def watch(self, resource: str | ResourceType, namespace: str | None = None, *, resource_version: str,
              label_selector: str | None = None,
              field_selector: str | None = None) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class LocalClient(Client):
    """In-process transport: calls the registry directly, no HTTP, no client-side rate limit."""

    def __init__(self, registry: Registry, field_manager: str = "kubeling", user: str = "system:kubeling") -> None:
        self.registry = registry
        self.field_manager = field_manager
        self.user = user

    def _req(self) -> Request:
        return Request(field_manager=self.field_manager, user=self.user, field_validation="Ignore")

    async def get(self, resource, namespace, name):
        return self.registry.get(_rt(resource), namespace, name).copy()

    def get_shared(self, resource: str | ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        kv = self.registry.store.get(_rt(resource).key(namespace, name))
        return kv.obj if kv is not None else None

    async def list(self, resource, namespace=None, *, label_selector=None, field_selector=None):
        items, rev, _, _ = self.registry.list(_rt(resource), namespace, label_selector=label_selector,
                                              field_selector=field_selector)
        return [kv.obj for kv in items], str(rev)

    async def create(self, resource, namespace, obj):
        res = await self.registry.create(_rt(resource), namespace, obj, self._req())
        return _own(res)

    async def update(self, resource, obj, subresource=None):
        md = obj["metadata"]
        res = await self.registry.update(_rt(resource), md.get("namespace"), md["name"], obj, self._req(),
                                         subresource)
        return _own(res)

    async def patch(self, resource, namespace, name, body, patch_type="application/merge-patch+json",
                    subresource=None):
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        res, _ = await self.registry.patch(_rt(resource), namespace, name, patch_type, raw, self._req(), subresource)
        return _own(res)

    async def delete(self, resource, namespace, name, options=None):
        res, _ = await self.registry.delete(_rt(resource), namespace, name, options, self._req())
        return _own(res)

    async def bind(self, namespace, name, node):
        await self.registry.bind(namespace, name, {"apiVersion": "v1", "kind": "Binding",
                                                   "metadata": {"name": name, "namespace": namespace},
                                                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                                 self._req())

    async def watch(self, resource, namespace=None, *, resource_version, label_selector=None, field_selector=None):
        gen = self.registry.watch(_rt(resource), namespace, resource_version=resource_version,
                                  label_selector=label_selector, field_selector=field_selector)
        try:
            async for typ, kv in gen:
                yield typ, kv.obj
        finally:
            await gen.aclose()


def _own(res: Any) -> dict[str, Any]:
    if isinstance(res, dict):
        return res
    return res.copy()


class HttpClient(Client):
    """HTTPS transport for components running as separate processes.

    `server` may list several API servers, comma-separated: a request that cannot reach one
    (connection refused or dropped) is retried on the next, so components ride out the loss of
    an API server. A server that stays unreachable surfaces as a 503 ApiError after a few tries.
    """

    CONNECT_ATTEMPTS = 4
    REQUEST_TIMEOUT = 60.0

    def __init__(self, server: str, token: str | None = None, ca_file: str | None = None,
                 field_manager: str = "kubeling", cert: tuple[str, str] | None = None) -> None:
        self.servers = [s.strip().rstrip("/") for s in server.split(",") if s.strip()]
        self.server = self.servers[0]
        self.token = token
        self.field_manager = field_manager
        ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        if cert:
            ctx.load_cert_chain(*cert)
        self._ssl = ctx
        self._session = None

    async def _s(self):
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=64),
                headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
                json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    def _path(self, rt: ResourceType, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        root = f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1"
        p = root
        if rt.namespaced and namespace:
            p += f"/namespaces/{quote(namespace)}"
        p += f"/{rt.plural}"
        if name:
            p += f"/{quote(name)}"
        if sub:
            p += f"/{sub}"
        return p

    async def _do(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                  params: dict | None = None) -> Any:
        s = await self._s()
        q = dict(params or {})
        if method in ("POST", "PUT", "PATCH"):
            q.setdefault("fieldManager", self.field_manager)
        query = "?" + urlencode(q) if q else ""
        data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        import aiohttp

        for attempt in range(self.CONNECT_ATTEMPTS):
            try:
                async with s.request(method, self.server + path + query, data=data,
                                     headers={"Content-Type": content_type},
                                     timeout=aiohttp.ClientTimeout(total=self.REQUEST_TIMEOUT)) as r:
                    raw = await r.read()
                    status = r.status
                break
            except (TimeoutError, aiohttp.ClientConnectionError) as e:
                # A write is retried only if it never left (no connection): one that may have been applied
                # must not be repeated blindly (a generateName create would make a twin).
                sent = not isinstance(e, aiohttp.ClientConnectorError)
                await self._connection_failed(e, attempt, final=sent and method != "GET")
        out = orjson.loads(raw) if raw else None
        if status >= 400:
            st = out or {}
            d = st.get("details") or {}
            raise ApiError(status, st.get("reason", "Unknown"), st.get("message", ""), name=d.get("name"),
                           group=d.get("group"), kind=d.get("kind"), causes=d.get("causes"))
        return out

    async def _connection_failed(self, e: Exception, attempt: int, final: bool = False) -> None:
        """Move on to the next API server; give up (503) after the last attempt, or at once if final."""
        if len(self.servers) > 1:
            i = self.servers.index(self.server) if self.server in self.servers else 0
            self.server = self.servers[(i + 1) % len(self.servers)]
        if final or attempt + 1 >= self.CONNECT_ATTEMPTS:
            raise ApiError(503, "ServiceUnavailable", f"cannot reach the API server: {e or type(e).__name__}")
        await asyncio.sleep(0.05 * (2 ** attempt))

    async def get(self, resource, namespace, name):
        return await self._do("GET", self._path(_rt(resource), namespace, name))

    async def list(self, resource, namespace=None, *, label_selector=None, field_selector=None):
        params = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        out = await self._do("GET", self._path(_rt(resource), namespace), params=params)
        return out.get("items") or [], out["metadata"]["resourceVersion"]

    async def create(self, resource, namespace, obj):
        return await self._do("POST", self._path(_rt(resource), namespace), obj)

    async def update(self, resource, obj, subresource=None):
        md = obj["metadata"]
        return await self._do("PUT", self._path(_rt(resource), md.get("namespace"), md["name"], subresource), obj)

    async def patch(self, resource, namespace, name, body, patch_type="application/merge-patch+json",
                    subresource=None):
        return await self._do("PATCH", self._path(_rt(resource), namespace, name, subresource), body, patch_type)

    async def delete(self, resource, namespace, name, options=None):
        return await self._do("DELETE", self._path(_rt(resource), namespace, name), options or {})

    async def bind(self, namespace, name, node):
        rt = by_qualified("pods")
        await self._do("POST", self._path(rt, namespace, name, "binding"),
                       {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    async def watch(self, resource, namespace=None, *, resource_version, label_selector=None, field_selector=None):
        rt = _rt(resource)
        params = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true"}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        s = await self._s()
        import aiohttp

        query = self._path(rt, namespace) + "?" + urlencode(params)
        for attempt in range(self.CONNECT_ATTEMPTS):
            try:
                r = await s.get(self.server + query, timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
                break
            except (TimeoutError, aiohttp.ClientConnectionError) as e:
                await self._connection_failed(e, attempt)
        async with r:
            if r.status >= 400:
                st = orjson.loads(await r.read())
                raise ApiError(r.status, st.get("reason", ""), st.get("message", ""))
            buf = b""
            chunks = r.content.iter_any()
            while True:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                    return  # the server went away: the stream just ends, the caller watches again
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = orjson.loads(line)
                    if ev["type"] == "ERROR":
                        st = ev["object"]
                        raise ApiError(st.get("code", 500), st.get("reason", ""), st.get("message", ""))
                    if ev["type"] == "BOOKMARK":
                        continue
                    yield ev["type"], ev["object"]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def retry_on_conflict(fn, attempts: int = 5) -> Any:
    """Run fn() again when it fails with a 409 Conflict (upstream retry.RetryOnConflict)."""
    for i in range(attempts):
        try:
            return await fn()
        except ApiError as e:
            if e.code != 409 or e.reason != "Conflict" or i == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (i + 1))

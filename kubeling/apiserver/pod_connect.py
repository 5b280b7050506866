"""HTTP side of the kubelet-backed subresources: pods/log, exec, attach, portforward, proxy; nodes/proxy; services/proxy.

Upstream's apiserver validates the request, then connects to the node's kubelet (or the pod) and relays.
kubeling validates exactly as upstream (kubeling.api.pod_subresources); a simulated container writes no
output, so pods/log answers an empty text/plain body (and with follow=true stays open while the container
runs). Nothing is ever dialled for the others: a simulated node has no kubelet server and a simulated pod
IP no listener, so they answer the Status error upstream gives when its backend cannot be reached, and say
why. Both the WebSocket and the SPDY upgrade get that answer before any upgrade, so clients stop at once.
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..api import errors
from ..api import pod_subresources as ps
from ..api.resources import ResourceType, lookup
from .auth import forbidden

_NODES = lookup("", "v1", "nodes")
_ENDPOINTS = lookup("", "v1", "endpoints")
_FOLLOW_CHECK_SECONDS = 2.0


def is_connect(rt: ResourceType, sub: str | None, extra: int, namespaced_ok: bool) -> bool:
    """Whether a path names one of these subresources (proxy may carry a trailing path)."""
    return (sub is not None and not rt.group and namespaced_ok and sub in ps.subresources_of(rt.plural)
            and (extra == 0 or sub == "proxy"))


def _is_upgrade(request: web.Request) -> bool:
    """httpstream.IsUpgradeRequest: a Connection header listing "upgrade"."""
    return any(t.strip().lower() == "upgrade"
               for v in request.headers.getall("Connection", []) for t in v.split(","))


def _is_websocket(request: web.Request) -> bool:
    return _is_upgrade(request) and request.headers.get("Upgrade", "").lower() == "websocket"


async def serve(server: Any, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                sub: str) -> web.StreamResponse:
    """Answer one connect request; raises ApiError for every failure (the middleware renders it)."""
    if request.method not in ps.METHODS[sub]:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    if sub in ps.UPGRADE_ONLY and request.method == "GET" and _is_websocket(request):
        _authorize_create(server, request)
    registry = server.registry
    if rt.plural == "nodes":
        return _node_proxy(registry, name)
    if rt.plural == "services":
        return _service_proxy(registry, rt, ns, name)
    if sub == "proxy":
        parsed = ps.split_scheme_name_port(name)
        if parsed is None:
            raise errors.bad_request(f'invalid pod request "{name}"')
        pod = registry.get(rt, ns, parsed[1]).obj
        target = ps.pod_proxy_target(pod, parsed[2])
        node = (pod.get("spec") or {}).get("nodeName") or ""
        raise ps.simulated_backend(f'pod "{parsed[1]}" on node "{node}"', target)
    if sub == "log":
        return await _log(server, request, rt, ns, name)
    pod = registry.get(rt, ns, name).obj
    if sub != "portforward":
        ps.choose_container(pod, request.query.get("container") or "")
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    host, port = ps.kubelet_endpoint(registry.get(_NODES, None, node_name).obj)
    if not _is_upgrade(request):
        raise errors.bad_request("Upgrade request required")
    raise ps.simulated_kubelet(node_name, host, port)


def _authorize_create(server: Any, request: web.Request) -> None:
    """AuthorizePodWebsocketUpgradeCreatePermission (beta, on in v1.32): a WebSocket GET to exec, attach or
    portforward also needs the create verb, as the SPDY POST does."""
    front = server.front
    st = request.get("_front")
    if front is None or st is None or st.attrs is None:
        return
    attrs = st.attrs._replace(verb="create")
    allowed, reason = front.authz.authorize(st.effective, attrs)
    if not allowed:
        raise forbidden(st.effective, attrs, reason)


def _node_proxy(registry: Any, name: str) -> web.StreamResponse:
    parsed = ps.split_scheme_name_port(name)
    if parsed is None:
        raise errors.bad_request(f'invalid node request "{name}"')
    _, node_name, port = parsed
    host, kport = ps.kubelet_endpoint(registry.get(_NODES, None, node_name).obj)
    raise ps.simulated_backend(f'the kubelet of node "{node_name}"', f"{host}:{port or kport}")


def _service_proxy(registry: Any, rt: ResourceType, ns: str | None, name: str) -> web.StreamResponse:
    parsed = ps.split_scheme_name_port(name)
    if parsed is None:
        raise errors.bad_request(f'invalid service request "{name}"')
    _, svc_name, port = parsed
    svc = registry.get(rt, ns, svc_name).obj if ps.is_port_number(port) else None
    port_name = ps.service_port_name(svc, svc_name, port)
    eps = registry.get(_ENDPOINTS, ns, svc_name).obj
    target = ps.service_proxy_target(eps, name, svc_name, port_name)
    raise ps.simulated_backend(f'an endpoint of service "{svc_name}"', target)


async def _log(server: Any, request: web.Request, rt: ResourceType, ns: str | None, name: str) -> web.StreamResponse:
    opts = ps.parse_log_options(request.query, name)
    registry = server.registry
    kv = registry.get(rt, ns, name)
    pod = kv.obj
    container = ps.choose_container(pod, opts.container)
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        return web.Response(body=b"", content_type="text/plain")  # upstream: no location, an empty stream
    registry.get(_NODES, None, node_name)  # the kubelet's connection info: 404 for a missing node
    ps.check_log_status(pod, container, opts.previous)
    # A simulated container writes nothing to stdout/stderr, so its log (and its previous run's) is empty.
    cid = ps.running_container_id(pod, container)
    if not opts.follow or opts.previous or cid is None:
        return web.Response(body=b"", content_type="text/plain")
    return await _follow(server, request, rt, ns, name, container, cid, kv.mod_rev)


async def _follow(server: Any, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                  container: str, cid: str, rev: int) -> web.StreamResponse:
    """Hold the (empty) log open until the container run ends, the pod goes, or the client leaves."""
    _release_slot(server, request)  # long-running, as upstream's max-in-flight exemption for follow
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain", "Cache-Control": "no-cache"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    gen = server.registry.watch(rt, ns, resource_version=str(rev), field_selector=f"metadata.name={name}")

    async def until_ended() -> None:
        async for typ, kv in gen:
            if typ == "DELETED" or ps.log_stream_ended(kv.obj, container, cid):
                return

    task = asyncio.get_running_loop().create_task(until_ended())
    try:
        while not task.done():
            transport = request.transport
            if transport is None or transport.is_closing():  # the client went away
                break
            await asyncio.wait({task}, timeout=_FOLLOW_CHECK_SECONDS)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # an expired watch (410) just ends the stream
        await gen.aclose()
    try:
        await resp.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
    return resp


def _release_slot(server: Any, request: web.Request) -> None:
    front = server.front
    st = request.get("_front")
    if front is not None and st is not None and st.slot is not None and front.limiter is not None:
        front.limiter.release(st.slot)
        st.slot = None

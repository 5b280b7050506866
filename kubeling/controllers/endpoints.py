"""Endpoints controller, as upstream's pkg/controller/endpoint.

Keeps one core/v1 Endpoints object per Service with a selector (same name), listing the matching pods as
ready `addresses` or `notReadyAddresses` (all ready with publishNotReadyAddresses), per port after resolving
named targetPorts for each pod, packed into subsets the way upstream's RepackSubsets does, with hostname,
nodeName and targetRef, the Service's labels (+ service.kubernetes.io/headless), the
endpoints.kubernetes.io/last-change-trigger-time annotation and truncation at 1000 addresses
(endpoints.kubernetes.io/over-capacity: truncated). Services without a selector and ExternalName Services
are left alone; Endpoints of a deleted Service are deleted. Endpoints left behind while the controller was
down are found at start (checkLeftoverEndpoints).
"""
from __future__ import annotations

import logging
import math
from typing import Any

import orjson

from ..api.errors import ApiError
from ..client.informer import Controller, split_key
from . import register_controller
from .endpointslice import (
    ANN_TRIGGER_TIME,
    LABEL_HEADLESS,
    TriggerTimeTracker,
    find_port,
    format_rfc3339nano,
    is_namespace_terminating,
    is_pod_ready,
    is_service_ip_set,
    pod_ips,
    pods_for_service,
    service_selector,
    should_pod_be_in_endpoints,
    should_set_hostname,
    watch_services_and_pods,
)

log = logging.getLogger(__name__)

MAX_CAPACITY = 1000
ANN_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"

Obj = dict[str, Any]


def pod_to_endpoint_address(svc: Obj, pod: Obj) -> Obj | None:
    """The address of the pod in the Service's IP family (None when the pod has no such IP)."""
    spec = svc.get("spec") or {}
    fams = spec.get("ipFamilies") or []
    if fams:
        want6 = fams[0] == "IPv6"
    else:
        cip = spec.get("clusterIP")
        if cip and cip != "None":
            want6 = ":" in cip
        else:
            want6 = ":" in ((pod.get("status") or {}).get("podIP") or "")
    ip = next((i for i in pod_ips(pod) if (":" in i) == want6), None)
    if ip is None:
        return None
    md = pod["metadata"]
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, svc):
        addr["hostname"] = pod["spec"]["hostname"]
    addr["nodeName"] = (pod.get("spec") or {}).get("nodeName") or ""
    addr["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace", ""), "name": md["name"],
                         "uid": md.get("uid", "")}
    return addr


def endpoint_port(svc_port: Obj, num: int) -> Obj:
    p: Obj = {"port": num, "protocol": svc_port.get("protocol") or "TCP"}
    if svc_port.get("name"):
        p = {"name": svc_port["name"], **p}
    if svc_port.get("appProtocol"):
        p["appProtocol"] = svc_port["appProtocol"]
    return p


def _addr_key(a: Obj) -> tuple[str, str]:
    return a["ip"], (a.get("targetRef") or {}).get("uid", "")


def _port_tuple(p: Obj) -> tuple:
    return (p.get("name") or "", p.get("port"), p.get("protocol") or "", p.get("appProtocol") or "")


def _hash_key(v: Any) -> bytes:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS)


def repack_subsets(entries: list[tuple[Obj, Obj | None, bool]]) -> list[Obj]:
    """Upstream RepackSubsets: one (address, port, ready) triple per entry → canonical subsets where every
    subset holds the addresses sharing exactly the same set of ports. Not-ready wins over ready."""
    all_addrs: dict[tuple[str, str], Obj] = {}
    port_to_addrs: dict[tuple, tuple[Obj | None, dict[tuple[str, str], bool]]] = {}
    for addr, port, ready in entries:
        ak = _addr_key(addr)
        all_addrs.setdefault(ak, addr)
        pk = _port_tuple(port) if port is not None else ("", -1, "", "")
        slot = port_to_addrs.get(pk)
        if slot is None:
            slot = port_to_addrs[pk] = (port, {})
        was = slot[1].get(ak)
        if was is None or was:
            slot[1][ak] = ready
    groups: dict[tuple, tuple[dict[tuple[str, str], bool], list[Obj | None]]] = {}
    for _pk, (port, amap) in port_to_addrs.items():
        gk = tuple(sorted(amap.items()))
        g = groups.get(gk)
        if g is None:
            g = groups[gk] = (amap, [])
        g[1].append(port)
    subsets: list[Obj] = []
    for amap, ports in groups.values():
        ready = sorted((all_addrs[k] for k, r in amap.items() if r), key=_addr_key)
        not_ready = sorted((all_addrs[k] for k, r in amap.items() if not r), key=_addr_key)
        real_ports = [p for p in ports if p is not None]
        ss: Obj = {}
        if ready:
            ss["addresses"] = ready
        if not_ready:
            ss["notReadyAddresses"] = not_ready
        if real_ports:
            ss["ports"] = sorted(real_ports, key=_hash_key)
        subsets.append(ss)
    subsets.sort(key=_hash_key)
    return subsets


def _norm(v: Any) -> Any:
    """Semantic form for comparisons: empty values dropped, targetRef.resourceVersion ignored."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "resourceVersion":
                continue
            n = _norm(x)
            if n in (None, "", [], {}):
                continue
            out[k] = n
        return out
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def subsets_equal(a: list[Obj] | None, b: list[Obj] | None) -> bool:
    """Semantic equality. Objects this controller wrote compare equal as they are; the slower normalised
    comparison is only worth it for small objects (a big one that differs only in form is rewritten once)."""
    if (a or []) == (b or []):
        return True
    if sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in a or ()) > 100:
        return False
    return _norm(a or []) == _norm(b or [])


def capacity_annotation_ok(annotations: dict[str, str] | None, subsets: list[Obj] | None) -> bool:
    n = sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets or ())
    if n > MAX_CAPACITY:
        return False
    return ANN_OVER_CAPACITY not in (annotations or {})


def truncate_endpoints(ep: Obj) -> bool:
    """Keep at most 1000 addresses, ready ones first, spread over subsets in proportion (upstream)."""
    subsets = ep.get("subsets") or []
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_add = limit
    for s in subsets:
        n = len(s.get("addresses") or ()) if truncate_ready else len(s.get("notReadyAddresses") or ())
        to_add = min(int(math.ceil(n / num_total * limit)), can_add)
        if truncate_ready:
            s["addresses"] = (s.get("addresses") or [])[:to_add]
            s.pop("notReadyAddresses", None)
            can_add -= len(s["addresses"])
        else:
            s["notReadyAddresses"] = (s.get("notReadyAddresses") or [])[:to_add]
            can_add -= len(s["notReadyAddresses"])
    return True


class EndpointsController(Controller):
    """Pod-triggered syncs wait `batch_period` (upstream's --endpoint-updates-batch-period, 0 by default there):
    rewriting a 1,000-address Endpoints object for every pod change is the most expensive write in a rollout,
    and the wait lets the EndpointSlice controller, which DNS reads, go first."""

    name = "endpoint"
    workers = 5
    batch_period = 0.2

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        self.recorder = ctx.recorder("endpoint-controller")
        f = ctx.informers
        self.services = f.informer("services")
        self.pods = f.informer("pods")
        self.endpoints = f.informer("endpoints")
        self.triggers = TriggerTimeTracker()
        # resourceVersions we already replaced: a cache still showing one is stale (upstream staleEndpointsTracker).
        self._stale: dict[str, str] = {}
        watch_services_and_pods(self.services, self.pods, self.queue, pod_delay=self.batch_period)
        self.endpoints.add_handlers(None, None, self.enqueue)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            try:
                await self.client.delete("endpoints", ns, name)
            except ApiError as e:
                if e.code != 404:
                    raise
            self.triggers.delete(key)
            self._stale.pop(key, None)
            return
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or service_selector(svc) is None:
            return
        pods = pods_for_service(self.pods, svc)
        trigger = self.triggers.compute(key, svc, pods)
        publish = bool(spec.get("publishNotReadyAddresses"))
        entries: list[tuple[Obj, Obj | None, bool]] = []
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, publish):
                continue
            addr = pod_to_endpoint_address(svc, pod)
            if addr is None:
                continue
            ready = publish or is_pod_ready(pod)
            ports = spec.get("ports") or []
            if not ports:
                if spec.get("clusterIP") == "None":
                    entries.append((addr, None, ready))
                continue
            for sp in ports:
                num = find_port(pod, sp)
                if num is None:
                    continue
                entries.append((addr, endpoint_port(sp, num), ready))
        subsets = repack_subsets(entries)

        current = self.endpoints.get(key)
        if current is not None and self._stale.get(key) == current["metadata"].get("resourceVersion"):
            raise ApiError(409, "Conflict", f"endpoints informer cache is out of date, resource version "
                           f"{current['metadata'].get('resourceVersion')} already processed for endpoints {key}")
        svc_labels = svc["metadata"].get("labels") or {}
        if current is not None:
            cur_labels = {k: v for k, v in (current["metadata"].get("labels") or {}).items() if k != LABEL_HEADLESS}
            if (subsets_equal(current.get("subsets"), subsets) and cur_labels == svc_labels
                    and capacity_annotation_ok(current["metadata"].get("annotations"), current.get("subsets"))):
                return
            new: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                        "metadata": {k: v for k, v in current["metadata"].items() if k != "managedFields"}}
            new["metadata"]["annotations"] = dict(current["metadata"].get("annotations") or {})
        else:
            new = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "annotations": {}}}
        md = new["metadata"]
        labels = dict(svc_labels)
        if is_service_ip_set(svc):
            labels.pop(LABEL_HEADLESS, None)
        else:
            labels[LABEL_HEADLESS] = ""
        md["labels"] = labels
        if subsets:
            new["subsets"] = subsets
        ann = md["annotations"]
        if trigger:
            ann[ANN_TRIGGER_TIME] = format_rfc3339nano(trigger)
        else:
            ann.pop(ANN_TRIGGER_TIME, None)
        if truncate_endpoints(new):
            ann[ANN_OVER_CAPACITY] = "truncated"
        else:
            ann.pop(ANN_OVER_CAPACITY, None)
        if not ann:
            md.pop("annotations")
        if not labels:
            md.pop("labels")
        try:
            if current is None:
                await self.client.create("endpoints", ns, new)
            else:
                updated = await self.client.update("endpoints", new)
                if updated["metadata"].get("resourceVersion") != current["metadata"].get("resourceVersion"):
                    self._stale[key] = current["metadata"].get("resourceVersion", "")
        except ApiError as e:
            if current is None and is_namespace_terminating(e):
                return
            if e.code != 409:
                if current is None:
                    self.recorder.event(new, "Warning", "FailedToCreateEndpoint",
                                        f"Failed to create endpoint for service {ns}/{name}: {e.message}")
                else:
                    self.recorder.event(new, "Warning", "FailedToUpdateEndpoint",
                                        f"Failed to update endpoint {ns}/{name}: {e.message}")
            raise

    def _check_leftover_endpoints(self) -> None:
        """checkLeftoverEndpoints: Endpoints whose Service went away while we were not running."""
        for ep in self.endpoints.list():
            if LEADER_ANNOTATION in (ep["metadata"].get("annotations") or {}):
                continue
            self.enqueue(ep)

    def start(self) -> None:
        self.start_when_synced(self.services, self.pods, self.endpoints, then=self._check_leftover_endpoints)


start = register_controller("endpoint", EndpointsController, start="start")

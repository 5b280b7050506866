"""ClusterIP and NodePort allocation for Services, as the upstream service REST storage does it.

The allocated set is derived from the stored Services on every allocation, so nothing extra is
persisted, an IP is never handed out twice while a Service holds it (across restarts too), and
it is free again as soon as its Service is gone.
"""
from __future__ import annotations

import ipaddress
import random
from typing import Any

from . import errors
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_RANGE = (30000, 32767)
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"


class ServiceAllocator:
    def __init__(self, registry: Registry, cidr: ipaddress.IPv4Network = SERVICE_CIDR) -> None:
        self.registry = registry
        self.cidr = cidr
        self._first = int(cidr.network_address) + 1
        self._last = int(cidr.broadcast_address) - 1

    def _services(self) -> list[dict[str, Any]]:
        items, _ = self.registry.store.list(by_qualified("services").key_prefix(None))
        return [kv.obj for kv in items]

    def _used(self, skip_uid: str | None = None) -> tuple[set[str], set[int]]:
        ips: set[str] = set()
        ports: set[int] = set()
        for s in self._services():
            if skip_uid and s["metadata"].get("uid") == skip_uid:
                continue
            spec = s.get("spec") or {}
            for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
                ips.add(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    ports.add(int(p["nodePort"]))
        return ips, ports

    def _pick_ip(self, used: set[str]) -> str:
        # Upstream's bitmap allocator (KEP-3070): dynamic allocations come from the range above a small
        # band at the bottom kept for static IPs (min(max(16, size/16), 256) addresses), at random; the
        # bottom band is used only once the rest is full.
        size = self._last - self._first + 1
        offset = _range_offset(size, 16, 256, 16)
        for lo, n in ((self._first + offset, size - offset), (self._first, offset)):
            if n <= 0:
                continue
            for _ in range(min(n, 64)):
                ip = str(ipaddress.ip_address(lo + random.randrange(n)))
                if ip not in used:
                    return ip
            start = random.randrange(n)
            for i in range(n):
                ip = str(ipaddress.ip_address(lo + (start + i) % n))
                if ip not in used:
                    return ip
        raise errors.ApiError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: "
                              "range is full")

    def admit(self, op: str, rt: ResourceType, new: dict | None, old: dict | None, req: Request) -> None:
        if rt.qualified != "services" or new is None:
            return
        spec = new.setdefault("spec", {})
        name = new["metadata"].get("name", "")
        stype = spec.get("type") or "ClusterIP"
        if op == "UPDATE" and old is not None:
            ospec = old.get("spec") or {}
            # clusterIP is immutable; keep the allocated one when the update omits it.
            if not spec.get("clusterIP") and ospec.get("clusterIP"):
                spec["clusterIP"] = ospec["clusterIP"]
                spec["clusterIPs"] = ospec.get("clusterIPs") or [ospec["clusterIP"]]
            self._node_ports(new, stype, old)
            return
        if op != "CREATE":
            return
        if stype == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        used_ips, _ = self._used()
        want = spec.get("clusterIP") or ((spec.get("clusterIPs") or [None])[0])
        if want == "None":
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
        else:
            if want:
                try:
                    addr = ipaddress.ip_address(want)
                except ValueError:
                    raise errors.invalid("Service", "", name, [errors.invalid_value(
                        "spec.clusterIPs[0]", want, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]) \
                        from None
                if addr not in self.cidr or int(addr) in (int(self.cidr.network_address),
                                                          int(self.cidr.broadcast_address)):
                    raise errors.invalid("Service", "", name, [{
                        "type": "FieldValueInvalid", "field": "spec.clusterIPs",
                        "message": f'Invalid value: []string{{"{want}"}}: failed to allocate IP {want}: the provided '
                                   f"IP ({want}) is not in the valid range. The range of valid IPs is {self.cidr}"}])
                if want in used_ips:
                    raise errors.invalid("Service", "", name, [{
                        "type": "FieldValueInvalid", "field": "spec.clusterIPs",
                        "message": f'Invalid value: []string{{"{want}"}}: failed to allocate IP {want}: provided IP '
                                   "is already allocated"}])
                ip = want
            else:
                ip = self._pick_ip(used_ips)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        self._node_ports(new, stype, None)

    def _node_ports(self, new: dict[str, Any], stype: str, old: dict | None) -> None:
        spec = new["spec"]
        if stype not in ("NodePort", "LoadBalancer"):
            if old is not None:
                for p in spec.get("ports") or []:
                    p.pop("nodePort", None)
            return
        _, used = self._used(skip_uid=new["metadata"].get("uid"))
        old_ports = {}
        if old is not None:
            for p in (old.get("spec") or {}).get("ports") or []:
                if p.get("nodePort"):
                    old_ports[(p.get("port"), p.get("protocol", "TCP"))] = p["nodePort"]
        lo, hi = NODE_PORT_RANGE
        for i, p in enumerate(spec.get("ports") or []):
            np = p.get("nodePort")
            if np:
                if not lo <= int(np) <= hi:
                    raise errors.invalid("Service", "", new["metadata"].get("name", ""), [errors.invalid_value(
                        f"spec.ports[{i}].nodePort", np, f"provided port is not in the valid range. The range of "
                        f"valid ports is {lo}-{hi}")])
                if int(np) in used and old_ports.get((p.get("port"), p.get("protocol", "TCP"))) != np:
                    raise errors.invalid("Service", "", new["metadata"].get("name", ""), [errors.invalid_value(
                        f"spec.ports[{i}].nodePort", np, "provided port is already allocated")])
                used.add(int(np))
                continue
            keep = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
            if keep:
                p["nodePort"] = keep
                continue
            cand = _pick_port(lo, hi, used)
            if cand is None:
                raise errors.ApiError(500, "InternalError", "Internal error occurred: failed to allocate a "
                                      "nodePort: range is full")
            p["nodePort"] = cand
            used.add(cand)


def _range_offset(size: int, lo: int, hi: int, step: int) -> int:
    """Size of the bottom band upstream keeps for static allocations: min(max(lo, size/step), hi)."""
    if size < lo:
        return 0
    return max(lo, min(hi, size // step))


def _pick_port(lo: int, hi: int, used: set[int]) -> int | None:
    """A free node port, from above the static band first (KEP-3668: min(max(16, size/32), 128) ports)."""
    size = hi - lo + 1
    offset = _range_offset(size, 16, 128, 32)
    for base, n in ((lo + offset, size - offset), (lo, offset)):
        if n <= 0:
            continue
        start = random.randint(0, n - 1)
        for i in range(n):
            cand = base + (start + i) % n
            if cand not in used:
                return cand
    return None


def install(registry: Registry) -> ServiceAllocator:
    alloc = ServiceAllocator(registry)
    registry.admission.append(alloc.admit)
    return alloc


async def bootstrap_services(registry: Registry, api_port: int) -> None:
    """The `kubernetes` Service in default and `kube-dns` in kube-system, as a kubeadm cluster has them."""
    svc = by_qualified("services")
    req = Request(field_manager="kube-apiserver")
    wanted = [
        ("default", {"metadata": {"name": "kubernetes", "namespace": "default",
                                  "labels": {"component": "apiserver", "provider": "kubernetes"}},
                     "spec": {"clusterIP": KUBERNETES_SERVICE_IP, "type": "ClusterIP", "sessionAffinity": "None",
                              "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                         "targetPort": api_port}]}}),
        ("kube-system", {"metadata": {"name": "kube-dns", "namespace": "kube-system",
                                      "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                                 "kubernetes.io/name": "CoreDNS"},
                                      "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
                         "spec": {"clusterIP": DNS_SERVICE_IP, "selector": {"k8s-app": "kube-dns"},
                                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                                            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                                            {"name": "metrics", "port": 9153, "protocol": "TCP",
                                             "targetPort": 9153}]}}),
    ]
    for ns, obj in wanted:
        if registry.store.get(svc.key(ns, obj["metadata"]["name"])) is None:
            try:
                await registry.create(svc, ns, obj, req)
            except errors.ApiError as e:
                if e.code != 409:
                    raise

"""The cluster DNS record index: Services, EndpointSlices and Namespaces → DNS answers.

Pure (no I/O): the server feeds informer events into `RecordIndex.set_*`/`delete_*` and asks `resolve(qname,
qtype)`. Answers follow the Kubernetes DNS-based service discovery specification (kubernetes/dns
docs/specification.md, schema 1.1.0) exactly as CoreDNS's `kubernetes` plugin serves it with the Corefile every
kubeadm/kind cluster ships (`kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure; fallthrough
in-addr.arpa ip6.arpa; ttl 30 }`):

- `<svc>.<ns>.svc.<zone>` A: the cluster IP; for a headless Service every ready endpoint address.
- `<host>.<svc>.<ns>.svc.<zone>`: endpoints by hostname (pods with hostname+subdomain) or by dashed IP.
- `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV (also without the port/proto labels: every port), target
  `<svc>.<ns>.svc.<zone>` or, headless, `<host>.<svc>.<ns>.svc.<zone>`, with the address in the additional section.
- `<a-b-c-d>.<ns>.pod.<zone>` A for any IP in an existing namespace ("pods insecure").
- PTR for cluster IPs (→ the Service name) and ready endpoint IPs (→ `<host>.<svc>.<ns>.svc.<zone>`).
- ExternalName Services answer a CNAME; `dns-version.<zone>` TXT "1.1.0"; SOA and NS (`ns.dns.<zone>`) at the apex.
- NXDOMAIN for names that do not exist (unknown namespace, Service, endpoint, port; a headless Service with no
  ready endpoint), NOERROR with no answer and the SOA in the authority section when the name exists but has no
  record of the asked type (AAAA on this IPv4 cluster).

Everything is indexed incrementally as objects change; a query never scans all objects. Per-Service endpoint
views are memoised and dropped when one of that Service's slices changes. `version` changes with every
mutation so callers can cache rendered responses.
"""
from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RR, SOA, SRV, TXT, A

DEFAULT_ZONE = "cluster.local."
REVERSE_ZONES = ("in-addr.arpa.", "ip6.arpa.")
DEFAULT_TTL = 30  # kubeadm's Corefile sets `ttl 30` (the plugin's built-in default is 5)
DNS_SCHEMA_VERSION = "1.1.0"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5

Obj = dict[str, Any]
SvcKey = tuple[str, str]
Port = tuple[str, int, str]  # name (lowercase), number (-1: no ports), protocol (lowercase)
NO_PORTS: tuple[Port, ...] = (("", -1, ""),)


class _NameError(Exception):
    """CoreDNS errNoItems / errNsNotExposed / errInvalidRequest: the name does not exist."""


@dataclass(slots=True)
class Entry:
    """One backend result (CoreDNS msg.Service): an address or a CNAME target, a port, and the owner domain
    used for SRV targets."""

    host: str
    port: int = 0
    domain: str = ""
    ttl: int = DEFAULT_TTL
    text: str | None = None
    kind: str = ""  # "A", "AAAA", "CNAME" or "TXT"; derived from host when not given

    def host_kind(self) -> str:
        if not self.kind:
            self.kind = "TXT" if self.text is not None else host_kind(self.host)
        return self.kind


def host_kind(host: str) -> str:
    """What a backend host is: an IPv4 or IPv6 address, or a name to CNAME to."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "CNAME"
    return "A" if ip.version == 4 else "AAAA"


def _ip_kind(ip: str) -> str:
    """Kind of an address already known to be an IP (from the API): no parsing on the query path."""
    return "AAAA" if ":" in ip else "A"


@dataclass(slots=True)
class Result:
    """What to answer: rcode, sections, and whether the name belongs to someone else (`forward`)."""

    rcode: int = NOERROR
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    authoritative: bool = False
    forward: bool = False
    # (index in answer of a CNAME, its target, qtype): the target lies outside the cluster and needs the upstream.
    external: list[tuple[int, str, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Service:
    namespace: str
    name: str
    type: str
    cluster_ips: tuple[str, ...]
    external_ips: tuple[str, ...]
    ports: tuple[Port, ...]
    external_name: str

    @property
    def headless(self) -> bool:
        return bool(self.cluster_ips) and self.cluster_ips[0] == "None"


@dataclass(slots=True)
class _Slice:
    service: SvcKey | None
    ports: tuple[Port, ...]
    addrs: tuple[tuple[str, str], ...]  # (ip, endpoint hostname) of ready endpoints


@dataclass(slots=True)
class _View:
    entries: list[tuple[str, str, tuple[Port, ...]]]
    by_host: dict[str, list[tuple[str, str, tuple[Port, ...]]]]


@dataclass(slots=True)
class _Query:
    qname: str   # as asked (case kept), fully qualified
    name: str    # lowercase
    zone: str    # lowercase matched zone
    ozone: str   # the zone as spelled in the query


def endpoint_hostname(ip: str, hostname: str | None) -> str:
    """CoreDNS endpointHostname: the endpoint's hostname, else its IP with dashes."""
    if hostname:
        return hostname
    if "." in ip:
        return ip.replace(".", "-")
    if ":" in ip:
        return ip.replace(":", "-")
    return ""


def reverse_to_ip(name: str) -> str | None:
    """`4.3.2.1.in-addr.arpa.` → "1.2.3.4" (and ip6.arpa nibbles); None when it is not a full address."""
    name = name.rstrip(".").lower()
    if name.endswith(".in-addr.arpa"):
        parts = name[: -len(".in-addr.arpa")].split(".")
        try:
            ip = ipaddress.IPv4Address(".".join(reversed(parts)))
        except ValueError:
            return None
        return str(ip)
    if name.endswith(".ip6.arpa"):
        parts = name[: -len(".ip6.arpa")].split(".")
        if len(parts) != 32 or any(len(p) != 1 for p in parts):
            return None
        hexs = "".join(reversed(parts))
        try:
            ip6 = ipaddress.IPv6Address(":".join(hexs[i:i + 4] for i in range(0, 32, 4)))
        except ValueError:
            return None
        return str(ip6)
    return None


def _ports_of_service(spec: Obj) -> tuple[Port, ...]:
    return tuple(((p.get("name") or "").lower(), int(p.get("port") or 0), (p.get("protocol") or "TCP").lower())
                 for p in spec.get("ports") or ())


def _ports_of_slice(slc: Obj) -> tuple[Port, ...]:
    ports = slc.get("ports") or ()
    if not ports:
        return NO_PORTS
    out = []
    for p in ports:
        num = p.get("port")
        out.append(((p.get("name") or "").lower(), -1 if num is None else int(num), (p.get("protocol") or "").lower()))
    return tuple(out)


def _match_port(want_port: str, port: str, want_proto: str, proto: str) -> bool:
    return (not want_port or want_port == port) and (not want_proto or want_proto == proto)


def _fqdn(s: str) -> str:
    return s if s.endswith(".") else s + "."


class RecordIndex:
    """Incrementally maintained DNS view of the cluster."""

    def __init__(self, zone: str = DEFAULT_ZONE, ttl: int = DEFAULT_TTL,
                 ns_fallback_ips: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.zone = _fqdn(zone.lower())
        self.zones = (self.zone, *REVERSE_ZONES)
        self.ttl = ttl
        self.ns_fallback_ips = ns_fallback_ips
        self.namespaces: set[str] = set()
        self.services: dict[SvcKey, _Service] = {}
        self._svc_by_ip: dict[str, SvcKey] = {}
        self.slices: dict[SvcKey, _Slice] = {}
        self._slices_by_svc: dict[SvcKey, set[SvcKey]] = {}
        self._slices_by_ip: dict[str, set[SvcKey]] = {}
        self._views: dict[SvcKey, _View] = {}
        self.version = 0
        self.modified = int(time.time())
        self._soa_cache: dict[tuple[str, int], RR] = {}

    # ---- mutations (informer events) ------------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1
        self.modified = int(time.time())

    def set_namespace(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if name not in self.namespaces:
            self.namespaces.add(name)
            self._changed()

    def delete_namespace(self, obj: Obj) -> None:
        if obj["metadata"]["name"] in self.namespaces:
            self.namespaces.discard(obj["metadata"]["name"])
            self._changed()

    def set_service(self, obj: Obj) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        spec = obj.get("spec") or {}
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        svc = _Service(namespace=key[0], name=key[1], type=spec.get("type") or "ClusterIP",
                       cluster_ips=tuple(ips), external_ips=tuple(spec.get("externalIPs") or ()),
                       ports=_ports_of_service(spec), external_name=spec.get("externalName") or "")
        old = self.services.get(key)
        if old == svc:
            return
        if old is not None:
            self._unindex_service_ips(key, old)
        self.services[key] = svc
        for ip in (*svc.cluster_ips, *svc.external_ips):
            if ip and ip != "None":
                self._svc_by_ip[ip] = key
        self._changed()

    def delete_service(self, obj: Obj) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        old = self.services.pop(key, None)
        if old is not None:
            self._unindex_service_ips(key, old)
            self._changed()

    def _unindex_service_ips(self, key: SvcKey, svc: _Service) -> None:
        for ip in (*svc.cluster_ips, *svc.external_ips):
            if self._svc_by_ip.get(ip) == key:
                del self._svc_by_ip[ip]

    def set_slice(self, obj: Obj) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        svc_name = (md.get("labels") or {}).get(LABEL_SERVICE_NAME)
        addrs: list[tuple[str, str]] = []
        for ep in obj.get("endpoints") or ():
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            hostname = ep.get("hostname") or ""
            for ip in ep.get("addresses") or ():
                addrs.append((ip, endpoint_hostname(ip, hostname)))
        new = _Slice(service=(key[0], svc_name) if svc_name else None, ports=_ports_of_slice(obj),
                     addrs=tuple(addrs))
        old = self.slices.get(key)
        if old == new:
            return
        if old is not None:
            self._unindex_slice(key, old)
        self.slices[key] = new
        if new.service is not None:
            self._slices_by_svc.setdefault(new.service, set()).add(key)
            self._views.pop(new.service, None)
        for ip, _ in new.addrs:
            self._slices_by_ip.setdefault(ip, set()).add(key)
        self._changed()

    def delete_slice(self, obj: Obj) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        old = self.slices.pop(key, None)
        if old is not None:
            self._unindex_slice(key, old)
            self._changed()

    def _unindex_slice(self, key: SvcKey, old: _Slice) -> None:
        if old.service is not None:
            s = self._slices_by_svc.get(old.service)
            if s is not None:
                s.discard(key)
                if not s:
                    del self._slices_by_svc[old.service]
            self._views.pop(old.service, None)
        for ip, _ in old.addrs:
            s = self._slices_by_ip.get(ip)
            if s is not None:
                s.discard(key)
                if not s:
                    del self._slices_by_ip[ip]

    def _view(self, key: SvcKey) -> _View:
        v = self._views.get(key)
        if v is None:
            entries = []
            by_host: dict[str, list[tuple[str, str, tuple[Port, ...]]]] = {}
            for sk in sorted(self._slices_by_svc.get(key, ())):
                slc = self.slices[sk]
                for ip, host in slc.addrs:
                    e = (ip, host, slc.ports)
                    entries.append(e)
                    by_host.setdefault(host.lower(), []).append(e)
            v = self._views[key] = _View(entries, by_host)
        return v

    # ---- queries ----------------------------------------------------------------------------------------
    def zone_of(self, name: str) -> str | None:
        """The longest of our zones that `name` (lowercase, fully qualified) lies in."""
        best = None
        for z in self.zones:
            if (name == z or name.endswith("." + z)) and (best is None or len(z) > len(best)):
                best = z
        return best

    def resolve(self, qname: str, qtype: int) -> Result:
        qname = _fqdn(qname)
        name = qname.lower()
        zone = self.zone_of(name)
        if zone is None:
            return Result(forward=True)
        q = _Query(qname=qname, name=name, zone=zone, ozone=qname[len(qname) - len(zone):])
        if qtype in (QTYPE.AXFR, QTYPE.IXFR):
            return Result(rcode=REFUSED)
        extra: list[RR] = []
        external: list[tuple[int, str, int]] = []
        try:
            if qtype == QTYPE.A:
                records = self._address(q, QTYPE.A, [], external)
            elif qtype == QTYPE.AAAA:
                records = self._address(q, QTYPE.AAAA, [], external)
            elif qtype == QTYPE.TXT:
                records = self._txt(q)
            elif qtype == QTYPE.CNAME:
                records = self._cname(q)
            elif qtype == QTYPE.PTR:
                records = self._ptr(q)
            elif qtype == QTYPE.MX:
                self._services(q, qtype)  # no mail records in Kubernetes: only decides NXDOMAIN vs NODATA
                records = []
            elif qtype == QTYPE.SRV:
                records, extra = self._srv(q)
            elif qtype == QTYPE.SOA:
                records = [self.soa(q.ozone)] if name == zone else []
            elif qtype == QTYPE.NS and name == zone:
                records, extra = self._ns(q)
            else:
                # A fake A lookup tells NXDOMAIN from NODATA for every other type.
                self._address(q, QTYPE.A, [], [])
                records = []
        except _NameError:
            if zone != self.zone:
                return Result(forward=True)  # `fallthrough in-addr.arpa ip6.arpa`
            return Result(rcode=NXDOMAIN, authority=[self.soa(q.ozone)], authoritative=True)
        if not records:
            return Result(rcode=NOERROR, authority=[self.soa(q.ozone)], authoritative=True)
        return Result(answer=records, additional=extra, authoritative=True, external=external)

    def soa(self, ozone: str) -> RR:
        """The zone's SOA (serial: when the index last changed), built once per zone spelling and change."""
        key = (ozone, self.modified)
        rr = self._soa_cache.get(key)
        if rr is None:
            if len(self._soa_cache) > 64:
                self._soa_cache.clear()
            rr = self._soa_cache[key] = RR(ozone, QTYPE.SOA, ttl=min(self.ttl, 300),
                                           rdata=SOA("ns.dns." + ozone, "hostmaster." + ozone,
                                                     (self.modified & 0xFFFFFFFF, 7200, 1800, 86400, self.ttl)))
        return rr

    def ns_ips(self) -> tuple[str, ...]:
        """Addresses of the name server: the kube-dns Service's cluster IP when it exists."""
        svc = self.services.get(("kube-system", "kube-dns"))
        if svc is not None and svc.cluster_ips and not svc.headless:
            return svc.cluster_ips
        return self.ns_fallback_ips

    # -- the backend (CoreDNS Services/Records/findServices/findPods)
    def _services(self, q: _Query, qtype: int) -> list[Entry]:
        if qtype == QTYPE.TXT:
            base = q.name[: len(q.name) - len(q.zone)].rstrip(".")
            if base == "dns-version":
                return [Entry(host="", ttl=28800, text=DNS_SCHEMA_VERSION)]
            return []
        if qtype == QTYPE.NS:
            return [Entry(host=ip, domain="ns.dns." + q.ozone, ttl=self.ttl) for ip in self.ns_ips()]
        if q.name == "ns.dns." + q.zone:
            want = 4 if qtype == QTYPE.A else 6 if qtype == QTYPE.AAAA else 0
            return [Entry(host=ip, domain=q.qname, ttl=self.ttl) for ip in self.ns_ips()
                    if ipaddress.ip_address(ip).version == want]
        entries = self._records(q)
        if qtype == QTYPE.SRV:
            entries = [e for e in entries if e.host_kind() != "CNAME"]
        return entries

    def _records(self, q: _Query) -> list[Entry]:
        base = q.name[: len(q.name) - len(q.zone)].rstrip(".")
        if base in ("", "svc", "pod"):
            return []
        segs = base.split(".")
        kind = segs[-1]
        if kind not in ("svc", "pod"):
            raise _NameError
        if q.zone != self.zone:
            raise _NameError
        namespace = segs[-2]
        service = segs[-3] if len(segs) >= 3 else ""
        endpoint = port = proto = ""
        rest = len(segs) - 3
        if rest == 1:
            endpoint = segs[0]
        elif rest == 2:
            port, proto = segs[0].removeprefix("_"), segs[1].removeprefix("_")
        elif rest > 2:
            raise _NameError
        if namespace not in self.namespaces:
            raise _NameError
        if kind == "pod":
            return self._find_pods(q, namespace, service)
        return self._find_services(q, namespace, service, endpoint, port, proto)

    def _find_pods(self, q: _Query, namespace: str, podname: str) -> list[Entry]:
        if not podname:
            return []
        if podname.count("-") == 3 and "--" not in podname:
            ip = podname.replace("-", ".")
        else:
            ip = podname.replace("-", ":")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _NameError from None
        return [Entry(host=ip, domain=f"{podname}.{namespace}.pod.{q.ozone}", ttl=self.ttl)]

    def _find_services(self, q: _Query, namespace: str, service: str, endpoint: str, port: str,
                       proto: str) -> list[Entry]:
        if not service:
            return []
        svc = self.services.get((namespace, service))
        if svc is None:
            raise _NameError
        ttl = self.ttl
        if svc.type == "ExternalName":
            if endpoint:
                raise _NameError
            e = Entry(host=svc.external_name, domain=f"{svc.name}.{svc.namespace}.svc.{q.ozone}", ttl=ttl)
            if not svc.external_name or e.host_kind() != "CNAME":
                raise _NameError
            return [e]
        out: list[Entry] = []
        if svc.headless or endpoint:
            view = self._view((namespace, service))
            cands = view.by_host.get(endpoint, ()) if endpoint else view.entries
            suffix = f".{svc.name}.{svc.namespace}.svc.{q.ozone}"
            for ip, host, ports in cands:
                for pname, pnum, pproto in ports:
                    if _match_port(port, pname, proto, pproto):
                        out.append(Entry(host=ip, port=pnum, domain=host + suffix, ttl=ttl, kind=_ip_kind(ip)))
            if not out:
                raise _NameError
            return out
        found = False
        domain = f"{svc.name}.{svc.namespace}.svc.{q.ozone}"
        for pname, pnum, pproto in svc.ports:
            if not _match_port(port, pname, proto, pproto):
                continue
            found = True
            for ip in svc.cluster_ips:
                out.append(Entry(host=ip, port=pnum, domain=domain, ttl=ttl, kind=_ip_kind(ip)))
        if not found:
            raise _NameError
        return out

    # -- record builders (CoreDNS plugin/backend_lookup.go)
    def _address(self, q: _Query, qtype: int, previous: list[RR], external: list[tuple[int, str, int]],
                 owner: str | None = None) -> list[RR]:
        owner = owner or q.qname
        want = "A" if qtype == QTYPE.A else "AAAA"
        records: list[RR] = []
        seen: set[str] = set()
        for e in self._services(q, qtype):
            kind = e.host_kind()
            if kind == "CNAME":
                target = _fqdn(e.host)
                if target.lower() == q.name or len(previous) > 7:
                    continue
                if any(p.rtype == QTYPE.CNAME and str(p.rdata.label) == target for p in previous):
                    continue
                cname = RR(owner, QTYPE.CNAME, ttl=e.ttl, rdata=CNAME(target))
                tname = target.lower()
                tzone = self.zone_of(tname)
                if tzone == q.zone:
                    sub = _Query(qname=target, name=tname, zone=tzone, ozone=target[len(target) - len(tzone):])
                    try:
                        nxt = self._address(sub, qtype, [*previous, cname], [], owner=target)
                    except _NameError:
                        nxt = []
                    if nxt:
                        records.append(cname)
                        records.extend(nxt)
                    continue
                external.append((len(records), target, qtype))
                records.append(cname)
                continue
            if kind == want and e.host not in seen:
                seen.add(e.host)
                records.append(RR(owner, qtype, ttl=e.ttl, rdata=A(e.host) if want == "A" else AAAA(e.host)))
        return records

    def _txt(self, q: _Query) -> list[RR]:
        return [RR(q.qname, QTYPE.TXT, ttl=e.ttl, rdata=TXT(e.text)) for e in self._services(q, QTYPE.TXT)
                if e.text is not None]

    def _cname(self, q: _Query) -> list[RR]:
        entries = self._services(q, QTYPE.CNAME)
        if entries and entries[0].host_kind() == "CNAME":
            return [RR(q.qname, QTYPE.CNAME, ttl=entries[0].ttl, rdata=CNAME(_fqdn(entries[0].host)))]
        return []

    def _srv(self, q: _Query) -> tuple[list[RR], list[RR]]:
        entries = self._services(q, QTYPE.SRV)
        n = len(entries)
        weight = max(1, int(100.0 / (100 * n) * 100)) if n else 1
        records: list[RR] = []
        extra: list[RR] = []
        seen_srv: set[tuple[str, int]] = set()
        seen_addr: set[tuple[str, str]] = set()
        for e in entries:
            if e.port == -1:
                continue
            kind = e.host_kind()
            if kind not in ("A", "AAAA"):
                continue
            target = e.domain
            if (target, e.port) not in seen_srv:
                seen_srv.add((target, e.port))
                records.append(RR(q.qname, QTYPE.SRV, ttl=e.ttl, rdata=SRV(0, weight, e.port, target)))
            if (target, e.host) not in seen_addr:
                seen_addr.add((target, e.host))
                rtype = QTYPE.A if kind == "A" else QTYPE.AAAA
                extra.append(RR(target, rtype, ttl=e.ttl, rdata=A(e.host) if kind == "A" else AAAA(e.host)))
        return records, extra

    def _ptr(self, q: _Query) -> list[RR]:
        ip = reverse_to_ip(q.name)
        if ip is None:
            self._records(q)
            return []
        targets: list[str] = []
        svc_key = self._svc_by_ip.get(ip)
        if svc_key is not None:
            targets.append(f"{svc_key[1]}.{svc_key[0]}.svc.{self.zone}")
        else:
            for sk in sorted(self._slices_by_ip.get(ip, ())):
                slc = self.slices[sk]
                if slc.service is None:
                    continue
                for aip, host in slc.addrs:
                    if aip == ip:
                        t = f"{host}.{slc.service[1]}.{slc.service[0]}.svc.{self.zone}"
                        if t not in targets:
                            targets.append(t)
        if not targets:
            raise _NameError
        return [RR(q.qname, QTYPE.PTR, ttl=self.ttl, rdata=PTR(t)) for t in targets]

    def _ns(self, q: _Query) -> tuple[list[RR], list[RR]]:
        records: list[RR] = []
        extra: list[RR] = []
        for e in self._services(q, QTYPE.NS):
            kind = e.host_kind()
            if kind not in ("A", "AAAA"):
                continue
            extra.append(RR(e.domain, QTYPE.A if kind == "A" else QTYPE.AAAA, ttl=e.ttl,
                            rdata=A(e.host) if kind == "A" else AAAA(e.host)))
            if not records:
                records.append(RR(q.qname, QTYPE.NS, ttl=e.ttl, rdata=NS(e.domain)))
        return records, extra

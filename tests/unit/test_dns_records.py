"""Cluster DNS without a cluster: the record index (CoreDNS kubernetes-plugin semantics), the wire-level server
(EDNS0, truncation, TCP, caching) in-process, and the pure parts of the Endpoints/EndpointSlice controllers
that produce what the index reads."""
from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import QTYPE

from kubeling.controllers import endpoints as epc
from kubeling.controllers import endpointslice as esc
from kubeling.dns.records import NOERROR, NXDOMAIN, REFUSED, RecordIndex, reverse_to_ip
from kubeling.dns.server import DnsServer

# ---- fixtures -------------------------------------------------------------------------------------------


def _svc(name: str, ns: str = "default", cluster_ip: str = "10.96.5.5", ports: list[dict] | None = None,
         **spec: Any) -> dict[str, Any]:
    s = {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
         "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    return {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"}, "spec": s}


def _slice(name: str, svc: str, endpoints: list[dict], ports: list[dict] | None = None,
           ns: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": ports if ports is not None else [{"name": "web", "port": 80, "protocol": "TCP"}]}


def _ep(ip: str, hostname: str | None = None, ready: bool = True) -> dict[str, Any]:
    e: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": False}}
    if hostname:
        e["hostname"] = hostname
    return e


@pytest.fixture
def idx() -> RecordIndex:
    i = RecordIndex()
    for ns in ("default", "kube-system", "other"):
        i.set_namespace({"metadata": {"name": ns}})
    i.set_service(_svc("kube-dns", "kube-system", "10.96.0.10",
                       [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53,
                                                                         "protocol": "TCP"}]))
    i.set_service(_svc("plain", cluster_ip="10.96.7.7",
                       ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                              {"name": "dns", "port": 53, "protocol": "UDP"}]))
    i.set_service(_svc("nginx", cluster_ip="None", ports=[{"name": "web", "port": 80, "protocol": "TCP"}]))
    i.set_slice(_slice("nginx-abcde", "nginx", [_ep("10.244.1.5", "web-0"), _ep("10.244.2.6", "web-1"),
                                                 _ep("10.244.1.9", "web-2", ready=False)]))
    i.set_slice(_slice("plain-xyz12", "plain", [_ep("10.244.1.5"), _ep("10.244.2.6")],
                       ports=[{"name": "http", "port": 80, "protocol": "TCP"}]))
    i.set_service(_svc("ext", cluster_ip="", ports=[], type="ExternalName", externalName="example.com"))
    i.set_service(_svc("alias", cluster_ip="", ports=[], type="ExternalName",
                       externalName="plain.default.svc.cluster.local"))
    i.set_service(_svc("empty", cluster_ip="None", ports=[{"name": "web", "port": 80, "protocol": "TCP"}]))
    return i


def _addrs(res: Any) -> list[str]:
    return sorted(str(rr.rdata) for rr in res.answer if rr.rtype in (QTYPE.A, QTYPE.AAAA))


# ---- record semantics -----------------------------------------------------------------------------------

def test_cluster_ip_service(idx: RecordIndex) -> None:
    r = idx.resolve("plain.default.svc.cluster.local.", QTYPE.A)
    assert r.rcode == NOERROR and r.authoritative and _addrs(r) == ["10.96.7.7"]
    assert r.answer[0].ttl == 30


def test_headless_service_lists_ready_endpoints_only(idx: RecordIndex) -> None:
    r = idx.resolve("nginx.default.svc.cluster.local", QTYPE.A)
    assert _addrs(r) == ["10.244.1.5", "10.244.2.6"]


def test_endpoint_names_by_hostname_and_dashed_ip(idx: RecordIndex) -> None:
    assert _addrs(idx.resolve("web-0.nginx.default.svc.cluster.local", QTYPE.A)) == ["10.244.1.5"]
    assert _addrs(idx.resolve("10-244-2-6.plain.default.svc.cluster.local", QTYPE.A)) == ["10.244.2.6"]
    # not ready → gone; unknown host → NXDOMAIN
    assert idx.resolve("web-2.nginx.default.svc.cluster.local", QTYPE.A).rcode == NXDOMAIN
    assert idx.resolve("web-9.nginx.default.svc.cluster.local", QTYPE.A).rcode == NXDOMAIN


def test_nxdomain_and_nodata_carry_the_soa(idx: RecordIndex) -> None:
    for name in ("nope.default.svc.cluster.local", "nginx.nons.svc.cluster.local", "foo.cluster.local",
                 "a.b.c.d.nginx.default.svc.cluster.local", "empty.default.svc.cluster.local"):
        r = idx.resolve(name, QTYPE.A)
        assert r.rcode == NXDOMAIN, name
        assert r.authoritative and r.authority[0].rtype == QTYPE.SOA
    for name, qt in (("nginx.default.svc.cluster.local", QTYPE.AAAA), ("plain.default.svc.cluster.local", QTYPE.MX),
                     ("default.svc.cluster.local", QTYPE.A), ("svc.cluster.local", QTYPE.A),
                     ("cluster.local", QTYPE.A), ("web-0.nginx.default.svc.cluster.local", QTYPE.AAAA),
                     ("plain.default.svc.cluster.local", QTYPE.CAA)):
        r = idx.resolve(name, qt)
        assert r.rcode == NOERROR and not r.answer, (name, qt)
        soa = r.authority[0]
        assert soa.rtype == QTYPE.SOA and str(soa.rname) == "cluster.local."
        assert str(soa.rdata.mname) == "ns.dns.cluster.local." and str(soa.rdata.rname) == "hostmaster.cluster.local."
        assert soa.rdata.times[1:] == (7200, 1800, 86400, 30)


def test_srv_cluster_ip_and_headless(idx: RecordIndex) -> None:
    r = idx.resolve("_http._tcp.plain.default.svc.cluster.local", QTYPE.SRV)
    assert [(rr.rdata.priority, rr.rdata.weight, rr.rdata.port, str(rr.rdata.target)) for rr in r.answer] == \
        [(0, 100, 8080, "plain.default.svc.cluster.local.")]
    assert [(str(a.rname), str(a.rdata)) for a in r.additional] == [("plain.default.svc.cluster.local.", "10.96.7.7")]
    r = idx.resolve("_web._tcp.nginx.default.svc.cluster.local", QTYPE.SRV)
    assert sorted((rr.rdata.weight, rr.rdata.port, str(rr.rdata.target)) for rr in r.answer) == [
        (50, 80, "web-0.nginx.default.svc.cluster.local."), (50, 80, "web-1.nginx.default.svc.cluster.local.")]
    assert sorted(str(a.rdata) for a in r.additional) == ["10.244.1.5", "10.244.2.6"]
    # every port when no port/proto labels are given; wrong protocol/port → NXDOMAIN
    r = idx.resolve("plain.default.svc.cluster.local", QTYPE.SRV)
    assert sorted(rr.rdata.port for rr in r.answer) == [53, 8080]
    assert idx.resolve("_http._udp.plain.default.svc.cluster.local", QTYPE.SRV).rcode == NXDOMAIN
    assert idx.resolve("_nope._tcp.plain.default.svc.cluster.local", QTYPE.SRV).rcode == NXDOMAIN
    # the SRV owner names also answer A queries (any port/proto)
    assert _addrs(idx.resolve("_dns._udp.plain.default.svc.cluster.local", QTYPE.A)) == ["10.96.7.7"]


def test_ptr(idx: RecordIndex) -> None:
    r = idx.resolve("7.7.96.10.in-addr.arpa.", QTYPE.PTR)
    assert [str(rr.rdata) for rr in r.answer] == ["plain.default.svc.cluster.local."]
    r = idx.resolve("5.1.244.10.in-addr.arpa.", QTYPE.PTR)
    assert sorted(str(rr.rdata) for rr in r.answer) == ["10-244-1-5.plain.default.svc.cluster.local.",
                                                         "web-0.nginx.default.svc.cluster.local."]
    # unknown IPs fall through to the upstream (REFUSED without one), like CoreDNS's `fallthrough in-addr.arpa`
    assert idx.resolve("9.9.9.10.in-addr.arpa.", QTYPE.PTR).forward
    assert reverse_to_ip("4.3.2.1.in-addr.arpa") == "1.2.3.4" and reverse_to_ip("3.2.1.in-addr.arpa") is None


def test_pod_records_insecure(idx: RecordIndex) -> None:
    assert _addrs(idx.resolve("10-244-9-9.default.pod.cluster.local", QTYPE.A)) == ["10.244.9.9"]
    assert idx.resolve("10-244-9-9.nons.pod.cluster.local", QTYPE.A).rcode == NXDOMAIN
    assert idx.resolve("not-an-ip.default.pod.cluster.local", QTYPE.A).rcode == NXDOMAIN
    r = idx.resolve("10-244-9-9.default.pod.cluster.local", QTYPE.AAAA)
    assert r.rcode == NOERROR and not r.answer


def test_external_name(idx: RecordIndex) -> None:
    r = idx.resolve("ext.default.svc.cluster.local", QTYPE.A)
    assert [(rr.rtype, str(rr.rdata)) for rr in r.answer] == [(QTYPE.CNAME, "example.com.")]
    assert r.external == [(0, "example.com.", QTYPE.A)]
    r = idx.resolve("alias.default.svc.cluster.local", QTYPE.A)
    assert [(rr.rtype, str(rr.rname), str(rr.rdata)) for rr in r.answer] == [
        (QTYPE.CNAME, "alias.default.svc.cluster.local.", "plain.default.svc.cluster.local."),
        (QTYPE.A, "plain.default.svc.cluster.local.", "10.96.7.7")]
    assert not r.external
    r = idx.resolve("ext.default.svc.cluster.local", QTYPE.CNAME)
    assert [str(rr.rdata) for rr in r.answer] == ["example.com."]


def test_apex_soa_ns_txt_and_outside(idx: RecordIndex) -> None:
    r = idx.resolve("cluster.local.", QTYPE.SOA)
    assert r.answer[0].rtype == QTYPE.SOA
    r = idx.resolve("cluster.local.", QTYPE.NS)
    assert str(r.answer[0].rdata) == "ns.dns.cluster.local."
    assert [(str(a.rname), str(a.rdata)) for a in r.additional] == [("ns.dns.cluster.local.", "10.96.0.10")]
    assert _addrs(idx.resolve("ns.dns.cluster.local.", QTYPE.A)) == ["10.96.0.10"]
    r = idx.resolve("dns-version.cluster.local.", QTYPE.TXT)
    assert r.answer[0].rdata.data == [b"1.1.0"] and r.answer[0].ttl == 28800
    assert idx.resolve("example.com.", QTYPE.A).forward
    assert idx.resolve("cluster.local.", QTYPE.AXFR).rcode == REFUSED


def test_case_insensitive_and_owner_case_kept(idx: RecordIndex) -> None:
    r = idx.resolve("WEB-0.Nginx.DEFAULT.svc.Cluster.Local.", QTYPE.A)
    assert _addrs(r) == ["10.244.1.5"] and str(r.answer[0].rname) == "WEB-0.Nginx.DEFAULT.svc.Cluster.Local."


def test_incremental_updates(idx: RecordIndex) -> None:
    v = idx.version
    idx.set_slice(_slice("nginx-abcde", "nginx", [_ep("10.244.2.6", "web-1"), _ep("10.244.1.9", "web-2")]))
    assert idx.version > v
    assert _addrs(idx.resolve("nginx.default.svc.cluster.local", QTYPE.A)) == ["10.244.1.9", "10.244.2.6"]
    assert idx.resolve("web-0.nginx.default.svc.cluster.local", QTYPE.A).rcode == NXDOMAIN
    assert _addrs(idx.resolve("web-2.nginx.default.svc.cluster.local", QTYPE.A)) == ["10.244.1.9"]
    # a second slice of the same Service adds to it; deleting it takes its addresses away again
    second = _slice("nginx-fghij", "nginx", [_ep("10.244.3.3", "web-3")])
    idx.set_slice(second)
    assert "10.244.3.3" in _addrs(idx.resolve("nginx.default.svc.cluster.local", QTYPE.A))
    idx.delete_slice(second)
    assert "10.244.3.3" not in _addrs(idx.resolve("nginx.default.svc.cluster.local", QTYPE.A))
    assert idx.resolve("3.3.244.10.in-addr.arpa.", QTYPE.PTR).forward
    # an unchanged object does not bump the version (no cache churn)
    v = idx.version
    idx.set_slice(_slice("nginx-abcde", "nginx", [_ep("10.244.2.6", "web-1"), _ep("10.244.1.9", "web-2")]))
    assert idx.version == v
    idx.delete_service({"metadata": {"name": "plain", "namespace": "default"}})
    assert idx.resolve("plain.default.svc.cluster.local", QTYPE.A).rcode == NXDOMAIN
    assert idx.resolve("7.7.96.10.in-addr.arpa.", QTYPE.PTR).forward
    idx.delete_namespace({"metadata": {"name": "other"}})
    assert idx.resolve("10-1-1-1.other.pod.cluster.local", QTYPE.A).rcode == NXDOMAIN


def test_headless_without_ports_answers_a_but_no_srv(idx: RecordIndex) -> None:
    idx.set_service(_svc("bare", cluster_ip="None", ports=[]))
    idx.set_slice(_slice("bare-1", "bare", [_ep("10.244.4.4", "b-0")], ports=[]))
    assert _addrs(idx.resolve("bare.default.svc.cluster.local", QTYPE.A)) == ["10.244.4.4"]
    assert _addrs(idx.resolve("b-0.bare.default.svc.cluster.local", QTYPE.A)) == ["10.244.4.4"]
    r = idx.resolve("bare.default.svc.cluster.local", QTYPE.SRV)
    assert r.rcode == NOERROR and not r.answer


# ---- the server on the wire -----------------------------------------------------------------------------

def _big_index(n: int) -> RecordIndex:
    i = RecordIndex()
    i.set_namespace({"metadata": {"name": "default"}})
    i.set_service(_svc("big", cluster_ip="None", ports=[{"name": "web", "port": 80, "protocol": "TCP"}]))
    for s in range(0, n, 100):
        i.set_slice(_slice(f"big-{s}", "big", [_ep(f"10.245.{k // 250}.{k % 250 + 1}", f"big-{k}")
                                                for k in range(s, min(n, s + 100))]))
    return i


async def _with_server(index: RecordIndex, fn: Any, upstream: tuple[str, int] | None = None) -> Any:
    srv = DnsServer(index, "127.0.0.1", 0, upstream)
    srv.synced = True
    await srv.start()
    try:
        return await asyncio.get_running_loop().run_in_executor(None, fn, srv.port)
    finally:
        await srv.stop()


def _run(index: RecordIndex, fn: Any, upstream: tuple[str, int] | None = None) -> Any:
    return asyncio.run(_with_server(index, fn, upstream))


def test_udp_truncation_edns_and_tcp() -> None:
    def check(port: int) -> None:
        q = dns.message.make_query("big.default.svc.cluster.local", "A", use_edns=False)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3, ignore_trailing=True)
        assert r.flags & dns.flags.TC and r.flags & dns.flags.AA
        assert 0 < len(r.answer[0]) < 300 and len(r.to_wire()) <= 512
        q = dns.message.make_query("big.default.svc.cluster.local", "A", use_edns=0, payload=4096)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        assert r.flags & dns.flags.TC and len(r.to_wire()) <= 4096 and len(r.answer[0]) > 100
        assert r.edns == 0 and r.payload == 4096
        r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=3)
        assert not r.flags & dns.flags.TC and len(r.answer[0]) == 300
        assert r.answer[0].ttl == 30 and not r.flags & dns.flags.RA
        # shuffled like the loadbalance plugin: not always the same first record
        firsts = {str(dns.query.tcp(q, "127.0.0.1", port=port, timeout=3).answer[0][0]) for _ in range(20)}
        assert len(firsts) > 1
        # a small answer fits and is not truncated
        q = dns.message.make_query("big-7.big.default.svc.cluster.local", "A", use_edns=False)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        assert not r.flags & dns.flags.TC and [str(x) for x in r.answer[0]] == ["10.245.0.8"]

    _run(_big_index(300), check)


def test_edns_cookie_echo_badvers_refused_formerr(idx: RecordIndex) -> None:
    def check(port: int) -> None:
        cookie = dns.edns.GenericOption(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")
        q = dns.message.make_query("plain.default.svc.cluster.local", "A", use_edns=0, payload=1232,
                                   options=[cookie], want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        assert r.rcode() == dns.rcode.NOERROR and r.payload == 1232 and r.ednsflags & dns.flags.DO
        assert [o.otype for o in r.options] == [10]
        assert r.flags & dns.flags.RD and r.flags & dns.flags.AA
        q = dns.message.make_query("plain.default.svc.cluster.local", "A", use_edns=1)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        assert r.rcode() == dns.rcode.BADVERS
        r = dns.query.udp(dns.message.make_query("example.com", "A"), "127.0.0.1", port=port, timeout=3)
        assert r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.AA
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07garbage", ("127.0.0.1", port))
            data, _ = s.recvfrom(512)
        assert data[:2] == b"\x12\x34" and data[3] & 0xF == 1  # FORMERR
        # several queries on one TCP connection
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            for name in ("plain.default.svc.cluster.local", "nginx.default.svc.cluster.local"):
                w = dns.message.make_query(name, "A").to_wire()
                s.sendall(struct.pack("!H", len(w)) + w)
                (n,) = struct.unpack("!H", s.recv(2))
                buf = b""
                while len(buf) < n:
                    buf += s.recv(n - len(buf))
                assert dns.message.from_wire(buf).answer

    _run(idx, check)


def test_cache_follows_index_changes(idx: RecordIndex) -> None:
    def check(port: int) -> None:
        q = dns.message.make_query("web-0.nginx.default.svc.cluster.local", "A")
        a1 = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        a2 = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        assert a1.answer == a2.answer and a2.id == q.id
        idx.set_slice(_slice("nginx-abcde", "nginx", [_ep("10.244.7.7", "web-0")]))
        a3 = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
        assert [str(x) for x in a3.answer[0]] == ["10.244.7.7"]

    _run(idx, check)


def test_upstream_forwarding(idx: RecordIndex) -> None:
    """Names outside the zone and ExternalName targets go to the upstream (here: a second DnsServer)."""
    other = RecordIndex(zone="example.com")
    other.set_namespace({"metadata": {"name": "x"}})

    async def main() -> None:
        up = DnsServer(other, "127.0.0.1", 0)
        up.synced = True
        await up.start()
        try:
            def check(port: int) -> None:
                r = dns.query.udp(dns.message.make_query("1-2-3-4.x.pod.example.com", "A"), "127.0.0.1",
                                  port=port, timeout=3)
                assert [str(x) for x in r.answer[0]] == ["1.2.3.4"]
                idx.set_service(_svc("ext2", cluster_ip="", ports=[], type="ExternalName",
                                     externalName="5-6-7-8.x.pod.example.com"))
                r = dns.query.udp(dns.message.make_query("ext2.default.svc.cluster.local", "A"), "127.0.0.1",
                                  port=port, timeout=3)
                assert [(rr.rdtype, str(rr[0])) for rr in r.answer] == [
                    (dns.rdatatype.CNAME, "5-6-7-8.x.pod.example.com."), (dns.rdatatype.A, "5.6.7.8")]

            await _with_server(idx, check, ("127.0.0.1", up.port))
        finally:
            await up.stop()

    asyncio.run(main())


# ---- what the endpoint controllers compute --------------------------------------------------------------

def _pod(name: str, ip: str | None, ready: bool = True, node: str = "node1", labels: dict | None = None,
         hostname: str | None = None, subdomain: str | None = None, ports: list[dict] | None = None,
         deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": labels or {"app": "x"}}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    spec: dict[str, Any] = {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]}
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    st: dict[str, Any] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                             "lastTransitionTime": "2024-01-01T00:00:05Z"}]}
    if ip:
        st["podIP"] = ip
        st["podIPs"] = [{"ip": ip}]
    return {"metadata": md, "spec": spec, "status": st}


def test_find_port_named_per_pod_and_sidecars() -> None:
    sp = {"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}
    assert esc.find_port(_pod("a", "1.1.1.1", ports=[{"name": "http", "containerPort": 8080}]), sp) == 8080
    assert esc.find_port(_pod("b", "1.1.1.2", ports=[{"name": "http", "containerPort": 9090}]), sp) == 9090
    assert esc.find_port(_pod("c", "1.1.1.3", ports=[{"name": "http", "containerPort": 1, "protocol": "UDP"}]),
                         sp) is None
    side = _pod("d", "1.1.1.4")
    side["spec"]["initContainers"] = [{"name": "s", "restartPolicy": "Always",
                                       "ports": [{"name": "http", "containerPort": 7070}]}]
    assert esc.find_port(side, sp) == 7070
    assert esc.find_port(_pod("e", "1.1.1.5"), {"port": 80, "targetPort": 8443}) == 8443


def test_repack_subsets_and_not_ready() -> None:
    svc = _svc("s", ports=[{"name": "a", "port": 1, "protocol": "TCP"}, {"name": "b", "port": 2, "protocol": "TCP"}])
    p1, p2 = _pod("p1", "10.0.0.2"), _pod("p2", "10.0.0.1", ready=False)
    entries = []
    for pod, ready in ((p1, True), (p2, False)):
        addr = epc.pod_to_endpoint_address(svc, pod)
        for sp in svc["spec"]["ports"]:
            entries.append((addr, epc.endpoint_port(sp, sp["port"]), ready))
    subsets = epc.repack_subsets(entries)
    assert len(subsets) == 1
    ss = subsets[0]
    assert [a["ip"] for a in ss["addresses"]] == ["10.0.0.2"]
    assert [a["ip"] for a in ss["notReadyAddresses"]] == ["10.0.0.1"]
    assert sorted(p["name"] for p in ss["ports"]) == ["a", "b"]
    assert ss["addresses"][0]["targetRef"] == {"kind": "Pod", "namespace": "default", "name": "p1", "uid": "uid-p1"}
    # headless without ports: addresses without ports survive the repack
    no_ports = epc.repack_subsets([(epc.pod_to_endpoint_address(svc, p1), None, True)])
    assert no_ports == [{"addresses": [epc.pod_to_endpoint_address(svc, p1)]}]


def test_truncate_endpoints_prefers_ready() -> None:
    ep = {"subsets": [{"addresses": [{"ip": f"10.1.{i // 250}.{i % 250}"} for i in range(900)],
                       "notReadyAddresses": [{"ip": f"10.2.{i // 250}.{i % 250}"} for i in range(300)]}]}
    assert epc.truncate_endpoints(ep)
    assert len(ep["subsets"][0]["addresses"]) == 900 and len(ep["subsets"][0]["notReadyAddresses"]) == 100


def test_pod_to_endpoint_conditions_and_hostname() -> None:
    svc = _svc("nginx", cluster_ip="None")
    node = {"metadata": {"name": "node1", "labels": {"topology.kubernetes.io/zone": "z1"}}}
    ep = esc.pod_to_endpoint(_pod("web-0", "10.0.0.5", hostname="web-0", subdomain="nginx"), node, svc, "IPv4")
    assert ep == {"addresses": ["10.0.0.5"], "conditions": {"ready": True, "serving": True, "terminating": False},
                  "hostname": "web-0", "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0",
                                                     "uid": "uid-web-0"},
                  "nodeName": "node1", "zone": "z1"}
    term = esc.pod_to_endpoint(_pod("t", "10.0.0.6", deleting=True), None, svc, "IPv4")
    assert term["conditions"] == {"ready": False, "serving": True, "terminating": True}
    pub = _svc("nginx", cluster_ip="None", publishNotReadyAddresses=True)
    nr = esc.pod_to_endpoint(_pod("n", "10.0.0.7", ready=False, subdomain="other", hostname="n"), None, pub, "IPv4")
    assert nr["conditions"]["ready"] is True and "hostname" not in nr


class _FakeClient:
    """Records slice writes; create assigns the generated name like the API server."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.n = 0

    async def create(self, resource: str, ns: str, obj: dict) -> dict:
        self.n += 1
        obj = {**obj, "metadata": {**obj["metadata"]}}
        md = obj["metadata"]
        md.setdefault("name", md.get("generateName", "") + f"{self.n:05d}")
        md.update(uid=f"u{self.n}", generation=1, resourceVersion=str(self.n))
        self.objects[md["name"]] = obj
        return obj

    async def update(self, resource: str, obj: dict) -> dict:
        self.n += 1
        obj["metadata"].setdefault("uid", f"u{self.n}")
        obj["metadata"]["generation"] = int(obj["metadata"].get("generation") or 1) + 1
        self.objects[obj["metadata"]["name"]] = obj
        return obj

    async def delete(self, resource: str, ns: str, name: str) -> None:
        self.objects.pop(name, None)


class _Nodes:
    def get(self, name: str) -> dict | None:
        return {"metadata": {"name": name}} if name.startswith("node") else None


def test_reconciler_slices_of_100_placeholder_and_reuse() -> None:
    svc = _svc("big", cluster_ip="None", ports=[{"name": "web", "port": 80, "targetPort": 80, "protocol": "TCP"}])
    svc["spec"]["ipFamilies"] = ["IPv4"]
    client = _FakeClient()
    rec = esc.Reconciler(client, _Nodes(), esc.EndpointSliceTracker())
    pods = [_pod(f"p{i}", f"10.3.{i // 250}.{i % 250 + 1}") for i in range(250)]
    asyncio.run(rec.reconcile(svc, pods, [], 1700000000.0))
    slices = list(client.objects.values())
    assert sorted(len(s["endpoints"]) for s in slices) == [50, 100, 100]
    for s in slices:
        md = s["metadata"]
        assert md["generateName"] == "big-" and md["labels"] == {
            "kubernetes.io/service-name": "big", "endpointslice.kubernetes.io/managed-by": esc.CONTROLLER_NAME,
            "service.kubernetes.io/headless": ""}
        assert md["ownerReferences"][0]["uid"] == "uid-big"
        assert md["annotations"][esc.ANN_TRIGGER_TIME] == "2023-11-14T22:13:20Z"
        assert s["ports"] == [{"name": "web", "protocol": "TCP", "port": 80}]
    # pods on an unknown node are skipped (and the sync reports it so it is retried)
    with pytest.raises(Exception, match="Node gone Not Found"):
        asyncio.run(rec.reconcile(svc, pods + [_pod("lost", "10.9.9.9", node="gone")],
                                  list(client.objects.values()), None))
    # all pods gone: one placeholder remains (an existing slice renamed into it, not a new create)
    names = set(client.objects)
    asyncio.run(rec.reconcile(svc, [], list(client.objects.values()), None))
    assert len(client.objects) == 1
    (ph,) = client.objects.values()
    assert ph["metadata"]["name"] in names and "endpoints" not in ph and "ports" not in ph
    # and a second reconcile keeps it as it is
    before = client.n
    asyncio.run(rec.reconcile(svc, [], list(client.objects.values()), None))
    assert client.n == before


def test_trigger_time_tracker() -> None:
    t = esc.TriggerTimeTracker()
    svc = _svc("s")
    svc["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    pods = [_pod("a", "1.1.1.1")]
    assert esc.format_rfc3339nano(t.compute("default/s", svc, pods)) == "2024-01-01T00:00:00Z"
    assert t.compute("default/s", svc, pods) is None
    pods[0]["status"]["conditions"][0]["lastTransitionTime"] = "2024-01-01T00:01:00Z"
    assert esc.format_rfc3339nano(t.compute("default/s", svc, pods)) == "2024-01-01T00:01:00Z"
    assert esc.format_rfc3339nano(1.5) == "1970-01-01T00:00:01.5Z"

"""Issue 6: Services, Endpoints/EndpointSlices and cluster DNS, against a real kubeling process.

Driven by /usr/bin/kubectl, the `kubernetes` client, the real `dig` (Debian dnsutils; those checks are skipped
when it is not installed) and dnspython. Pods are simulated by kubeling's node agents (Running + Ready with an
IP from the node's pod CIDR); the `kubeling.dev/ready` annotation takes a running pod out of Ready.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.reversename
import pytest
from conftest import REPO, KubelingCluster, free_port, wait_for

DIG = shutil.which("dig") or ("/usr/bin/dig" if os.path.exists("/usr/bin/dig") else None)
ZONE = "svc.cluster.local"


# ---- helpers --------------------------------------------------------------------------------------------

def q(port: int, name: str, rdtype: str = "A", tcp: bool = False, edns: bool = True) -> dns.message.Message:
    msg = dns.message.make_query(name, rdtype, use_edns=0 if edns else False)
    if tcp:
        return dns.query.tcp(msg, "127.0.0.1", port=port, timeout=5)
    return dns.query.udp(msg, "127.0.0.1", port=port, timeout=5, ignore_trailing=True)


def addrs(msg: dns.message.Message) -> list[str]:
    return sorted(str(r) for rrset in msg.answer if rrset.rdtype == dns.rdatatype.A for r in rrset)


def rcode(msg: dns.message.Message) -> str:
    return dns.rcode.to_text(msg.rcode())


def dig(port: int, *args: str) -> str | None:
    """Run the real dig; None when it is not installed."""
    if DIG is None:
        return None
    cp = subprocess.run([DIG, "@127.0.0.1", "-p", str(port), *args], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp.stdout


def apply(cluster: KubelingCluster, ns: str, *objs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-",
                    input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def headless(name: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"clusterIP": "None", "selector": selector, "ports": [{"name": "web", "port": 80}], **spec}}


def statefulset(name: str, service: str, replicas: int, labels: dict[str, str], parallel: bool = False) -> dict:
    spec: dict[str, Any] = {
        "serviceName": service, "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.24",
                                              "ports": [{"containerPort": 80, "name": "web"}]}]}}}
    if parallel:
        spec["podManagementPolicy"] = "Parallel"
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}


def pods(cluster: KubelingCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    return json.loads(cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]


def is_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def wait_ready(cluster: KubelingCluster, ns: str, selector: str, n: int, timeout: float = 60) -> dict[str, str]:
    """Wait for n Ready pods; returns name → pod IP as the API (kubectl get pod -o wide) shows it."""
    def check() -> dict[str, str] | None:
        ps = [p for p in pods(cluster, ns, selector) if is_ready(p) and p["status"].get("podIP")
              and not p["metadata"].get("deletionTimestamp")]
        return {p["metadata"]["name"]: p["status"]["podIP"] for p in ps} if len(ps) == n else None
    return wait_for(check, timeout=timeout, interval=0.2, what=f"{n} ready pods {selector} in {ns}")


def get_json(cluster: KubelingCluster, *args: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


# ---- tests ----------------------------------------------------------------------------------------------

def test_statefulset_identity_resolves(cluster: KubelingCluster, ns: str) -> None:
    """Must-show 1: the seed's headless Service + StatefulSet, and an ordinary Service next to it."""
    port = cluster.dns_port
    plain = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain"},
             "spec": {"selector": {"app": "nginx"}, "ports": [{"name": "http", "port": 8080, "targetPort": "web"}]}}
    apply(cluster, ns, headless("nginx", {"app": "nginx"}), plain, statefulset("web", "nginx", 2, {"app": "nginx"}))
    ips = wait_ready(cluster, ns, "app=nginx", 2)
    wide = cluster.kubectl("get", "pod", "web-0", "-n", ns, "-o", "wide").stdout
    assert ips["web-0"] in wide

    def resolved() -> bool:
        return addrs(q(port, f"nginx.{ns}.{ZONE}")) == sorted(ips.values())
    wait_for(resolved, timeout=10, what="headless service answer")

    # <pod>.<service>.<ns>.svc.cluster.local → that pod's IP
    m = q(port, f"web-0.nginx.{ns}.{ZONE}")
    assert rcode(m) == "NOERROR" and addrs(m) == [ips["web-0"]]
    assert m.flags & dns.flags.AA and m.answer[0].ttl == 30
    out = dig(port, f"web-0.nginx.{ns}.{ZONE}", "+short")
    if out is not None:
        assert out.split() == [ips["web-0"]]
        assert sorted(dig(port, f"nginx.{ns}.{ZONE}", "+short").split()) == sorted(ips.values())

    # an ordinary Service → its cluster IP
    cip = cluster.kubectl("get", "svc", "plain", "-n", ns, "-o", "jsonpath={.spec.clusterIP}").stdout
    assert addrs(q(port, f"plain.{ns}.{ZONE}")) == [cip]
    if DIG:
        assert dig(port, f"plain.{ns}.{ZONE}", "+short").split() == [cip]

    # SRV: one per endpoint with its hostname target (headless), the service name (cluster IP)
    m = q(port, f"_web._tcp.nginx.{ns}.{ZONE}", "SRV")
    srv = sorted((r.port, str(r.target), r.weight) for rrset in m.answer for r in rrset)
    assert srv == [(80, f"web-0.nginx.{ns}.{ZONE}.", 50), (80, f"web-1.nginx.{ns}.{ZONE}.", 50)]
    extra = {str(rr.name): str(rr[0]) for rr in m.additional if rr.rdtype == dns.rdatatype.A}
    assert extra == {f"web-0.nginx.{ns}.{ZONE}.": ips["web-0"], f"web-1.nginx.{ns}.{ZONE}.": ips["web-1"]}
    m = q(port, f"_http._tcp.plain.{ns}.{ZONE}", "SRV")
    assert [(r.port, str(r.target)) for rrset in m.answer for r in rrset] == [(8080, f"plain.{ns}.{ZONE}.")]
    if DIG:
        out = dig(port, f"_web._tcp.nginx.{ns}.{ZONE}", "SRV", "+short")
        assert sorted(out.split("\n")) == sorted(["", f"0 50 80 web-0.nginx.{ns}.{ZONE}.",
                                                  f"0 50 80 web-1.nginx.{ns}.{ZONE}."])

    # PTR: the service IP → the service; a pod IP → its hostname under the headless service
    rev = dns.reversename.from_address(cip)
    assert [str(r) for rrset in q(port, str(rev), "PTR").answer for r in rrset] == [f"plain.{ns}.{ZONE}."]
    ptrs = [str(r) for rrset in q(port, str(dns.reversename.from_address(ips["web-0"])), "PTR").answer for r in rrset]
    assert f"web-0.nginx.{ns}.{ZONE}." in ptrs
    if DIG:
        assert f"web-0.nginx.{ns}.{ZONE}." in dig(port, "-x", ips["web-0"], "+short").split()
        assert dig(port, "-x", cip, "+short").split() == [f"plain.{ns}.{ZONE}."]

    # pod records, NXDOMAIN vs NOERROR-empty
    dashed = ips["web-1"].replace(".", "-")
    assert addrs(q(port, f"{dashed}.{ns}.pod.cluster.local")) == [ips["web-1"]]
    for name in (f"web-9.nginx.{ns}.{ZONE}", f"nope.{ns}.{ZONE}", f"nginx.no-such-ns.{ZONE}"):
        m = q(port, name)
        assert rcode(m) == "NXDOMAIN" and m.authority[0].rdtype == dns.rdatatype.SOA, name
    m = q(port, f"nginx.{ns}.{ZONE}", "AAAA")
    assert rcode(m) == "NOERROR" and not m.answer and m.authority[0].rdtype == dns.rdatatype.SOA
    if DIG:
        out = dig(port, f"web-9.nginx.{ns}.{ZONE}")
        assert "status: NXDOMAIN" in out and "flags: qr aa rd" in out
        out = dig(port, f"nginx.{ns}.{ZONE}", "AAAA")
        assert "status: NOERROR" in out and "ANSWER: 0" in out and "AUTHORITY: 1" in out


def test_endpoints_and_slices_shown_by_kubectl(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, headless("nginx", {"app": "nginx"}), statefulset("web", "nginx", 2, {"app": "nginx"}))
    ips = wait_ready(cluster, ns, "app=nginx", 2)
    want = ",".join(f"{ip}:80" for ip in sorted(ips.values()))

    def endpoints_ready() -> bool:
        out = cluster.kubectl("get", "endpoints", "nginx", "-n", ns).stdout
        return all(f"{ip}:80" in out for ip in ips.values())
    wait_for(endpoints_ready, timeout=10, what="endpoints")
    ep = get_json(cluster, "endpoints", "nginx", "-n", ns)
    assert ep["metadata"]["labels"] == {"app": "nginx", "service.kubernetes.io/headless": ""}
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]
    (subset,) = ep["subsets"]
    assert subset["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}]
    by_host = {a["hostname"]: a for a in subset["addresses"]}
    assert set(by_host) == {"web-0", "web-1"}
    assert by_host["web-0"]["ip"] == ips["web-0"] and by_host["web-0"]["targetRef"]["kind"] == "Pod"
    assert by_host["web-0"]["nodeName"]

    slices = get_json(cluster, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=nginx")["items"]
    assert len(slices) == 1
    s = slices[0]
    assert s["metadata"]["name"].startswith("nginx-") and len(s["metadata"]["name"]) == len("nginx-") + 5
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert s["addressType"] == "IPv4" and s["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}]
    eps = {e["hostname"]: e for e in s["endpoints"]}
    assert eps["web-0"]["addresses"] == [ips["web-0"]]
    assert eps["web-0"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert eps["web-0"]["targetRef"]["name"] == "web-0" and eps["web-0"]["nodeName"]

    out = cluster.kubectl("get", "endpointslices", "-n", ns).stdout
    assert s["metadata"]["name"] in out and "IPv4" in out
    desc = cluster.kubectl("describe", "svc", "nginx", "-n", ns).stdout
    line = next(x for x in desc.splitlines() if x.startswith("Endpoints:"))
    assert sorted(line.split()[1].split(",")) == sorted(want.split(","))


def test_delete_pod_drops_record_until_recreated(cluster: KubelingCluster, ns: str) -> None:
    """Must-show 2a: deleting web-0 drops its name until the new web-0 is Ready, then the new IP resolves."""
    port = cluster.dns_port
    apply(cluster, ns, headless("nginx", {"app": "nginx"}), statefulset("web", "nginx", 2, {"app": "nginx"}))
    wait_ready(cluster, ns, "app=nginx", 2)
    name = f"web-0.nginx.{ns}.{ZONE}"
    wait_for(lambda: addrs(q(port, name)), timeout=10, what="web-0 resolves")
    old_uid = get_json(cluster, "pod", "web-0", "-n", ns)["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "web-0", "-n", ns, "--wait=false")
    seen_gone = False
    deadline = time.monotonic() + 60
    new_ip = None
    while time.monotonic() < deadline:
        m = q(port, name)
        if rcode(m) == "NXDOMAIN":
            seen_gone = True
        elif seen_gone:
            pod = get_json(cluster, "pod", "web-0", "-n", ns)
            if pod["metadata"]["uid"] != old_uid and is_ready(pod):
                new_ip = pod["status"]["podIP"]
                if addrs(m) == [new_ip]:
                    break
        time.sleep(0.02)
    assert seen_gone, "web-0 never disappeared from DNS while it was replaced"
    assert new_ip is not None and addrs(q(port, name)) == [new_ip]


def test_not_ready_pods_leave_the_answer_unless_published(cluster: KubelingCluster, ns: str) -> None:
    """Must-show 2b: kubeling.dev/ready=false takes a pod out of the headless answer, except for a Service
    with publishNotReadyAddresses; Endpoints list it under notReadyAddresses."""
    port = cluster.dns_port
    apply(cluster, ns, headless("nginx", {"app": "nginx"}),
          headless("nginx-all", {"app": "nginx"}, publishNotReadyAddresses=True),
          statefulset("web", "nginx", 2, {"app": "nginx"}))
    ips = wait_ready(cluster, ns, "app=nginx", 2)
    both = sorted(ips.values())
    wait_for(lambda: addrs(q(port, f"nginx.{ns}.{ZONE}")) == both, timeout=10, what="both ready")
    cluster.kubectl("annotate", "pod", "web-1", "-n", ns, "kubeling.dev/ready=false", "--overwrite")
    wait_for(lambda: addrs(q(port, f"nginx.{ns}.{ZONE}")) == [ips["web-0"]], timeout=15,
             what="web-1 out of the headless answer")
    assert rcode(q(port, f"web-1.nginx.{ns}.{ZONE}")) == "NXDOMAIN"
    assert addrs(q(port, f"nginx-all.{ns}.{ZONE}")) == both
    if DIG:
        assert dig(port, f"nginx.{ns}.{ZONE}", "+short").split() == [ips["web-0"]]
        assert sorted(dig(port, f"nginx-all.{ns}.{ZONE}", "+short").split()) == both

    def not_ready_listed() -> bool:
        ep = get_json(cluster, "endpoints", "nginx", "-n", ns)
        return [a["ip"] for s in ep.get("subsets", []) for a in s.get("notReadyAddresses", [])] == [ips["web-1"]]
    wait_for(not_ready_listed, timeout=10, what="notReadyAddresses")
    s = get_json(cluster, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=nginx")["items"][0]
    conds = {e["targetRef"]["name"]: e["conditions"] for e in s["endpoints"]}
    assert conds["web-1"] == {"ready": False, "serving": False, "terminating": False}
    s = get_json(cluster, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=nginx-all")["items"][0]
    assert all(e["conditions"]["ready"] for e in s["endpoints"])

    cluster.kubectl("annotate", "pod", "web-1", "-n", ns, "kubeling.dev/ready-")
    wait_for(lambda: addrs(q(port, f"nginx.{ns}.{ZONE}")) == both, timeout=15, what="web-1 back")


def test_resolvable_within_a_second_of_ready(cluster: KubelingCluster, ns: str) -> None:
    port = cluster.dns_port
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "late", "labels": {"app": "late"}, "annotations": {"kubeling.dev/ready": "false"}},
           "spec": {"hostname": "late", "subdomain": "late-svc",
                    "containers": [{"name": "c", "image": "nginx", "ports": [{"name": "web", "containerPort": 80}]}]}}
    apply(cluster, ns, headless("late-svc", {"app": "late"}), pod)
    wait_for(lambda: get_json(cluster, "pod", "late", "-n", ns)["status"].get("podIP"), timeout=30, what="pod IP")
    name = f"late.late-svc.{ns}.{ZONE}"
    assert rcode(q(port, name)) == "NXDOMAIN"
    cluster.kubectl("annotate", "pod", "late", "-n", ns, "kubeling.dev/ready-")
    t_ready = t_dns = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and t_dns is None:
        now = time.monotonic()
        if t_ready is None:
            code, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/late")
            if code == 200 and is_ready(json.loads(body)):
                t_ready = now
        if addrs(q(port, name)):
            t_dns = time.monotonic()
        time.sleep(0.005)
    assert t_ready is not None and t_dns is not None
    assert t_dns - t_ready < 1.0, f"resolvable {t_dns - t_ready:.3f}s after Ready"


def test_named_target_ports_per_pod(cluster: KubelingCluster, ns: str) -> None:
    """A named targetPort resolves per pod: pods with different container ports get separate slices/subsets."""
    def pod(name: str, cport: int) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "mixed"}},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                                         "ports": [{"name": "http", "containerPort": cport}]}]}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mixed"},
           "spec": {"selector": {"app": "mixed"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    apply(cluster, ns, svc, pod("a", 8080), pod("b", 9090))
    ips = wait_ready(cluster, ns, "app=mixed", 2)

    def slices_ok() -> list | None:
        items = get_json(cluster, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=mixed")["items"]
        got = sorted((s["ports"][0]["port"], [e["addresses"][0] for e in s["endpoints"]])
                     for s in items if s.get("endpoints"))
        return got if got == [(8080, [ips["a"]]), (9090, [ips["b"]])] else None
    wait_for(slices_ok, timeout=10, what="one slice per port mapping")
    def subsets_ok() -> bool:
        ep = get_json(cluster, "endpoints", "mixed", "-n", ns)
        got = sorted((s["ports"][0]["port"], s.get("addresses", [{}])[0].get("ip")) for s in ep.get("subsets", []))
        return got == [(8080, ips["a"]), (9090, ips["b"])]
    wait_for(subsets_ok, timeout=10, what="one Endpoints subset per port")
    # SRV for the cluster IP service carries the service port
    m = q(cluster.dns_port, f"_http._tcp.mixed.{ns}.{ZONE}", "SRV")
    assert [r.port for rrset in m.answer for r in rrset] == [80]


def test_selectorless_service_left_alone(cluster: KubelingCluster, ns: str) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
           "spec": {"ports": [{"port": 80}]}}
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual"},
          "subsets": [{"addresses": [{"ip": "192.168.5.5"}], "ports": [{"port": 80}]}]}
    apply(cluster, ns, svc, ep)
    time.sleep(1.5)
    got = get_json(cluster, "endpoints", "manual", "-n", ns)
    assert got["subsets"][0]["addresses"] == [{"ip": "192.168.5.5"}]
    assert "labels" not in got["metadata"]
    assert get_json(cluster, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=manual")["items"] == []
    # an ExternalName Service answers with a CNAME
    apply(cluster, ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                        "spec": {"type": "ExternalName", "externalName": "example.org"}})
    m = wait_for(lambda: q(cluster.dns_port, f"ext.{ns}.{ZONE}").answer, timeout=10, what="CNAME")
    assert m[0].rdtype == dns.rdatatype.CNAME and str(m[0][0]) == "example.org."


def test_big_headless_service_slices_truncation_and_tcp(cluster: KubelingCluster, ns: str) -> None:
    """120 pods: EndpointSlices of at most 100 endpoints each; a UDP answer without EDNS is cut to 512 bytes with TC set; dig retries
    over TCP and gets all 120; the UDP size a client advertises with EDNS0 is honoured."""
    port = cluster.dns_port
    apply(cluster, ns, headless("big", {"app": "big"}), statefulset("big", "big", 120, {"app": "big"}, parallel=True))
    ips = wait_ready(cluster, ns, "app=big", 120, timeout=120)

    def slices() -> list[int] | None:
        items = get_json(cluster, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=big")["items"]
        sizes = sorted(len(s.get("endpoints") or []) for s in items)
        # How the 120 are spread depends on the order pods became ready (upstream never rebalances).
        return sizes if sum(sizes) == 120 and max(sizes) <= 100 else None
    sizes = wait_for(slices, timeout=20, what="120 endpoints in slices of at most 100")
    assert 2 <= len(sizes) <= 3
    name = f"big.{ns}.{ZONE}"
    wait_for(lambda: len(addrs(q(port, name, tcp=True))) == 120, timeout=10, what="120 addresses")
    assert addrs(q(port, name, tcp=True)) == sorted(ips.values())
    m = q(port, name, edns=False)
    assert m.flags & dns.flags.TC and 0 < len(m.answer[0]) < 120 and len(m.to_wire()) <= 512
    m = q(port, name)  # EDNS0, 1232 bytes advertised by default in dnspython? no: make_query uses 1232
    assert len(m.to_wire()) <= max(512, m.payload)
    if DIG:
        out = dig(port, name, "+noedns", "+notcp", "+ignore")
        assert "flags: qr aa tc rd" in out
        out = dig(port, name, "+noedns", "+short")  # dig falls back to TCP on TC
        assert sorted(out.split()) == sorted(ips.values())
        out = dig(port, name, "+tcp")
        assert "ANSWER: 120" in out and "(TCP)" in out


def test_names_outside_the_zone_are_refused(cluster: KubelingCluster) -> None:
    m = q(cluster.dns_port, "example.com")
    assert rcode(m) == "REFUSED" and not m.answer
    if DIG:
        assert "status: REFUSED" in dig(cluster.dns_port, "example.com")
    m = q(cluster.dns_port, "cluster.local", "SOA")
    assert str(m.answer[0][0].mname) == "ns.dns.cluster.local."
    m = q(cluster.dns_port, "cluster.local", "NS")
    assert str(m.answer[0][0]) == "ns.dns.cluster.local."
    assert [str(r[0]) for r in m.additional if r.rdtype == dns.rdatatype.A] == ["10.96.0.10"]
    assert addrs(q(cluster.dns_port, "kubernetes.default.svc.cluster.local")) == ["10.96.0.1"]


def test_stub_resolver(cluster: KubelingCluster) -> None:
    """A stub resolver configured with the cluster DNS (as a pod's resolv.conf would) resolves names."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = cluster.dns_port
    r.search = [dns.name.from_text("default.svc.cluster.local")]
    r.use_search_by_default = True
    ans = r.resolve("kubernetes", "A")
    assert [str(x) for x in ans] == ["10.96.0.1"]
    assert [str(x) for x in r.resolve("kube-dns.kube-system.svc.cluster.local", "A")] == ["10.96.0.10"]


def test_kubeling_dns_command(cluster: KubelingCluster, tmp_path: Any) -> None:
    """`kubeling dns` as its own process answers the same, from the API server over HTTPS."""
    port = free_port()
    log = open(tmp_path / "dns.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kubeling", "dns", "--kubeconfig", cluster.kubeconfig,
                             "--port", str(port), "--dns-upstream", f"127.0.0.1:{cluster.dns_port}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        def answered() -> bool:
            try:
                return addrs(q(port, "kubernetes.default.svc.cluster.local")) == ["10.96.0.1"]
            except (OSError, dns.exception.Timeout):
                return False
        wait_for(answered, timeout=30, what="kubeling dns answering")
        # forwarded to the upstream (the cluster's own DNS, which refuses it)
        assert rcode(q(port, "example.com")) == "REFUSED"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.timeout(180)
def test_restart_converges_without_duplicates(make_cluster: Any) -> None:
    c = make_cluster()
    ns = "restart"
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": ns}}))
    apply(c, ns, headless("nginx", {"app": "nginx"}), statefulset("web", "nginx", 3, {"app": "nginx"}))
    ips = wait_ready(c, ns, "app=nginx", 3)

    def slice_names() -> list[str]:
        return sorted(s["metadata"]["name"] for s in
                      get_json(c, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=nginx")["items"])
    wait_for(lambda: addrs(q(c.dns_port, f"nginx.{ns}.{ZONE}")) == sorted(ips.values()), timeout=10,
             what="answer before restart")
    def endpoints_settled() -> str | None:
        ep = get_json(c, "endpoints", "nginx", "-n", ns)
        n = sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])
        return ep["metadata"]["resourceVersion"] if n == 3 else None
    ep_rv = wait_for(endpoints_settled, timeout=10, what="Endpoints with 3 addresses")
    time.sleep(0.5)
    before = slice_names()
    ep_rv = get_json(c, "endpoints", "nginx", "-n", ns)["metadata"]["resourceVersion"]
    c.stop()
    c.start()
    wait_for(lambda: addrs(q(c.dns_port, f"web-2.nginx.{ns}.{ZONE}")) == [ips["web-2"]], timeout=30,
             what="answer after restart")
    time.sleep(2)
    assert slice_names() == before
    assert get_json(c, "endpoints", "nginx", "-n", ns)["metadata"]["resourceVersion"] == ep_rv

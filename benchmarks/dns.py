"""Cluster DNS benchmark: queries per second and answer latency (p50/p99) from separate client processes over
UDP, against a freshly started kubeling with a 1,000-pod headless Service (a StatefulSet, podManagementPolicy
Parallel, on 10 simulated worker nodes).

Scenarios (each a closed loop of `--clients` processes with `--window` queries in flight per process):
- pod name      `web-<i>.web.bench.svc.cluster.local` A, i random over the 1,000 pods (cache hits)
- headless svc  `web.bench.svc.cluster.local` A: 1,000 records, truncated to the client's EDNS size (1232)
- cluster IP    `plain.bench.svc.cluster.local` A
- SRV           `_http._tcp.plain.bench.svc.cluster.local` SRV (target + address in the additional section)
- NXDOMAIN miss unique non-existent names (never cached: the index lookup + render path)
- latency       one client, one query in flight (pod names): unloaded latency

Also reported: the time from creating the StatefulSet to all 1,000 pods Ready and to all 1,000 names
answering, and how long after a pod turns Ready its name resolves (20 samples).

    python benchmarks/dns.py [--duration 5] [--clients 2] [--window 16] [--pods 1000] [--json out.json|-]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
# This file is named dns.py: keep its directory off the path so `import dns` finds dnspython.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != HERE]

import dns.message  # noqa: E402
import dns.query  # noqa: E402

from kubeling.bench.common import Cluster, machine, node_names  # noqa: E402

NS = "bench"


def setup(c: Cluster, pods: int) -> dict[str, float]:
    objs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
         "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "web", "port": 80}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain", "namespace": NS},
         "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}},
    ]
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": NS},
           "spec": {"serviceName": "web", "replicas": pods, "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.24",
                                                          "ports": [{"name": "web", "containerPort": 80}]}]}}}}
    t0 = time.monotonic()
    c.kubectl("apply", "-f", "-", input=json.dumps(sts))
    t_ready = None
    deadline = t0 + 600
    while time.monotonic() < deadline:
        out = c.kubectl("get", "sts", "web", "-n", NS, "-o", "jsonpath={.status.readyReplicas}")
        if out.strip() == str(pods):
            t_ready = time.monotonic()
            break
        time.sleep(0.5)
    if t_ready is None:
        raise SystemExit("pods did not become ready")
    name = f"web.{NS}.svc.cluster.local"
    while time.monotonic() < deadline:
        m = dns.query.tcp(dns.message.make_query(name, "A"), "127.0.0.1", port=c.dns_port, timeout=5)
        if m.answer and len(m.answer[0]) == pods:
            break
        time.sleep(0.05)
    t_dns = time.monotonic()
    return {"pods_ready_s": round(t_ready - t0, 2), "all_names_answered_s": round(t_dns - t0, 2)}


def ready_to_resolvable(c: Cluster, samples: int, pods: int = 1000) -> dict[str, float]:
    """Take a pod out of Ready (kubeling.dev/ready=false), put it back, and time from the moment the API shows
    it Ready to the moment its name answers."""
    def ready(pod: str) -> bool:
        st = c.get_json(f"/api/v1/namespaces/{NS}/pods/{pod}").get("status") or {}
        return any(x.get("type") == "Ready" and x.get("status") == "True" for x in st.get("conditions") or ())

    def answers(pod: str) -> bool:
        m = dns.query.udp(dns.message.make_query(f"{pod}.web.{NS}.svc.cluster.local", "A"), "127.0.0.1",
                          port=c.dns_port, timeout=2)
        return bool(m.answer)

    lat = []
    for i in range(samples):
        pod = f"web-{i * 37 % pods}"
        c.kubectl("annotate", "pod", pod, "-n", NS, "kubeling.dev/ready=false", "--overwrite")
        deadline = time.monotonic() + 30
        while answers(pod) and time.monotonic() < deadline:
            time.sleep(0.01)
        c.kubectl("annotate", "pod", pod, "-n", NS, "kubeling.dev/ready-")
        t_ready = t_dns = None
        while time.monotonic() < deadline and t_dns is None:
            now = time.monotonic()
            if t_ready is None and ready(pod):
                t_ready = now
            if answers(pod):
                t_dns = time.monotonic()
                if t_ready is None:
                    t_ready = t_dns
            time.sleep(0.002)
        if t_ready is not None and t_dns is not None:
            lat.append(t_dns - t_ready)
    lat.sort()
    return {"samples": len(lat), "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "max_ms": round(lat[-1] * 1000, 1) if lat else None}


# ---- load generation ------------------------------------------------------------------------------------

def _client(port: int, scenario: str, pods: int, duration: float, window: int, seed: int, out: Any) -> None:
    rnd = random.Random(seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(1.0)

    def wire(name: str, rdtype: str = "A") -> bytes:
        return dns.message.make_query(name, rdtype, use_edns=0, payload=1232).to_wire()

    if scenario in ("pod name", "latency"):
        pool = [wire(f"web-{i}.web.{NS}.svc.cluster.local") for i in range(pods)]
    elif scenario == "headless svc":
        pool = [wire(f"web.{NS}.svc.cluster.local")]
    elif scenario == "cluster IP":
        pool = [wire(f"plain.{NS}.svc.cluster.local")]
    elif scenario == "SRV":
        pool = [wire(f"_http._tcp.plain.{NS}.svc.cluster.local", "SRV")]
    else:
        pool = []
    seq = seed * 7919

    def next_query() -> bytes:
        nonlocal seq
        seq += 1
        if scenario == "NXDOMAIN miss":
            return wire(f"nope-{seed}-{seq}.{NS}.svc.cluster.local")
        return pool[rnd.randrange(len(pool))]

    lat: list[float] = []
    errors = 0
    inflight: dict[int, float] = {}
    next_id = rnd.randrange(65536)
    end = time.perf_counter() + duration

    def send() -> None:
        nonlocal next_id
        next_id = (next_id + 1) & 0xFFFF
        q = next_query()
        inflight[next_id] = time.perf_counter()
        sock.send(next_id.to_bytes(2, "big") + q[2:])

    for _ in range(window):
        send()
    while time.perf_counter() < end:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            errors += len(inflight)
            inflight.clear()
            for _ in range(window):
                send()
            continue
        qid = int.from_bytes(data[:2], "big")
        t0 = inflight.pop(qid, None)
        if t0 is None:
            continue
        rc = data[3] & 0xF
        want = 3 if scenario == "NXDOMAIN miss" else 0
        if rc != want:
            errors += 1
        lat.append(time.perf_counter() - t0)
        send()
    out.put((lat, errors))


def run_scenario(port: int, scenario: str, pods: int, duration: float, clients: int, window: int) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(port, scenario, pods, duration, window, i + 1, q))
             for i in range(clients)]
    for p in procs:
        p.start()
    lat: list[float] = []
    errors = 0
    for _ in procs:
        lt, e = q.get()
        lat += lt
        errors += e
    for p in procs:
        p.join()
    lat.sort()
    n = len(lat)
    return {"scenario": scenario, "clients": clients, "in_flight": clients * window, "queries": n, "errors": errors,
            "qps": round(n / duration), "p50_ms": round(lat[n // 2] * 1000, 3) if n else None,
            "p99_ms": round(lat[min(n - 1, int(n * 0.99))] * 1000, 3) if n else None}


def print_table(rows: list[dict[str, Any]]) -> None:
    hdr = f"{'scenario':<16} {'in flight':>9} {'queries':>9} {'errors':>6} {'qps':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['scenario']:<16} {r['in_flight']:>9} {r['queries']:>9} {r['errors']:>6} {r['qps']:>8} "
              f"{r['p50_ms']:>8} {r['p99_ms']:>8}")


def run(a: argparse.Namespace) -> dict[str, Any]:
    """One fresh cluster, the setup, every scenario; also `kubeling bench dns`."""
    if shutil.which("kubectl") is None:
        raise SystemExit("kubectl not found")
    c = Cluster(node_names(a.nodes), ready_timeout=60)  # master + `nodes` workers; own temp dir
    try:
        t = setup(c, a.pods)
        rows = []
        for sc in ("pod name", "headless svc", "cluster IP", "SRV", "NXDOMAIN miss"):
            rows.append(run_scenario(c.dns_port, sc, a.pods, a.duration, a.clients, a.window))
        rows.append(run_scenario(c.dns_port, "latency", a.pods, a.duration, 1, 1))
        prop = ready_to_resolvable(c, a.samples, a.pods)
    finally:
        c.stop()  # also removes the temp dir
    return {"machine": machine("cpu", "cores", "python", "platform"), "pods": a.pods, "duration_s": a.duration, "results": rows, "setup": t,
            "ready_to_resolvable": prop}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=2, help="client processes")
    ap.add_argument("--window", type=int, default=16, help="queries in flight per client process")
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=10, help="simulated worker nodes (110 pods each)")
    ap.add_argument("--samples", type=int, default=20, help="Ready→resolvable samples")
    ap.add_argument("--json", default=None, help="write results as JSON to this file ('-' for stdout)")
    a = ap.parse_args()
    result = run(a)
    rows, t, prop = result["results"], result["setup"], result["ready_to_resolvable"]
    print(f"kubeling cluster DNS, {a.pods}-pod headless Service; {a.clients} client processes x {a.window} "
          f"queries in flight, {a.duration:g}s per scenario, UDP")
    print_table(rows)
    print(f"\nsetup: {a.pods} pods Ready {t['pods_ready_s']}s after the StatefulSet was created; all names "
          f"answering after {t['all_names_answered_s']}s")
    print(f"pod Ready → name resolvable: p50 {prop['p50_ms']} ms, max {prop['max_ms']} ms ({prop['samples']} samples)")
    if a.json == "-":
        print(json.dumps(result, indent=2))
    elif a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

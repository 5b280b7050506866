"""API server benchmark: GET, LIST (1,000 pods), CREATE (ConfigMaps and Pods), UPDATE and WATCH fan-out,
driven from this process over HTTPS with keep-alive against a freshly started kubeling, plus the same
CREATE/GET load against a bare aiohttp + SQLite baseline (the ceiling for this stack on this machine).

The pods of "CREATE pod" are bound (spec.nodeName) to a node no agent runs, so the figure is the API
server's (defaulting, validation, admission, storage, informer fan-out), not the scheduler's or kubelet's.
Also `kubeling bench api` (this module's run()).

    python benchmarks/api.py [--duration 5] [--concurrency 32] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import orjson

from kubeling.bench.common import Cluster, dump_json, free_port, machine

HERE = os.path.dirname(os.path.abspath(__file__))


class Server:
    """A kubeling (or baseline) server process."""

    def __init__(self, args: list[str], url: str, ca: str, token: str | None, log: str) -> None:
        self.url, self.ca, self.token = url, ca, token
        self.logf = open(log, "wb")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf)

    def wait_ready(self, path: str = "/readyz", timeout: float = 60) -> None:
        import urllib.request

        ctx = ssl.create_default_context(cafile=self.ca)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + path, context=ctx, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.logf.close()


class Kubeling(Server):
    """A fresh kubeling (one simulated node) in tmp/kubeling, seen through the Server interface."""

    def __init__(self, tmp: str) -> None:
        self.cluster = Cluster(["node1"], tmp=os.path.join(tmp, "kubeling"))
        self.url, self.ca, self.token = self.cluster.url, self.cluster.ca, self.cluster.token()

    def stop(self) -> None:
        self.cluster.stop()


def start_kubeling(tmp: str) -> Server:
    return Kubeling(tmp)


def start_baseline(tmp: str, ca: str, cert: str, key: str) -> Server:
    port = free_port()
    args = [sys.executable, os.path.join(HERE, "baseline_server.py"), str(port), os.path.join(tmp, "baseline.db"),
            cert, key]
    srv = Server(args, f"https://127.0.0.1:{port}", ca, None, os.path.join(tmp, "baseline.log"))
    srv.wait_ready("/healthz")
    return srv


def session(srv: Server, conns: int) -> aiohttp.ClientSession:
    ctx = ssl.create_default_context(cafile=srv.ca)
    headers = {"Content-Type": "application/json"}
    if srv.token:
        headers["Authorization"] = f"Bearer {srv.token}"
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=conns, keepalive_timeout=60),
                                 headers=headers)


async def closed_loop(name: str, make_request, concurrency: int, duration: float) -> dict[str, Any]:
    """Run `concurrency` workers issuing requests back to back for `duration` seconds."""
    lat: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration
    counter = 0

    async def worker(wid: int) -> None:
        nonlocal errors, counter
        while time.perf_counter() < stop_at:
            counter += 1
            t0 = time.perf_counter()
            ok = await make_request(wid, counter)
            lat.append(time.perf_counter() - t0)
            if not ok:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - t0
    lat.sort()
    return {"scenario": name, "requests": len(lat), "errors": errors, "seconds": round(elapsed, 3),
            "rps": round(len(lat) / elapsed, 1),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2) if lat else None}


def _cm(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"b": "1"}},
                         "data": {"k": "v" * 64}})


def _pod(name: str) -> bytes:
    # Bound to a node no agent runs: only the API server (and the informers it feeds) work on it.
    return orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "cp"}},
                         "spec": {"nodeName": "bench-no-agent",
                                  "containers": [{"name": "c", "image": "nginx:1.7.9",
                                                  "ports": [{"containerPort": 80}],
                                                  "resources": {"requests": {"cpu": "10m"}}}]}})


async def bench_kubeling(srv: Server, duration: float, conc: int, watchers: int,
                         n_pods: int = 1000) -> list[dict[str, Any]]:
    out = []
    base = srv.url
    async with session(srv, conc + watchers + 4) as s:
        await s.post(base + "/api/v1/namespaces", data=orjson.dumps({"metadata": {"name": "bench"}}))
        async with s.post(base + "/api/v1/namespaces/bench/serviceaccounts",
                          data=orjson.dumps({"metadata": {"name": "default"}})) as r:
            await r.read()  # pods need it; do not race the service account controller
        ns = base + "/api/v1/namespaces/bench"

        async def create(wid: int, i: int) -> bool:
            async with s.post(ns + "/configmaps", data=_cm(f"cm-{wid}-{i}")) as r:
                await r.read()
                return r.status == 201

        out.append(await closed_loop("CREATE configmap", create, conc, duration))

        # in a namespace of their own, so that the LIST below lists exactly n_pods pods
        await s.post(base + "/api/v1/namespaces", data=orjson.dumps({"metadata": {"name": "bench-cp"}}))
        cp_ns = base + "/api/v1/namespaces/bench-cp"
        async with s.post(cp_ns + "/serviceaccounts", data=orjson.dumps({"metadata": {"name": "default"}})) as r:
            await r.read()  # the service account controller may not have made it yet

        async def create_pod(wid: int, i: int) -> bool:
            async with s.post(cp_ns + "/pods", data=_pod(f"cp-{wid}-{i}")) as r:
                await r.read()
                return r.status == 201

        out.append(await closed_loop("CREATE pod", create_pod, conc, duration))

        async def get(wid: int, i: int) -> bool:
            async with s.get(ns + "/configmaps/cm-0-1") as r:
                await r.read()
                return r.status == 200

        # make sure the object exists whatever worker 0 created first
        await s.post(ns + "/configmaps", data=_cm("cm-0-1"))
        out.append(await closed_loop("GET configmap", get, conc, duration))

        async def update(wid: int, i: int) -> bool:
            body = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": f"upd-{wid}"}, "data": {"i": str(i)}})
            async with s.put(ns + f"/configmaps/upd-{wid}", data=body) as r:
                await r.read()
                return r.status == 200

        for w in range(conc):
            await s.post(ns + "/configmaps", data=orjson.dumps({"metadata": {"name": f"upd-{w}"}}))
        out.append(await closed_loop("UPDATE configmap (PUT)", update, conc, duration))

        # LIST of 1,000 pods
        pod_ns = base + "/api/v1/namespaces/bench/pods"
        sem = asyncio.Semaphore(conc)

        async def mkpod(i: int) -> None:
            async with sem:
                body = orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p-{i}",
                                                                                       "labels": {"app": "bench"}},
                                     "spec": {"nodeName": "node1",
                                              "containers": [{"name": "c", "image": "nginx:1.7.9"}]}})
                async with s.post(pod_ns, data=body) as r:
                    await r.read()

        await asyncio.gather(*(mkpod(i) for i in range(n_pods)))
        await asyncio.sleep(2.0)  # let the simulated kubelet settle the pods

        async def list_pods(wid: int, i: int) -> bool:
            async with s.get(pod_ns) as r:
                body = await r.read()
                return r.status == 200 and len(body) > 100 * n_pods

        res = await closed_loop(f"LIST {n_pods:,} pods", list_pods, min(conc, 8), duration)
        out.append(res)

        # WATCH fan-out: `watchers` watch streams on configmaps; measure delivered events/s.
        async with s.get(ns + "/configmaps?limit=1") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        n_events = 200
        received = [0] * watchers
        done = asyncio.Event()
        first_sent = [0.0]
        last_recv = [0.0]

        async def watcher(idx: int) -> None:
            async with s.get(ns + f"/configmaps?watch=1&resourceVersion={rv}&labelSelector=w%3D1",
                             timeout=aiohttp.ClientTimeout(total=None)) as r:
                async for _line in r.content:
                    received[idx] += 1
                    if received[idx] >= n_events:
                        last_recv[0] = max(last_recv[0], time.perf_counter())
                        if all(x >= n_events for x in received):
                            done.set()
                        return

        tasks = [asyncio.create_task(watcher(i)) for i in range(watchers)]
        await asyncio.sleep(1.0)
        first_sent[0] = time.perf_counter()
        wsem = asyncio.Semaphore(conc)

        async def mk(i: int) -> None:
            async with wsem:
                body = orjson.dumps({"metadata": {"name": f"w-{i}", "labels": {"w": "1"}}, "data": {"i": str(i)}})
                async with s.post(ns + "/configmaps", data=body) as r:
                    await r.read()

        await asyncio.gather(*(mk(i) for i in range(n_events)))
        try:
            await asyncio.wait_for(done.wait(), 60)
        except TimeoutError:
            pass
        for t in tasks:
            t.cancel()
        total = sum(received)
        el = (last_recv[0] or time.perf_counter()) - first_sent[0]
        out.append({"scenario": f"WATCH fan-out ({watchers} watchers x {n_events} events)", "requests": total,
                    "errors": watchers * n_events - total, "seconds": round(el, 3),
                    "rps": round(total / el, 1) if el > 0 else None, "p50_ms": None, "p99_ms": None})
    return out


async def bench_baseline(srv: Server, duration: float, conc: int) -> list[dict[str, Any]]:
    out = []
    async with session(srv, conc + 2) as s:
        async def create(wid: int, i: int) -> bool:
            async with s.post(srv.url + "/objects", data=_cm(f"cm-{wid}-{i}")) as r:
                await r.read()
                return r.status == 201

        out.append(await closed_loop("baseline CREATE (aiohttp+SQLite)", create, conc, duration))

        async def get(wid: int, i: int) -> bool:
            async with s.get(srv.url + "/objects/cm-0-1") as r:
                await r.read()
                return r.status == 200

        await s.post(srv.url + "/objects", data=_cm("cm-0-1"))
        out.append(await closed_loop("baseline GET (aiohttp+SQLite)", get, conc, duration))
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    hdr = f"{'scenario':<48} {'req':>8} {'err':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['scenario']:<48} {r['requests']:>8} {r['errors']:>5} {r['rps'] or '-':>10} "
              f"{r['p50_ms'] if r['p50_ms'] is not None else '-':>8} {r['p99_ms'] if r['p99_ms'] is not None else '-':>8}")


KEYS = {"CREATE configmap": "create", "CREATE pod": "create_pod", "GET configmap": "get",
        "UPDATE configmap (PUT)": "update", "baseline CREATE (aiohttp+SQLite)": "baseline_create",
        "baseline GET (aiohttp+SQLite)": "baseline_get"}


def run(duration: float = 5.0, concurrency: int = 32, watchers: int = 100, pods: int = 1000) -> dict[str, Any]:
    """kubeling, then the bare baseline; flat figures (req/s, p50/p99 ms, ratios) plus the rows."""
    tmp = tempfile.mkdtemp(prefix="kubeling-bench-api-")
    results: list[dict[str, Any]] = []
    try:
        srv = start_kubeling(tmp)
        try:
            results += asyncio.run(bench_kubeling(srv, duration, concurrency, watchers, pods))
        finally:
            srv.stop()
        pki = os.path.join(tmp, "kubeling", "data", "pki")
        base = start_baseline(tmp, os.path.join(pki, "ca.crt"), os.path.join(pki, "apiserver.crt"),
                              os.path.join(pki, "apiserver.key"))
        try:
            results += asyncio.run(bench_baseline(base, duration, concurrency))
        finally:
            base.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    flat: dict[str, Any] = {}
    for r in results:
        name = r["scenario"]
        key = KEYS.get(name) or ("list" if name.startswith("LIST") else "watch" if name.startswith("WATCH") else name)
        flat[f"{key}_rps"] = r["rps"]
        if r["p50_ms"] is not None:
            flat[f"{key}_p50_ms"] = r["p50_ms"]
            flat[f"{key}_p99_ms"] = r["p99_ms"]
        if r["errors"]:
            flat[f"{key}_errors"] = r["errors"]
    for op in ("create", "get"):
        if flat.get(f"baseline_{op}_rps") and f"{op}_rps" in flat:
            flat[f"ratio_{op}"] = round(flat[f"{op}_rps"] / flat[f"baseline_{op}_rps"], 3)
    flat["rows"] = results
    return flat


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--pods", type=int, default=1000, help="pods in the LIST benchmark")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    res = run(a.duration, a.concurrency, a.watchers, a.pods)
    print_table(res["rows"])
    ratios = {k[6:].upper(): v for k, v in res.items() if k.startswith("ratio_")}
    print("\nkubeling / baseline throughput:", ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if a.json:
        dump_json({"machine": machine(), "args": vars(a), "results": res.pop("rows"), "figures": res,
                   "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

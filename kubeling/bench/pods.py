"""Bare pods: create N pods (no controller) on a cluster of W simulated worker nodes over HTTPS and time
until every one is Running and Ready (scheduler → binding → simulated kubelet), plus kubeling's peak
memory. Issue 3's benchmark: 1,000 pods on 100 nodes.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from .common import Cluster, ReadyWatch, ensure_namespace, is_ready, session

NAME = "pods"
DESCRIPTION = "bare pods on simulated nodes: create → all Running+Ready; peak RSS"
DEFAULT_RUNS = 3
PARAMS = {"full": {"pods": 1000, "nodes": 100, "concurrency": 32},
          "tiny": {"pods": 20, "nodes": 3, "concurrency": 8}}
NS = "bench-pods"


def pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "labels": {"app": "bench-pods"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.7.9",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


async def _load(c: Cluster, n: int, conc: int) -> dict[str, float]:
    async with session(c, conc + 2) as s:
        watch = ReadyWatch(s, f"/api/v1/namespaces/{NS}/pods", is_ready, n)
        await watch.start()
        await asyncio.sleep(0.2)
        sem = asyncio.Semaphore(conc)
        errors = 0

        async def one(i: int) -> None:
            nonlocal errors
            async with sem:
                async with s.post(f"/api/v1/namespaces/{NS}/pods", data=_body(i)) as r:
                    await r.read()
                    if r.status != 201:
                        errors += 1

        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        created = time.monotonic() - t0
        if errors:
            raise RuntimeError(f"{errors} pod creations failed")
        done = await watch.wait(600)
        return {"create_s": round(created, 3), "all_ready_s": round(done - t0, 3),
                "first_ready_s": round((watch.first_at or done) - t0, 3)}


def _body(i: int) -> bytes:
    import orjson

    return orjson.dumps(pod(i))


def run(p: dict[str, Any]) -> dict[str, Any]:
    with Cluster(p["nodes"]) as c:  # master (tainted) + `nodes` workers
        nodes_ready = c.wait_nodes_ready()
        ensure_namespace(c, NS)
        before = c.mem()
        cpu0 = c.cpu()
        res = asyncio.run(_load(c, p["pods"], p["concurrency"]))
        res["cpu_s"] = round(c.cpu() - cpu0, 2)
        mem = c.mem()
        res["pods_per_s"] = round(p["pods"] / res["all_ready_s"], 1)
        res["peak_rss_mib"] = mem.get("peak_rss_mib")
        res["rss_mib"] = mem.get("rss_mib")
        res["rss_before_mib"] = before.get("rss_mib")
        res["nodes_ready_s"] = round(c.started_in + nodes_ready, 3)
        return res

"""Deployment benchmark: a 1,000-replica Deployment to all available, then a full rolling update.

Starts a fresh kubeling (`kubeling up --node-count N --pod-start-delay 0`, temp data dir, free ports),
waits for every node to be Ready, then measures with the official `kubernetes` client:

- create   a Deployment of `--replicas` (RollingUpdate, maxSurge/maxUnavailable 25% by default) →
           availableReplicas == updatedReplicas == replicas for the observed generation, and every
           pod Ready (checked on a full pod list);
- rollout  a new image (what `kubectl set image` sends) → the rollout is complete as `kubectl rollout
           status` judges it (updated == replicas == available, no old replicas left), every live pod
           runs the new image; the peak status.replicas and the lowest status.availableReplicas seen
           while polling are reported next to the replicas+maxSurge / replicas-maxUnavailable bounds;
- memory   the kubeling process's peak RSS (VmHWM) and current RSS.

    python benchmarks/deployment.py [--replicas 1000] [--nodes 100] [--json out.json|-] [--keep]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from typing import Any

from kubeling.bench.common import Cluster, machine, node_count, proc_status

NS = "bench"
NAME = "web"
POLL = 0.2


def deployment(replicas: int, max_surge: str, max_unavailable: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}},
            "template": {"metadata": {"labels": {"app": NAME}},
                         "spec": {"terminationGracePeriodSeconds": 0,
                                  "containers": [{"name": "nginx", "image": image}]}},
        },
    }


def scaled(v: str, total: int, round_up: bool) -> int:
    if v.endswith("%"):
        x = int(v[:-1]) * total
        return -((-x) // 100) if round_up else x // 100
    return int(v)


def wait_nodes_ready(core: Any, want: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        ready = 0
        for n in core.list_node().items:
            for c in n.status.conditions or ():
                if c.type == "Ready" and c.status == "True":
                    ready += 1
        if ready >= want:
            return time.monotonic() - t0
        time.sleep(0.5)
    raise SystemExit(f"nodes not Ready after {timeout}s")


def poll_until(apps: Any, done: Any, timeout: float, on_status: Any = None) -> float:
    t0 = time.monotonic()
    while True:
        d = apps.read_namespaced_deployment_status(NAME, NS)
        if on_status is not None:
            on_status(d)
        if done(d):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            st = d.status
            raise SystemExit(f"timed out after {timeout}s: replicas={st.replicas} updated={st.updated_replicas} "
                             f"ready={st.ready_replicas} available={st.available_replicas}")
        time.sleep(POLL)


def pods_summary(core: Any) -> tuple[int, int, set[str]]:
    """(live pods, Ready live pods, images of live pods) of the Deployment."""
    live = ready = 0
    images: set[str] = set()
    for p in core.list_namespaced_pod(NS, label_selector=f"app={NAME}").items:
        if p.metadata.deletion_timestamp:
            continue
        live += 1
        images.add(p.spec.containers[0].image)
        if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or ())):
            ready += 1
    return live, ready, images


def run(args: argparse.Namespace) -> dict[str, Any]:
    from kubernetes import client, config

    tmp = tempfile.mkdtemp(prefix="kubeling-bench-deploy-") if args.keep else None  # else the Cluster's own
    cluster = Cluster(node_count(args.nodes), tmp=tmp)
    try:
        api = config.new_client_from_config(config_file=cluster.kubeconfig)
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        nodes_ready = wait_nodes_ready(core, args.nodes, 300)
        core.create_namespace({"metadata": {"name": NS}})
        n = args.replicas
        surge = scaled(args.max_surge, n, True)
        unavailable = scaled(args.max_unavailable, n, False)

        # ---- create → all available
        t0 = time.monotonic()
        apps.create_namespaced_deployment(NS, deployment(n, args.max_surge, args.max_unavailable, "nginx:1.7.9"))

        def available(d: Any) -> bool:
            st = d.status
            return (st.observed_generation or 0) >= d.metadata.generation and st.updated_replicas == n \
                and st.available_replicas == n and st.replicas == n
        poll_until(apps, available, args.timeout)
        create_s = time.monotonic() - t0
        live, ready, _ = pods_summary(core)
        if (live, ready) != (n, n):
            raise SystemExit(f"after create: {live} live pods, {ready} Ready (want {n})")

        # ---- full rolling update
        peak_total = 0
        low_available = n

        def track(d: Any) -> None:
            nonlocal peak_total, low_available
            st = d.status
            peak_total = max(peak_total, st.replicas or 0)
            if (st.observed_generation or 0) >= d.metadata.generation:
                low_available = min(low_available, st.available_replicas or 0)

        t0 = time.monotonic()
        apps.patch_namespaced_deployment(NAME, NS, {"spec": {"template": {"spec": {"containers": [
            {"name": "nginx", "image": "nginx:1.9"}]}}}})

        def rolled_out(d: Any) -> bool:
            st = d.status
            return (st.observed_generation or 0) >= d.metadata.generation and st.updated_replicas == n \
                and st.replicas == n and st.available_replicas == n
        poll_until(apps, rolled_out, args.timeout, track)
        rollout_s = time.monotonic() - t0
        live, ready, images = pods_summary(core)
        if (live, ready, images) != (n, n, {"nginx:1.9"}):
            raise SystemExit(f"after rollout: {live} live pods, {ready} Ready, images {images}")
        rss = apps.list_namespaced_replica_set(NS).items
        mem = proc_status(cluster.pid)
        return {
            "machine": machine("cpu", "cores", "python", "platform"),
            "config": {"replicas": n, "nodes": args.nodes, "max_surge": args.max_surge,
                       "max_unavailable": args.max_unavailable, "pod_start_delay": 0},
            "startup_s": round(cluster.started_in, 2),
            "nodes_ready_s": round(nodes_ready, 2),
            "create_to_available_s": round(create_s, 2),
            "rolling_update_s": round(rollout_s, 2),
            "rollout_peak_replicas": peak_total,
            "rollout_replicas_bound": n + surge,
            "rollout_lowest_available": low_available,
            "rollout_available_bound": n - unavailable,
            "replica_sets": len(rss),
            "peak_rss_mib": round(mem.get("VmHWM", 0) / 1024, 1),
            "rss_mib": round(mem.get("VmRSS", 0) / 1024, 1),
        }
    finally:
        cluster.stop()  # removes the temp dir unless --keep
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--max-surge", default="25%")
    ap.add_argument("--max-unavailable", default="25%")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", default=None, help="write results as JSON to this file ('-' for stdout)")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir and log")
    args = ap.parse_args()
    res = run(args)
    rows = [
        ("kubeling up to ready", f"{res['startup_s']:.2f} s"),
        (f"{args.nodes} nodes Ready", f"{res['nodes_ready_s']:.2f} s"),
        (f"create → {args.replicas} available", f"{res['create_to_available_s']:.2f} s"),
        ("rolling update (set image) complete", f"{res['rolling_update_s']:.2f} s"),
        ("peak status.replicas (bound)", f"{res['rollout_peak_replicas']} (≤ {res['rollout_replicas_bound']})"),
        ("lowest availableReplicas (bound)",
         f"{res['rollout_lowest_available']} (≥ {res['rollout_available_bound']})"),
        ("peak RSS / RSS", f"{res['peak_rss_mib']} / {res['rss_mib']} MiB"),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"Deployment benchmark — {res['machine']['cpu']} ({res['machine']['cores']} cores), "
          f"Python {res['machine']['python']}")
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    if args.json:
        data = json.dumps(res, indent=2)
        if args.json == "-":
            print(data)
        else:
            with open(args.json, "w") as f:
                f.write(data + "\n")


if __name__ == "__main__":
    main()

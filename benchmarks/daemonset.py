"""DaemonSet benchmark: one daemon pod on each of 5,000 simulated nodes.

Starts a fresh kubeling (`kubeling up --node-count N --pod-start-delay 0`, temp data dir, free ports),
waits for every node to be Ready, then measures with the official `kubernetes` client:

- create   a DaemonSet (updateStrategy RollingUpdate, maxUnavailable 10%) → every eligible node runs a
           Ready pod of it (status.numberReady == desiredNumberScheduled, checked against the pods too);
- update   a new image → the full rolling update is done (updatedNumberScheduled == numberAvailable ==
           desiredNumberScheduled for the new generation); the peak numberUnavailable seen while
           polling is reported next to the maxUnavailable bound;
- memory   the kubeling process's peak RSS (VmHWM in /proc/<pid>/status) and current RSS.

    python benchmarks/daemonset.py [--nodes 5000] [--max-unavailable 10%] [--json out.json|-] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from typing import Any

from kubeling.bench.common import Cluster, machine, node_count, proc_status

NS = "bench"
NAME = "bench-ds"
POLL = 0.25


def daemonset(max_unavailable: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": NAME}},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": max_unavailable}},
            "template": {"metadata": {"labels": {"app": NAME}},
                         "spec": {"containers": [{"name": "agent", "image": image}]}},
        },
    }


def scaled(v: str, total: int) -> int:
    if v.endswith("%"):
        return -((-int(v[:-1]) * total) // 100)
    return int(v)


def wait_nodes_ready(core: Any, want: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        nodes = core.list_node().items
        ready = 0
        for n in nodes:
            for c in n.status.conditions or ():
                if c.type == "Ready" and c.status == "True":
                    ready += 1
        if ready >= want:
            return time.monotonic() - t0
        time.sleep(1.0)
    raise SystemExit(f"nodes not Ready after {timeout}s")


def eligible_nodes(core: Any) -> int:
    """Nodes without NoSchedule/NoExecute taints (the daemon pods carry no extra tolerations)."""
    n = 0
    for node in core.list_node().items:
        taints = [t for t in (node.spec.taints or ()) if t.effect in ("NoSchedule", "NoExecute")]
        if not taints:
            n += 1
    return n


def poll_until(apps: Any, done: Any, timeout: float, on_status: Any = None) -> float:
    t0 = time.monotonic()
    while True:
        ds = apps.read_namespaced_daemon_set_status(NAME, NS)
        if on_status is not None:
            on_status(ds)
        if done(ds):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            st = ds.status
            raise SystemExit(f"timed out after {timeout}s: desired={st.desired_number_scheduled} "
                             f"current={st.current_number_scheduled} ready={st.number_ready} "
                             f"updated={st.updated_number_scheduled} available={st.number_available}")
        time.sleep(POLL)


def count_ready_pods(core: Any) -> tuple[int, int]:
    """(Ready pods, distinct nodes among them) of the DaemonSet, from a full pod list."""
    pods = core.list_namespaced_pod(NS, label_selector=f"app={NAME}").items
    nodes = set()
    ready = 0
    for p in pods:
        if p.metadata.deletion_timestamp:
            continue
        if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or ())):
            ready += 1
            nodes.add(p.spec.node_name)
    return ready, len(nodes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from kubernetes import client, config

    tmp = tempfile.mkdtemp(prefix="kubeling-bench-ds-") if args.keep else None  # else the Cluster's own
    cluster = Cluster(node_count(args.nodes), tmp=tmp)
    res: dict[str, Any] = {"nodes": args.nodes, "max_unavailable": args.max_unavailable,
                           "machine": machine("cpu", "cores", "python", "platform"),
                           "api_ready_s": round(cluster.started_in, 2),
                           "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        api = config.new_client_from_config(config_file=cluster.kubeconfig)
        api.configuration.retries = 3
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        res["nodes_ready_s"] = round(wait_nodes_ready(core, args.nodes, args.timeout), 2)
        desired = eligible_nodes(core)
        res["desired"] = desired
        res["rss_before_kib"] = proc_status(cluster.pid).get("VmRSS")
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})

        # ---- create: every eligible node runs a Ready pod -------------------------------------------
        t0 = time.monotonic()
        apps.create_namespaced_daemon_set(NS, daemonset(args.max_unavailable, "nginx:1.7.9"))
        marks: dict[str, float] = {}

        def created(ds: Any) -> None:
            st = ds.status
            if "all_created_s" not in marks and (st.current_number_scheduled or 0) >= desired:
                marks["all_created_s"] = time.monotonic() - t0

        poll_until(apps, lambda ds: (ds.status.desired_number_scheduled == desired
                                     and (ds.status.number_ready or 0) == desired
                                     and (ds.status.observed_generation or 0) >= ds.metadata.generation),
                   args.timeout, created)
        res["create_all_ready_s"] = round(time.monotonic() - t0, 2)
        res["create_all_scheduled_s"] = round(marks.get("all_created_s", res["create_all_ready_s"]), 2)
        ready, on_nodes = count_ready_pods(core)
        res["create_ready_pods"], res["create_distinct_nodes"] = ready, on_nodes
        res["rss_after_create_kib"] = proc_status(cluster.pid).get("VmRSS")

        # ---- full rolling update with maxUnavailable ---------------------------------------------
        bound = scaled(args.max_unavailable, desired)
        peak = {"unavailable": 0}

        def track(ds: Any) -> None:
            st = ds.status
            if (ds.status.observed_generation or 0) >= ds.metadata.generation:
                peak["unavailable"] = max(peak["unavailable"], (st.number_unavailable or 0))

        t1 = time.monotonic()
        apps.patch_namespaced_daemon_set(NAME, NS, {"spec": {"template": {"spec": {"containers": [
            {"name": "agent", "image": "nginx:1.9.1"}]}}}})
        gen = apps.read_namespaced_daemon_set(NAME, NS).metadata.generation
        poll_until(apps, lambda ds: ((ds.status.observed_generation or 0) >= gen
                                     and (ds.status.updated_number_scheduled or 0) == desired
                                     and (ds.status.number_available or 0) == desired), args.timeout, track)
        res["rolling_update_s"] = round(time.monotonic() - t1, 2)
        res["rolling_update_max_unavailable_bound"] = bound
        res["rolling_update_peak_unavailable_seen"] = peak["unavailable"]
        ready, on_nodes = count_ready_pods(core)
        res["update_ready_pods"], res["update_distinct_nodes"] = ready, on_nodes
        mem = proc_status(cluster.pid)
        res["peak_rss_mib"] = round(mem.get("VmHWM", 0) / 1024, 1)
        res["rss_end_mib"] = round(mem.get("VmRSS", 0) / 1024, 1)
        res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        api.close()
    finally:
        cluster.stop()  # removes the temp dir unless --keep
        if args.keep:
            res["data_dir"] = tmp
    return res


def table(res: dict[str, Any]) -> str:
    rows = [
        ("nodes (eligible)", f"{res['nodes']} ({res['desired']})"),
        ("API server ready", f"{res['api_ready_s']} s"),
        ("all nodes Ready", f"{res['nodes_ready_s']} s"),
        ("DaemonSet → all pods scheduled", f"{res['create_all_scheduled_s']} s"),
        ("DaemonSet → all pods Ready", f"{res['create_all_ready_s']} s"),
        ("  Ready pods / distinct nodes", f"{res['create_ready_pods']} / {res['create_distinct_nodes']}"),
        (f"rolling update, maxUnavailable {res['max_unavailable']}", f"{res['rolling_update_s']} s"),
        ("  peak unavailable seen / bound",
         f"{res['rolling_update_peak_unavailable_seen']} / {res['rolling_update_max_unavailable_bound']}"),
        ("  Ready pods / distinct nodes", f"{res['update_ready_pods']} / {res['update_distinct_nodes']}"),
        ("peak RSS (VmHWM)", f"{res['peak_rss_mib']} MiB"),
        ("RSS at end", f"{res['rss_end_mib']} MiB"),
    ]
    w = max(len(r[0]) for r in rows)
    m = res["machine"]
    lines = [f"DaemonSet benchmark — {m['cpu']} ({m['cores']} cores), Python {m['python']}; "
             f"load average at start {res['loadavg_start'][0]}, at end {res.get('loadavg_end', ['?'])[0]}", ""]
    lines += [f"{k.ljust(w)}  {v}" for k, v in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000, help="kubeling up --node-count (master + node1..)")
    p.add_argument("--max-unavailable", default="10%")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per phase")
    p.add_argument("--json", default=None, help="write results as JSON to this file ('-' for stdout)")
    p.add_argument("--keep", action="store_true", help="keep the data dir")
    args = p.parse_args()
    res = run(args)
    if args.json == "-":
        print(json.dumps(res, indent=2))
        return
    print(table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()

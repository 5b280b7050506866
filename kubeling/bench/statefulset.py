"""StatefulSets: `kubectl apply` of a StatefulSet → status.readyReplicas == replicas.

- parallel: N replicas, podManagementPolicy Parallel, one volumeClaimTemplate on the default
  StorageClass (local-path provisioner: every pod waits for its claim to be provisioned and bound);
- ordered: M replicas, OrderedReady (each pod is created only once its predecessor is Running and Ready).

Each phase gets a fresh cluster. kubectl's discovery cache is warmed first, so the figure is the
control plane's time, not kubectl's first contact.
"""
from __future__ import annotations

import json
import time
from typing import Any

from .common import Cluster, ensure_namespace, wait_until

NAME = "statefulset"
DESCRIPTION = "StatefulSet apply → all Ready (Parallel with claims; OrderedReady)"
DEFAULT_RUNS = 3
PARAMS = {"full": {"parallel": 1000, "ordered": 200, "nodes": 20},
          "tiny": {"parallel": 10, "ordered": 5, "nodes": 3}}
NS = "bench-sts"


def statefulset(name: str, replicas: int, policy: str, claims: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceName": name, "replicas": replicas, "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.8",
                                              "ports": [{"name": "web", "containerPort": 80}]}]}}}
    if claims:
        spec["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "www",
                                                                      "mountPath": "/usr/share/nginx/html"}]
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def headless(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"name": "web", "port": 80}]}}


def phase(workers: int, name: str, replicas: int, policy: str, claims: bool) -> dict[str, Any]:
    with Cluster(workers) as c:
        c.wait_nodes_ready()
        ensure_namespace(c, NS)
        c.kubectl("apply", "-f", "-", input=json.dumps(headless(name)))  # warms kubectl's discovery cache too
        path = f"/apis/apps/v1/namespaces/{NS}/statefulsets/{name}"
        cpu0 = c.cpu()
        t0 = time.monotonic()
        c.kubectl("apply", "-f", "-", input=json.dumps(statefulset(name, replicas, policy, claims)))
        applied = time.monotonic() - t0

        def ready() -> bool:
            st = c.get_json(path).get("status") or {}
            return (st.get("readyReplicas") or 0) >= replicas

        wait_until(ready, 900, f"{replicas} ready replicas of {name}", interval=0.1)
        out = {"ready_s": round(time.monotonic() - t0, 3), "apply_s": round(applied, 3),
               "cpu_s": round(c.cpu() - cpu0, 2)}
        out["per_s"] = round(replicas / out["ready_s"], 1)
        mem = c.mem()
        out["peak_rss_mib"] = mem.get("peak_rss_mib")
        if claims:
            pvcs = c.get_json(f"/api/v1/namespaces/{NS}/persistentvolumeclaims").get("items", [])
            out["bound_claims"] = sum(1 for p in pvcs if (p.get("status") or {}).get("phase") == "Bound")
        return out


def run(p: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for k, v in phase(p["nodes"], "web", p["parallel"], "Parallel", True).items():
        res[f"parallel_{k}"] = v
    for k, v in phase(p["nodes"], "ordered", p["ordered"], "OrderedReady", False).items():
        res[f"ordered_{k}"] = v
    return res

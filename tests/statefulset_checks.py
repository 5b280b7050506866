"""StatefulSet end-state checks shared by the failover and crash-safety tests: exactly the right pods
and claims, nothing duplicated, nothing orphaned."""
from __future__ import annotations

import json
from typing import Any

STS = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


def check_statefulset(c: Any, replicas: int, ns: str = "default") -> None:
    """Exactly web-0..web-N-1, each Running and Ready, each with its own Bound claim; nothing else."""
    pods = json.loads(c.kubectl("-n", ns, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    assert names == sorted(f"web-{i}" for i in range(replicas)), names
    sts_uid = json.loads(c.kubectl("-n", ns, "get", "sts", "web", "-o", "json").stdout)["metadata"]["uid"]
    for p in pods:
        refs = [r for r in p["metadata"].get("ownerReferences") or [] if r.get("controller")]
        assert [r["uid"] for r in refs] == [sts_uid], p["metadata"]
        assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == p["metadata"]["name"].split("-")[-1]
    pvcs = json.loads(c.kubectl("-n", ns, "get", "pvc", "-o", "json").stdout)["items"]
    claims = sorted(p["metadata"]["name"] for p in pvcs)
    assert claims == sorted(f"data-web-{i}" for i in range(replicas)), claims
    assert all(p["status"].get("phase") == "Bound" for p in pvcs), [p["status"] for p in pvcs]
    volumes = [p["spec"]["volumeName"] for p in pvcs]
    assert len(set(volumes)) == replicas
    pvs = json.loads(c.kubectl("get", "pv", "-o", "json").stdout)["items"]
    ours = [pv for pv in pvs if (pv["spec"].get("claimRef") or {}).get("namespace") == ns]
    assert sorted(pv["metadata"]["name"] for pv in ours) == sorted(volumes)


def ready_count(c: Any, ns: str = "default") -> int:
    cp = c.kubectl("-n", ns, "get", "sts", "web", "-o", "json", check=False)
    if cp.returncode != 0:
        return -1
    return json.loads(cp.stdout).get("status", {}).get("readyReplicas", 0) or 0

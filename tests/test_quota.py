"""core/v1 ResourceQuota and LimitRange with their admission plugins and the resource quota
controller, upstream v1.32 semantics, driven by the real kubectl and the `kubernetes` client."""
from __future__ import annotations

import json
from typing import Any

from conftest import KubelingCluster, table, wait_for


def _get(c: KubelingCluster, kind: str, name: str, ns: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)


def _pod(name: str, resources: dict[str, Any] | None = None, cname: str = "nginx") -> str:
    c: dict[str, Any] = {"name": cname, "image": "nginx"}
    if resources is not None:
        c["resources"] = resources
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"containers": [c]}})


def _wait_used(c: KubelingCluster, ns: str, name: str, want: dict[str, str]) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        q = _get(c, "quota", name, ns)
        used = (q.get("status") or {}).get("used") or {}
        return q if all(used.get(k) == v for k, v in want.items()) else None
    return wait_for(ok, 30, what=f"quota {name} used {want}")


def test_create_quota_pod_count_and_release(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "quota", "q", "--hard=pods=2,requests.cpu=1", "-n", ns)
    q = _wait_used(cluster, ns, "q", {"pods": "0", "requests.cpu": "0"})
    assert q["status"]["hard"] == {"pods": "2", "requests.cpu": "1"}
    res = {"requests": {"cpu": "300m"}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("a", res))
    cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("b", res))
    r = cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("c", res), check=False)
    assert r.returncode != 0
    assert r.stderr.strip() == ('Error from server (Forbidden): error when creating "STDIN": pods "c" is forbidden: '
                                "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2")
    header, rows = table(cluster.kubectl("get", "quota", "-n", ns).stdout)
    assert header == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert rows[0]["REQUEST"] == "pods: 2/2, requests.cpu: 600m/1"
    out = cluster.kubectl("describe", "quota", "q", "-n", ns).stdout
    assert "pods          2     2" in out and "requests.cpu  600m  1" in out
    cluster.kubectl("delete", "pod", "a", "-n", ns, "--grace-period=0", "--force")
    _wait_used(cluster, ns, "q", {"pods": "1", "requests.cpu": "300m"})
    cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("c", res))


def test_compute_quota_requires_requests(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "quota", "compute", "--hard=requests.cpu=1,limits.memory=1Gi", "-n", ns)
    _wait_used(cluster, ns, "compute", {"requests.cpu": "0", "limits.memory": "0"})
    r = cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("p"), check=False)
    assert r.returncode != 0
    assert ('pods "p" is forbidden: failed quota: compute: must specify limits.memory for: nginx; '
            "requests.cpu for: nginx") in r.stderr
    res = {"requests": {"cpu": "250m"}, "limits": {"memory": "256Mi"}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("p", res))
    rows = table(cluster.kubectl("get", "quota", "compute", "-n", ns).stdout)[1]
    assert rows[0]["REQUEST"] == "requests.cpu: 250m/1"
    assert rows[0]["LIMIT"] == "limits.memory: 256Mi/1Gi"


def test_limitrange_defaults_and_max(cluster: KubelingCluster, ns: str) -> None:
    lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
          "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                               "defaultRequest": {"cpu": "100m", "memory": "64Mi"}, "default": {"memory": "128Mi"}}]}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(lr))
    got = _get(cluster, "limits", "lr", ns)
    # SetDefaults_LimitRangeItem: the default limit falls back to max.
    assert got["spec"]["limits"][0]["default"] == {"cpu": "1", "memory": "128Mi"}
    header, rows = table(cluster.kubectl("get", "limits", "-n", ns).stdout)
    assert header == ["NAME", "CREATED AT"] and rows[0]["NAME"] == "lr"
    cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("d"))
    pod = _get(cluster, "pod", "d", ns)
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container nginx; cpu, memory limit for container nginx")
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "128Mi"},
                                                         "requests": {"cpu": "100m", "memory": "64Mi"}}
    r = cluster.kubectl("create", "-n", ns, "-f", "-", input=_pod("big", {"limits": {"cpu": "2"}}), check=False)
    assert r.returncode != 0
    assert 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2' in r.stderr
    out = cluster.kubectl("describe", "limits", "lr", "-n", ns).stdout
    assert ["Container", "cpu", "-", "1", "100m", "1", "-"] in [line.split() for line in out.splitlines()]


def test_limitrange_validation(cluster: KubelingCluster, ns: str) -> None:
    lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bad"},
          "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}
    r = cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(lr), check=False)
    assert r.returncode != 0
    assert "spec.limits[0].min[cpu]: Invalid value" in r.stderr
    assert "min value 2 is greater than max value 1" in r.stderr


def test_quota_validation(cluster: KubelingCluster, ns: str) -> None:
    r = cluster.kubectl("create", "quota", "bad", "--hard=pods=-1", "-n", ns, check=False)
    assert r.returncode != 0
    assert 'spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0' in r.stderr
    r = cluster.kubectl("create", "quota", "bad", "--hard=requests.storage=1Gi", "--scopes=BestEffort", "-n", ns,
                        check=False)
    assert "unsupported scope applied to resource" in r.stderr


def test_deployment_hits_quota(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "quota", "q", "--hard=pods=1", "-n", ns)
    _wait_used(cluster, ns, "q", {"pods": "0"})
    cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)

    def failure() -> dict[str, Any] | None:
        d = _get(cluster, "deploy", "web", ns)
        return next((c for c in (d.get("status") or {}).get("conditions") or ()
                     if c["type"] == "ReplicaFailure"), None)
    cond = wait_for(failure, 30, what="ReplicaFailure condition")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1" in cond["message"]
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "reason=FailedCreate").stdout
    assert "Error creating: pods " in events and "is forbidden: exceeded quota: q" in events


def test_pvc_storage_quota(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "quota", "st", "--hard=requests.storage=1Gi,persistentvolumeclaims=2,"
                    "gold.storageclass.storage.k8s.io/requests.storage=0", "-n", ns)
    _wait_used(cluster, ns, "st", {"requests.storage": "0"})

    def pvc(name: str, size: str, cls: str | None = None) -> str:
        spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
        if cls is not None:
            spec["storageClassName"] = cls
        return json.dumps({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                           "spec": spec})
    r = cluster.kubectl("create", "-n", ns, "-f", "-", input=pvc("big", "2Gi"), check=False)
    assert ('persistentvolumeclaims "big" is forbidden: exceeded quota: st, requested: requests.storage=2Gi, '
            "used: requests.storage=0, limited: requests.storage=1Gi") in r.stderr
    r = cluster.kubectl("create", "-n", ns, "-f", "-", input=pvc("g", "1Mi", "gold"), check=False)
    assert "exceeded quota: st, requested: gold.storageclass.storage.k8s.io/requests.storage=1Mi" in r.stderr
    cluster.kubectl("create", "-n", ns, "-f", "-", input=pvc("ok", "512Mi"))
    q = _wait_used(cluster, ns, "st", {"requests.storage": "512Mi", "persistentvolumeclaims": "1"})
    assert q["status"]["hard"]["persistentvolumeclaims"] == "2"


def test_object_count_and_client(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client as k8s

    api = k8s.CoreV1Api(cluster.api_client())
    api.create_namespaced_resource_quota(ns, k8s.V1ResourceQuota(
        metadata=k8s.V1ObjectMeta(name="objs"), spec=k8s.V1ResourceQuotaSpec(hard={"configmaps": "1",
                                                                                  "count/deployments.apps": "0"})))
    _wait_used(cluster, ns, "objs", {"count/deployments.apps": "0"})
    used = int(api.read_namespaced_resource_quota("objs", ns).status.used["configmaps"])
    if used == 0:  # the namespace's kube-root-ca.crt may not be published yet
        cluster.kubectl("create", "configmap", "one", "-n", ns)
    r = cluster.kubectl("create", "configmap", "two", "-n", ns, check=False)
    assert "exceeded quota: objs, requested: configmaps=1, used: configmaps=1, limited: configmaps=1" in r.stderr
    r = cluster.kubectl("create", "deployment", "d", "--image=nginx", "-n", ns, check=False)
    assert ("exceeded quota: objs, requested: count/deployments.apps=1, used: count/deployments.apps=0, "
            "limited: count/deployments.apps=0") in r.stderr

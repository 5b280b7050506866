"""kubectl top (metrics.k8s.io) and the HorizontalPodAutoscaler, driven by the real kubectl and the kubernetes client.

Usage is simulated: the pod annotation kubeling.dev/usage, else 10 % of the requests (kubeling.api.metrics).
"""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for

USAGE = "kubeling.dev/usage"


def _pod(name: str, ns: str, usage: str | None, labels: dict[str, str] | None = None,
         containers: list[str] | None = None) -> str:
    md: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {"app": name}}
    if usage is not None:
        md["annotations"] = {USAGE: usage}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"containers": [
        {"name": c, "image": "nginx", "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}
        for c in containers or ["app"]]}})


def _running(cluster: KubelingCluster, ns: str, selector: str, n: int) -> None:
    def ok() -> bool:
        pods = json.loads(cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]
        return len([p for p in pods if (p.get("status") or {}).get("phase") == "Running"]) == n
    wait_for(ok, 30, what=f"{n} running pods {selector}")


def test_top_pod_and_node(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=_pod("a", ns, "cpu=250m,memory=64Mi"))
    cluster.kubectl("apply", "-f", "-", input=_pod(
        "b", ns, json.dumps({"web": {"cpu": "30m"}, "side": {"memory": "10Mi"}}), containers=["web", "side"]))
    cluster.kubectl("apply", "-f", "-", input=_pod("c", ns, None, labels={"tier": "x"}))
    for name in ("a", "b"):
        _running(cluster, ns, f"app={name}", 1)
    _running(cluster, ns, "tier=x", 1)

    header, rows = table(cluster.kubectl("top", "pod", "-n", ns).stdout)
    assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    got = {r["NAME"]: (r["CPU(cores)"], r["MEMORY(bytes)"]) for r in rows}
    # b: web 30m + side 10% of 200m; memory: web 10% of 128Mi (12.8Mi) + side 10Mi; c: 10% of the requests.
    assert got == {"a": ("250m", "64Mi"), "b": ("50m", "22Mi"), "c": ("20m", "12Mi")}

    header, rows = table(cluster.kubectl("top", "pod", "-n", ns, "--containers", "-l", "app=b").stdout)
    assert header == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert [(r["POD"], r["NAME"], r["CPU(cores)"]) for r in rows] == [("b", "side", "20m"), ("b", "web", "30m")]

    out = cluster.kubectl("top", "pod", "-A", "-l", "tier=x").stdout
    header, rows = table(out)
    assert header == ["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert [(r["NAMESPACE"], r["NAME"]) for r in rows] == [(ns, "c")]

    r = cluster.kubectl("top", "pod", "-n", ns, "nope", check=False)
    assert r.returncode != 0
    assert f'podmetrics.metrics.k8s.io "{ns}/nope" not found' in r.stderr

    header, rows = table(cluster.kubectl("top", "node").stdout)
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert {r["NAME"] for r in rows} >= {"master", "node1", "node2"}
    for r in rows:
        assert r["CPU(cores)"].endswith("m") and r["CPU(%)"].endswith("%") and r["MEMORY(bytes)"].endswith("Mi")


def test_metrics_api_objects(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=_pod("m", ns, "cpu=1,memory=1Gi"))
    _running(cluster, ns, "app=m", 1)
    pl = json.loads(cluster.kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods").stdout)
    assert pl["kind"] == "PodMetricsList" and pl["apiVersion"] == "metrics.k8s.io/v1beta1"
    (pm,) = pl["items"]
    assert pm["metadata"]["name"] == "m" and pm["window"] == "10s" and pm["timestamp"]
    assert pm["containers"] == [{"name": "app", "usage": {"cpu": "1", "memory": "1Gi"}}]
    node = json.loads(cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/node1").stdout)
    assert node["kind"] == "NodeMetrics" and set(node["usage"]) == {"cpu", "memory"}
    r = cluster.kubectl("delete", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/m", check=False)
    assert r.returncode != 0


def _hpa_v2(name: str, ns: str, **spec: Any) -> str:
    s = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}
    s.update(spec)
    return json.dumps({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": name, "namespace": ns}, "spec": s})


def test_hpa_defaults_printer_and_validation(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=_hpa_v2("h", ns, behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}))
    hpa = json.loads(cluster.kubectl("get", "hpa", "h", "-n", ns, "-o", "json").stdout)
    spec = hpa["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]
    assert spec["behavior"]["scaleDown"] == {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                             "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert spec["behavior"]["scaleUp"]["policies"] == [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                                       {"type": "Percent", "value": 100, "periodSeconds": 15}]
    header, rows = table(cluster.kubectl("get", "hpa", "-n", ns).stdout)
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert [(r["NAME"], r["REFERENCE"], r["TARGETS"], r["MINPODS"], r["MAXPODS"], r["REPLICAS"]) for r in rows] == \
        [("h", "Deployment/web", "cpu: <unknown>/80%", "1", "5", "0")]
    assert "horizontalpodautoscaler.autoscaling/h" in cluster.kubectl("get", "all", "-n", ns).stdout

    r = cluster.kubectl("apply", "-f", "-", input=_hpa_v2("bad", ns, minReplicas=0, maxReplicas=0), check=False)
    assert r.returncode != 0
    assert 'The HorizontalPodAutoscaler "bad" is invalid' in r.stderr
    assert "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1" in r.stderr
    assert "spec.maxReplicas: Invalid value: 0: must be greater than 0" in r.stderr
    r = cluster.kubectl("apply", "-f", "-", input=_hpa_v2("bad", ns, minReplicas=3, maxReplicas=2, metrics=[
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]), check=False)
    assert "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`" in r.stderr
    assert ("spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw "
            "value or a target utilization") in r.stderr
    assert cluster.kubectl("get", "hpa", "bad", "-n", ns, check=False).returncode != 0


def test_hpa_v1_v2_round_trip(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    api = cluster.api_client()
    v1, v2 = client.AutoscalingV1Api(api), client.AutoscalingV2Api(api)
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    v1.create_namespaced_horizontal_pod_autoscaler(ns, {
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "one"},
        "spec": {"scaleTargetRef": ref, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70}})
    got = v2.read_namespaced_horizontal_pod_autoscaler("one", ns)
    assert got.spec.min_replicas == 1
    assert got.spec.metrics[0].resource.target.average_utilization == 70

    v2.create_namespaced_horizontal_pod_autoscaler(ns, {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "two"},
        "spec": {"scaleTargetRef": ref, "maxReplicas": 4, "metrics": [
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                          "averageValue": "100Mi"}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": 60}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}}}})
    old = v1.read_namespaced_horizontal_pod_autoscaler("two", ns)
    assert old.spec.target_cpu_utilization_percentage == 60
    ann = old.metadata.annotations
    assert json.loads(ann["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}]
    behavior = json.loads(ann["autoscaling.alpha.kubernetes.io/behavior"])
    assert behavior["ScaleDown"]["StabilizationWindowSeconds"] == 10
    assert behavior["ScaleUp"]["Policies"][0] == {"Type": "Pods", "Value": 4, "PeriodSeconds": 15}

    old.spec.max_replicas = 6
    v1.replace_namespaced_horizontal_pod_autoscaler("two", ns, old)
    new = v2.read_namespaced_horizontal_pod_autoscaler("two", ns)
    assert new.spec.max_replicas == 6
    assert [(m.resource.name, m.resource.target.type) for m in new.spec.metrics] == [
        ("memory", "AverageValue"), ("cpu", "Utilization")]
    assert new.spec.behavior.scale_down.stabilization_window_seconds == 10
    assert not (new.metadata.annotations or {})
    names = [h.metadata.name for h in v1.list_namespaced_horizontal_pod_autoscaler(ns).items]
    assert names == ["one", "two"]
    v1.patch_namespaced_horizontal_pod_autoscaler("one", ns, {"spec": {"targetCPUUtilizationPercentage": 40}})
    got = v2.read_namespaced_horizontal_pod_autoscaler("one", ns)
    assert got.spec.metrics[0].resource.target.average_utilization == 40


def _replicas(c: KubelingCluster, ns: str) -> int:
    return json.loads(c.kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)["spec"]["replicas"]


@pytest.mark.timeout(180)
def test_hpa_scales_deployment(make_cluster: Any) -> None:
    c = make_cluster("--horizontal-pod-autoscaler-sync-period", "1s")
    ns = "default"
    c.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
    c.kubectl("set", "resources", "deployment", "web", "--requests=cpu=100m")
    _running(c, ns, "app=web", 2)
    time.sleep(11)  # one metrics window (10 s) past Ready, so the cpu samples count (replica calculator)
    c.kubectl("autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=50")
    c.kubectl("patch", "hpa", "web", "--type=merge", "-p",
              json.dumps({"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}}))

    def targets() -> str:
        _, rows = table(c.kubectl("get", "hpa", "web").stdout)
        return rows[0]["TARGETS"]
    wait_for(lambda: targets() == "cpu: 10%/50%", 30, what="hpa metrics")

    c.kubectl("annotate", "pods", "-l", "app=web", f"{USAGE}=cpu=100m")
    wait_for(lambda: _replicas(c, ns) == 4, 30, what="scale up to 4")
    ev = json.loads(c.kubectl("get", "events", "--field-selector", "reason=SuccessfulRescale", "-o", "json").stdout)
    assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in \
        [e["message"] for e in ev["items"]]
    hpa = json.loads(c.kubectl("get", "hpa", "web", "-o", "json").stdout)
    conds = {x["type"]: x for x in hpa["status"]["conditions"]}
    assert conds["AbleToScale"]["status"] == "True" and conds["ScalingActive"]["reason"] == "ValidMetricFound"
    assert hpa["status"]["lastScaleTime"]

    c.kubectl("annotate", "pods", "-l", "app=web", f"{USAGE}-")
    wait_for(lambda: _replicas(c, ns) == 2, 40, what="scale down to minReplicas")
    ev = json.loads(c.kubectl("get", "events", "--field-selector", "reason=SuccessfulRescale", "-o", "json").stdout)
    assert "New size: 2; reason: All metrics below target" in [e["message"] for e in ev["items"]]
    v1 = json.loads(c.kubectl("get", "--raw", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web")
                    .stdout)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert isinstance(v1["status"].get("currentCPUUtilizationPercentage"), int)

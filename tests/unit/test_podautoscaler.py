"""Pure logic of the HPA: replica calculator, behavior limits, v1<->v2 conversion, simulated usage."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from kubeling.api import hpa_conversion, metrics
from kubeling.api.meta import now_rfc3339
from kubeling.controllers.podautoscaler import replica_calculator as rc

NOW = 1_800_000_000.0
OLD = now_rfc3339(NOW - 3600)


def _pod(name: str, cpu: str = "100m", phase: str = "Running", ready: str = "True", start: str = OLD,
         ann: dict | None = None) -> dict:
    return {"metadata": {"name": name, "annotations": ann or {}},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase, "startTime": start,
                       "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": start}],
                       "containerStatuses": [{"name": "c", "state": {"running": {}}}]}}


def _m(**vals: int) -> dict[str, rc.PodMetric]:
    return {k: rc.PodMetric(v, NOW, 10.0) for k, v in vals.items()}


def test_resource_replicas_scale_up_and_tolerance() -> None:
    pods = [_pod("a"), _pod("b")]
    assert rc.get_resource_replicas(2, 50, "cpu", pods, _m(a=100, b=100), NOW) == (4, 100, 100)
    # within the 10 % tolerance: keep the current count
    assert rc.get_resource_replicas(2, 50, "cpu", pods, _m(a=52, b=52), NOW)[0] == 2
    assert rc.get_resource_replicas(4, 50, "cpu", pods, _m(a=10, b=10), NOW) == (1, 10, 10)


def test_resource_replicas_missing_and_unready_pods() -> None:
    pods = [_pod("a"), _pod("b"), _pod("new", ready="False", start=now_rfc3339(NOW - 5))]
    # b has no metrics and usage is above target: b counts as 0, "new" (unready) as 0 too
    replicas, util, _ = rc.get_resource_replicas(3, 50, "cpu", pods, _m(a=200, new=10), NOW)
    assert util == 200 and replicas == 4
    ignored = [_pod("p", phase="Pending"), _pod("a")]
    assert rc.get_resource_replicas(1, 50, "cpu", ignored, _m(a=100), NOW)[0] == 2


def test_resource_replicas_errors() -> None:
    with pytest.raises(rc.ReplicaCalcError, match="no pods returned by selector while calculating replica count"):
        rc.get_resource_replicas(1, 50, "cpu", [], {}, NOW)
    pod = _pod("a")
    pod["spec"]["containers"][0]["resources"] = {}
    with pytest.raises(rc.ReplicaCalcError, match="missing request for cpu in container c of Pod a"):
        rc.get_resource_replicas(1, 50, "cpu", [pod], _m(a=10), NOW)


def test_raw_resource_replicas() -> None:
    pods = [_pod("a"), _pod("b")]
    assert rc.get_raw_resource_replicas(2, 100, "cpu", pods, _m(a=300, b=100), NOW) == (4, 200)


def test_legacy_stabilization_and_rules() -> None:
    h = rc.History()
    assert rc.stabilize(h, 5, NOW) == 5
    assert rc.stabilize(h, 2, NOW + 10) == 5  # the highest recommendation of the last 5 minutes
    assert rc.stabilize(h, 2, NOW + 400) == 2
    assert rc.convert_with_rules(2, 10, 1, 20)[:2] == (4, "ScaleUpLimit")
    assert rc.convert_with_rules(2, 10, 1, 3)[:2] == (3, "TooManyReplicas")
    assert rc.convert_with_rules(2, 0, 1, 3)[:2] == (1, "TooFewReplicas")
    assert rc.convert_with_rules(2, 3, 1, 5)[:2] == (3, "DesiredWithinRange")


def test_behavior_stabilization_and_rate() -> None:
    h = rc.History()
    rc.stabilize_with_behaviors(h, 4, 8, 0, 300, NOW)
    rec, reason, _ = rc.stabilize_with_behaviors(h, 4, 2, 0, 300, NOW + 5)
    assert (rec, reason) == (4, "ScaleDownStabilized")  # 8 recommended a moment ago: stay at the current 4
    rec, _, _ = rc.stabilize_with_behaviors(rc.History(), 4, 2, 0, 0, NOW)
    assert rec == 2
    up = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                              {"type": "Percent", "value": 100, "periodSeconds": 15}]}
    down = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}
    h = rc.History()
    assert rc.scale_up_limit(10, h, up, NOW) == 20
    assert rc.convert_with_behavior_rate(h, 10, 30, 1, 100, up, down, NOW)[:2] == (20, "ScaleUpLimit")
    rc.store_scale_event(h, up, down, 10, 20, NOW)
    # within the period the start is 10 again: at most 20 in total
    assert rc.scale_up_limit(20, h, up, NOW + 1) == 20
    assert rc.scale_down_limit(20, h, down, NOW + 1) == 5
    assert rc.convert_with_behavior_rate(h, 20, 1, 2, 100, up, down, NOW + 1)[:2] == (5, "ScaleDownLimit")
    assert rc.scale_up_limit(10, h, {"selectPolicy": "Disabled", "policies": []}, NOW) == 10


def test_conversion_round_trip() -> None:
    v2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
          "metadata": {"name": "x", "annotations": {"keep": "me"}},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
                   "minReplicas": 1, "maxReplicas": 3, "metrics": [
                       {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                 "target": {"type": "AverageValue", "averageValue": "10"}}},
                       {"type": "Resource", "resource": {"name": "cpu", "target": {
                           "type": "Utilization", "averageUtilization": 50}}}],
                   "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]}}},
          "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
              {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20,
                                                                          "averageValue": "20m"}}}]}}
    v1 = hpa_conversion.to_v1(v2)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert v1["status"]["currentCPUUtilizationPercentage"] == 20
    ann = v1["metadata"]["annotations"]
    assert json.loads(ann[hpa_conversion.METRICS_ANNOTATION]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}]
    assert json.loads(ann[hpa_conversion.BEHAVIOR_ANNOTATION])["ScaleDown"] is None
    back = hpa_conversion.to_v2(v1)
    assert back["spec"]["metrics"] == v2["spec"]["metrics"]
    assert back["spec"]["behavior"] == v2["spec"]["behavior"]
    assert back["metadata"]["annotations"] == {"keep": "me"}
    assert back["status"]["currentMetrics"] == v2["status"]["currentMetrics"]
    bare = hpa_conversion.to_v2({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 2}})
    assert bare["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80


def test_simulated_usage() -> None:
    pod = _pod("a", ann={metrics.USAGE_ANNOTATION: "cpu=250m"})
    pm = metrics.pod_metrics({**pod, "metadata": {**pod["metadata"], "namespace": "n"}}, "t")
    assert pm["containers"] == [{"name": "c", "usage": {"cpu": "250m", "memory": "4Mi"}}]
    assert metrics.pod_usage(_pod("p", phase="Pending")) is None
    default = metrics.pod_usage(_pod("b", cpu="1"))
    assert default is not None and default[0][1]["cpu"] == metrics.USAGE_FRACTION
    node = metrics.node_usage([pod])
    assert node["cpu"] == metrics.SYSTEM_CPU + Fraction(250, 1000)

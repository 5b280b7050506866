"""Pure logic of ResourceQuota and LimitRange: quantity arithmetic, evaluators, the admission check,
the controller's usage calculation, LimitRanger defaults/constraints, printers and validation."""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

from kubeling.api import limitrange_admission as lra
from kubeling.api import printers, validation
from kubeling.api import quota_admission as qa
from kubeling.api.resources import by_qualified
from kubeling.controllers.resourcequota import calculate_usage


def _pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": containers, **spec},
            "status": {"phase": "Pending"}}


def _c(name: str = "c", req: dict | None = None, lim: dict | None = None, **kw: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if req:
        res["requests"] = req
    if lim:
        res["limits"] = lim
    return {"name": name, "image": "x", "resources": res, **kw}


def _quota(hard: dict[str, str], used: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"hard": hard}
    if used is not None:
        status["used"] = used
    return {"metadata": {"name": "q", "namespace": "n"}, "spec": {"hard": hard, **spec}, "status": status}


def test_quantity_sums_keep_first_format() -> None:
    a = qa.rlist({"memory": "128Mi", "cpu": "500m"})
    total = qa.add(a, qa.rlist({"memory": "128Mi", "cpu": "1"}))
    assert qa.rlist_json(total) == {"memory": "256Mi", "cpu": "1500m"}
    assert qa.rlist_json(qa.add({"memory": qa.ZERO}, qa.rlist({"memory": "1Gi"}))) == {"memory": "1Gi"}
    assert qa.rlist_json(qa.subtract_non_negative(qa.rlist({"a": "1", "b": "5"}), qa.rlist({"a": "2", "c": "1"}))) \
        == {"a": "0", "b": "5", "c": "0"}
    ok, exceeded = qa.less_than_or_equal(qa.rlist({"pods": "3", "cpu": "1"}), qa.rlist({"pods": "2", "cpu": "2"}))
    assert not ok and exceeded == ["pods"]
    assert qa.pretty(qa.rlist({"pods": "1", "cpu": "100m"})) == "cpu=100m,pods=1"


def test_pod_usage_init_containers_and_terminal() -> None:
    pod = _pod([_c("a", {"cpu": "100m", "memory": "64Mi"}, {"memory": "128Mi"}), _c("b", {"cpu": "200m"})],
               initContainers=[_c("i", {"cpu": "1"})])
    u = qa.rlist_json(qa.PodEvaluator().usage(pod, time.time()))
    assert u == {"count/pods": "1", "pods": "1", "cpu": "1", "requests.cpu": "1", "memory": "64Mi",
                 "requests.memory": "64Mi", "limits.memory": "128Mi"}
    pod["status"]["phase"] = "Succeeded"
    assert qa.rlist_json(qa.PodEvaluator().usage(pod, time.time())) == {"count/pods": "1"}
    stuck = _pod([_c()])
    stuck["metadata"].update(deletionTimestamp="2000-01-01T00:00:00Z", deletionGracePeriodSeconds=30)
    assert not qa.pod_is_quota_live(stuck, time.time())


def test_pod_scopes_and_constraints() -> None:
    ev = qa.PodEvaluator()
    be = _pod([_c()])
    burst = _pod([_c(req={"cpu": "1"})], activeDeadlineSeconds=10, priorityClassName="high")
    assert ev.matches_scope({"scopeName": "BestEffort", "operator": "Exists"}, be)
    assert ev.matches_scope({"scopeName": "NotBestEffort", "operator": "Exists"}, burst)
    assert ev.matches_scope({"scopeName": "Terminating", "operator": "Exists"}, burst)
    assert not ev.matches_scope({"scopeName": "Terminating", "operator": "Exists"}, be)
    assert ev.matches_scope({"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}, burst)
    assert ev.matches_scope({"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]}, be)
    assert ev.constraints(["requests.cpu", "limits.memory", "pods"], _pod([_c("x"), _c("y", {"cpu": "1"})])) == \
        "must specify limits.memory for: x,y; requests.cpu for: x"


def test_service_and_claim_usage() -> None:
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert qa.rlist_json(qa.ServiceEvaluator().usage(svc, 0)) == {
        "count/services": "1", "services": "1", "services.loadbalancers": "1", "services.nodeports": "2"}
    pvc = {"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1.5"}}}}
    u = qa.rlist_json(qa.PVCEvaluator().usage(pvc, 0))
    assert u["requests.storage"] == "2" and u["gold.storageclass.storage.k8s.io/requests.storage"] == "2"
    assert u["gold.storageclass.storage.k8s.io/persistentvolumeclaims"] == "1"
    assert qa.PVCEvaluator().matching_resources(["x.storageclass.storage.k8s.io/requests.storage", "pods"]) == \
        ["x.storageclass.storage.k8s.io/requests.storage"]
    ev = qa.evaluator_for(by_qualified("deployments.apps"))
    assert ev is not None and ev.matching_resources(["count/deployments.apps", "pods"]) == ["count/deployments.apps"]
    assert qa.evaluator_for(by_qualified("events")) is None


def test_check_request() -> None:
    ev = qa.PodEvaluator()
    pod = _pod([_c(req={"cpu": "500m"})])
    now = time.time()
    assert qa.check_request([_quota({"pods": "2"})], "CREATE", ev, pod, None, now) == \
        "status unknown for quota: q, resources: pods"
    got = qa.check_request([_quota({"pods": "2", "requests.cpu": "1"}, {"pods": "1", "requests.cpu": "0"})],
                           "CREATE", ev, pod, None, now)
    assert isinstance(got, dict) and qa.rlist_json(got[0]) == {"pods": "2", "requests.cpu": "500m"}
    assert qa.check_request([_quota({"pods": "2"}, {"pods": "2"})], "CREATE", ev, pod, None, now) == \
        "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
    # A quota scoped to BestEffort pods does not see a pod with requests.
    assert qa.check_request([_quota({"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"])], "CREATE", ev, pod, None,
                            now) == {}
    # No status.hard yet: not enforced.
    assert qa.check_request([{"metadata": {"name": "q"}, "spec": {"hard": {"pods": "0"}}}], "CREATE", ev, pod, None,
                            now) == {}


def test_service_update_charges_delta() -> None:
    ev = qa.ServiceEvaluator()
    old = {"metadata": {"resourceVersion": "5"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    new = {"metadata": {"resourceVersion": "5"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    q = _quota({"services.nodeports": "0", "services": "5"}, {"services.nodeports": "0", "services": "1"})
    assert qa.check_request([q], "UPDATE", ev, new, old, 0) == (
        "exceeded quota: q, requested: services.nodeports=1, used: services.nodeports=0, limited: services.nodeports=0")


def test_calculate_usage_masks_and_scopes() -> None:
    pods = [_pod([_c(req={"cpu": "100m"})]), _pod([_c()]), {**_pod([_c()]), "status": {"phase": "Failed"}}]
    q = {"spec": {"hard": {"pods": "10", "count/pods": "10", "requests.cpu": "2"}, "scopes": ["NotBestEffort"]}}
    items = {"pods": pods}
    got = calculate_usage(q, [qa.PodEvaluator(), qa.ServiceEvaluator()], lambda r: items.get(r, []), time.time())
    assert qa.rlist_json(got) == {"pods": "1", "count/pods": "1", "requests.cpu": "100m"}
    q2 = {"spec": {"hard": {"pods": "10", "count/pods": "10"}}}
    got = calculate_usage(q2, [qa.PodEvaluator()], lambda r: items.get(r, []), time.time())
    assert qa.rlist_json(got) == {"pods": "2", "count/pods": "3"}


def test_limitranger_defaults_and_constraints() -> None:
    lr = {"spec": {"limits": [
        {"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "1"}, "defaultRequest": {"cpu": "200m"},
         "maxLimitRequestRatio": {"cpu": "2"}},
        {"type": "Pod", "max": {"memory": "1Gi"}}]}}
    pod = _pod([_c("a"), _c("b", lim={"cpu": "300m"})], initContainers=[_c("i")])
    lra.apply_defaults(pod, lr)
    assert pod["metadata"]["annotations"][lra.ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container a; cpu limit for container a; "
        "cpu request for container b; cpu request for init container i; cpu limit for init container i")
    msgs = lra.validate_pod(lr, pod)
    assert "cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000" in msgs
    assert "maximum memory usage per Pod is 1Gi.  No limit is specified" in msgs
    assert lra.aggregate(["x", "x"]) == "x" and lra.aggregate(["x", "y"]) == "[x, y]"
    pvc_lr = {"spec": {"limits": [{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}}]}}
    assert lra.validate_claim(pvc_lr, {"spec": {"resources": {"requests": {"storage": "500Mi"}}}}) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]


def test_printer_and_validation() -> None:
    q = _quota({"pods": "2", "limits.cpu": "2", "requests.memory": "1Gi"}, {"pods": "1", "limits.cpu": "500m"})
    q["metadata"]["creationTimestamp"] = "2020-01-01T00:00:00Z"
    cells = printers.row_cells("resourcequotas", q, Fraction(1577836860).__float__())
    assert cells == ["q", "60s", "pods: 1/2, requests.memory: 0/1Gi", "limits.cpu: 500m/2"]
    bad = {"metadata": {"name": "q", "namespace": "n"},
           "spec": {"hard": {"foo": "1", "pods": "1.5"}, "scopes": ["BestEffort", "NotBestEffort"]}}
    msgs = {(c["field"], c["message"]) for c in validation.validate("resourcequotas", bad)}
    assert ("spec.hard[foo]", 'Invalid value: "foo": must be a standard resource type or fully qualified') in msgs
    assert ("spec.hard[pods]", "Invalid value: 1500m: must be an integer") in msgs
    assert any(f == "spec.scopes" and m.endswith("conflicting scopes") for f, m in msgs)
    lr = {"metadata": {"name": "l", "namespace": "n"},
          "spec": {"limits": [{"type": "Pod", "default": {"cpu": "1"}}, {"type": "PersistentVolumeClaim"}]}}
    fields = {c["field"] for c in validation.validate("limitranges", lr)}
    assert fields == {"spec.limits[0].default", "spec.limits[1].limits"}

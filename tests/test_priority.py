"""scheduling.k8s.io/v1 PriorityClass and the Priority admission plugin, upstream v1.32 semantics,
driven by the real kubectl and the official `kubernetes` client.

PriorityClasses are cluster-scoped: each test removes what it created (tests of one worker run one
after another on that worker's session cluster), and the globalDefault test restores the state.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import KubelingCluster, table

from kubeling.api import priority_admission as pa


def _pc_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _pod(name: str, spec_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _create(c: KubelingCluster, obj: dict[str, Any], ns: str | None = None, check: bool = True) -> Any:
    return c.kubectl("create", "-f", "-", *(["-n", ns] if ns else []), input=json.dumps(obj), check=check)


def _get(c: KubelingCluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any]:
    return json.loads(c.kubectl("get", kind, name, "-o", "json", *(["-n", ns] if ns else [])).stdout)


def test_system_priority_classes_at_start(cluster: KubelingCluster) -> None:
    out = cluster.kubectl("get", "pc", "system-cluster-critical", "system-node-critical").stdout
    header, rows = table(out)
    assert header == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert [(r["NAME"], r["VALUE"], r["GLOBAL-DEFAULT"], r["PREEMPTIONPOLICY"]) for r in rows] == [
        ("system-cluster-critical", "2000000000", "false", "PreemptLowerPriority"),
        ("system-node-critical", "2000001000", "false", "PreemptLowerPriority")]
    pc = _get(cluster, "priorityclass", "system-node-critical")
    assert pc["description"] == "Used for system critical pods that must not be moved from their current node."
    assert pc["metadata"]["generation"] == 1 and "globalDefault" not in pc
    cp = cluster.kubectl("delete", "pc", "system-node-critical", check=False)
    assert ('Error from server (Forbidden): priorityclasses.scheduling.k8s.io "system-node-critical" is '
            "forbidden: this is a system priority class and cannot be deleted") in cp.stderr
    out = cluster.kubectl("describe", "pc", "system-cluster-critical").stdout
    assert "Value:             2000000000" in out
    out = cluster.kubectl("explain", "pc.preemptionPolicy").stdout
    assert "KIND:       PriorityClass" in out and "VERSION:    v1" in out


def test_create_priorityclass_and_validation(cluster: KubelingCluster) -> None:
    name = _pc_name("high")
    try:
        cluster.kubectl("create", "priorityclass", name, "--value=1000", "--description=high prio",
                        "--preemption-policy=Never")
        pc = _get(cluster, "pc", name)
        assert (pc["value"], pc["description"], pc["preemptionPolicy"]) == (1000, "high prio", "Never")
        cp = cluster.kubectl("patch", "pc", name, "-p", '{"value":3}', check=False)
        assert f'The PriorityClass "{name}" is invalid: value: Forbidden: may not be changed in an update.' in cp.stderr
        cp = cluster.kubectl("patch", "pc", name, "-p", '{"preemptionPolicy":"PreemptLowerPriority"}', check=False)
        assert ('preemptionPolicy: Invalid value: "PreemptLowerPriority": field is immutable') in cp.stderr
        cluster.kubectl("patch", "pc", name, "-p", '{"description":"changed"}')
        assert _get(cluster, "pc", name)["metadata"]["generation"] == 1
    finally:
        cluster.kubectl("delete", "pc", name, "--ignore-not-found")
    cp = cluster.kubectl("create", "priorityclass", "toohigh", "--value=1000000001", check=False)
    assert ('PriorityClass.scheduling.k8s.io "toohigh" is invalid: value: Forbidden: maximum allowed value of a '
            "user defined priority is 1000000000") in cp.stderr
    cp = cluster.kubectl("create", "priorityclass", "system-foo", "--value=10", check=False)
    assert ("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use "
            "only. error: system-foo is not a known system priority class") in cp.stderr
    cp = _create(cluster, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                           "metadata": {"name": "bad-policy"}, "value": 1, "preemptionPolicy": "Sometimes"},
                 check=False)
    assert ('preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", '
            '"Never"') in cp.stderr


def test_pod_priority_from_class(cluster: KubelingCluster, ns: str) -> None:
    name = _pc_name("prio")
    try:
        cluster.kubectl("create", "priorityclass", name, "--value=1000", "--preemption-policy=Never")
        _create(cluster, _pod("p1", {"priorityClassName": name}), ns)
        spec = _get(cluster, "pod", "p1", ns)["spec"]
        assert (spec["priority"], spec["priorityClassName"], spec["preemptionPolicy"]) == (1000, name, "Never")
        _create(cluster, _pod("crit", {"priorityClassName": "system-cluster-critical"}), ns)
        assert _get(cluster, "pod", "crit", ns)["spec"]["priority"] == 2000000000
        # a pod that states the computed values itself is fine; a different one is refused
        _create(cluster, _pod("p2", {"priorityClassName": name, "priority": 1000}), ns)
        cp = _create(cluster, _pod("p3", {"priorityClassName": name, "preemptionPolicy": "PreemptLowerPriority"}),
                     ns, check=False)
        assert ('pods "p3" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be '
                "provided in pod spec; priority admission controller computed Never from the given PriorityClass "
                "name") in cp.stderr
        # updates keep the admitted priority even when the client leaves it out
        for _ in range(10):  # the scheduler and the kubelet write the pod too: replace on a fresh copy
            pod = _get(cluster, "pod", "p1", ns)
            del pod["spec"]["priority"]
            del pod["spec"]["preemptionPolicy"]
            pod["metadata"]["labels"] = {"x": "y"}
            cp = cluster.kubectl("replace", "-n", ns, "-f", "-", input=json.dumps(pod), check=False)
            if cp.returncode == 0:
                break
            assert "the object has been modified" in cp.stderr, cp.stderr
        else:
            raise AssertionError("kubectl replace kept conflicting")
        assert _get(cluster, "pod", "p1", ns)["spec"]["priority"] == 1000
    finally:
        cluster.kubectl("delete", "pc", name, "--ignore-not-found")


def test_pod_without_class_and_unknown_class(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    _create(cluster, _pod("plain"), ns)
    spec = _get(cluster, "pod", "plain", ns)["spec"]
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert "priorityClassName" not in spec
    cp = _create(cluster, _pod("own", {"priority": 7}), ns, check=False)
    assert ('Error from server (Forbidden): error when creating "STDIN": pods "own" is forbidden: the integer '
            "value of priority (7) must not be provided in pod spec; priority admission controller computed 0 "
            "from the given PriorityClass name") in cp.stderr
    api = client.CoreV1Api(cluster.api_client())
    with pytest.raises(client.ApiException) as ei:
        api.create_namespaced_pod(ns, _pod("unknown", {"priorityClassName": "no-such-class"}))
    assert ei.value.status == 403
    st = json.loads(ei.value.body)
    assert st["reason"] == "Forbidden"
    assert st["message"] == 'pods "unknown" is forbidden: no PriorityClass with name no-such-class was found'
    assert st["details"] == {"name": "unknown", "kind": "pods"}


def test_global_default_priority_class(cluster: KubelingCluster, ns: str) -> None:
    first, second = _pc_name("dflt"), _pc_name("dflt2")
    try:
        cluster.kubectl("create", "priorityclass", first, "--value=5", "--global-default")
        cp = cluster.kubectl("create", "priorityclass", second, "--value=6", "--global-default", check=False)
        assert (f'priorityclasses.scheduling.k8s.io "{second}" is forbidden: PriorityClass {first} is already '
                "marked as default. Only one default can exist") in cp.stderr
        cluster.kubectl("create", "priorityclass", second, "--value=6")
        cp = cluster.kubectl("patch", "pc", second, "-p", '{"globalDefault":true}', check=False)
        assert f"PriorityClass {first} is already marked as default" in cp.stderr
        _, rows = table(cluster.kubectl("get", "pc", first).stdout)
        assert rows[0]["GLOBAL-DEFAULT"] == "true"
        _create(cluster, _pod("d1"), ns)
        spec = _get(cluster, "pod", "d1", ns)["spec"]
        assert (spec["priority"], spec["priorityClassName"]) == (5, first)
        _create(cluster, _pod("d2", {"priorityClassName": second}), ns)
        assert _get(cluster, "pod", "d2", ns)["spec"]["priority"] == 6
    finally:
        cluster.kubectl("delete", "pc", first, second, "--ignore-not-found")


def test_admission_helpers() -> None:
    """Pure check of the admission resolution helpers (no cluster)."""
    classes = {"a": {"metadata": {"name": "a"}, "value": 10, "globalDefault": True},
               "b": {"metadata": {"name": "b"}, "value": 3, "globalDefault": True, "preemptionPolicy": "Never"}}
    assert pa.default_class(list(classes.values()))["metadata"]["name"] == "b"
    pod: dict[str, Any] = {"spec": {}}
    assert pa.admit_new_pod(pod, classes) is None
    assert pod["spec"] == {"priorityClassName": "b", "priority": 3, "preemptionPolicy": "Never"}
    assert pa.admit_new_pod({"spec": {"priorityClassName": "zzz"}}, classes) == \
        "no PriorityClass with name zzz was found"

"""PodDisruptionBudgets, the disruption controller, the eviction API and `kubectl drain`, driven through a
real kubeling process with /usr/bin/kubectl and the `kubernetes` client.

One cluster for the module (drain cordons nodes, which the session cluster's other tests must not
see), started with a one-second pod start delay so a replacement pod is not Ready the moment its
predecessor is evicted: the budget then visibly blocks `kubectl drain` until the replacement runs.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for
from kubernetes import client
from kubernetes.client.rest import ApiException

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    c = KubelingCluster(str(tmp_path_factory.mktemp("disruption")), ("--pod-start-delay", "1.0"),
                        name="disruption")
    c.start()
    assert c.wait_nodes_ready(["master", "node1", "node2"], timeout=30)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def ns(kc: KubelingCluster) -> Iterator[str]:
    name = "d-" + uuid.uuid4().hex[:8]
    kc.kubectl("create", "namespace", name)
    yield name
    kc.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(c: KubelingCluster, ns: str, obj: dict[str, Any]) -> None:
    c.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(obj))


def get(c: KubelingCluster, ns: str, kind: str, name: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", "-n", ns, kind, name, "-o", "json").stdout)


def pods(c: KubelingCluster, ns: str, selector: str = "app=web") -> list[dict[str, Any]]:
    return json.loads(c.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]


def ready(p: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions")
               or ()) and not p["metadata"].get("deletionTimestamp")


def pdb_status(c: KubelingCluster, ns: str, name: str) -> dict[str, Any]:
    return get(c, ns, "pdb", name).get("status") or {}


def wait_status(c: KubelingCluster, ns: str, name: str, **want: int) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        st = pdb_status(c, ns, name)
        return st if all(st.get(k) == v for k, v in want.items()) else None
    return wait_for(ok, timeout=30, what=f"pdb {name} status {want}")


def deployment(name: str, replicas: int, **pod_spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}], **pod_spec}}}}


def pdb(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def evict(api: client.CoreV1Api, ns: str, name: str, **delete_options: Any) -> str:
    """create_namespaced_pod_eviction; the 201 body is a Status (the client would read it as an Eviction)."""
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=ns),
                             delete_options=client.V1DeleteOptions(**delete_options) if delete_options else None)
    resp = api.create_namespaced_pod_eviction(name, ns, body, _preload_content=False)
    st = json.loads(resp.data)
    assert (resp.status, st["kind"], st["code"]) == (201, "Status", 201)
    return st["status"]


def wait_ready_pods(c: KubelingCluster, ns: str, n: int) -> list[dict[str, Any]]:
    return wait_for(lambda: (lambda ps: ps if len(ps) == n else None)([p for p in pods(c, ns) if ready(p)]),
                    timeout=30, what=f"{n} ready pods")


# ---- PodDisruptionBudget kind and status ------------------------------------------------------------

def test_create_pdb_and_status_for_deployment(kc: KubelingCluster, ns: str) -> None:
    apply(kc, ns, deployment("web", 3))
    out = kc.kubectl("create", "pdb", "x", "-n", ns, "--selector=app=web", "--min-available=2").stdout
    assert out.strip() == "poddisruptionbudget.policy/x created"
    st = wait_status(kc, ns, "x", disruptionsAllowed=1, currentHealthy=3)
    assert (st["desiredHealthy"], st["expectedPods"], st["observedGeneration"]) == (2, 3, 1)
    cond = st["conditions"][0]
    assert {k: cond[k] for k in ("type", "status", "reason", "message", "observedGeneration")} == {
        "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "",
        "observedGeneration": 1}
    header, rows = table(kc.kubectl("get", "pdb", "-n", ns).stdout)
    assert header == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert [(r["NAME"], r["MIN AVAILABLE"], r["MAX UNAVAILABLE"], r["ALLOWED DISRUPTIONS"]) for r in rows] == [
        ("x", "2", "N/A", "1")]
    # a spec change bumps generation; the controller catches up and re-evaluates
    kc.kubectl("patch", "pdb", "x", "-n", ns, "--type=merge", "-p", '{"spec":{"minAvailable":3}}')
    assert get(kc, ns, "pdb", "x")["metadata"]["generation"] == 2
    st = wait_status(kc, ns, "x", observedGeneration=2, disruptionsAllowed=0)
    assert st["desiredHealthy"] == 3
    assert (st["conditions"][0]["status"], st["conditions"][0]["reason"]) == ("False", "InsufficientPods")
    assert kc.kubectl("get", "pdb", "x", "-n", ns, "-o", "jsonpath={.metadata.generation}").stdout == "2"


def test_statefulset_percentages_use_controller_scale(kc: KubelingCluster, ns: str) -> None:
    apply(kc, ns, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                   "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    apply(kc, ns, pdb("half", maxUnavailable="50%"))
    st = wait_status(kc, ns, "half", currentHealthy=3)
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (3, 1, 2)  # 3 - ceil(1.5)
    _, rows = table(kc.kubectl("get", "pdb", "half", "-n", ns).stdout)
    assert (rows[0]["MIN AVAILABLE"], rows[0]["MAX UNAVAILABLE"], rows[0]["ALLOWED DISRUPTIONS"]) == (
        "N/A", "50%", "2")
    # the expected count follows the StatefulSet's scale, not the pods that exist yet
    kc.kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=5")
    st = wait_status(kc, ns, "half", expectedPods=5, currentHealthy=5)
    assert (st["desiredHealthy"], st["disruptionsAllowed"]) == (2, 3)  # 5 - ceil(2.5)


def test_unmanaged_pods_and_no_pods_events(kc: KubelingCluster, ns: str) -> None:
    # (disjoint selectors: a pod's changes only requeue the first PDB that matches it, as upstream)
    for name, app in (("bare0", "web"), ("bare1", "web"), ("lone0", "lone"), ("lone1", "lone")):
        apply(kc, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
                       "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
    apply(kc, ns, {**pdb("int"), "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "lone"}}}})
    apply(kc, ns, pdb("pct", minAvailable="50%"))
    apply(kc, ns, {**pdb("none", maxUnavailable=1), "spec": {"maxUnavailable": 1,
                                                            "selector": {"matchLabels": {"app": "nothing"}}}})
    st = wait_status(kc, ns, "int", currentHealthy=2)
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (2, 1, 1)
    st = wait_status(kc, ns, "pct", currentHealthy=2)
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (0, 0, 0)

    def events() -> dict[str, dict[str, Any]] | None:
        evs = json.loads(kc.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
        got = {(e["involvedObject"]["name"], e["reason"]): e for e in evs}
        return got if ("pct", "UnmanagedPods") in got and ("none", "NoPods") in got else None

    got = wait_for(events, what="UnmanagedPods and NoPods events")
    assert got[("none", "NoPods")]["message"] == "No matching pods found"
    assert got[("pct", "UnmanagedPods")]["type"] == "Warning"
    assert got[("pct", "UnmanagedPods")]["message"] == (
        "Pods selected by this PodDisruptionBudget (selector: &LabelSelector{MatchLabels:map[string]string"
        "{app: web,},MatchExpressions:[]LabelSelectorRequirement{},}) were found to be unmanaged. As a result, "
        "the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To "
        "account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.")
    assert got[("pct", "UnmanagedPods")]["source"]["component"] == "controllermanager"


def test_pdb_validation_and_status_subresource(kc: KubelingCluster, ns: str) -> None:
    cp = kc.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pdb("bad", minAvailable=1, maxUnavailable=1)),
                    check=False)
    assert cp.returncode != 0
    assert cp.stderr.startswith('The PodDisruptionBudget "bad" is invalid: spec: Invalid value: '
                                "policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0x")
    assert cp.stderr.rstrip().endswith("minAvailable and maxUnavailable cannot be both set")
    cp = kc.kubectl("apply", "-n", ns, "-f", "-", check=False, input=json.dumps(
        pdb("bad", minAvailable="150%", unhealthyPodEvictionPolicy="Sometimes")))
    assert cp.stderr.splitlines() == [
        'The PodDisruptionBudget "bad" is invalid: ',
        '* spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be '
        "greater than 100%",
        '* spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", '
        '"IfHealthyBudget"']
    apply(kc, ns, pdb("ok", maxUnavailable=0, unhealthyPodEvictionPolicy="AlwaysAllow"))
    wait_status(kc, ns, "ok", observedGeneration=1)
    cp = kc.kubectl("patch", "pdb", "ok", "-n", ns, "--subresource=status", "--type=merge",
                    "-p", '{"status":{"disruptionsAllowed":-1}}', check=False)
    assert 'status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0' in cp.stderr
    # /status ignores spec; the main resource ignores status
    kc.kubectl("patch", "pdb", "ok", "-n", ns, "--subresource=status", "--type=merge",
               "-p", '{"spec":{"maxUnavailable":5}}')
    kc.kubectl("patch", "pdb", "ok", "-n", ns, "--type=merge", "-p", '{"status":{"expectedPods":42}}')
    obj = get(kc, ns, "pdb", "ok")
    assert obj["spec"]["maxUnavailable"] == 0 and obj["status"]["expectedPods"] == 0
    assert obj["metadata"]["generation"] == 1


# ---- the eviction API ---------------------------------------------------------------------------------

def test_eviction_api_honours_budget(kc: KubelingCluster, ns: str) -> None:
    apply(kc, ns, deployment("web", 3))
    apply(kc, ns, pdb("x", minAvailable=3))
    wait_status(kc, ns, "x", currentHealthy=3, desiredHealthy=3)
    api = client.CoreV1Api(kc.api_client())
    victim = wait_ready_pods(kc, ns, 3)[0]["metadata"]["name"]
    with pytest.raises(ApiException) as e:
        evict(api, ns, victim)
    assert e.value.status == 429
    assert "Retry-After" not in e.value.headers
    assert json.loads(e.value.body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": VIOLATION,
        "reason": "TooManyRequests", "code": 429,
        "details": {"causes": [{"reason": "DisruptionBudget",
                                "message": "The disruption budget x needs 3 healthy pods and has 3 currently"}]}}
    # dry run: allowed by a looser budget, yet nothing changes
    kc.kubectl("patch", "pdb", "x", "-n", ns, "--type=merge", "-p", '{"spec":{"minAvailable":2}}')
    wait_status(kc, ns, "x", disruptionsAllowed=1, observedGeneration=2)
    assert evict(api, ns, victim, dry_run=["All"]) == "Success"
    assert not get(kc, ns, "pod", victim)["metadata"].get("deletionTimestamp")
    assert pdb_status(kc, ns, "x")["disruptionsAllowed"] == 1
    # a real eviction spends the budget: the next one is refused until a replacement is Ready
    assert evict(api, ns, victim) == "Success"
    other = next(p["metadata"]["name"] for p in pods(kc, ns) if p["metadata"]["name"] != victim and ready(p))
    with pytest.raises(ApiException) as e:
        evict(api, ns, other)
    assert e.value.status == 429
    wait_ready_pods(kc, ns, 3)
    wait_status(kc, ns, "x", disruptionsAllowed=1)
    assert evict(api, ns, other) == "Success"


def test_eviction_marks_pod_disruption_target(kc: KubelingCluster, ns: str) -> None:
    apply(kc, ns, {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "held", "labels": {"app": "web"}, "finalizers": ["example.com/hold"]},
                   "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
    wait_for(lambda: ready(get(kc, ns, "pod", "held")), what="pod ready")
    api = client.CoreV1Api(kc.api_client())
    assert evict(api, ns, "held") == "Success"
    p = get(kc, ns, "pod", "held")
    assert p["metadata"].get("deletionTimestamp")
    cond = {c["type"]: c for c in p["status"]["conditions"]}["DisruptionTarget"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("True", "EvictionByEvictionAPI",
                                                                 "Eviction API: evicting")
    kc.kubectl("patch", "pod", "held", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')


def test_eviction_with_two_budgets_is_refused(kc: KubelingCluster, ns: str) -> None:
    apply(kc, ns, deployment("web", 2))
    apply(kc, ns, pdb("a", maxUnavailable=1))
    apply(kc, ns, pdb("b", minAvailable=0))
    victim = wait_ready_pods(kc, ns, 2)[0]["metadata"]["name"]
    api = client.CoreV1Api(kc.api_client())
    with pytest.raises(ApiException) as e:
        evict(api, ns, victim)
    assert e.value.status == 500
    assert json.loads(e.value.body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
        "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
                   "support."}
    assert not get(kc, ns, "pod", victim)["metadata"].get("deletionTimestamp")


def test_unready_pods_and_unhealthy_pod_eviction_policy(kc: KubelingCluster, ns: str) -> None:
    apply(kc, ns, deployment("web", 2))
    apply(kc, ns, {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "sick", "labels": {"app": "web"},
                                "annotations": {"kubeling.dev/ready": "false"}},
                   "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
    apply(kc, ns, pdb("x", minAvailable=3))
    wait_status(kc, ns, "x", currentHealthy=2, desiredHealthy=3, expectedPods=3)
    wait_for(lambda: get(kc, ns, "pod", "sick")["status"].get("phase") == "Running", what="sick pod running")
    api = client.CoreV1Api(kc.api_client())
    with pytest.raises(ApiException) as e:
        evict(api, ns, "sick")
    assert e.value.status == 429
    assert json.loads(e.value.body)["details"]["causes"][0]["message"] == (
        "The disruption budget x needs 3 healthy pods and has 2 currently")
    kc.kubectl("patch", "pdb", "x", "-n", ns, "--type=merge", "-p",
               '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}')
    wait_status(kc, ns, "x", observedGeneration=2)
    # The unhealthy pod is deleted with a resourceVersion precondition; if the kubelet writes its status in
    # between, upstream answers 429 "still being processed" and clients retry (kubectl drain does).
    for _ in range(20):
        try:
            assert evict(api, ns, "sick") == "Success"
            break
        except ApiException as e:
            if e.status != 429 or "still being processed" not in e.body.decode():
                raise
            time.sleep(0.5)
    else:
        raise AssertionError("eviction of the unready pod kept getting 429 'still being processed'")


# ---- kubectl drain ------------------------------------------------------------------------------------

def test_drain_waits_for_budget_then_uncordon(kc: KubelingCluster, ns: str) -> None:
    # all three replicas on node1 (node2 cordoned meanwhile; master is tainted)
    kc.kubectl("cordon", "node2")
    try:
        apply(kc, ns, deployment("web", 3))
        placed = wait_ready_pods(kc, ns, 3)
    finally:
        kc.kubectl("uncordon", "node2")
    assert {p["spec"]["nodeName"] for p in placed} == {"node1"}
    kc.kubectl("create", "pdb", "web", "-n", ns, "--selector=app=web", "--min-available=2")
    wait_status(kc, ns, "web", disruptionsAllowed=1, currentHealthy=3)
    try:
        cp = kc.kubectl("drain", "node1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s",
                        "--pod-selector=app=web", timeout=120)
        out = cp.stdout.splitlines()
        assert out[0] == "node/node1 cordoned" and out[-1] == "node/node1 drained"
        names = {p["metadata"]["name"] for p in placed}
        assert {f"pod/{n} evicted" for n in names} <= set(out)
        blocked = [ln for ln in cp.stderr.splitlines() if ln.startswith("error when evicting pods/")]
        assert blocked, cp.stderr
        assert blocked[0].endswith(f' -n "{ns}" (will retry after 5s): {VIOLATION}')
        now = [p for p in pods(kc, ns) if ready(p)]
        assert len(now) == 3 and {p["spec"]["nodeName"] for p in now} == {"node2"}
        node = get(kc, "default", "node", "node1")
        assert node["spec"].get("unschedulable") is True
        assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}.items() <= \
            next(t for t in node["spec"]["taints"] if t["key"] == "node.kubernetes.io/unschedulable").items()
    finally:
        assert kc.kubectl("uncordon", "node1").stdout.strip() == "node/node1 uncordoned"
    node = get(kc, "default", "node", "node1")
    assert not node["spec"].get("unschedulable")
    _, rows = table(kc.kubectl("get", "node", "node1").stdout)
    assert rows[0]["STATUS"] == "Ready"

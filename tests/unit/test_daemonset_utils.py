"""DaemonSet controller helpers: eligibility (nodeSelector, node affinity, taints vs the daemon
tolerations), placement affinity, rolling-update arithmetic, revisions, backoff; and the reconcile
decisions of DaemonSetControl against in-memory informers and a recording client."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from kubeling.api import meta
from kubeling.api.errors import ApiError
from kubeling.controllers.common.expectations import ControllerExpectations
from kubeling.controllers.common.podcontrol import compute_hash, fnv32a, pod_from_template, pods_prefix
from kubeling.controllers.common.refmanager import CONTROLLER_INDEX, index_by_controller
from kubeling.controllers.daemonset import utils
from kubeling.controllers.daemonset.control import DaemonSetControl

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
CP_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}


def node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None) -> dict:
    n: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
                         "spec": {}}
    if taints:
        n["spec"]["taints"] = taints
    return n


def ds(spec_extra: dict[str, Any] | None = None, pod_spec: dict[str, Any] | None = None, name: str = "nginx-ds",
       **strategy: Any) -> dict[str, Any]:
    pspec = {"containers": [{"name": "nginx", "image": "nginx:1.7.9"}]}
    pspec.update(pod_spec or {})
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"k8s-app": "nginx"}},
        "template": {"metadata": {"labels": {"k8s-app": "nginx"}}, "spec": pspec},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "revisionHistoryLimit": 10,
    }
    if strategy:
        spec["updateStrategy"]["rollingUpdate"].update(strategy)
    spec.update(spec_extra or {})
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1,
                         "resourceVersion": "10",
                         "annotations": {utils.TEMPLATE_GENERATION_ANNOTATION: "1"}},
            "spec": spec, "status": {}}


# ---- tolerations --------------------------------------------------------------------------------

def test_daemon_tolerations_added_after_the_templates_own():
    tols = utils.daemon_pod_tolerations({"tolerations": [CP_TOLERATION]})
    assert tols[0] == CP_TOLERATION
    keys = [(t["key"], t["effect"]) for t in tols[1:]]
    assert keys == [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
    assert all(t["operator"] == "Exists" and "tolerationSeconds" not in t for t in tols[1:])


def test_daemon_tolerations_network_unavailable_only_for_host_network():
    assert not any(t["key"] == utils.TAINT_NETWORK_UNAVAILABLE for t in utils.daemon_pod_tolerations({}))
    tols = utils.daemon_pod_tolerations({"hostNetwork": True})
    assert tols[-1] == {"key": utils.TAINT_NETWORK_UNAVAILABLE, "operator": "Exists", "effect": "NoSchedule"}


def test_daemon_toleration_replaces_an_identical_one_in_place():
    own = {"key": utils.TAINT_NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
    tols = utils.daemon_pod_tolerations({"tolerations": [own]})
    assert tols[0] == {"key": utils.TAINT_NOT_READY, "operator": "Exists", "effect": "NoExecute"}
    assert len(tols) == 6


def test_tolerates_taint():
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert utils.tolerates_taint({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}, taint)
    assert utils.tolerates_taint({"key": "k", "value": "v"}, taint)  # empty effect matches all effects
    assert not utils.tolerates_taint({"key": "k", "value": "w"}, taint)
    assert utils.tolerates_taint({"key": "k", "operator": "Exists"}, taint)
    assert utils.tolerates_taint({"operator": "Exists"}, taint)  # empty key + Exists tolerates everything
    assert not utils.tolerates_taint({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert not utils.tolerates_taint({"key": "other", "operator": "Exists"}, taint)


# ---- nodeShouldRunDaemonPod ---------------------------------------------------------------------

def test_untainted_node_runs_and_control_plane_is_skipped():
    d = ds()
    assert utils.node_should_run_daemon_pod(node("node1"), d) == (True, True)
    # NoSchedule: no new pod, but an existing one may stay
    assert utils.node_should_run_daemon_pod(node("master", taints=[CP_TAINT]), d) == (False, True)


def test_control_plane_toleration_puts_a_pod_on_master():
    d = ds(pod_spec={"tolerations": [CP_TOLERATION]})
    assert utils.node_should_run_daemon_pod(node("master", taints=[CP_TAINT]), d) == (True, True)


def test_untolerated_no_execute_taint_evicts():
    d = ds()
    assert utils.node_should_run_daemon_pod(node("n", taints=[{"key": "x", "effect": "NoExecute"}]), d) \
        == (False, False)
    # PreferNoSchedule is not considered at all
    assert utils.node_should_run_daemon_pod(node("n", taints=[{"key": "x", "effect": "PreferNoSchedule"}]), d) \
        == (True, True)


@pytest.mark.parametrize("taint", [
    {"key": utils.TAINT_UNSCHEDULABLE, "effect": "NoSchedule"},  # cordoned
    {"key": utils.TAINT_NOT_READY, "effect": "NoExecute"},
    {"key": utils.TAINT_UNREACHABLE, "effect": "NoExecute"},
    {"key": utils.TAINT_DISK_PRESSURE, "effect": "NoSchedule"},
    {"key": utils.TAINT_MEMORY_PRESSURE, "effect": "NoSchedule"},
    {"key": utils.TAINT_PID_PRESSURE, "effect": "NoSchedule"},
])
def test_daemon_pods_tolerate_node_condition_taints(taint):
    assert utils.node_should_run_daemon_pod(node("n", taints=[taint]), ds()) == (True, True)


def test_not_ready_no_schedule_taint_is_not_tolerated():
    t = {"key": utils.TAINT_NOT_READY, "effect": "NoSchedule"}
    assert utils.node_should_run_daemon_pod(node("n", taints=[t]), ds()) == (False, True)


def test_network_unavailable_taint_needs_host_network():
    t = {"key": utils.TAINT_NETWORK_UNAVAILABLE, "effect": "NoSchedule"}
    assert utils.node_should_run_daemon_pod(node("n", taints=[t]), ds()) == (False, True)
    assert utils.node_should_run_daemon_pod(node("n", taints=[t]), ds(pod_spec={"hostNetwork": True})) \
        == (True, True)


def test_node_selector():
    d = ds(pod_spec={"nodeSelector": {"disk": "ssd"}})
    assert utils.node_should_run_daemon_pod(node("n", {"disk": "ssd"}), d) == (True, True)
    assert utils.node_should_run_daemon_pod(node("n", {"disk": "hdd"}), d) == (False, False)
    assert utils.node_should_run_daemon_pod(node("n"), d) == (False, False)


def _affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


def test_required_node_affinity_terms_are_ored_requirements_anded():
    d = ds(pod_spec=_affinity(
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                              {"key": "gpu", "operator": "DoesNotExist"}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}))
    assert utils.node_should_run_daemon_pod(node("n", {"zone": "a"}), d)[0]
    assert not utils.node_should_run_daemon_pod(node("n", {"zone": "a", "gpu": "1"}), d)[0]
    assert not utils.node_should_run_daemon_pod(node("n", {"zone": "c"}), d)[0]
    assert utils.node_should_run_daemon_pod(node("special"), d)[0]


def test_node_affinity_operators():
    def runs(exp: dict[str, Any], labels: dict[str, str]) -> bool:
        return utils.node_should_run_daemon_pod(node("n", labels), ds(pod_spec=_affinity(
            {"matchExpressions": [exp]})))[0]

    assert runs({"key": "k", "operator": "NotIn", "values": ["x"]}, {})
    assert not runs({"key": "k", "operator": "NotIn", "values": ["x"]}, {"k": "x"})
    assert runs({"key": "k", "operator": "Exists"}, {"k": ""})
    assert runs({"key": "cpu", "operator": "Gt", "values": ["4"]}, {"cpu": "8"})
    assert not runs({"key": "cpu", "operator": "Gt", "values": ["4"]}, {"cpu": "4"})
    assert not runs({"key": "cpu", "operator": "Gt", "values": ["4"]}, {"cpu": "many"})
    assert runs({"key": "cpu", "operator": "Lt", "values": ["4"]}, {"cpu": "2"})


def test_empty_or_broken_terms_match_nothing():
    assert not utils.node_should_run_daemon_pod(node("n"), ds(pod_spec=_affinity({})))[0]
    broken = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]}
    assert not utils.node_should_run_daemon_pod(node("a"), ds(pod_spec=_affinity(broken)))[0]
    # another term can still match
    ok = {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["b"]}]}
    assert utils.node_should_run_daemon_pod(node("a"), ds(pod_spec=_affinity(broken, ok)))[0]


def test_template_node_name_restricts_to_that_node():
    d = ds(pod_spec={"nodeName": "node1"})
    assert utils.node_should_run_daemon_pod(node("node1"), d) == (True, True)
    assert utils.node_should_run_daemon_pod(node("node2"), d) == (False, False)


def test_should_ignore_node_update_only_looks_at_labels_and_taints():
    a = node("n", {"x": "1"})
    b = orjson.loads(orjson.dumps(a))
    b["status"] = {"conditions": [{"type": "Ready", "status": "False"}]}
    b["metadata"]["resourceVersion"] = "99"
    assert utils.should_ignore_node_update(a, b)
    c = node("n", {"x": "2"})
    assert not utils.should_ignore_node_update(a, c)
    assert not utils.should_ignore_node_update(a, node("n", {"x": "1"}, [CP_TAINT]))


# ---- placement ---------------------------------------------------------------------------------

def test_replace_node_name_node_affinity():
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node1"]}]}
    assert utils.replace_node_name_node_affinity(None, "node1") == {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    pref = [{"weight": 1, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}]
    aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": pref,
                            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}},
           "podAntiAffinity": {"x": 1}}
    out = utils.replace_node_name_node_affinity(aff, "node1")
    assert out["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [term]
    assert out["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == pref
    assert out["podAntiAffinity"] == {"x": 1}
    # the input is untouched
    assert aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0] != term


def test_get_target_node_name():
    pod = {"metadata": {}, "spec": {"affinity": utils.replace_node_name_node_affinity(None, "node7")}}
    assert utils.get_target_node_name(pod) == "node7"
    pod["spec"]["nodeName"] = "node8"
    assert utils.get_target_node_name(pod) == "node8"
    assert utils.get_target_node_name({"metadata": {}, "spec": {}}) is None
    two = {"metadata": {}, "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                "values": ["a", "b"]}]}]}}}}}
    assert utils.get_target_node_name(two) is None


def test_create_pod_template_and_pod_from_template():
    d = ds()
    t = utils.create_pod_template(d["spec"]["template"], 3, "abc")
    assert t["metadata"]["labels"] == {"k8s-app": "nginx", "pod-template-generation": "3",
                                       "controller-revision-hash": "abc"}
    assert len(t["spec"]["tolerations"]) == 6
    assert "tolerations" not in d["spec"]["template"]["spec"]  # not modified
    ref = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "nginx-ds", "uid": "u", "controller": True,
           "blockOwnerDeletion": True}
    pod = pod_from_template(t, d, ref)
    assert pod["metadata"]["generateName"] == "nginx-ds-"
    assert pod["metadata"]["ownerReferences"] == [ref]
    assert pod["metadata"]["labels"]["controller-revision-hash"] == "abc"
    assert pods_prefix("x" * 253) == "x" * 253


# ---- rolling update arithmetic -----------------------------------------------------------------

def test_scaled_value():
    assert utils.scaled_value(3, 100, True) == 3
    assert utils.scaled_value("10%", 4999, True) == 500
    assert utils.scaled_value("10%", 4999, False) == 499
    assert utils.scaled_value("0%", 10, True) == 0
    assert utils.scaled_value("100%", 7, True) == 7
    with pytest.raises(ValueError):
        utils.scaled_value("10", 100, True)
    with pytest.raises(ValueError):
        utils.scaled_value("x%", 100, True)


def test_surge_and_unavailable_counts():
    d = ds(maxUnavailable="10%", maxSurge=0)
    assert utils.unavailable_count(d, 20) == 2
    assert utils.surge_count(d, 20) == 0
    assert not utils.allows_surge(d)
    s = ds(maxUnavailable=0, maxSurge="25%")
    assert utils.surge_count(s, 10) == 3
    assert utils.allows_surge(s)
    on_delete = ds({"updateStrategy": {"type": "OnDelete"}})
    assert utils.unavailable_count(on_delete, 10) == 0 and utils.surge_count(on_delete, 10) == 0


def _pod(name: str, node_name: str | None = "n", hash_: str = "h1", ready: bool = True, created: str = "",
         deleting: bool = False, phase: str = "Running", gen: str | None = None,
         ready_since: float | None = None) -> dict[str, Any]:
    labels = {"k8s-app": "nginx", utils.UNIQUE_LABEL: hash_}
    if gen is not None:
        labels[utils.TEMPLATE_GENERATION_LABEL] = gen
    md: dict[str, Any] = {"name": name, "namespace": "default", "labels": labels,
                          "creationTimestamp": created or "2026-01-01T00:00:00Z", "uid": f"uid-{name}",
                          "resourceVersion": "1",
                          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "nginx-ds",
                                               "uid": "uid-nginx-ds", "controller": True}]}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:10Z"
    spec: dict[str, Any] = {"affinity": utils.replace_node_name_node_affinity(None, node_name or "n")}
    if node_name:
        spec["nodeName"] = node_name
    cond = {"type": "Ready", "status": "True" if ready else "False",
            "lastTransitionTime": meta.now_rfc3339(ready_since if ready_since is not None else time.time() - 3600)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
            "status": {"phase": phase, "conditions": [cond]}}


def test_is_pod_updated_by_hash_or_generation():
    assert utils.is_pod_updated(_pod("a", hash_="h1"), "h1", None)
    assert not utils.is_pod_updated(_pod("a", hash_="h0"), "h1", None)
    assert utils.is_pod_updated(_pod("a", hash_="h0", gen="2"), "h1", 2)
    assert not utils.is_pod_updated(_pod("a", hash_="h0", gen="1"), "h1", 2)


def test_is_pod_available_honours_min_ready_seconds():
    now = time.time()
    p = _pod("a", ready_since=now - 5)
    assert utils.is_pod_available(p, 0, now)
    assert utils.is_pod_available(p, 3, now)
    assert not utils.is_pod_available(p, 10, now)
    assert not utils.is_pod_available(_pod("b", ready=False), 0, now)


def test_find_updated_pods_on_node():
    new, old = _pod("new", hash_="h2"), _pod("old", hash_="h1")
    assert utils.find_updated_pods_on_node([new, old], "h2", None) == (new, old, True)
    assert utils.find_updated_pods_on_node([old, _pod("x", hash_="h0")], "h2", None) == (None, None, False)
    assert utils.find_updated_pods_on_node([_pod("d", deleting=True), new], "h2", None) == (new, None, True)


def test_pod_order_scheduled_first_then_oldest_then_name():
    a = _pod("a", node_name=None, created="2026-01-01T00:00:00Z")
    b = _pod("b", created="2026-01-01T00:00:05Z")
    c = _pod("c", created="2026-01-01T00:00:01Z")
    d = _pod("d", created="2026-01-01T00:00:01Z")
    assert [p["metadata"]["name"] for p in utils.sort_pods([a, b, d, c])] == ["c", "d", "b", "a"]


def test_unscheduled_pods_without_node():
    m = {"gone": [_pod("x", node_name=None), _pod("y", node_name="gone")], "n": [_pod("z", node_name=None)]}
    assert utils.unscheduled_pods_without_node({"n"}, m) == ["x"]


# ---- revisions and hashing ---------------------------------------------------------------------

def test_patch_is_go_sorted_json_with_replace_directive():
    raw = utils.get_patch(ds())
    assert raw.startswith(b'{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,')
    assert orjson.loads(raw)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.7.9"


def test_fnv32a_and_compute_hash():
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    t = ds()["spec"]["template"]
    h = compute_hash(t, None)
    assert h == compute_hash(orjson.loads(orjson.dumps(t)), None)
    assert h != compute_hash(t, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_backoff_doubles_and_expires():
    now = [100.0]
    b = utils.Backoff(1.0, 8.0, clock=lambda: now[0])
    assert not b.is_in_backoff_since_update("k", now[0])
    b.next("k", now[0])
    assert b.get("k") == 1.0 and b.is_in_backoff_since_update("k", now[0] + 0.5)
    assert not b.is_in_backoff_since_update("k", now[0] + 1.0)
    for _ in range(5):
        b.next("k", now[0])
    assert b.get("k") == 8.0
    now[0] += 17.0  # more than 2*max since the last update: forgotten
    assert not b.is_in_backoff_since_update("k", now[0])
    b.gc()
    assert len(b) == 0


# ---- DaemonSetControl against fakes ------------------------------------------------------------

class FakeInformer:
    def __init__(self, objs: list[dict[str, Any]] = ()) -> None:
        self.cache = {self._key(o): o for o in objs}
        self.resource_version = "1"

    @staticmethod
    def _key(o: dict[str, Any]) -> str:
        md = o["metadata"]
        return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]

    def get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def get_by(self, ns: str | None, name: str) -> dict[str, Any] | None:
        return self.cache.get(f"{ns}/{name}" if ns else name)

    def list(self) -> list[dict[str, Any]]:
        return list(self.cache.values())

    def by_index(self, index: str, value: str) -> list[dict[str, Any]]:
        assert index == CONTROLLER_INDEX
        return [o for o in self.cache.values() if value in index_by_controller(o)]


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.n = 0

    async def create(self, resource: str, ns: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        out = orjson.loads(orjson.dumps(obj))
        md = out["metadata"]
        md.setdefault("name", f"{md.get('generateName', 'x-')}{self.n:05d}")
        md.update({"namespace": ns, "uid": f"u{self.n}", "resourceVersion": str(100 + self.n),
                   "creationTimestamp": meta.now_rfc3339()})
        self.calls.append(("create", resource, out))
        return out

    async def delete(self, resource: str, ns: str | None, name: str, options: Any = None) -> None:
        self.calls.append(("delete", resource, name))

    async def update(self, resource: str, obj: dict[str, Any], sub: str | None = None) -> dict[str, Any]:
        self.calls.append(("update", resource, obj))
        return obj

    async def update_status(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("status", resource, obj))
        return obj

    async def get(self, resource: str, ns: str | None, name: str) -> dict[str, Any]:
        raise ApiError(404, "NotFound", "not found")

    async def patch(self, *a: Any, **kw: Any) -> dict[str, Any]:
        raise AssertionError(f"unexpected patch {a}")

    def of(self, kind: str, resource: str = "pods") -> list[Any]:
        return [c[2] for c in self.calls if c[0] == kind and c[1] == resource]


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


def make_control(d: dict[str, Any], nodes: list[dict[str, Any]], pods: list[dict[str, Any]] = (),
                 revisions: list[dict[str, Any]] = ()) -> tuple[DaemonSetControl, FakeClient, FakeRecorder]:
    client, rec = FakeClient(), FakeRecorder()
    ctl = DaemonSetControl(client, FakeInformer([d]), FakeInformer(list(pods)), FakeInformer(nodes),
                           FakeInformer(list(revisions)), rec, ControllerExpectations(), utils.Backoff(),
                           lambda key, delay: None)
    return ctl, client, rec


def current_revision(ctl: DaemonSetControl, d: dict[str, Any]) -> dict[str, Any]:
    rev = ctl.new_revision(d, 1)
    rev["metadata"].update({"uid": "rev-uid", "resourceVersion": "5"})
    return rev


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_sync_creates_one_pod_per_eligible_node_with_events_and_status():
    d = ds()
    nodes = [node("master", {"node-role.kubernetes.io/control-plane": ""}, [CP_TAINT]), node("node1"),
             node("node2")]
    ctl, client, rec = make_control(d, nodes)
    run(ctl.sync("default/nginx-ds"))
    revs = client.of("create", "controllerrevisions.apps")
    assert len(revs) == 1 and revs[0]["revision"] == 1
    hash_ = revs[0]["metadata"]["labels"][utils.UNIQUE_LABEL]
    assert revs[0]["metadata"]["name"] == f"nginx-ds-{hash_}"
    pods = client.of("create")
    assert sorted(utils.get_target_node_name(p) for p in pods) == ["node1", "node2"]
    for p in pods:
        assert p["metadata"]["labels"][utils.UNIQUE_LABEL] == hash_
        assert p["metadata"]["labels"][utils.TEMPLATE_GENERATION_LABEL] == "1"
        assert "nodeName" not in p["spec"]  # the scheduler binds it
    assert sorted(m for _, r, m in rec.events if r == "SuccessfulCreate") == \
        sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    st = client.of("status", "daemonsets.apps")[-1]["status"]
    assert st["desiredNumberScheduled"] == 2 and st["currentNumberScheduled"] == 0
    assert st["observedGeneration"] == 1 and st["numberUnavailable"] == 2


def test_sync_waits_for_expectations_then_counts_status():
    d = ds()
    nodes = [node("node1"), node("node2")]
    ctl, client, _ = make_control(d, nodes)
    run(ctl.sync("default/nginx-ds"))
    assert not ctl.expectations.satisfied_expectations("default/nginx-ds")
    n = len(client.of("create"))
    run(ctl.sync("default/nginx-ds"))  # nothing observed yet: status only, no new pods
    assert len(client.of("create")) == n


def test_failed_pod_is_deleted_with_backoff_and_extra_pods_pruned():
    d = ds()
    ctl, client, rec = make_control(d, [node("n1"), node("n2")])
    hash_ = current_revision(ctl, d)["metadata"]["labels"][utils.UNIQUE_LABEL]
    ctl.revisions.cache["default/rev"] = current_revision(ctl, d)
    ctl.pods.cache.update({
        "default/f": _pod("f", "n1", hash_, phase="Failed"),
        "default/old": _pod("old", "n2", hash_, created="2026-01-01T00:00:00Z"),
        "default/young": _pod("young", "n2", hash_, created="2026-01-01T00:00:09Z"),
    })
    run(ctl.sync("default/nginx-ds"))
    assert sorted(client.of("delete")) == ["f", "young"]
    assert ("Warning", "FailedDaemonPod", "Found failed daemon pod default/f on node n1, will try to kill it") \
        in rec.events
    # a second failure on the same node within the backoff is not acted on
    client.calls.clear()
    ctl.expectations.delete_expectations("default/nginx-ds")
    del ctl.pods.cache["default/young"]
    ctl.pods.resource_version = "2"
    run(ctl.sync("default/nginx-ds"))
    assert client.of("delete") == []


def test_misscheduled_pod_is_deleted_and_counted():
    d = ds(pod_spec={"nodeSelector": {"disk": "ssd"}})
    ctl, client, _ = make_control(d, [node("n1", {"disk": "ssd"}), node("n2")])
    rev = current_revision(ctl, d)
    hash_ = rev["metadata"]["labels"][utils.UNIQUE_LABEL]
    ctl.revisions.cache["default/rev"] = rev
    ctl.pods.cache.update({"default/a": _pod("a", "n1", hash_), "default/b": _pod("b", "n2", hash_)})
    run(ctl.update_status(d, ctl.nodes.list(), [ctl.should_run(n, d) for n in ctl.nodes.list()], hash_, True))
    st = client.of("status", "daemonsets.apps")[-1]["status"]
    assert st["numberMisscheduled"] == 1 and st["desiredNumberScheduled"] == 1
    run(ctl.sync("default/nginx-ds"))
    assert client.of("delete") == ["b"]


def _rolling_fixture(n: int, **strategy: Any) -> tuple[DaemonSetControl, FakeClient, str]:
    d = ds(**strategy)
    nodes = [node(f"n{i}") for i in range(n)]
    ctl, client, _ = make_control(d, nodes)
    rev = current_revision(ctl, d)
    ctl.revisions.cache["default/rev"] = rev
    for i in range(n):
        ctl.pods.cache[f"default/p{i}"] = _pod(f"p{i}", f"n{i}", "old-hash")
    return ctl, client, rev["metadata"]["labels"][utils.UNIQUE_LABEL]


def test_rolling_update_deletes_at_most_max_unavailable():
    ctl, client, _ = _rolling_fixture(10, maxUnavailable="20%")
    run(ctl.sync("default/nginx-ds"))
    assert len(client.of("delete")) == 2 and client.of("create") == []


def test_rolling_update_counts_unavailable_new_pods():
    ctl, client, hash_ = _rolling_fixture(4, maxUnavailable=2)
    ctl.pods.cache["default/p0"] = _pod("p0", "n0", hash_, ready=False)  # new, not yet available
    run(ctl.sync("default/nginx-ds"))
    assert len(client.of("delete")) == 1


def test_rolling_update_replaces_unavailable_old_pods_immediately():
    ctl, client, _ = _rolling_fixture(4, maxUnavailable=1)
    ctl.pods.cache["default/p0"] = _pod("p0", "n0", "old-hash", ready=False)
    ctl.pods.cache["default/p1"] = _pod("p1", "n1", "old-hash", ready=False)
    run(ctl.sync("default/nginx-ds"))
    assert sorted(client.of("delete")) == ["p0", "p1"]


def test_surge_creates_new_pods_next_to_old_ones_then_deletes_old():
    ctl, client, hash_ = _rolling_fixture(4, maxUnavailable=0, maxSurge=1)
    run(ctl.sync("default/nginx-ds"))
    created = client.of("create")
    assert client.of("delete") == [] and len(created) == 1
    node_name = utils.get_target_node_name(created[0])
    i = node_name[1:]
    # the new pod became available: the old one on that node goes, and the next node surges
    client.calls.clear()
    ctl.expectations.delete_expectations("default/nginx-ds")
    ctl.pods.cache["default/new"] = _pod("new", node_name, hash_, created="2026-01-01T00:01:00Z")
    ctl.pods.resource_version = "2"
    run(ctl.sync("default/nginx-ds"))
    assert client.of("delete") == [f"p{i}"]


def test_on_delete_does_not_replace_old_pods():
    d = ds({"updateStrategy": {"type": "OnDelete"}})
    ctl, client, _ = make_control(d, [node("n0")])
    ctl.revisions.cache["default/rev"] = current_revision(ctl, d)
    ctl.pods.cache["default/p0"] = _pod("p0", "n0", "old-hash")
    run(ctl.sync("default/nginx-ds"))
    assert client.of("delete") == [] and client.of("create") == []
    st = client.of("status", "daemonsets.apps")[-1]["status"]
    assert "updatedNumberScheduled" not in st and st["numberAvailable"] == 1  # omitempty zero


def test_rollback_renumbers_the_matching_revision():
    d = ds()
    ctl, client, _ = make_control(d, [])
    rev = current_revision(ctl, d)
    rev["revision"] = 1
    other = orjson.loads(orjson.dumps(rev))
    other["metadata"].update({"name": "nginx-ds-other", "uid": "other"})
    other["data"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.9.1"
    other["revision"] = 2
    ctl.revisions.cache.update({"default/a": rev, "default/b": other})
    cur, old = run(ctl.construct_history(d))
    assert cur["metadata"]["name"] == rev["metadata"]["name"] and old == [other]
    upd = client.of("update", "controllerrevisions.apps")
    assert upd and upd[0]["revision"] == 3

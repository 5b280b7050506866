"""Unit tests of the scheduler's plugins (pure functions), cache, queue and scheduling cycle."""
from __future__ import annotations

import random
from typing import Any

import pytest

from kubeling.scheduler import plugins as P
from kubeling.scheduler.cache import NodeInfo, PodInfo, SchedulerCache
from kubeling.scheduler.scheduler import Algorithm, Decision, Failure, SchedulingQueue, backoff_duration

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def mknode(name: str, cpu: str = "4", mem: str = "8Gi", pods: str = "110", labels: dict | None = None,
           taints: list | None = None, unschedulable: bool = False, **extra: str) -> dict[str, Any]:
    lab = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    lab.update(labels or {})
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    alloc = {"cpu": cpu, "memory": mem, "pods": pods, **extra}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": lab}, "spec": spec,
            "status": {"allocatable": alloc, "capacity": alloc}}


def mkpod(name: str, ns: str = "default", cpu: str | None = None, mem: str | None = None, node: str = "",
          labels: dict | None = None, **spec: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "c", "image": "nginx"}
    req = {}
    if cpu:
        req["cpu"] = cpu
    if mem:
        req["memory"] = mem
    if req:
        c["resources"] = {"requests": req}
    s = {"containers": [c], "schedulerName": "default-scheduler", **spec}
    if node:
        s["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "labels": labels or {}},
            "spec": s, "status": {"phase": "Pending"}}


def node_info(node: dict[str, Any], *pods: dict[str, Any]) -> NodeInfo:
    cache = SchedulerCache()
    cache.upsert_node(node)
    for p in pods:
        p = dict(p, spec=dict(p["spec"], nodeName=node["metadata"]["name"]))
        cache.set_pod(p)
    return cache.nodes[node["metadata"]["name"]]


class Volumes(P.VolumeView):
    def __init__(self, pvcs: list[dict] = (), pvs: list[dict] = (), classes: list[dict] = ()) -> None:
        self.pvcs = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in pvcs}
        self.pvs = {v["metadata"]["name"]: v for v in pvs}
        self.classes = {c["metadata"]["name"]: c for c in classes}

    def pvc(self, namespace, name):
        return self.pvcs.get((namespace, name))

    def pv(self, name):
        return self.pvs.get(name)

    def storage_class(self, name):
        return self.classes.get(name)

    def pvs_for_class(self, class_name):
        return [v for v in self.pvs.values() if P.volume_class(v) == class_name]


# ---- quantities and requests ---------------------------------------------------------------------------

@pytest.mark.parametrize("q,milli,val", [("100m", 100, 1), ("1", 1000, 1), ("2.5", 2500, 3), (1, 1000, 1),
                                         ("1Ki", 1024000, 1024), ("1Gi", 1024 ** 3 * 1000, 1024 ** 3),
                                         ("1k", 1000000, 1000), ("1e3", 1000000, 1000), ("1E", 10 ** 21, 10 ** 18),
                                         ("500u", 1, 1), ("0.1", 100, 1)])
def test_quantities(q, milli, val):
    assert P.milli_value(q) == milli
    assert P.int_value(q) == val


def test_pod_requests_containers_init_sidecars_overhead():
    pod = mkpod("p", cpu="100m", mem="64Mi")
    pod["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "200m"}, "limits": {"memory": "1Gi"}}})
    pod["spec"]["initContainers"] = [
        {"name": "i1", "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "1"}}},
        {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
        {"name": "i2", "resources": {"requests": {"cpu": "400m"}}},
    ]
    pod["spec"]["overhead"] = {"cpu": "10m"}
    req, nz_cpu, nz_mem = P.pod_requests(pod)
    # containers 300m + sidecar 50m = 350m; init max(1000, 400+50) = 1000 -> max(350, 1000) = 1000; + overhead 10
    assert req["cpu"] == 1010
    assert req["memory"] == 64 * 2 ** 20 + 2 ** 30  # limits default the missing request
    assert req["nvidia.com/gpu"] == 1
    assert nz_mem == 64 * 2 ** 20 + 2 ** 30 + 200 * 2 ** 20  # the sidecar counts with the 200Mi default
    assert nz_cpu == 1010


def test_nonzero_defaults_for_best_effort():
    req, nz_cpu, nz_mem = P.pod_requests(mkpod("p"))
    assert req == {}
    assert (nz_cpu, nz_mem) == (100, 200 * 2 ** 20)


# ---- tolerations / taints --------------------------------------------------------------------------------

def test_toleration_matching():
    taint = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")
    assert P.tolerates(("node-role.kubernetes.io/control-plane", "Exists", "", "NoSchedule"), taint)
    assert P.tolerates(("node-role.kubernetes.io/control-plane", "Exists", "", ""), taint)
    assert P.tolerates(("", "Exists", "", ""), taint)                 # empty key + Exists tolerates all
    assert not P.tolerates(("", "Exists", "", "NoExecute"), taint)    # ... of its effect only
    assert P.tolerates(("node-role.kubernetes.io/control-plane", "Equal", "", "NoSchedule"), taint)
    assert not P.tolerates(("node-role.kubernetes.io/control-plane", "Equal", "x", "NoSchedule"), taint)
    assert not P.tolerates(("other", "Exists", "", ""), taint)


def test_taint_toleration_filter_message():
    n = node_info(mknode("master", taints=[CP_TAINT, {"key": "soft", "effect": "PreferNoSchedule"}]))
    st = P.filter_taint_toleration([], n)
    assert st.code == P.UNRESOLVABLE
    assert st.reasons == ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
    tols = P.compile_tolerations(mkpod("p", tolerations=[{"key": "node-role.kubernetes.io/control-plane",
                                                          "operator": "Exists", "effect": "NoSchedule"}]))
    assert P.filter_taint_toleration(tols, n) is None
    n2 = node_info(mknode("n", taints=[{"key": "gpu", "value": "true", "effect": "NoExecute"}]))
    assert P.filter_taint_toleration([], n2).reasons == ["node(s) had untolerated taint {gpu: true}"]


def test_node_unschedulable():
    n = node_info(mknode("n", unschedulable=True))
    st = P.filter_node_unschedulable([], n)
    assert st.reasons == ["node(s) were unschedulable"] and st.code == P.UNRESOLVABLE
    tols = P.compile_tolerations(mkpod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                                          "operator": "Exists", "effect": "NoSchedule"}]))
    assert P.filter_node_unschedulable(tols, n) is None
    assert P.filter_node_unschedulable([], node_info(mknode("m"))) is None


def test_node_name_filter():
    n = node_info(mknode("node1"))
    assert P.filter_node_name(mkpod("p", node="node1"), n) is None
    assert P.filter_node_name(mkpod("p", node="node2"), n).reasons == ["node(s) didn't match the requested node name"]


# ---- node affinity -----------------------------------------------------------------------------------------

def _aff(**spec) -> P.RequiredNodeAffinity:
    return P.RequiredNodeAffinity(mkpod("p", **spec))


def test_node_selector():
    n = node_info(mknode("n", labels={"disk": "ssd"}))
    assert P.filter_node_affinity(_aff(nodeSelector={"disk": "ssd"}), n) is None
    st = P.filter_node_affinity(_aff(nodeSelector={"disk": "hdd"}), n)
    assert st.reasons == ["node(s) didn't match Pod's node affinity/selector"] and st.code == P.UNRESOLVABLE


def _required(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


@pytest.mark.parametrize("expr,ok", [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
    ({"key": "missing", "operator": "NotIn", "values": ["a"]}, True),
    ({"key": "zone", "operator": "Exists"}, True),
    ({"key": "zone", "operator": "DoesNotExist"}, False),
    ({"key": "cores", "operator": "Gt", "values": ["8"]}, True),
    ({"key": "cores", "operator": "Lt", "values": ["8"]}, False),
    ({"key": "zone", "operator": "Gt", "values": ["1"]}, False),      # not an integer label
    ({"key": "zone", "operator": "In", "values": []}, False),         # invalid term matches nothing
])
def test_match_expressions(expr, ok):
    n = node_info(mknode("n", labels={"zone": "a", "cores": "16"}))
    assert (P.filter_node_affinity(_aff(affinity=_required({"matchExpressions": [expr]})), n) is None) == ok


def test_match_fields_and_terms_are_ored():
    n1 = node_info(mknode("node1"))
    n2 = node_info(mknode("node2"))
    aff = _aff(affinity=_required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node1"]}]}))
    assert P.filter_node_affinity(aff, n1) is None
    assert P.filter_node_affinity(aff, n2) is not None
    aff = _aff(affinity=_required({"matchExpressions": [{"key": "x", "operator": "Exists"}]},
                                  {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node2"]}]}))
    assert P.filter_node_affinity(aff, n2) is None
    assert P.filter_node_affinity(aff, n1) is not None
    # a required node selector with no terms matches nothing; an empty term matches nothing
    assert P.filter_node_affinity(_aff(affinity=_required()), n1) is not None
    assert P.filter_node_affinity(_aff(affinity=_required({})), n1) is not None


def test_node_affinity_prefilter_daemonset_pin():
    pod = mkpod("p", affinity=_required(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node1"]}]}))
    names, st = P.node_affinity_prefilter(pod)
    assert names == {"node1"} and st is None
    pod = mkpod("p", affinity=_required(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]},
        {"matchExpressions": [{"key": "x", "operator": "Exists"}]}))
    assert P.node_affinity_prefilter(pod) == (None, None)


# ---- ports and resources -----------------------------------------------------------------------------------

def _hp(port: int, ip: str = "", proto: str = "") -> dict:
    p: dict[str, Any] = {"containerPort": 80, "hostPort": port}
    if ip:
        p["hostIP"] = ip
    if proto:
        p["protocol"] = proto
    return p


def _with_ports(name: str, *ports: dict) -> dict:
    pod = mkpod(name)
    pod["spec"]["containers"][0]["ports"] = list(ports)
    return pod


def test_node_ports():
    n = node_info(mknode("n"), _with_ports("a", _hp(8080), _hp(53, "10.0.0.1", "UDP")))
    assert P.filter_node_ports(P.pod_host_ports(_with_ports("b", _hp(8080))), n).reasons == \
        ["node(s) didn't have free ports for the requested pod ports"]
    assert P.filter_node_ports(P.pod_host_ports(_with_ports("b", _hp(8080, "10.0.0.2"))), n) is not None
    assert P.filter_node_ports(P.pod_host_ports(_with_ports("b", _hp(8080, proto="UDP"))), n) is None
    assert P.filter_node_ports(P.pod_host_ports(_with_ports("b", _hp(53, "10.0.0.2", "UDP"))), n) is None
    assert P.filter_node_ports(P.pod_host_ports(_with_ports("b", _hp(53, proto="UDP"))), n) is not None
    assert P.filter_node_ports(P.pod_host_ports(_with_ports("b", {"containerPort": 8080})), n) is None


def test_resources_fit():
    n = node_info(mknode("n", cpu="2", mem="1Gi", pods="3", **{"example.com/dev": "1"}),
                  mkpod("a", cpu="1500m", mem="512Mi"), mkpod("b"))
    assert P.filter_resources_fit(mkreq(cpu="500m", mem="512Mi"), n) is None
    st = P.filter_resources_fit(mkreq(cpu="600m", mem="600Mi"), n)
    assert st.reasons == ["Insufficient cpu", "Insufficient memory"] and st.code == P.UNSCHEDULABLE
    assert P.filter_resources_fit(mkreq(dev="2"), n).reasons == ["Insufficient example.com/dev"]
    full = node_info(mknode("n", pods="2"), mkpod("a"), mkpod("b"))
    assert P.filter_resources_fit({}, full).reasons == ["Too many pods"]


def mkreq(cpu: str | None = None, mem: str | None = None, dev: str | None = None) -> dict:
    pod = mkpod("x", cpu=cpu, mem=mem)
    if dev:
        pod["spec"]["containers"][0].setdefault("resources", {}).setdefault("requests", {})["example.com/dev"] = dev
    return P.pod_requests(pod)[0]


# ---- scores --------------------------------------------------------------------------------------------------

def test_least_allocated_and_balanced():
    n = node_info(mknode("n", cpu="4", mem="4Gi"), mkpod("a", cpu="1", mem="1Gi"))
    # cpu: (4000 - 1000 - 1000) * 100 / 4000 = 50; memory: (4Gi - 1Gi - 1Gi) / 4Gi = 50
    assert P.score_least_allocated(1000, 2 ** 30, n) == 50
    # fractions 0.5 / 0.5 -> perfectly balanced
    assert P.score_balanced_allocation(1000, 2 ** 30, n) == 100
    # cpu 3000/4000 = .75, mem 1Gi/4Gi = .25 -> std .25
    assert P.score_balanced_allocation(2000, 0, n) == 75
    assert P.score_least_allocated(10 ** 9, 0, n) == (0 + 75) // 2   # over-requested resource scores 0


def test_taint_toleration_score_and_normalize():
    soft = node_info(mknode("a", taints=[{"key": "k", "effect": "PreferNoSchedule"},
                                         {"key": "j", "value": "v", "effect": "PreferNoSchedule"}]))
    clean = node_info(mknode("b"))
    tols = P.prefer_no_schedule_tolerations(P.compile_tolerations(mkpod("p", tolerations=[
        {"key": "k", "operator": "Exists"}])))
    raw = [P.score_taint_toleration(tols, soft), P.score_taint_toleration(tols, clean)]
    assert raw == [1, 0]
    assert P.default_normalize(raw, True) == [0, 100]
    assert P.default_normalize([0, 0], True) == [100, 100]
    assert P.default_normalize([2, 4], False) == [50, 100]


def test_preferred_node_affinity_score():
    pod = mkpod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 5, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}},
        {"weight": 0, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}]}})
    terms = P.preferred_node_terms(pod)
    assert P.score_node_affinity(terms, node_info(mknode("a", labels={"disk": "ssd", "gpu": "1"}))) == 15
    assert P.score_node_affinity(terms, node_info(mknode("b", labels={"disk": "hdd"}))) == 0


def test_default_spread_selector_and_score():
    services = [{"spec": {"selector": {"app": "web"}}}, {"spec": {"selector": {"app": "other"}}}]
    pod = mkpod("w-2", labels={"app": "web", "pod-template-hash": "h"})
    sel = P.default_spread_selector(pod, services, {"matchLabels": {"app": "web", "pod-template-hash": "h"}})
    assert sel.matches({"app": "web", "pod-template-hash": "h"}) and not sel.matches({"app": "web"})
    assert P.default_spread_selector(mkpod("x"), services, None).empty
    cons = [P.SpreadConstraint(skew, key, sel) for skew, key in P.DEFAULT_SPREAD]
    a = node_info(mknode("a"), mkpod("w-0", labels={"app": "web", "pod-template-hash": "h"}))
    b = node_info(mknode("b"))
    aff = P.RequiredNodeAffinity(pod)
    st = P.spread_prescore(pod, cons, False, aff, [], [a, b], [a, b])
    raw = [P.score_pod_topology_spread(st, a), P.score_pod_topology_spread(st, b)]
    norm = P.normalize_pod_topology_spread(st, ["a", "b"], raw)
    assert norm[1] == 100 and norm[0] < norm[1]


def test_num_feasible_nodes_to_find():
    assert P.num_feasible_nodes_to_find(50) == 50
    assert P.num_feasible_nodes_to_find(100) == 100
    assert P.num_feasible_nodes_to_find(1000) == 420        # 50% - 1000/125 = 42%
    assert P.num_feasible_nodes_to_find(5000) == 500        # 50% - 40 = 10%
    assert P.num_feasible_nodes_to_find(6000) == 300        # floor of 5%
    assert P.num_feasible_nodes_to_find(150, 10) == 100     # never fewer than 100


# ---- volumes -------------------------------------------------------------------------------------------------

def pvc(name: str, cls: str | None = None, size: str = "1Gi", volume: str = "", modes=("ReadWriteOnce",),
        phase: str = "Pending", ann: dict | None = None, **md: Any) -> dict:
    spec: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if volume:
        spec["volumeName"] = volume
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}", "annotations": dict(ann or {}), **md}
    if volume and phase == "Bound":
        meta["annotations"][P.ANN_BIND_COMPLETED] = "yes"
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def pv(name: str, cls: str = "", size: str = "1Gi", node: str | None = None, phase: str = "Available",
       claim: str | None = None, modes=("ReadWriteOnce",)) -> dict:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    if claim:
        spec["claimRef"] = {"namespace": "default", "name": claim, "uid": f"uid-{claim}"}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


WFFC = {"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer"}
LOCAL = {"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
         "volumeBindingMode": "WaitForFirstConsumer"}
IMMEDIATE = {"metadata": {"name": "fast"}, "provisioner": "x", "volumeBindingMode": "Immediate"}


def with_claim(name: str, *claims: str) -> dict:
    return mkpod(name, volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                                for i, c in enumerate(claims)])


def test_volume_binding_prefilter_errors():
    view = Volumes([pvc("imm", ""), pvc("fast", "fast"), pvc("lost", "", phase="Lost", volume="gone"),
                    pvc("del", "standard", deletionTimestamp="2024-01-01T00:00:00Z")], [], [WFFC, IMMEDIATE])
    assert P.volume_binding_prefilter(mkpod("p"), view) == (None, None)
    _, st = P.volume_binding_prefilter(with_claim("p", "nope"), view)
    assert st.reasons == ['persistentvolumeclaim "nope" not found'] and st.code == P.UNRESOLVABLE
    for claim in ("imm", "fast"):
        _, st = P.volume_binding_prefilter(with_claim("p", claim), view)
        assert st.reasons == ["pod has unbound immediate PersistentVolumeClaims"]
    _, st = P.volume_binding_prefilter(with_claim("p", "lost"), view)
    assert st.reasons == ['persistentvolumeclaim "lost" bound to non-existent persistentvolume "gone"']
    _, st = P.volume_binding_prefilter(with_claim("p", "del"), view)
    assert st.reasons == ['persistentvolumeclaim "del" is being deleted']
    eph = mkpod("p", volumes=[{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}])
    _, st = P.volume_binding_prefilter(eph, view)
    assert st.reasons == ['waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"']


def test_volume_binding_wffc_provisions_on_any_node_then_sticks():
    view = Volumes([pvc("data", "standard")], [], [WFFC])
    st, err = P.volume_binding_prefilter(with_claim("p", "data"), view)
    assert err is None and st.delayed and not st.bound
    n1 = node_info(mknode("node1"))
    status, vols = P.filter_volume_binding(st, n1, view)
    assert status is None and [c["metadata"]["name"] for c in vols.provision] == ["data"]
    # once the claim carries selected-node, only that node fits
    view = Volumes([pvc("data", "standard", ann={P.ANN_SELECTED_NODE: "node2"})], [], [WFFC])
    st, _ = P.volume_binding_prefilter(with_claim("p", "data"), view)
    status, _ = P.filter_volume_binding(st, n1, view)
    assert status.reasons == ["node(s) didn't find available persistent volumes to bind"]
    assert P.filter_volume_binding(st, node_info(mknode("node2")), view)[0] is None


def test_volume_binding_static_wffc_and_bound_affinity():
    view = Volumes([pvc("c", "local", size="1Gi")],
                   [pv("big", "local", "10Gi", node="node1"), pv("small", "local", "2Gi", node="node1"),
                    pv("other", "local", "2Gi", node="node2"), pv("tiny", "local", "500Mi", node="node2")], [LOCAL])
    st, _ = P.volume_binding_prefilter(with_claim("p", "c"), view)
    status, vols = P.filter_volume_binding(st, node_info(mknode("node1")), view)
    assert status is None and [v["metadata"]["name"] for _, v in vols.static] == ["small"]   # smallest that fits
    status, _ = P.filter_volume_binding(st, node_info(mknode("node3")), view)
    assert status.reasons == ["node(s) didn't find available persistent volumes to bind"]   # no-provisioner
    # a PV already chosen for another claim in flight is skipped
    status, vols = P.filter_volume_binding(st, node_info(mknode("node1")), view, {"small": "default/other"})
    assert [v["metadata"]["name"] for _, v in vols.static] == ["big"]
    # bound claim: the PV's node affinity decides
    view = Volumes([pvc("b", "local", volume="other", phase="Bound")], [pv("other", "local", node="node2",
                                                                          phase="Bound", claim="b")], [LOCAL])
    st, _ = P.volume_binding_prefilter(with_claim("p", "b"), view)
    assert st.eligible_nodes == {"node2"}
    assert P.filter_volume_binding(st, node_info(mknode("node1")), view)[0].reasons == \
        ["node(s) had volume node affinity conflict"]
    assert P.filter_volume_binding(st, node_info(mknode("node2")), view)[0] is None
    del view.pvs["other"]
    assert P.filter_volume_binding(st, node_info(mknode("node2")), view)[0].reasons == \
        ["node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"]


def test_find_matching_volume_rules():
    c = pvc("c", "", size="1Gi", selector={"matchLabels": {"tier": "gold"}})
    c["spec"]["selector"] = {"matchLabels": {"tier": "gold"}}
    gold = pv("gold", "", "5Gi")
    gold["metadata"]["labels"] = {"tier": "gold"}
    assert P.find_matching_volume(c, [pv("plain", "", "1Gi"), gold], {}, set())["metadata"]["name"] == "gold"
    c2 = pvc("c2", "", modes=("ReadWriteMany",))
    assert P.find_matching_volume(c2, [pv("rwo", "")], {}, set()) is None
    pre = pv("pre", "", "1Gi", phase="Available", claim="c3")
    assert P.find_matching_volume(pvc("c3", ""), [pv("free", ""), pre], {}, set())["metadata"]["name"] == "pre"
    assert P.find_matching_volume(pvc("c4", ""), [pre], {}, set()) is None


def test_volume_restrictions():
    view = Volumes([pvc("once", "standard", modes=("ReadWriteOncePod",)), pvc("rwo", "standard")], [], [WFFC])
    n, st = P.volume_restrictions_prefilter(with_claim("p", "once"), view, lambda k: k == "default/once")
    assert (n, st) == (1, None)
    assert P.filter_volume_restrictions([], n, node_info(mknode("a"))).reasons == [P.ERR_RWOP_CONFLICT]
    assert P.volume_restrictions_prefilter(with_claim("p", "rwo"), view, lambda k: True) == (0, None)
    _, st = P.volume_restrictions_prefilter(with_claim("p", "gone"), view, lambda k: False)
    assert st.reasons == ['persistentvolumeclaim "gone" not found']
    ebs = {"name": "v", "awsElasticBlockStore": {"volumeID": "vol-1"}}
    other = mkpod("o", volumes=[ebs])
    node = node_info(mknode("a"), other)
    assert P.filter_volume_restrictions([ebs], 0, node).reasons == ["node(s) had no available disk"]
    assert P.filter_volume_restrictions([{"name": "v", "awsElasticBlockStore": {"volumeID": "vol-2"}}], 0,
                                        node) is None


# ---- topology spread and inter-pod affinity -----------------------------------------------------------------

def test_topology_spread_do_not_schedule():
    tsc = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}}]
    a = node_info(mknode("a", labels={"zone": "z1"}), mkpod("w0", labels={"app": "web"}))
    b = node_info(mknode("b", labels={"zone": "z2"}))
    c = node_info(mknode("c"))
    pod = mkpod("w1", labels={"app": "web"}, topologySpreadConstraints=tsc)
    st = P.spread_prefilter(pod, P.RequiredNodeAffinity(pod), [], [a, b, c])
    assert P.filter_pod_topology_spread(st, pod["metadata"]["labels"], a).reasons == \
        ["node(s) didn't match pod topology spread constraints"]
    assert P.filter_pod_topology_spread(st, pod["metadata"]["labels"], b) is None
    assert P.filter_pod_topology_spread(st, pod["metadata"]["labels"], c).reasons == \
        ["node(s) didn't match pod topology spread constraints (missing required label)"]


def test_inter_pod_anti_affinity_hostname():
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "zk"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    cache = SchedulerCache()
    for name in ("a", "b"):
        cache.upsert_node(mknode(name))
    cache.set_pod(mkpod("zk-0", labels={"app": "zk"}, node="a", affinity=anti))
    pod = mkpod("zk-1", labels={"app": "zk"}, affinity=anti)
    terms = P.PodAffinityTerms(pod)
    st = P.inter_pod_prefilter(pod, terms, {}, cache.anti_affinity_pods(), cache.node_list)
    assert P.filter_inter_pod_affinity(st, cache.nodes["a"]).reasons == ["node(s) didn't match pod anti-affinity rules"]
    assert P.filter_inter_pod_affinity(st, cache.nodes["b"]) is None
    # a pod without terms is still kept away by the existing pod's anti-affinity
    plain = mkpod("x", labels={"app": "zk"})
    st = P.inter_pod_prefilter(plain, P.PodAffinityTerms(plain), {}, cache.anti_affinity_pods(), cache.node_list)
    assert P.filter_inter_pod_affinity(st, cache.nodes["a"]).reasons == \
        ["node(s) didn't satisfy existing pods anti-affinity rules"]


def test_inter_pod_affinity_first_pod_and_colocation():
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    cache = SchedulerCache()
    for name in ("a", "b"):
        cache.upsert_node(mknode(name))
    first = mkpod("c0", labels={"app": "cache"}, affinity=aff)
    st = P.inter_pod_prefilter(first, P.PodAffinityTerms(first), {}, [], cache.node_list)
    assert P.filter_inter_pod_affinity(st, cache.nodes["a"]) is None  # matches its own term: allowed anywhere
    cache.set_pod(dict(first, spec=dict(first["spec"], nodeName="b")))
    second = mkpod("c1", labels={"app": "cache"}, affinity=aff)
    st = P.inter_pod_prefilter(second, P.PodAffinityTerms(second), {}, [], cache.node_list)
    assert P.filter_inter_pod_affinity(st, cache.nodes["a"]).reasons == ["node(s) didn't match pod affinity rules"]
    assert P.filter_inter_pod_affinity(st, cache.nodes["b"]) is None


# ---- messages ----------------------------------------------------------------------------------------------

def test_fit_error_message_format():
    statuses = {"master": P.Status(P.UNRESOLVABLE, ["node(s) had untolerated taint {node-role.kubernetes.io/"
                                                    "control-plane: }"]),
                "node1": P.Status(P.UNSCHEDULABLE, ["Insufficient cpu"]),
                "node2": P.Status(P.UNSCHEDULABLE, ["Insufficient cpu"])}
    post = P.preemption_message(3, statuses, None, None)
    assert P.fit_error_message(3, statuses, None, "", post) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod..")
    unresolvable = {k: P.Status(P.UNRESOLVABLE, ["x"]) for k in ("a", "b", "c")}
    assert P.preemption_message(3, unresolvable, None, None) == \
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    assert P.preemption_message(3, statuses, None, "Never") == \
        "preemption: not eligible due to preemptionPolicy=Never."
    pre = P.Status(P.UNRESOLVABLE, ['persistentvolumeclaim "x" not found'])
    assert P.fit_error_message(3, {}, pre, pre.message, P.preemption_message(3, {}, pre, None)) == (
        '0/3 nodes are available: persistentvolumeclaim "x" not found. preemption: 0/3 nodes are available: '
        '3 Preemption is not helpful for scheduling..')
    absent = P.Status(P.UNRESOLVABLE, ["node(s) didn't satisfy plugin(s) [NodeAffinity]"])
    assert P.fit_error_message(3, {"node1": P.Status(P.UNSCHEDULABLE, ["Too many pods"])}, absent) == \
        "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."


# ---- cache ---------------------------------------------------------------------------------------------------

def test_cache_incremental_accounting():
    cache = SchedulerCache()
    cache.upsert_node(mknode("n"))
    p = PodInfo(mkpod("a", cpu="500m", mem="1Gi"))
    cache.assume(p, "n")
    ni = cache.nodes["n"]
    assert ni.requested == {"cpu": 500, "memory": 2 ** 30} and cache.is_assumed("default/a")
    # the informer confirms the binding with a newer version of the pod
    cache.set_pod(mkpod("a", cpu="500m", mem="1Gi", node="n"))
    assert not cache.is_assumed("default/a") and len(ni.pods) == 1
    # status-only updates keep the aggregate
    upd = mkpod("a", cpu="500m", mem="1Gi", node="n")
    upd["status"] = {"phase": "Running"}
    cache.set_pod(upd)
    assert ni.requested == {"cpu": 500, "memory": 2 ** 30}
    # terminal pods stop counting
    upd = dict(upd, status={"phase": "Succeeded"})
    cache.set_pod(upd)
    assert ni.requested == {} and not ni.pods
    cache.assume(PodInfo(mkpod("b", cpu="1")), "n")
    cache.forget("default/b")
    assert ni.requested == {} and ni.nz_cpu == 0
    # a pod seen before its node is kept and counted once the node arrives
    cache.set_pod(mkpod("c", cpu="1", node="late"))
    assert cache.nodes["late"].index == -1
    cache.upsert_node(mknode("late"))
    assert cache.nodes["late"].requested["cpu"] == 1000 and cache.num_nodes() == 2
    cache.remove_node("n")
    assert cache.num_nodes() == 1 and "n" not in cache.nodes


def test_node_update_relevance():
    cache = SchedulerCache()
    n = mknode("n")
    assert cache.upsert_node(n)
    hb = mknode("n")
    hb["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert not cache.upsert_node(hb)        # heartbeat: nothing the scheduler looks at
    assert cache.upsert_node(mknode("n", labels={"disk": "ssd"}))
    assert cache.upsert_node(mknode("n", labels={"disk": "ssd"}, taints=[CP_TAINT]))


# ---- the scheduling cycle ------------------------------------------------------------------------------------

def three_nodes() -> SchedulerCache:
    cache = SchedulerCache()
    cache.upsert_node(mknode("master", labels={"node-role.kubernetes.io/control-plane": ""}, taints=[CP_TAINT]))
    cache.upsert_node(mknode("node1"))
    cache.upsert_node(mknode("node2"))
    return cache


def test_algorithm_places_on_workers_and_spreads():
    cache = three_nodes()
    algo = Algorithm(cache, Volumes(), rng=random.Random(1))
    placed = []
    for i in range(4):
        p = PodInfo(mkpod(f"p{i}", labels={"app": "web"}))
        d = algo.schedule(p)
        assert isinstance(d, Decision)
        cache.assume(p, d.node)
        placed.append(d.node)
    assert "master" not in placed
    assert sorted(placed) == ["node1", "node1", "node2", "node2"]


def test_algorithm_tie_break_is_random():
    seen = set()
    for seed in range(20):
        d = Algorithm(three_nodes(), Volumes(), rng=random.Random(seed)).schedule(PodInfo(mkpod("p")))
        seen.add(d.node)
    assert seen == {"node1", "node2"}


def test_algorithm_failure_messages():
    cache = three_nodes()
    algo = Algorithm(cache, Volumes())
    f = algo.schedule(PodInfo(mkpod("big", cpu="100")))
    assert isinstance(f, Failure) and f.reason == "Unschedulable"
    assert f.message.startswith("0/3 nodes are available: 1 node(s) had untolerated taint "
                                "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: ")
    assert f.plugins == {P.TAINT_TOLERATION, P.NODE_RESOURCES_FIT}
    f = algo.schedule(PodInfo(mkpod("sel", nodeSelector={"disk": "ssd"})))
    assert "2 node(s) didn't match Pod's node affinity/selector." in f.message
    f = Algorithm(SchedulerCache(), Volumes()).schedule(PodInfo(mkpod("p")))
    assert f.message == "no nodes available to schedule pods"


def test_algorithm_master_with_toleration_and_daemonset_pin():
    cache = three_nodes()
    algo = Algorithm(cache, Volumes())
    pod = mkpod("m", nodeSelector={"kubernetes.io/hostname": "master"},
                tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                              "effect": "NoSchedule"}])
    assert algo.schedule(PodInfo(pod)).node == "master"
    ds = mkpod("ds", affinity=_required({"matchFields": [{"key": "metadata.name", "operator": "In",
                                                          "values": ["node2"]}]}))
    d = algo.schedule(PodInfo(ds))
    assert d.node == "node2" and d.evaluated == 1
    ds_master = mkpod("ds2", affinity=_required({"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                  "values": ["master"]}]}))
    f = algo.schedule(PodInfo(ds_master))
    assert f.message.startswith("0/3 nodes are available: 1 node(s) had untolerated taint "
                                "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't satisfy plugin(s) "
                                "[NodeAffinity].")


def test_algorithm_samples_nodes():
    cache = SchedulerCache()
    for i in range(1000):
        cache.upsert_node(mknode(f"n{i}"))
    algo = Algorithm(cache, Volumes())
    d = algo.schedule(PodInfo(mkpod("p")))
    assert d.feasible == 420 and d.evaluated == 420
    d2 = algo.schedule(PodInfo(mkpod("q")))
    assert d2.feasible == 420 and algo.next_start == 840   # round-robin over the node list


# ---- queue ---------------------------------------------------------------------------------------------------

def test_backoff_durations():
    assert [backoff_duration(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]


def test_queue_moves_only_on_helpful_events():
    q = SchedulingQueue(initial_backoff=0.0, max_backoff=0.0)
    q.add(mkpod("a", priority=1))
    q.add(mkpod("b", priority=5))
    first = q.pop_nowait()
    assert first.key == "default/b"                 # higher priority first
    q.unschedulable(first, frozenset({P.NODE_RESOURCES_FIT}))
    assert q.pods["default/b"].where == "unschedulable"
    assert q.move(frozenset({P.VOLUME_BINDING})) == 0
    assert q.move(frozenset({P.NODE_RESOURCES_FIT})) == 1
    assert q.pop_nowait().key == "default/b"
    second = q.pop_nowait()
    assert second.key == "default/a"
    q.done(second.key)
    assert "default/a" not in q.pods


def test_queue_event_during_cycle_goes_to_backoff():
    q = SchedulingQueue(initial_backoff=10.0, max_backoff=10.0)
    q.add(mkpod("a"))
    qp = q.pop_nowait()
    q.move(None)                                     # an event arrived while the pod was being scheduled
    q.unschedulable(qp, frozenset({P.TAINT_TOLERATION}))
    assert qp.where == "backoff"

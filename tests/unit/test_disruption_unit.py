"""Pure pieces of the disruption controller, the PDB helpers, PDB validation/printing, and the
eviction handler against an in-memory registry."""
from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import pytest

from kubeling.api import meta, printers, validation
from kubeling.api.errors import ApiError
from kubeling.api.eviction import Evictor, _delete_options
from kubeling.api.pdb import (
    conditions_up_to_date,
    selects_pod,
    set_status_condition,
    update_disruption_allowed_condition,
    update_pod_condition,
)
from kubeling.api.registry import Registry, Request
from kubeling.api.resources import by_qualified
from kubeling.controllers.disruption import (
    CalculationError,
    build_disrupted_pod_map,
    count_healthy_pods,
    desired_healthy,
    disruptions_allowed,
    scaled_value,
    selector_string,
    stale_disruption_wait,
    uses_scale,
)
from kubeling.storage.sqlite import open_memory

Obj = dict[str, Any]


def pod(name: str, ready: bool = True, deleting: bool = False, phase: str = "Running",
        labels: dict[str, str] | None = None, conds: list[Obj] | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "labels": labels or {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    c = [{"type": "Ready", "status": "True" if ready else "False"}] + (conds or [])
    return {"metadata": md, "status": {"phase": phase, "conditions": c}}


# ---- calculations ------------------------------------------------------------------------------

def test_scaled_value_rounds_percentages() -> None:
    assert scaled_value(2, 10, True) == 2
    assert scaled_value("50%", 3, True) == 2
    assert scaled_value("50%", 3, False) == 1
    assert scaled_value("34%", 3, True) == 2
    assert scaled_value("0%", 7, True) == 0
    with pytest.raises(CalculationError, match="string is not a percentage"):
        scaled_value("5", 3, True)


def test_desired_healthy_and_allowed() -> None:
    assert uses_scale({"maxUnavailable": 1}) and uses_scale({"minAvailable": "50%"})
    assert not uses_scale({"minAvailable": 2})
    assert desired_healthy({"maxUnavailable": "50%"}, 3) == 1  # 3 - ceil(1.5)
    assert desired_healthy({"maxUnavailable": 5}, 3) == 0  # never negative
    assert desired_healthy({"minAvailable": "50%"}, 4) == 2
    assert desired_healthy({}, 4) == 0
    assert disruptions_allowed(3, 2, 3) == 1
    assert disruptions_allowed(1, 2, 3) == 0
    assert disruptions_allowed(3, 0, 0) == 0  # nothing expected yet: safe


def test_disrupted_pod_map_expiry_and_recheck() -> None:
    now = time.time()
    fresh = meta.now_rfc3339(now - 30)
    old = meta.now_rfc3339(now - 200)
    pods = [pod("a"), pod("b"), pod("c", deleting=True)]
    dp = {"a": fresh, "b": old, "c": fresh, "gone": fresh}
    result, recheck, expired = build_disrupted_pod_map(pods, dp, now)
    assert result == {"a": fresh}  # b expired, c is being deleted, gone has no pod
    assert [p["metadata"]["name"] for p in expired] == ["b"]
    assert recheck is not None and abs(recheck - (int(now - 30) + 120)) < 1
    assert build_disrupted_pod_map(pods, None, now) == ({}, None, [])


def test_count_healthy_pods() -> None:
    now = time.time()
    pods = [pod("a"), pod("b", ready=False), pod("c", deleting=True), pod("d"), pod("e")]
    assert count_healthy_pods(pods, {}, now) == 3
    assert count_healthy_pods(pods, {"d": meta.now_rfc3339(now)}, now) == 2
    assert count_healthy_pods(pods, {"d": meta.now_rfc3339(now - 500)}, now) == 3  # expired entry


def test_stale_disruption_wait() -> None:
    now = time.time()

    def with_target(reason: str, age: float, **kw: Any) -> Obj:
        return pod("p", conds=[{"type": "DisruptionTarget", "status": "True", "reason": reason,
                                "lastTransitionTime": meta.now_rfc3339(now - age)}], **kw)

    assert stale_disruption_wait(pod("p"), now) is None
    assert stale_disruption_wait(with_target("EvictionByEvictionAPI", 300), now) == 0
    w = stale_disruption_wait(with_target("EvictionByEvictionAPI", 20), now)
    assert w is not None and 99 <= w <= 101
    assert stale_disruption_wait(with_target("TerminationByKubelet", 300), now) is None
    assert stale_disruption_wait(with_target("EvictionByEvictionAPI", 300, phase="Failed"), now) is None
    assert stale_disruption_wait(with_target("EvictionByEvictionAPI", 300, deleting=True), now) is None


def test_selector_string_as_go_prints_it() -> None:
    assert selector_string({"matchLabels": {"b": "2", "a": "1"}}) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{},}")
    assert selector_string({"matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]}) == (
        "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement"
        "{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}")
    assert selector_string(None) == "nil"


# ---- PDB helpers ------------------------------------------------------------------------------

def test_disruption_allowed_condition() -> None:
    st: Obj = {"disruptionsAllowed": 1, "observedGeneration": 2}
    update_disruption_allowed_condition(st, "2024-01-01T00:00:00Z")
    assert st["conditions"] == [{"type": "DisruptionAllowed", "status": "True", "observedGeneration": 2,
                                 "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "SufficientPods",
                                 "message": ""}]
    pdb = {"metadata": {"generation": 2}, "status": st}
    assert conditions_up_to_date(pdb)
    st["disruptionsAllowed"] = 0
    assert not conditions_up_to_date(pdb)
    update_disruption_allowed_condition(st, "2024-01-02T00:00:00Z")
    c = st["conditions"][0]
    assert (c["status"], c["reason"], c["lastTransitionTime"]) == ("False", "InsufficientPods",
                                                                   "2024-01-02T00:00:00Z")
    assert conditions_up_to_date(pdb)
    # same status: the transition time stays; only reason/message change
    assert set_status_condition(st["conditions"], {"type": "DisruptionAllowed", "status": "False",
                                                   "reason": "SyncFailed", "message": "boom",
                                                   "observedGeneration": 2}, "2024-01-03T00:00:00Z")
    assert c["lastTransitionTime"] == "2024-01-02T00:00:00Z" and c["reason"] == "SyncFailed"


def test_selects_pod_empty_and_nil_selectors() -> None:
    p = pod("a")
    assert selects_pod({"spec": {"selector": {"matchLabels": {"app": "web"}}}}, p, False)
    assert not selects_pod({"spec": {"selector": {"matchLabels": {"app": "db"}}}}, p, True)
    assert selects_pod({"spec": {"selector": {}}}, p, True)  # policy/v1 lister: everything
    assert not selects_pod({"spec": {"selector": {}}}, p, False)  # eviction handler: nothing
    assert not selects_pod({"spec": {}}, p, True)  # nil selector: nothing


def test_update_pod_condition_keeps_transition_time() -> None:
    st: Obj = {}
    assert update_pod_condition(st, {"type": "DisruptionTarget", "status": "True", "reason": "R",
                                     "message": "m"}, "2024-01-01T00:00:00Z")
    assert st["conditions"] == [{"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                                 "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "R", "message": "m"}]
    assert not update_pod_condition(st, {"type": "DisruptionTarget", "status": "True", "reason": "R",
                                         "message": "m"}, "2024-01-05T00:00:00Z")
    assert update_pod_condition(st, {"type": "DisruptionTarget", "status": "False"}, "2024-01-06T00:00:00Z")
    assert st["conditions"] == [{"type": "DisruptionTarget", "status": "False", "lastProbeTime": None,
                                 "lastTransitionTime": "2024-01-06T00:00:00Z"}]


# ---- validation and printing --------------------------------------------------------------------

def _pdb(**spec: Any) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "x", "namespace": "default"}, "spec": spec}


def test_pdb_validation_messages() -> None:
    v = validation.validate
    assert v("poddisruptionbudgets.policy", _pdb(minAvailable=1, selector={"matchLabels": {"a": "b"}})) == []
    errs = v("poddisruptionbudgets.policy", _pdb(minAvailable=1, maxUnavailable="10%"))
    assert [e["field"] for e in errs] == ["spec"]
    assert errs[0]["message"].startswith(
        "Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0x")
    assert errs[0]["message"].endswith(
        "Selector:(*v1.LabelSelector)(nil), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), "
        "UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}: "
        "minAvailable and maxUnavailable cannot be both set")
    errs = v("poddisruptionbudgets.policy", _pdb(minAvailable=-1, unhealthyPodEvictionPolicy="Never"))
    assert [(e["field"], e["message"]) for e in errs] == [
        ("spec.minAvailable", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.unhealthyPodEvictionPolicy",
         'Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"')]
    errs = v("poddisruptionbudgets.policy", _pdb(maxUnavailable="120%"))
    assert [e["message"] for e in errs] == [
        'Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%']


def test_pdb_status_validation() -> None:
    old = _pdb(minAvailable=1)
    new = _pdb(minAvailable=1)
    new["status"] = {"disruptionsAllowed": -1, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
                     "conditions": [{"type": "DisruptionAllowed", "status": "Maybe", "reason": "",
                                     "message": "", "lastTransitionTime": None}]}
    errs = validation.validate_status("poddisruptionbudgets.policy", new, old)
    assert [(e["field"], e["message"]) for e in errs] == [
        ("status.conditions[0].status", 'Unsupported value: "Maybe": supported values: "False", "True", "Unknown"'),
        ("status.conditions[0].lastTransitionTime", "Required value: must be set"),
        ("status.conditions[0].reason", "Required value: must be set"),
        ("status.disruptionsAllowed", "Invalid value: -1: must be greater than or equal to 0")]


def test_pdb_printer_row() -> None:
    now = time.time()
    obj = _pdb(maxUnavailable="25%")
    obj["metadata"]["creationTimestamp"] = meta.now_rfc3339(now - 90)
    obj["status"] = {"disruptionsAllowed": 2}
    assert [c["name"] for c in printers.column_definitions("poddisruptionbudgets.policy")] == [
        "Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]
    assert printers.row_cells("poddisruptionbudgets.policy", obj, now) == ["x", "N/A", "25%", 2, "90s"]


# ---- eviction handler ----------------------------------------------------------------------------

def test_delete_options_dry_run_propagation() -> None:
    assert _delete_options({}, False) == {}
    assert _delete_options({}, True) == {"dryRun": ["All"]}
    assert _delete_options({"deleteOptions": {"gracePeriodSeconds": 0}}, True) == {
        "gracePeriodSeconds": 0, "dryRun": ["All"]}
    with pytest.raises(ApiError) as e:
        _delete_options({"deleteOptions": {"dryRun": ["Some"]}}, False)
    assert e.value.code == 422


async def _setup(pods: list[Obj], pdbs: list[Obj]) -> Registry:
    reg = Registry(open_memory())
    r = Request(field_manager="test")
    await reg.create(by_qualified("namespaces"), None, {"metadata": {"name": "default"}}, r)
    pods_rt, pdb_rt = by_qualified("pods"), by_qualified("poddisruptionbudgets.policy")
    for p in pods:
        spec = {"nodeName": "node1", "containers": [{"name": "c", "image": "nginx"}]}
        created = await reg.create(pods_rt, "default", {"metadata": dict(p["metadata"]), "spec": spec}, r)
        obj = created.copy()
        obj["status"].update(p["status"])
        await reg.update(pods_rt, "default", p["metadata"]["name"], obj, r, subresource="status")
    for b in pdbs:
        created = await reg.create(pdb_rt, "default", copy.deepcopy(b), r)
        obj = created.copy()
        obj["status"] = {"observedGeneration": 1, **b.get("status", {})}
        await reg.update(pdb_rt, "default", b["metadata"]["name"], obj, r, subresource="status")
    return reg


def _eviction(name: str, **opts: Any) -> Obj:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}
    if opts:
        body["deleteOptions"] = opts
    return body


def _budget(name: str, allowed: int, current: int, desired: int, **spec: Any) -> Obj:
    b = _pdb(selector={"matchLabels": {"app": "web"}}, **spec)
    b["metadata"]["name"] = name
    b["status"] = {"disruptionsAllowed": allowed, "currentHealthy": current, "desiredHealthy": desired,
                   "expectedPods": 3}
    return b


def test_eviction_decrements_budget_and_marks_pod() -> None:
    async def body() -> None:
        reg = await _setup([pod("a"), pod("b"), pod("c")], [_budget("x", 1, 3, 2, minAvailable=2)])
        ev = Evictor(reg)
        st, code = await ev.evict("default", "a", _eviction("a"), Request(field_manager="kubectl"))
        assert (code, st["status"]) == (201, "Success")
        pdb = reg.get(by_qualified("poddisruptionbudgets.policy"), "default", "x").obj
        assert pdb["status"]["disruptionsAllowed"] == 0
        assert set(pdb["status"]["disruptedPods"]) == {"a"}
        cond = {c["type"]: c for c in pdb["status"]["conditions"]}["DisruptionAllowed"]
        assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
        a = reg.get(by_qualified("pods"), "default", "a").obj
        assert a["metadata"].get("deletionTimestamp")
        target = {c["type"]: c for c in a["status"]["conditions"]}["DisruptionTarget"]
        assert (target["status"], target["reason"], target["message"]) == (
            "True", "EvictionByEvictionAPI", "Eviction API: evicting")
        with pytest.raises(ApiError) as e:
            await ev.evict("default", "b", _eviction("b"), Request())
        assert (e.value.code, e.value.reason, e.value.message) == (
            429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
        assert e.value.causes == [{"type": "DisruptionBudget",
                                   "message": "The disruption budget x needs 2 healthy pods and has 3 currently"}]
        assert e.value.retry_after is None
    asyncio.run(body())


def test_eviction_dry_run_changes_nothing() -> None:
    async def body() -> None:
        reg = await _setup([pod("a")], [_budget("x", 1, 3, 2, minAvailable=2)])
        st, code = await Evictor(reg).evict("default", "a", _eviction("a", dryRun=["All"]), Request())
        assert code == 201
        assert reg.get(by_qualified("poddisruptionbudgets.policy"), "default", "x").obj["status"][
            "disruptionsAllowed"] == 1
        a = reg.get(by_qualified("pods"), "default", "a").obj
        assert not a["metadata"].get("deletionTimestamp")
        assert "DisruptionTarget" not in {c["type"] for c in a["status"]["conditions"]}
    asyncio.run(body())


def test_eviction_unready_pod_and_policies() -> None:
    async def body() -> None:
        # 2 of 3 healthy, 3 desired: an unready pod is protected under IfHealthyBudget ...
        reg = await _setup([pod("a", ready=False)], [_budget("x", 0, 2, 3, minAvailable=3)])
        with pytest.raises(ApiError) as e:
            await Evictor(reg).evict("default", "a", _eviction("a"), Request())
        assert e.value.code == 429
        assert e.value.causes[0]["message"] == "The disruption budget x needs 3 healthy pods and has 2 currently"
        # ... but goes under AlwaysAllow, without spending the budget
        reg = await _setup([pod("a", ready=False)],
                           [_budget("x", 0, 2, 3, minAvailable=3, unhealthyPodEvictionPolicy="AlwaysAllow")])
        st, code = await Evictor(reg).evict("default", "a", _eviction("a"), Request())
        assert code == 201
        assert "disruptedPods" not in reg.get(by_qualified("poddisruptionbudgets.policy"), "default",
                                              "x").obj["status"]
        # a healthy application lets an unready pod go under the default policy too
        reg = await _setup([pod("a", ready=False)], [_budget("x", 0, 3, 3, minAvailable=3)])
        assert (await Evictor(reg).evict("default", "a", _eviction("a"), Request()))[1] == 201
        # pending pods never consult budgets
        reg = await _setup([pod("a", phase="Pending")], [_budget("x", 0, 3, 3, minAvailable=3)])
        assert (await Evictor(reg).evict("default", "a", _eviction("a"), Request()))[1] == 201
    asyncio.run(body())


def test_eviction_multiple_budgets_and_stale_status() -> None:
    async def body() -> None:
        reg = await _setup([pod("a")], [_budget("x", 1, 3, 2, minAvailable=2), _budget("y", 1, 3, 2, minAvailable=2)])
        st, code = await Evictor(reg).evict("default", "a", _eviction("a"), Request())
        assert code == 500 and st == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
            "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
                       "support."}
        # a PDB whose spec changed since the controller last looked: retry later (429, Retry-After 10)
        b = _budget("x", 1, 3, 2, minAvailable=2)
        reg = await _setup([pod("a")], [b])
        rt = by_qualified("poddisruptionbudgets.policy")
        cur = reg.get(rt, "default", "x").copy()
        cur["spec"]["minAvailable"] = 1
        await reg.update(rt, "default", "x", cur, Request())
        with pytest.raises(ApiError) as e:
            await Evictor(reg).evict("default", "a", _eviction("a"), Request())
        assert (e.value.code, e.value.retry_after) == (429, 10)
        assert e.value.causes[0]["message"] == "The disruption budget x is still being processed by the server."
        with pytest.raises(ApiError) as e:
            await Evictor(reg).evict("default", "a", {"metadata": {"name": "b"}}, Request())
        assert (e.value.code, e.value.message) == (400, "name in URL does not match name in Eviction object")
    asyncio.run(body())

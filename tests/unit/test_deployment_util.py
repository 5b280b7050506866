"""Deployment controller helpers (deployment_util.go) and the sync/progress decisions that need
no API server, against the cases of upstream's deployment_util_test.go and sync_test.go."""
from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kubeling.api.meta import now_rfc3339
from kubeling.controllers.common.podcontrol import compute_hash
from kubeling.controllers.deployment import util
from kubeling.controllers.deployment.progress import ProgressMixin, rollout_status
from kubeling.controllers.deployment.sync import SyncMixin, calculate_status

NEW = "2016-05-20T02:00:00Z"
OLD = "2016-05-20T01:00:00Z"
OLDER = "2016-05-20T00:00:00Z"


def deployment(replicas: int, max_surge: Any = 0, max_unavailable: Any = 0, *, strategy: str = "RollingUpdate",
               labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """upstream newDeployment: RollingUpdate with maxSurge/maxUnavailable 0 unless given."""
    labels = labels or {"foo": "bar"}
    strat: dict[str, Any] = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": max_surge, "maxUnavailable": max_unavailable}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "foo", "namespace": "default", "uid": "d-uid", "generation": 1, "annotations": {}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "strategy": strat,
                 "revisionHistoryLimit": spec.pop("revisionHistoryLimit", 10),
                 "progressDeadlineSeconds": spec.pop("progressDeadlineSeconds", 600),
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec},
        "status": {},
    }


def rs(name: str, spec_replicas: int, created: str = NEW, /, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default", "uid": name + "-uid", "creationTimestamp": created,
                     "generation": 1, "annotations": {}},
        "spec": {"replicas": spec_replicas, "selector": {"matchLabels": {"foo": "bar"}},
                 "template": {"metadata": {"labels": {"foo": "bar"}},
                              "spec": {"containers": [{"name": "c", "image": name}]}}},
        "status": dict(status),
    }


# ---- fenceposts, surge, unavailable ---------------------------------------------------------------------

@pytest.mark.parametrize("surge,unavailable,desired,want", [
    ("0%", "0%", 0, (0, 1)),
    ("39%", "39%", 10, (4, 3)),
    (None, "39%", 10, (0, 3)),
    ("39%", None, 10, (4, 0)),
    (None, None, 10, (0, 1)),
    ("25%", "25%", 3, (1, 0)),
    (2, 1, 10, (2, 1)),
    ("25%", "25%", 1000, (250, 250)),
])
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, want: tuple[int, int]) -> None:
    assert util.resolve_fenceposts(surge, unavailable, desired) == want


@pytest.mark.parametrize("surge,unavailable", [("oops", "39%"), ("55%", "urg"), ("0", "1"), ("5x%", "1%")])
def test_resolve_fenceposts_errors(surge: Any, unavailable: Any) -> None:
    with pytest.raises(ValueError):
        util.resolve_fenceposts(surge, unavailable, 10)


@pytest.mark.parametrize("replicas,max_unavailable,want", [
    (10, 5, 5), (10, 10, 10), (5, 10, 5), (0, 10, 0), (10, "50%", 5), (10, "100%", 10), (5, "100%", 5),
])
def test_max_unavailable(replicas: int, max_unavailable: Any, want: int) -> None:
    assert util.max_unavailable(deployment(replicas, 1, max_unavailable)) == want


def test_max_unavailable_and_surge_of_recreate_are_zero() -> None:
    d = deployment(10, strategy="Recreate")
    assert util.max_unavailable(d) == 0
    assert util.max_surge(d) == 0
    assert util.min_available(d) == 0


def test_default_rolling_update_of_three() -> None:
    """The 25%/25% defaults on 3 replicas: surge rounds up to 1, unavailable rounds down to 0."""
    d = deployment(3, "25%", "25%")
    assert util.max_surge(d) == 1
    assert util.max_unavailable(d) == 0
    assert util.min_available(d) == 3


@pytest.mark.parametrize("strategy,dep_replicas,new_rs_replicas,surge,want", [
    ("RollingUpdate", 1, 5, 1, 5),   # can not scale up
    ("RollingUpdate", 6, 2, 10, 6),  # scale up to the deployment's replicas
    ("Recreate", 3, 1, 10, 3),
])
def test_new_rs_new_replicas(strategy: str, dep_replicas: int, new_rs_replicas: int, surge: int, want: int) -> None:
    d = deployment(dep_replicas, surge, 1, strategy=strategy)
    if strategy == "Recreate":
        d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": 1}
    new = rs("new", new_rs_replicas)
    assert util.new_rs_new_replicas(d, [rs("rs5", 5)], new) == want


# ---- templates and finding replica sets ------------------------------------------------------------------

def test_equal_ignore_hash() -> None:
    a = {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c"}]}}
    b = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    assert util.equal_ignore_hash(a, b)
    assert util.equal_ignore_hash(b, a)
    c = copy.deepcopy(b)
    c["metadata"]["labels"]["app"] = "other"
    assert not util.equal_ignore_hash(a, c)
    d = copy.deepcopy(b)
    d["spec"]["containers"][0]["image"] = "x"
    assert not util.equal_ignore_hash(b, d)
    # nil and empty collections are the same to Semantic.DeepEqual
    e = copy.deepcopy(b)
    e["metadata"]["annotations"] = {}
    e["spec"]["volumes"] = []
    assert util.equal_ignore_hash(b, e)
    f = copy.deepcopy(b)
    f["metadata"]["labels"] = {"pod-template-hash": "x"}
    g = {"metadata": {}, "spec": b["spec"]}
    assert util.equal_ignore_hash(f, g)


def test_find_new_and_old_replica_sets() -> None:
    d = deployment(3)
    new = rs("foo-new", 3, NEW)
    new["spec"]["template"] = copy.deepcopy(d["spec"]["template"])
    new["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = "h"
    dup = copy.deepcopy(new)
    dup["metadata"].update(name="foo-dup", uid="dup", creationTimestamp=OLDER)
    old = rs("foo-old", 2, OLD)
    empty = rs("foo-empty", 0, OLDER)
    # the oldest of several equal templates is the new one (upstream issue 40415)
    assert util.find_new_replica_set(d, [new, old, dup])["metadata"]["name"] == "foo-dup"
    required, all_old = util.find_old_replica_sets(d, [new, old, empty])
    assert [r["metadata"]["name"] for r in required] == ["foo-old"]
    assert sorted(r["metadata"]["name"] for r in all_old) == ["foo-empty", "foo-old"]
    assert util.find_new_replica_set(d, [old, empty]) is None


def test_find_active_or_latest() -> None:
    new = rs("new", 0, NEW)
    old1 = rs("old1", 3, OLD)
    old2 = rs("old2", 0, OLDER)
    assert util.find_active_or_latest(new, [old1, old2]) is old1
    assert util.find_active_or_latest(new, [rs("a", 0, OLD)]) is new
    assert util.find_active_or_latest(None, [rs("a", 0, OLDER), rs("b", 0, OLD)])["metadata"]["name"] == "b"
    assert util.find_active_or_latest(rs("n", 1), [rs("o", 1, OLD)]) is None
    assert util.find_active_or_latest(None, []) is None


def test_sort_orders() -> None:
    a, b, c = rs("a", 2, OLDER), rs("b", 2, NEW), rs("c", 5, OLD)
    x = [b, c, a]
    util.sort_by_size_newer(x)
    assert [r["metadata"]["name"] for r in x] == ["c", "b", "a"]
    util.sort_by_size_older(x)
    assert [r["metadata"]["name"] for r in x] == ["c", "a", "b"]
    for r, v in ((a, "2"), (b, "1"), (c, "2")):
        r["metadata"]["annotations"][util.REVISION_ANNOTATION] = v
    x = [c, a, b]
    util.sort_by_revision(x)
    # by revision; the tie between a and c by creation time
    assert [r["metadata"]["name"] for r in x] == ["b", "a", "c"]


# ---- revisions and annotations ---------------------------------------------------------------------------

def test_revisions() -> None:
    rss = [rs("a", 1), rs("b", 1), rs("c", 1), rs("d", 1)]
    for r, v in zip(rss, ["1", "4", "2", "garbage"], strict=True):
        r["metadata"]["annotations"][util.REVISION_ANNOTATION] = v
    assert util.max_revision(rss) == 4
    assert util.last_revision(rss) == 2
    assert util.revision(rs("none", 1)) == 0
    with pytest.raises(ValueError):
        util.revision(rss[3])


def test_set_new_replica_set_annotations_for_a_new_replica_set() -> None:
    d = deployment(5, "25%", "25%")
    d["metadata"]["annotations"] = {"team": "a", util.REVISION_ANNOTATION: "7",
                                    util.LAST_APPLIED_CONFIG_ANNOTATION: "{}", "kubernetes.io/change-cause": "x"}
    new = rs("new", 0)
    assert util.set_new_replica_set_annotations(d, new, "3", False)
    ann = new["metadata"]["annotations"]
    assert ann == {"team": "a", "kubernetes.io/change-cause": "x", util.REVISION_ANNOTATION: "3",
                   util.DESIRED_REPLICAS_ANNOTATION: "5", util.MAX_REPLICAS_ANNOTATION: "7"}
    # idempotent
    assert not util.set_new_replica_set_annotations(d, new, "3", True)


def test_rollback_keeps_revision_history() -> None:
    d = deployment(1)
    old = rs("old", 0)
    old["metadata"]["annotations"][util.REVISION_ANNOTATION] = "1"
    assert util.set_new_replica_set_annotations(d, old, "3", True)
    assert old["metadata"]["annotations"][util.REVISION_HISTORY_ANNOTATION] == "1"
    assert util.set_new_replica_set_annotations(d, old, "5", True)
    assert old["metadata"]["annotations"][util.REVISION_HISTORY_ANNOTATION] == "1,3"
    assert old["metadata"]["annotations"][util.REVISION_ANNOTATION] == "5"
    # a lower revision never replaces a higher one
    assert not util.set_new_replica_set_annotations(d, old, "4", True)


def test_revision_history_is_bounded() -> None:
    d = deployment(1)
    r = rs("r", 0)
    r["metadata"]["annotations"][util.REVISION_ANNOTATION] = "1000"
    r["metadata"]["annotations"][util.REVISION_HISTORY_ANNOTATION] = ",".join(str(i) for i in range(1, 600))
    util.set_new_replica_set_annotations(d, r, "1001", True)
    hist = r["metadata"]["annotations"][util.REVISION_HISTORY_ANNOTATION]
    assert len(hist) <= util.MAX_REV_HISTORY_LENGTH_IN_CHARS
    assert hist.endswith(",599,1000")


def test_set_deployment_annotations_to() -> None:
    d = deployment(1)
    d["metadata"]["annotations"] = {util.REVISION_ANNOTATION: "5", "kubernetes.io/change-cause": "edit", "x": "1"}
    r = rs("r", 0)
    r["metadata"]["annotations"] = {util.REVISION_ANNOTATION: "2", "kubernetes.io/change-cause": "create",
                                    util.DESIRED_REPLICAS_ANNOTATION: "1"}
    util.set_deployment_annotations_to(d, r)
    assert d["metadata"]["annotations"] == {util.REVISION_ANNOTATION: "5", "kubernetes.io/change-cause": "create"}


def test_replicas_annotations() -> None:
    r = rs("r", 1)
    assert util.replicas_annotations_need_update(r, 3, 4)
    assert util.set_replicas_annotations(r, 3, 4)
    assert not util.replicas_annotations_need_update(r, 3, 4)
    assert util.get_desired_replicas_annotation(r) == (3, True)
    r["metadata"]["annotations"][util.MAX_REPLICAS_ANNOTATION] = "x"
    assert util.get_max_replicas_annotation(r) == (0, False)


def test_is_saturated() -> None:
    d = deployment(3)
    r = rs("r", 3)
    assert not util.is_saturated(d, r)
    util.set_replicas_annotations(r, 3, 3)
    assert util.is_saturated(d, r)
    r["spec"]["replicas"] = 2
    assert not util.is_saturated(d, r)
    assert not util.is_saturated(d, None)


def test_compute_hash_and_collision_count() -> None:
    t = deployment(1)["spec"]["template"]
    h0 = compute_hash(t, None)
    assert h0 == compute_hash(copy.deepcopy(t), None)
    assert set(h0) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h0) <= 10
    assert compute_hash(t, 1) != h0
    assert compute_hash(t, 1) != compute_hash(t, 2)


def test_clone_selector_and_add_label() -> None:
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "In", "values": ["a"]}]}
    out = util.clone_selector_and_add_label(sel, "pod-template-hash", "h")
    assert out == {"matchLabels": {"app": "web", "pod-template-hash": "h"},
                   "matchExpressions": [{"key": "x", "operator": "In", "values": ["a"]}]}
    assert sel["matchLabels"] == {"app": "web"}
    assert util.selects_everything({})
    assert not util.selects_everything(None)
    assert not util.selects_everything({"matchLabels": {"a": "b"}})


# ---- progress --------------------------------------------------------------------------------------------

def test_deployment_complete() -> None:
    d = deployment(5, 1, 1)
    full = {"updatedReplicas": 5, "replicas": 5, "availableReplicas": 5, "observedGeneration": 1}
    assert util.deployment_complete(d, full)
    assert not util.deployment_complete(d, dict(full, availableReplicas=4))
    assert not util.deployment_complete(d, dict(full, replicas=6))
    assert not util.deployment_complete(d, dict(full, updatedReplicas=4))
    assert not util.deployment_complete(d, dict(full, observedGeneration=0))


def test_deployment_progressing() -> None:
    d = deployment(3)
    d["status"] = {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3}
    same = dict(d["status"])
    assert not util.deployment_progressing(d, same)
    assert util.deployment_progressing(d, dict(same, updatedReplicas=2))
    assert util.deployment_progressing(d, dict(same, replicas=3))  # fewer old replicas
    assert util.deployment_progressing(d, dict(same, readyReplicas=4))
    assert util.deployment_progressing(d, dict(same, availableReplicas=4))


def test_deployment_timed_out() -> None:
    now = 1_700_000_000.0
    d = deployment(3, progressDeadlineSeconds=10)
    cond = util.new_deployment_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, "m", now - 11)
    assert util.deployment_timed_out(d, {"conditions": [cond]}, now)
    cond = util.new_deployment_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, "m", now - 5)
    assert not util.deployment_timed_out(d, {"conditions": [cond]}, now)
    done = util.new_deployment_condition(util.PROGRESSING, "True", util.NEW_RS_AVAILABLE_REASON, "m", now - 100)
    assert not util.deployment_timed_out(d, {"conditions": [done]}, now)
    assert not util.deployment_timed_out(d, {}, now)
    d["spec"]["progressDeadlineSeconds"] = util.MAX_INT32
    assert not util.deployment_timed_out(d, {"conditions": [cond]}, now + 10_000)


def test_set_condition_keeps_transition_time() -> None:
    st: dict[str, Any] = {}
    c1 = util.new_deployment_condition(util.PROGRESSING, "True", util.NEW_REPLICA_SET_REASON, "a", 1000.0)
    util.set_deployment_condition(st, c1)
    c2 = util.new_deployment_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, "b", 2000.0)
    util.set_deployment_condition(st, c2)
    (c,) = st["conditions"]
    assert c["reason"] == util.REPLICA_SET_UPDATED_REASON
    assert c["lastTransitionTime"] == now_rfc3339(1000.0)
    assert c["lastUpdateTime"] == now_rfc3339(2000.0)
    # same status and reason: no change at all
    c3 = util.new_deployment_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, "c", 3000.0)
    util.set_deployment_condition(st, c3)
    assert st["conditions"][0]["message"] == "b"


def test_calculate_status_and_available_condition() -> None:
    d = deployment(3, 1, 1)
    new = rs("new", 2, NEW, replicas=2, readyReplicas=1, availableReplicas=1)
    old = rs("old", 2, OLD, replicas=2, readyReplicas=2, availableReplicas=2)
    st = calculate_status([old, new], new, d)
    assert st["replicas"] == 4 and st["updatedReplicas"] == 2 and st["readyReplicas"] == 3
    assert st["availableReplicas"] == 3 and st["unavailableReplicas"] == 1 and st["observedGeneration"] == 1
    (avail,) = st["conditions"]
    assert (avail["type"], avail["status"], avail["reason"]) == ("Available", "True", "MinimumReplicasAvailable")
    assert avail["message"] == "Deployment has minimum availability."
    st = calculate_status([rs("x", 3, NEW, replicas=3)], None, deployment(3, 1, 1))
    (avail,) = st["conditions"]
    assert (avail["status"], avail["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert avail["message"] == "Deployment does not have minimum availability."
    assert "availableReplicas" not in st  # omitempty


def test_rollout_status_conditions() -> None:
    now = 1_700_000_000.0
    d = deployment(3, 1, 0, progressDeadlineSeconds=30)
    new = rs("foo-abc", 3, NEW, replicas=3, readyReplicas=3, availableReplicas=3)
    d["status"] = {"conditions": [util.new_deployment_condition(
        util.PROGRESSING, "True", util.NEW_REPLICA_SET_REASON, 'Created new replica set "foo-abc"', now - 5)]}
    st = rollout_status([new], new, d, now)
    prog = util.get_deployment_condition(st, util.PROGRESSING)
    assert prog["reason"] == "NewReplicaSetAvailable"
    assert prog["message"] == 'ReplicaSet "foo-abc" has successfully progressed.'
    # no progress for longer than the deadline
    stuck = rs("foo-abc", 3, NEW, replicas=3)
    d["status"] = {"replicas": 3, "updatedReplicas": 3, "conditions": [util.new_deployment_condition(
        util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, "x", now - 31)]}
    st = rollout_status([stuck], stuck, d, now)
    prog = util.get_deployment_condition(st, util.PROGRESSING)
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert prog["message"] == 'ReplicaSet "foo-abc" has timed out progressing.'
    # progress refreshes lastUpdateTime but keeps lastTransitionTime
    d["status"]["conditions"][0]["lastTransitionTime"] = now_rfc3339(now - 100)
    st = rollout_status([rs("foo-abc", 3, NEW, replicas=3, readyReplicas=1)], stuck, d, now)
    prog = util.get_deployment_condition(st, util.PROGRESSING)
    assert prog["reason"] == "ReplicaSetUpdated" and prog["message"] == 'ReplicaSet "foo-abc" is progressing.'
    assert prog["lastUpdateTime"] == now_rfc3339(now) and prog["lastTransitionTime"] == now_rfc3339(now - 100)
    # replica failures of the replica sets surface on the deployment
    failing = rs("foo-abc", 3, NEW, replicas=1, conditions=[{"type": "ReplicaFailure", "status": "True",
                                                        "reason": "FailedCreate", "message": "quota",
                                                        "lastTransitionTime": OLD}])
    st = rollout_status([failing], failing, d, now)
    rf = util.get_deployment_condition(st, util.REPLICA_FAILURE)
    assert rf["reason"] == "FailedCreate" and rf["lastUpdateTime"] == OLD


class _Queue:
    def __init__(self) -> None:
        self.after: list[tuple[str, float]] = []

    def add_after(self, key: str, delay: float) -> None:
        self.after.append((key, delay))


def test_requeue_stuck_deployment() -> None:
    now = 1_700_000_000.0
    p = ProgressMixin()
    p.queue = _Queue()  # type: ignore[attr-defined]
    d = deployment(3, progressDeadlineSeconds=10)
    d["status"] = {"conditions": [util.new_deployment_condition(
        util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, "x", now - 3)]}
    assert p.requeue_stuck_deployment(d, {"replicas": 3}, now) == pytest.approx(7.0)
    assert p.queue.after == [("default/foo", pytest.approx(8.0))]
    d["status"]["conditions"][0]["reason"] = util.TIMED_OUT_REASON
    assert p.requeue_stuck_deployment(d, {}, now) == -1.0
    d["spec"].pop("progressDeadlineSeconds")
    assert p.requeue_stuck_deployment(d, {}, now) == -1.0


# ---- proportional scaling (sync_test.go TestScale) -------------------------------------------------------

class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


class _FakeSync(SyncMixin):
    def __init__(self) -> None:
        self.recorder = _Recorder()
        self.written: dict[str, dict[str, Any]] = {}

    async def write_rs(self, d: dict[str, Any], rs_: dict[str, Any]) -> dict[str, Any]:
        self.written[rs_["metadata"]["name"]] = rs_
        return rs_


SCALE_CASES = [
    # name, deployment (replicas, surge), old deployment (replicas, surge), new (name, replicas, created) | None,
    # old [(name, replicas, created)], expected new replicas, expected old replicas
    ("normal scaling event: 10 -> 12", (12, 0), (10, 0), ("foo-v1", 10, NEW), [], 12, []),
    ("normal scaling event: 10 -> 5", (5, 0), (10, 0), ("foo-v1", 10, NEW), [], 5, []),
    ("proportional scaling: 5 -> 10", (10, 0), (5, 0), ("foo-v2", 2, NEW), [("foo-v1", 3, OLD)], 4, [6]),
    ("proportional scaling: 5 -> 3", (3, 0), (5, 0), ("foo-v2", 2, NEW), [("foo-v1", 3, OLD)], 1, [2]),
    ("proportional scaling: 9 -> 4", (4, 0), (9, 0), ("foo-v2", 8, NEW), [("foo-v1", 1, OLD)], 4, [0]),
    ("proportional scaling: 7 -> 10", (10, 0), (7, 0), ("foo-v3", 2, NEW),
     [("foo-v2", 3, OLD), ("foo-v1", 2, OLDER)], 3, [4, 3]),
    ("proportional scaling: 13 -> 8", (8, 0), (13, 0), ("foo-v3", 2, NEW),
     [("foo-v2", 8, OLD), ("foo-v1", 3, OLDER)], 1, [5, 2]),
    ("leftover distribution: 3 -> 4", (4, 0), (3, 0), ("foo-v3", 1, NEW),
     [("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)], 2, [1, 1]),
    ("leftover distribution: 3 -> 2", (2, 0), (3, 0), ("foo-v3", 1, NEW),
     [("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)], 1, [1, 0]),
    ("proportional scaling (no new rs): 4 -> 5", (5, 0), (4, 0), None,
     [("foo-v2", 2, OLD), ("foo-v1", 2, OLDER)], None, [3, 2]),
    ("proportional scaling: 6 -> 0", (0, 0), (6, 0), ("foo-v3", 3, NEW),
     [("foo-v2", 2, OLD), ("foo-v1", 1, OLDER)], 0, [0, 0]),
    ("proportional scaling: 0 -> 6", (6, 0), (6, 0), ("foo-v3", 0, NEW),
     [("foo-v2", 0, OLD), ("foo-v1", 0, OLDER)], 6, [0, 0]),
    ("deployment with surge pods", (20, 2), (10, 2), ("foo-v2", 6, NEW), [("foo-v1", 6, OLD)], 11, [11]),
    ("change both surge and size", (50, 6), (10, 3), ("foo-v2", 5, NEW), [("foo-v1", 8, OLD)], 22, [34]),
]


@pytest.mark.parametrize("case", SCALE_CASES, ids=[c[0] for c in SCALE_CASES])
def test_scale(case: tuple) -> None:
    _, (dr, ds), (odr, ods), new_spec, old_specs, want_new, want_old = case
    d = deployment(dr, ds, 0)
    old_d = deployment(odr, ods, 0)
    new = rs(new_spec[0], new_spec[1], new_spec[2]) if new_spec else None
    olds = [rs(n, r, c) for n, r, c in old_specs]
    for r in ([new] if new else []) + olds:
        util.set_replicas_annotations(r, odr, odr + util.max_surge(old_d))
    fake = _FakeSync()
    asyncio.run(fake.scale(d, new, list(olds)))

    def final(r: dict[str, Any]) -> int:
        return util.replicas(fake.written.get(r["metadata"]["name"], r))

    if new is not None:
        assert final(new) == want_new
    assert [final(r) for r in olds] == want_old
    for r in fake.written.values():
        assert r["metadata"]["annotations"][util.DESIRED_REPLICAS_ANNOTATION] == str(dr)
        assert r["metadata"]["annotations"][util.MAX_REPLICAS_ANNOTATION] == str(dr + util.max_surge(d))


def test_scale_events_say_from_and_to() -> None:
    d = deployment(5, 0)
    new = rs("foo-v1", 3)
    fake = _FakeSync()
    asyncio.run(fake.scale(d, new, []))
    assert fake.recorder.events == [("Normal", "ScalingReplicaSet", "Scaled up replica set foo-v1 from 3 to 5")]


def test_cleanup_deployment_respects_history_limit() -> None:
    d = deployment(1, revisionHistoryLimit=1)
    olds = []
    for i, created in enumerate((OLDER, OLD, NEW)):
        r = rs(f"old{i}", 0, created, observedGeneration=1)
        r["metadata"]["annotations"][util.REVISION_ANNOTATION] = str(i + 1)
        olds.append(r)
    olds[0]["status"]["replicas"] = 1  # still has a pod: kept
    deleted: list[str] = []

    class F(_FakeSync):
        async def delete_rs(self, d: dict[str, Any], rs_: dict[str, Any]) -> None:
            deleted.append(rs_["metadata"]["name"])

    asyncio.run(F().cleanup_deployment(olds, d))
    assert deleted == ["old1"]


# ---- new ReplicaSet creation (sync.go getNewReplicaSet) --------------------------------------------------

class _RSInformer:
    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = {o["metadata"]["name"]: o for o in objs}

    def get_by(self, ns: str | None, name: str) -> dict[str, Any] | None:
        return self.objs.get(name)


class _FakeCreate(_FakeSync):
    def __init__(self, existing: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.rs_informer = _RSInformer(existing or [])
        self.created: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []

    async def create_rs(self, d: dict[str, Any], rs_: dict[str, Any]) -> dict[str, Any]:
        from kubeling.api.errors import ApiError

        if rs_["metadata"]["name"] in self.rs_informer.objs:
            raise ApiError(409, "AlreadyExists", "exists")
        self.created.append(rs_)
        return dict(rs_, metadata=dict(rs_["metadata"], uid="new-uid", creationTimestamp=NEW))

    async def update_deployment_status(self, d: dict[str, Any]) -> dict[str, Any]:
        self.statuses.append(copy.deepcopy(d))
        return d


def test_get_new_replica_set_creates_it() -> None:
    d = deployment(4, "25%", "25%")
    old = rs("foo-old", 4, OLD)
    old["metadata"]["annotations"][util.REVISION_ANNOTATION] = "3"
    fake = _FakeCreate()
    new = asyncio.run(fake.get_new_replica_set(d, [old], [old], True))
    (created,) = fake.created
    h = compute_hash(d["spec"]["template"], None)
    assert created["metadata"]["name"] == f"foo-{h}" and new["metadata"]["name"] == f"foo-{h}"
    assert created["metadata"]["labels"] == {"foo": "bar", "pod-template-hash": h}
    assert created["spec"]["selector"] == {"matchLabels": {"foo": "bar", "pod-template-hash": h}}
    assert created["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == h
    assert created["spec"]["replicas"] == 1  # 4 + surge 1 = 5 allowed, 4 old
    assert created["metadata"]["annotations"] == {util.REVISION_ANNOTATION: "4",
                                                  util.DESIRED_REPLICAS_ANNOTATION: "4",
                                                  util.MAX_REPLICAS_ANNOTATION: "5"}
    assert created["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    assert fake.recorder.events == [("Normal", "ScalingReplicaSet", f"Scaled up replica set foo-{h} from 0 to 1")]
    st = fake.statuses[-1]
    assert st["metadata"]["annotations"][util.REVISION_ANNOTATION] == "4"
    prog = util.get_deployment_condition(st["status"], util.PROGRESSING)
    assert (prog["reason"], prog["message"]) == ("NewReplicaSetCreated", f'Created new replica set "foo-{h}"')


def test_get_new_replica_set_hash_collision_bumps_collision_count() -> None:
    from kubeling.api.errors import ApiError

    d = deployment(2)
    h = compute_hash(d["spec"]["template"], None)
    squatter = rs(f"foo-{h}", 1, OLD)  # same name, other template, not ours
    fake = _FakeCreate([squatter])
    with pytest.raises(ApiError):
        asyncio.run(fake.get_new_replica_set(d, [], [], True))
    assert fake.statuses[-1]["status"]["collisionCount"] == 1
    # the next attempt hashes with the collision count and gets another name
    d["status"]["collisionCount"] = 1
    new = asyncio.run(fake.get_new_replica_set(d, [], [], True))
    assert new["metadata"]["name"] == f"foo-{compute_hash(d['spec']['template'], 1)}" != f"foo-{h}"


def test_get_new_replica_set_syncs_existing_annotations() -> None:
    d = deployment(2, minReadySeconds=5)
    d["metadata"]["annotations"] = {"team": "x"}
    existing = rs("foo-abc", 2)
    existing["spec"]["template"] = copy.deepcopy(d["spec"]["template"])
    existing["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = "abc"
    existing["metadata"]["annotations"] = {util.REVISION_ANNOTATION: "1"}
    fake = _FakeCreate()
    out = asyncio.run(fake.get_new_replica_set(d, [existing], [], False))
    assert out["metadata"]["annotations"]["team"] == "x"
    assert out["spec"]["minReadySeconds"] == 5
    assert fake.written and not fake.created

"""ReplicaSet controller decisions without an API server: which pods go first on scale-down
(ActivePodsWithRanks, the cases of upstream's controller_utils_test.go), pod-deletion-cost
parsing, slow-start batches, status calculation and expectations in manageReplicas."""
from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from kubeling.api.errors import ApiError
from kubeling.api.meta import now_rfc3339
from kubeling.controllers import replicaset as rsc

NOW = 1_700_000_000.0
MONTH = 30 * 24 * 3600.0
HOUR = 3600.0


def pod(name: str, node: str = "node", phase: str = "Running", ready: bool = False, restarts: int = 0,
        ready_since: float | None = None, created: float | None = None, annotations: dict[str, str] | None = None,
        uid: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid}
    if created is not None:
        md["creationTimestamp"] = now_rfc3339(created)
    if annotations:
        md["annotations"] = annotations
    if labels:
        md["labels"] = labels
    cond: dict[str, Any] = {"type": "Ready", "status": "True" if ready else "False"}
    if ready_since is not None:
        cond["lastTransitionTime"] = now_rfc3339(ready_since)
    return {"metadata": md, "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": [cond],
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


unscheduled = pod("unscheduled", "", "Pending")
scheduled_pending = pod("pending", "node", "Pending")
unknown_phase = pod("unknown-phase", "node", "Unknown")
running_not_ready = pod("not-ready", "node", "Running")
ready_no_transition = pod("ready-no-last-transition-time", ready=True)
ready_now = pod("ready-now", ready=True, ready_since=NOW, created=NOW)
ready_then = pod("ready-then", ready=True, ready_since=NOW - MONTH, created=NOW - MONTH)
ready_now_high_restarts = pod("ready-high-restarts", ready=True, restarts=10, ready_since=NOW, created=NOW)
ready_now_created_then = pod("ready-now-created-then", ready=True, ready_since=NOW, created=NOW - MONTH)
low_cost = pod("low-deletion-cost", ready=True, ready_since=NOW, created=NOW - MONTH,
               annotations={rsc.POD_DELETION_COST: "10"})
high_cost = pod("high-deletion-cost", ready=True, ready_since=NOW, created=NOW - MONTH,
                annotations={rsc.POD_DELETION_COST: "100"})
unscheduled_5h = pod("unscheduled-5-hours", "", "Pending", ready_since=NOW - 5 * HOUR, created=NOW - 5 * HOUR)
unscheduled_8h = pod("unscheduled-8-hours", "", "Pending", ready_since=NOW - 8 * HOUR, created=NOW - 8 * HOUR)
ready_2h = pod("ready-2-hours", "", "Running", ready=True, ready_since=NOW - 2 * HOUR, created=NOW - MONTH)
ready_5h = pod("ready-5-hours", "", "Running", ready=True, ready_since=NOW - 5 * HOUR, created=NOW - MONTH)
ready_8h = pod("ready-8-hours", "", "Running", ready=True, ready_since=NOW - 8 * HOUR, created=NOW - MONTH)


def less(a: tuple[dict, int], b: tuple[dict, int]) -> bool:
    return rsc.ranked_less(rsc._Ranked(a[0], a[1]), rsc._Ranked(b[0], b[1]), NOW)


@pytest.mark.parametrize("p1,p2", [
    (unscheduled, unscheduled), (scheduled_pending, scheduled_pending), (unknown_phase, unknown_phase),
    (running_not_ready, running_not_ready), (ready_no_transition, ready_no_transition), (ready_now, ready_now),
    (ready_then, ready_then), (ready_now_high_restarts, ready_now_high_restarts),
    (ready_now_created_then, ready_now_created_then),
    # same power-of-two age bucket: equal on the logarithmic scale
    (unscheduled_5h, unscheduled_8h), (ready_5h, ready_8h),
])
def test_equal_ranks(p1: dict, p2: dict) -> None:
    assert not less((p1, 1), (p2, 1))
    assert not less((p2, 1), (p1, 1))


@pytest.mark.parametrize("lesser,greater", [
    ((unscheduled, 1), (scheduled_pending, 2)),
    ((unscheduled, 2), (scheduled_pending, 1)),
    ((scheduled_pending, 1), (unknown_phase, 2)),
    ((unknown_phase, 1), (running_not_ready, 2)),
    ((running_not_ready, 1), (ready_no_transition, 1)),
    ((ready_no_transition, 1), (ready_now, 1)),
    ((ready_now, 2), (ready_no_transition, 1)),
    ((ready_now, 1), (ready_then, 1)),
    ((ready_now, 2), (ready_then, 1)),
    ((ready_now_high_restarts, 1), (ready_now, 1)),
    ((ready_now, 2), (ready_now_high_restarts, 1)),
    ((ready_now, 1), (ready_now_created_then, 1)),
    ((ready_now_created_then, 2), (ready_now, 1)),
    ((low_cost, 2), (high_cost, 1)),
    ((ready_2h, 1), (ready_5h, 1)),
])
def test_inequal_ranks(lesser: tuple[dict, int], greater: tuple[dict, int]) -> None:
    assert less(lesser, greater)
    assert not less(greater, lesser)


def test_sorting_puts_cheapest_victims_first() -> None:
    order = [unscheduled, scheduled_pending, unknown_phase, running_not_ready, ready_no_transition, ready_now,
             ready_then]
    for perm in itertools.islice(itertools.permutations(order), 0, 5040, 97):
        assert rsc.rank_pods(list(perm), [0] * len(perm), NOW) == order


def test_same_age_bucket_breaks_ties_by_uid() -> None:
    a = pod("a", ready=True, ready_since=NOW - 5 * HOUR, created=NOW - MONTH, uid="b-uid")
    b = pod("b", ready=True, ready_since=NOW - 8 * HOUR, created=NOW - MONTH, uid="a-uid")
    assert rsc.rank_pods([a, b], [0, 0], NOW) == [b, a]


def test_sidecar_restarts_break_ties() -> None:
    a = pod("a", ready=True, ready_since=NOW, created=NOW)
    b = pod("b", ready=True, ready_since=NOW, created=NOW)
    b["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always"}]
    b["status"]["initContainerStatuses"] = [{"name": "side", "restartCount": 3}]
    assert rsc.rank_pods([a, b], [0, 0], NOW) == [b, a]


@pytest.mark.parametrize("value,cost", [
    ("10", 10), ("-5", -5), ("0", 0), ("+10", 0), ("008", 0), ("abc", 0), ("", 0), ("2147483647", 2147483647),
    ("2147483648", 0), ("-2147483648", -2147483648), ("1.5", 0),
])
def test_deletion_cost(value: str, cost: int) -> None:
    assert rsc.deletion_cost(pod("p", annotations={rsc.POD_DELETION_COST: value})) == cost


def test_get_pods_to_delete_prefers_doubled_up_nodes() -> None:
    a = pod("a", node="n1", ready=True, ready_since=NOW - MONTH, created=NOW - MONTH)
    b = pod("b", node="n2", ready=True, ready_since=NOW - MONTH, created=NOW - MONTH)
    related = [a, b, pod("c", node="n2", ready=True), pod("d", node="n3", phase="Succeeded")]
    assert rsc.get_pods_to_delete([a, b], related, 1, NOW) == [b]
    # all of them go: no ranking needed
    assert rsc.get_pods_to_delete([a, b], related, 2, NOW) == [a, b]


def test_pod_helpers() -> None:
    assert rsc.is_pod_active(pod("p"))
    assert not rsc.is_pod_active(pod("p", phase="Succeeded"))
    assert not rsc.is_pod_active(pod("p", phase="Failed"))
    p = pod("p")
    p["metadata"]["deletionTimestamp"] = now_rfc3339(NOW)
    assert not rsc.is_pod_active(p)
    r = pod("r", ready=True, ready_since=NOW - 10)
    assert rsc.is_pod_available(r, 0, NOW)
    assert rsc.is_pod_available(r, 5, NOW)
    assert not rsc.is_pod_available(r, 10, NOW)
    assert not rsc.is_pod_available(pod("n"), 0, NOW)


# ---- slow start -----------------------------------------------------------------------------------------

def test_slow_start_batches() -> None:
    sizes: list[int] = []
    running = 0

    async def fn() -> None:
        nonlocal running
        running += 1
        await asyncio.sleep(0)
        sizes.append(running)
        await asyncio.sleep(0)
        running -= 1

    ok, err = asyncio.run(rsc.slow_start_batch(10, 1, fn))
    assert (ok, err) == (10, None)
    # batches of 1, 2, 4 and the remaining 3 ran concurrently
    assert max(sizes) == 4


def test_slow_start_stops_after_a_failed_batch() -> None:
    calls = 0

    async def fn() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ApiError(403, "Forbidden", "exceeded quota")

    ok, err = asyncio.run(rsc.slow_start_batch(100, 1, fn))
    assert isinstance(err, ApiError)
    assert calls == 3 and ok == 2  # batch 1 (1 call), batch 2 (2 calls, one failed), then stop


# ---- status ---------------------------------------------------------------------------------------------

def make_rs(replicas: int = 3, min_ready: int = 0, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "rs", "generation": 2},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}}},
            "status": dict(status)}


def test_calculate_status() -> None:
    pods = [pod("a", ready=True, ready_since=NOW - 100, labels={"app": "web", "tier": "fe"}),
            pod("b", ready=True, ready_since=NOW - 1, labels={"app": "web", "tier": "fe", "x": "y"}),
            pod("c", labels={"app": "web"})]
    st = rsc.calculate_status(make_rs(min_ready=10), pods, None, NOW)
    assert st == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1}


def test_replica_failure_condition() -> None:
    rs = make_rs(replicas=3)
    err = ApiError(403, "Forbidden", 'pods "web-x" is forbidden: exceeded quota')
    st = rsc.calculate_status(rs, [], err, NOW)
    (c,) = st["conditions"]
    assert (c["type"], c["status"], c["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    assert c["message"] == 'pods "web-x" is forbidden: exceeded quota'
    # kept while failing, removed once a sync succeeds
    rs["status"] = st
    assert rsc.calculate_status(rs, [], err, NOW + 5)["conditions"] == [c]
    assert "conditions" not in rsc.calculate_status(rs, [], None, NOW + 5)


def test_status_unchanged() -> None:
    rs = make_rs(replicas=1)
    rs["status"] = {"replicas": 1, "readyReplicas": 1, "observedGeneration": 2}
    assert rsc.status_unchanged(rs, {"replicas": 1, "readyReplicas": 1})
    assert not rsc.status_unchanged(rs, {"replicas": 1})
    rs["metadata"]["generation"] = 3
    assert not rsc.status_unchanged(rs, {"replicas": 1, "readyReplicas": 1})


# ---- manageReplicas with expectations -------------------------------------------------------------------

class _Informer:
    def __init__(self) -> None:
        self.handlers: list[tuple] = []
        self.cache: dict[str, dict] = {}
        self.indexers: dict[str, Any] = {}

    def add_handlers(self, a: Any = None, u: Any = None, d: Any = None) -> None:
        self.handlers.append((a, u, d))

    def add_indexer(self, name: str, fn: Any) -> None:
        self.indexers[name] = fn

    def get_by(self, ns: str | None, name: str) -> dict | None:
        return self.cache.get(f"{ns}/{name}")

    def by_index(self, index: str, value: str) -> list[dict]:
        if index == "namespace":
            return [o for o in self.cache.values() if o["metadata"].get("namespace") == value]
        return [o for o in self.cache.values() if value in self.indexers[index](o)]


class _Factory:
    def __init__(self) -> None:
        self.infs: dict[str, _Informer] = {}

    def informer(self, resource: str) -> _Informer:
        return self.infs.setdefault(resource, _Informer())


class _Client:
    def __init__(self, fail_after: int | None = None) -> None:
        self.created: list[dict] = []
        self.deleted: list[str] = []
        self.fail_after = fail_after

    async def create(self, resource: str, ns: str, obj: dict) -> dict:
        if self.fail_after is not None and len(self.created) >= self.fail_after:
            raise ApiError(403, "Forbidden", "exceeded quota")
        obj = dict(obj, metadata=dict(obj["metadata"], name=f"web-{len(self.created)}", namespace=ns))
        self.created.append(obj)
        return obj

    async def delete(self, resource: str, ns: str, name: str, options: Any = None) -> None:
        self.deleted.append(name)


class _Ctx:
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.informers = _Factory()
        self.settings: dict[str, Any] = {}

    def recorder(self, component: str) -> Any:
        class R:
            events: list[tuple] = []

            def event(self, obj: dict, t: str, reason: str, msg: str) -> None:
                self.events.append((t, reason, msg))

        return R()


def test_manage_replicas_expectations_and_burst() -> None:
    async def main() -> None:
        client = _Client()
        c = rsc.ReplicaSetController(_Ctx(client))
        c.burst_replicas = 5
        rs = make_rs(replicas=8)
        await c.manage_replicas([], rs)
        assert len(client.created) == 5  # capped at burstReplicas
        assert c.expectations.expectations.get_expectations("default/web") == (5, 0)
        assert not c.expectations.satisfied_expectations("default/web")
        for _ in range(5):
            c.expectations.creation_observed("default/web")
        assert c.expectations.satisfied_expectations("default/web")
        assert all(p["metadata"]["generateName"] == "web-" for p in client.created)
        assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in client.created)

    asyncio.run(main())


def test_manage_replicas_lowers_expectations_for_skipped_pods() -> None:
    async def main() -> None:
        client = _Client(fail_after=3)
        c = rsc.ReplicaSetController(_Ctx(client))
        with pytest.raises(ApiError):
            await c.manage_replicas([], make_rs(replicas=10))
        # batches 1 and 2 succeeded (3 pods), batch 3 failed: 7 skipped and not expected any more
        assert c.expectations.expectations.get_expectations("default/web") == (3, 0)

    asyncio.run(main())


def test_manage_replicas_deletes_ranked_pods() -> None:
    async def main() -> None:
        client = _Client()
        c = rsc.ReplicaSetController(_Ctx(client))
        pods = [pod("old-ready", ready=True, ready_since=NOW - MONTH, created=NOW - MONTH),
                pod("unscheduled", "", "Pending"), pod("not-ready")]
        await c.manage_replicas(pods, make_rs(replicas=1))
        assert sorted(client.deleted) == ["not-ready", "unscheduled"]
        assert not c.expectations.satisfied_expectations("default/web")
        c.expectations.deletion_observed("default/web", "default/unscheduled")
        c.expectations.deletion_observed("default/web", "default/unscheduled")  # counted once
        assert not c.expectations.satisfied_expectations("default/web")
        c.expectations.deletion_observed("default/web", "default/not-ready")
        assert c.expectations.satisfied_expectations("default/web")

    asyncio.run(main())

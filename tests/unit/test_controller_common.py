"""The controller mechanics shared across controllers: owner resolution and dependent event handlers
(common/dependents), slow-start batching (common/podcontrol), pod state (common/podutil) and the
Controller / work-queue helpers of kubeling.client.informer."""
from __future__ import annotations

import asyncio
from typing import Any

from kubeling.api.errors import ApiError
from kubeling.client.informer import Controller, WorkQueue, cancel_and_wait, queue_worker
from kubeling.controllers.common.dependents import (
    DependentHandlers,
    OwnerLookup,
    SelectorCache,
    handle_owner_events,
)
from kubeling.controllers.common.podcontrol import slow_start_batch
from kubeling.controllers.common.podutil import is_pod_active, is_pod_available, is_pod_ready

NOW = 1_700_000_000.0


class _Informer:
    def __init__(self, *objs: dict) -> None:
        self.cache = {f"{o['metadata'].get('namespace')}/{o['metadata']['name']}": o for o in objs}
        self.handlers: list[tuple] = []
        self.synced = asyncio.Event()

    def add_handlers(self, a: Any = None, u: Any = None, d: Any = None) -> None:
        self.handlers.append((a, u, d))

    def get_by(self, ns: str | None, name: str) -> dict | None:
        return self.cache.get(f"{ns}/{name}")

    def by_index(self, index: str, value: str) -> list[dict]:
        assert index == "namespace"
        return [o for o in self.cache.values() if o["metadata"].get("namespace") == value]

    async def wait_synced(self) -> None:
        await self.synced.wait()


class _Queue:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.after: list[tuple[str, float]] = []

    def add(self, key: str) -> None:
        self.added.append(key)

    def add_after(self, key: str, delay: float) -> None:
        self.after.append((key, delay))


def owner(name: str, uid: str, selector: dict | None = None, min_ready: int = 0) -> dict:
    spec: dict = {"selector": {"matchLabels": selector} if selector is not None else None}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "spec": spec}


def pod(name: str, labels: dict | None = None, ctrl: dict | None = None, rv: str = "1", ready: bool = False,
        deleting: bool = False) -> dict:
    md: dict = {"name": name, "namespace": "ns", "resourceVersion": rv, "labels": labels or {}}
    if ctrl is not None:
        md["ownerReferences"] = [{"kind": "ReplicaSet", "name": ctrl["metadata"]["name"],
                                  "uid": ctrl["metadata"]["uid"], "controller": True}]
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    conds = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": md, "status": {"phase": "Running", "conditions": conds}}


def _setup(**kw: Any) -> tuple[dict, dict, _Queue, DependentHandlers, list]:
    a = owner("a", "uid-a", {"app": "x"}, min_ready=kw.pop("min_ready", 0))
    b = owner("b", "uid-b", {"app": "y"})
    q = _Queue()
    seen: list = []
    h = DependentHandlers(OwnerLookup(_Informer(a, b), "ReplicaSet"), q,
                          created=lambda k, p: seen.append(("created", k, p["metadata"]["name"])),
                          deleted=lambda k, p: seen.append(("deleted", k, p["metadata"]["name"])), **kw)
    return a, b, q, h, seen


# ---- owner lookup ------------------------------------------------------------------------------------

def test_resolve_checks_kind_name_and_uid() -> None:
    a = owner("a", "uid-a", {"app": "x"})
    lookup = OwnerLookup(_Informer(a), "ReplicaSet")
    assert lookup.resolve("ns", {"kind": "ReplicaSet", "name": "a", "uid": "uid-a"}) is a
    assert lookup.resolve("ns", {"kind": "ReplicaSet", "name": "a", "uid": "old"}) is None  # recreated owner
    assert lookup.resolve("ns", {"kind": "StatefulSet", "name": "a", "uid": "uid-a"}) is None
    assert lookup.resolve("other", {"kind": "ReplicaSet", "name": "a", "uid": "uid-a"}) is None
    assert lookup.owner_of(pod("p", ctrl=a)) is a
    assert lookup.owner_of(pod("p")) is None


def test_selecting_needs_labels_and_a_non_empty_selector() -> None:
    a = owner("a", "uid-a", {"app": "x"})
    empty = owner("e", "uid-e", {})
    nil = owner("n", "uid-n", None)
    other = owner("a2", "uid-a2", {"app": "x"})
    lookup = OwnerLookup(_Informer(a, empty, nil, other), "ReplicaSet")
    assert sorted(o["metadata"]["name"] for o in lookup.selecting(pod("p", {"app": "x"}))) == ["a", "a2"]
    assert lookup.selecting(pod("p")) == []  # no labels: nobody, whatever the selectors
    assert lookup.selecting(pod("p", {"app": "z"})) == []


def test_selector_cache_parses_once_per_uid() -> None:
    cache = SelectorCache()
    a = owner("a", "uid-a", {"app": "x"})
    first = cache.get(a)
    assert cache.get(a) is first
    cache.forget(a)
    assert cache.get(a) is not first


# ---- dependent handlers ------------------------------------------------------------------------------

def test_add_owned_observes_creation_then_enqueues_and_orphans_wake_matching_owners() -> None:
    a, _b, q, h, seen = _setup()
    h.on_add(pod("p1", {"app": "x"}, ctrl=a))
    assert seen == [("created", "ns/a", "p1")] and q.added == ["ns/a"]
    h.on_add(pod("orphan", {"app": "y"}))
    assert q.added == ["ns/a", "ns/b"] and len(seen) == 1  # no creation for an orphan
    h.on_add(pod("p2", {"app": "x"}, ctrl=a, deleting=True))  # shows up already terminating
    assert seen[-1] == ("deleted", "ns/a", "p2")


def test_owned_add_without_enqueue() -> None:
    a, _b, q, h, seen = _setup(enqueue_owned_add=False)
    h.on_add(pod("p1", {"app": "x"}, ctrl=a))
    assert q.added == [] and seen == [("created", "ns/a", "p1")]


def test_update_ignores_resyncs_and_follows_controller_ref_changes() -> None:
    a, b, q, h, _ = _setup()
    p = pod("p", {"app": "x"}, ctrl=a)
    h.on_update(p, p)
    assert q.added == []
    moved = pod("p", {"app": "x"}, ctrl=b, rv="2")
    h.on_update(p, moved)
    assert q.added == ["ns/a", "ns/b"]  # the old owner lost it, the new one gained it
    q.added.clear()
    released = pod("p", {"app": "y"}, rv="3")
    h.on_update(moved, released)
    assert q.added == ["ns/b", "ns/b"]  # old owner, then the owners that may adopt the orphan


def test_terminating_update_modes() -> None:
    a, b, q, h, seen = _setup(terminating="update")
    old = pod("p", {"app": "x"}, ctrl=a)
    h.on_update(old, pod("p", {"app": "x"}, ctrl=a, rv="2", deleting=True))
    assert seen == [] and q.added == ["ns/a"]

    a, b, q, h, seen = _setup(terminating="delete")
    old = pod("p", {"app": "x"}, ctrl=a)
    h.on_update(old, pod("p", {"app": "z"}, ctrl=a, rv="2", deleting=True))
    assert seen == [("deleted", "ns/a", "p")]

    a, b, q, h, seen = _setup(terminating="delete-old-too")
    old = pod("p", {"app": "x"}, ctrl=a)
    h.on_update(old, pod("p", {"app": "z"}, ctrl=a, rv="2", deleting=True))
    assert seen == [("deleted", "ns/a", "p"), ("deleted", "ns/a", "p")]  # labels changed too


def test_ready_requeue_after_min_ready_seconds() -> None:
    a, _b, q, h, _ = _setup(ready_requeue=True, min_ready=10)
    h.on_update(pod("p", ctrl=a), pod("p", ctrl=a, rv="2", ready=True))
    assert q.after == [("ns/a", 11.0)]
    a, _b, q, h, _ = _setup(ready_requeue=False, min_ready=10)
    h.on_update(pod("p", ctrl=a), pod("p", ctrl=a, rv="2", ready=True))
    assert q.after == []


def test_delete_concerns_the_owner_only() -> None:
    a, _b, q, h, seen = _setup()
    h.on_delete(pod("orphan", {"app": "x"}))
    assert q.added == [] and seen == []
    h.on_delete(pod("p", ctrl=a))
    assert seen == [("deleted", "ns/a", "p")] and q.added == ["ns/a"]


def test_owner_events_forget_on_delete_and_on_uid_change() -> None:
    a = owner("a", "uid-a", {"app": "x"})
    inf = _Informer(a)
    lookup = OwnerLookup(inf, "ReplicaSet")
    q = _Queue()
    forgotten: list[str] = []
    handle_owner_events(lookup, q, forget=lambda k, _o: forgotten.append(k))
    on_add, on_update, on_delete = inf.handlers[0]
    first = lookup.selectors.get(a)
    on_add(a)
    on_update(a, a)
    assert q.added == ["ns/a", "ns/a"] and forgotten == []
    recreated = owner("a", "uid-a2", {"app": "x"})
    on_update(a, recreated)
    assert forgotten == ["ns/a"] and lookup.selectors.get(a) is not first
    on_delete(recreated)
    assert forgotten == ["ns/a", "ns/a"]


# ---- slow start --------------------------------------------------------------------------------------

def test_slow_start_batch_caps_batches_and_returns_the_failed_batch_errors() -> None:
    batches: list[list[int]] = []

    async def fn(i: int) -> None:
        if not batches or len(batches[-1]) == min(2 ** (len(batches) - 1), 4):
            batches.append([])
        batches[-1].append(i)
        await asyncio.sleep(0)
        if i in (8, 9):
            raise ApiError(403, "Forbidden", f"no {i}")

    ok, errs = asyncio.run(slow_start_batch(20, 1, fn, max_batch_size=4))
    assert batches == [[0], [1, 2], [3, 4, 5, 6], [7, 8, 9, 10]]
    assert ok == 9 and [e.message for e in errs] == ["no 8", "no 9"]
    ok, errs = asyncio.run(slow_start_batch(0, 1, fn))
    assert (ok, errs) == (0, [])


# ---- pod state ---------------------------------------------------------------------------------------

def test_pod_state() -> None:
    p = pod("p", ready=True)
    p["status"]["conditions"][0]["lastTransitionTime"] = "2023-11-14T22:13:10Z"  # NOW - 10s
    assert is_pod_ready(p) and is_pod_active(p)
    assert is_pod_available(p, 0, NOW) and is_pod_available(p, 5, NOW) and not is_pod_available(p, 10, NOW)
    assert not is_pod_available(pod("n"), 0, NOW)
    assert not is_pod_active(pod("d", deleting=True))


# ---- controller and queue helpers --------------------------------------------------------------------

def test_start_when_synced_waits_for_every_informer() -> None:
    class C(Controller):
        workers = 2

        async def sync(self, key: str) -> None:
            done.append(key)

    done: list[str] = []

    async def main() -> None:
        a, b = _Informer(), _Informer()
        c = C()
        after: list[bool] = []
        c.start_when_synced(a, b, then=lambda: after.append(True))
        c.queue.add("k")
        a.synced.set()
        await asyncio.sleep(0.01)
        assert done == [] and after == []  # b has not synced: no workers yet
        b.synced.set()
        await asyncio.sleep(0.01)
        assert done == ["k"] and after == [True]
        await c.stop()
        c2 = C()
        c2.start_when_synced(_Informer())
        await c2.stop()  # cancels the wait

    asyncio.run(main())


def test_queue_worker_requeues_on_failure_or_request() -> None:
    async def main() -> None:
        q = WorkQueue("t", base_delay=0.001)
        calls: list[str] = []

        async def process(key: str) -> bool:
            calls.append(key)
            if key == "boom" and calls.count("boom") == 1:
                raise RuntimeError("first time")
            return key == "again" and calls.count("again") == 1

        task = asyncio.get_running_loop().create_task(queue_worker(q, process, "test"))
        for k in ("ok", "boom", "again"):
            q.add(k)
        await asyncio.sleep(0.1)
        assert sorted(calls) == ["again", "again", "boom", "boom", "ok"]
        assert q.num_requeues("boom") == 0 and q.num_requeues("again") == 0  # forgotten after success
        q.shutdown()
        await cancel_and_wait(task, None)
        assert task.cancelled()

    asyncio.run(main())

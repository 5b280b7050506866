"""The ReplicaSet controller (upstream pkg/controller/replicaset, v1.32: replica_set.go,
replica_set_utils.go, and the pod ranking of controller_utils.go).

A sync keeps `spec.replicas` active pods matching the selector:
- candidates are the set's own pods and the namespace's orphans (informer index by controller
  uid); matching orphans are adopted and owned pods that stopped matching are released, after a
  live GET of the set (refmanager);
- missing pods are created in slow-start batches (1, 2, 4, ...; at most 500 per sync), excess pods
  deleted in upstream's ranking order (`ActivePodsWithRanks`): unassigned < assigned, Pending <
  Unknown < Running, not ready < ready, lower pod-deletion-cost, more colocated related pods, ready
  for less time, more restarts, newer -- both time comparisons on upstream's logarithmic scale
  (LogarithmicScaleDown is GA in v1.32);
- expectations (UIDTrackingExpectations) make sure a sync never acts again before the informer has
  observed its creations and deletions, so nothing is created twice;
- status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas with minReadySeconds,
  observedGeneration, the ReplicaFailure condition) is written whenever it changes.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..api.errors import ApiError
from ..api.meta import now_rfc3339, parse_time
from ..api.selectors import matches_labels
from ..client.client import deepcopy
from ..client.informer import Controller, meta_key
from . import register_controller
from .common import podcontrol
from .common.dependents import DependentHandlers, OwnerLookup, SelectorCache, handle_owner_events
from .common.expectations import UIDTrackingExpectations
from .common.podcontrol import SLOW_START_INITIAL_BATCH_SIZE, PodControl, is_namespace_terminating
from .common.podutil import get_pod_ready_condition, is_pod_active, is_pod_available, is_pod_ready, pod_key
from .common.refmanager import (
    CONTROLLER_INDEX,
    ClaimErrors,
    ControllerRefManager,
    ensure_controller_index,
    get_controller_of,
    live_owner_check,
    new_controller_ref,
    objects_for_owner,
)

log = logging.getLogger(__name__)

COMPONENT = "replicaset-controller"
RESOURCE = "replicasets.apps"
CONTROLLER_KIND = ("apps/v1", "ReplicaSet")

# Upstream BurstReplicas: at most this many creations or deletions per sync.
BURST_REPLICAS = 500
# Upstream statusUpdateRetries: one GET-and-retry after a failed status update.
STATUS_UPDATE_RETRIES = 1

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
REPLICA_FAILURE = "ReplicaFailure"

Obj = dict[str, Any]


# ---- pod helpers (podutil / controller_utils.go) -------------------------------------------------------

def deletion_cost(pod: Obj) -> int:
    """GetDeletionCostFromPodAnnotations: the annotation as an int32, 0 when absent or invalid
    (a leading '+' or leading zeros are invalid)."""
    v = (pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST)
    if v is None or not v:
        return 0
    if not (v[0] == "-" or v == "0" or "1" <= v[0] <= "9"):
        return 0
    body = v[1:] if v[0] == "-" else v
    if not body.isdigit() or not body.isascii():
        return 0
    i = int(v)
    if not -(2 ** 31) <= i < 2 ** 31:
        return 0
    return i


def max_container_restarts(pod: Obj) -> tuple[int, int]:
    """maxContainerRestarts: (regular containers, restartable init containers a.k.a. sidecars)."""
    st = pod.get("status") or {}
    regular = 0
    for c in st.get("containerStatuses") or ():
        regular = max(regular, int(c.get("restartCount") or 0))
    sidecar = 0
    names = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or ()
             if c.get("restartPolicy") == "Always"}
    if names:
        for c in st.get("initContainerStatuses") or ():
            if c.get("name") in names:
                sidecar = max(sidecar, int(c.get("restartCount") or 0))
    return regular, sidecar


_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


class _Ranked:
    """One pod with what ActivePodsWithRanks.Less looks at, extracted once."""

    __slots__ = ("pod", "node", "phase", "ready", "ready_time", "cost", "rank", "restarts", "created", "uid")

    def __init__(self, pod: Obj, rank: int) -> None:
        md = pod["metadata"]
        self.pod = pod
        self.node = (pod.get("spec") or {}).get("nodeName") or ""
        self.phase = _PHASE_ORDINAL.get((pod.get("status") or {}).get("phase") or "", 0)
        c = get_pod_ready_condition(pod)
        self.ready = c is not None and c.get("status") == "True"
        self.ready_time = parse_time(c.get("lastTransitionTime")) if self.ready and c is not None else None
        self.cost = deletion_cost(pod)
        self.rank = rank
        self.restarts = max_container_restarts(pod)
        self.created = parse_time(md.get("creationTimestamp"))
        self.uid = md.get("uid") or ""


def _after_or_zero(t1: float | None, t2: float | None) -> bool:
    """afterOrZero: t1 after t2, a zero time counting as after any other."""
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def logarithmic_rank_diff(t1: float, t2: float, now: float) -> int:
    """logarithmicRankDiff: difference of floor(log2(age in nanoseconds)) of two timestamps."""
    d1 = (now - t1) * 1e9
    d2 = (now - t2) * 1e9
    r1 = int(math.log2(d1)) if d1 > 0 else -1
    r2 = int(math.log2(d2)) if d2 > 0 else -1
    return r1 - r2


def _time_less(t1: float | None, t2: float | None, u1: str, u2: str, now: float) -> bool:
    if t1 is None or t2 is None:
        return _after_or_zero(t1, t2)
    diff = logarithmic_rank_diff(t1, t2, now)
    if diff == 0:
        return u1 < u2
    return diff < 0


def ranked_less(a: _Ranked, b: _Ranked, now: float) -> bool:
    """ActivePodsWithRanks.Less (v1.32, PodDeletionCost and LogarithmicScaleDown enabled):
    True when a should be deleted before b."""
    if a.node != b.node and (not a.node or not b.node):
        return not a.node
    if a.phase != b.phase:
        return a.phase < b.phase
    if a.ready != b.ready:
        return not a.ready
    if a.cost != b.cost:
        return a.cost < b.cost
    if a.rank != b.rank:
        return a.rank > b.rank
    if a.ready and b.ready and a.ready_time != b.ready_time:
        return _time_less(a.ready_time, b.ready_time, a.uid, b.uid, now)
    if a.restarts[0] != b.restarts[0]:
        return a.restarts[0] > b.restarts[0]
    if a.restarts[1] != b.restarts[1]:
        return a.restarts[1] > b.restarts[1]
    if a.created != b.created:
        return _time_less(a.created, b.created, a.uid, b.uid, now)
    return False


def rank_pods(pods: list[Obj], ranks: list[int], now: float | None = None) -> list[Obj]:
    """The pods in deletion order (sort.Sort(ActivePodsWithRanks{pods, ranks, now}))."""
    now = time.time() if now is None else now
    items = [_Ranked(p, r) for p, r in zip(pods, ranks, strict=True)]

    def cmp(a: _Ranked, b: _Ranked) -> int:
        if ranked_less(a, b, now):
            return -1
        if ranked_less(b, a, now):
            return 1
        return 0

    items.sort(key=functools.cmp_to_key(cmp))
    return [i.pod for i in items]


def related_pod_ranks(pods_to_rank: list[Obj], related_pods: Iterable[Obj]) -> list[int]:
    """getPodsRankedByRelatedPodsOnSameNode: per pod, the number of active related pods on its node."""
    on_node: dict[str, int] = {}
    for p in related_pods:
        if is_pod_active(p):
            n = (p.get("spec") or {}).get("nodeName") or ""
            on_node[n] = on_node.get(n, 0) + 1
    return [on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods_to_rank]


def get_pods_to_delete(filtered_pods: list[Obj], related_pods: Iterable[Obj], diff: int,
                       now: float | None = None) -> list[Obj]:
    """getPodsToDelete: the diff pods to delete first (no ranking when all of them go)."""
    if diff < len(filtered_pods):
        filtered_pods = rank_pods(filtered_pods, related_pod_ranks(filtered_pods, related_pods), now)
    return filtered_pods[:diff]


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """slowStartBatch of replica_set.go: (successes, the first error of the failed batch)."""
    successes, errs = await podcontrol.slow_start_batch(count, initial_batch_size, lambda _i: fn())
    return successes, (errs[0] if errs else None)


# ---- status (replica_set_utils.go) ---------------------------------------------------------------------

def _replicas(rs: Obj) -> int:
    v = (rs.get("spec") or {}).get("replicas")
    return 1 if v is None else int(v)


def _min_ready_seconds(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("minReadySeconds") or 0)


def get_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def calculate_status(rs: Obj, filtered_pods: list[Obj], manage_replicas_err: BaseException | None,
                     now: float | None = None) -> Obj:
    """calculateStatus: counts over the set's active pods, plus the ReplicaFailure condition while
    creating or deleting pods fails. Zero counters are left out, as Go's omitempty does."""
    now = time.time() if now is None else now
    old = rs.get("status") or {}
    template_labels = (((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    tl = list(template_labels.items())
    mrs = _min_ready_seconds(rs)
    fully = ready = available = 0
    for pod in filtered_pods:  # the hot loop of every sync: one pass, no helper calls
        if tl:
            labels = pod["metadata"].get("labels") or {}
            for k, v in tl:
                if labels.get(k) != v:
                    break
            else:
                fully += 1
        else:
            fully += 1
        for c in (pod.get("status") or {}).get("conditions") or ():
            if c.get("type") == "Ready":
                if c.get("status") == "True":
                    ready += 1
                    if mrs == 0:
                        available += 1
                    else:
                        t = parse_time(c.get("lastTransitionTime"))
                        if t is not None and t + mrs < now:
                            available += 1
                break
    conditions = list(old.get("conditions") or ())
    failure = get_condition(old, REPLICA_FAILURE)
    if manage_replicas_err is not None and failure is None:
        diff = len(filtered_pods) - _replicas(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        msg = manage_replicas_err.message if isinstance(manage_replicas_err, ApiError) else str(manage_replicas_err)
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
        cond = {"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": now_rfc3339(now),
                "reason": reason, "message": msg}
        conditions.append({k: v for k, v in cond.items() if v != ""})
    elif manage_replicas_err is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    st: Obj = {"replicas": len(filtered_pods)}
    if fully:
        st["fullyLabeledReplicas"] = fully
    if ready:
        st["readyReplicas"] = ready
    if available:
        st["availableReplicas"] = available
    if old.get("observedGeneration"):
        st["observedGeneration"] = old["observedGeneration"]
    if conditions:
        st["conditions"] = conditions
    return st


def status_unchanged(rs: Obj, new_status: Obj) -> bool:
    """The steady state of updateReplicaSetStatus: counters, observed generation and conditions equal."""
    old = rs.get("status") or {}
    for f in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if int(old.get(f) or 0) != int(new_status.get(f) or 0):
            return False
    if int(rs["metadata"].get("generation") or 0) != int(old.get("observedGeneration") or 0):
        return False
    return (old.get("conditions") or []) == (new_status.get("conditions") or [])


# ---- the controller ------------------------------------------------------------------------------------

class ReplicaSetController(Controller):
    """ReplicaSetController: informers on replicasets.apps and pods, one work queue.

    Upstream's NewBaseController is parameterized by the owner kind, so the ReplicationController
    manager is this controller on other informers; subclasses override the class attributes below
    and `selector_cache` (see controllers/replicationcontroller.py)."""

    name = "replicaset"
    workers = 5  # kube-controller-manager --concurrent-replicaset-syncs default
    resource = RESOURCE
    controller_kind = CONTROLLER_KIND
    component = COMPONENT

    def selector_cache(self) -> SelectorCache | None:
        """How owners' selectors are parsed; None: spec.selector as a LabelSelector."""
        return None

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        self.rss = ctx.informers.informer(self.resource)
        self.pods = ctx.informers.informer("pods")
        ensure_controller_index(self.pods)
        ensure_controller_index(self.rss)
        self.recorder = ctx.recorder(self.component)
        self.pod_control = PodControl(self.client, self.recorder)
        self.expectations = UIDTrackingExpectations()
        self.burst_replicas = BURST_REPLICAS
        self.owners = OwnerLookup(self.rss, self.controller_kind[1], self.selector_cache())
        handle_owner_events(self.owners, self.queue, forget=lambda key, _rs: self.expectations.delete_expectations(key))
        DependentHandlers(self.owners, self.queue, terminating="delete-old-too", ready_requeue=True,
                          created=lambda key, _pod: self.expectations.creation_observed(key),
                          deleted=lambda key, pod: self.expectations.deletion_observed(key, pod_key(pod))
                          ).register(self.pods)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        """Start the workers once both informers have synced (the manager starts informers later)."""
        self.start_when_synced(self.rss, self.pods, workers=workers)

    # ---- lookups -----------------------------------------------------------------------------------
    def get_indirectly_related_pods(self, rs: Obj) -> list[Obj]:
        """getIndirectlyRelatedPods: pods selected by any set sharing rs's controller (rs included)."""
        ref = get_controller_of(rs)
        if ref is None or not ref.get("uid"):
            return []
        related = self.rss.by_index(CONTROLLER_INDEX, ref["uid"])
        ns = rs["metadata"].get("namespace") or ""
        ns_pods = self.pods.by_index("namespace", ns)
        seen: set[str] = set()
        out: list[Obj] = []
        for other in related:
            sel = self.owners.selectors.get(other)
            if sel is None:
                continue
            for p in ns_pods:
                uid = p["metadata"].get("uid") or ""
                if uid in seen or not matches_labels(sel, p["metadata"].get("labels")):
                    continue
                seen.add(uid)
                out.append(p)
        return out

    # ---- sync --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """syncReplicaSet: claim pods, manage replicas when expectations allow, write status."""
        rs = self.rss.get(key)
        if rs is None:
            self.expectations.delete_expectations(key)
            return
        needs_sync = self.expectations.satisfied_expectations(key)
        selector = self.owners.selectors.get(rs)
        if selector is None:
            return  # a nil selector matches nothing; validation prevents it
        candidates = [p for p in objects_for_owner(self.pods, rs) if is_pod_active(p)]
        mgr = ControllerRefManager(self.client, rs, selector, self.controller_kind,
                                   can_adopt=live_owner_check(self.client, self.resource, rs))
        try:
            pods = await mgr.claim("pods", candidates)
        except ClaimErrors as e:
            raise e.errors[0] from None

        manage_err: BaseException | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self.manage_replicas(pods, rs)
            except (ApiError, ValueError) as e:
                manage_err = e
        new_status = calculate_status(rs, pods, manage_err)
        updated = await self.update_replica_set_status(rs, new_status)
        mrs = _min_ready_seconds(updated)
        if manage_err is None and mrs > 0:
            st = updated.get("status") or {}
            n = _replicas(updated)
            if int(st.get("readyReplicas") or 0) == n and int(st.get("availableReplicas") or 0) != n:
                self.queue.add_after(key, float(mrs))
        if manage_err is not None:
            raise manage_err

    async def manage_replicas(self, pods: list[Obj], rs: Obj) -> None:
        """manageReplicas: create or delete at most burstReplicas pods to reach spec.replicas."""
        diff = len(pods) - _replicas(rs)
        key = meta_key(rs)
        ns = rs["metadata"].get("namespace") or ""
        if diff < 0:
            diff = min(-diff, self.burst_replicas)
            # expect before creating: the informer may see a pod before create() returns
            self.expectations.expect_creations(key, diff)
            template = (rs.get("spec") or {}).get("template") or {}
            ref = new_controller_ref(rs, *self.controller_kind)
            log.debug("too few replicas for %s: need %d, creating %d", key, _replicas(rs), diff)

            async def create() -> None:
                try:
                    await self.pod_control.create_pods(ns, template, rs, ref)
                except ApiError as e:
                    if is_namespace_terminating(e):
                        return  # every creation would fail; nothing to do
                    raise

            successes, err = await slow_start_batch(diff, SLOW_START_INITIAL_BATCH_SIZE, create)
            skipped = diff - successes
            if skipped > 0:
                log.debug("slow-start failure for %s: skipping %d pods", key, skipped)
                for _ in range(skipped):
                    self.expectations.creation_observed(key)
            if err is not None:
                raise err
        elif diff > 0:
            diff = min(diff, self.burst_replicas)
            log.debug("too many replicas for %s: need %d, deleting %d", key, _replicas(rs), diff)
            related = self.get_indirectly_related_pods(rs)
            to_delete = get_pods_to_delete(pods, related, diff)
            self.expectations.expect_deletions(key, [pod_key(p) for p in to_delete])

            async def delete(pod: Obj) -> None:
                try:
                    await self.pod_control.delete_pod(ns, pod["metadata"]["name"], rs)
                except ApiError as e:
                    # the informer will not observe this deletion
                    self.expectations.deletion_observed(key, pod_key(pod))
                    if e.code != 404:
                        raise

            results = await asyncio.gather(*(delete(p) for p in to_delete), return_exceptions=True)
            for r in results:
                if isinstance(r, asyncio.CancelledError):
                    raise r
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    async def update_replica_set_status(self, rs: Obj, new_status: Obj) -> Obj:
        """updateReplicaSetStatus: write the status unless it is the steady state; one retry
        with a fresh GET after a failure."""
        if status_unchanged(rs, new_status):
            return rs
        gen = int(rs["metadata"].get("generation") or 0)
        if gen:
            new_status["observedGeneration"] = gen
        else:
            new_status.pop("observedGeneration", None)
        cur = rs
        for i in range(STATUS_UPDATE_RETRIES + 1):
            body = deepcopy(cur) if cur is rs else cur
            body["status"] = new_status
            try:
                return await self.client.update_status(self.resource, body)
            except ApiError:
                if i >= STATUS_UPDATE_RETRIES:
                    raise
            md = rs["metadata"]
            cur = await self.client.get(self.resource, md.get("namespace"), md["name"])
        return cur  # not reached


start = register_controller("replicaset", ReplicaSetController)


__all__ = ["ReplicaSetController", "calculate_status", "get_pods_to_delete", "is_pod_active", "is_pod_available",
           "is_pod_ready", "pod_key", "rank_pods", "slow_start_batch", "start"]

"""The StatefulSet reconcile algorithm (upstream stateful_set_control.go, v1.32).

One pass, given the set and the pods it owns:
1. revisions: the update revision is the set's current template (created, or an earlier equal
   revision renumbered on rollback); the current revision is status.currentRevision;
2. pods are split into replicas (ordinals in [start, start+replicas)) and condemned (beyond);
   missing replicas are planned at the current or update revision (partition);
3. OrderedReady ("monotonic") handles replicas in ordinal order and stops at the first one that is
   not created / terminating / not Running+Ready / not available for minReadySeconds; Parallel
   creates and deletes everything at once (in slow-start batches); failed or succeeded pods are
   deleted and recreated on a later pass; terminating pods block their ordinal;
4. condemned pods are deleted from the highest ordinal down (monotonic: one at a time, only while
   every other pod is healthy);
5. RollingUpdate deletes the highest-ordinal pod not at the update revision, down to the
   partition, one at a time and only when the pods above are healthy (with the
   MaxUnavailableStatefulSet gate — alpha and off in v1.32 — up to maxUnavailable at once);
   OnDelete leaves pods alone until someone deletes them;
6. the status (replica counters, revisions, observedGeneration, collisionCount) is written through
   the status subresource when it changed, and history beyond revisionHistoryLimit is pruned.
Each pass does at most what the policy allows and relies on informer events for the next one.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...api.errors import ApiError
from ...api.selectors import selector_from_label_selector
from ...client.client import deepcopy
from ..common import history as hist
from ..common import podcontrol
from ..common.errors import AggregateError, error_message
from . import utils
from .pod_control import StatefulPodControl

log = logging.getLogger(__name__)

MAX_BATCH_SIZE = 500  # realistic maximum of in-flight requests in Parallel mode (upstream MaxBatchSize)

ReplicaFn = Callable[[int], Awaitable[bool]]


async def slow_start_batch(initial: int, indices: list[int], fn: ReplicaFn) -> tuple[int, BaseException | None]:
    """slowStartBatch of stateful_set_control.go: fn over indices in batches of 1, 2, 4, ... (at most
    MAX_BATCH_SIZE); returns (successes, the failed batch's errors as one aggregate)."""
    successes, errs = await podcontrol.slow_start_batch(len(indices), initial, lambda k: fn(indices[k]),
                                                        MAX_BATCH_SIZE)
    return successes, AggregateError.of(errs)


class StatusUpdater:
    """Writes a set's status through the status subresource, retrying conflicts on a fresh copy."""

    def __init__(self, client: Any, on_write: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
                 ) -> None:
        self.client = client
        self.on_write = on_write

    async def update_status(self, set_: dict[str, Any], status: dict[str, Any]) -> None:
        obj = {k: v for k, v in set_.items() if k != "status"}
        for attempt in range(5):  # retry.DefaultRetry
            obj = dict(obj)
            obj["status"] = utils.status_to_api(status)
            try:
                out = await self.client.update_status("statefulsets.apps", obj)
            except ApiError as e:
                if e.code != 409 or e.reason != "Conflict" or attempt == 4:
                    raise
                md = set_["metadata"]
                obj = await self.client.get("statefulsets.apps", md.get("namespace"), md["name"])
                continue
            if self.on_write is not None:
                self.on_write(set_, out)
            return


class _Pass:
    """The state of one reconcile pass that process_replica needs."""

    __slots__ = ("set_", "update_set", "current_set", "cur_name", "upd_name", "start", "replicas", "monotonic",
                 "min_ready", "settled")

    def __init__(self, set_: dict[str, Any], update_set: dict[str, Any], current_set: dict[str, Any],
                 cur_name: str, upd_name: str, start: int, replicas: list[Any], monotonic: bool, min_ready: int,
                 settled: Callable[[dict[str, Any]], bool]) -> None:
        self.set_ = set_
        self.update_set = update_set
        self.current_set = current_set
        self.cur_name = cur_name
        self.upd_name = upd_name
        self.start = start
        self.replicas = replicas
        self.monotonic = monotonic
        self.min_ready = min_ready
        self.settled = settled

    def replica(self, i: int) -> dict[str, Any]:
        """The pod at index i, planned at the right revision (newVersionedStatefulSetPod) if missing."""
        pod = self.replicas[i]
        if pod is None:
            pod = self.replicas[i] = utils.new_versioned_stateful_set_pod(
                self.current_set, self.update_set, self.cur_name, self.upd_name, self.start + i)
        return pod


class StatefulSetControl:
    """UpdateStatefulSet and friends; `features` holds feature gates (MaxUnavailableStatefulSet)."""

    def __init__(self, pod_control: StatefulPodControl, status_updater: StatusUpdater, history: hist.History,
                 features: dict[str, bool] | None = None) -> None:
        self.pod_control = pod_control
        self.status_updater = status_updater
        self.history = history
        self.features = features or {}

    # ---- revisions ---------------------------------------------------------------------------
    def list_revisions(self, set_: dict[str, Any]) -> list[dict[str, Any]]:
        sel = selector_from_label_selector((set_.get("spec") or {}).get("selector"))
        return self.history.list_controller_revisions(set_, sel)

    async def adopt_orphan_revisions(self, set_: dict[str, Any], revisions: list[dict[str, Any]]) -> None:
        for r in revisions:
            await self.history.adopt_controller_revision(set_, utils.CONTROLLER_KIND, r)

    async def update_stateful_set(self, set_: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Reconcile once; returns the status computed (None when revisions could not be settled).
        Raises the error(s) of the pass after the status and history were still taken care of."""
        set_ = deepcopy(set_)  # a new revision updates the copy's status.collisionCount
        revisions = hist.sort_controller_revisions(self.list_revisions(set_))
        current, update, status, err = await self._perform_update(set_, pods, revisions)
        errs: list[BaseException] = []
        if err is not None:
            errs.extend(err.errors if isinstance(err, AggregateError) else [err])
        try:
            await self._truncate_history(set_, pods, revisions, current, update)
        except Exception as e:
            errs.append(e)
        agg = AggregateError.of(errs)
        if agg is not None:
            raise agg
        return status

    async def _perform_update(self, set_: dict[str, Any], pods: list[dict[str, Any]],
                              revisions: list[dict[str, Any]]) -> tuple[Any, Any, Any, BaseException | None]:
        try:
            current, update, collision_count = await self._get_revisions(set_, revisions)
        except Exception as e:
            return None, None, None, e
        status: dict[str, Any] | None
        try:
            status, err = await self._update_stateful_set(set_, current, update, collision_count, pods)
        except Exception as e:
            return current, update, None, e
        if status is None:
            return current, update, None, err
        status_err: BaseException | None = None
        try:
            await self._update_status(set_, status)
        except Exception as e:
            status_err = e
        if err is not None and status_err is not None:
            log.error("could not update status of StatefulSet %s/%s: %s", set_["metadata"].get("namespace"),
                      set_["metadata"]["name"], error_message(status_err))
        return current, update, status, err or status_err

    async def _get_revisions(self, set_: dict[str, Any], revisions: list[dict[str, Any]]
                             ) -> tuple[dict[str, Any], dict[str, Any], int]:
        """(current revision, update revision, collision count); may create a revision or
        renumber an equal earlier one (a rollback)."""
        status = set_.get("status") or {}
        collision_count = int(status.get("collisionCount") or 0)
        update = utils.new_revision(set_, utils.next_revision(revisions), collision_count)
        equal = hist.find_equal_revisions(revisions, update)
        if equal and hist.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self.history.update_controller_revision(set_, equal[-1], update["revision"])
        else:
            update, collision_count = await self.history.create_controller_revision(set_, update, collision_count)
        current = None
        cur_name = status.get("currentRevision")
        if cur_name:
            for r in revisions:
                if r["metadata"]["name"] == cur_name:
                    current = r
                    break
        if current is None:
            current = update
        return current, update, collision_count

    async def _truncate_history(self, set_: dict[str, Any], pods: list[dict[str, Any]],
                                revisions: list[dict[str, Any]], current: dict[str, Any] | None,
                                update: dict[str, Any] | None) -> None:
        """Delete the oldest revisions no pod, nor the current/update revision, uses, beyond
        revisionHistoryLimit."""
        live: set[str] = set()
        if current is not None:
            live.add(current["metadata"]["name"])
        if update is not None:
            live.add(update["metadata"]["name"])
        for p in pods:
            live.add(utils.get_pod_revision(p))
        old = [r for r in revisions if r["metadata"]["name"] not in live]
        limit = (set_.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        if len(old) <= limit:
            return
        for r in old[:len(old) - limit]:
            try:
                await self.history.delete_controller_revision(r)
            except ApiError as e:
                if e.code != 404:  # a stale cache may still list a revision we already removed
                    raise

    # ---- one replica -------------------------------------------------------------------------
    def _replica_checks(self, set_: dict[str, Any], update_set: dict[str, Any]
                        ) -> tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], bool]]:
        """(settled, needs_work) for this pass, with everything that depends only on the set
        computed once: `settled(pod)` is identityMatches && storageMatches && the claims match
        the retention policy; `needs_work(pod)` is whether process_replica would write anything
        for pod, which lets Parallel mode skip the settled majority of a large set without a
        coroutine per pod."""
        smd = set_["metadata"]
        name, ns = smd["name"], smd.get("namespace")
        templates = [t["metadata"]["name"] for t in (set_.get("spec") or {}).get("volumeClaimTemplates") or ()]
        claims = self.pod_control.claims
        up_to_date = utils.is_claim_owner_up_to_date
        parse = utils.parent_name_and_ordinal
        pod_name_label = utils.POD_NAME_LABEL

        def settled(pod: dict[str, Any]) -> bool:
            md = pod["metadata"]
            pname = md["name"]
            parent, ordinal = parse(pname)
            if (ordinal < 0 or parent != name or md.get("namespace") != ns
                    or (md.get("labels") or {}).get(pod_name_label) != pname or pname != f"{name}-{ordinal}"):
                return False  # identity to repair
            if not templates:
                return True
            vols = (pod.get("spec") or {}).get("volumes") or ()
            for tname in templates:
                claim_name = f"{tname}-{name}-{ordinal}"
                for v in vols:
                    if v.get("name") == tname:
                        pvc = v.get("persistentVolumeClaim")
                        if pvc is None or pvc.get("claimName") != claim_name:
                            return False  # storage to repair
                        break
                else:
                    return False
                claim = claims.get_by(ns, claim_name)
                if claim is not None and not up_to_date(claim, update_set, pod):
                    return False  # retention-policy owner refs to fix
            return True

        def needs_work(pod: dict[str, Any] | None) -> bool:
            if pod is None:
                return True  # to be created
            st = pod.get("status")
            phase = st.get("phase") if st else None
            if not phase:
                return True  # to be created
            if phase == "Failed" or phase == "Succeeded":
                return not pod["metadata"].get("deletionTimestamp")
            if phase == "Pending" and templates:
                ordinal = parse(pod["metadata"]["name"])[1]
                for tname in templates:
                    claim = claims.get_by(ns, f"{tname}-{name}-{ordinal}")
                    if claim is None or claim["metadata"].get("deletionTimestamp"):
                        return True  # claim to (re)create, or an error to report
            return not settled(pod)

        return settled, needs_work

    async def _process_replica(self, p: _Pass, i: int) -> bool:
        """Returns True when the pass must stop here (monotonic mode)."""
        pc = self.pod_control
        set_, monotonic = p.set_, p.monotonic
        pod = p.replica(i)
        # Failed and Succeeded pods are deleted; the replacement is created on a later pass, once
        # the old pod is gone from the store (a pod with the same name cannot be created before).
        if utils.is_failed(pod) or utils.is_succeeded(pod):
            if not utils.is_terminating(pod):
                await pc.delete_stateful_pod(set_, pod)
            return True
        if not utils.is_created(pod):
            if pc.pod_claim_is_stale(set_, pod):
                return True  # a claim of an earlier incarnation must be collected first
            await pc.create_stateful_pod(set_, pod)
            if monotonic:
                return True
        if utils.is_pending(pod):
            await pc.create_missing_persistent_volume_claims(set_, pod)
        if monotonic:
            if utils.is_terminating(pod) or not utils.is_running_and_ready(pod):
                return True
            if not utils.is_running_and_available(pod, p.min_ready):
                return True
        if p.settled(pod):
            return False
        await pc.update_stateful_pod(p.update_set, deepcopy(pod))
        return False

    async def _process_condemned(self, set_: dict[str, Any], first_unhealthy: dict[str, Any] | None,
                                 monotonic: bool, condemned: list[dict[str, Any]], i: int) -> bool:
        pod = condemned[i]
        if utils.is_terminating(pod):
            return monotonic  # monotonic: wait for it to go away
        if monotonic and pod is not first_unhealthy:
            if not utils.is_running_and_ready(pod):
                return True
            if not utils.is_running_and_available(pod, utils.min_ready_seconds(set_)):
                return True
        log.debug("Pod %s of StatefulSet %s/%s is terminating for scale down", pod["metadata"]["name"],
                  set_["metadata"].get("namespace"), set_["metadata"]["name"])
        await self.pod_control.delete_stateful_pod(set_, pod)
        return True

    @staticmethod
    async def _run_for_all(items: list[int], fn: ReplicaFn, monotonic: bool) -> tuple[bool, BaseException | None]:
        """Monotonic: in order, stopping at the first stop or error. Otherwise slow-start batches."""
        if monotonic:
            for i in items:
                try:
                    if await fn(i):
                        return True, None
                except Exception as e:
                    return True, e
            return False, None
        _, err = await slow_start_batch(1, items, fn)
        if err is not None:
            return True, err
        return False, None

    # ---- the pass ------------------------------------------------------------------------------
    async def _update_stateful_set(self, set_: dict[str, Any], current_rev: dict[str, Any],
                                   update_rev: dict[str, Any], collision_count: int, pods: list[dict[str, Any]]
                                   ) -> tuple[dict[str, Any] | None, BaseException | None]:
        current_set = utils.apply_revision(set_, current_rev)
        update_set = utils.apply_revision(set_, update_rev)
        cur_name = current_rev["metadata"]["name"]
        upd_name = update_rev["metadata"]["name"]
        mrs = utils.min_ready_seconds(set_)
        status: dict[str, Any] = {
            "observedGeneration": int(set_["metadata"].get("generation") or 0),
            "currentRevision": cur_name,
            "updateRevision": upd_name,
            "collisionCount": collision_count,
        }
        replica_count = utils.get_replicas(set_)
        start = utils.get_start_ordinal(set_)
        end = start + replica_count - 1
        # replicas[i] is the pod with ordinal start+i; a missing one is planned (at the current or
        # update revision) only when the pass reaches it, which in OrderedReady mode is at most once
        replicas: list[Any] = [None] * replica_count
        condemned: list[dict[str, Any]] = []
        for pod in pods:
            o = utils.get_ordinal(pod)
            if start <= o <= end:
                replicas[o - start] = pod
            elif o >= 0:
                condemned.append(pod)
        condemned.sort(key=lambda pod: -utils.get_ordinal(pod))
        settled, needs_work = self._replica_checks(set_, update_set)
        p = _Pass(set_, update_set, current_set, cur_name, upd_name, start, replicas, not utils.allows_burst(set_),
                  mrs, settled)

        def compute(*lists: list[dict[str, Any]]) -> None:
            _update_status(status, mrs, cur_name, upd_name, *lists)

        deleting = bool(set_["metadata"].get("deletionTimestamp"))
        if deleting:
            # every other path recounts over replicas and condemned before returning
            compute(pods)

        # the first unhealthy pod in ordinal order: monotonic scale-down may delete it even so
        first_unhealthy: Any = None
        found = False
        for i, pod in enumerate(replicas):
            if pod is None or not utils.is_healthy(pod):
                first_unhealthy = p.replica(i) if pod is None else pod
                found = True
                break
        if not found:
            for pod in reversed(condemned):
                if not utils.is_healthy(pod):
                    first_unhealthy = pod
                    break

        if deleting:
            return status, None

        monotonic = p.monotonic

        async def process_replica(i: int) -> bool:
            return await self._process_replica(p, i)

        if monotonic:
            items = list(range(replica_count))
        else:
            items = [i for i in range(replica_count) if needs_work(replicas[i])]
        stop, err = await self._run_for_all(items, process_replica, monotonic)
        if stop or err is not None:
            compute(replicas, condemned)
            return status, err

        pc = self.pod_control

        async def fix_pod_claim(i: int) -> bool:
            if not pc.claims_match_retention_policy(update_set, condemned[i]):
                await pc.update_pod_claim_for_retention_policy(update_set, condemned[i])
            return False

        stop, err = await self._run_for_all(list(range(len(condemned))), fix_pod_claim, monotonic)
        if stop or err is not None:
            compute(replicas, condemned)
            return status, err

        async def process_condemned(i: int) -> bool:
            return await self._process_condemned(set_, first_unhealthy, monotonic, condemned, i)

        stop, err = await self._run_for_all(list(range(len(condemned))), process_condemned, monotonic)
        if stop or err is not None:
            compute(replicas, condemned)
            return status, err

        replicas = [p.replica(i) for i in range(replica_count)]
        compute(replicas, condemned)

        if utils.update_strategy_type(set_) == utils.ON_DELETE:
            return status, None

        if self.features.get("MaxUnavailableStatefulSet"):
            return await self._update_after_invariant_established(set_, replicas, upd_name, status)

        ru = ((set_.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
        update_min = int(ru.get("partition") or 0) if ru is not None else 0
        for target in range(len(replicas) - 1, update_min - 1, -1):
            pod = replicas[target]
            if utils.get_pod_revision(pod) != upd_name and not utils.is_terminating(pod):
                log.debug("Pod %s of StatefulSet %s is terminating for update", pod["metadata"]["name"],
                          set_["metadata"]["name"])
                try:
                    await pc.delete_stateful_pod(set_, pod)
                except ApiError as e:
                    if e.code != 404:
                        return status, e
                status["currentReplicas"] = status.get("currentReplicas", 0) - 1
                return status, None
            if not utils.is_healthy(pod):
                return status, None  # wait for the updated pod above to become healthy
        return status, None

    async def _update_after_invariant_established(self, set_: dict[str, Any], replicas: list[dict[str, Any]],
                                                  upd_name: str, status: dict[str, Any]
                                                  ) -> tuple[dict[str, Any], BaseException | None]:
        """Rolling update with maxUnavailable (feature gate MaxUnavailableStatefulSet)."""
        replica_count = utils.get_replicas(set_)
        ru = ((set_.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
        update_min = 0
        max_unavailable = 1
        if ru is not None:
            update_min = int(ru.get("partition") or 0)
            try:
                max_unavailable = utils.get_max_unavailable(ru.get("maxUnavailable"), replica_count)
            except ValueError as e:
                return status, e
        unavailable = sum(1 for p in replicas if not utils.is_healthy(p))
        if unavailable >= max_unavailable:
            return status, None
        to_delete = max_unavailable - unavailable
        deleted = 0
        target = len(replicas) - 1
        while target >= update_min and deleted < to_delete:
            pod = replicas[target]
            if utils.get_pod_revision(pod) != upd_name and not utils.is_terminating(pod):
                try:
                    await self.pod_control.delete_stateful_pod(set_, pod)
                except ApiError as e:
                    if e.code != 404:
                        return status, e
                deleted += 1
                status["currentReplicas"] = status.get("currentReplicas", 0) - 1
            target -= 1
        return status, None

    async def _update_status(self, set_: dict[str, Any], status: dict[str, Any]) -> None:
        utils.complete_rolling_update(set_, status)
        if not utils.inconsistent_status(set_, status):
            return
        await self.status_updater.update_status(set_, status)


def _update_status(status: dict[str, Any], min_ready: int, cur_name: str, upd_name: str,
                   *pod_lists: list[dict[str, Any]]) -> None:
    """Recount replicas, ready, available, current and updated over the given pods (hot: inlined)."""
    replicas = ready = available = current = updated = 0
    now = time.time()
    for pods in pod_lists:
        for p in pods:
            if p is None:
                continue  # planned, not created
            st = p.get("status")
            phase = st.get("phase") if st else None
            if not phase:
                continue  # not created
            replicas += 1
            if phase == "Running":
                for c in st.get("conditions") or ():
                    if c.get("type") == "Ready":
                        if c.get("status") == "True":
                            ready += 1
                            if utils.is_running_and_available(p, min_ready, now):
                                available += 1
                        break
            md = p["metadata"]
            if not md.get("deletionTimestamp"):
                rev = (md.get("labels") or {}).get(utils.REVISION_LABEL, "")
                if rev == cur_name:
                    current += 1
                if rev == upd_name:
                    updated += 1
    status["replicas"] = replicas
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    status["currentReplicas"] = current
    status["updatedReplicas"] = updated


def status_for_set(set_: dict[str, Any]) -> dict[str, Any]:
    """The counters of a set's current status, for tests and tools."""
    st = set_.get("status") or {}
    return {k: int(st.get(k) or 0) for k in utils.STATUS_COUNTERS}

"""The Job controller (upstream pkg/controller/job/job_controller.go, v1.32 semantics).

A sync of one Job, level-triggered from the informer caches:
- claims the pods its selector matches (adopting orphans, releasing owned pods that stopped
  matching) and splits them into active, terminating and finished;
- pods are created with the `batch.kubernetes.io/job-tracking` finalizer; a finished pod's uid is
  first written to `status.uncountedTerminatedPods`, then its finalizer is removed, then it moves
  into `status.succeeded`/`status.failed` -- so a pod is counted exactly once across restarts;
- keeps min(parallelism, remaining completions) pods active, in slow-start batches, after the pod
  failure back-off (10 s doubling up to 10 min, per Job, since the last success);
- Indexed mode: one pod per pending completion index (annotation + label
  `batch.kubernetes.io/job-completion-index`, hostname `<job>-<index>`, env JOB_COMPLETION_INDEX),
  `status.completedIndexes`;
- terminal states as v1.32 (JobManagedBy/JobPodReplacementPolicy on): the interim
  SuccessCriteriaMet / FailureTarget condition first, then Complete / Failed once no pod is
  uncounted or terminating; reasons BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy;
- suspend deletes the active pods (Suspended condition, events Suspended/Resumed; resuming resets
  startTime); activeDeadlineSeconds requeues the Job for its deadline;
- expectations keep a sync from acting on a cache that has not seen its own creations/deletions.
Pods that still carry the finalizer after their Job is gone (or finished) get it removed.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ...api.errors import ApiError
from ...api.meta import now_rfc3339
from ...client.client import deepcopy
from ...client.informer import Controller, meta_key, split_key
from ..common.dependents import DependentHandlers, OwnerLookup, handle_owner_events
from ..common.expectations import UIDTrackingExpectations
from ..common.podcontrol import (
    SLOW_START_INITIAL_BATCH_SIZE,
    PodControl,
    is_namespace_terminating,
    pod_from_template,
    slow_start_batch,
)
from ..common.podutil import is_pod_active, is_pod_ready, pod_key
from ..common.refmanager import (
    ClaimErrors,
    ControllerRefManager,
    ensure_controller_index,
    get_controller_of,
    live_owner_check,
    new_controller_ref,
    objects_for_owner,
)
from . import indexed_job_utils as idx
from .utils import (
    CONTROLLER_NAME,
    JOB_TRACKING_FINALIZER,
    MAX_POD_CREATE_DELETE_PER_SYNC,
    MAX_UNCOUNTED_PODS,
    MSG_BACKOFF_LIMIT,
    MSG_COMPLETIONS_REACHED,
    MSG_DEADLINE,
    REASON_BACKOFF_LIMIT,
    REASON_COMPLETIONS_REACHED,
    REASON_DEADLINE,
    REASON_POD_FAILURE_POLICY,
    BackoffRecord,
    deadline_remaining,
    ensure_condition,
    find_condition,
    has_tracking_finalizer,
    is_complete,
    is_indexed,
    is_job_finished,
    is_pod_failed,
    is_pod_terminating,
    is_suspended,
    match_pod_failure_policy,
    new_backoff_record,
    new_condition,
    only_replace_failed_pods,
    past_active_deadline,
    past_backoff_limit_on_failure,
    pod_generate_name_with_index,
    remaining_backoff,
    want_active,
)

log = logging.getLogger(__name__)

COMPONENT = "job-controller"
RESOURCE = "jobs.batch"
CONTROLLER_KIND = ("batch/v1", "Job")
ORPHAN_PREFIX = "orphan-pod:"
STRATEGIC = "application/strategic-merge-patch+json"
_RM_FINALIZER_PATCH = {"metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}}

Obj = dict[str, Any]


class JobController(Controller):
    """Informers on jobs.batch and pods, one queue (Job keys and orphan-pod keys)."""

    name = "job"
    workers = 5  # --concurrent-job-syncs default

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        self.jobs = ctx.informers.informer(RESOURCE)
        self.pods = ctx.informers.informer("pods")
        ensure_controller_index(self.pods)
        self.recorder = ctx.recorder(COMPONENT)
        self.pod_control = PodControl(self.client, self.recorder)
        self.expectations = UIDTrackingExpectations()
        self.backoff: dict[str, BackoffRecord] = {}
        # uids whose finalizer removal was written but not yet observed, per job key
        self.rm_finalizers: dict[str, set[str]] = {}
        self.owners = OwnerLookup(self.jobs, CONTROLLER_KIND[1])
        handle_owner_events(self.owners, self.queue, forget=self._forget_job)
        DependentHandlers(self.owners, self.queue, terminating="delete",
                          created=lambda key, _pod: self.expectations.creation_observed(key),
                          deleted=lambda key, pod: self.expectations.deletion_observed(key, pod_key(pod))
                          ).register(self.pods)
        self.pods.add_handlers(self._pod_seen, lambda _o, cur: self._pod_seen(cur), self._pod_gone)

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.jobs, self.pods, workers=workers)

    # ---- event hooks -------------------------------------------------------------------------------
    def _forget_job(self, key: str, job: Obj) -> None:
        self.expectations.delete_expectations(key)
        self.backoff.pop(key, None)
        self.rm_finalizers.pop(key, None)
        # its pods may still carry the tracking finalizer: release them (cleanupPodFinalizers)
        for p in self.pods.by_index("controller-uid", job["metadata"].get("uid") or ""):
            if has_tracking_finalizer(p):
                self.queue.add(ORPHAN_PREFIX + pod_key(p))

    def _finalizer_observed(self, pod: Obj) -> None:
        ref = get_controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return
        key = f"{pod['metadata'].get('namespace')}/{ref.get('name')}"
        pending = self.rm_finalizers.get(key)
        if pending:
            pending.discard(pod["metadata"].get("uid") or "")

    def _pod_seen(self, pod: Obj) -> None:
        if not has_tracking_finalizer(pod):
            self._finalizer_observed(pod)
            return
        ref = get_controller_of(pod)
        owner = None if ref is None else self.owners.resolve(pod["metadata"].get("namespace"), ref)
        if owner is None or is_job_finished(owner):
            self.queue.add(ORPHAN_PREFIX + pod_key(pod))

    def _pod_gone(self, pod: Obj) -> None:
        self._finalizer_observed(pod)

    # ---- orphans -----------------------------------------------------------------------------------
    async def _sync_orphan(self, key: str) -> None:
        """syncOrphanPod: drop the tracking finalizer of a pod no live, unfinished Job accounts for."""
        ns, name = split_key(key)
        pod = self.pods.get(key)
        if pod is None or not has_tracking_finalizer(pod):
            return
        ref = get_controller_of(pod)
        if ref is not None and ref.get("kind") == "Job":
            owner = self.owners.resolve(ns, ref)
            if owner is not None and not is_job_finished(owner):
                return
            try:
                live = await self.client.get(RESOURCE, ns, ref.get("name") or "")
                if live["metadata"].get("uid") == ref.get("uid") and not is_job_finished(live):
                    return
            except ApiError as e:
                if e.code != 404:
                    raise
        await self._remove_finalizer(ns or "", name)

    async def _remove_finalizer(self, ns: str, name: str) -> bool:
        try:
            await self.client.patch("pods", ns, name, _RM_FINALIZER_PATCH, STRATEGIC)
        except ApiError as e:
            if e.code == 404:
                return True
            raise
        return True

    # ---- sync --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        if key.startswith(ORPHAN_PREFIX):
            await self._sync_orphan(key[len(ORPHAN_PREFIX):])
            return
        job = self.jobs.get(key)
        if job is None:
            self.expectations.delete_expectations(key)
            self.backoff.pop(key, None)
            self.rm_finalizers.pop(key, None)
            return
        if is_job_finished(job):
            return
        managed_by = (job.get("spec") or {}).get("managedBy")
        if managed_by and managed_by != CONTROLLER_NAME:
            return
        await self._sync_job(key, job)

    async def _claim(self, job: Obj) -> list[Obj]:
        selector = self.owners.selectors.get(job)
        if selector is None:
            return []
        mgr = ControllerRefManager(self.client, job, selector, CONTROLLER_KIND,
                                   can_adopt=live_owner_check(self.client, RESOURCE, job))
        try:
            return await mgr.claim("pods", objects_for_owner(self.pods, job))
        except ClaimErrors as e:
            raise e.errors[0] from None

    async def _sync_job(self, key: str, job: Obj) -> None:
        now = time.time()
        satisfied = self.expectations.satisfied_expectations(key)
        pods = await self._claim(job)
        spec = job.get("spec") or {}
        status = deepcopy(job.get("status") or {})
        indexed = is_indexed(job)
        completions = int(spec.get("completions") or 0)
        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_s = list(uncounted.get("succeeded") or ())
        unc_f = list(uncounted.get("failed") or ())
        in_flight = self.rm_finalizers.get(key) or set()
        known = set(unc_s) | set(unc_f) | in_flight

        active_pods = [p for p in pods if is_pod_active(p)]
        terminating = sum(1 for p in pods if is_pod_terminating(p))
        new_succeeded: list[Obj] = []
        new_failed: list[Obj] = []
        ignored: list[Obj] = []
        fail_job_msg: str | None = None
        for p in pods:
            uid = p["metadata"].get("uid") or ""
            if not has_tracking_finalizer(p) or uid in known:
                continue
            if (p.get("status") or {}).get("phase") == "Succeeded":
                new_succeeded.append(p)
            elif is_pod_failed(p, job):
                msg, counts, _action = match_pod_failure_policy(job, p)
                if not counts:
                    ignored.append(p)
                    continue
                new_failed.append(p)
                if msg and fail_job_msg is None:
                    fail_job_msg = msg
        if len(unc_s) + len(unc_f) + len(new_succeeded) + len(new_failed) > MAX_UNCOUNTED_PODS:
            room = max(0, MAX_UNCOUNTED_PODS - len(unc_s) - len(unc_f))
            new_succeeded = new_succeeded[:room]
            new_failed = new_failed[:max(0, room - len(new_succeeded))]
        done = idx.succeeded_indexes(job, pods) if indexed else set()
        if indexed:
            succeeded = len(done)
        else:
            succeeded = int(status.get("succeeded") or 0) + len(unc_s) + len(new_succeeded)
        failed = int(status.get("failed") or 0) + len(unc_f) + len(new_failed)
        ready = sum(1 for p in active_pods if is_pod_ready(p))

        if not status.get("startTime") and not is_suspended(job):
            status["startTime"] = now_rfc3339(now)
        rec = new_backoff_record(self.backoff.get(key), new_succeeded, new_failed, now)

        # -- the terminal decision
        finished: Obj | None = None
        scm = find_condition(job, "SuccessCriteriaMet")
        if scm is not None and scm.get("status") == "True":
            finished = scm
        else:
            ft = find_condition(job, "FailureTarget")
            if ft is not None and ft.get("status") == "True":
                finished = ft
            elif fail_job_msg is not None:
                finished = new_condition("FailureTarget", "True", REASON_POD_FAILURE_POLICY, fail_job_msg, now)
        if finished is None:
            backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
            if failed > backoff_limit or past_backoff_limit_on_failure(job, pods):
                finished = new_condition("FailureTarget", "True", REASON_BACKOFF_LIMIT, MSG_BACKOFF_LIMIT, now)
            elif past_active_deadline({**job, "status": status}, now):
                finished = new_condition("FailureTarget", "True", REASON_DEADLINE, MSG_DEADLINE, now)
            else:
                rem = deadline_remaining({**job, "status": status}, now)
                if rem is not None:
                    self.queue.add_after(key, rem + 0.05)

        active = len(active_pods)
        conds = list(status.get("conditions") or ())
        suspend_changed = False
        manage_err: BaseException | None = None
        if finished is not None:
            deleted, deleted_ready, manage_err = await self._delete_pods(key, job, active_pods)
            if deleted != active or not satisfied:
                # pods may still need their finalizers removed, or the cache lags: not finished yet
                finished = None
            active -= deleted
            terminating += deleted
            ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                try:
                    active, terminating, ready = await self._manage_job(
                        key, job, active_pods, pods, succeeded, done, terminating, ready, rec, now)
                except (ApiError, ValueError) as e:
                    manage_err = e
                manage_called = True
            if is_complete(job, succeeded, active):
                finished = new_condition("SuccessCriteriaMet", "True", REASON_COMPLETIONS_REACHED,
                                         MSG_COMPLETIONS_REACHED, now)
            elif manage_called:
                if is_suspended(job):
                    conds, changed = ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", now)
                    if changed:
                        suspend_changed = True
                        self.recorder.event(job, "Normal", "Suspended", "Job suspended")
                else:
                    conds, changed = ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", now)
                    if changed:
                        suspend_changed = True
                        self.recorder.event(job, "Normal", "Resumed", "Job resumed")
                        status["startTime"] = now_rfc3339(now)

        status["active"] = active
        status["ready"] = ready
        status["terminating"] = terminating
        status["conditions"] = conds
        await self._track_status(key, job, status, pods, new_succeeded, new_failed, ignored, finished, done,
                                 indexed, completions, rec, now, suspend_changed)
        if manage_err is not None:
            raise manage_err

    # ---- manageJob ---------------------------------------------------------------------------------
    async def _manage_job(self, key: str, job: Obj, active_pods: list[Obj], pods: list[Obj], succeeded: int,
                          done: set[int], terminating: int, ready: int, rec: BackoffRecord,
                          now: float) -> tuple[int, int, int]:
        """manageJob: delete surplus (or, when suspended, all) active pods, else create missing ones.
        Returns (active, terminating, ready) as they will be after the writes."""
        active = len(active_pods)
        spec = job.get("spec") or {}
        completions = int(spec.get("completions") or 0)
        indexed = is_indexed(job)
        if is_suspended(job):
            deleted, deleted_ready, err = await self._delete_pods(key, job, self._rank_for_removal(active_pods))
            if err is not None:
                raise err
            return active - deleted, terminating + deleted, ready - deleted_ready
        want = want_active(job, active, succeeded)
        rm_at_least = max(0, active - want)
        to_delete: list[Obj] = []
        if indexed:
            to_delete = idx.pods_for_removal(active_pods, done, completions)
        if len(to_delete) < rm_at_least:
            rest = [p for p in self._rank_for_removal(active_pods) if p not in to_delete]
            to_delete += rest[:rm_at_least - len(to_delete)]
        to_delete = to_delete[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if to_delete:
            deleted, deleted_ready, err = await self._delete_pods(key, job, to_delete)
            if err is not None:
                raise err
            return active - deleted, terminating + deleted, ready - deleted_ready
        blocking = terminating if only_replace_failed_pods(job) else 0
        diff = want - blocking - active
        if diff <= 0:
            return active, terminating, ready
        wait = remaining_backoff(rec, now)
        if wait > 0:
            self.queue.add_after(key, wait)
            return active, terminating, ready
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int] = []
        if indexed:
            term_pods = [p for p in pods if is_pod_terminating(p)]
            indexes = idx.first_pending_indexes(active_pods, done, diff, completions, term_pods)
            diff = len(indexes)
            if diff == 0:
                return active, terminating, ready
        self.expectations.expect_creations(key, diff)
        template = deepcopy((job.get("spec") or {}).get("template") or {})
        if indexed:
            idx.add_completion_index_env(template)
        tmd = template.setdefault("metadata", {})
        fins = list(tmd.get("finalizers") or ())
        if JOB_TRACKING_FINALIZER not in fins:
            fins.append(JOB_TRACKING_FINALIZER)
        tmd["finalizers"] = fins
        ref = new_controller_ref(job, *CONTROLLER_KIND)
        ns = job["metadata"].get("namespace") or ""
        name = job["metadata"]["name"]

        async def create(i: int) -> None:
            if indexed:
                t = deepcopy(template)
                idx.add_completion_index(t, name, indexes[i])
                pod = pod_from_template(t, job, ref)
                pod["metadata"]["generateName"] = pod_generate_name_with_index(name, indexes[i])
            else:
                pod = pod_from_template(template, job, ref)
            try:
                await self.pod_control.create_pod(ns, pod, job)
            except ApiError as e:
                if is_namespace_terminating(e):
                    return
                raise

        successes, errs = await slow_start_batch(diff, SLOW_START_INITIAL_BATCH_SIZE, create)
        for _ in range(diff - successes):
            self.expectations.creation_observed(key)
        if errs:
            raise errs[0]
        return active + diff, terminating, ready

    @staticmethod
    def _rank_for_removal(pods: list[Obj]) -> list[Obj]:
        """controller.ActivePods order: unscheduled, pending, not ready, newest first."""
        def rank(p: Obj) -> tuple:
            st = p.get("status") or {}
            phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(st.get("phase") or "", 0)
            created = p["metadata"].get("creationTimestamp") or ""
            return (bool((p.get("spec") or {}).get("nodeName")), phase, is_pod_ready(p),
                    tuple(-ord(ch) for ch in created))
        return sorted(pods, key=rank)

    async def _delete_pods(self, key: str, job: Obj, pods: list[Obj]) -> tuple[int, int, BaseException | None]:
        """deleteJobPods: (deleted, of which ready, first error)."""
        if not pods:
            return 0, 0, None
        self.expectations.expect_deletions(key, [pod_key(p) for p in pods])
        ns = job["metadata"].get("namespace") or ""

        async def delete(p: Obj) -> bool:
            try:
                await self.pod_control.delete_pod(ns, p["metadata"]["name"], job)
            except ApiError as e:
                self.expectations.deletion_observed(key, pod_key(p))
                if e.code != 404:
                    raise
            return True

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        deleted = ready = 0
        err: BaseException | None = None
        for p, r in zip(pods, results, strict=True):
            if isinstance(r, asyncio.CancelledError):
                raise r
            if isinstance(r, BaseException):
                err = err or r
                continue
            deleted += 1
            if is_pod_ready(p):
                ready += 1
        return deleted, ready, err

    # ---- trackJobStatusAndRemoveFinalizers -----------------------------------------------------------
    async def _track_status(self, key: str, job: Obj, status: Obj, pods: list[Obj], new_succeeded: list[Obj],
                            new_failed: list[Obj], ignored: list[Obj], finished: Obj | None, done: set[int],
                            indexed: bool, completions: int, rec: BackoffRecord, now: float,
                            force: bool) -> None:
        """Record finished pods in uncountedTerminatedPods, remove their finalizers, then count them;
        write the interim and the final conditions."""
        unc = status.get("uncountedTerminatedPods") or {}
        unc_s = list(unc.get("succeeded") or ())
        unc_f = list(unc.get("failed") or ())
        unc_s += [p["metadata"]["uid"] for p in new_succeeded]
        unc_f += [p["metadata"]["uid"] for p in new_failed]
        conds = list(status.get("conditions") or ())
        final: Obj | None = None
        if finished is not None:
            if finished["type"] == "FailureTarget":
                if not any(c.get("type") == "FailureTarget" for c in conds):
                    conds.append(finished)
                final = new_condition("Failed", "True", finished.get("reason", ""), finished.get("message", ""), now)
            elif finished["type"] == "SuccessCriteriaMet":
                if not any(c.get("type") == "SuccessCriteriaMet" for c in conds):
                    conds.append(finished)
                    status["completionTime"] = finished["lastTransitionTime"]
                final = new_condition("Complete", "True", finished.get("reason", ""), finished.get("message", ""), now)
        status["conditions"] = conds
        if indexed:
            status["completedIndexes"] = idx.format_indexes(done)
        status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
        cur = await self._write_status(job, status, force)

        # remove the finalizers of every finished pod now recorded (and of ignored ones)
        pending = set(unc_s) | set(unc_f)
        by_uid = {p["metadata"].get("uid"): p for p in pods}
        to_strip = [p for uid, p in by_uid.items() if uid in pending and has_tracking_finalizer(p)]
        to_strip += [p for p in ignored if has_tracking_finalizer(p)]
        if to_strip:
            inflight = self.rm_finalizers.setdefault(key, set())
            ns = job["metadata"].get("namespace") or ""
            results = await asyncio.gather(*(self._remove_finalizer(ns, p["metadata"]["name"]) for p in to_strip),
                                           return_exceptions=True)
            for p, r in zip(to_strip, results, strict=True):
                if isinstance(r, asyncio.CancelledError):
                    raise r
                if r is True:
                    inflight.add(p["metadata"]["uid"])
            first_err = next((r for r in results if isinstance(r, BaseException)), None)
        else:
            first_err = None
        stripped = self.rm_finalizers.get(key) or set()
        counted_s = [u for u in unc_s if u in stripped or u not in by_uid or not has_tracking_finalizer(by_uid[u])]
        counted_f = [u for u in unc_f if u in stripped or u not in by_uid or not has_tracking_finalizer(by_uid[u])]
        if counted_s or counted_f:
            st = deepcopy(cur.get("status") or {})
            if not indexed:
                st["succeeded"] = int(st.get("succeeded") or 0) + len(counted_s)
            st["failed"] = int(st.get("failed") or 0) + len(counted_f)
            unc_s = [u for u in unc_s if u not in counted_s]
            unc_f = [u for u in unc_f if u not in counted_f]
            st["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
            cur = await self._write_status(cur, st, False)
        if indexed:
            st = deepcopy(cur.get("status") or {})
            if int(st.get("succeeded") or 0) != len(done) and not unc_s:
                st["succeeded"] = len(done)
                cur = await self._write_status(cur, st, False)
        self.backoff[key] = rec
        if first_err is not None:
            raise first_err
        # enactJobFinished: only once nothing is uncounted or terminating
        if final is None or unc_s or unc_f or int(status.get("terminating") or 0) > 0:
            return
        st = deepcopy(cur.get("status") or {})
        st["conditions"], _ = ensure_condition(list(st.get("conditions") or ()), final["type"], "True",
                                               final.get("reason", ""), final.get("message", ""), now)
        if final["type"] == "Complete" and not st.get("completionTime"):
            st["completionTime"] = now_rfc3339(now)
        await self._write_status(cur, st, True)
        if final["type"] == "Complete":
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        elif final.get("reason") == REASON_DEADLINE:
            self.recorder.event(job, "Warning", REASON_DEADLINE, MSG_DEADLINE)
        else:
            self.recorder.event(job, "Warning", final.get("reason", ""), final.get("message", ""))

    async def _write_status(self, job: Obj, status: Obj, force: bool) -> Obj:
        """UpdateStatus unless nothing changed; returns the object to build the next write on."""
        old = job.get("status") or {}
        keep = ("ready", "terminating", "uncountedTerminatedPods")  # pointers: written even when zero/empty
        clean = {k: v for k, v in status.items() if v not in (None, [], {}, "") or k in keep}
        for k in ("active", "succeeded", "failed"):
            if clean.get(k) == 0:
                clean.pop(k)
        if clean == old:
            return job
        body = deepcopy(job)
        body["status"] = clean
        return await self.client.update_status(RESOURCE, body)


__all__ = ["JobController", "meta_key"]

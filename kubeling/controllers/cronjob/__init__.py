"""The CronJob controller (upstream pkg/controller/cronjob/cronjob_controllerv2.go, v1.32).

A sync of one CronJob, level-triggered from the informer caches:
- its jobs are the namespace's jobs whose controller reference names it; finished ones beyond
  successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted oldest first (Background);
- status.active is reconciled with them (SawCompletedJob, UnexpectedJob, MissingJob after a live
  GET), lastSuccessfulTime follows the latest completed job;
- unless suspended or deleting, the most recent due schedule time (robfig/cron semantics, in
  spec.timeZone or the process zone) becomes a Job named `<cronjob>-<minutes since epoch>` — a
  deterministic name, so after a crash the create is an AlreadyExists and no run is doubled —
  honouring startingDeadlineSeconds (MissSchedule) and concurrencyPolicy (Forbid: JobAlreadyActive,
  Replace: delete the active jobs first);
- the key is requeued just after the next schedule time (the queue's add_after), never polled.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ...api.cron import CronError, load_location
from ...api.errors import ApiError
from ...client.client import deepcopy
from ...client.informer import Controller, meta_key, split_key
from .. import register_controller
from ..common.dependents import OwnerLookup
from ..common.errors import error_message
from ..common.podcontrol import is_namespace_terminating
from ..common.refmanager import get_controller_of
from . import utils as u

log = logging.getLogger(__name__)

COMPONENT = "cronjob-controller"
RESOURCE = "cronjobs.batch"
JOBS = "jobs.batch"
BACKGROUND = {"propagationPolicy": "Background"}

Obj = dict[str, Any]


class CronJobController(Controller):
    """ControllerV2: informers on cronjobs and jobs, one work queue with delayed adds."""

    name = "cronjob"
    workers = 5  # kube-controller-manager --concurrent-cron-job-syncs default

    def __init__(self, ctx: Any, now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.client = ctx.client
        self.cronjobs = ctx.informers.informer(RESOURCE)
        self.jobs = ctx.informers.informer(JOBS)
        self.recorder = ctx.recorder(COMPONENT)
        self.now = now
        self.owners = OwnerLookup(self.cronjobs, u.CONTROLLER_KIND[1])
        self.jobs.add_handlers(self._add_job, self._update_job, self._delete_job)
        self.cronjobs.add_handlers(self.enqueue, self._update_cronjob, self.enqueue)

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.cronjobs, self.jobs, workers=workers)

    # ---- event handlers ------------------------------------------------------------------------------
    def _enqueue_owner(self, job: Obj, ref: Obj | None = None) -> None:
        ref = ref if ref is not None else get_controller_of(job)
        if ref is None:
            return  # orphans concern no cronjob
        cj = self.owners.resolve(job["metadata"].get("namespace"), ref)
        if cj is not None:
            self.enqueue(cj)

    def _add_job(self, job: Obj) -> None:
        self._enqueue_owner(job)

    def _update_job(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        cur_ref, old_ref = get_controller_of(cur), get_controller_of(old)
        if cur_ref != old_ref and old_ref is not None:
            self._enqueue_owner(old, old_ref)
        if cur_ref is not None:
            self._enqueue_owner(cur, cur_ref)

    def _delete_job(self, job: Obj) -> None:
        self._enqueue_owner(job)

    def _update_cronjob(self, old: Obj, cur: Obj) -> None:
        """A changed schedule or zone requeues at the new next time (sooner wins in the queue);
        any other change syncs now."""
        os_, cs = old.get("spec") or {}, cur.get("spec") or {}
        if os_.get("schedule") != cs.get("schedule") or os_.get("timeZone") != cs.get("timeZone"):
            try:
                sched = u.parse_schedule(cur)
            except CronError:
                log.debug("unparseable schedule for cronjob %s: %s", meta_key(cur), cs.get("schedule"))
                self.recorder.event(cur, "Warning", "UnParseableCronJobSchedule",
                                    f"unparseable schedule for cronjob: {cs.get('schedule')}")
                return
            self.queue.add_after(meta_key(cur), u.next_schedule_time_duration(cur, self.now(), sched))
            return
        self.enqueue(cur)

    # ---- sync ------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.cronjobs.get(key)
        if cached is None:
            return  # deleted: its jobs go with the garbage collector
        jobs = [j for j in self.jobs.by_index("namespace", ns or "") if u.owned_by_name(j, name)]
        cj = deepcopy(cached)
        update_after_cleanup = await self.cleanup_finished_jobs(cj, jobs)
        requeue, update_after_sync, err = await self.sync_cronjob(cj, jobs)
        if err is not None:
            log.debug("error reconciling cronjob %s: %s", key, error_message(err))
        if update_after_cleanup or update_after_sync:
            await self.client.update_status(RESOURCE, cj)
        if requeue is not None:
            self.queue.add_after(key, requeue)
            return
        if err is not None:
            raise err

    async def sync_cronjob(self, cj: Obj, jobs: list[Obj]) -> tuple[float | None, bool, BaseException | None]:
        """syncCronJob: reconcile status with the jobs, then start the due run if any. Returns (requeue
        delay or None, whether status changed, the error to retry with)."""
        now = self.now()
        update = False
        md = cj["metadata"]
        ns = md.get("namespace")
        status = cj.setdefault("status", {})
        children: set[str] = set()
        for j in jobs:
            jmd = j["metadata"]
            uid = jmd.get("uid") or ""
            children.add(uid)
            found = u.in_active_list(cj, uid)
            finished = u.finished_condition(j)
            if not found and finished is None:
                try:
                    live = await self.client.get(RESOURCE, ns, md["name"])
                except ApiError as e:
                    return None, update, e
                if u.in_active_list(live, uid):
                    # Upstream continues with the fetched copy; the status written is still cj's.
                    cj = live
                    status = cj.setdefault("status", {})
                    continue
                self.recorder.event(cj, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {jmd['name']}")
            elif finished is not None:
                if found:
                    u.delete_from_active_list(cj, uid)
                    self.recorder.event(cj, "Normal", "SawCompletedJob",
                                        f"Saw completed job: {jmd['name']}, condition: {finished}")
                    update = True
                if u.is_job_succeeded(j):
                    # A completed job counts even when it is no longer in the active list.
                    done = (j.get("status") or {}).get("completionTime")
                    if status.get("lastSuccessfulTime") is None:
                        if done is not None:
                            status["lastSuccessfulTime"] = done
                        update = True
                    done_t, last_t = u.timestamp(done), u.timestamp(status.get("lastSuccessfulTime"))
                    if done_t is not None and last_t is not None and done_t > last_t:
                        status["lastSuccessfulTime"] = done
                        update = True

        # Active references whose job is gone (checked live: the cache may lag behind a create).
        for ref in list(status.get("active") or ()):
            if ref.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, ref.get("namespace"), ref.get("name") or "")
            except ApiError as e:
                if e.code != 404:
                    return None, update, e
                self.recorder.event(cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                u.delete_from_active_list(cj, ref.get("uid") or "")
                update = True

        if md.get("deletionTimestamp"):
            return None, update, None

        spec = cj.get("spec") or {}
        tz = spec.get("timeZone")
        if tz is not None:
            try:
                load_location(tz)
            except CronError as e:
                self.recorder.event(cj, "Warning", "UnknownTimeZone", f"invalid timeZone: {u.go_quote(tz)}: {e}")
                return None, update, None

        if spec.get("suspend"):
            return None, update, None

        formatted, tz_in_schedule = u.format_schedule(cj)
        schedule = spec.get("schedule") or ""
        if tz_in_schedule:
            self.recorder.event(cj, "Warning", "UnsupportedSchedule",
                                u.UNSUPPORTED_TZ_MESSAGE.replace("%q", u.go_quote(schedule)))
        try:
            sched = u.parse_standard(formatted)
        except CronError as e:
            self.recorder.event(cj, "Warning", "UnparseableSchedule",
                                f"unparseable schedule: {u.go_quote(schedule)} : {e}")
            return None, update, None

        scheduled, too_many, serr = u.next_schedule_time(cj, now, sched)
        if too_many:
            self.recorder.event(cj, "Warning", "TooManyMissedTimes", "too many missed start times. "
                                "Set or decrease .spec.startingDeadlineSeconds or check clock skew")
        if serr is not None:
            self.recorder.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {schedule} : {serr}")
            return None, update, None
        if scheduled is None:
            return u.next_schedule_time_duration(cj, now, sched), update, None

        if u.too_late(cj, scheduled, now):
            self.recorder.event(cj, "Warning", "MissSchedule",
                                f"Missed scheduled time to start a job: {u.format_rfc1123z(scheduled)}")
            return u.next_schedule_time_duration(cj, now, sched), update, None

        last = u.timestamp(status.get("lastScheduleTime"))
        if u.in_active_list_by_name(cj, ns, u.job_name(cj, scheduled)) or last == scheduled:
            return u.next_schedule_time_duration(cj, now, sched), update, None

        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.event(cj, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return u.next_schedule_time_duration(cj, now, sched), update, None
        if policy == "Replace":
            for ref in list(status.get("active") or ()):
                try:
                    job = await self.client.get(JOBS, ref.get("namespace"), ref.get("name") or "")
                except ApiError as e:
                    self.recorder.event(cj, "Warning", "FailedGet", f"Get job: {e.message}")
                    return None, update, e
                if not await self.delete_job(cj, job):
                    jmd = job["metadata"]
                    return None, update, RuntimeError(f"could not replace job {jmd.get('namespace')}/{jmd['name']}")
                update = True

        try:
            req = u.job_from_template(cj, scheduled)
        except CronError as e:
            return None, update, e
        already_exists = False
        try:
            created = await self.client.create(JOBS, ns, req)
        except ApiError as e:
            if is_namespace_terminating(e):
                return None, update, e
            if e.code != 409 or e.reason != "AlreadyExists":
                self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {e.message}")
                return None, update, e
            # Created before (a crash before the status write) or by someone else.
            already_exists = True
            try:
                created = await self.client.get(JOBS, ns, req["metadata"]["name"])
            except ApiError as e2:
                return None, update, e2
            ref = get_controller_of(created)
            if ref is None or ref.get("uid") != md.get("uid"):
                return None, update, None
            if u.in_active_list(cj, created["metadata"].get("uid") or ""):
                return None, update, None
        if already_exists:
            log.info("job %s/%s for cronjob %s already exists", ns, req["metadata"]["name"], md["name"])
        else:
            self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {created['metadata']['name']}")

        status = cj.setdefault("status", {})
        status.setdefault("active", []).append(u.job_ref(created))
        status["lastScheduleTime"] = u.rfc3339_utc(scheduled)
        return u.next_schedule_time_duration(cj, now, sched), True, None

    # ---- history -----------------------------------------------------------------------------------
    async def cleanup_finished_jobs(self, cj: Obj, jobs: list[Obj]) -> bool:
        """cleanupFinishedJobs: keep the newest successfulJobsHistoryLimit completed and
        failedJobsHistoryLimit failed jobs; returns whether status changed."""
        spec = cj.get("spec") or {}
        ok_limit, failed_limit = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        if ok_limit is None and failed_limit is None:
            return False
        succeeded: list[Obj] = []
        failed: list[Obj] = []
        for j in jobs:
            c = u.finished_condition(j)
            if c == "Complete":
                succeeded.append(j)
            elif c == "Failed":
                failed.append(j)
        update = False
        for limit, group in ((ok_limit, succeeded), (failed_limit, failed)):
            if limit is None:
                continue
            for j in u.jobs_to_delete(group, limit):
                if await self.delete_job(cj, j):
                    update = True
        return update

    async def delete_job(self, cj: Obj, job: Obj) -> bool:
        """deleteJob: delete with Background propagation, drop it from status.active."""
        jmd = job["metadata"]
        try:
            await self.client.delete(JOBS, jmd.get("namespace"), jmd["name"], dict(BACKGROUND))
        except ApiError as e:
            self.recorder.event(cj, "Warning", "FailedDelete", f"Deleted job: {e.message}")
            log.warning("error deleting job %s/%s of cronjob %s: %s", jmd.get("namespace"), jmd["name"],
                        cj["metadata"]["name"], e.message)
            return False
        u.delete_from_active_list(cj, jmd.get("uid") or "")
        self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {jmd['name']}")
        return True


start = register_controller("cronjob", CronJobController)


__all__ = ["CronJobController", "start"]

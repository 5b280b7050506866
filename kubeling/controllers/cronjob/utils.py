"""Pure helpers of the CronJob controller (upstream pkg/controller/cronjob/utils.go, v1.32): which
scheduled time is due, when to look again, the Job made from the template, the active list.

Times are Unix seconds (floats for "now", whole seconds for schedule times). No I/O, so every rule
here is unit tested without a cluster or a clock."""
from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from ...api.cron import ZERO, CronError, Schedule, load_location, parse_standard, rfc3339_in
from ...api.meta import controller_ref, parse_time

Obj = dict[str, Any]

# Requeue slightly after the scheduled second so the sync sees it as due despite clock skew.
NEXT_SCHEDULE_DELTA = 0.1
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
CONTROLLER_KIND = ("batch/v1", "CronJob")

NONE_MISSED, FEW_MISSED, MANY_MISSED = 0, 1, 2

UNSUPPORTED_TZ_MESSAGE = ("CRON_TZ or TZ used in schedule %q is not officially supported, see "
                          "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")


def go_quote(s: str) -> str:
    """Go's %q of a string (the cases a schedule or zone name can hold)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


# ---- the schedule ------------------------------------------------------------------------------------------

def format_schedule(cj: Obj) -> tuple[str, bool]:
    """formatSchedule: the spec handed to the parser — `TZ=<spec.timeZone> <schedule>` when the zone
    loads — and whether the schedule itself carries a TZ (worth an UnsupportedSchedule warning)."""
    spec = cj.get("spec") or {}
    schedule = spec.get("schedule") or ""
    if "TZ" in schedule:
        return schedule, True
    tz = spec.get("timeZone")
    if tz is not None:
        try:
            load_location(tz)
        except CronError:
            return schedule, False
        return f"TZ={tz} {schedule}", False
    return schedule, False


def parse_schedule(cj: Obj) -> Schedule:
    """cron.ParseStandard(formatSchedule(cj)); raises CronError."""
    return parse_standard(format_schedule(cj)[0])


def timestamp(s: str | None) -> float | None:
    """A metav1.Time string as Unix seconds; None when absent."""
    return parse_time(s) if s else None


def most_recent_schedule_time(cj: Obj, now: float, sched: Schedule, include_deadline: bool
                              ) -> tuple[float, int | None, int, str | None]:
    """mostRecentScheduleTime: (the earliest time considered — last schedule time or creation —,
    the most recent due schedule time or None, NONE/FEW/MANY_MISSED, an error for a schedule whose
    consecutive times are under a second apart, i.e. one that never fires such as Feb 31st)."""
    earliest = timestamp((cj.get("status") or {}).get("lastScheduleTime"))
    if earliest is None:
        earliest = timestamp(cj["metadata"].get("creationTimestamp")) or 0.0
    missed = NONE_MISSED
    sds = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if include_deadline and sds is not None:
        deadline = now - int(sds)
        if deadline > earliest:
            earliest = deadline
    t1 = sched.next(earliest)
    t2 = sched.next(t1)
    if now < t1:
        return earliest, None, missed, None
    if now < t2:
        return earliest, t1, missed, None
    between = t2 - t1
    if between < 1:
        return earliest, None, missed, "time difference between two schedules is less than 1 second"
    # A rough count of the missed times, then walk the last stretch with the schedule itself.
    elapsed = int(now - t1)
    n_missed = elapsed // between + 1
    most_recent: int | None = None
    t = sched.next(t1 + (n_missed - 2) * between)
    while t <= now and t != ZERO:
        most_recent = t
        t = sched.next(t)
    if n_missed > 100:
        missed = MANY_MISSED
    elif n_missed > 0:
        missed = FEW_MISSED
    return earliest, most_recent, missed, None


def next_schedule_time_duration(cj: Obj, now: float, sched: Schedule) -> float:
    """nextScheduleTimeDuration: seconds until just after the next schedule time, the requeue delay."""
    earliest, most_recent, missed, err = most_recent_schedule_time(cj, now, sched, False)
    if err is not None:
        base: float = now
    elif most_recent is None:
        base = earliest if missed == NONE_MISSED else now
    else:
        base = most_recent
    return sched.next(base) + NEXT_SCHEDULE_DELTA - now


def next_schedule_time(cj: Obj, now: float, sched: Schedule) -> tuple[int | None, bool, str | None]:
    """nextScheduleTime: (the due schedule time after the last one and not after now, or None;
    whether too many (> 100) were missed — upstream's TooManyMissedTimes warning —; an error)."""
    _, most_recent, missed, err = most_recent_schedule_time(cj, now, sched, True)
    if most_recent is None or most_recent > now:
        return None, False, err
    return most_recent, missed == MANY_MISSED, err


def too_late(cj: Obj, scheduled: float, now: float) -> bool:
    """Past startingDeadlineSeconds: the scheduled time is a MissSchedule, not a run."""
    sds = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    return sds is not None and scheduled + int(sds) < now


def format_rfc1123z(ts: float) -> str:
    """Go's time.RFC1123Z in UTC ("Mon, 02 Jan 2006 15:04:05 +0000"), as the MissSchedule event has it."""
    return datetime.fromtimestamp(math.floor(ts), UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def rfc3339_utc(ts: float) -> str:
    """A metav1.Time as JSON: RFC 3339 in UTC, whole seconds."""
    return rfc3339_in(ts, UTC)


# ---- jobs ----------------------------------------------------------------------------------------------

def job_name(cj: Obj, scheduled: float) -> str:
    """getJobName: `<cronjob>-<scheduled time in minutes since the epoch>`, deterministic so that a
    restarted controller's create of the same run is an AlreadyExists, not a second job."""
    return f"{cj['metadata']['name']}-{math.floor(scheduled) // 60}"


def job_from_template(cj: Obj, scheduled: float) -> Obj:
    """getJobFromTemplate2: the template's labels and annotations, the scheduled-timestamp annotation
    (RFC 3339 in spec.timeZone, UTC without one), the controller reference and the template's spec.
    Raises CronError for a time zone that does not load."""
    md = cj["metadata"]
    spec = cj.get("spec") or {}
    tmpl = spec.get("jobTemplate") or {}
    tmd = tmpl.get("metadata") or {}
    labels = dict(tmd.get("labels") or {})
    annotations = dict(tmd.get("annotations") or {})
    loc = load_location(spec.get("timeZone") or "")
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339_in(scheduled, loc)
    meta: Obj = {"name": job_name(cj, scheduled), "namespace": md.get("namespace")}
    if labels:
        meta["labels"] = labels
    meta["annotations"] = annotations
    meta["ownerReferences"] = [{"apiVersion": CONTROLLER_KIND[0], "kind": CONTROLLER_KIND[1], "name": md["name"],
                                "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}]
    job_spec = orjson.loads(orjson.dumps(tmpl.get("spec") or {}))
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": job_spec}


def job_ref(job: Obj) -> Obj:
    """An ObjectReference to a job for status.active (ref.GetReference)."""
    md = job["metadata"]
    ref = {"kind": "Job", "namespace": md.get("namespace"), "name": md["name"], "uid": md.get("uid"),
           "apiVersion": "batch/v1", "resourceVersion": md.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}


def finished_condition(job: Obj) -> str | None:
    """FinishedCondition: "Complete" or "Failed" when that condition is True, else None."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return None


def is_job_succeeded(job: Obj) -> bool:
    return any(c.get("type") == "Complete" and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


def by_start_time_key(job: Obj) -> tuple[bool, float, str]:
    """byJobStartTime: started jobs oldest first, never-started last, ties by name."""
    st = timestamp((job.get("status") or {}).get("startTime"))
    return st is None, st or 0.0, job["metadata"]["name"]


def jobs_to_delete(jobs: list[Obj], limit: int) -> list[Obj]:
    """removeOldestJobs: the oldest finished jobs beyond the history limit."""
    n = len(jobs) - int(limit)
    if n <= 0:
        return []
    return sorted(jobs, key=by_start_time_key)[:n]


def owned_by_name(job: Obj, cj_name: str) -> bool:
    """getJobsToBeReconciled's test: a controller reference naming the cronjob (by name only)."""
    ref = controller_ref(job)
    return ref is not None and ref.get("name") == cj_name


# ---- status.active -----------------------------------------------------------------------------------------

def in_active_list(cj: Obj, uid: str) -> bool:
    return any(r.get("uid") == uid for r in (cj.get("status") or {}).get("active") or ())


def in_active_list_by_name(cj: Obj, namespace: str | None, name: str) -> bool:
    return any(r.get("name") == name and r.get("namespace") == namespace
               for r in (cj.get("status") or {}).get("active") or ())


def delete_from_active_list(cj: Obj, uid: str) -> None:
    """Drop the reference from a private copy's status.active (an empty list is omitted, as Go's
    omitempty serialises it)."""
    st = cj.setdefault("status", {})
    active = [r for r in st.get("active") or () if r.get("uid") != uid]
    if active:
        st["active"] = active
    else:
        st.pop("active", None)

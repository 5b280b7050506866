"""Pure helpers of the Job controller (upstream pkg/controller/job: utils.go, backoff_utils.go,
pod_failure_policy.go and the small functions of job_controller.go), kept free of I/O so they can be
unit-tested and reused (the TTL-after-finished controller reads `job_finish_time`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...api.meta import now_rfc3339, parse_time

Obj = dict[str, Any]

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
JOB_INDEX_FAILURE_COUNT_ANNOTATION = "batch.kubernetes.io/job-index-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
CONTROLLER_NAME = "kubernetes.io/job-controller"

# job_controller.go (v1.32): pod failure back-off 10 s doubling up to 10 min; per-sync write cap.
DEFAULT_POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0
MAX_POD_CREATE_DELETE_PER_SYNC = 500
MAX_UNCOUNTED_PODS = 500
MAX_GENERATED_NAME_LENGTH = 58

# Condition reasons and messages (batch/v1 constants and job_controller.go texts).
REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
MSG_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MSG_DEADLINE = "Job was active longer than specified deadline"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
REASON_COMPLETIONS_REACHED = "CompletionsReached"
MSG_COMPLETIONS_REACHED = "Reached expected number of succeeded pods"
REASON_SUCCESS_POLICY = "SuccessPolicy"


# ---- job state -----------------------------------------------------------------------------------------

def find_condition(job: Obj, ctype: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return c
    return None


def has_true_condition(job: Obj, ctype: str) -> bool:
    c = find_condition(job, ctype)
    return c is not None and c.get("status") == "True"


def finished_condition(job: Obj) -> Obj | None:
    """IsJobFinished: the Complete or Failed condition with status True, if any."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c
    return None


def is_job_finished(job: Obj) -> bool:
    return finished_condition(job) is not None


def job_finish_time(job: Obj) -> float | None:
    """jobFinishTime (ttlafterfinished): the finished condition's lastTransitionTime."""
    c = finished_condition(job)
    return None if c is None else parse_time(c.get("lastTransitionTime"))


def is_suspended(job: Obj) -> bool:
    return bool((job.get("spec") or {}).get("suspend"))


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def new_condition(ctype: str, status: str, reason: str, message: str, now: float | None = None) -> Obj:
    t = now_rfc3339(now)
    c: Obj = {"type": ctype, "status": status, "lastProbeTime": t, "lastTransitionTime": t}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def ensure_condition(conds: list[Obj], ctype: str, status: str, reason: str, message: str,
                     now: float | None = None) -> tuple[list[Obj], bool]:
    """ensureJobConditionStatus: replace a differing condition of the type, or append a non-False one."""
    for i, c in enumerate(conds):
        if c.get("type") == ctype:
            if c.get("status") != status or (c.get("reason") or "") != reason or (c.get("message") or "") != message:
                conds = list(conds)
                conds[i] = new_condition(ctype, status, reason, message, now)
                return conds, True
            return conds, False
    if status != "False":
        return [*conds, new_condition(ctype, status, reason, message, now)], True
    return conds, False


def past_active_deadline(job: Obj, now: float) -> bool:
    """pastActiveDeadline: running longer than activeDeadlineSeconds since status.startTime."""
    ads = (job.get("spec") or {}).get("activeDeadlineSeconds")
    start = parse_time((job.get("status") or {}).get("startTime"))
    if ads is None or start is None or is_suspended(job):
        return False
    return now - start >= ads


def deadline_remaining(job: Obj, now: float) -> float | None:
    ads = (job.get("spec") or {}).get("activeDeadlineSeconds")
    start = parse_time((job.get("status") or {}).get("startTime"))
    if ads is None or start is None or is_suspended(job):
        return None
    return max(0.0, ads - (now - start))


def want_active(job: Obj, active: int, succeeded: int) -> int:
    """manageJob's target: parallelism, bounded by the completions still missing."""
    spec = job.get("spec") or {}
    parallelism = int(spec.get("parallelism") or 0)
    completions = spec.get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def is_complete(job: Obj, succeeded: int, active: int) -> bool:
    completions = (job.get("spec") or {}).get("completions")
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= int(completions) and active == 0


# ---- pods ----------------------------------------------------------------------------------------------

def has_tracking_finalizer(pod: Obj) -> bool:
    return JOB_TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ())


def only_replace_failed_pods(job: Obj) -> bool:
    """onlyReplaceFailedPods: podReplacementPolicy Failed (set whenever podFailurePolicy is)."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """isPodFailed: phase Failed, or (unless only failed pods are replaced) deleted before succeeding."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase != "Succeeded"


def is_pod_terminating(pod: Obj) -> bool:
    """countTerminatingPods: being deleted and not yet in a terminal phase."""
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod["metadata"].get("deletionTimestamp")) and phase not in ("Succeeded", "Failed")


def pod_finished_time(pod: Obj, now: float | None = None) -> float:
    """getFinishedTime: the latest container finishedAt, else when deletion was requested, else creation."""
    best: float | None = None
    st = pod.get("status") or {}
    for cs in st.get("containerStatuses") or ():
        t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None and (best is None or t > best):
            best = t
    if best is None:
        deleted = parse_time(pod["metadata"].get("deletionTimestamp"))
        if deleted is not None:  # the deletion was requested grace seconds before that
            best = deleted - float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
    if best is None:
        best = parse_time(pod["metadata"].get("creationTimestamp"))
    return best if best is not None else (time.time() if now is None else now)


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """pastBackoffLimitOnFailure: restartPolicy OnFailure counts container restarts of live pods."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    total = 0
    for p in pods:
        st = p.get("status") or {}
        if st.get("phase") in ("Running", "Pending"):
            for key in ("initContainerStatuses", "containerStatuses"):
                total += sum(int(cs.get("restartCount") or 0) for cs in st.get(key) or ())
    limit = int(spec.get("backoffLimit") or 0)
    return total > 0 if limit == 0 else total >= limit


def pod_generate_name_with_index(job_name: str, index: int) -> str:
    """podGenerateNameWithIndex: `<job>-<index>-`, the job name cut so it fits 58 characters."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[:MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


# ---- pod failure policy (pod_failure_policy.go) --------------------------------------------------------

def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str | None, bool, str | None]:
    """matchPodFailurePolicy: (FailJob message, whether the failure counts, matched action)."""
    pfp = (job.get("spec") or {}).get("podFailurePolicy")
    if not isinstance(pfp, dict):
        return None, True, None
    md = pod["metadata"]
    st = pod.get("status") or {}
    for i, rule in enumerate(pfp.get("rules") or ()):
        action = rule.get("action")
        oec = rule.get("onExitCodes")
        what: str | None = None
        cs = _match_exit_codes(oec, st) if isinstance(oec, dict) else None
        if cs is not None:
            what = (f"Container {cs.get('name')} for pod {md.get('namespace')}/{md.get('name')} failed with exit "
                    f"code {cs['state']['terminated'].get('exitCode')}")
        else:
            for pat in rule.get("onPodConditions") or ():
                if any(c.get("type") == pat.get("type") and c.get("status") == (pat.get("status") or "True")
                       for c in st.get("conditions") or ()):
                    what = f"Pod {md.get('namespace')}/{md.get('name')} has condition {pat.get('type')}"
                    break
        if what is None:
            continue
        if action == "Ignore":
            return None, False, action
        if action == "FailJob":
            return f"{what} matching FailJob rule at index {i}", True, action
        return None, True, action
    return None, True, None


def _match_exit_codes(oec: Obj, st: Obj) -> Obj | None:
    values = set(oec.get("values") or ())
    name = oec.get("containerName")
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in st.get(key) or ():
            if name is not None and cs.get("name") != name:
                continue
            term = (cs.get("state") or {}).get("terminated")
            if not term:
                continue
            code = int(term.get("exitCode") or 0)
            if code == 0:
                continue
            if (oec.get("operator") == "In") == (code in values):
                return cs
    return None


# ---- back-off (backoff_utils.go) -----------------------------------------------------------------------

@dataclass
class BackoffRecord:
    """Failures since the last success and when the latest of them happened (kept in memory)."""

    failures_after_last_success: int = 0
    last_failure_time: float | None = None


def new_backoff_record(old: BackoffRecord | None, new_succeeded: list[Obj], new_failed: list[Obj],
                       now: float | None = None) -> BackoffRecord:
    """newBackoffRecord: a success resets the count; failures after the latest success add to it."""
    rec = BackoffRecord() if old is None else BackoffRecord(old.failures_after_last_success, old.last_failure_time)
    failed_times = sorted(pod_finished_time(p, now) for p in new_failed)
    if not new_succeeded:
        if not failed_times:
            return rec
        rec.failures_after_last_success += len(failed_times)
        rec.last_failure_time = failed_times[-1]
        return rec
    last_success = max(pod_finished_time(p, now) for p in new_succeeded)
    rec = BackoffRecord()
    for t in reversed(failed_times):
        if t <= last_success:
            break
        if rec.last_failure_time is None:
            rec.last_failure_time = t
        rec.failures_after_last_success += 1
    return rec


def backoff_duration(failures: int, base: float = DEFAULT_POD_FAILURE_BACKOFF,
                     cap: float = MAX_POD_FAILURE_BACKOFF) -> float:
    """The delay after `failures` consecutive failures: base, doubled per further failure, capped."""
    if failures <= 0:
        return 0.0
    d = base
    for _ in range(1, failures):
        d *= 2
        if d >= cap:
            return cap
    return d


def remaining_backoff(rec: BackoffRecord, now: float) -> float:
    """getRemainingTime: how long pod creation still has to wait."""
    if rec.failures_after_last_success == 0 or rec.last_failure_time is None:
        return 0.0
    d = backoff_duration(rec.failures_after_last_success)
    elapsed = now - rec.last_failure_time
    return 0.0 if d < elapsed else d - elapsed

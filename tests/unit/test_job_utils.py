"""Pure helpers of the Job controller and the batch validation's cron parser."""
from __future__ import annotations

from kubeling.api.validation import cron_parse_error
from kubeling.controllers.job import indexed_job_utils as idx
from kubeling.controllers.job import utils


def _pod(phase: str = "Running", index: str | None = None, finished: str | None = None, **md: object) -> dict:
    meta: dict = {"name": "p", "namespace": "ns", **md}
    if index is not None:
        meta["annotations"] = {utils.COMPLETION_INDEX_ANNOTATION: index}
    st: dict = {"phase": phase}
    if finished:
        st["containerStatuses"] = [{"name": "c", "state": {"terminated": {"exitCode": 1, "finishedAt": finished}}}]
    return {"metadata": meta, "spec": {}, "status": st}


def test_backoff_duration_doubles_and_caps() -> None:
    assert [utils.backoff_duration(n) for n in range(5)] == [0, 10, 20, 40, 80]
    assert utils.backoff_duration(20) == 600


def test_backoff_record() -> None:
    f1 = _pod("Failed", finished="2024-01-01T00:00:10Z")
    f2 = _pod("Failed", finished="2024-01-01T00:00:20Z")
    rec = utils.new_backoff_record(None, [], [f1, f2])
    assert rec.failures_after_last_success == 2
    assert utils.remaining_backoff(rec, rec.last_failure_time + 5) == 15
    ok = _pod("Succeeded", finished="2024-01-01T00:00:15Z")
    rec = utils.new_backoff_record(rec, [ok], [f1, f2])
    assert rec.failures_after_last_success == 1  # only the failure after the success counts
    assert utils.remaining_backoff(utils.BackoffRecord(), 0) == 0


def test_want_active_and_complete() -> None:
    job = {"spec": {"parallelism": 3, "completions": 5}}
    assert utils.want_active(job, 0, 0) == 3
    assert utils.want_active(job, 3, 4) == 1
    assert utils.want_active(job, 0, 7) == 0
    work_queue = {"spec": {"parallelism": 2}}
    assert utils.want_active(work_queue, 1, 1) == 1
    assert utils.is_complete(job, 5, 0) and not utils.is_complete(job, 5, 1)
    assert utils.is_complete(work_queue, 1, 0)


def test_ensure_condition() -> None:
    conds, changed = utils.ensure_condition([], "Suspended", "False", "JobResumed", "Job resumed", 0)
    assert conds == [] and not changed
    conds, changed = utils.ensure_condition([], "Suspended", "True", "JobSuspended", "Job suspended", 0)
    assert changed and conds[0]["reason"] == "JobSuspended"
    conds, changed = utils.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", 0)
    assert changed and conds[0]["status"] == "False" and len(conds) == 1


def test_is_pod_failed() -> None:
    job = {"spec": {"podReplacementPolicy": "TerminatingOrFailed"}}
    assert utils.is_pod_failed(_pod("Failed"), job)
    assert utils.is_pod_failed(_pod("Running", deletionTimestamp="2024-01-01T00:00:00Z"), job)
    assert not utils.is_pod_failed(_pod("Running", deletionTimestamp="2024-01-01T00:00:00Z"),
                                   {"spec": {"podReplacementPolicy": "Failed"}})


def test_generate_name_with_index() -> None:
    assert utils.pod_generate_name_with_index("job", 3) == "job-3-"
    long = utils.pod_generate_name_with_index("x" * 60, 12)
    assert len(long) == 58 and long.endswith("-12-")


def test_pod_failure_policy_match() -> None:
    job = {"spec": {"podFailurePolicy": {"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [2]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}}}
    pod = _pod("Failed", finished="2024-01-01T00:00:10Z")
    msg, counts, action = utils.match_pod_failure_policy(job, pod)
    assert action == "FailJob" and counts
    assert msg == "Container c for pod ns/p failed with exit code 1 matching FailJob rule at index 1"


def test_index_intervals() -> None:
    assert idx.format_indexes([0, 1, 2, 5, 7, 8]) == "0-2,5,7,8"
    assert idx.parse_indexes("0-2,5,9", 6) == {0, 1, 2, 5}
    active = [_pod(index="1"), _pod(index="1"), _pod(index="x")]
    assert idx.first_pending_indexes(active, {0}, 2, 5) == [2, 3]
    removal = idx.pods_for_removal(active, set(), 5)
    assert len(removal) == 2


def test_cron_parse_errors() -> None:
    assert cron_parse_error("*/5 * * * *") is None
    assert cron_parse_error("@hourly") is None
    assert cron_parse_error("0 0 * JAN-MAR mon") is None
    assert cron_parse_error("") == "empty spec string"
    assert cron_parse_error("foo") == "expected exactly 5 fields, found 1: [foo]"
    assert cron_parse_error("70 * * * *") == "end of range (70) above maximum (59): 70"
    assert cron_parse_error("5-1 * * * *") == "beginning of range (5) beyond end of range (1): 5-1"
    assert cron_parse_error("x * * * *") == 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'
    assert cron_parse_error("@foo") == "unrecognized descriptor: @foo"
    assert cron_parse_error("*/0 * * * *") == "step of range should be a positive number: */0"

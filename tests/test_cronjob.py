"""The CronJob controller against a real kubeling, driven by the real kubectl (upstream v1.32
cronjob_controllerv2.go). The controller's clock cannot be set from outside, so only two tests wait
for a minute boundary ("* * * * *"); schedules, deadlines and concurrency policies are covered by
tests/unit/test_cronjob_utils.py with an injected clock."""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from conftest import wait_for

ANN = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MINUTE_WAIT = 75  # the next minute boundary, plus the job's creation


def _json(c: Any, *args: str) -> Any:
    return json.loads(c.kubectl(*args, "-o", "json").stdout)


def _jobs(c: Any, ns: str) -> list[dict]:
    return _json(c, "get", "jobs", "-n", ns)["items"]


def _events(c: Any, ns: str, name: str) -> list[tuple[str, str, str]]:
    evs = _json(c, "get", "events", "-n", ns, "--field-selector",
                f"involvedObject.kind=CronJob,involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in evs]


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def _cronjob(name: str, schedule: str, pod_annotations: dict | None = None, **spec: Any) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {
                "metadata": {"labels": {"team": "a"}, "annotations": {"note": "from-template"}},
                "spec": {"template": {"metadata": {"annotations": pod_annotations or {}},
                                      "spec": {"restartPolicy": "Never", "containers": [
                                          {"name": "c", "image": "busybox", "command": ["echo", "hi"]}]}}}}}}


def test_cronjob_creates_a_job_each_minute(cluster: Any, ns: str) -> None:
    """kubectl create cronjob with "* * * * *": at the minute boundary a Job named after the minute,
    with the template's labels/annotations, the scheduled-timestamp annotation and a controller
    reference; status.active and lastScheduleTime; SuccessfulCreate; when the job completes
    SawCompletedJob, an empty active list and lastSuccessfulTime."""
    cluster.kubectl("create", "cronjob", "every", "-n", ns, "--image=busybox", "--schedule=* * * * *",
                    "--", "echo", "hi")
    cj = _json(cluster, "get", "cronjob", "every", "-n", ns)
    assert cj["spec"]["concurrencyPolicy"] == "Allow"

    jobs = wait_for(lambda: _jobs(cluster, ns), MINUTE_WAIT, 0.5, what="the first scheduled job")
    assert len(jobs) == 1
    job = jobs[0]
    md = job["metadata"]
    scheduled = md["annotations"][ANN]
    assert scheduled.endswith(":00Z")  # UTC without spec.timeZone, whole minutes
    assert md["name"] == f"every-{int(_epoch(scheduled)) // 60}"
    assert md["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "every",
                                      "uid": cj["metadata"]["uid"], "controller": True,
                                      "blockOwnerDeletion": True}]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]

    def status_has_job() -> dict | None:
        st = _json(cluster, "get", "cronjob", "every", "-n", ns).get("status") or {}
        return st if st.get("lastScheduleTime") else None

    st = wait_for(status_has_job, 20, what="status.lastScheduleTime")
    assert st["lastScheduleTime"] == scheduled
    assert ("Normal", "SuccessfulCreate", f"Created job {md['name']}") in wait_for(
        lambda: _events(cluster, ns, "every"), 10, what="events")

    # The job runs to completion (a simulated Job pod exits 0): the controller notices.
    def completed() -> dict | None:
        s = _json(cluster, "get", "cronjob", "every", "-n", ns).get("status") or {}
        return s if s.get("lastSuccessfulTime") and not s.get("active") else None

    st = wait_for(completed, 60, 0.5, what="the job to complete and leave status.active")
    evs = _events(cluster, ns, "every")
    assert ("Normal", "SawCompletedJob", f"Saw completed job: {md['name']}, condition: Complete") in evs
    out = cluster.kubectl("get", "cronjob", "every", "-n", ns).stdout.splitlines()
    assert out[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]


def test_manual_jobs_from_cronjob_and_history_limit(cluster: Any, ns: str) -> None:
    """`kubectl create job --from=cronjob/x` makes a job the cronjob controls but did not schedule
    (UnexpectedJob); finished jobs beyond successfulJobsHistoryLimit are deleted oldest first."""
    cj = _cronjob("nightly", "0 0 1 1 *", successfulJobsHistoryLimit=1)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(cj))
    uid = _json(cluster, "get", "cronjob", "nightly", "-n", ns)["metadata"]["uid"]
    cluster.kubectl("create", "job", "-n", ns, "--from=cronjob/nightly", "manual-1")
    job = _json(cluster, "get", "job", "manual-1", "-n", ns)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["labels"]["team"] == "a"
    assert [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in job["metadata"]["ownerReferences"]] == [
        ("CronJob", "nightly", uid, True)]

    def complete(name: str) -> bool:
        conds = (_json(cluster, "get", "job", name, "-n", ns).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conds)

    wait_for(lambda: complete("manual-1"), 60, 0.5, what="manual-1 to complete")
    time.sleep(1.1)  # a later start time for the second job (second resolution)
    cluster.kubectl("create", "job", "-n", ns, "--from=cronjob/nightly", "manual-2")
    wait_for(lambda: complete("manual-2"), 60, 0.5, what="manual-2 to complete")

    names = wait_for(lambda: (lambda n: n if n == ["manual-2"] else None)(
        sorted(j["metadata"]["name"] for j in _jobs(cluster, ns))), 30, 0.5, what="the oldest job deleted")
    assert names == ["manual-2"]
    evs = _events(cluster, ns, "nightly")
    assert ("Normal", "SuccessfulDelete", "Deleted job manual-1") in evs
    assert ("Warning", "UnexpectedJob", "Saw a job that the controller did not create or forgot: manual-1") in evs
    st = _json(cluster, "get", "cronjob", "nightly", "-n", ns)["status"]
    assert st.get("lastSuccessfulTime") and "active" not in st and "lastScheduleTime" not in st


def test_no_duplicate_run_after_kill_and_restart(make_cluster: Any) -> None:
    """SIGKILL right after a run started, with the status write undone (as if the crash came between
    the job's create and the status update): after the restart the run's create is an AlreadyExists
    and the existing job goes back into status.active — one job for the scheduled time, not two."""
    c = make_cluster()
    cj = _cronjob("tick", "* * * * *", concurrencyPolicy="Forbid",
                  pod_annotations={"kubeling.dev/run-duration": "600"})
    c.kubectl("apply", "-f", "-", input=json.dumps(cj))
    jobs = wait_for(lambda: _jobs(c, "default"), MINUTE_WAIT, 0.5, what="the first scheduled job")
    first = jobs[0]["metadata"]
    scheduled = _epoch(first["annotations"][ANN])
    wait_for(lambda: (_json(c, "get", "cronjob", "tick").get("status") or {}).get("active"), 20,
             what="status.active")
    c.kubectl("patch", "cronjob", "tick", "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": {"active": None, "lastScheduleTime": None}}))
    c.kill()
    c.start()

    def restored() -> dict | None:
        st = _json(c, "get", "cronjob", "tick").get("status") or {}
        return st if st.get("active") else None

    st = wait_for(restored, 30, 0.5, what="status.active restored after the restart")
    jobs = _jobs(c, "default")
    if time.time() < scheduled + 59:  # still the run's minute (the usual case): strict
        assert [r["uid"] for r in st["active"]] == [first["uid"]]
        assert st["lastScheduleTime"] == first["annotations"][ANN]
        assert [j["metadata"]["name"] for j in jobs] == [first["name"]]
        creates = [e for e in _events(c, "default", "tick") if e[1] == "SuccessfulCreate"]
        assert creates == [("Normal", "SuccessfulCreate", f"Created job {first['name']}")]
    # whatever the timing: one job per scheduled time
    times = [j["metadata"]["annotations"][ANN] for j in jobs]
    assert len(times) == len(set(times))

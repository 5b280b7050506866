"""batch/v1 Jobs driven by the real kubectl and the kubernetes client: creation from the CLI, completion,
parallelism, Indexed mode, failures with backoffLimit, activeDeadlineSeconds, suspend/resume,
ttlSecondsAfterFinished, crash safety and validation (field paths and messages as upstream v1.32)."""
from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.rest import ApiException

FAIL = {"kubeling.dev/exit-code": "1", "kubeling.dev/run-duration": "0.3"}


def _job(name: str, *, annotations: dict[str, str] | None = None, restart: str = "Never", **spec: Any) -> dict:
    tpl: dict[str, Any] = {"spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}]}}
    if annotations:
        tpl["metadata"] = {"annotations": annotations}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {**spec, "template": tpl}}


def _apply(cluster: KubelingCluster, ns: str, obj: dict) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(obj))


def _get(cluster: KubelingCluster, ns: str, kind: str, name: str) -> dict:
    return json.loads(cluster.kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)


def _pods(cluster: KubelingCluster, ns: str, job: str) -> list[dict]:
    out = cluster.kubectl("get", "pods", "-n", ns, "-l", f"batch.kubernetes.io/job-name={job}", "-o", "json").stdout
    return json.loads(out)["items"]


def _cond(job: dict, ctype: str) -> dict | None:
    return next((c for c in (job.get("status") or {}).get("conditions") or () if c["type"] == ctype), None)


def test_create_job_from_cli_completes(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "job", "hello", "-n", ns, "--image=busybox", "--", "echo", "hi")
    job = _get(cluster, ns, "job", "hello")
    uid = job["metadata"]["uid"]
    spec = job["spec"]
    assert spec["backoffLimit"] == 6 and spec["completions"] == 1 and spec["parallelism"] == 1
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed" and spec["manualSelector"] is False
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "hello",
        "controller-uid": uid, "job-name": "hello"}
    cluster.kubectl("wait", "--for=condition=complete", "job/hello", "-n", ns, "--timeout=30s")
    job = _get(cluster, ns, "job", "hello")
    st = job["status"]
    assert st["succeeded"] == 1 and st["uncountedTerminatedPods"] == {} and st["ready"] == 0
    assert st["completionTime"] and st["startTime"]
    types = [c["type"] for c in st["conditions"]]
    assert types == ["SuccessCriteriaMet", "Complete"]
    assert _cond(job, "Complete")["reason"] == "CompletionsReached"
    header, rows = table(cluster.kubectl("get", "jobs", "-n", ns).stdout)
    assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows[0]["STATUS"] == "Complete" and rows[0]["COMPLETIONS"] == "1/1"
    header, _ = table(cluster.kubectl("get", "jobs", "-n", ns, "-o", "wide").stdout)
    assert header[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    (pod,) = _pods(cluster, ns, "hello")
    assert pod["status"]["phase"] == "Succeeded"
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "Completed" and term["exitCode"] == 0
    assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])
    ref = pod["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "Job" and ref["controller"] is True and ref["uid"] == uid
    events = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json",
                                        "--field-selector", "involvedObject.kind=Job").stdout)["items"]
    reasons = {(e["reason"], e["message"]) for e in events}
    assert ("SuccessfulCreate", f"Created pod: {pod['metadata']['name']}") in reasons
    assert ("Completed", "Job completed") in reasons
    # the "all" category includes jobs
    assert "job.batch/hello" in cluster.kubectl("get", "all", "-n", ns).stdout


def test_cronjob_kind_and_job_from_cronjob(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "cronjob", "cj", "-n", ns, "--image=busybox", "--schedule=0 0 1 1 *", "--",
                    "echo", "hi")
    cj = _get(cluster, ns, "cronjob", "cj")
    assert cj["spec"]["concurrencyPolicy"] == "Allow" and cj["spec"]["suspend"] is False
    assert cj["spec"]["successfulJobsHistoryLimit"] == 3 and cj["spec"]["failedJobsHistoryLimit"] == 1
    header, rows = table(cluster.kubectl("get", "cj", "-n", ns).stdout)
    assert header == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]
    assert rows[0]["TIMEZONE"] == "<none>" and rows[0]["SUSPEND"] == "False" and rows[0]["LAST SCHEDULE"] == "<none>"
    cluster.kubectl("create", "job", "manual", "-n", ns, "--from=cronjob/cj")
    job = _get(cluster, ns, "job", "manual")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cluster.kubectl("wait", "--for=condition=complete", "job/manual", "-n", ns, "--timeout=30s")


def test_parallel_completions_never_exceed_parallelism(cluster: KubelingCluster, ns: str) -> None:
    api = k8s.CoreV1Api(cluster.api_client())
    batch = k8s.BatchV1Api(cluster.api_client())
    seen_max = 0
    stop = threading.Event()
    live: dict[str, bool] = {}

    def watcher() -> None:
        nonlocal seen_max
        w = watch.Watch()
        for ev in w.stream(api.list_namespaced_pod, ns, label_selector="batch.kubernetes.io/job-name=par",
                           timeout_seconds=60):
            pod = ev["object"]
            phase = pod.status.phase if pod.status else None
            active = ev["type"] != "DELETED" and phase not in ("Succeeded", "Failed") and \
                pod.metadata.deletion_timestamp is None
            live[pod.metadata.name] = active
            seen_max = max(seen_max, sum(live.values()))
            if stop.is_set():
                w.stop()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    batch.create_namespaced_job(ns, _job("par", completions=6, parallelism=2,
                                         annotations={"kubeling.dev/run-duration": "0.5"}))
    wait_for(lambda: _cond(_get(cluster, ns, "job", "par"), "Complete"), 60, what="job par complete")
    stop.set()
    job = batch.read_namespaced_job("par", ns)
    assert job.status.succeeded == 6
    assert len(_pods(cluster, ns, "par")) == 6
    assert 1 <= seen_max <= 2


def test_indexed_job(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, ns, _job("idx", completions=3, parallelism=3, completionMode="Indexed"))
    cluster.kubectl("wait", "--for=condition=complete", "job/idx", "-n", ns, "--timeout=30s")
    job = _get(cluster, ns, "job", "idx")
    assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
    pods = _pods(cluster, ns, "idx")
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"]
    for i, p in by_index.items():
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == i
        assert p["spec"]["hostname"] == f"idx-{i}"
        assert p["metadata"]["name"].startswith(f"idx-{i}-")
        env = p["spec"]["containers"][0]["env"]
        assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1",
            "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}} in env


def test_backoff_limit_exceeded(cluster: KubelingCluster, ns: str) -> None:
    # backoffLimit 0: the first failure fails the job, no back-off wait involved
    _apply(cluster, ns, _job("bad", backoffLimit=0, annotations=FAIL))
    cluster.kubectl("wait", "--for=condition=failed", "job/bad", "-n", ns, "--timeout=30s")
    job = _get(cluster, ns, "job", "bad")
    assert job["status"]["failed"] == 1
    assert [c["type"] for c in job["status"]["conditions"]] == ["FailureTarget", "Failed"]
    failed = _cond(job, "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    (pod,) = _pods(cluster, ns, "bad")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    _, rows = table(cluster.kubectl("get", "job", "bad", "-n", ns).stdout)
    assert rows[0]["STATUS"] == "Failed" and rows[0]["COMPLETIONS"] == "0/1"


def test_backoff_limit_with_retry(cluster: KubelingCluster, ns: str) -> None:
    """backoffLimit 1: one retry after the 10 s pod-failure back-off, then Failed."""
    _apply(cluster, ns, _job("retry", backoffLimit=1, annotations=FAIL))
    cluster.kubectl("wait", "--for=condition=failed", "job/retry", "-n", ns, "--timeout=45s")
    job = _get(cluster, ns, "job", "retry")
    assert job["status"]["failed"] == 2
    assert len(_pods(cluster, ns, "retry")) == 2


def test_active_deadline_seconds(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, ns, _job("slow", activeDeadlineSeconds=2, annotations={"kubeling.dev/run-duration": "600"}))
    cluster.kubectl("wait", "--for=condition=failed", "job/slow", "-n", ns, "--timeout=40s")
    job = _get(cluster, ns, "job", "slow")
    assert _cond(job, "Failed")["reason"] == "DeadlineExceeded"
    assert _cond(job, "Failed")["message"] == "Job was active longer than specified deadline"
    assert job["status"].get("active", 0) == 0
    wait_for(lambda: all(p["metadata"].get("deletionTimestamp") or p["status"]["phase"] in ("Failed", "Succeeded")
                         for p in _pods(cluster, ns, "slow")), 30, what="the deadline's pods stopped")


def test_suspend_and_resume(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, ns, _job("sus", annotations={"kubeling.dev/run-duration": "600"}))
    wait_for(lambda: _get(cluster, ns, "job", "sus")["status"].get("active") == 1, 30, what="one active pod")
    cluster.kubectl("patch", "job", "sus", "-n", ns, "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: (_cond(_get(cluster, ns, "job", "sus"), "Suspended") or {}).get("status") == "True", 30,
             what="Suspended condition")
    wait_for(lambda: not _pods(cluster, ns, "sus"), 40, what="the suspended job's pods gone")
    job = _get(cluster, ns, "job", "sus")
    assert _cond(job, "Suspended")["reason"] == "JobSuspended" and job["status"].get("active", 0) == 0
    _, rows = table(cluster.kubectl("get", "job", "sus", "-n", ns).stdout)
    assert rows[0]["STATUS"] == "Suspended"
    cluster.kubectl("patch", "job", "sus", "-n", ns, "-p", '{"spec":{"suspend":false}}')
    wait_for(lambda: _get(cluster, ns, "job", "sus")["status"].get("active") == 1, 30, what="resumed pod")
    cond = _cond(_get(cluster, ns, "job", "sus"), "Suspended")
    assert cond["status"] == "False" and cond["reason"] == "JobResumed"


def test_ttl_after_finished_deletes_job_and_pods(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, ns, _job("ttl", ttlSecondsAfterFinished=1))
    batch = k8s.BatchV1Api(cluster.api_client())

    def gone() -> bool:
        try:
            batch.read_namespaced_job("ttl", ns)
        except ApiException as e:
            return e.status == 404
        return False

    wait_for(gone, 40, what="job deleted after its TTL")
    wait_for(lambda: not _pods(cluster, ns, "ttl"), 30, what="its pods deleted")


def test_kill_mid_job_no_extra_pods(make_cluster: Any) -> None:
    c = make_cluster()
    c.kubectl("apply", "-f", "-", input=json.dumps(
        _job("crash", completions=4, parallelism=2, annotations={"kubeling.dev/run-duration": "1.5"})))
    wait_for(lambda: len(_pods(c, "default", "crash")) >= 2, 30, what="first pods")
    c.kill()
    c.start()
    wait_for(lambda: _cond(_get(c, "default", "job", "crash"), "Complete"), 60, what="job complete after restart")
    job = _get(c, "default", "job", "crash")
    assert job["status"]["succeeded"] == 4
    assert len(_pods(c, "default", "crash")) == 4


@pytest.mark.parametrize("spec,causes", [
    ({"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
     [("FieldValueRequired", "spec.template.spec.restartPolicy",
       'Required value: valid values: "OnFailure", "Never"')]),
    ({"parallelism": -1, "completionMode": "Indexed",
      "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
     [("FieldValueInvalid", "spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
      ("FieldValueRequired", "spec.completions", "Required value: when completion mode is Indexed")]),
])
def test_invalid_job(cluster: KubelingCluster, ns: str, spec: dict, causes: list[tuple[str, str, str]]) -> None:
    batch = k8s.BatchV1Api(cluster.api_client())
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "inv"}, "spec": spec}
    with pytest.raises(ApiException) as ei:
        batch.create_namespaced_job(ns, body)
    assert ei.value.status == 422
    st = json.loads(ei.value.body)
    got = [(c["reason"], c["field"], c["message"]) for c in st["details"]["causes"]]
    assert got == causes


def test_job_immutable_fields_and_cron_validation(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, ns, _job("imm", suspend=True))
    r = cluster.kubectl("patch", "job", "imm", "-n", ns, "-p", '{"spec":{"completions":3}}', check=False)
    assert r.returncode != 0 and "spec.completions: Invalid value: 3: field is immutable" in r.stderr
    r = cluster.kubectl("create", "cronjob", "badcj", "-n", ns, "--image=busybox", "--schedule=70 * * * *",
                        check=False)
    assert 'spec.schedule: Invalid value: "70 * * * *": end of range (70) above maximum (59): 70' in r.stderr
    r = cluster.kubectl("create", "cronjob", "badcj", "-n", ns, "--image=busybox", "--schedule=foo", check=False)
    assert 'expected exactly 5 fields, found 1: [foo]' in r.stderr

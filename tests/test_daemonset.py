"""DaemonSet end to end: a real kubeling process driven by /usr/bin/kubectl, `kubeling node` and the
official `kubernetes` client.

Covers the seed walkthrough (nginx-ds.yaml), the control-plane toleration, nodes joining/leaving and
relabelling, cordoned nodes, failed daemon pods, rolling updates with maxUnavailable and with maxSurge
(checked on a watch of the pods), OnDelete, `kubectl rollout status|history|undo`, cascade deletion
(background, foreground, orphan + re-adoption) and convergence after a crash mid-rollout.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import REPO, KubelingCluster, wait_for

SEED_MANIFEST = f"{REPO}/docs/examples/nginx-ds.yaml"
CP_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
WORKERS = ["node1", "node2"]
ALL_NODES = ["master", "node1", "node2"]


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    """A cluster of its own: these tests add, relabel, taint and cordon nodes."""
    c = KubelingCluster(str(tmp_path_factory.mktemp("daemonset")),
                        ("--pod-start-delay", "0.3", "--pod-gc-quarantine", "1"), name="daemonset")
    c.start()
    assert c.wait_nodes_ready(ALL_NODES, timeout=30)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def dns_(kc: KubelingCluster) -> Iterator[str]:
    """A fresh namespace on the module cluster."""
    name = "ds-" + uuid.uuid4().hex[:8]
    kc.kubectl("create", "namespace", name)
    yield name
    kc.kubectl("delete", "namespace", name, "--wait=false", check=False)


# ---- helpers --------------------------------------------------------------------------------------

def kubeling_node(c: KubelingCluster, *args: str) -> subprocess.CompletedProcess:
    cp = subprocess.run([sys.executable, "-m", "kubeling", "node", *args, "--data-dir", c.data_dir],
                        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    return cp


def manifest(name: str, ns: str, *, tolerations: list[dict[str, Any]] | None = None,
             strategy: dict[str, Any] | None = None, node_selector: dict[str, str] | None = None,
             image: str = "nginx:1.7.9", min_ready: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "nginx", "image": image}],
                            "terminationGracePeriodSeconds": 1}
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    ds: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
    }
    if strategy:
        ds["spec"]["updateStrategy"] = strategy
    if min_ready:
        ds["spec"]["minReadySeconds"] = min_ready
    return ds


def apply(c: KubelingCluster, obj: dict[str, Any]) -> str:
    return c.kubectl("apply", "-f", "-", input=json.dumps(obj)).stdout


def pods(c: KubelingCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    return json.loads(c.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]


def ready(pod: dict[str, Any]) -> bool:
    return any(x["type"] == "Ready" and x["status"] == "True" for x in (pod.get("status") or {}).get("conditions") or ())


def running_by_node(c: KubelingCluster, ns: str, selector: str) -> dict[str, list[str]]:
    """Node -> names of its live (not deleting) Ready pods."""
    out: dict[str, list[str]] = {}
    for p in pods(c, ns, selector):
        if p["metadata"].get("deletionTimestamp") or not ready(p):
            continue
        out.setdefault(p["spec"].get("nodeName") or "", []).append(p["metadata"]["name"])
    return out


def wait_on_nodes(c: KubelingCluster, ns: str, selector: str, nodes: list[str], timeout: float = 30) -> dict:
    """Exactly one Ready pod on each of nodes and none elsewhere (deleting pods aside)."""
    def check() -> Any:
        live = [p for p in pods(c, ns, selector) if not p["metadata"].get("deletionTimestamp")]
        by = {}
        for p in live:
            by.setdefault(p["spec"].get("nodeName") or "", []).append(p)
        if sorted(by) != sorted(nodes) or any(len(v) != 1 or not ready(v[0]) for v in by.values()):
            return None
        return {k: v[0] for k, v in by.items()}
    return wait_for(check, timeout=timeout, what=f"one Ready pod on each of {nodes}")


def ds_status(c: KubelingCluster, ns: str, name: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", "ds", name, "-n", ns, "-o", "json").stdout)


def rolled_out(c: KubelingCluster, ns: str, name: str, timeout: float = 60) -> str:
    return c.kubectl("rollout", "status", f"ds/{name}", "-n", ns, f"--timeout={int(timeout)}s",
                     timeout=timeout + 10).stdout


class PodWatch:
    """Pods of a namespace as seen on a watch (kubernetes client), with an invariant checked after every event."""

    def __init__(self, c: KubelingCluster, ns: str, check: Any) -> None:
        from kubernetes import client, watch

        self.api = c.api_client()
        self.core = client.CoreV1Api(self.api)
        self.w = watch.Watch()
        self.ns = ns
        self.check = check
        self.state: dict[str, dict[str, Any]] = {}
        self.violations: list[str] = []
        self.events = 0
        lst = self.core.list_namespaced_pod(ns)
        for p in lst.items:
            obj = self.api.sanitize_for_serialization(p)
            self.state[obj["metadata"]["name"]] = obj
        rv = lst.metadata.resource_version
        self.t = threading.Thread(target=self._run, args=(rv,), daemon=True)
        self.t.start()

    def _run(self, rv: str) -> None:
        try:
            for ev in self.w.stream(self.core.list_namespaced_pod, self.ns, resource_version=rv,
                                    timeout_seconds=120):
                obj = self.api.sanitize_for_serialization(ev["object"])
                name = obj["metadata"]["name"]
                if ev["type"] == "DELETED":
                    self.state.pop(name, None)
                else:
                    self.state[name] = obj
                self.events += 1
                msg = self.check(self.state)
                if msg:
                    self.violations.append(msg)
        except Exception as e:  # pragma: no cover - reported by the test
            self.violations.append(f"watch failed: {e}")

    def stop(self) -> None:
        self.w.stop()
        self.t.join(10)
        self.api.close()


def available_nodes(state: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Node -> number of Ready, not deleting pods."""
    out: dict[str, int] = {}
    for p in state.values():
        n = p["spec"].get("nodeName")
        if n and ready(p) and not p["metadata"].get("deletionTimestamp"):
            out[n] = out.get(n, 0) + 1
    return out


# ---- the seed walkthrough ---------------------------------------------------------------------------

def test_seed_walkthrough(kc: KubelingCluster) -> None:
    out = kc.kubectl("apply", "-f", SEED_MANIFEST).stdout
    assert out.strip() == "daemonset.apps/nginx-ds created"
    try:
        on = wait_on_nodes(kc, "default", "k8s-app=nginx", WORKERS)
        assert all(re.fullmatch(r"nginx-ds-[bcdfghjklmnpqrstvwxz2456789]{5}", p["metadata"]["name"])
                   for p in on.values())
        wide = kc.kubectl("get", "pods", "-l", "k8s-app=nginx", "-o", "wide").stdout.splitlines()
        assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                                   "READINESS", "GATES"]
        rows = sorted(line.split() for line in wide[1:])
        assert [r[1:4] for r in rows] == [["1/1", "Running", "0"]] * 2
        assert sorted(r[6] for r in rows) == WORKERS
        assert all(r[5].startswith("10.244.") for r in rows)

        # daemon pods: controller ref, revision hash, template generation, daemon tolerations, affinity
        p = on["node1"]
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == \
            ("DaemonSet", "nginx-ds", True, True)
        assert p["metadata"]["labels"]["pod-template-generation"] == "1"
        assert p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": ["node1"]}]}]}
        keys = {(t["key"], t["effect"]) for t in p["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
        assert ("node.kubernetes.io/not-ready", "NoExecute") in keys

        def ds_row() -> list[str] | None:
            lines = kc.kubectl("get", "ds").stdout.splitlines()
            row = lines[1].split()
            return lines if row[1:6] == ["2"] * 5 else None
        lines = wait_for(ds_row, what="ds status 2/2/2/2/2")
        assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE",
                                    "SELECTOR", "AGE"]
        assert lines[1].split()[:7] == ["nginx-ds", "2", "2", "2", "2", "2", "<none>"]
        wide = kc.kubectl("get", "ds", "-o", "wide").stdout.splitlines()
        assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
        assert wide[1].split()[-3:] == ["nginx", "nginx:1.7.9", "k8s-app=nginx"]
        st = ds_status(kc, "default", "nginx-ds")["status"]
        assert st == {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberAvailable": 2,
                      "numberMisscheduled": 0, "numberReady": 2, "observedGeneration": 1,
                      "updatedNumberScheduled": 2}

        assert rolled_out(kc, "default", "nginx-ds") == 'daemon set "nginx-ds" successfully rolled out\n'
        revs = kc.kubectl("get", "controllerrevisions").stdout.splitlines()
        assert revs[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
        row = revs[1].split()
        assert re.fullmatch(r"nginx-ds-[bcdfghjklmnpqrstvwxz2456789]+", row[0])
        assert row[1:3] == ["daemonset.apps/nginx-ds", "1"]
        assert p["metadata"]["labels"]["controller-revision-hash"] == row[0][len("nginx-ds-"):]

        events = json.loads(kc.kubectl("get", "events", "--field-selector",
                                       "involvedObject.kind=DaemonSet,involvedObject.name=nginx-ds",
                                       "-o", "json").stdout)["items"]
        created = sorted(e["message"] for e in events if e["reason"] == "SuccessfulCreate")
        assert created == sorted(f"Created pod: {q['metadata']['name']}" for q in on.values())
        assert all(e["source"]["component"] == "daemonset-controller" for e in events)

        # tolerating the control-plane taint adds the master pod
        kc.kubectl("patch", "ds", "nginx-ds", "-p",
                   json.dumps({"spec": {"template": {"spec": {"tolerations": [CP_TOLERATION]}}}}))
        wait_on_nodes(kc, "default", "k8s-app=nginx", ALL_NODES)
        rolled_out(kc, "default", "nginx-ds")
        st = ds_status(kc, "default", "nginx-ds")
        assert st["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
        assert st["status"]["desiredNumberScheduled"] == 3 and st["status"]["observedGeneration"] == 2
        assert all(q["metadata"]["labels"]["pod-template-generation"] == "2"
                   for q in pods(kc, "default", "k8s-app=nginx") if not q["metadata"].get("deletionTimestamp"))
    finally:
        kc.kubectl("delete", "-f", SEED_MANIFEST, check=False)
    # background cascade: pods and revisions go with the set
    wait_for(lambda: not pods(kc, "default", "k8s-app=nginx"), what="pods garbage collected")
    wait_for(lambda: "nginx-ds" not in kc.kubectl("get", "controllerrevisions").stdout,
             what="revisions garbage collected")


# ---- nodes joining, leaving, changing ----------------------------------------------------------------

def test_node_added_and_removed(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("agent", dns_))
    wait_on_nodes(kc, dns_, "app=agent", WORKERS)
    kubeling_node(kc, "add", "node3")
    try:
        on = wait_on_nodes(kc, dns_, "app=agent", WORKERS + ["node3"])
        wait_for(lambda: ds_status(kc, dns_, "agent")["status"].get("numberReady") == 3, what="3 ready")
    finally:
        kubeling_node(kc, "remove", "node3")
    # the pod on the removed node is garbage collected (pod GC; quarantine 1s here)
    wait_for(lambda: on["node3"]["metadata"]["name"] not in
             [p["metadata"]["name"] for p in pods(kc, dns_, "app=agent")], timeout=60, what="node3 pod removed")
    wait_on_nodes(kc, dns_, "app=agent", WORKERS)
    wait_for(lambda: ds_status(kc, dns_, "agent")["status"].get("desiredNumberScheduled") == 2,
             what="desired back to 2")


def test_relabel_out_of_node_selector(kc: KubelingCluster, dns_: str) -> None:
    label = f"ds-test-{dns_}"
    kc.kubectl("label", "node", "node1", "node2", f"{label}=yes")
    try:
        apply(kc, manifest("sel", dns_, node_selector={label: "yes"}))
        wait_on_nodes(kc, dns_, "app=sel", WORKERS)
        wide = kc.kubectl("get", "ds", "sel", "-n", dns_).stdout.splitlines()
        assert wide[1].split()[6] == f"{label}=yes"
        kc.kubectl("label", "node", "node1", f"{label}-")
        wait_on_nodes(kc, dns_, "app=sel", ["node2"])
        wait_for(lambda: ds_status(kc, dns_, "sel")["status"].get("desiredNumberScheduled") == 1
                 and ds_status(kc, dns_, "sel")["status"].get("numberMisscheduled") == 0, what="status 1/0")
        events = kc.kubectl("get", "events", "-n", dns_, "--field-selector", "reason=SuccessfulDelete").stdout
        assert "Deleted pod: sel-" in events
        kc.kubectl("label", "node", "node1", f"{label}=yes")
        wait_on_nodes(kc, dns_, "app=sel", WORKERS)
    finally:
        kc.kubectl("label", "node", "node1", "node2", f"{label}-", check=False)


def test_cordoned_node_still_gets_daemon_pod(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("cord", dns_))
    before = wait_on_nodes(kc, dns_, "app=cord", WORKERS)
    kc.kubectl("cordon", "node2")
    try:
        kc.kubectl("delete", "pod", "-n", dns_, before["node2"]["metadata"]["name"])
        after = wait_on_nodes(kc, dns_, "app=cord", WORKERS)
        assert after["node2"]["metadata"]["name"] != before["node2"]["metadata"]["name"]
    finally:
        kc.kubectl("uncordon", "node2")


def test_no_execute_taint_evicts_no_schedule_keeps(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("taint", dns_))
    wait_on_nodes(kc, dns_, "app=taint", WORKERS)
    key = f"ds-test-{dns_}"
    kc.kubectl("taint", "node", "node1", f"{key}=x:NoSchedule")
    try:
        # an existing pod stays, but counts as misscheduled
        wait_for(lambda: ds_status(kc, dns_, "taint")["status"].get("numberMisscheduled") == 1, what="misscheduled")
        wait_on_nodes(kc, dns_, "app=taint", WORKERS)
        kc.kubectl("taint", "node", "node1", f"{key}=x:NoExecute")
        wait_on_nodes(kc, dns_, "app=taint", ["node2"])
    finally:
        kc.kubectl("taint", "node", "node1", f"{key}-", check=False)
    wait_on_nodes(kc, dns_, "app=taint", WORKERS)


def test_relabelled_pod_is_released_and_replaced(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("rel", dns_))
    on = wait_on_nodes(kc, dns_, "app=rel", WORKERS)
    victim = on["node2"]["metadata"]["name"]
    kc.kubectl("label", "pod", victim, "-n", dns_, "app=other", "--overwrite")

    def released() -> bool:
        p = json.loads(kc.kubectl("get", "pod", victim, "-n", dns_, "-o", "json").stdout)
        return not p["metadata"].get("ownerReferences")
    wait_for(released, what="ownerReference removed from the relabelled pod")
    after = wait_on_nodes(kc, dns_, "app=rel", WORKERS)
    assert after["node2"]["metadata"]["name"] != victim
    kc.kubectl("delete", "pod", victim, "-n", dns_, "--wait=false")


def test_failed_daemon_pod_is_replaced(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("fail", dns_))
    on = wait_on_nodes(kc, dns_, "app=fail", WORKERS)
    victim = on["node1"]["metadata"]["name"]
    kc.kubectl("patch", "pod", victim, "-n", dns_, "--subresource=status", "--type=merge",
               "-p", '{"status":{"phase":"Failed"}}')
    after = wait_on_nodes(kc, dns_, "app=fail", WORKERS)
    assert after["node1"]["metadata"]["name"] != victim
    events = json.loads(kc.kubectl("get", "events", "-n", dns_, "-o", "json").stdout)["items"]
    msgs = [(e["type"], e["reason"], e["message"]) for e in events]
    assert ("Warning", "FailedDaemonPod",
            f"Found failed daemon pod {dns_}/{victim} on node node1, will try to kill it") in msgs
    assert ("Normal", "SuccessfulDelete", f"Deleted pod: {victim}") in msgs


# ---- updates ---------------------------------------------------------------------------------------

def _strategy(max_unavailable: Any, max_surge: Any = 0) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": max_surge}}


def test_rolling_update_max_unavailable_one_at_a_time(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("ru", dns_, tolerations=[CP_TOLERATION], strategy=_strategy(1)))
    wait_on_nodes(kc, dns_, "app=ru", ALL_NODES)
    peak = {"unavailable": 0}

    def check(state: dict[str, dict[str, Any]]) -> str | None:
        avail = available_nodes(state)
        unavailable = sum(1 for n in ALL_NODES if avail.get(n, 0) == 0)
        peak["unavailable"] = max(peak["unavailable"], unavailable)
        if unavailable > 1:
            return f"{unavailable} nodes without an available pod: {sorted(avail)}"
        return None

    w = PodWatch(kc, dns_, check)
    try:
        kc.kubectl("set", "image", "ds/ru", "nginx=nginx:1.9.1", "-n", dns_)
        out = rolled_out(kc, dns_, "ru")
        assert 'daemon set "ru" successfully rolled out' in out
        final = wait_on_nodes(kc, dns_, "app=ru", ALL_NODES)
        assert {p["spec"]["containers"][0]["image"] for p in final.values()} == {"nginx:1.9.1"}
        time.sleep(0.5)
    finally:
        w.stop()
    assert w.violations == []
    assert peak["unavailable"] == 1, "the update must have replaced pods (one node at a time)"
    st = ds_status(kc, dns_, "ru")["status"]
    assert st["updatedNumberScheduled"] == 3 and st["numberAvailable"] == 3 and st["observedGeneration"] == 2


def test_rolling_update_max_surge_new_pod_ready_before_old_deleted(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("surge", dns_, strategy=_strategy(0, 1)))
    wait_on_nodes(kc, dns_, "app=surge", WORKERS)
    seen = {"two": 0}

    def check(state: dict[str, dict[str, Any]]) -> str | None:
        per_node: dict[str, int] = {}
        for p in state.values():
            n = p["spec"].get("nodeName")
            if n and not p["metadata"].get("deletionTimestamp"):  # terminating pods no longer count
                per_node[n] = per_node.get(n, 0) + 1
        if any(v > 2 for v in per_node.values()):
            return f"more than two pods on a node: {per_node}"
        surging = [n for n, v in per_node.items() if v == 2]
        if len(surging) > 1:
            return f"surging on more than maxSurge=1 nodes: {surging}"
        seen["two"] += bool(surging)
        avail = available_nodes(state)
        missing = [n for n in WORKERS if avail.get(n, 0) == 0]
        if missing:
            return f"no available pod on {missing} (maxUnavailable 0)"
        return None

    w = PodWatch(kc, dns_, check)
    try:
        kc.kubectl("set", "image", "ds/surge", "nginx=nginx:1.9.1", "-n", dns_)
        rolled_out(kc, dns_, "surge")
        final = wait_on_nodes(kc, dns_, "app=surge", WORKERS)
        assert {p["spec"]["containers"][0]["image"] for p in final.values()} == {"nginx:1.9.1"}
        time.sleep(0.5)
    finally:
        w.stop()
    assert w.violations == []
    assert seen["two"] > 0, "a new pod must have run next to an old one"


def test_on_delete_strategy(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("od", dns_, strategy={"type": "OnDelete"}))
    before = wait_on_nodes(kc, dns_, "app=od", WORKERS)
    kc.kubectl("set", "image", "ds/od", "nginx=nginx:1.9.1", "-n", dns_)
    wait_for(lambda: ds_status(kc, dns_, "od")["status"].get("observedGeneration") == 2, what="observed")
    time.sleep(1.5)
    same = wait_on_nodes(kc, dns_, "app=od", WORKERS)
    assert {n: p["metadata"]["name"] for n, p in same.items()} == \
        {n: p["metadata"]["name"] for n, p in before.items()}
    assert "updatedNumberScheduled" not in ds_status(kc, dns_, "od")["status"]  # 0 is omitted (omitempty)
    cp = kc.kubectl("rollout", "status", "ds/od", "-n", dns_, check=False)
    assert cp.returncode != 0 and "rollout status is only available for RollingUpdate strategy type" in cp.stderr
    kc.kubectl("delete", "pod", "-n", dns_, before["node1"]["metadata"]["name"])
    after = wait_on_nodes(kc, dns_, "app=od", WORKERS)
    assert after["node1"]["spec"]["containers"][0]["image"] == "nginx:1.9.1"
    assert after["node2"]["spec"]["containers"][0]["image"] == "nginx:1.7.9"
    wait_for(lambda: ds_status(kc, dns_, "od")["status"].get("updatedNumberScheduled") == 1, what="1 updated")


def test_rollout_history_and_undo(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("hist", dns_))
    wait_on_nodes(kc, dns_, "app=hist", WORKERS)
    rolled_out(kc, dns_, "hist")
    kc.kubectl("annotate", "ds", "hist", "-n", dns_, "kubernetes.io/change-cause=image 1.9.1")
    kc.kubectl("set", "image", "ds/hist", "nginx=nginx:1.9.1", "-n", dns_)
    rolled_out(kc, dns_, "hist")
    hist = kc.kubectl("rollout", "history", "ds/hist", "-n", dns_).stdout.splitlines()
    assert hist[0].strip() == "daemonset.apps/hist"
    assert hist[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert [h.split(None, 1) for h in hist[2:4]] == [["1", "<none>"], ["2", "image 1.9.1"]]
    detail = kc.kubectl("rollout", "history", "ds/hist", "-n", dns_, "--revision=1").stdout
    assert "nginx:1.7.9" in detail

    assert kc.kubectl("rollout", "undo", "ds/hist", "-n", dns_).stdout.strip() == "daemonset.apps/hist rolled back"
    rolled_out(kc, dns_, "hist")
    final = wait_on_nodes(kc, dns_, "app=hist", WORKERS)
    assert {p["spec"]["containers"][0]["image"] for p in final.values()} == {"nginx:1.7.9"}
    # revision 1 became revision 3
    hist = kc.kubectl("rollout", "history", "ds/hist", "-n", dns_).stdout.splitlines()
    assert [h.split(None, 1)[0] for h in hist[2:4]] == ["2", "3"]
    out = kc.kubectl("rollout", "undo", "ds/hist", "-n", dns_, "--to-revision=3").stdout
    assert out.strip() == "daemonset.apps/hist skipped rollback (current template already matches revision 3)"
    cp = kc.kubectl("rollout", "undo", "ds/hist", "-n", dns_, "--to-revision=7", check=False)
    assert cp.returncode != 0 and "unable to find specified revision 7 in history" in cp.stderr
    revs = json.loads(kc.kubectl("get", "controllerrevisions", "-n", dns_, "-o", "json").stdout)["items"]
    assert sorted(r["revision"] for r in revs) == [2, 3]
    assert all(r["metadata"]["ownerReferences"][0]["name"] == "hist" for r in revs)


def test_python_client_status_fields(kc: KubelingCluster, dns_: str) -> None:
    from kubernetes import client

    api = kc.api_client()
    try:
        apps = client.AppsV1Api(api)
        body = manifest("py", dns_, strategy=_strategy("50%"), min_ready=1)
        apps.create_namespaced_daemon_set(dns_, body)

        def status() -> Any:
            ds = apps.read_namespaced_daemon_set_status("py", dns_)
            st = ds.status
            return st if st.number_available == 2 and st.observed_generation == 1 else None
        st = wait_for(status, timeout=30, what="2 available after minReadySeconds")
        assert (st.desired_number_scheduled, st.current_number_scheduled, st.number_ready,
                st.updated_number_scheduled, st.number_misscheduled) == (2, 2, 2, 2, 0)
        assert st.number_unavailable in (None, 0)
        ds = apps.read_namespaced_daemon_set("py", dns_)
        assert ds.spec.update_strategy.rolling_update.max_unavailable == "50%"
    finally:
        api.close()


# ---- deletion -------------------------------------------------------------------------------------

def test_cascade_orphan_then_adoption(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("orph", dns_))
    before = wait_on_nodes(kc, dns_, "app=orph", WORKERS)
    kc.kubectl("delete", "ds", "orph", "-n", dns_, "--cascade=orphan")
    left = pods(kc, dns_, "app=orph")
    assert sorted(p["metadata"]["name"] for p in left) == sorted(p["metadata"]["name"] for p in before.values())
    assert all(not p["metadata"].get("ownerReferences") for p in left)
    revs = json.loads(kc.kubectl("get", "controllerrevisions", "-n", dns_, "-o", "json").stdout)["items"]
    assert len(revs) == 1 and not revs[0]["metadata"].get("ownerReferences")
    # the same template again: the orphans and the revision are adopted, nothing is replaced
    apply(kc, manifest("orph", dns_))
    uid = ds_status(kc, dns_, "orph")["metadata"]["uid"]

    def adopted() -> bool:
        ps = pods(kc, dns_, "app=orph")
        return len(ps) == 2 and all((p["metadata"].get("ownerReferences") or [{}])[0].get("uid") == uid
                                    for p in ps)
    wait_for(adopted, what="pods adopted")
    after = wait_on_nodes(kc, dns_, "app=orph", WORKERS)
    assert {n: p["metadata"]["name"] for n, p in after.items()} == \
        {n: p["metadata"]["name"] for n, p in before.items()}
    revs = json.loads(kc.kubectl("get", "controllerrevisions", "-n", dns_, "-o", "json").stdout)["items"]
    assert len(revs) == 1 and revs[0]["metadata"]["ownerReferences"][0]["uid"] == uid
    wait_for(lambda: ds_status(kc, dns_, "orph")["status"].get("updatedNumberScheduled") == 2, what="up to date")


def test_cascade_foreground(kc: KubelingCluster, dns_: str) -> None:
    apply(kc, manifest("fg", dns_))
    wait_on_nodes(kc, dns_, "app=fg", WORKERS)
    kc.kubectl("delete", "ds", "fg", "-n", dns_, "--cascade=foreground", timeout=90)
    assert kc.kubectl("get", "ds", "fg", "-n", dns_, check=False).returncode != 0
    wait_for(lambda: not pods(kc, dns_, "app=fg"), what="pods deleted")


# ---- restart ---------------------------------------------------------------------------------------

def test_converges_after_crash_mid_rollout(make_cluster: Any) -> None:
    c: KubelingCluster = make_cluster("--pod-start-delay", "0.3", "--nodes", "master,node1,node2,node3,node4")
    workers = ["node1", "node2", "node3", "node4"]
    assert c.wait_nodes_ready(["master", *workers], timeout=30)
    apply(c, manifest("crash", "default", strategy=_strategy(1)))
    wait_on_nodes(c, "default", "app=crash", workers)
    c.kubectl("set", "image", "ds/crash", "nginx=nginx:1.9.1")
    wait_for(lambda: ds_status(c, "default", "crash")["status"].get("observedGeneration") == 2, what="observed")
    time.sleep(0.3)
    c.kill()
    c.start()
    rolled_out(c, "default", "crash", timeout=90)
    final = wait_on_nodes(c, "default", "app=crash", workers, timeout=60)
    assert {p["spec"]["containers"][0]["image"] for p in final.values()} == {"nginx:1.9.1"}
    revs = json.loads(c.kubectl("get", "controllerrevisions", "-o", "json").stdout)["items"]
    assert sorted(r["revision"] for r in revs) == [1, 2]
    time.sleep(1.0)  # nothing further happens: no duplicates, no churn
    again = wait_on_nodes(c, "default", "app=crash", workers)
    assert {n: p["metadata"]["name"] for n, p in again.items()} == \
        {n: p["metadata"]["name"] for n, p in final.items()}

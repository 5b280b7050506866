"""Issue 8: the Deployment and ReplicaSet controllers against a real kubeling, driven by
/usr/bin/kubectl and the `kubernetes` client.

Must-shows: a Deployment of 3 gives one ReplicaSet and 3 Ready pods; `kubectl set image` rolls to a
new ReplicaSet within the surge/unavailable bounds (checked on a watch); `rollout undo` goes back
(revision annotations); `rollout restart` replaces every pod; pods that never get Ready end in
ProgressDeadlineExceeded and a failing `kubectl rollout status`; background deletion removes
ReplicaSets and pods, orphan deletion leaves them. Plus `kubectl get deploy/rs` columns, scale,
pause/resume, Recreate, ReplicaSet adoption and scale-down order, and convergence after a crash.

Expected texts are upstream v1.32's. Pods get Ready through the simulated kubelet;
`kubeling.dev/ready: "false"` keeps a running pod unready.
"""
from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

from conftest import KubelingCluster, wait_for

READY_ANN = "kubeling.dev/ready"
HASH_RE = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{1,10}$")


# ---- helpers ------------------------------------------------------------------------------------------

def deploy(name: str = "web", replicas: int = 3, *, image: str = "nginx:1.7.9", app: str | None = None,
           strategy: dict[str, Any] | None = None, unready: bool = False, **spec: Any) -> dict[str, Any]:
    app = app or name
    tmpl_md: dict[str, Any] = {"labels": {"app": app}}
    if unready:
        tmpl_md["annotations"] = {READY_ANN: "false"}
    body: dict[str, Any] = {
        "replicas": replicas, "selector": {"matchLabels": {"app": app}},
        "template": {"metadata": tmpl_md, "spec": {"terminationGracePeriodSeconds": 1,
                                                   "containers": [{"name": "nginx", "image": image}]}},
        **spec,
    }
    if strategy is not None:
        body["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def apply(cluster: KubelingCluster, ns: str, obj: dict[str, Any]) -> str:
    return cluster.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(obj)).stdout


def kget(cluster: KubelingCluster, ns: str, *args: str) -> Any:
    return json.loads(cluster.kubectl("-n", ns, "get", *args, "-o", "json").stdout)


def is_ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ())


def live_pods(cluster: KubelingCluster, ns: str, app: str) -> list[dict[str, Any]]:
    return [p for p in kget(cluster, ns, "pods", "-l", f"app={app}")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def replica_sets(cluster: KubelingCluster, ns: str, app: str) -> list[dict[str, Any]]:
    return kget(cluster, ns, "rs", "-l", f"app={app}")["items"]


def rollout_status(cluster: KubelingCluster, ns: str, name: str = "web", timeout: str = "90s") -> str:
    return cluster.kubectl("-n", ns, "rollout", "status", f"deploy/{name}", f"--timeout={timeout}",
                           timeout=120).stdout


def annotation(obj: dict[str, Any], key: str) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get(key)


def condition(d: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (d.get("status") or {}).get("conditions") or ():
        if c["type"] == type_:
            return c
    return None


def events_for(cluster: KubelingCluster, ns: str, kind: str, name: str) -> list[dict[str, Any]]:
    items = kget(cluster, ns, "events")["items"]
    return [e for e in items if e["involvedObject"].get("kind") == kind and e["involvedObject"].get("name") == name]


class Watcher(threading.Thread):
    """Collects watch events of one list function (kubernetes client) until stopped."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        from kubernetes import watch

        self.w = watch.Watch()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.events: list[tuple[str, Any]] = []
        self.started_ev = threading.Event()

    def run(self) -> None:
        self.started_ev.set()
        for ev in self.w.stream(self.fn, *self.args, timeout_seconds=120, **self.kwargs):
            self.events.append((ev["type"], ev["object"]))

    def stop(self) -> None:
        self.w.stop()


# ---- must show 1: create, set image within bounds, undo, restart -------------------------------------

def test_deployment_creates_one_replica_set_and_ready_pods(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, deploy("web", 3))
    out = rollout_status(cluster, ns)
    assert 'deployment "web" successfully rolled out' in out
    (rs,) = replica_sets(cluster, ns, "web")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert HASH_RE.match(h)
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert annotation(rs, "deployment.kubernetes.io/revision") == "1"
    assert annotation(rs, "deployment.kubernetes.io/desired-replicas") == "3"
    assert annotation(rs, "deployment.kubernetes.io/max-replicas") == "4"  # 3 + 25% surge rounded up
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("Deployment", "web", True, True)
    assert rs["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                            "observedGeneration": 1}
    pods = live_pods(cluster, ns, "web")
    assert len(pods) == 3 and all(is_ready(p) for p in pods)
    for p in pods:
        assert re.match(rf"^web-{h}-[bcdfghjklmnpqrstvwxz2456789]{{5}}$", p["metadata"]["name"])
        assert p["metadata"]["labels"]["pod-template-hash"] == h
        assert p["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"]

    d = kget(cluster, ns, "deploy", "web")
    assert annotation(d, "deployment.kubernetes.io/revision") == "1"
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    assert "unavailableReplicas" not in st and st["observedGeneration"] == 1
    avail, prog = condition(d, "Available"), condition(d, "Progressing")
    assert (avail["status"], avail["reason"], avail["message"]) == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (prog["status"], prog["reason"], prog["message"]) == (
        "True", "NewReplicaSetAvailable", f'ReplicaSet "web-{h}" has successfully progressed.')

    msgs = [e["message"] for e in events_for(cluster, ns, "Deployment", "web")]
    assert f"Scaled up replica set web-{h} from 0 to 3" in msgs
    created = [e["message"] for e in events_for(cluster, ns, "ReplicaSet", f"web-{h}")
               if e["reason"] == "SuccessfulCreate"]
    assert sorted(created) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)

    # kubectl get columns, plain and wide (reference/kubectl-get-outputs.txt)
    lines = cluster.kubectl("-n", ns, "get", "deploy").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[:4] == ["web", "3/3", "3", "3"]
    lines = cluster.kubectl("-n", ns, "get", "deploy", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert lines[1].split()[5:] == ["nginx", "nginx:1.7.9", "app=web"]
    lines = cluster.kubectl("-n", ns, "get", "rs").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert lines[1].split()[:4] == [f"web-{h}", "3", "3", "3"]
    lines = cluster.kubectl("-n", ns, "get", "rs", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert lines[1].split()[5:] == ["nginx", "nginx:1.7.9", f"app=web,pod-template-hash={h}"]


def test_set_image_rolls_within_bounds_then_undo_and_restart(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    replicas, surge, unavailable = 4, 1, 1
    apply(cluster, ns, deploy("web", replicas, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}))
    rollout_status(cluster, ns)
    (rs1,) = replica_sets(cluster, ns, "web")

    api = cluster.api_client()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    rs_watch = Watcher(apps.list_namespaced_replica_set, ns)
    pod_watch = Watcher(core.list_namespaced_pod, ns)
    rs_watch.start()
    pod_watch.start()
    rs_watch.started_ev.wait()
    pod_watch.started_ev.wait()
    time.sleep(0.5)
    try:
        out = cluster.kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:1.9").stdout
        assert out.strip() == "deployment.apps/web image updated"
        assert 'deployment "web" successfully rolled out' in rollout_status(cluster, ns)
        time.sleep(0.5)
    finally:
        rs_watch.stop()
        pod_watch.stop()
    rs_watch.join(10)
    pod_watch.join(10)

    # On every ReplicaSet event: desired pods never above replicas+maxSurge, available pods never
    # below replicas-maxUnavailable.
    specs: dict[str, int] = {}
    avail: dict[str, int] = {}
    max_total = 0
    min_avail = replicas
    for typ, obj in rs_watch.events:
        name = obj.metadata.name
        if typ == "DELETED":
            specs.pop(name, None)
            avail.pop(name, None)
            continue
        specs[name] = obj.spec.replicas or 0
        avail[name] = (obj.status.available_replicas or 0) if obj.status else 0
        max_total = max(max_total, sum(specs.values()))
        min_avail = min(min_avail, sum(avail.values()))
    assert max_total <= replicas + surge
    assert max_total == replicas + surge  # the surge was used
    assert min_avail >= replicas - unavailable

    # The same on pods: Ready pods that are not terminating never fewer than replicas-maxUnavailable.
    # (The watch starts with one ADDED event per existing pod: count from when all of them are in.)
    state: dict[str, tuple[bool, bool]] = {}
    min_ready = replicas
    synced = False
    for typ, p in pod_watch.events:
        if typ == "DELETED":
            state.pop(p.metadata.name, None)
        else:
            ready = any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
            state[p.metadata.name] = (ready, p.metadata.deletion_timestamp is not None)
        synced = synced or len(state) >= replicas
        if synced:
            min_ready = min(min_ready, sum(1 for r, t in state.values() if r and not t))
    assert min_ready >= replicas - unavailable

    rss = {r["metadata"]["name"]: r for r in replica_sets(cluster, ns, "web")}
    assert len(rss) == 2
    rs2 = next(r for n, r in rss.items() if n != rs1["metadata"]["name"])
    assert rs2["spec"]["replicas"] == replicas and rss[rs1["metadata"]["name"]]["spec"]["replicas"] == 0
    assert rs2["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.9"
    assert annotation(rs2, "deployment.kubernetes.io/revision") == "2"
    pods = live_pods(cluster, ns, "web")
    assert len(pods) == replicas
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.9"}
    d = kget(cluster, ns, "deploy", "web")
    assert annotation(d, "deployment.kubernetes.io/revision") == "2"
    msgs = [e["message"] for e in events_for(cluster, ns, "Deployment", "web")]
    assert any(re.fullmatch(rf"Scaled up replica set {rs2['metadata']['name']} from 0 to \d", m) for m in msgs)
    assert any(re.fullmatch(rf"Scaled down replica set {rs1['metadata']['name']} from \d to \d", m) for m in msgs)

    hist = cluster.kubectl("-n", ns, "rollout", "history", "deploy/web").stdout
    assert re.search(r"REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>", hist), hist

    # rollout undo: back to the first template; its ReplicaSet becomes revision 3 and remembers 1
    out = cluster.kubectl("-n", ns, "rollout", "undo", "deploy/web").stdout
    assert out.strip() == "deployment.apps/web rolled back"
    rollout_status(cluster, ns)
    rss = {r["metadata"]["name"]: r for r in replica_sets(cluster, ns, "web")}
    back = rss[rs1["metadata"]["name"]]
    assert back["spec"]["replicas"] == replicas
    assert annotation(back, "deployment.kubernetes.io/revision") == "3"
    assert annotation(back, "deployment.kubernetes.io/revision-history") == "1"
    assert rss[rs2["metadata"]["name"]]["spec"]["replicas"] == 0
    d = kget(cluster, ns, "deploy", "web")
    assert annotation(d, "deployment.kubernetes.io/revision") == "3"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.7.9"
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    assert {p["spec"]["containers"][0]["image"] for p in live_pods(cluster, ns, "web")} == {"nginx:1.7.9"}
    hist = cluster.kubectl("-n", ns, "rollout", "history", "deploy/web").stdout
    assert re.search(r"REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>", hist), hist
    # undo again to the template of revision 2
    cluster.kubectl("-n", ns, "rollout", "undo", "deploy/web", "--to-revision=2")
    rollout_status(cluster, ns)
    assert {p["spec"]["containers"][0]["image"] for p in live_pods(cluster, ns, "web")} == {"nginx:1.9"}
    skipped = cluster.kubectl("-n", ns, "rollout", "undo", "deploy/web", "--to-revision=4").stdout
    assert "skipped rollback (current template already matches revision 4)" in skipped

    # rollout restart: a new ReplicaSet, every pod replaced
    before = {p["metadata"]["name"] for p in live_pods(cluster, ns, "web")}
    out = cluster.kubectl("-n", ns, "rollout", "restart", "deploy/web").stdout
    assert out.strip() == "deployment.apps/web restarted"
    rollout_status(cluster, ns)

    def replaced() -> list[dict[str, Any]] | None:
        pods = live_pods(cluster, ns, "web")
        return pods if len(pods) == replicas and not before & {p["metadata"]["name"] for p in pods} else None

    pods = wait_for(replaced, 60, what="every pod replaced")
    d = kget(cluster, ns, "deploy", "web")
    restarted_at = d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert all(p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == restarted_at for p in pods)
    assert annotation(d, "deployment.kubernetes.io/revision") == "5"
    assert len(replica_sets(cluster, ns, "web")) == 3


# ---- must show 2: progress deadline ------------------------------------------------------------------

def test_pods_never_ready_exceed_progress_deadline(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, deploy("stuck", 2, progressDeadlineSeconds=3))
    rollout_status(cluster, ns, "stuck")
    # the new template's pods run but never get Ready
    cluster.kubectl("-n", ns, "patch", "deploy/stuck", "-p", json.dumps(
        {"spec": {"template": {"metadata": {"annotations": {READY_ANN: "false"}}}}}))
    started = time.monotonic()
    cp = cluster.kubectl("-n", ns, "rollout", "status", "deploy/stuck", "--timeout=60s", check=False, timeout=90)
    assert cp.returncode != 0
    assert 'error: deployment "stuck" exceeded its progress deadline' in cp.stderr
    assert time.monotonic() - started < 30
    d = kget(cluster, ns, "deploy", "stuck")
    prog = condition(d, "Progressing")
    new_rs = next(r for r in replica_sets(cluster, ns, "stuck") if annotation(r, "deployment.kubernetes.io/revision") == "2")
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert prog["message"] == f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.'
    # the old pods stay: maxUnavailable 25% of 2 rounds down to 0
    assert condition(d, "Available")["status"] == "True"
    assert d["status"]["availableReplicas"] == 2
    # a deployment whose pods are unready from the start reports it too
    apply(cluster, ns, deploy("never", 1, unready=True, progressDeadlineSeconds=2))
    cp = cluster.kubectl("-n", ns, "rollout", "status", "deploy/never", "--timeout=60s", check=False, timeout=90)
    assert cp.returncode != 0 and "exceeded its progress deadline" in cp.stderr
    d = kget(cluster, ns, "deploy", "never")
    assert condition(d, "Available")["reason"] == "MinimumReplicasUnavailable"
    assert d["status"]["unavailableReplicas"] == 1


# ---- must show 3: deletion ---------------------------------------------------------------------------

def test_delete_background_removes_replica_sets_and_pods(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, deploy("web", 2))
    rollout_status(cluster, ns)
    cluster.kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:2")
    rollout_status(cluster, ns)
    assert len(replica_sets(cluster, ns, "web")) == 2
    cluster.kubectl("-n", ns, "delete", "deploy", "web")
    wait_for(lambda: not replica_sets(cluster, ns, "web"), 60, what="replica sets deleted")
    wait_for(lambda: not kget(cluster, ns, "pods", "-l", "app=web")["items"], 60, what="pods deleted")


def test_delete_orphan_leaves_replica_sets_and_pods(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, deploy("web", 2))
    rollout_status(cluster, ns)
    (rs,) = replica_sets(cluster, ns, "web")
    out = cluster.kubectl("-n", ns, "delete", "deploy", "web", "--cascade=orphan").stdout
    assert out.strip() == 'deployment.apps "web" deleted'
    wait_for(lambda: cluster.kubectl("-n", ns, "get", "deploy", "web", check=False).returncode != 0, 30,
             what="deployment gone")
    time.sleep(1.0)
    (left,) = replica_sets(cluster, ns, "web")
    assert left["metadata"]["uid"] == rs["metadata"]["uid"]
    assert not left["metadata"].get("ownerReferences")
    pods = live_pods(cluster, ns, "web")
    assert len(pods) == 2 and all(p["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"] for p in pods)
    # the same deployment created again adopts the orphaned ReplicaSet instead of creating another
    apply(cluster, ns, deploy("web", 2))
    rollout_status(cluster, ns)
    (again,) = replica_sets(cluster, ns, "web")
    assert again["metadata"]["uid"] == rs["metadata"]["uid"]
    assert again["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert {p["metadata"]["uid"] for p in live_pods(cluster, ns, "web")} == {p["metadata"]["uid"] for p in pods}


# ---- scaling, pause/resume, Recreate, ReplicaSets on their own ---------------------------------------

def test_scale_pause_resume_and_proportional_scaling(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    apply(cluster, ns, deploy("web", 3))
    rollout_status(cluster, ns)
    out = cluster.kubectl("-n", ns, "scale", "deploy/web", "--replicas=5").stdout
    assert out.strip() == "deployment.apps/web scaled"
    rollout_status(cluster, ns)
    assert len(live_pods(cluster, ns, "web")) == 5
    apps = client.AppsV1Api(cluster.api_client())
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.spec.replicas == 5 and scale.status.replicas == 5
    assert scale.status.selector == "app=web"

    # paused: a template change makes no new ReplicaSet
    cluster.kubectl("-n", ns, "rollout", "pause", "deploy/web")
    cluster.kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:2")
    d = wait_for(lambda: (lambda d: d if condition(d, "Progressing")["reason"] == "DeploymentPaused" else None)(
        kget(cluster, ns, "deploy", "web")), 30, what="paused condition")
    prog = condition(d, "Progressing")
    assert (prog["status"], prog["message"]) == ("Unknown", "Deployment is paused")
    time.sleep(1.0)
    assert len(replica_sets(cluster, ns, "web")) == 1
    cluster.kubectl("-n", ns, "rollout", "resume", "deploy/web")
    rollout_status(cluster, ns)
    assert {p["spec"]["containers"][0]["image"] for p in live_pods(cluster, ns, "web")} == {"nginx:2"}

    # proportional scaling: 5 -> 10 in the middle of a rollout whose new pods never get Ready
    apply(cluster, ns, deploy("prop", 5, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}}))
    rollout_status(cluster, ns, "prop")
    cluster.kubectl("-n", ns, "patch", "deploy/prop", "-p", json.dumps({"spec": {"template": {
        "metadata": {"annotations": {READY_ANN: "false"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:3"}]}}}}))

    def sizes() -> dict[str, int]:
        return {annotation(r, "deployment.kubernetes.io/revision"): r["spec"]["replicas"]
                for r in replica_sets(cluster, ns, "prop")}

    wait_for(lambda: sizes() == {"1": 5, "2": 3}, 30, what="new replica set at the surge")
    cluster.kubectl("-n", ns, "scale", "deploy/prop", "--replicas=10")
    # 8 replicas (5 old + 3 new, annotated for 5+3) grow to 10+3 = 13 in proportion:
    # old 5*13/8 = 8.1 -> 8, new 3*13/8 = 4.9 -> 5
    wait_for(lambda: sizes() == {"1": 8, "2": 5}, 30, what="proportional scaling")
    msgs = [e["message"] for e in events_for(cluster, ns, "Deployment", "prop")]
    assert any(re.fullmatch(r"Scaled up replica set prop-\w+ from 5 to 8", m) for m in msgs), msgs
    assert any(re.fullmatch(r"Scaled up replica set prop-\w+ from 3 to 5", m) for m in msgs), msgs
    for r in replica_sets(cluster, ns, "prop"):
        assert annotation(r, "deployment.kubernetes.io/desired-replicas") == "10"
        assert annotation(r, "deployment.kubernetes.io/max-replicas") == "13"


def test_min_ready_seconds(cluster: KubelingCluster, ns: str) -> None:
    """Pods count as available only minReadySeconds after they got Ready (ReplicaSet and Deployment)."""
    apply(cluster, ns, deploy("mrs", 2, minReadySeconds=3))

    def ready_not_available() -> Any:
        d = kget(cluster, ns, "deploy", "mrs")
        st = d.get("status") or {}
        return d if st.get("readyReplicas") == 2 and not st.get("availableReplicas") else None

    wait_for(ready_not_available, 30, interval=0.1, what="ready but not yet available")
    t0 = time.monotonic()
    rollout_status(cluster, ns, "mrs")
    assert time.monotonic() - t0 > 1.0
    (rs,) = replica_sets(cluster, ns, "mrs")
    assert rs["spec"]["minReadySeconds"] == 3
    assert rs["status"]["availableReplicas"] == 2


def test_recreate_strategy(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, deploy("rec", 3, strategy={"type": "Recreate"}))
    rollout_status(cluster, ns, "rec")
    old = {p["metadata"]["name"] for p in live_pods(cluster, ns, "rec")}
    cluster.kubectl("-n", ns, "set", "image", "deploy/rec", "nginx=nginx:2")
    # the new ReplicaSet is created only once every old pod is gone
    seen_mixed = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = kget(cluster, ns, "pods", "-l", "app=rec")["items"]
        names = {p["metadata"]["name"] for p in pods}
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        if len(images) > 1:
            seen_mixed = True
        if len(pods) == 3 and not names & old and all(is_ready(p) for p in pods):
            break
        time.sleep(0.1)
    assert not seen_mixed
    rollout_status(cluster, ns, "rec")
    rss = replica_sets(cluster, ns, "rec")
    assert sorted(r["spec"]["replicas"] for r in rss) == [0, 3]
    assert all(annotation(r, "deployment.kubernetes.io/max-replicas") == "3" for r in rss)


def test_replica_set_scale_down_order_and_adoption(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(cluster.api_client())
    core = client.CoreV1Api(cluster.api_client())
    # an orphan pod matching the selector is adopted instead of creating a third pod
    cluster.kubectl("-n", ns, "run", "orphan", "--image=nginx", "--labels=app=rs", "--restart=Never")
    body = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rs"}},
                     "template": {"metadata": {"labels": {"app": "rs"}},
                                  "spec": {"terminationGracePeriodSeconds": 1,
                                           "containers": [{"name": "c", "image": "nginx"}]}}}}
    apps.create_namespaced_replica_set(ns, body)

    def ready_rs() -> Any:
        r = apps.read_namespaced_replica_set("rs", ns)
        return r if (r.status.ready_replicas or 0) == 3 and r.status.observed_generation == 1 else None

    wait_for(ready_rs, 60, what="replica set ready")
    pods = {p.metadata.name: p for p in core.list_namespaced_pod(ns, label_selector="app=rs").items}
    assert len(pods) == 3 and "orphan" in pods
    assert pods["orphan"].metadata.owner_references[0].name == "rs"
    # deletion cost decides which pods go first on scale-down
    keep = sorted(n for n in pods if n != "orphan")[0]
    for n in pods:
        cost = "100" if n == keep else "-5" if n == "orphan" else "0"
        core.patch_namespaced_pod(n, ns, {"metadata": {"annotations": {
            "controller.kubernetes.io/pod-deletion-cost": cost}}})
    apps.patch_namespaced_replica_set_scale("rs", ns, {"spec": {"replicas": 1}})
    wait_for(lambda: [p.metadata.name for p in core.list_namespaced_pod(ns, label_selector="app=rs").items
                      if not p.metadata.deletion_timestamp] == [keep], 60, what="only the costly pod kept")
    deleted = sorted(e["message"] for e in events_for(cluster, ns, "ReplicaSet", "rs")
                     if e["reason"] == "SuccessfulDelete")
    assert deleted == sorted(f"Deleted pod: {n}" for n in pods if n != keep)
    # a pod whose labels stop matching is released and replaced
    core.patch_namespaced_pod(keep, ns, {"metadata": {"labels": {"app": "other"}}})
    wait_for(lambda: not core.read_namespaced_pod(keep, ns).metadata.owner_references, 30, what="released")
    wait_for(lambda: len([p for p in core.list_namespaced_pod(ns, label_selector="app=rs").items
                          if not p.metadata.deletion_timestamp]) == 1, 30, what="replacement pod")
    lines = cluster.kubectl("-n", ns, "get", "rs", "rs").stdout.splitlines()
    assert lines[1].split()[:3] == ["rs", "1", "1"]


def test_replica_set_create_error(cluster: KubelingCluster, ns: str) -> None:
    """A new ReplicaSet the API refuses (its name `<deployment>-<hash>` is too long) is reported as
    Progressing=False ReplicaSetCreateError and a Warning event, as upstream."""
    name = "d" * 250
    apply(cluster, ns, deploy(name, 1, app="long"))

    def failed() -> Any:
        d = kget(cluster, ns, "deploy", name)
        c = condition(d, "Progressing")
        return c if c and c["reason"] == "ReplicaSetCreateError" else None

    c = wait_for(failed, 30, what="ReplicaSetCreateError")
    assert c["status"] == "False"
    assert c["message"].startswith(f'Failed to create new replica set "{name}-')
    assert "must be no more than 253 characters" in c["message"]
    evs = [e for e in events_for(cluster, ns, "Deployment", name) if e["reason"] == "ReplicaSetCreateError"]
    assert evs and evs[0]["type"] == "Warning" and evs[0]["message"] == c["message"]
    assert replica_sets(cluster, ns, "long") == []


# ---- convergence after a crash -----------------------------------------------------------------------

def test_converges_after_crash_mid_rollout(make_cluster: Any) -> None:
    c = make_cluster()
    c.kubectl("create", "namespace", "crash")
    apply(c, "crash", deploy("web", 6))
    rollout_status(c, "crash")
    c.kubectl("-n", "crash", "set", "image", "deploy/web", "nginx=nginx:2")
    time.sleep(0.8)
    c.kill()
    c.start()
    out = rollout_status(c, "crash")
    assert "successfully rolled out" in out
    rss = replica_sets(c, "crash", "web")
    assert len(rss) == 2
    assert sorted(r["spec"]["replicas"] for r in rss) == [0, 6]
    pods = live_pods(c, "crash", "web")
    assert len(pods) == 6 and {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:2"}
    time.sleep(1.0)
    assert len(live_pods(c, "crash", "web")) == 6

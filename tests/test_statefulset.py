"""Issue 4: the StatefulSet controller against a real kubeling, driven by /usr/bin/kubectl and the
`kubernetes` client — the seed's walkthrough and its five promises (identity, storage, ordered
deployment and scaling, ordered deletion, ordered rolling updates), Parallel, partition, OnDelete,
rollout undo, retention policy, orphaning and adoption, and convergence after a crash.

Expected texts are upstream v1.32's (kubectl's messages, the controller's event messages). Pods get
Ready through the simulated kubelet; `kubeling.dev/ready: "false"` keeps a running pod unready.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from conftest import REPO, KubelingCluster, wait_for

EXAMPLES = os.path.join(REPO, "docs", "examples")
READY_ANN = "kubeling.dev/ready"


# ---- helpers ------------------------------------------------------------------------------------------

def sts(name: str = "web", replicas: int = 3, *, image: str = "nginx:1.7.9", policy: str | None = None,
        strategy: dict[str, Any] | None = None, unready: bool = False, claims: bool = True,
        retention: dict[str, str] | None = None, app: str = "nginx") -> dict[str, Any]:
    """A StatefulSet manifest like the seed's (short termination grace so tests stay quick)."""
    tmpl_md: dict[str, Any] = {"labels": {"app": app}}
    if unready:
        tmpl_md["annotations"] = {READY_ANN: "false"}
    spec: dict[str, Any] = {
        "serviceName": "nginx", "replicas": replicas, "selector": {"matchLabels": {"app": app}},
        "template": {"metadata": tmpl_md, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "nginx", "image": image, "ports": [{"name": "web", "containerPort": 80}],
                            **({"volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}
                               if claims else {})}]}},
    }
    if claims:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    if policy:
        spec["podManagementPolicy"] = policy
    if strategy:
        spec["updateStrategy"] = strategy
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}


def apply(cluster: KubelingCluster, ns: str, obj: dict[str, Any]) -> str:
    return cluster.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(obj)).stdout


def kget(cluster: KubelingCluster, ns: str, *args: str) -> Any:
    return json.loads(cluster.kubectl("-n", ns, "get", *args, "-o", "json").stdout)


def pods(cluster: KubelingCluster, ns: str, app: str = "nginx") -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in kget(cluster, ns, "pods", "-l", f"app={app}")["items"]}


def is_ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ())


def image_of(pod: dict[str, Any]) -> str:
    return pod["spec"]["containers"][0]["image"]


def set_status(cluster: KubelingCluster, ns: str, name: str = "web") -> dict[str, Any]:
    return kget(cluster, ns, "statefulset", name).get("status") or {}


def wait_ready(cluster: KubelingCluster, ns: str, n: int, name: str = "web", app: str = "nginx",
               timeout: float = 90) -> dict[str, dict[str, Any]]:
    """Wait until exactly pods <name>-0..n-1 exist, are Ready and not terminating, and status agrees."""
    want = {f"{name}-{i}" for i in range(n)}

    def ok() -> dict[str, dict[str, Any]] | None:
        ps = pods(cluster, ns, app)
        if set(ps) != want or not all(is_ready(p) and not p["metadata"].get("deletionTimestamp")
                                      for p in ps.values()):
            return None
        st = set_status(cluster, ns, name)
        if st.get("readyReplicas", 0) != n or st.get("replicas", 0) != n:
            return None
        return ps

    return wait_for(ok, timeout, what=f"{n} ready pods of {name}")


class PodWatch:
    """Records pod watch events (python client) in a thread: (type, name, phase, ready, deleting)."""

    def __init__(self, cluster: KubelingCluster, ns: str, selector: str = "app=nginx") -> None:
        from kubernetes import client, watch

        self.events: list[tuple[str, str, str, bool, bool]] = []
        self._w = watch.Watch()
        core = client.CoreV1Api(cluster.api_client())
        self._stop = False

        def run() -> None:
            try:
                for ev in self._w.stream(core.list_namespaced_pod, ns, label_selector=selector,
                                         timeout_seconds=240, _preload_content=False):
                    obj = ev["raw_object"]
                    self.events.append((ev["type"], obj["metadata"]["name"],
                                        (obj.get("status") or {}).get("phase", ""), is_ready(obj),
                                        bool(obj["metadata"].get("deletionTimestamp"))))
                    if self._stop:
                        break
            except Exception:  # the watch ends when the test is done
                pass

        self._t = threading.Thread(target=run, daemon=True)
        self._t.start()
        time.sleep(0.5)

    def stop(self) -> None:
        self._stop = True
        self._w.stop()

    def first(self, pred: Any) -> int:
        for i, e in enumerate(self.events):
            if pred(e):
                return i
        return -1


def events_of(cluster: KubelingCluster, ns: str, name: str = "web") -> list[tuple[str, str, str]]:
    evs = kget(cluster, ns, "events", "--field-selector", f"involvedObject.kind=StatefulSet,involvedObject.name={name}")
    items = sorted(evs["items"], key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
    return [(e["type"], e["reason"], e["message"]) for e in items]


# ---- the seed -------------------------------------------------------------------------------------------

def test_seed_walkthrough(make_cluster: Any, tmp_path: Any) -> None:
    """pv.yaml + nginx-sts.yaml verbatim, no default StorageClass: claims bind to the static PVs and
    web-0 is Running before web-1 even exists."""
    c = make_cluster("--no-default-storageclass")
    assert "persistentvolume/pv001 created" in c.kubectl("apply", "-f", os.path.join(EXAMPLES, "pv.yaml")).stdout
    w = PodWatch(c, "default")
    out = c.kubectl("apply", "-f", os.path.join(EXAMPLES, "nginx-sts.yaml")).stdout
    assert out.splitlines() == ["service/nginx created", "statefulset.apps/web created"]
    wait_ready(c, "default", 2)
    w.stop()

    def pvcs() -> dict[str, tuple[str, str]] | None:
        items = json.loads(c.kubectl("get", "pvc", "-o", "json").stdout)["items"]
        got = {p["metadata"]["name"]: (p["status"].get("phase"), p["spec"].get("volumeName")) for p in items}
        return got if all(v[0] == "Bound" for v in got.values()) and len(got) == 2 else None

    got = wait_for(pvcs, 30, what="claims bound")
    assert set(got) == {"www-web-0", "www-web-1"}
    assert {v[1] for v in got.values()} == {"pv001", "pv002"}
    table = c.kubectl("get", "pvc").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                                "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert [ln.split()[:2] for ln in table[1:]] == [["www-web-0", "Bound"], ["www-web-1", "Bound"]]
    # ordered deployment: web-0 Running and Ready before web-1 appears at all
    web0_ready = w.first(lambda e: e[1] == "web-0" and e[2] == "Running" and e[3])
    web1_first = w.first(lambda e: e[1] == "web-1")
    assert 0 <= web0_ready < web1_first, w.events
    assert c.kubectl("get", "sts", "web").stdout.split()[3:5] == ["web", "2/2"]
    # the controller's events, as upstream words them
    evs = events_of(c, "default")
    assert ("Normal", "SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success") in evs
    assert ("Normal", "SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") in evs
    assert ("Normal", "SuccessfulCreate", "create Pod web-1 in StatefulSet web successful") in evs
    described = c.kubectl("describe", "sts", "web").stdout
    assert "create Pod web-1 in StatefulSet web successful" in described
    # identity
    p0 = json.loads(c.kubectl("get", "pod", "web-0", "-o", "json").stdout)
    assert p0["spec"]["hostname"] == "web-0" and p0["spec"]["subdomain"] == "nginx"
    assert p0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert p0["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
    ref = p0["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("StatefulSet", "web",
                                                                                        True, True)
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}} in p0["spec"]["volumes"]


# ---- management policy ----------------------------------------------------------------------------------

def test_ordered_ready_halts_on_unready_pod(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=3, unready=True, claims=False))
    wait_for(lambda: "web-0" in pods(cluster, ns) and pods(cluster, ns)["web-0"]["status"].get("phase") == "Running",
             60, what="web-0 running")
    time.sleep(2)
    assert set(pods(cluster, ns)) == {"web-0"}  # halted: web-0 runs but is not Ready
    cluster.kubectl("-n", ns, "annotate", "pod", "web-0", f"{READY_ANN}=true", "--overwrite")
    wait_for(lambda: "web-1" in pods(cluster, ns), 60, what="web-1 created")
    wait_for(lambda: pods(cluster, ns)["web-1"]["status"].get("phase") == "Running", 60, what="web-1 running")
    time.sleep(2)
    assert set(pods(cluster, ns)) == {"web-0", "web-1"}
    st = set_status(cluster, ns)
    assert st.get("readyReplicas") == 1 and st.get("replicas") == 2
    assert cluster.kubectl("-n", ns, "get", "sts", "web").stdout.split()[4] == "1/3"
    cluster.kubectl("-n", ns, "annotate", "pod", "web-1", f"{READY_ANN}-")
    wait_for(lambda: "web-2" in pods(cluster, ns), 60, what="web-2 created")
    cluster.kubectl("-n", ns, "annotate", "pod", "web-2", f"{READY_ANN}=true", "--overwrite")
    wait_ready(cluster, ns, 3)


def test_scale_down_reverse_ordinal_one_at_a_time(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=3, claims=False))
    wait_ready(cluster, ns, 3)
    w = PodWatch(cluster, ns)
    assert cluster.kubectl("-n", ns, "scale", "sts", "web", "--replicas=0").stdout.strip() == \
        "statefulset.apps/web scaled"
    wait_for(lambda: not pods(cluster, ns), 90, what="all pods gone")
    time.sleep(0.5)
    w.stop()
    term = {n: w.first(lambda e, n=n: e[1] == n and (e[4] or e[0] == "DELETED")) for n in ("web-0", "web-1", "web-2")}
    gone = {n: w.first(lambda e, n=n: e[1] == n and e[0] == "DELETED") for n in ("web-0", "web-1", "web-2")}
    assert all(v >= 0 for v in list(term.values()) + list(gone.values())), w.events
    # web-2 first; each next deletion only after the previous pod is gone
    assert term["web-2"] < term["web-1"] < term["web-0"], w.events
    assert gone["web-2"] < term["web-1"] and gone["web-1"] < term["web-0"], w.events
    st = set_status(cluster, ns)
    assert st.get("replicas") == 0 and "readyReplicas" not in st


def test_parallel_does_not_wait(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=4, policy="Parallel", unready=True, claims=False))
    # all four are created although none becomes Ready
    wait_for(lambda: set(pods(cluster, ns)) == {"web-0", "web-1", "web-2", "web-3"}, 30, what="4 pods")
    assert not any(is_ready(p) for p in pods(cluster, ns).values())
    # and scaling down deletes unready pods without waiting either
    cluster.kubectl("-n", ns, "scale", "sts", "web", "--replicas=1")
    wait_for(lambda: set(pods(cluster, ns)) == {"web-0"}, 60, what="scaled to web-0")
    cluster.kubectl("-n", ns, "patch", "sts", "web", "--type=json", "-p",
                    json.dumps([{"op": "remove", "path": "/spec/template/metadata/annotations"}]))
    wait_ready(cluster, ns, 1)


# ---- update strategy ---------------------------------------------------------------------------------------

def test_rolling_update_partition_and_undo(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=3))
    wait_ready(cluster, ns, 3)
    rev1 = set_status(cluster, ns)["currentRevision"]
    w = PodWatch(cluster, ns)
    out = cluster.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.9.1").stdout
    assert out.strip() == "statefulset.apps/web image updated"
    rs = cluster.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=120s").stdout
    assert rs.splitlines()[-1] == "partitioned roll out complete: 3 new pods have been updated..."
    ps = wait_ready(cluster, ns, 3)
    w.stop()
    assert {image_of(p) for p in ps.values()} == {"nginx:1.9.1"}
    order = [n for (_t, n, _ph, _r, deleting) in w.events if deleting]
    order = [n for i, n in enumerate(order) if n not in order[:i]]
    assert order == ["web-2", "web-1", "web-0"], w.events
    st = set_status(cluster, ns)
    assert st["currentRevision"] == st["updateRevision"] != rev1
    assert st["updatedReplicas"] == st["currentReplicas"] == 3
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in ps.values()} == {st["updateRevision"]}
    # PVCs survive the update: still one per ordinal
    assert sorted(p["metadata"]["name"] for p in kget(cluster, ns, "pvc")["items"]) == \
        ["www-web-0", "www-web-1", "www-web-2"]

    # partition 2: only web-2 moves to the new image
    out = cluster.kubectl("-n", ns, "patch", "sts", "web", "-p",
                          '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}')
    assert out.stdout.strip() == "statefulset.apps/web patched"
    cluster.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.10")
    rs = cluster.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=120s").stdout
    assert rs.splitlines()[-1] == "partitioned roll out complete: 1 new pods have been updated..."
    wait_for(lambda: image_of(pods(cluster, ns)["web-2"]) == "nginx:1.10" and is_ready(pods(cluster, ns)["web-2"]),
             60, what="web-2 updated")
    time.sleep(1.5)
    ps = pods(cluster, ns)
    assert [image_of(ps[n]) for n in ("web-0", "web-1", "web-2")] == ["nginx:1.9.1", "nginx:1.9.1", "nginx:1.10"]
    st = set_status(cluster, ns)
    assert st["updatedReplicas"] == 1 and st["currentReplicas"] == 2 and st["currentRevision"] != st["updateRevision"]
    # lowering the partition finishes the rollout
    cluster.kubectl("-n", ns, "patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    cluster.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=120s")
    ps = wait_ready(cluster, ns, 3)
    assert {image_of(p) for p in ps.values()} == {"nginx:1.10"}

    hist = cluster.kubectl("-n", ns, "rollout", "history", "sts/web").stdout
    assert hist.splitlines()[:5] == ["statefulset.apps/web ", "REVISION  CHANGE-CAUSE", "1         <none>",
                                     "2         <none>", "3         <none>"]
    assert "nginx:1.9.1" in cluster.kubectl("-n", ns, "rollout", "history", "sts/web", "--revision=2").stdout
    # undo goes back to the previous template; the restored revision is renumbered
    assert cluster.kubectl("-n", ns, "rollout", "undo", "sts/web").stdout.strip() == "statefulset.apps/web rolled back"
    cluster.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=120s")
    wait_for(lambda: {image_of(p) for p in wait_ready(cluster, ns, 3).values()} == {"nginx:1.9.1"}, 120,
             what="rolled back")
    hist = cluster.kubectl("-n", ns, "rollout", "history", "sts/web").stdout
    assert [ln.split()[0] for ln in hist.splitlines()[2:] if ln.strip()] == ["1", "3", "4"]
    revs = kget(cluster, ns, "controllerrevisions")["items"]
    assert all(r["metadata"]["ownerReferences"][0]["name"] == "web" for r in revs)
    assert {r["metadata"]["name"] for r in revs} >= {st["currentRevision"], st["updateRevision"]}


def test_on_delete_updates_only_deleted_pods(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=2, strategy={"type": "OnDelete"}, claims=False))
    wait_ready(cluster, ns, 2)
    cluster.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.9.1")
    wait_for(lambda: set_status(cluster, ns).get("observedGeneration") == 2, 30, what="generation observed")
    time.sleep(1.5)
    ps = pods(cluster, ns)
    assert {image_of(p) for p in ps.values()} == {"nginx:1.7.9"}
    st = set_status(cluster, ns)
    assert st["currentRevision"] != st["updateRevision"] and st.get("updatedReplicas", 0) == 0
    uid0 = ps["web-0"]["metadata"]["uid"]
    cluster.kubectl("-n", ns, "delete", "pod", "web-1")
    ps = wait_for(lambda: (lambda p: p if "web-1" in p and image_of(p["web-1"]) == "nginx:1.9.1" and is_ready(p["web-1"])
                           else None)(pods(cluster, ns)), 60, what="web-1 recreated at the new revision")
    assert image_of(ps["web-0"]) == "nginx:1.7.9" and ps["web-0"]["metadata"]["uid"] == uid0
    st = set_status(cluster, ns)
    assert st["updatedReplicas"] == 1 and st["currentReplicas"] == 1
    err = cluster.kubectl("-n", ns, "rollout", "status", "sts/web", check=False)
    assert err.returncode != 0 and "rollout status is only available for RollingUpdate strategy type" in err.stderr


# ---- identity, storage, retention ------------------------------------------------------------------------

def test_deleted_pod_comes_back_with_same_identity_and_claim(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=2))
    ps = wait_ready(cluster, ns, 2)
    claim = wait_for(lambda: (lambda c: c if c["status"].get("phase") == "Bound" else None)(
        kget(cluster, ns, "pvc", "www-web-0")), 60, what="www-web-0 bound")
    old_uid = ps["web-0"]["metadata"]["uid"]
    cluster.kubectl("-n", ns, "delete", "pod", "web-0")
    ps = wait_for(lambda: (lambda p: p if p.get("web-0") and p["web-0"]["metadata"]["uid"] != old_uid
                           and is_ready(p["web-0"]) else None)(pods(cluster, ns)), 60, what="web-0 back")
    p0 = ps["web-0"]
    assert p0["spec"]["hostname"] == "web-0" and p0["spec"]["subdomain"] == "nginx"
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}} in p0["spec"]["volumes"]
    again = kget(cluster, ns, "pvc", "www-web-0")
    assert again["metadata"]["uid"] == claim["metadata"]["uid"]
    assert again["spec"]["volumeName"] == claim["spec"]["volumeName"]
    assert len(kget(cluster, ns, "pvc")["items"]) == 2


def test_failed_pod_is_replaced(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    apply(cluster, ns, sts(replicas=2, claims=False))
    ps = wait_ready(cluster, ns, 2)
    old_uid = ps["web-1"]["metadata"]["uid"]
    core = client.CoreV1Api(cluster.api_client())
    core.patch_namespaced_pod_status("web-1", ns, {"status": {"phase": "Failed"}})
    wait_for(lambda: (lambda p: p.get("web-1") and p["web-1"]["metadata"]["uid"] != old_uid
                      and is_ready(p["web-1"]))(pods(cluster, ns)), 60, what="web-1 replaced")
    assert ("Normal", "SuccessfulDelete", "delete Pod web-1 in StatefulSet web successful") in events_of(cluster, ns)


def test_retention_policy_delete_on_scale_down(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=3, retention={"whenScaled": "Delete", "whenDeleted": "Retain"}))
    wait_ready(cluster, ns, 3)
    claims = {c["metadata"]["name"]: c for c in kget(cluster, ns, "pvc")["items"]}
    assert set(claims) == {"www-web-0", "www-web-1", "www-web-2"}
    assert not any(c["metadata"].get("ownerReferences") for c in claims.values())
    cluster.kubectl("-n", ns, "scale", "sts", "web", "--replicas=1")
    wait_ready(cluster, ns, 1)

    def collected() -> bool:
        left = {c["metadata"]["name"]: c for c in kget(cluster, ns, "pvc")["items"]}
        return set(left) == {"www-web-0"} and not left["www-web-0"]["metadata"].get("ownerReferences")

    wait_for(collected, 60, what="claims of scaled-down pods deleted")
    # scaling up again creates fresh claims for the new pods
    cluster.kubectl("-n", ns, "scale", "sts", "web", "--replicas=2")
    wait_ready(cluster, ns, 2)
    assert sorted(c["metadata"]["name"] for c in kget(cluster, ns, "pvc")["items"]) == ["www-web-0", "www-web-1"]


def test_retention_policy_when_deleted_owner_ref(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=1, retention={"whenScaled": "Retain", "whenDeleted": "Delete"}))
    wait_ready(cluster, ns, 1)
    uid = kget(cluster, ns, "sts", "web")["metadata"]["uid"]
    refs = wait_for(lambda: kget(cluster, ns, "pvc", "www-web-0")["metadata"].get("ownerReferences"), 30,
                    what="claim owned by the set")
    assert [(r["kind"], r["name"], r["uid"], r["controller"]) for r in refs] == [("StatefulSet", "web", uid, True)]


# ---- ownership ------------------------------------------------------------------------------------------

def test_delete_orphan_leaves_pods_and_reapply_adopts(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=2))
    ps = wait_ready(cluster, ns, 2)
    uids = {n: p["metadata"]["uid"] for n, p in ps.items()}
    out = cluster.kubectl("-n", ns, "delete", "sts", "web", "--cascade=orphan", timeout=60).stdout
    assert out.strip() == 'statefulset.apps "web" deleted'
    ps = wait_for(lambda: (lambda p: p if all(not x["metadata"].get("ownerReferences") for x in p.values()) else None)(
        pods(cluster, ns)), 30, what="pods orphaned")
    assert {n: p["metadata"]["uid"] for n, p in ps.items()} == uids
    time.sleep(1)
    assert set(pods(cluster, ns)) == {"web-0", "web-1"}
    # the same manifest again: the new set adopts the pods (same template, so no restart)
    apply(cluster, ns, sts(replicas=2))
    new_uid = wait_for(lambda: kget(cluster, ns, "sts", "web")["metadata"]["uid"], 10, what="set")

    def adopted() -> dict[str, Any] | None:
        p = pods(cluster, ns)
        ok = all((x["metadata"].get("ownerReferences") or [{}])[0].get("uid") == new_uid for x in p.values())
        return p if ok and set(p) == {"web-0", "web-1"} else None

    ps = wait_for(adopted, 30, what="pods adopted")
    assert {n: p["metadata"]["uid"] for n, p in ps.items()} == uids
    revs = kget(cluster, ns, "controllerrevisions")["items"]
    assert revs and all(r["metadata"]["ownerReferences"][0]["uid"] == new_uid for r in revs)


def test_release_pod_whose_labels_stop_matching(cluster: KubelingCluster, ns: str) -> None:
    apply(cluster, ns, sts(replicas=1, claims=False))
    ps = wait_ready(cluster, ns, 1)
    old_uid = ps["web-0"]["metadata"]["uid"]
    cluster.kubectl("-n", ns, "label", "pod", "web-0", "app=elsewhere", "--overwrite")

    def released() -> bool:
        p = kget(cluster, ns, "pod", "web-0")
        return p["metadata"]["uid"] == old_uid and not p["metadata"].get("ownerReferences")

    wait_for(released, 30, what="web-0 released")
    # the set does not take a pod it no longer selects back; it waits for the name to free up
    cluster.kubectl("-n", ns, "delete", "pod", "web-0")
    wait_ready(cluster, ns, 1)


# ---- python client: status, revisions, scale subresource -----------------------------------------------

def test_status_revisions_and_scale_via_client(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    api = cluster.api_client()
    apps = client.AppsV1Api(api)
    apply(cluster, ns, sts(replicas=2, claims=False))
    wait_ready(cluster, ns, 2)
    s = apps.read_namespaced_stateful_set("web", ns)
    st = s.status
    assert st.observed_generation == s.metadata.generation == 1
    assert (st.replicas, st.ready_replicas, st.available_replicas, st.current_replicas, st.updated_replicas) == \
        (2, 2, 2, 2, 2)
    assert st.current_revision == st.update_revision and st.collision_count == 0
    revs = apps.list_namespaced_controller_revision(ns).items
    assert [r.metadata.name for r in revs] == [st.current_revision]
    r = revs[0]
    assert r.revision == 1 and r.metadata.labels["controller.kubernetes.io/hash"] == r.metadata.name[len("web-"):]
    assert r.metadata.labels["app"] == "nginx"
    assert r.data["spec"]["template"]["$patch"] == "replace"
    assert r.metadata.owner_references[0].kind == "StatefulSet"
    scale = apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    wait_ready(cluster, ns, 3)
    scale = apps.read_namespaced_stateful_set_scale("web", ns)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (3, 3, "app=nginx")


def test_ordinals_start(cluster: KubelingCluster, ns: str) -> None:
    obj = sts(replicas=2, claims=False)
    obj["spec"]["ordinals"] = {"start": 5}
    apply(cluster, ns, obj)
    want = {"web-5", "web-6"}
    wait_for(lambda: set(pods(cluster, ns)) == want and all(is_ready(p) for p in pods(cluster, ns).values()), 60,
             what="web-5 and web-6")
    assert pods(cluster, ns)["web-6"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "6"


# ---- crash and restart -------------------------------------------------------------------------------------

@pytest.mark.timeout(600)
def test_restart_mid_rollout_converges(make_cluster: Any) -> None:
    """SIGKILL in the middle of an OrderedReady creation and of a rolling update: after a restart the
    set converges with every ordinal exactly once, one claim per ordinal, all on the new template."""
    c = make_cluster("--pod-start-delay", "0.2")
    ns = "default"
    n = 50
    apply(c, ns, sts(replicas=n))
    wait_for(lambda: set_status(c, ns).get("readyReplicas", 0) >= 15, 180, what="15 ready")
    c.kill()
    c.start()
    assert set_status(c, ns).get("readyReplicas", 0) < n  # the crash really happened mid-way
    c.kill()
    c.start()
    wait_ready(c, ns, n, timeout=300)
    c.kubectl("set", "image", "sts/web", "nginx=nginx:1.9.1")
    wait_for(lambda: set_status(c, ns).get("updatedReplicas", 0) >= 10, 180, what="rollout under way")
    c.kill()
    c.start()
    st = set_status(c, ns)
    assert st.get("updatedReplicas", 0) < n, st  # the crash really happened mid-rollout
    c.kill()
    c.start()

    def done() -> dict[str, Any] | None:
        ps = pods(c, ns)
        if set(ps) != {f"web-{i}" for i in range(n)}:
            return None
        if not all(is_ready(p) and image_of(p) == "nginx:1.9.1" for p in ps.values()):
            return None
        st = set_status(c, ns)
        return ps if st.get("currentRevision") == st.get("updateRevision") and st.get("updatedReplicas") == n \
            else None

    wait_for(done, 300, what="rollout converged after restart")
    claims = sorted(x["metadata"]["name"] for x in kget(c, ns, "pvc")["items"])
    assert claims == sorted(f"www-web-{i}" for i in range(n))

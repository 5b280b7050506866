"""Issue 7: persistent storage — PV/PVC binding, StorageClass, the local-path provisioner,
protection finalizers, DefaultStorageClass admission, reclaim policies and expansion.

Two clusters of this module's own: `static` (`kubeling up --no-default-storageclass`, the seed's
hand-made PV walkthrough) and `dyn` (the default `standard` class, as kind has it). Driven by the
real kubectl and the official `kubernetes` client. Expected texts are upstream v1.32's.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import REPO, KubelingCluster, table, wait_for

SEED = os.path.join(REPO, "docs", "examples")  # the tutorial's manifests, verbatim

PV_HEADER = ("NAME    CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS      CLAIM   STORAGECLASS   "
             "VOLUMEATTRIBUTESCLASS   REASON   AGE")
PVC_COLUMNS = ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS",
               "AGE"]


# ---- helpers ------------------------------------------------------------------------------------------

def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False



def apply(c: KubelingCluster, *docs: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(docs)}))


def get(c: KubelingCluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any] | None:
    args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
    if ns:
        args += ["-n", ns]
    out = c.kubectl(*args).stdout
    return json.loads(out) if out.strip() else None


def phase(c: KubelingCluster, kind: str, name: str, ns: str | None = None) -> str | None:
    o = get(c, kind, name, ns)
    return None if o is None else (o.get("status") or {}).get("phase")


def pv(name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str | None = "",
       policy: str | None = None, labels: dict[str, str] | None = None, claim_ref: dict | None = None,
       path: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": list(modes),
                            "hostPath": {"path": path or f"/tmp/kubeling-storage-never-created/{name}"}}
    if cls is not None:
        spec["storageClassName"] = cls
    if policy:
        spec["persistentVolumeReclaimPolicy"] = policy
    if claim_ref:
        spec["claimRef"] = claim_ref
    md: dict[str, Any] = {"name": name}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": md, "spec": spec}


def pvc(name: str, ns: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",),
        cls: str | None = None, selector: dict | None = None, volume: str | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if volume:
        spec["volumeName"] = volume
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md, "spec": spec}


def pod_using(name: str, ns: str, claim: str, node: str = "node1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1.7.9",
                                                        "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
                     "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]}}


def wait_bound(c: KubelingCluster, claim: str, ns: str, timeout: float = 20) -> dict[str, Any]:
    def bound() -> dict[str, Any] | None:
        o = get(c, "pvc", claim, ns)
        return o if o and (o.get("status") or {}).get("phase") == "Bound" else None
    return wait_for(bound, timeout=timeout, what=f"claim {ns}/{claim} Bound")


def events_for(c: KubelingCluster, ns: str, name: str) -> list[dict[str, Any]]:
    out = c.kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}",
                    "-o", "json").stdout
    return json.loads(out)["items"]


def wait_event(c: KubelingCluster, ns: str, name: str, reason: str, timeout: float = 15) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for e in events_for(c, ns, name):
            if e.get("reason") == reason:
                return e
        return None
    return wait_for(find, timeout=timeout, what=f"event {reason} on {ns}/{name}")


def ensure_node(c: KubelingCluster, name: str) -> None:
    """The node simulator registers master/node1/node2; without it (not written yet) a bare Node
    object stands in so the provisioner has a node to pin volumes to."""
    if _has("kubeling.node.simulator") and c.wait_nodes_ready([name], timeout=15):
        return
    if get(c, "node", name) is None:
        apply(c, {"apiVersion": "v1", "kind": "Node",
                  "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})


def new_ns(c: KubelingCluster) -> str:
    name = "st-" + uuid.uuid4().hex[:8]
    apply(c, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture(scope="module")
def static(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    c = KubelingCluster(str(tmp_path_factory.mktemp("storage-static")), ("--no-default-storageclass",),
                        name="static")
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def dyn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    c = KubelingCluster(str(tmp_path_factory.mktemp("storage-dyn")), (), name="dyn")
    c.start()
    try:
        ensure_node(c, "node1")
        yield c
    finally:
        c.stop()


# ---- the matcher itself (pure, no cluster) ------------------------------------------------------------

def test_indexed_matcher_agrees_with_upstream_scan() -> None:
    """The binder's bisecting matcher picks exactly what upstream's full scan (findBestMatchForClaim
    over every volume) picks, over random volumes and claims."""
    import random

    from kubeling.controllers.persistentvolume_utils import (
        FreeVolumeIndex,
        find_best_match,
        find_best_match_indexed,
    )

    rnd = random.Random(7)
    modes_pool = [("ReadWriteOnce",), ("ReadWriteOnce", "ReadOnlyMany"), ("ReadWriteMany",),
                  ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"), ("ReadWriteOncePod",)]
    sizes = ["500Mi", "1Gi", "2Gi", "1536Mi", "5Gi", "10Gi"]
    for _ in range(200):
        vols = []
        for i in range(rnd.randint(0, 25)):
            v = pv(f"v{i:02d}", rnd.choice(sizes), rnd.choice(modes_pool), cls=rnd.choice(["", "a", "b"]),
                   labels={"z": rnd.choice(["1", "2"])})
            v["status"] = {"phase": rnd.choice(["Available", "Available", "Available", "Pending"])}
            v["spec"]["volumeMode"] = rnd.choice(["Filesystem", "Filesystem", "Block"])
            if rnd.random() < 0.15:
                v["spec"]["claimRef"] = {"namespace": "ns", "name": rnd.choice(["c", "other"])}
            if rnd.random() < 0.05:
                v["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
            vols.append(v)
        claim = pvc("c", "ns", rnd.choice(sizes), rnd.choice(modes_pool), cls=rnd.choice(["", "a", "b"]),
                    selector={"z": "1"} if rnd.random() < 0.3 else None)
        claim["metadata"]["uid"] = "u1"
        claim["spec"]["volumeMode"] = rnd.choice(["Filesystem", "Filesystem", "Block"])
        delay = rnd.random() < 0.3
        excluded = {f"v{rnd.randint(0, 25):02d}"} if rnd.random() < 0.3 else None
        free = FreeVolumeIndex()
        for v in vols:
            free.update(v)
        by_name = {v["metadata"]["name"]: v for v in vols}
        prebound = [v for v in vols if (v["spec"].get("claimRef") or {}).get("name") == "c"]
        want = find_best_match(claim, vols, delay, None, excluded)
        got = find_best_match_indexed(claim, prebound, free, by_name.get, delay, None, excluded)
        assert (want or {}).get("metadata", {}).get("name") == (got or {}).get("metadata", {}).get("name"), \
            (claim, vols)


# ---- Must show 1: the seed's static walkthrough -------------------------------------------------------

def test_seed_static_pvs_then_claims(static: KubelingCluster) -> None:
    cp = static.kubectl("apply", "-f", os.path.join(SEED, "pv.yaml"))
    assert cp.stdout == "persistentvolume/pv001 created\npersistentvolume/pv002 created\n"
    out = static.kubectl("get", "pv").stdout  # right away, as the seed does
    if "Pending" in out:
        out = wait_for(lambda: (o := static.kubectl("get", "pv").stdout).count("Available") == 2 and o,
                       timeout=5, what="pv001/pv002 Available")
    lines = out.splitlines()
    assert lines[0] == PV_HEADER
    for line, name in zip(lines[1:], ("pv001", "pv002"), strict=True):
        cells = line.split()
        assert cells[:5] == [name, "1Gi", "RWO", "Retain", "Available"], line
        assert cells[5] == "<unset>" and re.fullmatch(r"\d+s", cells[6]), line
    assert static.kubectl("get", "sc").stderr.strip() == "No resources found"

    if _has("kubeling.controllers.statefulset") and _has("kubeling.scheduler.scheduler"):
        for d in ("/tmp/pv001", "/tmp/pv002"):  # the seed's hostPath PVs: the kubelet must create them
            shutil.rmtree(d, ignore_errors=True)
        static.kubectl("apply", "-f", os.path.join(SEED, "nginx-sts.yaml"))
        timeout = 60.0
    else:  # the claims the StatefulSet would create, one after the other
        apply(static, pvc("www-web-0", "default"))
        wait_bound(static, "www-web-0", "default")
        apply(static, pvc("www-web-1", "default"))
        timeout = 20.0
    wait_bound(static, "www-web-0", "default", timeout)
    wait_bound(static, "www-web-1", "default", timeout)
    names, rows = table(static.kubectl("get", "pvc").stdout)
    assert names == PVC_COLUMNS
    got = {r["NAME"]: (r["STATUS"], r["VOLUME"], r["CAPACITY"], r["ACCESS MODES"], r["STORAGECLASS"])
           for r in rows}
    assert got == {"www-web-0": ("Bound", "pv001", "1Gi", "RWO", ""),
                   "www-web-1": ("Bound", "pv002", "1Gi", "RWO", "")}

    # What the binder wrote, read through the official client.
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(static.api_client())
    claim = core.read_namespaced_persistent_volume_claim("www-web-0", "default")
    assert claim.spec.storage_class_name is None  # no default class: unset stays unset
    assert claim.metadata.annotations["pv.kubernetes.io/bind-completed"] == "yes"
    assert claim.metadata.annotations["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert claim.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    assert claim.status.capacity == {"storage": "1Gi"} and claim.status.access_modes == ["ReadWriteOnce"]
    vol = core.read_persistent_volume("pv001")
    assert vol.status.phase == "Bound"
    assert vol.spec.claim_ref.name == "www-web-0" and vol.spec.claim_ref.uid == claim.metadata.uid
    assert vol.spec.claim_ref.kind == "PersistentVolumeClaim" and vol.spec.claim_ref.namespace == "default"
    assert vol.metadata.annotations["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert vol.metadata.finalizers == ["kubernetes.io/pv-protection"]
    pv_rows = table(static.kubectl("get", "pv").stdout)[1]
    assert [(r["NAME"], r["STATUS"], r["CLAIM"]) for r in pv_rows] == [
        ("pv001", "Bound", "default/www-web-0"), ("pv002", "Bound", "default/www-web-1")]
    if _has("kubeling.controllers.statefulset") and _has("kubeling.node.simulator"):
        # Once the pods run, their hostPath volumes are real directories on this machine.
        static.kubectl("rollout", "status", "sts/web", "--timeout=60s")
        wait_for(lambda: os.path.isdir("/tmp/pv001") and os.path.isdir("/tmp/pv002"), timeout=10,
                 what="hostPath directories of pv001/pv002")


# ---- Must show 3: matching rules, pre-binding, selectors ------------------------------------------------

def test_matching_smallest_fit_modes_selector_and_prebinding(static: KubelingCluster) -> None:
    ns = new_ns(static)
    s = uuid.uuid4().hex[:6]
    cls = f"fast-{s}"  # no such StorageClass: only static volumes of this class can serve these claims
    apply(static,
          pv(f"big-{s}", "10Gi", cls=cls), pv(f"small-{s}", "2Gi", cls=cls),
          pv(f"tiny-{s}", "500Mi", cls=cls),
          pv(f"gold-{s}", "8Gi", cls=cls, labels={"tier": f"gold-{s}"}),
          pv(f"rwx-{s}", "1Gi", modes=("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"), cls=f"m-{s}"),
          pv(f"rwo-{s}", "3Gi", cls=f"m-{s}"),
          pv(f"named-{s}", "4Gi", cls=cls),
          pv(f"reserved-{s}", "9Gi", cls=cls, claim_ref={"namespace": ns, "name": "wants-reserved"}))
    for n in ("big", "small", "tiny", "gold", "rwx", "rwo", "named", "reserved"):
        wait_for(lambda n=n: phase(static, "pv", f"{n}-{s}") == "Available", timeout=10, what=f"{n} Available")

    apply(static, pvc("fit", ns, "1Gi", cls=cls))
    assert wait_bound(static, "fit", ns)["spec"]["volumeName"] == f"small-{s}"  # smallest that fits

    apply(static, pvc("picky", ns, "1Gi", cls=cls, selector={"tier": f"gold-{s}"}))
    assert wait_bound(static, "picky", ns)["spec"]["volumeName"] == f"gold-{s}"

    # Fewest access modes first: an RWO-only volume beats a smaller RWO+ROX+RWX one.
    apply(static, pvc("modes", ns, "1Gi", cls=f"m-{s}"))
    assert wait_bound(static, "modes", ns)["spec"]["volumeName"] == f"rwo-{s}"
    apply(static, pvc("shared", ns, "1Gi", modes=("ReadWriteMany",), cls=f"m-{s}"))
    assert wait_bound(static, "shared", ns)["spec"]["volumeName"] == f"rwx-{s}"

    # spec.volumeName: the claim asks for a volume; the volume gets bound-by-controller.
    apply(static, pvc("wants-named", ns, "1Gi", cls=cls, volume=f"named-{s}"))
    c = wait_bound(static, "wants-named", ns)
    assert c["spec"]["volumeName"] == f"named-{s}"
    assert "pv.kubernetes.io/bound-by-controller" not in c["metadata"]["annotations"]
    v = get(static, "pv", f"named-{s}")
    assert v["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"

    # claimRef pre-binding: the volume is reserved for one claim, even over a smaller fit.
    apply(static, pvc("wants-reserved", ns, "1Gi", cls=cls))
    c = wait_bound(static, "wants-reserved", ns)
    assert c["spec"]["volumeName"] == f"reserved-{s}"
    assert c["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    v = get(static, "pv", f"reserved-{s}")
    assert "pv.kubernetes.io/bound-by-controller" not in (v["metadata"].get("annotations") or {})
    assert v["spec"]["claimRef"]["uid"] == c["metadata"]["uid"]

    # Nothing fits: Pending, and for a claim without class the binder says why.
    apply(static, pvc("huge", ns, "100Gi", cls=""))
    e = wait_event(static, ns, "huge", "FailedBinding")
    assert e["message"] == "no persistent volumes available for this claim and no storage class is set"
    assert e["source"]["component"] == "persistentvolume-controller"
    assert phase(static, "pvc", "huge", ns) == "Pending"
    # A class that does not exist cannot provision.
    apply(static, pvc("nowhere", ns, "100Gi", cls=f"missing-{s}"))
    e = wait_event(static, ns, "nowhere", "ProvisioningFailed")
    assert e["message"] == f'storageclass.storage.k8s.io "missing-{s}" not found' and e["type"] == "Warning"
    # A requested volume that does not satisfy the claim.
    apply(static, pvc("mismatch", ns, "1Gi", cls=cls, volume=f"tiny-{s}"))
    e = wait_event(static, ns, "mismatch", "VolumeMismatch")
    assert e["message"] == f'Cannot bind to requested volume "tiny-{s}": requested PV is too small'
    # A new volume binds a pending claim at once (no waiting for a resync).
    apply(static, pvc("later", ns, "20Gi", cls=cls))
    time.sleep(0.3)
    assert phase(static, "pvc", "later", ns) == "Pending"
    apply(static, pv(f"late-{s}", "20Gi", cls=cls))
    assert wait_bound(static, "later", ns, timeout=10)["spec"]["volumeName"] == f"late-{s}"


# ---- Must show 3: reclaim, Lost, protection finalizers ------------------------------------------------

def test_retain_released_lost_and_protection(static: KubelingCluster) -> None:
    ensure_node(static, "node1")
    ns = new_ns(static)
    s = uuid.uuid4().hex[:6]
    cls = f"keep-{s}"
    apply(static, pv(f"ret-{s}", "1Gi", cls=cls), pv(f"gone-{s}", "1Gi", cls=f"gone-{s}"),
          pv(f"used-{s}", "1Gi", cls=f"used-{s}"))
    for n in ("ret", "gone", "used"):
        wait_for(lambda n=n: phase(static, "pv", f"{n}-{s}") == "Available", timeout=10, what=f"{n} Available")

    # Retain: deleting the claim releases the volume and keeps its claimRef (the data stays).
    apply(static, pvc("c-ret", ns, cls=cls))
    uid = wait_bound(static, "c-ret", ns)["metadata"]["uid"]
    static.kubectl("delete", "pvc", "c-ret", "-n", ns)
    wait_for(lambda: phase(static, "pv", f"ret-{s}") == "Released", timeout=10, what="Released")
    v = get(static, "pv", f"ret-{s}")
    assert v["spec"]["claimRef"]["name"] == "c-ret" and v["spec"]["claimRef"]["uid"] == uid
    row = table(static.kubectl("get", "pv", f"ret-{s}").stdout)[1][0]
    assert (row["STATUS"], row["CLAIM"], row["RECLAIM POLICY"]) == ("Released", f"{ns}/c-ret", "Retain")
    # A new claim of the same name does not get the released volume back.
    apply(static, pvc("c-ret", ns, cls=cls))
    time.sleep(0.3)
    assert phase(static, "pvc", "c-ret", ns) == "Pending"

    # pv-protection: a Bound volume being deleted stays (Terminating) while bound; losing it
    # altogether turns its claim Lost.
    apply(static, pvc("c-gone", ns, cls=f"gone-{s}"))
    wait_bound(static, "c-gone", ns)
    static.kubectl("delete", "pv", f"gone-{s}", "--wait=false")
    time.sleep(0.3)
    v = get(static, "pv", f"gone-{s}")
    assert v["metadata"]["deletionTimestamp"] and v["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert table(static.kubectl("get", "pv", f"gone-{s}").stdout)[1][0]["STATUS"] == "Terminating"
    static.kubectl("patch", "pv", f"gone-{s}", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: phase(static, "pvc", "c-gone", ns) == "Lost", timeout=10, what="claim Lost")
    e = wait_event(static, ns, "c-gone", "ClaimLost")
    assert e["type"] == "Warning"
    assert e["message"] == "Bound claim has lost its PersistentVolume. Data on the volume is lost!"

    # Delete on a hand-made hostPath volume: upstream's in-tree deleter removes /tmp/... paths only.
    tmpdir = f"/tmp/kubeling-storage-del-{s}"
    os.makedirs(tmpdir)
    with open(os.path.join(tmpdir, "data"), "w") as f:
        f.write("x")
    apply(static, pv(f"del-{s}", "1Gi", cls=f"del-{s}", policy="Delete", path=tmpdir),
          pv(f"nodel-{s}", "1Gi", cls=f"nodel-{s}", policy="Delete", path=f"/srv/kubeling-test-{s}"))
    apply(static, pvc("c-del", ns, cls=f"del-{s}"), pvc("c-nodel", ns, cls=f"nodel-{s}"))
    wait_bound(static, "c-del", ns)
    wait_bound(static, "c-nodel", ns)
    static.kubectl("delete", "pvc", "c-del", "c-nodel", "-n", ns)
    wait_for(lambda: get(static, "pv", f"del-{s}") is None, timeout=10, what="hostPath PV deleted")
    assert not os.path.exists(tmpdir)
    wait_for(lambda: phase(static, "pv", f"nodel-{s}") == "Failed", timeout=10, what="Failed")
    out = static.kubectl("get", "events", "-A", "--field-selector", f"involvedObject.name=nodel-{s}",
                         "-o", "json").stdout
    e = next(e for e in json.loads(out)["items"] if e["reason"] == "VolumeFailedDelete")
    assert e["type"] == "Warning"
    assert e["message"] == f"host_path deleter only supports /tmp/.+ but received provided /srv/kubeling-test-{s}"

    # pvc-protection: a claim used by a scheduled pod stays Terminating until the pod is gone.
    apply(static, pvc("c-used", ns, cls=f"used-{s}"))
    wait_bound(static, "c-used", ns)
    apply(static, pod_using("user", ns, "c-used"))
    static.kubectl("delete", "pvc", "c-used", "-n", ns, "--wait=false")
    time.sleep(0.5)
    c = get(static, "pvc", "c-used", ns)
    assert c is not None and c["metadata"]["deletionTimestamp"]
    assert c["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert table(static.kubectl("get", "pvc", "c-used", "-n", ns).stdout)[1][0]["STATUS"] == "Terminating"
    static.kubectl("delete", "pod", "user", "-n", ns, "--grace-period=0", "--force")
    wait_for(lambda: get(static, "pvc", "c-used", ns) is None, timeout=10, what="claim deleted")
    wait_for(lambda: phase(static, "pv", f"used-{s}") == "Released", timeout=10, what="used Released")
    # Released is not Bound: the volume may go now.
    static.kubectl("delete", "pv", f"used-{s}", "--timeout=20s")
    assert get(static, "pv", f"used-{s}") is None


# ---- Must show 2: the default class and the local-path provisioner -----------------------------------

def test_default_class_and_local_path_provisioning(dyn: KubelingCluster) -> None:
    names, rows = table(dyn.kubectl("get", "sc").stdout)
    assert names == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
    std = next(r for r in rows if r["NAME"] == "standard (default)")
    assert (std["PROVISIONER"], std["RECLAIMPOLICY"], std["VOLUMEBINDINGMODE"], std["ALLOWVOLUMEEXPANSION"]) == (
        "rancher.io/local-path", "Delete", "WaitForFirstConsumer", "false")

    ns = new_ns(dyn)
    apply(dyn, pvc("data", ns, "2Gi"), pvc("no-class", ns, "1Gi", cls=""))
    c = get(dyn, "pvc", "data", ns)
    assert c["spec"]["storageClassName"] == "standard"  # DefaultStorageClass admission
    assert get(dyn, "pvc", "no-class", ns)["spec"]["storageClassName"] == ""  # "" is a class: left alone
    e = wait_event(dyn, ns, "data", "WaitForFirstConsumer")
    assert e["message"] == "waiting for first consumer to be created before binding"
    assert phase(dyn, "pvc", "data", ns) == "Pending"

    # The scheduler's signal (set by hand here, so this does not depend on the scheduler).
    dyn.kubectl("annotate", "pvc", "data", "-n", ns, "volume.kubernetes.io/selected-node=node1")
    c = wait_bound(dyn, "data", ns)
    name = c["spec"]["volumeName"]
    assert name == "pvc-" + c["metadata"]["uid"]
    ann = c["metadata"]["annotations"]
    assert ann["volume.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
    assert ann["volume.beta.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
    v = get(dyn, "pv", name)
    assert v["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
    assert v["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert v["spec"]["nodeAffinity"] == {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node1"]}]}]}}
    assert v["spec"]["capacity"] == {"storage": "2Gi"} and v["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert v["spec"]["storageClassName"] == "standard"
    path = v["spec"]["hostPath"]["path"]
    assert v["spec"]["hostPath"]["type"] == "DirectoryOrCreate"
    assert path == os.path.join(os.path.abspath(dyn.data_dir), "local-path", f"{name}_{ns}_data")
    assert os.path.isdir(path)
    row = table(dyn.kubectl("get", "pvc", "data", "-n", ns).stdout)[1][0]
    assert (row["STATUS"], row["VOLUME"], row["CAPACITY"], row["ACCESS MODES"], row["STORAGECLASS"]) == (
        "Bound", name, "2Gi", "RWO", "standard")
    described = dyn.kubectl("describe", "pvc", "data", "-n", ns).stdout
    assert "ExternalProvisioning" in described and "ProvisioningSucceeded" in described
    assert f"Successfully provisioned volume {name}" in described
    assert f'External provisioner is provisioning volume for claim "{ns}/data"' in described

    # Delete reclaim: the claim goes, the volume and its directory go.
    with open(os.path.join(path, "index.html"), "w") as f:
        f.write("hello")
    dyn.kubectl("delete", "pvc", "data", "-n", ns)
    wait_for(lambda: get(dyn, "pv", name) is None, timeout=15, what="provisioned PV deleted")
    assert not os.path.exists(path)


def test_immediate_retain_class_and_expansion(dyn: KubelingCluster) -> None:
    s = uuid.uuid4().hex[:6]
    apply(dyn, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": f"grow-{s}"},
                "provisioner": "rancher.io/local-path", "reclaimPolicy": "Retain",
                "volumeBindingMode": "Immediate", "allowVolumeExpansion": True})
    ns = new_ns(dyn)
    apply(dyn, pvc("grows", ns, "1Gi", cls=f"grow-{s}"))
    c = wait_bound(dyn, "grows", ns)  # Immediate: provisioned without a consumer
    name = c["spec"]["volumeName"]
    v = get(dyn, "pv", name)
    path = v["spec"]["hostPath"]["path"]
    assert os.path.isdir(path) and v["spec"]["persistentVolumeReclaimPolicy"] == "Retain"

    # Expansion where the class allows it: the volume grows, then the claim's capacity follows.
    dyn.kubectl("patch", "pvc", "grows", "-n", ns, "-p", '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}')
    wait_for(lambda: (get(dyn, "pvc", "grows", ns)["status"].get("capacity") or {}).get("storage") == "3Gi",
             timeout=10, what="claim capacity 3Gi")
    assert get(dyn, "pv", name)["spec"]["capacity"]["storage"] == "3Gi"
    # Where it does not (the default class), the API refuses with upstream's 403.
    ensure_node(dyn, "node1")
    apply(dyn, pvc("fixed", ns, "1Gi", annotations={"volume.kubernetes.io/selected-node": "node1"}))
    wait_bound(dyn, "fixed", ns)
    cp = dyn.kubectl("patch", "pvc", "fixed", "-n", ns, "-p",
                     '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', check=False)
    assert cp.returncode != 0
    assert ('persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned pvc can be resized and '
            'the storageclass that provisions the pvc must support resize') in cp.stderr

    # Retain on a provisioned volume: Released, directory kept.
    dyn.kubectl("delete", "pvc", "grows", "-n", ns)
    wait_for(lambda: phase(dyn, "pv", name) == "Released", timeout=10, what="Released")
    assert os.path.isdir(path)
    dyn.kubectl("delete", "pv", name, "--timeout=20s")
    assert os.path.isdir(path)  # deleting a retained volume's object never touches the data


@pytest.mark.skipif(not _has("kubeling.scheduler.scheduler"), reason="needs the scheduler")
def test_pod_with_wait_for_first_consumer_claim(dyn: KubelingCluster) -> None:
    ns = new_ns(dyn)
    apply(dyn, pvc("wffc", ns, "1Gi"))
    pod = pod_using("consumer", ns, "wffc")
    del pod["spec"]["nodeName"]
    apply(dyn, pod)
    c = wait_bound(dyn, "wffc", ns, timeout=30)
    node = c["metadata"]["annotations"]["volume.kubernetes.io/selected-node"]
    v = get(dyn, "pv", c["spec"]["volumeName"])
    assert v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [node]
    wait_for(lambda: (get(dyn, "pod", "consumer", ns)["spec"].get("nodeName")) == node, timeout=30,
             what="pod on the volume's node")


@pytest.mark.skipif(not (_has("kubeling.controllers.statefulset") and _has("kubeling.scheduler.scheduler")),
                    reason="needs the StatefulSet controller and the scheduler")
def test_statefulset_gets_provisioned_volumes_that_outlive_pods(dyn: KubelingCluster) -> None:
    ns = new_ns(dyn)
    with open(os.path.join(SEED, "nginx-sts.yaml")) as f:
        text = f.read().replace("namespace: default", f"namespace: {ns}")
    dyn.kubectl("apply", "-f", "-", input=text)
    claims = {n: wait_bound(dyn, n, ns, timeout=60) for n in ("www-web-0", "www-web-1")}
    for n, c in claims.items():
        assert c["spec"]["storageClassName"] == "standard"
        pod = wait_for(lambda n=n: (p := get(dyn, "pod", n.removeprefix("www-"), ns)) and p["spec"].get("nodeName")
                       and p, timeout=60, what=f"pod of {n} scheduled")
        v = get(dyn, "pv", c["spec"]["volumeName"])
        affinity = v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert affinity["values"] == [pod["spec"]["nodeName"]]  # each volume on its pod's node
    path = get(dyn, "pv", claims["www-web-0"]["spec"]["volumeName"])["spec"]["hostPath"]["path"]
    with open(os.path.join(path, "index.html"), "w") as f:
        f.write("web-0 data")
    old_uid = get(dyn, "pod", "web-0", ns)["metadata"]["uid"]
    dyn.kubectl("delete", "pod", "web-0", "-n", ns, "--wait=false")
    wait_for(lambda: (p := get(dyn, "pod", "web-0", ns)) and p["metadata"]["uid"] != old_uid, timeout=60,
             what="web-0 recreated")
    c = get(dyn, "pvc", "www-web-0", ns)
    assert c["metadata"]["uid"] == claims["www-web-0"]["metadata"]["uid"]
    assert c["spec"]["volumeName"] == claims["www-web-0"]["spec"]["volumeName"]
    with open(os.path.join(path, "index.html")) as f:
        assert f.read() == "web-0 data"


def test_binding_and_provisioning_converge_after_a_crash(make_cluster: Any) -> None:
    """SIGKILL in the middle of binding and provisioning: after the restart every claim is bound
    exactly once, each provisioned volume exists once, with its directory."""
    c = make_cluster()
    ensure_node(c, "node1")
    ns = new_ns(c)
    n = 25
    apply(c, *[pv(f"crash-{i:02d}", "1Gi", cls="") for i in range(n)])
    apply(c, *[pvc(f"s{i:02d}", ns, cls="") for i in range(n)],
          *[pvc(f"d{i:02d}", ns, annotations={"volume.kubernetes.io/selected-node": "node1"}) for i in range(n)])
    c.kill()
    c.start()

    def all_bound() -> list[dict[str, Any]] | None:
        items = json.loads(c.kubectl("get", "pvc", "-n", ns, "-o", "json").stdout)["items"]
        return items if len(items) == 2 * n and all(i["status"].get("phase") == "Bound" for i in items) else None

    claims = wait_for(all_bound, timeout=60, what="every claim Bound after the restart")
    vols = {v["metadata"]["name"]: v for v in json.loads(c.kubectl("get", "pv", "-o", "json").stdout)["items"]}
    used = [cl["spec"]["volumeName"] for cl in claims]
    assert len(set(used)) == len(used)  # no volume serves two claims
    for cl in claims:
        v = vols[cl["spec"]["volumeName"]]
        assert v["spec"]["claimRef"]["uid"] == cl["metadata"]["uid"] and v["status"]["phase"] == "Bound"
        if cl["metadata"]["name"].startswith("d"):
            assert v["metadata"]["name"] == "pvc-" + cl["metadata"]["uid"]
            assert os.path.isdir(v["spec"]["hostPath"]["path"])
    provisioned = [name for name in vols if name.startswith("pvc-")]
    assert len(provisioned) == n
    dirs = os.listdir(os.path.join(c.data_dir, "local-path"))
    assert len(dirs) == n

"""Issue 3, garbage collection: cascading deletion in all three modes, dangling owners, namespace
deletion and pod GC — driven by the real /usr/bin/kubectl and the `kubernetes` client against a real
kubeling process.

Dependents are ConfigMaps/Secrets (and pods with spec.nodeName preset and a zero grace period), so
nothing here depends on the scheduler or the simulated kubelet.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from conftest import KubelingCluster, wait_for


def _apply(cluster: KubelingCluster, *objs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def _get(cluster: KubelingCluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any] | None:
    args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
    if ns:
        args += ["-n", ns]
    out = cluster.kubectl(*args).stdout
    return json.loads(out) if out.strip() else None


def _cm(name: str, ns: str, owners: list[dict[str, Any]] | None = None, finalizers: list[str] | None = None,
        kind: str = "ConfigMap") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if owners:
        md["ownerReferences"] = owners
    if finalizers:
        md["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": kind, "metadata": md,
            ("stringData" if kind == "Secret" else "data"): {"k": "v"}}


def _ref(obj: dict[str, Any], block: bool | None = None, controller: bool | None = None) -> dict[str, Any]:
    r = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
         "uid": obj["metadata"]["uid"]}
    if block is not None:
        r["blockOwnerDeletion"] = block
    if controller is not None:
        r["controller"] = controller
    return r


def _owner_with_dependents(cluster: KubelingCluster, ns: str, block: bool | None = None) -> dict[str, Any]:
    _apply(cluster, _cm("owner", ns))
    owner = _get(cluster, "configmap", "owner", ns)
    _apply(cluster, _cm("dep-cm", ns, [_ref(owner, block)]), _cm("dep-secret", ns, [_ref(owner, block)], kind="Secret"))
    return owner


def _gone(cluster: KubelingCluster, kind: str, name: str, ns: str | None = None) -> bool:
    return _get(cluster, kind, name, ns) is None


# ---- cascading deletion ----------------------------------------------------------------------------------


def test_cascade_background(cluster: KubelingCluster, ns: str) -> None:
    _owner_with_dependents(cluster, ns)
    out = cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=background").stdout
    assert out.strip() == 'configmap "owner" deleted'
    assert _gone(cluster, "configmap", "owner", ns)
    wait_for(lambda: _gone(cluster, "configmap", "dep-cm", ns) and _gone(cluster, "secret", "dep-secret", ns),
             timeout=20, what="dependents collected in the background")


def test_cascade_default_is_background(cluster: KubelingCluster, ns: str) -> None:
    _owner_with_dependents(cluster, ns)
    cluster.kubectl("delete", "configmap", "owner", "-n", ns)
    wait_for(lambda: _gone(cluster, "configmap", "dep-cm", ns) and _gone(cluster, "secret", "dep-secret", ns),
             timeout=20, what="dependents collected")


def test_cascade_foreground(cluster: KubelingCluster, ns: str) -> None:
    _owner_with_dependents(cluster, ns, block=True)
    # kubectl waits until the owner is gone; in foreground mode its blocking dependents go first.
    out = cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", timeout=60).stdout
    assert out.strip() == 'configmap "owner" deleted'
    assert _gone(cluster, "configmap", "owner", ns)
    assert _gone(cluster, "configmap", "dep-cm", ns)
    assert _gone(cluster, "secret", "dep-secret", ns)


def test_cascade_foreground_waits_for_blocking_dependent(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, _cm("owner", ns))
    owner = _get(cluster, "configmap", "owner", ns)
    _apply(cluster, _cm("blocker", ns, [_ref(owner, block=True)], finalizers=["example.com/hold"]),
           _cm("free", ns, [_ref(owner, block=False)]))
    cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", "--wait=false")

    def owner_waiting() -> dict[str, Any] | None:
        o = _get(cluster, "configmap", "owner", ns)
        b = _get(cluster, "configmap", "blocker", ns)
        if o and b and b["metadata"].get("deletionTimestamp") and _gone(cluster, "configmap", "free", ns):
            return o
        return None

    # the blocking dependent is being deleted (held by its own finalizer), the non-blocking one is gone,
    # and the owner stays, marked for deletion with the foregroundDeletion finalizer
    o = wait_for(owner_waiting, timeout=20, what="foreground deletion in progress")
    assert o["metadata"]["deletionTimestamp"]
    assert o["metadata"]["finalizers"] == ["foregroundDeletion"]
    time.sleep(0.5)
    assert _get(cluster, "configmap", "owner", ns) is not None
    cluster.kubectl("patch", "configmap", "blocker", "-n", ns, "--type=merge", "-p",
                    '{"metadata":{"finalizers":null}}')
    cluster.kubectl("wait", "--for=delete", "configmap/owner", "-n", ns, "--timeout=20s")
    assert _gone(cluster, "configmap", "blocker", ns)


def test_cascade_foreground_nested(cluster: KubelingCluster, ns: str) -> None:
    """owner <- middle <- leaf, all blocking: the chain goes leaf first, owner last."""
    _apply(cluster, _cm("top", ns))
    top = _get(cluster, "configmap", "top", ns)
    _apply(cluster, _cm("middle", ns, [_ref(top, block=True)]))
    middle = _get(cluster, "configmap", "middle", ns)
    _apply(cluster, _cm("leaf", ns, [_ref(middle, block=True)], finalizers=["example.com/hold"]))
    cluster.kubectl("delete", "configmap", "top", "-n", ns, "--cascade=foreground", "--wait=false")

    def middle_waiting() -> bool:
        m = _get(cluster, "configmap", "middle", ns)
        return bool(m and "foregroundDeletion" in (m["metadata"].get("finalizers") or []))

    wait_for(middle_waiting, timeout=20, what="the middle object deleted in the foreground too")
    assert _get(cluster, "configmap", "top", ns)["metadata"]["finalizers"] == ["foregroundDeletion"]
    cluster.kubectl("patch", "configmap", "leaf", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    cluster.kubectl("wait", "--for=delete", "configmap/top", "-n", ns, "--timeout=20s")
    assert _gone(cluster, "configmap", "middle", ns) and _gone(cluster, "configmap", "leaf", ns)


def test_cascade_orphan(cluster: KubelingCluster, ns: str) -> None:
    _owner_with_dependents(cluster, ns, block=True)
    # kubectl returns only once the owner is gone, i.e. after the orphan finalizer was processed
    out = cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=orphan", timeout=60).stdout
    assert out.strip() == 'configmap "owner" deleted'
    assert _gone(cluster, "configmap", "owner", ns)
    time.sleep(1.0)
    for kind, name in (("configmap", "dep-cm"), ("secret", "dep-secret")):
        obj = _get(cluster, kind, name, ns)
        assert obj is not None, f"{kind}/{name} was collected despite --cascade=orphan"
        assert not obj["metadata"].get("ownerReferences")


def test_orphan_keeps_other_owners(cluster: KubelingCluster, ns: str) -> None:
    """Orphaning removes only the deleted owner's reference; a remaining owner keeps the dependent alive."""
    _apply(cluster, _cm("a", ns), _cm("b", ns))
    a, b = _get(cluster, "configmap", "a", ns), _get(cluster, "configmap", "b", ns)
    _apply(cluster, _cm("shared", ns, [_ref(a), _ref(b)]))
    cluster.kubectl("delete", "configmap", "a", "-n", ns, "--cascade=orphan")
    dep = _get(cluster, "configmap", "shared", ns)
    assert [r["name"] for r in dep["metadata"]["ownerReferences"]] == ["b"]
    cluster.kubectl("delete", "configmap", "b", "-n", ns)
    wait_for(lambda: _gone(cluster, "configmap", "shared", ns), timeout=20, what="dependent of b collected")


def test_background_waits_for_all_owners(cluster: KubelingCluster, ns: str) -> None:
    _apply(cluster, _cm("a", ns), _cm("b", ns))
    a, b = _get(cluster, "configmap", "a", ns), _get(cluster, "configmap", "b", ns)
    _apply(cluster, _cm("shared", ns, [_ref(a), _ref(b)]))
    cluster.kubectl("delete", "configmap", "a", "-n", ns)
    # the dangling reference to a is dropped, the object stays while b exists
    wait_for(lambda: [r["name"] for r in _get(cluster, "configmap", "shared", ns)["metadata"]["ownerReferences"]]
             == ["b"], timeout=20, what="dangling reference removed")
    cluster.kubectl("delete", "configmap", "b", "-n", ns)
    wait_for(lambda: _gone(cluster, "configmap", "shared", ns), timeout=20, what="dependent collected")


def test_python_client_propagation_policies(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    api = client.CoreV1Api(cluster.api_client())
    for policy, survives in (("Background", False), ("Foreground", False), ("Orphan", True)):
        owner = api.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"o-{policy.lower()}")))
        ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name=owner.metadata.name,
                                      uid=owner.metadata.uid, block_owner_deletion=True)
        api.create_namespaced_secret(ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name=f"d-{policy.lower()}", owner_references=[ref])))
        api.delete_namespaced_config_map(owner.metadata.name, ns,
                                         body=client.V1DeleteOptions(propagation_policy=policy))

        def settled(owner_name: str = owner.metadata.name, dep: str = f"d-{policy.lower()}",
                    survives: bool = survives) -> bool:
            if any(c.metadata.name == owner_name for c in api.list_namespaced_config_map(ns).items):
                return False
            names = [s.metadata.name for s in api.list_namespaced_secret(ns).items]
            return (dep in names) == survives

        wait_for(settled, timeout=20, what=f"{policy} propagation")
        if survives:
            s = api.read_namespaced_secret(f"d-{policy.lower()}", ns)
            assert not s.metadata.owner_references


def test_many_dependents_collected(cluster: KubelingCluster, ns: str) -> None:
    """One owner, hundreds of dependents: all collected promptly after a background delete."""
    _apply(cluster, _cm("big-owner", ns))
    owner = _get(cluster, "configmap", "big-owner", ns)
    n = 300
    _apply(cluster, *[_cm(f"dep-{i}", ns, [_ref(owner, block=True, controller=True)]) for i in range(n)])

    def count() -> int:
        return len(json.loads(cluster.kubectl("get", "configmaps", "-n", ns, "-o", "json").stdout)["items"])

    assert count() >= n + 1
    t0 = time.monotonic()
    cluster.kubectl("delete", "configmap", "big-owner", "-n", ns)
    # only kube-root-ca.crt (if something publishes it) may remain
    wait_for(lambda: count() <= 1, timeout=30, interval=0.1, what=f"{n} dependents collected")
    assert time.monotonic() - t0 < 10


# ---- dangling and invalid owners ----------------------------------------------------------------------------


def test_dependent_of_never_existing_owner_is_collected(cluster: KubelingCluster, ns: str) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "never-was", "uid": str(uuid.uuid4())}
    _apply(cluster, _cm("orphaned", ns, [ghost]))
    wait_for(lambda: _gone(cluster, "configmap", "orphaned", ns), timeout=20, what="dependent of a missing owner")


def test_dependent_of_owner_with_other_uid_is_collected(cluster: KubelingCluster, ns: str) -> None:
    """An owner of that name exists, but it is not the object the reference names (uid mismatch)."""
    _apply(cluster, _cm("owner", ns))
    impostor = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": str(uuid.uuid4())}
    _apply(cluster, _cm("victim", ns, [impostor]))
    wait_for(lambda: _gone(cluster, "configmap", "victim", ns), timeout=20, what="dependent with stale owner uid")
    assert _get(cluster, "configmap", "owner", ns) is not None


def test_owner_in_other_namespace_is_not_an_owner(cluster: KubelingCluster, ns: str) -> None:
    """A namespaced dependent can only be owned from its own namespace; the GC reports and collects it."""
    owner_ns = "default"
    _apply(cluster, _cm("owner", owner_ns))
    owner = _get(cluster, "configmap", "owner", owner_ns)
    try:
        _apply(cluster, _cm("cross", ns, [_ref(owner)]))
        wait_for(lambda: _gone(cluster, "configmap", "cross", ns), timeout=20, what="cross-namespace dependent")
        ev = wait_for(lambda: [e for e in json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout)
                               ["items"] if e["reason"] == "OwnerRefInvalidNamespace"],
                      timeout=10, what="OwnerRefInvalidNamespace event")
        assert ev[0]["type"] == "Warning"
        assert ev[0]["involvedObject"]["name"] == "cross"
        assert ev[0]["message"] == (f"ownerRef [v1/ConfigMap, namespace: {ns}, name: owner, uid: "
                                    f"{owner['metadata']['uid']}] does not exist in namespace \"{ns}\"")
        assert _get(cluster, "configmap", "owner", owner_ns) is not None
    finally:
        cluster.kubectl("delete", "configmap", "owner", "-n", owner_ns, "--ignore-not-found")


def test_cluster_scoped_owner_of_namespaced_dependent(cluster: KubelingCluster, ns: str) -> None:
    name = "gc-owner-" + uuid.uuid4().hex[:6]
    _apply(cluster, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                     "provisioner": "example.com/none"})
    sc = _get(cluster, "storageclass", name)
    _apply(cluster, _cm("sc-dep", ns, [_ref(sc)]))
    time.sleep(1.0)
    assert _get(cluster, "configmap", "sc-dep", ns) is not None
    cluster.kubectl("delete", "storageclass", name)
    wait_for(lambda: _gone(cluster, "configmap", "sc-dep", ns), timeout=20, what="dependent of a cluster-scoped owner")


# ---- namespace deletion -----------------------------------------------------------------------------------


def _pod(name: str, ns: str, node: str, grace: int | None = 0) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_namespace_deletion_removes_content(cluster: KubelingCluster) -> None:
    name = "gc-ns-" + uuid.uuid4().hex[:6]
    _apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    ns_obj = _get(cluster, "namespace", name)
    assert ns_obj["spec"]["finalizers"] == ["kubernetes"]
    _apply(cluster, _cm("a", name), _cm("b", name, kind="Secret"), _pod("p", name, "node1"),
           {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": name}})
    cp = cluster.kubectl("delete", "namespace", name, timeout=60)
    assert cp.stdout.strip() == f'namespace "{name}" deleted'
    assert _gone(cluster, "namespace", name)
    # nothing is left behind under the old name
    code, _, body = cluster.request("GET", f"/api/v1/namespaces/{name}/configmaps")
    assert code == 200 and json.loads(body)["items"] == []
    code, _, body = cluster.request("GET", f"/api/v1/namespaces/{name}/pods")
    assert code == 200 and json.loads(body)["items"] == []


def test_namespace_terminating_status_and_finalizers(cluster: KubelingCluster) -> None:
    name = "gc-ns-" + uuid.uuid4().hex[:6]
    _apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    _apply(cluster, _cm("held", name, finalizers=["example.com/hold"]), _cm("free", name))
    cluster.kubectl("delete", "namespace", name, "--wait=false")

    def conditions() -> dict[str, dict[str, Any]] | None:
        n = _get(cluster, "namespace", name)
        conds = {c["type"]: c for c in (n or {}).get("status", {}).get("conditions") or []}
        if conds.get("NamespaceFinalizersRemaining", {}).get("status") == "True":
            return conds
        return None

    conds = wait_for(conditions, timeout=20, what="namespace content conditions")
    n = _get(cluster, "namespace", name)
    assert n["status"]["phase"] == "Terminating"
    assert n["metadata"]["deletionTimestamp"]
    assert conds["NamespaceContentRemaining"]["status"] == "True"
    assert conds["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conds["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: configmaps. has 1 resource instances"
    assert conds["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert conds["NamespaceFinalizersRemaining"]["message"] == \
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    for t, reason in (("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"),
                      ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions"),
                      ("NamespaceDeletionContentFailure", "ContentDeleted")):
        assert conds[t]["status"] == "False" and conds[t]["reason"] == reason
    assert _gone(cluster, "configmap", "free", name)
    # new content is refused while the namespace terminates
    code, _, body = cluster.request("POST", f"/api/v1/namespaces/{name}/configmaps",
                                    json.dumps(_cm("late", name)).encode(), {"Content-Type": "application/json"})
    assert code == 403 and "because it is being terminated" in json.loads(body)["message"]
    # releasing the last finalizer lets the namespace go; a second delete waits for that
    cluster.kubectl("patch", "configmap", "held", "-n", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", timeout=60)
    assert _gone(cluster, "namespace", name)


# ---- restart ------------------------------------------------------------------------------------------


def test_collection_converges_after_restart(make_cluster: Any) -> None:
    c = make_cluster()
    ns = "restart"
    _apply(c, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    _apply(c, _cm("owner", ns), _cm("orphan-owner", ns))
    owner = _get(c, "configmap", "owner", ns)
    oo = _get(c, "configmap", "orphan-owner", ns)
    deps = [_cm(f"d{i}", ns, [_ref(owner)]) for i in range(60)]
    deps += [_cm(f"k{i}", ns, [_ref(oo)]) for i in range(20)]
    _apply(c, *deps)
    c.kubectl("delete", "configmap", "owner", "-n", ns, "--wait=false")
    c.kubectl("delete", "configmap", "orphan-owner", "-n", ns, "--cascade=orphan", "--wait=false")
    c.kill()  # crash mid-way: whatever was not collected yet must be after the restart
    c.start()

    def settled() -> bool:
        names = {i["metadata"]["name"]: i for i in
                 json.loads(c.kubectl("get", "configmaps", "-n", ns, "-o", "json").stdout)["items"]}
        return (not any(n.startswith("d") for n in names) and "owner" not in names and "orphan-owner" not in names
                and all(f"k{i}" in names and not names[f"k{i}"]["metadata"].get("ownerReferences")
                        for i in range(20)))

    wait_for(settled, timeout=30, what="collection and orphaning completed after restart")


# ---- pod GC ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def podgc_cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import _LIVE

    c = KubelingCluster(str(tmp_path_factory.mktemp("kubeling-podgc")),
                        ("--pod-gc-quarantine", "1", "--terminated-pod-gc-threshold", "3"), name="podgc")
    _LIVE.append(c)
    c.start()
    try:
        yield c
    finally:
        c.stop()
        _LIVE.remove(c)


def test_pods_on_deleted_node_are_collected(podgc_cluster: KubelingCluster) -> None:
    from kubernetes import client, watch

    c = podgc_cluster
    node = "gone-" + uuid.uuid4().hex[:6]
    _apply(c, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    _apply(c, _pod("on-gone-node", "default", node, grace=None), _pod("elsewhere", "default", "master", grace=None))
    api = client.CoreV1Api(c.api_client())
    seen: list[tuple[str, Any]] = []

    def watch_pod() -> None:
        w = watch.Watch()
        for ev in w.stream(api.list_namespaced_pod, "default", field_selector="metadata.name=on-gone-node",
                           timeout_seconds=30):
            seen.append((ev["type"], ev["object"]))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=watch_pod, daemon=True)
    t.start()
    time.sleep(1.5)  # longer than the quarantine: the node exists, nothing may happen yet
    assert _get(c, "pod", "on-gone-node", "default") is not None
    c.kubectl("delete", "node", node)
    wait_for(lambda: _gone(c, "pod", "on-gone-node", "default"), timeout=30, what="orphaned pod collected")
    t.join(10)
    assert _get(c, "pod", "elsewhere", "default") is not None
    # marked Failed with the DisruptionTarget condition first, then force-deleted
    failed = [o for typ, o in seen if typ == "MODIFIED" and o.status.phase == "Failed"]
    assert failed, [(typ, o.status.phase) for typ, o in seen]
    cond = {x.type: x for x in failed[-1].status.conditions or []}["DisruptionTarget"]
    assert (cond.status, cond.reason, cond.message) == ("True", "DeletionByPodGC", "PodGC: node no longer exists")
    assert seen[-1][0] == "DELETED"
    c.kubectl("delete", "pod", "elsewhere", "-n", "default", "--grace-period=0", "--force", check=False)


def test_pods_on_never_existing_node_are_collected(podgc_cluster: KubelingCluster) -> None:
    c = podgc_cluster
    _apply(c, _pod("nowhere", "default", "no-such-node-" + uuid.uuid4().hex[:6], grace=None))
    # noticed on a periodic pass (20 s), then quarantined
    wait_for(lambda: _gone(c, "pod", "nowhere", "default"), timeout=45, what="pod on a missing node collected")


def test_terminated_pods_over_threshold_are_collected(podgc_cluster: KubelingCluster) -> None:
    from kubernetes import client

    c = podgc_cluster
    api = client.CoreV1Api(c.api_client())
    ns = "term-" + uuid.uuid4().hex[:6]
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    names = [f"done-{i}" for i in range(5)]
    for n in names:
        # a scheduling gate keeps scheduler and kubelet away: only this test moves the pod's phase
        api.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=n),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")],
                                  scheduling_gates=[client.V1PodSchedulingGate(name="example.com/hold")])))
        time.sleep(1.05)  # distinct creation timestamps: the oldest go first
        api.patch_namespaced_pod_status(n, ns, {"status": {"phase": "Succeeded"}})
    # threshold 3: the two oldest terminated pods are deleted on the next pass (every 20 s)
    wait_for(lambda: sorted(p.metadata.name for p in api.list_namespaced_pod(ns).items) == names[2:],
             timeout=45, what="terminated pods beyond the threshold collected")

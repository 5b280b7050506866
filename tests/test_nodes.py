"""Simulated nodes and kubelet, driven through a real kubeling process with /usr/bin/kubectl,
the `kubernetes` client and the `kubeling node` CLI.

One cluster for the module, started with a short node-monitor grace period so the node lifecycle
(stop -> NotReady/Unknown -> taints -> eviction) runs in seconds. Pods are bound with spec.nodeName
so these tests do not depend on the scheduler.
"""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import REPO, KubelingCluster, wait_for

GRACE = 3.0


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    c = KubelingCluster(str(tmp_path_factory.mktemp("nodes")),
                        ("--node-monitor-grace-period", str(GRACE), "--pod-start-delay", "0.5"), name="nodes")
    c.start()
    assert c.wait_nodes_ready(["master", "node1", "node2"], timeout=30)
    try:
        yield c
    finally:
        c.stop()


def kubeling(c: KubelingCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cp = subprocess.run([sys.executable, "-m", "kubeling", "node", *args, "--data-dir", c.data_dir],
                        capture_output=True, text=True, timeout=60, cwd=REPO)
    if check:
        assert cp.returncode == 0, (cp.stdout, cp.stderr)
    return cp


def get(c: KubelingCluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any] | None:
    args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
    cp = c.kubectl(*args, check=False)
    return json.loads(cp.stdout) if cp.returncode == 0 else None


def cond(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or ():
        if c["type"] == type_:
            return c
    return {}


def mkpod(name: str, node: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.25"}], **spec}}


def apply(c: KubelingCluster, *objs: dict[str, Any]) -> None:
    """kubectl apply -f - of the objects (JSON is YAML)."""
    doc = objs[0] if len(objs) == 1 else {"apiVersion": "v1", "kind": "List", "items": list(objs)}
    c.kubectl("apply", "-f", "-", input=json.dumps(doc))


# ---- nodes ---------------------------------------------------------------------------------------------

def test_get_nodes_shape(kc: KubelingCluster) -> None:
    out = kc.kubectl("get", "nodes").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(rows) == {"master", "node1", "node2"}
    assert rows["master"][1:3] == ["Ready", "control-plane"]
    assert rows["node1"][1:3] == ["Ready", "<none>"] and rows["node2"][1:3] == ["Ready", "<none>"]
    assert all(r[4].startswith("v1.32.") for r in rows.values())

    for i, name in enumerate(["master", "node1", "node2"]):
        node = get(kc, "node", name)
        assert node["spec"]["podCIDR"] == f"10.244.{i}.0/24"
        assert node["spec"]["podCIDRs"] == [f"10.244.{i}.0/24"]
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == name
        assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
        st = node["status"]
        assert st["capacity"]["pods"] == "110" and st["allocatable"]["pods"] == "110"
        assert {"cpu", "memory", "ephemeral-storage"} <= set(st["capacity"])
        assert st["nodeInfo"]["kubeletVersion"].startswith("v1.32.")
        assert st["nodeInfo"]["operatingSystem"] == "linux" and st["nodeInfo"]["architecture"] == "amd64"
        types = {a["type"] for a in st["addresses"]}
        assert types == {"InternalIP", "Hostname"}
        ready = cond(node, "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True", "KubeletReady", "kubelet is posting ready status")
        assert [c["type"] for c in st["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        assert all(c["status"] == "False" for c in st["conditions"][:3])
        lease = get(kc, "lease", name, "kube-node-lease")
        assert lease["spec"]["holderIdentity"] == name
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
        if name == "master":
            assert labels["node-role.kubernetes.io/control-plane"] == ""
            assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
        else:
            assert not node["spec"].get("taints")

    # the lease is renewed (every grace/4 here)
    before = get(kc, "lease", "node1", "kube-node-lease")["spec"]["renewTime"]
    wait_for(lambda: get(kc, "lease", "node1", "kube-node-lease")["spec"]["renewTime"] != before, 10,
             what="lease renewal")


# ---- pod lifecycle ----------------------------------------------------------------------------------------

def test_pod_lifecycle_and_graceful_deletion(kc: KubelingCluster) -> None:
    watch = subprocess.Popen([*_kubectl(kc), "get", "pods", "--field-selector",
                              "metadata.name=web", "-o", "wide", "--watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        apply(kc, mkpod("web", "node1"))
        pod = wait_for(lambda: (p := get(kc, "pod", "web")) and cond(p, "Ready").get("status") == "True" and p,
                       15, what="pod Ready")
        st = pod["status"]
        assert st["phase"] == "Running"
        assert ipaddress.ip_address(st["podIP"]) in ipaddress.ip_network("10.244.1.0/24")
        assert st["podIPs"] == [{"ip": st["podIP"]}]
        node1 = get(kc, "node", "node1")
        assert st["hostIP"] == node1["status"]["addresses"][0]["address"]
        assert st["startTime"]
        assert [c["type"] for c in st["conditions"]] == [
            "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        assert all(c["status"] == "True" for c in st["conditions"])
        cs = st["containerStatuses"][0]
        assert cs["name"] == "app" and cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
        assert cs["image"] == "docker.io/library/nginx:1.25"
        assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
        assert cs["containerID"].startswith("containerd://")
        assert cs["state"]["running"]["startedAt"]

        events = kc.kubectl("get", "events", "--field-selector", "involvedObject.name=web", "-o", "json").stdout
        reasons = [e["reason"] for e in json.loads(events)["items"]]
        assert {"Pulled", "Created", "Started"} <= set(reasons)
        assert all(e["source"]["component"] == "kubelet" and e["source"]["host"] == "node1"
                   for e in json.loads(events)["items"])

        kc.kubectl("delete", "pod", "web", "--wait=false")
        terminating = get(kc, "pod", "web")
        assert terminating is not None and terminating["metadata"]["deletionTimestamp"]
        wait_for(lambda: get(kc, "pod", "web") is None, 15, what="pod gone after graceful deletion")
        time.sleep(0.3)
    finally:
        watch.terminate()
        out = watch.communicate(timeout=5)[0]
    statuses = [line.split()[2] for line in out.splitlines() if line.startswith("web ")]
    # Pending/ContainerCreating, then Running, then Terminating, as `kubectl get -w` shows on a cluster.
    assert "ContainerCreating" in statuses, out
    assert "Running" in statuses and "Terminating" in statuses, out
    assert statuses.index("ContainerCreating") < statuses.index("Running") < statuses.index("Terminating"), out
    events = json.loads(kc.kubectl("get", "events", "--field-selector", "involvedObject.name=web",
                                   "-o", "json").stdout)["items"]
    assert any(e["reason"] == "Killing" and e["message"] == "Stopping container app" for e in events)


def _kubectl(c: KubelingCluster) -> list[str]:
    return ["env", f"KUBECONFIG={c.kubeconfig}", f"HOME={c.home}", "/usr/bin/kubectl", f"--cache-dir={c.cache_dir}"]


def test_pod_ips_unique_and_released(kc: KubelingCluster) -> None:
    apply(kc, *(mkpod(f"ip-{i}", "node2") for i in range(6)))

    def ips() -> list[str] | None:
        items = json.loads(kc.kubectl("get", "pods", "-o", "json").stdout)["items"]
        got = [p["status"].get("podIP") for p in items if p["metadata"]["name"].startswith("ip-")]
        return got if len(got) == 6 and all(got) else None

    got = wait_for(ips, 15, what="pod IPs")
    assert len(set(got)) == 6
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.2.0/24") for ip in got)
    kc.kubectl("delete", "pod", *[f"ip-{i}" for i in range(6)], "--grace-period=0", "--force")


def test_ready_fault_injection(kc: KubelingCluster) -> None:
    from kubernetes import client

    api = client.CoreV1Api(kc.api_client())
    api.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "flaky", "annotations": {"kubeling.dev/ready": "false"}},
        "spec": {"nodeName": "node2", "containers": [{"name": "app", "image": "nginx:1.25"}]}})

    def ready_cond() -> Any:
        p = api.read_namespaced_pod("flaky", "default")
        return next((c for c in p.status.conditions or [] if c.type == "Ready"), None), p

    c, p = wait_for(lambda: (r := ready_cond()) and r[1].status.phase == "Running" and r, 15, what="Running")
    assert c.status == "False" and c.reason == "ContainersNotReady"
    assert c.message == "containers with unready status: [app]"
    assert p.status.container_statuses[0].ready is False and p.status.container_statuses[0].started is True

    api.patch_namespaced_pod("flaky", "default", {"metadata": {"annotations": {"kubeling.dev/ready": "true"}}})
    wait_for(lambda: ready_cond()[0].status == "True", 10, what="Ready after annotation flip")
    api.patch_namespaced_pod("flaky", "default", {"metadata": {"annotations": {"kubeling.dev/ready": "false"}}})
    wait_for(lambda: ready_cond()[0].status == "False", 10, what="NotReady after annotation flip")
    api.patch_namespaced_pod("flaky", "default", {"metadata": {"annotations": {"kubeling.dev/ready": None}}})
    wait_for(lambda: ready_cond()[0].status == "True", 10, what="Ready after annotation removal")
    api.delete_namespaced_pod("flaky", "default", grace_period_seconds=0)


def test_init_containers_and_termination_delay(kc: KubelingCluster) -> None:
    apply(kc, mkpod("withinit", "node1", {"kubeling.dev/termination-delay": "2"},
                  initContainers=[{"name": "setup", "image": "busybox:1.36"}]))
    pod = wait_for(lambda: (p := get(kc, "pod", "withinit")) and p["status"].get("phase") == "Running"
                   and cond(p, "Ready").get("status") == "True" and p, 15, what="Running")
    ics = pod["status"]["initContainerStatuses"][0]
    assert ics["state"]["terminated"]["reason"] == "Completed" and ics["state"]["terminated"]["exitCode"] == 0
    assert cond(pod, "Initialized")["status"] == "True"

    t0 = time.monotonic()
    kc.kubectl("delete", "pod", "withinit", "--wait=false")
    time.sleep(1.0)
    p = get(kc, "pod", "withinit")
    assert p is not None and p["metadata"].get("deletionTimestamp")  # still Terminating
    assert "running" in p["status"]["containerStatuses"][0]["state"]
    wait_for(lambda: get(kc, "pod", "withinit") is None, 10, what="pod gone")
    assert time.monotonic() - t0 >= 1.8


def test_exit_code_annotation(kc: KubelingCluster) -> None:
    apply(kc, mkpod("ok", "node1", {"kubeling.dev/exit-code": "0"}, restartPolicy="Never"),
          mkpod("bad", "node1", {"kubeling.dev/exit-code": "2"}, restartPolicy="Never"))
    ok = wait_for(lambda: (p := get(kc, "pod", "ok")) and p["status"].get("phase") == "Succeeded" and p, 15,
                  what="Succeeded")
    assert ok["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert cond(ok, "Ready")["reason"] == "PodCompleted"
    bad = wait_for(lambda: (p := get(kc, "pod", "bad")) and p["status"].get("phase") == "Failed" and p, 15,
                   what="Failed")
    term = bad["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("Error", 2)
    kc.kubectl("delete", "pod", "ok", "bad")


# ---- live node management and the node lifecycle ------------------------------------------------------

def test_node_add_stop_start_remove(kc: KubelingCluster) -> None:
    kubeling(kc, "add", "node3", "--label", "disk=ssd", "--taint", "dedicated=gpu:NoSchedule", "--cpu", "8")
    node = get(kc, "node", "node3")
    assert cond(node, "Ready")["status"] == "True"
    assert node["metadata"]["labels"]["disk"] == "ssd"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node3"
    assert {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert node["spec"]["podCIDR"] == "10.244.3.0/24"
    assert node["status"]["capacity"]["cpu"] == "8"
    row = kc.kubectl("get", "node", "node3", "--no-headers").stdout.split()
    assert row[1:3] == ["Ready", "<none>"]

    def tolerations(seconds: int | None) -> list[dict[str, Any]]:
        t = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
        if seconds is not None:
            t["tolerationSeconds"] = seconds
        return [{"key": "dedicated", "operator": "Exists"}, t]

    apply(kc, mkpod("brief", "node3", tolerations=tolerations(1)), mkpod("stays", "node3", tolerations=tolerations(None)))
    wait_for(lambda: all(cond(get(kc, "pod", n), "Ready").get("status") == "True" for n in ("brief", "stays")),
             15, what="pods on node3 Ready")

    t0 = time.monotonic()
    kubeling(kc, "stop", "node3")

    def unknown() -> Any:
        n = get(kc, "node", "node3")
        return cond(n, "Ready").get("status") == "Unknown" and n

    node = wait_for(unknown, GRACE + 10, what="node3 Unknown")
    assert time.monotonic() - t0 >= GRACE - 0.5
    ready = cond(node, "Ready")
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert cond(node, "MemoryPressure")["status"] == "Unknown"
    assert kc.kubectl("get", "node", "node3", "--no-headers").stdout.split()[1] == "NotReady"

    def tainted() -> bool:
        taints = {(t["key"], t["effect"]) for t in get(kc, "node", "node3")["spec"].get("taints") or ()}
        return {("node.kubernetes.io/unreachable", "NoSchedule"),
                ("node.kubernetes.io/unreachable", "NoExecute")} <= taints

    wait_for(tainted, 10, what="unreachable taints")
    # tolerationSeconds 1: evicted (the stopped kubelet cannot finish it, so it stays Terminating)
    brief = wait_for(lambda: (p := get(kc, "pod", "brief")) and p["metadata"].get("deletionTimestamp") and p, 10,
                     what="eviction")
    assert cond(brief, "DisruptionTarget")["reason"] == "DeletionByTaintManager"
    stays = get(kc, "pod", "stays")
    assert not stays["metadata"].get("deletionTimestamp")
    assert cond(stays, "Ready")["status"] == "False"  # MarkPodsNotReady
    time.sleep(1.0)
    assert get(kc, "pod", "brief") is not None

    kubeling(kc, "start", "node3")
    wait_for(lambda: cond(get(kc, "node", "node3"), "Ready").get("status") == "True", 10, what="node3 Ready")
    wait_for(lambda: not any(t["key"] == "node.kubernetes.io/unreachable"
                             for t in get(kc, "node", "node3")["spec"].get("taints") or ()), 10,
             what="taints removed")
    wait_for(lambda: get(kc, "pod", "brief") is None, 10, what="evicted pod finished by the restarted agent")
    wait_for(lambda: cond(get(kc, "pod", "stays"), "Ready").get("status") == "True", 10, what="pod Ready again")

    kubeling(kc, "remove", "node3")
    wait_for(lambda: get(kc, "node", "node3") is None, 5, what="node3 deleted")
    assert get(kc, "lease", "node3", "kube-node-lease") is None
    kc.kubectl("delete", "pod", "stays", "--grace-period=0", "--force", check=False)

    bad = kubeling(kc, "stop", "nosuchnode", check=False)
    assert bad.returncode != 0 and "NotFound" in bad.stderr


def test_standalone_agent_process(kc: KubelingCluster) -> None:
    log = open(os.path.join(kc.base_dir, "agent.log"), "wb")
    agent = subprocess.Popen([sys.executable, "-m", "kubeling", "node", "--name", "ext1", "--kubeconfig",
                              kc.kubeconfig, "--pod-start-delay", "0.2", "--node-monitor-grace-period", str(GRACE)],
                             stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    try:
        node = wait_for(lambda: (n := get(kc, "node", "ext1")) and cond(n, "Ready").get("status") == "True" and n,
                        20, what="standalone node Ready")
        assert "kubeling.dev/simulated" not in (node["metadata"].get("annotations") or {})
        cidr = ipaddress.ip_network(node["spec"]["podCIDR"])
        apply(kc, mkpod("remote", "ext1"))
        pod = wait_for(lambda: (p := get(kc, "pod", "remote")) and cond(p, "Ready").get("status") == "True" and p,
                       15, what="pod on standalone node Ready")
        assert ipaddress.ip_address(pod["status"]["podIP"]) in cidr
        kc.kubectl("delete", "pod", "remote")  # waits: the remote agent completes the graceful deletion
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
        log.close()
    # the agent is gone: the node lifecycle controller notices
    wait_for(lambda: cond(get(kc, "node", "ext1"), "Ready").get("status") == "Unknown", GRACE + 10,
             what="ext1 Unknown after its agent stopped")
    kc.kubectl("delete", "node", "ext1")


def test_restart_keeps_pods_and_ips(kc: KubelingCluster) -> None:
    apply(kc, mkpod("survivor", "node2"))
    before = wait_for(lambda: (p := get(kc, "pod", "survivor")) and cond(p, "Ready").get("status") == "True"
                      and p, 15, what="Ready")
    kubeling(kc, "add", "node4")
    boot = get(kc, "node", "node4")["status"]["nodeInfo"]["bootID"]
    kc.stop()
    kc.start()
    assert kc.wait_nodes_ready(["master", "node1", "node2", "node4"], timeout=20)
    node4 = get(kc, "node", "node4")
    assert node4["status"]["nodeInfo"]["bootID"] != boot  # its agent came back with the cluster
    assert node4["spec"]["podCIDR"] not in {get(kc, "node", n)["spec"]["podCIDR"] for n in ("master", "node1", "node2")}
    after = get(kc, "pod", "survivor")
    assert after["status"]["podIP"] == before["status"]["podIP"]
    assert after["status"]["containerStatuses"][0]["containerID"] == \
        before["status"]["containerStatuses"][0]["containerID"]
    apply(kc, mkpod("newcomer", "node2"))
    new = wait_for(lambda: (p := get(kc, "pod", "newcomer")) and p["status"].get("podIP") and p, 15, what="IP")
    assert new["status"]["podIP"] != before["status"]["podIP"]
    time.sleep(0.5)
    started = [e for e in json.loads(kc.kubectl("get", "events", "--field-selector", "involvedObject.name=survivor",
                                                "-o", "json").stdout)["items"] if e["reason"] == "Started"]
    assert len(started) == 1 and started[0].get("count", 1) == 1  # no duplicate events after the restart
    kc.kubectl("delete", "pod", "survivor", "newcomer", "--grace-period=0", "--force")
    kubeling(kc, "remove", "node4")


# ---- pure helpers (no cluster) ------------------------------------------------------------------------------

def test_addressing_and_ipam_helpers() -> None:
    from kubeling.node.kubelet import IPAllocator, cidr_index, node_ip, pod_cidr

    cidrs = [pod_cidr(i) for i in range(5000)]
    assert cidrs[0] == "10.244.0.0/24" and cidrs[255] == "10.244.255.0/24"
    assert len(set(cidrs)) == 5000 and all(cidr_index(c) == i for i, c in enumerate(cidrs))
    svc = ipaddress.ip_network("10.96.0.0/12")
    assert not any(ipaddress.ip_network(c).overlaps(svc) for c in cidrs)
    assert len({node_ip(i) for i in range(5000)}) == 5000

    a = IPAllocator("10.244.7.0/24")
    ips = [a.allocate(f"u{i}") for i in range(253)]
    assert len(set(ips)) == 253 and ips[0] == "10.244.7.2" and a.allocate("extra") is None
    assert a.allocate("u5") == ips[5]  # idempotent per pod
    a.release("u5")
    assert a.allocate("new") == ips[5]  # the only free address
    b = IPAllocator("10.244.7.0/24")
    b.restore("old", "10.244.7.2")
    assert b.allocate("x") == "10.244.7.3"
    b.release("x")
    assert b.allocate("y") == "10.244.7.4"  # round-robin: a freed address is reused late


def test_kubelet_formatting_helpers() -> None:
    from kubeling.node.kubelet import go_duration, image_id, normalize_image

    assert normalize_image("nginx") == "docker.io/library/nginx:latest"
    assert normalize_image("nginx:1.25") == "docker.io/library/nginx:1.25"
    assert normalize_image("bitnami/redis:7") == "docker.io/bitnami/redis:7"
    assert normalize_image("registry.k8s.io/pause:3.10") == "registry.k8s.io/pause:3.10"
    assert normalize_image("localhost:5000/app") == "localhost:5000/app:latest"
    assert image_id("nginx:1.25").startswith("docker.io/library/nginx@sha256:")
    assert [go_duration(x) for x in (0, 0.5, 1, 1.2345, 75.5)] == ["0s", "500ms", "1s", "1.234s", "1m15.5s"]


def test_taint_toleration_helpers() -> None:
    from kubeling.controllers.nodelifecycle import matching_tolerations, min_toleration_seconds, tolerates

    unreachable = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    assert tolerates({"operator": "Exists"}, unreachable)
    assert tolerates({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                     unreachable)
    assert not tolerates({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "operator": "Exists"},
                         unreachable)
    assert tolerates({"key": "k", "value": "v", "effect": "NoExecute"}, {"key": "k", "value": "v",
                                                                          "effect": "NoExecute"})
    assert not tolerates({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"})
    ok, used = matching_tolerations([unreachable], [{"operator": "Exists", "tolerationSeconds": 300}])
    assert ok and min_toleration_seconds(used) == 300
    assert matching_tolerations([unreachable], []) == (False, [])
    assert min_toleration_seconds([{"operator": "Exists"}]) == -1
    assert min_toleration_seconds([{"operator": "Exists", "tolerationSeconds": -5}]) == 0
    assert min_toleration_seconds([]) == 0

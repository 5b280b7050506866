"""The default scheduler against a real kubeling process, driven by /usr/bin/kubectl and the `kubernetes`
client (issue 3 "Scheduler", issue 7 volume binding).

Assertions are on spec.nodeName, the PodScheduled condition and the scheduler's events, with the
upstream v1.32 message texts (note upstream's doubled final period after the preemption part).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import REPO, KubelingCluster, wait_for

CP_TAINT_MSG = "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
WORKERS = {"node1", "node2"}


@pytest.fixture(scope="module")
def sched_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    """A cluster of our own: its node set (master, node1, node2) is exactly what the messages count."""
    c = KubelingCluster(str(tmp_path_factory.mktemp("sched")), ("--pod-start-delay", "0.2"), name="scheduler")
    c.start()
    try:
        assert c.wait_nodes_ready(["master", "node1", "node2"]), c.log_tail()
        yield c
    finally:
        c.stop()


@pytest.fixture
def sns(sched_cluster: KubelingCluster) -> Iterator[str]:
    name = "s-" + uuid.uuid4().hex[:8]
    sched_cluster.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    sched_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(c: KubelingCluster, ns: str, doc: dict[str, Any]) -> None:
    c.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(doc))


def pod_doc(name: str, **spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", None) or [{"name": "c", "image": "nginx"}]
    labels = spec.pop("labels", None) or {"app": name}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": containers, **spec}}


def get_pod(c: KubelingCluster, ns: str, name: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", "pod", name, "-n", ns, "-o", "json").stdout)


def scheduled_condition(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((x for x in (pod.get("status") or {}).get("conditions") or () if x["type"] == "PodScheduled"), None)


def wait_node(c: KubelingCluster, ns: str, name: str, timeout: float = 20) -> str:
    return wait_for(lambda: get_pod(c, ns, name)["spec"].get("nodeName"), timeout, what=f"{name} to be bound")


def wait_unschedulable(c: KubelingCluster, ns: str, name: str, timeout: float = 20) -> dict[str, Any]:
    def cond() -> dict[str, Any] | None:
        x = scheduled_condition(get_pod(c, ns, name))
        return x if x and x["status"] == "False" else None

    return wait_for(cond, timeout, what=f"{name} to be Unschedulable")


def events(c: KubelingCluster, ns: str, name: str) -> list[dict[str, Any]]:
    out = c.kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}", "-o", "json")
    return json.loads(out.stdout)["items"]


def wait_event(c: KubelingCluster, ns: str, name: str, reason: str, timeout: float = 20) -> dict[str, Any]:
    return wait_for(lambda: next((e for e in events(c, ns, name) if e["reason"] == reason), None), timeout,
                    what=f"{reason} event for {name}")


# ---- placement and the Scheduled event ------------------------------------------------------------------

def test_pod_is_bound_to_a_worker_with_scheduled_event(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    c.kubectl("run", "web", "-n", sns, "--image=nginx")
    node = wait_node(c, sns, "web")
    assert node in WORKERS
    cond = wait_for(lambda: scheduled_condition(get_pod(c, sns, "web")), what="PodScheduled")
    assert cond["status"] == "True"
    ev = wait_event(c, sns, "web", "Scheduled")
    assert ev["type"] == "Normal"
    assert ev["message"] == f"Successfully assigned {sns}/web to {node}"
    assert ev["source"]["component"] == "default-scheduler"
    out = c.kubectl("describe", "pod", "web", "-n", sns).stdout
    assert f"default-scheduler  Successfully assigned {sns}/web to {node}" in out


def test_never_on_master_without_toleration(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    for i in range(6):
        apply(c, sns, pod_doc(f"p{i}", labels={"app": "many"}))
    nodes = [wait_node(c, sns, f"p{i}") for i in range(6)]
    assert set(nodes) == WORKERS  # never master, and spread over both workers


def test_toleration_and_node_selector_lands_on_master(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    apply(c, sns, pod_doc("cp", nodeSelector={"kubernetes.io/hostname": "master"},
                          tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                                        "effect": "NoSchedule"}]))
    assert wait_node(c, sns, "cp") == "master"


def test_required_node_affinity_match_fields(sched_cluster: KubelingCluster, sns: str) -> None:
    """The DaemonSet controller pins its pods with matchFields metadata.name."""
    c = sched_cluster
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node2"]}]}]}}}
    apply(c, sns, pod_doc("pinned", affinity=aff))
    assert wait_node(c, sns, "pinned") == "node2"


# ---- unschedulable pods ----------------------------------------------------------------------------------

def test_node_selector_to_missing_label_stays_pending(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    apply(c, sns, pod_doc("lost", nodeSelector={"disktype": "ssd"}))
    cond = wait_unschedulable(c, sns, "lost")
    want = (f"0/3 nodes are available: {CP_TAINT_MSG}, 2 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == want
    ev = wait_event(c, sns, "lost", "FailedScheduling")
    assert ev["type"] == "Warning" and ev["message"] == want and ev["source"]["component"] == "default-scheduler"
    out = c.kubectl("describe", "pod", "lost", "-n", sns).stdout
    assert "FailedScheduling" in out and "didn't match Pod's node affinity/selector" in out
    time.sleep(1.5)
    pod = get_pod(c, sns, "lost")
    assert not pod["spec"].get("nodeName") and pod["status"]["phase"] == "Pending"


def test_insufficient_cpu_message(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    apply(c, sns, pod_doc("huge", containers=[{"name": "c", "image": "nginx",
                                               "resources": {"requests": {"cpu": "64"}}}]))
    cond = wait_unschedulable(c, sns, "huge")
    assert cond["message"] == (
        f"0/3 nodes are available: {CP_TAINT_MSG}, 2 Insufficient cpu. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..")
    assert wait_event(c, sns, "huge", "FailedScheduling")["message"] == cond["message"]


def test_host_port_conflict(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    ports = [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 18080}]}]
    apply(c, sns, pod_doc("hp1", containers=ports))
    apply(c, sns, pod_doc("hp2", containers=ports))
    n1, n2 = wait_node(c, sns, "hp1"), wait_node(c, sns, "hp2")
    assert {n1, n2} == WORKERS
    apply(c, sns, pod_doc("hp3", containers=ports))
    cond = wait_unschedulable(c, sns, "hp3")
    assert "2 node(s) didn't have free ports for the requested pod ports" in cond["message"]


def test_pending_pod_is_placed_when_a_fitting_node_is_added(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    apply(c, sns, pod_doc("gpu", nodeSelector={"accelerator": "yes"}))
    wait_unschedulable(c, sns, "gpu")
    cmd = [sys.executable, "-m", "kubeling", "node", "add", "node3", "--label", "accelerator=yes",
           "--kubeconfig", c.kubeconfig]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=60,
                   env={"HOME": c.home, "PATH": "/usr/bin:/bin"})
    try:
        assert wait_node(c, sns, "gpu", timeout=30) == "node3"
    finally:
        subprocess.run([sys.executable, "-m", "kubeling", "node", "remove", "node3", "--kubeconfig", c.kubeconfig],
                       cwd=REPO, capture_output=True, timeout=60, env={"HOME": c.home, "PATH": "/usr/bin:/bin"})
        wait_for(lambda: c.kubectl("get", "node", "node3", check=False).returncode != 0, 30, what="node3 gone")


def test_unschedulable_node_is_skipped(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    c.kubectl("cordon", "node1")
    try:
        apply(c, sns, pod_doc("cordoned", labels={"app": "x"}))
        assert wait_node(c, sns, "cordoned") == "node2"
        c.kubectl("cordon", "node2")
        apply(c, sns, pod_doc("nowhere"))
        cond = wait_unschedulable(c, sns, "nowhere")
        assert cond["message"].startswith(f"0/3 nodes are available: {CP_TAINT_MSG}, 2 node(s) were unschedulable.")
        c.kubectl("uncordon", "node2")
        assert wait_node(c, sns, "nowhere") == "node2"
    finally:
        c.kubectl("uncordon", "node1", "node2", check=False)


# ---- volumes ---------------------------------------------------------------------------------------------

def pvc_doc(name: str, cls: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


def with_claim(name: str, claim: str) -> dict[str, Any]:
    return pod_doc(name, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}])


def test_missing_claim_and_unbound_immediate_claim(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    apply(c, sns, with_claim("noclaim", "nope"))
    cond = wait_unschedulable(c, sns, "noclaim")
    assert cond["message"] == ('0/3 nodes are available: persistentvolumeclaim "nope" not found. preemption: '
                               "0/3 nodes are available: 3 Preemption is not helpful for scheduling..")
    apply(c, sns, pvc_doc("manual", ""))
    apply(c, sns, with_claim("immediate", "manual"))
    cond = wait_unschedulable(c, sns, "immediate")
    assert cond["message"] == ("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                               "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..")
    # creating the claim it waits for makes the first pod schedulable (event-driven retry)
    apply(c, sns, pvc_doc("nope", ""))
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{sns}"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                   "claimRef": {"namespace": sns, "name": "nope"}, "hostPath": {"path": f"/tmp/{sns}"}}}
    c.kubectl("apply", "-f", "-", input=json.dumps(pv))
    try:
        assert wait_node(c, sns, "noclaim", timeout=30) in WORKERS
    finally:
        c.kubectl("delete", "pv", f"pv-{sns}", "--wait=false", check=False)


def test_wait_for_first_consumer_claim_gets_selected_node(sched_cluster: KubelingCluster, sns: str) -> None:
    c = sched_cluster
    if c.kubectl("get", "storageclass", "standard", check=False).returncode != 0:
        pytest.skip("no default StorageClass in this build")
    apply(c, sns, pvc_doc("www", None))
    apply(c, sns, with_claim("db", "www"))
    node = wait_node(c, sns, "db", timeout=30)
    assert node in WORKERS
    pvc = json.loads(c.kubectl("get", "pvc", "www", "-n", sns, "-o", "json").stdout)
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    assert pvc["status"]["phase"] == "Bound"  # the pod was bound only after its claim
    pv = json.loads(c.kubectl("get", "pv", pvc["spec"]["volumeName"], "-o", "json").stdout)
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node]
    # a new pod on the same claim follows the volume to its node
    c.kubectl("delete", "pod", "db", "-n", sns, "--wait=true", "--timeout=30s")
    apply(c, sns, with_claim("db", "www"))
    assert wait_node(c, sns, "db", timeout=30) == node


# ---- the kubernetes client ---------------------------------------------------------------------------------

def test_python_client_sees_binding_and_conditions(sched_cluster: KubelingCluster, sns: str) -> None:
    from kubernetes import client

    api = client.CoreV1Api(sched_cluster.api_client())
    body = client.V1Pod(metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}),
                        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))
    api.create_namespaced_pod(sns, body)
    pod = wait_for(lambda: (p := api.read_namespaced_pod("py", sns)).spec.node_name and p, 20, what="py bound")
    assert pod.spec.node_name in WORKERS
    assert pod.spec.scheduler_name == "default-scheduler"
    big = client.V1Pod(metadata=client.V1ObjectMeta(name="py-big"), spec=client.V1PodSpec(containers=[
        client.V1Container(name="c", image="nginx", resources=client.V1ResourceRequirements(
            requests={"memory": "100Gi"}))]))
    api.create_namespaced_pod(sns, big)

    def cond() -> Any:
        for x in api.read_namespaced_pod("py-big", sns).status.conditions or ():
            if x.type == "PodScheduled" and x.status == "False":
                return x
        return None

    x = wait_for(cond, 20, what="py-big Unschedulable")
    assert x.reason == "Unschedulable"
    assert f"{CP_TAINT_MSG}, 2 Insufficient memory." in x.message
    evs = api.list_namespaced_event(sns, field_selector="involvedObject.name=py-big,reason=FailedScheduling")
    assert evs.items and evs.items[0].message == x.message


def test_many_pods_are_scheduled_quickly(sched_cluster: KubelingCluster, sns: str) -> None:
    from kubernetes import client

    api = client.CoreV1Api(sched_cluster.api_client())
    n = 150
    t0 = time.monotonic()
    for i in range(n):
        api.create_namespaced_pod(sns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=f"b{i}", labels={"app": "bulk"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")])))

    def all_bound() -> Any:
        pods = api.list_namespaced_pod(sns, label_selector="app=bulk").items
        return pods if len(pods) == n and all(p.spec.node_name for p in pods) else None

    pods = wait_for(all_bound, 60, what="bulk pods bound")
    assert time.monotonic() - t0 < 60
    per_node: dict[str, int] = {}
    for p in pods:
        per_node[p.spec.node_name] = per_node.get(p.spec.node_name, 0) + 1
    assert set(per_node) <= WORKERS | {"node3"} and "master" not in per_node
    assert min(per_node.get("node1", 0), per_node.get("node2", 0)) >= n // 4  # spread, not piled up


# ---- restart -------------------------------------------------------------------------------------------------

def test_pending_pods_converge_after_restart(make_cluster: Any) -> None:
    """Pending pods survive a crash of the process and are placed once they fit; bound pods stay put."""
    c = make_cluster("--pod-start-delay", "0.2")
    assert c.wait_nodes_ready(["master", "node1", "node2"]), c.log_tail()
    ns = "restart"
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": ns}}))
    apply(c, ns, pod_doc("early"))
    early = wait_node(c, ns, "early")
    apply(c, ns, pod_doc("waiting", nodeSelector={"zone": "a"}))
    wait_unschedulable(c, ns, "waiting")
    c.kill()
    c.start()
    assert c.wait_nodes_ready(["master", "node1", "node2"]), c.log_tail()
    c.kubectl("label", "node", "node1", "zone=a")
    assert wait_node(c, ns, "waiting", timeout=30) == "node1"
    assert get_pod(c, ns, "early")["spec"]["nodeName"] == early
    scheduled = [e for e in events(c, ns, "waiting") if e["reason"] == "Scheduled"]
    assert len(scheduled) == 1 and scheduled[0]["message"] == f"Successfully assigned {ns}/waiting to node1"

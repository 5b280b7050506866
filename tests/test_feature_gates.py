"""--feature-gates on every component: upstream's parsing errors, and MaxUnavailableStatefulSet (alpha, off
by default in v1.32) changing how a StatefulSet rolls."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import REPO, KubelingCluster

STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: roll}
spec:
  serviceName: roll
  replicas: 4
  selector: {matchLabels: {app: roll}}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 2}
  template:
    metadata: {labels: {app: roll}}
    spec:
      containers: [{name: c, image: nginx:1}]
"""


def _available(pod: Any) -> bool:
    if pod.metadata.deletion_timestamp is not None:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _rollout_unavailability(c: KubelingCluster, ns: str, replicas: int = 4) -> int:
    """Roll the set to a new image and return the most pods unavailable at once, computed at every watch event
    (each event is one store revision, so the count is exact, with no timing involved)."""
    from kubernetes import client, watch

    v1 = client.CoreV1Api(c.api_client())
    c.kubectl("apply", "-n", ns, "-f", "-", input=STS)
    c.kubectl("rollout", "status", "-n", ns, "statefulset/roll", "--timeout=120s")
    listed = v1.list_namespaced_pod(ns, label_selector="app=roll")
    pods = {p.metadata.name: p for p in listed.items}
    assert len(pods) == replicas and all(_available(p) for p in pods.values())
    c.kubectl("set", "image", "-n", ns, "statefulset/roll", "c=nginx:2")
    worst = 0
    done = False
    for ev in watch.Watch().stream(v1.list_namespaced_pod, ns, label_selector="app=roll",
                                   resource_version=listed.metadata.resource_version, timeout_seconds=120):
        pod = ev["object"]
        if ev["type"] == "DELETED":
            pods.pop(pod.metadata.name, None)
        else:
            pods[pod.metadata.name] = pod
        worst = max(worst, replicas - sum(1 for p in pods.values() if _available(p)))
        if len(pods) == replicas and all(_available(p) and p.spec.containers[0].image == "nginx:2"
                                         for p in pods.values()):
            done = True
            break
    assert done, "rollout did not finish"
    return worst


def test_max_unavailable_gate_updates_two_at_a_time(make_cluster: Any) -> None:
    c = make_cluster("--feature-gates=MaxUnavailableStatefulSet=true")
    c.kubectl("create", "namespace", "fg")
    assert _rollout_unavailability(c, "fg") == 2


def test_default_updates_one_at_a_time(cluster: KubelingCluster, ns: str) -> None:
    """MaxUnavailableStatefulSet is alpha and off in v1.32: maxUnavailable is accepted and ignored."""
    assert _rollout_unavailability(cluster, ns) == 1


def _kubeling(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubeling", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=60)


@pytest.mark.parametrize("command", ["up", "apiserver", "controller-manager", "scheduler"])
@pytest.mark.parametrize("value,message", [
    ("Foo=true", "unrecognized feature gate: Foo"),
    ("MaxUnavailableStatefulSet=bar",
     'invalid value of MaxUnavailableStatefulSet=bar, err: strconv.ParseBool: parsing "bar": invalid syntax'),
    ("StatefulSetAutoDeletePVC=false",
     "cannot set feature gate StatefulSetAutoDeletePVC to false, feature is locked to true"),
    ("MaxUnavailableStatefulSet", "missing bool value for MaxUnavailableStatefulSet"),
])
def test_bad_feature_gates_exit_with_upstream_message(command: str, value: str, message: str,
                                                      tmp_path: Any) -> None:
    cp = _kubeling(command, f"--feature-gates={value}", "--data-dir", str(tmp_path))
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert message in cp.stderr
    assert not any(tmp_path.iterdir())  # rejected before anything started


def test_feature_gates_survive_detach(make_cluster: Any) -> None:
    """`up --detach` re-executes itself: the gates must reach the child (its log shows the GA warning)."""
    c = make_cluster(start=False)
    cp = _kubeling("up", "--detach", "--data-dir", c.data_dir, "--port", str(c.port), "--dns-port",
                   str(c.dns_port), "--kubeconfig", c.kubeconfig, "--nodes", "master",
                   "--feature-gates=PodIndexLabel=true", "--feature-gates=MaxUnavailableStatefulSet=true")
    try:
        assert cp.returncode == 0, cp.stderr
        with open(f"{c.data_dir}/kubeling.log") as f:
            log = f.read()
        assert "Setting GA feature gate PodIndexLabel=true. It will be removed in a future release." in log
        nodes = json.loads(c.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert [n["metadata"]["name"] for n in nodes] == ["master"]
    finally:
        _kubeling("down", "--data-dir", c.data_dir)

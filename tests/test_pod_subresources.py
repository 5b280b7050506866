"""pods/log, exec, attach, portforward, proxy; nodes/proxy; services/proxy against simulated nodes.

Validation answers exactly as upstream v1.32; a running simulated container has an empty log; the
connection subresources answer the Status upstream gives when the backend cannot be reached (nothing
runs on a simulated node), promptly over both WebSocket and SPDY.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import KUBECTL, wait_for

SIMULATED = "is simulated by kubeling"


def _pod(ns: str, name: str, containers: list[str], init: list[str] = (), ann: dict | None = None,
         node_selector: dict | None = None, restart: str = "Always") -> str:
    spec: dict = {"containers": [{"name": c, "image": "nginx", "ports": [{"containerPort": 80}]} for c in containers],
                  "restartPolicy": restart}
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox"} for c in init]
    if node_selector:
        spec["nodeSelector"] = node_selector
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": ns, "annotations": ann or {}}, "spec": spec})


def _running(cluster, ns: str, name: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=_pod(ns, name, ["nginx"]))
    wait_for(lambda: cluster.get_json(f"/api/v1/namespaces/{ns}/pods/{name}").get("status", {}).get("phase")
             == "Running", 60, what=f"pod {name} running")


def test_logs_of_running_container_are_empty_text(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    cp = cluster.kubectl("logs", "-n", ns, "web-0")
    assert cp.stdout == ""
    code, headers, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/web-0/log?tailLines=10&timestamps=true")
    assert (code, body) == (200, b"")
    assert headers["Content-Type"].startswith("text/plain")
    from kubernetes import client
    api = client.CoreV1Api(cluster.api_client())
    assert api.read_namespaced_pod_log("web-0", ns) == ""
    assert api.read_namespaced_pod_log("web-0", ns, container="nginx", tail_lines=5, since_seconds=60) == ""


def test_logs_validation(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    cluster.kubectl("apply", "-f", "-", input=_pod(ns, "two", ["a", "b"], init=["setup"]))
    from kubernetes import client
    api = client.CoreV1Api(cluster.api_client())
    with pytest.raises(client.ApiException) as e:
        api.read_namespaced_pod_log("two", ns)
    st = json.loads(e.value.body)
    assert (e.value.status, st["reason"]) == (400, "BadRequest")
    assert st["message"] == "a container name must be specified for pod two, choose one of: [setup a b]"
    cp = cluster.kubectl("logs", "-n", ns, "web-0", "-c", "foo", check=False)
    assert cp.returncode != 0 and "container foo is not valid for pod web-0" in cp.stderr
    code, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/web-0/log?container=foo")
    assert code == 400 and json.loads(body)["message"] == "container foo is not valid for pod web-0"
    cp = cluster.kubectl("logs", "-n", ns, "nope", check=False)
    assert cp.returncode != 0 and 'pods "nope" not found' in cp.stderr  # kubectl GETs the pod first
    code, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/nope/log")
    assert code == 404 and json.loads(body)["message"] == 'pods "nope" not found'
    cp = cluster.kubectl("logs", "-n", ns, "web-0", "--previous", check=False)
    assert cp.returncode != 0
    assert ('Error from server (BadRequest): previous terminated container "nginx" in pod "web-0" not found'
            in cp.stderr)
    code, _, body = cluster.request(
        "GET", f"/api/v1/namespaces/{ns}/pods/web-0/log?tailLines=-1&sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")
    st = json.loads(body)
    assert (code, st["reason"], st["details"]["kind"], st["details"]["name"]) == (422, "Invalid", "PodLogOptions", "web-0")
    assert st["message"] == ('PodLogOptions "web-0" is invalid: [tailLines: Invalid value: -1: must be greater than '
                             'or equal to 0, : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be '
                             'specified]')
    code, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/web-0/log?tailLines=ten")
    assert code == 400 and json.loads(body)["reason"] == "BadRequest"


def test_logs_previous_after_restart_and_unscheduled_pod(cluster, ns) -> None:
    ann = {"kubeling.dev/run-duration": "0.5", "kubeling.dev/exit-code": "1"}
    cluster.kubectl("apply", "-f", "-", input=_pod(ns, "crash", ["app"], ann=ann))
    wait_for(lambda: (cluster.get_json(f"/api/v1/namespaces/{ns}/pods/crash")["status"].get("containerStatuses")
                      or [{}])[0].get("restartCount", 0) >= 1, 60, what="a restart")
    assert cluster.kubectl("logs", "-n", ns, "crash", "--previous").stdout == ""
    assert cluster.kubectl("logs", "-n", ns, "crash").stdout == ""  # the last run's log
    cluster.kubectl("apply", "-f", "-", input=_pod(ns, "nowhere", ["app"], node_selector={"no-such": "node"}))
    # Not bound to a node: upstream's log has no location and answers an empty stream.
    assert cluster.kubectl("logs", "-n", ns, "nowhere").stdout == ""
    cp = cluster.kubectl("exec", "-n", ns, "nowhere", "--", "hostname", check=False)
    assert cp.returncode != 0
    assert "Error from server (BadRequest): pod nowhere does not have a host assigned" in cp.stderr


def test_logs_follow_ends_when_container_ends(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=cluster.home)
    proc = subprocess.Popen([KUBECTL, f"--cache-dir={cluster.cache_dir}", "logs", "-f", "-n", ns, "web-0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # The stream stays open while the container runs (the follow request is registered server-side).
        cluster.kubectl("get", "pod", "-n", ns, "web-0")
        assert proc.poll() is None, proc.communicate()
        cluster.kubectl("delete", "pod", "-n", ns, "web-0", "--wait=false")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # A client that goes away leaves nothing behind: the server keeps answering.
    _running(cluster, ns, "web-1")
    p2 = subprocess.Popen([KUBECTL, f"--cache-dir={cluster.cache_dir}", "logs", "-f", "-n", ns, "web-1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    cluster.kubectl("get", "pod", "-n", ns, "web-1")
    p2.kill()
    p2.wait()
    assert cluster.kubectl("logs", "-n", ns, "web-1").stdout == ""


def test_exec_attach_portforward_say_the_node_is_simulated(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    for args in (("exec", "web-0", "--", "hostname"), ("exec", "-i", "web-0", "--", "sh"),
                 ("exec", "-c", "nginx", "web-0", "--", "ls")):
        cp = cluster.kubectl("-n", ns, *args, check=False, timeout=30)
        assert cp.returncode != 0
        assert "Error from server (InternalError): Internal error occurred: error dialing backend: node" in cp.stderr
        assert SIMULATED in cp.stderr
    cp = cluster.kubectl("-n", ns, "attach", "web-0", check=False, timeout=30)
    assert cp.returncode != 0 and "Error from server (InternalError)" in cp.stderr and SIMULATED in cp.stderr
    cp = cluster.kubectl("-n", ns, "port-forward", "web-0", "18080:80", check=False, timeout=30)
    assert cp.returncode != 0 and "error upgrading connection" in cp.stderr and SIMULATED in cp.stderr
    cp = cluster.kubectl("-n", ns, "exec", "web-0", "-c", "foo", "--", "ls", check=False, timeout=30)
    assert cp.returncode != 0 and "container foo is not valid for pod web-0" in cp.stderr
    # Without an upgrade, as upstream: 400 before anything is dialled.
    code, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods/web-0/exec?command=ls&stdout=true")
    assert code == 400 and json.loads(body)["message"] == "Upgrade request required"
    code, _, _ = cluster.request("PUT", f"/api/v1/namespaces/{ns}/pods/web-0/exec", body=b"{}")
    assert code == 405


def test_python_client_exec_stream_fails_with_status(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    from kubernetes import client
    from kubernetes.stream import stream
    api = client.CoreV1Api(cluster.api_client())
    with pytest.raises(client.ApiException) as e:
        stream(api.connect_get_namespaced_pod_exec, "web-0", ns, command=["ls"], stdout=True, stderr=True,
               stdin=False, tty=False)
    assert "500" in str(e.value) and SIMULATED in str(e.value)


def test_proxy_subresources(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    cp = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/web-0:80/proxy/healthz", check=False)
    assert cp.returncode != 0
    assert "Error from server (ServiceUnavailable): error trying to reach service" in cp.stderr and SIMULATED in cp.stderr
    cp = cluster.kubectl("get", "--raw", "/api/v1/nodes/node1/proxy/stats/summary", check=False)
    assert "Error from server (ServiceUnavailable)" in cp.stderr and ":10250" in cp.stderr and SIMULATED in cp.stderr
    cp = cluster.kubectl("get", "--raw", "/api/v1/nodes/nope/proxy/", check=False)
    assert 'Error from server (NotFound): nodes "nope" not found' in cp.stderr
    cp = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/a:b:c:d/proxy/", check=False)
    assert 'Error from server (BadRequest): invalid pod request "a:b:c:d"' in cp.stderr
    cluster.kubectl("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:80")
    cluster.kubectl("label", "pod", "-n", ns, "web-0", "app=web")
    wait_for(lambda: (cluster.get_json(f"/api/v1/namespaces/{ns}/endpoints/web").get("subsets") or None), 60,
             what="endpoints of web")
    cp = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/web:80/proxy/", check=False)
    assert "Error from server (ServiceUnavailable): error trying to reach service" in cp.stderr and SIMULATED in cp.stderr
    cp = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/web:81/proxy/", check=False)
    assert 'Error from server (ServiceUnavailable): no service port 81 found for service "web"' in cp.stderr
    cp = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/nope/proxy/", check=False)
    assert 'Error from server (NotFound): endpoints "nope" not found' in cp.stderr


def test_discovery_lists_connect_subresources(cluster) -> None:
    rl = {r["name"]: r for r in cluster.get_json("/api/v1")["resources"]}
    assert rl["pods/log"]["verbs"] == ["get"] and rl["pods/log"]["kind"] == "Pod"
    assert rl["pods/exec"]["verbs"] == ["create", "get"] and rl["pods/exec"]["kind"] == "PodExecOptions"
    assert rl["pods/attach"]["kind"] == "PodAttachOptions" and rl["pods/portforward"]["verbs"] == ["create", "get"]
    for name, kind in (("pods/proxy", "PodProxyOptions"), ("nodes/proxy", "NodeProxyOptions"),
                       ("services/proxy", "ServiceProxyOptions")):
        assert rl[name]["kind"] == kind and rl[name]["verbs"] == ["create", "delete", "get", "patch", "update"]
    code, _, body = cluster.request("GET", "/api", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    pods = next(r for r in json.loads(body)["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    subs = [s["subresource"] for s in pods["subresources"]]
    assert subs == sorted(subs) and {"log", "exec", "attach", "portforward", "proxy"} <= set(subs)


def test_rbac_view_reads_logs_but_cannot_exec(cluster, ns) -> None:
    _running(cluster, ns, "web-0")
    cluster.kubectl("create", "serviceaccount", "viewer", "-n", ns)
    cluster.kubectl("create", "rolebinding", "viewer", "-n", ns, "--clusterrole=view", f"--serviceaccount={ns}:viewer")
    who = f"--as=system:serviceaccount:{ns}:viewer"
    assert cluster.kubectl("auth", "can-i", "get", "pods/log", "-n", ns, who).stdout.strip() == "yes"
    assert cluster.kubectl("logs", "-n", ns, "web-0", who).stdout == ""
    cp = cluster.kubectl("exec", "-n", ns, "web-0", who, "--", "ls", check=False, timeout=30)
    assert cp.returncode != 0 and "Error from server (Forbidden)" in cp.stderr and "pods/exec" in cp.stderr
    # get alone is not enough for a WebSocket exec (AuthorizePodWebsocketUpgradeCreatePermission).
    cluster.kubectl("create", "role", "exec-get", "-n", ns, "--verb=get", "--resource=pods,pods/exec")
    cluster.kubectl("create", "rolebinding", "exec-get", "-n", ns, "--role=exec-get",
                    f"--serviceaccount={ns}:viewer")
    cp = cluster.kubectl("exec", "-n", ns, "web-0", who, "--", "ls", check=False, timeout=30)
    assert cp.returncode != 0 and "Error from server (Forbidden)" in cp.stderr and "create" in cp.stderr


def test_waiting_containers_have_no_logs_yet(make_cluster) -> None:
    c = make_cluster("--pod-start-delay", "600")
    c.kubectl("apply", "-f", "-", input=_pod("default", "web-0", ["nginx"]))
    c.kubectl("apply", "-f", "-", input=_pod("default", "init-0", ["nginx"], init=["setup"]))
    wait_for(lambda: c.get_json("/api/v1/namespaces/default/pods/init-0").get("status", {}).get("containerStatuses")
             and c.get_json("/api/v1/namespaces/default/pods/web-0").get("status", {}).get("containerStatuses"),
             60, what="statuses posted")
    cp = c.kubectl("logs", "web-0", check=False)
    assert cp.returncode != 0
    assert ('Error from server (BadRequest): container "nginx" in pod "web-0" is waiting to start: ContainerCreating'
            in cp.stderr)
    cp = c.kubectl("logs", "init-0", "-c", "nginx", check=False)
    assert ('Error from server (BadRequest): container "nginx" in pod "init-0" is waiting to start: PodInitializing'
            in cp.stderr)

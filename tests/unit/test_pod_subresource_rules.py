"""Pure decisions behind pods/log|exec|attach|portforward|proxy, nodes/proxy and services/proxy, as upstream v1.32."""
from __future__ import annotations

import pytest

from kubeling.api import pod_subresources as ps
from kubeling.api.errors import ApiError


def pod(containers: list[str], init: list[str] = (), ephemeral: list[str] = (), statuses: list[dict] = (),
        node: str = "node1") -> dict:
    return {"metadata": {"name": "web-0", "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": n} for n in containers],
                     "initContainers": [{"name": n} for n in init],
                     "ephemeralContainers": [{"name": n} for n in ephemeral]},
            "status": {"containerStatuses": list(statuses)}}


def err(fn, *a) -> ApiError:
    with pytest.raises(ApiError) as e:
        fn(*a)
    return e.value


def test_choose_container_single_and_named() -> None:
    assert ps.choose_container(pod(["nginx"]), "") == "nginx"
    assert ps.choose_container(pod(["a", "b"], init=["i"]), "i") == "i"
    assert ps.choose_container(pod(["a"], ephemeral=["dbg"]), "dbg") == "dbg"


def test_choose_container_errors_name_every_container_in_visit_order() -> None:
    e = err(ps.choose_container, pod(["a", "b"], init=["i"], ephemeral=["dbg"]), "")
    assert (e.code, e.reason) == (400, "BadRequest")
    assert e.message == "a container name must be specified for pod web-0, choose one of: [i a b dbg]"
    e = err(ps.choose_container, pod(["a"]), "foo")
    assert e.message == "container foo is not valid for pod web-0"


def test_log_options_parse_and_validate() -> None:
    o = ps.parse_log_options({"container": "c", "follow": "true", "tailLines": "5", "sinceSeconds": "3"}, "p")
    assert (o.container, o.follow, o.tail_lines, o.since_seconds) == ("c", True, 5, 3)
    e = err(ps.parse_log_options, {"tailLines": "x"}, "p")
    assert (e.code, e.message) == (400, 'strconv.ParseInt: parsing "x": invalid syntax')
    e = err(ps.parse_log_options, {"tailLines": "-1", "limitBytes": "0"}, "p")
    assert (e.code, e.reason, e.kind) == (422, "Invalid", "PodLogOptions")
    assert e.message == ('PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: must be greater than or '
                         'equal to 0, limitBytes: Invalid value: 0: must be greater than 0]')
    e = err(ps.parse_log_options, {"sinceSeconds": "1", "sinceTime": "2026-01-01T00:00:00Z"}, "p")
    assert e.message == ('PodLogOptions "p" is invalid: : Forbidden: at most one of `sinceTime` or '
                         '`sinceSeconds` may be specified')
    e = err(ps.parse_log_options, {"sinceSeconds": "0"}, "p")
    assert e.message == 'PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0'


def _cs(state: dict, last: dict | None = None, name: str = "nginx") -> dict:
    return {"name": name, "state": state, "lastState": last or {}, "containerID": "containerd://1"}


def test_log_status_as_the_kubelet_checks_it() -> None:
    running = pod(["nginx"], statuses=[_cs({"running": {}})])
    ps.check_log_status(running, "nginx", False)
    e = err(ps.check_log_status, running, "nginx", True)
    assert e.message == 'previous terminated container "nginx" in pod "web-0" not found'
    waiting = pod(["nginx"], statuses=[_cs({"waiting": {"reason": "ContainerCreating"}})])
    e = err(ps.check_log_status, waiting, "nginx", False)
    assert (e.code, e.message) == (400, 'container "nginx" in pod "web-0" is waiting to start: ContainerCreating')
    pull = pod(["nginx"], statuses=[_cs({"waiting": {"reason": "ImagePullBackOff"}})])
    assert err(ps.check_log_status, pull, "nginx", False).message == \
        'container "nginx" in pod "web-0" is waiting to start: trying and failing to pull image'
    crashed = pod(["nginx"], statuses=[_cs({"waiting": {"reason": "CrashLoopBackOff"}},
                                           {"terminated": {"containerID": "containerd://0"}})])
    ps.check_log_status(crashed, "nginx", False)  # the last run's log
    ps.check_log_status(crashed, "nginx", True)
    gone = pod(["nginx"], statuses=[_cs({"terminated": {}})])
    assert err(ps.check_log_status, gone, "nginx", False).message == 'container "nginx" in pod "web-0" is terminated'
    # Before the kubelet's first status: a regular container behind init containers waits in PodInitializing.
    e = err(ps.check_log_status, pod(["nginx"], init=["i"]), "nginx", False)
    assert e.message == 'container "nginx" in pod "web-0" is waiting to start: PodInitializing'


def test_split_scheme_name_port() -> None:
    assert ps.split_scheme_name_port("web") == ("", "web", "")
    assert ps.split_scheme_name_port("web:80") == ("", "web", "80")
    assert ps.split_scheme_name_port("https:web:443") == ("https", "web", "443")
    assert ps.split_scheme_name_port("ftp:web:21") is None
    assert ps.split_scheme_name_port(":80") is None
    assert ps.split_scheme_name_port("a:b:c:d") is None


def test_kubelet_endpoint_prefers_internal_ip_and_daemon_port() -> None:
    node = {"metadata": {"name": "node1"},
            "status": {"addresses": [{"type": "Hostname", "address": "node1"},
                                     {"type": "InternalIP", "address": "172.18.0.3"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}
    assert ps.kubelet_endpoint(node) == ("172.18.0.3", 10250)
    assert ps.kubelet_endpoint({"metadata": {"name": "n"}, "status": {}}) == ("n", 10250)


def test_pod_proxy_target() -> None:
    p = pod(["a"])
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    p["status"]["podIPs"] = [{"ip": "10.244.1.5"}]
    assert ps.pod_proxy_target(p, "") == "10.244.1.5:8080"
    assert ps.pod_proxy_target(p, "81") == "10.244.1.5:81"
    p["status"]["podIPs"] = []
    assert err(ps.pod_proxy_target, p, "").message == "address not allowed"


def test_service_proxy_target() -> None:
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "http", "port": 80}]}}
    assert ps.service_port_name(svc, "s", "80") == "http"
    assert ps.service_port_name(None, "s", "http") == "http"
    e = err(ps.service_port_name, svc, "s", "81")
    assert (e.code, e.reason, e.message) == (503, "ServiceUnavailable", 'no service port 81 found for service "s"')
    eps = {"subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"name": "http", "port": 8080}]}]}
    assert ps.service_proxy_target(eps, "s:80", "s", "http") == "10.244.1.5:8080"
    assert err(ps.service_proxy_target, eps, "s:x", "s", "x").message == 'no endpoints available for service "s:x"'
    assert err(ps.service_proxy_target, {}, "s", "s", "").message == 'no endpoints available for service "s"'

"""Server-side Table printing must reproduce kube-apiserver v1.32's columns and cells exactly.

Expected values come from upstream's printers (pkg/printers/internalversion) and from the
reference recordings in /work/shared/reference (kubectl get against a real cluster).
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from kubeling.api.printers import (
    column_definitions,
    format_quantity,
    human_duration,
    row_cells,
    row_conditions,
)


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


NOW = ts("2026-11-27T13:40:00Z")


def ago(seconds: float) -> str:
    return datetime.fromtimestamp(NOW - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 29, **extra) -> dict:
    m = {"name": name, "namespace": "demo", "uid": "u-" + name, "creationTimestamp": ago(age)}
    m.update(extra)
    return m


def col_names(resource: str, wide: bool = True) -> list[str]:
    return [c["name"] for c in column_definitions(resource) if wide or c["priority"] == 0]


# ---------------------------------------------------------------------------------------------
# human_duration
# ---------------------------------------------------------------------------------------------

DAY = 86400
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1.9, "0s"),
        (-1, "0s"),
        (-0.4, "0s"),
        (0, "0s"),
        (0.999, "0s"),
        (5, "5s"),
        (59.9, "59s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (540, "9m"),
        (599, "9m59s"),
        (600, "10m"),
        (601, "10m"),
        (69 * 60 + 30, "69m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60 + 59, "3h5m"),
        (8 * 3600 - 1, "7h59m"),
        (8 * 3600, "8h"),
        (48 * 3600 - 1, "47h"),
        (2 * DAY, "2d"),
        (4 * DAY + 10 * 3600, "4d10h"),
        (8 * DAY - 1, "7d23h"),
        (8 * DAY, "8d"),
        (2 * YEAR - 1, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 5 * DAY, "2y5d"),
        (8 * YEAR - 1, "7y364d"),
        (8 * YEAR, "8y"),
        (12 * YEAR + 100 * DAY, "12y"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


# ---------------------------------------------------------------------------------------------
# column definitions
# ---------------------------------------------------------------------------------------------

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DOC_PREFIX = "CreationTimestamp is a timestamp representing the server time when this object was created."


def test_pod_columns_match_reference_wire() -> None:
    cols = column_definitions("pods")
    assert cols[0] == {"name": "Name", "type": "string", "format": "name", "description": NAME_DOC, "priority": 0}
    assert cols[1] == {"name": "Ready", "type": "string", "format": "",
                       "description": "The aggregate readiness state of this pod for accepting traffic.",
                       "priority": 0}
    assert cols[3] == {"name": "Restarts", "type": "string", "format": "",
                       "description": "The number of times the containers in this pod have been restarted "
                       "and when the last container in this pod has restarted.", "priority": 0}
    assert cols[4]["description"].startswith(AGE_DOC_PREFIX)
    assert [(c["name"], c["priority"]) for c in cols] == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
        ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1),
    ]
    assert cols[5]["description"] == (
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."
    )


def test_column_sets() -> None:
    assert col_names("nodes") == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                  "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert col_names("services") == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert col_names("persistentvolumes", wide=False) == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age"]
    assert col_names("persistentvolumeclaims") == [
        "Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age",
        "VolumeMode"]
    assert col_names("statefulsets.apps") == ["Name", "Ready", "Age", "Containers", "Images"]
    assert col_names("daemonsets.apps") == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                                            "Node Selector", "Age", "Containers", "Images", "Selector"]
    assert col_names("deployments.apps", wide=False) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert col_names("replicasets.apps", wide=False) == ["Name", "Desired", "Current", "Ready", "Age"]
    assert col_names("controllerrevisions.apps") == ["Name", "Controller", "Revision", "Age"]
    assert col_names("events", wide=False) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert col_names("events") == ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                   "First Seen", "Count", "Name"]
    assert col_names("events.events.k8s.io") == col_names("events")
    assert col_names("endpoints") == ["Name", "Endpoints", "Age"]
    assert col_names("endpointslices.discovery.k8s.io") == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert col_names("storageclasses.storage.k8s.io") == [
        "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"]
    assert col_names("namespaces") == ["Name", "Status", "Age"]
    assert col_names("configmaps") == ["Name", "Data", "Age"]
    assert col_names("secrets") == ["Name", "Type", "Data", "Age"]
    assert col_names("serviceaccounts") == ["Name", "Secrets", "Age"]
    assert col_names("leases.coordination.k8s.io") == ["Name", "Holder", "Age"]


def test_column_types_and_formats() -> None:
    types = {c["name"]: c["type"] for c in column_definitions("daemonsets.apps")}
    assert [types[n] for n in ("Desired", "Current", "Ready", "Up-to-date", "Available")] == ["integer"] * 5
    types = {c["name"]: c["type"] for c in column_definitions("replicasets.apps")}
    assert types["Desired"] == types["Current"] == types["Ready"] == "integer"
    # Declared "string" although upstream's cells are integers.
    types = {c["name"]: c["type"] for c in column_definitions("deployments.apps")}
    assert types["Up-to-date"] == types["Available"] == "string"
    events = column_definitions("events")
    assert events[-1] == {"name": "Name", "type": "string", "format": "name", "description": NAME_DOC,
                          "priority": 1}
    assert all(c["format"] == "" for c in events[:-1])
    assert column_definitions("daemonsets.apps")[-1]["description"].endswith(
        "working-with-objects/labels/#label-selectors")


def test_descriptions_resolved_for_every_column() -> None:
    for resource in ("pods", "nodes", "namespaces", "services", "endpoints", "configmaps", "secrets",
                     "serviceaccounts", "events", "persistentvolumes", "persistentvolumeclaims",
                     "statefulsets.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps",
                     "controllerrevisions.apps", "storageclasses.storage.k8s.io", "leases.coordination.k8s.io",
                     "endpointslices.discovery.k8s.io", "events.events.k8s.io", "widgets.example.com"):
        cols = column_definitions(resource)
        assert all(c["description"] for c in cols), resource
        assert list(cols[0]) == ["name", "type", "format", "description", "priority"]


def test_column_definitions_are_fresh_copies() -> None:
    column_definitions("pods")[0]["name"] = "mutated"
    assert column_definitions("pods")[0]["name"] == "Name"


def test_default_table_for_unknown_resource() -> None:
    cols = column_definitions("widgets.example.com")
    assert [(c["name"], c["type"], c["format"]) for c in cols] == [("Name", "string", "name"),
                                                                   ("Created At", "date", "")]
    obj = {"metadata": {"name": "w1", "creationTimestamp": "2026-11-27T13:39:31.250000Z"}}
    assert row_cells("widgets.example.com", obj, NOW) == ["w1", "2026-11-27T13:39:31Z"]
    assert row_cells("roles.rbac.authorization.k8s.io", {"metadata": {"name": "r"}}, NOW) == [
        "r", "0001-01-01T00:00:00Z"]


# ---------------------------------------------------------------------------------------------
# pods
# ---------------------------------------------------------------------------------------------


def running_pod() -> dict:
    """web-0 from the reference cluster."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("web-0", ownerReferences=[{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                    "name": "web", "uid": "x", "controller": True}]),
        "spec": {"nodeName": "node2", "containers": [{"name": "nginx", "image": "nginx:1.7.9"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
            "podIP": "10.244.2.2",
            "podIPs": [{"ip": "10.244.2.2"}],
            "containerStatuses": [{
                "name": "nginx", "ready": True, "started": True, "restartCount": 0, "image": "nginx:1.7.9",
                "state": {"running": {"startedAt": ago(28)}},
            }],
        },
    }


def test_pod_running() -> None:
    assert row_cells("pods", running_pod(), NOW) == [
        "web-0", "1/1", "Running", "0", "29s", "10.244.2.2", "node2", "<none>", "<none>"]
    assert row_conditions("pods", running_pod()) is None


def test_pod_cells_align_with_columns() -> None:
    assert len(row_cells("pods", running_pod(), NOW)) == len(column_definitions("pods"))


def test_pod_container_creating() -> None:
    pod = running_pod()
    pod["metadata"]["creationTimestamp"] = ago(5)
    pod["status"] = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "nginx", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "ContainerCreating"}}}],
    }
    assert row_cells("pods", pod, NOW) == [
        "web-0", "0/1", "ContainerCreating", "0", "5s", "<none>", "node2", "<none>", "<none>"]


def test_pod_pending_unscheduled() -> None:
    pod = running_pod()
    del pod["spec"]["nodeName"]
    pod["status"] = {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}
    assert row_cells("pods", pod, NOW)[:3] == ["web-0", "0/1", "Pending"]
    assert row_cells("pods", pod, NOW)[5:7] == ["<none>", "<none>"]


def test_pod_scheduling_gated() -> None:
    pod = running_pod()
    pod["status"] = {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}
    assert row_cells("pods", pod, NOW)[2] == "SchedulingGated"


def test_pod_terminating() -> None:
    pod = running_pod()
    pod["metadata"]["deletionTimestamp"] = ago(1)
    pod["metadata"]["deletionGracePeriodSeconds"] = 30
    assert row_cells("pods", pod, NOW)[:3] == ["web-0", "1/1", "Terminating"]


def test_pod_terminating_on_lost_node_is_unknown() -> None:
    pod = running_pod()
    pod["metadata"]["deletionTimestamp"] = ago(1)
    pod["status"]["reason"] = "NodeLost"
    assert row_cells("pods", pod, NOW)[2] == "Unknown"


def test_pod_succeeded_is_completed_even_when_deleting() -> None:
    pod = running_pod()
    pod["metadata"]["deletionTimestamp"] = ago(1)
    pod["status"]["phase"] = "Succeeded"
    pod["status"]["containerStatuses"][0].update(ready=False, state={"terminated": {
        "exitCode": 0, "reason": "Completed", "finishedAt": ago(2)}})
    assert row_cells("pods", pod, NOW)[:4] == ["web-0", "0/1", "Completed", "0"]
    assert row_conditions("pods", pod) == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                            "message": "The pod has completed successfully."}]
    pod["status"]["phase"] = "Failed"
    assert row_conditions("pods", pod)[0]["reason"] == "Failed"


def test_pod_crashloop_with_restart_age() -> None:
    pod = running_pod()
    pod["status"]["containerStatuses"][0] = {
        "name": "nginx", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}},
    }
    assert row_cells("pods", pod, NOW)[:4] == ["web-0", "0/1", "CrashLoopBackOff", "3 (5m ago)"]


def test_pod_restarts_without_termination_time_is_plain_number() -> None:
    pod = running_pod()
    pod["status"]["containerStatuses"][0]["restartCount"] = 2
    assert row_cells("pods", pod, NOW)[3] == "2"


@pytest.mark.parametrize(
    ("terminated", "expected"),
    [
        ({"exitCode": 137, "reason": "OOMKilled"}, "OOMKilled"),
        ({"exitCode": 2}, "ExitCode:2"),
        ({"exitCode": 0, "signal": 9}, "Signal:9"),
    ],
)
def test_pod_terminated_container_reason(terminated: dict, expected: str) -> None:
    pod = running_pod()
    pod["status"]["containerStatuses"][0].update(ready=False, state={"terminated": terminated})
    assert row_cells("pods", pod, NOW)[2] == expected


def test_pod_first_container_reason_wins() -> None:
    pod = running_pod()
    pod["spec"]["containers"].append({"name": "side", "image": "busybox"})
    pod["status"]["containerStatuses"] = [
        {"name": "nginx", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}},
        {"name": "side", "ready": False, "restartCount": 1,
         "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
    ]
    assert row_cells("pods", pod, NOW)[:4] == ["web-0", "0/2", "ErrImagePull", "1"]


def test_pod_completed_container_with_running_sibling() -> None:
    pod = running_pod()
    pod["spec"]["containers"].append({"name": "job", "image": "busybox"})
    pod["status"]["containerStatuses"] = [
        {"name": "nginx", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": ago(20)}}},
        {"name": "job", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
    ]
    # The reverse walk leaves "Completed" (from the last container); a running one flips it back.
    assert row_cells("pods", pod, NOW)[:3] == ["web-0", "1/2", "Running"]
    pod["status"]["conditions"][-1]["status"] = "False"
    assert row_cells("pods", pod, NOW)[2] == "NotReady"


def init_pod() -> dict:
    pod = running_pod()
    pod["spec"]["initContainers"] = [{"name": "init-a", "image": "busybox"},
                                     {"name": "init-b", "image": "busybox"}]
    pod["status"] = {
        "phase": "Pending",
        "conditions": [{"type": "Initialized", "status": "False"}],
        "initContainerStatuses": [
            {"name": "init-a", "ready": True, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "init-b", "ready": False, "restartCount": 0, "state": {"running": {"startedAt": ago(3)}}},
        ],
        "containerStatuses": [{"name": "nginx", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "PodInitializing"}}}],
    }
    return pod


def test_pod_init_progress() -> None:
    assert row_cells("pods", init_pod(), NOW)[:4] == ["web-0", "0/1", "Init:1/2", "0"]


def test_pod_init_waiting_pod_initializing_counts_as_progress() -> None:
    pod = init_pod()
    pod["status"]["initContainerStatuses"][0]["state"] = {"waiting": {"reason": "PodInitializing"}}
    assert row_cells("pods", pod, NOW)[2] == "Init:0/2"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"waiting": {"reason": "ImagePullBackOff"}}, "Init:ImagePullBackOff"),
        ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Init:Error"),
        ({"terminated": {"exitCode": 3}}, "Init:ExitCode:3"),
        ({"terminated": {"exitCode": 1, "signal": 15}}, "Init:Signal:15"),
    ],
)
def test_pod_init_failures(state: dict, expected: str) -> None:
    pod = init_pod()
    pod["status"]["initContainerStatuses"][1]["state"] = state
    assert row_cells("pods", pod, NOW)[2] == expected


def test_pod_init_restarts_counted_while_initializing() -> None:
    pod = init_pod()
    pod["status"]["initContainerStatuses"][1].update(
        restartCount=4, state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"exitCode": 1, "finishedAt": ago(45)}})
    assert row_cells("pods", pod, NOW)[2:4] == ["Init:CrashLoopBackOff", "4 (45s ago)"]


def test_pod_sidecar_counts_towards_ready_and_total() -> None:
    pod = running_pod()
    pod["spec"]["initContainers"] = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    pod["status"]["initContainerStatuses"] = [
        {"name": "proxy", "ready": True, "started": True, "restartCount": 1,
         "state": {"running": {"startedAt": ago(20)}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(130)}}},
    ]
    assert row_cells("pods", pod, NOW)[:4] == ["web-0", "2/2", "Running", "1 (2m10s ago)"]


def test_pod_wide_columns() -> None:
    pod = running_pod()
    del pod["status"]["podIP"]
    pod["status"]["podIPs"] = [{"ip": "fd00::5"}, {"ip": "10.0.0.5"}]
    pod["status"]["nominatedNodeName"] = "node3"
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/x"}]
    pod["status"]["conditions"].append({"type": "example.com/lb", "status": "True"})
    assert row_cells("pods", pod, NOW)[5:] == ["fd00::5", "node2", "node3", "1/2"]


# ---------------------------------------------------------------------------------------------
# nodes
# ---------------------------------------------------------------------------------------------


def node(name: str, labels: dict | None = None, ready: str | None = "True") -> dict:
    conds = [{"type": "MemoryPressure", "status": "False"}, {"type": "DiskPressure", "status": "False"}]
    if ready is not None:
        conds.append({"type": "Ready", "status": ready, "reason": "KubeletReady"})
    return {
        "metadata": {"name": name, "creationTimestamp": ago(69 * 60 + 12), "labels": labels or {}},
        "spec": {},
        "status": {
            "conditions": conds,
            "addresses": [{"type": "InternalIP", "address": "172.18.0.3"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.8.0-45-generic", "containerRuntimeVersion": "containerd://1.7.18"},
        },
    }


def test_node_master_and_worker() -> None:
    master = node("master", {"kubernetes.io/hostname": "master", "node-role.kubernetes.io/control-plane": ""})
    assert row_cells("nodes", master, NOW) == [
        "master", "Ready", "control-plane", "69m", "v1.32.4", "172.18.0.3", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.8.0-45-generic", "containerd://1.7.18"]
    worker = node("node1", {"kubernetes.io/hostname": "node1"})
    assert row_cells("nodes", worker, NOW)[:5] == ["node1", "Ready", "<none>", "69m", "v1.32.4"]


def test_node_statuses() -> None:
    cordoned = node("n")
    cordoned["spec"]["unschedulable"] = True
    assert row_cells("nodes", cordoned, NOW)[1] == "Ready,SchedulingDisabled"
    assert row_cells("nodes", node("n", ready="False"), NOW)[1] == "NotReady"
    assert row_cells("nodes", node("n", ready="Unknown"), NOW)[1] == "NotReady"
    assert row_cells("nodes", node("n", ready=None), NOW)[1] == "Unknown"
    down = node("n", ready=None)
    down["spec"]["unschedulable"] = True
    assert row_cells("nodes", down, NOW)[1] == "Unknown,SchedulingDisabled"


def test_node_roles_sorted_and_legacy_label() -> None:
    n = node("n", {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "",
                   "node-role.kubernetes.io/": "", "kubernetes.io/role": "ingress"})
    assert row_cells("nodes", n, NOW)[2] == "control-plane,ingress,worker"
    assert row_cells("nodes", node("n", {"kubernetes.io/role": ""}), NOW)[2] == "<none>"


def test_node_wide_unknowns_and_external_ip() -> None:
    n = node("n")
    n["status"]["nodeInfo"] = {"kubeletVersion": "v1.32.4"}
    n["status"]["addresses"] = [{"type": "ExternalIP", "address": "203.0.113.9"},
                                {"type": "InternalIP", "address": "10.0.0.1"},
                                {"type": "InternalIP", "address": "10.0.0.2"}]
    assert row_cells("nodes", n, NOW)[5:] == ["10.0.0.1", "203.0.113.9", "<unknown>", "<unknown>", "<unknown>"]


# ---------------------------------------------------------------------------------------------
# services, endpoints, endpointslices
# ---------------------------------------------------------------------------------------------


def service(name: str, **spec) -> dict:
    base = {"type": "ClusterIP", "ports": [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"app": "nginx"}}
    base.update(spec)
    return {"metadata": meta(name, 31), "spec": base, "status": {"loadBalancer": {}}}


def test_service_headless_and_cluster_ip() -> None:
    headless = service("nginx", clusterIP="None", clusterIPs=["None"])
    assert row_cells("services", headless, NOW) == [
        "nginx", "ClusterIP", "None", "<none>", "80/TCP", "31s", "app=nginx"]
    web = service("web-svc", clusterIP="10.109.94.206", clusterIPs=["10.109.94.206"])
    assert row_cells("services", web, NOW) == [
        "web-svc", "ClusterIP", "10.109.94.206", "<none>", "80/TCP", "31s", "app=nginx"]


def test_service_cluster_ip_fallbacks() -> None:
    assert row_cells("services", service("a", clusterIP="10.0.0.9"), NOW)[2] == "10.0.0.9"
    assert row_cells("services", service("a"), NOW)[2] == "<none>"


def test_service_node_port_and_selector() -> None:
    svc = service("np", type="NodePort", clusterIPs=["10.96.0.20"], externalIPs=["1.2.3.4", "5.6.7.8"],
                  ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                         {"port": 53, "protocol": "UDP"}],
                  selector={"tier": "web", "app": "nginx"})
    assert row_cells("services", svc, NOW) == [
        "np", "NodePort", "10.96.0.20", "1.2.3.4,5.6.7.8", "80:30080/TCP,53/UDP", "31s", "app=nginx,tier=web"]


def test_service_load_balancer_external_name_and_empty() -> None:
    lb = service("lb", type="LoadBalancer", clusterIPs=["10.96.0.30"],
                 ports=[{"port": 443, "nodePort": 31443, "protocol": "TCP"}])
    assert row_cells("services", lb, NOW)[3] == "<pending>"
    lb["status"]["loadBalancer"] = {"ingress": [{"hostname": "a-very-long-hostname.elb.example.com"},
                                                {"ip": "198.51.100.7"}]}
    # The server prints wide, so the 16-character clip kubectl once applied never happens.
    assert row_cells("services", lb, NOW)[3] == "198.51.100.7,a-very-long-hostname.elb.example.com"
    lb["spec"]["externalIPs"] = ["192.0.2.1"]
    assert row_cells("services", lb, NOW)[3] == "198.51.100.7,a-very-long-hostname.elb.example.com,192.0.2.1"
    ext = service("ext", type="ExternalName", externalName="db.example.com", ports=[], selector={})
    assert row_cells("services", ext, NOW) == [
        "ext", "ExternalName", "<none>", "db.example.com", "<none>", "31s", "<none>"]


def endpoints(*addresses: str, port: int = 80) -> dict:
    return {"metadata": meta("nginx", 31),
            "subsets": [{"addresses": [{"ip": a} for a in addresses],
                         "ports": [{"name": "web", "port": port, "protocol": "TCP"}]}]}


def test_endpoints() -> None:
    assert row_cells("endpoints", endpoints("10.244.1.7", "10.244.2.2"), NOW) == [
        "nginx", "10.244.1.7:80,10.244.2.2:80", "31s"]
    many = endpoints("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5")
    assert row_cells("endpoints", many, NOW)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."
    assert row_cells("endpoints", {"metadata": meta("e")}, NOW)[1] == "<none>"
    assert row_cells("endpoints", endpoints("fd00::1"), NOW)[1] == "[fd00::1]:80"
    no_ports = {"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}
    assert row_cells("endpoints", no_ports, NOW)[1] == "10.0.0.1"
    only_not_ready = {"metadata": meta("e"), "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}],
                                                          "ports": [{"port": 80}]}]}
    assert row_cells("endpoints", only_not_ready, NOW)[1] == ""


def test_endpoints_more_counts_every_port() -> None:
    ep = {"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                                              "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 443}]}]}
    assert row_cells("endpoints", ep, NOW)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."


def test_endpoint_slices() -> None:
    es = {"metadata": meta("nginx-4vwp6", 31), "addressType": "IPv4",
          "endpoints": [{"addresses": ["10.244.2.2"], "conditions": {"ready": True}},
                        {"addresses": ["10.244.1.7"], "conditions": {"ready": True}}],
          "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}
    assert row_cells("endpointslices.discovery.k8s.io", es, NOW) == [
        "nginx-4vwp6", "IPv4", "80", "10.244.2.2,10.244.1.7", "31s"]
    empty = {"metadata": meta("x"), "addressType": "IPv4", "endpoints": None, "ports": None}
    assert row_cells("endpointslices.discovery.k8s.io", empty, NOW)[2:4] == ["<unset>", "<unset>"]
    many = {"metadata": meta("x"), "addressType": "IPv6",
            "endpoints": [{"addresses": [f"fd00::{i}"]} for i in range(1, 6)],
            "ports": [{"name": "a", "port": 1}, {"name": "named"}, {}, {"port": 4}]}
    assert row_cells("endpointslices.discovery.k8s.io", many, NOW)[2:4] == [
        "1,named,* + 1 more...", "fd00::1,fd00::2,fd00::3 + 2 more..."]


# ---------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------


def pv(name: str, age: float = 32, claim: tuple[str, str] | None = None, phase: str = "Available") -> dict:
    spec = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
            "hostPath": {"path": "/tmp/" + name, "type": ""}}
    if claim:
        spec["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1],
                            "uid": "c1", "apiVersion": "v1"}
    return {"metadata": {"name": name, "creationTimestamp": ago(age)}, "spec": spec, "status": {"phase": phase}}


def test_pv_available_and_bound() -> None:
    assert row_cells("persistentvolumes", pv("demo-pv-b", 31), NOW) == [
        "demo-pv-b", "1Gi", "RWO", "Retain", "Available", "", "", "<unset>", "", "31s", "Filesystem"]
    bound = pv("pv-0", 59 * 60 + 10, ("default", "www-web-0"), "Bound")
    assert row_cells("persistentvolumes", bound, NOW) == [
        "pv-0", "1Gi", "RWO", "Retain", "Bound", "default/www-web-0", "", "<unset>", "", "59m", "Filesystem"]


def test_pv_details() -> None:
    v = pv("fast", claim=("demo", "data"), phase="Released")
    v["spec"].update(capacity={"storage": "1024Mi"}, storageClassName="standard",
                     accessModes=["ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod", "ReadWriteOnce",
                                  "ReadWriteMany"],
                     volumeAttributesClassName="gold")
    del v["spec"]["volumeMode"]
    v["status"]["reason"] = "Recycled"
    assert row_cells("persistentvolumes", v, NOW) == [
        "fast", "1Gi", "RWO,ROX,RWX,RWOP", "Retain", "Released", "demo/data", "standard", "gold", "Recycled",
        "32s", "<unset>"]
    v["metadata"]["deletionTimestamp"] = ago(1)
    v["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "legacy"}
    assert row_cells("persistentvolumes", v, NOW)[4:7] == ["Terminating", "demo/data", "legacy"]
    del v["spec"]["capacity"]
    assert row_cells("persistentvolumes", v, NOW)[1] == "0"


def pvc(name: str, volume: str | None) -> dict:
    obj = {"metadata": meta(name, 31, labels={"app": "nginx"}),
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                    "storageClassName": "", "volumeMode": "Filesystem"},
           "status": {"phase": "Pending"}}
    if volume:
        obj["spec"]["volumeName"] = volume
        obj["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    return obj


def test_pvc_bound_and_pending() -> None:
    assert row_cells("persistentvolumeclaims", pvc("www-web-0", "pv-2"), NOW) == [
        "www-web-0", "Bound", "pv-2", "1Gi", "RWO", "", "<unset>", "31s", "Filesystem"]
    pending = pvc("www-web-2", None)
    pending["spec"]["storageClassName"] = "standard"
    assert row_cells("persistentvolumeclaims", pending, NOW) == [
        "www-web-2", "Pending", "", "", "", "standard", "<unset>", "31s", "Filesystem"]
    pending["metadata"]["deletionTimestamp"] = ago(1)
    del pending["spec"]["storageClassName"]
    del pending["spec"]["volumeMode"]
    pending["spec"]["volumeAttributesClassName"] = "silver"
    assert row_cells("persistentvolumeclaims", pending, NOW)[1:] == [
        "Terminating", "", "", "", "", "silver", "31s", "<unset>"]


def test_pvc_bound_without_status_capacity_prints_zero() -> None:
    claim = pvc("c", "pv-9")
    claim["status"] = {"phase": "Bound"}
    assert row_cells("persistentvolumeclaims", claim, NOW)[3:5] == ["0", ""]


def test_storage_classes() -> None:
    sc = {"metadata": {"name": "standard", "creationTimestamp": ago(3600 * 5),
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
          "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
          "volumeBindingMode": "WaitForFirstConsumer"}
    assert row_cells("storageclasses.storage.k8s.io", sc, NOW) == [
        "standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "5h"]
    plain = {"metadata": {"name": "fast", "creationTimestamp": ago(10),
                          "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "false"}},
             "provisioner": "kubernetes.io/no-provisioner", "allowVolumeExpansion": True}
    assert row_cells("storageclasses.storage.k8s.io", plain, NOW) == [
        "fast", "kubernetes.io/no-provisioner", "Delete", "Immediate", True, "10s"]
    plain["metadata"]["annotations"] = {"storageclass.beta.kubernetes.io/is-default-class": "true"}
    assert row_cells("storageclasses.storage.k8s.io", plain, NOW)[0] == "fast (default)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("1.5Ki", "1536"),
        ("512Ki", "512Ki"),
        ("100", "100"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("1500000", "1500k"),
        ("1G", "1G"),
        ("1000M", "1G"),
        ("0.5", "500m"),
        ("100m", "100m"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("10e3", "10e3"),
        ("0", "0"),
        ("0Gi", "0"),
        ("-1Gi", "-1Gi"),
        ("1n", "1n"),
        ("0.1n", "1n"),
        (5, "5"),
        (None, "0"),
    ],
)
def test_format_quantity(value, expected: str) -> None:
    assert format_quantity(value) == expected


# ---------------------------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.7.9",
                                     "ports": [{"containerPort": 80, "name": "web"}]}]}}


def test_statefulset() -> None:
    sts = {"metadata": meta("web", 30),
           "spec": {"replicas": 2, "serviceName": "nginx", "selector": {"matchLabels": {"app": "nginx"}},
                    "template": copy.deepcopy(TEMPLATE)},
           "status": {"replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2}}
    assert row_cells("statefulsets.apps", sts, NOW) == ["web", "2/2", "30s", "nginx", "nginx:1.7.9"]
    sts["spec"]["replicas"] = 3
    sts["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    del sts["status"]["readyReplicas"]
    assert row_cells("statefulsets.apps", sts, NOW) == [
        "web", "0/3", "30s", "nginx,sidecar", "nginx:1.7.9,busybox:1.36"]


def test_daemonset() -> None:
    ds = {"metadata": meta("nginx-ds", 30),
          "spec": {"selector": {"matchLabels": {"k8s-app": "nginx"}},
                   "template": {"metadata": {"labels": {"k8s-app": "nginx"}},
                                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.7.9"}]}}},
          "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2,
                     "updatedNumberScheduled": 2, "numberAvailable": 2, "numberMisscheduled": 0}}
    assert row_cells("daemonsets.apps", ds, NOW) == [
        "nginx-ds", 2, 2, 2, 2, 2, "<none>", "30s", "nginx", "nginx:1.7.9", "k8s-app=nginx"]
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux", "disktype": "ssd"}
    ds["status"] = {"desiredNumberScheduled": 1}
    assert row_cells("daemonsets.apps", ds, NOW)[1:7] == [1, 0, 0, 0, 0, "disktype=ssd,kubernetes.io/os=linux"]


def test_deployment() -> None:
    dep = {"metadata": meta("stateless", 30),
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "stateless"}},
                    "template": {"metadata": {"labels": {"app": "stateless"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx:1.7.9"}]}}},
           "status": {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3}}
    assert row_cells("deployments.apps", dep, NOW) == [
        "stateless", "3/3", 3, 3, "30s", "c", "nginx:1.7.9", "app=stateless"]
    dep["status"] = {}
    del dep["spec"]["replicas"]  # upstream defaults to 1
    dep["spec"]["selector"] = {}
    assert row_cells("deployments.apps", dep, NOW)[:4] == ["stateless", "0/1", 0, 0]
    assert row_cells("deployments.apps", dep, NOW)[-1] == ""  # Deployment prints "" not "<none>"


def test_replicaset() -> None:
    rs = {"metadata": meta("stateless-5b66fd5fdb", 30, labels={"app": "stateless"}),
          "spec": {"replicas": 3,
                   "selector": {"matchLabels": {"pod-template-hash": "5b66fd5fdb", "app": "stateless"}},
                   "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.7.9"}]}}},
          "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "fullyLabeledReplicas": 3}}
    assert row_cells("replicasets.apps", rs, NOW) == [
        "stateless-5b66fd5fdb", 3, 3, 3, "30s", "c", "nginx:1.7.9", "app=stateless,pod-template-hash=5b66fd5fdb"]
    rs["spec"]["selector"] = {"matchLabels": {"app": "x"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web", "api"]},
        {"key": "env", "operator": "NotIn", "values": ["dev"]},
        {"key": "canary", "operator": "DoesNotExist"},
        {"key": "zone", "operator": "Exists"}]}
    assert row_cells("replicasets.apps", rs, NOW)[-1] == "app=x,!canary,env notin (dev),tier in (api,web),zone"
    rs["spec"]["selector"] = None
    assert row_cells("replicasets.apps", rs, NOW)[-1] == "<none>"


def test_controller_revisions() -> None:
    def cr(name: str, owner: dict | None, revision: int) -> dict:
        m = meta(name, 31)
        if owner:
            m["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": "other", "uid": "p"},
                                    {**owner, "uid": "o", "controller": True, "blockOwnerDeletion": True}]
        return {"metadata": m, "data": {"spec": {}}, "revision": revision}

    sts = cr("web-597dd74798", {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"}, 1)
    assert row_cells("controllerrevisions.apps", sts, NOW) == ["web-597dd74798", "statefulset.apps/web", 1, "31s"]
    ds = cr("nginx-ds-598bfbf5bc", {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "nginx-ds"}, 2)
    assert row_cells("controllerrevisions.apps", ds, NOW)[1:3] == ["daemonset.apps/nginx-ds", 2]
    core = cr("x", {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc"}, 3)
    assert row_cells("controllerrevisions.apps", core, NOW)[1] == "replicationcontroller/rc"
    assert row_cells("controllerrevisions.apps", cr("orphan", None, 4), NOW)[1:3] == ["<none>", 4]


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------


def core_event() -> dict:
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": meta("web-0.187bd2c7a3d4e5f6", 31),
        "involvedObject": {"kind": "Pod", "namespace": "demo", "name": "web-0", "uid": "p",
                           "apiVersion": "v1", "resourceVersion": "4012"},
        "reason": "Scheduled",
        "message": "Successfully assigned demo/web-0 to node2",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": ago(31), "lastTimestamp": ago(31), "count": 1, "type": "Normal",
        "eventTime": None, "reportingComponent": "", "reportingInstance": "",
    }


def test_core_event() -> None:
    assert row_cells("events", core_event(), NOW) == [
        "31s", "Normal", "Scheduled", "pod/web-0", "", "default-scheduler",
        "Successfully assigned demo/web-0 to node2", "31s", 1, "web-0.187bd2c7a3d4e5f6"]


def test_core_event_repeated_with_subobject_and_host() -> None:
    ev = core_event()
    ev.update(reason="Pulled", message="  Container image already present\n", count=4,
              firstTimestamp=ago(3600 * 3), lastTimestamp=ago(65), type="Normal",
              source={"component": "kubelet", "host": "node2"})
    ev["involvedObject"]["fieldPath"] = "spec.containers{nginx}"
    assert row_cells("events", ev, NOW) == [
        "65s", "Normal", "Pulled", "pod/web-0", "spec.containers{nginx}", "kubelet, node2",
        "Container image already present", "3h", 4, "web-0.187bd2c7a3d4e5f6"]


def test_new_style_event_stored_as_core() -> None:
    ev = core_event()
    ev.update(firstTimestamp=None, lastTimestamp=None, count=0, source={},
              eventTime="2026-11-27T13:39:00.123456Z", reportingComponent="statefulset-controller",
              reportingInstance="kcm-1")
    ev["involvedObject"] = {"kind": "StatefulSet", "name": ""}
    assert row_cells("events", ev, NOW) == [
        "59s", "Normal", "Scheduled", "statefulset", "", "statefulset-controller, kcm-1",
        "Successfully assigned demo/web-0 to node2", "59s", 1, "web-0.187bd2c7a3d4e5f6"]  # 59.88s truncates
    ev["series"] = {"count": 7, "lastObservedTime": "2026-11-27T13:39:55.000000Z"}
    assert row_cells("events", ev, NOW)[0] == "5s"
    assert row_cells("events", ev, NOW)[8] == 7
    ev.update(eventTime=None, series=None)
    assert row_cells("events", ev, NOW)[0] == "<unknown>"
    assert row_cells("events", ev, NOW)[7] == "<unknown>"


def test_events_k8s_io_v1_shape() -> None:
    ev = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": meta("nginx-ds.1", 31),
        "eventTime": None,
        "reportingController": "", "reportingInstance": "",
        "action": "", "reason": "SuccessfulCreate", "note": "Created pod: nginx-ds-znmd7",
        "regarding": {"kind": "DaemonSet", "namespace": "demo", "name": "nginx-ds", "apiVersion": "apps/v1"},
        "type": "Normal",
        "deprecatedSource": {"component": "daemonset-controller"},
        "deprecatedFirstTimestamp": ago(31), "deprecatedLastTimestamp": ago(31), "deprecatedCount": 1,
    }
    assert row_cells("events.events.k8s.io", ev, NOW) == [
        "31s", "Normal", "SuccessfulCreate", "daemonset/nginx-ds", "", "daemonset-controller",
        "Created pod: nginx-ds-znmd7", "31s", 1, "nginx-ds.1"]
    # An object already in core shape prints the same either way.
    assert row_cells("events.events.k8s.io", core_event(), NOW) == row_cells("events", core_event(), NOW)


# ---------------------------------------------------------------------------------------------
# simple kinds
# ---------------------------------------------------------------------------------------------


def test_namespace_configmap_secret_serviceaccount_lease() -> None:
    ns = {"metadata": {"name": "kube-system", "creationTimestamp": ago(70 * 60)}, "status": {"phase": "Active"}}
    assert row_cells("namespaces", ns, NOW) == ["kube-system", "Active", "70m"]
    ns["status"]["phase"] = "Terminating"
    assert row_cells("namespaces", ns, NOW)[1] == "Terminating"

    cm = {"metadata": meta("kube-root-ca.crt", 4 * DAY + 10 * 3600), "data": {"ca.crt": "..."},
          "binaryData": {"blob": "AAE="}}
    assert row_cells("configmaps", cm, NOW) == ["kube-root-ca.crt", 2, "4d10h"]
    assert row_cells("configmaps", {"metadata": meta("empty")}, NOW)[1] == 0

    secret = {"metadata": meta("tls", 182), "type": "kubernetes.io/tls", "data": {"tls.crt": "eA==",
                                                                                 "tls.key": "eQ=="}}
    assert row_cells("secrets", secret, NOW) == ["tls", "kubernetes.io/tls", 2, "3m2s"]

    sa = {"metadata": meta("default", 31)}
    assert row_cells("serviceaccounts", sa, NOW) == ["default", 0, "31s"]
    sa["secrets"] = [{"name": "default-token"}]
    assert row_cells("serviceaccounts", sa, NOW)[1] == 1

    lease = {"metadata": {"name": "node1", "namespace": "kube-node-lease", "creationTimestamp": ago(69 * 60)},
             "spec": {"holderIdentity": "node1", "leaseDurationSeconds": 40}}
    assert row_cells("leases.coordination.k8s.io", lease, NOW) == ["node1", "node1", "69m"]
    assert row_cells("leases.coordination.k8s.io", {"metadata": meta("l"), "spec": {}}, NOW)[1] == ""


def test_missing_creation_timestamp_is_unknown_age() -> None:
    ns = {"metadata": {"name": "x"}, "status": {"phase": "Active"}}
    assert row_cells("namespaces", ns, NOW) == ["x", "Active", "<unknown>"]


def test_future_timestamps() -> None:
    ns = {"metadata": {"name": "x", "creationTimestamp": ago(-1)}}
    assert row_cells("namespaces", ns, NOW)[2] == "0s"
    ns["metadata"]["creationTimestamp"] = ago(-5)
    assert row_cells("namespaces", ns, NOW)[2] == "<invalid>"


def test_every_printer_matches_its_columns() -> None:
    samples = {
        "pods": running_pod(),
        "nodes": node("n"),
        "services": service("s"),
        "endpoints": endpoints("10.0.0.1"),
        "persistentvolumes": pv("p"),
        "persistentvolumeclaims": pvc("c", "p"),
        "events": core_event(),
        "events.events.k8s.io": core_event(),
    }
    for resource in ("namespaces", "configmaps", "secrets", "serviceaccounts", "statefulsets.apps",
                     "daemonsets.apps", "deployments.apps", "replicasets.apps", "controllerrevisions.apps",
                     "storageclasses.storage.k8s.io", "leases.coordination.k8s.io",
                     "endpointslices.discovery.k8s.io", "widgets.example.com"):
        samples[resource] = {"metadata": meta("x")}
    for resource, obj in samples.items():
        cells = row_cells(resource, obj, NOW)
        cols = column_definitions(resource)
        assert len(cells) == len(cols), resource
        for cell, col in zip(cells, cols, strict=True):
            if col["type"] == "integer":
                assert type(cell) is int, (resource, col["name"])

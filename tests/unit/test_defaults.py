"""Defaulting must reproduce what upstream v1.32 kube-apiserver returns for the same input."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kubeling.api import defaults as D
from kubeling.api.errors import ApiError

SEED = Path(__file__).resolve().parents[2] / "docs" / "examples"
WIRE = Path(__file__).resolve().parents[1] / "fixtures" / "reference"


def _load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _defaulted(resource: str, obj: dict, create: bool = True) -> dict:
    obj = copy.deepcopy(obj)
    if create:
        D.prepare_for_create(resource, obj)
    else:
        D.apply_defaults(resource, obj)
    return obj


NGINX_TEMPLATE_SPEC = {
    "containers": [{
        "name": "nginx", "image": "nginx:1.7.9", "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "web", "containerPort": 80, "protocol": "TCP"}],
        "resources": {},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}],
    }],
    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
    "securityContext": {}, "terminationGracePeriodSeconds": 30,
}


def test_seed_statefulset_matches_upstream() -> None:
    sts = _load(SEED / "nginx-sts.yaml")[1]
    got = _defaulted("statefulsets.apps", sts)
    assert got["metadata"] == {"name": "web", "namespace": "default", "generation": 1}
    assert got["spec"] == {
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "podManagementPolicy": "OrderedReady",
        "replicas": 2,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "nginx"}},
        "serviceName": "nginx",
        "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "nginx"}},
                     "spec": NGINX_TEMPLATE_SPEC},
        "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
        "volumeClaimTemplates": [{
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"creationTimestamp": None, "name": "www"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"},
        }],
    }
    assert got["status"] == {"availableReplicas": 0, "replicas": 0}


def test_kubectl_undo_template_matches_recorded_patch() -> None:
    """13-rollout-undo sends the stored (defaulted) template back; ours must be identical."""
    sts = _load(WIRE / "web.yaml")[1]
    sts["metadata"]["namespace"] = "default"
    got = _defaulted("statefulsets.apps", sts)
    recorded = {"containers": [{"image": "registry.k8s.io/nginx-slim:0.24", "imagePullPolicy": "IfNotPresent",
                                "name": "nginx", "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}],
                                "resources": {}, "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File",
                                "volumeMounts": [{"mountPath": "/usr/share/nginx/html", "name": "www"}]}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                "securityContext": {}, "terminationGracePeriodSeconds": 10}
    assert got["spec"]["template"]["spec"] == recorded
    assert got["spec"]["minReadySeconds"] == 10


def test_headless_service() -> None:
    svc = _load(SEED / "headless-svc.yaml")[0]
    got = _defaulted("services", svc)
    assert got["spec"] == {
        "clusterIP": "None", "clusterIPs": ["None"], "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
        "selector": {"app": "nginx"}, "sessionAffinity": "None", "type": "ClusterIP",
    }
    assert got["status"] == {"loadBalancer": {}}


def test_service_variants() -> None:
    lb = _defaulted("services", {"metadata": {"name": "s", "namespace": "d"},
                                 "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}],
                                          "sessionAffinity": "ClientIP"}})
    spec = lb["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert spec["ports"][0]["targetPort"] == "https"
    headless_no_selector = _defaulted("services", {"metadata": {"name": "s", "namespace": "d"},
                                                   "spec": {"clusterIP": "None"}})
    assert headless_no_selector["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert headless_no_selector["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    ext = _defaulted("services", {"metadata": {"name": "s", "namespace": "d"},
                                  "spec": {"type": "ExternalName", "externalName": "example.com"}})
    assert "ipFamilies" not in ext["spec"] and "internalTrafficPolicy" not in ext["spec"]


def test_daemonset_matches_recorded_create() -> None:
    ds = _load(WIRE / "ds.yaml")[0]
    got = _defaulted("daemonsets.apps", ds)
    assert got["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    assert got["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert got["spec"]["revisionHistoryLimit"] == 10
    c = got["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"] == {"limits": {"memory": "200Mi"}, "requests": {"cpu": "100m", "memory": "200Mi"}}
    assert got["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                             "desiredNumberScheduled": 0, "numberReady": 0}


def test_deployment_and_replicaset() -> None:
    tpl = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    dep = _defaulted("deployments.apps", {"metadata": {"name": "d", "namespace": "n"},
                                          "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": tpl}})
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate",
                                       "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert dep["spec"]["revisionHistoryLimit"] == 10 and dep["spec"]["progressDeadlineSeconds"] == 600
    assert dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert dep["status"] == {} and dep["metadata"]["generation"] == 1
    recreate = _defaulted("deployments.apps", {"metadata": {"name": "d", "namespace": "n"},
                                               "spec": {"strategy": {"type": "Recreate"}, "template": tpl}})
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}
    rs = _defaulted("replicasets.apps", {"metadata": {"name": "r", "namespace": "n"}, "spec": {"template": tpl}})
    assert rs["spec"]["replicas"] == 1 and rs["status"] == {"replicas": 0}


def test_pod_defaults() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n"}, "spec": {
        "hostNetwork": True,
        "containers": [{"name": "c", "image": "repo/app@sha256:" + "a" * 64,
                        "ports": [{"containerPort": 8080}],
                        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
                        "readinessProbe": {"tcpSocket": {"port": 8080}}}],
        "volumes": [{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}},
                    {"name": "c", "hostPath": {"path": "/x"}},
                    {"name": "d", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}],
    }}
    got = _defaulted("pods", pod)
    c = got["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["ports"] == [{"containerPort": 8080, "protocol": "TCP", "hostPort": 8080}]
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "metadata.name"}
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}
    assert c["readinessProbe"] == {"tcpSocket": {"port": 8080}, "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3}
    vols = got["spec"]["volumes"]
    assert vols[0] == {"name": "a", "emptyDir": {}}
    assert vols[1]["secret"] == {"secretName": "s", "defaultMode": 420}
    assert vols[2]["hostPath"] == {"path": "/x", "type": ""}
    assert vols[3]["projected"] == {"sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}],
                                    "defaultMode": 420}
    assert got["spec"]["enableServiceLinks"] is True
    assert got["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.7.9", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("localhost:5000/app:v1", "IfNotPresent"),
    ("Nginx", "IfNotPresent"), ("", "IfNotPresent"), ("repo/x@sha256:" + "b" * 64, "IfNotPresent"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    assert D.pull_policy_for(image) == policy


def test_pod_templates_do_not_get_pod_only_defaults() -> None:
    dep = _defaulted("deployments.apps", {"metadata": {"name": "d", "namespace": "n"}, "spec": {"template": {
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]}}}})
    spec = dep["spec"]["template"]["spec"]
    assert "enableServiceLinks" not in spec
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}}


def test_pv_pvc_storageclass() -> None:
    pv = _defaulted("persistentvolumes", _load(SEED / "pv.yaml")[0])
    assert pv["spec"] == {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                          "hostPath": {"path": "/tmp/pv001", "type": ""},
                          "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"}
    assert pv["status"]["phase"] == "Pending" and "lastPhaseTransitionTime" in pv["status"]
    pvc = _defaulted("persistentvolumeclaims", {"metadata": {"name": "c", "namespace": "n"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}})
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                           "volumeMode": "Filesystem"}
    assert pvc["status"] == {"phase": "Pending"}
    sc = _defaulted("storageclasses.storage.k8s.io", {"metadata": {"name": "standard"}, "provisioner": "x/y"})
    assert sc["reclaimPolicy"] == "Delete" and sc["volumeBindingMode"] == "Immediate"


def test_namespace_create_and_update() -> None:
    ns = _defaulted("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    new = copy.deepcopy(ns)
    new["spec"]["finalizers"] = []
    new["metadata"]["labels"]["kubernetes.io/metadata.name"] = "other"
    D.prepare_for_update("namespaces", new, ns)
    assert new["spec"] == {"finalizers": ["kubernetes"]}
    assert new["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team"


def test_secret_and_configmap() -> None:
    s = _defaulted("secrets", {"metadata": {"name": "s", "namespace": "n"},
                               "data": {"a": "aGk=\n"}, "stringData": {"b": "hello"}})
    assert s == {"metadata": {"name": "s", "namespace": "n"}, "type": "Opaque",
                 "data": {"a": "aGk=", "b": "aGVsbG8="}}
    with pytest.raises(ApiError) as e:
        _defaulted("secrets", {"metadata": {"name": "s", "namespace": "n"}, "data": {"a": "!!"}})
    assert e.value.code == 400
    cm = _defaulted("configmaps", {"metadata": {"name": "c", "namespace": "n", "labels": {}}, "data": {"k": "v"}})
    assert cm == {"metadata": {"name": "c", "namespace": "n"}, "data": {"k": "v"}}


def test_node_endpointslice_event() -> None:
    node = _defaulted("nodes", {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "2", "pods": "110"}}})
    assert node["status"]["allocatable"] == {"cpu": "2", "pods": "110"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert node["spec"] == {}
    eps = _defaulted("endpointslices.discovery.k8s.io", {"metadata": {"name": "e", "namespace": "n"},
                                                         "addressType": "IPv4",
                                                         "endpoints": [{"addresses": ["10.0.0.1"]}],
                                                         "ports": [{"port": 80}]})
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert eps["endpoints"] == [{"addresses": ["10.0.0.1"], "conditions": {}}]
    empty = _defaulted("endpointslices.discovery.k8s.io", {"metadata": {"name": "e", "namespace": "n"},
                                                           "addressType": "IPv4"})
    assert empty["endpoints"] is None and empty["ports"] is None
    ev = _defaulted("events", {"metadata": {"name": "e", "namespace": "n"}, "reason": "R"})
    assert ev["firstTimestamp"] is None and ev["eventTime"] is None and ev["source"] == {}
    assert ev["reportingComponent"] == "" and ev["involvedObject"] == {}


def test_decode_normalization() -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "bogus": 1,
           "metadata": {"name": "p", "namespace": "n", "labels": None, "annotations": {}, "finalizers": []},
           "spec": {"nodeSelector": {}, "volumes": [], "containers": [
               {"name": "c", "image": "i", "args": [], "unknownField": True,
                "resources": {"requests": {"cpu": 0.25, "memory": "1e3", "x.io/gpu": "1000m"}}}]}}
    D.apply_defaults("pods", obj)
    assert "bogus" not in obj
    assert obj["metadata"] == {"name": "p", "namespace": "n"}
    assert "nodeSelector" not in obj["spec"] and "volumes" not in obj["spec"]
    c = obj["spec"]["containers"][0]
    assert "args" not in c and "unknownField" not in c
    assert c["resources"]["requests"] == {"cpu": "250m", "memory": "1e3", "x.io/gpu": "1"}
    with pytest.raises(ApiError) as e:
        D.apply_defaults("pods", {"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "resources": {"limits": {"cpu": "abc"}}}]}})
    assert e.value.code == 400
    assert e.value.message == ('Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
                               "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


@pytest.mark.parametrize("raw,canonical,milli", [
    ("1Gi", "1Gi", "1Gi"), ("1024Mi", "1Gi", "1Gi"), ("1.5Gi", "1536Mi", "1536Mi"), ("0.5", "500m", "500m"),
    ("1000m", "1", "1"), ("1000", "1k", "1k"), ("1e3", "1e3", "1e3"), ("100Mi", "100Mi", "100Mi"),
    ("0.1Ki", "102400m", "102400m"), ("1.5Ki", "1536", "1536"), ("-1Ki", "-1Ki", "-1Ki"), ("0", "0", "0"),
    ("1n", "1n", "1m"), ("500u", "500u", "1m"), (1, "1", "1"), ("3e-3", "3e-3", "3e-3"), ("5G", "5G", "5G"),
])
def test_quantity_canonical(raw: object, canonical: str, milli: str) -> None:
    assert D.canonical_quantity(raw) == canonical
    assert D.canonical_quantity(raw, milli=True) == milli


@pytest.mark.parametrize("resource,path", [
    ("statefulsets.apps", SEED / "nginx-sts.yaml"), ("daemonsets.apps", SEED / "nginx-ds.yaml"),
    ("services", SEED / "headless-svc.yaml"), ("persistentvolumes", SEED / "pv.yaml"),
])
def test_idempotent(resource: str, path: Path) -> None:
    for doc in _load(path):
        if doc["kind"] not in ("StatefulSet", "DaemonSet", "Service", "PersistentVolume"):
            continue
        once = _defaulted(resource, doc)
        twice = copy.deepcopy(once)
        D.apply_defaults(resource, twice)
        assert once == twice


def test_prepare_for_update_generation() -> None:
    sts = _defaulted("statefulsets.apps", _load(SEED / "nginx-sts.yaml")[1])
    sts["metadata"]["generation"] = 3
    sts["status"] = {"replicas": 2, "availableReplicas": 2, "observedGeneration": 3}
    same = copy.deepcopy(sts)
    same["status"] = {"replicas": 0}
    D.prepare_for_update("statefulsets.apps", same, sts)
    assert same["metadata"]["generation"] == 3 and same["status"]["replicas"] == 2
    scaled = copy.deepcopy(sts)
    scaled["spec"]["replicas"] = 5
    D.prepare_for_update("statefulsets.apps", scaled, sts)
    assert scaled["metadata"]["generation"] == 4
    ds = _defaulted("daemonsets.apps", _load(WIRE / "ds.yaml")[0])
    ds2 = copy.deepcopy(ds)
    ds2["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    D.prepare_for_update("daemonsets.apps", ds2, ds)
    assert ds2["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    assert ds2["metadata"]["generation"] == 2
    dep = _defaulted("deployments.apps", {"metadata": {"name": "d", "namespace": "n"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    dep2 = copy.deepcopy(dep)
    dep2["metadata"]["annotations"] = {"kubernetes.io/change-cause": "x"}
    D.prepare_for_update("deployments.apps", dep2, dep)
    assert dep2["metadata"]["generation"] == 2


def test_pod_qos() -> None:
    def pod(res: dict) -> dict:
        return {"spec": {"containers": [{"name": "c", "resources": res}]}}
    assert D.pod_qos(pod({})) == "BestEffort"
    assert D.pod_qos(pod({"requests": {"cpu": "100m"}})) == "Burstable"
    assert D.pod_qos(pod({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}})) \
        == "Guaranteed"


def test_service_update_keeps_allocated_values() -> None:
    old = _defaulted("services", {"metadata": {"name": "s", "namespace": "n", "uid": "u1",
                                               "creationTimestamp": "2026-01-01T00:00:00Z"},
                                  "spec": {"type": "NodePort", "clusterIP": "10.96.0.20",
                                           "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}})
    new = {"metadata": {"name": "s", "namespace": "n"},
           "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}}
    D.prepare_for_update("services", new, old)
    assert new["spec"]["clusterIP"] == "10.96.0.20" and new["spec"]["clusterIPs"] == ["10.96.0.20"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080
    assert new["metadata"]["uid"] == "u1" and new["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert new["spec"]["externalTrafficPolicy"] == "Cluster"

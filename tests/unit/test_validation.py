"""Validation causes must carry upstream v1.32 types, messages and field paths."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kubeling.api import defaults as D
from kubeling.api import validation as V
from kubeling.api.errors import invalid

SEED = Path(__file__).resolve().parents[2] / "docs" / "examples"
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _created(resource: str, obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {})
    if D.RESOURCES[resource][3]:
        obj["metadata"].setdefault("namespace", "default")
    D.prepare_for_create(resource, obj)
    return obj


def _pod(**spec: object) -> dict:
    base = {"containers": [{"name": "app", "image": "nginx"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": base}


def _inv(field: str, rendered: str, detail: str) -> dict:
    return {"type": "FieldValueInvalid", "message": f"Invalid value: {rendered}: {detail}", "field": field}


def test_seed_manifests_are_valid() -> None:
    kinds = {"Service": "services", "StatefulSet": "statefulsets.apps", "DaemonSet": "daemonsets.apps",
             "PersistentVolume": "persistentvolumes"}
    for path in SEED.glob("*.yaml"):
        for doc in _load(path):
            res = kinds[doc["kind"]]
            assert V.validate(res, _created(res, doc)) == [], (path, doc["kind"])


def test_pod_name_subdomain_message() -> None:
    pod = _created("pods", _pod())
    pod["metadata"]["name"] = "Web_1"
    assert V.validate("pods", pod) == [
        {"type": "FieldValueInvalid", "message": f'Invalid value: "Web_1": {SUBDOMAIN_MSG}',
         "field": "metadata.name"}]


def test_name_rules_per_kind() -> None:
    svc = _created("services", {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}})
    assert V.validate("services", svc) == [_inv("metadata.name", '"1svc"', DNS1035_MSG)]
    ns = _created("namespaces", {"metadata": {"name": "a.b"}})
    assert V.validate("namespaces", ns) == [_inv("metadata.name", '"a.b"', "must not contain dots")]
    sts = _created("statefulsets.apps", _load(SEED / "nginx-sts.yaml")[1])
    sts["metadata"]["name"] = "web.v1"
    assert V.validate("statefulsets.apps", sts) == [_inv("metadata.name", '"web.v1"', "must not contain dots")]
    cm = _created("configmaps", {"metadata": {"name": "a.b"}})
    assert V.validate("configmaps", cm) == []
    nameless = _created("configmaps", {"metadata": {}})
    assert V.validate("configmaps", nameless) == [
        {"type": "FieldValueRequired", "message": "Required value: name or generateName is required",
         "field": "metadata.name"}]
    too_long = "a" * 64
    ns = _created("namespaces", {"metadata": {"name": too_long}})
    assert V.validate("namespaces", ns)[0] == _inv("metadata.name", f'"{too_long}"', "must be no more than 63 "
                                                                                      "characters")


def test_labels_and_annotations() -> None:
    pod = _created("pods", _pod())
    pod["metadata"]["labels"] = {"bad key!": "ok", "k": "bad value!"}
    pod["metadata"]["annotations"] = {"x": "a" * (256 * 1024)}
    causes = V.validate("pods", pod)
    assert causes[0]["field"] == "metadata.labels"
    assert causes[0]["message"].startswith('Invalid value: "bad key!": name part must consist of alphanumeric '
                                           "characters, '-', '_' or '.', and must start and end with an "
                                           "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc'")
    assert causes[1] == _inv("metadata.labels", '"bad value!"', (
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
    assert causes[2] == {"type": "FieldValueTooLong", "message": "Too long: may not be more than 262144 bytes",
                         "field": "metadata.annotations"}


def test_namespace_required_for_namespaced_kinds() -> None:
    pod = _created("pods", _pod())
    pod["metadata"].pop("namespace")
    assert V.validate("pods", pod) == [{"type": "FieldValueRequired", "message": "Required value",
                                        "field": "metadata.namespace"}]
    pv = _created("persistentvolumes", _load(SEED / "pv.yaml")[0])
    pv["metadata"]["namespace"] = "default"
    assert V.validate("persistentvolumes", pv) == [
        {"type": "FieldValueForbidden", "message": "Forbidden: not allowed on this type", "field": "metadata.namespace"}]


def test_pod_spec_errors() -> None:
    pod = _created("pods", _pod(
        containers=[{"name": "App", "image": "", "ports": [{"containerPort": 70000}],
                     "volumeMounts": [{"name": "missing", "mountPath": "/x"}]},
                    {"name": "App", "image": "x"}],
        volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}],
        restartPolicy="Sometimes"))
    causes = V.validate("pods", pod)
    assert causes == [
        {"type": "FieldValueDuplicate", "message": 'Duplicate value: "v"', "field": "spec.volumes[1].name"},
        _inv("spec.containers[0].name", '"App"', LABEL_MSG),
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"},
        _inv("spec.containers[0].ports[0].containerPort", "70000", "must be between 1 and 65535, inclusive"),
        {"type": "FieldValueNotFound", "message": 'Not found: "missing"',
         "field": "spec.containers[0].volumeMounts[0].name"},
        _inv("spec.containers[1].name", '"App"', LABEL_MSG),
        {"type": "FieldValueDuplicate", "message": 'Duplicate value: "App"', "field": "spec.containers[1].name"},
        {"type": "FieldValueNotSupported",
         "message": 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
         "field": "spec.restartPolicy"},
    ]


def test_pod_requires_containers() -> None:
    pod = _created("pods", _pod(containers=[]))
    assert V.validate("pods", pod) == [{"type": "FieldValueRequired", "message": "Required value",
                                        "field": "spec.containers"}]


def test_pod_resources_and_probes() -> None:
    pod = _created("pods", _pod(containers=[{
        "name": "a", "image": "i",
        "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}},
        "livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2},
        "readinessProbe": {"initialDelaySeconds": -1},
    }]))
    assert V.validate("pods", pod) == [
        _inv("spec.containers[0].resources.requests", '"1"', "must be less than or equal to cpu limit of 500m"),
        _inv("spec.containers[0].livenessProbe.successThreshold", "2", "must be 1"),
        {"type": "FieldValueRequired", "message": "Required value: must specify a handler type",
         "field": "spec.containers[0].readinessProbe"},
        _inv("spec.containers[0].readinessProbe.initialDelaySeconds", "-1", "must be greater than or equal to 0"),
    ]


def test_pod_update_rules() -> None:
    old = _created("pods", _pod())
    old["metadata"]["resourceVersion"] = "5"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["activeDeadlineSeconds"] = 30
    assert V.validate("pods", new, old) == []
    bad = copy.deepcopy(old)
    bad["spec"]["restartPolicy"] = "Never"
    causes = V.validate("pods", bad, old)
    assert len(causes) == 1 and causes[0]["field"] == "spec" and causes[0]["type"] == "FieldValueForbidden"
    assert causes[0]["message"].startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n")
    more = copy.deepcopy(old)
    more["spec"]["containers"].append({"name": "b", "image": "x"})
    D.apply_defaults("pods", more)
    assert V.validate("pods", more, old)[-1] == {
        "type": "FieldValueForbidden", "message": "Forbidden: pod updates may not add or remove containers",
        "field": "spec.containers"}
    renamed = copy.deepcopy(old)
    renamed["metadata"]["name"] = "q"
    assert _inv("metadata.name", '"q"', "field is immutable") in V.validate("pods", renamed, old)


def test_statefulset_selector_mismatch_and_update() -> None:
    sts = _created("statefulsets.apps", _load(SEED / "nginx-sts.yaml")[1])
    bad = copy.deepcopy(sts)
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert V.validate("statefulsets.apps", bad) == [
        _inv("spec.template.metadata.labels", 'map[string]string{"app":"x"}', "`selector` does not match template "
                                                                               "`labels`")]
    new = copy.deepcopy(sts)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.9.1"
    new["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    assert V.validate("statefulsets.apps", new, sts) == []
    new["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert V.validate("statefulsets.apps", new, sts) == [{
        "type": "FieldValueForbidden",
        "message": "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                   "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        "field": "spec"}]


def test_statefulset_spec_errors() -> None:
    sts = _created("statefulsets.apps", _load(SEED / "nginx-sts.yaml")[1])
    sts["spec"]["replicas"] = -1
    sts["spec"]["podManagementPolicy"] = "Random"
    sts["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    del sts["spec"]["selector"]
    assert V.validate("statefulsets.apps", sts) == [
        _inv("spec.podManagementPolicy", '"Random"', "must be 'OrderedReady' or 'Parallel'"),
        _inv("spec.replicas", "-1", "must be greater than or equal to 0"),
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.selector"},
        _inv("spec.template.metadata.labels", 'map[string]string{"app":"nginx"}', "`selector` does not match "
                                                                                  "template `labels`"),
        {"type": "FieldValueNotSupported", "message": 'Unsupported value: "Never": supported values: "Always"',
         "field": "spec.template.spec.restartPolicy"},
    ]


def test_deployment_replicaset_daemonset() -> None:
    tpl = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    dep = _created("deployments.apps", {"metadata": {"name": "d"},
                                        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": tpl}})
    assert V.validate("deployments.apps", dep) == []
    new = copy.deepcopy(dep)
    new["spec"]["selector"] = {"matchLabels": {"a": "b", "c": "d"}}
    new["spec"]["template"]["metadata"]["labels"]["c"] = "d"
    assert V.validate("deployments.apps", new, dep) == [_inv(
        "spec.selector", 'v1.LabelSelector{MatchLabels:map[string]string{"a":"b", "c":"d"}, '
                         "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}", "field is immutable")]
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    bad["spec"]["strategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": 0}
    assert V.validate("deployments.apps", bad) == [
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.template.spec.containers[0].image"},
        _inv("spec.strategy.rollingUpdate.maxUnavailable", 'intstr.IntOrString{Type:0, IntVal:0, StrVal:""}',
             "may not be 0 when `maxSurge` is 0"),
    ]
    rs = _created("replicasets.apps", {"metadata": {"name": "r"},
                                       "spec": {"selector": {"matchLabels": {}}, "template": tpl}})
    assert V.validate("replicasets.apps", rs) == [_inv(
        "spec.selector", "v1.LabelSelector{MatchLabels:map[string]string(nil), "
                         "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}", "empty selector is invalid for "
                                                                                 "deployment")]
    ds = _created("daemonsets.apps", _load(SEED / "nginx-ds.yaml")[0])
    assert V.validate("daemonsets.apps", ds) == []
    ds2 = copy.deepcopy(ds)
    ds2["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": 1}
    assert V.validate("daemonsets.apps", ds2) == [_inv(
        "spec.updateStrategy.rollingUpdate.maxSurge", 'intstr.IntOrString{Type:0, IntVal:1, StrVal:""}',
        "may not be set when maxUnavailable is non-zero")]


def test_service_rules() -> None:
    svc = _created("services", {"metadata": {"name": "s"}, "spec": {"selector": {"a": "b"}}})
    assert V.validate("services", svc) == [{"type": "FieldValueRequired", "message": "Required value",
                                            "field": "spec.ports"}]
    headless = _created("services", {"metadata": {"name": "s"}, "spec": {"clusterIP": "None", "selector": {"a": "b"}}})
    assert V.validate("services", headless) == []
    svc = _created("services", {"metadata": {"name": "s"}, "spec": {
        "type": "Bogus", "ports": [{"port": 0, "protocol": "ICMP"}, {"name": "b", "port": 80}]}})
    assert V.validate("services", svc) == [
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.ports[0].name"},
        _inv("spec.ports[0].port", "0", "must be between 1 and 65535, inclusive"),
        {"type": "FieldValueNotSupported",
         "message": 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
         "field": "spec.ports[0].protocol"},
        _inv("spec.ports[0].targetPort", "0", "must be between 1 and 65535, inclusive"),
        {"type": "FieldValueNotSupported", "message": 'Unsupported value: "Bogus": supported values: "ClusterIP", '
                                                      '"ExternalName", "LoadBalancer", "NodePort"',
         "field": "spec.type"},
    ]
    old = _created("services", {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.10",
                                                                   "ports": [{"port": 53}]}})
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    new["spec"]["clusterIPs"] = ["10.96.0.11"]
    assert V.validate("services", new, old) == [_inv("spec.clusterIPs[0]", '[]string{"10.96.0.11"}',
                                                     "may not change once set")]
    dual = _created("services", {"metadata": {"name": "s"}, "spec": {"ipFamilyPolicy": "RequireDualStack",
                                                                    "ports": [{"port": 53}]}})
    assert V.validate("services", dual) == [_inv("spec.ipFamilyPolicy", '"RequireDualStack"',
                                                 "this cluster is not configured for dual-stack services")]


def test_pv_pvc() -> None:
    pv = _created("persistentvolumes", {"metadata": {"name": "pv"}, "spec": {}})
    assert V.validate("persistentvolumes", pv) == [
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.accessModes"},
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.capacity"},
        {"type": "FieldValueNotSupported",
         "message": 'Unsupported value: core.ResourceList{}: supported values: "storage"', "field": "spec.capacity"},
        {"type": "FieldValueRequired", "message": "Required value: must specify a volume type", "field": "spec"},
    ]
    pv = _created("persistentvolumes", _load(SEED / "pv.yaml")[0])
    pv2 = copy.deepcopy(pv)
    pv2["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    pv2["spec"]["capacity"]["storage"] = "2Gi"
    assert V.validate("persistentvolumes", pv2, pv) == []
    pv2["spec"]["hostPath"]["path"] = "/other"
    causes = V.validate("persistentvolumes", pv2, pv)
    assert [c["field"] for c in causes] == ["spec.persistentvolumesource"]
    pvc = _created("persistentvolumeclaims", {"metadata": {"name": "c"}, "spec": {"resources": {}}})
    assert V.validate("persistentvolumeclaims", pvc) == [
        {"type": "FieldValueRequired", "message": "Required value: at least 1 access mode is required",
         "field": "spec.accessModes"},
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.resources[storage]"},
    ]
    pvc = _created("persistentvolumeclaims", {"metadata": {"name": "c"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    bound = copy.deepcopy(pvc)
    bound["spec"]["volumeName"] = "pv001"
    assert V.validate("persistentvolumeclaims", bound, pvc) == []
    grown = copy.deepcopy(bound)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert [c["field"] for c in V.validate("persistentvolumeclaims", grown, bound)] == ["spec"]
    bound["status"] = {"phase": "Bound"}
    grown["status"] = {"phase": "Bound"}
    assert V.validate("persistentvolumeclaims", grown, bound) == []


def test_configmap_secret_immutable() -> None:
    cm = _created("configmaps", {"metadata": {"name": "c"}, "data": {"a b": "x"}, "immutable": True})
    assert V.validate("configmaps", cm) == [_inv("data[a b]", '"a b"', (
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
        "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))]
    cm = _created("configmaps", {"metadata": {"name": "c"}, "data": {"a": "x"}, "immutable": True})
    new = copy.deepcopy(cm)
    new["data"]["a"] = "y"
    assert V.validate("configmaps", new, cm) == [{
        "type": "FieldValueForbidden", "message": "Forbidden: field is immutable when `immutable` is set",
        "field": "data"}]
    sec = _created("secrets", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}})
    assert V.validate("secrets", sec) == [{"type": "FieldValueRequired", "message": "Required value",
                                           "field": "data[tls.key]"}]


def test_storageclass_lease_controllerrevision_endpointslice() -> None:
    sc = _created("storageclasses.storage.k8s.io", {"metadata": {"name": "local"}, "provisioner": "rancher.io/local"})
    assert V.validate("storageclasses.storage.k8s.io", sc) == []
    sc2 = copy.deepcopy(sc)
    sc2["provisioner"] = "other.io/x"
    sc2["parameters"] = {"a": "b"}
    assert V.validate("storageclasses.storage.k8s.io", sc2, sc) == [
        {"type": "FieldValueForbidden", "message": "Forbidden: updates to parameters are forbidden.",
         "field": "parameters"},
        {"type": "FieldValueForbidden", "message": "Forbidden: updates to provisioner are forbidden.",
         "field": "provisioner"}]
    noprov = _created("storageclasses.storage.k8s.io", {"metadata": {"name": "x"}})
    assert V.validate("storageclasses.storage.k8s.io", noprov) == [
        {"type": "FieldValueRequired", "message": "Required value", "field": "provisioner"}]
    lease = _created("leases.coordination.k8s.io", {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}})
    assert V.validate("leases.coordination.k8s.io", lease) == [
        _inv("spec.leaseDurationSeconds", "0", "must be greater than 0")]
    cr = _created("controllerrevisions.apps", {"metadata": {"name": "web-1"}, "revision": -1})
    assert V.validate("controllerrevisions.apps", cr) == [
        {"type": "FieldValueRequired", "message": "Required value: data is mandatory", "field": "data"},
        _inv("revision", "-1", "must be greater than or equal to 0")]
    eps = _created("endpointslices.discovery.k8s.io", {"metadata": {"name": "e"}, "addressType": "IPv4",
                                                       "endpoints": [{"addresses": ["10.244.1.5"]}],
                                                       "ports": [{"port": 80, "name": "web"}]})
    assert V.validate("endpointslices.discovery.k8s.io", eps) == []


def test_update_reports_generic_meta_first_and_duplicates_like_upstream() -> None:
    old = _created("configmaps", {"metadata": {"name": "c", "resourceVersion": "1"}})
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"k": "bad value!"}
    causes = V.validate("configmaps", new, old)
    # BeforeUpdate's common check (create + update rules), then ValidateConfigMapUpdate (update + create)
    assert [c["field"] for c in causes] == ["metadata.labels"] * 4


def test_status_update() -> None:
    sts = _created("statefulsets.apps", _load(SEED / "nginx-sts.yaml")[1])
    new = copy.deepcopy(sts)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 0}
    assert V.validate_status("statefulsets.apps", new, sts) == [
        _inv("status.readyReplicas", "2", "cannot be greater than status.replicas")]
    ns = _created("namespaces", {"metadata": {"name": "n"}})
    ns2 = copy.deepcopy(ns)
    ns2["status"]["phase"] = "Terminating"
    assert V.validate_status("namespaces", ns2, ns) == [
        _inv("status.Phase", '"Terminating"', "may only be 'Active' if `deletionTimestamp` is empty")]


def test_unknown_fields() -> None:
    sts = _load(SEED / "nginx-sts.yaml")[1]
    sts["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    sts["spec"]["foo"] = {"bar": 1}
    sts["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": {"f:anything": {}}}]
    sts["spec"]["selector"]["matchLabels"]["free"] = "form"
    sts["status"] = {"replicas": 0, "nope": True}
    assert V.unknown_fields("io.k8s.api.apps.v1.StatefulSet", sts) == [
        "spec.template.spec.containers[0].imagee", "spec.foo", "status.nope"]
    cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "data": {"anything": {"goes": 1}}, "revision": 1}
    assert V.unknown_fields("io.k8s.api.apps.v1.ControllerRevision", cr) == []


def test_unknown_resource_gets_generic_metadata_validation() -> None:
    assert V.validate("widgets.example.com", {"metadata": {"name": "a/b", "namespace": "x"}}) == [
        _inv("metadata.name", '"a/b"', "may not contain '/'")]


def test_causes_format_with_errors_invalid() -> None:
    pod = _created("pods", _pod())
    pod["metadata"]["name"] = "Bad"
    err = invalid("Pod", "", "Bad", V.validate("pods", pod))
    assert err.status()["message"] == f'Pod "Bad" is invalid: metadata.name: Invalid value: "Bad": {SUBDOMAIN_MSG}'


@pytest.mark.parametrize("value,errs", [
    ("my-name", []), ("-a", [LABEL_MSG]), ("a" * 64, ["must be no more than 63 characters"]),
])
def test_dns_label(value: str, errs: list[str]) -> None:
    assert V.is_dns1123_label(value) == errs

"""Server-side apply and managedFields, checked against what upstream v1.32 returns (kubectl-wire 01/02/17)."""
from __future__ import annotations

import copy
import json

import pytest

from kubeling.api import apply as ssa
from kubeling.api.errors import ApiError

STS = "io.k8s.api.apps.v1.StatefulSet"
SVC = "io.k8s.api.core.v1.Service"
POD = "io.k8s.api.core.v1.Pod"
T0, T1, T2 = "2026-11-27T12:40:19Z", "2026-11-27T12:40:44Z", "2026-11-27T12:41:00Z"


def web_sts(image: str = "registry.k8s.io/nginx-slim:0.24", **spec: object) -> dict:
    """The StatefulSet of web.yaml exactly as kubectl sends it in an apply patch."""
    obj = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"minReadySeconds": 10, "replicas": 2, "selector": {"matchLabels": {"app": "nginx"}},
                    "serviceName": "nginx",
                    "template": {"metadata": {"labels": {"app": "nginx"}},
                                 "spec": {"containers": [{"image": image, "name": "nginx",
                                                          "ports": [{"containerPort": 80, "name": "web"}],
                                                          "volumeMounts": [{"mountPath": "/usr/share/nginx/html",
                                                                            "name": "www"}]}],
                                          "terminationGracePeriodSeconds": 10}},
                    "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                              "spec": {"accessModes": ["ReadWriteOnce"],
                                                       "resources": {"requests": {"storage": "1Gi"}}}}]}}
    obj["spec"].update(spec)
    return obj


def web_svc() -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"labels": {"app": "nginx"}, "name": "nginx", "namespace": "default"},
            "spec": {"clusterIP": "None", "ports": [{"name": "web", "port": 80}], "selector": {"app": "nginx"}}}


def stored(obj: dict, uid: str = "u-1") -> dict:
    """What storage holds after create: server metadata plus (a few) defaults."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid=uid, resourceVersion="1", creationTimestamp=T0)
    return obj


def entry(obj: dict, manager: str, operation: str | None = None) -> dict:
    found = [e for e in obj["metadata"].get("managedFields", [])
             if e["manager"] == manager and (operation is None or e["operation"] == operation)]
    assert len(found) == 1, obj["metadata"].get("managedFields")
    return found[0]


# The fieldsV1 kube-apiserver returned for `kubectl apply --server-side -f web.yaml` (17, StatefulSet).
STS_APPLY_FIELDS = json.loads(
    '{"f:spec":{"f:minReadySeconds":{},"f:replicas":{},"f:selector":{},"f:serviceName":{},"f:template":'
    '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":'
    '{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":'
    '{".":{},"f:containerPort":{},"f:name":{}}},"f:volumeMounts":{"k:{\\"mountPath\\":'
    '\\"/usr/share/nginx/html\\"}":{".":{},"f:mountPath":{},"f:name":{}}}}},'
    '"f:terminationGracePeriodSeconds":{}}},"f:volumeClaimTemplates":{}}}')

# The fieldsV1 of the client-side-apply create of the Service (01), up to where the recording truncates.
SVC_CSA_FIELDS = json.loads(
    '{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},'
    '"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:clusterIP":{},"f:internalTrafficPolicy":{},"f:ports":'
    '{".":{},"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},'
    '"f:targetPort":{}}},"f:selector":{},"f:sessionAffinity":{},"f:type":{}}}')


def csa_service() -> dict:
    """Service created by `kubectl apply` (client-side): defaulted, with the last-applied annotation."""
    svc = web_svc()
    svc["metadata"]["annotations"] = {ssa.LAST_APPLIED: json.dumps(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"annotations": {}, "labels": {"app": "nginx"},
                                                               "name": "nginx", "namespace": "default"},
         "spec": {"clusterIP": "None", "ports": [{"name": "web", "port": 80}], "selector": {"app": "nginx"}}},
        separators=(",", ":")) + "\n"}
    svc["spec"].update(internalTrafficPolicy="Cluster", sessionAffinity="None", type="ClusterIP")
    svc["spec"]["ports"][0].update(protocol="TCP", targetPort=80)
    ssa.update_managed_fields(None, svc, "kubectl-client-side-apply", "Update", SVC, T0)
    return stored(svc)


# ---- fieldsV1 of updates -----------------------------------------------------------------------

def test_create_update_matches_upstream_fieldsv1() -> None:
    svc = csa_service()
    (e,) = svc["metadata"]["managedFields"]
    assert {k: e[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1"}
    assert e["fieldsV1"] == SVC_CSA_FIELDS
    assert json.dumps(e["fieldsV1"]) == json.dumps(SVC_CSA_FIELDS)  # same key order as upstream


def test_update_moves_changed_fields_to_the_writer() -> None:
    sts = web_sts()
    ssa.update_managed_fields(None, sts, "kubectl-client-side-apply", "Update", STS, T0)
    live = stored(sts)
    csa = entry(live, "kubectl-client-side-apply")["fieldsV1"]
    assert "f:containers" in csa["f:spec"]["f:template"]["f:spec"]
    assert "." not in csa["f:spec"]["f:template"]["f:spec"]["f:containers"]  # containers is null in Go's empty object
    assert "." not in csa["f:spec"]  # spec always exists
    new = copy.deepcopy(live)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.9.1"
    ssa.update_managed_fields(live, new, "kubectl-set", "Update", STS, T1)
    assert entry(new, "kubectl-set")["fieldsV1"] == {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"nginx"}': {"f:image": {}}}}}}}
    csa = entry(new, "kubectl-client-side-apply")["fieldsV1"]
    assert "f:image" not in csa["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert entry(new, "kubectl-client-side-apply")["time"] == T0
    # Upstream order: Apply entries, then by time, then manager.
    assert [m["manager"] for m in new["metadata"]["managedFields"]] == ["kubectl-client-side-apply", "kubectl-set"]


def test_noop_update_keeps_managed_fields_object() -> None:
    live = csa_service()
    new = copy.deepcopy(live)
    new["metadata"]["resourceVersion"] = "7"
    new["metadata"]["managedFields"] = live["metadata"]["managedFields"]
    ssa.update_managed_fields(live, new, "someone", "Update", SVC, T1)
    assert new["metadata"]["managedFields"] is live["metadata"]["managedFields"]


def test_removed_field_leaves_every_manager() -> None:
    live = csa_service()
    new = copy.deepcopy(live)
    del new["spec"]["selector"]
    ssa.update_managed_fields(live, new, "editor", "Update", SVC, T1)
    assert [m["manager"] for m in new["metadata"]["managedFields"]] == ["kubectl-client-side-apply"]
    assert "f:selector" not in new["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]


def test_status_subresource_manager_and_reset_fields() -> None:
    live = stored(web_sts())
    ssa.update_managed_fields(None, live, "kubectl", "Update", STS, T0)
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2, "availableReplicas": 1}
    new["spec"]["replicas"] = 5  # the status strategy resets spec: not attributed
    ssa.update_managed_fields(live, new, "kube-controller-manager", "Update", STS, T1, "status")
    e = entry(new, "kube-controller-manager")
    assert e["subresource"] == "status" and e["apiVersion"] == "apps/v1"
    assert e["fieldsV1"] == {"f:status": {".": {}, "f:availableReplicas": {}, "f:replicas": {}}}
    # and a main-resource write does not take status fields
    new2 = copy.deepcopy(new)
    new2["status"]["replicas"] = 3
    new2["metadata"]["labels"] = {"a": "b"}
    ssa.update_managed_fields(new, new2, "editor", "Update", STS, T2)
    assert entry(new2, "editor")["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}}
    assert entry(new2, "kube-controller-manager")["fieldsV1"]["f:status"]["f:replicas"] == {}


def test_client_managed_fields_kept_and_reset() -> None:
    live = csa_service()
    given = [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
              "fieldsV1": {"f:spec": {"f:type": {}}}}]
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = copy.deepcopy(given)
    ssa.update_managed_fields(live, new, "kubectl", "Update", SVC, T1)
    assert new["metadata"]["managedFields"] == given  # no "time" added: nothing else changed
    for reset in ([], [{}]):
        new = copy.deepcopy(live)
        new["metadata"]["managedFields"] = reset
        ssa.update_managed_fields(live, new, "kubectl", "Update", SVC, T1)
        assert "managedFields" not in new["metadata"]
    # an untracked object stays untracked on update
    untracked = copy.deepcopy(live)
    del untracked["metadata"]["managedFields"]
    new = copy.deepcopy(untracked)
    new["spec"]["type"] = "NodePort"
    ssa.update_managed_fields(untracked, new, "kubectl", "Update", SVC, T1)
    assert "managedFields" not in new["metadata"]
    # undecodable client value: the stored one is used
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus", "apiVersion": "v1"}]
    ssa.update_managed_fields(live, new, "kubectl", "Update", SVC, T1)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_managers_capped_at_ten() -> None:
    obj = stored(web_sts())
    ssa.update_managed_fields(None, obj, "creator", "Update", STS, "2026-01-01T00:00:00Z")
    for i in range(12):
        new = copy.deepcopy(obj)
        new["metadata"].setdefault("labels", {})[f"l{i}"] = "x"
        ssa.update_managed_fields(obj, new, f"m{i:02d}", "Update", STS, f"2026-01-01T00:{i + 1:02d}:00Z")
        obj = new
    mf = obj["metadata"]["managedFields"]
    assert len(mf) == 10
    assert mf[0]["manager"] == "ancient-changes"
    assert "f:l2" in mf[0]["fieldsV1"]["f:metadata"]["f:labels"]


def test_set_list_and_fields_v1() -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a/b", "c"]},
           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 53, "protocol": "UDP"},
                                                         {"containerPort": 80}]}]}}
    fs = ssa.fields_v1(obj, POD)
    assert fs["f:metadata"]["f:finalizers"] == {'v:"a/b"': {}, 'v:"c"': {}}
    ports = fs["f:spec"]["f:containers"]['k:{"name":"c"}']["f:ports"]
    assert list(ports) == ['k:{"containerPort":53,"protocol":"UDP"}', 'k:{"containerPort":80,"protocol":"TCP"}']


# ---- server-side apply -------------------------------------------------------------------------

def test_apply_create_matches_upstream_then_reapply_changed_image() -> None:
    created = ssa.server_side_apply(None, web_sts(), "kubectl", False, STS, T0)
    (e,) = created["metadata"]["managedFields"]
    assert {k: e[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1"}
    assert json.dumps(e["fieldsV1"]) == json.dumps(STS_APPLY_FIELDS)
    live = stored(created)
    live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"  # default
    snapshot = copy.deepcopy(live)
    new = ssa.server_side_apply(live, web_sts("registry.k8s.io/nginx-slim:0.27"), "kubectl", False, STS, T1)
    assert live == snapshot  # input untouched
    c = new["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.k8s.io/nginx-slim:0.27"
    assert c["terminationMessagePath"] == "/dev/termination-log"  # unowned default kept
    (e,) = new["metadata"]["managedFields"]
    assert e["time"] == T1 and e["fieldsV1"] == STS_APPLY_FIELDS
    # re-applying the same config changes nothing and keeps the time
    again = ssa.server_side_apply(stored(new), web_sts("registry.k8s.io/nginx-slim:0.27"), "kubectl", False,
                                  STS, T2)
    assert again["metadata"]["managedFields"][0]["time"] == T1


def test_conflict_on_replicas_then_force() -> None:
    csa = web_sts()
    ssa.update_managed_fields(None, csa, "kubectl-client-side-apply", "Update", STS, T0)
    live = stored(csa)
    cfg = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"replicas": 3}}
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(live, cfg, "scaler", False, STS, T1)
    err = ei.value
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                           "using apps/v1: .spec.replicas")
    assert err.status()["details"] == {"causes": [{  # metav1.StatusCause writes its type as "reason"
        "reason": "FieldManagerConflict", "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
        "field": ".spec.replicas"}]}
    new = ssa.server_side_apply(live, cfg, "scaler", True, STS, T1)
    assert new["spec"]["replicas"] == 3
    assert entry(new, "scaler", "Apply")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entry(new, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]
    # same value applied by two appliers: shared, no conflict
    shared = ssa.server_side_apply(stored(new), cfg, "other", False, STS, T2)
    assert entry(shared, "other")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entry(shared, "scaler")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_multiple_conflicts_message() -> None:
    csa = web_sts()
    ssa.update_managed_fields(None, csa, "kubectl-client-side-apply", "Update", STS, T0)
    cfg = web_sts("nginx:2", replicas=5)
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(stored(csa), cfg, "ci", False, STS, T1)
    assert ei.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image')
    assert [c["field"] for c in ei.value.causes] == [
        ".spec.replicas", '.spec.template.spec.containers[name="nginx"].image']


def test_field_dropped_from_config_is_removed_unless_owned_elsewhere() -> None:
    live = stored(ssa.server_side_apply(None, web_sts(), "kubectl", False, STS, T0))
    cfg = web_sts()
    del cfg["spec"]["minReadySeconds"]
    cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = []
    del cfg["spec"]["template"]["spec"]["containers"][0]["ports"]
    new = ssa.server_side_apply(live, cfg, "kubectl", False, STS, T1)
    assert "minReadySeconds" not in new["spec"]
    assert "ports" not in new["spec"]["template"]["spec"]["containers"][0]
    fs = entry(new, "kubectl")["fieldsV1"]
    assert "f:minReadySeconds" not in fs["f:spec"]
    # a field another manager also owns survives
    live = stored(ssa.server_side_apply(None, web_sts(), "kubectl", False, STS, T0))
    live = stored(ssa.server_side_apply(live, {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                               "metadata": {"name": "web"}, "spec": {"minReadySeconds": 10}},
                                        "other", False, STS, T1))
    new = ssa.server_side_apply(live, cfg, "kubectl", False, STS, T2)
    assert new["spec"]["minReadySeconds"] == 10
    # dropping a whole container removes it, defaults included
    two = web_sts()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = stored(ssa.server_side_apply(None, two, "kubectl", False, STS, T0))
    live["spec"]["template"]["spec"]["containers"][1]["imagePullPolicy"] = "Always"
    new = ssa.server_side_apply(live, web_sts(), "kubectl", False, STS, T1)
    assert [c["name"] for c in new["spec"]["template"]["spec"]["containers"]] == ["nginx"]


def test_ports_keyed_by_container_port_and_protocol() -> None:
    base = web_sts()
    ports = base["spec"]["template"]["spec"]["containers"][0]["ports"]
    ports.append({"containerPort": 80, "protocol": "UDP", "name": "dns"})
    live = stored(ssa.server_side_apply(None, base, "kubectl", False, STS, T0))
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"  # defaulted
    fs = entry(live, "kubectl")["fieldsV1"]
    pf = fs["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["f:ports"]
    assert list(pf) == ['k:{"containerPort":80,"protocol":"TCP"}', 'k:{"containerPort":80,"protocol":"UDP"}']
    # another manager renames the TCP port: keyed merge touches only that item
    cfg = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"template": {"spec": {"containers": [{"name": "nginx", "ports": [
               {"containerPort": 80, "name": "http"}]}]}}}}
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(live, cfg, "other", False, STS, T1)
    assert ei.value.causes[0]["field"] == (
        '.spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].name')
    new = ssa.server_side_apply(live, cfg, "other", True, STS, T1)
    got = new["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert got == [{"containerPort": 80, "name": "http", "protocol": "TCP"},
                   {"containerPort": 80, "protocol": "UDP", "name": "dns"}]


def test_list_merge_order_follows_applied_order() -> None:
    live = stored(ssa.server_side_apply(None, web_sts(), "a", False, STS, T0))
    spec = live["spec"]["template"]["spec"]
    spec["containers"].append({"name": "live-only", "image": "x"})
    cfg = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"template": {"spec": {"containers": [{"name": "new", "image": "y"},
                                                         {"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.24"}]}}}}
    new = ssa.server_side_apply(live, cfg, "b", False, STS, T1)
    assert [c["name"] for c in new["spec"]["template"]["spec"]["containers"]] == ["new", "nginx", "live-only"]


def test_csa_to_ssa_migration_like_kubectl() -> None:
    """Reproduces 17-apply-server-side.txt for the Service created by client-side apply."""
    live = csa_service()
    # 1. kubectl apply --server-side: same values, so no conflict and nothing changes (no time)
    out = ssa.server_side_apply(live, web_svc(), "kubectl", False, SVC, T1)
    mf = out["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"], "time" in m) for m in mf] == [
        ("kubectl", "Apply", False), ("kubectl-client-side-apply", "Update", True)]
    assert mf[0]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {
        "f:clusterIP": {}, "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}}},
        "f:selector": {}}}
    # the last-applied annotation is rewritten from the applied config
    assert out["metadata"]["annotations"][ssa.LAST_APPLIED] == (
        '{"apiVersion":"v1","kind":"Service","metadata":{"labels":{"app":"nginx"},"name":"nginx",'
        '"namespace":"default"},"spec":{"clusterIP":"None","ports":[{"name":"web","port":80}],'
        '"selector":{"app":"nginx"}}}\n')
    live = stored(out)
    # 2. apply of the annotation by kubectl-last-applied
    la = {"apiVersion": "v1", "kind": "Service", "metadata": {"annotations": {
        ssa.LAST_APPLIED: live["metadata"]["annotations"][ssa.LAST_APPLIED]}, "name": "nginx", "namespace": "default"}}
    out = ssa.server_side_apply(live, la, "kubectl-last-applied", False, SVC, T1)
    assert entry(out, "kubectl-last-applied")["fieldsV1"] == {
        "f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}
    assert "time" not in entry(out, "kubectl-last-applied")
    live = stored(out)
    # 3. kubectl's JSON patch replacing managedFields (CSA fields folded into the kubectl applier)
    migrated = [
        {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": SVC_CSA_FIELDS},
        {"manager": "kubectl-last-applied", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}}]
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = copy.deepcopy(migrated)
    ssa.update_managed_fields(live, new, "kubectl", "Update", SVC, T1)
    assert new["metadata"]["managedFields"] == migrated
    live = stored(new)
    # 4. apply again: fields only the old client-side config had are pruned, kubectl's entry gets a time
    out = ssa.server_side_apply(live, web_svc(), "kubectl", False, SVC, T1)
    mf = out["metadata"]["managedFields"]
    assert [(m["manager"], m.get("time")) for m in mf] == [("kubectl-last-applied", None), ("kubectl", T1)]
    assert mf[1]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {
        "f:clusterIP": {}, "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}}},
        "f:selector": {}}}
    assert "sessionAffinity" not in out["spec"] and "type" not in out["spec"]  # defaulting re-adds them
    assert out["spec"]["ports"] == [{"name": "web", "port": 80}]
    assert out["metadata"]["annotations"][ssa.LAST_APPLIED]  # kept: kubectl-last-applied owns it


def test_kubectl_takes_over_csa_fields_matching_last_applied() -> None:
    csa = web_sts()
    csa["metadata"]["annotations"] = {ssa.LAST_APPLIED: json.dumps(web_sts())}
    ssa.update_managed_fields(None, csa, "kubectl-client-side-apply", "Update", STS, T0)
    live = stored(csa)
    # kubectl (server-side) changes replicas the client-side config set: allowed, no conflict
    out = ssa.server_side_apply(live, web_sts(replicas=4), "kubectl", False, STS, T1)
    assert out["spec"]["replicas"] == 4
    assert "f:replicas" not in entry(out, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]
    # any other manager still conflicts
    with pytest.raises(ApiError):
        ssa.server_side_apply(live, web_sts(replicas=4), "helm", False, STS, T1)
    # a field the live object no longer has at its last-applied value is a real conflict
    live2 = copy.deepcopy(live)
    live2["spec"]["replicas"] = 7
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(live2, web_sts(replicas=4), "kubectl", False, STS, T1)
    assert ei.value.causes == [{"type": "FieldManagerConflict",
                                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                "field": ".spec.replicas"}]


def test_before_first_apply_owner() -> None:
    live = stored(web_sts())  # created without managedFields tracking
    out = ssa.server_side_apply(live, {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                       "metadata": {"name": "web"}, "spec": {"replicas": 3}}, "x", True, STS, T1)
    bfa = entry(out, "before-first-apply", "Update")
    assert bfa["time"] == T1 and "f:replicas" not in bfa["fieldsV1"]["f:spec"]
    assert "f:serviceName" in bfa["fieldsV1"]["f:spec"]
    assert entry(out, "x")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_apply_rejects_bad_requests() -> None:
    cfg = web_sts()
    cfg["metadata"]["managedFields"] = []
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(None, cfg, "kubectl", False, STS, T0)
    assert (ei.value.code, ei.value.message) == (400, "metadata.managedFields must be nil")
    cfg = web_sts()
    cfg["apiVersion"] = "apps/v1beta1"
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(None, cfg, "kubectl", False, STS, T0)
    assert ei.value.code == 400
    cfg = web_svc()
    cfg["spec"]["ports"] = [{"name": "web"}]
    with pytest.raises(ApiError) as ei:
        ssa.server_side_apply(None, cfg, "kubectl", False, SVC, T0)
    assert ei.value.code == 500 and 'omits key field "port"' in ei.value.message


def test_status_apply_records_subresource() -> None:
    live = stored(ssa.server_side_apply(None, web_sts(), "kubectl", False, STS, T0))
    cfg = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "status": {"replicas": 2}, "spec": {"replicas": 9}}
    out = ssa.server_side_apply(live, cfg, "ctrl", False, STS, T1, "status")
    e = entry(out, "ctrl")
    assert e["subresource"] == "status" and e["fieldsV1"] == {"f:status": {"f:replicas": {}}}


# ---- atomic RBAC values and server-recomputed fields (client-side -> server-side migration) -----

RB = "io.k8s.api.rbac.v1.RoleBinding"
DS = "io.k8s.api.apps.v1.DaemonSet"


def rb_manifest(explicit: bool) -> dict:
    ref = {"kind": "ClusterRole", "name": "view"}
    subj = {"kind": "User", "name": "alice"}
    if explicit:
        ref["apiGroup"] = subj["apiGroup"] = "rbac.authorization.k8s.io"
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": "default"}, "roleRef": ref, "subjects": [subj]}


def csa_rolebinding(explicit: bool) -> dict:
    """RoleBinding created by `kubectl apply`: annotation of the manifest, apiGroups defaulted."""
    rb = rb_manifest(explicit)
    cfg = copy.deepcopy(rb)
    cfg["metadata"]["annotations"] = {}
    rb["metadata"]["annotations"] = {ssa.LAST_APPLIED: json.dumps(cfg, sort_keys=True, separators=(",", ":")) + "\n"}
    rb["roleRef"]["apiGroup"] = rb["subjects"][0]["apiGroup"] = "rbac.authorization.k8s.io"
    ssa.update_managed_fields(None, rb, "kubectl-client-side-apply", "Update", RB, T0)
    assert entry(rb, "kubectl-client-side-apply")["fieldsV1"] == {
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
        "f:roleRef": {}, "f:subjects": {}}  # atomic: owned as a whole
    return stored(rb)


def test_atomic_rbac_values_equal_to_live_do_not_conflict() -> None:
    out = ssa.server_side_apply(csa_rolebinding(True), rb_manifest(True), "kubectl", False, RB, T1)
    assert entry(out, "kubectl")["fieldsV1"] == {"f:roleRef": {}, "f:subjects": {}}
    assert "time" not in entry(out, "kubectl")  # nothing changed
    assert entry(out, "kubectl-client-side-apply")["fieldsV1"]["f:roleRef"] == {}  # co-owned


def test_atomic_rbac_values_left_to_defaulting_conflict_even_for_kubectl() -> None:
    """The merged atomic value lacks the defaulted apiGroup, and the last-applied annotation does not match
    the live object there, so upstream's lastAppliedManager does not lift the conflict."""
    live = csa_rolebinding(False)
    for manager in ("kubectl", "other"):
        with pytest.raises(ApiError) as ei:
            ssa.server_side_apply(live, rb_manifest(False), manager, False, RB, T1)
        assert ei.value.code == 409
        assert ei.value.message == ('Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" '
                                    'using rbac.authorization.k8s.io/v1:\n- .roleRef\n- .subjects')
        assert [c["field"] for c in ei.value.causes] == [".roleRef", ".subjects"]
    out = ssa.server_side_apply(live, rb_manifest(False), "kubectl", True, RB, T1)
    assert entry(out, "kubectl") == {
        "manager": "kubectl", "operation": "Apply", "apiVersion": "rbac.authorization.k8s.io/v1", "time": T1,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:roleRef": {}, "f:subjects": {}}}
    assert entry(out, "kubectl-client-side-apply")["fieldsV1"] == {
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}}
    assert out["roleRef"] == {"kind": "ClusterRole", "name": "view"}  # the registry defaults it again


def test_kubectl_takes_atomic_value_changed_since_client_side_apply() -> None:
    """A changed subjects list where the annotation still matches the live object: taken over."""
    live = csa_rolebinding(True)
    cfg = rb_manifest(True)
    cfg["subjects"].append({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"})
    out = ssa.server_side_apply(live, cfg, "kubectl", False, RB, T1)
    assert entry(out, "kubectl-client-side-apply")["fieldsV1"] == {
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
        "f:roleRef": {}}
    assert len(out["subjects"]) == 2


def test_daemonset_template_generation_credited_on_create_only() -> None:
    ann = "deprecated.daemonset.template.generation"
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": "d", "namespace": "default", "annotations": {ann: "1"}},
          "spec": {"selector": {"matchLabels": {"a": "b"}},
                   "template": {"metadata": {"labels": {"a": "b"}},
                                "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    ssa.update_managed_fields(None, ds, "creator", "Update", DS, T0)
    assert entry(ds, "creator")["fieldsV1"]["f:metadata"] == {"f:annotations": {".": {}, f"f:{ann}": {}}}
    live = stored(ds)
    new = copy.deepcopy(live)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "x:2"
    new["metadata"]["annotations"][ann] = "2"  # PrepareForUpdate's bump, after upstream's field manager
    ssa.update_managed_fields(live, new, "setter", "Update", DS, T1)
    assert entry(new, "setter")["fieldsV1"] == {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"c"}': {"f:image": {}}}}}}}
    assert f"f:{ann}" in entry(new, "creator")["fieldsV1"]["f:metadata"]["f:annotations"]

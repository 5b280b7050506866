"""ReplicationController (short name rc, category all) with its controller, and PodTemplate, against a
real kubeling, driven by /usr/bin/kubectl and the `kubernetes` client.

Upstream v1.32 behaviour checked: defaults (selector and labels from the template's labels, replicas
1), validation messages and field paths, `kubectl get rc` / `get podtemplates` columns, `kubectl get
all`, `kubectl scale rc` through the scale subresource, adoption of orphans and release of pods whose
labels stop matching, events from "replication-controller", the ReplicaFailure condition, the
default garbage-collection policy of core/v1 RCs (orphan), cascading deletion, the status strategy,
the disruption controller's RC finder, and convergence without duplicates after a SIGKILL.
"""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for
from kubernetes import client as k8s
from test_deployment import is_ready, kget, live_pods

RC_YAML = """\
apiVersion: v1
kind: ReplicationController
metadata:
  name: NAME
spec:
  replicas: REPLICAS
  selector:
    app: NAME
  template:
    metadata:
      name: NAME
      labels:
        app: NAME
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"""


def rc_yaml(name: str, replicas: int) -> str:
    return RC_YAML.replace("NAME", name).replace("REPLICAS", str(replicas))


def ready_pods(cluster: KubelingCluster, ns: str, app: str, n: int) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        pods = live_pods(cluster, ns, app)
        return pods if len(pods) == n and all(is_ready(p) for p in pods) else None

    return wait_for(check, 60, what=f"{n} ready pods app={app}")


def rc_synced(cluster: KubelingCluster, ns: str, name: str, n: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        rc = kget(cluster, ns, "rc", name)
        st = rc.get("status") or {}
        ok = (st.get("replicas") == n and st.get("readyReplicas", 0) == n
              and st.get("observedGeneration") == rc["metadata"]["generation"])
        return rc if ok else None

    return wait_for(check, 60, what=f"rc {name} status at {n} ready")


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in obj["metadata"].get("ownerReferences") or () if r.get("controller")), None)


def events_for(cluster: KubelingCluster, ns: str, name: str) -> list[dict[str, Any]]:
    evs = kget(cluster, ns, "events")["items"]
    return [e for e in evs if e["involvedObject"].get("kind") == "ReplicationController"
            and e["involvedObject"].get("name") == name]


def core(cluster: KubelingCluster) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(cluster.api_client())


# ---- creation, defaults, columns ----------------------------------------------------------------------

def test_rc_from_yaml_creates_ready_pods_and_prints_columns(cluster: KubelingCluster, ns: str) -> None:
    out = cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("web", 3)).stdout
    assert out.strip() == "replicationcontroller/web created"
    pods = ready_pods(cluster, ns, "web", 3)
    rc = rc_synced(cluster, ns, "web", 3)
    for p in pods:
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
        assert controller_ref(p) == {"apiVersion": "v1", "kind": "ReplicationController", "name": "web",
                                     "uid": rc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    assert rc["metadata"]["labels"] == {"app": "web"}  # defaulted from the template
    assert rc["metadata"]["generation"] == 1
    assert rc["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                            "observedGeneration": 1}
    header, rows = table(cluster.kubectl("-n", ns, "get", "rc").stdout)
    assert header == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert [(r["NAME"], r["DESIRED"], r["CURRENT"], r["READY"]) for r in rows] == [("web", "3", "3", "3")]
    header, rows = table(cluster.kubectl("-n", ns, "get", "replicationcontrollers", "-o", "wide").stdout)
    assert header == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert (rows[0]["CONTAINERS"], rows[0]["IMAGES"], rows[0]["SELECTOR"]) == ("nginx", "nginx:1.25", "app=web")
    # events come from upstream's source component, with the ReplicaSet controller's texts
    names = {p["metadata"]["name"] for p in pods}
    evs = wait_for(lambda: [e for e in events_for(cluster, ns, "web") if e["reason"] == "SuccessfulCreate"]
                   if len(events_for(cluster, ns, "web")) >= 3 else None, 30, what="SuccessfulCreate events")
    assert {e["message"] for e in evs} == {f"Created pod: {n}" for n in names}
    assert {e["source"]["component"] for e in evs} == {"replication-controller"}


def test_rc_defaults_selector_labels_and_replicas(cluster: KubelingCluster, ns: str) -> None:
    api = core(cluster)
    body = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "dflt"},
            "spec": {"template": {"metadata": {"labels": {"app": "dflt", "tier": "fe"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    rc = api.create_namespaced_replication_controller(ns, body)
    assert rc.spec.replicas == 1
    assert rc.spec.selector == {"app": "dflt", "tier": "fe"}
    assert rc.metadata.labels == {"app": "dflt", "tier": "fe"}
    assert rc.metadata.generation == 1
    tspec = rc.spec.template.spec
    assert (tspec.restart_policy, tspec.dns_policy, tspec.scheduler_name) == ("Always", "ClusterFirst",
                                                                              "default-scheduler")
    assert tspec.termination_grace_period_seconds == 30
    assert tspec.containers[0].image_pull_policy == "Always"
    # explicit labels and selector are kept
    body["metadata"] = {"name": "dflt2", "labels": {"own": "x"}}
    body["spec"].update(selector={"app": "dflt", "tier": "fe"}, replicas=0)
    rc2 = api.create_namespaced_replication_controller(ns, body)
    assert rc2.metadata.labels == {"own": "x"} and rc2.spec.replicas == 0
    ready_pods(cluster, ns, "dflt", 1)


# ---- ownership ----------------------------------------------------------------------------------------

def test_rc_adopts_orphans_and_releases_pods_whose_labels_change(cluster: KubelingCluster, ns: str) -> None:
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
              "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "nginx", "image": "nginx"}]}}
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(orphan))
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("adopt", 2))
    pods = ready_pods(cluster, ns, "adopt", 2)
    rc = kget(cluster, ns, "rc", "adopt")
    assert "orphan" in {p["metadata"]["name"] for p in pods}
    adopted = kget(cluster, ns, "pod", "orphan")
    assert controller_ref(adopted) == {"apiVersion": "v1", "kind": "ReplicationController", "name": "adopt",
                                       "uid": rc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    # a label change releases the pod (ownerReference removed) and the RC replaces it
    cluster.kubectl("-n", ns, "label", "pod", "orphan", "app=gone", "--overwrite")
    wait_for(lambda: not (kget(cluster, ns, "pod", "orphan")["metadata"].get("ownerReferences")), 30,
             what="orphan released")
    pods = ready_pods(cluster, ns, "adopt", 2)
    assert "orphan" not in {p["metadata"]["name"] for p in pods}
    assert all(controller_ref(p)["uid"] == rc["metadata"]["uid"] for p in pods)
    # changing the RC's selector (mutable for RCs) releases its pods and adopts what now matches
    cluster.kubectl("-n", ns, "patch", "rc", "adopt", "--type=merge", "-p", json.dumps(
        {"spec": {"selector": {"app": "gone"}, "template": {"metadata": {"labels": {"app": "gone"}}}}}))
    wait_for(lambda: (controller_ref(kget(cluster, ns, "pod", "orphan")) or {}).get("uid") == rc["metadata"]["uid"],
             30, what="orphan re-adopted after selector change")
    wait_for(lambda: all(not p["metadata"].get("ownerReferences") for p in live_pods(cluster, ns, "adopt")), 30,
             what="old pods released")
    ready_pods(cluster, ns, "gone", 2)


# ---- scale ----------------------------------------------------------------------------------------------

def test_kubectl_scale_rc_and_scale_subresource(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("sc", 2))
    ready_pods(cluster, ns, "sc", 2)
    out = cluster.kubectl("-n", ns, "scale", "rc", "sc", "--replicas=4").stdout
    assert out.strip() == "replicationcontroller/sc scaled"
    ready_pods(cluster, ns, "sc", 4)
    rc = rc_synced(cluster, ns, "sc", 4)
    assert rc["metadata"]["generation"] == 2
    api = core(cluster)
    scale = api.read_namespaced_replication_controller_scale("sc", ns)
    assert (scale.kind, scale.api_version) == ("Scale", "autoscaling/v1")
    assert scale.spec.replicas == 4 and scale.status.replicas == 4 and scale.status.selector == "app=sc"
    api.patch_namespaced_replication_controller_scale("sc", ns, {"spec": {"replicas": 1}})
    wait_for(lambda: len(live_pods(cluster, ns, "sc")) == 1, 30, what="scaled down to 1")
    rc_synced(cluster, ns, "sc", 1)
    deleted = wait_for(lambda: [e for e in events_for(cluster, ns, "sc") if e["reason"] == "SuccessfulDelete"]
                       or None, 30, what="SuccessfulDelete events")
    assert all(e["message"].startswith("Deleted pod: sc-") for e in deleted)
    # negative replicas through the scale subresource are refused as upstream does
    with pytest.raises(k8s.ApiException) as ei:
        api.patch_namespaced_replication_controller_scale("sc", ns, {"spec": {"replicas": -1}})
    assert ei.value.status == 422
    # a field selector on status.replicas (upstream's RC field label)
    out = cluster.kubectl("-n", ns, "get", "rc", "--field-selector", "status.replicas=1", "-o", "name").stdout
    assert out.split() == ["replicationcontroller/sc"]


# ---- deletion -----------------------------------------------------------------------------------------

def test_kubectl_delete_rc_cascades_in_background(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("bg", 2))
    ready_pods(cluster, ns, "bg", 2)
    out = cluster.kubectl("-n", ns, "delete", "rc", "bg").stdout
    assert out.strip() == 'replicationcontroller "bg" deleted'
    wait_for(lambda: not kget(cluster, ns, "pods", "-l", "app=bg")["items"], 60, what="pods garbage-collected")


def test_delete_rc_orphan_keeps_pods(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("orph", 2))
    before = {p["metadata"]["name"] for p in ready_pods(cluster, ns, "orph", 2)}
    cluster.kubectl("-n", ns, "delete", "rc", "orph", "--cascade=orphan")
    wait_for(lambda: cluster.kubectl("-n", ns, "get", "rc", "orph", check=False).returncode != 0, 30,
             what="rc gone")
    wait_for(lambda: all(not p["metadata"].get("ownerReferences") for p in live_pods(cluster, ns, "orph")), 30,
             what="ownerReferences removed")
    time.sleep(1.0)
    assert {p["metadata"]["name"] for p in live_pods(cluster, ns, "orph")} == before


def test_api_delete_without_policy_orphans_for_core_v1(cluster: KubelingCluster, ns: str) -> None:
    """rcStrategy.DefaultGarbageCollectionPolicy is OrphanDependents for core/v1: a DELETE without
    propagationPolicy (the `kubernetes` client's default) adds the orphan finalizer."""
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("dflt-gc", 2))
    before = {p["metadata"]["name"] for p in ready_pods(cluster, ns, "dflt-gc", 2)}
    code, _, body = cluster.request("DELETE", f"/api/v1/namespaces/{ns}/replicationcontrollers/dflt-gc")
    assert code == 200
    obj = json.loads(body)
    assert obj["kind"] == "ReplicationController" and obj["metadata"]["finalizers"] == ["orphan"]
    assert obj["metadata"].get("deletionTimestamp")
    wait_for(lambda: cluster.kubectl("-n", ns, "get", "rc", "dflt-gc", check=False).returncode != 0, 30,
             what="rc gone")
    wait_for(lambda: all(not p["metadata"].get("ownerReferences") for p in live_pods(cluster, ns, "dflt-gc")), 30,
             what="ownerReferences removed")
    assert {p["metadata"]["name"] for p in live_pods(cluster, ns, "dflt-gc")} == before


# ---- kubectl describe / get all -------------------------------------------------------------------------

def test_describe_rc(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("desc", 2))
    ready_pods(cluster, ns, "desc", 2)
    rc_synced(cluster, ns, "desc", 2)
    wait_for(lambda: len(events_for(cluster, ns, "desc")) >= 2, 30, what="events")
    out = cluster.kubectl("-n", ns, "describe", "rc", "desc").stdout
    lines = out.splitlines()
    assert lines[0] == "Name:         desc"
    assert f"Namespace:    {ns}" in lines
    assert "Selector:     app=desc" in lines
    assert "Labels:       app=desc" in lines
    assert "Replicas:     2 current / 2 desired" in lines
    assert "Pods Status:  2 Running / 0 Waiting / 0 Succeeded / 0 Failed" in lines
    assert "    Image:         nginx:1.25" in lines
    ev = [line for line in lines if "SuccessfulCreate" in line]
    assert len(ev) == 2 and all("replication-controller  Created pod: desc-" in line for line in ev)


def test_get_all_includes_replicationcontrollers(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("allrc", 1))
    ready_pods(cluster, ns, "allrc", 1)
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "not-in-all"},
         "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}))
    names = cluster.kubectl("-n", ns, "get", "all", "-o", "name").stdout.split()
    assert "replicationcontroller/allrc" in names
    assert not any(n.startswith("podtemplate") for n in names)
    out = cluster.kubectl("-n", ns, "get", "all").stdout
    assert "replicationcontroller/allrc   1         1         1" in out


def test_discovery_and_explain(cluster: KubelingCluster) -> None:
    rl = cluster.get_json("/api/v1")
    by_name = {r["name"]: r for r in rl["resources"]}
    rc = by_name["replicationcontrollers"]
    assert rc["shortNames"] == ["rc"] and rc["categories"] == ["all"] and rc["namespaced"] is True
    assert {"replicationcontrollers/status", "replicationcontrollers/scale", "podtemplates"} <= set(by_name)
    scale = by_name["replicationcontrollers/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert "shortNames" not in by_name["podtemplates"] and "categories" not in by_name["podtemplates"]
    out = cluster.kubectl("explain", "rc.spec.selector").stdout
    assert out.splitlines()[:2] == ["KIND:       ReplicationController", "VERSION:    v1"]
    assert "FIELD: selector <map[string]string>" in out
    out = cluster.kubectl("explain", "podtemplate.template").stdout
    assert "FIELD: template <PodTemplateSpec>" in out


# ---- validation ------------------------------------------------------------------------------------------

def test_rc_validation_errors(cluster: KubelingCluster, ns: str) -> None:
    bad = rc_yaml("bad", 1).replace("    app: bad\n  template", "    app: other\n  template", 1)
    cp = cluster.kubectl("-n", ns, "create", "-f", "-", input=bad, check=False)
    assert cp.returncode != 0
    assert cp.stderr.strip() == (
        'The ReplicationController "bad" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"bad"}: `selector` does not match template `labels`')
    api = core(cluster)
    body = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "bad2"},
            "spec": {"replicas": -1, "minReadySeconds": -2,
                     "template": {"spec": {"restartPolicy": "OnFailure", "activeDeadlineSeconds": 5,
                                           "containers": [{"name": "c", "image": "nginx"}]}}}}
    with pytest.raises(k8s.ApiException) as ei:
        api.create_namespaced_replication_controller(ns, body)
    assert ei.value.status == 422
    st = json.loads(ei.value.body)
    assert st["reason"] == "Invalid" and st["details"]["kind"] == "ReplicationController"
    causes = [(c["field"], c["reason"], c["message"]) for c in st["details"]["causes"]]
    assert causes == [
        ("spec.minReadySeconds", "FieldValueInvalid", "Invalid value: -2: must be greater than or equal to 0"),
        ("spec.selector", "FieldValueRequired", "Required value"),
        ("spec.replicas", "FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.template.spec.restartPolicy", "FieldValueNotSupported",
         'Unsupported value: "OnFailure": supported values: "Always"'),
        ("spec.template.spec.activeDeadlineSeconds", "FieldValueForbidden",
         "Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"),
    ]
    # no template at all
    with pytest.raises(k8s.ApiException) as ei:
        api.create_namespaced_replication_controller(ns, {"metadata": {"name": "bad3"},
                                                          "spec": {"selector": {"a": "b"}}})
    causes = [(c["field"], c["message"]) for c in json.loads(ei.value.body)["details"]["causes"]]
    assert causes == [("spec.template", "Required value")]
    assert cluster.kubectl("-n", ns, "get", "rc", "-o", "name").stdout.strip() == ""


def test_rc_update_validation_repeats_spec_causes(cluster: KubelingCluster, ns: str) -> None:
    """rcStrategy.ValidateUpdate validates the spec twice: each cause appears twice, the message once."""
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("upd", 0))
    cp = cluster.kubectl("-n", ns, "patch", "rc", "upd", "--type=merge", "-p",
                         json.dumps({"spec": {"selector": {"app": "nomatch"}}}), check=False)
    assert cp.returncode != 0
    assert cp.stderr.strip() == (
        'The ReplicationController "upd" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"upd"}: `selector` does not match template `labels`')
    code, _, body = cluster.request("PATCH", f"/api/v1/namespaces/{ns}/replicationcontrollers/upd",
                                    json.dumps({"spec": {"replicas": -3}}).encode(),
                                    {"Content-Type": "application/merge-patch+json"})
    assert code == 422
    st = json.loads(body)
    assert [c["field"] for c in st["details"]["causes"]] == ["spec.replicas", "spec.replicas"]
    assert st["message"] == ('ReplicationController "upd" is invalid: spec.replicas: Invalid value: -3: '
                             'must be greater than or equal to 0')


# ---- status strategy -------------------------------------------------------------------------------------

def test_status_subresource_and_generation(cluster: KubelingCluster, ns: str) -> None:
    api = core(cluster)
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("stat", 0))
    rc = rc_synced(cluster, ns, "stat", 0)
    assert rc["metadata"]["generation"] == 1
    # status on the main resource is ignored; spec on /status is ignored
    rc["status"] = {"replicas": 7}
    rc["spec"]["replicas"] = 0
    cur = api.replace_namespaced_replication_controller("stat", ns, rc)
    assert cur.status.replicas == 0 and cur.metadata.generation == 1
    body = api.read_namespaced_replication_controller("stat", ns).to_dict()
    patched = api.patch_namespaced_replication_controller_status(
        "stat", ns, {"spec": {"replicas": 9}, "status": {"observedGeneration": body["metadata"]["generation"]}})
    assert patched.spec.replicas == 0 and patched.metadata.generation == 1
    with pytest.raises(k8s.ApiException) as ei:
        api.patch_namespaced_replication_controller_status("stat", ns, {"status": {"readyReplicas": 2}})
    st = json.loads(ei.value.body)
    assert [(c["field"], c["message"]) for c in st["details"]["causes"]] == [
        ("status.readyReplicas", "Invalid value: 2: cannot be greater than status.replicas")]
    # a spec change bumps the generation, a label change does not
    cluster.kubectl("-n", ns, "label", "rc", "stat", "x=y")
    assert kget(cluster, ns, "rc", "stat")["metadata"]["generation"] == 1
    cluster.kubectl("-n", ns, "scale", "rc", "stat", "--replicas=1")
    assert kget(cluster, ns, "rc", "stat")["metadata"]["generation"] == 2
    rc_synced(cluster, ns, "stat", 1)


def test_replica_failure_condition_from_quota(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "quota", "pods-one", "--hard=pods=1")
    wait_for(lambda: (kget(cluster, ns, "quota", "pods-one").get("status") or {}).get("hard"), 30,
             what="quota status")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("quota", 2))

    def failed() -> dict[str, Any] | None:
        conds = (kget(cluster, ns, "rc", "quota").get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "ReplicaFailure"), None)

    cond = wait_for(failed, 30, what="ReplicaFailure condition")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "is forbidden: exceeded quota: pods-one" in cond["message"]
    evs = wait_for(lambda: [e for e in events_for(cluster, ns, "quota") if e["reason"] == "FailedCreate"] or None,
                   30, what="FailedCreate event")
    assert evs[0]["type"] == "Warning" and evs[0]["message"].startswith("Error creating: pods \"quota-")
    # lifting the quota clears the condition
    cluster.kubectl("-n", ns, "delete", "quota", "pods-one")
    wait_for(lambda: failed() is None, 60, what="ReplicaFailure cleared")
    ready_pods(cluster, ns, "quota", 2)


# ---- disruption controller -------------------------------------------------------------------------------

def test_pdb_counts_rc_scale(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=rc_yaml("pdb", 3))
    ready_pods(cluster, ns, "pdb", 3)
    cluster.kubectl("-n", ns, "create", "pdb", "pdb", "--selector=app=pdb", "--max-unavailable=1")

    def status() -> dict[str, Any] | None:
        st = kget(cluster, ns, "pdb", "pdb").get("status") or {}
        return st if st.get("expectedPods") == 3 and st.get("currentHealthy") == 3 else None

    st = wait_for(status, 30, what="pdb status")
    assert (st["desiredHealthy"], st["disruptionsAllowed"]) == (2, 1)


# ---- PodTemplate ------------------------------------------------------------------------------------------

PT = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "pt"},
      "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}},
                   "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]}}}


def test_podtemplate_crud_and_printer(cluster: KubelingCluster, ns: str) -> None:
    out = cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(PT)).stdout
    assert out.strip() == "podtemplate/pt created"
    header, rows = table(cluster.kubectl("-n", ns, "get", "podtemplates").stdout)
    assert header == ["NAME", "CONTAINERS", "IMAGES", "POD LABELS"]
    assert [tuple(r.values()) for r in rows] == [("pt", "a,b", "nginx,busybox", "app=web,tier=fe")]
    header, _ = table(cluster.kubectl("-n", ns, "get", "podtemplates", "-o", "wide").stdout)
    assert header == ["NAME", "CONTAINERS", "IMAGES", "POD LABELS"]
    api = core(cluster)
    pt = api.read_namespaced_pod_template("pt", ns)
    assert pt.template.spec.restart_policy == "Always" and pt.template.spec.dns_policy == "ClusterFirst"
    assert pt.template.spec.containers[0].termination_message_path == "/dev/termination-log"
    assert pt.metadata.generation is None
    pt.template.metadata.labels = {"app": "web2"}
    pt = api.replace_namespaced_pod_template("pt", ns, pt)
    assert pt.template.metadata.labels == {"app": "web2"} and pt.metadata.generation is None
    cluster.kubectl("-n", ns, "patch", "podtemplate", "pt", "--type=merge", "-p",
                    json.dumps({"template": {"spec": {"containers": [{"name": "c", "image": "redis"}]}}}))
    header, rows = table(cluster.kubectl("-n", ns, "get", "podtemplate", "pt").stdout)
    assert [tuple(r.values()) for r in rows] == [("pt", "c", "redis", "app=web2")]
    assert [i.metadata.name for i in api.list_namespaced_pod_template(ns).items] == ["pt"]
    api.delete_namespaced_pod_template("pt", ns)
    assert api.list_namespaced_pod_template(ns).items == []


def test_podtemplate_validation(cluster: KubelingCluster, ns: str) -> None:
    bad = json.loads(json.dumps(PT))
    bad["metadata"]["name"] = "Bad_Name"
    bad["template"]["metadata"]["labels"] = {"-x": "y"}
    bad["template"]["spec"]["containers"][1]["name"] = "a"
    code, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/podtemplates", json.dumps(bad).encode(),
                                    {"Content-Type": "application/json"})
    assert code == 422
    st = json.loads(body)
    assert st["details"]["kind"] == "PodTemplate"
    fields = [c["field"] for c in st["details"]["causes"]]
    assert fields == ["metadata.name", "template.labels", "template.spec.containers[1].name"]
    assert st["details"]["causes"][2]["message"] == 'Duplicate value: "a"'


# ---- crash safety ------------------------------------------------------------------------------------------

def test_sigkill_mid_scale_up_converges_without_duplicates(make_cluster: Any) -> None:
    c = make_cluster("--pod-start-delay", "0.2")
    c.kubectl("create", "namespace", "crash")
    c.kubectl("-n", "crash", "apply", "-f", "-", input=rc_yaml("web", 30))
    wait_for(lambda: len(live_pods(c, "crash", "web")) >= 1, 30, what="first pods")
    c.kill()
    c.start()
    ready_pods(c, "crash", "web", 30)
    rc_synced(c, "crash", "web", 30)
    c.kubectl("-n", "crash", "scale", "rc", "web", "--replicas=10")
    time.sleep(0.3)
    c.kill()
    c.start()
    ready_pods(c, "crash", "web", 10)
    time.sleep(1.5)  # nothing more is created or deleted once converged
    pods = live_pods(c, "crash", "web")
    assert len(pods) == 10
    uid = kget(c, "crash", "rc", "web")["metadata"]["uid"]
    assert all(controller_ref(p)["uid"] == uid for p in pods)
    rc_synced(c, "crash", "web", 10)

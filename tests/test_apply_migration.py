"""Client-side apply -> server-side apply migration, driven by the real kubectl v1.32.

What upstream does (and so what these tests expect), from the v1.32 sources:

- `kubectl apply` (client-side) records every field of the created object, defaults included, for the
  Update manager "kubectl-client-side-apply" (the field manager runs after decode-time defaulting).
- `kubectl apply --server-side` sends the manifest as an apply patch for manager "kubectl". The server's
  structured-merge-diff compares the live object with the merge result: a conflict needs another manager
  owning the field AND a different value. Atomic values (RoleBinding.roleRef is `x-kubernetes-map-type:
  atomic`, `subjects` is `x-kubernetes-list-type: atomic`) are owned and compared as a whole, so a manifest
  that leaves `roleRef.apiGroup` or a User subject's `apiGroup` to defaulting differs from the live value.
  The server's lastAppliedManager lets "kubectl" take over such conflicts only where the
  last-applied-configuration annotation still equals the live object, which a defaulted field never does:
  upstream reports the conflict too. With explicit manifests nothing differs and there is no conflict.
  An apply that changes nothing gives the applier's entry no `time`.
- The server rewrites the last-applied annotation from the apply patch (lastAppliedUpdater, manager "kubectl").
- kubectl then applies the annotation alone as "kubectl-last-applied" (no change: no time), folds the
  "kubectl-client-side-apply" Update entry into its "kubectl" Apply entry (csaupgrade, a JSON patch of
  metadata.managedFields) and sends the apply patch again, which prunes what only the old client-side
  config owned; defaults that come back make that last apply a change (the entry gets a time).
- A later client-side apply is an Update: whatever it changes (at least the annotation) moves to
  "kubectl-client-side-apply"; entries left with nothing are dropped.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import KubelingCluster

ANN = "kubectl.kubernetes.io/last-applied-configuration"
ANN_ONLY = {"f:metadata": {"f:annotations": {f"f:{ANN}": {}}}}
ANN_NEW_MAP = {"f:metadata": {"f:annotations": {".": {}, f"f:{ANN}": {}}}}
RBAC = "rbac.authorization.k8s.io/v1"


def apply(cluster: KubelingCluster, doc: dict[str, Any], *flags: str, check: bool = True) -> Any:
    return cluster.kubectl("apply", *flags, "-f", "-", input=json.dumps(doc), check=check)


def get(cluster: KubelingCluster, doc: dict[str, Any]) -> dict[str, Any]:
    md = doc["metadata"]
    ns = ("-n", md["namespace"]) if md.get("namespace") else ()
    out = cluster.kubectl("get", doc["kind"].lower(), md["name"], *ns, "-o", "json", "--show-managed-fields")
    return json.loads(out.stdout)


def kubectl_entries(obj: dict[str, Any]) -> list[tuple[str, str, bool, dict[str, Any]]]:
    """(manager, operation, has time, fieldsV1) of kubectl's entries, in the stored order."""
    return [(e["manager"], e["operation"], "time" in e, e["fieldsV1"])
            for e in obj["metadata"].get("managedFields", []) if e["manager"].startswith("kubectl")]


def last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    raw = obj["metadata"]["annotations"][ANN]
    assert raw.endswith("\n")
    return json.loads(raw)


def rolebinding(ns: str, *, explicit: bool = True, subjects: list[dict[str, Any]] | None = None,
                kind: str = "RoleBinding") -> dict[str, Any]:
    role_ref: dict[str, Any] = {"kind": "ClusterRole", "name": "view"}
    if explicit:
        role_ref["apiGroup"] = "rbac.authorization.k8s.io"
    if subjects is None:
        subjects = [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]
        subjects.append({"kind": "User", "name": "alice"} if not explicit else
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"})
    md: dict[str, Any] = {"name": "rb"} if kind == "RoleBinding" else {"name": f"crb-{ns}"}
    if kind == "RoleBinding":
        md["namespace"] = ns
    return {"apiVersion": RBAC, "kind": kind, "metadata": md, "roleRef": role_ref, "subjects": subjects}


# ---- RoleBinding / ClusterRoleBinding ------------------------------------------------------------

def test_rolebinding_explicit_manifest_migrates_without_conflict(cluster: KubelingCluster, ns: str) -> None:
    rb = rolebinding(ns)
    assert apply(cluster, rb).stdout == "rolebinding.rbac.authorization.k8s.io/rb created\n"
    obj = get(cluster, rb)
    assert kubectl_entries(obj) == [("kubectl-client-side-apply", "Update", True,
                                     {**ANN_NEW_MAP, "f:roleRef": {}, "f:subjects": {}})]

    # Same values everywhere: no conflict, nothing changes (no time), the CSA entry is folded away.
    assert apply(cluster, rb, "--server-side").stdout == "rolebinding.rbac.authorization.k8s.io/rb serverside-applied\n"
    obj = get(cluster, rb)
    assert kubectl_entries(obj) == [("kubectl", "Apply", False, {"f:roleRef": {}, "f:subjects": {}}),
                                    ("kubectl-last-applied", "Apply", False, ANN_ONLY)]
    assert last_applied(obj) == rb  # rewritten from the apply patch: no "annotations": {} any more

    # A changed value kubectl now owns (forced or not, there is nobody to conflict with).
    changed = rolebinding(ns, subjects=rb["subjects"] + [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}])
    cp = apply(cluster, changed, "--server-side", "--force-conflicts")
    assert cp.stdout == "rolebinding.rbac.authorization.k8s.io/rb serverside-applied\n"
    obj = get(cluster, rb)
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, {"f:roleRef": {}, "f:subjects": {}})]
    assert obj["subjects"][-1]["name"] == "devs" and last_applied(obj) == changed

    # Client-side apply of the original: an Update that takes the annotation and the (atomic) subjects.
    assert apply(cluster, rb).stdout == "rolebinding.rbac.authorization.k8s.io/rb configured\n"
    obj = get(cluster, rb)
    assert kubectl_entries(obj) == [("kubectl", "Apply", True, {"f:roleRef": {}}),
                                    ("kubectl-client-side-apply", "Update", True, {**ANN_ONLY, "f:subjects": {}})]
    assert [s["name"] for s in obj["subjects"]] == ["default", "alice"]

    # And back to server-side: migrated again.
    assert apply(cluster, rb, "--server-side").stdout == "rolebinding.rbac.authorization.k8s.io/rb serverside-applied\n"
    obj = get(cluster, rb)
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, {"f:roleRef": {}, "f:subjects": {}})]


def test_rolebinding_relying_on_defaults_conflicts_as_upstream(cluster: KubelingCluster, ns: str) -> None:
    """roleRef.apiGroup and a User subject's apiGroup are defaulted: the atomic values differ from the
    manifest, and the last-applied annotation does not match the live object either."""
    rb = rolebinding(ns, explicit=False)
    assert apply(cluster, rb).stdout == "rolebinding.rbac.authorization.k8s.io/rb created\n"
    obj = get(cluster, rb)
    assert obj["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert obj["subjects"][1]["apiGroup"] == "rbac.authorization.k8s.io"
    before = obj["metadata"]["managedFields"]

    cp = apply(cluster, rb, "--server-side", check=False)
    assert cp.returncode == 1 and cp.stdout == ""
    assert cp.stderr.startswith(
        'error: Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using '
        f'{RBAC}:\n- .roleRef\n- .subjects\nPlease review the fields above')
    obj = get(cluster, rb)
    assert obj["metadata"]["managedFields"] == before  # nothing changed, nothing migrated

    cp = apply(cluster, rb, "--server-side", "--force-conflicts")
    assert cp.stdout == "rolebinding.rbac.authorization.k8s.io/rb serverside-applied\n"
    obj = get(cluster, rb)
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, {"f:roleRef": {}, "f:subjects": {}})]
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert obj["subjects"][1]["apiGroup"] == "rbac.authorization.k8s.io"  # defaulted again

    # kubectl owns both now: the same manifest applies cleanly without forcing.
    assert apply(cluster, rb, "--server-side").stdout == "rolebinding.rbac.authorization.k8s.io/rb serverside-applied\n"


def test_clusterrolebinding_migrates(cluster: KubelingCluster, ns: str) -> None:
    crb = rolebinding(ns, kind="ClusterRoleBinding")
    name = crb["metadata"]["name"]
    try:
        assert apply(cluster, crb).stdout == f"clusterrolebinding.rbac.authorization.k8s.io/{name} created\n"
        cp = apply(cluster, crb, "--server-side")
        assert cp.stdout == f"clusterrolebinding.rbac.authorization.k8s.io/{name} serverside-applied\n"
        obj = get(cluster, crb)
        assert kubectl_entries(obj) == [("kubectl", "Apply", False, {"f:roleRef": {}, "f:subjects": {}}),
                                        ("kubectl-last-applied", "Apply", False, ANN_ONLY)]
    finally:
        cluster.kubectl("delete", "clusterrolebinding", name, "--wait=false", check=False)


# ---- ConfigMap / Secret --------------------------------------------------------------------------

def test_configmap_full_cycle(cluster: KubelingCluster, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "cm", "namespace": ns, "labels": {"app": "x"}}, "data": {"a": "1", "b": "2"}}
    assert apply(cluster, cm).stdout == "configmap/cm created\n"
    obj = get(cluster, cm)
    assert kubectl_entries(obj) == [("kubectl-client-side-apply", "Update", True, {
        "f:data": {".": {}, "f:a": {}, "f:b": {}},
        "f:metadata": {"f:annotations": {".": {}, f"f:{ANN}": {}}, "f:labels": {".": {}, "f:app": {}}}})]
    owned = {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}

    assert apply(cluster, cm, "--server-side").stdout == "configmap/cm serverside-applied\n"
    obj = get(cluster, cm)
    assert kubectl_entries(obj) == [("kubectl", "Apply", False, owned),
                                    ("kubectl-last-applied", "Apply", False, ANN_ONLY)]

    cm3 = json.loads(json.dumps(cm))
    cm3["data"]["b"] = "3"
    assert apply(cluster, cm3, "--server-side", "--force-conflicts").stdout == "configmap/cm serverside-applied\n"
    obj = get(cluster, cm)
    assert obj["data"] == {"a": "1", "b": "3"} and last_applied(obj) == cm3
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, owned)]

    # Client-side apply of the original value: b and the annotation move to the Update manager.
    assert apply(cluster, cm).stdout == "configmap/cm configured\n"
    obj = get(cluster, cm)
    assert obj["data"] == {"a": "1", "b": "2"}
    assert kubectl_entries(obj) == [
        ("kubectl", "Apply", True, {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
        ("kubectl-client-side-apply", "Update", True, {"f:data": {"f:b": {}}, **ANN_ONLY})]
    # Unchanged client-side apply: kubectl's patch is empty.
    assert apply(cluster, cm).stdout == "configmap/cm unchanged\n"

    assert apply(cluster, cm, "--server-side").stdout == "configmap/cm serverside-applied\n"
    obj = get(cluster, cm)
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, owned)]


def test_secret_with_string_data_migrates(cluster: KubelingCluster, ns: str) -> None:
    sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": ns}, "type": "Opaque",
           "data": {"pw": "cGFzcw=="}, "stringData": {"user": "admin"}}
    assert apply(cluster, sec).stdout == "secret/s created\n"
    obj = get(cluster, sec)
    # stringData is folded into data before the field manager sees the object
    assert kubectl_entries(obj) == [("kubectl-client-side-apply", "Update", True, {
        "f:data": {".": {}, "f:pw": {}, "f:user": {}}, **ANN_NEW_MAP, "f:type": {}})]

    assert apply(cluster, sec, "--server-side").stdout == "secret/s serverside-applied\n"
    obj = get(cluster, sec)
    # the merge adds stringData (a change, so a time); it is folded into data again on the way to storage
    assert kubectl_entries(obj) == [
        ("kubectl-last-applied", "Apply", False, ANN_ONLY),
        ("kubectl", "Apply", True, {"f:data": {"f:pw": {}}, "f:stringData": {"f:user": {}}, "f:type": {}})]
    assert obj["data"] == {"pw": "cGFzcw==", "user": "YWRtaW4="} and "stringData" not in obj


# ---- Deployment / DaemonSet ----------------------------------------------------------------------

def _workload(kind: str, ns: str, image: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "w"}},
        "template": {"metadata": {"labels": {"app": "w"}},
                     "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]}}}
    if kind == "Deployment":
        spec["replicas"] = 1
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w", "namespace": ns}, "spec": spec}


CONTAINER_CSA = {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                 "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {
                     ".": {}, "f:containerPort": {}, "f:protocol": {}}},
                 "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}
POD_SPEC_CSA = {"f:containers": {'k:{"name":"c"}': CONTAINER_CSA}, "f:dnsPolicy": {}, "f:restartPolicy": {},
                "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}
TEMPLATE_APPLY = {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {'k:{"name":"c"}': {
    ".": {}, "f:image": {}, "f:name": {},
    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}
EXPECTED_CSA = {
    "Deployment": {**ANN_NEW_MAP, "f:spec": {
        "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
        "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": POD_SPEC_CSA}}},
    # As on real clusters: the template-generation annotation is recorded for the creator.
    "DaemonSet": {"f:metadata": {"f:annotations": {".": {}, "f:deprecated.daemonset.template.generation": {},
                                                   f"f:{ANN}": {}}},
                  "f:spec": {"f:revisionHistoryLimit": {}, "f:selector": {},
                             "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": POD_SPEC_CSA},
                             "f:updateStrategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                                                  "f:type": {}}}},
}


@pytest.mark.parametrize("kind", ["Deployment", "DaemonSet"])
def test_workload_full_cycle(cluster: KubelingCluster, ns: str, kind: str) -> None:
    res = f"{kind.lower()}.apps/w"
    w = _workload(kind, ns, "nginx:1.25")
    assert apply(cluster, w).stdout == f"{res} created\n"
    obj = get(cluster, w)
    assert kubectl_entries(obj) == [("kubectl-client-side-apply", "Update", True, EXPECTED_CSA[kind])]

    # The re-sent apply prunes the defaults only the client-side config owned; they are defaulted again,
    # and that change gives kubectl's entry a time.
    applied = {"f:spec": {**({"f:replicas": {}} if kind == "Deployment" else {}), "f:selector": {},
                          "f:template": TEMPLATE_APPLY}}
    assert apply(cluster, w, "--server-side").stdout == f"{res} serverside-applied\n"
    obj = get(cluster, w)
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, applied)]
    c = obj["spec"]["template"]["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent" and c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert obj["spec"]["revisionHistoryLimit"] == 10

    w2 = _workload(kind, ns, "nginx:1.26")
    assert apply(cluster, w2, "--server-side", "--force-conflicts").stdout == f"{res} serverside-applied\n"
    obj = get(cluster, w)
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, applied)]

    # Client-side apply of the first image: the Update manager takes the image and the annotation.
    assert apply(cluster, w).stdout == f"{res} configured\n"
    obj = get(cluster, w)
    without_image = json.loads(json.dumps(applied))
    del without_image["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']["f:image"]
    assert kubectl_entries(obj) == [
        ("kubectl", "Apply", True, without_image),
        ("kubectl-client-side-apply", "Update", True,
         {**ANN_ONLY, "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"c"}': {"f:image": {}}}}}}})]

    assert apply(cluster, w, "--server-side").stdout == f"{res} serverside-applied\n"
    obj = get(cluster, w)
    assert kubectl_entries(obj) == [("kubectl-last-applied", "Apply", False, ANN_ONLY),
                                    ("kubectl", "Apply", True, applied)]
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"

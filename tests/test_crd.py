"""CustomResourceDefinitions and custom resources, driven by the real kubectl and the kubernetes client."""
from __future__ import annotations

import json
import sys
import threading
import uuid
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A kubeling of this module's own: the CRDs made here never show in the session cluster's discovery."""
    c = KubelingCluster(str(tmp_path_factory.mktemp("kubeling-crd")), name="crd")
    c.start()
    yield c
    c.stop()


def _group() -> str:
    return f"g{uuid.uuid4().hex[:8]}.example.com"


def crontab_crd(group: str, scope: str = "Namespaced") -> dict[str, Any]:
    """The CronTab example of the Kubernetes docs, with status+scale subresources and printer columns."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{group}"},
        "spec": {
            "group": group, "scope": scope,
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"],
                      "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                          "statusReplicasPath": ".status.replicas",
                                                          "labelSelectorPath": ".status.labelSelector"}},
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Image", "type": "string", "priority": 1, "jsonPath": ".spec.image"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "cronSpec": {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
                        "image": {"type": "string", "maxLength": 40},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "mode": {"type": "string", "enum": ["Fast", "Slow"]},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                                  "x-kubernetes-list-map-keys": ["name"],
                                  "items": {"type": "object", "required": ["name"],
                                            "properties": {"name": {"type": "string"},
                                                           "port": {"type": "integer"}}}}}},
                    "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                                "labelSelector": {"type": "string"}}}}}},
            }],
        },
    }


def _established(cluster: Any, name: str) -> bool:
    cp = cluster.kubectl("get", "crd", name, "-o", "json", check=False)
    if cp.returncode != 0:
        return False
    conds = {c["type"]: c for c in (json.loads(cp.stdout).get("status") or {}).get("conditions") or []}
    return conds.get("Established", {}).get("status") == "True"


@pytest.fixture
def crontabs(cluster: Any) -> Any:
    group = _group()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crontab_crd(group)))
    wait_for(lambda: _established(cluster, f"crontabs.{group}"), what="CRD Established")
    yield group
    cluster.kubectl("delete", "crd", f"crontabs.{group}", "--wait=false", check=False)


def _cr(group: str, name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": name},
                       "spec": {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image", **spec}})


def test_crd_status_defaults_and_printer(cluster: Any, crontabs: str) -> None:
    group = crontabs
    crd = json.loads(cluster.kubectl("get", "crd", f"crontabs.{group}", "-o", "json").stdout)
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["spec"]["names"]["listKind"] == "CronTabList"
    st = crd["status"]
    assert st["storedVersions"] == ["v1"]
    assert st["acceptedNames"]["kind"] == "CronTab" and st["acceptedNames"]["shortNames"] == ["ct"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["NamesAccepted"]["status"] == "True" and conds["NamesAccepted"]["message"] == "no conflicts found"
    assert conds["Established"]["reason"] == "InitialNamesAccepted"
    assert conds["Established"]["message"] == "the initial names have been accepted"
    cols, rows = table(cluster.kubectl("get", "crd", f"crontabs.{group}").stdout)
    assert cols == ["NAME", "CREATED AT"] and rows[0]["NAME"] == f"crontabs.{group}"
    out = cluster.kubectl("api-resources", f"--api-group={group}").stdout
    assert "crontabs" in out and "ct" in out and "CronTab" in out


def test_crd_validation_errors(cluster: Any) -> None:
    group = _group()
    bad = crontab_crd(group)
    bad["metadata"]["name"] = f"wrong.{group}"
    cp = cluster.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert cp.returncode != 0
    assert 'metadata.name: Invalid value: "wrong.' in cp.stderr
    assert 'must be spec.names.plural+"."+spec.group' in cp.stderr
    two = crontab_crd(group)
    v2 = dict(two["spec"]["versions"][0], name="v2")
    two["spec"]["versions"].append(v2)
    cp = cluster.kubectl("apply", "-f", "-", input=json.dumps(two), check=False)
    assert "must have exactly one version marked as storage version" in cp.stderr
    noschema = crontab_crd(group)
    del noschema["spec"]["versions"][0]["schema"]
    cp = cluster.kubectl("apply", "-f", "-", input=json.dumps(noschema), check=False)
    assert "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required" in cp.stderr
    untyped = crontab_crd(group)
    untyped["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["x"] = {}
    cp = cluster.kubectl("apply", "-f", "-", input=json.dumps(untyped), check=False)
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type: Required value: "
            "must not be empty for specified object fields") in cp.stderr
    nodot = crontab_crd("example")
    nodot["metadata"]["name"] = "crontabs.example"
    cp = cluster.kubectl("apply", "-f", "-", input=json.dumps(nodot), check=False)
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in cp.stderr


def test_cr_crud_columns_explain(cluster: Any, ns: str, crontabs: str) -> None:
    group = crontabs
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=_cr(group, "my-new-cron-object"))
    cols, rows = table(cluster.kubectl("get", f"crontabs.{group}", "-n", ns).stdout)
    assert cols == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert rows[0]["NAME"] == "my-new-cron-object" and rows[0]["SPEC"] == "* * * * */5"
    assert rows[0]["REPLICAS"] == "1"  # defaulted from the schema
    assert rows[0]["AGE"].endswith("s")
    cols, rows = table(cluster.kubectl("get", f"crontab.{group}", "-n", ns, "-o", "wide").stdout)
    assert cols == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"] and rows[0]["IMAGE"] == "my-awesome-cron-image"
    obj = json.loads(cluster.kubectl("get", f"ct.{group}", "my-new-cron-object", "-n", ns, "-o", "json").stdout)
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["uid"]
    out = cluster.kubectl("explain", f"crontabs.{group}.spec").stdout
    assert "cronSpec" in out and "replicas" in out
    cluster.kubectl("patch", f"crontab.{group}", "my-new-cron-object", "-n", ns, "--type=merge",
                    "-p", '{"spec":{"image":"other"}}')
    obj = json.loads(cluster.kubectl("get", f"ct.{group}", "my-new-cron-object", "-n", ns, "-o", "json").stdout)
    assert obj["metadata"]["generation"] == 2 and obj["spec"]["image"] == "other"
    cluster.kubectl("patch", f"crontab.{group}", "my-new-cron-object", "-n", ns, "--type=json",
                    "-p", '[{"op":"replace","path":"/spec/image","value":"third"}]')
    cp = cluster.kubectl("patch", f"crontab.{group}", "my-new-cron-object", "-n", ns, "--type=strategic",
                         "-p", '{"spec":{"image":"x"}}', check=False)
    assert cp.returncode != 0 and "UnsupportedMediaType" not in cp.stdout
    assert "application/strategic-merge-patch+json is not supported" in cp.stderr
    cluster.kubectl("delete", f"crontab.{group}", "my-new-cron-object", "-n", ns)
    assert "No resources found" in cluster.kubectl("get", f"crontabs.{group}", "-n", ns).stderr


def test_cr_schema_validation(cluster: Any, ns: str, crontabs: str) -> None:
    group = crontabs
    body = {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "bad"},
            "spec": {"cronSpec": "nope", "replicas": "three", "mode": "Medium", "ports": [{"port": 1}],
                     "image": "x" * 41}}
    cp = cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(body), check=False)
    assert cp.returncode != 0
    err = cp.stderr
    assert 'The CronTab "bad" is invalid' in err
    assert ('spec.replicas: Invalid value: "three": spec.replicas in body must be of type integer: "string"'
            in err)
    assert 'spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow"' in err
    assert "spec.ports[0].name: Required value" in err
    assert "spec.image: Too long: may not be more than 40 bytes" in err
    assert "spec.cronSpec in body should match" in err
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.CustomObjectsApi(cluster.api_client())
    with pytest.raises(ApiException) as ei:
        api.create_namespaced_custom_object(group, "v1", ns, "crontabs", {
            "apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "big"}, "spec": {"replicas": 11}})
    assert ei.value.status == 422
    st = json.loads(ei.value.body)
    assert st["reason"] == "Invalid"
    assert st["details"]["causes"][0]["field"] == "spec.replicas"
    assert "spec.replicas in body should be less than or equal to 10" in st["details"]["causes"][0]["message"]


def test_cr_pruning_defaulting_field_validation(cluster: Any, ns: str, crontabs: str) -> None:
    group = crontabs
    body = {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "unk"},
            "spec": {"cronSpec": "* * * * *", "foo": "bar", "extra": {"any": "thing"}}, "bogus": 1}
    cp = cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(body), check=False)
    assert cp.returncode != 0
    assert 'strict decoding error: unknown field "bogus", unknown field "spec.foo"' in cp.stderr
    cp = cluster.kubectl("apply", "-n", ns, "--validate=warn", "-f", "-", input=json.dumps(body))
    assert 'unknown field "spec.foo"' in cp.stderr
    obj = json.loads(cluster.kubectl("get", f"crontab.{group}", "unk", "-n", ns, "-o", "json").stdout)
    assert obj["spec"] == {"cronSpec": "* * * * *", "extra": {"any": "thing"}, "replicas": 1}
    assert "bogus" not in obj
    # Ignore prunes silently (the Python client sends no fieldValidation).
    from kubernetes import client

    api = client.CustomObjectsApi(cluster.api_client())
    body["metadata"]["name"] = "unk2"
    got = api.create_namespaced_custom_object(group, "v1", ns, "crontabs", body)
    assert "foo" not in got["spec"] and got["spec"]["replicas"] == 1


def test_cr_status_and_scale_subresources(cluster: Any, ns: str, crontabs: str) -> None:
    group = crontabs
    from kubernetes import client

    api = client.CustomObjectsApi(cluster.api_client())
    obj = api.create_namespaced_custom_object(group, "v1", ns, "crontabs", json.loads(
        _cr(group, "s", replicas=2)) | {"status": {"replicas": 5}})
    assert "status" not in obj  # reset on create: the status subresource owns it
    obj["status"] = {"replicas": 2, "labelSelector": "app=cron"}
    obj["spec"]["image"] = "ignored-by-status"
    st = api.replace_namespaced_custom_object_status(group, "v1", ns, "crontabs", "s", obj)
    assert st["status"]["replicas"] == 2 and st["spec"]["image"] == "my-awesome-cron-image"
    assert st["metadata"]["generation"] == 1
    obj = api.get_namespaced_custom_object(group, "v1", ns, "crontabs", "s")
    obj["status"] = {"replicas": 9}
    obj["spec"]["image"] = "new"
    upd = api.replace_namespaced_custom_object(group, "v1", ns, "crontabs", "s", obj)
    assert upd["status"]["replicas"] == 2 and upd["metadata"]["generation"] == 2  # status kept, spec counted
    cluster.kubectl("scale", f"crontab.{group}/s", "-n", ns, "--replicas=3")
    sc = api.get_namespaced_custom_object_scale(group, "v1", ns, "crontabs", "s")
    assert sc["spec"]["replicas"] == 3 and sc["status"] == {"replicas": 2, "selector": "app=cron"}
    obj = api.get_namespaced_custom_object(group, "v1", ns, "crontabs", "s")
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["generation"] == 3


def test_cr_watch_selectors_and_finalizers(cluster: Any, ns: str, crontabs: str) -> None:
    group = crontabs
    from kubernetes import client, watch

    api = client.CustomObjectsApi(cluster.api_client())
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def run() -> None:
        for ev in w.stream(api.list_namespaced_custom_object, group, "v1", ns, "crontabs", timeout_seconds=20):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    body = json.loads(_cr(group, "w"))
    body["metadata"] = {"generateName": "w-", "labels": {"app": "x"}, "finalizers": ["example.com/keep"]}
    created = api.create_namespaced_custom_object(group, "v1", ns, "crontabs", body)
    name = created["metadata"]["name"]
    assert name.startswith("w-")
    lst = api.list_namespaced_custom_object(group, "v1", ns, "crontabs", label_selector="app=x",
                                            field_selector=f"metadata.name={name}")
    assert [i["metadata"]["name"] for i in lst["items"]] == [name]
    api.delete_namespaced_custom_object(group, "v1", ns, "crontabs", name)
    obj = api.get_namespaced_custom_object(group, "v1", ns, "crontabs", name)
    assert obj["metadata"]["deletionTimestamp"]
    api.patch_namespaced_custom_object(group, "v1", ns, "crontabs", name, {"metadata": {"finalizers": None}})
    t.join(25)
    assert ("ADDED", name) in seen and ("DELETED", name) in seen


def test_cr_server_side_apply_list_map(cluster: Any, ns: str, crontabs: str) -> None:
    group = crontabs
    a = {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "ssa"},
         "spec": {"cronSpec": "* * * * *", "ports": [{"name": "a", "port": 1}]}}
    cluster.kubectl("apply", "--server-side", "--field-manager=one", "-n", ns, "-f", "-", input=json.dumps(a))
    b = {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "ssa"},
         "spec": {"ports": [{"name": "b", "port": 2}]}}
    cluster.kubectl("apply", "--server-side", "--field-manager=two", "-n", ns, "-f", "-", input=json.dumps(b))
    obj = json.loads(cluster.kubectl("get", f"crontab.{group}", "ssa", "-n", ns, "-o", "json",
                                     "--show-managed-fields").stdout)
    assert sorted(p["name"] for p in obj["spec"]["ports"]) == ["a", "b"]  # merged by the list-map key
    assert {m["manager"] for m in obj["metadata"]["managedFields"]} == {"one", "two"}


def test_delete_crd_removes_crs(cluster: Any, ns: str) -> None:
    group = _group()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crontab_crd(group)))
    wait_for(lambda: _established(cluster, f"crontabs.{group}"), what="CRD Established")
    for i in range(3):
        cluster.kubectl("apply", "-n", ns, "-f", "-", input=_cr(group, f"c{i}"))
    cluster.kubectl("delete", "crd", f"crontabs.{group}", timeout=60)
    assert cluster.kubectl("get", "crd", f"crontabs.{group}", check=False).returncode != 0
    code, _, _ = cluster.request("GET", f"/apis/{group}/v1/namespaces/{ns}/crontabs")
    assert code == 404
    # A new CRD of the same name starts empty.
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crontab_crd(group)))
    wait_for(lambda: _established(cluster, f"crontabs.{group}"), what="CRD Established again")
    wait_for(lambda: "No resources found" in cluster.kubectl("get", f"crontabs.{group}", "-n", ns).stderr,
             what="CRs listed again")
    cluster.kubectl("delete", "crd", f"crontabs.{group}", timeout=60)


def test_namespace_deletion_removes_crs(cluster: Any, crontabs: str) -> None:
    group = crontabs
    name = "t-" + uuid.uuid4().hex[:10]
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("apply", "-n", name, "-f", "-", input=_cr(group, "gone"))
    cluster.kubectl("delete", "namespace", name, timeout=90)
    code, _, _ = cluster.request("GET", f"/apis/{group}/v1/namespaces/{name}/crontabs/gone")
    assert code == 404


def test_cluster_scoped_crd(cluster: Any) -> None:
    group = _group()
    crd = crontab_crd(group, scope="Cluster")
    crd["spec"]["names"]["listKind"] = "CronTabCollection"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crd))
    wait_for(lambda: _established(cluster, f"crontabs.{group}"), what="CRD Established")
    cluster.kubectl("apply", "-f", "-", input=_cr(group, "global"))
    obj = json.loads(cluster.kubectl("get", f"crontab.{group}", "global", "-o", "json").stdout)
    assert "namespace" not in obj["metadata"]
    lst = cluster.get_json(f"/apis/{group}/v1/crontabs")
    assert (lst["kind"], [i["metadata"]["name"] for i in lst["items"]]) == ("CronTabCollection", ["global"])
    from kubernetes import client

    api = client.CustomObjectsApi(cluster.api_client())
    got = api.get_cluster_custom_object(group, "v1", "crontabs", "global")
    assert got["spec"]["replicas"] == 1
    cluster.kubectl("delete", "crd", f"crontabs.{group}", timeout=60)


def test_crd_with_kubernetes_client_and_discovery(cluster: Any) -> None:
    from kubernetes import client, dynamic

    group = _group()
    ext = client.ApiextensionsV1Api(cluster.api_client())
    ext.create_custom_resource_definition(crontab_crd(group))
    wait_for(lambda: _established(cluster, f"crontabs.{group}"), what="CRD Established")
    got = ext.read_custom_resource_definition(f"crontabs.{group}")
    assert got.status.accepted_names.kind == "CronTab"
    dyn = dynamic.DynamicClient(cluster.api_client())
    res = dyn.resources.get(api_version=f"{group}/v1", kind="CronTab")
    assert res.namespaced and res.name == "crontabs"
    rl = cluster.get_json(f"/apis/{group}/v1")
    names = {r["name"] for r in rl["resources"]}
    assert names == {"crontabs", "crontabs/status", "crontabs/scale"}
    doc = cluster.get_json(f"/openapi/v3/apis/{group}/v1")
    assert any(k.endswith(".v1.CronTab") for k in doc["components"]["schemas"])
    ext.delete_custom_resource_definition(f"crontabs.{group}")
    wait_for(lambda: cluster.request("GET", f"/apis/{group}/v1")[0] == 404, what="group gone from discovery")


def test_restart_keeps_crds_and_crs(make_cluster: Any) -> None:
    c = make_cluster()
    group = _group()
    c.kubectl("apply", "-f", "-", input=json.dumps(crontab_crd(group)))
    wait_for(lambda: _established(c, f"crontabs.{group}"), what="CRD Established")
    c.kubectl("apply", "-f", "-", input=_cr(group, "survivor"))
    c.kill()
    c.start()
    cols, rows = table(c.kubectl("get", f"crontabs.{group}").stdout)
    assert rows[0]["NAME"] == "survivor" and "SPEC" in cols


def two_version_crd(group: str, strategy: str = "None") -> dict[str, Any]:
    """v1 (storage) and v1beta1 (served, deprecated) with the same schema; v1alpha1 not served."""
    sch = {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": sch},
                                 {"name": "v1beta1", "served": True, "storage": False, "deprecated": True,
                                  "schema": sch},
                                 {"name": "v1alpha1", "served": False, "storage": False, "schema": sch}]}}
    if strategy == "Webhook":
        crd["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "conv", "namespace": "default", "path": "/convert"}}}}
    return crd


def test_multi_version_conversion_none(cluster: Any, ns: str) -> None:
    from kubernetes import client, watch

    group = _group()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(two_version_crd(group)))
    wait_for(lambda: _established(cluster, f"widgets.{group}"), what="CRD Established")
    api = client.CustomObjectsApi(cluster.api_client())
    # written through the deprecated version: stored as v1, read back as either version
    cp = cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(
        {"apiVersion": f"{group}/v1beta1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}))
    assert f"Warning: {group}/v1beta1 Widget is deprecated; use {group}/v1 Widget" in cp.stderr
    v1 = api.get_namespaced_custom_object(group, "v1", ns, "widgets", "a")
    beta = api.get_namespaced_custom_object(group, "v1beta1", ns, "widgets", "a")
    assert v1["apiVersion"] == f"{group}/v1" and beta["apiVersion"] == f"{group}/v1beta1"
    assert v1["metadata"]["resourceVersion"] == beta["metadata"]["resourceVersion"]
    lst = api.list_namespaced_custom_object(group, "v1beta1", ns, "widgets")
    assert lst["apiVersion"] == f"{group}/v1beta1"
    assert [i["apiVersion"] for i in lst["items"]] == [f"{group}/v1beta1"]
    out = json.loads(cluster.kubectl("get", f"widgets.v1beta1.{group}", "-n", ns, "-o", "json").stdout)
    assert out["items"][0]["apiVersion"] == f"{group}/v1beta1"
    patched = api.patch_namespaced_custom_object(group, "v1beta1", ns, "widgets", "a", {"spec": {"size": 2}})
    assert patched["apiVersion"] == f"{group}/v1beta1" and patched["spec"]["size"] == 2
    status, _, _ = cluster.request("GET", f"/apis/{group}/v1alpha1/namespaces/{ns}/widgets/a")
    assert status == 404
    status, headers, _ = cluster.request("GET", f"/apis/{group}/v1beta1/namespaces/{ns}/widgets/a")
    assert status == 200 and "is deprecated" in headers.get("Warning", "")
    crd = json.loads(cluster.kubectl("get", "crd", f"widgets.{group}", "-o", "json").stdout)
    assert crd["status"]["storedVersions"] == ["v1"]
    # a watch through each version sees its own apiVersion
    for version in ("v1beta1", "v1"):
        w = watch.Watch()
        for ev in w.stream(api.list_namespaced_custom_object, group, version, ns, "widgets", timeout_seconds=5):
            assert ev["object"]["apiVersion"] == f"{group}/{version}"
            w.stop()
    # the storage version moves to v1beta1: recorded in storedVersions; old objects still read as either version
    cluster.kubectl("patch", "crd", f"widgets.{group}", "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/versions/0/storage", "value": False},
        {"op": "replace", "path": "/spec/versions/1/storage", "value": True}]))
    wait_for(lambda: json.loads(cluster.kubectl("get", "crd", f"widgets.{group}", "-o", "json").stdout)[
        "status"]["storedVersions"] == ["v1", "v1beta1"], what="storedVersions updated")
    assert api.get_namespaced_custom_object(group, "v1", ns, "widgets", "a")["apiVersion"] == f"{group}/v1"
    created = api.create_namespaced_custom_object(group, "v1", ns, "widgets", {
        "apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "b"}, "spec": {"size": 3}})
    assert created["apiVersion"] == f"{group}/v1"
    api.delete_namespaced_custom_object(group, "v1beta1", ns, "widgets", "a")
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


def test_webhook_conversion_unreachable(cluster: Any, ns: str) -> None:
    group = _group()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(two_version_crd(group, "Webhook")))
    wait_for(lambda: _established(cluster, f"widgets.{group}"), what="CRD Established")
    body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(body))  # the storage version: no conversion
    cp = cluster.kubectl("get", f"widgets.v1beta1.{group}", "-n", ns, "a", check=False)
    assert cp.returncode != 0
    assert (f"conversion webhook for {group}/v1, Kind=Widget failed: Post "
            f'"https://conv.default.svc:443/convert?timeout=30s"') in cp.stderr
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


# ---- garbage collection of custom resources -----------------------------------------------------------


def _owner_ref(obj: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
           "uid": obj["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def _exists(c: Any, *args: str) -> bool:
    return c.kubectl("get", *args, "-o", "name", check=False).returncode == 0


def _create_json(c: Any, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(c.kubectl("create", "-n", ns, "-o", "json", "-f", "-", input=json.dumps(body)).stdout)


def _widget(group: str, name: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if owners:
        md["ownerReferences"] = owners
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": md, "spec": {"size": 1}}


def _pod(name: str, owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "ownerReferences": owners},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx"}]}}


def _widgets_crd(c: Any) -> str:
    group = _group()
    c.kubectl("apply", "-f", "-", input=json.dumps(two_version_crd(group)))
    wait_for(lambda: _established(c, f"widgets.{group}"), what="CRD Established")
    return group


@pytest.mark.parametrize("cascade", ["background", "foreground"])
def test_gc_collects_crs_owned_by_configmap(cluster: Any, ns: str, cascade: str) -> None:
    group = _widgets_crd(cluster)  # a CRD created while the collector runs
    cm = _create_json(cluster, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    _create_json(cluster, ns, _widget(group, "dep", [_owner_ref(cm, block=True)]))
    # an owner reference through the other served version names the same owner
    w = _create_json(cluster, ns, _widget(group, "parent"))
    beta_ref = dict(_owner_ref(w), apiVersion=f"{group}/v1beta1")
    _create_json(cluster, ns, _widget(group, "child", [beta_ref]))
    cluster.kubectl("delete", "configmap", "owner", "-n", ns, f"--cascade={cascade}", "--wait=false")
    wait_for(lambda: not _exists(cluster, f"widgets.{group}", "dep", "-n", ns), what="dependent CR collected")
    wait_for(lambda: not _exists(cluster, "configmap", "owner", "-n", ns), what="owner gone")
    assert _exists(cluster, f"widgets.{group}", "child", "-n", ns)  # its owner exists
    cluster.kubectl("delete", f"widgets.{group}", "parent", "-n", ns, "--wait=false")
    wait_for(lambda: not _exists(cluster, f"widgets.{group}", "child", "-n", ns), what="child of parent collected")


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_gc_pods_owned_by_cr(cluster: Any, ns: str, cascade: str) -> None:
    group = _widgets_crd(cluster)
    owner = _create_json(cluster, ns, _widget(group, "owner"))
    _create_json(cluster, ns, _pod("p", [_owner_ref(owner, block=True)]))
    if cascade == "foreground":
        # a finalizer on the dependent keeps the owner waiting in foreground deletion
        cluster.kubectl("patch", "pod", "p", "-n", ns, "--type=merge", "-p",
                        json.dumps({"metadata": {"finalizers": ["example.com/hold"]}}))
    cluster.kubectl("delete", f"widgets.{group}", "owner", "-n", ns, f"--cascade={cascade}", "--wait=false")
    if cascade == "orphan":
        wait_for(lambda: not _exists(cluster, f"widgets.{group}", "owner", "-n", ns), what="owner gone")
        pod = json.loads(cluster.kubectl("get", "pod", "p", "-n", ns, "-o", "json").stdout)
        assert not pod["metadata"].get("ownerReferences")
        return
    if cascade == "foreground":
        def waiting() -> bool:
            o = json.loads(cluster.kubectl("get", f"widgets.{group}", "owner", "-n", ns, "-o", "json").stdout)
            p = json.loads(cluster.kubectl("get", "pod", "p", "-n", ns, "-o", "json").stdout)
            return "foregroundDeletion" in (o["metadata"].get("finalizers") or []) and bool(
                p["metadata"].get("deletionTimestamp"))

        wait_for(waiting, what="owner waits for its pod")
        cluster.kubectl("patch", "pod", "p", "-n", ns, "--type=merge", "-p",
                        json.dumps({"metadata": {"finalizers": None}}))
    wait_for(lambda: not _exists(cluster, "pod", "p", "-n", ns), what="pod collected")
    wait_for(lambda: not _exists(cluster, f"widgets.{group}", "owner", "-n", ns), what="owner gone")


class _ApiServerOnly(KubelingCluster):
    """`kubeling apiserver` alone (memory storage): the controllers run in a process of their own."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "kubeling", "apiserver", "--storage", "memory", "--data-dir", self.data_dir,
                "--port", str(self.port), "--kubeconfig", self.kubeconfig, "--quiet"]


def test_separate_controller_manager_collects_crs(tmp_path: Any) -> None:
    """`kubeling apiserver` + `kubeling controller-manager`: custom resources found through discovery."""
    from test_rootca import _start, _stop

    c = _ApiServerOnly(str(tmp_path))
    c.start()
    procs = []
    try:
        procs.append(_start(["controller-manager", "--kubeconfig", c.kubeconfig, "--leader-elect=false", "--quiet",
                             "--controllers", "garbagecollector,namespace"], str(tmp_path / "cm.log")))
        group = _widgets_crd(c)  # created after the controller-manager started
        c.kubectl("create", "namespace", "gc")
        cm = _create_json(c, "gc", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
        _create_json(c, "gc", _widget(group, "dep", [_owner_ref(cm)]))
        owner = _create_json(c, "gc", _widget(group, "cr-owner"))
        _create_json(c, "gc", {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "cm-dep", "ownerReferences": [_owner_ref(owner)]}})
        c.kubectl("delete", "configmap", "owner", "-n", "gc")
        wait_for(lambda: not _exists(c, f"widgets.{group}", "dep", "-n", "gc"), timeout=60,
                 what="CR owned by a ConfigMap collected")
        c.kubectl("delete", f"widgets.{group}", "cr-owner", "-n", "gc")
        wait_for(lambda: not _exists(c, "configmap", "cm-dep", "-n", "gc"), timeout=60,
                 what="ConfigMap owned by a CR collected")
        # the namespace controller of that process removes the CRs of a deleted namespace
        _create_json(c, "gc", _widget(group, "left"))
        c.kubectl("delete", "namespace", "gc", "--wait=false")
        wait_for(lambda: not _exists(c, "namespace", "gc"), timeout=60, what="namespace gone")
        assert c.get_json(f"/apis/{group}/v1/widgets")["items"] == []
    finally:
        for p in procs:
            _stop(p)
        c.stop()


def test_cr_format_validation(cluster: Any, ns: str) -> None:
    group = _group()
    crd = two_version_crd(group)
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    props.update({"when": {"type": "string", "format": "date-time"}, "id": {"type": "string", "format": "uuid"},
                  "big": {"type": "integer", "format": "int32"}})
    crd["spec"]["versions"] = crd["spec"]["versions"][:1]
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crd))
    wait_for(lambda: _established(cluster, f"widgets.{group}"), what="CRD Established")
    body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "f"},
            "spec": {"when": "tomorrow", "id": "123", "big": 2 ** 40}}
    cp = cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(body), check=False)
    assert cp.returncode != 0
    assert ('The Widget "f" is invalid: \n* spec.id: Invalid value: "123": spec.id in body must be of type uuid: '
            '"123"\n* spec.when: Invalid value: "tomorrow": spec.when in body must be of type date-time: '
            '"tomorrow"') in cp.stderr
    body["spec"].update(when="2024-05-01T10:00:00Z", id="123e4567-e89b-12d3-a456-426614174000")
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(body))  # int32 is not range-checked
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


def test_cel_validation_rules(cluster: Any, ns: str) -> None:
    group = _group()
    crd = two_version_crd(group)
    crd["spec"]["versions"] = crd["spec"]["versions"][:1]
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"].update({"min": {"type": "integer"}, "max": {"type": "integer"}})
    spec["x-kubernetes-validations"] = [
        {"rule": "self.min <= self.max", "message": "min must not exceed max"},
        {"rule": "self.size >= oldSelf.size"}]
    bad = json.loads(json.dumps(crd))
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = [
        {"rule": "self.min <="}]
    cp = cluster.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert cp.returncode != 0
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: "
            'Invalid value: apiextensions.ValidationRule{Rule:"self.min <="') in cp.stderr
    assert "compilation failed: ERROR: <input>:1:" in cp.stderr
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crd))
    wait_for(lambda: _established(cluster, f"widgets.{group}"), what="CRD Established")
    body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "c"},
            "spec": {"size": 2, "min": 3, "max": 1}}
    cp = cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(body), check=False)
    assert cp.returncode != 0
    assert 'The Widget "c" is invalid: spec: Invalid value: "object": min must not exceed max' in cp.stderr
    body["spec"]["max"] = 5
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(body))
    cp = cluster.kubectl("patch", f"widgets.{group}", "c", "-n", ns, "--type=merge", "-p",
                         '{"spec": {"size": 1}}', check=False)
    assert cp.returncode != 0
    assert 'spec: Invalid value: "object": failed rule: self.size >= oldSelf.size' in cp.stderr
    cluster.kubectl("patch", f"widgets.{group}", "c", "-n", ns, "--type=merge", "-p", '{"spec": {"size": 4}}')
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


def test_gc_collects_dependents_of_absent_cr_owner(cluster: Any, ns: str) -> None:
    group = _widgets_crd(cluster)
    ghost = {"apiVersion": f"{group}/v1", "kind": "Widget", "name": "ghost", "uid": str(uuid.uuid4())}
    _create_json(cluster, ns, _widget(group, "orphan-cr", [ghost]))
    _create_json(cluster, ns, {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "orphan-cm", "ownerReferences": [ghost]}})
    wait_for(lambda: not _exists(cluster, f"widgets.{group}", "orphan-cr", "-n", ns), what="CR of a ghost collected")
    wait_for(lambda: not _exists(cluster, "configmap", "orphan-cm", "-n", ns), what="ConfigMap of a ghost collected")

"""CustomResourceDefinitions and custom resources, driven by the real kubectl and the kubernetes client."""
from __future__ import annotations

import json
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
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crd))
    wait_for(lambda: _established(cluster, f"crontabs.{group}"), what="CRD Established")
    cluster.kubectl("apply", "-f", "-", input=_cr(group, "global"))
    obj = json.loads(cluster.kubectl("get", f"crontab.{group}", "global", "-o", "json").stdout)
    assert "namespace" not in obj["metadata"]
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

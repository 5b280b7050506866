"""Issue 2, "Must show" 3: the official `kubernetes` Python client (v32) against a real kubeling.

Typed client for create/get/list/replace/delete/watch and JSON/strategic patches; the dynamic client
(which reads the legacy discovery documents) for merge patch and server-side apply.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import KubelingCluster
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def api(cluster: KubelingCluster) -> Iterator[client.ApiClient]:
    c = cluster.api_client()
    yield c
    c.close()


def cm_body(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def error_of(e: ApiException) -> dict[str, Any]:
    st = json.loads(e.body)
    assert st["kind"] == "Status" and st["status"] == "Failure" and st["code"] == e.status
    return st


def test_version(api: client.ApiClient) -> None:
    v = client.VersionApi(api).get_code()
    assert v.major == "1" and v.minor == "32" and v.git_version.startswith("v1.32.")


def test_create_get_list_delete(api: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(api)
    created = v1.create_namespaced_config_map(ns, cm_body("c1", {"k": "v"}, {"app": "one", "tier": "a"}))
    md = created.metadata
    assert md.name == "c1" and md.namespace == ns and md.uid and md.resource_version
    assert md.creation_timestamp is not None
    v1.create_namespaced_config_map(ns, cm_body("c2", labels={"app": "two", "tier": "a"}))
    v1.create_namespaced_config_map(ns, cm_body("c3"))

    got = v1.read_namespaced_config_map("c1", ns)
    assert got.data == {"k": "v"} and got.metadata.uid == md.uid

    lst = v1.list_namespaced_config_map(ns, label_selector="tier=a")
    assert sorted(i.metadata.name for i in lst.items) == ["c1", "c2"]
    assert int(lst.metadata.resource_version) >= int(md.resource_version)
    lst = v1.list_namespaced_config_map(ns, label_selector="app in (two),tier")
    assert [i.metadata.name for i in lst.items] == ["c2"]
    lst = v1.list_namespaced_config_map(ns, field_selector="metadata.name=c3")
    assert [i.metadata.name for i in lst.items] == ["c3"]
    # Cluster-wide list sees the namespaced objects too.
    everywhere = v1.list_config_map_for_all_namespaces(label_selector="app=one")
    assert [(i.metadata.namespace, i.metadata.name) for i in everywhere.items] == [(ns, "c1")]

    # generateName
    gen = v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="g-")))
    assert gen.metadata.name.startswith("g-") and len(gen.metadata.name) == len("g-") + 5

    st = v1.delete_namespaced_config_map("c1", ns)
    assert st.status == "Success" and st.details.name == "c1" and st.details.uid == md.uid
    with pytest.raises(ApiException) as ei:
        v1.read_namespaced_config_map("c1", ns)
    assert ei.value.status == 404
    assert error_of(ei.value)["reason"] == "NotFound"
    with pytest.raises(ApiException) as ei:
        v1.delete_namespaced_config_map("c1", ns)
    assert ei.value.status == 404


def test_create_twice_is_already_exists(api: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(ns, cm_body("dup"))
    with pytest.raises(ApiException) as ei:
        v1.create_namespaced_config_map(ns, cm_body("dup"))
    assert ei.value.status == 409
    st = error_of(ei.value)
    assert st["reason"] == "AlreadyExists" and st["message"] == 'configmaps "dup" already exists'


def test_patch_all_four_types(api: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(ns, cm_body("p", {"a": "1", "b": "2"}, {"x": "1"}))

    # JSON patch (RFC 6902): the typed client sends application/json-patch+json for a list body.
    out = v1.patch_namespaced_config_map("p", ns, [{"op": "replace", "path": "/data/a", "value": "10"},
                                                   {"op": "remove", "path": "/data/b"}])
    assert out.data == {"a": "10"}
    with pytest.raises(ApiException) as ei:
        v1.patch_namespaced_config_map("p", ns, [{"op": "test", "path": "/data/a", "value": "nope"}])
    assert ei.value.status == 422

    # Strategic merge patch: the typed client sends it for a dict body.
    out = v1.patch_namespaced_config_map("p", ns, {"data": {"c": "3"}, "metadata": {"labels": {"y": "2"}}})
    assert out.data == {"a": "10", "c": "3"} and out.metadata.labels == {"x": "1", "y": "2"}

    dyn = dynamic.DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    # JSON merge patch (RFC 7386): null deletes.
    out = cms.patch(name="p", namespace=ns, body={"data": {"c": None, "d": "4"}},
                    content_type="application/merge-patch+json")
    assert out.data.to_dict() == {"a": "10", "d": "4"}

    # Server-side apply: applying the value a field already has makes the applier a co-owner (no conflict);
    # changing a field another manager owns -- even one that wrote it with a plain update -- is a conflict.
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p", "namespace": ns},
            "data": {"a": "10"}}
    out = cms.server_side_apply(body=body, name="p", namespace=ns, field_manager="tester")
    assert out.data.a == "10" and out.data.d == "4"
    managers = {m["manager"]: m for m in out.to_dict()["metadata"]["managedFields"]}
    assert managers["tester"]["operation"] == "Apply"
    assert "f:a" in managers["tester"]["fieldsV1"]["f:data"]
    # The typed client's updates are credited to the manager named by its User-Agent, as upstream does.
    assert managers["OpenAPI-Generator"]["operation"] == "Update"
    with pytest.raises(ApiException) as ei:
        cms.server_side_apply(body={**body, "data": {"a": "other"}}, name="p", namespace=ns,
                              field_manager="someone-else")
    assert ei.value.status == 409
    st = error_of(ei.value)
    assert st["reason"] == "Conflict" and st["message"].startswith("Apply failed with 2 conflicts")
    assert '"tester"' in st["message"] and '"OpenAPI-Generator"' in st["message"]
    assert {c["field"] for c in st["details"]["causes"]} == {".data.a"}
    out = cms.server_side_apply(body={**body, "data": {"a": "other"}}, name="p", namespace=ns,
                                field_manager="someone-else", force_conflicts=True)
    assert out.data.a == "other"

    # Server-side apply of an absent object creates it (201).
    new = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p2", "namespace": ns}, "data": {"z": "1"}}
    out = cms.server_side_apply(body=new, name="p2", namespace=ns, field_manager="tester")
    assert out.metadata.uid and out.data.z == "1"

    # A patch that changes nothing does not bump the resourceVersion.
    before = v1.read_namespaced_config_map("p", ns).metadata.resource_version
    after = v1.patch_namespaced_config_map("p", ns, {"data": {"a": "other"}}).metadata.resource_version
    assert before == after


def test_replace_with_stale_resource_version_conflicts(api: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(api)
    first = v1.create_namespaced_config_map(ns, cm_body("r", {"v": "1"}))
    fresh = v1.read_namespaced_config_map("r", ns)
    fresh.data = {"v": "2"}
    second = v1.replace_namespaced_config_map("r", ns, fresh)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"v": "stale"}
    with pytest.raises(ApiException) as ei:
        v1.replace_namespaced_config_map("r", ns, first)
    assert ei.value.status == 409
    st = error_of(ei.value)
    assert st["reason"] == "Conflict"
    assert st["message"] == ('Operation cannot be fulfilled on configmaps "r": the object has been modified; '
                             'please apply your changes to the latest version and try again')
    assert v1.read_namespaced_config_map("r", ns).data == {"v": "2"}
    # Without a resourceVersion, replace is unconditional.
    first.metadata.resource_version = None
    assert v1.replace_namespaced_config_map("r", ns, first).data == {"v": "stale"}


def test_generation_and_status_subresource(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="g"),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "g"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "g"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))))
    d = apps.create_namespaced_deployment(ns, dep)
    assert d.metadata.generation == 1
    d = apps.patch_namespaced_deployment("g", ns, {"metadata": {"labels": {"l": "1"}}})
    assert d.metadata.generation == 1  # metadata-only change
    d = apps.patch_namespaced_deployment("g", ns, {"spec": {"replicas": 2}})
    assert d.metadata.generation == 2
    d = apps.patch_namespaced_deployment_scale("g", ns, {"spec": {"replicas": 3}})
    assert d.spec.replicas == 3
    assert apps.read_namespaced_deployment("g", ns).metadata.generation == 3
    # The main resource ignores status; the status subresource ignores spec.
    d = apps.patch_namespaced_deployment("g", ns, {"status": {"observedGeneration": 42}})
    assert (d.status.observed_generation or 0) != 42
    d = apps.patch_namespaced_deployment_status("g", ns, {"status": {"observedGeneration": 42},
                                                          "spec": {"replicas": 9}})
    assert d.status.observed_generation == 42 and d.spec.replicas == 3


def test_list_paging(api: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(api)
    for i in range(25):
        v1.create_namespaced_config_map(ns, cm_body(f"pg-{i:02d}", labels={"paging": "1"}))
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = v1.list_namespaced_config_map(ns, label_selector="paging=1", limit=10, _continue=token)
        names += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count is None  # upstream: none with a selector
    assert pages == 3 and names == [f"pg-{i:02d}" for i in range(25)]


def test_watch_sees_added_modified_deleted_in_order(api: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    events: list[tuple[str, str, str]] = []
    started = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        w = watch.Watch()
        try:
            started.set()
            for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=30,
                               label_selector="w=1"):
                obj = ev["object"]
                events.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
                if ev["type"] == "DELETED":
                    w.stop()
        except BaseException as e:  # surfaced in the main thread
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(5)
    v1.create_namespaced_config_map(ns, cm_body("watched", {"n": "0"}, {"w": "1"}))
    v1.create_namespaced_config_map(ns, cm_body("ignored", {"n": "0"}))  # filtered out by the selector
    v1.patch_namespaced_config_map("watched", ns, {"data": {"n": "1"}})
    v1.delete_namespaced_config_map("watched", ns)
    assert done.wait(30), f"watch did not see DELETED; got {events}"
    assert not errors, errors
    assert [(t, n) for t, n, _ in events] == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]
    rvs = [int(r) for _, _, r in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_watch_initial_events_and_label_transitions(api: client.ApiClient, ns: str) -> None:
    """Without a resourceVersion a watch starts with the current objects; label changes in and out of a
    selector show up as ADDED / DELETED, as upstream's watch cache filters them."""
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(ns, cm_body("pre", labels={"sel": "yes"}))
    got: list[tuple[str, str]] = []
    w = watch.Watch()
    deadline = time.monotonic() + 20
    stream = w.stream(v1.list_namespaced_config_map, ns, label_selector="sel=yes", timeout_seconds=20)
    for ev in stream:
        got.append((ev["type"], ev["object"].metadata.name))
        if got == [("ADDED", "pre")]:
            v1.create_namespaced_config_map(ns, cm_body("later", labels={"sel": "no"}))
            v1.patch_namespaced_config_map("later", ns, {"metadata": {"labels": {"sel": "yes"}}})
            v1.patch_namespaced_config_map("later", ns, {"metadata": {"labels": {"sel": "no"}}})
        if len(got) == 3 or time.monotonic() > deadline:
            w.stop()
    assert got == [("ADDED", "pre"), ("ADDED", "later"), ("DELETED", "later")]


def test_watch_bookmarks_and_expired_resource_version(cluster: KubelingCluster, ns: str) -> None:
    # A watch from a resourceVersion older than the kept history is an ERROR event with a 410 Status.
    code, _, raw = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion=1"
                                          "&timeoutSeconds=2")
    assert code == 200
    lines = [json.loads(x) for x in raw.splitlines() if x.strip()]
    # Either history from rv 1 is still kept (a young store), or the stream reports 410 Expired.
    if lines and lines[0]["type"] == "ERROR":
        st = lines[0]["object"]
        assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired"
    # sendInitialEvents=true ends the initial list with a bookmark annotated initial-events-end.
    code, _, raw = cluster.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
               "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
    assert code == 200
    evs = [json.loads(x) for x in raw.splitlines() if x.strip()]
    bm = [e for e in evs if e["type"] == "BOOKMARK"]
    assert bm and bm[0]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_unknown_namespace_and_invalid_object(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    with pytest.raises(ApiException) as ei:
        v1.create_namespaced_config_map("no-such-ns-" + uuid.uuid4().hex[:6], cm_body("x"))
    assert ei.value.status == 404 and error_of(ei.value)["details"]["kind"] == "namespaces"
    with pytest.raises(ApiException) as ei:
        v1.create_namespaced_config_map("default", cm_body("Not_Valid"))
    assert ei.value.status == 422
    st = error_of(ei.value)
    assert st["reason"] == "Invalid" and st["details"]["causes"][0]["field"] == "metadata.name"

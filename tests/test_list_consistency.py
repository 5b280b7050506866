"""Consistent LIST paging and resourceVersion semantics on lists, as upstream v1.32's API server serves them.

Every page of a paged list is read at the first page's revision (the continue token's); a token
whose revision was compacted is 410 Expired with an "inconsistent continue" token; resourceVersion
"", "0", NotOlderThan and Exact read the latest, any, at-least-N and exactly-N states; bad
combinations of list options are upstream's 400/422 errors. Driven with raw HTTP, the official
`kubernetes` client and kubectl against a real kubeling.
"""
from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from typing import Any

import pytest
from conftest import KubelingCluster, wait_for
from etcd_util import EtcdCluster, etcd_server, have_etcd, unique_prefix  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

INCONSISTENT = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list.")


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"v": "1"}}


def create_cms(cluster: KubelingCluster, ns: str, names: list[str], **labels: str) -> None:
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [cm(n, **labels) for n in names]}))


def token_of(tok: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))


def query(path: str, **params: Any) -> str:
    return path + "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def status(cluster: KubelingCluster, path: str) -> tuple[int, dict[str, Any]]:
    code, _, body = cluster.request("GET", path)
    return code, json.loads(body)


def names(lst: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in lst["items"]]


def page_all(cluster: KubelingCluster, path: str, first: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    pages = [first]
    while pages[-1]["metadata"].get("continue"):
        pages.append(cluster.get_json(query(path, **params, **{"continue": pages[-1]["metadata"]["continue"]})))
    return pages


# ---- paging at the first page's revision ---------------------------------------------------------------


def test_pages_are_a_snapshot_of_the_first_pages_revision(cluster: KubelingCluster, ns: str) -> None:
    create_cms(cluster, ns, [f"cm-{i}" for i in range(6)])
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = cluster.get_json(query(path, limit=2))
    rv = first["metadata"]["resourceVersion"]
    snapshot = cluster.get_json(query(path, resourceVersion=rv, resourceVersionMatch="Exact"))
    assert snapshot["metadata"]["resourceVersion"] == rv
    assert names(first) == names(snapshot)[:2]
    # Upstream's token: unpadded base64url JSON, start key relative to the listed prefix, past the last item.
    tok = first["metadata"]["continue"]
    assert "=" not in tok
    assert token_of(tok) == {"v": "meta.k8s.io/v1", "rv": int(rv), "start": names(first)[-1] + "\x00"}
    assert first["metadata"]["remainingItemCount"] == len(snapshot["items"]) - 2

    # Change what the later pages cover: delete, create in between, update.
    cluster.kubectl("delete", "cm", "-n", ns, "cm-3")
    create_cms(cluster, ns, ["cm-2a", "cm-9"])
    cluster.kubectl("label", "cm", "-n", ns, "cm-4", "changed=yes")
    pages = page_all(cluster, path, first, limit=2)
    assert all(p["metadata"]["resourceVersion"] == rv for p in pages)
    got = [i for p in pages for i in p["items"]]
    assert [i["metadata"]["name"] for i in got] == names(snapshot)
    assert "cm-3" in names(snapshot) and "cm-2a" not in names(snapshot)
    cm4 = {i["metadata"]["name"]: i for i in got}["cm-4"]
    assert cm4 == {i["metadata"]["name"]: i for i in snapshot["items"]}["cm-4"]
    assert "changed" not in (cm4["metadata"].get("labels") or {})
    # remainingItemCount counts down through the snapshot.
    assert pages[1]["metadata"]["remainingItemCount"] == len(snapshot["items"]) - 4
    # A fresh list sees the changes.
    now = names(cluster.get_json(path))
    assert "cm-3" not in now and "cm-2a" in now and "cm-9" in now


def test_remaining_item_count_only_without_selectors(cluster: KubelingCluster, ns: str) -> None:
    create_cms(cluster, ns, [f"sel-{i}" for i in range(5)], pick="yes")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    page = cluster.get_json(query(path, labelSelector="pick=yes", limit=2))
    assert names(page) == ["sel-0", "sel-1"] and page["metadata"]["continue"]
    assert "remainingItemCount" not in page["metadata"]
    pages = page_all(cluster, path, page, labelSelector="pick=yes", limit=2)
    assert [n for p in pages for n in names(p)] == [f"sel-{i}" for i in range(5)]


def test_python_client_pages_a_snapshot(cluster: KubelingCluster, ns: str) -> None:
    v1 = client.CoreV1Api(cluster.api_client())
    for i in range(5):
        v1.create_namespaced_config_map(ns, cm(f"py-{i}", grp="py"))
    first = v1.list_namespaced_config_map(ns, label_selector="grp=py", limit=2)
    assert [i.metadata.name for i in first.items] == ["py-0", "py-1"]
    v1.delete_namespaced_config_map("py-2", ns)
    v1.create_namespaced_config_map(ns, cm("py-1a", grp="py"))
    seen = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = v1.list_namespaced_config_map(ns, label_selector="grp=py", limit=2, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert seen == [f"py-{i}" for i in range(5)]
    # Exact and NotOlderThan through the client's resource_version_match.
    rv = first.metadata.resource_version
    exact = v1.list_namespaced_config_map(ns, label_selector="grp=py", resource_version=rv,
                                          resource_version_match="Exact")
    assert [i.metadata.name for i in exact.items] == [f"py-{i}" for i in range(5)]
    newer = v1.list_namespaced_config_map(ns, label_selector="grp=py", resource_version=rv,
                                          resource_version_match="NotOlderThan")
    assert [i.metadata.name for i in newer.items] == ["py-0", "py-1", "py-1a", "py-3", "py-4"]
    assert int(newer.metadata.resource_version) > int(rv)


def test_kubectl_chunked_get_lists_everything(cluster: KubelingCluster, ns: str) -> None:
    create_cms(cluster, ns, [f"ch-{i}" for i in range(5)])
    out = cluster.kubectl("get", "cm", "-n", ns, "--chunk-size=1", "-o", "name").stdout.split()
    assert [n for n in out if n.startswith("configmap/ch-")] == [f"configmap/ch-{i}" for i in range(5)]
    table_out = cluster.kubectl("get", "cm", "-n", ns, "--chunk-size=2").stdout.splitlines()
    assert table_out[0].split()[:2] == ["NAME", "DATA"]
    assert [ln.split()[0] for ln in table_out[1:] if ln.startswith("ch-")] == [f"ch-{i}" for i in range(5)]


def test_kubectl_chunked_get_pods_lists_all(cluster: KubelingCluster, ns: str) -> None:
    for i in range(3):
        cluster.kubectl("run", f"p{i}", "-n", ns, "--image=nginx", "--restart=Never")
    out = cluster.kubectl("get", "pods", "-n", ns, "--chunk-size=1", "-o", "name").stdout.split()
    assert out == [f"pod/p{i}" for i in range(3)]


# ---- resourceVersion / resourceVersionMatch ---------------------------------------------------------------


def test_resource_version_semantics(cluster: KubelingCluster, ns: str) -> None:
    create_cms(cluster, ns, ["a", "b"])
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv0 = cluster.get_json(path)["metadata"]["resourceVersion"]
    create_cms(cluster, ns, ["c"])
    # Exact: the state at rv0.
    exact = cluster.get_json(query(path, resourceVersion=rv0, resourceVersionMatch="Exact"))
    assert exact["metadata"]["resourceVersion"] == rv0
    assert "c" not in names(exact) and {"a", "b"} <= set(names(exact))
    # NotOlderThan (and no match, no limit): the latest state.
    for params in ({"resourceVersionMatch": "NotOlderThan"}, {}):
        cur = cluster.get_json(query(path, resourceVersion=rv0, **params))
        assert "c" in names(cur) and int(cur["metadata"]["resourceVersion"]) > int(rv0)
    # A limit without a match is the legacy exact read, paged at rv0.
    legacy = cluster.get_json(query(path, resourceVersion=rv0, limit=1))
    assert legacy["metadata"]["resourceVersion"] == rv0
    assert token_of(legacy["metadata"]["continue"])["rv"] == int(rv0)
    pages = page_all(cluster, path, legacy, limit=1)
    assert [n for p in pages for n in names(p)] == names(exact)
    # NotOlderThan with a limit pages the latest state.
    nol = cluster.get_json(query(path, resourceVersion=rv0, resourceVersionMatch="NotOlderThan", limit=1))
    assert int(nol["metadata"]["resourceVersion"]) > int(rv0) and nol["metadata"]["continue"]
    # resourceVersion=0: any state, and the limit is ignored (served whole, as from upstream's watch cache).
    any_ = cluster.get_json(query(path, resourceVersion="0", limit=1))
    assert "c" in names(any_) and len(any_["items"]) >= 3 and "continue" not in any_["metadata"]
    # A revision the server has not reached: exact → etcd's future-revision error; at-least → 504 after a wait.
    future = str(int(rv0) + 10_000_000)
    code, st = status(cluster, query(path, resourceVersion=future, resourceVersionMatch="Exact"))
    assert code == 500 and st["message"] == "etcdserver: mvcc: required revision is a future revision"
    code, st = status(cluster, query(path, resourceVersion=future, resourceVersionMatch="NotOlderThan"))
    assert code == 504 and st["reason"] == "Timeout"
    assert st["message"].startswith(f"Timeout: Too large resource version: {future}, current: ")
    assert st["details"]["causes"] == [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
    assert st["details"]["retryAfterSeconds"] == 1


def test_not_older_than_waits_for_a_revision_that_arrives(cluster: KubelingCluster, ns: str) -> None:
    """A NotOlderThan list for a revision about to be written is answered once it is (no 504)."""
    import threading

    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = int(cluster.get_json(path)["metadata"]["resourceVersion"])
    result: dict[str, Any] = {}

    def reader() -> None:
        result["resp"] = status(cluster, query(path, resourceVersion=str(rv + 1),
                                               resourceVersionMatch="NotOlderThan"))

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    create_cms(cluster, ns, ["arrives"])
    t.join(30)
    code, lst = result["resp"]
    assert code == 200 and int(lst["metadata"]["resourceVersion"]) >= rv + 1


def test_list_option_errors(cluster: KubelingCluster, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = cluster.get_json(path)["metadata"]["resourceVersion"]
    prefix = 'ListOptions.meta.k8s.io "" is invalid: '
    cases = [
        ({"resourceVersionMatch": "Exact"},
         "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"),
        ({"resourceVersionMatch": "Exact", "resourceVersion": "0"},
         'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
        ({"resourceVersionMatch": "Newest", "resourceVersion": rv},
         'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'),
        ({"sendInitialEvents": "true"}, "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"),
    ]
    for params, msg in cases:
        code, st = status(cluster, query(path, **params))
        assert code == 422 and st["reason"] == "Invalid", (params, st)
        assert st["message"] == prefix + msg
        assert st["details"]["kind"] == "ListOptions" and st["details"]["group"] == "meta.k8s.io"
    create_cms(cluster, ns, ["e1", "e2"])
    tok = cluster.get_json(query(path, limit=1))["metadata"]["continue"]
    code, st = status(cluster, query(path, resourceVersionMatch="NotOlderThan", resourceVersion=rv,
                                     **{"continue": tok}))
    assert code == 422
    assert st["message"] == prefix + ("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                                      "when continue is provided")
    code, st = status(cluster, query(path, resourceVersion=rv, **{"continue": tok}))
    assert (code, st["reason"]) == (400, "BadRequest")
    assert st["message"] == "specifying resource version is not allowed when using continue"
    # resourceVersion=0 with a token is allowed (treated as the token's exact read).
    assert cluster.get_json(query(path, resourceVersion="0", **{"continue": tok}))["items"]
    code, st = status(cluster, query(path, resourceVersion="abc"))
    assert code == 400 and st["message"].startswith("invalid resource version: ")

    def b64(d: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    bad_tokens = [
        ("!!", "invalid continue token: continue key is not valid: illegal base64 data at input byte 0"),
        (b64({"v": "meta.k8s.io/v2", "rv": 5, "start": "a"}),
         "invalid continue token: continue key is not valid: server does not recognize this encoded version "
         "meta.k8s.io/v2"),
        (b64({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}),
         "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion "
         "(version meta.k8s.io/v1)"),
        (b64({"v": "meta.k8s.io/v1", "rv": 5, "start": ""}),
         "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"),
        (b64({"v": "meta.k8s.io/v1", "rv": 5, "start": "../../secrets/x"}),
         "invalid continue token: continue key is not valid: ../../secrets/x"),
    ]
    for token, msg in bad_tokens:
        code, st = status(cluster, query(path, **{"continue": token}))
        assert (code, st["reason"], st["message"]) == (400, "BadRequest", msg), token


# ---- compaction --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compacting(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A kubeling that keeps about one second of history (its nodes' heartbeats keep the revision moving)."""
    from conftest import _LIVE

    c = KubelingCluster(str(tmp_path_factory.mktemp("kubeling-compact")), ("--etcd-compaction-interval", "1s"),
                        name="compacting")
    _LIVE.append(c)
    c.start()
    yield c
    c.stop()
    _LIVE.remove(c)


def test_compacted_continue_is_410_with_an_inconsistent_token(compacting: KubelingCluster) -> None:
    c = compacting
    c.kubectl("create", "namespace", "paging")
    create_cms(c, "paging", ["p-0", "p-1", "p-2", "p-3"])
    path = "/api/v1/namespaces/paging/configmaps"
    first = c.get_json(query(path, limit=1))
    tok = first["metadata"]["continue"]
    rv = int(first["metadata"]["resourceVersion"])
    create_cms(c, "paging", ["p-1a"])

    def expired() -> Any:
        code, st = status(c, query(path, limit=1, **{"continue": tok}))
        return st if code == 410 else None

    st = wait_for(expired, timeout=60, what="the first page's revision to be compacted")
    assert st["reason"] == "Expired" and st["code"] == 410
    assert st["message"] == INCONSISTENT
    new = st["metadata"]["continue"]
    assert token_of(new) == {"v": "meta.k8s.io/v1", "rv": -1, "start": token_of(tok)["start"]}
    # The inconsistent token continues at the latest revision: the object created since shows up.
    page = c.get_json(query(path, limit=10, **{"continue": new}))
    assert int(page["metadata"]["resourceVersion"]) > rv
    start = token_of(tok)["start"]
    assert "p-1a" in names(page)
    assert names(page) == [n for n in names(c.get_json(path)) if n > start]
    # The official client sees the same 410.
    v1 = client.CoreV1Api(c.api_client())
    with pytest.raises(ApiException) as ei:
        v1.list_namespaced_config_map("paging", limit=1, _continue=tok)
    assert ei.value.status == 410 and json.loads(ei.value.body)["message"] == INCONSISTENT
    # An exact read of a compacted revision is 410 too.
    code, st = status(c, query(path, resourceVersion=str(rv), resourceVersionMatch="Exact"))
    assert (code, st["reason"], st["message"]) == (410, "Expired",
                                                   "The resourceVersion for the provided list is too old.")
    assert "continue" not in st["metadata"]


# ---- watch -------------------------------------------------------------------------------------------------


def test_watch_list_from_a_revision_not_reached_is_504_in_the_stream(cluster: KubelingCluster, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = int(cluster.get_json(path)["metadata"]["resourceVersion"])
    code, _, body = cluster.request("GET", query(
        path, watch="1", sendInitialEvents="true", allowWatchBookmarks="true",
        resourceVersionMatch="NotOlderThan", resourceVersion=str(rv + 10_000_000), timeoutSeconds="10"))
    assert code == 200
    events = [json.loads(ln) for ln in body.splitlines() if ln.strip()]
    assert events and events[-1]["type"] == "ERROR"
    st = events[-1]["object"]
    assert st["code"] == 504 and st["reason"] == "Timeout"
    assert st["message"].startswith(f"Timeout: Too large resource version: {rv + 10_000_000}, current: ")


# ---- API servers sharing etcd ----------------------------------------------------------------------------------


def test_pages_continue_on_another_api_server_sharing_etcd(request: pytest.FixtureRequest) -> None:
    """A token from one API server, followed on another whose mirror may lag: it catches up, then reads
    the same snapshot; a NotOlderThan list for the other server's latest revision waits for it."""
    if not have_etcd():
        pytest.skip("etcd is not installed (apt-get install etcd-server)")
    etcd: EtcdCluster = request.getfixturevalue("etcd_server")
    from kubeling.api.registry import Registry, Request
    from kubeling.api.resources import by_qualified
    from kubeling.storage.etcd import open_etcd

    async def body() -> None:
        pfx = unique_prefix()
        a = await open_etcd(etcd.endpoints, key_prefix=pfx)
        b = await open_etcd(etcd.endpoints, key_prefix=pfx)
        ra, rb = Registry(a), Registry(b)
        cms = by_qualified("configmaps")
        ns = await ra.create(by_qualified("namespaces"), None, {"metadata": {"name": "default"}}, Request())
        # Let b's etcd watch get past its start-up catch-up: etcd 3.4 may answer a progress request of a
        # watch still replaying history with the current revision, which a just-started mirror would trust.
        deadline = time.monotonic() + 10
        while b.get(ns.key) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for i in range(4):
            await ra.create(cms, "default", cm(f"e-{i}"), Request())
        items, rev, tok, remaining = await ra.list_request(cms, "default", limit=2)
        assert [kv.obj["metadata"]["name"] for kv in items] == ["e-0", "e-1"] and remaining == 2
        await ra.delete(cms, "default", "e-3", {}, Request())
        items, rev2, tok2, _ = await rb.list_request(cms, "default", limit=2, continue_token=tok)
        assert rev2 == rev and tok2 is None
        assert [kv.obj["metadata"]["name"] for kv in items] == ["e-2", "e-3"]
        await ra.create(cms, "default", cm("e-4"), Request())
        items, rev3, _, _ = await rb.list_request(cms, "default", resource_version=str(a.revision),
                                                  resource_version_match="NotOlderThan")
        assert rev3 >= a.revision and "e-4" in [kv.obj["metadata"]["name"] for kv in items]
        for s in (a, b):
            await s.close()

    asyncio.run(body())

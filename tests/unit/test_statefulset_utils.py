"""Pure StatefulSet helpers and the shared controller mechanics (history hashing, expectations,
ControllerRef claiming), checked against upstream's behaviour."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from kubeling.api.errors import ApiError
from kubeling.controllers.common import expectations as exp
from kubeling.controllers.common import history as hist
from kubeling.controllers.common import refmanager as rm
from kubeling.controllers.statefulset import utils
from kubeling.controllers.statefulset.control import slow_start_batch

# The revision data upstream (kube-controller-manager) stored for the reference StatefulSet with
# image nginx-slim:0.27, exactly as `kubectl rollout undo` sent it back; its revision was named
# web-64bd6858bb (kubectl-wire/13-rollout-undo.txt).
REFERENCE_RAW = (
    b'{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"nginx"}},"spec":{"containers":'
    b'[{"image":"registry.k8s.io/nginx-slim:0.27","imagePullPolicy":"IfNotPresent","name":"nginx","ports":'
    b'[{"containerPort":80,"name":"web","protocol":"TCP"}],"resources":{},"terminationMessagePath":'
    b'"/dev/termination-log","terminationMessagePolicy":"File","volumeMounts":[{"mountPath":'
    b'"/usr/share/nginx/html","name":"www"}]}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always",'
    b'"schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":10}}}}')


def make_set(name: str = "web", replicas: int = 3, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default", "uid": "set-uid", "generation": 1},
        "spec": {
            "replicas": replicas, "serviceName": "nginx", "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": {"app": "nginx"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "nginx"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.7.9"}]}},
            "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "metadata": {"name": "www", "creationTimestamp": None},
                                      "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "1Gi"}}},
                                      "status": {"phase": "Pending"}}],
        },
        "status": {"replicas": 0, "availableReplicas": 0},
    }
    s["spec"].update(spec)
    return s


def pod_of(set_: dict[str, Any], ordinal: int, *, phase: str = "Running", ready: bool = True,
           uid: str | None = None) -> dict[str, Any]:
    p = utils.new_stateful_set_pod(set_, ordinal)
    p["metadata"]["uid"] = uid or f"pod-uid-{ordinal}"
    p["status"] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
    return p


# ---- names, ordinals, identity ----------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("web-0", ("web", 0)), ("web-12", ("web", 12)), ("my-web-3", ("my-web", 3)), ("web", ("", -1)),
    ("web-", ("", -1)), ("web-x1", ("", -1)), ("web-99999999999", ("web", -1)), ("-5", ("", 5)),
])
def test_parent_name_and_ordinal(name: str, expected: tuple[str, int]) -> None:
    assert utils.parent_name_and_ordinal(name) == expected


def test_ordinal_range_with_start() -> None:
    s = make_set(replicas=3, ordinals={"start": 5})
    assert (utils.get_start_ordinal(s), utils.get_end_ordinal(s)) == (5, 7)
    assert utils.pod_in_ordinal_range({"metadata": {"name": "web-5"}}, s)
    assert utils.pod_in_ordinal_range({"metadata": {"name": "web-7"}}, s)
    assert not utils.pod_in_ordinal_range({"metadata": {"name": "web-4"}}, s)
    assert not utils.pod_in_ordinal_range({"metadata": {"name": "web-8"}}, s)


def test_new_stateful_set_pod_identity_and_storage() -> None:
    s = make_set()
    s["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    s["spec"]["template"]["spec"]["volumes"] = [{"name": "www", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]
    p = utils.new_stateful_set_pod(s, 2)
    md = p["metadata"]
    assert md["name"] == "web-2" and md["namespace"] == "default" and md["generateName"] == "web-"
    assert md["labels"] == {"app": "nginx", utils.POD_NAME_LABEL: "web-2", utils.POD_INDEX_LABEL: "2"}
    assert md["annotations"] == {"a": "b"}
    assert md["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                      "uid": "set-uid", "controller": True, "blockOwnerDeletion": True}]
    assert p["spec"]["hostname"] == "web-2" and p["spec"]["subdomain"] == "nginx"
    # the claim volume replaces the template volume of the same name; others are kept after it
    assert p["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}},
                                    {"name": "cfg", "emptyDir": {}}]
    assert utils.identity_matches(s, p) and utils.storage_matches(s, p)
    # the template itself is untouched
    assert s["spec"]["template"]["spec"]["volumes"][0] == {"name": "www", "emptyDir": {}}


def test_identity_and_storage_mismatch_is_repaired() -> None:
    s = make_set()
    p = utils.new_stateful_set_pod(s, 1)
    del p["metadata"]["labels"][utils.POD_NAME_LABEL]
    p["spec"]["volumes"] = []
    assert not utils.identity_matches(s, p) and not utils.storage_matches(s, p)
    utils.update_identity(s, p)
    utils.update_storage(s, p)
    assert utils.identity_matches(s, p) and utils.storage_matches(s, p)
    other = make_set(name="db")
    assert not utils.identity_matches(other, p) and not utils.is_member_of(other, p)


def test_claims_for_pod_carry_selector_labels() -> None:
    s = make_set()
    s["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"] = {"tier": "data", "app": "other"}
    claims = utils.get_persistent_volume_claims(s, {"metadata": {"name": "web-4"}})
    c = claims["www"]
    assert c["metadata"]["name"] == "www-web-4" and c["metadata"]["namespace"] == "default"
    assert c["metadata"]["labels"] == {"tier": "data", "app": "nginx"}  # matchLabels win
    assert "creationTimestamp" not in c["metadata"] and "status" not in c
    assert c["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_versioned_pod_respects_partition() -> None:
    cur, upd = make_set(), make_set()
    upd["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.9.1"
    cur["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    low = utils.new_versioned_stateful_set_pod(cur, upd, "web-old", "web-new", 1)
    high = utils.new_versioned_stateful_set_pod(cur, upd, "web-old", "web-new", 2)
    assert utils.get_pod_revision(low) == "web-old"
    assert low["spec"]["containers"][0]["image"] == "nginx:1.7.9"
    assert utils.get_pod_revision(high) == "web-new"
    assert high["spec"]["containers"][0]["image"] == "nginx:1.9.1"
    # OnDelete (no rollingUpdate): always the update revision
    cur["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert utils.get_pod_revision(utils.new_versioned_stateful_set_pod(cur, upd, "a", "b", 0)) == "b"


# ---- pod state --------------------------------------------------------------------------------

def test_running_ready_available() -> None:
    s = make_set()
    p = pod_of(s, 0)
    assert utils.is_running_and_ready(p) and utils.is_healthy(p)
    now = time.time()
    p["status"]["conditions"][0]["lastTransitionTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5))
    assert utils.is_running_and_available(p, 0, now)
    assert utils.is_running_and_available(p, 3, now)
    assert not utils.is_running_and_available(p, 10, now)
    p["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    assert utils.is_terminating(p) and not utils.is_healthy(p)
    q = pod_of(s, 1, phase="Pending", ready=False)
    assert utils.is_created(q) and utils.is_pending(q) and not utils.is_running_and_ready(q)
    assert not utils.is_created(utils.new_stateful_set_pod(s, 2))
    assert utils.is_failed(pod_of(s, 0, phase="Failed")) and utils.is_succeeded(pod_of(s, 0, phase="Succeeded"))


# ---- retention policy ---------------------------------------------------------------------------

def _claim(name: str, refs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "default", "uid": "claim-uid"}
    if refs:
        md["ownerReferences"] = refs
    return {"metadata": md}


@pytest.mark.parametrize("when_deleted,when_scaled,in_range,want", [
    ("Retain", "Retain", True, set()),
    ("Retain", "Retain", False, set()),
    ("Delete", "Retain", True, {"StatefulSet"}),
    ("Delete", "Retain", False, {"StatefulSet"}),
    ("Retain", "Delete", True, set()),
    ("Retain", "Delete", False, {"Pod"}),
    ("Delete", "Delete", True, {"StatefulSet"}),
    ("Delete", "Delete", False, {"Pod"}),
])
def test_retention_policy_owner_refs(when_deleted: str, when_scaled: str, in_range: bool, want: set[str]) -> None:
    s = make_set(replicas=2, persistentVolumeClaimRetentionPolicy={"whenDeleted": when_deleted,
                                                                    "whenScaled": when_scaled})
    pod = pod_of(s, 1 if in_range else 3)
    claim = _claim("www-web-x")
    assert utils.is_claim_owner_up_to_date(claim, s, pod) == (not want)
    utils.update_claim_owner_refs(claim, s, pod)
    kinds = {r["kind"] for r in claim["metadata"].get("ownerReferences") or ()}
    assert kinds == want
    for r in claim["metadata"].get("ownerReferences") or ():
        assert r["controller"] is True and r["blockOwnerDeletion"] is True
    assert utils.is_claim_owner_up_to_date(claim, s, pod)


def test_retention_policy_leaves_foreign_controller_and_stale_refs() -> None:
    s = make_set(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"})
    pod = pod_of(s, 0)
    foreign = _claim("c", [{"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "u", "controller": True}])
    assert utils.has_unexpected_controller(foreign, s, pod)
    assert utils.is_claim_owner_up_to_date(foreign, s, pod)
    stale = _claim("c", [{"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "older", "controller": True}])
    assert utils.has_stale_owner_ref(stale, pod, utils.POD_KIND)
    assert utils.is_claim_owner_up_to_date(stale, s, pod)
    fresh = utils.new_stateful_set_pod(s, 0)  # not created yet: no uid, so any ref by name is stale
    assert utils.has_stale_owner_ref(stale, fresh, utils.POD_KIND)


# ---- revisions -----------------------------------------------------------------------------------

def test_revision_hash_is_byte_identical_to_upstream() -> None:
    assert hist.hash_controller_revision(REFERENCE_RAW, 0) == "64bd6858bb"
    assert hist.go_json(orjson.loads(REFERENCE_RAW)) == REFERENCE_RAW
    assert hist.fnv32(b"") == 0x811C9DC5 and hist.fnv32(b"a") == 0x050C5D7E  # FNV-1, not FNV-1a
    assert hist.safe_encode_string("0123456789") == "456789bcdf"


def test_go_json_escapes_like_go() -> None:
    assert hist.go_json({"b": "<a&b>", "a": 1}) == b'{"a":1,"b":"\\u003ca\\u0026b\\u003e"}'
    assert hist.go_json({"s": "x\u2028y"}) == b'{"s":"x\\u2028y"}'


def test_get_patch_and_apply_revision_roundtrip() -> None:
    s = make_set()
    raw = utils.get_patch(s)
    data = orjson.loads(raw)
    tmpl = data["spec"]["template"]
    assert list(data) == ["spec"] and tmpl["$patch"] == "replace"
    assert tmpl["metadata"] == {"creationTimestamp": None, "labels": {"app": "nginx"}}
    rev = utils.new_revision(s, 1, 0)
    assert rev["metadata"]["name"] == "web-" + hist.hash_controller_revision(raw, 0)
    assert rev["metadata"]["labels"] == {"app": "nginx", hist.CONTROLLER_REVISION_HASH_LABEL:
                                         rev["metadata"]["name"][4:]}
    assert rev["revision"] == 1 and rev["metadata"]["ownerReferences"][0]["uid"] == "set-uid"
    changed = make_set()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.9.1"
    restored = utils.apply_revision(changed, rev)
    assert restored["spec"]["template"] == s["spec"]["template"]
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.9.1"  # input untouched
    # annotations of the set (change-cause) travel with the revision
    s["metadata"]["annotations"] = {"kubernetes.io/change-cause": "v1"}
    assert utils.new_revision(s, 2, 0)["metadata"]["annotations"] == {"kubernetes.io/change-cause": "v1"}
    # a different collision count gives another name for the same data
    assert utils.new_revision(s, 1, 1)["metadata"]["name"] != rev["metadata"]["name"]


def test_history_order_equality_and_next_revision() -> None:
    s = make_set()
    a = utils.new_revision(s, 1, 0)
    s2 = make_set()
    s2["spec"]["template"]["spec"]["containers"][0]["image"] = "x"
    b = utils.new_revision(s2, 2, 0)
    a2 = dict(a, revision=3)
    for r, ts in ((a, "2020-01-01T00:00:02Z"), (b, "2020-01-01T00:00:01Z"), (a2, "2020-01-01T00:00:00Z")):
        r["metadata"] = dict(r["metadata"], creationTimestamp=ts)
    ordered = hist.sort_controller_revisions([a2, b, a])
    assert [r["revision"] for r in ordered] == [1, 2, 3]
    assert utils.next_revision(ordered) == 4 and utils.next_revision([]) == 1
    assert hist.equal_revision(a, a2) and not hist.equal_revision(a, b)
    assert hist.find_equal_revisions(ordered, a) == [a, a2]
    assert hist.equal_revision(None, None) and not hist.equal_revision(a, None)


# ---- status ------------------------------------------------------------------------------------

def test_status_helpers() -> None:
    s = make_set(replicas=2)
    st = {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
          "currentReplicas": 1, "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "b",
          "collisionCount": 0}
    utils.complete_rolling_update(s, st)
    assert st["currentRevision"] == "b" and st["currentReplicas"] == 2
    assert utils.inconsistent_status(s, st)
    s["status"] = utils.status_to_api(st)
    assert not utils.inconsistent_status(s, dict(st, collisionCount=3))  # not compared, as upstream
    assert utils.status_to_api({"replicas": 0, "availableReplicas": 0, "collisionCount": 0,
                                "observedGeneration": 2, "currentRevision": "r", "updateRevision": "r",
                                "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0}) == {
        "observedGeneration": 2, "replicas": 0, "currentRevision": "r", "updateRevision": "r",
        "collisionCount": 0, "availableReplicas": 0}
    # OnDelete never completes a rolling update
    s["spec"]["updateStrategy"] = {"type": "OnDelete"}
    st2 = dict(st, currentRevision="a")
    utils.complete_rolling_update(s, st2)
    assert st2["currentRevision"] == "a"


@pytest.mark.parametrize("value,replicas,want", [
    (None, 10, 1), (3, 10, 3), ("50%", 10, 5), ("25%", 3, 1), ("1%", 10, 1), ("100%", 7, 7),
])
def test_max_unavailable(value: Any, replicas: int, want: int) -> None:
    assert utils.get_max_unavailable(value, replicas) == want


def test_max_unavailable_rejects_bare_string() -> None:
    with pytest.raises(ValueError):
        utils.get_max_unavailable("2", 10)


# ---- expectations ------------------------------------------------------------------------------

def test_controller_expectations() -> None:
    e = exp.ControllerExpectations(timeout=0.05)
    assert e.satisfied_expectations("k")
    e.expect_creations("k", 2)
    assert not e.satisfied_expectations("k")
    e.creation_observed("k")
    assert not e.satisfied_expectations("k")
    e.creation_observed("k")
    assert e.satisfied_expectations("k")
    e.expect_deletions("k", 1)
    assert not e.satisfied_expectations("k")
    time.sleep(0.06)
    assert e.satisfied_expectations("k")  # expired
    e.delete_expectations("k")
    assert e.get_expectations("k") is None


def test_uid_tracking_expectations_count_each_deletion_once() -> None:
    u = exp.UIDTrackingExpectations()
    u.expect_deletions("k", ["ns/a", "ns/b"])
    u.deletion_observed("k", "ns/a")
    u.deletion_observed("k", "ns/a")
    assert not u.satisfied_expectations("k")
    u.deletion_observed("k", "ns/b")
    assert u.satisfied_expectations("k")
    u.add_deletion("k", "ns/c")
    assert not u.satisfied_expectations("k")
    u.deletion_observed("k", "ns/c")
    assert u.satisfied_expectations("k")


class FakeInformer:
    def __init__(self) -> None:
        self.resource_version = "0"
        self.handlers: list[tuple[Any, Any, Any]] = []
        self.cache: dict[str, dict[str, Any]] = {}
        self.indexers: dict[str, Any] = {}

    def add_handlers(self, a: Any, u: Any, d: Any) -> None:
        self.handlers.append((a, u, d))

    def event(self, obj: dict[str, Any]) -> None:
        self.resource_version = obj["metadata"]["resourceVersion"]
        for a, _, _ in self.handlers:
            a(obj)

    def add_indexer(self, name: str, fn: Any) -> None:
        self.indexers[name] = fn

    def by_index(self, name: str, value: str) -> list[dict[str, Any]]:
        fn = self.indexers[name]
        return [o for o in self.cache.values() if value in fn(o)]


def test_resource_version_expectations_wait_for_own_writes() -> None:
    ready: list[str] = []
    later: list[tuple[str, float]] = []
    b = exp.ResourceVersionExpectations(ready.append, timeout=0.05,
                                        requeue_after=lambda k, t: later.append((k, t)))
    pods = FakeInformer()
    b.watch(pods)
    assert b.satisfied("k")
    b.observe_write("k", pods, {"metadata": {"resourceVersion": "7"}})
    b.observe_write("k", pods, {"metadata": {"resourceVersion": "5"}})
    assert not b.satisfied("k") and later == [("k", 0.05)]
    pods.event({"metadata": {"resourceVersion": "6"}})
    assert ready == []
    pods.event({"metadata": {"resourceVersion": "7"}})
    assert ready == ["k"]
    assert b.satisfied("k")
    b.observe_write("k", pods, {"metadata": {"resourceVersion": "99"}})
    assert not b.satisfied("k")
    time.sleep(0.06)
    assert b.satisfied("k")  # gave up waiting


# ---- ControllerRef management -------------------------------------------------------------------

class FakeClient:
    def __init__(self, owner: dict[str, Any], fail_get: bool = False) -> None:
        self.owner = owner
        self.fail_get = fail_get
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        self.gets = 0

    async def get(self, resource: str, ns: str | None, name: str) -> dict[str, Any]:
        self.gets += 1
        if self.fail_get:
            raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
        return self.owner

    async def patch(self, resource: str, ns: str | None, name: str, body: Any, patch_type: str) -> dict[str, Any]:
        self.patches.append((resource, name, body))
        return {"metadata": {"name": name, "resourceVersion": "10"}}


def _pod(name: str, labels: dict[str, str], owner_uid: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "default", "uid": "uid-" + name, "labels": labels}
    if owner_uid:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": owner_uid,
                                  "controller": True}]
    return {"metadata": md}


def test_index_by_controller_and_objects_for_owner() -> None:
    s = make_set()
    inf = FakeInformer()
    rm.ensure_controller_index(inf)
    inf.cache = {"a": _pod("web-0", {"app": "nginx"}, "set-uid"), "b": _pod("web-1", {"app": "nginx"}),
                 "c": _pod("x", {}, "other")}
    assert rm.index_by_controller(inf.cache["b"]) == ["orphan/default"]
    names = sorted(p["metadata"]["name"] for p in rm.objects_for_owner(inf, s))
    assert names == ["web-0", "web-1"]


def test_claim_adopts_orphans_and_releases_mismatches() -> None:
    s = make_set()
    client = FakeClient(s)
    sel = [("app", "=", ("nginx",))]
    mgr = rm.ControllerRefManager(client, s, sel, utils.CONTROLLER_KIND,
                                  can_adopt=rm.live_owner_check(client, "statefulsets.apps", s))
    owned = _pod("web-0", {"app": "nginx"}, "set-uid")
    orphan = _pod("web-1", {"app": "nginx"})
    mismatched = _pod("web-2", {"app": "other"}, "set-uid")
    foreign = _pod("web-3", {"app": "nginx"}, "someone-else")
    misnamed = _pod("db-0", {"app": "nginx"})
    claimed = asyncio.run(mgr.claim("pods", [owned, orphan, mismatched, foreign, misnamed],
                                    [lambda p: utils.is_member_of(s, p)]))
    assert [p["metadata"]["name"] for p in claimed] == ["web-0", "web-1"]
    assert client.gets == 1  # one live recheck before the first adoption
    (r1, n1, adopt), (r2, n2, release) = client.patches
    assert (r1, n1) == ("pods", "web-1") and adopt["metadata"]["uid"] == "uid-web-1"
    assert adopt["metadata"]["ownerReferences"][0]["controller"] is True
    assert (r2, n2) == ("pods", "web-2")
    assert release["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": "set-uid"}]


def test_no_adoption_when_owner_is_gone_or_deleting() -> None:
    s = make_set()
    client = FakeClient(s, fail_get=True)
    mgr = rm.ControllerRefManager(client, s, [("app", "=", ("nginx",))], utils.CONTROLLER_KIND,
                                  can_adopt=rm.live_owner_check(client, "statefulsets.apps", s))
    with pytest.raises(rm.ClaimErrors):
        asyncio.run(mgr.claim("pods", [_pod("web-1", {"app": "nginx"})]))
    assert client.patches == []
    deleting = make_set()
    deleting["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    mgr = rm.ControllerRefManager(FakeClient(deleting), deleting, [("app", "=", ("nginx",))],
                                  utils.CONTROLLER_KIND)
    assert asyncio.run(mgr.claim("pods", [_pod("web-1", {"app": "nginx"})])) == []


def test_slow_start_batch_sizes_and_stop_on_error() -> None:
    batches: list[list[int]] = []

    async def fn(i: int) -> bool:
        if not batches or len(batches[-1]) == 2 ** (len(batches) - 1):
            batches.append([])
        batches[-1].append(i)
        await asyncio.sleep(0)
        if i == 5:
            raise ApiError(500, "InternalError", "boom")
        return False

    ok, err = asyncio.run(slow_start_batch(1, list(range(20)), fn))
    # batches of 1, 2, 4: the third (3..6) holds the failure, so the run stops after it
    assert batches == [[0], [1, 2], [3, 4, 5, 6]]
    assert isinstance(err, ApiError) and ok == 6
    ok, err = asyncio.run(slow_start_batch(1, list(range(3)), lambda i: asyncio.sleep(0, False)))
    assert (ok, err) == (3, None)


def test_replica_checker_matches_the_full_checks() -> None:
    """The Parallel fast path decides exactly like process_replica's own checks."""
    import itertools

    from kubeling.controllers.statefulset.control import StatefulSetControl
    from kubeling.controllers.statefulset.pod_control import StatefulPodControl

    class Claims:
        def __init__(self) -> None:
            self.cache: dict[str, dict[str, Any]] = {}

        def get_by(self, ns: str | None, name: str) -> dict[str, Any] | None:
            return self.cache.get(f"{ns}/{name}")

    claims = Claims()
    pc = StatefulPodControl(None, None, claims, None)
    control = StatefulSetControl(pc, None, None)  # type: ignore[arg-type]

    def reference(set_: dict[str, Any], pod: dict[str, Any]) -> bool:
        if not utils.is_created(pod):
            return True
        if utils.is_failed(pod) or utils.is_succeeded(pod):
            return not utils.is_terminating(pod)
        if utils.is_pending(pod) and pc.claims_need_creation(set_, pod):
            return True
        if not pc.claims_match_retention_policy(set_, pod):
            return True
        return not (utils.identity_matches(set_, pod) and utils.storage_matches(set_, pod))

    policies = [None, {"whenDeleted": "Delete", "whenScaled": "Retain"}, {"whenDeleted": "Retain", "whenScaled": "Delete"},
                {"whenDeleted": "Delete", "whenScaled": "Delete"}]
    claim_states = ["missing", "plain", "deleting", "set-ref", "pod-ref"]
    pod_variants = ["ok", "no-label", "no-volume", "wrong-claim", "not-created", "failed", "failed-deleting",
                    "succeeded", "pending", "scaled-down"]
    checked = 0
    for pol, cstate, variant, tmpl in itertools.product(policies, claim_states, pod_variants, (True, False)):
        s = make_set(replicas=2, **({"persistentVolumeClaimRetentionPolicy": pol} if pol else {}))
        if not tmpl:
            s["spec"]["volumeClaimTemplates"] = []
        ordinal = 3 if variant == "scaled-down" else 1
        pod = pod_of(s, ordinal, phase={"failed": "Failed", "failed-deleting": "Failed", "succeeded": "Succeeded",
                                        "pending": "Pending"}.get(variant, "Running"))
        if variant == "no-label":
            del pod["metadata"]["labels"][utils.POD_NAME_LABEL]
        elif variant == "no-volume":
            pod["spec"].pop("volumes", None)
        elif variant == "wrong-claim" and tmpl:
            pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "other"
        elif variant == "not-created":
            pod.pop("status")
        elif variant == "failed-deleting":
            pod["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
        claims.cache = {}
        if cstate != "missing":
            c = _claim(f"www-web-{ordinal}")
            if cstate == "deleting":
                c["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
            elif cstate == "set-ref":
                c["metadata"]["ownerReferences"] = [utils._controller_ref_to(s, utils.CONTROLLER_KIND)]
            elif cstate == "pod-ref":
                c["metadata"]["ownerReferences"] = [utils._controller_ref_to(pod, utils.POD_KIND)]
            claims.cache[f"default/www-web-{ordinal}"] = c
        fast = control._replica_checks(s, s)[1](pod)
        assert fast == reference(s, pod), (pol, cstate, variant, tmpl)
        checked += 1
    assert checked == 400


def test_compute_hash_shape() -> None:
    assert hist.fnv32a(b"a") == 0xE40C292C and hist.fnv32a(b"foobar") == 0xBF9CF968  # FNV-1a test vectors
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    h = hist.compute_hash(t, None)
    assert h == hist.compute_hash(orjson.loads(orjson.dumps(t)), None)
    assert h != hist.compute_hash(t, 1) and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")

"""The StatefulSet reconcile pass in-process, against fake informers and a recording client: what one
pass writes for OrderedReady vs Parallel, scale-down, rolling update (with and without the
MaxUnavailableStatefulSet gate), partition, rollback renumbering and history truncation."""
from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
import pytest

from kubeling.api.errors import ApiError
from kubeling.controllers.common.history import History
from kubeling.controllers.common.refmanager import ensure_controller_index
from kubeling.controllers.statefulset.control import StatefulSetControl, StatusUpdater
from kubeling.controllers.statefulset.pod_control import StatefulPodControl

_rv = itertools.count(100)


class Informer:
    def __init__(self) -> None:
        self.cache: dict[str, dict[str, Any]] = {}
        self.indexers: dict[str, Any] = {}
        self.resource_version = "0"

    def add_indexer(self, name: str, fn: Any) -> None:
        self.indexers[name] = fn

    def get_by(self, ns: str | None, name: str) -> dict[str, Any] | None:
        return self.cache.get(f"{ns}/{name}")

    def by_index(self, name: str, value: str) -> list[dict[str, Any]]:
        return [o for o in self.cache.values() if value in self.indexers[name](o)]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


class Client:
    """Applies writes straight to the informer caches (an always-current cache)."""

    def __init__(self, informers: dict[str, Informer]) -> None:
        self.inf = informers
        self.log: list[tuple[str, str, str]] = []

    def _store(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = orjson.loads(orjson.dumps(obj))
        md = obj["metadata"]
        md["resourceVersion"] = str(next(_rv))
        self.inf[resource].cache[f"{md.get('namespace')}/{md['name']}"] = obj
        return obj

    async def create(self, resource: str, ns: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        md["namespace"] = ns
        if f"{ns}/{md['name']}" in self.inf[resource].cache:
            raise ApiError(409, "AlreadyExists", f'{resource} "{md["name"]}" already exists')
        md["uid"] = f"uid-{md['name']}-{next(_rv)}"
        md["creationTimestamp"] = "2020-01-01T00:00:00Z"
        if resource == "pods":
            obj["status"] = {"phase": "Pending"}
        self.log.append(("create", resource, md["name"]))
        return self._store(resource, obj)

    async def update(self, resource: str, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        self.log.append(("update", resource, obj["metadata"]["name"]))
        return self._store(resource, obj)

    async def update_status(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.log.append(("status", resource, obj["metadata"]["name"]))
        return self._store(resource, obj)

    async def delete(self, resource: str, ns: str | None, name: str) -> dict[str, Any]:
        self.log.append(("delete", resource, name))
        obj = self.inf[resource].cache[f"{ns}/{name}"]
        if resource == "pods":  # graceful: marked, the kubelet finishes it
            obj = orjson.loads(orjson.dumps(obj))
            obj["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
            return self._store(resource, obj)
        del self.inf[resource].cache[f"{ns}/{name}"]
        return obj

    async def get(self, resource: str, ns: str | None, name: str) -> dict[str, Any]:
        return orjson.loads(orjson.dumps(self.inf[resource].cache[f"{ns}/{name}"]))

    async def patch(self, *a: Any, **k: Any) -> dict[str, Any]:
        raise AssertionError("no patches expected")


class Env:
    def __init__(self, features: dict[str, bool] | None = None) -> None:
        self.inf = {r: Informer() for r in ("pods", "persistentvolumeclaims", "controllerrevisions.apps",
                                            "statefulsets.apps")}
        ensure_controller_index(self.inf["pods"])
        ensure_controller_index(self.inf["controllerrevisions.apps"])
        self.client = Client(self.inf)
        self.recorder = Recorder()
        pc = StatefulPodControl(self.client, self.inf["pods"], self.inf["persistentvolumeclaims"], self.recorder)
        self.control = StatefulSetControl(pc, StatusUpdater(self.client),
                                          History(self.client, self.inf["controllerrevisions.apps"]), features)

    def add_set(self, obj: dict[str, Any]) -> None:
        obj["metadata"].setdefault("uid", "set-uid")
        obj["metadata"].setdefault("generation", 1)
        self.inf["statefulsets.apps"].cache[f"default/{obj['metadata']['name']}"] = obj

    @property
    def set_(self) -> dict[str, Any]:
        return self.inf["statefulsets.apps"].cache["default/web"]

    def pods(self) -> dict[str, dict[str, Any]]:
        return {p["metadata"]["name"]: p for p in self.inf["pods"].cache.values()}

    def sync(self) -> dict[str, Any] | None:
        self.client.log.clear()
        owned = [p for p in self.inf["pods"].cache.values()]
        return asyncio.run(self.control.update_stateful_set(self.set_, owned))

    def kubelet(self, ready: bool = True) -> None:
        """Finish deletions and make every created pod Running (and Ready)."""
        cache = self.inf["pods"].cache
        for k, p in list(cache.items()):
            if p["metadata"].get("deletionTimestamp"):
                del cache[k]
                continue
            p["status"] = {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": "2020-01-01T00:00:00Z"}]}

    def writes(self, kind: str, resource: str = "pods") -> list[str]:
        return [n for (k, r, n) in self.client.log if k == kind and r == resource]


def make_set(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": "OrderedReady",
                 "selector": {"matchLabels": {"app": "nginx"}}, "revisionHistoryLimit": 10,
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.7.9"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                     "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]},
        "status": {"replicas": 0, "availableReplicas": 0},
    }
    s["spec"].update(spec)
    return s


def converge(env: Env, passes: int = 50) -> None:
    for _ in range(passes):
        env.sync()
        env.kubelet()
        if not env.client.log or env.client.log == [("status", "statefulsets.apps", "web")]:
            env.sync()
            if not [w for w in env.client.log if w[0] != "status"]:
                return
    raise AssertionError("did not converge")


def set_image(env: Env, image: str) -> None:
    s = orjson.loads(orjson.dumps(env.set_))
    s["spec"]["template"]["spec"]["containers"][0]["image"] = image
    s["metadata"]["generation"] += 1
    env.add_set(s)


def test_ordered_ready_creates_one_pod_per_pass_claims_first() -> None:
    env = Env()
    env.add_set(make_set(3))
    env.sync()
    assert env.client.log[:3] == [("create", "controllerrevisions.apps", env.client.log[0][2]),
                                  ("create", "persistentvolumeclaims", "www-web-0"), ("create", "pods", "web-0")]
    env.sync()  # web-0 is Pending: nothing more
    assert env.writes("create") == []
    env.kubelet(ready=False)
    env.sync()
    assert env.writes("create") == []  # Running but not Ready: still halted
    env.kubelet()
    env.sync()
    assert env.writes("create") == ["web-1"]
    st = env.set_["status"]
    # as upstream: the pass counts the pod it just created only on the next pass
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"]) == (1, 1, 1, 1)
    env.sync()
    st = env.set_["status"]
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"]) == (2, 1, 2, 2)
    assert ("Normal", "SuccessfulCreate", "create Claim www-web-1 Pod web-1 in StatefulSet web success") in \
        env.recorder.events


def test_parallel_creates_everything_in_one_pass() -> None:
    env = Env()
    env.add_set(make_set(5, podManagementPolicy="Parallel"))
    env.sync()
    assert sorted(env.writes("create")) == [f"web-{i}" for i in range(5)]
    assert len(env.writes("create", "persistentvolumeclaims")) == 5
    env.sync()
    assert [w for w in env.client.log if w[0] != "status"] == []  # settled pods cost no writes


def test_scale_down_highest_first_one_at_a_time() -> None:
    env = Env()
    env.add_set(make_set(3))
    converge(env)
    s = orjson.loads(orjson.dumps(env.set_))
    s["spec"]["replicas"] = 1
    env.add_set(s)
    env.sync()
    assert env.writes("delete") == ["web-2"]
    env.sync()  # web-2 terminating: wait
    assert env.writes("delete") == []
    env.kubelet()
    env.sync()
    assert env.writes("delete") == ["web-1"]
    env.kubelet()
    env.sync()
    assert set(env.pods()) == {"web-0"}


def test_rolling_update_highest_first_and_partition() -> None:
    env = Env()
    env.add_set(make_set(3))
    converge(env)
    old = env.set_["status"]["currentRevision"]
    set_image(env, "nginx:1.9.1")
    order = []
    for _ in range(20):
        env.sync()
        order += env.writes("delete")
        env.kubelet()
    assert order == ["web-2", "web-1", "web-0"]
    st = env.set_["status"]
    assert st["currentRevision"] == st["updateRevision"] != old
    assert {p["spec"]["containers"][0]["image"] for p in env.pods().values()} == {"nginx:1.9.1"}
    # partition 2: only web-2 is replaced
    s = orjson.loads(orjson.dumps(env.set_))
    s["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    env.add_set(s)
    set_image(env, "nginx:1.10")
    order = []
    for _ in range(10):
        env.sync()
        order += env.writes("delete")
        env.kubelet()
    assert order == ["web-2"]
    assert [env.pods()[f"web-{i}"]["spec"]["containers"][0]["image"] for i in range(3)] == \
        ["nginx:1.9.1", "nginx:1.9.1", "nginx:1.10"]


@pytest.mark.parametrize("gate,max_unavailable,partition,want", [
    (False, 2, 0, ["web-4"]),
    (True, 2, 0, ["web-4", "web-3"]),
    (True, "60%", 0, ["web-4", "web-3", "web-2"]),
    (True, 3, 3, ["web-4", "web-3"]),
])
def test_max_unavailable_behind_feature_gate(gate: bool, max_unavailable: Any, partition: int,
                                             want: list[str]) -> None:
    env = Env({"MaxUnavailableStatefulSet": gate})
    env.add_set(make_set(5, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {
        "partition": partition, "maxUnavailable": max_unavailable}}))
    converge(env)
    set_image(env, "nginx:1.9.1")
    env.sync()
    assert env.writes("delete") == want


def test_on_delete_and_failed_pods() -> None:
    env = Env()
    env.add_set(make_set(2, updateStrategy={"type": "OnDelete"}))
    converge(env)
    set_image(env, "nginx:1.9.1")
    for _ in range(3):
        env.sync()
        assert env.writes("delete") == []
    # a failed pod is deleted, and recreated (at the update revision) once it is gone
    env.inf["pods"].cache["default/web-1"]["status"]["phase"] = "Failed"
    env.sync()
    assert env.writes("delete") == ["web-1"]
    env.kubelet()
    env.sync()
    assert env.writes("create") == ["web-1"]
    assert env.pods()["web-1"]["spec"]["containers"][0]["image"] == "nginx:1.9.1"
    assert env.pods()["web-0"]["spec"]["containers"][0]["image"] == "nginx:1.7.9"


def test_rollback_renumbers_revision_and_history_is_truncated() -> None:
    env = Env()
    env.add_set(make_set(1, revisionHistoryLimit=1))
    converge(env)
    for image in ("a", "b", "c"):
        set_image(env, image)
        converge(env)
    revs = env.inf["controllerrevisions.apps"].cache
    # live: the current one; one more kept by revisionHistoryLimit=1
    assert sorted(r["revision"] for r in revs.values()) == [3, 4]
    set_image(env, "b")  # back to revision 3's template: renumbered, not duplicated
    converge(env)
    assert sorted(r["revision"] for r in revs.values()) == [4, 5]
    assert env.set_["status"]["updateRevision"] == [r["metadata"]["name"] for r in revs.values()
                                                    if r["revision"] == 5][0]

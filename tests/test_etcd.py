"""The etcd storage backend and the control plane split into processes (issue 9).

- Store level: several EtcdStores on one etcd (as several API servers) agree, watch every write in
  order with no gaps, detect conflicts through stale mirrors, resync after etcd compaction, and ride
  out an etcd restart. (The generic store contract runs on etcd too: tests/unit/test_store.py.)
- Process level: two `kubeling apiserver` processes on one etcd serve the same objects and a watch on
  one sees writes made through the other; compaction gives 410 Gone; two leader-elected
  `kubeling controller-manager` processes fail over after kill -9 with no duplicate pods or claims;
  `kubeling up --storage etcd` keeps its state across a crash.

Every test has its own etcd key prefix on the per-worker etcd (`etcd_server`), so nothing leaks
between tests. Skipped when Debian's etcd is not installed.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import etcd_util
import pytest
from conftest import REPO, KubelingCluster, wait_for
from etcd_util import EtcdCluster, have_etcd, unique_prefix
from statefulset_checks import STS, check_statefulset, ready_count

from kubeling.storage.base import ADDED, DELETED, MODIFIED, Compacted, RevisionConflict
from kubeling.storage.etcd import open_etcd

etcd_server = etcd_util.etcd_server  # one etcd per pytest worker (fixture)

pytestmark = pytest.mark.skipif(not have_etcd(), reason="etcd is not installed (apt-get install etcd-server)")


def obj(name: str, ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, **extra}


def key(name: str, ns: str = "default") -> str:
    return f"/registry/core/configmaps/{ns}/{name}"


async def wait_until(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def collect(w: Any, n: int, timeout: float = 10.0) -> list[Any]:
    out = []
    while len(out) < n:
        ev = await w.next(timeout)
        assert ev is not None, f"expected {n} events, got {len(out)}"
        out.append(ev)
    return out


# ---- store level ------------------------------------------------------------------------------------------

def test_two_stores_agree_and_watch_every_write_in_order(etcd_server: EtcdCluster) -> None:
    async def body() -> None:
        pfx = unique_prefix()
        a = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        b = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        wa = a.watch("/registry/core/configmaps/", a.revision)
        wb = b.watch("/registry/core/configmaps/", b.revision)

        async def writer(s: Any, tag: str, n: int) -> list[int]:
            revs = []
            for i in range(n):
                kv = await s.create(key(f"{tag}{i}"), obj(f"{tag}{i}"))
                revs.append(kv.mod_rev)
                if i % 3 == 0:
                    revs.append((await s.update(kv.key, kv.copy(), kv.mod_rev)).mod_rev)
                if i % 5 == 0:
                    revs.append((await s.delete(kv.key)).mod_rev)
            return revs

        # Both "API servers" write at once, interleaving their revisions.
        ra, rb = await asyncio.gather(writer(a, "a", 60), writer(b, "b", 60))
        written = sorted(ra + rb)
        for w in (wa, wb):
            evs = await collect(w, len(written))
            assert [e.rev for e in evs] == written  # every write, in revision order, no gaps
            for e in evs:
                assert e.kv.obj["metadata"]["resourceVersion"] == str(e.rev)
                if e.type == MODIFIED:
                    assert e.prev is not None and e.prev.mod_rev < e.rev
        await wait_until(lambda: a.revision == b.revision)
        # Both mirrors hold the same objects, with the same bytes.
        la, lb = a.list("/registry/core/configmaps/")[0], b.list("/registry/core/configmaps/")[0]
        assert [(kv.key, kv.mod_rev, kv.raw) for kv in la] == [(kv.key, kv.mod_rev, kv.raw) for kv in lb]
        assert len(la) == 120 - 2 * 12
        # Read-your-writes: an acknowledged write is visible at once on the store that made it.
        kv = await b.create(key("ryw"), obj("ryw"))
        assert b.get(key("ryw")) is kv
        # etcd holds no resourceVersion: it is the etcd revision, stamped on read.
        raw = await _etcd_get(etcd_server.endpoints, (pfx + key("ryw")).encode())
        assert "resourceVersion" not in json.loads(raw)["metadata"]
        for s in (a, b):
            await s.close()

    asyncio.run(body())


async def _etcd_get(endpoints: str, k: bytes) -> bytes:
    import aetcd

    host, port = endpoints.split(",")[0].rsplit("//", 1)[1].split(":")
    async with aetcd.Client(host=host, port=int(port)) as c:
        r = await c.get(k)
        return r.value


def test_conflict_through_a_stale_mirror_then_catches_up(etcd_server: EtcdCluster) -> None:
    async def body() -> None:
        pfx = unique_prefix()
        a = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        b = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        kv = await a.create(key("x"), obj("x"))
        await wait_until(lambda: b.get(key("x")) is not None)
        newer = await a.update(key("x"), {**kv.copy(), "data": {"v": "2"}}, kv.mod_rev)
        # b writes on the version it knew: etcd refuses, b reports the current version ...
        with pytest.raises(RevisionConflict) as ei:
            await b.update(key("x"), kv.copy(), kv.mod_rev)
        assert ei.value.current is not None and ei.value.current.mod_rev == newer.mod_rev
        # ... and its mirror has caught up, so a retry reads fresh state.
        assert b.get(key("x")).mod_rev == newer.mod_rev
        with pytest.raises(Exception) as ei2:
            await b.create(key("x"), obj("x"))
        assert type(ei2.value).__name__ == "KeyExists"
        for s in (a, b):
            await s.close()

    asyncio.run(body())


def test_resync_after_etcd_compaction_closes_watchers(etcd_server: EtcdCluster) -> None:
    async def body() -> None:
        pfx = unique_prefix()
        a = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        b = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        gone = await a.create(key("gone"), obj("gone"))
        await wait_until(lambda: b.get(key("gone")) is not None)
        wb = b.watch("/registry/core/configmaps/", b.revision)
        # b's etcd watch stops (a partition), a keeps writing and compacts etcd past b's revision.
        b._watch_task.cancel()
        await asyncio.sleep(0.05)
        await a.delete(gone.key)
        for i in range(5):
            await a.create(key(f"n{i}"), obj(f"n{i}"))
        await a.compact(a.revision)
        # b's watch cannot resume: b re-reads everything, and its watchers must start over (410).
        b._watch_task = asyncio.get_running_loop().create_task(b._watch_loop())
        await wait_until(lambda: b.resyncs == 1)
        assert b.get(key("gone")) is None
        assert b.count("/registry/core/configmaps/") == 5 and b.revision >= a.revision
        with pytest.raises(Compacted):
            async for _ in wb:
                pass
        with pytest.raises(Compacted):
            b.watch("/registry/core/configmaps/", gone.mod_rev)
        # After the resync b follows etcd again.
        w2 = b.watch("/registry/core/configmaps/", b.revision)
        kv = await a.create(key("later"), obj("later"))
        (ev,) = await collect(w2, 1)
        assert (ev.type, ev.rev) == (ADDED, kv.mod_rev)
        for s in (a, b):
            await s.close()

    asyncio.run(body())


def test_store_rides_out_an_etcd_restart(tmp_path: Any) -> None:
    etcd = EtcdCluster(1, base_dir=str(tmp_path)).start()

    async def body() -> None:
        a = await open_etcd(etcd.endpoints)
        w = a.watch("/registry/core/configmaps/", a.revision)
        first = await a.create(key("before"), obj("before"))
        etcd.kill(0)
        write = asyncio.get_running_loop().create_task(a.create(key("during"), obj("during")))
        await asyncio.sleep(1.0)
        assert not write.done()  # retried while etcd is down ...
        etcd.start_member(0)
        etcd.wait_healthy()
        during = await asyncio.wait_for(write, 30)  # ... and applied once it is back
        assert during.mod_rev > first.mod_rev
        b = await open_etcd(etcd.endpoints)
        assert b.get(key("before")) is not None and b.get(key("during")) is not None
        after = await b.create(key("after"), obj("after"))
        evs = await collect(w, 3, timeout=30)
        assert [(e.kv.key, e.rev) for e in evs] == [(key("before"), first.mod_rev), (key("during"), during.mod_rev),
                                                    (key("after"), after.mod_rev)]
        await a.close()
        await b.close()

    try:
        asyncio.run(body())
    finally:
        etcd.stop()


def test_deletes_and_updates_carry_previous_state(etcd_server: EtcdCluster) -> None:
    async def body() -> None:
        pfx = unique_prefix()
        a = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        b = await open_etcd(etcd_server.endpoints, key_prefix=pfx)
        wb = b.watch("/registry/core/configmaps/", b.revision)
        kv = await a.create(key("x"), obj("x", data={"v": "1"}))
        kv2 = await a.update(kv.key, {**kv.copy(), "data": {"v": "2"}}, kv.mod_rev)
        d = await a.delete(kv.key, kv2.mod_rev)
        evs = await collect(wb, 3)
        assert [e.type for e in evs] == [ADDED, MODIFIED, DELETED]
        assert evs[1].prev.obj["data"] == {"v": "1"} and evs[1].kv.create_rev == kv.mod_rev
        # The tombstone is the last state stamped with the deletion revision, on both servers.
        assert evs[2].kv.obj["data"] == {"v": "2"} and evs[2].rev == d.mod_rev
        assert d.obj["metadata"]["resourceVersion"] == str(d.mod_rev)
        for s in (a, b):
            await s.close()

    asyncio.run(body())


# ---- processes ----------------------------------------------------------------------------------------------

class ApiServerProc(KubelingCluster):
    """`kubeling apiserver` on etcd, reusing KubelingCluster's lifecycle and clients."""

    def __init__(self, base_dir: str, etcd: str, prefix: str, pki_dir: str | None = None,
                 extra: tuple[str, ...] = (), name: str = "apiserver") -> None:
        super().__init__(base_dir, extra, name=name)
        self.etcd, self.prefix, self.pki_dir = etcd, prefix, pki_dir
        os.makedirs(self.data_dir, exist_ok=True)
        if pki_dir:  # the test helpers read DATA_DIR/pki; the server itself is told --pki-dir
            os.symlink(pki_dir, os.path.join(self.data_dir, "pki"))

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "kubeling", "apiserver", "--data-dir", self.data_dir, "--port", str(self.port),
               "--kubeconfig", self.kubeconfig, "--storage", "etcd", "--etcd-servers", self.etcd,
               "--etcd-prefix", self.prefix, "--quiet", *self.extra_args]
        if self.pki_dir:
            cmd += ["--pki-dir", self.pki_dir]
        return cmd


def diagnose(procs: list[Any], lines: int = 25) -> str:
    """The tail of every component's log, for a failure message."""
    return "\n".join(f"--- {p.name}\n{p.log_tail(lines)}" for p in procs)


class Proc:
    """A component process (controller-manager, scheduler, node agent) with its log."""

    def __init__(self, name: str, args: list[str], log_dir: str) -> None:
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "kubeling", *args], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, n: int = 40) -> str:
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    """Everything a test starts; stopped (and its log shown on failure) afterwards."""
    started: list[Any] = []
    yield started
    for p in reversed(started):
        if isinstance(p, Proc):
            p.kill(signal.SIGTERM)
        else:
            p.stop()


def _apiservers(tmp_path: Any, etcd: str, procs: list[Any], n: int = 2,
                extra: tuple[str, ...] = ()) -> list[ApiServerProc]:
    prefix = unique_prefix()
    first = ApiServerProc(str(tmp_path / "api0"), etcd, prefix, extra=extra, name="api0")
    procs.append(first)
    first.start()
    out = [first]
    for i in range(1, n):
        s = ApiServerProc(str(tmp_path / f"api{i}"), etcd, prefix, pki_dir=os.path.join(first.data_dir, "pki"),
                          extra=extra, name=f"api{i}")
        procs.append(s)
        s.start()
        out.append(s)
    return out


def test_two_apiservers_serve_the_same_objects_and_watches(tmp_path: Any, etcd_server: EtcdCluster,
                                                           procs: list[Any]) -> None:
    from kubernetes import client, watch

    a, b = _apiservers(tmp_path, etcd_server.endpoints, procs)
    a.kubectl("create", "namespace", "shared")
    a.kubectl("-n", "shared", "create", "configmap", "one", "--from-literal=k=v")
    got = json.loads(b.kubectl("-n", "shared", "get", "configmap", "one", "-o", "json").stdout)
    assert got["data"] == {"k": "v"}
    # One PKI: the token of one API server is valid on the other.
    assert a.token() == b.token()

    va, vb = client.CoreV1Api(a.api_client()), client.CoreV1Api(b.api_client())
    start_rv = vb.list_namespaced_config_map("shared").metadata.resource_version
    n = 40
    seen: list[tuple[str, str, int]] = []
    done = threading.Event()

    def follow() -> None:
        w = watch.Watch()
        for ev in w.stream(vb.list_namespaced_config_map, "shared", resource_version=start_rv, timeout_seconds=60):
            o = ev["object"]
            seen.append((ev["type"], o.metadata.name, int(o.metadata.resource_version)))
            if len(seen) >= 2 * n:
                w.stop()
        done.set()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    time.sleep(0.5)
    written: list[tuple[str, str, int]] = []
    for i in range(n):
        api = va if i % 2 == 0 else vb  # alternate the server each write goes through
        cm = api.create_namespaced_config_map("shared", {"metadata": {"name": f"cm{i}"}, "data": {"i": str(i)}})
        written.append(("ADDED", f"cm{i}", int(cm.metadata.resource_version)))
        cm.data["i"] = f"{i}!"
        cm = (vb if i % 2 == 0 else va).replace_namespaced_config_map(f"cm{i}", "shared", cm)
        written.append(("MODIFIED", f"cm{i}", int(cm.metadata.resource_version)))
    assert done.wait(60), f"watch saw {len(seen)} of {2 * n} events"
    # Every write, whichever server took it, in revision order, nothing missing, nothing extra.
    assert seen == sorted(written, key=lambda e: e[2])
    # Lists through either server agree once both have caught up.
    wait_for(lambda: len(va.list_namespaced_config_map("shared").items) == n + 1, 10, what="list on a")
    names_a = sorted(c.metadata.name for c in va.list_namespaced_config_map("shared").items)
    names_b = sorted(c.metadata.name for c in vb.list_namespaced_config_map("shared").items)
    assert names_a == names_b
    # An update through one server on a version read from the other: optimistic concurrency across servers.
    cur = va.read_namespaced_config_map("cm0", "shared")
    cur.data = {"by": "b"}
    vb.replace_namespaced_config_map("cm0", "shared", cur)
    cur.data = {"by": "a"}
    with pytest.raises(client.ApiException) as ei:
        va.replace_namespaced_config_map("cm0", "shared", cur)
    assert ei.value.status == 409
    assert va.read_namespaced_config_map("cm0", "shared").data == {"by": "b"}


def test_compaction_gives_410_gone(tmp_path: Any, etcd_server: EtcdCluster, procs: list[Any]) -> None:
    (a,) = _apiservers(tmp_path, etcd_server.endpoints, procs, n=1, extra=("--etcd-compaction-interval", "1s"))
    a.kubectl("create", "configmap", "c", "--from-literal=v=0")
    old = int(json.loads(a.kubectl("get", "configmap", "c", "-o", "json").stdout)["metadata"]["resourceVersion"])
    # Writes over a few compaction intervals: history older than about one interval is compacted.
    deadline = time.monotonic() + 4.0
    i = 0
    while time.monotonic() < deadline:
        i += 1
        a.kubectl("patch", "configmap", "c", "-p", json.dumps({"data": {"v": str(i)}}))
        time.sleep(0.2)
    code, _, body = a.request("GET", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={old}"
                                     "&timeoutSeconds=2")
    # Upstream reports it inside the stream: one ERROR event carrying a 410 Status.
    if code == 200:
        first = json.loads(body.splitlines()[0])
        assert first["type"] == "ERROR", first
        status = first["object"]
    else:
        status = json.loads(body)
    assert status["code"] == 410 and status["reason"] in ("Expired", "Gone"), status
    # The compaction reached etcd itself, not only the API server's cache.
    assert asyncio.run(_etcd_revision_compacted(etcd_server.endpoints, old))
    # A watch from a current revision still works.
    rv = json.loads(a.kubectl("get", "configmap", "c", "-o", "json").stdout)["metadata"]["resourceVersion"]
    code, _, body = a.request("GET", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
                                     "&timeoutSeconds=1")
    assert code == 200 and b'"ERROR"' not in body


async def _etcd_revision_compacted(endpoints: str, rev: int) -> bool:
    import aetcd
    from aetcd import rpc

    host, port = endpoints.split(",")[0].rsplit("//", 1)[1].split(":")
    async with aetcd.Client(host=host, port=int(port)) as c:
        try:
            await c.kvstub.Range(rpc.RangeRequest(key=b"/", range_end=b"\x00", limit=1, revision=rev))
        except rpc.AioRpcError as e:
            return e.code() == rpc.StatusCode.OUT_OF_RANGE
    return False


def lease_holder(c: KubelingCluster, name: str) -> dict[str, Any]:
    cp = c.kubectl("-n", "kube-system", "get", "lease", name, "-o", "json", check=False)
    return json.loads(cp.stdout)["spec"] if cp.returncode == 0 else {}


LEASE, RENEW, RETRY = 6.0, 4.0, 1.0


def test_controller_manager_failover_without_duplicates(tmp_path: Any, etcd_server: EtcdCluster,
                                                        procs: list[Any]) -> None:
    a, b = _apiservers(tmp_path, etcd_server.endpoints, procs)
    le = ["--leader-elect-lease-duration", f"{LEASE}s", "--leader-elect-renew-deadline", f"{RENEW}s",
          "--leader-elect-retry-period", f"{RETRY}s"]
    logs = str(tmp_path)
    cms = {}
    for ident, api in (("cm-a", a), ("cm-b", b)):
        cms[ident] = Proc(ident, ["controller-manager", "--kubeconfig", api.kubeconfig, "--data-dir",
                                  str(tmp_path / ident), "--leader-elect-identity", ident, *le], logs)
        procs.append(cms[ident])
    procs.append(Proc("sched", ["scheduler", "--kubeconfig", b.kubeconfig, *le], logs))
    for n in ("node1", "node2"):
        procs.append(Proc(n, ["node", "--name", n, "--kubeconfig", a.kubeconfig, "--pod-start-delay", "0.2"], logs))
    wait_for(lambda: lease_holder(a, "kube-controller-manager").get("holderIdentity") in cms, 30,
             what="a controller-manager leader")
    b.kubectl("apply", "-f", "-", input=STS.replace("REPLICAS", "3"))
    wait_for(lambda: ready_count(a) == 3, 60, what="3 ready replicas")

    spec = lease_holder(a, "kube-controller-manager")
    leader, standby = spec["holderIdentity"], ({"cm-a", "cm-b"} - {spec["holderIdentity"]}).pop()
    assert cms[standby].proc.poll() is None
    killed_at = time.monotonic()
    assert cms[leader].kill() == -signal.SIGKILL
    # Work arrives while nobody leads: it must not be missed.
    a.kubectl("scale", "statefulset", "web", "--replicas=8")
    wait_for(lambda: lease_holder(a, "kube-controller-manager").get("holderIdentity") == standby,
             LEASE + 3 * RETRY * 2.2 + 10, interval=0.2, what="the standby to take the lease")
    took = time.monotonic() - killed_at
    # Within the lease duration of the last renewal the standby saw, plus its polling.
    assert took < LEASE + 2 * RETRY * 2.2 + 4, took
    spec = lease_holder(a, "kube-controller-manager")
    assert spec["leaseTransitions"] >= 1 and spec["leaseDurationSeconds"] == int(LEASE)
    wait_for(lambda: ready_count(b) == 8, 90, what="8 ready replicas after failover")
    check_statefulset(a, 8)
    # The standby-turned-leader keeps renewing; the killed one is gone for good.
    assert cms[standby].proc.poll() is None, cms[standby].log_tail()
    events = json.loads(a.kubectl("-n", "kube-system", "get", "events", "-o", "json").stdout)["items"]
    assert any(e["reason"] == "LeaderElection" and standby in e["message"] for e in events)


def test_kubeling_up_on_etcd_survives_a_crash(etcd_server: EtcdCluster, make_cluster: Any) -> None:
    c = make_cluster("--storage", "etcd", "--etcd-servers", etcd_server.endpoints, "--etcd-prefix", unique_prefix(),
                     "--pod-start-delay", "0.2")
    c.kubectl("apply", "-f", "-", input=STS.replace("REPLICAS", "3"))
    wait_for(lambda: ready_count(c) == 3, 60, what="3 ready replicas")
    rv_before = int(json.loads(c.kubectl("get", "sts", "web", "-o", "json").stdout)["metadata"]["resourceVersion"])
    c.kill()
    c.start()
    # State and revisions continue from etcd (nothing is kept in the data dir).
    assert not os.path.exists(os.path.join(c.data_dir, "state.db"))
    c.kubectl("scale", "statefulset", "web", "--replicas=5")
    wait_for(lambda: ready_count(c) == 5, 60, what="5 ready replicas after restart")
    rv_after = int(json.loads(c.kubectl("get", "sts", "web", "-o", "json").stdout)["metadata"]["resourceVersion"])
    assert rv_after > rv_before
    check_statefulset(c, 5)



LONG = os.environ.get("KUBELING_LONG") == "1"


@pytest.mark.timeout(900)
def test_rollout_survives_losing_leader_apiserver_and_etcd_member(tmp_path: Any, procs: list[Any]) -> None:
    """Must-show 2: three etcd members, two API servers, two controller-managers, two schedulers; a
    StatefulSet rollout completes while the leading controller-manager, then an API server, then an
    etcd member are killed (SIGKILL) in turn. (100 replicas with KUBELING_LONG=1.)"""
    replicas = 100 if LONG else 30
    # Upstream's default timings here: losing an etcd member can stall writes for several seconds while
    # the client fails over, longer than the shortened renew deadline of the failover test tolerates
    # (a leader that cannot renew in time steps down and exits, as upstream's do).
    lease, renew, retry = 15.0, 10.0, 2.0
    etcd = EtcdCluster(3, base_dir=str(tmp_path / "etcd")).start()
    try:
        a, b = _apiservers(tmp_path, etcd.endpoints, procs)
        le = ["--leader-elect-lease-duration", f"{lease}s", "--leader-elect-renew-deadline", f"{renew}s",
              "--leader-elect-retry-period", f"{retry}s"]
        both = {a: f"{a.url},{b.url}", b: f"{b.url},{a.url}"}
        logs = str(tmp_path)
        cms = {}
        for ident, api in (("cm-a", a), ("cm-b", b)):
            cms[ident] = Proc(ident, ["controller-manager", "--kubeconfig", api.kubeconfig, "--master", both[api],
                                      "--data-dir", str(tmp_path / ident), "--leader-elect-identity", ident, *le], logs)
            procs.append(cms[ident])
        for ident, api in (("sched-a", a), ("sched-b", b)):
            procs.append(Proc(ident, ["scheduler", "--kubeconfig", api.kubeconfig, "--master", both[api], *le], logs))
        for n in ("node1", "node2"):
            procs.append(Proc(n, ["node", "--name", n, "--kubeconfig", a.kubeconfig, "--pod-start-delay", "0.2"],
                              logs))
        wait_for(lambda: lease_holder(a, "kube-controller-manager").get("holderIdentity") in cms, 30,
                 what="a controller-manager leader")
        a.kubectl("apply", "-f", "-", input=STS.replace("REPLICAS", str(replicas)))
        wait_for(lambda: ready_count(a) >= 3, 60, what="the rollout to start")
        # 1. The leading controller-manager.
        leader = lease_holder(a, "kube-controller-manager")["holderIdentity"]
        assert cms[leader].kill() == -signal.SIGKILL
        standby = ({"cm-a", "cm-b"} - {leader}).pop()
        wait_for(lambda: lease_holder(a, "kube-controller-manager").get("holderIdentity") == standby,
                 lease + 3 * retry * 2.2 + 10, what="the standby controller-manager to lead")
        progress = ready_count(a)
        wait_for(lambda: ready_count(a) > progress, 60, what="the rollout to go on under the new leader")
        # 2. An API server (the one the nodes do not use): its clients fail over to the other.
        b.kill()
        progress = ready_count(a)
        wait_for(lambda: ready_count(a) > progress, 60, what="the rollout to go on without API server b")
        # 3. An etcd member: the API servers' etcd client moves to the remaining two (still a quorum).
        etcd.kill(0)
        wait_for(lambda: ready_count(a) == replicas, 60 + replicas * 2, interval=0.5,
                 what=f"{replicas} ready replicas")
        check_statefulset(a, replicas)
        assert cms[standby].proc.poll() is None, cms[standby].log_tail()
    except AssertionError as e:
        raise AssertionError(f"{e}\n{diagnose(list(procs))}") from None
    finally:
        for p in reversed(procs):
            if isinstance(p, Proc):
                p.kill(signal.SIGTERM)
            else:
                p.stop()
        procs.clear()
        etcd.stop()

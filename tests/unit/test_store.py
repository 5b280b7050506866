"""The versioned store (DESIGN.md layer 1): revisions, conflicts, watch, compaction, durability.

Every behaviour is checked on every backend (memory, SQLite, and etcd when Debian's etcd is
installed) unless it is about the disk. etcd's revision counter is shared by everything in the
etcd server and starts above zero, so revisions are asserted relative to the store's revision
when the test opened it (`r0`): the contract is the same, only the origin differs.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubeling.storage.base import (
    ADDED,
    DELETED,
    MODIFIED,
    Compacted,
    KeyExists,
    KeyNotFound,
    RevisionConflict,
)
from kubeling.storage.sqlite import open_memory, open_sqlite
from kubeling.storage.store import Store

try:  # tests/ is on sys.path through its conftest.py
    from etcd_util import etcd_server, have_etcd, unique_prefix  # noqa: F401
except ImportError:  # pragma: no cover
    have_etcd = None  # type: ignore[assignment]


def obj(name: str, ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, **extra}


def key(name: str, ns: str = "default") -> str:
    return f"/registry/configmaps/{ns}/{name}"


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def open_store(request: pytest.FixtureRequest, tmp_path: Any) -> Callable[[], Awaitable[Store]]:
    """An async factory: each call opens the store (for sqlite: the same file again, as a restart does;
    for etcd: the same key prefix again)."""
    path = os.path.join(tmp_path, "state.db")
    endpoints = prefix = ""
    if request.param == "etcd":
        if have_etcd is None or not have_etcd():
            pytest.skip("etcd is not installed (apt-get install etcd-server)")
        endpoints = request.getfixturevalue("etcd_server").endpoints
        prefix = unique_prefix()

    async def factory() -> Store:
        if request.param == "memory":
            return open_memory()
        if request.param == "sqlite":
            return open_sqlite(path)
        from kubeling.storage.etcd import open_etcd

        return await open_etcd(endpoints, key_prefix=prefix)

    factory.kind = request.param  # type: ignore[attr-defined]
    return factory


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro_fn())


async def drain(w: Any, n: int, timeout: float = 2.0) -> list[Any]:
    out = []
    for _ in range(n):
        ev = await w.next(timeout)
        assert ev is not None, f"expected {n} events, got {len(out)}"
        out.append(ev)
    return out


# ---- writes and revisions -----------------------------------------------------------------------------

Opener = Callable[[], Awaitable[Store]]


def test_create_update_delete_revisions(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        a = await s.create(key("a"), obj("a"))
        b = await s.create(key("b"), obj("b"))
        assert (a.create_rev, a.mod_rev) == (r0 + 1, r0 + 1)
        assert (b.create_rev, b.mod_rev) == (r0 + 2, r0 + 2)
        assert a.obj["metadata"]["resourceVersion"] == str(r0 + 1)
        assert s.revision == r0 + 2
        u = await s.update(key("a"), {**a.copy(), "data": {"k": "v"}}, expected_rev=r0 + 1)
        assert (u.create_rev, u.mod_rev) == (r0 + 1, r0 + 3)
        assert u.obj["metadata"]["resourceVersion"] == str(r0 + 3)
        assert s.get(key("a")).obj["data"] == {"k": "v"}
        d = await s.delete(key("b"))
        # The delete is a revision of its own; the tombstone carries the last state stamped with it.
        assert d.mod_rev == r0 + 4 and s.revision == r0 + 4
        assert d.obj["metadata"]["name"] == "b" and d.obj["metadata"]["resourceVersion"] == str(r0 + 4)
        assert s.get(key("b")) is None
        # Deleting must not have mutated the previous version readers may still hold.
        assert b.obj["metadata"]["resourceVersion"] == str(r0 + 2)
        await s.close()

    run(body)


def test_raw_bytes_match_object_and_copy_is_private(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        kv = await s.create(key("a"), obj("a", data={"x": "1"}))
        c = kv.copy()
        assert c == kv.obj
        c["data"]["x"] = "2"
        assert kv.obj["data"]["x"] == "1"
        assert s.get(key("a")).raw == kv.raw
        await s.close()

    run(body)


def test_conflicts_and_missing_keys(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        a = await s.create(key("a"), obj("a"))
        with pytest.raises(KeyExists):
            await s.create(key("a"), obj("a"))
        await s.update(key("a"), a.copy(), expected_rev=a.mod_rev)
        with pytest.raises(RevisionConflict) as ei:
            await s.update(key("a"), a.copy(), expected_rev=a.mod_rev)
        assert ei.value.current is not None and ei.value.current.mod_rev == r0 + 2
        with pytest.raises(RevisionConflict):
            await s.delete(key("a"), expected_rev=a.mod_rev)
        with pytest.raises(KeyNotFound):
            await s.update(key("nope"), obj("nope"))
        with pytest.raises(KeyNotFound):
            await s.delete(key("nope"))
        # Failed writes consume no revision.
        assert s.revision == r0 + 2
        await s.close()

    run(body)


def test_update_without_expected_revision_always_applies(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        a = await s.create(key("a"), obj("a"))
        await s.update(key("a"), a.copy())
        kv = await s.update(key("a"), a.copy())
        assert kv.mod_rev == r0 + 3
        await s.close()

    run(body)


# ---- list and prefixes --------------------------------------------------------------------------------


def test_list_prefix_filtering_is_segment_exact(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        for ns, name in [("default", "b"), ("default", "a"), ("default2", "c"), ("kube-system", "d")]:
            await s.create(key(name, ns), obj(name, ns))
        await s.create("/registry/secrets/default/a", {"metadata": {"name": "a", "namespace": "default"}})
        items, rev = s.list("/registry/configmaps/default/")
        assert [kv.key for kv in items] == [key("a"), key("b")]  # sorted, and not default2
        assert rev == s.revision == r0 + 5
        items, _ = s.list("/registry/configmaps/")
        assert len(items) == 4
        assert s.count("/registry/configmaps/") == 4
        assert s.count("/registry/configmaps/default/") == 2
        await s.delete(key("a"))
        assert [kv.key for kv in s.list("/registry/configmaps/default/")[0]] == [key("b")]
        await s.close()

    run(body)


def test_reopen_sees_the_same_state(open_store: Opener) -> None:
    """A second store on the same backing data (a restart, or for etcd another API server) agrees."""
    if open_store.kind == "memory":  # type: ignore[attr-defined]
        pytest.skip("memory does not persist")

    async def body() -> None:
        s = await open_store()
        a = await s.create(key("a"), obj("a", data={"v": "1"}))
        await s.create(key("b"), obj("b"))
        await s.delete(key("b"))
        await s.close()
        s2 = await open_store()
        kv = s2.get(key("a"))
        assert kv is not None and kv.raw == a.raw and (kv.create_rev, kv.mod_rev) == (a.create_rev, a.mod_rev)
        assert s2.get(key("b")) is None
        kv2 = await s2.update(key("a"), kv.copy(), expected_rev=a.mod_rev)
        assert kv2.mod_rev > a.mod_rev
        await s2.close()

    run(body)


# ---- watch --------------------------------------------------------------------------------------------


def test_watch_live_events_in_order(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        w = s.watch("/registry/configmaps/default/", s.revision)
        a = await s.create(key("a"), obj("a"))
        await s.create(key("x", "other"), obj("x", "other"))  # outside the prefix
        await s.update(key("a"), a.copy())
        await s.delete(key("a"))
        evs = await drain(w, 3)
        assert [(e.type, e.rev) for e in evs] == [(ADDED, r0 + 1), (MODIFIED, r0 + 3), (DELETED, r0 + 4)]
        assert evs[1].prev is not None and evs[1].prev.mod_rev == r0 + 1
        assert evs[2].prev is not None and evs[2].prev.mod_rev == r0 + 3
        assert await w.next(0.05) is None
        w.close()
        await s.close()

    run(body)


def test_watch_from_past_revision_replays_history(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        a = await s.create(key("a"), obj("a"))  # 1
        await s.create(key("b"), obj("b"))  # 2
        await s.update(key("a"), a.copy())  # 3
        await s.delete(key("b"))  # 4
        w = s.watch("/registry/configmaps/", r0 + 2)
        evs = await drain(w, 2)
        assert [(e.type, e.kv.key, e.rev) for e in evs] == [(MODIFIED, key("a"), r0 + 3),
                                                            (DELETED, key("b"), r0 + 4)]
        # Then live events continue on the same watcher, without gaps or duplicates.
        await s.create(key("c"), obj("c"))
        (ev,) = await drain(w, 1)
        assert (ev.type, ev.rev) == (ADDED, r0 + 5)
        w.close()
        # A watch from the current revision replays nothing.
        w2 = s.watch("/registry/configmaps/", s.revision)
        assert await w2.next(0.05) is None
        w2.close()
        await s.close()

    run(body)


def test_watch_from_a_future_revision_skips_up_to_it(open_store: Opener) -> None:
    """A resourceVersion seen through another API server, not reached here yet: nothing at or below it."""
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        w = s.watch("/registry/configmaps/", r0 + 2)
        for n in ("a", "b", "c"):
            await s.create(key(n), obj(n))
        (ev,) = await drain(w, 1)
        assert (ev.kv.key, ev.rev) == (key("c"), r0 + 3)
        w.close()
        await s.close()

    run(body)


def test_watch_single_key(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        w = s.watch(key("a"), s.revision)
        await s.create(key("ab"), obj("ab"))
        await s.create(key("a"), obj("a"))
        (ev,) = await drain(w, 1)
        assert ev.kv.key == key("a")
        assert await w.next(0.05) is None
        w.close()
        await s.close()

    run(body)


def test_closed_watcher_gets_no_more_events(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        w = s.watch("/registry/configmaps/", s.revision)
        w.close()
        await s.create(key("a"), obj("a"))
        assert await w.next(0.05) is None
        assert w.closed
        await s.close()

    run(body)


def test_store_close_ends_watchers(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        w = s.watch("/registry/configmaps/", s.revision)
        await s.close()
        got = [ev async for ev in w]
        assert got == []

    run(body)


# ---- compaction ---------------------------------------------------------------------------------------


def test_compaction_makes_old_watches_fail(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        a = await s.create(key("a"), obj("a"))
        for _ in range(4):
            a = await s.update(key("a"), a.copy())
        assert s.revision == r0 + 5
        await s.compact(r0 + 3)
        assert s.oldest_revision == r0 + 3
        with pytest.raises(Compacted) as ei:
            s.watch("/registry/configmaps/", r0 + 2)
        assert ei.value.requested == r0 + 2
        # From the compacted revision on, history is still served.
        w = s.watch("/registry/configmaps/", r0 + 3)
        assert [e.rev for e in await drain(w, 2)] == [r0 + 4, r0 + 5]
        w.close()
        # Current state is untouched by compaction.
        assert s.get(key("a")).mod_rev == r0 + 5
        # Compacting backwards is a no-op.
        await s.compact(r0 + 1)
        assert s.oldest_revision == r0 + 3
        await s.close()

    run(body)


def test_ring_overflow_compacts_implicitly() -> None:
    async def body() -> None:
        s = Store(None, ring_size=5)
        for i in range(10):
            await s.create(key(f"o{i}"), obj(f"o{i}"))
        with pytest.raises(Compacted):
            s.watch("/registry/configmaps/", 2)
        w = s.watch("/registry/configmaps/", 6)
        assert [e.rev for e in await drain(w, 4)] == [7, 8, 9, 10]
        w.close()
        await s.close()

    run(body)


# ---- reads at a revision (paged lists, resourceVersionMatch=Exact) -----------------------------------

def _snapshot(s: Store, prefix: str) -> list[tuple[str, int]]:
    return [(kv.key, kv.mod_rev) for kv in s.list(prefix)[0]]


def test_list_at_every_past_revision_matches_the_state_then(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        prefix = "/registry/configmaps/default/"
        seen = {s.revision: _snapshot(s, prefix)}
        cur = {}
        for name in ("b", "d", "a", "c"):
            cur[name] = await s.create(key(name), obj(name))
            seen[s.revision] = _snapshot(s, prefix)
        await s.create(key("x", ns="other"), obj("x", ns="other"))  # outside the prefix
        seen[s.revision] = _snapshot(s, prefix)
        cur["b"] = await s.update(key("b"), cur["b"].copy())
        seen[s.revision] = _snapshot(s, prefix)
        await s.delete(key("a"))
        seen[s.revision] = _snapshot(s, prefix)
        await s.create(key("a"), obj("a"))  # re-created: a new object under the old key
        seen[s.revision] = _snapshot(s, prefix)
        await s.create(key("aa"), obj("aa"))
        seen[s.revision] = _snapshot(s, prefix)
        await s.delete(key("d"))
        seen[s.revision] = _snapshot(s, prefix)
        for rev, want in seen.items():
            assert [(kv.key, kv.mod_rev) for kv in s.list_at(prefix, rev)] == want, rev
            assert s.count_at(prefix, rev) == len(want)
            # Pages start at a key (inclusive), as a continue token's start key does.
            start = prefix + "b"
            tail = [(k, r) for k, r in want if k >= start]
            assert [(kv.key, kv.mod_rev) for kv in s.list_at(prefix, rev, start)] == tail
            assert s.count_at(prefix, rev, start) == len(tail)
            for name in ("a", "b", "d", "zz"):
                kv = s.get_at(key(name), rev)
                assert (kv.mod_rev if kv else None) == dict(want).get(key(name)), (rev, name)
        # Objects read at a past revision carry that revision's resourceVersion.
        old_b = s.get_at(key("b"), min(seen))
        assert old_b is None or old_b.obj["metadata"]["resourceVersion"] == str(old_b.mod_rev)
        first = min(r for r, w in seen.items() if (key("b"), cur["b"].create_rev) in w)
        assert s.get_at(key("b"), first).obj["metadata"]["resourceVersion"] == str(cur["b"].create_rev)
        await s.close()

    run(body)


def test_list_at_a_compacted_revision_raises(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        a = await s.create(key("a"), obj("a"))
        for _ in range(3):
            a = await s.update(key("a"), a.copy())
        await s.compact(r0 + 2)
        prefix = "/registry/configmaps/"
        for read in (lambda r: s.list_at(prefix, r), lambda r: s.count_at(prefix, r),
                     lambda r: s.get_at(key("a"), r)):
            with pytest.raises(Compacted):
                read(r0 + 1)
        # The compacted revision itself is still readable, and so is everything after it.
        assert [kv.mod_rev for kv in s.list_at(prefix, r0 + 2)] == [r0 + 2]
        assert s.get_at(key("a"), r0 + 3).mod_rev == r0 + 3
        await s.close()

    run(body)


def test_list_at_the_current_revision_reads_current_objects(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        for n in ("a", "b", "c"):
            await s.create(key(n), obj(n))
        prefix = "/registry/configmaps/default/"
        cur = s.list(prefix)[0]
        got = list(s.list_at(prefix, s.revision))
        assert len(got) == 3 and all(x is y for x, y in zip(got, cur, strict=True))  # shared, not copied
        assert [kv.key for kv in s.list_at(prefix, s.revision, prefix + "b\x00")] == [key("c")]
        await s.close()

    run(body)


def test_wait_revision_returns_once_the_store_reaches_it(open_store: Opener) -> None:
    async def body() -> None:
        s = await open_store()
        r0 = s.revision
        assert await s.wait_revision(r0, 0.01)
        assert not await s.wait_revision(r0 + 1, 0.05)
        waiter = asyncio.ensure_future(s.wait_revision(r0 + 2, 5))
        await s.create(key("a"), obj("a"))
        await asyncio.sleep(0)
        assert not waiter.done()
        await s.create(key("b"), obj("b"))
        assert await waiter
        await s.close()

    run(body)


def test_sqlite_history_survives_restart_for_reads_at_a_revision(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "state.db")

    async def phase1() -> int:
        s = open_sqlite(path)
        for n in ("a", "b"):
            await s.create(key(n), obj(n))
        rev = s.revision
        await s.delete(key("a"))
        await s.create(key("c"), obj("c"))
        await s.close()
        return rev

    async def phase2(rev: int) -> None:
        s = open_sqlite(path)
        prefix = "/registry/configmaps/default/"
        assert [kv.key for kv in s.list_at(prefix, rev)] == [key("a"), key("b")]
        assert [kv.key for kv in s.list_at(prefix, s.revision)] == [key("b"), key("c")]
        await s.close()

    rev = asyncio.run(phase1())
    asyncio.run(phase2(rev))


# ---- durability (SQLite) ------------------------------------------------------------------------------


def test_sqlite_reload_restores_state(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "state.db")

    async def write() -> None:
        s = open_sqlite(path)
        a = await s.create(key("a"), obj("a", data={"v": "1"}))  # 1
        await s.create(key("b"), obj("b"))  # 2
        await s.update(key("a"), {**a.copy(), "data": {"v": "2"}})  # 3
        await s.delete(key("b"))  # 4
        await s.create(key("c", "other"), obj("c", "other"))  # 5
        await s.close()

    async def read() -> None:
        s = open_sqlite(path)
        assert s.revision == 5
        a = s.get(key("a"))
        assert a is not None and a.obj["data"] == {"v": "2"}
        assert (a.create_rev, a.mod_rev) == (1, 3)
        assert a.obj["metadata"]["resourceVersion"] == "3"
        assert s.get(key("b")) is None
        assert [kv.key for kv in s.list("/registry/configmaps/")[0]] == [key("a"), key("c", "other")]
        # Watches resume from a revision observed before the restart.
        w = s.watch("/registry/configmaps/", 2)
        evs = await drain(w, 3)
        assert [(e.type, e.rev) for e in evs] == [(MODIFIED, 3), (DELETED, 4), (ADDED, 5)]
        assert evs[0].prev is not None and evs[0].prev.obj["data"] == {"v": "1"}
        w.close()
        # New writes continue the sequence.
        d = await s.create(key("d"), obj("d"))
        assert d.mod_rev == 6
        await s.close()

    asyncio.run(write())
    asyncio.run(read())


def test_sqlite_write_acknowledged_only_after_commit(tmp_path: Any) -> None:
    """An acknowledged write is readable by a second, independent connection to the file."""
    path = os.path.join(tmp_path, "state.db")

    async def body() -> None:
        s = open_sqlite(path)
        await asyncio.gather(*(s.create(key(f"o{i}"), obj(f"o{i}")) for i in range(50)))
        other = open_sqlite(path)
        assert other.revision == 50
        assert len(other.list("/registry/configmaps/")[0]) == 50
        await other.close()
        await s.close()

    asyncio.run(body())


def test_sqlite_group_commit_keeps_order_and_revisions(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "state.db")

    async def body() -> None:
        s = open_sqlite(path)
        w = s.watch("/registry/configmaps/", 0)
        kvs = await asyncio.gather(*(s.create(key(f"o{i:03d}"), obj(f"o{i:03d}")) for i in range(200)))
        assert sorted(kv.mod_rev for kv in kvs) == list(range(1, 201))
        evs = await drain(w, 200)
        assert [e.rev for e in evs] == list(range(1, 201))
        w.close()
        await s.close()
        s2 = open_sqlite(path)
        assert s2.revision == 200 and s2.count("/registry/configmaps/") == 200
        await s2.close()

    asyncio.run(body())


def test_revisions_never_reused_after_restart(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "state.db")

    async def phase1() -> None:
        s = open_sqlite(path)
        await s.create(key("a"), obj("a"))  # 1
        await s.delete(key("a"))  # 2: the newest revision is a tombstone
        await s.close()

    async def phase2() -> None:
        s = open_sqlite(path)
        assert s.revision == 2
        kv = await s.create(key("a"), obj("a"))
        assert kv.mod_rev == 3
        await s.close()

    asyncio.run(phase1())
    asyncio.run(phase2())


def test_revisions_never_reused_after_compacting_a_tombstone(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "state.db")

    async def phase1() -> None:
        s = open_sqlite(path)
        await s.create(key("keep"), obj("keep"))  # 1
        await s.create(key("a"), obj("a"))  # 2
        await s.delete(key("a"))  # 3: newest revision is a tombstone ...
        await s.compact(3)  # ... and compaction removes its row
        await s.close()

    async def phase2() -> None:
        s = open_sqlite(path)
        assert s.revision == 3
        assert s.oldest_revision == 3
        assert s.get(key("a")) is None
        assert s.get(key("keep")) is not None and s.get(key("keep")).mod_rev == 1
        with pytest.raises(Compacted):
            s.watch("/registry/configmaps/", 1)
        kv = await s.create(key("b"), obj("b"))
        assert kv.mod_rev == 4
        await s.close()

    asyncio.run(phase1())
    asyncio.run(phase2())


def test_sqlite_compaction_survives_restart(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "state.db")

    async def phase1() -> None:
        s = open_sqlite(path)
        a = await s.create(key("a"), obj("a"))
        for i in range(5):
            a = await s.update(key("a"), {**a.copy(), "data": {"i": str(i)}})  # 2..6
        await s.create(key("b"), obj("b"))  # 7
        await s.compact(6)
        await s.close()

    async def phase2() -> None:
        s = open_sqlite(path)
        assert s.revision == 7
        assert s.oldest_revision >= 6
        assert s.get(key("a")).obj["data"] == {"i": "4"}
        with pytest.raises(Compacted):
            s.watch("/registry/configmaps/", 3)
        w = s.watch("/registry/configmaps/", 6)
        (ev,) = await drain(w, 1)
        assert (ev.type, ev.kv.key) == (ADDED, key("b"))
        w.close()
        await s.close()

    asyncio.run(phase1())
    asyncio.run(phase2())


def test_sqlite_reload_ring_limits_history(tmp_path: Any) -> None:
    """After a restart, watches resume within the kept history; older ones get Compacted (→ 410)."""
    from kubeling.storage.sqlite import SQLiteLog

    path = os.path.join(tmp_path, "state.db")

    async def phase1() -> None:
        s = Store(SQLiteLog(path, ring_size=5))
        for i in range(10):
            await s.create(key(f"o{i}"), obj(f"o{i}"))
        await s.close()

    async def phase2() -> None:
        s = Store(SQLiteLog(path, ring_size=5), ring_size=5)
        assert s.revision == 10
        with pytest.raises(Compacted):
            s.watch("/registry/configmaps/", 1)
        w = s.watch("/registry/configmaps/", 7)
        assert [e.rev for e in await drain(w, 3)] == [8, 9, 10]
        w.close()
        await s.close()

    asyncio.run(phase1())
    asyncio.run(phase2())


def test_sqlite_reads_wait_for_the_group_commit(tmp_path: Any) -> None:
    """A write is visible in memory before its commit; wait_durable() holds readers until it is on disk."""
    import threading

    from kubeling.storage.sqlite import SQLiteLog

    gate = threading.Event()

    class SlowLog(SQLiteLog):
        def commit(self, batch):  # type: ignore[override]
            gate.wait(5)
            super().commit(batch)

    async def body() -> None:
        store = Store(SlowLog(str(tmp_path / "slow.db")))
        write = asyncio.ensure_future(store.create(key("a"), obj("a")))
        await asyncio.sleep(0.05)
        assert store.get(key("a")) is not None  # applied in memory, not yet acknowledged
        reader = asyncio.ensure_future(store.wait_durable())
        await asyncio.sleep(0.05)
        assert not reader.done() and not write.done()
        gate.set()
        await asyncio.wait_for(reader, 5)
        await asyncio.wait_for(write, 5)
        await store.wait_durable()  # nothing pending: returns at once
        await store.close()

    run(body)


# ---- the etcd mirror's guard against progress notifications that overtake events ------------------------------

def test_etcd_mirror_resyncs_on_an_event_behind_its_revision() -> None:
    """etcd before 3.4.24/3.5.8 can send a progress notification ahead of events still to come; an event
    for a revision the mirror has passed without applying it must not be dropped silently."""
    from types import SimpleNamespace

    from kubeling.storage import etcd as etcd_store

    st = etcd_store.EtcdStore("http://127.0.0.1:1", key_prefix="/p")

    def put(rev: int, name: str) -> SimpleNamespace:
        value = b'{"metadata":{"name":"%s"}}' % name.encode()
        return SimpleNamespace(type=0, kv=SimpleNamespace(key=b"/p/registry/core/configmaps/ns/" + name.encode(),
                                                          value=value, create_revision=rev, mod_revision=rev))

    st._apply_watch_event(put(5, "a"))
    assert st.revision == 5 and st.get("/registry/core/configmaps/ns/a") is not None
    # our own write at 6, applied before the watch delivers it: its late event is expected and skipped
    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()
        st._apply_pending(6, etcd_store._Pending("ADDED", "/registry/core/configmaps/ns/b",
                                                 {"metadata": {"name": "b"}}, b'{"metadata":{"name":"b"}}', fut))
    finally:
        loop.close()
    st._apply_watch_event(put(6, "b"))
    assert st.revision == 6
    # a progress notification moved the mirror to 9; then the event of revision 8 arrives
    st.revision = 9
    st._ahead.clear()
    with pytest.raises(etcd_store._Resync):
        st._apply_watch_event(put(8, "c"))

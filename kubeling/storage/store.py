"""The in-memory versioned store shared by the memory and SQLite backends.

All current objects live in a dict; the revision counter and a ring of recent events
live in memory, and watches are served from the ring (`WatchCache`, shared with the etcd
backend). A backend `Log` (SQLite) makes writes durable: writes are queued, grouped into one
transaction (group commit) and each write is acknowledged — and published to watchers — only
after its commit.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
from typing import Any, Protocol

from .base import ADDED, DELETED, KV, MODIFIED, Event, KeyExists, KeyNotFound, RevisionConflict, encode
from .watchcache import RING_SIZE, SLOW_WATCHER_LIMIT, WatchCache

__all__ = ["RING_SIZE", "SLOW_WATCHER_LIMIT", "Log", "Store"]

log = logging.getLogger(__name__)


class Log(Protocol):
    """Durable backing of a Store."""

    def load(self) -> tuple[int, int, list[KV], list[Event]]:
        """(revision, compacted revision, current objects, recent events oldest first)."""

    def commit(self, batch: list[Event]) -> None:
        """Write events in one transaction; return only once durable."""

    def compact(self, rev: int) -> None: ...

    def close(self) -> None: ...


class Store(WatchCache):
    def __init__(self, backend: Log | None = None, ring_size: int = RING_SIZE) -> None:
        super().__init__(ring_size)
        self._backend = backend
        self._pending: list[tuple[Event, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task | None = None
        self._closed = False
        self._durable = 0  # highest revision known committed
        self._durable_waiters: list[tuple[int, asyncio.Future]] = []
        if backend is not None:
            rev, compacted, objs, events = backend.load()
            self.revision = rev
            self._durable = rev
            self._index_replace(objs)
            self._ring.extend(events)
            self._oldest = events[0].rev - 1 if events else rev
            self._oldest = max(self._oldest, compacted)

    # ---- writes ------------------------------------------------------------
    async def create(self, key: str, obj: dict[str, Any]) -> KV:
        if key in self._data:
            raise KeyExists(key)
        self.revision += 1
        rev = self.revision
        obj, raw = encode(obj, rev)
        kv = KV(key, obj, raw, rev, rev)
        self._data[key] = kv
        bisect.insort(self._keys, key)
        await self._emit(Event(ADDED, kv))
        return kv

    async def update(self, key: str, obj: dict[str, Any], expected_rev: int | None = None) -> KV:
        cur = self._data.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expected_rev is not None and cur.mod_rev != expected_rev:
            raise RevisionConflict(cur)
        self.revision += 1
        rev = self.revision
        obj, raw = encode(obj, rev)
        kv = KV(key, obj, raw, cur.create_rev, rev)
        self._data[key] = kv
        await self._emit(Event(MODIFIED, kv, cur))
        return kv

    async def delete(self, key: str, expected_rev: int | None = None) -> KV:
        cur = self._data.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expected_rev is not None and cur.mod_rev != expected_rev:
            raise RevisionConflict(cur)
        self.revision += 1
        rev = self.revision
        # The delete event carries the last state, stamped with the deletion revision (as etcd3 store does).
        obj = dict(cur.obj)
        obj["metadata"] = dict(cur.obj["metadata"])
        obj, raw = encode(obj, rev)
        kv = KV(key, obj, raw, cur.create_rev, rev)
        del self._data[key]
        i = bisect.bisect_left(self._keys, key)
        del self._keys[i]
        await self._emit(Event(DELETED, kv, cur))
        return kv

    async def _emit(self, ev: Event) -> None:
        if self._backend is None:
            self._publish(ev)
            return
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((ev, fut))
        if self._committer is None:
            self._wake = asyncio.Event()
            self._committer = asyncio.get_running_loop().create_task(self._commit_loop())
        self._wake.set()
        await fut

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                if self._closed:
                    return
                continue
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(None, self._backend.commit, [ev for ev, _ in batch])
            except Exception as e:  # disk failure: nothing in this batch is acknowledged
                log.exception("storage commit failed")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            for ev, fut in batch:
                self._publish(ev)
                if not fut.done():
                    fut.set_result(None)
            self._durable = batch[-1][0].rev
            if self._durable_waiters:
                waiting, self._durable_waiters = self._durable_waiters, []
                for target, fut in waiting:
                    if target <= self._durable:
                        if not fut.done():
                            fut.set_result(None)
                    else:
                        self._durable_waiters.append((target, fut))

    async def wait_durable(self) -> None:
        """Wait until every write applied in memory so far is committed, so a reader never sees a
        write that a crash could still lose (the in-memory state runs ahead by one group commit)."""
        target = self.revision
        if self._backend is None or target <= self._durable:
            return
        fut = asyncio.get_running_loop().create_future()
        self._durable_waiters.append((target, fut))
        await fut

    async def compact(self, rev: int) -> None:
        """Forget history up to rev: watches from older revisions get Compacted."""
        rev = min(rev, self.revision)
        if not self._compact_ring(rev):
            return
        if self._backend is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._backend.compact, rev)

    async def close(self) -> None:
        self._closed = True
        if self._committer is not None:
            self._wake.set()
            await self._committer
            self._committer = None
        self._close_watchers()
        if self._backend is not None:
            self._backend.close()

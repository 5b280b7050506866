"""The in-memory versioned store shared by the memory and SQLite backends.

All current objects live in a dict; the revision counter and a ring of recent events
live in memory, and watches are served from the ring. A backend `Log` (SQLite) makes
writes durable: writes are queued, grouped into one transaction (group commit) and each
write is acknowledged — and published to watchers — only after its commit.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
from collections import deque
from typing import Any, Protocol

from .base import (
    ADDED,
    DELETED,
    KV,
    MODIFIED,
    Compacted,
    Event,
    KeyExists,
    KeyNotFound,
    RevisionConflict,
    Watcher,
    encode,
)

log = logging.getLogger(__name__)

RING_SIZE = 20000
SLOW_WATCHER_LIMIT = 50000


class Log(Protocol):
    """Durable backing of a Store."""

    def load(self) -> tuple[int, int, list[KV], list[Event]]:
        """(revision, compacted revision, current objects, recent events oldest first)."""

    def commit(self, batch: list[Event]) -> None:
        """Write events in one transaction; return only once durable."""

    def compact(self, rev: int) -> None: ...

    def close(self) -> None: ...


class Store:
    def __init__(self, backend: Log | None = None, ring_size: int = RING_SIZE) -> None:
        self._backend = backend
        self._data: dict[str, KV] = {}
        self._keys: list[str] = []  # sorted, for prefix scans
        self._ring: deque[Event] = deque(maxlen=ring_size)
        self._watchers: dict[str, set[Watcher]] = {}
        self.revision = 0
        self._oldest = 0  # watches may resume from any revision >= this
        self._pending: list[tuple[Event, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task | None = None
        self._closed = False
        if backend is not None:
            rev, compacted, objs, events = backend.load()
            self.revision = rev
            for kv in objs:
                self._data[kv.key] = kv
            self._keys = sorted(self._data)
            self._ring.extend(events)
            self._oldest = events[0].rev - 1 if events else rev
            self._oldest = max(self._oldest, compacted)

    # ---- reads -------------------------------------------------------------
    def get(self, key: str) -> KV | None:
        return self._data.get(key)

    def list(self, prefix: str) -> tuple[list[KV], int]:
        i = bisect.bisect_left(self._keys, prefix)
        out = []
        keys, data = self._keys, self._data
        n = len(keys)
        while i < n:
            k = keys[i]
            if not k.startswith(prefix):
                break
            out.append(data[k])
            i += 1
        return out, self.revision

    def count(self, prefix: str) -> int:
        i = bisect.bisect_left(self._keys, prefix)
        j = bisect.bisect_left(self._keys, prefix + "\xff")
        return j - i

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

    def _publish(self, ev: Event) -> None:
        self._ring.append(ev)
        if len(self._ring) == self._ring.maxlen:
            self._oldest = self._ring[0].rev - 1
        if not self._watchers:
            return
        key = ev.kv.key
        # Watchers are indexed by prefix; test each '/'-bounded prefix of the key.
        pos = 0
        while True:
            nxt = key.find("/", pos + 1)
            prefix = key[: nxt + 1] if nxt >= 0 else key
            ws = self._watchers.get(prefix)
            if ws:
                for w in list(ws):
                    if w.queue.qsize() > SLOW_WATCHER_LIMIT:
                        w.error = Compacted(ev.rev, self._oldest)
                        w.close()
                    else:
                        w.push(ev)
            if nxt < 0:
                break
            pos = nxt

    # ---- watch -------------------------------------------------------------
    def watch(self, prefix: str, from_rev: int) -> Watcher:
        """Events with revision > from_rev for keys under prefix (prefix ends with '/' or is a key)."""
        if from_rev < self._oldest:
            raise Compacted(from_rev, self._oldest)
        w = Watcher(prefix)
        w._store = self
        if from_rev < self.revision:
            start = self._find_ring(from_rev)
            for i in range(start, len(self._ring)):
                ev = self._ring[i]
                if ev.kv.key.startswith(prefix):
                    w.push(ev)
        self._watchers.setdefault(prefix, set()).add(w)
        return w

    def _find_ring(self, rev: int) -> int:
        ring = self._ring
        lo, hi = 0, len(ring)
        while lo < hi:
            mid = (lo + hi) // 2
            if ring[mid].rev <= rev:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _remove_watcher(self, w: Watcher) -> None:
        ws = self._watchers.get(w.prefix)
        if ws is not None:
            ws.discard(w)
            if not ws:
                del self._watchers[w.prefix]

    @property
    def oldest_revision(self) -> int:
        return self._oldest

    async def compact(self, rev: int) -> None:
        """Forget history up to rev: watches from older revisions get Compacted."""
        rev = min(rev, self.revision)
        if rev <= self._oldest:
            return
        while self._ring and self._ring[0].rev <= rev:
            self._ring.popleft()
        self._oldest = rev
        if self._backend is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._backend.compact, rev)

    async def close(self) -> None:
        self._closed = True
        if self._committer is not None:
            self._wake.set()
            await self._committer
            self._committer = None
        for ws in list(self._watchers.values()):
            for w in list(ws):
                w.close()
        if self._backend is not None:
            self._backend.close()

"""The in-memory half every storage backend shares: current objects, a ring of recent events, watch fan-out.

Backends differ only in where a write goes and where its revision comes from (the SQLite log's
local counter, or etcd's revision). Whatever the source, events are applied here in revision
order: the object index changes, the event joins the ring, and watchers whose prefix covers the
key get it. Reads (`get`, `list`, `count`) are synchronous dictionary lookups, which the
registry relies on; watches replay from the ring and then follow live events, and a watch from
before the ring's oldest revision fails with `Compacted` (→ 410 Gone), as upstream's watch
cache does.

Reads at an older revision (`list_at`, `count_at`, `get_at`: the pages of a paged list all come
from the first page's revision, and `resourceVersionMatch=Exact`) undo the ring's events newer
than that revision for the keys asked about: they cost the events since that revision plus the
page, never a copy of every object, and nothing extra at the current revision. A revision older
than the ring's history raises `Compacted`, as etcd does for a compacted revision.
"""
from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Iterator

from .base import KV, Compacted, Event, StorageError, Watcher

RING_SIZE = 20000
SLOW_WATCHER_LIMIT = 50000


class WatchCache:
    """Current objects by key (plus sorted keys for prefix scans), recent events, and watchers."""

    def __init__(self, ring_size: int = RING_SIZE) -> None:
        self._data: dict[str, KV] = {}
        self._keys: list[str] = []  # sorted, for prefix scans
        self._ring: deque[Event] = deque(maxlen=ring_size)
        self._watchers: dict[str, set[Watcher]] = {}
        self.revision = 0
        self._oldest = 0  # watches may resume from any revision >= this
        self._rev_waiters: list[tuple[int, asyncio.Future]] = []

    # ---- reads -------------------------------------------------------------
    def get(self, key: str) -> KV | None:
        return self._data.get(key)

    def list(self, prefix: str) -> tuple[list[KV], int]:
        """Objects under prefix, sorted by key, and the revision they are current at."""
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

    @property
    def oldest_revision(self) -> int:
        return self._oldest

    # ---- reads at a revision -------------------------------------------------
    def list_at(self, prefix: str, rev: int, start: str = "") -> Iterator[KV]:
        """Objects under prefix with key >= start as they were at revision rev, in key order.

        Lazy: consume it before yielding to the event loop (a write in between would shift it).
        Raises Compacted (at once, not when iterated) when rev is older than the kept history.
        """
        if rev >= self.revision:
            return self._iter_current(prefix, start)
        undo = self._undo(prefix, rev)
        if not undo:
            return self._iter_current(prefix, start)
        return self._iter_merged(prefix, start, undo)

    def count_at(self, prefix: str, rev: int, start: str = "") -> int:
        """How many objects under prefix with key >= start existed at revision rev."""
        keys = self._keys
        n = max(0, bisect.bisect_left(keys, _prefix_end(prefix)) - bisect.bisect_left(keys, max(prefix, start)))
        if rev < self.revision:
            data = self._data
            for k, old in self._undo(prefix, rev).items():
                if k >= start:
                    n += (old is not None) - (k in data)
        return n

    def get_at(self, key: str, rev: int) -> KV | None:
        """The version of key at revision rev (None: absent then); Compacted when rev is too old."""
        if rev >= self.revision:
            return self._data.get(key)
        if rev < self._oldest:
            raise Compacted(rev, self._oldest)
        found: KV | None = self._data.get(key)
        for ev in reversed(self._ring):
            if ev.rev <= rev:
                break
            if ev.kv.key == key:
                found = ev.prev
        return found

    def _undo(self, prefix: str, rev: int) -> dict[str, KV | None]:
        """For each key under prefix changed after rev: its version at rev (None: absent then)."""
        if rev < self._oldest:
            raise Compacted(rev, self._oldest)
        undo: dict[str, KV | None] = {}
        for ev in reversed(self._ring):  # newest first: the oldest change after rev is written last
            if ev.rev <= rev:
                break
            k = ev.kv.key
            if k.startswith(prefix):
                undo[k] = ev.prev
        return undo

    def _iter_current(self, prefix: str, start: str) -> Iterator[KV]:
        keys, data = self._keys, self._data
        i = bisect.bisect_left(keys, max(prefix, start))
        n = len(keys)
        while i < n:
            k = keys[i]
            if not k.startswith(prefix):
                return
            yield data[k]
            i += 1

    def _iter_merged(self, prefix: str, start: str, undo: dict[str, KV | None]) -> Iterator[KV]:
        """Current keys unchanged since the revision, merged with the undone versions of changed keys."""
        old = sorted((k, kv) for k, kv in undo.items() if kv is not None and k >= start)
        keys, data = self._keys, self._data
        i = bisect.bisect_left(keys, max(prefix, start))
        n = len(keys)
        j, m = 0, len(old)
        while True:
            k = keys[i] if i < n else None
            if k is not None and not k.startswith(prefix):
                k, i = None, n
            if k is not None and k in undo:  # its current version is newer than the revision
                i += 1
                continue
            if j < m and (k is None or old[j][0] < k):
                yield old[j][1]
                j += 1
            elif k is not None:
                yield data[k]
                i += 1
            else:
                return

    async def wait_revision(self, rev: int, timeout: float) -> bool:
        """Wait (bounded) until this cache has applied revision rev; whether it has."""
        if rev <= self.revision:
            return True
        fut = asyncio.get_running_loop().create_future()
        entry = (rev, fut)
        self._rev_waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            if entry in self._rev_waiters:
                self._rev_waiters.remove(entry)
        return rev <= self.revision

    # ---- index maintenance (for subclasses) ----------------------------------
    def _index_put(self, kv: KV) -> KV | None:
        """Make kv the current version of its key; returns the version it replaces."""
        key = kv.key
        prev = self._data.get(key)
        self._data[key] = kv
        if prev is None:
            bisect.insort(self._keys, key)
        return prev

    def _index_delete(self, key: str) -> KV | None:
        prev = self._data.pop(key, None)
        if prev is not None:
            i = bisect.bisect_left(self._keys, key)
            del self._keys[i]
        return prev

    def _index_replace(self, objs: list[KV]) -> None:
        self._data = {kv.key: kv for kv in objs}
        self._keys = sorted(self._data)

    # ---- events ------------------------------------------------------------
    def _publish(self, ev: Event) -> None:
        """Record an already-applied event in the ring and hand it to the watchers of its key."""
        self._ring.append(ev)
        if len(self._ring) == self._ring.maxlen:
            self._oldest = self._ring[0].rev - 1
        if self._rev_waiters:
            self._rev_waiters = release_waiters(self._rev_waiters, ev.rev)
        if not self._watchers:
            return
        key = ev.kv.key
        rev = ev.kv.mod_rev
        # Watchers are indexed by prefix; test each '/'-bounded prefix of the key.
        pos = 0
        while True:
            nxt = key.find("/", pos + 1)
            prefix = key[: nxt + 1] if nxt >= 0 else key
            ws = self._watchers.get(prefix)
            if ws:
                for w in list(ws):
                    if rev <= w.after:
                        continue
                    if w.queue.qsize() > SLOW_WATCHER_LIMIT:
                        w.error = Compacted(rev, self._oldest)
                        w.close()
                    else:
                        w.push(ev)
            if nxt < 0:
                break
            pos = nxt

    def watch(self, prefix: str, from_rev: int) -> Watcher:
        """Events with revision > from_rev for keys under prefix (prefix ends with '/' or is a key)."""
        if from_rev < self._oldest:
            raise Compacted(from_rev, self._oldest)
        w = Watcher(prefix)
        w._store = self
        if from_rev < self.revision:
            ring = self._ring
            for i in range(self._find_ring(from_rev), len(ring)):
                ev = ring[i]
                if ev.kv.key.startswith(prefix):
                    w.push(ev)
        elif from_rev > self.revision:
            # A revision this cache has not reached yet (seen through another API server): skip up to it.
            w.after = from_rev
        self._watchers.setdefault(prefix, set()).add(w)
        return w

    def _find_ring(self, rev: int) -> int:
        """Index of the first ring event with revision > rev."""
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

    def _compact_ring(self, rev: int) -> bool:
        """Forget ring history up to rev; False when there was nothing newer to forget."""
        rev = min(rev, self.revision)
        if rev <= self._oldest:
            return False
        while self._ring and self._ring[0].rev <= rev:
            self._ring.popleft()
        self._oldest = rev
        return True

    def _reset_history(self, rev: int) -> None:
        """Drop all history (after a resync): every watcher must start over with a fresh list."""
        self._ring.clear()
        self._oldest = rev
        self._close_watchers(Compacted(rev - 1, rev))

    def _close_watchers(self, error: StorageError | None = None) -> None:
        for ws in list(self._watchers.values()):
            for w in list(ws):
                if error is not None:
                    w.error = error
                w.close()


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string that starts with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"


def release_waiters(waiters: list[tuple[int, asyncio.Future]], rev: int) -> list[tuple[int, asyncio.Future]]:
    """Resolve the (target revision, future) waiters that rev reaches; return the others."""
    keep = []
    for target, fut in waiters:
        if target <= rev:
            if not fut.done():
                fut.set_result(None)
        else:
            keep.append((target, fut))
    return keep

"""The in-memory half every storage backend shares: current objects, a ring of recent events, watch fan-out.

Backends differ only in where a write goes and where its revision comes from (the SQLite log's
local counter, or etcd's revision). Whatever the source, events are applied here in revision
order: the object index changes, the event joins the ring, and watchers whose prefix covers the
key get it. Reads (`get`, `list`, `count`) are synchronous dictionary lookups, which the
registry relies on; watches replay from the ring and then follow live events, and a watch from
before the ring's oldest revision fails with `Compacted` (→ 410 Gone), as upstream's watch
cache does.
"""
from __future__ import annotations

import bisect
from collections import deque

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

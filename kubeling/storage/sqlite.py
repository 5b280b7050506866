"""SQLite durability for the Store: an append-only revision log, as kine keeps it.

Each write is one row keyed by its revision; the current state is the newest row per
key. WAL mode with synchronous=FULL makes a commit durable before it is acknowledged.
Compaction removes superseded rows older than the compacted revision.
"""
from __future__ import annotations

import os
import sqlite3
import threading

import orjson

from .base import ADDED, DELETED, KV, MODIFIED, Event
from .store import RING_SIZE, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    prev_rev INTEGER,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key ON log(key, rev);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SQLiteLog:
    def __init__(self, path: str, ring_size: int = RING_SIZE) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._ring_size = ring_size

    def load(self) -> tuple[int, int, list[KV], list[Event]]:
        db = self._db
        rev = db.execute("SELECT COALESCE(MAX(rev), 0) FROM log").fetchone()[0]
        row = db.execute("SELECT value FROM meta WHERE name='compacted'").fetchone()
        compacted = row[0] if row else 0
        rev = max(rev, compacted)  # a compacted tombstone may have held the newest revision
        objs = []
        for key, value, mod, created in db.execute(
            "SELECT l.key, l.value, l.rev, l.created FROM log l JOIN "
            "(SELECT key, MAX(rev) AS rev FROM log GROUP BY key) m ON l.key = m.key AND l.rev = m.rev "
            "WHERE l.deleted = 0"
        ):
            objs.append(KV(key, orjson.loads(value), bytes(value), created, mod))
        rows = db.execute(
            "SELECT rev, key, created, deleted, prev_rev, value FROM log WHERE rev > ? ORDER BY rev",
            (max(compacted, rev - self._ring_size),),
        ).fetchall()
        by_rev: dict[int, KV] = {}
        need = {r[4] for r in rows if r[4]} - {r[0] for r in rows}
        for r0, key, created, value in self._rows_by_rev(need):
            by_rev[r0] = KV(key, orjson.loads(value), bytes(value), created, r0)
        events = []
        for r, key, created, deleted, prev_rev, value in rows:
            kv = KV(key, orjson.loads(value), bytes(value), created, r)
            by_rev[r] = kv
            prev = by_rev.get(prev_rev) if prev_rev else None
            typ = DELETED if deleted else (ADDED if created == r else MODIFIED)
            events.append(Event(typ, kv, prev))
        return rev, compacted, objs, events

    def _rows_by_rev(self, revs: set[int]):
        revs = list(revs)
        for i in range(0, len(revs), 500):
            chunk = revs[i : i + 500]
            q = "SELECT rev, key, created, value FROM log WHERE rev IN ({})".format(",".join("?" * len(chunk)))
            yield from self._db.execute(q, chunk)

    def commit(self, batch: list[Event]) -> None:
        rows = [
            (ev.kv.mod_rev, ev.kv.key, ev.kv.create_rev, 1 if ev.type == DELETED else 0,
             ev.prev.mod_rev if ev.prev is not None else None, ev.kv.raw)
            for ev in batch
        ]
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany("INSERT INTO log(rev, key, created, deleted, prev_rev, value) VALUES (?,?,?,?,?,?)",
                               rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def compact(self, rev: int) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                # Superseded versions and tombstones at or below rev are history nobody may ask for.
                db.execute(
                    "DELETE FROM log WHERE rev <= ? AND (deleted = 1 OR rev < "
                    "(SELECT MAX(l2.rev) FROM log l2 WHERE l2.key = log.key AND l2.rev <= ?))",
                    (rev, rev),
                )
                db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('compacted', ?)", (rev,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_sqlite(path: str) -> Store:
    return Store(SQLiteLog(path))


def open_memory() -> Store:
    return Store(None)

"""Storage layer interface: a versioned key/value store of API objects with watch.

`resourceVersion` is the store's global revision. Values are API objects (dicts); the
store stamps `metadata.resourceVersion` and serializes each version once, so every
reader and watcher shares the same bytes. Stored dicts are immutable by convention:
callers that want to modify an object decode a private copy from `KV.raw`.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


class StorageError(Exception):
    pass


class KeyExists(StorageError):
    pass


class KeyNotFound(StorageError):
    pass


class RevisionConflict(StorageError):
    """The key's current revision differs from the one the caller expected."""

    def __init__(self, current: KV | None) -> None:
        super().__init__("revision conflict")
        self.current = current


class Compacted(StorageError):
    """A watch asked for history older than the store keeps."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(slots=True)
class KV:
    key: str
    obj: dict[str, Any]
    raw: bytes
    create_rev: int
    mod_rev: int

    def copy(self) -> dict[str, Any]:
        """A private, mutable copy of the object."""
        return orjson.loads(self.raw)


@dataclass(slots=True)
class Event:
    type: str
    kv: KV
    prev: KV | None = None

    @property
    def rev(self) -> int:
        return self.kv.mod_rev


@dataclass(eq=False)
class Watcher:
    """An event stream for one prefix. Iterate it; call close() when done."""

    prefix: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    closed: bool = False
    error: StorageError | None = None
    after: int = 0  # events at or below this revision are not delivered
    _store: Any = None

    def push(self, ev: Event | None) -> None:
        if not self.closed:
            self.queue.put_nowait(ev)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)
            if self._store is not None:
                self._store._remove_watcher(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            ev = await self.queue.get()
            if ev is None:
                if self.error is not None:
                    raise self.error
                return
            yield ev

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None on timeout or close."""
        try:
            ev = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        if ev is None:
            self.closed = True
            if self.error is not None:
                raise self.error
        return ev


def encode(obj: dict[str, Any], rev: int) -> tuple[dict[str, Any], bytes]:
    """Stamp the revision into the object and serialize it once."""
    obj["metadata"]["resourceVersion"] = str(rev)
    return obj, orjson.dumps(obj)

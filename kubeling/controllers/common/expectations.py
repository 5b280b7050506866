"""Expectations: how a controller avoids acting twice on a stale informer cache.

`ControllerExpectations` and `UIDTrackingExpectations` follow upstream controller_utils.go:
a controller records how many creations/deletions it expects to observe for a key, informer
handlers lower the counts as the events arrive, and a sync that manages replicas only runs
once the expectations are satisfied (or have expired after five minutes).

`ResourceVersionExpectations` is the same idea keyed on resource versions instead of counts:
every write a sync makes returns the object's new resourceVersion (the store's global
revision), and the next sync of that key waits until each informer it wrote through has
reached that revision. It needs no per-object bookkeeping, covers creates, updates and
deletes alike, and suits controllers (such as the StatefulSet controller) whose upstream
version keeps no expectations and instead relies on conflicts and AlreadyExists errors.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

log = logging.getLogger(__name__)

# Upstream ExpectationsTimeout: expectations older than this are considered satisfied so a lost
# watch event can never wedge a controller.
EXPECTATIONS_TIMEOUT = 5 * 60.0


class _Expectee:
    __slots__ = ("add", "dele", "timestamp")

    def __init__(self, add: int, dele: int) -> None:
        self.add = add
        self.dele = dele
        self.timestamp = time.monotonic()

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.dele <= 0


class ControllerExpectations:
    """Per controller key: creations and deletions still to be observed (upstream semantics)."""

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.timeout = timeout
        self._store: dict[Hashable, _Expectee] = {}

    def get_expectations(self, key: Hashable) -> tuple[int, int] | None:
        e = self._store.get(key)
        return None if e is None else (e.add, e.dele)

    def satisfied_expectations(self, key: Hashable) -> bool:
        """True when the controller may act: nothing recorded, all observed, or expired."""
        e = self._store.get(key)
        if e is None:
            # No record: a new controller, or one whose expectations were deleted. Sync.
            return True
        if e.fulfilled():
            return True
        if time.monotonic() - e.timestamp > self.timeout:
            log.debug("expectations for %s expired (add=%d del=%d)", key, e.add, e.dele)
            return True
        return False

    def set_expectations(self, key: Hashable, add: int, dele: int) -> None:
        self._store[key] = _Expectee(add, dele)

    def expect_creations(self, key: Hashable, adds: int) -> None:
        self.set_expectations(key, adds, 0)

    def expect_deletions(self, key: Hashable, dels: int) -> None:
        self.set_expectations(key, 0, dels)

    def raise_expectations(self, key: Hashable, add: int, dele: int) -> None:
        e = self._store.get(key)
        if e is not None:
            e.add += add
            e.dele += dele

    def lower_expectations(self, key: Hashable, add: int, dele: int) -> None:
        e = self._store.get(key)
        if e is not None:
            e.add -= add
            e.dele -= dele

    def creation_observed(self, key: Hashable) -> None:
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: Hashable) -> None:
        self.lower_expectations(key, 0, 1)

    def delete_expectations(self, key: Hashable) -> None:
        self._store.pop(key, None)


class UIDTrackingExpectations:
    """ControllerExpectations that remember which objects a deletion is expected for, so the
    same deletion observed twice (update with deletionTimestamp, then the delete) counts once."""

    def __init__(self, expectations: ControllerExpectations | None = None) -> None:
        self.expectations = expectations or ControllerExpectations()
        self._uids: dict[Hashable, set[str]] = {}

    def get_uids(self, key: Hashable) -> set[str] | None:
        return self._uids.get(key)

    def satisfied_expectations(self, key: Hashable) -> bool:
        return self.expectations.satisfied_expectations(key)

    def set_expectations(self, key: Hashable, add: int, dele: int) -> None:
        self.expectations.set_expectations(key, add, dele)

    def expect_creations(self, key: Hashable, adds: int) -> None:
        self.expectations.expect_creations(key, adds)

    def raise_expectations(self, key: Hashable, add: int, dele: int) -> None:
        self.expectations.raise_expectations(key, add, dele)

    def creation_observed(self, key: Hashable) -> None:
        self.expectations.creation_observed(key)

    def lower_expectations(self, key: Hashable, add: int, dele: int) -> None:
        self.expectations.lower_expectations(key, add, dele)

    def expect_deletions(self, key: Hashable, deleted_keys: Iterable[str]) -> None:
        """Expect exactly these objects to be deleted (replaces earlier expectations, as upstream)."""
        keys = set(deleted_keys)
        self._uids[key] = keys
        self.expectations.expect_deletions(key, len(keys))

    def add_deletion(self, key: Hashable, deleted_key: str) -> None:
        """Expect one more deletion on top of what is already expected (for incremental syncs)."""
        keys = self._uids.setdefault(key, set())
        if deleted_key not in keys:
            keys.add(deleted_key)
            if self.expectations.get_expectations(key) is None:
                self.expectations.set_expectations(key, 0, 0)
            self.expectations.raise_expectations(key, 0, 1)

    def deletion_observed(self, key: Hashable, deleted_key: str) -> None:
        keys = self._uids.get(key)
        if keys is not None and deleted_key in keys:
            self.expectations.deletion_observed(key)
            keys.discard(deleted_key)

    def delete_expectations(self, key: Hashable) -> None:
        self.expectations.delete_expectations(key)
        self._uids.pop(key, None)


def _rv(obj: dict[str, Any] | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


class ResourceVersionExpectations:
    """Wait-for-own-writes: a key's next sync runs only once every informer the previous sync
    wrote through has observed (at least) the resourceVersion of that write.

    Register each informer with `watch(informer)`; record writes with `observe_write`; call
    `satisfied(key)` at the start of a sync (False means: skip, `on_ready(key)` will be called
    when the informers catch up, or after `timeout` seconds at the latest).
    """

    def __init__(self, on_ready: Callable[[Hashable], None], timeout: float = 10.0,
                 requeue_after: Callable[[Hashable, float], None] | None = None) -> None:
        self.on_ready = on_ready
        self.requeue_after = requeue_after
        self.timeout = timeout
        self._written: dict[Hashable, dict[Any, int]] = {}
        self._waiting: dict[Hashable, float] = {}

    def watch(self, informer: Any) -> None:
        """Have informer events wake up keys waiting for that informer."""
        informer.add_handlers(self._on_event, lambda _old, new: self._on_event(new), self._on_event)

    def observe_write(self, key: Hashable, informer: Any, obj: dict[str, Any] | None) -> None:
        """Record that a sync of key wrote obj (the server's answer) through informer's resource."""
        rv = _rv(obj)
        if not rv:
            return
        per = self._written.setdefault(key, {})
        if per.get(informer, 0) < rv:
            per[informer] = rv

    def _caught_up(self, key: Hashable) -> bool:
        per = self._written.get(key)
        if not per:
            return True
        for inf, rv in per.items():
            try:
                seen = int(inf.resource_version or 0)
            except (TypeError, ValueError):
                seen = 0
            if seen < rv:
                return False
        return True

    def satisfied(self, key: Hashable) -> bool:
        if self._caught_up(key):
            self._written.pop(key, None)
            self._waiting.pop(key, None)
            return True
        now = time.monotonic()
        deadline = self._waiting.get(key)
        if deadline is None:
            self._waiting[key] = now + self.timeout
            if self.requeue_after is not None:
                self.requeue_after(key, self.timeout)
            return False
        if now >= deadline:
            log.debug("informers did not observe the writes of %s within %.0fs; syncing anyway", key,
                      self.timeout)
            self._written.pop(key, None)
            self._waiting.pop(key, None)
            return True
        return False

    def forget(self, key: Hashable) -> None:
        self._written.pop(key, None)
        self._waiting.pop(key, None)

    def _on_event(self, _obj: Any) -> None:
        if not self._waiting:
            return
        for key in [k for k in self._waiting if self._caught_up(k)]:
            self._waiting.pop(key, None)
            self.on_ready(key)

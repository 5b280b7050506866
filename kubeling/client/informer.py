"""Informers (list + watch caches with indexes) and rate-limited work queues, as client-go has them."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from ..api.errors import ApiError
from ..api.resources import ResourceType, by_qualified
from .client import Client

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
IndexFunc = Callable[[dict[str, Any]], list[str]]


def meta_key(obj: dict[str, Any]) -> str:
    md = obj["metadata"]
    ns = md.get("namespace")
    return f"{ns}/{md['name']}" if ns else md["name"]


def split_key(key: str) -> tuple[str | None, str]:
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key


async def cancel_and_wait(*tasks: asyncio.Task | None) -> None:
    """Cancel the tasks, then wait until each has ended, however it ended: a stop path must neither
    raise nor leave a task running into the rest of the shutdown. None entries are skipped."""
    live = [t for t in tasks if t is not None]
    for t in live:
        t.cancel()
    for t in live:
        try:
            await t
        except (asyncio.CancelledError, Exception):
            pass


def index_by_namespace(obj: dict[str, Any]) -> list[str]:
    ns = obj["metadata"].get("namespace")
    return [ns] if ns else []


def index_by_owner(obj: dict[str, Any]) -> list[str]:
    return [r["uid"] for r in obj["metadata"].get("ownerReferences") or () if r.get("uid")]


def index_by_node(obj: dict[str, Any]) -> list[str]:
    n = (obj.get("spec") or {}).get("nodeName")
    return [n] if n else []


class Informer:
    """A shared cache of one resource, kept current by list + watch; calls handlers on change."""

    def __init__(self, client: Client, resource: str | ResourceType, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 indexers: dict[str, IndexFunc] | None = None) -> None:
        self.client = client
        self.rt = resource if isinstance(resource, ResourceType) else by_qualified(resource)
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.cache: dict[str, dict[str, Any]] = {}
        self.indexers: dict[str, IndexFunc] = {"namespace": index_by_namespace}
        self.indexers.update(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {n: {} for n in self.indexers}
        self._handlers: list[tuple[Handler | None, Handler | None, Handler | None]] = []
        self.synced = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.resource_version = ""

    def add_handlers(self, on_add: Handler | None = None, on_update: Handler | None = None,
                     on_delete: Handler | None = None) -> None:
        self._handlers.append((on_add, on_update, on_delete))
        if self.synced.is_set() and on_add is not None:
            for obj in list(self.cache.values()):
                on_add(obj)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        if name in self.indexers:
            return
        self.indexers[name] = fn
        idx: dict[str, set[str]] = {}
        for k, o in self.cache.items():
            for v in fn(o):
                idx.setdefault(v, set()).add(k)
        self._indices[name] = idx

    # ---- reads -------------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def get_by(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.cache.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> list[dict[str, Any]]:
        return list(self.cache.values())

    def by_index(self, index: str, value: str) -> list[dict[str, Any]]:
        keys = self._indices[index].get(value)
        if not keys:
            return []
        cache = self.cache
        return [cache[k] for k in keys if k in cache]

    # ---- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def wait_synced(self) -> None:
        await self.synced.wait()

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._list_and_watch()
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.code != 410:
                    log.warning("informer %s: %s", self.rt.qualified, e.message)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("informer %s failed; relisting", self.rt.qualified)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _list_and_watch(self) -> None:
        items, rv = await self.client.list(self.rt, self.namespace, label_selector=self.label_selector,
                                           field_selector=self.field_selector)
        self._replace(items)
        self.resource_version = rv
        self.synced.set()
        while True:
            async for typ, obj in self.client.watch(self.rt, self.namespace, resource_version=self.resource_version,
                                                    label_selector=self.label_selector,
                                                    field_selector=self.field_selector):
                self.resource_version = obj["metadata"].get("resourceVersion", self.resource_version)
                if typ == "DELETED":
                    self._delete(obj)
                else:
                    self._upsert(obj)

    def _replace(self, items: list[dict[str, Any]]) -> None:
        fresh = {meta_key(o): o for o in items}
        for k in [k for k in self.cache if k not in fresh]:
            self._delete(self.cache[k])
        for o in items:
            self._upsert(o)

    def _index_add(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self.indexers.items():
            idx = self._indices[name]
            for v in fn(obj):
                idx.setdefault(v, set()).add(key)

    def _index_remove(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self.indexers.items():
            idx = self._indices[name]
            for v in fn(obj):
                s = idx.get(v)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del idx[v]

    def _upsert(self, obj: dict[str, Any]) -> None:
        key = meta_key(obj)
        old = self.cache.get(key)
        if old is not None:
            if old["metadata"].get("resourceVersion") == obj["metadata"].get("resourceVersion"):
                return
            self._index_remove(key, old)
        self.cache[key] = obj
        self._index_add(key, obj)
        for on_add, on_update, _ in self._handlers:
            try:
                if old is None:
                    if on_add:
                        on_add(obj)
                elif on_update:
                    on_update(old, obj)
            except Exception:
                log.exception("informer handler failed")

    def _delete(self, obj: dict[str, Any]) -> None:
        key = meta_key(obj)
        old = self.cache.pop(key, None)
        if old is not None:
            self._index_remove(key, old)
        for _, _, on_delete in self._handlers:
            if on_delete:
                try:
                    on_delete(old or obj)
                except Exception:
                    log.exception("informer handler failed")


class InformerFactory:
    """Shares one informer per (resource, namespace, selectors) between controllers."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[tuple, Informer] = {}

    def informer(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
                 field_selector: str | None = None) -> Informer:
        k = (resource, namespace, label_selector, field_selector)
        inf = self._informers.get(k)
        if inf is None:
            inf = Informer(self.client, resource, namespace, label_selector=label_selector,
                           field_selector=field_selector)
            self._informers[k] = inf
        return inf

    def start(self) -> None:
        for inf in self._informers.values():
            inf.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def stop(self) -> None:
        for inf in self._informers.values():
            await inf.stop()


class WorkQueue:
    """A deduplicating, rate-limited queue: a key is processed by one worker at a time,
    re-added keys are coalesced, failures back off exponentially (5 ms .. 1000 s)."""

    def __init__(self, name: str = "", base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.name = name
        self._queue: asyncio.Queue = asyncio.Queue()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._base = base_delay
        self._max = max_delay
        self._shutdown = False

    def add(self, key: Hashable) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        old = self._timers.get(key)
        when = loop.time() + delay
        if old is not None:
            if old.when() <= when:
                return
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_at(when, fire)

    def add_rate_limited(self, key: Hashable) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self._base * (2 ** n), self._max) * (1 + random.random() * 0.1))

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable:
        key = await self._queue.get()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.put_nowait(key)

    def __len__(self) -> int:
        return self._queue.qsize()

    def shutdown(self) -> None:
        self._shutdown = True
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()


async def queue_worker(queue: WorkQueue, process: Callable[[Any], Awaitable[Any]], what: str) -> None:
    """A worker loop (client-go's processNextWorkItem) for components with no `Controller`: each key
    taken from queue goes to process(key); a truthy result or an exception (logged as `what` key)
    requeues the key with backoff, anything else forgets its failures."""
    while True:
        key = await queue.get()
        try:
            requeue = bool(await process(key))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s failed", what, key)
            requeue = True
        finally:
            queue.done(key)
        if requeue:
            queue.add_rate_limited(key)
        else:
            queue.forget(key)


class _Timed:
    """Awaits a coroutine and adds up the time its own steps ran on the event loop (not the time it
    spent waiting): the CPU a sync cost, which wall-clock time cannot tell apart from write latency."""

    __slots__ = ("coro", "cpu")

    def __init__(self, coro: Any) -> None:
        self.coro = coro
        self.cpu = 0.0

    def __await__(self) -> Any:
        coro = self.coro
        clock = time.perf_counter
        value: Any = None
        exc: BaseException | None = None
        while True:
            t0 = clock()
            try:
                fut = coro.send(value) if exc is None else coro.throw(exc)
            except StopIteration as e:
                self.cpu += clock() - t0
                return e.value
            except BaseException:
                self.cpu += clock() - t0
                raise
            self.cpu += clock() - t0
            try:
                value, exc = (yield fut), None
            except BaseException as e:  # cancellation and errors thrown into the awaited future
                value, exc = None, e


class Controller:
    """Wiring shared by controllers: a queue of keys and workers calling `sync(key)`.

    A key whose sync was expensive is held for `hold_factor` times the event-loop time that sync
    used before it may run again (events meanwhile coalesce into that one next sync), so one large
    object — a 1,000-pod StatefulSet or Service — that changes constantly takes at most about
    1/(1+hold_factor) of the loop and every other key and component keeps going. Cheap syncs (below
    `hold_min` seconds) are never held: small objects react as fast as before."""

    name = "controller"
    workers = 4
    hold_factor = 3.0
    hold_min = 0.001
    hold_max = 1.0
    # API error codes that are part of normal operation (a stale cache's conflict): logged at debug
    quiet_errors: tuple[int, ...] = (409,)

    def __init__(self) -> None:
        self.queue = WorkQueue(self.name)
        self._tasks: list[asyncio.Task] = []

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    def enqueue(self, obj: dict[str, Any]) -> None:
        self.queue.add(meta_key(obj))

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            started = time.monotonic()
            timed = _Timed(self.sync(key))
            try:
                await timed
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.code in self.quiet_errors:
                    log.debug("%s: syncing %s: %s; requeue", self.name, key, e.message)
                else:
                    log.warning("%s: error syncing %s: %s", self.name, key, e.message)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("%s: error syncing %s", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                if timed.cpu >= self.hold_min and self.hold_factor > 0:
                    asyncio.get_running_loop().call_later(min(timed.cpu * self.hold_factor, self.hold_max),
                                                          self.queue.done, key)
                else:
                    self.queue.done(key)
                elapsed = time.monotonic() - started
                if elapsed > 1.0:
                    log.debug("%s: sync %s took %.2fs (%.3fs on the loop)", self.name, key, elapsed, timed.cpu)

    def run(self, workers: int | None = None) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(workers or self.workers):
            self._tasks.append(loop.create_task(self._worker()))

    def start_when_synced(self, *informers: Informer, workers: int | None = None,
                          then: Callable[[], None] | None = None) -> None:
        """Start the workers once every informer has listed (client-go's WaitForCacheSync before
        Run): a sync against a partial cache would miss objects and create them again. Returns at
        once, because the controller-manager starts the shared informers only after every
        controller; `stop()` cancels the wait. `then` runs right after the workers started."""

        async def start() -> None:
            await asyncio.gather(*(i.wait_synced() for i in informers))
            Controller.run(self, workers)
            if then is not None:
                then()

        self._tasks.append(asyncio.get_running_loop().create_task(start()))

    async def stop(self) -> None:
        self.queue.shutdown()
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()

"""etcd v3 storage backend: several API servers share one etcd cluster.

Shape (that of upstream's watch cache in front of its etcd3 store):

- An in-memory mirror of the `/registry/` prefix (`WatchCache`), loaded by a range read and kept
  current by one etcd watch starting right after that read's revision. Reads stay synchronous and
  cheap, as the registry expects.
- Writes are etcd transactions: create compares `create_revision == 0`, update and delete compare
  `mod_revision` with the expected revision. The transaction's revision becomes the object's
  resourceVersion: there is no other revision counter. Objects are stored without
  `metadata.resourceVersion`; it is stamped on read, as upstream's etcd3 store does.
- Events are applied to the mirror strictly in revision order. A successful local write whose
  revision directly follows the mirror's is applied at once (read-your-writes) and published to
  local watchers; when other writers' revisions may lie in between, it waits for the watch to
  deliver them first. Watch events for revisions already applied are skipped; writes by other
  API servers arrive through the watch, so local watchers see every write, in order, no gaps.
- If the etcd watch cannot resume (its revision was compacted), the mirror is re-read and every
  local watcher is closed with `Compacted` (410 Gone): clients relist, as after a watch-cache
  re-initialisation upstream. Lost connections are retried, resuming the watch where it stopped.

The client library is `aetcd` (asyncio, gRPC). Its connection, key/value stub and generated
messages are used directly, because the mirror needs what its convenience layer hides: each
transaction's header revision and each watch response as a whole (progress notifications,
compaction).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from .base import ADDED, DELETED, KV, MODIFIED, Event, KeyExists, KeyNotFound, RevisionConflict, StorageError
from .watchcache import RING_SIZE, WatchCache, release_waiters

log = logging.getLogger(__name__)

PREFIX = "/registry/"
PAGE_SIZE = 1000
REQUEST_TIMEOUT = 10.0  # per etcd request
RETRY_DEADLINE = 30.0  # how long a request is retried while etcd is unavailable
LOCAL_APPLY_WAIT = 30.0  # how long a write waits for the watch to deliver revisions before it
MAX_MESSAGE = 512 * 1024 * 1024


class EtcdUnavailable(StorageError):
    """etcd did not answer within the retry deadline."""


@dataclass(slots=True)
class _Pending:
    typ: str
    key: str
    obj: dict[str, Any] | None  # stamped object (None for a delete)
    raw: bytes
    fut: asyncio.Future


def parse_endpoints(servers: str | list[str]) -> list[tuple[str, int]]:
    """`http://host:port[,...]` (scheme optional) → [(host, port)]."""
    if isinstance(servers, str):
        servers = [s for s in servers.split(",") if s.strip()]
    out = []
    for s in servers:
        s = s.strip()
        u = urlsplit(s if "://" in s else "http://" + s)
        if u.scheme not in ("http", ""):
            raise ValueError(f"unsupported etcd endpoint {s!r}: only plain http:// endpoints are supported")
        out.append((u.hostname or "127.0.0.1", u.port or 2379))
    if not out:
        raise ValueError("no etcd endpoints given")
    return out


def _grpc_target(endpoints: list[tuple[str, int]]) -> tuple[str, int]:
    """(host, port) for aetcd such that f'{host}:{port}' is the gRPC target.

    Several endpoints become one `ipv4:` target: gRPC then fails over between members by itself.
    """
    if len(endpoints) == 1:
        return endpoints[0]
    addrs = [f"{socket.gethostbyname(h)}:{p}" for h, p in endpoints]
    head, last = addrs[:-1], endpoints[-1]
    return "ipv4:" + ",".join(head + [socket.gethostbyname(last[0])]), last[1]


def _prefix_end(prefix: bytes) -> bytes:
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\x00"


def _stamp(value: bytes, rev: int) -> tuple[dict[str, Any], bytes]:
    obj = orjson.loads(value)
    obj["metadata"]["resourceVersion"] = str(rev)
    return obj, orjson.dumps(obj)


def _tombstone(prev: KV, rev: int) -> KV:
    """The delete event carries the last state, stamped with the deletion revision (as etcd3 store does)."""
    obj = dict(prev.obj)
    md = obj["metadata"] = dict(prev.obj["metadata"])
    md["resourceVersion"] = str(rev)
    return KV(prev.key, obj, orjson.dumps(obj), prev.create_rev, rev)


class EtcdStore(WatchCache):
    """The Store interface on etcd v3. Call `await start()` (or use `open_etcd`) before use."""

    def __init__(self, servers: str | list[str], *, key_prefix: str = "", ring_size: int = RING_SIZE,
                 request_timeout: float = REQUEST_TIMEOUT, retry_deadline: float = RETRY_DEADLINE) -> None:
        super().__init__(ring_size)
        self.endpoints = parse_endpoints(servers)
        self._root = key_prefix.rstrip("/")
        self._rootb = self._root.encode()
        self._range_key = (self._root + PREFIX).encode()
        self._range_end = _prefix_end(self._range_key)
        self._timeout = request_timeout
        self._retry_deadline = retry_deadline
        self._client: Any = None
        self._rpc: Any = None
        self._pending: dict[int, _Pending] = {}
        self._applying = 0  # revision of the watch event group being applied
        self._ahead: set[int] = set()  # own writes applied before the watch delivered them
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._watch_task: asyncio.Task | None = None
        self._watch_requests: asyncio.Queue | None = None
        self._watching = asyncio.Event()
        self._barrier_next: asyncio.Future | None = None
        self._barrier_task: asyncio.Task | None = None
        self._closed = False
        self.resyncs = 0

    # ---- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        import aetcd
        from aetcd import rpc

        self._rpc = rpc
        host, port = _grpc_target(self.endpoints)
        self._client = aetcd.Client(host=host, port=port, timeout=None, options={
            "grpc.max_receive_message_length": MAX_MESSAGE,
            "grpc.max_send_message_length": MAX_MESSAGE,
            "grpc.keepalive_time_ms": 30000,
            "grpc.keepalive_timeout_ms": 10000,
            "grpc.initial_reconnect_backoff_ms": 100,
            "grpc.max_reconnect_backoff_ms": 2000,
        })
        await self._client.connect()
        objs, rev = await self._load()
        self._index_replace(objs)
        self.revision = rev
        self._oldest = rev
        self._watch_task = asyncio.get_running_loop().create_task(self._watch_loop())

    async def close(self) -> None:
        self._closed = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            try:
                await self._watch_task
            except (asyncio.CancelledError, Exception):
                pass
            self._watch_task = None
        if self._barrier_task is not None:
            self._barrier_task.cancel()
        for fut in [p.fut for p in self._pending.values()] + [self._barrier_next]:
            if fut is not None and not fut.done():
                fut.set_exception(StorageError("store closed"))
                fut.exception()
        self._pending.clear()
        self._barrier_next = None
        self._close_watchers()
        if self._client is not None:
            try:
                await self._client.close()
            except Exception:
                pass
            self._client = None

    # ---- etcd requests -----------------------------------------------------
    def _ekey(self, key: str) -> bytes:
        if not key.startswith(PREFIX):
            raise ValueError(f"key {key!r} is outside {PREFIX}")
        return self._rootb + key.encode()

    async def _call(self, method: str, request: Any, *, idempotent: bool = True) -> Any:
        """One unary KV request, retried while etcd is unavailable (no leader, member down)."""
        rpc = self._rpc
        deadline = time.monotonic() + self._retry_deadline
        delay = 0.05
        while True:
            try:
                await self._client.connect()
                fn = getattr(self._client.kvstub, method)
                return await fn(request, timeout=self._timeout, metadata=self._client.metadata)
            except rpc.AioRpcError as e:
                code = e.code()
                retry = code == rpc.StatusCode.UNAVAILABLE or (
                    idempotent and code == rpc.StatusCode.DEADLINE_EXCEEDED)
                if not retry or self._closed or time.monotonic() > deadline:
                    raise EtcdUnavailable(f"etcd {method}: {code.name}: {e.details()}") from None
                log.debug("etcd %s: %s (%s); retrying", method, code.name, e.details())
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _load(self) -> tuple[list[KV], int]:
        """Every object under the prefix, paginated, all at the first page's revision."""
        rpc = self._rpc
        start = self._range_key
        rev = 0
        out: list[KV] = []
        n = len(self._rootb)
        while True:
            resp = await self._call("Range", rpc.RangeRequest(key=start, range_end=self._range_end, limit=PAGE_SIZE,
                                                              revision=rev))
            if rev == 0:
                rev = resp.header.revision
            for kv in resp.kvs:
                cur = self._data.get(k := kv.key[n:].decode())
                if cur is not None and cur.mod_rev == kv.mod_revision:
                    out.append(cur)
                    continue
                obj, raw = _stamp(kv.value, kv.mod_revision)
                out.append(KV(k, obj, raw, kv.create_revision, kv.mod_revision))
            if not resp.more or not resp.kvs:
                return out, rev
            start = resp.kvs[-1].key + b"\x00"

    def _range_op(self, ekey: bytes) -> Any:
        return self._rpc.RequestOp(request_range=self._rpc.RangeRequest(key=ekey))

    def _mod_compare(self, ekey: bytes, expected_rev: int | None) -> Any:
        C = self._rpc.Compare
        if expected_rev is None:  # the key must exist
            return C(result=C.CompareResult.GREATER, target=C.CompareTarget.MOD, key=ekey, mod_revision=0)
        return C(result=C.CompareResult.EQUAL, target=C.CompareTarget.MOD, key=ekey, mod_revision=expected_rev)

    async def _txn(self, compare: Any, success: Any, ekey: bytes, value: bytes | None) -> tuple[int, Any]:
        """Run a conditional write. Returns (revision, None) on success or (0, current etcd kv or None).

        A write whose outcome is unknown (connection lost after sending) is retried; if the retry's
        comparison fails because the key already holds exactly our bytes, the first attempt won.
        """
        rpc = self._rpc
        req = rpc.TxnRequest(compare=[compare], success=[success], failure=[self._range_op(ekey)])
        deadline = time.monotonic() + self._retry_deadline
        delay = 0.05
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._client.connect()
                resp = await self._client.kvstub.Txn(req, timeout=self._timeout, metadata=self._client.metadata)
                break
            except rpc.AioRpcError as e:
                code = e.code()
                if code not in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED) or self._closed \
                        or time.monotonic() > deadline:
                    raise EtcdUnavailable(f"etcd Txn: {code.name}: {e.details()}") from None
                log.debug("etcd Txn: %s (%s); retrying", code.name, e.details())
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        if resp.succeeded:
            return resp.header.revision, None
        kvs = resp.responses[0].response_range.kvs
        cur = kvs[0] if kvs else None
        if attempt > 1 and cur is not None and value is not None and cur.value == value:
            return cur.mod_revision, None
        # Let the mirror catch up with what made the comparison fail, so a retry reads fresh state.
        await self._wait_for(resp.header.revision)
        return 0, cur

    def _current_kv(self, key: str, ekv: Any) -> KV | None:
        if ekv is None:
            return None
        obj, raw = _stamp(ekv.value, ekv.mod_revision)
        return KV(key, obj, raw, ekv.create_revision, ekv.mod_revision)

    # ---- writes ------------------------------------------------------------
    async def create(self, key: str, obj: dict[str, Any]) -> KV:
        rpc = self._rpc
        ekey = self._ekey(key)
        md = obj["metadata"]
        md.pop("resourceVersion", None)
        value = orjson.dumps(obj)
        C = rpc.Compare
        cmp = C(result=C.CompareResult.EQUAL, target=C.CompareTarget.CREATE, key=ekey, create_revision=0)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=ekey, value=value))
        rev, _cur = await self._txn(cmp, put, ekey, value)
        if not rev:
            raise KeyExists(key)
        md["resourceVersion"] = str(rev)
        return await self._local(rev, ADDED, key, obj, orjson.dumps(obj))

    async def update(self, key: str, obj: dict[str, Any], expected_rev: int | None = None) -> KV:
        rpc = self._rpc
        ekey = self._ekey(key)
        md = obj["metadata"]
        md.pop("resourceVersion", None)
        value = orjson.dumps(obj)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=ekey, value=value))
        rev, cur = await self._txn(self._mod_compare(ekey, expected_rev), put, ekey, value)
        if not rev:
            if cur is None:
                raise KeyNotFound(key)
            raise RevisionConflict(self._current_kv(key, cur))
        md["resourceVersion"] = str(rev)
        return await self._local(rev, MODIFIED, key, obj, orjson.dumps(obj))

    async def delete(self, key: str, expected_rev: int | None = None) -> KV:
        rpc = self._rpc
        ekey = self._ekey(key)
        op = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=ekey))
        rev, cur = await self._txn(self._mod_compare(ekey, expected_rev), op, ekey, None)
        if not rev:
            if cur is None:
                raise KeyNotFound(key)
            raise RevisionConflict(self._current_kv(key, cur))
        return await self._local(rev, DELETED, key, None, b"")

    async def compact(self, rev: int) -> None:
        """Forget history up to rev, here and in etcd: watches from older revisions get Compacted."""
        rev = min(rev, self.revision)
        if not self._compact_ring(rev):
            return
        try:
            await self._call("Compact", self._rpc.CompactionRequest(revision=rev))
        except EtcdUnavailable as e:
            # Another API server compacted further already ("required revision has been compacted").
            log.debug("etcd compaction to %d: %s", rev, e)

    # ---- consistent reads ------------------------------------------------------
    async def sync(self) -> None:
        """Wait until the mirror reflects every write etcd acknowledged before this call.

        The API server calls this before serving a request that must not read stale state (a
        GET or LIST without resourceVersion, any write) when other API servers share etcd: as
        upstream reads from etcd, or from a watch cache proven fresh by a progress notification.
        Concurrent callers share one barrier (one linearizable etcd read) per round trip.
        """
        fut = self._barrier_next
        if fut is None:
            fut = self._barrier_next = asyncio.get_running_loop().create_future()
            if self._barrier_task is None or self._barrier_task.done():
                self._barrier_task = asyncio.get_running_loop().create_task(self._barriers())
        await asyncio.shield(fut)

    async def _barriers(self) -> None:
        rpc = self._rpc
        while self._barrier_next is not None:
            # Callers arriving from now on wait for the next barrier, which starts after they arrived.
            fut, self._barrier_next = self._barrier_next, None
            try:
                resp = await self._call("Range", rpc.RangeRequest(key=self._range_key, limit=1, keys_only=True))
                await self._wait_for(resp.header.revision)
            except Exception as e:
                if not fut.done():
                    fut.set_exception(e)
                    fut.exception()  # retrieved: nobody may be left waiting
                continue
            if not fut.done():
                fut.set_result(None)

    # ---- applying events in order ----------------------------------------------
    async def _local(self, rev: int, typ: str, key: str, obj: dict[str, Any] | None, raw: bytes) -> KV:
        """Apply our own successful write once every earlier revision is applied; return its KV."""
        if rev <= self.revision:  # the watch was faster
            return self._applied(rev, key, typ, obj, raw)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rev] = _Pending(typ, key, obj, raw, fut)
        self._drain()
        if fut.done():
            return fut.result()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), LOCAL_APPLY_WAIT)
        except TimeoutError:
            # The watch is behind: acknowledge what etcd accepted; local watchers get it once the watch does.
            log.warning("etcd watch is behind revision %d; acknowledging write of %s before it is mirrored", rev, key)
            return self._applied(rev, key, typ, obj, raw)

    def _applied(self, rev: int, key: str, typ: str, obj: dict[str, Any] | None, raw: bytes) -> KV:
        ring = self._ring
        i = self._find_ring(rev) - 1
        while i >= 0 and ring[i].rev == rev:
            if ring[i].kv.key == key:
                return ring[i].kv
            i -= 1
        cur = self._data.get(key)
        if cur is not None and cur.mod_rev == rev:
            return cur
        if obj is None:
            return _tombstone(cur, rev) if cur is not None else KV(key, {"metadata": {}}, b'{"metadata":{}}', 0, rev)
        return KV(key, obj, raw, cur.create_rev if cur is not None and typ != ADDED else rev, rev)

    def _drain(self) -> None:
        pending = self._pending
        while pending:
            p = pending.pop(self.revision + 1, None)
            if p is None:
                break
            self._apply_pending(self.revision + 1, p)
        if pending and min(pending) <= self.revision:  # passed by a progress notification or a resync
            for r in [r for r in pending if r <= self.revision]:
                p = pending.pop(r)
                if not p.fut.done():
                    p.fut.set_result(self._applied(r, p.key, p.typ, p.obj, p.raw))
        if self._waiters:
            self._wake_waiters()

    def _pending_to_watch(self, rev: int, p: _Pending) -> None:
        """Our own write, delivered by the watch before it could be applied ahead of it."""
        self._apply_pending(rev, p)
        self._ahead.discard(rev)

    def _apply_pending(self, rev: int, p: _Pending) -> None:
        self._ahead.add(rev)
        if p.typ == DELETED:
            prev = self._index_delete(p.key)
            self.revision = rev
            if prev is None:
                kv = KV(p.key, {}, b"{}", 0, rev)
            else:
                kv = _tombstone(prev, rev)
                self._publish(Event(DELETED, kv, prev))
        else:
            prev = self._data.get(p.key)
            kv = KV(p.key, p.obj, p.raw, prev.create_rev if prev is not None else rev, rev)
            self._index_put(kv)
            self.revision = rev
            self._publish(Event(MODIFIED if prev is not None else ADDED, kv, prev))
        if not p.fut.done():
            p.fut.set_result(kv)

    def _apply_watch_event(self, ev: Any) -> None:
        ekv = ev.kv
        rev = ekv.mod_revision
        if rev != self._applying:
            if rev <= self.revision:
                if rev in self._ahead:
                    self._ahead.discard(rev)
                    return  # applied already (our own write)
                # An event the mirror has moved past without applying: a progress notification claimed
                # a revision before every event up to it was delivered (etcd < 3.4.24/3.5.8 can do that).
                # The mirror would silently miss the change, so re-read everything instead.
                log.warning("etcd watch delivered revision %d after the mirror reached %d; re-reading %s",
                            rev, self.revision, PREFIX)
                raise _Resync(0)
            self._applying = rev
        p = self._pending.pop(rev, None)
        if p is not None:
            self._pending_to_watch(rev, p)
            return
        key = ekv.key[len(self._rootb):].decode()
        if ev.type == 1:  # DELETE
            prev = self._index_delete(key)
            self.revision = rev
            if prev is not None:
                self._publish(Event(DELETED, _tombstone(prev, rev), prev))
            return
        obj, raw = _stamp(ekv.value, rev)
        kv = KV(key, obj, raw, ekv.create_revision, rev)
        prev = self._index_put(kv)
        self.revision = rev
        self._publish(Event(MODIFIED if prev is not None else ADDED, kv, prev))

    async def _wait_for(self, rev: int, timeout: float = 2.0) -> None:
        """Wait (bounded) until the mirror has applied everything up to rev."""
        if rev <= self.revision or self._closed:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((rev, fut))
        q = self._watch_requests
        if q is not None:  # revisions of keys outside the prefix only show up as progress
            q.put_nowait(self._rpc.WatchRequest(progress_request=self._rpc.WatchProgressRequest()))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters = [(r, f) for r, f in self._waiters if f is not fut]

    async def wait_revision(self, rev: int, timeout: float) -> bool:
        """Wait (bounded) until the mirror has applied revision rev, asking etcd for progress."""
        await self._wait_for(rev, timeout)
        return rev <= self.revision

    def _wake_waiters(self) -> None:
        self._waiters = release_waiters(self._waiters, self.revision)

    # ---- the etcd watch ------------------------------------------------------
    async def _watch_loop(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                await self._watch_once()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except _Resync as e:
                log.warning("etcd watch cannot resume (compacted at %d); re-reading %s", e.compacted, PREFIX)
                try:
                    await self._resync()
                    delay = 0.05
                    continue
                except Exception as ex:
                    log.warning("etcd resync failed: %s", ex)
            except Exception as e:
                if self._closed:
                    return
                code = getattr(e, "code", None)
                log.warning("etcd watch interrupted (%s); resuming from revision %d",
                            code().name if callable(code) else e, self.revision + 1)
            self._watch_requests = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _watch_once(self) -> None:
        rpc = self._rpc
        await self._client.connect()
        q: asyncio.Queue = asyncio.Queue()
        q.put_nowait(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
            key=self._range_key, range_end=self._range_end, start_revision=self.revision + 1,
            progress_notify=True)))

        async def requests() -> Any:
            while True:
                yield await q.get()

        stub = rpc.WatchStub(self._client.channel)
        call = stub.Watch(requests(), metadata=(("hasleader", "true"),))
        try:
            async for resp in call:
                if resp.compact_revision:
                    raise _Resync(resp.compact_revision)
                if resp.created:
                    self._watch_requests = q
                    self._watching.set()
                if resp.canceled:
                    raise StorageError(f"etcd watch canceled: {resp.cancel_reason}")
                if resp.events:
                    for ev in resp.events:
                        self._apply_watch_event(ev)
                    self._drain()
                elif not resp.created and resp.header.revision > self.revision and not resp.fragment:
                    # A progress notification: every event up to this revision has been delivered.
                    self.revision = resp.header.revision
                    self._ahead.clear()
                    self._drain()
                elif self._waiters:
                    self._wake_waiters()
        finally:
            self._watch_requests = None
            self._watching.clear()
            call.cancel()
        raise StorageError("etcd watch stream ended")

    async def _resync(self) -> None:
        objs, rev = await self._load()
        self._ahead.clear()
        self._index_replace(objs)
        self.revision = max(rev, self.revision)
        self._applying = 0
        self.resyncs += 1
        self._reset_history(self.revision)
        self._drain()


class _Resync(Exception):
    def __init__(self, compacted: int) -> None:
        super().__init__(f"compacted at {compacted}")
        self.compacted = compacted


async def open_etcd(servers: str | list[str], *, key_prefix: str = "", ring_size: int = RING_SIZE) -> EtcdStore:
    """Connect, load the mirror and start following etcd."""
    s = EtcdStore(servers, key_prefix=key_prefix, ring_size=ring_size)
    await s.start()
    return s

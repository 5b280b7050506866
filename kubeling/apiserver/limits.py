"""Front-door hardening: per-client concurrency limits, TLS settings, and the audit log.

- ClientLimiter is a simple form of upstream's API Priority and Fairness: each client (authenticated
  user) may have a bounded number of requests executing and a bounded number waiting briefly for a
  slot; beyond that it gets 429 TooManyRequests with Retry-After, so one client flooding the server
  cannot starve the others. system:masters (upstream's `exempt` flow schema), health probes and
  long-running watches are not limited.
- ssl_context: TLS 1.2 or newer only; client certificates are requested but optional and, when sent,
  must chain to the cluster CA (Go's VerifyClientCertIfGiven).
- AuditLog writes one JSON line per mutating request in upstream's audit.k8s.io/v1 Event shape
  (level Metadata, stage ResponseComplete), buffered and flushed a moment later, never the bodies.
"""
from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections import deque
from typing import Any

import orjson

from ..api.errors import ApiError

DEFAULT_MAX_INFLIGHT = 64  # executing requests per client
DEFAULT_MAX_QUEUED = 64  # requests per client waiting for a slot
DEFAULT_QUEUE_WAIT = 1.0  # seconds a queued request may wait before it is rejected
RETRY_AFTER = 1
AUDIT_MAX_BYTES = 100 * 1024 * 1024  # rotate the audit log to .1 beyond this (--audit-log-maxsize)
AUDIT_FLUSH_DELAY = 0.2


def too_many_requests(retry_after: int = RETRY_AFTER) -> ApiError:
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.", retry_after=retry_after)


class ClientLimiter:
    """Per-client slots: at most max_inflight executing, max_queued waiting up to queue_wait seconds."""

    def __init__(self, max_inflight: int = DEFAULT_MAX_INFLIGHT, max_queued: int = DEFAULT_MAX_QUEUED,
                 queue_wait: float = DEFAULT_QUEUE_WAIT) -> None:
        self.max_inflight = max(1, max_inflight)
        self.max_queued = max(0, max_queued)
        self.queue_wait = queue_wait
        self._inflight: dict[str, int] = {}
        self._waiters: dict[str, deque[asyncio.Future]] = {}
        self.rejected = 0

    def inflight(self, key: str) -> int:
        return self._inflight.get(key, 0)

    async def acquire(self, key: str) -> None:
        """Take a slot for key, waiting briefly in its queue; raises 429 when the client has too many."""
        n = self._inflight.get(key, 0)
        q = self._waiters.get(key)
        if n < self.max_inflight and not q:
            self._inflight[key] = n + 1
            return
        if q is None:
            q = self._waiters[key] = deque()
        if len(q) >= self.max_queued:
            self.rejected += 1
            raise too_many_requests()
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        q.append(fut)
        try:
            await asyncio.wait((fut,), timeout=self.queue_wait)
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.release(key)  # granted while we were being cancelled: give it back
            else:
                self._drop(key, fut)
            raise
        if fut.done() and not fut.cancelled():
            return  # release() handed its slot to us
        self._drop(key, fut)
        self.rejected += 1
        raise too_many_requests()

    def _drop(self, key: str, fut: asyncio.Future) -> None:
        fut.cancel()
        q = self._waiters.get(key)
        if q is not None:
            try:
                q.remove(fut)
            except ValueError:
                pass
            if not q:
                del self._waiters[key]

    def release(self, key: str) -> None:
        """Give the slot to the client's next waiter, or free it."""
        q = self._waiters.get(key)
        while q:
            fut = q.popleft()
            if not fut.done():
                fut.set_result(None)
                if not q:
                    del self._waiters[key]
                return
        if q is not None:
            del self._waiters[key]
        n = self._inflight.get(key, 0) - 1
        if n > 0:
            self._inflight[key] = n
        else:
            self._inflight.pop(key, None)


def ssl_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """The serving TLS context: TLS 1.2+, optional client certificates verified against client_ca."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


# ---- audit -----------------------------------------------------------------------------------------------------

def micro_time(t: float) -> str:
    """metav1.MicroTime's JSON form."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e6):06d}Z"


class AuditLog:
    """Appends audit events as JSON lines; writes are buffered and flushed shortly after."""

    def __init__(self, path: str, max_bytes: int = AUDIT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self._f = open(path, "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self._pending = False

    def write(self, event: dict[str, Any]) -> None:
        self._f.write(orjson.dumps(event) + b"\n")
        if not self._pending:
            self._pending = True
            try:
                asyncio.get_running_loop().call_later(AUDIT_FLUSH_DELAY, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._pending = False
        if self._f.closed:
            return
        self._f.flush()
        if self._f.tell() > self.max_bytes:
            self._f.close()
            os.replace(self.path, self.path + ".1")
            self._f = open(self.path, "ab")  # noqa: SIM115

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            self._f.close()

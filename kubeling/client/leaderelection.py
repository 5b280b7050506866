"""Lease-based leader election, with client-go's semantics (tools/leaderelection, LeaseLock).

Several copies of a component (controller-manager, scheduler) compete for one
coordination.k8s.io/v1 Lease in kube-system. The holder renews `renewTime` every retry period;
the others watch the record and take over once it has not changed for `leaseDurationSeconds`
of *their own* clock (expiry is judged from when a candidate last saw the record change, never
from the timestamps in it, so clock skew between machines does not matter). Every write is an
update on the observed resourceVersion, so two candidates can never both win. A leader that
cannot renew within the renew deadline stops leading: the caller must stop its work at once
(upstream's components exit), because a standby may take over one lease duration after the last
successful renewal.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..api import meta
from ..api.errors import ApiError
from .client import Client
from .informer import cancel_and_wait

log = logging.getLogger(__name__)

LEASES = "leases.coordination.k8s.io"
JITTER_FACTOR = 1.2


def default_identity() -> str:
    """hostname_<uuid>, as kube-controller-manager and kube-scheduler build theirs."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass
class LeaderElectionConfig:
    name: str
    namespace: str = "kube-system"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = False

    def validate(self) -> None:
        """The same constraints as NewLeaderElector."""
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if self.lease_duration <= 0 or self.renew_deadline <= 0 or self.retry_period <= 0:
            raise ValueError("leaseDuration, renewDeadline and retryPeriod must be greater than zero")
        if not self.identity:
            raise ValueError("lock identity is empty")


@dataclass
class _Record:
    holder: str = ""
    lease_duration: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    def spec(self) -> dict[str, Any]:
        s: dict[str, Any] = {"holderIdentity": self.holder, "leaseDurationSeconds": self.lease_duration,
                             "leaseTransitions": self.transitions}
        if self.acquire_time:
            s["acquireTime"] = self.acquire_time
        if self.renew_time:
            s["renewTime"] = self.renew_time
        return s


def _record_of(lease: dict[str, Any]) -> _Record:
    s = lease.get("spec") or {}
    return _Record(s.get("holderIdentity") or "", int(s.get("leaseDurationSeconds") or 0), s.get("acquireTime"),
                   s.get("renewTime"), int(s.get("leaseTransitions") or 0))


class LeaderElector:
    """Run `await elector.run()`: it returns once leadership is lost (or the task is cancelled)."""

    def __init__(self, client: Client, config: LeaderElectionConfig,
                 on_started_leading: Callable[[], Awaitable[Any]],
                 on_stopped_leading: Callable[[], Any] | None = None,
                 on_new_leader: Callable[[str], Any] | None = None,
                 recorder: Any = None) -> None:
        config.validate()
        self.client = client
        self.config = config
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.recorder = recorder
        self._lease: dict[str, Any] | None = None  # the Lease as last read or written (for its resourceVersion)
        self._observed = _Record()
        self._observed_raw: bytes | None = None
        self._observed_time = 0.0  # monotonic time the record was last seen to change
        self._reported = ""
        self.leading = asyncio.Event()

    # ---- queries -----------------------------------------------------------
    def is_leader(self) -> bool:
        return self._observed.holder == self.config.identity

    def get_leader(self) -> str:
        return self._observed.holder

    def _lease_valid(self, now: float) -> bool:
        return self._observed_time + self._observed.lease_duration > now

    # ---- main loop ---------------------------------------------------------
    async def run(self) -> None:
        """Acquire, start the leader's work, renew until that fails; then stop the work."""
        work: asyncio.Task | None = None
        try:
            await self._acquire()
            self.leading.set()
            self._record_event("became leader")
            work = asyncio.get_running_loop().create_task(self._started())
            await self._renew()
            self._record_event("stopped leading")
            log.error("leaderelection lost for lease %s/%s", self.config.namespace, self.config.name)
        finally:
            self.leading.clear()
            if work is not None and not work.done():
                await cancel_and_wait(work)
            if self.config.release_on_cancel:
                await self._release()
            if self.on_stopped_leading is not None:
                r = self.on_stopped_leading()
                if asyncio.iscoroutine(r):
                    await r

    async def _started(self) -> None:
        try:
            await self.on_started_leading()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("OnStartedLeading failed")

    async def _acquire(self) -> None:
        c = self.config
        desc = f"{c.namespace}/{c.name}"
        log.info("attempting to acquire leader lease %s...", desc)
        while True:
            ok = await self._try_acquire_or_renew()
            self._maybe_report_transition()
            if ok:
                log.info("successfully acquired lease %s", desc)
                return
            await asyncio.sleep(c.retry_period * (1 + random.random() * JITTER_FACTOR))

    async def _renew(self) -> None:
        c = self.config
        while True:
            deadline = time.monotonic() + c.renew_deadline
            renewed = False
            while True:  # poll immediately, then every retry period, until the renew deadline
                try:
                    renewed = await asyncio.wait_for(self._try_acquire_or_renew(),
                                                     max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    renewed = False
                if renewed or time.monotonic() + c.retry_period > deadline:
                    break
                await asyncio.sleep(c.retry_period)
            self._maybe_report_transition()
            if not renewed:
                return
            await asyncio.sleep(c.retry_period)

    # ---- one attempt -------------------------------------------------------
    async def _try_acquire_or_renew(self) -> bool:
        c = self.config
        now_wall = time.time()
        now = time.monotonic()
        stamp = meta.now_micro(now_wall)
        want = _Record(c.identity, math.ceil(c.lease_duration), stamp, stamp, 0)
        # 1. Fast path: the leader updates optimistically on the version it wrote last.
        if self.is_leader() and self._lease_valid(now) and self._lease is not None:
            want.acquire_time = self._observed.acquire_time
            want.transitions = self._observed.transitions
            if await self._update(want):
                return True
            log.info("failed to update lease %s/%s optimistically, falling back to slow path", c.namespace, c.name)
        # 2. Get the record, or create it.
        try:
            lease = await self.client.get(LEASES, c.namespace, c.name)
        except ApiError as e:
            if e.code != 404:
                log.error("error retrieving resource lock %s/%s: %s", c.namespace, c.name, e.message)
                return False
            return await self._create(want)
        except Exception as e:  # connection trouble: retried on the next period
            log.error("error retrieving resource lock %s/%s: %s", c.namespace, c.name, e)
            return False
        self._lease = lease
        rec = _record_of(lease)
        raw = orjson.dumps(rec.spec())
        if raw != self._observed_raw:
            self._set_observed(rec)
            self._observed_raw = raw
        # 3. Held by someone else and not yet expired (by our clock): wait.
        if rec.holder and self._lease_valid(now) and not self.is_leader():
            log.debug("lock is held by %s and has not yet expired", rec.holder)
            return False
        # 4. Take it (or renew it through the slow path).
        if self.is_leader():
            want.acquire_time = rec.acquire_time
            want.transitions = rec.transitions
        else:
            want.transitions = rec.transitions + 1
        return await self._update(want)

    async def _create(self, rec: _Record) -> bool:
        c = self.config
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": c.name, "namespace": c.namespace}, "spec": rec.spec()}
        try:
            self._lease = await self.client.create(LEASES, c.namespace, body)
        except Exception as e:
            log.error("error initially creating leader election record: %s", getattr(e, "message", e))
            return False
        self._set_observed(rec)
        return True

    async def _update(self, rec: _Record) -> bool:
        if self._lease is None:
            return False
        lease = dict(self._lease)
        lease["metadata"] = dict(self._lease["metadata"])
        lease["spec"] = rec.spec()
        try:
            self._lease = await self.client.update(LEASES, lease)
        except Exception as e:  # a 409 means someone else wrote first: never overwrite
            log.error("failed to update lock: %s", getattr(e, "message", e))
            return False
        self._set_observed(rec)
        return True

    async def _release(self) -> None:
        """Give the lease up (holder cleared, 1 s duration) so a standby need not wait it out."""
        if not self.is_leader():
            return
        stamp = meta.now_micro()
        rec = _Record("", 1, stamp, stamp, self._observed.transitions)
        try:
            await asyncio.wait_for(self._update(rec), self.config.retry_period)
        except (TimeoutError, Exception):
            log.error("failed to release lock")

    def _set_observed(self, rec: _Record) -> None:
        self._observed = rec
        self._observed_raw = orjson.dumps(rec.spec())
        self._observed_time = time.monotonic()

    def _maybe_report_transition(self) -> None:
        holder = self._observed.holder
        if holder == self._reported:
            return
        self._reported = holder
        if holder:
            log.info("new leader elected for %s/%s: %s", self.config.namespace, self.config.name, holder)
        if self.on_new_leader is not None:
            try:
                self.on_new_leader(holder)
            except Exception:
                log.exception("OnNewLeader failed")

    def _record_event(self, what: str) -> None:
        if self.recorder is None or self._lease is None:
            return
        lease = self._lease
        if "kind" not in lease:
            lease = {**lease, "apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
        self.recorder.event(lease, "Normal", "LeaderElection", f"{self.config.identity} {what}")


async def run_with_leader_election(client: Client, config: LeaderElectionConfig,
                                   start: Callable[[], Awaitable[Callable[[], Awaitable[None]] | None]],
                                   recorder: Any = None) -> None:
    """Start the component once elected; stop it when leadership is lost. Returns after losing it."""
    stop_fn: list[Callable[[], Awaitable[None]]] = []

    async def started() -> None:
        fn = await start()
        if fn is not None:
            stop_fn.append(fn)
        await asyncio.Event().wait()  # lead until cancelled

    async def stopped() -> None:
        for fn in stop_fn:
            try:
                await fn()
            except Exception:
                log.exception("error stopping after losing leadership")

    await LeaderElector(client, config, started, stopped, recorder=recorder).run()


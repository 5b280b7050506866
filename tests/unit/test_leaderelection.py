"""Lease-based leader election (client-go semantics) against an in-process registry."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeling.api.registry import Registry, Request
from kubeling.api.resources import by_qualified
from kubeling.client.client import LocalClient
from kubeling.client.leaderelection import LEASES, LeaderElectionConfig, LeaderElector
from kubeling.storage.sqlite import open_memory

FAST = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.2}


async def _client() -> LocalClient:
    reg = Registry(open_memory())
    await reg.create(by_qualified("namespaces"), None, {"metadata": {"name": "kube-system"}},
                     Request(field_manager="test"))
    return LocalClient(reg)


class Candidate:
    """One elector plus a record of what its callbacks saw."""

    def __init__(self, client: LocalClient, identity: str, **kw: Any) -> None:
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.leaders: list[str] = []
        cfg = LeaderElectionConfig(name="kube-controller-manager", identity=identity, **{**FAST, **kw})

        async def lead() -> None:
            self.started.set()
            await asyncio.Event().wait()

        self.elector = LeaderElector(client, cfg, lead, self.stopped.set, self.leaders.append)
        self.task = asyncio.get_running_loop().create_task(self.elector.run())

    async def crash(self) -> None:
        """Stop without releasing: the lease is left to expire, as after kill -9."""
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def test_config_validation_matches_upstream() -> None:
    with pytest.raises(ValueError):
        LeaderElectionConfig(name="x", lease_duration=10, renew_deadline=10).validate()
    with pytest.raises(ValueError):
        LeaderElectionConfig(name="x", renew_deadline=2.4, retry_period=2).validate()
    with pytest.raises(ValueError):
        LeaderElectionConfig(name="x", identity="").validate()
    LeaderElectionConfig(name="x").validate()  # 15s / 10s / 2s


def test_one_leader_then_failover_after_lease_expiry() -> None:
    async def body() -> None:
        client = await _client()
        a = Candidate(client, "a")
        await asyncio.wait_for(a.started.wait(), 3)
        b = Candidate(client, "b")
        await asyncio.sleep(1.5)  # well past a lease duration: a keeps renewing, b must not win
        assert not b.started.is_set()
        lease = await client.get(LEASES, "kube-system", "kube-controller-manager")
        spec = lease["spec"]
        assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 1
        assert spec["leaseTransitions"] == 0 and spec["acquireTime"] and spec["renewTime"]
        assert b.leaders == ["a"]
        await a.crash()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.wait_for(b.started.wait(), 5)
        # Taken over once the record stopped changing for a lease duration (plus polling).
        assert 0.5 < loop.time() - t0 < 1.0 + 3 * 0.2 * 2.2 + 0.5
        lease = await client.get(LEASES, "kube-system", "kube-controller-manager")
        assert lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1
        assert b.leaders[-1] == "b"
        await b.crash()

    asyncio.run(body())


def test_leader_that_cannot_renew_stops_leading() -> None:
    async def body() -> None:
        client = await _client()
        a = Candidate(client, "a")
        await asyncio.wait_for(a.started.wait(), 3)
        # Someone else takes the lease behind a's back (as a standby would after a long pause of a).
        lease = await client.get(LEASES, "kube-system", "kube-controller-manager")
        lease["spec"]["holderIdentity"] = "intruder"
        await client.update(LEASES, lease)
        # a sees a valid lease held by someone else: it cannot renew within the deadline and stops.
        await asyncio.wait_for(a.stopped.wait(), 5)
        await asyncio.wait_for(a.task, 1)
        assert not a.elector.leading.is_set()

    asyncio.run(body())


def test_concurrent_candidates_elect_exactly_one() -> None:
    async def body() -> None:
        client = await _client()
        cands = [Candidate(client, f"c{i}") for i in range(5)]
        await asyncio.sleep(1.0)
        leaders = [c for c in cands if c.started.is_set()]
        assert len(leaders) == 1
        lease = await client.get(LEASES, "kube-system", "kube-controller-manager")
        assert lease["spec"]["holderIdentity"] == leaders[0].elector.config.identity
        for c in cands:
            await c.crash()

    asyncio.run(body())


def test_release_on_cancel_lets_a_standby_take_over_at_once() -> None:
    async def body() -> None:
        client = await _client()
        a = Candidate(client, "a", lease_duration=5.0, renew_deadline=3.0, retry_period=0.2, release_on_cancel=True)
        await asyncio.wait_for(a.started.wait(), 3)
        b = Candidate(client, "b", lease_duration=5.0, renew_deadline=3.0, retry_period=0.2)
        await asyncio.sleep(0.3)
        await a.crash()  # cancelled: releases (holder cleared, 1 s duration)
        lease = await client.get(LEASES, "kube-system", "kube-controller-manager")
        assert lease["spec"].get("holderIdentity", "") == "" and lease["spec"]["leaseDurationSeconds"] == 1
        await asyncio.wait_for(b.started.wait(), 2)  # far sooner than the 5 s lease
        await b.crash()

    asyncio.run(body())

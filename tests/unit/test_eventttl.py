"""Event expiry: which events are past the TTL, and a sweep against a recording client."""
from __future__ import annotations

import asyncio
from typing import Any

from kubeling.api import meta
from kubeling.controllers import eventttl


def _ev(name: str, last: float | None = None, created: float | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"}}
    if last is not None:
        ev["lastTimestamp"] = meta.now_rfc3339(last)
    if created is not None:
        ev["metadata"]["creationTimestamp"] = meta.now_rfc3339(created)
    return ev


def test_expired_uses_last_activity() -> None:
    now = 1_800_000_000.0
    evs = [_ev("old", last=now - 7200, created=now - 7300), _ev("recent", last=now - 60, created=now - 7300),
           _ev("created-old", created=now - 4000), _ev("no-time")]
    assert eventttl.expired(evs, now, 3600) == [("default", "old", "u-old"), ("default", "created-old", "u-created-old")]


def test_sweep_deletes_with_uid_precondition() -> None:
    import time

    now = time.time()

    class Client:
        def __init__(self) -> None:
            self.deleted: list[tuple[str, str, dict]] = []

        async def list(self, resource: str) -> tuple[list[dict[str, Any]], str]:
            return [_ev("a", last=now - 5000), _ev("b", last=now)], "1"

        async def delete(self, resource: str, ns: str, name: str, options: dict) -> None:
            self.deleted.append((ns, name, options))

    c = Client()
    assert asyncio.run(eventttl.EventTTL(c, ttl=3600).sweep()) == 1  # type: ignore[arg-type]
    assert c.deleted == [("default", "a", {"preconditions": {"uid": "u-a"}})]

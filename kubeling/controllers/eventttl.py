"""Event expiry: upstream's API server stores Events with a TTL (kube-apiserver --event-ttl, default 1 h)
through etcd leases. kubeling's stores have no per-key TTL, so this periodic pass deletes core/v1 Events
whose last activity is older than the TTL; without it a long-running cluster keeps every event forever."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import Client
from ..client.informer import cancel_and_wait
from . import register

log = logging.getLogger(__name__)

EVENT_TTL = 3600.0
CHECK_PERIOD = 60.0


def last_activity(ev: dict[str, Any]) -> float | None:
    """When the event last happened: lastTimestamp, else eventTime, else its creation."""
    for t in (ev.get("lastTimestamp"), ev.get("eventTime"), (ev.get("metadata") or {}).get("creationTimestamp")):
        ts = meta.parse_time(t)
        if ts is not None:
            return ts
    return None


def expired(events: list[dict[str, Any]], now: float, ttl: float) -> list[tuple[str, str, str]]:
    """(namespace, name, uid) of the events older than ttl."""
    out = []
    for ev in events:
        t = last_activity(ev)
        if t is not None and now - t > ttl:
            md = ev["metadata"]
            out.append((md.get("namespace", ""), md["name"], md.get("uid", "")))
    return out


class EventTTL:
    def __init__(self, client: Client, ttl: float = EVENT_TTL, period: float = CHECK_PERIOD) -> None:
        self.client = client
        self.ttl = ttl
        self.period = period
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def sweep(self) -> int:
        events, _ = await self.client.list("events")
        deleted = 0
        for ns, name, uid in expired(events, time.time(), self.ttl):
            try:
                await self.client.delete("events", ns, name, {"preconditions": {"uid": uid}})
                deleted += 1
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
        return deleted

    async def _run(self) -> None:
        while True:
            try:
                n = await self.sweep()
                if n:
                    log.debug("expired %d events", n)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event expiry failed")
            await asyncio.sleep(self.period)


@register("eventttl")
async def start(ctx: Any) -> EventTTL:
    s = ctx.settings
    ttl = float(s.get("event_ttl", EVENT_TTL))
    c = EventTTL(ctx.client, ttl=ttl,
                 period=float(s.get("event_ttl_check_period", min(CHECK_PERIOD, max(ttl / 2, 0.5)))))
    c.start()
    return c

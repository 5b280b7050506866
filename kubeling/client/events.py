"""Event recording as client-go's EventRecorder does it: core/v1 Events, aggregated by
(object, reason, message) with a count, written asynchronously so controllers never wait, and
rate limited per source+object like client-go's spam filter (a burst of 25, then one every
5 minutes), so a controller creating thousands of pods does not write thousands of events."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from .client import Client

log = logging.getLogger(__name__)

SPAM_BURST = 25
SPAM_REFILL_SECONDS = 300.0
SPAM_CACHE_SIZE = 4096


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: dict[tuple, tuple[str, int]] = {}  # aggregation key -> (event name, count)
        self._pending: set[asyncio.Task] = set()
        self._buckets: OrderedDict[tuple, tuple[float, float]] = OrderedDict()  # spam key -> (tokens, stamp)

    def _allow(self, obj: dict[str, Any]) -> bool:
        """client-go's EventSourceObjectSpamFilter: a token bucket per source+object."""
        md = obj["metadata"]
        key = (obj.get("kind"), md.get("namespace"), md.get("name"), md.get("uid"), obj.get("apiVersion"))
        now = time.monotonic()
        tokens, stamp = self._buckets.pop(key, (float(SPAM_BURST), now))
        tokens = min(float(SPAM_BURST), tokens + (now - stamp) / SPAM_REFILL_SECONDS)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > SPAM_CACHE_SIZE:
            self._buckets.popitem(last=False)
        return allowed

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None:
        """Record an event about obj (Normal/Warning). Fire-and-forget."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not self._allow(obj):
            return
        t = loop.create_task(self._write(obj, type_, reason, message, field_path))
        self._pending.add(t)
        t.add_done_callback(self._pending.discard)

    async def _write(self, obj: dict[str, Any], type_: str, reason: str, message: str, field_path: str) -> None:
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        ref = {"kind": obj.get("kind"), "namespace": md.get("namespace"), "name": md["name"], "uid": md.get("uid"),
               "apiVersion": obj.get("apiVersion"), "resourceVersion": md.get("resourceVersion")}
        if field_path:
            ref["fieldPath"] = field_path
        ref = {k: v for k, v in ref.items() if v}
        now = meta.now_rfc3339()
        key = (ns, ref.get("kind"), ref.get("name"), ref.get("uid"), type_, reason, message)
        prev = self._seen.get(key)
        try:
            if prev is not None:
                name, count = prev
                try:
                    ev = await self.client.patch("events", ns, name, {"count": count + 1, "lastTimestamp": now})
                    self._seen[key] = (name, count + 1)
                    return
                except ApiError as e:
                    if e.code != 404:
                        raise
            name = f"{md['name']}.{int(time.time() * 1e9):x}"
            source = {"component": self.component}
            if self.host:
                source["host"] = self.host
            ev = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                "source": source, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "reportingComponent": self.component, "reportingInstance": self.host or "",
            }
            # Claim the aggregation key before the write so a twin recorded meanwhile becomes a count bump.
            self._seen[key] = (name, 1)
            try:
                await self.client.create("events", ns, ev)
            except BaseException:
                self._seen.pop(key, None)
                raise
            if len(self._seen) > 4096:
                self._seen.pop(next(iter(self._seen)))
        except ApiError as e:
            log.debug("event not recorded: %s", e.message)
        except Exception:
            log.debug("event not recorded", exc_info=True)

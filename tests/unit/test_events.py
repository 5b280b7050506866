"""EventRecorder: spam filter and aggregation against a recording client."""
from __future__ import annotations

import asyncio
from typing import Any

from kubeling.client import events as ev


class RecordingClient:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []

    async def create(self, resource: str, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.created.append(obj)
        return obj

    async def patch(self, resource: str, ns: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.patched.append((name, body))
        return body


def _obj(name: str) -> dict[str, Any]:
    return {"kind": "DaemonSet", "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"}}


def test_spam_filter_allows_a_burst_of_25_per_object() -> None:
    async def body() -> RecordingClient:
        c = RecordingClient()
        r = ev.EventRecorder(c, "daemonset-controller")  # type: ignore[arg-type]
        for i in range(100):
            r.event(_obj("ds"), "Normal", "SuccessfulCreate", f"Created pod: ds-{i}")
        r.event(_obj("other"), "Normal", "SuccessfulCreate", "Created pod: other-0")
        await asyncio.gather(*list(r._pending))
        return c

    c = asyncio.run(body())
    per_object: dict[str, int] = {}
    for e in c.created:
        per_object[e["involvedObject"]["name"]] = per_object.get(e["involvedObject"]["name"], 0) + 1
    assert per_object == {"ds": ev.SPAM_BURST, "other": 1}


def test_repeated_event_bumps_count() -> None:
    async def body() -> RecordingClient:
        c = RecordingClient()
        r = ev.EventRecorder(c, "kubelet", "node1")  # type: ignore[arg-type]
        r.event(_obj("p"), "Normal", "Pulled", "same")
        await asyncio.gather(*list(r._pending))
        r.event(_obj("p"), "Normal", "Pulled", "same")
        await asyncio.gather(*list(r._pending))
        return c

    c = asyncio.run(body())
    assert len(c.created) == 1
    assert c.patched and c.patched[0][1]["count"] == 2

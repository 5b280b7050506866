"""Pod garbage collection (upstream pkg/controller/podgc), a periodic pass over the pod cache.

Each pass (every 20 s as upstream; also soon after a node is deleted, a pod names a missing node, a
quarantine ends or the terminated pods exceed the threshold):
- terminated pods (phase Succeeded/Failed) beyond the threshold (default 12500) are deleted,
  evicted ones first, then oldest first;
- terminating pods on a NotReady node tainted `node.kubernetes.io/out-of-service` are
  marked Failed and force-deleted;
- pods bound to a node that no longer exists are marked Failed (condition DisruptionTarget,
  reason DeletionByPodGC) and force-deleted, once the node has been missing for the
  quarantine period (40 s) and a live GET confirms it is gone;
- terminating pods that were never scheduled are force-deleted.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import Client
from ..client.informer import Informer, cancel_and_wait, meta_key
from . import register

log = logging.getLogger(__name__)

GC_CHECK_PERIOD = 20.0
QUARANTINE_TIME = 40.0
TERMINATED_POD_THRESHOLD = 12500  # kube-controller-manager --terminated-pod-gc-threshold default
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
PARALLELISM = 64
MIN_INTERVAL = 0.5  # between two passes
STATUS_SMP = "application/strategic-merge-patch+json"


def is_terminated(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Pending", "Running", "Unknown")


def is_evicted(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Failed" and st.get("reason") == "Evicted"


def node_ready(node: dict[str, Any]) -> bool:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _order(pod: dict[str, Any]) -> tuple[bool, str, str]:
    """Evicted first, then by creation time, then by name (upstream byEvictionAndCreationTimestamp)."""
    md = pod["metadata"]
    return (not is_evicted(pod), md.get("creationTimestamp") or "", md["name"])


class PodGC:
    def __init__(self, client: Client, pods: Informer, nodes: Informer,
                 terminated_threshold: int = TERMINATED_POD_THRESHOLD, period: float = GC_CHECK_PERIOD,
                 quarantine: float = QUARANTINE_TIME) -> None:
        self.client = client
        self.pods = pods
        self.nodes = nodes
        self.terminated_threshold = terminated_threshold
        self.period = period
        self.quarantine = quarantine
        self._quarantined: dict[str, float] = {}  # node name -> when its absence is checked
        self._sem = asyncio.Semaphore(PARALLELISM)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._terminated: set[str] = set()  # keys of pods in a terminal phase
        nodes.add_handlers(on_delete=self._on_node_deleted)
        pods.add_handlers(self._on_pod_added, self._on_pod_updated, self._on_pod_deleted)

    # Passes also run when something they act on appears, instead of waiting for the next period;
    # what a pass does is unchanged.
    def _kick(self, delay: float = 0.0) -> None:
        if delay <= 0:
            self._wake.set()
        else:
            asyncio.get_running_loop().call_later(delay, self._wake.set)

    def _on_node_deleted(self, _node: dict[str, Any]) -> None:
        self._kick()
        self._kick(self.quarantine + MIN_INTERVAL)

    def _on_pod_added(self, pod: dict[str, Any]) -> None:
        n = (pod.get("spec") or {}).get("nodeName")
        if n and self.nodes.get(n) is None and self.nodes.synced.is_set():
            self._kick()
        self._track(pod)

    def _on_pod_updated(self, _old: dict[str, Any], pod: dict[str, Any]) -> None:
        self._track(pod)

    def _on_pod_deleted(self, pod: dict[str, Any]) -> None:
        self._terminated.discard(meta_key(pod))

    def _track(self, pod: dict[str, Any]) -> None:
        key = meta_key(pod)
        if is_terminated(pod):
            if key not in self._terminated:
                self._terminated.add(key)
                if 0 < self.terminated_threshold < len(self._terminated):
                    self._kick()
        else:
            self._terminated.discard(key)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        await asyncio.gather(self.pods.wait_synced(), self.nodes.wait_synced())
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod garbage collection failed")
            await asyncio.sleep(MIN_INTERVAL)
            try:
                await asyncio.wait_for(self._wake.wait(), self.period - MIN_INTERVAL)
            except TimeoutError:
                pass
            self._wake.clear()

    async def gc(self) -> None:
        """One pass; reads the caches once."""
        pods = self.pods.list()
        if self.terminated_threshold > 0:
            await self._gc_terminated(pods)
        await self._gc_terminating(pods)
        await self._gc_orphaned(pods)
        await self._gc_unscheduled_terminating(pods)

    async def _gc_terminated(self, pods: list[dict[str, Any]]) -> None:
        terminated = [p for p in pods if is_terminated(p)]
        excess = len(terminated) - self.terminated_threshold
        if excess <= 0:
            return
        log.info("Garbage collecting %d pods", excess)
        terminated.sort(key=_order)
        await self._all(self._mark_failed_and_delete(p) for p in terminated[:excess])

    async def _gc_terminating(self, pods: list[dict[str, Any]]) -> None:
        doomed = []
        for p in pods:
            if not p["metadata"].get("deletionTimestamp"):
                continue
            node = self.nodes.get((p.get("spec") or {}).get("nodeName") or "")
            if node is None:
                continue
            taints = (node.get("spec") or {}).get("taints") or ()
            if not node_ready(node) and any(t.get("key") == OUT_OF_SERVICE_TAINT for t in taints):
                doomed.append(p)
        if not doomed:
            return
        doomed.sort(key=_order)
        await self._all(self._mark_failed_and_delete(p) for p in doomed)

    async def _gc_orphaned(self, pods: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        nodes = self.nodes
        missing: set[str] = set()
        for p in pods:
            n = (p.get("spec") or {}).get("nodeName")
            if n and n not in missing and nodes.get(n) is None:
                missing.add(n)
                if n not in self._quarantined:
                    self._quarantined[n] = now + self.quarantine
                    self._kick(self.quarantine + MIN_INTERVAL)
        deleted = set()
        for n, when in list(self._quarantined.items()):
            if when > now:
                continue
            del self._quarantined[n]
            if nodes.get(n) is not None:
                continue
            try:
                await self.client.get("nodes", None, n)
            except ApiError as e:
                if e.code == 404:
                    deleted.add(n)
                else:
                    log.warning("Error while getting node %s: %s", n, e.message)
        if not deleted:
            return
        cond = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists"}
        for p in pods:
            if (p.get("spec") or {}).get("nodeName") in deleted:
                log.info("Found orphaned Pod %s/%s assigned to the Node %s, deleting", p["metadata"].get("namespace"),
                         p["metadata"]["name"], p["spec"]["nodeName"])
                await self._mark_failed_and_delete(p, cond)

    async def _gc_unscheduled_terminating(self, pods: list[dict[str, Any]]) -> None:
        for p in pods:
            if p["metadata"].get("deletionTimestamp") and not (p.get("spec") or {}).get("nodeName"):
                log.info("Found unscheduled terminating Pod %s/%s not assigned to any Node, deleting",
                         p["metadata"].get("namespace"), p["metadata"]["name"])
                await self._mark_failed_and_delete(p)

    async def _all(self, coros) -> None:
        async def one(c) -> None:
            async with self._sem:
                await c
        await asyncio.gather(*(one(c) for c in coros))

    async def _mark_failed_and_delete(self, pod: dict[str, Any], condition: dict[str, Any] | None = None) -> None:
        """Move the pod to Failed first (no kubelet will), then delete it with grace 0."""
        md = pod["metadata"]
        ns, name = md.get("namespace"), md["name"]
        try:
            phase = (pod.get("status") or {}).get("phase")
            if phase not in ("Succeeded", "Failed"):
                status: dict[str, Any] = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [_updated_condition(pod, condition)]
                await self.client.patch("pods", ns, name, {"metadata": {"uid": md.get("uid")}, "status": status},
                                        STATUS_SMP, subresource="status")
            await self.client.delete("pods", ns, name, {"gracePeriodSeconds": 0})
        except ApiError as e:
            if e.code != 404:
                log.warning("PodGC failed to delete pod %s/%s: %s", ns, name, e.message)


def _updated_condition(pod: dict[str, Any], cond: dict[str, Any]) -> dict[str, Any]:
    """The condition as upstream UpdatePodCondition leaves it: transition time kept if status is unchanged."""
    out = dict(cond, lastProbeTime=None)
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == cond["type"] and c.get("status") == cond["status"]:
            out["lastTransitionTime"] = c.get("lastTransitionTime")
            out["lastProbeTime"] = c.get("lastProbeTime")
            break
    else:
        out["lastTransitionTime"] = meta.now_rfc3339()
    return out


@register("podgc")
async def start(ctx: Any) -> PodGC:
    s = ctx.settings
    gc = PodGC(ctx.client, ctx.informers.informer("pods"), ctx.informers.informer("nodes"),
               terminated_threshold=int(s.get("terminated_pod_gc_threshold", TERMINATED_POD_THRESHOLD)),
               period=float(s.get("pod_gc_period", GC_CHECK_PERIOD)),
               quarantine=float(s.get("pod_gc_quarantine", QUARANTINE_TIME)))
    gc.start()
    return gc

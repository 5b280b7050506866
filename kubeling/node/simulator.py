"""The node simulator: every simulated kubelet of this process, as cheap objects in one event loop.

Upstream runs one kubelet per machine; kubeling runs thousands of node agents in one process, so what
each kubelet would do alone is shared here:
- ONE pod informer (indexed by spec.nodeName) and ONE node informer for all agents;
- ONE pod work queue with a fixed pool of workers; a pod's next transition is a queue timer
  (`add_after`), not a sleeping task;
- ONE heartbeat scheduler (a heap of due times) that renews leases and checks node status for the
  agents that are due, with jittered periods so the load stays flat.

`kubeling up` runs an agent for each configured node name, and starts one for every Node that carries
the annotation `kubeling.dev/simulated: "true"` (`kubeling node add`). `kubeling.dev/agent: "stopped"` on
a Node pauses its agent as a crashed machine would: no heartbeats, no pod updates, until removed.
`kubeling node --name N` runs the same code for one node in its own process over HTTPS.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..api.errors import ApiError
from ..client.context import ComponentContext
from ..client.informer import Informer, WorkQueue, cancel_and_wait, index_by_node, meta_key
from .kubelet import AGENT_ANNOTATION, SIMULATED_ANNOTATION, NodeAgent, cidr_index

log = logging.getLogger(__name__)

REGISTER_CONCURRENCY = 64
HEARTBEAT_CONCURRENCY = 64


def is_control_plane(name: str) -> bool:
    """`master` (the seed's cluster) and kind-style `*control-plane*` names are control-plane nodes."""
    return name == "master" or "control-plane" in name


class Simulator:
    """All node agents of one process and the shared machinery that drives them."""

    def __init__(self, ctx: ComponentContext, names: Iterable[str], *, standalone: bool = False,
                 labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.settings = ctx.settings
        s = self.settings
        self.names = list(names)
        self.standalone = standalone
        self.extra_labels = dict(labels or {})
        self.extra_taints = list(taints or [])
        self.start_delay = max(float(s.get("pod_start_delay", 1.0)), 0.0)
        self.stop_delay = max(float(s.get("pod_stop_delay", min(self.start_delay, 1.0))), 0.0)
        grace = float(s.get("node_monitor_grace_period", 40.0))
        self.lease_interval = float(s.get("node_lease_renew_interval", min(10.0, max(grace / 4.0, 0.2))))
        self.status_report_frequency = float(s.get("node_status_report_frequency", 300.0))
        self.events_enabled = bool(s.get("kubelet_events", True))
        self.node_events = self.events_enabled and len(self.names) <= 100
        self.node_annotation: dict[str, str] = {}
        self.agents: dict[str, NodeAgent] = {}
        self._index_of: dict[str, int] = {}  # node name -> pod CIDR index, for every node seen
        self._starting: set[str] = set()
        self._accepting = False  # spawn agents for simulated Nodes only once every CIDR index is known
        self._deferred: set[str] = set()
        self.queue = WorkQueue("kubelet")
        self._heap: list[tuple[float, int, str]] = []
        self._beat_seq: dict[str, int] = {}  # node -> seq of its one live heap entry
        self._seq = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._bg: set[asyncio.Task] = set()
        if standalone and len(self.names) == 1:
            sel = self.names[0]
            self.pods: Informer = ctx.informers.informer("pods", field_selector=f"spec.nodeName={sel}")
            self.nodes: Informer = ctx.informers.informer("nodes", field_selector=f"metadata.name={sel}")
        else:
            self.pods = ctx.informers.informer("pods")
            self.nodes = ctx.informers.informer("nodes")
        self.pods.add_indexer("node", index_by_node)

    # ---- lookups the agents use ----------------------------------------------------------------------
    def cached_node(self, name: str) -> dict[str, Any] | None:
        return self.nodes.get(name)

    def pods_on(self, node: str) -> list[dict[str, Any]]:
        return self.pods.by_index("node", node)

    # ---- CIDR index bookkeeping ----------------------------------------------------------------------
    def _taken(self) -> set[int]:
        return set(self._index_of.values())

    def _free_index(self, preferred: int | None = None) -> int:
        taken = self._taken()
        if preferred is not None and preferred not in taken:
            return preferred
        i = 0
        while i in taken:
            i += 1
        return i

    def reassign_index(self, agent: NodeAgent, index: int) -> None:
        """The Node already carries another pod CIDR than the agent planned: adopt it."""
        agent.set_index(index)
        self._index_of[agent.name] = index

    # ---- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.pods.add_handlers(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.nodes.add_handlers(self._on_node, lambda _old, new: self._on_node(new), self._on_node_delete)
        self.pods.start()
        self.nodes.start()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._heartbeat_loop()))
        for _ in range(int(self.settings.get("kubelet_workers", 16))):
            self._tasks.append(loop.create_task(self._worker()))
        try:
            existing, _ = await self.client.list("nodes")
        except ApiError as e:
            log.warning("node simulator: cannot list nodes: %s", e.message)
            existing = []
        listed = {}
        for n in existing:
            listed[n["metadata"]["name"]] = n
            if not self.standalone and (n["metadata"].get("annotations") or {}).get(SIMULATED_ANNOTATION) == "true":
                self._deferred.add(n["metadata"]["name"])
            idx = cidr_index((n.get("spec") or {}).get("podCIDR"))
            if idx is not None:
                self._index_of[n["metadata"]["name"]] = idx
        agents = []
        for i, name in enumerate(self.names):
            idx = self._index_of.get(name)
            if idx is None:
                idx = self._free_index(i if not self.standalone else None)
                self._index_of[name] = idx
            agents.append(self._new_agent(name, idx, listed.get(name)))
        self._accepting = True
        for name in sorted(self._deferred):
            node = self.nodes.get(name) or listed.get(name)
            if node is not None:
                self._spawn(name, node)
        self._deferred.clear()
        t0 = time.monotonic()
        await self._register_all(agents, listed)
        if agents:
            log.info("node simulator: %d node(s) registered in %.2fs", len(agents), time.monotonic() - t0)

    async def stop(self) -> None:
        """Stop all agents, as if their machines went away (nothing is deregistered)."""
        self.queue.shutdown()
        for a in self.agents.values():
            a.stopped = True
        await cancel_and_wait(*self._tasks, *self._bg)
        self._tasks.clear()
        self._bg.clear()

    def _new_agent(self, name: str, index: int, node: dict[str, Any] | None = None) -> NodeAgent:
        agent = NodeAgent(self, name, index, labels=self.extra_labels, taints=self.extra_taints,
                          control_plane=is_control_plane(name))
        agent.apply_capacity(node)
        self.agents[name] = agent
        return agent

    async def _register_all(self, agents: list[NodeAgent], listed: dict[str, dict[str, Any]]) -> None:
        sem = asyncio.Semaphore(REGISTER_CONCURRENCY)
        jitter = self.lease_interval if len(agents) > 1 else 0.0

        async def one(agent: NodeAgent) -> None:
            async with sem:
                await self._register(agent, random.random() * jitter, listed.get(agent.name))

        await asyncio.gather(*(one(a) for a in agents))

    async def _register(self, agent: NodeAgent, first_beat_in: float,
                        existing: dict[str, Any] | None = None) -> None:
        try:
            await agent.register(existing)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            msg = e.message if isinstance(e, ApiError) else repr(e)
            log.warning("node %s: registration failed (%s); retrying", agent.name, msg)
            self._schedule(agent.name, 1.0)
            return
        if agent.stopped:
            return
        if not agent.paused:
            self._schedule(agent.name, self.lease_interval + first_beat_in)
        self._resync_pods(agent.name)

    def _spawn(self, name: str, node: dict[str, Any]) -> None:
        """Start an agent for a Node created elsewhere (`kubeling node add`)."""
        if name in self.agents or name in self._starting:
            return
        idx = cidr_index((node.get("spec") or {}).get("podCIDR"))
        if idx is None:
            idx = self._free_index()
        self._index_of[name] = idx
        agent = self._new_agent(name, idx, node)
        self._starting.add(name)

        async def run() -> None:
            try:
                await self._register(agent, 0.0)
            finally:
                self._starting.discard(name)

        t = asyncio.get_running_loop().create_task(run())
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    # ---- informer handlers (synchronous, cheap) ------------------------------------------------------
    def _on_pod_add(self, pod: dict[str, Any]) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node in self.agents:
            self.queue.add(meta_key(pod))

    def _on_pod_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._on_pod_add(new)

    def _on_pod_delete(self, pod: dict[str, Any]) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        agent = self.agents.get(node) if node else None
        if agent is not None:
            agent.forget_pod(pod["metadata"].get("uid", ""))

    def _on_node(self, node: dict[str, Any]) -> None:
        md = node["metadata"]
        name = md["name"]
        idx = cidr_index((node.get("spec") or {}).get("podCIDR"))
        if idx is not None and name not in self.agents:
            self._index_of[name] = idx
        ann = md.get("annotations") or {}
        agent = self.agents.get(name)
        if agent is None:
            if not self.standalone and ann.get(SIMULATED_ANNOTATION) == "true":
                if self._accepting:
                    self._spawn(name, node)
                else:
                    self._deferred.add(name)
            return
        if not agent.registered:
            return
        paused = ann.get(AGENT_ANNOTATION) == "stopped"
        if paused and not agent.paused:
            log.info("node %s: agent stopped (annotation %s)", name, AGENT_ANNOTATION)
            agent.paused = True
        elif not paused and agent.paused:
            log.info("node %s: agent started again", name)
            agent.paused = False
            agent.last_status_report = 0.0  # post the node status at once, as a restarted kubelet does
            self._schedule(name, 0.0)
            self._resync_pods(name)

    def _on_node_delete(self, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        self._index_of.pop(name, None)
        agent = self.agents.pop(name, None)
        self._beat_seq.pop(name, None)
        if agent is not None:
            log.info("node %s deleted; its agent stops", name)
            agent.stopped = True

    def _resync_pods(self, node: str) -> None:
        for pod in self.pods_on(node):
            self.queue.add(meta_key(pod))

    # ---- pod work queue ------------------------------------------------------------------------------
    async def _worker(self) -> None:
        await self.pods.wait_synced()
        q = self.queue
        while True:
            key = await q.get()
            try:
                pod = self.pods.get(key)
                if pod is not None:
                    agent = self.agents.get((pod.get("spec") or {}).get("nodeName") or "")
                    if agent is not None and agent.registered and not agent.paused and not agent.stopped:
                        delay = await agent.sync_pod(pod)
                        if delay is not None:
                            q.add_after(key, delay)
                q.forget(key)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                log.warning("kubelet: syncing pod %s: %s", key, e.message)
                q.add_rate_limited(key)
            except Exception:
                log.exception("kubelet: syncing pod %s", key)
                q.add_rate_limited(key)
            finally:
                q.done(key)

    # ---- heartbeats ----------------------------------------------------------------------------------
    def _schedule(self, name: str, delay: float) -> None:
        """(Re)schedule the agent's next beat; an earlier pending entry for it becomes stale."""
        self._seq += 1
        self._beat_seq[name] = self._seq
        heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, name))
        self._wake.set()

    async def _heartbeat_loop(self) -> None:
        sem = asyncio.Semaphore(HEARTBEAT_CONCURRENCY)
        # Beats due within this window go together, so their writes share store commits.
        window = min(0.25, self.lease_interval / 20.0)
        while True:
            now = time.monotonic()
            due: list[str] = []
            while self._heap and self._heap[0][0] <= now + window:
                _, seq, name = heapq.heappop(self._heap)
                if self._beat_seq.get(name) == seq:
                    del self._beat_seq[name]
                    due.append(name)
            if due:
                await asyncio.gather(*(self._beat(name, sem) for name in due))
                continue
            self._wake.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _beat(self, name: str, sem: asyncio.Semaphore) -> None:
        agent = self.agents.get(name)
        if agent is None or agent.stopped or (agent.paused and agent.registered):
            return
        async with sem:
            try:
                if not agent.registered:
                    if name not in self._starting:
                        self._starting.add(name)
                        try:
                            await self._register(agent, 0.0)
                        finally:
                            self._starting.discard(name)
                    return
                await agent.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                msg = e.message if isinstance(e, ApiError) else repr(e)
                log.warning("node %s: heartbeat failed: %s", name, msg)
                self._schedule(name, min(self.lease_interval, 1.0))
                return
        # kubelet lease controller: wait.JitterUntil(renewInterval, jitter 0.04)
        self._schedule(name, self.lease_interval * (1.0 + 0.04 * random.random()))


async def start(ctx: ComponentContext) -> Callable[[], Awaitable[None]]:
    """Entry point `kubeling up` calls: agents for ctx.settings["nodes"] plus any simulated Nodes."""
    sim = Simulator(ctx, ctx.settings.get("nodes") or [])
    await sim.start()
    return sim.stop

"""Node lifecycle and taint-based eviction, as kube-controller-manager v1.32 runs them.

node-lifecycle-controller (pkg/controller/nodelifecycle):
- Watches node heartbeats (the kube-node-lease Lease renewTime and the Ready condition's
  lastHeartbeatTime). A node silent for node-monitor-grace-period (default 40 s,
  settings["node_monitor_grace_period"]) gets its Ready/MemoryPressure/DiskPressure/PIDPressure
  conditions set to Unknown ("NodeStatusUnknown", "Kubelet stopped posting node status."), a
  `NodeNotReady` event, and the Ready condition of its pods set to False.
- Keeps the NoSchedule condition taints (not-ready, unreachable, memory/disk/pid-pressure,
  network-unavailable, unschedulable) in line with the node's conditions and spec.unschedulable.
- Adds the NoExecute `node.kubernetes.io/unreachable` / `not-ready` taint through per-zone rate-limited
  queues (node-eviction-rate 0.1 node/s; 0 when a zone is partially disrupted in small clusters; when
  every zone is fully disrupted it stops and removes those taints, as upstream does), and removes them
  when the node is Ready again.

taint-eviction-controller (pkg/controller/tainteviction): pods on nodes with NoExecute taints they do not
tolerate are deleted at once; tolerated ones after the smallest tolerationSeconds; a DisruptionTarget
condition (DeletionByTaintManager) is added first.

Timers live in this process (as upstream's do): after a restart every node gets a fresh grace period.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import deepcopy, retry_on_conflict
from ..client.context import ComponentContext
from ..client.informer import WorkQueue, cancel_and_wait, index_by_node, meta_key, queue_worker
from . import register_controller

log = logging.getLogger(__name__)

NODE_CONTROLLER = "node-controller"
TAINT_EVICTION_CONTROLLER = "taint-eviction-controller"
LEASE_NAMESPACE = "kube-node-lease"

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# nodeConditionToTaintKeyStatusMap
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
CONDITION_TAINT_KEYS = {k for m in CONDITION_TAINTS.values() for k in m.values()}
LABEL_EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"

ZONE_INITIAL, ZONE_NORMAL, ZONE_FULL, ZONE_PARTIAL = "Initial", "Normal", "FullDisruption", "PartialDisruption"
NO_EXECUTE_PASS_PERIOD = 0.1  # scheduler.NodeEvictionPeriod


# ---- pure helpers --------------------------------------------------------------------------------------

def zone_key(node: dict[str, Any]) -> str:
    """nodetopology.GetZoneKey: region and zone labels (GA, then beta), "" when neither is set."""
    labels = node["metadata"].get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def get_condition(node: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((node or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def tolerates(tol: dict[str, Any], taint: dict[str, Any]) -> bool:
    """v1 Toleration.ToleratesTaint."""
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("key") and tol["key"] != taint.get("key"):
        return False
    op = tol.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (tol.get("value") or "") == (taint.get("value") or "")
    return False


def matching_tolerations(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]]
                         ) -> tuple[bool, list[dict[str, Any]]]:
    """v1helper.GetMatchingTolerations: (all taints tolerated, the toleration used for each)."""
    if not taints:
        return True, []
    used = []
    for taint in taints:
        for tol in tolerations:
            if tolerates(tol, taint):
                used.append(tol)
                break
        else:
            return False, []
    return True, used


def min_toleration_seconds(tolerations: list[dict[str, Any]]) -> float:
    """getMinTolerationTime: 0 for none, -1 for forever, else the smallest tolerationSeconds."""
    if not tolerations:
        return 0.0
    best: float | None = None
    for t in tolerations:
        s = t.get("tolerationSeconds")
        if s is None:
            continue
        s = float(s)
        if s <= 0:
            return 0.0
        if best is None or s < best:
            best = s
    return -1.0 if best is None else best


def no_execute_taints(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or () if t.get("effect") == "NoExecute"]


def _taint_id(t: dict[str, Any]) -> tuple[str, str]:
    return t.get("key", ""), t.get("effect", "")


def _has_taint(node: dict[str, Any], key: str, effect: str) -> bool:
    return any(_taint_id(t) == (key, effect) for t in (node.get("spec") or {}).get("taints") or ())


async def swap_node_taints(client: Any, name: str, add: list[dict[str, Any]], remove: list[dict[str, Any]]
                           ) -> bool:
    """SwapNodeControllerTaint: add (with timeAdded now) and remove taints in one conflict-retried update."""
    now = meta.now_rfc3339()
    add = [dict(t, timeAdded=now) for t in add]
    drop = {_taint_id(t) for t in remove} | {_taint_id(t) for t in add}

    async def attempt() -> bool:
        node = await client.get("nodes", None, name)
        spec = node.setdefault("spec", {})
        old = spec.get("taints") or []
        keep = [t for t in old if _taint_id(t) not in drop]
        # an identical taint already present keeps its timeAdded
        kept_adds = []
        for t in add:
            same = next((o for o in old if _taint_id(o) == _taint_id(t) and o.get("value") == t.get("value")), None)
            kept_adds.append(same if same is not None else t)
        new = keep + kept_adds
        if new == old:
            return False
        if new:
            spec["taints"] = new
        else:
            spec.pop("taints", None)
        await client.update("nodes", node)
        return True

    try:
        await retry_on_conflict(attempt)
        return True
    except ApiError as e:
        if e.code == 404:
            return True
        log.warning("node %s: updating taints failed: %s", name, e.message)
        return False


# ---- rate limiting (flowcontrol token bucket + RateLimitedTimedQueue) -----------------------------------

class TokenBucket:
    def __init__(self, qps: float, burst: int = 1) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = time.monotonic()

    def swap(self, qps: float) -> None:
        if qps == self.qps:
            return
        self.qps = qps
        self.tokens = float(self.burst) if qps > 0 else 0.0
        self.last = time.monotonic()

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class TaintQueue:
    """A zone's queue of nodes waiting for their NoExecute taint, drained at the zone's rate."""

    def __init__(self, qps: float) -> None:
        self.limiter = TokenBucket(qps)
        self.items: collections.OrderedDict[str, float] = collections.OrderedDict()  # name -> process at

    def add(self, name: str) -> bool:
        if name in self.items:
            return False
        self.items[name] = time.monotonic()
        return True

    def remove(self, name: str) -> bool:
        return self.items.pop(name, None) is not None


@dataclass
class _Health:
    probe: float  # monotonic time of the last observed heartbeat
    ready_transition: float
    status: dict[str, Any] | None  # node status as last observed
    lease_renew: str | None = None


# ---- node lifecycle controller -------------------------------------------------------------------------

class NodeLifecycleController:
    def __init__(self, ctx: ComponentContext) -> None:
        s = ctx.settings
        self.client = ctx.client
        self.recorder = ctx.recorder(NODE_CONTROLLER)
        self.grace = float(s.get("node_monitor_grace_period", 40.0))
        self.startup_grace = float(s.get("node_startup_grace_period", 60.0))
        self.period = float(s.get("node_monitor_period", min(5.0, max(self.grace / 8.0, 0.1))))
        self.eviction_qps = float(s.get("node_eviction_rate", 0.1))
        self.secondary_qps = float(s.get("secondary_node_eviction_rate", 0.01))
        self.large_cluster = int(s.get("large_cluster_size_threshold", 50))
        self.unhealthy_threshold = float(s.get("unhealthy_zone_threshold", 0.55))
        self.nodes = ctx.informers.informer("nodes")
        self.leases = ctx.informers.informer("leases.coordination.k8s.io", LEASE_NAMESPACE)
        self.pods = ctx.informers.informer("pods")
        self.pods.add_indexer("node", index_by_node)
        self.known: dict[str, dict[str, Any]] = {}
        self.health: dict[str, _Health] = {}
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, TaintQueue] = {}
        self.retry: set[str] = set()
        self.node_queue = WorkQueue("node-lifecycle-noschedule")
        self.pod_queue = WorkQueue("node-lifecycle-pods")
        self._taint_wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # ---- wiring --------------------------------------------------------------------------------------
    def start(self) -> None:
        self.nodes.add_handlers(lambda n: self.node_queue.add(n["metadata"]["name"]),
                                lambda _o, n: self.node_queue.add(n["metadata"]["name"]),
                                lambda n: self.retry.discard(n["metadata"]["name"]))
        self.pods.add_handlers(self._on_pod_add, self._on_pod_update, None)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._monitor_loop()))
        self._tasks.append(loop.create_task(self._taint_loop()))
        for _ in range(4):
            self._tasks.append(loop.create_task(self._node_worker()))
        for _ in range(2):
            self._tasks.append(loop.create_task(self._pod_worker()))

    async def stop(self) -> None:
        self.node_queue.shutdown()
        self.pod_queue.shutdown()
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()

    async def _synced(self) -> None:
        await asyncio.gather(self.nodes.wait_synced(), self.leases.wait_synced(), self.pods.wait_synced())

    # ---- NoSchedule condition taints (doNoScheduleTaintingPass) --------------------------------------
    async def _node_worker(self) -> None:
        await self._synced()
        await queue_worker(self.node_queue, self.no_schedule_tainting_pass, "node-lifecycle: tainting node")

    async def no_schedule_tainting_pass(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            return
        want: list[dict[str, Any]] = []
        for c in (node.get("status") or {}).get("conditions") or ():
            key = CONDITION_TAINTS.get(c.get("type"), {}).get(c.get("status"))
            if key:
                want.append({"key": key, "effect": "NoSchedule"})
        if (node.get("spec") or {}).get("unschedulable"):
            want.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
        have = [t for t in (node.get("spec") or {}).get("taints") or ()
                if t.get("effect") == "NoSchedule" and (t.get("key") == TAINT_UNSCHEDULABLE
                                                        or t.get("key") in CONDITION_TAINT_KEYS)]
        want_ids = {_taint_id(t) for t in want}
        have_ids = {_taint_id(t) for t in have}
        add = [t for t in want if _taint_id(t) not in have_ids]
        remove = [t for t in have if _taint_id(t) not in want_ids]
        if add or remove:
            await swap_node_taints(self.client, name, add, remove)

    # ---- pods newly bound to a not-ready node (processPod) -------------------------------------------
    def _on_pod_add(self, pod: dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.pod_queue.add(meta_key(pod))

    def _on_pod_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        n = (new.get("spec") or {}).get("nodeName")
        if n and n != (old.get("spec") or {}).get("nodeName"):
            self.pod_queue.add(meta_key(new))

    async def _pod_worker(self) -> None:
        await self._synced()
        await queue_worker(self.pod_queue, self.process_pod, "node-lifecycle: processing pod")

    async def process_pod(self, key: str) -> None:
        """processPod: a pod bound to a node that is not Ready is marked not Ready at once."""
        pod = self.pods.get(key)
        if pod is None:
            return
        h = self.health.get(pod["spec"].get("nodeName", ""))
        if h is not None and self.nodes.get(pod["spec"]["nodeName"]) is not None:
            ready = get_condition({"status": h.status}, "Ready")
            if ready is not None and ready.get("status") != "True":
                await self.mark_pods_not_ready([pod], pod["spec"]["nodeName"])

    async def mark_pods_not_ready(self, pods: list[dict[str, Any]], node_name: str) -> bool:
        """MarkPodsNotReady: Ready=False on each pod of the node, with a NodeNotReady event."""
        ok = True
        for p in pods:
            if (p.get("spec") or {}).get("nodeName") != node_name:
                continue
            conds = (p.get("status") or {}).get("conditions") or []
            idx = next((i for i, c in enumerate(conds) if c.get("type") == "Ready"), None)
            if idx is None or conds[idx].get("status") == "False":
                continue
            pod = deepcopy(p)
            c = pod["status"]["conditions"][idx]
            c["status"] = "False"
            c["lastTransitionTime"] = meta.now_rfc3339()
            try:
                await self.client.update_status("pods", pod)
            except ApiError as e:
                if e.code == 404:
                    continue
                log.info("node-lifecycle: marking pod %s NotReady: %s", meta_key(p), e.message)
                ok = False
                continue
            self.recorder.event(p, "Warning", "NodeNotReady", "Node is not ready")
        return ok

    # ---- health monitoring (monitorNodeHealth) -------------------------------------------------------
    async def _monitor_loop(self) -> None:
        await self._synced()
        while True:
            try:
                await self.monitor_node_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node-lifecycle: monitoring node health")
            await asyncio.sleep(self.period)

    def _tainter(self, zone: str) -> TaintQueue:
        q = self.tainters.get(zone)
        if q is None:
            q = self.tainters[zone] = TaintQueue(self.eviction_qps)
            self.zone_states[zone] = ZONE_INITIAL
        return q

    async def monitor_node_health(self) -> None:
        nodes = self.nodes.list()
        names = set()
        for node in nodes:
            name = node["metadata"]["name"]
            names.add(name)
            if name not in self.known:
                self.known[name] = node
                self.recorder.event(_node_ref(node), "Normal", "RegisteredNode",
                                    f"Node {name} event: Registered Node {name} in Controller")
                self._tainter(zone_key(node))
                await self.mark_node_as_reachable(node)
            elif zone_key(node) not in self.zone_states:
                self._tainter(zone_key(node))
        for name in [n for n in self.known if n not in names]:
            gone = self.known.pop(name)
            self.health.pop(name, None)
            self.recorder.event(_node_ref(gone), "Normal", "RemovingNode",
                                f"Node {name} event: Removing Node {name} from Controller")
        zone_conditions: dict[str, list[dict[str, Any] | None]] = {}
        for node in nodes:
            try:
                observed, current, node = await self.try_update_node_health(node)
            except ApiError as e:
                log.info("node-lifecycle: updating health of %s: %s", node["metadata"]["name"], e.message)
                continue
            name = node["metadata"]["name"]
            if LABEL_EXCLUDE_DISRUPTION not in (node["metadata"].get("labels") or {}):
                zone_conditions.setdefault(zone_key(node), []).append(current)
            if current is None:
                continue
            await self.process_taint_based_eviction(node, observed)
            if current.get("status") != "True" and observed.get("status") == "True":
                self.recorder.event(_node_ref(node), "Normal", "NodeNotReady",
                                    f"Node {name} status is now: NodeNotReady")
                if not await self.mark_pods_not_ready(self.pods.by_index("node", name), name):
                    self.retry.add(name)
                    continue
            elif name in self.retry and observed.get("status") != "True":
                if not await self.mark_pods_not_ready(self.pods.by_index("node", name), name):
                    continue
            self.retry.discard(name)
        await self.handle_disruption(zone_conditions, nodes)
        if any(q.items for q in self.tainters.values()):
            self._taint_wake.set()

    async def try_update_node_health(self, node: dict[str, Any]
                                     ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        """(observed Ready condition, current Ready condition, node) after marking a silent node Unknown."""
        name = node["metadata"]["name"]
        now = time.monotonic()
        h = self.health.get(name)
        current = get_condition(node, "Ready")
        if current is None:
            created = meta.parse_time(node["metadata"].get("creationTimestamp")) or time.time()
            observed = {"type": "Ready", "status": "Unknown",
                        "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                        "lastTransitionTime": node["metadata"].get("creationTimestamp")}
            grace = self.startup_grace
            if h is None:
                age = max(time.time() - created, 0.0)
                h = _Health(probe=now - age, ready_transition=now - age, status=node.get("status"))
            else:
                h.status = node.get("status")
        else:
            observed = dict(current)
            grace = self.grace
        saved = get_condition({"status": h.status}, "Ready") if h is not None else None
        if h is None:
            h = _Health(probe=now, ready_transition=now, status=node.get("status"))
        elif saved is None and current is not None:
            h = _Health(probe=now, ready_transition=now, status=node.get("status"), lease_renew=h.lease_renew)
        elif saved is not None and current is None:
            h = _Health(probe=now, ready_transition=now, status=node.get("status"), lease_renew=h.lease_renew)
        elif saved is not None and current is not None and \
                saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
            transition = now if saved.get("lastTransitionTime") != current.get("lastTransitionTime") \
                else h.ready_transition
            h = _Health(probe=now, ready_transition=transition, status=node.get("status"),
                        lease_renew=h.lease_renew)
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        if renew and (h.lease_renew is None or renew > h.lease_renew):
            h.lease_renew = renew
            h.probe = now
        self.health[name] = h
        if now > h.probe + grace:
            upd = deepcopy(node)
            conds = upd.setdefault("status", {}).setdefault("conditions", [])
            ts = meta.now_rfc3339()
            for type_ in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
                c = next((c for c in conds if c.get("type") == type_), None)
                if c is None:
                    conds.append({"type": type_, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                  "message": "Kubelet never posted node status.",
                                  "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                                  "lastTransitionTime": ts})
                elif c.get("status") != "Unknown":
                    c.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=ts)
            cur_ready = get_condition(upd, "Ready")
            if cur_ready != observed:
                updated = await self.client.update_status("nodes", upd)
                log.info("node-lifecycle: node %s stopped posting status; marked Unknown", name)
                self.health[name] = _Health(probe=h.probe, ready_transition=now, status=updated.get("status"),
                                            lease_renew=h.lease_renew)
                return observed, get_condition(updated, "Ready"), updated
        return observed, current, node

    async def process_taint_based_eviction(self, node: dict[str, Any], observed: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        status = observed.get("status")
        if status == "False":
            if _has_taint(node, TAINT_UNREACHABLE, "NoExecute"):
                await swap_node_taints(self.client, name, [{"key": TAINT_NOT_READY, "effect": "NoExecute"}],
                                       [{"key": TAINT_UNREACHABLE, "effect": "NoExecute"}])
            else:
                self._mark_for_tainting(node, TAINT_NOT_READY)
        elif status == "Unknown":
            if _has_taint(node, TAINT_NOT_READY, "NoExecute"):
                await swap_node_taints(self.client, name, [{"key": TAINT_UNREACHABLE, "effect": "NoExecute"}],
                                       [{"key": TAINT_NOT_READY, "effect": "NoExecute"}])
            else:
                self._mark_for_tainting(node, TAINT_UNREACHABLE)
        elif status == "True":
            await self.mark_node_as_reachable(node)

    def _mark_for_tainting(self, node: dict[str, Any], key: str) -> None:
        q = self._tainter(zone_key(node))
        name = node["metadata"]["name"]
        if not _has_taint(node, key, "NoExecute"):
            q.remove(name)
        if q.add(name):
            self._taint_wake.set()

    async def mark_node_as_reachable(self, node: dict[str, Any]) -> bool:
        name = node["metadata"]["name"]
        remove = [{"key": k, "effect": "NoExecute"} for k in (TAINT_UNREACHABLE, TAINT_NOT_READY)
                  if _has_taint(node, k, "NoExecute")]
        if remove:
            await swap_node_taints(self.client, name, [], remove)
        return self._tainter(zone_key(node)).remove(name)

    def compute_zone_state(self, conds: list[dict[str, Any] | None]) -> tuple[int, str]:
        ready = sum(1 for c in conds if c is not None and c.get("status") == "True")
        not_ready = len(conds) - ready
        if ready == 0 and not_ready > 0:
            return not_ready, ZONE_FULL
        if not_ready > 2 and not_ready / len(conds) >= self.unhealthy_threshold:
            return not_ready, ZONE_PARTIAL
        return not_ready, ZONE_NORMAL

    def _set_limiter(self, zone: str, size: int, state: str) -> None:
        q = self._tainter(zone)
        if state == ZONE_NORMAL:
            q.limiter.swap(self.eviction_qps)
        elif state == ZONE_PARTIAL:
            q.limiter.swap(self.secondary_qps if size > self.large_cluster else 0.0)
        elif state == ZONE_FULL:
            q.limiter.swap(self.eviction_qps)

    async def handle_disruption(self, zone_conditions: dict[str, list[dict[str, Any] | None]],
                                nodes: list[dict[str, Any]]) -> None:
        new_states: dict[str, str] = {}
        all_full = True
        for zone, conds in zone_conditions.items():
            _, state = self.compute_zone_state(conds)
            if state != ZONE_FULL:
                all_full = False
            new_states[zone] = state
            self.zone_states.setdefault(zone, ZONE_INITIAL)
        all_were_full = True
        for zone in list(self.zone_states):
            if zone not in zone_conditions:
                del self.zone_states[zone]
                continue
            if self.zone_states[zone] != ZONE_FULL:
                all_were_full = False
                break
        if all_full and all_were_full:
            return
        if all_full:
            log.info("node-lifecycle: all nodes are not ready; entering master disruption mode")
            for node in nodes:
                await self.mark_node_as_reachable(node)
            for zone in self.zone_states:
                self._tainter(zone).limiter.swap(0.0)
                self.zone_states[zone] = ZONE_FULL
            return
        if all_were_full:
            log.info("node-lifecycle: some nodes are ready; exiting master disruption mode")
            now = time.monotonic()
            for node in nodes:
                h = self.health.get(node["metadata"]["name"])
                if h is not None:
                    h.probe = now
                    h.ready_transition = now
            for zone in self.zone_states:
                self._set_limiter(zone, len(zone_conditions.get(zone, ())), new_states.get(zone, ZONE_NORMAL))
                self.zone_states[zone] = new_states.get(zone, ZONE_NORMAL)
            return
        for zone, state in list(self.zone_states.items()):
            new = new_states.get(zone, state)
            if new == state:
                continue
            log.info("node-lifecycle: zone %r is now in state %s", zone, new)
            self._set_limiter(zone, len(zone_conditions.get(zone, ())), new)
            self.zone_states[zone] = new

    # ---- NoExecute tainting pass ---------------------------------------------------------------------
    async def _taint_loop(self) -> None:
        await self._synced()
        while True:
            if not any(q.items for q in self.tainters.values()):
                self._taint_wake.clear()
                await self._taint_wake.wait()
            try:
                await self.no_execute_tainting_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node-lifecycle: NoExecute tainting pass")
            await asyncio.sleep(NO_EXECUTE_PASS_PERIOD)

    async def no_execute_tainting_pass(self) -> None:
        for q in list(self.tainters.values()):
            while q.items:
                name, at = next(iter(q.items.items()))
                if not q.limiter.try_accept():
                    break
                if time.monotonic() < at:
                    break
                done = True
                node = self.nodes.get(name)
                ready = get_condition(node, "Ready") if node is not None else None
                if node is not None and ready is None:
                    done = False
                elif node is not None:
                    if ready.get("status") == "False":
                        add, opposite = TAINT_NOT_READY, TAINT_UNREACHABLE
                    elif ready.get("status") == "Unknown":
                        add, opposite = TAINT_UNREACHABLE, TAINT_NOT_READY
                    else:
                        add = opposite = ""
                    if add:
                        done = await swap_node_taints(self.client, name, [{"key": add, "effect": "NoExecute"}],
                                                      [{"key": opposite, "effect": "NoExecute"}])
                        if done:
                            log.info("node-lifecycle: tainted node %s with %s:NoExecute", name, add)
                q.items.pop(name, None)
                if not done:
                    q.items[name] = time.monotonic() + 0.05


def _node_ref(node: dict[str, Any]) -> dict[str, Any]:
    md = node["metadata"]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": md["name"], "uid": md.get("uid")}}


# ---- taint eviction controller -------------------------------------------------------------------------

class TaintEvictionController:
    """Deletes pods from nodes with NoExecute taints they do not tolerate (or tolerate for a while)."""

    def __init__(self, ctx: ComponentContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder(TAINT_EVICTION_CONTROLLER)
        self.nodes = ctx.informers.informer("nodes")
        self.pods = ctx.informers.informer("pods")
        self.pods.add_indexer("node", index_by_node)
        self.tainted: dict[str, list[dict[str, Any]]] = {}
        self.work: dict[str, tuple[float, asyncio.TimerHandle]] = {}  # pod key -> (created at, timer)
        self._bg: set[asyncio.Task] = set()
        self._synced = False

    def start(self) -> None:
        self.nodes.add_handlers(lambda n: self._node_updated(None, n), self._node_updated,
                                lambda n: self._node_updated(n, None))
        self.pods.add_handlers(lambda p: self._pod_updated(None, p), self._pod_updated,
                               lambda p: self._pod_updated(p, None))

    async def stop(self) -> None:
        for _, h in self.work.values():
            h.cancel()
        self.work.clear()
        for t in list(self._bg):
            t.cancel()

    # ---- handlers ------------------------------------------------------------------------------------
    def _node_updated(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        old_t = no_execute_taints(old)
        new_t = no_execute_taints(new)
        if old is not None and new is not None and old_t == new_t:
            return
        name = (new or old)["metadata"]["name"]
        if new is None:
            self.tainted.pop(name, None)
            return
        if new_t:
            self.tainted[name] = new_t
        else:
            self.tainted.pop(name, None)
        pods = self.pods.by_index("node", name)
        if not pods:
            return
        if not new_t:
            for p in pods:
                self._cancel(meta_key(p))
            return
        now = time.time()
        for p in pods:
            self._process(p, name, new_t, now)

    def _pod_updated(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if old is not None and new is not None:
            os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
            if os_.get("tolerations") == ns_.get("tolerations") and os_.get("nodeName") == ns_.get("nodeName"):
                return
        pod = new or old
        key = meta_key(pod)
        if new is None:
            self._cancel(key)
            return
        node = (new.get("spec") or {}).get("nodeName")
        if not node:
            return
        taints = self.tainted.get(node)
        if taints is None:
            return
        self._process(new, node, taints, time.time())

    # ---- scheduling --------------------------------------------------------------------------------
    def _cancel(self, key: str) -> None:
        w = self.work.pop(key, None)
        if w is not None:
            w[1].cancel()
            ns, name = key.split("/", 1)
            self.recorder.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction",
                                f"Cancelling deletion of Pod {key}")

    def _process(self, pod: dict[str, Any], node: str, taints: list[dict[str, Any]], now: float) -> None:
        key = meta_key(pod)
        if pod["metadata"].get("deletionTimestamp"):
            return  # already being deleted: nothing more to evict
        if not taints:
            self._cancel(key)
            return
        ok, used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if not ok:
            self._cancel(key)
            self._add_work(key, now, now)
            return
        m = min_toleration_seconds(used)
        if m < 0:
            self._cancel(key)
            return
        start, trigger = now, now + m
        existing = self.work.get(key)
        if existing is not None:
            start = existing[0]
            if start + m < trigger:
                return
            self._cancel(key)
        self._add_work(key, start, trigger)

    def _add_work(self, key: str, created: float, fire_at: float) -> None:
        if key in self.work:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self.work.pop(key, None)
            t = loop.create_task(self._evict(key))
            self._bg.add(t)
            t.add_done_callback(self._bg.discard)

        self.work[key] = (created, loop.call_later(max(fire_at - time.time(), 0.0), fire))

    async def _evict(self, key: str) -> None:
        ns, name = key.split("/", 1)
        log.info("taint-eviction: deleting pod %s", key)
        self.recorder.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        for _ in range(5):
            try:
                pod = await self.client.get("pods", ns, name)
                conds = (pod.get("status") or {}).get("conditions") or []
                cur = next((c for c in conds if c.get("type") == "DisruptionTarget"), None)
                if cur is None or cur.get("status") != "True" or cur.get("reason") != "DeletionByTaintManager":
                    cond = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                            "message": "Taint manager: deleting due to NoExecute taint", "lastProbeTime": None,
                            "lastTransitionTime": meta.now_rfc3339()}
                    await self.client.patch("pods", ns, name,
                                            {"metadata": {"uid": pod["metadata"]["uid"]},
                                             "status": {"conditions": [cond]}},
                                            "application/strategic-merge-patch+json", "status")
                await self.client.delete("pods", ns, name, {})
                return
            except ApiError as e:
                if e.code == 404:
                    return
                log.info("taint-eviction: deleting %s: %s", key, e.message)
                await asyncio.sleep(0.01)


def _pod_ref(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}}


start_node_lifecycle = register_controller("node-lifecycle-controller", NodeLifecycleController, start="start")


start_taint_eviction = register_controller("taint-eviction-controller", TaintEvictionController, start="start")

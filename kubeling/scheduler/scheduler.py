"""The default scheduler (kube-scheduler v1.32 default profile, no preemption).

Layout:
- SchedulingQueue: active (priority, then age), backoff (1 s doubling to 10 s) and unschedulable pods;
  cluster events move unschedulable pods back, but only those rejected by a plugin the event can help.
- Algorithm: one scheduling cycle in memory — PreFilter, Filter over a sample of nodes (adaptive
  percentageOfNodesToScore, round-robin start), Score, random tie-break — over the incremental cache.
- Scheduler: informers, the loop, and the asynchronous binding cycle (volume pre-binding /
  selected-node, waiting for claims to bind, then pods/binding), events and PodScheduled conditions.

A chosen pod is "assumed" in the cache at once so the next decision sees it while the binding is
written in the background; a failed binding forgets it and requeues the pod.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import Client, deepcopy
from ..client.context import ComponentContext
from ..client.informer import Informer, cancel_and_wait
from . import plugins as P
from .cache import NodeInfo, PodInfo, SchedulerCache, is_terminal, pod_key

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 300.0     # podMaxInUnschedulablePodsDuration
BIND_TIMEOUT = 600.0             # VolumeBinding bindTimeoutSeconds
MAX_EVENT_MESSAGE = 1024

# Which plugins' rejections a cluster event may resolve (EventsToRegister of the default plugins).
ALL = None
NODE_PLUGINS = ALL
ASSIGNED_POD_DELETE = frozenset({P.NODE_RESOURCES_FIT, P.NODE_PORTS, P.VOLUME_RESTRICTIONS, P.INTER_POD_AFFINITY,
                                 P.POD_TOPOLOGY_SPREAD})
ASSIGNED_POD_ADD = frozenset({P.INTER_POD_AFFINITY, P.POD_TOPOLOGY_SPREAD})
ASSIGNED_POD_LABELS = frozenset({P.INTER_POD_AFFINITY, P.POD_TOPOLOGY_SPREAD})
PVC_CHANGE = frozenset({P.VOLUME_BINDING, P.VOLUME_RESTRICTIONS})
PV_CHANGE = frozenset({P.VOLUME_BINDING})
SC_CHANGE = frozenset({P.VOLUME_BINDING})
NS_CHANGE = frozenset({P.INTER_POD_AFFINITY})


def responsible(pod: dict[str, Any]) -> bool:
    """Ours to schedule: default scheduler, no node yet, not finished, not gated."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return False
    if (spec.get("schedulerName") or P.DEFAULT_SCHEDULER) != P.DEFAULT_SCHEDULER:
        return False
    if is_terminal(pod):
        return False
    return not spec.get("schedulingGates")


def _pod_updated(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """isPodUpdated: anything but status / resourceVersion / managedFields changed."""
    if old.get("spec") != new.get("spec"):
        return True
    om, nm = old["metadata"], new["metadata"]
    for k in set(om) | set(nm):
        if k in ("resourceVersion", "managedFields", "generation"):
            continue
        if om.get(k) != nm.get(k):
            return True
    return False


# ---------------------------------------------------------------------------------------------------
# Scheduling queue
# ---------------------------------------------------------------------------------------------------

class QueuedPod:
    __slots__ = ("key", "pod", "attempts", "added", "plugins", "backoff_until", "where", "move_seq", "unsched_since")

    def __init__(self, key: str, pod: dict[str, Any]) -> None:
        self.key = key
        self.pod = pod
        self.attempts = 0
        self.added = time.monotonic()
        self.plugins: frozenset[str] = frozenset()
        self.backoff_until = 0.0
        self.where = ""          # active | backoff | unschedulable | flight
        self.move_seq = 0
        self.unsched_since = 0.0


def backoff_duration(attempts: int, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> float:
    d = initial
    for _ in range(1, attempts):
        d *= 2
        if d >= maximum:
            return maximum
    return d


class SchedulingQueue:
    """PriorityQueue of upstream, reduced to what the default profile needs."""

    def __init__(self, initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF) -> None:
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.pods: dict[str, QueuedPod] = {}
        self._heap: list[tuple[int, float, int, str]] = []
        self._seq = itertools.count()
        self._backoff: set[str] = set()
        self._unsched: set[str] = set()
        self._by_plugin: dict[str, set[str]] = {}   # rejecting plugin -> unschedulable pod keys
        self._move_seq = 0
        self._wake = asyncio.Event()
        self.closed = False

    def __len__(self) -> int:
        return len(self.pods)

    def _leave_unsched(self, qp: QueuedPod) -> None:
        if qp.key in self._unsched:
            self._unsched.discard(qp.key)
            for pl in qp.plugins:
                keys = self._by_plugin.get(pl)
                if keys is not None:
                    keys.discard(qp.key)
                    if not keys:
                        del self._by_plugin[pl]

    def _activate(self, qp: QueuedPod) -> None:
        self._backoff.discard(qp.key)
        self._leave_unsched(qp)
        qp.where = "active"
        heapq.heappush(self._heap, (-P.pod_priority(qp.pod), qp.added, next(self._seq), qp.key))
        self._wake.set()

    def add(self, pod: dict[str, Any]) -> None:
        """A new pending pod (or one seen again)."""
        key = pod_key(pod)
        qp = self.pods.get(key)
        if qp is None:
            qp = self.pods[key] = QueuedPod(key, pod)
            self._activate(qp)
            return
        self.update(pod)

    def update(self, pod: dict[str, Any]) -> None:
        """The pod changed: an unschedulable one gets another chance (after its backoff)."""
        key = pod_key(pod)
        qp = self.pods.get(key)
        if qp is None:
            self.add(pod)
            return
        qp.pod = pod
        if qp.where == "unschedulable":
            self._move(qp, time.monotonic())

    def delete(self, key: str) -> None:
        qp = self.pods.pop(key, None)
        if qp is not None:
            qp.where = "gone"
            self._backoff.discard(key)
            self._leave_unsched(qp)

    def _move(self, qp: QueuedPod, now: float) -> None:
        self._leave_unsched(qp)
        if qp.backoff_until > now:
            qp.where = "backoff"
            self._backoff.add(qp.key)
        else:
            self._activate(qp)

    def pop_nowait(self) -> QueuedPod | None:
        while self._heap:
            _, _, _, key = heapq.heappop(self._heap)
            qp = self.pods.get(key)
            if qp is None or qp.where != "active":
                continue
            qp.where = "flight"
            qp.attempts += 1
            qp.move_seq = self._move_seq
            return qp
        self._wake.clear()
        return None

    async def pop(self) -> QueuedPod:
        while True:
            qp = self.pop_nowait()
            if qp is not None:
                return qp
            await self._wake.wait()

    def done(self, key: str) -> None:
        """Scheduled (assumed): the queue forgets the pod."""
        qp = self.pods.get(key)
        if qp is not None and qp.where == "flight":
            del self.pods[key]

    def unschedulable(self, qp: QueuedPod, plugins: frozenset[str]) -> None:
        """A failed attempt: wait for an event that may help (or in backoff, if one already came, or
        if no plugin rejected the pod, e.g. an API error)."""
        if self.pods.get(qp.key) is not qp:
            return
        now = time.monotonic()
        qp.plugins = plugins
        qp.backoff_until = now + backoff_duration(qp.attempts, self.initial_backoff, self.max_backoff)
        if not plugins or self._move_seq != qp.move_seq:
            qp.where = "backoff"
            self._backoff.add(qp.key)
        else:
            qp.where = "unschedulable"
            qp.unsched_since = now
            self._unsched.add(qp.key)
            for pl in plugins:
                self._by_plugin.setdefault(pl, set()).add(qp.key)

    def requeue(self, pod: dict[str, Any], attempts: int) -> None:
        """A pod whose binding failed comes back through backoff."""
        key = pod_key(pod)
        qp = self.pods.get(key)
        if qp is None:
            qp = self.pods[key] = QueuedPod(key, pod)
        qp.pod = pod
        qp.attempts = max(qp.attempts, attempts)
        qp.backoff_until = time.monotonic() + backoff_duration(qp.attempts, self.initial_backoff, self.max_backoff)
        self._leave_unsched(qp)
        qp.plugins = frozenset()
        qp.where = "backoff"
        self._backoff.add(key)

    def move(self, plugins: frozenset[str] | None) -> int:
        """A cluster event: unschedulable pods rejected by one of `plugins` (None: any) move on."""
        self._move_seq += 1
        if not self._unsched:
            return 0
        now = time.monotonic()
        if plugins is None:
            keys = list(self._unsched)
        else:
            keys = []
            for pl in plugins:
                keys.extend(self._by_plugin.get(pl, ()))
        moved = 0
        for key in keys:
            qp = self.pods.get(key)
            if qp is not None and qp.where == "unschedulable":
                self._move(qp, now)
                moved += 1
        return moved

    def flush(self) -> None:
        """Periodic: finished backoffs become active; pods unschedulable too long get another try."""
        now = time.monotonic()
        for key in list(self._backoff):
            qp = self.pods.get(key)
            if qp is None:
                self._backoff.discard(key)
            elif qp.backoff_until <= now:
                self._activate(qp)
        for key in list(self._unsched):
            qp = self.pods[key]
            if now - qp.unsched_since > MAX_IN_UNSCHEDULABLE:
                self._move(qp, now)


# ---------------------------------------------------------------------------------------------------
# The scheduling cycle (in memory)
# ---------------------------------------------------------------------------------------------------

class Decision:
    __slots__ = ("node", "volumes", "evaluated", "feasible")

    def __init__(self, node: str, volumes: P.PodVolumes | None, evaluated: int, feasible: int) -> None:
        self.node = node
        self.volumes = volumes
        self.evaluated = evaluated
        self.feasible = feasible


class Failure:
    """A FitError (or another scheduling error) with the message upstream would print."""

    __slots__ = ("message", "plugins", "reason")

    def __init__(self, message: str, plugins: frozenset[str], reason: str = "Unschedulable") -> None:
        self.message = message
        self.plugins = plugins
        self.reason = reason


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


class Algorithm:
    """PreFilter → Filter → Score → select, over the cache. No I/O."""

    def __init__(self, cache: SchedulerCache, volumes: P.VolumeView,
                 services: Callable[[str], list[dict[str, Any]]] = lambda ns: [],
                 owner_selector: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda pod: None,
                 namespace_labels: Callable[[str], dict[str, str] | None] = lambda ns: None,
                 all_namespace_labels: Callable[[], dict[str, dict[str, str]]] = dict,
                 assumed_pvs: Callable[[], dict[str, str]] = dict,
                 percentage: int = 0, rng: random.Random | None = None) -> None:
        self.cache = cache
        self.volumes = volumes
        self.services = services
        self.owner_selector = owner_selector
        self.namespace_labels = namespace_labels
        self.all_namespace_labels = all_namespace_labels
        self.assumed_pvs = assumed_pvs
        self.percentage = percentage
        self.rng = rng or random.Random()
        self.next_start = 0

    def _fail(self, num_all: int, statuses: dict[str, P.Status], absent: P.Status | None, pod: dict[str, Any],
              prefilter: P.Status | None = None) -> Failure:
        policy = (pod.get("spec") or {}).get("preemptionPolicy")
        if prefilter is not None:
            if prefilter.code == P.ERROR:
                return Failure(prefilter.message, frozenset(), "SchedulerError")
            post = P.preemption_message(num_all, {}, prefilter, policy)
            msg = P.fit_error_message(num_all, {}, prefilter, prefilter.message, post)
            return Failure(msg, frozenset({prefilter.plugin}))
        post = P.preemption_message(num_all, statuses, absent, policy)
        msg = P.fit_error_message(num_all, statuses, absent, "", post)
        plugins = {s.plugin for s in statuses.values()}
        if absent is not None and absent.plugin:
            plugins.update(absent.plugin.split(","))
        return Failure(msg, frozenset(plugins))

    def schedule(self, p: PodInfo) -> Decision | Failure:
        cache = self.cache
        all_nodes = cache.node_list
        num_all = len(all_nodes)
        if num_all == 0:
            return Failure(P.ERR_NO_NODES, frozenset())
        pod = p.pod
        spec = pod.get("spec") or {}
        tols = P.compile_tolerations(pod)
        aff = P.RequiredNodeAffinity(pod)

        # ---- PreFilter (NodeAffinity, VolumeRestrictions, VolumeBinding, PodTopologySpread, InterPodAffinity)
        restrict: set[str] | None = None
        restricting: list[str] = []
        names, st = P.node_affinity_prefilter(pod)
        if st is not None:
            return self._fail(num_all, {}, None, pod, st)
        if names is not None:
            restrict = names
            restricting.append(P.NODE_AFFINITY)
        conflict_vols = P.conflict_volumes(pod)
        rwop = 0
        vstate = None
        if spec.get("volumes"):
            rwop, st = P.volume_restrictions_prefilter(pod, self.volumes, cache.pvc_in_use)
            if st is not None:
                return self._fail(num_all, {}, None, pod, st)
            vstate, st = P.volume_binding_prefilter(pod, self.volumes)
            if st is not None:
                return self._fail(num_all, {}, None, pod, st)
            if vstate is not None and vstate.eligible_nodes is not None:
                restrict = vstate.eligible_nodes if restrict is None else restrict & vstate.eligible_nodes
                restricting.append(P.VOLUME_BINDING)
        if restrict is not None and not restrict:
            msg = (f"node(s) didn't satisfy plugin {restricting[0]}" if len(restricting) == 1 else
                   f"node(s) didn't satisfy plugin(s) {_go_list(sorted(restricting))} simultaneously")
            return self._fail(num_all, {}, None, pod, P.Status(P.UNSCHEDULABLE, [msg], restricting[-1]))
        spread = P.spread_prefilter(pod, aff, tols, all_nodes) if spec.get("topologySpreadConstraints") else None
        terms = p.affinity
        ipa = None
        if terms is not None or cache.anti_pods:
            if terms is not None:
                terms = P.PodAffinityTerms(pod)  # fresh copy: namespace selectors are resolved in place
                for group in (terms.required, terms.required_anti, terms.preferred, terms.preferred_anti):
                    P.merge_term_namespaces(group, self.all_namespace_labels)
            ipa = P.inter_pod_prefilter(pod, terms or _NO_TERMS, self.namespace_labels(p.namespace),
                                        cache.anti_affinity_pods(), all_nodes)

        # ---- Filter
        if restrict is not None:
            nodes = [cache.nodes[n] for n in sorted(restrict) if n in cache.nodes and cache.nodes[n].index >= 0]
            absent: P.Status | None = P.Status(
                P.UNRESOLVABLE, [f"node(s) didn't satisfy plugin(s) {_go_list(sorted(set(restricting)))}"],
                ",".join(restricting))
        else:
            nodes = all_nodes
            absent = None
        n = len(nodes)
        statuses: dict[str, P.Status] = {}
        feasible: list[NodeInfo] = []
        if n:
            to_find = P.num_feasible_nodes_to_find(n, self.percentage)
            pcpu, pmem, peph, pother = p.cpu, p.mem, p.eph, p.other
            sig = p.sig
            ports = p.ports
            tol_unsched = P.tolerated(tols, P.UNSCHEDULABLE_TAINT)
            pod_labels = p.labels
            want_node = spec.get("nodeName") or ""
            start = self.next_start % n if restrict is None else 0
            processed = 0
            volumes = self.volumes
            assumed_pvs = self.assumed_pvs() if vstate is not None and vstate.delayed else None
            for i in range(n):
                node = nodes[(start + i) % n]
                processed += 1
                st = None
                if node.unschedulable and not tol_unsched:
                    st = P.Status(P.UNRESOLVABLE, [P.ERR_UNSCHEDULABLE], P.NODE_UNSCHEDULABLE)
                elif want_node and want_node != node.name:
                    st = P.Status(P.UNRESOLVABLE, [P.ERR_NODE_NAME], P.NODE_NAME)
                elif node.hard_taints and (st := P.filter_taint_toleration(tols, node)) is not None:
                    pass
                elif not aff.empty and not aff.match(node.name, node.labels):
                    st = P.Status(P.UNRESOLVABLE, [P.ERR_NODE_AFFINITY], P.NODE_AFFINITY)
                elif ports and P.ports_conflict(node.used_ports, ports):
                    st = P.Status(P.UNSCHEDULABLE, [P.ERR_NODE_PORTS], P.NODE_PORTS)
                else:
                    if node.memo_gen == node.generation and node.memo_sig == sig:
                        reasons = node.memo_fit
                    else:
                        reasons = P.fit_reasons(pcpu, pmem, peph, pother, node)
                        node.memo_gen, node.memo_sig, node.memo_fit, node.memo_score = \
                            node.generation, sig, reasons, -1
                    if reasons:
                        st = P.Status(P.UNSCHEDULABLE, reasons, P.NODE_RESOURCES_FIT)
                    elif (conflict_vols or rwop) and \
                            (st := P.filter_volume_restrictions(conflict_vols, rwop, node)) is not None:
                        pass
                    elif vstate is not None and \
                            (st := P.filter_volume_binding(vstate, node, volumes, assumed_pvs)[0]) is not None:
                        pass
                    elif spread is not None and \
                            (st := P.filter_pod_topology_spread(spread, pod_labels, node)) is not None:
                        pass
                    elif ipa is not None:
                        st = P.filter_inter_pod_affinity(ipa, node)
                if st is None:
                    feasible.append(node)
                    if len(feasible) >= to_find:
                        break
                elif st.code == P.ERROR:  # an internal error aborts the cycle, as upstream
                    return Failure(st.message, frozenset(), "SchedulerError")
                else:
                    statuses[node.name] = st
            if restrict is None:
                self.next_start = (start + processed) % n
        if not feasible:
            return self._fail(num_all, statuses, absent, pod)

        # ---- Score
        if len(feasible) == 1:
            chosen = feasible[0]
        else:
            chosen = self._select(self._score(p, pod, tols, aff, terms, feasible, all_nodes), feasible)
        pvols = None
        if vstate is not None:
            st, pvols = P.filter_volume_binding(vstate, chosen, self.volumes, self.assumed_pvs())
            if st is not None:  # cannot happen: the node just passed the same filter
                return self._fail(num_all, {chosen.name: st}, None, pod)
        return Decision(chosen.name, pvols, len(statuses) + len(feasible), len(feasible))

    def _score(self, p: PodInfo, pod: dict[str, Any], tols: list[P.Toleration], aff: P.RequiredNodeAffinity,
               terms: P.PodAffinityTerms | None, feasible: list[NodeInfo], all_nodes: list[NodeInfo]) -> list[int]:
        k = len(feasible)
        total = [0] * k
        # TaintToleration (weight 3): intolerable PreferNoSchedule taints, fewer is better.
        if any(n.soft_taints for n in feasible):
            prefer = P.prefer_no_schedule_tolerations(tols)
            raw = [P.score_taint_toleration(prefer, n) for n in feasible]
            for i, s in enumerate(P.default_normalize(raw, True)):
                total[i] += s * P.WEIGHT_TAINT
        # NodeAffinity (weight 2): preferred terms.
        pref = P.preferred_node_terms(pod)
        if pref:
            raw = [P.score_node_affinity(pref, n) for n in feasible]
            for i, s in enumerate(P.default_normalize(raw, False)):
                total[i] += s * P.WEIGHT_NODE_AFFINITY
        # NodeResourcesFit LeastAllocated (weight 1) and BalancedAllocation (weight 1).
        nz_cpu, nz_mem = p.nz_cpu, p.nz_mem
        rc, rm = p.requests.get("cpu", 0), p.requests.get("memory", 0)
        sig = p.sig
        for i, n in enumerate(feasible):
            if n.memo_score >= 0 and n.memo_gen == n.generation and n.memo_sig == sig:
                total[i] += n.memo_score
                continue
            s = P.score_least_allocated(nz_cpu, nz_mem, n) * P.WEIGHT_FIT \
                + P.score_balanced_allocation(rc, rm, n) * P.WEIGHT_BALANCED
            if n.memo_gen == n.generation and n.memo_sig == sig:
                n.memo_score = s
            total[i] += s
        # PodTopologySpread (weight 2): the pod's ScheduleAnyway constraints, else the system defaults.
        if pod.get("spec", {}).get("topologySpreadConstraints"):
            cons = P.pod_spread_constraints(pod, "ScheduleAnyway")
            require_all = True
        else:
            cons = self._default_constraints(pod)
            require_all = False
        sst = P.spread_prescore(pod, cons, require_all, aff, tols, feasible, all_nodes) if cons else None
        if sst is not None:
            names = [n.name for n in feasible]
            raw = [P.score_pod_topology_spread(sst, n) for n in feasible]
            for i, s in enumerate(P.normalize_pod_topology_spread(sst, names, raw)):
                total[i] += s * P.WEIGHT_SPREAD
        # InterPodAffinity (weight 2).
        has_pref = terms is not None and bool(terms.preferred or terms.preferred_anti)
        if has_pref or self.cache.affinity_pods:
            if has_pref:
                pairs = [(n, list(n.pods.values())) for n in all_nodes if n.pods]
            else:
                pairs = self.cache.nodes_with_affinity_pods()
            scores = P.inter_pod_prescore(pod, terms or _NO_TERMS, self.namespace_labels(p.namespace), pairs)
            if scores is not None:
                raw = [P.score_inter_pod(scores, n) for n in feasible]
                for i, s in enumerate(P.normalize_min_max(raw)):
                    total[i] += s * P.WEIGHT_INTER_POD
        return total

    def _default_constraints(self, pod: dict[str, Any]) -> list[P.SpreadConstraint]:
        sel = P.default_spread_selector(pod, self.services(pod["metadata"].get("namespace", "")),
                                        self.owner_selector(pod))
        if sel.empty or sel.nothing:
            return []
        return [P.SpreadConstraint(skew, key, sel) for skew, key in P.DEFAULT_SPREAD]

    def _select(self, scores: list[int], feasible: list[NodeInfo]) -> NodeInfo:
        """selectHost: the best score, ties broken uniformly at random."""
        top = max(scores)
        best = [i for i, s in enumerate(scores) if s == top]
        return feasible[best[0] if len(best) == 1 else self.rng.choice(best)]


class _NoTerms:
    required: list = []
    required_anti: list = []
    preferred: list = []
    preferred_anti: list = []


_NO_TERMS: Any = _NoTerms()


# ---------------------------------------------------------------------------------------------------
# I/O: informers, loop, binding
# ---------------------------------------------------------------------------------------------------

class LiveVolumes(P.VolumeView):
    """Claims, volumes and classes from informers, overlaid with the scheduler's in-flight writes."""

    def __init__(self, pvcs: Informer, pvs: Informer, classes: Informer) -> None:
        self.pvcs = pvcs
        self.pvs = pvs
        self.classes = classes
        self.assumed_node: dict[str, str] = {}    # "ns/claim" -> selected node being written
        self.assumed_pv: dict[str, str] = {}      # pv name -> "ns/claim" being pre-bound
        pvs.add_indexer("scheduler:storageclass", lambda pv: [P.volume_class(pv)])

    def pvc(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.pvcs.get_by(namespace, name)
        node = self.assumed_node.get(f"{namespace}/{name}")
        if obj is not None and node is not None:
            ann = obj["metadata"].get("annotations") or {}
            if ann.get(P.ANN_SELECTED_NODE) != node:
                obj = dict(obj, metadata=dict(obj["metadata"], annotations=dict(ann, **{P.ANN_SELECTED_NODE: node})))
        return obj

    def pv(self, name: str) -> dict[str, Any] | None:
        return self.pvs.get(name)

    def storage_class(self, name: str) -> dict[str, Any] | None:
        return self.classes.get(name)

    def pvs_for_class(self, class_name: str) -> list[dict[str, Any]]:
        return self.pvs.by_index("scheduler:storageclass", class_name)


class BindingError(Exception):
    pass


class Scheduler:
    """The default-scheduler component: watches, schedules, binds."""

    name = P.DEFAULT_SCHEDULER

    def __init__(self, ctx: ComponentContext, initial_backoff: float = INITIAL_BACKOFF,
                 max_backoff: float = MAX_BACKOFF) -> None:
        self.ctx = ctx
        self.client: Client = ctx.client
        f = ctx.informers
        self.pods = f.informer("pods")
        self.nodes = f.informer("nodes")
        self.pvcs = f.informer("persistentvolumeclaims")
        self.pvs = f.informer("persistentvolumes")
        self.classes = f.informer("storageclasses.storage.k8s.io")
        self.services = f.informer("services")
        self.replicasets = f.informer("replicasets.apps")
        self.rcs = f.informer("replicationcontrollers")
        self.statefulsets = f.informer("statefulsets.apps")
        self.namespaces = f.informer("namespaces")
        self._informers = [self.pods, self.nodes, self.pvcs, self.pvs, self.classes, self.services,
                           self.replicasets, self.rcs, self.statefulsets, self.namespaces]
        self.recorder = ctx.recorder(P.DEFAULT_SCHEDULER)
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(initial_backoff, max_backoff)
        self.volumes = LiveVolumes(self.pvcs, self.pvs, self.classes)
        pct = int((ctx.settings or {}).get("percentage_of_nodes_to_score", 0) or 0)
        self.algorithm = Algorithm(self.cache, self.volumes, self._services_in, self._owner_selector,
                                   self._namespace_labels, self._all_namespace_labels,
                                   lambda: self.volumes.assumed_pv, pct)
        self._tasks: set[asyncio.Task] = set()
        self._main: list[asyncio.Task] = []
        # Binding cycles waiting for their volumes, by what they wait on ("pvc/NS/NAME", "pv/NAME",
        # "pod/NS/NAME"): a PV or claim event wakes only the binders of that object, not all of them.
        self._vol_waiters: dict[str, set[asyncio.Future]] = {}
        self._binding: dict[str, asyncio.Task] = {}
        self.scheduled = 0
        self._register()

    # ---- listers for the algorithm ----------------------------------------------------------------
    def _services_in(self, ns: str) -> list[dict[str, Any]]:
        return self.services.by_index("namespace", ns)

    def _owner_selector(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        ref = meta.controller_ref(pod)
        if ref is None:
            return None
        ns = pod["metadata"].get("namespace")
        if ref.get("apiVersion") == "v1" and ref.get("kind") == "ReplicationController":
            rc = self.rcs.get_by(ns, ref.get("name", ""))
            sel = (rc.get("spec") or {}).get("selector") if rc is not None else None
            return {"matchLabels": sel} if sel else None
        if ref.get("apiVersion") != "apps/v1":
            return None
        if ref.get("kind") == "ReplicaSet":
            owner = self.replicasets.get_by(ns, ref.get("name", ""))
        elif ref.get("kind") == "StatefulSet":
            owner = self.statefulsets.get_by(ns, ref.get("name", ""))
        else:
            return None
        return (owner.get("spec") or {}).get("selector") if owner is not None else None

    def _namespace_labels(self, ns: str) -> dict[str, str] | None:
        obj = self.namespaces.get(ns)
        return (obj["metadata"].get("labels") or {}) if obj is not None else None

    def _all_namespace_labels(self) -> dict[str, dict[str, str]]:
        return {o["metadata"]["name"]: o["metadata"].get("labels") or {} for o in self.namespaces.list()}

    # ---- event handlers ----------------------------------------------------------------------------
    def _register(self) -> None:
        self.pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_handlers(self._node_added, self._node_updated, self._node_deleted)
        self.pvcs.add_handlers(self._pvc_changed, lambda o, n: self._pvc_changed(n),
                               lambda o: self._wake_binders("pvc/" + _claim_key(o)))
        self.pvs.add_handlers(self._pv_changed, lambda o, n: self._pv_changed(n), self._wake_for_pv)
        self.classes.add_handlers(lambda o: self.queue.move(SC_CHANGE), lambda o, n: self.queue.move(SC_CHANGE), None)
        self.namespaces.add_handlers(None, lambda o, n: self._ns_updated(o, n), None)

    def _pod_added(self, pod: dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.set_pod(pod)
            self.queue.move(ASSIGNED_POD_ADD)
        elif responsible(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        key = pod_key(new)
        if (new.get("spec") or {}).get("nodeName"):
            if not (old.get("spec") or {}).get("nodeName"):
                self.queue.delete(key)
                self.cache.set_pod(new)
                self.queue.move(ASSIGNED_POD_ADD)
                return
            was_counted = not is_terminal(old)
            self.cache.set_pod(new)
            if was_counted and is_terminal(new):
                self.queue.move(ASSIGNED_POD_DELETE)
            elif (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {}):
                self.queue.move(ASSIGNED_POD_LABELS)
            return
        if self.cache.is_assumed(key):
            return
        if responsible(new):
            if key not in self.queue.pods:
                self.queue.add(new)
            elif _pod_updated(old, new):
                self.queue.update(new)
            else:
                self.queue.pods[key].pod = new
        else:
            self.queue.delete(key)

    def _pod_deleted(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        self.queue.delete(key)
        if key in self.cache.pod_nodes:
            self.cache.remove_pod(key)
            self.queue.move(ASSIGNED_POD_DELETE)
        self._wake_binders("pod/" + key)

    def _node_added(self, node: dict[str, Any]) -> None:
        if self.cache.upsert_node(node):
            self.queue.move(NODE_PLUGINS)

    def _node_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if self.cache.upsert_node(new):
            self.queue.move(NODE_PLUGINS)

    def _node_deleted(self, node: dict[str, Any]) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def _pvc_changed(self, pvc: dict[str, Any]) -> None:
        md = pvc["metadata"]
        key = f"{md.get('namespace')}/{md['name']}"
        node = self.volumes.assumed_node.get(key)
        if node is not None and (md.get("annotations") or {}).get(P.ANN_SELECTED_NODE) == node:
            self.volumes.assumed_node.pop(key, None)  # the informer caught up with our write
        self.queue.move(PVC_CHANGE)
        self._wake_binders("pvc/" + key)

    def _pv_changed(self, pv: dict[str, Any]) -> None:
        name = pv["metadata"]["name"]
        owner = self.volumes.assumed_pv.get(name)
        if owner is not None and P.volume_bound_to_claim(pv, _claim_stub(owner)):
            self.volumes.assumed_pv.pop(name, None)
        self.queue.move(PV_CHANGE)
        self._wake_for_pv(pv)

    def _ns_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {}):
            self.queue.move(NS_CHANGE)

    def _wake_binders(self, key: str) -> None:
        waiters = self._vol_waiters.pop(key, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def _wake_for_pv(self, pv: dict[str, Any]) -> None:
        """A PV changed: its binders, and those of the claim it points to (a provisioned PV shows up)."""
        if not self._vol_waiters:
            return
        self._wake_binders("pv/" + pv["metadata"]["name"])
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and ref.get("name"):
            self._wake_binders(f"pvc/{ref.get('namespace')}/{ref['name']}")

    # ---- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for inf in self._informers:
            inf.start()
        self._main.append(loop.create_task(self._run()))
        self._main.append(loop.create_task(self._flusher()))

    async def stop(self) -> None:
        self.queue.closed = True
        await cancel_and_wait(*self._main, *self._tasks)
        self._main.clear()
        self._tasks.clear()

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.queue.flush()
            except Exception:
                log.exception("scheduler: queue flush failed")

    async def _run(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers))
        log.info("scheduler: caches synced (%d nodes, %d pending pods)", self.cache.num_nodes(), len(self.queue))
        budget = time.monotonic()
        while True:
            qp = self.queue.pop_nowait()
            if qp is None:
                qp = await self.queue.pop()
                budget = time.monotonic()
            try:
                self._schedule_one(qp)
            except Exception:
                log.exception("scheduler: error scheduling %s", qp.key)
                self.queue.unschedulable(qp, frozenset())
            if time.monotonic() - budget > 0.02:  # let informers and bindings run
                await asyncio.sleep(0)
                budget = time.monotonic()

    # ---- one pod --------------------------------------------------------------------------------------
    def _schedule_one(self, qp: QueuedPod) -> None:
        ns, name = qp.key.split("/", 1)
        pod = self.pods.get_by(ns, name)
        if pod is None or not responsible(pod) or self.cache.is_assumed(qp.key):
            self.queue.delete(qp.key)
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.queue.delete(qp.key)
            self.recorder.event(pod, "Warning", "FailedScheduling", f"skip schedule deleting pod: {ns}/{name}")
            return
        p = PodInfo(pod)
        result = self.algorithm.schedule(p)
        if isinstance(result, Failure):
            self._failed(pod, result.message, result.reason)
            self.queue.unschedulable(qp, result.plugins)
            return
        self.cache.assume(p, result.node)
        vols = result.volumes
        if vols is not None and not vols.empty:
            for pvc in vols.provision:
                self.volumes.assumed_node[f"{pvc['metadata'].get('namespace')}/{pvc['metadata']['name']}"] = \
                    result.node
            for pvc, pv in vols.static:
                self.volumes.assumed_pv[pv["metadata"]["name"]] = \
                    f"{pvc['metadata'].get('namespace')}/{pvc['metadata']['name']}"
        self.queue.done(qp.key)
        t = asyncio.get_running_loop().create_task(self._bind(p, result.node, vols, qp.attempts))
        self._tasks.add(t)
        self._binding[qp.key] = t

        def done(task: asyncio.Task, key: str = qp.key) -> None:
            self._tasks.discard(task)
            if self._binding.get(key) is task:
                del self._binding[key]

        t.add_done_callback(done)

    def _failed(self, pod: dict[str, Any], message: str, reason: str) -> None:
        """FailedScheduling event and PodScheduled=False condition (only written when it changes)."""
        ev = message if len(message) <= MAX_EVENT_MESSAGE else message[:MAX_EVENT_MESSAGE - 3] + "..."
        self.recorder.event(pod, "Warning", "FailedScheduling", ev)
        cur = next((c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") == "PodScheduled"),
                   None)
        if cur is not None and cur.get("status") == "False" and cur.get("reason") == reason \
                and cur.get("message") == message:
            return
        cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "reason": reason,
                "message": message,
                "lastTransitionTime": cur.get("lastTransitionTime") if cur is not None and cur.get("status") == "False"
                else meta.now_rfc3339()}
        self._spawn(self._patch_condition(pod, cond))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _patch_condition(self, pod: dict[str, Any], cond: dict[str, Any]) -> None:
        md = pod["metadata"]
        body = {"metadata": {"uid": md.get("uid")}, "status": {"conditions": [cond]}}
        try:
            await self.client.patch("pods", md.get("namespace"), md["name"], body,
                                    "application/strategic-merge-patch+json", "status")
        except ApiError as e:
            if e.code not in (404, 409):
                log.debug("scheduler: condition update for %s failed: %s", pod_key(pod), e.message)
        except Exception:
            log.debug("scheduler: condition update for %s failed", pod_key(pod), exc_info=True)

    # ---- binding cycle --------------------------------------------------------------------------------
    async def _bind(self, p: PodInfo, node: str, vols: P.PodVolumes | None, attempts: int) -> None:
        ns, name = p.namespace, p.name
        try:
            if vols is not None and not vols.empty:
                await self._bind_volumes(p, node, vols)
            await self.client.bind(ns, name, node)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.cache.forget(p.key)
            self._revert_volumes(vols)
            self.queue.move(ASSIGNED_POD_DELETE)  # its reservation is gone
            if isinstance(e, ApiError) and (e.code == 404 or (e.code == 409 and "already assigned" in e.message)):
                return
            if isinstance(e, BindingError):
                msg = f'running PreBind plugin "VolumeBinding": binding volumes: {e}'
            elif isinstance(e, ApiError):
                msg = f"binding rejected: {e.message}"
            else:
                msg = f"binding rejected: {e}"
            log.info("scheduler: %s: %s", p.key, msg)
            cur = self.pods.get_by(ns, name) or p.pod
            if responsible(cur) and not cur["metadata"].get("deletionTimestamp"):
                self._failed(cur, msg, "SchedulerError")
                self.queue.requeue(cur, attempts)
            return
        self.scheduled += 1
        self.recorder.event(p.pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}")

    def _revert_volumes(self, vols: P.PodVolumes | None) -> None:
        if vols is None:
            return
        for pvc in vols.provision:
            self.volumes.assumed_node.pop(f"{pvc['metadata'].get('namespace')}/{pvc['metadata']['name']}", None)
        for _pvc, pv in vols.static:
            self.volumes.assumed_pv.pop(pv["metadata"]["name"], None)

    async def _bind_volumes(self, p: PodInfo, node: str, vols: P.PodVolumes) -> None:
        """PreBind of VolumeBinding: pre-bind chosen PVs, mark claims to provision with the selected
        node, then wait until the PV controller / provisioner has bound every claim."""
        written: dict[str, int] = {}
        for pvc, pv in vols.static:
            if P.volume_bound_to_claim(pv, pvc) and (pv["metadata"].get("annotations") or {}).get(
                    P.ANN_BOUND_BY_CONTROLLER) is not None:
                continue
            new = deepcopy(pv)
            cmd = pvc["metadata"]
            if not P.volume_bound_to_claim(pv, pvc):
                new["metadata"].setdefault("annotations", {}).setdefault(P.ANN_BOUND_BY_CONTROLLER, "yes")
            new["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": cmd.get("namespace"),
                                       "name": cmd["name"], "uid": cmd.get("uid"), "apiVersion": "v1",
                                       "resourceVersion": cmd.get("resourceVersion")}
            try:
                out = await self.client.update("persistentvolumes", new)
            except ApiError as e:
                raise BindingError(e.message) from e
            written["pv/" + pv["metadata"]["name"]] = _rv(out)
        for pvc in vols.provision:
            md = pvc["metadata"]
            cur = self.pvcs.get_by(md.get("namespace"), md["name"])
            if cur is not None and (cur["metadata"].get("annotations") or {}).get(P.ANN_SELECTED_NODE) == node:
                continue
            try:
                out = await self.client.patch("persistentvolumeclaims", md.get("namespace"), md["name"],
                                              {"metadata": {"annotations": {P.ANN_SELECTED_NODE: node}}})
            except ApiError as e:
                raise BindingError(e.message) from e
            written[f"pvc/{md.get('namespace')}/{md['name']}"] = _rv(out)
        deadline = time.monotonic() + BIND_TIMEOUT
        keys = ["pod/" + p.key] + ["pvc/" + _claim_key(pvc) for pvc, _ in vols.static] + \
            ["pv/" + pv["metadata"]["name"] for _, pv in vols.static] + ["pvc/" + _claim_key(pvc) for pvc in vols.provision]
        loop = asyncio.get_running_loop()
        while True:
            if self._check_bindings(p, node, vols, written):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise BindingError("context deadline exceeded")
            fut = loop.create_future()
            for k in keys:
                self._vol_waiters.setdefault(k, set()).add(fut)
            timer = loop.call_later(min(1.0, left), lambda f=fut: f.done() or f.set_result(None))
            try:
                await fut
            finally:
                timer.cancel()
                for k in keys:
                    ws = self._vol_waiters.get(k)
                    if ws is not None:
                        ws.discard(fut)
                        if not ws:
                            del self._vol_waiters[k]

    def _check_bindings(self, p: PodInfo, node: str, vols: P.PodVolumes, written: dict[str, int]) -> bool:
        """checkBindings: True when all claims are bound; raises BindingError when binding was undone."""
        if self.pods.get_by(p.namespace, p.name) is None:
            raise BindingError("pod does not exist any more")
        node_obj = self.cache.nodes.get(node)
        labels = node_obj.labels if node_obj is not None else {}
        for pvc, pv in vols.static:
            cur_pv = self.pvs.get(pv["metadata"]["name"])
            md = pvc["metadata"]
            cur_pvc = self.pvcs.get_by(md.get("namespace"), md["name"])
            if cur_pv is None or cur_pvc is None:
                raise BindingError(f"failed to check binding: {pv['metadata']['name']} or {md['name']} not found")
            if _rv(cur_pv) < written.get("pv/" + pv["metadata"]["name"], 0):
                return False
            if not P.check_pv_node_affinity(cur_pv, labels):
                raise BindingError(f'pv "{pv["metadata"]["name"]}" node affinity doesn\'t match node "{node}"')
            ref = (cur_pv.get("spec") or {}).get("claimRef")
            if not ref or not ref.get("uid"):
                raise BindingError(f'ClaimRef got reset for pv "{pv["metadata"]["name"]}"')
            if not P.claim_fully_bound(cur_pvc):
                return False
        for pvc in vols.provision:
            md = pvc["metadata"]
            cur = self.pvcs.get_by(md.get("namespace"), md["name"])
            if cur is None:
                raise BindingError(f'failed to check provisioning pvc: "{md.get("namespace")}/{md["name"]}" not found')
            if _rv(cur) < written.get(f"pvc/{md.get('namespace')}/{md['name']}", 0):
                return False
            if (cur["metadata"].get("annotations") or {}).get(P.ANN_SELECTED_NODE) != node:
                raise BindingError(f'provisioning failed for PVC "{md["name"]}"')
            vn = (cur.get("spec") or {}).get("volumeName")
            if vn:
                pv = self.pvs.get(vn)
                if pv is None:
                    return False
                if not P.check_pv_node_affinity(pv, labels):
                    raise BindingError(f'pv "{vn}" node affinity doesn\'t match node "{node}"')
            if not P.claim_fully_bound(cur):
                return False
        return True


def _rv(obj: dict[str, Any] | None) -> int:
    try:
        return int((obj or {}).get("metadata", {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _claim_key(pvc: dict[str, Any]) -> str:
    md = pvc["metadata"]
    return f"{md.get('namespace')}/{md['name']}"


def _claim_stub(key: str) -> dict[str, Any]:
    ns, name = key.split("/", 1)
    return {"metadata": {"namespace": ns, "name": name}}


async def start(ctx: ComponentContext) -> Callable[[], Awaitable[None]]:
    """Entry point used by `kubeling up`: start the default scheduler; returns its stop coroutine."""
    s = Scheduler(ctx)
    s.start()
    return s.stop

"""The scheduler's incremental node-info cache.

Per node it keeps the pods assigned (bound or assumed), their summed requests, the host ports in use
and the node's parsed allocatable/taints/labels, updated from informer events one pod or node at a time,
so a scheduling decision never rescans all pods. Assumed pods (chosen, binding in flight) count at once,
so the next decision already sees them; the informer's view of the bound pod later replaces them.
"""
from __future__ import annotations

from typing import Any

from . import plugins
from .plugins import HostPort, PodAffinityTerms, Taint, Vec


def pod_key(pod: dict[str, Any]) -> str:
    md = pod["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


def is_terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class PodInfo:
    """What the scheduler needs of one pod, parsed once."""

    __slots__ = ("key", "uid", "namespace", "name", "labels", "pod", "node_name", "requests", "nz_cpu", "nz_mem",
                 "ports", "pvcs", "affinity", "deleting", "priority", "sig", "cpu", "mem", "eph", "other")

    def __init__(self, pod: dict[str, Any]) -> None:
        md = pod["metadata"]
        self.key = pod_key(pod)
        self.uid: str = md.get("uid", "")
        self.namespace: str = md.get("namespace", "")
        self.name: str = md["name"]
        self.pod = pod
        self.labels: dict[str, str] = md.get("labels") or {}
        self.deleting = bool(md.get("deletionTimestamp"))
        spec = pod.get("spec") or {}
        self.node_name: str = spec.get("nodeName") or ""
        self.requests: Vec
        self.requests, self.nz_cpu, self.nz_mem = plugins.pod_requests(pod)
        self.sig = (tuple(sorted(self.requests.items())), self.nz_cpu, self.nz_mem)  # resource footprint
        r = self.requests
        self.cpu, self.mem, self.eph = r.get("cpu", 0), r.get("memory", 0), r.get("ephemeral-storage", 0)
        self.other = tuple((k, v) for k, v in r.items() if k not in ("cpu", "memory", "ephemeral-storage") and v)
        self.ports: list[HostPort] = plugins.pod_host_ports(pod)
        self.pvcs: list[str] = [f"{self.namespace}/{n}" for n in plugins.pod_pvc_names(pod)]
        self.affinity: PodAffinityTerms | None = PodAffinityTerms(pod) if plugins.has_pod_affinity(pod) else None
        self.priority = plugins.pod_priority(pod)

    def refreshed(self, pod: dict[str, Any]) -> PodInfo:
        """A PodInfo for a newer version of the same pod, reusing the parsed spec when it is unchanged."""
        if pod.get("spec") != self.pod.get("spec"):
            return PodInfo(pod)
        new = PodInfo.__new__(PodInfo)
        for s in PodInfo.__slots__:
            setattr(new, s, getattr(self, s))
        md = pod["metadata"]
        new.pod = pod
        new.labels = md.get("labels") or {}
        new.deleting = bool(md.get("deletionTimestamp"))
        return new


class NodeInfo:
    """One node: its parsed object plus the aggregate of the pods assigned to it."""

    __slots__ = ("name", "node", "labels", "hard_taints", "soft_taints", "unschedulable", "allocatable",
                 "allowed_pods", "requested", "nz_cpu", "nz_mem", "pods", "used_ports", "generation", "index", "taints",
                 "memo_gen", "memo_sig", "memo_fit", "memo_score",
                 "a_cpu", "a_mem", "a_eph", "r_cpu", "r_mem", "r_eph")

    def __init__(self, name: str) -> None:
        self.name = name
        self.node: dict[str, Any] | None = None
        self.labels: dict[str, str] = {}
        self.taints: list[Taint] = []
        self.hard_taints: list[Taint] = []   # NoSchedule / NoExecute, in node order
        self.soft_taints: list[Taint] = []   # PreferNoSchedule
        self.unschedulable = False
        self.allocatable: Vec = {}
        self.allowed_pods = 0
        self.requested: Vec = {}
        # cpu / memory / ephemeral-storage of allocatable and requested as plain ints (the hot path)
        self.a_cpu = self.a_mem = self.a_eph = 0
        self.r_cpu = self.r_mem = self.r_eph = 0
        self.nz_cpu = 0
        self.nz_mem = 0
        self.pods: dict[str, PodInfo] = {}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        self.generation = 0
        self.index = -1                      # position in the cache's node list, -1 when absent
        # One-entry memo of the resource fit and resource scores for a pod footprint: replicas of one
        # template have the same footprint, and only the node that got the last pod has changed.
        self.memo_gen = -1
        self.memo_sig: tuple | None = None
        self.memo_fit: list[str] = []
        self.memo_score = 0

    def set_node(self, node: dict[str, Any]) -> bool:
        """Take a new version of the Node; True when anything scheduling looks at changed."""
        md = node["metadata"]
        spec = node.get("spec") or {}
        labels = md.get("labels") or {}
        taints = plugins.node_taints(node)
        alloc, pods = plugins.node_allocatable(node)
        unsched = bool(spec.get("unschedulable"))
        changed = (self.node is None or labels != self.labels or unsched != self.unschedulable
                   or alloc != self.allocatable or pods != self.allowed_pods
                   or taints != self.taints)
        self.node = node
        self.labels = labels
        self.taints = taints
        self.hard_taints = [t for t in taints if t[2] in ("NoSchedule", "NoExecute")]
        self.soft_taints = [t for t in taints if t[2] == "PreferNoSchedule"]
        self.unschedulable = unsched
        self.allocatable = alloc
        self.allowed_pods = pods
        self.a_cpu, self.a_mem, self.a_eph = alloc.get("cpu", 0), alloc.get("memory", 0), alloc.get("ephemeral-storage", 0)
        if changed:
            self.generation += 1
        return changed

    def add_pod(self, p: PodInfo) -> None:
        self.pods[p.key] = p
        req = self.requested
        for k, v in p.requests.items():
            req[k] = req.get(k, 0) + v
        self.nz_cpu += p.nz_cpu
        self.nz_mem += p.nz_mem
        self.r_cpu += p.cpu
        self.r_mem += p.mem
        self.r_eph += p.eph
        for ip, proto, port in p.ports:
            ips = self.used_ports.setdefault((proto, port), {})
            ips[ip] = ips.get(ip, 0) + 1
        self.generation += 1

    def remove_pod(self, key: str) -> PodInfo | None:
        p = self.pods.pop(key, None)
        if p is None:
            return None
        req = self.requested
        for k, v in p.requests.items():
            left = req.get(k, 0) - v
            if left:
                req[k] = left
            else:
                req.pop(k, None)
        self.nz_cpu -= p.nz_cpu
        self.nz_mem -= p.nz_mem
        self.r_cpu -= p.cpu
        self.r_mem -= p.mem
        self.r_eph -= p.eph
        for ip, proto, port in p.ports:
            ips = self.used_ports.get((proto, port))
            if ips is not None:
                n = ips.get(ip, 0) - 1
                if n > 0:
                    ips[ip] = n
                else:
                    ips.pop(ip, None)
                if not ips:
                    del self.used_ports[(proto, port)]
        self.generation += 1
        return p


class SchedulerCache:
    """Nodes and the pods assigned to them, kept current from informer events."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.node_list: list[NodeInfo] = []          # nodes with a Node object, in a stable order
        self.pod_nodes: dict[str, str] = {}          # pod key -> node it counts on
        self.assumed: set[str] = set()
        self.pvc_refs: dict[str, int] = {}           # "ns/claim" -> pods using it (RWOP)
        self.affinity_pods: dict[str, PodInfo] = {}  # pods with any inter-pod (anti-)affinity
        self.anti_pods: dict[str, PodInfo] = {}      # pods with required anti-affinity

    # ---- nodes ---------------------------------------------------------------------------------
    def upsert_node(self, node: dict[str, Any]) -> bool:
        """Add or update a Node; True when the change may make pending pods schedulable."""
        name = node["metadata"]["name"]
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = NodeInfo(name)
        changed = ni.set_node(node)
        if ni.index < 0:
            ni.index = len(self.node_list)
            self.node_list.append(ni)
            changed = True
        return changed

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None:
            return
        if ni.index >= 0:
            last = self.node_list.pop()
            if last is not ni:
                self.node_list[ni.index] = last
                last.index = ni.index
            ni.index = -1
        ni.node = None
        if not ni.pods:
            del self.nodes[name]

    def num_nodes(self) -> int:
        return len(self.node_list)

    # ---- pods ----------------------------------------------------------------------------------
    def _add(self, p: PodInfo, node: str) -> None:
        ni = self.nodes.get(node)
        if ni is None:
            ni = self.nodes[node] = NodeInfo(node)  # pod seen before its node: keep it counted
        ni.add_pod(p)
        self.pod_nodes[p.key] = node
        for c in p.pvcs:
            self.pvc_refs[c] = self.pvc_refs.get(c, 0) + 1
        if p.affinity is not None:
            self.affinity_pods[p.key] = p
            if p.affinity.required_anti:
                self.anti_pods[p.key] = p

    def _remove(self, key: str) -> PodInfo | None:
        node = self.pod_nodes.pop(key, None)
        if node is None:
            return None
        ni = self.nodes.get(node)
        p = ni.remove_pod(key) if ni is not None else None
        if ni is not None and ni.node is None and not ni.pods:
            del self.nodes[node]
        if p is not None:
            for c in p.pvcs:
                n = self.pvc_refs.get(c, 0) - 1
                if n > 0:
                    self.pvc_refs[c] = n
                else:
                    self.pvc_refs.pop(c, None)
        self.affinity_pods.pop(key, None)
        self.anti_pods.pop(key, None)
        return p

    def set_pod(self, pod: dict[str, Any]) -> None:
        """An assigned pod was added or changed (also confirms an assumed pod)."""
        key = pod_key(pod)
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node or is_terminal(pod):
            self.remove_pod(key)
            return
        old_node = self.pod_nodes.get(key)
        old = self.nodes[old_node].pods.get(key) if old_node in self.nodes else None
        self.assumed.discard(key)
        if old is not None and old_node == node and old.uid == pod["metadata"].get("uid", ""):
            p = old.refreshed(pod)
            if p is not old and p.requests == old.requests and p.ports == old.ports and p.pvcs == old.pvcs \
                    and p.affinity is old.affinity:
                self.nodes[node].pods[key] = p  # same footprint: swap the record, aggregates unchanged
                if key in self.affinity_pods:
                    self.affinity_pods[key] = p
                if key in self.anti_pods:
                    self.anti_pods[key] = p
                return
        else:
            p = PodInfo(pod)
        self._remove(key)
        self._add(p, node)

    def remove_pod(self, key: str) -> None:
        self.assumed.discard(key)
        self._remove(key)

    def assume(self, p: PodInfo, node: str) -> None:
        """Count a pod on the node it was just given, before the binding is written."""
        self._remove(p.key)
        p.node_name = node
        self._add(p, node)
        self.assumed.add(p.key)

    def forget(self, key: str) -> None:
        """Undo assume() after a failed binding."""
        if key in self.assumed:
            self.assumed.discard(key)
            self._remove(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    def pvc_in_use(self, key: str) -> bool:
        return self.pvc_refs.get(key, 0) > 0

    def anti_affinity_pods(self) -> list[tuple[PodInfo, NodeInfo]]:
        out = []
        for key, p in self.anti_pods.items():
            ni = self.nodes.get(self.pod_nodes.get(key, ""))
            if ni is not None and ni.node is not None:
                out.append((p, ni))
        return out

    def nodes_with_affinity_pods(self) -> list[tuple[NodeInfo, list[PodInfo]]]:
        by_node: dict[str, list[PodInfo]] = {}
        for key, p in self.affinity_pods.items():
            by_node.setdefault(self.pod_nodes.get(key, ""), []).append(p)
        out = []
        for name, pods in by_node.items():
            ni = self.nodes.get(name)
            if ni is not None and ni.node is not None:
                out.append((ni, pods))
        return out

"""The default-profile plugins of kube-scheduler v1.32 as pure functions over plain dicts and the
cache's PodInfo / NodeInfo records: quantities, pod requests, tolerations, node affinity, filters,
scores and the upstream failure message ("0/3 nodes are available: ...").

Nothing here does I/O or touches asyncio, so every rule is unit-testable on its own and the scheduling
loop (scheduler.py) only wires them together. Each filter returns None (fits) or a Status whose reasons
are the exact upstream strings, because users and tools grep for them.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .cache import NodeInfo, PodInfo

MAX_NODE_SCORE = 100

# Status codes as in the upstream framework.
SUCCESS = 0
ERROR = 1
UNSCHEDULABLE = 2          # preemption might help
UNRESOLVABLE = 3           # UnschedulableAndUnresolvable: preemption cannot help

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_MILLI_CPU_REQUEST = 100                 # 0.1 core, for scoring pods that request nothing
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024      # 200 MiB

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"

# Plugin names (they also key the scheduling queue's "which event may help" table).
NODE_UNSCHEDULABLE = "NodeUnschedulable"
NODE_NAME = "NodeName"
TAINT_TOLERATION = "TaintToleration"
NODE_AFFINITY = "NodeAffinity"
NODE_PORTS = "NodePorts"
NODE_RESOURCES_FIT = "NodeResourcesFit"
VOLUME_RESTRICTIONS = "VolumeRestrictions"
VOLUME_BINDING = "VolumeBinding"
POD_TOPOLOGY_SPREAD = "PodTopologySpread"
INTER_POD_AFFINITY = "InterPodAffinity"
BALANCED_ALLOCATION = "NodeResourcesBalancedAllocation"

# Score plugin weights of the v1.32 default profile.
WEIGHT_TAINT = 3
WEIGHT_NODE_AFFINITY = 2
WEIGHT_FIT = 1
WEIGHT_BALANCED = 1
WEIGHT_SPREAD = 2
WEIGHT_INTER_POD = 2
HARD_POD_AFFINITY_WEIGHT = 1

# Upstream reason strings.
ERR_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_NODE_NAME = "node(s) didn't match the requested node name"
ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_AFFINITY_CONFLICT = "pod affinity terms conflict"
ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
ERR_TOO_MANY_PODS = "Too many pods"
ERR_DISK_CONFLICT = "node(s) had no available disk"
ERR_RWOP_CONFLICT = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_SPREAD = "node(s) didn't match pod topology spread constraints"
ERR_SPREAD_LABEL = ERR_SPREAD + " (missing required label)"
ERR_POD_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_NO_NODES = "no nodes available to schedule pods"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod"


class Status:
    """A plugin's verdict: code plus the reasons that go into the FailedScheduling message."""

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: int, reasons: Iterable[str] = (), plugin: str = "") -> None:
        self.code = code
        self.reasons = list(reasons)
        self.plugin = plugin

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def __repr__(self) -> str:
        return f"Status({self.code}, {self.reasons!r}, {self.plugin!r})"


# ---------------------------------------------------------------------------------------------------
# Quantities
# ---------------------------------------------------------------------------------------------------

_SUFFIX: dict[str, Fraction] = {
    "": Fraction(1), "n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000),
    "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9), "T": Fraction(10 ** 12),
    "P": Fraction(10 ** 15), "E": Fraction(10 ** 18),
    "Ki": Fraction(2 ** 10), "Mi": Fraction(2 ** 20), "Gi": Fraction(2 ** 30), "Ti": Fraction(2 ** 40),
    "Pi": Fraction(2 ** 50), "Ei": Fraction(2 ** 60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


@lru_cache(maxsize=8192)
def quantity(value: Any) -> Fraction:
    """resource.Quantity's exact value; unparsable input counts as zero (the API server validates)."""
    if isinstance(value, bool):
        return Fraction(0)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10 ** 9)
    m = _QUANTITY.match(str(value).strip())
    if not m:
        return Fraction(0)
    num = Fraction(m.group(1))
    suf = m.group(2) or ""
    if suf[:1] in ("e", "E") and suf not in _SUFFIX:
        return num * Fraction(10) ** int(suf[1:])
    return num * _SUFFIX[suf]


def milli_value(value: Any) -> int:
    """Quantity.MilliValue(): rounds up."""
    return math.ceil(quantity(value) * 1000)


def int_value(value: Any) -> int:
    """Quantity.Value(): rounds up."""
    return math.ceil(quantity(value))


# ---------------------------------------------------------------------------------------------------
# Pod requests, node allocatable, host ports
# ---------------------------------------------------------------------------------------------------

Vec = dict[str, int]  # resource name -> amount (cpu in millicores, everything else in units)


def _resource_amount(name: str, value: Any) -> int:
    return milli_value(value) if name == "cpu" else int_value(value)


def _container_requests(c: dict[str, Any]) -> Vec:
    res = c.get("resources") or {}
    req = res.get("requests") or {}
    lim = res.get("limits") or {}
    out: Vec = {}
    for k, v in req.items():
        out[k] = _resource_amount(k, v)
    for k, v in lim.items():  # defaulting copies limits into unset requests
        if k not in req:
            out[k] = _resource_amount(k, v)
    return out


def _with_defaults(v: Vec) -> Vec:
    out = dict(v)
    out.setdefault("cpu", DEFAULT_MILLI_CPU_REQUEST)
    out.setdefault("memory", DEFAULT_MEMORY_REQUEST)
    return out


def _add(a: Vec, b: Vec) -> None:
    for k, v in b.items():
        a[k] = a.get(k, 0) + v


def _max_into(a: Vec, b: Vec) -> None:
    for k, v in b.items():
        if v > a.get(k, 0):
            a[k] = v


def _pod_vec(spec: dict[str, Any], nonzero: bool) -> Vec:
    """resource.PodRequests: containers summed, init containers by the max rule (sidecars, i.e.
    restartable init containers, add up), plus spec.overhead."""
    total: Vec = {}
    for c in spec.get("containers") or ():
        r = _container_requests(c)
        _add(total, _with_defaults(r) if nonzero else r)
    init_max: Vec = {}
    sidecars: Vec = {}
    for c in spec.get("initContainers") or ():
        r = _container_requests(c)
        if nonzero:
            r = _with_defaults(r)
        if c.get("restartPolicy") == "Always":
            _add(total, r)
            _add(sidecars, r)
            cur = dict(sidecars)
        else:
            cur = dict(r)
            _add(cur, sidecars)
        _max_into(init_max, cur)
    _max_into(total, init_max)
    for k, v in (spec.get("overhead") or {}).items():
        total[k] = total.get(k, 0) + _resource_amount(k, v)
    return total


def pod_requests(pod: dict[str, Any]) -> tuple[Vec, int, int]:
    """(requests used by the fit filter, non-zero cpu, non-zero memory used by the scores)."""
    spec = pod.get("spec") or {}
    req = _pod_vec(spec, False)
    nz = _pod_vec(spec, True)
    req.pop("pods", None)
    return req, nz.get("cpu", 0), nz.get("memory", 0)


def node_allocatable(node: dict[str, Any]) -> tuple[Vec, int]:
    """(allocatable resources, allowed pod count) from node.status.allocatable."""
    alloc = (node.get("status") or {}).get("allocatable") or {}
    out: Vec = {}
    pods = 0
    for k, v in alloc.items():
        if k == "pods":
            pods = int_value(v)
        else:
            out[k] = _resource_amount(k, v)
    return out, pods


HostPort = tuple[str, str, int]  # ip, protocol, port


def pod_host_ports(pod: dict[str, Any]) -> list[HostPort]:
    """Host ports a pod claims on its node (containers and sidecar init containers)."""
    spec = pod.get("spec") or {}
    out: list[HostPort] = []
    conts = list(spec.get("containers") or ())
    conts += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in conts:
        for p in c.get("ports") or ():
            hp = p.get("hostPort") or 0
            if hp > 0:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return out


def ports_conflict(used: dict[tuple[str, int], dict[str, int]], wanted: list[HostPort]) -> bool:
    """HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every IP for the same protocol/port."""
    for ip, proto, port in wanted:
        ips = used.get((proto, port))
        if not ips:
            continue
        if ip == "0.0.0.0" or "0.0.0.0" in ips or ip in ips:
            return True
    return False


def pod_pvc_names(pod: dict[str, Any]) -> list[str]:
    """Claim names a pod uses: persistentVolumeClaim volumes and generic ephemeral volumes."""
    out = []
    name = pod["metadata"].get("name", "")
    for v in (pod.get("spec") or {}).get("volumes") or ():
        pvc = v.get("persistentVolumeClaim")
        if pvc is not None:
            out.append(pvc.get("claimName", ""))
        elif v.get("ephemeral") is not None:
            out.append(f"{name}-{v.get('name', '')}")
    return out


def pod_priority(pod: dict[str, Any]) -> int:
    p = (pod.get("spec") or {}).get("priority")
    return int(p) if isinstance(p, int) else 0


# ---------------------------------------------------------------------------------------------------
# Tolerations and taints
# ---------------------------------------------------------------------------------------------------

Toleration = tuple[str, str, str, str]  # key, operator, value, effect
Taint = tuple[str, str, str]            # key, value, effect


def compile_tolerations(pod: dict[str, Any]) -> list[Toleration]:
    return [(t.get("key") or "", t.get("operator") or "Equal", t.get("value") or "", t.get("effect") or "")
            for t in (pod.get("spec") or {}).get("tolerations") or ()]


def node_taints(node: dict[str, Any]) -> list[Taint]:
    return [(t.get("key") or "", t.get("value") or "", t.get("effect") or "")
            for t in (node.get("spec") or {}).get("taints") or ()]


def tolerates(tol: Toleration, taint: Taint) -> bool:
    """Toleration.ToleratesTaint."""
    key, op, value, effect = tol
    if effect and effect != taint[2]:
        return False
    if key and key != taint[0]:
        return False
    if op == "Exists":
        return True
    if op == "Equal":
        return value == taint[1]
    return False


def tolerated(tols: list[Toleration], taint: Taint) -> bool:
    for t in tols:
        if tolerates(t, taint):
            return True
    return False


def first_untolerated(taints: list[Taint], tols: list[Toleration]) -> Taint | None:
    for taint in taints:
        if not tolerated(tols, taint):
            return taint
    return None


# ---------------------------------------------------------------------------------------------------
# Node selectors (nodeSelector, node affinity, PV node affinity)
# ---------------------------------------------------------------------------------------------------

class _Invalid(Exception):
    pass


def _compile_expr(e: dict[str, Any]) -> tuple[str, str, Any]:
    key = e.get("key") or ""
    op = e.get("operator") or ""
    vals = list(e.get("values") or ())
    if op in ("In", "NotIn"):
        if not vals:
            raise _Invalid(key)
        return key, op, frozenset(vals)
    if op in ("Exists", "DoesNotExist"):
        if vals:
            raise _Invalid(key)
        return key, op, None
    if op in ("Gt", "Lt"):
        if len(vals) != 1:
            raise _Invalid(key)
        try:
            return key, op, int(vals[0])
        except ValueError:
            raise _Invalid(key) from None
    raise _Invalid(op)


def _match_expr(req: tuple[str, str, Any], labels: dict[str, str]) -> bool:
    key, op, arg = req
    if op == "In":
        v = labels.get(key)
        return v is not None and v in arg
    if op == "NotIn":
        v = labels.get(key)
        return v is None or v not in arg
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    v = labels.get(key)
    if v is None:
        return False
    try:
        n = int(v)
    except ValueError:
        return False
    return n > arg if op == "Gt" else n < arg


class NodeSelectorTerm:
    """A compiled NodeSelectorTerm: matchExpressions on labels AND matchFields on metadata.name."""

    __slots__ = ("exprs", "fields")

    def __init__(self, exprs: list[tuple[str, str, Any]], fields: list[tuple[str, str]]) -> None:
        self.exprs = exprs
        self.fields = fields

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        for r in self.exprs:
            if not _match_expr(r, labels):
                return False
        for op, val in self.fields:
            if (name == val) != (op == "In"):
                return False
        return True


def compile_term(term: dict[str, Any] | None) -> NodeSelectorTerm | None:
    """None for a term that matches nothing (empty, or invalid as upstream's parser sees it)."""
    if not term:
        return None
    exprs_raw = term.get("matchExpressions") or []
    fields_raw = term.get("matchFields") or []
    if not exprs_raw and not fields_raw:
        return None
    try:
        exprs = [_compile_expr(e) for e in exprs_raw]
        fields = []
        for f in fields_raw:
            vals = f.get("values") or []
            if f.get("key") != "metadata.name" or f.get("operator") not in ("In", "NotIn") or len(vals) != 1:
                raise _Invalid("field")
            fields.append((f["operator"], vals[0]))
    except _Invalid:
        return None
    return NodeSelectorTerm(exprs, fields)


def compile_terms(terms: list[dict[str, Any]] | None) -> list[NodeSelectorTerm]:
    return [t for t in (compile_term(x) for x in terms or ()) if t is not None]


def match_node_selector(selector: dict[str, Any] | None, name: str, labels: dict[str, str]) -> bool:
    """A v1.NodeSelector (ORed terms); no terms matches nothing."""
    if selector is None:
        return True
    for t in compile_terms(selector.get("nodeSelectorTerms")):
        if t.matches(name, labels):
            return True
    return False


class RequiredNodeAffinity:
    """nodeSelector AND requiredDuringSchedulingIgnoredDuringExecution, compiled once per pod."""

    __slots__ = ("selector", "terms", "empty")

    def __init__(self, pod: dict[str, Any]) -> None:
        spec = pod.get("spec") or {}
        self.selector: list[tuple[str, str]] = sorted((spec.get("nodeSelector") or {}).items())
        na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.terms: list[NodeSelectorTerm] | None = None
        if req is not None:
            self.terms = compile_terms(req.get("nodeSelectorTerms"))
        self.empty = not self.selector and self.terms is None

    def match(self, name: str, labels: dict[str, str]) -> bool:
        for k, v in self.selector:
            if labels.get(k) != v:
                return False
        if self.terms is None:
            return True
        for t in self.terms:
            if t.matches(name, labels):
                return True
        return False


def node_affinity_prefilter(pod: dict[str, Any]) -> tuple[set[str] | None, Status | None]:
    """NodeAffinity PreFilter: a required term pinning metadata.name (the DaemonSet case) narrows the
    nodes to evaluate. Returns (node names or None for all, rejection status)."""
    na = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not req:
        return None, None
    names: set[str] | None = None
    for t in req.get("nodeSelectorTerms") or ():
        term_names: set[str] | None = None
        for f in (t or {}).get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In":
                s = set(f.get("values") or ())
                term_names = s if term_names is None else term_names & s
        if term_names is None:
            return None, None
        names = term_names if names is None else names | term_names
    if names is not None and not names:
        return None, Status(UNRESOLVABLE, [ERR_AFFINITY_CONFLICT], NODE_AFFINITY)
    return names, None


def preferred_node_terms(pod: dict[str, Any]) -> list[tuple[int, NodeSelectorTerm]]:
    na = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    out = []
    for p in na.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
        w = p.get("weight") or 0
        if w == 0:
            continue
        t = compile_term(p.get("preference"))
        if t is not None:
            out.append((int(w), t))
    return out


# ---------------------------------------------------------------------------------------------------
# Label selectors (metav1.LabelSelector), compiled to requirement lists
# ---------------------------------------------------------------------------------------------------

LabelReq = tuple[str, str, frozenset | None]


class LabelSelector:
    """A compiled metav1.LabelSelector. nothing=True is a nil selector (matches nothing)."""

    __slots__ = ("reqs", "nothing")

    def __init__(self, reqs: list[LabelReq], nothing: bool = False) -> None:
        self.reqs = reqs
        self.nothing = nothing

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.reqs

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        for key, op, vals in self.reqs:
            v = labels.get(key)
            if op == "In":
                if v is None or v not in vals:
                    return False
            elif op == "NotIn":
                if v is not None and v in vals:
                    return False
            elif op == "Exists":
                if v is None:
                    return False
            elif op == "DoesNotExist":
                if v is not None:
                    return False
        return True

    def add(self, reqs: list[LabelReq]) -> LabelSelector:
        return LabelSelector(self.reqs + reqs, self.nothing)


def compile_label_selector(sel: dict[str, Any] | None) -> LabelSelector:
    if sel is None:
        return LabelSelector([], nothing=True)
    reqs: list[LabelReq] = [(k, "In", frozenset((v,))) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or ():
        op = e.get("operator")
        if op in ("In", "NotIn"):
            reqs.append((e.get("key") or "", op, frozenset(e.get("values") or ())))
        elif op in ("Exists", "DoesNotExist"):
            reqs.append((e.get("key") or "", op, None))
        else:
            return LabelSelector([], nothing=True)
    return LabelSelector(reqs)


def selector_from_map(m: dict[str, str] | None) -> LabelSelector:
    """labels.SelectorFromSet (Service selectors): an empty map selects everything."""
    return LabelSelector([(k, "In", frozenset((v,))) for k, v in sorted((m or {}).items())])


# ---------------------------------------------------------------------------------------------------
# Filters (one node each). They take the per-pod prepared state and the node's cache record.
# ---------------------------------------------------------------------------------------------------

UNSCHEDULABLE_TAINT: Taint = (TAINT_UNSCHEDULABLE, "", "NoSchedule")


def filter_node_unschedulable(tols: list[Toleration], node: NodeInfo) -> Status | None:
    if node.unschedulable and not tolerated(tols, UNSCHEDULABLE_TAINT):
        return Status(UNRESOLVABLE, [ERR_UNSCHEDULABLE], NODE_UNSCHEDULABLE)
    return None


def filter_node_name(pod: dict[str, Any], node: NodeInfo) -> Status | None:
    want = (pod.get("spec") or {}).get("nodeName")
    if want and want != node.name:
        return Status(UNRESOLVABLE, [ERR_NODE_NAME], NODE_NAME)
    return None


def filter_taint_toleration(tols: list[Toleration], node: NodeInfo) -> Status | None:
    taint = first_untolerated(node.hard_taints, tols)
    if taint is None:
        return None
    return Status(UNRESOLVABLE, [f"node(s) had untolerated taint {{{taint[0]}: {taint[1]}}}"], TAINT_TOLERATION)


def filter_node_affinity(aff: RequiredNodeAffinity, node: NodeInfo) -> Status | None:
    if aff.empty or aff.match(node.name, node.labels):
        return None
    return Status(UNRESOLVABLE, [ERR_NODE_AFFINITY], NODE_AFFINITY)


def filter_node_ports(ports: list[HostPort], node: NodeInfo) -> Status | None:
    if ports and ports_conflict(node.used_ports, ports):
        return Status(UNSCHEDULABLE, [ERR_NODE_PORTS], NODE_PORTS)
    return None


def insufficient_resources(req: Vec, node: NodeInfo) -> list[str]:
    """fitsRequest: every resource the pod requests must fit into allocatable minus requested."""
    other = tuple((k, v) for k, v in req.items() if k not in ("cpu", "memory", "ephemeral-storage") and v)
    return fit_reasons(req.get("cpu", 0), req.get("memory", 0), req.get("ephemeral-storage", 0), other, node)


def fit_reasons(cpu: int, mem: int, eph: int, other: tuple[tuple[str, int], ...], node: NodeInfo) -> list[str]:
    """insufficient_resources on pre-split requests (the scheduling loop's form)."""
    out: list[str] = []
    if len(node.pods) + 1 > node.allowed_pods:
        out.append(ERR_TOO_MANY_PODS)
    if cpu > 0 and cpu > node.a_cpu - node.r_cpu:
        out.append("Insufficient cpu")
    if mem > 0 and mem > node.a_mem - node.r_mem:
        out.append("Insufficient memory")
    if eph > 0 and eph > node.a_eph - node.r_eph:
        out.append("Insufficient ephemeral-storage")
    if other:
        alloc = node.allocatable
        used = node.requested
        for name, r in other:
            if r > alloc.get(name, 0) - used.get(name, 0):
                out.append(f"Insufficient {name}")
    return out


def filter_resources_fit(req: Vec, node: NodeInfo) -> Status | None:
    reasons = insufficient_resources(req, node)
    if reasons:
        return Status(UNSCHEDULABLE, reasons, NODE_RESOURCES_FIT)
    return None


# ---- VolumeRestrictions ---------------------------------------------------------------------------

def _disk_conflict(v: dict[str, Any], other: dict[str, Any]) -> bool:
    for ev in (other.get("spec") or {}).get("volumes") or ():
        a, b = v.get("gcePersistentDisk"), ev.get("gcePersistentDisk")
        if a and b and a.get("pdName") == b.get("pdName") and not (a.get("readOnly") and b.get("readOnly")):
            return True
        a, b = v.get("awsElasticBlockStore"), ev.get("awsElasticBlockStore")
        if a and b and a.get("volumeID") == b.get("volumeID"):
            return True
        a, b = v.get("iscsi"), ev.get("iscsi")
        if a and b and a.get("iqn") == b.get("iqn") and not (a.get("readOnly") and b.get("readOnly")):
            return True
        a, b = v.get("rbd"), ev.get("rbd")
        if a and b and set(a.get("monitors") or ()) & set(b.get("monitors") or ()) \
                and (a.get("pool") or "rbd") == (b.get("pool") or "rbd") and a.get("image") == b.get("image") \
                and not (a.get("readOnly") and b.get("readOnly")):
            return True
    return False


def conflict_volumes(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's volumes that can conflict with another pod's on the same node (GCE PD, EBS, iSCSI, RBD)."""
    return [v for v in (pod.get("spec") or {}).get("volumes") or ()
            if v.get("gcePersistentDisk") or v.get("awsElasticBlockStore") or v.get("iscsi") or v.get("rbd")]


def filter_volume_restrictions(vols: list[dict[str, Any]], rwop_conflicts: int, node: NodeInfo) -> Status | None:
    if vols:
        for other in node.pods.values():
            for v in vols:
                if _disk_conflict(v, other.pod):
                    return Status(UNSCHEDULABLE, [ERR_DISK_CONFLICT], VOLUME_RESTRICTIONS)
    if rwop_conflicts > 0:
        return Status(UNSCHEDULABLE, [ERR_RWOP_CONFLICT], VOLUME_RESTRICTIONS)
    return None


# ---- VolumeBinding ----------------------------------------------------------------------------------

class VolumeView:
    """Read access the volume plugins need: claims, volumes and classes (informer caches plus the
    scheduler's in-flight assumptions). The scheduler provides a live implementation."""

    def pvc(self, namespace: str, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def pv(self, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def storage_class(self, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def pvs_for_class(self, class_name: str) -> list[dict[str, Any]]:
        raise NotImplementedError


def claim_class(pvc: dict[str, Any]) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation wins over spec.storageClassName."""
    ann = pvc["metadata"].get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


def volume_class(pv: dict[str, Any]) -> str:
    ann = pv["metadata"].get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (pv.get("spec") or {}).get("storageClassName") or ""


def claim_fully_bound(pvc: dict[str, Any]) -> bool:
    """Bound as the PV controller finishes it: volumeName set and bind-completed (or phase Bound)."""
    if not (pvc.get("spec") or {}).get("volumeName"):
        return False
    ann = pvc["metadata"].get("annotations") or {}
    return ANN_BIND_COMPLETED in ann or (pvc.get("status") or {}).get("phase") == "Bound"


def check_pv_node_affinity(pv: dict[str, Any], labels: dict[str, str]) -> bool:
    """volume.CheckNodeAffinity: the PV's required node selector against the node's labels."""
    na = (pv.get("spec") or {}).get("nodeAffinity") or {}
    req = na.get("required")
    if req is None:
        return True
    return match_node_selector(req, "", labels)


def volume_bound_to_claim(pv: dict[str, Any], pvc: dict[str, Any]) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    md = pvc["metadata"]
    if ref.get("name") != md.get("name") or ref.get("namespace") != md.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == md.get("uid")


def _storage_request(obj_spec: dict[str, Any], where: str) -> Fraction:
    if where == "pvc":
        return quantity(((obj_spec.get("resources") or {}).get("requests") or {}).get("storage", 0))
    return quantity((obj_spec.get("capacity") or {}).get("storage", 0))


def find_matching_volume(pvc: dict[str, Any], pvs: Iterable[dict[str, Any]], node_labels: dict[str, str] | None,
                         excluded: set[str] | dict[str, Any]) -> dict[str, Any] | None:
    """volume.FindMatchingVolume on the scheduler path: the PV pre-bound to this claim, else the
    smallest Available PV of the claim's class that fits size, mode, selector, access modes and node."""
    spec = pvc.get("spec") or {}
    want = _storage_request(spec, "pvc")
    want_class = claim_class(pvc)
    want_mode = spec.get("volumeMode") or "Filesystem"
    want_modes = spec.get("accessModes") or []
    sel = compile_label_selector(spec["selector"]) if spec.get("selector") is not None else None
    best = None
    best_size: Fraction | None = None
    for pv in pvs:
        name = pv["metadata"]["name"]
        if name in excluded:
            continue
        pspec = pv.get("spec") or {}
        if pspec.get("claimRef") and not volume_bound_to_claim(pv, pvc):
            continue
        size = _storage_request(pspec, "pv")
        if size < want:
            continue
        if (pspec.get("volumeMode") or "Filesystem") != want_mode:
            continue
        if pv["metadata"].get("deletionTimestamp"):
            continue
        affinity_ok = node_labels is None or check_pv_node_affinity(pv, node_labels)
        if volume_bound_to_claim(pv, pvc):
            return pv if affinity_ok else None
        if (pv.get("status") or {}).get("phase") != "Available":
            continue
        if sel is not None and not sel.matches(pv["metadata"].get("labels")):
            continue
        if volume_class(pv) != want_class:
            continue
        if not affinity_ok:
            continue
        have_modes = pspec.get("accessModes") or []
        if any(m not in have_modes for m in want_modes):
            continue
        if best is None or best_size > size:
            best, best_size = pv, size
    return best


class VolumeState:
    """VolumeBinding PreFilter result for one pod."""

    __slots__ = ("bound", "delayed", "pvs_by_class", "eligible_nodes")

    def __init__(self) -> None:
        self.bound: list[dict[str, Any]] = []           # fully bound claims
        self.delayed: list[dict[str, Any]] = []         # unbound WaitForFirstConsumer claims
        self.pvs_by_class: dict[str, list[dict[str, Any]]] = {}
        self.eligible_nodes: set[str] | None = None


class PodVolumes:
    """What binding the pod's volumes to a chosen node takes."""

    __slots__ = ("static", "provision")

    def __init__(self) -> None:
        self.static: list[tuple[dict[str, Any], dict[str, Any]]] = []   # (claim, volume) to pre-bind
        self.provision: list[dict[str, Any]] = []                        # claims to mark selected-node

    @property
    def empty(self) -> bool:
        return not self.static and not self.provision


def _local_pv_node_names(pv: dict[str, Any]) -> set[str] | None:
    """Node names a PV is pinned to through kubernetes.io/hostname In [...] (None: not pinned)."""
    req = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not req:
        return None
    names: set[str] = set()
    for t in req.get("nodeSelectorTerms") or ():
        term_names: set[str] | None = None
        for e in (t or {}).get("matchExpressions") or ():
            if e.get("key") == LABEL_HOSTNAME and e.get("operator") == "In":
                s = set(e.get("values") or ())
                term_names = s if term_names is None else term_names & s
        if term_names is None:
            return None
        names |= term_names
    return names


def _claim_for_volume(pod: dict[str, Any], v: dict[str, Any], view: VolumeView,
                      ) -> tuple[dict[str, Any] | None, str | None, bool]:
    """(claim, error message, is a claim volume) for one pod volume."""
    md = pod["metadata"]
    if v.get("persistentVolumeClaim") is not None:
        name = v["persistentVolumeClaim"].get("claimName", "")
        ephemeral = False
    elif v.get("ephemeral") is not None:
        name = f"{md.get('name', '')}-{v.get('name', '')}"
        ephemeral = True
    else:
        return None, None, False
    pvc = view.pvc(md.get("namespace", ""), name)
    if pvc is None:
        if ephemeral:
            return None, f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"', True
        return None, f'persistentvolumeclaim "{name}" not found', True
    if (pvc.get("status") or {}).get("phase") == "Lost":
        return None, (f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                      f'"{(pvc.get("spec") or {}).get("volumeName", "")}"'), True
    if pvc["metadata"].get("deletionTimestamp"):
        return None, f'persistentvolumeclaim "{name}" is being deleted', True
    if ephemeral:
        owner = next((r for r in pvc["metadata"].get("ownerReferences") or () if r.get("controller")), None)
        if owner is None or owner.get("uid") != md.get("uid"):
            return None, (f"PVC {pvc['metadata'].get('namespace')}/{name} was not created for pod "
                          f"{md.get('namespace')}/{md.get('name')} (pod is not owner)"), True
    return pvc, None, True


def is_delay_binding(pvc: dict[str, Any], view: VolumeView) -> tuple[bool, str | None]:
    """volume.IsDelayBindingMode: WaitForFirstConsumer class. Unknown class means immediate."""
    name = claim_class(pvc)
    if not name:
        return False, None
    sc = view.storage_class(name)
    if sc is None:
        return False, None
    mode = sc.get("volumeBindingMode")
    if mode is None:
        return False, f'VolumeBindingMode not set for StorageClass "{name}"'
    return mode == "WaitForFirstConsumer", None


def volume_restrictions_prefilter(pod: dict[str, Any], view: VolumeView,
                                  pvc_in_use: Callable[[str], bool]) -> tuple[int, Status | None]:
    """ReadWriteOncePod: how many of the pod's RWOP claims other pods already use."""
    ns = pod["metadata"].get("namespace", "")
    conflicts = 0
    for v in (pod.get("spec") or {}).get("volumes") or ():
        ref = v.get("persistentVolumeClaim")
        if ref is None:
            continue
        name = ref.get("claimName", "")
        pvc = view.pvc(ns, name)
        if pvc is None:
            return 0, Status(UNRESOLVABLE, [f'persistentvolumeclaim "{name}" not found'], VOLUME_RESTRICTIONS)
        if "ReadWriteOncePod" in ((pvc.get("spec") or {}).get("accessModes") or ()):
            if pvc_in_use(f"{ns}/{name}"):
                conflicts += 1
    return conflicts, None


def volume_binding_prefilter(pod: dict[str, Any], view: VolumeView) -> tuple[VolumeState | None, Status | None]:
    """Sort the pod's claims into bound / delayed (WaitForFirstConsumer) / unbound immediate.
    Returns (None, None) when the pod has no claims (the plugin is skipped)."""
    has = False
    vols = (pod.get("spec") or {}).get("volumes") or ()
    claims: list[dict[str, Any]] = []
    for v in vols:
        pvc, err, is_claim = _claim_for_volume(pod, v, view)
        has = has or is_claim
        if err is not None:
            return None, Status(UNRESOLVABLE, [err], VOLUME_BINDING)
        if pvc is not None:
            claims.append(pvc)
    if not has:
        return None, None
    st = VolumeState()
    immediate = False
    for pvc in claims:
        if claim_fully_bound(pvc):
            st.bound.append(pvc)
            continue
        delay, err = is_delay_binding(pvc, view)
        if err is not None:
            return None, Status(ERROR, [err], VOLUME_BINDING)
        if delay and not (pvc.get("spec") or {}).get("volumeName"):
            st.delayed.append(pvc)
        else:
            immediate = True
    if immediate:
        return None, Status(UNRESOLVABLE, [ERR_UNBOUND_IMMEDIATE], VOLUME_BINDING)
    for pvc in st.delayed:
        cls = claim_class(pvc)
        if cls not in st.pvs_by_class:
            # find_matching_volume skips a PV bound to another claim on every node; dropping those once
            # per pod keeps the per-node filter from scanning every bound PV of the class again.
            st.pvs_by_class[cls] = [pv for pv in view.pvs_for_class(cls)
                                    if not (pv.get("spec") or {}).get("claimRef")
                                    or any(volume_bound_to_claim(pv, c) for c in st.delayed)]
    eligible: set[str] | None = None
    for pvc in st.bound:
        pv = view.pv((pvc.get("spec") or {}).get("volumeName", ""))
        if pv is None:
            eligible = None
            break
        names = _local_pv_node_names(pv)
        if names is None:
            eligible = None
            break
        eligible = names if eligible is None else eligible & names
    st.eligible_nodes = eligible
    return st, None


def _match_topology_terms(terms: list[dict[str, Any]] | None, labels: dict[str, str]) -> bool:
    """v1helper.MatchTopologySelectorTerms (StorageClass allowedTopologies)."""
    if not terms:
        return True
    for t in terms:
        ok = True
        for e in t.get("matchLabelExpressions") or ():
            if labels.get(e.get("key")) not in (e.get("values") or ()):
                ok = False
                break
        if ok:
            return True
    return False


def filter_volume_binding(state: VolumeState, node: NodeInfo, view: VolumeView,
                          assumed_pvs: dict[str, str] | None = None,
                          ) -> tuple[Status | None, PodVolumes | None]:
    """FindPodVolumes: bound claims' PVs must accept the node; unbound WaitForFirstConsumer claims need
    a matching Available PV on the node or a class that can provision there."""
    out = PodVolumes()
    bound_ok = True
    pv_found = True
    unbound_ok = True
    for pvc in state.bound:
        pv = view.pv((pvc.get("spec") or {}).get("volumeName", ""))
        if pv is None:
            pv_found = False
            break
        if not check_pv_node_affinity(pv, node.labels):
            bound_ok = False
            break
    if state.delayed and bound_ok and pv_found:
        to_match = []
        to_provision = []
        for pvc in state.delayed:
            sel = (pvc["metadata"].get("annotations") or {}).get(ANN_SELECTED_NODE)
            if sel is not None:
                if sel != node.name:  # fast path: the claim is already promised to another node
                    return Status(UNRESOLVABLE, [ERR_BIND_CONFLICT], VOLUME_BINDING), None
                to_provision.append(pvc)
            else:
                to_match.append(pvc)
        if to_match:
            chosen: dict[str, Any] = {}
            if assumed_pvs:
                chosen.update(assumed_pvs)
            for pvc in sorted(to_match, key=lambda c: _storage_request(c.get("spec") or {}, "pvc")):
                key = f"{pvc['metadata'].get('namespace')}/{pvc['metadata']['name']}"
                excl = {n for n, owner in chosen.items() if owner != key}
                pv = find_matching_volume(pvc, state.pvs_by_class.get(claim_class(pvc), ()), node.labels, excl)
                if pv is None:
                    to_provision.append(pvc)
                    unbound_ok = False
                    continue
                chosen[pv["metadata"]["name"]] = key
                out.static.append((pvc, pv))
        if to_provision:
            prov_ok = True
            for pvc in to_provision:
                cls = claim_class(pvc)
                sc = view.storage_class(cls) if cls else None
                if sc is None:
                    return Status(ERROR, [f'failed to find storage class "{cls}"' if cls else
                                          f"no class for claim \"{pvc['metadata'].get('namespace')}/"
                                          f"{pvc['metadata']['name']}\""], VOLUME_BINDING), None
                prov = sc.get("provisioner") or ""
                if not prov or prov == NOT_SUPPORTED_PROVISIONER or \
                        not _match_topology_terms(sc.get("allowedTopologies"), node.labels):
                    prov_ok = False
                    break
                out.provision.append(pvc)
            unbound_ok = prov_ok
    reasons = []
    if not bound_ok:
        reasons.append(ERR_VOLUME_NODE_CONFLICT)
    if not unbound_ok:
        reasons.append(ERR_BIND_CONFLICT)
    if not pv_found:
        reasons.append(ERR_PV_NOT_EXIST)
    if reasons:
        return Status(UNRESOLVABLE, reasons, VOLUME_BINDING), None
    return None, out


# ---- PodTopologySpread ------------------------------------------------------------------------------

class SpreadConstraint:
    __slots__ = ("max_skew", "key", "selector", "min_domains", "honor_affinity", "honor_taints")

    def __init__(self, max_skew: int, key: str, selector: LabelSelector, min_domains: int = 1,
                 honor_affinity: bool = True, honor_taints: bool = False) -> None:
        self.max_skew = max_skew
        self.key = key
        self.selector = selector
        self.min_domains = min_domains
        self.honor_affinity = honor_affinity
        self.honor_taints = honor_taints


DEFAULT_SPREAD = ((3, LABEL_HOSTNAME), (5, LABEL_ZONE))  # system default constraints (ScheduleAnyway)


def pod_spread_constraints(pod: dict[str, Any], action: str) -> list[SpreadConstraint]:
    """The pod's own topologySpreadConstraints with the given whenUnsatisfiable, matchLabelKeys merged."""
    labels = pod["metadata"].get("labels") or {}
    out = []
    for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or ():
        if (c.get("whenUnsatisfiable") or "DoNotSchedule") != action:
            continue
        sel = compile_label_selector(c.get("labelSelector"))
        extra: list[LabelReq] = []
        for k in c.get("matchLabelKeys") or ():
            if k in labels:
                extra.append((k, "In", frozenset((labels[k],))))
        if extra:
            sel = sel.add(extra)
        out.append(SpreadConstraint(int(c.get("maxSkew") or 1), c.get("topologyKey") or "", sel,
                                    int(c.get("minDomains") or 1),
                                    (c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                                    (c.get("nodeTaintsPolicy") or "Ignore") == "Honor"))
    return out


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    """countPodsMatchSelector: non-terminating pods of the namespace on the node matching selector."""
    if selector.empty or selector.nothing:
        return 0
    n = 0
    for p in node.pods.values():
        if p.deleting or p.namespace != namespace:
            continue
        if selector.matches(p.labels):
            n += 1
    return n


def node_included(c: SpreadConstraint, aff: RequiredNodeAffinity, tols: list[Toleration], node: NodeInfo) -> bool:
    """matchNodeInclusionPolicies (nodeAffinityPolicy Honor by default, nodeTaintsPolicy Ignore)."""
    if c.honor_affinity and not aff.empty and not aff.match(node.name, node.labels):
        return False
    if c.honor_taints and first_untolerated(node.hard_taints, tols) is not None:
        return False
    return True


class SpreadFilterState:
    __slots__ = ("constraints", "counts", "domains", "minimum")

    def __init__(self, constraints: list[SpreadConstraint]) -> None:
        self.constraints = constraints
        self.counts: dict[tuple[str, str], int] = {}
        self.domains: dict[str, int] = {}
        self.minimum: dict[str, int] = {}


def spread_prefilter(pod: dict[str, Any], aff: RequiredNodeAffinity, tols: list[Toleration],
                     all_nodes: Iterable[NodeInfo]) -> SpreadFilterState | None:
    """Count matching pods per topology domain over every eligible node (DoNotSchedule constraints)."""
    cons = pod_spread_constraints(pod, "DoNotSchedule")
    if not cons:
        return None
    st = SpreadFilterState(cons)
    ns = pod["metadata"].get("namespace", "")
    counts = st.counts
    for node in all_nodes:
        labels = node.labels
        if any(c.key not in labels for c in cons):
            continue
        for c in cons:
            if not node_included(c, aff, tols, node):
                continue
            pair = (c.key, labels[c.key])
            counts[pair] = counts.get(pair, 0) + count_matching(node, c.selector, ns)
    for (key, _v), n in counts.items():
        st.domains[key] = st.domains.get(key, 0) + 1
        if key not in st.minimum or n < st.minimum[key]:
            st.minimum[key] = n
    return st


def filter_pod_topology_spread(st: SpreadFilterState | None, pod_labels: dict[str, str],
                               node: NodeInfo) -> Status | None:
    if st is None:
        return None
    for c in st.constraints:
        val = node.labels.get(c.key)
        if val is None:
            return Status(UNRESOLVABLE, [ERR_SPREAD_LABEL], POD_TOPOLOGY_SPREAD)
        minimum = st.minimum.get(c.key, 0)
        if c.min_domains > st.domains.get(c.key, 0):
            minimum = 0
        self_match = 1 if c.selector.matches(pod_labels) else 0
        if st.counts.get((c.key, val), 0) + self_match - minimum > c.max_skew:
            return Status(UNSCHEDULABLE, [ERR_SPREAD], POD_TOPOLOGY_SPREAD)
    return None


def default_spread_selector(pod: dict[str, Any], services: Iterable[dict[str, Any]],
                            owner_selector: dict[str, Any] | None) -> LabelSelector:
    """helper.DefaultSelector: selectors of the Services selecting the pod, plus its ReplicaSet's or
    StatefulSet's selector."""
    labels = pod["metadata"].get("labels") or {}
    merged: dict[str, str] = {}
    for svc in services:
        sel = (svc.get("spec") or {}).get("selector")
        if not sel:
            continue
        if all(labels.get(k) == v for k, v in sel.items()):
            merged.update(sel)
    out = selector_from_map(merged)
    if owner_selector is not None:
        other = compile_label_selector(owner_selector)
        if not other.nothing:
            out = out.add(other.reqs)
    return out


class SpreadScoreState:
    __slots__ = ("constraints", "weights", "pair_counts", "ignored", "namespace")

    def __init__(self) -> None:
        self.constraints: list[SpreadConstraint] = []
        self.weights: list[float] = []
        self.pair_counts: dict[tuple[str, str], int] = {}
        self.ignored: set[str] = set()
        self.namespace = ""


def spread_prescore(pod: dict[str, Any], constraints: list[SpreadConstraint], require_all: bool,
                    aff: RequiredNodeAffinity, tols: list[Toleration], filtered: list[NodeInfo],
                    all_nodes: Iterable[NodeInfo]) -> SpreadScoreState | None:
    """PodTopologySpread PreScore: domain sizes over the feasible nodes, pod counts per non-hostname
    domain over all nodes. None when there is nothing to score."""
    if not constraints:
        return None
    st = SpreadScoreState()
    st.constraints = constraints
    st.namespace = pod["metadata"].get("namespace", "")
    sizes = [0] * len(constraints)
    pairs: dict[tuple[str, str], int] = {}
    for node in filtered:
        if require_all and any(c.key not in node.labels for c in constraints):
            st.ignored.add(node.name)
            continue
        for i, c in enumerate(constraints):
            if c.key == LABEL_HOSTNAME:
                continue
            # Only domains some feasible node has the label for are ever read by Score.
            if c.key not in node.labels:
                continue
            pair = (c.key, node.labels[c.key])
            if pair not in pairs:
                pairs[pair] = 0
                sizes[i] += 1
    for i, c in enumerate(constraints):
        sz = sizes[i]
        if c.key == LABEL_HOSTNAME:
            sz = len(filtered) - len(st.ignored)
        st.weights.append(math.log(sz + 2))
    if pairs:
        for node in all_nodes:
            if require_all and any(c.key not in node.labels for c in constraints):
                continue
            for c in constraints:
                if c.key == LABEL_HOSTNAME:
                    continue
                pair = (c.key, node.labels.get(c.key, ""))
                if pair not in pairs or not node_included(c, aff, tols, node):
                    continue
                pairs[pair] += count_matching(node, c.selector, st.namespace)
    st.pair_counts = pairs
    return st


def score_pod_topology_spread(st: SpreadScoreState, node: NodeInfo) -> int:
    if node.name in st.ignored:
        return 0
    score = 0.0
    for i, c in enumerate(st.constraints):
        val = node.labels.get(c.key)
        if val is None:
            continue
        if c.key == LABEL_HOSTNAME:
            cnt = count_matching(node, c.selector, st.namespace)
        else:
            cnt = st.pair_counts.get((c.key, val), 0)
        score += cnt * st.weights[i] + (c.max_skew - 1)
    return int(math.floor(score + 0.5))


def normalize_pod_topology_spread(st: SpreadScoreState, names: list[str], scores: list[int]) -> list[int]:
    lo = None
    hi = 0
    for n, s in zip(names, scores, strict=True):
        if n in st.ignored:
            continue
        if lo is None or s < lo:
            lo = s
        if s > hi:
            hi = s
    out = []
    for n, s in zip(names, scores, strict=True):
        if n in st.ignored:
            out.append(0)
        elif hi == 0:
            out.append(MAX_NODE_SCORE)
        else:
            out.append(MAX_NODE_SCORE * (hi + (lo or 0) - s) // hi)
    return out


# ---- InterPodAffinity ------------------------------------------------------------------------------

class AffinityTerm:
    """A compiled PodAffinityTerm: namespaces (None = all) or a namespace selector, a label
    selector and a topology key."""

    __slots__ = ("namespaces", "ns_selector", "selector", "key", "weight")

    def __init__(self, namespaces: frozenset[str], ns_selector: LabelSelector, selector: LabelSelector,
                 key: str, weight: int = 0) -> None:
        self.namespaces = namespaces
        self.ns_selector = ns_selector
        self.selector = selector
        self.key = key
        self.weight = weight

    def matches(self, namespace: str, labels: dict[str, str] | None, ns_labels: dict[str, str] | None) -> bool:
        if namespace in self.namespaces or (ns_labels is not None and self.ns_selector.matches(ns_labels)):
            return self.selector.matches(labels)
        return False


def compile_affinity_term(pod_ns: str, term: dict[str, Any], weight: int = 0) -> AffinityTerm:
    nss = frozenset(term.get("namespaces") or ())
    nsel_raw = term.get("namespaceSelector")
    if not nss and nsel_raw is None:
        nss = frozenset((pod_ns,))
    nsel = compile_label_selector(nsel_raw)
    return AffinityTerm(nss, nsel, compile_label_selector(term.get("labelSelector")), term.get("topologyKey") or "",
                        weight)


class PodAffinityTerms:
    """All four kinds of inter-pod (anti-)affinity terms of one pod, compiled."""

    __slots__ = ("required", "required_anti", "preferred", "preferred_anti")

    def __init__(self, pod: dict[str, Any]) -> None:
        ns = pod["metadata"].get("namespace", "")
        aff = (pod.get("spec") or {}).get("affinity") or {}
        pa = aff.get("podAffinity") or {}
        paa = aff.get("podAntiAffinity") or {}
        self.required = [compile_affinity_term(ns, t)
                         for t in pa.get("requiredDuringSchedulingIgnoredDuringExecution") or ()]
        self.required_anti = [compile_affinity_term(ns, t)
                              for t in paa.get("requiredDuringSchedulingIgnoredDuringExecution") or ()]
        self.preferred = [compile_affinity_term(ns, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0))
                          for w in pa.get("preferredDuringSchedulingIgnoredDuringExecution") or ()]
        self.preferred_anti = [compile_affinity_term(ns, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0))
                               for w in paa.get("preferredDuringSchedulingIgnoredDuringExecution") or ()]

    @property
    def any(self) -> bool:
        return bool(self.required or self.required_anti or self.preferred or self.preferred_anti)


def has_pod_affinity(pod: dict[str, Any]) -> bool:
    aff = (pod.get("spec") or {}).get("affinity") or {}
    return bool(aff.get("podAffinity") or aff.get("podAntiAffinity"))


def merge_term_namespaces(terms: list[AffinityTerm], ns_labels: Callable[[], dict[str, dict[str, str]]]) -> None:
    """The incoming pod's namespaceSelector is resolved to namespace names once (as upstream's PreFilter)."""
    for t in terms:
        if t.ns_selector.nothing:
            continue
        names = {n for n, labels in ns_labels().items() if t.ns_selector.matches(labels)}
        t.namespaces = t.namespaces | names
        t.ns_selector = LabelSelector([], nothing=True)


class InterPodState:
    __slots__ = ("terms", "affinity_counts", "anti_counts", "existing_anti", "self_match")

    def __init__(self, terms: PodAffinityTerms) -> None:
        self.terms = terms
        self.affinity_counts: dict[tuple[str, str], int] = {}
        self.anti_counts: dict[tuple[str, str], int] = {}
        self.existing_anti: dict[tuple[str, str], int] = {}
        self.self_match = False


def inter_pod_prefilter(pod: dict[str, Any], terms: PodAffinityTerms, ns_labels: dict[str, str] | None,
                        anti_pods: Iterable[tuple[PodInfo, NodeInfo]],
                        all_nodes: Iterable[NodeInfo]) -> InterPodState | None:
    """Count, per topology pair: existing pods whose required anti-affinity matches the incoming pod,
    and existing pods matching the incoming pod's required (anti-)affinity terms."""
    st = InterPodState(terms)
    md = pod["metadata"]
    ns = md.get("namespace", "")
    labels = md.get("labels") or {}
    for p, node in anti_pods:
        for t in p.affinity.required_anti:
            if t.matches(ns, labels, ns_labels):
                v = node.labels.get(t.key)
                if v is not None:
                    st.existing_anti[(t.key, v)] = st.existing_anti.get((t.key, v), 0) + 1
    if terms.required or terms.required_anti:
        for node in all_nodes:
            nl = node.labels
            for p in node.pods.values():
                if terms.required and all(t.matches(p.namespace, p.labels, None) for t in terms.required):
                    for t in terms.required:
                        v = nl.get(t.key)
                        if v is not None:
                            st.affinity_counts[(t.key, v)] = st.affinity_counts.get((t.key, v), 0) + 1
                for t in terms.required_anti:
                    if t.matches(p.namespace, p.labels, None):
                        v = nl.get(t.key)
                        if v is not None:
                            st.anti_counts[(t.key, v)] = st.anti_counts.get((t.key, v), 0) + 1
        st.self_match = bool(terms.required) and all(t.matches(ns, labels, None) for t in terms.required)
    if not st.existing_anti and not terms.required and not terms.required_anti:
        return None
    return st


def filter_inter_pod_affinity(st: InterPodState | None, node: NodeInfo) -> Status | None:
    if st is None:
        return None
    labels = node.labels
    if st.terms.required:
        exist = True
        for t in st.terms.required:
            v = labels.get(t.key)
            if v is None:
                return Status(UNRESOLVABLE, [ERR_POD_AFFINITY], INTER_POD_AFFINITY)
            if st.affinity_counts.get((t.key, v), 0) <= 0:
                exist = False
        if not exist and not (not st.affinity_counts and st.self_match):
            return Status(UNRESOLVABLE, [ERR_POD_AFFINITY], INTER_POD_AFFINITY)
    for t in st.terms.required_anti:
        v = labels.get(t.key)
        if v is not None and st.anti_counts.get((t.key, v), 0) > 0:
            return Status(UNSCHEDULABLE, [ERR_POD_ANTI_AFFINITY], INTER_POD_AFFINITY)
    if st.existing_anti:
        for k, v in labels.items():
            if st.existing_anti.get((k, v), 0) > 0:
                return Status(UNSCHEDULABLE, [ERR_EXISTING_ANTI_AFFINITY], INTER_POD_AFFINITY)
    return None


def inter_pod_prescore(pod: dict[str, Any], terms: PodAffinityTerms, ns_labels: dict[str, str] | None,
                       nodes_with_pods: Iterable[tuple[NodeInfo, Iterable[PodInfo]]],
                       ) -> dict[str, dict[str, int]] | None:
    """topology key -> value -> score from preferred terms of the pod against existing pods and from
    existing pods' affinity terms against the pod. None when there is nothing to score."""
    md = pod["metadata"]
    ns = md.get("namespace", "")
    labels = md.get("labels") or {}
    scores: dict[str, dict[str, int]] = {}

    def add(key: str, node: NodeInfo, w: int) -> None:
        v = node.labels.get(key)
        if v is not None:
            d = scores.setdefault(key, {})
            d[v] = d.get(v, 0) + w

    for node, pods in nodes_with_pods:
        if not node.labels:
            continue
        for p in pods:
            for t in terms.preferred:
                if t.matches(p.namespace, p.labels, None):
                    add(t.key, node, t.weight)
            for t in terms.preferred_anti:
                if t.matches(p.namespace, p.labels, None):
                    add(t.key, node, -t.weight)
            pa = p.affinity
            if pa is None:
                continue
            for t in pa.required:
                if t.matches(ns, labels, ns_labels):
                    add(t.key, node, HARD_POD_AFFINITY_WEIGHT)
            for t in pa.preferred:
                if t.matches(ns, labels, ns_labels):
                    add(t.key, node, t.weight)
            for t in pa.preferred_anti:
                if t.matches(ns, labels, ns_labels):
                    add(t.key, node, -t.weight)
    return scores or None


def score_inter_pod(scores: dict[str, dict[str, int]], node: NodeInfo) -> int:
    total = 0
    for key, vals in scores.items():
        v = node.labels.get(key)
        if v is not None:
            total += vals.get(v, 0)
    return total


def normalize_min_max(scores: list[int]) -> list[int]:
    """InterPodAffinity NormalizeScore."""
    if not scores:
        return scores
    lo, hi = min(scores), max(scores)
    diff = hi - lo
    if diff <= 0:
        return [0] * len(scores)
    return [int(MAX_NODE_SCORE * ((s - lo) / diff)) for s in scores]


# ---------------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------------

def score_least_allocated(nz_cpu: int, nz_mem: int, node: NodeInfo) -> int:
    """NodeResourcesFit LeastAllocated over cpu and memory (weight 1 each), non-zero requests."""
    total = 0
    weights = 0
    alloc = node.a_cpu
    if alloc:
        weights += 1
        req = node.nz_cpu + nz_cpu
        if req <= alloc:
            total += (alloc - req) * MAX_NODE_SCORE // alloc
    alloc = node.a_mem
    if alloc:
        weights += 1
        req = node.nz_mem + nz_mem
        if req <= alloc:
            total += (alloc - req) * MAX_NODE_SCORE // alloc
    return total // weights if weights else 0


def score_balanced_allocation(req_cpu: int, req_mem: int, node: NodeInfo) -> int:
    """NodeResourcesBalancedAllocation: 1 - std of cpu/memory fractions (actual requests)."""
    ac, am = node.a_cpu, node.a_mem
    if not ac or not am:
        return MAX_NODE_SCORE
    fc = (node.r_cpu + req_cpu) / ac
    fm = (node.r_mem + req_mem) / am
    if fc > 1:
        fc = 1.0
    if fm > 1:
        fm = 1.0
    return int((1 - abs(fc - fm) / 2) * MAX_NODE_SCORE)


def prefer_no_schedule_tolerations(tols: list[Toleration]) -> list[Toleration]:
    return [t for t in tols if t[3] in ("", "PreferNoSchedule")]


def score_taint_toleration(prefer_tols: list[Toleration], node: NodeInfo) -> int:
    """Number of intolerable PreferNoSchedule taints (normalized in reverse)."""
    n = 0
    for taint in node.soft_taints:
        if not tolerated(prefer_tols, taint):
            n += 1
    return n


def score_node_affinity(terms: list[tuple[int, NodeSelectorTerm]], node: NodeInfo) -> int:
    total = 0
    for w, t in terms:
        if t.matches(node.name, node.labels):
            total += w
    return total


def default_normalize(scores: list[int], reverse: bool) -> list[int]:
    """helper.DefaultNormalizeScore."""
    hi = max(scores) if scores else 0
    if hi == 0:
        return [MAX_NODE_SCORE] * len(scores) if reverse else list(scores)
    out = []
    for s in scores:
        v = MAX_NODE_SCORE * s // hi
        out.append(MAX_NODE_SCORE - v if reverse else v)
    return out


# ---------------------------------------------------------------------------------------------------
# Node sampling and the failure message
# ---------------------------------------------------------------------------------------------------

MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5


def num_feasible_nodes_to_find(num_all: int, percentage: int = 0) -> int:
    """numFeasibleNodesToFind with the adaptive percentageOfNodesToScore (50% - nodes/125, >= 5%)."""
    if num_all < MIN_FEASIBLE_NODES:
        return num_all
    if percentage <= 0:
        percentage = max(50 - num_all // 125, MIN_FEASIBLE_PERCENTAGE)
    n = num_all * percentage // 100
    return max(n, MIN_FEASIBLE_NODES)


def _histogram(reasons: dict[str, int]) -> str:
    return ", ".join(sorted(f"{v} {k}" for k, v in reasons.items()))


def fit_error_message(num_all: int, statuses: dict[str, Status], absent: Status | None = None,
                      prefilter_msg: str = "", postfilter_msg: str = "") -> str:
    """FitError.Error(): '0/N nodes are available: <histogram>. <postfilter>.'"""
    msg = f"0/{num_all} nodes are available:"
    if prefilter_msg:
        msg += f" {prefilter_msg}."
    else:
        reasons: dict[str, int] = {}
        for st in statuses.values():
            for r in st.reasons:
                reasons[r] = reasons.get(r, 0) + 1
        missing = num_all - len(statuses)
        if absent is not None and missing > 0:
            for r in absent.reasons:
                reasons[r] = reasons.get(r, 0) + missing
        if reasons:
            msg += f" {_histogram(reasons)}."
    if postfilter_msg:
        msg += f" {postfilter_msg}."
    return msg


def preemption_message(num_all: int, statuses: dict[str, Status], absent: Status | None,
                       preemption_policy: str | None) -> str:
    """What DefaultPreemption's PostFilter reports when it finds no victims. Nodes rejected as
    resolvable (Unschedulable) had their dry run find nothing to evict; the rest are not helpful."""
    if preemption_policy == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never."
    potential = {n: s for n, s in statuses.items() if s.code == UNSCHEDULABLE}
    if absent is not None and absent.code == UNSCHEDULABLE:
        for i in range(num_all - len(statuses)):
            potential[f"\x00{i}"] = absent
    dry = {n: Status(UNRESOLVABLE, [PREEMPTION_NO_VICTIMS]) for n in potential}
    inner = fit_error_message(num_all, dry, Status(UNRESOLVABLE, [PREEMPTION_NOT_HELPFUL]))
    return "preemption: " + inner

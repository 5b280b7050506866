"""Pure helpers of the DaemonSet controller (upstream pkg/controller/daemon/util/daemonset_util.go, the
predicates of daemon_controller.go, component-helpers' node affinity and toleration matching,
intstr scaling and client-go's flowcontrol.Backoff).

Nothing here does I/O; every function takes plain dicts (API objects as the client returns them) and
never modifies its arguments.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ...api import meta
from ...client.client import deepcopy
from ..common.history import go_json

# re-exported: callers of these helpers read pod availability here too
from ..common.podutil import is_pod_available as is_pod_available

KIND = "DaemonSet"
API_VERSION = "apps/v1"
CONTROLLER_KIND = (API_VERSION, KIND)
RESOURCE = "daemonsets.apps"

# apps.DefaultDaemonSetUniqueLabelKey == apps.ControllerRevisionHashLabelKey
UNIQUE_LABEL = "controller-revision-hash"
# extensions.DaemonSetTemplateGenerationKey: the pod label kept for backward compatibility
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
# apps.DeprecatedTemplateGeneration: the DaemonSet annotation kubeling/api/defaults.py maintains
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"

# the well-known taints daemon pods tolerate (k8s.io/api/core/v1 well_known_taints.go)
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
OBJECT_NAME_FIELD = "metadata.name"

# the DaemonSet controller's BurstReplicas
BURST_REPLICAS = 250

_DAEMON_TOLERATIONS = (
    (TAINT_NOT_READY, NO_EXECUTE),
    (TAINT_UNREACHABLE, NO_EXECUTE),
    (TAINT_DISK_PRESSURE, NO_SCHEDULE),
    (TAINT_MEMORY_PRESSURE, NO_SCHEDULE),
    (TAINT_PID_PRESSURE, NO_SCHEDULE),
    (TAINT_UNSCHEDULABLE, NO_SCHEDULE),
)


def _spec(ds: dict[str, Any]) -> dict[str, Any]:
    return ds.get("spec") or {}


def _template(ds: dict[str, Any]) -> dict[str, Any]:
    return _spec(ds).get("template") or {}


def ds_key(ds: dict[str, Any]) -> str:
    md = ds["metadata"]
    return f"{md.get('namespace') or ''}/{md['name']}"


def min_ready_seconds(ds: dict[str, Any]) -> int:
    return int(_spec(ds).get("minReadySeconds") or 0)


def update_strategy_type(ds: dict[str, Any]) -> str:
    return (_spec(ds).get("updateStrategy") or {}).get("type") or "RollingUpdate"


def revision_history_limit(ds: dict[str, Any]) -> int:
    v = _spec(ds).get("revisionHistoryLimit")
    return 10 if v is None else int(v)


def collision_count(ds: dict[str, Any]) -> int | None:
    v = (ds.get("status") or {}).get("collisionCount")
    return None if v is None else int(v)


# ---- template generation, tolerations, pod template ---------------------------------------------

def get_template_generation(ds: dict[str, Any]) -> int | None:
    """The deprecated template-generation annotation as an int; None when absent. Raises ValueError
    when it does not parse (callers then treat it as absent, as upstream does)."""
    v = (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    if v is None:
        return None
    return int(str(v), 10)


def template_generation_or_none(ds: dict[str, Any]) -> int | None:
    try:
        return get_template_generation(ds)
    except ValueError:
        return None


def _toleration_matches(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """v1.Toleration.MatchToleration: same key, operator, value and effect."""
    return ((a.get("key") or "") == (b.get("key") or "") and (a.get("operator") or "") == (b.get("operator") or "")
            and (a.get("value") or "") == (b.get("value") or "") and (a.get("effect") or "") == (b.get("effect") or ""))


def add_or_update_toleration(tolerations: list[dict[str, Any]], tol: dict[str, Any]) -> list[dict[str, Any]]:
    """v1helper.AddOrUpdateTolerationInPodSpec on a list: a matching toleration is replaced in place,
    otherwise tol is appended. Returns a new list."""
    out: list[dict[str, Any]] = []
    updated = False
    for old in tolerations:
        if _toleration_matches(old, tol):
            out.append(dict(tol))
            updated = True
        else:
            out.append(old)
    if not updated:
        out.append(dict(tol))
    return out


def daemon_pod_tolerations(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """AddOrUpdateDaemonPodTolerations: the spec's tolerations plus those every daemon pod gets
    (not-ready/unreachable NoExecute; disk-, memory-, pid-pressure and unschedulable NoSchedule;
    network-unavailable NoSchedule for hostNetwork pods)."""
    tols = list(pod_spec.get("tolerations") or ())
    extra = list(_DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        extra.append((TAINT_NETWORK_UNAVAILABLE, NO_SCHEDULE))
    for key, effect in extra:
        tols = add_or_update_toleration(tols, {"key": key, "operator": "Exists", "effect": effect})
    return tols


def create_pod_template(template: dict[str, Any], generation: int | None, hash_: str) -> dict[str, Any]:
    """util.CreatePodTemplate: a copy of template with the daemon tolerations and the
    pod-template-generation / controller-revision-hash labels."""
    t = deepcopy(template)
    md = t.setdefault("metadata", {})
    spec = t.setdefault("spec", {})
    spec["tolerations"] = daemon_pod_tolerations(spec)
    labels = md.get("labels") or {}
    md["labels"] = labels
    if generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = str(generation)
    if hash_:
        labels[UNIQUE_LABEL] = hash_
    return t


def replace_node_name_node_affinity(affinity: dict[str, Any] | None, node_name: str) -> dict[str, Any]:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes the single
    term `metadata.name In [node_name]` (other affinity kinds and preferred terms are kept).
    Returns a new dict."""
    term = {"matchFields": [{"key": OBJECT_NAME_FIELD, "operator": "In", "values": [node_name]}]}
    aff = dict(affinity or {})
    na = dict(aff.get("nodeAffinity") or {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    req = dict(req) if req is not None else {}
    req["nodeSelectorTerms"] = [term]
    na["requiredDuringSchedulingIgnoredDuringExecution"] = req
    aff["nodeAffinity"] = na
    return aff


def get_target_node_name(pod: dict[str, Any]) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, else the single `metadata.name In` value of a required
    node affinity term; None when neither names a node."""
    spec = pod.get("spec") or {}
    n = spec.get("nodeName")
    if n:
        return n
    req = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not req:
        return None
    for term in req.get("nodeSelectorTerms") or ():
        for exp in (term or {}).get("matchFields") or ():
            if exp.get("key") == OBJECT_NAME_FIELD and exp.get("operator") == "In":
                vals = exp.get("values") or []
                if len(vals) != 1:
                    return None
                return vals[0]
    return None


# ---- rolling update numbers --------------------------------------------------------------------

def scaled_value(v: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total (rounded up or down).
    Raises ValueError for anything else."""
    if v is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(v, bool):
        raise ValueError(f"invalid value for IntOrString: invalid type: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        if not v.endswith("%"):
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
        try:
            pct = int(v[:-1], 10)
        except ValueError:
            raise ValueError(f'invalid value "{v}": strconv.Atoi: parsing "{v[:-1]}": invalid syntax') from None
        if round_up:
            return -((-pct * total) // 100)
        return (pct * total) // 100
    raise ValueError(f"invalid value for IntOrString: invalid type: {type(v).__name__}")


def _rolling_update(ds: dict[str, Any]) -> dict[str, Any] | None:
    us = _spec(ds).get("updateStrategy") or {}
    if (us.get("type") or "RollingUpdate") != "RollingUpdate":
        return None
    return us.get("rollingUpdate")


def surge_count(ds: dict[str, Any], number_to_schedule: int) -> int:
    """util.SurgeCount: 0 unless RollingUpdate with maxSurge (DaemonSetUpdateSurge is GA in v1.32)."""
    ru = _rolling_update(ds)
    if ru is None or ru.get("maxSurge") is None:
        return 0
    return scaled_value(ru["maxSurge"], number_to_schedule, True)


def unavailable_count(ds: dict[str, Any], number_to_schedule: int) -> int:
    """util.UnavailableCount: 0 unless RollingUpdate; maxUnavailable of number_to_schedule, rounded up."""
    ru = _rolling_update(ds)
    if ru is None:
        return 0
    return scaled_value(ru.get("maxUnavailable"), number_to_schedule, True)


def allows_surge(ds: dict[str, Any]) -> bool:
    """util.AllowsSurge: more than one pod per node may run during an update."""
    try:
        return surge_count(ds, 1) > 0
    except ValueError:
        return False


def is_pod_updated(pod: dict[str, Any], hash_: str, generation: int | None) -> bool:
    """util.IsPodUpdated: the pod carries the current revision hash, or (for pods created before
    revisions existed) the current template generation."""
    labels = pod["metadata"].get("labels") or {}
    template_matches = generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == str(generation)
    hash_matches = bool(hash_) and labels.get(UNIQUE_LABEL) == hash_
    return hash_matches or template_matches


# ---- pod state ---------------------------------------------------------------------------------

def pod_phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_pod_terminal(pod: dict[str, Any]) -> bool:
    return pod_phase(pod) in ("Failed", "Succeeded")


def pod_order_key(pod: dict[str, Any]) -> tuple[int, float, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest first, then by name."""
    md = pod["metadata"]
    scheduled = 0 if (pod.get("spec") or {}).get("nodeName") else 1
    t = meta.parse_time(md.get("creationTimestamp"))
    return (scheduled, t if t is not None else 0.0, md.get("name") or "")


def sort_pods(pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(pods, key=pod_order_key)


def find_updated_pods_on_node(pods: Iterable[dict[str, Any]], hash_: str, generation: int | None
                              ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, bool]:
    """findUpdatedPodsOnNode: (new pod, old pod, ok) among the node's non-deleted pods; ok is False
    when there is more than one of either (the manage loop prunes those first)."""
    new = old = None
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def unscheduled_pods_without_node(node_names: set[str], node_to_pods: dict[str, list[dict[str, Any]]]
                                  ) -> list[str]:
    """getUnscheduledPodsWithoutNode: unbound pods aimed at nodes that no longer exist (pod GC only
    deletes bound pods, so the DaemonSet controller removes these)."""
    out = []
    for n, pods in node_to_pods.items():
        if n in node_names:
            continue
        for pod in pods:
            if not (pod.get("spec") or {}).get("nodeName"):
                out.append(pod["metadata"]["name"])
    return out


# ---- taints and tolerations (component-helpers) -------------------------------------------------

def tolerates_taint(tol: dict[str, Any], taint: dict[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = tol.get("effect") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    key = tol.get("key") or ""
    if key and key != (taint.get("key") or ""):
        return False
    op = tol.get("operator") or ""
    if op in ("", "Equal"):
        return (tol.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def find_matching_untolerated_taint(taints: Iterable[dict[str, Any]], tolerations: list[dict[str, Any]],
                                    taint_filter: Callable[[dict[str, Any]], bool] | None = None
                                    ) -> dict[str, Any] | None:
    """v1helper.FindMatchingUntoleratedTaint: the first taint (passing the filter) no toleration
    tolerates, or None."""
    for taint in taints:
        if taint_filter is not None and not taint_filter(taint):
            continue
        if not any(tolerates_taint(t, taint) for t in tolerations):
            return taint
    return None


def _no_schedule_or_execute(t: dict[str, Any]) -> bool:
    return t.get("effect") in (NO_SCHEDULE, NO_EXECUTE)


def _no_execute(t: dict[str, Any]) -> bool:
    return t.get("effect") == NO_EXECUTE


# ---- required node affinity (component-helpers nodeaffinity) -------------------------------------

def _label_requirement(exp: dict[str, Any]) -> Callable[[dict[str, str]], bool] | None:
    """A NodeSelectorRequirement on labels; None when it does not parse (the term then fails)."""
    key = exp.get("key") or ""
    op = exp.get("operator")
    vals = list(exp.get("values") or ())
    if not key:
        return None
    if op == "In":
        if not vals:
            return None
        s = frozenset(vals)
        return lambda labels: key in labels and labels[key] in s
    if op == "NotIn":
        if not vals:
            return None
        s = frozenset(vals)
        return lambda labels: key not in labels or labels[key] not in s
    if op == "Exists":
        if vals:
            return None
        return lambda labels: key in labels
    if op == "DoesNotExist":
        if vals:
            return None
        return lambda labels: key not in labels
    if op in ("Gt", "Lt"):
        if len(vals) != 1:
            return None
        try:
            bound = int(vals[0], 10)
        except ValueError:
            return None

        def cmp(labels: dict[str, str]) -> bool:
            v = labels.get(key)
            if v is None:
                return False
            try:
                n = int(v, 10)
            except ValueError:
                return False
            return n > bound if op == "Gt" else n < bound

        return cmp
    return None


class _Term:
    """A compiled NodeSelectorTerm: matchExpressions on labels AND matchFields on metadata.name."""

    __slots__ = ("labels", "fields", "broken")

    def __init__(self, term: dict[str, Any]) -> None:
        self.labels: list[Callable[[dict[str, str]], bool]] = []
        self.fields: list[tuple[str, str]] = []  # (operator, value) on metadata.name
        self.broken = False
        exprs = term.get("matchExpressions") or ()
        fields = term.get("matchFields") or ()
        if not exprs and not fields:
            self.broken = True  # an empty term matches no objects
            return
        for e in exprs:
            r = _label_requirement(e)
            if r is None:
                self.broken = True
                return
            self.labels.append(r)
        for f in fields:
            vals = list(f.get("values") or ())
            if f.get("key") != OBJECT_NAME_FIELD or f.get("operator") not in ("In", "NotIn") or len(vals) != 1:
                self.broken = True
                return
            self.fields.append((f["operator"], vals[0]))

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if self.broken:
            return False
        for r in self.labels:
            if not r(labels):
                return False
        for op, v in self.fields:
            if (name == v) != (op == "In"):
                return False
        return True


class RequiredNodeAffinity:
    """nodeaffinity.GetRequiredNodeAffinity: the pod's nodeSelector AND its required node affinity
    (any of the terms). Unparsable terms never match, as upstream's lazy-error selector."""

    __slots__ = ("node_selector", "terms")

    def __init__(self, pod_spec: dict[str, Any]) -> None:
        self.node_selector = tuple((pod_spec.get("nodeSelector") or {}).items())
        req = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}) \
            .get("requiredDuringSchedulingIgnoredDuringExecution")
        self.terms = None if req is None else [_Term(t or {}) for t in req.get("nodeSelectorTerms") or ()]

    def matches(self, node: dict[str, Any]) -> bool:
        md = node["metadata"]
        labels = md.get("labels") or {}
        for k, v in self.node_selector:
            if labels.get(k) != v:
                return False
        if self.terms is None:
            return True
        name = md["name"]
        return any(t.matches(name, labels) for t in self.terms)


# ---- nodeShouldRunDaemonPod --------------------------------------------------------------------

class DaemonPodPredicate:
    """NodeShouldRunDaemonPod for one DaemonSet, compiled once per template: the daemon pod the
    controller would create (template plus daemon tolerations) against a node's name, labels and
    NoSchedule/NoExecute taints.

    `should_run(node)` returns (shouldRun, shouldContinueRunning): whether a missing pod should be
    created there, and whether an existing one may stay (a pod tolerating the node's NoExecute
    taints keeps running even where a new one would not be placed).
    """

    __slots__ = ("node_name", "affinity", "tolerations")

    def __init__(self, ds: dict[str, Any]) -> None:
        spec = _template(ds).get("spec") or {}
        self.node_name = spec.get("nodeName") or ""
        self.affinity = RequiredNodeAffinity(spec)
        self.tolerations = daemon_pod_tolerations(spec)

    def should_run(self, node: dict[str, Any]) -> tuple[bool, bool]:
        if self.node_name and self.node_name != node["metadata"]["name"]:
            return False, False
        if not self.affinity.matches(node):
            return False, False
        taints = (node.get("spec") or {}).get("taints")
        if not taints:
            return True, True
        if find_matching_untolerated_taint(taints, self.tolerations, _no_schedule_or_execute) is None:
            return True, True
        return False, find_matching_untolerated_taint(taints, self.tolerations, _no_execute) is None


def node_should_run_daemon_pod(node: dict[str, Any], ds: dict[str, Any]) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod(node, ds) -> (shouldRun, shouldContinueRunning)."""
    return DaemonPodPredicate(ds).should_run(node)


def should_ignore_node_update(old: dict[str, Any], cur: dict[str, Any]) -> bool:
    """Only label and taint changes can change where daemon pods belong (v1.32 shouldIgnoreNodeUpdate)."""
    return ((old["metadata"].get("labels") or {}) == (cur["metadata"].get("labels") or {})
            and ((old.get("spec") or {}).get("taints") or []) == ((cur.get("spec") or {}).get("taints") or []))


# ---- revisions --------------------------------------------------------------------------------

def _go_template(template: dict[str, Any]) -> dict[str, Any]:
    """The template as Go's typed round trip renders it: embedded ObjectMeta always has
    `creationTimestamp: null` (kubectl compares revisions against this rendering)."""
    t = dict(template)
    md = dict(t.get("metadata") or {})
    md.setdefault("creationTimestamp", None)
    t["metadata"] = md
    return t


def patch_data(ds: dict[str, Any]) -> dict[str, Any]:
    """getPatch: `{"spec":{"template":{..., "$patch":"replace"}}}`, the strategic merge patch that
    restores ds's template (what a ControllerRevision holds and `kubectl rollout undo` sends back)."""
    t = _go_template(_template(ds))
    t["$patch"] = "replace"
    return {"spec": {"template": t}}


def get_patch(ds: dict[str, Any]) -> bytes:
    """patch_data serialized as Go's json.Marshal of a map (sorted keys), byte-comparable with a
    revision's data."""
    return go_json(patch_data(ds))


def revision_number(rev: dict[str, Any]) -> int:
    return int(rev.get("revision") or 0)


def max_revision(revisions: Iterable[dict[str, Any]]) -> int:
    m = 0
    for r in revisions:
        m = max(m, revision_number(r))
    return m


# ---- failed-pod backoff (client-go flowcontrol.Backoff) ------------------------------------------

def failed_pods_backoff_key(ds: dict[str, Any], node_name: str) -> str:
    return f"{ds['metadata'].get('uid')}/{int((ds.get('status') or {}).get('observedGeneration') or 0)}/{node_name}"


class Backoff:
    """flowcontrol.Backoff without jitter: per id, a delay that starts at `initial`, doubles on each
    `next()` up to `max_`, and is forgotten 2*max_ after its last update."""

    def __init__(self, initial: float = 1.0, max_: float = 15 * 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial = initial
        self.max = max_
        self.clock = clock
        self._entries: dict[str, tuple[float, float]] = {}  # id -> (backoff, last update)

    def now(self) -> float:
        return self.clock()

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > self.max * 2

    def get(self, id_: str) -> float:
        e = self._entries.get(id_)
        return e[0] if e is not None else 0.0

    def next(self, id_: str, event_time: float) -> None:
        e = self._entries.get(id_)
        if e is None or self._expired(event_time, e[1]):
            self._entries[id_] = (self.initial, event_time)
        else:
            self._entries[id_] = (min(e[0] * 2, self.max), event_time)

    def is_in_backoff_since_update(self, id_: str, event_time: float) -> bool:
        e = self._entries.get(id_)
        if e is None or self._expired(event_time, e[1]):
            return False
        return event_time - e[1] < e[0]

    def gc(self) -> None:
        now = self.clock()
        for k in [k for k, (_, last) in self._entries.items() if now - last > self.max * 2]:
            del self._entries[k]

    def __len__(self) -> int:
        return len(self._entries)

"""ResourceQuota: usage evaluators (pkg/quota/v1, pkg/quota/v1/evaluator/core) and the ResourceQuota
admission plugin (apiserver/pkg/admission/plugin/resourcequota).

The evaluators are pure functions of objects, shared with the resource quota controller, which
sums them over the informer caches; the plugin charges a create (or a service/claim update) to
every quota of the namespace that matches it, and refuses it when a hard limit would be passed.

- Quotas only bind once the controller has filled `status.hard`: matching, checks and charging
  all read the status, as upstream does.
- Charging is an optimistic-concurrency write of the quota's status (its resourceVersion), retried
  on conflict against the fresh quota, so two concurrent creates cannot both take the last unit.
- pods: create only; compute resources (cpu, memory, ...) stop counting once a pod is terminal,
  `count/pods` counts every pod. services and persistentvolumeclaims: create and update.
  Everything else namespaced: the object count `count/<resource>[.<group>]` on create (plus the
  legacy names configmaps, secrets, resourcequotas). Events are never counted.

Quantities are (value, format) pairs so sums print as upstream's resource.Quantity does.
"""
from __future__ import annotations

import datetime
import time
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from . import errors
from .defaults import QuantityError, format_quantity, parse_quantity, pod_qos
from .priority_admission import forbidden
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

Obj = dict[str, Any]
Qty = tuple[Fraction, str]
RList = dict[str, Qty]

ZERO: Qty = (Fraction(0), "DecimalSI")
ONE: Qty = (Fraction(1), "DecimalSI")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
IGNORED = frozenset({"events"})


# ---- quantities and resource lists (pkg/quota/v1/resources.go) ----------------------------

def qty(value: Any) -> Qty:
    """A quantity as (value, format); unparseable values count as zero."""
    try:
        return parse_quantity(value)
    except QuantityError:
        return ZERO


def qty_str(q: Qty | None) -> str:
    return "0" if q is None else format_quantity(q[0], q[1])


def q_add(a: Qty, b: Qty) -> Qty:
    """Quantity.Add: a zero receiver takes the other's format."""
    return (a[0] + b[0], a[1] if a[0] != 0 else b[1])


def q_sub(a: Qty, b: Qty) -> Qty:
    return (a[0] - b[0], a[1] if a[0] != 0 else b[1])


def rlist(m: Any) -> RList:
    """A JSON ResourceList as an RList."""
    return {k: qty(v) for k, v in m.items()} if isinstance(m, dict) else {}


def rlist_json(rl: RList) -> dict[str, str]:
    return {k: qty_str(v) for k, v in rl.items()}


def add(a: RList, b: RList) -> RList:
    out = dict(a)
    for k, v in b.items():
        out[k] = q_add(out[k], v) if k in out else v
    return out


def subtract_non_negative(a: RList, b: RList) -> RList:
    out: RList = {}
    for k, v in a.items():
        d = q_sub(v, b[k]) if k in b else v
        out[k] = d if d[0] > 0 else (Fraction(0), "DecimalSI")
    for k in b:
        out.setdefault(k, (Fraction(0), "DecimalSI"))
    return out


def mask(rl: RList, names: Iterable[str]) -> RList:
    keep = set(names)
    return {k: v for k, v in rl.items() if k in keep}


def remove_zeros(rl: RList) -> RList:
    return {k: v for k, v in rl.items() if v[0] != 0}


def less_than_or_equal(a: RList, b: RList) -> tuple[bool, list[str]]:
    exceeded = [k for k, v in a.items() if k in b and v[0] > b[k][0]]
    return not exceeded, exceeded


def equals(a: RList, b: RList) -> bool:
    return a.keys() == b.keys() and all(a[k][0] == b[k][0] for k in a)


def pretty(rl: RList) -> str:
    return ",".join(f"{k}={qty_str(rl[k])}" for k in sorted(rl))


def _max_into(dst: RList, src: RList) -> None:
    for k, v in src.items():
        if k not in dst or v[0] > dst[k][0]:
            dst[k] = v


# ---- object names and helpers ---------------------------------------------------------------

def object_count_name(rt: ResourceType) -> str:
    """generic.ObjectCountQuotaResourceNameFor: count/<resource>[.<group>]."""
    return f"count/{rt.qualified}"


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    from .validation import is_qualified_name  # lazy: validation is large and imports defaults
    return not is_qualified_name("requests." + name)


def scope_selectors(quota: Obj) -> list[Obj]:
    """getScopeSelectorsFromQuota: scopes as Exists requirements, then the scopeSelector's."""
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or ()]
    out.extend((spec.get("scopeSelector") or {}).get("matchExpressions") or ())
    return out


def _dt(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# ---- evaluators -----------------------------------------------------------------------------

class Evaluator:
    """Usage accounting for one resource (quota.Evaluator)."""

    resource = ""

    def handles(self, op: str, subresource: str | None = None) -> bool:
        return op == "CREATE" and not subresource

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        raise NotImplementedError

    def matches_scope(self, selector: Obj, obj: Obj) -> bool:
        return False  # generic.MatchesNoScopeFunc

    def constraints(self, required: list[str], obj: Obj) -> str | None:
        return None

    def usage(self, obj: Obj, now: float) -> RList:
        raise NotImplementedError

    def matches(self, quota: Obj, obj: Obj) -> bool:
        """generic.Matches: the quota's status.hard names a resource of ours, and every scope matches."""
        hard = ((quota.get("status") or {}).get("hard")) or {}
        if not self.matching_resources(hard):
            return False
        return all(self.matches_scope(sel, obj) for sel in scope_selectors(quota))


class ObjectCountEvaluator(Evaluator):
    """count/<resource> (and its legacy alias) for any other namespaced resource: create only."""

    def __init__(self, rt: ResourceType, alias: str = "") -> None:
        self.resource = rt.qualified
        self.names = tuple(n for n in (object_count_name(rt), alias) if n)

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n in self.names]

    def usage(self, obj: Obj, now: float) -> RList:
        return {n: ONE for n in self.names}


_POD_RESOURCES = ("count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                  "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods")
_POD_PREFIXES = ("hugepages-", "requests.hugepages-")
_POD_VALIDATION_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})


def pod_is_quota_live(pod: Obj, now: float) -> bool:
    """QuotaV1Pod: terminal pods, and pods stuck terminating past their grace period, stop counting."""
    if ((pod.get("status") or {}).get("phase")) in ("Failed", "Succeeded"):
        return False
    md = pod.get("metadata") or {}
    grace = md.get("deletionGracePeriodSeconds")
    deleted = _dt(md.get("deletionTimestamp"))
    return not (deleted is not None and grace is not None and now > deleted + grace)


def _container_lists(c: Obj) -> tuple[RList, RList]:
    res = c.get("resources") or {}
    return rlist(res.get("requests")), rlist(res.get("limits"))


def pod_resources(pod: Obj, which: int, overhead: bool = True) -> RList:
    """resourcehelper.PodRequests (which=0) / PodLimits (which=1): containers summed, init containers
    as a floor (sidecars add up), plus the pod overhead (LimitRanger leaves that out)."""
    spec = pod.get("spec") or {}
    total: RList = {}
    for c in spec.get("containers") or ():
        total = add(total, _container_lists(c)[which])
    restartable: RList = {}
    init_max: RList = {}
    for c in spec.get("initContainers") or ():
        own = _container_lists(c)[which]
        if c.get("restartPolicy") == "Always":
            total = add(total, own)
            restartable = add(restartable, own)
            own = dict(restartable)
        else:
            own = add(own, restartable)
        _max_into(init_max, own)
    _max_into(total, init_max)
    extra = rlist(spec.get("overhead")) if overhead else {}
    if which == 1:  # overhead only raises limits that are set
        extra = {k: v for k, v in extra.items() if k in total}
    if extra:
        total = add(total, extra)
    return total


def compute_usage(requests: RList, limits: RList) -> RList:
    """podComputeUsageHelper."""
    out: RList = {"pods": ONE}
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            out[res] = requests[res]
            out[f"requests.{res}"] = requests[res]
        if res in limits:
            out[f"limits.{res}"] = limits[res]
    for res, q in requests.items():
        if res.startswith("hugepages-"):
            out[res] = q
            out["requests." + res] = q
        if _is_extended(res):
            out["requests." + res] = q
    return out


def _pod_terms(pod: Obj) -> Iterable[Obj]:
    aff = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        a = aff.get(kind) or {}
        yield from a.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
        for w in a.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
            yield w.get("podAffinityTerm") or {}


def _selector_matches(req: Obj, value: str) -> bool:
    """A scope requirement as a label selector over {scopeName: value} (the key always exists)."""
    op, values = req.get("operator"), req.get("values") or []
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    return op == "Exists"


class PodEvaluator(Evaluator):
    resource = "pods"

    def handles(self, op: str, subresource: str | None = None) -> bool:
        return op == "CREATE" and not subresource

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        out = []
        for n in names:
            if n in _POD_RESOURCES or n.startswith(_POD_PREFIXES) or (n.startswith("requests.") and _is_extended(n)):
                out.append(n)
        return out

    def matches_scope(self, selector: Obj, obj: Obj) -> bool:
        name = selector.get("scopeName")
        spec = obj.get("spec") or {}
        if name in ("Terminating", "NotTerminating"):
            ads = spec.get("activeDeadlineSeconds")
            terminating = ads is not None and ads >= 0
            return terminating if name == "Terminating" else not terminating
        if name in ("BestEffort", "NotBestEffort"):
            best = pod_qos(obj) == "BestEffort"
            return best if name == "BestEffort" else not best
        if name == "PriorityClass":
            pc = spec.get("priorityClassName") or ""
            if selector.get("operator") == "Exists":
                return bool(pc)
            return _selector_matches(selector, pc)
        if name == "CrossNamespacePodAffinity":
            return any(t.get("namespaceSelector") is not None or t.get("namespaces") for t in _pod_terms(obj))
        return False

    def constraints(self, required: list[str], obj: Obj) -> str | None:
        """Each container must state cpu/memory requests and limits the quota constrains."""
        want = set(required) & _POD_VALIDATION_SET
        if not want:
            return None
        missing: dict[str, set[str]] = {}
        spec = obj.get("spec") or {}
        for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
            have = compute_usage(*_container_lists(c))
            for res in want - have.keys():
                missing.setdefault(res, set()).add(c.get("name", ""))
        if not missing:
            return None
        parts = [f"{res} for: {','.join(sorted(missing[res]))}" for res in sorted(missing)]
        return "must specify " + "; ".join(parts)

    def usage(self, obj: Obj, now: float) -> RList:
        out: RList = {"count/pods": ONE}
        if not pod_is_quota_live(obj, now):
            return out
        return add(out, compute_usage(pod_resources(obj, 0), pod_resources(obj, 1)))


class ServiceEvaluator(Evaluator):
    resource = "services"
    _names = ("count/services", "services", "services.nodeports", "services.loadbalancers")

    def handles(self, op: str, subresource: str | None = None) -> bool:
        return op in ("CREATE", "UPDATE") and not subresource

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n in self._names]

    def usage(self, obj: Obj, now: float) -> RList:
        spec = obj.get("spec") or {}
        ports = spec.get("ports") or []
        out: RList = {"count/services": ONE, "services": ONE, "services.loadbalancers": ZERO,
                      "services.nodeports": ZERO}
        typ = spec.get("type")
        if typ == "NodePort":
            out["services.nodeports"] = (Fraction(len(ports)), "DecimalSI")
        elif typ == "LoadBalancer":
            if spec.get("allocateLoadBalancerNodePorts") is False:
                n = sum(1 for p in ports if p.get("nodePort"))
            else:
                n = len(ports)
            out["services.nodeports"] = (Fraction(n), "DecimalSI")
            out["services.loadbalancers"] = ONE
        return out


def claim_class(pvc: Obj) -> str:
    """storagehelpers.GetPersistentVolumeClaimClass: the beta annotation wins over the field."""
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


class PVCEvaluator(Evaluator):
    resource = "persistentvolumeclaims"
    _names = ("persistentvolumeclaims", "requests.storage")

    def handles(self, op: str, subresource: str | None = None) -> bool:
        return op in ("CREATE", "UPDATE") and not subresource

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        out = []
        for n in names:
            if n == "count/persistentvolumeclaims" or n in self._names or \
                    any(n.endswith(STORAGE_CLASS_SUFFIX + r) for r in self._names):
                out.append(n)
        return out

    def usage(self, obj: Obj, now: float) -> RList:
        out: RList = {"persistentvolumeclaims": ONE, "count/persistentvolumeclaims": ONE}
        cls = claim_class(obj)
        if cls:
            out[cls + STORAGE_CLASS_SUFFIX + "persistentvolumeclaims"] = ONE
        req = (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {})
        if "storage" in req:
            v, fmt = qty(req["storage"])
            if v.denominator != 1:  # counted in whole bytes (issue 94313)
                v = Fraction(-((-v.numerator) // v.denominator)) if v > 0 else Fraction(int(v))
            out["requests.storage"] = (v, fmt)
            if cls:
                out[cls + STORAGE_CLASS_SUFFIX + "requests.storage"] = (v, fmt)
        return out


_LEGACY_ALIASES = {"configmaps": "configmaps", "resourcequotas": "resourcequotas", "secrets": "secrets",
                   "replicationcontrollers": "replicationcontrollers"}
_SPECIAL: dict[str, Evaluator] = {"pods": PodEvaluator(), "services": ServiceEvaluator(),
                                  "persistentvolumeclaims": PVCEvaluator()}
_generic: dict[str, Evaluator] = {}


def evaluator_for(rt: ResourceType) -> Evaluator | None:
    """The evaluator of a namespaced resource (None for ignored ones)."""
    q = rt.qualified
    ev = _SPECIAL.get(q)
    if ev is not None:
        return ev
    if q in IGNORED or not rt.namespaced:
        return None
    ev = _generic.get(q)
    if ev is None:
        ev = _generic[q] = ObjectCountEvaluator(rt, _LEGACY_ALIASES.get(q, ""))
    return ev


# ---- the admission check (CheckRequest) -----------------------------------------------------

def check_request(quotas: list[Obj], op: str, ev: Evaluator, obj: Obj, old: Obj | None,
                  now: float) -> dict[int, RList] | str:
    """New status.used per index of the quotas the request changes, or the Forbidden message."""
    interesting: list[int] = []
    for i, q in enumerate(quotas):
        if not ev.matches(q, obj):
            continue
        status = q.get("status") or {}
        hard = status.get("hard") or {}
        restricted = ev.matching_resources(hard)
        why = ev.constraints(restricted, obj)
        if why is not None:
            return f"failed quota: {q['metadata']['name']}: {why}"
        used = status.get("used") or {}
        if any(r not in used for r in hard if r in restricted):
            return (f"status unknown for quota: {q['metadata']['name']}, resources: "
                    f"{','.join(sorted(restricted))}")
        interesting.append(i)
    if not interesting:
        return {}
    usage = ev.usage(obj, now)
    negative = sorted(k for k, v in usage.items() if v[0] < 0)
    if negative:
        return f"quota usage is negative for resource(s): {','.join(negative)}"
    deltas: dict[int, RList] = {i: usage for i in interesting}
    if op == "UPDATE" and old is not None and (old.get("metadata") or {}).get("resourceVersion"):
        delta = subtract_non_negative(usage, ev.usage(old, now))
        for i in interesting:
            if ev.matches(quotas[i], old):
                deltas[i] = delta
    deltas = {i: d for i, d in ((i, remove_zeros(d)) for i, d in deltas.items()) if d}
    out: dict[int, RList] = {}
    for i, delta in deltas.items():
        q = quotas[i]
        status = q.get("status") or {}
        hard, used = rlist(status.get("hard")), rlist(status.get("used"))
        requested = mask(delta, hard)
        new_used = add(used, requested)
        ok, exceeded = less_than_or_equal(mask(new_used, requested), hard)
        if not ok:
            return (f"exceeded quota: {q['metadata']['name']}, requested: {pretty(mask(requested, exceeded))}, "
                    f"used: {pretty(mask(used, exceeded))}, limited: {pretty(mask(hard, exceeded))}")
        if not equals(new_used, used):
            out[i] = new_used
    return out


class QuotaAdmission:
    """The ResourceQuota plugin as a validating registry hook (it runs after object validation)."""

    RETRIES = 3

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._rq = by_qualified("resourcequotas")

    def _quotas(self, ns: str) -> list[Obj]:
        items, _ = self.registry.store.list(self._rq.key_prefix(ns))
        return [kv.obj for kv in items]

    async def __call__(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        if new is None or not rt.namespaced or op not in ("CREATE", "UPDATE"):
            return
        ev = evaluator_for(rt)
        if ev is None or not ev.handles(op, req.subresource):
            return
        ns = (new.get("metadata") or {}).get("namespace") or ""
        quotas = self._quotas(ns)
        if not quotas:
            return
        for attempt in range(self.RETRIES + 1):
            got = check_request(quotas, op, ev, new, old, time.time())
            if isinstance(got, str):
                raise forbidden(rt, (new.get("metadata") or {}).get("name") or "", got)
            if not got or req.dry_run:
                return
            failed: list[str] = []
            last: errors.ApiError | None = None
            for i, used in got.items():
                q = quotas[i]
                body = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": dict(q["metadata"]),
                        "spec": q.get("spec") or {},
                        "status": {**(q.get("status") or {}), "used": rlist_json(used)}}
                try:
                    await self.registry.update(self._rq, ns, q["metadata"]["name"], body,
                                               Request(field_manager="kube-apiserver"), subresource="status")
                except errors.ApiError as e:
                    failed.append(q["metadata"]["name"])
                    last = e
            if not failed:
                return
            if attempt == self.RETRIES:
                assert last is not None
                raise last
            # Re-check only the quotas whose write lost a race, against their current state.
            quotas = [q for q in self._quotas(ns) if q["metadata"]["name"] in failed]


def install(registry: Registry) -> None:
    """Append the ResourceQuota plugin to `registry.validating` (keep it last, as upstream)."""
    registry.validating.append(QuotaAdmission(registry))

"""LimitRanger admission (plugin/pkg/admission/limitranger).

- Mutating, pods on CREATE: containers (then init containers) without a request or limit for a
  resource get the namespace's Container LimitRange defaultRequest/default, and the pod is
  annotated kubernetes.io/limit-ranger with what was set.
- Validating (after object validation), pods on CREATE and claims on CREATE/UPDATE: Container
  and Pod min/max/maxLimitRequestRatio, PersistentVolumeClaim storage min/max; a violation is
  403 Forbidden with upstream's messages. Subresources and objects being deleted are skipped.

Reads LimitRanges straight from the store: the plugin runs inside the API server.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .priority_admission import forbidden
from .quota_admission import RList, pod_resources, qty, qty_str
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

Obj = dict[str, Any]

ANNOTATION = "kubernetes.io/limit-ranger"
MAX_MILLI = (2**63 - 1) // 1000


def _supports(op: str, rt: ResourceType, req: Request, old: Obj | None) -> bool:
    if req.subresource:
        return False
    if rt.qualified == "pods":
        if op != "CREATE":
            return False
    elif rt.qualified != "persistentvolumeclaims" or op not in ("CREATE", "UPDATE"):
        return False
    return not (old is not None and (old.get("metadata") or {}).get("deletionTimestamp"))


# ---- defaults (PodMutateLimitFunc) ----------------------------------------------------------

def default_requirements(lr: Obj) -> tuple[dict[str, Any], dict[str, Any]]:
    """(requests, limits) defaults of a LimitRange's Container items."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for item in (lr.get("spec") or {}).get("limits") or ():
        if item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    return requests, limits


def _merge_container(c: Obj, requests: dict[str, Any], limits: dict[str, Any], what: str, notes: list[str]) -> None:
    res = c.get("resources")
    if not isinstance(res, dict):
        res = c["resources"] = {}
    set_req: list[str] = []
    set_lim: list[str] = []
    for key, values, done in (("limits", limits, set_lim), ("requests", requests, set_req)):
        if not values:
            continue
        cur = res.get(key)
        if not isinstance(cur, dict):
            cur = res[key] = {}
        for k, v in values.items():
            if k not in cur:
                cur[k] = v
                done.append(k)
        if not cur:
            del res[key]
    if set_req:
        notes.append(f"{', '.join(sorted(set_req))} request for {what} {c.get('name', '')}")
    if set_lim:
        notes.append(f"{', '.join(sorted(set_lim))} limit for {what} {c.get('name', '')}")


def apply_defaults(pod: Obj, lr: Obj) -> None:
    """mergePodResourceRequirements for one LimitRange."""
    requests, limits = default_requirements(lr)
    if not requests and not limits:
        return
    spec = pod.get("spec") or {}
    notes: list[str] = []
    for c in spec.get("containers") or ():
        _merge_container(c, requests, limits, "container", notes)
    for c in spec.get("initContainers") or ():
        _merge_container(c, requests, limits, "init container", notes)
    if notes:
        md = pod.setdefault("metadata", {})
        ann = md.get("annotations")
        if not isinstance(ann, dict):
            ann = md["annotations"] = {}
        ann[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


# ---- constraints ----------------------------------------------------------------------------

def _milli(v: Fraction) -> int:
    """Quantity.MilliValue (rounded up)."""
    return math.ceil(v * 1000)


def _values(req: Any, lim: Any, enforced: Any) -> tuple[int, int, int]:
    """requestLimitEnforcedValues: milli precision unless that could overflow."""
    vals = [qty(x)[0] if x is not None else Fraction(0) for x in (req, lim, enforced)]
    whole = [math.ceil(v) for v in vals]
    if all(w <= MAX_MILLI for w in whole):
        return _milli(vals[0]), _milli(vals[1]), _milli(vals[2])
    return whole[0], whole[1], whole[2]


def _s(v: Any) -> str:
    return qty_str(qty(v))


def min_constraint(typ: str, name: str, enforced: Any, request: Obj, limit: Obj) -> str | None:
    req, lim = request.get(name), limit.get(name)
    r, m, e = _values(req, lim, enforced)
    if name not in request:
        return f"minimum {name} usage per {typ} is {_s(enforced)}.  No request is specified"
    if r < e:
        return f"minimum {name} usage per {typ} is {_s(enforced)}, but request is {_s(req)}"
    if name in limit and m < e:
        return f"minimum {name} usage per {typ} is {_s(enforced)}, but limit is {_s(lim)}"
    return None


def max_request_constraint(typ: str, name: str, enforced: Any, request: Obj) -> str | None:
    req = request.get(name)
    r, _, e = _values(req, None, enforced)
    if name not in request:
        return f"maximum {name} usage per {typ} is {_s(enforced)}.  No request is specified"
    if r > e:
        return f"maximum {name} usage per {typ} is {_s(enforced)}, but request is {_s(req)}"
    return None


def max_constraint(typ: str, name: str, enforced: Any, request: Obj, limit: Obj) -> str | None:
    req, lim = request.get(name), limit.get(name)
    r, m, e = _values(req, lim, enforced)
    if name not in limit:
        return f"maximum {name} usage per {typ} is {_s(enforced)}.  No limit is specified"
    if m > e:
        return f"maximum {name} usage per {typ} is {_s(enforced)}, but limit is {_s(lim)}"
    if name in request and r > e:
        return f"maximum {name} usage per {typ} is {_s(enforced)}, but request is {_s(req)}"
    return None


def ratio_constraint(typ: str, name: str, enforced: Any, request: Obj, limit: Obj) -> str | None:
    req, lim = request.get(name), limit.get(name)
    r, m, _ = _values(req, lim, enforced)
    if name not in request or r == 0:
        return (f"{name} max limit to request ratio per {typ} is {_s(enforced)}, but no request is specified or "
                "request is 0")
    if name not in limit or m == 0:
        return (f"{name} max limit to request ratio per {typ} is {_s(enforced)}, but no limit is specified or "
                "limit is 0")
    observed = m / r
    shown = observed
    ev = qty(enforced)[0]
    allowed = float(math.ceil(ev))
    if math.ceil(ev) <= MAX_MILLI:
        observed *= 1000
        allowed = float(_milli(ev))
    if observed > allowed:
        return (f"{name} max limit to request ratio per {typ} is {_s(enforced)}, but provided ratio is "
                f"{shown:f}")
    return None


def _json(rl: RList) -> dict[str, str]:
    return {k: qty_str(v) for k, v in rl.items()}


def _check_item(item: Obj, typ: str, requests: Obj, limits: Obj, out: list[str]) -> None:
    for k, v in (item.get("min") or {}).items():
        out.append(min_constraint(typ, k, v, requests, limits) or "")
    for k, v in (item.get("max") or {}).items():
        out.append(max_constraint(typ, k, v, requests, limits) or "")
    for k, v in (item.get("maxLimitRequestRatio") or {}).items():
        out.append(ratio_constraint(typ, k, v, requests, limits) or "")


def validate_pod(lr: Obj, pod: Obj) -> list[str]:
    """PodValidateLimitFunc: the violations of one LimitRange."""
    out: list[str] = []
    spec = pod.get("spec") or {}
    for item in (lr.get("spec") or {}).get("limits") or ():
        typ = item.get("type")
        if typ == "Container":
            for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
                res = c.get("resources") or {}
                _check_item(item, typ, res.get("requests") or {}, res.get("limits") or {}, out)
        elif typ == "Pod":
            _check_item(item, typ, _json(pod_resources(pod, 0, overhead=False)),
                        _json(pod_resources(pod, 1, overhead=False)), out)
    return [m for m in out if m]


def validate_claim(lr: Obj, pvc: Obj) -> list[str]:
    """PersistentVolumeClaimValidateLimitFunc: storage requests within min/max."""
    out: list[str] = []
    requests = (((pvc.get("spec") or {}).get("resources") or {}).get("requests")) or {}
    for item in (lr.get("spec") or {}).get("limits") or ():
        typ = item.get("type")
        if typ != "PersistentVolumeClaim":
            continue
        for k, v in (item.get("min") or {}).items():
            out.append(min_constraint(typ, k, v, requests, {}) or "")
        for k, v in (item.get("max") or {}).items():
            out.append(max_request_constraint(typ, k, v, requests) or "")
    return [m for m in out if m]


def aggregate(msgs: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several de-duplicated in brackets."""
    seen: list[str] = []
    for m in msgs:
        if m not in seen:
            seen.append(m)
    if len(msgs) == 1 or len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


class LimitRanger:
    """Both halves of the plugin; `mutate` goes into registry.admission, `validate` into registry.validating."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._lr = by_qualified("limitranges")

    def _ranges(self, ns: str) -> list[Obj]:
        items, _ = self.registry.store.list(self._lr.key_prefix(ns))
        return [kv.obj for kv in items]

    def mutate(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        if new is None or rt.qualified != "pods" or not _supports(op, rt, req, old):
            return
        for lr in self._ranges((new.get("metadata") or {}).get("namespace") or ""):
            apply_defaults(new, lr)

    def validate(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        if new is None or not _supports(op, rt, req, old):
            return
        check = validate_pod if rt.qualified == "pods" else validate_claim
        for lr in self._ranges((new.get("metadata") or {}).get("namespace") or ""):
            msgs = check(lr, new)
            if msgs:
                raise forbidden(rt, (new.get("metadata") or {}).get("name") or "", aggregate(msgs))


def install(registry: Registry) -> None:
    """Add LimitRanger's mutating and validating halves to the registry's admission chains."""
    plugin = LimitRanger(registry)
    registry.admission.append(plugin.mutate)
    registry.validating.append(plugin.validate)

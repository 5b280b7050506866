"""autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler conversion (pkg/apis/autoscaling/v1/conversion.go).

v2 is the storage version. v1 only has targetCPUUtilizationPercentage / currentCPUUtilizationPercentage;
whatever else a v2 object carries travels in the round-trip annotations upstream uses, as JSON: other
metric specs and all current metrics (autoscaling/v1 MetricSpec/MetricStatus field names), the
behavior (upstream marshals its internal type, so Go field names: "ScaleUp", "StabilizationWindowSeconds")
and the conditions.
"""
from __future__ import annotations

import copy
from typing import Any

import orjson

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
ROUND_TRIP = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION)
DEFAULT_CPU_UTILIZATION = 80

Obj = dict[str, Any]


def _put(d: Obj, k: str, v: Any) -> None:
    if v is not None:
        d[k] = v


def _is_cpu_utilization(m: Obj) -> bool:
    r = m.get("resource") or {}
    return m.get("type") == "Resource" and r.get("name") == "cpu" and \
        (r.get("target") or {}).get("averageUtilization") is not None


# ---- v2 -> v1 ---------------------------------------------------------------------------------

def _spec_to_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type", "")}
    if m.get("object") is not None:
        o = m["object"]
        met, tgt = o.get("metric") or {}, o.get("target") or {}
        d: Obj = {"target": o.get("describedObject") or {"kind": "", "name": ""}, "metricName": met.get("name", ""),
                  "targetValue": tgt.get("value") or "0"}
        _put(d, "selector", met.get("selector"))
        _put(d, "averageValue", tgt.get("averageValue"))
        out["object"] = d
    if m.get("pods") is not None:
        p = m["pods"]
        met, tgt = p.get("metric") or {}, p.get("target") or {}
        d = {"metricName": met.get("name", ""), "targetAverageValue": tgt.get("averageValue") or "0"}
        _put(d, "selector", met.get("selector"))
        out["pods"] = d
    for key in ("resource", "containerResource"):
        if m.get(key) is not None:
            r = m[key]
            tgt = r.get("target") or {}
            d = {"name": r.get("name", "")}
            _put(d, "targetAverageUtilization", tgt.get("averageUtilization"))
            _put(d, "targetAverageValue", tgt.get("averageValue"))
            if key == "containerResource":
                d["container"] = r.get("container", "")
            out[key] = d
    if m.get("external") is not None:
        e = m["external"]
        met, tgt = e.get("metric") or {}, e.get("target") or {}
        d = {"metricName": met.get("name", "")}
        _put(d, "metricSelector", met.get("selector"))
        _put(d, "targetValue", tgt.get("value"))
        _put(d, "targetAverageValue", tgt.get("averageValue"))
        out["external"] = d
    return out


def _status_to_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type", "")}
    if m.get("object") is not None:
        o = m["object"]
        met, cur = o.get("metric") or {}, o.get("current") or {}
        d: Obj = {"target": o.get("describedObject") or {"kind": "", "name": ""}, "metricName": met.get("name", ""),
                  "currentValue": cur.get("value") or "0"}
        _put(d, "selector", met.get("selector"))
        _put(d, "averageValue", cur.get("averageValue"))
        out["object"] = d
    if m.get("pods") is not None:
        p = m["pods"]
        met, cur = p.get("metric") or {}, p.get("current") or {}
        d = {"metricName": met.get("name", ""), "currentAverageValue": cur.get("averageValue") or "0"}
        _put(d, "selector", met.get("selector"))
        out["pods"] = d
    for key in ("resource", "containerResource"):
        if m.get(key) is not None:
            r = m[key]
            cur = r.get("current") or {}
            d = {"name": r.get("name", "")}
            _put(d, "currentAverageUtilization", cur.get("averageUtilization"))
            d["currentAverageValue"] = cur.get("averageValue") or "0"
            if key == "containerResource":
                d["container"] = r.get("container", "")
            out[key] = d
    if m.get("external") is not None:
        e = m["external"]
        met, cur = e.get("metric") or {}, e.get("current") or {}
        d = {"metricName": met.get("name", "")}
        _put(d, "metricSelector", met.get("selector"))
        d["currentValue"] = cur.get("value") or "0"
        _put(d, "currentAverageValue", cur.get("averageValue"))
        out["external"] = d
    return out


def _rules_to_internal(r: Obj | None) -> Obj | None:
    if r is None:
        return None
    return {"StabilizationWindowSeconds": r.get("stabilizationWindowSeconds"), "SelectPolicy": r.get("selectPolicy"),
            "Policies": [{"Type": p.get("type", ""), "Value": p.get("value", 0), "PeriodSeconds": p.get("periodSeconds", 0)}
                         for p in r.get("policies") or []] if r.get("policies") is not None else None}


def _condition_v1(c: Obj) -> Obj:
    out: Obj = {"type": c.get("type", ""), "status": c.get("status", ""),
                "lastTransitionTime": c.get("lastTransitionTime")}
    _put(out, "reason", c.get("reason") or None)
    _put(out, "message", c.get("message") or None)
    return out


def _dumps(v: Any) -> str:
    return orjson.dumps(v).decode()


def to_v1(obj: Obj) -> Obj:
    """The autoscaling/v1 form of a stored (v2) HorizontalPodAutoscaler."""
    md = copy.deepcopy(obj.get("metadata") or {})
    ann = {k: v for k, v in (md.get("annotations") or {}).items() if k not in ROUND_TRIP}
    spec2 = obj.get("spec") or {}
    st2 = obj.get("status") or {}
    spec: Obj = {"scaleTargetRef": copy.deepcopy(spec2.get("scaleTargetRef") or {"kind": "", "name": ""})}
    _put(spec, "minReplicas", spec2.get("minReplicas"))
    spec["maxReplicas"] = spec2.get("maxReplicas", 0)
    other = []
    for m in spec2.get("metrics") or []:
        if _is_cpu_utilization(m):
            spec["targetCPUUtilizationPercentage"] = m["resource"]["target"]["averageUtilization"]
        else:
            other.append(_spec_to_v1(m))
    status: Obj = {}
    _put(status, "observedGeneration", st2.get("observedGeneration"))
    _put(status, "lastScaleTime", st2.get("lastScaleTime"))
    status["currentReplicas"] = st2.get("currentReplicas", 0)
    status["desiredReplicas"] = st2.get("desiredReplicas", 0)
    cur = st2.get("currentMetrics") or []
    for m in cur:
        r = m.get("resource") or {}
        if m.get("type") == "Resource" and r.get("name") == "cpu":
            _put(status, "currentCPUUtilizationPercentage", (r.get("current") or {}).get("averageUtilization"))
    if other:
        ann[METRICS_ANNOTATION] = _dumps(other)
    if cur:
        ann[CURRENT_METRICS_ANNOTATION] = _dumps([_status_to_v1(m) for m in cur])
    if spec2.get("behavior") is not None:
        b = spec2["behavior"]
        ann[BEHAVIOR_ANNOTATION] = _dumps({"ScaleUp": _rules_to_internal(b.get("scaleUp")),
                                           "ScaleDown": _rules_to_internal(b.get("scaleDown"))})
    if st2.get("conditions"):
        ann[CONDITIONS_ANNOTATION] = _dumps([_condition_v1(c) for c in st2["conditions"]])
    if ann:
        md["annotations"] = ann
    else:
        md.pop("annotations", None)
    return {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1", "metadata": md, "spec": spec,
            "status": status}


# ---- v1 -> v2 ---------------------------------------------------------------------------------

def _ci(d: Any, key: str) -> Any:
    """Go's json.Unmarshal matches field names case-insensitively."""
    if not isinstance(d, dict):
        return None
    if key in d:
        return d[key]
    low = key.lower()
    for k, v in d.items():
        if k.lower() == low:
            return v
    return None


def _metric_id(name: Any, selector: Any) -> Obj:
    out: Obj = {"name": name or ""}
    _put(out, "selector", selector)
    return out


def _spec_to_v2(m: Obj) -> Obj:
    typ = _ci(m, "type") or ""
    out: Obj = {"type": typ}
    o = _ci(m, "object")
    if isinstance(o, dict):
        tgt: Obj = {"type": "AverageValue" if _ci(o, "averageValue") is not None else "Value"}
        _put(tgt, "value", _ci(o, "targetValue"))
        _put(tgt, "averageValue", _ci(o, "averageValue"))
        out["object"] = {"describedObject": _ci(o, "target") or {}, "target": tgt,
                         "metric": _metric_id(_ci(o, "metricName"), _ci(o, "selector"))}
    p = _ci(m, "pods")
    if isinstance(p, dict):
        out["pods"] = {"metric": _metric_id(_ci(p, "metricName"), _ci(p, "selector")),
                       "target": {"type": "AverageValue", "averageValue": _ci(p, "targetAverageValue") or "0"}}
    for key in ("resource", "containerResource"):
        r = _ci(m, key)
        if isinstance(r, dict):
            util = _ci(r, "targetAverageUtilization")
            tgt = {"type": "Utilization" if util is not None else "AverageValue"}
            _put(tgt, "averageUtilization", util)
            _put(tgt, "averageValue", _ci(r, "targetAverageValue"))
            d: Obj = {"name": _ci(r, "name") or "", "target": tgt}
            if key == "containerResource":
                d["container"] = _ci(r, "container") or ""
            out[key] = d
    e = _ci(m, "external")
    if isinstance(e, dict):
        tav = _ci(e, "targetAverageValue")
        tgt = {"type": "AverageValue" if tav is not None else "Value"}
        _put(tgt, "value", _ci(e, "targetValue"))
        _put(tgt, "averageValue", tav)
        out["external"] = {"metric": _metric_id(_ci(e, "metricName"), _ci(e, "metricSelector")), "target": tgt}
    return out


def _status_to_v2(m: Obj) -> Obj:
    out: Obj = {"type": _ci(m, "type") or ""}
    o = _ci(m, "object")
    if isinstance(o, dict):
        cur: Obj = {}
        _put(cur, "value", _ci(o, "currentValue"))
        _put(cur, "averageValue", _ci(o, "averageValue"))
        out["object"] = {"metric": _metric_id(_ci(o, "metricName"), _ci(o, "selector")), "current": cur,
                         "describedObject": _ci(o, "target") or {}}
    p = _ci(m, "pods")
    if isinstance(p, dict):
        out["pods"] = {"metric": _metric_id(_ci(p, "metricName"), _ci(p, "selector")),
                       "current": {"averageValue": _ci(p, "currentAverageValue") or "0"}}
    for key in ("resource", "containerResource"):
        r = _ci(m, key)
        if isinstance(r, dict):
            cur = {}
            _put(cur, "averageUtilization", _ci(r, "currentAverageUtilization"))
            _put(cur, "averageValue", _ci(r, "currentAverageValue"))
            d: Obj = {"name": _ci(r, "name") or "", "current": cur}
            if key == "containerResource":
                d["container"] = _ci(r, "container") or ""
            out[key] = d
    e = _ci(m, "external")
    if isinstance(e, dict):
        cur = {}
        _put(cur, "value", _ci(e, "currentValue"))
        _put(cur, "averageValue", _ci(e, "currentAverageValue"))
        out["external"] = {"metric": _metric_id(_ci(e, "metricName"), _ci(e, "metricSelector")), "current": cur}
    return out


def _rules_from_json(r: Any) -> Obj | None:
    if not isinstance(r, dict):
        return None
    out: Obj = {}
    _put(out, "stabilizationWindowSeconds", _ci(r, "stabilizationWindowSeconds"))
    _put(out, "selectPolicy", _ci(r, "selectPolicy"))
    pols = _ci(r, "policies")
    if isinstance(pols, list):
        out["policies"] = [{"type": _ci(p, "type") or "", "value": _ci(p, "value") or 0,
                            "periodSeconds": _ci(p, "periodSeconds") or 0} for p in pols if isinstance(p, dict)]
    return out


def _loads(raw: Any) -> Any:
    try:
        return orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        return None


def to_v2(obj: Obj) -> Obj:
    """The storage (v2) form of an autoscaling/v1 HorizontalPodAutoscaler a client sent."""
    md = copy.deepcopy(obj.get("metadata") or {})
    in_ann = md.get("annotations") or {}
    ann = {k: v for k, v in in_ann.items() if k not in ROUND_TRIP} if isinstance(in_ann, dict) else in_ann
    spec1 = obj.get("spec") or {}
    st1 = obj.get("status") or {}
    spec: Obj = {"scaleTargetRef": copy.deepcopy(spec1.get("scaleTargetRef") or {})}
    _put(spec, "minReplicas", spec1.get("minReplicas"))
    _put(spec, "maxReplicas", spec1.get("maxReplicas"))
    metrics = []
    other = _loads(in_ann.get(METRICS_ANNOTATION)) if isinstance(in_ann, dict) else None
    if isinstance(other, list):
        metrics = [_spec_to_v2(m) for m in other if isinstance(m, dict)]
    if spec1.get("targetCPUUtilizationPercentage") is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": spec1["targetCPUUtilizationPercentage"]}}})
    if not metrics:
        metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    spec["metrics"] = metrics
    behavior = _loads(in_ann.get(BEHAVIOR_ANNOTATION)) if isinstance(in_ann, dict) else None
    if isinstance(behavior, dict):
        b: Obj = {}
        _put(b, "scaleUp", _rules_from_json(_ci(behavior, "scaleUp")))
        _put(b, "scaleDown", _rules_from_json(_ci(behavior, "scaleDown")))
        spec["behavior"] = b
    status: Obj = {}
    for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"):
        _put(status, k, st1.get(k))
    if st1.get("currentCPUUtilizationPercentage") is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": st1["currentCPUUtilizationPercentage"]}}}]
    cur = _loads(in_ann.get(CURRENT_METRICS_ANNOTATION)) if isinstance(in_ann, dict) else None
    if isinstance(cur, list):
        status["currentMetrics"] = [_status_to_v2(m) for m in cur if isinstance(m, dict)]
    conds = _loads(in_ann.get(CONDITIONS_ANNOTATION)) if isinstance(in_ann, dict) else None
    if isinstance(conds, list):
        status["conditions"] = [{k: c[k] for k in ("type", "status", "lastTransitionTime", "reason", "message")
                                 if c.get(k) is not None} for c in conds if isinstance(c, dict)]
    if ann:
        md["annotations"] = ann
    else:
        md.pop("annotations", None)
    out: Obj = {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2", "metadata": md, "spec": spec}
    if status:
        out["status"] = status
    return out

"""Pure math of the HPA controller (pkg/controller/podautoscaler replica_calculator.go, horizontal.go, v1.32).

- get_resource_replicas / get_raw_resource_replicas: the replica calculator for Resource metrics, with
  upstream's grouping of pods (ignored: deleted/failed/pending; missing metrics; unready cpu samples within
  the initialization period) and its conservative re-computation when pods are missing or unready.
- stabilize / stabilize_with_behaviors, convert_with_rules / convert_with_behavior_rate: the
  recommendation history and the scaling limits, with and without spec.behavior.
Values are in milli-units (Quantity.MilliValue), times are epoch seconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...api.defaults import QuantityError, parse_quantity
from ...api.meta import parse_time

TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
MAX_INT32 = 2**31 - 1
MIN_INT32 = -(2**31)

Obj = dict[str, Any]


class ReplicaCalcError(Exception):
    """A failure the controller reports as FailedGetResourceMetric."""


@dataclass
class PodMetric:
    value: int  # milli-units
    timestamp: float
    window: float


def _parse_time(v: Any) -> float | None:
    return parse_time(v) if isinstance(v, str) and v else None


def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c
    return None


def group_pods(pods: list[Obj], metrics: dict[str, PodMetric], resource: str, now: float,
               cpu_init: float = CPU_INITIALIZATION_PERIOD,
               readiness_delay: float = INITIAL_READINESS_DELAY) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready, missing, ignored) pod names."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase in ("Failed", "Pending"):
            ignored.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = _ready_condition(pod)
            start = _parse_time((pod.get("status") or {}).get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                ltt = _parse_time(cond.get("lastTransitionTime")) or 0.0
                if start + cpu_init > now:
                    is_unready = cond.get("status") == "False" or metric.timestamp < ltt + metric.window
                else:
                    is_unready = cond.get("status") == "False" and start + readiness_delay > ltt
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: list[Obj], resource: str, container: str = "") -> dict[str, int]:
    """calculatePodRequests: each pod's summed container request (milli); a missing one is an error."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise ReplicaCalcError(f"missing request for {resource} in container {c.get('name')} of Pod "
                                       f"{pod['metadata']['name']}")
            try:
                total += math.ceil(parse_quantity(req)[0] * 1000)
            except QuantityError:
                raise ReplicaCalcError(f"invalid request for {resource}") from None
        out[pod["metadata"]["name"]] = total
    return out


def utilization_ratio(metrics: dict[str, PodMetric], requests: dict[str, int],
                      target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (usage ratio, utilization %, average raw usage)."""
    mt = rt = n = 0
    for name, m in metrics.items():
        if name in requests:
            mt += m.value
            rt += requests[name]
            n += 1
    if rt == 0:
        raise ReplicaCalcError("no metrics returned matched known pods")
    util = (mt * 100) // rt
    return util / target, util, mt // n


def _usable(pods: list[Obj], metrics: dict[str, PodMetric], resource: str,
            now: float) -> tuple[dict[str, PodMetric], int, set[str], set[str]]:
    """The samples that count (ignored and unready pods dropped), ready count, unready and missing pods."""
    if not pods:
        raise ReplicaCalcError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    for n in ignored | unready:
        metrics.pop(n, None)
    if not metrics:
        raise ReplicaCalcError("did not receive metrics for targeted pods (pods might be unready)")
    return metrics, ready, unready, missing


def get_resource_replicas(current: int, target_util: int, resource: str, pods: list[Obj],
                          metrics: dict[str, PodMetric], now: float, tolerance: float = TOLERANCE,
                          container: str = "") -> tuple[int, int, int]:
    """GetResourceReplicas: (replicas, utilization %, raw average usage in milli)."""
    metrics, ready, unready, missing = _usable(pods, metrics, resource, now)
    requests = pod_requests(pods, resource, container)
    ratio, util, raw = utilization_ratio(metrics, requests, target_util)
    scale_up_unready = bool(unready) and ratio > 1.0
    if not scale_up_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return current, util, raw
        return math.ceil(ratio * ready), util, raw
    if missing:
        if ratio < 1.0:
            fallback = max(100, target_util)
            for n in missing:
                metrics[n] = PodMetric(requests[n] * fallback // 100, now, 0)
        elif ratio > 1.0:
            for n in missing:
                metrics[n] = PodMetric(0, now, 0)
    if scale_up_unready:
        for n in unready:
            metrics[n] = PodMetric(0, now, 0)
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_util)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, util, raw
    new = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current, util, raw
    return new, util, raw


def _plain_metric_replicas(current: int, target: int, pods: list[Obj], metrics: dict[str, PodMetric],
                           now: float, resource: str, tolerance: float) -> tuple[int, int]:
    """calcPlainMetricReplicas (AverageValue targets): (replicas, average usage)."""
    metrics, ready, unready, missing = _usable(pods, metrics, resource, now)
    total = sum(m.value for m in metrics.values())
    ratio = total / (target * len(metrics))
    usage = total // len(metrics)
    scale_up_unready = bool(unready) and ratio > 1.0
    if not scale_up_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return current, usage
        return math.ceil(ratio * ready), usage
    if missing:
        for n in missing:
            metrics[n] = PodMetric(target if ratio < 1.0 else 0, now, 0)
    if scale_up_unready:
        for n in unready:
            metrics[n] = PodMetric(0, now, 0)
    new_ratio = sum(m.value for m in metrics.values()) / (target * len(metrics))
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, usage
    new = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current, usage
    return new, usage


def get_raw_resource_replicas(current: int, target_milli: int, resource: str, pods: list[Obj],
                              metrics: dict[str, PodMetric], now: float,
                              tolerance: float = TOLERANCE) -> tuple[int, int]:
    """GetRawResourceReplicas: (replicas, average usage in milli)."""
    return _plain_metric_replicas(current, target_milli, pods, metrics, now, resource, tolerance)


# ---- recommendations and limits (horizontal.go) ------------------------------------------------

@dataclass
class Recommendation:
    replicas: int
    timestamp: float


@dataclass
class ScaleEvent:
    change: int
    timestamp: float
    outdated: bool = False


@dataclass
class History:
    """Per-HPA memory of the controller (upstream keeps it in maps keyed by namespace/name)."""
    recommendations: list[Recommendation] = field(default_factory=list)
    scale_up: list[ScaleEvent] = field(default_factory=list)
    scale_down: list[ScaleEvent] = field(default_factory=list)


def stabilize(hist: History, desired: int, now: float, window: float = DOWNSCALE_STABILIZATION) -> int:
    """stabilizeRecommendation (no behavior): the highest recommendation of the window."""
    best = desired
    old_idx = None
    cutoff = now - window
    for i, r in enumerate(hist.recommendations):
        if r.timestamp < cutoff:
            old_idx = i
        elif r.replicas > best:
            best = r.replicas
    if old_idx is not None:
        hist.recommendations[old_idx] = Recommendation(desired, now)
    else:
        hist.recommendations.append(Recommendation(desired, now))
    return best


def convert_with_rules(current: int, desired: int, min_r: int, max_r: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules (no behavior): clamp to min/max and the 2x / 4 pods scale-up limit."""
    up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if max_r > up_limit:
        max_allowed, reason, msg = up_limit, "ScaleUpLimit", \
            "the desired replica count is increasing faster than the maximum scale rate"
    else:
        max_allowed, reason, msg = max_r, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
    if desired < min_r:
        return min_r, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > max_allowed:
        return max_allowed, reason, msg
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def stabilize_with_behaviors(hist: History, current: int, desired: int, up_window: float, down_window: float,
                             now: float) -> tuple[int, str, str]:
    """stabilizeRecommendationWithBehaviors."""
    up_rec = down_rec = desired
    up_cut, down_cut = now - up_window, now - down_window
    old_idx = None
    for i, r in enumerate(hist.recommendations):
        if r.timestamp > up_cut:
            up_rec = min(r.replicas, up_rec)
        if r.timestamp > down_cut:
            down_rec = max(r.replicas, down_rec)
        if r.timestamp < up_cut and r.timestamp < down_cut:
            old_idx = i
    rec = current
    if rec < up_rec:
        rec = up_rec
    if rec > down_rec:
        rec = down_rec
    if old_idx is not None:
        hist.recommendations[old_idx] = Recommendation(desired, now)
    else:
        hist.recommendations.append(Recommendation(desired, now))
    if desired >= current:
        return rec, "ScaleUpStabilized", \
            "recent recommendations were lower than current one, applying the lowest recent recommendation"
    return rec, "ScaleDownStabilized", \
        "recent recommendations were higher than current one, applying the highest recent recommendation"


def _change_in_period(period: int, events: list[ScaleEvent], now: float) -> int:
    cutoff = now - period
    return sum(e.change for e in events if e.timestamp > cutoff)


def _period_starts(current: int, hist: History, rules: Obj, now: float) -> list[tuple[Obj, int]]:
    """(policy, replicas at the start of its period): the current count without the changes made within it."""
    return [(p, current - _change_in_period(p["periodSeconds"], hist.scale_up, now)
             + _change_in_period(p["periodSeconds"], hist.scale_down, now)) for p in rules.get("policies") or []]


def scale_up_limit(current: int, hist: History, rules: Obj, now: float) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    sp = rules.get("selectPolicy") or "Max"
    if sp == "Disabled":
        return current
    pick, result = (min, MAX_INT32) if sp == "Min" else (max, MIN_INT32)
    for p, start in _period_starts(current, hist, rules, now):
        result = pick(result, start + p["value"] if p["type"] == "Pods" else math.ceil(start * (1 + p["value"] / 100)))
    return result


def scale_down_limit(current: int, hist: History, rules: Obj, now: float) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    sp = rules.get("selectPolicy") or "Max"
    if sp == "Disabled":
        return current
    pick, result = (max, MIN_INT32) if sp == "Min" else (min, MAX_INT32)
    for p, start in _period_starts(current, hist, rules, now):
        result = pick(result, start - p["value"] if p["type"] == "Pods" else int(start * (1 - p["value"] / 100)))
    return result


def convert_with_behavior_rate(hist: History, current: int, desired: int, min_r: int, max_r: int,
                               up_rules: Obj, down_rules: Obj, now: float) -> tuple[int, str, str]:
    """convertDesiredReplicasWithBehaviorRate."""
    if desired > current:
        limit = max(scale_up_limit(current, hist, up_rules, now), current)
        if max_r > limit:
            allowed, reason, msg = limit, "ScaleUpLimit", \
                "the desired replica count is increasing faster than the maximum scale rate"
        else:
            allowed, reason, msg = max_r, "TooManyReplicas", \
                "the desired replica count is more than the maximum replica count"
        if desired > allowed:
            return allowed, reason, msg
    elif desired < current:
        limit = min(scale_down_limit(current, hist, down_rules, now), current)
        if min_r < limit:
            allowed, reason, msg = limit, "ScaleDownLimit", \
                "the desired replica count is decreasing faster than the maximum scale rate"
        else:
            allowed, reason, msg = min_r, "TooFewReplicas", \
                "the desired replica count is less than the minimum replica count"
        if desired < allowed:
            return allowed, reason, msg
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def store_scale_event(hist: History, rules_up: Obj | None, rules_down: Obj | None, prev: int, new: int,
                      now: float) -> None:
    """storeScaleEvent: remember a rescale for the rate policies (only with spec.behavior)."""
    if new > prev:
        events, rules, change = hist.scale_up, rules_up, new - prev
    else:
        events, rules, change = hist.scale_down, rules_down, prev - new
    longest = max((p["periodSeconds"] for p in (rules or {}).get("policies") or []), default=0)
    for e in events:
        if e.timestamp < now - longest:
            e.outdated = True
    for i, e in enumerate(events):
        if e.outdated:
            events[i] = ScaleEvent(change, now)
            return
    events.append(ScaleEvent(change, now))

"""The horizontal pod autoscaler controller (upstream pkg/controller/podautoscaler/horizontal.go, v1.32).

Every sync period (--horizontal-pod-autoscaler-sync-period, 15 s; setting "hpa_sync_period") each
HorizontalPodAutoscaler is reconciled: the target's scale is read (Deployment, StatefulSet, ReplicaSet),
a replica count is computed per metric (Resource metrics, Utilization or AverageValue; the replica
calculator in replica_calculator.py), the largest proposal is stabilized and limited (spec.behavior, or the
legacy 5-minute downscale stabilization and 2x/4-pod scale-up limit without it), the target is scaled through
/scale, and the status (current metrics, AbleToScale / ScalingActive / ScalingLimited conditions) is written.
Events: SuccessfulRescale, FailedGetScale, FailedGetResourceMetric, FailedComputeMetricsReplicas, ...

Metrics: what metrics.k8s.io serves (PodMetrics, timestamp now, window 10 s), computed in process by
kubeling.api.metrics from the pod informer, the same function the API server's metrics endpoint uses.
Pods, Object and External metrics need a custom/external metrics API kubeling does not serve; they fail
as upstream does without one. The recommendation and scale-event history lives in memory, as upstream.
"""
from __future__ import annotations

import asyncio
import logging
import time
from fractions import Fraction
from typing import Any

from ...api import metrics as sim_metrics
from ...api.defaults import (
    HPA_SCALE_DOWN_DEFAULT,
    HPA_SCALE_UP_DEFAULT,
    format_quantity,
    hpa_scaling_rules,
    parse_quantity,
)
from ...api.errors import ApiError
from ...api.meta import now_rfc3339
from ...api.resources import by_gvk
from ...api.selectors import format_label_selector, matches_labels, parse_label_selector
from ...client.client import deepcopy
from ...client.context import ComponentContext
from ...client.informer import Controller, meta_key, split_key
from .. import register_controller
from . import replica_calculator as rc

log = logging.getLogger(__name__)

Obj = dict[str, Any]
HPAS = "horizontalpodautoscalers.autoscaling"
SYNC_PERIOD = 15.0
WINDOW_SECONDS = 10.0


def set_condition(hpa: Obj, typ: str, status: str, reason: str, message: str, now: str) -> None:
    """setCondition: lastTransitionTime moves only when the status changes."""
    conds = hpa.setdefault("status", {}).setdefault("conditions", []) or []
    hpa["status"]["conditions"] = conds
    for c in conds:
        if c.get("type") == typ:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c.update(status=status, reason=reason, message=message)
            return
    conds.append({"type": typ, "status": status, "lastTransitionTime": now, "reason": reason, "message": message})


def metric_name_for(resource: str, utilization: bool) -> str:
    return f"{resource} resource utilization (percentage of request)" if utilization else f"{resource} resource"


def milli_quantity(v: int) -> str:
    """resource.NewMilliQuantity(v, DecimalSI).String()."""
    return format_quantity(Fraction(v, 1000), "DecimalSI")


class MetricError(Exception):
    def __init__(self, message: str, condition: tuple[str, str, str, str]) -> None:
        super().__init__(message)
        self.condition = condition


class HorizontalController(Controller):
    name = "horizontal-pod-autoscaler"
    workers = 2

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.recorder = ctx.recorder("horizontal-pod-autoscaler")
        self.period = float(ctx.settings.get("hpa_sync_period") or SYNC_PERIOD)
        self.hpas = ctx.informers.informer(HPAS)
        self.pods = ctx.informers.informer("pods")
        self.history: dict[str, rc.History] = {}
        self.hpas.add_handlers(None, None, self._deleted)
        self._ticker: asyncio.Task | None = None

    def _deleted(self, hpa: Obj) -> None:
        self.history.pop(meta_key(hpa), None)

    async def _tick(self) -> None:
        """Upstream requeues each HPA at the resync interval; here one ticker enqueues all of them."""
        while True:
            await asyncio.sleep(self.period)
            for hpa in self.hpas.list():
                self.queue.add(meta_key(hpa))

    def start(self) -> None:
        def begin() -> None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
            self._tasks.append(self._ticker)

        self.start_when_synced(self.hpas, self.pods, then=begin)

    # ---- metrics -------------------------------------------------------------------------------
    def _pods(self, ns: str, selector: str) -> list[Obj]:
        reqs = parse_label_selector(selector)
        return [p for p in self.pods.by_index("namespace", ns) if matches_labels(reqs, p["metadata"].get("labels"))]

    @staticmethod
    def _pod_metrics(pods: list[Obj], resource: str, container: str, now: float) -> dict[str, rc.PodMetric]:
        """metrics client GetResourceMetric: per pod, the summed usage (milli) of its containers."""
        out: dict[str, rc.PodMetric] = {}
        for pod in pods:
            usage = sim_metrics.pod_usage(pod)
            if usage is None:
                continue
            total = 0
            found = False
            for cname, u in usage:
                if container and cname != container:
                    continue
                total += int(u[resource] * 1000) if resource in u else 0
                found = True
            if found:
                out[pod["metadata"]["name"]] = rc.PodMetric(total, now, WINDOW_SECONDS)
        return out

    def _resource_metric(self, hpa: Obj, spec: Obj, key: str, current: int, selector: str,
                         now: float) -> tuple[int, str, Obj]:
        src = spec.get(key) or {}
        resource, container = src.get("name", ""), src.get("container", "") if key == "containerResource" else ""
        target = src.get("target") or {}
        ns = hpa["metadata"]["namespace"]
        pods = self._pods(ns, selector)
        metrics = self._pod_metrics(pods, resource, container, now)
        cond_reason = "FailedGetResourceMetric" if key == "resource" else "FailedGetContainerResourceMetric"
        status_src: Obj = {"name": resource}
        if container:
            status_src["container"] = container
        try:
            if not metrics and pods:
                raise rc.ReplicaCalcError(f"unable to get metrics for resource {resource}: no metrics returned "
                                          "from resource metrics API")
            if target.get("averageValue") is not None:
                tgt = int(parse_quantity(target["averageValue"])[0] * 1000)
                try:
                    replicas, raw = rc.get_raw_resource_replicas(current, tgt, resource, pods, metrics, now)
                except rc.ReplicaCalcError as e:
                    raise rc.ReplicaCalcError(f"failed to get {resource} usage: {e}") from None
                status_src["current"] = {"averageValue": milli_quantity(raw)}
                return replicas, metric_name_for(resource, False), {"type": spec["type"], key: status_src}
            if target.get("averageUtilization") is None:
                raise rc.ReplicaCalcError("invalid resource metric source: neither an average utilization target "
                                          "nor an average value (usage) target was set")
            try:
                replicas, util, raw = rc.get_resource_replicas(current, target["averageUtilization"], resource, pods,
                                                               metrics, now, container=container)
            except rc.ReplicaCalcError as e:
                raise rc.ReplicaCalcError(f"failed to get {resource} utilization: {e}") from None
        except rc.ReplicaCalcError as e:
            self.recorder.event(hpa, "Warning", cond_reason, str(e))
            raise MetricError(str(e), ("ScalingActive", "False", cond_reason,
                                       f"the HPA was unable to compute the replica count: {e}")) from None
        status_src["current"] = {"averageUtilization": util, "averageValue": milli_quantity(raw)}
        return replicas, metric_name_for(resource, True), {"type": spec["type"], key: status_src}

    def _compute_replicas(self, hpa: Obj, scale: Obj, now: float,
                          ts: str) -> tuple[int, str, list[Obj], str | None]:
        """computeReplicasForMetrics: (replicas or -1, metric name, statuses, error message)."""
        specs = (hpa.get("spec") or {}).get("metrics") or []
        selector = scale["selector"]
        if not selector:
            self.recorder.event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", ts)
            return -1, "", [], "selector is required"
        spec_replicas = scale["replicas"]
        replicas, metric, statuses = 0, "", []
        invalid, first_err, first_cond = 0, "", None
        for spec in specs:
            typ = spec.get("type")
            try:
                if typ in ("Resource", "ContainerResource"):
                    key = "resource" if typ == "Resource" else "containerResource"
                    proposal, name, status = self._resource_metric(hpa, spec, key, spec_replicas, selector, now)
                else:
                    reason = {"Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                              "External": "FailedGetExternalMetric"}.get(typ, "InvalidMetricSourceType")
                    msg = ("unable to get metric: no custom metrics API (custom.metrics.k8s.io) registered"
                           if reason != "InvalidMetricSourceType" else f"unknown metric source type {typ!r}")
                    self.recorder.event(hpa, "Warning", reason, msg)
                    raise MetricError(msg, ("ScalingActive", "False", reason,
                                            f"the HPA was unable to compute the replica count: {msg}"))
            except MetricError as e:
                statuses.append({"type": ""})
                if invalid == 0:
                    first_err, first_cond = str(e), e.condition
                invalid += 1
                continue
            statuses.append(status)
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        if specs and (invalid >= len(specs) or (invalid > 0 and replicas < spec_replicas)):
            if first_cond is not None:
                set_condition(hpa, *first_cond, ts)
            return -1, "", statuses, f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: " \
                                     f"{first_err}"
        set_condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}", ts)
        return replicas, metric, statuses, None

    # ---- scale ---------------------------------------------------------------------------------
    async def _get_scale(self, hpa: Obj) -> tuple[Any, Obj]:
        ref = hpa["spec"].get("scaleTargetRef") or {}
        group, _, version = (ref.get("apiVersion") or "").rpartition("/")
        rt = by_gvk(group, version, ref.get("kind", ""))
        if rt is None or "scale" not in rt.subresources:
            raise ApiError(404, "NotFound", f'no matches for kind "{ref.get("kind", "")}" in group "{group}"')
        obj = await self.client.get(rt, hpa["metadata"]["namespace"], ref.get("name", ""))
        spec = obj.get("spec") or {}
        sel = spec.get("selector")
        if sel and rt.qualified == "replicationcontrollers":
            sel = {"matchLabels": sel}  # an RC's map selector, as its /scale renders it
        return rt, {"replicas": int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
                    "statusReplicas": int((obj.get("status") or {}).get("replicas") or 0),
                    "selector": format_label_selector(sel)}

    # ---- reconcile -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.hpas.get(key)
        if cached is None:
            self.history.pop(key, None)
            return
        hpa = deepcopy(cached)
        original = deepcopy(cached.get("status") or {})
        try:
            await self._reconcile(key, hpa)
        finally:
            if (hpa.get("status") or {}) != original:
                try:
                    await self.client.update_status(HPAS, hpa)
                except ApiError as e:
                    if e.code != 404:
                        raise

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        now = time.time()
        ts = now_rfc3339(now)
        spec = hpa["spec"]
        hist = self.history.setdefault(key, rc.History())
        ref = spec.get("scaleTargetRef") or {}
        try:
            rt, scale = await self._get_scale(hpa)
        except ApiError as e:
            self.recorder.event(hpa, "Warning", "FailedGetScale", e.message)
            set_condition(hpa, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {e.message}", ts)
            self._set_status(hpa, (hpa.get("status") or {}).get("currentReplicas") or 0,
                             (hpa.get("status") or {}).get("desiredReplicas") or 0, [], False, ts)
            return
        set_condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", ts)
        current = scale["replicas"]
        if not hist.recommendations:
            hist.recommendations.append(rc.Recommendation(current, now))  # recordInitialRecommendation
        min_r = spec.get("minReplicas") or 1
        max_r = spec.get("maxReplicas") or 0
        statuses: list[Obj] = []
        reason = ""
        desired = 0
        if current == 0 and min_r != 0:
            rescale = False
            set_condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", ts)
        elif current > max_r:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_r
            rescale = True
        elif current < min_r:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_r
            rescale = True
        else:
            proposal, metric, statuses, err = self._compute_replicas(hpa, scale, now, ts)
            if err is not None and proposal == -1:
                self._set_status(hpa, current, (hpa.get("status") or {}).get("desiredReplicas") or 0, statuses,
                                 False, ts)
                self.recorder.event(hpa, "Warning", "FailedComputeMetricsReplicas", err)
                return
            rescale_metric = ""
            if proposal > desired:
                desired, rescale_metric = proposal, metric
            if desired > current:
                reason = f"{rescale_metric} above target"
            if desired < current:
                reason = "All metrics below target"
            if spec.get("behavior") is None:
                desired = self._normalize(hpa, hist, current, desired, min_r, max_r, now, ts)
            else:
                desired = self._normalize_with_behaviors(hpa, hist, current, desired, min_r, max_r, now, ts)
            rescale = desired != current
        if rescale:
            try:
                await self.client.patch(rt, hpa["metadata"]["namespace"], ref.get("name", ""),
                                        {"spec": {"replicas": desired}}, subresource="scale")
            except ApiError as e:
                self.recorder.event(hpa, "Warning", "FailedRescale",
                                    f"New size: {desired}; reason: {reason}; error: {e.message}")
                set_condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {e.message}", ts)
                self._set_status(hpa, current, (hpa.get("status") or {}).get("desiredReplicas") or 0, statuses,
                                 False, ts)
                return
            set_condition(hpa, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", ts)
            self.recorder.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            b = spec.get("behavior")
            if b is not None:
                rc.store_scale_event(hist, b.get("scaleUp"), b.get("scaleDown"), current, desired, now)
            log.info("successful rescale of %s, old size: %d, new size: %d, reason: %s", key, current, desired,
                     reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale, ts)

    @staticmethod
    def _set_status(hpa: Obj, current: int, desired: int, statuses: list[Obj], rescale: bool, ts: str) -> None:
        old = hpa.get("status") or {}
        st: Obj = {}
        if old.get("observedGeneration") is not None:
            st["observedGeneration"] = old["observedGeneration"]
        if rescale:
            st["lastScaleTime"] = ts
        elif old.get("lastScaleTime"):
            st["lastScaleTime"] = old["lastScaleTime"]
        if current:
            st["currentReplicas"] = current
        st["desiredReplicas"] = desired
        if statuses:
            st["currentMetrics"] = statuses
        if old.get("conditions"):
            st["conditions"] = old["conditions"]
        hpa["status"] = st

    def _normalize(self, hpa: Obj, hist: rc.History, current: int, desired: int, min_r: int, max_r: int,
                   now: float, ts: str) -> int:
        stabilized = rc.stabilize(hist, desired, now)
        if stabilized != desired:
            set_condition(hpa, "AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation", ts)
        else:
            set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", ts)
        out, reason, msg = rc.convert_with_rules(current, stabilized, min_r, max_r)
        set_condition(hpa, "ScalingLimited", "False" if out == stabilized else "True", reason, msg, ts)
        return out

    def _normalize_with_behaviors(self, hpa: Obj, hist: rc.History, current: int, desired: int, min_r: int,
                                  max_r: int, now: float, ts: str) -> int:
        b = hpa["spec"]["behavior"]
        up = hpa_scaling_rules(b.get("scaleUp"), HPA_SCALE_UP_DEFAULT)
        down = hpa_scaling_rules(b.get("scaleDown"), HPA_SCALE_DOWN_DEFAULT)
        stabilized, reason, msg = rc.stabilize_with_behaviors(
            hist, current, desired, up["stabilizationWindowSeconds"], down["stabilizationWindowSeconds"], now)
        if stabilized != desired:
            set_condition(hpa, "AbleToScale", "True", reason, msg, ts)
        else:
            set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", ts)
        out, reason, msg = rc.convert_with_behavior_rate(hist, current, stabilized, min_r, max_r, up, down, now)
        set_condition(hpa, "ScalingLimited", "False" if out == stabilized else "True", reason, msg, ts)
        return out


start = register_controller("horizontalpodautoscaling", HorizontalController, start="start")

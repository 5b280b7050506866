"""Pod state as the workload controllers read it (upstream pkg/api/v1/pod podutil and
controller_utils.go): one definition, so every controller counts a pod ready, available or active
the same way.
"""
from __future__ import annotations

import time
from typing import Any

from ...api.meta import parse_time

Obj = dict[str, Any]


def is_pod_active(pod: Obj) -> bool:
    """controller.IsPodActive: not Succeeded, not Failed, not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase != "Succeeded" and phase != "Failed" and not pod["metadata"].get("deletionTimestamp")


def get_pod_ready_condition(pod: Obj) -> Obj | None:
    """podutil.GetPodReadyCondition: the first Ready condition of the pod's status."""
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c
    return None


def is_pod_ready(pod: Obj) -> bool:
    """podutil.IsPodReady."""
    c = get_pod_ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float | None = None) -> bool:
    """podutil.IsPodAvailable: Ready, and Ready for longer than minReadySeconds (a Ready condition
    without a transition time is not available unless minReadySeconds is 0)."""
    c = get_pod_ready_condition(pod)
    if c is None or c.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    t = parse_time(c.get("lastTransitionTime"))
    if t is None:
        return False
    return t + min_ready_seconds < (time.time() if now is None else now)


def pod_key(pod: Obj) -> str:
    """controller.PodKey: namespace/name."""
    md = pod["metadata"]
    return f"{md.get('namespace')}/{md['name']}"


__all__ = ["get_pod_ready_condition", "is_pod_active", "is_pod_available", "is_pod_ready", "pod_key"]

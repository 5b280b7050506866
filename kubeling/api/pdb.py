"""Pure PodDisruptionBudget helpers shared by the eviction subresource and the disruption controller.

Mirrors k8s.io/component-helpers/apps/poddisruptionbudget (the DisruptionAllowed condition), the
apimachinery SetStatusCondition rules and the PDB-to-pod matching both sides use. No I/O here.
"""
from __future__ import annotations

from typing import Any

from . import meta
from .selectors import matches_labels, selector_from_label_selector

Obj = dict[str, Any]

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
DISRUPTION_TARGET = "DisruptionTarget"
ALWAYS_ALLOW = "AlwaysAllow"
IF_HEALTHY_BUDGET = "IfHealthyBudget"


def find_condition(conds: Any, ctype: str) -> Obj | None:
    for c in conds or ():
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def set_status_condition(conds: list[Obj], new: Obj, now: str | None = None) -> bool:
    """apimeta.SetStatusCondition: lastTransitionTime moves only when the status changes."""
    cur = find_condition(conds, new["type"])
    stamp = new.get("lastTransitionTime") or now or meta.now_rfc3339()
    if cur is None:
        c = {"type": new["type"], "status": new["status"]}
        if new.get("observedGeneration"):
            c["observedGeneration"] = new["observedGeneration"]
        c.update(lastTransitionTime=stamp, reason=new.get("reason", ""), message=new.get("message", ""))
        conds.append(c)
        return True
    changed = False
    if cur.get("status") != new["status"]:
        cur["status"] = new["status"]
        cur["lastTransitionTime"] = stamp
        changed = True
    for k in ("reason", "message"):
        if (cur.get(k) or "") != (new.get(k) or ""):
            cur[k] = new.get(k) or ""
            changed = True
    og = new.get("observedGeneration") or 0
    if (cur.get("observedGeneration") or 0) != og:
        if og:
            cur["observedGeneration"] = og
        else:
            cur.pop("observedGeneration", None)
        changed = True
    return changed


def update_disruption_allowed_condition(status: Obj, now: str | None = None) -> None:
    """pdbhelper.UpdateDisruptionAllowedCondition on a PDB status (mutated in place)."""
    conds = status.get("conditions")
    if not isinstance(conds, list):
        conds = status["conditions"] = []
    ok = (status.get("disruptionsAllowed") or 0) > 0
    set_status_condition(conds, {
        "type": DISRUPTION_ALLOWED, "status": "True" if ok else "False",
        "reason": SUFFICIENT_PODS if ok else INSUFFICIENT_PODS, "message": "",
        "observedGeneration": status.get("observedGeneration") or 0}, now)


def conditions_up_to_date(pdb: Obj) -> bool:
    """pdbhelper.ConditionsAreUpToDate."""
    st = pdb.get("status") or {}
    cond = find_condition(st.get("conditions"), DISRUPTION_ALLOWED)
    if cond is None:
        return False
    if (st.get("observedGeneration") or 0) != ((pdb.get("metadata") or {}).get("generation") or 0):
        return False
    if (st.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == SUFFICIENT_PODS
    return cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT_PODS


def selects_pod(pdb: Obj, pod: Obj, empty_matches_all: bool) -> bool:
    """Whether the PDB's selector matches the pod. A nil selector matches nothing; an empty one matches
    every pod for the policy/v1 lister (the controller) but nothing for the eviction handler."""
    reqs = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
    if reqs is None or (not reqs and not empty_matches_all):
        return False
    return matches_labels(reqs, (pod.get("metadata") or {}).get("labels"))


def is_pod_ready(pod: Obj) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    c = find_condition((pod.get("status") or {}).get("conditions"), "Ready")
    return c is not None and c.get("status") == "True"


def update_pod_condition(status: Obj, cond: Obj, now: str | None = None) -> bool:
    """podutil.UpdatePodCondition: add or replace; lastTransitionTime kept while the status holds."""
    conds = status.get("conditions")
    if not isinstance(conds, list):
        conds = status["conditions"] = []
    new = {"type": cond["type"], "status": cond["status"], "lastProbeTime": None,
           "lastTransitionTime": now or meta.now_rfc3339()}
    if cond.get("reason"):
        new["reason"] = cond["reason"]
    if cond.get("message"):
        new["message"] = cond["message"]
    for i, old in enumerate(conds):
        if isinstance(old, dict) and old.get("type") == cond["type"]:
            if old.get("status") == new["status"]:
                new["lastTransitionTime"] = old.get("lastTransitionTime")
            equal = all((old.get(k) or None) == (new.get(k) or None)
                        for k in ("status", "reason", "message", "lastProbeTime", "lastTransitionTime"))
            conds[i] = new
            return not equal
    conds.append(new)
    return True

"""RuntimeClass admission (plugin/pkg/admission/runtimeclass), for pods being created.

- Mutating: spec.runtimeClassName must name an existing RuntimeClass (403 "pod rejected: RuntimeClass
  "x" not found"); its overhead.podFixed becomes spec.overhead (a different overhead set by the pod is
  refused); its scheduling.nodeSelector is merged into spec.nodeSelector (a conflicting key is refused)
  and its tolerations merged into spec.tolerations as upstream's tolerations.MergeTolerations.
- Validating: a pod may only carry spec.overhead when its RuntimeClass defines one.

Reads go straight to the store: the plugin runs inside the API server, as upstream's lister does.
"""
from __future__ import annotations

from typing import Any

from .defaults import semantic_equal
from .priority_admission import forbidden
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

Obj = dict[str, Any]

RUNTIME_CLASSES = "runtimeclasses.node.k8s.io"


def _superset(ss: Obj, t: Obj) -> bool:
    """isSuperset: toleration ss tolerates everything t does."""
    if ss == t:
        return True
    if t.get("key", "") != ss.get("key", "") and (ss.get("key", "") != "" or ss.get("operator") != "Exists"):
        return False
    if t.get("effect", "") != ss.get("effect", "") and ss.get("effect", ""):
        return False
    if ss.get("effect") == "NoExecute" and ss.get("tolerationSeconds") is not None:
        if t.get("tolerationSeconds") is None or t["tolerationSeconds"] > ss["tolerationSeconds"]:
            return False
    op = ss.get("operator", "")
    if op in ("Equal", ""):
        # Go precedence: Equal, or (empty operator and the same value)
        return t.get("operator") == "Equal" or (t.get("operator", "") == "" and t.get("value", "") == ss.get("value", ""))
    return op == "Exists"


def merge_tolerations(first: list[Obj], second: list[Obj]) -> list[Obj]:
    """tolerations.MergeTolerations: the union, without tolerations another one already covers."""
    every = list(first) + list(second)
    merged: list[Obj] = []
    for i, t in enumerate(every):
        if any(_superset(m, t) for m in merged):
            continue
        if any(t != t2 and _superset(t2, t) for t2 in every[i + 1:]):
            continue
        merged.append(t)
    return merged


def admit_pod(pod: Obj, rc: Obj | None) -> str | None:
    """Mutate a new pod for its RuntimeClass; the Forbidden message when it must be refused."""
    spec = pod.setdefault("spec", {})
    name = spec.get("runtimeClassName")
    if name is None:
        return None
    if rc is None:
        return f'pod rejected: RuntimeClass "{name}" not found'
    fixed = (rc.get("overhead") or {}).get("podFixed")
    if rc.get("overhead") is not None and fixed is not None:
        if spec.get("overhead") is not None and not semantic_equal(spec["overhead"], fixed):
            return "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
        spec["overhead"] = dict(fixed)
    sched = rc.get("scheduling")
    if not sched:
        return None
    sel = sched.get("nodeSelector") or {}
    if sel:
        pod_sel = dict(spec.get("nodeSelector") or {})
        for k, v in sel.items():
            if k in pod_sel and pod_sel[k] != v:
                return (f"conflict: runtimeClass.scheduling.nodeSelector[{k}] = {v}; "
                        f"pod.spec.nodeSelector[{k}] = {pod_sel[k]}")
            pod_sel[k] = v
        spec["nodeSelector"] = pod_sel
    if sched.get("tolerations"):
        spec["tolerations"] = merge_tolerations(spec.get("tolerations") or [], sched["tolerations"])
    return None


def validate_pod(pod: Obj, rc: Obj | None) -> str | None:
    """validateOverhead: spec.overhead needs a RuntimeClass that defines one."""
    spec = pod.get("spec") or {}
    if spec.get("overhead") is None:
        return None
    if spec.get("runtimeClassName") is None:
        return "pod rejected: Pod Overhead set without corresponding RuntimeClass"
    if rc is not None and (rc.get("overhead") or {}).get("podFixed") is None:
        return "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
    if rc is not None and not semantic_equal(spec["overhead"], rc["overhead"]["podFixed"]):
        return "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
    return None


class RuntimeClassAdmission:
    """Both halves of the plugin; `validating` picks the phase."""

    def __init__(self, registry: Registry, validating: bool) -> None:
        self.registry = registry
        self.validating = validating
        self._rt = by_qualified(RUNTIME_CLASSES)

    def _class(self, name: Any) -> Obj | None:
        if not isinstance(name, str) or not name:
            return None
        kv = self.registry.store.get(self._rt.key(None, name))
        return kv.obj if kv is not None else None

    def __call__(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        if op != "CREATE" or rt.qualified != "pods" or new is None:
            return
        rc = self._class((new.get("spec") or {}).get("runtimeClassName"))
        why = validate_pod(new, rc) if self.validating else admit_pod(new, rc)
        if why is not None:
            raise forbidden(rt, (new.get("metadata") or {}).get("name", ""), why)


def install(registry: Registry) -> None:
    """Append the RuntimeClass plugin to both admission phases."""
    registry.admission.append(RuntimeClassAdmission(registry, validating=False))
    registry.validating.append(RuntimeClassAdmission(registry, validating=True))

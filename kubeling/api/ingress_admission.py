"""Ingress admission (plugin/pkg/admission/network/defaultingressclass) and the Ingress create warning.

- DefaultIngressClass: on CREATE of an Ingress with neither spec.ingressClassName nor the
  kubernetes.io/ingress.class annotation, set ingressClassName to the IngressClass annotated
  ingressclass.kubernetes.io/is-default-class=true. Since v1.26 several defaults are not an error:
  the newest wins (ties: the smaller name).
- The ingress strategy warns that the kubernetes.io/ingress.class annotation is deprecated.
"""
from __future__ import annotations

from typing import Any

from .registry import Registry, Request
from .resources import ResourceType, by_qualified

Obj = dict[str, Any]

ANN_DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"
ANN_INGRESS_CLASS = "kubernetes.io/ingress.class"


def pick_default(classes: list[Obj]) -> Obj | None:
    """The newest IngressClass annotated as default; equal timestamps go to the smaller name."""
    defaults = [c for c in classes
                if ((c.get("metadata") or {}).get("annotations") or {}).get(ANN_DEFAULT_INGRESS_CLASS) == "true"]
    if not defaults:
        return None
    defaults.sort(key=lambda c: c["metadata"]["name"])
    defaults.sort(key=lambda c: c["metadata"].get("creationTimestamp") or "", reverse=True)
    return defaults[0]


class IngressAdmission:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._ic = by_qualified("ingressclasses.networking.k8s.io")

    def __call__(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        if op != "CREATE" or new is None or rt.qualified != "ingresses.networking.k8s.io":
            return
        spec = new.setdefault("spec", {})
        ann = (new.get("metadata") or {}).get("annotations") or {}
        if ANN_INGRESS_CLASS in ann:
            req.warnings.append(f'annotation "{ANN_INGRESS_CLASS}" is deprecated, please use '
                                "'spec.ingressClassName' instead")
            return
        if spec.get("ingressClassName") is not None:
            return
        items, _ = self.registry.store.list(self._ic.key_prefix(None))
        dc = pick_default([kv.obj for kv in items])
        if dc is not None:
            spec["ingressClassName"] = dc["metadata"]["name"]


def install(registry: Registry) -> None:
    """Append the DefaultIngressClass plugin to `registry.admission`."""
    registry.admission.append(IngressAdmission(registry))

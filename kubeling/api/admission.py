"""Admission plugins for storage, installed into the registry's admission chain.

- DefaultStorageClass (plugin/pkg/admission/storage/storageclass/setdefault): on CREATE of a claim
  with no class at all (an explicit "" is a class), fill in the default StorageClass — the one
  annotated storageclass.kubernetes.io/is-default-class=true, the newest when several are.
- StorageObjectInUseProtection (plugin/pkg/admission/storage/storageobjectinuseprotection): on
  CREATE, claims get the kubernetes.io/pvc-protection finalizer and volumes kubernetes.io/pv-protection.
- PersistentVolumeClaimResize (plugin/pkg/admission/storage/persistentvolume/resize): growing a bound
  claim's request is forbidden unless its class sets allowVolumeExpansion.

Hooks run for every write, so each returns at once for other resources.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import (
    certificates,
    errors,
    ingress_admission,
    limitrange_admission,
    pod_admission,
    priority_admission,
    quota_admission,
    runtimeclass_admission,
    serviceaccount_admission,
    webhook_admission,
)
from .defaults import quantity_value
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"

Obj = dict[str, Any]


def _claim_has_class(pvc: Obj) -> bool:
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    return ANN_BETA_STORAGE_CLASS in ann or (pvc.get("spec") or {}).get("storageClassName") is not None


def _claim_class(pvc: Obj) -> str:
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


def _storage(pvc: Obj) -> Fraction:
    req = ((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}
    try:
        return quantity_value(req.get("storage")) if req.get("storage") is not None else Fraction(0)
    except Exception:
        return Fraction(0)


def _forbidden(rt: ResourceType, obj: Obj, message: str) -> errors.ApiError:
    name = (obj.get("metadata") or {}).get("name", "")
    resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return errors.ApiError(403, "Forbidden", f'{resource} "{name}" is forbidden: {message}',
                           name=name, group=rt.group, kind=rt.plural)


class StorageAdmission:
    """The three storage plugins as one hook; reads StorageClasses straight from the store."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._sc = by_qualified("storageclasses.storage.k8s.io")

    def _classes(self) -> list[Obj]:
        items, _ = self.registry.store.list(self._sc.key_prefix(None))
        return [kv.obj for kv in items]

    def _class(self, name: str) -> Obj | None:
        kv = self.registry.store.get(self._sc.key(None, name))
        return kv.obj if kv is not None else None

    def default_class(self) -> Obj | None:
        defaults = []
        for sc in self._classes():
            ann = sc["metadata"].get("annotations") or {}
            if ann.get(ANN_DEFAULT_CLASS) == "true" or ann.get(ANN_BETA_DEFAULT_CLASS) == "true":
                defaults.append(sc)
        if not defaults:
            return None
        defaults.sort(key=lambda c: c["metadata"]["name"])
        defaults.sort(key=lambda c: c["metadata"].get("creationTimestamp") or "", reverse=True)
        return defaults[0]

    def __call__(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        q = rt.qualified
        if q == "persistentvolumeclaims":
            if op == "CREATE" and new is not None:
                self._default_class(new)
                _add_finalizer(new, PVC_PROTECTION_FINALIZER)
            elif op == "UPDATE" and new is not None and old is not None:
                self._resize(rt, new, old)
        elif q == "persistentvolumes" and op == "CREATE" and new is not None:
            _add_finalizer(new, PV_PROTECTION_FINALIZER)

    def _default_class(self, pvc: Obj) -> None:
        if _claim_has_class(pvc):
            return
        sc = self.default_class()
        if sc is None:
            return
        pvc.setdefault("spec", {})["storageClassName"] = sc["metadata"]["name"]

    def _resize(self, rt: ResourceType, pvc: Obj, old: Obj) -> None:
        if _storage(pvc) <= _storage(old):
            return
        if ((old.get("status") or {}).get("phase")) != "Bound":
            # Validation rejects spec changes of unbound claims (422) before this plugin would
            # ("Only bound persistent volume claims can be expanded"); leave that answer to it.
            return
        cls, old_cls = _claim_class(pvc), _claim_class(old)
        allowed = False
        if cls and old_cls and cls == old_cls:
            sc = self._class(cls)
            allowed = bool(sc is not None and sc.get("allowVolumeExpansion"))
        if not allowed:
            raise _forbidden(rt, pvc, "only dynamically provisioned pvc can be resized and the storageclass "
                                      "that provisions the pvc must support resize")


def _add_finalizer(obj: Obj, name: str) -> None:
    md = obj.setdefault("metadata", {})
    fins = md.get("finalizers") or []
    if name not in fins:
        md["finalizers"] = [*fins, name]


def install(registry: Registry, settings: dict[str, Any] | None = None) -> None:
    """Append the admission plugins (storage, pods) to `registry.admission`."""
    registry.admission.append(StorageAdmission(registry))
    serviceaccount_admission.install(registry)
    registry.admission.append(pod_admission.default_toleration_seconds)
    priority_admission.install(registry)
    runtimeclass_admission.install(registry)
    registry.validating.append(certificates.subject_restriction)  # CertificateSubjectRestriction
    ingress_admission.install(registry)
    limitrange_admission.install(registry)
    webhook_admission.install(registry, mutating=True)  # MutatingAdmissionWebhook: last mutating plugin
    webhook_admission.install(registry, mutating=False)  # ValidatingAdmissionWebhook, before ResourceQuota
    quota_admission.install(registry)  # last validating plugin, as upstream's ResourceQuota

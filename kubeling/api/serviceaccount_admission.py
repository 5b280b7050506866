"""The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount), for pod CREATE.

- A pod that names no ServiceAccount gets `default` (and the deprecated `serviceAccount` mirror field).
- The ServiceAccount must exist, else 403: `pods "x" is forbidden: error looking up service account
  team/missing: serviceaccount "missing" not found`. The `default` one is created by the ServiceAccount
  controller right after its namespace; like upstream, the plugin waits for it a little (up to ~2 s).
- Unless the pod or its ServiceAccount opts out (automountServiceAccountToken: false), every container
  mounts a projected `kube-api-access-xxxxx` volume (bound token, kube-root-ca.crt, namespace) at
  /var/run/secrets/kubernetes.io/serviceaccount, exactly as upstream projects it.
- Pods without imagePullSecrets inherit the ServiceAccount's.
- Mirror pods (kubernetes.io/config.mirror) may not reference ServiceAccounts, secrets or token projections.
- With the `kubernetes.io/enforce-mountable-secrets: "true"` annotation on the ServiceAccount, pods may only
  use the secrets it lists.

ServiceAccounts are read straight from the store: one dict lookup per pod create.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from . import errors, meta
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

DEFAULT_SA = "default"
VOLUME_PREFIX = "kube-api-access-"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ENFORCE_MOUNTABLE = "kubernetes.io/enforce-mountable-secrets"
DEFAULT_WAIT = 2.0  # upstream retries the live lookup of `default` 10 times, 100-200 ms apart
POLL = 0.02

Obj = dict[str, Any]


def token_volume(name: str) -> Obj:
    """TokenVolumeSource(): the projected volume upstream mounts into every pod."""
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def _forbidden(rt: ResourceType, obj: Obj, message: str) -> errors.ApiError:
    name = (obj.get("metadata") or {}).get("name", "")
    return errors.ApiError(403, "Forbidden", f'{rt.plural} "{name}" is forbidden: {message}',
                           name=name, group=rt.group, kind=rt.plural)


def _secret_refs_allowed(sa: Obj, pod: Obj) -> str | None:
    """limitSecretReferences: the first reference the ServiceAccount does not allow, as upstream words it."""
    spec = pod.get("spec") or {}
    san = sa["metadata"]["name"]
    mountable = {s.get("name") for s in sa.get("secrets") or ()}
    for v in spec.get("volumes") or ():
        sec = v.get("secret")
        if isinstance(sec, dict) and sec.get("secretName") not in mountable:
            return (f'volume with secret.secretName="{sec.get("secretName")}" is not allowed because service '
                    f"account {san} does not reference that secret")
    for field, what in (("initContainers", "init container"), ("containers", "container")):
        for c in spec.get(field) or ():
            for e in c.get("env") or ():
                ref = ((e.get("valueFrom") or {}).get("secretKeyRef") or {})
                if ref and ref.get("name") not in mountable:
                    return (f'{what} {c.get("name")} with envVar {e.get("name")} referencing secret.secretName='
                            f'"{ref.get("name")}" is not allowed because service account {san} does not reference '
                            "that secret")
            for ef in c.get("envFrom") or ():
                ref = ef.get("secretRef") or {}
                if ref and ref.get("name") not in mountable:
                    return (f'{what} {c.get("name")} with envFrom referencing secret.secretName="{ref.get("name")}" '
                            f"is not allowed because service account {san} does not reference that secret")
    pulls = {s.get("name") for s in sa.get("imagePullSecrets") or ()}
    for i, ref in enumerate(spec.get("imagePullSecrets") or ()):
        if ref.get("name") not in pulls:
            return (f'imagePullSecrets[{i}].name="{ref.get("name")}" is not allowed because service account {san} '
                    "does not reference that imagePullSecret")
    return None


def _mount_token(pod: Obj) -> None:
    """mountServiceAccountToken: one projected volume, mounted by every container that lacks the path."""
    spec = pod["spec"]
    vol_name = ""
    for v in spec.get("volumes") or ():
        if str(v.get("name", "")).startswith(VOLUME_PREFIX):
            vol_name = v["name"]
            break
    has_volume = bool(vol_name)
    if not vol_name:
        vol_name = VOLUME_PREFIX + meta.random_suffix()
    needs = False
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or ():
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [*mounts, {"name": vol_name, "readOnly": True, "mountPath": MOUNT_PATH}]
            needs = True
    if needs and not has_volume:
        spec["volumes"] = [*(spec.get("volumes") or []), token_volume(vol_name)]


class ServiceAccountAdmission:
    """The plugin as a registry admission hook."""

    def __init__(self, registry: Registry, wait: float = DEFAULT_WAIT) -> None:
        self.registry = registry
        self.wait = wait
        self._sa = by_qualified("serviceaccounts")

    async def _service_account(self, ns: str, name: str) -> Obj | None:
        store = self.registry.store
        key = self._sa.key(ns, name)
        kv = store.get(key)
        if kv is None and name == DEFAULT_SA and self.wait > 0:
            deadline = time.monotonic() + self.wait
            while kv is None and time.monotonic() < deadline:
                await asyncio.sleep(POLL)
                kv = store.get(key)
        return kv.obj if kv is not None else None

    def __call__(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> Any:
        if op != "CREATE" or rt.qualified != "pods" or new is None:
            return None
        return self._admit(rt, new)

    async def _admit(self, rt: ResourceType, pod: Obj) -> None:
        md = pod.get("metadata") or {}
        spec = pod.setdefault("spec", {})
        if MIRROR_ANNOTATION in (md.get("annotations") or {}):
            self._validate_mirror(rt, pod)
            return
        if not spec.get("serviceAccountName"):
            # v1 conversion reads the deprecated field when the new one is empty.
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SA
        name = spec["serviceAccountName"]
        spec["serviceAccount"] = name  # conversion to v1 always mirrors it
        ns = md.get("namespace") or ""
        sa = await self._service_account(ns, name)
        if sa is None:
            raise _forbidden(rt, pod, f"error looking up service account {ns}/{name}: "
                                      f'serviceaccount "{name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken")
        if automount is not False:
            _mount_token(pod)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in sa["imagePullSecrets"]]
        if (sa["metadata"].get("annotations") or {}).get(ENFORCE_MOUNTABLE, "").lower() in ("true", "1", "t"):
            msg = _secret_refs_allowed(sa, pod)
            if msg:
                raise _forbidden(rt, pod, msg)

    @staticmethod
    def _validate_mirror(rt: ResourceType, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        if spec.get("serviceAccountName"):
            raise _forbidden(rt, pod, "a mirror pod may not reference service accounts")
        for v in spec.get("volumes") or ():
            if v.get("secret") is not None:
                raise _forbidden(rt, pod, "a mirror pod may not reference secrets")
            for src in (v.get("projected") or {}).get("sources") or ():
                if src.get("serviceAccountToken") is not None:
                    raise _forbidden(rt, pod, "a mirror pod may not use ServiceAccountToken volume projections")
        for field in ("initContainers", "containers"):
            for c in spec.get(field) or ():
                for e in c.get("env") or ():
                    if ((e.get("valueFrom") or {}).get("secretKeyRef")) is not None:
                        raise _forbidden(rt, pod, "a mirror pod may not reference secrets")
                for ef in c.get("envFrom") or ():
                    if ef.get("secretRef") is not None:
                        raise _forbidden(rt, pod, "a mirror pod may not reference secrets")
        if spec.get("imagePullSecrets"):
            raise _forbidden(rt, pod, "a mirror pod may not reference secrets")


def install(registry: Registry) -> None:
    registry.admission.append(ServiceAccountAdmission(registry))

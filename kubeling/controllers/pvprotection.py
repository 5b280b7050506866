"""Storage object in-use protection (upstream pkg/controller/volume/pvcprotection and pvprotection).

pvc-protection: a claim being deleted keeps its kubernetes.io/pvc-protection finalizer while a
scheduled pod references it (so it shows Terminating); the finalizer goes once no such pod is
left. Before deciding a claim is unused it confirms with a live list of the namespace's pods, as
upstream does, since the pod cache may lag. Claims without the finalizer (created before the
admission plugin) get it added.

pv-protection: a volume being deleted keeps kubernetes.io/pv-protection while it is Bound.
"""
from __future__ import annotations

import logging
from typing import Any

from ..api.errors import ApiError
from ..client.client import deepcopy
from ..client.context import ComponentContext
from ..client.informer import Controller, meta_key, split_key
from . import register_controller
from .persistentvolume_utils import (
    INDEX_POD_PVC,
    PV_PROTECTION_FINALIZER,
    PVC_PROTECTION_FINALIZER,
    index_pod_by_pvc,
    is_deletion_candidate,
    is_pod_terminated,
    needs_finalizer,
    pod_claim_names,
    pod_uses_claim,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]


async def set_finalizer(client: Any, resource: str, obj: Obj, finalizer: str, present: bool) -> None:
    """Write a copy of obj with finalizer added (present) or removed; an object that is gone
    meanwhile needs neither."""
    new = deepcopy(obj)
    fins = [f for f in new["metadata"].get("finalizers") or () if f != finalizer]
    if present:
        fins.append(finalizer)
    new["metadata"]["finalizers"] = fins
    try:
        await client.update(resource, new)
    except ApiError as e:
        if e.code != 404:
            raise


class PVCProtectionController(Controller):
    name = "pvc-protection"

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.claims = ctx.informers.informer("persistentvolumeclaims")
        self.pods = ctx.informers.informer("pods")
        self.pods.add_indexer(INDEX_POD_PVC, index_pod_by_pvc)
        self.claims.add_handlers(self._claim_changed, lambda o, n: self._claim_changed(n), None)
        self.pods.add_handlers(lambda p: self._pod_changed(None, p, False),
                               lambda o, n: self._pod_changed(o, n, False),
                               lambda p: self._pod_changed(None, p, True))

    def _claim_changed(self, claim: Obj) -> None:
        if needs_finalizer(claim, PVC_PROTECTION_FINALIZER) or \
                is_deletion_candidate(claim, PVC_PROTECTION_FINALIZER):
            self.enqueue(claim)

    def _pod_changed(self, old: Obj | None, pod: Obj, deleted: bool) -> None:
        self._enqueue_claims(pod, deleted)
        if old is not None and old["metadata"].get("uid") != pod["metadata"].get("uid"):
            self._enqueue_claims(old, True)

    def _enqueue_claims(self, pod: Obj, deleted: bool) -> None:
        # Only pods that can no longer hold a claim can free one.
        if not deleted and not is_pod_terminated(pod) and (pod.get("spec") or {}).get("nodeName"):
            return
        ns = pod["metadata"].get("namespace")
        for c in pod_claim_names(pod):
            self.queue.add(f"{ns}/{c}")

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.claims, self.pods, workers=workers)

    async def sync(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None:
            return
        if is_deletion_candidate(claim, PVC_PROTECTION_FINALIZER):
            if self._in_use_cached(claim):
                return  # the pod's deletion event will requeue the claim
            if await self._in_use_live(claim):
                # The informer has seen the pod go but the store still has it: look again shortly.
                self.queue.add_after(key, 1.0)
            else:
                await set_finalizer(self.client, "persistentvolumeclaims", claim, PVC_PROTECTION_FINALIZER, False)
                log.info("removed protection finalizer from PVC %s", key)
            return
        if needs_finalizer(claim, PVC_PROTECTION_FINALIZER):
            await set_finalizer(self.client, "persistentvolumeclaims", claim, PVC_PROTECTION_FINALIZER, True)

    def _in_use_cached(self, claim: Obj) -> bool:
        return any(pod_uses_claim(p, claim) for p in self.pods.by_index(INDEX_POD_PVC, meta_key(claim)))

    async def _in_use_live(self, claim: Obj) -> bool:
        """A live list guards against removing the finalizer while a pod the informer missed uses it."""
        ns, _ = split_key(meta_key(claim))
        pods, _ = await self.client.list("pods", ns)
        return any(pod_uses_claim(p, claim) for p in pods)


class PVProtectionController(Controller):
    name = "pv-protection"

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.pvs = ctx.informers.informer("persistentvolumes")
        self.pvs.add_handlers(self._changed, lambda o, n: self._changed(n), None)

    def _changed(self, pv: Obj) -> None:
        if needs_finalizer(pv, PV_PROTECTION_FINALIZER) or is_deletion_candidate(pv, PV_PROTECTION_FINALIZER):
            self.enqueue(pv)

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.pvs, workers=workers)

    async def sync(self, key: str) -> None:
        pv = self.pvs.get(key)
        if pv is None:
            return
        if is_deletion_candidate(pv, PV_PROTECTION_FINALIZER):
            # In use while Bound: the PV controller keeps the phase current.
            if (pv.get("status") or {}).get("phase") != "Bound":
                await set_finalizer(self.client, "persistentvolumes", pv, PV_PROTECTION_FINALIZER, False)
            return
        if needs_finalizer(pv, PV_PROTECTION_FINALIZER):
            await set_finalizer(self.client, "persistentvolumes", pv, PV_PROTECTION_FINALIZER, True)


start_pvc_protection = register_controller("pvc-protection", PVCProtectionController)


start_pv_protection = register_controller("pv-protection", PVProtectionController)

"""The persistent volume binder (upstream pkg/controller/volume/persistentvolume) and a simulated
volume expander.

Binder: claims bind to the smallest Available volume that fits (request, access modes,
volumeMode, class, selector) or to the volume they or it name (pre-binding); claims of a class
with a provisioner are handed to it (annotation volume.kubernetes.io/storage-provisioner);
WaitForFirstConsumer claims wait for the scheduler's volume.kubernetes.io/selected-node. Volumes
go Available → Bound → Released, then are retained, recycled or deleted by their reclaim policy;
a bound claim whose volume disappears is Lost. Binding is the two-step write upstream does
(pv.spec.claimRef first, then pvc.spec.volumeName), so a restart mid-way converges.

Differences from upstream, on purpose:
- Events drive everything (a new Available volume re-examines pending claims at once) and a
  15 s resync, upstream's default period, catches anything else.
- Static binding of WaitForFirstConsumer claims is upstream the scheduler's job; here, once a
  claim carries volume.kubernetes.io/selected-node, the binder matches it against unbound
  volumes with the node's labels (the scheduler's FindMatchingVolume path) before provisioning.
- Writes go straight to the API; the Recycle/Delete operations run in the sync, not goroutines.
- Matching keeps free volumes sorted by size per (class, access modes), so a claim costs a
  bisection instead of a scan of every volume; the answer is the same (ties go by name).

Expander: a bound claim whose request grows beyond its capacity, in a class that allows
expansion, gets its volume grown (spec.capacity) and then its status.capacity, as the external
resizer and the kubelet would report them.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import deepcopy
from ..client.context import ComponentContext
from ..client.informer import Controller, meta_key
from . import register_controller
from .persistentvolume_utils import (
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_DYNAMICALLY_PROVISIONED,
    ANN_MIGRATED_TO,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    INDEX_POD_PVC,
    INDEX_PV_CLAIM,
    FreeVolumeIndex,
    check_volume_satisfies_claim,
    claim_class,
    claim_has_class,
    claim_key,
    claim_reference,
    claim_status_capacity,
    claimref_key,
    default_class,
    find_best_match_indexed,
    index_pod_by_pvc,
    index_pv_by_claim,
    is_delay_binding,
    is_pod_terminated,
    is_volume_bound_to_claim,
    resource_version,
    storage_request,
    volume_capacity,
    volume_class,
    volume_mode_mismatch,
)

log = logging.getLogger(__name__)

PV = "persistentvolumes"
PVC = "persistentvolumeclaims"
SC = "storageclasses.storage.k8s.io"
RESYNC_PERIOD = 15.0  # upstream --pvclaimbinder-sync-period default
_HOSTPATH_DELETABLE = re.compile("/tmp/.+")  # the in-tree hostPath deleter/recycler only touches /tmp

Obj = dict[str, Any]


def _ann(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def _phase(obj: Obj) -> str:
    return (obj.get("status") or {}).get("phase") or ""


class ClaimVolumeController(Controller):
    """A controller with one queue for claims and volumes: ("c", "<ns>/<name>") keys go to
    `sync_claim`, ("v", "<name>") keys to `sync_volume`. Syncs are cheap, so keys are never held."""

    hold_factor = 0.0

    async def sync(self, key: tuple[str, str]) -> None:  # type: ignore[override]
        kind, name = key
        if kind == "c":
            await self.sync_claim(name)
        else:
            await self.sync_volume(name)

    async def sync_claim(self, key: str) -> None:
        raise NotImplementedError

    async def sync_volume(self, name: str) -> None:
        raise NotImplementedError


class _OwnWrites:
    """Objects this controller wrote that its informer may not show yet (upstream's
    storeVolumeUpdate / storeClaimUpdate), so a sync never acts on its own stale past: reads return
    the newer of the informer's copy and ours, and ours is dropped once the informer caught up."""

    def __init__(self, informer: Any) -> None:
        self.informer = informer
        self._newer: dict[str, Obj] = {}

    def get(self, key: str) -> Obj | None:
        cached = self.informer.get(key)
        o = self._newer.get(key)
        if o is None:
            return cached
        if cached is not None and resource_version(o) > resource_version(cached):
            return o
        self._newer.pop(key, None)
        return cached

    def wrote(self, obj: Obj) -> None:
        self._newer[meta_key(obj)] = obj

    def observed(self, obj: Obj) -> None:
        """The informer delivered obj: forget our copy unless it is still newer."""
        key = meta_key(obj)
        o = self._newer.get(key)
        if o is not None and resource_version(o) <= resource_version(obj):
            self._newer.pop(key, None)

    def forget(self, key: str) -> None:
        self._newer.pop(key, None)


class PersistentVolumeController(ClaimVolumeController):
    """Binds claims and volumes and runs reclaim policies."""

    name = "persistentvolume-binder"
    workers = 16
    quiet_errors = (404, 409)

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        f = ctx.informers
        self.pvs = f.informer(PV)
        self.pvs.add_indexer(INDEX_PV_CLAIM, index_pv_by_claim)
        self.claims = f.informer(PVC)
        self.classes = f.informer(SC)
        self.pods = f.informer("pods")
        self.pods.add_indexer(INDEX_POD_PVC, index_pod_by_pvc)
        self.nodes = f.informer("nodes")
        self.recorder = ctx.recorder("persistentvolume-controller")
        self._pv_new = _OwnWrites(self.pvs)
        self._claim_new = _OwnWrites(self.claims)
        # Volume name -> claim key while a bind is in flight: concurrent workers skip it.
        self._reserved: dict[str, str] = {}
        self._free = FreeVolumeIndex()
        self._unbound: dict[str, str] = {}  # claims without bind-completed -> their class
        self._dirty_classes: set[str] = set()
        self._flush_scheduled = False
        self.pvs.add_handlers(self._pv_added, self._pv_updated, self._pv_deleted)
        self.claims.add_handlers(self._claim_added, self._claim_updated, self._claim_deleted)
        self.classes.add_handlers(lambda o: self._enqueue_unbound(), lambda o, n: self._enqueue_unbound(), None)

    # ---- event handlers ------------------------------------------------------------------------
    def _pv_added(self, pv: Obj) -> None:
        self._pv_changed(None, pv)

    def _pv_updated(self, old: Obj, pv: Obj) -> None:
        self._pv_new.observed(pv)
        self._pv_changed(old, pv)

    def _pv_changed(self, old: Obj | None, pv: Obj) -> None:
        self._free.update(self._pv(pv["metadata"]["name"]) or pv)
        self.queue.add(("v", pv["metadata"]["name"]))
        ck = claimref_key(pv)
        if ck is not None:
            self.queue.add(("c", ck))
        elif _phase(pv) == "Available" and (old is None or _phase(old) != "Available"
                                             or (old.get("spec") or {}).get("claimRef")):
            # A volume became available: pending claims of its class may bind now.
            self._wake_class(volume_class(pv))

    def _pv_deleted(self, pv: Obj) -> None:
        self._free.remove(pv["metadata"]["name"])
        self._pv_new.forget(pv["metadata"]["name"])
        ck = claimref_key(pv)
        if ck is not None:
            self.queue.add(("c", ck))

    def _wake_class(self, cls: str) -> None:
        """Coalesce bursts (a thousand volumes turning Available) into one pass over pending claims."""
        self._dirty_classes.add(cls)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_classes)

    def _flush_classes(self) -> None:
        classes, self._dirty_classes = self._dirty_classes, set()
        self._flush_scheduled = False
        for key, cls in list(self._unbound.items()):
            if cls in classes:
                self.queue.add(("c", key))

    def _claim_added(self, c: Obj) -> None:
        self._claim_changed(c)

    def _claim_updated(self, old: Obj, c: Obj) -> None:
        self._claim_new.observed(c)
        self._claim_changed(c)

    def _claim_changed(self, c: Obj) -> None:
        key = meta_key(c)
        if ANN_BIND_COMPLETED in _ann(c):
            self._unbound.pop(key, None)
        else:
            self._unbound[key] = claim_class(c)
        self.queue.add(("c", key))

    def _claim_deleted(self, c: Obj) -> None:
        key = meta_key(c)
        self._unbound.pop(key, None)
        self._claim_new.forget(key)
        vn = (c.get("spec") or {}).get("volumeName")
        if vn:
            self.queue.add(("v", vn))
        for pv in self.pvs.by_index(INDEX_PV_CLAIM, key):
            self.queue.add(("v", pv["metadata"]["name"]))

    def _enqueue_unbound(self) -> None:
        for key in list(self._unbound):
            self.queue.add(("c", key))

    # ---- fresh reads -----------------------------------------------------------------------------
    def _pv(self, name: str) -> Obj | None:
        return self._pv_new.get(name)

    def _claim(self, key: str) -> Obj | None:
        return self._claim_new.get(key)

    def _class(self, name: str) -> Obj | None:
        return self.classes.get(name)

    # ---- writes ----------------------------------------------------------------------------------
    async def _write_pv(self, obj: Obj, status: bool = False) -> Obj:
        new = await (self.client.update_status(PV, obj) if status else self.client.update(PV, obj))
        self._pv_new.wrote(new)
        self._free.update(new)
        return new

    async def _write_claim(self, obj: Obj, status: bool = False) -> Obj:
        new = await (self.client.update_status(PVC, obj) if status else self.client.update(PVC, obj))
        self._claim_new.wrote(new)
        return new

    # ---- lifecycle -------------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.pvs, self.claims, self.classes, self.pods, self.nodes, workers=workers,
                               then=self._start_resync)

    def _start_resync(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._resync()))

    async def _resync(self) -> None:
        """Every RESYNC_PERIOD, every claim and volume is synced again (upstream's resync)."""
        while True:
            await asyncio.sleep(RESYNC_PERIOD)
            for key in list(self.claims.cache):
                self.queue.add(("c", key))
            for name in list(self.pvs.cache):
                self.queue.add(("v", name))

    # ---- claims ----------------------------------------------------------------------------------
    async def sync_claim(self, key: str) -> None:
        claim = self._claim(key)
        if claim is None:
            return
        if ANN_BIND_COMPLETED not in _ann(claim):
            await self._sync_unbound_claim(claim)
        else:
            await self._sync_bound_claim(claim)

    def _find_best(self, claim: Obj, delay: bool, node: Obj | None) -> Obj | None:
        key = claim_key(claim)
        prebound = [p for p in (self._pv(pv["metadata"]["name"]) for pv in self.pvs.by_index(INDEX_PV_CLAIM, key))
                    if p is not None]
        excluded = {n for n, k in self._reserved.items() if k != key}
        return find_best_match_indexed(claim, prebound, self._free, self._pv, delay, node, excluded)

    async def _sync_unbound_claim(self, claim: Obj) -> None:
        spec = claim.get("spec") or {}
        ann = _ann(claim)
        if not spec.get("volumeName"):
            delay = is_delay_binding(claim, self._class)
            node = None
            if delay and ann.get(ANN_SELECTED_NODE):
                node = self.nodes.get(ann[ANN_SELECTED_NODE])
            volume = self._find_best(claim, delay, node)
            if volume is not None:
                await self._bind(volume, claim)
                return
            if await self._assign_default_class(claim):
                return
            if delay and ANN_SELECTED_NODE not in ann:
                self._event_unbound_delay_binding(claim)
            elif claim_class(claim):
                await self._provision(claim)
                return
            else:
                self.recorder.event(claim, "Normal", "FailedBinding",
                                    "no persistent volumes available for this claim and no storage class is set")
            await self._update_claim_status(claim, "Pending", None)
            return
        # The user asked for a specific volume.
        volume = self._pv(spec["volumeName"])
        if volume is None:
            await self._update_claim_status(claim, "Pending", None)
            return
        if not (volume.get("spec") or {}).get("claimRef"):
            why = check_volume_satisfies_claim(volume, claim)
            if why is not None:
                self.recorder.event(claim, "Warning", "VolumeMismatch",
                                    f'Cannot bind to requested volume "{volume["metadata"]["name"]}": {why}')
                await self._update_claim_status(claim, "Pending", None)
                return
            await self._bind(volume, claim)
        elif is_volume_bound_to_claim(volume, claim):
            await self._bind(volume, claim)
        else:
            self.recorder.event(claim, "Warning", "FailedBinding",
                                f'volume "{volume["metadata"]["name"]}" already bound to a different claim.')
            if ANN_BOUND_BY_CONTROLLER not in ann:
                await self._update_claim_status(claim, "Pending", None)

    async def _sync_bound_claim(self, claim: Obj) -> None:
        vn = (claim.get("spec") or {}).get("volumeName")
        if not vn:
            await self._update_claim_status_with_event(
                claim, "Lost", None, "Warning", "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
            return
        volume = self._pv(vn)
        if volume is None:
            await self._update_claim_status_with_event(
                claim, "Lost", None, "Warning", "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or ref.get("uid") == claim["metadata"].get("uid"):
            await self._bind(volume, claim)
        else:
            await self._update_claim_status_with_event(
                claim, "Lost", None, "Warning", "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly")

    def _event_unbound_delay_binding(self, claim: Obj) -> None:
        names = sorted(p["metadata"]["name"] for p in self.pods.by_index(INDEX_POD_PVC, claim_key(claim))
                       if not is_pod_terminated(p) and not (p.get("spec") or {}).get("nodeName"))
        if not names:
            self.recorder.event(claim, "Normal", "WaitForFirstConsumer",
                                "waiting for first consumer to be created before binding")
        elif len(names) == 1:
            self.recorder.event(claim, "Normal", "WaitForPodScheduled", f"waiting for pod {names[0]} to be scheduled")
        else:
            self.recorder.event(claim, "Normal", "WaitForPodScheduled",
                                f"waiting for pods {','.join(names)} to be scheduled")

    async def _assign_default_class(self, claim: Obj) -> bool:
        """Retroactive default StorageClass assignment (GA in 1.28) for claims created without one."""
        if claim_has_class(claim):
            return False
        sc = default_class(self.classes.list())
        if sc is None:
            return False
        new = deepcopy(claim)
        new.setdefault("spec", {})["storageClassName"] = sc["metadata"]["name"]
        await self._write_claim(new)
        return True

    async def _provision(self, claim: Obj) -> None:
        """provisionClaim: in-tree plugins do not exist here, so every provisioner is external;
        the claim is annotated for it and the event says who is expected to act."""
        cname = claim_class(claim)
        sc = self._class(cname)
        if sc is None:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{cname}" not found')
            return
        prov = sc.get("provisioner") or ""
        if prov.startswith("kubernetes.io/"):
            self.recorder.event(claim, "Warning", "ProvisioningFailed", f"no volume plugin matched name: {prov}")
            return
        if _ann(claim).get(ANN_STORAGE_PROVISIONER) != prov:
            new = deepcopy(claim)
            ann = new["metadata"].setdefault("annotations", {})
            ann[ANN_BETA_STORAGE_PROVISIONER] = prov
            ann[ANN_STORAGE_PROVISIONER] = prov
            claim = await self._write_claim(new)
        self.recorder.event(claim, "Normal", "ExternalProvisioning",
                            f"Waiting for a volume to be created either by the external provisioner '{prov}' or "
                            "manually by the system administrator. If volume creation is delayed, please verify "
                            "that the provisioner is running and correctly registered.")

    # ---- binding -------------------------------------------------------------------------------
    async def _bind(self, volume: Obj, claim: Obj) -> None:
        """Volume first (claimRef, then phase), claim second (volumeName, then phase)."""
        name = volume["metadata"]["name"]
        key = claim_key(claim)
        self._reserved[name] = key
        try:
            volume = await self._bind_volume_to_claim(volume, claim)
            volume = await self._update_volume_phase(volume, "Bound", "")
            claim = await self._bind_claim_to_volume(claim, volume)
            await self._update_claim_status(claim, "Bound", volume)
        finally:
            if self._reserved.get(name) == key:
                del self._reserved[name]

    async def _bind_volume_to_claim(self, volume: Obj, claim: Obj) -> Obj:
        set_by_controller = not is_volume_bound_to_claim(volume, claim)
        ref = (volume.get("spec") or {}).get("claimRef")
        cmd = claim["metadata"]
        new = None
        if not ref or ref.get("name") != cmd["name"] or ref.get("namespace") != cmd.get("namespace") \
                or ref.get("uid") != cmd.get("uid"):
            new = deepcopy(volume)
            new.setdefault("spec", {})["claimRef"] = claim_reference(claim)
        if set_by_controller and ANN_BOUND_BY_CONTROLLER not in _ann(volume):
            new = new or deepcopy(volume)
            new["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
        if new is None:
            return volume
        return await self._write_pv(new)

    async def _bind_claim_to_volume(self, claim: Obj, volume: Obj) -> Obj:
        new = None
        vname = volume["metadata"]["name"]
        if (claim.get("spec") or {}).get("volumeName") != vname:
            new = deepcopy(claim)
            new.setdefault("spec", {})["volumeName"] = vname
            new["metadata"].setdefault("annotations", {}).setdefault(ANN_BOUND_BY_CONTROLLER, "yes")
        if ANN_BIND_COMPLETED not in _ann(claim):
            new = new or deepcopy(claim)
            new["metadata"].setdefault("annotations", {})[ANN_BIND_COMPLETED] = "yes"
        if new is None:
            return claim
        return await self._write_claim(new)

    async def _update_claim_status(self, claim: Obj, phase: str, volume: Obj | None) -> Obj:
        status = claim.get("status") or {}
        new = deepcopy(claim)
        st = new.setdefault("status", {})
        dirty = False
        if status.get("phase") != phase:
            st["phase"] = phase
            dirty = True
        if volume is None:
            for k in ("accessModes", "capacity"):
                if status.get(k) is not None:
                    st.pop(k, None)
                    dirty = True
        else:
            vspec = volume.get("spec") or {}
            if status.get("accessModes") != vspec.get("accessModes"):
                if vspec.get("accessModes") is None:
                    st.pop("accessModes", None)
                else:
                    st["accessModes"] = list(vspec["accessModes"])
                dirty = True
            if status.get("phase") != phase:
                # Capacity is set when the claim becomes Bound only: a later difference may be a
                # deliberate file system vs. device size split.
                if "storage" not in (vspec.get("capacity") or {}):
                    raise ApiError(500, "InternalError",
                                   f'PersistentVolume "{volume["metadata"]["name"]}" is without a storage capacity')
                have = claim_status_capacity(claim)
                if have is None or have != volume_capacity(volume):
                    st["capacity"] = dict(vspec["capacity"])
                    dirty = True
        if not dirty:
            return claim
        return await self._write_claim(new, status=True)

    async def _update_claim_status_with_event(self, claim: Obj, phase: str, volume: Obj | None, etype: str,
                                              reason: str, message: str) -> Obj:
        if _phase(claim) == phase:
            return claim
        new = await self._update_claim_status(claim, phase, volume)
        self.recorder.event(new, etype, reason, message)
        return new

    async def _update_volume_phase(self, volume: Obj, phase: str, message: str) -> Obj:
        if _phase(volume) == phase:
            return volume
        new = deepcopy(volume)
        st = new.setdefault("status", {})
        st["phase"] = phase
        if message:
            st["message"] = message
        else:
            st.pop("message", None)
        st["lastPhaseTransitionTime"] = meta.now_rfc3339()
        return await self._write_pv(new, status=True)

    async def _update_volume_phase_with_event(self, volume: Obj, phase: str, etype: str, reason: str,
                                              message: str) -> Obj:
        if _phase(volume) == phase:
            return volume
        new = await self._update_volume_phase(volume, phase, message)
        self.recorder.event(new, etype, reason, message)
        return new

    async def _unbind_volume(self, volume: Obj) -> None:
        new = deepcopy(volume)
        ann = new["metadata"].get("annotations") or {}
        if ANN_BOUND_BY_CONTROLLER in ann:
            new["spec"].pop("claimRef", None)
            ann.pop(ANN_BOUND_BY_CONTROLLER, None)
            if not ann:
                new["metadata"].pop("annotations", None)
        else:
            new["spec"]["claimRef"].pop("uid", None)  # pre-bound by the user: keep the reservation
        saved = await self._write_pv(new)
        await self._update_volume_phase(saved, "Available", "")

    # ---- volumes -------------------------------------------------------------------------------
    async def sync_volume(self, name: str) -> None:
        volume = self._pv(name)
        if volume is None:
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref:
            await self._update_volume_phase(volume, "Available", "")
            return
        if not ref.get("uid"):
            # Reserved for a claim that has not bound yet; the claim's sync does that.
            await self._update_volume_phase(volume, "Available", "")
            return
        ckey = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
        claim = self._claim(ckey)
        phase = _phase(volume)
        if claim is None and phase not in ("Released", "Failed"):
            # Under load the claim may not be in the cache yet: ask the API before releasing.
            claim = await self._get_claim(ref)
        if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
            claim = await self._get_claim(ref)
            if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
                claim = None
        if claim is None:
            if phase not in ("Released", "Failed"):
                volume = await self._update_volume_phase(volume, "Released", "")
            await self._reclaim(volume)
            return
        cspec = claim.get("spec") or {}
        if not cspec.get("volumeName"):
            if volume_mode_mismatch(claim, volume):
                self.recorder.event(volume, "Warning", "VolumeMismatch",
                                    f'Cannot bind PersistentVolume to requested PersistentVolumeClaim '
                                    f'"{claim["metadata"]["name"]}" due to incompatible volumeMode.')
                self.recorder.event(claim, "Warning", "VolumeMismatch",
                                    f'Cannot bind PersistentVolume "{name}" to requested PersistentVolumeClaim '
                                    f'due to incompatible volumeMode.')
                return
            self.queue.add(("c", ckey))  # binding in progress (or provisioned): the claim finishes it
            return
        if cspec["volumeName"] == name:
            await self._update_volume_phase(volume, "Bound", "")
            return
        # The claim is bound to another volume.
        if ANN_DYNAMICALLY_PROVISIONED in _ann(volume) and \
                volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            if phase not in ("Released", "Failed"):
                volume = await self._update_volume_phase(volume, "Released", "")
            await self._reclaim(volume)
            return
        await self._unbind_volume(volume)

    async def _get_claim(self, ref: Obj) -> Obj | None:
        try:
            return await self.client.get(PVC, ref.get("namespace"), ref.get("name", ""))
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def _is_volume_released(self, volume: Obj) -> bool:
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or not ref.get("uid"):
            return False
        claim = self._claim(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        if claim is not None and claim["metadata"].get("uid") == ref.get("uid"):
            vn = (claim.get("spec") or {}).get("volumeName")
            return bool(vn) and vn != volume["metadata"]["name"]
        return True

    async def _reclaim(self, volume: Obj) -> None:
        if _ann(volume).get(ANN_MIGRATED_TO):
            return
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy")
        if policy == "Retain":
            return
        if policy == "Recycle":
            await self._recycle(volume)
        elif policy == "Delete":
            await self._delete_volume(volume)
        else:
            await self._update_volume_phase_with_event(volume, "Failed", "Warning", "VolumeUnknownReclaimPolicy",
                                                       "Volume has unrecognized PersistentVolumeReclaimPolicy")

    async def _latest_pv(self, name: str) -> Obj | None:
        try:
            return await self.client.get(PV, None, name)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    async def _delete_volume(self, volume: Obj) -> None:
        """deleteVolumeOperation. External provisioners (anything not kubernetes.io/...) and CSI
        volumes are deleted by their provisioner; of the in-tree deleters only hostPath exists
        here, and like upstream's it removes /tmp/... paths only."""
        name = volume["metadata"]["name"]
        latest = await self._latest_pv(name)
        if latest is None or not self._is_volume_released(latest):
            return
        volume = latest
        prov = _ann(volume).get(ANN_DYNAMICALLY_PROVISIONED)
        spec = volume.get("spec") or {}
        if prov and not prov.startswith("kubernetes.io/"):
            return
        if spec.get("csi") is not None:
            return
        err = None
        hp = spec.get("hostPath")
        if hp is not None:
            path = hp.get("path") or ""
            if not _HOSTPATH_DELETABLE.search(path):
                err = f"host_path deleter only supports /tmp/.+ but received provided {path}"
            else:
                try:
                    await asyncio.to_thread(_remove_all, path)
                except OSError as e:
                    err = str(e)
        else:
            err = f'error getting deleter volume plugin for volume "{name}": no deletable volume plugin matched'
        if err is not None:
            await self._update_volume_phase_with_event(volume, "Failed", "Warning", "VolumeFailedDelete", err)
            return
        try:
            await self.client.delete(PV, None, name)
        except ApiError as e:
            if e.code != 404:
                raise

    async def _recycle(self, volume: Obj) -> None:
        """The deprecated Recycle policy: scrub the volume (hostPath here; NFS cannot be reached
        and is treated as scrubbed) and make it Available again."""
        name = volume["metadata"]["name"]
        latest = await self._latest_pv(name)
        if latest is None or not self._is_volume_released(latest):
            return
        volume = latest
        ref = volume["spec"].get("claimRef") or {}
        ckey = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
        users = sorted(f"{p['metadata'].get('namespace')}/{p['metadata']['name']}"
                       for p in self.pods.by_index(INDEX_POD_PVC, ckey) if not is_pod_terminated(p))
        if users and self.claims.get(ckey) is None:
            self.recorder.event(volume, "Normal", "VolumeFailedRecycle", f"Volume is used by pods: {','.join(users)}")
            return
        spec = volume["spec"]
        if spec.get("hostPath") is not None:
            try:
                await asyncio.to_thread(_scrub, spec["hostPath"].get("path") or "")
            except OSError as e:
                await self._update_volume_phase_with_event(volume, "Failed", "Warning", "VolumeFailedRecycle",
                                                           f"Recycle failed: {e}")
                return
        elif spec.get("nfs") is None:
            await self._update_volume_phase_with_event(volume, "Failed", "Warning", "VolumeFailedRecycle",
                                                       "No recycler plugin found for the volume!")
            return
        self.recorder.event(volume, "Normal", "VolumeRecycled", "Volume recycled")
        await self._unbind_volume(volume)


def _remove_all(path: str) -> None:
    """os.RemoveAll: no error when the path is already gone."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _scrub(path: str) -> None:
    """What the recycler pod does: empty the directory, keep the directory itself."""
    if not path or path == "/" or not os.path.isdir(path):
        return
    for entry in os.listdir(path):
        _remove_all(os.path.join(path, entry))


class VolumeExpander(Controller):
    """Simulated volume expansion: the external resizer grows the volume, the kubelet reports the
    new size in the claim's status (RecoverVolumeExpansionFailure, beta in 1.32, adds
    status.allocatedResources)."""

    name = "persistentvolume-expander"
    workers = 1
    hold_factor = 0.0

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.claims = ctx.informers.informer(PVC)
        self.pvs = ctx.informers.informer(PV)
        self.classes = ctx.informers.informer(SC)
        self.recorder = ctx.recorder("volume_expand")
        self.claims.add_handlers(self._maybe_enqueue, lambda o, n: self._maybe_enqueue(n), None)

    def _wants_resize(self, claim: Obj) -> bool:
        if _phase(claim) != "Bound" or not (claim.get("spec") or {}).get("volumeName"):
            return False
        have = claim_status_capacity(claim)
        return have is not None and storage_request(claim) > have

    def _maybe_enqueue(self, claim: Obj) -> None:
        if self._wants_resize(claim):
            self.queue.add(meta_key(claim))

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.claims, self.pvs, self.classes, workers=workers)

    async def sync(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None or not self._wants_resize(claim):
            return
        sc = self.classes.get(claim_class(claim))
        if sc is None or not sc.get("allowVolumeExpansion"):
            return
        pv = self.pvs.get(claim["spec"]["volumeName"])
        if pv is None:
            return
        want = claim["spec"]["resources"]["requests"]["storage"]
        if volume_capacity(pv) < storage_request(claim):
            self.recorder.event(claim, "Normal", "Resizing",
                                f"External resizer is resizing volume {pv['metadata']['name']}")
            new_pv = deepcopy(pv)
            new_pv["spec"].setdefault("capacity", {})["storage"] = want
            await self.client.update(PV, new_pv)
        new = deepcopy(claim)
        st = new.setdefault("status", {})
        st.setdefault("capacity", {})["storage"] = want
        st.setdefault("allocatedResources", {})["storage"] = want
        statuses = st.get("allocatedResourceStatuses") or {}
        statuses.pop("storage", None)
        if statuses:
            st["allocatedResourceStatuses"] = statuses
        else:
            st.pop("allocatedResourceStatuses", None)
        conds = [c for c in st.get("conditions") or () if c.get("type") not in ("Resizing", "FileSystemResizePending")]
        if conds:
            st["conditions"] = conds
        else:
            st.pop("conditions", None)
        await self.client.update_status(PVC, new)
        self.recorder.event(claim, "Normal", "VolumeResizeSuccessful", "Resize volume succeeded")


start = register_controller("persistentvolume-binder", PersistentVolumeController)


start_expander = register_controller("persistentvolume-expander", VolumeExpander)

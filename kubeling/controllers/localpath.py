"""The local-path provisioner kind ships (rancher/local-path-provisioner on
sig-storage-lib-external-provisioner), and the default StorageClass `standard` that uses it.

A claim the PV controller hands to `rancher.io/local-path` (annotation
volume.kubernetes.io/storage-provisioner) gets a PersistentVolume `pvc-<claim uid>`: a hostPath
(DirectoryOrCreate) directory `<data dir>/local-path/<pv>_<namespace>_<claim>` created for real,
node affinity kubernetes.io/hostname In [node], capacity = the request, claimRef to the claim, the
class's reclaim policy. For WaitForFirstConsumer classes the node is the scheduler's
volume.kubernetes.io/selected-node. When such a volume is Released with reclaim policy Delete the
directory is removed and the PV deleted.

Choices that differ from upstream, on purpose:
- Immediate classes: upstream local-path fails ("configuration error, no node was specified");
  here the provisioner picks a schedulable node itself (stable per claim) so Immediate provisions.
- The helper pods upstream runs (mkdir/rm on the node) are plain file operations here: every
  simulated node shares this host's disk.
- hostPath directories of PVs an administrator creates are not made here: as on a real node they
  appear when a pod mounts them (the kubelet makes DirectoryOrCreate paths; the container runtime
  makes missing unset-type paths), which is the node agent's job.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
import zlib
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import deepcopy
from ..client.context import ComponentContext
from ..client.informer import meta_key
from . import register
from .persistentvolume import ClaimVolumeController
from .persistentvolume_utils import (
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_DEFAULT_CLASS,
    ANN_DYNAMICALLY_PROVISIONED,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    LABEL_HOSTNAME,
    claim_class,
    claim_reference,
)

log = logging.getLogger(__name__)

PROVISIONER = "rancher.io/local-path"
ANN_LOCAL_SELECTED_NODE = "local.path.provisioner/selected-node"
DEFAULT_CLASS_NAME = "standard"
PV = "persistentvolumes"
PVC = "persistentvolumeclaims"
SC = "storageclasses.storage.k8s.io"
_SUPPORTED_MODES = ("ReadWriteOnce", "ReadWriteOncePod")

Obj = dict[str, Any]


def default_storage_class() -> Obj:
    """kind's default class manifest."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS_NAME, "annotations": {ANN_DEFAULT_CLASS: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def volume_dir(base: str, pv_name: str, claim: Obj) -> str:
    md = claim["metadata"]
    return os.path.join(base, "_".join((pv_name, md.get("namespace") or "", md["name"])))


def _make_dir(path: str) -> None:
    os.makedirs(path, mode=0o777, exist_ok=True)
    os.chmod(path, 0o777)  # the setup script does mkdir -m 0777


def _remove_dir(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


class ProvisioningError(Exception):
    def __init__(self, message: str, reschedule: bool = False) -> None:
        super().__init__(message)
        self.reschedule = reschedule


class LocalPathProvisioner(ClaimVolumeController):
    """Provisions claims annotated for rancher.io/local-path and deletes their released volumes."""

    name = "local-path-provisioner"
    workers = 16

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.base = os.path.abspath(os.path.join(ctx.data_dir or ".", "local-path"))
        f = ctx.informers
        self.claims = f.informer(PVC)
        self.pvs = f.informer(PV)
        self.classes = f.informer(SC)
        self.nodes = f.informer("nodes")
        # Event source like kind's: <provisioner>_<pod>_<instance uid>.
        self.identity = f"{PROVISIONER}_local-path-provisioner-{meta.random_suffix(10)}-{meta.random_suffix(5)}" \
                        f"_{uuid.uuid4()}"
        self.recorder = ctx.recorder(self.identity)
        self.claims.add_handlers(self._claim_changed, lambda o, n: self._claim_changed(n), None)
        self.pvs.add_handlers(self._pv_changed, lambda o, n: self._pv_changed(n), None)

    # ---- events --------------------------------------------------------------------------------
    def _claim_changed(self, claim: Obj) -> None:
        ann = claim["metadata"].get("annotations") or {}
        if not (claim.get("spec") or {}).get("volumeName") and PROVISIONER in (
                ann.get(ANN_STORAGE_PROVISIONER), ann.get(ANN_BETA_STORAGE_PROVISIONER)):
            self.queue.add(("c", meta_key(claim)))

    def _pv_changed(self, pv: Obj) -> None:
        if (pv["metadata"].get("annotations") or {}).get(ANN_DYNAMICALLY_PROVISIONED) == PROVISIONER \
                and (pv.get("status") or {}).get("phase") == "Released":
            self.queue.add(("v", pv["metadata"]["name"]))

    # ---- lifecycle -------------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.claims, self.pvs, self.classes, self.nodes, workers=workers)

    # ---- provisioning ----------------------------------------------------------------------------
    async def sync_claim(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None:
            return
        md = claim["metadata"]
        ann = md.get("annotations") or {}
        if (claim.get("spec") or {}).get("volumeName") or md.get("deletionTimestamp"):
            return
        if PROVISIONER not in (ann.get(ANN_STORAGE_PROVISIONER), ann.get(ANN_BETA_STORAGE_PROVISIONER)):
            return
        cname = claim_class(claim)
        sc = self.classes.get(cname)
        if sc is None or sc.get("provisioner") != PROVISIONER:
            return
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not ann.get(ANN_SELECTED_NODE):
            return
        pv_name = f"pvc-{md['uid']}"
        if self.pvs.get(pv_name) is not None:
            return  # already provisioned (maybe before a restart)
        if (claim.get("spec") or {}).get("volumeMode") == "Block":
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f"{PROVISIONER} does not support block volume provisioning")
            return
        node = await self._target_node(claim, sc)
        if node is None:
            return
        self.recorder.event(claim, "Normal", "Provisioning",
                            f'External provisioner is provisioning volume for claim "{key}"')
        try:
            pv = await self._provision(claim, sc, node, pv_name)
        except ProvisioningError as e:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'failed to provision volume with StorageClass "{cname}": {e}')
            return
        try:
            await self.client.create(PV, None, pv)
        except ApiError as e:
            if e.code != 409:
                raise
        self.recorder.event(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}")

    async def _target_node(self, claim: Obj, sc: Obj) -> Obj | None:
        ann = claim["metadata"].get("annotations") or {}
        name = ann.get(ANN_SELECTED_NODE)
        if name:
            node = self.nodes.get(name)
            if node is None:
                # The selected node is gone: drop the annotation so the scheduler picks again.
                self.recorder.event(claim, "Warning", "ProvisioningFailed", f'nodes "{name}" not found')
                new = deepcopy(claim)
                new["metadata"]["annotations"].pop(ANN_SELECTED_NODE, None)
                try:
                    await self.client.update(PVC, new)
                except ApiError as e:
                    if e.code not in (404, 409):
                        raise
            return node
        return self._pick_node(claim)

    def _pick_node(self, claim: Obj) -> Obj | None:
        """For Immediate classes: a stable choice among Ready nodes that accept ordinary pods."""
        ok = []
        for n in self.nodes.list():
            spec = n.get("spec") or {}
            if spec.get("unschedulable"):
                continue
            if any(t.get("effect") in ("NoSchedule", "NoExecute") for t in spec.get("taints") or ()):
                continue
            ok.append(n)
        pool = ok or self.nodes.list()
        if not pool:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'failed to provision volume with StorageClass "{claim_class(claim)}": '
                                "configuration error, no node was specified")
            return None
        pool.sort(key=lambda n: n["metadata"]["name"])
        return pool[zlib.crc32(claim["metadata"]["uid"].encode()) % len(pool)]

    async def _provision(self, claim: Obj, sc: Obj, node: Obj, pv_name: str) -> Obj:
        spec = claim.get("spec") or {}
        if spec.get("selector") is not None:
            raise ProvisioningError("claim.Spec.Selector is not supported")
        for mode in spec.get("accessModes") or ():
            if mode not in _SUPPORTED_MODES:
                raise ProvisioningError(
                    "NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes")
        node_name = node["metadata"]["name"]
        path = volume_dir(self.base, pv_name, claim)
        try:
            await asyncio.to_thread(_make_dir, path)
        except OSError as e:
            raise ProvisioningError(f"failed to create volume {pv_name}: {e}") from None
        hostname = ((node["metadata"].get("labels") or {}).get(LABEL_HOSTNAME)) or node_name
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        pv_spec: Obj = {
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "accessModes": list(spec.get("accessModes") or ()),
            "volumeMode": "Filesystem",
            "capacity": {"storage": storage} if storage is not None else {},
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": LABEL_HOSTNAME, "operator": "In", "values": [hostname]}]}]}},
            "claimRef": claim_reference(claim),
            "storageClassName": claim_class(claim),
        }
        if sc.get("mountOptions"):
            pv_spec["mountOptions"] = list(sc["mountOptions"])
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {ANN_LOCAL_SELECTED_NODE: node_name,
                                                          ANN_DYNAMICALLY_PROVISIONED: PROVISIONER}},
            "spec": pv_spec,
        }

    # ---- deletion --------------------------------------------------------------------------------
    async def sync_volume(self, name: str) -> None:
        """Released + Delete + provisioned by us: remove the directory, then the PV object.
        Like the provisioner library without its finalizer, a PV already being deleted is left alone."""
        pv = self.pvs.get(name)
        if pv is None:
            return
        if (pv["metadata"].get("annotations") or {}).get(ANN_DYNAMICALLY_PROVISIONED) != PROVISIONER:
            return
        if (pv.get("status") or {}).get("phase") != "Released" or pv["metadata"].get("deletionTimestamp"):
            return
        spec = pv.get("spec") or {}
        if spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        path = (spec.get("hostPath") or spec.get("local") or {}).get("path") or ""
        real = os.path.abspath(path) if path else ""
        if real and os.path.dirname(real) == self.base:
            try:
                await asyncio.to_thread(_remove_dir, real)
            except OSError as e:
                self.recorder.event(pv, "Warning", "VolumeFailedDelete", f"failed to delete volume {name}: {e}")
                raise
        try:
            await self.client.delete(PV, None, name)
        except ApiError as e:
            if e.code != 404:
                raise


async def ensure_default_class(ctx: ComponentContext) -> None:
    """Create the `standard` class at startup unless disabled or already there (kind's addon)."""
    if not ctx.settings.get("default_storageclass", True):
        return
    try:
        await ctx.client.get(SC, None, DEFAULT_CLASS_NAME)
        return
    except ApiError as e:
        if e.code != 404:
            raise
    try:
        await ctx.client.create(SC, None, default_storage_class())
    except ApiError as e:
        if e.code != 409:
            raise


@register("local-path-provisioner")
async def start(ctx: ComponentContext) -> LocalPathProvisioner:
    await ensure_default_class(ctx)
    p = LocalPathProvisioner(ctx)
    p.run()
    return p

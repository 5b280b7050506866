"""The Deployment controller (upstream pkg/controller/deployment, v1.32): wiring of informers,
event handlers and the work queue (deployment_controller.go). The algorithm lives in `sync`
(new ReplicaSet, revisions, scaling, cleanup, status; rollback.go too), `rolling`, `recreate` and
`progress`; pure helpers in `util`.

Informers: deployments.apps, replicasets.apps (indexed by controller uid, orphans by namespace)
and pods (same index; only Recreate looks at pods). A ReplicaSet event enqueues the deployment its
controller ref names, an orphan ReplicaSet every deployment whose selector matches it; a pod
deletion enqueues a Recreate deployment once it has no pods left.

Beyond upstream: a sync waits until the informers have observed the writes of the previous sync of
the same deployment (`ResourceVersionExpectations`), where upstream acts on a stale cache and
recovers from the resulting conflicts. What is written, and in which order, is unchanged.
"""
from __future__ import annotations

import logging
from typing import Any

from ...api.errors import ApiError
from ...api.selectors import matches_labels
from ...client.client import deepcopy
from ...client.informer import Controller, meta_key
from .. import register_controller
from ..common.dependents import DependentHandlers, OwnerLookup, handle_owner_events
from ..common.expectations import ResourceVersionExpectations
from ..common.refmanager import (
    CONTROLLER_INDEX,
    ClaimErrors,
    ControllerRefManager,
    ensure_controller_index,
    get_controller_of,
    live_owner_check,
    objects_for_owner,
)
from . import util
from .progress import ProgressMixin
from .recreate import RecreateMixin
from .rolling import RollingMixin
from .sync import CONTROLLER_KIND, SyncMixin

log = logging.getLogger(__name__)

COMPONENT = "deployment-controller"
DEPLOYMENTS = "deployments.apps"
REPLICASETS = "replicasets.apps"

Obj = dict[str, Any]


class DeploymentController(ProgressMixin, SyncMixin, RollingMixin, RecreateMixin, Controller):
    """DeploymentController: syncDeployment per key, five workers."""

    name = "deployment"
    workers = 5  # kube-controller-manager --concurrent-deployment-syncs default

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        factory = ctx.informers
        self.deployments = factory.informer(DEPLOYMENTS)
        self.rs_informer = factory.informer(REPLICASETS)
        self.pods = factory.informer("pods")
        ensure_controller_index(self.rs_informer)
        ensure_controller_index(self.pods)
        self.recorder = ctx.recorder(COMPONENT)
        self.barrier = ResourceVersionExpectations(on_ready=self.queue.add, requeue_after=self.queue.add_after)
        self.barrier.watch(self.deployments)
        self.barrier.watch(self.rs_informer)
        # a ReplicaSet event concerns the deployment its controller ref names; an orphan, every
        # deployment that may adopt it
        self.owners = OwnerLookup(self.deployments, CONTROLLER_KIND[1])
        self.replica_sets = OwnerLookup(self.rs_informer, "ReplicaSet")
        handle_owner_events(self.owners, self.queue)
        DependentHandlers(self.owners, self.queue).register(self.rs_informer)
        self.pods.add_handlers(None, None, self._delete_pod)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        """Start the workers once the informers have synced (the manager starts informers later)."""
        self.start_when_synced(self.deployments, self.rs_informer, self.pods, workers=workers)

    # ---- writes (each recorded for the next sync's wait-for-own-writes) -----------------------------
    async def write_rs(self, d: Obj, rs: Obj) -> Obj:
        out = await self.client.update(REPLICASETS, deepcopy(rs))
        self.barrier.observe_write(meta_key(d), self.rs_informer, out)
        return out

    async def create_rs(self, d: Obj, rs: Obj) -> Obj:
        out = await self.client.create(REPLICASETS, rs["metadata"].get("namespace"), deepcopy(rs))
        self.barrier.observe_write(meta_key(d), self.rs_informer, out)
        return out

    async def delete_rs(self, d: Obj, rs: Obj) -> None:
        md = rs["metadata"]
        await self.client.delete(REPLICASETS, md.get("namespace"), md["name"])

    async def update_deployment_status(self, d: Obj) -> Obj:
        """UpdateStatus of d (its annotations go along, as the deployment status strategy allows);
        d takes the new resourceVersion so later writes of the same sync do not conflict."""
        out = await self.client.update_status(DEPLOYMENTS, deepcopy(d))
        d["metadata"]["resourceVersion"] = out["metadata"].get("resourceVersion")
        self.barrier.observe_write(meta_key(d), self.deployments, out)
        return out

    async def update_deployment(self, d: Obj) -> Obj:
        out = await self.client.update(DEPLOYMENTS, deepcopy(d))
        d["metadata"]["resourceVersion"] = out["metadata"].get("resourceVersion")
        self.barrier.observe_write(meta_key(d), self.deployments, out)
        return out

    # ---- lookups -----------------------------------------------------------------------------------
    def get_deployment_for_pod(self, pod: Obj) -> Obj | None:
        """getDeploymentForPod: the deployment owning the ReplicaSet that owns the pod."""
        rs = self.replica_sets.owner_of(pod)
        return None if rs is None else self.owners.owner_of(rs)

    async def get_replica_sets_for_deployment(self, d: Obj) -> list[Obj]:
        """getReplicaSetsForDeployment: owned ReplicaSets that still match, plus adopted orphans;
        owned ones that stopped matching are released."""
        key = meta_key(d)
        mgr = ControllerRefManager(
            self.client, d, self.owners.selectors.get(d), CONTROLLER_KIND,
            can_adopt=live_owner_check(self.client, DEPLOYMENTS, d),
            on_write=lambda _res, obj: self.barrier.observe_write(key, self.rs_informer, obj))
        try:
            return list(await mgr.claim(REPLICASETS, objects_for_owner(self.rs_informer, d)))
        except ClaimErrors as e:
            raise e.errors[0] from None

    def get_pod_map_for_deployment(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """getPodMapForDeployment: the deployment's pods grouped by the uid of their ReplicaSet."""
        sel = self.owners.selectors.get(d) or []
        out: dict[str, list[Obj]] = {}
        for rs in rs_list:
            uid = rs["metadata"].get("uid") or ""
            out[uid] = [p for p in self.pods.by_index(CONTROLLER_INDEX, uid)
                        if matches_labels(sel, p["metadata"].get("labels"))]
        return out

    # ---- event handlers ----------------------------------------------------------------------------
    def _delete_pod(self, pod: Obj) -> None:
        """A Recreate deployment continues once its last pod is gone."""
        d = self.get_deployment_for_pod(pod)
        if d is None or ((d.get("spec") or {}).get("strategy") or {}).get("type") != util.RECREATE:
            return
        rs_list = [rs for rs in objects_for_owner(self.rs_informer, d)
                   if (get_controller_of(rs) or {}).get("uid") == d["metadata"].get("uid")]
        if not any(self.get_pod_map_for_deployment(d, rs_list).values()):
            self.enqueue(d)

    # ---- sync --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """syncDeployment."""
        cached = self.deployments.get(key)
        if cached is None:
            self.barrier.forget(key)
            return
        if not self.barrier.satisfied(key):
            return  # the informers have not seen our last writes yet; they will requeue the key
        d = deepcopy(cached)
        spec = d.get("spec") or {}
        if util.selects_everything(spec.get("selector")):
            self.event(d, "Warning", "SelectingAll",
                       "This deployment is selecting all pods. A non-empty selector is required.")
            status = d.setdefault("status", {})
            if int(status.get("observedGeneration") or 0) < util.generation(d):
                status["observedGeneration"] = util.generation(d)
                await self.update_deployment_status(d)
            return
        if self.owners.selectors.get(d) is None:
            return  # a nil selector selects nothing; validation prevents it
        rs_list = await self.get_replica_sets_for_deployment(d)
        if d["metadata"].get("deletionTimestamp"):
            await self.sync_status_only(d, rs_list)
            return
        await self.check_paused_conditions(d)
        if spec.get("paused"):
            await self.sync_scaling(d, rs_list)
            return
        if util.get_rollback_to(d) is not None:
            await self.rollback(d, rs_list)
            return
        if await self.is_scaling_event(d, rs_list):
            await self.sync_scaling(d, rs_list)
            return
        strategy = (spec.get("strategy") or {}).get("type")
        if strategy == util.RECREATE:
            await self.rollout_recreate(d, rs_list)
        elif strategy == util.ROLLING_UPDATE:
            await self.rollout_rolling(d, rs_list)
        else:
            raise ApiError(500, "InternalError", f"unexpected deployment strategy type: {strategy}")


start = register_controller("deployment", DeploymentController)


__all__ = ["DeploymentController", "start"]

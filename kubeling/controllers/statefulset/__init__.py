"""The StatefulSet controller (upstream pkg/controller/statefulset, v1.32): wiring of informers,
event handlers and the work queue (stateful_set.go). The algorithm is in `control`, pod and claim
side effects in `pod_control`, pure helpers in `utils`.

Informers: statefulsets.apps, pods (indexed by controller uid, orphans by namespace),
controllerrevisions.apps (same index) and persistentvolumeclaims. A pod event enqueues the set
its controller ref names; an orphan pod enqueues every set whose selector matches it (so the set
can adopt it). A sync claims the set's pods and revisions (adopt/release, after a live GET of the
set) and runs one reconcile pass.

Beyond upstream: a sync waits until the informers have observed the writes of the previous sync
of the same set (`ResourceVersionExpectations`). Upstream tolerates the stale cache by failing
with AlreadyExists/Conflict and retrying; waiting instead keeps large Parallel sets free of that
churn without changing what is written or in which order.
"""
from __future__ import annotations

import logging
from typing import Any

from ...api import features as feature_gates
from ...api.errors import ApiError
from ...api.selectors import Requirement
from ...client.informer import Controller, meta_key
from .. import register_controller
from ..common.dependents import DependentHandlers, OwnerLookup, handle_owner_events
from ..common.errors import AggregateError, error_message, flatten
from ..common.expectations import ResourceVersionExpectations
from ..common.history import History
from ..common.refmanager import (
    ControllerRefManager,
    ensure_controller_index,
    get_controller_of,
    live_owner_check,
    objects_for_owner,
)
from . import utils
from .control import StatefulSetControl, StatusUpdater
from .pod_control import StatefulPodControl

log = logging.getLogger(__name__)

COMPONENT = "statefulset-controller"


class StatefulSetController(Controller):
    name = "statefulset"
    workers = 5  # kube-controller-manager --concurrent-statefulset-syncs default

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        factory = ctx.informers
        self.sets = factory.informer("statefulsets.apps")
        self.pods = factory.informer("pods")
        self.revisions = factory.informer("controllerrevisions.apps")
        self.claims = factory.informer("persistentvolumeclaims")
        ensure_controller_index(self.pods)
        ensure_controller_index(self.revisions)
        self.recorder = ctx.recorder(COMPONENT)
        features = feature_gates.resolve((ctx.settings or {}).get("feature_gates"))  # v1.32 defaults + flags
        self.barrier = ResourceVersionExpectations(on_ready=self.queue.add, requeue_after=self.queue.add_after)
        for inf in (self.sets, self.pods, self.revisions, self.claims):
            self.barrier.watch(inf)
        pod_control = StatefulPodControl(self.client, self.pods, self.claims, self.recorder, on_write=self._wrote)
        history = History(self.client, self.revisions, on_write=lambda s, o: self._wrote(s, self.revisions, o))
        status = StatusUpdater(self.client, on_write=lambda s, o: self._wrote(s, self.sets, o))
        self.control = StatefulSetControl(pod_control, status, history, features)
        # a pod event concerns the set its controller ref names; an orphan, every set that may adopt it
        self.owners = OwnerLookup(self.sets, utils.KIND, log_level=logging.WARNING)
        handle_owner_events(self.owners, self.queue)
        DependentHandlers(self.owners, self.queue, ready_requeue=True).register(self.pods)

    # ---- lifecycle -----------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        """Start the workers once every informer has synced (the manager starts informers later)."""
        self.start_when_synced(self.sets, self.pods, self.revisions, self.claims, workers=workers)

    # ---- helpers -------------------------------------------------------------------------------
    def _wrote(self, set_: dict[str, Any], informer: Any, obj: dict[str, Any] | None) -> None:
        self.barrier.observe_write(meta_key(set_), informer, obj)

    # ---- sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        set_ = self.sets.get(key)
        if set_ is None:
            self.barrier.forget(key)
            return
        if not self.barrier.satisfied(key):
            return  # the informers have not seen our last writes yet; they will requeue the key
        try:
            await self._sync(key, set_)
        except AggregateError as e:  # ClaimErrors too
            errs = flatten(e)
            for err in errs[1:]:
                log.debug("statefulset %s: %s", key, error_message(err))
            raise errs[0] from None

    async def _sync(self, key: str, set_: dict[str, Any]) -> None:
        selector = self.owners.selectors.get(set_)
        if selector is None:
            return  # a nil selector selects nothing; validation prevents it
        await self._adopt_orphan_revisions(set_)
        pods = await self._get_pods_for_stateful_set(set_, selector)
        status = await self.control.update_stateful_set(set_, pods)
        mrs = utils.min_ready_seconds(set_)
        if mrs > 0 and status is not None and status.get("availableReplicas", 0) != utils.get_replicas(set_):
            self.queue.add_after(key, float(mrs))

    async def _adopt_orphan_revisions(self, set_: dict[str, Any]) -> None:
        orphans = [r for r in self.control.list_revisions(set_) if get_controller_of(r) is None]
        if not orphans:
            return
        try:
            await live_owner_check(self.client, "statefulsets.apps", set_)()
        except ApiError as e:
            if e.code == 404:
                return  # the set is gone; its deletion event ends this
            raise ApiError(e.code, e.reason, f"can't adopt ControllerRevisions: {e.message}") from None
        await self.control.adopt_orphan_revisions(set_, orphans)

    async def _get_pods_for_stateful_set(self, set_: dict[str, Any], selector: list[Requirement]
                                         ) -> list[dict[str, Any]]:
        """The set's pods: owned ones that still match, plus adopted matching orphans named after it."""
        candidates = objects_for_owner(self.pods, set_)
        mgr = ControllerRefManager(self.client, set_, selector, utils.CONTROLLER_KIND,
                                   can_adopt=live_owner_check(self.client, "statefulsets.apps", set_),
                                   on_write=lambda _res, obj: self._wrote(set_, self.pods, obj))
        return await mgr.claim("pods", candidates, [lambda p: utils.is_member_of(set_, p)])


start = register_controller("statefulset", StatefulSetController)


__all__ = ["StatefulSetController", "start"]

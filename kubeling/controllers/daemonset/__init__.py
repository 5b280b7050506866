"""The DaemonSet controller (upstream pkg/controller/daemon, v1.32): informers, event handlers, the
work queue and expectations (daemon_controller.go). The reconcile algorithm is in `control`, pure
helpers (eligibility, tolerations, rolling-update arithmetic, backoff) in `utils`.

Informers: daemonsets.apps, pods and controllerrevisions.apps (both indexed by controller uid, orphans
by namespace), nodes. Handlers, as upstream:
- a pod or revision with a controller ref enqueues that DaemonSet (pod adds/deletes lower its
  expectations); an orphan enqueues every set in its namespace whose selector matches it;
- a pod that turned Ready re-enqueues its set after minReadySeconds (+1s) when that is set;
- a new node enqueues the sets that should run there; a node whose labels or taints changed enqueues
  the sets whose verdict for it changed (heartbeats and status updates are ignored).
Two workers (--concurrent-daemonset-syncs); failed daemon pods are deleted with a per-node backoff of
1 s doubling to 15 min, garbage-collected every minute.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...api.errors import ApiError
from ...client.informer import Controller
from .. import register_controller
from ..common.dependents import DependentHandlers, OwnerLookup, handle_owner_events
from ..common.errors import AggregateError, error_message
from ..common.expectations import ControllerExpectations
from ..common.refmanager import ensure_controller_index
from . import utils
from .control import DaemonSetControl

log = logging.getLogger(__name__)

COMPONENT = "daemonset-controller"
BACKOFF_GC_INTERVAL = 60.0


class DaemonSetsController(Controller):
    name = "daemonset"
    workers = 2  # kube-controller-manager --concurrent-daemonset-syncs default

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        factory = ctx.informers
        self.daemonsets = factory.informer(utils.RESOURCE)
        self.pods = factory.informer("pods")
        self.nodes = factory.informer("nodes")
        self.revisions = factory.informer("controllerrevisions.apps")
        ensure_controller_index(self.pods)
        ensure_controller_index(self.revisions)
        self.recorder = ctx.recorder(COMPONENT)
        self.expectations = ControllerExpectations()
        self.backoff = utils.Backoff(1.0, 15 * 60.0)
        self.control = DaemonSetControl(self.client, self.daemonsets, self.pods, self.nodes, self.revisions,
                                        self.recorder, self.expectations, self.backoff, self.queue.add_after)
        # an event of a pod or revision concerns the set its controller ref names; an orphan's, every
        # set that may adopt it. Pod adds/deletes lower expectations; a pod that starts terminating
        # counts as deleted; a pod turning Ready requeues its set after minReadySeconds.
        self.owners = OwnerLookup(self.daemonsets, utils.KIND, self.control.selectors)
        handle_owner_events(self.owners, self.queue, utils.ds_key, forget=self._forget_ds)
        DependentHandlers(self.owners, self.queue, utils.ds_key, enqueue_owned_add=False).register(self.revisions)
        DependentHandlers(self.owners, self.queue, utils.ds_key, terminating="delete", ready_requeue=True,
                          created=lambda key, _pod: self.expectations.creation_observed(key),
                          deleted=lambda key, _pod: self.expectations.deletion_observed(key)).register(self.pods)
        self.nodes.add_handlers(self._add_node, self._update_node)

    # ---- lifecycle -----------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        """Start the workers once every informer has synced (the manager starts informers later),
        then the garbage collection of the failed-pod backoff."""
        self.start_when_synced(self.pods, self.nodes, self.revisions, self.daemonsets, workers=workers,
                               then=self._start_backoff_gc)

    def _start_backoff_gc(self) -> None:
        # in _tasks, so Controller.stop cancels it with the workers
        self._tasks.append(asyncio.get_running_loop().create_task(self._backoff_gc()))

    async def _backoff_gc(self) -> None:
        while True:
            await asyncio.sleep(BACKOFF_GC_INTERVAL)
            self.backoff.gc()

    async def sync(self, key: str) -> None:
        try:
            await self.control.sync(key)
        except AggregateError as e:
            for err in e.errors[1:]:
                log.debug("daemon set %s: %s", key, error_message(err))
            first = e.errors[0]
            if isinstance(first, ApiError):
                raise ApiError(first.code, first.reason, str(e)) from None
            raise first from None

    # ---- helpers -------------------------------------------------------------------------------
    def enqueue_ds(self, ds: dict[str, Any]) -> None:
        self.queue.add(utils.ds_key(ds))

    def _forget_ds(self, key: str, ds: dict[str, Any]) -> None:
        """A deleted set: a new set with the same name starts with clean expectations and caches."""
        self.expectations.delete_expectations(key)
        self.control.forget(ds["metadata"].get("uid") or "")

    # ---- nodes ---------------------------------------------------------------------------------
    def _add_node(self, node: dict[str, Any]) -> None:
        for ds in self.daemonsets.list():
            should_run, _ = self.control.should_run(node, ds)
            if should_run:
                self.enqueue_ds(ds)

    def _update_node(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if utils.should_ignore_node_update(old, cur):
            return
        for ds in self.daemonsets.list():
            if self.control.should_run(old, ds) != self.control.should_run(cur, ds):
                self.enqueue_ds(ds)


start = register_controller("daemonset", DaemonSetsController)


__all__ = ["DaemonSetsController", "start"]

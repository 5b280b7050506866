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
from .. import register
from ..common.expectations import ControllerExpectations
from ..common.refmanager import ensure_controller_index, get_controller_of
from . import utils
from .control import AggregateError, DaemonSetControl

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
        self._starter: asyncio.Task | None = None
        self._gc: asyncio.Task | None = None
        self.daemonsets.add_handlers(self._add_ds, self._update_ds, self._delete_ds)
        self.revisions.add_handlers(self._add_history, self._update_history, self._delete_history)
        self.pods.add_handlers(self._add_pod, self._update_pod, self._delete_pod)
        self.nodes.add_handlers(self._add_node, self._update_node)

    # ---- lifecycle -----------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        """Start the workers once every informer has synced (the manager starts informers later)."""

        async def start() -> None:
            await asyncio.gather(*(i.wait_synced() for i in (self.pods, self.nodes, self.revisions, self.daemonsets)))
            Controller.run(self, workers)
            self._gc = asyncio.get_running_loop().create_task(self._backoff_gc())

        self._starter = asyncio.get_running_loop().create_task(start())

    async def _backoff_gc(self) -> None:
        while True:
            await asyncio.sleep(BACKOFF_GC_INTERVAL)
            self.backoff.gc()

    async def stop(self) -> None:
        for t in (self._starter, self._gc):
            if t is not None:
                t.cancel()
                try:
                    await t
                except (asyncio.CancelledError, Exception):
                    pass
        self._starter = self._gc = None
        await super().stop()

    async def sync(self, key: str) -> None:
        try:
            await self.control.sync(key)
        except AggregateError as e:
            for err in e.errors[1:]:
                log.debug("daemon set %s: %s", key, getattr(err, "message", str(err)))
            first = e.errors[0]
            if isinstance(first, ApiError):
                raise ApiError(first.code, first.reason, str(e)) from None
            raise first from None

    # ---- helpers -------------------------------------------------------------------------------
    def enqueue_ds(self, ds: dict[str, Any]) -> None:
        self.queue.add(utils.ds_key(ds))

    def resolve_controller_ref(self, namespace: str | None, ref: dict[str, Any]) -> dict[str, Any] | None:
        if ref.get("kind") != utils.KIND:
            return None
        ds = self.daemonsets.get_by(namespace, ref.get("name") or "")
        if ds is None or ds["metadata"].get("uid") != ref.get("uid"):
            return None
        return ds

    def _sets_for(self, obj: dict[str, Any], what: str) -> list[dict[str, Any]]:
        md = obj["metadata"]
        sets = self.control.daemon_sets_selecting(md.get("namespace"), md.get("labels"))
        if len(sets) > 1:
            log.debug("user error: more than one daemon set is selecting %s with labels %s", what, md.get("labels"))
        return sets

    # ---- daemon sets ---------------------------------------------------------------------------
    def _add_ds(self, ds: dict[str, Any]) -> None:
        self.enqueue_ds(ds)

    def _update_ds(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if old["metadata"].get("uid") != cur["metadata"].get("uid"):
            self._delete_ds(old)
        self.enqueue_ds(cur)

    def _delete_ds(self, ds: dict[str, Any]) -> None:
        key = utils.ds_key(ds)
        # a new set with the same name starts with clean expectations
        self.expectations.delete_expectations(key)
        self.control.forget(ds["metadata"].get("uid") or "")
        self.queue.add(key)

    # ---- controller revisions ------------------------------------------------------------------
    def _add_history(self, rev: dict[str, Any]) -> None:
        md = rev["metadata"]
        if md.get("deletionTimestamp"):
            self._delete_history(rev)
            return
        ref = get_controller_of(rev)
        if ref is not None:
            return  # owned: nothing to do until it changes
        for ds in self._sets_for(rev, "ControllerRevision"):
            self.enqueue_ds(ds)

    def _update_history(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = old["metadata"], cur["metadata"]
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return
        cur_ref, old_ref = get_controller_of(cur), get_controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            ds = self.resolve_controller_ref(omd.get("namespace"), old_ref)
            if ds is not None:
                self.enqueue_ds(ds)
        if cur_ref is not None:
            ds = self.resolve_controller_ref(cmd.get("namespace"), cur_ref)
            if ds is not None:
                self.enqueue_ds(ds)
            return
        if (omd.get("labels") or {}) != (cmd.get("labels") or {}) or ref_changed:
            for ds in self._sets_for(cur, "ControllerRevision"):
                self.enqueue_ds(ds)

    def _delete_history(self, rev: dict[str, Any]) -> None:
        ref = get_controller_of(rev)
        if ref is None:
            return
        ds = self.resolve_controller_ref(rev["metadata"].get("namespace"), ref)
        if ds is not None:
            self.enqueue_ds(ds)

    # ---- pods ----------------------------------------------------------------------------------
    def _add_pod(self, pod: dict[str, Any]) -> None:
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            # after a restart a pod may show up already being deleted: not a creation
            self._delete_pod(pod)
            return
        ref = get_controller_of(pod)
        if ref is not None:
            ds = self.resolve_controller_ref(md.get("namespace"), ref)
            if ds is None:
                return
            self.expectations.creation_observed(utils.ds_key(ds))
            self.enqueue_ds(ds)
            return
        # an orphan: wake the sets that may adopt it (no creation is observed for orphans)
        for ds in self._sets_for(pod, "pod"):
            self.enqueue_ds(ds)

    def _update_pod(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = old["metadata"], cur["metadata"]
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return
        if cmd.get("deletionTimestamp"):
            # graceful deletion started: act now instead of waiting for the pod to disappear
            self._delete_pod(cur)
            return
        cur_ref, old_ref = get_controller_of(cur), get_controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            ds = self.resolve_controller_ref(omd.get("namespace"), old_ref)
            if ds is not None:
                self.enqueue_ds(ds)
        if cur_ref is not None:
            ds = self.resolve_controller_ref(cmd.get("namespace"), cur_ref)
            if ds is None:
                return
            self.enqueue_ds(ds)
            mrs = utils.min_ready_seconds(ds)
            if mrs > 0 and not utils.is_pod_ready(old) and utils.is_pod_ready(cur):
                # +1s against millisecond skew in the delayed add
                self.queue.add_after(utils.ds_key(ds), mrs + 1.0)
            return
        sets = self._sets_for(cur, "pod")
        if not sets:
            return
        if (omd.get("labels") or {}) != (cmd.get("labels") or {}) or ref_changed:
            for ds in sets:
                self.enqueue_ds(ds)

    def _delete_pod(self, pod: dict[str, Any]) -> None:
        ref = get_controller_of(pod)
        if ref is None:
            return
        ds = self.resolve_controller_ref(pod["metadata"].get("namespace"), ref)
        if ds is None:
            return
        self.expectations.deletion_observed(utils.ds_key(ds))
        self.enqueue_ds(ds)

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


@register("daemonset")
async def start(ctx: Any) -> DaemonSetsController:
    """Start the controller; its workers begin once the shared informers have synced."""
    c = DaemonSetsController(ctx)
    c.run()
    return c


__all__ = ["DaemonSetsController", "start"]

"""The RollingUpdate strategy (upstream rolling.go).

Each pass first scales the new ReplicaSet up as far as maxSurge allows; only when it could not
scale up does it scale old ReplicaSets down: unhealthy (unavailable) replicas first, then available
ones while more than `replicas - maxUnavailable` pods stay available. Every step is recomputed from
the informer caches, so the bounds hold however often a pass runs.
"""
from __future__ import annotations

import logging
from typing import Any

from . import util

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class RollingMixin:
    """rolling.go methods, mixed into DeploymentController (uses its sync.go and progress.go methods)."""

    async def rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        """rolloutRolling: one reconcile pass of a rolling update."""
        new_rs, old_rss = await self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        assert new_rs is not None
        if await self.reconcile_new_replica_set(all_rss, new_rs, d):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if await self.reconcile_old_replica_sets(all_rss, util.filter_active_replica_sets(old_rss), new_rs, d):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if util.deployment_complete(d, d.get("status") or {}):
            await self.cleanup_deployment(old_rss, d)
        await self.sync_rollout_status(all_rss, new_rs, d)

    async def reconcile_new_replica_set(self, all_rss: list[Obj | None], new_rs: Obj, d: Obj) -> bool:
        """reconcileNewReplicaSet: scale the new ReplicaSet toward spec.replicas within maxSurge."""
        dr = util.replicas(d)
        nr = util.replicas(new_rs)
        if nr == dr:
            return False
        if nr > dr:
            scaled, _ = await self.scale_replica_set_and_record_event(new_rs, dr, d)
            return scaled
        count = util.new_rs_new_replicas(d, all_rss, new_rs)
        scaled, _ = await self.scale_replica_set_and_record_event(new_rs, count, d)
        return scaled

    async def reconcile_old_replica_sets(self, all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj,
                                         d: Obj) -> bool:
        """reconcileOldReplicaSets: scale old ReplicaSets down without dropping below
        `replicas - maxUnavailable` available pods (counting the new ReplicaSet's unavailable
        pods against the budget)."""
        old_pods = util.get_replica_count_for_replica_sets(old_rss)
        if old_pods == 0:
            return False
        all_pods = util.get_replica_count_for_replica_sets(all_rss)
        max_unavailable = util.max_unavailable(d)
        min_available = util.replicas(d) - max_unavailable
        new_unavailable = util.replicas(new_rs) - util.status_int(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        try:
            old_rss, cleanup_count = await self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down)
        except Exception:
            log.debug("cleaning up unhealthy replicas of %s failed", d["metadata"]["name"], exc_info=True)
            return False
        try:
            scaled_down = await self.scale_down_old_replica_sets_for_rolling_update(
                [*old_rss, new_rs], old_rss, d)
        except Exception:
            log.debug("scaling down old replica sets of %s failed", d["metadata"]["name"], exc_info=True)
            return False
        return cleanup_count + scaled_down > 0

    async def cleanup_unhealthy_replicas(self, old_rss: list[Obj], d: Obj, max_cleanup_count: int
                                         ) -> tuple[list[Obj], int]:
        """cleanupUnhealthyReplicas: scale old ReplicaSets down by their unavailable replicas first
        (oldest first), at most max_cleanup_count in total."""
        util.sort_by_creation(old_rss)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup_count:
                break
            n = util.replicas(rs)
            if n == 0:
                continue
            available = util.status_int(rs, "availableReplicas")
            if n == available:
                continue
            count = min(max_cleanup_count - total, n - available)
            new_count = n - count
            if new_count > n:
                raise ValueError(f"when cleaning up unhealthy replicas, got invalid request to scale down "
                                 f"{rs['metadata'].get('namespace')}/{rs['metadata']['name']} {n} -> {new_count}")
            _, updated = await self.scale_replica_set_and_record_event(rs, new_count, d)
            total += count
            old_rss[i] = updated
        return old_rss, total

    async def scale_down_old_replica_sets_for_rolling_update(self, all_rss: list[Obj | None], old_rss: list[Obj],
                                                             d: Obj) -> int:
        """scaleDownOldReplicaSetsForRollingUpdate: remove available old replicas (oldest
        ReplicaSets first) while more than minAvailable pods are available."""
        min_available = util.replicas(d) - util.max_unavailable(d)
        available = util.get_available_replica_count_for_replica_sets(all_rss)
        if available <= min_available:
            return 0
        util.sort_by_creation(old_rss)
        total = 0
        budget = available - min_available
        for rs in old_rss:
            if total >= budget:
                break
            n = util.replicas(rs)
            if n == 0:
                continue
            count = min(n, budget - total)
            new_count = n - count
            if new_count > n:
                raise ValueError(f"when scaling down old RS, got invalid request to scale down "
                                 f"{rs['metadata'].get('namespace')}/{rs['metadata']['name']} {n} -> {new_count}")
            await self.scale_replica_set_and_record_event(rs, new_count, d)
            total += count
        return total

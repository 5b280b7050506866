"""The Recreate strategy (upstream recreate.go): scale every old ReplicaSet to zero, wait until
none of their pods is running any more, then create (or scale up) the new ReplicaSet.
"""
from __future__ import annotations

from typing import Any

from . import util

Obj = dict[str, Any]


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    """oldPodsRunning: an old ReplicaSet still reports replicas, or one of its pods is not terminal."""
    if util.get_actual_replica_count_for_replica_sets(old_rss) > 0:
        return True
    new_uid = new_rs["metadata"].get("uid") if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if new_rs is not None and rs_uid == new_uid:
            continue
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Failed", "Succeeded"):
                continue
            return True  # Unknown (deprecated) counts as running, as does every non-terminal phase
    return False


class RecreateMixin:
    """recreate.go methods, mixed into DeploymentController (uses its sync.go and progress.go methods)."""

    async def rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        """rolloutRecreate: one reconcile pass of a Recreate rollout."""
        new_rs, old_rss = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        active_old = util.filter_active_replica_sets(old_rss)
        if await self.scale_down_old_replica_sets_for_recreate(active_old, d):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if old_pods_running(new_rs, old_rss, self.get_pod_map_for_deployment(d, rs_list)):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = await self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
            all_rss = [*old_rss, new_rs]
        assert new_rs is not None
        await self.scale_replica_set_and_record_event(new_rs, util.replicas(d), d)
        if util.deployment_complete(d, d.get("status") or {}):
            await self.cleanup_deployment(old_rss, d)
        await self.sync_rollout_status(all_rss, new_rs, d)

    async def scale_down_old_replica_sets_for_recreate(self, old_rss: list[Obj], d: Obj) -> bool:
        """scaleDownOldReplicaSetsForRecreate: every old ReplicaSet to zero; True when any was scaled."""
        scaled = False
        for i, rs in enumerate(old_rss):
            if util.replicas(rs) == 0:
                continue
            did, updated = await self.scale_replica_set_and_record_event(rs, 0, d)
            if did:
                old_rss[i] = updated
                scaled = True
        return scaled

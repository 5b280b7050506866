"""Rollout progress (upstream progress.go): the Progressing condition against
progressDeadlineSeconds, ReplicaSet failure conditions promoted to the deployment, and the requeue
that re-checks a stuck rollout exactly when its deadline passes.
"""
from __future__ import annotations

import time
from typing import Any

from ...api.meta import parse_time
from ...client.informer import meta_key
from . import util
from .sync import calculate_status, normalized_status

Obj = dict[str, Any]


def get_replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
    """getReplicaFailures: the new ReplicaSet's ReplicaFailure conditions, else the old ones'."""
    conds: list[Obj] = []
    if new_rs is not None:
        for c in (new_rs.get("status") or {}).get("conditions") or ():
            if c.get("type") == util.REPLICA_FAILURE:
                conds.append(util.replica_set_to_deployment_condition(c))
    if conds:
        return conds
    for rs in all_rss:
        if rs is None:
            continue
        for c in (rs.get("status") or {}).get("conditions") or ():
            if c.get("type") == util.REPLICA_FAILURE:
                conds.append(util.replica_set_to_deployment_condition(c))
    return conds


def rollout_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: float | None = None) -> Obj:
    """The status syncRolloutStatus would write: calculateStatus plus the Progressing and
    ReplicaFailure conditions."""
    now = time.time() if now is None else now
    new_status = calculate_status(all_rss, new_rs, d, now)
    name = d["metadata"]["name"]
    if not util.has_progress_deadline(d):
        util.remove_deployment_condition(new_status, util.PROGRESSING)
    current = util.get_deployment_condition(d.get("status") or {}, util.PROGRESSING)
    is_complete = (int(new_status.get("replicas") or 0) == int(new_status.get("updatedReplicas") or 0)
                   and current is not None and current.get("reason") == util.NEW_RS_AVAILABLE_REASON)
    if util.has_progress_deadline(d) and not is_complete:
        if util.deployment_complete(d, new_status):
            msg = f'Deployment "{name}" has successfully progressed.'
            if new_rs is not None:
                msg = f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.'
            util.set_deployment_condition(new_status, util.new_deployment_condition(
                util.PROGRESSING, "True", util.NEW_RS_AVAILABLE_REASON, msg, now))
        elif util.deployment_progressing(d, new_status):
            msg = f'Deployment "{name}" is progressing.'
            if new_rs is not None:
                msg = f'ReplicaSet "{new_rs["metadata"]["name"]}" is progressing.'
            cond = util.new_deployment_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON, msg, now)
            # Progress moves lastUpdateTime even when the reason stays the same.
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                util.remove_deployment_condition(new_status, util.PROGRESSING)
            util.set_deployment_condition(new_status, cond)
        elif util.deployment_timed_out(d, new_status, now):
            msg = f'Deployment "{name}" has timed out progressing.'
            if new_rs is not None:
                msg = f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.'
            util.set_deployment_condition(new_status, util.new_deployment_condition(
                util.PROGRESSING, "False", util.TIMED_OUT_REASON, msg, now))
    failures = get_replica_failures(all_rss, new_rs)
    if failures:
        util.set_deployment_condition(new_status, failures[0])
    else:
        util.remove_deployment_condition(new_status, util.REPLICA_FAILURE)
    return new_status


class ProgressMixin:
    """progress.go methods, mixed into DeploymentController (uses its queue and status write)."""

    queue: Any

    async def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        """syncRolloutStatus: write the rollout status, or, when nothing changed, requeue the
        deployment for the moment its progress deadline would pass."""
        new_status = rollout_status(all_rss, new_rs, d)
        if normalized_status(d.get("status")) == new_status:
            self.requeue_stuck_deployment(d, new_status)
            return
        d["status"] = new_status
        await self.update_deployment_status(d)

    def requeue_stuck_deployment(self, d: Obj, new_status: Obj, now: float | None = None) -> float:
        """requeueStuckDeployment: seconds until the deployment is re-checked for progress, 0 for
        now, -1 when it needs no check (no deadline, complete, or already timed out)."""
        current = util.get_deployment_condition(d.get("status") or {}, util.PROGRESSING)
        if not util.has_progress_deadline(d) or current is None:
            return -1.0
        if util.deployment_complete(d, new_status) or current.get("reason") == util.TIMED_OUT_REASON:
            return -1.0
        now = time.time() if now is None else now
        last = parse_time(current.get("lastUpdateTime")) or 0.0
        after = last + int(d["spec"]["progressDeadlineSeconds"]) - now
        key = meta_key(d)
        if after < 1.0:
            # Upstream requeues rate-limited (5 ms first) until the deadline has passed; checking
            # once, right after it passes, reaches the same verdict without the busy loop.
            self.queue.add_after(key, max(after, 0.0) + 0.01)
            return 0.0
        # one more second against sub-second skew, as upstream
        self.queue.add_after(key, after + 1.0)
        return after

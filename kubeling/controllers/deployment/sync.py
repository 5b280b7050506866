"""Deployment sync (upstream sync.go and rollback.go): finding and creating the new ReplicaSet,
revision bookkeeping, scaling (proportional during a rollout), history cleanup, status.

`SyncMixin` is mixed into `DeploymentController`; it expects the controller to provide `client`,
`recorder`, `rs_informer`, `queue` and the write helpers `write_rs`, `create_rs`, `delete_rs` and
`update_deployment_status` (which record each write so the next sync waits for the informers).
Methods mutate the deployment dict they are given (a private copy), as upstream mutates its copy.
"""
from __future__ import annotations

import logging
from typing import Any

from ...api.errors import ApiError
from ...client.client import deepcopy
from ..common.podcontrol import compute_hash, is_namespace_terminating
from ..common.refmanager import get_controller_of, new_controller_ref
from . import util

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONTROLLER_KIND = ("apps/v1", "Deployment")
SCALING_REPLICA_SET = "ScalingReplicaSet"


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: float | None = None) -> Obj:
    """calculateStatus: the deployment's status from its ReplicaSets, with the Available condition.
    Zero counters are left out, as Go's omitempty does."""
    available = util.get_available_replica_count_for_replica_sets(all_rss)
    total = util.get_replica_count_for_replica_sets(all_rss)
    unavailable = max(total - available, 0)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": util.generation(d),
        "replicas": util.get_actual_replica_count_for_replica_sets(all_rss),
        "updatedReplicas": util.get_actual_replica_count_for_replica_sets([new_rs]),
        "readyReplicas": util.get_ready_replica_count_for_replica_sets(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    status = {k: v for k, v in status.items() if v}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if available >= util.replicas(d) - util.max_unavailable(d):
        cond = util.new_deployment_condition(util.AVAILABLE, "True", util.MINIMUM_REPLICAS_AVAILABLE,
                                             "Deployment has minimum availability.", now)
    else:
        cond = util.new_deployment_condition(util.AVAILABLE, "False", util.MINIMUM_REPLICAS_UNAVAILABLE,
                                             "Deployment does not have minimum availability.", now)
    util.set_deployment_condition(status, cond)
    return status


def normalized_status(status: Obj | None) -> Obj:
    """A status as Go would round-trip it: zero counters and empty lists dropped."""
    return {k: v for k, v in (status or {}).items() if v or (k == "collisionCount" and v is not None)}


class SyncMixin:
    """sync.go / rollback.go methods of the Deployment controller."""

    client: Any
    recorder: Any
    rs_informer: Any

    def event(self, d: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.event(d, type_, reason, message)

    # ---- sync.go ---------------------------------------------------------------------------------------
    async def sync_status_only(self, d: Obj, rs_list: list[Obj]) -> None:
        """syncStatusOnly: only update the status (a deployment being deleted)."""
        new_rs, old_rss = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        await self.sync_deployment_status([*old_rss, new_rs], new_rs, d)

    async def sync_scaling(self, d: Obj, rs_list: list[Obj]) -> None:
        """sync: reconcile a scaling event or a paused deployment (no rollout progress)."""
        new_rs, old_rss = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        await self.scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused") and util.get_rollback_to(d) is None:
            await self.cleanup_deployment(old_rss, d)
        await self.sync_deployment_status([*old_rss, new_rs], new_rs, d)

    async def check_paused_conditions(self, d: Obj) -> None:
        """checkPausedConditions: Progressing=Unknown DeploymentPaused/DeploymentResumed, so a resumed
        deployment does not time out for the time it spent paused."""
        if not util.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = util.get_deployment_condition(status, util.PROGRESSING)
        if cond is not None and cond.get("reason") == util.TIMED_OUT_REASON:
            return  # never overwrite a reported lack of progress
        paused_exists = cond is not None and cond.get("reason") == util.PAUSED_DEPLOY_REASON
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_exists:
            c = util.new_deployment_condition(util.PROGRESSING, "Unknown", util.PAUSED_DEPLOY_REASON,
                                              "Deployment is paused")
        elif not paused and paused_exists:
            c = util.new_deployment_condition(util.PROGRESSING, "Unknown", util.RESUMED_DEPLOY_REASON,
                                              "Deployment is resumed")
        else:
            return
        util.set_deployment_condition(status, c)
        await self.update_deployment_status(d)

    async def get_all_replica_sets_and_sync_revision(self, d: Obj, rs_list: list[Obj], create_if_not_existed: bool
                                                     ) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: (new ReplicaSet or None, all old ReplicaSets)."""
        _, all_old = util.find_old_replica_sets(d, rs_list)
        new_rs = await self.get_new_replica_set(d, rs_list, all_old, create_if_not_existed)
        return new_rs, all_old

    async def get_new_replica_set(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj],
                                  create_if_not_existed: bool) -> Obj | None:
        """getNewReplicaSet: sync the existing new ReplicaSet's annotations and minReadySeconds and the
        deployment's revision, or create the new ReplicaSet `<deployment>-<pod-template-hash>`."""
        existing = util.find_new_replica_set(d, rs_list)
        new_revision = str(util.max_revision(old_rss) + 1)
        spec = d.get("spec") or {}
        status = d.setdefault("status", {})
        min_ready = int(spec.get("minReadySeconds") or 0)
        if existing is not None:
            rs_copy = deepcopy(existing)
            annotations_updated = util.set_new_replica_set_annotations(d, rs_copy, new_revision, True)
            rs_spec = rs_copy.setdefault("spec", {})
            if annotations_updated or int(rs_spec.get("minReadySeconds") or 0) != min_ready:
                if min_ready:
                    rs_spec["minReadySeconds"] = min_ready
                else:
                    rs_spec.pop("minReadySeconds", None)
                return await self.write_rs(d, rs_copy)
            needs_update = util.set_deployment_revision(
                d, (rs_copy["metadata"].get("annotations") or {}).get(util.REVISION_ANNOTATION, ""))
            cond = util.get_deployment_condition(status, util.PROGRESSING)
            if util.has_progress_deadline(d) and cond is None:
                msg = f'Found new replica set "{rs_copy["metadata"]["name"]}"'
                util.set_deployment_condition(status, util.new_deployment_condition(
                    util.PROGRESSING, "True", util.FOUND_NEW_RS_REASON, msg))
                needs_update = True
            if needs_update:
                await self.update_deployment_status(d)
            return rs_copy

        if not create_if_not_existed:
            return None

        md = d["metadata"]
        template = deepcopy(spec.get("template") or {})
        collision_count = status.get("collisionCount")
        h = compute_hash(template, collision_count)
        tmd = template.setdefault("metadata", {})
        tmd["labels"] = util.clone_and_add_label(tmd.get("labels"), util.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, h)
        rs_spec: Obj = {
            "replicas": 0,
            "selector": util.clone_selector_and_add_label(spec.get("selector"),
                                                          util.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, h),
            "template": template,
        }
        if min_ready:
            rs_spec["minReadySeconds"] = min_ready
        new_rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{md['name']}-{h}",
                "namespace": md.get("namespace"),
                "ownerReferences": [new_controller_ref(d, *CONTROLLER_KIND)],
                "labels": dict(tmd["labels"]),
            },
            "spec": rs_spec,
        }
        new_replicas = util.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        rs_spec["replicas"] = new_replicas
        util.set_new_replica_set_annotations(d, new_rs, new_revision, False)

        already_exists = False
        created: Obj | None = None
        try:
            created = await self.create_rs(d, new_rs)
        except ApiError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                already_exists = True
                rs = self.rs_informer.get_by(md.get("namespace"), new_rs["metadata"]["name"])
                if rs is None:
                    raise ApiError(404, "NotFound", f'replicaset.apps "{new_rs["metadata"]["name"]}" not found',
                                   name=new_rs["metadata"]["name"], group="apps", kind="replicasets") from None
                ref = get_controller_of(rs)
                if (ref is not None and ref.get("uid") == md.get("uid")
                        and util.equal_ignore_hash(spec.get("template"), (rs.get("spec") or {}).get("template"))):
                    created = rs
                else:
                    # A hash collision: bump collisionCount and retry with the next name on requeue.
                    pre = int(status.get("collisionCount") or 0)
                    status["collisionCount"] = pre + 1
                    try:
                        await self.update_deployment_status(d)
                        log.info("found a hash collision for deployment %s/%s: bumping collisionCount %d->%d",
                                 md.get("namespace"), md["name"], pre, pre + 1)
                    except ApiError:
                        pass
                    raise
            elif is_namespace_terminating(e):
                raise
            else:
                msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e.message}'
                if util.has_progress_deadline(d):
                    util.set_deployment_condition(status, util.new_deployment_condition(
                        util.PROGRESSING, "False", util.FAILED_RS_CREATE_REASON, msg))
                    try:
                        await self.update_deployment_status(d)
                    except ApiError:
                        pass  # the bigger issue is reported below
                self.event(d, "Warning", util.FAILED_RS_CREATE_REASON, msg)
                raise
        assert created is not None
        if not already_exists and new_replicas > 0:
            self.event(d, "Normal", SCALING_REPLICA_SET,
                       f"Scaled up replica set {created['metadata']['name']} from 0 to {new_replicas}")
        needs_update = util.set_deployment_revision(d, new_revision)
        if not already_exists and util.has_progress_deadline(d):
            msg = f'Created new replica set "{created["metadata"]["name"]}"'
            util.set_deployment_condition(status, util.new_deployment_condition(
                util.PROGRESSING, "True", util.NEW_REPLICA_SET_REASON, msg))
            needs_update = True
        if needs_update:
            await self.update_deployment_status(d)
        return created

    async def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """scale: a scaling event. One active ReplicaSet takes all replicas; a saturated new one
        means the old ones go to zero; otherwise replicas are added or removed proportionally,
        larger ReplicaSets first, leftovers to the largest."""
        dr = util.replicas(d)
        active_or_latest = util.find_active_or_latest(new_rs, old_rss)
        if active_or_latest is not None:
            if util.replicas(active_or_latest) == dr:
                return
            await self.scale_replica_set_and_record_event(active_or_latest, dr, d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.filter_active_replica_sets(old_rss):
                await self.scale_replica_set_and_record_event(old, 0, d)
            return
        if not util.is_rolling_update(d):
            return
        all_rss = util.filter_active_replica_sets([*old_rss, new_rs])
        all_replicas = util.get_replica_count_for_replica_sets(all_rss)
        allowed = dr + util.max_surge(d) if dr > 0 else 0
        to_add = allowed - all_replicas
        operation = ""
        if to_add > 0:
            util.sort_by_size_newer(all_rss)
            operation = "up"
        elif to_add < 0:
            util.sort_by_size_older(all_rss)
            operation = "down"
        added = 0
        name_to_size: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                proportion = util.get_proportion(rs, d, to_add, added)
                name_to_size[rs["metadata"]["name"]] = util.replicas(rs) + proportion
                added += proportion
            else:
                name_to_size[rs["metadata"]["name"]] = util.replicas(rs)
        for i, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if i == 0 and to_add != 0:
                name_to_size[name] = max(name_to_size[name] + to_add - added, 0)
            await self.scale_replica_set(rs, name_to_size[name], d, operation)

    async def scale_replica_set_and_record_event(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if util.replicas(rs) == new_scale:
            return False, rs
        operation = "up" if util.replicas(rs) < new_scale else "down"
        return await self.scale_replica_set(rs, new_scale, d, operation)

    async def scale_replica_set(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        """scaleReplicaSet: write spec.replicas and the desired/max replicas annotations; event
        ScalingReplicaSet "Scaled <up|down> replica set <name> from <old> to <new>"."""
        size_needs_update = util.replicas(rs) != new_scale
        dr = util.replicas(d)
        mx = dr + util.max_surge(d)
        if not (size_needs_update or util.replicas_annotations_need_update(rs, dr, mx)):
            return False, rs
        old_scale = util.replicas(rs)
        rs_copy = deepcopy(rs)
        rs_copy.setdefault("spec", {})["replicas"] = new_scale
        util.set_replicas_annotations(rs_copy, dr, mx)
        updated = await self.write_rs(d, rs_copy)
        scaled = False
        if size_needs_update:
            scaled = True
            self.event(d, "Normal", SCALING_REPLICA_SET,
                       f"Scaled {operation} replica set {updated['metadata']['name']} from {old_scale} to {new_scale}")
        return scaled, updated

    async def cleanup_deployment(self, old_rss: list[Obj], d: Obj) -> None:
        """cleanupDeployment: delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit."""
        if not util.has_revision_history_limit(d):
            return
        cleanable = [rs for rs in old_rss if rs is not None and not rs["metadata"].get("deletionTimestamp")]
        diff = len(cleanable) - int(d["spec"]["revisionHistoryLimit"])
        if diff <= 0:
            return
        util.sort_by_revision(cleanable)
        for rs in cleanable[:diff]:
            st = rs.get("status") or {}
            if (int(st.get("replicas") or 0) != 0 or util.replicas(rs) != 0
                    or util.generation(rs) > int(st.get("observedGeneration") or 0)
                    or rs["metadata"].get("deletionTimestamp")):
                continue
            log.debug("cleaning up replica set %s of deployment %s", rs["metadata"]["name"], d["metadata"]["name"])
            try:
                await self.delete_rs(d, rs)
            except ApiError as e:
                if e.code != 404:
                    raise

    async def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        """syncDeploymentStatus: write the calculated status when it differs."""
        new_status = calculate_status(all_rss, new_rs, d)
        if normalized_status(d.get("status")) == new_status:
            return
        d["status"] = new_status
        await self.update_deployment_status(d)

    async def is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        """isScalingEvent: an active ReplicaSet was annotated for another replica count."""
        new_rs, old_rss = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        dr = util.replicas(d)
        for rs in util.filter_active_replica_sets([*old_rss, new_rs]):
            desired, ok = util.get_desired_replicas_annotation(rs)
            if ok and desired != dr:
                return True
        return False

    # ---- rollback.go (the deprecated rollbackTo annotation) ------------------------------------------
    async def rollback(self, d: Obj, rs_list: list[Obj]) -> None:
        """rollback: roll the template back to the revision named by `deprecated.deployment.rollback.to`
        (0 = the previous one), then clear the annotation."""
        new_rs, all_old = await self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        all_rss = [*all_old, new_rs]
        to = util.get_rollback_to(d) or 0
        if to == 0:
            to = util.last_revision(all_rss)
            if to == 0:
                self.event(d, "Warning", util.ROLLBACK_REVISION_NOT_FOUND, "Unable to find last revision.")
                await self.update_deployment_and_clear_rollback_to(d)
                return
        for rs in all_rss:
            if rs is None:
                continue
            try:
                v = util.revision(rs)
            except ValueError:
                continue
            if v == to:
                performed = await self.rollback_to_template(d, rs)
                if performed:
                    self.event(d, "Normal", util.ROLLBACK_DONE,
                               f'Rolled back deployment "{d["metadata"]["name"]}" to revision {to}')
                return
        self.event(d, "Warning", util.ROLLBACK_REVISION_NOT_FOUND, "Unable to find the revision to rollback to.")
        await self.update_deployment_and_clear_rollback_to(d)

    async def rollback_to_template(self, d: Obj, rs: Obj) -> bool:
        performed = False
        if not util.equal_ignore_hash((d.get("spec") or {}).get("template"), (rs.get("spec") or {}).get("template")):
            util.set_from_replica_set_template(d, (rs.get("spec") or {}).get("template") or {})
            util.set_deployment_annotations_to(d, rs)
            performed = True
        else:
            self.event(d, "Warning", util.ROLLBACK_TEMPLATE_UNCHANGED,
                       f'The rollback revision contains the same template as current deployment "{d["metadata"]["name"]}"')
        await self.update_deployment_and_clear_rollback_to(d)
        return performed

    async def update_deployment_and_clear_rollback_to(self, d: Obj) -> None:
        util.clear_rollback_to(d)
        await self.update_deployment(d)

"""Pod and claim side effects of the StatefulSet controller (upstream stateful_pod_control.go).

Claims are created before their pod and reused when a pod is recreated; pods get their stable
identity and volumes; claim ownerReferences carry the retention policy (StatefulSetAutoDeletePVC
is GA and on in v1.32). Events use upstream's reasons and texts, e.g. SuccessfulCreate
"create Pod web-0 in StatefulSet web successful" and "create Claim www-web-0 Pod web-0 in
StatefulSet web success".

Reads come from informer caches; every write's answer is handed to `on_write(set, informer,
obj)` so the controller can wait for its caches to catch up before the next sync.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ...api.errors import ApiError
from ...client.client import deepcopy
from ..common.errors import AggregateError, error_message
from . import utils

log = logging.getLogger(__name__)

WriteHook = Callable[[dict[str, Any], Any, dict[str, Any] | None], None]


def _is_already_exists(e: BaseException) -> bool:
    return isinstance(e, ApiError) and e.code == 409 and e.reason == "AlreadyExists"


def _is_conflict(e: BaseException) -> bool:
    return isinstance(e, ApiError) and e.code == 409 and e.reason == "Conflict"


class StatefulPodControl:
    """Creates, updates and deletes a StatefulSet's pods and creates/updates their claims."""

    def __init__(self, client: Any, pods: Any, claims: Any, recorder: Any, on_write: WriteHook | None = None) -> None:
        self.client = client
        self.pods = pods
        self.claims = claims
        self.recorder = recorder
        self.on_write = on_write

    def _wrote(self, set_: dict[str, Any], informer: Any, obj: dict[str, Any] | None) -> None:
        if self.on_write is not None:
            self.on_write(set_, informer, obj)

    def get_claim(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.claims.get_by(namespace, name)

    # ---- pods --------------------------------------------------------------------------------
    async def create_stateful_pod(self, set_: dict[str, Any], pod: dict[str, Any]) -> None:
        """Create pod's claims, then pod; then bring the claims' owner refs in line with the policy."""
        try:
            await self.create_persistent_volume_claims(set_, pod)
        except Exception as e:
            self.record_pod_event("create", set_, pod, e)
            raise
        err: BaseException | None = None
        try:
            created = await self.client.create("pods", pod["metadata"].get("namespace"), deepcopy(pod))
            self._wrote(set_, self.pods, created)
        except ApiError as e:
            if _is_already_exists(e):
                raise
            err = e
        try:
            await self.update_pod_claim_for_retention_policy(set_, pod)
        except Exception as e:
            self.record_pod_event("update", set_, pod, e)
            raise
        self.record_pod_event("create", set_, pod, err)
        if err is not None:
            raise err

    async def update_stateful_pod(self, set_: dict[str, Any], pod: dict[str, Any]) -> None:
        """Restore pod's identity, storage and claim ownership; pod must be a private copy."""
        attempted = False
        err: BaseException | None = None
        for attempt in range(4):  # retry.DefaultBackoff: 4 steps
            consistent = True
            if not utils.identity_matches(set_, pod):
                utils.update_identity(set_, pod)
                consistent = False
            if not utils.storage_matches(set_, pod):
                utils.update_storage(set_, pod)
                consistent = False
                try:
                    await self.create_persistent_volume_claims(set_, pod)
                except Exception as e:
                    self.record_pod_event("update", set_, pod, e)
                    raise
            if not self.claims_match_retention_policy(set_, pod):
                try:
                    await self.update_pod_claim_for_retention_policy(set_, pod)
                except Exception as e:
                    self.record_pod_event("update", set_, pod, e)
                    raise
                consistent = False
            if consistent:
                err = None
                break
            attempted = True
            try:
                updated = await self.client.update("pods", deepcopy(pod))
                self._wrote(set_, self.pods, updated)
                err = None
                break
            except ApiError as e:
                err = e
                if not _is_conflict(e) or attempt == 3:
                    break
                md = pod["metadata"]
                try:
                    pod = await self.client.get("pods", md.get("namespace"), md["name"])
                except ApiError as ge:
                    log.debug("error getting updated Pod %s/%s: %s", md.get("namespace"), md["name"], ge.message)
        if attempted:
            self.record_pod_event("update", set_, pod, err)
        if err is not None:
            raise err

    async def delete_stateful_pod(self, set_: dict[str, Any], pod: dict[str, Any]) -> None:
        md = pod["metadata"]
        try:
            out = await self.client.delete("pods", md.get("namespace"), md["name"])
        except ApiError as e:
            self.record_pod_event("delete", set_, pod, e)
            raise
        self._wrote(set_, self.pods, out if isinstance(out, dict) and out.get("kind") == "Pod" else None)
        self.record_pod_event("delete", set_, pod, None)

    # ---- claims and the retention policy -------------------------------------------------------
    def claims_match_retention_policy(self, set_: dict[str, Any], pod: dict[str, Any]) -> bool:
        """False when some existing claim of pod has owner refs that disagree with the policy."""
        ordinal = utils.get_ordinal(pod)
        ns = set_["metadata"].get("namespace")
        for tmpl in set_.get("spec", {}).get("volumeClaimTemplates") or ():
            claim = self.get_claim(ns, utils.get_pvc_name(set_, tmpl, ordinal))
            if claim is None:
                continue  # picked up in a later sync
            if not utils.is_claim_owner_up_to_date(claim, set_, pod):
                return False
        return True

    async def update_pod_claim_for_retention_policy(self, set_: dict[str, Any], pod: dict[str, Any]) -> None:
        ordinal = utils.get_ordinal(pod)
        ns = set_["metadata"].get("namespace")
        for tmpl in set_.get("spec", {}).get("volumeClaimTemplates") or ():
            name = utils.get_pvc_name(set_, tmpl, ordinal)
            claim = self.get_claim(ns, name)
            if claim is None:
                continue
            if utils.has_unexpected_controller(claim, set_, pod):
                self.recorder.event(set_, "Warning", "ConflictingController",
                                    f"PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a "
                                    f"manging controller, the retention policy is ignored for this claim")
            if not utils.is_claim_owner_up_to_date(claim, set_, pod):
                claim = deepcopy(claim)
                utils.update_claim_owner_refs(claim, set_, pod)
                try:
                    updated = await self.client.update("persistentvolumeclaims", claim)
                except ApiError as e:
                    raise ApiError(e.code, e.reason, f"could not update claim {name} for delete policy "
                                                     f"ownerRefs: {e.message}") from None
                self._wrote(set_, self.claims, updated)

    def pod_claim_is_stale(self, set_: dict[str, Any], pod: dict[str, Any]) -> bool:
        """Under whenScaled=Delete, a claim still owned by an earlier pod of the same name blocks
        creating the pod until the garbage collector has removed it."""
        if utils.get_retention_policy(set_)[1] == utils.RETAIN:
            return False
        for claim in utils.get_persistent_volume_claims(set_, pod).values():
            md = claim["metadata"]
            pvc = self.get_claim(md.get("namespace"), md["name"])
            if pvc is not None and utils.has_stale_owner_ref(pvc, pod, utils.POD_KIND):
                return True
        return False

    def claims_need_creation(self, set_: dict[str, Any], pod: dict[str, Any]) -> bool:
        """Whether create_persistent_volume_claims would do (or report) anything for pod."""
        ordinal = utils.get_ordinal(pod)
        ns = set_["metadata"].get("namespace")
        for tmpl in set_.get("spec", {}).get("volumeClaimTemplates") or ():
            pvc = self.get_claim(ns, utils.get_pvc_name(set_, tmpl, ordinal))
            if pvc is None or pvc["metadata"].get("deletionTimestamp"):
                return True
        return False

    async def create_missing_persistent_volume_claims(self, set_: dict[str, Any], pod: dict[str, Any]) -> None:
        await self.create_persistent_volume_claims(set_, pod)
        try:
            await self.update_pod_claim_for_retention_policy(set_, pod)
        except Exception as e:
            self.record_pod_event("update", set_, pod, e)
            raise

    async def create_persistent_volume_claims(self, set_: dict[str, Any], pod: dict[str, Any]) -> None:
        """Create every claim pod needs that does not exist yet; a claim being deleted is an error
        (the pod must wait for it to go away)."""
        errs: list[BaseException] = []
        for claim in utils.get_persistent_volume_claims(set_, pod).values():
            md = claim["metadata"]
            pvc = self.get_claim(md.get("namespace"), md["name"])
            if pvc is None:
                try:
                    created = await self.client.create("persistentvolumeclaims", md.get("namespace"), claim)
                except ApiError as e:
                    errs.append(ApiError(e.code, e.reason, f"failed to create PVC {md['name']}: {e.message}"))
                    if not _is_already_exists(e):
                        self.record_claim_event("create", set_, pod, claim, e)
                    continue
                self._wrote(set_, self.claims, created)
                self.record_claim_event("create", set_, pod, claim, None)
            elif pvc["metadata"].get("deletionTimestamp"):
                errs.append(ApiError(409, "Conflict", f"pvc {md['name']} is being deleted"))
        err = AggregateError.of(errs)
        if err is not None:
            raise err

    # ---- events -----------------------------------------------------------------------------
    def record_pod_event(self, verb: str, set_: dict[str, Any], pod: dict[str, Any],
                         err: BaseException | None) -> None:
        pname, sname = pod["metadata"]["name"], set_["metadata"]["name"]
        if err is None:
            self.recorder.event(set_, "Normal", f"Successful{verb.title()}",
                                f"{verb.lower()} Pod {pname} in StatefulSet {sname} successful")
        else:
            self.recorder.event(set_, "Warning", f"Failed{verb.title()}",
                                f"{verb.lower()} Pod {pname} in StatefulSet {sname} failed error: {error_message(err)}")

    def record_claim_event(self, verb: str, set_: dict[str, Any], pod: dict[str, Any], claim: dict[str, Any],
                           err: BaseException | None) -> None:
        cname, pname, sname = claim["metadata"]["name"], pod["metadata"]["name"], set_["metadata"]["name"]
        if err is None:
            self.recorder.event(set_, "Normal", f"Successful{verb.title()}",
                                f"{verb.lower()} Claim {cname} Pod {pname} in StatefulSet {sname} success")
        else:
            self.recorder.event(set_, "Warning", f"Failed{verb.title()}",
                                f"{verb.lower()} Claim {cname} for Pod {pname} in StatefulSet {sname} failed error: "
                                f"{error_message(err)}")

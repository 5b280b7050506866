"""The pods/eviction subresource: a pod delete that honours PodDisruptionBudgets.

Follows pkg/registry/core/pod/storage/eviction.go of v1.32: terminal, pending and terminating pods
are deleted without looking at budgets; otherwise the one matching PDB must allow a disruption, and
the handler decrements status.disruptionsAllowed and records the pod in status.disruptedPods (retried
on conflicts) before deleting. Unready pods may go without spending the budget when the application
is healthy enough or the PDB says AlwaysAllow. Before the delete the pod gets the DisruptionTarget
condition (PodDisruptionConditions is GA in v1.32).
"""
from __future__ import annotations

import asyncio
import copy
from typing import Any

from . import errors, meta, safety
from .errors import ApiError
from .pdb import (
    ALWAYS_ALLOW,
    DISRUPTION_TARGET,
    is_pod_ready,
    selects_pod,
    update_disruption_allowed_condition,
    update_pod_condition,
)
from .registry import Registry, Request
from .resources import by_qualified

Obj = dict[str, Any]

MAX_DISRUPTED_POD_SIZE = 2000
EVICTION_RETRIES = 20  # EvictionsRetry.Steps
RETRY_DELAY = 0.05  # upstream waits 500ms; an in-process store settles much faster
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
TOO_MANY_PDBS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
SUCCESS: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
_LOOPBACK_MANAGER = "kube-apiserver"  # the handler writes PDB status through its loopback client


def _is_conflict(e: ApiError) -> bool:
    return e.code == 409 and e.reason == "Conflict"


def _too_many_requests(message: str, retry_after: int, cause: str) -> ApiError:
    """errors.NewTooManyRequests plus a DisruptionBudget cause (retryAfterSeconds 0 is omitted)."""
    return ApiError(429, "TooManyRequests", message, retry_after=retry_after or None,
                    causes=[{"type": "DisruptionBudget", "message": cause}])


def _still_processing(pdb_name: str) -> ApiError:
    return _too_many_requests(VIOLATION, 10, f"The disruption budget {pdb_name} is still being processed by the "
                                             "server.")


def _forbidden_pdb(name: str, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
                    name=name, group="policy", kind="poddisruptionbudget")


def _delete_options(eviction: Obj, query_dry_run: bool) -> Obj:
    """propagateDryRun: the request's dryRun fills the body's DeleteOptions when that has none."""
    opts = eviction.get("deleteOptions")
    if opts is None:
        return {"dryRun": ["All"]} if query_dry_run else {}
    if not isinstance(opts, dict):
        raise errors.bad_request("deleteOptions must be an object")
    opts = copy.deepcopy(opts)
    body_dry = opts.get("dryRun") or []
    for d in body_dry:
        if d != "All":
            raise errors.invalid("DeleteOptions", "meta.k8s.io", "", [errors.unsupported("dryRun", d, ["All"])])
    if not body_dry and query_dry_run:
        opts["dryRun"] = ["All"]
    elif body_dry and query_dry_run and body_dry != ["All"]:
        raise ApiError(500, "", f"Non-matching dry-run options in request and content: [All] and "
                                f"[{' '.join(body_dry)}]")
    return opts


def _rv_precondition(opts: Obj) -> str | None:
    return (opts.get("preconditions") or {}).get("resourceVersion")


def _with_rv(opts: Obj, rv: str) -> Obj:
    out = dict(opts)
    out["preconditions"] = {**(opts.get("preconditions") or {}), "resourceVersion": rv}
    return out


def _can_ignore_pdb(pod: Obj) -> bool:
    """Terminal, pending and terminating pods have disrupted nothing a budget protects."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _enforce_rv(pod: Obj) -> bool:
    """Pin the delete to the version seen, so a pod turning Ready meanwhile is not deleted unchecked."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


class Evictor:
    """Runs evictions against one registry (the HTTP layer calls :meth:`evict`)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.pods = by_qualified("pods")
        self.pdbs = by_qualified("poddisruptionbudgets.policy")

    async def evict(self, ns: str, name: str, body: Any, req: Request) -> tuple[Obj, int]:
        """(Status body, HTTP code) for POST .../pods/{name}/eviction."""
        eviction = self._check_body(body, ns, name, req.user_info is not None)
        opts = _delete_options(eviction, req.dry_run)
        dry_run = bool(opts.get("dryRun"))
        user_rv = _rv_precondition(opts) is not None
        pod: Obj = {}
        for attempt in range(EVICTION_RETRIES):
            pod = self.registry.get(self.pods, ns, name).obj
            if not _can_ignore_pdb(pod):
                break
            o = _with_rv(opts, pod["metadata"]["resourceVersion"]) if _enforce_rv(pod) and not user_rv else opts
            try:
                await self._condition_and_delete(ns, name, o, req)
            except ApiError as e:
                if _is_conflict(e) and not user_rv and attempt + 1 < EVICTION_RETRIES:
                    await asyncio.sleep(RETRY_DELAY)
                    continue
                raise
            return SUCCESS, 201

        matching = [kv.obj for kv in self.registry.list(self.pdbs, ns)[0] if selects_pod(kv.obj, pod, False)]
        if len(matching) > 1:
            err = ApiError(500, "", TOO_MANY_PDBS)
            return err.status(), 500
        pin_rv = False
        pdb_name = ""
        if matching:
            pdb = matching[0]
            pdb_name = pdb["metadata"]["name"]
            st = pdb.get("status") or {}
            if not is_pod_ready(pod):
                # An unready pod does not count as healthy: deleting it leaves the budget untouched
                # when the PDB allows it outright or the application is healthy enough without it.
                if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == ALWAYS_ALLOW:
                    pin_rv = True
                elif (st.get("currentHealthy") or 0) >= (st.get("desiredHealthy") or 0) > 0:
                    pin_rv = True
            if not pin_rv:
                await self._decrement_with_retry(ns, name, pdb, dry_run)

        o = _with_rv(opts, pod["metadata"]["resourceVersion"]) if pin_rv else opts
        try:
            await self._condition_and_delete(ns, name, o, req)
        except ApiError as e:
            if _is_conflict(e) and pin_rv and not user_rv:
                raise _still_processing(pdb_name) from None
            raise
        return SUCCESS, 201

    def _check_body(self, body: Any, ns: str, name: str, from_network: bool) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the object provided is unrecognized (must be of type Eviction)")
        if from_network:  # what Go's decoder refuses: wrong JSON types (DeleteOptions included)
            safety.check_types("io.k8s.api.policy.v1.Eviction", "Eviction", "v1", body)
        api_version = body.get("apiVersion")
        if api_version not in (None, "policy/v1", "policy/v1beta1"):
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                     "version (policy/v1)")
        if body.get("kind") not in (None, "Eviction"):
            raise errors.bad_request(f"the kind in the data ({body.get('kind')}) does not match the expected kind "
                                     "(Eviction)")
        md = body.get("metadata") or {}
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if md.get("namespace") and md["namespace"] != ns:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        if md.get("name", "") != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        return body

    async def _decrement_with_retry(self, ns: str, pod_name: str, pdb: Obj, dry_run: bool) -> None:
        """retry.RetryOnConflict around checkAndDecrement, re-reading the PDB after a failure."""
        for attempt in range(EVICTION_RETRIES):
            if attempt:
                pdb = self.registry.get(self.pdbs, ns, pdb["metadata"]["name"]).obj
            try:
                await self._check_and_decrement(ns, pod_name, pdb, dry_run)
                return
            except ApiError as e:
                if not _is_conflict(e) or attempt + 1 == EVICTION_RETRIES:
                    raise
            await asyncio.sleep(RETRY_DELAY)

    async def _check_and_decrement(self, ns: str, pod_name: str, pdb: Obj, dry_run: bool) -> None:
        name = pdb["metadata"]["name"]
        st = pdb.get("status") or {}
        if (st.get("observedGeneration") or 0) < (pdb["metadata"].get("generation") or 0):
            raise _still_processing(name)
        allowed = st.get("disruptionsAllowed") or 0
        if allowed < 0:
            raise _forbidden_pdb(name, "pdb disruptions allowed is negative")
        if len(st.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
            raise _forbidden_pdb(name, "DisruptedPods map too big - too many evictions not confirmed by PDB "
                                       "controller")
        if allowed == 0:
            raise _too_many_requests(VIOLATION, 0, f"The disruption budget {name} needs "
                                                   f"{st.get('desiredHealthy') or 0} healthy pods and has "
                                                   f"{st.get('currentHealthy') or 0} currently")
        if dry_run:
            return
        new = copy.deepcopy(pdb)
        nst = new.setdefault("status", {})
        nst["disruptionsAllowed"] = allowed - 1
        if nst["disruptionsAllowed"] == 0:
            update_disruption_allowed_condition(nst)
        # Tells the disruption controller the pod is about to go, so it no longer counts as healthy;
        # the controller forgets the entry if the pod is not deleted within two minutes.
        dp = nst.get("disruptedPods")
        if not isinstance(dp, dict):
            dp = nst["disruptedPods"] = {}
        dp[pod_name] = meta.now_rfc3339()
        await self.registry.update(self.pdbs, ns, name, new, Request(field_manager=_LOOPBACK_MANAGER),
                                   subresource="status")

    async def _condition_and_delete(self, ns: str, name: str, opts: Obj, req: Request) -> None:
        """addConditionAndDeletePod: mark the latest pod DisruptionTarget=True, then delete it."""
        if not opts.get("dryRun"):
            pre = opts.get("preconditions") or {}
            while True:
                cur = self.registry.get(self.pods, ns, name)
                pod = cur.obj
                uid, rv = pre.get("uid"), pre.get("resourceVersion")
                if uid and uid != pod["metadata"].get("uid"):
                    raise errors.conflict("Pod", "", name, f"the UID in the precondition ({uid}) does not match the "
                                          f"UID in record ({pod['metadata'].get('uid')}). The object might have "
                                          "been deleted and then recreated")
                if rv and rv != pod["metadata"].get("resourceVersion"):
                    raise errors.conflict("Pod", "", name, f"the ResourceVersion in the precondition ({rv}) does "
                                          "not match the ResourceVersion in record "
                                          f"({pod['metadata'].get('resourceVersion')}). The object might have been "
                                          "modified")
                new = cur.copy()
                update_pod_condition(new.setdefault("status", {}), {
                    "type": DISRUPTION_TARGET, "status": "True", "reason": "EvictionByEvictionAPI",
                    "message": "Eviction API: evicting"})
                try:
                    res = await self.registry.update(self.pods, ns, name, new, Request(field_manager=_LOOPBACK_MANAGER),
                                                     subresource="status")
                except ApiError as e:
                    if _is_conflict(e):
                        continue  # GuaranteedUpdate: re-read and re-apply
                    raise
                break
            if rv:  # we changed the pod ourselves: move the precondition along with it
                opts = _with_rv(opts, (res.obj if hasattr(res, "obj") else res)["metadata"]["resourceVersion"])
        del_req = Request(dry_run=bool(opts.get("dryRun")), field_manager=req.field_manager, user=req.user,
                          user_info=req.user_info)
        await self.registry.delete(self.pods, ns, name, opts, del_req)

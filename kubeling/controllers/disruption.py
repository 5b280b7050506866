"""The disruption controller (upstream pkg/controller/disruption/disruption.go, v1.32).

For each PodDisruptionBudget it computes, from the pods its selector matches:
- expectedPods: the summed scale of the pods' controllers (ReplicationController, Deployment through
  its ReplicaSet, ReplicaSet, StatefulSet, else any kind with a scale subresource) when the budget is a percentage
  or maxUnavailable; the number of matching pods for an integer minAvailable;
- desiredHealthy: minAvailable, or expectedPods - maxUnavailable (percentages round up);
- currentHealthy: Ready pods not being deleted and not recorded in status.disruptedPods;
- disruptionsAllowed = currentHealthy - desiredHealthy (0 when negative or nothing is expected);
and writes them with observedGeneration and the DisruptionAllowed condition (SufficientPods /
InsufficientPods; SyncFailed with disruptionsAllowed 0 when the calculation fails). Entries the
eviction handler put in disruptedPods are dropped once their pod is being deleted or two minutes
have passed (a NotDeleted event then); the PDB is synced again when the earliest entry expires.

It also resets a pod's DisruptionTarget=True condition to False when the pod was not deleted within
two minutes of getting it (a cancelled eviction), unless the kubelet set it or the pod is terminal.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from ..api.errors import ApiError
from ..api.meta import now_rfc3339, parse_time
from ..api.pdb import (
    DISRUPTION_ALLOWED,
    DISRUPTION_TARGET,
    SYNC_FAILED,
    conditions_up_to_date,
    find_condition,
    selects_pod,
    set_status_condition,
    update_disruption_allowed_condition,
    update_pod_condition,
)
from ..api.resources import by_gvk
from ..client.client import deepcopy
from ..client.context import ComponentContext
from ..client.informer import Controller, WorkQueue, meta_key, queue_worker, split_key
from . import register_controller
from .common.podutil import is_pod_ready

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PDBS = "poddisruptionbudgets.policy"
# DeletionTimeout: how long a pod in status.disruptedPods counts as about to be deleted.
DELETION_TIMEOUT = 120.0
# stalePodDisruptionTimeout: how long a DisruptionTarget condition may stay without a deletion.
STALE_POD_DISRUPTION_TIMEOUT = 120.0
TERMINATION_BY_KUBELET = "TerminationByKubelet"


class CalculationError(Exception):
    """A failure to compute the expected pod count (upstream returns plain errors for these)."""


# ---- pure calculations ---------------------------------------------------------------------

def scaled_value(v: int | str, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if not isinstance(v, str) or not v.endswith("%"):
        raise CalculationError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        pct = int(v[:-1])
    except ValueError:
        raise CalculationError(f'invalid value for IntOrString: invalid value "{v}": strconv.Atoi: parsing '
                               f'"{v[:-1]}": invalid syntax') from None
    x = pct * total / 100
    return math.ceil(x) if round_up else math.floor(x)


def uses_scale(spec: Obj) -> bool:
    """Whether expectedPods comes from the controllers' scale (not from counting pods)."""
    if spec.get("maxUnavailable") is not None:
        return True
    return isinstance(spec.get("minAvailable"), str)


def desired_healthy(spec: Obj, expected: int) -> int:
    """desiredHealthy of getExpectedPodCount for a known expected count."""
    if spec.get("maxUnavailable") is not None:
        return max(expected - scaled_value(spec["maxUnavailable"], expected, True), 0)
    if spec.get("minAvailable") is not None:
        return scaled_value(spec["minAvailable"], expected, True)
    return 0


def disruptions_allowed(current_healthy: int, desired: int, expected: int) -> int:
    """No disruption before the PDB expects any pod: its first pods are safe until synced."""
    allowed = current_healthy - desired
    return 0 if expected <= 0 or allowed <= 0 else allowed


def build_disrupted_pod_map(pods: list[Obj], disrupted: dict[str, str] | None,
                            now: float) -> tuple[dict[str, str], float | None, list[Obj]]:
    """(entries still pending, when the earliest expires, pods whose entry expired undeleted)."""
    result: dict[str, str] = {}
    recheck: float | None = None
    expired: list[Obj] = []
    if not disrupted:
        return result, recheck, expired
    for pod in pods:
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            continue
        stamp = disrupted.get(md["name"])
        if stamp is None:
            continue
        t = parse_time(stamp) or 0.0
        expected_deletion = t + DELETION_TIMEOUT
        if expected_deletion < now:
            expired.append(pod)
        else:
            if recheck is None or expected_deletion < recheck:
                recheck = expected_deletion
            result[md["name"]] = stamp
    return result, recheck, expired


def count_healthy_pods(pods: list[Obj], disrupted: dict[str, str], now: float) -> int:
    """Ready pods that are neither being deleted nor about to be (a live disruptedPods entry)."""
    n = 0
    for pod in pods:
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            continue
        stamp = disrupted.get(md["name"])
        if stamp is not None and (parse_time(stamp) or 0.0) + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            n += 1
    return n


def stale_disruption_wait(pod: Obj, now: float) -> float | None:
    """Seconds until a non-terminating pod's DisruptionTarget=True counts as stale (0: now); None when
    there is nothing to clean: no such condition, set by the kubelet, or the pod is terminal."""
    if pod["metadata"].get("deletionTimestamp"):
        return None
    st = pod.get("status") or {}
    cond = find_condition(st.get("conditions"), DISRUPTION_TARGET)
    if cond is None or cond.get("status") != "True" or cond.get("reason") == TERMINATION_BY_KUBELET \
            or st.get("phase") in ("Succeeded", "Failed"):
        return None
    since = parse_time(cond.get("lastTransitionTime")) or 0.0
    return max(STALE_POD_DISRUPTION_TIMEOUT - (now - since), 0.0)


def selector_string(sel: Obj | None) -> str:
    """The generated String() of a *metav1.LabelSelector, as %v prints it in the UnmanagedPods event."""
    if sel is None:
        return "nil"
    exprs = "".join(f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
                    f"Values:[{' '.join(e.get('values') or [])}],}},"
                    for e in sel.get("matchExpressions") or ())
    labels = "".join(f"{k}: {v}," for k, v in sorted((sel.get("matchLabels") or {}).items()))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def _controller_ref(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def _group_version(api_version: str) -> tuple[str, str]:
    return tuple(api_version.split("/", 1)) if "/" in api_version else ("", api_version)  # type: ignore[return-value]


# ---- the controller ------------------------------------------------------------------------

class DisruptionController(Controller):
    name = "disruption"

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.recorder = ctx.recorder("controllermanager")
        inf = ctx.informers
        self.pdbs = inf.informer(PDBS)
        self.pods = inf.informer("pods")
        self.rss = inf.informer("replicasets.apps")
        self.rcs = inf.informer("replicationcontrollers")
        self.deployments = inf.informer("deployments.apps")
        self.statefulsets = inf.informer("statefulsets.apps")
        self.stale_queue = WorkQueue("stale_pod_disruption")
        self.pdbs.add_handlers(self.enqueue, lambda _o, n: self.enqueue(n), self.enqueue)
        self.pods.add_handlers(self._pod_changed, lambda _o, n: self._pod_changed(n), self._pod_deleted)

    # ---- event handlers -------------------------------------------------------------------
    def _pdb_for_pod(self, pod: Obj) -> Obj | None:
        """getPdbForPod: the first matching PDB (a warning event when several match)."""
        ns = pod["metadata"].get("namespace") or ""
        pdbs = self.pdbs.by_index("namespace", ns)
        if not pdbs:
            return None
        matching = sorted((p for p in pdbs if selects_pod(p, pod, True)), key=lambda p: p["metadata"]["name"])
        if not matching:
            return None
        if len(matching) > 1:
            msg = (f'Pod "{ns}"/"{pod["metadata"]["name"]}" matches multiple PodDisruptionBudgets.  '
                   f'Chose "{matching[0]["metadata"]["name"]}" arbitrarily.')
            log.info(msg)
            self.recorder.event(pod, "Warning", "MultiplePodDisruptionBudgets", msg)
        return matching[0]

    def _pod_changed(self, pod: Obj) -> None:
        pdb = self._pdb_for_pod(pod)
        if pdb is not None:
            self.enqueue(pdb)
        wait = stale_disruption_wait(pod, time.time())
        if wait is not None:
            self.stale_queue.add_after(meta_key(pod), wait)

    def _pod_deleted(self, pod: Obj) -> None:
        pdb = self._pdb_for_pod(pod)
        if pdb is not None:
            self.enqueue(pdb)

    # ---- lifecycle ------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        def stale_worker() -> None:
            self._tasks.append(asyncio.get_running_loop().create_task(
                queue_worker(self.stale_queue, self.sync_stale_pod_disruption, "disruption: stale pod")))

        self.start_when_synced(self.pdbs, self.pods, self.rss, self.rcs, self.deployments, self.statefulsets,
                               workers=workers, then=stale_worker)

    async def stop(self) -> None:
        self.stale_queue.shutdown()
        await super().stop()

    # ---- PDB sync -------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return
        try:
            await self._try_sync(key, pdb)
        except ApiError as e:
            if e.code == 409 and e.reason == "Conflict":
                raise  # requeued without the fail-safe
            log.warning("disruption: failed to sync PDB %s: %s", key, e.message)
            await self._fail_safe(pdb, e.message)
        except CalculationError as e:
            log.warning("disruption: failed to sync PDB %s: %s", key, e)
            await self._fail_safe(pdb, str(e))

    def _pods_for_pdb(self, pdb: Obj) -> list[Obj]:
        ns = pdb["metadata"].get("namespace") or ""
        return [p for p in self.pods.by_index("namespace", ns) if selects_pod(pdb, p, True)]

    async def _try_sync(self, key: str, pdb: Obj) -> None:
        pods = self._pods_for_pdb(pdb)
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        try:
            expected, desired, unmanaged = await self._expected_pod_count(spec, pods)
        except CalculationError as e:
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {e}")
            raise
        if unmanaged:
            log.debug("disruption: unmanaged pods for PDB %s: %s", key, unmanaged)
            self.recorder.event(
                pdb, "Warning", "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {selector_string(spec.get('selector'))}) "
                "were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                "\".spec.minAvailable\" field of the PDB to an integer value.")
        now = time.time()
        st = pdb.get("status") or {}
        disrupted, recheck, expired = build_disrupted_pod_map(pods, st.get("disruptedPods"), now)
        for pod in expired:
            md = pdb["metadata"]
            log.info("disruption: pod %s was expected to be deleted but it wasn't, updating PDB %s",
                     meta_key(pod), key)
            self.recorder.event(pod, "Warning", "NotDeleted",
                                f"Pod was expected by PDB {md.get('namespace')}/{md.get('namespace')} to be "
                                "deleted but it wasn't")
        healthy = count_healthy_pods(pods, disrupted, now)
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(key, recheck - now)

    async def _expected_pod_count(self, spec: Obj, pods: list[Obj]) -> tuple[int, int, list[str]]:
        """getExpectedPodCount: (expectedPods, desiredHealthy, unmanaged pod names)."""
        if spec.get("maxUnavailable") is None and spec.get("minAvailable") is None:
            return 0, 0, []
        if not uses_scale(spec):
            return len(pods), scaled_value(spec["minAvailable"], len(pods), True), []
        expected, unmanaged = await self._expected_scale(pods)
        return expected, desired_healthy(spec, expected), unmanaged

    async def _expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        """getExpectedScale: the summed scale of the pods' distinct controllers."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = _controller_ref(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._find_controller(ref, pod["metadata"].get("namespace") or "")
            if found is None:
                raise CalculationError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def _find_controller(self, ref: Obj, ns: str) -> tuple[str, int] | None:
        """The finders in upstream's order: ReplicationController, Deployment (via its ReplicaSet),
        ReplicaSet, StatefulSet, then the scale subresource of whatever kind the reference names."""
        group, _ = _group_version(ref.get("apiVersion") or "")
        kind, name, uid = ref.get("kind"), ref.get("name") or "", ref.get("uid")
        if kind == "ReplicationController" and group == "":
            rc = self.rcs.get_by(ns, name)
            if rc is not None and rc["metadata"].get("uid") == uid:
                return rc["metadata"]["uid"], int((rc.get("spec") or {}).get("replicas", 1))
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self.rss.get_by(ns, name)
            if rs is not None and rs["metadata"].get("uid") == uid:
                owner = _controller_ref(rs)
                if owner is not None:
                    og, _ = _group_version(owner.get("apiVersion") or "")
                    if owner.get("kind") == "Deployment" and og in ("apps", "extensions"):
                        d = self.deployments.get_by(ns, owner.get("name") or "")
                        if d is not None and d["metadata"].get("uid") == owner.get("uid"):
                            return d["metadata"]["uid"], int((d.get("spec") or {}).get("replicas", 1))
                if owner is None or owner.get("kind") != "Deployment":
                    return rs["metadata"]["uid"], int((rs.get("spec") or {}).get("replicas", 1))
        if kind == "StatefulSet" and group == "apps":
            sts = self.statefulsets.get_by(ns, name)
            if sts is not None and sts["metadata"].get("uid") == uid:
                return sts["metadata"]["uid"], int((sts.get("spec") or {}).get("replicas", 1))
        return await self._scale_controller(ref, ns)

    async def _scale_controller(self, ref: Obj, ns: str) -> tuple[str, int] | None:
        """getScaleController: any kind served with a scale subresource."""
        api_version = ref.get("apiVersion") or ""
        group, version = _group_version(api_version)
        rt = by_gvk(group, version, ref.get("kind") or "")
        if rt is None:
            raise CalculationError(f'no matches for kind "{ref.get("kind")}" in version "{api_version}"')
        if "scale" not in rt.subresources:
            raise CalculationError(f"{rt.qualified} does not implement the scale subresource")
        try:
            obj = await self.client.get(rt, ns, ref.get("name") or "")
        except ApiError as e:
            if e.code == 404:
                return None
            raise
        if obj["metadata"].get("uid") != ref.get("uid"):
            return None
        return obj["metadata"]["uid"], int((obj.get("spec") or {}).get("replicas", 0))

    async def _update_status(self, pdb: Obj, healthy: int, desired: int, expected: int,
                             disrupted: dict[str, str]) -> None:
        allowed = disruptions_allowed(healthy, desired, expected)
        st = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation") or 0
        if (st.get("currentHealthy") == healthy and st.get("desiredHealthy") == desired
                and st.get("expectedPods") == expected and st.get("disruptionsAllowed") == allowed
                and (st.get("disruptedPods") or {}) == disrupted
                and (st.get("observedGeneration") or 0) == generation and conditions_up_to_date(pdb)):
            return
        new = deepcopy(pdb)
        status: Obj = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                       "disruptionsAllowed": allowed}
        if disrupted:
            status["disruptedPods"] = disrupted
        if generation:
            status["observedGeneration"] = generation
        status["conditions"] = deepcopy(st.get("conditions") or [])
        update_disruption_allowed_condition(status)
        new["status"] = status
        await self.client.update_status(PDBS, new)

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        """Fail closed: with the calculation broken, at least stop the eviction handler approving."""
        new = deepcopy(pdb)
        st = new.setdefault("status", {})
        st["disruptionsAllowed"] = 0
        conds = st.get("conditions")
        if not isinstance(conds, list):
            conds = st["conditions"] = []
        set_status_condition(conds, {"type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED,
                                     "message": message, "observedGeneration": st.get("observedGeneration") or 0})
        await self.client.update_status(PDBS, new)

    # ---- stale DisruptionTarget conditions ------------------------------------------------
    async def sync_stale_pod_disruption(self, key: str) -> None:
        ns, name = split_key(key)
        pod = self.pods.get(key)
        if pod is None:
            return
        wait = stale_disruption_wait(pod, time.time())
        if wait is None:
            return
        if wait > 0:
            self.stale_queue.add_after(key, wait)
            return
        new = deepcopy(pod)
        if not update_pod_condition(new.setdefault("status", {}), {"type": DISRUPTION_TARGET, "status": "False"},
                                    now_rfc3339()):
            return
        await self.client.update_status("pods", new)
        log.info("disruption: reset stale DisruptionTarget condition of pod %s/%s to False", ns, name)


start_disruption = register_controller("disruption-controller", DisruptionController)

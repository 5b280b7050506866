"""The DaemonSet reconcile algorithm (upstream pkg/controller/daemon daemon_controller.go syncDaemonSet,
manage, syncNodes, podsShouldBeOnNode, updateDaemonSetStatus, and update.go rollingUpdate,
constructHistory, cleanupHistory).

One sync of a DaemonSet, from informer caches:
1. ControllerRevisions: claim (adopt/release) the set's revisions, find the one whose data equals the
   current template (`{"spec":{"template":{...,"$patch":"replace"}}}`), create it when missing
   (`<name>-<hash>`, labels = template labels + controller-revision-hash, annotations copied from the
   set) or renumber it after a rollback; its hash labels new pods.
2. manage: for every node, `nodeShouldRunDaemonPod` decides whether a pod should be there and whether
   an existing one may stay; missing pods are created (slow-start batches of at most 250, each pinned
   to its node by a required node affinity on `metadata.name` — the default scheduler binds it),
   extra pods, pods on nodes that no longer qualify and failed pods (with per-node backoff) are deleted.
3. rolling update (when expectations are met): delete old pods within maxUnavailable, or with maxSurge
   start new pods next to old ones and delete an old pod once its replacement is available.
4. history cleanup beyond revisionHistoryLimit, then status through the status subresource.

Creations and deletions are recorded as expectations; until the informers have observed them a sync
only refreshes status (observedGeneration untouched), exactly as upstream.

Known difference: revision names/hashes (`nginx-ds-<hash>`, the controller-revision-hash label) come
from `compute_hash` over the template's canonical JSON, not Go's spew dump, so their values differ from
upstream's; their shape, uniqueness and collision handling (status.collisionCount) are upstream's.
Cost per sync is linear in nodes + the set's pods: node verdicts are computed once per sync and the
claimed-pods-by-node map is shared by the phases of a sync that wrote nothing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from ...api.errors import ApiError
from ...api.selectors import Requirement
from ...client.client import deepcopy
from ..common.dependents import SelectorCache
from ..common.errors import AggregateError, error_message
from ..common.expectations import ControllerExpectations
from ..common.history import RESOURCE as REVISIONS
from ..common.history import revision_raw
from ..common.podcontrol import (
    SLOW_START_INITIAL_BATCH_SIZE,
    PodControl,
    compute_hash,
    is_namespace_terminating,
    pod_from_template,
    slow_start_batch,
)
from ..common.podutil import is_pod_available, is_pod_ready
from ..common.refmanager import (
    ClaimErrors,
    ControllerRefManager,
    live_owner_check,
    new_controller_ref,
    objects_for_owner,
)
from . import utils
from .utils import UNIQUE_LABEL

log = logging.getLogger(__name__)

STATUS_UPDATE_RETRIES = 1
SELECTING_ALL = "SelectingAll"
FAILED_PLACEMENT = "FailedPlacement"
FAILED_DAEMON_POD = "FailedDaemonPod"
SUCCEEDED_DAEMON_POD = "SucceededDaemonPod"
_OMITEMPTY_STATUS = ("observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable")

NodeToPods = dict[str, list[dict[str, Any]]]
Verdicts = list[tuple[bool, bool]]  # (shouldRun, shouldContinueRunning) per node of the sync's node list


def _claim_error(e: ClaimErrors) -> BaseException:
    """The failed adoptions/releases: a single one as itself (an ApiError keeps its code)."""
    return AggregateError.of(list(e.errors)) or e


def _with_kind(ds: dict[str, Any]) -> dict[str, Any]:
    """Events and owner refs need kind/apiVersion; cached objects normally carry them."""
    if ds.get("kind") and ds.get("apiVersion"):
        return ds
    out = dict(ds)
    out["kind"] = utils.KIND
    out["apiVersion"] = utils.API_VERSION
    return out


class DaemonSetControl:
    """Reconciles DaemonSets from shared informers, writing through the client."""

    def __init__(self, client: Any, daemonsets: Any, pods: Any, nodes: Any, revisions: Any, recorder: Any,
                 expectations: ControllerExpectations, backoff: utils.Backoff,
                 enqueue_after: Callable[[str, float], None], burst_replicas: int = utils.BURST_REPLICAS,
                 selectors: SelectorCache | None = None) -> None:
        self.client = client
        self.daemonsets = daemonsets
        self.pods = pods
        self.nodes = nodes
        self.revisions = revisions
        self.recorder = recorder
        self.expectations = expectations
        self.backoff = backoff
        self.enqueue_after = enqueue_after
        self.burst_replicas = burst_replicas
        self.pod_control = PodControl(client, recorder)
        # parsed selectors (immutable in apps/v1), shared with the event handlers' OwnerLookup
        self.selectors = selectors if selectors is not None else SelectorCache()
        # compiled per DaemonSet uid: (generation, predicate)
        self._predicates: dict[str, tuple[Any, utils.DaemonPodPredicate]] = {}
        self._patches: dict[str, tuple[Any, bytes]] = {}
        self._pod_maps: dict[str, tuple[tuple[Any, ...], NodeToPods]] = {}

    # ---- compiled per-set data -----------------------------------------------------------------
    def predicate(self, ds: dict[str, Any]) -> utils.DaemonPodPredicate:
        md = ds["metadata"]
        gen = (md.get("generation"), md.get("resourceVersion") if md.get("generation") is None else None)
        hit = self._predicates.get(md.get("uid") or "")
        if hit is not None and hit[0] == gen:
            return hit[1]
        p = utils.DaemonPodPredicate(ds)
        self._predicates[md.get("uid") or ""] = (gen, p)
        return p

    def should_run(self, node: dict[str, Any], ds: dict[str, Any]) -> tuple[bool, bool]:
        return self.predicate(ds).should_run(node)

    def selector(self, ds: dict[str, Any]) -> list[Requirement] | None:
        return self.selectors.get(ds)

    def patch_raw(self, ds: dict[str, Any]) -> bytes:
        md = ds["metadata"]
        gen = md.get("generation")
        hit = self._patches.get(md.get("uid") or "")
        if hit is not None and hit[0] == gen and gen is not None:
            return hit[1]
        raw = utils.get_patch(ds)
        self._patches[md.get("uid") or ""] = (gen, raw)
        return raw

    def forget(self, uid: str) -> None:
        self._predicates.pop(uid, None)
        self.selectors.forget({"metadata": {"uid": uid}})
        self._patches.pop(uid, None)
        self._pod_maps.pop(uid, None)

    # ---- sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """syncDaemonSet."""
        started = time.monotonic()
        try:
            await self._sync(key)
        finally:
            ds = self.daemonsets.get(key)
            if ds is not None:
                # the pod map snapshot only serves the phases of one sync; don't pin old pods
                self._pod_maps.pop(ds["metadata"].get("uid") or "", None)
            log.debug("finished syncing daemon set %s (%.3fs)", key, time.monotonic() - started)

    async def _sync(self, key: str) -> None:
        ds = self.daemonsets.get(key)
        if ds is None:
            log.debug("daemon set %s has been deleted", key)
            self.expectations.delete_expectations(key)
            return
        ds = _with_kind(ds)
        node_list = self.nodes.list()
        sel = (ds.get("spec") or {}).get("selector")
        if sel is not None and not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.recorder.event(ds, "Warning", SELECTING_ALL,
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if ds["metadata"].get("deletionTimestamp"):
            # its history may be gone or orphaned already; status can't be computed reliably
            return
        cur, old = await self.construct_history(ds)
        hash_ = (cur["metadata"].get("labels") or {}).get(UNIQUE_LABEL) or ""
        # every node's verdict, computed once per sync (node_list is fixed for the sync)
        pred = self.predicate(ds)
        verdicts = [pred.should_run(n) for n in node_list]
        if not self.expectations.satisfied_expectations(key):
            # only status; observedGeneration is not raised for a generation not yet processed
            await self.update_status(ds, node_list, verdicts, hash_, False)
            return
        err: BaseException | None = None
        try:
            await self.update_daemon_set(ds, node_list, verdicts, hash_, key, old)
        except Exception as e:  # status is still written, as upstream
            err = e
        try:
            await self.update_status(ds, node_list, verdicts, hash_, True)
        except Exception as status_err:
            if err is None:
                raise
            log.warning("failed to update status of daemon set %s: %s", key, error_message(status_err))
        if err is not None:
            raise err

    async def update_daemon_set(self, ds: dict[str, Any], node_list: list[dict[str, Any]], verdicts: Verdicts,
                                hash_: str, key: str, old: list[dict[str, Any]]) -> None:
        await self.manage(ds, node_list, verdicts, hash_)
        if self.expectations.satisfied_expectations(key):
            if utils.update_strategy_type(ds) == "RollingUpdate":
                await self.rolling_update(ds, node_list, verdicts, hash_)
        try:
            await self.cleanup_history(ds, old)
        except ApiError as e:
            raise ApiError(e.code, e.reason, f"failed to clean up revisions of DaemonSet: {e.message}") from None

    # ---- pods ----------------------------------------------------------------------------------
    async def get_daemon_pods(self, ds: dict[str, Any]) -> list[dict[str, Any]]:
        """The set's pods after adopting matching orphans and releasing owned pods that stopped matching."""
        candidates = objects_for_owner(self.pods, ds)
        mgr = ControllerRefManager(self.client, ds, self.selector(ds), utils.CONTROLLER_KIND,
                                   can_adopt=live_owner_check(self.client, utils.RESOURCE, ds))
        try:
            return await mgr.claim("pods", candidates)
        except ClaimErrors as e:
            raise _claim_error(e) from None

    async def get_nodes_to_daemon_pods(self, ds: dict[str, Any], include_deleted_terminal: bool) -> NodeToPods:
        """Claimed pods grouped by the node they run on or are aimed at. The result is shared (read-only):
        within one sync, while neither the set nor the pod cache has changed (same resourceVersions), it
        is reused, so the phases of a sync that wrote nothing claim and group the pods once, not thrice."""
        md = ds["metadata"]
        uid = md.get("uid") or ""
        snap_key = (md.get("resourceVersion"), self.pods.resource_version, include_deleted_terminal)
        hit = self._pod_maps.get(uid)
        if hit is not None and hit[0] == snap_key and snap_key[1]:
            return hit[1]
        out = await self._group_daemon_pods(ds, include_deleted_terminal)
        snap_key = (md.get("resourceVersion"), self.pods.resource_version, include_deleted_terminal)
        self._pod_maps[uid] = (snap_key, out)
        return out

    async def _group_daemon_pods(self, ds: dict[str, Any], include_deleted_terminal: bool) -> NodeToPods:
        out: NodeToPods = {}
        for pod in await self.get_daemon_pods(ds):
            if not include_deleted_terminal and pod["metadata"].get("deletionTimestamp") \
                    and utils.is_pod_terminal(pod):
                continue  # finalizers or the kubelet/pod GC hold it; nothing left to do with it
            node_name = utils.get_target_node_name(pod)
            if node_name is None:
                log.debug("failed to get target node name of pod %s in daemon set %s", pod["metadata"]["name"],
                          ds["metadata"]["name"])
                continue
            lst = out.get(node_name)
            if lst is None:
                out[node_name] = [pod]
            else:
                lst.append(pod)
        return out

    def pods_should_be_on_node(self, node: dict[str, Any], node_to_pods: NodeToPods, ds: dict[str, Any],
                               hash_: str, should_run: bool, should_continue: bool, surge: bool
                               ) -> tuple[list[str], list[str]]:
        """podsShouldBeOnNode: (nodes needing a pod, pods to delete) for one node."""
        name = node["metadata"]["name"]
        daemon_pods = node_to_pods.get(name)
        if should_run and daemon_pods is None:
            return [name], []
        create: list[str] = []
        delete: list[str] = []
        if should_continue:
            if not daemon_pods:
                return create, delete
            running: list[dict[str, Any]] = []
            for pod in daemon_pods:
                md = pod["metadata"]
                if md.get("deletionTimestamp"):
                    continue
                phase = utils.pod_phase(pod)
                if phase == "Failed":
                    # the kubelet may keep rejecting it: don't hot-loop, back off per node
                    bkey = utils.failed_pods_backoff_key(ds, name)
                    now = self.backoff.now()
                    if self.backoff.is_in_backoff_since_update(bkey, now):
                        delay = self.backoff.get(bkey)
                        log.debug("deleting failed pod %s on node %s limited by backoff (%.0fs)", md["name"], name,
                                  delay)
                        self.enqueue_after(utils.ds_key(ds), delay)
                        continue
                    self.backoff.next(bkey, now)
                    self.recorder.event(ds, "Warning", FAILED_DAEMON_POD,
                                        f"Found failed daemon pod {md.get('namespace')}/{md['name']} on node {name}, "
                                        "will try to kill it")
                    delete.append(md["name"])
                elif phase == "Succeeded":
                    self.recorder.event(ds, "Normal", SUCCEEDED_DAEMON_POD,
                                        f"Found succeeded daemon pod {md.get('namespace')}/{md['name']} on node "
                                        f"{name}, will try to delete it")
                    delete.append(md["name"])
                else:
                    running.append(pod)
            if not surge:
                if len(running) > 1:
                    # more than one pod on the node: keep the oldest
                    for pod in utils.sort_pods(running)[1:]:
                        delete.append(pod["metadata"]["name"])
                return create, delete
            if len(running) <= 1:
                if not running and should_run:
                    create.append(name)  # surging: at least one non-deleted pod per node
                return create, delete
            # surge: keep the oldest new pod and the oldest old pod; the old one goes once it is not
            # ready or the new one is available
            oldest_new = oldest_old = None
            for pod in utils.sort_pods(running):
                if (pod["metadata"].get("labels") or {}).get(UNIQUE_LABEL) == hash_:
                    if oldest_new is None:
                        oldest_new = pod
                        continue
                elif oldest_old is None:
                    oldest_old = pod
                    continue
                delete.append(pod["metadata"]["name"])
            if oldest_new is not None and oldest_old is not None:
                if not is_pod_ready(oldest_old):
                    delete.append(oldest_old["metadata"]["name"])
                elif is_pod_available(oldest_new, utils.min_ready_seconds(ds), time.time()):
                    delete.append(oldest_old["metadata"]["name"])
            return create, delete
        if daemon_pods:
            # the node no longer qualifies: every daemon pod on it goes
            for pod in daemon_pods:
                if not pod["metadata"].get("deletionTimestamp"):
                    delete.append(pod["metadata"]["name"])
        return create, delete

    async def manage(self, ds: dict[str, Any], node_list: list[dict[str, Any]], verdicts: Verdicts,
                     hash_: str) -> None:
        """Create missing daemon pods and delete the ones that must go."""
        try:
            node_to_pods = await self.get_nodes_to_daemon_pods(ds, False)
        except ApiError as e:
            raise ApiError(e.code, e.reason, f"couldn't get node to daemon pod mapping for daemon set "
                                             f"\"{ds['metadata']['name']}\": {e.message}") from None
        needing: list[str] = []
        to_delete: list[str] = []
        surge = utils.allows_surge(ds)
        for node, (should_run, should_continue) in zip(node_list, verdicts, strict=True):
            name = node["metadata"]["name"]
            pods = node_to_pods.get(name)
            if pods is None:
                if should_run:
                    needing.append(name)  # the common cases, without the general path
                continue
            if should_continue and len(pods) == 1:
                pod = pods[0]
                if not pod["metadata"].get("deletionTimestamp") and not utils.is_pod_terminal(pod):
                    continue  # one live pod where it belongs: nothing to do
            c, d = self.pods_should_be_on_node(node, node_to_pods, ds, hash_, should_run, should_continue, surge)
            needing.extend(c)
            to_delete.extend(d)
        names = {n["metadata"]["name"] for n in node_list}
        to_delete.extend(utils.unscheduled_pods_without_node(names, node_to_pods))
        await self.sync_nodes(ds, to_delete, needing, hash_)

    async def sync_nodes(self, ds: dict[str, Any], pods_to_delete: list[str], nodes_needing: list[str],
                         hash_: str) -> None:
        """syncNodes: set expectations, create pods in slow-start batches, delete pods."""
        key = utils.ds_key(ds)
        ns = ds["metadata"].get("namespace")
        create_diff = min(len(nodes_needing), self.burst_replicas)
        delete_diff = min(len(pods_to_delete), self.burst_replicas)
        self.expectations.set_expectations(key, create_diff, delete_diff)
        errors: list[BaseException] = []
        if create_diff:
            log.debug("daemon set %s: creating %d pods (%d nodes need one)", key, create_diff, len(nodes_needing))
            template = utils.create_pod_template((ds.get("spec") or {}).get("template") or {},
                                                 utils.template_generation_or_none(ds), hash_)
            base = pod_from_template(template, ds, new_controller_ref(ds, *utils.CONTROLLER_KIND))

            async def create(i: int) -> None:
                pod = deepcopy(base)
                spec = pod["spec"]
                spec["affinity"] = utils.replace_node_name_node_affinity(spec.get("affinity"), nodes_needing[i])
                try:
                    await self.pod_control.create_pod(ns, pod, ds)
                except ApiError as e:
                    if is_namespace_terminating(e):
                        return  # every further create fails the same way
                    log.debug("failed creation, decrementing expectations for daemon set %s", key)
                    self.expectations.creation_observed(key)
                    raise
                except Exception:
                    self.expectations.creation_observed(key)
                    raise

            successes, errs = await slow_start_batch(create_diff, SLOW_START_INITIAL_BATCH_SIZE, create)
            errors.extend(errs)
            skipped = create_diff - successes - len(errs)
            if skipped > 0:
                log.debug("slow-start failure: skipping creation of %d pods for daemon set %s", skipped, key)
                self.expectations.lower_expectations(key, skipped, 0)
        if delete_diff:
            log.debug("daemon set %s: deleting %d pods", key, delete_diff)

            async def delete(name: str) -> None:
                try:
                    await self.pod_control.delete_pod(ns, name, ds)
                except ApiError as e:
                    self.expectations.deletion_observed(key)
                    if e.code != 404:
                        errors.append(e)

            await asyncio.gather(*(delete(pods_to_delete[i]) for i in range(delete_diff)))
        err = AggregateError.of(errors)
        if err is not None:
            raise err

    # ---- rolling update ------------------------------------------------------------------------
    def updated_desired_node_counts(self, ds: dict[str, Any], node_list: list[dict[str, Any]],
                                    verdicts: Verdicts, node_to_pods: NodeToPods) -> tuple[int, int, int]:
        """(maxSurge, maxUnavailable, desiredNumberScheduled); adds an empty entry to node_to_pods
        for every node that should run a pod but has none."""
        desired = 0
        for node, (want, _) in zip(node_list, verdicts, strict=True):
            if not want:
                continue
            desired += 1
            node_to_pods.setdefault(node["metadata"]["name"], [])
        try:
            max_unavailable = utils.unavailable_count(ds, desired)
        except ValueError as e:
            raise ApiError(500, "InternalError", f"invalid value for MaxUnavailable: {e}") from None
        try:
            max_surge = utils.surge_count(ds, desired)
        except ValueError as e:
            raise ApiError(500, "InternalError", f"invalid value for MaxSurge: {e}") from None
        if desired > 0 and max_unavailable == 0 and max_surge == 0:
            # an impossible configuration: accept unavailability rather than stall
            max_unavailable = 1
        return max_surge, max_unavailable, desired

    async def rolling_update(self, ds: dict[str, Any], node_list: list[dict[str, Any]], verdicts: Verdicts,
                             hash_: str) -> None:
        """Old pods to delete, or extra new pods to start, within maxUnavailable / maxSurge."""
        node_to_pods = dict(await self.get_nodes_to_daemon_pods(ds, False))  # a copy: entries are added
        max_surge, max_unavailable, desired = self.updated_desired_node_counts(ds, node_list, verdicts,
                                                                               node_to_pods)
        now = time.time()
        mrs = utils.min_ready_seconds(ds)
        gen = utils.template_generation_or_none(ds)
        if max_surge == 0:
            num_unavailable = 0
            allowed_replacement: list[str] = []
            candidates: list[str] = []
            for pods in node_to_pods.values():
                new, old, ok = utils.find_updated_pods_on_node(pods, hash_, gen)
                if not ok:
                    # excess pods: the manage loop prunes them; count the node as unavailable
                    num_unavailable += 1
                    continue
                if (old is None and new is None) or (old is not None and new is not None):
                    num_unavailable += 1  # the manage loop creates or deletes here
                elif new is not None:
                    if not is_pod_available(new, mrs, now):
                        num_unavailable += 1
                elif not is_pod_available(old, mrs, now):
                    # an old pod that isn't available is replaced right away
                    allowed_replacement.append(old["metadata"]["name"])
                    num_unavailable += 1
                elif num_unavailable >= max_unavailable:
                    continue
                else:
                    candidates.append(old["metadata"]["name"])
            remaining = max(0, max_unavailable - num_unavailable)
            remaining = min(remaining, len(candidates))
            await self.sync_nodes(ds, allowed_replacement + candidates[:remaining], [], hash_)
            return

        old_to_delete: list[str] = []
        should_not_run_to_delete: list[str] = []
        candidate_new_nodes: list[str] = []
        allowed_new_nodes: list[str] = []
        num_surge = 0
        num_available = 0
        pred = self.predicate(ds)
        for node_name, pods in node_to_pods.items():
            new, old, ok = utils.find_updated_pods_on_node(pods, hash_, gen)
            if not ok:
                num_surge += 1  # the manage loop prunes the excess; count as surging
                continue
            if old is not None:
                if is_pod_available(old, mrs, now):
                    num_available += 1
            elif new is not None and is_pod_available(new, mrs, now):
                num_available += 1
            if old is None:
                continue  # the manage loop handles this node
            if new is None:
                node = self.nodes.get(node_name)
                if node is None:
                    raise ApiError(404, "NotFound", f"couldn't get node for nodeName \"{node_name}\": "
                                                    f"node \"{node_name}\" not found")
                should_run, _ = pred.should_run(node)
                if not is_pod_available(old, mrs, now):
                    if not should_run:
                        old_to_delete.append(old["metadata"]["name"])
                        continue
                    allowed_new_nodes.append(node_name)  # an unavailable old pod may be surged at once
                    continue
                if not should_run:
                    should_not_run_to_delete.append(old["metadata"]["name"])
                    continue
                if num_surge >= max_surge:
                    continue
                candidate_new_nodes.append(node_name)
                continue
            # already surged here
            if not is_pod_available(new, mrs, now):
                num_surge += 1  # waiting for the new pod to become available
                continue
            old_to_delete.append(old["metadata"]["name"])  # the new pod is available: the old one goes
        remaining = max_surge - num_surge
        # with maxSurge owners expect full availability: pods on nodes that no longer qualify go only
        # once enough pods elsewhere are available
        deletable = num_available - desired
        if deletable > 0:
            deletable = min(deletable, len(should_not_run_to_delete))
            ns = ds["metadata"].get("namespace")
            for name in should_not_run_to_delete[:deletable]:
                if self.pods.get_by(ns, name) is None:
                    continue
                old_to_delete.append(name)
        remaining = max(0, min(remaining, len(candidate_new_nodes)))
        await self.sync_nodes(ds, old_to_delete, allowed_new_nodes + candidate_new_nodes[:remaining], hash_)

    # ---- history -------------------------------------------------------------------------------
    async def controlled_histories(self, ds: dict[str, Any]) -> list[dict[str, Any]]:
        """The set's ControllerRevisions, after adoption/release."""
        candidates = objects_for_owner(self.revisions, ds)
        mgr = ControllerRefManager(self.client, ds, self.selector(ds), utils.CONTROLLER_KIND,
                                   can_adopt=live_owner_check(self.client, utils.RESOURCE, ds))
        try:
            return await mgr.claim(REVISIONS, candidates)
        except ClaimErrors as e:
            raise _claim_error(e) from None

    def match(self, ds: dict[str, Any], rev: dict[str, Any]) -> bool:
        """Whether rev holds ds's current template."""
        return self.patch_raw(ds) == revision_raw(rev)

    async def construct_history(self, ds: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(current revision, old revisions): labels missing hashes, renumbers or creates the current one."""
        try:
            histories = await self.controlled_histories(ds)
        except ApiError as e:
            raise ApiError(e.code, e.reason, f"failed to construct revisions of DaemonSet: {e.message}") from None
        current: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for h in histories:
            if UNIQUE_LABEL not in (h["metadata"].get("labels") or {}):
                upd = deepcopy(h)
                upd["metadata"].setdefault("labels", {})[UNIQUE_LABEL] = upd["metadata"]["name"]
                h = await self.client.update(REVISIONS, upd)
            if self.match(ds, h):
                current.append(h)
            else:
                old.append(h)
        curr_revision = utils.max_revision(old) + 1
        if not current:
            cur = await self.snapshot(ds, curr_revision)
        else:
            cur = await self.dedup_cur_histories(ds, current)
            if utils.revision_number(cur) < curr_revision:
                upd = deepcopy(cur)
                upd["revision"] = curr_revision
                await self.client.update(REVISIONS, upd)
        return cur, old

    async def dedup_cur_histories(self, ds: dict[str, Any], current: list[dict[str, Any]]) -> dict[str, Any]:
        """Keep the highest-numbered duplicate; relabel pods to its hash, delete the others."""
        if len(current) == 1:
            return current[0]
        keep = current[0]
        best = -1
        for c in current:
            if utils.revision_number(c) >= best:
                keep = c
                best = utils.revision_number(c)
        keep_hash = (keep["metadata"].get("labels") or {}).get(UNIQUE_LABEL)
        ns = ds["metadata"].get("namespace")
        for pod in await self.get_daemon_pods(ds):
            if (pod["metadata"].get("labels") or {}).get(UNIQUE_LABEL) != keep_hash:
                await self.client.patch("pods", ns, pod["metadata"]["name"],
                                        {"metadata": {"labels": {UNIQUE_LABEL: keep_hash}}})
        for c in current:
            if c["metadata"]["name"] == keep["metadata"]["name"]:
                continue
            await self.client.delete(REVISIONS, ns, c["metadata"]["name"])
        return keep

    def new_revision(self, ds: dict[str, Any], revision: int) -> dict[str, Any]:
        """The ControllerRevision snapshot of ds's template (named `<ds>-<ComputeHash>`)."""
        template = (ds.get("spec") or {}).get("template") or {}
        hash_ = compute_hash(template, utils.collision_count(ds))
        md = ds["metadata"]
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[UNIQUE_LABEL] = hash_
        rmd: dict[str, Any] = {"name": f"{md['name']}-{hash_}", "namespace": md.get("namespace"), "labels": labels,
                               "ownerReferences": [new_controller_ref(ds, *utils.CONTROLLER_KIND)]}
        if md.get("annotations"):
            rmd["annotations"] = dict(md["annotations"])
        # data with its keys in Go's (sorted) order: the server keeps the order, and kubectl compares
        # the raw bytes with its own rendering of the template (`rollout undo` skips a no-op rollback)
        return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rmd,
                "data": orjson.loads(self.patch_raw(ds)), "revision": revision}

    async def snapshot(self, ds: dict[str, Any], revision: int) -> dict[str, Any]:
        """Create the current revision; on a name collision with different data, bump
        status.collisionCount (persisted, so the next sync hashes differently) and fail this sync."""
        rev = self.new_revision(ds, revision)
        ns = ds["metadata"].get("namespace")
        try:
            return await self.client.create(REVISIONS, ns, rev)
        except ApiError as e:
            if e.code != 409 or e.reason != "AlreadyExists":
                raise
            outer = e
        existing = await self.client.get(REVISIONS, ns, rev["metadata"]["name"])
        if self.match(ds, existing):
            return existing
        cur = await self.client.get(utils.RESOURCE, ns, ds["metadata"]["name"])
        if utils.collision_count(cur) != utils.collision_count(ds):
            raise ApiError(409, "Conflict", f"found a stale collision count ({utils.collision_count(ds)}, expected "
                                            f"{utils.collision_count(cur)}) of DaemonSet \"{ds['metadata']['name']}\" "
                                            "while processing; will retry until it is updated")
        st = cur.setdefault("status", {})
        st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
        await self.client.update_status(utils.RESOURCE, cur)
        log.info("found a hash collision for DaemonSet %s/%s - bumping collisionCount to %d", ns,
                 ds["metadata"]["name"], st["collisionCount"])
        raise outer

    async def cleanup_history(self, ds: dict[str, Any], old: list[dict[str, Any]]) -> None:
        """Delete the oldest revisions beyond revisionHistoryLimit that no pod still uses."""
        to_kill = len(old) - utils.revision_history_limit(ds)
        if to_kill <= 0:
            return
        node_to_pods = await self.get_nodes_to_daemon_pods(ds, True)
        live = set()
        for pods in node_to_pods.values():
            for pod in pods:
                h = (pod["metadata"].get("labels") or {}).get(UNIQUE_LABEL)
                if h:
                    live.add(h)
        ns = ds["metadata"].get("namespace")
        for h in sorted(old, key=utils.revision_number):
            if to_kill <= 0:
                break
            if (h["metadata"].get("labels") or {}).get(UNIQUE_LABEL) in live:
                continue
            try:
                await self.client.delete(REVISIONS, ns, h["metadata"]["name"])
            except ApiError as e:
                if e.code != 404:
                    raise
            to_kill -= 1

    # ---- status --------------------------------------------------------------------------------
    async def update_status(self, ds: dict[str, Any], node_list: list[dict[str, Any]], verdicts: Verdicts,
                            hash_: str, update_observed_gen: bool) -> None:
        """updateDaemonSetStatus: count nodes and pods, then write status when it changed."""
        try:
            node_to_pods = await self.get_nodes_to_daemon_pods(ds, False)
        except ApiError as e:
            raise ApiError(e.code, e.reason, f"couldn't get node to daemon pod mapping for daemon set "
                                             f"\"{ds['metadata']['name']}\": {e.message}") from None
        desired = current = misscheduled = ready = updated = available = 0
        now = time.time()
        mrs = utils.min_ready_seconds(ds)
        gen = utils.template_generation_or_none(ds)
        for node, (should_run, _) in zip(node_list, verdicts, strict=True):
            pods = node_to_pods.get(node["metadata"]["name"])
            if should_run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = pods[0] if len(pods) == 1 else utils.sort_pods(pods)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, mrs, now):
                        available += 1
                if utils.is_pod_updated(pod, hash_, gen):
                    updated += 1
            elif pods:
                misscheduled += 1
        unavailable = desired - available
        await self.store_status(ds, desired, current, misscheduled, ready, updated, available, unavailable,
                                update_observed_gen)
        if mrs > 0 and ready != available:
            # a last line of defence against clock skew
            self.enqueue_after(utils.ds_key(ds), float(mrs))

    async def store_status(self, ds: dict[str, Any], desired: int, current: int, misscheduled: int, ready: int,
                           updated: int, available: int, unavailable: int, update_observed_gen: bool) -> None:
        st = ds.get("status") or {}
        gen = int(ds["metadata"].get("generation") or 0)
        if (int(st.get("desiredNumberScheduled") or 0) == desired
                and int(st.get("currentNumberScheduled") or 0) == current
                and int(st.get("numberMisscheduled") or 0) == misscheduled
                and int(st.get("numberReady") or 0) == ready
                and int(st.get("updatedNumberScheduled") or 0) == updated
                and int(st.get("numberAvailable") or 0) == available
                and int(st.get("numberUnavailable") or 0) == unavailable
                and int(st.get("observedGeneration") or 0) >= gen):
            return
        to_update = deepcopy(ds)
        i = 0
        while True:
            s = to_update.setdefault("status", {})
            if update_observed_gen:
                s["observedGeneration"] = gen
            s["desiredNumberScheduled"] = desired
            s["currentNumberScheduled"] = current
            s["numberMisscheduled"] = misscheduled
            s["numberReady"] = ready
            s["updatedNumberScheduled"] = updated
            s["numberAvailable"] = available
            s["numberUnavailable"] = unavailable
            for f in _OMITEMPTY_STATUS:
                if s.get(f) == 0:
                    del s[f]  # int32 `omitempty` fields: Go never writes their zero value
            try:
                await self.client.update_status(utils.RESOURCE, to_update)
                return
            except ApiError as e:
                update_err = e
            if i >= STATUS_UPDATE_RETRIES:
                break
            i += 1
            md = ds["metadata"]
            to_update = await self.client.get(utils.RESOURCE, md.get("namespace"), md["name"])
        raise ApiError(update_err.code, update_err.reason,
                       f"error storing status for daemon set {ds['metadata']['name']}: {update_err.message}")

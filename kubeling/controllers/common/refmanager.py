"""ControllerRef management as upstream controller_ref_manager.go has it.

A controller owns the objects whose controller ownerReference carries its uid. Each sync it
*claims* candidates: objects it owns whose labels still match its selector are kept, owned
objects that stopped matching are released (ownerReference removed by a strategic merge
patch), and orphans that match are adopted (controller ownerReference added) — but never while
the owner is being deleted, and only after a live GET has confirmed the owner still exists and
is not being deleted (the informer cache may be stale; upstream issue #42639).

Candidates come from an informer index by controller uid (`index_by_controller`): the owner's
objects under its uid and the namespace's orphans under `orphan/<namespace>`, so a sync never
scans the whole namespace.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ...api.errors import ApiError
from ...api.selectors import Requirement, matches_labels
from .errors import AggregateError

log = logging.getLogger(__name__)

CONTROLLER_INDEX = "controller-uid"
STRATEGIC = "application/strategic-merge-patch+json"


def index_by_controller(obj: dict[str, Any]) -> list[str]:
    """Index value: the controller's uid, or `orphan/<namespace>` for objects without controller."""
    md = obj["metadata"]
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller"):
            uid = ref.get("uid")
            return [uid] if uid else []
    return ["orphan/" + (md.get("namespace") or "")]


def ensure_controller_index(informer: Any) -> None:
    informer.add_indexer(CONTROLLER_INDEX, index_by_controller)


def objects_for_owner(informer: Any, owner: dict[str, Any]) -> list[dict[str, Any]]:
    """The owner's objects plus the orphans of its namespace (upstream FilterPodsByOwner)."""
    md = owner["metadata"]
    owned = informer.by_index(CONTROLLER_INDEX, md["uid"])
    orphans = informer.by_index(CONTROLLER_INDEX, "orphan/" + (md.get("namespace") or ""))
    if not orphans:
        return owned
    return owned + orphans


def get_controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """metav1.NewControllerRef."""
    md = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": md["name"], "uid": md["uid"],
            "controller": True, "blockOwnerDeletion": True}


def recheck_deletion_timestamp(get_object: Callable[[], Awaitable[dict[str, Any]]]
                               ) -> Callable[[], Awaitable[None]]:
    """A can-adopt check: fetch the owner live and refuse adoption if it is being deleted."""

    async def check() -> None:
        try:
            obj = await get_object()
        except ApiError as e:
            raise ApiError(e.code, e.reason, f"can't recheck DeletionTimestamp: {e.message}") from None
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            raise ApiError(409, "Conflict",
                           f"{md.get('namespace')}/{md['name']} has just been deleted at {md['deletionTimestamp']}")

    return check


def live_owner_check(client: Any, resource: str, owner: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """The usual can-adopt function: GET the owner, check it is the same object (uid), not deleting."""
    md = owner["metadata"]

    async def get() -> dict[str, Any]:
        fresh = await client.get(resource, md.get("namespace"), md["name"])
        if fresh["metadata"].get("uid") != md["uid"]:
            raise ApiError(409, "Conflict", f"original {owner.get('kind')} {md.get('namespace')}/{md['name']} is "
                                            f"gone: got uid {fresh['metadata'].get('uid')}, wanted {md['uid']}")
        return fresh

    return recheck_deletion_timestamp(get)


def owner_ref_controller_patch(owner: dict[str, Any], api_version: str, kind: str, uid: str,
                               finalizers: Iterable[str] = ()) -> dict[str, Any]:
    """The strategic merge patch that adds the controller ref (uid acts as a precondition)."""
    md: dict[str, Any] = {"ownerReferences": [new_controller_ref(owner, api_version, kind)], "uid": uid}
    fins = list(finalizers)
    if fins:
        md["finalizers"] = fins
    return {"metadata": md}


def delete_owner_ref_patch(dependent_uid: str, owner_uids: Iterable[str],
                           finalizers: Iterable[str] = ()) -> dict[str, Any]:
    """upstream GenerateDeleteOwnerRefStrategicMergeBytes."""
    md: dict[str, Any] = {"ownerReferences": [{"$patch": "delete", "uid": u} for u in owner_uids],
                          "uid": dependent_uid}
    fins = list(finalizers)
    if fins:
        md["$deleteFromPrimitiveList/finalizers"] = fins
    return {"metadata": md}


class ClaimErrors(AggregateError):
    """Some adoptions or releases failed; `errors` holds them. The sync should be retried."""


class ControllerRefManager:
    """Claims objects of one resource for one owner (upstream BaseControllerRefManager plus the
    Pod/ReplicaSet/ControllerRevision variants, which differ only in resource and finalizers).

    `owner_kind` is (apiVersion, kind) of the owner; `can_adopt` is called at most once, before
    the first adoption. `on_write(obj)` (optional) sees every object the manager patched.
    """

    def __init__(self, client: Any, owner: dict[str, Any], selector: list[Requirement] | None,
                 owner_kind: tuple[str, str], can_adopt: Callable[[], Awaitable[None]] | None = None,
                 finalizers: Iterable[str] = (), on_write: Callable[[str, dict[str, Any]], None] | None = None
                 ) -> None:
        self.client = client
        self.owner = owner
        self.selector = selector
        self.api_version, self.kind = owner_kind
        self._can_adopt_fn = can_adopt
        self._can_adopt_done = False
        self._can_adopt_err: Exception | None = None
        self.finalizers = list(finalizers)
        self.on_write = on_write

    async def can_adopt(self) -> None:
        if not self._can_adopt_done:
            self._can_adopt_done = True
            if self._can_adopt_fn is not None:
                try:
                    await self._can_adopt_fn()
                except Exception as e:  # remembered and re-raised for every adoption
                    self._can_adopt_err = e
        if self._can_adopt_err is not None:
            raise self._can_adopt_err

    def selector_matches(self, obj: dict[str, Any]) -> bool:
        if self.selector is None:
            return False
        return matches_labels(self.selector, obj["metadata"].get("labels"))

    async def claim_object(self, resource: str, obj: dict[str, Any],
                           match: Callable[[dict[str, Any]], bool]) -> bool:
        """Reconcile ownership of one object; True when the owner now owns it."""
        omd = self.owner["metadata"]
        md = obj["metadata"]
        ref = get_controller_of(obj)
        if ref is not None:
            if ref.get("uid") != omd["uid"]:
                return False  # owned by someone else
            if match(obj):
                return True
            if omd.get("deletionTimestamp"):
                return False
            try:
                await self.release(resource, obj)
            except ApiError as e:
                if e.code == 404:
                    return False
                raise
            return False
        # an orphan
        if omd.get("deletionTimestamp") or not match(obj):
            return False
        if md.get("deletionTimestamp"):
            return False
        if omd.get("namespace") and omd.get("namespace") != md.get("namespace"):
            return False
        try:
            await self.adopt(resource, obj)
        except ApiError as e:
            if e.code == 404:
                return False
            raise
        return True

    async def claim(self, resource: str, objs: Iterable[dict[str, Any]],
                    filters: Iterable[Callable[[dict[str, Any]], bool]] = ()) -> list[dict[str, Any]]:
        """ClaimPods / ClaimReplicaSets / ClaimControllerRevisions: the objects the owner owns now.
        Raises ClaimErrors (after processing every object) when some adoption or release failed."""
        flt = list(filters)

        def match(o: dict[str, Any]) -> bool:
            if not self.selector_matches(o):
                return False
            return all(f(o) for f in flt)

        claimed: list[dict[str, Any]] = []
        errs: list[Exception] = []
        uid = self.owner["metadata"]["uid"]
        for o in objs:
            ref = get_controller_of(o)
            if ref is not None and ref.get("uid") == uid and match(o):
                claimed.append(o)  # the common case, without a coroutine
                continue
            if ref is not None and ref.get("uid") != uid:
                continue
            try:
                if await self.claim_object(resource, o, match):
                    claimed.append(o)
            except Exception as e:  # aggregated like utilerrors.NewAggregate
                errs.append(e)
        if errs:
            raise ClaimErrors(errs)
        return claimed

    async def adopt(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        try:
            await self.can_adopt()
        except Exception as e:
            raise ApiError(409, "Conflict", f"can't adopt {resource} {md.get('namespace')}/{md['name']} "
                                            f"({md.get('uid')}): {e}") from None
        body = owner_ref_controller_patch(self.owner, self.api_version, self.kind, md["uid"], self.finalizers)
        out = await self.client.patch(resource, md.get("namespace"), md["name"], body, STRATEGIC)
        if self.on_write is not None:
            self.on_write(resource, out)
        return out

    async def release(self, resource: str, obj: dict[str, Any]) -> dict[str, Any] | None:
        md = obj["metadata"]
        log.debug("patching %s %s/%s to remove its controllerRef to %s/%s:%s", resource, md.get("namespace"),
                  md["name"], self.api_version, self.kind, self.owner["metadata"]["name"])
        body = delete_owner_ref_patch(md["uid"], [self.owner["metadata"]["uid"]], self.finalizers)
        try:
            out = await self.client.patch(resource, md.get("namespace"), md["name"], body, STRATEGIC)
        except ApiError as e:
            if e.code in (404, 422):
                # gone, or no longer ours / recreated with another uid: nothing to release
                return None
            raise
        if self.on_write is not None:
            self.on_write(resource, out)
        return out

"""Which owner an informer event concerns: the event handlers the workload controllers share
(upstream addPod/updatePod/deletePod of the ReplicaSet, StatefulSet and DaemonSet controllers,
add/update/deleteReplicaSet of the Deployment controller, add/update/deleteHistory of the DaemonSet
controller, and their owner add/update/delete handlers).

- `SelectorCache`: an owner's spec.selector, parsed once per uid (immutable in apps/v1).
- `OwnerLookup`: resolveControllerRef against the owner informer (kind, name *and* uid must match,
  so a recreated owner never picks up the old one's dependents), and the owners whose selector
  selects an orphan (GetPodReplicaSets, GetPodStatefulSets, GetDeploymentsForReplicaSet, ...).
- `DependentHandlers`: the add/update/delete handlers of a dependent resource. A dependent with a
  controller ref concerns that owner only; an orphan concerns every owner that might adopt it.
  Upstream's per-controller differences are options: expectation hooks on observed creations and
  deletions, whether an update that sets deletionTimestamp counts as the deletion, whether a pod
  turning Ready requeues its owner after minReadySeconds, whether an owned addition enqueues.
- `handle_owner_events`: the owner's own add/update/delete handlers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from ...api.selectors import Requirement, matches_labels, selector_from_label_selector
from ...client.informer import meta_key
from .podutil import is_pod_ready
from .refmanager import get_controller_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KeyFunc = Callable[[Obj], str]
Hook = Callable[[str, Obj], None]


class SelectorCache:
    """spec.selector parsed once per owner uid; `forget` it when the owner is deleted."""

    def __init__(self) -> None:
        self._by_uid: dict[str, list[Requirement] | None] = {}

    def get(self, owner: Obj) -> list[Requirement] | None:
        """The parsed selector; None for a nil selector (selects nothing), [] for an empty one."""
        uid = owner["metadata"].get("uid") or ""
        try:
            return self._by_uid[uid]
        except KeyError:
            sel = selector_from_label_selector((owner.get("spec") or {}).get("selector"))
            self._by_uid[uid] = sel
            return sel

    def forget(self, owner: Obj) -> None:
        self._by_uid.pop(owner["metadata"].get("uid") or "", None)


class OwnerLookup:
    """Owners of one kind, looked up in their informer's cache."""

    def __init__(self, informer: Any, kind: str, selectors: SelectorCache | None = None,
                 log_level: int = logging.DEBUG) -> None:
        self.informer = informer
        self.kind = kind
        self.selectors = selectors if selectors is not None else SelectorCache()
        self.log_level = log_level

    def resolve(self, namespace: str | None, ref: Obj) -> Obj | None:
        """resolveControllerRef: the owner a controller ref names, if it is of our kind and the
        cached object has the ref's uid."""
        if ref.get("kind") != self.kind:
            return None
        owner = self.informer.get_by(namespace, ref.get("name") or "")
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return owner

    def owner_of(self, obj: Obj) -> Obj | None:
        """The cached owner obj's controller ref resolves to."""
        ref = get_controller_of(obj)
        return None if ref is None else self.resolve(obj["metadata"].get("namespace"), ref)

    def selecting(self, obj: Obj) -> list[Obj]:
        """Owners in obj's namespace whose non-empty selector matches obj's (non-empty) labels.
        More than one is a user error; controller refs keep it harmless, so it is only logged."""
        md = obj["metadata"]
        labels = md.get("labels")
        if not labels:
            return []
        out = []
        for owner in self.informer.by_index("namespace", md.get("namespace") or ""):
            sel = self.selectors.get(owner)
            if sel and matches_labels(sel, labels):
                out.append(owner)
        if len(out) > 1:
            log.log(self.log_level, "user error: more than one %s is selecting %s/%s with labels %s: %s", self.kind,
                    md.get("namespace"), md.get("name"), labels, [o["metadata"]["name"] for o in out])
        return out


class DependentHandlers:
    """Informer handlers of a dependent resource that enqueue the owners concerned.

    `created(key, obj)` / `deleted(key, obj)` see each observed addition / deletion of a dependent
    with a resolvable owner before the owner is enqueued (expectations). `terminating`: "update"
    treats an update that sets deletionTimestamp like any update, "delete" as the deletion (the
    owner replaces the pod without waiting for it to be gone), "delete-old-too" as well handles the
    old object as deleted when the labels changed at the same time (ReplicaSet). `ready_requeue`
    requeues the owner minReadySeconds (+1 s against clock skew) after a pod of it turned Ready.
    `enqueue_owned_add` False leaves the owner alone when an owned dependent is added (histories).
    """

    def __init__(self, owners: OwnerLookup, queue: Any, key: KeyFunc = meta_key, *,
                 created: Hook | None = None, deleted: Hook | None = None,
                 terminating: Literal["update", "delete", "delete-old-too"] = "update",
                 ready_requeue: bool = False, enqueue_owned_add: bool = True) -> None:
        self.owners = owners
        self.queue = queue
        self.key = key
        self.created = created
        self.deleted = deleted
        self.terminating = terminating
        self.ready_requeue = ready_requeue
        self.enqueue_owned_add = enqueue_owned_add

    def register(self, informer: Any) -> None:
        informer.add_handlers(self.on_add, self.on_update, self.on_delete)

    def _enqueue_selecting(self, obj: Obj) -> None:
        for owner in self.owners.selecting(obj):
            self.queue.add(self.key(owner))

    def on_add(self, obj: Obj) -> None:
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            # after a restart a dependent may first show up already being deleted: not a creation
            self.on_delete(obj)
            return
        ref = get_controller_of(obj)
        if ref is None:
            self._enqueue_selecting(obj)  # an orphan: wake the owners that may adopt it
            return
        owner = self.owners.resolve(md.get("namespace"), ref)
        if owner is None:
            return
        key = self.key(owner)
        if self.created is not None:
            self.created(key, obj)
        if self.enqueue_owned_add:
            self.queue.add(key)

    def on_update(self, old: Obj, cur: Obj) -> None:
        omd, cmd = old["metadata"], cur["metadata"]
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return  # a periodic resync: nothing changed
        label_changed = (omd.get("labels") or {}) != (cmd.get("labels") or {})
        if self.terminating != "update" and cmd.get("deletionTimestamp"):
            # graceful deletion started: act now instead of waiting for the object to disappear
            self.on_delete(cur)
            if label_changed and self.terminating == "delete-old-too":
                self.on_delete(old)  # deletionTimestamp cannot be unset, so old was not terminating
            return
        cur_ref = get_controller_of(cur)
        old_ref = get_controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            owner = self.owners.resolve(omd.get("namespace"), old_ref)
            if owner is not None:
                self.queue.add(self.key(owner))  # the old owner lost a dependent
        if cur_ref is not None:
            owner = self.owners.resolve(cmd.get("namespace"), cur_ref)
            if owner is None:
                return
            key = self.key(owner)
            self.queue.add(key)
            if self.ready_requeue:
                mrs = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
                if mrs > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                    self.queue.add_after(key, mrs + 1.0)
            return
        if label_changed or ref_changed:
            self._enqueue_selecting(cur)  # an orphan that may now match (or no longer match) someone

    def on_delete(self, obj: Obj) -> None:
        ref = get_controller_of(obj)
        if ref is None:
            return  # an orphan's deletion concerns nobody
        owner = self.owners.resolve(obj["metadata"].get("namespace"), ref)
        if owner is None:
            return
        key = self.key(owner)
        if self.deleted is not None:
            self.deleted(key, obj)
        self.queue.add(key)


def handle_owner_events(owners: OwnerLookup, queue: Any, key: KeyFunc = meta_key,
                        forget: Callable[[str, Obj], None] | None = None) -> None:
    """Owner add/update/delete handlers: enqueue the owner. An update whose uid differs replaced
    the object (a deletion the watch did not show), so it is handled as the old one's deletion
    first; a deletion drops the owner's cached selector and calls `forget(key, owner)` (e.g.
    DeleteExpectations) before the key is enqueued, so a new owner of that name starts clean."""

    def on_delete(owner: Obj) -> None:
        k = key(owner)
        owners.selectors.forget(owner)
        if forget is not None:
            forget(k, owner)
        queue.add(k)

    def on_update(old: Obj, cur: Obj) -> None:
        if old["metadata"].get("uid") != cur["metadata"].get("uid"):
            on_delete(old)
        queue.add(key(cur))

    owners.informer.add_handlers(lambda o: queue.add(key(o)), on_update, on_delete)


__all__ = ["DependentHandlers", "OwnerLookup", "SelectorCache", "handle_owner_events"]

"""The garbage collector (upstream pkg/controller/garbagecollector), event-driven over shared informers.

Every object of every deletable kind is a node in an owner→dependents graph keyed by uid,
maintained incrementally from informer events (upstream's GraphBuilder); nothing rescans.
Owners that are referenced but not (yet) observed are "virtual" nodes, verified with a live
GET. Two work queues drive the API calls, as upstream:

- attempt-to-delete: an object whose owners may all be gone (or waiting for foreground
  deletion) is deleted, dangling ownerReferences are removed when a solid owner remains,
  and an owner deleting its dependents in the foreground loses its `foregroundDeletion`
  finalizer once no blocking dependent is left;
- attempt-to-orphan: an owner being deleted with the `orphan` finalizer has its uid removed
  from its dependents' ownerReferences, then the finalizer is removed.

After a restart the initial list rebuilds the graph: dangling owners become virtual nodes
whose GET fails, so their dependents are collected, and owners caught mid-deletion are
picked up again (level-triggered).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ..api.errors import ApiError
from ..api.resources import RESOURCES, ResourceType, by_gvk, custom_generation, is_storage_version
from ..client.client import Client
from ..client.informer import Informer, WorkQueue, cancel_and_wait, queue_worker
from . import register
from .common import discovery

log = logging.getLogger(__name__)

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"

# Upstream's DefaultIgnoredResources: events are never owners worth tracking.
IGNORED = {"events", "events.events.k8s.io"}
WORKERS = 20  # upstream ConcurrentGCSyncs default
ABSENT_CACHE_SIZE = 500
SYNC_TIMEOUT = 30.0
ORPHAN_PARALLELISM = 64
# How often monitors follow discovery: in-process the registry's generation counter is checked (cheap);
# a controller-manager of its own asks the API server (upstream resyncs every 30 s; kubeling sooner).
LOCAL_RESYNC = 0.5
REMOTE_RESYNC = 5.0


class Ref(NamedTuple):
    """An object's coordinates as an ownerReference sees them, plus the namespace used to look it up."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str

    def __str__(self) -> str:  # upstream objectReference.String()
        return (f"[{self.api_version}/{self.kind}, namespace: {self.namespace}, name: {self.name}, "
                f"uid: {self.uid}]")

    def order_key(self) -> tuple[str, str, str, str, str]:
        """Upstream referenceLessThan: kind, apiVersion, namespace, name, uid."""
        return (self.kind, self.api_version, self.namespace, self.name, self.uid)


def ref_from_owner(owner: dict[str, Any], namespace: str) -> Ref:
    return Ref(owner.get("apiVersion", ""), owner.get("kind", ""), owner.get("name", ""), owner.get("uid", ""),
               namespace)


def coords_match(owner: dict[str, Any], ident: Ref) -> bool:
    return (owner.get("uid") == ident.uid and owner.get("name") == ident.name and owner.get("kind") == ident.kind
            and owner.get("apiVersion") == ident.api_version)


class Node:
    """One object (or a virtual, not yet observed owner) in the dependency graph."""

    __slots__ = ("ident", "owners", "dependents", "virtual", "being_deleted", "deleting_dependents")

    def __init__(self, ident: Ref, owners: list[dict[str, Any]] | tuple = (), virtual: bool = False,
                 being_deleted: bool = False, deleting_dependents: bool = False) -> None:
        self.ident = ident
        self.owners = owners  # the object's ownerReferences (shared, read-only)
        self.dependents: set[str] = set()  # uids of nodes that list this node as an owner
        self.virtual = virtual
        self.being_deleted = being_deleted
        self.deleting_dependents = deleting_dependents

    @property
    def uid(self) -> str:
        return self.ident.uid


class _AbsentOwnerCache:
    """LRU of owner identities known not to exist (upstream ReferenceCache)."""

    def __init__(self, size: int = ABSENT_CACHE_SIZE) -> None:
        self._size = size
        self._d: OrderedDict[Ref, None] = OrderedDict()

    def add(self, ref: Ref) -> None:
        self._d[ref] = None
        self._d.move_to_end(ref)
        if len(self._d) > self._size:
            self._d.popitem(last=False)

    def has(self, ref: Ref) -> bool:
        if ref in self._d:
            self._d.move_to_end(ref)
            return True
        return False


class _VirtualDeleteEnqueued(Exception):
    pass


class _NamespacedOwnerOfClusterScoped(Exception):
    pass


class _RestMappingError(Exception):
    pass


def _being_deleted(md: dict[str, Any]) -> bool:
    return bool(md.get("deletionTimestamp"))


def _has_finalizer(md: dict[str, Any], fin: str) -> bool:
    return fin in (md.get("finalizers") or ())


def _starts_with_finalizer(old: dict[str, Any] | None, md: dict[str, Any], fin: str) -> bool:
    """The object just entered deletion with `fin` (upstream deletionStartsWithFinalizer)."""
    if not _being_deleted(md) or not _has_finalizer(md, fin):
        return False
    if old is None:
        return True
    omd = old["metadata"]
    return not _being_deleted(omd) or not _has_finalizer(omd, fin)


def _blocks(ref: dict[str, Any]) -> bool:
    return bool(ref.get("blockOwnerDeletion"))


class GarbageCollector:
    def __init__(self, client: Client, informers: dict[ResourceType, Informer], recorder: Any = None,
                 workers: int = WORKERS) -> None:
        self.client = client
        self.informers = informers
        self.recorder = recorder
        self.workers = workers
        self.nodes: dict[str, Node] = {}
        self.absent = _AbsentOwnerCache()
        self.delete_queue = WorkQueue("garbage_collector_attempt_to_delete")
        self.orphan_queue = WorkQueue("garbage_collector_attempt_to_orphan")
        self._tasks: list[asyncio.Task] = []
        self._orphan_sem = asyncio.Semaphore(ORPHAN_PARALLELISM)
        self._get_shared = getattr(client, "get_shared", None)
        # Monitors of the custom resources found by discovery (set by start(); off for fixed informer sets).
        self.discover = False
        self.dynamic: dict[ResourceType, Informer] = {}
        self._mapping: dict[tuple[str, str], ResourceType] = {}  # (group, kind) -> discovered custom resource
        for rt, inf in informers.items():
            inf.add_handlers(self._adder(rt), self._updater(rt), self._deleter(rt))

    # ---- wiring --------------------------------------------------------------
    def _adder(self, rt: ResourceType) -> Callable[[dict[str, Any]], None]:
        def on_add(obj: dict[str, Any]) -> None:
            self._upsert(rt, obj, None)
        return on_add

    def _updater(self, rt: ResourceType) -> Callable[[dict[str, Any], dict[str, Any]], None]:
        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            self._upsert(rt, new, old)
        return on_update

    def _deleter(self, rt: ResourceType) -> Callable[[dict[str, Any]], None]:
        def on_delete(obj: dict[str, Any]) -> None:
            md = obj["metadata"]
            self._remove(Ref(rt.group_version, rt.kind, md["name"], md.get("uid", ""), md.get("namespace") or ""),
                         virtual=False)
        return on_delete

    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._run()))

    async def _run(self) -> None:
        if self.discover:
            try:
                await self._sync_monitors()
            except Exception as e:  # the resync loop tries again
                log.info("garbage collector: failed to discover resources: %s", e)
            self._tasks.append(asyncio.get_running_loop().create_task(self._resync_monitors()))
        try:
            await asyncio.wait_for(asyncio.gather(*(i.wait_synced() for i in [*self.informers.values(),
                                                                              *self.dynamic.values()])),
                                   SYNC_TIMEOUT)
        except TimeoutError:
            log.info("garbage collector: not all resource monitors could be synced, proceeding anyways")
        loop = asyncio.get_running_loop()
        for _ in range(self.workers):
            self._tasks.append(loop.create_task(queue_worker(self.delete_queue, self._attempt_to_delete_worker,
                                                             "garbage collector: syncing item")))
            self._tasks.append(loop.create_task(queue_worker(self.orphan_queue, self._attempt_to_orphan_worker,
                                                             "garbage collector: orphaning dependents of")))

    async def stop(self) -> None:
        self.delete_queue.shutdown()
        self.orphan_queue.shutdown()
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        for inf in self.dynamic.values():
            await inf.stop()
        self.dynamic.clear()

    # ---- monitors of custom resources (upstream's GarbageCollector.Sync over discovery) --------------
    async def _resync_monitors(self) -> None:
        local = discovery.in_process(self.client)
        seen = custom_generation()
        while True:
            await asyncio.sleep(LOCAL_RESYNC if local else REMOTE_RESYNC)
            if local:
                if custom_generation() == seen:
                    continue
                seen = custom_generation()
            try:
                await self._sync_monitors()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # discovery failed: keep the monitors we have, try again later
                log.info("garbage collector: failed to discover resources: %s", e)

    async def _sync_monitors(self) -> None:
        """Start a monitor for each custom resource now served, stop those of resources gone."""
        found = [rt for rt in await discovery.custom_resources(self.client)
                 if {"delete", "list", "watch"} <= set(rt.verbs)]
        want = {rt: None for rt in found}
        self._mapping = {(rt.group, rt.kind): rt for rt in found}
        for rt in [r for r in self.dynamic if r not in want]:
            inf = self.dynamic.pop(rt)
            await inf.stop()
            log.info("garbage collector: stopped monitor of %s", rt.qualified)
        for rt in want:
            if rt in self.dynamic:
                continue
            inf = Informer(self.client, rt)
            inf.add_handlers(self._adder(rt), self._updater(rt), self._deleter(rt))
            inf.start()
            self.dynamic[rt] = inf
            log.info("garbage collector: started monitor of %s", rt.qualified)

    # ---- graph builder (upstream processGraphChanges) -------------------------
    def _upsert(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        md = obj["metadata"]
        uid = md.get("uid")
        if not uid:
            return
        n = self.nodes.get(uid)
        if n is not None and n.virtual:
            observed = Ref(rt.group_version, rt.kind, md["name"], uid, md.get("namespace") or "")
            if observed != n.ident:
                # dependents that named this owner by other coordinates may be wrong: re-verify them
                _, bad = self._partition(n, observed)
                for dep in bad:
                    if observed.namespace and dep.ident.namespace != observed.namespace:
                        self._report_invalid_namespace(dep, uid)
                    self.delete_queue.add(dep.uid)
                n.ident = observed
            n.virtual = False
        refs = md.get("ownerReferences") or ()
        deleting = _being_deleted(md)
        if n is None:
            n = Node(Ref(rt.group_version, rt.kind, md["name"], uid, md.get("namespace") or ""), refs,
                     being_deleted=deleting, deleting_dependents=deleting and _has_finalizer(md, FOREGROUND))
            self.nodes[uid] = n
            if refs:
                self._add_dependent_to_owners(n, refs)
        else:
            if n.ident.api_version != rt.group_version or n.ident.kind != rt.kind:
                n.ident = n.ident._replace(api_version=rt.group_version, kind=rt.kind)
            if refs != n.owners:
                added, removed, changed = _references_diffs(n.owners, refs)
                if added or removed or changed:
                    self._add_unblocked_owners(removed, changed)
                    n.owners = refs
                    if added:
                        self._add_dependent_to_owners(n, added)
                    for r in removed:
                        on = self.nodes.get(r.get("uid", ""))
                        if on is not None:
                            on.dependents.discard(uid)
                else:
                    n.owners = refs
            if deleting:
                n.being_deleted = True
        if deleting:
            self._process_transitions(old, md, n)

    def _process_transitions(self, old: dict[str, Any] | None, md: dict[str, Any], n: Node) -> None:
        if _starts_with_finalizer(old, md, ORPHAN):
            self.orphan_queue.add(n.uid)
            return
        if _starts_with_finalizer(old, md, FOREGROUND):
            n.deleting_dependents = True
            for dep in n.dependents:
                self.delete_queue.add(dep)
            self.delete_queue.add(n.uid)

    def _add_dependent_to_owners(self, n: Node, owners: list[dict[str, Any]] | tuple) -> None:
        """Link n under each owner, creating virtual owners to verify (upstream addDependentToOwners)."""
        suspicious = False
        for ref in owners:
            ouid = ref.get("uid")
            if not ouid:
                continue
            on = self.nodes.get(ouid)
            if on is None:
                on = Node(ref_from_owner(ref, n.ident.namespace), virtual=True)
                self.nodes[ouid] = on
                on.dependents.add(n.uid)
                self.delete_queue.add(ouid)
                continue
            on.dependents.add(n.uid)
            if suspicious:
                continue
            owner_ns = on.ident.namespace
            if owner_ns and owner_ns != n.ident.namespace:
                if not on.virtual:
                    self._report_invalid_namespace(n, ouid)
                suspicious = True
            elif not coords_match(ref, on.ident):
                suspicious = True
            elif not owner_ns and on.ident.namespace != n.ident.namespace and on.virtual:
                suspicious = True
        if suspicious:
            self.delete_queue.add(n.uid)

    def _add_unblocked_owners(self, removed: list[dict[str, Any]], changed: list[tuple[dict, dict]]) -> None:
        """A blocking reference went away: owners waiting on it may be able to finish."""
        for r in removed:
            if _blocks(r) and r.get("uid") in self.nodes:
                self.delete_queue.add(r["uid"])
        for o, nw in changed:
            if _blocks(o) and not _blocks(nw) and nw.get("uid") in self.nodes:
                self.delete_queue.add(nw["uid"])

    def _remove(self, ident: Ref, virtual: bool) -> None:
        """A delete event, real (from an informer) or virtual (a GET found the object gone)."""
        n = self.nodes.get(ident.uid)
        if n is None:
            return
        if virtual:
            if n.virtual:
                matching, nonmatching = self._partition(n, ident)
                if nonmatching:
                    # dependents disagree on this owner's coordinates: keep the node for them
                    if matching:
                        self.absent.add(ident)
                        for dep in matching:
                            self.delete_queue.add(dep.uid)
                    if n.ident == ident:
                        alt = self._alternate_identity(nonmatching, ident)
                        if alt is not None:
                            n.ident = alt
                            self.delete_queue.add_rate_limited(n.uid)
                    return
            elif n.ident != ident:
                matching, _ = self._partition(n, ident)
                if matching:
                    self.absent.add(ident)
                    for dep in matching:
                        self.delete_queue.add(dep.uid)
                return
        del self.nodes[ident.uid]
        for r in n.owners:
            on = self.nodes.get(r.get("uid", ""))
            if on is not None:
                on.dependents.discard(n.uid)
        if n.dependents:
            self.absent.add(ident)
            for dep in n.dependents:
                self.delete_queue.add(dep)
        for r in n.owners:
            on = self.nodes.get(r.get("uid", ""))
            if on is not None and on.deleting_dependents:
                # let the owner check whether its last blocking dependent is gone
                self.delete_queue.add(on.uid)

    def _deps(self, n: Node) -> list[Node]:
        nodes = self.nodes
        return [d for d in (nodes.get(u) for u in n.dependents) if d is not None]

    def _partition(self, n: Node, ident: Ref) -> tuple[list[Node], list[Node]]:
        """Dependents whose reference to ident's uid matches ident's coordinates, and those that don't."""
        matching: list[Node] = []
        nonmatching: list[Node] = []
        for dep in self._deps(n):
            found_match = found_mismatch = False
            if ident.namespace and ident.namespace != dep.ident.namespace:
                found_mismatch = True
            else:
                for r in dep.owners:
                    if r.get("uid") == ident.uid:
                        if coords_match(r, ident):
                            found_match = True
                        else:
                            found_mismatch = True
            if found_match:
                matching.append(dep)
            if found_mismatch:
                nonmatching.append(dep)
        return matching, nonmatching

    @staticmethod
    def _alternate_identity(deps: list[Node], absent: Ref) -> Ref | None:
        """Another identity dependents use for absent.uid, in upstream's stable order."""
        cluster_scoped = not absent.namespace
        seen = {absent}
        first: Ref | None = None
        following: Ref | None = None
        for dep in deps:
            for r in dep.owners:
                if r.get("uid") != absent.uid:
                    continue
                if coords_match(r, absent) and (cluster_scoped or absent.namespace == dep.ident.namespace):
                    continue
                ref = ref_from_owner(r, dep.ident.namespace)
                if cluster_scoped and ref.api_version == absent.api_version and ref.kind == absent.kind:
                    ref = ref._replace(namespace="")
                if ref in seen:
                    continue
                seen.add(ref)
                if first is None or ref.order_key() < first.order_key():
                    first = ref
                if absent.order_key() < ref.order_key() and (following is None
                                                              or ref.order_key() < following.order_key()):
                    following = ref
        return following if following is not None else first

    def _report_invalid_namespace(self, n: Node, owner_uid: str) -> None:
        if self.recorder is None:
            return
        for r in n.owners:
            if r.get("uid") == owner_uid:
                bad = ref_from_owner(r, n.ident.namespace)
                break
        else:
            return
        involved = {"apiVersion": n.ident.api_version, "kind": n.ident.kind,
                    "metadata": {"name": n.ident.name, "namespace": n.ident.namespace or None, "uid": n.uid}}
        self.recorder.event(involved, "Warning", "OwnerRefInvalidNamespace",
                            f'ownerRef {bad} does not exist in namespace "{n.ident.namespace}"')

    # ---- API helpers -----------------------------------------------------------
    def _rt(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        rt = by_gvk(group, version, kind)
        if rt is None:
            rt = self._mapping.get((group, kind))  # a custom resource discovered over HTTPS
            if rt is not None and rt.version != version:
                # another served version of it? (discovery of the group lists them; the GET tells)
                rt = dataclasses.replace(rt, version=version) if version in self._versions(group) else None
        if rt is None:
            raise _RestMappingError(f"unable to get REST mapping for {kind}.{api_version}")
        return rt

    def _versions(self, group: str) -> tuple[str, ...]:
        return discovery.served_versions(group)

    async def _get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """The live object (read-only), or None when it does not exist."""
        ns = namespace if rt.namespaced else None
        if rt.namespaced and not ns:
            return None
        if self._get_shared is not None:
            return self._get_shared(rt, ns, name)
        try:
            return await self.client.get(rt, ns, name)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    async def _patch(self, n: Node, smp: dict[str, Any],
                     merge_fn: Callable[[Node], Awaitable[dict[str, Any] | None]]) -> None:
        """Strategic merge patch, falling back to a JSON merge patch where SMP is unsupported."""
        rt = self._rt(n.ident.api_version, n.ident.kind)
        ns = n.ident.namespace if rt.namespaced else None
        try:
            await self.client.patch(rt, ns, n.ident.name, smp, SMP)
            return
        except ApiError as e:
            if e.code != 415:
                raise
        body = await merge_fn(n)
        if body is not None:
            await self.client.patch(rt, ns, n.ident.name, body, MERGE)

    async def _delete(self, n: Node, rv: str, owners: Any, policy: str) -> None:
        """Delete with uid+resourceVersion preconditions; retry without the latter if only it changed."""
        rt = self._rt(n.ident.api_version, n.ident.kind)
        ns = n.ident.namespace if rt.namespaced else None
        pre: dict[str, Any] = {"uid": n.uid}
        if rv:
            pre["resourceVersion"] = rv
        try:
            await self.client.delete(rt, ns, n.ident.name, {"propagationPolicy": policy, "preconditions": pre})
            return
        except ApiError as e:
            if e.code == 404:
                self._remove(n.ident, virtual=True)
                raise _VirtualDeleteEnqueued() from None
            if e.code != 409 or not rv:
                raise
            live = await self._get(rt, n.ident.namespace, n.ident.name)
            if live is None:
                self._remove(n.ident, virtual=True)
                raise _VirtualDeleteEnqueued() from None
            lmd = live["metadata"]
            if not (lmd.get("uid") == n.uid and lmd.get("resourceVersion") != rv
                    and (lmd.get("ownerReferences") or []) == list(owners or [])):
                raise
        try:
            await self.client.delete(rt, ns, n.ident.name,
                                     {"propagationPolicy": policy, "preconditions": {"uid": n.uid}})
        except ApiError as e:
            if e.code == 404:
                self._remove(n.ident, virtual=True)
                raise _VirtualDeleteEnqueued() from None
            raise

    async def _remove_finalizer(self, n: Node, fin: str) -> None:
        rt = self._rt(n.ident.api_version, n.ident.kind)
        ns = n.ident.namespace if rt.namespaced else None
        for attempt in range(5):
            obj = await self._get(rt, n.ident.namespace, n.ident.name)
            if obj is None or obj["metadata"].get("uid") != n.uid:
                return
            md = obj["metadata"]
            fins = md.get("finalizers") or []
            if fin not in fins:
                return
            keep = [f for f in fins if f != fin]
            body = {"metadata": {"resourceVersion": md.get("resourceVersion"), "finalizers": keep or None}}
            try:
                await self.client.patch(rt, ns, n.ident.name, body, MERGE)
                return
            except ApiError as e:
                if e.code == 404:
                    return
                if e.code != 409 or attempt == 4:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))

    # ---- attempt to delete ---------------------------------------------------
    async def _attempt_to_delete_worker(self, uid: str) -> bool:
        """Returns whether to requeue the item (with backoff)."""
        n = self.nodes.get(uid)
        if n is None:
            return False
        try:
            await self._attempt_to_delete_item(n)
        except (_VirtualDeleteEnqueued, _NamespacedOwnerOfClusterScoped):
            return False
        except _RestMappingError as e:
            log.info("garbage collector: error syncing item %s: %s", n.ident, e)
            return True
        except ApiError as e:
            if e.code == 409:
                log.debug("garbage collector: conflict syncing item %s", n.ident)
            else:
                log.warning("garbage collector: error syncing item %s: %s", n.ident, e.message)
            return True
        # a virtual node whose object exists but was not observed yet: check again later
        return n.virtual and self.nodes.get(uid) is n

    async def _attempt_to_delete_item(self, n: Node) -> None:
        """Delete the object iff its uid matches, it is not deleting dependents and no owner is solid."""
        if n.being_deleted and not n.deleting_dependents:
            return
        rt = self._rt(n.ident.api_version, n.ident.kind)
        latest = await self._get(rt, n.ident.namespace, n.ident.name)
        if latest is None or latest["metadata"].get("uid") != n.uid:
            self._remove(n.ident, virtual=True)
            raise _VirtualDeleteEnqueued()
        if n.deleting_dependents:
            await self._process_deleting_dependents(n)
            return
        lmd = latest["metadata"]
        refs = lmd.get("ownerReferences") or []
        if not refs:
            return
        solid, dangling, waiting = await self._classify(n, refs)
        if solid:
            if not dangling and not waiting:
                return
            gone = [r["uid"] for r in dangling + waiting]
            await self._patch(n, _delete_owner_refs_smp(n.uid, gone),
                              lambda node: self._delete_owner_refs_merge(node, gone))
            return
        if waiting and n.dependents:
            for dep in self._deps(n):
                if dep.deleting_dependents:
                    # break a possible cycle: stop blocking the owners, then go foreground too
                    await self._patch(n, _unblock_smp(n), self._unblock_merge)
                    break
            await self._delete(n, lmd.get("resourceVersion", ""), refs, "Foreground")
            return
        if _has_finalizer(lmd, ORPHAN):
            policy = "Orphan"
        elif _has_finalizer(lmd, FOREGROUND):
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(n, lmd.get("resourceVersion", ""), refs, policy)

    async def _classify(self, n: Node, refs: list[dict[str, Any]]):
        solid: list[dict] = []
        dangling: list[dict] = []
        waiting: list[dict] = []
        for r in refs:
            dang, owner = await self._is_dangling(r, n)
            if dang:
                dangling.append(r)
                continue
            omd = owner["metadata"]
            if _being_deleted(omd) and _has_finalizer(omd, FOREGROUND):
                waiting.append(r)
            else:
                solid.append(r)
        return solid, dangling, waiting

    async def _is_dangling(self, r: dict[str, Any], n: Node) -> tuple[bool, dict[str, Any] | None]:
        key = ref_from_owner(r, "")
        if self.absent.has(key):
            return True, None
        key_ns = key._replace(namespace=n.ident.namespace)
        if self.absent.has(key_ns):
            return True, None
        rt = self._rt(key.api_version, key.kind)
        if rt.namespaced:
            if not n.ident.namespace:
                log.info("garbage collector: item %s is cluster-scoped, but refers to a namespaced owner %s",
                         n.ident, key)
                raise _NamespacedOwnerOfClusterScoped()
            key = key_ns
        owner = await self._get(rt, n.ident.namespace, key.name)
        if owner is None or owner["metadata"].get("uid") != key.uid:
            self.absent.add(key)
            return True, None
        return False, owner

    async def _process_deleting_dependents(self, n: Node) -> None:
        blocking: list[Node] = []
        for dep in self._deps(n):
            for r in dep.owners:
                if r.get("uid") == n.uid and _blocks(r):
                    blocking.append(dep)
                    break
        if not blocking:
            await self._remove_finalizer(n, FOREGROUND)
            return
        for dep in blocking:
            # a dependent already on its way out (and not itself waiting) needs no push
            if not dep.deleting_dependents and not dep.being_deleted:
                self.delete_queue.add(dep.uid)

    async def _delete_owner_refs_merge(self, n: Node, uids: list[str]) -> dict[str, Any] | None:
        rt = self._rt(n.ident.api_version, n.ident.kind)
        obj = await self._get(rt, n.ident.namespace, n.ident.name)
        if obj is None:
            return None
        md = obj["metadata"]
        drop = set(uids)
        return {"metadata": {"resourceVersion": md.get("resourceVersion"),
                             "ownerReferences": [r for r in md.get("ownerReferences") or []
                                                 if r.get("uid") not in drop]}}

    async def _unblock_merge(self, n: Node) -> dict[str, Any] | None:
        rt = self._rt(n.ident.api_version, n.ident.kind)
        obj = await self._get(rt, n.ident.namespace, n.ident.name)
        if obj is None:
            return None
        return {"metadata": {"resourceVersion": obj["metadata"].get("resourceVersion"),
                             "ownerReferences": [dict(r, blockOwnerDeletion=False) for r in n.owners]}}

    # ---- attempt to orphan -----------------------------------------------------
    async def _attempt_to_orphan_worker(self, uid: str) -> bool:
        """Returns whether to requeue the item (with backoff)."""
        n = self.nodes.get(uid)
        if n is None:
            return False
        try:
            await self._orphan_dependents(n)
            await self._remove_finalizer(n, ORPHAN)
        except ApiError as e:
            log.warning("garbage collector: orphaning dependents of %s failed: %s", uid, e.message)
            return True
        return False

    async def _orphan_dependents(self, owner: Node) -> None:
        deps = self._deps(owner)
        if not deps:
            return

        async def orphan(dep: Node) -> None:
            async with self._orphan_sem:
                try:
                    await self._patch(dep, _delete_owner_refs_smp(dep.uid, [owner.uid]),
                                      lambda node: self._delete_owner_refs_merge(node, [owner.uid]))
                except ApiError as e:
                    if e.code != 404:
                        raise

        results = await asyncio.gather(*(orphan(d) for d in deps), return_exceptions=True)
        errs = [r for r in results if isinstance(r, BaseException)]
        if errs:
            for e in errs:
                if isinstance(e, asyncio.CancelledError):
                    raise e
            raise errs[0]


def _delete_owner_refs_smp(dependent_uid: str, owner_uids: list[str]) -> dict[str, Any]:
    """Remove the given owners by uid; the dependent's uid doubles as a precondition."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": u} for u in owner_uids],
                         "uid": dependent_uid}}


def _unblock_smp(n: Node) -> dict[str, Any]:
    refs = [dict(r, blockOwnerDeletion=False) for r in n.owners if _blocks(r)]
    return {"metadata": {"ownerReferences": refs, "uid": n.uid}}


def _references_diffs(old: Any, new: Any) -> tuple[list[dict], list[dict], list[tuple[dict, dict]]]:
    old_by_uid = {r.get("uid"): r for r in old or ()}
    added: list[dict] = []
    changed: list[tuple[dict, dict]] = []
    for r in new or ():
        o = old_by_uid.pop(r.get("uid"), None)
        if o is None:
            added.append(r)
        elif o != r:
            changed.append((o, r))
    return added, list(old_by_uid.values()), changed


def deletable_resources() -> list[ResourceType]:
    """Kinds the collector watches: everything deletable, listable and watchable except events."""
    return [rt for rt in RESOURCES
            if rt.qualified not in IGNORED and {"delete", "list", "watch"} <= set(rt.verbs) and is_storage_version(rt)]


@register("garbagecollector")
async def start(ctx: Any) -> GarbageCollector:
    informers = {rt: ctx.informers.informer(rt.qualified) for rt in deletable_resources()}
    gc = GarbageCollector(ctx.client, informers, ctx.recorder("garbage-collector-controller"))
    gc.discover = True  # custom resources come and go with their CRDs: follow discovery
    gc.start()
    return gc

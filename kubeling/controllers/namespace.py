"""The namespace controller (upstream pkg/controller/namespace): empties a Terminating namespace.

A namespace with a deletionTimestamp is kept by its `kubernetes` spec finalizer. Each pass
(upstream's namespacedResourcesDeleter.Delete) makes sure the phase is Terminating, deletes
every namespaced object left in it (propagationPolicy Background), records what remains in
the status conditions, and — once nothing remains — removes `kubernetes` through the
`finalize` subresource, which lets the registry delete the namespace.

Passes are requeued as upstream does (estimate/2+1 s while pods terminate gracefully, backoff
on errors), and also shortly after any object of a Terminating namespace disappears, so the
namespace goes away as soon as its last object does instead of on the next timed pass.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..api.resources import RESOURCES, ResourceType, is_storage_version
from ..client.client import Client
from ..client.informer import Controller, Informer, WorkQueue
from . import register
from .common import discovery

log = logging.getLogger(__name__)

FINALIZER_TOKEN = "kubernetes"
# Upstream waits 5 s (namespaceDeletionGracePeriod) so that every API server's admission cache sees the
# namespace Terminating before content is listed. Our registry checks the store directly, so only writes
# already in flight need to land; a short wait covers them.
DELETION_GRACE = 1.0
FINALIZER_ESTIMATE_SECONDS = 15
CONTENT_GONE_DELAY = 0.1
WORKERS = 10  # upstream ConcurrentNamespaceSyncs

CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
OK_MESSAGES = {
    "NamespaceDeletionDiscoveryFailure": "All resources successfully discovered",
    "NamespaceDeletionGroupVersionParsingFailure": "All legacy kube types successfully parsed",
    "NamespaceDeletionContentFailure": "All content successfully deleted, may be waiting on finalization",
    "NamespaceContentRemaining": "All content successfully removed",
    "NamespaceFinalizersRemaining": "All content-preserving finalizers finished",
}
OK_REASONS = {
    "NamespaceDeletionDiscoveryFailure": "ResourcesDiscovered",
    "NamespaceDeletionGroupVersionParsingFailure": "ParsedGroupVersions",
    "NamespaceDeletionContentFailure": "ContentDeleted",
    "NamespaceContentRemaining": "ContentRemoved",
    "NamespaceFinalizersRemaining": "ContentHasNoFinalizers",
}


class ResourcesRemaining(Exception):
    """Content is still going away; check again in about estimate/2 seconds."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


class ContentDeletionError(Exception):
    pass


def namespaced_deletable() -> list[ResourceType]:
    """Every namespaced kind that supports delete (upstream: preferred namespaced resources with 'delete')."""
    return [rt for rt in RESOURCES if rt.namespaced and "delete" in rt.verbs and "list" in rt.verbs
            and is_storage_version(rt)]


class NamespaceController(Controller):
    name = "namespace"
    workers = WORKERS

    def __init__(self, client: Client, namespaces: Informer, content: list[Informer],
                 deletion_grace: float = DELETION_GRACE) -> None:
        super().__init__()
        self.queue = WorkQueue(self.name, max_delay=60.0)  # upstream's namespace rate limiter caps at 60 s
        self.client = client
        self.namespaces = namespaces
        self.deletion_grace = deletion_grace
        self.kinds = namespaced_deletable()
        namespaces.add_handlers(self._on_namespace, lambda _old, new: self._on_namespace(new))
        for inf in content:
            inf.add_handlers(on_delete=self._on_content_deleted)

    def _on_namespace(self, ns: dict[str, Any]) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.queue.add_after(ns["metadata"]["name"], self.deletion_grace)

    def _on_content_deleted(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"].get("namespace")
        if not name:
            return
        ns = self.namespaces.get(name)
        if ns is not None and ns["metadata"].get("deletionTimestamp"):
            self.queue.add_after(name, CONTENT_GONE_DELAY)

    async def _worker(self) -> None:
        # Upstream's worker: ResourcesRemaining requeues after estimate/2+1 s; other errors back off.
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except ResourcesRemaining as e:
                self.queue.add_after(key, e.estimate // 2 + 1)
            except ApiError as e:
                log.warning("deletion of namespace %s failed: %s", key, e.message)
                self.queue.add_rate_limited(key)
            except ContentDeletionError as e:
                log.info("deletion of namespace %s: %s", key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("deletion of namespace %s failed", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def sync(self, key: str) -> None:
        if self.namespaces.get(key) is None:
            return
        try:
            ns = await self.client.get("namespaces", None, key)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return
        ns = await self._ensure_terminating(ns)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if not (ns.get("spec") or {}).get("finalizers"):
            return
        estimate, ns = await self._delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        await self._finalize(ns)

    async def _retry_on_conflict(self, ns: dict[str, Any], fn) -> dict[str, Any] | None:
        """Apply fn to the latest namespace until it does not conflict; None once the namespace is gone."""
        while True:
            try:
                return await fn(ns)
            except ApiError as e:
                if e.code == 404:
                    return None
                if e.code != 409:
                    raise
            try:
                latest = await self.client.get("namespaces", None, ns["metadata"]["name"])
            except ApiError as e:
                if e.code == 404:
                    return None
                raise
            if latest["metadata"].get("uid") != ns["metadata"].get("uid"):
                raise ContentDeletionError("namespace uid has changed across retries")
            ns = latest

    async def _ensure_terminating(self, ns: dict[str, Any]) -> dict[str, Any] | None:
        async def fn(cur: dict[str, Any]) -> dict[str, Any]:
            if (cur.get("status") or {}).get("phase") == "Terminating":
                return cur
            cur.setdefault("status", {})["phase"] = "Terminating"
            return await self.client.update_status("namespaces", cur)
        return await self._retry_on_conflict(ns, fn)

    async def _finalize(self, ns: dict[str, Any]) -> None:
        async def fn(cur: dict[str, Any]) -> dict[str, Any]:
            fins = sorted({f for f in (cur.get("spec") or {}).get("finalizers") or [] if f != FINALIZER_TOKEN})
            cur.setdefault("spec", {})["finalizers"] = fins
            return await self.client.update("namespaces", cur, subresource="finalize")
        await self._retry_on_conflict(ns, fn)

    async def _delete_all_content(self, ns: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Delete what is left; returns (estimate in s before it is gone, namespace after the status update)."""
        name = ns["metadata"]["name"]
        deleted_at = meta.parse_time(ns["metadata"].get("deletionTimestamp")) or time.time()
        estimate = 0
        errs: list[str] = []
        remaining: dict[str, int] = {}
        finalizers_remaining: dict[str, int] = {}
        # Custom resources (CRDs served right now) are discovered on each pass, as upstream does.
        try:
            custom = [rt for rt in await discovery.custom_resources(self.client)
                      if rt.namespaced and {"delete", "list"} <= set(rt.verbs)]
        except ApiError as e:
            custom = []
            errs.append(e.message)
        for rt in self.kinds + custom:
            est, left, fins, err = await self._delete_kind(rt, name, deleted_at)
            if err:
                errs.append(err)
            estimate = max(estimate, est)
            if left:
                remaining[f"{rt.plural}.{rt.group}"] = left
                for f, c in fins.items():
                    finalizers_remaining[f] = finalizers_remaining.get(f, 0) + c
        if _update_conditions(ns, _content_conditions(remaining, finalizers_remaining, errs)):
            try:
                ns = await self.client.update_status("namespaces", ns)
            except ApiError as e:
                log.warning("couldn't update status condition for namespace %s: %s", name, e.message)
        if errs:
            raise ContentDeletionError(", ".join(sorted(errs)))
        return estimate, ns

    async def _delete_kind(self, rt: ResourceType, namespace: str,
                           deleted_at: float) -> tuple[int, int, dict[str, int], str | None]:
        """(estimate, number remaining, finalizer counts, error) for one kind, as upstream's per-GVR pass."""
        try:
            items, _ = await self.client.list(rt, namespace)
        except ApiError as e:
            return 0, 0, {}, e.message
        if not items:
            return 0, 0, {}, None
        estimate = 0
        if rt.qualified == "pods":
            # the longest grace period of a pod still running, unless that much time has passed already
            for p in items:
                if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                g = (p.get("spec") or {}).get("terminationGracePeriodSeconds")
                if isinstance(g, int) and g > estimate:
                    estimate = g
            if time.time() - deleted_at >= estimate:
                estimate = 0
        for o in items:
            md = o["metadata"]
            if md.get("deletionTimestamp"):
                continue  # already on its way out; deleting again changes nothing
            try:
                await self.client.delete(rt, namespace, md["name"], {"propagationPolicy": "Background"})
            except ApiError as e:
                if e.code not in (404, 409):
                    return estimate, 0, {}, e.message
        try:
            items, _ = await self.client.list(rt, namespace)
        except ApiError as e:
            return estimate, 0, {}, e.message
        if not items:
            return estimate, 0, {}, None
        fins: dict[str, int] = {}
        for o in items:
            for f in o["metadata"].get("finalizers") or ():
                fins[f] = fins.get(f, 0) + 1
        if estimate:
            return estimate, len(items), fins, None
        if fins:
            return FINALIZER_ESTIMATE_SECONDS, len(items), fins, None
        return 0, len(items), {}, (f"unexpected items still remain in namespace: {namespace} for gvr: "
                                   f"{rt.group}/{rt.version}, Resource={rt.plural}")


def _condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "lastTransitionTime": meta.now_rfc3339(), "reason": reason,
            "message": message}


def _content_conditions(remaining: dict[str, int], fins: dict[str, int], errs: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if remaining:
        parts = sorted(f"{k} has {v} resource instances" for k, v in remaining.items() if v)
        out.append(_condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                              f"Some resources are remaining: {', '.join(parts)}"))
    if fins:
        parts = sorted(f"{k} in {v} resource instances" for k, v in fins.items() if v)
        out.append(_condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                              f"Some content in the namespace has finalizers remaining: {', '.join(parts)}"))
    if errs:
        out.append(_condition("NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
                              f"Failed to delete all resource types, {len(errs)} remaining: "
                              f"{', '.join(sorted(errs))}"))
    return out


def _update_conditions(ns: dict[str, Any], new: list[dict[str, Any]]) -> bool:
    """Merge the pass's conditions into ns.status (ok variants for the rest); whether anything changed."""
    status = ns.setdefault("status", {})
    conds = status.setdefault("conditions", [])
    by_type = {c["type"]: c for c in new}
    changed = False
    for t in CONDITION_TYPES:
        nc = by_type.get(t) or _condition(t, "False", OK_REASONS[t], OK_MESSAGES[t])
        old = next((c for c in conds if c.get("type") == t), None)
        if old is None:
            conds.append(nc)
            changed = True
        elif (old.get("status"), old.get("message"), old.get("reason")) != (nc["status"], nc["message"],
                                                                           nc["reason"]):
            if old.get("status") != nc["status"]:
                old["lastTransitionTime"] = meta.now_rfc3339()
            old.update(status=nc["status"], reason=nc["reason"], message=nc["message"])
            changed = True
    return changed


@register("namespace")
async def start(ctx: Any) -> NamespaceController:
    content = [ctx.informers.informer(rt.qualified) for rt in namespaced_deletable()
               if rt.qualified not in ("events", "events.events.k8s.io")]
    grace = float(ctx.settings.get("namespace_deletion_grace", DELETION_GRACE))
    c = NamespaceController(ctx.client, ctx.informers.informer("namespaces"), content, grace)
    c.run()
    return c


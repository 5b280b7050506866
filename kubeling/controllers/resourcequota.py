"""The resource quota controller (upstream pkg/controller/resourcequota).

Keeps every ResourceQuota's status current: `status.hard` copies `spec.hard`, `status.used` is the
usage of the namespace's objects that match the quota's scopes, summed from the informer caches
with the same evaluators the admission plugin charges with (kubeling.api.quota_admission).

A quota is synced when it is created or its spec.hard changes, every --resource-quota-sync-period
(5 minutes, settings["resource_quota_sync_period"]) for all quotas, and when usage is released:
a tracked object is deleted, a pod stops counting for compute resources (it finished), a service
changes type, a claim changes. Creations need no resync: admission already charged them.
Object counts (count/<resource>.<group>) of other resources start an informer the first time a
quota names them.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..api import quota_admission as qa
from ..api.resources import RESOURCES
from ..client.client import deepcopy
from ..client.context import ComponentContext
from ..client.informer import Controller, Informer, cancel_and_wait, meta_key, split_key
from . import register_controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SYNC_PERIOD = 300.0
_BASE = ("pods", "services", "persistentvolumeclaims", "configmaps", "secrets", "resourcequotas")
_COUNTABLE = {f"count/{rt.qualified}": rt for rt in RESOURCES
              if rt.namespaced and "list" in rt.verbs and rt.qualified not in qa.IGNORED}


def _service_type(svc: Obj) -> str:
    """GetQuotaServiceType: only NodePort and LoadBalancer are charged differently."""
    t = (svc.get("spec") or {}).get("type") or ""
    return t if t in ("NodePort", "LoadBalancer") else ""


def calculate_usage(quota: Obj, evaluators: list[qa.Evaluator], items_of: Any, now: float) -> qa.RList:
    """quota.CalculateUsage: per evaluator tracking a hard resource, the summed usage of the matching
    objects (zero when none), masked to the quota's hard resources."""
    hard = list((quota.get("spec") or {}).get("hard") or {})
    matched = {n for ev in evaluators for n in ev.matching_resources(hard)}
    selectors = qa.scope_selectors(quota)
    total: qa.RList = {}
    for ev in evaluators:
        names = ev.matching_resources(matched)
        if not names:
            continue
        used: qa.RList = {n: qa.ZERO for n in names}
        for obj in items_of(ev.resource):
            if all(ev.matches_scope(sel, obj) for sel in selectors):
                used = qa.add(used, ev.usage(obj, now))
        total = qa.add(total, used)
    return qa.mask(total, matched)


class ResourceQuotaController(Controller):
    name = "resourcequota"
    workers = 2

    def __init__(self, ctx: ComponentContext) -> None:
        super().__init__()
        self.client = ctx.client
        self.factory = ctx.informers
        self.period = float(ctx.settings.get("resource_quota_sync_period") or DEFAULT_SYNC_PERIOD)
        self.quotas = ctx.informers.informer("resourcequotas")
        self.quotas.add_handlers(self._add_quota, self._update_quota, None)
        self.watched: dict[str, Informer] = {}
        for q in _BASE:
            self._watch(q)
        self._resync: asyncio.Task | None = None

    # ---- events ------------------------------------------------------------
    def _add_quota(self, rq: Obj) -> None:
        self.enqueue(rq)

    def _update_quota(self, old: Obj, cur: Obj) -> None:
        if (old.get("spec") or {}).get("hard") != (cur.get("spec") or {}).get("hard"):
            self.enqueue(cur)

    def _watch(self, resource: str) -> Informer:
        inf = self.watched.get(resource)
        if inf is not None:
            return inf
        inf = self.watched[resource] = self.factory.informer(resource)

        def on_update(old: Obj, new: Obj) -> None:
            if resource == "pods":
                now = time.time()
                changed = qa.pod_is_quota_live(old, now) and not qa.pod_is_quota_live(new, now)
            elif resource == "services":
                changed = _service_type(old) != _service_type(new)
            else:
                changed = resource == "persistentvolumeclaims"
            if changed:
                self._replenish(new)

        inf.add_handlers(None, on_update, self._replenish)
        return inf

    def _replenish(self, obj: Obj) -> None:
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns:
            for rq in self.quotas.by_index("namespace", ns):
                self.queue.add(meta_key(rq))

    # ---- sync --------------------------------------------------------------
    def _evaluators(self, hard: list[str]) -> list[qa.Evaluator]:
        evs: list[qa.Evaluator] = []
        seen: set[str] = set()
        for q in _BASE:
            ev = qa.evaluator_for(_COUNTABLE[f"count/{q}"])
            if ev is not None:
                evs.append(ev)
                seen.add(q)
        for name in hard:
            rt = _COUNTABLE.get(name)
            if rt is not None and rt.qualified not in seen:
                ev = qa.evaluator_for(rt)
                if ev is not None:
                    evs.append(ev)
                    seen.add(rt.qualified)
        return evs

    async def sync(self, key: str) -> None:
        rq = self.quotas.get(key)
        if rq is None:
            return
        ns, _ = split_key(key)
        spec_hard = dict((rq.get("spec") or {}).get("hard") or {})
        status = rq.get("status") or {}
        evaluators = self._evaluators(list(spec_hard))
        for ev in evaluators:
            inf = self._watch(ev.resource)
            if not inf.synced.is_set():
                inf.start()
                await inf.wait_synced()

        def items_of(resource: str) -> list[Obj]:
            return self.watched[resource].by_index("namespace", ns or "")

        usage = calculate_usage(rq, evaluators, items_of, time.time())
        used = qa.rlist(status.get("used"))
        used.update(usage)
        used = qa.mask(used, spec_hard)
        hard_now = qa.rlist(status.get("hard"))
        dirty = (status.get("hard") is None or status.get("used") is None
                 or not qa.equals(hard_now, qa.rlist(spec_hard))
                 or not qa.equals(used, qa.rlist(status.get("used"))))
        if not dirty:
            return
        new = deepcopy(rq)
        new["status"] = {"hard": spec_hard, "used": qa.rlist_json(used)}
        await self.client.update_status("resourcequotas", new)

    # ---- lifecycle ---------------------------------------------------------
    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            for rq in self.quotas.list():
                self.enqueue(rq)

    def start(self) -> None:
        self.start_when_synced(self.quotas, *self.watched.values())
        self._resync = asyncio.get_running_loop().create_task(self._periodic())

    async def stop(self) -> None:
        await cancel_and_wait(self._resync)
        await super().stop()


start = register_controller("resourcequota", ResourceQuotaController, start="start")

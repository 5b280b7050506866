"""The ServiceAccounts controller (upstream pkg/controller/serviceaccount): a `default` ServiceAccount
in every active namespace.

Level-triggered: a namespace that appears or changes, and a managed ServiceAccount that disappears,
queue the namespace; sync creates whatever managed ServiceAccount is missing from the informer cache.
AlreadyExists (another controller-manager, a restart) and "namespace is terminating" are not errors.
Upstream reacts within the informer's latency; so does this one — in-process that is well under a
millisecond after the namespace is created.
"""
from __future__ import annotations

import logging
from typing import Any

from ..api.errors import ApiError
from ..client.client import Client
from ..client.informer import Controller, Informer
from . import register

log = logging.getLogger(__name__)

MANAGED = ("default",)  # --service-account... upstream ensures exactly these
WORKERS = 4


class ServiceAccountsController(Controller):
    name = "serviceaccount"
    workers = WORKERS

    def __init__(self, client: Client, namespaces: Informer, service_accounts: Informer) -> None:
        super().__init__()
        self.client = client
        self.namespaces = namespaces
        self.sas = service_accounts
        namespaces.add_handlers(self._ns_changed, lambda _old, ns: self._ns_changed(ns))
        service_accounts.add_handlers(on_delete=self._sa_deleted)

    def _ns_changed(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _sa_deleted(self, sa: dict[str, Any]) -> None:
        md = sa["metadata"]
        if md.get("name") in MANAGED and md.get("namespace"):
            self.queue.add(md["namespace"])

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or (ns.get("status") or {}).get("phase", "Active") != "Active":
            return
        await self.sas.wait_synced()
        for name in MANAGED:
            if self.sas.get_by(key, name) is not None:
                continue
            try:
                await self.client.create("serviceaccounts", key, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                                  "metadata": {"name": name, "namespace": key}})
            except ApiError as e:
                if e.code == 409:
                    continue  # already there (the cache was behind)
                if e.code in (403, 404):
                    continue  # the namespace is terminating or gone: nothing to do, as upstream
                raise


@register("serviceaccount")
async def start(ctx: Any) -> ServiceAccountsController:
    c = ServiceAccountsController(ctx.client, ctx.informers.informer("namespaces"),
                                  ctx.informers.informer("serviceaccounts"))
    c.run()
    return c

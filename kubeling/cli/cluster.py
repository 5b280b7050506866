"""Assembles a running cluster in one process: store, registry, API server, and the
components later layers add (controllers, scheduler, node agents, DNS)."""
from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..api import (
    admission,
    apiservices,
    crd,
    errors,
    features,
    flowcontrol_bootstrap,
    priority_admission,
    rbac_bootstrap,
    service_alloc,
)
from ..api.registry import Registry, Request
from ..api.resources import by_qualified
from ..apiserver import auth
from ..apiserver.auth import AUTHENTICATED
from ..apiserver.certs import ensure_pki, read_token
from ..apiserver.server import ApiServer, ssl_context
from ..client.client import LocalClient
from ..client.context import ComponentContext
from ..client.informer import InformerFactory
from ..storage.sqlite import open_memory, open_sqlite
from ..storage.store import Store
from .config import COMPACT_INTERVAL, ClusterConfig

__all__ = ["COMPACT_INTERVAL", "COMPONENT_MODULES", "Cluster", "ClusterConfig", "run_forever"]

log = logging.getLogger("kubeling")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


# Components started after the API server, in order; each module has `async def start(ctx)` returning a stop
# coroutine function. Modules not present yet are skipped.
COMPONENT_MODULES = ["kubeling.controllers.manager", "kubeling.scheduler.scheduler", "kubeling.node.simulator",
                     "kubeling.dns.server"]


async def open_store(cfg: ClusterConfig) -> Store:
    """The storage backend cfg.storage names: memory, the SQLite file in the data dir, or etcd."""
    if cfg.storage == "memory":
        return open_memory()
    if cfg.storage == "etcd":
        from ..storage.etcd import open_etcd

        if not cfg.etcd_servers:
            raise SystemExit("error: --storage etcd needs --etcd-servers URL[,URL...]")
        return await open_etcd(cfg.etcd_servers, key_prefix=cfg.etcd_prefix)
    return open_sqlite(os.path.join(cfg.data_dir, "state.db"))


class Cluster:
    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        self.store: Store | None = None
        self.registry: Registry | None = None
        self.runner: web.AppRunner | None = None
        self.pki: dict[str, str] = {}
        self.token = ""
        self._stops: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task] = []
        self.ready = False

    @property
    def url(self) -> str:
        return f"https://{self.cfg.host}:{self.cfg.port}"

    async def start(self) -> None:
        cfg = self.cfg
        for w in features.warnings(cfg.feature_gates):
            log.warning("%s", w)
        os.makedirs(cfg.data_dir, exist_ok=True)
        self.pki = ensure_pki(cfg.pki_dir or os.path.join(cfg.data_dir, "pki"))
        self.token = read_token(self.pki["admin.token"])
        self.store = await open_store(cfg)
        self.registry = Registry(self.store)
        admission.install(self.registry, self._settings())
        service_alloc.install(self.registry)
        await self._bootstrap()
        # CustomResourceDefinitions: served from the start (a restart keeps CRs served), then watched.
        crds = crd.CRDController(self.registry)
        crds.load()
        self._tasks.append(crds.start())
        await service_alloc.bootstrap_services(self.registry, cfg.port)
        api = ApiServer(self.registry, {self.token: ("kubernetes-admin", ["system:masters", "system:authenticated"])},
                        ready_check=lambda: self.ready)
        self.apiserver = api
        audit = os.path.join(cfg.data_dir, "audit.log") if cfg.audit_log is None else cfg.audit_log
        self.front = auth.build(self.registry, self.pki,
                                {self.token: auth.UserInfo("kubernetes-admin", ("system:masters", AUTHENTICATED))},
                                audit_path=audit or None, max_inflight=cfg.max_inflight_per_client)
        self.front.install(api)
        self.runner = web.AppRunner(api.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, cfg.host, cfg.port,
                           ssl_context=ssl_context(self.pki["apiserver.crt"], self.pki["apiserver.key"],
                                                   client_ca=self.pki["ca.crt"]),
                           backlog=1024, reuse_address=True)
        await site.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self._compactor()))
        self.client = LocalClient(self.registry, field_manager="kubeling")
        self.ctx = ComponentContext(client=self.client, informers=InformerFactory(self.client),
                                    data_dir=cfg.data_dir, settings=self._settings())
        for modname in COMPONENT_MODULES if cfg.components is None else cfg.components:
            try:
                mod = importlib.import_module(modname)
            except ModuleNotFoundError as e:
                if e.name == modname:
                    continue
                raise
            stop = await mod.start(self.ctx)
            if stop is not None:
                self._stops.append(stop)
        self.ctx.informers.start()
        self.ready = True
        log.info("kubeling API server listening on %s (data dir %s)", self.url, cfg.data_dir)

    def _settings(self) -> dict[str, Any]:
        c = self.cfg
        return {"nodes": list(c.nodes), "pod_start_delay": c.pod_start_delay, "dns_port": c.dns_port,
                "node_monitor_grace_period": c.node_monitor_grace_period,
                "default_storageclass": c.default_storageclass, "host": c.host, "port": c.port,
                "terminated_pod_gc_threshold": c.terminated_pod_gc_threshold, "pod_gc_quarantine": c.pod_gc_quarantine,
                "event_ttl": c.event_ttl, "root_ca": self._root_ca(),
                "cluster_signing_cert_file": self.pki.get("ca.crt", ""),
                "cluster_signing_key_file": self.pki.get("ca.key", ""), "hpa_sync_period": c.hpa_sync_period,
                "feature_gates": features.resolve(c.feature_gates)}

    def _root_ca(self) -> str:
        """The cluster CA as PEM text, for the root CA publisher's kube-root-ca.crt ConfigMaps."""
        path = self.pki.get("ca.crt")
        if not path:
            return ""
        with open(path) as f:
            return f.read()

    async def _bootstrap(self) -> None:
        ns_rt = by_qualified("namespaces")
        for ns in SYSTEM_NAMESPACES:
            if self.store.get(ns_rt.key(None, ns)) is None:
                try:
                    await self.registry.create(ns_rt, None, {"metadata": {"name": ns}},
                                               Request(field_manager="kubeling"))
                except errors.ApiError as e:
                    if e.code != 409:
                        raise
        await rbac_bootstrap.ensure(self.registry)  # default roles/bindings, as upstream's rbac/bootstrap-roles
        await priority_admission.ensure_system_classes(self.registry)  # scheduling/bootstrap-system-priority-classes
        await flowcontrol_bootstrap.ensure(self.registry)  # apiserver/bootstrap-system-flowcontrol-configuration
        await apiservices.ensure(self.registry)  # the local APIServices (apiservice-registration-controller)

    async def _compactor(self) -> None:
        """Keep about five minutes of history, as upstream's compaction interval does."""
        marks: list[int] = []
        interval = self.cfg.compaction_interval
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            marks.append(self.store.revision)
            if len(marks) > 1:
                await self.store.compact(marks.pop(0))

    async def stop(self) -> None:
        self.ready = False
        for stop in reversed(self._stops):
            try:
                await stop()
            except Exception:
                log.exception("error stopping component")
        for t in self._tasks:
            t.cancel()
        if self.runner is not None:
            await self.runner.cleanup()
        if getattr(self, "front", None) is not None and self.front.audit is not None:
            self.front.audit.close()
        if self.store is not None:
            await self.store.close()


def tune_gc() -> None:
    """The heap is mostly acyclic JSON trees (stored objects, informer caches, the watch ring): millions
    of containers that each full collection walks again (over a second with 5,000 nodes and pods), for
    the few reference cycles asyncio leaves, which the young generations catch. So: collect the young
    generations every 50,000 allocations instead of 700, a full collection only after 100 of the middle
    one, and move what is alive at that point (modules, schemas; after startup: bootstrap objects and
    nodes) out of the collector's view. Called before and after startup."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def run_forever(cfg: ClusterConfig, on_ready: Callable[[Cluster], Any] | None = None) -> None:
    tune_gc()
    cluster = Cluster(cfg)
    await cluster.start()
    tune_gc()
    if on_ready is not None:
        on_ready(cluster)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await cluster.stop()

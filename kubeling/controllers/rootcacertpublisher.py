"""The root CA certificate publisher (upstream pkg/controller/certificates/rootcacertpublisher): a ConfigMap
`kube-root-ca.crt` in every namespace holding the cluster CA, so pods can verify the API server (the
service-account admission mounts it into every pod's kube-api-access volume).

Level-triggered: a namespace that is added (or updated while Active) and a `kube-root-ca.crt` that is
updated or deleted queue the namespace; sync creates the ConfigMap when the informer cache lacks it and
rewrites it when its data or description annotation differ from what it must hold. As upstream, a
create into a namespace that is gone or terminating is not an error, and other ConfigMaps are ignored.
The CA is `settings["root_ca"]` (PEM text): the data dir's CA in `kubeling up`, `--root-ca-file` or the
kubeconfig's CA in `kubeling controller-manager`.
"""
from __future__ import annotations

import logging
from typing import Any

from ..api.errors import ApiError
from ..client.client import Client, deepcopy
from ..client.informer import Controller, Informer
from . import register
from .common.podcontrol import is_namespace_terminating

log = logging.getLogger(__name__)

NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def desired_data(root_ca: str) -> dict[str, str]:
    return {"ca.crt": root_ca}


def needs_update(cm: dict[str, Any], root_ca: str) -> bool:
    """Upstream repairs the data when it differs and the annotation only when it is missing or empty."""
    annotations = (cm.get("metadata") or {}).get("annotations") or {}
    return (cm.get("data") or {}) != desired_data(root_ca) or not annotations.get(DESCRIPTION_ANNOTATION)


def repaired(cm: dict[str, Any], root_ca: str) -> dict[str, Any]:
    """A copy of the cached ConfigMap with the CA data and the description annotation restored."""
    out = deepcopy(cm)
    out["data"] = desired_data(root_ca)
    md = out.setdefault("metadata", {})
    md["annotations"] = {**(md.get("annotations") or {}), DESCRIPTION_ANNOTATION: DESCRIPTION}
    return out


class RootCACertPublisher(Controller):
    name = "root_ca_cert_publisher"
    workers = 1  # upstream runs one worker

    def __init__(self, client: Client, namespaces: Informer, configmaps: Informer, root_ca: str) -> None:
        super().__init__()
        self.client = client
        self.namespaces = namespaces
        self.cms = configmaps
        self.root_ca = root_ca
        namespaces.add_handlers(self._ns_added, self._ns_updated)
        configmaps.add_handlers(on_update=lambda _old, cm: self._cm_changed(cm), on_delete=self._cm_changed)

    def _ns_added(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _ns_updated(self, _old: dict[str, Any], ns: dict[str, Any]) -> None:
        if (ns.get("status") or {}).get("phase") == "Active":
            self.queue.add(ns["metadata"]["name"])

    def _cm_changed(self, cm: dict[str, Any]) -> None:
        md = cm.get("metadata") or {}
        if md.get("name") == NAME and md.get("namespace"):
            self.queue.add(md["namespace"])

    def run(self, workers: int | None = None) -> None:
        """Workers start once the ConfigMap cache has synced, as upstream waits for it."""
        self.start_when_synced(self.namespaces, self.cms, workers=workers)

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp"):
            return  # gone or terminating: upstream's create would fail and be dropped; skip the request
        cm = self.cms.get_by(key, NAME)
        try:
            if cm is None:
                await self.client.create("configmaps", key, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": NAME, "namespace": key,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": desired_data(self.root_ca)})
            elif needs_update(cm, self.root_ca):
                await self.client.update("configmaps", repaired(cm, self.root_ca))
        except ApiError as e:
            if cm is None and (e.code == 404 or is_namespace_terminating(e)):
                return  # don't retry a create into a namespace that is gone or terminating
            raise  # a 409 (the cache was behind) requeues quietly; the next sync repairs what exists


@register("root-ca-certificate-publisher-controller")
async def start(ctx: Any) -> RootCACertPublisher:
    root_ca = (ctx.settings or {}).get("root_ca") or ""
    c = RootCACertPublisher(ctx.client, ctx.informers.informer("namespaces"),
                            ctx.informers.informer("configmaps", field_selector=f"metadata.name={NAME}"), root_ca)
    c.run()
    return c

"""apiregistration.k8s.io/v1 APIService: the local APIServices upstream's aggregator lists.

kube-apiserver's apiservice-registration-controller creates one APIService per built-in group/version
(`v1.` for the core group, `v1.apps`, ...), labelled `kube-aggregator.kubernetes.io/automanaged: onstart`,
with spec.service unset (served locally) and the Available condition True ("Local"). kubeling writes them
at start from RESOURCES; it aggregates nothing, so APIServices with a service are stored but not proxied.
"""
from __future__ import annotations

from typing import Any

from . import errors, meta
from .registry import Registry, Request
from .resources import RESOURCES, by_qualified

Obj = dict[str, Any]

QUALIFIED = "apiservices.apiregistration.k8s.io"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"

# kube-apiserver's apiVersionPriorities: (groupPriorityMinimum, versionPriority) per group version.
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apiregistration.k8s.io", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("metrics.k8s.io", "v1beta1"): (100, 100),
}


def name_of(group: str, version: str) -> str:
    return f"{version}.{group}"


def local_group_versions() -> list[tuple[str, str]]:
    """Every built-in group/version served, plus apiregistration.k8s.io/v1 itself, in RESOURCES order."""
    out: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in out:
            out.append((r.group, r.version))
    return out


def local_apiservice(group: str, version: str, now: str) -> Obj:
    gpm, vp = PRIORITIES.get((group, version), (1000, 15))
    spec: Obj = {"version": version, "groupPriorityMinimum": gpm, "versionPriority": vp}
    if group:
        spec = {"group": group, **spec}
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": name_of(group, version), "labels": {AUTOMANAGED: "onstart"}},
            "spec": spec,
            "status": {"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": now,
                                       "reason": "Local", "message": "Local APIServices are always available"}]}}


async def ensure(registry: Registry) -> None:
    """Create the local APIServices that are missing."""
    rt = by_qualified(QUALIFIED)
    req = Request(field_manager="kube-apiserver")
    now = meta.now_rfc3339()
    for group, version in local_group_versions():
        if registry.store.get(rt.key(None, name_of(group, version))) is not None:
            continue
        try:
            await registry.create(rt, None, local_apiservice(group, version, now), req)
        except errors.ApiError as e:
            if e.code != 409:
                raise

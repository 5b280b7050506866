"""Per-kind rules the generic registry applies around writes (upstream's rest strategies).

Only what differs between kinds lives here: status reset on create, which kinds track
`metadata.generation`, which return the deleted object, create-on-update, and the pod
specifics (initial status, QoS class, graceful deletion).
"""
from __future__ import annotations

from typing import Any

from .resources import ResourceType

# Kinds whose strategy sets generation=1 on create and bumps it when the spec changes.
GENERATION_KINDS = {"statefulsets.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps"}

# Kinds whose DELETE returns the object instead of a Status (upstream ReturnDeletedObject).
RETURN_DELETED_OBJECT = {"pods", "persistentvolumeclaims", "persistentvolumes", "services", "serviceaccounts",
                         "storageclasses.storage.k8s.io"}

# Kinds where PUT of a missing object creates it (upstream AllowCreateOnUpdate).
CREATE_ON_UPDATE = {"endpoints", "events", "events.events.k8s.io", "leases.coordination.k8s.io"}


def tracks_generation(rt: ResourceType) -> bool:
    return rt.qualified in GENERATION_KINDS


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: what a generation bump is measured on."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def prepare_for_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    q = rt.qualified
    if q == "pods":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    elif q == "namespaces":
        obj["status"] = {"phase": "Active"}
    elif q == "persistentvolumes":
        obj["status"] = {"phase": "Pending"}
    elif q == "persistentvolumeclaims":
        obj["status"] = {"phase": "Pending"}
    elif q == "nodes":
        obj.setdefault("status", {})
    elif rt.has_status and q != "services":
        obj.pop("status", None)
    elif q == "services":
        obj["status"] = {"loadBalancer": {}}
    if q in GENERATION_KINDS:
        obj["metadata"]["generation"] = 1
        if q in ("statefulsets.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps"):
            obj.setdefault("status", {})
            if q == "statefulsets.apps":
                obj["status"] = {"replicas": 0, "availableReplicas": 0}
            elif q == "daemonsets.apps":
                obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                 "desiredNumberScheduled": 0, "numberReady": 0}
            elif q == "replicasets.apps":
                obj["status"] = {"replicas": 0}
            else:
                obj["status"] = {}


def _resource_list_keys(c: dict[str, Any], field: str) -> dict[str, Any]:
    return ((c.get("resources") or {}).get(field)) or {}


def qos_class(spec: dict[str, Any]) -> str:
    """Upstream's GetPodQOS: BestEffort, Guaranteed or Burstable."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    for c in containers:
        req = {k: v for k, v in _resource_list_keys(c, "requests").items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in _resource_list_keys(c, "limits").items() if k in ("cpu", "memory")}
        requests.update({k: v for k, v in req.items() if str(v) not in ("0", "")})
        limits.update({k: v for k, v in lim.items() if str(v) not in ("0", "")})
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
        for k, v in req.items():
            if str(lim.get(k)) != str(v):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        return "Guaranteed"
    return "Burstable"

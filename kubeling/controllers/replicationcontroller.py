"""The ReplicationController manager (upstream pkg/controller/replication, v1.32).

Upstream does not have a controller of its own for ReplicationControllers: NewReplicationManager is
the ReplicaSet controller (NewBaseController) over adapters that convert each RC to a ReplicaSet and
back. Because kubeling's controllers work on plain dicts, and an RC carries the same fields the
ReplicaSet logic reads (spec.replicas, spec.minReadySeconds, spec.template, status counters,
ReplicaFailure conditions), the only conversion left is the selector: an RC selects with a plain
label map, which becomes the matchLabels of a LabelSelector. Everything else is a parameter of
ReplicaSetController: the resource, the owner kind of controller references (v1
ReplicationController), and the event source component ("replication-controller"; the events'
reasons and messages are the ReplicaSet's, e.g. SuccessfulCreate "Created pod: web-abcde").
"""
from __future__ import annotations

from typing import Any

from ..api.selectors import Requirement, selector_from_label_selector
from . import register_controller
from .common.dependents import SelectorCache
from .replicaset import ReplicaSetController

RESOURCE = "replicationcontrollers"
CONTROLLER_KIND = ("v1", "ReplicationController")
COMPONENT = "replication-controller"

Obj = dict[str, Any]


def rc_label_selector(rc: Obj) -> Obj | None:
    """The LabelSelector an RC's map selector converts to (Convert_Map_string_To_string_To_v1_LabelSelector);
    None for an absent or empty selector (validation rejects both), which selects nothing."""
    sel = (rc.get("spec") or {}).get("selector")
    if not isinstance(sel, dict) or not sel:
        return None
    return {"matchLabels": dict(sel)}


class MapSelectorCache(SelectorCache):
    """Parsed RC selectors. Unlike a ReplicaSet's, an RC's selector may change, so an entry is reused
    only while the selector it was parsed from is unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self._maps: dict[str, tuple[Obj | None, list[Requirement] | None]] = {}

    def get(self, owner: Obj) -> list[Requirement] | None:
        uid = owner["metadata"].get("uid") or ""
        raw = (owner.get("spec") or {}).get("selector")
        hit = self._maps.get(uid)
        if hit is not None and hit[0] == raw:
            return hit[1]
        parsed = selector_from_label_selector(rc_label_selector(owner))
        self._maps[uid] = (dict(raw) if isinstance(raw, dict) else raw, parsed)
        return parsed

    def forget(self, owner: Obj) -> None:
        self._maps.pop(owner["metadata"].get("uid") or "", None)


class ReplicationManager(ReplicaSetController):
    """ReplicationManager: the ReplicaSet controller on replicationcontrollers."""

    name = "replicationcontroller"
    workers = 5  # kube-controller-manager --concurrent-rc-syncs default
    resource = RESOURCE
    controller_kind = CONTROLLER_KIND
    component = COMPONENT

    def selector_cache(self) -> SelectorCache:
        return MapSelectorCache()


start = register_controller("replicationcontroller", ReplicationManager)


__all__ = ["MapSelectorCache", "ReplicationManager", "rc_label_selector", "start"]

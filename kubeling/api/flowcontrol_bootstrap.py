"""flowcontrol.apiserver.k8s.io/v1 bootstrap configuration (upstream apis/flowcontrol/bootstrap/default.go).

The API server creates the mandatory and suggested FlowSchemas and PriorityLevelConfigurations at start,
as upstream's apiserver/bootstrap-system-flowcontrol-configuration post-start hook, annotated
`apf.kubernetes.io/autoupdate-spec: "true"`, each FlowSchema with its Dangling condition. Objects that
exist are left as they are (upstream re-applies the spec of auto-updated ones).

kubeling does not enforce these: its flow control stays the per-user in-flight limit of apiserver.limits.
"""
from __future__ import annotations

import copy
from typing import Any

from . import errors, meta
from .registry import Registry, Request
from .resources import by_qualified

Obj = dict[str, Any]

GV = "flowcontrol.apiserver.k8s.io/v1"
FLOW_SCHEMAS = "flowschemas.flowcontrol.apiserver.k8s.io"
PRIORITY_LEVELS = "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io"
AUTOUPDATE = "apf.kubernetes.io/autoupdate-spec"

_ALL_RESOURCES = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True, "namespaces": ["*"]}
_ALL_NON_RESOURCES = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def _groups(*names: str) -> list[Obj]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[Obj]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _kube_system_sa(*names: str) -> list[Obj]:
    return [{"kind": "ServiceAccount", "serviceAccount": {"name": n, "namespace": "kube-system"}} for n in names]


def _rule(verbs: list[str], groups: list[str], resources: list[str], namespaces: list[str],
          cluster_scope: bool) -> Obj:
    r: Obj = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if cluster_scope:
        r["clusterScope"] = True
    r["namespaces"] = namespaces
    return r


def _everything(subjects: list[Obj]) -> Obj:
    return {"subjects": subjects, "resourceRules": [dict(_ALL_RESOURCES)], "nonResourceRules": [dict(_ALL_NON_RESOURCES)]}


def _fs(name: str, pl: str, precedence: int, method: str, *rules: Obj) -> Obj:
    spec: Obj = {"priorityLevelConfiguration": {"name": pl}, "matchingPrecedence": precedence}
    if method:
        spec["distinguisherMethod"] = {"type": method}
    spec["rules"] = list(rules)
    return {"metadata": {"name": name}, "spec": spec}


def _limited(shares: int, lendable: int, queuing: tuple[int, int, int] | None) -> Obj:
    if queuing is None:
        lr: Obj = {"type": "Reject"}
    else:
        lr = {"type": "Queue", "queuing": {"queues": queuing[0], "handSize": queuing[1],
                                           "queueLengthLimit": queuing[2]}}
    return {"type": "Limited", "limited": {"nominalConcurrencyShares": shares, "lendablePercent": lendable,
                                           "limitResponse": lr}}


_LEADER_RESOURCES = ["get", "create", "update"]

# Mandatory first, then suggested, in upstream's order.
PRIORITY_LEVELS_BOOTSTRAP: list[Obj] = [
    {"metadata": {"name": "exempt"},
     "spec": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}},
    {"metadata": {"name": "catch-all"}, "spec": _limited(5, 0, None)},
    {"metadata": {"name": "system"}, "spec": _limited(30, 33, (64, 6, 50))},
    {"metadata": {"name": "node-high"}, "spec": _limited(40, 25, (64, 6, 50))},
    {"metadata": {"name": "leader-election"}, "spec": _limited(10, 0, (16, 4, 50))},
    {"metadata": {"name": "workload-high"}, "spec": _limited(40, 50, (128, 6, 50))},
    {"metadata": {"name": "workload-low"}, "spec": _limited(100, 90, (128, 6, 50))},
    {"metadata": {"name": "global-default"}, "spec": _limited(20, 50, (128, 6, 50))},
]

FLOW_SCHEMAS_BOOTSTRAP: list[Obj] = [
    _fs("exempt", "exempt", 1, "", _everything(_groups("system:masters"))),
    _fs("catch-all", "catch-all", 10000, "ByUser", _everything(_groups("system:unauthenticated",
                                                                       "system:authenticated"))),
    _fs("system-nodes", "system", 500, "ByUser", _everything(_groups("system:nodes"))),
    _fs("system-node-high", "node-high", 400, "ByUser", {
        "subjects": _groups("system:nodes"),
        "resourceRules": [_rule(["*"], [""], ["nodes", "nodes/status"], ["*"], True),
                          _rule(["*"], ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
    _fs("probes", "exempt", 2, "", {
        "subjects": _groups("system:unauthenticated", "system:authenticated"),
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}),
    _fs("system-leader-election", "leader-election", 100, "ByUser", {
        "subjects": _users("system:kube-controller-manager", "system:kube-scheduler") + _kube_system_sa("*"),
        "resourceRules": [_rule(_LEADER_RESOURCES, [""], ["endpoints", "configmaps"], ["kube-system"], False),
                          _rule(_LEADER_RESOURCES, ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
    _fs("endpoint-controller", "workload-high", 150, "ByUser", {
        "subjects": _users("system:kube-controller-manager")
        + _kube_system_sa("endpoint-controller", "endpointslicemirroring-controller"),
        "resourceRules": [_rule(_LEADER_RESOURCES, [""], ["endpoints"], ["*"], False)]}),
    _fs("workload-leader-election", "leader-election", 200, "ByUser", {
        "subjects": _kube_system_sa("*"),
        "resourceRules": [_rule(_LEADER_RESOURCES, [""], ["endpoints", "configmaps"], ["*"], False),
                          _rule(_LEADER_RESOURCES, ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
    _fs("kube-controller-manager", "workload-high", 800, "ByNamespace",
        _everything(_users("system:kube-controller-manager"))),
    _fs("kube-scheduler", "workload-high", 800, "ByNamespace", _everything(_users("system:kube-scheduler"))),
    _fs("kube-system-service-accounts", "workload-high", 900, "ByNamespace", _everything(_kube_system_sa("*"))),
    _fs("service-accounts", "workload-low", 9000, "ByUser", _everything(_groups("system:serviceaccounts"))),
    _fs("global-default", "global-default", 9900, "ByUser", _everything(_groups("system:unauthenticated",
                                                                               "system:authenticated"))),
]


def dangling_condition(fs: Obj, levels: set[str], now: str) -> Obj:
    """The Dangling condition upstream's APF config controller keeps on every FlowSchema."""
    pl = ((fs.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", "")
    if pl in levels:
        return {"type": "Dangling", "status": "False", "lastTransitionTime": now, "reason": "Found",
                "message": f'This FlowSchema references the PriorityLevelConfiguration object named "{pl}" '
                           "and it exists"}
    return {"type": "Dangling", "status": "True", "lastTransitionTime": now, "reason": "NotFound",
            "message": f'This FlowSchema references the PriorityLevelConfiguration object named "{pl}" '
                       "but there is no such object"}


async def ensure(registry: Registry) -> None:
    """Create the bootstrap PriorityLevelConfigurations and FlowSchemas that are missing."""
    req = Request(field_manager="api-priority-and-fairness-config-producer-v1")
    now = meta.now_rfc3339()
    levels = {pl["metadata"]["name"] for pl in PRIORITY_LEVELS_BOOTSTRAP}
    for resource, kind, items in ((PRIORITY_LEVELS, "PriorityLevelConfiguration", PRIORITY_LEVELS_BOOTSTRAP),
                                  (FLOW_SCHEMAS, "FlowSchema", FLOW_SCHEMAS_BOOTSTRAP)):
        rt = by_qualified(resource)
        for item in items:
            name = item["metadata"]["name"]
            if registry.store.get(rt.key(None, name)) is not None:
                continue
            body: Obj = {"apiVersion": GV, "kind": kind,
                         "metadata": {"name": name, "annotations": {AUTOUPDATE: "true"}},
                         "spec": copy.deepcopy(item["spec"])}
            if kind == "FlowSchema":
                body["status"] = {"conditions": [dangling_condition(item, levels, now)]}
            try:
                await registry.create(rt, None, body, req)
            except errors.ApiError as e:
                if e.code != 409:
                    raise

"""ClusterRole aggregation (upstream pkg/controller/clusterroleaggregation).

A ClusterRole with an aggregationRule gets, as its rules, the union of the rules of every ClusterRole
its selectors match (by name order, first occurrence kept, itself excluded) — that is how the default
admin/edit/view roles are filled from the `rbac.authorization.k8s.io/aggregate-to-*` roles, and how
users extend them. Any ClusterRole change requeues every aggregating role; sync recomputes from the
cache and writes only when the rules differ.
"""
from __future__ import annotations

import logging
from typing import Any

from ..api.errors import ApiError
from ..api.selectors import matches_labels, selector_from_label_selector
from ..client.client import Client, deepcopy
from ..client.informer import Controller, Informer
from . import register

log = logging.getLogger(__name__)

RESOURCE = "clusterroles.rbac.authorization.k8s.io"


def _semantic(rule: Any) -> Any:
    """A rule for comparison: empty and absent lists are equal (equality.Semantic)."""
    if not isinstance(rule, dict):
        return rule
    return {k: v for k, v in rule.items() if v not in (None, [], {})}


def aggregate(role: dict[str, Any], roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules an aggregating role should have, given every ClusterRole."""
    out: list[dict[str, Any]] = []
    seen: list[Any] = []
    name = role["metadata"]["name"]
    ordered = sorted(roles, key=lambda r: r["metadata"]["name"])
    for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ():
        reqs = selector_from_label_selector(sel)
        if reqs is None:
            continue
        for other in ordered:
            if other["metadata"]["name"] == name or not matches_labels(reqs, other["metadata"].get("labels")):
                continue
            for r in other.get("rules") or ():
                s = _semantic(r)
                if s not in seen:
                    seen.append(s)
                    out.append(r)
    return out


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    workers = 1

    def __init__(self, client: Client, roles: Informer) -> None:
        super().__init__()
        self.client = client
        self.roles = roles
        roles.add_handlers(self._changed, lambda _old, _new: self._changed(_new), self._changed)

    def _changed(self, _role: dict[str, Any]) -> None:
        for r in self.roles.list():
            if r.get("aggregationRule") is not None:
                self.queue.add(r["metadata"]["name"])

    async def sync(self, key: str) -> None:
        role = self.roles.get(key)
        if role is None or role.get("aggregationRule") is None:
            return
        want = aggregate(role, self.roles.list())
        if [_semantic(r) for r in want] == [_semantic(r) for r in role.get("rules") or ()]:
            return
        new = deepcopy(role)
        new["rules"] = deepcopy({"r": want})["r"]
        try:
            await self.client.update(RESOURCE, new)
        except ApiError as e:
            if e.code == 404:
                return
            raise


@register("clusterrole-aggregation")
async def start(ctx: Any) -> ClusterRoleAggregationController:
    c = ClusterRoleAggregationController(ctx.client, ctx.informers.informer(RESOURCE))
    c.run()
    return c

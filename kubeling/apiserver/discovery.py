"""Discovery documents: aggregated (apidiscovery.k8s.io v2/v2beta1) and the legacy lists."""
from __future__ import annotations

from typing import Any

from ..api.pod_subresources import subresources_of
from ..api.resources import ResourceType, groups

_SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
              "binding": ["create"], "eviction": ["create"], "finalize": ["update"], "token": ["create"],
              "approval": ["get", "patch", "update"]}


def _subresources(rt: ResourceType) -> list[tuple[str, dict[str, str], list[str]]]:
    """(name, response kind, verbs) of every subresource, sorted by name as upstream lists them; the
    kubelet-backed ones (log, exec, proxy, ...) are not stored kinds and come from pod_subresources."""
    out = [(s, _sub_kind(rt, s), _SUB_VERBS[s]) for s in rt.subresources]
    if not rt.group:
        out += [(s, {"group": "", "version": "", "kind": kind}, list(verbs))
                for s, (verbs, kind) in subresources_of(rt.plural).items()]
    return sorted(out, key=lambda x: x[0])


def _sub_kind(rt: ResourceType, sub: str) -> dict[str, str]:
    if sub == "scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    if sub == "binding":
        return {"group": "", "version": "", "kind": "Binding"}
    if sub == "eviction":
        return {"group": "policy", "version": "v1", "kind": "Eviction"}
    if sub == "token":
        return {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}
    return {"group": "", "version": "", "kind": rt.kind}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": "", "version": "", "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        r["shortNames"] = list(rt.short_names)
    if rt.categories:
        r["categories"] = list(rt.categories)
    subs = _subresources(rt)
    if subs:
        r["subresources"] = [{"subresource": s, "responseKind": k, "verbs": v} for s, k, v in subs]
    return r


def aggregated(core: bool, api_version: str) -> dict[str, Any]:
    """APIGroupDiscoveryList for /api (core=True) or /apis."""
    items = []
    for group, rts in groups().items():
        if (group == "") != core or not rts:
            continue
        versions: dict[str, list[ResourceType]] = {}
        for rt in rts:
            versions.setdefault(rt.version, []).append(rt)
        items.append({
            "metadata": {"name": group} if group else {},
            "versions": [{"version": v, "resources": [_aggregated_resource(r) for r in sorted(rs, key=lambda x: x.plural)],
                          "freshness": "Current"} for v, rs in versions.items()],
        })
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{api_version}",
            "metadata": {}, "items": items}


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def _group_entry(group: str, rts: list[ResourceType]) -> dict[str, Any]:
    versions = list(dict.fromkeys(r.version for r in rts))  # preferred (first listed) version first
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, rts) for g, rts in groups().items() if g and rts]}


def api_group(group: str) -> dict[str, Any] | None:
    rts = groups().get(group)
    if not group or not rts:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, rts)}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    rts = [r for r in groups().get(group, []) if r.version == version]
    if not rts:
        return None
    res = []
    for rt in sorted(rts, key=lambda x: x.plural):
        e: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                             "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            e["shortNames"] = list(rt.short_names)
        if rt.categories:
            e["categories"] = list(rt.categories)
        res.append(e)
        for s, k, verbs in _subresources(rt):
            se: dict[str, Any] = {"name": f"{rt.plural}/{s}", "singularName": "", "namespaced": rt.namespaced,
                                  "kind": k["kind"], "verbs": verbs}
            if k["group"]:
                se["group"], se["version"] = k["group"], k["version"]
            res.append(se)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": res}

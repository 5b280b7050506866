"""Which custom resources the API server serves right now, as controllers discover them.

Upstream's garbage collector and namespace controller find resources through discovery
(ServerPreferredResources: the preferred version of every group). In-process the registry's
dynamic resources (api.resources.all_resources) are that answer; a controller-manager of its
own asks the API server over HTTPS for the groups it does not know (CRD groups).
"""
from __future__ import annotations

import logging
from typing import Any

from ...api.errors import ApiError
from ...api.resources import GROUP_ORDER, RESOURCES, ResourceType, all_resources

log = logging.getLogger(__name__)

_BUILTIN_GROUPS = frozenset(GROUP_ORDER) | {r.group for r in RESOURCES}
_SEEN: dict[tuple, ResourceType] = {}  # equal discoveries give the very same ResourceType
_VERSIONS: dict[str, tuple[str, ...]] = {}  # custom group -> its served versions, as last discovered


def in_process(client: Any) -> bool:
    """True for the in-process client, which shares the registry's view of the served resources."""
    return getattr(client, "registry", None) is not None


def local_custom_resources() -> list[ResourceType]:
    """The preferred served version of every custom resource registered in this process."""
    out: dict[str, ResourceType] = {}
    for rt in all_resources():
        if rt.custom is not None and rt.qualified not in out:
            out[rt.qualified] = rt
    return list(out.values())


async def custom_resources(client: Any) -> list[ResourceType]:
    """Custom resources (preferred version each) served now; raises ApiError when discovery fails."""
    if in_process(client):
        return local_custom_resources()
    do = getattr(client, "_do", None)
    if do is None:
        return []
    groups = await do("GET", "/apis")
    out: list[ResourceType] = []
    versions: dict[str, tuple[str, ...]] = {}
    for g in (groups or {}).get("groups") or ():
        name = g.get("name", "")
        if name in _BUILTIN_GROUPS:
            continue
        versions[name] = tuple(v.get("version", "") for v in g.get("versions") or ())
        version = (g.get("preferredVersion") or {}).get("version")
        if not version:
            continue
        try:
            rl = await do("GET", f"/apis/{name}/{version}")
        except ApiError as e:
            if e.code == 404:  # the group went away between the two requests
                continue
            raise
        out.extend(_resource_types(name, version, (rl or {}).get("resources") or ()))
    _VERSIONS.clear()
    _VERSIONS.update(versions)
    return out


def served_versions(group: str) -> tuple[str, ...]:
    """The versions of a custom group that the last remote discovery saw served."""
    return _VERSIONS.get(group, ())


def _resource_types(group: str, version: str, resources: Any) -> list[ResourceType]:
    out = []
    for r in resources:
        plural = r.get("name", "")
        if not plural or "/" in plural:
            continue
        subs = tuple(x["name"].split("/", 1)[1] for x in resources if x.get("name", "").startswith(plural + "/"))
        key = (group, version, r.get("kind", ""), plural, bool(r.get("namespaced")), tuple(r.get("verbs") or ()),
               subs)
        rt = _SEEN.get(key)
        if rt is None:
            rt = _SEEN[key] = ResourceType(group, version, r.get("kind", ""), plural,
                                           r.get("singularName") or r.get("kind", "").lower(),
                                           bool(r.get("namespaced")), verbs=tuple(r.get("verbs") or ()),
                                           subresources=subs, has_status="status" in subs)
        out.append(rt)
    return out

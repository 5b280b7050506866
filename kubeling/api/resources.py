"""The resource registry: every kind kubeling serves, described once.

Discovery, OpenAPI, REST routing, printing, defaulting and validation all key off these
entries. `qualified` ("statefulsets.apps", "pods") is the name other api modules use.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import schema


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "binding", ...
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    has_status: bool = False
    # fields the main resource may not change (owned by the status subresource)
    status_field: str = "status"
    def_name: str = field(default="", compare=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def key_prefix(self, namespace: str | None = None) -> str:
        base = f"/registry/{self.group or 'core'}/{self.plural}/"
        if self.namespaced and namespace:
            return f"{base}{namespace}/"
        return base

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.group or 'core'}/{self.plural}/{namespace}/{name}"
        return f"/registry/{self.group or 'core'}/{self.plural}/{name}"


def _r(group: str, version: str, kind: str, plural: str, namespaced: bool, **kw) -> ResourceType:
    rt = ResourceType(group, version, kind, plural, kind.lower(), namespaced, **kw)
    object.__setattr__(rt, "def_name", schema.def_for_gvk(group, version, kind) or "")
    return rt


_ALL_CAT = ("all",)
RESOURCES: list[ResourceType] = [
    _r("", "v1", "Namespace", "namespaces", False, short_names=("ns",), subresources=("status", "finalize"),
       has_status=True, verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _r("", "v1", "Node", "nodes", False, short_names=("no",), subresources=("status",), has_status=True),
    _r("", "v1", "Pod", "pods", True, short_names=("po",), categories=_ALL_CAT,
       subresources=("status", "binding", "eviction"), has_status=True),
    _r("", "v1", "Binding", "bindings", True, verbs=("create",)),
    _r("", "v1", "Service", "services", True, short_names=("svc",), categories=_ALL_CAT,
       subresources=("status",), has_status=True,
       verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    _r("", "v1", "Endpoints", "endpoints", True, short_names=("ep",)),
    _r("", "v1", "ConfigMap", "configmaps", True, short_names=("cm",)),
    _r("", "v1", "Secret", "secrets", True),
    _r("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=("sa",), subresources=("token",)),
    _r("", "v1", "Event", "events", True, short_names=("ev",)),
    _r("", "v1", "PersistentVolume", "persistentvolumes", False, short_names=("pv",), subresources=("status",),
       has_status=True),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, short_names=("pvc",),
       subresources=("status",), has_status=True),
    _r("apps", "v1", "StatefulSet", "statefulsets", True, short_names=("sts",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "DaemonSet", "daemonsets", True, short_names=("ds",), categories=_ALL_CAT,
       subresources=("status",), has_status=True),
    _r("apps", "v1", "Deployment", "deployments", True, short_names=("deploy",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "ReplicaSet", "replicasets", True, short_names=("rs",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short_names=("sc",)),
    _r("coordination.k8s.io", "v1", "Lease", "leases", True),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    _r("events.k8s.io", "v1", "Event", "events", True, short_names=("ev",)),
    # Identity and access. The review kinds are create-only and never stored (apiserver.auth/tokens).
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=("create",)),
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=("create",)),
    _r("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False, verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=("create",)),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
]

# Group order as upstream's discovery lists them (core first; apps; events; ...).
GROUP_ORDER = ["", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "coordination.k8s.io",
               "discovery.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io"]

_BY_GVR: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_QUALIFIED: dict[str, ResourceType] = {r.qualified: r for r in RESOURCES}
_BY_GVK: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_GVR.get((group, version, plural))


def by_qualified(name: str) -> ResourceType:
    return _BY_QUALIFIED[name]


def by_gvk(group: str, version: str, kind: str) -> ResourceType | None:
    return _BY_GVK.get((group, version, kind))


def groups() -> dict[str, list[ResourceType]]:
    out: dict[str, list[ResourceType]] = {g: [] for g in GROUP_ORDER}
    for r in RESOURCES:
        out.setdefault(r.group, []).append(r)
    return out

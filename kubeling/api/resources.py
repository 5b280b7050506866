"""The resource registry: every kind kubeling serves, described once.

Discovery, OpenAPI, REST routing, printing, defaulting and validation all key off these
entries. `qualified` ("statefulsets.apps", "pods") is the name other api modules use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    # A custom resource served for a CustomResourceDefinition: its api.customresource.CustomInfo.
    custom: Any = field(default=None, compare=False)

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
    # Deprecated, computed on request (apiserver.componentstatus).
    _r("", "v1", "ComponentStatus", "componentstatuses", False, short_names=("cs",), verbs=("get", "list")),
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
    _r("", "v1", "ResourceQuota", "resourcequotas", True, short_names=("quota",), subresources=("status",),
       has_status=True),
    _r("", "v1", "LimitRange", "limitranges", True, short_names=("limits",)),
    _r("", "v1", "PodTemplate", "podtemplates", True),
    _r("", "v1", "ReplicationController", "replicationcontrollers", True, short_names=("rc",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "StatefulSet", "statefulsets", True, short_names=("sts",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "DaemonSet", "daemonsets", True, short_names=("ds",), categories=_ALL_CAT,
       subresources=("status",), has_status=True),
    _r("apps", "v1", "Deployment", "deployments", True, short_names=("deploy",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "ReplicaSet", "replicasets", True, short_names=("rs",), categories=_ALL_CAT,
       subresources=("status", "scale"), has_status=True),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    # autoscaling: v2 is the storage version and listed first (preferred); v1 is served converted
    # (apiserver.autoscaling_v1). by_qualified() gives the first entry of a resource.
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, short_names=("hpa",),
       categories=_ALL_CAT, subresources=("status",), has_status=True),
    _r("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, short_names=("hpa",),
       categories=_ALL_CAT, subresources=("status",), has_status=True),
    _r("batch", "v1", "CronJob", "cronjobs", True, short_names=("cj",), categories=_ALL_CAT,
       subresources=("status",), has_status=True),
    _r("batch", "v1", "Job", "jobs", True, categories=_ALL_CAT, subresources=("status",), has_status=True),
    _r("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False,
       short_names=("csr",), subresources=("approval", "status"), has_status=True),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", True, short_names=("ing",), subresources=("status",),
       has_status=True),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, short_names=("netpol",)),
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, short_names=("pc",)),
    _r("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", False),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short_names=("sc",)),
    _r("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False),
    _r("storage.k8s.io", "v1", "CSINode", "csinodes", False),
    _r("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", True),
    _r("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", False, subresources=("status",),
       has_status=True),
    _r("coordination.k8s.io", "v1", "Lease", "leases", True),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, short_names=("pdb",),
       subresources=("status",), has_status=True),
    _r("events.k8s.io", "v1", "Event", "events", True, short_names=("ev",)),
    # API Priority and Fairness configuration: bootstrap objects only (api.flowcontrol_bootstrap).
    _r("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", False, subresources=("status",),
       has_status=True),
    _r("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", False,
       subresources=("status",), has_status=True),
    # Identity and access. The review kinds are create-only and never stored (apiserver.auth/tokens).
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=("create",)),
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=("create",)),
    _r("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False, verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=("create",)),
    # Dynamic admission (api.webhook_admission); ValidatingAdmissionPolicy (CEL) is not served.
    _r("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False,
       categories=("api-extensions",)),
    _r("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
       False, categories=("api-extensions",)),
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
       short_names=("crd", "crds"), categories=("api-extensions",), subresources=("status",), has_status=True),
    _r("apiregistration.k8s.io", "v1", "APIService", "apiservices", False, categories=("api-extensions",),
       subresources=("status",), has_status=True),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    # Resource metrics (upstream: metrics-server's APIService); computed on request by apiserver.metrics_api.
    _r("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=("get", "list")),
    _r("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=("get", "list")),
]

# Group order as upstream's discovery lists them (core first; apps; events; ...).
GROUP_ORDER = ["", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
               "certificates.k8s.io", "coordination.k8s.io",
               "discovery.k8s.io", "networking.k8s.io", "policy", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "rbac.authorization.k8s.io",
               "scheduling.k8s.io", "node.k8s.io", "storage.k8s.io", "flowcontrol.apiserver.k8s.io", "metrics.k8s.io"]

_BY_GVR: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_QUALIFIED: dict[str, ResourceType] = {r.qualified: r for r in reversed(RESOURCES)}  # first entry wins
_BY_GVK: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_GVR.get((group, version, plural))


def by_qualified(name: str) -> ResourceType:
    return _BY_QUALIFIED[name]


def by_gvk(group: str, version: str, kind: str) -> ResourceType | None:
    return _BY_GVK.get((group, version, kind))


def is_storage_version(rt: ResourceType) -> bool:
    """False for the extra served versions of a resource (autoscaling/v1 HPA): they share its storage."""
    return _BY_QUALIFIED.get(rt.qualified) is rt


def groups() -> dict[str, list[ResourceType]]:
    out: dict[str, list[ResourceType]] = {g: [] for g in GROUP_ORDER}
    for r in RESOURCES:
        out.setdefault(r.group, []).append(r)
    for q in sorted(_CUSTOM, key=lambda q: (_CUSTOM[q][0].group, q)):
        for r in _CUSTOM[q]:
            out.setdefault(r.group, []).append(r)
    return out


# ---- custom resources (CustomResourceDefinitions), registered while the API server runs ----------------
_CUSTOM: dict[str, list[ResourceType]] = {}  # qualified -> served versions, preferred first
_custom_generation = 0


def all_resources() -> list[ResourceType]:
    """The built-in kinds followed by every served custom resource version (for discovery-driven controllers)."""
    return RESOURCES + [r for rts in _CUSTOM.values() for r in rts]


def custom_generation() -> int:
    """Bumped on every change of the custom resources served: caches of derived documents key on it."""
    return _custom_generation


def set_custom(qualified: str, versions: list[ResourceType], storage: ResourceType | None) -> None:
    """Serve (or stop serving, with no versions) the custom resource `qualified`; `storage` is by_qualified's."""
    global _custom_generation
    for r in _CUSTOM.pop(qualified, ()):
        _BY_GVR.pop((r.group, r.version, r.plural), None)
        _BY_GVK.pop((r.group, r.version, r.kind), None)
    _BY_QUALIFIED.pop(qualified, None)
    if versions:
        _CUSTOM[qualified] = list(versions)
        for r in versions:
            _BY_GVR[(r.group, r.version, r.plural)] = r
            _BY_GVK[(r.group, r.version, r.kind)] = r
        _BY_QUALIFIED[qualified] = storage or versions[0]
    _custom_generation += 1

"""The bootstrap RBAC policy: the ClusterRoles and ClusterRoleBindings upstream's API server creates at start.

Upstream's `rbac/bootstrap-roles` post-start hook (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) creates
the default roles users and components rely on — cluster-admin, admin/edit/view (filled by aggregation
from the `system:aggregate-to-*` roles), system:basic-user, system:discovery, system:public-info-viewer,
system:node, system:kube-scheduler, system:kube-controller-manager, the system:controller:* roles of the
controllers kubeling runs — and reconciles them on every start: objects annotated
`rbac.authorization.kubernetes.io/autoupdate: "true"` get missing rules, subjects, labels and annotations
back. Only the roles kubeling's components and users need are here; their rules are upstream's, verbatim.

Rules are written as `R("verbs", "groups", "resources", "names")` (space-separated; "-" is the core
group ""), sorted as upstream's rule builder sorts them.
"""
from __future__ import annotations

import logging
from typing import Any

from . import errors
from .registry import Registry, Request
from .resources import by_qualified

log = logging.getLogger(__name__)

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
RBAC_GROUP = "rbac.authorization.k8s.io"
AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

Obj = dict[str, Any]

READ = "get list watch"
WRITE = "create delete deletecollection patch update"
READ_WRITE = "create delete deletecollection get list patch update watch"
EVENTS = "create patch update"


def _words(s: str) -> list[str]:
    return sorted("" if w == "-" else w for w in s.split())


def R(verbs: str, groups: str, resources: str, names: str = "") -> Obj:  # noqa: N802 - reads like the Go builder
    """A resource rule; lists sorted as upstream's RuleOrDie sorts them."""
    r: Obj = {"verbs": _words(verbs), "apiGroups": _words(groups), "resources": _words(resources)}
    if names:
        r["resourceNames"] = _words(names)
    return r


def U(verbs: str, urls: str) -> Obj:  # noqa: N802
    """A non-resource URL rule."""
    return {"verbs": _words(verbs), "nonResourceURLs": _words(urls)}


def _events() -> Obj:
    return R(EVENTS, "- events.k8s.io", "events")


# plugin/pkg/auth/authorizer/rbac/bootstrappolicy NodeRules(): what a kubelet may do (the Node authorizer
# applies them to system:node:<name> users; the system:node ClusterRole carries them too).
NODE_RULES: list[Obj] = [
    R("create", "authentication.k8s.io", "tokenreviews"),
    R("create", "authorization.k8s.io", "localsubjectaccessreviews subjectaccessreviews"),
    R(READ, "-", "services"),
    R("create get list watch", "-", "nodes"),
    R("patch update", "-", "nodes/status"),
    R("patch update", "-", "nodes"),
    R(EVENTS, "-", "events"),
    R(READ, "-", "pods"),
    R("create delete", "-", "pods"),
    R("patch update", "-", "pods/status"),
    R("create", "-", "pods/eviction"),
    R(READ, "-", "configmaps secrets"),
    R("get", "-", "persistentvolumeclaims persistentvolumes"),
    R("get", "-", "endpoints"),
    R("create get list watch", "certificates.k8s.io", "certificatesigningrequests"),
    R("create delete get patch update", "coordination.k8s.io", "leases"),
    R("get", "storage.k8s.io", "volumeattachments"),
    R("create", "-", "serviceaccounts/token"),
    R("get patch update", "-", "persistentvolumeclaims/status"),
    R(READ, "storage.k8s.io", "csidrivers"),
    R("create delete get patch update", "storage.k8s.io", "csinodes"),
    R(READ, "node.k8s.io", "runtimeclasses"),
]

_AGG_ADMIN = [
    R("create", "authorization.k8s.io", "localsubjectaccessreviews"),
    R(READ_WRITE, RBAC_GROUP, "rolebindings roles"),
]
_AGG_EDIT = [
    R(READ, "-", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"),
    R("impersonate", "-", "serviceaccounts"),
    R(WRITE, "-", "pods pods/attach pods/exec pods/portforward pods/proxy"),
    R("create", "-", "pods/eviction"),
    R(WRITE, "-", "configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale "
                  "secrets serviceaccounts services services/proxy"),
    R("create", "-", "serviceaccounts/token"),
    R(WRITE, "apps", "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale "
                     "statefulsets statefulsets/scale"),
    R(WRITE, "autoscaling", "horizontalpodautoscalers"),
    R(WRITE, "batch", "cronjobs jobs"),
    R(WRITE, "extensions", "daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies "
                           "replicasets replicasets/scale replicationcontrollers/scale"),
    R(WRITE, "policy", "poddisruptionbudgets"),
    R(WRITE, "networking.k8s.io", "ingresses networkpolicies"),
    R(READ_WRITE, "coordination.k8s.io", "leases"),
]
_AGG_VIEW = [
    R(READ, "-", "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods "
                 "replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status"),
    R(READ, "-", "bindings events limitranges namespaces/status pods/log pods/status replicationcontrollers/status "
                 "resourcequotas resourcequotas/status"),
    R(READ, "-", "namespaces"),
    R(READ, "discovery.k8s.io", "endpointslices"),
    R(READ, "apps", "controllerrevisions daemonsets daemonsets/status deployments deployments/scale "
                    "deployments/status replicasets replicasets/scale replicasets/status statefulsets "
                    "statefulsets/scale statefulsets/status"),
    R(READ, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
    R(READ, "batch", "cronjobs cronjobs/status jobs jobs/status"),
    R(READ, "extensions", "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses "
                          "ingresses/status networkpolicies replicasets replicasets/scale replicasets/status "
                          "replicationcontrollers/scale"),
    R(READ, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
    R(READ, "networking.k8s.io", "ingresses ingresses/status networkpolicies"),
]


def _aggregated(label: str) -> Obj:
    return {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}


# name -> (rules, extra labels, aggregationRule)
_CLUSTER_ROLES: dict[str, tuple[list[Obj] | None, dict[str, str], Obj | None]] = {
    "cluster-admin": ([R("*", "*", "*"), U("*", "*")], {}, None),
    "system:discovery": ([U("get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version "
                                   "/version/")], {}, None),
    "system:monitoring": ([U("get", "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz "
                                    "/readyz/*")], {}, None),
    "system:basic-user": ([R("create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"),
                           R("create", "authentication.k8s.io", "selfsubjectreviews")], {}, None),
    "system:public-info-viewer": ([U("get", "/healthz /livez /readyz /version /version/")], {}, None),
    "admin": (None, {}, _aggregated(AGGREGATE_TO_ADMIN)),
    "edit": (None, {AGGREGATE_TO_ADMIN: "true"}, _aggregated(AGGREGATE_TO_EDIT)),
    "view": (None, {AGGREGATE_TO_EDIT: "true"}, _aggregated(AGGREGATE_TO_VIEW)),
    "system:aggregate-to-admin": (_AGG_ADMIN, {AGGREGATE_TO_ADMIN: "true"}, None),
    "system:aggregate-to-edit": (_AGG_EDIT, {AGGREGATE_TO_EDIT: "true"}, None),
    "system:aggregate-to-view": (_AGG_VIEW, {AGGREGATE_TO_VIEW: "true"}, None),
    "system:auth-delegator": ([R("create", "authentication.k8s.io", "tokenreviews"),
                               R("create", "authorization.k8s.io", "subjectaccessreviews")], {}, None),
    "system:kube-controller-manager": ([
        _events(),
        R("create", "coordination.k8s.io", "leases"),
        R("get update", "coordination.k8s.io", "leases", "kube-controller-manager"),
        R("create", "-", "secrets serviceaccounts"),
        R("delete", "-", "secrets"),
        R("get", "-", "configmaps namespaces secrets serviceaccounts"),
        R("update", "-", "secrets serviceaccounts"),
        R("create", "authentication.k8s.io", "tokenreviews"),
        R("create", "authorization.k8s.io", "subjectaccessreviews"),
        R("list watch", "*", "*"),
        R("create", "-", "serviceaccounts/token"),
    ], {}, None),
    "system:kube-dns": ([R("list watch", "-", "endpoints services")], {}, None),
    "system:kube-scheduler": ([
        _events(),
        R("create", "coordination.k8s.io", "leases"),
        R("get update", "coordination.k8s.io", "leases", "kube-scheduler"),
        R(READ, "-", "nodes"),
        R("delete get list watch", "-", "pods"),
        R("create", "-", "bindings pods/binding"),
        R("patch update", "-", "pods/status"),
        R(READ, "-", "replicationcontrollers services"),
        R(READ, "apps extensions", "replicasets"),
        R(READ, "apps", "statefulsets"),
        R(READ, "policy", "poddisruptionbudgets"),
        R(READ, "-", "persistentvolumeclaims persistentvolumes"),
        R("create", "authentication.k8s.io", "tokenreviews"),
        R("create", "authorization.k8s.io", "subjectaccessreviews"),
        R(READ, "storage.k8s.io", "csinodes"),
        R(READ, "-", "namespaces"),
        R(READ, "storage.k8s.io", "csidrivers"),
        R(READ, "storage.k8s.io", "csistoragecapacities"),
    ], {}, None),
    "system:volume-scheduler": ([R("get list patch update watch", "-", "persistentvolumes"),
                                 R(READ, "storage.k8s.io", "storageclasses"),
                                 R("get list patch update watch", "-", "persistentvolumeclaims")], {}, None),
    "system:node": (NODE_RULES, {}, None),
    "system:node-proxier": ([R("list watch", "-", "endpoints services"), R(READ, "-", "nodes"), _events(),
                             R("list watch", "discovery.k8s.io", "endpointslices")], {}, None),
    "system:service-account-issuer-discovery": ([U("get", "/.well-known/openid-configuration /openid/v1/jwks")],
                                                {}, None),
    # certificates.k8s.io: CSR creation for bootstrapping kubelets, and approval per signer.
    "system:node-bootstrapper": ([R("create get list watch", "certificates.k8s.io", "certificatesigningrequests")],
                                 {}, None),
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": (
        [R("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient")], {}, None),
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": (
        [R("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient")], {}, None),
    "system:certificates.k8s.io:kube-apiserver-client-approver": (
        [R("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client")], {}, None),
    "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver": (
        [R("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet")], {}, None),
    "system:certificates.k8s.io:kubelet-serving-approver": (
        [R("approve", "certificates.k8s.io", "signers", "kubernetes.io/kubelet-serving")], {}, None),
    "system:certificates.k8s.io:legacy-unknown-approver": (
        [R("approve", "certificates.k8s.io", "signers", "kubernetes.io/legacy-unknown")], {}, None),
}

# The controllers kubeling runs (controller_policy.go); each is bound to kube-system's ServiceAccount of that name.
_CONTROLLER_ROLES: dict[str, list[Obj]] = {
    "certificate-controller": [
        R("delete get list watch", "certificates.k8s.io", "certificatesigningrequests"),
        R("update", "certificates.k8s.io", "certificatesigningrequests/approval certificatesigningrequests/status"),
        R("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet"),
        R("sign", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client "
          "kubernetes.io/kube-apiserver-client-kubelet kubernetes.io/kubelet-serving kubernetes.io/legacy-unknown"),
        R("create", "authorization.k8s.io", "subjectaccessreviews"), _events()],
    "clusterrole-aggregation-controller": [R("escalate get list patch update watch", RBAC_GROUP, "clusterroles")],
    "cronjob-controller": [
        R("get list update watch", "batch", "cronjobs"),
        R("create delete get list patch update watch", "batch", "jobs"),
        R("update", "batch", "cronjobs/status"), R("update", "batch", "cronjobs/finalizers"),
        R("delete list", "-", "pods"), _events()],
    "daemon-set-controller": [
        R(READ, "apps extensions", "daemonsets"), R("update", "apps extensions", "daemonsets/status"),
        R("update", "apps extensions", "daemonsets/finalizers"), R("list watch", "-", "nodes"),
        R("create delete list patch watch", "-", "pods"), R("create", "-", "pods/binding"),
        R("create delete get list patch update watch", "apps", "controllerrevisions"), _events()],
    "deployment-controller": [
        R("get list update watch", "apps extensions", "deployments"),
        R("update", "apps extensions", "deployments/status"), R("update", "apps extensions", "deployments/finalizers"),
        R("create delete get list patch update watch", "apps extensions", "replicasets"),
        R("get list update watch", "-", "pods"), _events()],
    "disruption-controller": [
        R(READ, "extensions apps", "deployments"), R(READ, "apps extensions", "replicasets"),
        R(READ, "-", "replicationcontrollers"), R(READ, "policy", "poddisruptionbudgets"),
        R(READ, "apps", "statefulsets"), R("update", "policy", "poddisruptionbudgets/status"),
        R("get", "*", "*/scale"), _events(), R("patch update", "-", "pods/status")],
    "endpoint-controller": [
        R(READ, "-", "pods services"), R("create delete get list update watch", "-", "endpoints"),
        R("create", "-", "endpoints/restricted"), _events()],
    "endpointslice-controller": [
        R(READ, "-", "nodes pods services"), R("update", "-", "services/finalizers"),
        R("create delete get list update watch", "discovery.k8s.io", "endpointslices"), _events()],
    "generic-garbage-collector": [R("delete get list patch update watch", "*", "*"), _events()],
    "horizontal-pod-autoscaler": [
        R("get list watch", "autoscaling", "horizontalpodautoscalers"),
        R("update", "autoscaling", "horizontalpodautoscalers/status"), R("get update", "*", "*/scale"),
        R("list", "-", "pods"), R("get", "-", "services/proxy", "https:heapster: http:heapster:"),
        R("list", "metrics.k8s.io", "pods"), R("get list", "custom.metrics.k8s.io", "*"),
        R("get list", "external.metrics.k8s.io", "*"), _events()],
    "job-controller": [
        R("get list patch update watch", "batch", "jobs"), R("update", "batch", "jobs/status"),
        R("update", "batch", "jobs/finalizers"), R("create delete list patch watch", "-", "pods"), _events()],
    "namespace-controller": [
        R("delete get list watch", "-", "namespaces"), R("update", "-", "namespaces/finalize namespaces/status"),
        R("delete deletecollection get list watch", "*", "*")],
    "node-controller": [
        R("delete get list patch update watch", "-", "nodes"), R("patch update", "-", "nodes/status"),
        R("patch update", "-", "pods/status"), R("delete get list watch", "-", "pods"), _events()],
    "persistent-volume-binder": [
        R("create delete get list update watch", "-", "persistentvolumes"),
        R("update", "-", "persistentvolumes/status"), R("get list update watch", "-", "persistentvolumeclaims"),
        R("update", "-", "persistentvolumeclaims/status"), R("create delete get list watch", "-", "pods"),
        R(READ, "storage.k8s.io", "storageclasses"), R("list watch", "-", "nodes"), _events(),
        R("watch", "-", "events")],
    "pod-garbage-collector": [R("delete list watch", "-", "pods"), R(READ, "-", "nodes"),
                              R("patch", "-", "pods/status")],
    "pv-protection-controller": [R("get list update watch", "-", "persistentvolumes"), _events()],
    "pvc-protection-controller": [
        R("get list update watch", "-", "persistentvolumeclaims"),
        R("update", "-", "persistentvolumeclaims/status"), R(READ, "-", "pods"), _events()],
    "replicaset-controller": [
        R("get list update watch", "apps extensions", "replicasets"),
        R("update", "apps extensions", "replicasets/status"), R("update", "apps extensions", "replicasets/finalizers"),
        R("create delete list patch watch", "-", "pods"), _events()],
    "replication-controller": [
        R("get list update watch", "-", "replicationcontrollers"), R("update", "-", "replicationcontrollers/status"),
        R("update", "-", "replicationcontrollers/finalizers"), R("create delete list patch watch", "-", "pods"),
        _events()],
    "resourcequota-controller": [R("list watch", "*", "*"), R("update", "-", "resourcequotas/status"), _events()],
    "root-ca-cert-publisher": [R("create update", "-", "configmaps"), _events()],
    "service-account-controller": [R("create", "-", "serviceaccounts"), _events()],
    "statefulset-controller": [
        R("list watch", "-", "pods"), R(READ, "apps", "statefulsets"), R("update", "apps", "statefulsets/status"),
        R("update", "apps", "statefulsets/finalizers"), R("create delete get patch update", "-", "pods"),
        R("create delete get list patch update watch", "apps", "controllerrevisions"),
        R("create get list watch", "-", "persistentvolumeclaims"), R("delete update", "-", "persistentvolumeclaims"),
        R("update", "-", "pods/finalizers"), _events()],
    "ttl-after-finished-controller": [R("delete get list watch", "batch", "jobs"), _events()],
}


def _subject(kind: str, name: str, namespace: str = "") -> Obj:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"kind": kind, "apiGroup": RBAC_GROUP, "name": name}


def _groups(*names: str) -> list[Obj]:
    return [_subject("Group", n) for n in names]


# binding name (= ClusterRole name) -> subjects
_CLUSTER_ROLE_BINDINGS: dict[str, list[Obj]] = {
    "cluster-admin": _groups("system:masters"),
    "system:basic-user": _groups("system:authenticated"),
    "system:discovery": _groups("system:authenticated"),
    "system:kube-controller-manager": [_subject("User", "system:kube-controller-manager")],
    "system:kube-dns": [_subject("ServiceAccount", "kube-dns", "kube-system")],
    "system:kube-scheduler": [_subject("User", "system:kube-scheduler")],
    "system:monitoring": _groups("system:monitoring"),
    "system:node": [],  # the Node authorizer grants node permissions; the binding has no subjects upstream
    "system:node-proxier": [_subject("User", "system:kube-proxy")],
    "system:public-info-viewer": _groups("system:authenticated", "system:unauthenticated"),
    "system:service-account-issuer-discovery": _groups("system:serviceaccounts"),
    "system:volume-scheduler": [_subject("User", "system:kube-scheduler")],
}


def _meta(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"name": name, "labels": {**BOOTSTRAP_LABEL, **(labels or {})}, "annotations": {AUTOUPDATE: "true"}}


def cluster_roles() -> list[Obj]:
    """Every bootstrap ClusterRole as an object to create (fresh dicts each call)."""
    out: list[Obj] = []
    for name, (rules, labels, agg) in _CLUSTER_ROLES.items():
        role: Obj = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(name, labels)}
        if agg is not None:
            role["aggregationRule"] = _copy(agg)
        role["rules"] = _copy(rules) if rules is not None else None
        out.append(role)
    for name, rules in _CONTROLLER_ROLES.items():
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
                    "metadata": _meta(f"system:controller:{name}"), "rules": _copy(rules)})
    return out


def cluster_role_bindings() -> list[Obj]:
    """Every bootstrap ClusterRoleBinding (named after the ClusterRole it grants)."""
    out: list[Obj] = []
    items = [(n, s) for n, s in _CLUSTER_ROLE_BINDINGS.items()]
    items += [(f"system:controller:{n}", [_subject("ServiceAccount", n, "kube-system")]) for n in _CONTROLLER_ROLES]
    for name, subjects in items:
        b: Obj = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
                  "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name}}
        if subjects:
            b["subjects"] = _copy(subjects)
        out.append(b)
    return out


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


# ---- reconciliation ------------------------------------------------------------------------------------------

def _merge_meta(cur: Obj, want: Obj) -> bool:
    """Add the bootstrap labels/annotations the live object lacks; True when something changed."""
    changed = False
    md = cur.setdefault("metadata", {})
    for field in ("labels", "annotations"):
        have = md.get(field) or {}
        for k, v in (want["metadata"].get(field) or {}).items():
            if k not in have:
                have[k] = v
                changed = True
        if have:
            md[field] = have
    return changed


def reconcile_role(cur: Obj, want: Obj) -> bool:
    """Upstream's reconcile of an autoupdate ClusterRole: missing rules, selectors and metadata come back."""
    changed = _merge_meta(cur, want)
    if want.get("aggregationRule") is not None:
        # Aggregated roles: only the selectors are reconciled; the aggregation controller owns the rules.
        have = (cur.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        for sel in want["aggregationRule"]["clusterRoleSelectors"]:
            if sel not in have:
                have.append(sel)
                changed = True
        cur["aggregationRule"] = {"clusterRoleSelectors": have}
        return changed
    rules = list(cur.get("rules") or [])
    for r in want.get("rules") or []:
        if r not in rules:
            rules.append(r)
            changed = True
    cur["rules"] = rules
    return changed


def reconcile_binding(cur: Obj, want: Obj) -> bool:
    changed = _merge_meta(cur, want)
    subjects = list(cur.get("subjects") or [])
    for s in want.get("subjects") or []:
        if s not in subjects:
            subjects.append(s)
            changed = True
    if subjects:
        cur["subjects"] = subjects
    return changed


async def ensure(registry: Registry) -> None:
    """Create missing bootstrap roles/bindings and reconcile the autoupdate ones (idempotent, every start)."""
    req = Request(field_manager="kube-apiserver", field_validation="Ignore")
    for qualified, objs, reconcile in (("clusterroles.rbac.authorization.k8s.io", cluster_roles(), reconcile_role),
                                       ("clusterrolebindings.rbac.authorization.k8s.io", cluster_role_bindings(),
                                        reconcile_binding)):
        rt = by_qualified(qualified)
        for want in objs:
            name = want["metadata"]["name"]
            kv = registry.store.get(rt.key(None, name))
            try:
                if kv is None:
                    await registry.create(rt, None, want, req)
                    continue
                if (kv.obj["metadata"].get("annotations") or {}).get(AUTOUPDATE) != "true":
                    continue  # an administrator took this one over ("false"): leave it alone, as upstream
                if qualified.startswith("clusterrolebindings") and kv.obj.get("roleRef") != want["roleRef"]:
                    # roleRef is immutable: upstream deletes and recreates the binding.
                    await registry.delete(rt, None, name, None, req)
                    await registry.create(rt, None, want, req)
                    continue
                cur = kv.copy()
                if reconcile(cur, want):
                    await registry.update(rt, None, name, cur, req)
            except errors.ApiError as e:
                if e.code != 409:
                    log.warning("bootstrap RBAC %s %s: %s", rt.kind, name, e.message)

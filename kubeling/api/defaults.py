"""Decode-time normalization and defaulting, as upstream v1.32 kube-apiserver applies it.

Upstream turns every request body into a typed Go struct (dropping unknown fields and nulls,
canonicalizing quantities), runs the generated defaulters, and writes the struct back out
(emitting zero-valued non-omitempty fields such as ``status.replicas: 0``). Objects here are
plain dicts, so :func:`apply_defaults` reproduces that whole round trip in place:

1. schema-driven normalization (unknown fields, nulls, empty omitempty maps/lists, quantities);
2. the ``SetDefaults_*`` functions of core/v1, apps/v1, storage/v1, discovery/v1;
3. the zero values Go's encoder always writes (``creationTimestamp: null`` in templates, ...).

Strategy-level changes that upstream makes only on create/update (status reset, generation,
namespace finalizer, DaemonSet template generation) live in :func:`prepare_for_create` and
:func:`prepare_for_update`; they call :func:`apply_defaults` themselves.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import functools
import math
import re
from fractions import Fraction
from typing import Any

from kubeling.api import errors, schema

# resource -> (group, version, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "namespaces": ("", "v1", "Namespace", False),
    "nodes": ("", "v1", "Node", False),
    "pods": ("", "v1", "Pod", True),
    "services": ("", "v1", "Service", True),
    "endpoints": ("", "v1", "Endpoints", True),
    "configmaps": ("", "v1", "ConfigMap", True),
    "secrets": ("", "v1", "Secret", True),
    "serviceaccounts": ("", "v1", "ServiceAccount", True),
    "events": ("", "v1", "Event", True),
    "persistentvolumes": ("", "v1", "PersistentVolume", False),
    "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaim", True),
    "resourcequotas": ("", "v1", "ResourceQuota", True),
    "limitranges": ("", "v1", "LimitRange", True),
    "podtemplates": ("", "v1", "PodTemplate", True),
    "replicationcontrollers": ("", "v1", "ReplicationController", True),
    "statefulsets.apps": ("apps", "v1", "StatefulSet", True),
    "daemonsets.apps": ("apps", "v1", "DaemonSet", True),
    "deployments.apps": ("apps", "v1", "Deployment", True),
    "replicasets.apps": ("apps", "v1", "ReplicaSet", True),
    "controllerrevisions.apps": ("apps", "v1", "ControllerRevision", True),
    "jobs.batch": ("batch", "v1", "Job", True),
    "cronjobs.batch": ("batch", "v1", "CronJob", True),
    "ingressclasses.networking.k8s.io": ("networking.k8s.io", "v1", "IngressClass", False),
    "ingresses.networking.k8s.io": ("networking.k8s.io", "v1", "Ingress", True),
    "networkpolicies.networking.k8s.io": ("networking.k8s.io", "v1", "NetworkPolicy", True),
    "priorityclasses.scheduling.k8s.io": ("scheduling.k8s.io", "v1", "PriorityClass", False),
    "certificatesigningrequests.certificates.k8s.io": ("certificates.k8s.io", "v1", "CertificateSigningRequest",
                                                       False),
    "runtimeclasses.node.k8s.io": ("node.k8s.io", "v1", "RuntimeClass", False),
    "csidrivers.storage.k8s.io": ("storage.k8s.io", "v1", "CSIDriver", False),
    "csinodes.storage.k8s.io": ("storage.k8s.io", "v1", "CSINode", False),
    "volumeattachments.storage.k8s.io": ("storage.k8s.io", "v1", "VolumeAttachment", False),
    "csistoragecapacities.storage.k8s.io": ("storage.k8s.io", "v1", "CSIStorageCapacity", True),
    "flowschemas.flowcontrol.apiserver.k8s.io": ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", False),
    "apiservices.apiregistration.k8s.io": ("apiregistration.k8s.io", "v1", "APIService", False),
    "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io": (
        "flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", False),
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": (
        "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", False),
    "validatingwebhookconfigurations.admissionregistration.k8s.io": (
        "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", False),
    "storageclasses.storage.k8s.io": ("storage.k8s.io", "v1", "StorageClass", False),
    "leases.coordination.k8s.io": ("coordination.k8s.io", "v1", "Lease", True),
    "endpointslices.discovery.k8s.io": ("discovery.k8s.io", "v1", "EndpointSlice", True),
    "poddisruptionbudgets.policy": ("policy", "v1", "PodDisruptionBudget", True),
    "horizontalpodautoscalers.autoscaling": ("autoscaling", "v2", "HorizontalPodAutoscaler", True),
    "events.events.k8s.io": ("events.k8s.io", "v1", "Event", True),
    "roles.rbac.authorization.k8s.io": ("rbac.authorization.k8s.io", "v1", "Role", True),
    "clusterroles.rbac.authorization.k8s.io": ("rbac.authorization.k8s.io", "v1", "ClusterRole", False),
    "rolebindings.rbac.authorization.k8s.io": ("rbac.authorization.k8s.io", "v1", "RoleBinding", True),
    "clusterrolebindings.rbac.authorization.k8s.io": ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", False),
    "tokenreviews.authentication.k8s.io": ("authentication.k8s.io", "v1", "TokenReview", False),
    "selfsubjectreviews.authentication.k8s.io": ("authentication.k8s.io", "v1", "SelfSubjectReview", False),
    "selfsubjectaccessreviews.authorization.k8s.io": ("authorization.k8s.io", "v1", "SelfSubjectAccessReview", False),
    "selfsubjectrulesreviews.authorization.k8s.io": ("authorization.k8s.io", "v1", "SelfSubjectRulesReview", False),
    "subjectaccessreviews.authorization.k8s.io": ("authorization.k8s.io", "v1", "SubjectAccessReview", False),
    "localsubjectaccessreviews.authorization.k8s.io": ("authorization.k8s.io", "v1", "LocalSubjectAccessReview",
                                                       True),
}

DS_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
WORKLOADS = ("statefulsets.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps", "replicationcontrollers",
             "jobs.batch", "cronjobs.batch", "poddisruptionbudgets.policy")


def def_name(resource: str) -> str | None:
    """OpenAPI definition name of a known resource."""
    info = RESOURCES.get(resource)
    if info is None:
        return None
    return schema.def_for_gvk(info[0], info[1], info[2])


# --------------------------------------------------------------------------------------------
# Quantities (k8s.io/apimachinery/pkg/api/resource), needed for byte-exact canonical output.
# --------------------------------------------------------------------------------------------

QUANTITY_REGEX = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QTY_RE = re.compile(r"([+-]?)0*([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_DEC_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIX.items()}
_BIN_BY_EXP = {v: k for k, v in _BIN_SUFFIX.items()}
_NANO = 10**9
_MAX_QTY = 2**63 - 1


class QuantityError(ValueError):
    """A value that upstream's Quantity decoder rejects."""


def parse_quantity(value: Any) -> tuple[Fraction, str]:
    """Parse like resource.ParseQuantity: (exact value rounded up to nano, format)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(value)
    s = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    m = _QTY_RE.fullmatch(s)
    if not s or not m:
        raise QuantityError(value)
    sign, num, denom, suffix = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    amount = Fraction(int(num or "0"))
    if denom:
        amount += Fraction(int(denom), 10 ** len(denom))
    if suffix in _DEC_SUFFIX:
        fmt, amount = "DecimalSI", amount * Fraction(10) ** _DEC_SUFFIX[suffix]
    elif suffix in _BIN_SUFFIX:
        fmt, amount = "BinarySI", amount * 2 ** _BIN_SUFFIX[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE":
        try:
            exp = int(suffix[1:])
        except ValueError as e:
            raise QuantityError(value) from e
        fmt, amount = "DecimalExponent", amount * Fraction(10) ** exp
    else:
        raise QuantityError(value)
    if fmt == "BinarySI" and 0 < amount < 1:
        fmt = "DecimalSI"
    if amount > _MAX_QTY:
        amount = Fraction(_MAX_QTY)  # upstream caps at maxInt64
    if sign == "-":
        amount = -amount
    return _round_away(amount, _NANO), fmt


def _round_away(v: Fraction, scale: int) -> Fraction:
    """inf.RoundUp: round away from zero to 1/scale."""
    scaled = v * scale
    if scaled.denominator == 1:
        return v
    n = math.ceil(scaled) if scaled > 0 else math.floor(scaled)
    return Fraction(n, scale)


def format_quantity(v: Fraction, fmt: str) -> str:
    """Quantity.String() (CanonicalizeBytes) for a parsed value."""
    if v == 0:
        return "0"
    if fmt == "BinarySI":
        if -1024 < v < 1024 or v.denominator != 1:
            fmt = "DecimalSI"
        else:
            n, exp = int(v), 0
            while abs(n) >= 1024 and n % 1024 == 0:
                n //= 1024
                exp += 10
            suffix = _BIN_BY_EXP.get(exp)
            if suffix is not None:
                return f"{n}{suffix}"
            fmt = "DecimalSI"
    # decimal: integer mantissa, exponent a multiple of 3 (rounded down), as AsCanonicalBytes
    exp = 0
    while v.denominator != 1:
        v *= 10
        exp -= 1
    num = v.numerator
    while num % 10 == 0:
        num //= 10
        exp += 1
    r = exp % 3
    num *= 10**r
    exp -= r
    if fmt == "DecimalExponent":
        return f"{num}e{exp}" if exp else str(num)
    suffix = _DEC_BY_EXP.get(exp)
    return f"{num}{suffix}" if suffix is not None else f"{num}e{exp}"


def canonical_quantity(value: Any, milli: bool = False) -> str:
    """Canonical string of a quantity; `milli` applies SetDefaults_ResourceList's RoundUp(-3)."""
    v, fmt = parse_quantity(value)
    if milli:
        v = _round_away(v, 1000)
    return format_quantity(v, fmt)


def quantity_value(value: Any) -> Fraction:
    return parse_quantity(value)[0]


# --------------------------------------------------------------------------------------------
# Schema-driven normalization: what decoding into the Go struct and encoding again does.
# --------------------------------------------------------------------------------------------

class _Shape:
    __slots__ = ("kind", "props", "required", "sub")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # struct | map | list | quantity | rlist | leaf | free
        self.props: dict[str, _Shape] = {}
        self.required: frozenset[str] = frozenset()
        self.sub: _Shape | None = None


_LEAF = _Shape("leaf")
_FREE = _Shape("free")
_QTY = _Shape("quantity")
_RLIST = _Shape("rlist")
_def_shapes: dict[str, _Shape] = {}


def _shape(node: dict[str, Any] | None) -> _Shape:
    if node is None:
        return _FREE
    ref = schema.ref_name(node)
    if ref is not None:
        return _shape_of_def(ref)
    return _compile(node)


def _shape_of_def(name: str) -> _Shape:
    sh = _def_shapes.get(name)
    if sh is not None:
        return sh
    if name == schema.QUANTITY:
        return _QTY
    node = schema.definitions().get(name)
    if node is None:
        return _FREE
    sh = _Shape("struct")
    _def_shapes[name] = sh  # placeholder first: definitions may be recursive
    compiled = _compile(node)
    sh.kind, sh.props, sh.required, sh.sub = compiled.kind, compiled.props, compiled.required, compiled.sub
    return sh


def _compile(node: dict[str, Any]) -> _Shape:
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return _FREE
    props = node.get("properties")
    if props is not None:
        sh = _Shape("struct")
        sh.required = frozenset(node.get("required", ()))
        for k, v in props.items():
            sh.props[k] = _LazyShape(v)  # type: ignore[assignment]
        return sh
    ap = node.get("additionalProperties")
    if isinstance(ap, dict):
        if schema.ref_name(ap) == schema.QUANTITY:
            return _RLIST
        sh = _Shape("map")
        sh.sub = _LazyShape(ap)  # type: ignore[assignment]
        return sh
    if node.get("type") == "array":
        sh = _Shape("list")
        sh.sub = _LazyShape(node.get("items"))  # type: ignore[assignment]
        return sh
    if node.get("type") == "object" or "type" not in node:
        return _FREE
    return _LEAF


class _LazyShape:
    """Defers compiling a property until an object actually uses it."""

    __slots__ = ("node", "resolved")

    def __init__(self, node: dict[str, Any] | None) -> None:
        self.node = node
        self.resolved: _Shape | None = None

    def get(self) -> _Shape:
        if self.resolved is None:
            self.resolved = _shape(self.node)
        return self.resolved


def _sub(sh: Any) -> _Shape:
    return sh.get() if isinstance(sh, _LazyShape) else sh


@functools.cache
def shape_for(def_name_: str) -> _Shape:
    return _shape_of_def(def_name_)


def _resolved(sh: Any) -> _Shape:
    """The shape itself; a lazy one is compiled on first use (callers store the result back)."""
    return sh.get() if sh.__class__ is _LazyShape else sh


def _normalize(sh: _Shape, value: Any, path: str = "", old: Any = None) -> Any:
    """Runs on every write over the whole object, so it is kept lean: resolved lazy shapes replace
    themselves in their parent, the path of a bad quantity is only assembled when one is found, and
    a subtree equal to the same subtree of `old` (the stored, already normalized version, when the
    caller has one) is left alone, as normalizing it again would change nothing."""
    kind = sh.kind
    if kind == "struct":
        if not isinstance(value, dict):
            return value
        props = sh.props
        required = sh.required
        if old.__class__ is not dict:
            old = None
        for k in list(value):
            v = value[k]
            p = props.get(k)
            if p is None or v is None:
                del value[k]
                continue
            if p.__class__ is _LazyShape:
                p = props[k] = p.get()
            pk = p.kind
            if pk == "leaf" or pk == "free":
                continue
            ov = old.get(k) if old is not None else None
            if ov is not None and (ov is v or ov == v) and pk != "quantity":
                continue
            try:
                nv = _normalize(p, v, "", ov)
            except _BadQuantity as e:
                e.prepend(k, True)
                raise
            if (not nv and (pk == "map" or pk == "list" or pk == "rlist") and isinstance(nv, (dict, list))
                    and k not in required):
                del value[k]
            elif nv is not v:
                value[k] = nv
        return value
    if kind == "list":
        if isinstance(value, list):
            sub = sh.sub
            if sub.__class__ is _LazyShape:
                sub = sh.sub = sub.get()
            if sub.kind not in ("leaf", "free"):
                for i, item in enumerate(value):
                    if item is not None:
                        try:
                            nv = _normalize(sub, item)
                        except _BadQuantity as e:
                            e.prepend(f"[{i}]", False)
                            raise
                        if nv is not item:
                            value[i] = nv
        return value
    if kind == "map":
        if isinstance(value, dict):
            sub = sh.sub
            if sub.__class__ is _LazyShape:
                sub = sh.sub = sub.get()
            if sub.kind not in ("leaf", "free"):
                for k, item in value.items():
                    if item is not None:
                        try:
                            nv = _normalize(sub, item)
                        except _BadQuantity as e:
                            e.prepend(k, True)
                            raise
                        if nv is not item:
                            value[k] = nv
        return value
    if kind == "rlist":
        if isinstance(value, dict):
            for k, item in value.items():
                value[k] = _canon(item, True, k)
        return value
    if kind == "quantity":
        return _canon(value, False, path)
    return value


class _BadQuantity(Exception):
    """args[0] is the field path, assembled leaf first as the exception unwinds."""

    def prepend(self, seg: str, dotted: bool = True) -> None:
        rest = self.args[0] if self.args else ""
        self.args = (seg if not rest else seg + rest if rest.startswith("[") else f"{seg}.{rest}",)


def _canon(value: Any, milli: bool, path: str) -> Any:
    if value is None:
        return value
    try:
        return canonical_quantity(value, milli)
    except QuantityError as e:
        raise _BadQuantity(path) from e


def normalize(resource: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Drop what Go's decoder drops and canonicalize quantities (raises ApiError 400). `old`, the
    stored version when there is one, only saves work: subtrees equal to it are skipped."""
    dn = def_name(resource)
    if dn is None:
        return
    try:
        _normalize(shape_for(dn), obj, "", old)
    except _BadQuantity as e:
        _, version, kind, _ = RESOURCES[resource]
        gv = version if not RESOURCES[resource][0] else f"{RESOURCES[resource][0]}/{version}"
        raise errors.bad_request(
            f'{kind} in version "{gv}" cannot be handled as a {kind}: quantities must match the regular '
            f"expression '{QUANTITY_REGEX}'") from e


# --------------------------------------------------------------------------------------------
# Defaulting
# --------------------------------------------------------------------------------------------

_REF_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?\Z")


def image_tag(image: str) -> str:
    """Tag as parsers.ParseImageName sees it: "latest" when untagged, "" when unparsable."""
    m = _REF_RE.match(image or "")
    if m is None or len(image) > 255:
        return ""
    tag = m.group("tag") or ""
    if not tag and not m.group("digest"):
        return "latest"
    return tag


def pull_policy_for(image: str) -> str:
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _d(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """parent[key] as a dict, creating it (Go structs always exist)."""
    v = parent.get(key)
    if not isinstance(v, dict):
        v = {}
        parent[key] = v
    return v


def _dicts(v: Any) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _default_probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not p.get(k):
            p[k] = v
    _default_http_get(p.get("httpGet"))


def _default_http_get(h: Any) -> None:
    if isinstance(h, dict):
        if not h.get("path"):
            h["path"] = "/"
        if not h.get("scheme"):
            h["scheme"] = "HTTP"


def _default_field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _default_container(c: dict[str, Any]) -> None:
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = pull_policy_for(c.get("image") or "")
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for port in _dicts(c.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in _dicts(c.get("env")):
        vf = env.get("valueFrom")
        if isinstance(vf, dict):
            _default_field_ref(vf.get("fieldRef"))
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(k))
    lc = c.get("lifecycle")
    if isinstance(lc, dict):
        for k in ("postStart", "preStop"):
            if isinstance(lc.get(k), dict):
                _default_http_get(lc[k].get("httpGet"))


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI",
    "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image")


def _default_volume_source(v: dict[str, Any]) -> None:
    """Defaults shared by pod volumes and PV sources (hostPath, iscsi, rbd, azureDisk, scaleIO)."""
    if isinstance(v.get("hostPath"), dict) and "type" not in v["hostPath"]:
        v["hostPath"]["type"] = ""
    iscsi = v.get("iscsi")
    if isinstance(iscsi, dict) and not iscsi.get("iscsiInterface"):
        iscsi["iscsiInterface"] = "default"
    rbd = v.get("rbd")
    if isinstance(rbd, dict):
        for k, d in (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")):
            if not rbd.get(k):
                rbd[k] = d
    az = v.get("azureDisk")
    if isinstance(az, dict):
        for k, d in (("cachingMode", "ReadWrite"), ("fsType", "ext4"), ("readOnly", False), ("kind", "Shared")):
            if az.get(k) is None:
                az[k] = d
    sio = v.get("scaleIO")
    if isinstance(sio, dict):
        if not sio.get("storageMode"):
            sio["storageMode"] = "ThinProvisioned"
        if not sio.get("fsType"):
            sio["fsType"] = "xfs"


def _default_volume(v: dict[str, Any]) -> None:
    if not any(isinstance(v.get(k), dict) for k in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    _default_volume_source(v)
    for k in ("secret", "configMap", "downwardAPI", "projected"):
        src = v.get(k)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = 420
    dapi = v.get("downwardAPI")
    if isinstance(dapi, dict):
        for item in _dicts(dapi.get("items")):
            _default_field_ref(item.get("fieldRef"))
    proj = v.get("projected")
    if isinstance(proj, dict):
        for src in _dicts(proj.get("sources")):
            if isinstance(src.get("downwardAPI"), dict):
                for item in _dicts(src["downwardAPI"].get("items")):
                    _default_field_ref(item.get("fieldRef"))
            sat = src.get("serviceAccountToken")
            if isinstance(sat, dict) and sat.get("expirationSeconds") is None:
                sat["expirationSeconds"] = 3600
    eph = v.get("ephemeral")
    if isinstance(eph, dict) and isinstance(eph.get("volumeClaimTemplate"), dict):
        tpl = eph["volumeClaimTemplate"]
        _embedded_meta(tpl)
        _default_pvc_spec(_d(tpl, "spec"))


def _embedded_meta(holder: dict[str, Any]) -> None:
    """Embedded ObjectMeta is a struct: v1.32 always encodes its zero creationTimestamp as null."""
    meta = _d(holder, "metadata")
    if meta.get("creationTimestamp") is None:
        meta["creationTimestamp"] = None


def _default_pod_spec(spec: dict[str, Any], *, is_pod: bool) -> None:
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for v in _dicts(spec.get("volumes")):
        _default_volume(v)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _dicts(spec.get(key)):
            _default_container(c)
    if "containers" not in spec:
        spec["containers"] = None  # non-omitempty slice
    if is_pod:
        for key in ("containers", "initContainers"):
            for c in _dicts(spec.get(key)):
                res = c["resources"]
                limits = res.get("limits")
                if isinstance(limits, dict) and limits:
                    req = res.setdefault("requests", {})
                    for k, q in limits.items():
                        req.setdefault(k, q)
        if spec.get("enableServiceLinks") is None:
            spec["enableServiceLinks"] = True
        if spec.get("hostNetwork"):
            for key in ("containers", "initContainers"):
                for c in _dicts(spec.get(key)):
                    for port in _dicts(c.get("ports")):
                        if not port.get("hostPort"):
                            port["hostPort"] = port.get("containerPort", 0)


def _default_pod_template(parent: dict[str, Any]) -> None:
    tpl = _d(parent, "template")
    _embedded_meta(tpl)
    _default_pod_spec(_d(tpl, "spec"), is_pod=False)


def _default_pvc_spec(spec: dict[str, Any]) -> None:
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    if not isinstance(spec.get("resources"), dict):
        spec["resources"] = {}


def _time_nulls(conds: Any, *keys: str) -> None:
    """metav1.Time is a struct: an unset time inside a condition encodes as null."""
    for c in _dicts(conds):
        for k in keys:
            if k not in c:
                c[k] = None


def _zero_fields(d: dict[str, Any], **fields: Any) -> None:
    for k, v in fields.items():
        if d.get(k) is None:
            d[k] = v


def _d_pod(obj: dict[str, Any]) -> None:
    _default_pod_spec(_d(obj, "spec"), is_pod=True)
    st = _d(obj, "status")
    _time_nulls(st.get("conditions"), "lastProbeTime", "lastTransitionTime")
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for cs in _dicts(st.get(key)):
            _zero_fields(cs, name="", ready=False, restartCount=0, image="", imageID="")
            for sk in ("state", "lastState"):
                state = _d(cs, sk)
                if isinstance(state.get("running"), dict):
                    _zero_fields(state["running"], startedAt=None)
                if isinstance(state.get("terminated"), dict):
                    _zero_fields(state["terminated"], exitCode=0, startedAt=None, finishedAt=None)


def _d_service(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        cip = cfg.get("clientIP") if isinstance(cfg, dict) else None
        if not isinstance(cip, dict) or cip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    stype = spec["type"]
    for p in _dicts(spec.get("ports")):
        if not p.get("protocol"):
            p["protocol"] = "TCP"
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port", 0)
    externally = stype in ("LoadBalancer", "NodePort") or (stype == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    st = _d(obj, "status")
    lb = _d(st, "loadBalancer")
    if stype == "LoadBalancer":
        for ing in _dicts(lb.get("ingress")):
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"
    _service_ip_fields(spec)


def _service_ip_fields(spec: dict[str, Any]) -> None:
    """The registry's normalizeClusterIPs + initIPFamilyFields for a single-stack IPv4 cluster.

    Allocation of the IP itself happens elsewhere; whoever allocates must set both clusterIP and
    clusterIPs[0].
    """
    if spec.get("type") == "ExternalName":
        return
    cip = spec.get("clusterIP")
    if cip and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [cip]
    elif not cip and spec.get("clusterIPs") and isinstance(spec["clusterIPs"], list):
        pass  # validation reports the mismatch, as upstream
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    fams = spec.get("ipFamilies")
    if not isinstance(fams, list):
        fams = []
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if ip == "None":
            break
        if i >= len(fams) and isinstance(ip, str):
            fam = "IPv6" if ":" in ip else "IPv4"
            if fam == "IPv6":
                break  # not configured on this cluster: validation reports it
            fams.append(fam)
    if headless_selectorless:
        if not fams:
            fams = ["IPv4"]
        if len(fams) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
            fams.append("IPv6" if fams[0] == "IPv4" else "IPv4")
    elif not fams:
        fams = ["IPv4"]
    spec["ipFamilies"] = fams


def _d_statefulset(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    us = _d(spec, "updateStrategy")
    if not us.get("type"):
        us["type"] = "RollingUpdate"
        if not isinstance(us.get("rollingUpdate"), dict):
            us["rollingUpdate"] = {}
    ru = us.get("rollingUpdate")
    if us["type"] == "RollingUpdate" and isinstance(ru, dict) and ru.get("partition") is None:
        ru["partition"] = 0
    pol = _d(spec, "persistentVolumeClaimRetentionPolicy")
    if not pol.get("whenDeleted"):
        pol["whenDeleted"] = "Retain"
    if not pol.get("whenScaled"):
        pol["whenScaled"] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("serviceName") is None:
        spec["serviceName"] = ""  # non-omitempty string in v1.32
    _default_pod_template(spec)
    for vct in _dicts(spec.get("volumeClaimTemplates")):
        # Convert_apps_StatefulSetSpec_To_v1_StatefulSetSpec sets TypeMeta on the templates
        vct["apiVersion"] = "v1"
        vct["kind"] = "PersistentVolumeClaim"
        _embedded_meta(vct)
        _default_pvc_spec(_d(vct, "spec"))
        st = _d(vct, "status")
        if not st.get("phase"):
            st["phase"] = "Pending"
    st = _d(obj, "status")
    _zero_fields(st, replicas=0, availableReplicas=0)
    _time_nulls(st.get("conditions"), "lastTransitionTime")


def _d_daemonset(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    us = _d(spec, "updateStrategy")
    if not us.get("type"):
        us["type"] = "RollingUpdate"
    if us["type"] == "RollingUpdate":
        ru = _d(us, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_pod_template(spec)
    # v1 conversion always writes the internal TemplateGeneration back as this annotation. Stored
    # objects always carry it, so it is only missing on create, where PrepareForCreate makes it 1.
    ann = _d(_d(obj, "metadata"), "annotations")
    if ann.get(DS_TEMPLATE_GENERATION) is None:
        ann[DS_TEMPLATE_GENERATION] = "1"
    st = _d(obj, "status")
    _zero_fields(st, currentNumberScheduled=0, numberMisscheduled=0, desiredNumberScheduled=0, numberReady=0)
    _time_nulls(st.get("conditions"), "lastTransitionTime")


def _d_deployment(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strat = _d(spec, "strategy")
    if not strat.get("type"):
        strat["type"] = "RollingUpdate"
    if strat["type"] == "RollingUpdate":
        ru = _d(strat, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_pod_template(spec)
    st = _d(obj, "status")
    _time_nulls(st.get("conditions"), "lastUpdateTime", "lastTransitionTime")


def _d_replicaset(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_pod_template(spec)
    st = _d(obj, "status")
    _zero_fields(st, replicas=0)
    _time_nulls(st.get("conditions"), "lastTransitionTime")


def _d_replicationcontroller(obj: dict[str, Any]) -> None:
    """core/v1 SetDefaults_ReplicationController: an empty selector and empty labels come from the
    template's labels, replicas defaults to 1; the template (a pointer in v1) is defaulted when present."""
    spec = _d(obj, "spec")
    tpl = spec.get("template")
    if isinstance(tpl, dict):
        labels = (tpl.get("metadata") or {}).get("labels")
        if isinstance(labels, dict) and labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = _d(obj, "metadata")
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        _default_pod_template(spec)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    st = _d(obj, "status")
    _zero_fields(st, replicas=0)
    _time_nulls(st.get("conditions"), "lastTransitionTime")


def _default_pod_failure_policy(spec: dict[str, Any]) -> None:
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in _dicts(pfp.get("rules")):
            for pat in _dicts(rule.get("onPodConditions")):
                if not pat.get("status"):
                    pat["status"] = "True"


def _d_job(obj: dict[str, Any]) -> None:
    """batch/v1 SetDefaults_Job (v1.32 gates: JobPodReplacementPolicy and JobBackoffLimitPerIndex on)."""
    spec = _d(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    tpl_labels = _d(spec, "template").get("metadata", {}).get("labels")
    meta = _d(obj, "metadata")
    if tpl_labels is not None and not meta.get("labels"):
        meta["labels"] = dict(tpl_labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    _default_pod_failure_policy(spec)
    _default_pod_template(spec)
    st = _d(obj, "status")
    _time_nulls(st.get("conditions"), "lastProbeTime", "lastTransitionTime")


def _d_cronjob(obj: dict[str, Any]) -> None:
    """batch/v1 SetDefaults_CronJob; the job template gets only pod-template defaults, as upstream."""
    spec = _d(obj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    _zero_fields(spec, schedule="")
    jt = _d(spec, "jobTemplate")
    _embedded_meta(jt)
    jspec = _d(jt, "spec")
    _default_pod_failure_policy(jspec)
    _default_pod_template(jspec)
    _d(obj, "status")


JOB_CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")


def _generate_job_selector(obj: dict[str, Any]) -> None:
    """job strategy generateSelector: label the template with the job's name and uid, select the uid."""
    spec = _d(obj, "spec")
    if spec.get("manualSelector"):
        return
    meta = obj["metadata"]
    tpl_meta = _d(_d(spec, "template"), "metadata")
    labels = tpl_meta.get("labels")
    if not isinstance(labels, dict):
        labels = tpl_meta["labels"] = {}
    for k in JOB_NAME_LABELS:
        labels.setdefault(k, meta.get("name", ""))
    for k in JOB_CONTROLLER_UID_LABELS:
        labels.setdefault(k, meta.get("uid", ""))
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault(JOB_CONTROLLER_UID_LABELS[1], meta.get("uid", ""))


def _d_pv(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    st = _d(obj, "status")
    if not st.get("phase"):
        st["phase"] = "Pending"
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    _default_volume_source(spec)


def _d_pvc(obj: dict[str, Any]) -> None:
    _default_pvc_spec(_d(obj, "spec"))
    st = _d(obj, "status")
    if not st.get("phase"):
        st["phase"] = "Pending"
    _time_nulls(st.get("conditions"), "lastProbeTime", "lastTransitionTime")


def _d_namespace(obj: dict[str, Any]) -> None:
    meta = _d(obj, "metadata")
    if meta.get("name"):
        _d(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
    _d(obj, "spec")
    st = _d(obj, "status")
    if not st.get("phase"):
        st["phase"] = "Active"
    _time_nulls(st.get("conditions"), "lastTransitionTime")


def _d_secret(obj: dict[str, Any]) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"
    _bytes_map(obj, "data", "Secret")
    sd = obj.pop("stringData", None)
    if isinstance(sd, dict) and sd:
        data = obj.setdefault("data", {})
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v if v is not None else "").encode()).decode()


def _d_limitrange(obj: dict[str, Any]) -> None:
    """SetDefaults_LimitRangeItem: a Container item's default limit falls back to max, its default
    request to the default limit, then to min."""
    for item in _d(obj, "spec").get("limits") or ():
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        dflt, dreq = _d(item, "default"), _d(item, "defaultRequest")
        for k, v in (item.get("max") or {}).items():
            dflt.setdefault(k, v)
        for k, v in dflt.items():
            dreq.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            dreq.setdefault(k, v)
        for key in ("default", "defaultRequest"):  # omitempty: empty maps are not written
            if not item[key]:
                del item[key]


def _d_configmap(obj: dict[str, Any]) -> None:
    _bytes_map(obj, "binaryData", "ConfigMap")


def _bytes_map(obj: dict[str, Any], key: str, kind: str) -> None:
    """map[string][]byte: base64 is decoded and re-encoded canonically (400 on bad input)."""
    m = obj.get(key)
    if not isinstance(m, dict):
        return
    for k, v in m.items():
        if v is None:
            m[k] = ""
            continue
        if not isinstance(v, str):
            continue
        s = v.replace("\r", "").replace("\n", "")
        try:
            m[k] = base64.b64encode(base64.b64decode(s, validate=True)).decode()
        except (binascii.Error, ValueError) as e:
            raise errors.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data at input byte '
                f"{_bad_b64_offset(s)}") from e


def _bad_b64_offset(s: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    for i, ch in enumerate(s):
        if ch not in alphabet:
            return i
    return len(s) - len(s) % 4


def _d_node(obj: dict[str, Any]) -> None:
    _d(obj, "spec")
    st = _d(obj, "status")
    if st.get("allocatable") is None and isinstance(st.get("capacity"), dict):
        st["allocatable"] = dict(st["capacity"])
    de = _d(st, "daemonEndpoints")
    _zero_fields(_d(de, "kubeletEndpoint"), Port=0)
    _zero_fields(_d(st, "nodeInfo"), machineID="", systemUUID="", bootID="", kernelVersion="", osImage="",
                 containerRuntimeVersion="", kubeletVersion="", kubeProxyVersion="", operatingSystem="",
                 architecture="")
    _time_nulls(st.get("conditions"), "lastHeartbeatTime", "lastTransitionTime")


def _d_endpoints(obj: dict[str, Any]) -> None:
    for ss in _dicts(obj.get("subsets")):
        for p in _dicts(ss.get("ports")):
            if not p.get("protocol"):
                p["protocol"] = "TCP"


def _d_endpointslice(obj: dict[str, Any]) -> None:
    for p in _dicts(obj.get("ports")):
        if p.get("name") is None:
            p["name"] = ""
        if p.get("protocol") is None:
            p["protocol"] = "TCP"
    for ep in _dicts(obj.get("endpoints")):
        _d(ep, "conditions")
    for k in ("endpoints", "ports"):
        if k not in obj:
            obj[k] = None  # non-omitempty slices


def _d_event(obj: dict[str, Any]) -> None:
    _d(obj, "involvedObject")
    _d(obj, "source")
    _zero_fields(obj, reportingComponent="", reportingInstance="")
    for k in ("firstTimestamp", "lastTimestamp", "eventTime"):
        if k not in obj:
            obj[k] = None


def _d_events_v1(obj: dict[str, Any]) -> None:
    _d(obj, "regarding")
    _d(obj, "deprecatedSource")
    for k in ("eventTime", "deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        if k not in obj:
            obj[k] = None


def _d_storageclass(obj: dict[str, Any]) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"
    _zero_fields(obj, provisioner="")


def _d_csidriver(obj: dict[str, Any]) -> None:
    """SetDefaults_CSIDriver (SELinuxMountReadWriteOncePod is on by default in v1.32)."""
    spec = _d(obj, "spec")
    for f, v in (("attachRequired", True), ("podInfoOnMount", False), ("storageCapacity", False),
                 ("fsGroupPolicy", "ReadWriteOnceWithFSType"), ("requiresRepublish", False), ("seLinuxMount", False)):
        if spec.get(f) is None:
            spec[f] = v
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def _d_flowschema(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = 1000


def _d_prioritylevel(obj: dict[str, Any]) -> None:
    """flowcontrol/v1 defaults: shares 30 (limited) or 0 (exempt), lendable 0, queuing 64/8/50."""
    spec = _d(obj, "spec")
    exempt = spec.get("exempt")
    if isinstance(exempt, dict):
        exempt.setdefault("nominalConcurrencyShares", 0)
        exempt.setdefault("lendablePercent", 0)
    limited = spec.get("limited")
    if isinstance(limited, dict):
        if limited.get("nominalConcurrencyShares") is None:
            limited["nominalConcurrencyShares"] = 30
        if limited.get("lendablePercent") is None:
            limited["lendablePercent"] = 0
        q = (limited.get("limitResponse") or {}).get("queuing")
        if isinstance(q, dict):
            for f, v in (("queues", 64), ("handSize", 8), ("queueLengthLimit", 50)):
                if not q.get(f):
                    q[f] = v


def _d_lease(obj: dict[str, Any]) -> None:
    _d(obj, "spec")


def _d_pdb(obj: dict[str, Any]) -> None:
    """policy/v1 has no defaulters; the status counters and condition fields have no omitempty."""
    _d(obj, "spec")
    st = _d(obj, "status")
    _zero_fields(st, disruptionsAllowed=0, currentHealthy=0, desiredHealthy=0, expectedPods=0)
    for c in _dicts(st.get("conditions")):
        _zero_fields(c, type="", status="", reason="", message="")
        c.setdefault("lastTransitionTime", None)


HPA_SCALE_UP_DEFAULT = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                     {"type": "Percent", "value": 100, "periodSeconds": 15}]}
HPA_SCALE_DOWN_DEFAULT = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                          "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def hpa_scaling_rules(rules: Any, dflt: dict[str, Any]) -> dict[str, Any]:
    """GenerateHPAScaleUpRules / GenerateHPAScaleDownRules: the fields a rule leaves out, defaulted."""
    out = dict(rules) if isinstance(rules, dict) else {}
    for k, v in dflt.items():
        if out.get(k) is None:
            out[k] = _deepcopy(v)
    return out


def _d_hpa(obj: dict[str, Any]) -> None:
    """autoscaling/v2 defaults.go: minReplicas 1, an 80% cpu metric when none, behavior rules filled in."""
    spec = _d(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    b = spec.get("behavior")
    if isinstance(b, dict):
        b["scaleUp"] = hpa_scaling_rules(b.get("scaleUp"), HPA_SCALE_UP_DEFAULT)
        b["scaleDown"] = hpa_scaling_rules(b.get("scaleDown"), HPA_SCALE_DOWN_DEFAULT)
    _zero_fields(_d(spec, "scaleTargetRef"), kind="", name="")
    _zero_fields(spec, maxReplicas=0)
    st = _d(obj, "status")
    _zero_fields(st, desiredReplicas=0)
    for c in _dicts(st.get("conditions")):
        _zero_fields(c, type="", status="")


def _d_controllerrevision(obj: dict[str, Any]) -> None:
    _zero_fields(obj, revision=0)
    if "data" not in obj:
        obj["data"] = None


# networking.k8s.io/v1 and scheduling.k8s.io/v1 (pkg/apis/networking/v1, pkg/apis/scheduling/v1 defaults.go).
# Struct-valued fields without omitempty effect (spec, status.loadBalancer, service.port, podSelector)
# are always encoded, so they are filled in here too.

def _ingress_backend(b: Any) -> None:
    if isinstance(b, dict) and isinstance(b.get("service"), dict):
        svc = b["service"]
        svc.setdefault("name", "")
        _d(svc, "port")


def _d_ingress(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _ingress_backend(spec.get("defaultBackend"))
    for rule in _dicts(spec.get("rules")):
        http = rule.get("http")
        if isinstance(http, dict):
            if "paths" not in http:
                http["paths"] = None
            for p in _dicts(http.get("paths")):
                _ingress_backend(_d(p, "backend"))
    _d(_d(obj, "status"), "loadBalancer")


def _d_ingressclass(obj: dict[str, Any]) -> None:
    params = _d(obj, "spec").get("parameters")
    if isinstance(params, dict):
        params.setdefault("kind", "")
        params.setdefault("name", "")
        if params.get("scope") is None:
            params["scope"] = "Cluster"


def _d_networkpolicy(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _d(spec, "podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for rule in _dicts(spec.get(direction)):
            for port in _dicts(rule.get("ports")):
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"
            for peer in _dicts(rule.get(peers)):
                if isinstance(peer.get("ipBlock"), dict):
                    peer["ipBlock"].setdefault("cidr", "")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _d_priorityclass(obj: dict[str, Any]) -> None:
    _zero_fields(obj, value=0)
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"


def _d_webhook_configuration(obj: dict[str, Any]) -> None:
    """admissionregistration/v1 SetDefaults_{Mutating,Validating}Webhook, _Rule and _ServiceReference."""
    mutating = obj.get("kind") == "MutatingWebhookConfiguration"
    for hook in _dicts(obj.get("webhooks")):
        for k, v in (("failurePolicy", "Fail"), ("matchPolicy", "Equivalent"), ("timeoutSeconds", 10)):
            if hook.get(k) is None:
                hook[k] = v
        for k in ("namespaceSelector", "objectSelector"):
            if hook.get(k) is None:
                hook[k] = {}
        if mutating and hook.get("reinvocationPolicy") is None:
            hook["reinvocationPolicy"] = "Never"
        for rule in _dicts(hook.get("rules")):
            if rule.get("scope") is None:
                rule["scope"] = "*"
        svc = (hook.get("clientConfig") or {}).get("service")
        if isinstance(svc, dict) and svc.get("port") is None:
            svc["port"] = 443


WEBHOOK_CONFIGURATIONS = ("mutatingwebhookconfigurations.admissionregistration.k8s.io",
                          "validatingwebhookconfigurations.admissionregistration.k8s.io")


_NETWORKING_GENERATION = ("ingresses.networking.k8s.io", "ingressclasses.networking.k8s.io",
                          "networkpolicies.networking.k8s.io")


def _d_rbac_role(obj: dict[str, Any]) -> None:
    """Role/ClusterRole: `rules` has no omitempty, so an empty role reads back `rules: null`."""
    if "rules" not in obj:
        obj["rules"] = None
    for r in obj["rules"] or ():
        if isinstance(r, dict) and "verbs" not in r:
            r["verbs"] = None


def _d_rbac_binding(obj: dict[str, Any]) -> None:
    """rbac/v1 SetDefaults_RoleBinding / SetDefaults_Subject: the RBAC group for roleRef, User and Group."""
    ref = _d(obj, "roleRef")
    for k in ("apiGroup", "kind", "name"):
        ref.setdefault(k, "")
    if not ref["apiGroup"]:
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for s in _dicts(obj.get("subjects")):
        s.setdefault("kind", "")
        s.setdefault("name", "")
        if not s.get("apiGroup") and s["kind"] in ("User", "Group"):
            s["apiGroup"] = "rbac.authorization.k8s.io"


_DEFAULTERS = {
    "roles.rbac.authorization.k8s.io": _d_rbac_role,
    "clusterroles.rbac.authorization.k8s.io": _d_rbac_role,
    "rolebindings.rbac.authorization.k8s.io": _d_rbac_binding,
    "clusterrolebindings.rbac.authorization.k8s.io": _d_rbac_binding,
    "pods": _d_pod,
    "services": _d_service,
    "statefulsets.apps": _d_statefulset,
    "daemonsets.apps": _d_daemonset,
    "deployments.apps": _d_deployment,
    "replicasets.apps": _d_replicaset,
    "replicationcontrollers": _d_replicationcontroller,
    "podtemplates": _default_pod_template,
    "persistentvolumes": _d_pv,
    "persistentvolumeclaims": _d_pvc,
    "namespaces": _d_namespace,
    "secrets": _d_secret,
    "configmaps": _d_configmap,
    "nodes": _d_node,
    "endpoints": _d_endpoints,
    "endpointslices.discovery.k8s.io": _d_endpointslice,
    "events": _d_event,
    "events.events.k8s.io": _d_events_v1,
    "storageclasses.storage.k8s.io": _d_storageclass,
    "csidrivers.storage.k8s.io": _d_csidriver,
    "flowschemas.flowcontrol.apiserver.k8s.io": _d_flowschema,
    "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io": _d_prioritylevel,
    "leases.coordination.k8s.io": _d_lease,
    "poddisruptionbudgets.policy": _d_pdb,
    "horizontalpodautoscalers.autoscaling": _d_hpa,
    "ingresses.networking.k8s.io": _d_ingress,
    "ingressclasses.networking.k8s.io": _d_ingressclass,
    "networkpolicies.networking.k8s.io": _d_networkpolicy,
    "priorityclasses.scheduling.k8s.io": _d_priorityclass,
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": _d_webhook_configuration,
    "validatingwebhookconfigurations.admissionregistration.k8s.io": _d_webhook_configuration,
    "controllerrevisions.apps": _d_controllerrevision,
    "jobs.batch": _d_job,
    "cronjobs.batch": _d_cronjob,
    "limitranges": _d_limitrange,
}


def apply_defaults(resource: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Mutate `obj` into what upstream returns after decoding it; idempotent.

    Raises ApiError(400) for bodies upstream cannot decode (bad quantities, bad base64). `old` (the
    stored version on updates) is only a hint that spares normalizing unchanged subtrees.
    """
    normalize(resource, obj, old)
    fn = _DEFAULTERS.get(resource)
    if fn is not None:
        fn(obj)


# --------------------------------------------------------------------------------------------
# Strategy hooks (PrepareForCreate / PrepareForUpdate of the upstream registries)
# --------------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare_for_create(resource: str, obj: dict[str, Any], now: str | None = None) -> None:
    """Create-time strategy: reset status, set generation/finalizers, then apply_defaults.

    Covers rest.BeforeCreate's metadata clean-up and each registry's PrepareForCreate. The caller
    still fills name (generateName), uid, creationTimestamp and resourceVersion.
    """
    apply_defaults(resource, obj)
    meta = _d(obj, "metadata")
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    if resource == "namespaces":
        obj["status"] = {"phase": "Active"}
        fins = _d(obj, "spec").get("finalizers")
        fins = list(fins) if isinstance(fins, list) else []
        if "kubernetes" not in fins:
            fins.append("kubernetes")
        obj["spec"]["finalizers"] = fins
    elif resource == "pods":
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos(obj)}
        if _d(obj, "spec").get("schedulingGates"):
            obj["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                            "lastProbeTime": None, "lastTransitionTime": None,
                                            "reason": "SchedulingGated",
                                            "message": "Scheduling is blocked due to non-empty scheduling gates"}]
    elif resource in WORKLOADS:
        obj["status"] = {}
        meta["generation"] = 1
        if resource == "daemonsets.apps":
            _d(meta, "annotations")[DS_TEMPLATE_GENERATION] = "1"
        elif resource == "jobs.batch":
            _generate_job_selector(obj)
    elif resource in ("services", "persistentvolumeclaims", "resourcequotas", "horizontalpodautoscalers.autoscaling"):
        obj["status"] = {}
    elif resource == "persistentvolumes":
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": now or _now()}
    elif resource == "endpointslices.discovery.k8s.io":
        meta["generation"] = 1
    elif resource in _NETWORKING_GENERATION or resource in WEBHOOK_CONFIGURATIONS or (
            resource == "priorityclasses.scheduling.k8s.io"):
        if resource == "ingresses.networking.k8s.io":
            obj["status"] = {}
        meta["generation"] = 1
    apply_defaults(resource, obj)


_STATUS_KINDS = ("pods", "services", "persistentvolumeclaims", "persistentvolumes", "namespaces", "nodes",
                 "resourcequotas", "horizontalpodautoscalers.autoscaling", "volumeattachments.storage.k8s.io",
                 "flowschemas.flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
                 "apiservices.apiregistration.k8s.io",
                 *WORKLOADS)


def prepare_for_update(resource: str, obj: dict[str, Any], old: dict[str, Any]) -> None:
    """Update-time strategy for the main resource: keep status, bump generation on spec change.

    Covers rest.BeforeUpdate's metadata fix-ups (generation, uid, timestamps), the Service
    registry's patchAllocatedValues, and each registry's PrepareForUpdate.
    """
    apply_defaults(resource, obj, old)
    meta = _d(obj, "metadata")
    old_meta = old.get("metadata") or {}
    if "generation" in old_meta:
        meta["generation"] = old_meta["generation"]
    else:
        meta.pop("generation", None)
    if not meta.get("uid") and old_meta.get("uid"):
        meta["uid"] = old_meta["uid"]
    if old_meta.get("creationTimestamp"):
        meta["creationTimestamp"] = old_meta["creationTimestamp"]
    if old_meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = old_meta["deletionTimestamp"]
    if old_meta.get("deletionGracePeriodSeconds") is not None and meta.get("deletionGracePeriodSeconds") is None:
        meta["deletionGracePeriodSeconds"] = old_meta["deletionGracePeriodSeconds"]
    if resource == "services":
        _patch_allocated_values(_d(obj, "spec"), old.get("spec") or {})
    if resource in _STATUS_KINDS and "status" in old:
        obj["status"] = _deepcopy(old["status"])
    if resource in _NETWORKING_GENERATION:
        # Ingress status belongs to /status; spec changes bump generation (ingress/ingressclass/netpol strategies).
        if resource == "ingresses.networking.k8s.io" and "status" in old:
            obj["status"] = _deepcopy(old["status"])
        if not semantic_equal(obj.get("spec"), old.get("spec")):
            meta["generation"] = (old_meta.get("generation") or 0) + 1
    if resource in WEBHOOK_CONFIGURATIONS and not semantic_equal(obj.get("webhooks"), old.get("webhooks")):
        meta["generation"] = (old_meta.get("generation") or 0) + 1  # the webhook configuration strategies
    if resource == "namespaces":
        old_fins = (old.get("spec") or {}).get("finalizers")
        spec = _d(obj, "spec")
        if old_fins:
            spec["finalizers"] = list(old_fins)
        else:
            spec.pop("finalizers", None)
    if resource in WORKLOADS or resource == "endpointslices.discovery.k8s.io":
        gen = old_meta.get("generation") or 0
        if resource == "endpointslices.discovery.k8s.io":
            changed = any(not semantic_equal(obj.get(k), old.get(k)) for k in ("addressType", "endpoints", "ports"))
            changed = changed or not semantic_equal(meta.get("labels"), old_meta.get("labels"))
        else:
            changed = not semantic_equal(obj.get("spec"), old.get("spec"))
            if resource == "deployments.apps":
                changed = changed or not semantic_equal(meta.get("annotations"), old_meta.get("annotations"))
        if resource == "daemonsets.apps":
            ann = _d(meta, "annotations")
            old_tg = (old_meta.get("annotations") or {}).get(DS_TEMPLATE_GENERATION, "0")
            try:
                tg = int(old_tg)
            except (TypeError, ValueError):
                tg = 0
            tpl_changed = not semantic_equal((obj.get("spec") or {}).get("template"),
                                             (old.get("spec") or {}).get("template"))
            ann[DS_TEMPLATE_GENERATION] = str(tg + 1 if tpl_changed else tg)
            if tpl_changed:
                changed = True
        if changed:
            meta["generation"] = gen + 1
    apply_defaults(resource, obj, old)


def _patch_allocated_values(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """Keep allocated clusterIPs/nodePorts a client left out of an update (registry beginUpdate)."""
    if spec.get("type") != "ExternalName" and old.get("type") != "ExternalName":
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not spec.get("clusterIPs") and old.get("clusterIPs"):
            spec["clusterIPs"] = list(old["clusterIPs"])
    node_port_types = ("NodePort", "LoadBalancer")
    if spec.get("type") in node_port_types and old.get("type") in node_port_types:
        used = {p.get("nodePort") for p in _dicts(old.get("ports"))} & {p.get("nodePort") for p in
                                                                       _dicts(spec.get("ports"))}
        by_name = {p.get("name", ""): p.get("nodePort") for p in _dicts(old.get("ports"))}
        for p in _dicts(spec.get("ports")):
            if not p.get("nodePort"):
                val = by_name.get(p.get("name", ""))
                if val and val not in used:
                    p["nodePort"] = val
    if (spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
            and old.get("type") == "LoadBalancer" and old.get("externalTrafficPolicy") == "Local"
            and not spec.get("healthCheckNodePort")):
        spec["healthCheckNodePort"] = old.get("healthCheckNodePort")
    _service_ip_fields(spec)


def _deepcopy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _deepcopy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_deepcopy(x) for x in v]
    return v


def _is_zero(v: Any) -> bool:
    return v is None or v == "" or v == 0 or v is False or v == [] or v == {}


def semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual for JSON: absent, null and zero values are all equal.

    Update validation compares whole pod specs with it on every write: strings and ints of the
    same type are compared inline (their semantic equality is plain equality), the rest recurses."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() == b.keys():
            for k, x in a.items():
                y = b[k]
                tx = x.__class__
                if (tx is str or tx is int) and y.__class__ is tx:
                    if x != y:
                        return False
                elif not semantic_equal(x, y):
                    return False
            return True
        for k in a.keys() | b.keys():
            if not semantic_equal(a.get(k), b.get(k)):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b, strict=True):
            tx = x.__class__
            if (tx is str or tx is int) and y.__class__ is tx:
                if x != y:
                    return False
            elif not semantic_equal(x, y):
                return False
        return True
    if _is_zero(a) and _is_zero(b):
        return (isinstance(a, bool) == isinstance(b, bool)) or a is None or b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def pod_qos(pod: dict[str, Any]) -> str:
    """qos.ComputePodQOS (pod-level resources are alpha and off in v1.32)."""
    spec = pod.get("spec") or {}
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        res = c.get("resources") or {}
        for name, q in (res.get("requests") or {}).items():
            if name in ("cpu", "memory"):
                v = _qty_or_zero(q)
                if v > 0:
                    requests[name] = requests.get(name, Fraction(0)) + v
        found = set()
        for name, q in (res.get("limits") or {}).items():
            if name in ("cpu", "memory"):
                v = _qty_or_zero(q)
                if v > 0:
                    found.add(name)
                    limits[name] = limits.get(name, Fraction(0)) + v
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, req in requests.items():
            if limits.get(name) != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _qty_or_zero(q: Any) -> Fraction:
    try:
        return quantity_value(q)
    except QuantityError:
        return Fraction(0)

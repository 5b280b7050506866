"""EndpointSlice controller, as upstream's pkg/controller/endpointslice with the k8s.io/endpointslice reconciler.

For every Service with a selector it keeps EndpointSlices (`<service>-<random>`, at most 100 endpoints each,
one slice set per distinct port mapping) that list the matching pods with their ready/serving/terminating
conditions, hostname, node, zone and targetRef. A Service whose pods are all gone keeps one empty placeholder
slice. Slices of a deleted Service go away through their ownerReference (garbage collector), as upstream.

The helpers at the top (pod readiness, port resolution, pod→service membership, trigger times) are
k8s.io/endpointslice/util and are shared with the Endpoints controller.

Left out on purpose: topology-aware hints and trafficDistribution (no hints are ever written), dual-stack
IPv6 slices beyond what a single-stack IPv4 cluster needs (the IPv6 code path exists but pods only have IPv4).
"""
from __future__ import annotations

import datetime as _dt
import logging
from typing import Any

from ..api import meta
from ..api.errors import ApiError
from ..client.client import deepcopy
from ..client.informer import Controller, Informer, WorkQueue, meta_key, split_key
from . import register_controller
from .common.podcontrol import is_namespace_terminating
from .common.podutil import is_pod_ready

log = logging.getLogger(__name__)

CONTROLLER_NAME = "endpointslice-controller.k8s.io"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
ANN_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
MAX_ENDPOINTS_PER_SLICE = 100
# Upstream endpointSliceChangeMinSyncDelay: a slice changed behind our back is resynced after this long.
SLICE_CHANGE_MIN_SYNC_DELAY = 1.0
SLICE_RESOURCE = "endpointslices.discovery.k8s.io"

Obj = dict[str, Any]


# ---- shared helpers (k8s.io/endpointslice/util) --------------------------------------------------------

def pod_ips(pod: Obj) -> list[str]:
    st = pod.get("status") or {}
    ips = [p.get("ip") for p in st.get("podIPs") or () if p.get("ip")]
    if not ips and st.get("podIP"):
        ips = [st["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """Terminal pods and pods without an IP never are; terminating ones only when asked for."""
    st = pod.get("status") or {}
    if st.get("phase") in ("Succeeded", "Failed"):
        return False
    if not st.get("podIP") and not st.get("podIPs"):
        return False
    if not include_terminating and pod["metadata"].get("deletionTimestamp"):
        return False
    return True


def should_set_hostname(pod: Obj, svc: Obj) -> bool:
    """A pod gets its hostname published when its subdomain names this Service (in its namespace)."""
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == svc["metadata"]["name"] \
        and svc["metadata"].get("namespace") == pod["metadata"].get("namespace")


def find_port(pod: Obj, svc_port: Obj) -> int | None:
    """The container port a service port's targetPort means for this pod (named ports resolved per pod)."""
    target = svc_port.get("targetPort")
    if target is None:
        target = svc_port.get("port", 0)
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or ():
        for p in c.get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p.get("containerPort", 0))
    # Sidecars (restartPolicy Always init containers) count too.
    for c in spec.get("initContainers") or ():
        if c.get("restartPolicy") != "Always":
            continue
        for p in c.get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p.get("containerPort", 0))
    return None


def service_selector(svc: Obj) -> dict[str, str] | None:
    """spec.selector, with an empty map treated as absent (it does not survive upstream's storage either)."""
    sel = (svc.get("spec") or {}).get("selector")
    return sel or None


def selector_matches(sel: dict[str, str], labels: dict[str, str] | None) -> bool:
    if not labels:
        return False
    for k, v in sel.items():
        if labels.get(k) != v:
            return False
    return True


def services_for_labels(services: Informer, namespace: str, labels: dict[str, str] | None) -> set[str]:
    """Keys of the Services in namespace whose selector matches these pod labels."""
    out: set[str] = set()
    if not labels:
        return out
    for svc in services.by_index("namespace", namespace):
        sel = service_selector(svc)
        if sel is not None and selector_matches(sel, labels):
            out.add(f"{namespace}/{svc['metadata']['name']}")
    return out


def pod_endpoints_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """(pod changed in a way its endpoints see, labels/hostname changed so its services may differ)."""
    om, nm = old["metadata"], new["metadata"]
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = (om.get("labels") or {}) != (nm.get("labels") or {}) \
        or os_.get("hostname") != ns_.get("hostname") or os_.get("subdomain") != ns_.get("subdomain")
    if om.get("deletionTimestamp") != nm.get("deletionTimestamp"):
        return True, labels_changed
    if is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    if pod_ips(old) != pod_ips(new):
        return True, labels_changed
    return False, labels_changed


def services_to_update_on_pod_change(services: Informer, old: Obj, new: Obj) -> set[str]:
    if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
        return set()
    pod_changed, labels_changed = pod_endpoints_changed(old, new)
    if not pod_changed and not labels_changed:
        return set()
    ns = new["metadata"].get("namespace", "")
    cur = services_for_labels(services, ns, new["metadata"].get("labels"))
    if not labels_changed:
        return cur
    prev = services_for_labels(services, ns, old["metadata"].get("labels"))
    if pod_changed:
        return cur | prev
    return cur ^ prev


def watch_services_and_pods(services: Informer, pods: Informer, queue: WorkQueue, pod_delay: float = 0.0) -> None:
    """The handlers both controllers share: a Service event enqueues the Service; a pod added or
    deleted enqueues the Services selecting it, a pod update those whose endpoints it changes
    (upstream addPod/updatePod/deletePod), after pod_delay (the batch period)."""

    def enqueue(svc: Obj) -> None:
        queue.add(meta_key(svc))

    def on_pod(pod: Obj) -> None:
        for key in services_for_labels(services, pod["metadata"].get("namespace", ""), pod["metadata"].get("labels")):
            queue.add_after(key, pod_delay)

    def on_pod_update(old: Obj, new: Obj) -> None:
        for key in services_to_update_on_pod_change(services, old, new):
            queue.add_after(key, pod_delay)

    services.add_handlers(enqueue, lambda _old, new: enqueue(new), enqueue)
    pods.add_handlers(on_pod, on_pod_update, on_pod)


def format_rfc3339nano(ts: float) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds only when non-zero, trailing zeros trimmed."""
    whole = int(ts)
    frac = round(ts - whole, 6)
    if frac >= 1.0:
        whole, frac = whole + 1, 0.0
    s = _dt.datetime.fromtimestamp(whole, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac > 0:
        s += f"{frac:.6f}"[1:].rstrip("0")
    return s + "Z"


class TriggerTimeTracker:
    """Computes the endpoints.kubernetes.io/last-change-trigger-time value (upstream TriggerTimeTracker):
    the earliest pod Ready transition or Service creation that changed since the previous sync."""

    def __init__(self) -> None:
        # service key -> (pod name -> (lastTransitionTime as written, parsed), service creation time)
        self._states: dict[str, tuple[dict[str, tuple[str, float]], float]] = {}

    def compute(self, key: str, svc: Obj, pods: list[Obj]) -> float | None:
        known = key in self._states
        last_pods, last_svc = self._states.get(key, ({}, 0.0))
        changed: float | None = None
        pod_times: dict[str, tuple[str, float]] = {}
        for pod in pods:
            raw = _ready_transition(pod)
            if not raw:
                continue
            name = pod["metadata"]["name"]
            prev = last_pods.get(name)
            if prev is not None and prev[0] == raw:
                pod_times[name] = prev  # unchanged: not a trigger, and no need to parse it again
                continue
            t = meta.parse_time(raw)
            if t is None:
                continue
            pod_times[name] = (raw, t)
            if prev is None or t > prev[1]:
                changed = t if changed is None else min(changed, t)
        svc_time = meta.parse_time(svc["metadata"].get("creationTimestamp")) or 0.0
        if svc_time > last_svc:
            changed = svc_time if changed is None else min(changed, svc_time)
        self._states[key] = (pod_times, svc_time)
        if not known:
            return svc_time or None
        return changed

    def delete(self, key: str) -> None:
        self._states.pop(key, None)


def _ready_transition(pod: Obj) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("lastTransitionTime")
    return None


def pods_for_service(pods: Informer, svc: Obj) -> list[Obj]:
    """The Service's pods from the cache, in name order so that generated objects read predictably."""
    sel = service_selector(svc) or {}
    out = [p for p in pods.by_index("namespace", svc["metadata"].get("namespace", ""))
           if selector_matches(sel, p["metadata"].get("labels"))]
    out.sort(key=lambda p: p["metadata"]["name"])
    return out


def _pop_first(d: dict) -> Any:
    return d.pop(next(iter(d)))


def is_service_ip_set(svc: Obj) -> bool:
    cip = (svc.get("spec") or {}).get("clusterIP")
    return bool(cip) and cip != "None"


# ---- the slice tracker (k8s.io/endpointslice/util EndpointSliceTracker) --------------------------------

DELETION_EXPECTED = -1


class EndpointSliceTracker:
    """Remembers the generation of every slice this controller wrote, so that informer events caused by our
    own writes don't trigger a resync and a cache that has not caught up is recognised as stale."""

    def __init__(self) -> None:
        self._by_service: dict[str, dict[str, int]] = {}

    @staticmethod
    def _svc_key(slc: Obj) -> str | None:
        name = (slc["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        return f"{slc['metadata'].get('namespace')}/{name}" if name else None

    def has(self, slc: Obj) -> bool:
        k = self._svc_key(slc)
        return k is not None and slc["metadata"].get("uid") in self._by_service.get(k, {})

    def should_sync(self, slc: Obj) -> bool:
        k = self._svc_key(slc)
        g = self._by_service.get(k or "", {}).get(slc["metadata"].get("uid", ""))
        return g is None or _gen(slc) != g

    def stale(self, svc_key: str, slices: list[Obj]) -> bool:
        gens = self._by_service.get(svc_key)
        if not gens:
            return False
        provided = set()
        for s in slices:
            uid = s["metadata"].get("uid", "")
            provided.add(uid)
            g = gens.get(uid)
            if g is not None and (g == DELETION_EXPECTED or g > _gen(s)):
                return True
        return any(g != DELETION_EXPECTED and uid not in provided for uid, g in gens.items())

    def update(self, slc: Obj) -> None:
        k = self._svc_key(slc)
        if k is not None:
            self._by_service.setdefault(k, {})[slc["metadata"].get("uid", "")] = _gen(slc)

    def expect_deletion(self, slc: Obj) -> None:
        k = self._svc_key(slc)
        if k is not None:
            self._by_service.setdefault(k, {})[slc["metadata"].get("uid", "")] = DELETION_EXPECTED

    def handle_deletion(self, slc: Obj) -> bool:
        """Forget a deleted slice; True when we expected that deletion."""
        k = self._svc_key(slc)
        gens = self._by_service.get(k or "")
        if gens is None:
            return False
        g = gens.pop(slc["metadata"].get("uid", ""), None)
        if not gens:
            self._by_service.pop(k or "", None)
        return g == DELETION_EXPECTED

    def delete_service(self, svc_key: str) -> None:
        self._by_service.pop(svc_key, None)


def _gen(slc: Obj) -> int:
    return int(slc["metadata"].get("generation") or 0)


# ---- the reconciler (k8s.io/endpointslice reconciler.go + utils.go) ------------------------------------

def _port_key(ports: list[Obj] | None) -> tuple:
    return tuple(sorted((p.get("name") or "", p.get("port"), p.get("protocol") or "TCP",
                         p.get("appProtocol") or "") for p in ports or ()))


def _endpoint_key(ep: Obj) -> tuple:
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep.get("addresses") or ())), ep.get("hostname") or "", ref.get("namespace") or "",
            ref.get("name") or "")


def _ref_without_rv(ref: Obj | None) -> tuple:
    if not ref:
        return ()
    return tuple(sorted((k, v) for k, v in ref.items() if k != "resourceVersion" and v not in (None, "")))


def endpoints_equal_beyond_hash(a: Obj, b: Obj) -> bool:
    if (a.get("nodeName") or None) != (b.get("nodeName") or None) or (a.get("zone") or None) != (b.get("zone") or None):
        return False
    ca, cb = a.get("conditions") or {}, b.get("conditions") or {}
    for k in ("ready", "serving", "terminating"):
        if ca.get(k) != cb.get(k):
            return False
    return _ref_without_rv(a.get("targetRef")) == _ref_without_rv(b.get("targetRef"))


def address_types_for_service(svc: Obj) -> list[str]:
    spec = svc.get("spec") or {}
    out = []
    for fam in spec.get("ipFamilies") or ():
        if fam == "IPv4" and "IPv4" not in out:
            out.append("IPv4")
        elif fam == "IPv6" and "IPv6" not in out:
            out.append("IPv6")
    if out:
        return out
    cip = spec.get("clusterIP")
    if cip and cip != "None":
        return ["IPv6" if ":" in cip else "IPv4"]
    return ["IPv4", "IPv6"]


def endpoint_ports(svc: Obj, pod: Obj) -> list[Obj]:
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    out: list[Obj] = []
    if not ports and spec.get("clusterIP") == "None":
        return out
    for sp in ports:
        num = find_port(pod, sp)
        if num is None:
            continue
        p: Obj = {"name": sp.get("name") or "", "protocol": sp.get("protocol") or "TCP", "port": num}
        if sp.get("appProtocol"):
            p["appProtocol"] = sp["appProtocol"]
        out.append(p)
    return out


def pod_to_endpoint(pod: Obj, node: Obj | None, svc: Obj, address_type: str) -> Obj:
    serving = is_pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    want6 = address_type == "IPv6"
    addrs = [ip for ip in pod_ips(pod) if (":" in ip) == want6]
    md = pod["metadata"]
    ep: Obj = {"addresses": addrs, "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    ep["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace", ""), "name": md["name"], "uid": md.get("uid", "")}
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        ep["nodeName"] = node_name
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(LABEL_ZONE)
    if zone:
        ep["zone"] = zone
    return ep


def slice_labels(slc: Obj, svc: Obj) -> tuple[dict[str, str], bool]:
    """The labels a slice must carry (the Service's plus the reserved ones) and whether they differ."""
    reserved = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
    ep_labels = {k: v for k, v in (slc["metadata"].get("labels") or {}).items() if k not in reserved}
    svc_labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in reserved}
    updated = ep_labels != svc_labels
    if not is_service_ip_set(svc):
        svc_labels[LABEL_HEADLESS] = ""
    svc_labels[LABEL_SERVICE_NAME] = svc["metadata"]["name"]
    svc_labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return svc_labels, updated


def service_owner_ref(svc: Obj) -> Obj:
    md = svc["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": md["name"], "uid": md.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def new_endpoint_slice(svc: Obj, ports: list[Obj], address_type: str) -> Obj:
    md = svc["metadata"]
    slc: Obj = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{md['name']}-", "namespace": md.get("namespace", ""), "labels": {},
                     "ownerReferences": [service_owner_ref(svc)]},
        "addressType": address_type,
        "endpoints": [],
        "ports": ports,
    }
    slc["metadata"]["labels"], _ = slice_labels(slc, svc)
    return slc


def owned_by(slc: Obj, svc: Obj) -> bool:
    uid = svc["metadata"].get("uid")
    return any(o.get("uid") == uid and o.get("kind") == "Service" and o.get("apiVersion") == "v1"
               for o in slc["metadata"].get("ownerReferences") or ())


def _norm_ref(o: Obj) -> tuple:
    return (o.get("apiVersion"), o.get("kind"), o.get("name"), o.get("uid"), bool(o.get("controller")),
            bool(o.get("blockOwnerDeletion")))


def placeholder_equal(a: Obj, b: Obj) -> bool:
    """Upstream placeholderSliceCompare: namespace, labels, owner refs and content, nothing else of metadata."""
    ma, mb = a["metadata"], b["metadata"]
    return (ma.get("namespace") == mb.get("namespace")
            and (ma.get("labels") or {}) == (mb.get("labels") or {})
            and [_norm_ref(o) for o in ma.get("ownerReferences") or ()]
            == [_norm_ref(o) for o in mb.get("ownerReferences") or ()]
            and a.get("addressType") == b.get("addressType")
            and not a.get("endpoints") and not b.get("endpoints")
            and not a.get("ports") and not b.get("ports"))


def get_slice_to_fill(slices: list[Obj], num: int, max_eps: int) -> Obj | None:
    closest_diff = max_eps
    closest = None
    for s in slices:
        diff = max_eps - (num + len(s.get("endpoints") or ()))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, s
            if diff == 0:
                return s
    return closest


def _prepare_write(slc: Obj, trigger: float | None) -> Obj:
    """A private copy to send: trigger-time annotation, no hints (this controller never sets topology hints),
    empty lists left out (upstream stores them as null)."""
    slc = deepcopy(slc)
    set_trigger_time(slc, trigger)
    for ep in slc.get("endpoints") or ():
        ep.pop("hints", None)
    for k in ("endpoints", "ports"):
        if not slc.get(k):
            slc.pop(k, None)
    return slc


def set_trigger_time(slc: Obj, trigger: float | None) -> None:
    ann = slc["metadata"].setdefault("annotations", {})
    if trigger:
        ann[ANN_TRIGGER_TIME] = format_rfc3339nano(trigger)
    else:
        ann.pop(ANN_TRIGGER_TIME, None)
    if not ann:
        slc["metadata"].pop("annotations", None)


class Reconciler:
    """Turns (Service, its pods, its current slices) into slice creates/updates/deletes."""

    def __init__(self, client: Any, nodes: Informer, tracker: EndpointSliceTracker,
                 max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        self.client = client
        self.nodes = nodes
        self.tracker = tracker
        self.max = max_per_slice
        # (service uid, address type) -> pod uid -> (inputs, ports, port key, endpoint, endpoint key): a sync
        # recomputes only the endpoints of pods (or the Service, or a node's zone) that changed.
        self._memo: dict[tuple[str, str], dict[str, tuple]] = {}

    def forget_service(self, uid: str) -> None:
        for k in [k for k in self._memo if k[0] == uid]:
            del self._memo[k]

    async def reconcile(self, svc: Obj, pods: list[Obj], existing: list[Obj], trigger: float | None) -> None:
        errs: list[str] = []
        supported = address_types_for_service(svc)
        to_delete: list[Obj] = []
        by_type: dict[str, list[Obj]] = {}
        for s in existing:
            if s.get("addressType") not in supported:
                to_delete.append(s)
                continue
            by_type.setdefault(s["addressType"], []).append(s)
        for at in supported:
            try:
                errs += await self._reconcile_address_type(svc, pods, by_type.get(at, []), trigger, at)
            except ApiError as e:
                errs.append(e.message)
        for s in to_delete:
            try:
                await self._delete(svc, s)
            except ApiError as e:
                errs.append(f"error deleting {s['metadata']['name']} EndpointSlice for Service "
                            f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}: {e.message}")
        if errs:
            raise ApiError(500, "InternalError", "; ".join(errs) if len(errs) == 1 else "[" + ", ".join(errs) + "]")

    async def _delete(self, svc: Obj, slc: Obj) -> None:
        try:
            await self.client.delete(SLICE_RESOURCE, svc["metadata"].get("namespace"), slc["metadata"]["name"])
        except ApiError as e:
            if e.code != 404:
                raise
            return
        self.tracker.expect_deletion(slc)

    async def _reconcile_address_type(self, svc: Obj, pods: list[Obj], existing: list[Obj],
                                      trigger: float | None, address_type: str) -> list[str]:
        errs: list[str] = []
        to_create: list[Obj] = []
        to_update: list[Obj] = []
        to_delete: list[Obj] = []
        existing_by_ports: dict[tuple, list[Obj]] = {}
        for s in existing:
            if owned_by(s, svc):
                existing_by_ports.setdefault(_port_key(s.get("ports")), []).append(s)
            else:
                to_delete.append(s)

        desired_meta: dict[tuple, list[Obj]] = {}
        desired: dict[tuple, dict[tuple, Obj]] = {}
        spec = svc.get("spec") or {}
        md = svc["metadata"]
        svc_rv = md.get("resourceVersion")
        memo_key = (md.get("uid", ""), address_type)
        memo = self._memo.get(memo_key, {})
        new_memo: dict[str, tuple] = {}
        publish = bool(spec.get("publishNotReadyAddresses"))
        nodes = self.nodes
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, True):
                continue
            pmd = pod["metadata"]
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            node = nodes.get(node_name) if node_name else None
            if node is None and not publish:
                # Upstream also lists the pod's ports before skipping it: an empty port group may appear.
                ports = endpoint_ports(svc, pod)
                pk = _port_key(ports)
                desired.setdefault(pk, {})
                desired_meta.setdefault(pk, ports)
                log.info("skipping Pod %s for Service %s/%s, Node %s not found", pmd["name"],
                         md.get("namespace"), md["name"], node_name)
                errs.append(f"skipping Pod {pmd['name']} for Service {md.get('namespace')}/{md['name']}: "
                            f"Node {node_name} Not Found")
                continue
            zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(LABEL_ZONE)
            inputs = (pmd.get("resourceVersion"), svc_rv, zone)
            uid = pmd.get("uid") or pmd["name"]
            m = memo.get(uid)
            if m is None or m[0] != inputs:
                ports = endpoint_ports(svc, pod)
                ep = pod_to_endpoint(pod, node, svc, address_type)
                m = (inputs, ports, _port_key(ports), ep, _endpoint_key(ep))
            new_memo[uid] = m
            _, ports, pk, ep, ek = m
            eps = desired.get(pk)
            if eps is None:
                eps = desired[pk] = {}
                desired_meta[pk] = ports
            if ep["addresses"]:
                eps[ek] = ep
        self._memo[memo_key] = new_memo

        for pk, eps in desired.items():
            c, u, d = self._reconcile_by_port_mapping(svc, existing_by_ports.get(pk, []), eps, desired_meta[pk],
                                                      address_type)
            to_create += c
            to_update += u
            to_delete += d
        for pk, slices in existing_by_ports.items():
            if pk not in desired:
                to_delete += slices

        if len(existing) == len(to_delete) and not to_create:
            placeholder = new_endpoint_slice(svc, [], address_type)
            if len(to_delete) == 1 and placeholder_equal(to_delete[0], placeholder):
                to_delete = []
            else:
                to_create.append(placeholder)

        await self._finalize(svc, to_create, to_update, to_delete, trigger)
        return errs

    def _reconcile_by_port_mapping(self, svc: Obj, existing: list[Obj], desired: dict[tuple, Obj],
                                   ports: list[Obj], address_type: str) -> tuple[list[Obj], list[Obj], list[Obj]]:
        by_name: dict[str, Obj] = {}
        unchanged: list[str] = []
        to_update: list[str] = []
        to_delete: list[str] = []
        for s in existing:
            name = s["metadata"]["name"]
            by_name[name] = s
            new_eps: list[Obj] = []
            ep_updated = False
            for ep in s.get("endpoints") or ():
                got = desired.pop(_endpoint_key(ep), None)
                if got is not None:
                    new_eps.append(got)
                    if not endpoints_equal_beyond_hash(got, ep):
                        ep_updated = True
            labels, labels_changed = slice_labels(s, svc)
            if ep_updated or len(s.get("endpoints") or ()) != len(new_eps):
                if not new_eps:
                    to_delete.append(name)
                else:
                    cp = deepcopy(s)
                    cp["endpoints"] = new_eps
                    cp["metadata"]["labels"] = labels
                    by_name[name] = cp
                    to_update.append(name)
            elif labels_changed:
                cp = deepcopy(s)
                cp["metadata"]["labels"] = labels
                by_name[name] = cp
                to_update.append(name)
            else:
                unchanged.append(name)

        if desired and to_update:
            slices = sorted((by_name[n] for n in to_update), key=lambda x: -len(x.get("endpoints") or ()))
            for s in slices:
                while desired and len(s["endpoints"]) < self.max:
                    s["endpoints"].append(_pop_first(desired))

        to_create: list[Obj] = []
        while desired:
            fill: Obj | None = None
            if len(desired) < self.max and unchanged:
                fill = get_slice_to_fill([by_name[n] for n in unchanged], len(desired), self.max)
            if fill is None:
                fill = new_endpoint_slice(svc, ports, address_type)
            else:
                fill = deepcopy(fill)
                by_name[fill["metadata"]["name"]] = fill
            fill.setdefault("endpoints", [])
            if fill["endpoints"] is None:
                fill["endpoints"] = []
            while desired and len(fill["endpoints"]) < self.max:
                fill["endpoints"].append(_pop_first(desired))
            name = fill["metadata"].get("name")
            if name:
                if name not in to_update:
                    to_update.append(name)
                if name in unchanged:
                    unchanged.remove(name)
            else:
                to_create.append(fill)
        return to_create, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]

    async def _finalize(self, svc: Obj, to_create: list[Obj], to_update: list[Obj], to_delete: list[Obj],
                        trigger: float | None) -> None:
        ns = svc["metadata"].get("namespace")
        # Reuse slices that would be deleted instead of creating new ones.
        i = 0
        while i < len(to_delete) and to_create:
            old = to_delete[i]
            new = to_create[-1]
            if old.get("addressType") == new.get("addressType") and owned_by(old, svc):
                new["metadata"]["name"] = old["metadata"]["name"]
                new["metadata"].pop("generateName", None)
                to_create.pop()
                to_update.append(new)
                to_delete.pop(i)
            else:
                i += 1
        # No new slices for a Service being deleted: the garbage collector is removing them.
        if not svc["metadata"].get("deletionTimestamp"):
            for s in to_create:
                try:
                    created = await self.client.create(SLICE_RESOURCE, ns, _prepare_write(s, trigger))
                except ApiError as e:
                    if is_namespace_terminating(e):
                        return
                    raise ApiError(e.code, e.reason, f"failed to create EndpointSlice for Service "
                                   f"{ns}/{svc['metadata']['name']}: {e.message}") from None
                self.tracker.update(created)
        for s in to_update:
            try:
                updated = await self.client.update(SLICE_RESOURCE, _prepare_write(s, trigger))
            except ApiError as e:
                raise ApiError(e.code, e.reason, f"failed to update {s['metadata']['name']} EndpointSlice for "
                               f"Service {ns}/{svc['metadata']['name']}: {e.message}") from None
            self.tracker.update(updated)
        for s in to_delete:
            try:
                await self._delete(svc, s)
            except ApiError as e:
                raise ApiError(e.code, e.reason, f"failed to delete {s['metadata']['name']} EndpointSlice for "
                               f"Service {ns}/{svc['metadata']['name']}: {e.message}") from None


# ---- the controller -----------------------------------------------------------------------------------

def _slice_service_index(obj: Obj) -> list[str]:
    name = (obj["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
    return [f"{obj['metadata'].get('namespace')}/{name}"] if name else []


SLICE_INDEX = "kubeling.endpointslice/service"


class EndpointSliceController(Controller):
    name = "endpointslice"
    workers = 5

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        self.recorder = ctx.recorder("endpointslice-controller")
        f = ctx.informers
        self.services = f.informer("services")
        self.pods = f.informer("pods")
        self.nodes = f.informer("nodes")
        self.slices = f.informer(SLICE_RESOURCE)
        self.slices.add_indexer(SLICE_INDEX, _slice_service_index)
        self.tracker = EndpointSliceTracker()
        self.triggers = TriggerTimeTracker()
        self.reconciler = Reconciler(self.client, self.nodes, self.tracker)
        self._uids: dict[str, str] = {}
        watch_services_and_pods(self.services, self.pods, self.queue)
        self.slices.add_handlers(self._add_slice, self._update_slice, self._delete_slice)

    # -- event handlers
    def _queue_for_slice(self, slc: Obj) -> None:
        keys = _slice_service_index(slc)
        if keys:
            self.queue.add_after(keys[0], SLICE_CHANGE_MIN_SYNC_DELAY)

    @staticmethod
    def _managed(slc: Obj) -> bool:
        return (slc["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == CONTROLLER_NAME

    def _add_slice(self, slc: Obj) -> None:
        if self._managed(slc) and self.tracker.should_sync(slc):
            self._queue_for_slice(slc)

    def _update_slice(self, old: Obj, new: Obj) -> None:
        ol = (old["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        nl = (new["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        if ol != nl:
            self._queue_for_slice(new)
            self._queue_for_slice(old)
            return
        if self._managed(old) != self._managed(new) or (self._managed(new) and self.tracker.should_sync(new)):
            self._queue_for_slice(new)

    def _delete_slice(self, slc: Obj) -> None:
        if self._managed(slc) and self.tracker.has(slc) and not self.tracker.handle_deletion(slc):
            self._queue_for_slice(slc)

    # -- sync
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            self.triggers.delete(key)
            self.tracker.delete_service(key)
            uid = self._uids.pop(key, None)
            if uid:
                self.reconciler.forget_service(uid)
            return
        uid = svc["metadata"].get("uid", "")
        if self._uids.get(key) != uid:
            if key in self._uids:
                self.reconciler.forget_service(self._uids[key])
            self._uids[key] = uid
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or service_selector(svc) is None:
            return
        pods = pods_for_service(self.pods, svc)
        slices = [s for s in self.slices.by_index(SLICE_INDEX, key)
                  if self._managed(s) and not s["metadata"].get("deletionTimestamp")]
        if self.tracker.stale(key, slices):
            raise ApiError(409, "Conflict", "EndpointSlice informer cache is out of date")
        trigger = self.triggers.compute(key, svc, pods)
        try:
            await self.reconciler.reconcile(svc, pods, slices, trigger)
        except ApiError as e:
            if e.code != 409:
                self.recorder.event(svc, "Warning", "FailedToUpdateEndpointSlices",
                                    f"Error updating Endpoint Slices for Service {ns}/{name}: {e.message}")
            raise

    def start(self) -> None:
        self.start_when_synced(self.services, self.pods, self.nodes, self.slices)


start = register_controller("endpointslice", EndpointSliceController, start="start")

"""Pure decisions of the persistent volume machinery (upstream component-helpers/storage/volume,
pkg/controller/volume/persistentvolume/index.go, pkg/volume/util): claim/volume matching,
class and access-mode rules, node affinity, which pods use which claims.

No I/O here: the PV controller, the local-path provisioner and the protection controllers
share these, and the scheduler may mirror them.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..api.selectors import matches_labels, selector_from_label_selector

Obj = dict[str, Any]

# Annotations and finalizers (k8s.io/component-helpers/storage/volume, pkg/volume/util).
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_MIGRATED_TO = "pv.kubernetes.io/migrated-to"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"
PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
LABEL_HOSTNAME = "kubernetes.io/hostname"

# Informer index names shared by the storage controllers (same name ⇒ same function).
INDEX_POD_PVC = "storage-pod-pvc"          # pods by "<ns>/<claim>" they reference
INDEX_PV_CLAIM = "storage-pv-claim"        # volumes by "<ns>/<claim>" of their claimRef

_ACCESS_MODE_SHORT = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                      "ReadWriteOncePod": "RWOP"}


# ---- quantities -----------------------------------------------------------------------------------

Qty = int | Fraction


@lru_cache(maxsize=8192)
def _parse(value: Any) -> Qty | None:
    try:
        from ..api.defaults import quantity_value

        v = quantity_value(value)
    except Exception:
        return None
    return int(v) if v.denominator == 1 else v  # ints compare fast; the fraction stays exact


def _quantity(value: Any) -> Qty | None:
    """An exact quantity (memoized: the same few strings, "1Gi", recur across thousands of objects)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return _parse(value)


def storage_request(claim: Obj) -> Qty:
    """The claim's spec.resources.requests.storage (0 when unset, as a zero Quantity)."""
    req = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return _quantity(req.get("storage")) or 0


def volume_capacity(pv: Obj) -> Qty:
    cap = (pv.get("spec") or {}).get("capacity") or {}
    return _quantity(cap.get("storage")) or 0


def claim_status_capacity(claim: Obj) -> Qty | None:
    cap = (claim.get("status") or {}).get("capacity") or {}
    return _quantity(cap.get("storage"))


# ---- classes ---------------------------------------------------------------------------------------

def claim_class(claim: Obj) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation wins, then spec.storageClassName, else ""."""
    ann = claim["metadata"].get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (claim.get("spec") or {}).get("storageClassName") or ""


def claim_has_class(claim: Obj) -> bool:
    """PersistentVolumeClaimHasClass: an explicit "" counts as a class (no default is applied)."""
    ann = claim["metadata"].get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return True
    return (claim.get("spec") or {}).get("storageClassName") is not None


# GetPersistentVolumeClass reads a volume exactly as a claim is read
volume_class = claim_class


def is_default_class(sc: Obj) -> bool:
    ann = sc["metadata"].get("annotations") or {}
    return ann.get(ANN_DEFAULT_CLASS) == "true" or ann.get(ANN_BETA_DEFAULT_CLASS) == "true"


def default_class(classes: list[Obj]) -> Obj | None:
    """util.GetDefaultClass: among several defaults the newest wins (ties: name order)."""
    defaults = [c for c in classes if is_default_class(c)]
    if not defaults:
        return None
    defaults.sort(key=lambda c: c["metadata"]["name"])
    defaults.sort(key=lambda c: c["metadata"].get("creationTimestamp") or "", reverse=True)
    return defaults[0]


def is_delay_binding(claim: Obj, get_class: Any) -> bool:
    """IsDelayBindingMode: the claim's class exists and binds WaitForFirstConsumer."""
    name = claim_class(claim)
    if not name:
        return False
    sc = get_class(name)
    if sc is None:
        return False
    return sc.get("volumeBindingMode") == "WaitForFirstConsumer"


# ---- claim/volume relations ---------------------------------------------------------------------

def claim_key(claim: Obj) -> str:
    md = claim["metadata"]
    return f"{md.get('namespace')}/{md['name']}"


def claimref_key(pv: Obj) -> str | None:
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return None
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


def claim_reference(claim: Obj) -> Obj:
    """reference.GetReference(claim) as stored in pv.spec.claimRef."""
    md = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": md.get("namespace"), "name": md["name"],
            "uid": md.get("uid"), "apiVersion": "v1", "resourceVersion": md.get("resourceVersion")}


def is_volume_bound_to_claim(pv: Obj, claim: Obj) -> bool:
    """Pre-bound or bound to this claim: name and namespace match; the UID too when set."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    md = claim["metadata"]
    if ref.get("name") != md["name"] or ref.get("namespace") != md.get("namespace"):
        return False
    uid = ref.get("uid") or ""
    return not uid or uid == md.get("uid")


def volume_mode_mismatch(claim: Obj, pv: Obj) -> bool:
    want = (claim.get("spec") or {}).get("volumeMode") or "Filesystem"
    have = (pv.get("spec") or {}).get("volumeMode") or "Filesystem"
    return want != have


def access_modes_satisfied(claim: Obj, pv: Obj) -> bool:
    """CheckAccessModes: the volume offers every mode the claim asks for."""
    have = set((pv.get("spec") or {}).get("accessModes") or ())
    return all(m in have for m in (claim.get("spec") or {}).get("accessModes") or ())


def access_modes_string(modes: list[str] | None) -> str:
    return ",".join(_ACCESS_MODE_SHORT.get(m, m) for m in modes or ())


def check_volume_satisfies_claim(pv: Obj, claim: Obj) -> str | None:
    """checkVolumeSatisfyClaim: why a requested (spec.volumeName) volume cannot serve the claim."""
    if pv["metadata"].get("deletionTimestamp"):
        return f'the volume is marked for deletion "{pv["metadata"]["name"]}"'
    if math.ceil(volume_capacity(pv)) < math.ceil(storage_request(claim)):
        return "requested PV is too small"
    if volume_class(pv) != claim_class(claim):
        return "storageClassName does not match"
    if volume_mode_mismatch(claim, pv):
        return "incompatible volumeMode"
    if not access_modes_satisfied(claim, pv):
        return "incompatible accessMode"
    return None


# ---- node affinity ---------------------------------------------------------------------------------

def _match_requirement(req: Obj, labels: dict[str, str]) -> bool:
    key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        if key not in labels or len(values) != 1:
            return False
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_selector_terms_match(terms: list[Obj], labels: dict[str, str], name: str = "") -> bool:
    """MatchNodeSelectorTerms: terms are ORed, requirements within a term ANDed; an empty term matches nothing."""
    for term in terms or ():
        exprs = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not exprs and not fields:
            continue
        if not all(_match_requirement(r, labels) for r in exprs):
            continue
        if fields and not all(_match_requirement(r, {"metadata.name": name} if name else {}) for r in fields):
            continue
        return True
    return False


def volume_node_affinity_matches(pv: Obj, node_labels: dict[str, str]) -> bool:
    """CheckNodeAffinity: no required affinity means any node; only node labels are consulted."""
    aff = (pv.get("spec") or {}).get("nodeAffinity") or {}
    req = aff.get("required")
    if not req:
        return True
    return node_selector_terms_match(req.get("nodeSelectorTerms") or [], node_labels or {})


# ---- matching --------------------------------------------------------------------------------------

def find_matching_volume(claim: Obj, volumes: list[Obj], node: Obj | None, excluded: set[str] | None,
                         delay_binding: bool) -> Obj | None:
    """FindMatchingVolume: a volume pre-bound to the claim wins outright; otherwise the smallest
    Available, unclaimed volume of the claim's class, selector and (scheduler path) node."""
    requested = storage_request(claim)
    requested_class = claim_class(claim)
    spec = claim.get("spec") or {}
    selector = selector_from_label_selector(spec["selector"]) if spec.get("selector") is not None else None
    node_labels = ((node or {}).get("metadata") or {}).get("labels") or {}
    best: Obj | None = None
    best_qty: Qty = 0
    for pv in volumes:
        name = pv["metadata"]["name"]
        if excluded and name in excluded:
            continue
        pspec = pv.get("spec") or {}
        if pspec.get("claimRef") and not is_volume_bound_to_claim(pv, claim):
            continue
        qty = volume_capacity(pv)
        if qty < requested:
            continue
        if volume_mode_mismatch(claim, pv):
            continue
        if pv["metadata"].get("deletionTimestamp"):
            continue
        affinity_ok = True
        if node is not None:
            affinity_ok = volume_node_affinity_matches(pv, node_labels)
        if is_volume_bound_to_claim(pv, claim):
            return pv if affinity_ok else None
        if node is None and delay_binding:
            continue  # the scheduler binds unbound volumes of delayed classes
        if (pv.get("status") or {}).get("phase") != "Available":
            continue
        if selector is not None and not matches_labels(selector, pv["metadata"].get("labels")):
            continue
        if volume_class(pv) != requested_class:
            continue
        if not affinity_ok:
            continue
        if node is not None and not access_modes_satisfied(claim, pv):
            continue
        if best is None or best_qty > qty or (best_qty == qty and name < best["metadata"]["name"]):
            best, best_qty = pv, qty
    return best


def find_best_match(claim: Obj, volumes: list[Obj], delay_binding: bool, node: Obj | None = None,
                    excluded: set[str] | None = None) -> Obj | None:
    """findBestMatchForClaim: volumes grouped by their access-mode set; groups that contain every
    requested mode are searched fewest-modes first, so the claim gets what is closest to its ask.
    Equal sizes go by name (upstream's order among them is arbitrary)."""
    wanted = set((claim.get("spec") or {}).get("accessModes") or ())
    groups: dict[frozenset, list[Obj]] = {}
    for pv in volumes:
        modes = frozenset((pv.get("spec") or {}).get("accessModes") or ())
        if wanted <= modes:
            groups.setdefault(modes, []).append(pv)
    for modes in sorted(groups, key=lambda m: (len(m), access_modes_string(sorted(m)))):
        found = find_matching_volume(claim, groups[modes], node, excluded, delay_binding)
        if found is not None:
            return found
    return None


class FreeVolumeIndex:
    """Volumes without a claimRef, per (class, access-mode set), sorted by (capacity, name), so
    the smallest fit is found by bisection instead of a scan of every volume for every claim.
    Fed from the PV informer; the matcher still re-checks each candidate's current state."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, frozenset], list[tuple[Qty, str]]] = {}
        self._entry: dict[str, tuple[tuple[str, frozenset], tuple[Qty, str]]] = {}

    def update(self, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        self.remove(name)
        if (pv.get("spec") or {}).get("claimRef"):
            return
        gkey = (volume_class(pv), frozenset((pv.get("spec") or {}).get("accessModes") or ()))
        item = (volume_capacity(pv), name)
        bisect.insort(self._lists.setdefault(gkey, []), item)
        self._entry[name] = (gkey, item)

    def remove(self, name: str) -> None:
        old = self._entry.pop(name, None)
        if old is None:
            return
        gkey, item = old
        lst = self._lists.get(gkey)
        if lst is None:
            return
        i = bisect.bisect_left(lst, item)
        if i < len(lst) and lst[i] == item:
            del lst[i]
        if not lst:
            del self._lists[gkey]

    def groups(self, cls: str, wanted: set[str]) -> list[frozenset]:
        return [modes for (c, modes) in self._lists if c == cls and wanted <= modes]

    def names_from(self, cls: str, modes: frozenset, requested: Qty) -> Iterator[str]:
        """Names in (capacity, name) order, starting at the first that is large enough."""
        lst = self._lists.get((cls, modes)) or []
        i = bisect.bisect_left(lst, (requested, ""))
        while i < len(lst):
            yield lst[i][1]
            i += 1


def _prebound_eligible(claim: Obj, pv: Obj, excluded: set[str] | None) -> bool:
    """A pre-bound volume that only node affinity could still reject."""
    return not (excluded and pv["metadata"]["name"] in excluded) and is_volume_bound_to_claim(pv, claim) \
        and volume_capacity(pv) >= storage_request(claim) and not volume_mode_mismatch(claim, pv) \
        and not pv["metadata"].get("deletionTimestamp")


def find_best_match_indexed(claim: Obj, prebound: list[Obj], free: FreeVolumeIndex, get_pv: Any,
                            delay_binding: bool, node: Obj | None = None,
                            excluded: set[str] | None = None) -> Obj | None:
    """find_best_match over an index instead of every volume: `prebound` are the volumes whose
    claimRef names the claim, `free` the unclaimed ones, `get_pv(name)` their current state.
    Access-mode groups fewest modes first; in each, a volume pre-bound to the claim wins, else
    the smallest fitting free volume (ties by name). Same answers, O(log n) for the usual claim."""
    wanted = set((claim.get("spec") or {}).get("accessModes") or ())
    by_modes: dict[frozenset, list[Obj]] = {}
    for pv in prebound:
        modes = frozenset((pv.get("spec") or {}).get("accessModes") or ())
        if wanted <= modes:
            by_modes.setdefault(modes, []).append(pv)
    cls = claim_class(claim)
    scan_free = not delay_binding or node is not None
    groups = set(by_modes)
    if scan_free:
        groups.update(free.groups(cls, wanted))
    requested = storage_request(claim)
    for modes in sorted(groups, key=lambda m: (len(m), access_modes_string(sorted(m)))):
        if modes in by_modes:
            found = find_matching_volume(claim, by_modes[modes], node, excluded, delay_binding)
            if found is not None:
                return found
            if node is not None and any(_prebound_eligible(claim, pv, excluded) for pv in by_modes[modes]):
                continue  # pre-bound here but not on this node: the group has no answer
        if not scan_free:
            continue
        for name in free.names_from(cls, modes, requested):
            pv = get_pv(name)
            if pv is not None and find_matching_volume(claim, [pv], node, excluded, delay_binding) is not None:
                return pv
    return None


# ---- pods ------------------------------------------------------------------------------------------

def pod_claim_names(pod: Obj) -> list[str]:
    """Claims a pod references: persistentVolumeClaim volumes and generic ephemeral volumes."""
    out = []
    name = pod["metadata"]["name"]
    for v in (pod.get("spec") or {}).get("volumes") or ():
        pvc = v.get("persistentVolumeClaim")
        if pvc and pvc.get("claimName"):
            out.append(pvc["claimName"])
        elif v.get("ephemeral") is not None:
            out.append(f"{name}-{v.get('name', '')}")
    return out


def index_pod_by_pvc(pod: Obj) -> list[str]:
    ns = pod["metadata"].get("namespace")
    return [f"{ns}/{c}" for c in pod_claim_names(pod)]


def index_pv_by_claim(pv: Obj) -> list[str]:
    k = claimref_key(pv)
    return [k] if k else []


def _not_running(statuses: list[Obj] | None) -> bool:
    for s in statuses or ():
        state = s.get("state") or {}
        if not state.get("terminated") and not state.get("waiting"):
            return False
    return True


def is_pod_terminated(pod: Obj) -> bool:
    """volumeutil.IsPodTerminated: finished, or deleted with no container left running."""
    st = pod.get("status") or {}
    if st.get("phase") in ("Failed", "Succeeded"):
        return True
    return bool(pod["metadata"].get("deletionTimestamp")) and _not_running(st.get("initContainerStatuses")) \
        and _not_running(st.get("containerStatuses")) and _not_running(st.get("ephemeralContainerStatuses"))


def pod_is_shut_down(pod: Obj) -> bool:
    """Deleted with a zero grace period: done on the kubelet side, or force-deleted."""
    md = pod["metadata"]
    return bool(md.get("deletionTimestamp")) and md.get("deletionGracePeriodSeconds") == 0


def pod_uses_claim(pod: Obj, claim: Obj) -> bool:
    """pvc-protection's podUsesPVC: only scheduled pods count (the kubelet refuses to start a pod
    whose claim is being deleted); generic ephemeral claims must be owned by the pod."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    cname = claim["metadata"]["name"]
    pname = pod["metadata"]["name"]
    for v in pod["spec"].get("volumes") or ():
        pvc = v.get("persistentVolumeClaim")
        if pvc and pvc.get("claimName") == cname:
            return True
        if v.get("ephemeral") is not None and f"{pname}-{v.get('name', '')}" == cname \
                and not pod_is_shut_down(pod):
            for ref in claim["metadata"].get("ownerReferences") or ():
                if ref.get("controller") and ref.get("uid") == pod["metadata"].get("uid"):
                    return True
    return False


def has_finalizer(obj: Obj, name: str) -> bool:
    return name in (obj["metadata"].get("finalizers") or ())


def is_deletion_candidate(obj: Obj, finalizer: str) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp")) and has_finalizer(obj, finalizer)


def needs_finalizer(obj: Obj, finalizer: str) -> bool:
    return not obj["metadata"].get("deletionTimestamp") and not has_finalizer(obj, finalizer)


def resource_version(obj: Obj | None) -> int:
    if obj is None:
        return -1
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0

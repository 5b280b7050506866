"""Pure StatefulSet helpers (upstream stateful_set_utils.go): pod identity and storage, PVC
retention-policy ownership, revisions (patch, apply, next number), status arithmetic.

Everything here works on plain dicts and never mutates its inputs unless the name says so
(`init_identity`, `update_identity`, `update_storage`, `set_pod_revision`, `update_claim_owner_refs`
change the pod/claim they are given, which must be a private copy).
"""
from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

import orjson

from ...client.client import deepcopy
from ..common.history import go_json, new_controller_revision
from ..common.podutil import is_pod_available, is_pod_ready

log = logging.getLogger(__name__)

API_VERSION = "apps/v1"
KIND = "StatefulSet"
CONTROLLER_KIND = (API_VERSION, KIND)
POD_KIND = ("v1", "Pod")

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"

RETAIN = "Retain"
DELETE = "Delete"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
PARALLEL = "Parallel"

_POD_RE = re.compile(r"(.*)-([0-9]+)$")
_INT32_MAX = 2 ** 31 - 1


# ---- names and ordinals -------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)
def parent_name_and_ordinal(name: str) -> tuple[str, int]:
    """("web", 3) for "web-3"; ("", -1) when the name has no ordinal suffix."""
    m = _POD_RE.match(name)
    if m is None:
        return "", -1
    ordinal = int(m.group(2))
    if ordinal > _INT32_MAX:  # strconv.ParseInt(s, 10, 32) fails: the parent still parses
        return m.group(1), -1
    return m.group(1), ordinal


def get_parent_name(pod: dict[str, Any]) -> str:
    return parent_name_and_ordinal(pod["metadata"]["name"])[0]


def get_ordinal(pod: dict[str, Any]) -> int:
    return parent_name_and_ordinal(pod["metadata"]["name"])[1]


def get_start_ordinal(set_: dict[str, Any]) -> int:
    ordinals = (set_.get("spec") or {}).get("ordinals")
    if ordinals:
        return int(ordinals.get("start") or 0)
    return 0


def get_replicas(set_: dict[str, Any]) -> int:
    r = (set_.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def get_end_ordinal(set_: dict[str, Any]) -> int:
    return get_start_ordinal(set_) + get_replicas(set_) - 1


def pod_in_ordinal_range(pod: dict[str, Any], set_: dict[str, Any]) -> bool:
    o = get_ordinal(pod)
    start = get_start_ordinal(set_)
    return start <= o <= start + get_replicas(set_) - 1


def get_pod_name(set_: dict[str, Any], ordinal: int) -> str:
    return f"{set_['metadata']['name']}-{ordinal}"


def get_pvc_name(set_: dict[str, Any], claim_template: dict[str, Any], ordinal: int) -> str:
    """`<template>-<set>-<ordinal>` (the scheduler's zone spreading relies on this format)."""
    return f"{claim_template['metadata']['name']}-{set_['metadata']['name']}-{ordinal}"


def is_member_of(set_: dict[str, Any], pod: dict[str, Any]) -> bool:
    return get_parent_name(pod) == set_["metadata"]["name"]


def identity_matches(set_: dict[str, Any], pod: dict[str, Any]) -> bool:
    md = pod["metadata"]
    parent, ordinal = parent_name_and_ordinal(md["name"])
    smd = set_["metadata"]
    return (ordinal >= 0 and parent == smd["name"] and md["name"] == f"{smd['name']}-{ordinal}"
            and md.get("namespace") == smd.get("namespace")
            and (md.get("labels") or {}).get(POD_NAME_LABEL) == md["name"])


def _claim_templates(set_: dict[str, Any]) -> list[dict[str, Any]]:
    return (set_.get("spec") or {}).get("volumeClaimTemplates") or []


def storage_matches(set_: dict[str, Any], pod: dict[str, Any]) -> bool:
    ordinal = get_ordinal(pod)
    if ordinal < 0:
        return False
    templates = _claim_templates(set_)
    if not templates:
        return True
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    for claim in templates:
        v = volumes.get(claim["metadata"]["name"])
        if v is None:
            return False
        pvc = v.get("persistentVolumeClaim")
        if pvc is None or pvc.get("claimName") != get_pvc_name(set_, claim, ordinal):
            return False
    return True


# ---- PVC retention policy -------------------------------------------------------------------

def get_retention_policy(set_: dict[str, Any]) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain when unset."""
    pol = (set_.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return pol.get("whenDeleted") or RETAIN, pol.get("whenScaled") or RETAIN


def matches_ref(ref: dict[str, Any], obj: dict[str, Any], gvk: tuple[str, str]) -> bool:
    """The ref names obj (same apiVersion, kind and name; the uid is not compared)."""
    return ref.get("apiVersion") == gvk[0] and ref.get("kind") == gvk[1] and ref.get("name") == obj["metadata"].get(
        "name")


def _uid(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("uid") or ""


def has_unexpected_controller(claim: dict[str, Any], set_: dict[str, Any], pod: dict[str, Any]) -> bool:
    """Under a non-Retain policy, another controller (or a stale ref to the set or pod) manages claim."""
    when_deleted, when_scaled = get_retention_policy(set_)
    if when_scaled == RETAIN and when_deleted == RETAIN:
        return False
    for ref in claim["metadata"].get("ownerReferences") or ():
        if matches_ref(ref, set_, CONTROLLER_KIND):
            if ref.get("uid") != _uid(set_):
                return True
            continue
        if matches_ref(ref, pod, POD_KIND):
            if ref.get("uid") != _uid(pod):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def has_non_controller_owner(claim: dict[str, Any], set_: dict[str, Any], pod: dict[str, Any]) -> bool:
    su, pu = _uid(set_), _uid(pod)
    for ref in claim["metadata"].get("ownerReferences") or ():
        if ref.get("uid") in (su, pu) and not ref.get("controller"):
            return True
    return False


def has_owner_ref(target: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = _uid(owner)
    return any(ref.get("uid") == uid for ref in target["metadata"].get("ownerReferences") or ())


def has_stale_owner_ref(target: dict[str, Any], obj: dict[str, Any], gvk: tuple[str, str]) -> bool:
    """target refers to obj by name and kind but with another uid (a previous incarnation)."""
    for ref in target["metadata"].get("ownerReferences") or ():
        if matches_ref(ref, obj, gvk):
            return ref.get("uid") != _uid(obj)
    return False


def _controller_ref_to(owner: dict[str, Any], gvk: tuple[str, str]) -> dict[str, Any]:
    md = owner["metadata"]
    return {"apiVersion": gvk[0], "kind": gvk[1], "name": md["name"], "uid": md.get("uid") or "",
            "controller": True, "blockOwnerDeletion": True}


def add_controller_ref(refs: list[dict[str, Any]], owner: dict[str, Any], gvk: tuple[str, str]
                       ) -> list[dict[str, Any]]:
    uid = _uid(owner)
    if any(r.get("uid") == uid for r in refs):
        return refs
    return refs + [_controller_ref_to(owner, gvk)]


def is_claim_owner_up_to_date(claim: dict[str, Any], set_: dict[str, Any], pod: dict[str, Any]) -> bool:
    """Whether claim's ownerReferences already express the set's retention policy:

    Retain/Retain: no ref to set or pod; whenDeleted=Delete: a ref to the set; whenScaled=Delete:
    a ref to the pod once it is scaled down (Delete/Delete: set ref while in range, pod ref after).
    Claims with stale refs or a foreign controller are left alone (reported as up to date).
    """
    if not claim["metadata"].get("ownerReferences"):
        # the common case, decided without the general checks below (same outcome)
        when_deleted, when_scaled = get_retention_policy(set_)
        if when_deleted == DELETE and when_scaled in (RETAIN, DELETE):
            return False  # needs a ref to the set (or to the pod once scaled down)
        if when_scaled == DELETE and when_deleted == RETAIN:
            return pod_in_ordinal_range(pod, set_)
        return True
    if has_stale_owner_ref(claim, set_, CONTROLLER_KIND) or has_stale_owner_ref(claim, pod, POD_KIND):
        return True
    if has_unexpected_controller(claim, set_, pod):
        if has_owner_ref(claim, set_) or has_owner_ref(claim, pod):
            return False  # our refs must be cleaned up
        return True
    if has_non_controller_owner(claim, set_, pod):
        return False
    when_deleted, when_scaled = get_retention_policy(set_)
    if when_scaled not in (RETAIN, DELETE) or when_deleted not in (RETAIN, DELETE):
        log.error("unknown PVC retention policy %s/%s, treating as Retain", when_deleted, when_scaled)
        when_deleted = when_scaled = RETAIN
    set_ref, pod_ref = has_owner_ref(claim, set_), has_owner_ref(claim, pod)
    if when_scaled == RETAIN and when_deleted == RETAIN:
        return not (set_ref or pod_ref)
    if when_scaled == RETAIN and when_deleted == DELETE:
        return set_ref and not pod_ref
    scaled_down = not pod_in_ordinal_range(pod, set_)
    if when_scaled == DELETE and when_deleted == RETAIN:
        if set_ref:
            return False
        return scaled_down == pod_ref
    # Delete / Delete
    if scaled_down == set_ref:
        return False
    return scaled_down == pod_ref


def update_claim_owner_refs(claim: dict[str, Any], set_: dict[str, Any], pod: dict[str, Any]) -> None:
    """Rewrite claim's ownerReferences (in place) to express the retention policy."""
    md = claim["metadata"]
    refs = list(md.get("ownerReferences") or ())
    unexpected = has_unexpected_controller(claim, set_, pod)
    refs = [r for r in refs if not (matches_ref(r, set_, CONTROLLER_KIND) or matches_ref(r, pod, POD_KIND))]
    if not unexpected:
        when_deleted, when_scaled = get_retention_policy(set_)
        if when_scaled not in (RETAIN, DELETE) or when_deleted not in (RETAIN, DELETE):
            when_deleted = when_scaled = RETAIN
        scaled_down = not pod_in_ordinal_range(pod, set_)
        if when_scaled == RETAIN and when_deleted == DELETE:
            refs = add_controller_ref(refs, set_, CONTROLLER_KIND)
        elif when_scaled == DELETE and when_deleted == RETAIN:
            if scaled_down:
                refs = add_controller_ref(refs, pod, POD_KIND)
        elif when_scaled == DELETE and when_deleted == DELETE:
            if scaled_down:
                refs = add_controller_ref(refs, pod, POD_KIND)
            else:
                refs = add_controller_ref(refs, set_, CONTROLLER_KIND)
    if refs:
        md["ownerReferences"] = refs
    else:
        md.pop("ownerReferences", None)


# ---- claims and pods ------------------------------------------------------------------------

def get_persistent_volume_claims(set_: dict[str, Any], pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """template name -> the claim pod's ordinal needs (named, namespaced, labelled with the
    selector's matchLabels on top of the template's labels)."""
    ordinal = get_ordinal(pod)
    smd = set_["metadata"]
    match_labels = ((set_.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    out: dict[str, dict[str, Any]] = {}
    for tmpl in _claim_templates(set_):
        tmd = tmpl.get("metadata") or {}
        md: dict[str, Any] = {k: deepcopy(v) for k, v in tmd.items()
                              if v is not None and k not in ("creationTimestamp", "resourceVersion", "uid",
                                                             "generation", "managedFields", "selfLink")}
        md["name"] = get_pvc_name(set_, tmpl, ordinal)
        md["namespace"] = smd.get("namespace")
        labels = dict(md.get("labels") or {})
        labels.update(match_labels)
        if labels:
            md["labels"] = labels
        else:
            md.pop("labels", None)
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md,
                 "spec": deepcopy(tmpl.get("spec") or {})}
        out[tmd["name"]] = claim
    return out


def update_storage(set_: dict[str, Any], pod: dict[str, Any]) -> None:
    """Point pod's volumes (in place) at its claims, replacing same-named volumes."""
    ordinal = get_ordinal(pod)
    spec = pod.setdefault("spec", {})
    templates = _claim_templates(set_)
    names = set()
    vols = []
    for tmpl in templates:
        name = tmpl["metadata"]["name"]
        names.add(name)
        vols.append({"name": name, "persistentVolumeClaim": {"claimName": get_pvc_name(set_, tmpl, ordinal)}})
    vols.extend(v for v in spec.get("volumes") or () if v.get("name") not in names)
    if vols:
        spec["volumes"] = vols
    else:
        spec.pop("volumes", None)


def update_identity(set_: dict[str, Any], pod: dict[str, Any]) -> None:
    """Name, namespace and the pod-name / pod-index labels (in place)."""
    ordinal = get_ordinal(pod)
    md = pod["metadata"]
    md["name"] = get_pod_name(set_, ordinal)
    md["namespace"] = set_["metadata"].get("namespace")
    labels = md.get("labels")
    if labels is None:
        labels = md["labels"] = {}
    labels[POD_NAME_LABEL] = md["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)  # PodIndexLabel: GA and on in v1.32


def init_identity(set_: dict[str, Any], pod: dict[str, Any]) -> None:
    """update_identity plus hostname/subdomain, which are immutable and only set at creation."""
    update_identity(set_, pod)
    spec = pod.setdefault("spec", {})
    spec["hostname"] = pod["metadata"]["name"]
    service = (set_.get("spec") or {}).get("serviceName") or ""
    if service:
        spec["subdomain"] = service
    else:
        spec.pop("subdomain", None)


def set_pod_revision(pod: dict[str, Any], revision: str) -> None:
    md = pod["metadata"]
    if md.get("labels") is None:
        md["labels"] = {}
    md["labels"][REVISION_LABEL] = revision


def get_pod_revision(pod: dict[str, Any]) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


def controller_ref(set_: dict[str, Any]) -> dict[str, Any]:
    return _controller_ref_to(set_, CONTROLLER_KIND)


def pod_from_template(set_: dict[str, Any]) -> dict[str, Any]:
    """upstream controller.GetPodFromTemplate: template labels, annotations, finalizers and spec,
    generateName `<set>-`, and the controller ref."""
    tmpl = (set_.get("spec") or {}).get("template") or {}
    tmd = tmpl.get("metadata") or {}
    md: dict[str, Any] = {"generateName": set_["metadata"]["name"] + "-",
                          "labels": dict(tmd.get("labels") or {})}
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    if tmd.get("finalizers"):
        md["finalizers"] = list(tmd["finalizers"])
    md["ownerReferences"] = [controller_ref(set_)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": deepcopy(tmpl.get("spec") or {})}


def new_stateful_set_pod(set_: dict[str, Any], ordinal: int) -> dict[str, Any]:
    pod = pod_from_template(set_)
    pod["metadata"]["name"] = get_pod_name(set_, ordinal)
    init_identity(set_, pod)
    update_storage(set_, pod)
    return pod


def _partition(set_: dict[str, Any]) -> int | None:
    ru = ((set_.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    if ru is None:
        return None
    return int(ru.get("partition") or 0)


def update_strategy_type(set_: dict[str, Any]) -> str:
    return ((set_.get("spec") or {}).get("updateStrategy") or {}).get("type") or ROLLING_UPDATE


def new_versioned_stateful_set_pod(current_set: dict[str, Any], update_set: dict[str, Any], current_revision: str,
                                   update_revision: str, ordinal: int) -> dict[str, Any]:
    """A missing pod is created at the current revision when its ordinal is below the partition
    (or below the current replicas for a RollingUpdate without rollingUpdate), otherwise at the
    update revision. The condition keeps upstream's operator precedence: (A && B) || C."""
    start = get_start_ordinal(current_set)
    partition = _partition(current_set)
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    if ((update_strategy_type(current_set) == ROLLING_UPDATE and partition is None
         and ordinal < start + current_replicas)
            or (partition is not None and ordinal < start + partition)):
        pod = new_stateful_set_pod(current_set, ordinal)
        set_pod_revision(pod, current_revision)
        return pod
    pod = new_stateful_set_pod(update_set, ordinal)
    set_pod_revision(pod, update_revision)
    return pod


# ---- pod state ------------------------------------------------------------------------------

def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_running_and_ready(pod: dict[str, Any]) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


# upstream isRunningAndAvailable is podutil.IsPodAvailable
is_running_and_available = is_pod_available


def is_created(pod: dict[str, Any]) -> bool:
    return _phase(pod) != ""


def is_pending(pod: dict[str, Any]) -> bool:
    return _phase(pod) == "Pending"


def is_failed(pod: dict[str, Any]) -> bool:
    return _phase(pod) == "Failed"


def is_succeeded(pod: dict[str, Any]) -> bool:
    return _phase(pod) == "Succeeded"


def is_terminating(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_healthy(pod: dict[str, Any]) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def allows_burst(set_: dict[str, Any]) -> bool:
    return (set_.get("spec") or {}).get("podManagementPolicy") == PARALLEL


def min_ready_seconds(set_: dict[str, Any]) -> int:
    return int((set_.get("spec") or {}).get("minReadySeconds") or 0)


# ---- revisions --------------------------------------------------------------------------------

def _go_template(template: dict[str, Any]) -> dict[str, Any]:
    """The template as a v1.32 Go client encodes it: embedded ObjectMeta always carries
    `creationTimestamp: null` (the API stores it so already; this covers objects that lack it)."""
    t = dict(template)
    md = dict(t.get("metadata") or {})
    md.setdefault("creationTimestamp", None)
    t["metadata"] = md
    return t


def get_patch(set_: dict[str, Any]) -> bytes:
    """The strategic merge patch that restores set's pod template: `{"spec":{"template":{"$patch":
    "replace",...}}}`, serialized as Go does (this is what `kubectl rollout undo` sends back)."""
    return go_json(patch_data(set_))


def patch_data(set_: dict[str, Any]) -> dict[str, Any]:
    template = _go_template((set_.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def new_revision(set_: dict[str, Any], revision: int, collision_count: int) -> dict[str, Any]:
    """A ControllerRevision holding set's template patch; set annotations are copied onto it
    (kubectl rollout history reads kubernetes.io/change-cause from there)."""
    tmpl_labels = (((set_.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
    cr = new_controller_revision(set_, CONTROLLER_KIND, tmpl_labels, orjson.loads(get_patch(set_)), revision,
                                 collision_count)
    ann = set_["metadata"].get("annotations")
    if ann:
        cr["metadata"]["annotations"] = dict(ann)
    return cr


def _strip_patch(v: Any) -> Any:
    """A `$patch: replace` value as strategic merge would store it: directives and nulls removed."""
    if isinstance(v, dict):
        return {k: _strip_patch(x) for k, x in v.items() if x is not None and not k.startswith("$")}
    if isinstance(v, list):
        return [_strip_patch(x) for x in v]
    return v


def apply_revision(set_: dict[str, Any], revision: dict[str, Any]) -> dict[str, Any]:
    """set with revision's saved state applied (a copy). Revisions written by a StatefulSet
    controller replace spec.template; anything else goes through the generic strategic merge."""
    data = revision.get("data") or {}
    spec_patch = data.get("spec") if isinstance(data, dict) else None
    clone = deepcopy(set_)
    if (isinstance(spec_patch, dict) and set(data) == {"spec"} and set(spec_patch) == {"template"}
            and isinstance(spec_patch["template"], dict) and spec_patch["template"].get("$patch") == "replace"):
        tmpl = _strip_patch(spec_patch["template"])
        md = tmpl.get("metadata")
        if isinstance(md, dict):
            md.setdefault("creationTimestamp", None)
        clone.setdefault("spec", {})["template"] = tmpl
        return clone
    from ...api.patch import strategic_merge_patch  # generic path: revisions we did not write

    return strategic_merge_patch(clone, deepcopy(data), "io.k8s.api.apps.v1.StatefulSet")


def next_revision(revisions: list[dict[str, Any]]) -> int:
    """One more than the highest revision number (revisions sorted ascending); 1 when empty."""
    if not revisions:
        return 1
    return int(revisions[-1].get("revision") or 0) + 1


# ---- status ------------------------------------------------------------------------------------

STATUS_COUNTERS = ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas")


def inconsistent_status(set_: dict[str, Any], status: dict[str, Any]) -> bool:
    """Whether status differs from the set's (collisionCount alone does not count, as upstream)."""
    cur = set_.get("status") or {}
    if int(status.get("observedGeneration") or 0) > int(cur.get("observedGeneration") or 0):
        return True
    for k in STATUS_COUNTERS:
        if int(status.get(k) or 0) != int(cur.get(k) or 0):
            return True
    return ((status.get("currentRevision") or "") != (cur.get("currentRevision") or "")
            or (status.get("updateRevision") or "") != (cur.get("updateRevision") or ""))


def complete_rolling_update(set_: dict[str, Any], status: dict[str, Any]) -> None:
    """When every replica is updated and ready, the update revision becomes the current one."""
    replicas = get_replicas(set_)
    if (update_strategy_type(set_) == ROLLING_UPDATE and status.get("updatedReplicas", 0) == replicas
            and status.get("readyReplicas", 0) == replicas and status.get("replicas", 0) == replicas):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


def status_to_api(status: dict[str, Any]) -> dict[str, Any]:
    """The status as Go encodes apps/v1 StatefulSetStatus: omitempty counters and strings are
    left out when zero; replicas and availableReplicas are always written; collisionCount is a
    pointer and written whenever set."""
    out: dict[str, Any] = {}
    if status.get("observedGeneration"):
        out["observedGeneration"] = status["observedGeneration"]
    out["replicas"] = int(status.get("replicas") or 0)
    for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
        if status.get(k):
            out[k] = int(status[k])
    for k in ("currentRevision", "updateRevision"):
        if status.get(k):
            out[k] = status[k]
    if status.get("collisionCount") is not None:
        out["collisionCount"] = int(status["collisionCount"])
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    out["availableReplicas"] = int(status.get("availableReplicas") or 0)
    return out


def get_max_unavailable(max_unavailable: Any, replicas: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent rounding down, default 1, never below 1."""
    if max_unavailable is None:
        value = 1
    elif isinstance(max_unavailable, str):
        s = max_unavailable.strip()
        if s.endswith("%"):
            try:
                pct = int(s[:-1])
            except ValueError:
                raise ValueError(f"invalid value for IntOrString: invalid value {s!r}") from None
            value = math.floor(pct * replicas / 100)
        else:
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    else:
        value = int(max_unavailable)
    return max(value, 1)

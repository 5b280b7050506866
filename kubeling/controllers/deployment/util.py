"""Pure helpers of the Deployment controller (upstream pkg/controller/deployment/util,
deployment_util.go, plus the ReplicaSet orderings of controller_utils.go and labels helpers).

Objects are plain dicts as the API serves them; nothing here talks to the API. Functions that
upstream writes as mutations of a Go struct mutate the dict they are given and say so.
"""
from __future__ import annotations

import copy
import functools
import math
import re
import time
from collections.abc import Iterable
from typing import Any

from ...api.meta import now_rfc3339, parse_time

Obj = dict[str, Any]

# Annotations (apps/v1 and deployment_util.go).
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED_CONFIG_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY = "pod-template-hash"

# Rollback event reasons.
ROLLBACK_REVISION_NOT_FOUND = "DeploymentRollbackRevisionNotFound"
ROLLBACK_TEMPLATE_UNCHANGED = "DeploymentRollbackTemplateUnchanged"
ROLLBACK_DONE = "DeploymentRollback"

# Condition types and reasons.
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
REPLICA_SET_UPDATED_REASON = "ReplicaSetUpdated"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
NEW_REPLICA_SET_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"

# Upstream maxRevHistoryLengthInChars: the revision-history annotation stays below this length.
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
MAX_INT32 = 2 ** 31 - 1

_ANNOTATIONS_TO_SKIP = frozenset({
    LAST_APPLIED_CONFIG_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    DEPRECATED_ROLLBACK_TO,
})


# ---- small accessors ---------------------------------------------------------------------------------

def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _annotations(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def _ensure_annotations(obj: Obj) -> dict[str, str]:
    md = obj["metadata"]
    ann = md.get("annotations")
    if ann is None:
        ann = md["annotations"] = {}
    return ann


def replicas(obj: Obj) -> int:
    """spec.replicas (always set on stored objects; 1 is the API default)."""
    v = _spec(obj).get("replicas")
    return 1 if v is None else int(v)


def status_int(obj: Obj | None, field: str) -> int:
    if obj is None:
        return 0
    return int(_status(obj).get(field) or 0)


def generation(obj: Obj) -> int:
    return int(obj["metadata"].get("generation") or 0)


# ---- conditions --------------------------------------------------------------------------------------

def new_deployment_condition(type_: str, status: str, reason: str, message: str, now: float | None = None) -> Obj:
    """NewDeploymentCondition: both timestamps set to now."""
    ts = now_rfc3339(now)
    return {"type": type_, "status": status, "lastUpdateTime": ts, "lastTransitionTime": ts,
            "reason": reason, "message": message}


def get_deployment_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def set_deployment_condition(status: Obj, condition: Obj) -> None:
    """SetDeploymentCondition: no-op when status and reason are unchanged; keeps lastTransitionTime
    when only the reason changes."""
    cur = get_deployment_condition(status, condition["type"])
    if cur is not None and cur.get("status") == condition["status"] and cur.get("reason") == condition["reason"]:
        return
    if cur is not None and cur.get("status") == condition["status"]:
        condition = dict(condition, lastTransitionTime=cur.get("lastTransitionTime"))
    conds = [c for c in status.get("conditions") or () if c.get("type") != condition["type"]]
    conds.append(condition)
    status["conditions"] = conds


def remove_deployment_condition(status: Obj, type_: str) -> None:
    conds = [c for c in status.get("conditions") or () if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def replica_set_to_deployment_condition(cond: Obj) -> Obj:
    """ReplicaSetToDeploymentCondition: promote a ReplicaSet failure condition."""
    out = {"type": cond.get("type"), "status": cond.get("status"),
           "lastUpdateTime": cond.get("lastTransitionTime"), "lastTransitionTime": cond.get("lastTransitionTime"),
           "reason": cond.get("reason"), "message": cond.get("message")}
    return {k: v for k, v in out.items() if v is not None}


# ---- revisions and annotations ------------------------------------------------------------------------

def set_deployment_revision(d: Obj, revision: str) -> bool:
    """SetDeploymentRevision: mutates d; True when the annotation changed."""
    ann = _ensure_annotations(d)
    if ann.get(REVISION_ANNOTATION) != revision:
        ann[REVISION_ANNOTATION] = revision
        return True
    return False


_GO_INT = re.compile(r"[+-]?[0-9]+\Z")


def parse_go_int(s: str, bits: int = 64) -> int:
    """strconv.ParseInt(s, 10, bits): ValueError on syntax or range errors."""
    if not _GO_INT.match(s):
        raise ValueError(f'strconv.ParseInt: parsing "{s}": invalid syntax')
    v = int(s, 10)
    if not -(2 ** (bits - 1)) <= v < 2 ** (bits - 1):
        raise ValueError(f'strconv.ParseInt: parsing "{s}": value out of range')
    return v


def revision(obj: Obj) -> int:
    """Revision: the revision annotation as an int, 0 when absent, ValueError when malformed."""
    v = _annotations(obj).get(REVISION_ANNOTATION)
    if v is None:
        return 0
    return parse_go_int(v)


def _revision_or_none(obj: Obj) -> int | None:
    try:
        return revision(obj)
    except ValueError:
        return None


def max_revision(rss: Iterable[Obj | None]) -> int:
    """MaxRevision: the highest parseable revision among rss (0 when none)."""
    best = 0
    for rs in rss:
        if rs is None:
            continue
        v = _revision_or_none(rs)
        if v is not None and v > best:
            best = v
    return best


def last_revision(rss: Iterable[Obj | None]) -> int:
    """LastRevision: the second highest revision (the one a rollback without --to-revision picks)."""
    mx = sec = 0
    for rs in rss:
        if rs is None:
            continue
        v = _revision_or_none(rs)
        if v is None:
            continue
        if v >= mx:
            sec, mx = mx, v
        elif v > sec:
            sec = v
    return sec


def skip_copy_annotation(key: str) -> bool:
    return key in _ANNOTATIONS_TO_SKIP


def copy_deployment_annotations_to_replica_set(d: Obj, rs: Obj) -> bool:
    """copyDeploymentAnnotationsToReplicaSet: mutates rs; True when its annotations changed."""
    changed = False
    ann = _ensure_annotations(rs)
    for k, v in _annotations(d).items():
        if skip_copy_annotation(k) or (k in ann and ann[k] == v):
            continue
        ann[k] = v
        changed = True
    return changed


def set_new_replica_set_annotations(d: Obj, new_rs: Obj, new_revision: str, exists: bool,
                                    rev_history_limit_in_chars: int = MAX_REV_HISTORY_LENGTH_IN_CHARS) -> bool:
    """SetNewReplicaSetAnnotations: copy the deployment's annotations, raise the revision (keeping
    the revision history of a rolled-back-to ReplicaSet), and set the replicas annotations of a
    ReplicaSet about to be created. Mutates new_rs; True when its annotations changed."""
    changed = copy_deployment_annotations_to_replica_set(d, new_rs)
    ann = _ensure_annotations(new_rs)
    old_revision = ann.get(REVISION_ANNOTATION)
    had = old_revision is not None
    old_revision = old_revision or ""
    if old_revision == "":
        old_int = 0
    else:
        try:
            old_int = parse_go_int(old_revision)
        except ValueError:
            return False
    try:
        new_int = parse_go_int(new_revision)
    except ValueError:
        return False
    if old_int < new_int:
        ann[REVISION_ANNOTATION] = new_revision
        changed = True
    if had and old_int < new_int:
        history = ann.get(REVISION_HISTORY_ANNOTATION, "")
        old_revisions = history.split(",")
        if len(old_revisions[0]) == 0:
            ann[REVISION_HISTORY_ANNOTATION] = old_revision
        else:
            total = len(history) + len(old_revision) + 1
            start = 0
            while total > rev_history_limit_in_chars and start < len(old_revisions):
                total -= len(old_revisions[start]) + 1
                start += 1
            if total <= rev_history_limit_in_chars:
                ann[REVISION_HISTORY_ANNOTATION] = ",".join(old_revisions[start:] + [old_revision])
    if not exists and set_replicas_annotations(new_rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def get_skipped_annotations(annotations: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (annotations or {}).items() if skip_copy_annotation(k)}


def set_deployment_annotations_to(d: Obj, rollback_to_rs: Obj) -> None:
    """SetDeploymentAnnotationsTo: the deployment takes the rolled-back-to ReplicaSet's annotations
    (except the skipped ones, which it keeps). Mutates d."""
    ann = get_skipped_annotations(_annotations(d))
    for k, v in _annotations(rollback_to_rs).items():
        if not skip_copy_annotation(k):
            ann[k] = v
    d["metadata"]["annotations"] = ann


def _int_annotation(rs: Obj, key: str) -> tuple[int, bool]:
    v = _annotations(rs).get(key)
    if v is None:
        return 0, False
    try:
        return parse_go_int(v), True  # strconv.Atoi
    except ValueError:
        return 0, False


def get_desired_replicas_annotation(rs: Obj) -> tuple[int, bool]:
    return _int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)


def get_max_replicas_annotation(rs: Obj) -> tuple[int, bool]:
    return _int_annotation(rs, MAX_REPLICAS_ANNOTATION)


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    """SetReplicasAnnotations: mutates rs; True when either annotation changed."""
    ann = _ensure_annotations(rs)
    updated = False
    if ann.get(DESIRED_REPLICAS_ANNOTATION) != str(desired):
        ann[DESIRED_REPLICAS_ANNOTATION] = str(desired)
        updated = True
    if ann.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas):
        ann[MAX_REPLICAS_ANNOTATION] = str(max_replicas)
        updated = True
    return updated


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].get("annotations")
    if ann is None:
        return True
    return ann.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or ann.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas)


# ---- surge / unavailable -----------------------------------------------------------------------------

def get_scaled_value_from_int_or_percent(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: ValueError for nil, non-percent strings and bad numbers."""
    if value is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(value, bool):
        raise ValueError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if not value.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        v = parse_go_int(value[:-1])
    except ValueError:
        raise ValueError(f'invalid value for IntOrString: invalid value "{value}"') from None
    scaled = v * total / 100
    return int(math.ceil(scaled) if round_up else math.floor(scaled))


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None, desired: int
                       ) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailable rounds down; both zero means unavailable 1."""
    surge = get_scaled_value_from_int_or_percent(0 if max_surge is None else max_surge, desired, True)
    unavailable = get_scaled_value_from_int_or_percent(0 if max_unavailable is None else max_unavailable,
                                                       desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling_update(d: Obj) -> bool:
    return (_spec(d).get("strategy") or {}).get("type") == ROLLING_UPDATE


def _rolling(d: Obj) -> Obj:
    return (_spec(d).get("strategy") or {}).get("rollingUpdate") or {}


def max_unavailable(d: Obj) -> int:
    """MaxUnavailable: 0 unless rolling (or with 0 replicas); never more than the replicas."""
    n = replicas(d)
    if not is_rolling_update(d) or n == 0:
        return 0
    ru = _rolling(d)
    _, mu = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), n)
    return min(mu, n)


def min_available(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    return replicas(d) - max_unavailable(d)


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    ms, _ = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))
    return ms


def _round_to_int32(x: float) -> int:
    """integer.RoundToInt32: math.Round (half away from zero)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def get_replica_set_fraction(rs: Obj, d: Obj) -> int:
    """getReplicaSetFraction: how many replicas rs gains (or loses) in a proportional scale."""
    dr = replicas(d)
    rr = replicas(rs)
    if dr == 0:
        return -rr
    deployment_replicas = dr + max_surge(d)
    annotated, ok = get_max_replicas_annotation(rs)
    if not ok:
        annotated = status_int(d, "replicas")
    if annotated == 0:
        return 0
    return _round_to_int32(rr * deployment_replicas / annotated) - rr


def get_proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    """GetProportion: rs's share of to_add, bounded by what is still allowed."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = get_replica_set_fraction(rs, d)
    allowed = to_add - added
    if to_add > 0:
        return min(fraction, allowed)
    return max(fraction, allowed)


# ---- finding replica sets -----------------------------------------------------------------------------

def _without_hash(labels: dict[str, str] | None) -> dict[str, str]:
    if not labels:
        return {}
    if DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY not in labels:
        return labels
    return {k: v for k, v in labels.items() if k != DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY}


def semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual on decoded JSON: a missing field, null and an empty list or
    map are the same (Go's nil and empty slices/maps compare equal there)."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            if not semantic_equal(a.get(k), b.get(k)):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    if (a is None or a == {} or a == []) and (b is None or b == {} or b == []):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """EqualIgnoreHash: pod templates equal when the pod-template-hash label is ignored."""
    t1 = t1 or {}
    t2 = t2 or {}
    if t1 == t2:
        return True
    m1 = t1.get("metadata") or {}
    m2 = t2.get("metadata") or {}
    # fast path: equal once the hash label is dropped (the new ReplicaSet's template, every sync)
    if t1.get("spec") == t2.get("spec") and dict(m1, labels=_without_hash(m1.get("labels"))) == dict(
            m2, labels=_without_hash(m2.get("labels"))) and t1.keys() == t2.keys():
        return True
    if not semantic_equal(_without_hash(m1.get("labels")), _without_hash(m2.get("labels"))):
        return False
    for k in m1.keys() | m2.keys():
        if k != "labels" and not semantic_equal(m1.get(k), m2.get(k)):
            return False
    for k in t1.keys() | t2.keys():
        if k != "metadata" and not semantic_equal(t1.get(k), t2.get(k)):
            return False
    return True


def creation_key(rs: Obj) -> tuple[float, str]:
    """ReplicaSetsByCreationTimestamp order: creation time, then name."""
    md = rs["metadata"]
    return (parse_time(md.get("creationTimestamp")) or 0.0, md.get("name") or "")


def sort_by_creation(rss: list[Obj]) -> None:
    """In place, as sort.Sort(controller.ReplicaSetsByCreationTimestamp(rss))."""
    rss.sort(key=creation_key)


def sort_by_size_older(rss: list[Obj]) -> None:
    """ReplicaSetsBySizeOlder: larger first, ties from old to new."""
    rss.sort(key=creation_key)
    rss.sort(key=replicas, reverse=True)


def sort_by_size_newer(rss: list[Obj]) -> None:
    """ReplicaSetsBySizeNewer: larger first, ties from new to old."""
    rss.sort(key=creation_key, reverse=True)
    rss.sort(key=replicas, reverse=True)


def sort_by_revision(rss: list[Obj]) -> None:
    """ReplicaSetsByRevision: by revision; equal or unparseable revisions by creation time."""

    def cmp(a: Obj, b: Obj) -> int:
        ra, rb = _revision_or_none(a), _revision_or_none(b)
        if ra is None or rb is None or ra == rb:
            ka, kb = creation_key(a), creation_key(b)
            return -1 if ka < kb else (1 if kb < ka else 0)
        return -1 if ra < rb else 1

    rss.sort(key=functools.cmp_to_key(cmp))


def filter_active_replica_sets(rss: Iterable[Obj | None]) -> list[Obj]:
    """FilterActiveReplicaSets: the ReplicaSets with a positive spec.replicas."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """FindActiveOrLatest: the only active ReplicaSet, the newest if none is active, None when
    several are active (they are then scaled proportionally)."""
    if new_rs is None and not old_rss:
        return None
    old_rss.sort(key=creation_key, reverse=True)
    active = filter_active_replica_sets([*old_rss, new_rs])
    if not active:
        return new_rs if new_rs is not None else old_rss[0]
    if len(active) == 1:
        return active[0]
    return None


def find_new_replica_set(d: Obj, rs_list: list[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's (sorts rs_list)."""
    sort_by_creation(rs_list)
    tpl = _spec(d).get("template")
    for rs in rs_list:
        if equal_ignore_hash(_spec(rs).get("template"), tpl):
            return rs
    return None


def find_old_replica_sets(d: Obj, rs_list: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """FindOldReplicaSets: (old ReplicaSets with replicas, all old ReplicaSets)."""
    new_rs = find_new_replica_set(d, rs_list)
    new_uid = new_rs["metadata"].get("uid") if new_rs is not None else None
    required: list[Obj] = []
    all_old: list[Obj] = []
    for rs in rs_list:
        if new_rs is not None and rs["metadata"].get("uid") == new_uid:
            continue
        all_old.append(rs)
        if replicas(rs) != 0:
            required.append(rs)
    return required, all_old


def set_from_replica_set_template(d: Obj, template: Obj) -> None:
    """SetFromReplicaSetTemplate: the deployment takes the template without the hash label (mutates d)."""
    t = copy.deepcopy(template)
    md = t.setdefault("metadata", {})
    labels = md.get("labels")
    if labels is not None:
        md["labels"] = _without_hash(labels)
    d.setdefault("spec", {})["template"] = t


def get_replica_count_for_replica_sets(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def get_actual_replica_count_for_replica_sets(rss: Iterable[Obj | None]) -> int:
    return sum(status_int(rs, "replicas") for rs in rss if rs is not None)


def get_ready_replica_count_for_replica_sets(rss: Iterable[Obj | None]) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in rss if rs is not None)


def get_available_replica_count_for_replica_sets(rss: Iterable[Obj | None]) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in rss if rs is not None)


# ---- progress ----------------------------------------------------------------------------------------

def has_progress_deadline(d: Obj) -> bool:
    v = _spec(d).get("progressDeadlineSeconds")
    return v is not None and int(v) != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    v = _spec(d).get("revisionHistoryLimit")
    return v is not None and int(v) != MAX_INT32


def deployment_complete(d: Obj, new_status: Obj) -> bool:
    """DeploymentComplete: every replica updated and available, nothing old left, generation observed."""
    n = replicas(d)
    return (int(new_status.get("updatedReplicas") or 0) == n
            and int(new_status.get("replicas") or 0) == n
            and int(new_status.get("availableReplicas") or 0) == n
            and int(new_status.get("observedGeneration") or 0) >= generation(d))


def deployment_progressing(d: Obj, new_status: Obj) -> bool:
    """DeploymentProgressing: more updated, fewer old, more ready or more available replicas."""
    old = _status(d)

    def g(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new_status, "replicas") - g(new_status, "updatedReplicas")
    return (g(new_status, "updatedReplicas") > g(old, "updatedReplicas")
            or new_old < old_old
            or g(new_status, "readyReplicas") > g(old, "readyReplicas")
            or g(new_status, "availableReplicas") > g(old, "availableReplicas"))


def deployment_timed_out(d: Obj, new_status: Obj, now: float | None = None) -> bool:
    """DeploymentTimedOut: the Progressing condition is older than progressDeadlineSeconds (or
    already says so). A completed rollout never times out."""
    if not has_progress_deadline(d):
        return False
    cond = get_deployment_condition(new_status, PROGRESSING)
    if cond is None:
        return False
    if cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    frm = parse_time(cond.get("lastUpdateTime")) or 0.0
    now = time.time() if now is None else now
    return frm + int(_spec(d)["progressDeadlineSeconds"]) < now


def new_rs_new_replicas(d: Obj, all_rss: Iterable[Obj | None], new_rs: Obj) -> int:
    """NewRSNewReplicas: the new ReplicaSet's next size (bounded by surge when rolling)."""
    strategy = (_spec(d).get("strategy") or {}).get("type")
    n = replicas(d)
    if strategy == ROLLING_UPDATE:
        surge = get_scaled_value_from_int_or_percent(_rolling(d).get("maxSurge"), n, True)
        current = get_replica_count_for_replica_sets(all_rss)
        max_total = n + surge
        if current >= max_total:
            return replicas(new_rs)
        scale_up = min(max_total - current, n - replicas(new_rs))
        return replicas(new_rs) + scale_up
    if strategy == RECREATE:
        return n
    raise ValueError(f"deployment type {strategy} isn't supported")


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """IsSaturated: rs holds (and is annotated to hold) all the deployment's replicas."""
    if rs is None:
        return False
    desired, ok = get_desired_replicas_annotation(rs)
    if not ok:
        return False
    return replicas(rs) == replicas(d) and desired == replicas(d)


# ---- labels ------------------------------------------------------------------------------------------

def clone_and_add_label(labels: dict[str, str] | None, key: str, value: str) -> dict[str, str]:
    out = dict(labels or {})
    out[key] = value
    return out


def clone_selector_and_add_label(selector: Obj | None, key: str, value: str) -> Obj:
    """CloneSelectorAndAddLabel: the selector plus key=value in matchLabels."""
    selector = selector or {}
    out: Obj = {"matchLabels": dict(selector.get("matchLabels") or {})}
    out["matchLabels"][key] = value
    exps = selector.get("matchExpressions")
    if exps:
        out["matchExpressions"] = [
            {k: (list(v) if isinstance(v, list) else v) for k, v in e.items()} for e in exps]
    return out


def selects_everything(selector: Obj | None) -> bool:
    """The deployment selects all pods: an empty (not nil) label selector."""
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


# ---- rollback annotation (deprecated extensions/v1beta1 rollbackTo) ------------------------------------

def get_rollback_to(d: Obj) -> int | None:
    """getRollbackTo: the revision of the deprecated rollback annotation, None when unset or invalid."""
    v = _annotations(d).get(DEPRECATED_ROLLBACK_TO)
    if not v:
        return None
    try:
        return parse_go_int(v)
    except ValueError:
        return None


def clear_rollback_to(d: Obj) -> None:
    ann = d["metadata"].get("annotations")
    if ann:
        ann.pop(DEPRECATED_ROLLBACK_TO, None)

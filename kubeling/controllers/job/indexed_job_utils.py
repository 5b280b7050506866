"""Indexed completion mode (upstream pkg/controller/job/indexed_job_utils.go): completion indexes
of pods, the `status.completedIndexes` interval notation ("0-2,5"), which indexes still need a pod,
and the per-index additions to the pod template (annotation, label, hostname, env variable).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..common.podutil import is_pod_active
from .utils import COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV

Obj = dict[str, Any]


def get_completion_index(pod: Obj) -> int | None:
    """getCompletionIndex: the annotation (then the label) as a non-negative int, None if invalid."""
    md = pod["metadata"]
    v = (md.get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if v is None:
        v = (md.get("labels") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if v is None or not v.isdigit() or not v.isascii():
        return None
    return int(v)


def valid_index(pod: Obj, completions: int) -> int | None:
    i = get_completion_index(pod)
    return i if i is not None and i < completions else None


def parse_indexes(s: str | None, completions: int) -> set[int]:
    """parseIndexesFromString: "1,3-5" -> {1, 3, 4, 5}; invalid parts and indexes >= completions skipped."""
    out: set[int] = set()
    for part in (s or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if hi else a
        except ValueError:
            continue
        out.update(i for i in range(a, b + 1) if 0 <= i < completions)
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """orderedIntervals.String(): sorted indexes as "0-2,5"; two consecutive ones as "3,4"."""
    xs = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        if j == i:
            parts.append(str(xs[i]))
        elif j == i + 1:
            parts.append(f"{xs[i]},{xs[j]}")
        else:
            parts.append(f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ",".join(parts)


def succeeded_indexes(job: Obj, pods: list[Obj]) -> set[int]:
    """calculateSucceededIndexes: status.completedIndexes plus the indexes of Succeeded pods."""
    completions = int((job.get("spec") or {}).get("completions") or 0)
    out = parse_indexes((job.get("status") or {}).get("completedIndexes"), completions)
    for p in pods:
        if (p.get("status") or {}).get("phase") == "Succeeded":
            i = valid_index(p, completions)
            if i is not None:
                out.add(i)
    return out


def first_pending_indexes(active_pods: list[Obj], done: set[int], count: int, completions: int,
                          terminating: Iterable[Obj] = ()) -> list[int]:
    """firstPendingIndexes: the lowest `count` indexes neither succeeded nor held by a live pod."""
    taken = set(done)
    for p in list(active_pods) + list(terminating):
        i = valid_index(p, completions)
        if i is not None:
            taken.add(i)
    out: list[int] = []
    for i in range(completions):
        if len(out) >= count:
            break
        if i not in taken:
            out.append(i)
    return out


def pods_for_removal(active_pods: list[Obj], done: set[int], completions: int) -> list[Obj]:
    """appendDuplicatedIndexPodsForRemoval: pods with an invalid, succeeded or repeated index."""
    out: list[Obj] = []
    seen: set[int] = set()
    for p in sorted(active_pods, key=lambda p: (get_completion_index(p) or 0, p["metadata"].get("creationTimestamp")
                                                or "")):
        i = valid_index(p, completions)
        if i is None or i in done or i in seen:
            out.append(p)
        else:
            seen.add(i)
    return out


def add_completion_index_env(template: Obj) -> None:
    """addCompletionIndexEnvVariables: JOB_COMPLETION_INDEX from the index label (PodIndexLabel on)."""
    spec = template.setdefault("spec", {})
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            env = c.get("env") or []
            if any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                continue
            c["env"] = [*env, {"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": f"metadata.labels['{COMPLETION_INDEX_ANNOTATION}']"}}}]


def add_completion_index(template: Obj, job_name: str, index: int) -> None:
    """The per-pod additions: index annotation and label, hostname `<job>-<index>`."""
    md = template.setdefault("metadata", {})
    md["annotations"] = {**(md.get("annotations") or {}), COMPLETION_INDEX_ANNOTATION: str(index)}
    md["labels"] = {**(md.get("labels") or {}), COMPLETION_INDEX_ANNOTATION: str(index)}
    template.setdefault("spec", {})["hostname"] = f"{job_name}-{index}"


__all__ = ["add_completion_index", "add_completion_index_env", "first_pending_indexes", "format_indexes",
           "get_completion_index", "is_pod_active", "parse_indexes", "pods_for_removal", "succeeded_indexes",
           "valid_index"]

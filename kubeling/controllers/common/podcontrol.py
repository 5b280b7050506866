"""Pod creation and deletion on behalf of a controller, and pod-template hashing, as upstream
controller_utils.go has them (RealPodControl, GetPodFromTemplate, ComputeHash).

`PodControl.create_pods` builds the pod from a template (generateName `<parent>-`, the template's
labels, annotations and finalizers, the controller ref), creates it and records the upstream events
on the parent: SuccessfulCreate "Created pod: web-abcde" / FailedCreate "Error creating: ...";
`delete_pod` records SuccessfulDelete "Deleted pod: ..." / FailedDelete "Error deleting: ...".

`slow_start_batch` is the batching both the ReplicaSet and the StatefulSet controller create pods
with. `compute_hash` (ComputeHash) is defined in `history` and re-exported here.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ...api.errors import ApiError
from ...client.client import deepcopy
from .history import compute_hash, fnv32a

log = logging.getLogger(__name__)

SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"

# controller.SlowStartInitialBatchSize
SLOW_START_INITIAL_BATCH_SIZE = 1


async def slow_start_batch(count: int, initial_batch_size: int, fn: Callable[[int], Awaitable[Any]],
                           max_batch_size: int | None = None) -> tuple[int, list[BaseException]]:
    """slowStartBatch: call fn(0), ..., fn(count-1) in batches of initial, 2x, 4x, ... (at most
    max_batch_size) and stop after the first batch with a failure, so a call that fails for every pod
    (quota, admission) is made a handful of times rather than count times. Each batch runs
    concurrently. Returns (successes, the errors of the failed batch); cancellation propagates."""
    successes = 0
    pos = 0
    remaining = count
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn(i) for i in range(pos, pos + batch)), return_exceptions=True)
        pos += batch
        errs = [r for r in results if isinstance(r, BaseException)]
        for e in errs:
            if isinstance(e, asyncio.CancelledError):
                raise e
        successes += batch - len(errs)
        if errs:
            return successes, errs
        remaining -= batch
        batch = min(2 * batch, remaining)
        if max_batch_size is not None:
            batch = min(batch, max_batch_size)
    return successes, []


def is_namespace_terminating(e: BaseException) -> bool:
    """apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause)."""
    return isinstance(e, ApiError) and any((c.get("type") or c.get("reason")) == "NamespaceTerminating"
                                           for c in e.causes or ())


def pods_prefix(controller_name: str) -> str:
    """getPodsPrefix: `<name>-` unless that is not a valid generateName (too long)."""
    prefix = f"{controller_name}-"
    if len(prefix) > 253:
        return controller_name
    return prefix


def pod_from_template(template: dict[str, Any], parent: dict[str, Any],
                      controller_ref: dict[str, Any] | None) -> dict[str, Any]:
    """GetPodFromTemplate: a new pod (without namespace) from template for parent. The template is
    copied; the caller may own the result."""
    t = deepcopy(template)
    tmd = t.get("metadata") or {}
    md: dict[str, Any] = {"generateName": pods_prefix(parent["metadata"]["name"])}
    if tmd.get("labels"):
        md["labels"] = tmd["labels"]
    if tmd.get("annotations"):
        md["annotations"] = tmd["annotations"]
    if tmd.get("finalizers"):
        md["finalizers"] = tmd["finalizers"]
    if controller_ref is not None:
        md["ownerReferences"] = [dict(controller_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": t.get("spec") or {}}


class PodControl:
    """RealPodControl: pod writes with events on the parent object.

    `on_write(parent, obj)` (optional) sees every pod the server returned from a create.
    """

    def __init__(self, client: Any, recorder: Any,
                 on_write: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> None:
        self.client = client
        self.recorder = recorder
        self.on_write = on_write

    async def create_pods(self, namespace: str, template: dict[str, Any], parent: dict[str, Any],
                          controller_ref: dict[str, Any] | None) -> dict[str, Any]:
        """Create one pod from template; records SuccessfulCreate or FailedCreate on parent."""
        pod = pod_from_template(template, parent, controller_ref)
        return await self.create_pod(namespace, pod, parent)

    async def create_pod(self, namespace: str, pod: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        """Create an already built pod (from `pod_from_template`), with the same events."""
        if not (pod["metadata"].get("labels")):
            raise ApiError(500, "InternalError", "unable to create pods, no labels")
        try:
            created = await self.client.create("pods", namespace, pod)
        except ApiError as e:
            if not is_namespace_terminating(e):
                self.recorder.event(parent, "Warning", FAILED_CREATE, f"Error creating: {e.message}")
            raise
        if self.on_write is not None:
            self.on_write(parent, created)
        log.debug("controller %s created pod %s/%s", parent["metadata"]["name"], namespace,
                  created["metadata"]["name"])
        self.recorder.event(parent, "Normal", SUCCESSFUL_CREATE, f"Created pod: {created['metadata']['name']}")
        return created

    async def delete_pod(self, namespace: str, name: str, parent: dict[str, Any]) -> None:
        """Delete a pod; records SuccessfulDelete, or FailedDelete unless it was already gone (404
        is re-raised without an event so callers can lower their expectations)."""
        log.debug("controller %s deleting pod %s/%s", parent["metadata"]["name"], namespace, name)
        try:
            await self.client.delete("pods", namespace, name)
        except ApiError as e:
            if e.code == 404:
                raise
            self.recorder.event(parent, "Warning", FAILED_DELETE, f"Error deleting: {e.message}")
            raise ApiError(e.code, e.reason, f"unable to delete pods: {e.message}", causes=e.causes) from None
        self.recorder.event(parent, "Normal", SUCCESSFUL_DELETE, f"Deleted pod: {name}")


__all__ = ["FAILED_CREATE", "FAILED_DELETE", "SLOW_START_INITIAL_BATCH_SIZE", "SUCCESSFUL_CREATE", "SUCCESSFUL_DELETE",
           "PodControl", "compute_hash", "fnv32a", "is_namespace_terminating", "pod_from_template", "pods_prefix",
           "slow_start_batch"]

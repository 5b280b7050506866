"""The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished, v1.32).

A Job with `spec.ttlSecondsAfterFinished` is deleted that many seconds after it finished (the
lastTransitionTime of its Complete or Failed condition). The decision is made on the cached Job,
re-checked on a live GET, and the delete is a foreground cascade with a uid precondition, so the
Job's pods go first and a Job recreated under the same name is never hit. A Job whose TTL has not
expired yet is requeued for the moment it will.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from ..api.errors import ApiError
from ..client.informer import Controller, split_key
from . import register_controller
from .job.utils import job_finish_time

log = logging.getLogger(__name__)

RESOURCE = "jobs.batch"
Obj = dict[str, Any]


def needs_cleanup(job: Obj) -> bool:
    """needsCleanup: a TTL is set, the Job finished, and it is not already being deleted."""
    return ((job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None
            and job_finish_time(job) is not None and not job["metadata"].get("deletionTimestamp"))


def time_left(job: Obj, now: float) -> float | None:
    """timeLeft: seconds until the TTL expires (<= 0: expired); None when the Job needs no cleanup."""
    if not needs_cleanup(job):
        return None
    finish = job_finish_time(job)
    assert finish is not None
    return finish + int(job["spec"]["ttlSecondsAfterFinished"]) - now


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    workers = 5  # --concurrent-ttl-after-finished-syncs default

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        self.jobs = ctx.informers.informer(RESOURCE)
        self.jobs.add_handlers(self._on_job, lambda _old, cur: self._on_job(cur))

    def _on_job(self, job: Obj) -> None:
        if needs_cleanup(job):
            self.enqueue(job)

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.jobs, workers=workers)

    async def sync(self, key: str) -> None:
        """processJob: delete the Job once its TTL expired, after re-checking the live object."""
        job = self.jobs.get(key)
        if job is None:
            return
        left = time_left(job, time.time())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        ns, name = split_key(key)
        try:
            fresh = await self.client.get(RESOURCE, ns, name)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        left = time_left(fresh, time.time())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        log.debug("cleaning up job %s", key)
        try:
            await self.client.delete(RESOURCE, ns, name, {"propagationPolicy": "Foreground",
                                                          "preconditions": {"uid": fresh["metadata"]["uid"]}})
        except ApiError as e:
            if e.code not in (404, 409):
                raise


start = register_controller("ttl-after-finished", TTLAfterFinishedController)


__all__ = ["TTLAfterFinishedController", "needs_cleanup", "start", "time_left"]

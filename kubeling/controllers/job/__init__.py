"""The Job controller package (upstream pkg/controller/job): `job_controller` has the wiring and the
sync, `utils` the pure helpers (conditions, back-off, pod failure policy), `indexed_job_utils` the
Indexed completion mode."""
from __future__ import annotations

from typing import Any

from .. import register
from .job_controller import JobController


@register("job")
async def start(ctx: Any) -> JobController:
    """Start the controller; its workers begin once the shared informers have synced."""
    c = JobController(ctx)
    c.run()
    return c


__all__ = ["JobController", "start"]

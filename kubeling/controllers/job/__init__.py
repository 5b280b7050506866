"""The Job controller package (upstream pkg/controller/job): `job_controller` has the wiring and the
sync, `utils` the pure helpers (conditions, back-off, pod failure policy), `indexed_job_utils` the
Indexed completion mode."""
from __future__ import annotations

from .. import register_controller
from .job_controller import JobController

start = register_controller("job", JobController)


__all__ = ["JobController", "start"]

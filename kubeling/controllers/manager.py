"""The controller-manager: imports every controller module and starts the registered controllers."""
from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Awaitable, Callable

from ..client.context import ComponentContext
from . import CONTROLLERS

log = logging.getLogger(__name__)


def load_all() -> None:
    import kubeling.controllers as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("manager",):
            importlib.import_module(f"kubeling.controllers.{mod.name}")


async def start(ctx: ComponentContext, enabled: list[str] | None = None) -> Callable[[], Awaitable[None]]:
    load_all()
    started = []
    for name, fn in sorted(CONTROLLERS.items()):
        if enabled is not None and name not in enabled:
            continue
        started.append((name, await fn(ctx)))
    ctx.informers.start()

    async def stop() -> None:
        for name, c in reversed(started):
            try:
                if c is not None:
                    await c.stop()
            except Exception:
                log.exception("stopping controller %s", name)

    return stop

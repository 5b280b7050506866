"""Controllers (controller-manager). Each controller module registers a start function with
`@register(name)`; the manager imports every module of this package and starts them all."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

StartFunc = Callable[[Any], Awaitable[Any]]
CONTROLLERS: dict[str, StartFunc] = {}


def register(name: str) -> Callable[[StartFunc], StartFunc]:
    """Register `async def start(ctx: ComponentContext) -> Controller-like with async stop()`."""

    def deco(fn: StartFunc) -> StartFunc:
        CONTROLLERS[name] = fn
        return fn

    return deco


def register_controller(name: str, cls: Callable[[Any], Any], start: str = "run") -> StartFunc:
    """Register the usual start function: build the controller from the context, call its `start`
    method (workers begin once the shared informers have synced), return it for the manager to stop."""

    async def start_controller(ctx: Any) -> Any:
        c = cls(ctx)
        getattr(c, start)()
        return c

    start_controller.__qualname__ = start_controller.__name__ = f"start_{name.replace('-', '_')}"
    CONTROLLERS[name] = start_controller
    return start_controller

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

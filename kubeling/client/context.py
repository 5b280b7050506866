"""What a component is started with: a client, shared informers, an event recorder factory, settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import Client
from .events import EventRecorder
from .informer import InformerFactory


@dataclass
class ComponentContext:
    client: Client
    informers: InformerFactory
    data_dir: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def recorder(self, component: str, host: str | None = None) -> EventRecorder:
        return EventRecorder(self.client, component, host)

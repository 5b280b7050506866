"""Pod admission plugins.

- DefaultTolerationSeconds (plugin/pkg/admission/defaulttolerationseconds): on CREATE, a pod that
  does not tolerate node.kubernetes.io/not-ready:NoExecute or node.kubernetes.io/unreachable:NoExecute
  gets a toleration for each with tolerationSeconds 300, so taint-based eviction waits five minutes.
"""
from __future__ import annotations

from typing import Any

from .registry import Request
from .resources import ResourceType

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


def _tolerates(tolerations: list[dict[str, Any]], key: str) -> bool:
    for t in tolerations:
        effect = t.get("effect", "")
        if effect not in ("", "NoExecute"):
            continue
        if t.get("operator") == "Exists" and not t.get("key"):
            return True
        if t.get("key") == key:
            return True
    return False


def default_toleration_seconds(op: str, rt: ResourceType, new: dict | None, old: dict | None,
                               req: Request) -> None:
    if op != "CREATE" or rt.qualified != "pods" or new is None:
        return
    spec = new.setdefault("spec", {})
    tols = list(spec.get("tolerations") or [])
    added = False
    for key in (NOT_READY, UNREACHABLE):
        if not _tolerates(tols, key):
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
            added = True
    if added:
        spec["tolerations"] = tols

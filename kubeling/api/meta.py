"""Small helpers on object metadata shared by the registry and controllers."""
from __future__ import annotations

import datetime as _dt
import secrets
import time
import uuid
from typing import Any

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


_last_second: tuple[int | None, str] = (None, "")


def now_rfc3339(t: float | None = None) -> str:
    # Every write stamps several of these; formatting once per second is enough (one-entry cache,
    # replaced as one tuple so a reader never pairs one second with another's text).
    global _last_second
    sec = int(time.time() if t is None else t)
    last = _last_second
    if last[0] == sec:
        return last[1]
    text = _dt.datetime.fromtimestamp(sec, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_second = (sec, text)
    return text


def now_micro(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str | None) -> float | None:
    if not s:
        return None
    s = s.replace("Z", "+00:00")
    try:
        return _dt.datetime.fromisoformat(s).timestamp()
    except ValueError:
        return None


def new_uid() -> str:
    return str(uuid.uuid4())


def random_suffix(n: int = 5) -> str:
    """The suffix upstream's SimpleNameGenerator appends to generateName."""
    return "".join(secrets.choice(_NAME_CHARS) for _ in range(n))


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: dict[str, Any], controller: bool = True, block: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": block,
    }

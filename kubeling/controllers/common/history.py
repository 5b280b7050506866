"""ControllerRevision history, as upstream pkg/controller/history has it.

A revision's name is `<parent>-<hash>` where the hash is FNV-1 (Go's `fnv.New32`) over the
revision's data serialized exactly as Go's `encoding/json` writes a `map[string]interface{}`
(keys sorted, compact, HTML-escaped) followed by the decimal collision count, rendered with
`rand.SafeEncodeString`. Given the same data, names are byte-identical to upstream's (e.g.
`web-64bd6858bb`), so `kubectl rollout history/undo` see what they would see upstream.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ...api.errors import ApiError
from ...api.selectors import Requirement, matches_labels
from ...client.client import deepcopy
from .refmanager import (
    STRATEGIC,
    ensure_controller_index,
    get_controller_of,
    new_controller_ref,
    objects_for_owner,
)

log = logging.getLogger(__name__)

CONTROLLER_REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
RESOURCE = "controllerrevisions.apps"

_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def go_json(obj: Any) -> bytes:
    """Go's json.Marshal of a decoded JSON value: sorted keys, no spaces, <>& and U+2028/9 escaped."""
    raw = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    if b"<" in raw or b">" in raw or b"&" in raw:
        raw = raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    if b"\xe2\x80\xa8" in raw or b"\xe2\x80\xa9" in raw:
        raw = raw.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return raw


def fnv32(data: bytes, h: int = _FNV_OFFSET) -> int:
    """FNV-1 32-bit (Go hash/fnv New32): multiply, then xor."""
    for b in data:
        h = ((h * _FNV_PRIME) & 0xFFFFFFFF) ^ b
    return h


def safe_encode_string(s: str) -> str:
    """k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: no vowels, no confusable characters."""
    n = len(_SAFE_ALPHANUMS)
    return "".join(_SAFE_ALPHANUMS[b % n] for b in s.encode())


def hash_controller_revision(raw: bytes, probe: int | None) -> str:
    """upstream HashControllerRevision over the serialized data and the collision count."""
    h = fnv32(raw) if raw else _FNV_OFFSET
    if probe is not None:
        h = fnv32(str(int(probe)).encode(), h)
    return safe_encode_string(str(h))


def fnv32a(data: bytes, h: int = _FNV_OFFSET) -> int:
    """FNV-1a 32-bit (Go hash/fnv New32a): xor, then multiply."""
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def compute_hash(template: dict[str, Any], collision_count: int | None) -> str:
    """A pod-template hash in the shape of upstream controller.ComputeHash (fnv32a, the collision
    count as 8 little-endian bytes, SafeEncodeString) — e.g. for pod-template-hash.

    Upstream feeds the hasher a spew dump of the Go struct, which cannot be reproduced from JSON,
    so values differ from upstream's while staying stable, deterministic and upstream-looking; the
    ControllerRevision names above, in contrast, are byte-identical.
    """
    h = fnv32a(go_json(template))
    if collision_count is not None:
        h = fnv32a((int(collision_count) & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0", h)
    return safe_encode_string(str(h))


def controller_revision_name(prefix: str, hash_: str) -> str:
    if len(prefix) > 223:
        prefix = prefix[:223]
    return f"{prefix}-{hash_}"


_RAW_CACHE: dict[tuple[str, str], bytes] = {}


def revision_raw(rev: dict[str, Any]) -> bytes:
    """The revision's data as Go would hold it in Data.Raw (cached per stored version)."""
    md = rev.get("metadata") or {}
    key = (md.get("uid") or "", md.get("resourceVersion") or "")
    if key[0] and key[1]:
        raw = _RAW_CACHE.get(key)
        if raw is None:
            raw = go_json(rev.get("data")) if rev.get("data") is not None else b""
            if len(_RAW_CACHE) > 4096:
                _RAW_CACHE.clear()
            _RAW_CACHE[key] = raw
        return raw
    return go_json(rev.get("data")) if rev.get("data") is not None else b""


def new_controller_revision(parent: dict[str, Any], parent_kind: tuple[str, str],
                            template_labels: dict[str, str] | None, data: dict[str, Any], revision: int,
                            collision_count: int | None) -> dict[str, Any]:
    """upstream NewControllerRevision: labels from the template plus the hash label, a
    controller ref to parent, the data, the revision number, and the hashed name."""
    labels = dict(template_labels or {})
    h = hash_controller_revision(go_json(data), collision_count)
    labels[CONTROLLER_REVISION_HASH_LABEL] = h
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": controller_revision_name(parent["metadata"]["name"], h),
            "labels": labels,
            "ownerReferences": [new_controller_ref(parent, *parent_kind)],
        },
        "data": data,
        "revision": revision,
    }


def _rev_sort_key(rev: dict[str, Any]) -> tuple[int, str, str]:
    md = rev["metadata"]
    return (int(rev.get("revision") or 0), md.get("creationTimestamp") or "", md.get("name") or "")


def sort_controller_revisions(revisions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """By revision number, ties broken by creation time, then name (stable)."""
    return sorted(revisions, key=_rev_sort_key)


def _hash_label_int(rev: dict[str, Any]) -> int | None:
    hs = ((rev.get("metadata") or {}).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
    if hs is None:
        return None
    try:
        v = int(hs, 10)
    except ValueError:
        return None
    if not -(2 ** 31) <= v < 2 ** 31:  # strconv.ParseInt(hs, 10, 32) fails out of range
        return None
    return v & 0xFFFFFFFF


def equal_revision(lhs: dict[str, Any] | None, rhs: dict[str, Any] | None) -> bool:
    """Both absent, or both present with the same data (hash labels compared first, as upstream)."""
    if lhs is None or rhs is None:
        return lhs is rhs
    lh, rh = _hash_label_int(lhs), _hash_label_int(rhs)
    if lh is not None and rh is not None and lh != rh:
        return False
    return revision_raw(lhs) == revision_raw(rhs)


def find_equal_revisions(revisions: Iterable[dict[str, Any]], needle: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in revisions if equal_revision(r, needle)]


class History:
    """ControllerRevision reads (from an informer) and writes (through the client).

    `on_write(obj)` (optional) is told about every revision the server returned from a write,
    so a controller can wait for its informer to catch up with it.
    """

    def __init__(self, client: Any, informer: Any,
                 on_write: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> None:
        self.client = client
        self.informer = informer
        self.on_write = on_write
        ensure_controller_index(informer)

    def _wrote(self, parent: dict[str, Any], obj: dict[str, Any] | None) -> None:
        if self.on_write is not None and obj is not None:
            self.on_write(parent, obj)

    def list_controller_revisions(self, parent: dict[str, Any],
                                  selector: list[Requirement] | None) -> list[dict[str, Any]]:
        """Revisions in parent's namespace matching selector and owned by parent or by no controller."""
        if selector is None:
            return []
        uid = parent["metadata"]["uid"]
        out = []
        for r in objects_for_owner(self.informer, parent):
            if not matches_labels(selector, r["metadata"].get("labels")):
                continue
            ref = get_controller_of(r)
            if ref is None or ref.get("uid") == uid:
                out.append(r)
        return out

    async def create_controller_revision(self, parent: dict[str, Any], revision: dict[str, Any],
                                         collision_count: int) -> tuple[dict[str, Any], int]:
        """Create revision, renaming it with a bumped collision count while another revision with
        different data holds the name. Returns (revision as stored, collision count)."""
        ns = parent["metadata"].get("namespace")
        raw = go_json(revision.get("data"))
        clone = deepcopy(revision)
        for _ in range(1000):
            h = hash_controller_revision(raw, collision_count)
            clone["metadata"]["name"] = controller_revision_name(parent["metadata"]["name"], h)
            try:
                created = await self.client.create(RESOURCE, ns, clone)
            except ApiError as e:
                if e.code != 409 or e.reason != "AlreadyExists":
                    raise
                exists = await self.client.get(RESOURCE, ns, clone["metadata"]["name"])
                if go_json(exists.get("data")) == raw:
                    return exists, collision_count
                collision_count += 1
                continue
            self._wrote(parent, created)
            return created, collision_count
        raise ApiError(500, "InternalError", "too many ControllerRevision name collisions")

    async def update_controller_revision(self, parent: dict[str, Any], revision: dict[str, Any],
                                         new_revision: int) -> dict[str, Any]:
        """Set revision's number to new_revision (a rollback to an earlier template), retrying conflicts."""
        clone = deepcopy(revision)
        for attempt in range(5):
            if clone.get("revision") == new_revision:
                return clone
            clone["revision"] = new_revision
            try:
                updated = await self.client.update(RESOURCE, clone)
                self._wrote(parent, updated)
                return updated
            except ApiError as e:
                if e.code != 409 or attempt == 4:
                    raise
                md = clone["metadata"]
                clone = await self.client.get(RESOURCE, md.get("namespace"), md["name"])
        return clone

    async def delete_controller_revision(self, revision: dict[str, Any]) -> None:
        md = revision["metadata"]
        await self.client.delete(RESOURCE, md.get("namespace"), md["name"])

    async def adopt_controller_revision(self, parent: dict[str, Any], parent_kind: tuple[str, str],
                                        revision: dict[str, Any]) -> dict[str, Any]:
        owner = get_controller_of(revision)
        if owner is not None:
            raise ApiError(409, "Conflict", f"attempt to adopt revision owned by {owner}")
        md = revision["metadata"]
        body = {"metadata": {"ownerReferences": [new_controller_ref(parent, *parent_kind)], "uid": md["uid"]}}
        out = await self.client.patch(RESOURCE, parent["metadata"].get("namespace"), md["name"], body, STRATEGIC)
        self._wrote(parent, out)
        return out

    async def release_controller_revision(self, parent: dict[str, Any],
                                          revision: dict[str, Any]) -> dict[str, Any] | None:
        md = revision["metadata"]
        body = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": parent["metadata"]["uid"]}],
                             "uid": md["uid"]}}
        try:
            out = await self.client.patch(RESOURCE, md.get("namespace"), md["name"], body, STRATEGIC)
        except ApiError as e:
            if e.code in (404, 422):
                return None
            raise
        self._wrote(parent, out)
        return out

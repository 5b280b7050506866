"""Server-side apply and metadata.managedFields tracking.

Behaviour follows upstream v1.32: the apiserver's fieldmanager chain
(k8s.io/apimachinery/pkg/util/managedfields) on top of sigs.k8s.io/structured-merge-diff v4.

Field sets are kept in their wire form, the ``fieldsV1`` dict: keys are path elements
(``f:<field>``, ``k:<json of list-map keys>``, ``v:<json of a set value>``, ``i:<index>``), the
value is the subtree; ``{}`` marks a member leaf and ``".": {}`` marks a node that is both a
member and has children. Keys are kept in upstream's serialization order, so a set *is* its
``fieldsV1`` and nothing is parsed or re-serialized on the hot path. Sets are never mutated once
built: operations copy only the levels they touch and share the rest, so the field sets of an old
object version are reused by the next one.

Call order expected from the registry (as upstream): the object is defaulted before
``update_managed_fields`` (defaults count as set by the writer); fields the server fills in later
(strategy resets, allocations, admission) are either stripped (``_STRIP``) or reset fields
(``RESET_FIELDS``) or should be set after the call.
"""
from __future__ import annotations

import copy
import functools
import json
from datetime import datetime
from typing import Any

import orjson

from kubeling.api import schema
from kubeling.api.errors import ApiError, bad_request

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
_ANNOTATIONS_SIZE_LIMIT = 256 * 1024

_ABSENT: Any = object()  # "no value here", distinct from a JSON null

# Fields never recorded for any manager (upstream stripMetaManager); the "metadata" member itself is
# never produced because metadata always exists on both sides of a comparison.
_STRIP: dict[str, Any] = {
    "apiVersion": True,
    "kind": True,
    "metadata": {k: True for k in ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                                   "generation", "managedFields", "resourceVersion")},
}

# Fields a strategy resets, per (definition, subresource) -> paths. Upstream calls them reset fields
# (GetResetFields); changes to them are not attributed to the writer. Missing entries fall back to:
# main resource ignores `status`, the status subresource ignores `spec`. Key ("<def>", "") is the main
# resource. Extend at import time only (the derived skip trees are cached).
RESET_FIELDS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("io.k8s.api.core.v1.Pod", "status"): (("spec",), ("metadata", "deletionTimestamp"),
                                           ("metadata", "ownerReferences")),
}

# Fields a strategy's PrepareForUpdate recomputes on every update of the main resource, per definition.
# Upstream's field manager runs before PrepareForUpdate and sees the stored value on both sides, so a
# change of these is never credited to an updater; kubeling's registry sets them before the call.
# (The creator is credited: on create the field manager compares against the empty object.)
_UPDATE_SERVER_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "io.k8s.api.apps.v1.DaemonSet": (("metadata", "annotations", "deprecated.daemonset.template.generation"),),
}

# Default values of list-map key fields (upstream reads them from `default` in the OpenAPI schema,
# which the bundled definitions do not carry).
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.EndpointPort", "protocol"): "TCP",
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol"): "TCP",
}

# Go struct-valued fields that are not pointers: encoding/json always emits them, so they exist in the
# empty object upstream compares a create against. Top-level metadata/spec/status are added for every kind.
_NONPTR: dict[str, tuple[str, ...]] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": ("creationTimestamp",),
    "io.k8s.api.core.v1.PodTemplateSpec": ("metadata", "spec"),
    "io.k8s.api.core.v1.PodTemplate": ("template",),
    "io.k8s.api.apps.v1.DeploymentSpec": ("template", "strategy"),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.apps.v1.DaemonSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("template",),
    "io.k8s.api.apps.v1.ControllerRevision": ("data",),
    "io.k8s.api.batch.v1.JobSpec": ("template",),
    "io.k8s.api.batch.v1.CronJobSpec": ("jobTemplate",),
    "io.k8s.api.batch.v1.JobTemplateSpec": ("metadata", "spec"),
    "io.k8s.api.core.v1.Container": ("resources",),
    "io.k8s.api.core.v1.ServiceStatus": ("loadBalancer",),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": ("resources",),
    "io.k8s.api.core.v1.NodeStatus": ("daemonEndpoints", "nodeInfo"),
    "io.k8s.api.core.v1.NodeDaemonEndpoints": ("kubeletEndpoint",),
    "io.k8s.api.core.v1.Event": ("involvedObject", "source", "firstTimestamp", "lastTimestamp", "eventTime"),
    "io.k8s.api.discovery.v1.Endpoint": ("conditions",),
}


# ---------------------------------------------------------------------------------------------
# Schema view: each schema node classified once into the kinds structured-merge-diff distinguishes.

LEAF, STRUCT, MAP, SET, ASSOC = range(5)


class _T:
    """Merge semantics of one schema node (cached; keeps the node alive so its id stays valid)."""

    __slots__ = ("node", "kind", "props", "addl", "items", "keys", "key_defaults", "_kids", "_elem")

    def __init__(self, node: Any, kind: int) -> None:
        self.node = node
        self.kind = kind
        self.props: dict[str, Any] = {}
        self.addl: Any = None
        self.items: Any = None
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self._kids: dict[str, _T] = {}
        self._elem: _T | None = None

    def field(self, name: str) -> _T:
        """Type of map entry / struct field `name`."""
        if self.kind == STRUCT:
            t = self._kids.get(name)
            if t is None:
                n = self.props.get(name)
                if n is None:
                    return self.elem() if self.addl is not None else _UNKNOWN
                t = self._kids[name] = _info(n)
            return t
        if self.kind == MAP:
            return self.elem()
        return _UNKNOWN

    def declared(self, name: str) -> bool:
        return self.kind == STRUCT and name in self.props

    def elem(self) -> _T:
        """Type of list items or map values."""
        if self._elem is None:
            n = self.items if self.kind in (SET, ASSOC) else self.addl
            self._elem = _info(n) if n is not None else _UNKNOWN
        return self._elem


_UNKNOWN = _T(None, LEAF)
_INFO: dict[int, _T] = {}


def _info(node: Any) -> _T:
    t = _INFO.get(id(node))
    if t is None or t.node is not node:
        t = _INFO[id(node)] = _build_info(node)
    return t


def _build_info(node: Any) -> _T:
    r = schema.resolve(node)
    if r is None or schema.is_free_form(r):
        return _T(node, LEAF)
    ext = schema.list_info(r)
    ext.update(schema.list_info(node))
    typ = r.get("type")
    if typ == "array":
        lt = ext.get("x-kubernetes-list-type")
        keys: tuple[str, ...] = ()
        if lt is None:
            strategy = ext.get("x-kubernetes-patch-strategy", "")
            if strategy not in ("merge", "merge,retainKeys"):
                return _T(node, LEAF)
            key = ext.get("x-kubernetes-patch-merge-key")
            if key:
                keys = (key,)
        elif lt == "map":
            keys = tuple(ext.get("x-kubernetes-list-map-keys") or ())
        elif lt != "set":
            return _T(node, LEAF)
        t = _T(node, ASSOC if keys else SET)
        t.items = r.get("items")
        t.keys = keys
        item_def = schema.ref_name(t.items)
        for k in keys:
            if (item_def, k) in _KEY_DEFAULTS:
                t.key_defaults[k] = _KEY_DEFAULTS[(item_def, k)]
        return t
    if typ == "object" or "properties" in r or "additionalProperties" in r:
        if ext.get("x-kubernetes-map-type") == "atomic":
            return _T(node, LEAF)
        ap = r.get("additionalProperties")
        if "properties" in r:
            t = _T(node, STRUCT)
            t.props = r["properties"]
            t.addl = ap if isinstance(ap, dict) else None
            return t
        if isinstance(ap, dict):
            t = _T(node, MAP)
            t.addl = ap
            return t
    return _T(node, LEAF)


@functools.cache
def _root(def_name: str) -> _T:
    t = _info(schema.kind_node(def_name))
    if t.kind == LEAF:  # unknown definition: treat as a map of opaque values
        t = _T(t.node, MAP)
        t.addl = {}
    return t


@functools.cache
def _gvks(def_name: str) -> tuple[tuple[str, str], ...]:
    """(apiVersion, kind) pairs the definition is served as."""
    node = schema.definitions().get(def_name) or {}
    out = []
    for gvk in node.get("x-kubernetes-group-version-kind", ()):
        g = gvk.get("group", "")
        out.append((f"{g}/{gvk['version']}" if g else gvk["version"], gvk["kind"]))
    return tuple(out)


def _group_versions(def_name: str) -> tuple[str, ...]:
    return tuple(gv for gv, _ in _gvks(def_name))


def _gv(def_name: str, obj: dict[str, Any] | None) -> str:
    """The group/version recorded in managedFields entries (upstream: the endpoint's GroupVersion)."""
    gvs = _group_versions(def_name)
    av = obj.get("apiVersion") if isinstance(obj, dict) else None
    if av and (not gvs or av in gvs):
        return av
    return gvs[0] if gvs else (av or "")


# ---------------------------------------------------------------------------------------------
# Path elements and their ordering

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)
_GO_JSON_CACHE: dict[tuple[type, Any], str] = {}


def _go_json(v: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (sorted keys, HTML-safe escapes).

    Every list item of every write becomes a path element through here; the key values repeat
    (container names, ports), so scalars are memoized (by type too: True == 1)."""
    t = type(v)
    if t is str or t is int or t is bool:
        ck = (t, v)
        s = _GO_JSON_CACHE.get(ck)
        if s is None:
            if len(_GO_JSON_CACHE) >= 8192:
                _GO_JSON_CACHE.clear()
            s = _GO_JSON_CACHE[ck] = _go_json_uncached(v)
        return s
    return _go_json_uncached(v)


def _go_json_uncached(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        v = int(v)
    s = _JSON.encode(v)
    if any(c in s for c in "<>&\u2028\u2029"):
        s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
             .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s


class _BadItem(Exception):
    """A list item that cannot be turned into a path element (missing key, wrong shape)."""


def _item_pe(t: _T, item: Any) -> str:
    if t.kind == SET:
        if isinstance(item, dict | list) or item is None:
            raise _BadItem("associative list without keys has an element that's a map type"
                           if isinstance(item, dict) else "associative list without keys has an invalid element")
        return "v:" + _go_json(item)
    if not isinstance(item, dict):
        raise _BadItem("associative list with keys may not have non-map elements")
    parts = []
    for k in sorted(t.keys):
        if k in item:
            v = item[k]
        elif k in t.key_defaults:
            v = t.key_defaults[k]
        else:
            raise _BadItem(f'associative list with keys has an element that omits key field "{k}" '
                           "(and doesn't have default value)")
        parts.append(_go_json(k) + ":" + _go_json(v))
    return "k:{" + ",".join(parts) + "}"


def _value_order(v: Any) -> tuple[Any, ...]:
    # structured-merge-diff value ordering: numbers < strings < bools < lists < maps < null
    if v is None:
        return (5,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, int | float):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(_value_order(x) for x in v))
    return (4, _go_json(v))


@functools.lru_cache(maxsize=1 << 16)
def _pe_order(pe: str) -> tuple[Any, ...]:
    """Sort key of a path element: '.' first, then fields, keys, values, indexes."""
    if pe == ".":
        return (0,)
    tag, body = pe[0], pe[2:]
    if tag == "f":
        return (1, body)
    try:
        if tag == "k":
            obj = json.loads(body)
            return (2, tuple((k, _value_order(obj[k])) for k in sorted(obj)))
        if tag == "v":
            return (3, _value_order(json.loads(body)))
        if tag == "i":
            return (4, int(body))
    except (ValueError, TypeError, AttributeError):
        pass
    return (5, pe)


def _sorted_level(node: dict[str, Any]) -> dict[str, Any]:
    return {k: node[k] for k in sorted(node, key=_pe_order)}


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value_str(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, int | float):
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    return _go_json(v)


def _path_str(path: list[str]) -> str:
    """fieldpath.Path.String(): .spec.containers[name="nginx"].image"""
    out = []
    for pe in path:
        tag, body = pe[0], pe[2:]
        if tag == "f":
            out.append("." + body)
        elif tag == "k":
            obj = json.loads(body)
            out.append("[" + ",".join(f"{k}={_value_str(obj[k])}" for k in sorted(obj)) + "]")
        elif tag == "v":
            out.append("[=" + _value_str(json.loads(body)) + "]")
        else:
            out.append("[" + body + "]")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Set operations on fieldsV1 trees. A node is `{}` (member leaf), or a dict of children optionally
# holding ".". The root is a dict of children and is never a member.

def _is_member(n: dict[str, Any]) -> bool:
    return not n or "." in n


def _norm(ch: dict[str, Any], member: bool) -> dict[str, Any] | None:
    """Node with children `ch` (may contain '.') and the given membership; None when empty."""
    has_kids = len(ch) > (1 if "." in ch else 0)
    if not has_kids:
        return {} if member else None
    if member:
        if "." in ch:
            return ch if next(iter(ch)) == "." else {".": {}, **{k: v for k, v in ch.items() if k != "."}}
        return {".": {}, **ch}
    if "." in ch:
        return {k: v for k, v in ch.items() if k != "."}
    return ch


def _union_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Children of a ∪ b (membership of `a` kept), sharing unchanged subtrees."""
    if not b or a is b:
        return a
    if not a:
        return b
    out: dict[str, Any] | None = None
    added = False
    for k, bv in b.items():
        if k == ".":
            continue
        av = a.get(k)
        if av is None:
            if out is None:
                out = dict(a)
            out[k] = bv
            added = True
        else:
            nv = _union(av, bv)
            if nv is not av:
                if out is None:
                    out = dict(a)
                out[k] = nv
    if out is None:
        return a
    return _sorted_level(out) if added else out


def _union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a is b:
        return a
    member = _is_member(a) or _is_member(b)
    ch = _union_children(a, b)
    if ch is a and member == _is_member(a):
        return a
    n = _norm(ch, member)
    return n if n is not None else {}


def _diff_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Children of a − b: members of b stop being members of a (children of a member are kept)."""
    if not a or not b:
        return a
    out: dict[str, Any] | None = None
    for k, bv in b.items():
        if k == ".":
            continue
        av = a.get(k)
        if av is None:
            continue
        nv = _diff(av, bv)
        if nv is av:
            continue
        if out is None:
            out = dict(a)
        if nv is None:
            del out[k]
        else:
            out[k] = nv
    return a if out is None else out


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    a_mem = _is_member(a)
    b_mem = _is_member(b)
    if not a:
        return None if b_mem else a
    ch = _diff_children(a, b)
    member = a_mem and not b_mem
    if ch is a and member == a_mem:
        return a
    return _norm(ch, member)


def _intersect_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k in a:
        if k == "." or k not in b:
            continue
        n = _intersect(a[k], b[k])
        if n is not None:
            out[k] = n
    return out


def _intersect(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    member = _is_member(a) and _is_member(b)
    ch = _intersect_children(a, b) if a and b else {}
    return _norm(ch, member)


def _exclude(node: dict[str, Any], skip: dict[str, Any]) -> dict[str, Any]:
    """Children minus every path in `skip` (field names; True = the field and all below it)."""
    out: dict[str, Any] | None = None
    for name, sub in skip.items():
        k = "f:" + name
        c = node.get(k)
        if c is None:
            continue
        if sub is True:
            nc = None
        else:
            ch = _exclude(c, sub)
            if ch is c:
                continue
            nc = _norm(ch, _is_member(c))
        if out is None:
            out = dict(node)
        if nc is None:
            del out[k]
        else:
            out[k] = nc
    return node if out is None else out


def _has(root: dict[str, Any], path: list[str]) -> bool:
    n = root
    for pe in path:
        n = n.get(pe)
        if n is None:
            return False
    return _is_member(n)


def _iter_members(node: dict[str, Any], prefix: list[str]) -> list[list[str]]:
    """Member paths in fieldpath.Set.Iterate order: this level's members, then each child's subtree."""
    out = []
    for k, c in node.items():
        if k != "." and _is_member(c):
            out.append(prefix + [k])
    for k, c in node.items():
        if k != "." and len(c) > (1 if "." in c else 0):
            out.extend(_iter_members(c, prefix + [k]))
    return out


def _insert(root: dict[str, Any], path: list[str]) -> None:
    """Add `path` as a member of a set under construction (mutable, unsorted)."""
    n = root
    for pe in path[:-1]:
        c = n.get(pe)
        if c is None:
            c = n[pe] = {}
        elif not c:  # was a bare member leaf: it now has children too
            c["."] = {}
        n = c
    last = path[-1]
    c = n.get(last)
    if c is None:
        n[last] = {}
    elif c:
        c["."] = {}


def _finish(node: dict[str, Any]) -> dict[str, Any]:
    """Sort a freshly built set into serialization order ('.' first, then path elements)."""
    out = {}
    if "." in node:
        out["."] = {}
    for k in sorted((k for k in node if k != "."), key=_pe_order):
        c = node[k]
        out[k] = _finish(c) if len(c) > (1 if "." in c else 0) else {}
    return out


# ---------------------------------------------------------------------------------------------
# Walks over values (structured-merge-diff typed operations)

def _to_set(v: Any, t: _T) -> dict[str, Any] | None:
    """ToFieldSet: leaves, list items and map entries are members; struct fields only when leaves."""
    kind = t.kind
    if kind == LEAF:
        return {}
    if kind in (STRUCT, MAP):
        if not isinstance(v, dict):
            return None
        out: dict[str, Any] = {}
        for k, val in v.items():
            c = _to_set(val, t.field(k))
            if not t.declared(k):
                c = _norm(c or {}, True)
            if c is not None:
                out["f:" + k] = c
        return _sorted_level(out) if out else None
    if not isinstance(v, list):
        return None
    out = {}
    et = t.elem()
    for item in v:
        pe = _item_pe(t, item)
        c = _to_set(item, et)
        out[pe] = _norm(c or {}, True)
    return _sorted_level(out) if out else None


def _ensure_named(node: dict[str, Any], t: _T) -> dict[str, Any]:
    """EnsureNamedFieldsAreMembers: declared struct fields with children become members too."""
    out: dict[str, Any] = {}
    changed = False
    for k, c in node.items():
        if k == ".":
            out[k] = c
            continue
        if k[0] == "f":
            ct = t.field(k[2:])
            named = t.declared(k[2:])
        else:
            ct = t.elem()
            named = False
        nc = c
        if len(c) > (1 if "." in c else 0):
            nc = _norm(_ensure_named(c, ct), _is_member(c) or named)
        elif named and c:
            nc = {}
        if nc is not c:
            changed = True
        out[k] = nc
    return out if changed else node


def _remove(v: Any, s: dict[str, Any], t: _T) -> Any:
    """RemoveItems: drop every member path of `s` (with its subtree) from value `v`.

    Returns _ABSENT when a container ends up empty (upstream turns it into null, i.e. omitted)."""
    kind = t.kind
    if kind in (STRUCT, MAP) and isinstance(v, dict):
        out: dict[str, Any] = {}
        changed = False
        for k, val in v.items():
            c = s.get("f:" + k)
            if c is None:
                out[k] = val
                continue
            changed = True
            if _is_member(c):
                continue
            nv = _remove(val, c, t.field(k))
            if nv is not _ABSENT:
                out[k] = nv
        if not changed:
            return v
        return out if out else _ABSENT
    if kind in (SET, ASSOC) and isinstance(v, list):
        lst: list[Any] = []
        changed = False
        et = t.elem()
        for item in v:
            try:
                pe = _item_pe(t, item)
            except _BadItem:
                lst.append(item)
                continue
            c = s.get(pe)
            if c is None:
                lst.append(item)
                continue
            changed = True
            if _is_member(c):
                continue
            nv = _remove(item, c, et)
            lst.append(nv if nv is not _ABSENT else {})
        if not changed:
            return v
        return lst if lst else _ABSENT
    return v


def _compare(lv: Any, rv: Any, t: _T, path: list[str], changed: dict[str, Any], removed: dict[str, Any],
             skip: dict[str, Any] | None) -> None:
    """typed Compare: Added ∪ Modified go to `changed`, Removed to `removed` (both mutable, unsorted)."""
    if lv is not _ABSENT and rv is not _ABSENT and (lv is rv or lv == rv):
        return
    kind = t.kind
    if kind in (STRUCT, MAP):
        lm = _as(lv, dict)
        rm = _as(rv, dict)
        if lm is not None and rm is not None and (lm or rm):
            for k, lc in lm.items():
                sk = skip.get(k) if skip else None
                if sk is True:
                    continue
                path.append("f:" + k)
                _compare(lc, rm.get(k, _ABSENT), t.field(k), path, changed, removed, sk)
                path.pop()
            for k, rc in rm.items():
                if k in lm:
                    continue
                sk = skip.get(k) if skip else None
                if sk is True:
                    continue
                path.append("f:" + k)
                _added(rc, t.field(k), path, changed, sk)
                path.pop()
            _post_item(lv, rv, path, changed, removed)
            return
    elif kind in (SET, ASSOC):
        ll = _as(lv, list)
        rl = _as(rv, list)
        if ll is not None and rl is not None and (ll or rl):
            try:
                lmap = _index(ll, t)
                rmap = _index(rl, t)
            except _BadItem:
                lmap = rmap = None
            if lmap is not None and rmap is not None:
                et = t.elem()
                for pe, li in lmap.items():
                    path.append(pe)
                    _compare(li, rmap.get(pe, _ABSENT), et, path, changed, removed, None)
                    path.pop()
                for pe, ri in rmap.items():
                    if pe not in lmap:
                        path.append(pe)
                        _added(ri, et, path, changed, None)
                        path.pop()
                _post_item(lv, rv, path, changed, removed)
                return
    # leaf (scalar, atomic, untyped, or both sides empty)
    if not path:
        return
    if rv is _ABSENT:
        _insert(removed, path)
    elif lv is _ABSENT or lv != rv:
        _insert(changed, path)


def _as(v: Any, typ: type) -> Any:
    """The container value, an empty one for absent/null, None when the value has another shape."""
    if isinstance(v, typ):
        return v
    if v is _ABSENT or v is None:
        return typ()
    return None


def _added(rv: Any, t: _T, path: list[str], changed: dict[str, Any], skip: dict[str, Any] | None) -> None:
    """_compare(_ABSENT, rv, ...) for a value present only on the right (every create, every new
    list item): all of it is added. The same walk without the comparison machinery."""
    kind = t.kind
    if kind == STRUCT or kind == MAP:
        if rv and isinstance(rv, dict):
            for k, rc in rv.items():
                sk = skip.get(k) if skip else None
                if sk is True:
                    continue
                path.append("f:" + k)
                _added(rc, t.field(k), path, changed, sk)
                path.pop()
            if path:
                _insert(changed, path)
            return
    elif kind == SET or kind == ASSOC:
        if rv and isinstance(rv, list):
            try:
                rmap = _index(rv, t)
            except _BadItem:
                rmap = None
            if rmap is not None:
                et = t.elem()
                for pe, ri in rmap.items():
                    path.append(pe)
                    _added(ri, et, path, changed, None)
                    path.pop()
                if path:
                    _insert(changed, path)
                return
    if path:  # a leaf, an empty container, or a value of another shape than the schema's
        _insert(changed, path)


def _post_item(lv: Any, rv: Any, path: list[str], changed: dict[str, Any], removed: dict[str, Any]) -> None:
    # A non-leaf node that appears or disappears is itself added/removed.
    if path:
        if lv is _ABSENT:
            _insert(changed, path)
        elif rv is _ABSENT:
            _insert(removed, path)


def _index(items: Any, t: _T) -> dict[str, Any]:
    """Path element -> item (the first of duplicates wins, as upstream tolerates them in live objects)."""
    out: dict[str, Any] = {}
    for item in items:
        pe = _item_pe(t, item)
        if pe not in out:
            out[pe] = item
    return out


def _diff_objects(old: dict[str, Any], new: dict[str, Any], t: _T,
                  skip: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    changed: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    _compare(old, new, t, [], changed, removed, skip)
    return (_finish(changed) if changed else changed), (_finish(removed) if removed else removed)


def _clean(v: Any, t: _T) -> Any:
    """Drop explicit nulls from typed maps of an applied subtree (a null field ends up omitted)."""
    kind = t.kind
    if kind in (STRUCT, MAP) and isinstance(v, dict):
        if not any(x is None or isinstance(x, dict | list) for x in v.values()):
            return v
        return {k: _clean(x, t.field(k)) for k, x in v.items() if x is not None}
    if kind == ASSOC and isinstance(v, list):
        et = t.elem()
        return [_clean(x, et) for x in v]
    return v


def _merge(lv: Any, rv: Any, t: _T, where: list[str]) -> Any:
    """typed Merge of an applied config (rhs) into the live object (lhs)."""
    if rv is _ABSENT:
        return lv
    if lv is _ABSENT:
        return _clean(rv, t)
    kind = t.kind
    if kind == LEAF:
        return rv
    if kind in (STRUCT, MAP):
        if rv is None:
            return lv
        if not isinstance(rv, dict) or not isinstance(lv, dict):
            return _clean(rv, t)
        if not lv:
            return _clean(rv, t)
        if not rv:
            return lv
        out: dict[str, Any] = {}
        for k, lc in lv.items():
            if k in rv:
                rc = rv[k]
                if rc is None and t.field(k).kind == LEAF:
                    continue
                where.append("f:" + k)
                out[k] = _merge(lc, rc, t.field(k), where)
                where.pop()
            else:
                out[k] = lc
        for k, rc in rv.items():
            if k not in lv and rc is not None:
                out[k] = _clean(rc, t.field(k))
        return out
    # associative list or set
    if rv is None:
        return lv
    if not isinstance(rv, list) or not isinstance(lv, list):
        return _clean(rv, t)
    if not lv or not rv:
        return _clean(rv, t) if not lv else lv
    return _merge_list(lv, rv, t, where)


def _merge_list(lv: list[Any], rv: list[Any], t: _T, where: list[str]) -> list[Any]:
    """Merge list items by key. Shared items follow the applied order; live-only items keep their place."""
    try:
        lpes = []
        lmap: dict[str, Any] = {}
        for item in lv:
            pe = _item_pe(t, item)
            if pe in lmap:
                continue
            lmap[pe] = item
            lpes.append(pe)
    except _BadItem:
        return _clean(rv, t)
    rpes = []
    rmap: dict[str, Any] = {}
    for i, item in enumerate(rv):
        try:
            pe = _item_pe(t, item)
        except _BadItem as e:
            raise _TypedError(f"{_path_str(where)}: element {i}: {e}") from None
        if pe in rmap:
            raise _TypedError(f"{_path_str(where)}: duplicate entries for key {_path_str([pe])}")
        rmap[pe] = item
        rpes.append(pe)
    shared = [pe for pe in rpes if pe in lmap]
    si = 0
    nxt = shared[0] if shared else None
    et = t.elem()
    out: list[Any] = []
    merged: set[str] = set()
    i = j = 0
    nl, nr = len(lpes), len(rpes)

    def take(pe: str) -> None:
        where.append(pe)
        out.append(_merge(lmap.get(pe, _ABSENT), rmap.get(pe, _ABSENT), et, where))
        where.pop()

    while i < nl or j < nr:
        if i < nl and j < nr:
            lpe = lpes[i]
            if lpe == rpes[j]:
                take(lpe)
                merged.add(lpe)
                i += 1
                j += 1
                si += 1
                nxt = shared[si] if si < len(shared) else None
                continue
            if lpe in rmap and nxt is not None and nxt != lpe:
                i += 1
                continue
        if i < nl:
            lpe = lpes[i]
            if lpe not in rmap:
                take(lpe)
                i += 1
                continue
            if lpe in merged:
                i += 1
                continue
        if j < nr:
            rpe = rpes[j]
            take(rpe)
            merged.add(rpe)
            j += 1
            if nxt is not None and nxt == rpe:
                si += 1
                nxt = shared[si] if si < len(shared) else None
        elif i < nl:
            i += 1  # cannot happen with consistent input; guarantees progress
    return out


class _TypedError(Exception):
    """The applied configuration does not fit the schema (upstream: failed to create typed patch object)."""


# ---------------------------------------------------------------------------------------------
# The empty object a create is compared against (Go zero value of the kind).

def _zero_scalar(prop: dict[str, Any]) -> Any:
    r = schema.resolve(prop) or {}
    typ, fmt = r.get("type"), r.get("format")
    if typ == "string":
        if fmt == "date-time":
            return None
        if fmt == "int-or-string":
            return 0
        if schema.ref_name(prop) == schema.QUANTITY:
            return "0"
        return ""
    if typ in ("integer", "number"):
        return 0
    if typ == "boolean":
        return False
    return None


def _zero_struct(def_name: str, top: bool) -> dict[str, Any]:
    d = schema.definitions().get(def_name) or {}
    props = d.get("properties") or {}
    required = set(d.get("required") or ())
    nonptr = set(_NONPTR.get(def_name, ()))
    if top:
        nonptr |= {"metadata", "spec", "status"} & props.keys()
    out: dict[str, Any] = {}
    for name, p in props.items():
        if name in nonptr:
            ref = schema.ref_name(p)
            r = schema.resolve(p) or {}
            if ref and "properties" in r and not schema.is_free_form(r):
                out[name] = _zero_struct(ref, False)
            else:
                out[name] = None
        elif name in required:
            out[name] = _zero_scalar(p)
    return out


@functools.cache
def _zero_json(def_name: str) -> bytes:
    return orjson.dumps(_zero_struct(def_name, True))


def _zero(def_name: str) -> dict[str, Any]:
    return orjson.loads(_zero_json(def_name))


# ---------------------------------------------------------------------------------------------
# Reset/stripped fields

@functools.cache
def _skip_tree(def_name: str, subresource: str, updating: bool = False) -> dict[str, Any]:
    """Paths never credited to a writer: stripped metadata, reset fields, and (`updating`) the fields
    the strategy recomputes after upstream's field manager ran."""
    paths = RESET_FIELDS.get((def_name, subresource))
    if paths is None:
        props = (schema.definitions().get(def_name) or {}).get("properties") or {}
        if not subresource:
            paths = (("status",),) if "status" in props else ()
        elif subresource == "status":
            paths = (("spec",),) if "spec" in props else ()
        else:
            paths = ()
    if updating and not subresource:
        paths = tuple(paths) + _UPDATE_SERVER_FIELDS.get(def_name, ())
    tree = copy.deepcopy(_STRIP)
    for p in paths:
        n = tree
        for name in p[:-1]:
            sub = n.get(name)
            if sub is True:
                break
            if sub is None:
                sub = n[name] = {}
            n = sub
        else:
            n[p[-1]] = True
    return tree


# ---------------------------------------------------------------------------------------------
# managedFields entries

class _Entry:
    """One managedFields entry; `raw` is the stored dict while the entry is unchanged."""

    __slots__ = ("manager", "operation", "api_version", "subresource", "time", "fields", "raw")

    def __init__(self, manager: str, operation: str, api_version: str, subresource: str, time: str | None,
                 fields: dict[str, Any], raw: dict[str, Any] | None = None) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.time = time
        self.fields = fields
        self.raw = raw

    def key(self) -> tuple[str, str, str, str]:
        return _key(self.manager, self.operation, self.api_version, self.subresource)

    def replace(self, fields: dict[str, Any]) -> _Entry:
        return _Entry(self.manager, self.operation, self.api_version, self.subresource, self.time, fields)


def _key(manager: str, operation: str, api_version: str, subresource: str) -> tuple[str, str, str, str]:
    # Upstream's manager identifier: appliers are the same manager whatever apiVersion they used.
    return (manager, operation, api_version if operation != "Apply" else "", subresource or "")


def _ident(key: tuple[str, str, str, str]) -> str:
    """The JSON manager identifier upstream keys managers by (used for ordering and messages)."""
    d = {}
    if key[0]:
        d["manager"] = key[0]
    if key[1]:
        d["operation"] = key[1]
    if key[2]:
        d["apiVersion"] = key[2]
    if key[3]:
        d["subresource"] = key[3]
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


class _BadManagedFields(Exception):
    pass


def _decode(mf: Any, strict: bool) -> dict[tuple[str, str, str, str], _Entry]:
    """managedFields list -> entries. Stored lists are trusted; client-provided ones are checked and
    canonicalized (strict) and raise _BadManagedFields when upstream would refuse to decode them."""
    out: dict[tuple[str, str, str, str], _Entry] = {}
    if not isinstance(mf, list):
        if strict and mf is not None:
            raise _BadManagedFields("managedFields must be a list")
        return out
    for i, e in enumerate(mf):
        if not isinstance(e, dict):
            if strict:
                raise _BadManagedFields(f"invalid managed fields entry {i}")
            continue
        op = e.get("operation")
        av = e.get("apiVersion")
        fv = e.get("fieldsV1")
        if strict:
            if op not in ("Apply", "Update"):
                raise _BadManagedFields("operation must be `Apply` or `Update`")
            if not av:
                raise _BadManagedFields("apiVersion must not be empty")
            ft = e.get("fieldsType")
            if not ft:
                raise _BadManagedFields(f"missing fieldsType in managed fields entry {i}")
            if ft != "FieldsV1":
                raise _BadManagedFields(f'invalid fieldsType "{ft}" in managed fields entry {i}')
            fields = _canon_set(fv, True) if fv is not None else {}
            raw = None
        else:
            fields = fv if isinstance(fv, dict) else {}
            raw = e
        t = e.get("time")
        entry = _Entry(str(e.get("manager") or ""), str(op or ""), str(av or ""), str(e.get("subresource") or ""),
                       t if isinstance(t, str) and t else None, fields, raw)
        out[entry.key()] = entry
    return out


def _canon_set(node: Any, root: bool) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _BadManagedFields("fieldsV1 must be an object")
    kids: dict[str, Any] = {}
    member = False
    for k, v in node.items():
        if k == ".":
            member = True
            continue
        if not isinstance(k, str) or len(k) < 2 or k[1] != ":" or k[0] not in "fkvi":
            raise _BadManagedFields(f"invalid path element {k!r}")
        body = k[2:]
        try:
            if k[0] == "k":
                obj = json.loads(body)
                if not isinstance(obj, dict):
                    raise ValueError
                k = "k:{" + ",".join(_go_json(n) + ":" + _go_json(obj[n]) for n in sorted(obj)) + "}"
            elif k[0] == "v":
                k = "v:" + _go_json(json.loads(body))
            elif k[0] == "i":
                k = "i:" + str(int(body))
        except (ValueError, TypeError) as e:
            raise _BadManagedFields(f"invalid path element {k!r}") from e
        kids[k] = _canon_set(v, False)
    kids = _sorted_level(kids)
    if root:
        return kids
    n = _norm(kids, member)
    return n if n is not None else {}


@functools.lru_cache(maxsize=4096)
def _secs(t: str | None) -> float:
    if not t:
        return 0
    try:
        return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _encode(entries: dict[tuple[str, str, str, str], _Entry]) -> list[dict[str, Any]]:
    """Entries in upstream order: Apply before Update, then oldest first, then manager name."""
    lst = sorted(entries.values(),
                 key=lambda e: (e.operation, _secs(e.time), e.manager, e.api_version, e.subresource))
    out = []
    for e in lst:
        if e.raw is not None:
            out.append(e.raw)
            continue
        d: dict[str, Any] = {}
        if e.manager:
            d["manager"] = e.manager
        d["operation"] = e.operation
        d["apiVersion"] = e.api_version
        if e.time:
            d["time"] = e.time
        d["fieldsType"] = "FieldsV1"
        d["fieldsV1"] = e.fields
        if e.subresource:
            d["subresource"] = e.subresource
        out.append(d)
    return out


def _store(md: dict[str, Any], entries: dict[tuple[str, str, str, str], _Entry]) -> None:
    if entries:
        md["managedFields"] = _encode(entries)
    else:
        md.pop("managedFields", None)


def _cap_updaters(entries: dict[tuple[str, str, str, str], _Entry]) -> None:
    """Keep at most MAX_UPDATE_MANAGERS Update entries: the oldest fold into 'ancient-changes' per version."""
    updaters = [k for k, e in entries.items() if e.operation != "Apply"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda k: (_secs(entries[k].time), _ident(k)))
    first_of_version: dict[str, tuple[str, str, str, str]] = {}
    length = len(updaters)
    for k in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        e = entries.get(k)
        if e is None:
            continue
        version = e.api_version
        bucket = _key(ANCIENT_CHANGES, "Update", version, "")
        first = first_of_version.get(version)
        if first is None or k == bucket:
            first_of_version.setdefault(version, k)
            continue
        b = entries.get(bucket)
        if b is None:
            f = entries.pop(first)
            b = _Entry(ANCIENT_CHANGES, "Update", version, "", f.time, f.fields)
        entries[bucket] = _Entry(ANCIENT_CHANGES, "Update", version, "", e.time,
                                 _union_children(b.fields, e.fields))
        del entries[k]
        length -= 1


# ---------------------------------------------------------------------------------------------
# Public API

def fields_v1(obj: dict[str, Any], def_name: str) -> dict[str, Any]:
    """The fieldsV1 set of every field present in `obj` (upstream ToFieldSet, serialized)."""
    try:
        return _to_set(obj, _root(def_name)) or {}
    except _BadItem:
        return {}


def update_managed_fields(old: dict[str, Any] | None, new: dict[str, Any], manager: str, operation: str,
                          def_name: str, now: str, subresource: str | None = None) -> None:
    """Record a non-apply write (create/update/patch/subresource) in new.metadata.managedFields.

    Fields that differ between `old` and `new` go to `manager` and leave every other manager; fields
    removed leave everyone. `old` is None on create (compared against the kind's empty object).
    As upstream: a client-provided managedFields (other than on a subresource) replaces the stored
    one when it decodes; [] or [{}] resets tracking; an object without managedFields stays untracked.
    Unchanged entries (and their fieldsV1 dicts) are shared with `old`: treat them as immutable."""
    md = new.get("metadata")
    if not isinstance(md, dict):
        md = new["metadata"] = {}
    old_md = (old.get("metadata") if old is not None else None) or {}
    old_mf = old_md.get("managedFields")
    req_mf = md.get("managedFields", _ABSENT)
    from_old = True
    if subresource or req_mf is _ABSENT or req_mf is None or req_mf is old_mf or req_mf == old_mf:
        entries = _decode(old_mf, False)
    elif isinstance(req_mf, list) and (not req_mf or (len(req_mf) == 1 and req_mf[0] == {})):
        entries = {}
        from_old = False
    else:
        try:
            entries = _decode(req_mf, True)
            from_old = False
        except _BadManagedFields:
            entries = {}
        if not entries:
            entries = _decode(old_mf, False)
            from_old = True
    creating = old is None or not old_md.get("uid")
    if not entries and not creating:
        md.pop("managedFields", None)  # upstream: never start tracking on an update
        return
    t = _root(def_name)
    skip = _skip_tree(def_name, subresource or "", not creating)
    try:
        changed, removed = _diff_objects(old if old is not None else _zero(def_name), new, t, skip)
    except _BadItem:
        changed, removed = {}, {}
    dirty = not from_old
    if changed or removed:
        for k, e in list(entries.items()):
            s = _diff_children(_diff_children(e.fields, changed), removed)
            if s is not e.fields:
                dirty = True
                if s:
                    entries[k] = e.replace(s)
                else:
                    del entries[k]
    for k, e in list(entries.items()):
        if not e.fields:
            del entries[k]
            dirty = True
    if changed:
        gv = _gv(def_name, new)
        key = _key(manager, operation, gv, subresource or "")
        prev = entries.get(key)
        fields = _union_children(prev.fields, changed) if prev is not None else changed
        entries[key] = _Entry(manager, operation, gv, subresource or "", now, fields)
        dirty = True
        _cap_updaters(entries)
    if not dirty and isinstance(old_mf, list) and old_mf:
        md["managedFields"] = old_mf
        return
    _store(md, entries)


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
                      def_name: str, now: str, subresource: str | None = None) -> dict[str, Any]:
    """Apply configuration `applied` for `manager` onto `live` (None: create) and return the new object.

    Merge semantics follow the schema (associative lists by key, sets, atomic values); fields this
    manager applied before and omits now are removed unless another manager owns them; another
    manager's field changed to a different value is a 409 Conflict unless `force`."""
    if not isinstance(applied, dict):
        raise bad_request("the body of the apply patch must be an object")
    gvks = _gvks(def_name)
    av, kind = applied.get("apiVersion"), applied.get("kind")
    if gvks and (av, kind) not in gvks:  # upstream versionCheckManager
        raise bad_request(f"invalid object type: {_gvk_str(av, kind)}")
    gv = _gv(def_name, live if live is not None else applied)
    if gvks and av != gv:
        raise bad_request("Incorrect version specified in apply patch. "
                          f"Specified patch version: {_gvk_str(av, None)}, expected: {gv}")
    amd = applied.get("metadata")
    if isinstance(amd, dict) and amd.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    t = _root(def_name)
    skip = _skip_tree(def_name, subresource or "")
    if live is not None:
        live_obj = dict(live)
        lmd = live_obj.get("metadata")
        lmd = dict(lmd) if isinstance(lmd, dict) else {}
        mf = lmd.pop("managedFields", None)
        live_obj["metadata"] = lmd
        entries = _decode(mf, False)
    else:
        live_obj = {}
        entries = {}
    key = _key(manager, "Apply", gv, subresource or "")
    try:
        try:
            result, entries = _apply(live_obj, live is not None, applied, entries, key, force, gv, def_name, t,
                                     skip, now)
        except _Conflicts as c:
            allowed = _allowed_from_last_applied(live_obj, gv, t) if manager == "kubectl" and live else None
            if allowed is None:
                raise
            remaining = [(k, p) for k, p in c.items if not _has(allowed, p)]
            if remaining:
                raise _Conflicts(remaining) from None
            result, entries = _apply(live_obj, True, applied, entries, key, True, gv, def_name, t, skip, now)
    except _Conflicts as c:
        raise c.error() from None
    except _TypedError as e:
        ns = (amd or {}).get("namespace", "") if isinstance(amd, dict) else ""
        name = (amd or {}).get("name", "") if isinstance(amd, dict) else ""
        raise ApiError(500, "", f"failed to create typed patch object ({ns}/{name}; "
                                f"{_gvk_str(av, kind)}): {e}") from None
    result = _deep_copy(result)
    md = result.get("metadata")
    if not isinstance(md, dict):
        md = result["metadata"] = {}
    if manager == "kubectl":
        _sync_last_applied(md, applied)
    if entries:
        md["managedFields"] = _deep_copy(_encode(entries))  # apply is rare: share nothing with `live`
    return result


def _gvk_str(api_version: Any, kind: Any) -> str:
    """schema.GroupVersionKind / GroupVersion String() of an apiVersion (and kind)."""
    group, _, version = (api_version if isinstance(api_version, str) else "").rpartition("/")
    if kind is None:
        return f"{group}/{version}" if group else version
    return f"{group}/{version}, Kind={kind if isinstance(kind, str) else ''}"


def _deep_copy(v: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(v))
    except TypeError:
        return copy.deepcopy(v)


class _Conflicts(Exception):
    """Apply conflicts: (manager key, path) pairs in upstream order."""

    def __init__(self, items: list[tuple[tuple[str, str, str, str], list[str]]]) -> None:
        super().__init__("conflicts")
        self.items = items

    def error(self) -> ApiError:
        causes = [{"type": "FieldManagerConflict", "message": f"conflict with {_print_manager(k)}",
                   "field": _path_str(p)} for k, p in self.items]
        if len(self.items) == 1:
            k, p = self.items[0]
            msg = f"Apply failed with 1 conflict: conflict with {_print_manager(k)}: {_path_str(p)}"
        else:
            by_manager: dict[tuple[str, str, str, str], list[list[str]]] = {}
            for k, p in self.items:
                by_manager.setdefault(k, []).append(p)
            lines = []
            for k in sorted(by_manager, key=_ident):
                lines.append(f"conflicts with {_print_manager(k)}:")
                lines.extend(f"- {_path_str(p)}" for p in by_manager[k])
            msg = f"Apply failed with {len(self.items)} conflicts: " + "\n".join(lines)
        return ApiError(409, "Conflict", msg, causes=causes)


def _print_manager(key: tuple[str, str, str, str]) -> str:
    s = _go_quote(key[0])
    if key[3]:
        s += f" with subresource {_go_quote(key[3])}"
    if key[1] == "Update":
        s += f" using {key[2]}"
    return s


def _apply(live_obj: dict[str, Any], exists: bool, applied: dict[str, Any],
           entries: dict[tuple[str, str, str, str], _Entry], key: tuple[str, str, str, str], force: bool,
           gv: str, def_name: str, t: _T, skip: dict[str, Any],
           now: str) -> tuple[dict[str, Any], dict[tuple[str, str, str, str], _Entry]]:
    entries = dict(entries)
    if not entries and exists:
        # Upstream: the first apply to an untracked object gives existing fields to "before-first-apply".
        try:
            changed, _ = _diff_objects(_zero(def_name), live_obj, t, skip)
        except _BadItem:
            changed = {}
        if changed:
            k = _key(BEFORE_FIRST_APPLY, "Update", gv, key[3])
            entries[k] = _Entry(BEFORE_FIRST_APPLY, "Update", gv, key[3], now, changed)
    merged = _merge(live_obj, applied, t, [])
    try:
        config = _exclude(_to_set(applied, t) or {}, skip)
    except _BadItem as e:
        raise _TypedError(str(e)) from None
    last = entries.get(key)
    entries[key] = _Entry(key[0], "Apply", gv, key[3], last.time if last else None, config)
    if last is not None and last.fields:
        merged = _prune(merged, entries, last.fields, t)
    try:
        changed, removed = _diff_objects(live_obj, merged, t, skip)
    except _BadItem as e:
        raise _TypedError(str(e)) from None
    conflicts: list[tuple[tuple[str, str, str, str], list[str]]] = []
    if changed:
        for k in sorted(entries, key=_ident):
            if k == key:
                continue
            c = _intersect_children(entries[k].fields, changed)
            if c:
                conflicts.extend((k, p) for p in _iter_members(c, []))
    if conflicts and not force:
        raise _Conflicts(conflicts)
    if changed or removed:
        for k, e in list(entries.items()):
            if k == key:
                continue
            s = _diff_children(_diff_children(e.fields, changed), removed)
            if s is not e.fields:
                entries[k] = e.replace(s)
    for k, e in list(entries.items()):
        if not e.fields:
            del entries[k]
    if merged != live_obj and key in entries:
        e = entries[key]
        e.time = now
    return merged, entries


def _prune(merged: dict[str, Any], entries: dict[tuple[str, str, str, str], _Entry],
           last: dict[str, Any], t: _T) -> dict[str, Any]:
    """Remove what the applier applied last time and no longer applies, unless someone else owns it."""
    try:
        return _prune_sets(merged, entries, last, t)
    except _BadItem:
        return merged


def _prune_sets(merged: dict[str, Any], entries: dict[tuple[str, str, str, str], _Entry],
                last: dict[str, Any], t: _T) -> dict[str, Any]:
    last_e = _ensure_named(last, t)
    pruned = _remove(merged, last_e, t)
    if pruned is merged:
        return merged
    if pruned is _ABSENT:
        pruned = {}
    owned: dict[str, Any] = {}
    for e in entries.values():
        owned = _union_children(owned, e.fields)
    merged_set = _ensure_named(_to_set(merged, t) or {}, t)
    pruned_set = _ensure_named(_to_set(pruned, t) or {}, t)
    drop = _diff_children(merged_set, _union_children(pruned_set, _ensure_named(owned, t)))
    pruned = _remove(merged, drop, t) if drop else merged
    if pruned is _ABSENT:
        pruned = {}
    pruned_set = _ensure_named(_to_set(pruned, t) or {}, t)
    drop = _intersect_children(_diff_children(merged_set, pruned_set), last_e)
    if not drop:
        return merged
    out = _remove(merged, drop, t)
    return {} if out is _ABSENT else out


def _allowed_from_last_applied(live_obj: dict[str, Any], gv: str, t: _T) -> dict[str, Any] | None:
    """Fields of the client-side-apply annotation whose value still matches the live object: kubectl's
    first server-side apply may take them over without a conflict (upstream lastAppliedManager)."""
    ann = (live_obj.get("metadata") or {}).get("annotations") or {}
    raw = ann.get(LAST_APPLIED) if isinstance(ann, dict) else None
    if not raw:
        return None
    try:
        last = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != gv:
        return None
    try:
        lset = _to_set(last, t) or {}
        changed, removed = _diff_objects(last, live_obj, t, None)
    except _BadItem:
        return None
    return _diff_children(_diff_children(lset, changed), removed)


def _sync_last_applied(md: dict[str, Any], applied: dict[str, Any]) -> None:
    """kubectl's server-side apply keeps an existing client-side-apply annotation in step."""
    ann = md.get("annotations")
    if not isinstance(ann, dict) or not ann.get(LAST_APPLIED):
        return
    cfg = dict(applied)
    amd = cfg.get("metadata")
    if isinstance(amd, dict) and isinstance(amd.get("annotations"), dict):
        amd = dict(amd)
        amd["annotations"] = {k: v for k, v in amd["annotations"].items() if k != LAST_APPLIED}
        cfg["metadata"] = amd
    ann[LAST_APPLIED] = _go_json(cfg) + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in ann.items())
    if size > _ANNOTATIONS_SIZE_LIMIT:
        del ann[LAST_APPLIED]

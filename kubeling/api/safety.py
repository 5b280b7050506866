"""Decode-time defenses against hostile request bodies (what Go's typed decoding gives upstream for free).

- safe_yaml: YAML with anchors/aliases can describe an exponentially large document in a few hundred
  bytes (the "billion laughs"; CVE-2019-11253 upstream). The document is measured as if expanded
  (shared nodes counted each time they are used, in time linear in the unique nodes) and rejected
  with upstream's message when it is out of proportion.
- check_types: upstream decodes every body into Go structs, so a list where an object belongs, a
  string where an integer belongs, is a 400 before any code looks at it. Objects here are dicts; this
  walks the body once against the kind's OpenAPI schema and answers the same 400, so later code can
  rely on the shapes. Only bodies from the network are checked (in-process clients build typed dicts).
- check_size: etcd refuses values over 1.5 MiB ("request is too large"); so does kubeling, with 413.
"""
from __future__ import annotations

from typing import Any

import orjson
import yaml

from . import errors, schema

MAX_OBJECT_BYTES = 1572864  # etcd's default --max-request-bytes
MAX_YAML_NODES = 100_000  # expanded nodes a document may have ...
MAX_YAML_RATIO = 8  # ... unless it is not much larger than what was sent
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)


# ---- YAML ---------------------------------------------------------------------------------------------------

def _expanded_size(root: Any, limit: int) -> int:
    """Nodes of the document with every alias expanded; stops counting past limit."""
    memo: dict[int, int] = {}

    def size(v: Any, depth: int) -> int:
        if not isinstance(v, (dict, list)):
            return 1
        k = id(v)
        hit = memo.get(k)
        if hit is not None:
            return hit
        if depth > 1000:
            return limit + 1
        memo[k] = 0  # a cycle counts as nothing more
        n = 1
        for c in (v.items() if isinstance(v, dict) else enumerate(v)):
            n += size(c[1], depth + 1)
            if n > limit:
                break
        memo[k] = n
        return n

    return size(root, 0)


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamp resolution: Go's YAML-to-JSON keeps such scalars as the strings they are."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _key(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    return "null" if k is None else str(k)


def _jsonable(v: Any) -> Any:
    """JSON's data model: string keys (as YAMLToJSON converts them), bytes as base64."""
    if isinstance(v, dict):
        return {k if isinstance(k, str) else _key(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        import base64

        return base64.b64encode(v).decode()
    return v


def safe_yaml(raw: bytes | str) -> Any:
    """Load a YAML body as JSON data, refusing documents that expand far beyond their size (alias bombs)."""
    doc = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    if isinstance(doc, (dict, list)):
        limit = max(MAX_YAML_NODES, MAX_YAML_RATIO * len(raw))
        if _expanded_size(doc, limit) > limit:
            raise yaml.YAMLError("yaml: document contains excessive aliasing")
        doc = _jsonable(doc)
        try:
            orjson.dumps(doc)
        except TypeError as e:
            raise yaml.YAMLError(f"invalid document: {e}") from None
    return doc


# ---- types --------------------------------------------------------------------------------------------------

class _T:
    """A compiled schema node: kind is struct | map | list | str | int | num | bool | qty | intstr | any."""

    __slots__ = ("kind", "go", "props", "sub", "fmt", "struct")

    def __init__(self, kind: str, go: str = "", fmt: str = "") -> None:
        self.kind = kind
        self.go = go  # Go type name for messages
        self.fmt = fmt
        self.props: dict[str, Any] = {}
        self.sub: Any = None
        self.struct = ""  # Go struct name (for "Go struct field X.path")


_ANY = _T("any")
_defs: dict[str, _T] = {}


def _go_name(def_name: str) -> str:
    parts = def_name.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else def_name


def _of_def(name: str) -> _T:
    t = _defs.get(name)
    if t is not None:
        return t
    if name == schema.QUANTITY:
        t = _T("qty", "resource.Quantity")
    elif name == schema.INT_OR_STRING:
        t = _T("intstr", "intstr.IntOrString")
    else:
        node = schema.definitions().get(name)
        if node is None:
            return _ANY
        t = _T("struct", _go_name(name))
        _defs[name] = t  # before compiling: definitions can be recursive
        c = _compile(node, _go_name(name))
        t.kind, t.props, t.sub, t.fmt = c.kind, c.props, c.sub, c.fmt
        t.go = c.go if c.kind != "struct" else _go_name(name)
        t.struct = name.rsplit(".", 1)[-1]
    _defs[name] = t
    return t


def _node(node: dict[str, Any] | None) -> Any:
    if node is None:
        return _ANY
    ref = schema.ref_name(node)
    if ref is not None:
        return _of_def(ref)
    return _compile(node, "")


def _compile(node: dict[str, Any], go: str) -> _T:
    if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
        return _ANY
    if "properties" in node:
        t = _T("struct", go)
        t.props = dict(node["properties"])  # compiled lazily, see _child
        return t
    ap = node.get("additionalProperties")
    typ = node.get("type")
    if isinstance(ap, dict):
        t = _T("map")
        t.sub = ap
        return t
    if typ == "array":
        t = _T("list")
        t.sub = node.get("items")
        return t
    if typ == "string":
        return _T("str", "string", node.get("format", ""))
    if typ == "integer":
        f = node.get("format", "")
        return _T("int", f or "int", f)
    if typ == "number":
        return _T("num", "float64")
    if typ == "boolean":
        return _T("bool", "bool")
    return _ANY


def _child(t: _T, key: str) -> Any:
    c = t.props.get(key)
    if c is None or isinstance(c, _T):
        return c
    c = t.props[key] = _node(c)
    return c


def _sub(t: _T) -> Any:
    s = t.sub
    if not isinstance(s, _T):
        s = t.sub = _node(s)
    return s


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "value"


def _go_type(t: _T) -> str:
    if t.kind == "list":
        return "[]" + _go_type(_sub(t))
    if t.kind == "map":
        return "map[string]" + _go_type(_sub(t))
    return t.go or "interface {}"


class TypeMismatch(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


def _mismatch(t: _T, v: Any, struct: str, path: str) -> TypeMismatch:
    shown = _json_type(v)
    if shown == "number":
        shown = f"number {v}" if t.kind in ("int", "str", "bool") else shown
    where = f"Go struct field {struct}.{path}" if struct and path else "Go value"
    return TypeMismatch(f"json: cannot unmarshal {shown} into {where} of type {_go_type(t)}")


_NO_ZERO = object()
_ZERO: dict[str, Any] = {"str": "", "int": 0, "num": 0, "bool": False, "struct": {}, "intstr": 0, "qty": "0"}


def _check(t: _T, v: Any, struct: str, path: str) -> None:
    if v is None:
        return
    k = t.kind
    if k == "struct":
        if not isinstance(v, dict):
            raise _mismatch(t, v, struct, path)
        inner = t.struct or struct
        for key, val in v.items():
            c = _child(t, key)
            if c is not None and c is not _ANY:
                _check(c, val, inner, f"{path}.{key}" if path else key)
    elif k == "list":
        if not isinstance(v, list):
            raise _mismatch(t, v, struct, path)
        s = _sub(t)
        if s is not _ANY:
            zero = _ZERO.get(s.kind, _NO_ZERO)
            for i, item in enumerate(v):
                if item is None:
                    if zero is not _NO_ZERO:  # Go decodes a null element as the zero value
                        v[i] = {} if zero == {} else zero
                    continue
                _check(s, item, struct, path)
    elif k == "map":
        if not isinstance(v, dict):
            raise _mismatch(t, v, struct, path)
        s = _sub(t)
        if s is not _ANY:
            zero = _ZERO.get(s.kind, _NO_ZERO)
            for key, item in v.items():
                if item is None:
                    if zero is not _NO_ZERO:
                        v[key] = {} if zero == {} else zero
                    continue
                _check(s, item, struct, path)
    elif k == "str":
        if not isinstance(v, str):
            raise _mismatch(t, v, struct, path)
    elif k == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise _mismatch(t, v, struct, path)
        lo, hi = _INT32 if t.fmt == "int32" else _INT64
        if not lo <= v <= hi:
            raise _mismatch(t, v, struct, path)
    elif k == "num":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _mismatch(t, v, struct, path)
    elif k == "bool":
        if not isinstance(v, bool):
            raise _mismatch(t, v, struct, path)
    elif k == "qty":
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise errors.bad_request("quantities must match the regular expression "
                                     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    elif k == "intstr":
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _mismatch(t, v, struct, path)


def check_types(def_name: str, kind: str, version: str, obj: dict[str, Any]) -> None:
    """400 BadRequest, worded as upstream's decoder words it, when obj does not fit its schema's types."""
    t = _of_def(def_name)
    if t is _ANY:
        return
    try:
        _check(t, obj, "", "")
    except TypeMismatch as e:
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {e.msg}') from None
    except RecursionError:
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: '
                                 "exceeded max depth") from None


def check_size(obj: dict[str, Any]) -> None:
    """413 for objects larger than etcd would store."""
    try:
        n = len(orjson.dumps(obj))
    except TypeError as e:  # not representable as JSON (lone surrogates, ...)
        raise errors.bad_request(f"the object provided is unrecognized: {e}") from None
    if n > MAX_OBJECT_BYTES:
        raise errors.ApiError(413, "RequestEntityTooLarge", "etcdserver: request is too large")

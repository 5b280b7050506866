"""Custom resources: the one generic kind behind every CustomResourceDefinition.

Upstream's apiextensions-apiserver serves each CRD version with a structural OpenAPI v3 schema:
unknown fields are pruned (and reported for fieldValidation), `default:` values are filled in,
the object is validated against the schema with kube-openapi's messages, status/scale
subresources follow the CRD, and Table output follows additionalPrinterColumns. All of that is
schema-driven and lives here, on plain dicts; the registry calls in through the hooks at the end.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..storage.base import KV
from . import errors
from .selectors import format_label_selector

Obj = dict[str, Any]
Cause = dict[str, str]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some resources "
              "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
              "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
              "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_CREATED_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is "
                 "not guaranteed to be set in happens-before order across separate operations. Clients may not set "
                 "this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
                 "Read-only. Null for lists. More info: "
                 "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


@dataclass
class CustomInfo:
    """What one served version of a CRD needs at request time."""

    crd: str
    schema: dict[str, Any] | None
    status: bool = False
    scale: dict[str, Any] | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    storage_version: str = ""
    list_kind: str = ""
    # The Warning a deprecated version sends with every response ("" when not deprecated).
    warning: str = ""
    # conversion.strategy "Webhook": its clientConfig (None for strategy None: only apiVersion changes).
    webhook: dict[str, Any] | None = None


def info_of(rt: Any) -> CustomInfo | None:
    return getattr(rt, "custom", None)


# ---------------------------------------------------------------------------------------------
# Structural schema walks: pruning, defaulting, validation

def _child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_object(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" or "properties" in node or "additionalProperties" in node


def prune(node: dict[str, Any] | None, value: Any, path: str = "", out: list[str] | None = None,
          root: bool = True) -> list[str]:
    """Drop the fields the schema does not specify (structural pruning); returns their paths.

    apiVersion, kind and metadata survive at the root and in x-kubernetes-embedded-resource objects."""
    if out is None:
        out = []
    if node is None:
        return out
    if isinstance(value, dict) and (_is_object(node) or root):
        if node.get("x-kubernetes-int-or-string"):
            return out
        props = node.get("properties") or {}
        ap = node.get("additionalProperties")
        keep_unknown = bool(node.get("x-kubernetes-preserve-unknown-fields")) or ap is True
        embedded = root or bool(node.get("x-kubernetes-embedded-resource"))
        for k in list(value):
            p = _child_path(path, k)
            if k in props:
                prune(props[k], value[k], p, out, False)
            elif embedded and k in ("apiVersion", "kind", "metadata"):
                continue
            elif isinstance(ap, dict):
                prune(ap, value[k], p, out, False)
            elif not keep_unknown:
                out.append(p)
                del value[k]
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            prune(node["items"], item, f"{path}[{i}]", out, False)
    return out


def apply_schema_defaults(node: dict[str, Any] | None, value: Any) -> None:
    """Fill in `default:` values of absent (or null, when not nullable) fields, top-down."""
    if node is None:
        return
    if isinstance(value, dict):
        props = node.get("properties") or {}
        for k, sub in props.items():
            if "default" in sub and (k not in value or (value[k] is None and not sub.get("nullable"))):
                value[k] = copy.deepcopy(sub["default"])
            if k in value:
                apply_schema_defaults(sub, value[k])
        ap = node.get("additionalProperties")
        if isinstance(ap, dict):
            for k, v in value.items():
                if k not in props:
                    apply_schema_defaults(ap, v)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            apply_schema_defaults(node["items"], item)


def _type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _type_ok(want: str, v: Any) -> bool:
    got = _type_of(v)
    return got == want or (want == "number" and got == "integer")


def _num(v: Any) -> str:
    """A bound as Go's %v prints a float64."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _type_error(path: str, value: Any, want: str) -> Cause:
    return {"type": "FieldValueTypeInvalid", "field": path,
            "message": f"Invalid value: {errors._fmt(value)}: {path} in body must be of type {want}: "
                       f'"{_type_of(value)}"'}


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return errors.invalid_value(path, "" if value is None else _scalar(value), detail)


def _scalar(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    return v


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern(p: str) -> re.Pattern[str] | None:
    if p not in _PATTERNS:
        try:
            _PATTERNS[p] = re.compile(p)
        except re.error:
            _PATTERNS[p] = None
    return _PATTERNS[p]


def validate_value(node: dict[str, Any] | None, value: Any, path: str = "", root: bool = True) -> list[Cause]:
    """Causes for `value` against a structural schema node, with kube-openapi's messages."""
    out: list[Cause] = []
    if node is not None:
        _validate(node, value, path, out, root)
    return out


def _validate(node: dict[str, Any], value: Any, path: str, out: list[Cause], root: bool = False) -> None:
    if value is None:
        if node.get("nullable") or root:
            return
        want = node.get("type")
        if node.get("x-kubernetes-int-or-string"):
            out.append(_type_error(path, None, "integer"))
            out.append(_type_error(path, None, "string"))
            return
        if want:
            out.append(_type_error(path, None, want))
        return
    if node.get("x-kubernetes-int-or-string"):
        if _type_of(value) not in ("integer", "string") or isinstance(value, float):
            out.append(_type_error(path, value, "integer"))
            out.append(_type_error(path, value, "string"))
            out.append(_invalid(path, value, f"{path} in body must validate at least one schema (anyOf)"))
            return
    else:
        want = node.get("type")
        if want and not _type_ok(want, value):
            out.append(_type_error(path, value, want))
            return
    if isinstance(value, str):
        ml = node.get("maxLength")
        if ml is not None and len(value) > ml:
            out.append(errors.too_long(path, value, ml))
        mn = node.get("minLength")
        if mn is not None and len(value) < mn:
            out.append(_invalid(path, value, f"{path} in body should be at least {mn} chars long"))
        pat = node.get("pattern")
        if pat is not None:
            rx = _pattern(pat)
            if rx is not None and rx.search(value) is None:
                out.append(_invalid(path, value, f"{path} in body should match '{pat}'"))
        fmt = node.get("format")
        if fmt and not check_format(fmt, value):
            out.append({"type": "FieldValueTypeInvalid", "field": path,
                        "message": f"Invalid value: {errors._fmt(value)}: {path} in body must be of type {fmt}: "
                                   f"{orjson.dumps(value).decode()}"})
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(node, value, path, out)
    enum = node.get("enum")
    if enum is not None and value not in enum:
        out.append(errors.unsupported(path, _scalar(value), [_enum_text(e) for e in enum]))
    if isinstance(value, list):
        _validate_list(node, value, path, out)
    elif isinstance(value, dict):
        _validate_object(node, value, path, out, root)


# String formats kube-openapi's default registry checks (apiextensions' supported set for v1.32). Names are
# normalized as go-openapi does ("date-time" == "datetime"); an unknown format is not validated. int32/int64/
# float/double are accepted for numbers without range checks, as upstream's type validator does.
_RX_UUID = {"uuid": r"[0-9a-f]{4}", "uuid3": r"3[0-9a-f]{3}", "uuid4": r"4[0-9a-f]{3}", "uuid5": r"5[0-9a-f]{3}"}
_UUID = {k: re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?" + v + r"-?" + ("[0-9a-f]{4}" if k in ("uuid", "uuid3")
                                                                      else "[89ab][0-9a-f]{3}") + r"-?[0-9a-f]{12}$")
         for k, v in _RX_UUID.items()}
_HOSTNAME = re.compile(r"^([^\W_]((-?[^\W_]{0,62})?)|([^\W_](([^\W_-]|-){0,61}[^\W_])?\.)+[^\W_](-?[^\W_]){1,62})$")
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$")
_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^0$|"
                       r"^(\d+)\s*(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|"
                       r"minutes?|hours?|days?|weeks?)$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2}"
                  r"(?:\2[0-9A-Fa-f]{2}){0,2}(?:(?:\2[0-9A-Fa-f]{2}){12})?|"
                  r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){0,1}(?:(?:\.[0-9A-Fa-f]{4}){6})?)$")
_FORMAT_RX = {
    "bsonobjectid": re.compile(r"^[0-9a-fA-F]{24}$"),
    "hexcolor": re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"),
    "rgbcolor": re.compile(r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])"
                           r"\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"),
    "ssn": re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$"),
    "email": re.compile(r"^(?:[^<>@\s]+@[^<>@\s]+|[^<>]*<[^<>@\s]+@[^<>@\s]+>)$"),
}


def _valid_date(y: str, mo: str, d: str) -> bool:
    import datetime

    try:
        datetime.date(int(y), int(mo), int(d))
    except ValueError:
        return False
    return True


def check_format(fmt: str, value: str) -> bool:
    """Whether `value` passes the string format `fmt` (True for formats upstream does not check)."""
    import ipaddress

    f = fmt.replace("-", "")
    if f in _UUID:
        return _UUID[f].match(value) is not None
    if f in _FORMAT_RX:
        return _FORMAT_RX[f].match(value) is not None
    if f == "byte":
        return _BASE64.match(value) is not None
    if f == "date":
        return _DATE.match(value) is not None and _valid_date(*value.split("-"))
    if f == "datetime":
        m = _DATETIME.match(value)
        return m is not None and _valid_date(*m.group(1).split("-")) and int(m.group(2)) < 24 and \
            int(m.group(3)) < 60 and int(m.group(4) or 0) < 60
    if f == "duration":
        return _DURATION.match(value) is not None
    if f == "hostname":
        return _HOSTNAME.match(value) is not None and len(value) <= 255 and all(len(p) <= 63
                                                                             for p in value.split("."))
    if f == "mac":
        return _MAC.match(value) is not None
    if f in ("ipv4", "ipv6"):
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return False
        return ("." in value) if f == "ipv4" else (":" in value and ip.version in (4, 6))
    if f == "cidr":
        if "/" not in value:
            return False
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return True
    if f == "uri":  # Go's url.ParseRequestURI: an absolute URI or an absolute path
        return bool(re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*:\S+|/\S*)$", value))
    return True


def _enum_text(e: Any) -> str:
    if isinstance(e, str):
        return e
    if isinstance(e, bool):
        return "true" if e else "false"
    return orjson.dumps(e).decode() if isinstance(e, (dict, list)) else _num(e)


def _validate_number(node: dict[str, Any], value: float, path: str, out: list[Cause]) -> None:
    mx = node.get("maximum")
    if mx is not None:
        if node.get("exclusiveMaximum") and value >= mx:
            out.append(_invalid(path, value, f"{path} in body should be less than {_num(mx)}"))
        elif value > mx:
            out.append(_invalid(path, value, f"{path} in body should be less than or equal to {_num(mx)}"))
    mn = node.get("minimum")
    if mn is not None:
        if node.get("exclusiveMinimum") and value <= mn:
            out.append(_invalid(path, value, f"{path} in body should be greater than {_num(mn)}"))
        elif value < mn:
            out.append(_invalid(path, value, f"{path} in body should be greater than or equal to {_num(mn)}"))
    mo = node.get("multipleOf")
    if mo:
        q = value / mo
        if not math.isclose(q, round(q)):
            out.append(_invalid(path, value, f"{path} in body should be a multiple of {_num(mo)}"))


def _check_count(node: dict[str, Any], value: Any, path: str, out: list[Cause], key: str, noun: str) -> None:
    """maxItems/minItems or maxProperties/minProperties (field.TooMany, or kube-openapi's at-least message)."""
    mx = node.get("max" + key)
    if mx is not None and len(value) > mx:
        out.append({"type": "FieldValueTooMany", "field": path,
                    "message": f"Too many: {len(value)}: must have at most {mx} items"})
    mn = node.get("min" + key)
    if mn is not None and len(value) < mn:
        out.append(_invalid(path, value, f"{path} in body should have at least {mn} {noun}"))


def _validate_list(node: dict[str, Any], value: list, path: str, out: list[Cause]) -> None:
    _check_count(node, value, path, out, "Items", "items")
    items = node.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(items, item, f"{path}[{i}]", out)
    lt = node.get("x-kubernetes-list-type")
    if lt == "set":
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                out.append(errors.duplicate(f"{path}[{i}]", _scalar(item)))
            else:
                seen.append(item)
    elif lt == "map":
        keys = node.get("x-kubernetes-list-map-keys") or []
        seen_keys: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            k = orjson.dumps([item.get(x) for x in keys]).decode()
            if k in seen_keys:
                dup = {x: item.get(x) for x in keys}
                shown = dup[keys[0]] if len(keys) == 1 else orjson.dumps(dup).decode()
                out.append(errors.duplicate(f"{path}[{i}]", shown))
            seen_keys.add(k)


def _validate_object(node: dict[str, Any], value: dict, path: str, out: list[Cause], root: bool) -> None:
    props = node.get("properties") or {}
    for r in node.get("required") or ():
        if r not in value:
            out.append(errors.required(_child_path(path, r)))
    _check_count(node, value, path, out, "Properties", "properties")
    ap = node.get("additionalProperties")
    embedded = root or node.get("x-kubernetes-embedded-resource")
    for k, v in value.items():
        if embedded and k in ("apiVersion", "kind", "metadata") and k not in props:
            continue
        if root and k == "metadata":
            continue  # ObjectMeta is validated as for every kind
        sub = props.get(k)
        if sub is None and isinstance(ap, dict):
            sub = ap
        if sub is not None:
            _validate(sub, v, _child_path(path, k), out)


# ---------------------------------------------------------------------------------------------
# Version conversion (upstream's nopConverter: only apiVersion changes; a webhook for anything else)

def _webhook_error(rt: Any, obj: Obj, ci: CustomInfo) -> errors.ApiError:
    """What upstream answers when the conversion webhook cannot be called (kubeling calls none)."""
    cc = ci.webhook or {}
    svc = cc.get("service") if isinstance(cc.get("service"), dict) else None
    if svc is not None:
        url = (f'https://{svc.get("name", "")}.{svc.get("namespace", "")}.svc:{svc.get("port", 443)}'
               f'{svc.get("path") or ""}?timeout=30s')
        why = f'service "{svc.get("name", "")}" not found'
    else:
        url = f'{cc.get("url", "")}?timeout=30s'
        why = "connect: connection refused"
    gvk = f'{obj.get("apiVersion", "")}, Kind={rt.kind}'
    msg = f'conversion webhook for {gvk} failed: Post "{url}": {why}'
    return errors.ApiError(500, "InternalError", f"Internal error occurred: {msg}", causes=[{"message": msg}])


def convert_out(rt: Any, s: Any) -> Any:
    """A stored object (KV or dict) as the requested version presents it; the same object when nothing changes."""
    ci = getattr(rt, "custom", None)
    if ci is None:
        return s
    obj = s.obj if isinstance(s, KV) else s
    av = obj.get("apiVersion")
    if av is None or av == rt.group_version:
        return s
    if ci.webhook is not None:
        raise _webhook_error(rt, obj, ci)
    new = dict(obj)
    new["apiVersion"] = rt.group_version
    if isinstance(s, KV):
        return KV(s.key, new, orjson.dumps(new), s.create_rev, s.mod_rev)
    return new


def present(rt: Any, obj: Obj) -> None:
    """In place: a private copy of a stored object in the requested version (the base of a patch)."""
    ci = getattr(rt, "custom", None)
    if ci is not None and obj.get("apiVersion") not in (None, rt.group_version):
        if ci.webhook is not None:
            raise _webhook_error(rt, obj, ci)
        obj["apiVersion"] = rt.group_version


def to_storage(rt: Any, obj: Obj) -> None:
    """In place: an object about to be written, converted to the CRD's storage version."""
    ci = getattr(rt, "custom", None)
    if ci is None or not ci.storage_version:
        return
    want = f"{rt.group}/{ci.storage_version}"
    if obj.get("apiVersion") != want:
        if ci.webhook is not None:
            raise _webhook_error(rt, obj, ci)
        obj["apiVersion"] = want


# ---------------------------------------------------------------------------------------------
# Registry hooks (strategy)

def unknown_fields(rt: Any, obj: Obj) -> list[str]:
    """Prune `obj` (a request body) in place; the pruned paths, for fieldValidation Strict/Warn."""
    ci = info_of(rt)
    if ci is None or ci.schema is None:
        return []
    return prune(ci.schema, obj)


def _spec_of(obj: Obj, status: bool) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata" and not (status and k == "status")}


def prepare_for_create(rt: Any, obj: Obj) -> None:
    """Structural pruning and defaulting, status reset (status subresource), generation 1."""
    ci = info_of(rt)
    if ci.schema is not None:
        prune(ci.schema, obj)
        apply_schema_defaults(ci.schema, obj)
    if ci.status:
        obj.pop("status", None)
    obj["metadata"]["generation"] = 1


def prepare_for_update(rt: Any, obj: Obj, old: Obj, subresource: str | None = None) -> None:
    """Main resource: status kept (status subresource) and generation bumped on any other change."""
    ci = info_of(rt)
    md = obj["metadata"]
    omd = old.get("metadata") or {}
    if ci.schema is not None:
        prune(ci.schema, obj)
        apply_schema_defaults(ci.schema, obj)
    if subresource == "status":
        md["generation"] = omd.get("generation", 1)
        return
    if ci.status:
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)
    gen = omd.get("generation") or 0
    md["generation"] = gen + 1 if _spec_of(obj, ci.status) != _spec_of(old, ci.status) else gen


def validate(rt: Any, obj: Obj, old: Obj | None, status_only: bool = False) -> list[Cause]:
    """Schema causes (the whole object; upstream validates it on status updates too)."""
    ci = info_of(rt)
    causes: list[Cause] = []
    for k, want in (("apiVersion", rt.group_version), ("kind", rt.kind)):
        if obj.get(k) != want and not obj.get(k):
            causes.append(errors.required(k))
    if ci.schema is not None:
        causes.extend(validate_value(ci.schema, obj))
        if has_rules(ci.schema):
            causes.extend(validate_rules(ci.schema, obj, old))
    if ci.scale is not None and not causes:
        causes.extend(_validate_scale_paths(ci.scale, obj))
    return causes


# ---------------------------------------------------------------------------------------------
# x-kubernetes-validations: CEL rules on self (and oldSelf: transition rules), evaluated with the
# `common-expression-language` package. Upstream's Kubernetes CEL libraries (lists, regex, urls,
# quantity, ...) beyond standard CEL and type checking at CRD creation are not provided.

_PROGRAMS: dict[str, Any] = {}
_RULES_CACHE: dict[int, tuple[Any, bool]] = {}


def _cel() -> Any:
    try:
        import cel
    except ImportError:  # the dependency is missing: rules are not enforced
        return None
    return cel


def compile_rule(expr: str) -> Any:
    """A compiled CEL program (cached by its text); raises ValueError with the parser's message."""
    prog = _PROGRAMS.get(expr)
    if prog is None:
        cel = _cel()
        if cel is None:
            return None
        prog = _PROGRAMS[expr] = cel.compile(expr)
    return prog


def has_rules(node: Any) -> bool:
    """Whether any node of the schema carries x-kubernetes-validations (cached per schema object)."""
    hit = _RULES_CACHE.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    found = b"x-kubernetes-validations" in orjson.dumps(node)
    _RULES_CACHE[id(node)] = (node, found)
    return found


def _is_transition(prog: Any) -> bool:
    refs = prog.variables() if callable(prog.variables) else prog.variables
    return "oldSelf" in (refs or ())


def validate_rules(node: dict[str, Any], value: Any, old: Any, path: str = "") -> list[Cause]:
    """Causes of the CEL rules of `node` and its children; `old` is the correlated old value (None on create)."""
    out: list[Cause] = []
    if _cel() is not None:
        _rules(node, value, old, path, out, old is not None)
    return out


def _rule_text(rule: dict[str, Any]) -> str:
    msg = rule.get("message") or ""
    return msg.strip() if msg.strip() else str(rule.get("rule", "")).strip()


def _rules(node: dict[str, Any], value: Any, old: Any, path: str, out: list[Cause], has_old: bool) -> None:
    if value is None:
        return  # only non-null values are validated
    unchanged = has_old and value == old  # ratcheting (CRDValidationRatcheting, on in v1.32)
    for rule in node.get("x-kubernetes-validations") or ():
        if not isinstance(rule, dict) or not rule.get("rule"):
            continue
        _eval_rule(node, rule, value, old, path, out, has_old, unchanged)
    if isinstance(value, dict):
        props = node.get("properties") or {}
        ap = node.get("additionalProperties")
        correlate = has_old and isinstance(old, dict) and node.get("x-kubernetes-map-type") in (None, "granular",
                                                                                                  "atomic")
        for k, v in value.items():
            sub = props.get(k)
            if sub is None and isinstance(ap, dict):
                sub = ap
                child = f"{path}[{k}]" if path else f"[{k}]"
            else:
                child = _child_path(path, k)
            if sub is not None:
                ov = old.get(k) if correlate else None
                _rules(sub, v, ov, child, out, correlate and k in old)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        keys = node.get("x-kubernetes-list-map-keys") or []
        olds: dict[str, Any] = {}
        if has_old and isinstance(old, list) and node.get("x-kubernetes-list-type") == "map" and keys:
            olds = {orjson.dumps([o.get(x) for x in keys]).decode(): o for o in old if isinstance(o, dict)}
        for i, item in enumerate(value):
            k = orjson.dumps([item.get(x) for x in keys]).decode() if olds and isinstance(item, dict) else None
            _rules(node["items"], item, olds.get(k) if k else None, f"{path}[{i}]", out, k in olds if k else False)


def _eval_rule(node: dict[str, Any], rule: dict[str, Any], value: Any, old: Any, path: str, out: list[Cause],
               has_old: bool, unchanged: bool) -> None:
    fpath = path or "<nil>"
    typ = node.get("type", "")
    try:
        prog = compile_rule(rule["rule"])
    except ValueError as e:
        out.append(errors.invalid_value(fpath, typ, f"rule compile error: {e}"))
        return
    if prog is None:
        return
    transition = _is_transition(prog)
    if transition and not has_old:
        return  # transition rules run only when there is a comparable old value
    if unchanged and not transition:
        return
    ctx = {"self": value}
    if has_old:
        ctx["oldSelf"] = old
    try:
        ok = prog.execute(ctx)
    except KeyError as e:
        out.append(errors.invalid_value(fpath, typ, f"no such key: {e.args[0] if e.args else e} evaluating rule: "
                                                    f"{_rule_text(rule)}"))
        return
    except (TypeError, RuntimeError, ValueError) as e:
        if str(e).lower().startswith("no such overload"):
            msg = (f"'no such overload': call arguments did not match a supported operator, function or macro "
                   f"signature for rule: {_rule_text(rule)}")
        else:
            msg = f"{e} evaluating rule: {_rule_text(rule)}"
        out.append(errors.invalid_value(fpath, typ, msg))
        return
    if ok is True:
        return
    message = ""
    if rule.get("messageExpression"):
        try:
            m = compile_rule(rule["messageExpression"]).execute(ctx)
            if isinstance(m, str) and m.strip() and "\n" not in m:
                message = m.strip()
        except (ValueError, KeyError, TypeError, RuntimeError):
            message = ""
    if not message:
        message = rule["message"].strip() if str(rule.get("message") or "").strip() else \
            f"failed rule: {_rule_text(rule)}"
    fp = rule.get("fieldPath")
    if isinstance(fp, str) and fp:
        fpath = (path + fp) if path else fp.lstrip(".")
    reason = rule.get("reason") or "FieldValueInvalid"
    if reason == "FieldValueForbidden":
        out.append(errors.forbidden_field(fpath, message))
    elif reason == "FieldValueRequired":
        out.append(errors.required(fpath, message))
    elif reason == "FieldValueDuplicate":
        out.append(errors.duplicate(fpath, typ))
    else:
        out.append(errors.invalid_value(fpath, typ, message))


def _validate_scale_paths(scale: dict[str, Any], obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    for key in ("specReplicasPath", "statusReplicasPath"):
        p = scale.get(key)
        if not p:
            continue
        v, found = _get(obj, p)
        if found and v is not None and (_type_of(v) != "integer" or not isinstance(v, int)):
            out.append(errors.invalid_value(p.lstrip("."), _scalar(v), "should be an integer"))
        elif found and isinstance(v, int) and v < 0:
            out.append(errors.invalid_value(p.lstrip("."), v, "should be a non-negative integer"))
    return out


def _get(obj: Any, dotted: str) -> tuple[Any, bool]:
    cur = obj
    for seg in dotted.strip(".").split("."):
        if not isinstance(cur, dict) or seg not in cur:
            return None, False
        cur = cur[seg]
    return cur, True


def _set(obj: dict[str, Any], dotted: str, value: Any) -> None:
    segs = dotted.strip(".").split(".")
    cur = obj
    for seg in segs[:-1]:
        nxt = cur.get(seg)
        if not isinstance(nxt, dict):
            nxt = cur[seg] = {}
        cur = nxt
    cur[segs[-1]] = value


def to_scale(rt: Any, obj: Obj) -> dict[str, Any]:
    """autoscaling/v1 Scale of a custom resource, read through the CRD's scale paths."""
    sc = info_of(rt).scale or {}
    md = obj["metadata"]
    spec_r, _ = _get(obj, sc.get("specReplicasPath", ".spec.replicas"))
    status_r, _ = _get(obj, sc.get("statusReplicasPath", ".status.replicas"))
    sel = ""
    if sc.get("labelSelectorPath"):
        s, _ = _get(obj, sc["labelSelectorPath"])
        if isinstance(s, str):
            sel = s
        elif isinstance(s, dict):
            sel = format_label_selector(s)
    status: dict[str, Any] = {"replicas": status_r if isinstance(status_r, int) else 0}
    if sel:
        status["selector"] = sel
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in md},
            "spec": {"replicas": spec_r} if isinstance(spec_r, int) else {},
            "status": status}


def set_replicas(rt: Any, obj: Obj, replicas: int) -> None:
    _set(obj, (info_of(rt).scale or {}).get("specReplicasPath", ".spec.replicas"), replicas)


# ---------------------------------------------------------------------------------------------
# Table output (additionalPrinterColumns)

def _columns(rt: Any) -> list[dict[str, Any]]:
    cols = info_of(rt).columns
    if not cols:
        return [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                 "description": _CREATED_DESC}]
    return cols


def column_definitions(rt: Any) -> list[dict[str, Any]]:
    out = [{"name": "Name", "type": "string", "format": "name", "description": _NAME_DESC, "priority": 0}]
    for c in _columns(rt):
        out.append({"name": c.get("name", ""), "type": c.get("type", "string"), "format": c.get("format", ""),
                    "description": c.get("description", ""), "priority": c.get("priority", 0)})
    return out


def row_cells(rt: Any, obj: Obj, now: float) -> list[Any]:
    cells: list[Any] = [obj["metadata"].get("name", "")]
    for c in _columns(rt):
        vals = jsonpath(obj, c.get("jsonPath", ""))
        if not vals:
            cells.append(None)
            continue
        cells.append(_cell(c.get("type", "string"), vals[0], now))
    return cells


def _cell(typ: str, v: Any, now: float = 0.0) -> Any:
    if typ == "string":
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return None
        if isinstance(v, (dict, list)):
            return orjson.dumps(v).decode()
        return _num(v)
    if v is None:
        return None
    if typ == "integer" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    if typ == "number" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if typ == "boolean" and isinstance(v, bool):
        return v
    if typ == "date" and isinstance(v, str):
        from .meta import parse_time
        from .printers import human_duration

        ts = parse_time(v)
        return "<invalid>" if ts is None else human_duration(now - ts)
    return None


_JP_TOKEN = re.compile(r"\.\.?([A-Za-z0-9_\-/]+|\*)|\[([^\]]*)\]")
_JP_FILTER = re.compile(r"""^\?\(@\.([\w.\-/]+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(\S+))\)$""")


def jsonpath(obj: Any, expr: str) -> list[Any]:
    """The results of a simple JSONPath (fields, [n], [*], [?(@.a=="b")]), as kubectl's column printer."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    cur = [obj]
    pos = 0
    while pos < len(expr):
        m = _JP_TOKEN.match(expr, pos)
        if m is None:
            return []
        pos = m.end()
        nxt: list[Any] = []
        if m.group(1) is not None:
            name = m.group(1)
            for c in cur:
                if isinstance(c, dict):
                    if name == "*":
                        nxt.extend(c.values())
                    elif name in c:
                        nxt.append(c[name])
                elif isinstance(c, list) and name == "*":
                    nxt.extend(c)
        else:
            inner = m.group(2).strip()
            fm = _JP_FILTER.match(inner)
            for c in cur:
                if not isinstance(c, list):
                    continue
                if inner == "*":
                    nxt.extend(c)
                elif fm is not None:
                    want = next(g for g in (fm.group(3), fm.group(4), fm.group(5), "") if g is not None)
                    for item in c:
                        got, found = _get(item, fm.group(1))
                        s = _cell("string", got) if found else None
                        if (found and s == want) == (fm.group(2) == "=="):
                            nxt.append(item)
                else:
                    try:
                        if ":" in inner:
                            a, _, b = inner.partition(":")
                            nxt.extend(c[int(a) if a else None:int(b) if b else None])
                        else:
                            i = int(inner)
                            if -len(c) <= i < len(c):
                                nxt.append(c[i])
                    except ValueError:
                        return []
        cur = nxt
    return cur


# ---------------------------------------------------------------------------------------------
# The OpenAPI definition of a custom resource (server-side apply, /openapi/v3, kubectl explain)

def def_name_for(group: str, version: str, kind: str) -> str:
    """Upstream's definition name: the group reversed, then version and kind (com.example.stable.v1.CronTab)."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def openapi_definitions(group: str, version: str, kind: str, list_kind: str,
                        schema: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{definition name: node} for the kind and its list, metadata as ObjectMeta, as upstream publishes them."""
    name = def_name_for(group, version, kind)
    node = copy.deepcopy(schema) if schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    props = node.setdefault("properties", {})
    props["apiVersion"] = {"description": "APIVersion defines the versioned schema of this representation of an "
                           "object. Servers should convert recognized schemas to the latest internal value, and may "
                           "reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
                           "sig-architecture/api-conventions.md#resources", "type": "string"}
    props["kind"] = {"description": "Kind is a string value representing the REST resource this object represents. "
                     "Servers may infer this from the endpoint the client submits requests to. Cannot be updated. "
                     "In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                     "api-conventions.md#types-kinds", "type": "string"}
    props["metadata"] = {"description": "Standard object's metadata. More info: https://git.k8s.io/community/"
                         "contributors/devel/sig-architecture/api-conventions.md#metadata", "$ref": OBJECT_META}
    node["type"] = "object"
    node["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    lst = {"description": f"{list_kind} is a list of {kind}", "type": "object", "required": ["items"],
           "properties": {"apiVersion": props["apiVersion"],
                          "items": {"description": f"List of {kind.lower()}s. More info: https://git.k8s.io/"
                                    "community/contributors/devel/sig-architecture/api-conventions.md",
                                    "type": "array", "items": {"$ref": name}},
                          "kind": props["kind"],
                          "metadata": {"description": "Standard list metadata. More info: https://git.k8s.io/"
                                       "community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                                       "$ref": LIST_META}},
           "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}]}
    return {name: node, name + "List": lst}

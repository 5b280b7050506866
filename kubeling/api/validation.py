"""Validation with upstream v1.32 messages and field paths (HTTP 422 causes).

Mirrors pkg/apis/core/validation, pkg/apis/apps/validation, pkg/apis/storage/validation,
discovery/coordination validation and the apimachinery ObjectMeta rules, including the order in
which upstream reports causes and the generic checks the registry runs around them
(``rest.BeforeCreate`` / ``rest.BeforeUpdate``). Objects are expected to be defaulted already
(:func:`kubeling.api.defaults.apply_defaults`), exactly as upstream validates decoded objects.
Only the checks that matter for the kinds kubeling serves are implemented; volume plugins,
Windows options and alpha features are validated shallowly or not at all.
"""
from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from kubeling.api import defaults as dflt
from kubeling.api import errors

Cause = dict[str, str]
Obj = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Causes, rendered like field.Error.ErrorBody()
# --------------------------------------------------------------------------------------------

class Go:
    """A value pre-rendered the way Go's fmt prints it in an error body (%q, %v or %#v)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def goq(s: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                        "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render(value: Any) -> Go:
    if isinstance(value, Go):
        return value
    if value is None:
        return Go("null")
    if isinstance(value, bool):
        return Go("true" if value else "false")
    if isinstance(value, (int, float)):
        return Go(str(value))
    if isinstance(value, str):
        return Go(goq(value))
    if isinstance(value, dict):
        return Go(go_map(value))
    if isinstance(value, list):
        return Go(go_strs(value))
    return Go(str(value))


def go_map(m: Any, typ: str = "map[string]string") -> str:
    if m is None:
        return f"{typ}(nil)"
    return typ + "{" + ", ".join(f"{goq(str(k))}:{goq(str(v))}" for k, v in sorted(m.items())) + "}"


def go_strs(items: Any, typ: str = "[]string") -> str:
    if items is None:
        return f"{typ}(nil)"
    return typ + "{" + ", ".join(goq(str(x)) for x in items) + "}"


def go_selector(sel: Any) -> str:
    """%#v of a metav1.LabelSelector (reached through a pointer, so printed as the struct)."""
    sel = sel or {}
    exprs = sel.get("matchExpressions")
    if exprs:
        parts = []
        for e in exprs:
            parts.append(f"v1.LabelSelectorRequirement{{Key:{goq(str(e.get('key', '')))}, "
                         f"Operator:{goq(str(e.get('operator', '')))}, Values:{go_strs(e.get('values'))}}}")
        ex = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        ex = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{go_map(sel.get('matchLabels'))}, MatchExpressions:{ex}}}"


def go_intstr(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f'intstr.IntOrString{{Type:0, IntVal:{v}, StrVal:""}}'
    return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{goq(str(v or ''))}}}"


def _ptr(v: Any, typ: str) -> str:
    return f"(*{typ})(nil)" if v is None else f"(*{typ})(0xc000000000)"


def required(path: str, detail: str = "") -> Cause:
    return errors.required(path, detail)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return errors.invalid_value(path, render(value), detail)


def not_supported(path: str, value: Any, valid: list[str]) -> Cause:
    return errors.unsupported(path, render(value), valid)


def forbidden(path: str, detail: str) -> Cause:
    return errors.forbidden_field(path, detail)


def duplicate(path: str, value: Any) -> Cause:
    return errors.duplicate(path, render(value))


def too_long(path: str, limit: int) -> Cause:
    return errors.too_long(path, "", limit)


def not_found(path: str, value: Any) -> Cause:
    return {"type": "FieldValueNotFound", "message": f"Not found: {render(value)}", "field": path}


def too_many(path: str, actual: int, limit: int) -> Cause:
    return {"type": "FieldValueTooMany",
            "message": f"Too many: {actual}: must have at most {limit} items", "field": path}


def _c(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


# --------------------------------------------------------------------------------------------
# k8s.io/apimachinery/pkg/util/validation
# --------------------------------------------------------------------------------------------

def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    msg += " (e.g. " + "".join(("" if i == 0 else " or ") + f"'{e}', " for i, e in enumerate(examples))
    return msg + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
PERCENT_FMT = "[0-9]+%"
HTTP_HEADER_FMT = "[-A-Za-z0-9]+"
_re_label = re.compile(f"{DNS1123_LABEL_FMT}")
_re_subdomain = re.compile(f"{DNS1123_SUBDOMAIN_FMT}")
_re_1035 = re.compile(f"{DNS1035_LABEL_FMT}")
_re_qname = re.compile(f"{QUALIFIED_NAME_FMT}")
_re_lvalue = re.compile(f"{LABEL_VALUE_FMT}")
_re_cmkey = re.compile(f"{CONFIG_MAP_KEY_FMT}")
_re_percent = re.compile(f"{PERCENT_FMT}")
_re_header = re.compile(f"{HTTP_HEADER_FMT}")
_re_portname_chars = re.compile("[-a-z0-9]+")
_re_portname_letter = re.compile("[a-z]")

DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                     "must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                         "'.', and must start and end with an alphanumeric character")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character")
QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                      "alphanumeric character")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character")


def _blen(v: str) -> int:
    return len(v.encode())


def _memo(fn: Any) -> Any:
    """Memoize a pure string check: label keys and values, names and namespaces repeat on every write."""
    cache: dict[Any, tuple[str, ...]] = {}

    @functools.wraps(fn)
    def check(v: Any) -> list[str]:
        try:
            r = cache.get(v)
        except TypeError:  # unhashable: nothing to remember
            return fn(v)
        if r is None:
            if len(cache) >= 16384:
                cache.clear()
            r = cache[v] = tuple(fn(v))
        return list(r)

    return check


@_memo
def is_dns1123_label(v: str) -> list[str]:
    errs = []
    if _blen(v) > 63:
        errs.append(max_len_error(63))
    if not _re_label.fullmatch(v):
        if _re_subdomain.fullmatch(v):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


@_memo
def is_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if _blen(v) > 253:
        errs.append(max_len_error(253))
    if not _re_subdomain.fullmatch(v):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


@_memo
def is_dns1035_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not _re_1035.fullmatch(v):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


@_memo
def is_qualified_name(v: str) -> list[str]:
    errs: list[str] = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                  "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _re_qname.fullmatch(name):
        errs.append("name part " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name",
                                               "123-abc"))
    return errs


@_memo
def is_label_value(v: str) -> list[str]:
    errs = []
    if _blen(v) > 63:
        errs.append(max_len_error(63))
    if not _re_lvalue.fullmatch(v):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_config_map_key(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not _re_cmkey.fullmatch(v):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if v == ".":
        errs.append("must not be '.'")
    elif v == "..":
        errs.append("must not be '..'")
    elif v.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_num(p: Any) -> list[str]:
    if isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(p: str) -> list[str]:
    errs = []
    if len(p) > 15:
        errs.append(max_len_error(15))
    if not _re_portname_chars.fullmatch(p):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _re_portname_letter.search(p):
        errs.append("must contain at least one letter (a-z)")
    if "--" in p:
        errs.append("must not contain consecutive hyphens")
    if p and (p[0] == "-" or p[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_relaxed_env_var_name(v: str) -> list[str]:
    errs = []
    if not v:
        errs.append("environment variable name must be non-empty")
    for ch in v:
        if ord(ch) > 127 or not ch.isprintable() or ch == "=":
            errs.append("a valid environment variable name must consist only of printable ASCII characters "
                        "other than '='")
            break
    return errs


def _parse_ip(s: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: also accepts IPv4 octets with leading zeros."""
    if not isinstance(s, str) or not s or "%" in s:
        return None
    try:
        return ipaddress.ip_address(s)
    except ValueError:
        pass
    parts = s.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        try:
            return ipaddress.ip_address(".".join(str(int(p)) for p in parts))
        except ValueError:
            return None
    return None


def is_valid_ip(path: str, value: Any) -> list[Cause]:
    if _parse_ip(value) is None:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def is_valid_cidr(path: str, value: Any) -> list[Cause]:
    try:
        ipaddress.ip_network(value, strict=False)
        if "/" not in value:
            raise ValueError
    except (ValueError, TypeError):
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


# name functions: (name, prefix) -> messages
def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


NameFn = Callable[[str, bool], list[str]]


# --------------------------------------------------------------------------------------------
# ObjectMeta
# --------------------------------------------------------------------------------------------

_STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_labels(labels: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(labels, dict):
        return errs
    for k, v in labels.items():
        errs.extend(invalid(path, k, m) for m in is_qualified_name(str(k)))
        errs.extend(invalid(path, v, m) for m in is_label_value(str(v if v is not None else "")))
    return errs


def validate_label_name(name: str, path: str) -> list[Cause]:
    return [invalid(path, name, m) for m in is_qualified_name(name)]


def validate_annotations(ann: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(ann, dict):
        return errs
    size = 0
    for k, v in ann.items():
        errs.extend(invalid(path, k, m) for m in is_qualified_name(str(k).lower()))
        size += _blen(str(k)) + _blen(str(v if v is not None else ""))
    if size > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return errs


def _validate_owner_refs(refs: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    first = ""
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict):
            continue
        api_version = ref.get("apiVersion") or ""
        version = "" if api_version in ("", "/") or api_version.count("/") > 1 else api_version.split("/")[-1]
        if not version:
            errs.append(invalid(_c(path, "apiVersion"), api_version, "version must not be empty"))
        if not ref.get("kind"):
            errs.append(invalid(_c(path, "kind"), ref.get("kind") or "", "must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(_c(path, "name"), ref.get("name") or "", "must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(_c(path, "uid"), ref.get("uid") or "", "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(invalid(path, Go(_go_owner_ref(ref)), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller"):
            cur = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first:
                errs.append(invalid(path, Go("[]v1.OwnerReference{" + ", ".join(
                    _go_owner_ref(r) for r in refs if isinstance(r, dict)) + "}"),
                    f'Only one reference can have Controller set to true. Found "true" in references for {first} '
                    f"and {cur}"))
            else:
                first = cur
    return errs


def _go_owner_ref(r: Obj) -> str:
    return (f"v1.OwnerReference{{APIVersion:{goq(r.get('apiVersion') or '')}, Kind:{goq(r.get('kind') or '')}, "
            f"Name:{goq(r.get('name') or '')}, UID:{goq(r.get('uid') or '')}, "
            f"Controller:{_ptr(r.get('controller'), 'bool')}, "
            f"BlockOwnerDeletion:{_ptr(r.get('blockOwnerDeletion'), 'bool')}}}")


def _validate_finalizers(fins: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(fins, list):
        return errs
    for f in fins:
        errs.extend(invalid(path, f, m) for m in is_qualified_name(str(f)))
    if "orphan" in fins and "foregroundDeletion" in fins:
        errs.append(invalid(path, Go(go_strs(fins)), "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _validate_managed_fields(mfs: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, mf in enumerate(mfs if isinstance(mfs, list) else []):
        if not isinstance(mf, dict):
            continue
        p = f"{path}[{i}]"
        if mf.get("operation") not in ("Apply", "Update"):
            errs.append(invalid(_c(p, "operation"), mf.get("operation") or "", "must be `Apply` or `Update`"))
        if mf.get("fieldsType") and mf["fieldsType"] != "FieldsV1":
            errs.append(invalid(_c(p, "fieldsType"), mf["fieldsType"], "must be `FieldsV1`"))
        if len(mf.get("manager") or "") > 128:
            errs.append(too_long(_c(p, "manager"), 128))
        if len(mf.get("subresource") or "") > 256:
            errs.append(too_long(_c(p, "subresource"), 256))
    return errs


def validate_object_meta(obj: Obj, namespaced: bool, name_fn: NameFn, path: str = "metadata",
                         kube_finalizers: bool = True) -> list[Cause]:
    """ValidateObjectMeta (core flavour adds the kube finalizer-name check)."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    errs: list[Cause] = []
    gen_name = meta.get("generateName") or ""
    if gen_name:
        errs.extend(invalid(_c(path, "generateName"), gen_name, m) for m in name_fn(gen_name, True))
    name = meta.get("name") or ""
    if not name:
        errs.append(required(_c(path, "name"), "name or generateName is required"))
    else:
        errs.extend(invalid(_c(path, "name"), name, m) for m in name_fn(name, False))
    errs.extend(_meta_common(meta, namespaced, path, kube_finalizers))
    return errs


def _meta_common(meta: Obj, namespaced: bool, path: str, kube_finalizers: bool) -> list[Cause]:
    errs: list[Cause] = []
    ns = meta.get("namespace") or ""
    if namespaced:
        if not ns:
            errs.append(required(_c(path, "namespace")))
        else:
            errs.extend(invalid(_c(path, "namespace"), ns, m) for m in name_is_dns_label(ns, False))
    elif ns:
        errs.append(forbidden(_c(path, "namespace"), "not allowed on this type"))
    gen = meta.get("generation")
    if isinstance(gen, int) and gen < 0:
        errs.append(invalid(_c(path, "generation"), gen, "must be greater than or equal to 0"))
    errs.extend(validate_labels(meta.get("labels"), _c(path, "labels")))
    errs.extend(validate_annotations(meta.get("annotations"), _c(path, "annotations")))
    errs.extend(_validate_owner_refs(meta.get("ownerReferences"), _c(path, "ownerReferences")))
    errs.extend(_validate_finalizers(meta.get("finalizers"), _c(path, "finalizers")))
    errs.extend(_validate_managed_fields(meta.get("managedFields"), _c(path, "managedFields")))
    if kube_finalizers:
        errs.extend(_kube_finalizer_names(meta.get("finalizers"), _c(path, "finalizers")))
    return errs


def _kube_finalizer_names(fins: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, f in enumerate(fins if isinstance(fins, list) else []):
        if "/" not in str(f) and f not in _STANDARD_FINALIZERS:
            errs.append(invalid(f"{path}[{i}]", f, "name is neither a standard finalizer name nor is it fully "
                                                   "qualified"))
    return errs


def _go_time(ts: Any) -> Go:
    """metav1.Time printed through its String() method."""
    if not ts:
        return Go("null")
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z", str(ts))
    if m:
        return Go(f"{m.group(1)} {m.group(2)}{m.group(3) or ''} +0000 UTC")
    return Go(str(ts))


def validate_object_meta_update(new: Obj, old: Obj, path: str = "metadata", kube_finalizers: bool = True
                                ) -> list[Cause]:
    """ValidateObjectMetaUpdate (resourceVersion is the caller's business)."""
    nm = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
    om = old.get("metadata") if isinstance(old.get("metadata"), dict) else {}
    errs: list[Cause] = []
    if om.get("deletionTimestamp"):
        extra = sorted(set(nm.get("finalizers") or []) - set(om.get("finalizers") or []))
        if extra:
            errs.append(forbidden(_c(path, "finalizers"), "no new finalizers can be added if the object is being "
                                                          f"deleted, found new finalizers {go_strs(extra)}"))
    if (nm.get("generation") or 0) < (om.get("generation") or 0):
        errs.append(invalid(_c(path, "generation"), nm.get("generation") or 0, "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        if (nm.get(key) or "") != (om.get(key) or ""):
            errs.append(invalid(_c(path, key), nm.get(key) or "", "field is immutable"))
    for key in ("creationTimestamp", "deletionTimestamp"):
        if (nm.get(key) or None) != (om.get(key) or None) and om.get(key):
            errs.append(invalid(_c(path, key), _go_time(nm.get(key)), "field is immutable"))
    if nm.get("deletionGracePeriodSeconds") != om.get("deletionGracePeriodSeconds"):
        errs.append(invalid(_c(path, "deletionGracePeriodSeconds"), nm.get("deletionGracePeriodSeconds"),
                            "field is immutable"))
    errs.extend(validate_labels(nm.get("labels"), _c(path, "labels")))
    errs.extend(validate_annotations(nm.get("annotations"), _c(path, "annotations")))
    errs.extend(_validate_owner_refs(nm.get("ownerReferences"), _c(path, "ownerReferences")))
    errs.extend(_validate_finalizers(nm.get("finalizers"), _c(path, "finalizers")))
    errs.extend(_validate_managed_fields(nm.get("managedFields"), _c(path, "managedFields")))
    if kube_finalizers:
        errs.extend(_kube_finalizer_names(nm.get("finalizers"), _c(path, "finalizers")))
    return errs


def validate_template_object_meta(holder: Obj, path: str) -> list[Cause]:
    """ValidateTemplateObjectMeta: only labels and annotations may be set."""
    meta = holder.get("metadata") if isinstance(holder.get("metadata"), dict) else {}
    errs = validate_annotations(meta.get("annotations"), _c(path, "annotations"))
    errs.extend(validate_labels(meta.get("labels"), _c(path, "labels")))
    for k in ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
              "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink",
              "deletionTimestamp", "creationTimestamp"):
        if meta.get(k):
            errs.append(forbidden(_c(path, k), "cannot be set"))
    return errs


# --------------------------------------------------------------------------------------------
# Label selectors
# --------------------------------------------------------------------------------------------

def validate_label_selector(sel: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(sel, dict):
        return errs
    errs.extend(validate_labels(sel.get("matchLabels"), _c(path, "matchLabels")))
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        if not isinstance(expr, dict):
            continue
        p = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator") or ""
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(_c(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(_c(p, "values"), "may not be specified when `operator` is 'Exists' or "
                                                       "'DoesNotExist'"))
        else:
            errs.append(invalid(_c(p, "operator"), op, "not a valid selector operator"))
        errs.extend(validate_label_name(str(expr.get("key") or ""), _c(p, "key")))
        for j, v in enumerate(values):
            errs.extend(invalid(f"{p}.values[{j}]", v, m) for m in is_label_value(str(v)))
    return errs


def selector_convertible(sel: Any) -> bool:
    """Whether metav1.LabelSelectorAsSelector succeeds."""
    if not isinstance(sel, dict):
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if is_qualified_name(str(k)) or is_label_value(str(v)):
            return False
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = e.get("values") or []
        if op not in ("In", "NotIn", "Exists", "DoesNotExist") or is_qualified_name(str(e.get("key") or "")):
            return False
        if op in ("In", "NotIn") and not vals or op in ("Exists", "DoesNotExist") and vals:
            return False
        if any(is_label_value(str(v)) for v in vals):
            return False
    return True


def selector_empty(sel: Any) -> bool:
    """labels.Selector.Empty(): true for Everything (non-nil, no requirements)."""
    return isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions")


def selector_matches(sel: Any, labels: Any) -> bool:
    if not isinstance(sel, dict):
        return False  # labels.Nothing()
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if k not in labels or labels[k] != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and (k not in labels or labels[k] not in vals):
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _nonneg(value: Any, path: str) -> list[Cause]:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def _dl(v: Any) -> list[Obj]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _dd(v: Any) -> Obj:
    return v if isinstance(v, dict) else {}


def _qty(v: Any) -> Fraction | None:
    try:
        return dflt.quantity_value(v)
    except dflt.QuantityError:
        return None


def _qstr(v: Any) -> str:
    try:
        return dflt.canonical_quantity(v)
    except dflt.QuantityError:
        return str(v)


def _dns_label(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def _dns_subdomain(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def _qualified(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, m) for m in is_qualified_name(value)]


def _no_backsteps(p: str, path: str) -> list[Cause]:
    if ".." in p.replace("\\", "/").split("/"):
        return [invalid(path, p, "must not contain '..'")]
    return []


def _local_descending(p: str, path: str) -> list[Cause]:
    errs = []
    if p.startswith("/"):
        errs.append(invalid(path, p, "must be a relative path"))
    errs.extend(_no_backsteps(p, path))
    return errs


def _port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, int) and not isinstance(port, bool):
        return [invalid(path, port, m) for m in is_valid_port_num(port)]
    if isinstance(port, str):
        return [invalid(path, port, m) for m in is_valid_port_name(port)]
    return [invalid(path, port, "unknown type")]


def _diff_text(typ: str, old: Any, new: Any) -> str:
    """A compact stand-in for upstream's cmp.Diff output (not byte-identical)."""
    lines = [f"  {typ}{{"]
    old, new = _dd(old), _dd(new)
    for k in list(dict.fromkeys(list(old) + list(new))):
        if not dflt.semantic_equal(old.get(k), new.get(k)):
            lines.append(f"- \t{k[:1].upper()}{k[1:]}: {json.dumps(old.get(k), sort_keys=True)},")
            lines.append(f"+ \t{k[:1].upper()}{k[1:]}: {json.dumps(new.get(k), sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Volumes
# --------------------------------------------------------------------------------------------

# (field, path used in errors) in the order validateVolumeSource checks them
_POD_VOLUME_SOURCES = (
    ("emptyDir", "emptyDir"), ("hostPath", "hostPath"), ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"), ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"), ("nfs", "nfs"), ("iscsi", "iscsi"), ("glusterfs", "glusterfs"), ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"), ("rbd", "rbd"), ("cinder", "cinder"),
    ("cephfs", "cephFS"), ("quobyte", "quobyte"), ("downwardAPI", "downwarAPI"), ("fc", "fc"),
    ("flexVolume", "flexVolume"), ("configMap", "configMap"), ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("storageos", "storageos"),
    ("projected", "projected"), ("scaleIO", "scaleIO"), ("csi", "csi"), ("ephemeral", "ephemeral"),
    ("image", "image"))
_PV_SOURCES = (
    ("hostPath", "hostPath"), ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"), ("glusterfs", "glusterfs"), ("flocker", "flocker"),
    ("nfs", "nfs"), ("rbd", "rbd"), ("quobyte", "quobyte"), ("cephfs", "cephFS"), ("iscsi", "iscsi"),
    ("cinder", "cinder"), ("fc", "fc"), ("flexVolume", None), ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("scaleIO", "scaleIO"), ("local", "local"),
    ("storageos", "storageos"), ("csi", "csi"))
_HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                    "Socket"]
FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"


def _host_path(hp: Obj, path: str) -> list[Cause]:
    p = hp.get("path") or ""
    if not p:
        return [required(_c(path, "path"))]
    errs = _no_backsteps(p, _c(path, "path"))
    t = hp.get("type")
    if t is not None and t not in _HOST_PATH_TYPES:
        errs.append(not_supported(_c(path, "type"), t, _HOST_PATH_TYPES))
    return errs


def _key_to_paths(items: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, kp in enumerate(_dl(items)):
        ip = f"{path}[{i}]"
        if not kp.get("key"):
            errs.append(required(_c(ip, "key")))
        p = kp.get("path") or ""
        if not p:
            errs.append(required(_c(ip, "path")))
        else:
            errs.extend(_local_descending(p, _c(ip, "path")))
            if p.split("/")[0].startswith(".."):
                errs.append(invalid(_c(ip, "path"), p, "must not start with '..'"))
        mode = kp.get("mode")
        if isinstance(mode, int) and not 0 <= mode <= 0o777:
            errs.append(invalid(_c(ip, "mode"), mode, FILE_MODE_MSG))
    return errs


def _mode(src: Obj, path: str) -> list[Cause]:
    mode = src.get("defaultMode")
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [invalid(_c(path, "defaultMode"), mode, FILE_MODE_MSG)]
    return []


def _volume_source(vol: Obj, path: str, vol_name: str, pod_name: str | None) -> list[Cause]:
    errs: list[Cause] = []
    count = 0
    for key, epath in _POD_VOLUME_SOURCES:
        src = vol.get(key)
        if not isinstance(src, dict):
            continue
        if count > 0:
            errs.append(forbidden(_c(path, epath), "may not specify more than 1 volume type"))
            continue
        count += 1
        sp = _c(path, key)
        if key == "emptyDir":
            sl = src.get("sizeLimit")
            if sl is not None and (_qty(sl) or 0) < 0:
                errs.append(forbidden(_c(sp, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
        elif key == "hostPath":
            errs.extend(_host_path(src, sp))
        elif key == "secret":
            if not src.get("secretName"):
                errs.append(required(_c(sp, "secretName")))
            errs.extend(_mode(src, sp))
            errs.extend(_key_to_paths(src.get("items"), _c(sp, "items")))
        elif key == "configMap":
            if not src.get("name"):
                errs.append(required(_c(sp, "name")))
            errs.extend(_mode(src, sp))
            errs.extend(_key_to_paths(src.get("items"), _c(sp, "items")))
        elif key == "persistentVolumeClaim":
            if not src.get("claimName"):
                errs.append(required(_c(sp, "claimName")))
        elif key == "nfs":
            if not src.get("server"):
                errs.append(required(_c(sp, "server")))
            if not src.get("path"):
                errs.append(required(_c(sp, "path")))
            elif not str(src["path"]).startswith("/"):
                errs.append(invalid(_c(sp, "path"), src["path"], "must be an absolute path"))
        elif key == "downwardAPI":
            errs.extend(_mode(src, _c(path, "downwardAPI")))
        elif key == "projected":
            errs.extend(_mode(src, sp))
        elif key == "csi":
            if not src.get("driver"):
                errs.append(required(_c(sp, "driver")))
        elif key == "ephemeral":
            tpl = src.get("volumeClaimTemplate")
            if not isinstance(tpl, dict):
                errs.append(required(_c(sp, "volumeClaimTemplate")))
            else:
                tp = _c(sp, "volumeClaimTemplate")
                errs.extend(validate_template_object_meta(tpl, _c(tp, "metadata")))
                errs.extend(validate_pvc_spec(_dd(tpl.get("spec")), _c(tp, "spec")))
            if pod_name and vol_name:
                pvc = f"{pod_name}-{vol_name}"
                errs.extend(invalid(_c(path, "name"), vol_name, f"PVC name {goq(pvc)}: {m}")
                            for m in name_is_dns_subdomain(pvc, False))
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def validate_volumes(volumes: Any, path: str, pod_name: str | None) -> tuple[dict[str, Obj], list[Cause]]:
    errs: list[Cause] = []
    vols: dict[str, Obj] = {}
    names: set[str] = set()
    for i, vol in enumerate(_dl(volumes)):
        ip = f"{path}[{i}]"
        name = vol.get("name") or ""
        el = _volume_source(vol, ip, name, pod_name)
        if not name:
            el.append(required(_c(ip, "name")))
        else:
            el.extend(_dns_label(name, _c(ip, "name")))
        if name in names:
            el.append(duplicate(_c(ip, "name"), name))
        if not el:
            names.add(name)
            vols[name] = vol
        else:
            errs.extend(el)
    return vols, errs


# --------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------

_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_ENV_FIELD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                    "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
_DOWNWARD_LABELS = {"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
                    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
                    "status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
_RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                         "requests.ephemeral-storage", "requests.memory"]
_STD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_STD_RESOURCES = {"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                  "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
                  "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
                  "persistentvolumeclaims", "storage", "requests.storage", "services.nodeports",
                  "services.loadbalancers"}


def _container_ports(ports: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(_dl(ports)):
        ip = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs.extend(invalid(_c(ip, "name"), name, m) for m in msgs)
            elif name in names:
                errs.append(duplicate(_c(ip, "name"), name))
            else:
                names.add(name)
        cp = port.get("containerPort")
        if not cp:
            errs.append(required(_c(ip, "containerPort")))
        else:
            errs.extend(invalid(_c(ip, "containerPort"), cp, m) for m in is_valid_port_num(cp))
        hp = port.get("hostPort")
        if hp:
            errs.extend(invalid(_c(ip, "hostPort"), hp, m) for m in is_valid_port_num(hp))
        proto = port.get("protocol") or ""
        if not proto:
            errs.append(required(_c(ip, "protocol")))
        elif proto not in _PROTOCOLS:
            errs.append(not_supported(_c(ip, "protocol"), proto, _PROTOCOLS))
    return errs


def _field_selector(fs: Obj, path: str) -> list[Cause]:
    if not fs.get("apiVersion"):
        return [required(_c(path, "apiVersion"))]
    fp = fs.get("fieldPath") or ""
    if not fp:
        return [required(_c(path, "fieldPath"))]
    m = re.fullmatch(r"(metadata\.(?:annotations|labels))\['(.+)'\]", fp)
    base = m.group(1) if m else fp
    if fs["apiVersion"] != "v1":
        return [invalid(_c(path, "fieldPath"), fp, f"error converting fieldPath: unsupported pod version: "
                                                   f"{fs['apiVersion']}")]
    if base not in _DOWNWARD_LABELS:
        return [invalid(_c(path, "fieldPath"), fp, f"error converting fieldPath: field label not supported: {fp}")]
    if m:
        key = m.group(2)
        return _qualified(key.lower() if base == "metadata.annotations" else key, path)
    if fp not in _ENV_FIELD_PATHS:
        return [not_supported(_c(path, "fieldPath"), fp, _ENV_FIELD_PATHS)]
    return []


def _key_selector(s: Obj, path: str) -> list[Cause]:
    errs = [invalid(_c(path, "name"), s.get("name") or "", m)
            for m in name_is_dns_subdomain(s.get("name") or "", False)]
    key = s.get("key") or ""
    if not key:
        errs.append(required(_c(path, "key")))
    else:
        errs.extend(invalid(_c(path, "key"), key, m) for m in is_config_map_key(key))
    return errs


def _env(env: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, ev in enumerate(_dl(env)):
        ip = f"{path}[{i}]"
        name = ev.get("name") or ""
        if not name:
            errs.append(required(_c(ip, "name")))
        else:
            errs.extend(invalid(_c(ip, "name"), name, m) for m in is_relaxed_env_var_name(name))
        vf = ev.get("valueFrom")
        if not isinstance(vf, dict):
            continue
        vp = _c(ip, "valueFrom")
        n = 0
        if isinstance(vf.get("fieldRef"), dict):
            n += 1
            errs.extend(_field_selector(vf["fieldRef"], _c(vp, "fieldRef")))
        if isinstance(vf.get("resourceFieldRef"), dict):
            n += 1
            res = vf["resourceFieldRef"].get("resource") or ""
            rp = _c(vp, "resourceFieldRef")
            if not res:
                errs.append(required(_c(rp, "resource")))
            elif res not in _RESOURCE_FIELD_PATHS and not res.startswith(("requests.hugepages-",
                                                                            "limits.hugepages-")):
                errs.append(not_supported(_c(rp, "resource"), res, _RESOURCE_FIELD_PATHS))
        if isinstance(vf.get("configMapKeyRef"), dict):
            n += 1
            errs.extend(_key_selector(vf["configMapKeyRef"], _c(vp, "configMapKeyRef")))
        if isinstance(vf.get("secretKeyRef"), dict):
            n += 1
            errs.extend(_key_selector(vf["secretKeyRef"], _c(vp, "secretKeyRef")))
        if n == 0:
            errs.append(invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                                        "`secretKeyRef`"))
        elif ev.get("value"):
            errs.append(invalid(vp, "", "may not be specified when `value` is not empty"))
        elif n > 1:
            errs.append(invalid(vp, "", "may not have more than one field specified at a time"))
    return errs


def _env_from(env_from: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, ev in enumerate(_dl(env_from)):
        ip = f"{path}[{i}]"
        if ev.get("prefix"):
            errs.extend(invalid(_c(ip, "prefix"), ev["prefix"], m) for m in is_relaxed_env_var_name(ev["prefix"]))
        n = 0
        for key in ("configMapRef", "secretRef"):
            ref = ev.get(key)
            if isinstance(ref, dict):
                n += 1
                name = ref.get("name") or ""
                if not name:
                    errs.append(required(_c(_c(ip, key), "name")))
                else:
                    errs.extend(invalid(_c(_c(ip, key), "name"), name, m) for m in name_is_dns_subdomain(name, True))
        if n == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif n > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _volume_mounts(c: Obj, vols: dict[str, Obj], path: str) -> list[Cause]:
    errs: list[Cause] = []
    devices = {d.get("name"): d.get("devicePath") for d in _dl(c.get("volumeDevices"))}
    seen: set[str] = set()
    for i, m in enumerate(_dl(c.get("volumeMounts"))):
        ip = f"{path}[{i}]"
        name = m.get("name") or ""
        mp = m.get("mountPath") or ""
        if not name:
            errs.append(required(_c(ip, "name")))
        if name not in vols:
            errs.append(not_found(_c(ip, "name"), name))
        if not mp:
            errs.append(required(_c(ip, "mountPath")))
        if mp in seen:
            errs.append(invalid(_c(ip, "mountPath"), mp, "must be unique"))
        seen.add(mp)
        if name in devices:
            errs.append(invalid(_c(ip, "name"), name, "must not already exist in volumeDevices"))
        if mp in devices.values():
            errs.append(invalid(_c(ip, "mountPath"), mp, "must not already exist as a path in volumeDevices"))
        if m.get("subPath"):
            errs.extend(_local_descending(m["subPath"], _c(path, "subPath")))
        if m.get("subPathExpr"):
            if m.get("subPath"):
                errs.append(invalid(_c(ip, "subPathExpr"), m["subPathExpr"], "subPathExpr and subPath are mutually "
                                                                               "exclusive"))
            errs.extend(_local_descending(m["subPathExpr"], _c(path, "subPathExpr")))
        mprop = m.get("mountPropagation")
        if mprop is not None and mprop not in ("Bidirectional", "HostToContainer", "None"):
            errs.append(not_supported(_c(path, "mountPropagation"), mprop,
                                      ["Bidirectional", "HostToContainer", "None"]))
    return errs


def _resource_name(name: str, path: str) -> list[Cause]:
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name:
        if name not in _STD_RESOURCES and not name.startswith("hugepages-"):
            return [invalid(path, name, "must be a standard resource type or fully qualified")]
        if name not in _STD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            return [invalid(path, name, "must be a standard resource for containers")]
    elif "kubernetes.io/" not in name and (name.startswith("requests.") or "/" not in name):
        return [invalid(path, name, "doesn't follow extended resource name standard")]
    return []


def _overcommit(name: str) -> bool:
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _integer_resource(name: str) -> bool:
    return not ("/" not in name or "kubernetes.io/" in name) or name.startswith("hugepages-")


def _resources(res: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    limits = _dd(res.get("limits"))
    requests = _dd(res.get("requests"))
    lp, rp = _c(path, "limits"), _c(path, "requests")
    for name, q in limits.items():
        fp = f"{lp}[{name}]"
        errs.extend(_resource_name(name, fp))
        errs.extend(_quantity_value(name, q, fp))
    for name, q in requests.items():
        fp = f"{rp}[{name}]"
        errs.extend(_resource_name(name, fp))
        errs.extend(_quantity_value(name, q, fp))
        rv, lim = _qty(q), limits.get(name)
        if lim is not None:
            lv = _qty(lim)
            if rv is not None and lv is not None:
                if rv != lv and not _overcommit(name):
                    errs.append(invalid(rp, _qstr(q), f"must be equal to {name} limit of {_qstr(lim)}"))
                elif rv > lv:
                    errs.append(invalid(rp, _qstr(q), f"must be less than or equal to {name} limit of "
                                                      f"{_qstr(lim)}"))
        elif not _overcommit(name):
            errs.append(required(lp, "Limit must be set for non overcommitable resources"))
    return errs


def _quantity_value(name: str, q: Any, path: str) -> list[Cause]:
    v = _qty(q)
    errs: list[Cause] = []
    if v is None:
        return errs
    if v < 0:
        errs.append(invalid(path, _qstr(q), "must be greater than or equal to 0"))
    if _integer_resource(name) and (v * 1000).denominator == 1 and int(v * 1000) % 1000 != 0:
        errs.append(invalid(path, Go(_qstr(q)), "must be an integer"))
    return errs


def _handler(h: Obj, path: str, grace: Any, allow_sleep: bool) -> list[Cause]:
    errs: list[Cause] = []
    n = 0
    for key in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        v = h.get(key)
        if not isinstance(v, dict) or (key == "sleep" and not allow_sleep) or (key == "grpc" and allow_sleep):
            continue
        kp = _c(path, key)
        if n > 0:
            errs.append(forbidden(kp, "may not specify more than 1 handler type"))
            continue
        n += 1
        if key == "exec":
            if not v.get("command"):
                errs.append(required(_c(kp, "command")))
        elif key == "httpGet":
            if not v.get("path"):
                errs.append(required(_c(kp, "path")))
            errs.extend(_port_num_or_name(v.get("port"), _c(kp, "port")))
            if v.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(not_supported(_c(kp, "scheme"), v.get("scheme") or "", ["HTTP", "HTTPS"]))
            for hdr in _dl(v.get("httpHeaders")):
                if not _re_header.fullmatch(hdr.get("name") or ""):
                    errs.append(invalid(_c(kp, "httpHeaders"), hdr.get("name") or "", regex_error(
                        "a valid HTTP header must consist of alphanumeric characters or '-'", HTTP_HEADER_FMT,
                        "X-Header-Name")))
        elif key in ("tcpSocket", "grpc"):
            errs.extend(_port_num_or_name(v.get("port"), _c(kp, "port")))
        elif key == "sleep":
            secs = v.get("seconds", 0)
            if isinstance(grace, int) and (secs <= 0 or secs > grace):
                errs.append(invalid(kp, secs, f"must be greater than 0 and less than terminationGracePeriodSeconds "
                                              f"({grace}). Enable AllowPodLifecycleSleepActionZeroValue feature "
                                              f"gate for zero sleep."))
    if n == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _probe(p: Any, path: str, grace: Any, kind: str) -> list[Cause]:
    if not isinstance(p, dict):
        return []
    errs = _handler(p, path, grace, False)
    for k in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs.extend(_nonneg(p.get(k, 0), _c(path, k)))
    tgp = p.get("terminationGracePeriodSeconds")
    if isinstance(tgp, int) and tgp <= 0:
        errs.append(invalid(_c(path, "terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    if kind in ("liveness", "startup") and p.get("successThreshold") != 1:
        errs.append(invalid(_c(path, "successThreshold"), p.get("successThreshold", 0), "must be 1"))
    if kind == "readiness" and tgp is not None:
        errs.append(invalid(_c(path, "terminationGracePeriodSeconds"), tgp, "must not be set for readinessProbes"))
    return errs


def _lifecycle(lc: Any, path: str, grace: Any) -> list[Cause]:
    errs: list[Cause] = []
    if isinstance(lc, dict):
        for k in ("postStart", "preStop"):
            if isinstance(lc.get(k), dict):
                errs.extend(_handler(lc[k], _c(path, k), grace, True))
    return errs


def _security_context(sc: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(sc, dict):
        return errs
    for k in ("runAsUser", "runAsGroup"):
        v = sc.get(k)
        if isinstance(v, int) and not 0 <= v <= 2147483647:
            errs.append(invalid(_c(path, k), v, inclusive_range_error(0, 2147483647)))
    pm = sc.get("procMount")
    if pm is not None and pm not in ("Default", "Unmasked"):
        errs.append(not_supported(_c(path, "procMount"), pm, ["Default", "Unmasked"]))
    if sc.get("allowPrivilegeEscalation") is False and sc.get("privileged") is True:
        errs.append(invalid(path, Go("&core.SecurityContext{...}"), "cannot set `allowPrivilegeEscalation` to false "
                                                                     "and `privileged` to true"))
    return errs


def _container_common(c: Obj, vols: dict[str, Obj], path: str) -> list[Cause]:
    errs: list[Cause] = []
    name = c.get("name") or ""
    if not name:
        errs.append(required(_c(path, "name")))
    else:
        errs.extend(_dns_label(name, _c(path, "name")))
    if not c.get("image"):
        errs.append(required(_c(path, "image")))
    tmp = c.get("terminationMessagePolicy") or ""
    if not tmp:
        errs.append(required(_c(path, "terminationMessagePolicy")))
    elif tmp not in ("File", "FallbackToLogsOnError"):
        errs.append(not_supported(_c(path, "terminationMessagePolicy"), tmp, ["File", "FallbackToLogsOnError"]))
    errs.extend(_container_ports(c.get("ports"), _c(path, "ports")))
    errs.extend(_env(c.get("env"), _c(path, "env")))
    errs.extend(_env_from(c.get("envFrom"), _c(path, "envFrom")))
    errs.extend(_volume_mounts(c, vols, _c(path, "volumeMounts")))
    dp = _c(path, "volumeDevices")
    for i, d in enumerate(_dl(c.get("volumeDevices"))):
        dn = d.get("name") or ""
        if not dn:
            errs.append(required(_c(f"{dp}[{i}]", "name")))
        elif dn not in vols:
            errs.append(not_found(_c(f"{dp}[{i}]", "name"), dn))
        elif not any(isinstance(vols[dn].get(k), dict) for k in ("persistentVolumeClaim", "ephemeral")):
            errs.append(invalid(_c(f"{dp}[{i}]", "name"), dn, "can only use volume source type of "
                                                              "PersistentVolumeClaim or Ephemeral for block mode"))
        if not d.get("devicePath"):
            errs.append(required(_c(f"{dp}[{i}]", "devicePath")))
    ipp = c.get("imagePullPolicy") or ""
    if not ipp:
        errs.append(required(_c(path, "imagePullPolicy")))
    elif ipp not in ("Always", "IfNotPresent", "Never"):
        errs.append(not_supported(_c(path, "imagePullPolicy"), ipp, ["Always", "IfNotPresent", "Never"]))
    errs.extend(_resources(_dd(c.get("resources")), _c(path, "resources")))
    errs.extend(_security_context(c.get("securityContext"), _c(path, "securityContext")))
    return errs


def _host_ports(containers: list[Obj], path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, p in enumerate(_dl(c.get("ports"))):
            hp = p.get("hostPort")
            if not hp:
                continue
            key = f"{p.get('protocol', '')}/{p.get('hostIP', '')}/{hp}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def _tolerations(tols: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, t in enumerate(_dl(tols)):
        ip = f"{path}[{i}]"
        key = t.get("key") or ""
        op = t.get("operator") or ""
        if key:
            errs.extend(validate_label_name(key, _c(ip, "key")))
        if not key and op != "Exists":
            errs.append(invalid(_c(ip, "operator"), op, 'operator must be Exists when `key` is empty, which means '
                                                        '"match all values and all keys"'))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(invalid(_c(ip, "effect"), t.get("effect") or "", "effect must be 'NoExecute' when "
                                                                         "`tolerationSeconds` is set"))
        val = t.get("value") or ""
        if op in ("Equal", ""):
            msgs = is_label_value(val)
            if msgs:
                errs.append(invalid(_c(ip, "operator"), val, ";".join(msgs)))
        elif op == "Exists":
            if val:
                errs.append(invalid(_c(ip, "operator"), val, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(_c(ip, "operator"), op, ["Equal", "Exists"]))
        eff = t.get("effect") or ""
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(_c(ip, "effect"), eff, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return errs


def validate_pod_spec(spec: Obj, path: str, pod_name: str | None = None, is_pod: bool = False) -> list[Cause]:
    """ValidatePodSpec (+ the hostNetwork port rule), in upstream's order."""
    errs: list[Cause] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(required(_c(path, "terminationGracePeriodSeconds")))
    vols, verrs = validate_volumes(spec.get("volumes"), _c(path, "volumes"), pod_name)
    errs.extend(verrs)
    containers = _dl(spec.get("containers"))
    cpath = _c(path, "containers")
    if not containers:
        errs.append(required(cpath))
    else:
        names: set[str] = set()
        for i, c in enumerate(containers):
            p = f"{cpath}[{i}]"
            errs.extend(_container_common(c, vols, p))
            if c.get("name") in names:
                errs.append(duplicate(_c(p, "name"), c.get("name") or ""))
            else:
                names.add(c.get("name") or "")
            errs.extend(_lifecycle(c.get("lifecycle"), _c(p, "lifecycle"), grace))
            errs.extend(_probe(c.get("livenessProbe"), _c(p, "livenessProbe"), grace, "liveness"))
            errs.extend(_probe(c.get("readinessProbe"), _c(p, "readinessProbe"), grace, "readiness"))
            errs.extend(_probe(c.get("startupProbe"), _c(p, "startupProbe"), grace, "startup"))
            if c.get("restartPolicy") is not None:
                errs.append(forbidden(_c(p, "restartPolicy"), "may not be set for non-init containers"))
        errs.extend(_host_ports(containers, cpath))
    ipath = _c(path, "initContainers")
    all_names = {c.get("name") for c in containers}
    for i, c in enumerate(_dl(spec.get("initContainers"))):
        p = f"{ipath}[{i}]"
        errs.extend(_container_common(c, vols, p))
        always = False
        rp = c.get("restartPolicy")
        if rp is not None:
            if rp != "Always":
                errs.append(not_supported(_c(p, "restartPolicy"), rp, ["Always"]))
            always = rp == "Always"
        if c.get("name") in all_names:
            errs.append(duplicate(_c(p, "name"), c.get("name") or ""))
        elif c.get("name"):
            all_names.add(c.get("name"))
        errs.extend(_host_ports([c], ipath))
        if always:
            errs.extend(_lifecycle(c.get("lifecycle"), _c(p, "lifecycle"), grace))
            errs.extend(_probe(c.get("livenessProbe"), _c(p, "livenessProbe"), grace, "liveness"))
            errs.extend(_probe(c.get("readinessProbe"), _c(p, "readinessProbe"), grace, "readiness"))
            errs.extend(_probe(c.get("startupProbe"), _c(p, "startupProbe"), grace, "startup"))
        else:
            for k in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(k) is not None:
                    errs.append(forbidden(_c(p, k), "may not be set for init containers without "
                                                    "restartPolicy=Always"))
    if spec.get("hostNetwork"):
        for i, c in enumerate(containers):
            for j, port in enumerate(_dl(c.get("ports"))):
                hp, cp = port.get("hostPort") or 0, port.get("containerPort") or 0
                if (is_pod or hp != 0) and hp != cp:
                    errs.append(invalid(f"{cpath}[{i}].ports[{j}].hostPort", hp,
                                        "must match `containerPort` when `hostNetwork` is true"))
    rp = spec.get("restartPolicy") or ""
    if not rp:
        errs.append(required(_c(path, "restartPolicy")))
    elif rp not in ("Always", "OnFailure", "Never"):
        errs.append(not_supported(_c(path, "restartPolicy"), rp, ["Always", "OnFailure", "Never"]))
    dp = spec.get("dnsPolicy") or ""
    dns_policies = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
    if not dp:
        errs.append(required(_c(path, "dnsPolicy")))
    elif dp not in dns_policies:
        errs.append(not_supported(_c(path, "dnsPolicy"), dp, dns_policies))
    errs.extend(validate_labels(spec.get("nodeSelector"), _c(path, "nodeSelector")))
    psc = spec.get("securityContext")
    if isinstance(psc, dict):
        sp = _c(path, "securityContext")
        for k in ("fsGroup", "runAsUser", "runAsGroup"):
            v = psc.get(k)
            if isinstance(v, int) and not 0 <= v <= 2147483647:
                errs.append(invalid(_c(sp, k), v, inclusive_range_error(0, 2147483647)))
        fgp = psc.get("fsGroupChangePolicy")
        if fgp is not None and fgp not in ("Always", "OnRootMismatch"):
            errs.append(not_supported(_c(sp, "fsGroupChangePolicy"), fgp, ["Always", "OnRootMismatch"]))
    dnscfg = spec.get("dnsConfig")
    if dp == "None" and not isinstance(dnscfg, dict):
        errs.append(required(_c(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    elif isinstance(dnscfg, dict):
        dcp = _c(path, "dnsConfig")
        ns = dnscfg.get("nameservers") or []
        if dp == "None" and not ns:
            errs.append(required(_c(dcp, "nameservers"), "must provide at least one DNS nameserver when "
                                                         "`dnsPolicy` is None"))
        if len(ns) > 3:
            errs.append(invalid(_c(dcp, "nameservers"), Go(go_strs(ns)), "must not have more than 3 nameservers"))
        for i, n in enumerate(ns):
            errs.extend(is_valid_ip(f"{dcp}.nameservers[{i}]", n))
        searches = dnscfg.get("searches") or []
        if len(searches) > 32:
            errs.append(invalid(_c(dcp, "searches"), Go(go_strs(searches)), "must not have more than 32 search "
                                                                            "paths"))
        for i, s in enumerate(searches):
            if s != ".":
                errs.extend(_dns_subdomain_underscore(str(s).rstrip(".") if s.endswith(".") else s,
                                                      f"{dcp}.searches[{i}]"))
    for i, g in enumerate(_dl(spec.get("readinessGates"))):
        errs.extend(_qualified(g.get("conditionType") or "", f"{path}.readinessGates[{i}].conditionType"))
    for i, tsc in enumerate(_dl(spec.get("topologySpreadConstraints"))):
        tp = f"{path}.topologySpreadConstraints[{i}]"
        skew = tsc.get("maxSkew", 0)
        if not isinstance(skew, int) or skew <= 0:
            errs.append(invalid(_c(tp, "maxSkew"), skew, "must be greater than zero"))
        if not tsc.get("topologyKey"):
            errs.append(required(_c(tp, "topologyKey"), "can not be empty"))
        wu = tsc.get("whenUnsatisfiable") or ""
        if not wu:
            errs.append(required(_c(tp, "whenUnsatisfiable"), "can not be empty"))
        elif wu not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(not_supported(_c(tp, "whenUnsatisfiable"), wu, ["DoNotSchedule", "ScheduleAnyway"]))
    sa = spec.get("serviceAccountName") or ""
    if sa:
        errs.extend(invalid(_c(path, "serviceAccountName"), sa, m) for m in name_is_dns_subdomain(sa, False))
    nn = spec.get("nodeName") or ""
    if nn:
        errs.extend(invalid(_c(path, "nodeName"), nn, m) for m in name_is_dns_subdomain(nn, False))
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= 2147483647:
        errs.append(invalid(_c(path, "activeDeadlineSeconds"), ads, inclusive_range_error(1, 2147483647)))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.extend(_dns_label(spec[key], _c(path, key)))
    if spec.get("tolerations"):
        errs.extend(_tolerations(spec["tolerations"], _c(path, "tolerations")))
    for i, ha in enumerate(_dl(spec.get("hostAliases"))):
        hp = f"{path}.hostAliases[{i}]"
        errs.extend(is_valid_ip(_c(hp, "ip"), ha.get("ip") or ""))
        for j, h in enumerate(ha.get("hostnames") or []):
            errs.extend(_dns_subdomain(h, f"{hp}.hostnames[{j}]"))
    pcn = spec.get("priorityClassName") or ""
    if pcn:
        errs.extend(invalid(_c(path, "priorityClassName"), pcn, m) for m in name_is_dns_subdomain(pcn, False))
    pp = spec.get("preemptionPolicy")
    if pp is not None and pp not in ("PreemptLowerPriority", "Never"):
        if pp == "":
            errs.append(required(_c(path, "preemptionPolicy")))
        else:
            errs.append(not_supported(_c(path, "preemptionPolicy"), pp, ["PreemptLowerPriority", "Never"]))
    os_ = spec.get("os")
    if isinstance(os_, dict):
        name = os_.get("name") or ""
        if not name:
            errs.append(required(_c(_c(path, "os"), "name"), "cannot be empty"))
        elif name not in ("linux", "windows"):
            errs.append(not_supported(_c(_c(path, "os"), "name"), name, ["linux", "windows"]))
    return errs


def _dns_subdomain_underscore(v: str, path: str) -> list[Cause]:
    fmt = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*"
    errs = []
    if len(v) > 253:
        errs.append(invalid(path, v, max_len_error(253)))
    if not re.fullmatch(fmt, v):
        errs.append(invalid(path, v, regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', "
            "and must start and end with an alphanumeric character", fmt, "example.com")))
    return errs


def _pod_specific_annotations(ann: Any, path: str, is_pod: bool) -> list[Cause]:
    errs: list[Cause] = []
    ann = _dd(ann)
    if is_pod and "controller.kubernetes.io/pod-deletion-cost" in ann:
        v = ann["controller.kubernetes.io/pod-deletion-cost"]
        try:
            n = int(str(v).strip())
            ok = -(2**31) <= n < 2**31 and str(v) == str(v).strip()
        except ValueError:
            ok = False
        if not ok:
            errs.append(invalid(f"{path}[controller.kubernetes.io/pod-deletion-cost]", v,
                                "must be a 32bit integer"))
    return errs


def validate_pod_template_spec(tpl: Obj, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec."""
    meta = _dd(tpl.get("metadata"))
    errs = validate_labels(meta.get("labels"), _c(path, "labels"))
    errs.extend(validate_annotations(meta.get("annotations"), _c(path, "annotations")))
    errs.extend(_pod_specific_annotations(meta.get("annotations"), _c(path, "annotations"), False))
    spec = _dd(tpl.get("spec"))
    errs.extend(validate_pod_spec(spec, _c(path, "spec")))
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(_c(path, "spec.ephemeralContainers"), "ephemeral containers not allowed in pod "
                                                                     "template"))
    return errs


# --------------------------------------------------------------------------------------------
# Core kinds
# --------------------------------------------------------------------------------------------

def _pod_metadata_and_spec(pod: Obj) -> list[Cause]:
    errs = validate_object_meta(pod, True, name_is_dns_subdomain)
    meta = _dd(pod.get("metadata"))
    errs.extend(_pod_specific_annotations(meta.get("annotations"), "metadata.annotations", True))
    spec = _dd(pod.get("spec"))
    errs.extend(validate_pod_spec(spec, "spec", meta.get("name") or None, is_pod=True))
    if not spec.get("serviceAccountName"):
        for vi, vol in enumerate(_dl(spec.get("volumes"))):
            for si, src in enumerate(_dl(_dd(vol.get("projected")).get("sources"))):
                if isinstance(src.get("serviceAccountToken"), dict):
                    errs.append(forbidden(f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken",
                                          "must not be specified when serviceAccountName is not set"))
    for key in ("containers", "initContainers"):
        for i, c in enumerate(_dl(spec.get(key))):
            img = c.get("image") or ""
            if img != img.strip():
                errs.append(invalid(f"spec.{key}[{i}].image", img, "must not have leading or trailing whitespace"))
    return errs


def _pod_create(pod: Obj) -> list[Cause]:
    errs = _pod_metadata_and_spec(pod)
    spec = _dd(pod.get("spec"))
    if spec.get("ephemeralContainers"):
        errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


UPDATABLE_POD_FIELDS = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                        "`spec.tolerations` (only additions to existing tolerations),"
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
                        "negative)")


def _pod_update(pod: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(pod, old)
    errs.extend(_pod_metadata_and_spec(pod))
    spec, ospec = _dd(pod.get("spec")), _dd(old.get("spec"))
    for key in ("containers", "initContainers"):
        new_c, old_c = _dl(spec.get(key)), _dl(ospec.get(key))
        if len(new_c) != len(old_c):
            errs.append(forbidden(f"spec.{key}", "pod updates may not add or remove containers"))
            return errs
        for i, c in enumerate(new_c):
            img = c.get("image") or ""
            if not img:
                errs.append(required(f"spec.{key}[{i}].image"))
            if img != img.strip():
                errs.append(invalid(f"spec.{key}[{i}].image", img, "must not have leading or trailing whitespace"))
    ads, oads = spec.get("activeDeadlineSeconds"), ospec.get("activeDeadlineSeconds")
    if ads is not None:
        if not 0 <= ads <= 2147483647:
            errs.append(invalid("spec.activeDeadlineSeconds", ads, inclusive_range_error(0, 2147483647)))
            return errs
        if oads is not None and oads < ads:
            errs.append(invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value"))
            return errs
    elif oads is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil "
                                                                "value"))
    old_tols, new_tols = _dl(ospec.get("tolerations")), _dl(spec.get("tolerations"))
    for ot in old_tols:
        if not any(dflt.semantic_equal({**ot, "tolerationSeconds": nt.get("tolerationSeconds")}, nt)
                   for nt in new_tols):
            errs.append(forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                                      "tolerationSeconds"))
            break
    else:
        errs.extend(_tolerations(new_tols, "spec.tolerations"))
    if dflt.semantic_equal(spec, ospec):
        return errs
    munged = dict(spec)
    for key in ("containers", "initContainers"):
        if key in munged or key in ospec:
            munged[key] = [{**c, "image": o.get("image")} for c, o in zip(_dl(spec.get(key)),
                                                                       _dl(ospec.get(key)), strict=False)]
    munged["activeDeadlineSeconds"] = oads
    munged["tolerations"] = ospec.get("tolerations")
    munged["schedulingGates"] = ospec.get("schedulingGates")
    otg, ntg = ospec.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if isinstance(otg, int) and otg < 0 and ntg == 1:
        munged["terminationGracePeriodSeconds"] = otg
    if ospec.get("schedulingGates"):
        munged["nodeSelector"] = ospec.get("nodeSelector") if _only_additions(
            spec.get("nodeSelector"), ospec.get("nodeSelector")) else munged.get("nodeSelector")
    if not dflt.semantic_equal(munged, ospec):
        errs.append(forbidden("spec", f"pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n"
                                      + _diff_text("core.PodSpec", ospec, munged)))
    return errs


def _only_additions(new: Any, old: Any) -> bool:
    new, old = _dd(new), _dd(old)
    return all(k in new and new[k] == v for k, v in old.items())


def _pod_status(pod: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(pod, old)
    st = _dd(pod.get("status"))
    for i, cond in enumerate(_dl(st.get("conditions"))):
        t = cond.get("type") or ""
        if t not in ("PodScheduled", "Ready", "Initialized"):
            errs.extend(_qualified(t, f"metadata.conditions[{i}].Type"))
    if (_dd(pod.get("spec")).get("nodeName") or "") != (_dd(old.get("spec")).get("nodeName") or ""):
        errs.append(forbidden("status.nodeName", "may not be changed directly"))
    nnn = st.get("nominatedNodeName") or ""
    if nnn and nnn != _dd(old.get("status")).get("nominatedNodeName"):
        errs.extend(invalid("status.nominatedNodeName", nnn, m) for m in name_is_dns_subdomain(nnn, False))
    oq = _dd(old.get("status")).get("qosClass") or ""
    if (st.get("qosClass") or "") != oq:
        errs.append(invalid("status.qosClass", st.get("qosClass") or "", "field is immutable"))
    for i, ip in enumerate(_dl(st.get("podIPs"))):
        errs.extend(is_valid_ip(f"status.podIPs[{i}]", ip.get("ip") or ""))
    hips = _dl(st.get("hostIPs"))
    if hips:
        if (st.get("hostIP") or "") != (hips[0].get("ip") or ""):
            errs.append(invalid("status.hostIPs[0].ip", hips[0].get("ip") or "", "must be equal to `hostIP`"))
        for i, ip in enumerate(hips):
            errs.extend(is_valid_ip(f"status.hostIPs[{i}]", ip.get("ip") or ""))
    return errs


def _service_port(sp: Obj, require_name: bool, names: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    name = sp.get("name") or ""
    if require_name and not name:
        errs.append(required(_c(path, "name")))
    elif name:
        errs.extend(_dns_label(name, _c(path, "name")))
        if name in names:
            errs.append(duplicate(_c(path, "name"), name))
        else:
            names.add(name)
    errs.extend(invalid(_c(path, "port"), sp.get("port", 0), m) for m in is_valid_port_num(sp.get("port", 0)))
    proto = sp.get("protocol") or ""
    if not proto:
        errs.append(required(_c(path, "protocol")))
    elif proto not in _PROTOCOLS:
        errs.append(not_supported(_c(path, "protocol"), proto, _PROTOCOLS))
    errs.extend(_port_num_or_name(sp.get("targetPort", 0), _c(path, "targetPort")))
    if sp.get("appProtocol") is not None:
        errs.extend(_qualified(sp["appProtocol"], _c(path, "appProtocol")))
    return errs


def _is_headless(spec: Obj) -> bool:
    cips = spec.get("clusterIPs")
    return isinstance(cips, list) and len(cips) == 1 and cips[0] == "None"


def _go_service_port(p: Obj) -> str:
    return (f'core.ServicePort{{Name:"", Protocol:{goq(p.get("protocol") or "")}, AppProtocol:(*string)(nil), '
            f'Port:{p.get("port", 0)}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def _cluster_ips_related(spec: Obj) -> list[Cause]:
    if spec.get("type") == "ExternalName":
        return []
    errs: list[Cause] = []
    cip = spec.get("clusterIP") or ""
    cips = spec.get("clusterIPs") if isinstance(spec.get("clusterIPs"), list) else []
    fams = spec.get("ipFamilies") if isinstance(spec.get("ipFamilies"), list) else []
    if cip:
        if not cips:
            errs.append(required("spec.clusterIPs"))
        elif cips[0] != cip:
            errs.append(invalid("spec.clusterIPs", Go(go_strs(cips)), "first value must match `clusterIP`"))
    elif cips:
        errs.append(invalid("spec.clusterIPs", Go(go_strs(cips)), "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, f in enumerate(fams):
        if f not in ("IPv4", "IPv6"):
            errs.append(not_supported(f"spec.ipFamilies[{i}]", f, ["IPv4", "IPv6"]))
        if f in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", f))
        seen.add(f)
    pol = spec.get("ipFamilyPolicy")
    if pol is not None and pol not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(not_supported("spec.ipFamilyPolicy", pol, ["PreferDualStack", "RequireDualStack",
                                                                "SingleStack"]))
    bad = False
    for i, ip in enumerate(cips):
        if i == 0 and ip == "None":
            if len(cips) > 1:
                bad = True
                errs.append(invalid("spec.clusterIPs", Go(go_strs(cips)), "'None' must be the first and only value"))
            continue
        e = is_valid_ip(f"spec.clusterIPs[{i}]", ip)
        bad = bad or bool(e)
        errs.extend(e)
    if len(cips) > 2:
        errs.append(invalid("spec.clusterIPs", Go(go_strs(cips)), "may only hold up to 2 values"))
    if bad:
        return errs
    if len(cips) > 1:
        parsed = [_parse_ip(x) for x in cips]
        if len({type(p) for p in parsed}) != len(parsed):
            errs.append(invalid("spec.clusterIPs", Go(go_strs(cips)), "may specify no more than one IP for each IP "
                                                                      "family"))
    if not _is_headless(spec) and cips and fams:
        for i, ip in enumerate(cips[:len(fams)]):
            v6 = ":" in ip
            if fams[i] == "IPv4" and v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if fams[i] == "IPv6" and not v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def _service_alloc_errors(spec: Obj) -> list[Cause]:
    """initIPFamilyFields' checks against a single-stack IPv4 service CIDR."""
    if spec.get("type") == "ExternalName" or (spec.get("clusterIP") == "None" and not spec.get("selector")):
        return []
    errs: list[Cause] = []
    if spec.get("ipFamilyPolicy") == "RequireDualStack":
        errs.append(invalid("spec.ipFamilyPolicy", "RequireDualStack", "this cluster is not configured for "
                                                                        "dual-stack services"))
    for i, f in enumerate(spec.get("ipFamilies") or []):
        if f != "IPv4":
            errs.append(invalid(f"spec.ipFamilies[{i}]", f, "not configured on this cluster"))
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if ip != "None" and isinstance(ip, str) and ":" in ip and i >= len(spec.get("ipFamilies") or []):
            errs.append(invalid(f"spec.clusterIPs[{i}]", Go(go_strs(spec["clusterIPs"])),
                                "IPv6 is not configured on this cluster"))
    return errs


def _service(svc: Obj) -> list[Cause]:
    errs = validate_object_meta(svc, True, name_is_dns1035_label)
    spec = _dd(svc.get("spec"))
    stype = spec.get("type") or ""
    headless = _is_headless(spec)
    ports = _dl(spec.get("ports"))
    if not ports and not headless and stype != "ExternalName":
        errs.append(required("spec.ports"))
    if stype == "LoadBalancer" and headless:
        errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
    elif stype == "NodePort" and headless:
        errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif stype == "ExternalName":
        if spec.get("clusterIPs"):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            errs.extend(_dns_subdomain(cname, "spec.externalName"))
        else:
            errs.append(required("spec.externalName"))
    names: set[str] = set()
    for i, p in enumerate(ports):
        errs.extend(_service_port(p, len(ports) > 1, names, f"spec.ports[{i}]"))
    if spec.get("selector") is not None:
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"))
    sa = spec.get("sessionAffinity") or ""
    if not sa:
        errs.append(required("spec.sessionAffinity"))
    elif sa not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", sa, ["ClientIP", "None"]))
    if sa == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        cp = "spec.sessionAffinityConfig"
        if not isinstance(cfg, dict):
            errs.append(required(cp, "when session affinity type is ClientIP"))
        elif not isinstance(cfg.get("clientIP"), dict):
            errs.append(required(_c(cp, "clientIP"), "when session affinity type is ClientIP"))
        elif cfg["clientIP"].get("timeoutSeconds") is None:
            errs.append(required(_c(cp, "clientIP.timeoutSeconds"), "when session affinity type is ClientIP"))
        else:
            t = cfg["clientIP"]["timeoutSeconds"]
            if not 0 < t <= 86400:
                errs.append(invalid(_c(cp, "clientIP.timeoutSeconds"), t, "must be greater than 0 and less than "
                                                                          "86400"))
    elif sa == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs.extend(_cluster_ips_related(spec))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        e = is_valid_ip(f"spec.externalIPs[{i}]", ip)
        errs.extend(e if e else _non_special_ip(ip, f"spec.externalIPs[{i}]"))
    types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if not stype:
        errs.append(required("spec.type"))
    elif stype not in types:
        errs.append(not_supported("spec.type", stype, types))
    if stype == "ClusterIP":
        for i, p in enumerate(ports):
            if p.get("nodePort"):
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen_np: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        if p.get("nodePort"):
            key = (p.get("protocol") or "", p["nodePort"])
            if key in seen_np:
                errs.append(duplicate(f"spec.ports[{i}].nodePort", p["nodePort"]))
            seen_np.add(key)
    seen_p: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        key = (p.get("protocol") or "", p.get("port", 0))
        if key in seen_p:
            errs.append(duplicate(f"spec.ports[{i}]", Go(_go_service_port(p))))
        seen_p.add(key)
    if spec.get("loadBalancerSourceRanges"):
        fp = "spec.LoadBalancerSourceRanges"
        if stype != "LoadBalancer":
            errs.append(forbidden(fp, "may only be used when `type` is 'LoadBalancer'"))
        for i, v in enumerate(spec["loadBalancerSourceRanges"]):
            errs.extend(is_valid_cidr(f"{fp}[{i}]", str(v).strip()))
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))
    externally = stype in ("LoadBalancer", "NodePort") or (stype == "ClusterIP" and bool(spec.get("externalIPs")))
    etp = spec.get("externalTrafficPolicy") or ""
    if not externally:
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible "
                                                                   "services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    hc = spec.get("healthCheckNodePort") or 0
    if not (stype == "LoadBalancer" and etp == "Local"):
        if hc:
            errs.append(invalid("spec.healthCheckNodePort", hc, "may only be set when `type` is 'LoadBalancer' and "
                                                                "`externalTrafficPolicy` is 'Local'"))
    itp = spec.get("internalTrafficPolicy")
    if itp is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    td = spec.get("trafficDistribution")
    if td is not None and td != "PreferClose":
        errs.append(not_supported("spec.trafficDistribution", td, ["PreferClose"]))
    return errs


def _non_special_ip(ip: str, path: str) -> list[Cause]:
    a = _parse_ip(ip)
    if a is None:
        return [invalid(path, ip, "must be a valid IP address")]
    errs = []
    if a.is_unspecified:
        errs.append(invalid(path, ip, f"may not be unspecified ({ip})"))
    if a.is_loopback:
        errs.append(invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if a.is_link_local and not a.is_multicast:
        errs.append(invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if (isinstance(a, ipaddress.IPv4Address) and a in ipaddress.ip_network("224.0.0.0/24")) or (
            isinstance(a, ipaddress.IPv6Address) and a in ipaddress.ip_network("ff02::/16")):
        errs.append(invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _service_create(svc: Obj) -> list[Cause]:
    alloc = _service_alloc_errors(_dd(svc.get("spec")))
    return alloc if alloc else _service(svc)


def _service_update(svc: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(svc, old)
    spec, ospec = _dd(svc.get("spec")), _dd(old.get("spec"))
    if spec.get("type") != "ExternalName" and ospec.get("type") != "ExternalName":
        new_h, old_h = _is_headless(spec), _is_headless(ospec)
        ncips = spec.get("clusterIPs") if isinstance(spec.get("clusterIPs"), list) else []
        ocips = ospec.get("clusterIPs") if isinstance(ospec.get("clusterIPs"), list) else []
        if not (new_h and old_h):
            if len(ocips) == len(ncips):
                for i, ip in enumerate(ocips):
                    if ip != ncips[i]:
                        errs.append(invalid(f"spec.clusterIPs[{i}]", Go(go_strs(ncips)), "may not change once set"))
            elif len(ocips) > len(ncips):
                if not ncips:
                    errs.append(invalid("spec.clusterIPs[0]", Go(go_strs(ncips or None)),
                                        "primary clusterIP can not be unset"))
                elif ocips and ncips[0] != ocips[0]:
                    errs.append(invalid("spec.clusterIPs[0]", Go(go_strs(ncips)), "may not change once set"))
                if len(ncips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
                    errs.append(invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"), "must be set to "
                                        "'SingleStack' when releasing the secondary clusterIP"))
            elif ocips and ncips[0] != ocips[0]:
                errs.append(invalid("spec.clusterIPs[0]", Go(go_strs(ncips)), "may not change once set"))
        if new_h == old_h and not new_h:
            nf = spec.get("ipFamilies") or []
            of = ospec.get("ipFamilies") or []
            if len(nf) == len(of):
                for i, f in enumerate(of):
                    if f != nf[i]:
                        errs.append(invalid("spec.ipFamilies[0]", Go(go_strs(nf, "[]core.IPFamily")),
                                            "may not change once set"))
    errs.extend(_service(svc))
    return errs


def _service_status(svc: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(svc, old)
    for i, ing in enumerate(_dl(_dd(_dd(svc.get("status")).get("loadBalancer")).get("ingress"))):
        p = f"status.loadBalancer.ingress[{i}]"
        if ing.get("ip"):
            errs.extend(is_valid_ip(_c(p, "ip"), ing["ip"]))
        if ing.get("hostname"):
            errs.extend(_dns_subdomain(ing["hostname"], _c(p, "hostname")))
            if _parse_ip(ing["hostname"]) is not None:
                errs.append(invalid(_c(p, "hostname"), ing["hostname"], "must be a DNS name, not an IP address"))
    return errs


ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]


def _access_modes(modes: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    rwop = other = False
    for m in modes if isinstance(modes, list) else []:
        if m not in ACCESS_MODES:
            errs.append(not_supported(path, m, ACCESS_MODES))
        if m == "ReadWriteOncePod":
            rwop = True
        elif m in ACCESS_MODES:
            other = True
    if rwop and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_pvc_spec(spec: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not spec.get("accessModes"):
        errs.append(required(_c(path, "accessModes"), "at least 1 access mode is required"))
    if isinstance(spec.get("selector"), dict):
        errs.extend(validate_label_selector(spec["selector"], _c(path, "selector")))
    errs.extend(_access_modes(spec.get("accessModes"), _c(path, "accessModes")))
    requests = _dd(_dd(spec.get("resources")).get("requests"))
    sp = f"{_c(path, 'resources')}[storage]"
    if "storage" not in requests:
        errs.append(required(sp))
    else:
        v = _qty(requests["storage"])
        if v is not None and v <= 0:
            errs.append(invalid(sp, _qstr(requests["storage"]), "must be greater than zero"))
    scn = spec.get("storageClassName")
    if scn:
        errs.extend(invalid(_c(path, "storageClassName"), scn, m) for m in name_is_dns_subdomain(scn, False))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in ("Block", "Filesystem"):
        errs.append(not_supported(_c(path, "volumeMode"), vm, ["Block", "Filesystem"]))
    for key in ("dataSource", "dataSourceRef"):
        ds = spec.get(key)
        if isinstance(ds, dict):
            dp = _c(path, key)
            if not ds.get("name"):
                errs.append(required(_c(dp, "name")))
            if not ds.get("kind"):
                errs.append(required(_c(dp, "kind")))
            if not ds.get("apiGroup") and ds.get("kind") != "PersistentVolumeClaim":
                errs.append(invalid(dp, ds.get("kind") or "", "must be 'PersistentVolumeClaim' when referencing "
                                                              "the default apiGroup"))
    return errs


def _pvc(pvc: Obj) -> list[Cause]:
    errs = validate_object_meta(pvc, True, name_is_dns_subdomain)
    errs.extend(validate_pvc_spec(_dd(pvc.get("spec")), "spec"))
    return errs


def _pvc_update(pvc: Obj, old: Obj) -> list[Cause]:
    errs = _pvc(pvc)
    errs.extend(validate_object_meta_update(pvc, old))
    errs.extend(_pvc(pvc))
    spec, ospec = dict(_dd(pvc.get("spec"))), dict(_dd(old.get("spec")))
    if not ospec.get("volumeName"):
        ospec["volumeName"] = spec.get("volumeName")
    if ospec.get("storageClassName") is None and spec.get("storageClassName") is not None:
        beta = _dd(_dd(old.get("metadata")).get("annotations")).get("volume.beta.kubernetes.io/storage-class")
        if beta is None or beta == spec["storageClassName"]:
            ospec["storageClassName"] = spec["storageClassName"]
    phase = _dd(pvc.get("status")).get("phase") or _dd(old.get("status")).get("phase")
    new_size = _dd(_dd(spec.get("resources")).get("requests")).get("storage")
    old_size = _dd(_dd(ospec.get("resources")).get("requests")).get("storage")
    if phase == "Bound" and isinstance(spec.get("resources"), dict):
        res = dict(spec["resources"])
        res["requests"] = {**_dd(res.get("requests")), "storage": old_size}
        spec["resources"] = res
        if spec.get("volumeAttributesClassName") is not None:
            spec["volumeAttributesClassName"] = ospec.get("volumeAttributesClassName")
    if not dflt.semantic_equal(spec, ospec):
        errs.append(forbidden("spec", "spec is immutable after creation except resources.requests and "
                                      "volumeAttributesClassName for bound claims\n"
                              + _diff_text("core.PersistentVolumeClaimSpec", ospec, spec)))
    nv, ov = _qty(new_size), _qty(old_size)
    if nv is not None and ov is not None and nv < ov:
        errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
    if _dd(pvc.get("spec")).get("volumeMode") != _dd(old.get("spec")).get("volumeMode"):
        errs.append(invalid("volumeMode", _dd(pvc.get("spec")).get("volumeMode"), "field is immutable"))
    return errs


def _pvc_status(pvc: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(pvc, old)
    if not _dd(pvc.get("spec")).get("accessModes"):
        errs.append(required("Spec.accessModes"))
    for r, q in _dd(_dd(pvc.get("status")).get("capacity")).items():
        v = _qty(q)
        if v is not None and v < 0:
            errs.append(invalid(f"status.capacity[{r}]", int(v), "must be a valid resource quantity"))
    return errs


def _pv_spec(spec: Obj) -> list[Cause]:
    errs: list[Cause] = []
    if not spec.get("accessModes"):
        errs.append(required("spec.accessModes"))
    errs.extend(_access_modes(spec.get("accessModes"), "spec.accessModes"))
    cap = _dd(spec.get("capacity"))
    if not cap:
        errs.append(required("spec.capacity"))
    if "storage" not in cap or len(cap) > 1:
        errs.append(not_supported("spec.capacity", Go(go_map({k: _qstr(v) for k, v in cap.items()},
                                                             "core.ResourceList")), ["storage"]))
    for r, q in cap.items():
        v = _qty(q)
        if v is None:
            continue
        if v < 0:
            errs.append(invalid(f"spec.capacity[{r}]", int(v), "must be a valid resource quantity"))
        if v <= 0:
            errs.append(invalid(f"spec.capacity[{r}]", _qstr(q), "must be greater than zero"))
    rp = spec.get("persistentVolumeReclaimPolicy") or ""
    if rp and rp not in ("Delete", "Recycle", "Retain"):
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", rp, ["Delete", "Recycle", "Retain"]))
    node_aff = False
    na = spec.get("nodeAffinity")
    if isinstance(na, dict):
        req = na.get("required")
        if isinstance(req, dict):
            node_aff = True
            terms = _dl(req.get("nodeSelectorTerms"))
            if not terms:
                errs.append(required("spec.nodeAffinity.required.nodeSelectorTerms", "must have at least one node "
                                                                                      "selector term"))
        else:
            errs.append(required("spec.nodeAffinity.required", "must have required node affinity"))
    count = 0
    for key, epath in _PV_SOURCES:
        src = spec.get(key)
        if not isinstance(src, dict):
            continue
        if count > 0 and epath is not None:
            errs.append(forbidden(f"spec.{epath}", "may not specify more than 1 volume type"))
            continue
        count += 1
        sp = f"spec.{key}"
        if key == "hostPath":
            errs.extend(_host_path(src, sp))
        elif key == "nfs":
            if not src.get("server"):
                errs.append(required(_c(sp, "server")))
            if not src.get("path"):
                errs.append(required(_c(sp, "path")))
            elif not str(src["path"]).startswith("/"):
                errs.append(invalid(_c(sp, "path"), src["path"], "must be an absolute path"))
        elif key == "local":
            if not src.get("path"):
                errs.append(required(_c(sp, "path")))
            else:
                errs.extend(_no_backsteps(src["path"], _c(sp, "path")))
            if not node_aff:
                errs.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
        elif key == "csi":
            drv = src.get("driver") or ""
            if not drv:
                errs.append(required(_c(sp, "driver")))
            if len(drv) > 63:
                errs.append(too_long(_c(sp, "driver"), 63))
            errs.extend(invalid(_c(sp, "driver"), drv, m) for m in is_dns1123_subdomain(drv.lower()))
            if not src.get("volumeHandle"):
                errs.append(required(_c(sp, "volumeHandle")))
    if count == 0:
        errs.append(required("spec", "must specify a volume type"))
    hp = spec.get("hostPath")
    if isinstance(hp, dict) and rp == "Recycle" and re.sub("/+", "/", str(hp.get("path") or "")).rstrip("/") == "":
        errs.append(forbidden("spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of "
                                                                    "'/'"))
    scn = spec.get("storageClassName")
    if scn:
        errs.extend(invalid("spec.storageClassName", scn, m) for m in name_is_dns_subdomain(scn, False))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in ("Block", "Filesystem"):
        errs.append(not_supported("spec.volumeMode", vm, ["Block", "Filesystem"]))
    return errs


def _pv(pv: Obj) -> list[Cause]:
    errs = validate_object_meta(pv, False, name_is_dns_subdomain)
    spec = _dd(pv.get("spec"))
    errs.extend(_pv_spec(spec))
    return errs


def _pv_create(pv: Obj) -> list[Cause]:
    errs = _pv(pv)
    hp = _dd(pv.get("spec")).get("hostPath")
    if isinstance(hp, dict):  # pkg/volume/validation runs the backsteps check again
        errs.extend(_no_backsteps(str(hp.get("path") or ""), "spec.hostPath.path"))
    return errs


_PV_NON_SOURCE = {"capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName",
                  "mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName"}


def _pv_update(pv: Obj, old: Obj) -> list[Cause]:
    errs = _pv_create(pv)
    errs.extend(_pv(pv))
    spec, ospec = _dd(pv.get("spec")), _dd(old.get("spec"))
    nsrc = {k: v for k, v in spec.items() if k not in _PV_NON_SOURCE}
    osrc = {k: v for k, v in ospec.items() if k not in _PV_NON_SOURCE}
    if isinstance(osrc.get("csi"), dict) and isinstance(nsrc.get("csi"), dict) and \
            osrc["csi"].get("controllerExpandSecretRef") is None:
        nsrc["csi"] = {k: v for k, v in nsrc["csi"].items() if k != "controllerExpandSecretRef"}
    if not dflt.semantic_equal(nsrc, osrc):
        errs.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"
                                                             "\n" + _diff_text("core.PersistentVolumeSource", osrc,
                                                                               nsrc)))
    if spec.get("volumeMode") != ospec.get("volumeMode"):
        errs.append(invalid("volumeMode", spec.get("volumeMode"), "field is immutable"))
    if ospec.get("nodeAffinity") is not None and not dflt.semantic_equal(spec.get("nodeAffinity"),
                                                                         ospec.get("nodeAffinity")):
        errs.append(invalid("nodeAffinity", Go("&core.VolumeNodeAffinity{...}"), "field is immutable"))
    return errs


def _namespace(ns: Obj) -> list[Cause]:
    errs = validate_object_meta(ns, False, name_is_dns_label)
    for f in _dd(ns.get("spec")).get("finalizers") or []:
        errs.extend(invalid("spec.finalizers", f, m) for m in is_qualified_name(str(f)))
        if "/" not in str(f) and f not in _STANDARD_FINALIZERS:
            errs.append(invalid("spec.finalizers", f, "name is neither a standard finalizer name nor is it fully "
                                                      "qualified"))
    return errs


def _namespace_status(ns: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(ns, old)
    phase = _dd(ns.get("status")).get("phase") or ""
    if not _dd(ns.get("metadata")).get("deletionTimestamp"):
        if phase != "Active":
            errs.append(invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty"))
    elif phase != "Terminating":
        errs.append(invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
    return errs


MAX_SECRET_SIZE = 1024 * 1024


def _configmap(cm: Obj) -> list[Cause]:
    errs = validate_object_meta(cm, True, name_is_dns_subdomain)
    data, binary = _dd(cm.get("data")), _dd(cm.get("binaryData"))
    total = 0
    for k, v in data.items():
        errs.extend(invalid(f"data[{k}]", k, m) for m in is_config_map_key(k))
        if k in binary:
            errs.append(invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        total += len(str(v or "").encode())
    for k, v in binary.items():
        errs.extend(invalid(f"binaryData[{k}]", k, m) for m in is_config_map_key(k))
        total += _b64_len(v)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("", MAX_SECRET_SIZE))
    return errs


def _b64_len(v: Any) -> int:
    try:
        return len(base64.b64decode(v or ""))
    except (binascii.Error, ValueError, TypeError):
        return 0


def _immutable_data(new: Obj, old: Obj, keys: tuple[str, ...]) -> list[Cause]:
    errs: list[Cause] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for k in keys:
            if (new.get(k) or {}) != (old.get(k) or {}):
                errs.append(forbidden(k, "field is immutable when `immutable` is set"))
    return errs


def _configmap_update(cm: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(cm, old)
    errs.extend(_immutable_data(cm, old, ("data", "binaryData")))
    errs.extend(_configmap(cm))
    return errs


def _secret(s: Obj) -> list[Cause]:
    errs = validate_object_meta(s, True, name_is_dns_subdomain)
    data = _dd(s.get("data"))
    total = 0
    for k, v in data.items():
        errs.extend(invalid(f"data[{k}]", k, m) for m in is_config_map_key(k))
        total += _b64_len(v)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    t = s.get("type") or ""
    ann = _dd(_dd(s.get("metadata")).get("annotations"))
    if t == "kubernetes.io/service-account-token":
        if not ann.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif t in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if t == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.append(required(f"data[{key}]"))
        else:
            try:
                parsed = json.loads(base64.b64decode(data[key]))
                if not isinstance(parsed, dict):
                    raise ValueError("json: cannot unmarshal into Go value of type map[string]interface {}")
            except (ValueError, binascii.Error) as e:
                errs.append(invalid(f"data[{key}]", "<secret contents redacted>", str(e) or "invalid JSON"))
    elif t == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required("data[username]"))
            errs.append(required("data[password]"))
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required("data[ssh-privatekey]"))
    elif t == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(required(f"data[{key}]"))
    return errs


def _secret_update(s: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(s, old)
    if (s.get("type") or "") != (old.get("type") or ""):
        errs.append(invalid("type", s.get("type") or "", "field is immutable"))
    errs.extend(_immutable_data(s, old, ("data",)))
    errs.extend(_secret(s))
    return errs


def _serviceaccount(sa: Obj) -> list[Cause]:
    return validate_object_meta(sa, True, name_is_dns_subdomain)


def _node_taints(taints: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(_dl(taints)):
        ip = f"{path}[{i}]"
        errs.extend(validate_label_name(t.get("key") or "", _c(ip, "key")))
        msgs = is_label_value(t.get("value") or "")
        if msgs:
            errs.append(invalid(_c(ip, "value"), t.get("value") or "", ";".join(msgs)))
        eff = t.get("effect") or ""
        if not eff:
            errs.append(required(_c(ip, "effect")))
        elif eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(_c(ip, "effect"), eff, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
        key = (t.get("key") or "", eff)
        if key in seen:
            c = duplicate(ip, Go(f"core.Taint{{Key:{goq(key[0])}, Value:{goq(t.get('value') or '')}, "
                                 f"Effect:{goq(eff)}, TimeAdded:<nil>}}"))
            c["message"] += ": taints must be unique by key and effect pair"
            errs.append(c)
            continue
        seen.add(key)
    return errs


def _node_resources(node: Obj) -> list[Cause]:
    errs: list[Cause] = []
    st = _dd(node.get("status"))
    for key in ("capacity", "allocatable"):
        for r, q in _dd(st.get(key)).items():
            errs.extend(_quantity_value(r, q, f"status.{key}.{r}"))
    return errs


def _node(node: Obj) -> list[Cause]:
    errs = validate_object_meta(node, False, name_is_dns_subdomain)
    spec = _dd(node.get("spec"))
    if spec.get("taints"):
        errs.extend(_node_taints(spec["taints"], "metadata.taints"))
    errs.extend(_node_resources(node))
    cidrs = spec.get("podCIDRs") or []
    for i, c in enumerate(cidrs):
        errs.extend(is_valid_cidr(f"spec.podCIDRs[{i}]", c))
    if len(cidrs) > 1:
        fams = set()
        for c in cidrs:
            try:
                fams.add(ipaddress.ip_network(c, strict=False).version)
            except ValueError:
                pass
        if len(fams) != len(cidrs) or len(cidrs) > 2:
            errs.append(invalid("spec.podCIDRs", Go(go_strs(cidrs)), "may specify no more than one CIDR for each IP "
                                                                     "family"))
    return errs


def _node_update(node: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(node, old)
    errs.extend(_node_resources(node))
    seen: set[tuple[str, str]] = set()
    for i, a in enumerate(_dl(_dd(node.get("status")).get("addresses"))):
        key = (a.get("type") or "", a.get("address") or "")
        if key in seen:
            errs.append(duplicate(f"status.addresses[{i}]", Go(f"core.NodeAddress{{Type:{goq(key[0])}, "
                                                                f"Address:{goq(key[1])}}}")))
        seen.add(key)
    spec, ospec = _dd(node.get("spec")), _dd(old.get("spec"))
    ocidrs = ospec.get("podCIDRs") or []
    if ocidrs and list(ocidrs) != list(spec.get("podCIDRs") or []):
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if ospec.get("providerID") and ospec.get("providerID") != spec.get("providerID"):
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    if spec.get("taints"):
        errs.extend(_node_taints(spec["taints"], "metadata.taints"))
    if (spec.get("externalID") or "") != (ospec.get("externalID") or ""):
        errs.append(forbidden("spec.externalID", "may not be updated"))
    return errs


def _endpoints(ep: Obj) -> list[Cause]:
    errs = validate_object_meta(ep, True, name_is_dns_subdomain)
    for i, ss in enumerate(_dl(ep.get("subsets"))):
        sp = f"subsets[{i}]"
        if not ss.get("addresses") and not ss.get("notReadyAddresses"):
            errs.append(required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(_dl(ss.get(key))):
                ap = f"{sp}.{key}[{j}]"
                ip = a.get("ip") or ""
                errs.extend(is_valid_ip(_c(ap, "ip"), ip))
                if a.get("hostname"):
                    errs.extend(_dns_label(a["hostname"], _c(ap, "hostname")))
                if a.get("nodeName") is not None:
                    errs.extend(invalid(_c(ap, "nodeName"), a["nodeName"], m)
                                for m in name_is_dns_subdomain(a["nodeName"], False))
                errs.extend(_non_special_ip(ip, _c(ap, "ip")))
        ports = _dl(ss.get("ports"))
        for j, p in enumerate(ports):
            pp = f"{sp}.ports[{j}]"
            if len(ports) > 1 and not p.get("name"):
                errs.append(required(_c(pp, "name")))
            elif p.get("name"):
                errs.extend(_dns_label(p["name"], _c(pp, "name")))
            errs.extend(invalid(_c(pp, "port"), p.get("port", 0), m) for m in is_valid_port_num(p.get("port", 0)))
            proto = p.get("protocol") or ""
            if not proto:
                errs.append(required(_c(pp, "protocol")))
            elif proto not in _PROTOCOLS:
                errs.append(not_supported(_c(pp, "protocol"), proto, _PROTOCOLS))
            if p.get("appProtocol") is not None:
                errs.extend(_qualified(p["appProtocol"], _c(pp, "appProtocol")))
    return errs


def _legacy_event(ev: Obj, strict: bool) -> list[Cause]:
    errs: list[Cause] = []
    ns = _dd(ev.get("metadata")).get("namespace") or ""
    io = _dd(ev.get("regarding") if strict else ev.get("involvedObject"))
    io_ns = io.get("namespace") or ""
    rc_field = "reportingController" if strict else "reportingComponent"
    rc = ev.get(rc_field) or ""
    if not ev.get("eventTime"):
        if not io_ns:
            if ns not in ("", "default"):
                errs.append(invalid("involvedObject.namespace", io_ns, "does not match event.namespace"))
        elif ns != io_ns:
            errs.append(invalid("involvedObject.namespace", io_ns, "does not match event.namespace"))
    else:
        if not io_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", io_ns, "does not match event.namespace"))
        if not rc:
            errs.append(required(rc_field))
        errs.extend(_qualified(rc, rc_field))
        ri = ev.get("reportingInstance") or ""
        if not ri:
            errs.append(required("reportingInstance"))
        if len(ri) > 128:
            errs.append(invalid("reportingInstance", "", "can have at most 128 characters"))
        action = ev.get("action") or ""
        if not action:
            errs.append(required("action"))
        if len(action) > 128:
            errs.append(invalid("action", "", "can have at most 128 characters"))
        reason = ev.get("reason") or ""
        if not reason:
            errs.append(required("reason"))
        if len(reason) > 128:
            errs.append(invalid("reason", "", "can have at most 128 characters"))
        msg = ev.get("note" if strict else "message") or ""
        if len(msg) > 1024:
            errs.append(invalid("message", "", "can have at most 1024 characters"))
    errs.extend(invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns))
    return errs


def _event(ev: Obj) -> list[Cause]:
    return _legacy_event(ev, False)


def _event_update(ev: Obj, old: Obj) -> list[Cause]:
    return _legacy_event(ev, False)


def _events_v1(ev: Obj) -> list[Cause]:
    errs = _legacy_event(ev, True)
    errs.extend(validate_object_meta(ev, True, name_is_dns_subdomain))
    if not ev.get("eventTime"):
        errs.append(required("eventTime"))
    t = ev.get("type") or ""
    if t not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {t}"))
    if ev.get("deprecatedFirstTimestamp"):
        errs.append(invalid("deprecatedFirstTimestamp", "", "needs to be unset"))
    if ev.get("deprecatedLastTimestamp"):
        errs.append(invalid("deprecatedLastTimestamp", "", "needs to be unset"))
    if ev.get("deprecatedCount"):
        errs.append(invalid("deprecatedCount", "", "needs to be unset"))
    return errs


def _events_v1_update(ev: Obj, old: Obj) -> list[Cause]:
    errs = _legacy_event(ev, True)
    errs.extend(validate_object_meta_update(ev, old))
    for key in ("regarding", "reason", "action", "note", "reportingController", "reportingInstance", "type",
                "eventTime", "related"):
        if not dflt.semantic_equal(ev.get(key), old.get(key)):
            errs.append(invalid(key, Go(render(ev.get(key)).text), "field is immutable"))
    return errs


# --------------------------------------------------------------------------------------------
# apps/v1
# --------------------------------------------------------------------------------------------

def _positive_int_or_percent(v: Any, path: str) -> list[Cause]:
    if isinstance(v, str):
        if not _re_percent.fullmatch(v):
            return [invalid(path, Go(go_intstr(v)), regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'", PERCENT_FMT, "1%",
                "93%"))]
        return []
    if isinstance(v, int) and not isinstance(v, bool):
        return _nonneg(v, path)
    return [invalid(path, Go(go_intstr(v)), "must be an integer or percentage (e.g '5%%')")]


def _int_or_percent_value(v: Any) -> int:
    if isinstance(v, str):
        return int(v[:-1]) if _re_percent.fullmatch(v) else 0
    return v if isinstance(v, int) else 0


def _not_more_than_100(v: Any, path: str) -> list[Cause]:
    if isinstance(v, str) and _re_percent.fullmatch(v) and int(v[:-1]) > 100:
        return [invalid(path, Go(go_intstr(v)), "must not be greater than 100%")]
    return []


def _selector_required(spec: Obj, path: str, kind: str) -> list[Cause]:
    errs: list[Cause] = []
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        errs.append(required(_c(path, "selector")))
    else:
        errs.extend(validate_label_selector(sel, _c(path, "selector")))
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.append(invalid(_c(path, "selector"), Go(go_selector(sel)), f"empty selector is invalid for {kind}"))
    return errs


def _template_labels_match(spec: Obj, tpl_path: str) -> list[Cause]:
    sel = spec.get("selector")
    tpl = _dd(spec.get("template"))
    labels = _dd(tpl.get("metadata")).get("labels")
    if not selector_empty(sel) and not selector_matches(sel, labels):
        return [invalid(_c(tpl_path, "metadata.labels"), Go(go_map(labels)), "`selector` does not match template "
                                                                              "`labels`")]
    return []


def _statefulset_spec(spec: Obj) -> list[Cause]:
    errs: list[Cause] = []
    pmp = spec.get("podManagementPolicy") or ""
    if not pmp:
        errs.append(required("spec.podManagementPolicy"))
    elif pmp not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"))
    us = _dd(spec.get("updateStrategy"))
    ut = us.get("type") or ""
    ru = us.get("rollingUpdate")
    if not ut:
        errs.append(required("spec.updateStrategy"))
    elif ut == "OnDelete":
        if ru is not None:
            errs.append(invalid("spec.updateStrategy.rollingUpdate", Go(_go_sts_ru(ru)),
                                "only allowed for updateStrategy 'RollingUpdate'"))
    elif ut == "RollingUpdate":
        if isinstance(ru, dict):
            rp = "spec.updateStrategy.rollingUpdate"
            errs.extend(_nonneg(ru.get("partition", 0), _c(rp, "partition")))
            mu = ru.get("maxUnavailable")
            if mu is not None:
                errs.extend(_positive_int_or_percent(mu, _c(rp, "maxUnavailable")))
                if _int_or_percent_value(mu) == 0:
                    errs.append(invalid(_c(rp, "maxUnavailable"), Go(go_intstr(mu)), "cannot be 0"))
                errs.extend(_not_more_than_100(mu, _c(rp, "maxUnavailable")))
    else:
        errs.append(invalid("spec.updateStrategy", Go(
            f"apps.StatefulSetUpdateStrategy{{Type:{goq(ut)}, "
            f"RollingUpdate:{_ptr(ru, 'apps.RollingUpdateStatefulSetStrategy')}}}"),
            "must be 'RollingUpdate' or 'OnDelete'"))
    pol = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(pol, dict):
        for k in ("whenDeleted", "whenScaled"):
            v = pol.get(k) or ""
            if v not in ("Retain", "Delete"):
                errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{k}", v, ["Retain", "Delete"]))
    errs.extend(_nonneg(spec.get("replicas", 0), "spec.replicas"))
    errs.extend(_nonneg(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    if isinstance(spec.get("ordinals"), dict):
        errs.extend(_nonneg(spec["ordinals"].get("start", 0), "spec.ordinals.start"))
    errs.extend(_selector_required(spec, "spec", "statefulset"))
    if not selector_convertible(spec.get("selector")):
        errs.append(invalid("spec.selector", Go(go_selector(spec.get("selector"))), ""))
    else:
        tpl = _dd(spec.get("template"))
        meta = _dd(tpl.get("metadata"))
        errs.extend(_template_labels_match(spec, "spec.template"))
        errs.extend(validate_labels(meta.get("labels"), "spec.template.labels"))
        errs.extend(validate_annotations(meta.get("annotations"), "spec.template.annotations"))
        errs.extend(_pod_specific_annotations(meta.get("annotations"), "spec.template.annotations", False))
    tspec = _dd(_dd(spec.get("template")).get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", tspec.get("restartPolicy") or "", ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in StatefulSet is not "
                                                                          "Supported"))
    return errs


def _go_sts_ru(ru: Any) -> str:
    return f"&apps.RollingUpdateStatefulSetStrategy{{Partition:{_dd(ru).get('partition', 0)}, MaxUnavailable:" \
           f"{_ptr(_dd(ru).get('maxUnavailable'), 'intstr.IntOrString')}}}"


def _statefulset(sts: Obj) -> list[Cause]:
    errs = validate_object_meta(sts, True, name_is_dns_label)
    errs.extend(_statefulset_spec(_dd(sts.get("spec"))))
    return errs


_STS_MUTABLE = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                "persistentVolumeClaimRetentionPolicy")


def _statefulset_update(sts: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(sts, old)
    spec = _dd(sts.get("spec"))
    errs.extend(_statefulset_spec(spec))
    rest = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
    orest = {k: v for k, v in _dd(old.get("spec")).items() if k not in _STS_MUTABLE}
    if not dflt.semantic_equal(rest, orest):
        errs.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                      "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                      "'minReadySeconds' are forbidden"))
    return errs


def _sts_status(sts: Obj, old: Obj) -> list[Cause]:
    st = _dd(sts.get("status"))
    errs: list[Cause] = []
    for k in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
              "observedGeneration", "collisionCount"):
        errs.extend(_nonneg(st.get(k, 0), f"status.{k}"))
    reps = st.get("replicas", 0)
    for k in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
        if st.get(k, 0) > reps:
            errs.append(invalid(f"status.{k}", st[k], "cannot be greater than status.replicas"))
    if st.get("availableReplicas", 0) > st.get("readyReplicas", 0):
        errs.append(invalid("status.availableReplicas", st["availableReplicas"],
                            "cannot be greater than status.readyReplicas"))
    errs.extend(validate_object_meta_update(sts, old))
    errs.extend(_collision_decrement(st, _dd(old.get("status"))))
    return errs


def _collision_decrement(st: Obj, ost: Obj) -> list[Cause]:
    old_cc, new_cc = ost.get("collisionCount"), st.get("collisionCount")
    if old_cc is not None and (new_cc is None or new_cc < old_cc):
        return [invalid("status.collisionCount", new_cc or 0, "cannot be decremented")]
    return []


def _pod_template_for_replicaset(spec: Obj, kind: str) -> list[Cause]:
    errs: list[Cause] = []
    tpl = spec.get("template")
    if not isinstance(tpl, dict):
        return [required("spec.template")]
    errs.extend(_template_labels_match(spec, "spec.template"))
    errs.extend(validate_pod_template_spec(tpl, "spec.template"))
    tspec = _dd(tpl.get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", tspec.get("restartPolicy") or "", ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def _replicaset_spec(spec: Obj) -> list[Cause]:
    errs = _nonneg(spec.get("replicas", 0), "spec.replicas")
    errs.extend(_nonneg(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    errs.extend(_selector_required(spec, "spec", "deployment"))
    if not selector_convertible(spec.get("selector")):
        errs.append(invalid("spec.selector", Go(go_selector(spec.get("selector"))), "invalid label selector"))
    else:
        errs.extend(_pod_template_for_replicaset(spec, "ReplicaSet"))
    return errs


def _replicaset(rs: Obj) -> list[Cause]:
    errs = validate_object_meta(rs, True, name_is_dns_subdomain)
    errs.extend(_replicaset_spec(_dd(rs.get("spec"))))
    return errs


def _selector_immutable(obj: Obj, old: Obj) -> list[Cause]:
    sel, osel = _dd(obj.get("spec")).get("selector"), _dd(old.get("spec")).get("selector")
    if not dflt.semantic_equal(sel, osel):
        value = Go(go_selector(sel)) if isinstance(sel, dict) else None
        return [invalid("spec.selector", value, "field is immutable")]
    return []


def _replicaset_update(rs: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(rs, old)
    errs.extend(_replicaset_spec(_dd(rs.get("spec"))))
    errs.extend(_selector_immutable(rs, old))
    return errs


def _rs_status(rs: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(rs, old)
    st = _dd(rs.get("status"))
    for k in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        errs.extend(_nonneg(st.get(k, 0), f"status.{k}"))
    reps = st.get("replicas", 0)
    for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if st.get(k, 0) > reps:
            errs.append(invalid(f"status.{k}", st[k], "cannot be greater than status.replicas"))
    if st.get("availableReplicas", 0) > st.get("readyReplicas", 0):
        errs.append(invalid("status.availableReplicas", st["availableReplicas"], "cannot be greater than "
                                                                                 "readyReplicas"))
    return errs


def _rc_spec(spec: Obj) -> list[Cause]:
    """ValidateReplicationControllerSpec: the map selector is checked like a ReplicaSet's matchLabels."""
    errs = _nonneg(spec.get("minReadySeconds", 0), "spec.minReadySeconds")
    sel = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    if not sel:
        errs.append(required("spec.selector"))
    errs.extend(_nonneg(spec.get("replicas", 0), "spec.replicas"))
    as_rs = {"selector": {"matchLabels": sel}, "template": spec.get("template")}
    errs.extend(_pod_template_for_replicaset(as_rs, "ReplicationController"))
    return errs


def _replicationcontroller(rc: Obj) -> list[Cause]:
    errs = validate_object_meta(rc, True, name_is_dns_subdomain)
    errs.extend(_rc_spec(_dd(rc.get("spec"))))
    return errs


def _replicationcontroller_update(rc: Obj, old: Obj) -> list[Cause]:
    """rcStrategy.ValidateUpdate runs ValidateReplicationController and then the update checks, which
    validate the spec again (the causes repeat, the message does not). The selector is mutable."""
    errs = _replicationcontroller(rc)
    errs.extend(validate_object_meta_update(rc, old))
    errs.extend(_rc_spec(_dd(rc.get("spec"))))
    return errs


def _podtemplate(pt: Obj) -> list[Cause]:
    errs = validate_object_meta(pt, True, name_is_dns_subdomain)
    errs.extend(validate_pod_template_spec(_dd(pt.get("template")), "template"))
    return errs


def _podtemplate_update(pt: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(pt, old)
    errs.extend(validate_pod_template_spec(_dd(pt.get("template")), "template"))
    return errs


def _deployment_spec(spec: Obj) -> list[Cause]:
    errs = _nonneg(spec.get("replicas", 0), "spec.replicas")
    errs.extend(_selector_required(spec, "spec", "deployment"))
    if not selector_convertible(spec.get("selector")):
        errs.append(invalid("spec.selector", Go(go_selector(spec.get("selector"))), "invalid label selector"))
    else:
        errs.extend(_pod_template_for_replicaset(spec, "ReplicaSet"))
    strat = _dd(spec.get("strategy"))
    st = strat.get("type") or ""
    ru = strat.get("rollingUpdate")
    if st == "Recreate":
        if ru is not None:
            errs.append(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is "
                                                                 "'Recreate'"))
    elif st == "RollingUpdate":
        if not isinstance(ru, dict):
            errs.append(required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"))
        else:
            rp = "spec.strategy.rollingUpdate"
            mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
            errs.extend(_positive_int_or_percent(mu, _c(rp, "maxUnavailable")))
            errs.extend(_positive_int_or_percent(ms, _c(rp, "maxSurge")))
            if _int_or_percent_value(mu) == 0 and _int_or_percent_value(ms) == 0:
                errs.append(invalid(_c(rp, "maxUnavailable"), Go(go_intstr(mu)), "may not be 0 when `maxSurge` is 0"))
            errs.extend(_not_more_than_100(mu, _c(rp, "maxUnavailable")))
    else:
        errs.append(not_supported("spec.strategy", Go(
            f"apps.DeploymentStrategy{{Type:{goq(st)}, RollingUpdate:{_ptr(ru, 'apps.RollingUpdateDeployment')}}}"),
            ["Recreate", "RollingUpdate"]))
    errs.extend(_nonneg(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    if spec.get("revisionHistoryLimit") is not None:
        errs.extend(_nonneg(spec["revisionHistoryLimit"], "spec.revisionHistoryLimit"))
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs.extend(_nonneg(pds, "spec.progressDeadlineSeconds"))
        if pds <= spec.get("minReadySeconds", 0):
            errs.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


def _deployment(d: Obj) -> list[Cause]:
    errs = validate_object_meta(d, True, name_is_dns_subdomain)
    errs.extend(_deployment_spec(_dd(d.get("spec"))))
    return errs


def _deployment_update(d: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(d, old)
    errs.extend(_deployment_spec(_dd(d.get("spec"))))
    errs.extend(_selector_immutable(d, old))
    return errs


def _deployment_status(d: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(d, old)
    st = _dd(d.get("status"))
    for k in ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
              "unavailableReplicas", "collisionCount"):
        errs.extend(_nonneg(st.get(k, 0), f"status.{k}"))
    reps = st.get("replicas", 0)
    for k in ("updatedReplicas", "readyReplicas", "availableReplicas"):
        if st.get(k, 0) > reps:
            errs.append(invalid(f"status.{k}", st[k], "cannot be greater than status.replicas"))
    if st.get("availableReplicas", 0) > st.get("readyReplicas", 0):
        errs.append(invalid("status.availableReplicas", st["availableReplicas"], "cannot be greater than "
                                                                                 "readyReplicas"))
    errs.extend(_collision_decrement(st, _dd(old.get("status"))))
    return errs


def _daemonset_spec(spec: Obj) -> list[Cause]:
    errs = validate_label_selector(spec.get("selector"), "spec.selector")
    sel = spec.get("selector")
    tpl = _dd(spec.get("template"))
    if selector_convertible(sel) and not selector_matches(sel, _dd(tpl.get("metadata")).get("labels")):
        errs.append(invalid("spec.template.metadata.labels", Go(go_map(_dd(tpl.get("metadata")).get("labels"))),
                            "`selector` does not match template `labels`"))
    if isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(invalid("spec.selector", Go(go_selector(sel)), "empty selector is invalid for daemonset"))
    errs.extend(validate_pod_template_spec(tpl, "spec.template"))
    tspec = _dd(tpl.get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", tspec.get("restartPolicy") or "", ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in DaemonSet is not "
                                                                          "Supported"))
    errs.extend(_nonneg(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    us = _dd(spec.get("updateStrategy"))
    ut = us.get("type") or ""
    ru = us.get("rollingUpdate")
    if ut == "RollingUpdate":
        if not isinstance(ru, dict):
            errs.append(required("spec.updateStrategy.rollingUpdate"))
        else:
            rp = "spec.updateStrategy.rollingUpdate"
            mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
            errs.extend(_positive_int_or_percent(mu, _c(rp, "maxUnavailable")))
            errs.extend(_positive_int_or_percent(ms, _c(rp, "maxSurge")))
            errs.extend(_not_more_than_100(mu, _c(rp, "maxUnavailable")))
            errs.extend(_not_more_than_100(ms, _c(rp, "maxSurge")))
            has_u, has_s = _int_or_percent_value(mu) != 0, _int_or_percent_value(ms) != 0
            if has_u and has_s:
                errs.append(invalid(_c(rp, "maxSurge"), Go(go_intstr(ms)), "may not be set when maxUnavailable is "
                                                                           "non-zero"))
            elif not has_u and not has_s:
                errs.append(required(_c(rp, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    elif ut != "OnDelete":
        errs.append(not_supported("spec.updateStrategy", Go(
            f"apps.DaemonSetUpdateStrategy{{Type:{goq(ut)}, RollingUpdate:{_ptr(ru, 'apps.RollingUpdateDaemonSet')}}}"),
            ["RollingUpdate", "OnDelete"]))
    if spec.get("revisionHistoryLimit") is not None:
        errs.extend(_nonneg(spec["revisionHistoryLimit"], "spec.revisionHistoryLimit"))
    return errs


def _daemonset(ds: Obj) -> list[Cause]:
    errs = validate_object_meta(ds, True, name_is_dns_subdomain)
    errs.extend(_daemonset_spec(_dd(ds.get("spec"))))
    return errs


def _daemonset_update(ds: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(ds, old)
    errs.extend(_daemonset_spec(_dd(ds.get("spec"))))
    errs.extend(_selector_immutable(ds, old))
    return errs


def _ds_status(ds: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(ds, old)
    st = _dd(ds.get("status"))
    for k in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
              "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
              "collisionCount"):
        errs.extend(_nonneg(st.get(k, 0), f"status.{k}"))
    errs.extend(_collision_decrement(st, _dd(old.get("status"))))
    return errs


def _controllerrevision(cr: Obj) -> list[Cause]:
    errs = validate_object_meta(cr, True, name_is_dns_subdomain)
    if cr.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    errs.extend(_nonneg(cr.get("revision", 0), "revision"))
    return errs


def _controllerrevision_update(cr: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(cr, old)
    errs.extend(_controllerrevision(cr))
    if not dflt.semantic_equal(cr.get("data"), old.get("data")):
        errs.append(invalid("data", Go("runtime.RawExtension{...}"), "field is immutable"))
    return errs


# --------------------------------------------------------------------------------------------
# batch (pkg/apis/batch/validation)
# --------------------------------------------------------------------------------------------

_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
_JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
_MAX_PARALLELISM_INDEXED = 100_000
_MAX_FAILED_INDEXES = 100_000
_COMPLETIONS_SOFT_LIMIT = 100_000
_PARALLELISM_HIGH_COMPLETIONS = 10_000
_re_tz_part = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def cron_parse_error(spec: str) -> str | None:
    """The error robfig/cron/v3 ParseStandard returns for `spec` (None when it parses); the parser is
    the one the CronJob controller schedules with (kubeling.api.cron)."""
    from kubeling.api.cron import CronError, parse_standard

    try:
        parse_standard(spec)
    except CronError as e:
        return str(e)
    return None


def _tz_error(tz: str) -> str | None:
    """time.LoadLocation's error for an IANA name, or None."""
    import zoneinfo
    if tz in ("UTC", ""):
        return None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {tz}"
    return None


def _has_label(tpl_meta: Obj, key: str, expected: str) -> list[Cause]:
    """ValidateHasLabel on spec.template.metadata."""
    labels = _dd(tpl_meta.get("labels"))
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        return [required(path, expected)]
    if labels[key] != expected:
        return [invalid(path, Go(go_map(labels)), f"must be '{expected}'")]
    return []


def _job_generated_selector(job: Obj, prefixed: bool) -> list[Cause]:
    spec = _dd(job.get("spec"))
    if spec.get("manualSelector") or not isinstance(spec.get("selector"), dict):
        return []
    meta = _dd(job.get("metadata"))
    uid, name = meta.get("uid") or "", meta.get("name") or ""
    errs: list[Cause] = []
    if not uid:
        errs.append(required("metadata.uid"))
    tmeta = _dd(_dd(spec.get("template")).get("metadata"))
    errs.extend(_has_label(tmeta, _JOB_UID_LABELS[0], uid))
    errs.extend(_has_label(tmeta, _JOB_NAME_LABELS[0], name))
    idx = 1 if prefixed else 0
    if prefixed:
        errs.extend(_has_label(tmeta, _JOB_UID_LABELS[1], uid))
        errs.extend(_has_label(tmeta, _JOB_NAME_LABELS[1], name))
    expected = {_JOB_UID_LABELS[idx]: uid, _JOB_NAME_LABELS[idx]: name}
    sel = spec["selector"]
    if selector_convertible(sel) and not selector_matches(sel, expected):
        errs.append(invalid("spec.selector", Go(go_selector(sel)), "`selector` not auto-generated"))
    return errs


_PFP_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]


def _pod_failure_policy(spec: Obj, path: str) -> list[Cause]:
    """validatePodFailurePolicy (rule shape; container names checked against the template)."""
    errs: list[Cause] = []
    rules = spec["podFailurePolicy"].get("rules")
    rules = rules if isinstance(rules, list) else []
    if len(rules) > 20:
        errs.append(too_many(_c(path, "rules"), len(rules), 20))
    names = {c.get("name") for k in ("containers", "initContainers")
             for c in _dl(_dd(_dd(spec.get("template")).get("spec")).get(k))}
    for i, r in enumerate(_dl(rules)):
        rp = f"{path}.rules[{i}]"
        action = r.get("action") or ""
        if action not in _PFP_ACTIONS:
            errs.append(not_supported(f"{rp}.action", action, _PFP_ACTIONS))
        elif action == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            errs.append(forbidden(f"{rp}.action", "requires the backoffLimitPerIndex to be set"))
        exit_codes, conds = r.get("onExitCodes"), r.get("onPodConditions")
        if exit_codes is not None and conds is not None:
            errs.append(invalid(rp, Go("batch.PodFailurePolicyRule{...}"),
                                "specifying both OnExitCodes and OnPodConditions is not supported"))
        elif exit_codes is None and conds is None:
            errs.append(invalid(rp, Go("batch.PodFailurePolicyRule{...}"),
                                "specifying one of OnExitCodes and OnPodConditions is required"))
        if isinstance(exit_codes, dict):
            ep = f"{rp}.onExitCodes"
            cname = exit_codes.get("containerName")
            if cname is not None and cname not in names:
                errs.append(invalid(f"{ep}.containerName", cname,
                                    "must be one of the container or initContainer names in the pod template"))
            op = exit_codes.get("operator") or ""
            if op not in ("In", "NotIn"):
                errs.append(not_supported(f"{ep}.operator", op, ["In", "NotIn"]))
            values = exit_codes.get("values") if isinstance(exit_codes.get("values"), list) else []
            if not values:
                errs.append(invalid(f"{ep}.values", Go(go_strs(values, "[]int32")), "at least one value is required"))
            elif len(values) > 255:
                errs.append(too_many(f"{ep}.values", len(values), 255))
            prev = None
            for j, v in enumerate(values):
                if op == "In" and v == 0:
                    errs.append(invalid(f"{ep}.values[{j}]", v, "must not be 0 for the In operator"))
                if prev is not None and v == prev:
                    errs.append(duplicate(f"{ep}.values[{j}]", v))
                elif prev is not None and isinstance(v, int) and isinstance(prev, int) and v < prev:
                    errs.append(invalid(f"{ep}.values[{j}]", v, "must be ordered"))
                prev = v
        for j, pat in enumerate(_dl(conds)):
            cp = f"{rp}.onPodConditions[{j}]"
            st = pat.get("status") or ""
            if st not in ("True", "False", "Unknown"):
                errs.append(not_supported(f"{cp}.status", st, ["False", "True", "Unknown"]))
            errs.extend(_qualified(pat.get("type") or "", f"{cp}.type"))
    return errs


def _success_policy(spec: Obj, path: str) -> list[Cause]:
    """validateSuccessPolicy (Indexed jobs only; rule shape)."""
    errs: list[Cause] = []
    if spec.get("completionMode") != "Indexed":
        return [invalid(path, Go("batch.SuccessPolicy{...}"), "requires indexed completion mode")]
    rules = _dd(spec.get("successPolicy")).get("rules")
    rules = rules if isinstance(rules, list) else []
    if not rules:
        errs.append(required(_c(path, "rules"), "at least one rules must be specified when the successPolicy is "
                                                "specified"))
    if len(rules) > 20:
        errs.append(too_many(_c(path, "rules"), len(rules), 20))
    completions = spec.get("completions") or 0
    for i, r in enumerate(_dl(rules)):
        rp = f"{path}.rules[{i}]"
        idx, cnt = r.get("succeededIndexes"), r.get("succeededCount")
        if idx is None and cnt is None:
            errs.append(required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
        total = None
        if isinstance(idx, str):
            if len(idx) > 64 * 1024:
                errs.append(too_long(f"{rp}.succeededIndexes", 64 * 1024))
            total, msg = _parse_index_intervals(idx, completions)
            if msg:
                errs.append(invalid(f"{rp}.succeededIndexes", idx,
                                    f"error parsing succeededIndexes: {idx}, {msg}"))
        if isinstance(cnt, int):
            if cnt < 0:
                errs.append(invalid(f"{rp}.succeededCount", cnt, "must be greater than or equal to 0"))
            elif cnt > completions:
                errs.append(invalid(f"{rp}.succeededCount", cnt,
                                    f"must be less than or equal to {completions} (the number of specified completions)"))
            elif total is not None and cnt > total:
                errs.append(invalid(f"{rp}.succeededCount", cnt,
                                    f"must be less than or equal to {total} (the number of indexes in the "
                                    "specified succeededIndexes field)"))
    return errs


def _parse_index_intervals(s: str, completions: int) -> tuple[int, str]:
    """(count of indexes, error text) for a "1,3-5,7" interval list bounded by completions."""
    total, prev_end = 0, -1
    for part in s.split(","):
        bounds = part.split("-")
        try:
            if len(bounds) > 2:
                raise ValueError
            lo = int(bounds[0])
            hi = int(bounds[1]) if len(bounds) == 2 else lo
        except ValueError:
            return total, f'cannot convert string to integer for index: "{part}"'
        if lo < 0 or hi >= completions:
            return total, f"too large index: {part}"
        if hi < lo:
            return total, f"non-increasing order, previous: {lo}, current: {hi}"
        if lo <= prev_end:
            return total, f"overlapping intervals, previous: {prev_end}, current: {lo}"
        total += hi - lo + 1
        prev_end = hi
    return total, ""


def _job_spec_fields(spec: Obj, path: str) -> list[Cause]:
    """validateJobSpec: everything but the selector (shared with CronJob's jobTemplate)."""
    errs: list[Cause] = []
    for k in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
              "backoffLimitPerIndex"):
        if spec.get(k) is not None:
            errs.extend(_nonneg(spec[k], _c(path, k)))
    if spec.get("maxFailedIndexes") is not None:
        errs.extend(_nonneg(spec["maxFailedIndexes"], _c(path, "maxFailedIndexes")))
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(required(_c(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    managed_by = spec.get("managedBy")
    if isinstance(managed_by, str):
        if "/" not in managed_by or not managed_by.split("/", 1)[0] or not managed_by.split("/", 1)[1]:
            errs.append(invalid(_c(path, "managedBy"), managed_by, "must be a domain-prefixed path (such as "
                                                                   "\"acme.io/foo\")"))
        if len(managed_by) > 63:
            errs.append(too_long(_c(path, "managedBy"), 63))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(not_supported(_c(path, "completionMode"), mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            comp, par = spec.get("completions"), spec.get("parallelism")
            if comp is None:
                errs.append(required(_c(path, "completions"), "when completion mode is Indexed"))
            if isinstance(par, int) and par > _MAX_PARALLELISM_INDEXED:
                errs.append(invalid(_c(path, "parallelism"), par, f"must be less than or equal to "
                                                                  f"{_MAX_PARALLELISM_INDEXED} when completion mode "
                                                                  "is Indexed"))
            mfi = spec.get("maxFailedIndexes")
            if isinstance(comp, int) and isinstance(mfi, int) and mfi > comp:
                errs.append(invalid(_c(path, "maxFailedIndexes"), mfi, "must be less than or equal to completions"))
            if isinstance(mfi, int) and mfi > _MAX_FAILED_INDEXES:
                errs.append(invalid(_c(path, "maxFailedIndexes"), mfi,
                                    f"must be less than or equal to {_MAX_FAILED_INDEXES}"))
            if (isinstance(comp, int) and spec.get("backoffLimitPerIndex") is not None
                    and comp > _COMPLETIONS_SOFT_LIMIT and isinstance(par, int)
                    and par > _PARALLELISM_HIGH_COMPLETIONS):
                errs.append(invalid(_c(path, "parallelism"), par,
                                    f"must be less than or equal to {_PARALLELISM_HIGH_COMPLETIONS} when completions "
                                    f"are above {_COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"))
    if mode in (None, "NonIndexed"):
        for k in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(k) is not None:
                errs.append(invalid(_c(path, k), spec[k], "requires indexed completion mode"))
    if isinstance(spec.get("podFailurePolicy"), dict):
        errs.extend(_pod_failure_policy(spec, _c(path, "podFailurePolicy")))
    if isinstance(spec.get("successPolicy"), dict):
        errs.extend(_success_policy(spec, _c(path, "successPolicy")))
    prp = spec.get("podReplacementPolicy")
    if prp is not None:
        if prp not in ("TerminatingOrFailed", "Failed"):
            errs.append(not_supported(_c(path, "podReplacementPolicy"), prp, ["Failed", "TerminatingOrFailed"]))
        elif prp == "TerminatingOrFailed" and spec.get("podFailurePolicy") is not None:
            errs.append(not_supported(_c(path, "podReplacementPolicy"), prp, ["Failed"]))
    tpl = _dd(spec.get("template"))
    errs.extend(validate_pod_template_spec(tpl, _c(path, "template")))
    rp = _dd(tpl.get("spec")).get("restartPolicy") or ""
    rpath = _c(path, "template.spec.restartPolicy")
    if rp in ("Always", ""):
        errs.append(required(rpath, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(not_supported(rpath, rp, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and rp != "Never":
        errs.append(invalid(rpath, rp, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _job_spec(spec: Obj) -> list[Cause]:
    """ValidateJobSpec: the fields plus a non-empty selector matching the template."""
    errs = _job_spec_fields(spec, "spec")
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        errs.append(required("spec.selector"))
    else:
        errs.extend(validate_label_selector(sel, "spec.selector"))
    if isinstance(sel, dict) and selector_convertible(sel):
        if selector_empty(sel):
            errs.append(required("spec.selector"))
        labels = _dd(_dd(spec.get("template")).get("metadata")).get("labels")
        if not selector_matches(sel, labels):
            errs.append(invalid("spec.template.metadata.labels", Go(go_map(labels)),
                                "`selector` does not match template `labels`"))
    return errs


def _job_create(job: Obj, prefixed: bool = True) -> list[Cause]:
    errs = validate_object_meta(job, True, name_is_dns_subdomain)
    spec = _dd(job.get("spec"))
    comp = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(comp, int) and comp > 0:
        name = _dd(job.get("metadata")).get("name") or ""
        hostname = f"{name}-{comp - 1}"
        if is_dns1123_label(hostname):
            errs.append(invalid("metadata.name", name,
                                f"will not able to create pod with invalid DNS label: {hostname}"))
    errs.extend(_job_generated_selector(job, prefixed))
    errs.extend(_job_spec(spec))
    return errs


_JOB_SCHEDULING_FIELDS = ("nodeSelector", "tolerations", "schedulingGates", "affinity")


def _job_update(job: Obj, old: Obj) -> list[Cause]:
    """ValidateJobUpdate: completions (elastic Indexed jobs aside), selector and template are immutable."""
    errs = validate_object_meta_update(job, old)
    old_tmeta = _dd(_dd(_dd(old.get("spec")).get("template")).get("metadata"))
    prefixed = _JOB_UID_LABELS[1] in _dd(old_tmeta.get("labels"))
    errs.extend(_job_generated_selector(job, prefixed))
    spec, ospec = _dd(job.get("spec")), _dd(old.get("spec"))
    errs.extend(_job_spec(spec))
    comp, ocomp = spec.get("completions"), ospec.get("completions")
    if comp != ocomp:
        if spec.get("completionMode") != "Indexed":
            errs.append(invalid("spec.completions", comp, "field is immutable"))
        elif comp is not None and comp != spec.get("parallelism"):
            errs.append(invalid("spec.completions", comp, "can only be modified in tandem with spec.parallelism"))
    if not dflt.semantic_equal(spec.get("selector"), ospec.get("selector")):
        sel = spec.get("selector")
        errs.append(invalid("spec.selector", Go(go_selector(sel)) if isinstance(sel, dict) else None,
                            "field is immutable"))
    tpl, otpl = _dd(spec.get("template")), _dd(ospec.get("template"))
    if ospec.get("suspend") and not _dd(old.get("status")).get("startTime"):
        # Mutable scheduling directives: a suspended job that never started may change where it runs.
        tspec, otspec = _dd(tpl.get("spec")), _dd(otpl.get("spec"))
        tpl = {**tpl, "metadata": {k: v for k, v in _dd(tpl.get("metadata")).items()
                                   if k not in ("labels", "annotations")},
               "spec": {k: v for k, v in tspec.items() if k not in _JOB_SCHEDULING_FIELDS}}
        otpl = {**otpl, "metadata": {k: v for k, v in _dd(otpl.get("metadata")).items()
                                     if k not in ("labels", "annotations")},
                "spec": {k: v for k, v in otspec.items() if k not in _JOB_SCHEDULING_FIELDS}}
    if not dflt.semantic_equal(tpl, otpl):
        errs.append(invalid("spec.template", Go("core.PodTemplateSpec{...}"), "field is immutable"))
    for k, typ in (("completionMode", "*batch.CompletionMode"), ("podFailurePolicy", "*batch.PodFailurePolicy"),
                   ("backoffLimitPerIndex", "*int32"), ("managedBy", "*string"),
                   ("successPolicy", "*batch.SuccessPolicy")):
        if not dflt.semantic_equal(spec.get(k), ospec.get(k)):
            v = spec.get(k)
            errs.append(invalid(f"spec.{k}", v if isinstance(v, (str, int)) or v is None else Go(f"&{typ[1:]}{{...}}"),
                                "field is immutable"))
    return errs


def _job_status(job: Obj, old: Obj) -> list[Cause]:
    """ValidateJobUpdateStatus: counters non-negative (the v1.32 transition rules are not all mirrored)."""
    errs = validate_object_meta_update(job, old)
    st = _dd(job.get("status"))
    for k in ("active", "succeeded", "failed", "ready", "terminating"):
        if st.get(k) is not None:
            errs.extend(_nonneg(st[k], f"status.{k}"))
    ost = _dd(old.get("status"))
    if ost.get("completionTime") and st.get("completionTime") != ost.get("completionTime"):
        errs.append(invalid("status.completionTime", st.get("completionTime"), "field is immutable"))
    return errs


def _job_template_spec(jt: Obj, path: str) -> list[Cause]:
    spec = _dd(jt.get("spec"))
    errs = _job_spec_fields(spec, _c(path, "spec"))
    if spec.get("selector") is not None:
        errs.append(invalid(_c(path, "spec.selector"), Go(go_selector(spec["selector"])),
                            "`selector` will be auto-generated"))
    if spec.get("manualSelector"):
        errs.append(not_supported(_c(path, "spec.manualSelector"), Go("true"), ["nil", "false"]))
    return errs


def _cronjob_spec(spec: Obj, old: Obj | None) -> list[Cause]:
    errs: list[Cause] = []
    sched = spec.get("schedule") or ""
    if not sched:
        errs.append(required("spec.schedule"))
    else:
        allow_tz = old is not None and "TZ" in (old.get("schedule") or "")
        msg = cron_parse_error(sched)
        if msg:
            errs.append(invalid("spec.schedule", sched, msg))
        if allow_tz and "TZ" in sched and spec.get("timeZone") is not None:
            errs.append(invalid("spec.schedule", sched, "cannot use both timeZone field and TZ or CRON_TZ in "
                                                        "schedule"))
        elif not allow_tz and "TZ" in sched:
            errs.append(invalid("spec.schedule", sched, "cannot use TZ or CRON_TZ in schedule, use timeZone field "
                                                        "instead"))
    if spec.get("startingDeadlineSeconds") is not None:
        errs.extend(_nonneg(spec["startingDeadlineSeconds"], "spec.startingDeadlineSeconds"))
    tz = spec.get("timeZone")
    if tz is not None and (old is None or old.get("timeZone") != tz):
        errs.extend(_time_zone(tz))
    cp = spec.get("concurrencyPolicy") or ""
    if not cp:
        errs.append(required("spec.concurrencyPolicy"))
    elif cp not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]))
    errs.extend(_job_template_spec(_dd(spec.get("jobTemplate")), "spec.jobTemplate"))
    for k in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.get(k) is not None:
            errs.extend(_nonneg(spec[k], f"spec.{k}"))
    return errs


def _time_zone(tz: Any) -> list[Cause]:
    path = "spec.timeZone"
    if not isinstance(tz, str) or not tz:
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _re_tz_part.fullmatch(part):
            return [invalid(path, tz, f"unknown time zone {tz}")]
    errs: list[Cause] = []
    if tz.lower() == "local":
        errs.append(invalid(path, tz, "timeZone must be an explicit time zone as defined in "
                                      "https://www.iana.org/time-zones"))
    msg = _tz_error(tz) if tz.lower() != "local" else None
    if msg:
        errs.append(invalid(path, tz, msg))
    return errs


def _cronjob_create(cj: Obj) -> list[Cause]:
    errs = validate_object_meta(cj, True, name_is_dns_subdomain)
    errs.extend(_cronjob_spec(_dd(cj.get("spec")), None))
    name = _dd(cj.get("metadata")).get("name") or ""
    if len(name) > 52:
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs


def _cronjob_update(cj: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(cj, old)
    errs.extend(_cronjob_spec(_dd(cj.get("spec")), _dd(old.get("spec"))))
    return errs


# --------------------------------------------------------------------------------------------
# storage.k8s.io, coordination.k8s.io, discovery.k8s.io
# --------------------------------------------------------------------------------------------

def _storageclass(sc: Obj) -> list[Cause]:
    errs = validate_object_meta(sc, False, name_is_dns_subdomain)
    prov = sc.get("provisioner") or ""
    if not prov:
        errs.append(required("provisioner"))
    else:
        errs.extend(_qualified(prov.lower(), "provisioner"))
    params = _dd(sc.get("parameters"))
    if len(params) > 512:
        errs.append(too_long("parameters", 512))
    else:
        size = 0
        for k, v in params.items():
            if not k:
                errs.append(invalid("parameters", k, "field can not be empty."))
            size += len(k) + len(str(v))
        if size > 256 * 1024:
            errs.append(too_long("parameters", 256 * 1024))
    rp = sc.get("reclaimPolicy")
    if rp and rp not in ("Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", rp, ["Delete", "Retain"]))
    vbm = sc.get("volumeBindingMode")
    if vbm is None:
        errs.append(required("volumeBindingMode"))
    elif vbm not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(not_supported("volumeBindingMode", vbm, ["Immediate", "WaitForFirstConsumer"]))
    return errs


def _storageclass_update(sc: Obj, old: Obj) -> list[Cause]:
    errs = _storageclass(sc)
    errs.extend(validate_object_meta_update(sc, old))
    if (sc.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(forbidden("parameters", "updates to parameters are forbidden."))
    if sc.get("provisioner") != old.get("provisioner"):
        errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if sc.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if sc.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errs.append(invalid("volumeBindingMode", sc.get("volumeBindingMode"), "field is immutable"))
    return errs


def _lease_spec(spec: Obj) -> list[Cause]:
    errs: list[Cause] = []
    lds = spec.get("leaseDurationSeconds")
    if isinstance(lds, int) and lds <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", lds, "must be greater than 0"))
    lt = spec.get("leaseTransitions")
    if isinstance(lt, int) and lt < 0:
        errs.append(invalid("spec.leaseTransitions", lt, "must be greater than or equal to 0"))
    return errs


def _lease(lease: Obj) -> list[Cause]:
    errs = validate_object_meta(lease, True, name_is_dns_subdomain)
    errs.extend(_lease_spec(_dd(lease.get("spec"))))
    return errs


def _lease_update(lease: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(lease, old)
    errs.extend(_lease_spec(_dd(lease.get("spec"))))
    return errs


def _endpointslice(eps: Obj) -> list[Cause]:
    errs = validate_object_meta(eps, True, name_is_dns_subdomain)
    addr_type = eps.get("addressType") or ""
    endpoints = eps.get("endpoints") if isinstance(eps.get("endpoints"), list) else []
    if len(endpoints) > 1000:
        errs.append(too_many("endpoints", len(endpoints), 1000))
    else:
        for i, ep in enumerate(_dl(endpoints)):
            ip = f"endpoints[{i}]"
            addrs = ep.get("addresses") or []
            if not addrs:
                errs.append(required(_c(ip, "addresses"), "must contain at least 1 address"))
            elif len(addrs) > 100:
                errs.append(too_many(_c(ip, "addresses"), len(addrs), 100))
            for j, a in enumerate(addrs):
                ap = f"{ip}.addresses[{j}]"
                if addr_type in ("IPv4", "IPv6"):
                    parsed = _parse_ip(a)
                    want = ipaddress.IPv4Address if addr_type == "IPv4" else ipaddress.IPv6Address
                    if not isinstance(parsed, want):
                        errs.append(invalid(ap, a, f"must be a valid {addr_type} address"))
                    else:
                        errs.extend(_non_special_ip(a, ap))
                elif addr_type == "FQDN":
                    name = str(a).removesuffix(".")
                    msgs = is_dns1123_subdomain(name)
                    if msgs:
                        errs.append(invalid(ap, name, ",".join(msgs)))
                    elif len(name.split(".")) < 2:
                        errs.append(invalid(ap, name, "should be a domain with at least two segments separated by "
                                                      "dots"))
            if ep.get("nodeName") is not None:
                errs.extend(invalid(_c(ip, "nodeName"), ep["nodeName"], m)
                            for m in name_is_dns_subdomain(ep["nodeName"], False))
            topo = _dd(ep.get("deprecatedTopology"))
            if len(topo) > 16:
                errs.append(too_many(_c(ip, "deprecatedTopology"), len(topo), 16))
            errs.extend(validate_labels(topo, _c(ip, "deprecatedTopology")))
            if ep.get("zone") is not None:
                errs.extend(validate_label_name(ep["zone"], _c(ip, "zone")))
            if ep.get("hostname") is not None:
                errs.extend(_dns_label(ep["hostname"], _c(ip, "hostname")))
    ports = eps.get("ports") if isinstance(eps.get("ports"), list) else []
    if len(ports) > 20000:
        errs.append(too_many("ports", len(ports), 20000))
        return errs
    names: set[str] = set()
    for i, p in enumerate(_dl(ports)):
        pp = f"ports[{i}]"
        name = p.get("name") or ""
        if name:
            errs.extend(_dns_label(name, _c(pp, "name")))
        if name in names:
            errs.append(duplicate(_c(pp, "name"), name))
        else:
            names.add(name)
        proto = p.get("protocol")
        if proto is None:
            errs.append(required(_c(pp, "protocol")))
        elif proto not in _PROTOCOLS:
            errs.append(not_supported(_c(pp, "protocol"), proto, _PROTOCOLS))
        if p.get("appProtocol") is not None:
            errs.extend(_qualified(p["appProtocol"], _c(pp, "appProtocol")))
    return errs


def _endpointslice_create(eps: Obj) -> list[Cause]:
    errs = _endpointslice(eps)
    at = eps.get("addressType") or ""
    if not at:
        errs.append(required("addressType"))
    elif at not in ("FQDN", "IPv4", "IPv6"):
        errs.append(not_supported("addressType", at, ["FQDN", "IPv4", "IPv6"]))
    return errs


def _endpointslice_update(eps: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(eps, old)
    errs.extend(_endpointslice(eps))
    if (eps.get("addressType") or "") != (old.get("addressType") or ""):
        errs.append(invalid("addressType", eps.get("addressType") or "", "field is immutable"))
    return errs


# --------------------------------------------------------------------------------------------
# policy/v1 PodDisruptionBudget (pkg/apis/policy/validation) and metav1.Condition lists
# --------------------------------------------------------------------------------------------

_UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
_CONDITION_REASON_FMT = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_re_condition_reason = re.compile(_CONDITION_REASON_FMT)


def validate_conditions(conds: Any, path: str) -> list[Cause]:
    """metav1validation.ValidateConditions: the []metav1.Condition rules every status shares."""
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(_dl(conds)):
        p = f"{path}[{i}]"
        ctype = str(c.get("type") or "")
        if ctype in seen:
            errs.append(duplicate(_c(p, "type"), ctype))
        seen.add(ctype)
        errs.extend(validate_label_name(ctype, _c(p, "type")))
        if c.get("status") not in ("True", "False", "Unknown"):
            errs.append(not_supported(_c(p, "status"), str(c.get("status") or ""), ["False", "True", "Unknown"]))
        og = c.get("observedGeneration")
        if isinstance(og, int) and og < 0:
            errs.append(invalid(_c(p, "observedGeneration"), og, "must be greater than or equal to zero"))
        if not c.get("lastTransitionTime"):
            errs.append(required(_c(p, "lastTransitionTime"), "must be set"))
        reason = str(c.get("reason") or "")
        if not reason:
            errs.append(required(_c(p, "reason"), "must be set"))
        else:
            if not _re_condition_reason.fullmatch(reason):
                errs.append(invalid(_c(p, "reason"), reason, regex_error(
                    "a condition reason must start with alphabetic character, optionally followed by a string of "
                    "alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'",
                    _CONDITION_REASON_FMT, "my_name", "MY_NAME", "MyName", "ReasonA,ReasonB", "ReasonA:ReasonB")))
            if len(reason) > 1024:
                errs.append(too_long(_c(p, "reason"), 1024))
        if len(str(c.get("message") or "")) > 32 * 1024:
            errs.append(too_long(_c(p, "message"), 32 * 1024))
    return errs


def _go_pdb_spec(spec: Obj) -> str:
    """%#v of the internal policy.PodDisruptionBudgetSpec (its fields are pointers)."""
    return ("policy.PodDisruptionBudgetSpec{"
            f"MinAvailable:{_ptr(spec.get('minAvailable'), 'intstr.IntOrString')}, "
            f"Selector:{_ptr(spec.get('selector'), 'v1.LabelSelector')}, "
            f"MaxUnavailable:{_ptr(spec.get('maxUnavailable'), 'intstr.IntOrString')}, "
            "UnhealthyPodEvictionPolicy:"
            f"{_ptr(spec.get('unhealthyPodEvictionPolicy'), 'policy.UnhealthyPodEvictionPolicyType')}}}")


def _pdb(pdb: Obj) -> list[Cause]:
    """ValidatePodDisruptionBudget (the strategy validates only the spec; metadata is generic)."""
    spec = _dd(pdb.get("spec"))
    errs: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid("spec", Go(_go_pdb_spec(spec)), "minAvailable and maxUnavailable cannot be both set"))
    for k in ("minAvailable", "maxUnavailable"):
        if spec.get(k) is not None:
            errs.extend(_positive_int_or_percent(spec[k], f"spec.{k}"))
            errs.extend(_not_more_than_100(spec[k], f"spec.{k}"))
    errs.extend(validate_label_selector(spec.get("selector"), "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in _UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, _UNHEALTHY_POD_EVICTION_POLICIES))
    return errs


def _pdb_update(pdb: Obj, old: Obj) -> list[Cause]:
    return _pdb(pdb)


def _pdb_status(pdb: Obj, old: Obj) -> list[Cause]:
    """ValidatePodDisruptionBudgetStatusUpdate for policy/v1."""
    st = _dd(pdb.get("status"))
    errs = validate_conditions(st.get("conditions"), "status.conditions")
    for k in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        errs.extend(_nonneg(st.get(k), f"status.{k}"))
    return errs


def _hpa_ref(ref: Any, path: str) -> list[Cause]:
    """ValidateCrossVersionObjectReference: kind and name required, each a valid path segment."""
    ref = _dd(ref)
    errs: list[Cause] = []
    for k in ("kind", "name"):
        v = ref.get(k) or ""
        if not v:
            errs.append(required(_c(path, k)))
        else:
            errs.extend(invalid(_c(path, k), v, m) for m in name_is_path_segment(v, False))
    return errs


def _hpa_metric_target(mt: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    typ = mt.get("type") or ""
    if not typ:
        errs.append(required(_c(path, "type"), "must specify a metric target type"))
    if typ not in ("Utilization", "Value", "AverageValue"):
        errs.append(invalid(_c(path, "type"), typ, "must be either Utilization, Value, or AverageValue"))
    for k in ("value", "averageValue"):
        v = _qty(mt.get(k)) if mt.get(k) is not None else None
        if v is not None and v <= 0:
            errs.append(invalid(_c(path, k), str(mt[k]), "must be positive"))
    au = mt.get("averageUtilization")
    if isinstance(au, int) and au < 1:
        errs.append(invalid(_c(path, "averageUtilization"), au, "must be greater than 0"))
    return errs


def _hpa_metric_ident(m: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not m.get("name"):
        errs.append(required(_c(path, "name"), "must specify a metric name"))
    if m.get("selector") is not None:
        errs.extend(validate_label_selector(m["selector"], _c(path, "selector")))
    return errs


def _hpa_source(key: str, src: Obj, path: str) -> list[Cause]:
    """validate{Object,Pods,Resource,ContainerResource,External}Source of autoscaling/v2."""
    errs: list[Cause] = []
    tgt = _dd(src.get("target"))
    tpath = _c(path, "target")
    if key in ("resource", "containerResource"):
        if not src.get("name"):
            errs.append(required(_c(path, "name"), "must specify a resource name"))
        if key == "containerResource" and not src.get("container"):
            errs.append(required(_c(path, "container"), "must specify a container"))
        errs.extend(_hpa_metric_target(tgt, tpath))
        if tgt.get("averageUtilization") is None and tgt.get("averageValue") is None:
            errs.append(required(_c(tpath, "averageUtilization"),
                                 "must set either a target raw value or a target utilization"))
        if tgt.get("averageUtilization") is not None and tgt.get("averageValue") is not None:
            errs.append(forbidden(_c(tpath, "averageValue"),
                                  "may not set both a target raw value and a target utilization"))
        return errs
    if key == "object":
        errs.extend(_hpa_ref(src.get("describedObject"), _c(path, "describedObject")))
    errs.extend(_hpa_metric_ident(_dd(src.get("metric")), _c(path, "metric")))
    errs.extend(_hpa_metric_target(tgt, tpath))
    if key == "pods":
        if tgt.get("averageValue") is None:
            errs.append(required(_c(tpath, "averageValue"), "must specify a positive target averageValue"))
    elif tgt.get("value") is None and tgt.get("averageValue") is None:
        errs.append(required(_c(tpath, "value"), "must set either a target value or averageValue"))
    return errs


_HPA_SOURCES = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
                "ContainerResource": "containerResource"}


def _hpa_metric(m: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    typ = m.get("type") or ""
    if not typ:
        errs.append(required(_c(path, "type"), "must specify a metric source type"))
    if typ not in _HPA_SOURCES:
        errs.append(not_supported(_c(path, "type"), typ, sorted(_HPA_SOURCES)))
    present = [k for k in ("object", "pods", "resource", "external", "containerResource") if m.get(k) is not None]
    if present:
        errs.extend(_hpa_source(present[0], _dd(m[present[0]]), _c(path, present[0])))
    expected = _HPA_SOURCES.get(typ, typ.lower())
    if expected not in present:
        errs.append(required(_c(path, expected), "must populate information for the given metric source"))
    if len(present) != 1:
        for k in present:
            if k != expected:
                errs.append(forbidden(_c(path, k), "must populate the given metric source only"))
    return errs


def _hpa_rules(rules: Any, path: str) -> list[Cause]:
    if not isinstance(rules, dict):
        return []
    errs: list[Cause] = []
    sw = rules.get("stabilizationWindowSeconds")
    if isinstance(sw, int):
        if sw < 0:
            errs.append(invalid(_c(path, "stabilizationWindowSeconds"), sw, "must be greater than or equal to zero"))
        if sw > 3600:
            errs.append(invalid(_c(path, "stabilizationWindowSeconds"), sw, "must be less than or equal to 3600"))
    sp = rules.get("selectPolicy")
    if sp is not None and sp not in ("Disabled", "Max", "Min"):
        errs.append(not_supported(_c(path, "selectPolicy"), sp, ["Disabled", "Max", "Min"]))
    pp = _c(path, "policies")
    pols = _dl(rules.get("policies"))
    if not pols:
        errs.append(required(pp, "must specify at least one Policy"))
    for i, pol in enumerate(pols):
        ip = f"{pp}[{i}]"
        if pol.get("type") not in ("Pods", "Percent"):
            errs.append(not_supported(_c(ip, "type"), pol.get("type") or "", ["Percent", "Pods"]))
        if (pol.get("value") or 0) <= 0:
            errs.append(invalid(_c(ip, "value"), pol.get("value") or 0, "must be greater than zero"))
        ps = pol.get("periodSeconds") or 0
        if ps <= 0:
            errs.append(invalid(_c(ip, "periodSeconds"), ps, "must be greater than zero"))
        if ps > 1800:
            errs.append(invalid(_c(ip, "periodSeconds"), ps, "must be less than or equal to 1800"))
    return errs


def _hpa_spec(spec: Obj) -> list[Cause]:
    """validateHorizontalPodAutoscalerSpec (autoscaling/v2, HPAScaleToZero off: minReplicas >= 1)."""
    errs: list[Cause] = []
    mn, mx = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if isinstance(mn, int) and mn < 1:
        errs.append(invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))
    if mx < 1:
        errs.append(invalid("spec.maxReplicas", mx, "must be greater than 0"))
    if isinstance(mn, int) and mx < mn:
        errs.append(invalid("spec.maxReplicas", mx, "must be greater than or equal to `minReplicas`"))
    errs.extend(_hpa_ref(spec.get("scaleTargetRef"), "spec.scaleTargetRef"))
    for i, m in enumerate(_dl(spec.get("metrics"))):
        errs.extend(_hpa_metric(m, f"spec.metrics[{i}]"))
    b = spec.get("behavior")
    if isinstance(b, dict):
        errs.extend(_hpa_rules(b.get("scaleUp"), "spec.behavior.scaleUp"))
        errs.extend(_hpa_rules(b.get("scaleDown"), "spec.behavior.scaleDown"))
    return errs


def _hpa(hpa: Obj) -> list[Cause]:
    errs = validate_object_meta(hpa, True, name_is_dns_subdomain)
    errs.extend(_hpa_spec(_dd(hpa.get("spec"))))
    return errs


def _hpa_update(hpa: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(hpa, old)
    errs.extend(_hpa_spec(_dd(hpa.get("spec"))))
    return errs


def _hpa_status(hpa: Obj, old: Obj) -> list[Cause]:
    """ValidateHorizontalPodAutoscalerStatusUpdate (upstream's path typo "desiredReplicasa" included)."""
    st = _dd(hpa.get("status"))
    errs = validate_object_meta_update(hpa, old)
    errs.extend(_nonneg(st.get("currentReplicas"), "status.currentReplicas"))
    errs.extend(_nonneg(st.get("desiredReplicas"), "status.desiredReplicasa"))
    return errs


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------

Create = Callable[[Obj], list[Cause]]
Update = Callable[[Obj, Obj], list[Cause]]


def _meta_then(create: Create) -> Update:
    def update(new: Obj, old: Obj) -> list[Cause]:
        errs = validate_object_meta_update(new, old)
        errs.extend(create(new))
        return errs
    return update


def _node_full_update(node: Obj, old: Obj) -> list[Cause]:
    return _node(node) + _node_update(node, old)


def _meta_only_update(new: Obj, old: Obj) -> list[Cause]:
    return validate_object_meta_update(new, old)


# --------------------------------------------------------------------------------------------
# rbac.authorization.k8s.io (pkg/apis/rbac/validation)
# --------------------------------------------------------------------------------------------

_RBAC_GROUP = "rbac.authorization.k8s.io"


def _policy_rule(rule: Any, namespaced: bool, path: str) -> list[Cause]:
    r = _dd(rule)
    errs: list[Cause] = []
    if not r.get("verbs"):
        errs.append(required(_c(path, "verbs"), "verbs must contain at least one value"))
    urls = r.get("nonResourceURLs")
    if urls:
        if namespaced:
            errs.append(invalid(_c(path, "nonResourceURLs"), urls, "namespaced rules cannot apply to non-resource URLs"))
        if r.get("apiGroups") or r.get("resources") or r.get("resourceNames"):
            errs.append(invalid(_c(path, "nonResourceURLs"), urls,
                                "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not r.get("apiGroups"):
        errs.append(required(_c(path, "apiGroups"), "resource rules must supply at least one api group"))
    if not r.get("resources"):
        errs.append(required(_c(path, "resources"), "resource rules must supply at least one resource"))
    return errs


def _rbac_role(role: Obj, namespaced: bool) -> list[Cause]:
    errs = validate_object_meta(role, namespaced, name_is_path_segment)
    for i, rule in enumerate(_dl(role.get("rules"))):
        errs.extend(_policy_rule(rule, namespaced, f"rules[{i}]"))
    agg = role.get("aggregationRule")
    if not namespaced and isinstance(agg, dict):
        sels = _dl(agg.get("clusterRoleSelectors"))
        if not sels:
            errs.append(required("aggregationRule.clusterRoleSelectors",
                                 "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, sel in enumerate(sels):
            errs.extend(validate_label_selector(sel, f"aggregationRule.clusterRoleSelectors[{i}]"))
    return errs


def _role(role: Obj) -> list[Cause]:
    return _rbac_role(role, True)


def _clusterrole(role: Obj) -> list[Cause]:
    return _rbac_role(role, False)


def _rbac_subject(subject: Any, namespaced: bool, path: str) -> list[Cause]:
    s = _dd(subject)
    errs: list[Cause] = []
    name = s.get("name") or ""
    if not name:
        errs.append(required(_c(path, "name")))
    kind = s.get("kind") or ""
    group = s.get("apiGroup") or ""
    if kind == "ServiceAccount":
        if name:
            errs.extend(invalid(_c(path, "name"), name, m) for m in name_is_dns_subdomain(name, False))
        if group:
            errs.append(not_supported(_c(path, "apiGroup"), group, [""]))
        if not namespaced and not s.get("namespace"):
            errs.append(required(_c(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != _RBAC_GROUP:
            errs.append(not_supported(_c(path, "apiGroup"), group, [_RBAC_GROUP]))
    else:
        errs.append(not_supported(_c(path, "kind"), kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _rbac_binding(b: Obj, namespaced: bool) -> list[Cause]:
    errs = validate_object_meta(b, namespaced, name_is_path_segment)
    ref = _dd(b.get("roleRef"))
    if (ref.get("apiGroup") or "") != _RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [_RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]  # cluster bindings only grant ClusterRoles
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name"))
    else:
        errs.extend(invalid("roleRef.name", ref["name"], m) for m in name_is_path_segment(ref["name"], False))
    for i, subject in enumerate(_dl(b.get("subjects"))):
        errs.extend(_rbac_subject(subject, namespaced, f"subjects[{i}]"))
    return errs


def _go_role_ref(ref: Any) -> Go:
    r = _dd(ref)
    return Go(f"rbac.RoleRef{{APIGroup:{goq(str(r.get('apiGroup') or ''))}, Kind:{goq(str(r.get('kind') or ''))}, "
              f"Name:{goq(str(r.get('name') or ''))}}}")


def _rbac_binding_update(b: Obj, old: Obj, namespaced: bool) -> list[Cause]:
    errs = _rbac_binding(b, namespaced)
    if _dd(b.get("roleRef")) != _dd(old.get("roleRef")):
        errs.append(invalid("roleRef", _go_role_ref(b.get("roleRef")), "cannot change roleRef"))
    return errs


def _rolebinding(b: Obj) -> list[Cause]:
    return _rbac_binding(b, True)


def _clusterrolebinding(b: Obj) -> list[Cause]:
    return _rbac_binding(b, False)


# --------------------------------------------------------------------------------------------
# networking.k8s.io (pkg/apis/networking/validation) and scheduling.k8s.io (pkg/apis/scheduling/validation)
# --------------------------------------------------------------------------------------------

_WILDCARD_SUBDOMAIN_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
_re_wildcard_subdomain = re.compile(_WILDCARD_SUBDOMAIN_FMT)
_WILDCARD_SUBDOMAIN_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
                           "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
                           "alphanumeric character")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_re_http_path = re.compile(_HTTP_PATH_FMT)
_INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
HIGHEST_USER_PRIORITY = 1000000000


def is_wildcard_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if _blen(v) > 253:
        errs.append(max_len_error(253))
    if not _re_wildcard_subdomain.fullmatch(v):
        errs.append(regex_error(_WILDCARD_SUBDOMAIN_MSG, _WILDCARD_SUBDOMAIN_FMT, "*.example.com"))
    return errs


def is_domain_prefixed_path(path: str, value: str) -> list[Cause]:
    """validation.IsDomainPrefixedPath ("acme.io/foo")."""
    if not value:
        return [required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if not _re_http_path.fullmatch(rest):
        errs.append(invalid(path, rest, regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


def _go_cidr(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """net.ParseCIDR: an address with a prefix length; host bits may be set."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _netpol_port(port: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    proto = port.get("protocol")
    if proto is not None and proto not in ("TCP", "UDP", "SCTP"):
        errs.append(not_supported(_c(path, "protocol"), proto, ["TCP", "UDP", "SCTP"]))
    p, end = port.get("port"), port.get("endPort")
    if p is not None:
        if isinstance(p, int) and not isinstance(p, bool):
            errs.extend(invalid(_c(path, "port"), p, m) for m in is_valid_port_num(p))
            if end is not None:
                if end < p:
                    errs.append(invalid(_c(path, "endPort"), end, "must be greater than or equal to `port`"))
                errs.extend(invalid(_c(path, "endPort"), end, m) for m in is_valid_port_num(end))
        else:
            if end is not None:
                errs.append(invalid(_c(path, "endPort"), end, "may not be specified when `port` is non-numeric"))
            errs.extend(invalid(_c(path, "port"), p, m) for m in is_valid_port_name(str(p)))
    elif end is not None:
        errs.append(invalid(_c(path, "endPort"), end, "may not be specified when `port` is not specified"))
    return errs


def _ip_block(ipb: Obj, path: str) -> list[Cause]:
    cidr = ipb.get("cidr") or ""
    if not cidr:
        return [required(_c(path, "cidr"))]
    net = _go_cidr(cidr)
    if net is None:
        return [invalid(_c(path, "cidr"), cidr, "not a valid CIDR")]
    errs: list[Cause] = []
    for i, exc in enumerate(ipb.get("except") or []):
        p = f"{path}.except[{i}]"
        enet = _go_cidr(exc)
        if enet is None:
            errs.append(invalid(p, exc, "not a valid CIDR"))
            return errs
        if (enet.version != net.version or enet.network_address not in net
                or net.prefixlen >= enet.prefixlen):
            errs.append(invalid(p, exc, "must be a strict subset of `cidr`"))
    return errs


def _netpol_peer(peer: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    n = 0
    for key in ("podSelector", "namespaceSelector"):
        if isinstance(peer.get(key), dict):
            n += 1
            errs.extend(validate_label_selector(peer[key], _c(path, key)))
    has_ip = isinstance(peer.get("ipBlock"), dict)
    if has_ip:
        n += 1
        errs.extend(_ip_block(peer["ipBlock"], _c(path, "ipBlock")))
    if n == 0:
        errs.append(required(path, "must specify a peer"))
    elif n > 1 and has_ip:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def _netpol_spec(spec: Obj) -> list[Cause]:
    errs = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_dl(spec.get(direction))):
            rp = f"spec.{direction}[{i}]"
            for j, port in enumerate(_dl(rule.get("ports"))):
                errs.extend(_netpol_port(_dd(port), f"{rp}.ports[{j}]"))
            for j, peer in enumerate(_dl(rule.get(peers))):
                errs.extend(_netpol_peer(_dd(peer), f"{rp}.{peers}[{j}]"))
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        errs.append(invalid("spec.policyTypes", Go(go_strs(types, "[]networking.PolicyType")),
                            "may not specify more than two policyTypes"))
        return errs
    for i, t in enumerate(types):
        if t not in ("Ingress", "Egress"):
            errs.append(not_supported(f"spec.policyTypes[{i}]", t, ["Ingress", "Egress"]))
    return errs


def _networkpolicy(np: Obj) -> list[Cause]:
    errs = validate_object_meta(np, True, name_is_dns_subdomain)
    errs.extend(_netpol_spec(_dd(np.get("spec"))))
    return errs


def _networkpolicy_update(np: Obj, old: Obj) -> list[Cause]:
    # The strategy runs ValidateNetworkPolicy and ValidateNetworkPolicyUpdate: spec causes appear twice.
    errs = _networkpolicy(np)
    errs.extend(validate_object_meta_update(np, old))
    errs.extend(_netpol_spec(_dd(np.get("spec"))))
    return errs


def _typed_ref(ref: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if ref.get("apiGroup") is not None:
        errs.extend(invalid(_c(path, "apiGroup"), ref["apiGroup"], m) for m in is_dns1123_subdomain(ref["apiGroup"]))
    for key in ("kind", "name"):
        v = ref.get(key) or ""
        if not v:
            errs.append(required(_c(path, key)))
        else:
            errs.extend(invalid(_c(path, key), v, m) for m in name_is_path_segment(v, False))
    return errs


def _ingress_backend(b: Obj, path: str) -> list[Cause]:
    res, svc = b.get("resource"), b.get("service")
    if isinstance(res, dict) and isinstance(svc, dict):
        return [invalid(path, "", "cannot set both resource and service backends")]
    if isinstance(res, dict):
        return _typed_ref(res, _c(path, "resource"))
    if not isinstance(svc, dict):
        return [invalid(path, "", "resource or service backend is required")]
    errs: list[Cause] = []
    name = svc.get("name") or ""
    if not name:
        errs.append(required(_c(path, "service.name")))
    else:
        errs.extend(invalid(_c(path, "service.name"), name, m) for m in name_is_dns1035_label(name, False))
    port = _dd(svc.get("port"))
    pname, pnum = port.get("name") or "", port.get("number") or 0
    if pname and pnum:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif pname:
        errs.extend(invalid(_c(path, "service.port.name"), pname, m) for m in is_valid_port_name(pname))
    elif pnum:
        errs.extend(invalid(_c(path, "service.port.number"), pnum, m) for m in is_valid_port_num(pnum))
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _ingress_path(p: Obj, path: str) -> list[Cause]:
    pt = p.get("pathType")
    if pt is None:
        return [required(_c(path, "pathType"), "pathType must be specified")]
    errs: list[Cause] = []
    value = p.get("path") or ""
    if pt in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(_c(path, "path"), value, "must be an absolute path"))
        if value:
            errs.extend(invalid(_c(path, "path"), value, f"must not contain '{seq}'")
                        for seq in _INVALID_PATH_SEQUENCES if seq in value)
            errs.extend(invalid(_c(path, "path"), value, f"cannot end with '{suf}'")
                        for suf in _INVALID_PATH_SUFFIXES if value.endswith(suf))
    elif pt == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(_c(path, "path"), value, "must be an absolute path"))
    else:
        errs.append(not_supported(_c(path, "pathType"), pt, ["Exact", "ImplementationSpecific", "Prefix"]))
    errs.extend(_ingress_backend(_dd(p.get("backend")), _c(path, "backend")))
    return errs


def _ingress_rule_value(rule: Obj, path: str) -> list[Cause]:
    http = rule.get("http")
    if not isinstance(http, dict):
        return []
    errs: list[Cause] = []
    paths = _dl(http.get("paths"))
    if not paths:
        errs.append(required(f"{path}.http.paths"))
    for i, p in enumerate(paths):
        errs.extend(_ingress_path(_dd(p), f"{path}.http.paths[{i}]"))
    return errs


def _ingress_spec(spec: Obj, old: Obj | None) -> list[Cause]:
    errs: list[Cause] = []
    rules = spec.get("rules")
    if not rules and spec.get("defaultBackend") is None:
        shown = "[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}"
        errs.append(invalid("spec", Go(shown), "either `defaultBackend` or `rules` must be specified"))
    if isinstance(spec.get("defaultBackend"), dict):
        errs.extend(_ingress_backend(spec["defaultBackend"], "spec.defaultBackend"))
    # Stored objects keep what older servers accepted (AllowInvalidWildcardHostRule/SecretName).
    ospec = _dd((old or {}).get("spec"))
    lax_wildcard = any("*" in (_dd(r).get("host") or "") and _ingress_rule_value(_dd(r), "")
                       for r in _dl(ospec.get("rules")))
    lax_secret = any(_dd(t).get("secretName") and name_is_dns_subdomain(_dd(t)["secretName"], False)
                     for t in _dl(ospec.get("tls")))
    for i, rule in enumerate(_dl(rules)):
        rp = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        wildcard = False
        if host:
            if _parse_ip(host) is not None:
                errs.append(invalid(_c(rp, "host"), host, "must be a DNS name, not an IP address"))
            if "*" in host:
                errs.extend(invalid(_c(rp, "host"), host, m) for m in is_wildcard_dns1123_subdomain(host))
                wildcard = True
            else:
                errs.extend(invalid(_c(rp, "host"), host, m) for m in is_dns1123_subdomain(host))
        if not wildcard or not lax_wildcard:
            errs.extend(_ingress_rule_value(rule, rp))
    for i, tls in enumerate(_dl(spec.get("tls"))):
        tp = f"spec.tls[{i}]"
        for j, host in enumerate(tls.get("hosts") or []):
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            errs.extend(invalid(f"{tp}.hosts[{j}]", host, m) for m in check(host))
        secret = tls.get("secretName") or ""
        if secret and not lax_secret:
            errs.extend(invalid(_c(tp, "secretName"), secret, m) for m in name_is_dns_subdomain(secret, False))
    icn = spec.get("ingressClassName")
    if icn is not None:
        errs.extend(invalid("spec.ingressClassName", icn, m) for m in name_is_dns_subdomain(icn, False))
    return errs


def _ingress(ing: Obj) -> list[Cause]:
    errs = validate_object_meta(ing, True, name_is_dns_subdomain)
    errs.extend(_ingress_spec(_dd(ing.get("spec")), None))
    ann = _dd(_dd(ing.get("metadata")).get("annotations"))
    icn = _dd(ing.get("spec")).get("ingressClassName")
    if _INGRESS_CLASS_ANNOTATION in ann and icn is not None and ann[_INGRESS_CLASS_ANNOTATION] != icn:
        errs.append(invalid(f"annotations.{_INGRESS_CLASS_ANNOTATION}", ann[_INGRESS_CLASS_ANNOTATION],
                            "must match `ingressClassName` when both are specified"))
    return errs


def _ingress_update(ing: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(ing, old)
    errs.extend(validate_object_meta(ing, True, name_is_dns_subdomain))
    errs.extend(_ingress_spec(_dd(ing.get("spec")), old))
    return errs


def _ingress_status(ing: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(ing, old)
    lb = _dd(_dd(ing.get("status")).get("loadBalancer"))
    for i, entry in enumerate(_dl(lb.get("ingress"))):
        p = f"status.loadBalancer.ingress[{i}]"
        if entry.get("ip"):
            errs.extend(is_valid_ip(_c(p, "ip"), entry["ip"]))
        hostname = entry.get("hostname") or ""
        if hostname:
            errs.extend(invalid(_c(p, "hostname"), hostname, m) for m in is_dns1123_subdomain(hostname))
            if _parse_ip(hostname) is not None:
                errs.append(invalid(_c(p, "hostname"), hostname, "must be a DNS name, not an IP address"))
    return errs


def _ingressclass(ic: Obj) -> list[Cause]:
    errs = validate_object_meta(ic, False, name_is_dns_subdomain)
    spec = _dd(ic.get("spec"))
    controller = spec.get("controller") or ""
    if _blen(controller) > 250:
        errs.append(too_long("spec.controller", 250))
    errs.extend(is_domain_prefixed_path("spec.controller", controller))
    params = spec.get("parameters")
    if isinstance(params, dict):
        pp = "spec.parameters"
        errs.extend(_typed_ref(params, pp))
        scope = params.get("scope")
        if scope is None:
            errs.append(required(_c(pp, "scope")))
        elif scope not in ("Cluster", "Namespace"):
            errs.append(not_supported(_c(pp, "scope"), scope, ["Cluster", "Namespace"]))
        elif scope == "Namespace":
            ns = params.get("namespace")
            if ns is None:
                errs.append(required(_c(pp, "namespace"), "`parameters.scope` is set to 'Namespace'"))
            else:
                errs.extend(invalid(_c(pp, "namespace"), ns, m) for m in name_is_dns_label(ns, False))
        elif params.get("namespace") is not None:
            errs.append(forbidden(_c(pp, "namespace"), "`parameters.scope` is set to 'Cluster'"))
    return errs


def _ingressclass_update(ic: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(ic, old)
    new_c = _dd(ic.get("spec")).get("controller") or ""
    if new_c != (_dd(old.get("spec")).get("controller") or ""):
        errs.append(invalid("spec.controller", new_c, "field is immutable"))
    errs.extend(_ingressclass(ic))
    return errs


def _known_system_class_error(name: str, value: Any, global_default: bool) -> str | None:
    """schedulingapiv1.IsKnownSystemPriorityClass: None when it is one, else the reason."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def _priorityclass(pc: Obj) -> list[Cause]:
    errs = validate_object_meta(pc, False, name_is_dns_subdomain)
    name = _dd(pc.get("metadata")).get("name") or ""
    value = pc.get("value") or 0
    if name.startswith("system-"):
        why = _known_system_class_error(name, value, bool(pc.get("globalDefault")))
        if why is not None:
            errs.append(forbidden("metadata.name", "priority class names with 'system-' prefix are reserved for "
                                                   f"system use only. error: {why}"))
    elif value > HIGHEST_USER_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"))
    pp = pc.get("preemptionPolicy")
    if pp is not None and pp not in ("PreemptLowerPriority", "Never"):
        errs.append(required("preemptionPolicy") if pp == "" else
                    not_supported("preemptionPolicy", pp, ["PreemptLowerPriority", "Never"]))
    return errs


def _priorityclass_update(pc: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(pc, old)
    if (pc.get("value") or 0) != (old.get("value") or 0):
        errs.append(forbidden("value", "may not be changed in an update."))
    if pc.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.append(invalid("preemptionPolicy", pc.get("preemptionPolicy"), "field is immutable"))
    return errs


# --------------------------------------------------------------------------------------------
# certificates.k8s.io/v1 CertificateSigningRequest (pkg/apis/certificates/validation)
# --------------------------------------------------------------------------------------------

def _go_bytes(data: bytes) -> Go:
    """%#v of a []byte, as field.Invalid renders spec.request."""
    return Go("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def _csr_signer_name(path: str, name: str) -> list[Cause]:
    """ValidateSignerName: a fully qualified domain, one '/', then a DNS subdomain path."""
    if not name:
        return [required(path, "")]
    segs = name.split("/")
    if len(segs) != 2:
        return [invalid(path, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")]
    errs: list[Cause] = []
    domain, rest = segs
    if len(domain) > 253:
        errs.append(errors.too_long(path, render(domain), 253))
    labels = domain.split(".")
    for lbl in labels:
        msgs = is_dns1123_label(lbl)
        if msgs:
            errs.extend(invalid(path, domain, f"validating label {goq(lbl)}: {m}") for m in msgs)
            break
    if len(labels) < 2:
        errs.append(invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    if len(rest) > 253:
        errs.append(errors.too_long(path, render(rest), 253))
    errs.extend(invalid(path, rest, m) for m in is_dns1123_subdomain(rest))
    return errs


def _csr_conditions(csr: Obj) -> list[Cause]:
    """validateConditions: type required, Approved/Denied/Failed only True, no duplicates, not both."""
    errs: list[Cause] = []
    seen: set[str] = set()
    conds = _dd(csr.get("status")).get("conditions") or []
    for i, c in enumerate(conds):
        c = _dd(c)
        p = f"status.conditions[{i}]"
        ctype, st = c.get("type") or "", c.get("status") or ""
        if not ctype:
            errs.append(required(f"{p}.type", ""))
        if ctype in ("Approved", "Denied", "Failed"):
            if st != "True":
                errs.append(not_supported(f"{p}.status", st, ["True"]))
        elif st not in ("False", "True", "Unknown"):
            errs.append(not_supported(f"{p}.status", st, ["False", "True", "Unknown"]))
        if ctype in seen:
            errs.append(duplicate(f"{p}.type", ctype))
        seen.add(ctype)
    if "Approved" in seen and "Denied" in seen:
        errs.append(invalid("status.conditions", Go("[]certificates.CertificateSigningRequestCondition{...}"),
                            "Approved and Denied conditions are mutually exclusive"))
    return errs


def _csr_certificate(csr: Obj) -> list[Cause]:
    """validateCertificate: status.certificate, when set, holds CERTIFICATE PEM blocks only."""
    raw = _dd(csr.get("status")).get("certificate") or ""
    if not raw:
        return []
    import base64

    try:
        data = base64.b64decode(raw)
    except ValueError:
        data = b""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return [invalid("status.certificate", Go('"<certificate data>"'),
                        "must contain at least one CERTIFICATE PEM block")]
    return []


def _csr_common(csr: Obj) -> list[Cause]:
    return _csr_conditions(csr) + _csr_certificate(csr)


def _csr_create(csr: Obj) -> list[Cause]:
    from . import certificates as certs

    errs = validate_object_meta(csr, False, lambda name, prefix: [])
    spec = _dd(csr.get("spec"))
    data = certs.request_bytes(csr)
    try:
        certs.parse_csr(data)
    except ValueError as e:
        errs.append(invalid("spec.request", _go_bytes(data), str(e)))
    usages = spec.get("usages") or []
    if not usages:
        errs.append(required("spec.usages", "usages must be provided"))
    seen: set[str] = set()
    for i, u in enumerate(usages):
        if u not in certs.ALL_USAGES:
            errs.append(not_supported(f"spec.usages[{i}]", u, sorted(certs.ALL_USAGES)))
        elif u in seen:
            errs.append(duplicate(f"spec.usages[{i}]", u))
        seen.add(u)
    exp = spec.get("expirationSeconds")
    if exp is not None and exp < 600:
        errs.append(invalid("spec.expirationSeconds", exp, "may not specify a duration less than 600 seconds "
                                                           "(10 minutes)"))
    signer = spec.get("signerName") or ""
    errs.extend(_csr_signer_name("spec.signerName", signer))
    if signer == certs.LEGACY_UNKNOWN:
        errs.append(invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version"))
    errs.extend(_csr_common(csr))
    return errs


def _csr_kept_conditions(csr: Obj, old: Obj, types: tuple[str, ...]) -> list[Cause]:
    """Updates may not remove an Approved/Denied (approval) or Failed (status) condition."""
    errs: list[Cause] = []
    for t in types:
        def count(o: Obj, t: str = t) -> int:
            return sum(1 for c in _dd(o.get("status")).get("conditions") or [] if _dd(c).get("type") == t)
        if count(csr) < count(old):
            errs.append(forbidden("status.conditions", f"updates may not remove a condition of type {goq(t)}"))
    return errs


def _csr_update(csr: Obj, old: Obj) -> list[Cause]:
    return (_csr_common(csr) + _csr_kept_conditions(csr, old, ("Approved", "Denied"))
            + validate_object_meta_update(csr, old))


def _csr_status(csr: Obj, old: Obj) -> list[Cause]:
    errs = _csr_common(csr) + _csr_kept_conditions(csr, old, ("Failed",))
    old_cert = _dd(old.get("status")).get("certificate") or ""
    if old_cert and _dd(csr.get("status")).get("certificate") != old_cert:
        errs.append(invalid("status.certificate", Go('"<certificate data>"'),
                            "updates may not modify existing certificate content"))
    return errs + validate_object_meta_update(csr, old)


# --------------------------------------------------------------------------------------------
# node.k8s.io/v1 RuntimeClass (pkg/apis/node/validation)
# --------------------------------------------------------------------------------------------

def _runtimeclass(rc: Obj) -> list[Cause]:
    errs = validate_object_meta(rc, False, name_is_dns_subdomain)
    handler = rc.get("handler") or ""
    errs.extend(invalid("handler", handler, m) for m in is_dns1123_label(handler))
    overhead = rc.get("overhead")
    if isinstance(overhead, dict):
        errs.extend(_resources({"limits": overhead.get("podFixed")}, "overhead"))
    sched = rc.get("scheduling")
    if isinstance(sched, dict):
        if sched.get("nodeSelector") is not None:
            errs.extend(validate_labels(sched["nodeSelector"], "scheduling.nodeSelector"))
        tols = _dl(sched.get("tolerations"))
        errs.extend(_tolerations(tols, "scheduling.tolerations"))
        seen: set[tuple[str, str, str, str]] = set()
        for i, t in enumerate(tols):
            lkey = (t.get("key") or "", t.get("operator") or "", t.get("value") or "", t.get("effect") or "")
            if lkey in seen:
                errs.append(duplicate(f"scheduling.tolerations[{i}]", Go(
                    f"core.Toleration{{Key:{goq(lkey[0])}, Operator:{goq(lkey[1])}, Value:{goq(lkey[2])}, "
                    f"Effect:{goq(lkey[3])}, TolerationSeconds:(*int64)(nil)}}")))
            seen.add(lkey)
    return errs


def _runtimeclass_update(rc: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(rc, old)
    if rc.get("handler") != old.get("handler"):
        errs.append(invalid("handler", rc.get("handler") or "", "field is immutable"))
    return errs


# --------------------------------------------------------------------------------------------
# storage.k8s.io/v1 CSIDriver, CSINode, VolumeAttachment, CSIStorageCapacity (pkg/apis/storage/validation)
# --------------------------------------------------------------------------------------------

def _csi_driver_name(name: Any, path: str) -> list[Cause]:
    """ValidateCSIDriverName: required, at most 63 characters, a DNS subdomain once lower-cased."""
    name = name if isinstance(name, str) else ""
    errs: list[Cause] = []
    if not name:
        errs.append(required(path, ""))
    if len(name) > 63:
        errs.append(errors.too_long(path, render(name), 63))
    errs.extend(invalid(path, name, m) for m in is_dns1123_subdomain(name.lower()))
    return errs


def _csidriver(d: Obj) -> list[Cause]:
    errs = _csi_driver_name(_dd(d.get("metadata")).get("name"), "name")
    spec = _dd(d.get("spec"))
    for f in ("attachRequired", "podInfoOnMount", "requiresRepublish", "storageCapacity", "seLinuxMount"):
        if spec.get(f) is None:
            errs.append(required(f"spec.{f}", ""))
    fsg = spec.get("fsGroupPolicy")
    if fsg is None:
        errs.append(required("spec.fsGroupPolicy", ""))
    elif fsg not in ("File", "None", "ReadWriteOnceWithFSType"):
        errs.append(not_supported("spec.fsGroupPolicy", fsg, ["File", "None", "ReadWriteOnceWithFSType"]))
    for i, m in enumerate(_dl(spec.get("volumeLifecycleModes"))):
        if m not in ("Ephemeral", "Persistent"):
            errs.append(not_supported(f"spec.volumeLifecycleModes[{i}]", m, ["Ephemeral", "Persistent"]))
    errs.extend(_csi_token_requests(spec.get("tokenRequests")))
    return errs


def _csi_token_requests(trs: Any) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, tr in enumerate(_dl(trs)):
        p = f"spec.tokenRequests[{i}]"
        aud = tr.get("audience") or ""
        if aud in seen:
            errs.append(duplicate(f"{p}.audience", aud))
            continue
        seen.add(aud)
        exp = tr.get("expirationSeconds")
        if exp is None:
            continue
        if exp < 600:
            errs.append(invalid(f"{p}.expirationSeconds", exp, "may not specify a duration less than 10 minutes"))
        if exp > 1 << 32:
            errs.append(invalid(f"{p}.expirationSeconds", exp, "may not specify a duration larger than 2^32 seconds"))
    return errs


def _csidriver_update(d: Obj, old: Obj) -> list[Cause]:
    errs = _csidriver(d) + validate_object_meta_update(d, old)
    spec, ospec = _dd(d.get("spec")), _dd(old.get("spec"))
    for f in ("attachRequired", "fsGroupPolicy", "volumeLifecycleModes"):
        if spec.get(f) != ospec.get(f):
            errs.append(invalid(f"spec.{f}", spec.get(f), "field is immutable"))
    return errs


def _csinode(n: Obj) -> list[Cause]:
    errs = validate_object_meta(n, False, name_is_dns_subdomain)
    seen: set[str] = set()
    for i, drv in enumerate(_dl(_dd(n.get("spec")).get("drivers"))):
        p = f"spec.drivers[{i}]"
        name = drv.get("name") or ""
        errs.extend(_csi_driver_name(name, f"{p}.name"))
        node_id = drv.get("nodeID") or ""
        if not node_id:
            errs.append(required(f"{p}.nodeID", ""))
        if len(node_id) > 192:
            errs.append(invalid(f"{p}.nodeID", node_id, "must be 192 characters or less"))
        count = _dd(drv.get("allocatable")).get("count")
        if isinstance(count, int) and count < 0:
            errs.append(invalid(f"{p}.allocatable.count", count, "must be greater than or equal to 0"))
        if name in seen:
            errs.append(duplicate(f"{p}.name", name))
        seen.add(name)
        keys: set[str] = set()
        for key in _dl(drv.get("topologyKeys")):
            if not key:
                errs.append(required(p, ""))
            if key in keys:
                errs.append(duplicate(p, key))
            keys.add(key)
            if key:
                errs.extend(validate_label_name(key, p))
    return errs


def _csinode_update(n: Obj, old: Obj) -> list[Cause]:
    errs = _csinode(n) + validate_object_meta_update(n, old)
    olds = {_dd(d).get("name"): _dd(d) for d in _dl(_dd(old.get("spec")).get("drivers"))}
    for i, drv in enumerate(_dl(_dd(n.get("spec")).get("drivers"))):
        prev = olds.get(drv.get("name"))
        if prev is None:
            continue
        for f in ("nodeID", "allocatable", "topologyKeys"):
            if drv.get(f) != prev.get(f):
                errs.append(invalid(f"spec.drivers[{i}].{f}", drv.get(f), "field is immutable"))
    return errs


def _volumeattachment(va: Obj) -> list[Cause]:
    errs = validate_object_meta(va, False, name_is_dns_subdomain)
    spec = _dd(va.get("spec"))
    attacher = spec.get("attacher") or ""
    if not attacher:
        errs.append(required("spec.attacher", ""))
    src = _dd(spec.get("source"))
    pv, inline = src.get("persistentVolumeName"), src.get("inlineVolumeSpec")
    if pv is None and inline is None:
        errs.append(required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
    elif pv is not None and inline is not None:
        errs.append(forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
    elif pv is not None and not pv:
        errs.append(required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName"))
    if not spec.get("nodeName"):
        errs.append(required("spec.nodeName", ""))
    if attacher:
        errs.extend(_csi_driver_name(attacher, "spec.attacher"))
    if inline is not None and not _dd(inline).get("csi"):
        errs.append(required("spec.source.inlineVolumeSpec.csi", "must specify csi"))
    return errs


def _volumeattachment_update(va: Obj, old: Obj) -> list[Cause]:
    errs = _volumeattachment(va) + validate_object_meta_update(va, old)
    if va.get("spec") != old.get("spec"):
        errs.append(invalid("spec", Go("storage.VolumeAttachmentSpec{...}"), "field is immutable"))
    return errs


def _csistoragecapacity(c: Obj) -> list[Cause]:
    errs = validate_object_meta(c, True, name_is_dns_subdomain)
    if c.get("nodeTopology") is not None:
        errs.extend(validate_label_selector(c.get("nodeTopology"), "nodeTopology"))
    sc = c.get("storageClassName") or ""
    errs.extend(invalid("storageClassName", sc, m) for m in name_is_dns_subdomain(sc, False))
    for f in ("capacity", "maximumVolumeSize"):
        v = _qty(c.get(f)) if c.get(f) is not None else None
        if v is not None and v < 0:
            errs.append(invalid(f, _qstr(c.get(f)), "must be greater than or equal to 0"))
    return errs


def _csistoragecapacity_update(c: Obj, old: Obj) -> list[Cause]:
    errs = _csistoragecapacity(c) + validate_object_meta_update(c, old)
    if c.get("nodeTopology") != old.get("nodeTopology"):
        errs.append(invalid("nodeTopology", Go("&v1.LabelSelector{...}"), "field is immutable"))
    if c.get("storageClassName") != old.get("storageClassName"):
        errs.append(invalid("storageClassName", c.get("storageClassName") or "", "field is immutable"))
    return errs


# --------------------------------------------------------------------------------------------
# flowcontrol.apiserver.k8s.io/v1 FlowSchema, PriorityLevelConfiguration (pkg/apis/flowcontrol/validation)
# --------------------------------------------------------------------------------------------

def _flowschema(fs: Obj) -> list[Cause]:
    errs = validate_object_meta(fs, False, name_is_path_segment)
    spec = _dd(fs.get("spec"))
    mp = spec.get("matchingPrecedence") or 0
    if mp <= 0:
        errs.append(invalid("spec.matchingPrecedence", mp, "must be a positive value"))
    if mp > 10000:
        errs.append(invalid("spec.matchingPrecedence", mp, "must not be greater than 10000"))
    dm = spec.get("distinguisherMethod")
    if dm is not None and _dd(dm).get("type") not in ("ByNamespace", "ByUser"):
        errs.append(not_supported("spec.distinguisherMethod.type", _dd(dm).get("type") or "",
                                  ["ByNamespace", "ByUser"]))
    if not _dd(spec.get("priorityLevelConfiguration")).get("name"):
        errs.append(required("spec.priorityLevelConfiguration.name", "must reference a priority level"))
    for i, rule in enumerate(_dl(spec.get("rules"))):
        p = f"spec.rules[{i}]"
        if not _dl(rule.get("subjects")):
            errs.append(required(f"{p}.subjects", "subjects must contain at least one value"))
        for j, sub in enumerate(_dl(rule.get("subjects"))):
            kind = sub.get("kind") or ""
            if kind not in ("Group", "ServiceAccount", "User"):
                errs.append(not_supported(f"{p}.subjects[{j}].kind", kind, ["Group", "ServiceAccount", "User"]))
        if not _dl(rule.get("resourceRules")) and not _dl(rule.get("nonResourceRules")):
            errs.append(required(p, "at least one of resourceRules and nonResourceRules has to be non-empty"))
        for j, rr in enumerate(_dl(rule.get("resourceRules"))):
            for f in ("verbs", "apiGroups", "resources"):
                if not rr.get(f):
                    errs.append(required(f"{p}.resourceRules[{j}].{f}", f"{f} must contain at least one value"))
            if not rr.get("namespaces") and not rr.get("clusterScope"):
                errs.append(required(f"{p}.resourceRules[{j}].namespaces",
                                     "resource rules that are not cluster scoped must supply at least one namespace"))
        for j, nr in enumerate(_dl(rule.get("nonResourceRules"))):
            for f in ("verbs", "nonResourceURLs"):
                if not nr.get(f):
                    errs.append(required(f"{p}.nonResourceRules[{j}].{f}", f"{f} must contain at least one value"))
    return errs


def _prioritylevel(pl: Obj) -> list[Cause]:
    errs = validate_object_meta(pl, False, name_is_path_segment)
    spec = _dd(pl.get("spec"))
    typ = spec.get("type") or ""
    if typ not in ("Exempt", "Limited"):
        errs.append(required("spec.type", "") if not typ else not_supported("spec.type", typ, ["Exempt", "Limited"]))
    limited = spec.get("limited")
    if typ == "Limited" and limited is None:
        errs.append(required("spec.limited", "must not be empty when type is Limited"))
    if typ != "Limited" and limited is not None:
        errs.append(forbidden("spec.limited", "must be nil if the type is not Limited"))
    if typ != "Exempt" and spec.get("exempt") is not None:
        errs.append(forbidden("spec.exempt", "must be nil if the type is Limited"))
    for key in ("limited", "exempt"):
        lp = _dd(spec.get(key)).get("lendablePercent")
        if isinstance(lp, int) and not 0 <= lp <= 100:
            errs.append(invalid(f"spec.{key}.lendablePercent", lp, "must be between 0 and 100, inclusive"))
    if isinstance(limited, dict):
        ncs = limited.get("nominalConcurrencyShares")
        if isinstance(ncs, int) and ncs < 0:
            errs.append(invalid("spec.limited.nominalConcurrencyShares", ncs, "must be a non-negative integer"))
        lr = _dd(limited.get("limitResponse"))
        lrt = lr.get("type") or ""
        q = lr.get("queuing")
        if lrt not in ("Queue", "Reject"):
            errs.append(not_supported("spec.limited.limitResponse.type", lrt, ["Queue", "Reject"]))
        elif lrt == "Reject" and q is not None:
            errs.append(forbidden("spec.limited.limitResponse.queuing", "must be nil if limited.limitResponse.type "
                                                                      "is not Limited"))
        elif lrt == "Queue" and q is None:
            errs.append(required("spec.limited.limitResponse.queuing", "must not be empty if "
                                                                       "limited.limitResponse.type is Limited"))
        if isinstance(q, dict):
            qp = "spec.limited.limitResponse.queuing"
            queues, hand, qll = q.get("queues") or 0, q.get("handSize") or 0, q.get("queueLengthLimit") or 0
            if qll <= 0:
                errs.append(invalid(f"{qp}.queueLengthLimit", qll, "must be positive"))
            if queues <= 0:
                errs.append(invalid(f"{qp}.queues", queues, "must be positive"))
            elif hand > queues:
                errs.append(invalid(f"{qp}.handSize", hand, f"should not be greater than queues ({queues})"))
            if hand <= 0:
                errs.append(invalid(f"{qp}.handSize", hand, "must be positive"))
    return errs


# --------------------------------------------------------------------------------------------
# apiregistration.k8s.io/v1 APIService (kube-aggregator pkg/apis/apiregistration/validation)
# --------------------------------------------------------------------------------------------

def _apiservice(svc: Obj) -> list[Cause]:
    spec = _dd(svc.get("spec"))
    group, version = spec.get("group") or "", spec.get("version") or ""
    want = f"{version}.{group}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        bad = name_is_path_segment(name, prefix)
        if bad:
            return bad
        return [] if name == want else [f'must be `spec.version+"."+spec.group`: {goq(want)}']

    errs = validate_object_meta(svc, False, name_fn)
    if not group and version != "v1":
        errs.append(required("spec.group", "only v1 may have an empty group and it better be legacy kube"))
    if group:
        errs.extend(invalid("spec.group", group, m) for m in is_dns1123_subdomain(group))
    errs.extend(invalid("spec.version", version, m) for m in is_dns1035_label(version))
    gpm, vp = spec.get("groupPriorityMinimum") or 0, spec.get("versionPriority") or 0
    if gpm <= 0 or gpm > 20000:
        errs.append(invalid("spec.groupPriorityMinimum", gpm, "must be positive and less than 20000"))
    if vp <= 0 or vp > 1000:
        errs.append(invalid("spec.versionPriority", vp, "must be positive and less than 1000"))
    service = spec.get("service")
    if service is None:
        if spec.get("caBundle"):
            errs.append(invalid("spec.caBundle", Go(f"{len(spec['caBundle']) * 3 // 4} bytes"),
                                "local APIServices may not have a caBundle"))
        if spec.get("insecureSkipTLSVerify"):
            errs.append(invalid("spec.insecureSkipTLSVerify", True,
                                "local APIServices may not have insecureSkipTLSVerify"))
        return errs
    if not _dd(service).get("namespace"):
        errs.append(required("spec.service.namespace", ""))
    if not _dd(service).get("name"):
        errs.append(required("spec.service.name", ""))
    if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        errs.append(invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"))
    return errs


# resource -> (create, update, status update)
# --------------------------------------------------------------------------------------------
# core/v1 ResourceQuota and LimitRange (pkg/apis/core/validation)
# --------------------------------------------------------------------------------------------

_QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                 "CrossNamespacePodAffinity")
_STD_QUOTA_RESOURCES = _STD_RESOURCES - {"storage"}
_INTEGER_RESOURCES = {"pods", "services", "replicationcontrollers", "resourcequotas", "services.nodeports",
                      "services.loadbalancers", "secrets", "configmaps", "persistentvolumeclaims"}
_POD_COMPUTE_QUOTA = {"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
_LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def _quota_hugepages(name: str) -> bool:
    return name.startswith(("hugepages-", "requests.hugepages-"))


def _std_quota_resource(name: str) -> bool:
    return name in _STD_QUOTA_RESOURCES or _quota_hugepages(name)


def _extended_resource(name: str) -> bool:
    """helper.IsExtendedResourceName: not native, not requests.*, and requests.<name> is qualified."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def _generic_resource_name(name: str, path: str) -> list[Cause]:
    """validateResourceName: qualified, and standard unless it has a domain."""
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name and name not in _STD_RESOURCES and not _quota_hugepages(name):
        return [invalid(path, name, "must be a standard resource type or fully qualified")]
    return []


def _quota_resource_name(name: str, path: str) -> list[Cause]:
    errs = _generic_resource_name(name, path)
    if "/" not in name and not _std_quota_resource(name):
        errs.append(invalid(path, name, "must be a standard resource for quota"))
    return errs


def _quota_quantity(name: str, q: Any, path: str) -> list[Cause]:
    """ValidateResourceQuantityValue: non-negative, whole for integer resources."""
    v = _qty(q)
    if v is None:
        return []
    errs: list[Cause] = []
    if v < 0:
        errs.append(invalid(path, _qstr(q), "must be greater than or equal to 0"))
    if (name in _INTEGER_RESOURCES or _extended_resource(name)) and (v * 1000) % 1000 != 0:
        errs.append(invalid(path, Go(_qstr(q)), "must be an integer"))
    return errs


def _quota_rlist(rl: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for k, v in _dd(rl).items():
        errs.extend(_quota_resource_name(k, f"{path}[{k}]"))
        errs.extend(_quota_quantity(k, v, f"{path}[{k}]"))
    return errs


def _scope_valid_for(scope: str, resource: str) -> bool:
    if scope in ("Terminating", "NotTerminating", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"):
        return resource == "pods" or resource in _POD_COMPUTE_QUOTA
    if scope == "BestEffort":
        return resource == "pods"
    return True


def _go_scopes(scopes: Any) -> Go:
    return Go(go_strs(scopes, "[]core.ResourceQuotaScope"))


def _go_scope_selector(sel: Obj) -> Go:
    parts = [f"core.ScopedResourceSelectorRequirement{{ScopeName:{goq(str(e.get('scopeName', '')))}, "
             f"Operator:{goq(str(e.get('operator', '')))}, Values:{go_strs(e.get('values'))}}}"
             for e in _dl(sel.get("matchExpressions"))]
    exprs = "[]core.ScopedResourceSelectorRequirement{" + ", ".join(parts) + "}" if parts else \
        "[]core.ScopedResourceSelectorRequirement(nil)"
    return Go(f"&core.ScopeSelector{{MatchExpressions:{exprs}}}")


_CONFLICTING_SCOPES = (("BestEffort", "NotBestEffort"), ("NotTerminating", "Terminating"))


def _quota_spec(spec: Obj, path: str) -> list[Cause]:
    errs = _quota_rlist(spec.get("hard"), _c(path, "hard"))
    hard = sorted(_dd(spec.get("hard")))
    scopes = spec.get("scopes") if isinstance(spec.get("scopes"), list) else []
    if scopes:
        sp = _c(path, "scopes")
        for scope in scopes:
            if scope not in _QUOTA_SCOPES:
                errs.append(invalid(sp, _go_scopes(scopes), "unsupported scope"))
            for k in hard:
                if _std_quota_resource(k) and not _scope_valid_for(scope, k):
                    errs.append(invalid(sp, _go_scopes(scopes), "unsupported scope applied to resource"))
        for pair in _CONFLICTING_SCOPES:
            if all(p in scopes for p in pair):
                errs.append(invalid(sp, _go_scopes(scopes), "conflicting scopes"))
    sel = spec.get("scopeSelector")
    if isinstance(sel, dict):
        mp = _c(_c(path, "scopeSelector"), "matchExpressions")
        seen = set()
        for req in _dl(sel.get("matchExpressions")):
            name, op, values = req.get("scopeName", ""), req.get("operator", ""), req.get("values") or []
            if name not in _QUOTA_SCOPES:
                errs.append(invalid(_c(mp, "scopeName"), name, "unsupported scope"))
            for k in hard:
                if _std_quota_resource(k) and not _scope_valid_for(name, k):
                    errs.append(invalid(mp, _go_scope_selector(sel), "unsupported scope applied to resource"))
            if name in ("BestEffort", "NotBestEffort", "Terminating", "NotTerminating",
                        "CrossNamespacePodAffinity") and op != "Exists":
                errs.append(invalid(_c(mp, "operator"), op,
                                    "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
                                    "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                                    "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
            if op in ("In", "NotIn"):
                if not values:
                    errs.append(required(_c(mp, "values"), "must be at least one value when `operator` is 'In' or "
                                                           "'NotIn' for scope selector"))
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    errs.append(invalid(_c(mp, "values"), values, "must be no value when `operator` is 'Exist' or "
                                                                  "'DoesNotExist' for scope selector"))
            else:
                errs.append(invalid(_c(mp, "operator"), op, "not a valid selector operator"))
            seen.add(name)
        for pair in _CONFLICTING_SCOPES:
            if all(p in seen for p in pair):
                errs.append(invalid(mp, _go_scopes(scopes or None), "conflicting scopes"))
    return errs


def _quota_status_fields(rq: Obj) -> list[Cause]:
    st = _dd(rq.get("status"))
    return _quota_rlist(st.get("hard"), "status.hard") + _quota_rlist(st.get("used"), "status.used")


def _resourcequota(rq: Obj) -> list[Cause]:
    errs = validate_object_meta(rq, True, name_is_dns_subdomain)
    errs.extend(_quota_spec(_dd(rq.get("spec")), "spec"))
    errs.extend(_quota_status_fields(rq))
    return errs


def _resourcequota_update(rq: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(rq, old)
    errs.extend(_quota_spec(_dd(rq.get("spec")), "spec"))
    new_scopes = set(_dd(rq.get("spec")).get("scopes") or ())
    if new_scopes != set(_dd(old.get("spec")).get("scopes") or ()):
        errs.append(invalid("spec.scopes", _go_scopes(_dd(rq.get("spec")).get("scopes")), "field is immutable"))
    return errs


def _resourcequota_status(rq: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(rq, old)
    if not _dd(rq.get("metadata")).get("resourceVersion"):
        errs.append(required("resourceVersion"))
    errs.extend(_quota_status_fields(rq))
    return errs


def _limitrange_resource_name(limit_type: str, name: str, path: str) -> list[Cause]:
    if limit_type not in ("Pod", "Container"):
        return _generic_resource_name(name, path)
    errs = _generic_resource_name(name, path)
    if "/" not in name:
        if name not in _STD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif "kubernetes.io/" not in name and not _extended_resource(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _limitrange(lr: Obj) -> list[Cause]:
    errs = validate_object_meta(lr, True, name_is_dns_subdomain)
    seen_types: set[str] = set()
    for i, item in enumerate(_dl(_dd(lr.get("spec")).get("limits"))):
        ip = f"spec.limits[{i}]"
        typ = item.get("type") or ""
        tp = _c(ip, "type")
        type_errs = [invalid(tp, typ, m) for m in is_qualified_name(typ)]
        if not type_errs and "/" not in typ and typ not in _LIMIT_TYPES:
            type_errs.append(invalid(tp, typ, "must be a standard limit type or fully qualified"))
        errs.extend(type_errs)
        if typ in seen_types:
            errs.append(duplicate(tp, typ))
        seen_types.add(typ)
        maps: dict[str, dict[str, Any]] = {}
        keys: list[str] = []
        fields = ["max", "min", "maxLimitRequestRatio"]
        if typ == "Pod":
            maps["default"], maps["defaultRequest"] = {}, {}
        else:
            fields[2:2] = ["default", "defaultRequest"]
        for fld in fields:
            m = maps[fld] = _dd(item.get(fld))
            for k in m:
                errs.extend(_limitrange_resource_name(typ, k, f"{ip}.{fld}[{k}]"))
                if k not in keys:
                    keys.append(k)
            if fld == "min" and typ == "Pod":
                for dfld in ("default", "defaultRequest"):
                    if item.get(dfld):
                        errs.append(forbidden(f"{ip}.{dfld}", "may not be specified when `type` is 'Pod'"))
            if fld == "defaultRequest" and typ == "PersistentVolumeClaim" \
                    and "storage" not in maps["min"] and "storage" not in maps["max"]:
                errs.append(required(f"{ip}.limits", "either minimum or maximum storage value is required, but "
                                                     "neither was provided"))
        for k in keys:
            q = {f: (_qty(m[k]), _qstr(m[k])) for f, m in maps.items() if k in m and _qty(m[k]) is not None}
            mn, mx, df, dr, ratio = (q.get(f) for f in ("min", "max", "default", "defaultRequest",
                                                        "maxLimitRequestRatio"))
            if mn and mx and mn[0] > mx[0]:
                errs.append(invalid(f"{ip}.min[{k}]", Go(mn[1]), f"min value {mn[1]} is greater than max value {mx[1]}"))
            if dr and mn and mn[0] > dr[0]:
                errs.append(invalid(f"{ip}.defaultRequest[{k}]", Go(dr[1]),
                                    f"min value {mn[1]} is greater than default request value {dr[1]}"))
            if dr and mx and dr[0] > mx[0]:
                errs.append(invalid(f"{ip}.defaultRequest[{k}]", Go(dr[1]),
                                    f"default request value {dr[1]} is greater than max value {mx[1]}"))
            if dr and df and dr[0] > df[0]:
                errs.append(invalid(f"{ip}.defaultRequest[{k}]", Go(dr[1]),
                                    f"default request value {dr[1]} is greater than default limit value {df[1]}"))
            if df and mn and mn[0] > df[0]:
                errs.append(invalid(f"{ip}.default[{k}]", Go(mn[1]),
                                    f"min value {mn[1]} is greater than default value {df[1]}"))
            if df and mx and df[0] > mx[0]:
                errs.append(invalid(f"{ip}.default[{k}]", Go(mx[1]),
                                    f"default value {df[1]} is greater than max value {mx[1]}"))
            if ratio and ratio[0] < 1:
                errs.append(invalid(f"{ip}.maxLimitRequestRatio[{k}]", Go(ratio[1]), f"ratio {ratio[1]} is less than 1"))
            if ratio and mn and mx and mn[0] > 0:
                limit = mx[0] / mn[0]
                if ratio[0] > limit:
                    errs.append(invalid(f"{ip}.maxLimitRequestRatio[{k}]", Go(ratio[1]),
                                        f"ratio {ratio[1]} is greater than max/min = {float(limit):f}"))
            if not _overcommit(k) and df and dr and df[0] != dr[0]:
                errs.append(invalid(f"{ip}.defaultRequest[{k}]", Go(dr[1]),
                                    f"default value {df[1]} must equal to defaultRequest value {dr[1]} in {k}"))
    return errs


# --------------------------------------------------------------------------------------------
# admissionregistration.k8s.io/v1 webhook configurations (pkg/apis/admissionregistration/validation)
# --------------------------------------------------------------------------------------------

_WEBHOOK_REVIEW_VERSIONS = ("v1", "v1beta1")
_WEBHOOK_OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
_WEBHOOK_URL_FORM = "; desired format: https://host[/path]"


def _fully_qualified_name(name: str, path: str) -> list[Cause]:
    """utilvalidation.IsFullyQualifiedName: a DNS subdomain with at least three segments."""
    if not name:
        return [required(path)]
    errs = is_dns1123_subdomain(name)
    if errs:
        return [invalid(path, name, ",".join(errs))]
    if len(name.split(".")) < 3:
        return [invalid(path, name, "should be a domain with at least three segments separated by dots")]
    return []


def _webhook_resources(resources: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not resources:
        errs.append(required(path))
    res_wild_sub: set[str] = set()
    sub_wild_res: set[str] = set()
    double = single = plain = False
    for i, rs in enumerate(resources):
        rs = str(rs or "")
        if not rs:
            errs.append(required(f"{path}[{i}]"))
            continue
        double = double or rs == "*/*"
        single = single or rs == "*"
        if "/" not in rs:
            plain = rs != "*"
            continue
        res, sub = rs.split("/", 1)
        if res in res_wild_sub:
            errs.append(invalid(f"{path}[{i}]", rs, f"if '{res}/*' is present, must not specify {rs}"))
        if sub in sub_wild_res:
            errs.append(invalid(f"{path}[{i}]", rs, f"if '*/{sub}' is present, must not specify {rs}"))
        if sub == "*":
            res_wild_sub.add(res)
        if res == "*":
            sub_wild_res.add(sub)
    if len(resources) > 1 and double:
        errs.append(invalid(path, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        errs.append(invalid(path, resources, "if '*' is present, must not specify other resources without "
                                             "subresources"))
    return errs


def _webhook_rule(rule: Obj, path: str) -> list[Cause]:
    errs: list[Cause] = []
    ops = rule.get("operations") or []
    if not ops:
        errs.append(required(_c(path, "operations")))
    if len(ops) > 1 and "*" in ops:
        errs.append(invalid(_c(path, "operations"), Go(go_strs(ops, "[]admissionregistration.OperationType")),
                            "if '*' is present, must not specify other operations"))
    for i, op in enumerate(ops):
        if op not in _WEBHOOK_OPERATIONS:
            errs.append(not_supported(f"{path}.operations[{i}]", op, _WEBHOOK_OPERATIONS))
    groups = rule.get("apiGroups") or []
    if not groups:
        errs.append(required(_c(path, "apiGroups")))
    if len(groups) > 1 and "*" in groups:
        errs.append(invalid(_c(path, "apiGroups"), groups, "if '*' is present, must not specify other API groups"))
    versions = rule.get("apiVersions") or []
    if not versions:
        errs.append(required(_c(path, "apiVersions")))
    if len(versions) > 1 and "*" in versions:
        errs.append(invalid(_c(path, "apiVersions"), versions,
                            "if '*' is present, must not specify other API versions"))
    for i, v in enumerate(versions):
        if not v:
            errs.append(required(f"{path}.apiVersions[{i}]"))
    errs.extend(_webhook_resources(rule.get("resources") or [], _c(path, "resources")))
    scope = rule.get("scope")
    if scope is not None and scope not in ("*", "Cluster", "Namespaced"):
        errs.append(not_supported(_c(path, "scope"), scope, ["*", "Cluster", "Namespaced"]))
    return errs


def _webhook_url(url: str, path: str) -> list[Cause]:
    """webhook.ValidateWebhookURL with https forced."""
    try:
        u = urllib.parse.urlsplit(url)
    except ValueError as e:
        return [required(path, f"url must be a valid URL: {e}{_WEBHOOK_URL_FORM}")]
    errs: list[Cause] = []
    if u.scheme != "https":
        errs.append(invalid(path, u.scheme, "'https' is the only allowed URL scheme" + _WEBHOOK_URL_FORM))
    host = u.netloc.rsplit("@", 1)[-1]
    if not host:
        errs.append(invalid(path, host, "host must be specified" + _WEBHOOK_URL_FORM))
    if "@" in u.netloc:
        errs.append(invalid(path, u.netloc.rsplit("@", 1)[0], "user information is not permitted in the URL"))
    if u.fragment:
        errs.append(invalid(path, u.fragment, "fragments are not permitted in the URL"))
    if u.query:
        errs.append(invalid(path, u.query, "query parameters are not permitted in the URL"))
    return errs


def _webhook_service(svc: Obj, path: str) -> list[Cause]:
    """webhook.ValidateWebhookService."""
    errs: list[Cause] = []
    if not svc.get("name"):
        errs.append(required(_c(path, "name"), "service name is required"))
    if not svc.get("namespace"):
        errs.append(required(_c(path, "namespace"), "service namespace is required"))
    port = svc.get("port", 443)
    bad = is_valid_port_num(port)
    if bad:
        errs.append(invalid(_c(path, "port"), port, "port is not valid: " + ", ".join(bad)))
    p = svc.get("path")
    if p is None or p in ("", "/"):
        return errs
    if p == "//":
        return [*errs, invalid(_c(path, "path"), p, "segment[0] may not be empty")]
    if not p.startswith("/"):
        errs.append(invalid(_c(path, "path"), p, "must start with a '/'"))
    check = p[1:]
    if check.endswith("/"):
        check = check[:-1]
    for i, step in enumerate(check.split("/")):
        if not step:
            errs.append(invalid(_c(path, "path"), p, f"segment[{i}] may not be empty"))
            continue
        errs.extend(invalid(_c(path, "path"), p, f"segment[{i}]: {m}") for m in is_dns1123_subdomain(step))
    return errs


def _webhook_review_versions(versions: list[Any], path: str, must_accept: bool) -> list[Cause]:
    if not versions:
        return [required(path, "must specify one of " + ", ".join(_WEBHOOK_REVIEW_VERSIONS))]
    errs: list[Cause] = []
    seen: set[str] = set()
    accepted = False
    for i, v in enumerate(versions):
        v = str(v)
        if v in seen:
            errs.append(invalid(f"{path}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        errs.extend(invalid(f"{path}[{i}]", v, m) for m in is_dns1035_label(v))
        accepted = accepted or v in _WEBHOOK_REVIEW_VERSIONS
    if must_accept and not accepted:
        errs.append(invalid(path, versions, "must include at least one of " + ", ".join(_WEBHOOK_REVIEW_VERSIONS)))
    return errs


def _webhook(hook: Obj, path: str, mutating: bool, no_side_effects: bool) -> list[Cause]:
    errs = _fully_qualified_name(str(hook.get("name") or ""), _c(path, "name"))
    for i, rule in enumerate(_dl(hook.get("rules"))):
        errs.extend(_webhook_rule(rule, f"{path}.rules[{i}]"))
    fp = hook.get("failurePolicy")
    if fp is not None and fp not in ("Fail", "Ignore"):
        errs.append(not_supported(_c(path, "failurePolicy"), fp, ["Fail", "Ignore"]))
    mp = hook.get("matchPolicy")
    if mp is not None and mp not in ("Equivalent", "Exact"):
        errs.append(not_supported(_c(path, "matchPolicy"), mp, ["Equivalent", "Exact"]))
    allowed = ["None", "NoneOnDryRun"] if no_side_effects else ["None", "NoneOnDryRun", "Some", "Unknown"]
    se = hook.get("sideEffects")
    if se is None:
        errs.append(required(_c(path, "sideEffects"), "must specify one of " + ", ".join(allowed)))
    elif se not in allowed:
        errs.append(not_supported(_c(path, "sideEffects"), se, allowed))
    ts = hook.get("timeoutSeconds")
    if ts is not None and not 1 <= ts <= 30:
        errs.append(invalid(_c(path, "timeoutSeconds"), ts, "the timeout value must be between 1 and 30 seconds"))
    for k in ("namespaceSelector", "objectSelector"):
        if hook.get(k) is not None:
            errs.extend(validate_label_selector(hook[k], _c(path, k)))
    rp = hook.get("reinvocationPolicy")
    if mutating and rp is not None and rp not in ("IfNeeded", "Never"):
        errs.append(not_supported(_c(path, "reinvocationPolicy"), rp, ["IfNeeded", "Never"]))
    cc = _dd(hook.get("clientConfig"))
    if (cc.get("url") is None) == (cc.get("service") is None):
        errs.append(required(_c(path, "clientConfig"), "exactly one of url or service is required"))
    elif cc.get("url") is not None:
        errs.extend(_webhook_url(str(cc["url"]), _c(path, "clientConfig.url")))
    else:
        errs.extend(_webhook_service(_dd(cc.get("service")), _c(path, "clientConfig.service")))
    if hook.get("matchConditions"):
        # CEL is not evaluated here: a configuration that needs it is refused rather than half-honoured.
        errs.append(forbidden(_c(path, "matchConditions"), "matchConditions (CEL) are not supported by kubeling"))
    return errs


def _webhook_configuration(cfg: Obj, old: Obj | None = None) -> list[Cause]:
    """validate{Mutating,Validating}WebhookConfiguration; on update, the strict checks apply only if
    the old configuration passed them (upstream's ratcheting)."""
    mutating = cfg.get("kind") == "MutatingWebhookConfiguration"
    old_hooks = _dl((old or {}).get("webhooks"))
    no_side = old is None or all(h.get("sideEffects") in ("None", "NoneOnDryRun") for h in old_hooks)
    must_accept = old is None or all(
        not h.get("admissionReviewVersions") or set(h["admissionReviewVersions"]) & set(_WEBHOOK_REVIEW_VERSIONS)
        for h in old_hooks)
    old_names = [h.get("name") for h in old_hooks]
    unique = old is None or len(old_names) == len(set(old_names))
    errs = validate_object_meta(cfg, False, name_is_dns_subdomain)
    names: set[str] = set()
    for i, hook in enumerate(_dl(cfg.get("webhooks"))):
        path = f"webhooks[{i}]"
        errs.extend(_webhook(hook, path, mutating, no_side))
        errs.extend(_webhook_review_versions(hook.get("admissionReviewVersions") or [],
                                             f"{path}.admissionReviewVersions", must_accept))
        name = hook.get("name")
        if unique and name:
            if name in names:
                errs.append(duplicate(f"{path}.name", name))
            names.add(name)
    return errs


def _webhook_configuration_update(cfg: Obj, old: Obj) -> list[Cause]:
    errs = validate_object_meta_update(cfg, old)
    errs.extend(_webhook_configuration(cfg, old))
    return errs


_KINDS: dict[str, tuple[Create, Update, Update]] = {
    "pods": (_pod_create, _pod_update, _pod_status),
    "services": (_service_create, _service_update, _service_status),
    "namespaces": (_namespace, _meta_only_update, _namespace_status),
    "nodes": (_node, _node_full_update, _node_update),
    "configmaps": (_configmap, _configmap_update, _meta_only_update),
    "secrets": (_secret, _secret_update, _meta_only_update),
    "serviceaccounts": (_serviceaccount, _meta_then(_serviceaccount), _meta_only_update),
    "endpoints": (_endpoints, _meta_then(_endpoints), _meta_only_update),
    "events": (_event, _event_update, _meta_only_update),
    "events.events.k8s.io": (_events_v1, _events_v1_update, _meta_only_update),
    "persistentvolumes": (_pv_create, _pv_update, _meta_only_update),
    "persistentvolumeclaims": (_pvc, _pvc_update, _pvc_status),
    "resourcequotas": (_resourcequota, _resourcequota_update, _resourcequota_status),
    "limitranges": (_limitrange, _meta_then(_limitrange), _meta_only_update),
    "statefulsets.apps": (_statefulset, _statefulset_update, _sts_status),
    "daemonsets.apps": (_daemonset, _daemonset_update, _ds_status),
    "deployments.apps": (_deployment, _deployment_update, _deployment_status),
    "replicasets.apps": (_replicaset, _replicaset_update, _rs_status),
    "replicationcontrollers": (_replicationcontroller, _replicationcontroller_update, _rs_status),
    "podtemplates": (_podtemplate, _podtemplate_update, _meta_only_update),
    "controllerrevisions.apps": (_controllerrevision, _controllerrevision_update, _meta_only_update),
    "jobs.batch": (_job_create, _job_update, _job_status),
    "cronjobs.batch": (_cronjob_create, _cronjob_update, _meta_only_update),
    "storageclasses.storage.k8s.io": (_storageclass, _storageclass_update, _meta_only_update),
    "ingresses.networking.k8s.io": (_ingress, _ingress_update, _ingress_status),
    "ingressclasses.networking.k8s.io": (_ingressclass, _ingressclass_update, _meta_only_update),
    "networkpolicies.networking.k8s.io": (_networkpolicy, _networkpolicy_update, _meta_only_update),
    "priorityclasses.scheduling.k8s.io": (_priorityclass, _priorityclass_update, _meta_only_update),
    "certificatesigningrequests.certificates.k8s.io": (_csr_create, _csr_update, _csr_status),
    "runtimeclasses.node.k8s.io": (_runtimeclass, _runtimeclass_update, _meta_only_update),
    "csidrivers.storage.k8s.io": (_csidriver, _csidriver_update, _meta_only_update),
    "csinodes.storage.k8s.io": (_csinode, _csinode_update, _meta_only_update),
    "volumeattachments.storage.k8s.io": (_volumeattachment, _volumeattachment_update, _meta_only_update),
    "csistoragecapacities.storage.k8s.io": (_csistoragecapacity, _csistoragecapacity_update, _meta_only_update),
    "flowschemas.flowcontrol.apiserver.k8s.io": (_flowschema, _meta_then(_flowschema), _meta_only_update),
    "apiservices.apiregistration.k8s.io": (_apiservice, _meta_then(_apiservice), _meta_only_update),
    "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io": (
        _prioritylevel, _meta_then(_prioritylevel), _meta_only_update),
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": (
        _webhook_configuration, _webhook_configuration_update, _meta_only_update),
    "validatingwebhookconfigurations.admissionregistration.k8s.io": (
        _webhook_configuration, _webhook_configuration_update, _meta_only_update),
    "leases.coordination.k8s.io": (_lease, _lease_update, _meta_only_update),
    "endpointslices.discovery.k8s.io": (_endpointslice_create, _endpointslice_update, _meta_only_update),
    "poddisruptionbudgets.policy": (_pdb, _pdb_update, _pdb_status),
    "horizontalpodautoscalers.autoscaling": (_hpa, _hpa_update, _hpa_status),
    "roles.rbac.authorization.k8s.io": (_role, _meta_then(_role), _meta_only_update),
    "clusterroles.rbac.authorization.k8s.io": (_clusterrole, _meta_then(_clusterrole), _meta_only_update),
    "rolebindings.rbac.authorization.k8s.io": (
        _rolebinding, lambda b, old: _rbac_binding_update(b, old, True), _meta_only_update),
    "clusterrolebindings.rbac.authorization.k8s.io": (
        _clusterrolebinding, lambda b, old: _rbac_binding_update(b, old, False), _meta_only_update),
}


def _namespaced(resource: str, obj: Obj) -> bool:
    info = dflt.RESOURCES.get(resource)
    if info is not None:
        return info[3]
    return bool(_dd(obj.get("metadata")).get("namespace"))


def _common(obj: Obj, old: Obj | None, namespaced: bool) -> list[Cause]:
    """rest.BeforeCreate/BeforeUpdate's generic ObjectMeta checks (apimachinery flavour)."""
    errs = validate_object_meta(obj, namespaced, name_is_path_segment, kube_finalizers=False)
    if old is not None:
        errs.extend(validate_object_meta_update(obj, old, kube_finalizers=False))
    return errs


def validate(resource: str, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Causes for a create (old is None) or an update of the main resource; empty means valid."""
    namespaced = _namespaced(resource, obj)
    fns = _KINDS.get(resource)
    if old is None:
        errs = fns[0](obj) if fns else []
        return errs or _common(obj, None, namespaced)
    errs = _common(obj, old, namespaced)
    if fns:
        errs.extend(fns[1](obj, old))
    return errs


def validate_status(resource: str, obj: Obj, old: Obj) -> list[Cause]:
    """Causes for an update through the /status subresource."""
    errs = _common(obj, old, _namespaced(resource, obj))
    fns = _KINDS.get(resource)
    errs.extend(fns[2](obj, old) if fns else validate_object_meta_update(obj, old))
    return errs


# --------------------------------------------------------------------------------------------
# Strict field validation
# --------------------------------------------------------------------------------------------

def unknown_fields(def_name: str, obj: Obj, old: Obj | None = None) -> list[str]:
    """Paths of fields the schema does not know, in document order (fieldValidation=Strict).

    `old` is an optional hint, the stored version: a subtree equal to the stored one (which holds no
    unknown field) is not walked again."""
    sh = dflt.shape_for(def_name)
    if not _any_unknown(sh, obj, old):  # every write asks; almost none has one, so skip building paths
        return []
    out: list[str] = []
    _walk_unknown(sh, obj, "", out)
    return out


def _any_unknown(sh: Any, value: Any, old: Any = None) -> bool:
    kind = sh.kind
    if kind == "struct":
        if not isinstance(value, dict):
            return False
        props = sh.props
        if old.__class__ is not dict:
            old = None
        for k, v in value.items():
            child = props.get(k)
            if child is None:
                return True
            if v is None or not isinstance(v, (dict, list)):
                continue
            ov = old.get(k) if old is not None else None
            if ov is not None and (ov is v or ov == v):
                continue  # as stored: known fields only
            if child.__class__ is not dflt._Shape:
                child = props[k] = dflt._resolved(child)
            ck = child.kind
            if (ck == "struct" or ck == "list" or ck == "map") and _any_unknown(child, v, ov):
                return True
        return False
    if kind == "list":
        if not value or not isinstance(value, list):
            return False
        sub = sh.sub
        if sub.__class__ is not dflt._Shape:
            sub = sh.sub = dflt._resolved(sub)
        if sub.kind not in ("struct", "list", "map"):
            return False
        olds = old if old.__class__ is list else ()
        n_old = len(olds)
        for i, item in enumerate(value):
            ov = olds[i] if i < n_old else None
            if ov is not None and (ov is item or ov == item):
                continue
            if _any_unknown(sub, item, ov):
                return True
    elif kind == "map":
        if not value or not isinstance(value, dict):
            return False
        sub = sh.sub
        if sub.__class__ is not dflt._Shape:
            sub = sh.sub = dflt._resolved(sub)
        if sub.kind not in ("struct", "list", "map"):
            return False
        if old.__class__ is not dict:
            old = None
        for k, item in value.items():
            ov = old.get(k) if old is not None else None
            if ov is not None and (ov is item or ov == item):
                continue
            if _any_unknown(sub, item, ov):
                return True
    return False


def _walk_unknown(sh: Any, value: Any, path: str, out: list[str]) -> None:
    kind = sh.kind
    if kind == "struct":
        if not isinstance(value, dict):
            return
        for k, v in value.items():
            p = f"{path}.{k}" if path else k
            child = sh.props.get(k)
            if child is None:
                out.append(p)
            elif v is not None:
                sub = dflt._sub(child)
                if sub.kind in ("struct", "list", "map"):
                    _walk_unknown(sub, v, p, out)
    elif kind == "list":
        if isinstance(value, list):
            sub = dflt._sub(sh.sub)
            if sub.kind in ("struct", "list", "map"):
                for i, item in enumerate(value):
                    _walk_unknown(sub, item, f"{path}[{i}]", out)
    elif kind == "map":
        if isinstance(value, dict):
            sub = dflt._sub(sh.sub)
            if sub.kind in ("struct", "list", "map"):
                for k, item in value.items():
                    _walk_unknown(sub, item, f"{path}.{k}", out)


__all__ = ["validate", "validate_status", "unknown_fields", "Go"]

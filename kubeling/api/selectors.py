"""Label and field selectors with upstream syntax and errors."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Requirement = tuple[str, str, tuple[str, ...]]  # key, op, values

_KEY = r"[A-Za-z0-9./_-]+"
_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|" + _KEY + r")")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _tokens(s: str) -> list[str]:
    out = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            raise bad_request(f"unable to parse requirement: found '{s[pos:]}', expected: identifier")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(s: str | None) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`."""
    if not s or not s.strip():
        return []
    toks = _tokens(s)
    reqs: list[Requirement] = []
    i = 0
    n = len(toks)

    def err(msg: str):
        return bad_request(f"unable to parse requirement: {msg}")

    while i < n:
        if toks[i] == "!":
            if i + 1 >= n:
                raise err("found '', expected: identifier")
            reqs.append((toks[i + 1], "!", ()))
            i += 2
        else:
            key = toks[i]
            i += 1
            if i >= n or toks[i] == ",":
                reqs.append((key, "exists", ()))
            elif toks[i] in ("=", "==", "!="):
                op = "!=" if toks[i] == "!=" else "="
                i += 1
                if i < n and toks[i] not in (",",):
                    val = toks[i]
                    i += 1
                else:
                    val = ""
                if not _VALUE_RE.match(val) or len(val) > 63:
                    raise bad_request(f"unable to parse requirement: values[0][{key}]: Invalid value: \"{val}\"")
                reqs.append((key, op, (val,)))
            elif toks[i] in ("in", "notin"):
                op = toks[i]
                i += 1
                if i >= n or toks[i] != "(":
                    raise err(f"found '{toks[i] if i < n else ''}', expected: '('")
                i += 1
                vals = []
                while i < n and toks[i] != ")":
                    if toks[i] != ",":
                        vals.append(toks[i])
                    i += 1
                if i >= n:
                    raise err("found '', expected: ')'")
                i += 1
                reqs.append((key, op, tuple(vals)))
            else:
                raise err(f"found '{toks[i]}', expected: '=', '!=', '==', 'in', notin'")
        if i < n:
            if toks[i] != ",":
                raise err(f"found '{toks[i]}', expected: ','")
            i += 1
    return reqs


def matches_labels(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    for key, op, vals in reqs:
        if op == "=":
            if labels.get(key) != vals[0]:
                return False
        elif op == "!=":
            if labels.get(key) == vals[0]:
                return False
        elif op == "in":
            if key not in labels or labels[key] not in vals:
                return False
        elif op == "notin":
            if key in labels and labels[key] in vals:
                return False
        elif op == "exists":
            if key not in labels:
                return False
        elif op == "!":
            if key in labels:
                return False
    return True


def selector_from_label_selector(sel: dict[str, Any] | None) -> list[Requirement] | None:
    """metav1.LabelSelector → requirements. None means 'matches nothing' (nil selector)."""
    if sel is None:
        return None
    reqs: list[Requirement] = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "=", (v,)))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        key = e.get("key")
        vals = tuple(e.get("values") or ())
        if op == "In":
            reqs.append((key, "in", vals))
        elif op == "NotIn":
            reqs.append((key, "notin", vals))
        elif op == "Exists":
            reqs.append((key, "exists", ()))
        elif op == "DoesNotExist":
            reqs.append((key, "!", ()))
    return reqs


def format_label_selector(sel: dict[str, Any] | None) -> str:
    """kubectl's rendering of a LabelSelector (`app=nginx,tier in (a,b)`)."""
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = ",".join(sorted(e.get("values") or []))
        if op == "In":
            parts.append(f"{e['key']} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{e['key']} notin ({vals})")
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{e['key']}")
    return ",".join(parts) if parts else "<none>"


# ---- field selectors ---------------------------------------------------------

FieldReq = tuple[str, str, str]  # field, op ("=" | "!="), value


def parse_field_selector(s: str | None) -> list[FieldReq]:
    if not s or not s.strip():
        return []
    out = []
    for part in _split_unescaped(s, ","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            idx = _find_unescaped(part, op)
            if idx >= 0:
                field, value = part[:idx].strip(), _unescape(part[idx + len(op):].strip())
                out.append((field, "!=" if op == "!=" else "=", value))
                break
        else:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
    return out


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, cur, esc = [], [], False
    for ch in s:
        if esc:
            cur.append("\\" + ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _find_unescaped(s: str, op: str) -> int:
    i = 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s.startswith(op, i):
            return i
        i += 1
    return -1


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def _get_path(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


# Fields each resource supports in field selectors beyond metadata.name/namespace (upstream's
# GetAttrs / AddFieldLabelConversionFunc per kind).
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"),
    "events.events.k8s.io": ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                             "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
                             "reason", "reportingController", "type"),
    "nodes": ("spec.unschedulable",),
    "namespaces": ("status.phase",),
    "secrets": ("type",),
    "persistentvolumeclaims": (),
    "replicasets.apps": ("status.replicas",),
    "replicationcontrollers": ("status.replicas",),
    "services": ("spec.clusterIP", "spec.type"),
    "persistentvolumes": (),
    "certificatesigningrequests.certificates.k8s.io": ("spec.signerName",),
}


def compile_field_selector(resource: str, reqs: list[FieldReq]) -> Callable[[dict[str, Any]], bool] | None:
    if not reqs:
        return None
    allowed = FIELD_LABELS.get(resource, ())
    getters = []
    for field, op, value in reqs:
        if field in ("metadata.name", "metadata.namespace"):
            path = field
        elif field in allowed:
            path = field
        else:
            raise bad_request(f'field label not supported: {field}')
        getters.append((path, op, value))

    def match(obj: dict[str, Any]) -> bool:
        for path, op, value in getters:
            v = _get_path(obj, path)
            if path == "source" and isinstance(v, dict):
                v = v.get("component")
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif v is None:
                v = ""
            else:
                v = str(v)
            if (v == value) != (op == "="):
                return False
        return True

    return match


def exact_name(reqs: list[FieldReq]) -> str | None:
    """The name a `metadata.name=X` selector pins, so a list can be a single lookup."""
    for field, op, value in reqs:
        if field == "metadata.name" and op == "=":
            return value
    return None

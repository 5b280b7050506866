"""CustomResourceDefinitions (apiextensions.k8s.io/v1): defaults, validation, and the in-apiserver controllers.

Upstream runs the naming, establishing and finalizer controllers inside the apiextensions-apiserver,
next to the handler that serves the custom resources; kubeling does the same: `CRDController` watches
CRDs in the store, registers each established version as a dynamic ResourceType (api.resources), writes
status.acceptedNames and the NamesAccepted/Established/Terminating conditions, and on deletion removes
every custom resource before dropping the `customresourcecleanup.apiextensions.k8s.io` finalizer.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any

from . import customresource, errors, meta, resources, schema
from .resources import ResourceType

log = logging.getLogger("kubeling.crd")

QUALIFIED = "customresourcedefinitions.apiextensions.k8s.io"
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
Obj = dict[str, Any]
Cause = dict[str, str]

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


# ---------------------------------------------------------------------------------------------
# Defaults and strategy

def set_defaults(obj: Obj) -> None:
    """apiextensions v1 SetDefaults: conversion strategy None, names.singular and names.listKind."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    conv = spec.get("conversion")
    if not isinstance(conv, dict):
        conv = spec["conversion"] = {"strategy": "None"}
    conv.setdefault("strategy", "None")
    svc = _d(_d(_d(conv.get("webhook")).get("clientConfig")).get("service"))
    if svc and "port" not in svc:
        svc["port"] = 443
    names = spec.get("names")
    if isinstance(names, dict):
        if not names.get("singular") and isinstance(names.get("kind"), str):
            names["singular"] = names["kind"].lower()
        if not names.get("listKind") and isinstance(names.get("kind"), str) and names["kind"]:
            names["listKind"] = names["kind"] + "List"


def storage_version(obj: Obj) -> str | None:
    for v in _l(_d(obj.get("spec")).get("versions")):
        if isinstance(v, dict) and v.get("storage"):
            return v.get("name")
    return None


def prepare_for_create(obj: Obj) -> None:
    """Status starts empty but for storedVersions; generation 1 (upstream strategy PrepareForCreate)."""
    status: dict[str, Any] = {"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": []}
    sv = storage_version(obj)
    if sv:
        status["storedVersions"] = [sv]
    obj["status"] = status
    obj["metadata"]["generation"] = 1


def prepare_for_update(obj: Obj, old: Obj) -> None:
    """Status kept, generation bumped on spec change, the (new) storage version recorded as stored."""
    set_defaults(obj)
    obj["status"] = copy.deepcopy(old.get("status") or {})
    md, omd = obj["metadata"], old.get("metadata") or {}
    gen = omd.get("generation") or 0
    md["generation"] = gen + 1 if obj.get("spec") != old.get("spec") else gen
    sv = storage_version(obj)
    stored = obj["status"].setdefault("storedVersions", [])
    if sv and sv not in stored:
        stored.append(sv)


def mark_deleting(obj: Obj) -> None:
    """First DELETE of a CRD: the cleanup finalizer and a Terminating condition (upstream's CRD REST Delete)."""
    md = obj["metadata"]
    if md.get("deletionTimestamp"):
        return
    fins = md.setdefault("finalizers", [])
    if FINALIZER not in fins:
        fins.append(FINALIZER)
    set_condition(obj, "Terminating", "True", "InstanceDeletionPending",
                  "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")


def set_condition(obj: Obj, typ: str, status: str, reason: str, message: str) -> bool:
    """Set a status condition (lastTransitionTime only moves when status changes); True when anything changed."""
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    if conds is None:
        conds = obj["status"]["conditions"] = []
    for c in conds:
        if c.get("type") == typ:
            if c.get("status") == status and c.get("reason") == reason and c.get("message") == message:
                return False
            if c.get("status") != status:
                c["lastTransitionTime"] = meta.now_rfc3339()
            c.update(status=status, reason=reason, message=message)
            return True
    conds.append({"type": typ, "status": status, "lastTransitionTime": meta.now_rfc3339(), "reason": reason,
                  "message": message})
    return True


def condition_true(obj: Obj, typ: str) -> bool:
    return any(c.get("type") == typ and c.get("status") == "True"
               for c in _l(_d(obj.get("status")).get("conditions")) if isinstance(c, dict))


# ---------------------------------------------------------------------------------------------
# Validation

def _fmt_versions(versions: Any) -> str:
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(
        f'apiextensions.CustomResourceDefinitionVersion{{Name:"{_d(v).get("name", "")}", '
        f'Served:{str(bool(_d(v).get("served"))).lower()}, Storage:{str(bool(_d(v).get("storage"))).lower()}}}'
        for v in _l(versions)) + "}"


def _versions_invalid(versions: Any, detail: str) -> Cause:
    return {"type": "FieldValueInvalid", "field": "spec.versions",
            "message": f"Invalid value: {_fmt_versions(versions)}: {detail}"}


def validate_create(obj: Obj) -> list[Cause]:
    errs = _validate_name(obj)
    errs.extend(_validate_spec(_d(obj.get("spec"))))
    errs.extend(_validate_stored(obj))
    return errs


def validate_update(obj: Obj, old: Obj) -> list[Cause]:
    errs = _validate_spec(_d(obj.get("spec")))
    spec, ospec = _d(obj.get("spec")), _d(old.get("spec"))
    if condition_true(old, "Established"):
        if spec.get("scope") != ospec.get("scope"):
            errs.append(errors.invalid_value("spec.scope", spec.get("scope"), "field is immutable"))
        if _d(spec.get("names")).get("kind") != _d(ospec.get("names")).get("kind"):
            errs.append(errors.invalid_value("spec.names.kind", _d(spec.get("names")).get("kind"),
                                             "field is immutable"))
    if spec.get("group") != ospec.get("group"):
        errs.append(errors.invalid_value("spec.group", spec.get("group"), "field is immutable"))
    if _d(spec.get("names")).get("plural") != _d(ospec.get("names")).get("plural"):
        errs.append(errors.invalid_value("spec.names.plural", _d(spec.get("names")).get("plural"),
                                         "field is immutable"))
    errs.extend(_validate_stored(obj))
    return errs


def validate_status_update(obj: Obj, old: Obj) -> list[Cause]:
    return _validate_names(_d(_d(obj.get("status")).get("acceptedNames")), "status.acceptedNames")


def _validate_name(obj: Obj) -> list[Cause]:
    name = _d(obj.get("metadata")).get("name", "")
    spec = _d(obj.get("spec"))
    want = f'{_d(spec.get("names")).get("plural", "")}.{spec.get("group", "")}'
    if name and name != want:
        return [errors.invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group')]
    return []


def _validate_stored(obj: Obj) -> list[Cause]:
    stored = _l(_d(obj.get("status")).get("storedVersions"))
    if not stored:
        return [{"type": "FieldValueInvalid", "field": "status.storedVersions",
                 "message": "Invalid value: []string{}: must have at least one stored version"}]
    return []


def _validate_spec(spec: dict[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    group = spec.get("group")
    if not group:
        errs.append(errors.required("spec.group"))
    elif not isinstance(group, str) or len(group) > 253 or not all(_DNS1123_LABEL.match(p) for p in group.split(".")):
        errs.append(errors.invalid_value("spec.group", group, _SUBDOMAIN_MSG))
    elif "." not in group:
        errs.append(errors.invalid_value("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope")
    if not scope:
        errs.append(errors.required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(errors.unsupported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = _l(spec.get("versions"))
    if not versions:
        errs.append(errors.required("spec.versions", "must have exactly one version marked as storage version"))
    storage = 0
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        v = _d(v)
        p = f"spec.versions[{i}]"
        if v.get("storage"):
            storage += 1
        vname = v.get("name", "")
        if vname in seen:
            unique = False
        seen.add(vname)
        if not isinstance(vname, str) or not _DNS1035.match(vname) or len(vname) > 63:
            errs.append(errors.invalid_value(f"{p}.name", vname, _DNS1035_MSG))
        subs = _d(v.get("subresources"))
        errs.extend(_validate_schema(v.get("schema"), f"{p}.schema", "status" in subs))
        errs.extend(_validate_subresources(subs, f"{p}.subresources"))
        for j, c in enumerate(_l(v.get("additionalPrinterColumns"))):
            errs.extend(_validate_column(_d(c), f"{p}.additionalPrinterColumns[{j}]"))
    if versions and not unique:
        errs.append(_versions_invalid(versions, "must contain unique version names"))
    if versions and storage != 1:
        errs.append(_versions_invalid(versions, "must have exactly one version marked as storage version"))
    names = _d(spec.get("names"))
    for k in ("plural", "singular", "kind", "listKind"):
        if not names.get(k):
            errs.append(errors.required(f"spec.names.{k}"))
    errs.extend(_validate_names(names, "spec.names"))
    conv = spec.get("conversion")
    if isinstance(conv, dict):
        st = conv.get("strategy")
        if not st:
            errs.append(errors.required("spec.conversion.strategy"))
        elif st not in ("None", "Webhook"):
            errs.append(errors.unsupported("spec.conversion.strategy", st, ["None", "Webhook"]))
        elif st == "Webhook" and not _d(conv.get("webhook")).get("clientConfig"):
            errs.append(errors.required("spec.conversion.webhook", "required when strategy is set to Webhook"))
        if st == "Webhook":
            errs.extend(_validate_review_versions(_d(conv.get("webhook")).get("conversionReviewVersions")))
    return errs


def _validate_review_versions(versions: Any) -> list[Cause]:
    """conversionReviewVersions of a Webhook conversion (upstream validates the internal field's path)."""
    path = "spec.conversion.conversionReviewVersions"
    versions = _l(versions)
    if not versions:
        return [errors.required(path)]
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, v in enumerate(versions):
        if v in seen:
            errs.append(errors.invalid_value(f"{path}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        if not isinstance(v, str) or not _DNS1035.match(v) or len(v) > 63:
            errs.append(errors.invalid_value(f"{path}[{i}]", v, _DNS1035_MSG))
    if not seen & {"v1", "v1beta1"}:
        shown = "[]string{" + ", ".join(f'"{v}"' for v in versions) + "}"
        errs.append({"type": "FieldValueInvalid", "field": path,
                     "message": f"Invalid value: {shown}: must include at least one of v1, v1beta1"})
    return errs


def _validate_names(names: dict[str, Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    for k in ("plural", "singular"):
        v = names.get(k)
        if v and (not isinstance(v, str) or not _DNS1035.match(v) or len(v) > 63):
            errs.append(errors.invalid_value(f"{path}.{k}", v, _DNS1035_MSG))
    for k in ("kind", "listKind"):
        v = names.get(k)
        if v and (not isinstance(v, str) or not _DNS1035.match(v.lower()) or len(v) > 63):
            errs.append(errors.invalid_value(f"{path}.{k}", v,
                                             "may have mixed case, but should otherwise match: " + _DNS1035_MSG))
    for i, s in enumerate(_l(names.get("shortNames"))):
        if not isinstance(s, str) or not _DNS1035.match(s) or len(s) > 63:
            errs.append(errors.invalid_value(f"{path}.shortNames[{i}]", s, _DNS1035_MSG))
    for i, s in enumerate(_l(names.get("categories"))):
        if not isinstance(s, str) or not _DNS1035.match(s) or len(s) > 63:
            errs.append(errors.invalid_value(f"{path}.categories[{i}]", s, _DNS1035_MSG))
    return errs


def _validate_subresources(subs: dict[str, Any], path: str) -> list[Cause]:
    scale = subs.get("scale")
    if not isinstance(scale, dict):
        return []
    errs: list[Cause] = []
    for k in ("specReplicasPath", "statusReplicasPath"):
        v = scale.get(k)
        if not v:
            errs.append(errors.required(f"{path}.scale.{k}"))
        elif not isinstance(v, str) or not v.startswith("."):
            errs.append(errors.invalid_value(f"{path}.scale.{k}", v, "should be a json path under .spec"
                                             if k == "specReplicasPath" else "should be a json path under .status"))
        elif k == "specReplicasPath" and not v.startswith(".spec."):
            errs.append(errors.invalid_value(f"{path}.scale.{k}", v, "should be a json path under .spec"))
        elif k == "statusReplicasPath" and not v.startswith(".status."):
            errs.append(errors.invalid_value(f"{path}.scale.{k}", v, "should be a json path under .status"))
    return errs


def _validate_column(c: dict[str, Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not c.get("name"):
        errs.append(errors.required(f"{path}.name"))
    if not c.get("type"):
        errs.append(errors.required(f"{path}.type", f"must be one of {', '.join(sorted(_COLUMN_TYPES))}"))
    elif c["type"] not in _COLUMN_TYPES:
        errs.append(errors.unsupported(f"{path}.type", c["type"], sorted(_COLUMN_TYPES)))
    if not c.get("jsonPath"):
        errs.append(errors.required(f"{path}.jsonPath"))
    return errs


def _validate_schema(sch: Any, path: str, status_enabled: bool) -> list[Cause]:
    """v1 requires a structural schema: the common violations with upstream's messages."""
    root = _d(sch).get("openAPIV3Schema")
    p = f"{path}.openAPIV3Schema"
    if not isinstance(root, dict):
        return [errors.required(p, "schemas are required")]
    errs: list[Cause] = []
    t = root.get("type")
    if not t:
        errs.append(errors.required(f"{p}.type", "must not be empty at the root"))
    elif t != "object":
        errs.append(errors.invalid_value(f"{p}.type", t, "must be object at the root"))
    md = _d(_d(root.get("properties")).get("metadata"))
    if md and (set(_d(md.get("properties"))) - {"name", "generateName"}):
        errs.append(errors.forbidden_field(f"{p}.properties[metadata]",
                                           "must not specify anything other than name and generateName, "
                                           "but metadata is implicitly specified"))
    _structural(root, p, errs, True)
    return errs


def _structural(node: dict[str, Any], path: str, errs: list[Cause], root: bool = False) -> None:
    props = _d(node.get("properties"))
    for k, sub in props.items():
        sp = f"{path}.properties[{k}]"
        if not isinstance(sub, dict):
            continue
        if not sub.get("type") and not sub.get("x-kubernetes-int-or-string") and not sub.get(
                "x-kubernetes-preserve-unknown-fields"):
            errs.append(errors.required(f"{sp}.type", "must not be empty for specified object fields"))
        _structural(sub, sp, errs)
    items = node.get("items")
    if node.get("type") == "array":
        if not isinstance(items, dict):
            errs.append(errors.required(f"{path}.items", "must be specified"))
        else:
            if not items.get("type") and not items.get("x-kubernetes-int-or-string") and not items.get(
                    "x-kubernetes-preserve-unknown-fields"):
                errs.append(errors.required(f"{path}.items.type", "must not be empty for specified array items"))
            _structural(items, f"{path}.items", errs)
    ap = node.get("additionalProperties")
    if isinstance(ap, dict):
        if props:
            errs.append(errors.forbidden_field(f"{path}.additionalProperties",
                                               "additionalProperties and properties are mutual exclusive"))
        if not ap.get("type") and not ap.get("x-kubernetes-int-or-string") and not ap.get(
                "x-kubernetes-preserve-unknown-fields"):
            errs.append(errors.required(f"{path}.additionalProperties.type",
                                        "must not be empty for specified additionalProperties"))
        _structural(ap, f"{path}.additionalProperties", errs)
    for i, rule in enumerate(_l(node.get("x-kubernetes-validations"))):
        err = _rule_compile_error(_d(rule))
        if err:
            errs.append({"type": "FieldValueInvalid", "field": f"{path}.x-kubernetes-validations[{i}].rule",
                         "message": f"Invalid value: {_fmt_rule(_d(rule))}: compilation failed: {err}"})
    if node.get("x-kubernetes-int-or-string") and node.get("type"):
        errs.append(errors.invalid_value(f"{path}.type", node["type"],
                                         "must be empty if x-kubernetes-int-or-string is true"))


def _rule_compile_error(rule: dict[str, Any]) -> str:
    """The parser's complaint about a CEL rule ("" when it compiles, or when CEL is not available)."""
    expr = rule.get("rule")
    if not isinstance(expr, str) or not expr.strip():
        return ""
    try:
        customresource.compile_rule(expr)
    except ValueError as e:
        msg = str(e)
        return msg.split("': ", 1)[1] if msg.startswith("Failed to parse expression '") and "': " in msg else msg
    return ""


def _fmt_rule(rule: dict[str, Any]) -> str:
    """A ValidationRule as Go's %#v prints it in upstream's error."""
    def q(k: str) -> str:
        return '"' + str(rule.get(k) or "").replace("\\", "\\\\").replace('"', '\\"') + '"'
    return (f"apiextensions.ValidationRule{{Rule:{q('rule')}, Message:{q('message')}, "
            f"MessageExpression:{q('messageExpression')}, Reason:(*apiextensions.FieldValueErrorReason)(nil), "
            f"FieldPath:{q('fieldPath')}, OptionalOldSelf:(*bool)(nil)}}")


# ---------------------------------------------------------------------------------------------
# Serving: CRD -> dynamic ResourceTypes

def resource_types(obj: Obj) -> tuple[list[ResourceType], ResourceType | None]:
    """The served versions (preferred first, as upstream sorts them) and the storage version's type."""
    spec = _d(obj.get("spec"))
    names = _d(_d(obj.get("status")).get("acceptedNames")) or _d(spec.get("names"))
    group = spec.get("group", "")
    kind = names.get("kind") or _d(spec.get("names")).get("kind", "")
    plural = names.get("plural") or _d(spec.get("names")).get("plural", "")
    list_kind = names.get("listKind") or kind + "List"
    sv = storage_version(obj) or ""
    served: list[ResourceType] = []
    storage_rt = None
    conv = _d(spec.get("conversion"))
    webhook = _d(_d(conv.get("webhook")).get("clientConfig")) if conv.get("strategy") == "Webhook" else None
    for v in sorted((_d(v) for v in _l(spec.get("versions"))), key=lambda v: _version_priority(v.get("name", ""))):
        subs = _d(v.get("subresources"))
        sch = _d(v.get("schema")).get("openAPIV3Schema")
        info = customresource.CustomInfo(
            crd=obj["metadata"]["name"], schema=sch if isinstance(sch, dict) else None, status="status" in subs,
            scale=subs.get("scale") if isinstance(subs.get("scale"), dict) else None,
            columns=[_d(c) for c in _l(v.get("additionalPrinterColumns"))], storage_version=sv, list_kind=list_kind,
            warning=_deprecation_warning(spec, v, kind), webhook=webhook)
        sub_names = tuple(s for s in ("status", "scale") if s in subs)
        rt = ResourceType(group, v.get("name", ""), kind, plural, names.get("singular") or kind.lower(),
                          spec.get("scope") == "Namespaced", short_names=tuple(names.get("shortNames") or ()),
                          categories=tuple(names.get("categories") or ()), subresources=sub_names,
                          has_status="status" in subs, custom=info)
        object.__setattr__(rt, "def_name", customresource.def_name_for(group, rt.version, kind))
        if v.get("name") == sv:
            storage_rt = rt
        if v.get("served"):
            served.append(rt)
    return served, storage_rt


def _deprecation_warning(spec: dict[str, Any], v: dict[str, Any], kind: str) -> str:
    """deprecationWarning, or upstream's default naming the most preferred served, non-deprecated newer version."""
    if not v.get("deprecated"):
        return ""
    if isinstance(v.get("deprecationWarning"), str):
        return v["deprecationWarning"]
    name = v.get("name", "")
    group = spec.get("group", "")
    msg = f"{group}/{name} {kind} is deprecated"
    mine = _version_priority(name)
    better = sorted(_version_priority(o.get("name", "")) for o in map(_d, _l(spec.get("versions")))
                     if o.get("served") and not o.get("deprecated") and _version_priority(o.get("name", "")) < mine)
    if better:
        msg += f"; use {group}/{better[0][3]} {kind}"
    return msg


_VER = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def _version_priority(v: str) -> tuple[int, int, int, str]:
    """Kube-aware version order: GA > beta > alpha, higher numbers first, then other versions alphabetically."""
    m = _VER.match(v)
    if m is None:
        return (3, 0, 0, v)
    major = int(m.group(1))
    if m.group(2) is None:
        return (0, -major, 0, v)
    return (1 if m.group(2) == "beta" else 2, -major, -int(m.group(3)), v)


def _install(obj: Obj) -> None:
    served, storage_rt = resource_types(obj)
    qualified = f'{_d(_d(obj.get("spec")).get("names")).get("plural", "")}.{_d(obj.get("spec")).get("group", "")}'
    defs = schema.definitions()
    for rt in served + ([storage_rt] if storage_rt is not None else []):
        ci = rt.custom
        defs.update(customresource.openapi_definitions(rt.group, rt.version, rt.kind, ci.list_kind, ci.schema))
        from . import apply as ssa

        ssa.RESET_FIELDS[(rt.def_name, "")] = (("status",),) if ci.status else ()
        ssa.RESET_FIELDS[(rt.def_name, "status")] = tuple((k,) for k in ("spec",)) if ci.status else ()
    _clear_caches()
    resources.set_custom(qualified, served, storage_rt)


def _uninstall(obj: Obj) -> None:
    spec = _d(obj.get("spec"))
    qualified = f'{_d(spec.get("names")).get("plural", "")}.{spec.get("group", "")}'
    resources.set_custom(qualified, [], None)


def _clear_caches() -> None:
    """Definitions changed: drop what was derived from the old ones (SSA type trees, shapes, GVK lookups)."""
    from . import apply as ssa
    from . import defaults as dflt

    for fn in (ssa._root, ssa._gvks, ssa._zero_json, ssa._skip_tree, dflt.shape_for, schema.def_for_gvk):
        fn.cache_clear()
    dflt._def_shapes.clear()


class CRDController:
    """Naming + establishing + finalizer controllers over the registry, as upstream runs them in the apiserver."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.rt = resources.by_qualified(QUALIFIED)
        self._task: asyncio.Task | None = None
        self._cleanups: dict[str, asyncio.Task] = {}

    def load(self) -> None:
        """Serve what the store holds before the API server accepts requests (a restart keeps CRs served)."""
        items, _ = self.registry.store.list(self.rt.key_prefix())
        for kv in items:
            if condition_true(kv.obj, "Established"):
                _install(kv.obj)

    def start(self) -> asyncio.Task:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    async def stop(self) -> None:
        for t in [self._task, *self._cleanups.values()]:
            if t is not None:
                t.cancel()

    async def _run(self) -> None:
        from ..storage.base import DELETED

        while True:
            try:
                items, rev = self.registry.store.list(self.rt.key_prefix())
                for kv in items:
                    await self._sync(kv.obj)
                w = self.registry.store.watch(self.rt.key_prefix(), rev)
                try:
                    while True:
                        ev = await w.next()
                        if ev is None:
                            if w.closed:
                                break
                            continue
                        if ev.type == DELETED:
                            _uninstall(ev.kv.obj)
                        else:
                            await self._sync(ev.kv.obj)
                finally:
                    w.close()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CRD controller failed; restarting")
                await asyncio.sleep(1)

    async def _sync(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if obj["metadata"].get("deletionTimestamp"):
            if FINALIZER in (obj["metadata"].get("finalizers") or []) and name not in self._cleanups:
                t = asyncio.get_running_loop().create_task(self._cleanup(name))
                self._cleanups[name] = t
                t.add_done_callback(lambda _t: self._cleanups.pop(name, None))
            return
        new = copy.deepcopy(obj)
        accepted, reason, message = self._names_accepted(obj)
        if accepted:
            names = copy.deepcopy(_d(_d(obj.get("spec")).get("names")))
            new.setdefault("status", {})["acceptedNames"] = names
            set_condition(new, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
            set_condition(new, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
        else:
            set_condition(new, "NamesAccepted", "False", reason, message)
            if not condition_true(obj, "Established"):
                set_condition(new, "Established", "False", "NotAccepted", "not all names are accepted")
        if condition_true(new, "Established"):
            _install(new)
        if new.get("status") != obj.get("status"):
            await self._write_status(name, new.get("status"))

    def _names_accepted(self, obj: Obj) -> tuple[bool, str, str]:
        """Whether spec.names collide with names another CRD of the group has accepted (upstream naming controller)."""
        spec = _d(obj.get("spec"))
        names = _d(spec.get("names"))
        items, _ = self.registry.store.list(self.rt.key_prefix())
        for kv in items:
            other = kv.obj
            if other["metadata"]["name"] == obj["metadata"]["name"] or _d(other.get("spec")).get("group") != \
                    spec.get("group"):
                continue
            acc = _d(_d(other.get("status")).get("acceptedNames"))
            taken = {acc.get("plural"), acc.get("singular"), *(acc.get("shortNames") or ())} - {None, ""}
            if names.get("plural") in taken:
                return False, "PluralConflict", f'"{names["plural"]}" is already in use'
            if names.get("singular") in taken:
                return False, "SingularConflict", f'"{names["singular"]}" is already in use'
            for s in names.get("shortNames") or ():
                if s in taken:
                    return False, "ShortNamesConflict", f'"{s}" is already in use'
            if names.get("kind") and names.get("kind") in (acc.get("kind"), acc.get("listKind")):
                return False, "KindConflict", f'"{names["kind"]}" is already in use'
            if names.get("listKind") and names.get("listKind") in (acc.get("kind"), acc.get("listKind")):
                return False, "ListKindConflict", f'"{names["listKind"]}" is already in use'
        return True, "", ""

    async def _write_status(self, name: str, status: Any) -> None:
        from .registry import Request

        for _ in range(5):
            kv = self.registry.store.get(self.rt.key(None, name))
            if kv is None:
                return
            obj = kv.copy()
            obj["status"] = copy.deepcopy(status)
            try:
                await self.registry.update(self.rt, None, name, obj,
                                           Request(field_manager="kube-apiserver"), subresource="status")
                return
            except errors.ApiError as e:
                if e.code != 409:
                    log.warning("CRD %s status: %s", name, e.message)
                    return

    async def _cleanup(self, name: str) -> None:
        """Finalizer controller: delete every custom resource, wait until gone, then drop the finalizer."""
        from .registry import Request

        kv = self.registry.store.get(self.rt.key(None, name))
        if kv is None:
            return
        obj = kv.copy()
        set_condition(obj, "Terminating", "True", "InstanceDeletionInProgress",
                      "CustomResource deletion is in progress")
        await self._write_status(name, obj["status"])
        served, storage_rt = resource_types(obj)
        rt = storage_rt or (served[0] if served else None)
        while rt is not None:
            items, _ = self.registry.store.list(rt.key_prefix())
            if not items:
                break
            for item in items:
                md = item.obj["metadata"]
                if md.get("deletionTimestamp"):
                    continue
                try:
                    await self.registry.delete(rt, md.get("namespace"), md["name"], {},
                                               Request(field_manager="kube-apiserver"))
                except errors.ApiError as e:
                    if e.code not in (404, 409):
                        log.warning("deleting %s %s: %s", rt.kind, md["name"], e.message)
            await asyncio.sleep(0.5)
        kv = self.registry.store.get(self.rt.key(None, name))
        if kv is None:
            return
        obj = kv.copy()
        set_condition(obj, "Terminating", "True", "InstanceDeletionCompleted", "removed all instances")
        await self._write_status(name, obj["status"])
        _uninstall(obj)
        for _ in range(5):
            kv = self.registry.store.get(self.rt.key(None, name))
            if kv is None:
                return
            obj = kv.copy()
            obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != FINALIZER]
            try:
                await self.registry.update(self.rt, None, name, obj, Request(field_manager="kube-apiserver"))
                return
            except errors.ApiError as e:
                if e.code != 409:
                    log.warning("CRD %s finalizer: %s", name, e.message)
                    return

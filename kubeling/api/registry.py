"""The generic registry: object semantics shared by every kind, on top of storage.

create/get/list/update/patch/delete/watch with uid, generateName, generation,
resourceVersion concurrency, finalizers, graceful deletion, owner-driven deletion
policies, strict field validation, managedFields, dry-run and admission hooks.
Kind-specific rules come from `strategy`, `defaults` and `validation`.
"""
from __future__ import annotations

import asyncio
import base64
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..storage.base import ADDED, DELETED, KV, MODIFIED, Compacted, KeyExists, KeyNotFound, RevisionConflict
from ..storage.store import Store
from . import apply as ssa
from . import certificates, crd, customresource, defaults, errors, meta, patch, safety, strategy, validation
from .errors import ApiError
from .resources import ResourceType, by_qualified
from .selectors import (
    compile_field_selector,
    exact_name,
    format_label_selector,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

CONFLICT_MSG = "the object has been modified; please apply your changes to the latest version and try again"


@dataclass
class Request:
    """Per-request options that shape a write."""

    dry_run: bool = False
    field_manager: str | None = None
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    force: bool = False
    user: str = "kubernetes-admin"
    warnings: list[str] = field(default_factory=list)
    # The authenticated user (apiserver.auth.UserInfo: name, groups, uid, extra) of an HTTP request;
    # None for in-process clients, which are trusted like system:masters.
    user_info: Any = None
    # The subresource an UPDATE goes through ("status", "binding", ...), set by the registry for admission.
    subresource: str | None = None


# An admission hook: (operation, resource, new object or None, old object or None, request).
Admission = Callable[[str, ResourceType, dict | None, dict | None, Request], Awaitable[None] | None]

Stored = KV | dict


def _obj(s: Stored) -> dict[str, Any]:
    return s.obj if isinstance(s, KV) else s


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.admission: list[Admission] = []
        # Validating admission (LimitRanger's checks, ResourceQuota): runs after object validation, as upstream.
        self.validating: list[Admission] = []

    # ---- helpers -----------------------------------------------------------
    def _key(self, rt: ResourceType, ns: str | None, name: str) -> str:
        return rt.key(ns, name)

    async def _admit(self, op: str, rt: ResourceType, new: dict | None, old: dict | None, req: Request) -> None:
        for hook in self.admission:
            r = hook(op, rt, new, old, req)
            if r is not None:
                await r

    async def _admit_validating(self, op: str, rt: ResourceType, new: dict | None, old: dict | None,
                                req: Request) -> None:
        for hook in self.validating:
            r = hook(op, rt, new, old, req)
            if r is not None:
                await r

    def _check_namespace(self, rt: ResourceType, ns: str | None, creating: bool, name: str = "") -> None:
        if not rt.namespaced:
            return
        if not ns:
            raise errors.bad_request("the server could not find the requested resource")
        nskv = self.store.get(by_qualified("namespaces").key(None, ns))
        if nskv is None:
            raise errors.not_found("namespaces", "", ns)
        if creating and nskv.obj.get("metadata", {}).get("deletionTimestamp"):
            what = f'{rt.qualified} "{name}"' if name else rt.qualified
            raise ApiError(403, "Forbidden",
                           f"{what} is forbidden: unable to create new content in namespace "
                           f"{ns} because it is being terminated",
                           name=name, group=rt.group, kind=rt.plural,
                           causes=[{"type": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
                                    "field": "metadata.namespace"}])

    def _decode_checks(self, rt: ResourceType, obj: Any, ns: str | None, req: Request,
                       decoding: bool = False, stored: KV | None = None) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version is not None and api_version != rt.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.group_version})")
        if kind is not None and kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        obj["apiVersion"] = rt.group_version
        obj["kind"] = rt.kind
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        elif not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request")
            if ns:
                md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if req.user_info is not None and rt.def_name and rt.custom is None:
            # Bodies from the network: wrong JSON types and oversized objects end here (api.safety).
            safety.check_types(rt.def_name, rt.kind, rt.version, obj)
            safety.check_size(obj)
        self._strict_fields(rt, obj, req, decoding, stored.obj if stored is not None else None)
        return obj

    def _strict_fields(self, rt: ResourceType, obj: dict[str, Any], req: Request, decoding: bool = False,
                       old: dict[str, Any] | None = None) -> None:
        # `old` (the stored version, if any) only spares walking subtrees the write did not change.
        # Unknown fields are found (and pruned below) whatever the validation mode; only reporting differs.
        if rt.custom is not None:  # structural pruning of a custom resource (api.customresource)
            unknown = customresource.unknown_fields(rt, obj)
        else:
            unknown = validation.unknown_fields(rt.def_name, obj, old) if rt.def_name else []
        if not unknown:
            return
        if req.field_validation == "Strict":
            msg = ", ".join(f'unknown field "{p}"' for p in unknown)
            # A request body (create/update) fails in the decoder, which names the kind; patches don't.
            pre = f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: ' if decoding else ""
            raise errors.bad_request(f"{pre}strict decoding error: {msg}")
        if req.field_validation == "Warn":
            req.warnings.extend(f'unknown field "{p}"' for p in unknown)
        for p in unknown:
            _prune_path(obj, p)

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                  status_only: bool = False) -> None:
        if status_only:
            causes = validation.validate_status(rt.qualified, obj, old or {})
        else:
            causes = validation.validate(rt.qualified, obj, old)
        if rt.custom is not None:
            causes.extend(customresource.validate(rt, obj, old, status_only))
        elif rt.qualified == crd.QUALIFIED:
            causes.extend(crd.validate_status_update(obj, old or {}) if status_only else
                          crd.validate_create(obj) if old is None else crd.validate_update(obj, old))
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)

    def _manager(self, req: Request) -> str:
        return req.field_manager or "unknown"

    # ---- create ------------------------------------------------------------
    async def create(self, rt: ResourceType, ns: str | None, obj: Any, req: Request | None = None) -> Stored:
        req = req or Request()
        obj = self._decode_checks(rt, obj, ns, req, decoding=True)
        md = obj["metadata"]
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + meta.random_suffix()
            else:
                raise errors.invalid(rt.kind, rt.group, "", [errors.required(
                    "metadata.name", "name or generateName is required")])
        self._check_namespace(rt, ns, creating=True, name=md["name"])
        now = time.time()
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = meta.now_rfc3339(now)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generation"):
            md.pop(k, None)
        _prepare_for_create(rt, obj, md["creationTimestamp"])
        if rt.qualified == certificates.QUALIFIED:  # requestor fields from the authenticated user
            certificates.prepare_for_create(obj, req.user_info if req.user_info is not None else req.user)
        # Ownership is recorded after defaulting but before admission, as upstream's field manager does.
        ssa.update_managed_fields(None, obj, self._manager(req), "Update", rt.def_name, meta.now_rfc3339(now))
        await self._admit("CREATE", rt, obj, None, req)
        self._validate(rt, obj, None)
        await self._admit_validating("CREATE", rt, obj, None, req)
        return await self._store_create(rt, obj, req)

    async def _store_create(self, rt: ResourceType, obj: dict[str, Any], req: Request) -> Stored:
        md = obj["metadata"]
        key = self._key(rt, md.get("namespace"), md["name"])
        customresource.to_storage(rt, obj)  # a custom resource is stored in its CRD's storage version
        if req.dry_run:
            if self.store.get(key) is not None:
                raise errors.already_exists(rt.plural, rt.group, md["name"])
            return customresource.convert_out(rt, obj)
        try:
            return customresource.convert_out(rt, await self.store.create(key, obj))
        except KeyExists:
            raise errors.already_exists(rt.plural, rt.group, md["name"]) from None

    # ---- read --------------------------------------------------------------
    def get(self, rt: ResourceType, ns: str | None, name: str) -> KV:
        if rt.namespaced:
            self._check_ns_param(ns)
        kv = self.store.get(self._key(rt, ns, name))
        if kv is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return kv if rt.custom is None else customresource.convert_out(rt, kv)

    @staticmethod
    def _check_ns_param(ns: str | None) -> None:
        if ns is None:
            raise errors.bad_request("namespace is required")

    async def list_request(self, rt: ResourceType, ns: str | None, *, label_selector: str | None = None,
                           field_selector: str | None = None, limit: int | None = None,
                           continue_token: str | None = None, resource_version: str | None = None,
                           resource_version_match: str | None = None,
                           send_initial_events: str | None = None) -> tuple[list[KV], int, str | None, int | None]:
        """A LIST as the API server serves it: ListOptions validated, then `list`.

        A resourceVersion this store has not reached yet (written through another API server) is
        waited for first: up to 3 s for NotOlderThan, as upstream's watch cache blocks until fresh
        (then 504 Too large resource version); one round trip to etcd for exact reads.
        """
        validate_list_options(resource_version, resource_version_match, continue_token, send_initial_events)
        rv = resource_version or ""
        store = self.store
        target, exact = 0, False
        if continue_token:
            _, target = _decode_continue(continue_token, rt.key_prefix(ns))
            exact = True
        elif rv not in ("", "0"):
            target = _parse_rv(rv)
            exact = resource_version_match == "Exact" or (not resource_version_match and bool(limit))
        if target > store.revision:
            sync = getattr(store, "sync", None)
            if exact:
                if sync is not None:
                    await sync()
            else:
                await store.wait_revision(target, TOO_LARGE_RV_WAIT)
        return self.list(rt, ns, label_selector=label_selector, field_selector=field_selector, limit=limit,
                         continue_token=continue_token, resource_version=resource_version,
                         resource_version_match=resource_version_match)

    def list(self, rt: ResourceType, ns: str | None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_token: str | None = None, resource_version: str | None = None,
             resource_version_match: str | None = None) -> tuple[list[KV], int, str | None, int | None]:
        """(items, revision, continue token, remaining count), with upstream's resourceVersion semantics.

        Every page of a paged list is read at the first page's revision (the token's); a revision
        older than the kept history is 410 Expired. resourceVersion "" reads the latest state, "0"
        any (the latest, and ignores limit as upstream's watch cache does), N with NotOlderThan the
        latest if it is at least N, N with Exact (or with a limit and no match) the state at N.
        remainingItemCount is only given without selectors, as upstream counts keys, not matches.
        """
        labels = parse_label_selector(label_selector)
        freqs = parse_field_selector(field_selector)
        fmatch = compile_field_selector(rt.qualified, freqs)
        name = exact_name(freqs)
        store = self.store
        prefix = rt.key_prefix(ns)
        current = store.revision
        rv = resource_version or ""
        rev = current
        start = ""
        if continue_token:
            start, crv = _decode_continue(continue_token, prefix)
            if rv not in ("", "0"):
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            if crv > 0:  # a negative revision (an inconsistent continuation) reads the latest state
                rev = crv
        elif resource_version_match == "Exact" or (not resource_version_match and limit and rv not in ("", "0")):
            rev = _parse_rv(rv)
        elif rv == "0":
            limit = None
        elif rv:
            want = _parse_rv(rv)
            if want > current:
                raise too_large_resource_version(want, current)
        if rev > current:
            raise ApiError(500, "", "etcdserver: mvcc: required revision is a future revision")
        try:
            if name is not None and (ns or not rt.namespaced):
                kv = store.get_at(rt.key(ns, name), rev)
                items: Any = [kv] if kv is not None and kv.key >= start else []
            elif limit is None and rev == current and not start:
                items, _ = store.list(prefix)  # the hot path: informers and unpaged lists
            else:
                items = store.list_at(prefix, rev, start)
        except Compacted:
            if continue_token:
                raise ApiError(410, "Expired", INCONSISTENT_CONTINUE,
                               continue_token=_encode_continue(start, prefix, -1)) from None
            raise errors.gone("The resourceVersion for the provided list is too old.") from None
        out: list[KV] = []
        more = False
        for kv in items:
            if limit and len(out) >= limit:
                more = True  # any key past a full page, matching or not, as etcd3 store pages
                break
            o = kv.obj
            if labels and not matches_labels(labels, o["metadata"].get("labels")):
                continue
            if fmatch is not None and not fmatch(o):
                continue
            out.append(kv)
        if rt.custom is not None:  # served in the requested version (api.customresource)
            out = [customresource.convert_out(rt, kv) for kv in out]
        if not more:
            return out, rev, None, None
        remaining = None
        if not labels and not freqs:
            remaining = store.count_at(prefix, rev, start) - limit
        return out, rev, _encode_continue(out[-1].key + "\x00", prefix, rev), remaining

    # ---- update ------------------------------------------------------------
    async def update(self, rt: ResourceType, ns: str | None, name: str, obj: Any, req: Request | None = None,
                     subresource: str | None = None) -> Stored:
        req = req or Request()
        obj = self._decode_checks(rt, obj, ns, req, decoding=True,
                                  stored=self.store.get(self._key(rt, ns, name)) if isinstance(name, str) else None)
        md = obj["metadata"]
        if md.get("name") and md["name"] != name:
            raise errors.bad_request("the name of the object ({}) does not match the name on the URL ({})".format(md["name"], name))
        md["name"] = name
        key = self._key(rt, ns, name)
        cur = self.store.get(key)
        if cur is None:
            if rt.qualified in strategy.CREATE_ON_UPDATE and subresource is None:
                return await self.create(rt, ns, obj, req)
            raise errors.not_found(rt.plural, rt.group, name)
        rv = md.get("resourceVersion")
        if rv and rv != cur.obj["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, CONFLICT_MSG)
        return customresource.convert_out(rt, await self._update(rt, cur, obj, req, subresource, "Update"))

    async def _update(self, rt: ResourceType, cur: KV, obj: dict[str, Any], req: Request,
                      subresource: str | None, operation: str) -> Stored:
        """Common tail of update and patch: merge system fields, validate, admit, write."""
        old = cur.obj
        md = obj["metadata"]
        omd = old["metadata"]
        if md.get("uid") and md["uid"] != omd["uid"]:
            raise errors.conflict(rt.plural, rt.group, omd["name"],
                                  f"Precondition failed: UID in precondition: {md['uid']}, UID in object meta: "
                                  f"{omd['uid']}")
        for k in ("uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        md.pop("selfLink", None)
        if rt.qualified == certificates.QUALIFIED:  # spec immutable; /status and /approval own their parts
            certificates.prepare_for_update(obj, old, subresource, meta.now_rfc3339())
        elif subresource in ("status", "finalize"):
            # Only the subresource's part of the body counts; everything else stays as stored.
            new = orjson.loads(cur.raw)
            if subresource == "status":
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
                if rt.qualified == "deployments.apps":
                    # deploymentStatusStrategy resets only spec and labels: the controller records
                    # deployment.kubernetes.io/revision through /status.
                    if md.get("annotations"):
                        new["metadata"]["annotations"] = md["annotations"]
                    else:
                        new["metadata"].pop("annotations", None)
            else:
                new.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers") or []
            if "managedFields" in md:
                new["metadata"]["managedFields"] = md["managedFields"]
            obj = new
            md = obj["metadata"]
            if rt.custom is not None:
                customresource.prepare_for_update(rt, obj, old, subresource)
            else:
                defaults.apply_defaults(rt.qualified, obj, old)
        elif rt.custom is not None:
            customresource.prepare_for_update(rt, obj, old)
        elif subresource != "binding":
            # Status preserved, generation bumped on spec change (scale included), allocated values kept.
            defaults.prepare_for_update(rt.qualified, obj, old)
            if rt.qualified == crd.QUALIFIED:
                crd.prepare_for_update(obj, old)
        if operation == "Update":
            # Keeps managedFields the client set itself (kubectl's CSA→SSA migration) and credits the rest.
            if "managedFields" not in md and omd.get("managedFields"):
                md["managedFields"] = omd["managedFields"]
            ssa.update_managed_fields(old, obj, self._manager(req), "Update", rt.def_name,
                                      meta.now_rfc3339(), subresource)
        req.subresource = subresource
        await self._admit("UPDATE", rt, obj, old, req)
        if subresource not in ("binding", "finalize"):
            self._validate(rt, obj, old, status_only=(subresource == "status"))
        await self._admit_validating("UPDATE", rt, obj, old, req)
        if not md.get("managedFields"):
            md.pop("managedFields", None)
        md["resourceVersion"] = omd["resourceVersion"]
        customresource.to_storage(rt, obj)
        if _same(obj, old):
            return cur
        if self._should_delete(rt, obj):
            if req.dry_run:
                return obj
            try:
                await self.store.delete(cur.key, cur.mod_rev)
            except (KeyNotFound, RevisionConflict):
                raise errors.conflict(rt.plural, rt.group, omd["name"], CONFLICT_MSG) from None
            return obj
        if req.dry_run:
            return obj
        try:
            return await self.store.update(cur.key, obj, cur.mod_rev)
        except RevisionConflict:
            raise errors.conflict(rt.plural, rt.group, omd["name"], CONFLICT_MSG) from None
        except KeyNotFound:
            raise errors.not_found(rt.plural, rt.group, omd["name"]) from None

    @staticmethod
    def _should_delete(rt: ResourceType, obj: dict[str, Any]) -> bool:
        md = obj["metadata"]
        if not md.get("deletionTimestamp") or md.get("finalizers"):
            return False
        if rt.qualified == "namespaces" and (obj.get("spec") or {}).get("finalizers"):
            return False
        return not md.get("deletionGracePeriodSeconds")

    # ---- patch -------------------------------------------------------------
    async def patch(self, rt: ResourceType, ns: str | None, name: str, patch_type: str, body: bytes,
                    req: Request | None = None, subresource: str | None = None) -> tuple[Stored, bool]:
        """Apply a patch. Returns (object, created)."""
        req = req or Request()
        if rt.namespaced:
            self._check_ns_param(ns)
        accepted = PATCH_TYPES if rt.custom is None else (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
        if patch_type not in accepted:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                           f"accepted media types include: {', '.join(accepted)}")
        data = _parse_patch_body(patch_type, body)
        if subresource == "scale":
            return await self._patch_scale(rt, ns, name, patch_type, data, req), False
        key = self._key(rt, ns, name)
        for _attempt in range(10):
            cur = self.store.get(key)
            if patch_type == APPLY_PATCH:
                return await self._apply(rt, ns, name, cur, data, req, subresource)
            if cur is None:
                raise errors.not_found(rt.plural, rt.group, name)
            base = cur.copy()
            customresource.present(rt, base)
            if patch_type == JSON_PATCH:
                new = patch.json_patch(base, data)
            elif patch_type == MERGE_PATCH:
                new = patch.merge_patch(base, data)
            else:
                new = patch.strategic_merge_patch(base, data, rt.def_name or None)
            if not isinstance(new, dict):
                raise errors.bad_request("patch produced a non-object")
            new_md = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
            rv = new_md.get("resourceVersion")
            if rv and rv != cur.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name, CONFLICT_MSG)
            new = self._decode_checks(rt, new, ns, req, stored=cur)
            new["metadata"]["name"] = name
            try:
                return customresource.convert_out(rt, await self._update(rt, cur, new, req, subresource,
                                                                         "Update")), False
            except ApiError as e:
                if e.code == 409 and e.reason == "Conflict" and not rv and "modified" in e.message:
                    continue
                raise
        raise errors.conflict(rt.plural, rt.group, name, CONFLICT_MSG)

    async def _apply(self, rt: ResourceType, ns: str | None, name: str, cur: KV | None, data: Any,
                     req: Request, subresource: str | None) -> tuple[Stored, bool]:
        if not req.field_manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager parameter")
        if not isinstance(data, dict):
            raise errors.bad_request("the body of the apply patch must be an object")
        data = self._decode_checks(rt, data, ns, req)
        amd = data["metadata"]
        if amd.get("name") and amd["name"] != name:
            raise errors.bad_request("the name of the object ({}) does not match the name on the URL ({})".format(amd["name"], name))
        amd["name"] = name
        now = meta.now_rfc3339()
        if cur is None:
            if subresource:
                raise errors.not_found(rt.plural, rt.group, name)
            new = ssa.server_side_apply(None, data, req.field_manager, req.force, rt.def_name, now)
            new_md = new["metadata"]
            self._check_namespace(rt, ns, creating=True, name=name)
            new_md["uid"] = meta.new_uid()
            new_md["creationTimestamp"] = now
            new_md.pop("resourceVersion", None)
            new_md.pop("generation", None)
            _prepare_for_create(rt, new, now)
            await self._admit("CREATE", rt, new, None, req)
            self._validate(rt, new, None)
            await self._admit_validating("CREATE", rt, new, None, req)
            return await self._store_create(rt, new, req), True
        rv = amd.get("resourceVersion")
        if rv and rv != cur.obj["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, CONFLICT_MSG)
        new = ssa.server_side_apply(cur.copy(), data, req.field_manager, req.force, rt.def_name, now,
                                    subresource)
        new["metadata"]["name"] = name
        return customresource.convert_out(rt, await self._update(rt, cur, new, req, subresource, "Apply")), False

    # ---- scale -------------------------------------------------------------
    def get_scale(self, rt: ResourceType, ns: str | None, name: str) -> dict[str, Any]:
        if rt.custom is not None:
            return customresource.to_scale(rt, self.get(rt, ns, name).obj)
        return _to_scale(self.get(rt, ns, name).obj)

    async def update_scale(self, rt: ResourceType, ns: str | None, name: str, scale: Any,
                           req: Request | None = None) -> dict[str, Any]:
        req = req or Request()
        if not isinstance(scale, dict):
            raise errors.bad_request("the object provided is unrecognized (must be of type Scale)")
        cur = self.get(rt, ns, name)
        return await self._set_replicas(rt, cur, scale, req)

    async def _patch_scale(self, rt: ResourceType, ns: str | None, name: str, patch_type: str, data: Any,
                           req: Request) -> dict[str, Any]:
        cur = self.get(rt, ns, name)
        base = customresource.to_scale(rt, cur.obj) if rt.custom is not None else _to_scale(cur.obj)
        if patch_type == JSON_PATCH:
            new = patch.json_patch(base, data)
        elif patch_type == MERGE_PATCH:
            new = patch.merge_patch(base, data)
        elif patch_type == STRATEGIC_PATCH:
            new = patch.strategic_merge_patch(base, data, "io.k8s.api.autoscaling.v1.Scale")
        else:
            new = patch.merge_patch(base, data)
        return await self._set_replicas(rt, cur, new, req)

    async def _set_replicas(self, rt: ResourceType, cur: KV, scale: dict[str, Any], req: Request) -> dict:
        smd = scale.get("metadata") or {}
        rv = smd.get("resourceVersion")
        if rv and rv != cur.obj["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, cur.obj["metadata"]["name"], CONFLICT_MSG)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", cur.obj["metadata"]["name"], [errors.invalid_value(
                "spec.replicas", replicas, "must be greater than or equal to 0")])
        obj = cur.copy()
        if rt.custom is not None:
            customresource.set_replicas(rt, obj, replicas)
            res = await self._update(rt, cur, obj, req, "scale", "Update")
            return customresource.to_scale(rt, _obj(res))
        obj["spec"]["replicas"] = replicas
        res = await self._update(rt, cur, obj, req, "scale", "Update")
        return _to_scale(_obj(res))

    # ---- delete ------------------------------------------------------------
    async def delete(self, rt: ResourceType, ns: str | None, name: str, options: dict[str, Any] | None = None,
                     req: Request | None = None) -> tuple[Stored, bool]:
        """Delete or mark for deletion. Returns (object, deleted_now).

        As upstream's GuaranteedUpdate: a write that loses a race with another writer is recomputed from
        the fresh object (preconditions checked again), rather than surfacing a conflict the caller
        never asked about.
        """
        req = req or Request()
        options = options or {}
        for _ in range(DELETE_RETRIES - 1):
            try:
                res, gone = await self._delete_once(rt, ns, name, options, req)
                return customresource.convert_out(rt, res), gone
            except _LostRace:
                await asyncio.sleep(0)
        try:
            res, gone = await self._delete_once(rt, ns, name, options, req)
            return customresource.convert_out(rt, res), gone
        except _LostRace:
            raise errors.conflict(rt.plural, rt.group, name, CONFLICT_MSG) from None

    async def _delete_once(self, rt: ResourceType, ns: str | None, name: str, options: dict[str, Any],
                           req: Request) -> tuple[Stored, bool]:
        cur = self.get(rt, ns, name)
        old = cur.obj
        omd = old["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != omd.get("uid"):
            raise errors.conflict(rt.plural, rt.group, name,
                                  f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                                  f"{omd.get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != omd.get("resourceVersion"):
            raise errors.conflict(rt.plural, rt.group, name,
                                  f"Precondition failed: ResourceVersion in precondition: "
                                  f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                  f"{omd.get('resourceVersion')}")
        await self._admit("DELETE", rt, None, old, req)
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions", "meta.k8s.io", "", [errors.unsupported(
                "propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"])])
        finalizers = list(omd.get("finalizers") or [])
        want = None
        if policy == "Orphan":
            want = "orphan"
        elif policy == "Foreground":
            want = "foregroundDeletion"
        elif policy is None and rt.qualified == "replicationcontrollers" and not {
                "orphan", "foregroundDeletion"} & set(finalizers):
            want = "orphan"  # rcStrategy.DefaultGarbageCollectionPolicy is OrphanDependents for core/v1
        grace = self._grace_period(rt, old, options)
        needs_mark = bool(finalizers) or want is not None or grace > 0 or (
            rt.qualified in ("namespaces", crd.QUALIFIED))
        if not needs_mark:
            if req.dry_run:
                return old, True
            try:
                kv = await self.store.delete(cur.key, cur.mod_rev)
            except (KeyNotFound, RevisionConflict):
                raise _LostRace from None
            return kv, True
        obj = cur.copy()
        customresource.to_storage(rt, obj)
        md = obj["metadata"]
        now = time.time()
        if rt.qualified == crd.QUALIFIED:
            crd.mark_deleting(obj)  # the cleanup finalizer: custom resources go first (api.crd)
            finalizers = list(md.get("finalizers") or [])
        if want is not None:
            other = "foregroundDeletion" if want == "orphan" else "orphan"
            finalizers = [f for f in finalizers if f != other]
            if want not in finalizers:
                finalizers.append(want)
            md["finalizers"] = finalizers
        if md.get("deletionTimestamp"):
            # Already terminating: only a shorter grace period changes anything.
            cur_grace = md.get("deletionGracePeriodSeconds") or 0
            if grace < cur_grace:
                md["deletionTimestamp"] = meta.now_rfc3339(now + grace)
                md["deletionGracePeriodSeconds"] = grace
        else:
            md["deletionTimestamp"] = meta.now_rfc3339(now + grace)
            md["deletionGracePeriodSeconds"] = grace
            if rt.qualified == "namespaces":
                obj.setdefault("status", {})["phase"] = "Terminating"
        if not md.get("finalizers") and not md.get("deletionGracePeriodSeconds") and not (
                rt.qualified == "namespaces" and (obj.get("spec") or {}).get("finalizers")):
            if req.dry_run:
                return obj, True
            try:
                kv = await self.store.delete(cur.key, cur.mod_rev)
            except (KeyNotFound, RevisionConflict):
                raise _LostRace from None
            return kv, True
        if _same(obj, old):
            return cur, False
        if req.dry_run:
            return obj, False
        try:
            kv = await self.store.update(cur.key, obj, cur.mod_rev)
        except RevisionConflict:
            raise _LostRace from None
        return kv, False

    @staticmethod
    def _grace_period(rt: ResourceType, obj: dict[str, Any], options: dict[str, Any]) -> int:
        if rt.qualified != "pods":
            return 0
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        g = options.get("gracePeriodSeconds")
        if g is None:
            g = spec.get("terminationGracePeriodSeconds", 30)
        g = int(g)
        return max(g, 0)

    async def delete_collection(self, rt: ResourceType, ns: str | None, options: dict[str, Any] | None,
                                req: Request | None, label_selector: str | None = None,
                                field_selector: str | None = None) -> list[Stored]:
        items, _, _, _ = self.list(rt, ns, label_selector=label_selector, field_selector=field_selector)
        out = []
        for kv in items:
            md = kv.obj["metadata"]
            try:
                o, _ = await self.delete(rt, md.get("namespace"), md["name"], options, req)
                out.append(o)
            except ApiError as e:
                if e.code != 404:
                    raise
        return out

    # ---- binding -----------------------------------------------------------
    async def bind(self, ns: str, name: str, binding: Any, req: Request | None = None) -> None:
        req = req or Request()
        pods = by_qualified("pods")
        if not isinstance(binding, dict):
            raise errors.bad_request("the object provided is unrecognized (must be of type Binding)")
        if req.user_info is not None:  # from the network: the body's types first (api.safety)
            safety.check_types("io.k8s.api.core.v1.Binding", "Binding", "v1", binding)
        target = binding.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.invalid("Binding", "", name, [errors.required("target.name")])
        cur = self.get(pods, ns, name)
        if cur.obj["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods", "", name, "pod is being deleted, cannot be assigned to a host")
        if (cur.obj.get("spec") or {}).get("nodeName"):
            raise errors.conflict("pods", "", name,
                                  f"pod {name} is already assigned to node \"{cur.obj['spec']['nodeName']}\"")
        obj = cur.copy()
        obj["spec"]["nodeName"] = node
        conds = obj.setdefault("status", {}).setdefault("conditions", [])
        cond = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                "lastTransitionTime": meta.now_rfc3339()}
        for i, c in enumerate(conds):
            if c.get("type") == "PodScheduled":
                conds[i] = cond
                break
        else:
            conds.append(cond)
        ann = (binding.get("metadata") or {}).get("annotations")
        if ann:
            obj["metadata"].setdefault("annotations", {}).update(ann)
        await self._update(pods, cur, obj, req, "binding", "Update")

    # ---- watch -------------------------------------------------------------
    async def watch(self, rt: ResourceType, ns: str | None, *, resource_version: str | None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    send_initial_events: bool | None = None, _convert: bool = True) -> AsyncIterator[tuple[str, KV]]:
        """Yield (type, kv); raises ApiError 410 when the revision was compacted."""
        if rt.custom is not None and _convert:  # every event in the requested version (api.customresource)
            async for typ, kv in self.watch(rt, ns, resource_version=resource_version, label_selector=label_selector,
                                            field_selector=field_selector, send_initial_events=send_initial_events,
                                            _convert=False):
                yield typ, customresource.convert_out(rt, kv)
            return
        labels = parse_label_selector(label_selector)
        freqs = parse_field_selector(field_selector)
        fmatch = compile_field_selector(rt.qualified, freqs)
        name = exact_name(freqs)
        one_key = name is not None and bool(ns or not rt.namespaced)
        prefix = rt.key(ns, name) if one_key else rt.key_prefix(ns)

        def match(kv: KV | None) -> bool:
            if kv is None:
                return False
            if name is not None and kv.obj["metadata"].get("name") != name:
                return False
            if labels and not matches_labels(labels, kv.obj["metadata"].get("labels")):
                return False
            return fmatch is None or fmatch(kv.obj)

        store = self.store
        initial: list[KV] = []
        if send_initial_events and resource_version and resource_version != "0":
            # The initial state must be at least that fresh: wait for it as upstream's watch cache does
            # (a plain watch from a revision not reached yet needs no wait: it skips up to that revision).
            want = _parse_rv(resource_version)
            if not await store.wait_revision(want, TOO_LARGE_RV_WAIT):
                raise too_large_resource_version(want, store.revision)
        try:
            if not resource_version or resource_version == "0" or send_initial_events:
                items, rev = store.list(prefix)
                if prefix == rt.key(ns, name or "") and name is not None:
                    kv = store.get(prefix)
                    items = [kv] if kv is not None else []
                initial = [kv for kv in items if match(kv)]
                w = store.watch(prefix, rev)
            else:
                try:
                    rev = int(resource_version)
                except ValueError:
                    raise errors.bad_request(f"invalid resource version: {resource_version}") from None
                w = store.watch(prefix, rev)
        except Compacted as e:
            raise errors.gone(f"too old resource version: {e.requested} ({e.oldest + 1})") from None
        try:
            for kv in initial:
                yield ADDED, kv
            if send_initial_events:
                yield "BOOKMARK_INITIAL", KV("", {}, b"", 0, store.revision)
            while True:
                ev = await w.next()
                if ev is None:
                    if w.closed:
                        if w.error is not None:
                            raise errors.gone(str(w.error))
                        return
                    continue
                if one_key and ev.kv.key != prefix:
                    continue  # a prefix watch on one key also sees longer names; match() checks the rest
                new_ok = ev.type != DELETED and match(ev.kv)
                old_ok = match(ev.prev) if ev.type != ADDED else False
                if ev.type == DELETED:
                    if match(ev.kv):
                        yield DELETED, ev.kv
                elif new_ok and old_ok:
                    yield MODIFIED, ev.kv
                elif new_ok:
                    yield ADDED, ev.kv
                elif old_ok:
                    yield DELETED, ev.kv
        except Compacted as e:
            raise errors.gone(f"too old resource version: {e.requested} ({e.oldest + 1})") from None
        finally:
            w.close()


def _prepare_for_create(rt: ResourceType, obj: dict[str, Any], now: str) -> None:
    """Create-time strategy: the kind's own, or the schema-driven one of custom resources."""
    if rt.custom is not None:
        customresource.prepare_for_create(rt, obj)
        return
    if rt.qualified == crd.QUALIFIED:
        crd.set_defaults(obj)
        crd.prepare_for_create(obj)
    defaults.prepare_for_create(rt.qualified, obj, now)


def _to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    md = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    sel = spec.get("selector")
    if sel and obj.get("kind") == "ReplicationController":
        sel = {"matchLabels": sel}  # a map selector (labels.SelectorFromSet)
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in md},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0),
                   "selector": format_label_selector(sel) if sel else ""},
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal apart from managedFields timestamps: such a write is a no-op, as in etcd3 store."""
    if a == b:
        return True
    am, bm = a.get("metadata", {}), b.get("metadata", {})
    if {k: v for k, v in a.items() if k != "metadata"} != {k: v for k, v in b.items() if k != "metadata"}:
        return False
    ak = {k: v for k, v in am.items() if k != "managedFields"}
    bk = {k: v for k, v in bm.items() if k != "managedFields"}
    if ak != bk:
        return False
    strip = [{k: v for k, v in e.items() if k != "time"} for e in am.get("managedFields") or []]
    strip2 = [{k: v for k, v in e.items() if k != "time"} for e in bm.get("managedFields") or []]
    return strip == strip2


def _parse_patch_body(patch_type: str, body: bytes) -> Any:
    if patch_type == APPLY_PATCH:
        import yaml

        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        try:
            return safety.safe_yaml(body)
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML: {e}") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"error decoding patch: {e}") from None


class _LostRace(Exception):
    """A delete's write found the object changed since it was read: recompute from the fresh object."""


DELETE_RETRIES = 5


# ---- list options ------------------------------------------------------------
TOO_LARGE_RV_WAIT = 3.0  # seconds a NotOlderThan read waits for a revision not reached yet (watch cache)
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list.")
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def validate_list_options(resource_version: str | None, match: str | None, continue_token: str | None,
                          send_initial_events: str | None = None) -> None:
    """422 for the combinations upstream's ListOptions validation rejects on a (non-watch) list."""
    causes: list[dict[str, str]] = []
    if match:
        field_ = "resourceVersionMatch"
        if not resource_version:
            causes.append(errors.forbidden_field(
                field_, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if continue_token:
            causes.append(errors.forbidden_field(field_, "resourceVersionMatch is forbidden when continue is provided"))
        if match not in ("Exact", "NotOlderThan"):
            causes.append(errors.unsupported(field_, match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and resource_version == "0":
            causes.append(errors.forbidden_field(
                field_, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if send_initial_events is not None:
        causes.append(errors.forbidden_field("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if causes:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)


def too_large_resource_version(want: int, current: int) -> ApiError:
    """504 for a revision the store has not reached (upstream's TooLargeResourceVersion error)."""
    return ApiError(504, "Timeout", f"Timeout: Too large resource version: {want}, current: {current}",
                    causes=[{"type": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                    retry_after=1)


def _parse_rv(rv: str) -> int:
    """A resourceVersion as upstream's versioner parses it (an unsigned 64-bit integer)."""
    why = None
    if not rv.isascii() or not rv.isdigit():
        why = "invalid syntax"
    elif int(rv) >= 1 << 64:
        why = "value out of range"
    if why is not None:
        raise errors.bad_request(f'invalid resource version: resourceVersion: Invalid value: "{rv}": '
                                 f'strconv.ParseUint: parsing "{rv}": {why}')
    return int(rv)


def _encode_continue(key: str, prefix: str, rev: int) -> str:
    """Upstream's continue token: unpadded base64url of {"v","rv","start"}, start relative to the list prefix."""
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rev, "start": key[len(prefix):]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str, prefix: str) -> tuple[str, int]:
    """(absolute start key, revision) of a continue token; 400 with upstream's reasons when it is not valid."""
    def bad(detail: str) -> ApiError:
        return errors.bad_request(f"invalid continue token: continue key is not valid{detail}")

    for i, ch in enumerate(token):
        if ch not in _B64URL:
            raise bad(f": illegal base64 data at input byte {i}")
    if len(token) % 4 == 1:
        raise bad(f": illegal base64 data at input byte {len(token) - 1}")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace").lstrip()
        if not text:
            raise bad(": unexpected end of JSON input") from None
        raise bad(f": invalid character '{text[0]}' looking for beginning of value") from None
    if not isinstance(d, dict):
        kind = {str: "string", list: "array", bool: "bool"}.get(type(d), "number")
        if d is not None:
            raise bad(f": json: cannot unmarshal {kind} into Go value of type storage.continueToken")
        d = {}
    v, rv, start = d.get("v", ""), d.get("rv", 0), d.get("start", "")
    for fname, val, typ, go in (("v", v, str, "string"), ("rv", rv, int, "int64"), ("start", start, str, "string")):
        if not isinstance(val, typ) or isinstance(val, bool):
            kind = {str: "string", list: "array", dict: "object", bool: "bool"}.get(type(val), "number")
            raise bad(f": json: cannot unmarshal {kind} into Go struct field continueToken.{fname} of type {go}")
    if v != "meta.k8s.io/v1":
        raise errors.bad_request("invalid continue token: continue key is not valid: "
                                 f"server does not recognize this encoded version {v}")
    if rv == 0:
        raise bad(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise bad(": encoded start key empty (version meta.k8s.io/v1)")
    # Path traversal: the start key may not climb out of the listed prefix (as upstream, path.Clean must not change it).
    key = start if start.startswith("/") else "/" + start
    cleaned = posixpath.normpath(key)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned != key:
        raise bad(f": {start}")
    return prefix + cleaned[1:], rv


def _prune_path(obj: dict[str, Any], path: str) -> None:
    """Remove the field at a dotted path like spec.containers[0].foo (unknown-field pruning)."""
    parts: list[Any] = []
    for seg in path.split("."):
        if not seg:
            return  # an empty or dotted field name: not addressable; decoding drops the field anyway
        while "[" in seg and seg.endswith("]"):
            head, idx = seg[: seg.index("[")], seg[seg.index("[") + 1: seg.index("]")]
            if head:
                parts.append(head)
            parts.append(int(idx) if idx.isdigit() else idx)
            seg = seg[seg.index("]") + 1:]
        if seg:
            parts.append(seg)
    if not parts:  # a field named "" (or only dots): nothing addressable to prune
        return
    cur: Any = obj
    for p in parts[:-1]:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(cur, dict):
        cur.pop(parts[-1], None)

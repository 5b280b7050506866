"""Identity and access at the front door: who is calling (authentication), may they (authorization).

Authentication, as kube-apiserver's union authenticator: a client certificate signed by the cluster CA
(CN = user, O = groups), else a bearer token — the static admin token or a ServiceAccount JWT
(apiserver.tokens) — else anonymous, which kubeling allows only on the health and version endpoints
(upstream's structured authentication `anonymous.conditions`); anything else without valid
credentials is 401. Every authenticated user is also in group system:authenticated.

Authorization, as kube-apiserver's chain: system:masters may do anything; a node identity
(system:node:NAME in system:nodes) gets the kubelet's rules (a simplified Node authorizer without
the object graph); everyone else is decided by RBAC over Roles, ClusterRoles and their bindings. The
RBAC index is kept current from a watch on the store and resolved per user once (cached until an RBAC
object changes), so a decision costs a few set lookups. Denials are 403 Forbidden with upstream's
message. Impersonation headers (kubectl --as/--as-group) are honoured when the caller may impersonate.

The review APIs (SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
LocalSubjectAccessReview, SelfSubjectReview, TokenReview) and the serviceaccounts/token subresource
are served here; they are computed, never stored. RBAC's escalation prevention (no granting what you
do not hold, unless you may `escalate`/`bind`) is an admission hook on the RBAC kinds.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..api import errors, rbac_bootstrap
from ..api.errors import ApiError
from ..api.registry import Registry, Request
from ..api.resources import ResourceType
from ..api.validation import goq
from ..storage.base import DELETED
from . import limits, tokens

log = logging.getLogger(__name__)

SYSTEM_MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
RBAC_GROUP = "rbac.authorization.k8s.io"
ANONYMOUS_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/healthz/", "/livez/", "/readyz/",
                             "/version/"})
MUTATING = frozenset({"create", "update", "patch", "delete", "deletecollection"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Obj = dict[str, Any]


class UserInfo(NamedTuple):
    """An authenticated user (indexable like the (name, groups) pairs the server used before)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> Obj:
        """authentication/v1 UserInfo (every field omitempty)."""
        u: Obj = {"username": self.name} if self.name else {}
        if self.uid:
            u["uid"] = self.uid
        if self.groups:
            u["groups"] = list(self.groups)
        if self.extra:
            u["extra"] = {k: list(v) for k, v in self.extra}
        return u


def _authenticated(name: str, groups: tuple[str, ...] | list[str], uid: str = "",
                   extra: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> UserInfo:
    """Upstream's AuthenticatedGroupAdder: every authenticated user is in system:authenticated."""
    groups = tuple(groups)
    if AUTHENTICATED not in groups:
        groups = (*groups, AUTHENTICATED)
    return UserInfo(name, groups, uid, extra)


def sa_user(info: tokens.ServiceAccountInfo) -> UserInfo:
    """ServiceAccountInfo.UserInfo(): the user name, the two SA groups, and the extra claims."""
    extra: list[tuple[str, tuple[str, ...]]] = []
    if info.credential_id:
        extra.append(("authentication.kubernetes.io/credential-id", (info.credential_id,)))
    if info.node_name:
        extra.append(("authentication.kubernetes.io/node-name", (info.node_name,)))
        if info.node_uid:
            extra.append(("authentication.kubernetes.io/node-uid", (info.node_uid,)))
    if info.pod_name and info.pod_uid:
        extra.append(("authentication.kubernetes.io/pod-name", (info.pod_name,)))
        extra.append(("authentication.kubernetes.io/pod-uid", (info.pod_uid,)))
    return _authenticated(tokens.username(info.namespace, info.name),
                          (SA_GROUP, f"{SA_GROUP}:{info.namespace}"), info.uid, tuple(sorted(extra)))


# ---- request attributes ----------------------------------------------------------------------------------------

class Attributes(NamedTuple):
    """authorizer.Attributes of one request (or of a SubjectAccessReview)."""

    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_NS_SUBRESOURCES = frozenset(("status", "finalize"))


def _is_path_segment(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "%" not in name


def _field_selector_name(sel: str) -> str | None:
    """The value of a `metadata.name=` (or ==) term of a field selector (RequiresExactMatch)."""
    for term in sel.split(","):
        term = term.strip()
        if "!=" in term:
            continue
        for op in ("==", "="):
            if op in term:
                k, v = term.split(op, 1)
                if k.strip() == "metadata.name":
                    return v.strip()
                break
    return None


def request_attributes(method: str, path: str, query: Any) -> Attributes:
    """Upstream's RequestInfoFactory.NewRequestInfo: resource requests under /api and /apis, else a path."""
    trimmed = path.strip("/")
    parts = trimmed.split("/") if trimmed else []
    nonres = Attributes(method.lower(), False, path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return nonres
    prefix = parts[0]
    parts = parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return nonres
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in ("watch", "proxy"):
        if len(parts) < 2:
            return nonres  # upstream: an error, served as a non-resource request
        verb, parts = parts[0], parts[1:]
        by_method = False
    else:
        verb, by_method = _METHOD_VERBS.get(method, ""), True
    namespace = ""
    if parts[0] == "namespaces":
        if len(parts) > 1:
            namespace = parts[1]
            if len(parts) > 2 and parts[2] not in _NS_SUBRESOURCES:
                parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    sub = parts[2] if len(parts) >= 3 and verb != "proxy" else ""
    if by_method and not name and verb == "get":
        w = query.get("watch") if query is not None else None
        verb = "watch" if w is not None and w != "0" and w.lower() != "false" else "list"
        fs = query.get("fieldSelector") if query is not None else None
        if fs:
            n = _field_selector_name(fs)
            if n and _is_path_segment(n):
                name = n
    if by_method and not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb, True, path, group, version, resource, sub, namespace, name)


# ---- RBAC rule evaluation -------------------------------------------------------------------------------------

class Rule:
    """A PolicyRule compiled for matching (upstream RuleAllows and its helpers)."""

    __slots__ = ("raw", "verbs", "all_verbs", "groups", "all_groups", "resources", "all_resources",
                 "star_subs", "names", "urls", "all_urls", "url_prefixes")

    def __init__(self, raw: Obj) -> None:
        self.raw = raw
        verbs = raw.get("verbs") or ()
        self.verbs = frozenset(verbs)
        self.all_verbs = "*" in self.verbs
        self.groups = frozenset(raw.get("apiGroups") or ())
        self.all_groups = "*" in self.groups
        res = raw.get("resources") or ()
        self.resources = frozenset(res)
        self.all_resources = "*" in self.resources
        self.star_subs = frozenset(r[2:] for r in res if isinstance(r, str) and r.startswith("*/"))
        self.names = frozenset(raw.get("resourceNames") or ())
        urls = [u for u in raw.get("nonResourceURLs") or () if isinstance(u, str)]
        self.urls = frozenset(urls)
        self.all_urls = "*" in self.urls
        self.url_prefixes = tuple(u.rstrip("*") for u in urls if u.endswith("*"))

    def allows(self, a: Attributes) -> bool:
        if not (self.all_verbs or a.verb in self.verbs):
            return False
        if a.resource_request:
            if not (self.all_groups or a.api_group in self.groups):
                return False
            if not self.all_resources:
                sub = a.subresource
                combined = f"{a.resource}/{sub}" if sub else a.resource
                if combined not in self.resources and not (sub and sub in self.star_subs):
                    return False
            return not self.names or a.name in self.names
        if self.all_urls or a.path in self.urls:
            return True
        p = a.path
        return any(p.startswith(pre) for pre in self.url_prefixes)


def compile_rules(rules: Any) -> list[Rule]:
    return [Rule(r) for r in (rules or ()) if isinstance(r, dict)]


def _aggregate(errs: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several deduplicated in brackets."""
    seen: list[str] = []
    for e in errs:
        if e not in seen:
            seen.append(e)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def _describe_subject(s: Obj, binding_ns: str) -> str:
    kind, name = s.get("kind", ""), s.get("name", "")
    if kind == "ServiceAccount":
        return f"{kind} {goq(name + '/' + (s.get('namespace') or binding_ns))}"
    return f"{kind} {goq(name)}"


class Source(NamedTuple):
    """Which binding granted a rule (upstream's clusterRoleBindingDescriber / roleBindingDescriber)."""

    binding: Obj
    subject: Obj

    def __str__(self) -> str:
        b = self.binding
        md, ref = b["metadata"], b.get("roleRef") or {}
        ns = md.get("namespace") or ""
        if ns:
            return (f"RoleBinding {goq(md['name'] + '/' + ns)} of {ref.get('kind', '')} {goq(ref.get('name', ''))} "
                    f"to {_describe_subject(self.subject, ns)}")
        return (f"ClusterRoleBinding {goq(md['name'])} of {ref.get('kind', '')} {goq(ref.get('name', ''))} to "
                f"{_describe_subject(self.subject, '')}")


def _subject_keys(b: Obj, binding_ns: str) -> list[tuple[str, str]]:
    """Index keys of a binding's subjects: ("u", user), ("g", group), ("u", SA user name)."""
    out = []
    for s in b.get("subjects") or ():
        if not isinstance(s, dict):
            continue
        kind, name = s.get("kind"), s.get("name") or ""
        if kind == "User":
            out.append(("u", name))
        elif kind == "Group":
            out.append(("g", name))
        elif kind == "ServiceAccount":
            ns = s.get("namespace") or binding_ns
            if ns:
                out.append(("u", f"{SA_PREFIX}{ns}:{name}"))
    return out


def _applies(s: Obj, user: UserInfo, binding_ns: str) -> bool:
    kind = s.get("kind")
    if kind == "User":
        return user.name == s.get("name")
    if kind == "Group":
        return s.get("name") in user.groups
    if kind == "ServiceAccount":
        ns = s.get("namespace") or binding_ns
        return bool(ns) and user.name == f"{SA_PREFIX}{ns}:{s.get('name') or ''}"
    return False


_RuleList = list[tuple[Rule, Source]]


class RBACAuthorizer:
    """RBAC decisions from an index of roles and bindings, kept current by a watch on the store."""

    PREFIX = "/registry/rbac.authorization.k8s.io/"
    CACHE_LIMIT = 20000

    def __init__(self, store: Any) -> None:
        self.store = store
        self._watch: Any = None
        self._cluster_roles: dict[str, tuple[list[Obj], list[Rule]]] = {}
        self._roles: dict[tuple[str, str], tuple[list[Obj], list[Rule]]] = {}
        self._bindings: dict[tuple[str, str], Obj] = {}  # (namespace or "", name) -> binding
        self._index: dict[tuple[str, str, str], set[tuple[str, str]]] = {}  # (ns, kind, subject) -> bindings
        self._cache: dict[tuple, tuple[_RuleList, list[str]]] = {}

    # ---- index maintenance ----
    def _sync(self) -> None:
        w = self._watch
        if w is None or w.closed:
            self._rebuild()
            return
        q = w.queue
        if q.empty():
            return
        while not q.empty():
            ev = q.get_nowait()
            if ev is None:
                self._rebuild()
                return
            self._apply(ev.kv.key, None if ev.type == DELETED else ev.kv.obj)
        self._cache = {}

    def _rebuild(self) -> None:
        if self._watch is not None:
            self._watch.close()
        store = self.store
        self._watch = store.watch(self.PREFIX, store.revision)
        items, _ = store.list(self.PREFIX)
        self._cluster_roles, self._roles, self._bindings, self._index = {}, {}, {}, {}
        for kv in items:
            self._apply(kv.key, kv.obj)
        self._cache = {}

    def _apply(self, key: str, obj: Obj | None) -> None:
        parts = key[len(self.PREFIX):].split("/")
        plural = parts[0]
        ns, name = (parts[1], parts[2]) if len(parts) == 3 else ("", parts[-1])
        if plural == "clusterroles":
            if obj is None:
                self._cluster_roles.pop(name, None)
            else:
                self._cluster_roles[name] = (obj.get("rules") or [], compile_rules(obj.get("rules")))
        elif plural == "roles":
            if obj is None:
                self._roles.pop((ns, name), None)
            else:
                self._roles[(ns, name)] = (obj.get("rules") or [], compile_rules(obj.get("rules")))
        elif plural in ("clusterrolebindings", "rolebindings"):
            bkey = (ns, name)
            old = self._bindings.pop(bkey, None)
            if old is not None:
                for kind, subj in _subject_keys(old, ns):
                    s = self._index.get((ns, kind, subj))
                    if s is not None:
                        s.discard(bkey)
                        if not s:
                            del self._index[(ns, kind, subj)]
            if obj is not None:
                self._bindings[bkey] = obj
                for kind, subj in _subject_keys(obj, ns):
                    self._index.setdefault((ns, kind, subj), set()).add(bkey)

    # ---- resolution ----
    def role_ref_rules(self, ref: Obj, namespace: str) -> tuple[list[Obj], list[Rule]]:
        """GetRoleReferenceRules; raises ApiError (NotFound, as the listers say it) when the role is missing."""
        self._sync()
        kind, name = ref.get("kind"), ref.get("name") or ""
        if kind == "ClusterRole":
            r = self._cluster_roles.get(name)
            if r is None:
                raise errors.not_found("clusterrole", RBAC_GROUP, name)
            return r
        if kind == "Role":
            r = self._roles.get((namespace, name))
            if r is None:
                raise errors.not_found("role", RBAC_GROUP, name)
            return r
        raise ApiError(500, "InternalError", f"unsupported role reference kind: {goq(str(kind))}")

    def _rules(self, user: UserInfo, namespace: str) -> tuple[_RuleList, list[str]]:
        """Rules granted to user by ClusterRoleBindings (namespace "") or by RoleBindings in namespace."""
        ck = (user.name, user.groups, namespace)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        index = self._index
        cands: set[tuple[str, str]] = set()
        for k in (("u", user.name), *(("g", g) for g in user.groups)):
            s = index.get((namespace, *k))
            if s:
                cands |= s
        out: _RuleList = []
        errs: list[str] = []
        for bkey in sorted(cands, key=lambda x: x[1]):
            b = self._bindings[bkey]
            subject = next((s for s in b.get("subjects") or () if isinstance(s, dict) and _applies(s, user, namespace)),
                           None)
            if subject is None:
                continue
            try:
                _, compiled = self.role_ref_rules(b.get("roleRef") or {}, namespace)
            except ApiError as e:
                errs.append(e.message)
                continue
            src = Source(b, subject)
            out.extend((r, src) for r in compiled)
        if len(self._cache) > self.CACHE_LIMIT:
            self._cache = {}
        self._cache[ck] = (out, errs)
        return out, errs

    def authorize(self, user: UserInfo, a: Attributes) -> tuple[bool, str]:
        self._sync()
        rules, errs = self._rules(user, "")
        for rule, src in rules:
            if rule.allows(a):
                return True, f"RBAC: allowed by {src}"
        if a.namespace:
            nrules, nerrs = self._rules(user, a.namespace)
            for rule, src in nrules:
                if rule.allows(a):
                    return True, f"RBAC: allowed by {src}"
            errs = errs + nerrs
        return False, (f"RBAC: {_aggregate(errs)}" if errs else "")

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[str]]:
        """RulesFor: the raw rules from cluster-wide and (if namespace) namespaced bindings, and errors."""
        self._sync()
        rules, errs = self._rules(user, "")
        out = [r.raw for r, _ in rules]
        if namespace:
            nrules, nerrs = self._rules(user, namespace)
            out += [r.raw for r, _ in nrules]
            errs = errs + nerrs
        return out, errs


class Authorizer:
    """The authorizer chain: privileged group, node identities, RBAC."""

    def __init__(self, store: Any) -> None:
        self.rbac = RBACAuthorizer(store)
        self.node_rules = compile_rules(rbac_bootstrap.NODE_RULES)

    @staticmethod
    def is_node(user: UserInfo) -> bool:
        return user.name.startswith(NODE_PREFIX) and NODES_GROUP in user.groups

    def authorize(self, user: UserInfo, a: Attributes) -> tuple[bool, str]:
        if SYSTEM_MASTERS in user.groups:
            return True, ""
        if self.is_node(user) and any(r.allows(a) for r in self.node_rules):
            return True, ""
        return self.rbac.authorize(user, a)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[Obj], bool, str]:
        """(resource rules, non-resource rules, incomplete, evaluation error) as the union RulesFor gives them."""
        errs: list[str] = []
        incomplete = False
        if self.is_node(user):
            incomplete = True
            errs.append("node authorizer does not support user rule resolution")
        raw, rerrs = self.rbac.rules_for(user, namespace)
        errs += rerrs
        res, nonres = [], []
        for r in raw:
            verbs = list(r.get("verbs") or [])
            if r.get("resources"):
                rr: Obj = {"verbs": verbs}
                for k in ("apiGroups", "resources", "resourceNames"):
                    if r.get(k):
                        rr[k] = list(r[k])
                res.append(rr)
            if r.get("nonResourceURLs"):
                nonres.append({"verbs": verbs, "nonResourceURLs": list(r["nonResourceURLs"])})
        return res, nonres, incomplete, _aggregate(errs) if errs else ""


class _Forbidden(ApiError):
    """403 as responsewriters.Forbidden writes it (details always present, possibly empty)."""

    def status(self) -> Obj:
        st = super().status()
        st.setdefault("details", {})
        return st


def forbidden(user: UserInfo, a: Attributes, reason: str = "") -> ApiError:
    """Upstream's forbiddenMessage wrapped in apierrors.NewForbidden."""
    u = goq(user.name)
    if not a.resource_request:
        msg = f"User {u} cannot {a.verb} path {goq(a.path)}"
    else:
        res = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        where = f"in the namespace {goq(a.namespace)}" if a.namespace else "at the cluster scope"
        msg = f"User {u} cannot {a.verb} resource {goq(res)} in API group {goq(a.api_group)} {where}"
    if reason:
        msg = f"{msg}: {reason}"
    qualified = f"{a.resource}.{a.api_group}" if a.api_group else a.resource
    if not qualified:
        full = f"forbidden: {msg}"
    elif not a.name:
        full = f"{qualified} is forbidden: {msg}"
    else:
        full = f"{qualified} {goq(a.name)} is forbidden: {msg}"
    return _Forbidden(403, "Forbidden", full, name=a.name or None, group=a.api_group or None,
                      kind=a.resource or None)


# ---- escalation prevention (pkg/registry/rbac/*/policybased, pkg/registry/rbac/validation) ----------------------

FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]


def breakdown(rule: Obj) -> list[Obj]:
    """BreakdownRule: one verb, one group, one resource (and name) per rule."""
    out = []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    for g in rule.get("apiGroups") or []:
        for r in rule.get("resources") or []:
            for v in verbs:
                if names:
                    out.extend({"apiGroups": [g], "resources": [r], "verbs": [v], "resourceNames": [n]} for n in names)
                else:
                    out.append({"apiGroups": [g], "resources": [r], "verbs": [v]})
    for u in rule.get("nonResourceURLs") or []:
        out.extend({"nonResourceURLs": [u], "verbs": [v]} for v in verbs)
    return out


def _url_covers(owner: str, sub: str) -> bool:
    return owner == sub or (owner.endswith("*") and sub.startswith(owner.rstrip("*")))


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or all(w in owner for w in wanted):
        return True
    for w in wanted:
        if w in owner:
            continue
        if "/" not in w or "*/" + w.split("/", 1)[1] not in owner:
            return False
    return True


def rule_covers(owner: Obj, sub: Obj) -> bool:
    ov, og = owner.get("verbs") or [], owner.get("apiGroups") or []
    verbs_ok = "*" in ov or all(v in ov for v in sub.get("verbs") or [])
    groups_ok = "*" in og or all(g in og for g in sub.get("apiGroups") or [])
    res_ok = _resources_cover(owner.get("resources") or [], sub.get("resources") or [])
    urls_ok = all(any(_url_covers(o, u) for o in owner.get("nonResourceURLs") or [])
                  for u in sub.get("nonResourceURLs") or [])
    on, sn = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    names_ok = not on if not sn else (not on or all(n in on for n in sn))
    return verbs_ok and groups_ok and res_ok and names_ok and urls_ok


def covers(owner_rules: list[Obj], rules: list[Obj]) -> list[Obj]:
    """The parts of rules no owner rule covers (empty: covered)."""
    missing = []
    for r in rules:
        for sub in breakdown(r):
            if not any(rule_covers(o, sub) for o in owner_rules):
                missing.append(sub)
    return missing


def _go_strs(items: list[str]) -> str:
    return "[" + " ".join(goq(s) for s in items) + "]"


def compact_string(r: Obj) -> str:
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"), ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        if r.get(key):
            parts.append(f"{label}:{_go_strs(r[key])}")
    return "{" + ", ".join(parts) + "}"


def compact_rules(rules: list[Obj]) -> list[Obj]:
    """CompactRules: simple single group/resource rules that differ only by verb are merged."""
    out: list[Obj] = []
    simple: dict[tuple, Obj] = {}
    for r in rules:
        names = r.get("resourceNames") or []
        if (len(names) <= 1 and not r.get("nonResourceURLs") and len(r.get("apiGroups") or []) == 1
                and len(r.get("resources") or []) == 1):
            k = (r["apiGroups"][0], r["resources"][0], names[0] if names else None)
            cur = simple.get(k)
            if cur is None:
                simple[k] = {**r, "verbs": list(r.get("verbs") or [])}
            else:
                cur["verbs"].extend(v for v in r.get("verbs") or [] if v not in cur["verbs"])
        else:
            out.append(r)
    return out + list(simple.values())


def _only_gc_fields(new: Obj, old: Obj | None) -> bool:
    """IsOnlyMutatingGCFields: nothing but ownerReferences/finalizers/managedFields changed."""
    if old is None:
        return False
    a = {k: v for k, v in new.items() if k != "metadata"}
    b = {k: v for k, v in old.items() if k != "metadata"}
    if a != b:
        return False
    skip = ("ownerReferences", "finalizers", "managedFields", "resourceVersion", "selfLink")
    am = {k: v for k, v in (new.get("metadata") or {}).items() if k not in skip}
    bm = {k: v for k, v in (old.get("metadata") or {}).items() if k not in skip}
    return am == bm


# ---- authentication -----------------------------------------------------------------------------------------

class Authenticator:
    """Client certificates, then bearer tokens (static, ServiceAccount JWT), then anonymous (some paths)."""

    CERT_CACHE = 1024

    def __init__(self, static_tokens: dict[str, UserInfo] | None = None,
                 service_accounts: tokens.ServiceAccountTokenAuthenticator | None = None,
                 anonymous_paths: frozenset[str] | None = ANONYMOUS_PATHS,
                 api_audiences: tuple[str, ...] = tokens.API_AUDIENCES) -> None:
        self.static = dict(static_tokens or {})
        self.sa = service_accounts
        self.anonymous_paths = anonymous_paths
        self.api_audiences = api_audiences
        self._certs: dict[bytes, UserInfo | None] = {}

    def from_certificate(self, request: web.Request) -> UserInfo | None:
        transport = request.transport
        ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_obj is None:
            return None
        der = ssl_obj.getpeercert(binary_form=True)
        if not der:
            return None
        hit = self._certs.get(der, False)
        if hit is not False:
            return hit
        user = user_from_certificate(der)
        if len(self._certs) >= self.CERT_CACHE:
            self._certs.clear()
        self._certs[der] = user
        return user

    def authenticate_token(self, token: str, audiences: tuple[str, ...] | None = None
                           ) -> tuple[UserInfo | None, list[str], str | None]:
        """(user, audiences, error) for a bearer token, as the token authenticators answer it."""
        wanted = list(audiences) if audiences else list(self.api_audiences)
        u = self.static.get(token)
        if u is not None:
            # audience-agnostic authenticators only serve the API server's own audiences
            auds = [a for a in wanted if a in self.api_audiences]
            if auds:
                return u, auds, None
            return None, [], "invalid bearer token"
        if self.sa is not None:
            try:
                res = self.sa.authenticate(token, tuple(wanted))
            except tokens.TokenError as e:
                return None, [], str(e)
            if res is not None:
                info, auds = res
                return sa_user(info), auds, None
        return None, [], "invalid bearer token"

    def authenticate(self, request: web.Request) -> UserInfo:
        """The caller, or ApiError 401."""
        user = self.from_certificate(request)
        if user is not None:
            return user
        auth = request.headers.get("Authorization", "").strip()
        if auth:
            parts = auth.split(" ", 2)
            if len(parts) >= 2 and parts[0].lower() == "bearer":
                if parts[1]:
                    u, _, _ = self.authenticate_token(parts[1])
                    if u is not None:
                        return u
                raise errors.unauthorized()
        if self.anonymous_paths is None or request.path in self.anonymous_paths:
            return UserInfo(ANONYMOUS, (UNAUTHENTICATED,))
        raise errors.unauthorized()


def user_from_certificate(der: bytes) -> UserInfo | None:
    """CN is the user, each O a group (upstream's CommonNameUserConversion); client-auth usage required."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return None
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns or not cns[0].value:
        return None
    orgs = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return _authenticated(str(cns[0].value), orgs)


def issue_client_cert(ca_crt: str, ca_key: str, cn: str, orgs: list[str], crt_path: str, key_path: str,
                      days: int = 365) -> None:
    """Write a client certificate (CN=cn, O=orgs) signed by the cluster CA, and its key."""
    with open(ca_key, "rb") as f:
        ca_k = serialization.load_pem_private_key(f.read(), None)
    with open(ca_crt, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    cert = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_k, hashes.SHA256()))
    for path, data, mode in ((key_path, key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()), 0o600),
                             (crt_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)


# ---- the front door -------------------------------------------------------------------------------------------

class _State:
    __slots__ = ("received", "user", "effective", "attrs", "slot", "allowed", "reason", "audit_id")

    def __init__(self) -> None:
        self.received = time.time()
        self.user: UserInfo | None = None
        self.effective: UserInfo | None = None
        self.attrs: Attributes | None = None
        self.slot: str | None = None
        self.allowed: bool | None = None
        self.reason = ""
        self.audit_id = ""


Handler = Callable[[web.Request, ResourceType, str | None, str | None], Awaitable[web.StreamResponse]]


class FrontDoor:
    """Authentication, impersonation, per-client limits, authorization and audit for every HTTP request."""

    def __init__(self, registry: Registry, authenticator: Authenticator, authorizer: Authorizer,
                 signer: tokens.Signer | None = None, limiter: limits.ClientLimiter | None = None,
                 audit: limits.AuditLog | None = None) -> None:
        self.registry = registry
        self.authn = authenticator
        self.authz = authorizer
        self.signer = signer
        self.limiter = limiter
        self.audit = audit
        self.server: Any = None

    def install(self, server: Any) -> None:
        """Plug into an ApiServer: its middleware calls admit/done; the review kinds route here."""
        self.server = server
        server.front = self
        server.virtual.update({
            "serviceaccounts/token": self._token_request,
            "tokenreviews.authentication.k8s.io": self._token_review,
            "selfsubjectreviews.authentication.k8s.io": self._self_subject_review,
            "selfsubjectaccessreviews.authorization.k8s.io": self._access_review,
            "subjectaccessreviews.authorization.k8s.io": self._access_review,
            "localsubjectaccessreviews.authorization.k8s.io": self._access_review,
            "selfsubjectrulesreviews.authorization.k8s.io": self._rules_review,
        })
        self.registry.admission.append(self.escalation_check)

    # ---- per request ----
    async def admit(self, request: web.Request) -> None:
        """Authenticate, impersonate, take a concurrency slot and authorize; raises ApiError 401/403/429."""
        st = _State()
        request["_front"] = st
        user = self.authn.authenticate(request)
        st.user = st.effective = user
        request["user"] = user
        attrs = request_attributes(request.method, request.path, request.query)
        st.attrs = attrs
        if "Impersonate-User" in request.headers or "Impersonate-Group" in request.headers:
            st.effective = self._impersonate(request, user)
            request["user"] = st.effective
        eff = st.effective
        if (self.limiter is not None and SYSTEM_MASTERS not in user.groups and attrs.verb != "watch"
                and request.path not in ANONYMOUS_PATHS):
            await self.limiter.acquire(user.name)
            st.slot = user.name
        allowed, reason = self.authz.authorize(eff, attrs)
        st.allowed, st.reason = allowed, reason
        if not allowed:
            raise forbidden(eff, attrs, reason)

    def done(self, request: web.Request, resp: web.StreamResponse | None) -> None:
        """Release the slot; write the audit event of a mutating request."""
        st: _State | None = request.get("_front")
        if st is None:
            return
        if st.slot is not None:
            self.limiter.release(st.slot)  # type: ignore[union-attr]
            st.slot = None
        if self.audit is not None and request.method not in READ_METHODS:
            try:
                self.audit.write(self._audit_event(request, st, resp))
            except Exception:
                log.exception("writing audit event")

    def _impersonate(self, request: web.Request, user: UserInfo) -> UserInfo:
        """Upstream's WithImpersonation: each impersonated attribute needs the `impersonate` verb."""
        h = request.headers
        name = h.get("Impersonate-User", "")
        groups = list(h.getall("Impersonate-Group", []))
        uid = h.get("Impersonate-Uid", "")
        extra: list[tuple[str, tuple[str, ...]]] = []
        for k in h:
            if k.lower().startswith("impersonate-extra-"):
                key = unquote(k[len("impersonate-extra-"):]).lower()
                extra.append((key, tuple(h.getall(k))))
        if not name:
            raise errors.bad_request(f"requested {groups} without impersonating a user")
        checks: list[Attributes] = []
        if name.startswith(SA_PREFIX) and name.count(":") == 3:
            _, _, sa_ns, sa_name = name.split(":")
            checks.append(Attributes("impersonate", True, api_version="v1", resource="serviceaccounts",
                                     namespace=sa_ns, name=sa_name))
            if not groups:
                groups = [SA_GROUP, f"{SA_GROUP}:{sa_ns}"]
        else:
            checks.append(Attributes("impersonate", True, api_version="v1", resource="users", name=name))
        checks += [Attributes("impersonate", True, api_version="v1", resource="groups", name=g) for g in groups]
        checks += [Attributes("impersonate", True, api_group="authentication.k8s.io", api_version="v1",
                              resource="userextras", subresource=k, name=v) for k, vs in extra for v in vs]
        if uid:
            checks.append(Attributes("impersonate", True, api_group="authentication.k8s.io", api_version="v1",
                                     resource="uids", name=uid))
        for a in checks:
            ok, reason = self.authz.authorize(user, a)
            if not ok:
                raise forbidden(user, a, reason)
        if name != ANONYMOUS:
            if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
                groups.append(AUTHENTICATED)
        elif UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
        return UserInfo(name, tuple(groups), uid, tuple(sorted(extra)))

    def _audit_event(self, request: web.Request, st: _State, resp: web.StreamResponse | None) -> Obj:
        now = time.time()
        a = st.attrs
        ev: Obj = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                   "auditID": str(uuid.uuid4()), "stage": "ResponseComplete", "requestURI": request.path_qs,
                   "verb": a.verb if a is not None else request.method.lower(),
                   "user": st.user.to_json() if st.user is not None else {}}
        if st.effective is not None and st.effective is not st.user:
            ev["impersonatedUser"] = st.effective.to_json()
        fwd = request.headers.get("X-Forwarded-For")
        ips = [p.strip() for p in fwd.split(",") if p.strip()] if fwd else []
        if request.remote and request.remote not in ips:
            ips.append(request.remote)
        ev["sourceIPs"] = ips
        if request.headers.get("User-Agent"):
            ev["userAgent"] = request.headers["User-Agent"]
        if a is not None and a.resource_request:
            ref: Obj = {"resource": a.resource}
            if a.namespace:
                ref["namespace"] = a.namespace
            if a.name:
                ref["name"] = a.name
            if a.api_group:
                ref["apiGroup"] = a.api_group
            ref["apiVersion"] = a.api_version
            if a.subresource:
                ref["subresource"] = a.subresource
            ev["objectRef"] = ref
        code = resp.status if resp is not None else 500
        status: Obj = {"metadata": {}, "code": code}
        if code >= 400 and isinstance(resp, web.Response) and resp.body:
            try:
                body = orjson.loads(resp.body)  # type: ignore[arg-type]
                for k in ("status", "message", "reason", "details"):
                    if body.get(k):
                        status[k] = body[k]
            except (orjson.JSONDecodeError, TypeError, AttributeError):
                pass
        ev["responseStatus"] = status
        ev["requestReceivedTimestamp"] = limits.micro_time(st.received)
        ev["stageTimestamp"] = limits.micro_time(now)
        if st.allowed is not None:
            ev["annotations"] = {"authorization.k8s.io/decision": "allow" if st.allowed else "forbid",
                                 "authorization.k8s.io/reason": st.reason}
        return ev

    # ---- escalation prevention ----
    def escalation_check(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        """RBAC's policy-based storage: no granting permissions the requester does not hold."""
        if rt.group != RBAC_GROUP or op not in ("CREATE", "UPDATE") or new is None:
            return
        user = req.user_info
        if user is None or SYSTEM_MASTERS in user.groups:
            return
        if op == "UPDATE" and _only_gc_fields(new, old):
            return
        md = new.get("metadata") or {}
        ns, name = md.get("namespace") or "", md.get("name") or ""
        if rt.plural in ("roles", "clusterroles"):
            url_name = name if op == "UPDATE" else ""
            ok, _ = self.authz.authorize(user, Attributes("escalate", True, api_group=RBAC_GROUP, api_version="*",
                                                          resource=rt.plural, namespace=ns, name=url_name))
            if ok:
                return
            self._confirm_no_escalation(user, ns, rt, name, new.get("rules") or [])
            if rt.plural == "clusterroles" and (new.get("aggregationRule") or (old or {}).get("aggregationRule")):
                owner, _ = self.authz.rbac.rules_for(user, ns)
                if covers(owner, FULL_AUTHORITY):
                    raise errors.ApiError(403, "Forbidden", f"{rt.qualified} {goq(name)} is forbidden: must have "
                                          "cluster-admin privileges to use the aggregationRule",
                                          name=name, group=rt.group, kind=rt.plural)
            return
        ref = new.get("roleRef") if isinstance(new.get("roleRef"), dict) else {}
        kind = {"ClusterRole": "clusterroles", "Role": "roles"}.get(ref.get("kind") or "")
        if kind is None:
            return  # validation rejects the roleRef (422; upstream answers a 500 here)
        ok, _ = self.authz.authorize(user, Attributes("bind", True, api_group=ref.get("apiGroup") or "",
                                                      resource=kind, namespace=ns, name=ref.get("name") or ""))
        if ok:
            return
        raw, _ = self.authz.rbac.role_ref_rules(ref, ns)
        self._confirm_no_escalation(user, ns, rt, name, raw)

    def _confirm_no_escalation(self, user: UserInfo, ns: str, rt: ResourceType, name: str, rules: list[Obj]) -> None:
        owner, errs = self.authz.rbac.rules_for(user, ns)
        missing = covers(owner, [r for r in rules if isinstance(r, dict)])
        if not missing:
            return
        lines = sorted({compact_string(r) for r in compact_rules(missing)})
        msg = (f"user {goq(user.name)} (groups={_go_strs(list(user.groups))}) is attempting to grant RBAC "
               "permissions not currently held:\n" + "\n".join(lines))
        if errs:
            msg += f"; resolution errors: [{' '.join(errs)}]"
        raise errors.ApiError(403, "Forbidden", f"{rt.qualified} {goq(name)} is forbidden: {msg}",
                              name=name, group=rt.group, kind=rt.plural)

    # ---- the computed (never stored) APIs ----
    async def _read(self, request: web.Request, rt: ResourceType, ns: str | None) -> tuple[Obj, Request]:
        server = self.server
        req = server._request(request)
        body = server._decode(await server._body(request), request.content_type)
        body = self.registry._decode_checks(rt, body, ns, req, decoding=True)
        body["metadata"].setdefault("creationTimestamp", None)
        return body, req

    def _reply(self, obj: Obj, req: Request | None = None) -> web.Response:
        headers = self.server._warn_headers(req) if req is not None else None
        return web.Response(body=orjson.dumps(obj), status=201, content_type="application/json", headers=headers)

    @staticmethod
    def _post_only(request: web.Request, name: str | None, want_name: bool) -> None:
        if request.method != "POST" or bool(name) != want_name:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    async def _token_request(self, request: web.Request, rt: ResourceType, ns: str | None,
                             name: str | None) -> web.StreamResponse:
        self._post_only(request, name, True)
        server = self.server
        body = server._decode(await server._body(request), request.content_type)
        if self.signer is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        out = tokens.create_token(self.registry.store, self.signer, ns or "", name or "", body,
                                  self.authn.api_audiences)
        return web.Response(body=orjson.dumps(out), status=201, content_type="application/json")

    async def _token_review(self, request: web.Request, rt: ResourceType, ns: str | None,
                            name: str | None) -> web.StreamResponse:
        self._post_only(request, name, False)
        body, req = await self._read(request, rt, ns)
        return self._reply(tokens.token_review(body, self.authn.authenticate_token, self.authn.api_audiences), req)

    async def _self_subject_review(self, request: web.Request, rt: ResourceType, ns: str | None,
                                   name: str | None) -> web.StreamResponse:
        self._post_only(request, name, False)
        body, req = await self._read(request, rt, ns)
        body["status"] = {"userInfo": request["user"].to_json()}
        return self._reply(body, req)

    async def _access_review(self, request: web.Request, rt: ResourceType, ns: str | None,
                             name: str | None) -> web.StreamResponse:
        self._post_only(request, name, False)
        body, req = await self._read(request, rt, ns)
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        body["spec"] = spec
        ra, na = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        causes = []
        if ra is not None and na is not None:
            causes.append(errors.invalid_value("spec.nonResourceAttributes", "{...}",
                                               "cannot be specified in combination with resourceAttributes"))
        if ra is None and na is None:
            causes.append(errors.invalid_value("spec.resourceAttributes", "null",
                                               "exactly one of nonResourceAttributes or resourceAttributes must be "
                                               "specified"))
        if rt.plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
            if not spec.get("user") and not spec.get("groups"):
                causes.append(errors.invalid_value("spec.user", spec.get("user") or "",
                                                   "at least one of user or group must be specified"))
            user = UserInfo(spec.get("user") or "", tuple(spec.get("groups") or ()), spec.get("uid") or "",
                            tuple(sorted((k, tuple(v)) for k, v in (spec.get("extra") or {}).items())))
        else:
            user = request["user"]
        if rt.plural == "localsubjectaccessreviews":
            if na is not None:
                causes.append(errors.invalid_value("spec.nonResourceAttributes", "{...}",
                                                   "disallowed on this kind of request"))
            if isinstance(ra, dict) and (ra.get("namespace") or "") != (ns or ""):
                causes.append(errors.invalid_value("spec.resourceAttributes.namespace", ra.get("namespace") or "",
                                                   "must match metadata.namespace"))
        if causes:
            raise errors.invalid(rt.kind, rt.group, "", causes)
        if isinstance(ra, dict):
            attrs = Attributes(str(ra.get("verb") or ""), True, api_group=str(ra.get("group") or ""),
                               api_version=str(ra.get("version") or "*"), resource=str(ra.get("resource") or ""),
                               subresource=str(ra.get("subresource") or ""),
                               namespace=str(ra.get("namespace") or ""), name=str(ra.get("name") or ""))
        else:
            na = na if isinstance(na, dict) else {}
            attrs = Attributes(str(na.get("verb") or ""), False, path=str(na.get("path") or ""))
        allowed, reason = self.authz.authorize(user, attrs)
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        body["status"] = status
        return self._reply(body, req)

    async def _rules_review(self, request: web.Request, rt: ResourceType, ns: str | None,
                            name: str | None) -> web.StreamResponse:
        self._post_only(request, name, False)
        body, req = await self._read(request, rt, ns)
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        namespace = spec.get("namespace") or ""
        if not namespace:
            raise errors.bad_request("no namespace on request")
        res, nonres, incomplete, err = self.authz.rules_for(request["user"], namespace)
        status: Obj = {"resourceRules": res, "nonResourceRules": nonres, "incomplete": incomplete}
        if err:
            status["evaluationError"] = err
        out = {"kind": rt.kind, "apiVersion": rt.group_version, "metadata": {"creationTimestamp": None},
               "spec": {}, "status": status}
        return self._reply(out, req)


def build(registry: Registry, pki: dict[str, str], static_tokens: dict[str, UserInfo],
          audit_path: str | None = None, max_inflight: int = limits.DEFAULT_MAX_INFLIGHT,
          max_queued: int = limits.DEFAULT_MAX_QUEUED) -> FrontDoor:
    """The front door of `kubeling up`: signing key in the PKI dir, RBAC over the registry's store."""
    pki_dir = os.path.dirname(pki["ca.crt"])
    signer = tokens.Signer(tokens.ensure_signing_key(pki_dir))
    verifier = tokens.Verifier([signer.public_key])
    authn = Authenticator(static_tokens, tokens.ServiceAccountTokenAuthenticator(registry.store, verifier))
    authz = Authorizer(registry.store)
    limiter = limits.ClientLimiter(max_inflight, max_queued) if max_inflight > 0 else None
    audit = limits.AuditLog(audit_path) if audit_path else None
    return FrontDoor(registry, authn, authz, signer, limiter, audit)

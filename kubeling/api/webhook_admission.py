"""Dynamic admission: MutatingAdmissionWebhook and ValidatingAdmissionWebhook (admissionregistration/v1).

For each write the registry's admission chain asks the configurations stored as
MutatingWebhookConfiguration / ValidatingWebhookConfiguration which webhooks match the request
(rules, scope, namespaceSelector, objectSelector) and POSTs each an admission.k8s.io/v1
AdmissionReview over HTTPS (k8s.io/apiserver/pkg/admission/plugin/webhook). Mutating webhooks run
in order and their JSONPatch responses are applied (reinvocationPolicy IfNeeded: once more when a
later webhook changed the object); validating webhooks run in parallel after object validation.

Compiled configurations are cached and recompiled only when the stored configurations change
(count and highest modification revision of each kind). Webhook configurations themselves are never
intercepted, as upstream exempts admissionregistration resources.
"""
from __future__ import annotations

import asyncio
import base64
import copy
import ssl
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from . import customresource, errors, patch
from . import registry as registry_mod
from .errors import ApiError
from .registry import Registry, Request
from .resources import ResourceType, by_qualified
from .validation import selector_matches

Obj = dict[str, Any]

MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
VALIDATING = "validatingwebhookconfigurations.admissionregistration.k8s.io"
EXEMPT_GROUP = "admissionregistration.k8s.io"
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class CallError(Exception):
    """webhookutil.ErrCallingWebhook: the webhook could not be called or answered nonsense."""

    def __init__(self, webhook: str, reason: str) -> None:
        super().__init__(f'failed calling webhook "{webhook}": {reason}')
        self.webhook = webhook


@dataclass
class Hook:
    """One webhook of a configuration, with what matching and calling need precomputed."""

    name: str
    config: str
    rules: list[Obj]
    failure_policy: str
    side_effects: str
    timeout: float
    namespace_selector: Obj
    object_selector: Obj
    client_config: Obj
    reinvoke: bool = False
    review_version: str = "v1"  # the first of admissionReviewVersions this server speaks
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    @classmethod
    def from_spec(cls, config: str, spec: Obj) -> Hook:
        return cls(
            name=str(spec.get("name") or ""), config=config, rules=[r for r in spec.get("rules") or []
                                                                     if isinstance(r, dict)],
            failure_policy=spec.get("failurePolicy") or "Fail", side_effects=spec.get("sideEffects") or "Unknown",
            timeout=float(spec.get("timeoutSeconds") or 10),
            namespace_selector=spec.get("namespaceSelector") or {}, object_selector=spec.get("objectSelector") or {},
            client_config=spec.get("clientConfig") or {}, reinvoke=spec.get("reinvocationPolicy") == "IfNeeded",
            review_version=next((v for v in spec.get("admissionReviewVersions") or () if v in ("v1", "v1beta1")),
                                "v1"))

    def ssl_context(self) -> ssl.SSLContext:
        """The trust root: caBundle when set, the system roots otherwise."""
        if self._ssl is None:
            ca = self.client_config.get("caBundle")
            if ca:
                pem = base64.b64decode(ca).decode("ascii", "replace")
                self._ssl = ssl.create_default_context(cadata=pem)
            else:
                self._ssl = ssl.create_default_context()
        return self._ssl


# ---- matching (pure) ---------------------------------------------------------------------------
def rule_matches(rule: Obj, op: str, group: str, version: str, resource: str, sub: str, namespace: str) -> bool:
    """rules.Matcher: operation, group, version, resource/subresource and scope."""
    ops = rule.get("operations") or []
    if "*" not in ops and op not in ops:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    versions = rule.get("apiVersions") or []
    if "*" not in versions and version not in versions:
        return False
    for r in rule.get("resources") or []:
        res, _, rsub = str(r).partition("/")
        if (res == "*" or res == resource) and (rsub == "*" or rsub == sub):
            break
    else:
        return False
    scope = rule.get("scope") or "*"
    is_namespace = group == "" and resource == "namespaces"
    if scope == "Namespaced":
        return not is_namespace and bool(namespace)
    if scope == "Cluster":
        return is_namespace or not namespace
    return True


def object_selector_matches(sel: Obj, new: Obj | None, old: Obj | None) -> bool:
    """An empty selector matches everything; otherwise the new or the old object's labels must match."""
    if not sel:
        return True
    for o in (new, old):
        if isinstance(o, dict) and selector_matches(sel, (o.get("metadata") or {}).get("labels") or {}):
            return True
    return False


def denial(webhook: str, status: Obj | None) -> ApiError:
    """webhookutil.ToStatusErr: the webhook's Status, at least 400, with the denial prefix."""
    st = dict(status or {})
    code = st.get("code") if isinstance(st.get("code"), int) else 0
    code = max(code, 400)
    denied = f'admission webhook "{webhook}" denied the request'
    if st.get("message"):
        message = f"{denied}: {st['message']}"
    elif st.get("reason"):
        message = f"{denied}: {st['reason']}"
    else:
        message = f"{denied} without explanation"
    details = st.get("details") if isinstance(st.get("details"), dict) else {}
    return ApiError(code, str(st.get("reason") or ""), message, name=details.get("name"),
                    group=details.get("group"), kind=details.get("kind"), causes=details.get("causes"))


def build_review(uid: str, op: str, rt: ResourceType, sub: str, name: str, namespace: str, new: Obj | None,
                 old: Obj | None, req: Request) -> Obj:
    """An admission.k8s.io/v1 AdmissionReview request for this write."""
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    resource = {"group": rt.group, "version": rt.version, "resource": rt.plural}
    if sub == "scale":
        kind = _SCALE_KIND
        new, old = _scale_of(rt, new), _scale_of(rt, old)
    r: Obj = {"uid": uid, "kind": kind, "resource": resource, "subResource": sub, "requestKind": kind,
              "requestResource": resource, "requestSubResource": sub, "name": name, "namespace": namespace,
              "operation": op, "userInfo": _user_info(req), "object": new, "oldObject": old,
              "dryRun": req.dry_run}
    for k in ("subResource", "requestSubResource", "name", "namespace"):  # omitempty
        if not r[k]:
            del r[k]
    options: Obj = {"kind": _OPTIONS_KIND.get(op, "CreateOptions"), "apiVersion": "meta.k8s.io/v1"}
    if req.dry_run:
        options["dryRun"] = ["All"]
    if req.field_manager and op != "DELETE":
        options["fieldManager"] = req.field_manager
    r["options"] = options
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": r}


_SCALE_KIND = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def _scale_of(rt: ResourceType, obj: Obj | None) -> Obj | None:
    """The autoscaling/v1 Scale a /scale request is about (webhooks see the Scale, as upstream)."""
    if obj is None:
        return None
    return customresource.to_scale(rt, obj) if rt.custom is not None else registry_mod._to_scale(obj)


def _set_scale_replicas(rt: ResourceType, obj: Obj, scale: Obj) -> None:
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if rt.custom is not None:
        customresource.set_replicas(rt, obj, replicas)
    else:
        obj.setdefault("spec", {})["replicas"] = replicas


def _user_info(req: Request) -> Obj:
    ui = req.user_info
    if ui is not None and hasattr(ui, "to_json"):
        return ui.to_json()
    return {"username": req.user, "groups": ["system:masters", "system:authenticated"]}


def parse_response(hook: Hook, uid: str, body: Any) -> Obj:
    """The review's response after upstream's checks (VerifyAdmissionResponse)."""
    want = f"admission.k8s.io/{hook.review_version}"
    if not isinstance(body, dict) or body.get("kind") != "AdmissionReview" or body.get("apiVersion") != want:
        got = f"{body.get('apiVersion') or ''}, Kind={body.get('kind') or ''}" if isinstance(body, dict) else ", Kind="
        raise CallError(hook.name, f"received invalid webhook response: expected webhook response of {want}, "
                                   f"Kind=AdmissionReview, got {got}")
    resp = body.get("response")
    if not isinstance(resp, dict):
        raise CallError(hook.name, "received invalid webhook response: webhook response was absent")
    if resp.get("uid") != uid:
        raise CallError(hook.name, f'received invalid webhook response: expected response.uid="{uid}", '
                                   f'got "{resp.get("uid")}"')
    return resp


# ---- the plugin --------------------------------------------------------------------------------
class WebhookAdmission:
    """Both webhook plugins over one cache of compiled configurations."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._rts = {q: by_qualified(q) for q in (MUTATING, VALIDATING)}
        self._cache: dict[str, tuple[tuple[int, int], list[Hook]]] = {}
        self._session: aiohttp.ClientSession | None = None

    def hooks(self, qualified: str) -> list[Hook]:
        """The compiled webhooks of one kind, in upstream's order (configurations by name, then listed order)."""
        items, _ = self.registry.store.list(self._rts[qualified].key_prefix(None))
        if not items:
            return []
        stamp = (len(items), max(kv.mod_rev for kv in items))
        cached = self._cache.get(qualified)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        hooks = [Hook.from_spec(kv.obj["metadata"]["name"], h) for kv in items
                 for h in kv.obj.get("webhooks") or () if isinstance(h, dict)]
        self._cache[qualified] = (stamp, hooks)
        return hooks

    def _namespace_labels(self, rt: ResourceType, new: Obj | None, old: Obj | None, ns: str) -> dict | None:
        if rt.qualified == "namespaces":
            o = new if new is not None else old
            return ((o or {}).get("metadata") or {}).get("labels") or {}
        if not rt.namespaced:
            return None  # cluster-scoped: the namespaceSelector does not apply
        kv = self.registry.store.get(by_qualified("namespaces").key(None, ns))
        return ((kv.obj.get("metadata") or {}).get("labels") or {}) if kv is not None else {}

    def _matching(self, qualified: str, op: str, rt: ResourceType, new: Obj | None, old: Obj | None,
                  req: Request) -> tuple[list[Hook], str, str, str]:
        hooks = self.hooks(qualified)
        if not hooks or rt.group == EXEMPT_GROUP:
            return [], "", "", ""
        o = new if new is not None else old
        md = (o or {}).get("metadata") or {}
        name = md.get("name") or ""
        ns_name = name
        gen = md.get("generateName")
        if op == "CREATE" and gen and name.startswith(gen) and len(name) == len(gen) + 5:
            name = ""  # a generated name: upstream's request carries none (it is made after admission)
        # The namespace of a request for a Namespace object is that namespace's own name.
        ns = ns_name if rt.qualified == "namespaces" else (md.get("namespace") or "") if rt.namespaced else ""
        sub = req.subresource or "" if op == "UPDATE" else ""
        out: list[Hook] = []
        ns_labels: Any = False
        for h in hooks:
            if not any(rule_matches(r, op, rt.group, rt.version, rt.plural, sub, ns) for r in h.rules):
                continue
            if h.namespace_selector:
                if ns_labels is False:
                    ns_labels = self._namespace_labels(rt, new, old, ns)
                if ns_labels is not None and not selector_matches(h.namespace_selector, ns_labels):
                    continue
            if not object_selector_matches(h.object_selector, *((_scale_of(rt, new), _scale_of(rt, old))
                                                                   if sub == "scale" else (new, old))):
                continue
            if req.dry_run and h.side_effects not in ("None", "NoneOnDryRun"):
                raise errors.bad_request(f'admission webhook "{h.name}" does not support dry run')
            out.append(h)
        return out, name, ns, sub

    # mutating: registry.admission
    async def mutate(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        if op == "DELETE":
            # The registry's delete path has no validating phase: the validating webhooks follow here.
            await self._mutate_all(op, rt, new, old, req)
            await self.validate(op, rt, new, old, req)
            return
        await self._mutate_all(op, rt, new, old, req)

    async def _mutate_all(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        hooks, name, ns, sub = self._matching(MUTATING, op, rt, new, old, req)
        if not hooks:
            return
        changed_after: dict[int, bool] = {}
        for i, h in enumerate(hooks):
            if await self._mutate_once(h, op, rt, sub, name, ns, new, old, req):
                for j in changed_after:
                    changed_after[j] = True
            if h.reinvoke:
                changed_after[i] = False
        again = [hooks[i] for i, changed in sorted(changed_after.items()) if changed]
        for h in again:
            await self._mutate_once(h, op, rt, sub, name, ns, new, old, req)

    async def _mutate_once(self, h: Hook, op: str, rt: ResourceType, sub: str, name: str, ns: str,
                           new: Obj | None, old: Obj | None, req: Request) -> bool:
        """Call one mutating webhook; True when its patch changed the object (patched in place)."""
        uid = str(uuid.uuid4())
        try:
            resp = await self._call(h, uid, build_review(uid, op, rt, sub, name, ns, new, old, req))
        except CallError as e:
            if h.failure_policy == "Ignore":
                return False
            raise errors.internal(str(e)) from None
        req.warnings.extend(str(w) for w in resp.get("warnings") or ())
        if not resp.get("allowed"):
            raise denial(h.name, resp.get("status"))
        raw = resp.get("patch")
        if not raw or new is None:
            return False
        try:
            if resp.get("patchType") != "JSONPatch":
                raise CallError(h.name, f"unsupported patch type {resp.get('patchType')!r}")
            ops = orjson.loads(base64.b64decode(raw))
            if sub == "scale":  # the patch is against the Scale: only its replicas reach the object
                scale = patch.json_patch(_scale_of(rt, new), ops)
                patched = copy.deepcopy(new)
                if isinstance(scale, dict):
                    _set_scale_replicas(rt, patched, scale)
            else:
                patched = patch.json_patch(copy.deepcopy(new), ops)
            if not isinstance(patched, dict):
                raise CallError(h.name, "patch produced a non-object")
        except CallError as e:
            if h.failure_policy == "Ignore":
                return False
            raise errors.internal(str(e)) from None
        except ApiError as e:
            raise errors.internal(f'failed calling webhook "{h.name}": {e.message}') from None
        except Exception as e:  # noqa: BLE001 - a malformed patch is the webhook's error
            raise errors.internal(f'failed calling webhook "{h.name}": {e}') from None
        # Managed fields a webhook breaks are restored (NewManagedFieldsValidatingAdmissionController).
        mf = (patched.get("metadata") or {}).get("managedFields")
        if mf is not None and not (isinstance(mf, list) and all(isinstance(e, dict) for e in mf)):
            patched["metadata"]["managedFields"] = (new.get("metadata") or {}).get("managedFields")
        if patched == new:
            return False
        new.clear()
        new.update(patched)
        return True

    # validating: registry.validating
    async def validate(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        hooks, name, ns, sub = self._matching(VALIDATING, op, rt, new, old, req)
        if not hooks:
            return
        results = await asyncio.gather(*(self._validate_one(h, op, rt, sub, name, ns, new, old, req)
                                         for h in hooks))
        for err in results:
            if err is not None:
                raise err

    async def _validate_one(self, h: Hook, op: str, rt: ResourceType, sub: str, name: str, ns: str,
                            new: Obj | None, old: Obj | None, req: Request) -> ApiError | None:
        uid = str(uuid.uuid4())
        try:
            resp = await self._call(h, uid, build_review(uid, op, rt, sub, name, ns, new, old, req))
        except CallError as e:
            return None if h.failure_policy == "Ignore" else errors.internal(str(e))
        req.warnings.extend(str(w) for w in resp.get("warnings") or ())
        if not resp.get("allowed"):
            return denial(h.name, resp.get("status"))
        return None

    # ---- calling ---------------------------------------------------------------------------------
    def _target(self, h: Hook) -> tuple[str, str, str | None]:
        """(display URL, URL to dial, TLS server name) for a hook; CallError if a service has no endpoint."""
        cc = h.client_config
        t = f"timeout={int(h.timeout)}s"
        if cc.get("url"):
            url = str(cc["url"])
            shown = url + ("&" if "?" in url else "?") + t
            return shown, shown, None
        svc = cc.get("service") or {}
        sname, sns = svc.get("name") or "", svc.get("namespace") or ""
        port = int(svc.get("port") or 443)
        path = svc.get("path") or ""
        host = f"{sname}.{sns}.svc"
        shown = f"https://{host}:{port}{path}?{t}"
        addr = self._resolve_service(h, shown, sns, sname, port)
        ip, tport = addr
        return shown, f"https://{ip}:{tport}{path}?{t}", host

    def _resolve_service(self, h: Hook, shown: str, ns: str, name: str, port: int) -> tuple[str, int]:
        """Where to dial a service reference: an ExternalName service's host (as upstream's ResolveCluster),
        else a loopback address of the service (simulated pod and cluster IPs are unreachable)."""
        store = self.registry.store
        svc = store.get(by_qualified("services").key(ns, name))
        if svc is None:
            raise CallError(h.name, f'failed to call webhook: Post "{shown}": service "{name}" not found')
        spec = svc.obj.get("spec") or {}
        if spec.get("type") == "ExternalName" and spec.get("externalName"):
            return str(spec["externalName"]), port
        addr = self._loopback_endpoint(store, spec, ns, name, port)
        if addr is None:
            raise CallError(h.name, f'failed to call webhook: Post "{shown}": '
                                    f'no endpoints available for service "{name}"')
        return addr

    @staticmethod
    def _loopback_endpoint(store: Any, spec: Obj, ns: str, name: str, port: int) -> tuple[str, int] | None:
        sport = next((p for p in spec.get("ports") or () if p.get("port") == port), None)
        if sport is None:
            return None
        ip = spec.get("clusterIP") or ""
        if ip.startswith("127."):
            return ip, port
        ep = store.get(by_qualified("endpoints").key(ns, name))
        for subset in ((ep.obj.get("subsets") or ()) if ep is not None else ()):
            ports = subset.get("ports") or []
            match = next((p for p in ports if (p.get("name") or "") == (sport.get("name") or "")), None)
            if match is None and len(ports) == 1:
                match = ports[0]
            if match is None:
                continue
            for a in subset.get("addresses") or ():
                if str(a.get("ip") or "").startswith("127."):
                    return a["ip"], int(match["port"])
        return None

    async def _call(self, h: Hook, uid: str, review: Obj) -> Obj:
        shown, url, server_name = self._target(h)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        if h.review_version != "v1":
            review = {**review, "apiVersion": "admission.k8s.io/" + h.review_version}
        body = orjson.dumps(review)
        prefix = f'failed to call webhook: Post "{shown}"'
        try:
            kw: dict[str, Any] = {"server_hostname": server_name} if server_name else {}
            async with self._session.post(
                    url, data=body, headers={"Content-Type": "application/json", "Accept": "application/json"},
                    ssl=h.ssl_context(), timeout=aiohttp.ClientTimeout(total=h.timeout), **kw) as r:
                raw = await r.read()
                if r.status < 200 or r.status >= 300:
                    raise CallError(h.name, f"{prefix}: {r.status} {r.reason}: {raw[:200].decode('utf-8', 'replace')}")
        except CallError:
            raise
        except TimeoutError:
            raise CallError(h.name, f"{prefix}: context deadline exceeded") from None
        except aiohttp.ClientConnectorCertificateError as e:
            raise CallError(h.name, f"{prefix}: tls: failed to verify certificate: {_x509_text(e)}") from None
        except aiohttp.ClientConnectorError as e:
            u = urllib.parse.urlsplit(url)
            raise CallError(h.name, f"{prefix}: dial tcp {u.hostname}:{u.port or 443}: connect: "
                                    f"{_errno_text(e)}") from None
        except (aiohttp.ClientError, OSError, ssl.SSLError) as e:
            raise CallError(h.name, f"{prefix}: {e}") from None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise CallError(h.name, f"received invalid webhook response: {e}") from None
        return parse_response(h, uid, data)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _x509_text(e: aiohttp.ClientConnectorCertificateError) -> str:
    """Go's wording for the usual verification failure (an unknown issuer); Python's otherwise."""
    err = e.certificate_error
    why = str(getattr(err, "verify_message", "") or err)
    if "issuer" in why or "self-signed" in why or "self signed" in why:
        return "x509: certificate signed by unknown authority"
    return why


def _errno_text(e: aiohttp.ClientConnectorError) -> str:
    err = getattr(e, "os_error", None)
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return str(getattr(err, "strerror", None) or err or e).lower()


def install(registry: Registry, mutating: bool = True) -> WebhookAdmission:
    """Add the mutating plugin (after the built-in mutating ones) or the validating one to the chain."""
    plugin = next((p.__self__ for p in registry.admission + registry.validating
                   if isinstance(getattr(p, "__self__", None), WebhookAdmission)), None)
    if plugin is None:
        plugin = WebhookAdmission(registry)
    if mutating:
        registry.admission.append(plugin.mutate)
    else:
        registry.validating.append(plugin.validate)
    return plugin

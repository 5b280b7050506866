"""Pure logic of the webhook admission plugins: rule matching, selectors, denial Status, the review,
dry-run refusal, reinvocation, and the webhook configuration defaults and validation."""
from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from kubeling.api import defaults, validation
from kubeling.api import webhook_admission as wa
from kubeling.api.errors import ApiError
from kubeling.api.registry import Registry, Request
from kubeling.api.resources import by_qualified
from kubeling.storage.store import Store

_RULE = {"operations": ["CREATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"],
         "scope": "*"}


def test_rule_operations_groups_versions() -> None:
    assert wa.rule_matches(_RULE, "CREATE", "apps", "v1", "deployments", "", "ns")
    assert not wa.rule_matches(_RULE, "UPDATE", "apps", "v1", "deployments", "", "ns")
    assert not wa.rule_matches(_RULE, "CREATE", "", "v1", "deployments", "", "ns")
    assert not wa.rule_matches(_RULE, "CREATE", "apps", "v1beta1", "deployments", "", "ns")
    star = {**_RULE, "operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}
    assert wa.rule_matches(star, "DELETE", "batch", "v1", "jobs", "", "ns")


def test_rule_subresources() -> None:
    plain = {**_RULE, "operations": ["UPDATE"]}
    assert not wa.rule_matches(plain, "UPDATE", "apps", "v1", "deployments", "status", "ns")
    status = {**plain, "resources": ["*/status"]}
    assert wa.rule_matches(status, "UPDATE", "apps", "v1", "deployments", "status", "ns")
    assert not wa.rule_matches(status, "UPDATE", "apps", "v1", "deployments", "", "ns")
    all_subs = {**plain, "resources": ["deployments/*"]}
    assert wa.rule_matches(all_subs, "UPDATE", "apps", "v1", "deployments", "", "ns")
    assert wa.rule_matches(all_subs, "UPDATE", "apps", "v1", "deployments", "scale", "ns")
    assert wa.rule_matches({**plain, "resources": ["*/*"]}, "UPDATE", "apps", "v1", "replicasets", "status", "n")


def test_rule_scope() -> None:
    core = {"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*"]}
    ns_scope, cl_scope = {**core, "scope": "Namespaced"}, {**core, "scope": "Cluster"}
    assert wa.rule_matches(ns_scope, "CREATE", "", "v1", "pods", "", "default")
    assert not wa.rule_matches(ns_scope, "CREATE", "", "v1", "nodes", "", "")
    # A Namespace object is cluster-scoped although its request carries its own name as namespace.
    assert not wa.rule_matches(ns_scope, "CREATE", "", "v1", "namespaces", "", "team-a")
    assert wa.rule_matches(cl_scope, "CREATE", "", "v1", "namespaces", "", "team-a")
    assert wa.rule_matches(cl_scope, "CREATE", "", "v1", "nodes", "", "")
    assert not wa.rule_matches(cl_scope, "CREATE", "", "v1", "pods", "", "default")


def test_object_selector_new_or_old() -> None:
    sel = {"matchLabels": {"a": "1"}}
    assert wa.object_selector_matches({}, None, None)
    assert wa.object_selector_matches(sel, {"metadata": {"labels": {"a": "1"}}}, None)
    assert wa.object_selector_matches(sel, {"metadata": {}}, {"metadata": {"labels": {"a": "1"}}})
    assert not wa.object_selector_matches(sel, {"metadata": {}}, None)
    expr = {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}
    assert wa.object_selector_matches(expr, {"metadata": {}}, None)


def test_denial_status() -> None:
    e = wa.denial("x.example.com", {"code": 403, "message": "nope", "reason": "Forbidden"})
    assert (e.code, e.reason, e.message) == (403, "Forbidden", 'admission webhook "x.example.com" denied the '
                                                               "request: nope")
    e = wa.denial("x.example.com", {"code": 200, "reason": "Bad"})
    assert (e.code, e.message) == (400, 'admission webhook "x.example.com" denied the request: Bad')
    e = wa.denial("x.example.com", None)
    assert (e.code, e.message) == (400, 'admission webhook "x.example.com" denied the request without explanation')


def test_parse_response_checks_uid() -> None:
    h = wa.Hook.from_spec("c", {"name": "x.example.com"})
    ok = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "u", "allowed": True}}
    assert wa.parse_response(h, "u", ok)["allowed"] is True
    with pytest.raises(wa.CallError, match='expected response.uid="v", got "u"'):
        wa.parse_response(h, "v", ok)
    with pytest.raises(wa.CallError, match="expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, "
                                           "got admission.k8s.io/v1beta1, Kind=AdmissionReview"):
        wa.parse_response(h, "u", {**ok, "apiVersion": "admission.k8s.io/v1beta1"})
    old_hook = wa.Hook.from_spec("c", {"name": "x.example.com", "admissionReviewVersions": ["v2", "v1beta1", "v1"]})
    assert old_hook.review_version == "v1beta1"
    assert wa.parse_response(old_hook, "u", {**ok, "apiVersion": "admission.k8s.io/v1beta1"})["allowed"] is True
    with pytest.raises(wa.CallError, match="webhook response was absent"):
        wa.parse_response(h, "u", {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})


def test_build_review_for_namespace_and_subresource() -> None:
    rt = by_qualified("deployments.apps")
    req = Request(dry_run=True, field_manager="mgr")
    req.subresource = "status"
    r = wa.build_review("u", "UPDATE", rt, "status", "d", "ns", {"a": 1}, {"b": 2}, req)["request"]
    assert r["subResource"] == r["requestSubResource"] == "status"
    assert r["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert r["options"] == {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"],
                            "fieldManager": "mgr"}
    assert r["dryRun"] is True


# ---- the plugin over a memory store, with the HTTP call replaced ------------------------------------
class _Plugin(wa.WebhookAdmission):
    def __init__(self, registry: Registry, answers: dict[str, Any]) -> None:
        super().__init__(registry)
        self.answers = answers
        self.calls: list[str] = []

    async def _call(self, h: wa.Hook, uid: str, review: dict) -> dict:
        self.calls.append(h.name)
        answer = self.answers[h.name]
        if isinstance(answer, Exception):
            raise answer
        resp = {"uid": uid, "allowed": True}
        if callable(answer):
            ops = answer(review["request"]["object"])
            if ops:
                resp.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(ops).encode()).decode())
        else:
            resp.update(answer)
        return resp


def _store_config(store: Store, kind: str, hooks: list[dict]) -> None:
    qualified = wa.MUTATING if kind == "MutatingWebhookConfiguration" else wa.VALIDATING
    rt = by_qualified(qualified)
    obj = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": "c"},
           "webhooks": hooks}
    defaults.apply_defaults(qualified, obj)

    async def put() -> None:
        await store.create(rt.key(None, "c"), obj)

    asyncio.run(put())


def _h(name: str, **kw: Any) -> dict:
    return {"name": name, "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://127.0.0.1:1/"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["configmaps"]}], **kw}


def _cm() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}}


def _add_label(key: str) -> Any:
    def patch(obj: dict) -> list:
        labels = obj["metadata"].get("labels")
        if labels and key in labels:
            return []
        if labels is None:
            return [{"op": "add", "path": "/metadata/labels", "value": {key: "1"}}]
        return [{"op": "add", "path": f"/metadata/labels/{key}", "value": "1"}]
    return patch


def test_mutating_order_and_reinvocation() -> None:
    store = Store()
    _store_config(store, "MutatingWebhookConfiguration",
                  [_h("first.example.com", reinvocationPolicy="IfNeeded"), _h("second.example.com")])
    p = _Plugin(Registry(store), {"first.example.com": _add_label("first"),
                                  "second.example.com": _add_label("second")})
    obj = _cm()
    asyncio.run(p.mutate("CREATE", by_qualified("configmaps"), obj, None, Request()))
    assert obj["metadata"]["labels"] == {"first": "1", "second": "1"}
    # second changed the object after first ran: first (IfNeeded) is called once more.
    assert p.calls == ["first.example.com", "second.example.com", "first.example.com"]


def test_failure_policy_and_dry_run() -> None:
    store = Store()
    _store_config(store, "ValidatingWebhookConfiguration",
                  [_h("ignore.example.com", failurePolicy="Ignore"), _h("fail.example.com")])
    down = wa.CallError("x", "failed to call webhook: boom")
    p = _Plugin(Registry(store), {"ignore.example.com": down, "fail.example.com": {}})
    asyncio.run(p.validate("CREATE", by_qualified("configmaps"), _cm(), None, Request()))
    p.answers["fail.example.com"] = wa.CallError("fail.example.com", "failed to call webhook: boom")
    with pytest.raises(ApiError) as ei:
        asyncio.run(p.validate("CREATE", by_qualified("configmaps"), _cm(), None, Request()))
    assert ei.value.code == 500
    assert ei.value.message == 'Internal error occurred: failed calling webhook "fail.example.com": failed to ' \
                               "call webhook: boom"
    # A webhook that may have side effects refuses dry-run requests (v1beta1-era configurations).
    p._cache.clear()
    cfg = store.get(by_qualified(wa.VALIDATING).key(None, "c")).copy()
    cfg["webhooks"][1]["sideEffects"] = "Unknown"

    async def put() -> None:
        await store.update(by_qualified(wa.VALIDATING).key(None, "c"), cfg)

    asyncio.run(put())
    with pytest.raises(ApiError) as ei:
        asyncio.run(p.validate("CREATE", by_qualified("configmaps"), _cm(), None, Request(dry_run=True)))
    assert (ei.value.code, ei.value.message) == (400, 'admission webhook "fail.example.com" does not support dry run')


def test_configurations_are_exempt() -> None:
    store = Store()
    hook = _h("all.example.com")
    hook["rules"] = [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]
    _store_config(store, "ValidatingWebhookConfiguration", [hook])
    p = _Plugin(Registry(store), {"all.example.com": {"allowed": False}})
    rt = by_qualified(wa.VALIDATING)
    asyncio.run(p.validate("CREATE", rt, {"metadata": {"name": "x"}}, None, Request()))
    assert p.calls == []


def test_defaults_and_validation() -> None:
    obj = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
           "metadata": {"name": "m"},
           "webhooks": [{"name": "a.b.c", "clientConfig": {"service": {"name": "s", "namespace": "n"}},
                         "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                    "resources": ["pods"]}], "sideEffects": "None",
                         "admissionReviewVersions": ["v1beta1"]}]}
    defaults.apply_defaults(wa.MUTATING, obj)
    h = obj["webhooks"][0]
    assert h["clientConfig"]["service"]["port"] == 443
    assert (h["failurePolicy"], h["matchPolicy"], h["timeoutSeconds"], h["reinvocationPolicy"]) == (
        "Fail", "Equivalent", 10, "Never")
    assert validation.validate(wa.MUTATING, obj, None) == []
    h["rules"][0]["resources"] = ["*", "pods"]
    h["clientConfig"]["service"]["path"] = "/a//b"
    msgs = [c["message"] for c in validation.validate(wa.MUTATING, obj, None)]
    assert 'Invalid value: []string{"*", "pods"}: if \'*\' is present, must not specify other resources without ' \
           "subresources" in msgs
    assert 'Invalid value: "/a//b": segment[1] may not be empty' in msgs


def test_scale_subresource_sends_a_scale() -> None:
    store = Store()
    hook = _h("scale.example.com")
    hook["rules"] = [{"operations": ["UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
                      "resources": ["deployments/scale"]}]
    _store_config(store, "MutatingWebhookConfiguration", [hook])
    seen: list[dict] = []

    def halve(obj: dict) -> list:
        seen.append(obj)
        return [{"op": "replace", "path": "/spec/replicas", "value": obj["spec"]["replicas"] // 2}]

    p = _Plugin(Registry(store), {"scale.example.com": halve})
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
           "spec": {"replicas": 8, "selector": {"matchLabels": {"a": "b"}}}, "status": {"replicas": 2}}
    req = Request()
    req.subresource = "scale"
    asyncio.run(p.mutate("UPDATE", by_qualified("deployments.apps"), dep, dict(dep), req))
    assert seen[0]["kind"] == "Scale" and seen[0]["spec"] == {"replicas": 8}
    assert dep["spec"]["replicas"] == 4
    # Without the subresource the rule does not match.
    req.subresource = None
    asyncio.run(p.mutate("UPDATE", by_qualified("deployments.apps"), dep, dict(dep), req))
    assert len(seen) == 1

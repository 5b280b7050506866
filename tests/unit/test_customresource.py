"""Schema-driven pruning, defaulting, validation and printing of custom resources (api.customresource)."""
from __future__ import annotations

from kubeling.api import crd
from kubeling.api import customresource as cr

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 3, "default": 1},
        "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
        "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
        "size": {"x-kubernetes-int-or-string": True},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "tags": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
        "nested": {"type": "object", "default": {}, "properties": {"deep": {"type": "string", "default": "d"}}},
    }},
}}


def test_prune_reports_paths_and_keeps_meta() -> None:
    obj = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "bogus": 1,
           "spec": {"name": "a", "unknown": 1, "free": {"any": {"thing": 1}}, "labels": {"k": "v"},
                    "items": [{"a": 1, "b": 2}], "template": {"apiVersion": "v1", "kind": "Pod",
                                                          "metadata": {"name": "p"}, "spec": {"x": "1", "y": 2}}}}
    out = cr.prune(SCHEMA, obj)
    assert out == ["bogus", "spec.unknown", "spec.items[0].b", "spec.template.spec.y"]
    assert obj["metadata"] == {"name": "n"} and obj["spec"]["free"] == {"any": {"thing": 1}}
    assert obj["spec"]["template"]["kind"] == "Pod" and obj["spec"]["items"] == [{"a": 1}]


def test_defaults_fill_absent_and_nested() -> None:
    obj = {"spec": {"name": "a", "replicas": None}}
    cr.apply_schema_defaults(SCHEMA, obj)
    assert obj["spec"]["replicas"] == 1 and obj["spec"]["mode"] == "A"
    assert obj["spec"]["nested"] == {"deep": "d"}


def test_validation_messages() -> None:
    obj = {"spec": {"name": "TOOLONG", "replicas": "x", "ratio": 0, "mode": "C", "size": True,
                    "labels": {"k": 1}, "tags": ["a", "a", "b"]}}
    msgs = {(c["field"], c["message"]) for c in cr.validate_value(SCHEMA, obj)}
    assert ("spec.replicas", 'Invalid value: "x": spec.replicas in body must be of type integer: "string"') in msgs
    assert ("spec.name", "Too long: may not be more than 5 bytes") in msgs
    assert ("spec.name", "Invalid value: \"TOOLONG\": spec.name in body should match '^[a-z]+$'") in msgs
    assert ("spec.ratio", "Invalid value: 0: spec.ratio in body should be greater than 0") in msgs
    assert ("spec.mode", 'Unsupported value: "C": supported values: "A", "B"') in msgs
    assert ("spec.labels.k", 'Invalid value: 1: spec.labels.k in body must be of type string: "integer"') in msgs
    assert ("spec.tags", "Too many: 3: must have at most 2 items") in msgs
    assert ("spec.tags[1]", 'Duplicate value: "a"') in msgs
    assert any(f == "spec.size" for f, _ in msgs)
    assert ("spec.name", "Required value") in {(c["field"], c["message"])
                                              for c in cr.validate_value(SCHEMA, {"spec": {}})}
    assert cr.validate_value(SCHEMA, {"spec": {"name": "ok", "replicas": 2, "size": "10%"}}) == []


def test_jsonpath_and_cells() -> None:
    obj = {"metadata": {"name": "n"}, "status": {"conditions": [{"type": "A", "status": "False"},
                                                                {"type": "Ready", "status": "True"}]},
           "spec": {"n": 2.0, "b": True, "l": [1, 2]}}
    assert cr.jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert cr.jsonpath(obj, ".spec.l[1]") == [2]
    assert cr.jsonpath(obj, ".spec.missing") == []
    assert cr._cell("integer", 2.0) == 2 and cr._cell("boolean", True) is True
    assert cr._cell("string", [1, 2]) == "[1,2]" and cr._cell("date", "bad", 0) == "<invalid>"


def test_crd_defaults_and_validation() -> None:
    obj = {"metadata": {"name": "foos.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "foos", "kind": "Foo"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    crd.set_defaults(obj)
    assert obj["spec"]["conversion"] == {"strategy": "None"}
    assert obj["spec"]["names"]["singular"] == "foo" and obj["spec"]["names"]["listKind"] == "FooList"
    crd.prepare_for_create(obj)
    assert crd.validate_create(obj) == []
    obj["spec"]["versions"][0]["storage"] = False
    fields = [c["field"] for c in crd.validate_create(obj)]
    assert "spec.versions" in fields


def test_version_priority_order() -> None:
    vs = ["v1alpha1", "v2", "v1beta1", "v1", "foo", "v10beta3"]
    assert sorted(vs, key=crd._version_priority) == ["v2", "v1", "v10beta3", "v1beta1", "v1alpha1", "foo"]


def test_string_formats() -> None:
    node = {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"},
                                             "id": {"type": "string", "format": "uuid"},
                                             "n": {"type": "integer", "format": "int32"},
                                             "other": {"type": "string", "format": "unknown-format"}}}
    ok = {"when": "2024-05-01T10:00:00Z", "id": "123e4567-e89b-12d3-a456-426614174000", "n": 2 ** 40, "other": "x"}
    assert cr.validate_value(node, ok, "spec", root=False) == []
    causes = cr.validate_value(node, {"when": "yesterday", "id": "nope"}, "spec", root=False)
    assert causes == [
        {"type": "FieldValueTypeInvalid", "field": "spec.when",
         "message": 'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"'},
        {"type": "FieldValueTypeInvalid", "field": "spec.id",
         "message": 'Invalid value: "nope": spec.id in body must be of type uuid: "nope"'}]
    for fmt, good, bad in (("date", "2024-02-29", "2023-02-29"), ("byte", "aGVsbG8=", "***"),
                           ("ipv4", "10.1.2.3", "10.1.2"), ("ipv6", "fe80::1", "10.1.2.3"),
                           ("cidr", "10.0.0.0/8", "10.0.0.0"), ("hostname", "a.example.com", "-a"),
                           ("mac", "01:23:45:67:89:ab", "01:23"), ("duration", "1h30m", "soon"),
                           ("email", "a@example.com", "a"), ("uri", "https://x/y", "x y"),
                           ("datetime", "2024-01-01T00:00:00+02:00", "2024-01-01"), ("hexcolor", "#fff", "fff0")):
        assert cr.check_format(fmt, good), (fmt, good)
        assert not cr.check_format(fmt, bad), (fmt, bad)


def test_conversion_rewrites_api_version_only() -> None:
    from kubeling.api.resources import ResourceType
    from kubeling.storage.base import KV

    info = cr.CustomInfo(crd="ws.g.io", schema=None, storage_version="v1")
    beta = ResourceType("g.io", "v1beta1", "W", "ws", "w", True, custom=info)
    stored = {"apiVersion": "g.io/v1", "kind": "W", "metadata": {"name": "a"}, "spec": {"x": 1}}
    kv = KV("/k", stored, b"{}", 1, 2)
    out = cr.convert_out(beta, kv)
    assert out.obj == dict(stored, apiVersion="g.io/v1beta1") and out.mod_rev == 2 and stored["apiVersion"] == "g.io/v1"
    assert cr.convert_out(ResourceType("g.io", "v1", "W", "ws", "w", True, custom=info), kv) is kv
    body = dict(stored, apiVersion="g.io/v1beta1")
    cr.to_storage(beta, body)
    assert body["apiVersion"] == "g.io/v1"
    hooked = cr.CustomInfo(crd="ws.g.io", schema=None, storage_version="v1",
                           webhook={"service": {"name": "conv", "namespace": "ns", "port": 443}})
    rt = ResourceType("g.io", "v1beta1", "W", "ws", "w", True, custom=hooked)
    try:
        cr.convert_out(rt, kv)
    except Exception as e:  # noqa: BLE001 - the ApiError upstream answers with
        assert e.code == 500 and "conversion webhook for g.io/v1, Kind=W failed" in e.message
    else:
        raise AssertionError("conversion through an unreachable webhook must fail")


def test_deprecation_warning_default_names_newer_version() -> None:
    spec = {"group": "g.io", "versions": [{"name": "v1alpha1", "served": True, "deprecated": True},
                                          {"name": "v1beta1", "served": True},
                                          {"name": "v1", "served": True, "deprecated": True},
                                          {"name": "v2", "served": False}]}
    assert crd._deprecation_warning(spec, spec["versions"][0], "W") == "g.io/v1alpha1 W is deprecated; use g.io/v1beta1 W"
    assert crd._deprecation_warning(spec, spec["versions"][2], "W") == "g.io/v1 W is deprecated"
    assert crd._deprecation_warning(spec, dict(spec["versions"][2], deprecationWarning="old"), "W") == "old"
    assert crd._deprecation_warning(spec, spec["versions"][1], "W") == ""


RULES = {"type": "object", "properties": {"spec": {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.min <= self.max", "message": "min must not exceed max"},
        {"rule": "self.replicas == oldSelf.replicas || self.replicas > oldSelf.replicas",
         "messageExpression": "'replicas may only grow, not shrink to ' + string(self.replicas)"},
        {"rule": "!has(self.legacy)", "reason": "FieldValueForbidden", "fieldPath": ".legacy"}],
    "properties": {
        "min": {"type": "integer"}, "max": {"type": "integer"}, "replicas": {"type": "integer"},
        "legacy": {"type": "string"},
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('x')"}]},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                            "x-kubernetes-validations": [{"rule": "self.port == oldSelf.port",
                                                          "message": "port is immutable"}]}}}}}}


def test_cel_rules_messages_and_transitions() -> None:
    new = {"spec": {"min": 3, "max": 1, "replicas": 1, "legacy": "a", "name": "y"}}
    assert cr.validate_rules(RULES, new, None) == [
        {"type": "FieldValueInvalid", "field": "spec", "message": 'Invalid value: "object": min must not exceed max'},
        {"type": "FieldValueForbidden", "field": "spec.legacy", "message": "Forbidden: failed rule: !has(self.legacy)"},
        {"type": "FieldValueInvalid", "field": "spec.name",
         "message": "Invalid value: \"string\": failed rule: self.startsWith('x')"}]
    old = {"spec": {"min": 1, "max": 2, "replicas": 3, "name": "x", "ports": [{"name": "a", "port": 1}]}}
    upd = {"spec": {"min": 1, "max": 2, "replicas": 2, "name": "x",
                    "ports": [{"name": "b", "port": 9}, {"name": "a", "port": 2}]}}
    assert cr.validate_rules(RULES, upd, old) == [
        {"type": "FieldValueInvalid", "field": "spec",
         "message": 'Invalid value: "object": replicas may only grow, not shrink to 2'},
        {"type": "FieldValueInvalid", "field": "spec.ports[1]", "message": 'Invalid value: "object": port is immutable'}]
    # ratcheting: an unchanged invalid value is not reported again
    bad_old = {"spec": {"min": 1, "max": 2, "replicas": 1, "name": "y"}}
    assert cr.validate_rules(RULES, {"spec": dict(bad_old["spec"], max=5)}, bad_old) == []
    assert cr.validate_rules(RULES, {"spec": {"min": 1, "max": 2, "bogus": 1}}, None) == []
    missing = cr.validate_rules({"type": "object", "x-kubernetes-validations": [{"rule": "self.a > 1"}]}, {}, None)
    assert missing == [{"type": "FieldValueInvalid", "field": "<nil>",
                        "message": 'Invalid value: "object": no such key: a evaluating rule: self.a > 1'}]


def test_webhook_conversion_review_versions_validated() -> None:
    assert crd._validate_review_versions(["v1"]) == []
    assert crd._validate_review_versions(None) == [
        {"type": "FieldValueRequired", "message": "Required value", "field": "spec.conversion.conversionReviewVersions"}]
    assert crd._validate_review_versions(["v2", "v2"]) == [
        {"type": "FieldValueInvalid", "field": "spec.conversion.conversionReviewVersions[1]",
         "message": 'Invalid value: "v2": duplicate version'},
        {"type": "FieldValueInvalid", "field": "spec.conversion.conversionReviewVersions",
         "message": 'Invalid value: []string{"v2", "v2"}: must include at least one of v1, v1beta1'}]


def test_remote_discovery_resource_types_are_stable() -> None:
    from kubeling.controllers.common import discovery

    rl = [{"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget",
           "verbs": ["delete", "get", "list", "watch"]},
          {"name": "widgets/status", "namespaced": True, "kind": "Widget", "verbs": ["get"]}]
    first = discovery._resource_types("g.io", "v1", rl)
    again = discovery._resource_types("g.io", "v1", rl)
    assert len(first) == 1 and first[0] is again[0]
    rt = first[0]
    assert (rt.qualified, rt.namespaced, rt.subresources, rt.has_status) == ("widgets.g.io", True, ("status",), True)

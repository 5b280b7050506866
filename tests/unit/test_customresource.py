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

"""JSON patch, merge patch and strategic merge patch against upstream v1.32 behaviour."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeling.api.errors import ApiError
from kubeling.api.patch import json_patch, merge_patch, strategic_merge_patch

POD = "io.k8s.api.core.v1.Pod"
STS = "io.k8s.api.apps.v1.StatefulSet"
DEPLOY = "io.k8s.api.apps.v1.Deployment"


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "finalizers": ["a.example/f", "b.example/f"]},
        "spec": {
            "containers": [
                {"name": "nginx", "image": "nginx:1.25",
                 "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "cm"}}],
            "tolerations": [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def smp(obj: dict, patch: Any, def_name: str | None = POD) -> dict:
    before_obj, before_patch = copy.deepcopy(obj), copy.deepcopy(patch)
    out = strategic_merge_patch(obj, patch, def_name)
    assert obj == before_obj and patch == before_patch, "inputs must not be mutated"
    assert _no_directives(out)
    return out


def _no_directives(v: Any) -> bool:
    if isinstance(v, dict):
        return all(not (k.startswith("$patch") or k.startswith("$retainKeys") or k.startswith("$setElementOrder/")
                        or k.startswith("$deleteFromPrimitiveList/")) and _no_directives(x) for k, x in v.items())
    if isinstance(v, list):
        return all(_no_directives(x) for x in v)
    return True


def names(items: list[dict]) -> list[Any]:
    return [i.get("name") for i in items]


def smp_error(obj: dict, patch: Any, def_name: str | None = POD) -> ApiError:
    with pytest.raises(ApiError) as ei:
        strategic_merge_patch(obj, patch, def_name)
    return ei.value


# ------------------------------------------------------------------------------ strategic merge patch
class TestStrategicLists:
    def test_container_image_change_keeps_ports_and_mounts(self):
        out = smp(pod(), {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}})
        c = out["spec"]["containers"]
        assert names(c) == ["nginx", "sidecar"]
        assert c[0]["image"] == "nginx:1.26"
        assert c[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
        assert c[0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
        assert c[1] == pod()["spec"]["containers"][1]

    def test_new_container_goes_first_without_order_directive(self):
        # Upstream puts patch items the server order cannot place before server-only items.
        out = smp(pod(), {"spec": {"containers": [{"name": "log", "image": "fluentd"}]}})
        assert names(out["spec"]["containers"]) == ["log", "nginx", "sidecar"]

    def test_ports_merge_by_container_port(self):
        out = smp(pod(), {"spec": {"containers": [
            {"name": "nginx", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]}]}})
        ports = out["spec"]["containers"][0]["ports"]
        assert ports == [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}]

    def test_merge_key_values_compare_with_types(self):
        # 80 and 80.0 are different Go values (int64 vs float64): no merge.
        out = smp(pod(), {"spec": {"containers": [{"name": "nginx", "ports": [{"containerPort": 80.0}]}]}})
        assert len(out["spec"]["containers"][0]["ports"]) == 2

    def test_env_merge_by_name(self):
        out = smp(pod(), {"spec": {"containers": [
            {"name": "nginx", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}]}})
        env = out["spec"]["containers"][0]["env"]
        assert env == [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}]

    def test_env_value_from_null_removes_field(self):
        base = pod()
        base["spec"]["containers"][0]["env"][0] = {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}
        out = smp(base, {"spec": {"containers": [
            {"name": "nginx", "env": [{"name": "A", "value": "v", "valueFrom": None}]}]}})
        assert out["spec"]["containers"][0]["env"][0] == {"name": "A", "value": "v"}

    def test_volumes_merge_by_name(self):
        out = smp(pod(), {"spec": {"volumes": [{"name": "conf", "configMap": {"name": "cm2"}}]}})
        assert out["spec"]["volumes"] == [{"name": "data", "emptyDir": {}},
                                          {"name": "conf", "configMap": {"name": "cm2"}}]

    def test_volumes_retain_keys_switches_source(self):
        # kubectl apply sends $retainKeys for volumes (merge,retainKeys).
        out = smp(pod(), {"spec": {"volumes": [
            {"$retainKeys": ["hostPath", "name"], "name": "data", "hostPath": {"path": "/srv"}}]}})
        assert out["spec"]["volumes"][0] == {"name": "data", "hostPath": {"path": "/srv"}}
        # without the directive both sources would be kept (plain merge)
        out = smp(pod(), {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/srv"}}]}})
        assert out["spec"]["volumes"][0] == {"name": "data", "emptyDir": {}, "hostPath": {"path": "/srv"}}

    def test_tolerations_have_no_merge_key_and_are_replaced(self):
        out = smp(pod(), {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}})
        assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]

    def test_args_list_replaced(self):
        out = smp(pod(), {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "1"]}]}})
        assert out["spec"]["containers"][1]["args"] == ["sleep", "1"]

    def test_delete_container_with_patch_delete(self):
        out = smp(pod(), {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}})
        assert names(out["spec"]["containers"]) == ["nginx"]

    def test_delete_missing_element_is_noop(self):
        out = smp(pod(), {"spec": {"containers": [{"name": "ghost", "$patch": "delete"}]}})
        assert names(out["spec"]["containers"]) == ["nginx", "sidecar"]

    def test_delete_removes_all_duplicates(self):
        base = pod()
        base["spec"]["containers"][0]["env"].append({"name": "A", "value": "dup"})
        out = smp(base, {"spec": {"containers": [{"name": "nginx", "env": [{"name": "A", "$patch": "delete"}]}]}})
        assert out["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]

    def test_replace_list_directive(self):
        out = smp(pod(), {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}})
        assert out["spec"]["containers"] == [{"name": "only", "image": "x"}]

    def test_replace_list_directive_empties_list(self):
        out = smp(pod(), {"metadata": {"ownerReferences": [{"$patch": "replace"}]}})
        assert "ownerReferences" not in pod()["metadata"]
        assert out["metadata"]["ownerReferences"] == []

    def test_merge_directive_in_list_is_rejected(self):
        err = smp_error(pod(), {"spec": {"containers": [{"$patch": "merge"}]}})
        assert err.code == 500 and err.message == "merging lists cannot yet be specified in the patch"

    def test_missing_merge_key_is_rejected(self):
        err = smp_error(pod(), {"spec": {"containers": [{"image": "x"}]}})
        assert err.code == 500
        assert err.message == "map: map[image:x] does not contain declared merge key: name"

    def test_list_of_lists_is_unprocessable(self):
        # existing finalizers are strings: upstream reports mismatching element types first
        err = smp_error(pod(), {"metadata": {"finalizers": [["x"]]}})
        assert err.code == 500 and err.message.startswith("list element types are not identical")
        base = pod()
        base["metadata"]["finalizers"] = []
        err = smp_error(base, {"metadata": {"finalizers": [["x"]]}})
        assert err.code == 422 and err.reason == "Invalid"
        assert err.causes == [{"type": "UnexpectedServerResponse", "message": "lists of lists are not supported"}]


class TestStrategicPrimitiveLists:
    def test_finalizers_union(self):
        out = smp(pod(), {"metadata": {"finalizers": ["b.example/f", "c.example/f"]}})
        assert out["metadata"]["finalizers"] == ["a.example/f", "b.example/f", "c.example/f"]

    def test_new_finalizer_goes_first(self):
        out = smp(pod(), {"metadata": {"finalizers": ["z.example/f"]}})
        assert out["metadata"]["finalizers"] == ["z.example/f", "a.example/f", "b.example/f"]

    def test_patch_order_wins_for_patch_items(self):
        out = smp(pod(), {"metadata": {"finalizers": ["b.example/f", "a.example/f"]}})
        assert out["metadata"]["finalizers"] == ["b.example/f", "a.example/f"]

    def test_delete_from_primitive_list(self):
        out = smp(pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/f", "nope"]}})
        assert out["metadata"]["finalizers"] == ["b.example/f"]

    def test_delete_from_primitive_list_on_missing_field_adds_nothing(self):
        base = pod()
        del base["metadata"]["finalizers"]
        out = smp(base, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
        assert "finalizers" not in out["metadata"]

    def test_delete_from_primitive_list_ignores_field_strategy(self):
        out = smp(pod(), {"spec": {"containers": [
            {"name": "sidecar", "$deleteFromPrimitiveList/args": ["3600"]}]}})
        assert out["spec"]["containers"][1]["args"] == ["sleep"]

    def test_set_element_order_with_add_and_delete(self):
        # What kubectl apply sends when finalizer a is dropped and c added after b.
        out = smp(pod(), {"metadata": {"$setElementOrder/finalizers": ["b.example/f", "c.example/f"],
                                       "finalizers": ["c.example/f"],
                                       "$deleteFromPrimitiveList/finalizers": ["a.example/f"]}})
        assert out["metadata"]["finalizers"] == ["b.example/f", "c.example/f"]

    def test_bad_delete_directive_format(self):
        err = smp_error(pod(), {"metadata": {"$deleteFromPrimitiveListfinalizers": ["x"]}})
        assert (err.code, err.reason, err.message) == (400, "BadRequest", "invalid patch format of primitive list")


class TestSetElementOrder:
    def test_kubectl_set_image_body(self):
        base = pod()
        out = smp(base, {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                                  "containers": [{"image": "nginx:1.27", "name": "nginx"}]}})
        assert names(out["spec"]["containers"]) == ["nginx", "sidecar"]
        assert out["spec"]["containers"][0]["image"] == "nginx:1.27"
        assert out["spec"]["containers"][0]["ports"] == base["spec"]["containers"][0]["ports"]

    def test_reorder_only(self):
        out = smp(pod(), {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}})
        assert names(out["spec"]["containers"]) == ["sidecar", "nginx"]

    def test_new_item_placed_where_order_says(self):
        out = smp(pod(), {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "log"},
                                                                   {"name": "sidecar"}],
                                   "containers": [{"name": "log", "image": "fluentd"}]}})
        assert names(out["spec"]["containers"]) == ["nginx", "log", "sidecar"]

    def test_server_only_items_keep_their_relative_place(self):
        # A server-only item is emitted before the first ordered item it precedes on the server.
        order = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}}
        base = pod()
        base["spec"]["containers"].append({"name": "injected", "image": "proxy"})
        assert names(smp(base, order)["spec"]["containers"]) == ["sidecar", "nginx", "injected"]
        base = pod()
        base["spec"]["containers"].insert(1, {"name": "injected", "image": "proxy"})
        assert names(smp(base, order)["spec"]["containers"]) == ["injected", "sidecar", "nginx"]

    def test_add_and_delete_follows_upstream_slot_reuse(self):
        # Upstream reuses the deleted element's slot of the live slice when ordering: the
        # server-only "extra" lands between "sidecar" and the new "log".
        base = pod()
        base["spec"]["containers"].append({"name": "extra", "image": "x"})
        out = smp(base, {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "log"}],
            "containers": [{"name": "log", "image": "fluentd"}, {"name": "nginx", "$patch": "delete"}]}})
        assert names(out["spec"]["containers"]) == ["sidecar", "extra", "log"]

    def test_order_mismatch_is_rejected(self):
        err = smp_error(pod(), {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                                         "containers": [{"name": "sidecar", "image": "a"},
                                                        {"name": "nginx", "image": "b"}]}})
        assert err.code == 500 and "doesn't match $setElementOrder list" in err.message

    def test_order_list_must_be_a_list(self):
        err = smp_error(pod(), {"spec": {"$setElementOrder/containers": {"name": "x"}}})
        assert err.code == 500
        assert err.message == "expected a []interface {}, but received a map[string]interface {}"

    def test_bad_order_directive_format(self):
        err = smp_error(pod(), {"spec": {"$setElementOrderContainers": []}})
        assert (err.code, err.message) == (400, "invalid patch format of setElementOrder list")

    def test_order_for_missing_list_adds_it(self):
        base = pod()
        del base["spec"]["volumes"]
        out = smp(base, {"spec": {"$setElementOrder/volumes": [{"name": "b"}, {"name": "a"}],
                                  "volumes": [{"name": "b", "emptyDir": {}}, {"name": "a", "$patch": "delete"}]}})
        assert out["spec"]["volumes"] == [{"name": "b", "emptyDir": {}}]


class TestStrategicMaps:
    def test_null_deletes_label(self):
        out = smp(pod(), {"metadata": {"labels": {"tier": None, "new": "x"}}})
        assert out["metadata"]["labels"] == {"app": "web", "new": "x"}

    def test_null_for_missing_key_is_dropped(self):
        out = smp(pod(), {"metadata": {"annotations": {"a": None, "b": "1"}, "missing": None}})
        assert out["metadata"]["annotations"] == {"b": "1"}
        assert "missing" not in out["metadata"]

    def test_patch_delete_on_map(self):
        out = smp(pod(), {"metadata": {"labels": {"$patch": "delete"}}})
        assert out["metadata"]["labels"] == {}

    def test_patch_replace_on_map(self):
        out = smp(pod(), {"metadata": {"labels": {"$patch": "replace", "only": "this"}}})
        assert out["metadata"]["labels"] == {"only": "this"}

    def test_unknown_patch_directive_is_rejected(self):
        err = smp_error(pod(), {"metadata": {"labels": {"$patch": "merge"}}})
        assert err.code == 500 and err.reason == ""
        assert err.message == "unknown patch type: merge in map: map[$patch:merge]"

    def test_type_change_takes_patch_value(self):
        out = smp(pod(), {"spec": {"containers": [{"name": "sidecar", "args": "oops"}]}})
        assert out["spec"]["containers"][1]["args"] == "oops"

    def test_statefulset_rollout_undo_body(self):
        # The ControllerRevision data kubectl rollout undo sends for a StatefulSet.
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web", "rev": "2"},
                                                  "annotations": {"x": "y"}},
                                     "spec": {"containers": [{"name": "nginx", "image": "nginx:2",
                                                              "env": [{"name": "NEW", "value": "1"}]}],
                                              "terminationGracePeriodSeconds": 10}}}}
        body = {"spec": {"template": {"$patch": "replace",
                                      "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                                      "spec": {"containers": [{"image": "nginx:1", "name": "nginx",
                                                               "ports": [{"containerPort": 80, "name": "web"}]}],
                                               "dnsPolicy": "ClusterFirst"}}}}
        out = smp(sts, body, STS)
        assert out["spec"]["template"] == {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"image": "nginx:1", "name": "nginx",
                                     "ports": [{"containerPort": 80, "name": "web"}]}],
                     "dnsPolicy": "ClusterFirst"}}
        assert out["spec"]["replicas"] == 3 and out["spec"]["serviceName"] == "web"

    def test_deployment_strategy_retain_keys(self):
        dep = {"spec": {"strategy": {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}}
        out = smp(dep, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOY)
        assert out["spec"]["strategy"] == {"type": "Recreate"}

    def test_retain_keys_must_cover_patch(self):
        err = smp_error({"spec": {"strategy": {"type": "Recreate"}}},
                        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}, DEPLOY)
        assert (err.code, err.reason, err.message) == (400, "BadRequest", "invalid patch format of retainKeys")

    def test_retain_keys_must_be_a_list(self):
        err = smp_error(pod(), {"metadata": {"$retainKeys": "name"}})
        assert err.code == 400

    def test_directives_in_new_values_are_removed(self):
        base = pod()
        del base["spec"]["volumes"]
        out = smp(base, {"spec": {
            "containers": [{"name": "new", "image": "x", "$retainKeys": ["image", "name"],
                            "volumeMounts": [{"mountPath": "/a", "name": "a"}, {"mountPath": "/b", "$patch": "delete"}],
                            "$setElementOrder/volumeMounts": [{"mountPath": "/a"}]}],
            "volumes": [{"name": "v", "$patch": "delete"}, {"name": "w", "emptyDir": {}, "secret": None}],
            "securityContext": {"$patch": "replace", "runAsUser": 1}}})
        assert out["spec"]["containers"][0] == {"name": "new", "image": "x",
                                                "volumeMounts": [{"mountPath": "/a", "name": "a"}, {"mountPath": "/b"}]}
        # values the original lacks are taken with $patch maps dropped and nulls discarded
        assert out["spec"]["volumes"] == [{"name": "w", "emptyDir": {}}]
        assert "securityContext" not in out["spec"]

    def test_root_replace(self):
        out = smp(pod(), {"$patch": "replace", "kind": "Pod", "metadata": {"name": "x"}})
        assert out == {"kind": "Pod", "metadata": {"name": "x"}}


class TestStrategicWithoutSchema:
    def test_falls_back_to_merge_patch_semantics(self):
        cr = {"spec": {"items": [{"name": "a", "v": 1}], "cfg": {"a": 1, "b": 2}}}
        out = smp(cr, {"spec": {"items": [{"name": "b"}], "cfg": {"a": None, "c": 3}}}, None)
        assert out == {"spec": {"items": [{"name": "b"}], "cfg": {"b": 2, "c": 3}}}

    def test_directives_still_honoured(self):
        out = smp({"spec": {"cfg": {"a": 1}}}, {"spec": {"cfg": {"$patch": "replace", "b": 2}}}, None)
        assert out == {"spec": {"cfg": {"b": 2}}}

    def test_unknown_field_of_known_kind_merges_maps_and_replaces_lists(self):
        base = pod()
        base["spec"]["extra"] = {"list": [1, 2], "m": {"x": 1}}
        out = smp(base, {"spec": {"extra": {"list": [3], "m": {"y": 2}}}})
        assert out["spec"]["extra"] == {"list": [3], "m": {"x": 1, "y": 2}}


class TestStrategicBodies:
    @pytest.mark.parametrize("body,kind", [([], "array"), ("x", "string"), (1, "number"), (True, "bool")])
    def test_non_object_body_is_bad_request(self, body, kind):
        err = smp_error(pod(), body)
        assert (err.code, err.reason) == (400, "BadRequest")
        assert err.message == f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"

    def test_null_body_is_noop(self):
        base = pod()
        out = strategic_merge_patch(base, None, POD)
        assert out == base and out is not base

    def test_result_shares_nothing_with_inputs(self):
        base = pod()
        patch = {"spec": {"containers": [{"name": "new", "image": "x", "env": [{"name": "E", "value": "1"}]}]}}
        out = smp(base, patch)
        out["metadata"]["labels"]["mut"] = "1"
        out["spec"]["containers"][0]["env"][0]["value"] = "changed"
        assert base == pod()
        assert patch["spec"]["containers"][0]["env"][0]["value"] == "1"


# ------------------------------------------------------------------------------ JSON merge patch
class TestMergePatch:
    # RFC 7386 appendix A cases whose target and patch are objects.
    @pytest.mark.parametrize("target,patch,result", [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ])
    def test_rfc7386_examples(self, target, patch, result):
        before = copy.deepcopy(target), copy.deepcopy(patch)
        assert merge_patch(target, patch) == result
        assert (target, patch) == before

    def test_lists_are_replaced_not_merged(self):
        out = merge_patch(pod(), {"spec": {"containers": [{"name": "only"}]}})
        assert out["spec"]["containers"] == [{"name": "only"}]

    def test_nulls_pruned_inside_new_values(self):
        out = merge_patch({"a": 1}, {"a": [{"x": None, "y": 1}, None], "b": {"c": None, "d": {"e": None}}})
        assert out == {"a": [{"y": 1}, None], "b": {"d": {}}}

    def test_null_deletes_label(self):
        out = merge_patch(pod(), {"metadata": {"labels": {"tier": None}}})
        assert out["metadata"]["labels"] == {"app": "web"}

    @pytest.mark.parametrize("body", [None, [], "x", 3])
    def test_non_object_body_is_bad_request(self, body):
        with pytest.raises(ApiError) as ei:
            merge_patch(pod(), body)
        assert (ei.value.code, ei.value.reason, ei.value.message) == (400, "BadRequest", "Invalid JSON Patch")

    def test_result_is_independent(self):
        base = pod()
        patch = {"metadata": {"annotations": {"k": "v"}}}
        out = merge_patch(base, patch)
        out["metadata"]["annotations"]["k"] = "other"
        out["spec"]["containers"].clear()
        assert patch == {"metadata": {"annotations": {"k": "v"}}} and base == pod()


# ------------------------------------------------------------------------------ JSON patch
def jp(obj: dict, ops: Any) -> dict:
    before = copy.deepcopy(obj), copy.deepcopy(ops)
    out = json_patch(obj, ops)
    assert (obj, ops) == before
    return out


def jp_error(obj: dict, ops: Any) -> ApiError:
    with pytest.raises(ApiError) as ei:
        json_patch(obj, ops)
    return ei.value


def unprocessable_detail(err: ApiError) -> str:
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == "the server rejected our request due to an error in our request"
    assert err.causes and err.causes[0]["type"] == "UnexpectedServerResponse"
    return err.causes[0]["message"]


class TestJsonPatch:
    def test_add_remove_replace(self):
        out = jp(pod(), [
            {"op": "add", "path": "/metadata/labels/new", "value": "x"},
            {"op": "remove", "path": "/metadata/labels/tier"},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"},
            {"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "C", "value": "3"}},
            {"op": "add", "path": "/spec/tolerations/0", "value": {"key": "z", "operator": "Exists"}},
        ])
        assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
        assert out["spec"]["containers"][0]["image"] == "nginx:2"
        assert names(out["spec"]["containers"][0]["env"]) == ["A", "B", "C"]
        assert [t["key"] for t in out["spec"]["tolerations"]] == ["z", "a"]

    def test_test_op_passes_then_applies(self):
        out = jp(pod(), [{"op": "test", "path": "/spec/containers/0/name", "value": "nginx"},
                         {"op": "remove", "path": "/spec/containers/1"}])
        assert names(out["spec"]["containers"]) == ["nginx"]

    def test_failing_test_op(self):
        err = jp_error(pod(), [{"op": "test", "path": "/metadata/name", "value": "other"},
                               {"op": "remove", "path": "/metadata/labels"}])
        assert unprocessable_detail(err) == "testing value /metadata/name failed: test failed"

    def test_test_op_is_type_strict(self):
        err = jp_error({"a": 1}, [{"op": "test", "path": "/a", "value": True}])
        assert unprocessable_detail(err) == "testing value /a failed: test failed"

    def test_missing_parent_path(self):
        err = jp_error(pod(), [{"op": "add", "path": "/metadata/nope/x", "value": 1}])
        assert unprocessable_detail(err) == 'add operation does not apply: doc is missing path: "/metadata/nope/x": ' \
                                            "missing value"

    def test_remove_nonexistent_key(self):
        err = jp_error(pod(), [{"op": "remove", "path": "/metadata/annotations"}])
        assert "Unable to remove nonexistent key: annotations" in unprocessable_detail(err)

    def test_index_out_of_range(self):
        err = jp_error(pod(), [{"op": "replace", "path": "/spec/containers/5/image", "value": "x"}])
        assert "missing path" in unprocessable_detail(err)
        err = jp_error(pod(), [{"op": "add", "path": "/spec/containers/9", "value": {}}])
        assert "Unable to access invalid index: 9" in unprocessable_detail(err)

    def test_replace_of_missing_key_adds_it(self):
        # evanphx/json-patch v4 (used by the apiserver) sets missing object keys on replace;
        # kubectl rollout undo of a Deployment relies on it for /metadata/annotations.
        base = pod()
        out = jp(base, [{"op": "replace", "path": "/spec/template", "value": {"spec": {}}},
                        {"op": "replace", "path": "/metadata/annotations",
                         "value": {"deployment.kubernetes.io/revision": "3"}}])
        assert out["spec"]["template"] == {"spec": {}}
        assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "3"}

    def test_move_and_copy(self):
        out = jp(pod(), [{"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"},
                         {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/layer"}])
        assert out["metadata"]["annotations"] == {"app": "web", "tier": "front"}
        assert out["metadata"]["labels"] == {"app": "web", "layer": "front"}

    def test_unknown_op(self):
        err = jp_error(pod(), [{"op": "frobnicate", "path": "/x"}])
        assert unprocessable_detail(err) == "Unexpected kind: frobnicate"

    def test_missing_path_member(self):
        err = jp_error(pod(), [{"op": "add", "value": 1}])
        assert unprocessable_detail(err) == "add operation failed to decode path: missing value"

    def test_add_without_value_adds_null(self):
        out = jp({"a": {}}, [{"op": "add", "path": "/a/b"}])
        assert out == {"a": {"b": None}}

    @pytest.mark.parametrize("body,message", [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        (["x"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ])
    def test_body_not_a_list_of_ops_is_bad_request(self, body, message):
        err = jp_error(pod(), body)
        assert (err.code, err.reason, err.message) == (400, "BadRequest", message)

    def test_too_many_operations(self):
        err = jp_error({}, [{"op": "test", "path": "", "value": {}}] * 10001)
        assert err.code == 413
        assert err.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"

    def test_values_are_copied(self):
        value = {"k": "v"}
        out = jp(pod(), [{"op": "add", "path": "/metadata/annotations", "value": value}])
        out["metadata"]["annotations"]["k"] = "changed"
        assert value == {"k": "v"}

    def test_root_replace(self):
        assert jp({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}
        err = jp_error({"a": 1}, [{"op": "replace", "path": "", "value": [1]}])
        assert "cannot unmarshal array" in unprocessable_detail(err)
        err = jp_error({"a": 1}, [{"op": "replace", "path": "", "value": 1}])
        assert unprocessable_detail(err) == "replace operation value must be object or array"

"""Feature gate parsing and resolution (component-base featuregate semantics, v1.32 defaults)."""
from __future__ import annotations

import argparse

import pytest

from kubeling.api import features
from kubeling.api.features import FeatureGateError
from kubeling.controllers import rootcacertpublisher as rcp


def test_parse_values_as_go_parse_bool() -> None:
    assert features.parse("MaxUnavailableStatefulSet=true") == {"MaxUnavailableStatefulSet": True}
    assert features.parse(" MaxUnavailableStatefulSet = T , PodDeletionCost=0,") == {
        "MaxUnavailableStatefulSet": True, "PodDeletionCost": False}
    for v in ("1", "t", "T", "TRUE", "true", "True"):
        assert features.parse(f"SidecarContainers={v}") == {"SidecarContainers": True}
    for v in ("0", "f", "F", "FALSE", "false", "False"):
        assert features.parse(f"SidecarContainers={v}") == {"SidecarContainers": False}
    assert features.parse("") == {}


def test_parse_last_value_wins() -> None:
    assert features.parse("MaxUnavailableStatefulSet=true,MaxUnavailableStatefulSet=false") == {
        "MaxUnavailableStatefulSet": False}


@pytest.mark.parametrize("value,message", [
    ("Foo=true", "unrecognized feature gate: Foo"),
    ("Foo=bar", 'invalid value of Foo=bar, err: strconv.ParseBool: parsing "bar": invalid syntax'),
    ("MaxUnavailableStatefulSet=yes",
     'invalid value of MaxUnavailableStatefulSet=yes, err: strconv.ParseBool: parsing "yes": invalid syntax'),
    ("MaxUnavailableStatefulSet=", 'invalid value of MaxUnavailableStatefulSet=, err: strconv.ParseBool: '
                                   'parsing "": invalid syntax'),
    ("MaxUnavailableStatefulSet", "missing bool value for MaxUnavailableStatefulSet"),
    ("StatefulSetAutoDeletePVC=false",
     "cannot set feature gate StatefulSetAutoDeletePVC to false, feature is locked to true"),
    ("StatefulSetAutoDeletePVC=false,PodIndexLabel=false",
     "[cannot set feature gate StatefulSetAutoDeletePVC to false, feature is locked to true, "
     "cannot set feature gate PodIndexLabel to false, feature is locked to true]"),
    ("StatefulSetAutoDeletePVC=false,Foo=true", "unrecognized feature gate: Foo"),
])
def test_parse_errors(value: str, message: str) -> None:
    with pytest.raises(FeatureGateError) as e:
        features.parse(value)
    assert str(e.value) == message


def test_locked_gate_set_to_its_default_is_accepted_with_a_warning() -> None:
    m = features.parse("StatefulSetAutoDeletePVC=true")
    assert m == {"StatefulSetAutoDeletePVC": True}
    assert features.warnings(m) == [
        "Setting GA feature gate StatefulSetAutoDeletePVC=true. It will be removed in a future release."]


def test_v132_defaults() -> None:
    g = features.resolve()
    assert g["MaxUnavailableStatefulSet"] is False
    assert g["StatefulSetAutoDeletePVC"] is True and features.GATES["StatefulSetAutoDeletePVC"].locked
    assert g["PodIndexLabel"] is True
    assert g["AllAlpha"] is False and g["AllBeta"] is False
    assert features.enabled(None, "MaxUnavailableStatefulSet") is False
    assert features.enabled({"feature_gates": {"MaxUnavailableStatefulSet": True}}, "MaxUnavailableStatefulSet")


def test_all_alpha_and_all_beta() -> None:
    g = features.resolve(features.parse("AllAlpha=true,PodLevelResources=false"))
    assert g["MaxUnavailableStatefulSet"] is True
    assert g["PodLevelResources"] is False  # explicit beats AllAlpha
    assert g["SidecarContainers"] is True  # beta: untouched
    g = features.resolve(features.parse("AllBeta=false"))
    assert g["SidecarContainers"] is False and g["MaxUnavailableStatefulSet"] is False
    assert g["StatefulSetAutoDeletePVC"] is True  # GA: untouched


def test_warning_for_gates_kubeling_only_accepts() -> None:
    assert features.warnings({"MaxUnavailableStatefulSet": True}) == []
    assert features.warnings({"SidecarContainers": True}) == []  # the default
    (w,) = features.warnings({"SidecarContainers": False})
    assert "SidecarContainers=false" in w


def test_flag_merges_repeated_values_and_reports_errors_to_argparse() -> None:
    p = argparse.ArgumentParser()
    features.add_flag(p)
    a = p.parse_args(["--feature-gates=MaxUnavailableStatefulSet=true",
                      "--feature-gates", "PodDeletionCost=false,MaxUnavailableStatefulSet=false"])
    assert features.from_args(a) == {"MaxUnavailableStatefulSet": False, "PodDeletionCost": False}
    assert features.from_args(p.parse_args([])) == {}
    with pytest.raises(argparse.ArgumentTypeError, match="unrecognized feature gate: Nope"):
        features.flag_type("Nope=true")
    assert features.format_flag({"b": True, "a": False}) == "a=false,b=true"
    assert features.parse(features.format_flag({"MaxUnavailableStatefulSet": True})) == {
        "MaxUnavailableStatefulSet": True}


# ---- root CA publisher: the pure decisions -----------------------------------------------------------------

def test_root_ca_needs_update() -> None:
    good = {"metadata": {"annotations": {rcp.DESCRIPTION_ANNOTATION: rcp.DESCRIPTION}}, "data": {"ca.crt": "CA"}}
    assert not rcp.needs_update(good, "CA")
    assert rcp.needs_update(good, "OTHER")
    assert rcp.needs_update({**good, "data": {"ca.crt": "CA", "x": "y"}}, "CA")
    assert rcp.needs_update({"metadata": {}, "data": {"ca.crt": "CA"}}, "CA")
    assert rcp.needs_update({"metadata": {"annotations": {rcp.DESCRIPTION_ANNOTATION: ""}}, "data": {"ca.crt": "CA"}},
                            "CA")
    custom = {"metadata": {"annotations": {rcp.DESCRIPTION_ANNOTATION: "mine"}}, "data": {"ca.crt": "CA"}}
    assert not rcp.needs_update(custom, "CA")  # upstream only needs the annotation non-empty


def test_root_ca_repaired_keeps_other_metadata_and_does_not_touch_the_cache() -> None:
    cached = {"metadata": {"name": rcp.NAME, "namespace": "x", "resourceVersion": "7",
                           "annotations": {"other": "1"}, "labels": {"l": "v"}},
              "data": {"ca.crt": "bad", "extra": "y"}}
    out = rcp.repaired(cached, "CA")
    assert out["data"] == {"ca.crt": "CA"}
    assert out["metadata"]["annotations"] == {"other": "1", rcp.DESCRIPTION_ANNOTATION: rcp.DESCRIPTION}
    assert out["metadata"]["resourceVersion"] == "7" and out["metadata"]["labels"] == {"l": "v"}
    assert cached["data"] == {"ca.crt": "bad", "extra": "y"} and cached["metadata"]["annotations"] == {"other": "1"}

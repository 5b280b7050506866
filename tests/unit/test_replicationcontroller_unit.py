"""Pure parts of the ReplicationController support: the map-selector adapter, defaulting, validation
causes, printer rows and the Scale view."""
from __future__ import annotations

from typing import Any

from kubeling.api import defaults, printers, validation
from kubeling.api.registry import _to_scale
from kubeling.api.selectors import matches_labels
from kubeling.controllers.replicationcontroller import MapSelectorCache, ReplicationManager, rc_label_selector


def rc(selector: Any = None, labels: Any = None, **spec: Any) -> dict[str, Any]:
    tpl: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    if labels is not None:
        tpl["metadata"] = {"labels": labels}
    body: dict[str, Any] = {"template": tpl, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"kind": "ReplicationController", "apiVersion": "v1",
            "metadata": {"name": "r", "namespace": "d", "uid": "u1"}, "spec": body}


def test_rc_label_selector_converts_the_map() -> None:
    assert rc_label_selector(rc({"a": "1", "b": "2"})) == {"matchLabels": {"a": "1", "b": "2"}}
    assert rc_label_selector(rc()) is None
    assert rc_label_selector(rc({})) is None


def test_map_selector_cache_follows_selector_changes() -> None:
    cache = MapSelectorCache()
    obj = rc({"app": "x"})
    sel = cache.get(obj)
    assert sel is not None and matches_labels(sel, {"app": "x", "z": "1"}) and not matches_labels(sel, {"app": "y"})
    assert cache.get(rc({"app": "x"})) is sel  # same selector: parsed once
    changed = rc({"app": "y"})
    sel2 = cache.get(changed)
    assert matches_labels(sel2, {"app": "y"}) and not matches_labels(sel2, {"app": "x"})
    cache.forget(changed)
    assert cache.get(rc()) is None


def test_manager_parameters() -> None:
    assert ReplicationManager.resource == "replicationcontrollers"
    assert ReplicationManager.controller_kind == ("v1", "ReplicationController")
    assert ReplicationManager.component == "replication-controller"


def test_defaults_selector_labels_replicas() -> None:
    obj = rc(labels={"app": "x"})
    defaults.apply_defaults("replicationcontrollers", obj)
    assert obj["spec"]["selector"] == {"app": "x"}
    assert obj["metadata"]["labels"] == {"app": "x"}
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert obj["status"] == {"replicas": 0}
    kept = rc({"app": "x"}, {"app": "x", "t": "1"}, replicas=0)
    kept["metadata"]["labels"] = {"own": "1"}
    defaults.apply_defaults("replicationcontrollers", kept)
    assert kept["spec"]["selector"] == {"app": "x"} and kept["metadata"]["labels"] == {"own": "1"}
    assert kept["spec"]["replicas"] == 0
    no_tpl: dict[str, Any] = {"metadata": {"name": "r"}, "spec": {}}
    defaults.apply_defaults("replicationcontrollers", no_tpl)
    assert "template" not in no_tpl["spec"] and "selector" not in no_tpl["spec"]


def test_validation_causes() -> None:
    obj = rc({"app": "x"}, {"app": "y"})
    defaults.apply_defaults("replicationcontrollers", obj)
    causes = validation.validate("replicationcontrollers", obj)
    assert [(c["field"], c["message"]) for c in causes] == [
        ("spec.template.metadata.labels",
         'Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`')]
    good = rc({"app": "x"}, {"app": "x"})
    defaults.apply_defaults("replicationcontrollers", good)
    assert validation.validate("replicationcontrollers", good) == []
    bad = rc({"app": "x"}, {"app": "x"}, replicas=-1)
    defaults.apply_defaults("replicationcontrollers", bad)
    upd = validation.validate("replicationcontrollers", bad, good)
    assert [c["field"] for c in upd] == ["spec.replicas", "spec.replicas"]
    st = rc({"app": "x"}, {"app": "x"})
    st["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 2}
    assert [(c["field"], c["message"]) for c in validation.validate_status("replicationcontrollers", st, good)] == [
        ("status.availableReplicas", "Invalid value: 2: cannot be greater than status.replicas"),
        ("status.availableReplicas", "Invalid value: 2: cannot be greater than readyReplicas")]


def test_printer_rows() -> None:
    obj = rc({"b": "2", "a": "1"}, {"a": "1", "b": "2"}, replicas=3)
    obj["status"] = {"replicas": 2, "readyReplicas": 1}
    obj["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    cells = printers.row_cells("replicationcontrollers", obj, 1704067200 + 65)
    assert cells == ["r", 3, 2, 1, "65s", "c", "nginx", "a=1,b=2"]
    assert [c["name"] for c in printers.column_definitions("replicationcontrollers")] == [
        "Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]
    pt = {"metadata": {"name": "pt"}, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}
    assert printers.row_cells("podtemplates", pt, 0) == ["pt", "a", "x", "<none>"]
    assert [c["name"] for c in printers.column_definitions("podtemplates")] == [
        "Name", "Containers", "Images", "Pod Labels"]


def test_scale_selector_from_map() -> None:
    obj = rc({"b": "2", "a": "1"}, replicas=4)
    obj["status"] = {"replicas": 3}
    sc = _to_scale(obj)
    assert sc["spec"] == {"replicas": 4}
    assert sc["status"] == {"replicas": 3, "selector": "a=1,b=2"}

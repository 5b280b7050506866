"""Kubernetes protobuf request bodies decode into the dict the JSON encoding of the same object gives.

Two sources of truth:
- tests/fixtures/protobuf/*.pb are bodies the real kubectl v1.32 sent (`kubectl create namespace|configmap|
  secret|deployment|service|serviceaccount|quota|pdb`, `kubectl create token`), recorded through a proxy;
  the matching *.json is kubectl's own JSON encoding of the same object (`--dry-run=client -o json`).
- Hand-built messages (a tiny encoder below) for the apimachinery special types kubectl's generators do not
  exercise: Time, MicroTime, Duration, Quantity, IntOrString, RawExtension, FieldsV1, packed repeated fields,
  negative ints, list-wrapper messages, DeleteOptions.
"""
from __future__ import annotations

import base64
import glob
import json
import os

import pytest

from kubeling.apiserver import protobuf

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "protobuf")


# ---- a tiny encoder -----------------------------------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative ints: 10-byte two's complement, as Go writes int32/int64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fint(num: int, n: int) -> bytes:
    return varint(num << 3) + varint(n)


def fbytes(num: int, data: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(data)) + data


def fstr(num: int, s: str) -> bytes:
    return fbytes(num, s.encode())


def fmsg(num: int, *parts: bytes) -> bytes:
    return fbytes(num, b"".join(parts))


def fmap(num: int, key: str, value: bytes) -> bytes:
    """A map entry; value is the already-encoded field 2."""
    return fmsg(num, fstr(1, key), value)


def envelope(api_version: str, kind: str, *payload: bytes) -> bytes:
    return protobuf.MAGIC + fmsg(1, fstr(1, api_version), fstr(2, kind)) + fbytes(2, b"".join(payload)) \
        + fstr(3, "") + fstr(4, "")


def meta(name: str = "x", namespace: str = "") -> bytes:
    """ObjectMeta the way gogo writes it: every non-pointer field present, zero or not."""
    return fmsg(1, fstr(1, name), fstr(2, ""), fstr(3, namespace), fstr(4, ""), fstr(5, ""), fstr(6, ""),
                fint(7, 0), fmsg(8))


# ---- recorded kubectl bodies --------------------------------------------------------------------------

RECORDED = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(FIXTURES, "*.pb"))
                  if os.path.exists(p[:-3] + ".json"))


def test_fixtures_present() -> None:
    assert {"namespace", "configmap", "secret-generic", "deployment", "service-clusterip",
            "serviceaccount"} <= set(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_kubectl_body_matches_its_json_encoding(name: str) -> None:
    with open(os.path.join(FIXTURES, name + ".pb"), "rb") as f:
        raw = f.read()
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        want = json.load(f)
    assert protobuf.decode(raw) == want


def test_recorded_details() -> None:
    def load(n: str) -> dict:
        with open(os.path.join(FIXTURES, n + ".pb"), "rb") as f:
            return protobuf.decode(f.read())

    sec = load("secret-generic")
    assert base64.b64decode(sec["data"]["p"]) == b"q"
    assert base64.b64decode(sec["data"]["bin"]) == b"\x01\xff"
    assert load("configmap")["data"] == {"a": "b", "empty": ""}
    dep = load("deployment")
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["creationTimestamp"] is None
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"] == {}  # value struct kept
    assert load("deployment-zero-replicas")["spec"]["replicas"] == 0  # pointer: explicit zero kept
    port = load("service-clusterip")["spec"]["ports"][0]
    assert port == {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}
    assert "nodePort" not in port  # omitempty int32 zero dropped
    assert load("service-headless")["spec"]["clusterIP"] == "None"
    assert load("poddisruptionbudget")["status"]["expectedPods"] == 0  # no omitempty: zero kept


def test_unknown_kind_is_reported() -> None:
    raw = envelope("example.com/v1", "Widget", meta("w", "default"))
    with pytest.raises(protobuf.UnknownProtobufType) as ei:
        protobuf.decode(raw)
    assert (ei.value.api_version, ei.value.kind) == ("example.com/v1", "Widget")


def test_recorded_job_body_decodes() -> None:
    # kubectl v1.32's `create job` body (recorded when kubeling did not serve batch/v1 yet)
    with open(os.path.join(FIXTURES, "job-unknown-kind.pb"), "rb") as f:
        job = protobuf.decode(f.read())
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")


# ---- special types ------------------------------------------------------------------------------------

def test_time_microtime_and_zero_time() -> None:
    # events.k8s.io/v1 Event: eventTime (MicroTime, value), deprecatedFirstTimestamp (Time, value),
    # series.lastObservedTime (MicroTime)
    ev = envelope("events.k8s.io/v1", "Event", meta("e", "default"),
                  fmsg(2, fint(1, 1700000000), fint(2, 123456789)),
                  fmsg(3, fint(1, 5), fmsg(2, fint(1, 1700000001))),
                  fstr(4, "kubelet"), fstr(5, "i-1"), fstr(6, "Pulling"), fstr(7, "Pulled"),
                  fmsg(8, fstr(1, "Pod"), fstr(3, "p")), fstr(10, "msg"), fstr(11, "Normal"), fmsg(12),
                  fmsg(13, fint(1, 1700000002), fint(2, 999999999)), fmsg(14), fint(15, 0))
    d = protobuf.decode(ev)
    assert d["eventTime"] == "2023-11-14T22:13:20.123456Z"
    assert d["series"] == {"count": 5, "lastObservedTime": "2023-11-14T22:13:21.000000Z"}
    assert d["deprecatedFirstTimestamp"] == "2023-11-14T22:13:22Z"  # Time drops sub-second precision
    assert d["deprecatedLastTimestamp"] is None  # zero value Time: null, as Time.MarshalJSON
    assert "deprecatedCount" not in d  # omitempty int32
    assert d["metadata"] == {"name": "e", "namespace": "default", "creationTimestamp": None}
    assert d["regarding"] == {"kind": "Pod", "name": "p"}
    assert d["deprecatedSource"] == {}  # value struct: always emitted
    assert (d["action"], d["reason"], d["note"], d["type"]) == ("Pulling", "Pulled", "msg", "Normal")


def test_lease_pointer_zero_and_microtime() -> None:
    spec = fmsg(2, fstr(1, "holder"), fint(2, 0), fmsg(3, fint(1, 86400)), fint(5, 3))
    d = protobuf.decode(envelope("coordination.k8s.io/v1", "Lease", meta("l", "kube-node-lease"), spec))
    assert d["spec"] == {"holderIdentity": "holder", "leaseDurationSeconds": 0,
                         "acquireTime": "1970-01-02T00:00:00.000000Z", "leaseTransitions": 3}


def test_quantity_intorstring_and_negative_ints() -> None:
    probe = fmsg(10, fmsg(1, fmsg(2, fstr(1, "/healthz"), fmsg(2, fint(1, 1), fint(2, 0), fstr(3, "http")),
                                  fstr(3, ""), fstr(4, ""))), fint(2, 0), fint(3, 1))
    container = fmsg(2, fstr(1, "c"), fstr(2, "nginx"),
                     fmsg(8, fmap(1, "cpu", fmsg(2, fstr(1, "500m"))), fmap(2, "memory", fmsg(2, fstr(1, "1Gi")))),
                     probe)
    spec = fmsg(2, container, fint(4, -1 & 0xFFFFFFFFFFFFFFFF))  # terminationGracePeriodSeconds = -1
    d = protobuf.decode(envelope("v1", "Pod", meta("p", "default"), spec))
    c = d["spec"]["containers"][0]
    assert c["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "1Gi"}}
    assert c["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "http"}, "timeoutSeconds": 1}
    assert d["spec"]["terminationGracePeriodSeconds"] == -1


def test_rawextension_and_fieldsv1() -> None:
    mf = fmsg(17, fstr(1, "kubectl"), fstr(2, "Apply"), fstr(3, "apps/v1"), fmsg(4, fint(1, 1700000000)),
              fstr(6, "FieldsV1"), fmsg(7, fbytes(1, b'{"f:spec":{"f:replicas":{}}}')), fstr(8, ""))
    m = fmsg(1, fstr(1, "rev1"), fstr(3, "default"), fmsg(8), mf)
    d = protobuf.decode(envelope("apps/v1", "ControllerRevision", m,
                                 fmsg(2, fbytes(1, b'{"spec":{"template":{"x":1}}}')), fint(3, 7)))
    assert d["data"] == {"spec": {"template": {"x": 1}}}
    assert d["revision"] == 7
    assert d["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": "2023-11-14T22:13:20Z",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]


def test_duration() -> None:
    assert protobuf.decode_message(fint(1, 90 * 10**9), protobuf.DURATION) == "1m30s"
    assert protobuf.decode_message(b"", protobuf.DURATION) == "0s"
    for ns, s in ((1, "1ns"), (1500, "1.5µs"), (2_000_000, "2ms"), (3_600_000_000_000, "1h0m0s"),
                  (3_723_500_000_000, "1h2m3.5s"), (-1_000_000_000, "-1s")):
        assert protobuf.go_duration(ns) == s


def test_packed_and_unpacked_repeated_ints() -> None:
    unpacked = fint(4, 1000) + fint(4, 2000)
    packed = fbytes(4, varint(3000) + varint(4000))
    for groups, want in ((unpacked, [1000, 2000]), (packed, [3000, 4000])):
        spec = fmsg(2, fmsg(2, fstr(1, "c"), fstr(2, "i")), fmsg(14, groups))
        d = protobuf.decode(envelope("v1", "Pod", meta(), spec))
        assert d["spec"]["securityContext"]["supplementalGroups"] == want


def test_list_wrapper_map_values() -> None:
    user = fmsg(2, fstr(1, "alice"), fmap(4, "scopes", fmsg(2, fstr(1, "a"), fstr(1, "b"))))
    d = protobuf.decode(envelope("authentication.k8s.io/v1", "TokenReview", meta(), fmsg(2), fmsg(3, user)))
    assert d["status"]["user"] == {"username": "alice", "extra": {"scopes": ["a", "b"]}}


def test_delete_options_under_any_group_version() -> None:
    body = fint(1, 0) + fmsg(2, fstr(1, "uid-1")) + fstr(4, "Foreground") + fstr(5, "All")
    for gv in ("v1", "apps/v1", "meta.k8s.io/v1"):
        d = protobuf.decode(envelope(gv, "DeleteOptions", body))
        assert d == {"kind": "DeleteOptions", "apiVersion": gv, "gracePeriodSeconds": 0,
                     "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground", "dryRun": ["All"]}


def test_scale_binding_eviction() -> None:
    d = protobuf.decode(envelope("autoscaling/v1", "Scale", meta("web", "default"), fmsg(2, fint(1, 0)),
                                 fmsg(3, fint(1, 0), fstr(2, ""))))
    assert d["spec"] == {} and d["status"] == {"replicas": 0}  # spec.replicas omitempty, status.replicas not
    d = protobuf.decode(envelope("v1", "Binding", meta("p", "default"), fmsg(2, fstr(1, "Node"), fstr(3, "node1"))))
    assert d["target"] == {"kind": "Node", "name": "node1"}
    d = protobuf.decode(envelope("policy/v1", "Eviction", meta("p", "default"), fmsg(2, fint(1, 30))))
    assert d["deleteOptions"] == {"gracePeriodSeconds": 30}


def test_inline_structs_merge_into_parent() -> None:
    vol = fmsg(1, fstr(1, "data"), fmsg(2, fmsg(19, fmsg(1, fstr(1, "cm")), fint(3, 420))))
    env = fmsg(7, fstr(1, "K"), fstr(2, ""), fmsg(3, fmsg(3, fmsg(1, fstr(1, "cm")), fstr(2, "k"))))
    spec = fmsg(2, fmsg(2, fstr(1, "c"), fstr(2, "i"), env), vol)
    d = protobuf.decode(envelope("v1", "Pod", meta(), spec))
    assert d["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm", "defaultMode": 420}}]
    assert d["spec"]["containers"][0]["env"] == [
        {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]


def test_unknown_fields_are_skipped() -> None:
    d = protobuf.decode(envelope("v1", "ConfigMap", meta("c"), fmap(2, "a", fstr(2, "b")), fstr(999, "future")))
    assert d["data"] == {"a": "b"}


@pytest.mark.parametrize("raw", [
    b'{"kind":"ConfigMap"}',  # no magic
    protobuf.MAGIC + b"\x0a\xff",  # truncated
    envelope("v1", "ConfigMap", b"\x0a\x05ab"),  # truncated inner field
    envelope("v1", "ConfigMap", b"\x0b"),  # wire type 3 (groups) is not used by Kubernetes
    protobuf.MAGIC + fbytes(2, b""),  # no kind
])
def test_malformed(raw: bytes) -> None:
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(raw)


def test_table_covers_served_kinds() -> None:
    from kubeling.api.resources import RESOURCES

    # Groups kubectl v1.32 has no protobuf types for (so it never sends them as protobuf): CRDs, APIServices
    # (kube-aggregator), and the read-only metrics API.
    json_only = {"apiextensions.k8s.io", "apiregistration.k8s.io", "metrics.k8s.io"}
    for rt in RESOURCES:
        if rt.group not in json_only:
            assert protobuf.message_type(rt.group_version, rt.kind), rt.qualified
    for gv, kind in (("autoscaling/v1", "Scale"), ("policy/v1", "Eviction"), ("v1", "Binding"),
                     ("apps/v1", "DeleteOptions")):
        assert protobuf.message_type(gv, kind), kind

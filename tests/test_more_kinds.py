"""The remaining built-in kinds of an upstream v1.32 cluster, driven by the real kubectl and the official
`kubernetes` client: CertificateSigningRequest (approval, signing, the issued certificate authenticates),
RuntimeClass (+ admission), the CSI storage kinds, ComponentStatus, FlowSchema/PriorityLevelConfiguration
and APIService.

Cluster-scoped objects get unique names and are removed by the test that made them.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import uuid
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeling.api import certificates as certs
from kubeling.controllers import certificates as signer


def _uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _csr_pem(cn: str, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """(CSR PEM, private key PEM) for CN/O, optionally with DNS SANs."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    csr = b.sign(key, hashes.SHA256())
    return (csr.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _csr_obj(name: str, pem: bytes, signer_name: str = certs.KUBE_APISERVER_CLIENT,
             usages: list[str] | None = None, expiration: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"request": base64.b64encode(pem).decode(), "signerName": signer_name,
                            "usages": usages if usages is not None else ["client auth"]}
    if expiration is not None:
        spec["expirationSeconds"] = expiration
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name}, "spec": spec}


def _create(c: KubelingCluster, obj: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess:
    return c.kubectl("create", "-f", "-", input=json.dumps(obj), check=check)


def _get(c: KubelingCluster, kind: str, name: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", kind, name, "-o", "json").stdout)


# ---- CertificateSigningRequest ----------------------------------------------------------------------------

def test_csr_approve_issues_a_working_client_certificate(cluster: KubelingCluster, tmp_path: Any) -> None:
    name = _uniq("alice")
    pem, key = _csr_pem(name, ("devs",))
    _create(cluster, _csr_obj(name, pem, expiration=3600))
    try:
        got = _get(cluster, "csr", name)
        assert got["spec"]["username"] == "kubernetes-admin"  # the authenticated requestor, not the body
        assert "system:authenticated" in got["spec"]["groups"]
        assert got["status"] == {}
        header, rows = table(cluster.kubectl("get", "csr", name).stdout)
        assert header == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
        assert rows[0]["SIGNERNAME"] == certs.KUBE_APISERVER_CLIENT
        assert rows[0]["REQUESTEDDURATION"] == "60m"
        assert rows[0]["CONDITION"] == "Pending"

        out = cluster.kubectl("certificate", "approve", name).stdout
        assert f"certificatesigningrequest.certificates.k8s.io/{name} approved" in out

        def issued() -> dict[str, Any] | None:
            o = _get(cluster, "csr", name)
            return o if (o.get("status") or {}).get("certificate") else None

        got = wait_for(issued, 30, what="certificate issued")
        cond = got["status"]["conditions"][0]
        assert cond["type"] == "Approved" and cond["status"] == "True" and cond["reason"] == "KubectlApprove"
        assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
        rows = table(cluster.kubectl("get", "csr", name).stdout)[1]
        assert rows[0]["CONDITION"] == "Approved,Issued"

        cert = x509.load_pem_x509_certificate(base64.b64decode(got["status"]["certificate"]))
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=1)  # expirationSeconds
        crt_path, key_path = tmp_path / "u.crt", tmp_path / "u.key"
        crt_path.write_bytes(base64.b64decode(got["status"]["certificate"]))
        key_path.write_bytes(key)
        who = cluster.kubectl("auth", "whoami", "-o", "json", f"--client-certificate={crt_path}",
                              f"--client-key={key_path}", "--token=").stdout
        info = json.loads(who)["status"]["userInfo"]
        assert info["username"] == name
        assert info["groups"] == ["devs", "system:authenticated"]
        out = cluster.kubectl("get", "csr", "--field-selector", f"spec.signerName={certs.KUBE_APISERVER_CLIENT}",
                              "-o", "name").stdout
        assert f"certificatesigningrequest.certificates.k8s.io/{name}" in out
        desc = cluster.kubectl("describe", "csr", name).stdout
        assert "Requesting User:     kubernetes-admin" in desc and "Approved,Issued" in desc
    finally:
        cluster.kubectl("delete", "csr", name, "--ignore-not-found")


def test_csr_deny_and_signer_validation_failure(cluster: KubelingCluster) -> None:
    denied, bad = _uniq("denied"), _uniq("bad-usage")
    _create(cluster, _csr_obj(denied, _csr_pem(denied)[0]))
    # kube-apiserver-client does not allow server auth: the signer marks it Failed.
    _create(cluster, _csr_obj(bad, _csr_pem(bad)[0], usages=["client auth", "server auth"]))
    try:
        cluster.kubectl("certificate", "deny", denied)
        cluster.kubectl("certificate", "approve", bad)
        rows = {r["NAME"]: r for r in table(cluster.kubectl("get", "csr", denied).stdout)[1]}
        assert rows[denied]["CONDITION"] == "Denied"

        def failed() -> dict[str, Any] | None:
            o = _get(cluster, "csr", bad)
            return o if certs.has_condition(o, "Failed") else None

        got = wait_for(failed, 30, what="Failed condition")
        cond = [c for c in got["status"]["conditions"] if c["type"] == "Failed"][0]
        assert cond["reason"] == "SignerValidationFailure"
        assert cond["message"] == "invalid usage for client certificate: server auth"
        assert "certificate" not in got["status"]
        assert table(cluster.kubectl("get", "csr", bad).stdout)[1][0]["CONDITION"] == "Approved,Failed"
        # Approval conditions may not be removed through /approval.
        got = _get(cluster, "csr", bad)
        got["status"]["conditions"] = []
        r = cluster.kubectl("replace", "--raw", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{bad}"
                            "/approval", "-f", "-", input=json.dumps(got), check=False)
        assert r.returncode != 0
        assert 'status.conditions: Forbidden: updates may not remove a condition of type "Approved"' in r.stderr
    finally:
        cluster.kubectl("delete", "csr", denied, bad, "--ignore-not-found")


def test_csr_validation_errors(cluster: KubelingCluster) -> None:
    name = _uniq("invalid")
    obj = _csr_obj(name, b"hello\n", signer_name="foo", usages=["bogus"], expiration=10)
    r = _create(cluster, obj, check=False)
    assert r.returncode != 0
    err = r.stderr
    assert f'The CertificateSigningRequest "{name}" is invalid' in err
    assert ("spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa}: "
            "PEM block type must be CERTIFICATE REQUEST") in err
    assert 'spec.usages[0]: Unsupported value: "bogus": supported values: "any", "cert sign"' in err
    assert "spec.expirationSeconds: Invalid value: 10: may not specify a duration less than 600 seconds" in err
    assert ("spec.signerName: Invalid value: \"foo\": must be a fully qualified domain and path of the form "
            "'example.com/signer-name'") in err
    obj = _csr_obj(name, _csr_pem(name)[0], usages=[])
    obj["spec"].pop("signerName")
    err = _create(cluster, obj, check=False).stderr
    assert "spec.usages: Required value: usages must be provided" in err
    assert "spec.signerName: Required value" in err
    err = _create(cluster, _csr_obj(name, _csr_pem(name)[0], signer_name=certs.LEGACY_UNKNOWN), check=False).stderr
    assert "the legacy signerName is not allowed via this API version" in err


def test_csr_spec_is_immutable_and_requestor_ignored(cluster: KubelingCluster) -> None:
    name = _uniq("immut")
    obj = _csr_obj(name, _csr_pem(name)[0])
    obj["spec"]["username"] = "mallory"
    obj["spec"]["groups"] = ["system:masters"]
    _create(cluster, obj)
    try:
        got = _get(cluster, "csr", name)
        assert got["spec"]["username"] == "kubernetes-admin"
        cluster.kubectl("patch", "csr", name, "--type=merge", "-p",
                        json.dumps({"spec": {"usages": ["digital signature", "client auth"]},
                                    "metadata": {"labels": {"a": "b"}}}))
        got = _get(cluster, "csr", name)
        assert got["spec"]["usages"] == ["client auth"]
        assert got["metadata"]["labels"] == {"a": "b"}
    finally:
        cluster.kubectl("delete", "csr", name, "--ignore-not-found")


def test_csr_explain_and_api_resources(cluster: KubelingCluster) -> None:
    out = cluster.kubectl("explain", "csr.spec.expirationSeconds").stdout
    assert "KIND:       CertificateSigningRequest" in out and "expirationSeconds <integer>" in out
    out = cluster.kubectl("api-resources", "--api-group=certificates.k8s.io").stdout
    assert "certificatesigningrequests   csr          certificates.k8s.io/v1   false        CertificateSigningRequest" in out


# ---- pure logic ------------------------------------------------------------------------------------------

def test_signer_rules_unit() -> None:
    pem, _ = _csr_pem("system:node:n1", ("system:nodes",))
    req = certs.parse_csr(pem)
    assert signer.validate_kubelet_client(req, {"digital signature", "client auth"}) is None
    assert signer.validate_kubelet_client(req, {"client auth"}) == (
        "usages did not match [client auth digital signature key encipherment]")
    other = certs.parse_csr(_csr_pem("bob", ("devs",))[0])
    assert signer.validate_kubelet_client(other, {"client auth"}) == "subject organization is not system:nodes"
    serving = certs.parse_csr(_csr_pem("system:node:n1", ("system:nodes",), ("n1.example",))[0])
    assert signer.validate_kubelet_serving(serving, {"digital signature", "server auth"}) is None
    assert signer.validate_kubelet_serving(req, {"digital signature", "server auth"}) == (
        "DNS or IP subjectAltName is required")
    assert signer.validate_apiserver_client(["digital signature"]) == (
        "missing required usage for client certificate: client auth")
    with pytest.raises(ValueError, match="PEM block type must be CERTIFICATE REQUEST"):
        certs.parse_csr(b"-----BEGIN CERTIFICATE-----\n")


def test_csr_strategy_unit() -> None:
    old = {"spec": {"usages": ["client auth"]}, "status": {"certificate": "Y2VydA==", "conditions": [
        {"type": "Approved", "status": "True", "lastTransitionTime": "t0", "lastUpdateTime": "t0"}]}}
    # /status cannot touch approval conditions; /approval cannot touch the certificate.
    new = {"spec": {"usages": ["server auth"]}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    certs.prepare_for_update(new, old, "status", "t1")
    assert new["spec"] == old["spec"]
    assert [c["type"] for c in new["status"]["conditions"]] == ["Approved", "Failed"]
    assert new["status"]["conditions"][1]["lastTransitionTime"] == "t1"
    new = {"status": {"certificate": "", "conditions": [{"type": "Approved", "status": "True"}]}}
    certs.prepare_for_update(new, old, "approval", "t2")
    assert new["status"]["certificate"] == "Y2VydA=="
    assert new["status"]["conditions"][0]["lastTransitionTime"] == "t0"  # same type and status: kept
    assert new["status"]["conditions"][0]["lastUpdateTime"] == "t2"
    assert certs.condition_summary({"status": {"conditions": [{"type": "Denied"}, {"type": "Failed"}]}}) == (
        "Denied,Failed")


def test_sign_honours_expiration_unit() -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .sign(ca_key, hashes.SHA256()))
    req = certs.parse_csr(_csr_pem("u")[0])
    cert = x509.load_pem_x509_certificate(signer.sign(req, ["client auth"], 600, ca, ca_key, now))
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(minutes=10)
    cert = x509.load_pem_x509_certificate(signer.sign(req, ["client auth"], None, ca, ca_key, now))
    assert cert.not_valid_after_utc == ca.not_valid_after_utc  # capped at the CA's expiry


# ---- RuntimeClass ----------------------------------------------------------------------------------------

def test_runtimeclass_admission(cluster: KubelingCluster, ns: str) -> None:
    rc = _uniq("gvisor")
    _create(cluster, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": rc},
                      "handler": "runsc", "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
                      "scheduling": {"nodeSelector": {"sandbox": "true"},
                                     "tolerations": [{"key": "sandbox", "operator": "Exists",
                                                      "effect": "NoSchedule"}]}})
    try:
        header, rows = table(cluster.kubectl("get", "runtimeclass", rc).stdout)
        assert header == ["NAME", "HANDLER", "AGE"] and rows[0]["HANDLER"] == "runsc"

        def pod(name: str, **spec: Any) -> dict[str, Any]:
            return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}

        _create(cluster, pod("p1", runtimeClassName=rc, tolerations=[{"key": "a", "operator": "Exists"}]))
        got = json.loads(cluster.kubectl("get", "pod", "p1", "-n", ns, "-o", "json").stdout)["spec"]
        assert got["overhead"] == {"cpu": "250m", "memory": "120Mi"}
        assert got["nodeSelector"] == {"sandbox": "true"}
        assert {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"} in got["tolerations"]
        assert {"key": "a", "operator": "Exists"} in got["tolerations"]

        r = _create(cluster, pod("p2", runtimeClassName="missing-rc"), check=False)
        assert 'pods "p2" is forbidden: pod rejected: RuntimeClass "missing-rc" not found' in r.stderr
        r = _create(cluster, pod("p3", runtimeClassName=rc, nodeSelector={"sandbox": "false"}), check=False)
        assert ('pods "p3" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = true; '
                "pod.spec.nodeSelector[sandbox] = false") in r.stderr
        r = _create(cluster, pod("p4", overhead={"cpu": "1"}), check=False)
        assert 'pods "p4" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass' in r.stderr
        r = _create(cluster, pod("p5", runtimeClassName=rc, overhead={"cpu": "1"}), check=False)
        assert "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead" in r.stderr

        r = cluster.kubectl("patch", "runtimeclass", rc, "--type=merge", "-p", '{"handler":"other"}', check=False)
        assert f'The RuntimeClass "{rc}" is invalid: handler: Invalid value: "other": field is immutable' in r.stderr
    finally:
        cluster.kubectl("delete", "runtimeclass", rc, "--ignore-not-found")


def test_runtimeclass_validation(cluster: KubelingCluster) -> None:
    r = _create(cluster, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "bad-rc"},
                          "handler": "Bad_H"}, check=False)
    assert ('The RuntimeClass "bad-rc" is invalid: handler: Invalid value: "Bad_H": a lowercase RFC 1123 label '
            "must consist of") in r.stderr
    out = cluster.kubectl("explain", "runtimeclass.scheduling").stdout
    assert "KIND:       RuntimeClass" in out and "nodeSelector" in out


def test_merge_tolerations_unit() -> None:
    from kubeling.api.runtimeclass_admission import merge_tolerations

    exists_all = {"operator": "Exists"}
    a = {"key": "a", "operator": "Equal", "value": "1", "effect": "NoSchedule"}
    assert merge_tolerations([a], [exists_all]) == [exists_all]
    assert merge_tolerations([a], [a]) == [a]
    b = {"key": "b", "operator": "Exists"}
    assert merge_tolerations([a], [b]) == [a, b]


# ---- ComponentStatus -------------------------------------------------------------------------------------

def test_componentstatus(cluster: KubelingCluster) -> None:
    r = cluster.kubectl("get", "cs")
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in r.stderr
    header, rows = table(r.stdout)
    assert header == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    got = {row["NAME"]: (row["STATUS"], row["MESSAGE"]) for row in rows}
    assert got == {"scheduler": ("Healthy", "ok"), "controller-manager": ("Healthy", "ok"),
                   "etcd-0": ("Healthy", '{"health":"true","reason":""}')}
    one = json.loads(cluster.kubectl("get", "componentstatus", "scheduler", "-o", "json").stdout)
    assert one["kind"] == "ComponentStatus"
    assert one["conditions"] == [{"type": "Healthy", "status": "True", "message": "ok"}]
    r = cluster.kubectl("get", "cs", "nope", check=False)
    assert 'componentstatuses "nope" not found' in r.stderr
    r = cluster.kubectl("delete", "cs", "scheduler", check=False)
    assert r.returncode != 0 and "MethodNotAllowed" in r.stderr
    from kubernetes import client

    api = client.CoreV1Api(cluster.api_client())
    assert sorted(c.metadata.name for c in api.list_component_status().items) == [
        "controller-manager", "etcd-0", "scheduler"]


# ---- storage.k8s.io CSI kinds (API only) -----------------------------------------------------------------

def test_csi_kinds(cluster: KubelingCluster, ns: str) -> None:
    drv, node, va = _uniq("csi.example.com"), _uniq("csinode"), _uniq("va")
    objs = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": drv},
         "spec": {"podInfoOnMount": True, "tokenRequests": [{"audience": "aud"}]}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": node},
         "spec": {"drivers": [{"name": drv, "nodeID": node, "topologyKeys": ["topology.example.com/node"]}]}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": va},
         "spec": {"attacher": drv, "nodeName": "node1", "source": {"persistentVolumeName": "pv1"}}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": {"name": "cap", "namespace": ns},
         "storageClassName": "standard", "capacity": "10Gi"},
    ]
    for o in objs:
        _create(cluster, o)
    try:
        spec = _get(cluster, "csidriver", drv)["spec"]
        assert spec == {"attachRequired": True, "podInfoOnMount": True, "storageCapacity": False,
                        "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": False,
                        "seLinuxMount": False, "tokenRequests": [{"audience": "aud"}],
                        "volumeLifecycleModes": ["Persistent"]}
        header, rows = table(cluster.kubectl("get", "csidriver", drv).stdout)
        assert header == ["NAME", "ATTACHREQUIRED", "PODINFOONMOUNT", "STORAGECAPACITY", "TOKENREQUESTS",
                          "REQUIRESREPUBLISH", "MODES", "AGE"]
        assert [rows[0][k] for k in header[1:7]] == ["true", "true", "false", "aud", "false", "Persistent"]
        header, rows = table(cluster.kubectl("get", "csinode", node).stdout)
        assert header == ["NAME", "DRIVERS", "AGE"] and rows[0]["DRIVERS"] == "1"
        header, rows = table(cluster.kubectl("get", "volumeattachment", va).stdout)
        assert header == ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"]
        assert [rows[0][k] for k in header[1:5]] == [drv, "pv1", "node1", "false"]
        cluster.kubectl("patch", "volumeattachment", va, "--subresource=status", "--type=merge",
                        "-p", '{"status":{"attached":true}}')
        assert table(cluster.kubectl("get", "volumeattachment", va).stdout)[1][0]["ATTACHED"] == "true"
        header, rows = table(cluster.kubectl("get", "csistoragecapacities", "-n", ns).stdout)
        assert header == ["NAME", "STORAGECLASSNAME", "AGE"] and rows[0]["STORAGECLASSNAME"] == "standard"

        r = cluster.kubectl("patch", "csidriver", drv, "--type=merge", "-p", '{"spec":{"attachRequired":false}}',
                            check=False)
        assert "spec.attachRequired: Invalid value: false: field is immutable" in r.stderr
        r = cluster.kubectl("patch", "volumeattachment", va, "--type=merge", "-p", '{"spec":{"nodeName":"n2"}}',
                            check=False)
        assert f'The VolumeAttachment "{va}" is invalid: spec: Invalid value: ' in r.stderr
        r = _create(cluster, {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
                              "metadata": {"name": "bad-va"}, "spec": {"attacher": "", "source": {}}}, check=False)
        assert "spec.attacher: Required value" in r.stderr
        assert ("spec.source: Required value: must specify exactly one of inlineVolumeSpec and "
                "persistentVolumeName") in r.stderr
        assert "spec.nodeName: Required value" in r.stderr
        out = cluster.kubectl("explain", "csistoragecapacity.storageClassName").stdout
        assert "KIND:       CSIStorageCapacity" in out
    finally:
        cluster.kubectl("delete", "csidriver", drv, "--ignore-not-found")
        cluster.kubectl("delete", "csinode", node, "--ignore-not-found")
        cluster.kubectl("delete", "volumeattachment", va, "--ignore-not-found")


# ---- flowcontrol.apiserver.k8s.io ------------------------------------------------------------------------

def test_flowcontrol_bootstrap_objects(cluster: KubelingCluster) -> None:
    header, rows = table(cluster.kubectl("get", "flowschemas").stdout)
    assert header == ["NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE", "MISSINGPL"]
    got = {r["NAME"]: (r["PRIORITYLEVEL"], r["MATCHINGPRECEDENCE"], r["DISTINGUISHERMETHOD"], r["MISSINGPL"])
           for r in rows}
    assert got["exempt"] == ("exempt", "1", "<none>", "False")
    assert got["probes"] == ("exempt", "2", "<none>", "False")
    assert got["catch-all"] == ("catch-all", "10000", "ByUser", "False")
    assert got["kube-system-service-accounts"] == ("workload-high", "900", "ByNamespace", "False")
    assert {"system-leader-election", "endpoint-controller", "workload-leader-election", "system-node-high",
            "system-nodes", "kube-controller-manager", "kube-scheduler", "service-accounts",
            "global-default"} <= set(got)
    header, rows = table(cluster.kubectl("get", "prioritylevelconfigurations").stdout)
    assert header == ["NAME", "TYPE", "NOMINALCONCURRENCYSHARES", "QUEUES", "HANDSIZE", "QUEUELENGTHLIMIT", "AGE"]
    pls = {r["NAME"]: [r[h] for h in header[1:6]] for r in rows}
    assert pls["exempt"] == ["Exempt", "<none>", "<none>", "<none>", "<none>"]
    assert pls["catch-all"] == ["Limited", "5", "<none>", "<none>", "<none>"]
    assert pls["workload-low"] == ["Limited", "100", "128", "6", "50"]
    assert set(pls) == {"exempt", "catch-all", "system", "node-high", "leader-election", "workload-high",
                        "workload-low", "global-default"}
    fs = _get(cluster, "flowschema", "exempt")
    assert fs["metadata"]["annotations"]["apf.kubernetes.io/autoupdate-spec"] == "true"
    assert fs["spec"]["rules"][0]["subjects"] == [{"kind": "Group", "group": {"name": "system:masters"}}]


def test_flowcontrol_defaults_and_validation(cluster: KubelingCluster) -> None:
    pl, fs = _uniq("pl"), _uniq("fs")
    _create(cluster, {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
                      "metadata": {"name": pl},
                      "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}})
    _create(cluster, {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": fs},
                      "spec": {"priorityLevelConfiguration": {"name": pl},
                               "rules": [{"subjects": [{"kind": "User", "user": {"name": "bob"}}],
                                          "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}]}})
    try:
        limited = _get(cluster, "prioritylevelconfiguration", pl)["spec"]["limited"]
        assert limited["nominalConcurrencyShares"] == 30 and limited["lendablePercent"] == 0
        assert limited["limitResponse"]["queuing"] == {"queues": 64, "handSize": 8, "queueLengthLimit": 50}
        assert _get(cluster, "flowschema", fs)["spec"]["matchingPrecedence"] == 1000
        r = _create(cluster, {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
                              "metadata": {"name": "bad-fs"},
                              "spec": {"priorityLevelConfiguration": {"name": ""}, "matchingPrecedence": 20000}},
                    check=False)
        assert "spec.matchingPrecedence: Invalid value: 20000: must not be greater than 10000" in r.stderr
        assert "spec.priorityLevelConfiguration.name: Required value: must reference a priority level" in r.stderr
    finally:
        cluster.kubectl("delete", "flowschema", fs, "--ignore-not-found")
        cluster.kubectl("delete", "prioritylevelconfiguration", pl, "--ignore-not-found")


# ---- apiregistration.k8s.io ------------------------------------------------------------------------------

def test_local_apiservices(cluster: KubelingCluster) -> None:
    header, rows = table(cluster.kubectl("get", "apiservices").stdout)
    assert header == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    got = {r["NAME"]: (r["SERVICE"], r["AVAILABLE"]) for r in rows}
    for name in ("v1.", "v1.apps", "v2.autoscaling", "v1.autoscaling", "v1.certificates.k8s.io",
                 "v1.apiregistration.k8s.io", "v1.flowcontrol.apiserver.k8s.io", "v1.node.k8s.io"):
        assert got[name] == ("Local", "True"), name
    svc = _get(cluster, "apiservice", "v1.apps")
    assert svc["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    assert svc["spec"] == {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15}
    cond = svc["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "Available", "True", "Local", "Local APIServices are always available")
    r = _create(cluster, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                          "metadata": {"name": "v1.wrong.example.com"},
                          "spec": {"group": "example.com", "version": "v1", "groupPriorityMinimum": 100,
                                   "versionPriority": 100}}, check=False)
    assert 'metadata.name: Invalid value: "v1.wrong.example.com": must be `spec.version+"."+spec.group`' in r.stderr
    out = cluster.kubectl("get", "api-extensions", "-o", "name").stdout
    assert "apiservice.apiregistration.k8s.io/v1.apps" in out


def test_csr_subject_restriction(cluster: KubelingCluster) -> None:
    name = _uniq("masters")
    r = _create(cluster, _csr_obj(name, _csr_pem("eve", ("system:masters",))[0]), check=False)
    assert r.returncode != 0
    assert (f'certificatesigningrequests.certificates.k8s.io "{name}" is forbidden: use of '
            "kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed") in r.stderr


def test_csr_cleanup_deadline_unit() -> None:
    created = "2026-01-01T00:00:00Z"
    pending = {"metadata": {"creationTimestamp": created}}
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    assert signer.cleanup_deadline(pending) == t0 + 24 * 3600
    approved = {"metadata": {"creationTimestamp": created}, "status": {"conditions": [
        {"type": "Approved", "status": "True", "lastUpdateTime": "2026-01-01T02:00:00Z"}]}}
    assert signer.cleanup_deadline(approved) == t0 + 3 * 3600
    assert signer.cleanup_deadline({"metadata": {}}) is None

"""Dynamic admission webhooks (admissionregistration.k8s.io/v1) against a real HTTPS webhook server.

The server runs in the test process on 127.0.0.1 with a throwaway CA, as controller-runtime's envtest
and kopf point `clientConfig.url` at a local server. Every configuration is scoped by an objectSelector
on a label unique to the test, so the session cluster's other tests never reach these webhooks.
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import KubelingCluster, table
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MUTATED = "webhook.example.com/mutated"


def _make_certs(tmp: Any, dns_name: str = "webhook-svc.default.svc") -> tuple[bytes, str, str]:
    """A CA and a serving certificate for 127.0.0.1 and a service name; returns (CA PEM, cert, key paths)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook-test-ca-" + uuid.uuid4().hex[:6])])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName(dns_name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = tmp / "tls.crt", tmp / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM), str(cert_path), str(key_path)


class WebhookServer:
    """Answers AdmissionReviews by path: /mutate, /deny, /warn, /slow, /allow; records every review."""

    def __init__(self, cert: str, key: str) -> None:
        self.reviews: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                path = self.path.split("?")[0]
                outer.reviews.append((self.path, review))
                req = review["request"]
                resp: dict[str, Any] = {"uid": req["uid"], "allowed": True}
                if path == "/mutate":
                    labels = (req["object"].get("metadata") or {}).get("labels")
                    ops = ([{"op": "add", "path": "/metadata/labels/" + MUTATED.replace("/", "~1"),
                             "value": "true"}] if labels else
                           [{"op": "add", "path": "/metadata/labels", "value": {MUTATED: "true"}}])
                    resp["patchType"] = "JSONPatch"
                    resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
                elif path == "/deny":
                    resp = {"uid": req["uid"], "allowed": False,
                            "status": {"code": 403, "message": "configmaps named deny-me are not welcome"}}
                elif path == "/warn":
                    resp["warnings"] = ["this object looks suspicious"]
                elif path == "/slow":
                    time.sleep(3)
                body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": resp}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str, str]:
    return _make_certs(tmp_path_factory.mktemp("webhook-certs"))


@pytest.fixture(scope="module")
def server(certs: tuple[bytes, str, str]) -> Iterator[WebhookServer]:
    s = WebhookServer(certs[1], certs[2])
    yield s
    s.stop()


@pytest.fixture
def scope_label() -> str:
    return "wh-" + uuid.uuid4().hex[:8]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hook(name: str, url: str | None, ca: bytes, label: str, **extra: Any) -> dict:
    h: dict[str, Any] = {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {"url": url, "caBundle": base64.b64encode(ca).decode()},
        "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
                   "resources": ["configmaps"]}],
        "objectSelector": {"matchLabels": {"webhook-test": label}},
    }
    h.update(extra)
    return h


def _config(kind: str, name: str, hooks: list[dict]) -> str:
    return json.dumps({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                       "metadata": {"name": name}, "webhooks": hooks})


@pytest.fixture
def configs(cluster: KubelingCluster) -> Iterator[list[tuple[str, str]]]:
    """Configurations to delete after the test: (resource, name)."""
    made: list[tuple[str, str]] = []
    yield made
    for res, name in made:
        cluster.kubectl("delete", res, name, "--ignore-not-found", check=False)


def _register(cluster: KubelingCluster, configs: list, kind: str, hooks: list[dict]) -> str:
    name = f"{kind.lower()}-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("apply", "-f", "-", input=_config(kind, name, hooks))
    configs.append((kind.lower() + "s", name))
    return name


def _cm(name: str, ns: str, label: str, **labels: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": name, "namespace": ns, "labels": {"webhook-test": label, **labels}},
                       "data": {"k": "v"}})


def test_configuration_defaults_and_printer(cluster: KubelingCluster, configs: list, certs: tuple,
                                            server: WebhookServer, scope_label: str) -> None:
    name = _register(cluster, configs, "MutatingWebhookConfiguration",
                     [_hook("a.example.com", server.url("/allow"), certs[0], scope_label)])
    obj = json.loads(cluster.kubectl("get", "mutatingwebhookconfigurations", name, "-o", "json").stdout)
    h = obj["webhooks"][0]
    assert h["failurePolicy"] == "Fail"
    assert h["matchPolicy"] == "Equivalent"
    assert h["namespaceSelector"] == {}
    assert h["timeoutSeconds"] == 10
    assert h["reinvocationPolicy"] == "Never"
    assert h["rules"][0]["scope"] == "*"
    assert obj["metadata"]["generation"] == 1
    header, rows = table(cluster.kubectl("get", "mutatingwebhookconfigurations", name).stdout)
    assert header == ["NAME", "WEBHOOKS", "AGE"]
    assert rows[0]["NAME"] == name and rows[0]["WEBHOOKS"] == "1"
    vname = _register(cluster, configs, "ValidatingWebhookConfiguration",
                      [_hook("a.example.com", server.url("/allow"), certs[0], scope_label),
                       _hook("b.example.com", server.url("/allow"), certs[0], scope_label)])
    vobj = json.loads(cluster.kubectl("get", "validatingwebhookconfigurations", vname, "-o", "json").stdout)
    assert "reinvocationPolicy" not in vobj["webhooks"][0]
    _, rows = table(cluster.kubectl("get", "validatingwebhookconfigurations", vname).stdout)
    assert rows[0]["WEBHOOKS"] == "2"
    # A change of the webhooks bumps generation.
    cluster.kubectl("patch", "validatingwebhookconfigurations", vname, "--type=json",
                    "-p", '[{"op":"replace","path":"/webhooks/0/timeoutSeconds","value":5}]')
    vobj = json.loads(cluster.kubectl("get", "validatingwebhookconfigurations", vname, "-o", "json").stdout)
    assert vobj["metadata"]["generation"] == 2


def test_invalid_configurations(cluster: KubelingCluster, certs: tuple) -> None:
    bad = [
        {"name": "short.name", "admissionReviewVersions": ["v2"], "sideEffects": "Some", "timeoutSeconds": 31,
         "clientConfig": {"url": "http://user@127.0.0.1:1/x?q=1#f"},
         "rules": [{"operations": ["*", "CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                    "resources": ["*/*", "pods"]}]},
        {"name": "dup.example.com", "admissionReviewVersions": ["v1"], "clientConfig": {}},
        {"name": "dup.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
         "clientConfig": {"service": {"name": "s", "namespace": "default"}}, "failurePolicy": "Maybe"},
    ]
    cp = cluster.kubectl("create", "-f", "-", input=_config("ValidatingWebhookConfiguration", "bad", bad),
                         check=False)
    assert cp.returncode != 0
    err = cp.stderr
    assert 'The ValidatingWebhookConfiguration "bad" is invalid' in err
    for frag in (
        'webhooks[0].name: Invalid value: "short.name": should be a domain with at least three segments '
        'separated by dots',
        'webhooks[0].rules[0].operations: Invalid value: []admissionregistration.OperationType{"*", "CREATE"}: '
        "if '*' is present, must not specify other operations",
        "webhooks[0].rules[0].resources: Invalid value: []string{\"*/*\", \"pods\"}: if '*/*' is present, "
        "must not specify other resources",
        'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"',
        "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; "
        "desired format: https://host[/path]",
        'webhooks[0].clientConfig.url: Invalid value: "user": user information is not permitted in the URL',
        'webhooks[0].clientConfig.url: Invalid value: "f": fragments are not permitted in the URL',
        'webhooks[0].clientConfig.url: Invalid value: "q=1": query parameters are not permitted in the URL',
        'webhooks[0].admissionReviewVersions: Invalid value: []string{"v2"}: must include at least one of v1, '
        "v1beta1",
        "webhooks[1].sideEffects: Required value: must specify one of None, NoneOnDryRun",
        "webhooks[1].clientConfig: Required value: exactly one of url or service is required",
        'webhooks[2].failurePolicy: Unsupported value: "Maybe": supported values: "Fail", "Ignore"',
        'webhooks[2].name: Duplicate value: "dup.example.com"',
    ):
        assert frag in err, frag
    # The API answers 422 with the field paths as causes.
    code, _, body = cluster.request(
        "POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        _config("MutatingWebhookConfiguration", "bad2", [bad[1]]).encode(),
        headers={"Content-Type": "application/json"})
    assert code == 422
    st = json.loads(body)
    assert st["reason"] == "Invalid"
    fields = {c["field"] for c in st["details"]["causes"]}
    assert fields == {"webhooks[0].sideEffects", "webhooks[0].clientConfig"}


def test_mutating_webhook_adds_label(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                                     server: WebhookServer, scope_label: str) -> None:
    _register(cluster, configs, "MutatingWebhookConfiguration",
              [_hook("mutate.example.com", server.url("/mutate"), certs[0], scope_label)])
    cluster.kubectl("create", "-f", "-", input=_cm("m1", ns, scope_label))
    obj = json.loads(cluster.kubectl("get", "cm", "m1", "-n", ns, "-o", "json", "--show-managed-fields").stdout)
    assert obj["metadata"]["labels"] == {"webhook-test": scope_label, MUTATED: "true"}
    # The field manager records the request before admission: the webhook's label is nobody's field.
    mf = obj["metadata"]["managedFields"]
    assert [m["manager"] for m in mf] == ["kubectl-create"]
    assert mf[0]["fieldsV1"]["f:metadata"]["f:labels"] == {".": {}, "f:webhook-test": {}}
    # The review carried what upstream sends for a CREATE.
    path, review = next((p, r) for p, r in reversed(server.reviews)
                        if r["request"].get("name") == "m1" and r["request"].get("namespace") == ns)
    assert path == "/mutate?timeout=10s"
    req = review["request"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert req["operation"] == "CREATE"
    assert req["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert req["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert req["requestKind"] == req["kind"]
    assert req["userInfo"]["username"] == "kubernetes-admin"
    assert req["options"]["kind"] == "CreateOptions"
    assert req["options"]["fieldManager"] == "kubectl-create"
    assert req["dryRun"] is False
    assert req["oldObject"] is None
    # An update is sent with the old object.
    cluster.kubectl("label", "cm", "m1", "-n", ns, "extra=1")
    req = [r["request"] for _, r in server.reviews if r["request"].get("name") == "m1"][-1]
    assert req["operation"] == "UPDATE"
    assert req["oldObject"]["metadata"]["labels"][MUTATED] == "true"
    assert req["options"]["kind"] == "UpdateOptions"


def test_validating_webhook_denies(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                                   server: WebhookServer, scope_label: str) -> None:
    hook = _hook("deny.example.com", server.url("/deny"), certs[0], scope_label)
    hook["objectSelector"] = {"matchLabels": {"webhook-test": scope_label, "deny": "yes"}}
    cluster.kubectl("create", "-f", "-", input=_cm("kept", ns, scope_label, deny="yes"))
    _register(cluster, configs, "ValidatingWebhookConfiguration", [hook])
    cp = cluster.kubectl("create", "-f", "-", input=_cm("deny-me", ns, scope_label, deny="yes"), check=False)
    assert cp.returncode != 0
    assert ('admission webhook "deny.example.com" denied the request: configmaps named deny-me are not welcome'
            in cp.stderr)
    # The webhook's Status has no reason: kubectl prints no reason either.
    assert 'Error from server: error when creating "STDIN": admission webhook' in cp.stderr
    assert cluster.kubectl("get", "cm", "deny-me", "-n", ns, check=False).returncode != 0
    # Objects the objectSelector does not select are never sent.
    before = len(server.reviews)
    cluster.kubectl("create", "-f", "-", input=_cm("fine", ns, scope_label))
    assert not [r for _, r in server.reviews[before:] if r["request"].get("name") == "fine"]
    # The objectSelector matches the new or the old object: labelling into the selector is denied,
    # and so is a DELETE (which carries only the old object).
    cp = cluster.kubectl("label", "cm", "fine", "-n", ns, "deny=yes", check=False)
    assert 'admission webhook "deny.example.com" denied the request' in cp.stderr
    cp = cluster.kubectl("delete", "cm", "kept", "-n", ns, check=False)
    assert 'admission webhook "deny.example.com" denied the request' in cp.stderr
    req = [r["request"] for _, r in server.reviews if r["request"].get("name") == "kept"][-1]
    assert req["operation"] == "DELETE" and req["object"] is None
    assert req["oldObject"]["metadata"]["name"] == "kept"
    assert req["options"]["kind"] == "DeleteOptions"


def test_failure_policy_fail_and_ignore(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                                        scope_label: str) -> None:
    port = _free_port()  # nothing listens here
    fail = _hook("down-fail.example.com", f"https://127.0.0.1:{port}/v", certs[0], scope_label)
    fail["objectSelector"] = {"matchLabels": {"webhook-test": scope_label, "policy": "fail"}}
    ignore = _hook("down-ignore.example.com", f"https://127.0.0.1:{port}/v", certs[0], scope_label,
                   failurePolicy="Ignore")
    ignore["objectSelector"] = {"matchLabels": {"webhook-test": scope_label, "policy": "ignore"}}
    _register(cluster, configs, "ValidatingWebhookConfiguration", [fail, ignore])
    cp = cluster.kubectl("create", "-f", "-", input=_cm("f1", ns, scope_label, policy="fail"), check=False)
    assert cp.returncode != 0
    assert ('Internal error occurred: failed calling webhook "down-fail.example.com": failed to call webhook: '
            f'Post "https://127.0.0.1:{port}/v?timeout=10s": dial tcp 127.0.0.1:{port}: connect: '
            "connection refused") in cp.stderr
    cluster.kubectl("create", "-f", "-", input=_cm("i1", ns, scope_label, policy="ignore"))
    code, _, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", _cm("f2", ns, scope_label, policy="fail").encode(),
        headers={"Content-Type": "application/json"})
    assert code == 500
    assert json.loads(body)["reason"] == "InternalError"


def test_untrusted_certificate(cluster: KubelingCluster, ns: str, configs: list, server: WebhookServer,
                               tmp_path: Any, scope_label: str) -> None:
    other_ca, _, _ = _make_certs(tmp_path)  # caBundle of another CA: the server's certificate is not trusted
    _register(cluster, configs, "ValidatingWebhookConfiguration",
              [_hook("tls.example.com", server.url("/allow"), other_ca, scope_label)])
    cp = cluster.kubectl("create", "-f", "-", input=_cm("t1", ns, scope_label), check=False)
    assert (f'failed calling webhook "tls.example.com": failed to call webhook: Post '
            f'"https://127.0.0.1:{server.port}/allow?timeout=10s": tls: failed to verify certificate: '
            "x509: certificate signed by unknown authority") in cp.stderr


def test_timeout(cluster: KubelingCluster, ns: str, configs: list, certs: tuple, server: WebhookServer,
                 scope_label: str) -> None:
    _register(cluster, configs, "ValidatingWebhookConfiguration",
              [_hook("slow.example.com", server.url("/slow"), certs[0], scope_label, timeoutSeconds=1)])
    cp = cluster.kubectl("create", "-f", "-", input=_cm("s1", ns, scope_label), check=False)
    assert cp.returncode != 0
    assert (f'failed calling webhook "slow.example.com": failed to call webhook: Post '
            f'"https://127.0.0.1:{server.port}/slow?timeout=1s": context deadline exceeded') in cp.stderr


def test_namespace_selector(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                            server: WebhookServer, scope_label: str) -> None:
    hook = _hook("nssel.example.com", server.url("/mutate"), certs[0], scope_label,
                 namespaceSelector={"matchLabels": {"webhooks": scope_label}})
    _register(cluster, configs, "MutatingWebhookConfiguration", [hook])
    cluster.kubectl("create", "-f", "-", input=_cm("before", ns, scope_label))
    obj = json.loads(cluster.kubectl("get", "cm", "before", "-n", ns, "-o", "json").stdout)
    assert MUTATED not in obj["metadata"]["labels"]
    cluster.kubectl("label", "namespace", ns, f"webhooks={scope_label}")
    cluster.kubectl("create", "-f", "-", input=_cm("after", ns, scope_label))
    obj = json.loads(cluster.kubectl("get", "cm", "after", "-n", ns, "-o", "json").stdout)
    assert obj["metadata"]["labels"][MUTATED] == "true"


def test_dry_run_and_side_effects(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                                  server: WebhookServer, scope_label: str) -> None:
    _register(cluster, configs, "MutatingWebhookConfiguration",
              [_hook("dry.example.com", server.url("/mutate"), certs[0], scope_label, sideEffects="NoneOnDryRun")])
    out = cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                          input=_cm("d1", ns, scope_label)).stdout
    assert json.loads(out)["metadata"]["labels"][MUTATED] == "true"
    req = [r["request"] for _, r in server.reviews if r["request"].get("name") == "d1"][-1]
    assert req["dryRun"] is True
    assert req["options"]["dryRun"] == ["All"]
    assert cluster.kubectl("get", "cm", "d1", "-n", ns, check=False).returncode != 0
    # v1 admits only None/NoneOnDryRun, so the dry-run refusal of Unknown/Some is unit-tested
    # (tests/unit/test_webhook_admission.py).


def test_warnings_shown_by_kubectl(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                                   server: WebhookServer, scope_label: str) -> None:
    _register(cluster, configs, "ValidatingWebhookConfiguration",
              [_hook("warn.example.com", server.url("/warn"), certs[0], scope_label)])
    cp = cluster.kubectl("create", "-f", "-", input=_cm("w1", ns, scope_label))
    assert "Warning: this object looks suspicious" in cp.stderr


def test_service_reference_without_endpoints(cluster: KubelingCluster, ns: str, configs: list, certs: tuple,
                                             scope_label: str) -> None:
    hook = _hook("svc.example.com", None, certs[0], scope_label)
    hook["clientConfig"] = {"service": {"name": "webhook-svc", "namespace": ns, "path": "/validate"},
                            "caBundle": base64.b64encode(certs[0]).decode()}
    _register(cluster, configs, "ValidatingWebhookConfiguration", [hook])
    cp = cluster.kubectl("create", "-f", "-", input=_cm("v1", ns, scope_label), check=False)
    assert (f'failed calling webhook "svc.example.com": failed to call webhook: Post '
            f'"https://webhook-svc.{ns}.svc:443/validate?timeout=10s": service "webhook-svc" not found') in cp.stderr
    # A ClusterIP service whose endpoints are simulated pods cannot be reached from the API server.
    cluster.kubectl("create", "service", "clusterip", "webhook-svc", "-n", ns, "--tcp=443:8443")
    cp = cluster.kubectl("create", "-f", "-", input=_cm("v1", ns, scope_label), check=False)
    assert cp.returncode != 0
    assert (f'failed calling webhook "svc.example.com": failed to call webhook: Post '
            f'"https://webhook-svc.{ns}.svc:443/validate?timeout=10s": no endpoints available for service '
            '"webhook-svc"') in cp.stderr


def test_service_reference_through_external_name(cluster: KubelingCluster, ns: str, configs: list,
                                                 tmp_path: Any, scope_label: str) -> None:
    """An ExternalName service is dialled at its external name (upstream's ResolveCluster), the TLS name
    checked is still <service>.<namespace>.svc."""
    ca, cert, key = _make_certs(tmp_path, f"webhook-svc.{ns}.svc")
    srv = WebhookServer(cert, key)
    try:
        cluster.kubectl("create", "service", "externalname", "webhook-svc", "-n", ns, "--external-name=localhost")
        hook = _hook("svc-mutate.example.com", None, ca, scope_label)
        hook["clientConfig"] = {"service": {"name": "webhook-svc", "namespace": ns, "path": "/mutate",
                                            "port": srv.port}, "caBundle": base64.b64encode(ca).decode()}
        _register(cluster, configs, "MutatingWebhookConfiguration", [hook])
        cluster.kubectl("create", "-f", "-", input=_cm("via-svc", ns, scope_label))
        obj = json.loads(cluster.kubectl("get", "cm", "via-svc", "-n", ns, "-o", "json").stdout)
        assert obj["metadata"]["labels"][MUTATED] == "true"
        assert srv.reviews[-1][0] == "/mutate?timeout=10s"
    finally:
        srv.stop()


def test_webhook_configurations_are_not_intercepted(cluster: KubelingCluster, configs: list, certs: tuple) -> None:
    port = _free_port()
    hook = {"name": "all.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "clientConfig": {"url": f"https://127.0.0.1:{port}/x", "caBundle": base64.b64encode(certs[0]).decode()},
            "rules": [{"operations": ["*"], "apiGroups": ["admissionregistration.k8s.io"], "apiVersions": ["*"],
                       "resources": ["*"]}]}
    name = _register(cluster, configs, "ValidatingWebhookConfiguration", [hook])
    # Updating and deleting its own configuration works although the webhook is down.
    cluster.kubectl("label", "validatingwebhookconfigurations", name, "x=y")
    cluster.kubectl("delete", "validatingwebhookconfigurations", name)

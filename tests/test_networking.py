"""networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy — the API server's whole part of them
(defaults, validation, printers, the /status subresource, DefaultIngressClass admission), driven by the
real kubectl and the official `kubernetes` client. Expected texts are upstream v1.32's.

Cluster-scoped objects (IngressClasses) are created and removed by the test that needs them: tests of
one worker run one after another on that worker's session cluster.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import KubelingCluster, table


def _create(c: KubelingCluster, obj: dict[str, Any], ns: str | None = None,
            check: bool = True) -> Any:
    args = ["create", "-f", "-"] + (["-n", ns] if ns else [])
    return c.kubectl(*args, input=json.dumps(obj), check=check)


def _get(c: KubelingCluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any]:
    args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
    return json.loads(c.kubectl(*args).stdout)


def _ingress(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": md, "spec": spec}


def _rule(host: str, path: str = "/", path_type: str | None = "Prefix", svc: str = "web",
          port: dict[str, Any] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"path": path, "backend": {"service": {"name": svc, "port": port or {"number": 80}}}}
    if path_type is not None:
        p["pathType"] = path_type
    r: dict[str, Any] = {"http": {"paths": [p]}}
    if host:
        r["host"] = host
    return r


# ---- Ingress ------------------------------------------------------------------------------------------

def test_create_ingress_generator_and_printer(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "ingress", "simple", "-n", ns, "--rule=foo.com/bar=svc1:8080")
    cluster.kubectl("create", "ingress", "tls", "-n", ns, "--class=other", "--default-backend=defsvc:http",
                    "--rule=a.com/*=svc:80,tls=my-cert", "--rule=b.com/=svc:80", "--rule=c.com/=svc:80",
                    "--rule=d.com/=svc:80")
    ing = _get(cluster, "ingress", "simple", ns)
    assert ing["metadata"]["generation"] == 1
    assert ing["status"] == {"loadBalancer": {}}
    assert ing["spec"]["rules"] == [{"host": "foo.com", "http": {"paths": [{
        "path": "/bar", "pathType": "Exact",
        "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}]
    assert "ingressClassName" not in ing["spec"]
    tls = _get(cluster, "ing", "tls", ns)
    assert tls["spec"]["ingressClassName"] == "other"
    assert tls["spec"]["defaultBackend"] == {"service": {"name": "defsvc", "port": {"name": "http"}}}
    assert tls["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Prefix"
    header, rows = table(cluster.kubectl("get", "ingress", "-n", ns).stdout)
    assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    by = {r["NAME"]: r for r in rows}
    assert (by["simple"]["CLASS"], by["simple"]["HOSTS"], by["simple"]["PORTS"]) == ("<none>", "foo.com", "80")
    assert by["tls"]["CLASS"] == "other"
    assert by["tls"]["HOSTS"] == "a.com,b.com,c.com + 1 more..."
    assert by["tls"]["PORTS"] == "80, 443"
    out = cluster.kubectl("describe", "ingress", "tls", "-n", ns).stdout
    assert "Ingress Class:    other" in out
    assert "my-cert terminates a.com" in out


def test_ingress_status_subresource_and_generation(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    _create(cluster, _ingress("st", {"rules": [_rule("x.com")]}), ns)
    api = client.NetworkingV1Api(cluster.api_client())
    body = {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"},
                                                    {"ip": "10.0.0.1"}]}},
            "spec": {"rules": [_rule("changed.com")]}}
    got = api.patch_namespaced_ingress_status("st", ns, body)
    assert got.spec.rules[0].host == "x.com"  # spec is ignored on /status
    assert [i.ip or i.hostname for i in got.status.load_balancer.ingress] == ["10.0.0.9", "lb.example.com",
                                                                              "10.0.0.1"]
    assert got.metadata.generation == 1
    # status is ignored on the main resource; a spec change bumps generation
    cur = _get(cluster, "ingress", "st", ns)
    cur["status"] = {"loadBalancer": {}}
    cur["spec"]["rules"][0]["host"] = "y.com"
    cluster.kubectl("replace", "-n", ns, "-f", "-", input=json.dumps(cur))
    after = _get(cluster, "ingress", "st", ns)
    assert after["metadata"]["generation"] == 2
    assert len(after["status"]["loadBalancer"]["ingress"]) == 3
    _, rows = table(cluster.kubectl("get", "ingress", "st", "-n", ns).stdout)
    assert rows[0]["ADDRESS"] == "10.0.0.1,10.0.0.9,lb.example.com"
    bad = {"status": {"loadBalancer": {"ingress": [{"hostname": "1.2.3.4"}]}}}
    with pytest.raises(client.ApiException) as ei:
        api.patch_namespaced_ingress_status("st", ns, bad)
    assert ei.value.status == 422
    causes = json.loads(ei.value.body)["details"]["causes"]
    assert {"reason": "FieldValueInvalid", "field": "status.loadBalancer.ingress[0].hostname",
            "message": 'Invalid value: "1.2.3.4": must be a DNS name, not an IP address'} in causes


def test_ingress_validation(cluster: KubelingCluster, ns: str) -> None:
    spec = {"rules": [
        {"host": "1.2.3.4", "http": {"paths": [
            {"path": "foo", "pathType": "Prefix",
             "backend": {"service": {"name": "Svc", "port": {"number": 80, "name": "http"}}}},
            {"path": "/a", "backend": {"service": {"name": "s", "port": {"number": 80}}}},
            {"path": "/a//b/..", "pathType": "Exact", "backend": {}},
            {"path": "/x", "pathType": "Regex", "backend": {
                "service": {"name": "s", "port": {"number": 80}},
                "resource": {"kind": "Bucket", "name": "b"}}},
            {"path": "/y", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {}}}},
        ]}},
        {"host": "*.foo.*", "http": {"paths": []}},
        _rule("*.ok.com"),
    ], "tls": [{"hosts": ["Bad_Host"], "secretName": "Bad/Secret"}], "ingressClassName": "Bad"}
    cp = _create(cluster, _ingress("bad", spec, {"kubernetes.io/ingress.class": "nginx"}), ns, check=False)
    assert cp.returncode != 0
    err = cp.stderr
    expected = [
        'spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address',
        'spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path',
        "spec.rules[0].http.paths[0].backend.service.name: Invalid value: \"Svc\": a DNS-1035 label must consist",
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number',
        "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified",
        "spec.rules[0].http.paths[2].path: Invalid value: \"/a//b/..\": must not contain '//'",
        "spec.rules[0].http.paths[2].path: Invalid value: \"/a//b/..\": cannot end with '/..'",
        'spec.rules[0].http.paths[2].backend: Invalid value: "": resource or service backend is required',
        'spec.rules[0].http.paths[3].pathType: Unsupported value: "Regex": supported values: "Exact", '
        '"ImplementationSpecific", "Prefix"',
        'spec.rules[0].http.paths[3].backend: Invalid value: "": cannot set both resource and service backends',
        "spec.rules[0].http.paths[4].backend: Required value: port name or number is required",
        "spec.rules[1].host: Invalid value: \"*.foo.*\": a wildcard DNS-1123 subdomain must start with '*.'",
        "spec.rules[1].http.paths: Required value",
        'spec.tls[0].hosts[0]: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain',
        'spec.tls[0].secretName: Invalid value: "Bad/Secret": a lowercase RFC 1123 subdomain',
        'spec.ingressClassName: Invalid value: "Bad": a lowercase RFC 1123 subdomain',
        'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": must match `ingressClassName` '
        "when both are specified",
    ]
    for e in expected:
        assert e in err, e
    assert "rules[2]" not in err
    cp = _create(cluster, _ingress("empty", {}), ns, check=False)
    assert ('The Ingress "empty" is invalid: spec: Invalid value: []networking.IngressRule(nil): either '
            "`defaultBackend` or `rules` must be specified") in cp.stderr


def test_ingress_422_status_from_client(cluster: KubelingCluster, ns: str) -> None:
    from kubernetes import client

    api = client.NetworkingV1Api(cluster.api_client())
    body = _ingress("c", {"rules": [_rule("a.com", path_type=None)]})
    with pytest.raises(client.ApiException) as ei:
        api.create_namespaced_ingress(ns, body)
    assert ei.value.status == 422
    st = json.loads(ei.value.body)
    assert st["reason"] == "Invalid" and st["details"]["kind"] == "Ingress"
    assert st["details"]["group"] == "networking.k8s.io"
    assert st["details"]["causes"] == [{"reason": "FieldValueRequired",
                                        "message": "Required value: pathType must be specified",
                                        "field": "spec.rules[0].http.paths[0].pathType"}]


def test_ingress_class_annotation_warning(cluster: KubelingCluster, ns: str) -> None:
    cp = _create(cluster, _ingress("old", {"rules": [_rule("a.com")]}, {"kubernetes.io/ingress.class": "nginx"}),
                 ns)
    assert ("Warning: annotation \"kubernetes.io/ingress.class\" is deprecated, please use "
            "'spec.ingressClassName' instead") in cp.stderr
    assert "ingressClassName" not in _get(cluster, "ingress", "old", ns)["spec"]


# ---- IngressClass and DefaultIngressClass admission ---------------------------------------------------

def _ingress_class(name: str, default: bool = False, params: dict[str, Any] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if default:
        md["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    spec: dict[str, Any] = {"controller": "example.com/ingress-controller"}
    if params is not None:
        spec["parameters"] = params
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": md, "spec": spec}


def test_ingressclass_printer_defaults_and_immutable_controller(cluster: KubelingCluster) -> None:
    name = "ic-" + uuid.uuid4().hex[:8]
    plain = name + "-plain"
    try:
        _create(cluster, _ingress_class(name, params={"apiGroup": "k8s.example.com", "kind": "Params",
                                                      "name": "lb"}))
        _create(cluster, _ingress_class(plain))
        ic = _get(cluster, "ingressclass", name)
        assert ic["spec"]["parameters"] == {"apiGroup": "k8s.example.com", "kind": "Params", "name": "lb",
                                            "scope": "Cluster"}
        assert ic["metadata"]["generation"] == 1
        header, rows = table(cluster.kubectl("get", "ingressclasses", name, plain).stdout)
        assert header == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
        assert [(r["NAME"], r["CONTROLLER"], r["PARAMETERS"]) for r in rows] == [
            (name, "example.com/ingress-controller", "Params.k8s.example.com/lb"),
            (plain, "example.com/ingress-controller", "<none>")]
        cp = cluster.kubectl("patch", "ingressclass", name, "--type=merge", "-p",
                             '{"spec":{"controller":"example.com/other"}}', check=False)
        assert (f'The IngressClass "{name}" is invalid: spec.controller: Invalid value: "example.com/other": '
                "field is immutable") in cp.stderr
        cluster.kubectl("patch", "ingressclass", name, "--type=merge", "-p",
                        '{"spec":{"parameters":{"name":"lb2"}}}')
        assert _get(cluster, "ingressclass", name)["metadata"]["generation"] == 2
    finally:
        cluster.kubectl("delete", "ingressclass", name, plain, "--ignore-not-found")


def test_ingressclass_validation(cluster: KubelingCluster) -> None:
    bad = _ingress_class("bad-ic", params={"kind": "", "name": "a/b", "scope": "Namespace"})
    bad["spec"]["controller"] = "nope"
    cp = _create(cluster, bad, check=False)
    for e in ['spec.controller: Invalid value: "nope": must be a domain-prefixed path (such as "acme.io/foo")',
              "spec.parameters.kind: Required value",
              "spec.parameters.name: Invalid value: \"a/b\": may not contain '/'",
              "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]:
        assert e in cp.stderr, e
    bad = _ingress_class("bad-ic2", params={"kind": "K", "name": "n", "scope": "Cluster", "namespace": "x"})
    bad["spec"]["controller"] = "Example.com/a b"
    cp = _create(cluster, bad, check=False)
    assert 'spec.controller: Invalid value: "Example.com": a lowercase RFC 1123 subdomain' in cp.stderr
    assert "spec.controller: Invalid value: \"a b\": Invalid path (regex used for validation is " in cp.stderr
    assert "spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'" in cp.stderr


def test_default_ingress_class_admission(cluster: KubelingCluster, ns: str) -> None:
    first, second = "dflt-a-" + uuid.uuid4().hex[:6], "dflt-b-" + uuid.uuid4().hex[:6]
    try:
        _create(cluster, _ingress_class(first, default=True))
        _create(cluster, _ingress("i1", {"rules": [_rule("a.com")]}), ns)
        assert _get(cluster, "ingress", "i1", ns)["spec"]["ingressClassName"] == first
        # an explicit class (even "") and the legacy annotation are left alone
        explicit = _ingress("i2", {"rules": [_rule("a.com")], "ingressClassName": "mine"})
        _create(cluster, explicit, ns)
        assert _get(cluster, "ingress", "i2", ns)["spec"]["ingressClassName"] == "mine"
        _create(cluster, _ingress("i3", {"rules": [_rule("a.com")]}, {"kubernetes.io/ingress.class": "x"}), ns)
        assert "ingressClassName" not in _get(cluster, "ingress", "i3", ns)["spec"]
        # defaulting happens on create only
        cluster.kubectl("patch", "ingress", "i3", "-n", ns, "--type=json",
                        "-p", '[{"op":"remove","path":"/metadata/annotations"}]')
        assert "ingressClassName" not in _get(cluster, "ingress", "i3", ns)["spec"]
        # two defaults: since v1.26 the newest wins instead of failing
        _create(cluster, _ingress_class(second, default=True))
        _create(cluster, _ingress("i4", {"rules": [_rule("a.com")]}), ns)
        assert _get(cluster, "ingress", "i4", ns)["spec"]["ingressClassName"] in (first, second)
    finally:
        cluster.kubectl("delete", "ingressclass", first, second, "--ignore-not-found")
    _create(cluster, _ingress("i5", {"rules": [_rule("a.com")]}), ns)
    assert "ingressClassName" not in _get(cluster, "ingress", "i5", ns)["spec"]


# ---- NetworkPolicy ------------------------------------------------------------------------------------

def _netpol(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
            "spec": spec}


def test_networkpolicy_defaults_printer_describe(cluster: KubelingCluster, ns: str) -> None:
    _create(cluster, _netpol("deny-all", {"podSelector": {}}), ns)
    _create(cluster, _netpol("db", {
        "podSelector": {"matchLabels": {"role": "db"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                              {"namespaceSelector": {"matchLabels": {"project": "p"}}}],
                     "ports": [{"port": 6379}, {"protocol": "UDP", "port": 53, "endPort": 60}]}],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"port": "dns"}]}]}), ns)
    _create(cluster, _netpol("egress-empty", {"podSelector": {}, "egress": []}), ns)
    deny = _get(cluster, "netpol", "deny-all", ns)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert deny["metadata"]["generation"] == 1
    db = _get(cluster, "networkpolicy", "db", ns)
    assert db["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert db["spec"]["ingress"][0]["ports"] == [{"port": 6379, "protocol": "TCP"},
                                                 {"port": 53, "endPort": 60, "protocol": "UDP"}]
    assert db["spec"]["egress"][0]["ports"] == [{"port": "dns", "protocol": "TCP"}]
    assert _get(cluster, "netpol", "egress-empty", ns)["spec"]["policyTypes"] == ["Ingress"]
    header, rows = table(cluster.kubectl("get", "netpol", "-n", ns).stdout)
    assert header == ["NAME", "POD-SELECTOR", "AGE"]
    assert {r["NAME"]: r["POD-SELECTOR"] for r in rows} == {"db": "role=db", "deny-all": "<none>",
                                                            "egress-empty": "<none>"}
    out = cluster.kubectl("describe", "netpol", "db", "-n", ns).stdout
    assert "PodSelector:     role=db" in out
    assert "CIDR: 172.17.0.0/16" in out and "Except: 172.17.1.0/24" in out
    assert "Policy Types: Ingress, Egress" in out
    cluster.kubectl("patch", "netpol", "db", "-n", ns, "--type=merge", "-p",
                    '{"metadata":{"labels":{"a":"b"}}}')
    assert _get(cluster, "netpol", "db", ns)["metadata"]["generation"] == 1
    cluster.kubectl("patch", "netpol", "db", "-n", ns, "--type=merge", "-p",
                    '{"spec":{"podSelector":{"matchLabels":{"role":"cache"}}}}')
    assert _get(cluster, "netpol", "db", ns)["metadata"]["generation"] == 2


def test_networkpolicy_validation(cluster: KubelingCluster, ns: str) -> None:
    spec = {"podSelector": {"matchLabels": {"a": "b c"}}, "policyTypes": ["Ingress", "Egress", "Foo"],
            "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/24"]},
                                       "podSelector": {}},
                                  {"ipBlock": {"cidr": "10.0.0.0/33"}}],
                         "ports": [{"protocol": "ICMP", "port": "http", "endPort": 30},
                                   {"port": 70000}, {"port": 80, "endPort": 70}, {"endPort": 9}]}]}
    cp = _create(cluster, _netpol("bad", spec), ns, check=False)
    for e in ['spec.podSelector.matchLabels: Invalid value: "b c"',
              'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
              "spec.ingress[0].ports[0].endPort: Invalid value: 30: may not be specified when `port` is non-numeric",
              "spec.ingress[0].ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
              "spec.ingress[0].ports[2].endPort: Invalid value: 70: must be greater than or equal to `port`",
              "spec.ingress[0].ports[3].endPort: Invalid value: 9: may not be specified when `port` is not specified",
              "spec.ingress[0].from[0]: Required value: must specify a peer",
              'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "11.0.0.0/24": must be a strict subset '
              "of `cidr`",
              "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
              'spec.ingress[0].from[2].ipBlock.cidr: Invalid value: "10.0.0.0/33": not a valid CIDR',
              'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Foo"}: may not '
              "specify more than two policyTypes"]:
        assert e in cp.stderr, e
    cp = _create(cluster, _netpol("bad2", {"podSelector": {}, "policyTypes": ["Foo"]}), ns, check=False)
    assert ('spec.policyTypes[0]: Unsupported value: "Foo": supported values: "Ingress", "Egress"'
            in cp.stderr)


def test_explain_and_all_category(cluster: KubelingCluster, ns: str) -> None:
    out = cluster.kubectl("explain", "ingress.spec.rules.http.paths").stdout
    assert out.splitlines()[:3] == ["GROUP:      networking.k8s.io", "KIND:       Ingress", "VERSION:    v1"]
    assert "pathType\t<string> -required-" in out
    out = cluster.kubectl("explain", "networkpolicy.spec").stdout
    assert "podSelector\t<LabelSelector>" in out
    out = cluster.kubectl("explain", "ingressclass").stdout
    assert "KIND:       IngressClass" in out
    _create(cluster, _ingress("not-in-all", {"rules": [_rule("a.com")]}), ns)
    _create(cluster, _netpol("not-in-all", {"podSelector": {}}), ns)
    out = cluster.kubectl("get", "all", "-n", ns).stdout + cluster.kubectl("get", "all", "-n", ns).stderr
    assert "not-in-all" not in out

"""Issue 11: identity and access — ServiceAccounts, tokens, RBAC and the hardened front door.

Driven by the real /usr/bin/kubectl and the official `kubernetes` client against a real kubeling process.
Expected texts are upstream v1.32's.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
import time
import uuid
import warnings
from typing import Any

import pytest
from conftest import KubelingCluster, table, wait_for

from kubeling.apiserver import tokens

ISSUER = "https://kubernetes.default.svc.cluster.local"



def can_i_rows(out: str) -> dict[str, str]:
    """`kubectl auth can-i --list`: resource (or non-resource URL list) -> verbs."""
    _, rows = table(out)
    return {(r["Resources"] or r["Non-Resource URLs"]): r["Verbs"] for r in rows}


def status(body: bytes) -> dict[str, Any]:
    st = json.loads(body)
    assert st["kind"] == "Status" and st["status"] == "Failure", st
    return st


def new_ns(cluster: KubelingCluster) -> str:
    name = "rbac-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "ns", name)
    return name


def sa_token(cluster: KubelingCluster, ns: str, sa: str = "default", *args: str) -> str:
    tok = cluster.kubectl("create", "token", sa, "-n", ns, *args).stdout.strip()
    assert tok.count(".") == 2, tok
    return tok


def jwt_claims(token: str) -> dict[str, Any]:
    import base64

    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


# ---- Must show 1: default ServiceAccount at once; pods need an existing ServiceAccount ----------------------


def test_default_serviceaccount_exists_at_once(cluster: KubelingCluster) -> None:
    ns = "team-" + uuid.uuid4().hex[:6]
    cluster.kubectl("create", "ns", ns)
    out = cluster.kubectl("-n", ns, "get", "sa", "default").stdout  # no retry: it is there already
    header, rows = table(out)
    assert header == ["NAME", "SECRETS", "AGE"]
    assert rows[0]["NAME"] == "default" and rows[0]["SECRETS"] == "0"
    # Deleted, it comes back (the controller is level-triggered).
    cluster.kubectl("-n", ns, "delete", "sa", "default")
    wait_for(lambda: cluster.kubectl("-n", ns, "get", "sa", "default", check=False).returncode == 0, 10,
             what="default ServiceAccount recreated")


def test_pod_with_missing_serviceaccount_is_rejected(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    cp = cluster.kubectl("-n", ns, "run", "p1", "--image=nginx",
                         '--overrides={"spec":{"serviceAccountName":"missing"}}', check=False)
    assert cp.returncode == 1
    assert cp.stderr.strip() == (f'Error from server (Forbidden): pods "p1" is forbidden: error looking up service '
                                 f'account {ns}/missing: serviceaccount "missing" not found')
    code, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2"},
        "spec": {"serviceAccountName": "nope", "containers": [{"name": "c", "image": "nginx"}]}}).encode(),
        headers={"Content-Type": "application/json"})
    st = status(body)
    assert code == 403 and st["reason"] == "Forbidden"
    assert st["details"] == {"name": "p2", "kind": "pods"}
    assert cluster.kubectl("-n", ns, "get", "pods", "-o", "name").stdout == ""


def test_pod_gets_default_serviceaccount_and_token_volume(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    cluster.kubectl("-n", ns, "run", "web", "--image=nginx")
    pod = json.loads(cluster.kubectl("-n", ns, "get", "pod", "web", "-o", "json").stdout)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    (vol,) = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol["name"])
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mounts = spec["containers"][0]["volumeMounts"]
    assert {"name": vol["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"} \
        in mounts
    # Opting out (pod field) mounts nothing.
    cluster.kubectl("-n", ns, "run", "quiet", "--image=nginx",
                    '--overrides={"spec":{"automountServiceAccountToken":false}}')
    quiet = json.loads(cluster.kubectl("-n", ns, "get", "pod", "quiet", "-o", "json").stdout)
    assert "volumes" not in quiet["spec"] and "volumeMounts" not in quiet["spec"]["containers"][0]


# ---- Must show 2: a token, 403 until a RoleBinding grants view, can-i --list --------------------------------


def test_token_is_forbidden_until_view_is_bound(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    token = sa_token(cluster, ns)
    c = jwt_claims(token)
    sa = json.loads(cluster.kubectl("-n", ns, "get", "sa", "default", "-o", "json").stdout)
    assert c["aud"] == [ISSUER] and c["iss"] == ISSUER and c["sub"] == f"system:serviceaccount:{ns}:default"
    assert c["kubernetes.io"] == {"namespace": ns, "serviceaccount": {"name": "default",
                                                                      "uid": sa["metadata"]["uid"]}}
    assert c["exp"] - c["iat"] == 3600 and c["nbf"] == c["iat"] and uuid.UUID(c["jti"])

    cp = cluster.kubectl("--token", token, "get", "pods", "-n", ns, check=False)
    assert cp.returncode == 1
    assert cp.stderr.strip() == (f'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:{ns}:'
                                 f'default" cannot list resource "pods" in API group "" in the namespace "{ns}"')
    before = can_i_rows(cluster.kubectl("auth", "can-i", "--list", "--token", token, "-n", ns).stdout)
    assert "pods" not in before
    assert before["selfsubjectaccessreviews.authorization.k8s.io"] == "[create]"
    assert cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, "--token", token,
                           check=False).stdout.strip() == "no"

    out = cluster.kubectl("create", "rolebinding", "team-view", "-n", ns, "--clusterrole=view",
                          f"--serviceaccount={ns}:default").stdout
    assert out == "rolebinding.rbac.authorization.k8s.io/team-view created\n"
    cp = cluster.kubectl("--token", token, "get", "pods", "-n", ns, check=False)
    assert cp.returncode == 0 and cp.stderr.strip() == f"No resources found in {ns} namespace."
    after = can_i_rows(cluster.kubectl("auth", "can-i", "--list", "--token", token, "-n", ns).stdout)
    for res in ("pods", "configmaps", "services", "deployments.apps", "statefulsets.apps", "namespaces"):
        assert after[res] == "[get list watch]", (res, after)
    assert "secrets" not in after
    assert cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, "--token", token).stdout.strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "delete", "pods", "-n", ns, "--token", token,
                           check=False).stdout.strip() == "no"
    # Still nothing elsewhere: the binding is namespaced.
    cp = cluster.kubectl("--token", token, "get", "pods", "-n", "default", check=False)
    assert "cannot list resource \"pods\" in API group \"\" in the namespace \"default\"" in cp.stderr
    cp = cluster.kubectl("--token", token, "get", "nodes", check=False)
    assert cp.stderr.strip() == (f'Error from server (Forbidden): nodes is forbidden: User "system:serviceaccount:{ns}:'
                                 'default" cannot list resource "nodes" in API group "" at the cluster scope')
    # Removing the binding takes the permission away again.
    cluster.kubectl("delete", "rolebinding", "team-view", "-n", ns)
    assert cluster.kubectl("--token", token, "get", "pods", "-n", ns, check=False).returncode == 1


def test_whoami_and_reviews_with_python_client(cluster: KubelingCluster) -> None:
    from kubernetes import client

    ns = new_ns(cluster)
    api = cluster.api_client()
    v1 = client.CoreV1Api(api)
    tr = v1.create_namespaced_service_account_token(
        "default", ns, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
            audiences=[], expiration_seconds=1200)))
    assert tr.spec.audiences == [ISSUER] and tr.spec.expiration_seconds == 1200
    assert tr.metadata.name == "default" and tr.metadata.namespace == ns
    assert abs(tr.status.expiration_timestamp.timestamp() - (time.time() + 1200)) < 30
    rev = client.AuthenticationV1Api(api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=tr.status.token)))
    assert rev.status.authenticated and rev.status.audiences == [ISSUER]
    assert rev.status.user.username == f"system:serviceaccount:{ns}:default"
    assert rev.status.user.groups == ["system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                      "system:authenticated"]
    bad = client.AuthenticationV1Api(api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=tr.status.token, audiences=["other"])))
    assert not bad.status.authenticated and "invalid for the target audiences" in bad.status.error

    authz = client.AuthorizationV1Api(api)
    sar = authz.create_subject_access_review(client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=f"system:serviceaccount:{ns}:default", groups=["system:serviceaccounts"],
        resource_attributes=client.V1ResourceAttributes(verb="get", resource="pods", namespace=ns))))
    assert sar.status.allowed is False and sar.status.reason is None
    cluster.kubectl("create", "rolebinding", "v", "-n", ns, "--clusterrole=view", f"--serviceaccount={ns}:default")
    sar = authz.create_subject_access_review(client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=f"system:serviceaccount:{ns}:default",
        resource_attributes=client.V1ResourceAttributes(verb="get", resource="pods", namespace=ns))))
    assert sar.status.allowed is True
    assert sar.status.reason == (f'RBAC: allowed by RoleBinding "v/{ns}" of ClusterRole "view" to ServiceAccount '
                                 f'"default/{ns}"')
    with pytest.raises(client.ApiException) as e:
        authz.create_subject_access_review(client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
            user="bob")))
    assert e.value.status == 422 and "exactly one of nonResourceAttributes or resourceAttributes" in e.value.body
    ssrr = authz.create_self_subject_rules_review(client.V1SelfSubjectRulesReview(
        spec=client.V1SelfSubjectRulesReviewSpec(namespace=ns)))
    assert {"verbs": ["*"], "api_groups": ["*"], "resources": ["*"]} in [
        {k: v for k, v in r.to_dict().items() if v} for r in ssrr.status.resource_rules]
    # whoami as the ServiceAccount (SelfSubjectReview, allowed to everyone authenticated)
    out = cluster.kubectl("auth", "whoami", "--token", tr.status.token).stdout
    assert f"system:serviceaccount:{ns}:default" in out and "authentication.kubernetes.io/credential-id" in out


def test_bound_token_dies_with_its_pod(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    cluster.kubectl("-n", ns, "run", "holder", "--image=nginx")
    cluster.kubectl("create", "rolebinding", "v", "-n", ns, "--clusterrole=view", f"--serviceaccount={ns}:default")
    token = sa_token(cluster, ns, "default", "--bound-object-kind=Pod", "--bound-object-name=holder")
    pod = json.loads(cluster.kubectl("-n", ns, "get", "pod", "holder", "-o", "json").stdout)
    assert jwt_claims(token)["kubernetes.io"]["pod"] == {"name": "holder", "uid": pod["metadata"]["uid"]}
    assert cluster.kubectl("--token", token, "get", "pods", "-n", ns).returncode == 0
    cluster.kubectl("-n", ns, "delete", "pod", "holder", "--grace-period=0", "--force")
    wait_for(lambda: cluster.request("GET", f"/api/v1/namespaces/{ns}/pods", token=token)[0] == 401, 15,
             what="bound token rejected after its pod is gone")
    cp = cluster.kubectl("create", "token", "default", "-n", ns, "--duration=1m", check=False)
    assert "may not specify a duration less than 10 minutes" in cp.stderr


# ---- Must show 3: 401 without valid credentials; 429 for a flooding client ----------------------------------


def test_no_credentials_expired_or_forged_token_is_401(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    cluster.kubectl("create", "rolebinding", "v", "-n", ns, "--clusterrole=view", f"--serviceaccount={ns}:default")
    good = sa_token(cluster, ns)
    path = f"/api/v1/namespaces/{ns}/pods"
    assert cluster.request("GET", path, token=good)[0] == 200

    signer = tokens.Signer(os.path.join(cluster.data_dir, "pki", "sa.key"))
    sa = json.loads(cluster.kubectl("-n", ns, "get", "sa", "default", "-o", "json").stdout)
    expired = signer.sign(tokens.claims(sa, [ISSUER], 600, int(time.time()) - 7200))
    header, payload, sig = good.split(".")
    forged_claims = dict(jwt_claims(good), sub="system:serviceaccount:kube-system:default")
    import base64

    forged = ".".join((header, base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode(),
                       sig))
    other_key = tokens.Signer(tokens.ensure_signing_key(os.path.join(str(cluster.base_dir), "otherpki")))
    foreign = other_key.sign(tokens.claims(sa, [ISSUER], 3600, int(time.time())))
    unauthorized = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    for tok in (None, expired, forged, foreign, "not-a-token", good + "x"):
        code, _, body = cluster.request("GET", path, token=tok)
        assert code == 401, (tok, body)
        assert json.loads(body) == unauthorized
    assert cluster.request("GET", path, token=None, headers={"Authorization": "Bearer "})[0] == 401
    cp = cluster.kubectl("--token", expired, "get", "pods", "-n", ns, check=False)
    assert cp.returncode == 1 and "Unauthorized" in cp.stderr
    # Health and version stay open to anonymous clients (system:public-info-viewer).
    for p in ("/readyz", "/livez", "/healthz", "/version"):
        assert cluster.request("GET", p, token=None)[0] == 200, p
    # A deleted ServiceAccount's tokens stop working at once.
    cluster.kubectl("-n", ns, "delete", "sa", "default")
    assert cluster.request("GET", path, token=good)[0] == 401


async def _flood(url: str, ca: str, flood_token: str, other_token: str, ns: str) -> tuple[dict, list, int]:
    import aiohttp

    ctx = ssl.create_default_context(cafile=ca)
    codes: dict[int, int] = {}
    rejected: list[tuple[str | None, dict]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=0)) as s:
        async def one(i: int) -> None:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"f-{i}"},
                    "data": {"x": "y" * 2000}}
            async with s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json=body,
                              headers={"Authorization": f"Bearer {flood_token}"}) as r:
                raw = await r.read()
                codes[r.status] = codes.get(r.status, 0) + 1
                if r.status == 429 and len(rejected) < 3:
                    rejected.append((r.headers.get("Retry-After"), json.loads(raw)))

        async def other() -> int:
            ok = 0
            for _ in range(10):
                async with s.get(f"{url}/api/v1/namespaces/{ns}/configmaps?limit=1",
                                 headers={"Authorization": f"Bearer {other_token}"}) as r:
                    await r.read()
                    ok += r.status == 200
            return ok

        *_, ok = await asyncio.gather(*(one(i) for i in range(300)), other())
    return codes, rejected, ok


def test_flooding_client_gets_429_while_others_are_served(make_cluster: Any) -> None:
    c = make_cluster("--max-inflight-per-client", "4", "--admin-auth", "client-cert", "--nodes", ",")
    ns = new_ns(c)
    for sa in ("flood", "calm"):
        c.kubectl("create", "sa", sa, "-n", ns)
        c.kubectl("create", "rolebinding", sa, "-n", ns, "--clusterrole=edit", f"--serviceaccount={ns}:{sa}")
    flood, calm = sa_token(c, ns, "flood"), sa_token(c, ns, "calm")
    codes, rejected, ok = asyncio.run(_flood(c.url, os.path.join(c.data_dir, "pki", "ca.crt"), flood, calm, ns))
    assert codes.get(429, 0) > 0, codes
    assert codes.get(201, 0) > 0 and set(codes) <= {201, 429}, codes
    assert ok == 10  # the other client was served throughout
    retry_after, st = rejected[0]
    assert retry_after == "1"
    assert st == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                  "details": {"retryAfterSeconds": 1}, "code": 429}
    # Nothing half-done: exactly the accepted creates exist.
    names = c.kubectl("-n", ns, "get", "cm", "-o", "name").stdout.split()
    assert len([n for n in names if n.startswith("configmap/f-")]) == codes[201]
    # The admin kubeconfig of --admin-auth client-cert authenticates by certificate (system:masters).
    with open(c.kubeconfig) as f:
        kc = f.read()
    assert "client-certificate-data" in kc and "token:" not in kc
    out = c.kubectl("auth", "whoami").stdout
    assert "kubernetes-admin" in out and "system:masters" in out
    from kubernetes import client

    assert "kube-system" in [n.metadata.name for n in client.CoreV1Api(c.api_client()).list_namespace().items]


# ---- RBAC objects, printers, aggregation, escalation prevention ----------------------------------------------


def test_rbac_objects_with_kubectl(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    assert cluster.kubectl("create", "role", "pod-reader", "-n", ns, "--verb=get,list",
                           "--resource=pods").stdout == "role.rbac.authorization.k8s.io/pod-reader created\n"
    cluster.kubectl("create", "rolebinding", "rb", "-n", ns, "--role=pod-reader", "--user=alice", "--group=devs",
                    f"--serviceaccount={ns}:default")
    header, rows = table(cluster.kubectl("get", "rolebindings", "-n", ns, "-o", "wide").stdout)
    assert header == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert rows[0]["NAME"] == "rb" and rows[0]["ROLE"] == "Role/pod-reader" and rows[0]["USERS"] == "alice"
    assert rows[0]["GROUPS"] == "devs" and rows[0]["SERVICEACCOUNTS"] == f"{ns}/default"
    header, rows = table(cluster.kubectl("get", "roles", "-n", ns).stdout)
    assert header == ["NAME", "CREATED AT"] and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[0]["CREATED AT"])
    role = json.loads(cluster.kubectl("get", "role", "pod-reader", "-n", ns, "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    rb = json.loads(cluster.kubectl("get", "rolebinding", "rb", "-n", ns, "-o", "json").stdout)
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}
    assert {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"} in rb["subjects"]
    assert cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, "--as", "alice").stdout.strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, "--as", "bob", "--as-group", "devs"
                           ).stdout.strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "delete", "pods", "-n", ns, "--as", "alice",
                           check=False).stdout.strip() == "no"
    # Validation as upstream.
    bad = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "bad"},
           "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    cp = cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(bad), check=False)
    assert cp.stderr.strip() == ('The Role "bad" is invalid: rules[0].verbs: Required value: verbs must contain at '
                                 "least one value")
    cp = cluster.kubectl("patch", "rolebinding", "rb", "-n", ns, "--type=merge",
                         "-p", '{"roleRef":{"name":"other"}}', check=False)
    assert "cannot change roleRef" in cp.stderr
    # The default roles exist, bootstrapped as upstream.
    out = cluster.kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for r in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
              "system:public-info-viewer", "system:node", "system:kube-scheduler", "system:kube-controller-manager",
              "system:controller:service-account-controller"):
        assert f"clusterrole.rbac.authorization.k8s.io/{r}" in out


def test_clusterrole_aggregation(cluster: KubelingCluster) -> None:
    name = "agg-" + uuid.uuid4().hex[:6]
    extra = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": name, "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
             "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]}
    cluster.kubectl("create", "-f", "-", input=json.dumps(extra))
    want = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}

    def rules(role: str) -> list[dict[str, Any]]:
        return json.loads(cluster.kubectl("get", "clusterrole", role, "-o", "json").stdout).get("rules") or []

    # view aggregates it; edit aggregates view and admin aggregates edit.
    for role in ("view", "edit", "admin"):
        wait_for(lambda r=role: want in rules(r), 10, what=f"{role} aggregates the new rule")
    cluster.kubectl("delete", "clusterrole", name)
    wait_for(lambda: want not in rules("view") and want not in rules("admin"), 10, what="rule removed again")


def test_escalation_is_prevented(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    cluster.kubectl("create", "sa", "adm", "-n", ns)
    cluster.kubectl("create", "rolebinding", "adm", "-n", ns, "--clusterrole=admin", f"--serviceaccount={ns}:adm")
    tok = sa_token(cluster, ns, "adm")
    groups = f'["system:serviceaccounts" "system:serviceaccounts:{ns}" "system:authenticated"]'
    cp = cluster.kubectl("--token", tok, "create", "rolebinding", "esc", "-n", ns, "--clusterrole=cluster-admin",
                         f"--serviceaccount={ns}:adm", check=False)
    assert cp.returncode == 1
    assert cp.stderr.strip() == (
        f'error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io "esc" is forbidden: user '
        f'"system:serviceaccount:{ns}:adm" (groups={groups}) is attempting to grant RBAC permissions not currently '
        'held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}')
    cp = cluster.kubectl("--token", tok, "create", "role", "r", "-n", ns, "--verb=get", "--resource=nodes",
                         check=False)
    assert 'is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], ' \
           'Verbs:["get"]}' in cp.stderr
    # What the admin holds may be granted (view is within admin).
    cluster.kubectl("--token", tok, "create", "rolebinding", "ok", "-n", ns, "--clusterrole=view",
                    f"--serviceaccount={ns}:default")
    cluster.kubectl("--token", tok, "create", "role", "r2", "-n", ns, "--verb=get", "--resource=pods")
    # A binding to a role that does not exist is 404 for a non-admin, as upstream.
    cp = cluster.kubectl("--token", tok, "create", "rolebinding", "x", "-n", ns, "--clusterrole=nope",
                         "--user=u", check=False)
    assert 'clusterrole.rbac.authorization.k8s.io "nope" not found' in cp.stderr


def test_audit_log_records_mutating_requests(cluster: KubelingCluster) -> None:
    ns = new_ns(cluster)
    cluster.kubectl("create", "configmap", "audited", "-n", ns, "--from-literal=a=b")
    path = os.path.join(cluster.data_dir, "audit.log")

    def find() -> dict[str, Any] | None:
        with open(path) as f:
            for line in f:
                ev = json.loads(line)
                ref = ev.get("objectRef") or {}
                if ref.get("resource") == "configmaps" and ref.get("namespace") == ns and ev["verb"] == "create":
                    return ev
        return None

    ev = wait_for(find, 10, what="audit event")
    assert ev["kind"] == "Event" and ev["apiVersion"] == "audit.k8s.io/v1" and ev["level"] == "Metadata"
    assert ev["stage"] == "ResponseComplete" and ev["responseStatus"] == {"metadata": {}, "code": 201}
    assert ev["user"] == {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
    assert ev["requestURI"].startswith(f"/api/v1/namespaces/{ns}/configmaps")
    assert ev["sourceIPs"] == ["127.0.0.1"] and ev["userAgent"].startswith("kubectl/")
    assert ev["objectRef"]["apiVersion"] == "v1"
    assert ev["annotations"]["authorization.k8s.io/decision"] == "allow"
    uuid.UUID(ev["auditID"])
    with open(path) as f:  # reads are not audited
        assert not any(json.loads(ln)["verb"] in ("get", "list", "watch") for ln in f)


def test_tls_1_2_minimum_and_client_certs_optional(cluster: KubelingCluster) -> None:
    ca = os.path.join(cluster.data_dir, "pki", "ca.crt")
    old = ssl.create_default_context(cafile=ca)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, OSError)):
            with old.wrap_socket(sock, server_hostname="127.0.0.1"):
                pass
    ok = ssl.create_default_context(cafile=ca)
    ok.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=5) as sock:
        with ok.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"


def test_rbac_and_tokens_survive_restart(make_cluster: Any) -> None:
    c = make_cluster("--nodes", ",")
    ns = new_ns(c)
    c.kubectl("create", "rolebinding", "v", "-n", ns, "--clusterrole=view", f"--serviceaccount={ns}:default")
    tok = sa_token(c, ns)
    # An administrator trims a default role; the next start puts the missing rule back (autoupdate).
    c.kubectl("patch", "clusterrole", "system:basic-user", "--type=json", "-p",
              '[{"op":"replace","path":"/rules","value":[]}]')
    c.stop()
    c.start()
    assert c.kubectl("--token", tok, "get", "pods", "-n", ns).returncode == 0
    rules = json.loads(c.kubectl("get", "clusterrole", "system:basic-user", "-o", "json").stdout)["rules"]
    assert {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews",
                                                                 "selfsubjectrulesreviews"],
            "verbs": ["create"]} in rules
    # Bootstrap objects are not duplicated by restarts.
    names = c.kubectl("get", "clusterrolebindings", "-o", "name").stdout.split()
    assert len(names) == len(set(names))
    assert c.kubectl("-n", ns, "get", "sa", "-o", "name").stdout.split() == ["serviceaccount/default"]


def _cert_request(cluster: KubelingCluster, crt: str, key: str, method: str, path: str,
                  body: Any = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    ctx = ssl.create_default_context(cafile=os.path.join(cluster.data_dir, "pki", "ca.crt"))
    ctx.load_cert_chain(crt, key)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cluster.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_client_certificate_identities(cluster: KubelingCluster, tmp_path: Any) -> None:
    from kubeling.apiserver.auth import issue_client_cert

    pki = os.path.join(cluster.data_dir, "pki")
    crt, key = str(tmp_path / "jane.crt"), str(tmp_path / "jane.key")
    issue_client_cert(os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key"), "jane", ["devs", "qa"], crt, key)
    code, rev = _cert_request(cluster, crt, key, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                              {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert code == 201, rev
    assert rev["status"]["userInfo"] == {"username": "jane", "groups": ["devs", "qa", "system:authenticated"]}
    code, st = _cert_request(cluster, crt, key, "GET", "/api/v1/namespaces/default/secrets")
    assert code == 403 and st["message"] == ('secrets is forbidden: User "jane" cannot list resource "secrets" in API '
                                             'group "" in the namespace "default"')
    # A node identity (system:node:NAME in system:nodes) gets the kubelet's permissions, no more.
    ncrt, nkey = str(tmp_path / "n.crt"), str(tmp_path / "n.key")
    issue_client_cert(os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key"), "system:node:certnode",
                      ["system:nodes"], ncrt, nkey)
    code, node = _cert_request(cluster, ncrt, nkey, "POST", "/api/v1/nodes",
                               {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "certnode"}})
    assert code == 201, node
    code, _ = _cert_request(cluster, ncrt, nkey, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dcertnode")
    assert code == 200
    code, st = _cert_request(cluster, ncrt, nkey, "POST", "/api/v1/namespaces",
                             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert code == 403 and 'User "system:node:certnode" cannot create resource "namespaces"' in st["message"]
    cluster.kubectl("delete", "node", "certnode")
    # A certificate from another CA is refused during the TLS handshake.
    other = tmp_path / "other"
    other.mkdir()
    from kubeling.apiserver.certs import ensure_pki

    opki = ensure_pki(str(other))
    issue_client_cert(opki["ca.crt"], opki["ca.key"], "mallory", ["system:masters"], str(other / "m.crt"),
                      str(other / "m.key"))
    with pytest.raises((ssl.SSLError, OSError)):
        _cert_request(cluster, str(other / "m.crt"), str(other / "m.key"), "GET", "/api/v1/namespaces")


# ---- units: request attributes, rule matching, escalation arithmetic -----------------------------------------


@pytest.mark.parametrize("method,path,query,want", [
    ("GET", "/api/v1/namespaces/team/pods", {}, ("list", True, "", "pods", "", "team", "")),
    ("GET", "/api/v1/namespaces/team/pods", {"watch": "1"}, ("watch", True, "", "pods", "", "team", "")),
    ("GET", "/api/v1/namespaces/team/pods", {"fieldSelector": "metadata.name=web"},
     ("list", True, "", "pods", "", "team", "web")),
    ("GET", "/api/v1/namespaces/team/pods/web/status", {}, ("get", True, "", "pods", "status", "team", "web")),
    ("DELETE", "/apis/apps/v1/namespaces/x/deployments", {}, ("deletecollection", True, "apps", "deployments", "",
                                                               "x", "")),
    ("GET", "/api/v1/namespaces/team", {}, ("get", True, "", "namespaces", "", "team", "team")),
    ("PUT", "/api/v1/namespaces/team/finalize", {}, ("update", True, "", "namespaces", "finalize", "team", "team")),
    ("GET", "/api/v1/namespaces", {}, ("list", True, "", "namespaces", "", "", "")),
    ("POST", "/api/v1/namespaces/team/serviceaccounts/default/token", {},
     ("create", True, "", "serviceaccounts", "token", "team", "default")),
    ("GET", "/api/v1/watch/namespaces/team/pods", {}, ("watch", True, "", "pods", "", "team", "")),
    ("GET", "/apis/apps/v1", {}, ("get", False, "", "", "", "", "")),
    ("GET", "/healthz", {}, ("get", False, "", "", "", "", "")),
])
def test_request_attributes(method: str, path: str, query: dict[str, str], want: tuple) -> None:
    from kubeling.apiserver.auth import request_attributes

    a = request_attributes(method, path, query)
    assert (a.verb, a.resource_request, a.api_group, a.resource, a.subresource, a.namespace, a.name) == want
    assert a.path == path


def test_rule_matching_and_escalation_arithmetic() -> None:
    from kubeling.apiserver.auth import (
        Attributes,
        Rule,
        UserInfo,
        compact_rules,
        compact_string,
        covers,
        forbidden,
    )

    pods = Attributes("get", True, api_group="", resource="pods", namespace="a", name="p")
    assert Rule({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}).allows(pods)
    assert not Rule({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["q"]}).allows(pods)
    assert Rule({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}).allows(pods._replace(subresource="log"))
    assert not Rule({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}).allows(pods._replace(subresource="log"))
    assert Rule({"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]}).allows(pods._replace(subresource="log"))
    assert Rule({"verbs": ["get"], "nonResourceURLs": ["/api/*"]}).allows(Attributes("get", False, "/api/v1"))
    assert not Rule({"verbs": ["get"], "nonResourceURLs": ["/api"]}).allows(Attributes("get", False, "/apis"))
    owner = [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/status"]}]
    assert covers(owner, [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "services/status"]}]) == []
    missing = covers(owner, [{"verbs": ["get", "delete"], "apiGroups": [""], "resources": ["pods", "secrets"]}])
    assert sorted(compact_string(r) for r in compact_rules(missing)) == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}']
    u = UserInfo("bob", ("g",))
    assert forbidden(u, pods).message == ('pods "p" is forbidden: User "bob" cannot get resource "pods" in API group '
                                          '"" in the namespace "a"')
    assert forbidden(u, Attributes("get", False, "/metrics")).status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'forbidden: User "bob" cannot get path "/metrics"', "reason": "Forbidden", "details": {},
        "code": 403}
    crb = Attributes("list", True, api_group="rbac.authorization.k8s.io", resource="clusterroles")
    assert forbidden(u, crb, "RBAC: x").message == (
        'clusterroles.rbac.authorization.k8s.io is forbidden: User "bob" cannot list resource "clusterroles" in API '
        'group "rbac.authorization.k8s.io" at the cluster scope: RBAC: x')


def test_standalone_node_agent_runs_as_its_node(cluster: KubelingCluster) -> None:
    import signal
    import subprocess
    import sys

    from conftest import REPO

    name = "agent-" + uuid.uuid4().hex[:5]
    log = open(os.path.join(cluster.base_dir, f"{name}.log"), "wb")
    agent = subprocess.Popen([sys.executable, "-m", "kubeling", "node", "--name", name, "--data-dir", cluster.data_dir,
                              "--pod-start-delay", "0.1"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                             start_new_session=True)
    try:
        def ready() -> bool:
            cp = cluster.kubectl("get", "node", name, "-o", "json", check=False)
            return cp.returncode == 0 and any(c["type"] == "Ready" and c["status"] == "True"
                                              for c in json.loads(cp.stdout)["status"].get("conditions") or ())
        wait_for(ready, 20, what="the agent's node Ready")
        ns = new_ns(cluster)
        cluster.kubectl("-n", ns, "run", "remote", "--image=nginx", f'--overrides={{"spec":{{"nodeName":"{name}"}}}}')
        wait_for(lambda: cluster.kubectl("-n", ns, "get", "pod", "remote", "-o", "jsonpath={.status.phase}"
                                         ).stdout == "Running", 20, what="pod Running on the agent's node")
        with open(os.path.join(cluster.data_dir, "audit.log")) as f:
            users = {json.loads(ln)["user"].get("username") for ln in f if name in ln}
        assert f"system:node:{name}" in users
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
        log.close()
        cluster.kubectl("delete", "node", name, check=False)

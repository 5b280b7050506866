"""kubectl's typed clients send Kubernetes protobuf bodies; kubeling decodes them like their JSON form.

`kubectl create namespace|configmap|secret|deployment|service|serviceaccount` POST
`application/vnd.kubernetes.protobuf`; `kubectl run` and `expose` send JSON but belong to the same user
flow. Each command is followed by `kubectl get -o json` (or the `kubernetes` client) on what was stored.
Raw requests cover what kubectl does not send: protobuf DeleteOptions, a protobuf Scale update, bad bodies.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from typing import Any

from conftest import KubelingCluster, wait_for

PB = "application/vnd.kubernetes.protobuf"
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "protobuf")


def get_json(cluster: KubelingCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", "-o", "json", *args).stdout)


# ---- a tiny protobuf encoder for the raw-request tests --------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _int(num: int, n: int) -> bytes:
    return _varint(num << 3) + _varint(n)


def _bytes(num: int, *parts: bytes) -> bytes:
    data = b"".join(parts)
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _str(num: int, s: str) -> bytes:
    return _bytes(num, s.encode())


def _envelope(api_version: str, kind: str, *payload: bytes) -> bytes:
    return b"k8s\x00" + _bytes(1, _str(1, api_version), _str(2, kind)) + _bytes(2, *payload) \
        + _str(3, "") + _str(4, "")


def _meta(name: str, namespace: str) -> bytes:
    return _bytes(1, _str(1, name), _str(2, ""), _str(3, namespace), _bytes(8))


# ---- kubectl ------------------------------------------------------------------------------------------

def test_create_namespace(cluster: KubelingCluster) -> None:
    name = "t-pb-" + uuid.uuid4().hex[:8]
    try:
        assert cluster.kubectl("create", "namespace", name).stdout == f"namespace/{name} created\n"
        obj = get_json(cluster, "namespace", name)
        assert obj["metadata"]["name"] == name
        assert obj["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
        assert obj["metadata"]["creationTimestamp"]  # set by the server, not the null kubectl sent
        assert obj["status"]["phase"] == "Active"
        cp = cluster.kubectl("create", "namespace", name, check=False)
        assert cp.returncode == 1
        assert cp.stderr.strip() == f'Error from server (AlreadyExists): namespaces "{name}" already exists'
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_create_configmap_and_secrets(cluster: KubelingCluster, ns: str) -> None:
    k = cluster.kubectl
    assert k("create", "configmap", "x", "--from-literal=a=b", "--from-literal=empty=", "-n", ns).stdout == \
        "configmap/x created\n"
    cm = get_json(cluster, "configmap", "x", "-n", ns)
    assert cm["data"] == {"a": "b", "empty": ""} and "binaryData" not in cm

    assert k("create", "secret", "generic", "s", "--from-literal=p=q", "-n", ns).stdout == "secret/s created\n"
    sec = get_json(cluster, "secret", "s", "-n", ns)
    assert sec["data"] == {"p": base64.b64encode(b"q").decode()} and sec["type"] == "Opaque"

    k("create", "secret", "docker-registry", "reg", "--docker-username=u", "--docker-password=pw",
      "--docker-server=r.example", "-n", ns)
    reg = get_json(cluster, "secret", "reg", "-n", ns)
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))["auths"]
    assert auths["r.example"]["username"] == "u" and auths["r.example"]["password"] == "pw"

    # The official client reads back the same bytes.
    from kubernetes import client

    with cluster.api_client() as api:
        s = client.CoreV1Api(api).read_namespaced_secret("s", ns)
        assert base64.b64decode(s.data["p"]) == b"q"


def test_create_deployment(cluster: KubelingCluster, ns: str) -> None:
    k = cluster.kubectl
    assert k("create", "deployment", "d", "--image=nginx", "--replicas=2", "--port=80", "-n", ns).stdout == \
        "deployment.apps/d created\n"
    d = get_json(cluster, "deployment", "d", "-n", ns)
    assert d["metadata"]["labels"] == {"app": "d"}
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "d"}
    (c,) = d["spec"]["template"]["spec"]["containers"]
    assert c["name"] == "nginx" and c["image"] == "nginx"
    assert c["ports"][0]["containerPort"] == 80 and c["ports"][0].get("protocol", "TCP") == "TCP"
    assert d["metadata"]["generation"] == 1

    # replicas is a pointer: an explicit 0 on the wire must not be defaulted to 1.
    k("create", "deployment", "zero", "--image=nginx", "--replicas=0", "-n", ns)
    assert get_json(cluster, "deployment", "zero", "-n", ns)["spec"]["replicas"] == 0


def test_create_services(cluster: KubelingCluster, ns: str) -> None:
    k = cluster.kubectl
    assert k("create", "service", "clusterip", "s", "--tcp=80:8080", "-n", ns).stdout == "service/s created\n"
    s = get_json(cluster, "service", "s", "-n", ns)
    assert s["spec"]["type"] == "ClusterIP"
    assert s["spec"]["selector"] == {"app": "s"}
    (p,) = s["spec"]["ports"]
    assert (p["name"], p["port"], p["targetPort"], p["protocol"]) == ("80-8080", 80, 8080, "TCP")
    assert s["spec"]["clusterIP"] and s["spec"]["clusterIP"] != "None"

    k("create", "service", "nodeport", "np", "--tcp=81:8081", "-n", ns)
    np_ = get_json(cluster, "service", "np", "-n", ns)
    assert np_["spec"]["type"] == "NodePort" and 30000 <= np_["spec"]["ports"][0]["nodePort"] <= 32767

    k("create", "service", "clusterip", "headless", "--clusterip=None", "-n", ns)
    assert get_json(cluster, "service", "headless", "-n", ns)["spec"]["clusterIP"] == "None"

    k("create", "service", "externalname", "ext", "--external-name=example.com", "-n", ns)
    ext = get_json(cluster, "service", "ext", "-n", ns)
    assert ext["spec"]["type"] == "ExternalName" and ext["spec"]["externalName"] == "example.com"


def test_run_expose_serviceaccount(cluster: KubelingCluster, ns: str) -> None:
    k = cluster.kubectl
    assert k("run", "p", "--image=nginx", "--port=80", "-n", ns).stdout == "pod/p created\n"
    pod = get_json(cluster, "pod", "p", "-n", ns)
    assert pod["metadata"]["labels"] == {"run": "p"}
    assert pod["spec"]["containers"][0]["image"] == "nginx"
    assert pod["spec"]["containers"][0]["ports"][0]["containerPort"] == 80

    assert k("expose", "pod", "p", "--port=8000", "--target-port=80", "--name=psvc", "-n", ns).stdout == \
        "service/psvc exposed\n"
    svc = get_json(cluster, "service", "psvc", "-n", ns)
    assert svc["spec"]["selector"] == {"run": "p"}
    assert (svc["spec"]["ports"][0]["port"], svc["spec"]["ports"][0]["targetPort"]) == (8000, 80)

    k("create", "deployment", "web", "--image=nginx", "-n", ns)
    assert k("expose", "deployment", "web", "--port=80", "-n", ns).stdout == "service/web exposed\n"
    assert get_json(cluster, "service", "web", "-n", ns)["spec"]["selector"] == {"app": "web"}

    assert k("create", "serviceaccount", "robot", "-n", ns).stdout == "serviceaccount/robot created\n"
    sa = get_json(cluster, "serviceaccount", "robot", "-n", ns)
    assert sa["metadata"]["name"] == "robot" and sa["metadata"]["uid"]


# ---- raw protobuf requests ----------------------------------------------------------------------------

def test_bad_protobuf_bodies(cluster: KubelingCluster, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    code, _, body = cluster.request("POST", path, b"k8s\x00\x0a\xff", {"Content-Type": PB})
    st = json.loads(body)
    assert code == 400 and st["kind"] == "Status" and st["reason"] == "BadRequest"

    widget = _envelope("example.com/v1", "Widget", _meta("j1", ns))  # a type no protobuf table knows
    code, _, body = cluster.request("POST", path, widget, {"Content-Type": PB})
    st = json.loads(body)
    assert code == 415 and st["reason"] == "UnsupportedMediaType"
    assert st["message"].startswith("the body of the request was in an unknown format")
    assert all(i["metadata"]["name"] != "j1" for i in get_json(cluster, "configmap", "-n", ns)["items"])


def test_protobuf_create_and_delete_options(cluster: KubelingCluster, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    cm = _envelope("v1", "ConfigMap", _meta("raw", ns), _bytes(2, _str(1, "k"), _str(2, "v")))
    code, _, body = cluster.request("POST", path, cm, {"Content-Type": PB})
    assert code == 201, body
    assert json.loads(body)["data"] == {"k": "v"}

    # DeleteOptions in protobuf: dryRun=All leaves the object in place ...
    dry = _envelope("meta.k8s.io/v1", "DeleteOptions", _str(5, "All"))
    code, _, body = cluster.request("DELETE", f"{path}/raw", dry, {"Content-Type": PB})
    assert code == 200, body
    assert get_json(cluster, "configmap", "raw", "-n", ns)["data"] == {"k": "v"}
    # ... and a precondition on a wrong uid is refused.
    wrong = _envelope("v1", "DeleteOptions", _bytes(2, _str(1, "not-the-uid")))
    code, _, body = cluster.request("DELETE", f"{path}/raw", wrong, {"Content-Type": PB})
    assert code == 409, body
    code, _, body = cluster.request("DELETE", f"{path}/raw", _envelope("v1", "DeleteOptions", _int(1, 0)),
                                    {"Content-Type": PB})
    assert code == 200, body
    assert cluster.kubectl("get", "configmap", "raw", "-n", ns, check=False).returncode == 1


def test_protobuf_scale_update(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "deployment", "sc", "--image=nginx", "--replicas=1", "-n", ns)
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/sc/scale"
    scale = _envelope("autoscaling/v1", "Scale", _meta("sc", ns), _bytes(2, _int(1, 3)))
    code, _, body = cluster.request("PUT", path, scale, {"Content-Type": PB})
    assert code == 200, body
    assert json.loads(body)["spec"]["replicas"] == 3
    wait_for(lambda: get_json(cluster, "deployment", "sc", "-n", ns)["spec"]["replicas"] == 3,
             what="deployment scaled to 3")


def test_patch_bodies_are_never_protobuf(cluster: KubelingCluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "pp", "--from-literal=a=b", "-n", ns)
    code, _, body = cluster.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/pp", b"k8s\x00",
                                    {"Content-Type": PB})
    assert code == 415, body
    assert json.loads(body)["reason"] == "UnsupportedMediaType"

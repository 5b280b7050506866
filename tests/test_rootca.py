"""The root CA publisher: `kube-root-ca.crt` in every namespace, holding the CA the kubeconfig trusts,
recreated when deleted and repaired when changed, as upstream's rootcacertpublisher does."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any

import yaml
from conftest import REPO, KubelingCluster, free_port, table, wait_for

NAME = "kube-root-ca.crt"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def _kubeconfig_ca(c: KubelingCluster) -> str:
    with open(c.kubeconfig) as f:
        doc = yaml.safe_load(f)
    return base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()


def _get(c: KubelingCluster, ns: str) -> dict | None:
    cp = c.kubectl("get", "configmap", NAME, "-n", ns, "-o", "json", check=False)
    return json.loads(cp.stdout) if cp.returncode == 0 else None


def _published(c: KubelingCluster, ns: str) -> dict | None:
    cm = _get(c, ns)
    if cm is None or cm.get("data") != {"ca.crt": _kubeconfig_ca(c)}:
        return None
    if cm["metadata"].get("annotations", {}).get("kubernetes.io/description") != DESCRIPTION:
        return None
    return cm


def test_new_namespace_gets_root_ca(cluster: KubelingCluster, ns: str) -> None:
    cm = wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    assert not cm["metadata"].get("ownerReferences")
    cols, rows = table(cluster.kubectl("get", "cm", "-n", ns).stdout)
    assert cols == ["NAME", "DATA", "AGE"]
    assert [(r["NAME"], r["DATA"]) for r in rows] == [(NAME, "1")]


def test_present_in_system_namespaces(cluster: KubelingCluster) -> None:
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_for(lambda ns=ns: _published(cluster, ns), timeout=20, what=f"kube-root-ca.crt in {ns}")


def test_deleted_configmap_is_recreated(cluster: KubelingCluster, ns: str) -> None:
    old = wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    cluster.kubectl("delete", "configmap", NAME, "-n", ns)
    new = wait_for(lambda: (cm := _published(cluster, ns)) and cm["metadata"]["uid"] != old["metadata"]["uid"]
                   and cm, timeout=20, what="kube-root-ca.crt recreated")
    assert new["data"] == old["data"]


def test_changed_data_is_repaired(cluster: KubelingCluster, ns: str) -> None:
    wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    cluster.kubectl("patch", "configmap", NAME, "-n", ns, "--type", "merge", "-p",
                    json.dumps({"data": {"ca.crt": "tampered", "extra": "x"},
                                "metadata": {"annotations": {"other": "kept"}}}))
    cm = wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt repaired")
    assert cm["metadata"]["annotations"]["other"] == "kept"  # upstream rewrites data and its one annotation only


def test_removed_description_is_restored_but_a_custom_one_is_kept(cluster: KubelingCluster, ns: str) -> None:
    wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    cluster.kubectl("annotate", "configmap", NAME, "-n", ns, "kubernetes.io/description-")
    wait_for(lambda: _published(cluster, ns), timeout=20, what="description annotation restored")
    # upstream only requires the annotation to be non-empty: another text stays
    cluster.kubectl("annotate", "configmap", NAME, "-n", ns, "kubernetes.io/description=mine", "--overwrite")
    cluster.kubectl("patch", "configmap", NAME, "-n", ns, "--type", "merge", "-p", '{"data":{"ca.crt":"x"}}')
    cm = wait_for(lambda: (c := _get(cluster, ns)) and c["data"].get("ca.crt") != "x" and c,
                  timeout=20, what="data repaired")
    assert cm["data"] == {"ca.crt": _kubeconfig_ca(cluster)}
    assert cm["metadata"]["annotations"]["kubernetes.io/description"] == DESCRIPTION  # rewritten with the data


def test_other_configmaps_are_left_alone(cluster: KubelingCluster, ns: str) -> None:
    wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    cluster.kubectl("create", "configmap", "kube-root-ca.crt2", "-n", ns, "--from-literal=ca.crt=mine")
    cluster.kubectl("create", "configmap", "trigger", "-n", ns)  # any write: the publisher must not touch the other
    cm = json.loads(cluster.kubectl("get", "cm", "kube-root-ca.crt2", "-n", ns, "-o", "json").stdout)
    assert cm["data"] == {"ca.crt": "mine"}
    assert "annotations" not in cm["metadata"]


def test_bootstrap_role(cluster: KubelingCluster) -> None:
    role = json.loads(cluster.kubectl("get", "clusterrole", "system:controller:root-ca-cert-publisher",
                                      "-o", "json").stdout)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "update"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    ]
    binding = json.loads(cluster.kubectl("get", "clusterrolebinding", "system:controller:root-ca-cert-publisher",
                                         "-o", "json").stdout)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "root-ca-cert-publisher",
                                    "namespace": "kube-system"}]


def test_pod_can_mount_root_ca(cluster: KubelingCluster, ns: str) -> None:
    """The projected kube-api-access volume names kube-root-ca.crt; the ConfigMap it needs is there."""
    wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    cluster.kubectl("run", "p", "-n", ns, "--image=nginx")
    pod = json.loads(cluster.kubectl("get", "pod", "p", "-n", ns, "-o", "json").stdout)
    sources = [s for v in pod["spec"]["volumes"] if v.get("projected") for s in v["projected"]["sources"]]
    assert {"configMap": {"name": NAME, "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in sources


def test_watch_by_name_across_namespaces_sees_deletions(cluster: KubelingCluster, ns: str) -> None:
    """The publisher's informer lists and watches `metadata.name=kube-root-ca.crt` in all namespaces."""
    from kubernetes import client, watch

    wait_for(lambda: _published(cluster, ns), timeout=20, what="kube-root-ca.crt published")
    v1 = client.CoreV1Api(cluster.api_client())
    cluster.kubectl("create", "configmap", "solo", "-n", ns)
    rv = v1.list_config_map_for_all_namespaces(field_selector="metadata.name=solo").metadata.resource_version
    cluster.kubectl("delete", "configmap", "solo", "-n", ns)
    events = []
    for ev in watch.Watch().stream(v1.list_config_map_for_all_namespaces, field_selector="metadata.name=solo",
                                   resource_version=rv, timeout_seconds=10):
        events.append((ev["type"], ev["object"].metadata.namespace, ev["object"].metadata.name))
        break
    assert events == [("DELETED", ns, "solo")]


# ---- kubeling controller-manager: --root-ca-file, else the kubeconfig's CA ------------------------------------


def _start(args: list[str], log_path: str) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "kubeling", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def test_controller_manager_root_ca_file_and_kubeconfig_default(tmp_path: Any) -> None:
    data, kc = str(tmp_path / "api"), str(tmp_path / "kubeconfig")
    port = free_port()
    procs = [_start(["apiserver", "--storage", "memory", "--data-dir", data, "--port", str(port),
                     "--kubeconfig", kc, "--quiet"], str(tmp_path / "api.log"))]
    c = KubelingCluster(str(tmp_path))  # only for its kubectl/request helpers against that API server
    c.port, c.data_dir, c.kubeconfig = port, data, kc
    try:
        def ready() -> bool:
            try:
                return os.path.exists(kc) and c.request("GET", "/readyz")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout=60, what="apiserver ready")
        cm_args = ["controller-manager", "--kubeconfig", kc, "--leader-elect=false", "--quiet",
                   "--controllers", "root-ca-certificate-publisher-controller"]
        other = os.path.join(data, "pki", "apiserver.crt")  # any valid PEM certificate other than the CA
        with open(other) as f:
            other_pem = f.read()
        procs.append(_start([*cm_args, "--root-ca-file", other], str(tmp_path / "cm1.log")))
        for ns in ("default", "kube-system"):
            wait_for(lambda ns=ns: (cm := _get(c, ns)) and cm["data"] == {"ca.crt": other_pem}, timeout=30,
                     what=f"--root-ca-file published in {ns}")
        _stop(procs.pop())
        # Without the flag the kubeconfig's CA is the root CA: the existing ConfigMaps are repaired to it.
        procs.append(_start(cm_args, str(tmp_path / "cm2.log")))
        for ns in ("default", "kube-system"):
            wait_for(lambda ns=ns: _published(c, ns), timeout=30, what=f"kubeconfig CA published in {ns}")
    finally:
        for p in reversed(procs):
            _stop(p)


def test_controller_manager_rejects_a_bad_root_ca_file(tmp_path: Any) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    kc = tmp_path / "kubeconfig"
    kc.write_text("apiVersion: v1\nkind: Config\n")
    for path, message in ((str(bad), "data does not contain any valid RSA or ECDSA certificates"),
                          (str(tmp_path / "missing.pem"), "no such file or directory")):
        cp = subprocess.run([sys.executable, "-m", "kubeling", "controller-manager", "--kubeconfig", str(kc),
                             "--root-ca-file", path], capture_output=True, text=True, cwd=REPO, timeout=60)
        assert cp.returncode == 1
        assert f"error parsing root-ca-file at {path}: " in cp.stderr and message in cp.stderr

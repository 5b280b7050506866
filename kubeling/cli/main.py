"""`kubeling` command line: up, down, status and the per-component commands."""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from typing import Any

import yaml

from ..api import features
from .components import add_component_parsers, add_storage_flags, parse_duration, storage_args, storage_config
from .config import ClusterConfig

CONTEXT = "kubeling"


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "kubeling")


def _kubeconfig_doc(url: str, ca_path: str, token: str) -> dict[str, Any]:
    with open(ca_path, "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url, "certificate-authority-data": ca}}],
        "users": [{"name": f"{CONTEXT}-admin", "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": f"{CONTEXT}-admin",
                                                   "namespace": "default"}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def _write_yaml(path: str, doc: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(doc, f, default_flow_style=False, sort_keys=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def merge_kubeconfig(path: str, doc: dict[str, Any]) -> None:
    """Merge the kubeling cluster/user/context into an existing kubeconfig and make it current."""
    cur: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path) as f:
            cur = yaml.safe_load(f) or {}
    cur.setdefault("apiVersion", "v1")
    cur.setdefault("kind", "Config")
    for section in ("clusters", "users", "contexts"):
        entries = [e for e in (cur.get(section) or []) if e.get("name") not in {x["name"] for x in doc[section]}]
        cur[section] = entries + doc[section]
    cur["current-context"] = CONTEXT
    cur.setdefault("preferences", {})
    _write_yaml(path, cur)


def _pid_file(data_dir: str) -> str:
    return os.path.join(data_dir, "kubeling.pid")


def _read_pid(data_dir: str) -> int | None:
    try:
        with open(_pid_file(data_dir)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _state_file(data_dir: str) -> str:
    return os.path.join(data_dir, "cluster.json")


def _http_get(url: str, ca: str, token: str | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _cfg_from_args(a: argparse.Namespace) -> ClusterConfig:
    nodes = ["master", "node1", "node2"]
    if getattr(a, "nodes", None):
        nodes = [n for n in a.nodes.split(",") if n]
    elif getattr(a, "node_count", None) is not None:
        nodes = ["master"] + [f"node{i}" for i in range(1, a.node_count)] if a.node_count > 0 else []
    return ClusterConfig(data_dir=os.path.abspath(a.data_dir), port=a.port, dns_port=a.dns_port,
                         storage=a.storage, nodes=nodes, pod_start_delay=a.pod_start_delay,
                         node_monitor_grace_period=a.node_monitor_grace_period,
                         default_storageclass=not a.no_default_storageclass,
                         terminated_pod_gc_threshold=a.terminated_pod_gc_threshold,
                         pod_gc_quarantine=a.pod_gc_quarantine, event_ttl=a.event_ttl, audit_log=a.audit_log,
                         hpa_sync_period=a.horizontal_pod_autoscaler_sync_period,
                         max_inflight_per_client=a.max_inflight_per_client,
                         feature_gates=features.from_args(a), **storage_config(a))


def _use_client_cert(doc: dict[str, Any], pki: dict[str, str]) -> None:
    """Authenticate the admin kubeconfig with a client certificate (CN kubernetes-admin, O system:masters)."""
    from ..apiserver.auth import issue_client_cert

    crt, key = os.path.join(os.path.dirname(pki["ca.crt"]), "admin.crt"), os.path.join(
        os.path.dirname(pki["ca.crt"]), "admin.key")
    if not (os.path.exists(crt) and os.path.exists(key)):
        issue_client_cert(pki["ca.crt"], pki["ca.key"], "kubernetes-admin", ["system:masters"], crt, key)
    with open(crt, "rb") as f, open(key, "rb") as g:
        doc["users"][0]["user"] = {"client-certificate-data": base64.b64encode(f.read()).decode(),
                                   "client-key-data": base64.b64encode(g.read()).decode()}


def _read_token(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _pki_paths(data_dir: str) -> dict[str, str]:
    d = os.path.join(data_dir, "pki")
    return {n: os.path.join(d, n) for n in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.token")}


def _write_kubeconfigs(a: argparse.Namespace, cfg: ClusterConfig, quiet: bool = False) -> None:
    pki = _pki_paths(cfg.data_dir)
    if not all(os.path.exists(p) for p in pki.values()):
        # The crypto library is imported only when there is a PKI to make (the first start).
        from ..apiserver.certs import ensure_pki

        pki = ensure_pki(os.path.join(cfg.data_dir, "pki"))
    doc = _kubeconfig_doc(f"https://{cfg.host}:{cfg.port}", pki["ca.crt"], _read_token(pki["admin.token"]))
    if getattr(a, "admin_auth", "token") == "client-cert":
        _use_client_cert(doc, pki)
    _write_yaml(os.path.join(cfg.data_dir, "kubeconfig"), doc)
    if a.kubeconfig:
        _write_yaml(a.kubeconfig, doc)
        msg = f"kubeconfig written to {a.kubeconfig}"
    else:
        target = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or os.path.join(
            os.path.expanduser("~"), ".kube", "config")
        merge_kubeconfig(target, doc)
        msg = f'Set kubectl context to "{CONTEXT}" in {target}'
    if not quiet:
        print(msg, file=sys.stderr)


def cmd_up(a: argparse.Namespace) -> int:
    cfg = _cfg_from_args(a)
    os.makedirs(cfg.data_dir, exist_ok=True)
    pid = _read_pid(cfg.data_dir)
    if pid is not None and not a._child:
        print(f"kubeling is already running (pid {pid}) with data dir {cfg.data_dir}", file=sys.stderr)
        return 1
    if a.detach and not a._child:
        return _up_detached(a, cfg)
    if not a._child:
        _write_kubeconfigs(a, cfg)
    logging.basicConfig(level=logging.INFO if not a.quiet else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with open(_pid_file(cfg.data_dir), "w") as f:
        f.write(str(os.getpid()))
    with open(_state_file(cfg.data_dir), "w") as f:
        json.dump({"url": f"https://{cfg.host}:{cfg.port}", "port": cfg.port, "dns_port": cfg.dns_port,
                   "nodes": cfg.nodes, "storage": cfg.storage}, f)

    def ready(_cluster: Any) -> None:
        print(f"kubeling is running: API server https://{cfg.host}:{cfg.port}, data dir {cfg.data_dir}",
              file=sys.stderr, flush=True)

    from .cluster import run_forever

    try:
        _run(run_forever(cfg, ready))
    finally:
        try:
            if _read_pid(cfg.data_dir) in (os.getpid(), None):
                os.remove(_pid_file(cfg.data_dir))
        except OSError:
            pass
    return 0


def _run(coro: Any) -> None:
    try:
        import uvloop  # type: ignore

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


def _up_detached(a: argparse.Namespace, cfg: ClusterConfig) -> int:
    # On a fresh data dir the child generates the PKI as it starts (it does anyway) and this process
    # writes the kubeconfig once the files are there: no crypto work, and no crypto import, up front.
    pki = _pki_paths(cfg.data_dir)
    fresh = not all(os.path.exists(p) for p in pki.values())
    if not fresh:
        _write_kubeconfigs(a, cfg)
    args = [sys.executable, "-m", "kubeling", "up", "--data-dir", cfg.data_dir, "--port", str(cfg.port),
            "--dns-port", str(cfg.dns_port), "--storage", cfg.storage, "--nodes", ",".join(cfg.nodes) or ",",
            "--pod-start-delay", str(cfg.pod_start_delay),
            "--node-monitor-grace-period", str(cfg.node_monitor_grace_period), "--_child",
            "--terminated-pod-gc-threshold", str(cfg.terminated_pod_gc_threshold),
            "--pod-gc-quarantine", str(cfg.pod_gc_quarantine), "--event-ttl", str(cfg.event_ttl),
            "--horizontal-pod-autoscaler-sync-period", str(cfg.hpa_sync_period),
            "--max-inflight-per-client", str(cfg.max_inflight_per_client), "--admin-auth", a.admin_auth]
    if cfg.audit_log is not None:
        args += ["--audit-log", cfg.audit_log]
    if not cfg.default_storageclass:
        args.append("--no-default-storageclass")
    if cfg.feature_gates:
        args.append("--feature-gates=" + features.format_flag(cfg.feature_gates))
    args += storage_args(cfg)
    if a.kubeconfig:
        args += ["--kubeconfig", a.kubeconfig]
    logf = open(os.path.join(cfg.data_dir, "kubeling.log"), "ab")
    proc = subprocess.Popen(args, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True)
    ca = pki["ca.crt"]
    deadline = time.monotonic() + a.wait
    if fresh:
        while not all(os.path.exists(p) for p in pki.values()):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"kubeling failed to start (exit {proc.poll()}); see {cfg.data_dir}/kubeling.log",
                      file=sys.stderr)
                return 1
            time.sleep(0.01)
        _write_kubeconfigs(a, cfg)
    token = _read_token(pki["admin.token"])
    url = f"https://{cfg.host}:{cfg.port}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"kubeling failed to start (exit {proc.returncode}); see {cfg.data_dir}/kubeling.log",
                  file=sys.stderr)
            return 1
        try:
            code, _ = _http_get(url + "/readyz", ca, timeout=1.0)
            if code == 200 and _nodes_ready(url, ca, token, cfg.nodes):
                print(f"kubeling is running (pid {proc.pid}): API server {url}, data dir {cfg.data_dir}",
                      file=sys.stderr)
                return 0
        except (OSError, ssl.SSLError):
            pass
        time.sleep(0.05)
    print(f"timed out waiting for kubeling to become ready; see {cfg.data_dir}/kubeling.log", file=sys.stderr)
    return 1


def _nodes_ready(url: str, ca: str, token: str, names: list[str]) -> bool:
    if not names:
        return True
    code, body = _http_get(url + "/api/v1/nodes", ca, token)
    if code != 200:
        return False
    ready = set()
    for n in json.loads(body).get("items", []):
        for c in (n.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") == "True":
                ready.add(n["metadata"]["name"])
    return all(n in ready for n in names)


def cmd_down(a: argparse.Namespace) -> int:
    data_dir = os.path.abspath(a.data_dir)
    pid = _read_pid(data_dir)
    if pid is None:
        print("kubeling is not running", file=sys.stderr)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if _read_pid(data_dir) is None:
            break
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
            print(f"kubeling (pid {pid}) did not stop in {a.timeout:g}s; killed", file=sys.stderr)
        except ProcessLookupError:
            pass
    try:
        os.remove(_pid_file(data_dir))
    except OSError:
        pass
    print(f"kubeling stopped (pid {pid})", file=sys.stderr)
    return 0


def cmd_status(a: argparse.Namespace) -> int:
    data_dir = os.path.abspath(a.data_dir)
    pid = _read_pid(data_dir)
    state: dict[str, Any] = {}
    try:
        with open(_state_file(data_dir)) as f:
            state = json.load(f)
    except OSError:
        pass
    if pid is None:
        print(f"kubeling is not running (data dir {data_dir})")
        return 1
    url = state.get("url", "https://127.0.0.1:6443")
    print(f"kubeling is running (pid {pid})")
    print(f"  API server: {url}")
    print(f"  data dir:   {data_dir}")
    print(f"  kubeconfig: {os.path.join(data_dir, 'kubeconfig')}")
    print(f"  storage:    {state.get('storage', 'sqlite')}")
    try:
        from ..apiserver.certs import read_token

        ca = os.path.join(data_dir, "pki", "ca.crt")
        token = read_token(os.path.join(data_dir, "pki", "admin.token"))
        counts = []
        for label, path in (("namespaces", "/api/v1/namespaces"), ("nodes", "/api/v1/nodes"),
                            ("pods", "/api/v1/pods"), ("services", "/api/v1/services"),
                            ("persistentvolumes", "/api/v1/persistentvolumes"),
                            ("persistentvolumeclaims", "/api/v1/persistentvolumeclaims"),
                            ("statefulsets", "/apis/apps/v1/statefulsets"),
                            ("daemonsets", "/apis/apps/v1/daemonsets"),
                            ("deployments", "/apis/apps/v1/deployments")):
            code, body = _http_get(url + path, ca, token)
            if code == 200:
                counts.append(f"{label}={len(json.loads(body).get('items', []))}")
        print(f"  objects:    {', '.join(counts)}")
    except (OSError, ValueError) as e:
        print(f"  (API server not answering: {e})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling", description="A Kubernetes-compatible control plane in Python.")
    sub = p.add_subparsers(dest="cmd", required=True)

    up = sub.add_parser("up", help="start a cluster (API server, controllers, scheduler, nodes, DNS)")
    up.add_argument("--data-dir", default=default_data_dir())
    up.add_argument("--port", type=int, default=6443)
    up.add_argument("--dns-port", type=int, default=10053)
    up.add_argument("--kubeconfig", default=None, help="write the kubeconfig here instead of merging into ~/.kube/config")
    up.add_argument("--detach", action="store_true", help="run in the background; return once ready")
    add_storage_flags(up)
    up.add_argument("--nodes", default=None, help="comma-separated node names (default master,node1,node2)")
    up.add_argument("--node-count", type=int, default=None)
    up.add_argument("--pod-start-delay", type=float, default=1.0)
    up.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                    help="seconds a node may miss heartbeats before it is marked NotReady (Unknown)")
    up.add_argument("--no-default-storageclass", action="store_true")
    up.add_argument("--terminated-pod-gc-threshold", type=int, default=12500,
                    help="terminated pods kept before pod GC deletes the oldest (0 disables)")
    up.add_argument("--horizontal-pod-autoscaler-sync-period", type=parse_duration, default=15.0,
                    help="how often the HPA controller reconciles each HorizontalPodAutoscaler (e.g. 15s)")
    up.add_argument("--pod-gc-quarantine", type=float, default=40.0,
                    help="seconds a pod's node must be missing before pod GC deletes the pod")
    up.add_argument("--event-ttl", type=float, default=3600.0, metavar="SECONDS",
                    help="how long Events are kept after their last occurrence (kube-apiserver --event-ttl)")
    up.add_argument("--audit-log", default=None, metavar="PATH",
                    help="audit log of mutating requests, one JSON line each (default DATA_DIR/audit.log; "
                         "'' disables)")
    up.add_argument("--max-inflight-per-client", type=int, default=64,
                    help="concurrent requests one client (other than system:masters) may have before it gets "
                         "429 Too Many Requests (0: unlimited)")
    up.add_argument("--admin-auth", choices=["token", "client-cert"], default="token",
                    help="how the written kubeconfig authenticates the admin: bearer token or client certificate")
    features.add_flag(up)
    up.add_argument("--wait", type=float, default=60.0, help="seconds --detach waits for readiness")
    up.add_argument("--quiet", action="store_true")
    up.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop the cluster")
    down.add_argument("--data-dir", default=default_data_dir())
    down.add_argument("--timeout", type=float, default=10.0)
    down.set_defaults(func=cmd_down)

    st = sub.add_parser("status", help="show whether the cluster runs, where, and what it holds")
    st.add_argument("--data-dir", default=default_data_dir())
    st.set_defaults(func=cmd_status)
    from .node_cmd import add_parser as add_node_parser

    add_node_parser(sub)
    from .dns_cmd import add_dns_parser

    add_dns_parser(sub)
    add_component_parsers(sub)
    from .bench_cmd import add_parser as add_bench_parser

    add_bench_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(signal, "SIGPIPE") and args.cmd in ("status", "down"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `kubeling status | head` ends quietly, as CLIs do
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())

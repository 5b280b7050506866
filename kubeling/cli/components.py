"""Per-component commands: the control plane split into processes, as upstream runs at scale.

    kubeling apiserver [--data-dir D] [--port P] [--storage sqlite|etcd|memory] [--etcd-servers URL,...]
                       [--pki-dir D]             API server only (registry, admission, bootstrap objects)
    kubeling controller-manager --kubeconfig K [--leader-elect[=false]] [--leader-elect-lease-duration 15s ...]
    kubeling scheduler --kubeconfig K [leader election flags]

The controller-manager and the scheduler talk to an API server over HTTPS like any client and,
with --leader-elect (the default, as upstream), only the holder of the kube-system Lease
`kube-controller-manager` / `kube-scheduler` works; the others stand by. A process that loses its
lease exits (status 1), as upstream's do, so a supervisor restarts it as a fresh candidate.
Several API servers share one etcd (--storage etcd) and one PKI (--pki-dir): a token or
certificate from one is valid on all.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ..api import features
from .config import COMPACT_INTERVAL, ClusterConfig

log = logging.getLogger("kubeling")

_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ms|h|m|s)")


def parse_duration(s: str) -> float:
    """Go-style durations ("15s", "1m30s", "500ms") or plain seconds → seconds."""
    s = s.strip()
    try:
        return float(s)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise argparse.ArgumentTypeError(f"invalid duration {s!r}")
    return total


def _bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "t", "true", "yes", "y", "on"):
        return True
    if v in ("0", "f", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {s!r}")


# ---- storage flags (kubeling up, kubeling apiserver) -------------------------------------------------------

def add_storage_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", choices=["sqlite", "memory", "etcd"], default="sqlite",
                   help="where objects live: the SQLite file in the data dir (default), memory, or etcd")
    p.add_argument("--etcd-servers", default="", help="etcd client URLs, comma-separated (with --storage etcd)")
    p.add_argument("--etcd-prefix", default="", help="prefix for every etcd key (several clusters on one etcd)")
    p.add_argument("--etcd-compaction-interval", type=parse_duration, default=COMPACT_INTERVAL,
                   help="how often old revisions are compacted (default 5m; 0 disables)")


def storage_config(a: argparse.Namespace) -> dict[str, Any]:
    """ClusterConfig fields from the storage flags."""
    if a.storage == "etcd" and not a.etcd_servers:
        raise SystemExit("error: --storage etcd needs --etcd-servers URL[,URL...]")
    return {"etcd_servers": a.etcd_servers, "etcd_prefix": a.etcd_prefix,
            "compaction_interval": a.etcd_compaction_interval}


def storage_args(cfg: ClusterConfig) -> list[str]:
    """The storage flags again, for re-executing `kubeling up` detached."""
    out = ["--etcd-compaction-interval", str(cfg.compaction_interval)]
    if cfg.etcd_servers:
        out += ["--etcd-servers", cfg.etcd_servers]
    if cfg.etcd_prefix:
        out += ["--etcd-prefix", cfg.etcd_prefix]
    return out


# ---- leader election flags ----------------------------------------------------------------------------------

def add_leader_election_flags(p: argparse.ArgumentParser, lease_name: str) -> None:
    p.add_argument("--master", default="", help="API server URL(s), comma-separated, overriding the kubeconfig's")
    p.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=True,
                   help="run only while holding the leader lease (default true; --leader-elect=false to disable)")
    p.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0)
    p.add_argument("--leader-elect-resource-name", default=lease_name)
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--leader-elect-identity", default="", help=argparse.SUPPRESS)


# ---- kubeling apiserver ---------------------------------------------------------------------------------------

def cmd_apiserver(a: argparse.Namespace) -> int:
    from ..apiserver.certs import ensure_pki, read_token
    from .cluster import run_forever
    from .main import _kubeconfig_doc, _run, _write_yaml

    data_dir = os.path.abspath(a.data_dir)
    cfg = ClusterConfig(data_dir=data_dir, port=a.port, host=a.host, storage=a.storage, nodes=[],
                        pki_dir=os.path.abspath(a.pki_dir) if a.pki_dir else "", components=[],
                        feature_gates=features.from_args(a), **storage_config(a))
    os.makedirs(data_dir, exist_ok=True)
    pki = ensure_pki(cfg.pki_dir or os.path.join(data_dir, "pki"))
    doc = _kubeconfig_doc(f"https://{cfg.host}:{cfg.port}", pki["ca.crt"], read_token(pki["admin.token"]))
    _write_yaml(os.path.join(data_dir, "kubeconfig"), doc)
    if a.kubeconfig:
        _write_yaml(a.kubeconfig, doc)
    _logging(a.quiet)

    def ready(_cluster: Any) -> None:
        print(f"kubeling apiserver is running: https://{cfg.host}:{cfg.port}, storage {cfg.storage}, "
              f"kubeconfig {os.path.join(data_dir, 'kubeconfig')}", file=sys.stderr, flush=True)

    _run(run_forever(cfg, ready))
    return 0


# ---- kubeling controller-manager / scheduler ------------------------------------------------------------------

def _logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _feature_gates(a: argparse.Namespace) -> dict[str, bool]:
    """The resolved gates of --feature-gates, logging what upstream warns about (GA gates set explicitly)."""
    explicit = features.from_args(a)
    for w in features.warnings(explicit):
        log.warning("%s", w)
    return features.resolve(explicit)


def _read_root_ca(path: str) -> str:
    """--root-ca-file: PEM certificates (upstream's readCA), or exit with upstream's message."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SystemExit(f"error parsing root-ca-file at {path}: open {path}: "
                         f"{(e.strerror or str(e)).lower()}") from None
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise SystemExit(f"error parsing root-ca-file at {path}: "
                         "data does not contain any valid RSA or ECDSA certificates")
    return data.decode()


def _kubeconfig_ca(path: str) -> str:
    """The CA of the kubeconfig's current context (inline data or file): upstream's default root CA."""
    import base64

    import yaml

    from .node_cmd import _named

    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    ctx = _named(doc.get("contexts"), doc.get("current-context")).get("context") or {}
    cluster = _named(doc.get("clusters"), ctx.get("cluster")).get("cluster") or {}
    if cluster.get("certificate-authority-data"):
        return base64.b64decode(cluster["certificate-authority-data"]).decode()
    if cluster.get("certificate-authority"):
        ca = cluster["certificate-authority"]
        with open(ca if os.path.isabs(ca) else os.path.join(os.path.dirname(os.path.abspath(path)), ca)) as f:
            return f.read()
    return ""


def _kubeconfig(a: argparse.Namespace) -> str:
    if a.kubeconfig:
        return a.kubeconfig
    from .main import default_data_dir

    path = os.path.join(os.path.abspath(a.data_dir or default_data_dir()), "kubeconfig")
    if not os.path.exists(path):
        raise SystemExit(f"error: no kubeconfig at {path} (use --kubeconfig)")
    return path


async def _run_component(a: argparse.Namespace, component: str, field_manager: str, settings: dict[str, Any],
                         start: Callable[[Any], Awaitable[Callable[[], Awaitable[None]] | None]]) -> int:
    """Run start(ctx) over HTTPS, under leader election unless disabled. Exit status 1 if the lease is lost."""
    from ..client.context import ComponentContext
    from ..client.informer import InformerFactory
    from ..client.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
    from .node_cmd import client_from_kubeconfig

    client = client_from_kubeconfig(_kubeconfig(a), field_manager=field_manager)
    if a.master:  # several API servers, comma-separated: requests fail over between them
        client.servers = [s.strip().rstrip("/") for s in a.master.split(",") if s.strip()]
        client.server = client.servers[0]
    data_dir = os.path.abspath(a.data_dir) if a.data_dir else ""
    ctx = ComponentContext(client=client, informers=InformerFactory(client), data_dir=data_dir, settings=settings)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)
    stops: list[Callable[[], Awaitable[None]]] = []

    async def begin() -> None:
        fn = await start(ctx)
        ctx.informers.start()
        if fn is not None:
            stops.append(fn)
        log.info("%s started", component)

    async def end() -> None:
        for fn in reversed(stops):
            try:
                await fn()
            except Exception:
                log.exception("error stopping %s", component)
        stops.clear()
        await ctx.informers.stop()

    lost = False
    try:
        if not a.leader_elect:
            await begin()
            await stop_requested.wait()
            return 0
        cfg = LeaderElectionConfig(name=a.leader_elect_resource_name, namespace=a.leader_elect_resource_namespace,
                                   identity=a.leader_elect_identity or default_identity(),
                                   lease_duration=a.leader_elect_lease_duration,
                                   renew_deadline=a.leader_elect_renew_deadline,
                                   retry_period=a.leader_elect_retry_period)
        try:
            cfg.validate()
        except ValueError as e:
            raise SystemExit(f"error: {e}") from None

        async def lead() -> None:
            await begin()
            await asyncio.Event().wait()

        elector = LeaderElector(client, cfg, lead, end, recorder=ctx.recorder(component, cfg.identity))
        log.info("%s: leader election on lease %s/%s as %s", component, cfg.namespace, cfg.name, cfg.identity)
        run = loop.create_task(elector.run())
        waiter = loop.create_task(stop_requested.wait())
        done, _ = await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if run in done:
            lost = True  # run() only returns once leadership is lost
            run.result()
        else:
            run.cancel()
            try:
                await run
            except asyncio.CancelledError:
                pass
        waiter.cancel()
    finally:
        await end()
        await client.close()
    if lost:
        log.error("leaderelection lost")
        return 1
    return 0


def _controller_settings(a: argparse.Namespace) -> dict[str, Any]:
    root_ca = _read_root_ca(a.root_ca_file) if a.root_ca_file else _kubeconfig_ca(_kubeconfig(a))
    return {"node_monitor_grace_period": a.node_monitor_grace_period,
            "terminated_pod_gc_threshold": a.terminated_pod_gc_threshold,
            "pod_gc_quarantine": a.pod_gc_quarantine, "default_storageclass": not a.no_default_storageclass,
            "hpa_sync_period": a.horizontal_pod_autoscaler_sync_period,
            "root_ca": root_ca, "feature_gates": _feature_gates(a),
            "cluster_signing_cert_file": a.cluster_signing_cert_file,
            "cluster_signing_key_file": a.cluster_signing_key_file}


def cmd_controller_manager(a: argparse.Namespace) -> int:
    from .main import _run

    _logging(a.quiet)
    enabled = [c for c in a.controllers.split(",") if c] if a.controllers else None

    async def start(ctx: Any) -> Callable[[], Awaitable[None]] | None:
        from ..controllers import manager

        return await manager.start(ctx, enabled)

    settings = _controller_settings(a)
    rc: list[int] = []

    async def main() -> None:
        rc.append(await _run_component(a, "kube-controller-manager", "kube-controller-manager", settings, start))

    _run(main())
    return rc[0] if rc else 1


def cmd_scheduler(a: argparse.Namespace) -> int:
    from .main import _run

    _logging(a.quiet)

    async def start(ctx: Any) -> Callable[[], Awaitable[None]] | None:
        mod = importlib.import_module("kubeling.scheduler.scheduler")
        return await mod.start(ctx)

    settings: dict[str, Any] = {"feature_gates": _feature_gates(a)}
    if a.percentage_of_nodes_to_score is not None:
        settings["percentage_of_nodes_to_score"] = a.percentage_of_nodes_to_score
    rc: list[int] = []

    async def main() -> None:
        rc.append(await _run_component(a, "default-scheduler", "kube-scheduler", settings, start))

    _run(main())
    return rc[0] if rc else 1


def add_component_parsers(sub: Any) -> None:
    from .main import default_data_dir

    ap = sub.add_parser("apiserver", help="run only the API server (several may share one etcd)")
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--port", type=int, default=6443)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ap.add_argument("--pki-dir", default="", help="CA, serving certificate and admin token to use "
                    "(default DATA_DIR/pki, created if missing); give every API server of one cluster the same")
    ap.add_argument("--kubeconfig", default=None, help="also write the admin kubeconfig here")
    add_storage_flags(ap)
    features.add_flag(ap)
    ap.add_argument("--quiet", action="store_true")
    ap.set_defaults(func=cmd_apiserver)

    cm = sub.add_parser("controller-manager", help="run the controllers against an API server (leader-elected)")
    cm.add_argument("--kubeconfig", default=None, help="how to reach the API server (default DATA_DIR/kubeconfig)")
    cm.add_argument("--data-dir", default=None, help="where the local-path provisioner keeps volume directories")
    cm.add_argument("--controllers", default="", help="comma-separated controllers to run (default all)")
    cm.add_argument("--node-monitor-grace-period", type=parse_duration, default=40.0)
    cm.add_argument("--terminated-pod-gc-threshold", type=int, default=12500)
    cm.add_argument("--pod-gc-quarantine", type=parse_duration, default=40.0)
    cm.add_argument("--horizontal-pod-autoscaler-sync-period", type=parse_duration, default=15.0)
    cm.add_argument("--no-default-storageclass", action="store_true")
    cm.add_argument("--root-ca-file", default="",
                    help="if set, this root certificate authority will be included in service account's token "
                         "secret. This must be a valid PEM-encoded CA bundle. (default: the kubeconfig's CA)")
    cm.add_argument("--cluster-signing-cert-file", default="",
                    help="PEM-encoded X509 CA certificate used to issue cluster-scoped certificates "
                         "(the csrsigning controller signs nothing without it)")
    cm.add_argument("--cluster-signing-key-file", default="",
                    help="PEM-encoded private key used to sign cluster-scoped certificates")
    features.add_flag(cm)
    cm.add_argument("--quiet", action="store_true")
    add_leader_election_flags(cm, "kube-controller-manager")
    cm.set_defaults(func=cmd_controller_manager)

    sc = sub.add_parser("scheduler", help="run the scheduler against an API server (leader-elected)")
    sc.add_argument("--kubeconfig", default=None, help="how to reach the API server (default DATA_DIR/kubeconfig)")
    sc.add_argument("--data-dir", default=None)
    sc.add_argument("--percentage-of-nodes-to-score", type=int, default=None)
    features.add_flag(sc)
    sc.add_argument("--quiet", action="store_true")
    add_leader_election_flags(sc, "kube-scheduler")
    sc.set_defaults(func=cmd_scheduler)

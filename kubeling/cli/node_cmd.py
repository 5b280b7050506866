"""`kubeling node ...`: live node management through the API, and a node agent as its own process.

    kubeling node add NAME [--label k=v]... [--taint k=v:Effect]... [--cpu N --memory Q --pods N]
    kubeling node remove NAME      delete the Node (its agent stops, its lease goes)
    kubeling node stop NAME        the agent stops heartbeating and updating pods (a crashed machine)
    kubeling node start NAME       ... and comes back
    kubeling node --name NAME [--kubeconfig K]    run one node agent in the foreground over HTTPS

The management commands talk to the running cluster like any client (DIR/kubeconfig, DIR defaulting to
the data dir `kubeling up` uses); the cluster's node simulator reacts to what they write:
`kubeling.dev/simulated: "true"` on a Node makes it start an agent, `kubeling.dev/agent: "stopped"` pauses one.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import logging
import os
import signal
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from ..api.errors import ApiError
from ..node.kubelet import AGENT_ANNOTATION, CAPACITY_ANNOTATION, LEASE_NAMESPACE, SIMULATED_ANNOTATION

if TYPE_CHECKING:
    from ..client.client import HttpClient

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


# ---- kubeconfig -----------------------------------------------------------------------------------------

def _temp_file(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(prefix="kubeling-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    atexit.register(lambda: os.path.exists(path) and os.remove(path))
    return path


def _named(entries: list[dict[str, Any]] | None, name: str | None) -> dict[str, Any]:
    for e in entries or ():
        if e.get("name") == name:
            return e
    return {}


def client_from_kubeconfig(path: str, field_manager: str = "kubeling") -> HttpClient:
    """An HttpClient for the kubeconfig's current context (token or client certificate auth)."""
    # imported here, not at the top: every `kubeling` command imports this module
    from ..client.client import HttpClient

    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    base = os.path.dirname(os.path.abspath(path))
    ctx = _named(doc.get("contexts"), doc.get("current-context")).get("context") or {}
    cluster = _named(doc.get("clusters"), ctx.get("cluster")).get("cluster") or {}
    user = _named(doc.get("users"), ctx.get("user")).get("user") or {}
    if not cluster.get("server"):
        raise SystemExit(f"error: kubeconfig {path} has no server for its current context")

    def file_or_data(key: str, suffix: str) -> str | None:
        if user.get(key) or cluster.get(key):
            p = user.get(key) or cluster.get(key)
            return p if os.path.isabs(p) else os.path.join(base, p)
        data = user.get(key + "-data") or cluster.get(key + "-data")
        return _temp_file(base64.b64decode(data), suffix) if data else None

    ca = file_or_data("certificate-authority", ".crt")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(user["tokenFile"]) as f:
            token = f.read().strip()
    cert = key = None
    if user.get("client-certificate") or user.get("client-certificate-data"):
        cert = file_or_data("client-certificate", ".crt")
        key = file_or_data("client-key", ".key")
    return HttpClient(cluster["server"], token=token, ca_file=ca, field_manager=field_manager,
                      cert=(cert, key) if cert and key else None)


def _kubeconfig_path(a: argparse.Namespace) -> str:
    from .main import default_data_dir

    explicit = getattr(a, "kubeconfig", None) or getattr(a, "agent_kubeconfig", None)
    if explicit:
        return explicit
    data_dir = getattr(a, "data_dir", None) or default_data_dir()
    path = os.path.join(os.path.abspath(data_dir), "kubeconfig")
    if not os.path.exists(path):
        raise SystemExit(f"error: no kubeconfig at {path}; is kubeling running? (use --data-dir or --kubeconfig)")
    return path


# ---- parsing helpers ------------------------------------------------------------------------------------

def parse_labels(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"error: invalid label {it!r}: expected key=value")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def parse_taint(spec: str) -> dict[str, str]:
    """kubectl taint syntax: key[=value]:Effect."""
    if ":" not in spec:
        raise SystemExit(f"error: invalid taint {spec!r}: expected key[=value]:Effect")
    kv, effect = spec.rsplit(":", 1)
    if effect not in EFFECTS:
        raise SystemExit(f"error: invalid taint effect {effect!r}: must be one of {', '.join(EFFECTS)}")
    t = {"effect": effect}
    if "=" in kv:
        t["key"], t["value"] = kv.split("=", 1)
    else:
        t["key"] = kv
    if not t["key"]:
        raise SystemExit(f"error: invalid taint {spec!r}: empty key")
    return t


def _err(e: ApiError) -> int:
    print(f"Error from server ({e.reason}): {e.message}", file=sys.stderr)
    return 1


# ---- management commands ----------------------------------------------------------------------------------

async def _add(a: argparse.Namespace, client: HttpClient) -> int:
    ann = {SIMULATED_ANNOTATION: "true"}
    cap = {k: str(v) for k, v in (("cpu", a.cpu), ("memory", a.memory), ("pods", a.pods)) if v is not None}
    if cap:
        ann[CAPACITY_ANNOTATION] = orjson.dumps(cap).decode()
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": a.name, "annotations": ann, "labels": parse_labels(a.label)},
                            "spec": {}}
    taints = [parse_taint(t) for t in a.taint]
    if taints:
        node["spec"]["taints"] = taints
    try:
        await client.create("nodes", None, node)
    except ApiError as e:
        return _err(e)
    print(f"node/{a.name} created")
    if a.no_wait:
        return 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        try:
            n = await client.get("nodes", None, a.name)
        except ApiError as e:
            if e.code != 404:
                return _err(e)
            n = {}
        for c in (n.get("status") or {}).get("conditions") or ():
            if c.get("type") == "Ready" and c.get("status") == "True":
                return 0
        await asyncio.sleep(0.1)
    print(f"error: timed out after {a.timeout:g}s waiting for node {a.name} to become Ready "
          "(is `kubeling up` running its node simulator?)", file=sys.stderr)
    return 1


async def _remove(a: argparse.Namespace, client: HttpClient) -> int:
    try:
        await client.delete("nodes", None, a.name)
    except ApiError as e:
        return _err(e)
    try:
        await client.delete("leases.coordination.k8s.io", LEASE_NAMESPACE, a.name)
    except ApiError:
        pass
    print(f'node "{a.name}" deleted')
    return 0


async def _set_agent(a: argparse.Namespace, client: HttpClient, stopped: bool) -> int:
    body = {"metadata": {"annotations": {AGENT_ANNOTATION: "stopped" if stopped else None}}}
    try:
        await client.patch("nodes", None, a.name, body)
    except ApiError as e:
        return _err(e)
    print(f"node/{a.name} {'stopped' if stopped else 'started'}")
    return 0


async def _manage(a: argparse.Namespace) -> int:
    client = client_from_kubeconfig(_kubeconfig_path(a), field_manager="kubeling-node")
    try:
        if a.node_cmd == "add":
            return await _add(a, client)
        if a.node_cmd == "remove":
            return await _remove(a, client)
        if a.node_cmd == "stop":
            return await _set_agent(a, client, True)
        if a.node_cmd == "start":
            return await _set_agent(a, client, False)
        raise SystemExit(f"error: unknown node command {a.node_cmd}")
    finally:
        await client.close()


# ---- a node agent as its own process ------------------------------------------------------------------------

def _node_client(a: argparse.Namespace, client: HttpClient) -> HttpClient:
    """With the cluster's own data dir (no --kubeconfig), the agent runs as system:node:NAME (group system:nodes)
    on a client certificate from the cluster CA, as a kubelet does; otherwise with the kubeconfig's identity."""
    if getattr(a, "agent_kubeconfig", None):
        return client
    from .main import default_data_dir

    pki = os.path.join(os.path.abspath(getattr(a, "data_dir", None) or default_data_dir()), "pki")
    if not os.path.exists(os.path.join(pki, "ca.key")):
        return client
    from ..apiserver.auth import issue_client_cert
    from ..client.client import HttpClient

    os.makedirs(os.path.join(pki, "nodes"), exist_ok=True)
    crt, key = (os.path.join(pki, "nodes", f"{a.name}{ext}") for ext in (".crt", ".key"))
    if not (os.path.exists(crt) and os.path.exists(key)):
        issue_client_cert(os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key"), f"system:node:{a.name}",
                          ["system:nodes"], crt, key)
    return HttpClient(",".join(client.servers), ca_file=os.path.join(pki, "ca.crt"), field_manager="kubelet",
                      cert=(crt, key))


async def _run_agent(a: argparse.Namespace) -> int:
    from ..client.context import ComponentContext
    from ..client.informer import InformerFactory
    from ..node.simulator import Simulator

    client = _node_client(a, client_from_kubeconfig(_kubeconfig_path(a), field_manager="kubelet"))
    settings = {"pod_start_delay": a.pod_start_delay, "node_monitor_grace_period": a.node_monitor_grace_period}
    ctx = ComponentContext(client=client, informers=InformerFactory(client), settings=settings)
    sim = Simulator(ctx, [a.name], standalone=True, labels=parse_labels(a.agent_label),
                    taints=[parse_taint(t) for t in a.agent_taint])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
        ctx.informers.start()
        logging.getLogger("kubeling").info("node agent %s running against %s", a.name, client.server)
        await stop.wait()
    finally:
        await sim.stop()
        await ctx.informers.stop()
        await client.close()
    return 0


def cmd_node(a: argparse.Namespace) -> int:
    if a.node_cmd is None:
        if not a.name:
            print("error: give a command (add, remove, stop, start) or --name NAME to run a node agent",
                  file=sys.stderr)
            return 2
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from .main import _run

        _run(_run_agent(a))
        return 0
    return asyncio.run(_manage(a))


def add_parser(sub: Any) -> None:
    """Add the `node` command to `kubeling`'s subcommand parsers."""
    from .main import default_data_dir

    p = sub.add_parser("node", help="add/remove/stop/start simulated nodes, or run one node agent",
                       description="Manage the simulated nodes of a running cluster, or (with --name) run a "
                                   "node agent in the foreground as its own process.")
    p.add_argument("--name", help="run a node agent for this node in the foreground")
    p.add_argument("--kubeconfig", dest="agent_kubeconfig", default=None,
                   help="kubeconfig of the cluster (default: DIR/kubeconfig)")
    p.add_argument("--data-dir", dest="data_dir", default=default_data_dir())
    p.add_argument("--pod-start-delay", type=float, default=1.0)
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="the cluster's grace period; the lease is renewed every min(10s, grace/4)")
    p.add_argument("--label", dest="agent_label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--taint", dest="agent_taint", action="append", default=[], metavar="KEY[=VALUE]:EFFECT")
    p.set_defaults(func=cmd_node, node_cmd=None)
    ns = p.add_subparsers(dest="node_cmd")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("name")
        sp.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS)
        sp.add_argument("--kubeconfig", default=None)

    add = ns.add_parser("add", help="create a simulated node; the running cluster starts its agent")
    common(add)
    add.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--taint", action="append", default=[], metavar="KEY[=VALUE]:EFFECT")
    add.add_argument("--cpu", default=None, help="cpu capacity (default 4)")
    add.add_argument("--memory", default=None, help="memory capacity (default 8129280Ki)")
    add.add_argument("--pods", default=None, help="pod capacity (default 110)")
    add.add_argument("--no-wait", action="store_true", help="do not wait for the node to become Ready")
    add.add_argument("--timeout", type=float, default=30.0)
    for cmd, text in (("remove", "delete a node (its agent stops)"),
                      ("stop", "stop a node's agent, as if the machine crashed"),
                      ("start", "start a stopped node's agent again")):
        common(ns.add_parser(cmd, help=text))

"""`kubeling dns`: the cluster DNS server as its own process, talking to the API server over HTTPS.

    kubeling dns --kubeconfig ~/.kube/config [--port 10053] [--host 127.0.0.1] [--dns-upstream 1.1.1.1:53]

It watches Namespaces, Services and EndpointSlices like CoreDNS's kubernetes plugin and serves the same
answers `kubeling up` serves in-process.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import signal
import ssl
import sys
import tempfile
from typing import Any

import yaml

log = logging.getLogger("kubeling.dns")


def add_dns_parser(sub: Any) -> None:
    p = sub.add_parser("dns", help="run the cluster DNS server against a running API server")
    p.add_argument("--kubeconfig", default=None,
                   help="kubeconfig to reach the API server (default $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", default=None, help="kubeconfig context (default: current-context)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (UDP and TCP)")
    p.add_argument("--port", type=int, default=10053)
    p.add_argument("--dns-upstream", default=None, metavar="HOST:PORT",
                   help="forward names outside cluster.local here (default: answer them REFUSED)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_dns)


def _materialize(data_b64: str | None, path: str | None, tmpdir: str, name: str) -> str | None:
    """kubeconfig `*-data` fields are base64 PEM; ssl wants files."""
    if path:
        return path
    if not data_b64:
        return None
    out = os.path.join(tmpdir, name)
    with open(out, "wb") as f:
        f.write(base64.b64decode(data_b64))
    os.chmod(out, 0o600)
    return out


def client_from_kubeconfig(path: str | None, context: str | None = None) -> Any:
    """An HttpClient for the kubeconfig's (current) context: server, CA, token or client certificate."""
    from ..client.client import HttpClient

    path = path or (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or \
        os.path.join(os.path.expanduser("~"), ".kube", "config")
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    ctx_name = context or cfg.get("current-context")
    ctx = next((c.get("context") or {} for c in cfg.get("contexts") or () if c.get("name") == ctx_name), None)
    if ctx is None:
        raise SystemExit(f"kubeconfig {path}: context {ctx_name!r} not found")
    cluster = next((c.get("cluster") or {} for c in cfg.get("clusters") or () if c.get("name") == ctx.get("cluster")),
                   {})
    user = next((u.get("user") or {} for u in cfg.get("users") or () if u.get("name") == ctx.get("user")), {})
    base = os.path.dirname(os.path.abspath(path))

    def rel(p: str | None) -> str | None:
        return os.path.join(base, p) if p and not os.path.isabs(p) else p

    tmp = tempfile.mkdtemp(prefix="kubeling-dns-")
    ca = _materialize(cluster.get("certificate-authority-data"), rel(cluster.get("certificate-authority")), tmp,
                      "ca.crt")
    cert = _materialize(user.get("client-certificate-data"), rel(user.get("client-certificate")), tmp, "tls.crt")
    key = _materialize(user.get("client-key-data"), rel(user.get("client-key")), tmp, "tls.key")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(rel(user["tokenFile"]) or "") as f:
            token = f.read().strip()
    client = HttpClient(cluster["server"], token=token, ca_file=ca, field_manager="kubeling-dns",
                        cert=(cert, key) if cert and key else None)
    if cluster.get("insecure-skip-tls-verify"):
        client._ssl.check_hostname = False
        client._ssl.verify_mode = ssl.CERT_NONE
    return client


async def run_dns(a: argparse.Namespace) -> None:
    from ..client.informer import InformerFactory
    from ..dns.server import parse_hostport, serve

    client = client_from_kubeconfig(a.kubeconfig, a.context)
    factory = InformerFactory(client)
    upstream = parse_hostport(a.dns_upstream)
    try:
        server = await serve(factory, a.host, a.port, upstream)
    except OSError as e:
        await client.close()
        raise SystemExit(f"kubeling dns: cannot listen on {a.host}:{a.port}: {e.strerror or e}") from None
    factory.start()
    log.info("cluster DNS listening on %s:%d (udp+tcp), API server %s%s", a.host, server.port, client.server,
             f", upstream {upstream[0]}:{upstream[1]}" if upstream else "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    await factory.stop()
    await client.close()


def cmd_dns(a: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if a.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop  # type: ignore

        uvloop.run(run_dns(a))
    except ImportError:
        asyncio.run(run_dns(a))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="kubeling")
    add_dns_parser(parser.add_subparsers(dest="cmd", required=True))
    ns = parser.parse_args(["dns", *sys.argv[1:]])
    sys.exit(ns.func(ns))

"""Start Debian's etcd (`etcd-server`) on loopback for tests: one member or a small cluster.

Import the `etcd_server` fixture into a test module (`from etcd_util import etcd_server`) to get one
single-member etcd per pytest worker; tests isolate themselves with their own key prefix. Use
`EtcdCluster` directly for multi-member clusters or tests that kill members.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

ETCD = os.environ.get("ETCD", shutil.which("etcd") or "/usr/bin/etcd")


def have_etcd() -> bool:
    return os.access(ETCD, os.X_OK)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdCluster:
    """n etcd members on 127.0.0.1, each with its own client/peer port and data dir."""

    def __init__(self, members: int = 1, base_dir: str | None = None) -> None:
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="kubeling-etcd-")
        os.makedirs(self.base_dir, exist_ok=True)
        self._own_dir = base_dir is None
        self.names = [f"m{i}" for i in range(members)]
        self.client_ports = [_free_port() for _ in self.names]
        self.peer_ports = [_free_port() for _ in self.names]
        self.procs: list[subprocess.Popen | None] = [None] * members
        self.token = "kubeling-" + uuid.uuid4().hex[:8]

    @property
    def endpoints(self) -> str:
        """Comma-separated client URLs, as --etcd-servers takes them."""
        return ",".join(f"http://127.0.0.1:{p}" for p in self.client_ports)

    def endpoint(self, i: int) -> str:
        return f"http://127.0.0.1:{self.client_ports[i]}"

    def _cmd(self, i: int) -> list[str]:
        initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer_ports, strict=True))
        data = os.path.join(self.base_dir, self.names[i])
        return [ETCD, "--name", self.names[i], "--data-dir", data,
                "--listen-client-urls", self.endpoint(i), "--advertise-client-urls", self.endpoint(i),
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.token, "--logger", "zap", "--log-level", "error",
                "--heartbeat-interval", "50", "--election-timeout", "500"]

    def start_member(self, i: int) -> None:
        log = open(os.path.join(self.base_dir, f"{self.names[i]}.log"), "ab")
        self.procs[i] = subprocess.Popen(self._cmd(i), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        for i in range(len(self.names)):
            self.start_member(i)
        self.wait_healthy(timeout)
        return self

    def healthy(self, i: int) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint(i) + "/health", timeout=1) as r:
                return r.status == 200 and b'"true"' in r.read()
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [i for i, p in enumerate(self.procs) if p is not None and p.poll() is None]
            if live and all(self.healthy(i) for i in live):
                return
            for i, p in enumerate(self.procs):
                if p is not None and p.poll() is not None and i in live:
                    raise RuntimeError(f"etcd {self.names[i]} exited with {p.returncode}")
            time.sleep(0.1)
        raise RuntimeError(f"etcd not healthy after {timeout}s (logs in {self.base_dir})")

    def kill(self, i: int) -> None:
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(10)

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdCluster]:
    """One single-member etcd per pytest worker (skips when etcd is not installed)."""
    if not have_etcd():
        pytest.skip("etcd is not installed (apt-get install etcd-server)")
    c = EtcdCluster(1).start()
    try:
        yield c
    finally:
        c.stop()


def unique_prefix() -> str:
    """A key prefix of its own, so tests sharing one etcd never see each other's objects."""
    return "/t" + uuid.uuid4().hex[:12]


# ---- running the whole suite on etcd ----------------------------------------------------------------------

BACKEND_ENV = "KUBELING_TEST_STORAGE"
_SHARED: EtcdCluster | None = None


def backend_args(owner: object) -> list[str]:
    """Extra `kubeling up` flags for the storage backend the suite runs on (--storage-backend / $KUBELING_TEST_STORAGE).

    For etcd: one etcd per pytest worker, started on first use and stopped when the worker exits; each
    cluster (owner) keeps its own key prefix across restarts, so clusters never see each other's objects.
    """
    global _SHARED
    if os.environ.get(BACKEND_ENV, "sqlite") != "etcd":
        return []
    if _SHARED is None:
        if not have_etcd():
            pytest.skip("etcd is not installed (apt-get install etcd-server)")
        import atexit

        _SHARED = EtcdCluster(1).start()
        atexit.register(_SHARED.stop)
    prefix = getattr(owner, "_etcd_prefix", None)
    if prefix is None:
        prefix = unique_prefix()
        owner._etcd_prefix = prefix  # type: ignore[attr-defined]
    return ["--storage", "etcd", "--etcd-servers", _SHARED.endpoints, "--etcd-prefix", prefix]

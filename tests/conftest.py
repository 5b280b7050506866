"""Shared fixtures: kubeling started as a real process, driven by /usr/bin/kubectl and the `kubernetes` client.

- `cluster` (session): one kubeling per pytest worker, on free ports with a temp data dir.
- `ns` (function): a fresh namespace, deleted afterwards.
- `make_cluster` (function): a factory for extra, independent clusters (own flags, own data dir),
  stopped when the test ends. Use it for tests that restart or kill the process.

Every cluster picks its own free ports, so tests can run in parallel under pytest-xdist. When a test
fails, the tail of each involved kubeling log is attached to the report.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from etcd_util import BACKEND_ENV, backend_args

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT = float(os.environ.get("KUBELING_TEST_START_TIMEOUT", "60"))


def free_port() -> int:
    """A port free for both TCP and UDP (the DNS server binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found")


class KubelingCluster:
    """One kubeling process (`python -m kubeling up`) with its data dir, ports and kubeconfig."""

    def __init__(self, base_dir: str, extra_args: tuple[str, ...] = (), name: str = "kubeling") -> None:
        self.name = name
        self.base_dir = base_dir
        self.data_dir = os.path.join(base_dir, "data")
        self.kubeconfig = os.path.join(base_dir, "kubeconfig")
        self.cache_dir = os.path.join(base_dir, "kube-cache")
        self.home = os.path.join(base_dir, "home")
        self.log_path = os.path.join(base_dir, "kubeling.log")
        self.extra_args = tuple(extra_args)
        self.port = free_port()
        self.dns_port = free_port()
        self.proc: subprocess.Popen | None = None
        self._log: Any = None
        os.makedirs(self.home, exist_ok=True)

    # ---- lifecycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "kubeling", "up", "--data-dir", self.data_dir, "--port", str(self.port),
                "--dns-port", str(self.dns_port), "--kubeconfig", self.kubeconfig, "--quiet", *backend_args(self),
                *self.extra_args]

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process (again, on the same data dir and ports) and wait for /readyz."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        for attempt in range(3):
            self._log = open(self.log_path, "ab")
            self._log.write(f"\n===== start {time.strftime('%H:%M:%S')} {' '.join(self.command())}\n".encode())
            self._log.flush()
            env = dict(os.environ, HOME=self.home, PYTHONUNBUFFERED="1")
            env.pop("KUBECONFIG", None)
            self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=REPO, env=env, start_new_session=True)
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError:
                # A port taken between picking and binding (parallel workers): pick new ones and retry.
                if self.proc.poll() is not None and "address already in use" in self.log_tail(40).lower() \
                        and attempt < 2:
                    self.port, self.dns_port = free_port(), free_port()
                    continue
                self.stop()
                raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ca = os.path.join(self.data_dir, "pki", "ca.crt")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubeling exited with {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.exists(ca):
                try:
                    ctx = ssl.create_default_context(cafile=ca)
                    with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=2) as r:
                        if r.status == 200:
                            return
                except (OSError, ssl.SSLError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"kubeling not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """Graceful stop (SIGTERM), forced after timeout. Returns the exit code."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: the crash case, nothing gets a chance to flush."""
        return self._signal(signal.SIGKILL, 10.0)

    def _signal(self, sig: int, timeout: float) -> int | None:
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        return p.returncode

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- clients ------------------------------------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the real kubectl against this cluster (fresh discovery cache per cluster)."""
        e = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)
        e.pop("KUBECTL_EXTERNAL_DIFF", None)
        if env:
            e.update(env)
        cmd = [KUBECTL, f"--cache-dir={self.cache_dir}", *args]
        try:
            cp = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=e)
        except subprocess.TimeoutExpired as ex:
            raise AssertionError(f"kubectl {' '.join(args)} timed out after {timeout}s; "
                                 f"stdout={ex.stdout!r} stderr={ex.stderr!r}") from None
        if check and cp.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {cp.returncode}\n"
                                 f"--- stdout\n{cp.stdout}\n--- stderr\n{cp.stderr}")
        return cp

    def api_client(self) -> Any:
        """A kubernetes.client.ApiClient configured from the kubeconfig, as a user would build it."""
        from kubernetes import config

        return config.new_client_from_config(config_file=self.kubeconfig)

    def token(self) -> str:
        with open(os.path.join(self.data_dir, "pki", "admin.token")) as f:
            return f.read().strip()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                token: str | None = "", timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """A raw HTTPS request (for status codes kubectl would hide). token="" means the admin token;
        None sends no credentials."""
        ctx = ssl.create_default_context(cafile=os.path.join(self.data_dir, "pki", "ca.crt"))
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if token == "":
            token = self.token()
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get_json(self, path: str) -> Any:
        code, _, body = self.request("GET", path)
        assert code == 200, (code, body[:500])
        return json.loads(body)

    def wait_nodes_ready(self, names: list[str], timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = set()
            for n in self.get_json("/api/v1/nodes").get("items", []):
                for c in (n.get("status") or {}).get("conditions") or []:
                    if c.get("type") == "Ready" and c.get("status") == "True":
                        ready.add(n["metadata"]["name"])
            if all(n in ready for n in names):
                return True
            time.sleep(0.2)
        return False

    def log_tail(self, lines: int = 80) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                data = f.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(data.splitlines()[-lines:])



def table(out: str) -> tuple[list[str], list[dict[str, str]]]:
    """Parse kubectl's column output by header positions (cells may be empty): (column names, rows)."""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    cols = [(m.group(0), m.start()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    rows = []
    for ln in lines[1:]:
        row = {}
        for i, (name, start) in enumerate(cols):
            end = cols[i + 1][1] if i + 1 < len(cols) else None
            row[name] = ln[start:end].strip()
        rows.append(row)
    return [c[0] for c in cols], rows


def wait_for(pred: Any, timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll pred() until it returns something truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--storage-backend", choices=("sqlite", "etcd"), default=None,
                     help="storage every kubeling the tests start uses (default sqlite; etcd starts one per worker)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--storage-backend"):
        os.environ[BACKEND_ENV] = config.getoption("--storage-backend")


# Tests that never start a kubeling of the suite's backend: the unit tests (the store's own etcd cases
# included) and tests/test_etcd.py (its clusters are on etcd whatever the option says). They run in the
# SQLite pass; the etcd pass leaves them out instead of running them a second time unchanged.
_BACKEND_INDEPENDENT = ("unit", "test_etcd.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--storage-backend") != "etcd":
        return
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    keep, drop = [], []
    for item in items:
        rel = os.path.relpath(str(item.path), tests_dir).split(os.sep)
        (drop if rel[0] in _BACKEND_INDEPENDENT else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ---- fixtures -----------------------------------------------------------------------------------------

_LIVE: list[KubelingCluster] = []


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubelingCluster]:
    base = str(tmp_path_factory.mktemp("kubeling"))
    c = KubelingCluster(base, name="cluster")
    _LIVE.append(c)
    c.start()
    try:
        yield c
    finally:
        c.stop()
        _LIVE.remove(c)


@pytest.fixture
def ns(cluster: KubelingCluster) -> Iterator[str]:
    """A fresh namespace on the session cluster; deleted (without waiting) afterwards."""
    name = "t-" + uuid.uuid4().hex[:10]
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": name}}))
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def make_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory: make_cluster(*extra_flags, start=True) -> a new, independent KubelingCluster."""
    made: list[KubelingCluster] = []

    def factory(*extra_args: str, start: bool = True) -> KubelingCluster:
        base = str(tmp_path_factory.mktemp("kubeling-extra"))
        c = KubelingCluster(base, tuple(extra_args), name=f"extra{len(made)}")
        made.append(c)
        _LIVE.append(c)
        if start:
            c.start()
        return c

    yield factory
    for c in made:
        c.stop()
        _LIVE.remove(c)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _LIVE:
        for c in list(_LIVE):
            rep.sections.append((f"kubeling log tail ({c.name}, {c.log_path})", c.log_tail(60)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Belt and braces: never leave a kubeling behind, even on KeyboardInterrupt.
    for c in list(_LIVE):
        c.stop(timeout=5)

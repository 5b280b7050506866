"""Shared machinery of the benchmarks: a kubeling started as a separate process on free ports with a
temporary data dir, the machine description every result carries, and light HTTPS helpers.

The load generator always runs in another process than kubeling (as users' clients do), and it is kept
cheap — raw HTTPS with orjson, no typed client — because on a 2-core machine every cycle the client burns
is one the server does not get.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIR = os.path.join(REPO, "benchmarks")
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"


def free_port() -> int:
    """A port free for both TCP and UDP (kubeling's DNS server binds both)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def machine(*keys: str) -> dict[str, Any]:
    """What the figures were measured on: CPU model, cores, Python, load when measured (only `keys` if given)."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "python": platform.python_version(),
           "implementation": platform.python_implementation(), "platform": platform.platform(), "loadavg": load}
    return {k: out[k] for k in keys} if keys else out


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS (current) resident memory of a process, in KiB as /proc reports them."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def proc_mem(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of a process, in MiB."""
    names = {"VmHWM": "peak_rss_mib", "VmRSS": "rss_mib"}
    return {names[k]: round(v / 1024, 1) for k, v in proc_status(pid).items()}


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used: unlike wall time, barely moved by other load."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def node_names(workers: int, master: bool = True) -> list[str]:
    """`master` (tainted control plane) plus node1..nodeN: the shape `kubeling up --node-count` gives."""
    return (["master"] if master else []) + [f"node{i}" for i in range(1, workers + 1)]


def node_count(n: int) -> list[str]:
    """The nodes of `kubeling up --node-count n`: n in all, `master` plus node1..node(n-1)."""
    return node_names(n - 1) if n > 0 else []


class Cluster:
    """One `python -m kubeling up` process with its own data dir, free ports and kubeconfig."""

    def __init__(self, nodes: list[str] | int, *, extra: tuple[str, ...] = (), pod_start_delay: float = 0.0,
                 tmp: str | None = None, start: bool = True, ready_timeout: float = 300.0) -> None:
        self.own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="kubeling-bench-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        self.home = os.path.join(self.tmp, "home")
        self.log_path = os.path.join(self.tmp, "kubeling.log")
        os.makedirs(self.home, exist_ok=True)
        self.nodes = node_names(nodes) if isinstance(nodes, int) else list(nodes)
        self.extra = tuple(extra)
        self.pod_start_delay = pod_start_delay
        self.port, self.dns_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        self._log: Any = None
        self._ssl: ssl.SSLContext | None = None
        self._token: str | None = None
        self.started_in = 0.0
        if start:
            try:
                self.start(ready_timeout)
            except BaseException:
                self.stop()  # never leave a process or a temp dir behind
                raise

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def ca(self) -> str:
        return os.path.join(self.data_dir, "pki", "ca.crt")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "kubeling", "up", "--data-dir", self.data_dir, "--port", str(self.port),
                "--dns-port", str(self.dns_port), "--kubeconfig", self.kubeconfig,
                "--nodes", ",".join(self.nodes) or ",", "--pod-start-delay", str(self.pod_start_delay),
                "--quiet", *self.extra, *self._extra_up_args()]

    def _extra_up_args(self) -> list[str]:
        """KUBELING_BENCH_UP_ARGS adds `kubeling up` flags to every cluster, e.g. to run a scenario on etcd:
        "--storage etcd --etcd-servers http://127.0.0.1:2379 --etcd-prefix /bench-{port}" ({port} keeps
        clusters that share one etcd apart)."""
        return [a.replace("{port}", str(self.port)) for a in shlex.split(os.environ.get("KUBELING_BENCH_UP_ARGS", ""))]

    def env(self) -> dict[str, str]:
        e = dict(os.environ, HOME=self.home, PYTHONUNBUFFERED="1")
        e.pop("KUBECONFIG", None)
        return e

    def start(self, timeout: float = 300.0) -> None:
        """Start and wait until /readyz answers (the nodes may still be registering)."""
        t0 = time.monotonic()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=REPO, env=self.env(), start_new_session=True)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubeling exited with {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.exists(os.path.join(self.data_dir, "pki", "admin.token")):
                try:
                    code, _ = self.request("GET", "/readyz", timeout=2)
                    if code == 200:
                        self.started_in = time.monotonic() - t0
                        return
                except (OSError, ssl.SSLError):
                    self._ssl = None
            time.sleep(0.05)
        raise RuntimeError(f"kubeling not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.own_tmp and not os.environ.get("KUBELING_BENCH_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def mem(self) -> dict[str, float]:
        return proc_mem(self.pid)

    def cpu(self) -> float:
        return proc_cpu(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-32768:].decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(data.splitlines()[-lines:])

    # ---- clients -----------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            with open(os.path.join(self.data_dir, "pki", "admin.token")) as f:
                self._token = f.read().strip()
        return self._token

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca)
        return self._ssl

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                timeout: float = 30) -> tuple[int, bytes]:
        """One HTTPS request as the admin; body may be a dict (sent as JSON) or bytes."""
        data = orjson.dumps(body) if isinstance(body, dict | list) else body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token()}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str) -> Any:
        code, body = self.request("GET", path)
        if code != 200:
            raise RuntimeError(f"GET {path}: {code} {body[:300]!r}")
        return orjson.loads(body)

    def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        code, body = self.request("POST", path, obj)
        if code not in (200, 201):
            raise RuntimeError(f"POST {path}: {code} {body[:300]!r}")
        return orjson.loads(body)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 300) -> str:
        """The real kubectl against this cluster (own HOME and discovery cache)."""
        env = dict(self.env(), KUBECONFIG=self.kubeconfig)
        cp = subprocess.run([KUBECTL, f"--cache-dir={os.path.join(self.tmp, 'kube-cache')}", *args], input=input,
                            capture_output=True, text=True, timeout=timeout, env=env)
        if cp.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} exited {cp.returncode}: {cp.stderr.strip()}")
        return cp.stdout

    def ready_nodes(self) -> int:
        n = 0
        for node in self.get_json("/api/v1/nodes").get("items", []):
            for c in (node.get("status") or {}).get("conditions") or ():
                if c.get("type") == "Ready" and c.get("status") == "True":
                    n += 1
        return n

    def wait_nodes_ready(self, timeout: float = 300.0) -> float:
        """Seconds until every configured node reports Ready."""
        t0 = time.monotonic()
        wait_until(lambda: self.ready_nodes() >= len(self.nodes), timeout, "all nodes Ready", interval=0.1)
        return time.monotonic() - t0


def wait_until(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll pred() until truthy; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


def ensure_namespace(c: Cluster, name: str) -> None:
    """Create the namespace and wait for its `default` ServiceAccount (pods are refused before it exists)."""
    code, body = c.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": name}})
    if code not in (201, 409):
        raise RuntimeError(f"create namespace {name}: {code} {body[:200]!r}")
    try:
        wait_until(lambda: c.request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] == 200, 10,
                   f"the default ServiceAccount of {name}", interval=0.05)
    except TimeoutError:
        pass  # a kubeling without the ServiceAccount controller (older builds, for before/after figures)


def is_ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    if st.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ())


def dump_json(doc: Any, path: str) -> None:
    if path == "-":
        print(json.dumps(doc, indent=2))
        return
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


# ---- async load (aiohttp over HTTPS with keep-alive) -----------------------------------------------------

def session(c: Cluster, conns: int = 64) -> Any:
    """An aiohttp session to the cluster as the admin, keep-alive, `conns` connections at most."""
    import aiohttp

    return aiohttp.ClientSession(
        base_url=c.url, connector=aiohttp.TCPConnector(ssl=c.ssl_context(), limit=conns, keepalive_timeout=60),
        headers={"Authorization": f"Bearer {c.token()}", "Content-Type": "application/json"},
        json_serialize=lambda o: orjson.dumps(o).decode())


class ReadyWatch:
    """Counts objects of one list path that satisfy `ok` through a watch stream, from a given revision.

    Watching is far cheaper for the server than polling a 1,000-item list, so waiting does not disturb
    what is being measured."""

    def __init__(self, s: Any, path: str, ok: Callable[[dict[str, Any]], bool], want: int) -> None:
        self.s, self.path, self.ok, self.want = s, path, ok, want
        self.good: set[str] = set()
        self.done_at: float | None = None
        self.first_at: float | None = None
        self._task: Any = None
        self._event: Any = None

    async def start(self) -> None:
        import asyncio

        self._event = asyncio.Event()
        async with self.s.get(self.path, params={"limit": "1"}) as r:
            rv = orjson.loads(await r.read())["metadata"]["resourceVersion"]
        self._task = asyncio.get_running_loop().create_task(self._run(rv))

    async def _run(self, rv: str) -> None:
        import aiohttp

        params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "false"}
        async with self.s.get(self.path, params=params, timeout=aiohttp.ClientTimeout(total=None)) as r:
            async for line in r.content:
                ev = orjson.loads(line)
                obj = ev["object"]
                name = obj.get("metadata", {}).get("name", "")
                if ev["type"] != "DELETED" and self.ok(obj):
                    if self.first_at is None:
                        self.first_at = time.monotonic()
                    self.good.add(name)
                else:
                    self.good.discard(name)
                if len(self.good) >= self.want and self.done_at is None:
                    self.done_at = time.monotonic()
                    self._event.set()

    async def wait(self, timeout: float) -> float:
        """Monotonic time at which `want` objects were good."""
        import asyncio

        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{len(self.good)}/{self.want} ready after {timeout:g}s on {self.path}") from None
        finally:
            self._task.cancel()
        assert self.done_at is not None
        return self.done_at

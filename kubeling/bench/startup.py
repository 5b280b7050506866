"""Startup: wall time of `kubeling up --detach` (which returns once /readyz answers and every node reports
Ready) on a fresh data dir, with 3 nodes and with 1,000 nodes; also a restart on the existing data dir
(PKI and state already there) and `kubeling down`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from .common import REPO, free_port, proc_mem

NAME = "startup"
DESCRIPTION = "`kubeling up --detach` → all nodes Ready (fresh data dir, restart, down)"
DEFAULT_RUNS = 3
PARAMS = {"full": {"sizes": [3, 1000]}, "tiny": {"sizes": [3, 10]}}


def _kubeling(*args: str, env: dict[str, str], timeout: float = 300) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "kubeling", *args], capture_output=True, text=True,
                        timeout=timeout, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
    el = time.monotonic() - t0
    if cp.returncode != 0:
        raise RuntimeError(f"kubeling {' '.join(args)} exited {cp.returncode}: {cp.stderr.strip()[-2000:]}")
    return el, cp


def _pid(data: str) -> int | None:
    try:
        with open(os.path.join(data, "kubeling.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def one(nodes: int) -> dict[str, Any]:
    """`up --detach` (fresh), `down`, `up --detach` again on the same data dir, `down`."""
    tmp = tempfile.mkdtemp(prefix="kubeling-bench-startup-")
    data = os.path.join(tmp, "data")
    env = dict(os.environ, HOME=os.path.join(tmp, "home"))
    env.pop("KUBECONFIG", None)
    up = ["up", "--detach", "--data-dir", data, "--port", str(free_port()), "--dns-port", str(free_port()),
          "--kubeconfig", os.path.join(tmp, "kubeconfig"), "--pod-start-delay", "0", "--wait", "600"]
    if nodes != 3:
        up += ["--node-count", str(nodes)]
    out: dict[str, Any] = {}
    try:
        out["up_s"], _ = _kubeling(*up, env=env)
        pid = _pid(data)
        if pid is not None:
            out["rss_mib"] = proc_mem(pid).get("rss_mib")
        out["down_s"], _ = _kubeling("down", "--data-dir", data, "--timeout", "60", env=env)
        out["restart_s"], _ = _kubeling(*up, env=env)
    finally:
        if _pid(data) is not None:
            _kubeling("down", "--data-dir", data, "--timeout", "60", env=env)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run(p: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for n in p["sizes"]:
        for k, v in one(n).items():
            base, _, unit = k.rpartition("_")
            res[f"{base}_{n}_nodes_{unit}"] = v
    return res

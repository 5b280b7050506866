"""Benchmark scenarios of `kubeling bench` — one implementation per scenario, shared with benchmarks/*.py.

Each scenario is `run(params) -> {metric: value}` that starts its own fresh cluster(s) in temporary data
dirs (`--pod-start-delay 0`) as separate processes and drives them over HTTPS from this process. `startup`,
`pods` and `statefulset` live in this package (benchmarks/pods.py etc. are thin wrappers); `api`,
`daemonset`, `deployment` and `dns` live in benchmarks/*.py of the source tree and are loaded from there.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .common import BENCH_DIR


@dataclass
class Scenario:
    name: str
    description: str
    run: Callable[[dict[str, Any]], dict[str, Any]]
    params: dict[str, dict[str, Any]]  # "full" (the sizes) and "tiny" (smoke test)
    default_runs: int = 3
    targets: list[tuple[str, str, float, str]] = field(default_factory=list)  # (metric, "<="|">=", value, label)


def load_script(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (under a private name: benchmarks/dns.py must not shadow dnspython)."""
    modname = f"_kubeling_bench_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    path = os.path.join(BENCH_DIR, f"{name}.py")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: `kubeling bench {name}` runs from a source checkout")
    spec = importlib.util.spec_from_file_location(modname, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[modname]
        raise
    return mod


def _numeric(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into prefix_key → value, keeping numbers (and bools) only."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_numeric(v, key + "_"))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[key] = v
    return out


# ---- scenarios implemented in benchmarks/*.py --------------------------------------------------------------

def _run_api(p: dict[str, Any]) -> dict[str, Any]:
    return load_script("api").run(**p)


def _run_daemonset(p: dict[str, Any]) -> dict[str, Any]:
    mod = load_script("daemonset")
    res = mod.run(argparse.Namespace(nodes=p["nodes"], max_unavailable=p["max_unavailable"],
                                     timeout=p.get("timeout", 900.0), keep=False))
    res.pop("machine", None)
    return _numeric(res)


def _run_deployment(p: dict[str, Any]) -> dict[str, Any]:
    mod = load_script("deployment")
    args = {"max_surge": "25%", "max_unavailable": "25%", "timeout": 600.0, "keep": False}
    args.update(p)
    res = mod.run(argparse.Namespace(**args))
    res.pop("machine", None)
    res.pop("config", None)  # the parameters, already in the report
    return _numeric(res)


def _run_dns(p: dict[str, Any]) -> dict[str, Any]:
    res = load_script("dns").run(argparse.Namespace(**p))
    out: dict[str, Any] = {}
    for row in res["results"]:
        key = row["scenario"].lower().replace(" ", "_")
        out[f"{key}_qps"] = row["qps"]
        out[f"{key}_p99_ms"] = row["p99_ms"]
        if row.get("errors"):
            out[f"{key}_errors"] = row["errors"]
    out.update(_numeric(res.get("setup") or {}, "setup_"))
    out.update(_numeric(res.get("ready_to_resolvable") or {}, "ready_to_resolvable_"))
    return out


def _native(modname: str, targets: list[tuple[str, str, float, str]]) -> Scenario:
    m = importlib.import_module(f"{__name__}.{modname}")
    return Scenario(m.NAME, m.DESCRIPTION, m.run, m.PARAMS, m.DEFAULT_RUNS, targets)


def scenarios() -> dict[str, Scenario]:
    """Every scenario, in the order `kubeling bench` runs them; targets are issue 10's."""
    out = [
        _native("startup", [("up_3_nodes_s", "<=", 1.5, "`kubeling up --detach`, 3 nodes, to all Ready")]),
        Scenario("api", "API server over HTTPS with keep-alive vs a bare aiohttp+SQLite baseline", _run_api,
                 {"full": {"duration": 5.0, "concurrency": 32, "watchers": 100, "pods": 1000},
                  "tiny": {"duration": 0.3, "concurrency": 4, "watchers": 3, "pods": 20}}, 3,
                 [("create_pod_rps", ">=", 1000, "API CREATE pods over HTTPS (req/s)"),
                  ("create_pod_p99_ms", "<=", 100, "API CREATE pods p99 (ms)"),
                  ("get_rps", ">=", 3000, "API GET (req/s)"),
                  ("ratio_create", ">=", 0.5, "API CREATE kubeling / bare baseline"),
                  ("ratio_get", ">=", 0.5, "API GET kubeling / bare baseline")]),
        _native("pods", []),
        _native("statefulset", [("parallel_ready_s", "<=", 15, "StatefulSet 1,000 Parallel with claims → all Ready"),
                                ("ordered_ready_s", "<=", 15, "StatefulSet 200 OrderedReady → all Ready")]),
        Scenario("daemonset", "DaemonSet on N nodes: create → all Ready; rolling update maxUnavailable 10%",
                 _run_daemonset, {"full": {"nodes": 5000, "max_unavailable": "10%"},
                                  "tiny": {"nodes": 6, "max_unavailable": "10%", "timeout": 60.0}}, 1,
                 [("create_all_ready_s", "<=", 30, "DaemonSet on 5,000 nodes → all Ready"),
                  ("peak_rss_mib", "<=", 2048, "DaemonSet on 5,000 nodes: peak RSS (MiB)")]),
        Scenario("deployment", "Deployment of N replicas: create → all available; rolling update", _run_deployment,
                 {"full": {"replicas": 1000, "nodes": 100}, "tiny": {"replicas": 10, "nodes": 3, "timeout": 60.0}},
                 3, []),
        Scenario("dns", "cluster DNS queries/s over UDP from client processes", _run_dns,
                 {"full": {"duration": 5.0, "clients": 2, "window": 16, "pods": 1000, "nodes": 10, "samples": 20},
                  "tiny": {"duration": 0.3, "clients": 1, "window": 4, "pods": 5, "nodes": 1, "samples": 1}}, 3,
                 [("pod_name_qps", ">=", 10000, "DNS queries/s (pod names)")]),
    ]
    return {s.name: s for s in out}

"""`kubeling bench` smoke test: every scenario runs at a tiny size, so none of them can rot.

No timing is asserted (this machine is shared and noisy): only that each scenario completes against a
real kubeling and reports the figures it promises.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kubeling.cli.bench_cmd import median_of, run_bench

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# scenario -> metrics its tiny run must report
EXPECTED = {
    "api": ["create_rps", "create_pod_rps", "create_pod_p99_ms", "get_rps", "update_rps", "list_rps", "watch_rps",
            "baseline_create_rps", "baseline_get_rps", "ratio_create", "ratio_get"],
    "pods": ["create_s", "all_ready_s", "peak_rss_mib", "cpu_s"],
    "statefulset": ["parallel_ready_s", "parallel_bound_claims", "ordered_ready_s"],
    "daemonset": ["create_all_ready_s", "rolling_update_s", "peak_rss_mib"],
    "deployment": ["create_to_available_s", "rolling_update_s", "peak_rss_mib"],
    "dns": ["pod_name_qps", "headless_svc_qps", "nxdomain_miss_qps", "setup_pods_ready_s"],
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_tiny(scenario: str) -> None:
    doc = run_bench([scenario], runs=1, tiny=True)
    sc = doc["scenarios"][scenario]
    assert sc["error"] is None, sc["error"]
    assert len(sc["runs"]) == 1
    missing = [m for m in EXPECTED[scenario] if not isinstance(sc["median"].get(m), int | float)]
    assert not missing, f"{scenario} did not report {missing}: {sc['median']}"
    if scenario == "statefulset":
        assert sc["median"]["parallel_bound_claims"] == sc["params"]["parallel"]
    if scenario == "api":
        assert not any(k.endswith("_errors") for k in sc["median"]), sc["median"]


def test_cli_startup_json(tmp_path: os.PathLike) -> None:
    """The command line end to end: `kubeling bench startup --tiny --json FILE` (fresh data dirs, up/down)."""
    out = os.path.join(tmp_path, "bench.json")
    cp = subprocess.run([sys.executable, "-m", "kubeling", "bench", "startup", "--tiny", "--runs", "1", "--json", out],
                        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert cp.returncode == 0, cp.stderr[-3000:]
    assert "up_3_nodes_s" in cp.stdout
    with open(out) as f:
        doc = json.load(f)
    assert {"cpu", "cores", "python"} <= set(doc["machine"])
    med = doc["scenarios"]["startup"]["median"]
    for k in ("up_3_nodes_s", "restart_3_nodes_s", "down_3_nodes_s", "up_10_nodes_s"):
        assert isinstance(med.get(k), int | float), med


def test_cli_list_and_unknown() -> None:
    cp = subprocess.run([sys.executable, "-m", "kubeling", "bench", "--list"], capture_output=True, text=True,
                        timeout=60, cwd=REPO)
    assert cp.returncode == 0
    for name in ("startup", "api", "pods", "statefulset", "daemonset", "deployment", "dns"):
        assert name in cp.stdout
    cp = subprocess.run([sys.executable, "-m", "kubeling", "bench", "nosuch"], capture_output=True, text=True,
                        timeout=60, cwd=REPO)
    assert cp.returncode != 0 and "unknown scenario" in cp.stderr


def test_median_of() -> None:
    runs = [{"a": 1.0, "b": 5, "s": "x"}, {"a": 3.0, "b": 7}, {"a": 2.0}]
    assert median_of(runs) == {"a": 2.0, "b": 6.0}

"""Crash safety on SQLite (issue 9, must-show 3): SIGKILL `kubeling up` at random moments during a
StatefulSet rollout, restart it each time, and end with exactly the right pods and claims — no
duplicate ordinal, no orphaned claim — and no lost acknowledged write.

Default size keeps the suite fast (30 replicas, 5 kills); KUBELING_LONG=1 runs the issue's
200 replicas and 20 kills. KUBELING_CRASH_SEED fixes the kill moments to replay a failure.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Any

import pytest
from conftest import wait_for
from statefulset_checks import STS, check_statefulset, ready_count

LONG = os.environ.get("KUBELING_LONG") == "1"
REPLICAS = 200 if LONG else 30
KILLS = 20 if LONG else 5


class AckedWriter(threading.Thread):
    """Creates ConfigMaps over raw HTTPS while kubeling is being killed; remembers every acknowledged one."""

    def __init__(self, cluster: Any) -> None:
        super().__init__(daemon=True)
        self.c = cluster
        self.acked: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            name = f"acked-{i}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                               "data": {"i": str(i)}}).encode()
            try:
                code, _, _ = self.c.request("POST", "/api/v1/namespaces/default/configmaps", body,
                                            {"Content-Type": "application/json"}, timeout=5)
            except Exception:  # down, or killed mid-request: not acknowledged
                time.sleep(0.05)
                continue
            if code == 201:
                self.acked.append(name)
                i += 1
            elif code == 409:  # created by an attempt whose answer was lost: it exists, move on
                i += 1
            else:
                time.sleep(0.05)


def _template_hash(c: Any) -> tuple[str, str]:
    st = json.loads(c.kubectl("get", "sts", "web", "-o", "json").stdout).get("status") or {}
    return st.get("currentRevision", ""), st.get("updateRevision", "")


def _rolled_out(c: Any, replicas: int) -> bool:
    cp = c.kubectl("get", "sts", "web", "-o", "json", check=False)
    if cp.returncode != 0:
        return False
    sts = json.loads(cp.stdout)
    st = sts.get("status") or {}
    return (st.get("readyReplicas") == replicas and st.get("updatedReplicas") == replicas
            and st.get("currentRevision") == st.get("updateRevision")
            and st.get("observedGeneration") == sts["metadata"]["generation"])


@pytest.mark.timeout(2400 if LONG else 600)
def test_sigkill_during_statefulset_rollout(make_cluster: Any) -> None:
    seed = int(os.environ.get("KUBELING_CRASH_SEED", str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    print(f"crash seed {seed} ({REPLICAS} replicas, {KILLS} kills)")
    c = make_cluster("--pod-start-delay", "0.1")
    writer = AckedWriter(c)
    writer.start()
    kills = 0
    per_replica = 0.25  # rough time one more ready replica takes, to spread kills over the rollout

    def kill_restart() -> None:
        nonlocal kills
        c.kill()
        kills += 1
        c.start()

    # Phase 1: create the StatefulSet (OrderedReady: one pod after the other) and crash during scale-up.
    c.kubectl("apply", "-f", "-", input=STS.replace("REPLICAS", str(REPLICAS)))
    for _ in range(KILLS - KILLS // 2):
        time.sleep(rnd.uniform(0.2, max(0.5, REPLICAS * per_replica / KILLS)))
        kill_restart()
    wait_for(lambda: ready_count(c) == REPLICAS, 120 + REPLICAS * 3, interval=0.5,
             what=f"{REPLICAS} ready replicas (seed {seed})")
    check_statefulset(c, REPLICAS)

    # Phase 2: a rolling update of the template (every pod replaced, highest ordinal first), crashing during it.
    c.kubectl("patch", "sts", "web", "-p", json.dumps({"spec": {"template": {"metadata": {
        "annotations": {"kubeling.test/rollout": "2"}}}}}))
    for _ in range(KILLS // 2):
        time.sleep(rnd.uniform(0.2, max(0.5, 2 * REPLICAS * per_replica / KILLS)))
        kill_restart()
    wait_for(lambda: _rolled_out(c, REPLICAS), 120 + REPLICAS * 4, interval=0.5,
             what=f"rolling update of {REPLICAS} replicas to finish (seed {seed})")
    writer.halt.set()
    writer.join(10)
    assert kills == KILLS

    # Exactly the right pods and claims, all on the new revision.
    check_statefulset(c, REPLICAS)
    _, update = _template_hash(c)
    pods = json.loads(c.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert {p["metadata"]["labels"].get("controller-revision-hash") for p in pods} == {update}
    assert all(not p["metadata"].get("deletionTimestamp") for p in pods)
    # One ControllerRevision per template version, no duplicates from re-created history.
    revs = json.loads(c.kubectl("get", "controllerrevisions", "-o", "json").stdout)["items"]
    ours = [r for r in revs if (r["metadata"].get("labels") or {}).get("app") == "web"]
    assert len(ours) == 2, [r["metadata"]["name"] for r in ours]
    # No acknowledged write was lost.
    existing = {cm["metadata"]["name"] for cm in json.loads(c.kubectl("get", "configmaps", "-o", "json").stdout)["items"]}
    missing = [n for n in writer.acked if n not in existing]
    assert not missing, f"{len(missing)} acknowledged writes lost (seed {seed}): {missing[:10]}"
    assert len(writer.acked) > 0

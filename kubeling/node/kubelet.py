"""A simulated kubelet: what one node agent does, as upstream's kubelet does it observably.

- Registration: the Node object with capacity/allocatable, nodeInfo, addresses, the default labels and
  conditions (kubelet_node_status.go, nodestatus/setters.go), reconciled when the Node already exists.
- Heartbeats: the node Lease in kube-node-lease renewed every 10 s; the node status patched when it
  differs from what the kubelet would post, or every 5 min (nodeStatusReportFrequency).
- Pods bound to the node: the kubelet's status sequence (status/generate.go, kubelet_pods.go
  convertToAPIContainerStatuses): Pending with containers waiting (ContainerCreating or PodInitializing),
  init containers in order, Running with a pod IP from the node's CIDR, the five pod conditions,
  readiness (readinessProbe.initialDelaySeconds, the `kubeling.dev/ready` fault injection), optional exit
  codes with restart back-off, and graceful termination ending in DELETE gracePeriodSeconds=0 with a uid
  precondition, as the status manager does.

Nothing here runs a loop of its own: the simulator (simulator.py) owns one pod work queue and one heartbeat
scheduler for all agents, so thousands of agents are plain objects. The timeline of a pod is computed from
wall-clock anchors (when the kubelet admitted it, when its containers started), so a sync can run again at
any time, and after a process restart the anchors are recovered from the pod's status.

Simulation convention for batch workloads: a pod whose controller ownerReference is a Job runs for
JOB_POD_RUN_DURATION (1 s) and exits 0 unless its `kubeling.dev/run-duration` / `kubeling.dev/exit-code`
annotations (usually set on the Job's pod template) say otherwise, so Jobs complete as kwok's default
"pod-complete" stage lets them. With restartPolicy Never the pod ends Succeeded/Failed with a terminated
state (reason Completed/Error); with OnFailure a failing container restarts with the kubelet's back-off.
A Job container still running when its pod is deleted exits 143 (SIGTERM, reason Error), so the pod
ends Failed, as a real workload killed mid-run does.

Simulation convention for resource usage (kubectl top, the HPA): a running container uses what the pod
annotation `kubeling.dev/usage` says ("cpu=250m,memory=64Mi" for every container, or JSON per container,
{"web": {"cpu": "250m"}}), else 10 % of its requests (1m / 4Mi without); a node adds 100m / 512Mi of system
usage. The kubelet itself does nothing for it: kubeling.api.metrics computes usage from the pod, and the API
server serves it as metrics.k8s.io (apiserver.metrics_api).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..api import meta
from ..api.errors import ApiError

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.32.4"
CONTAINER_RUNTIME_VERSION = "containerd://1.7.24"
OS_IMAGE = "Debian GNU/Linux 12 (bookworm)"
KERNEL_VERSION = "6.8.0-48-generic"
KUBELET_PORT = 10250

SIMULATED_ANNOTATION = "kubeling.dev/simulated"
AGENT_ANNOTATION = "kubeling.dev/agent"
CAPACITY_ANNOTATION = "kubeling.dev/capacity"
READY_ANNOTATION = "kubeling.dev/ready"
EXIT_CODE_ANNOTATION = "kubeling.dev/exit-code"
RUN_DURATION_ANNOTATION = "kubeling.dev/run-duration"
TERMINATION_DELAY_ANNOTATION = "kubeling.dev/termination-delay"
JOB_POD_RUN_DURATION = 1.0  # seconds a Job-owned pod runs before exiting 0 when not annotated

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
NODE_STATUS_REPORT_FREQUENCY = 300.0  # kubelet nodeStatusReportFrequency
BACKOFF_MAX = 300.0  # kubelet MaxContainerBackOff

DEFAULT_CAPACITY = {
    "cpu": "4",
    "ephemeral-storage": "102626232Ki",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    "memory": "8129280Ki",
    "pods": "110",
}

# The node conditions the kubelet owns, in the order it posts them, with its reasons and messages.
NODE_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
KUBELET_POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


# ---- addressing ------------------------------------------------------------------------------------------

def pod_cidr(index: int) -> str:
    """10.244.N.0/24 for the first 256 nodes (the cluster CIDR 10.244.0.0/16); larger clusters continue in
    10.128.0.0/10, clear of the Service CIDR 10.96.0.0/12."""
    if index < 256:
        return f"10.244.{index}.0/24"
    n = index - 256
    return f"10.{128 + (n >> 8)}.{n & 255}.0/24"


def cidr_index(cidr: str | None) -> int | None:
    """The node index a pod CIDR of pod_cidr() stands for, or None for foreign CIDRs."""
    if not cidr:
        return None
    try:
        a, b, c, _ = cidr.split("/")[0].split(".")
        a_, b_, c_ = int(a), int(b), int(c)
    except ValueError:
        return None
    if a_ != 10:
        return None
    if b_ == 244:
        return c_
    if 128 <= b_ < 192:
        return 256 + ((b_ - 128) << 8) + c_
    return None


def node_ip(index: int) -> str:
    """A per-node InternalIP, as kind's docker network hands them out (172.18.0.2, .3, ...)."""
    n = index + 2
    return f"172.18.{n >> 8}.{n & 255}"


class IPAllocator:
    """host-local IPAM for one node's /24: .2 .. .254, round-robin from the last handed out, so a freed
    address is reused as late as possible; never two live pods on one address."""

    def __init__(self, cidr: str) -> None:
        a, b, c, _ = cidr.split("/")[0].split(".")
        self.prefix = f"{a}.{b}.{c}."
        self.by_uid: dict[str, int] = {}
        self.used: set[int] = set()
        self.last = 1

    def contains(self, ip: str | None) -> bool:
        return bool(ip) and ip.startswith(self.prefix)

    def restore(self, uid: str, ip: str) -> None:
        try:
            host = int(ip[len(self.prefix):])
        except ValueError:
            return
        if 2 <= host <= 254 and host not in self.used:
            self.used.add(host)
            self.by_uid[uid] = host

    def allocate(self, uid: str) -> str | None:
        host = self.by_uid.get(uid)
        if host is not None:
            return self.prefix + str(host)
        if len(self.used) >= 253:
            return None
        h = self.last
        while True:
            h = h + 1 if h < 254 else 2
            if h not in self.used:
                break
        self.last = h
        self.used.add(h)
        self.by_uid[uid] = h
        return self.prefix + str(h)

    def release(self, uid: str) -> None:
        host = self.by_uid.pop(uid, None)
        if host is not None:
            self.used.discard(host)


# ---- small helpers ---------------------------------------------------------------------------------------

def _hex(*parts: str, n: int = 64) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def normalize_image(image: str) -> str:
    """The reference containerd reports for an image as written in a spec (docker.io/library/..., :latest)."""
    name, digest = (image.split("@", 1) + [""])[:2]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    ref = normalize_image(image)
    if "@" in ref:
        return ref
    repo = ref.rsplit(":", 1)[0]
    return f"{repo}@sha256:{_hex('image', ref)}"


def go_duration(seconds: float) -> str:
    """Go's time.Duration String() for values truncated to milliseconds (what kubelet events print)."""
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        s = f"{ms / 1000:.3f}".rstrip("0").rstrip(".")
        return f"{s}s"
    m, rem = divmod(ms, 60_000)
    s = f"{rem / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{m}m{s}s"


def _float_ann(ann: dict[str, str], key: str) -> float | None:
    v = ann.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except ValueError:
        return None
    return f if f >= 0 else None


def _int_ann(ann: dict[str, str], key: str) -> int | None:
    v = ann.get(key)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return None


def _ts(t: float) -> str:
    return meta.now_rfc3339(t)


def _fmt_list(names: list[str]) -> str:
    """Go's %s of a []string: [a b c]."""
    return "[" + " ".join(names) + "]"


def _owned_by_job(md: dict[str, Any]) -> bool:
    """Whether the pod's controller ownerReference is a batch Job."""
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == "Job" and str(ref.get("apiVersion", "")).startswith("batch/"):
            return True
    return False


def _backoff(attempt: int) -> float:
    """Delay before starting attempt+1 after attempt exited: the first restart is immediate, then
    10 s doubling to 5 min (kubelet's container restart back-off)."""
    if attempt <= 0:
        return 0.0
    return min(10.0 * (2 ** (attempt - 1)), BACKOFF_MAX)


def is_restartable_init(c: dict[str, Any]) -> bool:
    return c.get("restartPolicy") == "Always"


# ---- pod runtime state -----------------------------------------------------------------------------------

@dataclass
class PodRuntime:
    """What the kubelet remembers about one pod (its sandbox). Recoverable from the pod's status."""

    uid: str
    accepted: float  # wall time the kubelet admitted the pod (status.startTime)
    anchor_attempt: int = 0  # main containers: attempt number starting at anchor_start
    anchor_start: float | None = None  # wall time that attempt started (None: t0 + start delay)
    evented_until: float = 0.0  # milestones at or before this wall time already had their events
    kill_seen: float | None = None
    deleted: bool = False  # the final DELETE went out; nothing more to do
    ip: str | None = None


@dataclass
class _Cycle:
    """A main container's state at some instant."""

    kind: str  # "waiting" | "running" | "terminated" | "backoff"
    attempt: int
    started: float = 0.0
    finished: float = 0.0
    exit_code: int = 0
    next_wake: float | None = None
    last: tuple[float, float, int] | None = None  # previous attempt (started, finished, exit code)


def _cycle_at(anchor_attempt: int, anchor_start: float, run: float, exit_code: int | None, policy: str,
              now: float) -> _Cycle:
    """Walk the container's attempts from the anchor to `now`."""
    k, s = anchor_attempt, anchor_start
    last: tuple[float, float, int] | None = None
    for _ in range(10_000):
        if now < s:
            if last is None:
                return _Cycle("waiting", k, next_wake=s)
            return _Cycle("backoff", k - 1, started=last[0], finished=last[1], exit_code=last[2], next_wake=s,
                          last=last)
        if exit_code is None:
            return _Cycle("running", k, started=s, last=last)
        end = s + run
        if now < end:
            return _Cycle("running", k, started=s, next_wake=end, last=last)
        restart = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        if not restart:
            return _Cycle("terminated", k, started=s, finished=end, exit_code=exit_code, last=last)
        last = (s, end, exit_code)
        k, s = k + 1, end + _backoff(k)
        if run <= 0 and s <= end:
            # An instant exit restarted without back-off: it exits again at once; go to the next attempt.
            continue
    return _Cycle("running", k, started=s, last=last)


def _terminated_state(started: float, finished: float, code: int, cid: str, reason: str | None = None
                      ) -> dict[str, Any]:
    return {"terminated": {"containerID": cid, "exitCode": code, "finishedAt": _ts(finished),
                           "reason": reason or ("Completed" if code == 0 else "Error"), "startedAt": _ts(started)}}


def _volume_mounts(c: dict[str, Any]) -> list[dict[str, Any]] | None:
    vms = c.get("volumeMounts")
    if not vms:
        return None
    out = []
    for vm in vms:
        m = {"mountPath": vm.get("mountPath", ""), "name": vm.get("name", "")}
        if vm.get("readOnly"):
            m["readOnly"] = True
            m["recursiveReadOnly"] = "Disabled"
        out.append(m)
    return out


def _condition(cur: dict[str, dict[str, Any]], type_: str, status: str, now: float, reason: str | None = None,
               message: str | None = None) -> dict[str, Any]:
    """A pod condition keeping lastTransitionTime when the status did not change (status manager)."""
    c: dict[str, Any] = {"lastProbeTime": None, "lastTransitionTime": _ts(now), "status": status, "type": type_}
    old = cur.get(type_)
    if old is not None and old.get("status") == status and old.get("lastTransitionTime"):
        c["lastTransitionTime"] = old["lastTransitionTime"]
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


# ---- the agent -------------------------------------------------------------------------------------------

class NodeAgent:
    """One simulated kubelet. Plain state plus coroutines the simulator calls; no tasks of its own."""

    def __init__(self, sim: Simulator, name: str, index: int, *, labels: dict[str, str] | None = None,
                 taints: list[dict[str, Any]] | None = None, control_plane: bool = False) -> None:
        self.sim = sim
        self.name = name
        self.index = index
        self.cidr = pod_cidr(index)
        self.ip = node_ip(index)
        self.extra_labels = dict(labels or {})
        self.extra_taints = list(taints or [])
        self.control_plane = control_plane
        self.alloc = IPAllocator(self.cidr)
        self._alloc_seeded = False
        self.pods: dict[str, PodRuntime] = {}
        self.images: set[str] = set()
        self.paused = False
        self.stopped = False
        self.registered = False
        self.node_uid = ""
        self.capacity = dict(DEFAULT_CAPACITY)
        self._capacity_src: tuple[str | None] | None = None
        self.lease: dict[str, Any] | None = None
        self.last_status_report = 0.0
        self.boot_id = str(uuid.uuid4())
        self._recorder = None

    # ---- identity ------------------------------------------------------------------------------------
    @property
    def recorder(self):
        if self._recorder is None:
            self._recorder = self.sim.ctx.recorder("kubelet", self.name)
        return self._recorder

    def default_labels(self) -> dict[str, str]:
        return {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux"}

    def set_index(self, index: int) -> None:
        self.index = index
        self.cidr = pod_cidr(index)
        self.ip = node_ip(index)
        self.alloc = IPAllocator(self.cidr)
        self._alloc_seeded = False

    def node_info(self) -> dict[str, str]:
        return {"architecture": "amd64", "bootID": self.boot_id,
                "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION, "kernelVersion": KERNEL_VERSION,
                "kubeProxyVersion": "", "kubeletVersion": KUBELET_VERSION,
                "machineID": _hex("machine", self.name, n=32), "operatingSystem": "linux", "osImage": OS_IMAGE,
                "systemUUID": str(uuid.UUID(_hex("system", self.name, n=32)))}

    def node_conditions(self, now: float, current: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        cur = {c.get("type"): c for c in current or ()}
        hb = _ts(now)
        out = []
        for type_, status, reason, message in NODE_CONDITIONS:
            old = cur.get(type_)
            lt = old["lastTransitionTime"] if old and old.get("status") == status and old.get(
                "lastTransitionTime") else hb
            out.append({"lastHeartbeatTime": hb, "lastTransitionTime": lt, "message": message, "reason": reason,
                        "status": status, "type": type_})
        return out

    def node_status(self, now: float, current: dict[str, Any] | None = None) -> dict[str, Any]:
        cap = dict(self.capacity)
        return {
            "addresses": [{"address": self.ip, "type": "InternalIP"}, {"address": self.name, "type": "Hostname"}],
            "allocatable": dict(cap),
            "capacity": cap,
            "conditions": self.node_conditions(now, (current or {}).get("conditions")),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": self.node_info(),
            "runtimeHandlers": [
                {"features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}, "name": "runc"},
                {"features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}, "name": ""},
            ],
        }

    def apply_capacity(self, node: dict[str, Any] | None) -> bool:
        """Capacity: defaults, settings["node_capacity"], then the Node's kubeling.dev/capacity annotation
        (`kubeling node add --cpu/--memory/--pods`). True when it changed."""
        ann = ((node or {}).get("metadata") or {}).get("annotations") or {}
        raw = ann.get(CAPACITY_ANNOTATION)
        if self._capacity_src is not None and raw == self._capacity_src[0]:
            return False
        cap = dict(DEFAULT_CAPACITY)
        cap.update({str(k): str(v) for k, v in (self.sim.settings.get("node_capacity") or {}).items()})
        if raw:
            try:
                extra = orjson.loads(raw)
                if isinstance(extra, dict):
                    cap.update({str(k): str(v) for k, v in extra.items()})
            except ValueError:
                log.warning("node %s: ignoring malformed %s annotation", self.name, CAPACITY_ANNOTATION)
        changed = self._capacity_src is not None and cap != self.capacity
        self._capacity_src = (raw,)
        self.capacity = cap
        return changed

    def initial_node(self, now: float) -> dict[str, Any]:
        """The Node the kubelet registers (kubelet_node_status.go initialNode + setters)."""
        labels = self.default_labels()
        labels.update(self.extra_labels)
        taints = list(self.extra_taints)
        if self.control_plane:
            labels.setdefault(CONTROL_PLANE_LABEL, "")
            labels.setdefault("node.kubernetes.io/exclude-from-external-load-balancers", "")
            if not any(t.get("key") == CONTROL_PLANE_LABEL for t in taints):
                taints.append({"effect": "NoSchedule", "key": CONTROL_PLANE_LABEL})
        annotations = {"node.alpha.kubernetes.io/ttl": "0",
                       "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
        if self.sim.node_annotation:
            annotations.update(self.sim.node_annotation)
        spec: dict[str, Any] = {"podCIDR": self.cidr, "podCIDRs": [self.cidr]}
        if taints:
            spec["taints"] = taints
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": labels, "annotations": annotations},
                "spec": spec, "status": self.node_status(now)}

    # ---- registration and heartbeats -----------------------------------------------------------------
    async def register(self, existing: dict[str, Any] | None = None) -> None:
        """Create the Node, or reconcile an existing one (kubelet tryRegisterWithAPIServer), then post
        its status and take the lease. `existing`: the Node as just listed (read only), to skip a
        create that would fail."""
        client = self.sim.client
        now = time.time()
        node: dict[str, Any] | None = existing
        created = False
        if node is None:
            try:
                node = await client.create("nodes", None, self.initial_node(now))
                created = True
            except ApiError as e:
                if e.code != 409:
                    raise
                node = await client.get("nodes", None, self.name)
        if not created:
            ann = node["metadata"].get("annotations") or {}
            self.apply_capacity(node)
            self.paused = ann.get(AGENT_ANNOTATION) == "stopped"
            patch: dict[str, Any] = {}
            labels = node["metadata"].get("labels") or {}
            missing = {k: v for k, v in self.default_labels().items() if labels.get(k) != v}
            if ann.get("volumes.kubernetes.io/controller-managed-attach-detach") != "true":
                patch.setdefault("metadata", {})["annotations"] = {
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
            if missing:
                patch.setdefault("metadata", {})["labels"] = missing
            spec = node.get("spec") or {}
            idx = cidr_index(spec.get("podCIDR"))
            if spec.get("podCIDR") and idx is not None:
                if idx != self.index:
                    self.sim.reassign_index(self, idx)
            elif not spec.get("podCIDR"):
                patch["spec"] = {"podCIDR": self.cidr, "podCIDRs": [self.cidr]}
            if patch:
                node = await client.patch("nodes", None, self.name, patch)
            if not self.paused:
                node = await client.patch("nodes", None, self.name, {"status": self.node_status(
                    now, node.get("status"))}, "application/strategic-merge-patch+json", "status")
        self.node_uid = node["metadata"]["uid"]
        self.registered = True
        if self.paused:
            return
        self.last_status_report = now
        await self.renew_lease()
        if created and self.sim.events_enabled and self.sim.node_events:
            self._node_registered_events(node)

    def _node_registered_events(self, node: dict[str, Any]) -> None:
        ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
        rec = self.recorder
        rec.event(ref, "Normal", "Starting", "Starting kubelet.")
        rec.event(ref, "Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        for status in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"):
            rec.event(ref, "Normal", status, f"Node {self.name} status is now: {status}")

    def _lease_object(self) -> dict[str, Any]:
        md: dict[str, Any] = {"name": self.name, "namespace": LEASE_NAMESPACE}
        if self.node_uid:
            md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.node_uid}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": md,
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                         "renewTime": meta.now_micro()}}

    async def renew_lease(self) -> None:
        """Renew (or create) the node lease, as the kubelet's lease controller does every 10 s."""
        client = self.sim.client
        rt = "leases.coordination.k8s.io"
        lease = self.lease
        if lease is not None:
            lease["spec"]["renewTime"] = meta.now_micro()
            try:
                self.lease = await client.update(rt, lease)
                return
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
                self.lease = None
        # ensureLease: get, create when missing; then renew what is there.
        try:
            cur = await client.get(rt, LEASE_NAMESPACE, self.name)
        except ApiError as e:
            if e.code != 404:
                raise
            self.lease = await client.create(rt, LEASE_NAMESPACE, self._lease_object())
            return
        spec = cur.setdefault("spec", {})
        spec.update({"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                     "renewTime": meta.now_micro()})
        if self.node_uid and not cur["metadata"].get("ownerReferences"):
            cur["metadata"]["ownerReferences"] = self._lease_object()["metadata"]["ownerReferences"]
        self.lease = await client.update(rt, cur)

    def status_needs_update(self, node: dict[str, Any] | None, now: float) -> bool:
        """kubelet tryUpdateNodeStatus: post when something changed or the report frequency elapsed."""
        if node is None:
            return True
        if now - self.last_status_report >= self.sim.status_report_frequency:
            return True
        st = node.get("status") or {}
        conds = st.get("conditions") or []
        if len(conds) < len(NODE_CONDITIONS):
            return True
        by_type = {c.get("type"): c for c in conds}
        for type_, status, reason, message in NODE_CONDITIONS:
            c = by_type.get(type_)
            if c is None or c.get("status") != status or c.get("reason") != reason or c.get("message") != message:
                return True
        return not st.get("capacity") or not st.get("nodeInfo", {}).get("kubeletVersion")

    async def update_node_status(self, node: dict[str, Any] | None) -> None:
        now = time.time()
        status = self.node_status(now, (node or {}).get("status"))
        await self.sim.client.patch("nodes", None, self.name, {"status": status},
                                    "application/strategic-merge-patch+json", "status")
        self.last_status_report = now

    async def heartbeat(self) -> None:
        """One tick of the kubelet's two 10 s loops: lease renewal and the node status check."""
        if self.paused or self.stopped:
            return
        await self.renew_lease()
        node = self.sim.cached_node(self.name)
        changed = node is not None and self.apply_capacity(node)
        if changed or self.status_needs_update(node, time.time()):
            await self.update_node_status(node)

    # ---- pods ----------------------------------------------------------------------------------------
    def _seed_allocator(self) -> None:
        """Rebuild the IPAM state from live pods on this node (after a restart) before handing out IPs."""
        if self._alloc_seeded:
            return
        self._alloc_seeded = True
        for pod in self.sim.pods_on(self.name):
            st = pod.get("status") or {}
            ip = st.get("podIP")
            if st.get("phase") in ("Succeeded", "Failed") or not self.alloc.contains(ip):
                continue
            if (pod.get("spec") or {}).get("hostNetwork"):
                continue
            self.alloc.restore(pod["metadata"]["uid"], ip)

    def forget_pod(self, uid: str) -> None:
        self.pods.pop(uid, None)
        self.alloc.release(uid)

    def _runtime_for(self, pod: dict[str, Any], now: float) -> PodRuntime:
        md = pod["metadata"]
        uid = md["uid"]
        rt = self.pods.get(uid)
        if rt is not None:
            return rt
        st = pod.get("status") or {}
        started = meta.parse_time(st.get("startTime"))
        rt = PodRuntime(uid=uid, accepted=now if started is None else started)
        if started is not None:
            # The kubelet (before a restart) already handled this pod: recover its anchors from status
            # and do not repeat events for what already happened.
            rt.evented_until = now
            for cs in st.get("containerStatuses") or ():
                state = cs.get("state") or {}
                rc = int(cs.get("restartCount") or 0)
                if "running" in state:
                    t = meta.parse_time(state["running"].get("startedAt"))
                    if t is not None:
                        rt.anchor_attempt, rt.anchor_start = rc, t
                        break
                elif "terminated" in state:
                    t = meta.parse_time(state["terminated"].get("startedAt"))
                    if t is not None:
                        rt.anchor_attempt, rt.anchor_start = rc, t
                        break
                elif "waiting" in state and cs.get("lastState", {}).get("terminated"):
                    f = meta.parse_time(cs["lastState"]["terminated"].get("finishedAt"))
                    if f is not None:
                        rt.anchor_attempt, rt.anchor_start = rc + 1, f + _backoff(rc)
                        break
            ip = st.get("podIP")
            if ip and not (pod.get("spec") or {}).get("hostNetwork") and self.alloc.contains(ip):
                self._seed_allocator()
                if uid not in self.alloc.by_uid:
                    self.alloc.restore(uid, ip)
                if self.alloc.by_uid.get(uid) is not None:
                    rt.ip = ip
        self.pods[uid] = rt
        return rt

    async def sync_pod(self, pod: dict[str, Any]) -> float | None:
        """Bring the pod's status to what the kubelet would report now; return when to look again."""
        md = pod["metadata"]
        st = pod.get("status") or {}
        now = time.time()
        if md.get("deletionTimestamp"):
            return await self._terminate(pod, now)
        if st.get("phase") in ("Succeeded", "Failed"):
            self.forget_pod(md["uid"])
            return None
        if md["uid"] not in self.pods:
            await self._setup_host_paths(pod)
        rt = self._runtime_for(pod, now)
        want, wake, milestones = self.desired_pod_status(pod, rt, now)
        if want is not None and _status_differs(st, want):
            body = {"metadata": {"uid": md["uid"]}, "status": want}
            try:
                await self.sim.client.patch("pods", md["namespace"], md["name"], body, subresource="status")
            except ApiError as e:
                if e.code in (404, 409):
                    return None if e.code == 404 else 0.05
                raise
        if milestones:
            self._emit(pod, rt, milestones, now)
        if want is not None and want.get("phase") in ("Succeeded", "Failed"):
            self.alloc.release(md["uid"])
        if wake is None:
            return None
        return max(wake - now, 0.0)

    async def _setup_host_paths(self, pod: dict[str, Any]) -> None:
        """Create the host directories a pod mounts, as the kubelet (DirectoryOrCreate) and the container
        runtime (unset type) do on a real node: pod hostPath volumes and hostPath PVs bound to its claims."""
        ns = pod["metadata"].get("namespace")
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            hp = vol.get("hostPath")
            if hp is None and vol.get("persistentVolumeClaim"):
                try:
                    claim = await self.sim.client.get("persistentvolumeclaims", ns,
                                                      vol["persistentVolumeClaim"].get("claimName", ""))
                    pv_name = (claim.get("spec") or {}).get("volumeName")
                    if not pv_name:
                        continue
                    hp = ((await self.sim.client.get("persistentvolumes", None, pv_name)).get("spec") or {}
                          ).get("hostPath")
                except ApiError:
                    continue
            if not hp or not hp.get("path"):
                continue
            kind = hp.get("type") or ""
            try:
                if kind in ("", "DirectoryOrCreate"):
                    os.makedirs(hp["path"], mode=0o755, exist_ok=True)
                elif kind == "FileOrCreate" and not os.path.exists(hp["path"]):
                    os.makedirs(os.path.dirname(hp["path"]) or "/", exist_ok=True)
                    open(hp["path"], "a").close()
            except OSError as e:
                log.warning("node %s: cannot create hostPath %s: %s", self.name, hp["path"], e)

    # ---- the pod status the kubelet would post ---------------------------------------------------------
    def desired_pod_status(self, pod: dict[str, Any], rt: PodRuntime, now: float
                           ) -> tuple[dict[str, Any] | None, float | None, list[tuple[float, str, dict]]]:
        """(status, next wall time anything changes, event milestones up to now)."""
        sim = self.sim
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        cur = pod.get("status") or {}
        ann = md.get("annotations") or {}
        inits = spec.get("initContainers") or []
        mains = spec.get("containers") or []
        n_init = len(inits)
        delay = sim.start_delay
        t0 = rt.accepted
        step = delay / (n_init + 1)
        running_at = t0 + delay
        host_network = bool(spec.get("hostNetwork"))
        wakes: list[float] = []
        milestones: list[tuple[float, str, dict]] = []
        uid = md["uid"]

        cur_conds = {c.get("type"): c for c in cur.get("conditions") or ()}
        cur_cs = {c.get("name"): c for c in cur.get("containerStatuses") or ()}
        cur_ics = {c.get("name"): c for c in cur.get("initContainerStatuses") or ()}

        def keep_times(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
            """Keep the already-posted timestamps of the same container attempt (second-precision drift)."""
            if not old or old.get("restartCount") != new.get("restartCount"):
                return new
            for key in ("state", "lastState"):
                ns, os_ = new.get(key) or {}, old.get(key) or {}
                for kind in ("running", "terminated"):
                    if kind in ns and kind in os_ and ns[kind].get("containerID") == os_[kind].get("containerID"):
                        for tkey in ("startedAt", "finishedAt"):
                            if tkey in ns[kind] and os_[kind].get(tkey):
                                ns[kind][tkey] = os_[kind][tkey]
            return new

        # -- sandbox
        sandbox_at = t0 + step
        sandbox_ready = now >= sandbox_at
        if not sandbox_ready:
            wakes.append(sandbox_at)
        pod_ip = None
        if sandbox_ready:
            if host_network:
                pod_ip = self.ip
            else:
                if rt.ip is None:
                    self._seed_allocator()
                    rt.ip = self.alloc.allocate(uid)
                    if rt.ip is None:
                        log.warning("node %s: no free pod IP in %s for %s/%s", self.name, self.cidr,
                                    md.get("namespace"), md.get("name"))
                        return None, now + 5.0, []
                pod_ip = rt.ip

        waiting_reason = "PodInitializing" if n_init else "ContainerCreating"

        # -- init containers (run in order; each takes one step)
        init_statuses: list[dict[str, Any]] = []
        initialized = True
        incomplete: list[str] = []
        for i, c in enumerate(inits):
            name = c.get("name", "")
            # init i runs from t0+(i+1)*step to t0+(i+2)*step; the last one ends when the main containers
            # start. A restartable (sidecar) init container starts and keeps running.
            start_i = t0 + (i + 1) * step
            done_i = t0 + (i + 2) * step
            cid = f"containerd://{_hex(uid, 'init', name, '0')}"
            base = {"image": c.get("image", ""), "imageID": "", "lastState": {}, "name": name, "ready": False,
                    "restartCount": 0, "started": False}
            sidecar = is_restartable_init(c)
            if now >= start_i and sandbox_ready:
                base["image"] = normalize_image(c.get("image", ""))
                base["imageID"] = image_id(c.get("image", ""))
                base["containerID"] = cid
                vm = _volume_mounts(c)
                if vm:
                    base["volumeMounts"] = vm
                milestones.append((start_i, "start", {"container": c, "init": True, "attempt": 0}))
                if sidecar:
                    base["state"] = {"running": {"startedAt": _ts(start_i)}}
                    base["started"] = True
                    base["ready"] = True
                elif now >= done_i:
                    base["state"] = _terminated_state(start_i, done_i, 0, cid)
                    base["ready"] = True
                else:
                    base["state"] = {"running": {"startedAt": _ts(start_i)}}
                    base["started"] = True
                    wakes.append(done_i)
                    initialized = False
                    incomplete.append(name)
            else:
                base["state"] = {"waiting": {"reason": "PodInitializing"}}
                wakes.append(start_i)
                initialized = False
                incomplete.append(name)
            init_statuses.append(keep_times(base, cur_ics.get(name)))

        # -- main containers
        policy = spec.get("restartPolicy") or "Always"
        exit_code = _int_ann(ann, EXIT_CODE_ANNOTATION)
        run = _float_ann(ann, RUN_DURATION_ANNOTATION)
        if _owned_by_job(md):
            # Job pods run to completion by default (kwok's "pod-complete" stage does the same).
            if exit_code is None:
                exit_code = 0
            if run is None:
                run = JOB_POD_RUN_DURATION
        run = run or 0.0
        ready_ann = ann.get(READY_ANNOTATION, "true").lower() != "false"
        anchor_start = rt.anchor_start if rt.anchor_start is not None else running_at
        statuses: list[dict[str, Any]] = []
        unready: list[str] = []
        running_n = stopped_n = succeeded_n = waiting_n = 0
        any_started = False
        for c in mains:
            name = c.get("name", "")
            base = {"image": c.get("image", ""), "imageID": "", "lastState": {}, "name": name, "ready": False,
                    "restartCount": 0, "started": False}
            if not initialized or not sandbox_ready:
                base["state"] = {"waiting": {"reason": waiting_reason}}
                statuses.append(keep_times(base, cur_cs.get(name)))
                unready.append(name)
                waiting_n += 1
                continue
            cyc = _cycle_at(rt.anchor_attempt, anchor_start, run, exit_code, policy, now)
            if cyc.next_wake is not None:
                wakes.append(cyc.next_wake)
            base["restartCount"] = cyc.attempt
            if cyc.last is not None:
                ls, lf, lc = cyc.last
                last_attempt = cyc.attempt - 1 if cyc.kind != "backoff" else cyc.attempt
                base["lastState"] = _terminated_state(ls, lf, lc,
                                                      f"containerd://{_hex(uid, name, str(last_attempt))}")
            if cyc.kind == "waiting":
                base["state"] = {"waiting": {"reason": waiting_reason}}
                unready.append(name)
                waiting_n += 1
                statuses.append(keep_times(base, cur_cs.get(name)))
                continue
            base["image"] = normalize_image(c.get("image", ""))
            base["imageID"] = image_id(c.get("image", ""))
            vm = _volume_mounts(c)
            if vm:
                base["volumeMounts"] = vm
            cid = f"containerd://{_hex(uid, name, str(cyc.attempt))}"
            if cyc.kind == "backoff":
                back = _backoff(cyc.attempt)
                base["lastState"] = _terminated_state(cyc.started, cyc.finished, cyc.exit_code, cid)
                base["state"] = {"waiting": {
                    "message": f"back-off {go_duration(back)} restarting failed container={name} "
                               f"pod={md['name']}_{md.get('namespace', '')}({uid})",
                    "reason": "CrashLoopBackOff"}}
                base["containerID"] = cid
                unready.append(name)
                stopped_n += 1
                if cyc.exit_code == 0:
                    succeeded_n += 1
                any_started = True
                milestones.append((cyc.finished, "backoff", {"container": c}))
            elif cyc.kind == "terminated":
                base["state"] = _terminated_state(cyc.started, cyc.finished, cyc.exit_code, cid)
                base["containerID"] = cid
                stopped_n += 1
                if cyc.exit_code == 0:
                    succeeded_n += 1
                unready.append(name)
                any_started = True
            else:
                base["state"] = {"running": {"startedAt": _ts(cyc.started)}}
                base["containerID"] = cid
                running_n += 1
                any_started = True
                started_ok = True
                sp = c.get("startupProbe")
                if sp:
                    started_ok = now >= cyc.started + float(sp.get("initialDelaySeconds") or 0)
                    if not started_ok:
                        wakes.append(cyc.started + float(sp.get("initialDelaySeconds") or 0))
                base["started"] = started_ok
                ready = started_ok and ready_ann
                rp = c.get("readinessProbe")
                if ready and rp:
                    ready_at = cyc.started + float(rp.get("initialDelaySeconds") or 0)
                    if now < ready_at:
                        ready = False
                        wakes.append(ready_at)
                base["ready"] = ready
                if not ready:
                    unready.append(name)
            if cyc.kind in ("running", "terminated", "backoff"):
                milestones.append((cyc.started, "start", {"container": c, "init": False, "attempt": cyc.attempt}))
            statuses.append(keep_times(base, cur_cs.get(name)))

        # -- phase (kubelet getPhase): a container never started keeps the pod Pending; one in restart
        # back-off counts as stopped.
        if not initialized or waiting_n:
            phase = "Pending"
        elif running_n:
            phase = "Running"
        elif stopped_n:
            if policy == "Always":
                phase = "Running"
            elif stopped_n == succeeded_n:
                phase = "Succeeded"
            elif policy == "Never":
                phase = "Failed"
            else:
                phase = "Running"
        else:
            phase = "Pending"

        # -- conditions (status/generate.go)
        conds: list[dict[str, Any]] = []
        for c in cur.get("conditions") or ():
            if c.get("type") not in KUBELET_POD_CONDITIONS:
                conds.append(c)
        terminal = phase in ("Succeeded", "Failed")
        conds.append(_condition(cur_conds, "PodReadyToStartContainers",
                                "True" if sandbox_ready and not terminal else "False", now))
        if phase == "Succeeded":
            conds.append(_condition(cur_conds, "Initialized", "True", now, "PodCompleted"))
        elif initialized or any_started:
            conds.append(_condition(cur_conds, "Initialized", "True", now))
        else:
            conds.append(_condition(cur_conds, "Initialized", "False", now, "ContainersNotInitialized",
                                    f"containers with incomplete status: {_fmt_list(incomplete)}"))
        sidecar_unready = [s["name"] for c, s in zip(inits, init_statuses, strict=False)
                           if is_restartable_init(c) and not s.get("ready")]
        if terminal:
            reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
            cr_status, cr_reason, cr_msg = "False", reason, None
        elif unready or sidecar_unready:
            cr_status, cr_reason = "False", "ContainersNotReady"
            cr_msg = f"containers with unready status: {_fmt_list(sidecar_unready + unready)}"
        else:
            cr_status, cr_reason, cr_msg = "True", None, None
        ready_status, ready_reason, ready_msg = cr_status, cr_reason, cr_msg
        if cr_status == "True" and spec.get("readinessGates"):
            msgs = []
            for g in spec["readinessGates"]:
                ct = g.get("conditionType")
                gc = cur_conds.get(ct)
                if gc is None:
                    msgs.append(f'corresponding condition of pod readiness gate "{ct}" does not exist.')
                elif gc.get("status") != "True":
                    msgs.append(f'the status of pod readiness gate "{ct}" is not "True", but {gc.get("status")}')
            if msgs:
                ready_status, ready_reason, ready_msg = "False", "ReadinessGatesNotReady", ", ".join(msgs)
        conds.append(_condition(cur_conds, "Ready", ready_status, now, ready_reason, ready_msg))
        conds.append(_condition(cur_conds, "ContainersReady", cr_status, now, cr_reason, cr_msg))
        sched = cur_conds.get("PodScheduled")
        conds.append(sched if sched is not None else _condition(cur_conds, "PodScheduled", "True", now))

        status: dict[str, Any] = {
            "conditions": conds,
            "containerStatuses": statuses,
            "hostIP": self.ip,
            "hostIPs": [{"ip": self.ip}],
            "phase": phase,
            "startTime": cur.get("startTime") or _ts(t0),
        }
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        if pod_ip:
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        wake = min((w for w in wakes if w > now), default=None)
        return status, wake, milestones

    # ---- termination ---------------------------------------------------------------------------------
    async def _terminate(self, pod: dict[str, Any], now: float) -> float | None:
        """Graceful termination: Killing, containers stop, final status, DELETE with grace 0."""
        md = pod["metadata"]
        uid = md["uid"]
        st = pod.get("status") or {}
        rt = self.pods.get(uid)
        if rt is None:
            rt = self._runtime_for(pod, now)
        ann = md.get("annotations") or {}
        grace = float(md.get("deletionGracePeriodSeconds") or 0)
        if rt.kill_seen is None:
            rt.kill_seen = now
            if self.sim.events_enabled:
                for cs in st.get("containerStatuses") or ():
                    if "running" in (cs.get("state") or {}):
                        self.recorder.event(pod, "Normal", "Killing", f"Stopping container {cs.get('name')}",
                                            field_path=f"spec.containers{{{cs.get('name')}}}")
        stop_delay = _float_ann(ann, TERMINATION_DELAY_ANNOTATION)
        if stop_delay is None:
            stop_delay = self.sim.stop_delay
        stop_at = rt.kill_seen + min(stop_delay, grace)
        if now < stop_at:
            return stop_at - now
        if rt.deleted:
            return None
        final = self._final_status(pod, now)
        ns, name = md["namespace"], md["name"]
        client = self.sim.client
        try:
            if final is not None and _status_differs(st, final):
                await client.patch("pods", ns, name, {"metadata": {"uid": uid}, "status": final},
                                   subresource="status")
            await client.delete("pods", ns, name, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
        except ApiError as e:
            if e.code not in (404, 409):
                raise
        rt.deleted = True
        return None

    def _final_status(self, pod: dict[str, Any], now: float) -> dict[str, Any] | None:
        """Containers stopped by SIGTERM exit 0 (Completed); the pod reaches a terminal phase."""
        st = pod.get("status") or {}
        css = st.get("containerStatuses") or []
        if not any(cs.get("containerID") for cs in css):
            return None
        fin = _ts(now)
        out_cs = []
        ok = True
        # A Job's container stopped mid-run exits 143 (SIGTERM), so the Job counts the pod as failed.
        killed_code = 143 if _owned_by_job(pod["metadata"]) else 0
        for cs in css:
            cs = dict(cs)
            state = cs.get("state") or {}
            if "running" in state:
                cs["state"] = {"terminated": {"containerID": cs.get("containerID", ""), "exitCode": killed_code,
                                              "finishedAt": fin, "reason": "Error" if killed_code else "Completed",
                                              "startedAt": state["running"].get("startedAt")}}
                if killed_code:
                    ok = False
            elif "terminated" in state:
                if state["terminated"].get("exitCode"):
                    ok = False
            else:
                ok = False
            cs["ready"] = False
            cs["started"] = False
            out_cs.append(cs)
        phase = "Succeeded" if ok else "Failed"
        reason = "PodCompleted" if ok else "PodFailed"
        cur_conds = {c.get("type"): c for c in st.get("conditions") or ()}
        conds = [c for c in st.get("conditions") or () if c.get("type") not in KUBELET_POD_CONDITIONS]
        conds.append(_condition(cur_conds, "PodReadyToStartContainers", "False", now))
        if ok:
            conds.append(_condition(cur_conds, "Initialized", "True", now, "PodCompleted"))
        else:
            old = cur_conds.get("Initialized")
            conds.append(old if old else _condition(cur_conds, "Initialized", "True", now))
        conds.append(_condition(cur_conds, "Ready", "False", now, reason))
        conds.append(_condition(cur_conds, "ContainersReady", "False", now, reason))
        sched = cur_conds.get("PodScheduled")
        if sched is not None:
            conds.append(sched)
        out = dict(st)
        out.update({"conditions": conds, "containerStatuses": out_cs, "phase": phase})
        return out

    # ---- events --------------------------------------------------------------------------------------
    def _emit(self, pod: dict[str, Any], rt: PodRuntime, milestones: list[tuple[float, str, dict]],
              now: float) -> None:
        """Events for milestones reached since the last sync (kubelet: Pulling/Pulled/Created/Started)."""
        floor = rt.evented_until
        rt.evented_until = now
        if not self.sim.events_enabled:
            return
        rec = self.recorder
        for t, kind, info in sorted(milestones, key=lambda m: m[0]):
            if t <= floor or t > now:
                continue
            c = info["container"]
            name = c.get("name", "")
            fp = f"spec.initContainers{{{name}}}" if info.get("init") else f"spec.containers{{{name}}}"
            if kind == "backoff":
                md = pod["metadata"]
                rec.event(pod, "Warning", "BackOff",
                          f"Back-off restarting failed container {name} in pod "
                          f"{md['name']}_{md.get('namespace', '')}({md['uid']})", field_path=fp)
                continue
            image = c.get("image", "")
            policy = c.get("imagePullPolicy") or ("Always" if normalize_image(image).endswith(":latest")
                                                  else "IfNotPresent")
            present = image in self.images
            if policy == "Always" or (policy == "IfNotPresent" and not present):
                pull = max(self.sim.start_delay / 2, 0.0)
                rec.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', field_path=fp)
                size = int(_hex("size", image, n=6), 16) * 8 + 1_000_000
                rec.event(pod, "Normal", "Pulled",
                          f'Successfully pulled image "{image}" in {go_duration(pull)} ({go_duration(pull)} '
                          f"including waiting). Image size: {size} bytes.", field_path=fp)
            else:
                rec.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine',
                          field_path=fp)
            self.images.add(image)
            rec.event(pod, "Normal", "Created", f"Created container: {name}", field_path=fp)
            rec.event(pod, "Normal", "Started", f"Started container {name}", field_path=fp)


def _status_differs(cur: dict[str, Any], want: dict[str, Any]) -> bool:
    for k, v in want.items():
        if cur.get(k) != v:
            return True
    return False

"""The settings of one `kubeling up` cluster, kept apart from the machinery that runs it so that the
command line (`kubeling up --detach`, `status`, `node ...`) starts without importing the whole server."""
from __future__ import annotations

from dataclasses import dataclass, field

COMPACT_INTERVAL = 300.0


@dataclass
class ClusterConfig:
    data_dir: str
    port: int = 6443
    host: str = "127.0.0.1"
    dns_port: int = 10053
    storage: str = "sqlite"  # sqlite | memory | etcd
    etcd_servers: str = ""  # comma-separated client URLs (storage "etcd")
    etcd_prefix: str = ""  # prepended to every etcd key (several clusters on one etcd)
    pki_dir: str = ""  # default DATA_DIR/pki; API servers sharing one store share one PKI
    compaction_interval: float = COMPACT_INTERVAL  # seconds; <= 0 disables compaction
    components: list[str] | None = None  # modules started after the API server; None = COMPONENT_MODULES
    nodes: list[str] = field(default_factory=lambda: ["master", "node1", "node2"])
    pod_start_delay: float = 1.0
    node_monitor_grace_period: float = 40.0
    default_storageclass: bool = True
    terminated_pod_gc_threshold: int = 12500
    pod_gc_quarantine: float = 40.0
    hpa_sync_period: float = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period
    event_ttl: float = 3600.0
    audit_log: str | None = None  # None: DATA_DIR/audit.log; "": no audit log
    max_inflight_per_client: int = 64  # concurrent requests per non-admin client before 429 (0: no limit)
    feature_gates: dict[str, bool] = field(default_factory=dict)  # --feature-gates, as given (not resolved)

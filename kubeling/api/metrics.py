"""Simulated resource metrics: what metrics-server would report for kubeling's process-less pods.

kubeling's pods run no processes, so usage is a convention (documented in kubeling.node.kubelet and README):

- A running container's usage comes from the pod annotation ``kubeling.dev/usage``, either a JSON object
  per container, ``{"nginx": {"cpu": "250m", "memory": "64Mi"}}``, or ``cpu=250m,memory=64Mi`` applying to
  every container. A resource the annotation leaves out falls back to the default below.
- Default: USAGE_FRACTION (10 %) of the container's request; without a request, DEFAULT_CPU / DEFAULT_MEMORY.
- Only running containers of Running pods have metrics (metrics-server reports nothing for pods that
  have not started).
- A node's usage is the sum of its running pods' usage plus SYSTEM_CPU / SYSTEM_MEMORY (kubelet, runtime,
  OS), as a real node's cgroup root would show.

Both the metrics.k8s.io API (apiserver.metrics_api) and the HPA controller compute usage here, so they agree.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import orjson

from .defaults import QuantityError, format_quantity, parse_quantity

USAGE_ANNOTATION = "kubeling.dev/usage"
USAGE_FRACTION = Fraction(1, 10)
DEFAULT_CPU = Fraction(1, 1000)        # 1m
DEFAULT_MEMORY = Fraction(4 * 1024 * 1024)  # 4Mi
SYSTEM_CPU = Fraction(100, 1000)       # 100m
SYSTEM_MEMORY = Fraction(512 * 1024 * 1024)  # 512Mi
WINDOW = "10s"
GROUP_VERSION = "metrics.k8s.io/v1beta1"

Usage = dict[str, Fraction]  # "cpu" (cores), "memory" (bytes)


def _qty(v: Any) -> Fraction | None:
    try:
        return parse_quantity(v)[0]
    except QuantityError:
        return None


def _parse_annotation(raw: str | None) -> tuple[dict[str, dict[str, Any]] | None, dict[str, Any] | None]:
    """(per-container map, all-containers map) from the usage annotation; (None, None) when absent/bad."""
    if not raw:
        return None, None
    s = raw.strip()
    if s.startswith("{"):
        try:
            data = orjson.loads(s)
        except orjson.JSONDecodeError:
            return None, None
        if not isinstance(data, dict):
            return None, None
        return {k: v for k, v in data.items() if isinstance(v, dict)}, None
    out: dict[str, Any] = {}
    for part in s.split(","):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return None, out


def container_usage(pod: dict[str, Any], container: dict[str, Any],
                    annotation: tuple[dict[str, dict[str, Any]] | None, dict[str, Any] | None] | None = None) -> Usage:
    """Simulated cpu/memory usage of one container of `pod`."""
    if annotation is None:
        annotation = _parse_annotation(((pod.get("metadata") or {}).get("annotations") or {}).get(USAGE_ANNOTATION))
    per, every = annotation
    given = (per or {}).get(container.get("name") or "") if per is not None else every
    requests = (container.get("resources") or {}).get("requests") or {}
    out: Usage = {}
    for res, dflt in (("cpu", DEFAULT_CPU), ("memory", DEFAULT_MEMORY)):
        v = _qty(given.get(res)) if given and res in given else None
        if v is None:
            req = _qty(requests.get(res)) if res in requests else None
            v = req * USAGE_FRACTION if req else dflt
        if res == "memory":
            v = Fraction(int(v))  # whole bytes
        else:
            v = Fraction(int(v * 10**9), 10**9)  # nanocores
        out[res] = max(v, Fraction(0))
    return out


def _running_names(pod: dict[str, Any]) -> set[str]:
    return {cs.get("name") for cs in (pod.get("status") or {}).get("containerStatuses") or []
            if isinstance(cs, dict) and "running" in (cs.get("state") or {})}


def pod_usage(pod: dict[str, Any]) -> list[tuple[str, Usage]] | None:
    """[(container name, usage)] of a pod's running containers; None when it has no metrics."""
    st = pod.get("status") or {}
    if st.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    running = _running_names(pod)
    if not running:
        return None
    ann = _parse_annotation(((pod.get("metadata") or {}).get("annotations") or {}).get(USAGE_ANNOTATION))
    out = [(c.get("name") or "", container_usage(pod, c, ann)) for c in (pod.get("spec") or {}).get("containers") or []
           if isinstance(c, dict) and c.get("name") in running]
    return out or None


def node_usage(pods: list[dict[str, Any]]) -> Usage:
    """A node's usage: its running pods' usage plus the system overhead."""
    cpu, mem = SYSTEM_CPU, SYSTEM_MEMORY
    for pod in pods:
        for _, u in pod_usage(pod) or ():
            cpu += u["cpu"]
            mem += u["memory"]
    return {"cpu": cpu, "memory": mem}


def usage_list(u: Usage) -> dict[str, str]:
    """A ResourceList as metrics-server writes it (cpu in nanocores, memory binary)."""
    return {"cpu": format_quantity(u["cpu"], "DecimalSI"), "memory": format_quantity(u["memory"], "BinarySI")}


def pod_metrics(pod: dict[str, Any], timestamp: str) -> dict[str, Any] | None:
    """The PodMetrics object of a pod; None when it has no metrics."""
    usage = pod_usage(pod)
    if usage is None:
        return None
    md = pod["metadata"]
    meta: dict[str, Any] = {"name": md["name"], "namespace": md.get("namespace"), "creationTimestamp": timestamp}
    if md.get("labels"):
        meta["labels"] = md["labels"]
    return {"kind": "PodMetrics", "apiVersion": GROUP_VERSION, "metadata": meta, "timestamp": timestamp,
            "window": WINDOW, "containers": [{"name": n, "usage": usage_list(u)} for n, u in usage]}


def node_metrics(node: dict[str, Any], pods: list[dict[str, Any]], timestamp: str) -> dict[str, Any]:
    """The NodeMetrics object of a node, given the pods bound to it."""
    md = node["metadata"]
    meta: dict[str, Any] = {"name": md["name"], "creationTimestamp": timestamp}
    if md.get("labels"):
        meta["labels"] = md["labels"]
    return {"kind": "NodeMetrics", "apiVersion": GROUP_VERSION, "metadata": meta, "timestamp": timestamp,
            "window": WINDOW, "usage": usage_list(node_usage(pods))}

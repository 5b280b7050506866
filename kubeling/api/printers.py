"""Server-side table printing: the `meta.k8s.io/v1 Table` columns and cells kubectl shows.

`kubectl get` asks for a Table and prints the cells verbatim, so every column definition and
cell here reproduces what kube-apiserver v1.32 computes in its internal-version printers
(the server always prints "wide": priority-1 columns carry their cells too, kubectl hides them
unless `-o wide`). Cell types follow upstream exactly: Go int64 cells are Python ints, bools stay
bools, everything else is a string — regardless of the column's declared type.

Column descriptions are upstream's Go SwaggerDoc strings. For v1 types they are read from the
v1.32 OpenAPI definitions kubeling already ships (same doc comments); the few printers that cite
long-gone beta types (extensions/v1beta1, discovery/v1beta1) carry those texts here.

Objects are plain JSON dicts as stored, i.e. the v1 wire shape with upstream defaults applied.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

__all__ = ["column_definitions", "row_cells", "row_conditions", "human_duration", "format_quantity"]

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# human durations and timestamps
# ---------------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """apimachinery duration.HumanDuration: ~2-3 significant figures, as kubectl's AGE column."""
    s = int(seconds)  # Go int(d.Seconds()) truncates toward zero
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


_GO_ZERO_TIME = -62135596800.0  # 0001-01-01T00:00:00Z, Go's zero time.Time


@functools.lru_cache(maxsize=8192)
def _parse_time(value: str) -> float | None:
    """RFC3339 (optionally with fraction) -> epoch seconds; None for absent/zero/unparseable.

    Cached: the same creationTimestamp strings recur on every list and watch event.
    """
    if not value:
        return None
    v = value
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    dot = v.find(".")
    if dot != -1:  # fromisoformat wants <= 6 fraction digits; Go may send up to 9
        end = dot + 1
        while end < len(v) and v[end].isdigit():
            end += 1
        v = v[:dot] + v[dot:end][:7] + v[end:]
    try:
        ts = datetime.fromisoformat(v).timestamp()
    except ValueError:
        return None
    return None if ts <= _GO_ZERO_TIME else ts


def _since(value: Any, now: float) -> str:
    """translateTimestampSince: "<unknown>" for a zero time, else the human age."""
    ts = _parse_time(value) if isinstance(value, str) else None
    if ts is None:
        return "<unknown>"
    return human_duration(now - ts)


def _age(obj: Obj, now: float) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _rfc3339(value: Any) -> str:
    """Go's time.UTC().Format(RFC3339) of a metav1.Time (zero time for absent)."""
    ts = _parse_time(value) if isinstance(value, str) else None
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts // 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# resource.Quantity canonical form (PV/PVC capacity cells print Quantity.String())
# ---------------------------------------------------------------------------------------------

_BIN_SUFFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIX.items()}
_BIN_BY_POW = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_QTY_RE = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?(.*)$")
_EXP_RE = re.compile(r"^[eE]([+-]?\d+)$")


@functools.lru_cache(maxsize=1024)
def format_quantity(value: Any) -> str:
    """Quantity.String(): the canonical form the apiserver prints ("1024Mi" -> "1Gi")."""
    if value is None:
        return "0"
    raw = str(value).strip()
    m = _QTY_RE.match(raw)
    if not m or not (m.group(2) or m.group(3)):
        return raw
    sign, whole, frac, suffix = m.group(1), m.group(2) or "0", m.group(3) or "", m.group(4)
    if suffix in _BIN_SUFFIX:
        fmt, mult = "bin", Fraction(2 ** _BIN_SUFFIX[suffix])
    elif suffix in _DEC_SUFFIX:
        fmt, mult = "si", Fraction(10) ** _DEC_SUFFIX[suffix]
    elif _EXP_RE.match(suffix):
        fmt, mult = "exp", Fraction(10) ** int(suffix[1:])
    else:
        return raw
    mag = (Fraction(int(whole + frac)) / 10 ** len(frac)) * mult
    # ParseQuantity rounds non-zero amounts up (away from zero) to nano precision.
    nanos = -((-mag * 10**9) // 1)
    if nanos == 0:
        return "0"
    neg = "-" if sign == "-" else ""
    mag = Fraction(nanos, 10**9)
    if fmt == "bin" and (mag < 1024 or mag.denominator != 1):
        fmt = "si"  # small or non-integral binary values print as decimal SI
    if fmt == "bin":
        n, pow1024 = int(mag), 0
        while n % 1024 == 0 and pow1024 < 6:
            n //= 1024
            pow1024 += 1
        return f"{neg}{n}{_BIN_BY_POW[pow1024]}"
    n, exp = int(nanos), -9
    while n % 10 == 0:
        n //= 10
        exp += 1
    r = exp % 3  # floor to a multiple of three, as Go's AsCanonicalBytes
    n *= 10**r
    exp -= r
    if exp == 0:
        tail = ""
    elif fmt == "si" and exp in _DEC_BY_EXP:
        tail = _DEC_BY_EXP[exp]
    else:
        tail = f"e{exp}"
    return f"{neg}{n}{tail}"


# ---------------------------------------------------------------------------------------------
# labels and selectors
# ---------------------------------------------------------------------------------------------


def _format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted "k=v,..." or "<none>"."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(sel: Any) -> str:
    """metav1.LabelSelectorAsSelector(sel).String(); "" for nil or empty selectors."""
    if not sel:
        return ""
    reqs: list[tuple[str, str]] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for e in sel.get("matchExpressions") or ():
        key, op = e.get("key", ""), e.get("operator", "")
        vals = ",".join(sorted(e.get("values") or ()))
        if op == "In":
            reqs.append((key, f"{key} in ({vals})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({vals})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
        else:
            return "<error>"
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def _format_selector(sel: Any) -> str:
    """metav1.FormatLabelSelector: like _selector_string but "<none>" when empty."""
    s = _selector_string(sel)
    return s if s else "<none>"


def _containers(template: Any) -> tuple[str, str]:
    """layoutContainerCells: comma-joined names and images of a pod template's containers."""
    cs = ((template or {}).get("spec") or {}).get("containers") or ()
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name", "")


# ---------------------------------------------------------------------------------------------
# per-resource row printers (all "wide": the server always prints priority-1 cells)
# ---------------------------------------------------------------------------------------------


def _pod(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = _meta(obj)
    restarts = 0
    sidecar_restarts = 0
    total = len(spec.get("containers") or ())
    ready = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None

    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or ()
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    sidecars: set[str] = set()
    init_specs = spec.get("initContainers") or ()
    for c in init_specs:
        if c.get("restartPolicy") == "Always":
            sidecars.add(c.get("name", ""))
            total += 1

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        count = int(cs.get("restartCount") or 0)
        restarts += count
        finished = _terminated_at(cs)
        if finished is not None and (last_restart is None or finished > last_restart):
            last_restart = finished
        is_sidecar = cs.get("name", "") in sidecars
        if is_sidecar:
            sidecar_restarts += count
            if finished is not None and (last_sidecar_restart is None or finished > last_sidecar_restart):
                last_sidecar_restart = finished
        state = cs.get("state") or {}
        term = state.get("terminated")
        wait = state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            if not term.get("reason"):
                if term.get("signal"):
                    reason = f"Init:Signal:{term['signal']}"
                else:
                    reason = f"Init:ExitCode:{int(term.get('exitCode') or 0)}"
            else:
                reason = "Init:" + term["reason"]
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += int(cs.get("restartCount") or 0)
            finished = _terminated_at(cs)
            if finished is not None and (last_restart is None or finished > last_restart):
                last_restart = finished
            state = cs.get("state") or {}
            wait = state.get("waiting")
            term = state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                if term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{int(term.get('exitCode') or 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready", first_only=False) else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"

    # v1 -> internal conversion: podIP wins, else podIPs[0].
    ip = status.get("podIP") or ""
    if not ip:
        ips = status.get("podIPs") or ()
        ip = (ips[0].get("ip") or "") if ips else ""
    gates = spec.get("readinessGates") or ()
    gates_cell = "<none>"
    if gates:
        true_count = 0
        for g in gates:
            for c in conditions:
                if c.get("type") == g.get("conditionType"):
                    if c.get("status") == "True":
                        true_count += 1
                    break
        gates_cell = f"{true_count}/{len(gates)}"
    return [
        meta.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        _age(obj, now),
        ip or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


def _terminated_at(cs: Obj) -> float | None:
    term = (cs.get("lastState") or {}).get("terminated")
    if not term:
        return None
    finished = term.get("finishedAt")
    return _parse_time(finished) if isinstance(finished, str) else None


def _condition_true(conditions: Any, ctype: str, first_only: bool = True) -> bool:
    """Initialized: first matching condition decides; Ready: any True one (hasPodReadyCondition)."""
    for c in conditions:
        if c.get("type") == ctype:
            if c.get("status") == "True":
                return True
            if first_only:
                return False
    return False


def _node(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    ready_cond = None
    for c in status.get("conditions") or ():
        if c.get("type") == "Ready":
            ready_cond = c  # last one wins, as upstream's condition map
    parts = []
    if ready_cond is not None:
        parts.append("Ready" if ready_cond.get("status") == "True" else "NotReady")
    else:
        parts.append("Unknown")
    if spec.get("unschedulable"):
        parts.append("SchedulingDisabled")
    roles = set()
    for k, v in (_meta(obj).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    info = status.get("nodeInfo") or {}
    internal = external = "<none>"
    for a in status.get("addresses") or ():
        if a.get("type") == "InternalIP" and internal == "<none>":
            internal = a.get("address", "")
        elif a.get("type") == "ExternalIP" and external == "<none>":
            external = a.get("address", "")
    return [
        _name(obj),
        ",".join(parts),
        ",".join(sorted(roles)) or "<none>",
        _age(obj, now),
        info.get("kubeletVersion", ""),
        internal,
        external,
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _namespace(obj: Obj, now: float) -> list:
    return [_name(obj), (obj.get("status") or {}).get("phase", ""), _age(obj, now)]


def _service_external_ip(spec: Obj, status: Obj) -> str:
    svc_type = spec.get("type", "")
    external = spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        seen = set()
        for ing in (status.get("loadBalancer") or {}).get("ingress") or ():
            if ing.get("ip"):
                seen.add(ing["ip"])
            elif ing.get("hostname"):
                seen.add(ing["hostname"])
        lb = ",".join(sorted(seen))  # server prints wide: never clipped to 16 chars
        if external:
            return ",".join(([*lb.split(",")] if lb else []) + list(external))
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    ips = spec.get("clusterIPs") or ()
    cluster_ip = ips[0] if ips else (spec.get("clusterIP") or "<none>")
    ports = []
    for p in spec.get("ports") or ():
        proto = p.get("protocol") or "TCP"
        node_port = int(p.get("nodePort") or 0)
        if node_port > 0:
            ports.append(f"{p.get('port', 0)}:{node_port}/{proto}")
        else:
            ports.append(f"{p.get('port', 0)}/{proto}")
    return [
        _name(obj),
        spec.get("type", ""),
        cluster_ip,
        _service_external_ip(spec, obj.get("status") or {}),
        ",".join(ports) or "<none>",
        _age(obj, now),
        _format_labels(spec.get("selector")),
    ]


def _join_host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints_cell(subsets: Any) -> str:
    """formatEndpoints: first three host:port pairs, then " + N more..."."""
    if not subsets:
        return "<none>"
    out: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addrs = ss.get("addresses") or ()
        ports = ss.get("ports") or ()
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == limit:
                    more = True
                    break
                out.append(a.get("ip", ""))
            continue
        for p in ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == limit:
                    more = True
                    break
                out.append(_join_host_port(a.get("ip", ""), p.get("port", 0)))
    ret = ",".join(out)
    return f"{ret} + {count - limit} more..." if more else ret


def _endpoints(obj: Obj, now: float) -> list:
    return [_name(obj), _endpoints_cell(obj.get("subsets")), _age(obj, now)]


def _list_with_more(items: list[str], total: int, limit: int = 3) -> str:
    """listWithMoreString: "<unset>" when empty, " + N more..." past the limit."""
    if total > limit:
        return f"{','.join(items[:limit])} + {total - limit} more..."
    return ",".join(items) or "<unset>"


def _endpoint_slice(obj: Obj, now: float) -> list:
    ports = []
    for p in obj.get("ports") or ():
        if p.get("port") is not None:
            ports.append(str(p["port"]))
        elif p.get("name") is not None:
            ports.append(p["name"])
        else:
            ports.append("*")
    addrs = [a for e in obj.get("endpoints") or () for a in e.get("addresses") or ()]
    return [
        _name(obj),
        obj.get("addressType", ""),
        _list_with_more(ports, len(ports)),
        _list_with_more(addrs, len(addrs)),
        _age(obj, now),
    ]


def _configmap(obj: Obj, now: float) -> list:
    return [_name(obj), len(obj.get("data") or ()) + len(obj.get("binaryData") or ()), _age(obj, now)]


def _secret(obj: Obj, now: float) -> list:
    return [_name(obj), obj.get("type", ""), len(obj.get("data") or ()), _age(obj, now)]


def _service_account(obj: Obj, now: float) -> list:
    return [_name(obj), len(obj.get("secrets") or ()), _age(obj, now)]


def _event_cells(ev: Obj, now: float) -> list:
    """printEvent on the internal Event (core/v1 field names)."""
    first = _since(ev.get("firstTimestamp"), now)
    if first == "<unknown>":
        first = _since(ev.get("eventTime"), now)
    last = _since(ev.get("lastTimestamp"), now)
    if last == "<unknown>":
        last = first
    count = int(ev.get("count") or 0)
    series = ev.get("series")
    if series is not None:
        last = _since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events carry no count in the new API
    inv = ev.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    src = ev.get("source") or {}
    component = src.get("component") or ev.get("reportingComponent") or ""
    instance = src.get("host") or ev.get("reportingInstance") or ""
    source = f"{component}, {instance}" if instance else component
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        source,
        (ev.get("message") or "").strip(),
        first,
        count,
        _name(ev),
    ]


def _event(obj: Obj, now: float) -> list:
    return _event_cells(obj, now)


def _events_v1(obj: Obj, now: float) -> list:
    """events.k8s.io/v1 shares core events' storage and printer; map its field names back."""
    if "involvedObject" in obj or ("regarding" not in obj and "note" not in obj):
        return _event_cells(obj, now)
    src = obj.get("deprecatedSource") or {}
    core = {
        "metadata": obj.get("metadata"),
        "involvedObject": obj.get("regarding"),
        "message": obj.get("note"),
        "type": obj.get("type"),
        "reason": obj.get("reason"),
        "source": {"component": src.get("component"), "host": src.get("host")},
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController"),
        "reportingInstance": obj.get("reportingInstance"),
    }
    return _event_cells(core, now)


_MODE_ABBREV = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                ("ReadWriteOncePod", "RWOP"))


def _access_modes(modes: Any) -> str:
    """helper.GetAccessModesAsString: fixed RWO,ROX,RWX,RWOP order, duplicates dropped."""
    if not modes:
        return ""
    return ",".join(short for full, short in _MODE_ABBREV if full in modes)


_BETA_SC_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _pv(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    meta = _meta(obj)
    claim = ""
    ref = spec.get("claimRef")
    if ref is not None:
        claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
    phase = (obj.get("status") or {}).get("phase", "")
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    annotations = meta.get("annotations") or {}
    sc = annotations[_BETA_SC_ANNOTATION] if _BETA_SC_ANNOTATION in annotations else spec.get(
        "storageClassName", "")
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        meta.get("name", ""),
        format_quantity((spec.get("capacity") or {}).get("storage")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim,
        sc,
        "<unset>" if vac is None else vac,
        (obj.get("status") or {}).get("reason", ""),
        _age(obj, now),
        "<unset>" if mode is None else mode,
    ]


def _pvc(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = _meta(obj)
    phase = status.get("phase", "")
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(status.get("accessModes"))
        capacity = format_quantity((status.get("capacity") or {}).get("storage"))
    annotations = meta.get("annotations") or {}
    if _BETA_SC_ANNOTATION in annotations:
        sc = annotations[_BETA_SC_ANNOTATION]
    else:
        sc = spec.get("storageClassName") or ""
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        meta.get("name", ""),
        phase,
        spec.get("volumeName", ""),
        capacity,
        modes,
        sc,
        "<unset>" if vac is None else vac,
        _age(obj, now),
        "<unset>" if mode is None else mode,
    ]


def _replicas(spec: Obj) -> int:
    """spec.replicas as upstream stores it: defaulted to 1 when absent."""
    r = spec.get("replicas")
    return 1 if r is None else int(r)


def _statefulset(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    names, images = _containers(spec.get("template"))
    return [
        _name(obj),
        f"{int(status.get('readyReplicas') or 0)}/{_replicas(spec)}",
        _age(obj, now),
        names,
        images,
    ]


def _daemonset(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    template = spec.get("template") or {}
    names, images = _containers(template)
    return [
        _name(obj),
        int(status.get("desiredNumberScheduled") or 0),
        int(status.get("currentNumberScheduled") or 0),
        int(status.get("numberReady") or 0),
        int(status.get("updatedNumberScheduled") or 0),
        int(status.get("numberAvailable") or 0),
        _format_labels((template.get("spec") or {}).get("nodeSelector")),
        _age(obj, now),
        names,
        images,
        _format_selector(spec.get("selector")),
    ]


def _deployment(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    names, images = _containers(spec.get("template"))
    return [
        _name(obj),
        f"{int(status.get('readyReplicas') or 0)}/{_replicas(spec)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        _age(obj, now),
        names,
        images,
        _selector_string(spec.get("selector")),
    ]


def _replicaset(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    names, images = _containers(spec.get("template"))
    return [
        _name(obj),
        _replicas(spec),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        _age(obj, now),
        names,
        images,
        _format_selector(spec.get("selector")),
    ]


def _replication_controller(obj: Obj, now: float) -> list:
    """printReplicationController: the ReplicaSet's cells, but the selector is a plain label map."""
    spec = obj.get("spec") or {}
    cells = _replicaset({**obj, "spec": {**spec, "selector": None}}, now)
    cells[-1] = _format_labels(spec.get("selector"))
    return cells


def _pod_template(obj: Obj, now: float) -> list:
    tpl = obj.get("template") or {}
    names, images = _containers(tpl)
    return [_name(obj), names, images, _format_labels((tpl.get("metadata") or {}).get("labels"))]


def _job_condition(conds: Any, ctype: str) -> bool:
    """hasJobCondition: the first condition of the type decides."""
    for c in conds or ():
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def _job(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{int(spec['completions'])}"
    else:
        par = int(spec.get("parallelism") or 0)
        completions = f"{succeeded}/1 of {par}" if par > 1 else f"{succeeded}/1"
    start = _parse_time(status.get("startTime") or "")
    done = _parse_time(status.get("completionTime") or "")
    duration = "" if start is None else human_duration((now if done is None else done) - start)
    conds = status.get("conditions")
    if _job_condition(conds, "Complete"):
        state = "Complete"
    elif _job_condition(conds, "Failed"):
        state = "Failed"
    elif _meta(obj).get("deletionTimestamp"):
        state = "Terminating"
    elif _job_condition(conds, "Suspended"):
        state = "Suspended"
    elif _job_condition(conds, "FailureTarget"):
        state = "FailureTarget"
    elif _job_condition(conds, "SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    names, images = _containers(spec.get("template"))
    return [_name(obj), state, completions, duration, _age(obj, now), names, images,
            _format_selector(spec.get("selector"))]


def _cronjob(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    last = status.get("lastScheduleTime")
    suspend = spec.get("suspend")
    jspec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers(jspec.get("template"))
    return [_name(obj), spec.get("schedule") or "", spec.get("timeZone") if spec.get("timeZone") is not None
            else "<none>", "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(status.get("active") or ()), "<none>" if last is None else _since(last, now), _age(obj, now),
            names, images, _format_selector(jspec.get("selector"))]


def _controller_revision(obj: Obj, now: float) -> list:
    controller = "<none>"
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            api_version = ref.get("apiVersion", "")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            kind = ref.get("kind", "")
            group_kind = f"{kind}.{group}" if group else kind
            name = ref.get("name", "")
            controller = f"{group_kind.lower()}/{name}" if group_kind else name
            break
    return [_name(obj), controller, int(obj.get("revision") or 0), _age(obj, now)]


def _storage_class(obj: Obj, now: float) -> list:
    annotations = _meta(obj).get("annotations") or {}
    name = _name(obj)
    if (annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
            or annotations.get("storageclass.beta.kubernetes.io/is-default-class") == "true"):
        name += " (default)"
    return [
        name,
        obj.get("provisioner", ""),
        "Delete" if obj.get("reclaimPolicy") is None else obj["reclaimPolicy"],
        "Immediate" if obj.get("volumeBindingMode") is None else obj["volumeBindingMode"],
        bool(obj.get("allowVolumeExpansion") or False),
        _age(obj, now),
    ]


def _lease(obj: Obj, now: float) -> list:
    return [_name(obj), (obj.get("spec") or {}).get("holderIdentity") or "", _age(obj, now)]


def _ingress(obj: Obj, now: float) -> list:
    """printIngress: up to three hosts ("*" for none), LB addresses sorted and unique, "80, 443" with TLS."""
    spec = obj.get("spec") or {}
    rules = spec.get("rules") or []
    hosts: list[str] = []
    more = False
    for r in rules:
        if len(hosts) == 3:
            more = True
        if not more and (r or {}).get("host"):
            hosts.append(r["host"])
    host_cell = ",".join(hosts) if hosts else "*"
    if more:
        host_cell += f" + {len(rules) - 3} more..."
    addrs = set()
    for lb in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ():
        if lb.get("ip"):
            addrs.add(lb["ip"])
        elif lb.get("hostname"):
            addrs.add(lb["hostname"])
    cls = spec.get("ingressClassName")
    return [_name(obj), "<none>" if cls is None else cls, host_cell, ",".join(sorted(addrs)),
            "80, 443" if spec.get("tls") else "80", _age(obj, now)]


def _ingress_class(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    params = spec.get("parameters")
    cell = "<none>"
    if params is not None:
        cell = params.get("kind", "")
        if params.get("apiGroup") is not None:
            cell += "." + params["apiGroup"]
        cell += "/" + params.get("name", "")
    return [_name(obj), spec.get("controller", ""), cell, _age(obj, now)]


def _network_policy(obj: Obj, now: float) -> list:
    return [_name(obj), _format_selector((obj.get("spec") or {}).get("podSelector")), _age(obj, now)]


def _component_status(obj: Obj, now: float) -> list:
    """printComponentStatus: the Healthy condition's status, message and error."""
    status, message, error = "Unknown", "", ""
    for c in obj.get("conditions") or []:
        if c.get("type") == "Healthy":
            status = {"True": "Healthy", "False": "Unhealthy"}.get(c.get("status"), "Unknown")
            message, error = c.get("message") or "", c.get("error") or ""
            break
    return [_name(obj), status, message, error]


def _csi_driver(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    attach = spec.get("attachRequired")
    trs = spec.get("tokenRequests")
    tokens = "<unset>" if trs is None else ",".join(t.get("audience") or "" for t in trs)
    return [_name(obj), True if attach is None else bool(attach), bool(spec.get("podInfoOnMount")),
            bool(spec.get("storageCapacity")), tokens, bool(spec.get("requiresRepublish")),
            ",".join(spec.get("volumeLifecycleModes") or []) or "<none>", _age(obj, now)]


def _csi_node(obj: Obj, now: float) -> list:
    return [_name(obj), len((obj.get("spec") or {}).get("drivers") or []), _age(obj, now)]


def _volume_attachment(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    src = spec.get("source") or {}
    pv = src.get("persistentVolumeName") or ""
    return [_name(obj), spec.get("attacher") or "", pv, spec.get("nodeName") or "",
            bool((obj.get("status") or {}).get("attached")), _age(obj, now)]


def _csi_storage_capacity(obj: Obj, now: float) -> list:
    return [_name(obj), obj.get("storageClassName") or "", _age(obj, now)]


def _flow_schema(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    dm = (spec.get("distinguisherMethod") or {}).get("type") or "<none>"
    missing = "?"
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Dangling":
            missing = c.get("status") or ""
            break
    return [_name(obj), (spec.get("priorityLevelConfiguration") or {}).get("name") or "",
            int(spec.get("matchingPrecedence") or 0), dm, _age(obj, now), missing]


def _priority_level(obj: Obj, now: float) -> list:
    spec = obj.get("spec") or {}
    ncs: Any = "<none>"
    queues: Any = "<none>"
    hand: Any = "<none>"
    qll: Any = "<none>"
    limited = spec.get("limited")
    if limited is not None:
        ncs = int(limited.get("nominalConcurrencyShares") or 0)
        q = (limited.get("limitResponse") or {}).get("queuing")
        if q is not None:
            queues, hand, qll = int(q.get("queues") or 0), int(q.get("handSize") or 0), int(q.get("queueLengthLimit") or 0)
    return [_name(obj), spec.get("type") or "", ncs, queues, hand, qll, _age(obj, now)]


def _apiservice(obj: Obj, now: float) -> list:
    """printAPIService: Local or namespace/name; the Available condition's status (reason when not True)."""
    svc = (obj.get("spec") or {}).get("service")
    service = "Local" if svc is None else f"{svc.get('namespace') or ''}/{svc.get('name') or ''}"
    status = "Unknown"
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available":
            st = c.get("status") or ""
            status = st if st == "True" or not c.get("reason") else f"{st} ({c['reason']})"
            break
    return [_name(obj), service, status, _age(obj, now)]


def _runtime_class(obj: Obj, now: float) -> list:
    return [_name(obj), obj.get("handler") or "", _age(obj, now)]


def _csr(obj: Obj, now: float) -> list:
    """printCertificateSigningRequest: requestor is spec.username; duration from expirationSeconds."""
    from .certificates import condition_summary

    spec = obj.get("spec") or {}
    exp = spec.get("expirationSeconds")
    return [_name(obj), _age(obj, now), spec.get("signerName") or "<none>", spec.get("username") or "",
            "<none>" if exp is None else human_duration(exp), condition_summary(obj)]


def _priority_class(obj: Obj, now: float) -> list:
    return [_name(obj), int(obj.get("value") or 0), bool(obj.get("globalDefault") or False), _age(obj, now),
            obj.get("preemptionPolicy") or ""]


def _hpa_metrics(specs: Any, statuses: Any) -> str:
    """formatHPAMetrics: "<current>/<target>" per metric (resource ones prefixed "cpu: "), two at most."""
    if not specs:
        return "<none>"
    statuses = statuses if isinstance(statuses, list) else []
    out = []
    for i, spec in enumerate(specs):
        st = statuses[i] if i < len(statuses) and isinstance(statuses[i], dict) else {}
        typ = spec.get("type")
        key = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
               "ContainerResource": "containerResource"}.get(typ)
        src = spec.get(key) or {} if key else {}
        tgt = src.get("target") or {}
        cur = (st.get(key) or {}).get("current") if key and isinstance(st.get(key), dict) else None
        if key in ("external", "object"):
            if tgt.get("averageValue") is not None:
                c = format_quantity(cur["averageValue"]) if cur and cur.get("averageValue") is not None else "<unknown>"
                out.append(f"{c}/{format_quantity(tgt['averageValue'])} (avg)")
            else:
                c = format_quantity(cur.get("value")) if cur is not None else "<unknown>"
                out.append(f"{c}/{format_quantity(tgt.get('value'))}")
        elif key == "pods":
            c = format_quantity(cur.get("averageValue")) if cur is not None else "<unknown>"
            out.append(f"{c}/{format_quantity(tgt.get('averageValue'))}")
        elif key in ("resource", "containerResource"):
            name = src.get("name", "")
            if tgt.get("averageValue") is not None:
                c = format_quantity(cur.get("averageValue")) if cur is not None else "<unknown>"
                out.append(f"{name}: {c}/{format_quantity(tgt['averageValue'])}")
            else:
                c = f"{cur['averageUtilization']}%" if cur and cur.get("averageUtilization") is not None \
                    else "<unknown>"
                t = f"{tgt['averageUtilization']}%" if tgt.get("averageUtilization") is not None else "<auto>"
                out.append(f"{name}: {c}/{t}")
        else:
            out.append("<unknown type>")
    if len(out) > 2:
        return f"{', '.join(out[:2])} + {len(out) - 2} more..."
    return ", ".join(out)


def _hpa(obj: Obj, now: float) -> list:
    """printHorizontalPodAutoscaler."""
    spec = obj.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    mn = spec.get("minReplicas")
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            _hpa_metrics(spec.get("metrics"), (obj.get("status") or {}).get("currentMetrics")),
            "<unset>" if mn is None else str(mn), int(spec.get("maxReplicas") or 0),
            int((obj.get("status") or {}).get("currentReplicas") or 0), _age(obj, now)]


def _pdb(obj: Obj, now: float) -> list:
    """printPodDisruptionBudget: IntOrString.String() of the budget, "N/A" when unset."""
    spec = obj.get("spec") or {}
    cells = [_name(obj)]
    for k in ("minAvailable", "maxUnavailable"):
        v = spec.get(k)
        cells.append("N/A" if v is None else str(v))
    cells.append(int((obj.get("status") or {}).get("disruptionsAllowed") or 0))
    cells.append(_age(obj, now))
    return cells


def _rbac_role(obj: Obj, now: float) -> list:
    """printRole/printClusterRole: name and creation time (RFC3339, UTC)."""
    return [_name(obj), _rfc3339(_meta(obj).get("creationTimestamp"))]


def _rbac_binding(obj: Obj, now: float) -> list:
    """printRoleBinding/printClusterRoleBinding; USERS/GROUPS/SERVICEACCOUNTS are the wide columns."""
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in obj.get("subjects") or ():
        kind = s.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif kind == "User":
            users.append(s.get("name", ""))
        elif kind == "Group":
            groups.append(s.get("name", ""))
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


def _resource_quota(obj: Obj, now: float) -> list:
    """printResourceQuota: "name: used/hard" per spec.hard key (sorted), limits.* in the LIMIT column."""
    status = obj.get("status") or {}
    used, hard = status.get("used") or {}, status.get("hard") or {}
    request, limit = [], []
    for name in sorted((obj.get("spec") or {}).get("hard") or {}):
        pieces = name.split(".")
        cell = f"{name}: {format_quantity(used.get(name))}/{format_quantity(hard.get(name))}"
        (limit if len(pieces) > 1 and pieces[0] == "limits" else request).append(cell)
    return [_name(obj), _age(obj, now), ", ".join(request), ", ".join(limit)]


def _default(obj: Obj, now: float) -> list:
    """rest.defaultTableConvertor: name and RFC3339 creation time."""
    return [_name(obj), _rfc3339(_meta(obj).get("creationTimestamp"))]


# ---------------------------------------------------------------------------------------------
# column definitions
# ---------------------------------------------------------------------------------------------

# A description is either literal text or (OpenAPI definition, field) resolved from the v1.32
# definitions (identical to the Go SwaggerDoc of the v1 type).
_Desc = str | tuple[str, str]
_Col = tuple[str, str, _Desc, int, str]  # name, type, description, priority, format

_OM = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_CORE = "io.k8s.api.core.v1."
_NAME: _Col = ("Name", "string", (_OM, "name"), 0, "name")
_AGE: _Col = ("Age", "string", (_OM, "creationTimestamp"), 0, "")
_CONTAINERS: _Col = ("Containers", "string", "Names of each container in the template.", 1, "")
_IMAGES: _Col = ("Images", "string", "Images referenced by each container in the template.", 1, "")
_READY_PODS = "Number of the pod with ready state"

# extensions/v1beta1 and discovery/v1beta1 SwaggerDoc texts (types absent from the v1 OpenAPI).
_EXT_DS_STATUS_DOC = {
    "desiredNumberScheduled": "The total number of nodes that should be running the daemon pod (including "
    "nodes correctly running the daemon pod). More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "currentNumberScheduled": "The number of nodes that are running at least 1 daemon pod and are supposed "
    "to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "numberReady": "The number of nodes that should be running the daemon pod and have one or more of the "
    "daemon pod running and ready.",
    "updatedNumberScheduled": "The total number of nodes that are running updated daemon pod",
    "numberAvailable": "The number of nodes that should be running the daemon pod and have one or more of "
    "the daemon pod running and available (ready for at least spec.minReadySeconds)",
}
_EXT_DS_SELECTOR_DOC = (
    "A label query over pods that are managed by the daemon set. Must match in order to be controlled. "
    "If empty, defaulted to labels on Pod template. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_EXT_RS_DOC = {
    "spec.replicas": "Replicas is the number of desired replicas. This is a pointer to distinguish between "
    "explicit zero and unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
    "#what-is-a-replicationcontroller",
    "status.replicas": "Replicas is the most recently observed number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
    "#what-is-a-replicationcontroller",
    "status.readyReplicas": "The number of ready replicas for this replica set.",
    "spec.selector": "Selector is a label query over pods that should match the replica count. If the "
    "selector is empty, it is defaulted to the labels present on the pod template. Label keys and values "
    "that must match in order to be controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
}
_EXT_DEPLOY_DOC = {
    "updatedReplicas": "Total number of non-terminated pods targeted by this deployment that have the "
    "desired template spec.",
    "availableReplicas": "Total number of available pods (ready for at least minReadySeconds) targeted by "
    "this deployment.",
    "selector": "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the "
    "ones affected by this deployment.",
}
_DISCOVERY_BETA_DOC = {
    "addressType": "addressType specifies the type of address carried by this EndpointSlice. All addresses "
    "in this slice must be the same type. This field is immutable after creation. The following address "
    "types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 "
    "Address. * FQDN: Represents a Fully Qualified Domain Name.",
    "ports": "ports specifies the list of network ports exposed by each endpoint in this slice. Each port "
    "must have a unique name. When ports is empty, it indicates that there are no defined ports. When a "
    "port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum "
    "of 100 ports.",
    "endpoints": "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum "
    "of 1000 endpoints.",
}

_EVENT_COLUMNS: list[_Col] = [
    ("Last Seen", "string", (_CORE + "Event", "lastTimestamp"), 0, ""),
    ("Type", "string", (_CORE + "Event", "type"), 0, ""),
    ("Reason", "string", (_CORE + "Event", "reason"), 0, ""),
    ("Object", "string", (_CORE + "Event", "involvedObject"), 0, ""),
    ("Subobject", "string", (_CORE + "ObjectReference", "fieldPath"), 1, ""),
    ("Source", "string", (_CORE + "Event", "source"), 1, ""),
    ("Message", "string", (_CORE + "Event", "message"), 0, ""),
    ("First Seen", "string", (_CORE + "Event", "firstTimestamp"), 1, ""),
    ("Count", "string", (_CORE + "Event", "count"), 1, ""),
    ("Name", "string", (_OM, "name"), 1, "name"),
]

_HPA_SPEC = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec"
_COLUMNS: dict[str, list[_Col]] = {
    "pods": [
        _NAME,
        ("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0, ""),
        ("Status", "string", "The aggregate status of the containers in this pod.", 0, ""),
        ("Restarts", "string", "The number of times the containers in this pod have been restarted and when "
         "the last container in this pod has restarted.", 0, ""),
        _AGE,
        ("IP", "string", (_CORE + "PodStatus", "podIP"), 1, ""),
        ("Node", "string", (_CORE + "PodSpec", "nodeName"), 1, ""),
        ("Nominated Node", "string", (_CORE + "PodStatus", "nominatedNodeName"), 1, ""),
        ("Readiness Gates", "string", (_CORE + "PodSpec", "readinessGates"), 1, ""),
    ],
    "nodes": [
        _NAME,
        ("Status", "string", "The status of the node", 0, ""),
        ("Roles", "string", "The roles of the node", 0, ""),
        _AGE,
        ("Version", "string", (_CORE + "NodeSystemInfo", "kubeletVersion"), 0, ""),
        ("Internal-IP", "string", (_CORE + "NodeStatus", "addresses"), 1, ""),
        ("External-IP", "string", (_CORE + "NodeStatus", "addresses"), 1, ""),
        ("OS-Image", "string", (_CORE + "NodeSystemInfo", "osImage"), 1, ""),
        ("Kernel-Version", "string", (_CORE + "NodeSystemInfo", "kernelVersion"), 1, ""),
        ("Container-Runtime", "string", (_CORE + "NodeSystemInfo", "containerRuntimeVersion"), 1, ""),
    ],
    "namespaces": [_NAME, ("Status", "string", "The status of the namespace", 0, ""), _AGE],
    "services": [
        _NAME,
        ("Type", "string", (_CORE + "ServiceSpec", "type"), 0, ""),
        ("Cluster-IP", "string", (_CORE + "ServiceSpec", "clusterIP"), 0, ""),
        ("External-IP", "string", (_CORE + "ServiceSpec", "externalIPs"), 0, ""),
        ("Port(s)", "string", (_CORE + "ServiceSpec", "ports"), 0, ""),
        _AGE,
        ("Selector", "string", (_CORE + "ServiceSpec", "selector"), 1, ""),
    ],
    "endpoints": [_NAME, ("Endpoints", "string", (_CORE + "Endpoints", "subsets"), 0, ""), _AGE],
    "configmaps": [_NAME, ("Data", "string", (_CORE + "ConfigMap", "data"), 0, ""), _AGE],
    "secrets": [
        _NAME,
        ("Type", "string", (_CORE + "Secret", "type"), 0, ""),
        ("Data", "string", (_CORE + "Secret", "data"), 0, ""),
        _AGE,
    ],
    "serviceaccounts": [_NAME, ("Secrets", "string", (_CORE + "ServiceAccount", "secrets"), 0, ""), _AGE],
    "events": _EVENT_COLUMNS,
    "events.events.k8s.io": _EVENT_COLUMNS,
    "persistentvolumes": [
        _NAME,
        ("Capacity", "string", (_CORE + "PersistentVolumeSpec", "capacity"), 0, ""),
        ("Access Modes", "string", (_CORE + "PersistentVolumeSpec", "accessModes"), 0, ""),
        ("Reclaim Policy", "string", (_CORE + "PersistentVolumeSpec", "persistentVolumeReclaimPolicy"), 0, ""),
        ("Status", "string", (_CORE + "PersistentVolumeStatus", "phase"), 0, ""),
        ("Claim", "string", (_CORE + "PersistentVolumeSpec", "claimRef"), 0, ""),
        ("StorageClass", "string", "StorageClass of the pv", 0, ""),
        ("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", 0, ""),
        ("Reason", "string", (_CORE + "PersistentVolumeStatus", "reason"), 0, ""),
        _AGE,
        ("VolumeMode", "string", (_CORE + "PersistentVolumeSpec", "volumeMode"), 1, ""),
    ],
    "persistentvolumeclaims": [
        _NAME,
        ("Status", "string", (_CORE + "PersistentVolumeClaimStatus", "phase"), 0, ""),
        ("Volume", "string", (_CORE + "PersistentVolumeClaimSpec", "volumeName"), 0, ""),
        ("Capacity", "string", (_CORE + "PersistentVolumeClaimStatus", "capacity"), 0, ""),
        ("Access Modes", "string", (_CORE + "PersistentVolumeClaimStatus", "accessModes"), 0, ""),
        ("StorageClass", "string", "StorageClass of the pvc", 0, ""),
        ("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", 0, ""),
        _AGE,
        ("VolumeMode", "string", (_CORE + "PersistentVolumeClaimSpec", "volumeMode"), 1, ""),
    ],
    "statefulsets.apps": [_NAME, ("Ready", "string", _READY_PODS, 0, ""), _AGE, _CONTAINERS, _IMAGES],
    "daemonsets.apps": [
        _NAME,
        ("Desired", "integer", _EXT_DS_STATUS_DOC["desiredNumberScheduled"], 0, ""),
        ("Current", "integer", _EXT_DS_STATUS_DOC["currentNumberScheduled"], 0, ""),
        ("Ready", "integer", _EXT_DS_STATUS_DOC["numberReady"], 0, ""),
        ("Up-to-date", "integer", _EXT_DS_STATUS_DOC["updatedNumberScheduled"], 0, ""),
        ("Available", "integer", _EXT_DS_STATUS_DOC["numberAvailable"], 0, ""),
        ("Node Selector", "string", (_CORE + "PodSpec", "nodeSelector"), 0, ""),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", _EXT_DS_SELECTOR_DOC, 1, ""),
    ],
    "deployments.apps": [
        _NAME,
        ("Ready", "string", _READY_PODS, 0, ""),
        ("Up-to-date", "string", _EXT_DEPLOY_DOC["updatedReplicas"], 0, ""),
        ("Available", "string", _EXT_DEPLOY_DOC["availableReplicas"], 0, ""),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", _EXT_DEPLOY_DOC["selector"], 1, ""),
    ],
    "replicasets.apps": [
        _NAME,
        ("Desired", "integer", _EXT_RS_DOC["spec.replicas"], 0, ""),
        ("Current", "integer", _EXT_RS_DOC["status.replicas"], 0, ""),
        ("Ready", "integer", _EXT_RS_DOC["status.readyReplicas"], 0, ""),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", _EXT_RS_DOC["spec.selector"], 1, ""),
    ],
    "replicationcontrollers": [
        _NAME,
        ("Desired", "integer", (_CORE + "ReplicationControllerSpec", "replicas"), 0, ""),
        ("Current", "integer", (_CORE + "ReplicationControllerStatus", "replicas"), 0, ""),
        ("Ready", "integer", (_CORE + "ReplicationControllerStatus", "readyReplicas"), 0, ""),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", (_CORE + "ReplicationControllerSpec", "selector"), 1, ""),
    ],
    "podtemplates": [
        _NAME,
        ("Containers", "string", "Names of each container in the template.", 0, ""),
        ("Images", "string", "Images referenced by each container in the template.", 0, ""),
        ("Pod Labels", "string", "The labels for the pod template.", 0, ""),
    ],
    "controllerrevisions.apps": [
        _NAME,
        ("Controller", "string", "Controller of the object", 0, ""),
        ("Revision", "string", "Revision indicates the revision of the state represented by Data.", 0, ""),
        _AGE,
    ],
    "jobs.batch": [
        _NAME,
        ("Status", "string", "Status of the job.", 0, ""),
        ("Completions", "string", ("io.k8s.api.batch.v1.JobStatus", "succeeded"), 0, ""),
        ("Duration", "string", "Time required to complete the job.", 0, ""),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", ("io.k8s.api.batch.v1.JobSpec", "selector"), 1, ""),
    ],
    "cronjobs.batch": [
        _NAME,
        ("Schedule", "string", ("io.k8s.api.batch.v1.CronJobSpec", "schedule"), 0, ""),
        ("Timezone", "string", ("io.k8s.api.batch.v1.CronJobSpec", "timeZone"), 0, ""),
        ("Suspend", "boolean", ("io.k8s.api.batch.v1.CronJobSpec", "suspend"), 0, ""),
        ("Active", "integer", ("io.k8s.api.batch.v1.CronJobStatus", "active"), 0, ""),
        ("Last Schedule", "string", ("io.k8s.api.batch.v1.CronJobStatus", "lastScheduleTime"), 0, ""),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", ("io.k8s.api.batch.v1.JobSpec", "selector"), 1, ""),
    ],
    "storageclasses.storage.k8s.io": [
        _NAME,
        ("Provisioner", "string", ("io.k8s.api.storage.v1.StorageClass", "provisioner"), 0, ""),
        ("ReclaimPolicy", "string", ("io.k8s.api.storage.v1.StorageClass", "reclaimPolicy"), 0, ""),
        ("VolumeBindingMode", "string", ("io.k8s.api.storage.v1.StorageClass", "volumeBindingMode"), 0, ""),
        ("AllowVolumeExpansion", "string", ("io.k8s.api.storage.v1.StorageClass", "allowVolumeExpansion"), 0,
         ""),
        _AGE,
    ],
    "leases.coordination.k8s.io": [
        _NAME,
        ("Holder", "string", ("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity"), 0, ""),
        _AGE,
    ],
    "horizontalpodautoscalers.autoscaling": [
        _NAME,
        ("Reference", "string", (_HPA_SPEC, "scaleTargetRef"), 0, ""),
        ("Targets", "string", (_HPA_SPEC, "metrics"), 0, ""),
        ("MinPods", "string", (_HPA_SPEC, "minReplicas"), 0, ""),
        ("MaxPods", "string", (_HPA_SPEC, "maxReplicas"), 0, ""),
        ("Replicas", "string", ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas"), 0, ""),
        _AGE,
    ],
    "poddisruptionbudgets.policy": [
        _NAME,
        ("Min Available", "string", "The minimum number of pods that must be available.", 0, ""),
        ("Max Unavailable", "string", "The maximum number of pods that may be unavailable.", 0, ""),
        ("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time.", 0, ""),
        _AGE,
    ],
    "endpointslices.discovery.k8s.io": [
        _NAME,
        ("AddressType", "string", _DISCOVERY_BETA_DOC["addressType"], 0, ""),
        ("Ports", "string", _DISCOVERY_BETA_DOC["ports"], 0, ""),
        ("Endpoints", "string", _DISCOVERY_BETA_DOC["endpoints"], 0, ""),
        _AGE,
    ],
}

_NETPOL_SELECTOR_DOC = (
    "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any "
    "pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the "
    "ingress rules for each are combined additively. This field is NOT optional and follows standard label "
    "selector semantics. An empty podSelector matches all pods in this namespace.")
_PC = "io.k8s.api.scheduling.v1.PriorityClass"
_CSI = "io.k8s.api.storage.v1.CSIDriverSpec"
_VA = "io.k8s.api.storage.v1.VolumeAttachmentSpec"
_COLUMNS.update({
    "csidrivers.storage.k8s.io": [
        _NAME,
        ("AttachRequired", "boolean", (_CSI, "attachRequired"), 0, ""),
        ("PodInfoOnMount", "boolean", (_CSI, "podInfoOnMount"), 0, ""),
        ("StorageCapacity", "boolean", (_CSI, "storageCapacity"), 0, ""),
        ("TokenRequests", "string", (_CSI, "tokenRequests"), 0, ""),
        ("RequiresRepublish", "boolean", (_CSI, "requiresRepublish"), 0, ""),
        ("Modes", "string", (_CSI, "volumeLifecycleModes"), 0, ""),
        _AGE,
    ],
    "csinodes.storage.k8s.io": [
        _NAME, ("Drivers", "integer", ("io.k8s.api.storage.v1.CSINodeSpec", "drivers"), 0, ""), _AGE],
    "volumeattachments.storage.k8s.io": [
        _NAME,
        ("Attacher", "string", (_VA, "attacher"), 0, ""),
        ("PV", "string", ("io.k8s.api.storage.v1.VolumeAttachmentSource", "persistentVolumeName"), 0, ""),
        ("Node", "string", (_VA, "nodeName"), 0, ""),
        ("Attached", "boolean", ("io.k8s.api.storage.v1.VolumeAttachmentStatus", "attached"), 0, ""),
        _AGE,
    ],
    "csistoragecapacities.storage.k8s.io": [
        _NAME,
        ("StorageClassName", "string", ("io.k8s.api.storage.v1.CSIStorageCapacity", "storageClassName"), 0, ""),
        _AGE,
    ],
})
_FS = "io.k8s.api.flowcontrol.v1.FlowSchemaSpec"
_PLC_LIMITED = "io.k8s.api.flowcontrol.v1.LimitedPriorityLevelConfiguration"
_QC = "io.k8s.api.flowcontrol.v1.QueuingConfiguration"
_COLUMNS.update({
    "flowschemas.flowcontrol.apiserver.k8s.io": [
        _NAME,
        ("PriorityLevel", "string", ("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationReference", "name"), 0,
         ""),
        ("MatchingPrecedence", "string", (_FS, "matchingPrecedence"), 0, ""),
        ("DistinguisherMethod", "string", (_FS, "distinguisherMethod"), 0, ""),
        _AGE,
        ("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration", 0, ""),
    ],
    "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io": [
        _NAME,
        ("Type", "string", ("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationSpec", "type"), 0, ""),
        ("NominalConcurrencyShares", "string", (_PLC_LIMITED, "nominalConcurrencyShares"), 0, ""),
        ("Queues", "string", (_QC, "queues"), 0, ""),
        ("HandSize", "string", (_QC, "handSize"), 0, ""),
        ("QueueLengthLimit", "string", (_QC, "queueLengthLimit"), 0, ""),
        _AGE,
    ],
})
_COLUMNS["apiservices.apiregistration.k8s.io"] = [
    _NAME,
    ("Service", "string", "The reference to the service that hosts this API endpoint.", 0, ""),
    ("Available", "string", "Whether this service is available.", 0, ""),
    _AGE,
]
_COLUMNS["componentstatuses"] = [
    _NAME,
    ("Status", "string", "Status of the component conditions", 0, ""),
    ("Message", "string", "Message of the component conditions", 0, ""),
    ("Error", "string", "Error of the component conditions", 0, ""),
]
_COLUMNS["runtimeclasses.node.k8s.io"] = [
    _NAME, ("Handler", "string", ("io.k8s.api.node.v1.RuntimeClass", "handler"), 0, ""), _AGE]
_CSR_SPEC = "io.k8s.api.certificates.v1.CertificateSigningRequestSpec"
_COLUMNS["certificatesigningrequests.certificates.k8s.io"] = [
    _NAME,
    _AGE,
    ("SignerName", "string", (_CSR_SPEC, "signerName"), 0, ""),
    ("Requestor", "string", (_CSR_SPEC, "request"), 0, ""),
    ("RequestedDuration", "string", (_CSR_SPEC, "expirationSeconds"), 0, ""),
    ("Condition", "string", ("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", "conditions"), 0, ""),
]
_COLUMNS.update({
    "ingresses.networking.k8s.io": [
        _NAME,
        ("Class", "string", "The name of the IngressClass resource that should be used for additional configuration",
         0, ""),
        ("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule", 0, ""),
        ("Address", "string", "Address is a list containing ingress points for the load-balancer", 0, ""),
        ("Ports", "string", "Ports of TLS configurations that open", 0, ""),
        _AGE,
    ],
    "ingressclasses.networking.k8s.io": [
        _NAME,
        ("Controller", "string", "Controller that is responsible for handling this class", 0, ""),
        ("Parameters", "string", "A reference to a resource with additional parameters", 0, ""),
        _AGE,
    ],
    "networkpolicies.networking.k8s.io": [_NAME, ("Pod-Selector", "string", _NETPOL_SELECTOR_DOC, 0, ""), _AGE],
    "priorityclasses.scheduling.k8s.io": [
        _NAME,
        ("Value", "integer", (_PC, "value"), 0, ""),
        ("Global-Default", "boolean", (_PC, "globalDefault"), 0, ""),
        _AGE,
        ("PreemptionPolicy", "string", (_PC, "preemptionPolicy"), 0, ""),
    ],
})

_WEBHOOK_COLUMNS: list[_Col] = [
    _NAME,
    ("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration", 0, ""),
    _AGE,
]
_COLUMNS["mutatingwebhookconfigurations.admissionregistration.k8s.io"] = _WEBHOOK_COLUMNS
_COLUMNS["validatingwebhookconfigurations.admissionregistration.k8s.io"] = _WEBHOOK_COLUMNS


def _webhook_configuration(obj: Obj, now: float) -> list:
    return [_name(obj), len(obj.get("webhooks") or []), _age(obj, now)]


_COLUMNS["resourcequotas"] = [
    _NAME,
    _AGE,
    ("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.", 0, ""),
    ("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of "
                        "contention on the node.", 0, ""),
]

_RBAC_ROLE_COLUMNS: list[_Col] = [_NAME, ("Created At", "date", (_OM, "creationTimestamp"), 0, "")]
_ROLE_REF_DOC = ("RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. "
                 "If the RoleRef cannot be resolved, the Authorizer must return an error.")


def _rbac_binding_columns(what: str) -> list[_Col]:
    return [_NAME, ("Role", "string", _ROLE_REF_DOC, 0, ""), _AGE,
            ("Users", "string", f"Users in the {what}", 1, ""),
            ("Groups", "string", f"Groups in the {what}", 1, ""),
            ("ServiceAccounts", "string", f"ServiceAccounts in the {what}", 1, "")]


_COLUMNS.update({
    "roles.rbac.authorization.k8s.io": _RBAC_ROLE_COLUMNS,
    "clusterroles.rbac.authorization.k8s.io": _RBAC_ROLE_COLUMNS,
    "rolebindings.rbac.authorization.k8s.io": _rbac_binding_columns("roleBinding"),
    "clusterrolebindings.rbac.authorization.k8s.io": _rbac_binding_columns("clusterRoleBinding"),
})

_DEFAULT_COLUMNS: list[_Col] = [
    _NAME,
    ("Created At", "date", (_OM, "creationTimestamp"), 0, ""),
]

_PRINTERS: dict[str, Callable[[Obj, float], list]] = {
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": _webhook_configuration,
    "validatingwebhookconfigurations.admissionregistration.k8s.io": _webhook_configuration,
    "pods": _pod,
    "nodes": _node,
    "namespaces": _namespace,
    "services": _service,
    "endpoints": _endpoints,
    "configmaps": _configmap,
    "secrets": _secret,
    "serviceaccounts": _service_account,
    "events": _event,
    "events.events.k8s.io": _events_v1,
    "persistentvolumes": _pv,
    "persistentvolumeclaims": _pvc,
    "resourcequotas": _resource_quota,
    "statefulsets.apps": _statefulset,
    "daemonsets.apps": _daemonset,
    "deployments.apps": _deployment,
    "replicasets.apps": _replicaset,
    "replicationcontrollers": _replication_controller,
    "podtemplates": _pod_template,
    "controllerrevisions.apps": _controller_revision,
    "jobs.batch": _job,
    "cronjobs.batch": _cronjob,
    "storageclasses.storage.k8s.io": _storage_class,
    "leases.coordination.k8s.io": _lease,
    "ingresses.networking.k8s.io": _ingress,
    "ingressclasses.networking.k8s.io": _ingress_class,
    "networkpolicies.networking.k8s.io": _network_policy,
    "priorityclasses.scheduling.k8s.io": _priority_class,
    "certificatesigningrequests.certificates.k8s.io": _csr,
    "runtimeclasses.node.k8s.io": _runtime_class,
    "componentstatuses": _component_status,
    "apiservices.apiregistration.k8s.io": _apiservice,
    "flowschemas.flowcontrol.apiserver.k8s.io": _flow_schema,
    "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io": _priority_level,
    "csidrivers.storage.k8s.io": _csi_driver,
    "csinodes.storage.k8s.io": _csi_node,
    "volumeattachments.storage.k8s.io": _volume_attachment,
    "csistoragecapacities.storage.k8s.io": _csi_storage_capacity,
    "endpointslices.discovery.k8s.io": _endpoint_slice,
    "poddisruptionbudgets.policy": _pdb,
    "horizontalpodautoscalers.autoscaling": _hpa,
    "roles.rbac.authorization.k8s.io": _rbac_role,
    "clusterroles.rbac.authorization.k8s.io": _rbac_role,
    "rolebindings.rbac.authorization.k8s.io": _rbac_binding,
    "clusterrolebindings.rbac.authorization.k8s.io": _rbac_binding,
}


def _describe(desc: _Desc) -> str:
    if isinstance(desc, str):
        return desc
    from kubeling.api import schema  # lazy: only the first table of each kind pays for it

    definition, field = desc
    try:
        node = schema.definitions()[definition]["properties"][field]
    except KeyError:
        return ""  # Go's SwaggerDoc()[missing] is ""
    return node.get("description", "")


@functools.cache
def _resolved_columns(resource: str) -> tuple[tuple[str, str, str, str, int], ...]:
    cols = _COLUMNS.get(resource, _DEFAULT_COLUMNS)
    return tuple((name, typ, fmt, _describe(desc), prio) for name, typ, desc, prio, fmt in cols)


def column_definitions(resource: str) -> list[dict]:
    """Table columnDefinitions for a group-qualified plural ("pods", "deployments.apps", ...).

    Unknown resources get upstream's default convertor columns (Name, Created At).
    """
    return [
        {"name": n, "type": t, "format": f, "description": d, "priority": p}
        for n, t, f, d, p in _resolved_columns(resource)
    ]


def row_cells(resource: str, obj: dict, now: float) -> list:
    """The cells of one Table row for `obj`, wide columns included; `now` is time.time()."""
    return _PRINTERS.get(resource, _default)(obj, now)


_POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def row_conditions(resource: str, obj: dict) -> list[dict] | None:
    """Row conditions upstream attaches (only pods in a terminal phase); None when there are none."""
    if resource != "pods":
        return None
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return [dict(c) for c in _POD_SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _POD_FAILED]
    return None

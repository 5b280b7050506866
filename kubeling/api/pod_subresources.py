"""The kubelet-backed subresources (pods/log|exec|attach|portforward|proxy, nodes/proxy, services/proxy).

Pure decisions only: which subresources exist and their discovery verbs, how their query options
parse and validate (upstream apis/core/validation ValidatePodLogOptions), which container a request
means (registry/core/pod strategy validateContainer), whether a container has logs to show (the
kubelet's validateContainerLogStatus) and where upstream would connect (node InternalIP and kubelet
port). kubeling's nodes are simulated, so nothing is ever dialled: the HTTP layer turns the would-be
backend into a Status error that says so.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError
from .meta import parse_time

# Subresources served by connecting to a kubelet or a pod rather than by the object store,
# as upstream's APIResourceList lists them (name -> verbs, response kind).
CONNECT_SUBRESOURCES: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "pods": {
        "attach": (("create", "get"), "PodAttachOptions"),
        "exec": (("create", "get"), "PodExecOptions"),
        "log": (("get",), "Pod"),
        "portforward": (("create", "get"), "PodPortForwardOptions"),
        "proxy": (("create", "delete", "get", "patch", "update"), "PodProxyOptions"),
    },
    "nodes": {"proxy": (("create", "delete", "get", "patch", "update"), "NodeProxyOptions")},
    "services": {"proxy": (("create", "delete", "get", "patch", "update"), "ServiceProxyOptions")},
}
# Connecter subresources that upstream only serves as a connection upgrade (exec, attach, portforward).
UPGRADE_ONLY = frozenset(("exec", "attach", "portforward"))
# HTTP methods per subresource (upstream ConnectMethods; GET on log).
METHODS: dict[str, frozenset[str]] = {
    "log": frozenset(("GET",)),
    "exec": frozenset(("GET", "POST")),
    "attach": frozenset(("GET", "POST")),
    "portforward": frozenset(("GET", "POST")),
    "proxy": frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")),
}
DEFAULT_KUBELET_PORT = 10250
# kubeadm (and so kind) runs kube-apiserver with --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname.
PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")

_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_TRUE = frozenset(("1", "t", "T", "true", "TRUE", "True"))
_FALSE = frozenset(("0", "f", "F", "false", "FALSE", "False"))


def subresources_of(plural: str) -> dict[str, tuple[tuple[str, ...], str]]:
    return CONNECT_SUBRESOURCES.get(plural, {})


# ---- query options -------------------------------------------------------------------------------------------

def _parse_bool(query: Mapping[str, str], key: str) -> bool:
    v = query.get(key)
    if v is None or v == "":
        return False
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{v}": invalid syntax')


def _parse_int(query: Mapping[str, str], key: str) -> int | None:
    v = query.get(key)
    if v is None or v == "":
        return None
    if not _INT_RE.match(v):
        raise errors.bad_request(f'strconv.ParseInt: parsing "{v}": invalid syntax')
    n = int(v)
    if not -(1 << 63) <= n < (1 << 63):
        raise errors.bad_request(f'strconv.ParseInt: parsing "{v}": value out of range')
    return n


@dataclass
class LogOptions:
    """A PodLogOptions as upstream decodes it from the query string."""

    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    since_seconds: int | None = None
    since_time: str | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None


def parse_log_options(query: Mapping[str, str], pod_name: str) -> LogOptions:
    """Decode (400 on a malformed value) and validate (422, ValidatePodLogOptions) pods/log options."""
    opts = LogOptions(
        container=query.get("container") or "",
        follow=_parse_bool(query, "follow"),
        previous=_parse_bool(query, "previous"),
        timestamps=_parse_bool(query, "timestamps"),
        since_seconds=_parse_int(query, "sinceSeconds"),
        tail_lines=_parse_int(query, "tailLines"),
        limit_bytes=_parse_int(query, "limitBytes"),
    )
    st = query.get("sinceTime")
    if st:
        if parse_time(st) is None:
            raise errors.bad_request(f'parsing time "{st}" as "2006-01-02T15:04:05Z07:00": cannot parse "{st}" '
                                     'as "2006"')
        opts.since_time = st
    causes: list[dict[str, str]] = []
    if opts.tail_lines is not None and opts.tail_lines < 0:
        causes.append(errors.invalid_value("tailLines", opts.tail_lines, "must be greater than or equal to 0"))
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        causes.append(errors.invalid_value("limitBytes", opts.limit_bytes, "must be greater than 0"))
    if opts.since_seconds is not None and opts.since_time is not None:
        # field.NewPath("") renders as an empty field name: the summary reads "is invalid: : Forbidden: ...".
        causes.append({"type": "FieldValueForbidden", "field": "",
                       "message": "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"})
    elif opts.since_seconds is not None and opts.since_seconds < 1:
        causes.append(errors.invalid_value("sinceSeconds", opts.since_seconds, "must be greater than 0"))
    if causes:
        summary = [f"{c['field']}: {c['message']}" for c in causes]
        text = summary[0] if len(summary) == 1 else "[" + ", ".join(summary) + "]"
        raise ApiError(422, "Invalid", f'PodLogOptions "{pod_name}" is invalid: {text}',
                       name=pod_name, kind="PodLogOptions", causes=causes)
    return opts


# ---- containers ---------------------------------------------------------------------------------------------

def _all_containers(pod: dict[str, Any]) -> list[str]:
    """Names in upstream's VisitContainers order: init, regular, then ephemeral containers."""
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or () if isinstance(c, dict)]


def choose_container(pod: dict[str, Any], container: str) -> str:
    """The container a request means (upstream validateContainer): 400 when ambiguous or unknown."""
    name = pod["metadata"]["name"]
    if not container:
        regular = (pod.get("spec") or {}).get("containers") or []
        if len(regular) == 1:
            return regular[0].get("name", "")
        if not regular:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        raise errors.bad_request(f"a container name must be specified for pod {name}, "
                                 f"choose one of: [{' '.join(_all_containers(pod))}]")
    if container not in _all_containers(pod):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _container_status(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    st = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in st.get(key) or ():
            if isinstance(cs, dict) and cs.get("name") == container:
                return cs
    return None


def check_log_status(pod: dict[str, Any], container: str, previous: bool) -> None:
    """The kubelet's validateContainerLogStatus: 400 unless the container (or its previous run) has logs."""
    pod_name = pod["metadata"]["name"]
    cs = _container_status(pod, container)
    if cs is None:
        # The kubelet always knows a pod it runs; before its first status it reports the container waiting.
        spec = pod.get("spec") or {}
        regular = any(c.get("name") == container for c in spec.get("containers") or ())
        reason = "PodInitializing" if regular and spec.get("initContainers") else "ContainerCreating"
        cs = {"state": {"waiting": {"reason": reason}}, "lastState": {}}
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated")
    waiting, running, terminated = state.get("waiting"), state.get("running"), state.get("terminated")
    prefix = f'container "{container}" in pod "{pod_name}"'
    if previous:
        if not last or not last.get("containerID"):
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{pod_name}" not found')
        return
    if running is not None:
        return
    if terminated is not None:
        if terminated.get("containerID") or (last and last.get("containerID")):
            return
        raise errors.bad_request(f"{prefix} is terminated")
    if last is not None:
        if not last.get("containerID"):
            raise errors.bad_request(f"{prefix} is terminated")
        return
    if waiting is not None:
        reason = waiting.get("reason") or ""
        if reason == "ErrImagePull":
            raise errors.bad_request(f"{prefix} is waiting to start: image can't be pulled")
        if reason == "ImagePullBackOff":
            raise errors.bad_request(f"{prefix} is waiting to start: trying and failing to pull image")
        raise errors.bad_request(f"{prefix} is waiting to start: {reason}")
    raise errors.bad_request(f"{prefix} is waiting to start - no logs yet")


def log_stream_ended(pod: dict[str, Any] | None, container: str, container_id: str | None) -> bool:
    """Whether a followed log is over: the pod is gone or the followed container run is no longer running."""
    if pod is None:
        return True
    cs = _container_status(pod, container)
    if cs is None:
        return True
    return "running" not in (cs.get("state") or {}) or cs.get("containerID") != container_id


def running_container_id(pod: dict[str, Any], container: str) -> str | None:
    cs = _container_status(pod, container)
    if cs is None or "running" not in (cs.get("state") or {}):
        return None
    return cs.get("containerID")


# ---- where upstream would connect ---------------------------------------------------------------------------

def split_scheme_name_port(id_: str) -> tuple[str, str, str] | None:
    """utilnet.SplitSchemeNamePort: "name", "name:port" or "scheme:name:port"; None when malformed."""
    parts = id_.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
        if scheme not in ("http", "https"):
            return None
    else:
        return None
    if not name:
        return None
    return scheme, name, port


def kubelet_endpoint(node: dict[str, Any]) -> tuple[str, int]:
    """The address and port kube-apiserver (kubeadm's preferred address types) would dial for a node's kubelet."""
    st = node.get("status") or {}
    addrs = [a for a in st.get("addresses") or () if isinstance(a, dict)]
    host = node["metadata"]["name"]
    for t in PREFERRED_ADDRESS_TYPES:
        hit = next((a.get("address") for a in addrs if a.get("type") == t and a.get("address")), None)
        if hit:
            host = hit
            break
    port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return host, int(port)


def _join(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def simulated_kubelet(node_name: str, host: str, port: int) -> ApiError:
    """What exec/attach/portforward answer: upstream's dial failure (InternalError, as its stream translator
    reports it), saying why there is nothing to dial."""
    return errors.internal(f"error dialing backend: node \"{node_name}\" ({_join(host, port)}) is simulated "
                           "by kubeling: it runs no kubelet server and no container processes")


def simulated_backend(what: str, address: str) -> ApiError:
    """What the proxy subresources answer: upstream's 503 "error trying to reach service", saying why."""
    return ApiError(503, "ServiceUnavailable",
                    f"error trying to reach service: {what} ({address}) is simulated by kubeling and serves "
                    "no traffic")


def pod_proxy_target(pod: dict[str, Any], port: str) -> str:
    """Upstream pod ResourceLocation: the pod IP and (else the first declared container) port; 400 when the
    pod has no routable IP."""
    if not port:
        for c in (pod.get("spec") or {}).get("containers") or ():
            ports = c.get("ports") or ()
            if ports:
                port = str(ports[0].get("containerPort", ""))
                break
    st = pod.get("status") or {}
    ips = st.get("podIPs") or ()
    ip = ips[0].get("ip", "") if ips and isinstance(ips[0], dict) else ""
    if not _global_unicast(ip):
        raise errors.bad_request("address not allowed")
    return _join(ip, port) if port else ip


def _global_unicast(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (a.is_unspecified or a.is_loopback or a.is_multicast or a.is_link_local
                or (a.version == 4 and int(a) == 0xFFFFFFFF))


def is_port_number(port: str) -> bool:
    return bool(_INT_RE.match(port))


def service_port_name(svc: dict[str, Any] | None, svc_name: str, port: str) -> str:
    """A numeric port names the service port that declares it (503 when none does); a name stands as is."""
    if not is_port_number(port) or svc is None:
        return port
    n = int(port)
    for sp in (svc.get("spec") or {}).get("ports") or ():
        if sp.get("port") == n:
            return sp.get("name") or ""
    raise ApiError(503, "ServiceUnavailable", f'no service port {n} found for service "{svc_name}"')


def service_proxy_target(endpoints: dict[str, Any], svc_id: str, svc_name: str, port_name: str) -> str:
    """Upstream service ResourceLocation: a ready endpoint address serving the named port; 503 when none."""
    subsets = endpoints.get("subsets") or ()
    if not subsets:
        raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{svc_name}"')
    for ss in subsets:
        addrs = ss.get("addresses") or ()
        if not addrs:
            continue
        for p in ss.get("ports") or ():
            if (p.get("name") or "") == port_name:
                return _join(addrs[0].get("ip", ""), p.get("port", ""))
    raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{svc_id}"')

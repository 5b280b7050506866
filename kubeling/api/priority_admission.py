"""PriorityClass admission and bootstrap (plugin/pkg/admission/priority, pkg/registry/scheduling).

- Priority admission, pods: on CREATE, spec.priorityClassName resolves to spec.priority and
  spec.preemptionPolicy (403 "no PriorityClass with name x was found" for an unknown class); a pod
  without a class gets the globalDefault class (its name too) or priority 0 with PreemptLowerPriority.
  A pod that sets either value itself must agree with the computed one. On UPDATE, values a client
  left out are carried over from the stored pod so validation sees no change.
- Priority admission, PriorityClasses: only one may be globalDefault.
- The registry refuses to delete the two system classes, which the API server (re)creates at start
  as upstream's scheduling/bootstrap-system-priority-classes post-start hook does.

Reads go straight to the store: the plugin runs inside the API server, as upstream's lister does.
"""
from __future__ import annotations

from typing import Any

from . import errors
from .registry import Registry, Request
from .resources import ResourceType, by_qualified

Obj = dict[str, Any]

PRIORITY_CLASSES = "priorityclasses.scheduling.k8s.io"
PREEMPT_LOWER = "PreemptLowerPriority"
# Upstream's schedulingapiv1.SystemPriorityClasses(), in the order they are created.
SYSTEM_CLASSES: tuple[Obj, ...] = (
    {"metadata": {"name": "system-node-critical"}, "value": 2000001000,
     "description": "Used for system critical pods that must not be moved from their current node."},
    {"metadata": {"name": "system-cluster-critical"}, "value": 2000000000,
     "description": "Used for system critical pods that must run in the cluster, but can be moved to another "
                    "node if necessary."},
)
_SYSTEM_NAMES = frozenset(c["metadata"]["name"] for c in SYSTEM_CLASSES)


def forbidden(rt: ResourceType, name: str, message: str) -> errors.ApiError:
    """admission.NewForbidden: '<resource> "<name>" is forbidden: <message>'."""
    resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return errors.ApiError(403, "Forbidden", f'{resource} "{name}" is forbidden: {message}',
                           name=name, group=rt.group, kind=rt.plural)


def default_class(classes: list[Obj]) -> Obj | None:
    """getDefaultPriorityClass: of several globalDefault classes (a race), the lowest value wins."""
    best: Obj | None = None
    for pc in classes:
        if pc.get("globalDefault") and (best is None or (best.get("value") or 0) > (pc.get("value") or 0)):
            best = pc
    return best


def resolve(pod: Obj, classes: dict[str, Obj]) -> tuple[str, int, str | None] | str:
    """(class name, priority, preemption policy) for a new pod, or the Forbidden message."""
    spec = pod.get("spec") or {}
    name = spec.get("priorityClassName") or ""
    if not name:
        dpc = default_class(list(classes.values()))
        if dpc is None:
            return "", 0, PREEMPT_LOWER
        return dpc["metadata"]["name"], dpc.get("value") or 0, dpc.get("preemptionPolicy")
    pc = classes.get(name)
    if pc is None:
        return f"no PriorityClass with name {name} was found"
    return name, pc.get("value") or 0, pc.get("preemptionPolicy")


def admit_new_pod(pod: Obj, classes: dict[str, Obj]) -> str | None:
    """Mutate a pod being created; returns the Forbidden message when it must be refused."""
    got = resolve(pod, classes)
    if isinstance(got, str):
        return got
    name, priority, policy = got
    spec = pod.setdefault("spec", {})
    if name:
        spec["priorityClassName"] = name
    own = spec.get("priority")
    if own is not None and own != priority:
        return (f"the integer value of priority ({own}) must not be provided in pod spec; priority admission "
                f"controller computed {priority} from the given PriorityClass name")
    spec["priority"] = priority
    if policy is not None:
        own_policy = spec.get("preemptionPolicy")
        if own_policy is not None and own_policy != policy:
            return (f"the string value of PreemptionPolicy ({own_policy}) must not be provided in pod spec; "
                    f"priority admission controller computed {policy} from the given PriorityClass name")
        spec["preemptionPolicy"] = policy
    return None


class PriorityAdmission:
    """The Priority plugin as one registry hook."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._pc = by_qualified(PRIORITY_CLASSES)

    def _classes(self) -> dict[str, Obj]:
        items, _ = self.registry.store.list(self._pc.key_prefix(None))
        return {kv.obj["metadata"]["name"]: kv.obj for kv in items}

    def __call__(self, op: str, rt: ResourceType, new: Obj | None, old: Obj | None, req: Request) -> None:
        q = rt.qualified
        if q == "pods":
            if op == "CREATE" and new is not None:
                why = admit_new_pod(new, self._classes())
                if why is not None:
                    raise forbidden(rt, (new.get("metadata") or {}).get("name", ""), why)
            elif op == "UPDATE" and new is not None and old is not None:
                spec, ospec = new.setdefault("spec", {}), old.get("spec") or {}
                for key in ("priority", "preemptionPolicy"):
                    if spec.get(key) is None and ospec.get(key) is not None:
                        spec[key] = ospec[key]
        elif q == PRIORITY_CLASSES:
            if op in ("CREATE", "UPDATE") and new is not None and new.get("globalDefault"):
                name = (new.get("metadata") or {}).get("name", "")
                dpc = default_class(list(self._classes().values()))
                if dpc is not None and (op == "CREATE" or dpc["metadata"]["name"] != name):
                    raise forbidden(rt, name, f"PriorityClass {dpc['metadata']['name']} is already marked as "
                                              "default. Only one default can exist")
            elif op == "DELETE" and old is not None and old["metadata"]["name"] in _SYSTEM_NAMES:
                raise forbidden(rt, old["metadata"]["name"], "this is a system priority class and cannot be deleted")


async def ensure_system_classes(registry: Registry) -> None:
    """Create the system PriorityClasses that are missing (existing ones are left as they are)."""
    rt = by_qualified(PRIORITY_CLASSES)
    for pc in SYSTEM_CLASSES:
        if registry.store.get(rt.key(None, pc["metadata"]["name"])) is not None:
            continue
        body = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": dict(pc["metadata"]), "value": pc["value"], "description": pc["description"]}
        try:
            await registry.create(rt, None, body, Request(field_manager="kube-apiserver"))
        except errors.ApiError as e:
            if e.code != 409:
                raise


def install(registry: Registry) -> None:
    """Append the Priority plugin to `registry.admission`."""
    registry.admission.append(PriorityAdmission(registry))

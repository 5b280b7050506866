"""Feature gates (k8s.io/component-base/featuregate): the `--feature-gates` flag of every component.

Pure data and parsing, no I/O, so every layer may import it. The table holds the v1.32 state
(default, stage, locked) of the upstream gates whose behaviour kubeling implements or that touch the
objects it serves; a name not in it is rejected as upstream rejects a gate its binary does not know.
Parsing follows upstream's `featureGate.Set`: "A=true,B=false" (entries trimmed, empty ones skipped,
values as Go's strconv.ParseBool), unknown gates and locked gates set to a non-default value are
errors with upstream's messages; AllAlpha / AllBeta set every gate of that stage not named explicitly.

Components read the resolved map from their settings (`settings["feature_gates"]`) with `enabled()`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALPHA, BETA, GA, DEPRECATED = "ALPHA", "BETA", "", "DEPRECATED"  # featuregate.prerelease values


@dataclass(frozen=True)
class Spec:
    default: bool
    stage: str
    locked: bool = False


def _a(default: bool = False) -> Spec:
    return Spec(default, ALPHA)


def _b(default: bool = True) -> Spec:
    return Spec(default, BETA)


_GA = Spec(True, GA, locked=True)

# v1.32 defaults (pkg/features/versioned_kube_features.go and the generic apiserver gates it relists).
GATES: dict[str, Spec] = {
    "AllAlpha": _a(),
    "AllBeta": Spec(False, BETA),
    # apps: StatefulSet, Deployment, ReplicaSet
    "MaxUnavailableStatefulSet": _a(),
    "StatefulSetAutoDeletePVC": _GA,
    "StatefulSetStartOrdinal": _GA,
    "PodIndexLabel": _GA,
    "DeploymentPodReplacementPolicy": _a(),
    "LogarithmicScaleDown": _GA,
    "PodDeletionCost": _b(),
    # pods and their lifecycle
    "PodDisruptionConditions": _GA,
    "PodSchedulingReadiness": _GA,
    "PodReadyToStartContainersCondition": _b(),
    "PodLifecycleSleepAction": _b(),
    "PodLifecycleSleepActionAllowZero": _a(),
    "PodLevelResources": _a(),
    "SidecarContainers": _b(),
    "InPlacePodVerticalScaling": _a(),
    "RelaxedEnvironmentVariableValidation": _b(),
    "RelaxedDNSSearchValidation": _a(),
    "UserNamespacesSupport": _b(False),
    "ImageVolume": _a(),
    "SizeMemoryBackedVolumes": _GA,
    # scheduling and node lifecycle
    "SchedulerQueueingHints": _b(),
    "MatchLabelKeysInPodAffinity": _b(),
    "MatchLabelKeysInPodTopologySpread": _b(),
    "NodeInclusionPolicyInPodTopologySpread": _b(),
    "SeparateTaintEvictionController": _b(),
    "DynamicResourceAllocation": _b(False),
    # storage
    "AnyVolumeDataSource": _b(),
    "HonorPVReclaimPolicy": _b(),
    "PersistentVolumeLastPhaseTransitionTime": _GA,
    "RecoverVolumeExpansionFailure": _b(),
    "VolumeAttributesClass": _b(False),
    # services and endpoints
    "TopologyAwareHints": _b(),
    "ServiceTrafficDistribution": _b(),
    "LoadBalancerIPMode": _GA,
    "MultiCIDRServiceAllocator": _b(False),
    # service account tokens
    "ServiceAccountTokenJTI": _GA,
    "ServiceAccountTokenNodeBinding": _b(),
    "ServiceAccountTokenNodeBindingValidation": _GA,
    "ServiceAccountTokenPodNodeInfo": _GA,
    # API server
    "APIResponseCompression": _b(),
    "AggregatedDiscoveryEndpoint": _GA,
    "ConsistentListFromCache": _b(),
    "RemainingItemCount": _GA,
    "RetryGenerateName": _GA,
    "WatchList": _b(),
    "AuthorizeWithSelectors": _b(),
    "AuthorizeNodeWithSelectors": _b(),
}

# Gates whose non-default value changes what kubeling does; the rest are accepted and keep their default behaviour.
HONOURED = frozenset({"MaxUnavailableStatefulSet"})

_SPECIAL = {"AllAlpha": ALPHA, "AllBeta": BETA}
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class FeatureGateError(ValueError):
    """A --feature-gates value upstream rejects; str() is upstream's message."""


def _go_quote(s: str) -> str:
    """strconv.Quote for the printable text a flag holds."""
    out = []
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else (f"\\u{ord(ch):04x}" if ord(ch) < 0x10000
                                                                    else f"\\U{ord(ch):08x}"))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def parse_bool(v: str) -> bool:
    """strconv.ParseBool, with its error text."""
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise FeatureGateError(f"strconv.ParseBool: parsing {_go_quote(v)}: invalid syntax")


def parse(value: str) -> dict[str, bool]:
    """The map a "key1=value1,key2=value2" flag value sets (featureGate.Set), validated against GATES."""
    m: dict[str, bool] = {}
    for s in value.split(","):
        if not s:
            continue
        k, sep, v = s.partition("=")
        k = k.strip()
        if not sep:
            raise FeatureGateError(f"missing bool value for {k}")
        v = v.strip()
        try:
            m[k] = parse_bool(v)
        except FeatureGateError as e:
            raise FeatureGateError(f"invalid value of {k}={v}, err: {e}") from None
    validate(m)
    return m


def validate(m: dict[str, bool]) -> None:
    """Unknown gates stop at the first; locked gates set to a non-default value are all reported."""
    errs: list[str] = []
    for k, v in m.items():
        spec = GATES.get(k)
        if spec is None:
            raise FeatureGateError(f"unrecognized feature gate: {k}")
        if spec.locked and spec.default != v:
            errs.append(f"cannot set feature gate {k} to {_go_bool(v)}, feature is locked to {_go_bool(spec.default)}")
    if len(errs) == 1:
        raise FeatureGateError(errs[0])
    if errs:  # utilerrors.NewAggregate
        raise FeatureGateError("[" + ", ".join(errs) + "]")


def _go_bool(v: bool) -> str:
    return "true" if v else "false"


def merge(*maps: dict[str, bool] | None) -> dict[str, bool]:
    """Several --feature-gates flags: later values win, as repeated pflag Set calls do."""
    out: dict[str, bool] = {}
    for m in maps:
        out.update(m or {})
    return out


def resolve(explicit: dict[str, bool] | None = None) -> dict[str, bool]:
    """Every gate's effective value: explicit settings, then AllAlpha/AllBeta for their stage, then defaults."""
    explicit = explicit or {}
    out = {name: spec.default for name, spec in GATES.items()}
    for special, stage in _SPECIAL.items():
        if special in explicit:
            for name, spec in GATES.items():
                if spec.stage == stage and name not in _SPECIAL and name not in explicit:
                    out[name] = explicit[special]
    out.update(explicit)
    return out


def warnings(explicit: dict[str, bool]) -> list[str]:
    """What upstream logs for GA/deprecated gates set explicitly, plus kubeling's own note on gates it only accepts."""
    out = []
    for k, v in explicit.items():
        spec = GATES[k]
        if spec.stage == GA:
            out.append(f"Setting GA feature gate {k}={_go_bool(v)}. It will be removed in a future release.")
        elif spec.stage == DEPRECATED:
            out.append(f"Setting deprecated feature gate {k}={_go_bool(v)}. It will be removed in a future release.")
        if k not in _SPECIAL and k not in HONOURED and v != spec.default:
            out.append(f"feature gate {k}={_go_bool(v)} is accepted, but kubeling implements only its default "
                       f"behaviour ({_go_bool(spec.default)})")
    return out


def enabled(settings: dict[str, Any] | None, name: str) -> bool:
    """The effective value of gate `name` for a component whose settings carry `feature_gates`."""
    return resolve((settings or {}).get("feature_gates")).get(name, False)


def flag_type(value: str) -> dict[str, bool]:
    """argparse `type=` for --feature-gates: upstream's message on a bad value, exit status 2."""
    import argparse

    try:
        return parse(value)
    except FeatureGateError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def format_flag(m: dict[str, bool]) -> str:
    """The flag value again ("A=true,B=false", sorted as featureGate.String sorts), for re-executing a command."""
    return ",".join(sorted(f"{k}={_go_bool(v)}" for k, v in m.items()))


FLAG_HELP = ("A set of key=value pairs that describe feature gates for alpha/experimental features, e.g. "
             "MaxUnavailableStatefulSet=true (v1.32 defaults)")


def add_flag(parser: Any) -> None:
    """--feature-gates on a command's argparse parser; repeatable, values merge."""
    parser.add_argument("--feature-gates", dest="feature_gates", type=flag_type, action="append", default=[],
                        metavar="Name=true,Other=false", help=FLAG_HELP)


def from_args(a: Any) -> dict[str, bool]:
    """The explicit gates of parsed arguments (add_flag's list merged)."""
    return merge(*(getattr(a, "feature_gates", None) or []))

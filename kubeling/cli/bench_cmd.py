"""`kubeling bench [SCENARIO...] [--runs N] [--json FILE] [--tiny]`: the benchmarks of issue 10.

Every run of every scenario starts fresh clusters in temporary data dirs (`--pod-start-delay 0`) as
separate processes; the figures are the medians over the runs, printed as a table next to the issue's
targets and written as JSON together with the machine they were measured on.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="run benchmarks against fresh clusters (startup, api, pods, statefulset, "
                                     "daemonset, deployment, dns)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenarios to run (default: all)")
    p.add_argument("--runs", type=int, default=None,
                   help="runs per scenario; the median is reported (default: 3, daemonset 1)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the results as JSON ('-' for stdout)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes: checks that every scenario works, in seconds")
    p.add_argument("--set", action="append", default=[], metavar="SCENARIO.PARAM=VALUE",
                   help="override a scenario parameter, e.g. --set pods.pods=5000 (repeatable)")
    p.add_argument("--list", action="store_true", help="list the scenarios and their parameters")
    p.set_defaults(func=cmd_bench)


def _value(s: str) -> Any:
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric, the median over the runs that produced it (numbers only)."""
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r if k not in keys]
    out: dict[str, Any] = {}
    for k in keys:
        vals = [r[k] for r in runs if isinstance(r.get(k), int | float) and not isinstance(r.get(k), bool)]
        if vals:
            m = statistics.median(vals)
            out[k] = round(m, 3) if isinstance(m, float) else m
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _meets(v: Any, op: str, target: float) -> bool | None:
    if not isinstance(v, int | float):
        return None
    return v <= target if op == "<=" else v >= target


def print_report(doc: dict[str, Any], out: Any = sys.stdout) -> None:
    m = doc["machine"]
    print(f"\nkubeling bench — {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
          f"load {'/'.join(str(x) for x in m.get('loadavg') or [])}", file=out)
    for name, sc in doc["scenarios"].items():
        print(f"\n{name}: {sc['description']}  ({len(sc['runs'])} run(s), params {sc['params']})", file=out)
        if sc.get("error"):
            print(f"  FAILED: {sc['error']}", file=out)
        med = sc["median"]
        if not med:
            continue
        targets = {t["metric"]: t for t in sc.get("targets", [])}
        w = max(len(k) for k in med)
        for k, v in med.items():
            runs = " ".join(_fmt(r.get(k, "-")) for r in sc["runs"]) if len(sc["runs"]) > 1 else ""
            t = targets.get(k)
            tgt = ""
            if t is not None:
                ok = _meets(v, t["op"], t["value"])
                tgt = f"target {t['op']} {_fmt(t['value'])}  {'ok' if ok else 'MISSED'}"
            print(f"  {k.ljust(w)}  {_fmt(v):>10}  {('[' + runs + ']') if runs else '':<28} {tgt}", file=out)
    rows = doc.get("targets") or []
    if rows:
        print("\ntargets (issue 10):", file=out)
        w = max(len(r["label"]) for r in rows)
        for r in rows:
            status = {True: "ok", False: "MISSED", None: "-"}[r["ok"]]
            print(f"  {r['label'].ljust(w)}  {_fmt(r['value']) if r['value'] is not None else '-':>10}  "
                  f"{r['op']} {_fmt(r['target'])}  {status}", file=out)


def run_bench(names: list[str], runs: int | None = None, tiny: bool = False,
              overrides: dict[str, dict[str, Any]] | None = None, log: Any = sys.stderr) -> dict[str, Any]:
    """Run the scenarios and return the JSON document (also used by the smoke test)."""
    from ..bench import scenarios
    from ..bench.common import machine

    all_sc = scenarios()
    unknown = [n for n in names if n not in all_sc]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(all_sc)}")
    doc: dict[str, Any] = {"machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "size": "tiny" if tiny else "full", "scenarios": {}, "targets": []}
    for name in names or list(all_sc):
        sc = all_sc[name]
        params = dict(sc.params["tiny" if tiny else "full"])
        params.update((overrides or {}).get(name, {}))
        n = runs or (1 if tiny else sc.default_runs)
        res: list[dict[str, Any]] = []
        err = None
        for i in range(n):
            print(f"[bench] {name} run {i + 1}/{n} {params}", file=log, flush=True)
            t0 = time.monotonic()
            try:
                r = sc.run(dict(params))
            except Exception as e:  # one broken scenario must not lose the others' figures
                traceback.print_exc(file=log)
                err = f"{type(e).__name__}: {e}"
                break
            print(f"[bench] {name} run {i + 1}/{n} done in {time.monotonic() - t0:.1f}s: {r}", file=log, flush=True)
            res.append(r)
        med = median_of(res)
        targets = [] if tiny else sc.targets  # the targets are for the sizes
        doc["scenarios"][name] = {"description": sc.description, "params": params, "runs": res, "median": med,
                                  "error": err,
                                  "targets": [{"metric": m, "op": op, "value": v, "label": label}
                                              for m, op, v, label in targets]}
        for m, op, v, label in targets:
            doc["targets"].append({"scenario": name, "metric": m, "label": label, "op": op, "target": v,
                                   "value": med.get(m), "ok": _meets(med.get(m), op, v)})
    doc["machine"]["loadavg_end"] = machine()["loadavg"]
    return doc


def cmd_bench(a: argparse.Namespace) -> int:
    from ..bench import scenarios

    if a.list:
        for sc in scenarios().values():
            print(f"{sc.name:<12} {sc.description}\n{'':<12} runs {sc.default_runs}; full {sc.params['full']}; "
                  f"tiny {sc.params['tiny']}")
        return 0
    overrides: dict[str, dict[str, Any]] = {}
    for s in a.set:
        key, eq, val = s.partition("=")
        scen, dot, param = key.partition(".")
        if not eq or not dot:
            raise SystemExit(f"--set wants SCENARIO.PARAM=VALUE, got {s!r}")
        overrides.setdefault(scen, {})[param] = _value(val)
    if a.runs is not None and a.runs < 1:
        raise SystemExit("--runs must be at least 1")
    doc = run_bench(a.scenarios, a.runs, a.tiny, overrides)
    print_report(doc)
    if a.json:
        from ..bench.common import dump_json

        dump_json(doc, a.json)
    failed = [n for n, s in doc["scenarios"].items() if s.get("error")]
    return 1 if failed else 0

"""StatefulSets: 1,000 replicas Parallel with a volumeClaimTemplate on the default StorageClass, and 200
OrderedReady; `kubectl apply` → all Ready.

The implementation is kubeling/bench/statefulset.py, shared with `kubeling bench statefulset`; this script is that command:

    python benchmarks/statefulset.py [--runs N] [--json FILE] [--tiny] [--set statefulset.PARAM=VALUE]
"""
from __future__ import annotations

import sys

from kubeling.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "statefulset", *sys.argv[1:]]))

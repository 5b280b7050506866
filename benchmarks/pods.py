"""Bare pods (issue 3, Must show 5): 1,000 pods on 100 simulated nodes, time to all Running and Ready,
and kubeling's peak memory.

The implementation is kubeling/bench/pods.py, shared with `kubeling bench pods`; this script is that command:

    python benchmarks/pods.py [--runs N] [--json FILE] [--tiny] [--set pods.PARAM=VALUE]
"""
from __future__ import annotations

import sys

from kubeling.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "pods", *sys.argv[1:]]))

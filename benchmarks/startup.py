"""Startup: `kubeling up --detach` → all nodes Ready, with 3 and with 1,000 nodes; restart and down.

The implementation is kubeling/bench/startup.py, shared with `kubeling bench startup`; this script is that command:

    python benchmarks/startup.py [--runs N] [--json FILE] [--tiny] [--set startup.PARAM=VALUE]
"""
from __future__ import annotations

import sys

from kubeling.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "startup", *sys.argv[1:]]))

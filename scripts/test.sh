#!/usr/bin/env bash
# Install what the tests need, then run the whole suite. This is the README's second command; .ci/run runs it.
#
#   ./scripts/test.sh                 # everything, 4 workers, on SQLite then on etcd
#   KUBELING_TEST_BACKENDS=sqlite ./scripts/test.sh   # one backend only
#   ./scripts/test.sh tests/unit      # extra arguments go to pytest
#   PYTEST_WORKERS=2 ./scripts/test.sh     # fewer workers (the tests mostly wait on controllers, so 4 suit 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

# Python packages: kubeling itself plus the [test] extra (pytest, xdist, timeout, the kubernetes client, ruff).
"$PYTHON" -m pip install -q -e '.[test]'

# Debian packages later tests use: etcd (etcd storage backend) and dig (cluster DNS). Installed only if missing.
DEB_PACKAGES=(etcd-server dnsutils)
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo -n)
    echo "installing ${missing[*]} ..." >&2
    if ! { "${SUDO[@]}" apt-get update -qq >/dev/null &&
           DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
             "${missing[@]}" >/dev/null; }; then
      echo "warning: could not install ${missing[*]}; tests that need them will be skipped" >&2
    fi
  fi
else
  echo "warning: not a Debian-like system; install ${DEB_PACKAGES[*]} yourself for the tests that need them" >&2
fi

if [ ! -x "${KUBECTL:-/usr/bin/kubectl}" ]; then
  echo "error: the integration tests drive the real kubectl v1.32 at ${KUBECTL:-/usr/bin/kubectl} (set KUBECTL)" >&2
  exit 1
fi

# The whole suite runs once per storage backend (issue #9): first on the embedded SQLite store, then with every
# kubeling the tests start on etcd (one etcd per pytest worker, a key prefix per cluster; tests/etcd_util.py).
# KUBELING_TEST_BACKENDS="sqlite" (or "etcd") runs one pass only.
status=0
for backend in ${KUBELING_TEST_BACKENDS:-sqlite etcd}; do
  echo "==== storage backend: $backend ====" >&2
  "$PYTHON" -m pytest -q -n "${PYTEST_WORKERS:-4}" --storage-backend "$backend" "$@" || status=$?
done
exit "$status"

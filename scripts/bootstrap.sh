#!/usr/bin/env bash
# Install everything into .venv/ at the repository root (uv from PyPI; pip as fallback).
# Usage: scripts/bootstrap.sh [--test]   (--test adds the test dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
# the tests start Debian's redis-server on 127.0.0.1 (tests/redisserver.py): install it where it is missing
if [ -n "$extra" ] && ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get install -y -q redis-server >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q redis-server >/dev/null; } \
      || echo "bootstrap: could not install redis-server (Debian package); the Redis tests will fail" >&2
  else
    echo "bootstrap: no apt-get: install redis-server yourself; the Redis tests will fail" >&2
  fi
fi
PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1 && ! "$PY" -m uv --version >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check uv || true
fi
if "$PY" -m uv --version >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || "$PY" -m uv venv --quiet .venv
  "$PY" -m uv pip install --quiet -p .venv/bin/python -e ".${extra}"
else
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
fi

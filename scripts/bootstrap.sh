#!/usr/bin/env bash
# Install everything into .venv/ at the repository root (uv from PyPI; pip as fallback).
# Usage: scripts/bootstrap.sh [--test]   (--test adds the test dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
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

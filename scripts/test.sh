#!/usr/bin/env bash
# Install the project with its test dependencies into .venv/ and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
exec .venv/bin/python -m pytest tests "$@"

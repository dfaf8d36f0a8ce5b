#!/usr/bin/env bash
# Set everything up, check lint and formatting, then run the whole test suite (Qt offscreen, no display needed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
export QT_QPA_PLATFORM=offscreen
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Create .venv and install diffusion-viz into it (CPU torch first, so pip never pulls a CUDA build).
# The install runs again only when pyproject.toml changed: its hash is kept in .venv/.pyproject-installed,
# so ./scripts/run.sh opens the window at once on every launch after the first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
STAMP=.venv/.pyproject-installed
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -x .venv/bin/diffusion-viz ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
echo "setting up .venv (pyproject.toml is new or changed) …" >&2
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # Pinned first: on the project's machines this is a CPU wheel on local disk, and it keeps
  # the open "torch>=2.1" requirement below from pulling a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "$WANT" > "$STAMP"

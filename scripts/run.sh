#!/usr/bin/env bash
# Set everything up (first time only), then open diffusion-viz. Arguments go to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/diffusion-viz "$@"

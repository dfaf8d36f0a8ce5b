#!/usr/bin/env bash
# Regenerates the README's screenshot from the real program on a virtual X screen: launch it with no
# arguments (the sample image at t = 400), press Space (Play), wait, press Space (Pause), grab the screen.
# Needs Debian's xvfb, imagemagick, xdotool, libxcb-cursor0 and libxkbcommon-x11-0, and ./scripts/setup.sh.
# Usage: ./scripts/screenshot.sh [OUT.png] [SECONDS_OF_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-docs/screenshot.png}")
run_seconds=${2:-4}
settings=$(mktemp -d)  # fresh settings: default geometry, no recent files, the user's own left alone
trap 'rm -rf "$settings"' EXIT
XDG_CONFIG_HOME=$settings XDG_DATA_HOME=$settings xvfb-run -a -s "-screen 0 1500x950x24" bash -c '
  set -euo pipefail
  .venv/bin/diffusion-viz & app=$!
  window=$(xdotool search --sync --onlyvisible --name "^diffusion-viz" | head -1)
  xdotool windowmove "$window" 0 0 windowsize "$window" 1500 950
  sleep 3
  xdotool windowfocus --sync "$window" key space
  sleep "$2"
  xdotool key space
  sleep 1
  import -window root "$1"
  kill "$app"
' screenshot "$out" "$run_seconds"
echo "wrote $out"

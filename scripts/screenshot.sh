#!/usr/bin/env bash
# Regenerates the README's screenshot from the real program on a virtual X screen: launch it (by default
# with the sample image at t = 400), press Space (Play), wait, press Space (Pause), grab the screen.
# Needs Debian's xvfb, imagemagick, xdotool, libxcb-cursor0, libxkbcommon-x11-0 (and the other xcb libraries
# Qt names if it refuses to start), and ./scripts/setup.sh.
# Usage: ./scripts/screenshot.sh [OUT.png] [SECONDS_OF_RUN] [PROGRAM ARGUMENTS…]
#   e.g. ./scripts/screenshot.sh docs/screenshot.png 4 --view eps
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-docs/screenshot.png}")
run_seconds=${2:-4}
shift $(( $# > 2 ? 2 : $# ))
settings=$(mktemp -d)  # fresh settings: default geometry, no recent files, the user's own left alone
trap 'rm -rf "$settings"' EXIT
XDG_CONFIG_HOME=$settings XDG_DATA_HOME=$settings xvfb-run -a -s "-screen 0 1500x950x24" bash -c '
  set -euo pipefail
  out=$1; run_seconds=$2; shift 2
  .venv/bin/diffusion-viz "$@" & app=$!
  window=$(xdotool search --sync --onlyvisible --name "^diffusion-viz" | head -1)
  xdotool windowmove "$window" 0 0 windowsize "$window" 1500 950
  sleep 3
  xdotool windowfocus --sync "$window" key space
  sleep "$run_seconds"
  xdotool key space
  sleep 1
  import -window root "$out"
  kill "$app"
' screenshot "$out" "$run_seconds" "$@"
echo "wrote $out"

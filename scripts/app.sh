#!/usr/bin/env bash
# Build and run the desktop app (the README's command):
#   1. set-up: scripts/setup.sh app (skips what is already there)
#   2. cargo fetch (trunk builds the UI with --offline)
#   3. the UI in release (ui/dist is embedded into the app at compile time)
#   4. cargo build --release -p flightdeck-app --features custom-protocol
#   5. exec the app with FLIGHTDECK_CRSQLITE_PATH and FLIGHTDECK_MODEL_DIR set; with no
#      DISPLAY and no WAYLAND_DISPLAY it runs under xvfb-run -a (invisible, but alive).
#
#   scripts/app.sh [args for the app]
set -euo pipefail

CARGO_TARGET_DIR="$(realpath -m -- "${CARGO_TARGET_DIR:-$(dirname "${BASH_SOURCE[0]}")/../target}")"
export CARGO_TARGET_DIR

# shellcheck source-path=SCRIPTDIR source=setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$FD_ROOT"

fd_banner "set-up"
setup_run app
fd_need_disk "$CARGO_TARGET_DIR" 5

fd_banner "cargo fetch"
cargo fetch

fd_banner "UI: trunk build --release"
(cd ui && trunk build --release=true)

fd_banner "app: cargo build --release"
cargo build --release -p flightdeck-app --features custom-protocol

export FLIGHTDECK_CRSQLITE_PATH="$FD_CRSQLITE_SO"
export FLIGHTDECK_MODEL_DIR="$FD_MODEL_DIR"
app="$CARGO_TARGET_DIR/release/flightdeck-app"
[[ -x "$app" ]] || {
    echo "app.sh: $app was not built" >&2
    exit 1
}

fd_banner "running $app"
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
    echo "app.sh: no DISPLAY or WAYLAND_DISPLAY: running the app under xvfb-run -a (no visible window)" >&2
    exec xvfb-run -a "$app" "$@"
fi
exec "$app" "$@"

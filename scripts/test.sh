#!/usr/bin/env bash
# Run every test (the README's command; CI runs this through .ci/run):
#   1. set-up: every step of scripts/setup.sh (skips what is already there)
#   2. cargo fetch (trunk builds the UI with --offline)
#   3. the UI in debug (ui/dist is embedded into src-tauri at compile time)
#   4. cargo fmt --check, 5. cargo clippy -D warnings,
#   6. every debug binary (tests/tests/app.rs drives it through tauri-driver under Xvfb)
#   7. cargo test --workspace inside a session with a usable OS keyring (scripts/with-keyring.sh)
#
#   scripts/test.sh [extra cargo test args, e.g. -- --nocapture]
#
# CARGO_TARGET_DIR defaults to target/ in the repo (a relative value is taken from the caller's
# directory). The tests get FLIGHTDECK_CRSQLITE_PATH and FLIGHTDECK_MODEL_DIR.
set -euo pipefail

CARGO_TARGET_DIR="$(realpath -m -- "${CARGO_TARGET_DIR:-$(dirname "${BASH_SOURCE[0]}")/../target}")"
export CARGO_TARGET_DIR

# shellcheck source-path=SCRIPTDIR source=setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$FD_ROOT"

phase=""
begin() {
    phase=$1
    fd_banner "$phase"
}
on_exit() {
    local rc=$?
    if ((rc != 0)); then
        printf '\ntest.sh: FAILED (exit %s) in phase: %s\n' "$rc" "${phase:-start}" >&2
    fi
}
trap on_exit EXIT

begin "set-up"
setup_run test
fd_need_disk "$CARGO_TARGET_DIR" 10
export FLIGHTDECK_CRSQLITE_PATH="$FD_CRSQLITE_SO"
export FLIGHTDECK_MODEL_DIR="$FD_MODEL_DIR"
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
echo "FLIGHTDECK_CRSQLITE_PATH=$FLIGHTDECK_CRSQLITE_PATH"
echo "FLIGHTDECK_MODEL_DIR=$FLIGHTDECK_MODEL_DIR"

begin "cargo fetch"
cargo fetch

begin "UI: trunk build (debug)"
(cd ui && trunk build)

begin "cargo fmt --check"
cargo fmt --all -- --check

begin "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# --workspace, not -p: the same package selection as `cargo test --workspace` resolves the same
# features, so shared dependencies compile once instead of twice.
begin "cargo build: every binary (the e2e tests drive the app, the CLI and the sync server)"
cargo build --workspace --bins

begin "cargo test --workspace (with OS keyring)"
scripts/with-keyring.sh cargo test --workspace "$@"

phase="done"
fd_banner "all tests passed"

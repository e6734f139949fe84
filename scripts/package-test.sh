#!/usr/bin/env bash
# The packaging test: builds the Debian packages (scripts/package.sh), installs them on this
# machine with apt-get (as root; it pulls what they depend on), and tries them as a new user
# would, with nothing from the checkout on the way:
#
#   - `flightdeck --version` names the workspace version and the commit;
#   - the installed desktop app, started under Xvfb on a fresh home through tauri-driver (the
#     e2e harness with FLIGHTDECK_APP_BIN=/usr/bin/flightdeck-app), shows the task board and
#     creates a task;
#   - the installed CLI on a fresh home: `task add`, and `memory search` finding a memory by
#     meaning alone (so the installed crsqlite.so and model were found);
#   - the installed server's unit command (ExecStart, as the unit's user, its settings file
#     pointing at a throwaway Postgres) with a workspace made by its admin commands, and two
#     installed CLIs (two data dirs) syncing a task through it;
#   - `apt-get purge` leaves none of the packages' files and no system user behind, and the
#     user's data where it was.
#
# Prints the packages' sizes and the install and removal times (BENCHMARKS.md has them).
#
#   scripts/package-test.sh             build, then test
#   scripts/package-test.sh --no-build  test the packages already in target/packages
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_TARGET_DIR="$(realpath -m -- "${CARGO_TARGET_DIR:-$ROOT/target}")"
PKGS="$CARGO_TARGET_DIR/packages"
NAMES=(flightdeck-common flightdeck-cli flightdeck-sync-server flightdeck-app)

fail() {
    printf 'package-test: FAILED: %s\n' "$*" >&2
    exit 1
}
say() { printf 'package-test: %s\n' "$*"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

[[ $(id -u) == 0 ]] || fail "run as root: it installs the packages with apt-get"
if [[ ${1:-} != --no-build ]]; then
    "$ROOT/scripts/package.sh" common cli server app
fi
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
ARCH="$(dpkg --print-architecture)"
debs=()
for n in "${NAMES[@]}"; do
    f="$PKGS/${n}_${VERSION}_${ARCH}.deb"
    [[ -f $f ]] || fail "$f was not built"
    debs+=("$f")
    say "size: $n $(du -k "$f" | cut -f1) KiB packed, $(dpkg-deb -f "$f" Installed-Size) KiB installed"
done

WORK="$(mktemp -d /tmp/flightdeck-package-test.XXXXXX)"
chmod 0755 "$WORK"
SERVER_PID="" PG_CTL=""
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n $PG_CTL ]] && runuser -u postgres -- "$PG_CTL" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# Nothing of the checkout: no extension or model paths, a fresh home, the installed binaries
# (cargo and rustup stay where they are, for the app's e2e test).
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
unset FLIGHTDECK_CRSQLITE_PATH FLIGHTDECK_MODEL_DIR FLIGHTDECK_DATA_DIR FLIGHTDECK_WORKSPACE
export HOME="$WORK/home" FLIGHTDECK_KEYRING=file
mkdir -p "$HOME"
cd "$WORK"

started=$(date +%s%N)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${debs[@]}" >"$WORK/apt-install.log" 2>&1 ||
    fail "apt-get install: $(tail -n 3 "$WORK/apt-install.log")"
say "install: $(ms_since "$started") ms (apt-get install of the four packages)"
for n in "${NAMES[@]}"; do dpkg -L "$n" >"$WORK/$n.files"; done

fd=/usr/bin/flightdeck
[[ $(command -v flightdeck) == "$fd" ]] || fail "flightdeck is not /usr/bin/flightdeck on PATH"
commit="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
version="$("$fd" --version)"
[[ $version == "flightdeck $VERSION (commit $commit)" ]] || fail "flightdeck --version: $version"
server_version="$(/usr/bin/flightdeck-sync-server --version)"
[[ $server_version == "flightdeck-sync-server $VERSION (commit $commit)" ]] ||
    fail "flightdeck-sync-server --version: $server_version"
[[ -s /usr/share/bash-completion/completions/flightdeck ]] || fail "no bash completion"

# The CLI on the fresh home: a task, and a search that only meaning can answer.
task="$("$fd" task add "Ship the packages")"
"$fd" task show "$task" >/dev/null || fail "task show $task"
"$fd" memory add "The staging database password rotates every Monday at noon" >/dev/null
"$fd" memory add "Our CI caches the cargo registry between runs" >/dev/null
hits="$("$fd" --json memory search "when do credentials for the test environment change")"
python3 - "$hits" <<'EOF' || fail "memory search by meaning: $hits"
import json, sys
found = json.loads(sys.argv[1])
assert found["mode"] == "hybrid", found["mode"]
best = found["hits"][0]
assert "password rotates" in best["memory"]["content"], best
assert "vector" in best["matched"], best
EOF
say "cli: task added, memory found by meaning (crsqlite.so and the model were found)"

# The installed app on the fresh home: its desktop entry and icon, then the task board.
# (Laid out by Tauri's bundler: the entry and the icons are named after the binary.)
entry=/usr/share/applications/flightdeck-app.desktop
[[ -f $entry ]] || fail "no desktop entry"
grep -q '^Name=Flightdeck$' "$entry" || fail "the desktop entry is not named Flightdeck"
grep -q '^Exec=flightdeck-app$' "$entry" || fail "the desktop entry does not start flightdeck-app"
grep -q '^Icon=flightdeck-app$' "$entry" || fail "the desktop entry names another icon"
[[ -f /usr/share/icons/hicolor/128x128/apps/flightdeck-app.png ]] || fail "no icon"
(cd "$ROOT" && FLIGHTDECK_APP_BIN=/usr/bin/flightdeck-app scripts/with-keyring.sh \
    cargo test -q -p flightdeck-tests --test app -- --exact the_window_opens_lists_and_creates_tasks) \
    >"$WORK/app-test.log" 2>&1 || fail "the installed app: $(grep -E 'panicked|error' "$WORK/app-test.log" | head -n 3)"
grep -q "1 passed" "$WORK/app-test.log" || fail "the installed app's test did not run: $(tail -n 3 "$WORK/app-test.log")"
say "app: the installed app showed the task board and created a task (fresh home, under Xvfb)"

# A throwaway Postgres for the server, run by the postgres system user.
PG_BIN="$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | tail -n 1)")")"
PG_DIR="$WORK/pg"
mkdir -p "$PG_DIR" && chown postgres: "$PG_DIR"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" --username=postgres --auth=trust \
    --locale=C --no-sync >"$WORK/initdb.log" 2>&1 || fail "initdb: $(tail -n 3 "$WORK/initdb.log")"
PG_PORT=$((20000 + RANDOM % 20000))
PG_CTL="$PG_BIN/pg_ctl"
# -w: pg_ctl returns once the server accepts connections.
runuser -u postgres -- "$PG_CTL" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w \
    -o "-k $PG_DIR -p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
    fail "postgres did not start: $(tail -n 3 "$PG_DIR/postgres.log")"
runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" flightdeck

# The server as its unit runs it: its settings file (as an administrator edits it), its user,
# its ExecStart.
unit=/lib/systemd/system/flightdeck-sync-server.service
getent passwd flightdeck-sync >/dev/null || fail "no flightdeck-sync user"
sed -i "s|^DATABASE_URL=.*|DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/flightdeck|; s|^FLIGHTDECK_SYNC_BIND=.*|FLIGHTDECK_SYNC_BIND=127.0.0.1:0|" \
    /etc/flightdeck/sync-server.env
[[ $(stat -c %a /etc/flightdeck/sync-server.env) == 600 ]] || fail "the settings file is not 0600"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
user="$(sed -n 's/^User=//p' "$unit")"
(
    set -a
    # shellcheck disable=SC1091
    . /etc/flightdeck/sync-server.env
    set +a
    # shellcheck disable=SC2086
    exec runuser -u "$user" -- $exec_start
) >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 200); do
    grep -q '^listening on ' "$WORK/server.out" && break
    sleep 0.05
done
addr="$(sed -n 's/^listening on //p' "$WORK/server.out")"
[[ -n $addr ]] || fail "the server did not start: $(tail -n 5 "$WORK/server.log")"
# The admin commands read DATABASE_URL from the settings file.
token="$(/usr/bin/flightdeck-sync-server workspace create team --uses 2 | tail -n 1)"
[[ -n $token ]] || fail "workspace create printed no token"
say "server: $exec_start as $user, listening on $addr"

a="$WORK/device-a" b="$WORK/device-b"
"$fd" --data-dir "$a" sync join "http://$addr" "$token" </dev/null >/dev/null || fail "device A could not join"
"$fd" --data-dir "$b" sync join "http://$addr" "$token" </dev/null >/dev/null || fail "device B could not join"
"$fd" --data-dir "$a" task add "Made on device A" >/dev/null
"$fd" --data-dir "$a" sync now >/dev/null
"$fd" --data-dir "$b" sync now >/dev/null
"$fd" --data-dir "$b" task list | grep -q "Made on device A" || fail "device B did not get A's task"
say "sync: a task made on one installed CLI reached the other through the installed server"
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

started=$(date +%s%N)
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${NAMES[@]}" >"$WORK/apt-purge.log" 2>&1 ||
    fail "apt-get purge: $(tail -n 3 "$WORK/apt-purge.log")"
say "purge: $(ms_since "$started") ms"
left=()
for n in "${NAMES[@]}"; do
    while read -r path; do
        # Its files and links (a directory, or the system's /lib link to usr/lib, is not one).
        [[ -f $path && ! -d $path ]] && left+=("$path")
        [[ -L $path && ! -d $path ]] && left+=("$path")
        # A directory of its own (not one the system shares) must be gone too.
        case $path in
            */flightdeck | */flightdeck/* | */all-MiniLM-L6-v2 | */doc/flightdeck-*)
                [[ -d $path ]] && left+=("$path/")
                ;;
        esac
    done <"$WORK/$n.files"
done
((${#left[@]} == 0)) || fail "left behind: ${left[*]}"
! getent passwd flightdeck-sync >/dev/null || fail "the flightdeck-sync user is left behind"
[[ -f $HOME/.local/share/flightdeck/workspaces/default/flightdeck.db ]] ||
    fail "the user's data went with the packages"
say "purge: no file of the packages and no system user left; the user's data kept"
say "all package checks passed"

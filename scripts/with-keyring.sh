#!/usr/bin/env bash
# Run a command with a usable OS keyring on a machine with no desktop session:
#   - a private D-Bus session bus (dbus-run-session) holding gnome-keyring's Secret Service,
#     with a throwaway login keyring unlocked by a known password, and
#   - a fresh kernel session keyring (keyctl session -) for keyutils.
# Both are checked (store, read back, delete) before the command runs; when either does not
# work it prints "with-keyring: no usable keyring: <reason>" and exits 1.
#
#   scripts/with-keyring.sh COMMAND [ARGS...]
#
# The keyring files live in a temp dir removed afterwards, never in ~/.local/share/keyrings.
set -euo pipefail

die() {
    printf 'with-keyring: no usable keyring: %s\n' "$*" >&2
    exit 1
}

(($# > 0)) || {
    printf 'usage: %s COMMAND [ARGS...]\n' "${0##*/}" >&2
    exit 2
}

if [[ "${FD_WITH_KEYRING_STAGE:-}" != inside-dbus ]]; then
    for cmd in dbus-run-session dbus-send gnome-keyring-daemon secret-tool keyctl; do
        command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found (run scripts/setup.sh)"
    done
    FD_WITH_KEYRING_STAGE=inside-dbus exec dbus-run-session -- "$BASH" "${BASH_SOURCE[0]}" "$@"
fi
unset FD_WITH_KEYRING_STAGE

# Inside the private session bus from here on.
keyring_home="$(mktemp -d "${TMPDIR:-/tmp}/flightdeck-keyring.XXXXXX")"
trap 'rm -rf -- "$keyring_home"' EXIT
mkdir -m 0700 "$keyring_home/data" "$keyring_home/run"

# --unlock reads the password from stdin and creates the login keyring with it when missing.
# XDG_* apply to the daemon only: its keyring files and control socket go to the temp dir.
printf %s flightdeck |
    XDG_DATA_HOME="$keyring_home/data" XDG_RUNTIME_DIR="$keyring_home/run" \
        gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 ||
    die "gnome-keyring-daemon --unlock failed"

# Wait for that daemon to own the Secret Service name before anything asks for it: a request
# sent earlier makes D-Bus activate a second daemon (without the unlocked keyring above), which
# then takes the name and answers every request with a password prompt that cannot show here.
# NameHasOwner never activates anything. On a loaded machine registering has taken over 5 s.
secrets_owned() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
        grep -q 'boolean true'
}
owned=0
for _ in $(seq 300); do
    if secrets_owned; then
        owned=1
        break
    fi
    sleep 0.1
done
((owned)) || die "Secret Service: gnome-keyring-daemon did not register org.freedesktop.secrets on the session bus within 30 s"

# Secret Service: store, read back, clear (polled, as the daemon may still be unlocking).
secret_service_works() {
    local value="probe-$$-$RANDOM"
    printf %s "$value" |
        secret-tool store --label='flightdeck keyring probe' flightdeck-probe "$$" 2>/dev/null ||
        return 1
    [[ "$(secret-tool lookup flightdeck-probe "$$" 2>/dev/null)" == "$value" ]] || return 1
    secret-tool clear flightdeck-probe "$$" 2>/dev/null || true
}
ok=0
for _ in $(seq 300); do
    if secret_service_works; then
        ok=1
        break
    fi
    sleep 0.1
done
((ok)) || die "Secret Service (gnome-keyring over D-Bus): secret-tool store/lookup did not round-trip within 30 s"

# Kernel keyring: a new anonymous session keyring, probed from inside, then the command.
# (keyctl prints "Joined session keyring: N" on stderr.)
rc=0
# shellcheck disable=SC2016 # the inner script expands its own variables
keyctl session - "$BASH" -c '
    id="$(keyctl add user flightdeck-probe probe @s 2>/dev/null)" &&
        [[ "$(keyctl pipe "$id" 2>/dev/null)" == probe ]] &&
        keyctl unlink "$id" @s >/dev/null 2>&1 || {
        echo "with-keyring: no usable keyring: kernel session keyring (keyctl add/read failed)" >&2
        exit 1
    }
    exec "$@"
' with-keyring "$@" || rc=$?
exit "$rc"

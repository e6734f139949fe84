//! What a Flightdeck binary says it is: the workspace version and the commit it was built from
//! (`--version` of the CLI and the sync server, the app's About).

/// The workspace version, as the packages carry it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit this build is of (12 hex digits), or `unknown`.
pub const COMMIT: &str = env!("FLIGHTDECK_COMMIT");

/// `0.1.0 (commit 0123456789ab)`, as `--version` prints it after the binary's name.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FLIGHTDECK_COMMIT"),
    ")"
);

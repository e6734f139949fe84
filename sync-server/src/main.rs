//! `flightdeck-sync-server`: relays and compacts change sets between a workspace's devices.
//! `serve` runs the HTTP API; `workspace` and `device` administer the database directly.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use db::join_tokens::{self, TokenLimits};

mod admin;
mod announce;
mod app;
mod db;
mod error;
mod merge;
mod metrics;
mod openapi;
mod routes;
mod serve;
#[cfg(test)]
mod testing;
mod tokens;
mod wire;

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck-sync-server",
    version = flightdeck_build_info::LONG_VERSION,
    about = "The Flightdeck sync server"
)]
struct Cli {
    /// Postgres connection string (postgres://user:pass@host/db, or key=value pairs)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync API
    Serve {
        /// Address to listen on (port 0 picks a free port, printed at start)
        #[arg(long, default_value = "127.0.0.1:8787", env = "FLIGHTDECK_SYNC_BIND")]
        bind: SocketAddr,
        /// Seconds a client may take to send a request's headers; also how long an idle
        /// keep-alive connection is kept
        #[arg(long, default_value_t = serve::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
              value_parser = clap::value_parser!(u64).range(1..=3600),
              env = "FLIGHTDECK_SYNC_HEADER_TIMEOUT")]
        header_timeout: u64,
        /// Seconds a pushed cell's clock may be ahead of this server's clock; a push with a
        /// cell further ahead is refused as clock_ahead (Flightdeck devices then stamp with
        /// the server's time and push again)
        #[arg(long, default_value_t = flightdeck_types::sync::DEFAULT_MAX_CLOCK_OFFSET_MS as u64 / 1000,
              value_parser = clap::value_parser!(u64).range(1..=86_400),
              env = "FLIGHTDECK_SYNC_MAX_CLOCK_OFFSET")]
        max_clock_offset: u64,
    },
    /// Manage workspaces
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage devices
    #[command(subcommand)]
    Device(DeviceCommand),
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print its first join token (one device, 24 hours by default)
    Create {
        name: String,
        #[command(flatten)]
        limits: TokenLimitArgs,
    },
    /// List workspaces
    List,
    /// Manage a workspace's join tokens
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a join token for a workspace (by id or name) and print it (shown once)
    Create {
        workspace: String,
        #[command(flatten)]
        limits: TokenLimitArgs,
    },
    /// List a workspace's join tokens: id, status, uses left, expiry, the devices that used it
    List { workspace: String },
    /// Revoke a join token (by the id `token list` shows, or the token itself)
    Revoke { id: String },
}

#[derive(Debug, clap::Args)]
struct TokenLimitArgs {
    /// How many devices may join with the token
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=1_000_000))]
    uses: i32,
    /// How long the token stays valid: a number and a unit, s, m, h or d (at most 365d)
    #[arg(long, default_value = "24h", value_parser = parse_expiry)]
    expires: i64,
}

impl TokenLimitArgs {
    fn limits(&self) -> TokenLimits {
        TokenLimits {
            uses: self.uses,
            expires_in_secs: self.expires,
        }
    }
}

/// `30m`, `24h`, `7d` as seconds.
fn parse_expiry(text: &str) -> Result<i64, String> {
    let bad =
        || format!("{text:?} is not a duration: write a number and a unit, e.g. 30m, 24h or 7d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = number.checked_mul(unit_secs).ok_or_else(bad)?;
    if secs == 0 || secs > join_tokens::MAX_EXPIRY_SECS {
        return Err(format!("{text:?}: a token expires after 1s to 365d"));
    }
    Ok(secs)
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List a workspace's devices (by workspace id or name)
    List { workspace: String },
    /// Revoke a device: its token is refused from now on
    Revoke { id: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        // Logs go to stderr: stdout carries only what scripts read (the listening address,
        // a new join token, listings).
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let database_url = match cli.database_url.clone() {
        Some(url) => url,
        None => database_url_from_settings()?,
    };
    let pool = db::connect_and_migrate(&database_url)
        .await
        .context("cannot prepare the database")?;
    match cli.command {
        Command::Serve {
            bind,
            header_timeout,
            max_clock_offset,
        } => {
            let header_timeout = std::time::Duration::from_secs(header_timeout);
            // Before the address line, which tells scripts and tests that start-up is over.
            admin::warn_of_unlimited_tokens(&pool).await?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            let addr = listener.local_addr()?;
            // One machine-readable line so that tests and scripts can find a port-0 server.
            println!("listening on {addr}");
            let mut state = app::AppState::new(pool);
            state.max_clock_offset_ms = max_clock_offset as i64 * 1000;
            let config: tokio_postgres::Config =
                database_url.parse().context("invalid database url")?;
            tokio::spawn(announce::run_listener(config, state.announcer.clone()));
            serve::serve(listener, app::router(state), header_timeout, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        }
        Command::Workspace(WorkspaceCommand::Create { name, limits }) => {
            admin::create_workspace(&pool, &name, limits.limits()).await?
        }
        Command::Workspace(WorkspaceCommand::Token(TokenCommand::Create { workspace, limits })) => {
            admin::create_token(&pool, &workspace, limits.limits()).await?
        }
        Command::Workspace(WorkspaceCommand::Token(TokenCommand::List { workspace })) => {
            admin::list_tokens(&pool, &workspace).await?
        }
        Command::Workspace(WorkspaceCommand::Token(TokenCommand::Revoke { id })) => {
            admin::revoke_token(&pool, &id).await?
        }
        Command::Workspace(WorkspaceCommand::List) => admin::list_workspaces(&pool).await?,
        Command::Device(DeviceCommand::List { workspace }) => {
            admin::list_devices(&pool, &workspace).await?
        }
        Command::Device(DeviceCommand::Revoke { id }) => admin::revoke_device(&pool, &id).await?,
    }
    Ok(())
}

/// The settings file the package installs (`KEY=VALUE` lines, as systemd's `EnvironmentFile`
/// reads them); `$FLIGHTDECK_SYNC_ENV_FILE` names another.
const SETTINGS_FILE: &str = "/etc/flightdeck/sync-server.env";

/// `DATABASE_URL` from the settings file, for the admin commands run by hand (`sudo
/// flightdeck-sync-server workspace create NAME`) when neither the flag nor the variable is set.
fn database_url_from_settings() -> anyhow::Result<String> {
    let path = std::env::var("FLIGHTDECK_SYNC_ENV_FILE").unwrap_or_else(|_| SETTINGS_FILE.into());
    database_url_in(&path)
}

/// `DATABASE_URL` from the settings file at `path`.
fn database_url_in(path: &str) -> anyhow::Result<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("no database: pass --database-url or set DATABASE_URL")
        }
        Err(e) => anyhow::bail!(
            "no database: pass --database-url or set DATABASE_URL ({path} holds it but cannot be \
             read: {e}; run as root, e.g. with sudo)"
        ),
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "DATABASE_URL")
        .map(|(_, v)| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no database: pass --database-url, set DATABASE_URL, or set it in {path}"
            )
        })
}

#[cfg(test)]
mod settings_tests {
    use super::database_url_in;

    #[test]
    fn the_settings_file_gives_the_database_url_or_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sync-server.env");
        std::fs::write(
            &file,
            "# a comment\nFLIGHTDECK_SYNC_BIND=127.0.0.1:8787\nDATABASE_URL=\"postgres://u@h/db\"\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(database_url_in(path).unwrap(), "postgres://u@h/db");
        std::fs::write(&file, "# DATABASE_URL=postgres://commented/out\n").unwrap();
        let e = database_url_in(path).unwrap_err().to_string();
        assert!(e.contains(&format!("or set it in {path}")), "{e}");
        let gone = dir.path().join("none.env");
        let e = database_url_in(gone.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "no database: pass --database-url or set DATABASE_URL");
    }
}

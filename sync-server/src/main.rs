//! `flightdeck-sync-server`: relays and compacts change sets between a workspace's devices.
//! `serve` runs the HTTP API; `workspace` and `device` administer the database directly.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
    version,
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
    /// Create a workspace and print its join token
    Create { name: String },
    /// List workspaces
    List,
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
    let database_url = cli
        .database_url
        .context("no database: pass --database-url or set DATABASE_URL")?;
    let pool = db::connect_and_migrate(&database_url)
        .await
        .context("cannot prepare the database")?;
    match cli.command {
        Command::Serve {
            bind,
            header_timeout,
        } => {
            let header_timeout = std::time::Duration::from_secs(header_timeout);
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            let addr = listener.local_addr()?;
            // One machine-readable line so that tests and scripts can find a port-0 server.
            println!("listening on {addr}");
            let state = app::AppState::new(pool);
            let config: tokio_postgres::Config =
                database_url.parse().context("invalid database url")?;
            tokio::spawn(announce::run_listener(config, state.announcer.clone()));
            serve::serve(listener, app::router(state), header_timeout, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        }
        Command::Workspace(WorkspaceCommand::Create { name }) => {
            admin::create_workspace(&pool, &name).await?
        }
        Command::Workspace(WorkspaceCommand::List) => admin::list_workspaces(&pool).await?,
        Command::Device(DeviceCommand::List { workspace }) => {
            admin::list_devices(&pool, &workspace).await?
        }
        Command::Device(DeviceCommand::Revoke { id }) => admin::revoke_device(&pool, &id).await?,
    }
    Ok(())
}

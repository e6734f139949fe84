//! A sync server for tests and benchmarks: the real binary over a fresh throwaway Postgres
//! database, serving on 127.0.0.1:0, plus devices (real stores) that joined its workspace.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::store::{local_migrations, Migration, Origin};
use flightdeck_core::sync::{account, daemon, wire};
use flightdeck_core::Store;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::pg;

/// `$FLIGHTDECK_SYNC_SERVER_BIN`, else `<target dir>/<profile>/flightdeck-sync-server`.
pub fn server_binary(profile: &str) -> PathBuf {
    built_binary(
        "FLIGHTDECK_SYNC_SERVER_BIN",
        profile,
        "flightdeck-sync-server",
    )
}

/// `$FLIGHTDECK_CLI_BIN`, else `<target dir>/debug/flightdeck`.
pub fn cli_binary() -> PathBuf {
    built_binary("FLIGHTDECK_CLI_BIN", "debug", "flightdeck")
}

/// `$FLIGHTDECK_CLI_BIN`, else `<target dir>/release/flightdeck` (for benchmarks).
pub fn release_cli_binary() -> PathBuf {
    built_binary("FLIGHTDECK_CLI_BIN", "release", "flightdeck")
}

/// `$env`, else `<target dir>/<profile>/<name>`, which must have been built.
fn built_binary(env: &str, profile: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join(profile).join(name);
    let release = if profile == "release" {
        " --release"
    } else {
        ""
    };
    assert!(
        path.is_file(),
        "no {name} binary at {}; build it first: cargo build{release} --bin {name}",
        path.display()
    );
    path
}

pub struct Server {
    pub url: String,
    pub database_url: String,
    /// The join token of the workspace created at start.
    pub join_token: String,
    binary: PathBuf,
    process: Child,
}

impl Server {
    /// A fresh database, a workspace `team` in it, and `binary` serving it.
    pub async fn start(binary: PathBuf) -> Server {
        let db = pg::fresh_database().await;
        let join_token = new_workspace(&binary, &db.url, "team").await;
        let (process, addr) = serve(&binary, &db.url, "127.0.0.1:0").await;
        Server {
            url: format!("http://{addr}"),
            database_url: db.url,
            join_token,
            binary,
            process,
        }
    }

    /// Kills the server process for real (SIGKILL, no graceful shutdown).
    pub async fn kill(&mut self) {
        self.process
            .kill()
            .await
            .expect("the server process is killed");
    }

    /// Starts the server again on the same database and the same address, as a supervisor
    /// restarting a crashed service would, so that devices keep their stored URL.
    pub async fn restart(&mut self) {
        let addr = self.url.strip_prefix("http://").unwrap().to_string();
        let (process, bound) = serve(&self.binary, &self.database_url, &addr).await;
        assert_eq!(bound, addr);
        self.process = process;
    }

    /// `pg_dump` of the server's database (custom format) into `file`: a backup, as an
    /// operator takes one.
    pub async fn dump(&self, file: &std::path::Path) {
        let out = Command::new(pg_tool("pg_dump"))
            .arg("--format=custom")
            .arg(format!("--file={}", file.display()))
            .arg(format!("--dbname={}", self.database_url))
            .output()
            .await
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restores the database from a [`Server::dump`] (`pg_restore --clean`), as an operator
    /// recovering from a lost disk would; the server process must be stopped first.
    pub async fn restore(&self, file: &std::path::Path) {
        let out = Command::new(pg_tool("pg_restore"))
            .args([
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--no-owner",
            ])
            .arg(format!("--dbname={}", self.database_url))
            .arg(file)
            .output()
            .await
            .expect("pg_restore runs");
        assert!(
            out.status.success(),
            "pg_restore: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates another workspace and returns its join token.
    pub async fn new_workspace(&self, name: &str) -> String {
        new_workspace(&self.binary, &self.database_url, name).await
    }

    /// Another server process over the same database, on a free port of its own: the server
    /// is stateless over Postgres, so several serve one deployment (behind a balancer).
    pub async fn spawn_instance(&self) -> Instance {
        let (process, addr) = serve(&self.binary, &self.database_url, "127.0.0.1:0").await;
        Instance { addr, process }
    }
}

/// A PostgreSQL client program of the same installation as the test clusters' `initdb`
/// (which may be a link on `PATH` into the version's own bin directory).
fn pg_tool(name: &str) -> PathBuf {
    let initdb = crate::pg::postgres_bin_dir().join("initdb");
    let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
    let beside = real.parent().map(|dir| dir.join(name));
    match beside {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from(name),
    }
}

/// One more server process over a [`Server`]'s database (see [`Server::spawn_instance`]).
pub struct Instance {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    process: Child,
}

impl Instance {
    /// Kills the process for real (SIGKILL).
    pub async fn kill(&mut self) {
        self.process
            .kill()
            .await
            .expect("the server process is killed");
    }
}

/// `flightdeck_sync_connected_sockets` of the server process at `addr` (its `/metrics`,
/// asked directly, not through a balancer).
pub async fn connected_sockets(addr: &str) -> Result<i64, String> {
    Ok(metric(addr, "flightdeck_sync_connected_sockets").await? as i64)
}

/// The value of the unlabelled metric `name` in the `/metrics` of the server process at `addr`.
pub async fn metric(addr: &str, name: &str) -> Result<f64, String> {
    let url = format!("http://{addr}/metrics");
    let text = tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .call()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .ok_or_else(|| format!("no {name} in {addr}/metrics"))?
        .trim()
        .parse()
        .map_err(|e| format!("{name}: {e}"))
}

/// Spawns `serve --bind bind` and waits for the address it prints.
async fn serve(binary: &PathBuf, database_url: &str, bind: &str) -> (Child, String) {
    let mut process = Command::new(binary)
        .args(["serve", "--bind", bind])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the sync server starts");
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    let addr = loop {
        let line =
            lines.next_line().await.unwrap().unwrap_or_else(|| {
                panic!("the server on {bind} exited before printing its address")
            });
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_string();
        }
    };
    (process, addr)
}

async fn new_workspace(binary: &PathBuf, database_url: &str, name: &str) -> String {
    // Enough uses for every device a test or bench joins (the sockets bench: 1,001).
    let out = Command::new(binary)
        .args(["workspace", "create", name, "--uses", "5000"])
        .env("DATABASE_URL", database_url)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn keyring() -> OsKeyring {
    OsKeyring::from_env().expect("a keyring backend")
}

/// A device: a store in its own temp dir that joined a workspace on the server.
pub struct Device {
    pub store: Arc<Store>,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Device {
    pub async fn join(server: &Server, join_token: &str) -> Device {
        Device::join_at(&server.url, join_token).await
    }

    /// A device of another build: one whose local schema is `migrations` (e.g. the current
    /// ones and a later one).
    pub async fn join_with_migrations(
        server: &Server,
        join_token: &str,
        migrations: &[Migration],
    ) -> Device {
        Device::join_at_with_migrations(&server.url, join_token, migrations).await
    }

    /// Joins through `url` (a balancer in front of the servers, say): the device keeps that
    /// URL for every later request and its announcement socket.
    pub async fn join_at(url: &str, join_token: &str) -> Device {
        Device::join_at_with_migrations(url, join_token, local_migrations()).await
    }

    async fn join_at_with_migrations(
        url: &str,
        join_token: &str,
        migrations: &[Migration],
    ) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flightdeck.db");
        let store = Store::open_with_migrations(&path, migrations).unwrap();
        let joined = account::join(&store, &keyring(), url, join_token)
            .await
            .unwrap();
        assert!(joined.keyring_error.is_none(), "{:?}", joined.keyring_error);
        Device {
            store: Arc::new(store),
            path,
            _dir: dir,
        }
    }

    /// Closes the store (crsql_finalize) and hands back its directory and file, for tests
    /// that reopen the store themselves.
    pub fn close(self) -> (tempfile::TempDir, PathBuf) {
        drop(self.store);
        (self._dir, self.path)
    }

    pub async fn sync(&self) -> flightdeck_core::sync::client::SyncReport {
        account::sync_now(&self.store, &keyring()).await.unwrap()
    }
}

/// Runs the sync daemon on `store` in the background until `stop` hears something (or its
/// sender is dropped).
pub fn spawn_daemon(
    store: Arc<Store>,
    options: daemon::DaemonOptions,
    stop: tokio::sync::broadcast::Receiver<()>,
) -> tokio::task::JoinHandle<flightdeck_core::Result<()>> {
    spawn_daemon_observed(store, options, stop, Arc::default())
}

/// What a daemon's rounds did so far, as [`spawn_daemon_observed`] records them.
#[derive(Debug, Default)]
pub struct Rounds {
    pub ok: AtomicUsize,
    pub failed: AtomicUsize,
    /// Whether the latest round failed (the daemon then retries on its own schedule).
    pub last_failed: AtomicBool,
}

impl Rounds {
    /// (successful, failed) rounds so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

/// [`spawn_daemon`], counting the daemon's rounds into `rounds`.
pub fn spawn_daemon_observed(
    store: Arc<Store>,
    options: daemon::DaemonOptions,
    mut stop: tokio::sync::broadcast::Receiver<()>,
    rounds: Arc<Rounds>,
) -> tokio::task::JoinHandle<flightdeck_core::Result<()>> {
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.recv().await;
        };
        daemon::run(&store, &keyring(), options, stopped, |result| {
            let counter = if result.is_ok() {
                &rounds.ok
            } else {
                &rounds.failed
            };
            counter.fetch_add(1, Ordering::SeqCst);
            rounds.last_failed.store(result.is_err(), Ordering::SeqCst);
        })
        .await
    })
}

/// (table, pk, column, value, column version, causal length). Not the site id: when two
/// devices write the same value at the same version, cr-sqlite's rule keeps each side's cell
/// as it is (nothing to merge), so the value converges but the writer's site id may not.
pub type Cell = (String, String, String, String, i64, i64);

fn cell(c: flightdeck_types::sync::WireChange) -> Cell {
    (
        c.table,
        c.pk,
        c.cid,
        format!("{:?}", c.val),
        c.col_version,
        c.cl,
    )
}

/// Every cell a device holds, in a list so that a duplicate would show.
pub fn device_cells(store: &Store) -> Vec<Cell> {
    let mut cells: Vec<Cell> = store
        .changes_since(0, Origin::Any)
        .unwrap()
        .iter()
        .map(wire::to_wire)
        .map(cell)
        .collect();
    cells.sort();
    cells
}

/// The server's whole cell state, pulled page by page as the device `store` (a joined one).
pub async fn server_cells(store: &Store) -> Vec<Cell> {
    let client = account::connect(store, &keyring()).unwrap();
    let mut cells = Vec::new();
    let mut after = 0;
    loop {
        let page = client.pull(after, 1000).await.unwrap();
        cells.extend(page.changes.into_iter().map(cell));
        if page.next >= page.head {
            break;
        }
        after = page.next;
    }
    cells.sort();
    cells
}

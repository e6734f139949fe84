//! A sync server for tests and benchmarks: the real binary over a fresh throwaway Postgres
//! database, serving on 127.0.0.1:0, plus devices (real stores) that joined its workspace.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::sync::account;
use flightdeck_core::Store;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::pg;

/// `$FLIGHTDECK_SYNC_SERVER_BIN`, else `<target dir>/<profile>/flightdeck-sync-server`.
pub fn server_binary(profile: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("FLIGHTDECK_SYNC_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join(profile).join("flightdeck-sync-server");
    let release = if profile == "release" {
        " --release"
    } else {
        ""
    };
    assert!(
        path.is_file(),
        "no server binary at {}; build it first: cargo build{release} -p flightdeck-sync-server",
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
    _process: Child,
}

impl Server {
    /// A fresh database, a workspace `team` in it, and `binary` serving it.
    pub async fn start(binary: PathBuf) -> Server {
        let db = pg::fresh_database().await;
        let join_token = new_workspace(&binary, &db.url, "team").await;
        let mut process = Command::new(&binary)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the sync server starts");
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server printed its address");
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.to_string();
            }
        };
        Server {
            url: format!("http://{addr}"),
            database_url: db.url,
            join_token,
            binary,
            _process: process,
        }
    }

    /// Creates another workspace and returns its join token.
    pub async fn new_workspace(&self, name: &str) -> String {
        new_workspace(&self.binary, &self.database_url, name).await
    }
}

async fn new_workspace(binary: &PathBuf, database_url: &str, name: &str) -> String {
    let out = Command::new(binary)
        .args(["workspace", "create", name])
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flightdeck.db");
        let store = Store::open(&path).unwrap();
        let joined = account::join(&store, &keyring(), &server.url, join_token)
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

//! A throwaway PostgreSQL for tests: one cluster per test binary, a fresh database per test.
//!
//! - Binaries: `$FLIGHTDECK_PG_BIN`, else `initdb` on `PATH`, else the newest
//!   `/usr/lib/postgresql/*/bin` (Debian's layout, where nothing is on `PATH`).
//! - User: initdb refuses to run as root, and CI runs as root, so as root the cluster runs as
//!   the unprivileged `nobody` user (from /etc/passwd) and its temp dir is chowned to it.
//! - Network: the cluster listens only on a unix socket inside its own temp dir, so no TCP port
//!   can clash with another test binary or a real server.
//! - Cleanup: statics are never dropped, so a guard shell process owns the postmaster and reads
//!   a pipe from this process. However this process ends, the pipe closes; the guard then stops
//!   the cluster and removes the directory.
//!
//! `FLIGHTDECK_TEST_DATABASE_URL` selects an existing server instead (a fresh database per test
//! is still created there, with a random name). Those databases outlive their test binary
//! (statics are never dropped), so each binary first drops the ones that earlier, finished
//! test processes of this host left behind (their names carry the host and the process id).
//!
//! This file is also compiled into the integration tests (`#[path]`), so it uses no crate items.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// How long a fresh cluster may take to accept connections before the test fails.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// The port only names the socket file: nothing listens on TCP.
const SOCKET_PORT: u16 = 5432;

struct Cluster {
    /// A connection string for the maintenance database, without `dbname`.
    base: String,
    /// Keeps the guard's stdin pipe open for the life of this process.
    _guard: Option<Child>,
}

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();

/// A database of its own for one test.
pub struct TestDatabase {
    /// A connection string (`key=value` form, or a URL when given one) for this database.
    pub url: String,
}

impl TestDatabase {
    pub fn config(&self) -> tokio_postgres::Config {
        self.url.parse().expect("test database url")
    }
}

/// Creates a fresh, empty database (starting the shared cluster on first use).
pub async fn fresh_database() -> TestDatabase {
    let cluster = CLUSTER.get_or_init(start_cluster).await;
    let admin = connect(&with_dbname(&cluster.base, "postgres"))
        .await
        .expect("connect to the test cluster");
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("random bytes");
    let name = format!(
        "{DATABASE_PREFIX}{}_{}_{}",
        host_tag(),
        std::process::id(),
        hex::encode(random)
    );
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    TestDatabase {
        url: with_dbname(&cluster.base, &name),
    }
}

/// Connects and drives the connection on the current runtime.
async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Points a connection string at another database: a URL gets a new path, a `key=value`
/// string a trailing `dbname` (the last occurrence of a key wins).
fn with_dbname(base: &str, dbname: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = base.strip_prefix(scheme) {
            let (before_query, query) = match rest.split_once('?') {
                Some((before, query)) => (before, Some(query)),
                None => (rest, None),
            };
            let authority = before_query.split('/').next().unwrap_or_default();
            let mut url = format!("{scheme}{authority}/{dbname}");
            if let Some(query) = query {
                url.push('?');
                url.push_str(query);
            }
            return url;
        }
    }
    format!("{base} dbname={dbname}")
}

/// Test databases are named `<prefix><host tag>_<pid>_<random hex>`.
const DATABASE_PREFIX: &str = "flightdeck_test_";

/// A short tag of this host's name (database names are limited to 63 bytes).
fn host_tag() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    // FNV-1a: stable across runs, unlike std's hasher.
    let hash = host.trim().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash as u32)
}

/// Whether `name` is a test database that a finished process of host `host` created.
fn left_behind(name: &str, host: &str, alive: impl Fn(u32) -> bool) -> bool {
    let Some(rest) = name.strip_prefix(DATABASE_PREFIX) else {
        return false;
    };
    let mut parts = rest.split('_');
    match (parts.next(), parts.next().and_then(|p| p.parse().ok())) {
        (Some(tag), Some(pid)) => tag == host && !alive(pid),
        _ => false,
    }
}

/// Drops the test databases that finished test processes of this host left on `base`'s server.
async fn drop_left_behind(base: &str) {
    let Ok(admin) = connect(&with_dbname(base, "postgres")).await else {
        return; // the first test's own connection reports the problem
    };
    let Ok(rows) = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'flightdeck\\_test\\_%'",
            &[],
        )
        .await
    else {
        return;
    };
    let host = host_tag();
    for row in rows {
        let name: String = row.get(0);
        if left_behind(&name, &host, |pid| {
            Path::new(&format!("/proc/{pid}")).exists()
        }) {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

async fn start_cluster() -> Cluster {
    if let Ok(url) = std::env::var("FLIGHTDECK_TEST_DATABASE_URL") {
        drop_left_behind(&url).await;
        return Cluster {
            base: url,
            _guard: None,
        };
    }
    let bin = postgres_bin_dir();
    let dir = tempfile::Builder::new()
        .prefix("flightdeck-pg-")
        .tempdir()
        .expect("temp dir for the test cluster")
        .keep();
    let run_as = unprivileged_user_if_root(&dir);
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster dir");
    }
    let data = dir.join("data");
    let initdb = as_user(Command::new(bin.join("initdb")), run_as)
        .arg("--pgdata")
        .arg(&data)
        .args([
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .expect("run initdb");
    assert!(
        initdb.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&initdb.stderr)
    );

    // The guard: starts the postmaster, waits for end-of-file on stdin (this process gone),
    // then stops it at once (nothing in a test cluster is worth a clean shutdown) and cleans up.
    // It ignores SIGINT so that Ctrl-C on the test run still leads to the cleanup.
    let script = r#"
        trap '' INT
        "$PG_POSTGRES" -D "$PG_DIR/data" -k "$PG_DIR" -p "$PG_PORT" -c listen_addresses= \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=200 -c shared_buffers=1GB >"$PG_DIR/postgres.log" 2>&1 &
        pid=$!
        cat >/dev/null
        kill -QUIT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$PG_DIR"
    "#;
    let guard = as_user(Command::new("sh"), run_as)
        .arg("-c")
        .arg(script)
        .env("PG_POSTGRES", bin.join("postgres"))
        .env("PG_DIR", &dir)
        .env("PG_PORT", SOCKET_PORT.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the cluster guard");

    let base = format!(
        "host={} port={SOCKET_PORT} user=postgres",
        dir.to_str().expect("utf-8 temp dir")
    );
    let maintenance = with_dbname(&base, "postgres");
    let started = Instant::now();
    loop {
        match connect(&maintenance).await {
            Ok(_) => break,
            Err(error) if started.elapsed() > STARTUP_DEADLINE => {
                let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
                panic!("the test cluster did not start: {error}\n{log}");
            }
            // Polling, not waiting a fixed time: the cluster usually answers within a second.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Cluster {
        base,
        _guard: Some(guard),
    }
}

fn as_user(mut command: Command, run_as: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = run_as {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(gid);
    }
    command
}

/// `nobody`'s uid and gid when this process runs as root (judged by who owns `fresh_dir`).
fn unprivileged_user_if_root(fresh_dir: &Path) -> Option<(u32, u32)> {
    let owner = std::fs::metadata(fresh_dir).expect("stat temp dir").uid();
    if owner != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let fields: Vec<&str> = passwd
        .lines()
        .find(|line| line.starts_with("nobody:"))
        .expect("a `nobody` user to run the test cluster as (initdb refuses root)")
        .split(':')
        .collect();
    Some((
        fields[2].parse().expect("nobody's uid"),
        fields[3].parse().expect("nobody's gid"),
    ))
}

pub fn postgres_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLIGHTDECK_PG_BIN") {
        return PathBuf::from(dir);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file());
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL binaries (initdb, postgres): set FLIGHTDECK_PG_BIN, put them on PATH or install postgresql")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fresh_databases_are_separate_and_usable() {
        let first = fresh_database().await;
        let second = fresh_database().await;
        assert_ne!(first.url, second.url);
        let client = connect(&first.url).await.unwrap();
        let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 2);
    }

    #[test]
    fn only_databases_of_finished_processes_of_this_host_are_left_behind() {
        let alive = |pid: u32| pid == 7;
        assert!(left_behind(
            "flightdeck_test_abcd1234_9_00ff",
            "abcd1234",
            alive
        ));
        assert!(
            !left_behind("flightdeck_test_abcd1234_7_00ff", "abcd1234", alive),
            "running"
        );
        assert!(
            !left_behind("flightdeck_test_ffff0000_9_00ff", "abcd1234", alive),
            "other host"
        );
        assert!(
            !left_behind("flightdeck_test_00ff", "abcd1234", alive),
            "old naming"
        );
        assert!(!left_behind("production", "abcd1234", alive));
    }

    #[test]
    fn dbname_replaces_a_url_path_and_keeps_the_query() {
        assert_eq!(
            with_dbname("postgres://u:p@h:5/old?sslmode=disable", "new"),
            "postgres://u:p@h:5/new?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://h", "new"), "postgresql://h/new");
        assert_eq!(
            with_dbname("host=/x port=1", "new"),
            "host=/x port=1 dbname=new"
        );
    }
}

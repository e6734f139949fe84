//! `flightdeck sync ...` through the real CLI binary against the real sync server: join, sync
//! now, status (online, then offline once the server is gone), conflicts; and a client process
//! killed for real (SIGKILL) in the middle of a bootstrap, which loses and duplicates nothing
//! when it runs again.

#[path = "cli_sync/adopt.rs"]
mod adopt;
#[path = "cli_sync/headless.rs"]
mod headless;
#[path = "cli_sync/import.rs"]
mod import;
#[path = "cli_sync/leave.rs"]
mod leave;
#[path = "cli_sync/mcp.rs"]
mod mcp;
#[path = "cli_sync/telemetry.rs"]
mod telemetry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use flightdeck_core::sync::account;
use flightdeck_core::Store;
use flightdeck_tests::poll::until;
use flightdeck_tests::sync_rig::{
    cli_binary, device_cells, server_binary, server_cells, Device, Server,
};
use serde_json::Value;

fn flightdeck(data: &Path, args: &[&str]) -> Output {
    Command::new(cli_binary())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("the CLI runs")
}

/// Runs a command that must succeed and returns its `--json` output.
fn json(data: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = flightdeck(data, &all);
    assert!(
        out.status.success(),
        "flightdeck {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn database(data: &Path) -> PathBuf {
    data.join("workspaces/default/flightdeck.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_commands_join_push_pull_and_report_the_connection() {
    let mut server = Server::start(server_binary("debug")).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path(), b.path());

    let status = json(a, &["sync", "status"]);
    assert_eq!(status["joined"], false);
    assert_eq!(status["online"], Value::Null);

    for data in [a, b] {
        let joined = json(data, &["sync", "join", &server.url, &server.join_token]);
        assert_eq!(joined["workspace_name"], "team");
        assert_eq!(joined["token_in_keyring"], true);
    }
    let task = json(a, &["task", "add", "Carried by the CLI"]);
    let status = json(a, &["sync", "status"]);
    assert_eq!(status["online"], true);
    assert!(status["pending_cells"].as_u64().unwrap() > 0);

    let pushed = json(a, &["sync", "now"]);
    assert!(pushed["pushed_cells"].as_u64().unwrap() > 0);
    assert_eq!(json(a, &["sync", "status"])["pending_cells"], 0);
    let pulled = json(b, &["sync", "now"]);
    assert!(pulled["pulled_cells"].as_u64().unwrap() > 0);
    assert_eq!(
        json(b, &["task", "show", task["id"].as_str().unwrap()])["title"],
        "Carried by the CLI"
    );
    assert_eq!(json(b, &["sync", "conflicts"]), Value::Array(vec![]));

    // The server gone: status still answers, saying offline and why; sync now fails in one
    // line; local work goes on.
    server.kill().await;
    let status = json(b, &["sync", "status"]);
    assert_eq!(status["online"], false);
    let why = status["offline_reason"].as_str().unwrap();
    assert!(why.contains("cannot reach"), "{why}");
    let failed = flightdeck(b, &["sync", "now"]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    json(b, &["task", "add", "Written offline"]);
    assert!(
        json(b, &["sync", "status"])["pending_cells"]
            .as_u64()
            .unwrap()
            > 0
    );
}

/// Writes `n` tasks on `store` in transactions of 500 (set-up, not under test).
fn fill(store: &Store, n: usize) {
    for start in (0..n).step_by(500) {
        store
            .write(|w| {
                let mut insert = w.prepare_cached(
                    "INSERT INTO tasks (id, title, status, priority, created_at, updated_at)
                     VALUES (?1, ?2, 'todo', 1, ?3, ?3)",
                )?;
                for i in start..(start + 500).min(n) {
                    insert.execute((
                        format!("0190b000-0000-7000-8000-{i:012}"),
                        format!("bootstrap {i}"),
                        1_700_000_000_000 + i as i64,
                    ))?;
                }
                Ok(())
            })
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_bootstrap_loses_and_duplicates_nothing() {
    let server = Server::start(server_binary("debug")).await;
    let writer = Device::join(&server, &server.join_token).await;
    fill(&writer.store, 12_000);
    writer.sync().await;

    let late = tempfile::tempdir().unwrap();
    json(
        late.path(),
        &["sync", "join", &server.url, &server.join_token],
    );
    // This test's own view of the late device's database (WAL: it reads beside the CLI).
    let store = Store::open(&database(late.path())).unwrap();
    let mut bootstrap = Command::new(cli_binary())
        .arg("--data-dir")
        .arg(late.path())
        .args(["sync", "now"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has applied some pages and not all of them.
    let head = account::status(&writer.store).unwrap().server_head;
    let cursor = until(
        "the bootstrap to apply a page",
        Duration::from_secs(60),
        || {
            let cursor = account::status(&store)
                .map_err(|e| e.to_string())?
                .local_cursor;
            Ok((cursor > 0).then_some(cursor))
        },
    );
    bootstrap.kill().unwrap();
    let killed = bootstrap.wait().unwrap();
    assert!(
        cursor < head && !killed.success(),
        "the bootstrap finished before the kill (cursor {cursor} of {head}); fill more tasks"
    );
    let partial = device_cells(&store).len();
    assert!(partial > 0 && partial < device_cells(&writer.store).len());

    // Again, to the end: exactly the server's cells, each once.
    let done = flightdeck(late.path(), &["sync", "now"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let cells = device_cells(&store);
    assert_eq!(cells, server_cells(&store).await);
    assert_eq!(cells, device_cells(&writer.store));
}

/// A run that prints its environment's secret (plainly and base64-encoded): `runs logs`, its
/// `--json` form, the database file and its WAL, and the sync server's cells in Postgres all
/// hold `***` instead, and the masked output did reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_printed_by_a_run_reaches_neither_the_logs_nor_the_server() {
    let server = Server::start(server_binary("debug")).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    json(data, &["sync", "join", &server.url, &server.join_token]);
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).unwrap();
    let secret = format!("hunter2-SECRET-{}", hex::encode(random));

    let added = flightdeck(data, &["env", "add", "vault", "--secret-var", "API_TOKEN"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let mut set = Command::new(cli_binary())
        .arg("--data-dir")
        .arg(data)
        .args(["env", "secret", "set", "vault", "API_TOKEN"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    set.stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    assert!(set.wait().unwrap().success());
    let task = json(data, &["task", "add", "Print the token", "--env", "vault"]);
    let task_id = task["id"].as_str().unwrap();
    let line = r#"echo "token is $API_TOKEN"; printf %s "$API_TOKEN" | base64 -w0; echo"#;
    let ran = flightdeck(data, &["run", task_id, "--shell", line]);
    let shown = String::from_utf8_lossy(&ran.stdout).to_string();
    assert!(
        ran.status.success(),
        "{shown} {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(shown.contains("token is ***"), "{shown}");

    let runs = json(data, &["runs", "list"]);
    let run_id = runs[0]["id"].as_str().unwrap();
    let logs = flightdeck(data, &["runs", "logs", run_id]);
    let logs_json = flightdeck(data, &["--json", "runs", "logs", run_id]);
    let show_json = flightdeck(data, &["--json", "runs", "show", run_id]);
    let logs = String::from_utf8_lossy(&logs.stdout).to_string();
    assert!(logs.contains("token is ***"), "{logs}");
    let b64 = {
        let out = Command::new("base64")
            .arg("-w0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = out;
        out.stdin
            .take()
            .unwrap()
            .write_all(secret.as_bytes())
            .unwrap();
        String::from_utf8(out.wait_with_output().unwrap().stdout).unwrap()
    };
    for (what, text) in [
        ("the run's own output", shown),
        ("runs logs", logs),
        (
            "runs logs --json",
            String::from_utf8_lossy(&logs_json.stdout).to_string(),
        ),
        (
            "runs show --json",
            String::from_utf8_lossy(&show_json.stdout).to_string(),
        ),
    ] {
        assert!(!text.contains(&secret), "{what} shows the secret: {text}");
        assert!(
            !text.contains(&b64),
            "{what} shows the secret in base64: {text}"
        );
    }
    let mut files = std::fs::read(database(data)).unwrap();
    files.extend(std::fs::read(database(data).with_extension("db-wal")).unwrap_or_default());
    assert!(
        !files.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the database or its WAL holds the secret"
    );

    json(data, &["sync", "now"]);
    let (client, connection) = tokio_postgres::connect(&server.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let count = |needle: String| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT count(*) FROM entities WHERE position($1::bytea IN cells) > 0",
                    &[&needle.into_bytes()],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert!(
        count("token is ***".into()).await > 0,
        "the output was synced"
    );
    assert_eq!(
        count(secret.clone()).await,
        0,
        "the server holds the secret"
    );
    assert_eq!(count(b64.clone()).await, 0, "the server holds it in base64");
}

/// Queues `line` on the device at `a` for itself, then rewrites the run's device to `b_id`
/// (a plain UPDATE through cr-sqlite, which any device can push), and pushes it.
fn queue_for_another_device(a: &Path, b_id: &str, line: &str) -> String {
    let store = Store::open(&database(a)).unwrap();
    let run = flightdeck_core::runs::queue(
        &store,
        flightdeck_types::NewExecution {
            spec: Some(flightdeck_types::ExecutionSpec::Shell(
                flightdeck_types::ShellSpec {
                    line: Some(line.into()),
                    ..Default::default()
                },
            )),
            ..Default::default()
        },
    )
    .unwrap();
    store
        .write(|w| {
            w.execute(
                "UPDATE executions SET device_id = ?1 WHERE id = ?2",
                [b_id, run.id.as_str()],
            )?;
            Ok(())
        })
        .unwrap();
    drop(store);
    json(a, &["sync", "now"]);
    run.id
}

/// The verified case of the trust issue, through two real CLI devices and the real server:
/// device B's daemon refuses the run A rewrote to B (the error names A and the command that
/// trusts it) and runs nothing; after `devices trust A` on B, the next such run is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_refuses_runs_another_device_wrote_until_it_trusts_it() {
    let server = Server::start(server_binary("debug")).await;
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a_dir.path(), b_dir.path());
    json(a, &["sync", "join", &server.url, &server.join_token]);
    json(b, &["sync", "join", &server.url, &server.join_token]);
    // A device is named by its site id (`sync status`'s device_id), as in the refusal.
    let site_of = |data: &Path| {
        json(data, &["sync", "status"])["device_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a_id, b_id) = (site_of(a), site_of(b));
    let marker = b.join("ran-a-command");
    let line = format!("touch '{}'", marker.display());
    let _daemon = tokio::process::Command::new(cli_binary())
        .arg("--data-dir")
        .arg(b)
        .arg("daemon")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ended = |id: String| {
        until("the run to end on B", Duration::from_secs(60), move || {
            let out = flightdeck(b, &["--json", "runs", "show", &id]);
            if !out.status.success() {
                return Ok(None); // not synced to B yet
            }
            let run: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
            let status = run["status"].as_str().unwrap_or_default().to_string();
            Ok((!matches!(status.as_str(), "queued" | "running")).then_some(run))
        })
    };

    let refused = ended(queue_for_another_device(a, &b_id, &line));
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains(&a_id), "{error}");
    assert!(
        error.contains(&format!("flightdeck devices trust {a_id}")),
        "{error}"
    );
    assert!(!marker.exists(), "B ran A's command");
    let errors = json(b, &["errors", "list"]);
    assert!(
        errors.to_string().contains(&a_id),
        "an error record names A: {errors}"
    );

    let devices = json(b, &["devices", "list"]);
    let listed = devices.as_array().unwrap();
    assert_eq!(listed[0]["site_id"], b_id.as_str());
    assert_eq!(listed[0]["this_device"], true);
    let a_row = listed
        .iter()
        .find(|d| d["site_id"] == a_id.as_str())
        .unwrap();
    assert_eq!(a_row["trusted"], false, "{devices}");
    assert!(a_row["last_seen_at"].is_string(), "{devices}");

    let trusted = json(b, &["devices", "trust", &a_id]);
    assert_eq!(trusted["trusted"], true);
    let taken = ended(queue_for_another_device(a, &b_id, &line));
    assert_eq!(taken["status"], "succeeded", "{taken}");
    assert!(marker.exists());

    let bad = flightdeck(b, &["devices", "trust", "no-such-device"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("devices list"), "{stderr}");
}

/// Joining names the devices that joined with the same join token: `--trust-peers` trusts
/// them; without it (and without a terminal to ask on) nothing is trusted and a note says how.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_offers_to_trust_the_devices_of_the_same_token() {
    let server = Server::start(server_binary("debug")).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (a, b, c) = (dirs[0].path(), dirs[1].path(), dirs[2].path());
    let first = json(a, &["sync", "join", &server.url, &server.join_token]);
    assert_eq!(first["peers"], Value::Array(vec![]));
    let a_site = json(a, &["sync", "status"])["device_id"]
        .as_str()
        .unwrap()
        .to_string();

    let trusting = json(
        b,
        &[
            "sync",
            "join",
            &server.url,
            &server.join_token,
            "--trust-peers",
        ],
    );
    assert_eq!(
        trusting["peers"][0]["site_id"],
        a_site.as_str(),
        "{trusting}"
    );
    assert_eq!(trusting["peers"][0]["trusted"], true);
    let listed = json(b, &["devices", "list"]);
    let a_on_b = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["site_id"] == a_site.as_str())
        .unwrap()
        .clone();
    assert_eq!(a_on_b["trusted"], true, "{listed}");

    let asked = flightdeck(c, &["sync", "join", &server.url, &server.join_token]);
    assert!(asked.status.success());
    let note = String::from_utf8_lossy(&asked.stderr);
    assert!(
        note.contains("2 device(s) joined with the same join token"),
        "{note}"
    );
    assert!(note.contains("flightdeck devices trust"), "{note}");
    let listed = json(c, &["devices", "list"]);
    let others: Vec<&Value> = listed.as_array().unwrap()[1..].iter().collect();
    assert_eq!(others.len(), 2, "{listed}");
    assert!(
        others.iter().all(|d| d["trusted"] == false),
        "nothing trusted silently: {listed}"
    );
}

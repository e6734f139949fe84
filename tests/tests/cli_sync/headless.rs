//! A headless machine (no D-Bus session, so no Secret Service): secrets and the device token
//! in the workspace's encrypted secrets file, through the real CLI and the real server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use flightdeck_tests::poll::until;
use flightdeck_tests::sync_rig::{cli_binary, server_binary, Server};
use serde_json::Value;

/// The CLI as on a server: no D-Bus, secrets in the file (`keyring` overrides that), and
/// `key` as `$FLIGHTDECK_SECRETS_KEY` when given.
fn headless(data: &Path, keyring: &str, key: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(cli_binary());
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("FLIGHTDECK_SECRETS_KEY")
        .env("FLIGHTDECK_KEYRING", keyring)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if keyring == "file" {
        command.env_remove("DBUS_SESSION_BUS_ADDRESS");
    }
    if let Some(key) = key {
        command.env("FLIGHTDECK_SECRETS_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok_json(out: Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{what}: not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_device_keeps_its_secrets_and_token_in_the_encrypted_file() {
    let server = Server::start(server_binary("debug")).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    const KEY: &str = "correct horse battery staple";
    let key = Some(KEY);
    let run = |args: &[&str]| headless(data, "file", key, args, "");
    let json = |args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        ok_json(run(&all), &args.join(" "))
    };

    let joined = json(&["sync", "join", &server.url, &server.join_token]);
    assert_eq!(joined["token_in_keyring"], true, "{joined}");
    json(&["env", "add", "vault", "--secret-var", "API_TOKEN"]);
    let secret = "s3cret-kept-in-the-file";
    let set = headless(
        data,
        "file",
        key,
        &["env", "secret", "set", "vault", "API_TOKEN"],
        secret,
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(String::from_utf8_lossy(&set.stdout).contains("in the secrets file"));
    let task = json(&["task", "add", "Use the token", "--env", "vault"]);
    let check = format!("test \"$API_TOKEN\" = '{secret}' && echo the-run-has-it");
    let ran = run(&["run", task["id"].as_str().unwrap(), "--shell", &check]);
    let shown = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success() && shown.contains("the-run-has-it"),
        "{shown}"
    );

    // The file: private, encrypted.
    let secrets = data.join("workspaces/default/secrets");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&secrets), 0o700);
    assert_eq!(mode(&secrets.join("store")), 0o600);
    let stored = std::fs::read(secrets.join("store")).unwrap();
    let text = String::from_utf8_lossy(&stored);
    assert!(
        !text.contains(secret) && !text.contains("fdd_"),
        "in the clear: {text}"
    );
    assert!(
        !secrets.join("key").exists(),
        "the key came from the variable"
    );

    // The daemon syncs with the token from the file.
    let mut daemon = Command::new(cli_binary())
        .arg("--data-dir")
        .arg(data)
        .arg("daemon")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("FLIGHTDECK_KEYRING", "file")
        .env("FLIGHTDECK_SECRETS_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the daemon to sync", Duration::from_secs(60), || {
        let status = json(&["sync", "status"]);
        Ok((status["pending_cells"] == 0 && status["last_sync_at"].is_string()).then_some(()))
    });
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    // A wrong key: a clear error, and nothing overwritten.
    let wrong = headless(
        data,
        "file",
        Some("wrong"),
        &["env", "secret", "set", "vault", "OTHER"],
        "x",
    );
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("FLIGHTDECK_SECRETS_KEY"), "{stderr}");
    assert!(
        stderr.contains("is not the one it was written with"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(secrets.join("store")).unwrap(),
        stored,
        "overwritten"
    );

    // Looking in a keyring that has no token: sync status and the daemon say so, loudly.
    let status = headless(data, "keyutils", None, &["--json", "sync", "status"], "");
    let problem = ok_json(status, "sync status")["device_token_problem"].clone();
    assert!(
        problem.as_str().unwrap().contains("FLIGHTDECK_SYNC_TOKEN"),
        "{problem}"
    );
    let mut daemon = Command::new(cli_binary())
        .arg("--data-dir")
        .arg(data)
        .arg("daemon")
        .env("FLIGHTDECK_KEYRING", "keyutils")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = daemon.stderr.take().unwrap();
    let (found_tx, found) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        for line in lines.map_while(Result::ok) {
            if line.contains("NOT SYNCING") {
                let _ = found_tx.send(line);
            }
        }
    });
    let warned = found.recv_timeout(Duration::from_secs(60));
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let warned = warned.expect("the daemon says it is not syncing");
    assert!(warned.contains("no device token"), "{warned}");

    // Moved to the OS keyring and back: everything is found wherever it is.
    let in_keyring = |key: Option<&str>, args: &[&str]| {
        ok_json(
            headless(data, "secret-service", key, args, ""),
            &args.join(" "),
        )
    };
    let moved = in_keyring(key, &["--json", "secrets", "migrate", "--to", "keyring"]);
    assert_eq!(moved["moved"].as_array().unwrap().len(), 2, "{moved}");
    assert!(
        !secrets.join("store").exists(),
        "the emptied file is removed"
    );
    let shown = in_keyring(None, &["--json", "env", "show", "vault"]);
    assert_eq!(shown["secret_status"]["API_TOKEN"], "set", "{shown}");
    let back = in_keyring(key, &["--json", "secrets", "migrate", "--to", "file"]);
    assert_eq!(back["moved"].as_array().unwrap().len(), 2, "{back}");
    let synced = json(&["sync", "now"]);
    assert!(
        synced["server_head"].is_number(),
        "sync now works from the file: {synced}"
    );
}

//! The real binary: admin commands against a throwaway Postgres, then `serve` on port 0.

#[path = "../src/testing.rs"]
mod testing;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck-sync-server");

/// A bare HTTP/1.1 GET: status code and body.
async fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

async fn admin(url: &str, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn admin_commands_manage_workspaces() {
    let db = testing::fresh_database().await;
    let token = admin(&db.url, &["workspace", "create", "home"]).await;
    assert!(token.trim().starts_with("fdj_"), "{token}");
    let list = admin(&db.url, &["workspace", "list"]).await;
    assert!(list.contains("\thome\t"), "{list}");
    let devices = admin(&db.url, &["device", "list", "home"]).await;
    assert_eq!(devices.lines().count(), 1, "only the header: {devices}");
    let missing = Command::new(BIN)
        .args(["device", "revoke", "not-a-uuid"])
        .env("DATABASE_URL", &db.url)
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
}

/// Runs the binary with `args`; its exit status, stdout and stderr.
async fn run(url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn join_tokens_are_created_listed_and_revoked() {
    let db = testing::fresh_database().await;
    let (ok, first, stderr) = run(&db.url, &["workspace", "create", "home"]).await;
    assert!(ok, "{stderr}");
    assert!(first.trim().starts_with("fdj_"), "{first}");
    assert!(
        stderr.contains("for 1 device, until"),
        "the defaults: {stderr}"
    );

    let (ok, second, stderr) = run(
        &db.url,
        &[
            "workspace",
            "token",
            "create",
            "home",
            "--uses",
            "3",
            "--expires",
            "2h",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        second.trim().starts_with("fdj_") && second != first,
        "{second}"
    );
    assert!(stderr.contains("for 3 devices"), "{stderr}");

    let list = admin(&db.url, &["workspace", "token", "list", "home"]).await;
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!((rows[0][1], rows[0][2]), ("active", "1 of 1"), "{list}");
    assert_eq!((rows[1][1], rows[1][2]), ("active", "3 of 3"), "{list}");

    let (ok, _, stderr) = run(&db.url, &["workspace", "token", "revoke", rows[1][0]]).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("revoked join token"), "{stderr}");
    let list = admin(&db.url, &["workspace", "token", "list", "home"]).await;
    assert!(
        list.lines().nth(2).unwrap().contains("\trevoked "),
        "{list}"
    );

    for (args, says) in [
        (
            &["workspace", "token", "revoke", "0000000000"][..],
            "no join token",
        ),
        (
            &["workspace", "token", "create", "home", "--expires", "5x"],
            "not a duration",
        ),
        (
            &["workspace", "token", "create", "home", "--expires", "400d"],
            "1s to 365d",
        ),
        (
            &["workspace", "token", "create", "home", "--uses", "0"],
            "--uses",
        ),
        (&["workspace", "token", "list", "nowhere"], "no workspace"),
    ] {
        let (ok, _, stderr) = run(&db.url, args).await;
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn serve_says_once_that_tokens_without_limits_still_work() {
    let db = testing::fresh_database().await;
    admin(&db.url, &["workspace", "create", "home"]).await;
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // A token as a server before limits stored it.
    client
        .execute(
            "INSERT INTO join_tokens (hash, workspace_id)
             SELECT '\\x00ff'::bytea, id FROM workspaces",
            &[],
        )
        .await
        .unwrap();
    let mut server = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap()).lines();
    while let Some(line) = stdout.next_line().await.unwrap() {
        if line.starts_with("listening on ") {
            break;
        }
    }
    server.kill().await.unwrap();
    let mut stderr = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert_eq!(
        stderr.matches("from before token limits").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("workspace token revoke"), "{stderr}");
}

/// `serve` on port 0 with `extra` arguments: the process and the address it listens on.
async fn serve(url: &str, extra: &[&str]) -> (tokio::process::Child, String) {
    let mut server = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("DATABASE_URL", url)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server exited before listening");
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_owned();
        }
    };
    (server, addr)
}

#[tokio::test]
async fn serve_listens_and_is_ready() {
    let db = testing::fresh_database().await;
    let (mut server, addr) = serve(&db.url, &[]).await;

    let started = Instant::now();
    let (status, body) = loop {
        match get(&addr, "/healthz").await {
            Ok(answer) => break answer,
            Err(error) if started.elapsed() > Duration::from_secs(10) => {
                panic!("no answer from {addr}: {error}")
            }
            // Polling: the socket is bound before the line is printed, so this rarely loops.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&addr, "/readyz").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ready"), "{body}");
    server.kill().await.unwrap();
}

/// Reads until the server closes the connection; panics if it is still open at the deadline
/// (far past the one-second timeout under test: the server closes it after that second).
async fn assert_closed_by_server(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received));
    match read.await {
        Ok(_) => received,
        Err(_) => panic!("{what}: the server kept the connection open"),
    }
}

/// A client that trickles its headers, or connects and sends nothing, or keeps an idle
/// keep-alive connection, is cut off after the header timeout; a whole request is served.
#[tokio::test]
async fn slow_headers_and_idle_connections_are_timed_out() {
    let db = testing::fresh_database().await;
    let (mut server, addr) = serve(&db.url, &["--header-timeout", "1"]).await;

    let mut partial = TcpStream::connect(&addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    assert_closed_by_server(&mut partial, "partial headers").await;

    let mut silent = TcpStream::connect(&addr).await.unwrap();
    assert_closed_by_server(&mut silent, "a silent connection").await;

    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = assert_closed_by_server(&mut idle, "an idle keep-alive connection").await;
    let answered = String::from_utf8_lossy(&answered);
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    let (status, _) = get(&addr, "/healthz").await.unwrap();
    assert_eq!(status, 200);
    server.kill().await.unwrap();
}

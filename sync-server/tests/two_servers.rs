//! Two real server processes over one database: a push through one is announced on the
//! other's WebSockets (through Postgres LISTEN/NOTIFY).

#[path = "../src/testing.rs"]
mod testing;

use std::process::Stdio;
use std::time::Duration;

use flightdeck_types::sync::{Announcement, JoinResponse, PushResponse};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck-sync-server");
const DEADLINE: Duration = Duration::from_secs(15);

/// `serve --bind 127.0.0.1:0`; returns the process and the address it printed.
async fn serve(url: &str) -> (Child, String) {
    let mut server = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("DATABASE_URL", url)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(DEADLINE, async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server exited before listening");
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.to_owned();
            }
        }
    })
    .await
    .expect("the server did not start in time");
    (server, addr)
}

/// A bare HTTP/1.1 POST of JSON: status code and JSON body.
async fn post(addr: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.to_string();
    let auth = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap())
}

async fn join(addr: &str, join_token: &str, site: u8) -> JoinResponse {
    let body = json!({
        "join_token": join_token,
        "device_name": format!("device {site}"),
        "site_id": hex::encode([site; 16]),
    });
    let (status, body) = post(addr, "/v1/join", None, body).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next announced head, skipping control frames.
async fn next_head(socket: &mut Socket) -> i64 {
    let read = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str::<Announcement>(&text).unwrap().head;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected an announcement, got {other:?}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("no announcement before the deadline")
}

#[tokio::test]
async fn a_push_through_one_server_is_announced_by_the_other() {
    let db = testing::fresh_database().await;
    let created = Command::new(BIN)
        .args(["workspace", "create", "home", "--uses", "2"])
        .env("DATABASE_URL", &db.url)
        .output()
        .await
        .unwrap();
    assert!(created.status.success());
    let join_token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let (_first, first_addr) = serve(&db.url).await;
    let (_second, second_addr) = serve(&db.url).await;

    let listener = join(&first_addr, &join_token, 1).await;
    let writer = join(&second_addr, &join_token, 2).await;
    let url = format!("ws://{first_addr}/v1/ws?token={}", listener.device_token);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);

    for expected in 1..=3 {
        let change = json!({
            "table": "tasks", "pk": "01", "cid": "title",
            "val": {"type": "text", "value": format!("v{expected}")},
            "col_version": expected, "db_version": expected,
            "site_id": hex::encode([2u8; 16]), "cl": 1, "seq": 0,
        });
        let body = json!({ "changes": [change] });
        let (status, body) = post(&second_addr, "/v1/push", Some(&writer.device_token), body).await;
        assert_eq!(status, 200, "{body}");
        let pushed: PushResponse = serde_json::from_value(body).unwrap();
        assert_eq!(pushed.head, expected);
        assert_eq!(next_head(&mut socket).await, expected);
    }
}

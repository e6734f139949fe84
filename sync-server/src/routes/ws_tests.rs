//! `GET /v1/ws` over real TCP and a real Postgres. The socket's server has an announcer of its
//! own, separate from the one the pushes go through, so every announcement here travels
//! through NOTIFY and the LISTEN connection, as it would between two server processes.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flightdeck_types::sync::{Announcement, JoinResponse, MAX_ANNOUNCED_CELLS, PROTOCOL_HEADER};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::test_support::*;
use crate::app::{router, AppState};
use crate::db::workspaces;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any announcement may take before the test fails (it normally takes milliseconds).
const DEADLINE: Duration = Duration::from_secs(10);

/// Serves the API on 127.0.0.1:0 with its own announcer and LISTEN connection.
async fn serve_over_tcp(server: &TestServer) -> SocketAddr {
    let state = AppState::new(server.state.pool.clone());
    tokio::spawn(crate::announce::run_listener(
        server.url.parse().unwrap(),
        state.announcer.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    addr
}

async fn connect(addr: SocketAddr, token: &str) -> Result<Socket, tungstenite::Error> {
    let mut request = format!("ws://{addr}/v1/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
        .headers_mut()
        .insert(PROTOCOL_HEADER, "1".parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// The next announced head, skipping control frames.
async fn next_head(socket: &mut Socket) -> i64 {
    next_announcement(socket).await.head
}

/// The next announcement, skipping control frames.
async fn next_announcement(socket: &mut Socket) -> Announcement {
    let read = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str::<Announcement>(&text).unwrap();
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

/// The status and JSON error body of a refused upgrade.
fn refusal(error: tungstenite::Error) -> (u16, Value) {
    match error {
        tungstenite::Error::Http(response) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status().as_u16(),
                serde_json::from_slice(&body).unwrap(),
            )
        }
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn pushes_are_announced_to_the_workspace_and_only_to_it() {
    let (server, join_token) = server_with_workspace().await;
    let addr = serve_over_tcp(&server).await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let other_token = server.create_workspace("work").await;
    let stranger = server.join(&other_token, 3).await;

    server
        .push(&a.device_token, &[change(1, "01", "t", text("x"), 1, 1, 1)])
        .await;
    let mut socket_b = connect(addr, &b.device_token).await.unwrap();
    assert_eq!(
        next_head(&mut socket_b).await,
        1,
        "the current head at once"
    );
    let mut stranger_socket = connect(addr, &stranger.device_token).await.unwrap();
    assert_eq!(next_head(&mut stranger_socket).await, 0);

    server
        .push(&a.device_token, &[change(1, "01", "t", text("y"), 2, 2, 1)])
        .await;
    assert_eq!(next_head(&mut socket_b).await, 2);
    server
        .push(&a.device_token, &[change(1, "01", "t", text("z"), 3, 3, 1)])
        .await;
    assert_eq!(next_head(&mut socket_b).await, 3);

    // Had the stranger heard of heads 2 and 3, its own head 1 would never be announced (heads
    // only rise), so the next frame being 1 shows it heard nothing of the other workspace.
    server
        .push(
            &stranger.device_token,
            &[change(3, "09", "t", text("mine"), 1, 1, 1)],
        )
        .await;
    assert_eq!(next_head(&mut stranger_socket).await, 1);
}

/// Pushes through the process that serves the sockets are announced with their cells when
/// they are few: for new rows exactly the page a pull of that one sequence number returns.
#[tokio::test]
async fn a_small_push_is_announced_with_its_cells_and_a_large_one_by_its_head() {
    let (server, join_token) = server_with_workspace().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(server.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let mut socket = connect(addr, &b.device_token).await.unwrap();
    assert_eq!(next_announcement(&mut socket).await, Announcement::head(0));

    let small = [
        change(1, "01", "title", text("x"), 1, 1, 1),
        change(1, "01", "status", text("todo"), 1, 1, 1),
    ];
    server.push(&a.device_token, &small).await;
    let announced = next_announcement(&mut socket).await;
    let page = server.pull(&b.device_token, 0, 1000).await;
    assert_eq!((announced.head, announced.after), (1, Some(0)));
    assert_eq!(announced.changes.as_ref(), Some(&page.changes));
    assert_eq!(page.changes.len(), 2);

    let large: Vec<_> = (0..=MAX_ANNOUNCED_CELLS)
        .map(|i| change(1, &format!("{:02x}", i + 2), "title", text("y"), 1, 2, 1))
        .collect();
    server.push(&a.device_token, &large).await;
    assert_eq!(next_announcement(&mut socket).await, Announcement::head(2));

    // A row's later write: the announcement carries only the cell it changed, at its new
    // version; a pull of that sequence returns the whole row (the server keeps a row's cells
    // together), whose other cell a device at the announcement's `after` already holds.
    let update = [change(1, "01", "title", text("z"), 2, 3, 1)];
    server.push(&a.device_token, &update).await;
    let announced = next_announcement(&mut socket).await;
    let page = server.pull(&b.device_token, 2, 1000).await;
    assert_eq!((announced.head, announced.after), (3, Some(2)));
    let announced = announced.changes.unwrap();
    assert_eq!(announced.len(), 1);
    assert_eq!(
        (announced[0].cid.as_str(), announced[0].col_version),
        ("title", 2)
    );
    assert_eq!(page.changes.len(), 2);
    assert!(page.changes.contains(&announced[0]), "{:?}", page.changes);
    assert!(
        page.changes.iter().any(|c| c.cid == "status"),
        "{:?}",
        page.changes
    );
}

#[tokio::test]
async fn the_token_may_come_in_the_query_and_bad_ones_are_refused_before_upgrading() {
    let (server, join_token) = server_with_workspace().await;
    let addr = serve_over_tcp(&server).await;
    let a = server.join(&join_token, 1).await;

    let url = format!("ws://{addr}/v1/ws?token={}", a.device_token);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);

    let (status, body) = refusal(connect(addr, "fdd_nonsense").await.unwrap_err());
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");

    let url = format!("ws://{addr}/v1/ws");
    let (status, _) = refusal(tokio_tungstenite::connect_async(url).await.unwrap_err());
    assert_eq!(status, 401);

    let mut request = format!("ws://{addr}/v1/ws?token={}", a.device_token)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert(PROTOCOL_HEADER, "999".parse().unwrap());
    let (status, body) = refusal(tokio_tungstenite::connect_async(request).await.unwrap_err());
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "protocol_mismatch");

    let client = server.state.pool.get().await.unwrap();
    let device_id = a.device_id.parse().unwrap();
    assert!(workspaces::revoke_device(&**client, device_id)
        .await
        .unwrap());
    drop(client);
    let (status, body) = refusal(connect(addr, &a.device_token).await.unwrap_err());
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "device_revoked");
}

#[tokio::test]
async fn revoking_a_device_closes_its_open_socket_and_no_other() {
    let (server, (a, mut socket_a), mut b) = two_connected_devices().await;

    // Revoked as the admin command does, on another connection: the close travels through
    // NOTIFY to this server's LISTEN connection (waited for so that this test covers the
    // notification, not the listener's catch-up).
    wait_until_listening(&server).await;
    let client = server.state.pool.get().await.unwrap();
    assert!(
        workspaces::revoke_device(&**client, a.device_id.parse().unwrap())
            .await
            .unwrap()
    );
    drop(client);
    assert_revoked_close(&mut socket_a).await;

    assert_still_served(&server, &mut b).await;
}

/// A workspace served over TCP with two joined devices, each with a socket that has heard
/// the first head.
async fn two_connected_devices() -> (TestServer, Connected, Connected) {
    let (server, join_token) = server_with_workspace().await;
    let addr = serve_over_tcp(&server).await;
    let mut connected = Vec::new();
    for site_byte in [1, 2] {
        let device = server.join(&join_token, site_byte).await;
        let mut socket = connect(addr, &device.device_token).await.unwrap();
        assert_eq!(next_head(&mut socket).await, 0);
        connected.push((device, socket));
    }
    let b = connected.pop().unwrap();
    let a = connected.pop().unwrap();
    (server, a, b)
}

/// A joined device and its open socket.
type Connected = (JoinResponse, Socket);

/// Pushes through `device` and checks that its socket announces the new head.
async fn assert_still_served(server: &TestServer, (device, socket): &mut Connected) {
    server
        .push(
            &device.device_token,
            &[change(2, "01", "t", text("x"), 1, 1, 1)],
        )
        .await;
    assert_eq!(
        next_head(socket).await,
        1,
        "the other socket is still served"
    );
}

/// Waits for the server to close `socket` with the revoked-device code.
async fn assert_revoked_close(socket: &mut Socket) {
    let closed = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a close, got {other:?}"),
            }
        }
    };
    let frame = tokio::time::timeout(DEADLINE, closed)
        .await
        .expect("the revoked device's socket stayed open")
        .expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), super::ws::REVOKED_CLOSE_CODE);
}

#[tokio::test]
async fn a_plain_get_of_the_socket_is_a_json_426_and_closing_is_counted() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let request = Request::get("/v1/ws")
        .header("authorization", format!("Bearer {}", a.device_token))
        .body(Body::empty())
        .unwrap();
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
    assert_eq!(body["error"]["code"], "upgrade_required");

    let addr = {
        let state = server.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        addr
    };
    let sockets = || async { metric(&server.metrics().await, "flightdeck_sync_connected_sockets") };
    let mut socket = connect(addr, &a.device_token).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);
    assert_eq!(sockets().await, 1.0);
    socket.close(None).await.unwrap();
    // The server echoes the close; the socket then ends.
    while let Some(Ok(_)) = socket.next().await {}
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while sockets().await != 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the socket stayed counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The backend pids of this database's LISTEN connections.
async fn listener_pids(server: &TestServer) -> Vec<i32> {
    let client = server.state.pool.get().await.unwrap();
    client
        .query(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1",
            &[&crate::announce::LISTENER_APPLICATION_NAME],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Polls until this database's LISTEN connection has run its `LISTEN` (its last query is set
/// once it has; a connection that has not run one yet shows an empty query).
async fn wait_until_listening(server: &TestServer) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let client = server.state.pool.get().await.unwrap();
        let listening: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = $1
                   AND query <> '')",
                &[&crate::announce::LISTENER_APPLICATION_NAME],
            )
            .await
            .unwrap()
            .get(0);
        if listening {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no listener");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls until this database has exactly one LISTEN connection other than `old`.
async fn wait_for_listener(server: &TestServer, old: Option<i32>) -> i32 {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match listener_pids(server).await.as_slice() {
            [pid] if Some(*pid) != old => return *pid,
            _ => assert!(tokio::time::Instant::now() < deadline, "no new listener"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_listener_reconnects_and_catches_up_after_losing_its_connection() {
    let (server, join_token) = server_with_workspace().await;
    let addr = serve_over_tcp(&server).await;
    let a = server.join(&join_token, 1).await;
    let mut socket = connect(addr, &a.device_token).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);
    let first = wait_for_listener(&server, None).await;

    let client = server.state.pool.get().await.unwrap();
    client
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap();
    drop(client);
    // Pushed while the listener is (most likely) away: the catch-up after reconnecting reads it.
    server
        .push(&a.device_token, &[change(1, "01", "t", text("x"), 1, 1, 1)])
        .await;
    assert_eq!(next_head(&mut socket).await, 1);
    // And the new connection hears later pushes.
    wait_for_listener(&server, Some(first)).await;
    server
        .push(&a.device_token, &[change(1, "01", "t", text("y"), 2, 2, 1)])
        .await;
    assert_eq!(next_head(&mut socket).await, 2);
}

#[tokio::test]
async fn a_revocation_the_listener_missed_closes_the_socket_when_it_reconnects() {
    let (server, (a, mut socket_a), mut b) = two_connected_devices().await;
    let first = wait_for_listener(&server, None).await;

    // A revocation whose notification never reached this server (as when it was sent while
    // the listener was reconnecting): the row changes, no NOTIFY is sent.
    let client = server.state.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE devices SET revoked_at = now() WHERE id = $1",
            &[&a.device_id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    client
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap();
    drop(client);
    assert_revoked_close(&mut socket_a).await;

    wait_for_listener(&server, Some(first)).await;
    assert_still_served(&server, &mut b).await;
}

/// The next frame that is not a ping, pong or announcement; `None` when the connection ended.
async fn next_non_announcement(socket: &mut Socket) -> Option<Result<Message, tungstenite::Error>> {
    let read = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => continue,
                other => return other,
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("the server neither answered nor closed before the deadline")
}

#[tokio::test]
async fn a_client_close_is_echoed_and_data_from_a_client_closes_its_socket() {
    let (server, join_token) = server_with_workspace().await;
    let addr = serve_over_tcp(&server).await;
    let device = server.join(&join_token, 1).await;

    let mut socket = connect(addr, &device.device_token).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);
    socket.close(None).await.unwrap();
    match next_non_announcement(&mut socket).await {
        Some(Ok(Message::Close(_))) => {}
        other => panic!("expected the close echoed, got {other:?}"),
    }

    let mut socket = connect(addr, &device.device_token).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);
    futures_util::SinkExt::send(&mut socket, Message::Text("hello".into()))
        .await
        .unwrap();
    match next_non_announcement(&mut socket).await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), super::ws::POLICY_CLOSE_CODE)
        }
        other => panic!("expected a policy close, got {other:?}"),
    }
}

/// Unfinished continuation frames are not buffered past the small client limit: the socket
/// is closed once they pass it (before, 48 of 1 MiB each were held in server memory).
#[tokio::test]
async fn unfinished_continuation_frames_past_the_limit_close_the_socket() {
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    use tungstenite::protocol::frame::Frame;

    let (server, join_token) = server_with_workspace().await;
    let addr = serve_over_tcp(&server).await;
    let device = server.join(&join_token, 1).await;
    let mut socket = connect(addr, &device.device_token).await.unwrap();
    assert_eq!(next_head(&mut socket).await, 0);

    let chunk = vec![b'x'; 1024];
    let first = Frame::message(chunk.clone(), OpCode::Data(Data::Binary), false);
    futures_util::SinkExt::send(&mut socket, Message::Frame(first))
        .await
        .unwrap();
    // Eight more KiB, never finished; the server must give up before the last one is read.
    for _ in 0..8 {
        let more = Frame::message(chunk.clone(), OpCode::Data(Data::Continue), false);
        if futures_util::SinkExt::send(&mut socket, Message::Frame(more))
            .await
            .is_err()
        {
            break;
        }
    }
    match next_non_announcement(&mut socket).await {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {}
        other => panic!("expected the socket closed, got {other:?}"),
    }
}

//! The `/v1` API over a real Postgres (one fresh database per test), through `Router::oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use flightdeck_types::sync::{
    JoinResponse, PullResponse, PushResponse, WireChange, WireValue, PROTOCOL_HEADER,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::app::{router, AppState, MAX_BODY_BYTES};
use crate::db::{connect_and_migrate, workspaces};

struct TestServer {
    app: Router,
    state: AppState,
    url: String,
}

/// A migrated database with one workspace; returns the server and the join token.
async fn server_with_workspace() -> (TestServer, String) {
    let db = crate::testing::fresh_database().await;
    let state = AppState {
        pool: connect_and_migrate(&db.url).await.unwrap(),
    };
    let server = TestServer {
        app: router(state.clone()),
        state,
        url: db.url,
    };
    let join_token = server.create_workspace("home").await;
    (server, join_token)
}

fn site(byte: u8) -> String {
    hex::encode([byte; 16])
}

fn text(value: &str) -> WireValue {
    WireValue::Text(value.into())
}

#[allow(clippy::too_many_arguments)]
fn change(
    site_byte: u8,
    pk: &str,
    cid: &str,
    val: WireValue,
    col_version: i64,
    db_version: i64,
    cl: i64,
) -> WireChange {
    WireChange {
        table: "tasks".into(),
        pk: pk.into(),
        cid: cid.into(),
        val,
        col_version,
        db_version,
        site_id: site(site_byte),
        cl,
        seq: 0,
    }
}

impl TestServer {
    async fn create_workspace(&self, name: &str) -> String {
        let mut client = self.state.pool.get().await.unwrap();
        workspaces::create_workspace(&mut client, name)
            .await
            .unwrap()
            .1
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, body)
    }

    async fn post(
        &self,
        uri: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post(uri).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn join(&self, join_token: &str, site_byte: u8) -> JoinResponse {
        let body =
            json!({"join_token": join_token, "device_name": "laptop", "site_id": site(site_byte)});
        let (status, body) = self.post("/v1/join", None, body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn push_raw(&self, token: &str, changes: &[WireChange]) -> (StatusCode, Value) {
        let body = json!({ "changes": changes });
        self.post("/v1/push", Some(token), body.to_string()).await
    }

    async fn push(&self, token: &str, changes: &[WireChange]) -> PushResponse {
        let (status, body) = self.push_raw(token, changes).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn pull_raw(&self, token: &str, query: &str) -> (StatusCode, Value) {
        let request = Request::get(format!("/v1/pull?{query}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    async fn pull(&self, token: &str, after: i64, limit: i64) -> PullResponse {
        let (status, body) = self
            .pull_raw(token, &format!("after={after}&limit={limit}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// Everything a new device would receive, page by page.
    async fn bootstrap(&self, token: &str) -> Vec<WireChange> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.pull(token, after, 1000).await;
            all.extend(page.changes);
            after = page.next;
            if page.next >= page.head {
                return all;
            }
        }
    }
}

#[tokio::test]
async fn join_with_a_good_token_and_refuse_a_bad_one() {
    let (server, join_token) = server_with_workspace().await;
    let joined = server.join(&join_token, 1).await;
    assert_eq!(joined.workspace_name, "home");
    assert!(joined.device_token.starts_with("fdd_"));

    let body = json!({"join_token": "fdj_nope", "device_name": "x", "site_id": site(2)});
    let (status, body) = server.post("/v1/join", None, body.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");

    let body = json!({"join_token": join_token, "device_name": "x", "site_id": "abc"});
    let (status, _) = server.post("/v1/join", None, body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn push_then_pull_returns_the_cells_with_their_metadata() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let mut pushed = vec![
        change(1, "01", "-1", WireValue::Null, 1, 5, 1),
        change(1, "01", "title", text("milk"), 1, 5, 1),
        change(1, "01", "done", WireValue::Integer(0), 1, 5, 1),
        change(1, "01", "blob", WireValue::Blob("00ff".into()), 1, 6, 1),
        change(1, "01", "score", WireValue::Real(1.5), 1, 6, 1),
    ];
    for (seq, change) in pushed.iter_mut().enumerate() {
        change.seq = seq as i64 % 3;
    }
    let response = server.push(&a.device_token, &pushed).await;
    assert_eq!(response.acknowledged_db_version, 6);
    assert_eq!(response.seq, Some(1));
    assert_eq!(response.head, 1);

    let page = server.pull(&b.device_token, 0, 100).await;
    assert_eq!((page.next, page.head), (1, 1));
    assert_eq!(page.changes, pushed, "the original metadata, in push order");
    let empty = server.pull(&b.device_token, 1, 100).await;
    assert!(empty.changes.is_empty());
    assert_eq!(empty.next, 1);
}

#[tokio::test]
async fn pushing_the_same_batch_twice_changes_nothing() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let batch = vec![
        change(1, "01", "-1", WireValue::Null, 1, 1, 1),
        change(1, "01", "title", text("milk"), 1, 1, 1),
    ];
    assert_eq!(server.push(&a.device_token, &batch).await.seq, Some(1));
    let again = server.push(&a.device_token, &batch).await;
    assert_eq!(again.seq, None);
    assert_eq!(again.head, 1);
    assert_eq!(again.acknowledged_db_version, 1);
    assert_eq!(server.bootstrap(&a.device_token).await.len(), 2);
}

#[tokio::test]
async fn conflicts_resolve_by_col_version_then_value() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("m"), 2, 1, 1)],
        )
        .await;

    // A lower col_version loses, whatever the value.
    let lower = server
        .push(
            &b.device_token,
            &[change(2, "01", "title", text("z"), 1, 1, 1)],
        )
        .await;
    assert_eq!(lower.seq, None);
    // An equal col_version: the smaller value loses, the larger wins.
    let smaller = server
        .push(
            &b.device_token,
            &[change(2, "01", "title", text("a"), 2, 2, 1)],
        )
        .await;
    assert_eq!(smaller.seq, None);
    let larger = server
        .push(
            &b.device_token,
            &[change(2, "01", "title", text("n"), 2, 3, 1)],
        )
        .await;
    assert_eq!(larger.seq, Some(2));
    let cells = server.bootstrap(&a.device_token).await;
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0].val, text("n"));
    assert_eq!(
        (cells[0].site_id.clone(), cells[0].db_version),
        (site(2), 3)
    );

    // A higher col_version wins even with a smaller value.
    let higher = server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("a"), 3, 2, 1)],
        )
        .await;
    assert_eq!(higher.seq, Some(3));
    let cells = server.bootstrap(&b.device_token).await;
    assert_eq!(cells[0].val, text("a"));
    assert_eq!(cells[0].site_id, site(1));
}

#[tokio::test]
async fn a_delete_drops_the_cells_and_a_bootstrap_gets_the_sentinel_only() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    server
        .push(
            &a.device_token,
            &[
                change(1, "01", "-1", WireValue::Null, 1, 1, 1),
                change(1, "01", "title", text("milk"), 1, 1, 1),
                change(1, "02", "title", text("eggs"), 1, 1, 1),
            ],
        )
        .await;
    let delete = server
        .push(
            &a.device_token,
            &[change(1, "01", "-1", WireValue::Null, 2, 2, 2)],
        )
        .await;
    assert_eq!(delete.seq, Some(2));

    let late = server.join(&join_token, 3).await;
    let cells = server.bootstrap(&late.device_token).await;
    let row_01: Vec<_> = cells.iter().filter(|c| c.pk == "01").collect();
    assert_eq!(row_01.len(), 1);
    assert_eq!(
        (row_01[0].cid.as_str(), row_01[0].cl, row_01[0].db_version),
        ("-1", 2, 2)
    );
    assert!(cells.iter().any(|c| c.pk == "02"), "the other row stays");

    // An edit from before the delete cannot bring the row back.
    let stale = server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("x"), 9, 3, 1)],
        )
        .await;
    assert_eq!(stale.seq, None);
}

#[tokio::test]
async fn pages_never_split_a_sequence_number() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    // Pushes of 3, 1 and 2 cells: sequence numbers 1, 2, 3.
    let sizes = [3, 1, 2];
    for (push, size) in sizes.iter().enumerate() {
        let changes: Vec<_> = (0..*size)
            .map(|i| {
                change(
                    1,
                    &format!("{push:02x}{i:02x}"),
                    "title",
                    text("t"),
                    1,
                    push as i64 + 1,
                    1,
                )
            })
            .collect();
        server.push(&a.device_token, &changes).await;
    }
    // limit 2: the first page takes all of seq 1 (3 cells), never half of it.
    let first = server.pull(&a.device_token, 0, 2).await;
    assert_eq!((first.changes.len(), first.next, first.head), (3, 1, 3));
    // limit 2 from seq 1: seq 2 (1 cell) is short of 2, so seq 3 (2 cells) joins it.
    let second = server.pull(&a.device_token, 1, 2).await;
    assert_eq!((second.changes.len(), second.next), (3, 3));
    // limit 1 takes exactly one whole sequence at a time.
    let third = server.pull(&a.device_token, 1, 1).await;
    assert_eq!((third.changes.len(), third.next), (1, 2));
}

#[tokio::test]
async fn another_workspace_sees_nothing() {
    let (server, join_token) = server_with_workspace().await;
    let other_token = server.create_workspace("work").await;
    let a = server.join(&join_token, 1).await;
    let stranger = server.join(&other_token, 2).await;
    server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("secret"), 1, 1, 1)],
        )
        .await;
    let page = server.pull(&stranger.device_token, 0, 100).await;
    assert!(page.changes.is_empty());
    assert_eq!(page.head, 0);
    // The same row pushed into the other workspace is a row of its own.
    let theirs = server
        .push(
            &stranger.device_token,
            &[change(2, "01", "title", text("a"), 1, 1, 1)],
        )
        .await;
    assert_eq!(theirs.seq, Some(1));
    assert_eq!(
        server.bootstrap(&a.device_token).await[0].val,
        text("secret")
    );
}

#[tokio::test]
async fn unknown_and_revoked_devices_are_refused() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let (status, body) = server.pull_raw("fdd_wrong", "after=0").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let request = Request::get("/v1/pull").body(Body::empty()).unwrap();
    assert_eq!(server.send(request).await.0, StatusCode::UNAUTHORIZED);

    let client = server.state.pool.get().await.unwrap();
    assert!(
        workspaces::revoke_device(&**client, a.device_id.parse().unwrap())
            .await
            .unwrap()
    );
    let (status, body) = server.pull_raw(&a.device_token, "after=0").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "device_revoked");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    let (status, _) = server.push_raw(&a.device_token, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_pushes_get_json_4xx() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let token = Some(a.device_token.as_str());

    let (status, body) = server.post("/v1/push", token, "{\"changes\": [").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let (status, _) = server
        .post("/v1/push", token, "{\"changes\": [{\"table\": 1}]}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let oversized = vec![b' '; MAX_BODY_BYTES + 1];
    let (status, body) = server.post("/v1/push", token, oversized).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );

    let (status, body) = server
        .push_raw(
            &a.device_token,
            &[change(9, "01", "title", text("x"), 1, 1, 1)],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("site_id_mismatch"))
    );

    let unsorted = [
        change(1, "01", "a", text("x"), 1, 2, 1),
        change(1, "01", "b", text("x"), 1, 1, 1),
    ];
    let (status, body) = server.push_raw(&a.device_token, &unsorted).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let mut nul = change(1, "01", "title", text("x"), 1, 1, 1);
    nul.table = "a\0b".into();
    assert_eq!(
        server.push_raw(&a.device_token, &[nul]).await.0,
        StatusCode::BAD_REQUEST
    );

    for query in ["limit=0", "limit=100000", "after=-1", "after=x"] {
        let (status, body) = server.pull_raw(&a.device_token, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}

#[tokio::test]
async fn text_with_nul_and_every_value_type_round_trip() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let values = [
        WireValue::Null,
        WireValue::Integer(i64::MIN),
        WireValue::Real(-0.25),
        text("a\0b é"),
        WireValue::Blob(String::new()),
    ];
    let changes: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| change(1, "01", &format!("c{i}"), v.clone(), 1, 1, 1))
        .collect();
    server.push(&a.device_token, &changes).await;
    let pulled: Vec<_> = server
        .bootstrap(&a.device_token)
        .await
        .into_iter()
        .map(|c| c.val)
        .collect();
    assert_eq!(pulled, values);
}

#[tokio::test]
async fn a_protocol_mismatch_is_a_clear_400() {
    let (server, join_token) = server_with_workspace().await;
    let body = json!({"join_token": join_token, "device_name": "x", "site_id": site(1)});
    let request = Request::post("/v1/join")
        .header("content-type", "application/json")
        .header(PROTOCOL_HEADER, "999")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "protocol_mismatch");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("999") && message.contains('1'),
        "{message}"
    );
}

#[tokio::test]
async fn a_changing_push_is_announced_with_notify() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let (listener, mut connection) = tokio_postgres::connect(&server.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let tokio_postgres::AsyncMessage::Notification(note) = message {
                let _ = sender.send((note.channel().to_owned(), note.payload().to_owned()));
            }
        }
    });
    listener
        .batch_execute("LISTEN flightdeck_ws")
        .await
        .unwrap();

    let first = server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("x"), 1, 1, 1)],
        )
        .await;
    // A push that changes nothing is not announced: the next notification is the third push's.
    server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("x"), 1, 1, 1)],
        )
        .await;
    let third = server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("y"), 2, 2, 1)],
        )
        .await;

    let (workspace_id, _): (String, String) = {
        let client = server.state.pool.get().await.unwrap();
        let row = client
            .query_one("SELECT id::text, name FROM workspaces", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    for expected in [first.seq, third.seq] {
        let (channel, payload) = notifications.recv().await.unwrap();
        assert_eq!(channel, "flightdeck_ws");
        assert_eq!(payload, format!("{workspace_id}:{}", expected.unwrap()));
    }
}

//! The `/v1` API refusing what it must: other workspaces, bad tokens and payloads, protocol
//! mismatches; and the NOTIFY that a changing push sends.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flightdeck_types::sync::{WireValue, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::json;

use super::test_support::*;
use crate::app::MAX_BODY_BYTES;
use crate::db::workspaces;

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
    assert_eq!(
        message,
        format!(
            "protocol version mismatch: the client speaks sync protocol 999, this server \
             (flightdeck-sync-server {}) speaks {PROTOCOL_VERSION}; update the sync server to \
             the version this device's Flightdeck came with",
            env!("CARGO_PKG_VERSION")
        )
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

/// Every accepted cell fits the server's btree indexes: a cell with the longest table, column
/// and pk is stored and pulled back; one byte more of any is a 400 naming the field and the
/// limit (before the limits, Postgres refused such index rows and the push was a 500).
#[tokio::test]
async fn the_widest_accepted_cell_is_stored_and_wider_ones_are_400() {
    use crate::wire::{MAX_NAME_BYTES, MAX_PK_BYTES};
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;

    let mut widest = change(1, &"ab".repeat(MAX_PK_BYTES), "c", text("v"), 1, 1, 1);
    widest.table = "t".repeat(MAX_NAME_BYTES);
    widest.cid = "c".repeat(MAX_NAME_BYTES);
    let (status, body) = server.push_raw(&a.device_token, &[widest.clone()]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pulled = server.bootstrap(&a.device_token).await;
    assert_eq!(pulled.len(), 1);
    assert_eq!(
        (&pulled[0].table, &pulled[0].pk),
        (&widest.table, &widest.pk)
    );

    type Spoil = fn(&mut flightdeck_types::sync::WireChange);
    let cases: [(Spoil, &str); 9] = [
        (
            |c| c.pk = "ab".repeat(MAX_PK_BYTES + 1),
            "pk must be 1 to 2048 bytes",
        ),
        (
            |c| c.pk = "ab".repeat(1 << 20),
            "pk must be 1 to 2048 bytes",
        ),
        (|c| c.pk = String::new(), "pk must be"),
        (
            |c| c.table = "t".repeat(2048),
            "table must be 1 to 128 bytes",
        ),
        (|c| c.cid = "c".repeat(2048), "cid must be 1 to 128 bytes"),
        (|c| c.col_version = -1, "col_version must be 0 or more"),
        (|c| c.db_version = -5, "db_version must be 0 or more"),
        (|c| c.cl = -1, "cl must be 0 or more"),
        (|c| c.seq = -1, "seq must be 0 or more"),
    ];
    for (spoil, said) in cases {
        let mut bad = change(1, "01", "title", text("x"), 1, 2, 1);
        spoil(&mut bad);
        let (status, body) = server.push_raw(&a.device_token, &[bad]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{said}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{said}: {message}");
    }
    assert_eq!(
        server.bootstrap(&a.device_token).await.len(),
        1,
        "nothing else stored"
    );
}

/// A 5xx's log line carries Postgres' own reason, not tokio-postgres' bare "db error".
#[tokio::test]
async fn a_database_error_names_the_database_reason() {
    let (server, _) = server_with_workspace().await;
    let client = server.state.pool.get().await.unwrap();
    let error = client
        .execute("INSERT INTO workspaces (id, name) VALUES (NULL, 'x')", &[])
        .await
        .unwrap_err();
    let text = crate::db::DbError::from(error).to_string();
    assert!(text.contains("23502"), "{text}");
    assert!(text.contains("null value in column \"id\""), "{text}");
}

/// A pull cursor beyond the head (a device whose server was restored from an older backup)
/// is refused as `cursor_ahead` instead of answered with an empty page; and every answer,
/// errors too, carries the server epoch, which a replaced database changes.
#[tokio::test]
async fn a_cursor_ahead_of_the_head_is_refused_and_every_answer_carries_the_epoch() {
    use flightdeck_types::sync::EPOCH_HEADER;
    use tower::ServiceExt;

    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    server
        .push(
            &a.device_token,
            &[change(1, "01", "title", text("x"), 1, 1, 1)],
        )
        .await;
    let (status, body) = server.pull_raw(&a.device_token, "after=1006").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "cursor_ahead");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1006") && message.contains("head 1"),
        "{message}"
    );
    assert_eq!(server.pull(&a.device_token, 1, 10).await.changes.len(), 0);

    let epoch_of = |uri: &str| {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let app = server.app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            response.headers()[EPOCH_HEADER]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    let epoch = epoch_of("/healthz").await;
    assert_eq!(epoch.len(), 16, "{epoch}");
    assert_eq!(epoch_of("/v1/no-such-route").await, epoch);
    assert_eq!(epoch_of("/v1/pull").await, epoch, "a 401 too");

    // A database whose identity differs (a replaced server) has another epoch.
    let client = server.state.pool.get().await.unwrap();
    client
        .batch_execute("UPDATE server_identity SET id = gen_random_uuid()")
        .await
        .unwrap();
    let replaced = crate::db::epoch::current(&**client).await.unwrap();
    assert_ne!(replaced, epoch);
}

#[tokio::test]
async fn a_cell_stamped_beyond_the_clock_bound_is_refused_one_within_it_is_taken() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let clock = |ms: i64| ms << flightdeck_types::sync::CLOCK_LOGICAL_BITS;
    let now = crate::app::now_millis();
    let ahead = change(
        1,
        "01",
        "title",
        text("from the future"),
        clock(now + 3_600_000),
        1,
        1,
    );
    let (status, body) = server.push_raw(&a.device_token, &[ahead]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("clock_ahead")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tasks.title was written 1 h 0 min ahead")
            && message.contains("at most 5 min 0 s"),
        "{message}"
    );
    assert!(server.bootstrap(&a.device_token).await.is_empty());

    // A minute ahead is within the bound; a version counted the cr-sqlite way is no clock.
    let near = change(
        1,
        "01",
        "title",
        text("a minute ahead"),
        clock(now + 60_000),
        2,
        1,
    );
    server.push(&a.device_token, &[near]).await;
    let counted = change(1, "02", "title", text("counted"), 3, 3, 1);
    server.push(&a.device_token, &[counted]).await;
    assert_eq!(server.bootstrap(&a.device_token).await.len(), 2);
}

//! The `/v1` API over a real Postgres (one fresh database per test): join, push, pull, merge.

use axum::http::StatusCode;
use flightdeck_types::sync::WireValue;
use serde_json::json;

use super::test_support::*;

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

/// The server keeps a row's cells together: a pull returns every cell of each row changed
/// after its cursor, also the cells an earlier sequence wrote, so that paging by rows never
/// leaves a cell behind (a page cut between a row's two writes would otherwise lose the
/// first one).
#[tokio::test]
async fn a_pull_returns_the_whole_row_of_each_row_changed_after_the_cursor() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let pushes = [
        change(1, "01", "title", text("first"), 1, 1, 1),
        change(1, "02", "title", text("other"), 1, 2, 1),
        change(1, "01", "status", text("done"), 1, 3, 1),
    ];
    for push in &pushes {
        server
            .push(&a.device_token, std::slice::from_ref(push))
            .await;
    }
    // One sequence a page: row 01 changed last at 3, so the page of 1 leaves it for later
    // and the page of 3 has both its cells.
    let mut pulled = Vec::new();
    let mut cursor = 0;
    let mut pages = Vec::new();
    loop {
        let page = server.pull(&b.device_token, cursor, 1).await;
        if page.changes.is_empty() {
            break;
        }
        pages.push((page.next, page.changes.len()));
        pulled.extend(page.changes);
        cursor = page.next;
    }
    assert_eq!(pages, [(2, 1), (3, 2)]);
    let mut got: Vec<_> = pulled
        .iter()
        .map(|c| (c.pk.clone(), c.cid.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("01", "status"), ("01", "title"), ("02", "title")]
            .map(|(pk, cid)| (pk.to_string(), cid.to_string()))
    );
    // From the cursor after 02's push: row 01 whole, its first cell included.
    let later = server.pull(&b.device_token, 2, 100).await;
    let cells: Vec<_> = later.changes.iter().map(|c| c.cid.as_str()).collect();
    assert_eq!(cells, ["title", "status"], "in write order (db_version)");
}

#[tokio::test]
async fn metrics_count_pushes_pulls_cells_and_device_lag() {
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let before = server.metrics().await;
    assert_eq!(metric(&before, "flightdeck_sync_pushes_total"), 0.0);
    assert!(before.contains("# TYPE flightdeck_sync_connected_sockets gauge"));

    server
        .push(
            &a.device_token,
            &[
                change(1, "01", "title", text("x"), 1, 1, 1),
                change(1, "01", "notes", text("y"), 1, 1, 1),
            ],
        )
        .await;
    server
        .push(
            &a.device_token,
            &[change(1, "02", "title", text("z"), 1, 2, 1)],
        )
        .await;
    let page = server.pull(&b.device_token, 0, 1).await;
    assert_eq!((page.next, page.head), (1, 2));

    let after = server.metrics().await;
    assert_eq!(metric(&after, "flightdeck_sync_pushes_total"), 2.0);
    assert_eq!(metric(&after, "flightdeck_sync_cells_in_total"), 3.0);
    assert_eq!(metric(&after, "flightdeck_sync_pulls_total"), 1.0);
    assert_eq!(metric(&after, "flightdeck_sync_cells_out_total"), 2.0);
    // Labels in name order, as the exposition writes them.
    let labels = |device: &str| format!("{{device=\"{device}\",workspace=\"{}\"}}", a.workspace_id);
    // B pulled up to 1 of 2; A never pulled.
    assert_eq!(
        metric(
            &after,
            &format!("flightdeck_sync_device_lag{}", labels(&b.device_id))
        ),
        1.0
    );
    assert_eq!(
        metric(
            &after,
            &format!("flightdeck_sync_device_lag{}", labels(&a.device_id))
        ),
        2.0
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let seen = metric(
        &after,
        &format!(
            "flightdeck_sync_device_last_seen_seconds{}",
            labels(&b.device_id)
        ),
    );
    assert!((now - seen).abs() < 600.0, "{seen} vs {now}");

    // Every routed request is timed by method, route pattern and status: two pushes and a
    // pull answered 200; an unknown path adds no series.
    let timed = |exposition: &str, route: &str| -> f64 {
        exposition
            .lines()
            .filter(|l| l.starts_with("flightdeck_sync_request_duration_seconds_count{"))
            .filter(|l| l.contains(&format!("route=\"{route}\"")) && l.contains("status=\"200\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(timed(&after, "/v1/push"), 2.0, "{after}");
    assert_eq!(timed(&after, "/v1/pull"), 1.0, "{after}");
    assert!(after.contains("# TYPE flightdeck_sync_request_duration_seconds histogram"));
    assert!(after.contains("flightdeck_sync_request_duration_seconds_bucket{"));
    assert!(!after.contains("unmatched"), "{after}");
}

#[tokio::test]
async fn devices_are_listed_to_their_workspace_with_the_schema_version_they_sent() {
    use axum::body::Body;
    use axum::http::Request;
    use flightdeck_types::sync::{DevicesResponse, SCHEMA_HEADER};
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let other = server.create_workspace("elsewhere").await;
    server.join(&other, 3).await;
    let get = |token: &str, schema: Option<&str>| {
        let mut request =
            Request::get("/v1/devices").header("authorization", format!("Bearer {token}"));
        if let Some(schema) = schema {
            request = request.header(SCHEMA_HEADER, schema);
        }
        request.body(Body::empty()).unwrap()
    };
    let (status, _) = server.send(get(&a.device_token, Some("9"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server.send(get(&b.device_token, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: DevicesResponse = serde_json::from_value(body).unwrap();
    let found: Vec<(String, Option<i64>)> = listed
        .devices
        .iter()
        .map(|d| (d.site_id.clone(), d.schema_version))
        .collect();
    assert_eq!(found, vec![(site(1), Some(9)), (site(2), None)]);
    let (status, body) = server.send(get("fdd_nope", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_device_that_leaves_is_revoked_and_the_others_keep_syncing() {
    use axum::body::Body;
    use axum::http::Request;
    use flightdeck_types::sync::{DevicesResponse, LeaveResponse};
    let (server, join_token) = server_with_workspace().await;
    let a = server.join(&join_token, 1).await;
    let b = server.join(&join_token, 2).await;
    let request = |method: &str, path: &str, token: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = server
        .send(request("POST", "/v1/leave", &a.device_token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left: LeaveResponse = serde_json::from_value(body).unwrap();
    assert_eq!(left.device_id, a.device_id);

    // Its token no longer works, for anything, leaving again included.
    for (method, path) in [("GET", "/v1/devices"), ("POST", "/v1/leave")] {
        let (status, body) = server.send(request(method, path, &a.device_token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "device_revoked", "{body}");
    }
    // The other device still works and sees it revoked.
    let (status, body) = server
        .send(request("GET", "/v1/devices", &b.device_token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: DevicesResponse = serde_json::from_value(body).unwrap();
    let revoked: Vec<(String, bool)> = listed
        .devices
        .iter()
        .map(|d| (d.site_id.clone(), d.revoked))
        .collect();
    assert_eq!(revoked, vec![(site(1), true), (site(2), false)]);
}

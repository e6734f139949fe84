//! Join tokens with limits, through `POST /v1/join` on a real Postgres: one use and 24 hours by
//! default; an expired, used-up or revoked token is a 401 that says which; tokens from before
//! limits keep working until revoked.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::test_support::*;
use crate::db::join_tokens::{self, Revocation, TokenLimits};
use crate::db::workspaces;

/// A server with a workspace whose first token has `limits`; the server and the token.
async fn workspace_with(limits: TokenLimits) -> (TestServer, uuid::Uuid, String) {
    let (server, _) = server_with_workspace().await;
    let mut client = server.state.pool.get().await.unwrap();
    let (id, token) = workspaces::create_workspace(&mut client, "team", limits)
        .await
        .unwrap();
    (server, id, token.token)
}

async fn try_join(server: &TestServer, token: &str, site_byte: u8) -> (StatusCode, Value) {
    let body = json!({"join_token": token, "device_name": format!("d{site_byte}"), "site_id": site(site_byte)});
    server.post("/v1/join", None, body.to_string()).await
}

async fn device_count(server: &TestServer, workspace: uuid::Uuid) -> usize {
    let client = server.state.pool.get().await.unwrap();
    workspaces::list_devices(&**client, workspace)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_default_token_admits_one_device_then_says_it_is_used_up() {
    let (server, workspace, token) = workspace_with(TokenLimits::default()).await;
    let (status, body) = try_join(&server, &token, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = try_join(&server, &token, 2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "join_token_used_up", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("used up"), "{message}");
    assert!(message.contains("workspace token create"), "{message}");
    assert_eq!(device_count(&server, workspace).await, 1);

    let client = server.state.pool.get().await.unwrap();
    let listed = join_tokens::list(&**client, workspace).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].uses_left, Some(0));
    assert_eq!(listed[0].max_uses, Some(1));
    assert_eq!(listed[0].used_by, ["d1"]);
    assert_eq!(listed[0].status(), "used up");
    assert!(listed[0].expires_at.is_some());
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    let (server, workspace, token) = workspace_with(TokenLimits::default()).await;
    let client = server.state.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE join_tokens SET expires_at = now() - interval '1 minute' WHERE workspace_id = $1",
            &[&workspace],
        )
        .await
        .unwrap();
    let (status, body) = try_join(&server, &token, 1).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "join_token_expired", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired at"));
    assert_eq!(device_count(&server, workspace).await, 0);
    let listed = join_tokens::list(&**client, workspace).await.unwrap();
    assert_eq!(listed[0].status(), "expired");
    assert_eq!(listed[0].uses_left, Some(1), "a refused join uses nothing");
}

#[tokio::test]
async fn a_revoked_token_is_refused_as_revoked_and_unknown_ones_as_unknown() {
    let limits = TokenLimits {
        uses: 5,
        ..TokenLimits::default()
    };
    let (server, workspace, token) = workspace_with(limits).await;
    assert_eq!(try_join(&server, &token, 1).await.0, StatusCode::OK);
    let client = server.state.pool.get().await.unwrap();
    let listed = join_tokens::list(&**client, workspace).await.unwrap();
    // By the id the listing shows; then again by the token itself.
    let revoked = join_tokens::revoke(&**client, &listed[0].id).await.unwrap();
    assert_eq!(
        revoked,
        Revocation::Done {
            id: listed[0].id.clone()
        }
    );
    assert_eq!(
        join_tokens::revoke(&**client, &token).await.unwrap(),
        Revocation::WasRevoked {
            id: listed[0].id.clone()
        }
    );
    assert_eq!(
        join_tokens::revoke(&**client, "abc").await.unwrap(),
        Revocation::NoSuchToken,
        "too short to name one"
    );

    let (status, body) = try_join(&server, &token, 2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "join_token_revoked", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked at"));
    assert_eq!(device_count(&server, workspace).await, 1);

    let (status, body) = try_join(&server, "fdj_never_issued", 3).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown join token"));
}

#[tokio::test]
async fn concurrent_joins_never_take_more_uses_than_a_token_has() {
    let limits = TokenLimits {
        uses: 3,
        ..TokenLimits::default()
    };
    let (server, workspace, token) = workspace_with(limits).await;
    let server = Arc::new(server);
    let mut joins = Vec::new();
    for site_byte in 1..=12u8 {
        let (server, token) = (server.clone(), token.clone());
        joins.push(tokio::spawn(async move {
            try_join(&server, &token, site_byte).await
        }));
    }
    let mut admitted = 0;
    for join in joins {
        let (status, body) = join.await.unwrap();
        match status {
            StatusCode::OK => admitted += 1,
            StatusCode::UNAUTHORIZED => assert_eq!(body["error"]["code"], "join_token_used_up"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(admitted, 3);
    assert_eq!(device_count(&server, workspace).await, 3);
}

#[tokio::test]
async fn a_token_from_before_limits_keeps_working_until_revoked() {
    let (server, workspace, _) = workspace_with(TokenLimits::default()).await;
    let client = server.state.pool.get().await.unwrap();
    assert_eq!(join_tokens::unlimited_count(&**client).await.unwrap(), 0);
    // A row as the server before limits wrote it.
    let old_token = "fdj_from_an_older_server";
    client
        .execute(
            "INSERT INTO join_tokens (hash, workspace_id) VALUES ($1, $2)",
            &[&crate::tokens::hash(old_token), &workspace],
        )
        .await
        .unwrap();
    assert_eq!(join_tokens::unlimited_count(&**client).await.unwrap(), 1);
    for site_byte in 1..=3 {
        let (status, body) = try_join(&server, old_token, site_byte).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let listed = join_tokens::list(&**client, workspace).await.unwrap();
    let old = listed.iter().find(|t| t.max_uses.is_none()).unwrap();
    assert_eq!(old.status(), "active (no limits)");
    assert_eq!(old.used_by, ["d1", "d2", "d3"]);

    join_tokens::revoke(&**client, old_token).await.unwrap();
    assert_eq!(join_tokens::unlimited_count(&**client).await.unwrap(), 0);
    let (status, body) = try_join(&server, old_token, 4).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "join_token_revoked", "{body}");
}

#[tokio::test]
async fn a_join_names_the_devices_that_joined_with_the_same_token() {
    let limits = TokenLimits {
        uses: 3,
        ..TokenLimits::default()
    };
    let (server, workspace, token) = workspace_with(limits).await;
    let peers = |body: &Value| -> Vec<String> {
        body["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, first) = try_join(&server, &token, 1).await;
    assert_eq!(peers(&first), Vec::<String>::new());
    let (_, second) = try_join(&server, &token, 2).await;
    assert_eq!(peers(&second), ["d1"]);
    assert_eq!(second["peers"][0]["site_id"], site(1));

    // Another token of the workspace: not the same person's set.
    let client = server.state.pool.get().await.unwrap();
    let other = join_tokens::create(&**client, workspace, TokenLimits::default())
        .await
        .unwrap();
    let (_, stranger) = try_join(&server, &other.token, 9).await;
    assert_eq!(peers(&stranger), Vec::<String>::new());

    // A revoked peer is not offered.
    let d1 = first["device_id"].as_str().unwrap().parse().unwrap();
    workspaces::revoke_device(&**client, d1).await.unwrap();
    let (_, third) = try_join(&server, &token, 3).await;
    assert_eq!(peers(&third), ["d2"]);
}

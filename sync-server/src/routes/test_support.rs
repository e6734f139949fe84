//! What the API tests share: a router over a fresh Postgres database, driven through
//! `Router::oneshot`, and builders for wire changes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use flightdeck_types::sync::{JoinResponse, PullResponse, PushResponse, WireChange, WireValue};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::app::{router, AppState};
use crate::db::join_tokens::TokenLimits;
use crate::db::{connect_and_migrate, workspaces};

pub struct TestServer {
    pub app: Router,
    pub state: AppState,
    pub url: String,
}

/// A migrated database with one workspace; returns the server and the join token.
pub async fn server_with_workspace() -> (TestServer, String) {
    let db = crate::testing::fresh_database().await;
    let state = AppState::new(connect_and_migrate(&db.url).await.unwrap());
    let server = TestServer {
        app: router(state.clone()),
        state,
        url: db.url,
    };
    let join_token = server.create_workspace("home").await;
    (server, join_token)
}

/// A small seedable generator (xorshift64*), so that a failing random case can be replayed
/// from its seed. The seed must not be 0.
pub struct Random(pub u64);

impl Random {
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

pub fn site(byte: u8) -> String {
    hex::encode([byte; 16])
}

pub fn text(value: &str) -> WireValue {
    WireValue::Text(value.into())
}

#[allow(clippy::too_many_arguments)]
pub fn change(
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
    pub async fn create_workspace(&self, name: &str) -> String {
        let mut client = self.state.pool.get().await.unwrap();
        // One token for every device a test joins.
        let limits = TokenLimits {
            uses: 1000,
            ..TokenLimits::default()
        };
        workspaces::create_workspace(&mut client, name, limits)
            .await
            .unwrap()
            .1
            .token
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, body)
    }

    pub async fn post(
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

    pub async fn join(&self, join_token: &str, site_byte: u8) -> JoinResponse {
        let body =
            json!({"join_token": join_token, "device_name": "laptop", "site_id": site(site_byte)});
        let (status, body) = self.post("/v1/join", None, body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn push_raw(&self, token: &str, changes: &[WireChange]) -> (StatusCode, Value) {
        let body = json!({ "changes": changes });
        self.post("/v1/push", Some(token), body.to_string()).await
    }

    pub async fn push(&self, token: &str, changes: &[WireChange]) -> PushResponse {
        let (status, body) = self.push_raw(token, changes).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn pull_raw(&self, token: &str, query: &str) -> (StatusCode, Value) {
        let request = Request::get(format!("/v1/pull?{query}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn pull(&self, token: &str, after: i64, limit: i64) -> PullResponse {
        let (status, body) = self
            .pull_raw(token, &format!("after={after}&limit={limit}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// Everything a new device would receive, page by page.
    pub async fn bootstrap(&self, token: &str) -> Vec<WireChange> {
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

/// The value of one sample in a Prometheus text exposition: `name` is the metric name with its
/// labels exactly as exposed (e.g. `m{a="b"}`).
pub fn metric(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{exposition}"))
        .parse()
        .unwrap()
}

impl TestServer {
    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}

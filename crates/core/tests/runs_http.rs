//! The http executor through the real runner against a real local HTTP server, with recovery
//! retrying what fails.

#[path = "common/runner.rs"]
mod runner;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use flightdeck_core::{recovery, runs};
use flightdeck_types::{
    ErrorFilter, ExecutionFilter, ExecutionSpec, ExecutionStatus, HttpSpec, NewExecution,
    RecoveryStatus, RetryPolicy,
};
use runner::{until, Rig};

/// Serves `/ok`, `/flaky` (500 once, then 200), `/limited` (429, Retry-After: 1) and `/slow`.
fn serve(rig: &Rig) -> String {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route(
            "/flaky",
            get(move || {
                let calls = calls.clone();
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response()
                    } else {
                        "back".into_response()
                    }
                }
            }),
        )
        .route(
            "/limited",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    "later",
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                "late"
            }),
        );
    rig.serve(app)
}

fn http(url: String, timeout_secs: Option<u64>) -> ExecutionSpec {
    ExecutionSpec::Http(HttpSpec {
        url,
        timeout_secs,
        ..HttpSpec::default()
    })
}

#[test]
fn a_2xx_succeeds_with_status_and_body_recorded() {
    let rig = Rig::start();
    let base = serve(&rig);
    let run = rig.queue_spec(http(format!("{base}/ok"), None));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let result = run.result.unwrap();
    assert_eq!(result["status"], 200);
    assert_eq!(result["body"], "hello");
}

#[test]
fn a_500_is_retried_by_recovery_and_the_retry_succeeds() {
    let rig = Rig::start();
    let base = serve(&rig);
    // A short backoff so that the retry comes quickly.
    let first = rig.queue_new(NewExecution {
        spec: Some(http(format!("{base}/flaky"), None)),
        retry_policy: Some(RetryPolicy {
            base_delay_ms: 50,
            jitter: 0.0,
            ..RetryPolicy::default()
        }),
        ..NewExecution::default()
    });
    let first = rig.final_state(&first.id);
    assert_eq!(first.status, ExecutionStatus::Failed);
    assert_eq!(first.result.as_ref().unwrap()["status"], 500);
    let retry = until("the retry to succeed", || {
        runs::list(&rig.store, &ExecutionFilter::default())
            .unwrap()
            .into_iter()
            .find(|r| r.retry_of.as_deref() == Some(first.id.as_str()) && r.status.is_final())
    });
    assert_eq!(retry.status, ExecutionStatus::Succeeded);
    assert_eq!(retry.attempt, 2);
    let record = until("the error record to resolve", || {
        recovery::list(&rig.store, &ErrorFilter::default())
            .unwrap()
            .into_iter()
            .find(|r| r.recovery_status == RecoveryStatus::Resolved)
    });
    assert_eq!(record.execution_id.as_deref(), Some(retry.id.as_str()));
}

#[test]
fn a_429_with_retry_after_schedules_the_retry_then() {
    let rig = Rig::start();
    let base = serve(&rig);
    let run = rig.queue_spec(http(format!("{base}/limited"), None));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let at = run.result.as_ref().unwrap()["retry_after_at"]
        .as_i64()
        .expect("Retry-After is recorded");
    let finished = run.finished_at.unwrap().as_millis();
    assert!(
        (finished..=finished + 2_000).contains(&at),
        "{at} vs {finished}"
    );
    let retry = rig.retry_of(&run.id);
    assert_eq!(retry.not_before.unwrap().as_millis(), at);
}

#[test]
fn a_slow_server_times_out() {
    let rig = Rig::start();
    let base = serve(&rig);
    let run = rig.queue_spec(http(format!("{base}/slow"), Some(1)));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::TimedOut);
}

/// A response that echoes a secret in a header and its body (as an API that reflects a token
/// does) is stored masked, and the run's error too.
#[test]
fn secrets_in_a_response_are_masked_in_the_result() {
    use flightdeck_core::{environments, secrets::OsKeyring};
    use flightdeck_types::NewEnvironment;

    let rig = Rig::start();
    let secret = format!("tok-{}", uuid::Uuid::now_v7().simple());
    let echoed = secret.clone();
    let app = Router::new().route(
        "/echo",
        get(move || {
            let echoed = echoed.clone();
            async move {
                (
                    StatusCode::FORBIDDEN,
                    [("x-echo", format!("Bearer {echoed}"))],
                    format!("{{\"error\": \"token {echoed} is not allowed\"}}"),
                )
            }
        }),
    );
    let base = rig.serve(app);
    let env = environments::create(
        &rig.store,
        NewEnvironment {
            name: "api".into(),
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    let keyring = OsKeyring::from_env().unwrap();
    environments::set_secret(&rig.store, &keyring, "api", "API_TOKEN", &secret).unwrap();
    let run = rig.queue_new(NewExecution {
        environment_id: Some(env.id),
        spec: Some(http(format!("{base}/echo"), None)),
        ..NewExecution::default()
    });
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let result = run.result.expect("a result");
    assert_eq!(result["headers"]["x-echo"], "Bearer ***", "{result}");
    assert_eq!(result["body"], "{\"error\": \"token *** is not allowed\"}");
    let stored = std::fs::read(rig.store.path()).unwrap();
    let wal = std::fs::read(rig.store.path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [stored, wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in the store's files"
        );
    }
}

//! The agent_thread executor through the real runner against a real local agent service that
//! implements the thread API (`POST /api/threads/{id}/messages`, `GET /api/threads/{id}`,
//! `POST /api/threads/{id}/cancel`).

#[path = "common/runner.rs"]
mod runner;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flightdeck_core::runs;
use flightdeck_types::{AgentThreadSpec, ExecutionSpec, ExecutionStatus};
use runner::{until, Rig};
use serde_json::{json, Value};

/// What the service saw, per thread: the calls in order (`post <message>`, `get`, `cancel`).
#[derive(Default)]
struct Agent {
    calls: Mutex<HashMap<String, Vec<String>>>,
}

impl Agent {
    fn record(&self, thread: &str, call: String) -> Vec<String> {
        let mut calls = self.calls.lock().unwrap();
        let seen = calls.entry(thread.to_string()).or_default();
        seen.push(call);
        seen.clone()
    }

    fn calls(&self, thread: &str) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .get(thread)
            .cloned()
            .unwrap_or_default()
    }
}

fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

/// Threads behave by name:
/// - `quick`: the POST answers with the reply at once;
/// - `thinking`: the POST says running; GET says running twice, then idle with the reply as
///   the last assistant message;
/// - `flaky`: the POST fails with 503 twice, then answers with the reply;
/// - `broken`: the POST answers `failed` with an error;
/// - `missing`: the POST answers 404 (no retry);
/// - anything else: running forever (for cancel and timeout).
async fn post_message(
    State(agent): State<Arc<Agent>>,
    Path(thread): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let message = body["message"].as_str().unwrap_or_default().to_string();
    let calls = agent.record(
        &thread,
        format!("post {message} timeout={}", body["timeout"]),
    );
    match thread.as_str() {
        "quick" => Json(json!({"status": "completed", "reply": format!("echo: {message}")}))
            .into_response(),
        "flaky" if count(&calls, "post") <= 2 => {
            (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
        }
        "flaky" => Json(json!({"status": "completed", "reply": "made it"})).into_response(),
        "broken" => Json(json!({"status": "failed", "error": "the model refused"})).into_response(),
        "missing" => (StatusCode::NOT_FOUND, "no such thread").into_response(),
        _ => Json(json!({"status": "running"})).into_response(),
    }
}

async fn get_thread(State(agent): State<Arc<Agent>>, Path(thread): Path<String>) -> Json<Value> {
    let calls = agent.record(&thread, "get".into());
    if thread == "thinking" && count(&calls, "get") > 2 {
        return Json(json!({
            "status": "idle",
            "messages": [
                {"role": "user", "content": "think"},
                {"role": "assistant", "content": "thought it through"},
            ],
        }));
    }
    Json(json!({"status": "running"}))
}

async fn cancel_thread(State(agent): State<Arc<Agent>>, Path(thread): Path<String>) -> Json<Value> {
    agent.record(&thread, "cancel".into());
    Json(json!({"status": "cancelled"}))
}

fn serve(rig: &Rig) -> (String, Arc<Agent>) {
    let agent = Arc::new(Agent::default());
    let app = Router::new()
        .route("/api/threads/{id}/messages", post(post_message))
        .route("/api/threads/{id}", get(get_thread))
        .route("/api/threads/{id}/cancel", post(cancel_thread))
        .with_state(agent.clone());
    (rig.serve(app), agent)
}

fn thread(base: &str, id: &str, message: &str, timeout_secs: Option<u64>) -> ExecutionSpec {
    ExecutionSpec::AgentThread(AgentThreadSpec {
        base_url: Some(base.to_string()),
        thread_id: id.into(),
        message: message.into(),
        timeout_secs,
    })
}

fn agent_lines(rig: &Rig, id: &str) -> Vec<String> {
    runs::events(&rig.store, id, 0, 1_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "agent")
        .map(|e| e.data)
        .collect()
}

#[test]
fn an_immediate_reply_ends_the_run_with_the_message_and_timeout_sent() {
    let rig = Rig::start();
    let (base, agent) = serve(&rig);
    let run = rig.queue_spec(thread(&base, "quick", "fix the build", Some(42)));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(run.result.as_ref().unwrap()["reply"], "echo: fix the build");
    assert_eq!(agent_lines(&rig, &run.id), vec!["echo: fix the build"]);
    assert_eq!(agent.calls("quick"), vec!["post fix the build timeout=42"]);
}

#[test]
fn a_working_agent_is_polled_until_idle_and_its_last_assistant_message_is_the_reply() {
    let rig = Rig::start();
    let (base, agent) = serve(&rig);
    let run = rig.queue_spec(thread(&base, "thinking", "think", None));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(run.result.as_ref().unwrap()["reply"], "thought it through");
    let calls = agent.calls("thinking");
    assert_eq!(
        calls[0], "post think timeout=300",
        "the default timeout is sent"
    );
    assert_eq!(count(&calls, "get"), 3);
}

#[test]
fn server_errors_are_retried_with_backoff_and_a_4xx_is_not() {
    let rig = Rig::start();
    let (base, agent) = serve(&rig);
    let flaky = rig.queue_spec(thread(&base, "flaky", "again", None));
    let flaky = rig.final_state(&flaky.id);
    assert_eq!(
        flaky.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        flaky.error
    );
    assert_eq!(count(&agent.calls("flaky"), "post"), 3);

    let missing = rig.queue_spec(thread(&base, "missing", "hello", None));
    let missing = rig.final_state(&missing.id);
    assert_eq!(missing.status, ExecutionStatus::Failed);
    let error = missing.error.unwrap();
    assert!(error.contains("404"), "{error}");
    assert_eq!(count(&agent.calls("missing"), "post"), 1);
}

#[test]
fn an_agent_failure_fails_the_run_with_its_error() {
    let rig = Rig::start();
    let (base, _agent) = serve(&rig);
    let run = rig.queue_spec(thread(&base, "broken", "do it", None));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.unwrap();
    assert!(error.contains("the model refused"), "{error}");
}

#[test]
fn cancel_calls_the_cancel_endpoint() {
    let rig = Rig::start();
    let (base, agent) = serve(&rig);
    let run = rig.queue_spec(thread(&base, "forever-1", "wait", None));
    until("the agent to be polled", || {
        (count(&agent.calls("forever-1"), "get") > 0).then_some(())
    });
    runs::request_cancel(&rig.store, &run.id).unwrap();
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Cancelled);
    assert_eq!(agent.calls("forever-1").last().unwrap(), "cancel");
}

#[test]
fn a_timeout_ends_the_run_and_asks_the_agent_to_stop() {
    let rig = Rig::start();
    let (base, agent) = serve(&rig);
    let run = rig.queue_spec(thread(&base, "forever-2", "wait", Some(1)));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::TimedOut);
    let calls = agent.calls("forever-2");
    assert_eq!(calls[0], "post wait timeout=1");
    assert_eq!(calls.last().unwrap(), "cancel");
}

#[test]
fn an_unreachable_service_fails_after_the_retries() {
    let rig = Rig::start();
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = rig.queue_spec(thread(&format!("http://127.0.0.1:{port}"), "t", "hi", None));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.unwrap();
    assert!(error.contains("after 3 retries"), "{error}");
}

//! The agent_thread executor: sends a message to a thread of an agent service and waits for
//! the agent's reply.
//!
//! Protocol (the service's side):
//! - `POST {base}/api/threads/{id}/messages` with `{"message": .., "timeout": secs}`. The
//!   answer is JSON with a `status` and, when the agent already finished, a `reply`:
//!   `{"status":"completed","reply":".."}` ends the run; `{"status":"running"}` (or any
//!   answer without a reply) means "still working".
//! - While still working, `GET {base}/api/threads/{id}` is polled (every 250 ms) until its
//!   `status` is `idle` or `completed` (the reply is its `reply`, else the content of the last
//!   `messages` entry whose `role` is `assistant`), or `failed`/`error` (the run fails with
//!   its `error`).
//! - On cancel, and when the timeout passes, `POST {base}/api/threads/{id}/cancel` is sent
//!   (best effort) and the run ends `cancelled` or `timed_out`.
//! - Every call is retried 3 times with exponential backoff (200 ms, 400 ms, 800 ms) on
//!   connection errors and 5xx answers; a 4xx fails the run at once.

use std::time::Duration;

use flightdeck_types::{AgentThreadSpec, ExecutionStatus};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{CancelSignal, EventSink, Outcome};

pub const DEFAULT_BASE_URL: &str = "http://localhost:3001";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
const RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Engine-wide defaults; a spec's own values win.
#[derive(Debug, Clone)]
pub struct AgentDefaults {
    pub base_url: String,
    pub timeout: Duration,
}

impl Default for AgentDefaults {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

enum CallError {
    /// Worth no retry (4xx, bad JSON).
    Fatal(String),
    /// Connection errors and 5xx, after the retries ran out.
    Exhausted(String),
}

impl CallError {
    fn message(self) -> String {
        match self {
            Self::Fatal(m) | Self::Exhausted(m) => m,
        }
    }
}

/// One call with the retry rule above. `body` None means GET.
async fn call(
    client: &reqwest::Client,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, CallError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        let request = match body {
            Some(b) => client.post(url).json(b),
            None => client.get(url),
        };
        let failure = match request.send().await {
            Ok(r) if r.status().is_success() => {
                let text = r.text().await.unwrap_or_default();
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text)
                    .map_err(|e| CallError::Fatal(format!("{url} answered with bad JSON: {e}")));
            }
            Ok(r) if r.status().is_server_error() => {
                format!("{url} answered {}", r.status())
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                return Err(CallError::Fatal(format!("{url} answered {status}: {text}")));
            }
            Err(e) => format!("cannot reach {url}: {e}"),
        };
        if attempt >= RETRIES {
            return Err(CallError::Exhausted(format!(
                "{failure} (after {RETRIES} retries)"
            )));
        }
        attempt += 1;
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The reply in a thread state, if the thread is done with it.
fn finished_reply(state: &Value) -> Option<Result<String, String>> {
    match str_field(state, "status") {
        Some("failed" | "error") => Some(Err(str_field(state, "error")
            .unwrap_or("the agent reported a failure")
            .to_string())),
        Some("idle" | "completed" | "done") | None => {
            let reply = str_field(state, "reply").map(str::to_string).or_else(|| {
                state
                    .get("messages")?
                    .as_array()?
                    .iter()
                    .rev()
                    .find(|m| str_field(m, "role") == Some("assistant"))
                    .and_then(|m| str_field(m, "content"))
                    .map(str::to_string)
            });
            match (str_field(state, "status"), reply) {
                (_, Some(r)) => Some(Ok(r)),
                (Some(_), None) => Some(Ok(String::new())),
                (None, None) => None,
            }
        }
        Some(_) => None,
    }
}

pub async fn run(
    spec: &AgentThreadSpec,
    defaults: &AgentDefaults,
    sink: &EventSink,
    mut cancel: CancelSignal,
) -> Outcome {
    let base = spec
        .base_url
        .as_deref()
        .unwrap_or(&defaults.base_url)
        .trim_end_matches('/');
    let timeout = spec
        .timeout_secs
        .map(Duration::from_secs)
        .unwrap_or(defaults.timeout);
    let thread = format!("{base}/api/threads/{}", spec.thread_id);
    let client = match reqwest::Client::builder().use_rustls_tls().build() {
        Ok(c) => c,
        Err(e) => return Outcome::failed(format!("cannot build the HTTP client: {e}")),
    };
    let deadline = Instant::now() + timeout;
    let converse = async {
        let body = json!({ "message": spec.message, "timeout": timeout.as_secs() });
        let first = call(&client, &format!("{thread}/messages"), Some(&body)).await?;
        if let Some(done) = finished_reply_of_post(&first) {
            return Ok::<_, CallError>(done);
        }
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            let state = call(&client, &thread, None).await?;
            if let Some(done) = finished_reply(&state) {
                return Ok(done);
            }
        }
    };
    let ended = tokio::select! {
        r = tokio::time::timeout_at(deadline, converse) => r.ok(),
        _ = cancel.cancelled() => {
            let error = send_cancel(&client, &thread).await;
            return Outcome {
                status: ExecutionStatus::Cancelled,
                exit_code: None,
                result: error.map(|e| json!({ "cancel_error": e })),
                error: Some("cancelled; the agent was asked to stop".into()),
            };
        }
    };
    match ended {
        None => {
            let error = send_cancel(&client, &thread).await;
            Outcome {
                status: ExecutionStatus::TimedOut,
                exit_code: None,
                result: error.map(|e| json!({ "cancel_error": e })),
                error: Some(format!(
                    "no reply within {} s; the agent was asked to stop",
                    timeout.as_secs_f64()
                )),
            }
        }
        Some(Err(e)) => Outcome::failed(e.message()),
        Some(Ok(Err(agent_error))) => Outcome::failed(format!("the agent failed: {agent_error}")),
        Some(Ok(Ok(reply))) => {
            sink.push("agent", reply.clone());
            Outcome {
                status: ExecutionStatus::Succeeded,
                exit_code: None,
                result: Some(json!({ "thread_id": spec.thread_id, "reply": reply })),
                error: None,
            }
        }
    }
}

/// A POST answer ends the run only when it carries a reply or a failure.
fn finished_reply_of_post(answer: &Value) -> Option<Result<String, String>> {
    match str_field(answer, "status") {
        Some("failed" | "error") => finished_reply(answer),
        _ => str_field(answer, "reply").map(|r| Ok(r.to_string())),
    }
}

/// Asks the service to stop the thread; returns the error if it could not be told.
async fn send_cancel(client: &reqwest::Client, thread: &str) -> Option<String> {
    match call(client, &format!("{thread}/cancel"), Some(&json!({}))).await {
        Ok(_) => None,
        Err(e) => {
            let m = e.message();
            tracing::warn!(error = %m, "could not cancel the agent thread");
            Some(m)
        }
    }
}

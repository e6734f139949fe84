//! The http executor: one request through reqwest (rustls, certificates verified). 2xx is a
//! success; anything else fails, and 429/503 with `Retry-After` tell recovery when to retry.

use std::collections::BTreeMap;
use std::time::Duration;

use flightdeck_types::{ExecutionStatus, HttpSpec, Timestamp};
use serde_json::json;

use super::{CancelSignal, EventSink, Outcome};

/// Bytes of the response body kept in the result.
pub const BODY_CAP: usize = 64 * 1024;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(spec: &HttpSpec, sink: &EventSink, mut cancel: CancelSignal) -> Outcome {
    let method = spec.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return Outcome::failed(format!("invalid method: `{method}` is not an HTTP method"));
    };
    let timeout = spec
        .timeout_secs
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let client = match reqwest::Client::builder().use_rustls_tls().build() {
        Ok(c) => c,
        Err(e) => return Outcome::failed(format!("cannot build the HTTP client: {e}")),
    };
    let mut request = client.request(method.clone(), &spec.url);
    for (name, value) in &spec.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &spec.body {
        request = request.body(body.clone());
    }
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        let headers: BTreeMap<String, String> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        let (body, body_bytes) = capped_body(response).await?;
        Ok::<_, reqwest::Error>((status, headers, body, body_bytes))
    };
    let outcome = tokio::select! {
        r = tokio::time::timeout(timeout, exchange) => r,
        _ = cancel.cancelled() => {
            return Outcome {
                status: ExecutionStatus::Cancelled,
                exit_code: None,
                result: None,
                error: Some("cancelled before the response finished".into()),
            };
        }
    };
    let (status, headers, body, body_bytes) = match outcome {
        Err(_) => return timed_out(timeout),
        Ok(Err(e)) if e.is_timeout() => return timed_out(timeout),
        Ok(Err(e)) => {
            sink.push("http", format!("{method} {} -> error: {e}", spec.url));
            return Outcome::failed(format!("request to {} failed: {e}", spec.url));
        }
        Ok(Ok(r)) => r,
    };
    sink.push(
        "http",
        format!("{method} {} -> {}", spec.url, status.as_u16()),
    );
    let mut result = json!({
        "status": status.as_u16(),
        "headers": headers,
        "body": body,
        "body_bytes": body_bytes,
        "body_truncated": body_bytes > BODY_CAP as u64,
    });
    if matches!(status.as_u16(), 429 | 503) {
        if let Some(at) = headers
            .get("retry-after")
            .and_then(|v| parse_retry_after_header(v, crate::clock::now()))
        {
            result["retry_after_at"] = json!(at);
        }
    }
    if status.is_success() {
        Outcome {
            status: ExecutionStatus::Succeeded,
            exit_code: None,
            result: Some(result),
            error: None,
        }
    } else {
        Outcome {
            status: ExecutionStatus::Failed,
            exit_code: None,
            result: Some(result),
            error: Some(format!("{} answered {status}", spec.url)),
        }
    }
}

fn timed_out(timeout: Duration) -> Outcome {
    Outcome {
        status: ExecutionStatus::TimedOut,
        exit_code: None,
        result: None,
        error: Some(format!(
            "no full response within {} s",
            timeout.as_secs_f64()
        )),
    }
}

/// Reads the body, keeping the first [`BODY_CAP`] bytes and counting the rest.
async fn capped_body(mut response: reqwest::Response) -> Result<(String, u64), reqwest::Error> {
    let mut kept = Vec::new();
    let mut total = 0u64;
    while let Some(chunk) = response.chunk().await? {
        total += chunk.len() as u64;
        let room = BODY_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok((String::from_utf8_lossy(&kept).into_owned(), total))
}

/// `Retry-After`: delay seconds or an HTTP date. Unix ms.
pub fn parse_retry_after_header(value: &str, now: Timestamp) -> Option<i64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(now.as_millis() + secs as i64 * 1000);
    }
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|t| t.timestamp_millis())
}

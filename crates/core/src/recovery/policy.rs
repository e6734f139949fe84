//! How bad a failure is, and when to try again.

use flightdeck_types::{Execution, ExecutionSpec, ExecutionStatus, RetryPolicy, Severity};
use rand::Rng;

/// The severity of a failed run:
/// - high: the run was interrupted (its process died) or timed out; an HTTP 429 or 5xx; an
///   HTTP or agent call that never got an answer; anything carrying a "retry after" time
///   (a usage limit); any failed agent-thread run;
/// - medium: a shell command that exited non-zero; an HTTP 4xx other than 429;
/// - low: never chosen automatically (a person may record one).
///
/// A policy with `retry_on_failure` (a workflow step's `retry:`) makes every failure high.
///
/// Only high and critical failures retry on their own: a non-zero exit is usually a real
/// failure that running again will not fix.
pub fn classify(run: &Execution) -> Severity {
    let result = run.result.as_ref();
    if matches!(
        run.status,
        ExecutionStatus::Interrupted | ExecutionStatus::TimedOut
    ) || retry_after_at(run).is_some()
    {
        return Severity::High;
    }
    if run.retry_policy.retry_on_failure && run.status == ExecutionStatus::Failed {
        return Severity::High;
    }
    match &run.spec {
        ExecutionSpec::Http(_) => match result
            .and_then(|r| r.get("status"))
            .and_then(|s| s.as_u64())
        {
            Some(429) => Severity::High,
            Some(status) if status >= 500 => Severity::High,
            Some(_) => Severity::Medium,
            None => Severity::High,
        },
        ExecutionSpec::AgentThread(_) => Severity::High,
        ExecutionSpec::Shell(_) | ExecutionSpec::Workflow(_) => Severity::Medium,
    }
}

/// The "retry after" time (unix ms) an executor found: an HTTP Retry-After header, or an
/// agent's usage-limit reset read from its output.
pub fn retry_after_at(run: &Execution) -> Option<i64> {
    run.result.as_ref()?.get("retry_after_at")?.as_i64()
}

/// The wait before attempt `attempt + 1`: `base * factor^(attempt - 1)`, capped at
/// `max_delay_ms`, scaled by a random factor in `[1 - jitter, 1 + jitter]` (the cap applies
/// before the jitter, so retries of many runs that all hit the cap still spread out).
pub fn backoff_ms(policy: &RetryPolicy, attempt: u32, rng: &mut impl Rng) -> u64 {
    let exponent = attempt.saturating_sub(1).min(64) as i32;
    let raw = policy.base_delay_ms as f64 * policy.factor.max(1.0).powi(exponent);
    let capped = raw.min(policy.max_delay_ms as f64);
    let jitter = policy.jitter.clamp(0.0, 1.0);
    let scale = if jitter > 0.0 {
        rng.random_range(1.0 - jitter..=1.0 + jitter)
    } else {
        1.0
    };
    (capped * scale).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: f64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay_ms: 1_000,
            factor: 2.0,
            max_delay_ms: 5_000,
            jitter,
            retry_after_pattern: None,
            retry_on_failure: false,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_without_jitter() {
        let mut rng = rand::rng();
        let delays: Vec<u64> = (1..=5)
            .map(|a| backoff_ms(&policy(0.0), a, &mut rng))
            .collect();
        assert_eq!(delays, vec![1_000, 2_000, 4_000, 5_000, 5_000]);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let mut rng = rand::rng();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let d = backoff_ms(&policy(0.2), 2, &mut rng);
            assert!((1_600..=2_400).contains(&d), "{d} outside 2000 ± 20%");
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter should spread the delays: {seen:?}");
    }
}

//! The values a source writes, read as Flightdeck's: statuses and priorities (mapped, its
//! own, or the usual others), times, and the maps people give for the rest.

use std::collections::HashMap;

use flightdeck_types::{Priority, TaskStatus, Timestamp};

use crate::error::{CoreError, Result};

/// `(VALUE, NAME)` pairs checked: each NAME one of `T`'s, the keys folded for matching.
pub(super) fn value_map<T>(flag: &str, pairs: &[(String, String)]) -> Result<HashMap<String, T>>
where
    T: std::str::FromStr<Err = String>,
{
    pairs
        .iter()
        .map(|(value, name)| {
            name.trim()
                .to_ascii_lowercase()
                .parse::<T>()
                .map(|t| (fold(value), t))
                .map_err(|e| {
                    CoreError::invalid(
                        flag.trim_start_matches('-'),
                        format!("{flag} {value}={name}: {e}"),
                    )
                })
        })
        .collect()
}

/// A value as it is matched: lower case, runs of anything but letters and digits as one `_`.
pub(super) fn fold(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// A source's status: mapped, Flightdeck's own, or one the tools people move from use.
pub(super) fn status_of(text: &str, map: &HashMap<String, TaskStatus>) -> Option<TaskStatus> {
    let key = fold(text);
    if let Some(s) = map.get(&key) {
        return Some(*s);
    }
    Some(match key.as_str() {
        "todo" | "to_do" | "open" | "new" | "backlog" | "triage" | "unstarted" => TaskStatus::Todo,
        "in_progress" | "doing" | "started" | "active" | "wip" | "in_review" | "review" => {
            TaskStatus::InProgress
        }
        "blocked" | "on_hold" | "waiting" => TaskStatus::Blocked,
        "done" | "closed" | "completed" | "complete" | "resolved" | "fixed" => TaskStatus::Done,
        "cancelled" | "canceled" | "wontfix" | "won_t_fix" | "won_t_do" | "duplicate"
        | "rejected" | "not_planned" => TaskStatus::Cancelled,
        _ => return None,
    })
}

/// A source's priority: mapped, Flightdeck's own, or a common spelling (P0..P4, critical...).
pub(super) fn priority_of(text: &str, map: &HashMap<String, Priority>) -> Option<Priority> {
    let key = fold(text);
    if let Some(p) = map.get(&key) {
        return Some(*p);
    }
    let bare = ["priority_", "prio_", "pri_", "severity_", "sev_"]
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .unwrap_or(&key);
    let bare = bare.strip_suffix("_priority").unwrap_or(bare);
    Some(match bare {
        "urgent" | "critical" | "highest" | "blocker" | "p0" => Priority::Urgent,
        "high" | "important" | "major" | "p1" => Priority::High,
        "medium" | "normal" | "moderate" | "p2" => Priority::Medium,
        "low" | "lowest" | "minor" | "trivial" | "p3" | "p4" => Priority::Low,
        _ => return None,
    })
}

pub(super) fn unknown(
    what: &str,
    text: &str,
    flag: &str,
    known: &[impl std::fmt::Display],
) -> String {
    let known: Vec<String> = known.iter().map(ToString::to_string).collect();
    format!(
        "`{text}` is not a {what} here ({}); map it with {flag} '{text}={}'",
        known.join(", "),
        known[0]
    )
}

/// A time as files write them: RFC 3339, or a date with an optional time of day (UTC).
pub(super) fn parse_time(text: &str) -> std::result::Result<Timestamp, String> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(at) = Timestamp::parse_rfc3339(text) {
        return Ok(at);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Timestamp::from_millis(at.and_utc().timestamp_millis()));
        }
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => Ok(Timestamp::from_millis(
            day.and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .timestamp_millis(),
        )),
        Err(_) => Err(format!(
            "`{text}` is not a time; write 2026-12-06, 2026-12-06 09:30 or 2026-12-06T09:30:00Z"
        )),
    }
}

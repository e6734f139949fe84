//! The top failure reasons: failed runs grouped by their message with what varies from run to
//! run masked.

use std::collections::HashMap;

use flightdeck_types::{FailedRun, FailureReason, InsightsQuery, Timestamp, FAILURE_RUNS_LISTED};

use super::check_window;
use crate::error::Result;
use crate::store::insights as sql;
use crate::store::Store;

/// The window's failed runs (failed, timed out, interrupted) grouped by their message with
/// numbers, paths and ids masked; most frequent first, then the latest; each with its runs.
pub fn failures(store: &Store, q: &InsightsQuery, limit: usize) -> Result<Vec<FailureReason>> {
    check_window(q)?;
    let rows = store.read(|c| sql::failed_runs(c, q.since, q.until))?;
    let mut by_reason: HashMap<String, FailureReason> = HashMap::new();
    for (id, error, at) in rows {
        let error = match error.trim() {
            "" => "(no message)".to_string(),
            e => e.to_string(),
        };
        let reason = normalise(&error);
        let entry = by_reason
            .entry(reason.clone())
            .or_insert_with(|| FailureReason {
                reason,
                count: 0,
                example_run: id.clone(),
                example_error: error.clone(),
                last_at: Timestamp::from_millis(at),
                runs: Vec::new(),
            });
        entry.count += 1;
        entry.runs.push(FailedRun {
            id,
            error,
            at: Timestamp::from_millis(at),
        });
    }
    let mut reasons: Vec<FailureReason> = by_reason
        .into_values()
        .map(|mut r| {
            // Latest first (ties by id, so the order is the same every time).
            r.runs
                .sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
            r.runs.truncate(FAILURE_RUNS_LISTED);
            let latest = &r.runs[0];
            r.example_run = latest.id.clone();
            r.example_error = latest.error.clone();
            r.last_at = latest.at;
            r
        })
        .collect();
    reasons.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_at.cmp(&a.last_at)));
    reasons.truncate(limit);
    Ok(reasons)
}

/// An error message with what varies from run to run masked: paths (`/a/b`, `./x`, `C:\y`)
/// as `<path>`, ids (UUIDs, long hex) as `<id>`, other numbers as `<n>`. The first line
/// only (a stack trace's first line says what went wrong), at most 200 characters.
pub fn normalise(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let mut out = Vec::new();
    for word in line.split_whitespace() {
        let core = word.trim_matches(|c: char| "\"'`()[]{},;:".contains(c));
        let masked = if core.contains('/') || core.contains('\\') {
            Some("<path>")
        } else if is_id(core) {
            Some("<id>")
        } else {
            None
        };
        match masked {
            Some(mask) if !core.is_empty() => out.push(word.replacen(core, mask, 1)),
            _ => out.push(mask_numbers(word)),
        }
    }
    let text = out.join(" ");
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// A UUID, or a run of 8 or more hex digits with a digit in it (a hash, a site id).
fn is_id(word: &str) -> bool {
    let hex: String = word.chars().filter(|c| *c != '-').collect();
    hex.len() >= 8
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && hex.chars().any(|c| c.is_ascii_digit())
}

/// Each run of digits (with `.` or `,` between digits, as in 1.5 or 10,000) as `<n>`.
fn mask_numbers(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (matches!(chars[i], '.' | ',')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        out.push_str("<n>");
    }
    out
}

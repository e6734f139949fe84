//! `flightdeck restore (ID | --all) --to TIME [--dry-run]`

use flightdeck_core::restore::{self, RestoreAction, RestoreReport, Scope};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::Timestamp;

use crate::args::RestoreArgs;
use crate::output::{table, Output};

pub fn run(store: &Store, args: &RestoreArgs, out: &Output) -> Result<(), CoreError> {
    let to = instant(&args.to, flightdeck_core::clock::now())?;
    let scope = match &args.id {
        Some(id) => Scope::Entity(id),
        None => Scope::Workspace,
    };
    let report = restore::restore(store, scope, to, args.dry_run)?;
    out.print(&report, || render(&report));
    Ok(())
}

/// RFC 3339, or a time before `now`: `90s`, `30m`, `2h`, `1d` (an `ago` after it is fine).
pub fn instant(text: &str, now: Timestamp) -> Result<Timestamp, CoreError> {
    if let Ok(at) = Timestamp::parse_rfc3339(text) {
        return Ok(at);
    }
    let t = text.trim();
    let t = t.strip_suffix("ago").unwrap_or(t).trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: Option<f64> = number.trim().parse().ok().filter(|v: &f64| *v >= 0.0);
    let unit_ms = match unit {
        "s" => Some(1_000.0),
        "m" => Some(60_000.0),
        "h" => Some(3_600_000.0),
        "d" => Some(86_400_000.0),
        _ => None,
    };
    match (value, unit_ms) {
        (Some(v), Some(ms)) => Ok(Timestamp(now.as_millis() - (v * ms).round() as i64)),
        _ => Err(CoreError::invalid(
            "to",
            format!(
                "`{text}` is not a time: give RFC 3339 (2026-12-06T09:10:00Z, or with an \
                 offset such as +01:00) or a time ago such as 90s, 30m, 2h or 1d"
            ),
        )),
    }
}

fn render(r: &RestoreReport) -> String {
    let head = match (r.changes.len(), r.dry_run) {
        (0, _) => return format!("nothing to restore: everything is as it was at {}", r.to),
        (n, true) => format!(
            "dry run: restoring to {} would change {n} row(s); nothing was written",
            r.to
        ),
        (n, false) => format!("restored {n} row(s) to {}", r.to),
    };
    let rows: Vec<Vec<String>> = r
        .changes
        .iter()
        .map(|c| {
            let what = match c.action {
                RestoreAction::Revert => "revert",
                RestoreAction::Delete => "delete (created since)",
                RestoreAction::Recreate => "recreate (deleted since)",
            };
            let fields = match c.action {
                RestoreAction::Revert => c
                    .changes
                    .iter()
                    .map(|(f, v)| format!("{f}: {} -> {}", v.old, v.new))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => c
                    .changes
                    .get("title")
                    .or_else(|| c.changes.get("name"))
                    .map(|t| match c.action {
                        RestoreAction::Delete => t.old.to_string(),
                        _ => t.new.to_string(),
                    })
                    .unwrap_or_default(),
            };
            vec![c.entity.to_string(), c.id.clone(), what.to_string(), fields]
        })
        .collect();
    format!(
        "{head}\n{}",
        table(&["ENTITY", "ID", "ACTION", "CHANGES"], &rows)
    )
}

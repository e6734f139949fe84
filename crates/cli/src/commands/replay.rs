//! `flightdeck replay RUN [--at TIME | --step N]` and `flightdeck compare A B`

use flightdeck_core::replay::{self, Instant};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::{ReplayMark, ReplayState, RunComparison, Timestamp};

use crate::args::ReplayArgs;
use crate::output::Output;

pub fn run(store: &Store, args: &ReplayArgs, out: &Output) -> Result<(), CoreError> {
    let instant = match (&args.at, args.step) {
        (_, Some(n)) => Instant::Mark(n),
        (Some(text), None) => match text.strip_prefix('+') {
            Some(offset) => {
                // After the run's first mark.
                let first = replay::at(store, &args.run, Instant::Mark(0), 0)?.at;
                Instant::At(Timestamp(first.as_millis() + offset_ms(offset)?))
            }
            None => Instant::At(Timestamp::parse_rfc3339(text).map_err(|e| {
                CoreError::invalid(
                    "at",
                    format!(
                        "`{text}` is not a time: {e} (give RFC 3339 such as \
                         2026-12-06T09:10:00Z, or +1.5s after the run's start)"
                    ),
                )
            })?),
        },
        (None, None) if args.next.is_some() => Instant::Mark(0),
        (None, None) => Instant::At(flightdeck_core::clock::now()),
    };
    let instant = match (&args.next, &args.previous) {
        (Some(kind), _) | (None, Some(kind)) => {
            let from = replay::at(store, &args.run, instant, 0)?.at;
            let backward = args.previous.is_some();
            match replay::event_instant(store, &args.run, from, kind, backward)? {
                Some(at) => Instant::At(at),
                None => {
                    return Err(CoreError::NotFound {
                        kind: "event",
                        key: format!(
                            "`{kind}` {} {from} in run {}",
                            if backward { "before" } else { "after" },
                            args.run
                        ),
                    })
                }
            }
        }
        (None, None) => instant,
    };
    let state = replay::at(store, &args.run, instant, args.lines)?;
    out.print(&state, || render(&state));
    Ok(())
}

/// `1.5s`, `250ms`, `2m`, `3` (seconds) as milliseconds.
fn offset_ms(text: &str) -> Result<i64, CoreError> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let value: f64 = number.trim().parse().map_err(|_| bad_offset(text))?;
    let ms = match unit {
        "ms" => value,
        "" | "s" => value * 1000.0,
        "m" => value * 60_000.0,
        "h" => value * 3_600_000.0,
        _ => return Err(bad_offset(text)),
    };
    Ok(ms.round() as i64)
}

fn bad_offset(text: &str) -> CoreError {
    CoreError::invalid(
        "at",
        format!("`+{text}` is not an offset; give it like +1.5s, +250ms or +2m"),
    )
}

fn mark_text(m: &ReplayMark) -> String {
    format!(
        "#{} {}{} at {}",
        m.seq,
        m.label,
        m.step_id
            .as_deref()
            .map(|s| format!(" `{s}`"))
            .unwrap_or_default(),
        m.at
    )
}

fn render(s: &ReplayState) -> String {
    let mut lines = vec![
        format!("{} {} ({}) at {}", s.kind, s.run_id, s.what, s.at),
        format!(
            "status:    {} ({} its timeline)",
            s.status,
            match s.position.as_str() {
                "before" => "before",
                "after" => "at the end of",
                _ => "during",
            }
        ),
    ];
    if s.pruned {
        lines.push(
            "history:   pruned by the retention setting (`runs settings --keep-history`); \
             only the run's end is known"
                .to_string(),
        );
    }
    match &s.mark {
        Some(m) => lines.push(format!("mark:      {} of {}", mark_text(m), s.marks)),
        None => lines.push(format!("mark:      none yet (the run has {})", s.marks)),
    }
    if let Some(p) = &s.previous {
        lines.push(format!("previous:  {}", mark_text(p)));
    }
    if let Some(n) = &s.next {
        lines.push(format!("next:      {}", mark_text(n)));
    }
    if !s.steps.is_empty() {
        lines.push("steps:".into());
        let width = s.steps.iter().map(|st| st.id.len()).max().unwrap_or(0);
        for st in &s.steps {
            let mut line = format!("  {:width$}  {}", st.id, st.status);
            if st.attempt > 1 {
                line.push_str(&format!(" (attempt {})", st.attempt));
            }
            if !st.outputs.values.is_empty() {
                let values: Vec<String> = st
                    .outputs
                    .values
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                line.push_str(&format!("  {}", values.join(" ")));
            }
            if let Some(e) = &st.error {
                line.push_str(&format!("  ({e})"));
            }
            lines.push(line);
        }
    }
    if s.log.is_empty() {
        lines.push("log:       nothing recorded by then".into());
    } else {
        lines.push(if s.log_before > 0 {
            format!("log (the last {}, {} before):", s.log.len(), s.log_before)
        } else {
            "log:".to_string()
        });
        for l in &s.log {
            match &l.step {
                Some(step) => lines.push(format!("  [{step}] {}", l.data)),
                None => lines.push(format!("  {}", l.data)),
            }
        }
    }
    lines.join("\n")
}

pub fn compare(store: &Store, a: &str, b: &str, out: &Output) -> Result<(), CoreError> {
    let c = flightdeck_core::compare::compare(store, a, b)?;
    out.print(&c, || render_comparison(&c));
    Ok(())
}

fn ops(diff: &[serde_json::Value]) -> String {
    diff.iter()
        .map(|op| {
            let path = op["path"].as_str().unwrap_or_default();
            match op["op"].as_str().unwrap_or_default() {
                "remove" => format!("-{path}"),
                "add" => format!("+{path} = {}", op["value"]),
                _ => format!("~{path} = {}", op["value"]),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_comparison(c: &RunComparison) -> String {
    let mut lines = vec![format!(
        "A: {} ({})\nB: {} ({})",
        c.a, c.what_a, c.b, c.what_b
    )];
    lines.push(match (&c.first_divergence, &c.divergence) {
        (Some(step), Some(why)) => format!("the runs diverge at step `{step}`: {why}"),
        _ => "the runs do not diverge: every step matches".to_string(),
    });
    if !c.spec_diff.is_empty() {
        lines.push(format!("parameters/spec: {}", ops(&c.spec_diff)));
    }
    if !c.environment_diff.is_empty() {
        lines.push(format!("environment: {}", c.environment_diff.join(" ")));
    }
    let ms = |v: Option<i64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
    let width = c.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for s in &c.steps {
        let status = match (s.status_a, s.status_b) {
            (Some(x), Some(y)) if x == y => x.to_string(),
            (x, y) => format!(
                "{} -> {}",
                x.map_or("-".into(), |v| v.to_string()),
                y.map_or("-".into(), |v| v.to_string())
            ),
        };
        let delta = s
            .delta_ms
            .map(|d| format!(" ({d:+} ms)"))
            .unwrap_or_default();
        lines.push(format!(
            "{:width$}  {:8} {status}  {} -> {}{delta}",
            s.id,
            s.change,
            ms(s.duration_a_ms),
            ms(s.duration_b_ms)
        ));
        if !s.inputs_diff.is_empty() {
            lines.push(format!("    inputs: {}", ops(&s.inputs_diff)));
        }
        if !s.outputs_diff.is_empty() {
            lines.push(format!("    outputs: {}", ops(&s.outputs_diff)));
        }
        if let Some(n) = s.log_first_difference {
            lines.push(format!("    log: differs from line {n}"));
            lines.extend(s.log_diff.lines().map(|l| format!("      {l}")));
        }
    }
    lines.join("\n")
}

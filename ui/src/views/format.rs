//! How times, durations, run statuses and run specs read on screen.

use flightdeck_types::{Execution, ExecutionSpec, ExecutionStatus, Timestamp};
use wasm_bindgen::JsValue;

/// A time in the person's own time zone, e.g. `2026-12-01 09:00:00`.
pub fn local_time(t: Timestamp) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(t.as_millis() as f64));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// A time in the person's own time zone with its weekday, to the minute, e.g.
/// `Mon 2026-12-07 09:00`: a fire time on the wrong weekday shows at a glance.
pub fn local_time_with_weekday(t: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let d = js_sys::Date::new(&JsValue::from_f64(t.as_millis() as f64));
    format!(
        "{} {:04}-{:02}-{:02} {:02}:{:02}",
        DAYS[d.get_day() as usize % 7],
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 10 min`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{} h {} min", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// How long a run took, or has been running (`None` before it started).
pub fn run_duration(run: &Execution) -> Option<String> {
    let start = run.started_at?;
    let end = run
        .finished_at
        .map(Timestamp::as_millis)
        .unwrap_or_else(|| js_sys::Date::now() as i64);
    Some(duration(end - start.as_millis()))
}

pub fn status_label(status: ExecutionStatus) -> String {
    status.as_str().replace('_', " ")
}

/// `status run-<status>`: the badge class of a run status.
pub fn status_class(status: ExecutionStatus) -> String {
    format!("status run-{}", status.as_str())
}

/// One line saying what a run runs.
pub fn spec_summary(spec: &ExecutionSpec) -> String {
    match spec {
        ExecutionSpec::Shell(shell) => shell
            .line
            .clone()
            .or_else(|| shell.argv.as_ref().map(|argv| argv.join(" ")))
            .unwrap_or_default(),
        ExecutionSpec::Http(http) => {
            format!("{} {}", http.method.as_deref().unwrap_or("GET"), http.url)
        }
        ExecutionSpec::AgentThread(agent) => format!("agent thread {}", agent.thread_id),
        ExecutionSpec::Workflow(wf) => format!("workflow {}", wf.workflow),
    }
}

/// The first `n` characters of `text`, with an ellipsis when it was longer.
pub fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut out: String = text.chars().take(n).collect();
    out.push('…');
    out
}

/// A size as people read it: `512 B`, `1.4 KiB`, `2.0 MiB`, `1.1 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `text` as a sentence: a capital first letter and a full stop.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The time of day of `t` in local time, to the millisecond (`09:30:05.123`): a log line's.
pub fn local_clock(t: Timestamp) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.as_millis() as f64));
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        date.get_milliseconds()
    )
}

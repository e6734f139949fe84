//! Printing results: JSON (stable, one document per command) or text for people.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use flightdeck_core::CoreError;
use serde::Serialize;

/// Set once stdout's reader went away (`flightdeck ... | head`): later output is dropped and
/// the command ends quietly instead of panicking on the broken pipe.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to stdout. A closed pipe is not an error of the command: it
/// marks stdout closed and the rest of the output is dropped.
pub fn write_stdout_line(text: &str) {
    if stdout_closed() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() == ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        } else {
            eprintln!("error: could not write to stdout: {e}");
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether stdout's reader has gone (see [`write_stdout_line`]); a `--follow` loop stops then.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON when asked for, else the text `human` renders.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            write_stdout_line(
                &serde_json::to_string_pretty(value).expect("results always serialize"),
            );
        } else {
            let text = human();
            if !text.is_empty() {
                write_stdout_line(text.trim_end());
            }
        }
    }

    /// One JSON Lines record on stdout (compact, one line): what streaming commands print.
    pub fn line<T: Serialize>(&self, value: &T) {
        write_stdout_line(&serde_json::to_string(value).expect("results always serialize"));
    }

    /// One line on stderr: `error: ...`, or with --json `{"error":{code,message,field}}`.
    pub fn error(&self, e: &CoreError) {
        if self.json {
            let body = serde_json::json!({
                "error": { "code": e.code(), "message": e.to_string(), "field": e.field() }
            });
            eprintln!("{body}");
        } else {
            let message = e.to_string().replace('\n', " ");
            eprintln!("error: {message}");
        }
    }
}

/// Left-aligned columns, widths from the content; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_string()
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}

/// Cuts `text` to `max` characters, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

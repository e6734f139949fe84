//! Desktop notifications: the one door for telling the person something happened while they
//! look elsewhere (escalated errors, finished runs, sync conflicts). A desktop without a
//! notification service only loses the notification, never the app.

use std::collections::HashSet;

use flightdeck_core::{recovery, tasks, Store};
use flightdeck_types::{AppNotice, Execution, ExecutionSpec, ExecutionStatus, Timestamp};
use tauri::{AppHandle, Emitter};
use tauri_plugin_notification::NotificationExt;

/// The UI's event for the same news: shown there as a toast.
pub const NOTICE_EVENT: &str = "notice";

pub fn notify(app: &AppHandle, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, title, "could not show a notification");
    }
    let notice = AppNotice {
        title: title.to_string(),
        body: body.to_string(),
    };
    if let Err(e) = app.emit(NOTICE_EVENT, &notice) {
        tracing::warn!(error = %e, "could not emit a notice");
    }
}

/// What has been notified already, so that each run end and each escalation is told once.
pub struct Alerts {
    /// Runs that ended before the app started are not news.
    started: Timestamp,
    /// Escalations are looked up by their change time, from here on.
    errors_checked: Timestamp,
    /// Slow-run alerts by the time they were made, from here on.
    slow_checked: Timestamp,
    runs: HashSet<String>,
    errors: HashSet<String>,
}

impl Alerts {
    /// Nothing told yet; what happened before now is not news.
    pub fn from_now() -> Alerts {
        let now = flightdeck_core::clock::now();
        Alerts {
            started: now,
            errors_checked: now,
            slow_checked: now,
            runs: HashSet::new(),
            errors: HashSet::new(),
        }
    }

    /// A run's row changed in this process: tell once when it has ended.
    pub fn run_changed(&mut self, app: &AppHandle, store: &Store, run: &Execution) {
        let ended_now = run.status.is_final() && run.finished_at.is_some_and(|t| t >= self.started);
        if !ended_now || !self.runs.insert(run.id.clone()) {
            return;
        }
        let title = match run.status {
            ExecutionStatus::Succeeded => "Run succeeded".to_string(),
            ExecutionStatus::Failed => match run.exit_code {
                Some(code) => format!("Run failed (exit code {code})"),
                None => "Run failed".to_string(),
            },
            ExecutionStatus::TimedOut => "Run timed out".to_string(),
            ExecutionStatus::Cancelled => "Run cancelled".to_string(),
            other => format!("Run {}", other.as_str().replace('_', " ")),
        };
        notify(app, &title, &what_ran(store, run));
    }

    /// Error records changed: tell about each newly escalated one, and each new slow run.
    pub fn errors_changed(&mut self, app: &AppHandle, store: &Store) {
        match recovery::slow_since(store, self.slow_checked) {
            Ok(records) => {
                for record in records {
                    self.slow_checked = self.slow_checked.max(record.created_at);
                    if self.errors.insert(record.id.clone()) {
                        notify(app, "A run is slow", &record.message);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read slow-run alerts"),
        }
        let escalated = match recovery::escalated_since(store, self.errors_checked) {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(error = %e, "could not read escalated errors");
                return;
            }
        };
        for record in escalated {
            self.errors_checked = self.errors_checked.max(record.updated_at);
            if self.errors.insert(record.id.clone()) {
                notify(app, "Error escalated: someone must look", &record.message);
            }
        }
    }
}

/// The run's task title, else what it ran.
fn what_ran(store: &Store, run: &Execution) -> String {
    if let Some(task) = run
        .task_id
        .as_deref()
        .and_then(|id| tasks::get(store, id).ok())
    {
        return task.title;
    }
    match &run.spec {
        ExecutionSpec::Shell(shell) => shell
            .line
            .clone()
            .or_else(|| shell.argv.as_ref().map(|argv| argv.join(" ")))
            .unwrap_or_default(),
        ExecutionSpec::Http(http) => http.url.clone(),
        ExecutionSpec::AgentThread(agent) => format!("agent thread {}", agent.thread_id),
        ExecutionSpec::Workflow(wf) => format!("workflow {}", wf.workflow),
    }
}

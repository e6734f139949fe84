//! `flightdeck errors ...`

use flightdeck_core::{recovery, CoreError, Store};
use flightdeck_types::{ErrorFilter, ErrorRecord};

use crate::args::ErrorsCommand;
use crate::output::{clip, table, Output};

pub fn run(store: &Store, cmd: &ErrorsCommand, out: &Output) -> Result<(), CoreError> {
    let record = match cmd {
        ErrorsCommand::List {
            status,
            severity,
            task,
            kind,
        } => {
            let found = recovery::list(
                store,
                &ErrorFilter {
                    status: *status,
                    severity: *severity,
                    task_id: task.clone(),
                    kind: *kind,
                    limit: None,
                },
            )?;
            out.print(&found, || render_list(&found));
            return Ok(());
        }
        ErrorsCommand::Show { id } => recovery::get(store, id)?,
        ErrorsCommand::Retry { id } => recovery::retry(store, id)?,
        ErrorsCommand::Resolve { id } => recovery::resolve(store, id)?,
        ErrorsCommand::Ignore { id } => recovery::ignore(store, id)?,
        ErrorsCommand::Escalate { id } => recovery::escalate(store, id)?,
    };
    out.print(&record, || render_one(&record));
    Ok(())
}

fn render_list(found: &[ErrorRecord]) -> String {
    if found.is_empty() {
        return "no errors recorded".into();
    }
    let rows = found
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.kind.to_string(),
                r.severity.to_string(),
                r.recovery_status.to_string(),
                format!("{}/{}", r.attempts, r.max_attempts),
                clip(&r.message, 60),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &["ID", "KIND", "SEVERITY", "STATUS", "TRIES", "MESSAGE"],
        &rows,
    )
}

fn render_one(r: &ErrorRecord) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    [
        format!("id:         {}", r.id),
        format!("kind:       {}", r.kind),
        format!("severity:   {}", r.severity),
        format!("status:     {}", r.recovery_status),
        format!("message:    {}", r.message),
        format!("attempts:   {} of {}", r.attempts, r.max_attempts),
        format!(
            "next retry: {}",
            opt(r.next_retry_at.map(|t| t.to_rfc3339()))
        ),
        format!("run:        {}", opt(r.execution_id.clone())),
        format!("task:       {}", opt(r.task_id.clone())),
        format!("schedule:   {}", opt(r.schedule_id.clone())),
        format!(
            "details:    {}",
            serde_json::to_string_pretty(&r.details).expect("JSON always serializes")
        ),
    ]
    .join("\n")
}

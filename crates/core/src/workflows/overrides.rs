//! A fork's edited inputs (`fork --input FIELD=TEXT`): which fields of a step may be edited,
//! and putting an edited text in place of the definition's.

use flightdeck_types::{StepAction, StepDefinition};
use serde_json::Value;

/// The fields of `step` a fork may edit (`--input FIELD=TEXT`).
pub fn editable_fields(step: &StepDefinition) -> Vec<String> {
    let mut fields: Vec<String> = match &step.action {
        StepAction::Shell { .. } => vec!["shell".into()],
        StepAction::Agent { .. } => vec!["agent".into()],
        StepAction::Http { .. } => vec![
            "http.url".into(),
            "http.method".into(),
            "http.body".into(),
            "http.headers.NAME".into(),
        ],
        StepAction::AgentThread { .. } => vec![
            "agent_thread.message".into(),
            "agent_thread.thread_id".into(),
        ],
        StepAction::Workflow { .. } => vec!["workflow.params.NAME".into()],
        StepAction::Approval { .. } => vec!["message".into()],
    };
    fields.extend(["env.NAME".to_string(), "working_dir".to_string()]);
    fields
}

/// Puts `text` in `step`'s field `field` (as [`editable_fields`] names them); false when the
/// step has no such field.
pub fn override_field(step: &mut StepDefinition, field: &str, text: &str) -> bool {
    let text = text.to_string();
    if let Some(name) = field.strip_prefix("env.") {
        step.env.insert(name.to_string(), text);
        return true;
    }
    if field == "working_dir" {
        step.working_dir = Some(text);
        return true;
    }
    match (&mut step.action, field) {
        (StepAction::Shell { line }, "shell") => *line = text,
        (StepAction::Agent { prompt }, "agent") => *prompt = text,
        (StepAction::Http { url, .. }, "http.url") => *url = text,
        (StepAction::Http { method, .. }, "http.method") => *method = Some(text),
        (StepAction::Http { body, .. }, "http.body") => *body = Some(text),
        (StepAction::Http { headers, .. }, f) if f.starts_with("http.headers.") => {
            headers.insert(f["http.headers.".len()..].to_string(), text);
        }
        (StepAction::AgentThread { message, .. }, "agent_thread.message") => *message = text,
        (StepAction::AgentThread { thread_id, .. }, "agent_thread.thread_id") => *thread_id = text,
        (StepAction::Workflow { params, .. }, f) if f.starts_with("workflow.params.") => {
            params.insert(
                f["workflow.params.".len()..].to_string(),
                Value::String(text),
            );
        }
        (StepAction::Approval { message, .. }, "message") => *message = Some(text),
        _ => return false,
    }
    true
}

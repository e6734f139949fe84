//! A definition back as the file a person writes: `shell: LINE`, `http: {...}`, `kind:
//! approval`, `timeout: SECS`, so that what `workflow show` prints, `workflow apply` takes
//! unchanged (the stored JSON names the executor with a tag instead, which no file uses).

use flightdeck_types::{StepAction, StepDefinition, WorkflowDefinition};
use serde_json::{json, Map, Value};

/// `def` in the file's shape; `parse` of its YAML or JSON gives `def` back.
pub fn to_file(def: &WorkflowDefinition) -> Value {
    let mut top = Map::new();
    top.insert("name".into(), json!(def.name));
    if let Some(d) = &def.description {
        top.insert("description".into(), json!(d));
    }
    if !def.params.is_empty() {
        top.insert("params".into(), json!(def.params));
    }
    top.insert("concurrency".into(), json!(def.concurrency));
    if let Some(env) = &def.environment {
        top.insert("environment".into(), json!(env));
    }
    if let Some(secs) = def.timeout_secs {
        top.insert("timeout".into(), json!(secs));
    }
    top.insert(
        "steps".into(),
        Value::Array(def.steps.iter().map(step_to_file).collect()),
    );
    Value::Object(top)
}

fn step_to_file(step: &StepDefinition) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(step.id));
    let mut put = |key: &str, value: Value| {
        m.insert(key.into(), value);
    };
    if let Some(name) = &step.name {
        put("name", json!(name));
    }
    if !step.needs.is_empty() {
        put("needs", json!(step.needs));
    }
    if let Some(when) = &step.when {
        put("when", json!(when));
    }
    if let Some(run_if) = step.run_if {
        put("if", json!(run_if));
    }
    match &step.action {
        StepAction::Shell { line } => put("shell", json!(line)),
        StepAction::Http {
            method,
            url,
            headers,
            body,
        } => {
            let mut h = Map::new();
            h.insert("url".into(), json!(url));
            if let Some(method) = method {
                h.insert("method".into(), json!(method));
            }
            if !headers.is_empty() {
                h.insert("headers".into(), json!(headers));
            }
            if let Some(body) = body {
                h.insert("body".into(), json!(body));
            }
            put("http", Value::Object(h));
        }
        StepAction::AgentThread {
            base_url,
            thread_id,
            message,
        } => {
            let mut a = Map::new();
            if let Some(base_url) = base_url {
                a.insert("base_url".into(), json!(base_url));
            }
            a.insert("thread_id".into(), json!(thread_id));
            a.insert("message".into(), json!(message));
            put("agent_thread", Value::Object(a));
        }
        StepAction::Agent { prompt } => put("agent", json!(prompt)),
        StepAction::Workflow { workflow, params } if params.is_empty() => {
            put("workflow", json!(workflow))
        }
        StepAction::Workflow { workflow, params } => {
            put("workflow", json!({ "name": workflow, "params": params }))
        }
        StepAction::Approval {
            message,
            on_timeout,
        } => {
            put("kind", json!("approval"));
            if let Some(message) = message {
                put("message", json!(message));
            }
            if let Some(decision) = on_timeout {
                put("on_timeout", json!(decision));
            }
        }
    }
    if let Some(retry) = &step.retry {
        let mut policy = serde_json::to_value(retry).expect("policies serialize");
        if let Some(p) = policy.as_object_mut() {
            // Implied by `retry` itself; the file does not say it.
            p.remove("retry_on_failure");
        }
        put("retry", policy);
    }
    if let Some(secs) = step.timeout_secs {
        put("timeout", json!(secs));
    }
    if let Some(secs) = step.expected_secs {
        put("expected", json!(secs));
    }
    if step.continue_on_failure {
        put("continue_on_failure", json!(true));
    }
    if !step.env.is_empty() {
        put("env", json!(step.env));
    }
    if let Some(dir) = &step.working_dir {
        put("working_dir", json!(dir));
    }
    if let Some(isolation) = step.isolation {
        put("isolation", json!(isolation));
    }
    if let Some(foreach) = &step.foreach {
        put("foreach", foreach.clone());
    }
    if !step.outputs.is_empty() {
        put("outputs", json!(step.outputs));
    }
    Value::Object(m)
}

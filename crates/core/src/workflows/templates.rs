//! Step inputs are minijinja templates over `params`, `steps` (earlier steps' outputs) and
//! `run`. Undefined variables are errors, never empty text; and a template may name only
//! parameters the workflow declares and steps among the step's `needs` (direct or not),
//! which is checked when the file is applied, not when the step runs.

use std::sync::OnceLock;

use flightdeck_types::{
    Checkpoint, StepAction, StepDefinition, StepState, StepStatus, WorkflowDefinition, WorkflowRun,
};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Map, Value};

use super::definition::ancestors;
use crate::runs::agent_cli::shell_quote;

/// What `steps.ID` offers a template.
pub const STEP_FIELDS: &[&str] = &[
    "state",
    "exit_code",
    "status",
    "json",
    "outputs",
    "approved",
    "comment",
    "decided_by",
    "items",
];
const RUN_FIELDS: &[&str] = &["id", "workflow", "version", "status", "error"];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // `{{ x | quote }}`: one shell word whatever x holds.
        env.add_filter("quote", |v: String| shell_quote(&v));
        env
    })
}

/// Every text of a step that is a template, with the field it came from.
fn templates_of(step: &StepDefinition) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    match &step.action {
        StepAction::Shell { line } => out.push(("shell".into(), line)),
        StepAction::Http {
            method,
            url,
            headers,
            body,
        } => {
            out.push(("http.url".into(), url));
            if let Some(m) = method {
                out.push(("http.method".into(), m));
            }
            for (k, v) in headers {
                out.push((format!("http.headers.{k}"), v));
            }
            if let Some(b) = body {
                out.push(("http.body".into(), b));
            }
        }
        StepAction::AgentThread {
            base_url,
            thread_id,
            message,
        } => {
            if let Some(b) = base_url {
                out.push(("agent_thread.base_url".into(), b));
            }
            out.push(("agent_thread.thread_id".into(), thread_id));
            out.push(("agent_thread.message".into(), message));
        }
        StepAction::Agent { prompt } => out.push(("agent".into(), prompt)),
        StepAction::Workflow { params, .. } => {
            for (k, v) in params {
                if let Value::String(s) = v {
                    out.push((format!("workflow.params.{k}"), s));
                }
            }
        }
        StepAction::Approval { message, .. } => {
            if let Some(m) = message {
                out.push(("message".into(), m));
            }
        }
    }
    for (k, v) in &step.env {
        out.push((format!("env.{k}"), v));
    }
    if let Some(dir) = &step.working_dir {
        out.push(("working_dir".into(), dir));
    }
    out
}

/// Whether any text of `step` is a template (or it has a `when` or `foreach`): else it
/// renders to itself whatever the context.
pub fn uses_templates(step: &StepDefinition) -> bool {
    step.when.is_some()
        || step.foreach.is_some()
        || templates_of(step)
            .iter()
            .any(|(_, t)| t.contains("{{") || t.contains("{%") || t.contains("{#"))
}

/// Adds a problem for every template of `d` that does not parse or names what it may not.
pub fn check_definition(d: &WorkflowDefinition, problems: &mut Vec<String>) {
    for step in &d.steps {
        let allowed = ancestors(d, &step.id);
        let fan_out = step.foreach.is_some();
        let check =
            |problems: &mut Vec<String>, field: &str, vars: std::collections::HashSet<String>| {
                let mut vars: Vec<String> = vars.into_iter().collect();
                vars.sort();
                for var in vars {
                    let root = var.split('.').next().unwrap_or_default();
                    if fan_out && field != "foreach" && matches!(root, "item" | "index") {
                        continue;
                    }
                    // The template language's own functions.
                    if matches!(root, "range" | "dict" | "namespace") {
                        continue;
                    }
                    if let Some(problem) = check_variable(d, &allowed, &var) {
                        problems.push(format!("step `{}`, field `{field}`: {problem}", step.id));
                    }
                }
            };
        for (field, source) in templates_of(step) {
            match env().template_from_str(source) {
                Ok(t) => check(problems, &field, t.undeclared_variables(true)),
                Err(e) => problems.push(format!(
                    "step `{}`, field `{field}`: the template does not parse: {}",
                    step.id,
                    describe_in(&e, source)
                )),
            }
        }
        if let Some(Value::String(text)) = &step.foreach {
            if serde_json::from_str::<Vec<Value>>(text).is_err() {
                match env().compile_expression(foreach_expression(text)) {
                    Ok(e) => check(problems, "foreach", e.undeclared_variables(true)),
                    Err(e) => problems.push(format!(
                        "step `{}`, field `foreach`: the expression does not parse: {}",
                        step.id,
                        describe(&e)
                    )),
                }
            }
        }
        if let Some(when) = &step.when {
            match env().compile_expression(when) {
                Ok(e) => {
                    let vars = e.undeclared_variables(true);
                    let mut secret: Vec<&str> = vars
                        .iter()
                        .filter_map(|v| v.strip_prefix("params."))
                        .filter(|p| d.params.get(*p).is_some_and(|s| s.secret))
                        .collect();
                    secret.sort();
                    for p in secret {
                        problems.push(format!(
                            "step `{}`, field `when`: parameter `{p}` is secret, and a \
                             condition cannot test it (its value reaches only what a step runs)",
                            step.id
                        ));
                    }
                    check(problems, "when", vars)
                }
                Err(e) => problems.push(format!(
                    "step `{}`, field `when`: the condition does not parse: {}",
                    step.id,
                    describe(&e)
                )),
            }
        }
    }
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{} ({detail})", e.kind()),
        None => e.to_string(),
    }
}

/// [`describe`], with where in `source` it went wrong (line and column), and the way out
/// when shell text collides with template syntax (`${#x}` opens a `{# comment #}`).
fn describe_in(e: &minijinja::Error, source: &str) -> String {
    let mut text = describe(e);
    let at = e.range().map(|r| r.start).or_else(|| {
        // Only the line is known: its start.
        let line = e.line()?;
        Some(
            source
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum(),
        )
    });
    if let Some(at) = at.filter(|a| *a <= source.len()) {
        let before = &source[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        text.push_str(&format!(" at line {line}, column {column}"));
    }
    if e.kind() == minijinja::ErrorKind::SyntaxError
        && (source.contains("{#") || source.contains("{%"))
    {
        text.push_str(
            "; `{#` starts a template comment and `{%` a tag: write shell text such as \
             `${#x}` as `{% raw %}${#x}{% endraw %}`",
        );
    }
    text
}

/// Why rendering `source` failed: a value it names that the step cannot see is named (an
/// output key no earlier step wrote, say), with where it is; else [`describe_in`].
fn render_error(e: &minijinja::Error, source: &str, ctx: &Value) -> String {
    if e.kind() == minijinja::ErrorKind::UndefinedError {
        if let Ok(t) = env().template_from_str(source) {
            let mut names: Vec<String> = t.undeclared_variables(true).into_iter().collect();
            names.sort();
            for name in names {
                let mut at = Some(ctx);
                let mut path = Vec::new();
                for part in name.split('.') {
                    path.push(part);
                    at = at.and_then(|v| v.get(part));
                    if at.is_none() {
                        break;
                    }
                }
                if at.is_none() && !name.starts_with("secrets") {
                    let hint = match path.as_slice() {
                        ["steps", step, "outputs", key] => {
                            format!(": step `{step}` wrote no `{key}=` line to $FLIGHTDECK_OUTPUT")
                        }
                        _ => String::new(),
                    };
                    return format!("`{name}` is not set{hint}");
                }
            }
        }
    }
    describe_in(e, source)
}

/// Why `var` (a dotted path such as `steps.build.outputs.x`) may not be used, if it may not.
fn check_variable(
    d: &WorkflowDefinition,
    allowed: &std::collections::BTreeSet<&str>,
    var: &str,
) -> Option<String> {
    let mut parts = var.split('.');
    let root = parts.next().unwrap_or_default();
    let second = parts.next();
    match root {
        "params" => match second {
            Some(p) if !d.params.contains_key(p) => Some(format!(
                "names unknown parameter `{p}` (declared: {})",
                if d.params.is_empty() {
                    "none".to_string()
                } else {
                    d.params.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )),
            _ => None,
        },
        "steps" => match second {
            Some(s) if d.step(s).is_none() => Some(format!("names unknown step `{s}`")),
            Some(s) if !allowed.contains(s) => Some(format!(
                "uses step `{s}`, which is not among this step's needs (add it to `needs`)"
            )),
            Some(s) => match (parts.next(), parts.next()) {
                (Some(field), _) if !STEP_FIELDS.contains(&field) => Some(format!(
                    "`{var}`: a step has no `{field}` (it has {})",
                    STEP_FIELDS.join(", ")
                )),
                (Some("outputs"), Some(key)) => undeclared_output(d, s, var, key),
                _ => None,
            },
            None => None,
        },
        "run" => match second {
            Some(f) if !RUN_FIELDS.contains(&f) => {
                Some(format!("`{var}`: `run` has {}", RUN_FIELDS.join(", ")))
            }
            _ => None,
        },
        "secrets" => match second {
            None => Some(
                "name the secret: `secrets.NAME` (a secret variable of the run's \
                          environment)"
                    .to_string(),
            ),
            Some(_) => None,
        },
        other => Some(format!(
            "names unknown variable `{other}` (templates see `params`, `steps`, `run` and \
             `secrets`)"
        )),
    }
}

/// Why `steps.S.outputs.KEY` names nothing, when step `S` declares its `outputs` and `KEY`
/// is not among them (with the closest declared key, for a misspelling).
fn undeclared_output(d: &WorkflowDefinition, step: &str, var: &str, key: &str) -> Option<String> {
    let declared = &d.step(step)?.outputs;
    if declared.is_empty() || declared.iter().any(|k| k == key) {
        return None;
    }
    let closest = declared
        .iter()
        .map(|k| (strsim::levenshtein(k, key), k))
        .min()
        .filter(|(distance, _)| *distance <= 2)
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    Some(format!(
        "`{var}`: step `{step}` declares no output `{key}` (its `outputs`: {}){closest}",
        declared.join(", ")
    ))
}

/// `{{ x }}` as the expression `x`; any other text as it is.
fn foreach_expression(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map_or(t, str::trim)
}

/// The items a fan-out step runs over: its list, or what its expression gives: a list, or
/// text holding a JSON list (a `$FLIGHTDECK_OUTPUT` value, say).
pub fn foreach_items(foreach: &Value, ctx: &Value) -> Result<Vec<Value>, String> {
    let value = match foreach {
        Value::Array(items) => return Ok(items.clone()),
        Value::String(text) => match serde_json::from_str::<Vec<Value>>(text) {
            Ok(items) => return Ok(items),
            Err(_) => {
                let expr = env()
                    .compile_expression(foreach_expression(text))
                    .map_err(|e| describe(&e))?;
                let value = expr.eval(with_secrets(ctx)).map_err(|e| describe(&e))?;
                serde_json::to_value(&value).map_err(|e| e.to_string())?
            }
        },
        other => other.clone(),
    };
    match value {
        Value::Array(items) => Ok(items),
        Value::String(text) => serde_json::from_str::<Vec<Value>>(&text)
            .map_err(|_| format!("`{}` is text, not a list (nor a JSON list)", clip(&text))),
        other => Err(format!("`{}` is not a list", clip(&other.to_string()))),
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// The variables a step's templates see. A fan-out step's entry holds lists, one element
/// per item in order: `outputs`, `json`, `exit_code` and `status`, and `items` (each item's
/// `index`, `state` and the same fields).
pub fn context(run: &WorkflowRun, checkpoint: &Checkpoint) -> Value {
    let mut steps = Map::new();
    for (id, state) in &checkpoint.steps {
        if id.contains('[') || !state.status.is_final() {
            continue;
        }
        let value = match state.items {
            None => step_value(state),
            Some(n) => fan_out_value(checkpoint, id, state, n),
        };
        steps.insert(id.clone(), value);
    }
    json!({
        "params": checkpoint.params,
        "steps": steps,
        "run": {
            "id": run.id,
            "workflow": run.workflow_name,
            "version": run.version,
            "status": run.status.as_str(),
            "error": run.error,
        },
    })
}

fn fan_out_value(checkpoint: &Checkpoint, id: &str, state: &StepState, n: u32) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let key = format!("{id}[{i}]");
            let mut v = checkpoint
                .steps
                .get(&key)
                .map_or_else(|| json!({ "state": "pending" }), step_value);
            v["index"] = json!(i);
            v
        })
        .collect();
    let list = |field: &str| -> Value { items.iter().map(|v| v[field].clone()).collect() };
    json!({
        "state": state.status.as_str(),
        "outputs": list("outputs"),
        "json": list("json"),
        "exit_code": list("exit_code"),
        "status": list("status"),
        "items": items,
    })
}

fn step_value(s: &StepState) -> Value {
    let o = &s.outputs;
    let mut v = json!({
        "state": s.status.as_str(),
        "exit_code": o.exit_code,
        "status": o.status,
        "json": o.json,
        "outputs": o.values,
    });
    if let Some(a) = &o.approval {
        v["approved"] = json!(a.decision == flightdeck_types::Decision::Approved);
        v["comment"] = json!(a.comment);
        v["decided_by"] = json!(a.decided_by);
    }
    v
}

/// `secrets`: any name renders as its marker (see [`crate::runs::step_secrets`]); the runner
/// puts the value in, or fails the step naming a secret its environment lacks.
#[derive(Debug)]
struct Secrets;

impl minijinja::value::Object for Secrets {
    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        Some(crate::runs::step_secrets::marker(key.as_str()?).into())
    }
}

/// The context with `secrets` beside the variables of [`context`].
fn with_secrets(ctx: &Value) -> minijinja::Value {
    minijinja::context! {
        secrets => minijinja::Value::from_object(Secrets),
        ..minijinja::Value::from_serialize(ctx)
    }
}

/// Renders one template.
pub fn render(source: &str, ctx: &Value) -> Result<String, String> {
    env()
        .render_str(source, with_secrets(ctx))
        .map_err(|e| render_error(&e, source, ctx))
}

/// Whether the step's `when` holds (true when it has none).
pub fn condition_holds(step: &StepDefinition, ctx: &Value) -> Result<bool, String> {
    let Some(when) = &step.when else {
        return Ok(true);
    };
    let expr = env().compile_expression(when).map_err(|e| describe(&e))?;
    let value = expr.eval(with_secrets(ctx)).map_err(|e| describe(&e))?;
    Ok(value.is_true())
}

/// The step with every template rendered: what its run executes, recorded as its inputs.
pub fn render_step(step: &StepDefinition, ctx: &Value) -> Result<StepDefinition, String> {
    let r = |field: &str, s: &str| render(s, ctx).map_err(|e| format!("field `{field}`: {e}"));
    let action = match &step.action {
        StepAction::Shell { line } => StepAction::Shell {
            line: r("shell", line)?,
        },
        StepAction::Http {
            method,
            url,
            headers,
            body,
        } => StepAction::Http {
            method: method.as_deref().map(|m| r("http.method", m)).transpose()?,
            url: r("http.url", url)?,
            headers: headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), r("http.headers", v)?)))
                .collect::<Result<_, String>>()?,
            body: body.as_deref().map(|b| r("http.body", b)).transpose()?,
        },
        StepAction::AgentThread {
            base_url,
            thread_id,
            message,
        } => StepAction::AgentThread {
            base_url: base_url
                .as_deref()
                .map(|b| r("agent_thread.base_url", b))
                .transpose()?,
            thread_id: r("agent_thread.thread_id", thread_id)?,
            message: r("agent_thread.message", message)?,
        },
        StepAction::Agent { prompt } => StepAction::Agent {
            prompt: r("agent", prompt)?,
        },
        StepAction::Workflow { workflow, params } => StepAction::Workflow {
            workflow: workflow.clone(),
            params: params
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        match v {
                            Value::String(s) => Value::String(r("workflow.params", s)?),
                            other => other.clone(),
                        },
                    ))
                })
                .collect::<Result<_, String>>()?,
        },
        StepAction::Approval {
            message,
            on_timeout,
        } => StepAction::Approval {
            message: message.as_deref().map(|m| r("message", m)).transpose()?,
            on_timeout: *on_timeout,
        },
    };
    Ok(StepDefinition {
        env: step
            .env
            .iter()
            .map(|(k, v)| Ok((k.clone(), r("env", v)?)))
            .collect::<Result<_, String>>()?,
        working_dir: step
            .working_dir
            .as_deref()
            .map(|d| r("working_dir", d))
            .transpose()?,
        action,
        ..step.clone()
    })
}

/// A step of `status` counts as "passed" for its dependants.
pub fn lets_dependants_run(state: &StepState, step: &StepDefinition) -> bool {
    match state.status {
        StepStatus::Succeeded => true,
        StepStatus::Failed => step.continue_on_failure,
        _ => false,
    }
}

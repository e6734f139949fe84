//! Reading a workflow file (YAML or JSON) into a [`WorkflowDefinition`], with every problem
//! named by its place: the parser's line for syntax, the step id and field for the rest.
//! Nothing is written before all of this passes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use flightdeck_types::{
    ParamSpec, ParamType, RetryPolicy, StepAction, StepDefinition, WorkflowDefinition,
};
use serde_json::{Map, Value};

use super::templates;
use crate::error::{CoreError, Result};

/// Which syntax a file is in; YAML unless it is named `*.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn of_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Yaml,
        }
    }
}

pub const DEFAULT_CONCURRENCY: u32 = 4;
pub const MAX_CONCURRENCY: u32 = 256;
pub const MAX_STEPS: usize = 1000;

const TOP_FIELDS: &[&str] = &[
    "name",
    "description",
    "params",
    "concurrency",
    "environment",
    "steps",
];
const STEP_FIELDS: &[&str] = &[
    "id",
    "name",
    "needs",
    "when",
    "retry",
    "timeout",
    "continue_on_failure",
    "env",
    "working_dir",
    "kind",
    "message",
];
const EXECUTORS: &[&str] = &["shell", "http", "agent_thread", "agent", "workflow"];

/// Parses and validates `text`. The error lists every problem found, separated by `; `.
pub fn parse(text: &str, format: Format) -> Result<WorkflowDefinition> {
    let value: Value = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| {
            invalid(vec![format!(
                "not valid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            )])
        })?,
        Format::Yaml => serde_yaml_ng::from_str(text)
            .map_err(|e| invalid(vec![format!("not valid YAML: {e}")]))?,
    };
    let mut problems = Vec::new();
    let definition = read_definition(&value, &mut problems);
    match definition {
        Some(d) if problems.is_empty() => Ok(d),
        _ => Err(invalid(problems)),
    }
}

fn invalid(problems: Vec<String>) -> CoreError {
    let message = match problems.len() {
        0 => "the definition is empty".to_string(),
        1 => problems[0].clone(),
        n => format!("{n} problems: {}", problems.join("; ")),
    };
    CoreError::invalid("workflow", message)
}

fn read_definition(value: &Value, problems: &mut Vec<String>) -> Option<WorkflowDefinition> {
    let Some(top) = value.as_object() else {
        problems.push("the file must be a mapping with `name` and `steps`".into());
        return None;
    };
    for key in top.keys().filter(|k| !TOP_FIELDS.contains(&k.as_str())) {
        problems.push(format!(
            "unknown field `{key}` at the top level (known: {})",
            TOP_FIELDS.join(", ")
        ));
    }
    let name = match top.get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if valid_name(n) => n.to_string(),
        Some(n) => {
            problems.push(format!(
                "`name`: `{n}` must be 1 to 100 letters, digits, `-`, `_` or `.`"
            ));
            String::new()
        }
        None => {
            problems.push("`name` is missing (a text such as `build-and-test`)".into());
            String::new()
        }
    };
    let description = opt_text(top.get("description"), "`description`", problems);
    let environment = opt_text(top.get("environment"), "`environment`", problems);
    let concurrency = match top.get("concurrency") {
        None | Some(Value::Null) => DEFAULT_CONCURRENCY,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=u64::from(MAX_CONCURRENCY)).contains(&n) => n as u32,
            _ => {
                problems.push(format!(
                    "`concurrency`: `{v}` must be a whole number from 1 to {MAX_CONCURRENCY}"
                ));
                DEFAULT_CONCURRENCY
            }
        },
    };
    let params = read_params(top.get("params"), problems);
    let steps = match top.get("steps") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= MAX_STEPS => list
            .iter()
            .enumerate()
            .filter_map(|(i, s)| read_step(i, s, problems))
            .collect::<Vec<_>>(),
        Some(Value::Array(list)) if !list.is_empty() => {
            problems.push(format!("`steps`: at most {MAX_STEPS} steps"));
            Vec::new()
        }
        _ => {
            problems.push("`steps` must be a non-empty list of steps".into());
            Vec::new()
        }
    };
    let definition = WorkflowDefinition {
        name,
        description,
        params,
        concurrency,
        environment,
        steps,
    };
    check_graph(&definition, problems);
    templates::check_definition(&definition, problems);
    Some(definition)
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars().count() <= 100
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn valid_ident(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && n.len() <= 64
}

fn opt_text(v: Option<&Value>, what: &str, problems: &mut Vec<String>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            problems.push(format!("{what}: `{other}` must be text"));
            None
        }
    }
}

fn read_params(v: Option<&Value>, problems: &mut Vec<String>) -> BTreeMap<String, ParamSpec> {
    let mut params = BTreeMap::new();
    let map = match v {
        None | Some(Value::Null) => return params,
        Some(Value::Object(map)) => map,
        Some(_) => {
            problems.push("`params` must be a mapping of name to `{ type, default }`".into());
            return params;
        }
    };
    for (name, spec) in map {
        let at = format!("parameter `{name}`");
        if !valid_ident(name) {
            problems.push(format!(
                "{at}: the name must be letters, digits and `_`, not starting with a digit"
            ));
        }
        let (type_value, default, description) = match spec {
            Value::Object(m) => {
                for key in m
                    .keys()
                    .filter(|k| !["type", "default", "description"].contains(&k.as_str()))
                {
                    problems.push(format!(
                        "{at}: unknown field `{key}` (known: type, default, description)"
                    ));
                }
                (
                    m.get("type"),
                    m.get("default").cloned(),
                    m.get("description"),
                )
            }
            // `name: text` is short for a string parameter with that default.
            other => (None, Some(other.clone()), None),
        };
        let param_type = match type_value {
            Some(Value::String(t)) => match t.parse::<ParamType>() {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{at}, field `type`: {e}"));
                    continue;
                }
            },
            Some(other) => {
                problems.push(format!("{at}, field `type`: `{other}` must be text"));
                continue;
            }
            None => match &default {
                Some(d) => type_of(d),
                None => ParamType::String,
            },
        };
        let default = default.filter(|d| !d.is_null());
        if let Some(d) = &default {
            if !param_type.accepts(d) {
                problems.push(format!(
                    "{at}: the default `{d}` is not of type {param_type}"
                ));
            }
        }
        let description = opt_text(description, &format!("{at}, field `description`"), problems);
        params.insert(
            name.clone(),
            ParamSpec {
                param_type,
                default,
                description,
            },
        );
    }
    params
}

fn type_of(v: &Value) -> ParamType {
    match v {
        Value::Bool(_) => ParamType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => ParamType::Integer,
        Value::Number(_) => ParamType::Number,
        Value::Array(_) => ParamType::Array,
        Value::Object(_) => ParamType::Object,
        _ => ParamType::String,
    }
}

fn read_step(index: usize, v: &Value, problems: &mut Vec<String>) -> Option<StepDefinition> {
    let Some(m) = v.as_object() else {
        problems.push(format!(
            "step {}: must be a mapping with an `id`",
            index + 1
        ));
        return None;
    };
    let id = match m.get("id") {
        Some(Value::String(id)) if valid_step_id(id) => id.clone(),
        Some(other) => {
            problems.push(format!(
                "step {}: id {other} must be letters, digits, `_` and `-`, starting with a \
                 letter",
                index + 1
            ));
            return None;
        }
        None => {
            problems.push(format!("step {}: `id` is missing", index + 1));
            return None;
        }
    };
    let at = format!("step `{id}`");
    let mut executors = Vec::new();
    let mut unknown = false;
    for key in m.keys() {
        if EXECUTORS.contains(&key.as_str()) {
            executors.push(key.as_str());
        } else if !STEP_FIELDS.contains(&key.as_str()) {
            unknown = true;
            problems.push(format!(
                "{at}: unknown executor or field `{key}` (executors: {}; or `kind: approval`)",
                EXECUTORS.join(", ")
            ));
        }
    }
    let kind = opt_text(m.get("kind"), &format!("{at}, field `kind`"), problems);
    let message = opt_text(
        m.get("message"),
        &format!("{at}, field `message`"),
        problems,
    );
    let action = match (kind.as_deref(), executors.as_slice()) {
        (Some("approval"), []) => Some(StepAction::Approval { message }),
        (Some("approval"), more) => {
            problems.push(format!(
                "{at}: an approval step runs nothing; remove `{}`",
                more.join("`, `")
            ));
            None
        }
        (Some(other), _) => {
            problems.push(format!(
                "{at}, field `kind`: unknown kind `{other}` (the one kind is `approval`)"
            ));
            None
        }
        (None, [one]) => read_action(&at, one, &m[*one], problems),
        (None, []) => {
            if !unknown {
                problems.push(format!(
                    "{at}: no executor; give one of {} (or `kind: approval`)",
                    EXECUTORS.join(", ")
                ));
            }
            None
        }
        (None, more) => {
            problems.push(format!(
                "{at}: a step has one executor, not `{}`",
                more.join("` and `")
            ));
            None
        }
    };
    // A step whose action is refused stays in the graph, so that its `needs` and the steps
    // naming it are still checked; the problems already recorded keep it from being stored.
    let action = action.unwrap_or(StepAction::Approval { message: None });
    let needs = match m.get("needs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => list
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        Some(other) => {
            problems.push(format!(
                "{at}, field `needs`: `{other}` must be a list of step ids"
            ));
            Vec::new()
        }
    };
    let when = opt_text(m.get("when"), &format!("{at}, field `when`"), problems);
    let retry = read_retry(&at, m.get("retry"), problems);
    let timeout_secs = read_timeout(&at, m.get("timeout"), problems);
    let continue_on_failure = match m.get("continue_on_failure") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(format!(
                "{at}, field `continue_on_failure`: `{other}` must be true or false"
            ));
            false
        }
    };
    let env = match m.get("env") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(vars)) => vars
            .iter()
            .map(|(k, v)| (k.clone(), scalar_text(v)))
            .collect(),
        Some(other) => {
            problems.push(format!("{at}, field `env`: `{other}` must be a mapping"));
            BTreeMap::new()
        }
    };
    let working_dir = opt_text(
        m.get("working_dir"),
        &format!("{at}, field `working_dir`"),
        problems,
    );
    Some(StepDefinition {
        id,
        name: opt_text(m.get("name"), &format!("{at}, field `name`"), problems),
        needs,
        when,
        retry,
        timeout_secs,
        continue_on_failure,
        env,
        working_dir,
        action,
    })
}

fn valid_step_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.len() <= 64
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn read_action(at: &str, key: &str, v: &Value, problems: &mut Vec<String>) -> Option<StepAction> {
    let field = format!("{at}, field `{key}`");
    let obj = |problems: &mut Vec<String>, allowed: &[&str]| -> Option<Map<String, Value>> {
        let Some(m) = v.as_object() else {
            problems.push(format!(
                "{field}: must be a mapping ({})",
                allowed.join(", ")
            ));
            return None;
        };
        for k in m.keys().filter(|k| !allowed.contains(&k.as_str())) {
            problems.push(format!(
                "{field}: unknown field `{k}` (known: {})",
                allowed.join(", ")
            ));
        }
        Some(m.clone())
    };
    let need_text =
        |m: &Map<String, Value>, name: &str, problems: &mut Vec<String>| match m.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                problems.push(format!("{field}: `{name}` is missing or not text"));
                None
            }
        };
    match key {
        "shell" => match v {
            Value::String(line) if !line.trim().is_empty() => {
                Some(StepAction::Shell { line: line.clone() })
            }
            _ => {
                problems.push(format!("{field}: must be a non-empty command line"));
                None
            }
        },
        "http" => {
            let m = obj(problems, &["url", "method", "headers", "body"])?;
            let url = need_text(&m, "url", problems)?;
            let headers = match m.get("headers") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(Value::Object(h)) => {
                    h.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect()
                }
                Some(_) => {
                    problems.push(format!("{field}: `headers` must be a mapping"));
                    BTreeMap::new()
                }
            };
            Some(StepAction::Http {
                method: m.get("method").and_then(Value::as_str).map(String::from),
                url,
                headers,
                body: m.get("body").filter(|b| !b.is_null()).map(scalar_text),
            })
        }
        "agent_thread" => {
            let m = obj(problems, &["base_url", "thread_id", "message"])?;
            Some(StepAction::AgentThread {
                base_url: m.get("base_url").and_then(Value::as_str).map(String::from),
                thread_id: need_text(&m, "thread_id", problems)?,
                message: need_text(&m, "message", problems)?,
            })
        }
        "agent" => match v {
            Value::String(prompt) => Some(StepAction::Agent {
                prompt: prompt.clone(),
            }),
            _ => {
                let m = obj(problems, &["prompt"])?;
                Some(StepAction::Agent {
                    prompt: need_text(&m, "prompt", problems)?,
                })
            }
        },
        "workflow" => match v {
            Value::String(name) => Some(StepAction::Workflow {
                workflow: name.clone(),
                params: Map::new(),
            }),
            _ => {
                let m = obj(problems, &["name", "params"])?;
                let params = match m.get("params") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(p)) => p.clone(),
                    Some(_) => {
                        problems.push(format!("{field}: `params` must be a mapping"));
                        Map::new()
                    }
                };
                Some(StepAction::Workflow {
                    workflow: need_text(&m, "name", problems)?,
                    params,
                })
            }
        },
        _ => unreachable!("only known executors are read"),
    }
}

fn read_retry(at: &str, v: Option<&Value>, problems: &mut Vec<String>) -> Option<RetryPolicy> {
    let field = format!("{at}, field `retry`");
    let mut policy = match v? {
        Value::Null => return None,
        // `retry: 3` is three attempts in all with the default backoff.
        Value::Number(n) => match n.as_u64() {
            Some(attempts) if (1..=100).contains(&attempts) => RetryPolicy {
                max_attempts: attempts as u32,
                ..RetryPolicy::default()
            },
            _ => {
                problems.push(format!(
                    "{field}: `{n}` must be a number of attempts, 1 to 100"
                ));
                return None;
            }
        },
        Value::Object(m) => match serde_json::from_value::<RetryPolicy>(Value::Object(m.clone())) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!(
                    "{field}: {e} (fields: max_attempts, base_delay_ms, factor, max_delay_ms, \
                     jitter, retry_after_pattern)"
                ));
                return None;
            }
        },
        other => {
            problems.push(format!("{field}: `{other}` must be a number or a mapping"));
            return None;
        }
    };
    if policy.max_attempts == 0 {
        problems.push(format!("{field}: max_attempts must be at least 1"));
    }
    policy.retry_on_failure = true;
    Some(policy)
}

/// Seconds: `30`, `"30s"`, `"5m"`, `"2h"`.
fn read_timeout(at: &str, v: Option<&Value>, problems: &mut Vec<String>) -> Option<u64> {
    let field = format!("{at}, field `timeout`");
    let secs = match v? {
        Value::Null => return None,
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            let (digits, unit) =
                s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: Option<u64> = digits.parse().ok();
            match unit.trim() {
                "" | "s" => n,
                "m" => n.map(|n| n * 60),
                "h" => n.map(|n| n * 3600),
                _ => None,
            }
        }
        _ => None,
    };
    match secs {
        Some(s) if s > 0 => Some(s),
        _ => {
            problems.push(format!(
                "{field}: must be a positive number of seconds, or like `30s`, `5m`, `2h`"
            ));
            None
        }
    }
}

/// Duplicate ids, unknown `needs`, and cycles (named by their steps).
fn check_graph(d: &WorkflowDefinition, problems: &mut Vec<String>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, step) in d.steps.iter().enumerate() {
        if let Some(first) = seen.insert(&step.id, i) {
            problems.push(format!(
                "duplicate step id `{}` (steps {} and {})",
                step.id,
                first + 1,
                i + 1
            ));
        }
    }
    for step in &d.steps {
        for need in &step.needs {
            if !seen.contains_key(need.as_str()) {
                problems.push(format!(
                    "step `{}`, field `needs`: unknown step `{need}`",
                    step.id
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(d) {
        problems.push(format!("a cycle in `needs`: {}", cycle.join(" -> ")));
    }
}

/// One cycle through `needs`, as step ids with the first repeated at the end.
pub fn find_cycle(d: &WorkflowDefinition) -> Option<Vec<String>> {
    let needs: HashMap<&str, &[String]> = d
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.needs.as_slice()))
        .collect();
    // 0 unvisited, 1 on the current path, 2 done.
    let mut mark: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        id: &'a str,
        needs: &HashMap<&'a str, &'a [String]>,
        mark: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match mark.get(id).copied().unwrap_or(0) {
            2 => return None,
            1 => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(id.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        mark.insert(id, 1);
        path.push(id);
        for next in needs.get(id).copied().unwrap_or_default() {
            if needs.contains_key(next.as_str()) {
                if let Some(c) = visit(next, needs, mark, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        mark.insert(id, 2);
        None
    }
    for step in &d.steps {
        let mut path = Vec::new();
        if let Some(c) = visit(&step.id, &needs, &mut mark, &mut path) {
            return Some(c);
        }
    }
    None
}

/// Every step `id` waits for, directly or not.
pub fn ancestors<'a>(d: &'a WorkflowDefinition, id: &str) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&str> = d
        .step(id)
        .map(|s| s.needs.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(next) = stack.pop() {
        if let Some(step) = d.step(next) {
            if out.insert(step.id.as_str()) {
                stack.extend(step.needs.iter().map(String::as_str));
            }
        }
    }
    out
}

/// The parameters a run starts with: defaults, then typed values, then `K=V` text read as
/// each parameter's type. Unknown names, wrong types and missing required ones are refused.
pub fn resolve_params(
    d: &WorkflowDefinition,
    given: &Map<String, Value>,
    text: &[String],
) -> Result<Map<String, Value>> {
    let mut problems = Vec::new();
    let mut values = Map::new();
    let mut given = given.clone();
    for pair in text {
        match pair.split_once('=') {
            Some((k, v)) => {
                let k = k.trim();
                match d.params.get(k) {
                    Some(spec) => match parse_typed(spec.param_type, v) {
                        Ok(value) => {
                            given.insert(k.to_string(), value);
                        }
                        Err(e) => problems.push(format!("parameter `{k}`: {e}")),
                    },
                    None => {
                        given.insert(k.to_string(), Value::String(v.to_string()));
                    }
                }
            }
            None => problems.push(format!("`{pair}` is not K=V (e.g. --param greeting=hi)")),
        }
    }
    for (k, v) in &given {
        match d.params.get(k) {
            None => problems.push(format!(
                "unknown parameter `{k}` (this workflow has: {})",
                if d.params.is_empty() {
                    "none".to_string()
                } else {
                    d.params.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )),
            Some(spec) if !spec.param_type.accepts(v) => problems.push(format!(
                "parameter `{k}`: `{v}` is not of type {}",
                spec.param_type
            )),
            Some(_) => {
                values.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, spec) in &d.params {
        if values.contains_key(k) || given.contains_key(k) {
            continue;
        }
        match &spec.default {
            Some(v) => {
                values.insert(k.clone(), v.clone());
            }
            None => problems.push(format!(
                "parameter `{k}` ({}) is required; give it with --param {k}=VALUE",
                spec.param_type
            )),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(CoreError::invalid("params", problems.join("; ")))
    }
}

/// Reads command-line text as `t`.
pub fn parse_typed(t: ParamType, text: &str) -> std::result::Result<Value, String> {
    let bad = || format!("`{text}` is not {}", article(t));
    match t {
        ParamType::String => Ok(Value::String(text.to_string())),
        ParamType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad()),
        ParamType::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad),
        ParamType::Boolean => match text.trim() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        ParamType::Array | ParamType::Object => match serde_json::from_str::<Value>(text) {
            Ok(v) if t.accepts(&v) => Ok(v),
            _ => Err(format!("{} (give it as JSON)", bad())),
        },
    }
}

fn article(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "a string",
        ParamType::Integer => "an integer",
        ParamType::Number => "a number",
        ParamType::Boolean => "true or false",
        ParamType::Array => "an array",
        ParamType::Object => "an object",
    }
}

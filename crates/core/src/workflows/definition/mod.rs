//! Reading a workflow file (YAML or JSON) into a [`WorkflowDefinition`], with every problem
//! named by its place: the parser's line for syntax, the step id and field for the rest.
//! Nothing is written before all of this passes.

use std::collections::BTreeMap;

use flightdeck_types::{ParamSpec, ParamType, WorkflowDefinition};
use serde_json::Value;

use super::templates;
use crate::error::{CoreError, Result};

mod file;
mod graph;
mod params;
mod steps;

pub use file::to_file;
use graph::check_graph;
pub use graph::{ancestors, find_cycle};
pub use params::{parse_typed, resolve_params, typed_values};
use steps::read_step;

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
    "timeout",
    "steps",
];

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
    let timeout_secs = steps::read_timeout("`timeout`", top.get("timeout"), problems);
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
        timeout_secs,
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

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
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
        let (type_value, default, description, secret) = match spec {
            Value::Object(m) => {
                const KNOWN: &[&str] = &["type", "default", "description", "secret"];
                for key in m.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
                    problems.push(format!(
                        "{at}: unknown field `{key}` (known: {})",
                        KNOWN.join(", ")
                    ));
                }
                (
                    m.get("type"),
                    m.get("default").cloned(),
                    m.get("description"),
                    m.get("secret"),
                )
            }
            // `name: text` is short for a string parameter with that default.
            other => (None, Some(other.clone()), None, None),
        };
        let secret = match secret {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                problems.push(format!(
                    "{at}, field `secret`: `{other}` must be true or false"
                ));
                false
            }
        };
        let param_type = match type_value {
            // `list` is what a `foreach` takes; the same as `array`.
            Some(Value::String(t)) if t == "list" => ParamType::Array,
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
        if secret && default.is_some() {
            problems.push(format!(
                "{at}: a secret parameter takes no `default` (the file is stored and synced); \
                 give the value at start"
            ));
        }
        if secret && param_type != ParamType::String {
            problems.push(format!(
                "{at}: a secret parameter is a string, not {param_type}"
            ));
        }
        params.insert(
            name.clone(),
            ParamSpec {
                param_type,
                default,
                description,
                secret,
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

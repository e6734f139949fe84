//! The parameters a run starts with, checked against the definition's types.

use flightdeck_types::{ParamType, WorkflowDefinition};
use serde_json::{Map, Value};

use crate::error::{CoreError, Result};

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
        // Any case: `TRUE`, `Yes` and `off` are what people type.
        ParamType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
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

/// Values from a form, each read as its parameter's type (text is parsed as the type, as
/// `--param K=V` is); the first bad one as `(parameter, what is wrong)`: unknown, not of its
/// type, or required and not given. [`resolve_params`] checks the whole set again at start.
pub fn typed_values(
    def: &WorkflowDefinition,
    given: Map<String, Value>,
) -> std::result::Result<Map<String, Value>, (String, String)> {
    let mut typed = Map::new();
    for (name, value) in given {
        let Some(spec) = def.params.get(&name) else {
            let why = format!("`{name}` is not a parameter of {}", def.name);
            return Err((name, why));
        };
        let value = match value {
            Value::String(text) if !spec.param_type.accepts(&Value::String(text.clone())) => {
                match parse_typed(spec.param_type, &text) {
                    Ok(v) => v,
                    Err(e) => return Err((name, e)),
                }
            }
            value if spec.param_type.accepts(&value) => value,
            value => {
                let why = format!("`{value}` is not of type {}", spec.param_type);
                return Err((name, why));
            }
        };
        typed.insert(name, value);
    }
    for (name, spec) in &def.params {
        if spec.default.is_none() && !typed.contains_key(name) {
            return Err((name.clone(), format!("is required ({})", spec.param_type)));
        }
    }
    Ok(typed)
}

//! The form that starts a workflow: one field per parameter, with its type and default. Each
//! value is read as its parameter's type here (so a bad one is shown beside its field before
//! any round trip), and the shell checks them again: its error names the parameter
//! (`param-NAME`) and shows beside that field too. A started run opens at once.

use std::collections::BTreeMap;

use flightdeck_types::{ParamSpec, ParamType, Workflow};
use leptos::prelude::*;
use serde_json::{Map, Value};

use crate::api::{self, ApiError};
use crate::views::{use_route, Route};

/// The error field the shell gives a bad parameter.
fn param_field(name: &str) -> String {
    format!("param-{name}")
}

/// `text` as a value of type `t` (the engine reads command-line values the same way).
fn read_as(t: ParamType, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("`{text}` is not {what}");
    match t {
        ParamType::String => Ok(Value::String(text.to_string())),
        ParamType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad("an integer")),
        ParamType::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("a number")),
        ParamType::Boolean => match text.trim() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(bad("true or false")),
        },
        ParamType::Array | ParamType::Object => match serde_json::from_str::<Value>(text) {
            Ok(v) if t.accepts(&v) => Ok(v),
            _ => {
                let what = if t == ParamType::Array {
                    "an array"
                } else {
                    "an object"
                };
                Err(format!("{} (give it as JSON)", bad(what)))
            }
        },
    }
}

/// The typed parameters, or the error of each bad field. An empty field takes the default.
fn read_params(
    specs: &BTreeMap<String, ParamSpec>,
    texts: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut values = Map::new();
    let mut errors = BTreeMap::new();
    for (name, spec) in specs {
        let text = texts.get(name).map(String::as_str).unwrap_or_default();
        let empty = match spec.param_type {
            ParamType::String => text.is_empty(),
            _ => text.trim().is_empty(),
        };
        if empty {
            if spec.default.is_none() {
                errors.insert(name.clone(), format!("is required ({})", spec.param_type));
            }
            continue;
        }
        match read_as(spec.param_type, text) {
            Ok(value) => {
                values.insert(name.clone(), value);
            }
            Err(e) => {
                errors.insert(name.clone(), e);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

#[component]
pub fn StartWorkflowForm(workflow: Workflow, on_close: impl Fn() + 'static) -> impl IntoView {
    let route = use_route();
    let name = workflow.name.clone();
    let specs = StoredValue::new(workflow.definition.params.clone());
    let start = Action::new_local({
        let name = name.clone();
        move |params: &Map<String, Value>| api::start_workflow(name.clone(), params.clone())
    });
    let texts = RwSignal::new(BTreeMap::<String, String>::new());
    let local_errors = RwSignal::new(BTreeMap::<String, String>::new());
    let remote_error = move || start.value().get().and_then(Result::err);
    Effect::new(move |_| {
        if let Some(Ok(run)) = start.value().get() {
            route.set(Route::WorkflowRun(run.id));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let read = specs.with_value(|specs| texts.with_untracked(|t| read_params(specs, t)));
        match read {
            Ok(params) => {
                local_errors.set(BTreeMap::new());
                start.dispatch(params);
            }
            Err(errors) => local_errors.set(errors),
        }
    };
    // Beside a field: the local verdict, else the shell's when it names this parameter.
    let error_of = move |param: &str| {
        local_errors.with(|e| e.get(param).cloned()).or_else(|| {
            remote_error()
                .filter(|e: &ApiError| e.field.as_deref() == Some(param_field(param).as_str()))
                .map(|e| e.message)
        })
    };
    let form_error = move || {
        remote_error()
            .filter(|e| !e.field.as_deref().is_some_and(|f| f.starts_with("param-")))
            .map(|e| e.message)
    };
    let fields = workflow
        .definition
        .params
        .clone()
        .into_iter()
        .map(|(param, spec)| {
            let hint = match &spec.default {
                Some(default) => format!("{}, default {default}", spec.param_type),
                None if spec.secret => "secret, required".to_string(),
                None => format!("{}, required", spec.param_type),
            };
            // A secret's value is typed unseen and autocompletion never keeps it.
            let kind = if spec.secret { "password" } else { "text" };
            let autocomplete = if spec.secret { "off" } else { "on" };
            let placeholder = spec.default.as_ref().map(Value::to_string).unwrap_or_default();
            let key = param.clone();
            let for_error = param.clone();
            view! {
                <label class="field">
                    <span class="label">
                        <span class="mono">{param.clone()}</span> " (" {hint} ")"
                        {spec.description.clone().map(|d| view! { <span class="muted">" — " {d}</span> })}
                    </span>
                    <input class="input" data-testid=format!("param-{param}") placeholder=placeholder
                        type=kind autocomplete=autocomplete
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            texts.update(|t| { t.insert(key.clone(), value); });
                            local_errors.update(|e| { e.remove(&key); });
                        } />
                    {move || error_of(&for_error).map(|m| view! {
                        <p class="field-error" data-testid=format!("field-error-param-{}", for_error)>{m}</p>
                    })}
                </label>
            }
        })
        .collect_view();
    view! {
        <form class="panel editor" data-testid="start-workflow-form" on:submit=submit>
            <h2>"Start " <span class="mono">{name}</span> {format!(" v{}", workflow.version)}</h2>
            {workflow.definition.params.is_empty().then(|| view! {
                <p class="muted">"This workflow takes no parameters."</p>
            })}
            {fields}
            <div class="row">
                <button class="button primary" type="submit" data-testid="start-workflow-submit"
                    disabled=move || start.pending().get()>"Start run"</button>
                <button class="button" type="button" data-testid="start-workflow-close"
                    on:click=move |_| on_close()>"Close"</button>
            </div>
            {move || form_error().map(|m| view! { <p class="form-error" data-testid="start-workflow-error">{m}</p> })}
        </form>
    }
}

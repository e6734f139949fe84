//! A step of a workflow file: its id, its one executor and its fields.

use std::collections::BTreeMap;

use flightdeck_types::{Decision, RetryPolicy, StepAction, StepDefinition};
use serde_json::{Map, Value};

use super::{opt_text, scalar_text};

const STEP_FIELDS: &[&str] = &[
    "id",
    "name",
    "needs",
    "when",
    "retry",
    "timeout",
    "expected",
    "continue_on_failure",
    "env",
    "working_dir",
    "isolation",
    "if",
    "kind",
    "message",
    "on_timeout",
    "outputs",
    "foreach",
];

const EXECUTORS: &[&str] = &["shell", "http", "agent_thread", "agent", "workflow"];

pub(super) fn read_step(
    index: usize,
    v: &Value,
    problems: &mut Vec<String>,
) -> Option<StepDefinition> {
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
        (Some("approval"), []) => Some(StepAction::Approval {
            message,
            on_timeout: None,
        }),
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
    let mut action = action.unwrap_or(StepAction::Approval {
        message: None,
        on_timeout: None,
    });
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
    let timeout_secs = read_timeout(
        &format!("{at}, field `timeout`"),
        m.get("timeout"),
        problems,
    );
    let expected_secs = read_timeout(
        &format!("{at}, field `expected`"),
        m.get("expected"),
        problems,
    );
    // Every field a step kind takes has an effect: a timeout stops a step's own run, ends
    // an approval's wait (see `on_timeout`), and a `workflow:` step has no run of its own.
    if timeout_secs.is_some() && matches!(action, StepAction::Workflow { .. }) {
        problems.push(format!(
            "{at}, field `timeout`: a `workflow:` step waits for its child run and has no \
             run of its own to stop; remove it and give the child workflow a `timeout`"
        ));
    }
    read_on_timeout(
        &at,
        m.get("on_timeout"),
        timeout_secs,
        &mut action,
        problems,
    );
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
    let isolation = match m.get("isolation") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match text.parse::<flightdeck_types::Isolation>() {
            Ok(isolation)
                if matches!(action, StepAction::Shell { .. } | StepAction::Agent { .. }) =>
            {
                Some(isolation)
            }
            Ok(_) => {
                problems.push(format!(
                    "{at}, field `isolation`: only `shell` and `agent` steps run in a worktree"
                ));
                None
            }
            Err(e) => {
                problems.push(format!("{at}, field `isolation`: {e}"));
                None
            }
        },
        Some(other) => {
            problems.push(format!(
                "{at}, field `isolation`: `{other}` must be `worktree` or `shared`"
            ));
            None
        }
    };
    let run_if = match m.get("if") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            // GitHub Actions' spelling, `always()`, reads the same.
            match text
                .trim()
                .trim_end_matches("()")
                .parse::<flightdeck_types::RunIf>()
            {
                Ok(run_if) => Some(run_if),
                Err(_) => {
                    problems.push(format!(
                        "{at}, field `if`: `{text}` must be `always` (runs whatever happened) or \
                         `failure` (runs only when the run failed or was cancelled)"
                    ));
                    None
                }
            }
        }
        Some(other) => {
            problems.push(format!(
                "{at}, field `if`: `{other}` must be `always` or `failure`"
            ));
            None
        }
    };
    let outputs = read_outputs(&at, m.get("outputs"), &action, problems);
    let foreach = read_foreach(&at, m.get("foreach"), &action, problems);
    Some(StepDefinition {
        id,
        outputs,
        foreach,
        isolation,
        run_if,
        name: opt_text(m.get("name"), &format!("{at}, field `name`"), problems),
        needs,
        when,
        retry,
        timeout_secs,
        expected_secs,
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

/// `foreach`: an expression or JSON text giving a list, or the list itself; the expression
/// is checked with the step's other templates.
fn read_foreach(
    at: &str,
    v: Option<&Value>,
    action: &StepAction,
    problems: &mut Vec<String>,
) -> Option<Value> {
    let field = format!("{at}, field `foreach`");
    let value = match v? {
        Value::Null => return None,
        Value::String(s) if s.trim().is_empty() => {
            problems.push(format!("{field}: is empty; give a list or an expression"));
            return None;
        }
        Value::Array(items) if items.len() > super::MAX_STEPS => {
            problems.push(format!("{field}: at most {} items", super::MAX_STEPS));
            return None;
        }
        v @ (Value::String(_) | Value::Array(_)) => v.clone(),
        other => {
            problems.push(format!(
                "{field}: `{other}` must be a list, or an expression giving one (such as \
                 `{{{{ params.repos }}}}`)"
            ));
            return None;
        }
    };
    if matches!(action, StepAction::Approval { .. }) {
        problems.push(format!(
            "{field}: an approval step waits for a person once; fan out the steps it gates"
        ));
        return None;
    }
    Some(value)
}

/// `outputs: [KEY, ...]`: the `$FLIGHTDECK_OUTPUT` keys a step that has that file (a shell,
/// agent or `workflow:` step) writes.
fn read_outputs(
    at: &str,
    v: Option<&Value>,
    action: &StepAction,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let field = format!("{at}, field `outputs`");
    let keys: Vec<String> = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => list
            .iter()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        Some(other) => {
            problems.push(format!(
                "{field}: `{other}` must be a list of keys, such as `[artifact, version]`"
            ));
            return Vec::new();
        }
    };
    if !matches!(
        action,
        StepAction::Shell { .. } | StepAction::Agent { .. } | StepAction::Workflow { .. }
    ) {
        problems.push(format!(
            "{field}: only `shell`, `agent` and `workflow:` steps write outputs (a {} step's \
             are its `status` and `json`)",
            action.executor()
        ));
        return Vec::new();
    }
    let mut seen = std::collections::BTreeSet::new();
    for key in &keys {
        let valid = !key.is_empty()
            && key.len() <= 64
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            problems.push(format!(
                "{field}: `{key}` must be letters, digits, `_` and `-` (a `KEY=` of \
                 $FLIGHTDECK_OUTPUT)"
            ));
        } else if !seen.insert(key.as_str()) {
            problems.push(format!("{field}: `{key}` is listed twice"));
        }
    }
    keys
}

/// An approval's `on_timeout`: what is decided once its `timeout` passes with no decision.
fn read_on_timeout(
    at: &str,
    v: Option<&Value>,
    timeout: Option<u64>,
    action: &mut StepAction,
    problems: &mut Vec<String>,
) {
    let field = format!("{at}, field `on_timeout`");
    let decision = match v {
        None | Some(Value::Null) => return,
        Some(Value::String(s)) => match s.trim() {
            "approve" | "approved" => Decision::Approved,
            "reject" | "rejected" => Decision::Rejected,
            _ => {
                problems.push(format!("{field}: `{s}` must be `reject` or `approve`"));
                return;
            }
        },
        Some(other) => {
            problems.push(format!("{field}: `{other}` must be `reject` or `approve`"));
            return;
        }
    };
    match action {
        StepAction::Approval { on_timeout, .. } if timeout.is_some() => {
            *on_timeout = Some(decision);
        }
        StepAction::Approval { .. } => problems.push(format!(
            "{field}: takes effect only with a `timeout` (say `timeout: 1h`)"
        )),
        _ => problems.push(format!(
            "{field}: only an approval step (`kind: approval`) has one"
        )),
    }
}

/// Seconds: `30`, `"30s"`, `"5m"`, `"2h"`. `field` names where, for the error.
pub(super) fn read_timeout(
    field: &str,
    v: Option<&Value>,
    problems: &mut Vec<String>,
) -> Option<u64> {
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

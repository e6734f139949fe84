//! `{{ secrets.NAME }}` in a workflow step's templates. The engine renders templates when it
//! queues a step, into rows that are stored and synced (the run's spec, the step's recorded
//! inputs, snapshots), so a secret renders there as a marker, `«secret:NAME»`, and the runner
//! puts the value from this device's keyring in its place only in the copy it executes, at
//! the moment the step starts. The value is masked in everything the run records like any
//! other secret of its environment (see [`super::secret_mask`]).

use flightdeck_types::ExecutionSpec;

const OPEN: &str = "«secret:";
const CLOSE: char = '»';

/// What `{{ secrets.NAME }}` renders to in stored rows.
pub fn marker(name: &str) -> String {
    format!("{OPEN}{name}{CLOSE}")
}

/// The name a secret workflow parameter's marker holds: `param/KEY`, where `KEY` (a fresh id
/// and the parameter's name) names its value in the starting device's keyring.
const PARAM: &str = "param/";

/// A fresh marker for a secret parameter's value, and the keyring account that keeps it.
pub fn new_param_marker(param: &str) -> (String, String) {
    let key = format!("{}/{param}", crate::ids::new_id());
    (marker(&format!("{PARAM}{key}")), param_account(&key))
}

fn param_account(key: &str) -> String {
    format!("workflow-param/{key}")
}

/// Whether `text` is a marker and nothing else.
pub fn is_marker(text: &str) -> bool {
    text.strip_prefix(OPEN)
        .and_then(|rest| rest.strip_suffix(CLOSE))
        .is_some_and(|name| !name.contains(CLOSE))
}

/// Every marker name in `text`.
fn names(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(len) = after.find(CLOSE) else { break };
        found.push(&after[..len]);
        rest = &after[len..];
    }
    found
}

/// The values of the secret parameters `spec` names (`(marker name, value)`), read from this
/// device's keyring; the parameter's name when one is not there (a run started on another
/// device).
pub fn param_values(
    spec: &ExecutionSpec,
    secrets: &dyn crate::secrets::SecretStore,
) -> Result<Vec<(String, String)>, String> {
    let text = serde_json::to_string(spec).unwrap_or_default();
    let mut values: Vec<(String, String)> = Vec::new();
    for name in names(&text) {
        let Some(key) = name.strip_prefix(PARAM) else {
            continue;
        };
        if values.iter().any(|(n, _)| n == name) {
            continue;
        }
        let param = key.rsplit('/').next().unwrap_or(key).to_string();
        match secrets.get(&param_account(key)) {
            Ok(Some(value)) => values.push((name.to_string(), value)),
            _ => return Err(param),
        }
    }
    Ok(values)
}

/// Replaces every marker in `text` with its value; the name of one without a value.
fn fill(text: &mut String, values: &[(String, String)]) -> Result<(), String> {
    while let Some(start) = text.find(OPEN) {
        let rest = &text[start + OPEN.len()..];
        let Some(len) = rest.find(CLOSE) else {
            return Ok(()); // an unclosed marker is not ours: leave the text as it is
        };
        let name = rest[..len].to_string();
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .ok_or(name)?;
        text.replace_range(start..start + OPEN.len() + len + CLOSE.len_utf8(), &value);
    }
    Ok(())
}

/// Whether `spec` names a secret anywhere.
pub fn uses_secrets(spec: &ExecutionSpec) -> bool {
    serde_json::to_string(spec).is_ok_and(|s| s.contains(OPEN))
}

/// The spec to execute: every marker replaced by its value from `values` (the environment's
/// secret variables, read from the keyring now). An unknown name is an error naming it.
pub fn resolve(spec: &ExecutionSpec, values: &[(String, String)]) -> Result<ExecutionSpec, String> {
    let mut spec = spec.clone();
    match &mut spec {
        ExecutionSpec::Shell(s) => {
            for text in s.line.iter_mut().chain(s.argv.iter_mut().flatten()) {
                fill(text, values)?;
            }
            for value in s.env.values_mut() {
                fill(value, values)?;
            }
            if let Some(dir) = &mut s.working_dir {
                fill(dir, values)?;
            }
        }
        ExecutionSpec::Http(h) => {
            fill(&mut h.url, values)?;
            if let Some(m) = &mut h.method {
                fill(m, values)?;
            }
            for value in h.headers.values_mut() {
                fill(value, values)?;
            }
            if let Some(b) = &mut h.body {
                fill(b, values)?;
            }
        }
        ExecutionSpec::AgentThread(a) => fill(&mut a.message, values)?,
        ExecutionSpec::Workflow(_) => {}
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_filled_and_an_unknown_one_named() {
        let values = vec![("TOKEN".to_string(), "v4l'ue".to_string())];
        let mut text = format!(
            "curl -H 'x: {}' {} {}",
            marker("TOKEN"),
            marker("TOKEN"),
            "«not"
        );
        fill(&mut text, &values).unwrap();
        assert_eq!(text, "curl -H 'x: v4l'ue' v4l'ue «not");
        let mut other = marker("MISSING");
        assert_eq!(fill(&mut other, &values), Err("MISSING".to_string()));
    }
}

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

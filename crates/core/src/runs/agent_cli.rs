//! Agent CLIs (claude, codex, aider) run as shell commands built from the environment's
//! `agent_command` template, e.g. `claude -p {prompt}`.

use flightdeck_types::{Environment, ShellSpec, Task};

use crate::error::{CoreError, Result};

/// The shell run for `task` in `environment`: `{prompt}` becomes the task's title and
/// description, single-quoted so the shell passes it as one argument, whatever it holds.
pub fn agent_cli_spec(environment: &Environment, task: &Task) -> Result<ShellSpec> {
    let prompt = if task.description.trim().is_empty() {
        task.title.clone()
    } else {
        format!("{}\n\n{}", task.title, task.description)
    };
    Ok(ShellSpec {
        line: Some(agent_cli_line(environment, &prompt)?),
        ..ShellSpec::default()
    })
}

/// The environment's agent command with `{prompt}` replaced by `prompt`, single-quoted.
pub fn agent_cli_line(environment: &Environment, prompt: &str) -> Result<String> {
    let template = environment.agent_command.as_deref().ok_or_else(|| {
        CoreError::invalid(
            "agent_command",
            format!(
                "environment `{}` has no agent command; set one, e.g. \
                 `flightdeck env update {} --agent-command 'claude -p {{prompt}}'`",
                environment.name, environment.name
            ),
        )
    })?;
    if !template.contains("{prompt}") {
        return Err(CoreError::invalid(
            "agent_command",
            format!(
                "`{template}` of environment `{}` has no `{{prompt}}` placeholder for the task",
                environment.name
            ),
        ));
    }
    Ok(template.replace("{prompt}", &shell_quote(prompt)))
}

/// POSIX single quoting: nothing inside '...' is special except the quote itself.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

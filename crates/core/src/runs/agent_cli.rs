//! Agent CLIs (claude, codex, aider) run as shell commands built from the environment's
//! `agent_command` template, e.g. `claude -p {prompt}`. `{context}` in the template becomes
//! the path of the run's context file (see `agent_context`), double-quoted so the shell
//! passes it as one argument.

use flightdeck_types::{Environment, ShellSpec, Task};

use crate::error::{CoreError, Result};

/// The shell run for `task` in `environment`: `{prompt}` becomes the task's title and
/// description, single-quoted so the shell passes it as one argument, whatever it holds.
pub fn agent_cli_spec(environment: &Environment, task: &Task) -> Result<ShellSpec> {
    let prompt = super::agent_context::task_prompt(&task.title, &task.description);
    Ok(ShellSpec {
        line: Some(agent_cli_line(environment, &prompt)?),
        agent_prompt: Some(prompt),
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
    // The context file's path is known when the run starts, so the shell expands it then.
    let context = format!("\"${}\"", super::agent_context::CONTEXT_FILE_ENV);
    Ok(template
        .replace("{context}", &context)
        .replace("{prompt}", &shell_quote(prompt)))
}

/// POSIX single quoting: nothing inside '...' is special except the quote itself.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

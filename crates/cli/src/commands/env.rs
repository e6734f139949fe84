//! `flightdeck env ...`

use std::collections::BTreeMap;
use std::io::Read;

use flightdeck_core::{environments, CoreError, Store};
use flightdeck_types::validate::env_assignment;
use flightdeck_types::{Environment, EnvironmentPatch, NewEnvironment};
use serde::Serialize;

use crate::args::{EnvCommand, SecretCommand};
use crate::output::{table, Output};

pub fn run(store: &Store, cmd: &EnvCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        EnvCommand::Add { name, fields } => {
            let env = environments::create(
                store,
                NewEnvironment {
                    name: name.clone(),
                    repository: fields.repo.clone(),
                    working_dir: fields.path.clone(),
                    env_vars: parse_vars(&fields.vars)?,
                    secret_vars: fields.secret_vars.clone(),
                    setup_script: fields.setup.clone(),
                    agent_command: fields.agent.clone(),
                    agent_context: fields.context,
                    base_branch: fields.base_branch.clone(),
                },
            )?;
            out.print(&env, || env.id.clone());
        }
        EnvCommand::List => {
            let all = environments::list(store)?;
            out.print(&all, || render_list(&all));
        }
        EnvCommand::Show { env } => {
            let found = environments::get(store, env)?;
            let secrets = secret_status(store, &found);
            let shown = Shown {
                environment: &found,
                secret_status: &secrets,
            };
            out.print(&shown, || render_one(&found, &secrets));
        }
        EnvCommand::Update {
            env,
            name,
            fields,
            unset_vars,
            remove_secret_vars,
            no_path,
            no_repo,
            no_setup,
            no_agent,
            no_base_branch,
        } => {
            let patch = EnvironmentPatch {
                name: name.clone(),
                repository: clearable(&fields.repo, *no_repo),
                working_dir: clearable(&fields.path, *no_path),
                set_vars: parse_vars(&fields.vars)?,
                unset_vars: unset_vars.clone(),
                add_secret_vars: fields.secret_vars.clone(),
                remove_secret_vars: remove_secret_vars.clone(),
                setup_script: clearable(&fields.setup, *no_setup),
                agent_command: clearable(&fields.agent, *no_agent),
                agent_context: fields.context,
                base_branch: clearable(&fields.base_branch, *no_base_branch),
            };
            let keyring = super::secrets(store)?;
            let updated = environments::update(store, keyring.store.as_ref(), env, patch)?;
            let secrets = secret_names_only(&updated);
            out.print(&updated, || render_one(&updated, &secrets));
        }
        EnvCommand::Rm { env, force } => {
            let keyring = super::secrets(store)?;
            let deleted = environments::delete(store, keyring.store.as_ref(), env, *force)?;
            out.print(&deleted, || {
                format!("deleted {} ({})", deleted.name, deleted.id)
            });
        }
        EnvCommand::Secret(SecretCommand::Set { env, key }) => {
            let value = read_secret_from_stdin()?;
            let keyring = super::secrets(store)?;
            let updated =
                environments::set_secret(store, keyring.store.as_ref(), env, key, &value)?;
            out.print(&updated, || {
                format!("stored {key} for {} in {}", updated.name, keyring.backend)
            });
        }
        EnvCommand::Secret(SecretCommand::Rm { env, key }) => {
            let keyring = super::secrets(store)?;
            let patch = EnvironmentPatch {
                remove_secret_vars: vec![key.clone()],
                ..Default::default()
            };
            let updated = environments::update(store, keyring.store.as_ref(), env, patch)?;
            out.print(&updated, || format!("removed {key} from {}", updated.name));
        }
    }
    Ok(())
}

/// `--x VALUE` sets, `--no-x` clears, neither leaves the field alone.
fn clearable(value: &Option<String>, clear: bool) -> Option<Option<String>> {
    match (value, clear) {
        (Some(v), _) => Some(Some(v.clone())),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>, CoreError> {
    vars.iter()
        .map(|v| env_assignment("var", v).map_err(CoreError::from))
        .collect()
}

fn read_secret_from_stdin() -> Result<String, CoreError> {
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .map_err(|e| CoreError::io("cannot read the secret from standard input", e))?;
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(CoreError::invalid(
            "value",
            "no secret on standard input (e.g. `printf %s \"$TOKEN\" | flightdeck env secret set ENV KEY`)",
        ));
    }
    Ok(value.to_string())
}

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    environment: &'a Environment,
    /// Per secret name: "set", "missing" (on this device) or "unknown" (keyring unavailable).
    secret_status: &'a BTreeMap<String, String>,
}

fn secret_status(store: &Store, env: &Environment) -> BTreeMap<String, String> {
    let status = flightdeck_core::secrets::for_workspace(store)
        .and_then(|secrets| environments::secret_status(store, secrets.store.as_ref(), &env.id));
    match status {
        Ok(map) => map
            .into_iter()
            .map(|(k, set)| (k, if set { "set" } else { "missing" }.to_string()))
            .collect(),
        Err(e) => {
            eprintln!("warning: cannot check secrets: {e}");
            secret_names_only(env)
        }
    }
}

fn secret_names_only(env: &Environment) -> BTreeMap<String, String> {
    env.secret_vars
        .iter()
        .map(|k| (k.clone(), "unknown".to_string()))
        .collect()
}

fn render_list(all: &[Environment]) -> String {
    if all.is_empty() {
        return "no environments (create one with `flightdeck env add NAME --path DIR`)"
            .to_string();
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.name.clone(),
                e.working_dir.clone().unwrap_or_else(|| "-".into()),
                e.repository.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["ID", "NAME", "PATH", "REPO"], &rows)
}

fn render_one(env: &Environment, secrets: &BTreeMap<String, String>) -> String {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut text = format!(
        "{}\n  id:      {}\n  path:    {}\n  repo:    {}\n  base:    {}\n  setup:   {}\n  \
         agent:   {}\n  context: {}\n  created: {}\n  updated: {}",
        env.name,
        env.id,
        or_dash(&env.working_dir),
        or_dash(&env.repository),
        env.base_branch
            .as_deref()
            .unwrap_or("the repository's current branch"),
        or_dash(&env.setup_script),
        or_dash(&env.agent_command),
        if env.agent_context { "on" } else { "off" },
        env.created_at,
        env.updated_at,
    );
    if !env.env_vars.is_empty() {
        text.push_str("\n  vars:");
        for (k, v) in &env.env_vars {
            text.push_str(&format!("\n    {k}={v}"));
        }
    }
    if !secrets.is_empty() {
        text.push_str("\n  secrets:");
        for (k, status) in secrets {
            text.push_str(&format!("\n    {k} ({status})"));
        }
    }
    text
}

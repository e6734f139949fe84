//! Environments: create, read, list, update, delete, and their secret variables (names in
//! the database, values in the OS keyring).

use std::collections::BTreeMap;

use flightdeck_types::validate::{env_var_name, environment_name, long_text};
use flightdeck_types::{
    AuditAction, EntityKind, Environment, EnvironmentPatch, NewEnvironment, Timestamp,
};
use rusqlite::Connection;

use crate::audit::diff;
use crate::error::{CoreError, Result};
use crate::secrets::{env_secret_account, SecretStore};
use crate::store::{environments as rows, Store, Writer};

/// Finds an environment by id or by name. Names are unique when made here, but two devices
/// can create the same name offline; then the name is ambiguous and the id is needed.
pub(crate) fn resolve(conn: &Connection, key: &str) -> Result<Environment> {
    let found = rows::matching(conn, key)?;
    match found.as_slice() {
        [] => Err(CoreError::NotFound {
            kind: "environment",
            key: key.to_string(),
        }),
        [first, ..] if first.id == key => Ok(first.clone()),
        [only] => Ok(only.clone()),
        many => Err(CoreError::Ambiguous {
            kind: "environment",
            key: key.to_string(),
            count: many.len(),
            ids: many
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn ensure_name_free(conn: &Connection, name: &str, except_id: Option<&str>) -> Result<()> {
    let taken = rows::named(conn, name, except_id)?;
    match taken {
        Some(id) => Err(CoreError::invalid(
            "name",
            format!("an environment named `{name}` already exists ({id})"),
        )),
        None => Ok(()),
    }
}

fn optional_text(field: &str, value: Option<String>) -> Result<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() => Err(CoreError::invalid(
            field,
            "must not be empty (leave it out instead)",
        )),
        Some(v) => Ok(Some(long_text(field, &v)?)),
        None => Ok(None),
    }
}

/// A base branch setting (`None` clears it): a name git could take (no spaces, no
/// `..`, no leading `-`), checked in full by git when a run uses it.
fn branch_name(value: Option<String>) -> Result<Option<String>> {
    let Some(name) = optional_text("base_branch", value)? else {
        return Ok(None);
    };
    let bad = name.starts_with('-')
        || name.contains("..")
        || name.ends_with('/')
        || name.ends_with(".lock")
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    if bad {
        return Err(CoreError::invalid(
            "base_branch",
            format!("`{name}` is not a branch name git accepts (e.g. `main`, `release/2.0`)"),
        ));
    }
    Ok(Some(name))
}

/// Checks variable names and that no name is both plain and secret.
fn validate_vars(env: &Environment) -> Result<()> {
    for name in env.env_vars.keys() {
        env_var_name("var", name)?;
    }
    for name in &env.secret_vars {
        env_var_name("secret_var", name)?;
        if env.env_vars.contains_key(name) {
            return Err(CoreError::invalid(
                "secret_var",
                format!(
                    "`{name}` is already a plain variable; remove it first or pick another name"
                ),
            ));
        }
    }
    Ok(())
}

pub fn create(store: &Store, input: NewEnvironment) -> Result<Environment> {
    let name = environment_name(&input.name)?;
    let mut secret_vars = input.secret_vars;
    secret_vars.sort();
    secret_vars.dedup();
    let mut env = Environment {
        id: crate::ids::new_id(),
        name,
        repository: optional_text("repository", input.repository)?,
        working_dir: optional_text("working_dir", input.working_dir)?,
        env_vars: input.env_vars,
        secret_vars,
        setup_script: optional_text("setup_script", input.setup_script)?,
        agent_command: optional_text("agent_command", input.agent_command)?,
        agent_context: input.agent_context.unwrap_or(true),
        base_branch: branch_name(input.base_branch)?,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    };
    validate_vars(&env)?;
    store.write(|w| {
        ensure_name_free(w, &env.name, None)?;
        env.created_at = w.now();
        env.updated_at = w.now();
        rows::insert(w, &env)?;
        w.audit(
            EntityKind::Environment,
            &env.id,
            AuditAction::Create,
            diff(None, Some(&env)),
        );
        Ok(env)
    })
}

pub fn get(store: &Store, key: &str) -> Result<Environment> {
    store.read(|conn| resolve(conn, key))
}

/// All environments, by name.
pub fn list(store: &Store) -> Result<Vec<Environment>> {
    store.read(rows::list)
}

pub fn update(
    store: &Store,
    secrets: &dyn SecretStore,
    key: &str,
    patch: EnvironmentPatch,
) -> Result<Environment> {
    if patch.is_empty() {
        return Err(CoreError::invalid(
            "update",
            "nothing to change: give at least one field to update",
        ));
    }
    let name = patch.name.as_deref().map(environment_name).transpose()?;
    for var in patch.unset_vars.iter().chain(&patch.remove_secret_vars) {
        env_var_name("var", var)?;
    }
    let (updated, removed_secrets) = store.write(|w| {
        let old = resolve(w, key)?;
        let mut new = old.clone();
        if let Some(name) = name {
            ensure_name_free(w, &name, Some(&old.id))?;
            new.name = name;
        }
        let texts = [
            ("repository", patch.repository, &mut new.repository),
            ("working_dir", patch.working_dir, &mut new.working_dir),
            ("setup_script", patch.setup_script, &mut new.setup_script),
            ("agent_command", patch.agent_command, &mut new.agent_command),
        ];
        for (field, value, slot) in texts {
            if let Some(value) = value {
                *slot = optional_text(field, value)?;
            }
        }
        if let Some(on) = patch.agent_context {
            new.agent_context = on;
        }
        if let Some(branch) = patch.base_branch {
            new.base_branch = branch_name(branch)?;
        }
        for var in &patch.unset_vars {
            if new.env_vars.remove(var).is_none() {
                return Err(CoreError::invalid(
                    "unset_var",
                    format!("`{var}` is not a variable of `{}`", old.name),
                ));
            }
        }
        new.env_vars.extend(patch.set_vars);
        let mut removed = Vec::new();
        for var in &patch.remove_secret_vars {
            let before = new.secret_vars.len();
            new.secret_vars.retain(|v| v != var);
            if new.secret_vars.len() == before {
                return Err(CoreError::invalid(
                    "remove_secret_var",
                    format!("`{var}` is not a secret variable of `{}`", old.name),
                ));
            }
            removed.push(var.clone());
        }
        new.secret_vars.extend(patch.add_secret_vars);
        new.secret_vars.sort();
        new.secret_vars.dedup();
        validate_vars(&new)?;
        let saved = save_changes(w, &old, new)?;
        Ok((saved, removed))
    })?;
    for var in removed_secrets {
        secrets.delete(&env_secret_account(&updated.id, &var))?;
    }
    Ok(updated)
}

fn save_changes(
    w: &mut Writer<'_>,
    old: &Environment,
    mut new: Environment,
) -> Result<Environment> {
    let changes = diff(Some(old), Some(&new));
    if changes.is_empty() {
        return Ok(old.clone());
    }
    new.updated_at = w.now();
    let action = AuditAction::Update;
    w.update_changed(
        EntityKind::Environment,
        &new.id,
        action,
        changes,
        |field| match field {
            "name" => new.name.clone().into(),
            "repository" => new.repository.clone().into(),
            "working_dir" => new.working_dir.clone().into(),
            "env_vars" => rows::json(&new.env_vars).into(),
            "secret_vars" => rows::json(&new.secret_vars).into(),
            "setup_script" => new.setup_script.clone().into(),
            "agent_command" => new.agent_command.clone().into(),
            "agent_context" => new.agent_context.into(),
            "base_branch" => new.base_branch.clone().into(),
            other => unreachable!("environment field `{other}` is not editable"),
        },
    )?;
    Ok(new)
}

/// Environment `id` as it is now, if it exists (by id only, never by name).
pub(crate) fn find_in(conn: &Connection, id: &str) -> Result<Option<Environment>> {
    Ok(rows::matching(conn, id)?.into_iter().find(|e| e.id == id))
}

/// Puts environment `id` back as `target` (its state at a past instant, see
/// [`crate::restore`]): changed fields written and audited as an update; one that did not
/// exist then deleted (the tasks that still use it lose it, audited each; its secrets stay in
/// the keyring, where a later restore that brings it back finds them); one deleted since
/// recreated with its id. `current` is the row as it is now.
pub(crate) fn restore_in(
    w: &mut Writer<'_>,
    id: &str,
    current: Option<Environment>,
    target: Option<Environment>,
) -> Result<()> {
    match (current, target) {
        (None, None) => Ok(()),
        (Some(old), None) => {
            crate::tasks::detach_environment(w, id)?;
            rows::delete(w, id)?;
            w.audit(
                EntityKind::Environment,
                id,
                AuditAction::Delete,
                diff(Some(&old), None),
            );
            Ok(())
        }
        (None, Some(mut env)) => {
            env.updated_at = w.now();
            rows::insert(w, &env)?;
            w.audit(
                EntityKind::Environment,
                id,
                AuditAction::Create,
                diff(None, Some(&env)),
            );
            Ok(())
        }
        (Some(old), Some(new)) => save_changes(w, &old, new).map(|_| ()),
    }
}

/// Deletes an environment. Tasks that use it keep it unless `force`, which clears their
/// environment (audited per task). Its secrets leave the keyring.
pub fn delete(
    store: &Store,
    secrets: &dyn SecretStore,
    key: &str,
    force: bool,
) -> Result<Environment> {
    let deleted = store.write(|w| {
        let env = resolve(w, key)?;
        let users = crate::tasks::count_using_environment(w, &env.id)?;
        if users > 0 && !force {
            return Err(CoreError::Refused(format!(
                "environment `{}` is used by {users} task(s); delete it with force (`env rm \
                 --force`, or the app's \"Delete anyway\") to delete it and clear their \
                 environment",
                env.name
            )));
        }
        crate::tasks::detach_environment(w, &env.id)?;
        rows::delete(w, &env.id)?;
        w.audit(
            EntityKind::Environment,
            &env.id,
            AuditAction::Delete,
            diff(Some(&env), None),
        );
        Ok(env)
    })?;
    for var in &deleted.secret_vars {
        if let Err(e) = secrets.delete(&env_secret_account(&deleted.id, var)) {
            tracing::warn!(error = %e, var, "could not remove a deleted environment's secret");
        }
    }
    Ok(deleted)
}

/// Stores the value of secret variable `var` in the keyring, declaring the name on the
/// environment first if it is new. The value never touches the database.
pub fn set_secret(
    store: &Store,
    secrets: &dyn SecretStore,
    key: &str,
    var: &str,
    value: &str,
) -> Result<Environment> {
    env_var_name("secret_var", var)?;
    store.write(|w| {
        let old = resolve(w, key)?;
        let mut new = old.clone();
        if !new.secret_vars.iter().any(|v| v == var) {
            new.secret_vars.push(var.to_string());
            new.secret_vars.sort();
        }
        validate_vars(&new)?;
        let saved = save_changes(w, &old, new)?;
        // Inside the transaction: if the keyring refuses, the name is not declared either.
        secrets.set(&env_secret_account(&saved.id, var), value)?;
        Ok(saved)
    })
}

/// Whether each secret variable of the environment has a value on this device.
pub fn secret_status(
    store: &Store,
    secrets: &dyn SecretStore,
    key: &str,
) -> Result<BTreeMap<String, bool>> {
    let env = get(store, key)?;
    env.secret_vars
        .iter()
        .map(|var| {
            let present = secrets.get(&env_secret_account(&env.id, var))?.is_some();
            Ok((var.clone(), present))
        })
        .collect()
}

//! `flightdeck task ...`

use std::collections::HashMap;

use flightdeck_core::{environments, tasks, CoreError, Store};
use flightdeck_types::{NewTask, Task, TaskFilter, TaskPatch};

use crate::args::TaskCommand;
use crate::output::{clip, table, Output};

pub fn run(store: &Store, cmd: &TaskCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        TaskCommand::Add {
            title,
            description,
            env,
            priority,
            status,
            expected,
        } => {
            let task = tasks::create(
                store,
                NewTask {
                    title: title.clone(),
                    description: description.clone(),
                    status: *status,
                    priority: *priority,
                    environment: env.clone(),
                    expected_secs: *expected,
                },
            )?;
            out.print(&task, || task.id.clone());
        }
        TaskCommand::List {
            status,
            env,
            search,
            all,
        } => {
            let filter = TaskFilter {
                status: *status,
                environment: env.clone(),
                search: search.clone(),
                include_archived: *all,
            };
            let found = tasks::list(store, &filter)?;
            if out.is_json() {
                out.print(&found, String::new);
            } else {
                let names = environment_names(store)?;
                out.print(&found, || render_list(&found, &names));
            }
        }
        TaskCommand::Show { id } => {
            let task = tasks::get(store, id)?;
            let names = environment_names(store)?;
            out.print(&task, || render_one(&task, &names));
        }
        TaskCommand::Update {
            id,
            title,
            description,
            status,
            priority,
            env,
            no_env,
            expected,
            no_expected,
        } => {
            let environment = match (env, no_env) {
                (Some(key), _) => Some(Some(key.clone())),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let patch = TaskPatch {
                title: title.clone(),
                description: description.clone(),
                status: *status,
                priority: *priority,
                environment,
                expected_secs: match (expected, no_expected) {
                    (Some(secs), _) => Some(Some(*secs)),
                    (None, true) => Some(None),
                    (None, false) => None,
                },
            };
            let task = tasks::update(store, id, patch)?;
            let names = environment_names(store)?;
            out.print(&task, || render_one(&task, &names));
        }
        TaskCommand::Archive { id } => {
            let task = tasks::set_archived(store, id, true)?;
            out.print(&task, || format!("archived {}", task.id));
        }
        TaskCommand::Unarchive { id } => {
            let task = tasks::set_archived(store, id, false)?;
            out.print(&task, || format!("restored {}", task.id));
        }
        TaskCommand::Rm { id } => {
            let task = tasks::delete(store, id)?;
            out.print(&task, || format!("deleted {}", task.id));
        }
    }
    Ok(())
}

fn environment_names(store: &Store) -> Result<HashMap<String, String>, CoreError> {
    Ok(environments::list(store)?
        .into_iter()
        .map(|e| (e.id, e.name))
        .collect())
}

fn env_label(task: &Task, names: &HashMap<String, String>) -> String {
    match &task.environment_id {
        Some(id) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("{id} (gone)")),
        None => "-".to_string(),
    }
}

fn render_list(found: &[Task], names: &HashMap<String, String>) -> String {
    if found.is_empty() {
        return "no tasks (create one with `flightdeck task add TITLE`)".to_string();
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|t| {
            let mut title = clip(&t.title, 60);
            if t.archived {
                title.push_str(" [archived]");
            }
            vec![
                t.id.clone(),
                t.status.to_string(),
                t.priority.to_string(),
                env_label(t, names),
                title,
            ]
        })
        .collect();
    table(&["ID", "STATUS", "PRIORITY", "ENV", "TITLE"], &rows)
}

fn render_one(task: &Task, names: &HashMap<String, String>) -> String {
    let mut text = format!(
        "{}\n  id:          {}\n  status:      {}\n  priority:    {}\n  environment: {}\n  \
         archived:    {}\n  created:     {}\n  updated:     {}",
        task.title,
        task.id,
        task.status,
        task.priority,
        env_label(task, names),
        if task.archived { "yes" } else { "no" },
        task.created_at,
        task.updated_at,
    );
    if !task.description.is_empty() {
        text.push_str("\n\n");
        text.push_str(&task.description);
    }
    text
}

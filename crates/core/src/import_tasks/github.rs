//! Tasks from GitHub issues as `gh issue list --json number,title,body,state,stateReason,
//! labels,createdAt,updatedAt,url` writes them.

use std::collections::HashMap;

use flightdeck_types::{Priority, TaskStatus};
use serde::Deserialize;
use serde_json::Value;

use super::values::{fold, parse_time, priority_of, status_of, unknown, value_map};
use super::{Mapping, Problems, Row};
use crate::error::{CoreError, Result};

/// One issue as `gh issue list --json ...` lists it (fields it was not asked for absent).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issue {
    number: Option<u64>,
    title: Option<String>,
    #[serde(default)]
    body: String,
    state: Option<String>,
    state_reason: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    created_at: Option<String>,
    updated_at: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

pub(super) fn from_github(bytes: &[u8], mapping: &Mapping) -> Result<Vec<Row>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let items: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| {
        CoreError::invalid(
            "file",
            format!("not a list of GitHub issues ({e}); write one with `gh issue list --json number,title,body,state,labels,createdAt,url`"),
        )
    })?;
    if let Some(repo) = &mapping.repo {
        if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(CoreError::invalid(
                "repo",
                format!("`{repo}` is not OWNER/NAME"),
            ));
        }
    }
    let statuses = value_map::<TaskStatus>("--status-map", &mapping.statuses)?;
    let priorities = value_map::<Priority>("--priority-map", &mapping.priorities)?;
    let mut problems = Problems::default();
    let mut tasks = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        // Named by number where it has one, else by its place in the list.
        let name = match item.get("number").and_then(Value::as_u64) {
            Some(n) => format!("issue #{n}"),
            None => format!("item {} of the list", i + 1),
        };
        let at = |field: &str| format!("{name} (field {field})");
        let issue: Issue = match serde_json::from_value(item) {
            Ok(issue) => issue,
            Err(e) => {
                problems.add(&name, format!("not an issue as gh lists it: {e}"));
                continue;
            }
        };
        let title = issue.title.as_deref().unwrap_or("").trim().to_string();
        if title.is_empty() {
            problems.add(
                at("title"),
                "no title: list issues with --json number,title,...",
            );
        }
        let url = match (&issue.url, &mapping.repo, issue.number) {
            (Some(url), _, _) => url.clone(),
            (None, Some(repo), Some(n)) => {
                format!("https://github.com/{}/issues/{n}", repo.trim_matches('/'))
            }
            (None, None, Some(_)) => {
                problems.add(at("url"), "no url: list issues with --json ...,url, or say whose they are with --repo OWNER/NAME");
                continue;
            }
            (None, _, None) => {
                problems.add(
                    at("number"),
                    "no number and no url: list issues with --json number,title,...,url",
                );
                continue;
            }
        };
        let labels: Vec<&str> = issue.labels.iter().map(|l| l.name.as_str()).collect();
        let state = issue.state.as_deref().unwrap_or("OPEN");
        let mapped_label = labels.iter().find_map(|l| statuses.get(&fold(l)).copied());
        let status = match (
            fold(state).as_str(),
            issue.state_reason.as_deref().map(fold),
        ) {
            _ if statuses.contains_key(&fold(state)) => statuses[&fold(state)],
            ("closed", Some(reason)) if reason == "not_planned" => TaskStatus::Cancelled,
            ("closed", _) => TaskStatus::Done,
            ("open", _) => mapped_label
                .or_else(|| {
                    labels.iter().find_map(|l| {
                        status_of(l, &HashMap::new())
                            .filter(|s| matches!(s, TaskStatus::InProgress | TaskStatus::Blocked))
                    })
                })
                .unwrap_or(TaskStatus::Todo),
            _ => {
                problems.add(
                    at("state"),
                    unknown("state", state, "--status-map", TaskStatus::ALL),
                );
                TaskStatus::Todo
            }
        };
        let priority = labels
            .iter()
            .filter_map(|l| priority_of(l, &priorities))
            .max_by_key(|p| p.rank())
            .unwrap_or_default();
        let mut time = |field: &str, text: &Option<String>| match text.as_deref().map(parse_time) {
            None => None,
            Some(Ok(at)) => Some(at),
            Some(Err(e)) => {
                problems.add(at(field), e);
                None
            }
        };
        let created_at = time("createdAt", &issue.created_at);
        let updated_at = time("updatedAt", &issue.updated_at).or(created_at);
        let mut description = issue.body.trim_end().to_string();
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&format!("GitHub: {url}"));
        if !labels.is_empty() {
            description.push_str(&format!("\nLabels: {}", labels.join(", ")));
        }
        let key = format!("github:{url}");
        if let Some(first) = seen.insert(key.clone(), i + 1) {
            problems.add(
                &name,
                format!("{url} is listed twice (items {first} and {})", i + 1),
            );
        }
        tasks.push(Row {
            key,
            title,
            description,
            status,
            priority,
            created_at,
            updated_at,
        });
    }
    problems.or("GitHub issues")?;
    Ok(tasks)
}

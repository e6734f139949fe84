//! Tasks: the unit of work a person keeps, runs agents against and tracks on the board.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

string_enum! {
    /// Where a task stands on the board.
    TaskStatus, "status" {
        Todo => "todo",
        InProgress => "in_progress",
        Blocked => "blocked",
        Done => "done",
        Cancelled => "cancelled",
    }
}

// Written out: the enum comes from `string_enum!`, which derives no Default.
#[allow(clippy::derivable_impls)]
impl Default for TaskStatus {
    fn default() -> Self {
        Self::Todo
    }
}

string_enum! {
    /// How urgent a task is; lists sort by it, most urgent first.
    Priority, "priority" {
        Low => "low",
        Medium => "medium",
        High => "high",
        Urgent => "urgent",
    }
}

#[allow(clippy::derivable_impls)]
impl Default for Priority {
    fn default() -> Self {
        Self::Medium
    }
}

impl Priority {
    /// 0 (low) to 3 (urgent), as stored.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Medium => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }

    /// The inverse of [`Priority::rank`]; out-of-range values (e.g. from a newer peer) clamp.
    pub fn from_rank(rank: i64) -> Self {
        match rank {
            i64::MIN..=0 => Priority::Low,
            1 => Priority::Medium,
            2 => Priority::High,
            _ => Priority::Urgent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    /// The environment runs of this task use. May dangle after a merge with a device that
    /// deleted the environment; readers treat an unknown id as "none".
    pub environment_id: Option<String>,
    pub archived: bool,
    /// How long a run of this task should take, in seconds: past it, a slow-run alert.
    /// Without it, the task's history decides.
    #[serde(default)]
    pub expected_secs: Option<u64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Input for creating a task. `environment` is an environment name or id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub expected_secs: Option<u64>,
}

/// A partial update: `None` leaves a field as it is. `environment: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub environment: Option<Option<String>>,
    /// `Some(None)` clears it.
    pub expected_secs: Option<Option<u64>>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Which tasks to list. Archived tasks are hidden unless asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    /// An environment name or id.
    pub environment: Option<String>,
    /// Case-insensitive substring of the title or description.
    pub search: Option<String>,
    pub include_archived: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parses_and_names_the_choices() {
        assert_eq!(
            "in_progress".parse::<TaskStatus>().unwrap(),
            TaskStatus::InProgress
        );
        let err = "doing".parse::<TaskStatus>().unwrap_err();
        assert_eq!(
            err,
            "unknown status `doing`; expected one of todo, in_progress, blocked, done, cancelled"
        );
    }

    #[test]
    fn priority_rank_round_trips() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), *p);
        }
        assert_eq!(Priority::from_rank(99), Priority::Urgent);
    }

    #[test]
    fn task_json_uses_text_enums() {
        let task = Task {
            id: "t".into(),
            title: "x".into(),
            description: String::new(),
            status: TaskStatus::Blocked,
            priority: Priority::High,
            environment_id: None,
            archived: false,
            expected_secs: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        };
        let value = serde_json::to_value(&task).unwrap();
        assert_eq!(value["status"], "blocked");
        assert_eq!(value["priority"], "high");
        assert_eq!(value["created_at"], "1970-01-01T00:00:00.000Z");
    }
}

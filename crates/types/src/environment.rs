//! Environments: where and how runs execute (working dir, variables, setup, agent command).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub id: String,
    pub name: String,
    /// A repository path or URL.
    pub repository: Option<String>,
    /// The directory commands run in.
    pub working_dir: Option<String>,
    /// Plain variables, stored and synced as they are.
    pub env_vars: BTreeMap<String, String>,
    /// Names of secret variables. Their values live in the OS keyring, never in the database.
    pub secret_vars: Vec<String>,
    pub setup_script: Option<String>,
    /// The agent CLI template, e.g. `claude -p {prompt}`.
    pub agent_command: Option<String>,
    /// Whether agent runs in this environment get a context file (memories, similar runs).
    #[serde(default = "on")]
    pub agent_context: bool,
    /// The branch worktree runs start from and merge into; unset: the repository's current
    /// branch.
    #[serde(default)]
    pub base_branch: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEnvironment {
    pub name: String,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env_vars: BTreeMap<String, String>,
    #[serde(default)]
    pub secret_vars: Vec<String>,
    #[serde(default)]
    pub setup_script: Option<String>,
    #[serde(default)]
    pub agent_command: Option<String>,
    /// Context files for agent runs [default: on].
    #[serde(default)]
    pub agent_context: Option<bool>,
    #[serde(default)]
    pub base_branch: Option<String>,
}

/// A partial update. For the optional text fields, `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub repository: Option<Option<String>>,
    #[serde(default)]
    pub working_dir: Option<Option<String>>,
    /// Variables to add or overwrite.
    #[serde(default)]
    pub set_vars: BTreeMap<String, String>,
    /// Variables to remove.
    #[serde(default)]
    pub unset_vars: Vec<String>,
    /// Secret variable names to add.
    #[serde(default)]
    pub add_secret_vars: Vec<String>,
    /// Secret variable names to remove (their keyring entries are removed too).
    #[serde(default)]
    pub remove_secret_vars: Vec<String>,
    #[serde(default)]
    pub setup_script: Option<Option<String>>,
    #[serde(default)]
    pub agent_command: Option<Option<String>>,
    #[serde(default)]
    pub agent_context: Option<bool>,
    #[serde(default)]
    pub base_branch: Option<Option<String>>,
}

fn on() -> bool {
    true
}

impl EnvironmentPatch {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

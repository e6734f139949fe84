//! This device's runner settings: how many plain runs and how many workflow steps execute at
//! once. Local (each machine has its own cores), read when a worker starts.

use serde::{Deserialize, Serialize};

use super::runner::{default_step_concurrency, RunnerConfig};
use crate::error::{CoreError, Result};
use crate::store::memories as meta;
use crate::store::Store;

const SETTINGS_KEY: &str = "runner";

/// Unset fields keep the defaults ([`RunnerConfig::default`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_concurrency: Option<usize>,
    /// How long this device's workflow runs stay its own after its worker stops answering,
    /// in seconds (see [`crate::workflows::lease`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_lease_secs: Option<u64>,
    /// Days run events and workflow snapshots are kept after their run ended (0: forever;
    /// see [`crate::retention`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_history_days: Option<u32>,
}

/// The settings in force: stored values over the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunnerLimits {
    pub concurrency: usize,
    pub step_concurrency: usize,
    pub workflow_lease_secs: u64,
    /// 0: forever.
    pub keep_history_days: u32,
}

pub fn settings(store: &Store) -> Result<RunnerSettings> {
    let stored = store.read(|c| meta::meta(c, SETTINGS_KEY))?;
    Ok(stored
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// Stores the given fields (others keep their stored value); a limit of 0 is refused.
pub fn set_settings(store: &Store, change: RunnerSettings) -> Result<RunnerLimits> {
    for (field, value) in [
        ("concurrency", change.concurrency),
        ("step_concurrency", change.step_concurrency),
    ] {
        if value == Some(0) || value.is_some_and(|v| v > 10_000) {
            return Err(CoreError::invalid(
                field,
                "give a number from 1 to 10000 (runs executing at once on this device)",
            ));
        }
    }
    if change
        .workflow_lease_secs
        .is_some_and(|s| !(1..=86_400).contains(&s))
    {
        return Err(CoreError::invalid(
            "workflow_lease",
            "give a number of seconds from 1 to 86400 (how long this device's workflow runs \
             stay its own after its worker stops answering)",
        ));
    }
    let mut stored = settings(store)?;
    stored.workflow_lease_secs = change.workflow_lease_secs.or(stored.workflow_lease_secs);
    stored.keep_history_days = change.keep_history_days.or(stored.keep_history_days);
    stored.concurrency = change.concurrency.or(stored.concurrency);
    stored.step_concurrency = change.step_concurrency.or(stored.step_concurrency);
    let text = serde_json::to_string(&stored).expect("settings serialize");
    store.write(|w| meta::set_meta(w, SETTINGS_KEY, &text))?;
    limits(store)
}

pub fn limits(store: &Store) -> Result<RunnerLimits> {
    let stored = settings(store)?;
    let defaults = RunnerConfig::default();
    Ok(RunnerLimits {
        concurrency: stored.concurrency.unwrap_or(defaults.concurrency),
        step_concurrency: stored
            .step_concurrency
            .unwrap_or_else(default_step_concurrency),
        workflow_lease_secs: stored
            .workflow_lease_secs
            .unwrap_or(crate::workflows::lease::DEFAULT_LEASE_SECS),
        keep_history_days: stored.keep_history_days.unwrap_or(0),
    })
}

/// `config` with this device's stored limits.
pub fn apply(store: &Store, mut config: RunnerConfig) -> Result<RunnerConfig> {
    let stored = settings(store)?;
    if let Some(n) = stored.concurrency {
        config.concurrency = n;
    }
    if let Some(n) = stored.step_concurrency {
        config.step_concurrency = n;
    }
    Ok(config)
}

//! Workflows through the real engine: a real store with cr-sqlite, the real runner and
//! workflow driver, real shell processes.

#[path = "workflows/adopt.rs"]
mod adopt;
#[path = "workflows/children.rs"]
mod children;
mod common;
#[path = "workflows/compare.rs"]
mod compare;
#[path = "workflows/control.rs"]
mod control;
#[path = "workflows/definitions.rs"]
mod definitions;
#[path = "workflows/engine.rs"]
mod engine;
#[path = "workflows/fanout.rs"]
mod fanout;
#[path = "workflows/fork.rs"]
mod fork;
#[path = "workflows/handlers.rs"]
mod handlers;
#[path = "workflows/insights.rs"]
mod insights;
#[path = "workflows/kinds.rs"]
mod kinds;
#[path = "workflows/replay.rs"]
mod replay;
#[path = "workflows/retention.rs"]
mod retention;
#[path = "workflows/rig.rs"]
mod rig;
#[path = "common/runner.rs"]
mod runner;
#[path = "workflows/scheduling.rs"]
mod scheduling;
#[path = "workflows/secrets.rs"]
mod secrets;
#[path = "workflows/snapshots.rs"]
mod snapshots;
#[path = "workflows/step_rows.rs"]
mod step_rows;
#[path = "workflows/timeouts.rs"]
mod timeouts;
#[path = "workflows/trust.rs"]
mod trust;
#[path = "workflows/versions.rs"]
mod versions;

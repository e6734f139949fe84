//! Time a shell run's process group spent stopped by a workflow pause, so its `timeout`
//! counts only the time it could run. The driver that stops and continues a group and the
//! runner whose executor times it out live in one worker process, so a process-wide table
//! keyed by process group is enough.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Clock {
    /// Stopped time that has ended.
    total: Duration,
    /// Since when the group is stopped, if it is.
    since: Option<Instant>,
}

fn table() -> std::sync::MutexGuard<'static, HashMap<i32, Clock>> {
    static TABLE: OnceLock<Mutex<HashMap<i32, Clock>>> = OnceLock::new();
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A run's group starts with no stopped time (a group id may be reused by a later run).
pub fn start(pgid: i32) {
    table().insert(pgid, Clock::default());
}

/// Forgets the group once its run ended.
pub fn end(pgid: i32) {
    table().remove(&pgid);
}

/// The group was stopped now (a pause). Groups this process does not run are not recorded.
pub fn stopped(pgid: i32) {
    if let Some(c) = table().get_mut(&pgid) {
        c.since.get_or_insert_with(Instant::now);
    }
}

/// The group was continued now (a resume).
pub fn continued(pgid: i32) {
    if let Some(c) = table().get_mut(&pgid) {
        if let Some(since) = c.since.take() {
            c.total += since.elapsed();
        }
    }
}

/// How long the group has been stopped in all, and whether it is stopped now.
pub fn stopped_for(pgid: i32) -> (Duration, bool) {
    table().get(&pgid).map_or((Duration::ZERO, false), |c| {
        let now = c.since.map(|s| s.elapsed()).unwrap_or_default();
        (c.total + now, c.since.is_some())
    })
}

/// Resolves once `limit` of running time has passed since `started`, time stopped not
/// counted: while the group is stopped, it looks again every `RECHECK`.
pub async fn running_time_elapsed(pgid: Option<i32>, started: Instant, limit: Duration) {
    const RECHECK: Duration = Duration::from_millis(100);
    loop {
        let (stopped, now_stopped) = pgid.map_or((Duration::ZERO, false), stopped_for);
        let deadline = started + limit + stopped;
        let now = Instant::now();
        if now >= deadline && !now_stopped {
            return;
        }
        let wait = if now_stopped { RECHECK } else { deadline - now };
        tokio::time::sleep(wait).await;
    }
}
